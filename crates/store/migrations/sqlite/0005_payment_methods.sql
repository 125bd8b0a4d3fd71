-- juchu payment-method settings schema (SQLite). Keep in step with ../postgres/0005_payment_methods.sql.
-- What the shop offers at checkout (seed 004 §3, SPEC §10): per payment method its settings,
-- per gateway its credentials (sealed), and the delivery methods that list the payment methods.

-- One row per shop and payment method (PaymentMethod::code()); no row = the defaults.
CREATE TABLE payment_method_settings (
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    method TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    display_name TEXT NOT NULL,
    capture_mode TEXT NOT NULL CHECK (capture_mode IN ('auth_only', 'auth_and_capture')),
    -- Comma list of "1","3","5","6","10","12","15","18","20","24","bonus","revolving".
    installments TEXT NOT NULL,
    installments_note TEXT NOT NULL DEFAULT '',
    three_ds INTEGER NOT NULL DEFAULT 0,
    merchant_name_en TEXT NOT NULL DEFAULT '',
    attempt_control TEXT NOT NULL CHECK (attempt_control IN ('high', 'medium', 'low')),
    -- Hidden when the products' subtotal is below min or above max (yen); NULL = no bound.
    min_subtotal INTEGER,
    max_subtotal INTEGER,
    -- Konbini / ATM / net bank: days the buyer has to pay.
    due_days INTEGER NOT NULL DEFAULT 7,
    payment_note TEXT NOT NULL DEFAULT '',
    confirm_note TEXT NOT NULL DEFAULT '',
    mail_note TEXT NOT NULL DEFAULT '',
    logo_url TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (shop_id, method)
);

-- A gateway's credentials: sealed = base64(nonce || XChaCha20-Poly1305 ciphertext) of the
-- fields as JSON, under the server's secret key; masked = JSON of what the screen may show.
CREATE TABLE gateway_credentials (
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    gateway TEXT NOT NULL CHECK (gateway IN ('paygent', 'gmo', 'paidy')),
    sealed TEXT NOT NULL,
    masked TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (shop_id, gateway)
);

-- 配送方法: fee NULL = 送料別途見積 (the total is not fixed: no online payment is offered).
CREATE TABLE delivery_methods (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    fee INTEGER,
    -- Comma list of payment method codes the buyer may choose with this delivery.
    payment_methods TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX delivery_methods_shop ON delivery_methods(shop_id, position, id);

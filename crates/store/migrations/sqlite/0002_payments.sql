-- juchu payments schema (SQLite). Keep in step with ../postgres/0002_payments.sql.
-- A payment belongs to one order; every operation on it is journaled before the gateway is
-- called (payment_operations), so a crash or a lost answer is settled by asking the gateway,
-- never by sending again.

-- Shop settings for payment operations.
ALTER TABLE shops ADD COLUMN auto_payment_status INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shops ADD COLUMN paygent_fee INTEGER NOT NULL DEFAULT 10;

CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    order_id INTEGER NOT NULL UNIQUE REFERENCES orders(id),
    version INTEGER NOT NULL DEFAULT 1,
    gateway TEXT NOT NULL CHECK (gateway IN ('paygent', 'gmo', 'paidy')),
    kind TEXT NOT NULL CHECK (kind IN ('card', 'paidy', 'paid_later')),
    mode TEXT NOT NULL CHECK (mode IN ('auth_only', 'auth_and_capture')),
    -- The gateway's ids as JSON (PaymentRef), and the one an operator looks up.
    ref TEXT NOT NULL,
    display_id TEXT NOT NULL,
    trading_id TEXT NOT NULL,
    state TEXT NOT NULL,
    gateway_status TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount >= 0),
    captured INTEGER NOT NULL CHECK (captured >= 0),
    refunded INTEGER NOT NULL CHECK (refunded >= 0),
    authorized_at TEXT,
    auth_expires_at TEXT,
    three_ds INTEGER NOT NULL DEFAULT 0,
    installments TEXT NOT NULL,
    masked_card TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX payments_display ON payments(shop_id, display_id);

-- Earlier gateway ids of a payment (補正, re-authorization). `standing` says whether the
-- gateway still holds money on it: 'closed' (the gateway cancelled it itself), 'to_cancel'
-- (juchu must cancel it: a two-step change stopped half-way), 'cancelled'.
CREATE TABLE payment_refs (
    id INTEGER PRIMARY KEY,
    payment_id INTEGER NOT NULL REFERENCES payments(id),
    ref TEXT NOT NULL,
    display_id TEXT NOT NULL,
    amount INTEGER NOT NULL,
    reason TEXT NOT NULL,
    standing TEXT NOT NULL CHECK (standing IN ('closed', 'to_cancel', 'cancelled')),
    replaced_at TEXT NOT NULL
);
CREATE INDEX payment_refs_payment ON payment_refs(payment_id, id);

-- The journal. A row is written 'pending' in the transaction that checks the payment's state
-- and version, before the gateway is called; the outcome is committed with the new state.
-- 'unknown': the gateway's answer was lost; the recovery job asks the gateway.
CREATE TABLE payment_operations (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    payment_id INTEGER REFERENCES payments(id),
    order_id INTEGER NOT NULL REFERENCES orders(id),
    action TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'unknown', 'succeeded', 'failed', 'partial')),
    amount INTEGER NOT NULL,
    result_code TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    new_display_id TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    UNIQUE (shop_id, idempotency_key)
);
CREATE INDEX payment_operations_open ON payment_operations(status, created_at);
CREATE INDEX payment_operations_order ON payment_operations(order_id, id);

-- 手数料: what the shop pays the gateway per operation (Paygent: per capture and cancel).
CREATE TABLE payment_fees (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    operation_id INTEGER NOT NULL UNIQUE REFERENCES payment_operations(id),
    order_id INTEGER NOT NULL REFERENCES orders(id),
    gateway TEXT NOT NULL,
    action TEXT NOT NULL,
    fee INTEGER NOT NULL,
    month TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX payment_fees_month ON payment_fees(shop_id, month);

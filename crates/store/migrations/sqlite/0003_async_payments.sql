-- juchu asynchronous payments schema (SQLite). Keep in step with ../postgres/0003_async_payments.sql.
-- Konbini / ATM / Pay-easy / net-bank payments settle later: the gateway tells juchu (push) or
-- juchu asks (pull); every notification received is kept, applied at most once.

-- What the buyer needs to pay (JSON: labelled numbers, URL) and until when.
ALTER TABLE payments ADD COLUMN slip TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN due_at TEXT;
-- Something the operator must look at (a net-bank payment past its due date …); '' = nothing.
ALTER TABLE payments ADD COLUMN attention TEXT NOT NULL DEFAULT '';

-- Notifications received from gateways (Paygent 差分通知 / 差分照会, GMO 結果通知), each once.
-- outcome: 'applied', 'unchanged' (nothing new), 'refused' (forged, unknown order, wrong amount).
CREATE TABLE gateway_notices (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    gateway TEXT NOT NULL,
    notice_id TEXT NOT NULL,
    payment_ref TEXT NOT NULL,
    status TEXT NOT NULL,
    amount INTEGER,
    via TEXT NOT NULL CHECK (via IN ('push', 'pull')),
    outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'unchanged', 'refused')),
    reason TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (shop_id, gateway, notice_id)
);
CREATE INDEX gateway_notices_refused ON gateway_notices(shop_id, outcome, id);

-- Where the pull job left off per gateway (Paygent: the last payment_notice_id read).
CREATE TABLE gateway_cursors (
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    gateway TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (shop_id, gateway)
);

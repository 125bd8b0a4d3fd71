-- The storefront's checkout (issue 6). The SQLite and PostgreSQL versions say the same.

-- Members log in at checkout; empty: the member has no storefront password.
ALTER TABLE customers ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';

-- A card authorization waiting for the buyer to come back from 3-D Secure: the gateway's
-- ids (PaymentRef JSON). The recovery job leaves such operations to the pending-order sweep.
ALTER TABLE payment_operations ADD COLUMN awaiting TEXT NOT NULL DEFAULT '';

-- One buyer's way through the shop, keyed by the hash of a cookie. Its order (決済処理中,
-- then 新規受付 / 入金待ち) is created when the buyer moves from confirmation to payment.
CREATE TABLE checkouts (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    token_hash TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('shopping', 'paying', 'completed')),
    -- JSON: the cart lines and the buyer's choices (customer, delivery, payment, points).
    cart TEXT NOT NULL,
    details TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id),
    order_id INTEGER REFERENCES orders(id),
    -- JSON: a 3-D Secure authentication the buyer has been sent to.
    three_ds TEXT NOT NULL DEFAULT '',
    -- A fresh value per payment form: a resubmitted form is the same attempt.
    attempt TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX checkouts_order ON checkouts(order_id);
CREATE INDEX orders_status_updated ON orders(status, updated_at);

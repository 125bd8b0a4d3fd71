-- Changes made at a gateway rather than through juchu. The SQLite and PostgreSQL versions
-- say the same.

-- The order a gateway's notification is about, when juchu knows it: a payment made on the
-- gateway's own screen (Paygent's 補正 opens a new payment id under the shop's trading_id)
-- is found from the notifications about that order. No foreign key: notifications are a log.
ALTER TABLE gateway_notices ADD COLUMN order_id INTEGER;
CREATE INDEX gateway_notices_order ON gateway_notices(order_id);

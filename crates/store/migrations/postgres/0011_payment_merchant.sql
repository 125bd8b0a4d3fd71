-- The merchant account a payment was made under (GMO ShopID, Paygent merchant_id; empty for
-- Paidy and for payments made before this column). After the shop's merchant ID changes, an
-- operation on an older payment is refused instead of going to the new account (seed 004
-- §7-4 ①-5). The SQLite and PostgreSQL versions say the same.
ALTER TABLE payments ADD COLUMN merchant TEXT NOT NULL DEFAULT '';

-- The admin order screens (issue 7). The SQLite and PostgreSQL versions say the same.

-- 入金チェック: a manual "payment checked" mark with no gateway effect; NULL = not checked.
ALTER TABLE orders ADD COLUMN payment_checked_at TEXT;
ALTER TABLE orders ADD COLUMN payment_checked_by TEXT NOT NULL DEFAULT '';

-- What the slips (納品書, 請求書, 領収書) print as the issuer: the shop's company, address,
-- phone and its qualified-invoice registration number (登録番号, T + 13 digits).
ALTER TABLE shops ADD COLUMN company_name TEXT NOT NULL DEFAULT '';
ALTER TABLE shops ADD COLUMN postal_code TEXT NOT NULL DEFAULT '';
ALTER TABLE shops ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE shops ADD COLUMN tel TEXT NOT NULL DEFAULT '';
ALTER TABLE shops ADD COLUMN invoice_number TEXT NOT NULL DEFAULT '';

-- Who queued a mail (an operator's name, or the system).
ALTER TABLE mails ADD COLUMN sent_by TEXT NOT NULL DEFAULT '';

-- The mails an operator sends from an order (注文確認 / 配送通知 / フリー), as the shop
-- edited them; a kind without a row uses the built-in text.
CREATE TABLE mail_templates (
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    kind TEXT NOT NULL CHECK (kind IN ('order', 'shipping', 'free')),
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (shop_id, kind)
);

-- CSV出力項目設定: the columns of each CSV download, in order (comma list of column codes);
-- a kind without a row uses the built-in columns.
CREATE TABLE csv_settings (
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    kind TEXT NOT NULL CHECK (kind IN ('orders', 'shipping')),
    columns TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (shop_id, kind)
);

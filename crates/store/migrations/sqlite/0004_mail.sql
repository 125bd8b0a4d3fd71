-- juchu mail outbox schema (SQLite). Keep in step with ../postgres/0004_mail.sql.
-- A mail is written in the transaction of what it tells about, then delivered by a job (to
-- .eml files or SMTP): nothing is mailed for a change that rolled back, nothing lost if the
-- process stops before sending.

ALTER TABLE shops ADD COLUMN email TEXT NOT NULL DEFAULT '';

CREATE TABLE mails (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    order_id INTEGER REFERENCES orders(id),
    kind TEXT NOT NULL,
    mail_to TEXT NOT NULL,
    bcc TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- 'sending': taken by a sender at claimed_at; taken again only if that sender vanished.
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    claimed_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX mails_queued ON mails(status, id);
CREATE INDEX mails_order ON mails(order_id, id);

//! The mail outbox: mails written with the change they tell about, delivered by a job.

use jiff::Timestamp;
use juchu_domain::time::to_db;
use sqlx::AnyConnection;

use crate::sql::Sql;
use crate::{StoreError, Tx};

pub struct NewMail<'a> {
    pub shop_id: i64,
    pub order_id: Option<i64>,
    /// `payment_instructions`, `thanks`, …
    pub kind: &'a str,
    pub to: &'a str,
    /// The shop's copy (empty: none).
    pub bcc: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    /// Who queued it: the operator's name, or what the system was doing.
    pub sent_by: &'a str,
}

pub async fn enqueue(tx: &mut Tx, m: &NewMail<'_>, now: Timestamp) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO mails (shop_id, order_id, kind, mail_to, bcc, subject, body, status, created_at, sent_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9) RETURNING id",
    )
    .bind(m.shop_id)
    .bind(m.order_id)
    .bind(m.kind.to_owned())
    .bind(m.to.to_owned())
    .bind(m.bcc.to_owned())
    .bind(m.subject.to_owned())
    .bind(m.body.to_owned())
    .bind(to_db(now))
    .bind(m.sent_by.to_owned())
    .fetch_one(tx.conn())
    .await?)
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Mail {
    pub id: i64,
    pub shop_id: i64,
    pub order_id: Option<i64>,
    pub kind: String,
    pub mail_to: String,
    pub bcc: String,
    pub subject: String,
    pub body: String,
    /// `queued`, `sent`, `failed`
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
    pub created_at: String,
    pub sent_at: Option<String>,
    /// Who queued it (an operator's name, or the system).
    pub sent_by: String,
}

const COLS: &str = "id, shop_id, order_id, kind, mail_to, bcc, subject, body, status, attempts, last_error, \
    created_at, sent_at, sent_by";

const TAKEABLE: &str = "(status = 'queued' OR (status = 'failed' AND attempts < $1) \
    OR (status = 'sending' AND claimed_at < $2))";

/// Mails waiting to go out — queued, failed fewer than `max_attempts` times, or taken by a
/// sender before `stale_before` that never finished — oldest first.
pub async fn due(
    conn: &mut AnyConnection,
    max_attempts: i64,
    stale_before: Timestamp,
    limit: i64,
) -> Result<Vec<Mail>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLS} FROM mails WHERE {TAKEABLE} ORDER BY id LIMIT $3"
    ))
    .bind(max_attempts)
    .bind(to_db(stale_before))
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Take a mail for sending: exactly one sender gets it (`false`: another did first).
pub async fn claim(
    tx: &mut Tx,
    id: i64,
    max_attempts: i64,
    stale_before: Timestamp,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n = sqlx::query(&format!(
        "UPDATE mails SET (status, claimed_at, attempts) = ('sending', $3, attempts + 1) \
         WHERE id = $4 AND {TAKEABLE}"
    ))
    .bind(max_attempts)
    .bind(to_db(stale_before))
    .bind(to_db(now))
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn mark(
    tx: &mut Tx,
    id: i64,
    sent: bool,
    error: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE mails SET (status, last_error, sent_at) = ($1, $2, $3) WHERE id = $4")
        .bind(if sent { "sent" } else { "failed" })
        .bind(error.to_owned())
        .bind(sent.then(|| to_db(now)))
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// An order's mails, newest first.
pub async fn of_order(conn: &mut AnyConnection, order_id: i64) -> Result<Vec<Mail>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLS} FROM mails WHERE order_id = $1 ORDER BY id DESC"
    ))
    .bind(order_id)
    .fetch_all(conn)
    .await?)
}

/// A mail in the outbox list, with its order's number.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Listed {
    #[sqlx(flatten)]
    pub mail: Mail,
    /// 注文番号
    pub order_number: Option<i64>,
}

/// What the outbox list is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub order_number: Option<i64>,
    pub kind: Option<String>,
    /// `queued` (with `sending`), `sent`, `failed`
    pub status: Option<String>,
}

fn listed_cols() -> String {
    COLS.split(", ")
        .map(|c| format!("m.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn filter_clause(q: &mut Sql, shop_id: i64, f: &Filter) {
    q.push(" FROM mails m LEFT JOIN orders o ON o.id = m.order_id WHERE m.shop_id = ")
        .bind(shop_id);
    if let Some(n) = f.order_number {
        q.push(" AND o.number = ").bind(n);
    }
    if let Some(k) = &f.kind {
        q.push(" AND m.kind = ").bind(k.clone());
    }
    match f.status.as_deref() {
        None => {}
        // A mail being handed over is still waiting, for the operator.
        Some("queued") => {
            q.push(" AND m.status IN ('queued', 'sending')");
        }
        Some(s) => {
            q.push(" AND m.status = ").bind(s.to_owned());
        }
    }
}

/// The shop's outbox, newest first: (matches in all pages, this page).
pub async fn search(
    conn: &mut AnyConnection,
    shop_id: i64,
    f: &Filter,
    page: i64,
    per_page: i64,
) -> Result<(i64, Vec<Listed>), StoreError> {
    let mut q = Sql::new("SELECT COUNT(*)");
    filter_clause(&mut q, shop_id, f);
    let (text, args) = q.parts();
    let total: i64 = sqlx::query_scalar_with(&text, args)
        .fetch_one(&mut *conn)
        .await?;
    let mut q = Sql::new(&format!(
        "SELECT {}, o.number AS order_number",
        listed_cols()
    ));
    filter_clause(&mut q, shop_id, f);
    q.push(" ORDER BY m.id DESC LIMIT ")
        .bind(per_page)
        .push(" OFFSET ")
        .bind(juchu_domain::search::page_offset(page, per_page));
    let (text, args) = q.parts();
    let rows = sqlx::query_as_with(&text, args).fetch_all(conn).await?;
    Ok((total, rows))
}

/// One of the shop's mails.
pub async fn get(
    conn: &mut AnyConnection,
    shop_id: i64,
    id: i64,
) -> Result<Option<Listed>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {}, o.number AS order_number FROM mails m LEFT JOIN orders o ON o.id = m.order_id \
         WHERE m.shop_id = $1 AND m.id = $2",
        listed_cols()
    ))
    .bind(shop_id)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

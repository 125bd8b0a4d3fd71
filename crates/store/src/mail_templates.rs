//! The shop's own texts for the mails an operator sends from an order (注文確認 / 配送通知 /
//! フリー). A kind without a row uses the built-in text (juchu_app::mail::templates).

use jiff::Timestamp;
use juchu_domain::time::{from_db, to_db};
use sqlx::AnyConnection;

use crate::{StoreError, Tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTemplate {
    pub shop_id: i64,
    /// `order`, `shipping`, `free`
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    shop_id: i64,
    kind: String,
    subject: String,
    body: String,
    updated_at: String,
    updated_by: String,
}

impl TryFrom<Row> for MailTemplate {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(MailTemplate {
            shop_id: r.shop_id,
            kind: r.kind,
            subject: r.subject,
            body: r.body,
            updated_at: from_db(&r.updated_at)
                .map_err(|e| StoreError::Corrupt(format!("mail_templates.updated_at: {e}")))?,
            updated_by: r.updated_by,
        })
    }
}

const COLS: &str = "shop_id, kind, subject, body, updated_at, updated_by";

pub async fn get(
    conn: &mut AnyConnection,
    shop_id: i64,
    kind: &str,
) -> Result<Option<MailTemplate>, StoreError> {
    let r: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM mail_templates WHERE shop_id = $1 AND kind = $2"
    ))
    .bind(shop_id)
    .bind(kind.to_owned())
    .fetch_optional(conn)
    .await?;
    r.map(MailTemplate::try_from).transpose()
}

/// Every kind the shop has edited.
pub async fn list(conn: &mut AnyConnection, shop_id: i64) -> Result<Vec<MailTemplate>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM mail_templates WHERE shop_id = $1 ORDER BY kind"
    ))
    .bind(shop_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(MailTemplate::try_from).collect()
}

pub async fn save(tx: &mut Tx, t: &MailTemplate) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mail_templates (shop_id, kind, subject, body, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (shop_id, kind) DO UPDATE SET \
         subject = excluded.subject, body = excluded.body, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by",
    )
    .bind(t.shop_id)
    .bind(t.kind.clone())
    .bind(t.subject.clone())
    .bind(t.body.clone())
    .bind(to_db(t.updated_at))
    .bind(t.updated_by.clone())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Back to the built-in text. → whether the shop had its own.
pub async fn delete(tx: &mut Tx, shop_id: i64, kind: &str) -> Result<bool, StoreError> {
    let n = sqlx::query("DELETE FROM mail_templates WHERE shop_id = $1 AND kind = $2")
        .bind(shop_id)
        .bind(kind.to_owned())
        .execute(tx.conn())
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// The order the edit screen previews templates with: the shop's newest that is not deleted
/// and no longer 決済処理中.
pub async fn preview_order(
    conn: &mut AnyConnection,
    shop_id: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT MAX(number) FROM orders WHERE shop_id = $1 AND deleted_at IS NULL \
         AND status <> 'pending_payment'",
    )
    .bind(shop_id)
    .fetch_one(conn)
    .await?)
}

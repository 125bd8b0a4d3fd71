//! CSV出力項目設定 (`csv_settings`, migration 0007): the columns a shop chose for a CSV
//! download, as a comma list of column codes; no row = the built-in columns. Also the shop
//! as 送り状's ご依頼主.

use jiff::Timestamp;
use juchu_domain::time::{from_db, to_db};
use sqlx::AnyConnection;

use crate::db::corrupt;
use crate::{StoreError, Tx};

/// A stored choice of columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Column codes in output order.
    pub columns: Vec<String>,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

pub async fn get(
    conn: &mut AnyConnection,
    shop_id: i64,
    kind: &str,
) -> Result<Option<Stored>, StoreError> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT columns, updated_at, updated_by FROM csv_settings WHERE shop_id = $1 AND kind = $2",
    )
    .bind(shop_id)
    .bind(kind.to_owned())
    .fetch_optional(conn)
    .await?;
    row.map(|(columns, at, by)| {
        Ok(Stored {
            columns: columns
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            updated_at: from_db(&at).map_err(|e| corrupt(format!("instant {at}: {e}")))?,
            updated_by: by,
        })
    })
    .transpose()
}

/// Store a kind's columns (codes must not contain commas: the caller validated them).
pub async fn set(
    tx: &mut Tx,
    shop_id: i64,
    kind: &str,
    columns: &[String],
    now: Timestamp,
    by: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO csv_settings (shop_id, kind, columns, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (shop_id, kind) DO UPDATE SET columns = excluded.columns, \
         updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(shop_id)
    .bind(kind.to_owned())
    .bind(columns.join(","))
    .bind(to_db(now))
    .bind(by.to_owned())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// 初期設定に戻す: forget the choice, so the built-in columns apply (and follow future
/// changes to them).
pub async fn clear(tx: &mut Tx, shop_id: i64, kind: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM csv_settings WHERE shop_id = $1 AND kind = $2")
        .bind(shop_id)
        .bind(kind.to_owned())
        .execute(tx.conn())
        .await?;
    Ok(())
}

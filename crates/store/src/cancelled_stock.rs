//! キャンセル受注在庫管理: the items of cancelled orders, held until the operator returns
//! them to stock. Stock never goes back by itself.

use jiff::Timestamp;
use juchu_domain::catalog::CancelledStock;
use juchu_domain::order::Item;
use juchu_domain::time::{from_db, to_db};
use sqlx::AnyConnection;

use crate::db::corrupt;
use crate::{StoreError, Tx};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    order_number: i64,
    product_code: String,
    product_name: String,
    class1: String,
    class2: String,
    quantity: i64,
    created_at: String,
    returned_at: Option<String>,
    returned_by: Option<String>,
}

impl TryFrom<Row> for CancelledStock {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(CancelledStock {
            id: r.id,
            order_number: r.order_number,
            product_code: r.product_code,
            product_name: r.product_name,
            class1: r.class1,
            class2: r.class2,
            quantity: r.quantity,
            created_at: from_db(&r.created_at).map_err(corrupt)?,
            returned_at: r
                .returned_at
                .map(|t| from_db(&t).map_err(corrupt))
                .transpose()?,
            returned_by: r.returned_by,
        })
    }
}

const COLS: &str = "c.id, o.number AS order_number, c.product_code, c.product_name, c.class1, c.class2, c.quantity, c.created_at, c.returned_at, c.returned_by";

/// Put an order's items on the list.
pub async fn add_order_items(
    tx: &mut Tx,
    shop_id: i64,
    order_id: i64,
    items: &[Item],
    now: Timestamp,
) -> Result<(), StoreError> {
    for it in items {
        sqlx::query(
            "INSERT INTO cancelled_stock (shop_id, order_id, product_code, product_name, class1, class2, quantity, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(shop_id)
        .bind(order_id)
        .bind(it.product_code.clone())
        .bind(it.product_name.clone())
        .bind(it.class1.clone())
        .bind(it.class2.clone())
        .bind(it.quantity)
        .bind(to_db(now))
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Lines not yet returned, or all lines when `include_returned`.
pub async fn list(
    conn: &mut AnyConnection,
    shop_id: i64,
    include_returned: bool,
) -> Result<Vec<CancelledStock>, StoreError> {
    let filter = if include_returned {
        ""
    } else {
        " AND c.returned_at IS NULL"
    };
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM cancelled_stock c JOIN orders o ON o.id = c.order_id WHERE c.shop_id = $1{filter} ORDER BY c.id DESC"
    ))
    .bind(shop_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(CancelledStock::try_from).collect()
}

/// A line, locked for returning.
pub async fn get_for_update(
    tx: &mut Tx,
    shop_id: i64,
    id: i64,
) -> Result<Option<CancelledStock>, StoreError> {
    let lock = match tx.backend {
        crate::Backend::Postgres => " FOR UPDATE OF c",
        crate::Backend::Sqlite => "",
    };
    let r: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM cancelled_stock c JOIN orders o ON o.id = c.order_id WHERE c.shop_id = $1 AND c.id = $2{lock}"
    ))
    .bind(shop_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    r.map(CancelledStock::try_from).transpose()
}

/// Open lines of one order.
pub async fn open_ids_of_order(
    tx: &mut Tx,
    shop_id: i64,
    order_id: i64,
) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM cancelled_stock WHERE shop_id = $1 AND order_id = $2 AND returned_at IS NULL ORDER BY id",
    )
    .bind(shop_id)
    .bind(order_id)
    .fetch_all(tx.conn())
    .await?)
}

/// Mark a line returned; false if it already was (a second click returns nothing twice).
pub async fn mark_returned(
    tx: &mut Tx,
    id: i64,
    by: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE cancelled_stock SET returned_at = $1, returned_by = $2 WHERE id = $3 AND returned_at IS NULL",
    )
    .bind(to_db(now))
    .bind(by.to_owned())
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Drop an order's lines that were not returned yet (the order is live again). Returns how
/// many were dropped.
pub async fn withdraw_open_of_order(
    tx: &mut Tx,
    shop_id: i64,
    order_id: i64,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM cancelled_stock WHERE shop_id = $1 AND order_id = $2 AND returned_at IS NULL",
    )
    .bind(shop_id)
    .bind(order_id)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

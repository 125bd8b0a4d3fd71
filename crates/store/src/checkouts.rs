//! The storefront's checkouts: one row per buyer's way through the shop (cart, choices, the
//! pending order), keyed by the hash of the buyer's cookie.

use jiff::Timestamp;
use juchu_domain::time::{from_db, to_db};
use sqlx::AnyConnection;

use crate::{StoreError, Tx};

/// Where a buyer's way through the shop stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutState {
    /// Cart and choices.
    Shopping,
    /// A 決済処理中 order exists.
    Paying,
    /// The order is placed.
    Completed,
}

impl CheckoutState {
    pub fn code(self) -> &'static str {
        match self {
            CheckoutState::Shopping => "shopping",
            CheckoutState::Paying => "paying",
            CheckoutState::Completed => "completed",
        }
    }

    fn from_code(s: &str) -> Result<CheckoutState, StoreError> {
        Ok(match s {
            "shopping" => CheckoutState::Shopping,
            "paying" => CheckoutState::Paying,
            "completed" => CheckoutState::Completed,
            other => return Err(StoreError::Corrupt(format!("checkouts.state {other}"))),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub id: i64,
    pub shop_id: i64,
    pub state: CheckoutState,
    /// JSON, owned by the app.
    pub cart: String,
    pub details: String,
    pub customer_id: Option<i64>,
    pub order_id: Option<i64>,
    pub three_ds: String,
    pub attempt: String,
    pub version: i64,
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    shop_id: i64,
    state: String,
    cart: String,
    details: String,
    customer_id: Option<i64>,
    order_id: Option<i64>,
    three_ds: String,
    attempt: String,
    version: i64,
    updated_at: String,
}

impl TryFrom<Row> for Checkout {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Checkout, StoreError> {
        Ok(Checkout {
            id: r.id,
            shop_id: r.shop_id,
            state: CheckoutState::from_code(&r.state)?,
            cart: r.cart,
            details: r.details,
            customer_id: r.customer_id,
            order_id: r.order_id,
            three_ds: r.three_ds,
            attempt: r.attempt,
            version: r.version,
            updated_at: from_db(&r.updated_at)
                .map_err(|e| StoreError::Corrupt(format!("checkouts.updated_at: {e}")))?,
        })
    }
}

const COLS: &str = "id, shop_id, state, cart, details, customer_id, order_id, three_ds, attempt, \
    version, updated_at";

pub async fn insert(
    tx: &mut Tx,
    shop_id: i64,
    token_hash: &str,
    attempt: &str,
    now: Timestamp,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO checkouts (shop_id, token_hash, state, cart, details, attempt, created_at, updated_at) \
         VALUES ($1, $2, 'shopping', '[]', '{}', $3, $4, $4) RETURNING id",
    )
    .bind(shop_id)
    .bind(token_hash.to_owned())
    .bind(attempt.to_owned())
    .bind(to_db(now))
    .fetch_one(tx.conn())
    .await?)
}

pub async fn by_token(
    conn: &mut AnyConnection,
    shop_id: i64,
    token_hash: &str,
) -> Result<Option<Checkout>, StoreError> {
    let r: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM checkouts WHERE shop_id = $1 AND token_hash = $2"
    ))
    .bind(shop_id)
    .bind(token_hash.to_owned())
    .fetch_optional(conn)
    .await?;
    r.map(Checkout::try_from).transpose()
}

/// The checkout, locked for the rest of the transaction: the buyer's parallel requests
/// (a double click, a back-button storm) take turns.
pub async fn by_token_for_update(
    tx: &mut Tx,
    shop_id: i64,
    token_hash: &str,
) -> Result<Option<Checkout>, StoreError> {
    let lock = tx.lock_clause();
    let r: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM checkouts WHERE shop_id = $1 AND token_hash = $2{lock}"
    ))
    .bind(shop_id)
    .bind(token_hash.to_owned())
    .fetch_optional(tx.conn())
    .await?;
    r.map(Checkout::try_from).transpose()
}

pub async fn by_order(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Option<Checkout>, StoreError> {
    let r: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLS} FROM checkouts WHERE order_id = $1"))
            .bind(order_id)
            .fetch_optional(conn)
            .await?;
    r.map(Checkout::try_from).transpose()
}

/// Everything the buyer can change, written back as a whole; `false` when the row moved on.
pub struct Write<'a> {
    pub state: CheckoutState,
    pub cart: &'a str,
    pub details: &'a str,
    pub customer_id: Option<i64>,
    pub order_id: Option<i64>,
    pub three_ds: &'a str,
    pub attempt: &'a str,
}

pub async fn update(
    tx: &mut Tx,
    id: i64,
    version: i64,
    w: &Write<'_>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE checkouts SET (state, cart, details, customer_id, order_id, three_ds, attempt, version, updated_at) \
         = ($1, $2, $3, $4, $5, $6, $7, version + 1, $8) WHERE id = $9 AND version = $10",
    )
    .bind(w.state.code())
    .bind(w.cart.to_owned())
    .bind(w.details.to_owned())
    .bind(w.customer_id)
    .bind(w.order_id)
    .bind(w.three_ds.to_owned())
    .bind(w.attempt.to_owned())
    .bind(to_db(now))
    .bind(id)
    .bind(version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// 決済処理中 orders last touched before `before` (live, not deleted): the sweep's work.
pub async fn abandoned_orders(
    conn: &mut AnyConnection,
    before: Timestamp,
    limit: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT shop_id, number FROM orders WHERE status = 'pending_payment' AND deleted_at IS NULL \
         AND updated_at < $1 ORDER BY id LIMIT $2",
    )
    .bind(to_db(before))
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The checkout's order is complete: the buyer's next visit starts a new cart.
pub async fn complete_order(tx: &mut Tx, order_id: i64, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE checkouts SET (state, three_ds, version, updated_at) = ('completed', '', version + 1, $1) \
         WHERE order_id = $2",
    )
    .bind(to_db(now))
    .bind(order_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The checkout's 決済処理中 order was removed: the buyer is back to shopping with the same
/// cart, and a new payment form.
pub async fn release_order(
    tx: &mut Tx,
    order_id: i64,
    attempt: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE checkouts SET (state, order_id, three_ds, attempt, version, updated_at) = \
         ('shopping', NULL, '', $1, version + 1, $2) WHERE order_id = $3",
    )
    .bind(attempt.to_owned())
    .bind(to_db(now))
    .bind(order_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Checkouts whose buyer was sent to 3-D Secure: how a return that brings no cookie (a
/// gateway on another site) finds its checkout by the authentication it carries.
pub async fn awaiting_three_ds(
    conn: &mut AnyConnection,
    shop_id: i64,
) -> Result<Vec<Checkout>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM checkouts WHERE shop_id = $1 AND state = 'paying' AND three_ds <> '' \
         ORDER BY id DESC LIMIT 500"
    ))
    .bind(shop_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Checkout::try_from).collect()
}

pub async fn by_id(
    conn: &mut AnyConnection,
    shop_id: i64,
    id: i64,
) -> Result<Option<Checkout>, StoreError> {
    let r: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM checkouts WHERE shop_id = $1 AND id = $2"
    ))
    .bind(shop_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    r.map(Checkout::try_from).transpose()
}

pub async fn by_id_for_update(
    tx: &mut Tx,
    shop_id: i64,
    id: i64,
) -> Result<Option<Checkout>, StoreError> {
    let lock = tx.lock_clause();
    let r: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM checkouts WHERE shop_id = $1 AND id = $2{lock}"
    ))
    .bind(shop_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    r.map(Checkout::try_from).transpose()
}

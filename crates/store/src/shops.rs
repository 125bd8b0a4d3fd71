use jiff::Timestamp;
use juchu_domain::time::to_db;
use sqlx::AnyConnection;

use crate::{StoreError, Tx};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Shop {
    pub id: i64,
    pub code: String,
    pub name: String,
}

pub async fn create(
    tx: &mut Tx,
    code: &str,
    name: &str,
    now: Timestamp,
) -> Result<Shop, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO shops (code, name, next_order_number, created_at) VALUES ($1, $2, 1, $3) RETURNING id",
    )
    .bind(code.to_owned())
    .bind(name.to_owned())
    .bind(to_db(now))
    .fetch_one(tx.conn())
    .await?;
    Ok(Shop {
        id,
        code: code.to_owned(),
        name: name.to_owned(),
    })
}

pub async fn by_code(conn: &mut AnyConnection, code: &str) -> Result<Option<Shop>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, code, name FROM shops WHERE code = $1")
            .bind(code.to_owned())
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<Option<Shop>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, code, name FROM shops WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn count(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM shops")
        .fetch_one(conn)
        .await?)
}

/// Take the shop's next order number. The row lock (PostgreSQL) or the write lock (SQLite)
/// makes concurrent checkouts get distinct, gap-free numbers.
pub async fn next_order_number(tx: &mut Tx, shop_id: i64) -> Result<i64, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "UPDATE shops SET next_order_number = next_order_number + 1 WHERE id = $1 RETURNING next_order_number - 1",
    )
    .bind(shop_id)
    .fetch_one(tx.conn())
    .await?;
    Ok(n)
}

/// Every shop's id (jobs that run for all shops).
pub async fn ids(conn: &mut AnyConnection) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar("SELECT id FROM shops ORDER BY id")
        .fetch_all(conn)
        .await?)
}

/// The shop's mail address (From of its mails, and where its copies go); empty when unset.
pub async fn email(conn: &mut AnyConnection, id: i64) -> Result<String, StoreError> {
    Ok(sqlx::query_scalar("SELECT email FROM shops WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await?)
}

pub async fn set_email(tx: &mut Tx, id: i64, email: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE shops SET email = $1 WHERE id = $2")
        .bind(email.to_owned())
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// What the slips (納品書, 請求書, 領収書) print as their issuer (migration 0007). Empty
/// strings where the shop has not said.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct IssuerRow {
    pub company_name: String,
    /// 7 digits, no hyphen
    pub postal_code: String,
    pub address: String,
    /// digits only
    pub tel: String,
    /// 適格請求書発行事業者 登録番号: `T` + 13 digits
    pub invoice_number: String,
}

pub async fn issuer(conn: &mut AnyConnection, id: i64) -> Result<IssuerRow, StoreError> {
    Ok(sqlx::query_as(
        "SELECT company_name, postal_code, address, tel, invoice_number FROM shops WHERE id = $1",
    )
    .bind(id)
    .fetch_one(conn)
    .await?)
}

pub async fn set_issuer(tx: &mut Tx, id: i64, p: &IssuerRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE shops SET (company_name, postal_code, address, tel, invoice_number) = ($1, $2, $3, $4, $5) WHERE id = $6",
    )
    .bind(p.company_name.clone())
    .bind(p.postal_code.clone())
    .bind(p.address.clone())
    .bind(p.tel.clone())
    .bind(p.invoice_number.clone())
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

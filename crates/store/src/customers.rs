//! Members (会員) and their points ledger.

use jiff::Timestamp;
use juchu_domain::customer::{Customer, CustomerDraft, Person, Sex, search_key};
use juchu_domain::points::LedgerEntry;
use juchu_domain::time::{from_db, to_db};
use sqlx::AnyConnection;

use crate::db::corrupt;
use crate::sql::{Sql, contains_pattern};
use crate::{StoreError, Tx};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    family_name: String,
    given_name: String,
    family_kana: String,
    given_kana: String,
    company: String,
    email: String,
    tel: String,
    postal_code: String,
    prefecture: String,
    address1: String,
    address2: String,
    birth_date: Option<String>,
    sex: Option<String>,
    points: i64,
    created_at: String,
}

const COLS: &str = "id, family_name, given_name, family_kana, given_kana, company, email, tel, postal_code, prefecture, address1, address2, birth_date, sex, points, created_at";

impl TryFrom<Row> for Customer {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Customer, StoreError> {
        Ok(Customer {
            id: r.id,
            draft: CustomerDraft {
                person: Person {
                    family_name: r.family_name,
                    given_name: r.given_name,
                    family_kana: r.family_kana,
                    given_kana: r.given_kana,
                    company: r.company,
                    postal_code: r.postal_code,
                    prefecture: r.prefecture,
                    address1: r.address1,
                    address2: r.address2,
                    tel: r.tel,
                },
                email: r.email,
                birth_date: r
                    .birth_date
                    .map(|d| d.parse().map_err(|_| corrupt(format!("date {d}"))))
                    .transpose()?,
                sex: r
                    .sex
                    .map(|s| Sex::from_code(&s).ok_or_else(|| corrupt(format!("sex {s}"))))
                    .transpose()?,
            },
            points: r.points,
            created_at: from_db(&r.created_at).map_err(corrupt)?,
        })
    }
}

pub async fn create(
    tx: &mut Tx,
    shop_id: i64,
    d: &CustomerDraft,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let p = &d.person;
    Ok(sqlx::query_scalar(
        "INSERT INTO customers (shop_id, family_name, given_name, family_kana, given_kana, name_key, kana_key, company, email, tel, \
         postal_code, prefecture, address1, address2, birth_date, sex, points, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 0, $17, $17) RETURNING id",
    )
    .bind(shop_id)
    .bind(p.family_name.clone())
    .bind(p.given_name.clone())
    .bind(p.family_kana.clone())
    .bind(p.given_kana.clone())
    .bind(search_key(&p.family_name, &p.given_name))
    .bind(search_key(&p.family_kana, &p.given_kana))
    .bind(p.company.clone())
    .bind(d.email.clone())
    .bind(p.tel.clone())
    .bind(p.postal_code.clone())
    .bind(p.prefecture.clone())
    .bind(p.address1.clone())
    .bind(p.address2.clone())
    .bind(d.birth_date.map(|x| x.to_string()))
    .bind(d.sex.map(|x| x.code()))
    .bind(to_db(now))
    .fetch_one(tx.conn())
    .await?)
}

pub async fn get(
    conn: &mut AnyConnection,
    shop_id: i64,
    id: i64,
) -> Result<Option<Customer>, StoreError> {
    let r: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM customers WHERE shop_id = $1 AND id = $2"
    ))
    .bind(shop_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    r.map(Customer::try_from).transpose()
}

/// Members whose name, kana, email or tel contains `q` (all when `q` is empty).
pub async fn search(
    conn: &mut AnyConnection,
    shop_id: i64,
    q: &str,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<Customer>), StoreError> {
    let filter = |s: &mut Sql| {
        s.push(" WHERE shop_id = ").bind(shop_id);
        let q = juchu_domain::input::squash_spaces(q);
        if !q.is_empty() {
            let p = contains_pattern(&q);
            s.push(" AND (name_key LIKE ")
                .bind(p.clone())
                .push(" ESCAPE '\\'");
            s.push(" OR kana_key LIKE ")
                .bind(p.clone())
                .push(" ESCAPE '\\'");
            s.push(" OR lower(email) LIKE ")
                .bind(p.to_lowercase())
                .push(" ESCAPE '\\'");
            s.push(" OR tel LIKE ").bind(p).push(" ESCAPE '\\')");
        }
    };
    let mut c = Sql::new("SELECT COUNT(*) FROM customers");
    filter(&mut c);
    let (text, args) = c.parts();
    let total: i64 = sqlx::query_scalar_with(&text, args)
        .fetch_one(&mut *conn)
        .await?;
    let mut s = Sql::new(&format!("SELECT {COLS} FROM customers"));
    filter(&mut s);
    s.push(" ORDER BY id DESC LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    let (text, args) = s.parts();
    let rows: Vec<Row> = sqlx::query_as_with(&text, args).fetch_all(conn).await?;
    Ok((
        total,
        rows.into_iter()
            .map(Customer::try_from)
            .collect::<Result<_, _>>()?,
    ))
}

/// One movement of points.
pub struct PointMove<'a> {
    pub delta: i64,
    pub reason: &'a str,
    pub order_id: Option<i64>,
    pub actor: &'a str,
    /// Spending needs a sufficient balance; returning or revoking may take it below zero.
    pub allow_negative: bool,
}

/// Apply a movement and record it. Returns the new balance, or `None` (nothing written)
/// when the balance would go below zero and that is not allowed.
pub async fn move_points(
    tx: &mut Tx,
    shop_id: i64,
    customer_id: i64,
    m: &PointMove<'_>,
    now: Timestamp,
) -> Result<Option<i64>, StoreError> {
    let balance: Option<i64> = sqlx::query_scalar(
        "UPDATE customers SET points = points + $1, updated_at = $2 \
         WHERE shop_id = $3 AND id = $4 AND (points + $1 >= 0 OR $5 = 1) RETURNING points",
    )
    .bind(m.delta)
    .bind(to_db(now))
    .bind(shop_id)
    .bind(customer_id)
    .bind(m.allow_negative as i64)
    .fetch_optional(tx.conn())
    .await?;
    let Some(balance) = balance else {
        return Ok(None);
    };
    sqlx::query(
        "INSERT INTO point_ledger (shop_id, customer_id, delta, balance_after, reason, order_id, actor, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(shop_id)
    .bind(customer_id)
    .bind(m.delta)
    .bind(balance)
    .bind(m.reason.to_owned())
    .bind(m.order_id)
    .bind(m.actor.to_owned())
    .bind(to_db(now))
    .execute(tx.conn())
    .await?;
    Ok(Some(balance))
}

/// Newest first.
pub async fn ledger(
    conn: &mut AnyConnection,
    shop_id: i64,
    customer_id: i64,
) -> Result<Vec<LedgerEntry>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Rec {
        delta: i64,
        balance_after: i64,
        reason: String,
        order_number: Option<i64>,
        actor: String,
        at: String,
    }
    let rows: Vec<Rec> = sqlx::query_as(
        "SELECT l.delta, l.balance_after, l.reason, o.number AS order_number, l.actor, l.at \
         FROM point_ledger l LEFT JOIN orders o ON o.id = l.order_id \
         WHERE l.shop_id = $1 AND l.customer_id = $2 ORDER BY l.id DESC",
    )
    .bind(shop_id)
    .bind(customer_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(LedgerEntry {
                delta: r.delta,
                balance_after: r.balance_after,
                reason: r.reason,
                order_number: r.order_number,
                actor: r.actor,
                at: from_db(&r.at).map_err(corrupt)?,
            })
        })
        .collect()
}

/// A member's storefront login: id and password hash by email (empty hash: no password set).
pub async fn login_of(
    conn: &mut AnyConnection,
    shop_id: i64,
    email: &str,
) -> Result<Option<(i64, String)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, password_hash FROM customers WHERE shop_id = $1 AND email = $2")
            .bind(shop_id)
            .bind(email.to_owned())
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn set_password_hash(
    tx: &mut Tx,
    shop_id: i64,
    id: i64,
    hash: &str,
) -> Result<bool, StoreError> {
    let n = sqlx::query("UPDATE customers SET password_hash = $1 WHERE shop_id = $2 AND id = $3")
        .bind(hash.to_owned())
        .bind(shop_id)
        .bind(id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    Ok(n == 1)
}

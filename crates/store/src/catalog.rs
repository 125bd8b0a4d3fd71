//! Products, variants and stock.

use jiff::Timestamp;
use juchu_domain::Yen;
use juchu_domain::catalog::{Product, ProductDraft, Variant, VariantDraft};
use juchu_domain::tax::TaxRate;
use juchu_domain::time::to_db;
use sqlx::AnyConnection;

use crate::db::corrupt;
use crate::sql::{Sql, contains_pattern};
use crate::{StoreError, Tx};

#[derive(sqlx::FromRow)]
struct VRow {
    id: i64,
    product_id: i64,
    product_name: String,
    code: String,
    class1: String,
    class2: String,
    price: i64,
    tax_rate: i64,
    stock: Option<i64>,
}

const VCOLS: &str = "v.id, v.product_id, p.name AS product_name, v.code, v.class1, v.class2, v.price, v.tax_rate, v.stock";

impl TryFrom<VRow> for Variant {
    type Error = StoreError;
    fn try_from(r: VRow) -> Result<Variant, StoreError> {
        Ok(Variant {
            id: r.id,
            product_id: r.product_id,
            product_name: r.product_name,
            draft: VariantDraft {
                code: r.code,
                class1: r.class1,
                class2: r.class2,
                price: Yen::new(r.price).map_err(|_| corrupt(format!("price {}", r.price)))?,
                tax_rate: TaxRate::from_percent(r.tax_rate)
                    .ok_or_else(|| corrupt(format!("tax rate {}", r.tax_rate)))?,
                stock: r.stock,
            },
        })
    }
}

pub async fn create(
    tx: &mut Tx,
    shop_id: i64,
    d: &ProductDraft,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO products (shop_id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id",
    )
    .bind(shop_id)
    .bind(d.name.clone())
    .bind(to_db(now))
    .fetch_one(tx.conn())
    .await?;
    for v in &d.variants {
        sqlx::query(
            "INSERT INTO product_variants (shop_id, product_id, code, class1, class2, price, tax_rate, stock) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(shop_id)
        .bind(id)
        .bind(v.code.clone())
        .bind(v.class1.clone())
        .bind(v.class2.clone())
        .bind(v.price.get())
        .bind(v.tax_rate.percent())
        .bind(v.stock)
        .execute(tx.conn())
        .await?;
    }
    Ok(id)
}

async fn variants_where(conn: &mut AnyConnection, q: Sql) -> Result<Vec<Variant>, StoreError> {
    let (text, args) = q.parts();
    let rows: Vec<VRow> = sqlx::query_as_with(&text, args).fetch_all(conn).await?;
    rows.into_iter().map(Variant::try_from).collect()
}

fn group(variants: Vec<Variant>) -> Vec<Product> {
    let mut out: Vec<Product> = Vec::new();
    for v in variants {
        match out.last_mut() {
            Some(p) if p.id == v.product_id => p.variants.push(v),
            _ => out.push(Product {
                id: v.product_id,
                name: v.product_name.clone(),
                variants: vec![v],
            }),
        }
    }
    out
}

pub async fn get(
    conn: &mut AnyConnection,
    shop_id: i64,
    id: i64,
) -> Result<Option<Product>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {VCOLS} FROM product_variants v JOIN products p ON p.id = v.product_id WHERE v.shop_id = "
    ));
    q.bind(shop_id)
        .push(" AND p.id = ")
        .bind(id)
        .push(" ORDER BY v.id");
    Ok(group(variants_where(conn, q).await?).pop())
}

/// Products whose name or a variant code contains `q`; newest first.
pub async fn list(
    conn: &mut AnyConnection,
    shop_id: i64,
    q: &str,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<Product>), StoreError> {
    let filter = |s: &mut Sql| {
        s.push(" WHERE p.shop_id = ").bind(shop_id);
        if !q.trim().is_empty() {
            let pat = contains_pattern(q.trim());
            s.push(" AND (p.name LIKE ")
                .bind(pat.clone())
                .push(" ESCAPE '\\'");
            s.push(" OR EXISTS (SELECT 1 FROM product_variants x WHERE x.product_id = p.id AND x.code LIKE ")
                .bind(pat)
                .push(" ESCAPE '\\'))");
        }
    };
    let mut c = Sql::new("SELECT COUNT(*) FROM products p");
    filter(&mut c);
    let (text, args) = c.parts();
    let total: i64 = sqlx::query_scalar_with(&text, args)
        .fetch_one(&mut *conn)
        .await?;
    let mut ids = Sql::new("SELECT p.id FROM products p");
    filter(&mut ids);
    ids.push(" ORDER BY p.id DESC LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    let (text, args) = ids.parts();
    let ids: Vec<i64> = sqlx::query_scalar_with(&text, args)
        .fetch_all(&mut *conn)
        .await?;
    if ids.is_empty() {
        return Ok((total, vec![]));
    }
    let mut q = Sql::new(&format!(
        "SELECT {VCOLS} FROM product_variants v JOIN products p ON p.id = v.product_id WHERE p.id IN "
    ));
    q.bind_list(ids.iter().copied())
        .push(" ORDER BY p.id DESC, v.id");
    Ok((total, group(variants_where(conn, q).await?)))
}

pub async fn variant_by_code(
    conn: &mut AnyConnection,
    shop_id: i64,
    code: &str,
) -> Result<Option<Variant>, StoreError> {
    let mut q = Sql::new(&format!(
        "SELECT {VCOLS} FROM product_variants v JOIN products p ON p.id = v.product_id WHERE v.shop_id = "
    ));
    q.bind(shop_id).push(" AND v.code = ").bind(code.to_owned());
    Ok(variants_where(conn, q).await?.pop())
}

/// Change a variant's price, tax rate or stock. Returns false if there is no such code.
pub async fn update_variant(
    tx: &mut Tx,
    shop_id: i64,
    code: &str,
    price: Option<Yen>,
    tax_rate: Option<TaxRate>,
    stock: Option<Option<i64>>,
) -> Result<bool, StoreError> {
    let mut q = Sql::new("UPDATE product_variants SET code = code");
    if let Some(p) = price {
        q.push(", price = ").bind(p.get());
    }
    if let Some(r) = tax_rate {
        q.push(", tax_rate = ").bind(r.percent());
    }
    if let Some(s) = stock {
        q.push(", stock = ").bind(s);
    }
    q.push(" WHERE shop_id = ")
        .bind(shop_id)
        .push(" AND code = ")
        .bind(code.to_owned());
    let (text, args) = q.parts();
    Ok(sqlx::query_with(&text, args)
        .execute(tx.conn())
        .await?
        .rows_affected()
        == 1)
}

/// Put `qty` back on the shelf. Unlimited-stock variants stay unlimited. Returns false if
/// the code no longer exists.
pub async fn add_stock(
    tx: &mut Tx,
    shop_id: i64,
    code: &str,
    qty: i64,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE product_variants SET stock = CASE WHEN stock IS NULL THEN NULL ELSE stock + $1 END \
         WHERE shop_id = $2 AND code = $3",
    )
    .bind(qty)
    .bind(shop_id)
    .bind(code.to_owned())
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Stock counted down.
    Taken,
    /// Unlimited stock, or a free-form line with no such variant: nothing to count.
    NotCounted,
    /// Not enough on the shelf: nothing taken.
    Insufficient { available: i64 },
}

/// Take `qty` off the shelf if that much is there.
pub async fn take_stock(
    tx: &mut Tx,
    shop_id: i64,
    code: &str,
    qty: i64,
) -> Result<Take, StoreError> {
    let n = sqlx::query(
        "UPDATE product_variants SET stock = stock - $1 WHERE shop_id = $2 AND code = $3 AND stock IS NOT NULL AND stock >= $1",
    )
    .bind(qty)
    .bind(shop_id)
    .bind(code.to_owned())
    .execute(tx.conn())
    .await?
    .rows_affected();
    if n == 1 {
        return Ok(Take::Taken);
    }
    let stock: Option<Option<i64>> =
        sqlx::query_scalar("SELECT stock FROM product_variants WHERE shop_id = $1 AND code = $2")
            .bind(shop_id)
            .bind(code.to_owned())
            .fetch_optional(tx.conn())
            .await?;
    Ok(match stock {
        Some(Some(available)) => Take::Insufficient { available },
        _ => Take::NotCounted,
    })
}

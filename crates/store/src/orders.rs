//! Orders, their items and change history.

use jiff::Timestamp;
use jiff::civil::Date;
use juchu_domain::Yen;
use juchu_domain::customer::{Person, Sex, search_key};
use juchu_domain::history::{HistoryEntry, Outcome};
use juchu_domain::order::{Device, Item, Order, OrderDraft, OrderSummary, Totals};
use juchu_domain::payment_method::PaymentMethod;
use juchu_domain::search::{OrderSearch, PaymentFilter, SortOrder};
use juchu_domain::status::{OrderList, OrderStatus};
use juchu_domain::tax::{RateAmount, TaxBreakdown, TaxRate};
use juchu_domain::time::{from_db, jst_day_end, jst_day_start, to_db};
use sqlx::AnyConnection;

use crate::db::corrupt;
use crate::sql::{Sql, contains_pattern};
use crate::{StoreError, Tx};

const ORDER_COLS: &str = "id, number, version, status, list, deleted_at, ordered_at, updated_at, customer_id, \
    family_name, given_name, family_kana, given_kana, company, email, tel, postal_code, prefecture, address1, address2, \
    birth_date, sex, delivery_family_name, delivery_given_name, delivery_family_kana, delivery_given_kana, \
    delivery_company, delivery_postal_code, delivery_prefecture, delivery_address1, delivery_address2, delivery_tel, \
    delivery_date, delivery_time, subtotal, discount, shipping_fee, fee, total, points_used, payment_total, \
    points_earned, points_granted, tax10_amount, tax10, tax8_amount, tax8, payment_method, payment_checked, \
    payment_checked_at, payment_checked_by, remarks, memo, shipped_on, tracking_number, gateway_ref, device, ip";

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: i64,
    number: i64,
    version: i64,
    status: String,
    list: String,
    deleted_at: Option<String>,
    ordered_at: String,
    updated_at: String,
    customer_id: Option<i64>,
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
    delivery_family_name: String,
    delivery_given_name: String,
    delivery_family_kana: String,
    delivery_given_kana: String,
    delivery_company: String,
    delivery_postal_code: String,
    delivery_prefecture: String,
    delivery_address1: String,
    delivery_address2: String,
    delivery_tel: String,
    delivery_date: Option<String>,
    delivery_time: String,
    subtotal: i64,
    discount: i64,
    shipping_fee: i64,
    fee: i64,
    total: i64,
    points_used: i64,
    payment_total: i64,
    points_earned: i64,
    points_granted: i64,
    tax10_amount: i64,
    tax10: i64,
    tax8_amount: i64,
    tax8: i64,
    payment_method: String,
    payment_checked: i64,
    payment_checked_at: Option<String>,
    payment_checked_by: String,
    remarks: String,
    memo: String,
    shipped_on: Option<String>,
    tracking_number: String,
    gateway_ref: String,
    device: String,
    ip: String,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    order_id: i64,
    product_code: String,
    product_name: String,
    class1: String,
    class2: String,
    unit_price: i64,
    quantity: i64,
    tax_rate: i64,
}

fn yen(v: i64) -> Result<Yen, StoreError> {
    Yen::new(v).map_err(|_| corrupt(format!("amount {v}")))
}

fn ts(s: &str) -> Result<Timestamp, StoreError> {
    from_db(s).map_err(|e| corrupt(format!("instant {s}: {e}")))
}

fn date(s: &str) -> Result<Date, StoreError> {
    s.parse().map_err(|e| corrupt(format!("date {s}: {e}")))
}

fn opt<T>(
    s: Option<String>,
    f: impl Fn(&str) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    s.as_deref().map(f).transpose()
}

fn status(s: &str) -> Result<OrderStatus, StoreError> {
    OrderStatus::from_code(s).ok_or_else(|| corrupt(format!("status {s}")))
}

fn list(s: &str) -> Result<OrderList, StoreError> {
    OrderList::from_code(s).ok_or_else(|| corrupt(format!("list {s}")))
}

impl TryFrom<ItemRow> for Item {
    type Error = StoreError;
    fn try_from(r: ItemRow) -> Result<Item, StoreError> {
        Ok(Item {
            product_code: r.product_code,
            product_name: r.product_name,
            class1: r.class1,
            class2: r.class2,
            unit_price: yen(r.unit_price)?,
            quantity: r.quantity,
            tax_rate: TaxRate::from_percent(r.tax_rate)
                .ok_or_else(|| corrupt(format!("tax rate {}", r.tax_rate)))?,
        })
    }
}

impl OrderRow {
    fn into_order(self, items: Vec<Item>) -> Result<Order, StoreError> {
        let ordered_at = ts(&self.ordered_at)?;
        Ok(Order {
            id: self.id,
            number: self.number,
            version: self.version,
            list: list(&self.list)?,
            deleted_at: opt(self.deleted_at, ts)?,
            ordered_at,
            updated_at: ts(&self.updated_at)?,
            points_granted: self.points_granted != 0,
            payment_checked: self.payment_checked != 0,
            payment_checked_at: opt(self.payment_checked_at, ts)?,
            payment_checked_by: self.payment_checked_by,
            draft: OrderDraft {
                customer_id: self.customer_id,
                customer: Person {
                    family_name: self.family_name,
                    given_name: self.given_name,
                    family_kana: self.family_kana,
                    given_kana: self.given_kana,
                    company: self.company,
                    postal_code: self.postal_code,
                    prefecture: self.prefecture,
                    address1: self.address1,
                    address2: self.address2,
                    tel: self.tel,
                },
                email: self.email,
                birth_date: opt(self.birth_date, date)?,
                sex: opt(self.sex, |s| {
                    Sex::from_code(s).ok_or_else(|| corrupt(format!("sex {s}")))
                })?,
                delivery: Person {
                    family_name: self.delivery_family_name,
                    given_name: self.delivery_given_name,
                    family_kana: self.delivery_family_kana,
                    given_kana: self.delivery_given_kana,
                    company: self.delivery_company,
                    postal_code: self.delivery_postal_code,
                    prefecture: self.delivery_prefecture,
                    address1: self.delivery_address1,
                    address2: self.delivery_address2,
                    tel: self.delivery_tel,
                },
                delivery_date: opt(self.delivery_date, date)?,
                delivery_time: self.delivery_time,
                items,
                totals: Totals {
                    subtotal: yen(self.subtotal)?,
                    discount: yen(self.discount)?,
                    shipping_fee: yen(self.shipping_fee)?,
                    fee: yen(self.fee)?,
                    total: yen(self.total)?,
                    points_used: self.points_used,
                    payment_total: yen(self.payment_total)?,
                    tax: TaxBreakdown {
                        by_rate: vec![
                            RateAmount {
                                rate: TaxRate::Standard10,
                                amount: yen(self.tax10_amount)?,
                                tax: yen(self.tax10)?,
                            },
                            RateAmount {
                                rate: TaxRate::Reduced8,
                                amount: yen(self.tax8_amount)?,
                                tax: yen(self.tax8)?,
                            },
                        ],
                    },
                },
                points_earned: self.points_earned,
                payment_method: PaymentMethod::from_code(&self.payment_method)
                    .ok_or_else(|| corrupt(format!("payment method {}", self.payment_method)))?,
                status: status(&self.status)?,
                remarks: self.remarks,
                memo: self.memo,
                ordered_at: Some(ordered_at),
                shipped_on: opt(self.shipped_on, date)?,
                tracking_number: self.tracking_number,
                gateway_ref: self.gateway_ref,
                device: Device::from_code(&self.device)
                    .ok_or_else(|| corrupt(format!("device {}", self.device)))?,
                ip: self.ip,
            },
        })
    }
}

fn rate_amount(t: &Totals, r: TaxRate) -> (i64, i64) {
    t.tax
        .by_rate
        .iter()
        .find(|x| x.rate == r)
        .map(|x| (x.amount.get(), x.tax.get()))
        .unwrap_or((0, 0))
}

/// The columns a draft writes, in `DRAFT_COLS` order.
const DRAFT_COLS: [&str; 49] = [
    "status",
    "customer_id",
    "family_name",
    "given_name",
    "family_kana",
    "given_kana",
    "name_key",
    "kana_key",
    "company",
    "email",
    "tel",
    "postal_code",
    "prefecture",
    "address1",
    "address2",
    "birth_date",
    "sex",
    "delivery_family_name",
    "delivery_given_name",
    "delivery_family_kana",
    "delivery_given_kana",
    "delivery_company",
    "delivery_postal_code",
    "delivery_prefecture",
    "delivery_address1",
    "delivery_address2",
    "delivery_tel",
    "delivery_date",
    "delivery_time",
    "subtotal",
    "discount",
    "shipping_fee",
    "fee",
    "total",
    "points_used",
    "payment_total",
    "points_earned",
    "tax10_amount",
    "tax10",
    "tax8_amount",
    "tax8",
    "payment_method",
    "remarks",
    "memo",
    "shipped_on",
    "tracking_number",
    "gateway_ref",
    "device",
    "ip",
];

/// Bind the draft's values, comma-separated, in `DRAFT_COLS` order.
fn bind_draft(q: &mut Sql, d: &OrderDraft) {
    let c = &d.customer;
    let v = &d.delivery;
    let t = &d.totals;
    let (t10a, t10) = rate_amount(t, TaxRate::Standard10);
    let (t8a, t8) = rate_amount(t, TaxRate::Reduced8);
    macro_rules! b {
        ($first:expr $(, $v:expr)* $(,)?) => {{ q.bind($first); $( q.push(", "); q.bind($v); )* }};
    }
    b!(
        d.status.code(),
        d.customer_id,
        c.family_name.clone(),
        c.given_name.clone(),
        c.family_kana.clone(),
        c.given_kana.clone(),
        search_key(&c.family_name, &c.given_name),
        search_key(&c.family_kana, &c.given_kana),
        c.company.clone(),
        d.email.clone(),
        c.tel.clone(),
        c.postal_code.clone(),
        c.prefecture.clone(),
        c.address1.clone(),
        c.address2.clone(),
        d.birth_date.map(|x| x.to_string()),
        d.sex.map(|x| x.code()),
        v.family_name.clone(),
        v.given_name.clone(),
        v.family_kana.clone(),
        v.given_kana.clone(),
        v.company.clone(),
        v.postal_code.clone(),
        v.prefecture.clone(),
        v.address1.clone(),
        v.address2.clone(),
        v.tel.clone(),
        d.delivery_date.map(|x| x.to_string()),
        d.delivery_time.clone(),
        t.subtotal.get(),
        t.discount.get(),
        t.shipping_fee.get(),
        t.fee.get(),
        t.total.get(),
        t.points_used,
        t.payment_total.get(),
        d.points_earned,
        t10a,
        t10,
        t8a,
        t8,
        d.payment_method.code(),
        d.remarks.clone(),
        d.memo.clone(),
        d.shipped_on.map(|x| x.to_string()),
        d.tracking_number.clone(),
        d.gateway_ref.clone(),
        d.device.code(),
        d.ip.clone(),
    );
}

async fn insert_items(tx: &mut Tx, order_id: i64, items: &[Item]) -> Result<(), StoreError> {
    for (pos, it) in items.iter().enumerate() {
        sqlx::query(
            "INSERT INTO order_items (order_id, position, product_code, product_name, class1, class2, unit_price, quantity, tax_rate) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(order_id)
        .bind(pos as i64)
        .bind(it.product_code.clone())
        .bind(it.product_name.clone())
        .bind(it.class1.clone())
        .bind(it.class2.clone())
        .bind(it.unit_price.get())
        .bind(it.quantity)
        .bind(it.tax_rate.percent())
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Insert a new order with number `number`; returns its id.
pub async fn insert(
    tx: &mut Tx,
    shop_id: i64,
    number: i64,
    draft: &OrderDraft,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let mut q =
        Sql::new("INSERT INTO orders (shop_id, number, version, list, ordered_at, updated_at, ");
    q.push(&DRAFT_COLS.join(", "));
    q.push(") VALUES (");
    q.bind(shop_id)
        .push(", ")
        .bind(number)
        .push(", 1, 'open', ");
    q.bind(to_db(draft.ordered_at.unwrap_or(now)));
    q.push(", ").bind(to_db(now)).push(", ");
    bind_draft(&mut q, draft);
    q.push(") RETURNING id");
    let (text, args) = q.parts();
    let id: i64 = sqlx::query_scalar_with(&text, args)
        .fetch_one(tx.conn())
        .await?;
    insert_items(tx, id, &draft.items).await?;
    Ok(id)
}

/// Replace an order's contents if it is still at `version`. Returns false when someone
/// else changed it first (nothing is written then).
pub async fn update_draft(
    tx: &mut Tx,
    order_id: i64,
    version: i64,
    draft: &OrderDraft,
    now: Timestamp,
) -> Result<bool, StoreError> {
    // Row-value assignment, `SET (a, b) = ($1, $2)`, is valid on both backends.
    let mut q = Sql::new("UPDATE orders SET version = version + 1, updated_at = ");
    q.bind(to_db(now)).push(", (");
    q.push(&DRAFT_COLS.join(", ")).push(") = (");
    bind_draft(&mut q, draft);
    q.push(")");
    q.push(" WHERE id = ")
        .bind(order_id)
        .push(" AND version = ")
        .bind(version);
    let (text, args) = q.parts();
    let n = sqlx::query_with(&text, args)
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM order_items WHERE order_id = $1")
        .bind(order_id)
        .execute(tx.conn())
        .await?;
    insert_items(tx, order_id, &draft.items).await?;
    Ok(true)
}

/// What a status change writes besides the status.
pub struct StatusWrite {
    pub status: OrderStatus,
    pub shipped_on: Option<Date>,
    pub points_granted: bool,
}

/// Set status (and what comes with it) if the order is still at `version`.
pub async fn set_status(
    tx: &mut Tx,
    order_id: i64,
    version: i64,
    w: &StatusWrite,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE orders SET status = $1, shipped_on = $2, points_granted = $3, version = version + 1, updated_at = $4 \
         WHERE id = $5 AND version = $6",
    )
    .bind(w.status.code())
    .bind(w.shipped_on.map(|d| d.to_string()))
    .bind(w.points_granted as i64)
    .bind(to_db(now))
    .bind(order_id)
    .bind(version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Record that a new order's earned points were credited at creation.
pub async fn mark_points_granted(tx: &mut Tx, order_id: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE orders SET points_granted = 1 WHERE id = $1")
        .bind(order_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn set_list(
    tx: &mut Tx,
    order_id: i64,
    version: i64,
    to: OrderList,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE orders SET list = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4",
    )
    .bind(to.code())
    .bind(to_db(now))
    .bind(order_id)
    .bind(version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// 入金チェック on or off, with who and when (cleared when off).
pub async fn set_payment_checked(
    tx: &mut Tx,
    order_id: i64,
    version: i64,
    checked: bool,
    by: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let (at, by) = if checked {
        (Some(to_db(now)), by.to_owned())
    } else {
        (None, String::new())
    };
    let n = sqlx::query(
        "UPDATE orders SET payment_checked = $1, payment_checked_at = $2, payment_checked_by = $3, \
         version = version + 1, updated_at = $4 WHERE id = $5 AND version = $6",
    )
    .bind(checked as i64)
    .bind(at)
    .bind(by)
    .bind(to_db(now))
    .bind(order_id)
    .bind(version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn mark_deleted(
    tx: &mut Tx,
    order_id: i64,
    version: i64,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE orders SET deleted_at = $1, version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3 AND deleted_at IS NULL",
    )
    .bind(to_db(now))
    .bind(order_id)
    .bind(version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

async fn items_of(conn: &mut AnyConnection, ids: &[i64]) -> Result<Vec<(i64, Item)>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new(
        "SELECT order_id, product_code, product_name, class1, class2, unit_price, quantity, tax_rate FROM order_items WHERE order_id IN ",
    );
    q.bind_list(ids.iter().copied());
    q.push(" ORDER BY order_id, position");
    let (text, args) = q.parts();
    let rows: Vec<ItemRow> = sqlx::query_as_with(&text, args).fetch_all(conn).await?;
    rows.into_iter()
        .map(|r| Ok((r.order_id, Item::try_from(r)?)))
        .collect()
}

/// An order by number, deleted ones included (callers decide what a deleted order allows).
pub async fn get(
    conn: &mut AnyConnection,
    shop_id: i64,
    number: i64,
) -> Result<Option<Order>, StoreError> {
    let row: Option<OrderRow> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLS} FROM orders WHERE shop_id = $1 AND number = $2"
    ))
    .bind(shop_id)
    .bind(number)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => Ok(None),
        Some(r) => {
            let items = items_of(conn, &[r.id])
                .await?
                .into_iter()
                .map(|(_, i)| i)
                .collect();
            Ok(Some(r.into_order(items)?))
        }
    }
}

/// The same as `get`, locking the row for the rest of the transaction.
pub async fn get_for_update(
    tx: &mut Tx,
    shop_id: i64,
    number: i64,
) -> Result<Option<Order>, StoreError> {
    let lock = tx.lock_clause();
    let row: Option<OrderRow> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLS} FROM orders WHERE shop_id = $1 AND number = $2{lock}"
    ))
    .bind(shop_id)
    .bind(number)
    .fetch_optional(tx.conn())
    .await?;
    match row {
        None => Ok(None),
        Some(r) => {
            let items = items_of(tx.conn(), &[r.id])
                .await?
                .into_iter()
                .map(|(_, i)| i)
                .collect();
            Ok(Some(r.into_order(items)?))
        }
    }
}

/// Full orders for ids, in the order of `ids` (CSV export reads in chunks).
pub async fn get_many(conn: &mut AnyConnection, ids: &[i64]) -> Result<Vec<Order>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new(&format!("SELECT {ORDER_COLS} FROM orders WHERE id IN "));
    q.bind_list(ids.iter().copied());
    let (text, args) = q.parts();
    let rows: Vec<OrderRow> = sqlx::query_as_with(&text, args)
        .fetch_all(&mut *conn)
        .await?;
    with_items(conn, ids, rows).await
}

/// The shop's orders among `ids`, locked in ascending id order — the order every
/// transaction that locks several orders takes them in, so two never wait on each other.
/// Ascending by id; deleted orders too (the caller decides).
pub async fn get_many_for_update(
    tx: &mut Tx,
    shop_id: i64,
    ids: &[i64],
) -> Result<Vec<Order>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let lock = tx.lock_clause();
    let mut q = Sql::new(&format!("SELECT {ORDER_COLS} FROM orders WHERE shop_id = "));
    q.bind(shop_id).push(" AND id IN ");
    q.bind_list(sorted.iter().copied());
    q.push(" ORDER BY id").push(lock);
    let (text, args) = q.parts();
    let rows: Vec<OrderRow> = sqlx::query_as_with(&text, args)
        .fetch_all(tx.conn())
        .await?;
    with_items(tx.conn(), &sorted, rows).await
}

/// Orders from their rows and items, in the order of `ids`.
async fn with_items(
    conn: &mut AnyConnection,
    ids: &[i64],
    rows: Vec<OrderRow>,
) -> Result<Vec<Order>, StoreError> {
    let mut items: std::collections::HashMap<i64, Vec<Item>> = std::collections::HashMap::new();
    for (oid, it) in items_of(conn, ids).await? {
        items.entry(oid).or_default().push(it);
    }
    let mut by_id: std::collections::HashMap<i64, Order> = std::collections::HashMap::new();
    for r in rows {
        let id = r.id;
        let its = items.remove(&id).unwrap_or_default();
        by_id.insert(id, r.into_order(its)?);
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// (id, number) of the shop's live orders whose number is among `numbers`.
pub async fn ids_of_numbers(
    conn: &mut AnyConnection,
    shop_id: i64,
    numbers: &[i64],
) -> Result<Vec<(i64, i64)>, StoreError> {
    ids_and_numbers(conn, shop_id, "number", numbers).await
}

/// (id, number) of the shop's live orders whose id is among `ids`.
pub async fn numbers_of_ids(
    conn: &mut AnyConnection,
    shop_id: i64,
    ids: &[i64],
) -> Result<Vec<(i64, i64)>, StoreError> {
    ids_and_numbers(conn, shop_id, "id", ids).await
}

async fn ids_and_numbers(
    conn: &mut AnyConnection,
    shop_id: i64,
    col: &str,
    keys: &[i64],
) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(1000) {
        let mut q = Sql::new("SELECT id, number FROM orders WHERE shop_id = ");
        q.bind(shop_id)
            .push(" AND deleted_at IS NULL AND ")
            .push(col)
            .push(" IN ")
            .bind_list(chunk.iter().copied());
        let (text, args) = q.parts();
        let rows: Vec<(i64, i64)> = sqlx::query_as_with(&text, args)
            .fetch_all(&mut *conn)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    number: i64,
    ordered_at: String,
    updated_at: String,
    customer_id: Option<i64>,
    family_name: String,
    given_name: String,
    family_kana: String,
    given_kana: String,
    payment_method: String,
    gateway_ref: String,
    payment_total: i64,
    shipped_on: Option<String>,
    status: String,
    list: String,
    payment_checked: i64,
    version: i64,
}

/// `now` decides which authorizations have lapsed (決済状況 期限切れ, オーソリ有効期限).
fn where_clause(q: &mut Sql, shop_id: i64, s: &OrderSearch, now: Timestamp) {
    q.push(" WHERE shop_id = ").bind(shop_id);
    q.push(" AND deleted_at IS NULL");
    if let Some(l) = s.list {
        q.push(" AND list = ").bind(l.code());
    }
    if let Some(n) = s.number_from {
        q.push(" AND number >= ").bind(n);
    }
    if let Some(c) = s.customer_id {
        q.push(" AND customer_id = ").bind(c);
    }
    if let Some(n) = s.number_to {
        q.push(" AND number <= ").bind(n);
    }
    if s.statuses.is_empty() {
        // Orders still at payment belong to checkout; they show only when asked for.
        q.push(" AND status <> ")
            .bind(OrderStatus::PendingPayment.code());
    } else {
        q.push(" AND status IN ")
            .bind_list(s.statuses.iter().map(|x| x.code()));
    }
    if let Some(v) = &s.name {
        q.push(" AND name_key LIKE ")
            .bind(contains_pattern(v))
            .push(" ESCAPE '\\'");
    }
    if let Some(v) = &s.kana {
        q.push(" AND kana_key LIKE ")
            .bind(contains_pattern(v))
            .push(" ESCAPE '\\'");
    }
    if let Some(v) = &s.email {
        q.push(" AND lower(email) LIKE ")
            .bind(contains_pattern(v))
            .push(" ESCAPE '\\'");
    }
    if let Some(v) = &s.tel {
        q.push(" AND tel LIKE ")
            .bind(contains_pattern(v))
            .push(" ESCAPE '\\'");
    }
    if let Some(d) = s.birth_from {
        q.push(" AND birth_date >= ").bind(d.to_string());
    }
    if let Some(d) = s.birth_to {
        q.push(" AND birth_date <= ").bind(d.to_string());
    }
    if !s.sexes.is_empty() {
        q.push(" AND sex IN ")
            .bind_list(s.sexes.iter().map(|x| x.code()));
    }
    if s.has_remarks {
        q.push(" AND remarks <> ''");
    }
    if !s.payment_methods.is_empty() {
        q.push(" AND payment_method IN ")
            .bind_list(s.payment_methods.iter().map(|x| x.code()));
    }
    if let Some(d) = s.ordered_from {
        q.push(" AND ordered_at >= ").bind(to_db(jst_day_start(d)));
    }
    if let Some(d) = s.ordered_to {
        q.push(" AND ordered_at < ").bind(to_db(jst_day_end(d)));
    }
    if let Some(d) = s.updated_from {
        q.push(" AND updated_at >= ").bind(to_db(jst_day_start(d)));
    }
    if let Some(d) = s.updated_to {
        q.push(" AND updated_at < ").bind(to_db(jst_day_end(d)));
    }
    if let Some(d) = s.shipped_from {
        q.push(" AND shipped_on >= ").bind(d.to_string());
    }
    if let Some(d) = s.shipped_to {
        q.push(" AND shipped_on <= ").bind(d.to_string());
    }
    if let Some(v) = s.amount_min {
        q.push(" AND payment_total >= ").bind(v);
    }
    if let Some(v) = s.amount_max {
        q.push(" AND payment_total <= ").bind(v);
    }
    if let Some(v) = &s.gateway_ref {
        q.push(" AND gateway_ref = ").bind(v.clone());
    }
    payment_clause(q, s, now);
}

/// 決済状況 and オーソリ有効期限が N 日以内: conditions on the order's payment (and, for 確認中,
/// its open operation), each asked only when the search names it.
fn payment_clause(q: &mut Sql, s: &OrderSearch, now: Timestamp) {
    let now_db = to_db(now);
    let states: Vec<PaymentFilter> = s
        .payment_states
        .iter()
        .copied()
        .filter(|f| *f != PaymentFilter::InDoubt)
        .collect();
    let in_doubt = s.payment_states.contains(&PaymentFilter::InDoubt);
    if !states.is_empty() || in_doubt {
        q.push(" AND (");
        let mut first = true;
        if !states.is_empty() {
            q.push("EXISTS (SELECT 1 FROM payments p WHERE p.order_id = orders.id AND (");
            for (i, f) in states.iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                match f {
                    PaymentFilter::Pending => {
                        q.push("(p.state = 'pending' AND p.kind <> 'paid_later')");
                    }
                    PaymentFilter::AwaitingPayment => {
                        q.push("(p.state = 'pending' AND p.kind = 'paid_later')");
                    }
                    PaymentFilter::Authorized => {
                        q.push("(p.state = 'authorized' AND (p.auth_expires_at IS NULL OR p.auth_expires_at > ")
                            .bind(now_db.clone())
                            .push("))");
                    }
                    PaymentFilter::Expired => {
                        q.push("(p.state = 'expired' OR (p.state = 'authorized' AND p.auth_expires_at <= ")
                            .bind(now_db.clone())
                            .push("))");
                    }
                    other => {
                        q.push("p.state = ").bind(other.code());
                    }
                }
            }
            q.push("))");
            first = false;
        }
        if in_doubt {
            if !first {
                q.push(" OR ");
            }
            q.push(
                "EXISTS (SELECT 1 FROM payment_operations op WHERE op.order_id = orders.id \
                 AND op.status IN ('pending', 'unknown'))",
            );
        }
        q.push(")");
    }
    if s.amount_differs {
        q.push(
            " AND EXISTS (SELECT 1 FROM payments p WHERE p.order_id = orders.id \
             AND p.state IN ('authorized', 'captured') AND p.amount <> orders.payment_total)",
        );
    }
    if let Some(days) = s.auth_expires_within {
        let until = now
            .checked_add(jiff::SignedDuration::from_hours(24 * days))
            .unwrap_or(now);
        q.push(
            " AND EXISTS (SELECT 1 FROM payments p WHERE p.order_id = orders.id \
             AND p.state = 'authorized' AND p.auth_expires_at > ",
        )
        .bind(now_db)
        .push(" AND p.auth_expires_at <= ")
        .bind(to_db(until))
        .push(")");
    }
}

fn order_by(s: SortOrder) -> &'static str {
    match s {
        SortOrder::UpdatedDesc => " ORDER BY updated_at DESC, id DESC",
        SortOrder::UpdatedAsc => " ORDER BY updated_at ASC, id ASC",
        SortOrder::OrderedDesc => " ORDER BY ordered_at DESC, id DESC",
        SortOrder::OrderedAsc => " ORDER BY ordered_at ASC, id ASC",
        SortOrder::NumberDesc => " ORDER BY number DESC",
        SortOrder::NumberAsc => " ORDER BY number ASC",
        SortOrder::AmountDesc => " ORDER BY payment_total DESC, id DESC",
        SortOrder::AmountAsc => " ORDER BY payment_total ASC, id ASC",
    }
}

/// One page of results and the number of matches.
pub async fn search(
    conn: &mut AnyConnection,
    shop_id: i64,
    s: &OrderSearch,
    now: Timestamp,
) -> Result<(i64, Vec<OrderSummary>), StoreError> {
    let mut c = Sql::new("SELECT COUNT(*) FROM orders");
    where_clause(&mut c, shop_id, s, now);
    let (text, args) = c.parts();
    let total: i64 = sqlx::query_scalar_with(&text, args)
        .fetch_one(&mut *conn)
        .await?;

    let mut q = Sql::new(
        "SELECT id, number, ordered_at, updated_at, customer_id, family_name, given_name, family_kana, given_kana, \
         payment_method, gateway_ref, payment_total, shipped_on, status, list, payment_checked, version FROM orders",
    );
    where_clause(&mut q, shop_id, s, now);
    q.push(order_by(s.sort));
    q.push(" LIMIT ").bind(s.per_page);
    q.push(" OFFSET ")
        .bind(juchu_domain::search::page_offset(s.page, s.per_page));
    let (text, args) = q.parts();
    let rows: Vec<SummaryRow> = sqlx::query_as_with(&text, args).fetch_all(conn).await?;
    let list_ = rows
        .into_iter()
        .map(|r| {
            Ok(OrderSummary {
                id: r.id,
                number: r.number,
                ordered_at: ts(&r.ordered_at)?,
                updated_at: ts(&r.updated_at)?,
                customer_id: r.customer_id,
                customer_name: format!("{} {}", r.family_name, r.given_name)
                    .trim()
                    .to_owned(),
                customer_kana: format!("{} {}", r.family_kana, r.given_kana)
                    .trim()
                    .to_owned(),
                payment_method: PaymentMethod::from_code(&r.payment_method)
                    .ok_or_else(|| corrupt(format!("payment method {}", r.payment_method)))?,
                gateway_ref: r.gateway_ref,
                payment_total: yen(r.payment_total)?,
                shipped_on: opt(r.shipped_on, date)?,
                status: status(&r.status)?,
                list: list(&r.list)?,
                payment_checked: r.payment_checked != 0,
                version: r.version,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((total, list_))
}

/// Ids of every match, in the search's order (for exports, which read them in chunks).
pub async fn search_ids(
    conn: &mut AnyConnection,
    shop_id: i64,
    s: &OrderSearch,
    now: Timestamp,
) -> Result<Vec<i64>, StoreError> {
    let mut q = Sql::new("SELECT id FROM orders");
    where_clause(&mut q, shop_id, s, now);
    q.push(order_by(s.sort));
    let (text, args) = q.parts();
    Ok(sqlx::query_scalar_with(&text, args).fetch_all(conn).await?)
}

pub async fn add_history(
    tx: &mut Tx,
    shop_id: i64,
    order_id: i64,
    e: &HistoryEntry,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO order_history (shop_id, order_id, at, actor, action, detail, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(shop_id)
    .bind(order_id)
    .bind(to_db(e.at))
    .bind(e.actor.clone())
    .bind(e.action.clone())
    .bind(e.detail.clone())
    .bind(match e.outcome {
        Outcome::Ok => "ok",
        Outcome::Error => "error",
    })
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Newest first.
pub async fn history(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Vec<HistoryEntry>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Rec {
        at: String,
        actor: String,
        action: String,
        detail: String,
        outcome: String,
    }
    let rows: Vec<Rec> = sqlx::query_as(
        "SELECT at, actor, action, detail, outcome FROM order_history WHERE order_id = $1 ORDER BY id DESC",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(HistoryEntry {
                at: ts(&r.at)?,
                actor: r.actor,
                action: r.action,
                detail: r.detail,
                outcome: if r.outcome == "ok" {
                    Outcome::Ok
                } else {
                    Outcome::Error
                },
            })
        })
        .collect()
}

pub async fn count(conn: &mut AnyConnection, shop_id: i64) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE shop_id = $1")
            .bind(shop_id)
            .fetch_one(conn)
            .await?,
    )
}

/// 外部決済注文番号: the gateway's id of the order's payment, kept on the order for search.
/// Not an edit of the order, so its version stays.
pub async fn set_gateway_ref(
    tx: &mut Tx,
    order_id: i64,
    gateway_ref: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE orders SET gateway_ref = $1 WHERE id = $2")
        .bind(gateway_ref.to_owned())
        .bind(order_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// An order by its id (the recovery job knows only ids).
pub async fn number_of(conn: &mut AnyConnection, order_id: i64) -> Result<Option<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT number FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(conn)
            .await?,
    )
}

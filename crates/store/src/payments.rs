//! Payments, their earlier gateway ids, the operation journal, fees and the shop's payment
//! settings. The gateway's ids are kept as the connector's JSON (`ref_json`): the store does
//! not need to know their shape.

use jiff::Timestamp;
use juchu_domain::money::Yen;
use juchu_domain::payment::{
    CaptureMode, Kind, OpAction, OpStatus, PaymentState, Replaced, Settings,
};
use juchu_domain::payment_method::Gateway;
use juchu_domain::time::{from_db, to_db};
use sqlx::AnyConnection;

use crate::db::{corrupt, yen};
use crate::{StoreError, Tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: i64,
    pub shop_id: i64,
    pub order_id: i64,
    pub version: i64,
    pub gateway: Gateway,
    pub kind: Kind,
    pub mode: CaptureMode,
    pub held: Held,
    pub three_ds: bool,
    pub installments: String,
    pub masked_card: String,
    /// Paid later: what the buyer needs to pay (the connector's slip as JSON), and until when.
    pub slip: String,
    pub due_at: Option<Timestamp>,
    /// Something the operator must look at; empty when nothing.
    pub attention: String,
    /// The merchant account it was made under (GMO ShopID, Paygent merchant_id); empty for
    /// Paidy and for payments older than the column.
    pub merchant: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What the gateway holds now: written together after each operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub ref_json: String,
    pub display_id: String,
    /// The shop's reference of the payment held now (Paygent trading_id; the display id
    /// for the others): how a gateway's notification names it.
    pub trading_id: String,
    pub state: PaymentState,
    pub gateway_status: String,
    pub amount: Yen,
    pub captured: Yen,
    pub refunded: Yen,
    pub authorized_at: Option<Timestamp>,
    pub auth_expires_at: Option<Timestamp>,
}

const PAYMENT_COLS: &str = "id, shop_id, order_id, version, gateway, kind, mode, ref, display_id, trading_id, \
    state, gateway_status, amount, captured, refunded, authorized_at, auth_expires_at, three_ds, installments, \
    masked_card, slip, due_at, attention, merchant, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct PaymentRow {
    id: i64,
    shop_id: i64,
    order_id: i64,
    version: i64,
    gateway: String,
    kind: String,
    mode: String,
    #[sqlx(rename = "ref")]
    ref_json: String,
    display_id: String,
    trading_id: String,
    state: String,
    gateway_status: String,
    amount: i64,
    captured: i64,
    refunded: i64,
    authorized_at: Option<String>,
    auth_expires_at: Option<String>,
    three_ds: i64,
    installments: String,
    masked_card: String,
    slip: String,
    due_at: Option<String>,
    attention: String,
    merchant: String,
    created_at: String,
    updated_at: String,
}

pub(crate) fn gateway_from(s: &str) -> Result<Gateway, StoreError> {
    Gateway::from_code(s).ok_or_else(|| corrupt(format!("gateway {s}")))
}

fn ts(s: &str) -> Result<Timestamp, StoreError> {
    from_db(s).map_err(|e| corrupt(format!("instant {s}: {e}")))
}

fn opt_ts(s: Option<String>) -> Result<Option<Timestamp>, StoreError> {
    s.as_deref().map(ts).transpose()
}

impl TryFrom<PaymentRow> for Payment {
    type Error = StoreError;
    fn try_from(r: PaymentRow) -> Result<Payment, StoreError> {
        Ok(Payment {
            id: r.id,
            shop_id: r.shop_id,
            order_id: r.order_id,
            version: r.version,
            gateway: gateway_from(&r.gateway)?,
            kind: Kind::from_code(&r.kind).ok_or_else(|| corrupt(&r.kind))?,
            mode: CaptureMode::from_code(&r.mode).ok_or_else(|| corrupt(&r.mode))?,
            held: Held {
                ref_json: r.ref_json,
                display_id: r.display_id,
                trading_id: r.trading_id,
                state: PaymentState::from_code(&r.state).ok_or_else(|| corrupt(&r.state))?,
                gateway_status: r.gateway_status,
                amount: yen(r.amount, "payments.amount")?,
                captured: yen(r.captured, "payments.captured")?,
                refunded: yen(r.refunded, "payments.refunded")?,
                authorized_at: opt_ts(r.authorized_at)?,
                auth_expires_at: opt_ts(r.auth_expires_at)?,
            },
            three_ds: r.three_ds != 0,
            installments: r.installments,
            masked_card: r.masked_card,
            slip: r.slip,
            due_at: opt_ts(r.due_at)?,
            attention: r.attention,
            merchant: r.merchant,
            created_at: ts(&r.created_at)?,
            updated_at: ts(&r.updated_at)?,
        })
    }
}

pub struct NewPayment<'a> {
    pub shop_id: i64,
    pub order_id: i64,
    pub gateway: Gateway,
    pub kind: Kind,
    pub mode: CaptureMode,
    pub held: &'a Held,
    pub three_ds: bool,
    pub installments: &'a str,
    pub masked_card: &'a str,
    pub slip: &'a str,
    pub due_at: Option<Timestamp>,
    pub merchant: &'a str,
}

pub async fn insert(tx: &mut Tx, p: &NewPayment<'_>, now: Timestamp) -> Result<i64, StoreError> {
    let h = p.held;
    Ok(sqlx::query_scalar(
        "INSERT INTO payments (shop_id, order_id, version, gateway, kind, mode, ref, display_id, trading_id, state, \
         gateway_status, amount, captured, refunded, authorized_at, auth_expires_at, three_ds, installments, masked_card, \
         slip, due_at, merchant, created_at, updated_at) VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, $22) RETURNING id",
    )
    .bind(p.shop_id)
    .bind(p.order_id)
    .bind(p.gateway.code())
    .bind(p.kind.code())
    .bind(p.mode.code())
    .bind(h.ref_json.clone())
    .bind(h.display_id.clone())
    .bind(h.trading_id.clone())
    .bind(h.state.code())
    .bind(h.gateway_status.clone())
    .bind(h.amount.get())
    .bind(h.captured.get())
    .bind(h.refunded.get())
    .bind(h.authorized_at.map(to_db))
    .bind(h.auth_expires_at.map(to_db))
    .bind(i64::from(p.three_ds))
    .bind(p.installments.to_owned())
    .bind(p.masked_card.to_owned())
    .bind(p.slip.to_owned())
    .bind(p.due_at.map(to_db))
    .bind(p.merchant.to_owned())
    .bind(to_db(now))
    .fetch_one(tx.conn())
    .await?)
}

pub async fn by_order(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Option<Payment>, StoreError> {
    let r: Option<PaymentRow> = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLS} FROM payments WHERE order_id = $1"
    ))
    .bind(order_id)
    .fetch_optional(conn)
    .await?;
    r.map(Payment::try_from).transpose()
}

/// The payments of these orders (at most one each), in ascending order id.
pub async fn by_orders(
    conn: &mut AnyConnection,
    order_ids: &[i64],
) -> Result<Vec<Payment>, StoreError> {
    of_orders(conn, order_ids, "").await
}

/// The payments of these orders, locked in ascending order id (after their orders, as
/// every transaction that writes payments takes them).
pub async fn by_orders_for_update(
    tx: &mut Tx,
    order_ids: &[i64],
) -> Result<Vec<Payment>, StoreError> {
    let lock = tx.lock_clause();
    of_orders(tx.conn(), order_ids, lock).await
}

async fn of_orders(
    conn: &mut AnyConnection,
    order_ids: &[i64],
    lock: &str,
) -> Result<Vec<Payment>, StoreError> {
    if order_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sorted = order_ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut q = crate::sql::Sql::new(&format!(
        "SELECT {PAYMENT_COLS} FROM payments WHERE order_id IN "
    ));
    q.bind_list(sorted);
    q.push(" ORDER BY order_id").push(lock);
    let (text, args) = q.parts();
    let rows: Vec<PaymentRow> = sqlx::query_as_with(&text, args).fetch_all(conn).await?;
    rows.into_iter().map(Payment::try_from).collect()
}

/// The shop's operations journaled under any of these idempotency keys.
pub async fn operations_by_keys(
    conn: &mut AnyConnection,
    shop_id: i64,
    keys: &[String],
) -> Result<Vec<Operation>, StoreError> {
    if keys.is_empty() {
        return Ok(vec![]);
    }
    let mut q = crate::sql::Sql::new(&format!(
        "SELECT {OP_COLS} FROM payment_operations WHERE shop_id = "
    ));
    q.bind(shop_id).push(" AND idempotency_key IN ");
    q.bind_list(keys.iter().cloned());
    let (text, args) = q.parts();
    let rows: Vec<OpRow> = sqlx::query_as_with(&text, args).fetch_all(conn).await?;
    rows.into_iter().map(Operation::try_from).collect()
}

/// These operations (in no particular order).
pub async fn operations_in(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<Vec<Operation>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = crate::sql::Sql::new(&format!(
        "SELECT {OP_COLS} FROM payment_operations WHERE id IN "
    ));
    q.bind_list(ids.iter().copied());
    let (text, args) = q.parts();
    let rows: Vec<OpRow> = sqlx::query_as_with(&text, args).fetch_all(conn).await?;
    rows.into_iter().map(Operation::try_from).collect()
}

/// The earlier refs of these payments, oldest first per payment.
pub async fn previous_of(
    conn: &mut AnyConnection,
    payment_ids: &[i64],
) -> Result<Vec<PreviousRef>, StoreError> {
    if payment_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = crate::sql::Sql::new(
        "SELECT id, payment_id, ref, display_id, amount, reason, standing, replaced_at FROM payment_refs \
         WHERE payment_id IN ",
    );
    q.bind_list(payment_ids.iter().copied());
    q.push(" ORDER BY id");
    let (text, args) = q.parts();
    let rows: Vec<PreviousRow> = sqlx::query_as_with(&text, args).fetch_all(conn).await?;
    rows.into_iter().map(PreviousRef::try_from).collect()
}

/// Which of these orders have an operation whose answer is awaited (確認中).
pub async fn orders_in_doubt(
    conn: &mut AnyConnection,
    order_ids: &[i64],
) -> Result<std::collections::HashSet<i64>, StoreError> {
    if order_ids.is_empty() {
        return Ok(Default::default());
    }
    // By the orders' index alone, the statuses read here: the index on status keeps an entry
    // for every operation that was ever pending until vacuum, which a bulk run's thousands of
    // settled operations make long to walk.
    let mut q =
        crate::sql::Sql::new("SELECT order_id, status FROM payment_operations WHERE order_id IN ");
    q.bind_list(order_ids.iter().copied());
    let (text, args) = q.parts();
    let rows: Vec<(i64, String)> = sqlx::query_as_with(&text, args).fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .filter(|(_, st)| st == "pending" || st == "unknown")
        .map(|(id, _)| id)
        .collect())
}

pub async fn by_order_for_update(
    tx: &mut Tx,
    order_id: i64,
) -> Result<Option<Payment>, StoreError> {
    let lock = tx.lock_clause();
    let r: Option<PaymentRow> = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLS} FROM payments WHERE order_id = $1{lock}"
    ))
    .bind(order_id)
    .fetch_optional(tx.conn())
    .await?;
    r.map(Payment::try_from).transpose()
}

/// How a gateway's message names a payment.
#[derive(Debug, Clone, Copy)]
pub enum GatewayId<'a> {
    /// The id an operator looks up (Paygent payment_id, GMO OrderID), the payment's current one.
    Display(&'a str),
    /// The shop's reference (Paygent trading_id).
    Trading(&'a str),
}

/// The payment a gateway's message names.
pub async fn by_gateway_id(
    conn: &mut AnyConnection,
    shop_id: i64,
    gateway: Gateway,
    id: GatewayId<'_>,
) -> Result<Option<Payment>, StoreError> {
    let (column, value) = match id {
        GatewayId::Display(v) => ("display_id", v),
        GatewayId::Trading(v) => ("trading_id", v),
    };
    let r: Option<PaymentRow> = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLS} FROM payments WHERE shop_id = $1 AND gateway = $2 AND {column} = $3"
    ))
    .bind(shop_id)
    .bind(gateway.code())
    .bind(value.to_owned())
    .fetch_optional(conn)
    .await?;
    r.map(Payment::try_from).transpose()
}

/// Paid-later payments still waiting for the buyer, oldest first.
pub async fn awaiting(
    conn: &mut AnyConnection,
    shop_id: i64,
    limit: i64,
) -> Result<Vec<Payment>, StoreError> {
    let rows: Vec<PaymentRow> = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLS} FROM payments WHERE shop_id = $1 AND kind = 'paid_later' AND state = 'pending' \
         ORDER BY id LIMIT $2"
    ))
    .bind(shop_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Payment::try_from).collect()
}

pub async fn set_attention(tx: &mut Tx, id: i64, attention: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE payments SET attention = $1 WHERE id = $2")
        .bind(attention.to_owned())
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Write what the gateway holds now; `false` when the payment changed since `version`.
pub async fn set_held(
    tx: &mut Tx,
    id: i64,
    version: i64,
    h: &Held,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE payments SET (version, ref, display_id, trading_id, state, gateway_status, amount, captured, refunded, \
         authorized_at, auth_expires_at, updated_at) = ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         WHERE id = $13 AND version = $14",
    )
    .bind(version + 1)
    .bind(h.ref_json.clone())
    .bind(h.display_id.clone())
    .bind(h.trading_id.clone())
    .bind(h.state.code())
    .bind(h.gateway_status.clone())
    .bind(h.amount.get())
    .bind(h.captured.get())
    .bind(h.refunded.get())
    .bind(h.authorized_at.map(to_db))
    .bind(h.auth_expires_at.map(to_db))
    .bind(to_db(now))
    .bind(id)
    .bind(version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// An earlier gateway id of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousRef {
    pub id: i64,
    pub payment_id: i64,
    pub ref_json: String,
    pub display_id: String,
    pub amount: Yen,
    pub reason: String,
    pub standing: Replaced,
    pub replaced_at: String,
}

#[derive(sqlx::FromRow)]
struct PreviousRow {
    id: i64,
    payment_id: i64,
    #[sqlx(rename = "ref")]
    ref_json: String,
    display_id: String,
    amount: i64,
    reason: String,
    standing: String,
    replaced_at: String,
}

impl TryFrom<PreviousRow> for PreviousRef {
    type Error = StoreError;
    fn try_from(r: PreviousRow) -> Result<PreviousRef, StoreError> {
        Ok(PreviousRef {
            id: r.id,
            payment_id: r.payment_id,
            ref_json: r.ref_json,
            display_id: r.display_id,
            amount: yen(r.amount, "payment_refs.amount")?,
            reason: r.reason,
            standing: Replaced::from_code(&r.standing)
                .ok_or_else(|| corrupt(format!("payment_refs.standing {}", r.standing)))?,
            replaced_at: r.replaced_at,
        })
    }
}

pub struct NewPrevious<'a> {
    pub payment_id: i64,
    pub ref_json: &'a str,
    pub display_id: &'a str,
    pub amount: Yen,
    pub reason: &'a str,
    pub standing: Replaced,
}

pub async fn add_previous(
    tx: &mut Tx,
    r: &NewPrevious<'_>,
    now: Timestamp,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO payment_refs (payment_id, ref, display_id, amount, reason, standing, replaced_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(r.payment_id)
    .bind(r.ref_json.to_owned())
    .bind(r.display_id.to_owned())
    .bind(r.amount.get())
    .bind(r.reason.to_owned())
    .bind(r.standing.code())
    .bind(to_db(now))
    .fetch_one(tx.conn())
    .await?)
}

pub async fn set_previous_standing(
    tx: &mut Tx,
    id: i64,
    standing: Replaced,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE payment_refs SET standing = $1 WHERE id = $2")
        .bind(standing.code())
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Oldest first.
pub async fn previous(
    conn: &mut AnyConnection,
    payment_id: i64,
) -> Result<Vec<PreviousRef>, StoreError> {
    previous_of(conn, &[payment_id]).await
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub id: i64,
    pub shop_id: i64,
    pub payment_id: Option<i64>,
    pub order_id: i64,
    pub action: OpAction,
    pub idempotency_key: String,
    /// The request as JSON: a repeat with the same key must say the same.
    pub request: String,
    pub status: OpStatus,
    pub amount: Yen,
    pub result_code: String,
    pub message: String,
    pub new_display_id: String,
    pub actor: String,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// A card authorization waiting for the buyer's 3-D Secure: the gateway's ids (JSON).
    pub awaiting: String,
}

const OP_COLS: &str = "id, shop_id, payment_id, order_id, action, idempotency_key, request, status, amount, \
    result_code, message, new_display_id, actor, created_at, finished_at, awaiting";

#[derive(sqlx::FromRow)]
struct OpRow {
    id: i64,
    shop_id: i64,
    payment_id: Option<i64>,
    order_id: i64,
    action: String,
    idempotency_key: String,
    request: String,
    status: String,
    amount: i64,
    result_code: String,
    message: String,
    new_display_id: String,
    actor: String,
    created_at: String,
    finished_at: Option<String>,
    awaiting: String,
}

impl TryFrom<OpRow> for Operation {
    type Error = StoreError;
    fn try_from(r: OpRow) -> Result<Operation, StoreError> {
        Ok(Operation {
            id: r.id,
            shop_id: r.shop_id,
            payment_id: r.payment_id,
            order_id: r.order_id,
            action: OpAction::from_code(&r.action)
                .ok_or_else(|| corrupt(format!("payment_operations.action {}", r.action)))?,
            idempotency_key: r.idempotency_key,
            request: r.request,
            status: OpStatus::from_code(&r.status)
                .ok_or_else(|| corrupt(format!("payment_operations.status {}", r.status)))?,
            amount: yen(r.amount, "payment_operations.amount")?,
            result_code: r.result_code,
            message: r.message,
            new_display_id: r.new_display_id,
            actor: r.actor,
            created_at: ts(&r.created_at)?,
            finished_at: opt_ts(r.finished_at)?,
            awaiting: r.awaiting,
        })
    }
}

pub struct NewOperation<'a> {
    pub shop_id: i64,
    pub payment_id: Option<i64>,
    pub order_id: i64,
    pub action: OpAction,
    pub idempotency_key: &'a str,
    pub request: &'a str,
    pub amount: Yen,
    pub actor: &'a str,
}

/// Journal an operation as pending. A key already used fails with a unique violation
/// (`StoreError::violates(Unique::OperationKey)`).
pub async fn insert_operation(
    tx: &mut Tx,
    o: &NewOperation<'_>,
    now: Timestamp,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO payment_operations (shop_id, payment_id, order_id, action, idempotency_key, request, status, \
         amount, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9) RETURNING id",
    )
    .bind(o.shop_id)
    .bind(o.payment_id)
    .bind(o.order_id)
    .bind(o.action.code())
    .bind(o.idempotency_key.to_owned())
    .bind(o.request.to_owned())
    .bind(o.amount.get())
    .bind(o.actor.to_owned())
    .bind(to_db(now))
    .fetch_one(tx.conn())
    .await?)
}

/// Journal many operations as pending in one statement (a bulk batch's); their ids in the
/// order given. A key already used fails the whole statement, as [`insert_operation`] does.
pub async fn insert_operations(
    tx: &mut Tx,
    ops: &[NewOperation<'_>],
    now: Timestamp,
) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::with_capacity(ops.len());
    for chunk in ops.chunks(500) {
        let mut q = crate::sql::Sql::new(
            "INSERT INTO payment_operations (shop_id, payment_id, order_id, action, idempotency_key, \
             request, status, amount, actor, created_at) VALUES ",
        );
        for (i, o) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind(o.shop_id).push(", ");
            q.bind(o.payment_id).push(", ");
            q.bind(o.order_id).push(", ");
            q.bind(o.action.code()).push(", ");
            q.bind(o.idempotency_key.to_owned()).push(", ");
            q.bind(o.request.to_owned()).push(", 'pending', ");
            q.bind(o.amount.get()).push(", ");
            q.bind(o.actor.to_owned()).push(", ");
            q.bind(to_db(now)).push(")");
        }
        q.push(" RETURNING id, idempotency_key");
        let (text, args) = q.parts();
        let rows: Vec<(i64, String)> = sqlx::query_as_with(&text, args)
            .fetch_all(tx.conn())
            .await?;
        // Rows come back in no promised order: matched by key (unique in the shop).
        let by_key: std::collections::HashMap<String, i64> =
            rows.into_iter().map(|(id, k)| (k, id)).collect();
        for o in chunk {
            ids.push(*by_key.get(o.idempotency_key).ok_or_else(|| {
                corrupt(format!("no id for the journaled key {}", o.idempotency_key))
            })?);
        }
    }
    Ok(ids)
}

pub async fn operation(conn: &mut AnyConnection, id: i64) -> Result<Option<Operation>, StoreError> {
    let r: Option<OpRow> = sqlx::query_as(&format!(
        "SELECT {OP_COLS} FROM payment_operations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    r.map(Operation::try_from).transpose()
}

pub async fn operation_by_key(
    conn: &mut AnyConnection,
    shop_id: i64,
    key: &str,
) -> Result<Option<Operation>, StoreError> {
    let r: Option<OpRow> = sqlx::query_as(&format!(
        "SELECT {OP_COLS} FROM payment_operations WHERE shop_id = $1 AND idempotency_key = $2"
    ))
    .bind(shop_id)
    .bind(key.to_owned())
    .fetch_optional(conn)
    .await?;
    r.map(Operation::try_from).transpose()
}

/// The order's operation that is not settled yet, if any (there is at most one: a new one
/// is refused while one is open).
pub async fn open_operation(
    conn: &mut AnyConnection,
    order_id: i64,
) -> Result<Option<Operation>, StoreError> {
    let r: Option<OpRow> = sqlx::query_as(&format!(
        "SELECT {OP_COLS} FROM payment_operations WHERE order_id = $1 AND status IN ('pending', 'unknown') \
         ORDER BY id LIMIT 1"
    ))
    .bind(order_id)
    .fetch_optional(conn)
    .await?;
    r.map(Operation::try_from).transpose()
}

/// An authorization now waits for the buyer to come back from 3-D Secure with the gateway's
/// ids `ref_json` (empty: no longer waiting). Such operations are left to the pending-order
/// sweep, which knows how long a buyer may take.
pub async fn set_awaiting(tx: &mut Tx, op_id: i64, ref_json: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE payment_operations SET awaiting = $1 WHERE id = $2")
        .bind(ref_json.to_owned())
        .bind(op_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Newest first.
pub async fn operations(
    conn: &mut AnyConnection,
    order_id: i64,
    limit: i64,
) -> Result<Vec<Operation>, StoreError> {
    let rows: Vec<OpRow> = sqlx::query_as(&format!(
        "SELECT {OP_COLS} FROM payment_operations WHERE order_id = $1 ORDER BY id DESC LIMIT $2"
    ))
    .bind(order_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Operation::try_from).collect()
}

/// 決済ログ's conditions; every one optional.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Started at or after.
    pub from: Option<Timestamp>,
    /// Started before.
    pub to: Option<Timestamp>,
    pub gateway: Option<Gateway>,
    pub action: Option<OpAction>,
    pub status: Option<OpStatus>,
    /// Part of the operator's name (a bulk run's items carry 「（一括処理 #n）」).
    pub actor: Option<String>,
    pub order_number: Option<i64>,
}

/// A journaled operation with its order's number and its payment's gateway.
#[derive(Debug, Clone)]
pub struct Logged {
    pub op: Operation,
    pub order_number: i64,
    pub gateway: Option<Gateway>,
}

#[derive(sqlx::FromRow)]
struct LoggedRow {
    #[sqlx(flatten)]
    op: OpRow,
    order_number: i64,
    gateway: String,
}

/// 決済ログ: every payment operation of the shop (single and bulk), newest first, and how
/// many match.
pub async fn operation_log(
    conn: &mut AnyConnection,
    shop_id: i64,
    f: &LogFilter,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<Logged>), StoreError> {
    let filter = |q: &mut crate::sql::Sql| {
        q.push(" WHERE op.shop_id = ").bind(shop_id);
        if let Some(t) = f.from {
            q.push(" AND op.created_at >= ").bind(to_db(t));
        }
        if let Some(t) = f.to {
            q.push(" AND op.created_at < ").bind(to_db(t));
        }
        if let Some(g) = f.gateway {
            q.push(" AND p.gateway = ").bind(g.code());
        }
        if let Some(a) = f.action {
            q.push(" AND op.action = ").bind(a.code());
        }
        if let Some(st) = f.status {
            q.push(" AND op.status = ").bind(st.code());
        }
        if let Some(a) = &f.actor {
            q.push(" AND op.actor LIKE ")
                .bind(crate::sql::contains_pattern(a))
                .push(" ESCAPE '\\'");
        }
        if let Some(n) = f.order_number {
            q.push(" AND o.number = ").bind(n);
        }
    };
    let from = " FROM payment_operations op JOIN orders o ON o.id = op.order_id \
                LEFT JOIN payments p ON p.order_id = op.order_id";
    let mut c = crate::sql::Sql::new(&format!("SELECT COUNT(*){from}"));
    filter(&mut c);
    let (text, args) = c.parts();
    let total: i64 = sqlx::query_scalar_with(&text, args)
        .fetch_one(&mut *conn)
        .await?;
    let cols: Vec<String> = OP_COLS.split(", ").map(|c| format!("op.{c}")).collect();
    let mut q = crate::sql::Sql::new(&format!(
        "SELECT {}, o.number AS order_number, COALESCE(p.gateway, '') AS gateway{from}",
        cols.join(", ")
    ));
    filter(&mut q);
    q.push(" ORDER BY op.id DESC LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    let (text, args) = q.parts();
    let rows: Vec<LoggedRow> = sqlx::query_as_with(&text, args).fetch_all(conn).await?;
    let list = rows
        .into_iter()
        .map(|r| {
            Ok(Logged {
                op: Operation::try_from(r.op)?,
                order_number: r.order_number,
                gateway: match r.gateway.as_str() {
                    "" => None,
                    g => Some(gateway_from(g)?),
                },
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((total, list))
}

/// Operations the recovery job must settle: every `unknown` one, and `pending` ones started
/// before `pending_before` (their caller has surely died or given up).
pub async fn to_recover(
    conn: &mut AnyConnection,
    pending_before: Timestamp,
    limit: i64,
) -> Result<Vec<Operation>, StoreError> {
    let rows: Vec<OpRow> = sqlx::query_as(&format!(
        "SELECT {OP_COLS} FROM payment_operations WHERE status = 'unknown' \
         OR (status = 'pending' AND awaiting = '' AND created_at < $1) ORDER BY id LIMIT $2"
    ))
    .bind(to_db(pending_before))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Operation::try_from).collect()
}

pub struct Finish<'a> {
    pub status: OpStatus,
    pub result_code: &'a str,
    pub message: &'a str,
    pub new_display_id: &'a str,
    pub payment_id: Option<i64>,
}

/// Settle an open operation; `false` when someone else (the recovery job, another process)
/// settled it first.
pub async fn finish_operation(
    tx: &mut Tx,
    id: i64,
    f: &Finish<'_>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let finished = (!f.status.is_open()).then(|| to_db(now));
    let n = sqlx::query(
        "UPDATE payment_operations SET (status, result_code, message, new_display_id, payment_id, finished_at) = \
         ($1, $2, $3, $4, COALESCE($5, payment_id), $6) WHERE id = $7 AND status IN ('pending', 'unknown')",
    )
    .bind(f.status.code())
    .bind(f.result_code.to_owned())
    .bind(f.message.to_owned())
    .bind(f.new_display_id.to_owned())
    .bind(f.payment_id)
    .bind(finished)
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn settings(conn: &mut AnyConnection, shop_id: i64) -> Result<Settings, StoreError> {
    let (auto, fee): (i64, i64) =
        sqlx::query_as("SELECT auto_payment_status, paygent_fee FROM shops WHERE id = $1")
            .bind(shop_id)
            .fetch_one(conn)
            .await?;
    Ok(Settings {
        auto_status: auto != 0,
        paygent_fee: fee,
    })
}

pub async fn set_settings(tx: &mut Tx, shop_id: i64, s: &Settings) -> Result<(), StoreError> {
    sqlx::query("UPDATE shops SET (auto_payment_status, paygent_fee) = ($1, $2) WHERE id = $3")
        .bind(i64::from(s.auto_status))
        .bind(s.paygent_fee)
        .bind(shop_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub struct NewFee<'a> {
    pub shop_id: i64,
    pub operation_id: i64,
    pub order_id: i64,
    pub gateway: Gateway,
    pub action: &'a str,
    pub fee: i64,
}

/// Record a fee once per operation (a repeat is ignored).
pub async fn add_fee(tx: &mut Tx, f: &NewFee<'_>, now: Timestamp) -> Result<(), StoreError> {
    let month = juchu_domain::time::jst_date(now)
        .strftime("%Y-%m")
        .to_string();
    sqlx::query(
        "INSERT INTO payment_fees (shop_id, operation_id, order_id, gateway, action, fee, month, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (operation_id) DO NOTHING",
    )
    .bind(f.shop_id)
    .bind(f.operation_id)
    .bind(f.order_id)
    .bind(f.gateway.code())
    .bind(f.action.to_owned())
    .bind(f.fee)
    .bind(month)
    .bind(to_db(now))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// One line of the fee ledger.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FeeLine {
    pub order_number: i64,
    pub gateway: String,
    pub action: String,
    pub fee: i64,
    pub at: String,
}

/// A month's fees (`YYYY-MM`, Japan time), oldest first.
pub async fn fees(
    conn: &mut AnyConnection,
    shop_id: i64,
    month: &str,
) -> Result<Vec<FeeLine>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT o.number AS order_number, f.gateway, f.action, f.fee, f.at FROM payment_fees f \
         JOIN orders o ON o.id = f.order_id WHERE f.shop_id = $1 AND f.month = $2 ORDER BY f.id",
    )
    .bind(shop_id)
    .bind(month.to_owned())
    .fetch_all(conn)
    .await?)
}

/// A notification from a gateway, as received.
pub struct NewNotice<'a> {
    pub shop_id: i64,
    pub gateway: &'a str,
    /// The gateway's id of the notification (Paygent payment_notice_id), or one juchu makes
    /// from its contents (GMO: OrderID + status + process date).
    pub notice_id: &'a str,
    pub payment_ref: &'a str,
    pub status: &'a str,
    pub amount: Option<i64>,
    /// `push` or `pull`
    pub via: &'a str,
    /// `applied`, `unchanged`, `refused`
    pub outcome: &'a str,
    pub reason: &'a str,
    /// The order it is about, when juchu found its payment.
    pub order_id: Option<i64>,
}

/// Keep a notification; `false` when it was received before (a replay or a resend).
pub async fn record_notice(
    tx: &mut Tx,
    n: &NewNotice<'_>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO gateway_notices (shop_id, gateway, notice_id, payment_ref, status, amount, via, outcome, reason, \
         received_at, order_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (shop_id, gateway, notice_id) DO NOTHING",
    )
    .bind(n.shop_id)
    .bind(n.gateway.to_owned())
    .bind(n.notice_id.to_owned())
    .bind(n.payment_ref.to_owned())
    .bind(n.status.to_owned())
    .bind(n.amount)
    .bind(n.via.to_owned())
    .bind(n.outcome.to_owned())
    .bind(n.reason.to_owned())
    .bind(to_db(now))
    .bind(n.order_id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// The gateway ids the notifications about an order named (accepted ones), newest first:
/// where a payment made at the gateway's own screen shows up.
pub async fn noticed_ids(
    conn: &mut AnyConnection,
    shop_id: i64,
    gateway: Gateway,
    order_id: i64,
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT payment_ref, MAX(id) FROM gateway_notices WHERE shop_id = $1 AND gateway = $2 \
         AND order_id = $3 AND outcome <> 'refused' GROUP BY payment_ref ORDER BY MAX(id) DESC",
    )
    .bind(shop_id)
    .bind(gateway.code())
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(r, _)| r).collect())
}

pub async fn notice_seen(
    conn: &mut AnyConnection,
    shop_id: i64,
    gateway: &str,
    notice_id: &str,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM gateway_notices WHERE shop_id = $1 AND gateway = $2 AND notice_id = $3",
    )
    .bind(shop_id)
    .bind(gateway.to_owned())
    .bind(notice_id.to_owned())
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// A received notification, for the operator's list.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Notice {
    pub id: i64,
    pub gateway: String,
    pub notice_id: String,
    pub payment_ref: String,
    pub status: String,
    pub amount: Option<i64>,
    pub via: String,
    pub outcome: String,
    pub reason: String,
    pub received_at: String,
}

/// Newest first; only refused ones when `refused_only`.
pub async fn notices(
    conn: &mut AnyConnection,
    shop_id: i64,
    refused_only: bool,
    limit: i64,
    offset: i64,
) -> Result<Vec<Notice>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, gateway, notice_id, payment_ref, status, amount, via, outcome, reason, received_at \
         FROM gateway_notices WHERE shop_id = $1 AND ($2 = 0 OR outcome = 'refused') ORDER BY id DESC LIMIT $3 OFFSET $4",
    )
    .bind(shop_id)
    .bind(i64::from(refused_only))
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await?)
}

pub async fn cursor(
    conn: &mut AnyConnection,
    shop_id: i64,
    gateway: &str,
) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT value FROM gateway_cursors WHERE shop_id = $1 AND gateway = $2")
            .bind(shop_id)
            .bind(gateway.to_owned())
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn set_cursor(
    tx: &mut Tx,
    shop_id: i64,
    gateway: &str,
    value: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO gateway_cursors (shop_id, gateway, value, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (shop_id, gateway) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(shop_id)
    .bind(gateway.to_owned())
    .bind(value.to_owned())
    .bind(to_db(now))
    .execute(tx.conn())
    .await?;
    Ok(())
}

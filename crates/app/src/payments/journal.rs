//! The journal, step one of every operation: the order locked, a repeated idempotency key
//! answered with its first outcome, the rules checked, the operation recorded as `pending`
//! before the gateway is called — and reading an operation's outcome back.

use super::*;

/// How long a repeat with the same key waits for the first request's outcome.
pub(super) const REPEAT_WAIT: Duration = Duration::from_secs(35);

/// The outcome of an operation, as the API and the screen show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct OperationResult {
    pub operation_id: i64,
    /// `capture`, `cancel`, … or `authorize`
    pub action: String,
    /// The button's words (売上確定 …).
    pub label: String,
    pub status: OpStatus,
    pub amount: i64,
    /// The gateway's result code (ErrInfo, response_code, Paidy's code), empty on success.
    pub result_code: String,
    /// What happened, in Japanese.
    pub message: String,
    /// The payment's id at the gateway after the operation (取引ID / 決済ID).
    pub payment_id: String,
    /// This is the answer to an earlier request with the same idempotency key.
    pub repeated: bool,
    /// When it was requested (Japan time, to the minute).
    pub at: String,
    /// Who requested it.
    pub actor: String,
}

impl OperationResult {
    pub(super) fn of(op: &Operation, payment_id: String, repeated: bool) -> OperationResult {
        OperationResult {
            operation_id: op.id,
            action: op.action.code().to_owned(),
            label: op.action.label().to_owned(),
            status: op.status,
            amount: op.amount.get(),
            result_code: op.result_code.clone(),
            message: op.message.clone(),
            payment_id,
            repeated,
            at: juchu_domain::time::format_jst_minute(op.created_at),
            actor: op.actor.clone(),
        }
    }
}

pub(super) fn new_key() -> Result<String, AppError> {
    crate::tokens::random_token()
}

pub(super) fn check_key(key: Option<String>) -> Result<String, AppError> {
    match key.map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()) {
        None => new_key(),
        Some(k) if k.len() > 200 || !k.chars().all(|c| c.is_ascii_graphic()) => {
            Err(AppError::Invalid(juchu_domain::Invalid::one(
                "Idempotency-Key",
                "invalid",
                "Idempotency-Key は200文字以内の英数記号にしてください",
            )))
        }
        Some(k) => Ok(k),
    }
}

/// Refused while an earlier operation on the order is still open.
pub(super) fn in_doubt(op: &Operation) -> AppError {
    AppError::conflict(
        "payment_in_doubt",
        format!("前の決済処理（{}）の結果を確認中です", op.action.label()),
    )
}

/// An operation on an order that has no payment yet.
pub(super) fn no_payment() -> AppError {
    AppError::conflict(
        "no_payment",
        "この受注には決済がありません（与信・支払番号の発行がまだです）",
    )
}

/// What an operation writes in the journal once its rules passed.
pub(super) struct Entry {
    pub action: OpAction,
    pub amount: Yen,
    /// The payment it acts on; none for one that makes the payment.
    pub payment_id: Option<i64>,
}

/// How step one ended.
pub(super) enum Journaled<T> {
    /// The key was used before: that request's outcome is the answer.
    Repeat(OperationResult),
    /// Recorded as `pending` (committed): the gateway may be called. `plan` is what the
    /// operation's check handed over for the call.
    Started { op_id: i64, plan: T },
}

/// Step one of every operation, in one transaction: the order locked, a repeated key
/// answered with its first outcome, the operation's own rules checked on what is locked
/// (`check` refuses, or says what to journal and hands over what the gateway call needs), the
/// operation recorded as `pending`, and the transaction committed — before any gateway call.
pub(super) async fn journaled<T>(
    app: &App,
    actor: &Actor,
    number: i64,
    key: &str,
    request: &str,
    check: impl AsyncFnOnce(&mut Tx, &Order) -> Result<(Entry, T), AppError>,
) -> Result<Journaled<T>, AppError> {
    let now = app.now();
    let (mut tx, order) = match lock_order(app, actor, number, key, request).await? {
        Ok(x) => x,
        Err(first) => return Ok(Journaled::Repeat(first)),
    };
    let (entry, plan) = check(&mut tx, &order).await?;
    let op = NewOperation {
        shop_id: actor.shop_id,
        payment_id: entry.payment_id,
        order_id: order.id,
        action: entry.action,
        idempotency_key: key,
        request,
        amount: entry.amount,
        actor: &actor.name,
    };
    Ok(match journal(app, tx, op, now).await? {
        Ok(op_id) => Journaled::Started { op_id, plan },
        Err(first) => Journaled::Repeat(first),
    })
}

/// Start the operation's transaction with the order locked. `Err(outcome)`: the key was
/// used before — that request's outcome is the answer.
pub(super) async fn lock_order(
    app: &App,
    actor: &Actor,
    number: i64,
    key: &str,
    request: &str,
) -> Result<Result<(Tx, Order), OperationResult>, AppError> {
    let mut tx = app.store.begin().await?;
    // Lock first, then look the key up: a request with the same key that committed while
    // this one waited for the lock is seen (PostgreSQL reads committed rows per statement).
    let order = orders::get_for_update(&mut tx, actor.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    match store::operation_by_key(tx.conn(), actor.shop_id, key).await? {
        Some(op) => {
            drop(tx);
            Ok(Err(repeat(app, op, request).await?))
        }
        None => Ok(Ok((tx, order))),
    }
}

/// Journal `op` as pending and commit. `Err(outcome)`: the key was taken by a concurrent
/// request meanwhile — its outcome is the answer.
pub(super) async fn journal(
    app: &App,
    mut tx: Tx,
    op: NewOperation<'_>,
    now: Timestamp,
) -> Result<Result<i64, OperationResult>, AppError> {
    match store::insert_operation(&mut tx, &op, now).await {
        Ok(id) => {
            tx.commit().await?;
            Ok(Ok(id))
        }
        Err(e) if e.violates(juchu_store::Unique::OperationKey) => {
            drop(tx);
            let first = store::operation_by_key(
                &mut *app.store.read().await?,
                op.shop_id,
                op.idempotency_key,
            )
            .await?
            .ok_or(AppError::NotFound("決済処理"))?;
            Ok(Err(repeat(app, first, op.request).await?))
        }
        Err(e) => Err(e.into()),
    }
}

/// The same key again: the same request gets the first outcome (waiting while it runs); a
/// different request is refused.
pub(super) async fn repeat(
    app: &App,
    op: Operation,
    request: &str,
) -> Result<OperationResult, AppError> {
    if op.request != request {
        return Err(AppError::conflict(
            "idempotency_key_reused",
            "このIdempotency-Keyは別の操作に使われています。操作ごとに新しいキーを使ってください",
        ));
    }
    let deadline = tokio::time::Instant::now() + REPEAT_WAIT;
    let mut op = op;
    while op.status == OpStatus::Pending && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        op = store::operation(&mut *app.store.read().await?, op.id)
            .await?
            .ok_or(AppError::NotFound("決済処理"))?;
    }
    result_of(app, &op, true).await
}

pub(super) async fn result_of(
    app: &App,
    op: &Operation,
    repeated: bool,
) -> Result<OperationResult, AppError> {
    let mut conn = app.store.read().await?;
    let pid = store::by_order(&mut conn, op.order_id)
        .await?
        .map(|p| p.held.display_id)
        .unwrap_or_default();
    let mut r = OperationResult::of(op, pid, repeated);
    if op.status == OpStatus::Pending {
        r.message = "処理中です。しばらくしてから決済状況を確認してください".into();
    }
    Ok(r)
}

/// The operation `op_id` with its order and payment locked — the order first, as in every
/// transaction that writes a payment, so two of them never wait on each other (PostgreSQL
/// locks row by row: a payment locked before its order deadlocks against an operation that
/// holds the order and asks for the payment). The operation is read again under the lock:
/// another process settling it (two recovery jobs, or the caller and the job) has either
/// committed by now or waits.
pub(super) async fn lock_op(
    tx: &mut Tx,
    op_id: i64,
) -> Result<(Operation, Order, Option<store::Payment>), AppError> {
    let (shop_id, order_id) = store::operation(tx.conn(), op_id)
        .await?
        .map(|o| (o.shop_id, o.order_id))
        .ok_or(AppError::NotFound("決済処理"))?;
    let number = orders::number_of(tx.conn(), order_id)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    let order = orders::get_for_update(tx, shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    let op = store::operation(tx.conn(), op_id)
        .await?
        .ok_or(AppError::NotFound("決済処理"))?;
    let payment = store::by_order_for_update(tx, order_id).await?;
    Ok((op, order, payment))
}

/// Any error once the gateway has been called: something may have happened there, so the
/// answer never says "nothing was done"; the operation stays open for the recovery job.
pub(super) fn unrecorded(op_id: i64, e: AppError) -> AppError {
    match e {
        e @ AppError::Unrecorded { .. } => e,
        e => AppError::Unrecorded {
            operation_id: op_id,
            cause: e.to_string(),
        },
    }
}

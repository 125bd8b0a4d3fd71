//! Many operations in two transactions (a bulk run's batch of orders): every journal row
//! written in one commit before any gateway is called, and every outcome settled in one
//! commit after — the single-order pipeline's own rules ([`checked`]), gateway calls
//! ([`on_payment`]) and settlement ([`settle_locked`]), with the database paid once per
//! batch instead of once per order. A batch whose transaction fails is left to the caller,
//! which runs its orders one by one on the single-order path.

use std::collections::{HashMap, HashSet};

use super::*;

/// One order of a batch, with the idempotency key its operation is journaled under.
pub(super) struct Ask {
    pub number: i64,
    pub order_id: i64,
    pub key: String,
}

/// How an order's journal step ended.
pub(super) enum Begun {
    /// Journaled as pending: the gateway may be called.
    Started(Box<Call>),
    /// Its key was used before and that operation is settled: its outcome.
    Repeat(OperationResult),
    /// Its key was used before and that operation is still open: the recovery job settles it.
    Open,
    /// Refused by the rules; nothing journaled.
    Refused(AppError),
}

/// A journaled operation and what its gateway call needs.
pub(super) struct Call {
    pub op_id: i64,
    pub order_id: i64,
    pub payment: store::Payment,
    pub amount: Yen,
    pub gw: Arc<dyn GatewayApi>,
}

/// An order's outcome in step one, or what its journal row will say (all written at once).
enum Step {
    Done(Begun),
    Journal(Box<(Entry, String, Call)>),
}

/// The batch's orders locked in ascending id order, then their payments — as every
/// transaction that writes payments takes them — by id and by order id.
async fn lock(
    tx: &mut Tx,
    shop_id: i64,
    order_ids: &[i64],
) -> Result<(HashMap<i64, Order>, HashMap<i64, store::Payment>), AppError> {
    let orders = orders::get_many_for_update(tx, shop_id, order_ids)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let pays = store::by_orders_for_update(tx, order_ids)
        .await?
        .into_iter()
        .map(|p| (p.order_id, p))
        .collect();
    Ok((orders, pays))
}

/// Step one for every order of `asks`, in `tx` (which the caller commits before any gateway
/// call): the orders locked in ascending id order, then their payments; each key looked up
/// under the lock; each order's rules checked on what is locked; the operation journaled.
// Long: the single-order journal step's reads, checks and write, each once for the batch.
pub(super) async fn journal_batch(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    action: Action,
    asks: &[Ask],
) -> Result<Vec<Begun>, AppError> {
    let now = app.now();
    let ids: Vec<i64> = asks.iter().map(|a| a.order_id).collect();
    let (locked, pays) = lock(tx, actor.shop_id, &ids).await?;
    let keys: Vec<String> = asks.iter().map(|a| a.key.clone()).collect();
    let used: HashMap<String, Operation> =
        store::operations_by_keys(tx.conn(), actor.shop_id, &keys)
            .await?
            .into_iter()
            .map(|o| (o.idempotency_key.clone(), o))
            .collect();
    let in_doubt: HashSet<i64> = store::orders_in_doubt(tx.conn(), &ids).await?;
    let pay_ids: Vec<i64> = pays.values().map(|p| p.id).collect();
    let mut previous: HashMap<i64, Vec<PreviousRef>> = HashMap::new();
    for r in store::previous_of(tx.conn(), &pay_ids).await? {
        previous.entry(r.payment_id).or_default().push(r);
    }
    let input = OperateInput::default();
    let mut steps: Vec<Step> = Vec::with_capacity(asks.len());
    for a in asks {
        let request = request_of(a.number, action, &input);
        if let Some(op) = used.get(&a.key) {
            steps.push(Step::Done(if op.request != request {
                Begun::Refused(AppError::conflict(
                    "idempotency_key_reused",
                    "このIdempotency-Keyは別の操作に使われています",
                ))
            } else if op.status.is_open() {
                Begun::Open
            } else {
                let shown = pays
                    .get(&a.order_id)
                    .map(|p| p.held.display_id.clone())
                    .unwrap_or_default();
                Begun::Repeat(OperationResult::of(op, shown, true))
            }));
            continue;
        }
        let (Some(order), Some(p)) = (locked.get(&a.order_id), pays.get(&a.order_id)) else {
            steps.push(Step::Done(Begun::Refused(
                if locked.contains_key(&a.order_id) {
                    no_payment()
                } else {
                    AppError::NotFound("受注")
                },
            )));
            continue;
        };
        let before = previous.get(&p.id).map(Vec::as_slice).unwrap_or_default();
        let f = facts(order, p, in_doubt.contains(&order.id), before, now);
        steps.push(
            match checked(app, &f, order, p, action, &input, Rules::Bulk) {
                Err(e) => Step::Done(Begun::Refused(e)),
                Ok((entry, amount, gw)) => Step::Journal(Box::new((
                    entry,
                    request,
                    Call {
                        op_id: 0,
                        order_id: order.id,
                        payment: p.clone(),
                        amount,
                        gw,
                    },
                ))),
            },
        );
    }
    let journal: Vec<NewOperation> = asks
        .iter()
        .zip(&steps)
        .filter_map(|(a, s)| match s {
            Step::Journal(j) => Some((a, &j.0, &j.1)),
            Step::Done(_) => None,
        })
        .map(|(a, entry, request)| NewOperation {
            shop_id: actor.shop_id,
            payment_id: entry.payment_id,
            order_id: a.order_id,
            action: entry.action,
            idempotency_key: &a.key,
            request,
            amount: entry.amount,
            actor: &actor.name,
        })
        .collect();
    let mut ids = store::insert_operations(tx, &journal, now)
        .await?
        .into_iter();
    drop(journal);
    steps
        .into_iter()
        .map(|s| match s {
            Step::Done(b) => Ok(b),
            Step::Journal(j) => {
                let (_, _, mut call) = *j;
                call.op_id = ids
                    .next()
                    .ok_or_else(|| AppError::bug("a journaled operation without its id"))?;
                Ok(Begun::Started(Box::new(call)))
            }
        })
        .collect()
}

/// Step three for journaled operations and what their gateway calls came to, in `tx` (the
/// caller commits): their orders and payments locked in the same order as step one, each
/// operation read again under the lock (one settled elsewhere meanwhile keeps that outcome)
/// and settled. The outcomes in the order given.
pub(super) async fn settle_batch(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    done: Vec<(&Call, Verdict)>,
) -> Result<Vec<OperationResult>, AppError> {
    let now = app.now();
    let ids: Vec<i64> = done.iter().map(|(c, _)| c.order_id).collect();
    let (locked, pays) = lock(tx, actor.shop_id, &ids).await?;
    let op_ids: Vec<i64> = done.iter().map(|(c, _)| c.op_id).collect();
    let ops: HashMap<i64, Operation> = store::operations_in(tx.conn(), &op_ids)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let settings = store::settings(tx.conn(), actor.shop_id).await?;
    let mut out = Vec::with_capacity(done.len());
    for (call, verdict) in done {
        let op = ops.get(&call.op_id).ok_or(AppError::NotFound("決済処理"))?;
        let order = locked
            .get(&call.order_id)
            .ok_or(AppError::NotFound("受注"))?;
        let payment = pays.get(&call.order_id);
        let shown = payment
            .map(|p| p.held.display_id.clone())
            .unwrap_or_default();
        if !op.status.is_open() {
            out.push(OperationResult::of(op, shown, false));
            continue;
        }
        let cx = Cx::new(&actor.name, op, order, payment, &settings, now);
        let s = settle_locked(tx, &cx, verdict).await?;
        let mut r = OperationResult::of(op, shown, false);
        r.status = s.status;
        r.result_code = s.code;
        r.message = s.message;
        out.push(r);
    }
    Ok(out)
}

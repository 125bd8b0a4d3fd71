//! 一括処理 (seed 004 §8 外部決済一括処理, seed 001 カード決済情報, seed 002 Paidy決済状況管理):
//! one payment action over any number of orders. A run is stored with its items before
//! anything is sent — a durable job, not a request that must stay open. Workers in any
//! process take items for a lease and run each through the single-order pipeline
//! ([`operate_as`]: journal, gateway, settlement, the order's 変更履歴) under the item's own
//! idempotency key, so an item taken twice (a process killed mid-item, two processes on one
//! run) reaches the gateway once.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use jiff::SignedDuration;
use juchu_domain::search::SearchInput;
use juchu_store::bulk::{self as runs, Item, ItemState, NewItem, NewRun, Run, RunState};
use tokio::sync::Semaphore;

use super::*;

/// The actions a run may take, in the manuals' order.
pub const BULK_ACTIONS: [Action; 5] = [
    Action::Capture,
    Action::Cancel,
    Action::Refresh,
    Action::PaidyClose,
    Action::Refund,
];

/// The most orders one run takes: far beyond a shop's day, and a bound on one request.
pub const MAX_ITEMS: usize = 200_000;

/// A gateway's "busy" answer is tried again this many times, waiting longer each time.
const RETRIES: u32 = 4;

/// How a process works runs: how many items go to each gateway at once, and how long a
/// worker holds the items it took (one that vanished leaves them to others after that; longer
/// than a gateway's timeout, so a live worker's items are not taken from it).
pub struct BulkLimits {
    per_gateway: HashMap<Gateway, Arc<Semaphore>>,
    lease: SignedDuration,
    /// Items taken at a time (one batch: one journal commit, one settlement commit).
    batch: i64,
    /// Batches a process runs at once for one run.
    pipelines: usize,
    /// Runs this process works at once: one (its batches are the parallelism). Others wait
    /// here without holding a connection, so many runs started together cannot exhaust the
    /// pool with transactions queued on each other's orders.
    running: Arc<Semaphore>,
    /// This process (host:pid), recorded on the items it takes.
    worker: String,
}

impl BulkLimits {
    pub fn new(concurrency: usize, lease: std::time::Duration) -> BulkLimits {
        let n = concurrency.max(1);
        BulkLimits {
            per_gateway: [Gateway::Paygent, Gateway::Gmo, Gateway::Paidy]
                .into_iter()
                .map(|g| (g, Arc::new(Semaphore::new(n))))
                .collect(),
            lease: SignedDuration::try_from(lease).unwrap_or(SignedDuration::from_secs(60)),
            batch: (4 * n) as i64,
            pipelines: n.min(3),
            running: Arc::new(Semaphore::new(1)),
            worker: format!(
                "{}:{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "juchu".into()),
                std::process::id()
            ),
        }
    }
}

impl Default for BulkLimits {
    fn default() -> BulkLimits {
        BulkLimits::new(8, std::time::Duration::from_secs(60))
    }
}

/// What starts a run: the orders by number, or every order a search finds.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct BulkInput {
    /// `capture` 売上確定, `cancel` 取消, `refresh` 状態確認, `paidy_close` クローズ,
    /// `refund` 払い戻し (all that was captured)
    pub action: Action,
    /// 注文番号
    #[serde(default)]
    pub numbers: Vec<i64>,
    /// Instead of numbers: every order this search finds (受注管理's conditions).
    #[serde(default)]
    pub search: Option<SearchInput>,
}

/// A run as the screens and the API show it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RunView {
    pub id: i64,
    pub action: Action,
    /// 売上確定, 取消 …
    pub action_label: String,
    /// `running`, `stopping`, `stopped`, `done`
    pub state: String,
    /// 実行中, 中止中, 中止, 完了
    pub state_label: String,
    pub created_by: String,
    /// Japan time, to the second.
    pub created_at: String,
    pub finished_at: Option<String>,
    /// Seconds from start to end (or to now while running).
    pub seconds: f64,
    pub total: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub skipped: i64,
    pub pending: i64,
    /// The items' amounts (what was chosen), and of those that succeeded.
    pub amount: i64,
    pub succeeded_amount: i64,
}

/// One order of a run: 詳細ログ.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ItemView {
    pub order_number: i64,
    /// `paygent`, `gmo`, `paidy`; empty for an order without a payment.
    pub gateway: String,
    pub amount: i64,
    /// `pending`, `succeeded`, `failed`, `skipped`
    pub state: String,
    /// 「正常終了」 or 「エラーコード:xxx」 with what happened.
    pub result: String,
    pub result_code: String,
    pub message: String,
    pub operation_id: Option<i64>,
    pub finished_at: Option<String>,
    /// The process that ran it (host:pid).
    pub worker: String,
}

impl RunView {
    fn of(r: &Run, now: jiff::Timestamp) -> Result<RunView, AppError> {
        let action = Action::from_code(&r.action)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("bulk run action {}", r.action)))?;
        let end = r.finished_at.unwrap_or(now);
        Ok(RunView {
            id: r.id,
            action,
            action_label: action.label().to_owned(),
            state: r.state.code().to_owned(),
            state_label: match r.state {
                RunState::Running => "実行中",
                RunState::Stopping => "中止中",
                RunState::Stopped => "中止",
                RunState::Done => "完了",
            }
            .to_owned(),
            created_by: r.created_by.clone(),
            created_at: juchu_domain::time::format_jst_second(r.created_at),
            finished_at: r.finished_at.map(juchu_domain::time::format_jst_second),
            seconds: end.duration_since(r.created_at).as_secs_f64().max(0.0),
            total: r.total,
            succeeded: r.succeeded,
            failed: r.failed,
            skipped: r.skipped,
            pending: r.pending(),
            amount: r.amount,
            succeeded_amount: r.succeeded_amount,
        })
    }
}

impl ItemView {
    fn of(i: &Item) -> ItemView {
        ItemView {
            order_number: i.order_number,
            gateway: i.gateway.map(|g| g.code().to_owned()).unwrap_or_default(),
            amount: i.amount,
            state: i.state.code().to_owned(),
            result: match i.state {
                ItemState::Pending => "未処理".to_owned(),
                ItemState::Succeeded => "正常終了".to_owned(),
                ItemState::Skipped => "中止により未実行".to_owned(),
                ItemState::Failed if i.result_code.is_empty() => i.message.clone(),
                ItemState::Failed => format!("エラーコード:{} {}", i.result_code, i.message),
            },
            result_code: i.result_code.clone(),
            message: i.message.clone(),
            operation_id: i.operation_id,
            finished_at: i.finished_at.map(juchu_domain::time::format_jst_second),
            worker: i.claimed_by.clone(),
        }
    }
}

fn bad(field: &str, message: impl Into<String>) -> AppError {
    AppError::Invalid(juchu_domain::Invalid::one(field, "invalid", message))
}

/// What a run would take, before it starts: 確認 shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BulkPreview {
    pub action: Action,
    pub action_label: String,
    /// Orders chosen.
    pub count: i64,
    /// The sum of their payments' amounts (払い戻し: what is left to refund).
    pub amount: i64,
    /// Orders per gateway: (`paygent` / `gmo` / `paidy`, count, amount).
    pub by_gateway: Vec<(String, i64, i64)>,
    /// Orders without a payment: they will fail without reaching a gateway.
    pub without_payment: i64,
    /// The first orders' numbers, in the order chosen (at most 1,000), for the screen.
    pub numbers: Vec<i64>,
}

/// A run's items as they would be written.
async fn targets(app: &App, actor: &Actor, input: &BulkInput) -> Result<Vec<NewItem>, AppError> {
    if !BULK_ACTIONS.contains(&input.action) {
        return Err(bad(
            "action",
            format!(
                "一括処理できるのは {} です",
                BULK_ACTIONS.map(|a| a.label()).join("・")
            ),
        ));
    }
    let mut conn = app.store.read().await?;
    let found = match (&input.search, input.numbers.is_empty()) {
        (Some(_), false) => {
            return Err(bad(
                "numbers",
                "注文番号と検索条件はどちらか一方を指定してください",
            ));
        }
        (None, true) => return Err(bad("numbers", "処理する受注を選んでください")),
        (None, false) => {
            let mut seen = std::collections::HashSet::new();
            let numbers: Vec<i64> = input
                .numbers
                .iter()
                .copied()
                .filter(|n| seen.insert(*n))
                .collect();
            let found =
                juchu_store::orders::ids_of_numbers(&mut conn, actor.shop_id, &numbers).await?;
            let by_number: HashMap<i64, i64> = found.iter().map(|(id, n)| (*n, *id)).collect();
            let missing: Vec<String> = numbers
                .iter()
                .filter(|n| !by_number.contains_key(n))
                .take(10)
                .map(|n| n.to_string())
                .collect();
            if !missing.is_empty() {
                return Err(bad(
                    "numbers",
                    format!("注文番号 {} の受注はありません", missing.join(", ")),
                ));
            }
            // In the order chosen.
            numbers
                .iter()
                .filter_map(|n| by_number.get(n).map(|id| (*id, *n)))
                .collect::<Vec<_>>()
        }
        (Some(search), true) => {
            let s = search.validate()?;
            let ids =
                juchu_store::orders::search_ids(&mut conn, actor.shop_id, &s, app.now()).await?;
            let found = juchu_store::orders::numbers_of_ids(&mut conn, actor.shop_id, &ids).await?;
            let by_id: HashMap<i64, i64> = found.into_iter().collect();
            ids.iter()
                .filter_map(|id| by_id.get(id).map(|n| (*id, *n)))
                .collect()
        }
    };
    if found.is_empty() {
        return Err(bad("search", "条件に合う受注はありません"));
    }
    if found.len() > MAX_ITEMS {
        return Err(bad(
            "numbers",
            format!(
                "一度に処理できるのは{MAX_ITEMS}件までです（{}件）",
                found.len()
            ),
        ));
    }
    let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
    let mut pays: HashMap<i64, store::Payment> = HashMap::new();
    for chunk in ids.chunks(1000) {
        for p in store::by_orders(&mut conn, chunk).await? {
            pays.insert(p.order_id, p);
        }
    }
    Ok(found
        .iter()
        .map(|(id, number)| {
            let p = pays.get(id);
            NewItem {
                order_id: *id,
                order_number: *number,
                gateway: p.map(|p| p.gateway),
                amount: p.map_or(0, |p| match input.action {
                    Action::Refund => p.held.captured.get() - p.held.refunded.get(),
                    _ => p.held.amount.get(),
                }),
            }
        })
        .collect())
}

/// 確認: how many orders a run would take and for how much, nothing written.
pub async fn preview_bulk(
    app: &App,
    actor: &Actor,
    input: &BulkInput,
) -> Result<BulkPreview, AppError> {
    let items = targets(app, actor, input).await?;
    let mut by: Vec<(String, i64, i64)> = Vec::new();
    for g in [Gateway::Paygent, Gateway::Gmo, Gateway::Paidy] {
        let of: Vec<&NewItem> = items.iter().filter(|i| i.gateway == Some(g)).collect();
        if !of.is_empty() {
            by.push((
                g.code().to_owned(),
                of.len() as i64,
                of.iter().map(|i| i.amount).sum(),
            ));
        }
    }
    Ok(BulkPreview {
        action: input.action,
        action_label: input.action.label().to_owned(),
        count: items.len() as i64,
        amount: items.iter().map(|i| i.amount).sum(),
        by_gateway: by,
        without_payment: items.iter().filter(|i| i.gateway.is_none()).count() as i64,
        numbers: items.iter().take(1000).map(|i| i.order_number).collect(),
    })
}

/// Start a run. The same `key` again (a double click, a repeated API call) answers the first
/// run instead of starting a second; with other orders or another action it is refused.
pub async fn start_bulk(
    app: &App,
    actor: &Actor,
    input: BulkInput,
    key: Option<String>,
) -> Result<RunView, AppError> {
    let key = check_key(key)?;
    let items = targets(app, actor, &input).await?;
    let now = app.now();
    let request = serde_json::json!({
        "action": input.action.code(),
        "orders": items.iter().map(|i| i.order_number).collect::<Vec<_>>(),
    })
    .to_string();
    let new = NewRun {
        shop_id: actor.shop_id,
        action: input.action.code(),
        request_key: &key,
        request: &request,
        created_by: &actor.name,
    };
    // Writing the items checks each order's row (a foreign key), in the order chosen, while
    // another run's batch may hold some of those orders: PostgreSQL may then pick this
    // transaction as a deadlock's victim. Nothing was written; write it again.
    let mut attempt = 0;
    let created = loop {
        let mut tx = app.store.begin().await?;
        match runs::create(&mut tx, &new, &items, now).await {
            Ok(id) => match tx.commit().await {
                Ok(()) => break Ok(id),
                Err(e) if e.is_transient() && attempt < 3 => {}
                Err(e) => break Err(e),
            },
            Err(e) if e.is_transient() && attempt < 3 => drop(tx),
            Err(e) => break Err(e),
        }
        attempt += 1;
        tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
    };
    let id = match created {
        Ok(id) => id,
        Err(e) if e.violates(juchu_store::Unique::BulkRequestKey) => {
            let first = runs::by_key(&mut *app.store.read().await?, actor.shop_id, &key)
                .await?
                .ok_or_else(|| AppError::bug("bulk run vanished after its key was taken"))?;
            if first.request != request {
                return Err(AppError::conflict(
                    "idempotency_key_reused",
                    "このキーは別の一括処理に使われています",
                ));
            }
            return RunView::of(&first, now);
        }
        Err(e) => return Err(e.into()),
    };
    // A process that can reach the gateways starts on it at once; any other may join or take
    // over (one without connectors — `juchu bulk` without a gateway URL — leaves it to them).
    let g = app.gateways();
    if [Gateway::Paygent, Gateway::Gmo, Gateway::Paidy]
        .into_iter()
        .any(|x| g.has(x))
    {
        let worker = app.clone();
        let shop_id = actor.shop_id;
        tokio::spawn(async move {
            if let Err(e) = work_run_in_turn(&worker, id, shop_id).await {
                tracing::error!(run = id, error = %e, "bulk run stopped on an error; the job resumes it");
            }
        });
    }
    let run = runs::get(&mut *app.store.read().await?, actor.shop_id, id)
        .await?
        .ok_or_else(|| AppError::bug("bulk run vanished"))?;
    RunView::of(&run, now)
}

/// The shop's run.
pub async fn bulk_run(app: &App, actor: &Actor, id: i64) -> Result<RunView, AppError> {
    let r = runs::get(&mut *app.store.read().await?, actor.shop_id, id)
        .await?
        .ok_or(AppError::NotFound("一括処理"))?;
    RunView::of(&r, app.now())
}

/// 操作ログ: the shop's runs, newest first, and how many there are.
pub async fn bulk_runs(
    app: &App,
    actor: &Actor,
    page: i64,
    per_page: i64,
) -> Result<(i64, Vec<RunView>), AppError> {
    let per_page = per_page.clamp(1, 500);
    let mut conn = app.store.read().await?;
    let total = runs::count(&mut conn, actor.shop_id).await?;
    let list = runs::list(
        &mut conn,
        actor.shop_id,
        per_page,
        juchu_domain::search::page_offset(page, per_page),
    )
    .await?;
    let now = app.now();
    let views = list
        .iter()
        .map(|r| RunView::of(r, now))
        .collect::<Result<_, _>>()?;
    Ok((total, views))
}

/// 詳細ログ: a run's orders and their results (only those in `state` when given).
pub async fn bulk_items(
    app: &App,
    actor: &Actor,
    id: i64,
    state: Option<&str>,
    page: i64,
    per_page: i64,
) -> Result<Vec<ItemView>, AppError> {
    let state = match state.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(ItemState::from_code(s).ok_or_else(|| {
            bad(
                "state",
                "状態は pending, succeeded, failed, skipped のいずれかです",
            )
        })?),
    };
    let per_page = per_page.clamp(1, 1000);
    let mut conn = app.store.read().await?;
    runs::get(&mut conn, actor.shop_id, id)
        .await?
        .ok_or(AppError::NotFound("一括処理"))?;
    let items = runs::items(
        &mut conn,
        id,
        state,
        per_page,
        juchu_domain::search::page_offset(page, per_page),
    )
    .await?;
    Ok(items.iter().map(ItemView::of).collect())
}

/// 中止: items not begun are skipped; those already sent finish. Refused once it has ended.
pub async fn stop_bulk(app: &App, actor: &Actor, id: i64) -> Result<RunView, AppError> {
    let mut conn = app.store.read().await?;
    let r = runs::get(&mut conn, actor.shop_id, id)
        .await?
        .ok_or(AppError::NotFound("一括処理"))?;
    if !runs::stop(&mut conn, actor.shop_id, id).await? && r.state != RunState::Stopping {
        return Err(AppError::conflict(
            "bulk_run_ended",
            format!(
                "この一括処理は{}しています",
                RunView::of(&r, app.now())?.state_label
            ),
        ));
    }
    let now = app.now();
    runs::skip_unclaimed(&mut conn, id, now).await?;
    runs::end_if_finished(&mut conn, id, now).await?;
    drop(conn);
    bulk_run(app, actor, id).await
}

/// The job: take and run items of every unfinished run (after a restart, those another
/// process left). The number of items run.
pub async fn work_bulk(app: &App) -> Result<usize, AppError> {
    let open = runs::open(&mut *app.store.read().await?).await?;
    let mut n = 0;
    for (id, shop) in open {
        n += work_run_in_turn(app, id, shop).await?;
    }
    Ok(n)
}

/// Work the run once this process works no other.
async fn work_run_in_turn(app: &App, run_id: i64, shop_id: i64) -> Result<usize, AppError> {
    let _turn = app
        .bulk_limits
        .running
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| AppError::bug("bulk run turns closed"))?;
    work_run(app, run_id, shop_id).await
}

/// Take items of the run until none is left to take, a few batches at once (one batch's
/// commits overlap another's gateway calls).
async fn work_run(app: &App, run_id: i64, shop_id: i64) -> Result<usize, AppError> {
    let run = runs::get(&mut *app.store.read().await?, shop_id, run_id)
        .await?
        .ok_or_else(|| AppError::bug("bulk run vanished"))?;
    let action = Action::from_code(&run.action)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("bulk run action {}", run.action)))?;
    // The history line says who started the run, and that it was a run.
    let actor = Actor {
        shop_id,
        user_id: None,
        name: format!("{}（一括処理 #{run_id}）", run.created_by),
        is_admin: false,
    };
    let shares = futures_util::future::try_join_all(
        (0..app.bulk_limits.pipelines).map(|_| work_share(app, &actor, run_id, action)),
    )
    .await?;
    let now = app.now();
    let mut conn = app.store.read().await?;
    if runs::state(&mut conn, run_id).await? != RunState::Running {
        runs::skip_unclaimed(&mut conn, run_id, now).await?;
    }
    runs::end_if_finished(&mut conn, run_id, now).await?;
    let done: usize = shares.iter().sum();
    if done > 0 {
        tracing::info!(
            run = run_id,
            items = done,
            "bulk run: this process ran its share"
        );
    }
    Ok(done)
}

/// Claim and run batches of the run while it runs and has items nobody holds.
async fn work_share(
    app: &App,
    actor: &Actor,
    run_id: i64,
    action: Action,
) -> Result<usize, AppError> {
    let l = &app.bulk_limits;
    let mut done = 0;
    loop {
        if runs::state(&mut *app.store.read().await?, run_id).await? != RunState::Running {
            return Ok(done);
        }
        let mut tx = app.store.begin().await?;
        let items = runs::claim(&mut tx, run_id, l.batch, app.now(), l.lease, &l.worker).await?;
        tx.commit().await?;
        if items.is_empty() {
            return Ok(done);
        }
        done += items.len();
        run_batch(app, actor, run_id, action, &items).await;
    }
}

/// What becomes of an item after its operation answered.
enum Next {
    Finish(ItemState, String, String, Option<i64>),
    /// Busy, or nothing happened at the gateway (never sent; or, asked after a lost answer,
    /// not done): a new attempt under a new key, later.
    Retry,
    /// The answer is awaited (recovery settles it): the item stays pending and is taken again
    /// when its lease ends — its key then answers the outcome.
    Leave,
}

fn next(r: &OperationResult, gateway: Option<Gateway>) -> Next {
    match r.status {
        OpStatus::Succeeded => Next::Finish(
            ItemState::Succeeded,
            String::new(),
            r.message.clone(),
            Some(r.operation_id),
        ),
        OpStatus::Failed
            if r.result_code.is_empty()
                || gateway.is_some_and(|g| juchu_gateway::busy(g, &r.result_code)) =>
        {
            Next::Retry
        }
        OpStatus::Failed | OpStatus::Partial => Next::Finish(
            ItemState::Failed,
            r.result_code.clone(),
            r.message.clone(),
            Some(r.operation_id),
        ),
        OpStatus::Pending | OpStatus::Unknown => Next::Leave,
    }
}

/// A refusal before anything was journaled is the item's result; a store failure, or an
/// outcome the gateway gave but the store did not take, leaves it pending (taken again; its
/// key answers the outcome once recovery has settled it).
fn refused(e: AppError) -> Result<Next, AppError> {
    match e {
        e @ (AppError::Store(_) | AppError::Internal(_) | AppError::Unrecorded { .. }) => Err(e),
        e => Ok(Next::Finish(
            ItemState::Failed,
            e.code().to_owned(),
            e.to_string(),
            None,
        )),
    }
}

/// The item's key for an attempt: an item taken twice (a process killed mid-item, two
/// processes on one run) asks the same operation, which reaches the gateway once.
fn item_key(run_id: i64, it: &Item, attempt: u32) -> String {
    format!("bulk-{run_id}-{}-{attempt}", it.id)
}

async fn permit(app: &App, g: Gateway) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
    app.bulk_limits
        .per_gateway
        .get(&g)
        .ok_or_else(|| AppError::bug("no bulk limit for a gateway"))?
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| AppError::bug("bulk limit closed"))
}

/// The item's result when `n` is final; an item to try again goes to `again`.
fn finished<'a>(it: &'a Item, n: Next, again: &mut Vec<&'a Item>) -> Option<runs::Finished> {
    match n {
        Next::Finish(state, result_code, message, operation_id) => Some(runs::Finished {
            item_id: it.id,
            state,
            result_code,
            message,
            operation_id,
        }),
        Next::Retry => {
            again.push(it);
            None
        }
        Next::Leave => None,
    }
}

/// Record one item's result when it is final; `true` when it is to be tried again.
async fn finish(app: &App, it: &Item, n: Next) -> Result<bool, AppError> {
    let mut again = Vec::new();
    if let Some(f) = finished(it, n, &mut again) {
        let mut conn = app.store.read().await?;
        runs::finish_items(&mut conn, &[f], app.now()).await?;
    }
    Ok(!again.is_empty())
}

/// One claimed batch: journaled in one commit, sent, settled in one commit (see `batch`).
/// A batch whose transaction fails goes order by order on the single-order path; an order
/// to try again (a busy gateway) goes on by itself with its next attempt.
// Long: the three steps of the pipeline for a batch, each with its fall-back, in order.
async fn run_batch(app: &App, actor: &Actor, run_id: i64, action: Action, items: &[Item]) {
    let one_by_one = async |its: Vec<&Item>, attempt: u32| {
        futures_util::stream::iter(its)
            .for_each_concurrent(None, |it| async move {
                if let Err(e) = run_item(app, actor, run_id, action, it, attempt).await {
                    tracing::error!(run = run_id, order = it.order_number, error = %e, "bulk item not recorded");
                }
            })
            .await;
    };
    // 状態確認 asks and records; it has no journal step to share.
    if action == Action::Refresh {
        return one_by_one(items.iter().collect(), 0).await;
    }
    let asks: Vec<batch::Ask> = items
        .iter()
        .map(|it| batch::Ask {
            number: it.order_number,
            order_id: it.order_id,
            key: item_key(run_id, it, 0),
        })
        .collect();
    // Step one: every journal row (and every refusal) in one commit.
    let step_one = async {
        let mut tx = app.store.begin().await?;
        let begun = batch::journal_batch(app, &mut tx, actor, action, &asks).await?;
        let mut calls = Vec::new();
        let mut again = Vec::new();
        let mut results = Vec::new();
        for (it, b) in items.iter().zip(begun) {
            let n = match b {
                batch::Begun::Started(c) => {
                    calls.push((it, *c));
                    continue;
                }
                batch::Begun::Repeat(r) => next(&r, it.gateway),
                batch::Begun::Open => Next::Leave,
                batch::Begun::Refused(e) => refused(e)?,
            };
            results.extend(finished(it, n, &mut again));
        }
        runs::finish_items(tx.conn(), &results, app.now()).await?;
        tx.commit().await?;
        Ok::<_, AppError>((calls, again))
    };
    let (calls, mut again) = match step_one.await {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(run = run_id, error = %e, "bulk batch: journal failed, order by order");
            return one_by_one(items.iter().collect(), 0).await;
        }
    };
    // Step two: the gateway calls, as many at once as each gateway's limit allows.
    let verdicts: Vec<Verdict> =
        futures_util::future::join_all(calls.iter().map(|(_, c)| call(app, action, c))).await;
    // Step three: every outcome, with the items' results, in one commit.
    let step_three = async {
        let mut tx = app.store.begin().await?;
        let done = calls.iter().map(|(_, c)| c).zip(verdicts.iter().cloned());
        let outcomes = batch::settle_batch(app, &mut tx, actor, done.collect()).await?;
        let mut again = Vec::new();
        let mut results = Vec::new();
        for ((it, _), r) in calls.iter().zip(&outcomes) {
            results.extend(finished(it, next(r, it.gateway), &mut again));
        }
        runs::finish_items(tx.conn(), &results, app.now()).await?;
        tx.commit().await?;
        Ok::<_, AppError>(again)
    };
    match step_three.await {
        Ok(a) => again.extend(a),
        Err(e) => {
            tracing::warn!(run = run_id, error = %e, "bulk batch: settlement failed, order by order");
            for ((it, c), v) in calls.iter().zip(verdicts) {
                let r = settle(app, &actor.name, c.op_id, v).await;
                let n = match r {
                    Ok(r) => next(&r, it.gateway),
                    Err(e) => {
                        tracing::error!(run = run_id, order = it.order_number, error = %e, "bulk item left to recovery");
                        continue;
                    }
                };
                match finish(app, it, n).await {
                    Ok(true) => again.push(*it),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(run = run_id, order = it.order_number, error = %e, "bulk item not recorded");
                    }
                }
            }
        }
    }
    if !again.is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        one_by_one(again, 1).await;
    }
}

/// A journaled operation's gateway call, within the gateway's limit. An error here comes
/// before the call: nothing happened at the gateway.
async fn call(app: &App, action: Action, c: &batch::Call) -> Verdict {
    let sent = async {
        let _permit = permit(app, c.payment.gateway).await?;
        on_payment(&*c.gw, action, &c.payment, c.amount, app.now()).await
    };
    sent.await.unwrap_or_else(|e| Verdict::Failed {
        code: String::new(),
        message: e.to_string(),
        status: None,
    })
}

/// One order on the single-order path ([`operate_as`]) under the item's key for each
/// attempt from `attempt` (a busy or unsent one is settled as failed with nothing done at
/// the gateway, so the next attempt is a new operation), then its result.
async fn run_item(
    app: &App,
    actor: &Actor,
    run_id: i64,
    action: Action,
    it: &Item,
    mut attempt: u32,
) -> Result<(), AppError> {
    let _permit = match it.gateway {
        Some(g) => Some(permit(app, g).await?),
        None => None,
    };
    let n = loop {
        let r = operate_as(
            app,
            actor,
            it.order_number,
            action,
            OperateInput::default(),
            Some(item_key(run_id, it, attempt)),
            Rules::Bulk,
        )
        .await;
        let (n, r) = match r {
            Ok(r) => (next(&r, it.gateway), Some(r)),
            Err(e) => (refused(e)?, None),
        };
        match (n, r) {
            (Next::Retry, Some(r)) if attempt >= RETRIES => {
                break Next::Finish(
                    ItemState::Failed,
                    r.result_code,
                    r.message,
                    Some(r.operation_id),
                );
            }
            (Next::Retry, _) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
            }
            (n, _) => break n,
        }
    };
    if finish(app, it, n).await? {
        return Err(AppError::bug("a bulk item to retry after its last attempt"));
    }
    Ok(())
}

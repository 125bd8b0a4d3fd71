//! 一括処理: runs of one payment action over many orders, and their items (migration 0010).
//! A run is written with all its items before anything is sent; workers in any process
//! claim items for a while (`claimed_until`), run each through the single-order operation,
//! and record the result here.

use jiff::{SignedDuration, Timestamp};
use juchu_domain::payment_method::Gateway;
use juchu_domain::time::{from_db, to_db};
use sqlx::AnyConnection;

use crate::db::corrupt;
use crate::payments::gateway_from;
use crate::{StoreError, Tx};

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    /// The operator stopped it: items not begun are skipped, those begun finish.
    Stopping,
    Stopped,
    Done,
}

impl RunState {
    pub fn code(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Stopping => "stopping",
            RunState::Stopped => "stopped",
            RunState::Done => "done",
        }
    }

    fn from_code(s: &str) -> Result<RunState, StoreError> {
        Ok(match s {
            "running" => RunState::Running,
            "stopping" => RunState::Stopping,
            "stopped" => RunState::Stopped,
            "done" => RunState::Done,
            other => return Err(corrupt(format!("bulk_runs.state {other}"))),
        })
    }
}

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    Pending,
    Succeeded,
    Failed,
    /// Not run: the run was stopped before it.
    Skipped,
}

impl ItemState {
    pub fn code(self) -> &'static str {
        match self {
            ItemState::Pending => "pending",
            ItemState::Succeeded => "succeeded",
            ItemState::Failed => "failed",
            ItemState::Skipped => "skipped",
        }
    }

    pub fn from_code(s: &str) -> Option<ItemState> {
        [
            ItemState::Pending,
            ItemState::Succeeded,
            ItemState::Failed,
            ItemState::Skipped,
        ]
        .into_iter()
        .find(|x| x.code() == s)
    }
}

/// A run with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: i64,
    pub shop_id: i64,
    pub action: String,
    pub state: RunState,
    pub request_key: String,
    pub request: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub total: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub skipped: i64,
    /// The sum of the items' amounts, and of those that succeeded.
    pub amount: i64,
    pub succeeded_amount: i64,
}

impl Run {
    pub fn pending(&self) -> i64 {
        self.total - self.succeeded - self.failed - self.skipped
    }
}

/// One order of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: i64,
    pub run_id: i64,
    pub order_id: i64,
    pub order_number: i64,
    /// None for an order without a payment (it fails without reaching a gateway).
    pub gateway: Option<Gateway>,
    pub amount: i64,
    pub state: ItemState,
    pub result_code: String,
    pub message: String,
    pub operation_id: Option<i64>,
    pub finished_at: Option<Timestamp>,
    /// The process that took it last.
    pub claimed_by: String,
}

pub struct NewItem {
    pub order_id: i64,
    pub order_number: i64,
    pub gateway: Option<Gateway>,
    pub amount: i64,
}

pub struct NewRun<'a> {
    pub shop_id: i64,
    pub action: &'a str,
    pub request_key: &'a str,
    pub request: &'a str,
    pub created_by: &'a str,
}

fn ts(s: &str) -> Result<Timestamp, StoreError> {
    from_db(s).map_err(|e| corrupt(format!("instant {s}: {e}")))
}

/// Rows written at once per INSERT: far below both databases' bound-parameter limits.
const INSERT_CHUNK: usize = 500;

/// Write a run and its items. A `request_key` already used by the shop is refused with
/// `Unique::BulkRequestKey` (the caller answers the first run).
pub async fn create(
    tx: &mut Tx,
    r: &NewRun<'_>,
    items: &[NewItem],
    now: Timestamp,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO bulk_runs (shop_id, action, state, request_key, request, created_by, created_at, total) \
         VALUES ($1, $2, 'running', $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(r.shop_id)
    .bind(r.action.to_owned())
    .bind(r.request_key.to_owned())
    .bind(r.request.to_owned())
    .bind(r.created_by.to_owned())
    .bind(to_db(now))
    .bind(items.len() as i64)
    .fetch_one(tx.conn())
    .await?;
    for chunk in items.chunks(INSERT_CHUNK) {
        let mut q = crate::sql::Sql::new(
            "INSERT INTO bulk_items (run_id, order_id, order_number, gateway, amount, state) VALUES ",
        );
        for (i, it) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .bind(id)
                .push(", ")
                .bind(it.order_id)
                .push(", ")
                .bind(it.order_number)
                .push(", ")
                .bind(it.gateway.map_or("", Gateway::code))
                .push(", ")
                .bind(it.amount)
                .push(", 'pending')");
        }
        let (text, args) = q.parts();
        sqlx::query_with(&text, args).execute(tx.conn()).await?;
    }
    Ok(id)
}

const RUN_COLS: &str = "r.id, r.shop_id, r.action, r.state, r.request_key, r.request, r.created_by, \
    r.created_at, r.finished_at, r.total, \
    CAST(COALESCE(SUM(CASE WHEN i.state = 'succeeded' THEN 1 ELSE 0 END), 0) AS BIGINT) AS succeeded, \
    CAST(COALESCE(SUM(CASE WHEN i.state = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS failed, \
    CAST(COALESCE(SUM(CASE WHEN i.state = 'skipped' THEN 1 ELSE 0 END), 0) AS BIGINT) AS skipped, \
    CAST(COALESCE(SUM(i.amount), 0) AS BIGINT) AS amount, \
    CAST(COALESCE(SUM(CASE WHEN i.state = 'succeeded' THEN i.amount ELSE 0 END), 0) AS BIGINT) \
    AS succeeded_amount";

const RUN_GROUP: &str = " GROUP BY r.id, r.shop_id, r.action, r.state, r.request_key, r.request, \
    r.created_by, r.created_at, r.finished_at, r.total";

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    shop_id: i64,
    action: String,
    state: String,
    request_key: String,
    request: String,
    created_by: String,
    created_at: String,
    finished_at: Option<String>,
    total: i64,
    succeeded: i64,
    failed: i64,
    skipped: i64,
    amount: i64,
    succeeded_amount: i64,
}

impl TryFrom<RunRow> for Run {
    type Error = StoreError;
    fn try_from(r: RunRow) -> Result<Run, StoreError> {
        Ok(Run {
            id: r.id,
            shop_id: r.shop_id,
            action: r.action,
            state: RunState::from_code(&r.state)?,
            request_key: r.request_key,
            request: r.request,
            created_by: r.created_by,
            created_at: ts(&r.created_at)?,
            finished_at: r.finished_at.as_deref().map(ts).transpose()?,
            total: r.total,
            succeeded: r.succeeded,
            failed: r.failed,
            skipped: r.skipped,
            amount: r.amount,
            succeeded_amount: r.succeeded_amount,
        })
    }
}

/// The shop's run `id`.
pub async fn get(
    conn: &mut AnyConnection,
    shop_id: i64,
    id: i64,
) -> Result<Option<Run>, StoreError> {
    let r: Option<RunRow> = sqlx::query_as(&format!(
        "SELECT {RUN_COLS} FROM bulk_runs r LEFT JOIN bulk_items i ON i.run_id = r.id \
         WHERE r.shop_id = $1 AND r.id = $2{RUN_GROUP}"
    ))
    .bind(shop_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    r.map(Run::try_from).transpose()
}

/// The shop's run started with `request_key`.
pub async fn by_key(
    conn: &mut AnyConnection,
    shop_id: i64,
    request_key: &str,
) -> Result<Option<Run>, StoreError> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM bulk_runs WHERE shop_id = $1 AND request_key = $2")
            .bind(shop_id)
            .bind(request_key.to_owned())
            .fetch_optional(&mut *conn)
            .await?;
    match id {
        Some(id) => get(conn, shop_id, id).await,
        None => Ok(None),
    }
}

/// 操作ログ: the shop's runs, newest first.
pub async fn list(
    conn: &mut AnyConnection,
    shop_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<Run>, StoreError> {
    let rows: Vec<RunRow> = sqlx::query_as(&format!(
        "SELECT {RUN_COLS} FROM bulk_runs r LEFT JOIN bulk_items i ON i.run_id = r.id \
         WHERE r.id IN (SELECT id FROM bulk_runs WHERE shop_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3)\
         {RUN_GROUP} ORDER BY r.id DESC"
    ))
    .bind(shop_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Run::try_from).collect()
}

pub async fn count(conn: &mut AnyConnection, shop_id: i64) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM bulk_runs WHERE shop_id = $1")
            .bind(shop_id)
            .fetch_one(conn)
            .await?,
    )
}

/// Runs some worker must finish, oldest first: (id, shop_id).
pub async fn open(conn: &mut AnyConnection) -> Result<Vec<(i64, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, shop_id FROM bulk_runs WHERE state IN ('running', 'stopping') ORDER BY id",
    )
    .fetch_all(conn)
    .await?)
}

const ITEM_COLS: &str = "id, run_id, order_id, order_number, gateway, amount, state, result_code, \
    message, operation_id, finished_at, claimed_by";

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: i64,
    run_id: i64,
    order_id: i64,
    order_number: i64,
    gateway: String,
    amount: i64,
    state: String,
    result_code: String,
    message: String,
    operation_id: Option<i64>,
    finished_at: Option<String>,
    claimed_by: String,
}

impl TryFrom<ItemRow> for Item {
    type Error = StoreError;
    fn try_from(r: ItemRow) -> Result<Item, StoreError> {
        Ok(Item {
            id: r.id,
            run_id: r.run_id,
            order_id: r.order_id,
            order_number: r.order_number,
            gateway: match r.gateway.as_str() {
                "" => None,
                g => Some(gateway_from(g)?),
            },
            amount: r.amount,
            state: ItemState::from_code(&r.state)
                .ok_or_else(|| corrupt(format!("bulk_items.state {}", r.state)))?,
            result_code: r.result_code,
            message: r.message,
            operation_id: r.operation_id,
            finished_at: r.finished_at.as_deref().map(ts).transpose()?,
            claimed_by: r.claimed_by,
        })
    }
}

/// 詳細ログ: a run's items in the order they were chosen, only those in `state` when given.
pub async fn items(
    conn: &mut AnyConnection,
    run_id: i64,
    state: Option<ItemState>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Item>, StoreError> {
    let rows: Vec<ItemRow> = sqlx::query_as(&format!(
        "SELECT {ITEM_COLS} FROM bulk_items WHERE run_id = $1 AND ($2 = '' OR state = $2) \
         ORDER BY id LIMIT $3 OFFSET $4"
    ))
    .bind(run_id)
    .bind(state.map(ItemState::code).unwrap_or_default())
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Item::try_from).collect()
}

/// Take up to `n` items of the run no worker holds, for `lease`: they are `worker`'s until
/// then. On PostgreSQL concurrent callers skip each other's rows (`SKIP LOCKED`); on
/// SQLite the transaction holds the write lock.
pub async fn claim(
    tx: &mut Tx,
    run_id: i64,
    n: i64,
    now: Timestamp,
    lease: SignedDuration,
    worker: &str,
) -> Result<Vec<Item>, StoreError> {
    let until = now.checked_add(lease).unwrap_or(now);
    // PostgreSQL may run an `IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` subquery more than
    // once, each time skipping what it locked before — and so take far more than `n` rows.
    // The chosen ids are materialized once instead. SQLite's transaction holds the write lock.
    let sql = match tx.backend {
        crate::Backend::Postgres => format!(
            "WITH picked AS MATERIALIZED (\
               SELECT id FROM bulk_items WHERE run_id = $3 AND state = 'pending' \
               AND (claimed_until IS NULL OR claimed_until < $4) ORDER BY id LIMIT $5 \
               FOR UPDATE SKIP LOCKED) \
             UPDATE bulk_items b SET claimed_until = $1, claimed_by = $2 FROM picked \
             WHERE b.id = picked.id RETURNING {}",
            ITEM_COLS
                .split(", ")
                .map(|c| format!("b.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        crate::Backend::Sqlite => format!(
            "UPDATE bulk_items SET claimed_until = $1, claimed_by = $2 WHERE id IN (\
               SELECT id FROM bulk_items WHERE run_id = $3 AND state = 'pending' \
               AND (claimed_until IS NULL OR claimed_until < $4) ORDER BY id LIMIT $5) \
             RETURNING {ITEM_COLS}"
        ),
    };
    let rows: Vec<ItemRow> = sqlx::query_as(&sql)
        .bind(to_db(until))
        .bind(worker.to_owned())
        .bind(run_id)
        .bind(to_db(now))
        .bind(n)
        .fetch_all(tx.conn())
        .await?;
    let mut items = rows
        .into_iter()
        .map(Item::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    items.sort_by_key(|i| i.id);
    Ok(items)
}

/// An item's result, for [`finish_items`].
pub struct Finished {
    pub item_id: i64,
    pub state: ItemState,
    pub result_code: String,
    pub message: String,
    pub operation_id: Option<i64>,
}

/// Record many items' results in one statement (a batch's, in its settlement's transaction).
/// Items no longer pending keep what they have.
pub async fn finish_items(
    conn: &mut AnyConnection,
    done: &[Finished],
    now: Timestamp,
) -> Result<(), StoreError> {
    for chunk in done.chunks(500) {
        let mut q = crate::sql::Sql::new(
            "WITH v (id, state, result_code, message, operation_id) AS (VALUES ",
        );
        for (i, f) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(CAST(" } else { ", (CAST(" });
            q.bind(f.item_id).push(" AS BIGINT), ");
            q.bind(f.state.code().to_owned()).push(", ");
            q.bind(f.result_code.clone()).push(", ");
            q.bind(f.message.clone()).push(", CAST(");
            q.bind(f.operation_id).push(" AS BIGINT))");
        }
        q.push(
            ") UPDATE bulk_items SET state = v.state, result_code = v.result_code, \
             message = v.message, operation_id = v.operation_id, finished_at = ",
        );
        q.bind(to_db(now)).push(
            ", claimed_until = NULL FROM v WHERE bulk_items.id = v.id AND bulk_items.state = 'pending'",
        );
        let (text, args) = q.parts();
        sqlx::query_with(&text, args).execute(&mut *conn).await?;
    }
    Ok(())
}

/// 中止: a running run stops taking items; `false` when it was not running.
pub async fn stop(conn: &mut AnyConnection, shop_id: i64, run_id: i64) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE bulk_runs SET state = 'stopping' WHERE shop_id = $1 AND id = $2 AND state = 'running'",
    )
    .bind(shop_id)
    .bind(run_id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// A stopping run's items that no worker holds are skipped.
pub async fn skip_unclaimed(
    conn: &mut AnyConnection,
    run_id: i64,
    now: Timestamp,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE bulk_items SET state = 'skipped', message = '中止により未実行', finished_at = $1 \
         WHERE run_id = $2 AND state = 'pending' AND (claimed_until IS NULL OR claimed_until < $1)",
    )
    .bind(to_db(now))
    .bind(run_id)
    .execute(conn)
    .await?
    .rows_affected())
}

/// A run with no item left pending ends: running → done, stopping → stopped.
pub async fn end_if_finished(
    conn: &mut AnyConnection,
    run_id: i64,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE bulk_runs SET state = CASE state WHEN 'stopping' THEN 'stopped' ELSE 'done' END, \
         finished_at = $1 WHERE id = $2 AND state IN ('running', 'stopping') \
         AND NOT EXISTS (SELECT 1 FROM bulk_items WHERE run_id = $2 AND state = 'pending')",
    )
    .bind(to_db(now))
    .bind(run_id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Where the run stands now (a worker checks before taking more).
pub async fn state(conn: &mut AnyConnection, run_id: i64) -> Result<RunState, StoreError> {
    let s: String = sqlx::query_scalar("SELECT state FROM bulk_runs WHERE id = $1")
        .bind(run_id)
        .fetch_one(conn)
        .await?;
    RunState::from_code(&s)
}

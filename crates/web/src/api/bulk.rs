//! 一括処理 over the API: start a run of one payment action over many orders (by number or
//! by a 受注管理 search), follow its progress, read each order's result, stop it. A run works
//! on after the request that started it; send an `Idempotency-Key` header and a repeated
//! start answers the first run.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use juchu_app::payments::{self, BulkInput, ItemView, RunView};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, Json, Path, Query};

/// Start a run: 売上確定 (`capture`), 取消 (`cancel`), 状態確認 (`refresh`), Paidy クローズ
/// (`paidy_close`) or 払い戻し (`refund`, all that was captured) on the orders named or found.
/// Each order goes through the single-order operation (its rules, journal and 変更履歴); a
/// capture is refused for an order whose total and payment differ (取引更新 first).
#[utoipa::path(post, path = "/api/v1/payments/bulk", tag = "payments", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body = BulkInput,
    responses((status = 202, description = "The run, started (or the first run of this key)", body = RunView),
        (status = 400, description = "`malformed_json`: the body is not JSON", body = ErrorBody),
        (status = 401, description = "No or unknown API token", body = ErrorBody),
        (status = 409, description = "`idempotency_key_reused`: the key started another run", body = ErrorBody),
        (status = 422, description = "`invalid_json`, or `invalid_input` (an action runs cannot take, unknown orders, no orders)", body = ErrorBody)))]
pub async fn start(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    headers: HeaderMap,
    Json(input): Json<BulkInput>,
) -> Result<(StatusCode, axum::Json<RunView>), ApiError> {
    let key = super::payments::idempotency_key(&headers);
    let run = payments::start_bulk(&s.app, &a, input, key).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(run)))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsParams {
    /// 1-based page (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Runs per page (1–500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

/// 操作ログ: the shop's runs, newest first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RunList {
    pub total: i64,
    pub runs: Vec<RunView>,
}

/// 操作ログ: the shop's runs, newest first, with their counts.
#[utoipa::path(get, path = "/api/v1/payments/bulk", tag = "payments", security(("bearer" = [])), params(RunsParams),
    responses((status = 200, body = RunList), (status = 401, description = "No or unknown API token", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Query(p): Query<RunsParams>,
) -> Result<axum::Json<RunList>, ApiError> {
    let (total, runs) =
        payments::bulk_runs(&s.app, &a, p.page.unwrap_or(1), p.per_page.unwrap_or(100)).await?;
    Ok(axum::Json(RunList { total, runs }))
}

/// One run: its state and counts (成功 / 失敗 / 未実行 / 残り) and amounts.
#[utoipa::path(get, path = "/api/v1/payments/bulk/{id}", tag = "payments", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The run's id")),
    responses((status = 200, body = RunView), (status = 401, description = "No or unknown API token", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(id): Path<i64>,
) -> Result<axum::Json<RunView>, ApiError> {
    Ok(axum::Json(payments::bulk_run(&s.app, &a, id).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemsParams {
    /// Only the orders in this state: `pending`, `succeeded`, `failed`, `skipped`.
    pub state: Option<String>,
    /// 1-based page (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Orders per page (1–1000, default 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub per_page: Option<i64>,
}

/// 詳細ログ: each order of a run with its result (「正常終了」 or 「エラーコード:xxx」).
#[utoipa::path(get, path = "/api/v1/payments/bulk/{id}/items", tag = "payments", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The run's id"), ItemsParams),
    responses((status = 200, body = Vec<ItemView>), (status = 401, description = "No or unknown API token", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 422, description = "`invalid_input`: an unknown state", body = ErrorBody)))]
pub async fn items(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(id): Path<i64>,
    Query(p): Query<ItemsParams>,
) -> Result<axum::Json<Vec<ItemView>>, ApiError> {
    Ok(axum::Json(
        payments::bulk_items(
            &s.app,
            &a,
            id,
            p.state.as_deref(),
            p.page.unwrap_or(1),
            p.per_page.unwrap_or(1000),
        )
        .await?,
    ))
}

/// 中止: orders not begun are skipped (未実行); those already sent finish.
#[utoipa::path(post, path = "/api/v1/payments/bulk/{id}/stop", tag = "payments", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The run's id")),
    responses((status = 200, body = RunView), (status = 401, description = "No or unknown API token", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "`bulk_run_ended`: the run has already ended", body = ErrorBody)))]
pub async fn stop(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(id): Path<i64>,
) -> Result<axum::Json<RunView>, ApiError> {
    Ok(axum::Json(payments::stop_bulk(&s.app, &a, id).await?))
}

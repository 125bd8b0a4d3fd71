use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use juchu_app::orders::{self, BulkResult, Intake, OrderDetail, OrderPatch, SearchPage};
use juchu_domain::Invalid;
use juchu_domain::history::HistoryEntry;
use juchu_domain::order::{Order, OrderInput};
use juchu_domain::search::SearchInput;
use juchu_domain::status::{OrderList, OrderStatus};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, Json, Path, Query};

/// 受注管理 search. Every field is optional; repeatable fields may be given several times.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])), params(SearchInput),
    responses((status = 200, body = SearchPage), (status = 422, body = ErrorBody)))]
pub async fn search(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Query(q): Query<SearchInput>,
) -> Result<axum::Json<SearchPage>, ApiError> {
    let (_, page) = orders::search(&s.app, &a, &q).await?;
    Ok(axum::Json(page))
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateParams {
    /// `true`: record an order placed elsewhere; stock is not touched.
    /// Otherwise (新規受注入力) the items' stock is taken, and a shortfall refuses the order.
    pub import: Option<bool>,
}

/// 新規受注入力 / import. Items may give only `product_code` and `quantity`; the rest comes
/// from the catalog. Totals are always computed by juchu.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])), params(CreateParams), request_body = OrderInput,
    responses((status = 201, body = Order), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Query(p): Query<CreateParams>,
    Json(input): Json<OrderInput>,
) -> Result<(StatusCode, axum::Json<Order>), ApiError> {
    let intake = if p.import == Some(true) {
        Intake::Import
    } else {
        Intake::Manual
    };
    let o = orders::create(&s.app, &a, input, intake).await?;
    Ok((StatusCode::CREATED, axum::Json(o)))
}

/// The order, with its payment at a glance (`payment`: state, ids, amounts; null before
/// one is made).
#[utoipa::path(get, path = "/api/v1/orders/{number}", tag = "orders", security(("bearer" = [])),
    params(("number" = i64, Path, description = "注文番号")),
    responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(number): Path<i64>,
) -> Result<axum::Json<OrderDetail>, ApiError> {
    Ok(axum::Json(orders::detail(&s.app, &a, number).await?))
}

/// 受注編集: change any fields; totals are recalculated. `version` must be the order's
/// current version, or nothing changes and the answer is 409 `stale_version`.
#[utoipa::path(patch, path = "/api/v1/orders/{number}", tag = "orders", security(("bearer" = [])),
    params(("number" = i64, Path, description = "注文番号")), request_body = OrderPatch,
    responses((status = 200, body = Order), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn edit(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(number): Path<i64>,
    Json(p): Json<OrderPatch>,
) -> Result<axum::Json<Order>, ApiError> {
    Ok(axum::Json(orders::edit(&s.app, &a, number, p).await?))
}

/// Logical delete: the order leaves every list; its record and history stay.
#[utoipa::path(delete, path = "/api/v1/orders/{number}", tag = "orders", security(("bearer" = [])),
    params(("number" = i64, Path, description = "注文番号")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(number): Path<i64>,
) -> Result<StatusCode, ApiError> {
    orders::delete(&s.app, &a, number, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// e.g. `shipped`, `cancelled`
    pub status: String,
    /// If given, the change is refused (409) unless the order is still at this version.
    pub version: Option<i64>,
}

fn parse_status(s: &str) -> Result<OrderStatus, Invalid> {
    OrderStatus::parse("status", s.trim())
}

/// Change 対応状況. Cancelling moves the items to the cancelled-order stock list and returns
/// used points; shipping sets 発送日 and grants earned points.
#[utoipa::path(post, path = "/api/v1/orders/{number}/status", tag = "orders", security(("bearer" = [])),
    params(("number" = i64, Path, description = "注文番号")), request_body = StatusChange,
    responses((status = 200, body = Order), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_status(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(number): Path<i64>,
    Json(c): Json<StatusChange>,
) -> Result<axum::Json<Order>, ApiError> {
    let to = parse_status(&c.status)?;
    Ok(axum::Json(
        orders::change_status(&s.app, &a, number, to, c.version).await?,
    ))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkStatusChange {
    pub numbers: Vec<i64>,
    pub status: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct BulkResponse {
    pub succeeded: usize,
    pub failed: usize,
    pub results: Vec<BulkResult>,
}

pub const MAX_BULK: usize = 10_000;

/// ステータス管理: change many orders; each gets its own result.
#[utoipa::path(post, path = "/api/v1/orders/status", tag = "orders", security(("bearer" = [])), request_body = BulkStatusChange,
    responses((status = 200, body = BulkResponse), (status = 422, body = ErrorBody)))]
pub async fn change_status_many(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Json(c): Json<BulkStatusChange>,
) -> Result<axum::Json<BulkResponse>, ApiError> {
    let to = parse_status(&c.status)?;
    if c.numbers.is_empty() || c.numbers.len() > MAX_BULK {
        return Err(Invalid::one(
            "numbers",
            "out_of_range",
            format!("注文番号を1〜{MAX_BULK}件指定してください"),
        )
        .into());
    }
    let results = orders::change_status_many(&s.app, &a, &c.numbers, to).await?;
    let succeeded = results.iter().filter(|r| r.ok).count();
    Ok(axum::Json(BulkResponse {
        succeeded,
        failed: results.len() - succeeded,
        results,
    }))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListMove {
    /// `open` (受注一覧), `completed` (受注完了一覧), `cancelled` (受注キャンセル一覧)
    pub list: String,
    /// The version the caller saw; a changed order is refused (409) instead of moved.
    #[serde(default)]
    pub version: Option<i64>,
}

/// Move the order to 受注完了一覧 / 受注キャンセル一覧, or back to 受注一覧.
#[utoipa::path(post, path = "/api/v1/orders/{number}/move", tag = "orders", security(("bearer" = [])),
    params(("number" = i64, Path, description = "注文番号")), request_body = ListMove,
    responses((status = 200, body = Order), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn move_to_list(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(number): Path<i64>,
    Json(m): Json<ListMove>,
) -> Result<axum::Json<Order>, ApiError> {
    let to = OrderList::parse("list", m.list.trim())?;
    Ok(axum::Json(
        orders::move_to_list(&s.app, &a, number, to, m.version).await?,
    ))
}

/// 変更履歴, newest first.
#[utoipa::path(get, path = "/api/v1/orders/{number}/history", tag = "orders", security(("bearer" = [])),
    params(("number" = i64, Path, description = "注文番号")),
    responses((status = 200, body = [HistoryEntry]), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(number): Path<i64>,
) -> Result<axum::Json<Vec<HistoryEntry>>, ApiError> {
    Ok(axum::Json(orders::history(&s.app, &a, number).await?))
}

/// CSV of a search (all pages), one row per order line, streamed.
#[utoipa::path(get, path = "/api/v1/orders/csv", tag = "orders", security(("bearer" = [])), params(crate::download::CsvParams, SearchInput),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = ErrorBody)))]
pub async fn csv(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Query(p): Query<crate::download::CsvParams>,
    Query(q): Query<SearchInput>,
) -> Result<Response, ApiError> {
    crate::download::orders_csv(&s, &a, &q, p.encoding.as_deref()).await
}

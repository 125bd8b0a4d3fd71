use axum::extract::State;
use axum::http::StatusCode;
use juchu_app::customers::{self, PointAdjustment};
use juchu_domain::customer::Customer;
use juchu_domain::customer::CustomerInput;
use juchu_domain::points::LedgerEntry;

use super::{ListParams, Page};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, Json, Path, Query};

/// 顧客管理: members whose name, kana, email or tel contains `q`.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = Page<Customer>)))]
pub async fn search(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Query(p): Query<ListParams>,
) -> Result<axum::Json<Page<Customer>>, ApiError> {
    let (page, per_page) = p.page();
    let (total, items) =
        customers::search(&s.app, &a, p.q.as_deref().unwrap_or(""), page, per_page).await?;
    Ok(axum::Json(Page {
        total,
        page,
        per_page,
        items,
    }))
}

#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", security(("bearer" = [])), request_body = CustomerInput,
    responses((status = 201, body = Customer), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Json(c): Json<CustomerInput>,
) -> Result<(StatusCode, axum::Json<Customer>), ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(customers::create(&s.app, &a, &c).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = Customer), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(id): Path<i64>,
) -> Result<axum::Json<Customer>, ApiError> {
    Ok(axum::Json(customers::get(&s.app, &a, id).await?))
}

/// The member's points ledger, newest first.
#[utoipa::path(get, path = "/api/v1/customers/{id}/points", tag = "customers", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = [LedgerEntry]), (status = 404, body = ErrorBody)))]
pub async fn ledger(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(id): Path<i64>,
) -> Result<axum::Json<Vec<LedgerEntry>>, ApiError> {
    Ok(axum::Json(customers::ledger(&s.app, &a, id).await?))
}

/// Correct a member's points by hand (never below zero).
#[utoipa::path(post, path = "/api/v1/customers/{id}/points", tag = "customers", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = PointAdjustment,
    responses((status = 200, body = Customer), (status = 422, body = ErrorBody)))]
pub async fn adjust_points(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(id): Path<i64>,
    Json(p): Json<PointAdjustment>,
) -> Result<axum::Json<Customer>, ApiError> {
    Ok(axum::Json(
        customers::adjust_points(&s.app, &a, id, &p).await?,
    ))
}

use axum::extract::State;
use axum::http::StatusCode;
use juchu_app::catalog::{self, VariantPatch};
use juchu_app::stock;
use juchu_domain::catalog::ProductInput;
use juchu_domain::catalog::{CancelledStock, Product, Variant};

use super::{ListParams, Page};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, Json, Path, Query};

/// 商品管理: products with their variants, newest first.
#[utoipa::path(get, path = "/api/v1/products", tag = "catalog", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = Page<Product>)))]
pub async fn list(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Query(p): Query<ListParams>,
) -> Result<axum::Json<Page<Product>>, ApiError> {
    let (page, per_page) = p.page();
    let (total, items) =
        catalog::list(&s.app, &a, p.q.as_deref().unwrap_or(""), page, per_page).await?;
    Ok(axum::Json(Page {
        total,
        page,
        per_page,
        items,
    }))
}

#[utoipa::path(post, path = "/api/v1/products", tag = "catalog", security(("bearer" = [])), request_body = ProductInput,
    responses((status = 201, body = Product), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Json(p): Json<ProductInput>,
) -> Result<(StatusCode, axum::Json<Product>), ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(catalog::create(&s.app, &a, &p).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "catalog", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = Product), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(id): Path<i64>,
) -> Result<axum::Json<Product>, ApiError> {
    Ok(axum::Json(catalog::get(&s.app, &a, id).await?))
}

/// Change a variant's price, tax rate or stock (`"stock": null` = unlimited).
#[utoipa::path(patch, path = "/api/v1/variants/{code}", tag = "catalog", security(("bearer" = [])),
    params(("code" = String, Path, description = "商品コード")), request_body = VariantPatch,
    responses((status = 200, body = Variant), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_variant(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(code): Path<String>,
    Json(p): Json<VariantPatch>,
) -> Result<axum::Json<Variant>, ApiError> {
    Ok(axum::Json(
        catalog::update_variant(&s.app, &a, &code, &p).await?,
    ))
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StockParams {
    /// Include lines already returned to stock.
    pub include_returned: Option<bool>,
}

/// キャンセル受注在庫管理: cancelled orders' items waiting to be returned to stock.
#[utoipa::path(get, path = "/api/v1/cancelled-stock", tag = "catalog", security(("bearer" = [])), params(StockParams),
    responses((status = 200, body = [CancelledStock])))]
pub async fn cancelled_stock(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Query(p): Query<StockParams>,
) -> Result<axum::Json<Vec<CancelledStock>>, ApiError> {
    Ok(axum::Json(
        stock::list(&s.app, &a, p.include_returned.unwrap_or(false)).await?,
    ))
}

/// Return one line to stock (once: a repeat gets 409 `already_returned`).
#[utoipa::path(post, path = "/api/v1/cancelled-stock/{id}/return", tag = "catalog", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = CancelledStock), (status = 409, body = ErrorBody)))]
pub async fn return_stock(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(id): Path<i64>,
) -> Result<axum::Json<CancelledStock>, ApiError> {
    Ok(axum::Json(stock::return_one(&s.app, &a, id).await?))
}

/// Return all of an order's open lines to stock, all or nothing.
#[utoipa::path(post, path = "/api/v1/orders/{number}/cancelled-stock/return", tag = "catalog", security(("bearer" = [])),
    params(("number" = i64, Path)), responses((status = 200, body = [CancelledStock]), (status = 409, body = ErrorBody)))]
pub async fn return_order_stock(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(number): Path<i64>,
) -> Result<axum::Json<Vec<CancelledStock>>, ApiError> {
    Ok(axum::Json(stock::return_order(&s.app, &a, number).await?))
}

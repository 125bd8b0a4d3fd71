//! 支払方法設定 and 配送方法 (SPEC §10): each payment method's settings, the gateways'
//! credentials (shown masked; an empty field keeps the stored value), and the delivery
//! methods with the payment methods they list. Reads are open to every operator (the
//! credentials to admins only); changes are for admins (403 otherwise).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use juchu_app::AppError;
use juchu_app::methods::{self, DeliveryInput, DeliveryMethod, MethodInput, MethodSettings};
use juchu_domain::payment_method::{Gateway, PaymentMethod};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, Json, Path};
use juchu_app::credentials::CredentialsView;

fn method_of(code: &str) -> Result<PaymentMethod, ApiError> {
    PaymentMethod::from_code(code).ok_or(ApiError(AppError::NotFound("支払方法")))
}

fn gateway_of(code: &str) -> Result<Gateway, ApiError> {
    juchu_domain::payment_method::Gateway::from_code(code)
        .ok_or(ApiError(AppError::NotFound("決済サービス")))
}

/// Every payment method's settings (`paygent_card`, `gmo_card`, `paidy`, … `cash_on_delivery`),
/// the defaults for those never saved.
#[utoipa::path(get, path = "/api/v1/shop/payment-methods", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = Vec<MethodSettings>)))]
pub async fn list(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
) -> Result<axum::Json<Vec<MethodSettings>>, ApiError> {
    Ok(axum::Json(methods::list(&s.app, &a).await?))
}

#[utoipa::path(get, path = "/api/v1/shop/payment-methods/{method}", tag = "settings", security(("bearer" = [])),
    params(("method" = String, Path, description = "支払方法コード（paygent_card …）")),
    responses((status = 200, body = MethodSettings), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(method): Path<String>,
) -> Result<axum::Json<MethodSettings>, ApiError> {
    let m = method_of(&method)?;
    Ok(axum::Json(
        methods::method_settings(&s.app, a.shop_id, m).await?,
    ))
}

/// Change a method's settings; fields left out keep their values. Every bad field is
/// reported (422). 売上確定方式 is for cards and Paidy, 支払回数 / 3Dセキュア / the attempt
/// control for cards only. Admin only.
#[utoipa::path(put, path = "/api/v1/shop/payment-methods/{method}", tag = "settings", security(("bearer" = [])),
    params(("method" = String, Path, description = "支払方法コード（paygent_card …）")),
    request_body = MethodInput,
    responses((status = 200, body = MethodSettings), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(method): Path<String>,
    Json(input): Json<MethodInput>,
) -> Result<axum::Json<MethodSettings>, ApiError> {
    let m = method_of(&method)?;
    Ok(axum::Json(methods::set(&s.app, &a, m, input).await?))
}

/// The gateways' credentials, masked: ids in full, secrets as `••••••1234`. Admin only.
#[utoipa::path(get, path = "/api/v1/shop/gateway-credentials", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = Vec<CredentialsView>), (status = 403, body = ErrorBody)))]
pub async fn credentials(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
) -> Result<axum::Json<Vec<CredentialsView>>, ApiError> {
    Ok(axum::Json(
        juchu_app::credentials::credentials_view(&s.app, &a).await?,
    ))
}

/// Set a gateway's (`paygent`, `gmo`, `paidy`) credentials: `{"field": "value"}`. An empty or
/// left-out field keeps the stored value. Paygent: merchant_id, connect_id, connect_password,
/// token_key, token_hash_key, three_ds_hash_key, notice_hash_key; GMO: shop_id, shop_pass,
/// site_id, site_pass; Paidy: public_key, secret_key. Stored encrypted. Admin only.
#[utoipa::path(put, path = "/api/v1/shop/gateway-credentials/{gateway}", tag = "settings", security(("bearer" = [])),
    params(("gateway" = String, Path, description = "paygent, gmo, paidy")),
    request_body = BTreeMap<String, String>,
    responses((status = 200, body = CredentialsView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_credentials(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(gateway): Path<String>,
    Json(input): Json<BTreeMap<String, String>>,
) -> Result<axum::Json<CredentialsView>, ApiError> {
    let g = gateway_of(&gateway)?;
    Ok(axum::Json(
        methods::set_credentials(&s.app, &a, g, input).await?,
    ))
}

/// 配送方法 in display order. `fee: null` = 送料別途見積 (no payment through a gateway is
/// offered with it).
#[utoipa::path(get, path = "/api/v1/shop/delivery-methods", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = Vec<DeliveryMethod>)))]
pub async fn deliveries(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
) -> Result<axum::Json<Vec<DeliveryMethod>>, ApiError> {
    Ok(axum::Json(methods::deliveries(&s.app, a.shop_id).await?))
}

/// Add a delivery method. Admin only.
#[utoipa::path(post, path = "/api/v1/shop/delivery-methods", tag = "settings", security(("bearer" = [])),
    request_body = DeliveryInput,
    responses((status = 201, body = DeliveryMethod), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_delivery(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Json(input): Json<DeliveryInput>,
) -> Result<(StatusCode, axum::Json<DeliveryMethod>), ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(methods::save_delivery(&s.app, &a, None, input).await?),
    ))
}

/// Replace a delivery method (`position` left out: unchanged). Admin only.
#[utoipa::path(put, path = "/api/v1/shop/delivery-methods/{id}", tag = "settings", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = DeliveryInput,
    responses((status = 200, body = DeliveryMethod), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_delivery(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(id): Path<i64>,
    Json(input): Json<DeliveryInput>,
) -> Result<axum::Json<DeliveryMethod>, ApiError> {
    Ok(axum::Json(
        methods::save_delivery(&s.app, &a, Some(id), input).await?,
    ))
}

/// Remove a delivery method. Admin only.
#[utoipa::path(delete, path = "/api/v1/shop/delivery-methods/{id}", tag = "settings", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn delete_delivery(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    methods::delete_delivery(&s.app, &a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

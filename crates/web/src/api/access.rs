use axum::extract::State;
use axum::http::StatusCode;
use juchu_app::access::{self, NewUser};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, ClientAddr, Json};

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub login: String,
    pub password: String,
    /// What the token is for (shown in histories), e.g. `受注取込バッチ`.
    pub name: String,
    /// Days the token lives (1–3650); absent: until revoked.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <token>`. Shown only once.
    pub token: String,
}

/// Trade a login and password for an API token. Failed attempts are throttled per login and
/// per address like sign-ins (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "access", request_body = TokenRequest,
    responses((status = 201, body = TokenResponse),
        (status = 400, description = "`malformed_json`", body = ErrorBody),
        (status = 401, description = "Wrong login or password", body = ErrorBody),
        (status = 422, description = "`invalid_json` or `invalid_input`", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: wait `Retry-After` seconds", body = ErrorBody)))]
pub async fn issue_token(
    State(s): State<AppState>,
    ClientAddr(from): ClientAddr,
    Json(r): Json<TokenRequest>,
) -> Result<(StatusCode, axum::Json<TokenResponse>), ApiError> {
    let token = access::issue_token(
        &s.app,
        &r.login,
        &r.password,
        &r.name,
        r.expires_in_days,
        &from,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(TokenResponse { token })))
}

/// The API tokens the caller may see — an admin, every user's of the shop; an operator, their
/// own — with when each was made, expires, or was revoked. Never the tokens themselves.
#[utoipa::path(get, path = "/api/v1/auth/tokens", tag = "access", security(("bearer" = [])),
    responses((status = 200, body = Vec<juchu_app::access::TokenInfo>), (status = 401, body = ErrorBody)))]
pub async fn tokens(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
) -> Result<axum::Json<Vec<juchu_app::access::TokenInfo>>, ApiError> {
    Ok(axum::Json(access::tokens(&s.app, &a).await?))
}

/// Revoke an API token at once (an admin any of the shop's, an operator their own).
#[utoipa::path(delete, path = "/api/v1/auth/tokens/{id}", tag = "access", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, description = "No such live token", body = ErrorBody)))]
pub async fn revoke_token(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    crate::extract::Path(id): crate::extract::Path<i64>,
) -> Result<StatusCode, ApiError> {
    access::revoke_token(&s.app, &a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Me {
    pub shop_id: i64,
    pub shop_code: String,
    pub name: String,
    pub is_admin: bool,
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/v1/me", tag = "access", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
) -> Result<axum::Json<Me>, ApiError> {
    let shop = juchu_app::shops::get(&s.app, &a).await?;
    Ok(axum::Json(Me {
        shop_id: shop.id,
        shop_code: shop.code,
        name: a.name,
        is_admin: a.is_admin,
    }))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: i64,
    pub login: String,
    pub name: String,
    /// `admin` or `operator`
    pub role: String,
    pub disabled: bool,
}

/// Admin users of the shop (admins only).
#[utoipa::path(get, path = "/api/v1/users", tag = "access", security(("bearer" = [])),
    responses((status = 200, body = [UserView]), (status = 403, body = ErrorBody)))]
pub async fn list_users(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
) -> Result<axum::Json<Vec<UserView>>, ApiError> {
    let users = access::list_users(&s.app, &a).await?;
    Ok(axum::Json(
        users
            .into_iter()
            .map(|u| UserView {
                id: u.id,
                login: u.login,
                name: u.name,
                role: u.role.code().to_owned(),
                disabled: u.disabled,
            })
            .collect(),
    ))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Created {
    pub id: i64,
}

/// Add an admin user (admins only).
#[utoipa::path(post, path = "/api/v1/users", tag = "access", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, body = Created), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_user(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Json(u): Json<NewUser>,
) -> Result<(StatusCode, axum::Json<Created>), ApiError> {
    let id = access::add_user(&s.app, &a, &u).await?;
    Ok((StatusCode::CREATED, axum::Json(Created { id })))
}

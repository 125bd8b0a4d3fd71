//! Request extractors whose rejections speak the API's error format.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use juchu_app::{Actor, AppError};

use crate::AppState;
use crate::error::{ApiError, body};

/// JSON body; a malformed or mistyped body gets 400/422 naming the problem.
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(r) => {
                let status = r.status();
                let code = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                    StatusCode::BAD_REQUEST => "malformed_json",
                    _ => "invalid_json",
                };
                let message = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => format!(
                        "リクエストが大きすぎます（{}MBまで）",
                        crate::MAX_BODY / 1024 / 1024
                    ),
                    _ => r.body_text(),
                };
                Err(body(status, code, message, vec![]))
            }
        }
    }
}

/// A JSON body read by hand (an optional body): the same answers as [`Json`] — 400
/// `malformed_json` when it is not JSON, 422 `invalid_json` when it is JSON of the wrong shape.
pub fn json_error(e: &serde_json::Error) -> Response {
    use serde_json::error::Category;
    let (status, code) = match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            (StatusCode::BAD_REQUEST, "malformed_json")
        }
        Category::Data => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_json"),
    };
    body(status, code, e.to_string(), vec![])
}

/// The client's IP address, as the connection shows it (`serve` runs with connect info;
/// `unknown` without it). Proxies' headers are not believed: behind a load balancer every
/// client shares its address, and throttling per address then throttles the balancer.
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".to_owned()),
        ))
    }
}

/// Path parameters; one that does not parse (`/orders/abc`, a number past i64) gets 400
/// `invalid_path` in the API's error format instead of axum's plain text.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(r) => Err(body(
                StatusCode::BAD_REQUEST,
                "invalid_path",
                r.body_text(),
                vec![],
            )),
        }
    }
}

/// Query string with repeatable keys (`status=new&status=paid`).
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum_extra::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum_extra::extract::Query(v)) => Ok(Query(v)),
            Err(r) => Err(body(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                r.body_text(),
                vec![],
            )),
        }
    }
}

/// The operator behind `Authorization: Bearer <token>`.
pub struct ApiActor(pub Actor);

impl FromRequestParts<AppState> for ApiActor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(token) = token else {
            return Err(ApiError(AppError::Unauthenticated).into_response());
        };
        juchu_app::access::api_actor(&s.app, token)
            .await
            .map(ApiActor)
            .map_err(|e| ApiError(e).into_response())
    }
}

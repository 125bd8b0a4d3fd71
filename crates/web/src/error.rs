use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use juchu_app::AppError;
use juchu_domain::FieldError;

/// The API's error: `{"error": {"code", "message", "fields": [...]}}` with a fitting status.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl From<juchu_domain::Invalid> for ApiError {
    fn from(e: juchu_domain::Invalid) -> Self {
        ApiError(AppError::Invalid(e))
    }
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `invalid_input`, `stale_version`, `not_found`.
    pub code: String,
    /// What happened, in Japanese.
    pub message: String,
    /// The rejected fields, for `invalid_input`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// The order's current version, for `stale_version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
}

pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Refused(_) | AppError::Stale { .. } | AppError::Conflict { .. } => {
            StatusCode::CONFLICT
        }
        AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
        AppError::Forbidden => StatusCode::FORBIDDEN,
        AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Store(_) | AppError::Internal(_) | AppError::Unrecorded { .. } => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// The message shown for an error; internals are logged, never shown.
pub fn public_message(e: &AppError) -> String {
    match e {
        AppError::Store(_) | AppError::Internal(_) => {
            tracing::error!(error = %e, "request failed");
            "内部エラーが発生しました。処理は行われていません。時間をおいて再度お試しください"
                .to_owned()
        }
        AppError::Unrecorded {
            operation_id,
            cause,
        } => {
            tracing::error!(operation = operation_id, error = %cause, "outcome not recorded");
            e.to_string()
        }
        e => e.to_string(),
    }
}

pub fn body(status: StatusCode, code: &str, message: String, fields: Vec<FieldError>) -> Response {
    let b = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message,
            fields,
            current_version: None,
        },
    };
    (status, Json(b)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = status_of(&e);
        let message = public_message(&e);
        let mut b = ErrorBody {
            error: ErrorDetail {
                code: e.code().to_owned(),
                message,
                fields: vec![],
                current_version: None,
            },
        };
        let mut retry_after = None;
        match e {
            AppError::Invalid(i) => b.error.fields = i.0,
            AppError::Stale { current } => b.error.current_version = Some(current),
            AppError::TooManyAttempts {
                retry_after_secs, ..
            } => retry_after = Some(retry_after_secs),
            _ => {}
        }
        let mut r = (status, Json(b)).into_response();
        if let Some(secs) = retry_after
            && let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string())
        {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

//! juchu over HTTP: the JSON API under `/api/v1` (bearer tokens), its OpenAPI document, the
//! admin UI under `/admin` (session cookie + CSRF token), `/healthz` and `/metrics`.

mod api;
mod csrf;
mod download;
mod error;
mod extract;
mod guard;
mod metrics;
mod notify;
mod openapi;
mod serve;
mod storefront;
mod ui;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::routing::get;
use juchu_app::App;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use serve::{HEADER_READ_TIMEOUT, serve};

/// Largest request body accepted (an order with 500 lines fits many times over).
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// How long a request body may take to arrive.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers every answer carries: no page of juchu is framed by another site (clickjacking),
/// no answer is read as another type than it says, and none is kept by a browser or proxy
/// cache (they carry buyers' names and addresses). A handler that chose its own
/// Cache-Control (a download) keeps it.
async fn security_headers(mut r: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let h = r.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        );
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub metrics: metrics::Metrics,
    pub ui: std::sync::Arc<ui::Templates>,
    /// Mark cookies `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// How old a `pending` payment operation must be before recovery settles it.
    pub recovery_grace: std::time::Duration,
}

pub struct WebConfig {
    pub secure_cookies: bool,
    pub recovery_grace: std::time::Duration,
}

pub fn router(app: App, cfg: WebConfig) -> Router {
    let state = AppState {
        app,
        metrics: metrics::Metrics::new(),
        ui: std::sync::Arc::new(ui::Templates::new()),
        secure_cookies: cfg.secure_cookies,
        recovery_grace: cfg.recovery_grace,
    };
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route("/", get(|| async { axum::response::Redirect::to("/admin") }))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .route("/api/openapi.json", get(openapi::document))
        .route("/notify/{shop}/paygent", axum::routing::post(notify::paygent))
        .route("/notify/{shop}/gmo", axum::routing::post(notify::gmo))
        .route("/notify/{shop}/paidy", axum::routing::post(notify::paidy))
        .nest(
            "/api/v1",
            api::routes().layer(axum::middleware::from_fn_with_state(
                state.clone(),
                guard::api,
            )),
        )
        .nest(
            "/admin",
            ui::routes().layer(axum::middleware::from_fn_with_state(
                state.clone(),
                guard::pages,
            )),
        )
        .nest(
            "/store/{shop}",
            storefront::routes().layer(axum::middleware::from_fn_with_state(
                state.clone(),
                guard::pages,
            )),
        )
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        // A declared body over the limit is refused before any of it is read; one that
        // trickles in is given up on.
        .layer(axum::middleware::from_fn(guard::declared_size))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(BODY_READ_TIMEOUT))
        .layer(axum::middleware::map_response(security_headers))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, Duration::from_secs(120)))
        .with_state(state)
}

async fn healthz(
    axum::extract::State(s): axum::extract::State<AppState>,
) -> Result<&'static str, ApiError> {
    s.app.check_health().await?;
    Ok("ok")
}

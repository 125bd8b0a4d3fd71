//! Connectors to the payment gateways. Each speaks its gateway's real public protocol, so
//! pointing juchu at a real gateway is configuration only (base URL and credentials).
//!
//! The one rule every connector keeps: a request whose outcome cannot be known (timeout,
//! connection dropped after sending, 5xx) is reported as `GatewayError::Unknown`, never as a
//! failure. The caller resolves it by asking the gateway (GMO SearchTrade, Paygent 094,
//! Paidy GET), never by sending the operation again.

mod api;
mod error;
pub mod gmo;
pub mod paidy;
pub mod paygent;
mod secret;

use std::time::Duration;

pub use api::{
    AuthorizeOutcome, AuthorizeRequest, CardRef, Gateway, GatewayKind, GatewayStatus, GmoMethod,
    Installments, LaterMethod, LaterRequest, PaymentRef, PaymentSlip, PaymentState, StoredCard,
};
pub use error::GatewayError;
pub use secret::Secret;

/// How long to wait for a gateway's answer. Past it the outcome is unknown.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP client the connectors share: one connection pool, no redirects (a gateway that
/// redirects is misconfigured), a user agent that names juchu.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, GatewayError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("juchu/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| GatewayError::Config(format!("HTTP client: {e}")))
}

/// Classify a transport error: was the request surely not processed, or is the outcome
/// unknown?
pub(crate) fn transport_error(e: reqwest::Error) -> GatewayError {
    if e.is_connect() || e.is_builder() {
        GatewayError::NotSent {
            reason: e.to_string(),
        }
    } else {
        GatewayError::Unknown {
            reason: if e.is_timeout() {
                "応答がタイムアウトしました".to_owned()
            } else {
                format!("通信が途中で切断されました（{e}）")
            },
        }
    }
}

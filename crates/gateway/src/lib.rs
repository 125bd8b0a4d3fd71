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
    Installments, LaterMethod, LaterRequest, OrderContents, OrderLine, PaymentRef, PaymentSlip,
    PaymentState, StoredCard,
};
pub use error::GatewayError;
pub(crate) use error::yen;
pub use secret::Secret;

/// How long to wait for a gateway's answer. Past it the outcome is unknown.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP client the connectors share: one connection pool, no redirects (a gateway that
/// redirects is misconfigured), a user agent that names juchu.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, GatewayError> {
    http_builder(timeout)
        .build()
        .map_err(|e| GatewayError::Config(format!("HTTP client: {e}")))
}

/// The shared client's settings, for a connector to add to (Paygent's client certificate).
pub(crate) fn http_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("juchu/", env!("CARGO_PKG_VERSION")))
}

/// Classify a transport error: was the request surely not processed, or is the outcome
/// unknown?
pub(crate) fn transport_error(e: reqwest::Error) -> GatewayError {
    // The operator reads this: the gateway's URL is configuration, not news.
    let e = e.without_url();
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

/// Send a request and read the whole answer. A transport failure is classified by
/// `transport_error`; a 5xx may come after the gateway committed, so it is an unknown outcome
/// too. `gateway` names the gateway in messages.
pub(crate) async fn exchange(
    req: reqwest::RequestBuilder,
    gateway: &str,
) -> Result<(reqwest::StatusCode, bytes::Bytes), GatewayError> {
    let res = req.send().await.map_err(transport_error)?;
    let status = res.status();
    let body = res.bytes().await.map_err(transport_error)?;
    if status.is_server_error() {
        return Err(GatewayError::Unknown {
            reason: format!("{gateway}がHTTP {status}を返しました"),
        });
    }
    Ok((status, body))
}

/// POST a Windows-31J form (GMO-PG, Paygent) and return the answer as text.
pub(crate) async fn post_sjis_form(
    http: &reqwest::Client,
    url: &str,
    pairs: &[(&str, &str)],
    gateway: &str,
) -> Result<String, GatewayError> {
    use juchu_wire::form::{self, Charset};
    let req = http
        .post(url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=Windows-31J",
        )
        .body(form::encode(pairs, Charset::ShiftJis));
    let (status, body) = exchange(req, gateway).await?;
    if !status.is_success() {
        return Err(GatewayError::Protocol(format!("HTTP {status} from {url}")));
    }
    Ok(Charset::ShiftJis.decode(&body).0)
}

/// Is a refusal's code the gateway's "busy, try again later" — nothing happened, and the same
/// request may succeed later — rather than an answer about the payment? Per each gateway's code
/// table (Paygent E002 / 9004 / 9005 / 2003 / 2008 / 9103, GMO E92… / 42C…, Paidy 429 / 503).
pub fn busy(g: juchu_domain::payment_method::Gateway, code: &str) -> bool {
    use juchu_domain::payment_method::Gateway;
    !code.is_empty()
        && match g {
            Gateway::Paygent => paygent::retryable(code),
            Gateway::Gmo => gmo::errors::retryable(code),
            Gateway::Paidy => code == "429" || code == "503",
        }
}

//! `/_sandbox`: the control API tests and people use to drive the sandbox — the clock,
//! faults, actions done on a gateway's own admin screen, and a dump of the ledger.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::faults::Fault;
use crate::{Sandbox, gmo, paidy};

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/", get(crate::view::index))
        .route("/view/gmo", get(crate::view::gmo))
        .route("/view/paidy", get(crate::view::paidy))
        .route("/view/paygent", get(crate::view::paygent))
        .route("/clock", get(clock).post(set_clock))
        .route("/faults", get(faults).post(add_fault).delete(clear_faults))
        .route("/ledger", get(ledger))
        .route(
            "/notifications",
            get(notifications).post(set_notification_url),
        )
        .route("/gmo/{order_id}/admin", post(gmo_admin))
        .route("/gmo/{order_id}/pay", post(gmo_pay))
        .route("/gmo/{order_id}/expire", post(gmo_expire))
        .route("/gmo/{order_id}/fail", post(gmo_fail))
        .route("/paidy/{id}/capture", post(paidy_capture))
        .route("/paygent/{payment_id}/pay", post(paygent_pay))
        .route("/paygent/{payment_id}/admin", post(paygent_admin))
        .route("/paygent/{payment_id}/expire", post(paygent_expire))
        .route("/paygent/asp/{trading_id}/pay", post(paygent_pay_asp))
        .route("/paidy/{id}/close", post(paidy_close))
}

/// The control API moves money in the simulation (a konbini order paid, a clock a year on):
/// only a caller on this machine may use it. A server that does not say who is calling (no
/// connect info) is the caller's own test harness.
pub async fn loopback_only(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    match peer {
        Some(ip) if !ip.is_loopback() => (
            StatusCode::FORBIDDEN,
            "the sandbox control API answers only on this machine (loopback)",
        )
            .into_response(),
        _ => next.run(req).await,
    }
}

fn bad(msg: impl Into<String>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"error": msg.into()})),
    )
        .into_response()
}

fn clock_view(sb: &Sandbox) -> serde_json::Value {
    let now = sb.clock.now();
    json!({
        "now": now.to_string(),
        "jst": now.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(9))).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        "frozen": sb.clock.is_frozen(),
    })
}

async fn clock(State(sb): State<Sandbox>) -> Json<serde_json::Value> {
    Json(clock_view(&sb))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    /// Jump to this instant (RFC 3339, e.g. `2024-08-31T23:59:00+09:00`).
    set: Option<String>,
    /// Move forward (or back, if negative) by this many seconds.
    advance_secs: Option<i64>,
    /// Stop the clock (true) or let it run (false); default: keep.
    freeze: Option<bool>,
}

async fn set_clock(State(sb): State<Sandbox>, Json(c): Json<ClockChange>) -> Response {
    if let Some(s) = &c.set {
        let t: Timestamp = match s
            .parse::<jiff::Zoned>()
            .map(|z| z.timestamp())
            .or_else(|_| s.parse())
        {
            Ok(t) => t,
            Err(e) => return bad(format!("set: not an RFC 3339 instant: {e}")),
        };
        sb.clock.set(t, c.freeze.unwrap_or(sb.clock.is_frozen()));
    } else if let Some(f) = c.freeze {
        let now = sb.clock.now();
        sb.clock.set(now, f);
    }
    if let Some(secs) = c.advance_secs {
        sb.clock.advance(SignedDuration::from_secs(secs));
    }
    // What the new time makes due happens now, not at the next tick.
    gmo::sweep(&sb);
    Json(clock_view(&sb)).into_response()
}

async fn faults(State(sb): State<Sandbox>) -> Json<Vec<Fault>> {
    Json(sb.faults.list())
}

async fn add_fault(State(sb): State<Sandbox>, Json(f): Json<Fault>) -> Response {
    if !["gmo", "paidy", "paygent"].contains(&f.gateway.as_str()) {
        return bad("gateway must be gmo, paidy or paygent");
    }
    sb.faults.add(f);
    (StatusCode::CREATED, Json(sb.faults.list())).into_response()
}

async fn clear_faults(State(sb): State<Sandbox>) -> StatusCode {
    sb.faults.clear();
    StatusCode::NO_CONTENT
}

async fn ledger(State(sb): State<Sandbox>) -> Json<serde_json::Value> {
    let st = sb.state();
    let mut gmo: Vec<&gmo::Tran> = st.gmo.trans.values().collect();
    gmo.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    let mut paidy: Vec<&paidy::Payment> = st.paidy.payments.values().collect();
    paidy.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let mut members: Vec<&gmo::Member> = st.gmo.members.values().collect();
    members.sort_by(|a, b| a.member_id.cmp(&b.member_id));
    let paygent: Vec<&crate::paygent::Payment> = st.paygent.payments.iter().collect();
    Json(json!({ "gmo": gmo, "gmo_members": members, "paidy": paidy, "paygent": paygent }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminAction {
    /// `capture`, `cancel`, `change_amount`
    action: String,
    amount: Option<i64>,
}

async fn gmo_admin(
    State(sb): State<Sandbox>,
    Path(order_id): Path<String>,
    Json(a): Json<AdminAction>,
) -> Response {
    match gmo::admin_action(&sb, &order_id, &a.action, a.amount) {
        Ok(t) => Json(t).into_response(),
        Err(e) => bad(e),
    }
}

/// Closed on Paidy's merchant dashboard (the manuals warn shops not to; reconciliation must
/// notice).
async fn paidy_close(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    match paidy::admin_close(&sb, &id) {
        Ok(p) => Json(p).into_response(),
        Err(e) => bad(e),
    }
}

/// The buyer pays a konbini / Pay-easy request.
async fn gmo_pay(State(sb): State<Sandbox>, Path(order_id): Path<String>) -> Response {
    match gmo::buyer_pays(&sb, &order_id) {
        Ok(t) => Json(t).into_response(),
        Err(e) => bad(e),
    }
}

async fn notifications(State(sb): State<Sandbox>) -> Json<Vec<crate::notify::Notification>> {
    Json(sb.notifier.list())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationUrl {
    /// `gmo` (結果通知) or `paidy` (webhooks)
    gateway: String,
    /// Where to POST; null stops notifications.
    url: Option<String>,
}

async fn set_notification_url(
    State(sb): State<Sandbox>,
    Json(n): Json<NotificationUrl>,
) -> Response {
    if !["gmo", "paidy", "paygent"].contains(&n.gateway.as_str()) {
        return bad("gateway must be gmo, paidy or paygent");
    }
    if let Some(u) = &n.url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        return bad("url must be http(s)");
    }
    sb.notifier.set_url(&n.gateway, n.url);
    StatusCode::NO_CONTENT.into_response()
}

/// The buyer never pays a konbini / Pay-easy request.
async fn gmo_expire(State(sb): State<Sandbox>, Path(order_id): Path<String>) -> Response {
    match gmo::expire_now(&sb, &order_id) {
        Ok(t) => Json(t).into_response(),
        Err(e) => bad(e),
    }
}

/// Captured on Paidy's merchant dashboard (the manual tells shops not to).
async fn paidy_capture(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    match paidy::admin_capture(&sb, &id) {
        Ok(p) => Json(p).into_response(),
        Err(e) => bad(e),
    }
}

async fn gmo_fail(State(sb): State<Sandbox>, Path(order_id): Path<String>) -> Response {
    match gmo::payment_fails(&sb, &order_id) {
        Ok(t) => Json(t).into_response(),
        Err(e) => bad(e),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PaygentPay {
    /// Konbini with preliminary reports: 10 → 43 first (call again for 43 → 40).
    #[serde(default)]
    preliminary: bool,
}

/// The buyer pays a Paygent konbini / ATM payment.
async fn paygent_pay(
    State(sb): State<Sandbox>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let p: PaygentPay = if body.is_empty() {
        PaygentPay::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(p) => p,
            Err(e) => return bad(e.to_string()),
        }
    };
    match crate::paygent::pay(&sb, &id, p.preliminary) {
        Ok(x) => Json(x).into_response(),
        Err(e) => bad(e),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PaygentAdmin {
    /// `capture`, `cancel` or `amount`.
    action: String,
    amount: Option<i64>,
}

/// A merchant's action in Paygent's own console.
async fn paygent_admin(
    State(sb): State<Sandbox>,
    Path(id): Path<String>,
    Json(a): Json<PaygentAdmin>,
) -> Response {
    match crate::paygent::admin(&sb, &id, &a.action, a.amount) {
        Ok(x) => Json(x).into_response(),
        Err(e) => bad(e),
    }
}

async fn paygent_expire(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    match crate::paygent::lapse(&sb, &id) {
        Ok(x) => Json(x).into_response(),
        Err(e) => bad(e),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PaygentAsp {
    bank_code: String,
}

/// The buyer picks a bank on a net-bank ASP page and pays.
async fn paygent_pay_asp(
    State(sb): State<Sandbox>,
    Path(trading_id): Path<String>,
    Json(a): Json<PaygentAsp>,
) -> Response {
    match crate::paygent::pay_asp(&sb, &trading_id, &a.bank_code) {
        Ok(x) => Json(x).into_response(),
        Err(e) => bad(e),
    }
}

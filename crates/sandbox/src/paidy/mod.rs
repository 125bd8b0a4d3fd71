//! Paidy, JSON over HTTPS: `POST /paidy/payments` (token payments), `GET /paidy/payments/{id}`,
//! `POST …/captures`, `…/refunds`, `…/close`, `PUT /paidy/payments/{id}`. Bearer secret
//! key. Errors `{reference, status, code, title, description}`.
//!
//! Rules: capture only an open (`authorized`) payment before `expires_at`, for its whole
//! amount (the payment closes); refunds only against a capture, up to what is captured and
//! not yet refunded; close only an open payment; the update may change the order and amount
//! of an open payment, an increase by at most 10% of the authorized amount (seed 002).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::faults::{Before, Refuse};
use crate::{Sandbox, ids};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Default)]
pub struct Item {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub quantity: i64,
    pub unit_price: i64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Default)]
pub struct Order {
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(default)]
    pub tax: Option<i64>,
    #[serde(default)]
    pub shipping: Option<i64>,
    #[serde(default)]
    pub order_ref: Option<String>,
    #[serde(default, skip_deserializing)]
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Capture {
    pub id: String,
    pub created_at: String,
    pub amount: i64,
    pub tax: Option<i64>,
    pub shipping: Option<i64>,
    pub items: Vec<Item>,
    pub metadata: Value,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Refund {
    pub id: String,
    pub created_at: String,
    pub capture_id: String,
    pub amount: i64,
    /// As sent; `unknown` when the shop sent none, as Paidy answers.
    pub reason: String,
    pub metadata: Value,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Payment {
    pub id: String,
    pub created_at: String,
    pub expires_at: String,
    pub amount: i64,
    pub currency: String,
    pub description: Option<String>,
    pub store_name: Option<String>,
    pub test: bool,
    /// `authorized`, `closed`, `rejected`
    pub status: String,
    pub tier: String,
    pub buyer: Value,
    pub order: Order,
    pub shipping_address: Value,
    pub captures: Vec<Capture>,
    pub refunds: Vec<Refund>,
    pub metadata: Value,
    /// The amount authorized at creation: the base of the +10% update limit.
    #[serde(skip)]
    pub authorized_amount: i64,
    #[serde(skip)]
    pub expires: Timestamp,
}

#[derive(Debug, Default)]
pub struct Ledger {
    pub payments: HashMap<String, Payment>,
}

/// A Paidy error answer.
pub struct ApiErr {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    description: String,
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({
                // Error references are `err_…` (`ref_…` names a refund).
                "reference": format!("err_{}", ids::hex(8)),
                "status": self.status.as_u16(),
                "code": self.code,
                "title": self.title,
                "description": self.description,
            })),
        )
            .into_response()
    }
}

fn err(
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    description: impl Into<String>,
) -> ApiErr {
    ApiErr {
        status,
        code,
        title,
        description: description.into(),
    }
}

fn invalid(description: impl Into<String>) -> ApiErr {
    err(
        StatusCode::BAD_REQUEST,
        "request_entity.invalid",
        "Invalid request entity",
        description,
    )
}

fn not_found(id: &str) -> ApiErr {
    err(
        StatusCode::NOT_FOUND,
        "resource.not_found",
        "Resource not found",
        format!("payment {id} does not exist"),
    )
}

fn conflict(description: impl Into<String>) -> ApiErr {
    err(
        StatusCode::BAD_REQUEST,
        "payment.invalid_state",
        "Invalid payment state",
        description,
    )
}

mod checkout;

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/js/paidy.js", get(checkout::script))
        .route("/checkout/authorize", post(checkout::authorize))
        .route("/payments", post(create))
        .route("/payments/{id}", get(retrieve).put(update))
        .route("/payments/{id}/captures", post(capture))
        .route("/payments/{id}/refunds", post(refund))
        .route("/payments/{id}/close", post(close))
}

fn authorized(sb: &Sandbox, h: &HeaderMap) -> Result<(), ApiErr> {
    let key = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if key == Some(sb.config.paidy_secret_key.as_str()) {
        Ok(())
    } else {
        Err(err(
            StatusCode::UNAUTHORIZED,
            "authentication.failed",
            "Authentication failed",
            "the secret key is missing or wrong",
        ))
    }
}

pub(super) fn iso(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The API version an answer says it speaks: the one asked for, or Paidy's current one.
const PAIDY_VERSION: &str = "2018-04-10";

/// Faults and auth around a handler body that runs with the ledger locked. Every answer
/// carries `Paidy-Version` and a `Request-Id`, as Paidy's do.
async fn guarded(
    sb: &Sandbox,
    h: &HeaderMap,
    op: &str,
    f: impl FnOnce(&mut Ledger, Timestamp) -> Result<Payment, ApiErr>,
) -> Response {
    let version = h
        .get("paidy-version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(PAIDY_VERSION)
        .to_owned();
    let mut r = answer(sb, h, op, f).await;
    let headers = r.headers_mut();
    if let Ok(v) = axum::http::HeaderValue::from_str(&version) {
        headers.insert("paidy-version", v);
    }
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("req_{}", ids::alnum_lower(20))) {
        headers.insert("request-id", v);
    }
    r
}

async fn answer(
    sb: &Sandbox,
    h: &HeaderMap,
    op: &str,
    f: impl FnOnce(&mut Ledger, Timestamp) -> Result<Payment, ApiErr>,
) -> Response {
    if let Err(r) = authorized(sb, h) {
        return r.into_response();
    }
    let refuse = |r| match r {
        Refuse::Unavailable => err(
            StatusCode::SERVICE_UNAVAILABLE,
            "server.unavailable",
            "Service unavailable",
            "sandbox fault",
        )
        .into_response(),
        Refuse::Busy => err(
            StatusCode::TOO_MANY_REQUESTS,
            "request.rate_limited",
            "Too many requests",
            "sandbox fault",
        )
        .into_response(),
    };
    let after = match sb.faults.before("paidy", op, refuse).await {
        Before::Go(after) => after,
        Before::Stop(r) => return r,
    };
    let now = sb.clock.now();
    let r = f(&mut sb.state().paidy, now);
    if let Some(r) = after.apply().await {
        return r;
    }
    match r {
        Ok(p) => {
            webhook(sb, op, &p, now);
            Json(p).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// Paidy's payment webhook for a successful operation, stamped with when it happened (a
/// refund's carries its reason).
pub(super) fn webhook(sb: &Sandbox, op: &str, p: &Payment, at: Timestamp) {
    let status = match op {
        "payments" if p.status == "authorized" => "authorize_success",
        "captures" => "capture_success",
        "refunds" => "refund_success",
        "close" => "close_success",
        "update" => "update_success",
        _ => return,
    };
    let mut body = json!({
        "payment_id": p.id,
        "capture_id": if op == "captures" || op == "refunds" { p.captures.last().map(|c| c.id.clone()) } else { None },
        "event_type": "payment",
        "status": status,
        "order_ref": p.order.order_ref,
        "timestamp": iso(at),
    });
    if op == "refunds"
        && let Some(r) = p.refunds.last()
    {
        body["refund_id"] = json!(r.id);
        body["reason"] = json!(r.reason);
    }
    let text = body.to_string();
    sb.notifier.push(
        "paidy",
        text.clone(),
        text.into_bytes(),
        "application/json",
        crate::notify::Accept::Http2xx,
    );
}

fn body_json(body: &[u8]) -> Result<Value, ApiErr> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| invalid(format!("body is not valid JSON: {e}")))
}

/// A yen amount: a JSON number, or a string of digits (the live API takes `"1000"`, which a
/// widely used shop plugin sends).
fn int(v: &Value, field: &str) -> Result<Option<i64>, ApiErr> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => match x {
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse::<i64>().ok()
            }
            x => x.as_i64(),
        }
        .filter(|n| *n >= 0)
        .map(Some)
        .ok_or_else(|| invalid(format!("{field} must be a non-negative integer (yen)"))),
    }
}

/// The shopper a token payment belongs to, as Paidy answers a payment's `buyer`: the
/// sandbox's test consumer (Paidy's published test account), never the `buyer_data` the
/// shop sent for Paidy's risk check.
fn shopper() -> Value {
    json!({
        "name1": "山田 太郎",
        "name2": "ヤマダ タロウ",
        "email": "successful.payment@paidy.com",
        "phone": "08000000001",
    })
}

/// The buyer of a checkout payment: the shopper's own details, without anything else sent.
pub(super) fn buyer_of(sent: Option<&Value>) -> Value {
    let mut b = json!({});
    for k in ["name1", "name2", "email", "phone"] {
        b[k] = sent.and_then(|s| s.get(k)).cloned().unwrap_or(json!(""));
    }
    b
}

fn order_of(v: &Value) -> Result<Order, ApiErr> {
    match v.get("order") {
        None | Some(Value::Null) => Ok(Order::default()),
        Some(o) => serde_json::from_value(o.clone()).map_err(|e| invalid(format!("order: {e}"))),
    }
}

async fn create(State(sb): State<Sandbox>, h: HeaderMap, body: axum::body::Bytes) -> Response {
    guarded(&sb, &h, "payments", |l, now| {
        let v = body_json(&body)?;
        let token = v.get("token_id").and_then(Value::as_str).unwrap_or("");
        if !token.starts_with("tok_") {
            return Err(invalid("token_id is required (tok_…)"));
        }
        let amount = match int(&v, "amount")? {
            Some(a) if a > 0 => a,
            _ => return Err(invalid("amount is required and must be positive")),
        };
        if v.get("currency").and_then(Value::as_str) != Some("JPY") {
            return Err(invalid("currency must be JPY"));
        }
        let order = order_of(&v)?;
        // Tokens whose name says so are rejected, like a buyer Paidy will not lend to.
        let status = if token.contains("reject") {
            "rejected"
        } else {
            "authorized"
        };
        let expires = now
            .checked_add(SignedDuration::from_hours(24 * sb.config.paidy_expiry_days))
            .unwrap_or(now);
        let p = Payment {
            id: format!("pay_{}", ids::alnum_lower(20)),
            created_at: iso(now),
            expires_at: iso(expires),
            amount,
            currency: "JPY".into(),
            description: v
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            store_name: v
                .get("store_name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            test: true,
            status: status.into(),
            tier: "classic".into(),
            buyer: shopper(),
            order,
            shipping_address: v.get("shipping_address").cloned().unwrap_or(json!({})),
            captures: vec![],
            refunds: vec![],
            metadata: v.get("metadata").cloned().unwrap_or(json!({})),
            authorized_amount: amount,
            expires,
        };
        l.payments.insert(p.id.clone(), p.clone());
        Ok(p)
    })
    .await
}

async fn retrieve(State(sb): State<Sandbox>, h: HeaderMap, Path(id): Path<String>) -> Response {
    guarded(&sb, &h, "retrieve", |l, _| match l.payments.get(&id) {
        Some(p) => Ok(p.clone()),
        None => Err(not_found(&id)),
    })
    .await
}

async fn capture(
    State(sb): State<Sandbox>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    guarded(&sb, &h, "captures", |l, now| {
        let v = body_json(&body)?;
        let Some(p) = l.payments.get_mut(&id) else {
            return Err(not_found(&id));
        };
        if p.status != "authorized" {
            return Err(conflict(format!(
                "payment is {}; only an authorized payment can be captured",
                p.status
            )));
        }
        if now >= p.expires {
            return Err(conflict("the authorization expired (売上確定有効期限)"));
        }
        capture_all(p, now, v.get("metadata").cloned().unwrap_or(json!({})));
        Ok(p.clone())
    })
    .await
}

async fn refund(
    State(sb): State<Sandbox>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    guarded(&sb, &h, "refunds", |l, now| {
        let v = body_json(&body)?;
        let Some(p) = l.payments.get_mut(&id) else {
            return Err(not_found(&id));
        };
        let capture_id = v.get("capture_id").and_then(Value::as_str).unwrap_or("");
        let Some(cap) = p.captures.iter().find(|c| c.id == capture_id) else {
            return Err(invalid(format!(
                "capture_id {capture_id:?} is not a capture of this payment"
            )));
        };
        let refunded: i64 = p
            .refunds
            .iter()
            .filter(|r| r.capture_id == capture_id)
            .map(|r| r.amount)
            .sum();
        let left = cap.amount - refunded;
        let amount = match int(&v, "amount")? {
            None => left,
            Some(0) => return Err(invalid("amount must be positive")),
            Some(a) => a,
        };
        if amount > left || left == 0 {
            return Err(invalid(format!(
                "refund of {amount} exceeds what remains refundable ({left})"
            )));
        }
        p.refunds.push(Refund {
            id: format!("ref_{}", ids::alnum_lower(20)),
            created_at: iso(now),
            capture_id: capture_id.to_owned(),
            amount,
            reason: v
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
            metadata: v.get("metadata").cloned().unwrap_or(json!({})),
        });
        Ok(p.clone())
    })
    .await
}

async fn close(State(sb): State<Sandbox>, h: HeaderMap, Path(id): Path<String>) -> Response {
    guarded(&sb, &h, "close", |l, _| {
        let Some(p) = l.payments.get_mut(&id) else {
            return Err(not_found(&id));
        };
        if p.status != "authorized" {
            return Err(conflict(format!(
                "payment is {}; only an authorized payment can be closed",
                p.status
            )));
        }
        p.status = "closed".into();
        Ok(p.clone())
    })
    .await
}

async fn update(
    State(sb): State<Sandbox>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    guarded(&sb, &h, "update", |l, now| {
        let v = body_json(&body)?;
        let Some(p) = l.payments.get_mut(&id) else {
            return Err(not_found(&id));
        };
        let amount = int(&v, "amount")?;
        let new_order = if v.get("order").is_some() { Some(order_of(&v)?) } else { None };
        if (amount.is_some() || new_order.is_some()) && p.status != "authorized" {
            return Err(conflict(format!("payment is {}; only an open payment's amount can change", p.status)));
        }
        if let Some(a) = amount {
            let cap = p.authorized_amount + p.authorized_amount / 10;
            if a == 0 || a > cap {
                return Err(invalid(format!(
                    "amount {a} is not allowed: it must be positive and at most 10% above the authorized {} (≤ {cap})",
                    p.authorized_amount
                )));
            }
            p.amount = a;
        }
        if let Some(mut o) = new_order {
            o.updated_at = Some(iso(now));
            if o.order_ref.is_none() {
                o.order_ref = p.order.order_ref.clone();
            }
            p.order = o;
        }
        if let Some(r) = v.get("order_ref").and_then(Value::as_str) {
            p.order.order_ref = Some(r.to_owned());
        }
        if let Some(d) = v.get("description").and_then(Value::as_str) {
            p.description = Some(d.to_owned());
        }
        if let Some(m) = v.get("metadata") {
            p.metadata = m.clone();
        }
        Ok(p.clone())
    })
    .await
}

/// The sandbox's own view, for the control API.
pub fn admin_close(sb: &Sandbox, id: &str) -> Result<Payment, String> {
    let mut st = sb.state();
    let p = st
        .paidy
        .payments
        .get_mut(id)
        .ok_or_else(|| format!("no Paidy payment {id}"))?;
    if p.status != "authorized" {
        return Err(format!("payment is {}", p.status));
    }
    p.status = "closed".into();
    Ok(p.clone())
}

/// Captured on the dashboard: the whole amount, the payment closes.
pub fn admin_capture(sb: &Sandbox, id: &str) -> Result<Payment, String> {
    let now = sb.clock.now();
    let mut st = sb.state();
    let p = st
        .paidy
        .payments
        .get_mut(id)
        .ok_or_else(|| format!("no Paidy payment {id}"))?;
    if p.status != "authorized" {
        return Err(format!("payment is {}", p.status));
    }
    capture_all(p, now, json!({}));
    Ok(p.clone())
}

/// Capture the whole amount; the payment closes (Paidy has no partial capture).
fn capture_all(p: &mut Payment, now: Timestamp, metadata: Value) {
    p.captures.push(Capture {
        id: format!("cap_{}", ids::alnum_lower(20)),
        created_at: iso(now),
        amount: p.amount,
        tax: p.order.tax,
        shipping: p.order.shipping,
        items: p.order.items.clone(),
        metadata,
    });
    p.status = "closed".into();
}

//! Paygent, module type: `POST /paygent/n/<family>/request` with a Shift_JIS form carrying
//! the common header (merchant_id, connect_id, connect_password, telegram_kind,
//! telegram_version, trading_id, payment_id); answers are CRLF-separated `name=value` lines
//! with `result` 0/1, `response_code`, `response_detail` (docs/paygent-protocol.md).
//!
//! So far: card telegrams 020 (authorize, optionally with capture), 021 (auth cancel), 022
//! (capture), 023 (capture cancel), 028 (補正オーソリ), 029 (補正売上), 094 (payment query) and
//! stored cards 025 / 026 / 027 (with 020's stock_card_mode).

mod card;
mod later;
mod notice;
mod stored;

/// The buyer pays a konbini / ATM payment (control API); notices follow.
pub fn pay(sb: &Sandbox, payment_id: &str, preliminary: bool) -> Result<Payment, String> {
    let now = sb.clock.now();
    let mut st = sb.state();
    let r = later::pay(&mut st.paygent, payment_id, preliminary, now);
    let fresh = notice::collect(&mut st.paygent, now);
    drop(st);
    notice::push(sb, fresh);
    r
}

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jiff::Timestamp;
use juchu_wire::form::{self, Charset};

use crate::Sandbox;
use crate::faults::{Before, dropped, unavailable};

pub type Params = HashMap<String, String>;

/// A refusal: response_code and response_detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: String,
    pub detail: String,
}

/// A parameter's value, empty when absent.
pub fn get<'a>(p: &'a Params, k: &str) -> &'a str {
    p.get(k).map(String::as_str).unwrap_or("")
}

/// `payment_amount`: present (P005), not empty (P006), digits (P008), at most `max_len` of
/// them (P009: 7 for cards, 9 for konbini / ATM), above zero (P014).
pub fn amount(p: &Params, max_len: usize) -> Result<i64, Refusal> {
    let a = match p.get("payment_amount") {
        None => return Err(refuse("P005", "payment_amount")),
        Some(a) if a.is_empty() => return Err(refuse("P006", "payment_amount")),
        Some(a) => a,
    };
    if !a.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse("P008", "payment_amount"));
    }
    if a.len() > max_len {
        return Err(refuse("P009", "payment_amount"));
    }
    match a.parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(refuse("P014", "payment_amount")),
    }
}

/// Paygent's dates: `YYYYMMDDHHMMSS` in Japan time.
pub fn jst(t: Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(9)))
        .strftime("%Y%m%d%H%M%S")
        .to_string()
}

pub fn refuse(code: &str, detail: impl Into<String>) -> Refusal {
    Refusal {
        code: code.to_owned(),
        detail: detail.into(),
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    pub at: Timestamp,
    pub telegram_kind: String,
    /// `OK` or `response_code:response_detail`.
    pub result: String,
}

/// One card payment. Statuses are Paygent's codes: 10 申込済, 11 オーソリNG, 20 オーソリOK,
/// 32 オーソリ取消済, 33 オーソリ期限切, 40 消込済, 41 消込済(売上取消期限切), 60 売上取消済.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Payment {
    pub payment_id: String,
    pub trading_id: String,
    pub payment_type: String,
    pub status: String,
    pub amount: i64,
    pub payment_class: String,
    pub split_count: String,
    pub masked_card_number: String,
    pub card_valid_term: String,
    #[serde(skip)]
    pub card_number: String,
    pub init_at: Timestamp,
    pub authorized_at: Option<Timestamp>,
    pub captured_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
    /// For payments made by 028/029: the payment they replaced.
    pub base_payment_id: String,
    /// Konbini / ATM: the last payable day (Japan date).
    pub limit_date: Option<jiff::civil::Date>,
    /// Konbini / ATM answer fields (receipt_number, customer_number, conf_number …).
    pub extra: std::collections::BTreeMap<&'static str, String>,
    /// The status last reported in a 差分 notice.
    #[serde(skip)]
    pub notified_status: String,
    pub history: Vec<Event>,
}

#[derive(Debug, Default)]
pub struct Ledger {
    pub payments: Vec<Payment>,
    pub next_id: u64,
    pub cards: Vec<stored::StoredCard>,
    pub next_card_id: u64,
    pub notices: Vec<notice::Notice>,
    pub last_notice_id: u64,
    /// 091 without an id reads the notices after this one.
    pub read_upto: u64,
}

impl Ledger {
    pub fn new_payment_id(&mut self) -> String {
        self.next_id += 1;
        // 18 digits at most; the sandbox counts up from a recognisable prefix.
        format!("9{:011}", self.next_id)
    }
}

pub fn routes() -> Router<Sandbox> {
    // The merchant module's URL per telegram family; 091 and 094 have their own.
    Router::new().route("/n/{family}/{endpoint}", post(call))
}

/// The URL (after `/n/`) each telegram kind is sent to (P004 elsewhere).
fn family_of(kind: &str) -> Option<&'static str> {
    match kind {
        "020" | "021" | "022" | "023" | "025" | "026" | "027" | "028" | "029" => {
            Some("card/request")
        }
        "030" => Some("conveni/request"),
        "010" => Some("atm/request"),
        "091" => Some("ref/paynotice"),
        "094" => Some("ref/paymentref"),
        _ => None,
    }
}

fn respond(pairs: &[(&str, String)]) -> Response {
    let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (
        [(header::CONTENT_TYPE, "text/plain; charset=Windows-31J")],
        Charset::ShiftJis.encode(&juchu_wire::paygent::write(&p)),
    )
        .into_response()
}

fn error_answer(r: &Refusal, kind: &str) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("result", "1".to_owned()),
        ("response_code", r.code.clone()),
        ("response_detail", r.detail.clone()),
    ];
    if family_of(kind) == Some("card/request") {
        v.extend(card::empty_card_fields());
    }
    v
}

fn header_check(sb: &Sandbox, p: &Params, family: &str) -> Result<String, Refusal> {
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    if get("merchant_id").is_empty()
        || get("connect_id").is_empty()
        || get("connect_password").is_empty()
    {
        return Err(refuse(
            "P001",
            "merchant_id, connect_id and connect_password are required",
        ));
    }
    if get("merchant_id") != sb.config.paygent_merchant_id
        || get("connect_id") != sb.config.paygent_connect_id
        || get("connect_password") != sb.config.paygent_connect_password
    {
        return Err(refuse("P002", "authentication failed"));
    }
    if get("telegram_version") != "1.0" {
        return Err(refuse("P003", "telegram_version"));
    }
    let kind = get("telegram_kind").to_owned();
    match family_of(&kind) {
        Some(f) if f == family => Ok(kind),
        _ => Err(refuse(
            "P004",
            format!("telegram_kind {kind} cannot be used at this URL"),
        )),
    }
}

async fn call(
    State(sb): State<Sandbox>,
    Path((a, b)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let family = format!("{a}/{b}");
    let params: Params = form::decode(&body, Charset::ShiftJis).into_iter().collect();
    let kind = params.get("telegram_kind").cloned().unwrap_or_default();
    let drop_after = match sb.faults.before("paygent", &kind, unavailable).await {
        Before::Go { drop_after } => drop_after,
        Before::Stop(r) => return r,
    };
    if kind == "027" {
        let now = sb.clock.now();
        let st = sb.state();
        let text = match header_check(&sb, &params, &family) {
            Ok(_) => stored::query_csv(&st.paygent, &params, crate::clock::jst_date(now)),
            Err(e) => format!("\"1\",\"1\",\"{}\",\"{}\"\r\n\"4\",\"0\"", e.code, e.detail),
        };
        return (
            [(header::CONTENT_TYPE, "text/plain; charset=Windows-31J")],
            Charset::ShiftJis.encode(&text),
        )
            .into_response();
    }
    let (answer, slow) = {
        let now = sb.clock.now();
        let mut st = sb.state();
        let l = &mut st.paygent;
        card::apply_timers(l, now);
        later::expire(l, now);
        let r = header_check(&sb, &params, &family).and_then(|kind| match kind.as_str() {
            "020" => card::authorize(l, &params, now),
            "021" => card::cancel_auth(l, &params, now),
            "022" => card::capture(l, &params, now),
            "023" => card::cancel_capture(l, &params, now),
            "028" | "029" => card::amend(l, &params, now, kind == "029"),
            "094" => card::query(l, &params),
            "091" => notice::read(l, &params),
            "025" => stored::register(l, &params, now),
            "030" => later::konbini(l, &params, now),
            "010" => later::atm(l, &params, now),
            "026" => stored::delete(l, &params),
            _ => Err(refuse("P004", "unknown telegram_kind")),
        });
        let slow = kind == "020"
            && r.is_ok()
            && params
                .get("card_number")
                .is_some_and(|c| c.bytes().rev().nth(3) == Some(b'9'));
        let fresh = notice::collect(l, now);
        drop(st);
        notice::push(&sb, fresh);
        (r.unwrap_or_else(|e| error_answer(&e, &kind)), slow)
    };
    if slow {
        tokio::time::sleep(Duration::from_millis(sb.config.slow_card_ms)).await;
    }
    if drop_after {
        return dropped();
    }
    respond(&answer)
}

//! Paygent, module type: `POST /paygent/n/<family>/request` with a Shift_JIS form carrying
//! the common header (merchant_id, connect_id, connect_password, telegram_kind,
//! telegram_version, trading_id, payment_id); answers are CRLF-separated `name=value` lines
//! with `result` 0/1, `response_code`, `response_detail` (docs/paygent-protocol.md).
//!
//! So far: card telegrams 020 (authorize, optionally with capture), 021 (auth cancel), 022
//! (capture), 023 (capture cancel), 028 (補正オーソリ), 029 (補正売上), 094 (payment query) and
//! stored cards 025 / 026 / 027 (with 020's stock_card_mode), file payments 200 / 201.

mod bank;
mod card;
mod file;
mod later;
mod notice;
mod outcome;
mod stored;
mod tds1;
mod threeds;
mod token;

/// What happens with time: authorizations and captures age (20 → 33, 40 → 41), unpaid
/// konbini / ATM requests expire (12), unpaid net-bank payments are abandoned (15), files
/// received a minute ago are processed (200).
fn settle(l: &mut Ledger, now: Timestamp) {
    card::apply_timers(l, now);
    later::expire(l, now);
    bank::expire(l, now);
    file::process_due(l, now);
}

/// Let time act and send the 差分通知 for whatever changed: the sandbox's ticker calls this,
/// so notices go out without a telegram arriving.
pub fn notify_changes(sb: &Sandbox) {
    let now = sb.clock.now();
    let mut st = sb.state();
    settle(&mut st.paygent, now);
    let fresh = notice::collect(&mut st.paygent, now);
    drop(st);
    notice::push(sb, fresh);
}

/// What a merchant does by hand in Paygent's own console (ペイジェントオンライン), as the control
/// API offers it: `capture`, `cancel` (an authorization or a capture), `amount` (補正: a new
/// payment for the new amount, the original cancelled). Returns the payment as it ends.
pub fn admin(
    sb: &Sandbox,
    payment_id: &str,
    action: &str,
    new_amount: Option<i64>,
) -> Result<Payment, String> {
    let now = sb.clock.now();
    let r = {
        let mut st = sb.state();
        let l = &mut st.paygent;
        settle(l, now);
        let status = l
            .payments
            .iter()
            .find(|x| x.payment_id == payment_id)
            .map(|x| x.status.clone())
            .ok_or_else(|| format!("no Paygent payment {payment_id}"))?;
        let mut p = Params::new();
        p.insert("payment_id".into(), payment_id.into());
        let answer = match action {
            "capture" => card::capture(l, &p, now),
            "cancel" if status == "40" => card::cancel_capture(l, &p, now),
            "cancel" => card::cancel_auth(l, &p, now),
            "amount" => {
                let a = new_amount.ok_or("amount is required")?;
                p.insert("payment_amount".into(), a.to_string());
                p.insert("reduction_flag".into(), "0".into());
                card::amend(l, &p, now, status == "40")
            }
            other => {
                return Err(format!(
                    "unknown action {other:?} (capture, cancel, amount)"
                ));
            }
        }
        .map_err(|e| format!("{}: {}", e.code, e.detail))?;
        let id = answer
            .iter()
            .find(|(k, _)| *k == "payment_id")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        l.payments
            .iter()
            .find(|x| x.payment_id == id)
            .cloned()
            .ok_or_else(|| format!("no Paygent payment {id}"))
    };
    notify_changes(sb);
    r
}

/// Make a payment lapse now, as its deadline would: konbini / ATM 10 → 12, net bank 10 → 15,
/// an authorization 20 → 33.
pub fn lapse(sb: &Sandbox, payment_id: &str) -> Result<Payment, String> {
    let now = sb.clock.now();
    let r = {
        let mut st = sb.state();
        let x = st
            .paygent
            .payments
            .iter_mut()
            .find(|x| x.payment_id == payment_id)
            .ok_or_else(|| format!("no Paygent payment {payment_id}"))?;
        let to = match (x.payment_type.as_str(), x.status.as_str()) {
            ("01" | "03", "10") => "12",
            ("05", "10") => "15",
            ("02", "20") => "33",
            (_, s) => return Err(format!("a payment in status {s} cannot lapse")),
        };
        x.status = to.into();
        x.history.push(Event {
            at: now,
            telegram_kind: "(lapsed)".into(),
            result: to.into(),
        });
        x.clone()
    };
    notify_changes(sb);
    Ok(r)
}

/// The buyer goes through a net-bank ASP (found by trading_id), picks `bank_code` and pays.
pub fn pay_asp(sb: &Sandbox, trading_id: &str, bank_code: &str) -> Result<Payment, String> {
    let now = sb.clock.now();
    let key = sb
        .state()
        .paygent
        .asps
        .iter()
        .rev()
        .find(|a| a.trading_id == trading_id)
        .map(|a| a.key.clone())
        .ok_or_else(|| format!("no net-bank request for trading_id {trading_id}"))?;
    let id = bank::select(&mut sb.state().paygent, &key, bank_code, now)?;
    pay(sb, &id, false)
}

/// The buyer pays a konbini / ATM / net-bank payment (control API); notices follow.
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
use crate::faults::{Before, Refuse, unavailable};

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

/// A required parameter: present (P005), not empty (P006), at most `max_chars` (P009).
pub fn required<'a>(p: &'a Params, k: &'static str, max_chars: usize) -> Result<&'a str, Refusal> {
    match p.get(k).map(String::as_str) {
        None => Err(refuse("P005", k)),
        Some("") => Err(refuse("P006", k)),
        Some(v) if v.chars().count() > max_chars => Err(refuse("P009", k)),
        Some(v) => Ok(v),
    }
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

/// Where a buyer's browser is sent back to the shop: `url` with `pairs` added to its query.
pub fn with_query(url: &str, pairs: &[(&str, &str)], charset: Charset) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", form::encode(pairs, charset))
}

/// Lower-case hex SHA-256, as Paygent's `hc` values.
pub fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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

impl Payment {
    /// A new payment at 10 (申込済) with nothing else known yet.
    pub fn new(
        payment_id: String,
        trading_id: &str,
        payment_type: &str,
        amount: i64,
        now: Timestamp,
    ) -> Payment {
        Payment {
            payment_id,
            trading_id: trading_id.to_owned(),
            payment_type: payment_type.to_owned(),
            status: "10".into(),
            amount,
            payment_class: String::new(),
            split_count: String::new(),
            masked_card_number: String::new(),
            card_valid_term: String::new(),
            card_number: String::new(),
            init_at: now,
            authorized_at: None,
            captured_at: None,
            cancelled_at: None,
            base_payment_id: String::new(),
            limit_date: None,
            extra: Default::default(),
            notified_status: String::new(),
            history: vec![],
        }
    }
}

#[derive(Debug, Default)]
pub struct Ledger {
    pub payments: Vec<Payment>,
    pub next_id: u64,
    pub cards: Vec<stored::StoredCard>,
    pub next_card_id: u64,
    /// EMV 3-D Secure authentications (450), spent by 020.
    pub threeds: threeds::Book,
    pub notices: Vec<notice::Notice>,
    pub last_notice_id: u64,
    /// 091 without an id reads the notices after this one.
    pub read_upto: u64,
    pub tokens: Vec<token::Token>,
    /// Net-bank ASPs (bank-selection pages) by trading_id.
    pub asps: Vec<bank::Asp>,
    /// Files received by 200, processed a minute later.
    pub files: Vec<file::FileJob>,
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
    Router::new()
        // EMV 3-D Secure: the issuer's pages the buyer's browser goes through.
        .merge(threeds::routes())
        // A file payment's data may be 10 MB, percent-encoded up to three times that.
        .route(
            "/n/{family}/{endpoint}",
            post(call).layer(axum::extract::DefaultBodyLimit::max(32 << 20)),
        )
        // The token script and its request (JSON, from the buyer's browser).
        .route("/js/PaygentToken.js", axum::routing::get(token::script))
        .route("/n/token/request", post(token::create))
        // The net-bank ASP pages the buyer goes through.
        .route(
            "/bank/asp/{key}",
            axum::routing::get(bank::asp_page).post(bank::choose),
        )
        .route("/bank/pay/{payment_id}", post(bank::act))
        // The konbini payment slip (払込票) a 030 answer's receipt_print_url opens.
        .route(
            "/receipt/{payment_id}",
            axum::routing::get(later::receipt_page),
        )
        // 3-D Secure 1.0: the issuer's pages.
        .route(
            "/tds1/acs/{id}",
            axum::routing::get(tds1::acs).post(tds1::acs),
        )
        .route("/tds1/acs/{id}/challenge", post(tds1::challenge))
}

/// The URL (after `/n/`) each telegram kind is sent to (P004 elsewhere).
fn family_of(kind: &str) -> Option<&'static str> {
    match kind {
        "020" | "021" | "022" | "023" | "025" | "026" | "027" | "028" | "029" | "116" => {
            Some("card/request")
        }
        "030" => Some("conveni/request"),
        "010" => Some("atm/request"),
        "060" => Some("bank/requestasp"),
        "091" => Some("ref/paynotice"),
        "094" => Some("ref/paymentref"),
        "450" => Some("threeds/request"),
        "200" | "201" => Some("o/requestdata"),
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
        v.extend(outcome::empty_card_fields());
    }
    if kind == "200" {
        v.push(("file_receipt_id", String::new()));
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
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let family = format!("{a}/{b}");
    let mut params: Params = form::decode(&body, Charset::ShiftJis).into_iter().collect();
    params.insert(tds1::BASE.to_owned(), crate::gmo::base_url(&headers));
    let kind = params.get("telegram_kind").cloned().unwrap_or_default();
    let answer = |r| match r {
        Refuse::Unavailable => unavailable(),
        Refuse::Busy => respond(&error_answer(&refuse("E002", "busy"), &kind)),
    };
    let after = match sb.faults.before("paygent", &kind, answer).await {
        Before::Go(after) => after,
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
    if kind == "201" {
        // The result file is CSV, like 027's answer.
        let text = file::result(&sb, &params, header_check(&sb, &params, &family));
        if let Some(r) = after.apply().await {
            return r;
        }
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
        settle(l, now);
        let r = header_check(&sb, &params, &family).and_then(|kind| match kind.as_str() {
            "020" => card::authorize(l, &params, now),
            "021" => card::cancel_auth(l, &params, now),
            "022" => card::capture(l, &params, now),
            "023" => card::cancel_capture(l, &params, now),
            "028" | "029" => card::amend(l, &params, now, kind == "029"),
            "094" => card::query(l, &params),
            "450" => threeds::start(&sb, l, &body, &crate::gmo::base_url(&headers), now),
            "091" => notice::read(l, &params),
            "025" => stored::register(l, &params, now),
            "030" => later::konbini(l, &params, now),
            "010" => later::atm(l, &params, now),
            "060" => bank::request(l, &params, now),
            "026" => stored::delete(l, &params),
            "116" => stored::update(l, &params, now),
            "200" => file::upload(l, &params, now, &sb.config),
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
    if let Some(r) = after.apply().await {
        return r;
    }
    respond(&answer)
}

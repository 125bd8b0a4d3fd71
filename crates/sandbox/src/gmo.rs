//! GMO Payment Gateway, "protocol type": `POST /gmo/payment/<Api>.idPass`, forms in
//! Windows-31J, answers `Key=Value&...` or `ErrCode=...&ErrInfo=...` with HTTP 200.
//!
//! Card transactions: EntryTran → ExecTran → AlterTran / ChangeTran, SearchTrade. The rules
//! enforced are GMO's: OrderID ≤ 27 of [A-Za-z0-9-] and unique per shop; SALES only for the
//! authorized amount and within 90 days of the authorization; VOID only on the Japan-time
//! day of the last processing, RETURN in the same month (or for an uncaptured AUTH),
//! RETURNX for captured transactions in a later month up to 180 days; re-authorization (AUTH
//! / CAPTURE) only from VOID / RETURN / RETURNX.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jiff::{SignedDuration, Timestamp};
use juchu_wire::form::{self, Charset};
use juchu_wire::gmo::{GmoError, write, write_errors};

use crate::clock::jst_date;
use crate::faults::{FaultKind, dropped};
use crate::{Sandbox, ids};

pub const AUTH_VALID_DAYS: i64 = 90;
pub const CANCEL_LIMIT_DAYS: i64 = 180;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    pub at: Timestamp,
    pub api: String,
    pub job_cd: String,
    pub amount: i64,
    /// `OK`, or the error codes returned.
    pub result: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Pending3ds {
    pub card_no: String,
    pub expire: String,
    pub method: String,
    pub pay_times: String,
    pub ret_url: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Tran {
    pub shop_id: String,
    pub order_id: String,
    pub access_id: String,
    pub access_pass: String,
    /// The JobCd given at EntryTran.
    pub entry_job_cd: String,
    /// UNPROCESSED, AUTHENTICATED, CHECK, CAPTURE, AUTH, SALES, VOID, RETURN, RETURNX, SAUTH
    pub status: String,
    /// The JobCd of the last successful processing.
    pub job_cd: String,
    pub amount: i64,
    pub tax: i64,
    pub method: String,
    pub pay_times: String,
    /// Masked: `*************111`
    pub card_no: String,
    pub expire: String,
    pub forward: String,
    pub approve: String,
    pub tran_id: String,
    /// Last successful processing (the base of VOID / RETURN / RETURNX).
    pub process_date: Timestamp,
    /// When the current authorization was made (the 90-day capture window).
    pub auth_at: Option<Timestamp>,
    /// 0 card, 3 konbini, 4 Pay-easy (GMO's PayType).
    pub pay_type: String,
    /// EntryTran TdFlag=2: the card payment goes through 3-D Secure 2.0.
    pub tds: bool,
    /// 3DS2 waiting for the buyer: the card and terms ExecTran was given, and where the
    /// buyer returns. `None` once SecureTran2 ran.
    #[serde(skip)]
    pub pending_3ds: Option<Pending3ds>,
    /// `Y` authenticated, `N` failed, `C` challenge shown and not yet answered.
    pub tds_result: String,
    /// Konbini / Pay-easy: the payment deadline.
    pub payment_term: Option<Timestamp>,
    /// Konbini / Pay-easy answer fields (Convenience, ConfNo, ReceiptNo, CustID, BkCode …).
    pub extra: std::collections::BTreeMap<String, String>,
    pub history: Vec<Event>,
}

/// A card kept at GMO for a member (カードお預かり). The sandbox is the gateway, so it holds
/// the number; it shows only the masked form, as GMO does.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredCard {
    pub seq: u32,
    #[serde(skip)]
    pub number: String,
    pub masked: String,
    pub expire: String,
    pub holder_name: String,
    pub default: bool,
    pub deleted: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Member {
    pub site_id: String,
    pub member_id: String,
    pub member_name: String,
    pub cards: Vec<StoredCard>,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Ledger {
    /// By (ShopID, OrderID).
    pub trans: HashMap<String, Tran>,
    /// By (SiteID, MemberID).
    pub members: HashMap<String, Member>,
    /// One-time card tokens from the token script, by token.
    #[serde(skip)]
    pub tokens: HashMap<String, CardToken>,
}

/// What a token stands for; used once, within 30 minutes.
#[derive(Debug, Clone)]
pub struct CardToken {
    pub card_no: String,
    pub expire: String,
    pub expires_at: Timestamp,
    pub used: bool,
}

pub const TOKEN_MINUTES: i64 = 30;

fn key(shop: &str, order: &str) -> String {
    format!("{shop}/{order}")
}

type Params = HashMap<String, String>;

fn e(code: &str, info: &str) -> GmoError {
    GmoError {
        code: code.to_owned(),
        info: info.to_owned(),
    }
}

/// The answer to one API call: pairs, or errors.
type Answer = Result<Vec<(&'static str, String)>, Vec<GmoError>>;

fn respond(a: &Answer) -> Response {
    let body = match a {
        Ok(pairs) => {
            let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            write(&p)
        }
        Err(errs) => write_errors(errs),
    };
    (
        [(header::CONTENT_TYPE, "text/plain;charset=Windows-31J")],
        Charset::ShiftJis.encode(&body),
    )
        .into_response()
}

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/payment/{api}", post(call))
        .route(
            "/tds2/challenge",
            axum::routing::get(challenge_page).post(challenge_answer),
        )
        .route("/ext/js/token.js", axum::routing::get(token_js))
        .route("/ext/api/credit/getToken", post(get_token))
}

/// What a test card number asks for, by its last four digits XYZZ (docs/sandbox.md).
enum CardBehaviour {
    Approve,
    Decline { code: String },
    Slow,
}

fn card_behaviour(card_no: &str) -> CardBehaviour {
    let d: Vec<u8> = card_no.bytes().rev().take(4).collect();
    if d.len() < 4 {
        return CardBehaviour::Approve;
    }
    let (x, y, z1, z2) = (d[3], d[2], d[1], d[0]);
    match x {
        b'8' => {
            let family = match y {
                b'1' => "C",
                _ => "G",
            };
            CardBehaviour::Decline {
                code: format!("{family}{}{}", z1 as char, z2 as char),
            }
        }
        b'9' => CardBehaviour::Slow,
        _ => CardBehaviour::Approve,
    }
}

fn mask(card_no: &str) -> String {
    let n = card_no.len();
    let keep = 3.min(n);
    format!("{}{}", "*".repeat(n - keep), &card_no[n - keep..])
}

/// The sandbox's own address as the client reached it, for URLs it hands out (3DS pages).
pub(crate) fn base_url(h: &HeaderMap) -> String {
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// Internal parameter carrying the sandbox's base URL into the API functions.
const BASE: &str = "\u{0}sandbox_base";

async fn call(
    State(sb): State<Sandbox>,
    Path(api): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(name) = api.strip_suffix(".idPass") else {
        return (StatusCode::NOT_FOUND, "no such API").into_response();
    };
    let name = name.to_owned();
    let mut params: Params = form::decode(&body, Charset::ShiftJis).into_iter().collect();
    params.insert(BASE.to_owned(), base_url(&headers));
    let fault = sb.faults.take("gmo", &name);
    if let Some(f) = &fault {
        match f.kind {
            FaultKind::Delay => tokio::time::sleep(Duration::from_millis(f.delay_ms)).await,
            FaultKind::ServerError => {
                return (StatusCode::SERVICE_UNAVAILABLE, "sandbox fault").into_response();
            }
            FaultKind::DropBefore => return dropped(),
            FaultKind::DropAfter => {}
        }
    }
    let (answer, slow) = {
        let now = sb.clock.now();
        let mut st = sb.state();
        let ledger = &mut st.gmo;
        let a = match name.as_str() {
            "EntryTran" => entry_tran(&sb, ledger, &params, now),
            "ExecTran" => exec_tran(&sb, ledger, &params, now),
            "AlterTran" => alter_tran(&sb, ledger, &params, now),
            "ChangeTran" => change_tran(&sb, ledger, &params, now),
            "SecureTran2" => secure_tran2(ledger, &params, now),
            "SearchTrade" => search_trade(&sb, ledger, &params),
            "SearchTradeMulti" => search_trade_multi(&sb, ledger, &params, now),
            "EntryTranCvs" => entry_later(&sb, ledger, &params, now, "3"),
            "EntryTranPayEasy" => entry_later(&sb, ledger, &params, now, "4"),
            "ExecTranCvs" => exec_later(&sb, ledger, &params, now, "3"),
            "ExecTranPayEasy" => exec_later(&sb, ledger, &params, now, "4"),
            "CvsCancel" => cvs_cancel(&sb, ledger, &params, now),
            "SaveMember" => save_member(&sb, ledger, &params),
            "SearchMember" => search_member(&sb, ledger, &params),
            "DeleteMember" => delete_member(&sb, ledger, &params),
            "SaveCard" => save_card(&sb, ledger, &params, now),
            "SearchCard" => search_card(&sb, ledger, &params),
            "DeleteCard" => delete_card(&sb, ledger, &params),
            _ => return (StatusCode::NOT_FOUND, format!("no such API: {name}")).into_response(),
        };
        let slow = name == "ExecTran"
            && params
                .get("CardNo")
                .is_some_and(|c| matches!(card_behaviour(c), CardBehaviour::Slow));
        (a, slow)
    };
    if slow {
        tokio::time::sleep(Duration::from_millis(sb.config.slow_card_ms)).await;
    }
    if answer.is_ok()
        && matches!(
            name.as_str(),
            "ExecTran"
                | "AlterTran"
                | "ChangeTran"
                | "SecureTran2"
                | "ExecTranCvs"
                | "ExecTranPayEasy"
                | "CvsCancel"
        )
    {
        let access_id = params.get("AccessID").cloned().unwrap_or_default();
        let t = sb
            .state()
            .gmo
            .trans
            .values()
            .find(|t| t.access_id == access_id)
            .cloned();
        if let Some(t) = t {
            notify(&sb, &t);
        }
    }
    if fault.is_some_and(|f| f.kind == FaultKind::DropAfter) {
        return dropped();
    }
    respond(&answer)
}

/// 結果通知: what GMO tells the shop about a transaction, as a Windows-31J form.
pub(crate) fn notify(sb: &Sandbox, t: &Tran) {
    let mut f: Vec<(&str, String)> = vec![
        ("ShopID", t.shop_id.clone()),
        ("ShopPass", "**********".into()),
        ("AccessID", t.access_id.clone()),
        ("AccessPass", "********************************".into()),
        ("OrderID", t.order_id.clone()),
        ("Status", t.status.clone()),
        ("JobCd", t.job_cd.clone()),
        ("Amount", t.amount.to_string()),
        ("Tax", t.tax.to_string()),
        ("Currency", "JPN".into()),
        ("Forward", t.forward.clone()),
        ("Method", t.method.clone()),
        ("PayTimes", t.pay_times.clone()),
        ("TranID", t.tran_id.clone()),
        ("Approve", t.approve.clone()),
        ("TranDate", tran_date(t.process_date)),
        ("ErrCode", String::new()),
        ("ErrInfo", String::new()),
        ("PayType", t.pay_type.clone()),
    ];
    for (k, name) in [
        ("Convenience", "CvsCode"),
        ("ConfNo", "CvsConfNo"),
        ("ReceiptNo", "CvsReceiptNo"),
        ("CustID", "CustID"),
        ("BkCode", "BkCode"),
        ("EncryptReceiptNo", "EncryptReceiptNo"),
        ("FinishDate", "FinishDate"),
    ] {
        if let Some(v) = t.extra.get(k) {
            f.push((name, v.clone()));
        }
    }
    if let Some(term) = t.payment_term {
        f.push(("PaymentTerm", tran_date(term)));
    }
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let text = write(&pairs);
    let body = form::encode(&pairs, Charset::ShiftJis).into_bytes();
    sb.notifier.push(
        "gmo",
        text,
        body,
        "application/x-www-form-urlencoded; charset=Windows-31J",
        crate::notify::Accept::BodyZero,
    );
}

fn shop_auth(sb: &Sandbox, p: &Params) -> Result<String, Vec<GmoError>> {
    let id = p.get("ShopID").map(String::as_str).unwrap_or("");
    let pass = p.get("ShopPass").map(String::as_str).unwrap_or("");
    let mut errs = vec![];
    if id.is_empty() {
        errs.push(e("E01", "E01010001"));
    }
    if pass.is_empty() {
        errs.push(e("E01", "E01020001"));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    if id != sb.config.gmo_shop_id || pass != sb.config.gmo_shop_pass {
        return Err(vec![e("E01", "E01030002")]);
    }
    Ok(id.to_owned())
}

fn amount(p: &Params, errs: &mut Vec<GmoError>) -> Option<i64> {
    match p
        .get("Amount")
        .map(String::as_str)
        .filter(|s| !s.is_empty() && *s != "null")
    {
        None => {
            errs.push(e("E01", "E01060001"));
            None
        }
        Some(a) if !a.bytes().all(|b| b.is_ascii_digit()) => {
            errs.push(e("E01", "E01060006"));
            None
        }
        Some(a) if a.len() > 7 => {
            errs.push(e("E01", "E01060005"));
            None
        }
        Some(a) => a.parse().ok(),
    }
}

fn find<'a>(sb: &Sandbox, l: &'a mut Ledger, p: &Params) -> Result<&'a mut Tran, Vec<GmoError>> {
    let shop = shop_auth(sb, p)?;
    let id = p.get("AccessID").map(String::as_str).unwrap_or("");
    let pass = p.get("AccessPass").map(String::as_str).unwrap_or("");
    let mut errs = vec![];
    if id.len() != 32 {
        errs.push(e("E01", "E01090008"));
    }
    if pass.len() != 32 {
        errs.push(e("E01", "E01100008"));
    }
    if !errs.is_empty() {
        errs.push(e("E01", "E01110002"));
        return Err(errs);
    }
    l.trans
        .values_mut()
        .find(|t| t.shop_id == shop && t.access_id == id && t.access_pass == pass)
        .ok_or_else(|| vec![e("E01", "E01110002")])
}

fn record(t: &mut Tran, at: Timestamp, api: &str, job_cd: &str, r: &Answer) {
    let amount = t.amount;
    t.history.push(Event {
        at,
        api: api.to_owned(),
        job_cd: job_cd.to_owned(),
        amount,
        result: match r {
            Ok(_) => "OK".to_owned(),
            Err(errs) => errs
                .iter()
                .map(|e| e.info.as_str())
                .collect::<Vec<_>>()
                .join("|"),
        },
    });
}

fn tran_date(now: Timestamp) -> String {
    now.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(9)))
        .strftime("%Y%m%d%H%M%S")
        .to_string()
}

fn entry_tran(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
    let shop = shop_auth(sb, p)?;
    let mut errs = vec![];
    let order_id = p.get("OrderID").cloned().unwrap_or_default();
    if order_id.is_empty() || order_id == "null" {
        errs.push(e("E01", "E01040001"));
    } else if order_id.len() > 27 {
        errs.push(e("E01", "E01040003"));
    } else if !order_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        errs.push(e("E01", "E01040013"));
    }
    let job_cd = p.get("JobCd").cloned().unwrap_or_default();
    if job_cd.is_empty() || job_cd == "null" {
        errs.push(e("E01", "E01050001"));
    } else if !["CHECK", "CAPTURE", "AUTH", "SAUTH"].contains(&job_cd.as_str()) {
        errs.push(e("E01", "E01050002"));
    }
    let amount = if job_cd == "CHECK" {
        Some(0)
    } else {
        amount(p, &mut errs)
    };
    let tax: i64 = p.get("Tax").and_then(|t| t.parse().ok()).unwrap_or(0);
    if errs.is_empty() && l.trans.contains_key(&key(&shop, &order_id)) {
        errs.push(e("E01", "E01040010"));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let t = Tran {
        shop_id: shop.clone(),
        order_id: order_id.clone(),
        access_id: ids::hex(16),
        access_pass: ids::hex(16),
        entry_job_cd: job_cd.clone(),
        status: "UNPROCESSED".into(),
        job_cd: job_cd.clone(),
        amount: amount.unwrap_or(0),
        tax,
        method: String::new(),
        pay_times: String::new(),
        card_no: String::new(),
        expire: String::new(),
        forward: String::new(),
        approve: String::new(),
        tran_id: String::new(),
        process_date: now,
        auth_at: None,
        pay_type: "0".into(),
        tds: matches!(p.get("TdFlag").map(String::as_str), Some("1") | Some("2")),
        pending_3ds: None,
        tds_result: String::new(),
        payment_term: None,
        extra: Default::default(),
        history: vec![],
    };
    let out = vec![
        ("AccessID", t.access_id.clone()),
        ("AccessPass", t.access_pass.clone()),
    ];
    let mut t = t;
    record(&mut t, now, "EntryTran", &job_cd, &Ok(vec![]));
    l.trans.insert(key(&shop, &order_id), t);
    Ok(out)
}

fn approve(t: &mut Tran, now: Timestamp) {
    t.forward = "2a99662".into();
    t.approve = ids::digits(7);
    t.tran_id = format!("{}{}", &tran_date(now)[2..12], ids::digits(18));
    t.process_date = now;
}

fn check_card(card_no: &str, expire: &str, errs: &mut Vec<GmoError>) {
    if card_no.is_empty() || card_no == "null" {
        errs.push(e("E01", "E01170001"));
    } else if !card_no.bytes().all(|b| b.is_ascii_digit()) {
        errs.push(e("E01", "E01170006"));
    } else if !(10..=16).contains(&card_no.len()) {
        errs.push(e("E01", "E01170011"));
    }
    if expire.is_empty() || expire == "null" {
        errs.push(e("E01", "E01180001"));
    } else if expire.len() != 4 {
        errs.push(e("E01", "E01180003"));
    } else if !expire.bytes().all(|b| b.is_ascii_digit()) {
        errs.push(e("E01", "E01180006"));
    }
}

/// The card an ExecTran names: a raw number (test shops) or a member's stored card.
fn card_of(sb: &Sandbox, l: &Ledger, p: &Params) -> Result<(String, String), Vec<GmoError>> {
    let member_id = p.get("MemberID").map(String::as_str).unwrap_or("");
    if !member_id.is_empty() && member_id != "null" {
        let site = site_auth(sb, p)?;
        let m = l
            .members
            .get(&key(&site, member_id))
            .ok_or_else(|| vec![e("E01", "E01390002")])?;
        let seq: Option<u32> = p.get("CardSeq").and_then(|s| s.parse().ok());
        let c = m
            .cards
            .iter()
            .filter(|c| !c.deleted)
            .find(|c| seq.map_or(c.default, |s| c.seq == s))
            .ok_or_else(|| vec![e("E01", "E01240002")])?;
        return Ok((c.number.clone(), c.expire.clone()));
    }
    if let Some(token) = p.get("Token").filter(|t| !t.is_empty() && *t != "null") {
        // Checked here; used up by ExecTran once it goes ahead.
        return match l.tokens.get(token) {
            Some(t) if !t.used && sb.clock.now() <= t.expires_at => {
                Ok((t.card_no.clone(), t.expire.clone()))
            }
            _ => Err(vec![e("E61", "E61010002")]),
        };
    }
    let card_no = p.get("CardNo").cloned().unwrap_or_default();
    let expire = p.get("Expire").cloned().unwrap_or_default();
    let mut errs = vec![];
    check_card(&card_no, &expire, &mut errs);
    if errs.is_empty() {
        Ok((card_no, expire))
    } else {
        Err(errs)
    }
}

fn exec_tran(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
    let card = card_of(sb, l, p);
    if card.is_ok()
        && let Some(tok) = p.get("Token").and_then(|t| l.tokens.get_mut(t))
    {
        tok.used = true;
    }
    let t = find(sb, l, p)?;
    let mut errs = vec![];
    if p.get("OrderID").map(String::as_str) != Some(t.order_id.as_str()) {
        errs.push(e("E01", "E01040001"));
    }
    let method = p.get("Method").cloned().unwrap_or_else(|| "1".into());
    if !["1", "2", "3", "4", "5"].contains(&method.as_str()) {
        errs.push(e("E01", "E01070005"));
    }
    let pay_times = p.get("PayTimes").cloned().unwrap_or_default();
    if (method == "2" || method == "4") && pay_times.parse::<u32>().map_or(true, |n| n < 2) {
        errs.push(e("E01", "E01080010"));
    }
    let (card_no, expire) = match card {
        Ok(c) => c,
        Err(mut e2) => {
            errs.append(&mut e2);
            (String::new(), String::new())
        }
    };
    let job = t.entry_job_cd.clone();
    if !errs.is_empty() {
        let r = Err(errs);
        record(t, now, "ExecTran", &job, &r);
        return r;
    }
    if t.status != "UNPROCESSED" {
        let r = Err(vec![e("E11", "E11010001")]);
        record(t, now, "ExecTran", &job, &r);
        return r;
    }
    if t.tds {
        // 3-D Secure 2.0: nothing is authorized yet; the buyer is sent to the ACS page and
        // the shop finishes with SecureTran2 once they come back.
        let ret_url = p
            .get("RetUrl")
            .or_else(|| p.get("Tds2RetUrl"))
            .cloned()
            .unwrap_or_default();
        if !(ret_url.starts_with("http://") || ret_url.starts_with("https://")) {
            let r = Err(vec![e("E01", "E01320012")]);
            record(t, now, "ExecTran", &job, &r);
            return r;
        }
        t.pending_3ds = Some(Pending3ds {
            card_no: card_no.clone(),
            expire: expire.clone(),
            method: method.clone(),
            pay_times: pay_times.clone(),
            ret_url,
        });
        t.status = "AUTHENTICATED".into();
        t.tds_result = "C".into();
        let base = p.get(BASE).cloned().unwrap_or_default();
        let r: Answer = Ok(vec![
            ("ACS", "2".into()),
            ("OrderID", t.order_id.clone()),
            (
                "RedirectUrl",
                format!("{base}/gmo/tds2/challenge?AccessID={}&Step=1", t.access_id),
            ),
        ]);
        record(t, now, "ExecTran", &job, &r);
        return r;
    }
    let (r, _) = authorize_card(t, &card_no, &expire, &method, &pay_times, now);
    record(t, now, "ExecTran", &job, &r);
    r
}

/// Ask the card's issuer (the test card rules) and, if it approves, make the transaction
/// what EntryTran asked for (AUTH / CAPTURE / SAUTH / CHECK).
fn authorize_card(
    t: &mut Tran,
    card_no: &str,
    expire: &str,
    method: &str,
    pay_times: &str,
    now: Timestamp,
) -> (Answer, bool) {
    let job = t.entry_job_cd.clone();
    // An expired card is declined as GMO's issuers do (G83), judged by Japan's date.
    let today = jst_date(now);
    let exp_ok = expire[..2]
        .parse::<i16>()
        .ok()
        .zip(expire[2..].parse::<i8>().ok())
        .is_some_and(|(yy, mm)| {
            (1..=12).contains(&mm) && (2000 + yy, mm) >= (today.year(), today.month())
        });
    let behaviour = if !exp_ok {
        CardBehaviour::Decline { code: "G83".into() }
    } else {
        card_behaviour(card_no)
    };
    match behaviour {
        CardBehaviour::Decline { code } => (Err(vec![e(&code, &format!("42{code}0000"))]), false),
        CardBehaviour::Approve | CardBehaviour::Slow => {
            approve(t, now);
            t.status = job.clone();
            t.job_cd = job;
            t.method = method.to_owned();
            t.pay_times = pay_times.to_owned();
            t.card_no = mask(card_no);
            t.expire = expire.to_owned();
            t.auth_at = Some(now);
            let ok = vec![
                ("ACS", "0".into()),
                ("OrderID", t.order_id.clone()),
                ("Forward", t.forward.clone()),
                ("Method", t.method.clone()),
                ("PayTimes", t.pay_times.clone()),
                ("Approve", t.approve.clone()),
                ("TranID", t.tran_id.clone()),
                ("TranDate", tran_date(now)),
                ("CheckString", ids::hex(16)),
            ];
            (Ok(ok), true)
        }
    }
}

fn days_since(a: Timestamp, b: Timestamp) -> i64 {
    b.duration_since(a).as_secs() / 86_400
}

fn alter_tran(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
    let t = find(sb, l, p)?;
    let job = p.get("JobCd").cloned().unwrap_or_default();
    let r = alter(t, &job, p, now);
    record(t, now, "AlterTran", &job, &r);
    r
}

fn alter(t: &mut Tran, job: &str, p: &Params, now: Timestamp) -> Answer {
    if job.is_empty() || job == "null" {
        return Err(vec![e("E01", "E01050001")]);
    }
    if !["SALES", "VOID", "RETURN", "RETURNX", "AUTH", "CAPTURE"].contains(&job) {
        return Err(vec![e("E01", "E01050002")]);
    }
    if t.status == "UNPROCESSED" || t.status == "AUTHENTICATED" {
        return Err(vec![e("E01", "E01110010")]);
    }
    let same_day = jst_date(t.process_date) == jst_date(now);
    let same_month = {
        let (a, b) = (jst_date(t.process_date), jst_date(now));
        (a.year(), a.month()) == (b.year(), b.month())
    };
    let captured = matches!(t.status.as_str(), "CAPTURE" | "SALES");
    let live = matches!(t.status.as_str(), "AUTH" | "CAPTURE" | "SALES" | "SAUTH");
    match job {
        "SALES" => {
            if t.status != "AUTH" {
                return Err(vec![e(
                    "E11",
                    if captured { "E11010001" } else { "E11010003" },
                )]);
            }
            let mut errs = vec![];
            let a = amount(p, &mut errs);
            if !errs.is_empty() {
                return Err(errs);
            }
            if a != Some(t.amount) {
                return Err(vec![e("E01", "E01060010")]);
            }
            if t.auth_at.is_some_and(|at| {
                now.duration_since(at) > SignedDuration::from_hours(24 * AUTH_VALID_DAYS)
            }) {
                return Err(vec![e("E01", "E01420010")]);
            }
            approve(t, now);
            t.status = "SALES".into();
            t.job_cd = "SALES".into();
        }
        "VOID" | "RETURN" | "RETURNX" => {
            if !live {
                return Err(vec![e("E11", "E11010003")]);
            }
            if days_since(t.process_date, now) > CANCEL_LIMIT_DAYS {
                return Err(vec![e("E11", "E11010010")]);
            }
            let allowed = match job {
                "VOID" => same_day,
                "RETURN" => !same_day && (same_month || !captured),
                _ => captured && !same_month,
            };
            if !allowed {
                return Err(vec![e("E01", "E01050004")]);
            }
            approve(t, now);
            t.status = job.to_owned();
            t.job_cd = job.to_owned();
        }
        _ => {
            // AUTH / CAPTURE: re-authorization of a cancelled transaction.
            if !matches!(t.status.as_str(), "VOID" | "RETURN" | "RETURNX") {
                return Err(vec![e("E01", "E01050004")]);
            }
            let mut errs = vec![];
            let a = amount(p, &mut errs);
            if !errs.is_empty() {
                return Err(errs);
            }
            approve(t, now);
            t.amount = a.unwrap_or(t.amount);
            t.status = job.to_owned();
            t.job_cd = job.to_owned();
            t.auth_at = Some(now);
        }
    }
    Ok(vec![
        ("AccessID", t.access_id.clone()),
        ("AccessPass", t.access_pass.clone()),
        ("Forward", t.forward.clone()),
        ("Approve", t.approve.clone()),
        ("TranID", t.tran_id.clone()),
        ("TranDate", tran_date(now)),
    ])
}

fn change_tran(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
    let t = find(sb, l, p)?;
    let job = p.get("JobCd").cloned().unwrap_or_default();
    let r = (|| {
        if job.is_empty() || job == "null" {
            return Err(vec![e("E01", "E01050001")]);
        }
        if !["AUTH", "CAPTURE", "SALES"].contains(&job.as_str()) {
            return Err(vec![e("E01", "E01050002")]);
        }
        if !matches!(t.status.as_str(), "AUTH" | "CAPTURE" | "SALES") {
            return Err(vec![e("E11", "E11010002")]);
        }
        let mut errs = vec![];
        let a = amount(p, &mut errs);
        if !errs.is_empty() {
            return Err(errs);
        }
        // A change is a new authorization for the new amount.
        approve(t, now);
        t.amount = a.unwrap_or(t.amount);
        t.tax = p.get("Tax").and_then(|x| x.parse().ok()).unwrap_or(t.tax);
        t.status = if job == "SALES" {
            "SALES".into()
        } else {
            job.clone()
        };
        t.job_cd = job.clone();
        t.auth_at = Some(now);
        Ok(vec![
            ("AccessID", t.access_id.clone()),
            ("AccessPass", t.access_pass.clone()),
            ("Forward", t.forward.clone()),
            ("Approve", t.approve.clone()),
            ("TranID", t.tran_id.clone()),
            ("TranDate", tran_date(now)),
        ])
    })();
    record(t, now, "ChangeTran", &job, &r);
    r
}

fn search_trade(sb: &Sandbox, l: &mut Ledger, p: &Params) -> Answer {
    let shop = shop_auth(sb, p)?;
    let order_id = p.get("OrderID").cloned().unwrap_or_default();
    if order_id.is_empty() || order_id == "null" {
        return Err(vec![e("E01", "E01040001")]);
    }
    let t = l
        .trans
        .get(&key(&shop, &order_id))
        .filter(|t| t.pay_type == "0")
        .ok_or_else(|| vec![e("E01", "E01110002")])?;
    Ok(vec![
        ("OrderID", t.order_id.clone()),
        ("Status", t.status.clone()),
        ("ProcessDate", tran_date(t.process_date)),
        ("JobCd", t.job_cd.clone()),
        ("AccessID", t.access_id.clone()),
        ("AccessPass", t.access_pass.clone()),
        ("ItemCode", "0000990".into()),
        ("Amount", t.amount.to_string()),
        ("Tax", t.tax.to_string()),
        ("SiteID", String::new()),
        ("MemberID", String::new()),
        ("CardNo", t.card_no.clone()),
        ("Expire", t.expire.clone()),
        ("Method", t.method.clone()),
        ("PayTimes", t.pay_times.clone()),
        ("Forward", t.forward.clone()),
        ("TranID", t.tran_id.clone()),
        ("Approve", t.approve.clone()),
        ("ClientField1", String::new()),
        ("ClientField2", String::new()),
        ("ClientField3", String::new()),
    ])
}

/// Done on GMO's own admin screen (not by the shop's system): the sandbox's control API
/// offers these so tests can create the disagreements reconciliation must find.
pub fn admin_action(
    sb: &Sandbox,
    order_id: &str,
    action: &str,
    amount: Option<i64>,
) -> Result<Tran, String> {
    let now = sb.clock.now();
    let mut st = sb.state();
    let t = st
        .gmo
        .trans
        .get_mut(&key(&sb.config.gmo_shop_id, order_id))
        .ok_or_else(|| format!("no GMO transaction {order_id}"))?;
    let mut p = Params::new();
    if let Some(a) = amount {
        p.insert("Amount".into(), a.to_string());
    }
    let r = match action {
        "change_amount" => {
            if !matches!(t.status.as_str(), "AUTH" | "CAPTURE" | "SALES") {
                return Err(format!(
                    "cannot change the amount of a {} transaction",
                    t.status
                ));
            }
            t.amount = amount.ok_or("amount is required")?;
            approve(t, now);
            Ok(vec![])
        }
        "capture" => {
            p.insert("Amount".into(), t.amount.to_string());
            alter(t, "SALES", &p, now)
        }
        "cancel" => {
            let kind = if jst_date(t.process_date) == jst_date(now) {
                "VOID"
            } else if matches!(t.status.as_str(), "CAPTURE" | "SALES")
                && (
                    jst_date(t.process_date).year(),
                    jst_date(t.process_date).month(),
                ) != (jst_date(now).year(), jst_date(now).month())
            {
                "RETURNX"
            } else {
                "RETURN"
            };
            alter(t, kind, &p, now)
        }
        other => {
            return Err(format!(
                "unknown action {other} (change_amount, capture, cancel)"
            ));
        }
    };
    record(t, now, &format!("admin:{action}"), &t.job_cd.clone(), &r);
    match r {
        Ok(_) => Ok(t.clone()),
        Err(errs) => Err(errs
            .iter()
            .map(|e| e.info.clone())
            .collect::<Vec<_>>()
            .join("|")),
    }
}

fn site_auth(sb: &Sandbox, p: &Params) -> Result<String, Vec<GmoError>> {
    let id = p.get("SiteID").map(String::as_str).unwrap_or("");
    let pass = p.get("SitePass").map(String::as_str).unwrap_or("");
    if id.is_empty() {
        return Err(vec![e("E01", "E01200001")]);
    }
    if pass.is_empty() {
        return Err(vec![e("E01", "E01210001")]);
    }
    if id != sb.config.gmo_site_id || pass != sb.config.gmo_site_pass {
        return Err(vec![e("E01", "E01210002")]);
    }
    Ok(id.to_owned())
}

fn member_id(p: &Params) -> Result<String, Vec<GmoError>> {
    let m = p.get("MemberID").cloned().unwrap_or_default();
    if m.is_empty() || m == "null" {
        return Err(vec![e("E01", "E01230001")]);
    }
    if m.len() > 60
        || !m
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
    {
        return Err(vec![e("E01", "E01230006")]);
    }
    Ok(m)
}

fn save_member(sb: &Sandbox, l: &mut Ledger, p: &Params) -> Answer {
    let site = site_auth(sb, p)?;
    let id = member_id(p)?;
    let k = key(&site, &id);
    if l.members.contains_key(&k) {
        return Err(vec![e("E01", "E01390010")]);
    }
    l.members.insert(
        k,
        Member {
            site_id: site,
            member_id: id.clone(),
            member_name: p.get("MemberName").cloned().unwrap_or_default(),
            cards: vec![],
        },
    );
    Ok(vec![("MemberID", id)])
}

fn member<'a>(
    sb: &Sandbox,
    l: &'a mut Ledger,
    p: &Params,
) -> Result<&'a mut Member, Vec<GmoError>> {
    let site = site_auth(sb, p)?;
    let id = member_id(p)?;
    l.members
        .get_mut(&key(&site, &id))
        .ok_or_else(|| vec![e("E01", "E01390002")])
}

fn search_member(sb: &Sandbox, l: &mut Ledger, p: &Params) -> Answer {
    let m = member(sb, l, p)?;
    Ok(vec![
        ("MemberID", m.member_id.clone()),
        ("MemberName", m.member_name.clone()),
        ("DeleteFlag", "0".into()),
    ])
}

fn delete_member(sb: &Sandbox, l: &mut Ledger, p: &Params) -> Answer {
    let site = site_auth(sb, p)?;
    let id = member_id(p)?;
    l.members
        .remove(&key(&site, &id))
        .map(|m| vec![("MemberID", m.member_id)])
        .ok_or_else(|| vec![e("E01", "E01390002")])
}

fn save_card(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
    let m = member(sb, l, p)?;
    let card_no = p.get("CardNo").cloned().unwrap_or_default();
    let expire = p.get("Expire").cloned().unwrap_or_default();
    let mut errs = vec![];
    check_card(&card_no, &expire, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    // A card is checked with its issuer before it is kept: a declining card is not stored.
    if let CardBehaviour::Decline { code } = card_behaviour(&card_no) {
        return Err(vec![e(&code, &format!("42{code}0000"))]);
    }
    let today = jst_date(now);
    let expired = (
        2000 + expire[..2].parse::<i16>().unwrap_or(0),
        expire[2..].parse::<i8>().unwrap_or(0),
    ) < (today.year(), today.month());
    if expired {
        return Err(vec![e("G83", "42G830000")]);
    }
    let default =
        p.get("DefaultFlag").map(String::as_str) == Some("1") || m.cards.iter().all(|c| c.deleted);
    if default {
        m.cards.iter_mut().for_each(|c| c.default = false);
    }
    let requested: Option<u32> = p.get("CardSeq").and_then(|s| s.parse().ok());
    let seq = match requested {
        // Updating a stored card keeps its sequence number.
        Some(s) => {
            let Some(c) = m.cards.iter_mut().find(|c| c.seq == s && !c.deleted) else {
                return Err(vec![e("E01", "E01240002")]);
            };
            c.number = card_no.clone();
            c.masked = mask(&card_no);
            c.expire = expire.clone();
            c.default = default || c.default;
            s
        }
        None => {
            let s = m.cards.len() as u32;
            m.cards.push(StoredCard {
                seq: s,
                number: card_no.clone(),
                masked: mask(&card_no),
                expire: expire.clone(),
                holder_name: p.get("HolderName").cloned().unwrap_or_default(),
                default,
                deleted: false,
            });
            s
        }
    };
    Ok(vec![
        ("CardSeq", seq.to_string()),
        ("CardNo", mask(&card_no)),
        ("Forward", "2a99662".into()),
    ])
}

fn search_card(sb: &Sandbox, l: &mut Ledger, p: &Params) -> Answer {
    let m = member(sb, l, p)?;
    let seq: Option<u32> = p.get("CardSeq").and_then(|s| s.parse().ok());
    let cards: Vec<&StoredCard> = m
        .cards
        .iter()
        .filter(|c| !c.deleted && seq.is_none_or(|s| c.seq == s))
        .collect();
    if cards.is_empty() {
        return Err(vec![e("E01", "E01240002")]);
    }
    // Several cards come back as pipe-joined lists, position by position.
    let join = |f: &dyn Fn(&StoredCard) -> String| {
        cards.iter().map(|c| f(c)).collect::<Vec<_>>().join("|")
    };
    Ok(vec![
        ("CardSeq", join(&|c| c.seq.to_string())),
        (
            "DefaultFlag",
            join(&|c| if c.default { "1".into() } else { "0".into() }),
        ),
        ("CardName", join(&|_| String::new())),
        ("CardNo", join(&|c| c.masked.clone())),
        ("Expire", join(&|c| c.expire.clone())),
        ("HolderName", join(&|c| c.holder_name.clone())),
        ("DeleteFlag", join(&|_| "0".into())),
    ])
}

fn delete_card(sb: &Sandbox, l: &mut Ledger, p: &Params) -> Answer {
    let m = member(sb, l, p)?;
    let seq: Option<u32> = p.get("CardSeq").and_then(|s| s.parse().ok());
    let Some(s) = seq else {
        return Err(vec![e("E01", "E01250001")]);
    };
    let c = m
        .cards
        .iter_mut()
        .find(|c| c.seq == s && !c.deleted)
        .ok_or_else(|| vec![e("E01", "E01240002")])?;
    c.deleted = true;
    c.default = false;
    Ok(vec![("CardSeq", s.to_string())])
}

/// Konbini (3) and Pay-easy (4). GMO's public error list names no field-specific codes for
/// their input checks; the sandbox's choices (E01130012, E01220001/8/10, E01350008) are its
/// own and documented in docs/sandbox.md.
/// Convenience codes: Lawson, FamilyMart, Ministop, Seven-Eleven, Seicomart.
const CONVENIENCE: [&str; 5] = ["00001", "00002", "00005", "10001", "10002"];
pub const DEFAULT_TERM_DAYS: i64 = 7;

/// EntryTranCvs / EntryTranPayEasy: OrderID and Amount, like a card entry.
fn entry_later(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp, pay_type: &str) -> Answer {
    let mut q = p.clone();
    q.insert("JobCd".into(), "AUTH".into());
    let out = entry_tran(sb, l, &q, now)?;
    let shop = shop_auth(sb, p)?;
    if let Some(t) = l.trans.get_mut(&key(
        &shop,
        p.get("OrderID").map(String::as_str).unwrap_or(""),
    )) {
        t.pay_type = pay_type.to_owned();
        t.entry_job_cd = String::new();
        t.job_cd = String::new();
        if let Some(ev) = t.history.last_mut() {
            ev.api = if pay_type == "3" {
                "EntryTranCvs".into()
            } else {
                "EntryTranPayEasy".into()
            };
        }
    }
    Ok(out)
}

fn kana_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| ('\u{30A0}'..='\u{30FF}').contains(&c) || c == ' ' || c == '\u{3000}')
}

/// ExecTranCvs / ExecTranPayEasy: issue the payment number and deadline; the buyer pays
/// later (the control API's `pay`), or the deadline passes (EXPIRED).
fn exec_later(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp, pay_type: &str) -> Answer {
    let t = find(sb, l, p)?;
    let api = if pay_type == "3" {
        "ExecTranCvs"
    } else {
        "ExecTranPayEasy"
    };
    let r = (|| {
        if t.pay_type != pay_type {
            return Err(vec![e("E01", "E01110002")]);
        }
        if t.status != "UNPROCESSED" {
            return Err(vec![e("E11", "E11010001")]);
        }
        let mut errs = vec![];
        if p.get("OrderID").map(String::as_str) != Some(t.order_id.as_str()) {
            errs.push(e("E01", "E01040001"));
        }
        let conv = p.get("Convenience").cloned().unwrap_or_default();
        if pay_type == "3" && !CONVENIENCE.contains(&conv.as_str()) {
            errs.push(e("E01", "E01130012"));
        }
        let name = p.get("CustomerName").cloned().unwrap_or_default();
        if name.trim().is_empty() || name.chars().count() > 40 {
            errs.push(e("E01", "E01220001"));
        }
        let kana = p.get("CustomerKana").cloned().unwrap_or_default();
        if !kana_ok(&kana) {
            errs.push(e("E01", "E01220008"));
        }
        let tel = p.get("TelNo").cloned().unwrap_or_default();
        if tel.is_empty() || !tel.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            errs.push(e("E01", "E01220010"));
        }
        let days = match p
            .get("PaymentTermDay")
            .map(String::as_str)
            .filter(|s| !s.is_empty())
        {
            None => DEFAULT_TERM_DAYS,
            Some(d) => match d.parse::<i64>() {
                Ok(n) if (1..=60).contains(&n) => n,
                _ => {
                    errs.push(e("E01", "E01350008"));
                    DEFAULT_TERM_DAYS
                }
            },
        };
        if !errs.is_empty() {
            return Err(errs);
        }
        // The deadline is the end of the Japan day `days` later.
        let jst = jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(9));
        let last_day = jst_date(now)
            .checked_add(jiff::Span::new().days(days))
            .unwrap_or(jst_date(now));
        let term = last_day
            .at(23, 59, 59, 0)
            .to_zoned(jst)
            .map(|z| z.timestamp())
            .unwrap_or(now);
        approve(t, now);
        t.status = "REQSUCCESS".into();
        t.payment_term = Some(term);
        t.extra.insert("CustomerName".into(), name);
        let term_s = tran_date(term);
        let mut out = vec![("OrderID", t.order_id.clone())];
        if pay_type == "3" {
            let conf = format!(
                "{}",
                1000 + ids::digits(4).parse::<u32>().unwrap_or(0) % 9000
            );
            let receipt = ids::digits(12);
            t.extra.insert("Convenience".into(), conv.clone());
            t.extra.insert("ConfNo".into(), conf.clone());
            t.extra.insert("ReceiptNo".into(), receipt.clone());
            out.extend([
                ("Convenience", conv),
                ("ConfNo", conf),
                ("ReceiptNo", receipt),
            ]);
        } else {
            let cust = format!("WNT{}", ids::digits(8));
            let conf = ids::digits(4);
            let enc = ids::hex(10);
            t.extra.insert("CustID".into(), cust.clone());
            t.extra.insert("BkCode".into(), "58021".into());
            t.extra.insert("ConfNo".into(), conf.clone());
            t.extra.insert("EncryptReceiptNo".into(), enc.clone());
            out.extend([
                ("CustID", cust),
                ("BkCode", "58021".into()),
                ("ConfNo", conf),
                ("EncryptReceiptNo", enc),
            ]);
        }
        out.extend([
            ("PaymentTerm", term_s),
            ("TranDate", tran_date(now)),
            ("CheckString", ids::hex(16)),
        ]);
        Ok(out)
    })();
    record(t, now, api, "", &r);
    r
}

/// Past the deadline an unpaid request expires; applied whenever the transaction is read.
fn expire_if_due(t: &mut Tran, now: Timestamp) {
    if t.status == "REQSUCCESS" && t.payment_term.is_some_and(|term| now > term) {
        t.status = "EXPIRED".into();
        let at = t.payment_term.unwrap_or(now);
        t.history.push(Event {
            at,
            api: "(deadline)".into(),
            job_cd: String::new(),
            amount: t.amount,
            result: "EXPIRED".into(),
        });
    }
}

fn cvs_cancel(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
    let t = find(sb, l, p)?;
    expire_if_due(t, now);
    let r = if t.pay_type != "3" {
        Err(vec![e("E01", "E01110002")])
    } else if t.status != "REQSUCCESS" {
        Err(vec![e("E11", "E11010003")])
    } else {
        t.status = "CANCEL".into();
        t.process_date = now;
        Ok(vec![
            ("OrderID", t.order_id.clone()),
            ("Status", "CANCEL".into()),
        ])
    };
    record(t, now, "CvsCancel", "", &r);
    r
}

/// SearchTradeMulti: any pay type (0 card, 3 konbini, 4 Pay-easy).
fn search_trade_multi(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
    let shop = shop_auth(sb, p)?;
    let order_id = p.get("OrderID").cloned().unwrap_or_default();
    let pay_type = p.get("PayType").cloned().unwrap_or_default();
    let mut errs = vec![];
    if order_id.is_empty() || order_id == "null" {
        errs.push(e("M01", "M01004002"));
    }
    if !["0", "3", "4"].contains(&pay_type.as_str()) {
        errs.push(e("M01", "M01051005"));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let t = l
        .trans
        .get_mut(&key(&shop, &order_id))
        .filter(|t| t.pay_type == pay_type)
        .ok_or_else(|| vec![e("E01", "E01110002")])?;
    expire_if_due(t, now);
    let mut out = vec![
        ("OrderID", t.order_id.clone()),
        ("Status", t.status.clone()),
        ("ProcessDate", tran_date(t.process_date)),
        ("JobCd", t.job_cd.clone()),
        ("AccessID", t.access_id.clone()),
        ("AccessPass", t.access_pass.clone()),
        ("Amount", t.amount.to_string()),
        ("Tax", t.tax.to_string()),
        ("PayType", t.pay_type.clone()),
    ];
    for k in [
        "Convenience",
        "ConfNo",
        "ReceiptNo",
        "CustID",
        "BkCode",
        "EncryptReceiptNo",
    ] {
        if let Some(v) = t.extra.get(k) {
            let key: &'static str = match k {
                "Convenience" => "Convenience",
                "ConfNo" => "ConfNo",
                "ReceiptNo" => "ReceiptNo",
                "CustID" => "CustID",
                "BkCode" => "BkCode",
                _ => "EncryptReceiptNo",
            };
            out.push((key, v.clone()));
        }
    }
    if let Some(term) = t.payment_term {
        out.push(("PaymentTerm", tran_date(term)));
    }
    if t.pay_type == "0" {
        out.extend([
            ("CardNo", t.card_no.clone()),
            ("Approve", t.approve.clone()),
            ("TranID", t.tran_id.clone()),
        ]);
    }
    Ok(out)
}

/// The buyer pays at the store or ATM (control API): REQSUCCESS → PAYSUCCESS, once, before
/// the deadline.
pub fn buyer_pays(sb: &Sandbox, order_id: &str) -> Result<Tran, String> {
    let now = sb.clock.now();
    let mut st = sb.state();
    let t = st
        .gmo
        .trans
        .get_mut(&key(&sb.config.gmo_shop_id, order_id))
        .ok_or_else(|| format!("no GMO transaction {order_id}"))?;
    expire_if_due(t, now);
    if t.pay_type == "0" {
        return Err("a card transaction is not paid at a store".into());
    }
    if t.status != "REQSUCCESS" {
        return Err(format!("cannot pay a {} transaction", t.status));
    }
    t.status = "PAYSUCCESS".into();
    t.process_date = now;
    t.extra.insert("FinishDate".into(), tran_date(now));
    let r: Answer = Ok(vec![]);
    record(t, now, "(buyer paid)", "", &r);
    let t = t.clone();
    drop(st);
    notify(sb, &t);
    Ok(t)
}

/// Whether the issuer asks the buyer to authenticate (X=3 succeeds, X=4 fails); other cards
/// pass without a challenge (frictionless).
fn challenge_kind(card_no: &str) -> Option<bool> {
    match card_no.bytes().rev().nth(3) {
        Some(b'3') => Some(true),
        Some(b'4') => Some(false),
        _ => None,
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Back to the shop: an auto-submitting form POSTing AccessID and OrderID to its RetUrl.
fn return_page(ret_url: &str, access_id: &str, order_id: &str) -> Response {
    axum::response::Html(format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>3Dセキュア認証</title></head>\
         <body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"AccessID\" value=\"{}\"><input type=\"hidden\" name=\"OrderID\" value=\"{}\">\
         <noscript><button type=\"submit\">ショップへ戻る</button></noscript></form></body></html>",
        esc(ret_url),
        esc(access_id),
        esc(order_id)
    ))
    .into_response()
}

#[derive(serde::Deserialize)]
struct ChallengeQuery {
    #[serde(rename = "AccessID")]
    access_id: String,
}

/// The issuer's 3-D Secure page (ACS). Frictionless cards return to the shop at once.
async fn challenge_page(
    State(sb): State<Sandbox>,
    axum::extract::Query(q): axum::extract::Query<ChallengeQuery>,
) -> Response {
    let mut st = sb.state();
    let Some(t) = st
        .gmo
        .trans
        .values_mut()
        .find(|t| t.access_id == q.access_id)
    else {
        return (StatusCode::NOT_FOUND, "no such 3-D Secure session").into_response();
    };
    let Some(pending) = t.pending_3ds.clone() else {
        return (StatusCode::CONFLICT, "this 3-D Secure session is finished").into_response();
    };
    if challenge_kind(&pending.card_no).is_none() {
        t.tds_result = "Y".into();
        return return_page(&pending.ret_url, &t.access_id, &t.order_id);
    }
    axum::response::Html(format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>本人認証（3Dセキュア）</title>\
         <style>body{{font-family:sans-serif;background:#eef1f5;display:flex;justify-content:center;padding-top:60px}}\
         form{{background:#fff;padding:24px 32px;border:1px solid #ccd;border-radius:6px;width:380px}}\
         button{{padding:8px 18px;margin-right:8px}}</style></head><body>\
         <form method=\"post\" action=\"/gmo/tds2/challenge\"><h1 style=\"font-size:18px\">本人認証（3Dセキュア 2.0）</h1>\
         <p>加盟店: {shop}<br>ご利用金額: {amount}円<br>カード番号: {card}</p>\
         <p><label>ワンタイムパスワード <input name=\"otp\" value=\"123456\"></label></p>\
         <input type=\"hidden\" name=\"AccessID\" value=\"{id}\">\
         <button name=\"answer\" value=\"ok\" id=\"tds-ok\">認証する</button>\
         <button name=\"answer\" value=\"cancel\" id=\"tds-cancel\">キャンセル</button></form></body></html>",
        shop = esc(&t.shop_id),
        amount = t.amount,
        card = esc(&mask(&pending.card_no)),
        id = esc(&t.access_id),
    ))
    .into_response()
}

#[derive(serde::Deserialize)]
struct ChallengeAnswer {
    #[serde(rename = "AccessID")]
    access_id: String,
    answer: String,
}

async fn challenge_answer(
    State(sb): State<Sandbox>,
    axum::extract::Form(a): axum::extract::Form<ChallengeAnswer>,
) -> Response {
    let mut st = sb.state();
    let Some(t) = st
        .gmo
        .trans
        .values_mut()
        .find(|t| t.access_id == a.access_id)
    else {
        return (StatusCode::NOT_FOUND, "no such 3-D Secure session").into_response();
    };
    let Some(pending) = t.pending_3ds.clone() else {
        return (StatusCode::CONFLICT, "this 3-D Secure session is finished").into_response();
    };
    let passes = a.answer == "ok" && challenge_kind(&pending.card_no) != Some(false);
    t.tds_result = if passes { "Y".into() } else { "N".into() };
    return_page(&pending.ret_url, &t.access_id, &t.order_id)
}

/// SecureTran2: after the buyer's 3-D Secure, authorize (AccessID and AccessPass only, as
/// GMO takes it).
fn secure_tran2(l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
    let id = p.get("AccessID").map(String::as_str).unwrap_or("");
    let pass = p.get("AccessPass").map(String::as_str).unwrap_or("");
    let t = l
        .trans
        .values_mut()
        .find(|t| t.access_id == id && t.access_pass == pass)
        .ok_or_else(|| vec![e("E01", "E01110002")])?;
    let job = t.entry_job_cd.clone();
    let r = match (t.pending_3ds.clone(), t.tds_result.as_str()) {
        (None, _) => Err(vec![e("E11", "E11010001")]),
        (Some(_), "C") => Err(vec![e("E21", "E21020999")]),
        (Some(_), "N") => {
            // Failed authentication ends this attempt; the buyer may try again.
            t.pending_3ds = None;
            t.status = "UNPROCESSED".into();
            Err(vec![e("E21", "E21030007")])
        }
        (Some(pd), _) => {
            t.pending_3ds = None;
            let (r, ok) =
                authorize_card(t, &pd.card_no, &pd.expire, &pd.method, &pd.pay_times, now);
            if !ok {
                t.status = "UNPROCESSED".into();
            }
            r
        }
    };
    record(t, now, "SecureTran2", &job, &r);
    r
}

/// The token script shops load instead of GMO's `token.js`: the same API
/// (`Multipayment.init(shopId)`, `Multipayment.getToken(card, callback)`), posting the card
/// to this sandbox, never to the shop.
async fn token_js() -> Response {
    const JS: &str = r#"(function () {
  var base = (function () {
    var s = document.currentScript && document.currentScript.src;
    return s ? s.replace(/\/ext\/js\/token\.js.*$/, "") : "/gmo";
  })();
  var shopId = null;
  window.Multipayment = {
    init: function (id) { shopId = id; },
    getToken: function (card, callback) {
      var body = {
        shopId: shopId, cardno: String(card.cardno || ""), expire: String(card.expire || ""),
        securitycode: String(card.securitycode || ""), holdername: String(card.holdername || ""),
        tokennumber: String(card.tokennumber || "1")
      };
      fetch(base + "/ext/api/credit/getToken", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
      }).then(function (r) { return r.json(); })
        .then(function (res) { callback(res); })
        .catch(function () { callback({ resultCode: "902" }); });
    }
  };
})();
"#;
    (
        [(
            header::CONTENT_TYPE,
            "application/javascript; charset=utf-8",
        )],
        JS,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRequest {
    shop_id: Option<String>,
    #[serde(default)]
    cardno: String,
    #[serde(default)]
    expire: String,
    #[serde(default)]
    securitycode: String,
    #[serde(default)]
    holdername: String,
    #[serde(default)]
    tokennumber: String,
}

/// The token API behind the script. Result codes as GMO's script reports them: 000 OK,
/// 100/101/102 card number, 110/111/112 expiry, 121/122 security code, 131 holder name,
/// 160/180 shop, 142 token count.
async fn get_token(State(sb): State<Sandbox>, axum::Json(r): axum::Json<TokenRequest>) -> Response {
    let fail = |code: &str| axum::Json(serde_json::json!({ "resultCode": code })).into_response();
    match r.shop_id.as_deref() {
        None | Some("") => return fail("160"),
        Some(id) if id != sb.config.gmo_shop_id => return fail("180"),
        _ => {}
    }
    let card: String = r
        .cardno
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if card.is_empty() {
        return fail("100");
    }
    if !card.bytes().all(|b| b.is_ascii_digit()) {
        return fail("101");
    }
    if !(10..=16).contains(&card.len()) {
        return fail("102");
    }
    // YYYYMM or YYMM.
    let exp = r.expire.trim();
    if exp.is_empty() {
        return fail("110");
    }
    let yymm = match exp.len() {
        6 => exp[2..].to_owned(),
        4 => exp.to_owned(),
        _ => return fail("111"),
    };
    if !yymm.bytes().all(|b| b.is_ascii_digit())
        || !(1..=12).contains(&yymm[2..].parse::<u8>().unwrap_or(0))
    {
        return fail("112");
    }
    let sc = r.securitycode.trim();
    if !sc.is_empty() && !sc.bytes().all(|b| b.is_ascii_digit()) {
        return fail("121");
    }
    if !sc.is_empty() && !(3..=4).contains(&sc.len()) {
        return fail("122");
    }
    if r.holdername.chars().count() > 50 || r.holdername.chars().any(|c| !c.is_ascii()) {
        return fail("131");
    }
    let n: usize = match r.tokennumber.trim() {
        "" => 1,
        t => match t.parse() {
            Ok(n) if (1..=10).contains(&n) => n,
            _ => return fail("142"),
        },
    };
    let now = sb.clock.now();
    let expires_at = now
        .checked_add(SignedDuration::from_mins(TOKEN_MINUTES))
        .unwrap_or(now);
    let mut tokens = Vec::with_capacity(n);
    {
        let mut st = sb.state();
        for _ in 0..n {
            let t = ids::hex(32);
            st.gmo.tokens.insert(
                t.clone(),
                CardToken {
                    card_no: card.clone(),
                    expire: yymm.clone(),
                    expires_at,
                    used: false,
                },
            );
            tokens.push(t);
        }
    }
    let token: serde_json::Value = if n == 1 {
        tokens[0].clone().into()
    } else {
        tokens.into()
    };
    axum::Json(serde_json::json!({
        "resultCode": "000",
        "tokenObject": {
            "token": token,
            "toBeExpiredAt": expires_at.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(9))).strftime("%Y-%m-%d-%H-%M-%S").to_string(),
            "maskedCardNo": format!("{}******{}", &card[..6.min(card.len())], &card[card.len() - 4..]),
            "isSecurityCodeSet": !sc.is_empty(),
        }
    }))
    .into_response()
}

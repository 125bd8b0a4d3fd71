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
use crate::faults::{Before, Refuse, unavailable};
use crate::{Sandbox, ids};

mod card;
mod later;
mod member;
mod tds;
mod token;

pub use card::admin_action;
use card::*;
use later::*;
pub use later::{buyer_pays, expire_now, payment_fails, sweep};
use member::*;
use tds::*;
use token::*;

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
    pub extra: std::collections::BTreeMap<&'static str, String>,
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
    /// By (ShopID, OrderID). Add with [`Ledger::add`].
    pub trans: HashMap<String, Tran>,
    /// The key in `trans` by AccessID: the real gateway finds a transaction by its AccessID
    /// in constant time, and so must a sandbox a bulk run sends ten thousand captures to.
    #[serde(skip)]
    by_access: HashMap<String, String>,
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

pub(super) fn key(shop: &str, order: &str) -> String {
    format!("{shop}/{order}")
}

type Params = HashMap<String, String>;

pub(super) fn e(code: &str, info: &str) -> GmoError {
    GmoError {
        code: code.to_owned(),
        info: info.to_owned(),
    }
}

/// The answer to one API call: pairs, or errors.
type Answer = Result<Vec<(&'static str, String)>, Vec<GmoError>>;

pub(super) fn respond(a: &Answer) -> Response {
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

/// The sandbox's own address as the client reached it, for URLs it hands out (3DS pages).
pub(crate) fn base_url(h: &HeaderMap) -> String {
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// Internal parameter carrying the sandbox's base URL into the API functions.
pub(super) const BASE: &str = "\u{0}sandbox_base";

pub(super) async fn call(
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
    let refuse = |r| match r {
        Refuse::Unavailable => unavailable(),
        Refuse::Busy => respond(&Err(vec![e("E92", "E92000001")])),
    };
    let after = match sb.faults.before("gmo", &name, refuse).await {
        Before::Go(after) => after,
        Before::Stop(r) => return r,
    };
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
            "ExecTranCvs" => exec_later(ledger, &params, now, "3"),
            "ExecTranPayEasy" => exec_later(ledger, &params, now, "4"),
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
        let t = sb.state().gmo.by_access(&access_id).cloned();
        if let Some(t) = t {
            notify(&sb, &t);
        }
    }
    if let Some(r) = after.apply().await {
        return r;
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

pub(super) fn shop_auth(sb: &Sandbox, p: &Params) -> Result<String, Vec<GmoError>> {
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

pub(super) fn amount(p: &Params, errs: &mut Vec<GmoError>) -> Option<i64> {
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

impl Ledger {
    pub(super) fn add(&mut self, key: String, t: Tran) {
        self.by_access.insert(t.access_id.clone(), key.clone());
        self.trans.insert(key, t);
    }

    /// The transaction with this AccessID.
    pub(super) fn by_access(&mut self, access_id: &str) -> Option<&mut Tran> {
        let key = self.by_access.get(access_id)?;
        self.trans.get_mut(key)
    }
}

/// The transaction a shop API call names: the shop's credentials (ShopID / ShopPass), then
/// the transaction's (AccessID / AccessPass), which must belong to that shop.
pub(super) fn find<'a>(
    sb: &Sandbox,
    l: &'a mut Ledger,
    p: &Params,
) -> Result<&'a mut Tran, Vec<GmoError>> {
    let shop = shop_auth(sb, p)?;
    find_by_access(l, p).and_then(|t| {
        if t.shop_id == shop {
            Ok(t)
        } else {
            Err(vec![e("E01", "E01110002")])
        }
    })
}

/// The transaction an ExecTran / ExecTranCvs / ExecTranPayEasy call names. GMO authenticates
/// these by AccessID / AccessPass alone — its own module sends no ShopID / ShopPass there (the
/// browser-facing step of a transaction the shop entered) — and ignores shop credentials sent
/// anyway.
pub(super) fn find_by_access<'a>(
    l: &'a mut Ledger,
    p: &Params,
) -> Result<&'a mut Tran, Vec<GmoError>> {
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
    l.by_access(id)
        .filter(|t| t.access_pass == pass)
        .ok_or_else(|| vec![e("E01", "E01110002")])
}

pub(super) fn record(t: &mut Tran, at: Timestamp, api: &str, job_cd: &str, r: &Answer) {
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

pub(super) fn tran_date(now: Timestamp) -> String {
    now.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(9)))
        .strftime("%Y%m%d%H%M%S")
        .to_string()
}

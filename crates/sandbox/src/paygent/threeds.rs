//! EMV 3-D Secure 2.0 (the annex 別紙：EMV 3Dセキュア; docs/paygent-protocol.md §3.1a):
//!
//! - the 450 telegram at `/paygent/n/threeds/request` (UTF-8, unlike the rest of the module
//!   type) creates an authentication and answers its `3ds_auth_id` with `out_acs_html`, a page
//!   the merchant sends to the buyer's browser;
//! - that page takes the browser to the issuer (`/paygent/threeds/acs/{id}`): frictionless
//!   cards come straight back, X=3 / X=4 cards meet a challenge page (passes / fails);
//! - the browser is then redirected (GET) to the merchant's term_url with the result and `hc`;
//! - an authentication not finished within 30 minutes times out (31013) and the merchant is
//!   told by a GET to term_url, resent after 60 minutes up to 3 times;
//! - 020 with `3dsecure_use_type=2` spends a passed authentication of the same card and
//!   amount ([`use_for_020`]).
//!
//! Besides the card number, the test environment's cardholder names (supplement §5, e.g.
//! `BAVAA`) choose an outcome, so every attempt class can be tried.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get as get_route, post};
use jiff::{SignedDuration, Timestamp};
use juchu_wire::form::{self, Charset};

use super::{Ledger, Params, Refusal, get, refuse, sha256_hex};
use crate::Sandbox;
use crate::view::{buyer_page, esc};

/// Minutes the buyer has before the authentication times out (annex §1.3).
pub const TIMEOUT_MINUTES: i64 = 30;
/// A timeout notice the merchant did not accept is sent again this much later, this many
/// times (annex §1.3).
pub const RESEND_MINUTES: i64 = 60;
pub const RESENDS: u32 = 3;

type Answer = Vec<(&'static str, String)>;

/// The authentications, and whether the task sending timeout notices runs.
#[derive(Debug, Default)]
pub struct Book {
    pub auths: Vec<Auth>,
    sweeping: bool,
}

/// How an authentication ends: result 0 with its attempt class (`""` authenticated, `"0"`
/// normal, `"1"` caution), or result 1 (31007).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed(String),
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// The issuer decides without the buyer.
    Frictionless(Verdict),
    /// The issuer asks the buyer; the challenge can pass unless the card is X=4.
    Challenge { passes: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Waiting,
    Done(Verdict),
    TimedOut,
}

#[derive(Debug, Clone)]
pub struct Auth {
    pub id: String,
    pub site_id: String,
    term_url: String,
    merchant_name: String,
    /// As sent (a decimal for currencies with cents).
    pub amount: String,
    pub currency: String,
    card_number: String,
    brand: &'static str,
    acq_id: &'static str,
    plan: Plan,
    pub stage: Stage,
    pub created_at: Timestamp,
    /// Spent by a 020 (31010 for the next one).
    pub used: bool,
    notices_sent: u32,
    next_notice_at: Option<Timestamp>,
    notice_delivered: bool,
}

/// The 450 telegram. Refusals come back as a full answer (every parameter listed) with
/// result=1, as card telegrams do.
pub fn start(
    sb: &Sandbox,
    l: &mut Ledger,
    body: &[u8],
    base: &str,
    now: Timestamp,
) -> Result<Answer, Refusal> {
    // The annex's telegrams are UTF-8, not Shift_JIS: full-width address fields depend on it.
    let p: Params = form::decode(body, Charset::Utf8).into_iter().collect();
    let answer = match create(l, &p, base, now) {
        Ok(a) => a,
        Err(e) => {
            let mut v: Answer = vec![("result", "1".into())];
            v.extend(
                [
                    "card_brand",
                    "acq_id",
                    "3ds_auth_id",
                    "issur_class",
                    "acq_name",
                    "issur_name",
                    "issur_id",
                    "fingerprint",
                    "masked_card_number",
                ]
                .map(|k| (k, String::new())),
            );
            v.push(("response_code", e.code));
            v.push(("response_detail", e.detail));
            v.push(("out_acs_html", String::new()));
            v
        }
    };
    start_sweeper(sb, l);
    Ok(answer)
}

/// A mandatory item: the annex's list has no P005, absent and empty are both P006.
fn required<'a>(p: &'a Params, k: &str) -> Result<&'a str, Refusal> {
    match get(p, k) {
        "" => Err(refuse("P006", k)),
        v => Ok(v),
    }
}

/// The annex's half-width symbols are ASCII 0x20–0x7e.
fn printable(v: &str) -> bool {
    v.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fn sized(k: &str, v: &str, max: usize) -> Result<(), Refusal> {
    if v.chars().count() > max {
        return Err(refuse("P009", k));
    }
    Ok(())
}

fn digits(k: &str, v: &str, len: std::ops::RangeInclusive<usize>) -> Result<(), Refusal> {
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse("P008", k));
    }
    if !len.contains(&v.len()) {
        return Err(refuse("P009", k));
    }
    Ok(())
}

/// Decimal places per currency (annex §4); others are refused.
fn decimals(currency: &str) -> Option<usize> {
    match currency {
        "JPY" | "KRW" | "VND" => Some(0),
        "USD" | "EUR" | "GBP" | "CNY" | "TWD" | "HKD" | "SGD" | "AUD" | "CAD" | "DKK" | "INR"
        | "MYR" | "NOK" | "PHP" | "RUB" | "SEK" | "CHF" | "THB" | "BRL" | "IDR" | "AED" => Some(2),
        _ => None,
    }
}

/// Brand and acquirer code by the card's leading digits; `None` is a card Paygent cannot
/// take (31001).
fn brand(number: &str) -> Option<(&'static str, &'static str)> {
    let n = |len: usize| number.get(..len).and_then(|s| s.parse::<u32>().ok());
    let b = match (n(1), n(2), n(3), n(4)) {
        (Some(4), ..) => ("VISA", "50001"),
        (_, Some(51..=55), ..) | (.., Some(2221..=2720)) => ("MASTER", "50001"),
        (_, Some(35), ..) => ("JCB", "99661"),
        (_, Some(34 | 37), ..) => ("AMEX", "99819"),
        (_, Some(36 | 38 | 39), ..) | (_, _, Some(300..=305), _) => ("DINERS", "99660"),
        (_, Some(65), ..) | (.., Some(6011)) | (_, _, Some(644..=649), _) => ("DISCOVER", "50001"),
        _ => return None,
    };
    Some(b)
}

/// The card a 450 authenticates.
struct CardData {
    number: String,
    holder: String,
}

/// card_set_method=token: the token is looked at, not spent — 450 does not count token uses,
/// so the same token then goes to the 020.
fn token_card(l: &Ledger, p: &Params, now: Timestamp) -> Result<CardData, Refusal> {
    let token = required(p, "card_token")?;
    let t = super::token::usable(l, token, now).map_err(|e| match e.code.as_str() {
        "2020" => refuse("31003", "card_token"),
        "2022" => refuse("31005", "card_token"),
        _ => refuse("31004", "card_token"),
    })?;
    // A security-code token names no card.
    if t.cvc_only {
        return Err(refuse("31002", "card_token"));
    }
    Ok(CardData {
        number: t.number.clone(),
        holder: String::new(),
    })
}

/// card_set_method=customer: a stored card; customer_card_id may be left out when the
/// customer has only one.
fn stored_card(l: &Ledger, p: &Params) -> Result<CardData, Refusal> {
    let customer = required(p, "customer_id")?;
    let card_id = get(p, "customer_card_id");
    let mut cards = l
        .cards
        .iter()
        .filter(|c| c.customer_id == customer)
        .filter(|c| card_id.is_empty() || c.customer_card_id == card_id);
    match (cards.next(), cards.next()) {
        (None, _) => Err(refuse("31006", "stored card not found")),
        (Some(_), Some(_)) => Err(refuse("P006", "customer_card_id")),
        (Some(c), None) => Ok(CardData {
            number: c.number.clone(),
            holder: c.cardholder_name.clone(),
        }),
    }
}

/// card_set_method=direct: raw card data (the sandbox's merchant is a test merchant).
fn direct_card(p: &Params) -> Result<CardData, Refusal> {
    let number = required(p, "card_number")?;
    digits("card_number", number, 14..=16)?;
    let term = required(p, "card_valid_term")?;
    digits("card_valid_term", term, 4..=4)?;
    if !(1..=12).contains(&term[..2].parse::<u8>().unwrap_or(0)) {
        return Err(refuse("P010", "card_valid_term"));
    }
    Ok(CardData {
        number: number.to_owned(),
        holder: String::new(),
    })
}

/// What the issuer will do. The test environment's cardholder names come first (supplement
/// §5: `BA` + brand letter + outcome letter + `A`; the error scenarios end in attempt 1),
/// then the card's X digit.
fn plan(number: &str, holder: &str) -> Plan {
    use Verdict::*;
    if ["BBErrABAB", "BCErrTimeOut", "BDErrInvalidInput"].contains(&holder) {
        return Plan::Frictionless(Passed("1".into()));
    }
    let h = holder.as_bytes();
    if h.len() == 5 && h.starts_with(b"BA") && b"JDAVM".contains(&h[2]) && h[4] == b'A' {
        match h[3] {
            b'Y' => return Plan::Frictionless(Passed(String::new())),
            b'A' => return Plan::Frictionless(Passed("0".into())),
            b'U' => return Plan::Frictionless(Passed("1".into())),
            b'N' | b'R' => return Plan::Frictionless(Failed),
            b'C' => return Plan::Challenge { passes: true },
            _ => {}
        }
    }
    match number.bytes().rev().nth(3) {
        Some(b'3') => Plan::Challenge { passes: true },
        Some(b'4') => Plan::Challenge { passes: false },
        _ => Plan::Frictionless(Passed(String::new())),
    }
}

// Long: Paygent's 3-D Secure request checks in the manual's order, then the ledger entry.
fn create(l: &mut Ledger, p: &Params, base: &str, now: Timestamp) -> Result<Answer, Refusal> {
    let trading_id = get(p, "trading_id");
    sized("trading_id", trading_id, 25)?;
    if !trading_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(refuse("P008", "trading_id"));
    }
    let site_id = get(p, "site_id");
    sized("site_id", site_id, 4)?;
    let term_url = required(p, "term_url")?;
    sized("term_url", term_url, 256)?;
    if !printable(term_url) || term_url.contains(' ') {
        return Err(refuse("P008", "term_url"));
    }
    if !(term_url.starts_with("https://") || term_url.starts_with("http://")) {
        return Err(refuse("P010", "term_url"));
    }
    let merchant_name = required(p, "merchant_name")?;
    if !printable(merchant_name) {
        return Err(refuse("P008", "merchant_name"));
    }
    sized("merchant_name", merchant_name, 40)?;
    if required(p, "authentication_type")? != "01" {
        return Err(refuse("P010", "authentication_type"));
    }
    let currency = match get(p, "currency_code") {
        "" => "JPY",
        c => c,
    };
    let places = decimals(currency).ok_or_else(|| refuse("P010", "currency_code"))?;
    let amount = required(p, "payment_amount")?;
    let (whole, cents) = amount.split_once('.').unwrap_or((amount, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !cents.bytes().all(|b| b.is_ascii_digit())
        || amount.ends_with('.')
    {
        return Err(refuse("P008", "payment_amount"));
    }
    sized("payment_amount", amount, 13)?;
    if cents.len() > places {
        return Err(refuse("P010", "payment_amount"));
    }
    if !matches!(
        get(p, "transaction_type"),
        "" | "01" | "03" | "10" | "11" | "28"
    ) {
        return Err(refuse("P010", "transaction_type"));
    }
    if !get(p, "payment_date").is_empty() {
        digits("payment_date", get(p, "payment_date"), 14..=14)?;
    }
    let holder = get(p, "cardholder_name");
    if !printable(holder) {
        return Err(refuse("P008", "cardholder_name"));
    }
    if !holder.is_empty() && !(2..=45).contains(&holder.len()) {
        return Err(refuse("P009", "cardholder_name"));
    }
    // Exactly the items of the chosen card_set_method (31002 otherwise).
    let method = required(p, "card_set_method")?;
    let items: &[(&str, &[&str])] = &[
        ("token", &["card_token"]),
        ("customer", &["customer_id", "customer_card_id"]),
        ("direct", &["card_number", "card_valid_term"]),
        ("google", &["google_payment_method_token"]),
    ];
    if !items.iter().any(|(m, _)| *m == method) {
        return Err(refuse("P010", "card_set_method"));
    }
    let foreign = items
        .iter()
        .filter(|(m, _)| *m != method)
        .flat_map(|(_, ks)| ks.iter())
        .any(|k| !get(p, k).is_empty());
    if foreign {
        return Err(refuse("31002", "card_set_method"));
    }
    let card = match method {
        "token" => token_card(l, p, now)?,
        "customer" => stored_card(l, p)?,
        "direct" => direct_card(p)?,
        // Google Pay tokens are encrypted for Paygent; the sandbox cannot open any.
        _ => return Err(refuse("25001", "google_payment_method_token")),
    };
    let (brand, acq_id) = brand(&card.number).ok_or_else(|| refuse("31001", "card_number"))?;
    let holder = if holder.is_empty() {
        card.holder.as_str()
    } else {
        holder
    };
    let h = crate::ids::hex(16);
    let id = format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    );
    let auth = Auth {
        id: id.clone(),
        site_id: site_id.to_owned(),
        term_url: term_url.to_owned(),
        merchant_name: merchant_name.to_owned(),
        amount: amount.to_owned(),
        currency: currency.to_owned(),
        plan: plan(&card.number, holder),
        card_number: card.number,
        brand,
        acq_id,
        stage: Stage::Waiting,
        created_at: now,
        used: false,
        notices_sent: 0,
        next_notice_at: None,
        notice_delivered: false,
    };
    let answer = vec![
        ("result", "0".into()),
        ("card_brand", brand.into()),
        ("acq_id", acq_id.into()),
        ("3ds_auth_id", id.clone()),
        ("issur_class", "0".into()),
        ("acq_name", "SANDBOX".into()),
        ("issur_name", "SANDBOX BANK".into()),
        ("issur_id", "00000".into()),
        ("fingerprint", fingerprint(&auth.card_number)),
        ("masked_card_number", mask(&auth.card_number)),
        ("response_code", String::new()),
        ("response_detail", String::new()),
        // Last: the HTML runs to the end of the body.
        ("out_acs_html", acs_html(base, &id)),
    ];
    l.threeds.auths.push(auth);
    Ok(answer)
}

fn mask(number: &str) -> String {
    let n = number.len();
    format!(
        "{}{}",
        "*".repeat(n.saturating_sub(4)),
        &number[n.saturating_sub(4)..]
    )
}

/// The same value 020 answers for the card.
fn fingerprint(number: &str) -> String {
    super::token::fingerprint(number)
}

/// The result's `hc`: SHA-256 of result + 3ds_auth_id + attempt_kbn + 3Dセキュア結果受付ハッシュ鍵,
/// lower-case hex (annex, after §1.3).
pub fn hash(result: &str, auth_id: &str, attempt_kbn: &str, key: &str) -> String {
    sha256_hex(&format!("{result}{auth_id}{attempt_kbn}{key}"))
}

/// Non-ASCII as character references: the answer's bytes are then the same in UTF-8 (the
/// annex) and Windows-31J (the module type's other answers).
fn ascii_html(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                format!("&#x{:X};", c as u32)
            }
        })
        .collect()
}

/// The page the merchant shows the buyer: it posts itself to the issuer at once.
fn acs_html(base: &str, id: &str) -> String {
    ascii_html(&format!(
        "<!DOCTYPE html>\r\n<html lang=\"ja\"><head><meta charset=\"UTF-8\"><title>本人認証</title></head>\r\n\
         <body onload=\"document.forms[0].submit()\">\r\n\
         <form method=\"post\" action=\"{}/paygent/threeds/acs/{}\">\r\n\
         <p>カード発行会社の本人認証（3Dセキュア）へ移動します。</p>\r\n\
         <noscript><input type=\"submit\" value=\"次へ\"></noscript>\r\n</form></body></html>",
        esc(base),
        esc(id)
    ))
}

/// A Waiting authentication past its 30 minutes times out; its notice is due at once.
fn lapse(a: &mut Auth, now: Timestamp) {
    let deadline = a
        .created_at
        .checked_add(SignedDuration::from_mins(TIMEOUT_MINUTES))
        .unwrap_or(Timestamp::MAX);
    if a.stage == Stage::Waiting && now >= deadline {
        a.stage = Stage::TimedOut;
        a.next_notice_at = Some(now);
    }
}

/// The parameters of the result sent to term_url (annex §1.2), or of the timeout notice
/// (§1.3, `None`).
fn result_params(a: &Auth, v: Option<&Verdict>, key: &str) -> Vec<(&'static str, String)> {
    let (result, attempt) = match v {
        Some(Verdict::Passed(k)) => ("0", k.as_str()),
        _ => ("1", ""),
    };
    let card = |s: String| if v.is_some() { s } else { "XXXX".into() };
    let mut q: Vec<(&'static str, String)> = vec![
        ("result", result.into()),
        ("3ds_auth_id", a.id.clone()),
        ("card_brand", a.brand.into()),
        ("issur_class", "0".into()),
        ("acq_name", "SANDBOX".into()),
        ("acq_id", a.acq_id.into()),
        ("issur_name", "SANDBOX BANK".into()),
        ("issur_id", "00000".into()),
    ];
    // Only merchants that set a key get `hc`.
    if !key.is_empty() {
        q.push(("hc", hash(result, &a.id, attempt, key)));
    }
    q.extend([
        ("fingerprint", card(fingerprint(&a.card_number))),
        ("masked_card_number", card(mask(&a.card_number))),
        ("3dsecure_requestor_error_code", String::new()),
        ("3dsecure_server_error_code", String::new()),
    ]);
    match v {
        Some(Verdict::Passed(k)) => q.push(("attempt_kbn", k.clone())),
        Some(Verdict::Failed) => {
            q.push(("response_code", "31007".into()));
            q.push(("response_detail", "本人認証に失敗しました".into()));
        }
        None => {
            q.push(("attempt_kbn", String::new()));
            q.push(("response_code", "31013".into()));
            q.push(("response_detail", "認証タイムアウト".into()));
        }
    }
    q
}

fn with_query(url: &str, q: &[(&'static str, String)]) -> String {
    let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
    super::with_query(url, &pairs, Charset::Utf8)
}

/// The buyer's browser goes back to the merchant (a GET with the result).
fn back_to_merchant(a: &Auth, v: &Verdict, key: &str) -> Response {
    let url = with_query(&a.term_url, &result_params(a, Some(v), key));
    (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response()
}

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/threeds/acs/{id}", get_route(acs).post(acs))
        .route("/threeds/acs/{id}/challenge", post(challenge))
}

/// The issuer's side, where out_acs_html takes the buyer. Frictionless outcomes go back to
/// the merchant at once; a challenge shows its page. Coming back to a finished
/// authentication repeats its result (a reload must not change it).
async fn acs(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    let now = sb.clock.now();
    let key = sb.config.paygent_3ds_hash_key.clone();
    let mut st = sb.state();
    let Some(a) = st.paygent.threeds.auths.iter_mut().find(|a| a.id == id) else {
        return not_found();
    };
    lapse(a, now);
    match (a.stage.clone(), a.plan.clone()) {
        (Stage::TimedOut, _) => timed_out(),
        (Stage::Done(v), _) => back_to_merchant(a, &v, &key),
        (Stage::Waiting, Plan::Frictionless(v)) => {
            a.stage = Stage::Done(v.clone());
            back_to_merchant(a, &v, &key)
        }
        (Stage::Waiting, Plan::Challenge { .. }) => challenge_page(a),
    }
}

fn not_found() -> Response {
    buyer_page(
        StatusCode::NOT_FOUND,
        "本人認証",
        "<p>この認証は見つかりません。お店の画面からやり直してください。</p>",
    )
}

/// Paygent tells the buyer itself when it cannot send them back (supplement, 取引完了 notes).
fn timed_out() -> Response {
    buyer_page(
        StatusCode::GONE,
        "本人認証",
        "<p>本人認証の受付時間（30分）を過ぎました。お店にお問い合わせいただくか、\
         しばらくしてから最初からやり直してください。</p>",
    )
}

fn challenge_page(a: &Auth) -> Response {
    buyer_page(
        StatusCode::OK,
        "本人認証（EMV 3-Dセキュア）",
        &format!(
            "<form method=\"post\" action=\"/paygent/threeds/acs/{id}/challenge\">\
             <p>加盟店: {shop}<br>ご利用金額: {amount} {currency}<br>カード番号: {card}</p>\
             <p>カード発行会社に登録したパスワードを入力してください。</p>\
             <p><label>パスワード <input name=\"password\" type=\"password\" autocomplete=\"off\"></label></p>\
             <button name=\"answer\" value=\"ok\" id=\"threeds-ok\">認証する</button>\
             <button name=\"answer\" value=\"cancel\" id=\"threeds-cancel\">キャンセル</button></form>",
            id = esc(&a.id),
            shop = esc(&a.merchant_name),
            amount = esc(&a.amount),
            currency = esc(&a.currency),
            card = esc(&mask(&a.card_number)),
        ),
    )
}

/// The buyer's answer to the challenge. Any password passes except the test environment's
/// failing (`…42`) and caution (`…52`, attempt 1) ones; X=4 cards and キャンセル fail.
async fn challenge(State(sb): State<Sandbox>, Path(id): Path<String>, body: Bytes) -> Response {
    let f: Params = form::decode(&body, Charset::Utf8).into_iter().collect();
    let now = sb.clock.now();
    let key = sb.config.paygent_3ds_hash_key.clone();
    let mut st = sb.state();
    let Some(a) = st.paygent.threeds.auths.iter_mut().find(|a| a.id == id) else {
        return not_found();
    };
    lapse(a, now);
    let passes = match (a.stage.clone(), a.plan.clone()) {
        (Stage::TimedOut, _) => return timed_out(),
        (Stage::Done(v), _) => return back_to_merchant(a, &v, &key),
        (Stage::Waiting, Plan::Frictionless(v)) => {
            a.stage = Stage::Done(v.clone());
            return back_to_merchant(a, &v, &key);
        }
        (Stage::Waiting, Plan::Challenge { passes }) => passes,
    };
    let password = get(&f, "password");
    let v = if !passes || get(&f, "answer") != "ok" || password.ends_with("42") {
        Verdict::Failed
    } else if password.ends_with("52") {
        Verdict::Passed("1".into())
    } else {
        Verdict::Passed(String::new())
    };
    a.stage = Stage::Done(v.clone());
    back_to_merchant(a, &v, &key)
}

/// 020 with `3dsecure_use_type=2`: the authentication `3ds_auth_id` names must have passed
/// for this card and amount (and site); the payment spends it. Codes: 31008 an id without
/// use type 2, 31009 use type 2 without an id, 31011 unknown, 31010 already used. The main
/// spec names no code for an authentication that did not pass: the sandbox answers the
/// result's own (31007 failed, 31013 timed out) and 31011 while the buyer is still away; a
/// different card or amount is P010.
pub fn use_for_020(
    l: &mut Ledger,
    p: &Params,
    card: &str,
    amount: i64,
    now: Timestamp,
) -> Result<(), Refusal> {
    let id = get(p, "3ds_auth_id");
    if get(p, "3dsecure_use_type") != "2" {
        return if id.is_empty() {
            Ok(())
        } else {
            Err(refuse("31008", "3dsecure_use_type"))
        };
    }
    if id.is_empty() {
        return Err(refuse("31009", "3ds_auth_id"));
    }
    let a = l
        .threeds
        .auths
        .iter_mut()
        .find(|a| a.id == id)
        .ok_or_else(|| refuse("31011", "3ds_auth_id"))?;
    lapse(a, now);
    if a.used {
        return Err(refuse("31010", "3ds_auth_id"));
    }
    match &a.stage {
        Stage::Done(Verdict::Passed(_)) => {}
        Stage::Done(Verdict::Failed) => return Err(refuse("31007", "3ds_auth_id")),
        Stage::TimedOut => return Err(refuse("31013", "3ds_auth_id")),
        Stage::Waiting => return Err(refuse("31011", "3ds_auth_id: not authenticated yet")),
    }
    if a.card_number != card
        || a.currency != "JPY"
        || a.amount != amount.to_string()
        || a.site_id != get(p, "site_id")
    {
        return Err(refuse("P010", "3ds_auth_id: another card, amount or site"));
    }
    a.used = true;
    Ok(())
}

/// One task per sandbox, started by the first 450, sends the timeout notices (a GET to
/// term_url; 2xx or 3xx is accepted) as the sandbox's clock passes the deadlines.
fn start_sweeper(sb: &Sandbox, l: &mut Ledger) {
    if l.threeds.sweeping {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    l.threeds.sweeping = true;
    rt.spawn(sweep(sb.clone()));
}

async fn sweep(sb: Sandbox) {
    let http = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("paygent 3DS timeout notices disabled: {e}");
            return;
        }
    };
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let due: Vec<(String, String)> = {
            let now = sb.clock.now();
            let key = sb.config.paygent_3ds_hash_key.clone();
            let mut st = sb.state();
            st.paygent
                .threeds
                .auths
                .iter_mut()
                .filter_map(|a| {
                    lapse(a, now);
                    let due = a.stage == Stage::TimedOut
                        && !a.notice_delivered
                        && a.notices_sent <= RESENDS
                        && a.next_notice_at.is_some_and(|t| t <= now);
                    if !due {
                        return None;
                    }
                    a.notices_sent += 1;
                    a.next_notice_at = now
                        .checked_add(SignedDuration::from_mins(RESEND_MINUTES))
                        .ok();
                    Some((
                        a.id.clone(),
                        with_query(&a.term_url, &result_params(a, None, &key)),
                    ))
                })
                .collect()
        };
        for (id, url) in due {
            let ok = match http.get(&url).send().await {
                Ok(r) => r.status().is_success() || r.status().is_redirection(),
                Err(e) => {
                    tracing::info!("paygent 3DS timeout notice to {url}: {e}");
                    false
                }
            };
            if ok {
                let mut st = sb.state();
                if let Some(a) = st.paygent.threeds.auths.iter_mut().find(|a| a.id == id) {
                    a.notice_delivered = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_the_annex_example_and_docs_vector() {
        // The annex's own example and the vector in docs/paygent-protocol.md §3.1a.
        assert_eq!(
            hash(
                "0",
                "11111111-1111-1111-1111-111111111111",
                "0",
                "test_1234567890123456789"
            ),
            "e3f5400fb96b6ae955ac16f58cc81ba33e93f5ae35ec4a07bac6f0496c51bc43"
        );
        assert_eq!(
            hash(
                "0",
                "5f0c3d2e-8a41-4b7e-9c60-2d7e1a9b4f13",
                "",
                "demo_3ds_key_4821"
            ),
            "b697ce4d79e329c04b8986e58bb5be045d40f7b4ebec00e66ea10c0b1a0091f6"
        );
    }

    #[test]
    fn plans_by_name_then_card() {
        assert_eq!(
            plan("4111111111113111", ""),
            Plan::Challenge { passes: true }
        );
        assert_eq!(
            plan("4111111111114111", ""),
            Plan::Challenge { passes: false }
        );
        assert_eq!(
            plan("4111111111111111", "BAVUA"),
            Plan::Frictionless(Verdict::Passed("1".into()))
        );
        assert_eq!(
            plan("4111111111113111", "BAJRA"),
            Plan::Frictionless(Verdict::Failed)
        );
        assert_eq!(brand("4111111111111111"), Some(("VISA", "50001")));
        assert_eq!(brand("3530111333300000"), Some(("JCB", "99661")));
        assert_eq!(brand("9111111111111111"), None);
    }
}

//! 3-D Secure 1.0 on 020 (spec §1.2.2, §8): a 020 that does not skip 3-D Secure
//! (`3dsecure_ryaku` empty) and does not bring an EMV result (`3dsecure_use_type` 2) is
//! answered `result=7` with the payment_id (status 10) and `out_acs_html`, a page the shop
//! sends to the buyer's browser. It takes the buyer to the issuer (`/paygent/tds1/acs/{id}`);
//! Paygent then authorizes by itself and sends the browser by GET to `term_url` with result,
//! response_code, response_detail, payment_id, trading_id, attempt_kbn and
//! `hc = SHA-256(result + payment_id + attempt_kbn + key)`.
//!
//! The brands retired 3-D Secure 1.0 in 2022; Paygent's spec still carries it, so the sandbox
//! answers it for clients written from the spec. Issuer behaviour by the card's last four
//! digits XYZZ: X=3 challenge that passes, X=4 challenge that fails, X=5 an attempt with
//! liability on the merchant (attempt_kbn 1: issuer not taking part), X=6 an attempt with
//! liability on the issuer (0: card not enrolled); others pass at once. The merchant's attempt
//! control (`Config::paygent_attempt_control`: `all`, `normal`, `none`) refuses attempts with
//! 2015.

use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::outcome::{card_answer, conclude, issuer};
use super::{Ledger, Params, Payment, Refusal, get, refuse, required, sha256_hex};
use crate::Sandbox;
use crate::view::buyer_page;

type Answer = Vec<(&'static str, String)>;

/// The sandbox's own address (`http://host`), put among a telegram's parameters by `call`
/// so the pages it hands out point back at it. Not a Paygent parameter: a NUL starts it.
pub const BASE: &str = "\u{0}sandbox_base";

/// Does this 020 ask for 3-D Secure 1.0? Only online telegrams do (file payments carry no
/// browser).
pub fn requested(p: &Params) -> bool {
    p.contains_key(BASE)
        && get(p, "3dsecure_ryaku") != "1"
        && matches!(get(p, "3dsecure_use_type"), "" | "1")
}

/// result=7: the payment waits at 10 for the buyer's authentication.
pub fn begin(
    l: &mut Ledger,
    p: &Params,
    mut pay: Payment,
    token: Option<&str>,
    now: Timestamp,
) -> Result<Answer, Refusal> {
    required(p, "http_accept", usize::MAX)?;
    required(p, "http_user_agent", usize::MAX)?;
    let term_url = required(p, "term_url", usize::MAX)?;
    if term_url.len() > 256
        || !(term_url.starts_with("http://") || term_url.starts_with("https://"))
    {
        return Err(refuse("P010", "term_url"));
    }
    pay.extra.insert("term_url", term_url.to_owned());
    pay.extra
        .insert("sales_mode", get(p, "sales_mode").to_owned());
    pay.history.push(super::Event {
        at: now,
        telegram_kind: "020".into(),
        result: "7 (3-D Secure 1.0)".into(),
    });
    let base = get(p, BASE);
    let mut answer = card_answer(&pay, &[]);
    answer[0].1 = "7".into();
    if let Some(last) = answer.last_mut() {
        last.1 = format!(
            "<html><head><meta charset=\"Shift_JIS\"></head><body onload=\"document.forms[0].submit()\">\r\n\
             <form method=\"post\" action=\"{base}/paygent/tds1/acs/{}\">\r\n\
             <noscript><button>&#27425;&#12395;&#36914;&#12416;</button></noscript>\r\n\
             </form></body></html>",
            pay.payment_id
        );
    }
    // The card now lives in the payment: the token is spent.
    if let Some(t) = token {
        super::token::spend(l, t);
    }
    l.payments.push(pay);
    Ok(answer)
}

/// The payment waiting for its authentication, and its card.
fn waiting(l: &Ledger, id: &str) -> Option<(String, String)> {
    l.payments
        .iter()
        .find(|x| x.payment_id == id && x.status == "10" && x.extra.contains_key("term_url"))
        .map(|x| (x.card_number.clone(), x.payment_id.clone()))
}

/// `/paygent/tds1/acs/{id}`: the issuer. Challenge cards get a password page; the others
/// are decided at once.
pub async fn acs(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    let card = match waiting(&sb.state().paygent, &id) {
        Some((card, _)) => card,
        None => return (StatusCode::NOT_FOUND, "認証待ちの決済がありません").into_response(),
    };
    match card.bytes().rev().nth(3) {
        Some(b'3' | b'4') => buyer_page(
            StatusCode::OK,
            "本人認証（3-Dセキュア）",
            &format!(
                "<p>カード番号 {} の本人認証パスワードを入力してください。</p>\
                 <form method=\"post\" action=\"/paygent/tds1/acs/{id}/challenge\">\
                 <label>パスワード <input type=\"password\" name=\"password\"></label> \
                 <button name=\"action\" value=\"ok\">認証する</button> \
                 <button name=\"action\" value=\"cancel\">キャンセル</button></form>",
                &card[card.len().saturating_sub(4)..]
            ),
        ),
        Some(b'5') => finish(&sb, &id, Ok("1")),
        Some(b'6') => finish(&sb, &id, Ok("0")),
        _ => finish(&sb, &id, Ok("")),
    }
}

#[derive(serde::Deserialize)]
pub struct Challenge {
    #[serde(default)]
    action: String,
}

pub async fn challenge(
    State(sb): State<Sandbox>,
    Path(id): Path<String>,
    Form(c): Form<Challenge>,
) -> Response {
    let card = match waiting(&sb.state().paygent, &id) {
        Some((card, _)) => card,
        None => return (StatusCode::NOT_FOUND, "認証待ちの決済がありません").into_response(),
    };
    let passed = c.action == "ok" && card.bytes().rev().nth(3) == Some(b'3');
    finish(&sb, &id, if passed { Ok("") } else { Err(()) })
}

/// The authentication's end: attempt control, then the authorization itself, then the
/// browser back to term_url. `Ok(attempt_kbn)` authenticated (or an attempt), `Err` failed.
fn finish(sb: &Sandbox, id: &str, auth: Result<&str, ()>) -> Response {
    let now = sb.clock.now();
    let control = sb.config.paygent_attempt_control.clone();
    let back = {
        let mut st = sb.state();
        let Some(pay) = st
            .paygent
            .payments
            .iter_mut()
            .find(|x| x.payment_id == id && x.status == "10")
        else {
            return (StatusCode::NOT_FOUND, "認証待ちの決済がありません").into_response();
        };
        let attempt = auth.unwrap_or("");
        let outcome = match auth {
            Err(()) => Err(refuse("2001", "1511")),
            Ok("1") if control != "all" => Err(refuse("2015", "attempt")),
            Ok("0") if control == "none" => Err(refuse("2015", "attempt")),
            Ok(_) => issuer(&pay.card_number, &pay.card_valid_term, now),
        };
        // An authentication that did not end in an authorization leaves no payment to retry.
        let outcome = outcome.map_err(|e| {
            if e.code == "2003" {
                refuse("2001", e.detail)
            } else {
                e
            }
        });
        let sales = pay.extra.get("sales_mode").is_some_and(|m| m == "1");
        let answer = conclude(pay, outcome, sales, now);
        let val = |k: &str| {
            answer
                .iter()
                .find(|(a, _)| *a == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let result = val("result");
        let hc = sha256_hex(&format!(
            "{result}{}{attempt}{}",
            pay.payment_id, sb.config.paygent_3ds_hash_key
        ));
        let url = pay.extra.get("term_url").cloned().unwrap_or_default();
        super::with_query(
            &url,
            &[
                ("result", result.as_str()),
                ("response_code", val("response_code").as_str()),
                ("response_detail", val("response_detail").as_str()),
                ("payment_id", pay.payment_id.as_str()),
                ("trading_id", pay.trading_id.as_str()),
                ("attempt_kbn", attempt),
                ("hc", hc.as_str()),
            ],
            juchu_wire::form::Charset::ShiftJis,
        )
    };
    super::notify_changes(sb);
    (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response()
}

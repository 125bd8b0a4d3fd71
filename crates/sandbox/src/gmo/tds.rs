//! 3-D Secure 2.0: the issuer's page (challenge or frictionless) and SecureTran2.

use super::*;

/// Whether the issuer asks the buyer to authenticate (X=3 succeeds, X=4 fails); other cards
/// pass without a challenge (frictionless).
pub(super) fn challenge_kind(card_no: &str) -> Option<bool> {
    match card_no.bytes().rev().nth(3) {
        Some(b'3') => Some(true),
        Some(b'4') => Some(false),
        _ => None,
    }
}

pub(super) use crate::view::esc;

/// Back to the shop: an auto-submitting form POSTing AccessID and OrderID to its RetUrl.
pub(super) fn return_page(ret_url: &str, access_id: &str, order_id: &str) -> Response {
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

/// The transaction waiting for the buyer's 3-D Secure, by AccessID.
fn session<'a>(
    l: &'a mut Ledger,
    access_id: &str,
) -> Result<(&'a mut Tran, Pending3ds), (StatusCode, &'static str)> {
    let t = l
        .by_access(access_id)
        .ok_or((StatusCode::NOT_FOUND, "no such 3-D Secure session"))?;
    let pending = t
        .pending_3ds
        .clone()
        .ok_or((StatusCode::CONFLICT, "this 3-D Secure session is finished"))?;
    Ok((t, pending))
}

#[derive(serde::Deserialize)]
pub(super) struct ChallengeQuery {
    #[serde(rename = "AccessID")]
    access_id: String,
}

/// The issuer's 3-D Secure page (ACS). Frictionless cards return to the shop at once.
pub(super) async fn challenge_page(
    State(sb): State<Sandbox>,
    axum::extract::Query(q): axum::extract::Query<ChallengeQuery>,
) -> Response {
    let mut st = sb.state();
    let (t, pending) = match session(&mut st.gmo, &q.access_id) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
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
pub(super) struct ChallengeAnswer {
    #[serde(rename = "AccessID")]
    access_id: String,
    answer: String,
}

pub(super) async fn challenge_answer(
    State(sb): State<Sandbox>,
    axum::extract::Form(a): axum::extract::Form<ChallengeAnswer>,
) -> Response {
    let mut st = sb.state();
    let (t, pending) = match session(&mut st.gmo, &a.access_id) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let passes = a.answer == "ok" && challenge_kind(&pending.card_no) != Some(false);
    t.tds_result = if passes { "Y".into() } else { "N".into() };
    return_page(&pending.ret_url, &t.access_id, &t.order_id)
}

/// SecureTran2: after the buyer's 3-D Secure, authorize (AccessID and AccessPass only, as
/// GMO takes it).
pub(super) fn secure_tran2(l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
    let id = p.get("AccessID").map(String::as_str).unwrap_or("");
    let pass = p.get("AccessPass").map(String::as_str).unwrap_or("");
    let t = l
        .by_access(id)
        .filter(|t| t.access_pass == pass)
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

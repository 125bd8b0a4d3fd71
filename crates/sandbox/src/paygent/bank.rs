//! 060 net bank, ASP method (銀行ネット決済ASP): the shop gets a URL to a bank-selection page;
//! each bank the buyer picks there becomes a payment (payment_type 05, status 10), paid (40)
//! at the bank or abandoned (15). Unpaid past the ASP payment limit (the ASP limit plus two
//! business days) it becomes 15 by itself; a late payment still moves 15 → 40.

use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{Timestamp, ToSpan};

use super::{Event, Ledger, Params, Payment, Refusal, get, jst, refuse, required};
use crate::Sandbox;
use crate::view::{buyer_page, esc};

type Answer = Vec<(&'static str, String)>;

/// The banks of the ASP page (bank_code as in 091 / 094).
pub const BANKS: [(&str, &str); 6] = [
    ("D009", "三井住友銀行"),
    ("D033", "PayPay銀行"),
    ("D034", "セブン銀行"),
    ("D036", "楽天銀行"),
    ("D038", "住信SBIネット銀行"),
    ("D039", "auじぶん銀行"),
];

/// Bank choices one ASP accepts before 5011 (the spec names the error, not the number).
const MAX_SELECTIONS: usize = 10;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Asp {
    /// The path key of the ASP page.
    pub key: String,
    pub trading_id: String,
    pub amount: i64,
    pub claim_kana: String,
    pub claim_kanji: String,
    pub created_at: Timestamp,
    /// asp_limit_date: the page can be used until then.
    pub limit_at: Timestamp,
    /// asp_payment_limit_date: the limit plus two business days.
    pub payment_limit_at: Timestamp,
    pub return_url: String,
    pub stop_return_url: String,
    pub payment_ids: Vec<String>,
}

fn jst_tz() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(9))
}

/// `asp_payment_term` `TDDhhmm`: T=0 adds DD days hh hours mm minutes to now; T=1 adds DD
/// days and fixes the time at 23:59 (Japan time). Default 0050000 (five days).
fn asp_limit(term: &str, now: Timestamp) -> Result<Timestamp, Refusal> {
    let term = if term.is_empty() { "0050000" } else { term };
    if term.len() != 7 || !term.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse("P010", "asp_payment_term"));
    }
    let n = |r: std::ops::Range<usize>| term[r].parse::<i64>().unwrap_or(0);
    let (days, hours, mins) = (n(1..3), n(3..5), n(5..7));
    if hours > 23 || mins > 59 {
        return Err(refuse("P010", "asp_payment_term"));
    }
    let z = now.to_zoned(jst_tz());
    let t = match &term[..1] {
        "0" => z.checked_add(days.days().hours(hours).minutes(mins)),
        "1" => z
            .checked_add(days.days())
            .and_then(|d| d.with().hour(23).minute(59).second(0).build()),
        _ => return Err(refuse("P010", "asp_payment_term")),
    };
    t.map(|z| z.timestamp())
        .map_err(|_| refuse("P010", "asp_payment_term"))
}

/// Two business days (Monday–Friday; the sandbox knows no holidays) after `t`.
fn plus_two_business_days(t: Timestamp) -> Timestamp {
    let mut z = t.to_zoned(jst_tz());
    let mut added = 0;
    while added < 2 {
        z = match z.checked_add(1.day()) {
            Ok(n) => n,
            Err(_) => return t,
        };
        if !matches!(
            z.weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        ) {
            added += 1;
        }
    }
    z.timestamp()
}

/// The ASP's fields; `base` is the sandbox's own address, so `asp_url` is absolute, as
/// Paygent's is (the shop hands it to the buyer).
fn answer(a: &Asp, code: &str, base: &str) -> Answer {
    vec![
        ("result", if code.is_empty() { "0" } else { "1" }.into()),
        ("response_code", code.into()),
        ("response_detail", String::new()),
        ("trading_id", a.trading_id.clone()),
        ("asp_limit_date", jst(a.limit_at)),
        ("asp_payment_limit_date", jst(a.payment_limit_at)),
        ("asp_url", format!("{base}/paygent/bank/asp/{}", a.key)),
        ("amount", a.amount.to_string()),
        ("claim_kana", a.claim_kana.clone()),
        ("claim_kanji", a.claim_kanji.clone()),
        ("trade_generation_date", jst(a.created_at)),
    ]
}

/// 060: an ASP (bank-selection page) for the trading_id. A live unpaid one for the same
/// trading_id answers 5010 with its fields; a paid one 5008, an expired one 5009.
pub fn request(l: &mut Ledger, p: &Params, now: Timestamp) -> Result<Answer, Refusal> {
    let trading_id = required(p, "trading_id", 25)?.to_owned();
    let amount = match get(p, "amount") {
        "" => return Err(refuse("P006", "amount")),
        a if !a.bytes().all(|b| b.is_ascii_digit()) => return Err(refuse("P008", "amount")),
        a if a.len() > 11 => return Err(refuse("P009", "amount")),
        a => match a.parse::<i64>() {
            Ok(n) if n > 0 => n,
            _ => return Err(refuse("P014", "amount")),
        },
    };
    let claim_kana = required(p, "claim_kana", 24)?.to_owned();
    let claim_kanji = required(p, "claim_kanji", 24)?.to_owned();
    let limit_at = asp_limit(get(p, "asp_payment_term"), now)?;
    if let Some(old) = l.asps.iter().rev().find(|a| a.trading_id == trading_id) {
        let paid = l
            .payments
            .iter()
            .any(|x| old.payment_ids.contains(&x.payment_id) && x.status == "40");
        if paid {
            return Err(refuse("5008", "already paid"));
        }
        if now <= old.limit_at {
            return Ok(answer(old, "5010", get(p, super::tds1::BASE)));
        }
        if now <= old.payment_limit_at {
            return Err(refuse("5009", "ASP expired"));
        }
    }
    let a = Asp {
        key: crate::ids::hex(16),
        trading_id,
        amount,
        claim_kana,
        claim_kanji,
        created_at: now,
        limit_at,
        payment_limit_at: plus_two_business_days(limit_at),
        return_url: get(p, "return_url").to_owned(),
        stop_return_url: get(p, "stop_return_url").to_owned(),
        payment_ids: vec![],
    };
    let ans = answer(&a, "", get(p, super::tds1::BASE));
    l.asps.push(a);
    Ok(ans)
}

/// The buyer picks a bank: a new payment (10) under the ASP's trading_id.
pub fn select(l: &mut Ledger, key: &str, bank: &str, now: Timestamp) -> Result<String, String> {
    let i = l
        .asps
        .iter()
        .position(|a| a.key == key)
        .ok_or("この決済ページはありません")?;
    if !BANKS.iter().any(|(c, _)| *c == bank) {
        return Err(format!("銀行コード {bank} は選べません"));
    }
    if now > l.asps[i].limit_at {
        return Err("この決済ページの有効期限が切れています".into());
    }
    if l.asps[i].payment_ids.len() >= MAX_SELECTIONS {
        return Err("銀行の選択回数が上限を超えました（5011）".into());
    }
    let a = l.asps[i].clone();
    let paid = l
        .payments
        .iter()
        .any(|x| a.payment_ids.contains(&x.payment_id) && x.status == "40");
    if paid {
        return Err("この取引は支払済みです".into());
    }
    let payment_id = l.new_payment_id();
    let mut pay = Payment::new(payment_id.clone(), &a.trading_id, "05", a.amount, now);
    pay.history.push(Event {
        at: now,
        telegram_kind: "(bank selected)".into(),
        result: bank.into(),
    });
    pay.extra.insert("bank_code", bank.into());
    l.payments.push(pay);
    l.asps[i].payment_ids.push(payment_id.clone());
    Ok(payment_id)
}

/// Abandoned (申込中断): 10 → 15, by the buyer or by the limit.
pub fn abandon(l: &mut Ledger, payment_id: &str, now: Timestamp, why: &str) -> Result<(), String> {
    let x = l
        .payments
        .iter_mut()
        .find(|x| x.payment_id == payment_id && x.payment_type == "05")
        .ok_or_else(|| format!("no net-bank payment {payment_id}"))?;
    if x.status != "10" {
        return Err(format!("cannot abandon a payment in status {}", x.status));
    }
    x.status = "15".into();
    x.cancelled_at = Some(now);
    x.history.push(Event {
        at: now,
        telegram_kind: why.into(),
        result: "15".into(),
    });
    Ok(())
}

/// Unpaid bank payments past their ASP's payment limit: 15.
pub fn expire(l: &mut Ledger, now: Timestamp) {
    let due: Vec<String> = l
        .asps
        .iter()
        .filter(|a| now > a.payment_limit_at)
        .flat_map(|a| a.payment_ids.clone())
        .collect();
    for id in due {
        let _ = abandon(l, &id, now, "(limit)");
    }
}

/// `GET /paygent/bank/asp/{key}`: the bank-selection page.
pub async fn asp_page(State(sb): State<Sandbox>, Path(key): Path<String>) -> Response {
    let st = sb.state();
    let Some(a) = st.paygent.asps.iter().find(|a| a.key == key) else {
        return (StatusCode::NOT_FOUND, "この決済ページはありません").into_response();
    };
    let buttons: String = BANKS
        .iter()
        .map(|(c, n)| format!("<button name=\"bank_code\" value=\"{c}\">{n}</button>"))
        .collect();
    buyer_page(
        StatusCode::OK,
        "銀行ネット決済",
        &format!(
            "<p>請求内容: {}</p><p>金額: {} 円</p><p>お支払い期限: {}</p>\
             <form method=\"post\" action=\"/paygent/bank/asp/{key}\">{buttons}</form>",
            esc(&a.claim_kanji),
            a.amount,
            esc(&jst(a.limit_at)),
        ),
    )
}

#[derive(serde::Deserialize)]
pub struct Choice {
    bank_code: String,
}

/// The buyer chose a bank: the bank's page, where they pay or stop.
pub async fn choose(
    State(sb): State<Sandbox>,
    Path(key): Path<String>,
    Form(c): Form<Choice>,
) -> Response {
    let now = sb.clock.now();
    let r = select(&mut sb.state().paygent, &key, &c.bank_code, now);
    match r {
        Ok(id) => buyer_page(
            StatusCode::OK,
            "銀行のお支払い画面",
            &format!(
                "<p>決済ID {id}</p><form method=\"post\" action=\"/paygent/bank/pay/{id}\">\
                 <button name=\"action\" value=\"pay\">支払う</button>\
                 <button name=\"action\" value=\"stop\">中断する</button></form>"
            ),
        ),
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

#[derive(serde::Deserialize)]
pub struct Action {
    action: String,
}

/// Paid or stopped at the bank; the buyer returns to the shop's return_url (GET with
/// result 0 paid / 1 stopped, payment_id, trading_id) when the shop gave one.
pub async fn act(
    State(sb): State<Sandbox>,
    Path(payment_id): Path<String>,
    Form(a): Form<Action>,
) -> Response {
    let now = sb.clock.now();
    let (r, back) = {
        let mut st = sb.state();
        let l = &mut st.paygent;
        let r = match a.action.as_str() {
            "pay" => super::later::pay(l, &payment_id, false, now).map(|_| "0"),
            _ => abandon(l, &payment_id, now, "(buyer stopped)").map(|_| "1"),
        };
        let back = l
            .payments
            .iter()
            .find(|x| x.payment_id == payment_id)
            .and_then(|x| {
                l.asps
                    .iter()
                    .find(|asp| asp.payment_ids.contains(&x.payment_id))
            })
            .map(|asp| {
                let url = if a.action != "pay" && !asp.stop_return_url.is_empty() {
                    &asp.stop_return_url
                } else {
                    &asp.return_url
                };
                (url.clone(), asp.trading_id.clone())
            });
        (r, back)
    };
    super::notify_changes(&sb);
    match (r, back) {
        (Err(e), _) => (StatusCode::BAD_REQUEST, e).into_response(),
        (Ok(result), Some((url, trading_id))) if !url.is_empty() => {
            let back = super::with_query(
                &url,
                &[
                    ("result", result),
                    ("payment_id", payment_id.as_str()),
                    ("trading_id", trading_id.as_str()),
                ],
                juchu_wire::form::Charset::Utf8,
            );
            (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response()
        }
        (Ok(result), _) => buyer_page(
            StatusCode::OK,
            "銀行ネット決済",
            if result == "0" {
                "<p>お支払いが完了しました。</p>"
            } else {
                "<p>お支払いを中断しました。</p>"
            },
        ),
    }
}

//! Paid later by the buyer: 030 konbini (number method) and 010 ATM (Pay-easy). The request
//! is status 10 (申込済) until the buyer pays (40 消込済; for stores with preliminary reports
//! 43 速報検知済 first) or the limit date passes (12 支払期限切).

use jiff::{Span, Timestamp};

use super::{Event, Ledger, Params, Payment, Refusal, amount, get, refuse, required};

type Answer = Vec<(&'static str, String)>;

/// Store codes by CVS type, for connection type A (docs/paygent-protocol.md §3.5).
const CVS: [(&str, &[&str]); 4] = [
    ("01", &["00C016"]),
    ("02", &["00C002", "00C004", "00C014"]),
    ("03", &["00C001"]),
    ("04", &["00C005"]),
];

/// The last payable day (Japan date), `payment_limit_date` days from today (0–60, default 30).
fn limit(p: &Params, now: Timestamp) -> Result<jiff::civil::Date, Refusal> {
    let days = match get(p, "payment_limit_date") {
        "" => 30,
        d => match d.parse::<i64>() {
            Ok(n) if (0..=60).contains(&n) => n,
            _ => return Err(refuse("P012", "payment_limit_date")),
        },
    };
    let today = crate::clock::jst_date(now);
    Ok(today.checked_add(Span::new().days(days)).unwrap_or(today))
}

fn new_payment(
    l: &mut Ledger,
    p: &Params,
    kind: &str,
    payment_type: &str,
    amount: i64,
    now: Timestamp,
    limit: jiff::civil::Date,
) -> Payment {
    let mut pay = Payment::new(
        l.new_payment_id(),
        get(p, "trading_id"),
        payment_type,
        amount,
        now,
    );
    pay.limit_date = Some(limit);
    pay.history.push(Event {
        at: now,
        telegram_kind: kind.to_owned(),
        result: "OK".into(),
    });
    pay
}

/// 030: a konbini payment number.
pub fn konbini(l: &mut Ledger, p: &Params, now: Timestamp) -> Result<Answer, Refusal> {
    let amount = amount(p, 9)?;
    let (cvs_type, stores): (&str, &[&str]) = match (get(p, "cvs_type"), get(p, "cvs_company_id")) {
        ("", "") => return Err(refuse("P005", "cvs_type or cvs_company_id")),
        ("", company) => CVS
            .iter()
            .find(|(_, s)| s.contains(&company))
            .map(|(t, s)| (*t, *s))
            .ok_or_else(|| refuse("P010", "cvs_company_id"))?,
        (t, _) => CVS
            .iter()
            .find(|(x, _)| *x == t)
            .map(|(t, s)| (*t, *s))
            .ok_or_else(|| refuse("P010", "cvs_type"))?,
    };
    required(p, "customer_family_name", 20)?;
    required(p, "customer_name", 20)?;
    let tel = required(p, "customer_tel", 11)?;
    if !tel.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse("P008", "customer_tel"));
    }
    if cvs_type == "03" && !matches!(get(p, "sales_type"), "1" | "3") {
        return Err(refuse("P006", "sales_type"));
    }
    let limit = limit(p, now)?;
    let receipt = match cvs_type {
        "01" => crate::ids::digits(6),
        "02" => crate::ids::digits(11),
        "03" => crate::ids::digits(13),
        _ => format!("{}-{}", crate::ids::digits(5), crate::ids::digits(12)),
    };
    let mut pay = new_payment(l, p, "030", "03", amount, now, limit);
    pay.extra.insert("receipt_number", receipt.clone());
    pay.extra.insert("usable_cvs_company_id", stores.join("-"));
    pay.extra.insert("cvs_type", cvs_type.into());
    let answer = vec![
        ("result", "0".into()),
        ("response_code", String::new()),
        ("response_detail", String::new()),
        ("payment_id", pay.payment_id.clone()),
        ("trading_id", pay.trading_id.clone()),
        ("receipt_number", receipt),
        // Absolute, as Paygent's: the shop hands it to the buyer.
        (
            "receipt_print_url",
            format!(
                "{}/paygent/receipt/{}",
                get(p, super::tds1::BASE),
                pay.payment_id
            ),
        ),
        ("usable_cvs_company_id", stores.join("-")),
        ("payment_limit_date", limit.strftime("%Y%m%d").to_string()),
    ];
    l.payments.push(pay);
    Ok(answer)
}

/// 010: an ATM (Pay-easy) payment.
pub fn atm(l: &mut Ledger, p: &Params, now: Timestamp) -> Result<Answer, Refusal> {
    let amount = amount(p, 9)?;
    required(p, "payment_detail", 24)?;
    required(p, "payment_detail_kana", 24)?;
    let limit = limit(p, now)?;
    let mut pay = new_payment(l, p, "010", "01", amount, now, limit);
    let (center, customer, conf) = (
        "58191".to_owned(),
        crate::ids::digits(16),
        crate::ids::digits(6),
    );
    pay.extra.insert("pay_center_number", center.clone());
    pay.extra.insert("customer_number", customer.clone());
    pay.extra.insert("conf_number", conf.clone());
    let answer = vec![
        ("result", "0".into()),
        ("response_code", String::new()),
        ("response_detail", String::new()),
        ("payment_id", pay.payment_id.clone()),
        ("trading_id", pay.trading_id.clone()),
        ("pay_center_number", center),
        ("customer_number", customer),
        ("conf_number", conf),
        ("payment_limit_date", limit.strftime("%Y%m%d").to_string()),
    ];
    l.payments.push(pay);
    Ok(answer)
}

/// Unpaid past the limit date (23:59:59 Japan time): 12.
pub fn expire(l: &mut Ledger, now: Timestamp) {
    let today = crate::clock::jst_date(now);
    for x in &mut l.payments {
        if x.status == "10" && x.limit_date.is_some_and(|d| today > d) {
            x.status = "12".into();
            x.history.push(Event {
                at: now,
                telegram_kind: "(limit)".into(),
                result: "12".into(),
            });
        }
    }
}

/// The buyer pays (control API, or the bank page): 10 → 40, or 10 → 43 (preliminary
/// report) and 43 → 40; a net-bank payment also 15 → 40.
pub fn pay(
    l: &mut Ledger,
    payment_id: &str,
    preliminary: bool,
    now: Timestamp,
) -> Result<Payment, String> {
    expire(l, now);
    let x = l
        .payments
        .iter_mut()
        .find(|x| x.payment_id == payment_id)
        .ok_or_else(|| format!("no Paygent payment {payment_id}"))?;
    if !matches!(x.payment_type.as_str(), "01" | "03" | "05") {
        return Err("only konbini, ATM and net-bank payments are paid by the buyer".into());
    }
    let to = match (x.status.as_str(), preliminary) {
        ("10", true) if x.payment_type == "03" => "43",
        ("10", _) | ("43", false) => "40",
        // Net bank: a payment after abandonment still arrives.
        ("15", false) if x.payment_type == "05" => "40",
        (s, _) => return Err(format!("cannot pay a payment in status {s}")),
    };
    x.status = to.into();
    if to == "40" {
        x.captured_at = Some(now);
    }
    x.history.push(Event {
        at: now,
        telegram_kind: "(buyer paid)".into(),
        result: to.into(),
    });
    Ok(x.clone())
}

/// The konbini payment slip (払込票) a 030 answer's `receipt_print_url` opens: what the buyer
/// shows at the register.
pub async fn receipt_page(
    axum::extract::State(sb): axum::extract::State<crate::Sandbox>,
    axum::extract::Path(payment_id): axum::extract::Path<String>,
) -> axum::response::Response {
    use crate::view::{buyer_page, esc};
    use axum::http::StatusCode;
    let st = sb.state();
    let Some(x) = st
        .paygent
        .payments
        .iter()
        .find(|x| x.payment_id == payment_id && x.payment_type == "03")
    else {
        return buyer_page(
            StatusCode::NOT_FOUND,
            "払込票",
            "<p>この払込票はありません。</p>",
        );
    };
    let field = |k: &str| x.extra.get(k).map(String::as_str).unwrap_or("");
    let status = match x.status.as_str() {
        "40" | "43" => "お支払い済み",
        "12" => "お支払い期限切れ",
        _ => "お支払いをお待ちしています",
    };
    buyer_page(
        StatusCode::OK,
        "払込票",
        &format!(
            "<p>コンビニエンスストアのレジでこの番号をお伝えください。</p>\
             <p>受付番号: <strong id=\"receipt-number\">{}</strong></p>\
             <p>お支払い金額: {} 円</p><p>お支払い期限: {}</p><p>状態: {}</p>",
            esc(field("receipt_number")),
            x.amount,
            x.limit_date
                .map(|d| d.strftime("%Y年%m月%d日").to_string())
                .unwrap_or_default(),
            status
        ),
    )
}

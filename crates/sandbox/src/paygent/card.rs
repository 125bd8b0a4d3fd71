//! Card telegrams: 020 authorize, 021 auth cancel, 022 capture, 023 capture cancel, 028/029
//! amendments (補正) and 094 query, with Paygent's statuses and codes.

use jiff::{SignedDuration, Timestamp};

use super::outcome::{card_answer, conclude, issuer, record};
use super::{Ledger, Params, Payment, Refusal, amount, get, jst, refuse};

/// Days after which an authorization expires (20 → 33) and a capture can no longer be
/// cancelled (40 → 41). GATEWAYS.md's figure; the public spec defers to a separate chart.
pub const AUTH_DAYS: i64 = 60;
pub const CANCEL_DAYS: i64 = 60;

type Answer = Vec<(&'static str, String)>;

/// Status timers, applied whenever the ledger is touched.
pub fn apply_timers(l: &mut Ledger, now: Timestamp) {
    for p in &mut l.payments {
        let after = |t: Option<Timestamp>, days: i64| {
            t.is_some_and(|t| now.duration_since(t) > SignedDuration::from_hours(24 * days))
        };
        if p.status == "20" && after(p.authorized_at, AUTH_DAYS) {
            p.status = "33".into();
        }
        if p.status == "40" && after(p.captured_at, CANCEL_DAYS) {
            p.status = "41".into();
        }
    }
}

/// The payment a 021–029 / 094 telegram names, by payment_id or trading_id.
fn find(l: &mut Ledger, p: &Params, not_found: &str, ambiguous: &str) -> Result<usize, Refusal> {
    let (pid, tid) = (get(p, "payment_id"), get(p, "trading_id"));
    if pid.is_empty() && tid.is_empty() {
        return Err(refuse("P005", "payment_id or trading_id"));
    }
    let hits: Vec<usize> = l
        .payments
        .iter()
        .enumerate()
        .filter(|(_, x)| {
            (pid.is_empty() || x.payment_id == pid) && (tid.is_empty() || x.trading_id == tid)
        })
        .map(|(i, _)| i)
        .collect();
    match hits.as_slice() {
        [] => Err(refuse(not_found, "payment not found")),
        [i] => Ok(*i),
        _ => Err(refuse(ambiguous, "trading_id matches several payments")),
    }
}

fn mask(card: &str) -> String {
    let n = card.len();
    format!(
        "{}{}",
        "*".repeat(n.saturating_sub(4)),
        &card[n.saturating_sub(4)..]
    )
}

/// The card a 020 charges, from exactly one source: a token, a stored card (with a CVC
/// token when security_code_token=1), an earlier payment's trading_id, or raw data.
pub struct CardSource {
    pub number: String,
    pub valid_term: String,
    /// The token to spend once the telegram succeeds.
    pub token: Option<String>,
    /// A security code came with the card (token or card_conf_number).
    pub has_cvc: bool,
}

pub fn card_source(l: &mut Ledger, p: &Params, now: Timestamp) -> Result<CardSource, Refusal> {
    let token = get(p, "card_token");
    let raw = !get(p, "card_number").is_empty() || !get(p, "card_valid_term").is_empty();
    let by_ref = !get(p, "ref_trading_id").is_empty();
    let stock = get(p, "stock_card_mode") == "1";
    let cvc_token = get(p, "security_code_token") == "1";
    if cvc_token {
        if token.is_empty() {
            return Err(refuse("P006", "card_token"));
        }
        if raw || by_ref {
            return Err(refuse("2025", "card_token"));
        }
        if !stock {
            return Err(refuse("P010", "stock_card_mode"));
        }
        if !super::token::usable(l, token, now)?.cvc_only {
            return Err(refuse("2026", "card_token"));
        }
        let (number, valid_term) = super::stored::card_for_payment(l, p, now)?;
        return Ok(CardSource {
            number,
            valid_term,
            token: Some(token.to_owned()),
            has_cvc: true,
        });
    }
    if !token.is_empty() {
        if raw || by_ref || stock {
            return Err(refuse("2024", "card_token"));
        }
        let t = super::token::usable(l, token, now)?;
        if t.cvc_only {
            return Err(refuse("2026", "card_token"));
        }
        return Ok(CardSource {
            number: t.number.clone(),
            valid_term: t.valid_term.clone(),
            token: Some(token.to_owned()),
            has_cvc: !t.cvc.is_empty(),
        });
    }
    let (number, valid_term) = if stock {
        super::stored::card_for_payment(l, p, now)?
    } else if by_ref {
        let r = get(p, "ref_trading_id");
        l.payments
            .iter()
            .rev()
            .find(|x| {
                x.trading_id == r
                    && x.payment_type == "02"
                    && !["10", "11"].contains(&x.status.as_str())
            })
            .map(|x| (x.card_number.clone(), x.card_valid_term.clone()))
            .ok_or_else(|| refuse("2009", "ref_trading_id cannot be used"))?
    } else {
        let (c, t) = (get(p, "card_number"), get(p, "card_valid_term"));
        if c.is_empty() || t.is_empty() {
            return Err(refuse("P006", "card_number / card_valid_term"));
        }
        if !c.bytes().all(|b| b.is_ascii_digit()) || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse("P008", "card_number / card_valid_term"));
        }
        if !(14..=16).contains(&c.len()) || t.len() != 4 {
            return Err(refuse("P009", "card_number / card_valid_term"));
        }
        (c.to_owned(), t.to_owned())
    };
    Ok(CardSource {
        number,
        valid_term,
        token: None,
        has_cvc: !get(p, "card_conf_number").is_empty(),
    })
}

pub fn authorize(l: &mut Ledger, p: &Params, now: Timestamp) -> Result<Answer, Refusal> {
    let amount = amount(p, 7)?;
    let class = match get(p, "payment_class") {
        "" => "10",
        c @ ("10" | "23" | "61" | "80") => c,
        _ => return Err(refuse("P010", "payment_class")),
    }
    .to_owned();
    let split = get(p, "split_count").to_owned();
    if class == "61"
        && !["3", "5", "6", "10", "12", "15", "18", "20", "24"].contains(&split.as_str())
    {
        return Err(refuse("P010", "split_count"));
    }
    let source = card_source(l, p, now)?;
    // security_code_use=1: the merchant insists on a security code.
    if get(p, "security_code_use") == "1" && !source.has_cvc {
        return Err(refuse("P006", "card_conf_number"));
    }
    let (card, term) = (source.number.clone(), source.valid_term.clone());
    // EMV 3-D Secure (3dsecure_use_type=2): a passed authentication of this card and amount,
    // spent by this payment.
    super::threeds::use_for_020(l, p, &card, amount, now)?;
    let payment_id = l.new_payment_id();
    let mut pay = Payment {
        payment_class: class,
        split_count: split,
        masked_card_number: mask(&card),
        card_valid_term: term.clone(),
        card_number: card.clone(),
        ..Payment::new(payment_id, get(p, "trading_id"), "02", amount, now)
    };
    if super::tds1::requested(p) {
        return super::tds1::begin(l, p, pay, source.token.as_deref(), now);
    }
    let outcome = issuer(&card, &term, now);
    let sales = get(p, "sales_mode") == "1";
    let answer = conclude(&mut pay, outcome, sales, now);
    if let Some(t) = source.token.as_deref().filter(|_| answer[0].1 == "0") {
        super::token::spend(l, t);
    }
    l.payments.push(pay);
    Ok(answer)
}

/// A status change a telegram makes: from → to, the status meaning "too late", and the
/// detail for a wrong status.
struct Rule {
    kind: &'static str,
    from: &'static str,
    to: &'static str,
    expired: &'static str,
    wrong_detail: &'static str,
}

fn transition(l: &mut Ledger, p: &Params, now: Timestamp, r: Rule) -> Result<Answer, Refusal> {
    let i = find(l, p, "2006", "2005")?;
    let pay = &mut l.payments[i];
    let check = if pay.status == r.from {
        Ok(())
    } else if pay.status == r.expired {
        Err(refuse("2007", "expired"))
    } else {
        Err(refuse("2004", r.wrong_detail))
    };
    match check {
        Ok(()) => {
            pay.status = r.to.to_owned();
            match r.to {
                "40" => pay.captured_at = Some(now),
                _ => pay.cancelled_at = Some(now),
            }
            record(pay, now, r.kind, Ok(()));
            Ok(card_answer(pay, &[]))
        }
        Err(e) => {
            record(pay, now, r.kind, Err(&e));
            Err(e)
        }
    }
}

pub fn cancel_auth(l: &mut Ledger, p: &Params, now: Timestamp) -> Result<Answer, Refusal> {
    let r = Rule {
        kind: "021",
        from: "20",
        to: "32",
        expired: "33",
        wrong_detail: "1531",
    };
    transition(l, p, now, r)
}

pub fn capture(l: &mut Ledger, p: &Params, now: Timestamp) -> Result<Answer, Refusal> {
    let r = Rule {
        kind: "022",
        from: "20",
        to: "40",
        expired: "33",
        wrong_detail: "status",
    };
    transition(l, p, now, r)
}

pub fn cancel_capture(l: &mut Ledger, p: &Params, now: Timestamp) -> Result<Answer, Refusal> {
    let r = Rule {
        kind: "023",
        from: "40",
        to: "60",
        expired: "41",
        wrong_detail: "1541",
    };
    transition(l, p, now, r)
}

/// 028 補正オーソリ / 029 補正売上: a new payment for the new amount (never more than the
/// original), the original cancelled.
pub fn amend(l: &mut Ledger, p: &Params, now: Timestamp, capture: bool) -> Result<Answer, Refusal> {
    let kind = if capture { "029" } else { "028" };
    let i = find(l, p, "2006", "2005")?;
    let flag = match p.get("reduction_flag").map(String::as_str) {
        None => return Err(refuse("P005", "reduction_flag")),
        Some("") => return Err(refuse("P006", "reduction_flag")),
        Some(f @ ("0" | "1")) => f.to_owned(),
        Some(_) => return Err(refuse("P010", "reduction_flag")),
    };
    let given = match p.get("payment_amount").map(String::as_str) {
        None => return Err(refuse("P005", "payment_amount")),
        Some("") => return Err(refuse("P006", "payment_amount")),
        Some(a) => a
            .parse::<i64>()
            .map_err(|_| refuse("P008", "payment_amount"))?,
    };
    let orig = l.payments[i].clone();
    let check = if matches!(orig.status.as_str(), "33" | "41") {
        Err(refuse("2007", "expired"))
    } else if !matches!(orig.status.as_str(), "20" | "40") {
        Err(refuse("2004", "status"))
    } else {
        let new_amount = if flag == "1" {
            orig.amount - given
        } else {
            given
        };
        if new_amount <= 0 || new_amount > orig.amount {
            Err(refuse("2013", "amount"))
        } else {
            Ok(new_amount)
        }
    };
    let new_amount = match check {
        Ok(a) => a,
        Err(e) => {
            record(&mut l.payments[i], now, kind, Err(&e));
            return Err(e);
        }
    };
    let payment_id = l.new_payment_id();
    let mut new = Payment {
        payment_id,
        amount: new_amount,
        status: if capture { "40".into() } else { "20".into() },
        init_at: now,
        authorized_at: Some(now),
        captured_at: capture.then_some(now),
        cancelled_at: None,
        base_payment_id: orig.payment_id.clone(),
        notified_status: String::new(),
        history: vec![],
        ..orig.clone()
    };
    record(&mut new, now, kind, Ok(()));
    let o = &mut l.payments[i];
    o.status = if o.status == "40" {
        "60".into()
    } else {
        "32".into()
    };
    o.cancelled_at = Some(now);
    record(o, now, kind, Ok(()));
    let answer = card_answer(
        &new,
        &[
            ("base_payment_id", orig.payment_id.clone()),
            ("reduced_amount", new_amount.to_string()),
        ],
    );
    l.payments.push(new);
    Ok(answer)
}

/// 094: the payment as Paygent holds it.
pub fn query(l: &mut Ledger, p: &Params) -> Result<Answer, Refusal> {
    let i = find(l, p, "13001", "13002")?;
    let x = &l.payments[i];
    let d = |t: Option<Timestamp>| t.map(jst).unwrap_or_default();
    Ok([
        ("result", "0".into()),
        ("response_code", String::new()),
        ("response_detail", String::new()),
        ("payment_id", x.payment_id.clone()),
        ("trading_id", x.trading_id.clone()),
        ("payment_type", x.payment_type.clone()),
        ("site_id", String::new()),
        ("payment_status", x.status.clone()),
        ("payment_amount", x.amount.to_string()),
        ("payment_init_date", jst(x.init_at)),
        ("authorized_date", d(x.authorized_at)),
        ("cancel_date", d(x.cancelled_at)),
        ("payment_date", d(x.captured_at)),
        ("payment_class", x.payment_class.clone()),
        ("split_count", x.split_count.clone()),
        ("masked_card_number", x.masked_card_number.clone()),
        ("card_valid_term", x.card_valid_term.clone()),
        ("base_payment_id", x.base_payment_id.clone()),
    ]
    .into_iter()
    .chain(x.extra.iter().map(|(k, v)| (*k, v.clone())))
    .chain(
        x.limit_date
            .map(|d| ("payment_limit_date", d.strftime("%Y%m%d").to_string())),
    )
    .collect())
}

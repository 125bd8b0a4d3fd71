//! What a card authorization comes to: the issuer's answer to a test card, the payment's
//! status after it, and the telegram's answer — shared by a plain 020 (`card`) and one that
//! went through 3-D Secure 1.0 (`tds1`).

use jiff::Timestamp;

use super::{Event, Payment, Refusal, refuse};

type Answer = Vec<(&'static str, String)>;

/// The card fields every 020–029 answer lists, empty.
pub fn empty_card_fields() -> Answer {
    [
        "payment_id",
        "trading_id",
        "issur_class",
        "acq_id",
        "acq_name",
        "issur_name",
        "fc_auth_umu",
        "daiko_code",
        "card_shu_code",
        "k_card_name",
        "issur_id",
        "attempt_kbn",
        "fingerprint",
        "masked_card_number",
        "card_valid_term",
        "out_acs_html",
    ]
    .into_iter()
    .map(|k| (k, String::new()))
    .collect()
}

pub fn card_answer(p: &Payment, extra: &[(&'static str, String)]) -> Answer {
    let mut v: Answer = vec![
        ("result", "0".into()),
        ("response_code", String::new()),
        ("response_detail", String::new()),
        ("payment_id", p.payment_id.clone()),
        ("trading_id", p.trading_id.clone()),
    ];
    v.extend_from_slice(extra);
    v.extend([
        ("issur_class", "0".into()),
        ("acq_id", "99661".into()),
        ("acq_name", "SANDBOX".into()),
        ("issur_name", "SANDBOX BANK".into()),
        ("fc_auth_umu", String::new()),
        ("daiko_code", String::new()),
        ("card_shu_code", String::new()),
        ("k_card_name", String::new()),
        ("issur_id", "00000".into()),
        ("attempt_kbn", String::new()),
        ("fingerprint", super::token::fingerprint(&p.card_number)),
        ("masked_card_number", p.masked_card_number.clone()),
        ("card_valid_term", p.card_valid_term.clone()),
        // Last: an HTML value would run to the end of the body.
        ("out_acs_html", String::new()),
    ]);
    v
}

pub(super) fn record(p: &mut Payment, at: Timestamp, kind: &str, r: Result<(), &Refusal>) {
    p.history.push(Event {
        at,
        telegram_kind: kind.to_owned(),
        result: match r {
            Ok(()) => "OK".into(),
            Err(e) => format!("{}:{}", e.code, e.detail),
        },
    });
}

/// What the issuer says to a test card: the last four digits XYZZ decline with X=8 (Y=2 an
/// issuer code 1G+ZZ, Y=1 a network code 1C+ZZ); a past expiry (Japan time) is an input error.
pub fn issuer(card: &str, term_mmyy: &str, now: Timestamp) -> Result<(), Refusal> {
    let today = crate::clock::jst_date(now);
    let (mm, yy) = (
        term_mmyy
            .get(..2)
            .and_then(|m| m.parse::<i8>().ok())
            .unwrap_or(0),
        term_mmyy
            .get(2..)
            .and_then(|y| y.parse::<i16>().ok())
            .unwrap_or(0),
    );
    let expired = !(1..=12).contains(&mm) || (2000 + yy, mm) < (today.year(), today.month());
    let d: Vec<u8> = card.bytes().rev().take(4).collect();
    if expired {
        Err(refuse("2003", "1G83"))
    } else if d.len() == 4 && d[3] == b'8' {
        let (z1, z2) = (d[1] as char, d[0] as char);
        if d[2] == b'1' {
            Err(refuse("2002", format!("1C{z1}{z2}")))
        } else {
            Err(refuse("2001", format!("1G{z1}{z2}")))
        }
    } else {
        Ok(())
    }
}

/// Settle a 020 with the issuer's answer: 20 (40 with sales_mode), 11 on a decline, 10 kept
/// on an input error (2003: retryable with its payment_id). The telegram's answer.
pub fn conclude(
    pay: &mut Payment,
    outcome: Result<(), Refusal>,
    sales: bool,
    now: Timestamp,
) -> Answer {
    match outcome {
        Ok(()) => {
            pay.authorized_at = Some(now);
            pay.status = if sales {
                pay.captured_at = Some(now);
                "40".into()
            } else {
                "20".into()
            };
            record(pay, now, "020", Ok(()));
            card_answer(pay, &[])
        }
        Err(e) => {
            if e.code != "2003" {
                pay.status = "11".into();
            }
            record(pay, now, "020", Err(&e));
            let mut v = vec![
                ("result", "1".to_owned()),
                ("response_code", e.code.clone()),
                ("response_detail", e.detail.clone()),
            ];
            let mut fields = empty_card_fields();
            if e.code == "2003" {
                fields[0].1 = pay.payment_id.clone();
            }
            v.extend(fields);
            v
        }
    }
}

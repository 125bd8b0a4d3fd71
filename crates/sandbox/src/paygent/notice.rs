//! 差分 (differences): every status change Paygent reports becomes a numbered notice, read
//! one at a time with 091 差分照会 and pushed as 差分通知 with
//! `hc = SHA-256(payment_notice_id + payment_id + trading_id + payment_type + payment_amount + key)`;
//! the shop answers `result=0`.

use jiff::Timestamp;

use super::{Ledger, Params, Payment, Refusal, jst, refuse};
use crate::Sandbox;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Notice {
    pub payment_notice_id: u64,
    pub change_date: Timestamp,
    pub payment_id: String,
    pub trading_id: String,
    pub payment_type: String,
    pub payment_status: String,
    pub payment_amount: i64,
}

/// Statuses that produce a notice, by payment type (docs/paygent-protocol.md §4).
fn notifies(payment_type: &str, status: &str) -> bool {
    match payment_type {
        "02" => matches!(
            status,
            "10" | "11" | "20" | "32" | "33" | "40" | "41" | "60"
        ),
        "03" => matches!(status, "10" | "12" | "40" | "43" | "61"),
        "01" => matches!(status, "12" | "40"),
        "05" => matches!(status, "12" | "15" | "40"),
        _ => false,
    }
}

/// Record a notice for every payment whose status changed since the last one. Returns the
/// new notices (to push).
pub fn collect(l: &mut Ledger, now: Timestamp) -> Vec<Notice> {
    let mut out = Vec::new();
    for i in 0..l.payments.len() {
        let p: &Payment = &l.payments[i];
        if p.notified_status == p.status || !notifies(&p.payment_type, &p.status) {
            continue;
        }
        l.last_notice_id += 1;
        let n = Notice {
            payment_notice_id: l.last_notice_id,
            change_date: now,
            payment_id: p.payment_id.clone(),
            trading_id: p.trading_id.clone(),
            payment_type: p.payment_type.clone(),
            payment_status: p.status.clone(),
            payment_amount: p.amount,
        };
        l.payments[i].notified_status = n.payment_status.clone();
        l.notices.push(n.clone());
        out.push(n);
    }
    out
}

fn fields(n: &Notice) -> Vec<(&'static str, String)> {
    vec![
        ("payment_notice_id", n.payment_notice_id.to_string()),
        ("change_date", jst(n.change_date)),
        ("payment_id", n.payment_id.clone()),
        ("trading_id", n.trading_id.clone()),
        ("payment_type", n.payment_type.clone()),
        ("payment_status", n.payment_status.clone()),
        ("payment_amount", n.payment_amount.to_string()),
    ]
}

/// 091: the next unread notice, or the one asked for by payment_notice_id.
pub fn read(l: &mut Ledger, p: &Params) -> Result<Vec<(&'static str, String)>, Refusal> {
    let asked = p.get("payment_notice_id").map(String::as_str).unwrap_or("");
    let head = |code: &str| -> Vec<(&'static str, String)> {
        vec![
            ("result", "0".into()),
            ("response_code", String::new()),
            ("response_detail", String::new()),
            ("success_code", code.into()),
            ("success_detail", String::new()),
        ]
    };
    let n = if asked.is_empty() {
        let n = l
            .notices
            .iter()
            .find(|n| n.payment_notice_id > l.read_upto)
            .cloned();
        if let Some(n) = &n {
            l.read_upto = n.payment_notice_id;
        }
        n
    } else {
        let id: u64 = asked
            .parse()
            .map_err(|_| refuse("P008", "payment_notice_id"))?;
        l.notices
            .iter()
            .find(|n| n.payment_notice_id == id)
            .cloned()
    };
    Ok(match n {
        None => head("1"),
        Some(n) => head("0").into_iter().chain(fields(&n)).collect(),
    })
}

/// 差分通知: push each notice to the shop's URL.
pub fn push(sb: &Sandbox, notices: Vec<Notice>) {
    for n in notices {
        let mut f = fields(&n);
        let hc = super::sha256_hex(&format!(
            "{}{}{}{}{}{}",
            n.payment_notice_id,
            n.payment_id,
            n.trading_id,
            n.payment_type,
            n.payment_amount,
            sb.config.paygent_hash_key
        ));
        f.push(("hc", hc));
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let text = juchu_wire::paygent::write(&pairs);
        let body =
            juchu_wire::form::encode(&pairs, juchu_wire::form::Charset::ShiftJis).into_bytes();
        sb.notifier.push(
            "paygent",
            text,
            body,
            "application/x-www-form-urlencoded; charset=Windows-31J",
            crate::notify::Accept::ResultZero,
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_matches_the_documented_vector() {
        use sha2::{Digest, Sha256};
        let h = Sha256::digest(b"12345123456789TRADE12345021000abcdefg1234567");
        let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "6485eb02c7db9afccfe1076b740ffa87fc84f912aab24961153891e848b8cb8c"
        );
    }
}

//! Konbini (PayType 3) and Pay-easy (4): the payment slip, the deadline, the buyer's
//! payment, CvsCancel and SearchTradeMulti.

use super::*;

/// Konbini (3) and Pay-easy (4). GMO's public error list names no field-specific codes for
/// their input checks; the sandbox's choices (E01130012, E01220001/8/10, E01350008) are its
/// own and documented in docs/sandbox.md.
/// Convenience codes: Lawson, FamilyMart, Ministop, Seven-Eleven, Seicomart.
pub(super) const CONVENIENCE: [&str; 5] = ["00001", "00002", "00005", "10001", "10002"];

pub const DEFAULT_TERM_DAYS: i64 = 7;

/// EntryTranCvs / EntryTranPayEasy: OrderID and Amount, like a card entry.
pub(super) fn entry_later(
    sb: &Sandbox,
    l: &mut Ledger,
    p: &Params,
    now: Timestamp,
    pay_type: &str,
) -> Answer {
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

pub(super) fn kana_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| ('\u{30A0}'..='\u{30FF}').contains(&c) || c == ' ' || c == '\u{3000}')
}

/// ExecTranCvs / ExecTranPayEasy: issue the payment number and deadline; the buyer pays
/// later (the control API's `pay`), or the deadline passes (EXPIRED).
// Long: GMO's parameter checks for the konbini and Pay-easy requests, in the protocol's order.
pub(super) fn exec_later(l: &mut Ledger, p: &Params, now: Timestamp, pay_type: &str) -> Answer {
    let t = find_by_access(l, p)?;
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
        t.extra.insert("CustomerName", name);
        let term_s = tran_date(term);
        let mut out = vec![("OrderID", t.order_id.clone())];
        if pay_type == "3" {
            let conf = format!(
                "{}",
                1000 + ids::digits(4).parse::<u32>().unwrap_or(0) % 9000
            );
            let receipt = ids::digits(12);
            t.extra.insert("Convenience", conv.clone());
            t.extra.insert("ConfNo", conf.clone());
            t.extra.insert("ReceiptNo", receipt.clone());
            out.extend([
                ("Convenience", conv),
                ("ConfNo", conf),
                ("ReceiptNo", receipt),
            ]);
        } else {
            let cust = format!("WNT{}", ids::digits(8));
            let conf = ids::digits(4);
            let enc = ids::hex(10);
            t.extra.insert("CustID", cust.clone());
            t.extra.insert("BkCode", "58021".into());
            t.extra.insert("ConfNo", conf.clone());
            t.extra.insert("EncryptReceiptNo", enc.clone());
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
/// Returns whether it expired now.
pub(super) fn expire_if_due(t: &mut Tran, now: Timestamp) -> bool {
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
        return true;
    }
    false
}

/// Expire every request past its deadline and tell the shop (結果通知), as GMO does when
/// the deadline passes.
pub fn sweep(sb: &Sandbox) {
    let now = sb.clock.now();
    let expired: Vec<Tran> = {
        let mut st = sb.state();
        st.gmo
            .trans
            .values_mut()
            .filter_map(|t| expire_if_due(t, now).then(|| t.clone()))
            .collect()
    };
    for t in expired {
        notify(sb, &t);
    }
}

/// The buyer never pays: expire now, whatever the deadline (control API).
pub fn expire_now(sb: &Sandbox, order_id: &str) -> Result<Tran, String> {
    let t = {
        let mut st = sb.state();
        let t = st
            .gmo
            .trans
            .get_mut(&key(&sb.config.gmo_shop_id, order_id))
            .ok_or_else(|| format!("no GMO transaction {order_id}"))?;
        if t.status != "REQSUCCESS" {
            return Err(format!("cannot expire a {} transaction", t.status));
        }
        let now = sb.clock.now();
        t.payment_term = Some(
            now.checked_sub(jiff::SignedDuration::from_secs(1))
                .unwrap_or(now),
        );
        expire_if_due(t, now);
        t.clone()
    };
    notify(sb, &t);
    Ok(t)
}

pub(super) fn cvs_cancel(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
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
pub(super) fn search_trade_multi(
    sb: &Sandbox,
    l: &mut Ledger,
    p: &Params,
    now: Timestamp,
) -> Answer {
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
            out.push((k, v.clone()));
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
    t.extra.insert("FinishDate", tran_date(now));
    let r: Answer = Ok(vec![]);
    record(t, now, "(buyer paid)", "", &r);
    let t = t.clone();
    drop(st);
    notify(sb, &t);
    Ok(t)
}

/// The payment fails at the bank or store (PAYFAIL), e.g. a Pay-easy transfer refused.
pub fn payment_fails(sb: &Sandbox, order_id: &str) -> Result<Tran, String> {
    let now = sb.clock.now();
    let t = {
        let mut st = sb.state();
        let t = st
            .gmo
            .trans
            .get_mut(&key(&sb.config.gmo_shop_id, order_id))
            .ok_or_else(|| format!("no GMO transaction {order_id}"))?;
        expire_if_due(t, now);
        if t.pay_type == "0" || t.status != "REQSUCCESS" {
            return Err(format!("cannot fail a {} transaction", t.status));
        }
        t.status = "PAYFAIL".into();
        t.process_date = now;
        record(
            t,
            now,
            "(payment failed)",
            "",
            &Err(vec![e("PAYFAIL", "PAYFAIL")]),
        );
        t.clone()
    };
    notify(sb, &t);
    Ok(t)
}

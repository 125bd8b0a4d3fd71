//! Card transactions: EntryTran, ExecTran (raw number, token or stored card), AlterTran,
//! ChangeTran, SearchTrade, and what an operator does on GMO's own admin screen.

use super::*;

/// What a test card number asks for, by its last four digits XYZZ (docs/sandbox.md).
pub(super) enum CardBehaviour {
    Approve,
    Decline { code: String },
    Slow,
}

pub(super) fn card_behaviour(card_no: &str) -> CardBehaviour {
    let d: Vec<u8> = card_no.bytes().rev().take(4).collect();
    if d.len() < 4 {
        return CardBehaviour::Approve;
    }
    let (x, y, z1, z2) = (d[3], d[2], d[1], d[0]);
    match x {
        b'8' => {
            let family = match y {
                b'1' => "C",
                _ => "G",
            };
            CardBehaviour::Decline {
                code: format!("{family}{}{}", z1 as char, z2 as char),
            }
        }
        b'9' => CardBehaviour::Slow,
        _ => CardBehaviour::Approve,
    }
}

pub(super) fn mask(card_no: &str) -> String {
    let n = card_no.len();
    let keep = 3.min(n);
    format!("{}{}", "*".repeat(n - keep), &card_no[n - keep..])
}

pub(super) fn entry_tran(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
    let shop = shop_auth(sb, p)?;
    let mut errs = vec![];
    let order_id = p.get("OrderID").cloned().unwrap_or_default();
    if order_id.is_empty() || order_id == "null" {
        errs.push(e("E01", "E01040001"));
    } else if order_id.len() > 27 {
        errs.push(e("E01", "E01040003"));
    } else if !order_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        errs.push(e("E01", "E01040013"));
    }
    let job_cd = p.get("JobCd").cloned().unwrap_or_default();
    if job_cd.is_empty() || job_cd == "null" {
        errs.push(e("E01", "E01050001"));
    } else if !["CHECK", "CAPTURE", "AUTH", "SAUTH"].contains(&job_cd.as_str()) {
        errs.push(e("E01", "E01050002"));
    }
    let amount = if job_cd == "CHECK" {
        Some(0)
    } else {
        amount(p, &mut errs)
    };
    let tax: i64 = p.get("Tax").and_then(|t| t.parse().ok()).unwrap_or(0);
    if errs.is_empty() && l.trans.contains_key(&key(&shop, &order_id)) {
        errs.push(e("E01", "E01040010"));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let t = Tran {
        shop_id: shop.clone(),
        order_id: order_id.clone(),
        access_id: ids::hex(16),
        access_pass: ids::hex(16),
        entry_job_cd: job_cd.clone(),
        status: "UNPROCESSED".into(),
        job_cd: job_cd.clone(),
        amount: amount.unwrap_or(0),
        tax,
        method: String::new(),
        pay_times: String::new(),
        card_no: String::new(),
        expire: String::new(),
        forward: String::new(),
        approve: String::new(),
        tran_id: String::new(),
        process_date: now,
        auth_at: None,
        pay_type: "0".into(),
        tds: matches!(p.get("TdFlag").map(String::as_str), Some("1") | Some("2")),
        pending_3ds: None,
        tds_result: String::new(),
        payment_term: None,
        extra: Default::default(),
        history: vec![],
    };
    let out = vec![
        ("AccessID", t.access_id.clone()),
        ("AccessPass", t.access_pass.clone()),
    ];
    let mut t = t;
    record(&mut t, now, "EntryTran", &job_cd, &Ok(vec![]));
    l.add(key(&shop, &order_id), t);
    Ok(out)
}

pub(super) fn approve(t: &mut Tran, now: Timestamp) {
    t.forward = "2a99662".into();
    t.approve = ids::digits(7);
    t.tran_id = format!("{}{}", &tran_date(now)[2..12], ids::digits(18));
    t.process_date = now;
}

pub(super) fn check_card(card_no: &str, expire: &str, errs: &mut Vec<GmoError>) {
    if card_no.is_empty() || card_no == "null" {
        errs.push(e("E01", "E01170001"));
    } else if !card_no.bytes().all(|b| b.is_ascii_digit()) {
        errs.push(e("E01", "E01170006"));
    } else if !(10..=16).contains(&card_no.len()) {
        errs.push(e("E01", "E01170011"));
    }
    if expire.is_empty() || expire == "null" {
        errs.push(e("E01", "E01180001"));
    } else if expire.len() != 4 {
        errs.push(e("E01", "E01180003"));
    } else if !expire.bytes().all(|b| b.is_ascii_digit()) {
        errs.push(e("E01", "E01180006"));
    }
}

/// The card an ExecTran names: a raw number (test shops) or a member's stored card.
pub(super) fn card_of(
    sb: &Sandbox,
    l: &Ledger,
    p: &Params,
) -> Result<(String, String), Vec<GmoError>> {
    let member_id = p.get("MemberID").map(String::as_str).unwrap_or("");
    if !member_id.is_empty() && member_id != "null" {
        let site = site_auth(sb, p)?;
        let m = l
            .members
            .get(&key(&site, member_id))
            .ok_or_else(|| vec![e("E01", "E01390002")])?;
        let seq: Option<u32> = p.get("CardSeq").and_then(|s| s.parse().ok());
        let c = m
            .cards
            .iter()
            .filter(|c| !c.deleted)
            .find(|c| seq.map_or(c.default, |s| c.seq == s))
            .ok_or_else(|| vec![e("E01", "E01240002")])?;
        return Ok((c.number.clone(), c.expire.clone()));
    }
    if let Some(token) = p.get("Token").filter(|t| !t.is_empty() && *t != "null") {
        // Checked here; used up by ExecTran once it goes ahead.
        return match l.tokens.get(token) {
            Some(t) if !t.used && sb.clock.now() <= t.expires_at => {
                Ok((t.card_no.clone(), t.expire.clone()))
            }
            _ => Err(vec![e("E61", "E61010002")]),
        };
    }
    let card_no = p.get("CardNo").cloned().unwrap_or_default();
    let expire = p.get("Expire").cloned().unwrap_or_default();
    let mut errs = vec![];
    check_card(&card_no, &expire, &mut errs);
    if errs.is_empty() {
        Ok((card_no, expire))
    } else {
        Err(errs)
    }
}

pub(super) fn exec_tran(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
    let card = card_of(sb, l, p);
    if card.is_ok()
        && let Some(tok) = p.get("Token").and_then(|t| l.tokens.get_mut(t))
    {
        tok.used = true;
    }
    let t = find_by_access(l, p)?;
    let mut errs = vec![];
    if p.get("OrderID").map(String::as_str) != Some(t.order_id.as_str()) {
        errs.push(e("E01", "E01040001"));
    }
    let method = p.get("Method").cloned().unwrap_or_else(|| "1".into());
    if !["1", "2", "3", "4", "5"].contains(&method.as_str()) {
        errs.push(e("E01", "E01070005"));
    }
    let pay_times = p.get("PayTimes").cloned().unwrap_or_default();
    if (method == "2" || method == "4") && pay_times.parse::<u32>().map_or(true, |n| n < 2) {
        errs.push(e("E01", "E01080010"));
    }
    let (card_no, expire) = match card {
        Ok(c) => c,
        Err(mut e2) => {
            errs.append(&mut e2);
            (String::new(), String::new())
        }
    };
    let job = t.entry_job_cd.clone();
    if !errs.is_empty() {
        let r = Err(errs);
        record(t, now, "ExecTran", &job, &r);
        return r;
    }
    if t.status != "UNPROCESSED" {
        let r = Err(vec![e("E11", "E11010001")]);
        record(t, now, "ExecTran", &job, &r);
        return r;
    }
    if t.tds {
        // 3-D Secure 2.0: nothing is authorized yet; the buyer is sent to the ACS page and
        // the shop finishes with SecureTran2 once they come back.
        let ret_url = p
            .get("RetUrl")
            .or_else(|| p.get("Tds2RetUrl"))
            .cloned()
            .unwrap_or_default();
        if !(ret_url.starts_with("http://") || ret_url.starts_with("https://")) {
            let r = Err(vec![e("E01", "E01320012")]);
            record(t, now, "ExecTran", &job, &r);
            return r;
        }
        t.pending_3ds = Some(Pending3ds {
            card_no: card_no.clone(),
            expire: expire.clone(),
            method: method.clone(),
            pay_times: pay_times.clone(),
            ret_url,
        });
        t.status = "AUTHENTICATED".into();
        t.tds_result = "C".into();
        let base = p.get(BASE).cloned().unwrap_or_default();
        let r: Answer = Ok(vec![
            ("ACS", "2".into()),
            ("OrderID", t.order_id.clone()),
            (
                "RedirectUrl",
                format!("{base}/gmo/tds2/challenge?AccessID={}&Step=1", t.access_id),
            ),
        ]);
        record(t, now, "ExecTran", &job, &r);
        return r;
    }
    let (r, _) = authorize_card(t, &card_no, &expire, &method, &pay_times, now);
    record(t, now, "ExecTran", &job, &r);
    r
}

/// Ask the card's issuer (the test card rules) and, if it approves, make the transaction
/// what EntryTran asked for (AUTH / CAPTURE / SAUTH / CHECK).
pub(super) fn authorize_card(
    t: &mut Tran,
    card_no: &str,
    expire: &str,
    method: &str,
    pay_times: &str,
    now: Timestamp,
) -> (Answer, bool) {
    let job = t.entry_job_cd.clone();
    // An expired card is declined as GMO's issuers do (G83), judged by Japan's date.
    let today = jst_date(now);
    let exp_ok = expire[..2]
        .parse::<i16>()
        .ok()
        .zip(expire[2..].parse::<i8>().ok())
        .is_some_and(|(yy, mm)| {
            (1..=12).contains(&mm) && (2000 + yy, mm) >= (today.year(), today.month())
        });
    let behaviour = if !exp_ok {
        CardBehaviour::Decline { code: "G83".into() }
    } else {
        card_behaviour(card_no)
    };
    match behaviour {
        CardBehaviour::Decline { code } => (Err(vec![e(&code, &format!("42{code}0000"))]), false),
        CardBehaviour::Approve | CardBehaviour::Slow => {
            approve(t, now);
            t.status = job.clone();
            t.job_cd = job;
            t.method = method.to_owned();
            t.pay_times = pay_times.to_owned();
            t.card_no = mask(card_no);
            t.expire = expire.to_owned();
            t.auth_at = Some(now);
            let ok = vec![
                ("ACS", "0".into()),
                ("OrderID", t.order_id.clone()),
                ("Forward", t.forward.clone()),
                ("Method", t.method.clone()),
                ("PayTimes", t.pay_times.clone()),
                ("Approve", t.approve.clone()),
                ("TranID", t.tran_id.clone()),
                ("TranDate", tran_date(now)),
                ("CheckString", ids::hex(16)),
            ];
            (Ok(ok), true)
        }
    }
}

pub(super) fn days_since(a: Timestamp, b: Timestamp) -> i64 {
    b.duration_since(a).as_secs() / 86_400
}

pub(super) fn alter_tran(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
    let t = find(sb, l, p)?;
    let job = p.get("JobCd").cloned().unwrap_or_default();
    let r = alter(t, &job, p, now);
    record(t, now, "AlterTran", &job, &r);
    r
}

pub(super) fn alter(t: &mut Tran, job: &str, p: &Params, now: Timestamp) -> Answer {
    if job.is_empty() || job == "null" {
        return Err(vec![e("E01", "E01050001")]);
    }
    if !["SALES", "VOID", "RETURN", "RETURNX", "AUTH", "CAPTURE"].contains(&job) {
        return Err(vec![e("E01", "E01050002")]);
    }
    if t.status == "UNPROCESSED" || t.status == "AUTHENTICATED" {
        return Err(vec![e("E01", "E01110010")]);
    }
    let same_day = jst_date(t.process_date) == jst_date(now);
    let same_month = {
        let (a, b) = (jst_date(t.process_date), jst_date(now));
        (a.year(), a.month()) == (b.year(), b.month())
    };
    let captured = matches!(t.status.as_str(), "CAPTURE" | "SALES");
    let live = matches!(t.status.as_str(), "AUTH" | "CAPTURE" | "SALES" | "SAUTH");
    match job {
        "SALES" => {
            if t.status != "AUTH" {
                return Err(vec![e(
                    "E11",
                    if captured { "E11010001" } else { "E11010003" },
                )]);
            }
            let mut errs = vec![];
            let a = amount(p, &mut errs);
            if !errs.is_empty() {
                return Err(errs);
            }
            if a != Some(t.amount) {
                return Err(vec![e("E01", "E01060010")]);
            }
            if t.auth_at.is_some_and(|at| {
                now.duration_since(at) > SignedDuration::from_hours(24 * AUTH_VALID_DAYS)
            }) {
                return Err(vec![e("E01", "E01420010")]);
            }
            approve(t, now);
            t.status = "SALES".into();
            t.job_cd = "SALES".into();
        }
        "VOID" | "RETURN" | "RETURNX" => {
            if !live {
                return Err(vec![e("E11", "E11010003")]);
            }
            if days_since(t.process_date, now) > CANCEL_LIMIT_DAYS {
                return Err(vec![e("E11", "E11010010")]);
            }
            let allowed = match job {
                "VOID" => same_day,
                "RETURN" => !same_day && (same_month || !captured),
                _ => captured && !same_month,
            };
            if !allowed {
                return Err(vec![e("E01", "E01050004")]);
            }
            approve(t, now);
            t.status = job.to_owned();
            t.job_cd = job.to_owned();
        }
        _ => {
            // AUTH / CAPTURE: re-authorization of a cancelled transaction.
            if !matches!(t.status.as_str(), "VOID" | "RETURN" | "RETURNX") {
                return Err(vec![e("E01", "E01050004")]);
            }
            let mut errs = vec![];
            let a = amount(p, &mut errs);
            if !errs.is_empty() {
                return Err(errs);
            }
            approve(t, now);
            t.amount = a.unwrap_or(t.amount);
            t.status = job.to_owned();
            t.job_cd = job.to_owned();
            t.auth_at = Some(now);
        }
    }
    Ok(vec![
        ("AccessID", t.access_id.clone()),
        ("AccessPass", t.access_pass.clone()),
        ("Forward", t.forward.clone()),
        ("Approve", t.approve.clone()),
        ("TranID", t.tran_id.clone()),
        ("TranDate", tran_date(now)),
    ])
}

pub(super) fn change_tran(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
    let t = find(sb, l, p)?;
    let job = p.get("JobCd").cloned().unwrap_or_default();
    let r = (|| {
        if job.is_empty() || job == "null" {
            return Err(vec![e("E01", "E01050001")]);
        }
        if !["AUTH", "CAPTURE", "SALES"].contains(&job.as_str()) {
            return Err(vec![e("E01", "E01050002")]);
        }
        if !matches!(t.status.as_str(), "AUTH" | "CAPTURE" | "SALES") {
            return Err(vec![e("E11", "E11010002")]);
        }
        let mut errs = vec![];
        let a = amount(p, &mut errs);
        if !errs.is_empty() {
            return Err(errs);
        }
        // A change is a new authorization for the new amount.
        approve(t, now);
        t.amount = a.unwrap_or(t.amount);
        t.tax = p.get("Tax").and_then(|x| x.parse().ok()).unwrap_or(t.tax);
        t.status = if job == "SALES" {
            "SALES".into()
        } else {
            job.clone()
        };
        t.job_cd = job.clone();
        t.auth_at = Some(now);
        Ok(vec![
            ("AccessID", t.access_id.clone()),
            ("AccessPass", t.access_pass.clone()),
            ("Forward", t.forward.clone()),
            ("Approve", t.approve.clone()),
            ("TranID", t.tran_id.clone()),
            ("TranDate", tran_date(now)),
        ])
    })();
    record(t, now, "ChangeTran", &job, &r);
    r
}

pub(super) fn search_trade(sb: &Sandbox, l: &mut Ledger, p: &Params) -> Answer {
    let shop = shop_auth(sb, p)?;
    let order_id = p.get("OrderID").cloned().unwrap_or_default();
    if order_id.is_empty() || order_id == "null" {
        return Err(vec![e("E01", "E01040001")]);
    }
    let t = l
        .trans
        .get(&key(&shop, &order_id))
        .filter(|t| t.pay_type == "0")
        .ok_or_else(|| vec![e("E01", "E01110002")])?;
    Ok(vec![
        ("OrderID", t.order_id.clone()),
        ("Status", t.status.clone()),
        ("ProcessDate", tran_date(t.process_date)),
        ("JobCd", t.job_cd.clone()),
        ("AccessID", t.access_id.clone()),
        ("AccessPass", t.access_pass.clone()),
        ("ItemCode", "0000990".into()),
        ("Amount", t.amount.to_string()),
        ("Tax", t.tax.to_string()),
        ("SiteID", String::new()),
        ("MemberID", String::new()),
        ("CardNo", t.card_no.clone()),
        ("Expire", t.expire.clone()),
        ("Method", t.method.clone()),
        ("PayTimes", t.pay_times.clone()),
        ("Forward", t.forward.clone()),
        ("TranID", t.tran_id.clone()),
        ("Approve", t.approve.clone()),
        ("ClientField1", String::new()),
        ("ClientField2", String::new()),
        ("ClientField3", String::new()),
    ])
}

/// Done on GMO's own admin screen (not by the shop's system): the sandbox's control API
/// offers these so tests can create the disagreements reconciliation must find.
pub fn admin_action(
    sb: &Sandbox,
    order_id: &str,
    action: &str,
    amount: Option<i64>,
) -> Result<Tran, String> {
    let now = sb.clock.now();
    let mut st = sb.state();
    let t = st
        .gmo
        .trans
        .get_mut(&key(&sb.config.gmo_shop_id, order_id))
        .ok_or_else(|| format!("no GMO transaction {order_id}"))?;
    let mut p = Params::new();
    if let Some(a) = amount {
        p.insert("Amount".into(), a.to_string());
    }
    let r = match action {
        "change_amount" => {
            if !matches!(t.status.as_str(), "AUTH" | "CAPTURE" | "SALES") {
                return Err(format!(
                    "cannot change the amount of a {} transaction",
                    t.status
                ));
            }
            t.amount = amount.ok_or("amount is required")?;
            approve(t, now);
            Ok(vec![])
        }
        "capture" => {
            p.insert("Amount".into(), t.amount.to_string());
            alter(t, "SALES", &p, now)
        }
        "cancel" => {
            let kind = if jst_date(t.process_date) == jst_date(now) {
                "VOID"
            } else if matches!(t.status.as_str(), "CAPTURE" | "SALES")
                && (
                    jst_date(t.process_date).year(),
                    jst_date(t.process_date).month(),
                ) != (jst_date(now).year(), jst_date(now).month())
            {
                "RETURNX"
            } else {
                "RETURN"
            };
            alter(t, kind, &p, now)
        }
        other => {
            return Err(format!(
                "unknown action {other} (change_amount, capture, cancel)"
            ));
        }
    };
    record(t, now, &format!("admin:{action}"), &t.job_cd.clone(), &r);
    match r {
        Ok(_) => Ok(t.clone()),
        Err(errs) => Err(errs
            .iter()
            .map(|e| e.info.clone())
            .collect::<Vec<_>>()
            .join("|")),
    }
}

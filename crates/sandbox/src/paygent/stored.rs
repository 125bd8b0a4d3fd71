//! Stored cards (カード情報お預り): 025 register, 026 delete, 027 query (CSV answer), and the
//! cards 020 uses with stock_card_mode=1. Up to 10 cards a customer.

use jiff::Timestamp;

use super::{Params, Refusal, get, jst, refuse};

pub const MAX_CARDS: usize = 10;

#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredCard {
    pub customer_id: String,
    pub customer_card_id: String,
    #[serde(skip)]
    pub number: String,
    pub masked: String,
    pub valid_term: String,
    pub cardholder_name: String,
    pub last_use: Timestamp,
}

type Answer = Vec<(&'static str, String)>;

fn customer(p: &Params) -> Result<String, Refusal> {
    match p.get("customer_id").map(String::as_str) {
        None => Err(refuse("P005", "customer_id")),
        Some("") => Err(refuse("P006", "customer_id")),
        Some(c) if c.len() > 25 || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
            Err(refuse("P008", "customer_id"))
        }
        Some(c) => Ok(c.to_owned()),
    }
}

/// 025: register a card. With valid_check_flg=1 the issuer is asked first (test cards that
/// decline are not stored).
pub fn register(l: &mut super::Ledger, p: &Params, now: Timestamp) -> Result<Answer, Refusal> {
    let cid = customer(p)?;
    let token = get(p, "card_token");
    let from_token;
    let (number, term) = if token.is_empty() {
        (get(p, "card_number"), get(p, "card_valid_term"))
    } else {
        if !get(p, "card_number").is_empty() || !get(p, "card_valid_term").is_empty() {
            return Err(refuse("2024", "card_token"));
        }
        let t = super::token::usable(l, token, now)?;
        // 025 does not take CVC-only tokens.
        if t.cvc_only {
            return Err(refuse("2026", "card_token"));
        }
        from_token = (t.number.clone(), t.valid_term.clone());
        (from_token.0.as_str(), from_token.1.as_str())
    };
    if number.is_empty() || term.is_empty() {
        return Err(refuse("P006", "card_number / card_valid_term"));
    }
    if !number.bytes().all(|b| b.is_ascii_digit()) || !term.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse("P008", "card_number / card_valid_term"));
    }
    if !(14..=16).contains(&number.len()) || term.len() != 4 {
        return Err(refuse("P009", "card_number / card_valid_term"));
    }
    if l.cards.iter().filter(|c| c.customer_id == cid).count() >= MAX_CARDS {
        return Err(refuse("P023", "10 cards already stored"));
    }
    if get(p, "valid_check_flg") == "1" {
        let d: Vec<u8> = number.bytes().rev().take(4).collect();
        if d[3] == b'8' {
            return Err(refuse(
                "2001",
                format!("1G{}{}", d[1] as char, d[0] as char),
            ));
        }
    }
    l.next_card_id += 1;
    let card = StoredCard {
        customer_id: cid.clone(),
        customer_card_id: l.next_card_id.to_string(),
        number: number.to_owned(),
        masked: format!(
            "{}{}",
            "*".repeat(number.len() - 4),
            &number[number.len() - 4..]
        ),
        valid_term: term.to_owned(),
        cardholder_name: get(p, "cardholder_name").to_owned(),
        last_use: now,
    };
    let count = l.cards.iter().filter(|c| c.customer_id == cid).count() + 1;
    let answer = vec![
        ("result", "0".into()),
        ("response_code", String::new()),
        ("response_detail", String::new()),
        ("num_of_cards", count.to_string()),
        ("customer_card_id", card.customer_card_id.clone()),
        ("issur_id", String::new()),
        ("issur_name", String::new()),
        ("acq_id", String::new()),
        ("acq_name", String::new()),
        ("fingerprint", super::token::fingerprint(&card.number)),
        ("masked_card_number", card.masked.clone()),
        ("card_valid_term", card.valid_term.clone()),
        ("cardholder_name", card.cardholder_name.clone()),
    ];
    l.cards.push(card);
    if !token.is_empty() {
        super::token::spend(l, token);
    }
    Ok(answer)
}

/// 116: update a stored card. A parameter left out stays as it was; sent empty it is
/// cleared (not the expiry). A new expiry is checked with the issuer first.
pub fn update(l: &mut super::Ledger, p: &Params, now: Timestamp) -> Result<Answer, Refusal> {
    let cid = customer(p)?;
    let card_id = get(p, "customer_card_id");
    if card_id.is_empty() {
        return Err(refuse("P006", "customer_card_id"));
    }
    let i = l
        .cards
        .iter()
        .position(|c| c.customer_id == cid && c.customer_card_id == card_id)
        .ok_or_else(|| refuse("P022", "stored card not found"))?;
    if let Some(term) = p.get("card_valid_term") {
        if term.is_empty() {
            return Err(refuse("P006", "card_valid_term"));
        }
        if term.len() != 4 || !term.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse("P008", "card_valid_term"));
        }
        let today = crate::clock::jst_date(now);
        let (mm, yy) = (
            term[..2].parse::<i8>().unwrap_or(0),
            term[2..].parse::<i16>().unwrap_or(0),
        );
        if !(1..=12).contains(&mm) || (2000 + yy, mm) < (today.year(), today.month()) {
            return Err(refuse("2003", "1G83"));
        }
    }
    if p.get("cardholder_name").is_some_and(|n| n.len() > 64) {
        return Err(refuse("P009", "cardholder_name"));
    }
    let token = get(p, "card_token");
    if !token.is_empty() && !super::token::usable(l, token, now)?.cvc_only {
        return Err(refuse("2026", "card_token"));
    }
    if get(p, "security_code_use") == "1" && token.is_empty() {
        return Err(refuse("P006", "card_token"));
    }
    let c = &mut l.cards[i];
    if let Some(term) = p.get("card_valid_term") {
        c.valid_term = term.clone();
    }
    if let Some(name) = p.get("cardholder_name") {
        c.cardholder_name = name.clone();
    }
    let answer = vec![
        ("result", "0".into()),
        ("response_code", String::new()),
        ("response_detail", String::new()),
        (
            "num_of_cards",
            l.cards
                .iter()
                .filter(|c| c.customer_id == cid)
                .count()
                .to_string(),
        ),
        ("customer_card_id", card_id.to_owned()),
    ];
    if !token.is_empty() {
        super::token::spend(l, token);
    }
    Ok(answer)
}

/// 026: delete one card, or all of the customer's when customer_card_id is empty.
pub fn delete(l: &mut super::Ledger, p: &Params) -> Result<Answer, Refusal> {
    let cid = customer(p)?;
    let card_id = get(p, "customer_card_id");
    let before = l.cards.len();
    l.cards.retain(|c| {
        !(c.customer_id == cid && (card_id.is_empty() || c.customer_card_id == card_id))
    });
    if l.cards.len() == before {
        return Err(refuse("P022", "stored card not found"));
    }
    let left = l.cards.iter().filter(|c| c.customer_id == cid).count();
    Ok(vec![
        ("result", "0".into()),
        ("response_code", String::new()),
        ("response_detail", String::new()),
        ("num_of_cards", left.to_string()),
    ])
}

fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn record(fields: &[String]) -> String {
    fields.iter().map(|f| q(f)).collect::<Vec<_>>().join(",")
}

/// 027: the customer's cards as CSV records (1 header, 2 column names, 3 data, 4 trailer),
/// newest use first.
pub fn query_csv(l: &super::Ledger, p: &Params, today: jiff::civil::Date) -> String {
    let head = |result: &str, code: &str, detail: &str| {
        record(&["1".into(), result.into(), code.into(), detail.into()])
    };
    let cid = match customer(p) {
        Ok(c) => c,
        Err(e) => {
            return [
                head("1", &e.code, &e.detail),
                record(&["4".into(), "0".into()]),
            ]
            .join("\r\n");
        }
    };
    let card_id = get(p, "customer_card_id");
    let mut cards: Vec<&StoredCard> = l
        .cards
        .iter()
        .filter(|c| c.customer_id == cid && (card_id.is_empty() || c.customer_card_id == card_id))
        .collect();
    if cards.is_empty() {
        return [
            head("1", "P026", "stored card not found"),
            record(&["4".into(), "0".into()]),
        ]
        .join("\r\n");
    }
    cards.sort_by_key(|c| std::cmp::Reverse(c.last_use));
    let mut out = vec![
        head("0", "", ""),
        record(
            &[
                "2",
                "customer_id",
                "customer_card_id",
                "card_number",
                "card_valid_term",
                "card_last_use_date",
                "card_brand",
                "cardholder_name",
                "add_info1",
                "add_info2",
                "add_info3",
                "add_info4",
                "card_expire_flag",
            ]
            .map(String::from),
        ),
    ];
    for c in &cards {
        let (mm, yy) = (
            c.valid_term[..2].parse::<i8>().unwrap_or(0),
            c.valid_term[2..].parse::<i16>().unwrap_or(0),
        );
        let expired = (2000 + yy, mm) < (today.year(), today.month());
        out.push(record(&[
            "3".into(),
            c.customer_id.clone(),
            c.customer_card_id.clone(),
            c.masked.clone(),
            c.valid_term.clone(),
            jst(c.last_use),
            "VISA".into(),
            c.cardholder_name.clone(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            if expired { "1".into() } else { "0".into() },
        ]));
    }
    out.push(record(&["4".into(), cards.len().to_string()]));
    out.join("\r\n")
}

/// The stored card a 020 names with stock_card_mode=1 (P025 when unknown); marks its use.
pub fn card_for_payment(
    l: &mut super::Ledger,
    p: &Params,
    now: Timestamp,
) -> Result<(String, String), Refusal> {
    let cid = customer(p)?;
    let card_id = get(p, "customer_card_id");
    if card_id.is_empty() {
        return Err(refuse("P006", "customer_card_id"));
    }
    let c = l
        .cards
        .iter_mut()
        .find(|c| c.customer_id == cid && c.customer_card_id == card_id)
        .ok_or_else(|| refuse("P025", "stored card not found"))?;
    c.last_use = now;
    Ok((c.number.clone(), c.valid_term.clone()))
}

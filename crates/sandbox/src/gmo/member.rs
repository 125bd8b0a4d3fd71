//! Members and their stored cards (site APIs: SiteID / SitePass).

use super::*;

pub(super) fn site_auth(sb: &Sandbox, p: &Params) -> Result<String, Vec<GmoError>> {
    let id = p.get("SiteID").map(String::as_str).unwrap_or("");
    let pass = p.get("SitePass").map(String::as_str).unwrap_or("");
    if id.is_empty() {
        return Err(vec![e("E01", "E01200001")]);
    }
    if pass.is_empty() {
        return Err(vec![e("E01", "E01210001")]);
    }
    if id != sb.config.gmo_site_id || pass != sb.config.gmo_site_pass {
        return Err(vec![e("E01", "E01210002")]);
    }
    Ok(id.to_owned())
}

pub(super) fn member_id(p: &Params) -> Result<String, Vec<GmoError>> {
    let m = p.get("MemberID").cloned().unwrap_or_default();
    if m.is_empty() || m == "null" {
        return Err(vec![e("E01", "E01230001")]);
    }
    if m.len() > 60
        || !m
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
    {
        return Err(vec![e("E01", "E01230006")]);
    }
    Ok(m)
}

pub(super) fn save_member(sb: &Sandbox, l: &mut Ledger, p: &Params) -> Answer {
    let site = site_auth(sb, p)?;
    let id = member_id(p)?;
    let k = key(&site, &id);
    if l.members.contains_key(&k) {
        return Err(vec![e("E01", "E01390010")]);
    }
    l.members.insert(
        k,
        Member {
            site_id: site,
            member_id: id.clone(),
            member_name: p.get("MemberName").cloned().unwrap_or_default(),
            cards: vec![],
        },
    );
    Ok(vec![("MemberID", id)])
}

pub(super) fn member<'a>(
    sb: &Sandbox,
    l: &'a mut Ledger,
    p: &Params,
) -> Result<&'a mut Member, Vec<GmoError>> {
    let site = site_auth(sb, p)?;
    let id = member_id(p)?;
    l.members
        .get_mut(&key(&site, &id))
        .ok_or_else(|| vec![e("E01", "E01390002")])
}

pub(super) fn search_member(sb: &Sandbox, l: &mut Ledger, p: &Params) -> Answer {
    let m = member(sb, l, p)?;
    Ok(vec![
        ("MemberID", m.member_id.clone()),
        ("MemberName", m.member_name.clone()),
        ("DeleteFlag", "0".into()),
    ])
}

pub(super) fn delete_member(sb: &Sandbox, l: &mut Ledger, p: &Params) -> Answer {
    let site = site_auth(sb, p)?;
    let id = member_id(p)?;
    l.members
        .remove(&key(&site, &id))
        .map(|m| vec![("MemberID", m.member_id)])
        .ok_or_else(|| vec![e("E01", "E01390002")])
}

pub(super) fn save_card(sb: &Sandbox, l: &mut Ledger, p: &Params, now: Timestamp) -> Answer {
    let m = member(sb, l, p)?;
    let card_no = p.get("CardNo").cloned().unwrap_or_default();
    let expire = p.get("Expire").cloned().unwrap_or_default();
    let mut errs = vec![];
    check_card(&card_no, &expire, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    // A card is checked with its issuer before it is kept: a declining card is not stored.
    if let CardBehaviour::Decline { code } = card_behaviour(&card_no) {
        return Err(vec![e(&code, &format!("42{code}0000"))]);
    }
    let today = jst_date(now);
    let expired = (
        2000 + expire[..2].parse::<i16>().unwrap_or(0),
        expire[2..].parse::<i8>().unwrap_or(0),
    ) < (today.year(), today.month());
    if expired {
        return Err(vec![e("G83", "42G830000")]);
    }
    let default =
        p.get("DefaultFlag").map(String::as_str) == Some("1") || m.cards.iter().all(|c| c.deleted);
    if default {
        m.cards.iter_mut().for_each(|c| c.default = false);
    }
    let requested: Option<u32> = p.get("CardSeq").and_then(|s| s.parse().ok());
    let seq = match requested {
        // Updating a stored card keeps its sequence number.
        Some(s) => {
            let Some(c) = m.cards.iter_mut().find(|c| c.seq == s && !c.deleted) else {
                return Err(vec![e("E01", "E01240002")]);
            };
            c.number = card_no.clone();
            c.masked = mask(&card_no);
            c.expire = expire.clone();
            c.default = default || c.default;
            s
        }
        None => {
            let s = m.cards.len() as u32;
            m.cards.push(StoredCard {
                seq: s,
                number: card_no.clone(),
                masked: mask(&card_no),
                expire: expire.clone(),
                holder_name: p.get("HolderName").cloned().unwrap_or_default(),
                default,
                deleted: false,
            });
            s
        }
    };
    Ok(vec![
        ("CardSeq", seq.to_string()),
        ("CardNo", mask(&card_no)),
        ("Forward", "2a99662".into()),
    ])
}

pub(super) fn search_card(sb: &Sandbox, l: &mut Ledger, p: &Params) -> Answer {
    let m = member(sb, l, p)?;
    let seq: Option<u32> = p.get("CardSeq").and_then(|s| s.parse().ok());
    let cards: Vec<&StoredCard> = m
        .cards
        .iter()
        .filter(|c| !c.deleted && seq.is_none_or(|s| c.seq == s))
        .collect();
    if cards.is_empty() {
        return Err(vec![e("E01", "E01240002")]);
    }
    // Several cards come back as pipe-joined lists, position by position.
    let join = |f: &dyn Fn(&StoredCard) -> String| {
        cards.iter().map(|c| f(c)).collect::<Vec<_>>().join("|")
    };
    Ok(vec![
        ("CardSeq", join(&|c| c.seq.to_string())),
        (
            "DefaultFlag",
            join(&|c| if c.default { "1".into() } else { "0".into() }),
        ),
        ("CardName", join(&|_| String::new())),
        ("CardNo", join(&|c| c.masked.clone())),
        ("Expire", join(&|c| c.expire.clone())),
        ("HolderName", join(&|c| c.holder_name.clone())),
        ("DeleteFlag", join(&|_| "0".into())),
    ])
}

pub(super) fn delete_card(sb: &Sandbox, l: &mut Ledger, p: &Params) -> Answer {
    let m = member(sb, l, p)?;
    let seq: Option<u32> = p.get("CardSeq").and_then(|s| s.parse().ok());
    let Some(s) = seq else {
        return Err(vec![e("E01", "E01250001")]);
    };
    let c = m
        .cards
        .iter_mut()
        .find(|c| c.seq == s && !c.deleted)
        .ok_or_else(|| vec![e("E01", "E01240002")])?;
    c.deleted = true;
    c.default = false;
    Ok(vec![("CardSeq", s.to_string())])
}

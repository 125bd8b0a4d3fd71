//! Card tokens (トークン決済): the storefront loads `PaygentToken.js` from the sandbox and
//! calls `new PaygentToken().createToken(merchantId, tokenKey, card, callback)` (or
//! `createCvcToken` for a security code alone); the card goes to the sandbox, the shop gets a
//! token for 020 / 025's `card_token`. The script's own request to Paygent is not published:
//! the sandbox's script posts JSON to `/paygent/n/token/request` (GATEWAYS.md's token path).
//!
//! A token is spent by the first telegram answered normally, or lapses after
//! [`TOKEN_MINUTES`] (the spec gives no figure; the sandbox's choice).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};

use super::{Ledger, Refusal, jst, refuse, sha256_hex};
use crate::Sandbox;

pub const TOKEN_MINUTES: i64 = 30;

#[derive(Debug, Clone)]
pub struct Token {
    pub token: String,
    /// セキュリティコードトークン: only a CVC, to go with a stored card.
    pub cvc_only: bool,
    pub number: String,
    /// MMYY, as 020's card_valid_term.
    pub valid_term: String,
    pub cvc: String,
    pub expires_at: Timestamp,
    pub used: bool,
}

/// The token 020 / 025 names, if it can still be used: unknown 2021, spent 2022, lapsed 2020.
pub fn usable<'a>(l: &'a Ledger, token: &str, now: Timestamp) -> Result<&'a Token, Refusal> {
    match l.tokens.iter().find(|t| t.token == token) {
        None => Err(refuse("2021", "card_token")),
        Some(t) if t.used => Err(refuse("2022", "card_token")),
        Some(t) if now > t.expires_at => Err(refuse("2020", "card_token")),
        Some(t) => Ok(t),
    }
}

/// A telegram that used the token was answered normally: the token is spent.
pub fn spend(l: &mut Ledger, token: &str) {
    if let Some(t) = l.tokens.iter_mut().find(|t| t.token == token) {
        t.used = true;
    }
}

/// A card number's fingerprint: the same card gives the same value (the sandbox has one
/// merchant, so one value per card).
pub fn fingerprint(number: &str) -> String {
    sha256_hex(&format!("paygent-sandbox:{number}"))[..32].to_owned()
}

pub async fn script() -> Response {
    const JS: &str = r#"(function () {
  var base = (function () {
    var s = document.currentScript && document.currentScript.src;
    return s ? s.replace(/\/js\/PaygentToken\.js.*$/, "") : "/paygent";
  })();
  function send(body, callback) {
    fetch(base + "/n/token/request", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) { return r.json(); })
      .then(function (res) { callback(res); })
      .catch(function () { callback({ result: "7001" }); });
  }
  function str(v) { return v === undefined || v === null ? "" : String(v); }
  window.PaygentToken = function () {};
  window.PaygentToken.prototype.createToken = function (merchantId, key, card, callback) {
    card = card || {};
    send({ kind: "card", merchant_id: str(merchantId), token_key: str(key),
      card_number: str(card.card_number), expire_year: str(card.expire_year),
      expire_month: str(card.expire_month), cvc: str(card.cvc), name: str(card.name) }, callback);
  };
  window.PaygentToken.prototype.createCvcToken = function (merchantId, key, card, callback) {
    card = card || {};
    send({ kind: "cvc", merchant_id: str(merchantId), token_key: str(key), cvc: str(card.cvc) },
      callback);
  };
})();
"#;
    (
        [(
            header::CONTENT_TYPE,
            "application/javascript; charset=utf-8",
        )],
        JS,
    )
        .into_response()
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct TokenRequest {
    kind: String,
    merchant_id: String,
    token_key: String,
    card_number: String,
    expire_year: String,
    expire_month: String,
    cvc: String,
    name: String,
}

/// The checks of the token script, with its result codes (付録A): 1100 merchant, 1200/1201
/// key, 1300/1301 number, 1400/1401 year, 1500/1501 month, 1502 past or 20+ years ahead,
/// 1600/1601 security code, 1700 holder name.
fn check(sb: &Sandbox, r: &TokenRequest, now: Timestamp) -> Result<Token, &'static str> {
    if r.merchant_id.is_empty() {
        return Err("1100");
    }
    if r.token_key.is_empty() {
        return Err("1200");
    }
    if r.merchant_id != sb.config.paygent_merchant_id || r.token_key != sb.config.paygent_token_key
    {
        return Err("1201");
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let cvc_ok = r.cvc.is_empty() || (digits(&r.cvc) && r.cvc.len() <= 4);
    let expires_at = now
        .checked_add(SignedDuration::from_mins(TOKEN_MINUTES))
        .unwrap_or(now);
    if r.kind == "cvc" {
        if r.cvc.is_empty() {
            return Err("1601");
        }
        if !cvc_ok {
            return Err("1600");
        }
        return Ok(Token {
            token: String::new(),
            cvc_only: true,
            number: String::new(),
            valid_term: String::new(),
            cvc: r.cvc.clone(),
            expires_at,
            used: false,
        });
    }
    let number: String = r.card_number.chars().filter(|c| *c != ' ').collect();
    if number.is_empty() {
        return Err("1300");
    }
    if !digits(&number) || !(14..=16).contains(&number.len()) {
        return Err("1301");
    }
    // One digit is padded with a zero, as the script does.
    let pad = |s: &str| {
        if s.len() == 1 {
            format!("0{s}")
        } else {
            s.to_owned()
        }
    };
    let (yy, mm) = (pad(r.expire_year.trim()), pad(r.expire_month.trim()));
    if yy.is_empty() {
        return Err("1400");
    }
    if !digits(&yy) || yy.len() != 2 {
        return Err("1401");
    }
    if mm.is_empty() {
        return Err("1500");
    }
    if !digits(&mm) || mm.len() != 2 {
        return Err("1501");
    }
    let today = crate::clock::jst_date(now);
    let (y, m) = (
        2000 + yy.parse::<i16>().unwrap_or(0),
        mm.parse::<i8>().unwrap_or(0),
    );
    if !(1..=12).contains(&m) || (y, m) < (today.year(), today.month()) || y >= today.year() + 20 {
        return Err("1502");
    }
    if !cvc_ok {
        return Err("1600");
    }
    // Half-width alphanumerics, symbols, kana and spaces, at most 64 bytes.
    let name_ok = r.name.len() <= 64
        && r.name
            .chars()
            .all(|c| c.is_ascii_graphic() || c == ' ' || ('\u{FF61}'..='\u{FF9F}').contains(&c));
    if !name_ok {
        return Err("1700");
    }
    Ok(Token {
        token: String::new(),
        cvc_only: false,
        number,
        valid_term: format!("{mm}{yy}"),
        cvc: r.cvc.clone(),
        expires_at,
        used: false,
    })
}

/// `POST /paygent/n/token/request`: what the script's callback receives.
pub async fn create(
    State(sb): State<Sandbox>,
    axum::Json(r): axum::Json<TokenRequest>,
) -> Response {
    let now = sb.clock.now();
    let mut t = match check(&sb, &r, now) {
        Ok(t) => t,
        Err(code) => return axum::Json(serde_json::json!({ "result": code })).into_response(),
    };
    t.token = format!("tok_{}", crate::ids::alnum_lower(26));
    let body = if t.cvc_only {
        serde_json::json!({ "result": "0000", "tokenizedCardObject": { "token": t.token } })
    } else {
        let n = t.number.len();
        let masked = format!("{}{}", "*".repeat(n - 4), &t.number[n - 4..]);
        let valid_until = jst(t.expires_at);
        let fp = fingerprint(&t.number);
        let hc = sha256_hex(&format!(
            "{}{masked}{valid_until}{fp}{}",
            t.token, sb.config.paygent_token_hash_key
        ));
        serde_json::json!({
            "result": "0000",
            "tokenizedCardObject": {
                "token": t.token,
                "masked_card_number": masked,
                "valid_until": valid_until,
                "fingerprint": fp,
            },
            "hc": hc,
        })
    };
    sb.state().paygent.tokens.push(t);
    axum::Json(body).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn answer_hash_matches_the_spec_example() {
        // The token annex's example (§5): token, masked number, valid_until, fingerprint, key.
        assert_eq!(
            super::sha256_hex(
                "tok_aaaabbbbccccdddd************424220181121185202A1b2C3d4E5f6G7h8I9j0Kch_eeeeffffgggghhhhiiii"
            ),
            "4d3c9a7b3f8dd69787e35491f0fa9e750b9642413ad6bc2100af9bba4edaaad9"
        );
    }
}

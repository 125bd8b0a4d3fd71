//! The token script and token API: the card goes to the gateway, the shop gets a token.

use super::*;

/// The token script shops load instead of GMO's `token.js`: the same API
/// (`Multipayment.init(shopId)`, `Multipayment.getToken(card, callback)`), posting the card
/// to this sandbox, never to the shop.
pub(super) async fn token_js() -> Response {
    const JS: &str = r#"(function () {
  var base = (function () {
    var s = document.currentScript && document.currentScript.src;
    return s ? s.replace(/\/ext\/js\/token\.js.*$/, "") : "/gmo";
  })();
  var shopId = null;
  window.Multipayment = {
    init: function (id) { shopId = id; },
    getToken: function (card, callback) {
      var body = {
        shopId: shopId, cardno: String(card.cardno || ""), expire: String(card.expire || ""),
        securitycode: String(card.securitycode || ""), holdername: String(card.holdername || ""),
        tokennumber: String(card.tokennumber || "1")
      };
      fetch(base + "/ext/api/credit/getToken", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
      }).then(function (r) { return r.json(); })
        .then(function (res) { callback(res); })
        .catch(function () { callback({ resultCode: "902" }); });
    }
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

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TokenRequest {
    shop_id: Option<String>,
    #[serde(default)]
    cardno: String,
    #[serde(default)]
    expire: String,
    #[serde(default)]
    securitycode: String,
    #[serde(default)]
    holdername: String,
    #[serde(default)]
    tokennumber: String,
}

/// The token API behind the script. Result codes as GMO's script reports them: 000 OK,
/// 100/101/102 card number, 110/111/112 expiry, 121/122 security code, 131 holder name,
/// 160/180 shop, 142 token count.
pub(super) async fn get_token(
    State(sb): State<Sandbox>,
    axum::Json(r): axum::Json<TokenRequest>,
) -> Response {
    let fail = |code: &str| axum::Json(serde_json::json!({ "resultCode": code })).into_response();
    match r.shop_id.as_deref() {
        None | Some("") => return fail("160"),
        Some(id) if id != sb.config.gmo_shop_id => return fail("180"),
        _ => {}
    }
    let card: String = r
        .cardno
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if card.is_empty() {
        return fail("100");
    }
    if !card.bytes().all(|b| b.is_ascii_digit()) {
        return fail("101");
    }
    if !(10..=16).contains(&card.len()) {
        return fail("102");
    }
    // YYYYMM or YYMM.
    let exp = r.expire.trim();
    if exp.is_empty() {
        return fail("110");
    }
    let yymm = match exp.len() {
        6 => exp[2..].to_owned(),
        4 => exp.to_owned(),
        _ => return fail("111"),
    };
    if !yymm.bytes().all(|b| b.is_ascii_digit())
        || !(1..=12).contains(&yymm[2..].parse::<u8>().unwrap_or(0))
    {
        return fail("112");
    }
    let sc = r.securitycode.trim();
    if !sc.is_empty() && !sc.bytes().all(|b| b.is_ascii_digit()) {
        return fail("121");
    }
    if !sc.is_empty() && !(3..=4).contains(&sc.len()) {
        return fail("122");
    }
    if r.holdername.chars().count() > 50 || !r.holdername.is_ascii() {
        return fail("131");
    }
    let n: usize = match r.tokennumber.trim() {
        "" => 1,
        t => match t.parse() {
            Ok(n) if (1..=10).contains(&n) => n,
            _ => return fail("142"),
        },
    };
    let now = sb.clock.now();
    let expires_at = now
        .checked_add(SignedDuration::from_mins(TOKEN_MINUTES))
        .unwrap_or(now);
    let mut tokens = Vec::with_capacity(n);
    {
        let mut st = sb.state();
        for _ in 0..n {
            let t = ids::hex(32);
            st.gmo.tokens.insert(
                t.clone(),
                CardToken {
                    card_no: card.clone(),
                    expire: yymm.clone(),
                    expires_at,
                    used: false,
                },
            );
            tokens.push(t);
        }
    }
    let token: serde_json::Value = if n == 1 {
        tokens[0].clone().into()
    } else {
        tokens.into()
    };
    axum::Json(serde_json::json!({
        "resultCode": "000",
        "tokenObject": {
            "token": token,
            "toBeExpiredAt": expires_at.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(9))).strftime("%Y-%m-%d-%H-%M-%S").to_string(),
            "maskedCardNo": format!("{}******{}", &card[..6.min(card.len())], &card[card.len() - 4..]),
            "isSecurityCodeSet": !sc.is_empty(),
        }
    }))
    .into_response()
}

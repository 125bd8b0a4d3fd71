//! EMV 3-D Secure 2.0 (docs/paygent-protocol.md §3.1a): the 450 telegram starts an
//! authentication and gives the page to send the buyer's browser to; the browser comes back
//! to `term_url` with the result (a GET, checked with `hc`); 020 then authorizes with the
//! authentication's id (`authorize_3ds`), which can be used once.
//!
//! Unlike the other module-type telegrams, 450 travels in UTF-8.

use super::{Answer, Card, PaygentClient, PaymentClass, message, param, path_of};
use crate::GatewayError;

/// What a 450 sends. Only `card`, `amount`, `term_url` and `merchant_name` are required; the
/// rest feeds the issuer's risk-based decision.
#[derive(Debug, Clone)]
pub struct ThreeDsRequest {
    /// The merchant's id for the authentication (searchable in Paygent's console).
    pub trading_id: String,
    /// Yen.
    pub amount: i64,
    /// A token, a stored card or (test merchants) a card number; not an earlier trading_id.
    pub card: Card,
    /// Where the buyer's browser comes back with the result, and where a timeout is notified.
    pub term_url: String,
    /// Shown by the issuer: half-width, at most 40.
    pub merchant_name: String,
    /// Half-width, 2–45. Expected since 2024-08-12 unless the token or stored card has one.
    pub cardholder_name: String,
    /// The buyer's email (or a phone in `extra`): one of them is expected since 2024-08-12.
    pub email: String,
    /// Further risk-based items by their names in the annex, e.g. `mobile_phone_cc`,
    /// `mobile_phone_subscriber`, `bill_address_city`.
    pub extra: Vec<(String, String)>,
}

/// A started authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreeDsStart {
    /// `3ds_auth_id`: what 020 takes once the buyer is back with a passed result.
    pub auth_id: String,
    /// The HTML to answer the buyer's browser with, as is: it takes them to the issuer.
    pub acs_html: String,
    pub card_brand: String,
    pub masked_card_number: String,
    pub fingerprint: String,
}

/// The result the buyer's browser brings back to `term_url` (also the timeout notice's
/// shape, with response_code 31013). Check it with [`PaygentClient::three_ds_result_ok`]
/// first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreeDsResult {
    /// `result=0`: authenticated, or an attempt (see `attempt_kbn`).
    pub passed: bool,
    pub auth_id: String,
    /// Empty = authenticated; `0` attempt, the issuer bears chargebacks; `1` attempt after a
    /// 3-D Secure error, the merchant bears them.
    pub attempt_kbn: String,
    pub response_code: String,
    pub response_detail: String,
}

impl ThreeDsResult {
    pub fn from_params(params: &[(String, String)]) -> ThreeDsResult {
        ThreeDsResult {
            passed: param(params, "result") == "0",
            auth_id: param(params, "3ds_auth_id").to_owned(),
            attempt_kbn: param(params, "attempt_kbn").to_owned(),
            response_code: param(params, "response_code").to_owned(),
            response_detail: param(params, "response_detail").to_owned(),
        }
    }

    /// Whether chargebacks stay with the card company: authenticated or attempt `0`. A
    /// passed result with attempt `1` may still be authorized, at the merchant's risk.
    pub fn issuer_liable(&self) -> bool {
        self.passed && matches!(self.attempt_kbn.as_str(), "" | "0")
    }

    /// The operator's words for a result that did not pass.
    pub fn message(&self) -> String {
        message(&self.response_code, &self.response_detail)
    }
}

impl PaygentClient {
    /// 450: start an EMV 3-D Secure authentication.
    pub async fn start_3ds(&self, req: &ThreeDsRequest) -> Result<ThreeDsStart, GatewayError> {
        let amount = req.amount.to_string();
        let mut d: Vec<(&str, &str)> = vec![
            ("merchant_id", &self.cfg.merchant_id),
            ("connect_id", &self.cfg.connect_id),
            ("connect_password", self.cfg.connect_password.expose()),
            ("telegram_kind", "450"),
            ("telegram_version", &self.cfg.telegram_version),
            ("trading_id", &req.trading_id),
            ("term_url", &req.term_url),
            ("merchant_name", &req.merchant_name),
            ("authentication_type", "01"),
            ("payment_amount", &amount),
            ("currency_code", "JPY"),
            ("cardholder_name", &req.cardholder_name),
            ("email_address", &req.email),
        ];
        match &req.card {
            Card::Token(t) => d.extend([("card_set_method", "token"), ("card_token", t)]),
            Card::Stored {
                customer_id,
                customer_card_id,
            } => d.extend([
                ("card_set_method", "customer"),
                ("customer_id", customer_id),
                ("customer_card_id", customer_card_id),
            ]),
            Card::Raw {
                number,
                valid_term_mmyy,
            } => d.extend([
                ("card_set_method", "direct"),
                ("card_number", number.expose()),
                ("card_valid_term", valid_term_mmyy),
            ]),
            // An earlier payment's card cannot be authenticated; a CVC token goes with the
            // 020, not here (name the stored card alone).
            _ => {
                return Err(GatewayError::Config(
                    "450 takes a token, a stored card or a card number".into(),
                ));
            }
        }
        d.extend(req.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let url = format!("{}/n/{}", self.cfg.base_url, path_of("450"));
        let http_req = self
            .http
            .post(&url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=UTF-8",
            )
            .body(juchu_wire::form::encode(
                &d,
                juchu_wire::form::Charset::Utf8,
            ));
        let (status, body) = crate::exchange(http_req, "ペイジェント").await?;
        if !status.is_success() {
            return Err(GatewayError::Protocol(format!("HTTP {status} from {url}")));
        }
        let text = String::from_utf8_lossy(&body);
        let a = Answer(juchu_wire::paygent::parse(&text));
        match a.get("result") {
            "0" if !a.get("3ds_auth_id").is_empty() && !a.get("out_acs_html").is_empty() => {
                Ok(ThreeDsStart {
                    auth_id: a.get("3ds_auth_id").to_owned(),
                    acs_html: a.get("out_acs_html").to_owned(),
                    card_brand: a.get("card_brand").to_owned(),
                    masked_card_number: a.get("masked_card_number").to_owned(),
                    fingerprint: a.get("fingerprint").to_owned(),
                })
            }
            "1" => Err(super::refusal(
                a.get("response_code").to_owned(),
                a.get("response_detail").trim_matches('"').to_owned(),
            )),
            other => Err(GatewayError::Protocol(format!(
                "telegram 450: result={other:?} without 3ds_auth_id / out_acs_html"
            ))),
        }
    }

    /// Check the `hc` of a 3-D Secure result (or timeout notice): SHA-256 of result +
    /// 3ds_auth_id + attempt_kbn + the 3Dセキュア結果受付ハッシュ鍵, hex. False without a key
    /// or an `hc`: an unverifiable result must not be trusted.
    pub fn three_ds_result_ok(params: &[(String, String)], key: &str) -> bool {
        let input = format!(
            "{}{}{}{key}",
            param(params, "result"),
            param(params, "3ds_auth_id"),
            param(params, "attempt_kbn"),
        );
        !key.is_empty() && super::hc_ok(param(params, "hc"), &input)
    }

    /// 020 with a passed EMV 3-D Secure authentication (`3dsecure_use_type=2`): the same
    /// card and amount as the 450. The id is spent by this payment (31010 afterwards).
    pub async fn authorize_3ds(
        &self,
        trading_id: &str,
        amount: i64,
        class: PaymentClass,
        card: &Card,
        sales: bool,
        auth_id: &str,
    ) -> Result<Answer, GatewayError> {
        self.authorize_020(
            trading_id,
            amount,
            class,
            card,
            sales,
            super::Secure::Emv(auth_id),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn hash_vector_from_the_docs() {
        // docs/paygent-protocol.md §3.1a: authenticated (attempt_kbn empty).
        let p = params(&[
            ("result", "0"),
            ("3ds_auth_id", "5f0c3d2e-8a41-4b7e-9c60-2d7e1a9b4f13"),
            ("attempt_kbn", ""),
            (
                "hc",
                "b697ce4d79e329c04b8986e58bb5be045d40f7b4ebec00e66ea10c0b1a0091f6",
            ),
        ]);
        assert!(PaygentClient::three_ds_result_ok(&p, "demo_3ds_key_4821"));
        assert!(!PaygentClient::three_ds_result_ok(&p, "another_key"));
        assert!(!PaygentClient::three_ds_result_ok(&p, ""));
        let r = ThreeDsResult::from_params(&p);
        assert!(r.passed && r.issuer_liable());
    }
}

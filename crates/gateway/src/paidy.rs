//! Paidy (翌月払い): JSON over HTTPS with `Authorization: Bearer sk_…`. Payments `pay_…`,
//! captures `cap_…`, refunds `ref_…`; errors `{reference, status, code, title, description}`.

use std::time::Duration;

use juchu_domain::money::Yen;
use serde_json::Value;

use crate::{GatewayError, Secret, exchange, http_client};

#[derive(Debug, Clone)]
pub struct PaidyConfig {
    /// `https://api.paidy.com` for Paidy, `http://127.0.0.1:8080/paidy` for the sandbox.
    pub base_url: String,
    pub secret_key: Secret,
    /// Sent as `Paidy-Version` when set.
    pub api_version: Option<String>,
    pub timeout: Duration,
}

impl PaidyConfig {
    pub fn sandbox(base_url: &str) -> PaidyConfig {
        PaidyConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret_key: Secret::new("sk_test_sandbox"),
            api_version: None,
            timeout: crate::DEFAULT_TIMEOUT,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
pub struct Item {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub quantity: i64,
    pub unit_price: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
pub struct Order {
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_ref: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Capture {
    pub id: String,
    pub amount: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Refund {
    pub id: String,
    pub capture_id: String,
    pub amount: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Payment {
    pub id: String,
    pub created_at: String,
    pub expires_at: String,
    pub amount: i64,
    pub currency: String,
    /// `authorized`, `closed`, `rejected`
    pub status: String,
    #[serde(default)]
    pub order: Order,
    #[serde(default)]
    pub captures: Vec<Capture>,
    #[serde(default)]
    pub refunds: Vec<Refund>,
    #[serde(default)]
    pub description: Option<String>,
}

impl Payment {
    /// All captured, in yen; a sum out of range is not Paidy's protocol.
    pub fn captured(&self) -> Result<Yen, GatewayError> {
        sum(self.captures.iter().map(|c| c.amount))
    }
    pub fn refunded(&self) -> Result<Yen, GatewayError> {
        sum(self.refunds.iter().map(|r| r.amount))
    }
}

fn sum(amounts: impl Iterator<Item = i64>) -> Result<Yen, GatewayError> {
    amounts.map(crate::yen).try_fold(Yen::ZERO, |a, b| {
        a.checked_add(b?)
            .map_err(|_| GatewayError::Protocol("amounts out of range".into()))
    })
}

/// A token payment (subscriptions, stored buyers).
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewPayment {
    pub token_id: String,
    pub amount: i64,
    pub currency: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_name: Option<String>,
    pub order: Order,
}

/// PUT /payments/{id}. Paidy's public API changes order_ref, description and metadata; the
/// seed manual also changes the order and amount (≤ +10%), which the sandbox accepts.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Update {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
}

#[derive(Clone)]
pub struct PaidyClient {
    cfg: PaidyConfig,
    http: reqwest::Client,
}

fn message(code: &str, description: &str) -> String {
    let m = match code {
        "authentication.failed" => "Paidyの秘密鍵が正しくありません（決済設定を確認してください）",
        "resource.not_found" => "Paidyにこの決済がありません",
        "payment.invalid_state" => "Paidyの決済の状態では、この処理はできません",
        "request_entity.invalid" => "Paidyが要求内容を受け付けませんでした",
        _ => "Paidyでエラーが発生しました",
    };
    format!("{m}（{description}）")
}

impl PaidyClient {
    pub fn new(cfg: PaidyConfig) -> Result<PaidyClient, GatewayError> {
        let http = http_client(cfg.timeout)?;
        Ok(PaidyClient { cfg, http })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Payment, GatewayError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.cfg.base_url))
            .bearer_auth(self.cfg.secret_key.expose());
        if let Some(v) = &self.cfg.api_version {
            req = req.header("Paidy-Version", v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let (status, bytes) = exchange(req, "Paidy").await?;
        if !status.is_success() {
            let v: Value = serde_json::from_slice(&bytes).map_err(|_| {
                GatewayError::Protocol(format!("HTTP {status} without an error body"))
            })?;
            let detail = v["code"].as_str().unwrap_or("unknown").to_owned();
            let description = v["description"].as_str().unwrap_or("").to_owned();
            // Too many requests: nothing was done; the code is the status, as `busy` knows it.
            let busy = status == reqwest::StatusCode::TOO_MANY_REQUESTS;
            return Err(GatewayError::Refused {
                message: message(&detail, &description),
                code: if busy {
                    "429".to_owned()
                } else {
                    detail.clone()
                },
                detail,
                declined: false,
                retryable: busy,
                lapsed: false,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| GatewayError::Protocol(format!("payment: {e}")))
    }

    /// A token payment. A buyer Paidy will not lend to comes back with status `rejected`.
    pub async fn create(&self, p: &NewPayment) -> Result<Payment, GatewayError> {
        let body = serde_json::to_value(p).map_err(|e| GatewayError::Config(e.to_string()))?;
        self.call(reqwest::Method::POST, "/payments", Some(body))
            .await
    }

    pub async fn retrieve(&self, id: &str) -> Result<Payment, GatewayError> {
        self.call(reqwest::Method::GET, &format!("/payments/{id}"), None)
            .await
    }

    /// Capture the whole payment; it closes.
    pub async fn capture(&self, id: &str) -> Result<Payment, GatewayError> {
        self.call(
            reqwest::Method::POST,
            &format!("/payments/{id}/captures"),
            Some(serde_json::json!({})),
        )
        .await
    }

    /// Refund `amount` of a capture (all that remains when `None`).
    pub async fn refund(
        &self,
        id: &str,
        capture_id: &str,
        amount: Option<i64>,
    ) -> Result<Payment, GatewayError> {
        let mut b = serde_json::json!({ "capture_id": capture_id });
        if let Some(a) = amount {
            b["amount"] = a.into();
        }
        self.call(
            reqwest::Method::POST,
            &format!("/payments/{id}/refunds"),
            Some(b),
        )
        .await
    }

    /// Release an open authorization.
    pub async fn close(&self, id: &str) -> Result<Payment, GatewayError> {
        self.call(
            reqwest::Method::POST,
            &format!("/payments/{id}/close"),
            None,
        )
        .await
    }

    pub async fn update(&self, id: &str, u: &Update) -> Result<Payment, GatewayError> {
        let body = serde_json::to_value(u).map_err(|e| GatewayError::Config(e.to_string()))?;
        self.call(reqwest::Method::PUT, &format!("/payments/{id}"), Some(body))
            .await
    }
}

/// Paidy's status in common words.
pub fn status_of(p: &Payment) -> Result<crate::GatewayStatus, GatewayError> {
    use crate::PaymentState;
    let (captured, refunded) = (p.captured()?, p.refunded()?);
    let state = match p.status.as_str() {
        "authorized" => PaymentState::Authorized,
        "rejected" => PaymentState::Failed,
        "closed" if captured == Yen::ZERO => PaymentState::Cancelled,
        "closed" if refunded >= captured => PaymentState::Refunded,
        "closed" => PaymentState::Captured,
        _ => PaymentState::Pending,
    };
    Ok(crate::GatewayStatus {
        state,
        gateway_status: p.status.clone(),
        amount: crate::yen(p.amount)?,
        captured,
        refunded,
        expires_at: p.expires_at.parse().ok(),
        reference: p.order.order_ref.clone(),
    })
}

/// A Paidy payment id as it can go into a URL path: `pay_` and letters or digits.
pub fn is_payment_id(id: &str) -> bool {
    id.len() <= 64
        && id
            .strip_prefix("pay_")
            .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn paidy_id(p: &crate::PaymentRef) -> Result<&str, GatewayError> {
    match p {
        crate::PaymentRef::Paidy { payment_id } if is_payment_id(payment_id) => Ok(payment_id),
        crate::PaymentRef::Paidy { payment_id } => Err(GatewayError::Config(format!(
            "not a Paidy payment id: {payment_id:?}"
        ))),
        other => Err(GatewayError::Config(format!(
            "not a Paidy payment: {other:?}"
        ))),
    }
}

#[async_trait::async_trait]
impl crate::Gateway for PaidyClient {
    fn kind(&self) -> crate::GatewayKind {
        crate::GatewayKind::Paidy
    }

    /// A token payment (the storefront's Paidy Checkout authorizes in the browser instead
    /// and hands juchu the `pay_…` id).
    async fn authorize(
        &self,
        r: &crate::AuthorizeRequest,
    ) -> Result<crate::AuthorizeOutcome, GatewayError> {
        let crate::CardRef::Token(token) = &r.card else {
            return Err(crate::api::unsupported("Paidy", "カードでの与信"));
        };
        let p = self
            .create(&NewPayment {
                token_id: token.clone(),
                amount: r.amount.get(),
                currency: "JPY",
                description: None,
                store_name: None,
                order: Order {
                    order_ref: Some(r.order_ref.clone()),
                    tax: Some(r.tax.get()),
                    ..Default::default()
                },
            })
            .await?;
        if p.status == "rejected" {
            return Err(GatewayError::Refused {
                code: "rejected".into(),
                detail: "rejected".into(),
                message: "Paidyの審査が通りませんでした。ほかのお支払い方法をお選びください".into(),
                declined: true,
                retryable: false,
                lapsed: false,
            });
        }
        let payment = crate::PaymentRef::Paidy {
            payment_id: p.id.clone(),
        };
        if r.capture {
            let c = self.capture(&p.id).await?;
            return Ok(crate::AuthorizeOutcome::Done {
                payment,
                status: status_of(&c)?,
            });
        }
        Ok(crate::AuthorizeOutcome::Done {
            payment,
            status: status_of(&p)?,
        })
    }

    async fn complete_3ds(
        &self,
        _p: &crate::PaymentRef,
    ) -> Result<crate::GatewayStatus, GatewayError> {
        Err(crate::api::unsupported("Paidy", "3Dセキュア"))
    }

    /// Paidy captures the whole payment: if the shop's amount differs, update first.
    async fn capture(
        &self,
        p: &crate::PaymentRef,
        amount: Yen,
    ) -> Result<crate::GatewayStatus, GatewayError> {
        let id = paidy_id(p)?;
        let cur = self.retrieve(id).await?;
        let amount = amount.get();
        if cur.amount != amount {
            return Err(GatewayError::Refused {
                code: "amount_mismatch".into(),
                detail: format!("{}≠{amount}", cur.amount),
                message: format!(
                    "Paidyの金額（{}）と売上金額（{}）が違います。先にアップデートしてください",
                    juchu_domain::money::yen(cur.amount),
                    juchu_domain::money::yen(amount)
                ),
                declined: false,
                retryable: false,
                lapsed: false,
            });
        }
        match PaidyClient::capture(self, id).await {
            Ok(p) => status_of(&p),
            Err(mut e) => {
                // An open payment that cannot be captured is past its 売上確定有効期限:
                // Paidy refuses it whatever our clock says.
                if let GatewayError::Refused { code, lapsed, .. } = &mut e
                    && code == "payment.invalid_state"
                    && cur.status == "authorized"
                {
                    *lapsed = true;
                }
                Err(e)
            }
        }
    }

    async fn cancel(
        &self,
        p: &crate::PaymentRef,
        _now: jiff::Timestamp,
    ) -> Result<crate::GatewayStatus, GatewayError> {
        status_of(&self.close(paidy_id(p)?).await?)
    }

    async fn change_amount(
        &self,
        p: &crate::PaymentRef,
        amount: Yen,
        _capture: bool,
    ) -> Result<(crate::PaymentRef, crate::GatewayStatus), GatewayError> {
        let u = Update {
            amount: Some(amount.get()),
            ..Default::default()
        };
        let r = self.update(paidy_id(p)?, &u).await?;
        Ok((p.clone(), status_of(&r)?))
    }

    async fn update_order(
        &self,
        p: &crate::PaymentRef,
        amount: Yen,
        contents: &crate::OrderContents,
    ) -> Result<(crate::PaymentRef, crate::GatewayStatus), GatewayError> {
        let u = Update {
            amount: Some(amount.get()),
            order: Some(Order {
                items: contents
                    .lines
                    .iter()
                    .map(|l| Item {
                        id: Some(l.code.clone()),
                        title: Some(l.title.clone()),
                        quantity: l.quantity,
                        unit_price: l.unit_price.get(),
                    })
                    .collect(),
                tax: Some(contents.tax.get()),
                shipping: Some(contents.shipping.get()),
                order_ref: None,
            }),
            ..Default::default()
        };
        let r = self.update(paidy_id(p)?, &u).await?;
        Ok((p.clone(), status_of(&r)?))
    }

    async fn reauthorize(
        &self,
        _p: &crate::PaymentRef,
        _amount: Yen,
        _capture: bool,
        _order_ref: &str,
    ) -> Result<(crate::PaymentRef, crate::GatewayStatus), GatewayError> {
        Err(crate::api::unsupported("Paidy", "再オーソリ"))
    }

    async fn refund(
        &self,
        p: &crate::PaymentRef,
        amount: Option<Yen>,
    ) -> Result<crate::GatewayStatus, GatewayError> {
        let id = paidy_id(p)?;
        let cur = self.retrieve(id).await?;
        let cap = cur.captures.last().ok_or_else(|| GatewayError::Refused {
            code: "not_captured".into(),
            detail: "not_captured".into(),
            message: "売上確定していないため返金できません（クローズしてください）".into(),
            declined: false,
            retryable: false,
            lapsed: false,
        })?;
        status_of(&PaidyClient::refund(self, id, &cap.id, amount.map(Yen::get)).await?)
    }

    async fn query(&self, p: &crate::PaymentRef) -> Result<crate::GatewayStatus, GatewayError> {
        status_of(&self.retrieve(paidy_id(p)?).await?)
    }
}

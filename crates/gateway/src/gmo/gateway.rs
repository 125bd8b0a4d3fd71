//! GMO-PG behind the common Gateway trait.

use jiff::Timestamp;
use juchu_domain::cancel_kind::{GmoCancel, gmo_cancel_kind};
use juchu_domain::money::Yen;

use super::{AccessKeys, CardSource, GmoClient, JobCd, PayMethod, PayType};
use crate::api::{
    AuthorizeOutcome, AuthorizeRequest, CardRef, Gateway, GatewayKind, GatewayStatus, GmoMethod,
    Installments, LaterMethod, LaterRequest, PaymentRef, PaymentSlip, PaymentState, StoredCard,
    unsupported,
};
use crate::{GatewayError, yen};

fn keys_of(p: &PaymentRef) -> Result<(&str, AccessKeys, GmoMethod), GatewayError> {
    match p {
        PaymentRef::Gmo {
            order_id,
            access_id,
            access_pass,
            method,
        } => Ok((
            order_id,
            AccessKeys {
                access_id: access_id.clone(),
                access_pass: access_pass.clone(),
            },
            *method,
        )),
        other => Err(GatewayError::Config(format!(
            "not a GMO payment: {other:?}"
        ))),
    }
}

impl From<&CardRef> for CardSource {
    fn from(c: &CardRef) -> CardSource {
        match c {
            CardRef::Token(t) => CardSource::Token(t.clone()),
            CardRef::Stored {
                customer_id,
                card_seq,
            } => CardSource::Member {
                member_id: customer_id.clone(),
                card_seq: *card_seq,
            },
            CardRef::TestNumber {
                card_no,
                expire_yymm,
            } => CardSource::Number {
                card_no: card_no.clone(),
                expire_yymm: expire_yymm.clone(),
                security_code: None,
            },
        }
    }
}

/// GMO's status in common words.
pub fn state_of(status: &str) -> PaymentState {
    match status {
        "AUTH" | "SAUTH" | "CHECK" => PaymentState::Authorized,
        "CAPTURE" | "SALES" => PaymentState::Captured,
        "VOID" | "RETURN" | "RETURNX" | "CANCEL" => PaymentState::Cancelled,
        "PAYSUCCESS" => PaymentState::Paid,
        "EXPIRED" => PaymentState::Expired,
        "PAYFAIL" => PaymentState::Failed,
        _ => PaymentState::Pending,
    }
}

fn status(gmo_status: &str, amount: Yen) -> GatewayStatus {
    GatewayStatus::new(state_of(gmo_status), gmo_status, amount)
}

#[async_trait::async_trait]
impl Gateway for GmoClient {
    fn merchant(&self) -> String {
        self.config().shop_id.clone()
    }

    fn kind(&self) -> GatewayKind {
        GatewayKind::Gmo
    }

    async fn authorize(&self, r: &AuthorizeRequest) -> Result<AuthorizeOutcome, GatewayError> {
        let job = if r.capture {
            JobCd::Capture
        } else {
            JobCd::Auth
        };
        let keys = match r.three_ds_return_url {
            Some(_) => {
                self.entry_tran_3ds(&r.order_ref, job, r.amount.get(), r.tax.get())
                    .await?
            }
            None => {
                self.entry_tran(&r.order_ref, job, r.amount.get(), r.tax.get())
                    .await?
            }
        };
        let payment = PaymentRef::Gmo {
            order_id: r.order_ref.clone(),
            access_id: keys.access_id.clone(),
            access_pass: keys.access_pass.clone(),
            method: GmoMethod::Card,
        };
        let card = CardSource::from(&r.card);
        let method = match r.installments {
            Installments::Lump => PayMethod::Lump,
            Installments::Split(n) => PayMethod::Installments(n),
            Installments::BonusLump => PayMethod::BonusLump,
            Installments::Revolving => PayMethod::Revolving,
        };
        match &r.three_ds_return_url {
            Some(url) => {
                let ch = self
                    .exec_tran_3ds(&keys, &r.order_ref, method, &card, url)
                    .await?;
                Ok(AuthorizeOutcome::ThreeDs {
                    payment,
                    redirect_url: ch.redirect_url,
                })
            }
            None => {
                self.exec_tran(&keys, &r.order_ref, method, &card).await?;
                Ok(AuthorizeOutcome::Done {
                    payment,
                    status: status(job.as_str(), r.amount),
                })
            }
        }
    }

    async fn complete_3ds(&self, p: &PaymentRef) -> Result<GatewayStatus, GatewayError> {
        let (_, keys, _) = keys_of(p)?;
        self.secure_tran2(&keys).await?;
        self.query(p).await
    }

    async fn capture(&self, p: &PaymentRef, amount: Yen) -> Result<GatewayStatus, GatewayError> {
        let (_, keys, _) = keys_of(p)?;
        self.alter_tran(&keys, JobCd::Sales, Some(amount.get()))
            .await?;
        Ok(status("SALES", amount))
    }

    async fn cancel(&self, p: &PaymentRef, now: Timestamp) -> Result<GatewayStatus, GatewayError> {
        let (order_id, keys, method) = keys_of(p)?;
        if method == GmoMethod::Konbini {
            self.cvs_cancel(&keys, order_id).await?;
            return self.query(p).await;
        }
        if method == GmoMethod::PayEasy {
            return Err(unsupported("GMO Pay-easy", "取消"));
        }
        // The kind depends on the gateway's last processing date, so ask first.
        let t = self.search_trade(order_id).await?;
        let processed = super::parse_tran_date(&t.process_date)
            .ok_or_else(|| GatewayError::Protocol(format!("ProcessDate {}", t.process_date)))?;
        let captured = matches!(t.status.as_str(), "CAPTURE" | "SALES");
        let kind =
            gmo_cancel_kind(captured, processed, now).ok_or_else(|| GatewayError::Refused {
                code: "E11".into(),
                detail: "E11010010".into(),
                message: super::errors::message("E11010010"),
                declined: false,
                retryable: false,
                lapsed: false,
            })?;
        let job = match kind {
            GmoCancel::Void => JobCd::Void,
            GmoCancel::Return => JobCd::Return,
            GmoCancel::ReturnX => JobCd::ReturnX,
        };
        self.alter_tran(&keys, job, None).await?;
        Ok(status(job.as_str(), yen(t.amount)?))
    }

    async fn change_amount(
        &self,
        p: &PaymentRef,
        amount: Yen,
        capture: bool,
    ) -> Result<(PaymentRef, GatewayStatus), GatewayError> {
        let (_, keys, _) = keys_of(p)?;
        let job = if capture { JobCd::Capture } else { JobCd::Auth };
        self.change_tran(&keys, job, amount.get(), 0).await?;
        Ok((p.clone(), status(job.as_str(), amount)))
    }

    async fn reauthorize(
        &self,
        p: &PaymentRef,
        amount: Yen,
        capture: bool,
        _order_ref: &str,
    ) -> Result<(PaymentRef, GatewayStatus), GatewayError> {
        // GMO authorizes the same OrderID again: SearchTrade by it finds the outcome.
        let (_, keys, _) = keys_of(p)?;
        let job = if capture { JobCd::Capture } else { JobCd::Auth };
        self.alter_tran(&keys, job, Some(amount.get())).await?;
        Ok((p.clone(), status(job.as_str(), amount)))
    }

    async fn refund(
        &self,
        _p: &PaymentRef,
        _amount: Option<Yen>,
    ) -> Result<GatewayStatus, GatewayError> {
        // GMO refunds by cancelling (返品) or by lowering the amount (金額変更).
        Err(unsupported(
            "GMO-PG",
            "返金（取消または金額変更を使います）",
        ))
    }

    async fn request_payment(
        &self,
        r: &LaterRequest,
    ) -> Result<(PaymentRef, PaymentSlip), GatewayError> {
        let (pay, store, method) = match &r.method {
            LaterMethod::Konbini { store } => {
                (PayType::Konbini, store.as_str(), GmoMethod::Konbini)
            }
            LaterMethod::PayEasy => (PayType::PayEasy, "", GmoMethod::PayEasy),
            LaterMethod::NetBank => return Err(unsupported("GMO-PG", "銀行ネット決済")),
        };
        let keys = self.entry_later(pay, &r.order_ref, r.amount.get()).await?;
        let who = super::LaterPayment {
            customer_name: r.customer_name.clone(),
            customer_kana: r.customer_kana.clone(),
            tel: r.tel.clone(),
            term_days: r.due_days,
        };
        let slip = self
            .exec_later(pay, &keys, &r.order_ref, store, &who)
            .await?;
        let due = super::parse_tran_date(&slip.payment_term)
            .ok_or_else(|| GatewayError::Protocol(format!("PaymentTerm {}", slip.payment_term)))?;
        let fields: Vec<(String, String)> = match pay {
            PayType::Konbini => vec![
                ("受付番号".into(), slip.receipt_no.clone()),
                ("確認番号".into(), slip.conf_no.clone()),
            ],
            _ => vec![
                ("収納機関番号".into(), slip.bk_code.clone()),
                ("お客様番号".into(), slip.cust_id.clone()),
                ("確認番号".into(), slip.conf_no.clone()),
            ],
        };
        let payment = PaymentRef::Gmo {
            order_id: r.order_ref.clone(),
            access_id: keys.access_id,
            access_pass: keys.access_pass,
            method,
        };
        Ok((
            payment,
            PaymentSlip {
                fields,
                url: None,
                due,
            },
        ))
    }

    async fn save_card(
        &self,
        customer_id: &str,
        card: &CardRef,
        default: bool,
    ) -> Result<StoredCard, GatewayError> {
        match self.search_member(customer_id).await {
            Ok(_) => {}
            Err(GatewayError::Refused { detail, .. }) if detail == "E01390002" => {
                self.save_member(customer_id, "").await?;
            }
            Err(e) => return Err(e),
        }
        // A stored card cannot be stored again: the client refuses a member's card.
        let source = CardSource::from(card);
        let c = GmoClient::save_card(self, customer_id, &source, None, default).await?;
        Ok(StoredCard {
            card_id: c.card_seq.to_string(),
            masked: c.card_no,
            expire: c.expire,
            default,
        })
    }

    async fn cards(&self, customer_id: &str) -> Result<Vec<StoredCard>, GatewayError> {
        match self.search_cards(customer_id).await {
            Ok(cards) => Ok(cards
                .into_iter()
                .map(|c| StoredCard {
                    card_id: c.card_seq.to_string(),
                    masked: c.card_no,
                    expire: c.expire,
                    default: c.default,
                })
                .collect()),
            Err(GatewayError::Refused { detail, .. }) if detail == "E01390002" => Ok(vec![]),
            Err(e) => Err(e),
        }
    }

    async fn delete_card(&self, customer_id: &str, card_id: &str) -> Result<(), GatewayError> {
        let seq = card_id.parse().map_err(|_| {
            GatewayError::Config(format!("GMO CardSeq must be a number: {card_id}"))
        })?;
        GmoClient::delete_card(self, customer_id, seq).await
    }

    async fn find(
        &self,
        order_ref: &str,
    ) -> Result<Option<(PaymentRef, GatewayStatus)>, GatewayError> {
        match self.search_trade(order_ref).await {
            Ok(t) => Ok(Some((
                PaymentRef::Gmo {
                    order_id: t.order_id,
                    access_id: t.access_id,
                    access_pass: t.access_pass,
                    method: GmoMethod::Card,
                },
                status(&t.status, yen(t.amount)?),
            ))),
            // E01110002: no transaction with this OrderID.
            Err(GatewayError::Refused { detail, .. }) if detail == "E01110002" => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn query(&self, p: &PaymentRef) -> Result<GatewayStatus, GatewayError> {
        let (order_id, _, method) = keys_of(p)?;
        match method {
            GmoMethod::Card => {
                let t = self.search_trade(order_id).await?;
                Ok(status(&t.status, yen(t.amount)?))
            }
            GmoMethod::Konbini | GmoMethod::PayEasy => {
                let pay = if method == GmoMethod::Konbini {
                    PayType::Konbini
                } else {
                    PayType::PayEasy
                };
                let t = self.search_trade_multi(order_id, pay).await?;
                Ok(status(&t.status, yen(t.amount)?))
            }
        }
    }
}

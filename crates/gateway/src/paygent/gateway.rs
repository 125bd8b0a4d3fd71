//! Paygent behind the common Gateway trait. Paygent addresses a payment by payment_id; 補正
//! (028/029) and re-authorization (020 with ref_trading_id) make a new payment_id, which the
//! trait hands back as the ref to keep.

use jiff::Timestamp;
use juchu_domain::money::Yen;

use super::{Answer, Card, Payer, PaygentClient, PaymentClass};
use crate::GatewayError;
use crate::api::{
    AuthorizeOutcome, AuthorizeRequest, CardRef, Gateway, GatewayKind, GatewayStatus, Installments,
    LaterMethod, LaterRequest, PaymentRef, PaymentSlip, PaymentState, StoredCard, unsupported,
};

/// The shop's reference as a Paygent trading_id: letters, digits and `_` only (spec §1.1:
/// no other symbol), so juchu's `{order}-{operation}` travels as `{order}_{operation}`.
pub fn trading_id_of(order_ref: &str) -> String {
    order_ref.replace('-', "_")
}

fn ids_of(p: &PaymentRef) -> Result<(&str, &str), GatewayError> {
    match p {
        PaymentRef::Paygent {
            payment_id,
            trading_id,
        } => Ok((payment_id, trading_id)),
        other => Err(GatewayError::Config(format!(
            "not a Paygent payment: {other:?}"
        ))),
    }
}

/// Paygent's status (docs/paygent-protocol.md §4) in common words, by payment_type.
pub fn state_of(payment_type: &str, status: &str) -> PaymentState {
    if payment_type == "02" {
        return match status {
            "20" | "22" => PaymentState::Authorized,
            // 30 売上要求中 is captured as far as the shop is concerned.
            "30" | "40" | "41" => PaymentState::Captured,
            "31" | "32" | "42" | "50" | "60" => PaymentState::Cancelled,
            "33" => PaymentState::Expired,
            "11" | "15" | "17" => PaymentState::Failed,
            _ => PaymentState::Pending,
        };
    }
    match status {
        // 43 速報検知済: the buyer paid at the store; 40 once Paygent has the money.
        "40" | "43" => PaymentState::Paid,
        "12" | "15" => PaymentState::Expired,
        // 61: the preliminary report was withdrawn — the payment did not happen.
        "61" => PaymentState::Failed,
        _ => PaymentState::Pending,
    }
}

fn status(payment_type: &str, code: &str, amount: Yen) -> GatewayStatus {
    GatewayStatus::new(state_of(payment_type, code), code, amount)
}

fn amount_of(a: &Answer, key: &str) -> Result<Yen, GatewayError> {
    let v = a
        .get(key)
        .parse()
        .map_err(|_| GatewayError::Protocol(format!("{key}={:?}", a.get(key))))?;
    crate::yen(v)
}

fn card_of(c: &CardRef) -> Result<Card, GatewayError> {
    Ok(match c {
        CardRef::Token(t) => Card::Token(t.clone()),
        CardRef::Stored {
            customer_id,
            card_seq,
        } => Card::Stored {
            customer_id: customer_id.clone(),
            customer_card_id: card_seq.to_string(),
        },
        CardRef::TestNumber {
            card_no,
            expire_yymm,
        } => {
            // The trait carries YYMM (GMO's order); Paygent wants MMYY.
            if expire_yymm.len() != 4 {
                return Err(GatewayError::Config(format!("expiry {expire_yymm:?}")));
            }
            Card::Raw {
                number: card_no.clone(),
                valid_term_mmyy: format!("{}{}", &expire_yymm[2..], &expire_yymm[..2]),
            }
        }
    })
}

fn class_of(i: Installments) -> PaymentClass {
    match i {
        Installments::Lump => PaymentClass::Lump,
        Installments::Split(n) => PaymentClass::Installments(n),
        Installments::BonusLump => PaymentClass::BonusLump,
        Installments::Revolving => PaymentClass::Revolving,
    }
}

/// `YYYYMMDD` (payable to the end of that Japan day) or `YYYYMMDDHHMMSS`, Japan time.
fn parse_due(s: &str) -> Option<Timestamp> {
    let tz = jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(9));
    let dt = match s.len() {
        8 => jiff::civil::DateTime::strptime("%Y%m%d%H%M%S", format!("{s}235959")).ok()?,
        14 => jiff::civil::DateTime::strptime("%Y%m%d%H%M%S", s).ok()?,
        _ => return None,
    };
    dt.to_zoned(tz).ok().map(|z| z.timestamp())
}

impl PaygentClient {
    /// 094 by the shop's trading_id: the one payment under it, if any.
    async fn by_trading_id(
        &self,
        trading_id: &str,
    ) -> Result<Option<(PaymentRef, GatewayStatus)>, GatewayError> {
        match self.telegram("094", "", trading_id, &[]).await {
            Ok(a) => {
                let st = status(
                    a.get("payment_type"),
                    a.get("payment_status"),
                    amount_of(&a, "payment_amount")?,
                );
                let payment = PaymentRef::Paygent {
                    payment_id: a.get("payment_id").to_owned(),
                    trading_id: trading_id.to_owned(),
                };
                Ok(Some((payment, st)))
            }
            // 13001: no payment with this trading_id.
            Err(GatewayError::Refused { code, .. }) if code == "13001" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// 094 in common words.
    async fn held(&self, payment_id: &str) -> Result<(String, GatewayStatus), GatewayError> {
        let a = self.query(payment_id).await?;
        let t = a.get("payment_type").to_owned();
        let st = status(
            &t,
            a.get("payment_status"),
            amount_of(&a, "payment_amount")?,
        );
        Ok((t, st))
    }
}

#[async_trait::async_trait]
impl Gateway for PaygentClient {
    fn merchant(&self) -> String {
        self.cfg.merchant_id.clone()
    }

    fn kind(&self) -> GatewayKind {
        GatewayKind::Paygent
    }

    async fn authorize(&self, r: &AuthorizeRequest) -> Result<AuthorizeOutcome, GatewayError> {
        if r.three_ds_return_url.is_some() {
            return Err(unsupported(
                "ペイジェント",
                "この接続方法での3Dセキュア（EMV 3Dセキュアの認証電文を使います）",
            ));
        }
        let card = card_of(&r.card)?;
        let trading_id = trading_id_of(&r.order_ref);
        let a = match &r.three_ds_auth_id {
            Some(id) => {
                self.authorize_3ds(
                    &trading_id,
                    r.amount.get(),
                    class_of(r.installments),
                    &card,
                    r.capture,
                    id,
                )
                .await?
            }
            None => {
                PaygentClient::authorize(
                    self,
                    &trading_id,
                    r.amount.get(),
                    class_of(r.installments),
                    &card,
                    r.capture,
                )
                .await?
            }
        };
        Ok(AuthorizeOutcome::Done {
            payment: PaymentRef::Paygent {
                payment_id: a.get("payment_id").to_owned(),
                trading_id,
            },
            status: status("02", if r.capture { "40" } else { "20" }, r.amount),
        })
    }

    async fn complete_3ds(&self, p: &PaymentRef) -> Result<GatewayStatus, GatewayError> {
        // Paygent authorizes with the 3-D Secure result itself: what is left is to look.
        Gateway::query(self, p).await
    }

    async fn capture(&self, p: &PaymentRef, amount: Yen) -> Result<GatewayStatus, GatewayError> {
        let (id, _) = ids_of(p)?;
        // 022 captures the authorized amount; another amount is a 補正 first.
        PaygentClient::capture(self, id).await?;
        Ok(status("02", "40", amount))
    }

    async fn cancel(&self, p: &PaymentRef, _now: Timestamp) -> Result<GatewayStatus, GatewayError> {
        let (id, _) = ids_of(p)?;
        // 021 cancels an authorization, 023 a capture: ask which it is first. A payment
        // without an id yet is a net-bank request the buyer has not started.
        let no = || unsupported("ペイジェント", "コンビニ・ATM・銀行決済の取消");
        if id.is_empty() {
            return Err(no());
        }
        let (t, st) = self.held(id).await?;
        if t != "02" {
            return Err(no());
        }
        match st.gateway_status.as_str() {
            "20" => {
                self.cancel_auth(id).await?;
                Ok(status("02", "32", st.amount))
            }
            "40" => {
                self.cancel_capture(id).await?;
                Ok(status("02", "60", st.amount))
            }
            // Already cancelled or lapsed: nothing left to cancel; say where it stands.
            "32" | "60" | "33" => Ok(st),
            _ => {
                // Let Paygent say why (2004 / 2007) in its own words.
                self.cancel_auth(id).await?;
                Gateway::query(self, p).await
            }
        }
    }

    async fn change_amount(
        &self,
        p: &PaymentRef,
        amount: Yen,
        capture: bool,
    ) -> Result<(PaymentRef, GatewayStatus), GatewayError> {
        let (id, trading_id) = ids_of(p)?;
        let (_, st) = self.held(id).await?;
        if amount > st.amount {
            return Err(unsupported(
                "ペイジェント",
                "補正による増額（新しいオーソリを取り、元の決済を取り消します）",
            ));
        }
        let captured = st.state == PaymentState::Captured;
        if capture && !captured {
            return Err(unsupported(
                "ペイジェント",
                "売上前の決済の補正売上（売上確定してから補正します）",
            ));
        }
        let a = self.amend(id, amount.get(), captured).await?;
        let new = PaymentRef::Paygent {
            payment_id: a.get("payment_id").to_owned(),
            trading_id: trading_id.to_owned(),
        };
        Ok((
            new,
            status("02", if captured { "40" } else { "20" }, amount),
        ))
    }

    async fn reauthorize(
        &self,
        p: &PaymentRef,
        amount: Yen,
        capture: bool,
        order_ref: &str,
    ) -> Result<(PaymentRef, GatewayStatus), GatewayError> {
        // The card of the earlier payment (ref_trading_id), under a trading_id of its own:
        // sharing the old one would make the new payment unfindable (094 → 13002).
        let (_, earlier) = ids_of(p)?;
        let trading_id = trading_id_of(order_ref);
        let a = PaygentClient::authorize(
            self,
            &trading_id,
            amount.get(),
            PaymentClass::Lump,
            &Card::RefTradingId(earlier.to_owned()),
            capture,
        )
        .await?;
        Ok((
            PaymentRef::Paygent {
                payment_id: a.get("payment_id").to_owned(),
                trading_id,
            },
            status("02", if capture { "40" } else { "20" }, amount),
        ))
    }

    async fn refund(
        &self,
        p: &PaymentRef,
        amount: Option<Yen>,
    ) -> Result<GatewayStatus, GatewayError> {
        let (id, _) = ids_of(p)?;
        let (_, st) = self.held(id).await?;
        match amount {
            None => {
                self.cancel_capture(id).await?;
                let mut s = status("02", "60", st.amount);
                s.refunded = st.amount;
                Ok(s)
            }
            Some(r) if r <= Yen::ZERO || r > st.amount => Err(GatewayError::Config(format!(
                "返金額は1円以上、売上額（{}）以下にしてください",
                st.amount
            ))),
            Some(r) if r == st.amount => self.refund(p, None).await,
            // A partial refund is a 補正売上 to what remains, which makes a new payment_id:
            // change_amount does it and hands back the new ref to keep.
            Some(_) => Err(unsupported(
                "ペイジェント",
                "一部返金（売上変更（補正売上）で減額します）",
            )),
        }
    }

    async fn find(
        &self,
        order_ref: &str,
    ) -> Result<Option<(PaymentRef, GatewayStatus)>, GatewayError> {
        self.by_trading_id(&trading_id_of(order_ref)).await
    }

    async fn query(&self, p: &PaymentRef) -> Result<GatewayStatus, GatewayError> {
        let (id, trading_id) = ids_of(p)?;
        if id.is_empty() {
            // A net-bank request has no payment_id until the buyer reaches the bank: ask by
            // the shop's trading_id.
            return match self.by_trading_id(trading_id).await? {
                Some((_, st)) => Ok(st),
                None => Err(crate::paygent::refusal("13001".into(), "not found".into())),
            };
        }
        Ok(self.held(id).await?.1)
    }

    async fn request_payment(
        &self,
        r: &LaterRequest,
    ) -> Result<(PaymentRef, PaymentSlip), GatewayError> {
        let trading_id = trading_id_of(&r.order_ref);
        let (family, given) = r
            .customer_name
            .split_once([' ', '　'])
            .unwrap_or((r.customer_name.as_str(), ""));
        let (a, fields, url, due_key): (Answer, Vec<(&str, &str)>, Option<&str>, &str) =
            match &r.method {
                LaterMethod::Konbini { store } => {
                    let payer = Payer {
                        family_name: family.to_owned(),
                        name: if given.is_empty() { family } else { given }.to_owned(),
                        tel: r.tel.replace('-', ""),
                    };
                    let a = self
                        .request_konbini(&trading_id, r.amount.get(), store, &payer, r.due_days)
                        .await?;
                    (
                        a,
                        vec![("受付番号", "receipt_number")],
                        Some("receipt_print_url"),
                        "payment_limit_date",
                    )
                }
                LaterMethod::PayEasy => {
                    let a = self
                        .request_atm(
                            &trading_id,
                            r.amount.get(),
                            "ご注文代金",
                            "ｺﾞﾁｭｳﾓﾝﾀﾞｲｷﾝ",
                            r.due_days,
                        )
                        .await?;
                    (
                        a,
                        vec![
                            ("収納機関番号", "pay_center_number"),
                            ("お客様番号", "customer_number"),
                            ("確認番号", "conf_number"),
                        ],
                        None,
                        "payment_limit_date",
                    )
                }
                LaterMethod::NetBank => {
                    let a = self
                        .request_bank(
                            &trading_id,
                            r.amount.get(),
                            "ご注文代金",
                            "ｺﾞﾁｭｳﾓﾝﾀﾞｲｷﾝ",
                            r.due_days,
                            "",
                        )
                        .await?;
                    (a, vec![], Some("asp_url"), "asp_limit_date")
                }
            };
        let due = parse_due(a.get(due_key))
            .ok_or_else(|| GatewayError::Protocol(format!("{due_key}={:?}", a.get(due_key))))?;
        let slip = PaymentSlip {
            fields: fields
                .into_iter()
                .map(|(label, k)| (label.to_owned(), a.get(k).to_owned()))
                .collect(),
            url: url.map(|k| a.get(k).to_owned()).filter(|u| !u.is_empty()),
            due,
        };
        // A net-bank payment has no payment_id until the buyer picks a bank; the trading_id
        // finds it (091 / 094 by trading_id).
        Ok((
            PaymentRef::Paygent {
                payment_id: a.get("payment_id").to_owned(),
                trading_id,
            },
            slip,
        ))
    }

    async fn save_card(
        &self,
        customer_id: &str,
        card: &CardRef,
        _default: bool,
    ) -> Result<StoredCard, GatewayError> {
        // Paygent has no default card: 027 lists the last used first.
        let a = self.register_card(customer_id, &card_of(card)?).await?;
        Ok(StoredCard {
            card_id: a.get("customer_card_id").to_owned(),
            masked: a.get("masked_card_number").to_owned(),
            expire: a.get("card_valid_term").to_owned(),
            default: false,
        })
    }

    async fn cards(&self, customer_id: &str) -> Result<Vec<StoredCard>, GatewayError> {
        let rows = PaygentClient::cards(self, customer_id).await?;
        Ok(rows
            .into_iter()
            .enumerate()
            .map(|(i, c)| StoredCard {
                card_id: c.customer_card_id,
                masked: c.masked,
                expire: c.valid_term,
                // The most recently used card is the one to offer first.
                default: i == 0,
            })
            .collect())
    }

    async fn delete_card(&self, customer_id: &str, card_id: &str) -> Result<(), GatewayError> {
        PaygentClient::delete_card(self, customer_id, Some(card_id)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_in_common_words() {
        assert_eq!(state_of("02", "20"), PaymentState::Authorized);
        assert_eq!(state_of("02", "41"), PaymentState::Captured);
        assert_eq!(state_of("02", "60"), PaymentState::Cancelled);
        assert_eq!(state_of("02", "33"), PaymentState::Expired);
        assert_eq!(state_of("03", "43"), PaymentState::Paid);
        assert_eq!(state_of("05", "15"), PaymentState::Expired);
        assert_eq!(state_of("01", "10"), PaymentState::Pending);
    }

    #[test]
    fn due_dates_in_japan_time() {
        let t = parse_due("20240918").unwrap();
        assert_eq!(t.to_string(), "2024-09-18T14:59:59Z");
    }
}

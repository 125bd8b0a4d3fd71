//! How a buyer pays. The gateway is part of the method because the operations an operator
//! can run (and the transaction id shown) depend on it.

use crate::Invalid;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// クレジットカード決済 (ペイジェント)
    PaygentCard,
    /// クレジットカード決済 (GMO-PG)
    GmoCard,
    /// Paidy 翌月払い
    Paidy,
    /// コンビニ決済 (ペイジェント)
    PaygentKonbini,
    /// コンビニ決済 (GMO-PG)
    GmoKonbini,
    /// ATM決済 (ペイジェント, Pay-easy)
    PaygentAtm,
    /// Pay-easy決済 (GMO-PG)
    GmoPayeasy,
    /// 銀行ネット決済 (ペイジェント)
    PaygentNetbank,
    /// 銀行振込
    BankTransfer,
    /// 郵便振替
    PostalTransfer,
    /// 代金引換
    CashOnDelivery,
}

/// The company behind an online payment method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Gateway {
    Paygent,
    Gmo,
    Paidy,
}

codes!(Gateway { Paygent => "paygent", Gmo => "gmo", Paidy => "paidy" });

impl Gateway {
    /// The company's name as the screens and mails say it.
    pub fn name(self) -> &'static str {
        match self {
            Gateway::Paygent => "ペイジェント",
            Gateway::Gmo => "GMOペイメントゲートウェイ",
            Gateway::Paidy => "Paidy",
        }
    }
}

impl PaymentMethod {
    pub const ALL: [PaymentMethod; 11] = [
        PaymentMethod::PaygentCard,
        PaymentMethod::GmoCard,
        PaymentMethod::Paidy,
        PaymentMethod::PaygentKonbini,
        PaymentMethod::GmoKonbini,
        PaymentMethod::PaygentAtm,
        PaymentMethod::GmoPayeasy,
        PaymentMethod::PaygentNetbank,
        PaymentMethod::BankTransfer,
        PaymentMethod::PostalTransfer,
        PaymentMethod::CashOnDelivery,
    ];

    pub fn code(self) -> &'static str {
        match self {
            PaymentMethod::PaygentCard => "paygent_card",
            PaymentMethod::GmoCard => "gmo_card",
            PaymentMethod::Paidy => "paidy",
            PaymentMethod::PaygentKonbini => "paygent_konbini",
            PaymentMethod::GmoKonbini => "gmo_konbini",
            PaymentMethod::PaygentAtm => "paygent_atm",
            PaymentMethod::GmoPayeasy => "gmo_payeasy",
            PaymentMethod::PaygentNetbank => "paygent_netbank",
            PaymentMethod::BankTransfer => "bank_transfer",
            PaymentMethod::PostalTransfer => "postal_transfer",
            PaymentMethod::CashOnDelivery => "cash_on_delivery",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PaymentMethod::PaygentCard => "クレジットカード決済（ペイジェント）",
            PaymentMethod::GmoCard => "クレジットカード決済（GMO）",
            PaymentMethod::Paidy => "あと払い（ペイディ）",
            PaymentMethod::PaygentKonbini => "コンビニ決済（ペイジェント）",
            PaymentMethod::GmoKonbini => "コンビニ決済（GMO）",
            PaymentMethod::PaygentAtm => "ATM決済（ペイジェント）",
            PaymentMethod::GmoPayeasy => "Pay-easy決済（GMO）",
            PaymentMethod::PaygentNetbank => "銀行ネット決済（ペイジェント）",
            PaymentMethod::BankTransfer => "銀行振込",
            PaymentMethod::PostalTransfer => "郵便振替",
            PaymentMethod::CashOnDelivery => "代金引換",
        }
    }

    pub fn gateway(self) -> Option<Gateway> {
        match self {
            PaymentMethod::PaygentCard
            | PaymentMethod::PaygentKonbini
            | PaymentMethod::PaygentAtm
            | PaymentMethod::PaygentNetbank => Some(Gateway::Paygent),
            PaymentMethod::GmoCard | PaymentMethod::GmoKonbini | PaymentMethod::GmoPayeasy => {
                Some(Gateway::Gmo)
            }
            PaymentMethod::Paidy => Some(Gateway::Paidy),
            PaymentMethod::BankTransfer
            | PaymentMethod::PostalTransfer
            | PaymentMethod::CashOnDelivery => None,
        }
    }

    pub fn is_card(self) -> bool {
        matches!(self, PaymentMethod::PaygentCard | PaymentMethod::GmoCard)
    }

    /// The gateway can withdraw an unpaid payment request: GMO's CvsCancel for a konbini slip.
    /// Paygent has no telegram for it, nor GMO for Pay-easy; those lapse at their due date.
    pub fn cancels_unpaid(self) -> bool {
        self == PaymentMethod::GmoKonbini
    }

    /// Paid later by the buyer at a store, ATM or bank: the order waits as 入金待ち.
    pub fn settles_later(self) -> bool {
        matches!(
            self,
            PaymentMethod::PaygentKonbini
                | PaymentMethod::GmoKonbini
                | PaymentMethod::PaygentAtm
                | PaymentMethod::GmoPayeasy
                | PaymentMethod::PaygentNetbank
        )
    }

    pub fn from_code(s: &str) -> Option<PaymentMethod> {
        PaymentMethod::ALL.into_iter().find(|x| x.code() == s)
    }

    pub fn parse(field: &str, s: &str) -> Result<PaymentMethod, Invalid> {
        PaymentMethod::from_code(s).ok_or_else(|| {
            Invalid::one(
                field,
                "unknown_payment_method",
                format!(
                    "支払方法「{s}」はありません（{}）",
                    PaymentMethod::ALL.map(|x| x.code()).join(", ")
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_roundtrip_and_gateways() {
        for m in PaymentMethod::ALL {
            assert_eq!(PaymentMethod::from_code(m.code()), Some(m));
            assert!(!(m.settles_later() && m.is_card()));
        }
        assert_eq!(PaymentMethod::GmoPayeasy.gateway(), Some(Gateway::Gmo));
        assert_eq!(PaymentMethod::CashOnDelivery.gateway(), None);
    }
}

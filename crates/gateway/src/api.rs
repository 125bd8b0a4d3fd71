//! The Gateway trait: what juchu asks of any payment gateway, in common words. Each
//! connector implements what its gateway supports and answers `Unsupported` for the rest.
//! Gateway-specific operations stay available on the clients (`GmoClient`, `PaidyClient`).

use jiff::Timestamp;
use juchu_domain::money::Yen;

use crate::GatewayError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayKind {
    Paygent,
    Gmo,
    Paidy,
}

/// GMO's pay types behind one OrderID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GmoMethod {
    Card,
    Konbini,
    PayEasy,
}

/// A payment as the gateway names it: what juchu stores to find it again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "gateway", rename_all = "snake_case")]
pub enum PaymentRef {
    Gmo {
        order_id: String,
        access_id: String,
        access_pass: String,
        method: GmoMethod,
    },
    Paygent {
        payment_id: String,
        trading_id: String,
    },
    Paidy {
        payment_id: String,
    },
}

impl PaymentRef {
    pub fn kind(&self) -> GatewayKind {
        match self {
            PaymentRef::Gmo { .. } => GatewayKind::Gmo,
            PaymentRef::Paygent { .. } => GatewayKind::Paygent,
            PaymentRef::Paidy { .. } => GatewayKind::Paidy,
        }
    }

    /// The id an operator looks up on the gateway's screen (外部決済注文番号 / 取引ID).
    pub fn display_id(&self) -> &str {
        match self {
            PaymentRef::Gmo { order_id, .. } => order_id,
            PaymentRef::Paygent { payment_id, .. } => payment_id,
            PaymentRef::Paidy { payment_id } => payment_id,
        }
    }
}

/// Where a payment stands in common words: the domain's, so its rules read the connectors'
/// answers directly.
pub use juchu_domain::payment::PaymentState;

/// What the gateway holds for a payment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GatewayStatus {
    pub state: PaymentState,
    /// In the gateway's own words: `AUTH`, `20`, `authorized` …
    pub gateway_status: String,
    /// The amount the gateway holds (authorized, or captured).
    pub amount: Yen,
    pub captured: Yen,
    pub refunded: Yen,
    /// Until when an authorization can be captured, when the gateway says (Paidy); juchu
    /// counts the others' limits itself.
    pub expires_at: Option<Timestamp>,
    /// The shop's reference the gateway keeps with the payment, when its answer carries one
    /// (Paidy's `order.order_ref`): whose payment it says this is.
    pub reference: Option<String>,
}

impl GatewayStatus {
    /// A status as the gateway names it: the amount counts as captured once captured or paid;
    /// nothing refunded.
    pub fn new(state: PaymentState, gateway_status: &str, amount: Yen) -> GatewayStatus {
        GatewayStatus {
            state,
            gateway_status: gateway_status.to_owned(),
            amount,
            captured: if matches!(state, PaymentState::Captured | PaymentState::Paid) {
                amount
            } else {
                Yen::ZERO
            },
            refunded: Yen::ZERO,
            expires_at: None,
            reference: None,
        }
    }
}

/// Where the card comes from.
#[derive(Debug, Clone)]
pub enum CardRef {
    /// A one-time token from the gateway's script (the storefront's card form).
    Token(String),
    /// A card kept at the gateway for a member.
    Stored { customer_id: String, card_seq: u32 },
    /// A raw number: test shops and sandboxes only.
    TestNumber {
        card_no: crate::Secret,
        expire_yymm: String,
    },
}

/// 支払回数.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installments {
    Lump,
    Split(u8),
    BonusLump,
    Revolving,
}

#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    /// The shop's reference for the gateway (GMO OrderID, Paygent trading_id, Paidy order_ref).
    pub order_ref: String,
    pub amount: Yen,
    pub tax: Yen,
    /// Authorize and capture at once (同時売上).
    pub capture: bool,
    pub card: CardRef,
    pub installments: Installments,
    /// 3-D Secure: where the buyer returns after authenticating (gateways that redirect
    /// from the authorization itself: GMO).
    pub three_ds_return_url: Option<String>,
    /// 3-D Secure done beforehand: the authentication's id (Paygent EMV 3-D Secure, 450).
    pub three_ds_auth_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    Done {
        payment: PaymentRef,
        status: GatewayStatus,
    },
    /// Send the buyer to `redirect_url`; finish with `complete_3ds` when they return.
    ThreeDs {
        payment: PaymentRef,
        redirect_url: String,
    },
}

/// A card kept at the gateway for a customer (カードお預かり): juchu keeps only these ids
/// and the masked number.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredCard {
    /// GMO CardSeq, Paygent customer_card_id.
    pub card_id: String,
    pub masked: String,
    pub expire: String,
    pub default: bool,
}

/// Paid later by the buyer: konbini (with the store), Pay-easy / ATM, net bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaterMethod {
    /// GMO Convenience code / Paygent cvs company id.
    Konbini {
        store: String,
    },
    PayEasy,
    NetBank,
}

#[derive(Debug, Clone)]
pub struct LaterRequest {
    pub order_ref: String,
    pub amount: Yen,
    pub method: LaterMethod,
    pub customer_name: String,
    /// Full-width katakana.
    pub customer_kana: String,
    pub tel: String,
    pub due_days: u8,
}

/// The order's contents, for gateways that keep them with the payment (Paidy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderContents {
    /// Product lines, and fees / discounts / points as lines of their own (negative for
    /// what lowers the amount), so the lines and `shipping` add up to the amount.
    pub lines: Vec<OrderLine>,
    pub shipping: Yen,
    pub tax: Yen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub code: String,
    pub title: String,
    pub unit_price: Yen,
    pub quantity: i64,
}

/// What the buyer needs to pay: labelled numbers (受付番号, 確認番号 …), maybe a URL, and
/// the deadline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaymentSlip {
    pub fields: Vec<(String, String)>,
    pub url: Option<String>,
    pub due: Timestamp,
}

/// The operations juchu runs on a payment. `now` is juchu's clock: gateways whose rules
/// depend on Japan dates (GMO's cancel kinds) decide with it.
#[async_trait::async_trait]
pub trait Gateway: Send + Sync {
    fn kind(&self) -> GatewayKind;
    /// The merchant account this connector acts for (GMO ShopID, Paygent merchant_id); empty
    /// where the gateway names none (Paidy: the key is the account). A payment remembers it:
    /// after the shop's merchant changes, its older payments belong to the old account.
    fn merchant(&self) -> String {
        String::new()
    }
    async fn authorize(&self, r: &AuthorizeRequest) -> Result<AuthorizeOutcome, GatewayError>;
    async fn complete_3ds(&self, p: &PaymentRef) -> Result<GatewayStatus, GatewayError>;
    /// 売上確定 for `amount` (the authorized amount).
    async fn capture(&self, p: &PaymentRef, amount: Yen) -> Result<GatewayStatus, GatewayError>;
    /// Cancel whatever stands (the connector picks the gateway's cancel kind).
    async fn cancel(&self, p: &PaymentRef, now: Timestamp) -> Result<GatewayStatus, GatewayError>;
    /// A new amount; `capture` chooses 即時売上 over 仮売上 where the gateway offers both.
    /// Gateways that issue a new payment id for it (Paygent's 補正) return the new ref.
    async fn change_amount(
        &self,
        p: &PaymentRef,
        amount: Yen,
        capture: bool,
    ) -> Result<(PaymentRef, GatewayStatus), GatewayError>;
    /// 更新: a new amount together with the order's contents. Gateways that keep no contents
    /// change the amount only.
    async fn update_order(
        &self,
        p: &PaymentRef,
        amount: Yen,
        _contents: &OrderContents,
    ) -> Result<(PaymentRef, GatewayStatus), GatewayError> {
        self.change_amount(p, amount, false).await
    }

    /// Authorize again with the card of `p` (after a cancel, or for an amount above the
    /// original). GMO re-authorizes the same transaction; Paygent makes a new payment (020
    /// with ref_trading_id) under the shop's new reference `order_ref` — so an answer lost
    /// on the way is found again by it (`find`) — and leaves `p` as it is: the returned ref
    /// is the one to keep.
    async fn reauthorize(
        &self,
        p: &PaymentRef,
        amount: Yen,
        capture: bool,
        order_ref: &str,
    ) -> Result<(PaymentRef, GatewayStatus), GatewayError>;
    /// Refund part (`Some`) or all (`None`) of a captured payment.
    async fn refund(
        &self,
        p: &PaymentRef,
        amount: Option<Yen>,
    ) -> Result<GatewayStatus, GatewayError>;
    /// What the gateway holds: how unknown outcomes are resolved.
    async fn query(&self, p: &PaymentRef) -> Result<GatewayStatus, GatewayError>;

    /// The card payment made under the shop's reference `order_ref`, if the gateway has one:
    /// how an authorization whose answer was lost is found again (GMO SearchTrade by
    /// OrderID, Paygent 094 by trading_id).
    async fn find(
        &self,
        _order_ref: &str,
    ) -> Result<Option<(PaymentRef, GatewayStatus)>, GatewayError> {
        Err(unsupported(
            &format!("{:?}", self.kind()),
            "取引番号での照会",
        ))
    }

    /// Issue a konbini / Pay-easy / net-bank payment request.
    async fn request_payment(
        &self,
        _r: &LaterRequest,
    ) -> Result<(PaymentRef, PaymentSlip), GatewayError> {
        Err(unsupported(
            &format!("{:?}", self.kind()),
            "コンビニ・銀行決済",
        ))
    }

    /// Keep a card for a customer (registering the customer at the gateway if needed).
    async fn save_card(
        &self,
        _customer_id: &str,
        _card: &CardRef,
        _default: bool,
    ) -> Result<StoredCard, GatewayError> {
        Err(unsupported(&format!("{:?}", self.kind()), "カードお預かり"))
    }

    async fn cards(&self, _customer_id: &str) -> Result<Vec<StoredCard>, GatewayError> {
        Err(unsupported(&format!("{:?}", self.kind()), "カードお預かり"))
    }

    async fn delete_card(&self, _customer_id: &str, _card_id: &str) -> Result<(), GatewayError> {
        Err(unsupported(&format!("{:?}", self.kind()), "カードお預かり"))
    }
}

pub(crate) fn unsupported(gw: &str, op: &str) -> GatewayError {
    GatewayError::Unsupported(format!("{gw}では「{op}」はできません"))
}

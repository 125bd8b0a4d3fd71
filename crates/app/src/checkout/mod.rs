//! The storefront's checkout: cart → お客様情報 → 配送・支払方法 → 確認 → お支払い → 完了.
//!
//! Moving from confirmation to payment creates the order as 決済処理中 (stock taken, points
//! spent). The payment's authorization and the order's completion (新規受付 / 入金待ち, the
//! thanks mail) commit in one transaction (`payments::settle` calls [`complete`]); every
//! authorization runs under a key derived from the checkout and its payment form, so a double
//! submit, a reload or a back-button storm gets the first outcome instead of a second
//! authorization. A 決済処理中 order the buyer leaves is removed by [`sweep`] — only after
//! the gateway has been asked whether anything was authorized.

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};
use juchu_domain::customer::PersonInput;
use juchu_domain::history::{HistoryEntry, Outcome};
use juchu_domain::order::{ItemInput, Order, OrderInput};
use juchu_domain::payment::OpStatus;
use juchu_domain::payment::{CaptureMode, OpAction};
use juchu_domain::payment_method::PaymentMethod;
use juchu_domain::status::OrderStatus;
use juchu_domain::{FieldError, Invalid};
use juchu_gateway::PaymentSlip;
pub use juchu_store::checkouts::CheckoutState;
use juchu_store::checkouts::{self, Checkout};
use juchu_store::payments as pay;
use juchu_store::{Tx, catalog, customers, orders, shops};

use crate::methods::{self, DeliveryMethod, MethodSettings};
use crate::payments::{self, Authorization, AuthorizeInput, OperationResult};
use crate::{Actor, App, AppError};

mod paying;
mod pending;
mod steps;
mod view;

pub use paying::*;
pub use pending::*;
pub use steps::*;
pub use view::*;

/// Who acts in the order's history for what the buyer does.
const BUYER: &str = "お客様（購入手続き）";

/// The buyer, by the cookie's token (or, for a gateway's return that brings no cookie, by
/// the checkout the return names).
#[derive(Debug, Clone)]
pub struct Buyer {
    pub shop_id: i64,
    pub token: String,
    checkout_id: Option<i64>,
}

impl Buyer {
    pub fn new(shop_id: i64, token: impl Into<String>) -> Buyer {
        Buyer {
            shop_id,
            token: token.into(),
            checkout_id: None,
        }
    }

    fn of_checkout(shop_id: i64, id: i64) -> Buyer {
        Buyer {
            shop_id,
            token: String::new(),
            checkout_id: Some(id),
        }
    }
}

/// The shop as the storefront shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Front {
    pub shop_id: i64,
    pub code: String,
    pub name: String,
}

pub async fn front(app: &App, shop_code: &str) -> Result<Front, AppError> {
    let s = shops::by_code(&mut *app.store.read().await?, shop_code)
        .await?
        .ok_or(AppError::NotFound("ショップ"))?;
    Ok(Front {
        shop_id: s.id,
        code: s.code,
        name: s.name,
    })
}

fn actor(shop_id: i64) -> Actor {
    Actor {
        shop_id,
        user_id: None,
        name: BUYER.to_owned(),
        is_admin: false,
    }
}

/// The token to keep in the buyer's cookie: `token` when it names a checkout of the shop
/// that is still going, else a new one.
pub async fn begin(app: &App, shop_id: i64, token: Option<&str>) -> Result<String, AppError> {
    if let Some(t) = token {
        let c = checkouts::by_token(
            &mut *app.store.read().await?,
            shop_id,
            &crate::tokens::token_hash(t),
        )
        .await?;
        if c.is_some_and(|c| c.state != CheckoutState::Completed) {
            return Ok(t.to_owned());
        }
    }
    let t = crate::tokens::random_token()?;
    let mut tx = app.store.begin().await?;
    checkouts::insert(
        &mut tx,
        shop_id,
        &crate::tokens::token_hash(&t),
        &crate::tokens::random_token()?,
        app.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}

/// The value every storefront form carries (a double-submit check against cross-site posts).
pub fn form_token(token: &str) -> String {
    crate::tokens::token_hash(&format!("form:{token}"))[..32].to_owned()
}

pub async fn products(
    app: &App,
    shop_id: i64,
) -> Result<Vec<juchu_domain::catalog::Product>, AppError> {
    Ok(
        catalog::list(&mut *app.store.read().await?, shop_id, "", 200, 0)
            .await?
            .1,
    )
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Line {
    code: String,
    quantity: i64,
}

/// お客様情報 (a guest's, or a member's as stored).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BuyerInput {
    #[serde(default)]
    pub family_name: String,
    #[serde(default)]
    pub given_name: String,
    #[serde(default)]
    pub family_kana: String,
    #[serde(default)]
    pub given_kana: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub tel: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub prefecture: String,
    #[serde(default)]
    pub address1: String,
    #[serde(default)]
    pub address2: String,
}

/// The buyer's choices, kept with the checkout.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Details {
    buyer: Option<BuyerInput>,
    delivery_id: Option<i64>,
    payment_method: Option<PaymentMethod>,
    konbini_store: Option<String>,
    points: i64,
    remarks: String,
    /// What the buyer must read on the next page (a declined card …).
    message: Option<String>,
}

/// A 3-D Secure authentication the buyer was sent to.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "gateway", rename_all = "snake_case")]
enum ThreeDs {
    /// Paygent EMV 3-D Secure (450): authorize with `auth_id` once the buyer is back.
    Paygent {
        attempt: String,
        auth_id: String,
        token: String,
        masked: String,
        installments: String,
        acs_html: String,
    },
    /// GMO: the authorization `op_id` waits for the buyer.
    Gmo { attempt: String, op_id: i64 },
}

struct Loaded {
    c: Checkout,
    cart: Vec<Line>,
    details: Details,
}

fn parse(c: Checkout) -> Result<Loaded, AppError> {
    let cart = serde_json::from_str(&c.cart).context("checkout cart")?;
    let details = serde_json::from_str(&c.details).context("checkout details")?;
    Ok(Loaded { c, cart, details })
}

fn gone() -> AppError {
    AppError::conflict(
        "checkout_expired",
        "お手続きの有効期限が切れました。もう一度商品をお選びください",
    )
}

async fn load(app: &App, b: &Buyer) -> Result<Loaded, AppError> {
    let mut conn = app.store.read().await?;
    let c = match b.checkout_id {
        Some(id) => checkouts::by_id(&mut conn, b.shop_id, id).await?,
        None => {
            checkouts::by_token(&mut conn, b.shop_id, &crate::tokens::token_hash(&b.token)).await?
        }
    };
    parse(c.ok_or_else(gone)?)
}

async fn lock(tx: &mut Tx, b: &Buyer) -> Result<Loaded, AppError> {
    let c = match b.checkout_id {
        Some(id) => checkouts::by_id_for_update(tx, b.shop_id, id).await?,
        None => {
            checkouts::by_token_for_update(tx, b.shop_id, &crate::tokens::token_hash(&b.token))
                .await?
        }
    };
    parse(c.ok_or_else(gone)?)
}

async fn save(tx: &mut Tx, l: &Loaded, now: Timestamp) -> Result<(), AppError> {
    let w = checkouts::Write {
        state: l.c.state,
        cart: &to_json(&l.cart)?,
        details: &to_json(&l.details)?,
        customer_id: l.c.customer_id,
        order_id: l.c.order_id,
        three_ds: &l.c.three_ds,
        attempt: &l.c.attempt,
    };
    if !checkouts::update(tx, l.c.id, l.c.version, &w, now).await? {
        return Err(AppError::conflict(
            "checkout_busy",
            "別の画面でお手続きが進んでいます。ページを再読み込みしてください",
        ));
    }
    Ok(())
}

fn to_json(v: &impl serde::Serialize) -> Result<String, AppError> {
    Ok(serde_json::to_string(v).context("checkout")?)
}

/// Change the cart or the buyer's choices. A buyer who goes back inside the shop while a
/// 決済処理中 order exists leaves the payment: that order is removed first.
async fn change(
    app: &App,
    b: &Buyer,
    f: impl FnOnce(&mut Loaded) -> Result<(), AppError>,
) -> Result<(), AppError> {
    back(app, b).await?;
    let mut tx = app.store.begin().await?;
    let mut l = lock(&mut tx, b).await?;
    if l.c.state != CheckoutState::Shopping {
        return Err(gone());
    }
    f(&mut l)?;
    save(&mut tx, &l, app.now()).await?;
    tx.commit().await?;
    Ok(())
}

fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> AppError {
    AppError::Invalid(Invalid::one(field, code, message))
}

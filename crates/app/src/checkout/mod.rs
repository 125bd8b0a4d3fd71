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
use juchu_domain::payment::{CaptureMode, OpAction};
use juchu_domain::payment_method::PaymentMethod;
use juchu_domain::status::OrderStatus;
use juchu_domain::{FieldError, Invalid};
use juchu_gateway::PaymentSlip;
pub use juchu_store::checkouts::CheckoutState;
use juchu_store::checkouts::{self, Checkout};
use juchu_store::payments::{self as pay, OpStatus};
use juchu_store::{Tx, catalog, customers, orders, shops};

use crate::methods::{self, DeliveryMethod, MethodSettings};
use crate::payments::{self, Authorization, AuthorizeInput, OperationResult};
use crate::{Actor, App, AppError};

mod paying;
mod pending;

pub use paying::*;
pub use pending::*;

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

pub async fn products(app: &App, shop_id: i64) -> Result<Vec<catalog::Product>, AppError> {
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

/// カートに入れる.
pub async fn add(app: &App, b: &Buyer, code: &str, quantity: i64) -> Result<(), AppError> {
    let v = catalog::variant_by_code(&mut *app.store.read().await?, b.shop_id, code.trim())
        .await?
        .ok_or_else(|| invalid("code", "unknown_product", "この商品はありません"))?;
    change(app, b, |l| {
        let have = l
            .cart
            .iter()
            .find(|x| x.code == v.draft.code)
            .map_or(0, |x| x.quantity);
        let want = have + quantity;
        check_quantity(want, v.draft.stock)?;
        match l.cart.iter_mut().find(|x| x.code == v.draft.code) {
            Some(x) => x.quantity = want,
            None => l.cart.push(Line {
                code: v.draft.code.clone(),
                quantity: want,
            }),
        }
        Ok(())
    })
    .await
}

fn check_quantity(q: i64, stock: Option<i64>) -> Result<(), AppError> {
    if !(1..=999).contains(&q) {
        return Err(invalid(
            "quantity",
            "out_of_range",
            "数量は1〜999で指定してください",
        ));
    }
    if let Some(s) = stock
        && q > s
    {
        return Err(invalid(
            "quantity",
            "insufficient_stock",
            if s == 0 {
                "在庫がありません".to_owned()
            } else {
                format!("在庫が不足しています（在庫 {s}）")
            },
        ));
    }
    Ok(())
}

/// 数量の変更 (0: 削除).
pub async fn set_quantity(app: &App, b: &Buyer, code: &str, quantity: i64) -> Result<(), AppError> {
    let v = catalog::variant_by_code(&mut *app.store.read().await?, b.shop_id, code.trim())
        .await?
        .ok_or_else(|| invalid("code", "unknown_product", "この商品はありません"))?;
    if quantity != 0 {
        check_quantity(quantity, v.draft.stock)?;
    }
    change(app, b, |l| {
        l.cart.retain(|x| x.code != v.draft.code || quantity != 0);
        if let Some(x) = l.cart.iter_mut().find(|x| x.code == v.draft.code) {
            x.quantity = quantity;
        }
        Ok(())
    })
    .await
}

fn person(i: &BuyerInput) -> PersonInput {
    PersonInput {
        family_name: i.family_name.clone(),
        given_name: i.given_name.clone(),
        family_kana: i.family_kana.clone(),
        given_kana: i.given_kana.clone(),
        company: String::new(),
        postal_code: i.postal_code.clone(),
        prefecture: i.prefecture.clone(),
        address1: i.address1.clone(),
        address2: i.address2.clone(),
        tel: i.tel.clone(),
    }
}

/// Check お客様情報 the way an order checks it, reporting every bad field by the form's
/// names.
fn check_buyer(i: &BuyerInput) -> Result<(), AppError> {
    let probe = OrderInput {
        customer_id: None,
        customer: person(i),
        email: i.email.clone(),
        birth_date: None,
        sex: None,
        delivery: None,
        delivery_date: None,
        delivery_time: None,
        items: vec![ItemInput {
            product_code: "X".into(),
            product_name: Some("X".into()),
            class1: None,
            class2: None,
            unit_price: Some(1),
            quantity: 1,
            tax_rate: Some(10),
        }],
        discount: 0,
        shipping_fee: 0,
        fee: 0,
        points_used: 0,
        points_earned: 0,
        payment_method: PaymentMethod::BankTransfer.code().into(),
        status: None,
        remarks: String::new(),
        memo: String::new(),
        ordered_at: None,
        shipped_on: None,
        tracking_number: String::new(),
        gateway_ref: String::new(),
        device: None,
        ip: String::new(),
    };
    let mut e = Invalid::default();
    if let Err(inv) = probe.validate() {
        for f in inv.0 {
            let field = f
                .field
                .strip_prefix("customer.")
                .unwrap_or(&f.field)
                .to_owned();
            e.push(FieldError::new(field, f.code, f.message));
        }
    }
    let required = [
        ("family_name", &i.family_name, "お名前（姓）"),
        ("given_name", &i.given_name, "お名前（名）"),
        ("family_kana", &i.family_kana, "フリガナ（セイ）"),
        ("given_kana", &i.given_kana, "フリガナ（メイ）"),
        ("tel", &i.tel, "電話番号"),
        ("postal_code", &i.postal_code, "郵便番号"),
        ("prefecture", &i.prefecture, "都道府県"),
        ("address1", &i.address1, "住所"),
    ];
    for (field, v, label) in required {
        if v.trim().is_empty() && !e.0.iter().any(|f| f.field == field) {
            e.push(FieldError::new(
                field,
                "required",
                format!("{label}を入力してください"),
            ));
        }
    }
    e.into_result(()).map_err(AppError::from)
}

/// お客様情報 as a guest.
pub async fn set_buyer(app: &App, b: &Buyer, input: BuyerInput) -> Result<(), AppError> {
    check_buyer(&input)?;
    change(app, b, |l| {
        l.details.buyer = Some(input);
        l.c.customer_id = None;
        l.details.points = 0;
        Ok(())
    })
    .await
}

/// 会員ログイン: the member's stored details fill お客様情報.
pub async fn login(app: &App, b: &Buyer, email: &str, password: &str) -> Result<(), AppError> {
    let found = customers::login_of(&mut *app.store.read().await?, b.shop_id, email.trim()).await?;
    let ok = match &found {
        Some((_, hash)) if !hash.is_empty() => crate::access::verify_password(password, hash),
        _ => {
            // As long as a wrong password takes.
            let _ = crate::access::verify_password(password, crate::access::DUMMY_HASH);
            false
        }
    };
    let Some((id, _)) = found.filter(|_| ok) else {
        return Err(invalid(
            "password",
            "login_failed",
            "メールアドレスまたはパスワードが正しくありません",
        ));
    };
    let m = customers::get(&mut *app.store.read().await?, b.shop_id, id)
        .await?
        .ok_or(AppError::NotFound("会員"))?;
    let p = &m.draft.person;
    let input = BuyerInput {
        family_name: p.family_name.clone(),
        given_name: p.given_name.clone(),
        family_kana: p.family_kana.clone(),
        given_kana: p.given_kana.clone(),
        email: m.draft.email.clone(),
        tel: p.tel.clone(),
        postal_code: p.postal_code.clone(),
        prefecture: p.prefecture.clone(),
        address1: p.address1.clone(),
        address2: p.address2.clone(),
    };
    change(app, b, |l| {
        l.details.buyer = Some(input);
        l.c.customer_id = Some(id);
        Ok(())
    })
    .await
}

/// 配送方法・お支払い方法.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ChoiceInput {
    pub delivery_id: i64,
    #[serde(default)]
    pub payment_method: String,
    #[serde(default)]
    pub konbini_store: Option<String>,
    #[serde(default)]
    pub points: i64,
    #[serde(default)]
    pub remarks: String,
}

pub async fn choose(app: &App, b: &Buyer, input: ChoiceInput) -> Result<(), AppError> {
    let l = load(app, b).await?;
    let delivery = methods::delivery(app, b.shop_id, input.delivery_id)
        .await
        .map_err(|_| invalid("delivery_id", "unknown", "配送方法を選んでください"))?;
    let subtotal = subtotal_of(app, b.shop_id, &l.cart).await?;
    let offered = methods::offered(app, b.shop_id, &delivery, subtotal).await?;
    let mut e = Invalid::default();
    let method = PaymentMethod::ALL
        .into_iter()
        .find(|m| m.code() == input.payment_method.trim());
    match method {
        Some(m) if offered.iter().any(|s| s.method == m) => {}
        _ => e.push(FieldError::new(
            "payment_method",
            "not_offered",
            "お支払い方法を選んでください（この配送方法・金額でご利用いただける方法から）",
        )),
    }
    let store = input
        .konbini_store
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if matches!(
        method,
        Some(PaymentMethod::GmoKonbini | PaymentMethod::PaygentKonbini)
    ) && store.is_none()
    {
        e.push(FieldError::new(
            "konbini_store",
            "required",
            "お支払いになるコンビニを選んでください",
        ));
    }
    if input.points < 0 {
        e.push(FieldError::new(
            "points",
            "out_of_range",
            "ご利用ポイントは0以上で指定してください",
        ));
    } else if input.points > 0 {
        match l.c.customer_id {
            None => e.push(FieldError::new(
                "points",
                "members_only",
                "ポイントは会員ログインしてご利用ください",
            )),
            Some(cid) => {
                let m = customers::get(&mut *app.store.read().await?, b.shop_id, cid)
                    .await?
                    .ok_or(AppError::NotFound("会員"))?;
                let most = (subtotal + delivery.fee.unwrap_or(0)).min(m.points);
                if input.points > most {
                    e.push(FieldError::new(
                        "points",
                        "too_many",
                        format!("ご利用いただけるポイントは{most}ptまでです"),
                    ));
                }
            }
        }
    }
    if input.remarks.chars().count() > 3000 {
        e.push(FieldError::new(
            "remarks",
            "too_long",
            "ご要望は3000文字以内で入力してください",
        ));
    }
    e.into_result(())?;
    change(app, b, |l| {
        l.details.delivery_id = Some(delivery.id);
        l.details.payment_method = method;
        l.details.konbini_store = store;
        l.details.points = input.points;
        l.details.remarks = input.remarks;
        Ok(())
    })
    .await
}

async fn subtotal_of(app: &App, shop_id: i64, cart: &[Line]) -> Result<i64, AppError> {
    Ok(lines_of(app, shop_id, cart)
        .await?
        .iter()
        .map(|l| l.line_total)
        .sum())
}

/// One cart line as the buyer sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CartLine {
    pub code: String,
    pub product_name: String,
    pub class1: String,
    pub class2: String,
    pub unit_price: i64,
    pub tax_rate: i64,
    pub quantity: i64,
    pub line_total: i64,
    pub stock: Option<i64>,
}

async fn lines_of(app: &App, shop_id: i64, cart: &[Line]) -> Result<Vec<CartLine>, AppError> {
    let mut conn = app.store.read().await?;
    let mut out = Vec::new();
    for l in cart {
        // A product removed from the catalog since drops out of the cart.
        if let Some(v) = catalog::variant_by_code(&mut conn, shop_id, &l.code).await? {
            out.push(CartLine {
                code: v.draft.code.clone(),
                product_name: v.product_name.clone(),
                class1: v.draft.class1.clone(),
                class2: v.draft.class2.clone(),
                unit_price: v.draft.price.get(),
                tax_rate: v.draft.tax_rate.percent(),
                quantity: l.quantity,
                line_total: v.draft.price.get() * l.quantity,
                stock: v.draft.stock,
            });
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct MemberView {
    pub id: i64,
    pub name: String,
    pub points: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TotalsView {
    pub subtotal: i64,
    pub shipping_fee: i64,
    pub fee: i64,
    pub discount: i64,
    pub total: i64,
    pub points_used: i64,
    pub payment_total: i64,
    pub tax10_amount: i64,
    pub tax10: i64,
    pub tax8_amount: i64,
    pub tax8: i64,
}

/// The card form's gateway side.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CardForm {
    /// `gmo` or `paygent`
    pub gateway: String,
    pub script_base: String,
    pub gmo_shop_id: String,
    pub paygent_merchant_id: String,
    pub paygent_token_key: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PaidyForm {
    pub script_base: String,
    pub public_key: String,
    pub payload: serde_json::Value,
}

/// Everything the storefront's pages show.
#[derive(Debug, Clone, serde::Serialize)]
pub struct View {
    pub state: CheckoutState,
    pub lines: Vec<CartLine>,
    pub subtotal: i64,
    pub buyer: Option<BuyerInput>,
    pub member: Option<MemberView>,
    pub deliveries: Vec<DeliveryMethod>,
    pub delivery: Option<DeliveryMethod>,
    pub offered: Vec<MethodSettings>,
    pub method: Option<MethodSettings>,
    pub konbini_store: Option<String>,
    pub points_used: i64,
    pub remarks: String,
    pub totals: Option<TotalsView>,
    pub order_number: Option<i64>,
    pub attempt: String,
    pub message: Option<String>,
    pub card: Option<CardForm>,
    pub paidy: Option<PaidyForm>,
}

pub async fn view(app: &App, b: &Buyer) -> Result<View, AppError> {
    let l = load(app, b).await?;
    let lines = lines_of(app, b.shop_id, &l.cart).await?;
    let subtotal = lines.iter().map(|x| x.line_total).sum();
    let member = match l.c.customer_id {
        Some(id) => customers::get(&mut *app.store.read().await?, b.shop_id, id)
            .await?
            .map(|m| MemberView {
                id,
                name: format!(
                    "{} {}",
                    m.draft.person.family_name, m.draft.person.given_name
                ),
                points: m.points,
            }),
        None => None,
    };
    let deliveries = methods::deliveries(app, b.shop_id).await?;
    let delivery = l
        .details
        .delivery_id
        .and_then(|id| deliveries.iter().find(|d| d.id == id).cloned());
    let offered = match &delivery {
        Some(d) => methods::offered(app, b.shop_id, d, subtotal).await?,
        None => vec![],
    };
    let method = match l.details.payment_method {
        Some(m) => Some(methods::method_settings(app, b.shop_id, m).await?),
        None => None,
    };
    let order = match l.c.order_id {
        Some(id) => orders::number_of(&mut *app.store.read().await?, id).await?,
        None => None,
    };
    let order = match order {
        Some(n) => orders::get(&mut *app.store.read().await?, b.shop_id, n).await?,
        None => None,
    };
    let totals = match &order {
        Some(o) => Some(totals_of(o)),
        None => match draft_input(&l, &lines, delivery.as_ref()) {
            Some(input) => input.validate().ok().map(|d| totals_of_draft(&d.totals)),
            None => None,
        },
    };
    let g = app.gateways();
    let card = l
        .details
        .payment_method
        .filter(|m| m.is_card())
        .map(|m| CardForm {
            gateway: if m == PaymentMethod::GmoCard {
                "gmo"
            } else {
                "paygent"
            }
            .into(),
            script_base: g.front.script_base.clone(),
            gmo_shop_id: g.gmo_shop_id.clone(),
            paygent_merchant_id: g.front.paygent_merchant_id.clone(),
            paygent_token_key: g.front.paygent_token_key.clone(),
        });
    let paidy = match (&order, l.details.payment_method) {
        (Some(o), Some(PaymentMethod::Paidy)) => Some(PaidyForm {
            script_base: g.front.script_base.clone(),
            public_key: g.front.paidy_public_key.clone(),
            payload: paidy_payload(app, b.shop_id, o).await?,
        }),
        _ => None,
    };
    Ok(View {
        state: l.c.state,
        lines,
        subtotal,
        buyer: l.details.buyer.clone(),
        member,
        deliveries,
        delivery,
        offered,
        method,
        konbini_store: l.details.konbini_store.clone(),
        points_used: l.details.points,
        remarks: l.details.remarks.clone(),
        totals,
        order_number: order.map(|o| o.number),
        attempt: l.c.attempt.clone(),
        message: l.details.message.clone(),
        card,
        paidy,
    })
}

fn totals_of_draft(t: &juchu_domain::order::Totals) -> TotalsView {
    let rate = |r: i64| {
        t.tax
            .by_rate
            .iter()
            .find(|x| x.rate.percent() == r)
            .map_or((0, 0), |x| (x.amount.get(), x.tax.get()))
    };
    let (tax10_amount, tax10) = rate(10);
    let (tax8_amount, tax8) = rate(8);
    TotalsView {
        subtotal: t.subtotal.get(),
        shipping_fee: t.shipping_fee.get(),
        fee: t.fee.get(),
        discount: t.discount.get(),
        total: t.total.get(),
        points_used: t.points_used,
        payment_total: t.payment_total.get(),
        tax10_amount,
        tax10,
        tax8_amount,
        tax8,
    }
}

fn totals_of(o: &Order) -> TotalsView {
    totals_of_draft(&o.draft.totals)
}

/// The order the buyer's choices make, before it is validated.
fn draft_input(
    l: &Loaded,
    lines: &[CartLine],
    delivery: Option<&DeliveryMethod>,
) -> Option<OrderInput> {
    let buyer = l.details.buyer.as_ref()?;
    let method = l.details.payment_method?;
    let delivery = delivery?;
    let subtotal: i64 = lines.iter().map(|x| x.line_total).sum();
    Some(OrderInput {
        customer_id: l.c.customer_id,
        customer: person(buyer),
        email: buyer.email.trim().to_owned(),
        birth_date: None,
        sex: None,
        delivery: None,
        delivery_date: None,
        delivery_time: None,
        items: lines
            .iter()
            .map(|x| ItemInput {
                product_code: x.code.clone(),
                product_name: Some(x.product_name.clone()),
                class1: Some(x.class1.clone()),
                class2: Some(x.class2.clone()),
                unit_price: Some(x.unit_price),
                quantity: x.quantity,
                tax_rate: Some(x.tax_rate),
            })
            .collect(),
        discount: 0,
        shipping_fee: delivery.fee.unwrap_or(0),
        fee: 0,
        points_used: l.details.points,
        // The shop's point rate: 1% of the products for members.
        points_earned: if l.c.customer_id.is_some() {
            subtotal / 100
        } else {
            0
        },
        payment_method: method.code().into(),
        status: Some(if method.gateway().is_some() {
            OrderStatus::PendingPayment.code().into()
        } else {
            default_status(method).code().into()
        }),
        remarks: l.details.remarks.clone(),
        memo: String::new(),
        ordered_at: None,
        shipped_on: None,
        tracking_number: String::new(),
        gateway_ref: String::new(),
        device: Some("pc".into()),
        ip: String::new(),
    })
}

/// The status of an order paid without a gateway: 銀行振込 / 郵便振替 wait for the money,
/// 代金引換 is new.
fn default_status(m: PaymentMethod) -> OrderStatus {
    match m {
        PaymentMethod::BankTransfer | PaymentMethod::PostalTransfer => OrderStatus::AwaitingPayment,
        _ => OrderStatus::New,
    }
}

/// ご注文完了.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Completion {
    pub number: i64,
    pub method_label: String,
    pub payment_total: i64,
    pub email: String,
    pub slip: Vec<(String, String)>,
    pub url: Option<String>,
    pub due: Option<String>,
    pub note: String,
    pub status_label: String,
}

pub async fn completion(app: &App, b: &Buyer) -> Result<Completion, AppError> {
    let l = load(app, b).await?;
    if l.c.state != CheckoutState::Completed {
        return Err(gone());
    }
    let number = order_number(app, &l).await?;
    let mut conn = app.store.read().await?;
    let o = orders::get(&mut conn, b.shop_id, number)
        .await?
        .ok_or_else(gone)?;
    let p = pay::by_order(&mut conn, o.id).await?;
    drop(conn);
    let slip: Option<PaymentSlip> = p
        .as_ref()
        .filter(|p| !p.slip.is_empty())
        .and_then(|p| serde_json::from_str(&p.slip).ok());
    let settings = methods::method_settings(app, b.shop_id, o.draft.payment_method).await?;
    Ok(Completion {
        number,
        method_label: settings.display_name.clone(),
        payment_total: o.draft.totals.payment_total.get(),
        email: o.draft.email.clone(),
        slip: slip.as_ref().map(|s| s.fields.clone()).unwrap_or_default(),
        url: slip.as_ref().and_then(|s| s.url.clone()),
        due: slip
            .as_ref()
            .map(|s| juchu_domain::time::format_jst_minute(s.due)),
        note: settings.mail_note.clone(),
        status_label: o.draft.status.label().to_owned(),
    })
}

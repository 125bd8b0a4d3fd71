//! Payment operations on an order, each run exactly once (DESIGN.md, "the rules that protect
//! money"):
//!
//! 1. In one transaction the order and its payment are locked, the domain's rules checked
//!    (`juchu_domain::payment::check`, which refuses anything while an earlier operation is
//!    still open), and the operation journaled as `pending` under its idempotency key.
//! 2. The gateway is called outside any transaction.
//! 3. The outcome and the payment's new state are committed together, with the order's
//!    history line and the fee.
//!
//! A lost answer (timeout, dropped connection, 5xx, a crash before step 3) leaves the
//! operation `unknown` or `pending`; [`recover`] settles it by asking the gateway what it
//! holds — never by sending the operation again. A repeat with the same key returns the first
//! outcome.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use juchu_domain::history::{HistoryEntry, Outcome};
use juchu_domain::order::Order;
use juchu_domain::payment::{
    self, Action, CaptureMode, Facts, Kind, PaymentState, refund_amount, state_label,
};
use juchu_domain::payment_method::Gateway;
use juchu_domain::status::{OrderList, OrderStatus};
use juchu_gateway::{
    AuthorizeOutcome, AuthorizeRequest, CardRef, Gateway as GatewayApi, GatewayError,
    GatewayStatus, Installments, OrderContents, OrderLine, PaymentRef, Secret,
};
use juchu_store::payments::{
    self as store, Finish, Held, NewFee, NewOperation, NewPayment, NewPrevious, OpStatus,
    Operation, PreviousRef,
};
use juchu_store::{Tx, orders};

use crate::{Actor, App, AppError};

mod chain;
mod later;
mod recovery;
mod two_step;
mod view;

pub(crate) use later::paidy_key;
pub use later::{
    LaterInput, SyncReport, notices, receive_gmo, receive_paidy, receive_paygent, request_later,
    sync,
};
pub use recovery::{Recovered, recover, refresh};
pub(crate) use recovery::{authorized_at_gateway, resolve};
pub(crate) use view::briefs;
pub use view::{
    ActionView, FeeMonth, PaymentBrief, PaymentView, PreviousView, fees, set_settings, settings,
    view,
};

/// The connectors juchu talks to, one per gateway (absent: not configured).
#[derive(Clone, Default)]
pub struct Gateways {
    pub paygent: Option<Arc<dyn GatewayApi>>,
    pub gmo: Option<Arc<dyn GatewayApi>>,
    pub paidy: Option<Arc<dyn GatewayApi>>,
    /// Paygent's client itself, for 差分照会 (091), which the common trait does not have.
    pub paygent_client: Option<Arc<juchu_gateway::paygent::PaygentClient>>,
    /// The key of 差分通知's `hc`.
    pub paygent_hash_key: Secret,
    /// The ShopID a GMO 結果通知 must carry.
    pub gmo_shop_id: String,
    /// What the storefront's card and Paidy pages need (public values and the keys that
    /// check what the buyer's browser brings back).
    pub front: Front,
}

/// The gateways' browser side, for the storefront.
#[derive(Clone, Default)]
pub struct Front {
    /// Where the buyer's browser loads the gateways' scripts from (`http://host:port`).
    pub script_base: String,
    pub paygent_merchant_id: String,
    /// Paygent's token key (public: it goes to the browser).
    pub paygent_token_key: String,
    /// Checks the `hc` of a token the browser brings.
    pub paygent_token_hash_key: Secret,
    /// Checks the `hc` of an EMV 3-D Secure result.
    pub paygent_3ds_hash_key: Secret,
    pub paidy_public_key: String,
}

/// Where the gateways are, and how long an answer may take: the configuration half of the
/// connectors (the credentials are the shop's, stored sealed).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub paygent: String,
    pub gmo: String,
    pub paidy: String,
    /// Where buyers' browsers load the gateways' scripts (token, Paidy Checkout) from.
    pub script_base: String,
    pub timeout: Duration,
}

impl Endpoints {
    /// The bundled sandboxes under `base` (`http://host:port`).
    pub fn sandbox(base: &str, timeout: Duration) -> Endpoints {
        let base = base.trim_end_matches('/');
        Endpoints {
            paygent: format!("{base}/paygent"),
            gmo: format!("{base}/gmo"),
            paidy: format!("{base}/paidy"),
            script_base: base.to_owned(),
            timeout,
        }
    }
}

/// A shop's stored credentials per gateway (`methods::credentials`).
#[derive(Debug, Clone, Default)]
pub struct ShopCredentials {
    pub paygent: Option<crate::methods::PaygentCredentials>,
    pub gmo: Option<crate::methods::GmoCredentials>,
    pub paidy: Option<crate::methods::PaidyCredentials>,
}

fn set(s: &Secret) -> Option<&str> {
    Some(s.expose().trim()).filter(|x| !x.is_empty())
}

impl Gateways {
    /// Every connector pointed at the bundled sandboxes under `base` (`http://host:port`),
    /// with their documented test credentials; past `timeout` an answer counts as lost.
    pub fn sandbox(base: &str, timeout: Duration) -> Result<Gateways, GatewayError> {
        Gateways::connect(
            &Endpoints::sandbox(base, timeout),
            &ShopCredentials::default(),
        )
    }

    /// Connectors to `e` with the shop's credentials `c`; a gateway with none stored uses the
    /// sandboxes' documented test credentials. Stored credentials missing a field the
    /// gateway cannot work without leave that gateway unconfigured (its methods are not
    /// offered, its operations refused with the reason) rather than half-configured.
    pub fn connect(e: &Endpoints, c: &ShopCredentials) -> Result<Gateways, GatewayError> {
        use juchu_gateway::{gmo, paidy, paygent};
        let mut pg = paygent::PaygentConfig::sandbox(&e.paygent);
        pg.timeout = e.timeout;
        let mut front = Front {
            script_base: e.script_base.clone(),
            paygent_merchant_id: pg.merchant_id.clone(),
            paygent_token_key: "test_sandbox_token_key".into(),
            paygent_token_hash_key: Secret::new("sandbox_token_hash_key"),
            paygent_3ds_hash_key: Secret::new("sandbox_3ds_hash_key"),
            paidy_public_key: "pk_test_sandbox".into(),
        };
        let mut paygent_hash_key = Secret::new("sandbox_hash_key");
        let mut paygent_ok = true;
        if let Some(k) = &c.paygent {
            match (
                set(&k.merchant_id),
                set(&k.connect_id),
                set(&k.connect_password),
            ) {
                (Some(m), Some(i), Some(p)) => {
                    pg.merchant_id = m.to_owned();
                    pg.connect_id = i.to_owned();
                    pg.connect_password = Secret::new(p);
                    front.paygent_merchant_id = m.to_owned();
                    front.paygent_token_key = k.token_key.expose().to_owned();
                    front.paygent_token_hash_key = k.token_hash_key.clone();
                    front.paygent_3ds_hash_key = k.three_ds_hash_key.clone();
                    paygent_hash_key = k.notice_hash_key.clone();
                }
                _ => paygent_ok = false,
            }
        }
        let mut gm = gmo::GmoConfig::sandbox(&e.gmo);
        gm.timeout = e.timeout;
        let mut gmo_ok = true;
        if let Some(k) = &c.gmo {
            match (set(&k.shop_id), set(&k.shop_pass)) {
                (Some(id), Some(pass)) => {
                    gm.shop_id = id.to_owned();
                    gm.shop_pass = Secret::new(pass);
                    gm.site_id = k.site_id.expose().to_owned();
                    gm.site_pass = k.site_pass.clone();
                }
                _ => gmo_ok = false,
            }
        }
        let mut pd = paidy::PaidyConfig::sandbox(&e.paidy);
        pd.timeout = e.timeout;
        let mut paidy_ok = true;
        if let Some(k) = &c.paidy {
            match (set(&k.public_key), set(&k.secret_key)) {
                (Some(public), Some(secret)) => {
                    front.paidy_public_key = public.to_owned();
                    pd.secret_key = Secret::new(secret);
                }
                _ => paidy_ok = false,
            }
        }
        let gmo_shop_id = gm.shop_id.clone();
        let pgc = if paygent_ok {
            Some(Arc::new(paygent::PaygentClient::new(pg)?))
        } else {
            None
        };
        Ok(Gateways {
            paygent: pgc.clone().map(|c| c as Arc<dyn GatewayApi>),
            gmo: if gmo_ok {
                Some(Arc::new(gmo::GmoClient::new(gm)?))
            } else {
                None
            },
            paidy: if paidy_ok {
                Some(Arc::new(paidy::PaidyClient::new(pd)?))
            } else {
                None
            },
            paygent_client: pgc,
            paygent_hash_key,
            gmo_shop_id,
            front,
        })
    }

    /// Whether juchu can reach `g` (a connector is configured).
    pub fn has(&self, g: Gateway) -> bool {
        self.get(g).is_ok()
    }

    pub(crate) fn get(&self, g: Gateway) -> Result<Arc<dyn GatewayApi>, AppError> {
        let c = match g {
            Gateway::Paygent => &self.paygent,
            Gateway::Gmo => &self.gmo,
            Gateway::Paidy => &self.paidy,
        };
        c.clone().ok_or_else(|| {
            AppError::conflict(
                "gateway_not_configured",
                format!("{}の接続設定がありません", gateway_name(g)),
            )
        })
    }
}

/// Rebuild the connectors from the shop's stored credentials (at start-up, and whenever
/// they are saved). Does nothing for an app without endpoints (tests that hand it
/// connectors).
pub async fn reconnect(app: &App, shop_id: i64) -> Result<(), AppError> {
    let Some(e) = app.endpoints() else {
        return Ok(());
    };
    let mut c = ShopCredentials::default();
    for g in [Gateway::Paygent, Gateway::Gmo, Gateway::Paidy] {
        match crate::methods::credentials(app, shop_id, g).await? {
            Some(crate::methods::GatewayCredentials::Paygent(k)) => c.paygent = Some(k),
            Some(crate::methods::GatewayCredentials::Gmo(k)) => c.gmo = Some(k),
            Some(crate::methods::GatewayCredentials::Paidy(k)) => c.paidy = Some(k),
            None => {}
        }
    }
    let g = Gateways::connect(&e, &c)
        .map_err(|x| AppError::Internal(format!("gateway connectors: {x}")))?;
    app.set_gateways(g);
    Ok(())
}

pub fn gateway_name(g: Gateway) -> &'static str {
    match g {
        Gateway::Paygent => "ペイジェント",
        Gateway::Gmo => "GMOペイメントゲートウェイ",
        Gateway::Paidy => "Paidy",
    }
}

/// How long an authorization can be captured, where the gateway does not say: GMO 90 days
/// (E01420010 after), Paygent 60 days (20 → 33). Paidy's `expires_at` comes with the payment.
fn auth_days(g: Gateway) -> i64 {
    match g {
        Gateway::Gmo => 90,
        Gateway::Paygent => 60,
        Gateway::Paidy => 30,
    }
}

/// How long a repeat with the same key waits for the first request's outcome.
const REPEAT_WAIT: Duration = Duration::from_secs(35);

/// The outcome of an operation, as the API and the screen show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct OperationResult {
    pub operation_id: i64,
    /// `capture`, `cancel`, … or `authorize`
    pub action: String,
    /// The button's words (売上確定 …).
    pub label: String,
    pub status: OpStatus,
    pub amount: i64,
    /// The gateway's result code (ErrInfo, response_code, Paidy's code), empty on success.
    pub result_code: String,
    /// What happened, in Japanese.
    pub message: String,
    /// The payment's id at the gateway after the operation (取引ID / 決済ID).
    pub payment_id: String,
    /// This is the answer to an earlier request with the same idempotency key.
    pub repeated: bool,
    /// When it was requested (Japan time, to the minute).
    pub at: String,
    /// Who requested it.
    pub actor: String,
}

impl OperationResult {
    fn of(op: &Operation, payment_id: String, repeated: bool) -> OperationResult {
        OperationResult {
            operation_id: op.id,
            action: op.action.clone(),
            label: action_label(&op.action).to_owned(),
            status: op.status,
            amount: op.amount,
            result_code: op.result_code.clone(),
            message: op.message.clone(),
            payment_id,
            repeated,
            at: juchu_domain::time::format_jst_minute(op.created_at),
            actor: op.actor.clone(),
        }
    }
}

fn action_label(code: &str) -> &'static str {
    match Action::from_code(code) {
        Some(a) => a.label(),
        None if code == "authorize" => "オーソリ",
        None if code == "request_payment" => "支払番号の発行",
        None => "決済処理",
    }
}

/// 与信 from the back office or the API: a card token from the gateway's script (the card
/// itself never reaches juchu), a Paidy token, or a test card number on a sandbox.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct AuthorizeInput {
    /// The gateway's one-time token (card token script, Paidy token).
    #[serde(default)]
    pub token: Option<String>,
    /// Test card number: sandboxes and test shops only.
    #[serde(default)]
    pub test_card_number: Option<String>,
    /// YYMM, with `test_card_number`.
    #[serde(default)]
    pub test_card_expire: Option<String>,
    /// The masked number the token script returned, shown on the order.
    #[serde(default)]
    pub masked_card: Option<String>,
    /// 即時売上 (authorize and capture at once) instead of 仮売上.
    #[serde(default)]
    pub capture: bool,
    /// 支払回数: `1` (一括, default), `2`…`99` (分割), `bonus` (ボーナス一括), `revolving` (リボ).
    #[serde(default)]
    pub installments: Option<String>,
    /// Checkout only: the order is 決済処理中 and becomes 新規受付 with the authorization.
    #[serde(skip)]
    pub checkout: bool,
    /// Checkout only: 3-D Secure where the authorization itself redirects (GMO); the buyer
    /// comes back to this URL.
    #[serde(skip)]
    pub three_ds_return_url: Option<String>,
    /// Checkout only: a passed EMV 3-D Secure authentication's id (Paygent).
    #[serde(skip)]
    pub three_ds_auth_id: Option<String>,
}

/// How a checkout's authorization stands.
pub enum Authorization {
    /// Settled (succeeded, declined, or unknown and left to recovery).
    Settled(OperationResult),
    /// The buyer must authenticate at `redirect_url` first; `finish_three_ds(op_id)` after.
    ThreeDs { op_id: i64, redirect_url: String },
}

/// Parameters of an operation on an existing payment.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct OperateInput {
    /// New amount for オーソリ変更 / 売上変更 (default: the order's お支払い合計); refund amount
    /// for 払い戻し (default: everything left).
    #[serde(default)]
    pub amount: Option<i64>,
    /// GMO 金額変更: end as 即時売上 (`true`) or 仮売上 (`false`, the default before capture).
    #[serde(default)]
    pub capture: Option<bool>,
    /// The payment's version the operator saw; a stale one is refused.
    #[serde(default)]
    pub expected_version: Option<i64>,
}

fn installments_of(s: Option<&str>) -> Result<(Installments, String), AppError> {
    let bad = || {
        AppError::Invalid(juchu_domain::Invalid::one(
            "installments",
            "invalid",
            "支払回数は 1〜99、bonus（ボーナス一括）、revolving（リボ）のいずれかです",
        ))
    };
    match s.map(str::trim).unwrap_or("1") {
        "" | "1" => Ok((Installments::Lump, "一括払い".into())),
        "bonus" => Ok((Installments::BonusLump, "ボーナス一括払い".into())),
        "revolving" => Ok((Installments::Revolving, "リボ払い".into())),
        n => {
            let n: u8 = n.parse().map_err(|_| bad())?;
            if !(2..=99).contains(&n) {
                return Err(bad());
            }
            Ok((Installments::Split(n), format!("分割{n}回")))
        }
    }
}

fn mask(card: &str) -> String {
    let digits: String = card.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len();
    format!(
        "{}{}",
        "*".repeat(n.saturating_sub(4)),
        &digits[n.saturating_sub(4)..]
    )
}

fn kind_of(o: &Order) -> Option<(Gateway, Kind)> {
    let m = o.draft.payment_method;
    let g = m.gateway()?;
    let k = if m.is_card() {
        Kind::Card
    } else if g == Gateway::Paidy {
        Kind::Paidy
    } else {
        Kind::PaidLater
    };
    Some((g, k))
}

/// The shop's reference at the gateway for the authorization journaled as `op_id` (GMO
/// OrderID, Paygent trading_id, Paidy order_ref): unique, and known before the call, so a
/// lost answer can be looked up by it.
fn order_ref(number: i64, op_id: i64) -> String {
    format!("{number}-{op_id}")
}

fn new_key() -> Result<String, AppError> {
    crate::access::random_token()
}

fn check_key(key: Option<String>) -> Result<String, AppError> {
    match key.map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()) {
        None => new_key(),
        Some(k) if k.len() > 200 || !k.chars().all(|c| c.is_ascii_graphic()) => {
            Err(AppError::Invalid(juchu_domain::Invalid::one(
                "Idempotency-Key",
                "invalid",
                "Idempotency-Key は200文字以内の英数記号にしてください",
            )))
        }
        Some(k) => Ok(k),
    }
}

fn history(actor: &str, at: Timestamp, action: &str, detail: String, ok: bool) -> HistoryEntry {
    HistoryEntry {
        at,
        actor: actor.to_owned(),
        action: format!("payment.{action}"),
        detail,
        outcome: if ok { Outcome::Ok } else { Outcome::Error },
    }
}

fn jst_minute(t: Timestamp) -> String {
    juchu_domain::time::format_jst_minute(t)
}

use juchu_domain::money::yen;

fn parse_ref(json: &str) -> Result<PaymentRef, AppError> {
    serde_json::from_str(json)
        .map_err(|e| AppError::Internal(format!("stored payment ref {json}: {e}")))
}

fn ref_json(r: &PaymentRef) -> Result<String, AppError> {
    serde_json::to_string(r).map_err(|e| AppError::Internal(format!("payment ref: {e}")))
}

/// What the gateway holds after an operation, as stored.
fn held_after(
    gateway: Gateway,
    before: Option<&Held>,
    r: &PaymentRef,
    st: &GatewayStatus,
    newly_authorized: bool,
    now: Timestamp,
) -> Result<Held, AppError> {
    let authorized_at = match before {
        Some(b) if !newly_authorized => b.authorized_at,
        _ if matches!(st.state, PaymentState::Authorized | PaymentState::Captured) => Some(now),
        _ => None,
    };
    // Once a capture was refused for its period, an authorization stays lapsed: GMO goes on
    // showing `AUTH` for it. Only a new authorization makes the payment capturable again.
    let state = match before {
        Some(b) if !newly_authorized => still_lapsed(b.state, st.state),
        _ => st.state,
    };
    let auth_expires_at = st.expires_at.or_else(|| {
        authorized_at.and_then(|t| {
            t.checked_add(SignedDuration::from_hours(24 * auth_days(gateway)))
                .ok()
        })
    });
    Ok(Held {
        ref_json: ref_json(r)?,
        display_id: r.display_id().to_owned(),
        trading_id: match r {
            PaymentRef::Paygent { trading_id, .. } => trading_id.clone(),
            other => other.display_id().to_owned(),
        },
        state,
        gateway_status: st.gateway_status.clone(),
        amount: st.amount,
        captured: st.captured,
        refunded: st.refunded,
        authorized_at,
        auth_expires_at,
    })
}

/// 与信: create the order's payment. Journaled like every other operation; the shop's
/// reference at the gateway is derived from the journal row, so a lost answer is found again.
pub async fn authorize(
    app: &App,
    actor: &Actor,
    number: i64,
    input: AuthorizeInput,
    key: Option<String>,
) -> Result<OperationResult, AppError> {
    match start_authorization(app, actor, number, input, key).await? {
        Authorization::Settled(r) => Ok(r),
        Authorization::ThreeDs { .. } => Err(AppError::Internal(
            "3-D Secure redirect outside checkout".into(),
        )),
    }
}

/// 与信, for the back office and the checkout alike.
pub(crate) async fn start_authorization(
    app: &App,
    actor: &Actor,
    number: i64,
    input: AuthorizeInput,
    key: Option<String>,
) -> Result<Authorization, AppError> {
    let key = check_key(key)?;
    let (installments, installments_label) = installments_of(input.installments.as_deref())?;
    let request = serde_json::json!({
        "order": number, "action": "authorize", "capture": input.capture,
        "installments": input.installments, "token": input.token.is_some(),
        "test_card": input.test_card_number.as_deref().map(mask),
        "masked": input.masked_card, "three_ds": input.three_ds_auth_id.is_some() || input.three_ds_return_url.is_some(),
    })
    .to_string();
    let now = app.now();
    let (mut tx, order) = match lock_order(app, actor, number, &key, &request).await? {
        Ok(x) => x,
        Err(first) => return Ok(Authorization::Settled(first)),
    };
    let pending = order.draft.status == OrderStatus::PendingPayment;
    if pending != input.checkout || order.deleted_at.is_some() {
        return Err(if input.checkout {
            checkout_closed()
        } else {
            AppError::conflict(
                "payment_in_progress",
                juchu_domain::status::Refusal::PaymentInProgress.to_string(),
            )
        });
    }
    let Some((gateway, kind)) = kind_of(&order) else {
        return Err(AppError::conflict(
            "no_online_payment",
            format!(
                "支払方法「{}」はオンライン決済ではありません",
                order.draft.payment_method.label()
            ),
        ));
    };
    if kind == Kind::PaidLater {
        return Err(AppError::conflict(
            "not_a_card_payment",
            "コンビニ・ATM・銀行決済は購入手続きで申し込みます",
        ));
    }
    if store::by_order(tx.conn(), order.id).await?.is_some() {
        return Err(AppError::conflict(
            "payment_exists",
            "この受注には決済があります。金額を変えるときはオーソリ変更・売上変更を使ってください",
        ));
    }
    if let Some(op) = store::open_operation(tx.conn(), order.id).await? {
        return Err(in_doubt(&op));
    }
    let card = match (&input.token, &input.test_card_number) {
        (Some(t), None) if !t.trim().is_empty() => CardRef::Token(t.trim().to_owned()),
        (None, Some(n)) => CardRef::TestNumber {
            card_no: Secret::new(n.trim()),
            expire_yymm: input.test_card_expire.clone().unwrap_or_default(),
        },
        _ => {
            return Err(AppError::Invalid(juchu_domain::Invalid::one(
                "token",
                "required",
                "カードのトークン（または検証用のカード番号）をひとつ指定してください",
            )));
        }
    };
    let amount = order.draft.totals.payment_total.get();
    if amount <= 0 {
        return Err(AppError::conflict(
            "nothing_to_pay",
            "お支払い合計が0円のため与信は不要です",
        ));
    }
    if amount > payment::amount_limit(gateway) {
        return Err(over_limit(gateway, amount));
    }
    let gw = app.gateways().get(gateway)?;
    let op = NewOperation {
        shop_id: actor.shop_id,
        payment_id: None,
        order_id: order.id,
        action: "authorize",
        idempotency_key: &key,
        request: &request,
        amount,
        actor: &actor.name,
    };
    let op_id = match journal(app, tx, op, now).await? {
        Ok(id) => id,
        Err(first) => return Ok(Authorization::Settled(first)),
    };

    let masked = input
        .masked_card
        .clone()
        .or_else(|| input.test_card_number.as_deref().map(mask))
        .unwrap_or_default();
    let req = AuthorizeRequest {
        order_ref: order_ref(number, op_id),
        amount,
        tax: order
            .draft
            .totals
            .tax
            .by_rate
            .iter()
            .map(|r| r.tax.get())
            .sum(),
        capture: input.capture,
        card,
        installments,
        three_ds_return_url: input.three_ds_return_url.clone(),
        three_ds_auth_id: input.three_ds_auth_id.clone(),
    };
    let three_ds = input.three_ds_auth_id.is_some();
    let mode = if input.capture {
        CaptureMode::AuthAndCapture
    } else {
        CaptureMode::AuthOnly
    };
    let verdict = match gw.authorize(&req).await {
        Ok(AuthorizeOutcome::Done { payment, status }) => Verdict::Created {
            payment,
            status,
            mode,
            kind,
            installments: installments_label,
            masked,
            slip: None,
            three_ds,
        },
        Ok(AuthorizeOutcome::ThreeDs {
            payment,
            redirect_url,
        }) if input.three_ds_return_url.is_some() => {
            // Nothing is authorized yet: the operation waits for the buyer's return.
            let mut tx = app.store.begin().await?;
            store::set_awaiting(&mut tx, op_id, &ref_json(&payment)?).await?;
            tx.commit().await?;
            return Ok(Authorization::ThreeDs {
                op_id,
                redirect_url,
            });
        }
        Ok(AuthorizeOutcome::ThreeDs { .. }) => Verdict::Failed {
            code: "3ds_required".into(),
            message: "このカードは3Dセキュア認証が必要です。購入手続きから決済してください".into(),
            status: None,
        },
        Err(e) => Verdict::from_error(e),
    };
    settle(app, &actor.name, op_id, verdict)
        .await
        .map(Authorization::Settled)
}

/// The buyer is back from 3-D Secure (GMO): authorize with the authentication, once. A
/// repeated return waits for the first one's outcome.
pub(crate) async fn finish_three_ds(
    app: &App,
    actor: &Actor,
    op_id: i64,
) -> Result<OperationResult, AppError> {
    const CLAIMED: &str = "claimed:";
    let mut tx = app.store.begin().await?;
    let op = store::operation(tx.conn(), op_id)
        .await?
        .ok_or(AppError::NotFound("決済処理"))?;
    let number = orders::number_of(tx.conn(), op.order_id)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    // The order's lock orders this against the sweep and a second return.
    orders::get_for_update(&mut tx, op.shop_id, number).await?;
    let op = store::operation(tx.conn(), op_id)
        .await?
        .ok_or(AppError::NotFound("決済処理"))?;
    if !op.status.is_open() || op.awaiting.is_empty() {
        drop(tx);
        return result_of(app, &op, true).await;
    }
    if op.awaiting.starts_with(CLAIMED) {
        drop(tx);
        return repeat(app, op.clone(), &op.request).await;
    }
    let r = parse_ref(&op.awaiting)?;
    store::set_awaiting(&mut tx, op.id, &format!("{CLAIMED}{}", op.awaiting)).await?;
    tx.commit().await?;
    let order = orders::get(&mut *app.store.read().await?, op.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    let (gateway, kind) = kind_of(&order)
        .ok_or_else(|| AppError::Internal("3-D Secure on an order without a gateway".into()))?;
    let gw = app.gateways().get(gateway)?;
    let request: serde_json::Value = serde_json::from_str(&op.request).unwrap_or_default();
    let verdict = match gw.complete_3ds(&r).await {
        Ok(st) if matches!(st.state, PaymentState::Authorized | PaymentState::Captured) => {
            Verdict::Created {
                payment: r,
                status: st,
                mode: capture_mode_of(&request),
                kind,
                installments: installments_of(request["installments"].as_str())
                    .map(|(_, l)| l)
                    .unwrap_or_default(),
                masked: request["masked"].as_str().unwrap_or_default().to_owned(),
                slip: None,
                three_ds: true,
            }
        }
        Ok(st) => Verdict::Failed {
            code: String::new(),
            message: format!(
                "3Dセキュア認証の後、オーソリされませんでした（決済状況: {} / {}）",
                state_label(st.state),
                st.gateway_status
            ),
            status: None,
        },
        Err(e) => Verdict::from_error(e),
    };
    settle(app, &actor.name, op.id, verdict).await
}

/// Paidy Checkout: the buyer's browser says Paidy authorized `payment_id` for the order.
/// Journaled like any authorization; the payment is taken only once Paidy confirms it is
/// authorized for the order's お支払い合計 and belongs to no other order — otherwise it is
/// closed at Paidy, so nothing stays authorized without an order.
pub(crate) async fn adopt_paidy(
    app: &App,
    actor: &Actor,
    number: i64,
    payment_id: &str,
    key: String,
) -> Result<OperationResult, AppError> {
    let payment_id = payment_id.trim();
    if !juchu_gateway::paidy::is_payment_id(payment_id) {
        return Err(AppError::Invalid(juchu_domain::Invalid::one(
            "payment_id",
            "invalid",
            "Paidyの決済IDが正しくありません",
        )));
    }
    let request = serde_json::json!({
        "order": number, "action": "authorize", "paidy_payment_id": payment_id,
    })
    .to_string();
    let now = app.now();
    let (mut tx, order) = match lock_order(app, actor, number, &key, &request).await? {
        Ok(x) => x,
        Err(first) => return Ok(first),
    };
    if order.draft.status != OrderStatus::PendingPayment || order.deleted_at.is_some() {
        return Err(checkout_closed());
    }
    if order.draft.payment_method != juchu_domain::payment_method::PaymentMethod::Paidy {
        return Err(AppError::conflict(
            "not_paidy",
            "このご注文のお支払い方法はPaidyではありません",
        ));
    }
    if store::by_order(tx.conn(), order.id).await?.is_some()
        || store::open_operation(tx.conn(), order.id).await?.is_some()
    {
        return Err(AppError::conflict(
            "payment_exists",
            "このご注文のお支払いは手続き済みか確認中です",
        ));
    }
    let taken = store::by_gateway_id(
        tx.conn(),
        actor.shop_id,
        Gateway::Paidy,
        store::GatewayId::Display(payment_id),
    )
    .await?
    .is_some();
    let amount = order.draft.totals.payment_total.get();
    let gw = app.gateways().get(Gateway::Paidy)?;
    let op = NewOperation {
        shop_id: actor.shop_id,
        payment_id: None,
        order_id: order.id,
        action: "authorize",
        idempotency_key: &key,
        request: &request,
        amount,
        actor: &actor.name,
    };
    let op_id = match journal(app, tx, op, now).await? {
        Ok(id) => id,
        Err(first) => return Ok(first),
    };
    let r = PaymentRef::Paidy {
        payment_id: payment_id.to_owned(),
    };
    let verdict = match gw.query(&r).await {
        Ok(st) if taken => Verdict::Failed {
            code: "paidy_payment_taken".into(),
            message: format!(
                "Paidyの決済 {payment_id} は別のご注文のものです（決済状況: {}）",
                st.gateway_status
            ),
            status: None,
        },
        Ok(st) if st.state == PaymentState::Authorized && st.amount == amount => Verdict::Created {
            payment: r,
            status: st,
            mode: CaptureMode::AuthOnly,
            kind: Kind::Paidy,
            installments: String::new(),
            masked: String::new(),
            slip: None,
            three_ds: false,
        },
        Ok(st) => {
            let closed = st.state == PaymentState::Authorized && gw.cancel(&r, now).await.is_ok();
            Verdict::Failed {
                code: "paidy_mismatch".into(),
                message: format!(
                    "Paidyの決済 {payment_id}（{}、{}）はご注文のお支払い合計 {} と一致しません{}",
                    st.gateway_status,
                    yen(st.amount),
                    yen(amount),
                    if closed {
                        "。Paidyの決済はクローズしました"
                    } else {
                        ""
                    }
                ),
                status: None,
            }
        }
        Err(e) => Verdict::from_error(e),
    };
    settle(app, &actor.name, op_id, verdict).await
}

/// Refused while an earlier operation on the order is still open.
fn in_doubt(op: &Operation) -> AppError {
    AppError::conflict(
        "payment_in_doubt",
        format!(
            "前の決済処理（{}）の結果を確認中です",
            action_label(&op.action)
        ),
    )
}

/// An order total one payment at the gateway cannot carry.
fn over_limit(g: Gateway, amount: i64) -> AppError {
    AppError::conflict(
        "amount_over_limit",
        format!(
            "お支払い合計 {} は{}で扱える上限（{}）を超えています",
            yen(amount),
            gateway_name(g),
            yen(payment::amount_limit(g))
        ),
    )
}

/// An operation on an order that has no payment yet.
fn no_payment() -> AppError {
    AppError::conflict(
        "no_payment",
        "この受注には決済がありません（与信・支払番号の発行がまだです）",
    )
}

/// A checkout's payment for an order that is no longer 決済処理中 (completed, or removed by
/// the sweep meanwhile).
fn checkout_closed() -> AppError {
    AppError::conflict(
        "checkout_closed",
        "このご注文のお手続きは終了しています。もう一度ご購入手続きをしてください",
    )
}

fn capture_mode_of(request: &serde_json::Value) -> CaptureMode {
    if request["capture"].as_bool().unwrap_or(false) {
        CaptureMode::AuthAndCapture
    } else {
        CaptureMode::AuthOnly
    }
}

/// Start the operation's transaction with the order locked. `Err(outcome)`: the key was
/// used before — that request's outcome is the answer.
async fn lock_order(
    app: &App,
    actor: &Actor,
    number: i64,
    key: &str,
    request: &str,
) -> Result<Result<(Tx, Order), OperationResult>, AppError> {
    let mut tx = app.store.begin().await?;
    // Lock first, then look the key up: a request with the same key that committed while
    // this one waited for the lock is seen (PostgreSQL reads committed rows per statement).
    let order = orders::get_for_update(&mut tx, actor.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    match store::operation_by_key(tx.conn(), actor.shop_id, key).await? {
        Some(op) => {
            drop(tx);
            Ok(Err(repeat(app, op, request).await?))
        }
        None => Ok(Ok((tx, order))),
    }
}

/// Journal `op` as pending and commit. `Err(outcome)`: the key was taken by a concurrent
/// request meanwhile — its outcome is the answer.
async fn journal(
    app: &App,
    mut tx: Tx,
    op: NewOperation<'_>,
    now: Timestamp,
) -> Result<Result<i64, OperationResult>, AppError> {
    match store::insert_operation(&mut tx, &op, now).await {
        Ok(id) => {
            tx.commit().await?;
            Ok(Ok(id))
        }
        Err(e) if e.is_constraint() => {
            drop(tx);
            let first = store::operation_by_key(
                &mut *app.store.read().await?,
                op.shop_id,
                op.idempotency_key,
            )
            .await?
            .ok_or(AppError::NotFound("決済処理"))?;
            Ok(Err(repeat(app, first, op.request).await?))
        }
        Err(e) => Err(e.into()),
    }
}

/// The same key again: the same request gets the first outcome (waiting while it runs); a
/// different request is refused.
async fn repeat(app: &App, op: Operation, request: &str) -> Result<OperationResult, AppError> {
    if op.request != request {
        return Err(AppError::conflict(
            "idempotency_key_reused",
            "このIdempotency-Keyは別の操作に使われています。操作ごとに新しいキーを使ってください",
        ));
    }
    let deadline = tokio::time::Instant::now() + REPEAT_WAIT;
    let mut op = op;
    while op.status == OpStatus::Pending && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        op = store::operation(&mut *app.store.read().await?, op.id)
            .await?
            .ok_or(AppError::NotFound("決済処理"))?;
    }
    result_of(app, &op, true).await
}

async fn result_of(app: &App, op: &Operation, repeated: bool) -> Result<OperationResult, AppError> {
    let mut conn = app.store.read().await?;
    let pid = store::by_order(&mut conn, op.order_id)
        .await?
        .map(|p| p.held.display_id)
        .unwrap_or_default();
    let mut r = OperationResult::of(op, pid, repeated);
    if op.status == OpStatus::Pending {
        r.message = "処理中です。しばらくしてから決済状況を確認してください".into();
    }
    Ok(r)
}

/// What one operation came to.
#[derive(Clone)]
enum Verdict {
    /// A payment was created (authorize).
    Created {
        payment: PaymentRef,
        status: GatewayStatus,
        mode: CaptureMode,
        kind: Kind,
        installments: String,
        masked: String,
        /// Paid later: what the buyer needs to pay.
        slip: Option<juchu_gateway::PaymentSlip>,
        /// Authorized after a passed 3-D Secure authentication.
        three_ds: bool,
    },
    /// The operation took effect; `status` is what the gateway holds for `now_ref` (the
    /// payment's ref after it). `replaced` is the ref it had before, when it changed.
    Done {
        status: GatewayStatus,
        new_ref: Option<(PaymentRef, Replaced)>,
        message: String,
        /// Earlier refs (`payment_refs` rows) cancelled at the gateway by this operation.
        previous_cancelled: Vec<i64>,
    },
    /// Step one of a two-step change done (new authorization), step two (cancel the old one)
    /// not: the operator must finish it. `new_ref`: what the payment holds after step one.
    Partial {
        status: GatewayStatus,
        new_ref: Option<PaymentRef>,
        code: String,
        message: String,
        previous_cancelled: Vec<i64>,
    },
    /// The gateway refused or never got it; nothing happened there. `status`: what it holds,
    /// when known.
    Failed {
        code: String,
        message: String,
        status: Option<GatewayStatus>,
    },
    /// Nobody knows yet: the recovery job will ask the gateway.
    Unknown { reason: String },
}

/// How the payment's earlier ref stands after a change.
#[derive(Clone, Copy)]
enum Replaced {
    /// The gateway closed it itself (Paygent 補正).
    Closed,
    /// juchu cancelled it (two-step change, second step done).
    Cancelled,
    /// Still to be cancelled.
    ToCancel,
}

impl Replaced {
    fn code(self) -> &'static str {
        match self {
            Replaced::Closed => "closed",
            Replaced::Cancelled => "cancelled",
            Replaced::ToCancel => "to_cancel",
        }
    }
}

impl Verdict {
    fn from_error(e: GatewayError) -> Verdict {
        match e {
            GatewayError::Refused {
                code,
                detail,
                message,
                ..
            } => Verdict::Failed {
                // GMO's ErrInfo carries its ErrCode (E01 → E01420010); Paygent's code is the
                // number (2007) and its detail words.
                code: if detail.starts_with(&code) {
                    detail
                } else {
                    code
                },
                message,
                status: None,
            },
            // An answer that is not the protocol may still have been processed.
            GatewayError::Unknown { .. } | GatewayError::Protocol(_) => Verdict::Unknown {
                reason: e.to_string(),
            },
            GatewayError::NotSent { .. }
            | GatewayError::Config(_)
            | GatewayError::Unsupported(_) => Verdict::Failed {
                code: String::new(),
                message: e.to_string(),
                status: None,
            },
        }
    }
}

/// What the rules need to know, as of `now` (an authorization past its deadline is expired).
fn facts(
    o: &Order,
    p: &store::Payment,
    in_doubt: bool,
    previous: &[PreviousRef],
    now: Timestamp,
) -> Facts {
    Facts {
        method: o.draft.payment_method,
        gateway: p.gateway,
        kind: p.kind,
        state: payment::effective_state(p.held.state, p.held.auth_expires_at, now),
        mode: p.mode,
        amount: p.held.amount,
        refunded: p.held.refunded,
        order_total: o.draft.totals.payment_total.get(),
        order_cancelled: o.draft.status == OrderStatus::Cancelled,
        in_doubt,
        previous_to_cancel: previous.iter().any(|r| r.standing == "to_cancel"),
    }
}

/// The amount an operation works with, checked before anything is journaled.
fn target_amount(
    action: Action,
    o: &Order,
    p: &store::Payment,
    input: &OperateInput,
) -> Result<i64, AppError> {
    let bad = |m: String| AppError::Invalid(juchu_domain::Invalid::one("amount", "invalid", m));
    let total = o.draft.totals.payment_total.get();
    let limit = payment::amount_limit(p.gateway);
    let within = |a: i64| {
        if a > limit {
            Err(over_limit(p.gateway, a))
        } else {
            Ok(a)
        }
    };
    match action {
        Action::Capture => Ok(p.held.amount),
        Action::Cancel | Action::PaidyClose | Action::CancelPrevious | Action::Refresh => {
            Ok(p.held.amount)
        }
        Action::Reauthorize | Action::UpdateTransaction | Action::PaidyUpdate => within(total),
        Action::ChangeAuthorization | Action::ChangeCapture => {
            let a = input.amount.unwrap_or(total);
            if a <= 0 || a > limit {
                return Err(bad(format!(
                    "金額は1円以上、{}以下で指定してください（{}の上限）",
                    yen(limit),
                    gateway_name(p.gateway)
                )));
            }
            if a == p.held.amount {
                return Err(bad(format!(
                    "決済金額は既に{}です。変更後の金額を指定してください",
                    yen(a)
                )));
            }
            Ok(a)
        }
        Action::Refund => {
            refund_amount(p.held.captured, p.held.refunded, input.amount).map_err(|e| bad(e.0))
        }
    }
}

/// Run `action` on the order's payment, exactly once.
pub async fn operate(
    app: &App,
    actor: &Actor,
    number: i64,
    action: Action,
    input: OperateInput,
    key: Option<String>,
) -> Result<OperationResult, AppError> {
    if action == Action::Refresh {
        return refresh(app, actor, number, key).await;
    }
    let key = check_key(key)?;
    let request = serde_json::json!({
        "order": number, "action": action.code(), "amount": input.amount, "capture": input.capture,
    })
    .to_string();
    let now = app.now();
    let (mut tx, order) = match lock_order(app, actor, number, &key, &request).await? {
        Ok(x) => x,
        Err(first) => return Ok(first),
    };
    let p = store::by_order_for_update(&mut tx, order.id)
        .await?
        .ok_or_else(no_payment)?;
    if let Some(v) = input.expected_version
        && v != p.version
    {
        return Err(AppError::Stale { current: p.version });
    }
    let open = store::open_operation(tx.conn(), order.id).await?;
    let previous = store::previous(tx.conn(), p.id).await?;
    payment::check(&facts(&order, &p, open.is_some(), &previous, now), action)
        .map_err(|e| AppError::conflict("payment_action_not_allowed", e.0))?;
    let amount = target_amount(action, &order, &p, &input)?;
    let gw = app.gateways().get(p.gateway)?;
    let op = NewOperation {
        shop_id: actor.shop_id,
        payment_id: Some(p.id),
        order_id: order.id,
        action: action.code(),
        idempotency_key: &key,
        request: &request,
        amount,
        actor: &actor.name,
    };
    let op_id = match journal(app, tx, op, now).await? {
        Ok(id) => id,
        Err(first) => return Ok(first),
    };

    let current = parse_ref(&p.held.ref_json)?;
    let verdict = match action {
        Action::Capture => match gw.capture(&current, amount).await {
            Err(e @ GatewayError::Refused { lapsed: true, .. }) => {
                lapsed(e, gw.query(&current).await.ok(), &p.held)
            }
            r => done(r),
        },
        Action::Cancel | Action::PaidyClose => done(gw.cancel(&current, now).await),
        Action::Refund => {
            let whole = amount == p.held.captured - p.held.refunded;
            done(gw.refund(&current, (!whole).then_some(amount)).await)
        }
        Action::Reauthorize => match gw
            .reauthorize(&current, amount, false, &order_ref(number, op_id))
            .await
        {
            Ok((r, st)) => changed(&current, r, st, Replaced::Closed),
            Err(e) => Verdict::from_error(e),
        },
        Action::PaidyUpdate => match gw.update_order(&current, amount, &contents(&order)).await {
            Ok((r, st)) => changed(&current, r, st, Replaced::Closed),
            Err(e) => Verdict::from_error(e),
        },
        Action::ChangeAuthorization | Action::ChangeCapture | Action::UpdateTransaction => {
            let captured = p.held.state == PaymentState::Captured;
            let capture = captured || input.capture == Some(true);
            if p.gateway == Gateway::Paygent && amount > p.held.amount {
                return two_step::grow_paygent(
                    app,
                    &actor.name,
                    number,
                    op_id,
                    &*gw,
                    &current,
                    amount,
                    captured,
                    now,
                )
                .await;
            }
            match gw.change_amount(&current, amount, capture).await {
                Ok((r, st)) => changed(&current, r, st, Replaced::Closed),
                Err(e) => Verdict::from_error(e),
            }
        }
        Action::CancelPrevious => two_step::cancel_previous(&*gw, &previous, now)
            .await
            .map_err(|e| unrecorded(op_id, e))?,
        // `refresh` runs it, before this match.
        Action::Refresh => Verdict::Failed {
            code: String::new(),
            message: "決済状況の確認は別の手順で行います".into(),
            status: None,
        },
    };
    // A refusal may mean the payment moved on at the gateway (an authorization that lapsed):
    // record what it holds now, so the screen shows why.
    let verdict = match verdict {
        Verdict::Failed {
            code,
            message,
            status: None,
        } if !code.is_empty() => Verdict::Failed {
            status: gw.query(&current).await.ok(),
            code,
            message,
        },
        v => v,
    };
    settle(app, &actor.name, op_id, verdict).await
}

/// The order's lines as a gateway keeps them: products, then what changes the amount
/// (fee, discount, points) as lines of their own, so lines + shipping = お支払い合計.
fn contents(o: &Order) -> OrderContents {
    let t = &o.draft.totals;
    let mut lines: Vec<OrderLine> = o
        .draft
        .items
        .iter()
        .map(|i| OrderLine {
            code: i.product_code.clone(),
            title: [
                i.product_name.as_str(),
                i.class1.as_str(),
                i.class2.as_str(),
            ]
            .into_iter()
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
            unit_price: i.unit_price.get(),
            quantity: i.quantity,
        })
        .collect();
    for (code, title, amount) in [
        ("fee", "手数料", t.fee.get()),
        ("discount", "値引き", -t.discount.get()),
        ("points", "ポイント利用", -t.points_used),
    ] {
        if amount != 0 {
            lines.push(OrderLine {
                code: code.into(),
                title: title.into(),
                unit_price: amount,
                quantity: 1,
            });
        }
    }
    OrderContents {
        lines,
        shipping: t.shipping_fee.get(),
        tax: t.tax.by_rate.iter().map(|r| r.tax.get()).sum(),
    }
}

/// The state to keep when the gateway reports `now` for a payment juchu held as `before`: a
/// lapsed authorization stays lapsed though the gateway still calls it authorized.
fn still_lapsed(before: PaymentState, now: PaymentState) -> PaymentState {
    match (before, now) {
        (PaymentState::Expired, PaymentState::Authorized) => PaymentState::Expired,
        _ => now,
    }
}

/// A capture the gateway refused because the authorization's period is over: the payment
/// is 期限切れ from now on, whatever status the gateway still shows for it (`now`: what it
/// answered when asked just after).
fn lapsed(e: GatewayError, now: Option<GatewayStatus>, held: &Held) -> Verdict {
    let mut st = now.unwrap_or_else(|| GatewayStatus {
        state: held.state,
        gateway_status: held.gateway_status.clone(),
        amount: held.amount,
        captured: held.captured,
        refunded: held.refunded,
        expires_at: None,
        reference: None,
    });
    if st.state == PaymentState::Authorized {
        st.state = PaymentState::Expired;
    }
    match Verdict::from_error(e) {
        Verdict::Failed { code, message, .. } => Verdict::Failed {
            code,
            message,
            status: Some(st),
        },
        v => v,
    }
}

fn done(r: Result<GatewayStatus, GatewayError>) -> Verdict {
    match r {
        Ok(status) => Verdict::Done {
            status,
            new_ref: None,
            message: String::new(),
            previous_cancelled: vec![],
        },
        Err(e) => Verdict::from_error(e),
    }
}

fn changed(old: &PaymentRef, new: PaymentRef, st: GatewayStatus, how: Replaced) -> Verdict {
    let new_ref = (new != *old).then_some((new, how));
    Verdict::Done {
        status: st,
        new_ref,
        message: String::new(),
        previous_cancelled: vec![],
    }
}

/// The operation `op_id` with its order and payment locked — the order first, as in every
/// transaction that writes a payment, so two of them never wait on each other (PostgreSQL
/// locks row by row: a payment locked before its order deadlocks against an operation that
/// holds the order and asks for the payment). The operation is read again under the lock:
/// another process settling it (two recovery jobs, or the caller and the job) has either
/// committed by now or waits.
async fn lock_op(
    tx: &mut Tx,
    op_id: i64,
) -> Result<(Operation, Order, Option<store::Payment>), AppError> {
    let (shop_id, order_id) = store::operation(tx.conn(), op_id)
        .await?
        .map(|o| (o.shop_id, o.order_id))
        .ok_or(AppError::NotFound("決済処理"))?;
    let number = orders::number_of(tx.conn(), order_id)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    let order = orders::get_for_update(tx, shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    let op = store::operation(tx.conn(), op_id)
        .await?
        .ok_or(AppError::NotFound("決済処理"))?;
    let payment = store::by_order_for_update(tx, order_id).await?;
    Ok((op, order, payment))
}

/// Any error once the gateway has been called: something may have happened there, so the
/// answer never says "nothing was done"; the operation stays open for the recovery job.
fn unrecorded(op_id: i64, e: AppError) -> AppError {
    match e {
        e @ AppError::Unrecorded { .. } => e,
        e => AppError::Unrecorded {
            operation_id: op_id,
            cause: e.to_string(),
        },
    }
}

/// Commit an operation's outcome after its gateway call. A transaction the database gave up
/// on (deadlock, busy) is tried again; any other failure leaves the operation open for the
/// recovery job — which settles it from the gateway's answer — and says so.
async fn settle(
    app: &App,
    actor: &str,
    op_id: i64,
    verdict: Verdict,
) -> Result<OperationResult, AppError> {
    let mut attempt = 0u64;
    loop {
        match settle_once(app, actor, op_id, verdict.clone()).await {
            Ok(r) => return Ok(r),
            Err(AppError::Store(e)) if e.is_transient() && attempt < 4 => {
                attempt += 1;
                tracing::warn!(operation = op_id, error = %e, attempt, "settling again");
                tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
            }
            Err(e) => return Err(unrecorded(op_id, e)),
        }
    }
}

/// Commit an operation's outcome with the payment's new state, the order's history line,
/// the fee and the automatic order status — all in one transaction.
async fn settle_once(
    app: &App,
    actor: &str,
    op_id: i64,
    verdict: Verdict,
) -> Result<OperationResult, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let (op, order, payment) = lock_op(&mut tx, op_id).await?;
    if !op.status.is_open() {
        // Settled elsewhere meanwhile: that outcome stands.
        drop(tx);
        return result_of(app, &op, false).await;
    }
    let label = action_label(&op.action);
    let action = Action::from_code(&op.action);
    let (status, code, message, ok, payment_id) = match verdict {
        Verdict::Created {
            payment: r,
            status,
            mode,
            kind,
            installments,
            masked,
            slip,
            three_ds,
        } => {
            let held = held_after(order_gateway(&order)?, None, &r, &status, true, now)?;
            let slip_json = match &slip {
                Some(x) => serde_json::to_string(x)
                    .map_err(|e| AppError::Internal(format!("payment slip: {e}")))?,
                None => String::new(),
            };
            let id = store::insert(
                &mut tx,
                &NewPayment {
                    shop_id: op.shop_id,
                    order_id: op.order_id,
                    gateway: order_gateway(&order)?,
                    kind,
                    mode,
                    held: &held,
                    three_ds,
                    installments: &installments,
                    masked_card: &masked,
                    slip: &slip_json,
                    due_at: slip.as_ref().map(|x| x.due),
                },
                now,
            )
            .await?;
            orders::set_gateway_ref(&mut tx, op.order_id, r.display_id()).await?;
            if order.draft.status == OrderStatus::PendingPayment {
                // The checkout's payment: the order is complete with it, thanks mail and all,
                // in this same transaction.
                crate::checkout::complete(&mut tx, op.shop_id, actor, &order, slip.as_ref(), now)
                    .await?;
            }
            let m = if let Some(x) = &slip {
                // The buyer pays later: the order waits for it.
                if order.draft.status == OrderStatus::PendingPayment {
                    // The thanks mail carries the payment number.
                } else if order.draft.status == OrderStatus::New {
                    let who = Actor {
                        shop_id: op.shop_id,
                        user_id: None,
                        name: actor.to_owned(),
                        is_admin: false,
                    };
                    crate::orders::apply_status(
                        &mut tx,
                        &who,
                        &order,
                        OrderStatus::AwaitingPayment,
                        now,
                    )
                    .await?;
                    instructions_mail(&mut tx, op.shop_id, actor, &order, x, status.amount, now)
                        .await?;
                } else {
                    instructions_mail(&mut tx, op.shop_id, actor, &order, x, status.amount, now)
                        .await?;
                }
                format!(
                    "{}で{}の支払番号を発行しました（{}、支払期限 {}）",
                    gateway_name(order_gateway(&order)?),
                    yen(status.amount),
                    x.fields
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .chain(x.url.iter().map(|u| format!("支払画面: {u}")))
                        .collect::<Vec<_>>()
                        .join("、"),
                    jst_minute(x.due)
                )
            } else {
                format!(
                    "{}で{}を{}しました（決済ID {}）",
                    gateway_name(order_gateway(&order)?),
                    yen(status.amount),
                    if mode == CaptureMode::AuthAndCapture {
                        "即時売上"
                    } else {
                        "仮売上"
                    },
                    r.display_id()
                )
            };
            (OpStatus::Succeeded, String::new(), m, true, Some(id))
        }
        Verdict::Done {
            status,
            new_ref,
            message,
            previous_cancelled,
        } => {
            let p = payment.as_ref().ok_or(AppError::NotFound("決済"))?;
            for id in previous_cancelled {
                store::set_previous_standing(&mut tx, id, Replaced::Cancelled.code()).await?;
            }
            let current = parse_ref(&p.held.ref_json)?;
            let now_ref = new_ref.as_ref().map(|(r, _)| r).unwrap_or(&current);
            if action == Some(Action::CancelPrevious) {
                // The payment itself is untouched.
            } else {
                let newly = matches!(action, Some(Action::Reauthorize)) || new_ref.is_some();
                let held = held_after(p.gateway, Some(&p.held), now_ref, &status, newly, now)?;
                if let Some((_, how)) = &new_ref {
                    store::add_previous(
                        &mut tx,
                        &NewPrevious {
                            payment_id: p.id,
                            ref_json: &p.held.ref_json,
                            display_id: &p.held.display_id,
                            amount: p.held.amount,
                            reason: if action == Some(Action::Refresh) {
                                "決済会社の管理画面で補正"
                            } else {
                                label
                            },
                            standing: how.code(),
                        },
                        now,
                    )
                    .await?;
                    orders::set_gateway_ref(&mut tx, op.order_id, now_ref.display_id()).await?;
                }
                if !store::set_held(&mut tx, p.id, p.version, &held, now).await? {
                    return Err(AppError::Stale {
                        current: p.version + 1,
                    });
                }
                // What the gateway changed by itself stays on the payment for the operator
                // until juchu's next operation on it.
                if p.kind != Kind::PaidLater {
                    if action == Some(Action::Refresh) {
                        let new_id = new_ref.as_ref().map(|(r, _)| r.display_id());
                        if let Some(n) =
                            chain::change_note(p.gateway, &p.held, &status, new_id, now)
                        {
                            store::set_attention(&mut tx, p.id, &n).await?;
                        }
                    } else if !p.attention.is_empty() {
                        store::set_attention(&mut tx, p.id, "").await?;
                    }
                }
            }
            // A slip paid or lapsed, seen by 決済状況を確認: the order follows, as it does
            // when the gateway's notification brings the news.
            let message = if action == Some(Action::Refresh)
                && p.kind == Kind::PaidLater
                && status.state != p.held.state
            {
                let who = Actor {
                    shop_id: op.shop_id,
                    user_id: None,
                    name: actor.to_owned(),
                    is_admin: false,
                };
                let said = later::later_outcome(&mut tx, &who, &order, p, &status, now).await?;
                format!("{message}。{said}")
            } else {
                message
            };
            if p.gateway == Gateway::Paygent
                && matches!(
                    action,
                    Some(Action::Capture | Action::Cancel | Action::CancelPrevious)
                )
            {
                let s = store::settings(tx.conn(), op.shop_id).await?;
                store::add_fee(
                    &mut tx,
                    &NewFee {
                        shop_id: op.shop_id,
                        operation_id: op.id,
                        order_id: op.order_id,
                        gateway: p.gateway,
                        action: &op.action,
                        fee: s.paygent_fee,
                    },
                    now,
                )
                .await?;
            }
            let m = if message.is_empty() && action == Some(Action::Refund) {
                format!(
                    "払い戻しが完了しました（払い戻し済み合計 {} / 売上 {}、決済状況: {} / {}）",
                    yen(status.refunded),
                    yen(status.captured),
                    state_label(status.state),
                    status.gateway_status
                )
            } else if message.is_empty() {
                format!(
                    "{label}が完了しました（決済状況: {} / {}、決済金額 {}）",
                    state_label(status.state),
                    status.gateway_status,
                    yen(status.amount)
                )
            } else {
                message
            };
            (
                OpStatus::Succeeded,
                String::new(),
                m,
                true,
                payment.as_ref().map(|p| p.id),
            )
        }
        Verdict::Partial {
            status,
            new_ref,
            code,
            message,
            previous_cancelled,
        } => {
            for id in previous_cancelled {
                store::set_previous_standing(&mut tx, id, Replaced::Cancelled.code()).await?;
            }
            // Step one already moved the payment to `new_ref`; refresh what it holds.
            if let (Some(p), Some(r)) = (&payment, &new_ref) {
                let held = held_after(p.gateway, Some(&p.held), r, &status, false, now)?;
                store::set_held(&mut tx, p.id, p.version, &held, now).await?;
            }
            (
                OpStatus::Partial,
                code,
                message,
                false,
                payment.as_ref().map(|p| p.id),
            )
        }
        Verdict::Failed {
            code,
            message,
            status,
        } => {
            if let (Some(p), Some(st)) = (&payment, status) {
                let r = parse_ref(&p.held.ref_json)?;
                let held = held_after(p.gateway, Some(&p.held), &r, &st, false, now)?;
                store::set_held(&mut tx, p.id, p.version, &held, now).await?;
            }
            (
                OpStatus::Failed,
                code,
                message,
                false,
                payment.as_ref().map(|p| p.id),
            )
        }
        Verdict::Unknown { reason } => (
            OpStatus::Unknown,
            String::new(),
            format!("{reason}（同じ操作を繰り返さないでください）"),
            false,
            payment.as_ref().map(|p| p.id),
        ),
    };
    let new_display = store::by_order(tx.conn(), op.order_id)
        .await?
        .map(|p| p.held.display_id)
        .unwrap_or_default();
    store::finish_operation(
        &mut tx,
        op.id,
        &Finish {
            status,
            result_code: &code,
            message: &message,
            new_display_id: &new_display,
            payment_id,
        },
        now,
    )
    .await?;
    let outcome_word = match status {
        OpStatus::Succeeded => "成功",
        OpStatus::Failed => "失敗",
        OpStatus::Unknown | OpStatus::Pending => "確認中",
        OpStatus::Partial => "途中で停止",
    };
    let code_part = if code.is_empty() {
        String::new()
    } else {
        format!(" [{code}]")
    };
    orders::add_history(
        &mut tx,
        op.shop_id,
        op.order_id,
        &history(
            actor,
            now,
            &op.action,
            format!(
                "{label} {}: {outcome_word}{code_part} {message}",
                yen(op.amount)
            ),
            ok || status == OpStatus::Unknown,
        ),
    )
    .await?;
    if status == OpStatus::Succeeded {
        auto_status(&mut tx, actor, op.shop_id, &order, action, now).await?;
    }
    tx.commit().await?;
    let op = store::operation(&mut *app.store.read().await?, op.id)
        .await?
        .ok_or(AppError::NotFound("決済処理"))?;
    result_of(app, &op, false).await
}

/// The mail telling the buyer how to pay (konbini, ATM, net bank), written with the payment
/// number in the same transaction; the shop gets a copy.
async fn instructions_mail(
    tx: &mut Tx,
    shop_id: i64,
    actor: &str,
    order: &Order,
    slip: &juchu_gateway::PaymentSlip,
    amount: i64,
    now: Timestamp,
) -> Result<(), AppError> {
    let shop = juchu_store::shops::by_id(tx.conn(), shop_id)
        .await?
        .ok_or(AppError::NotFound("ショップ"))?;
    let shop_email = juchu_store::shops::email(tx.conn(), shop_id).await?;
    let c = &order.draft.customer;
    let mut lines = vec![
        format!("{} {} 様", c.family_name, c.given_name),
        String::new(),
        format!("{}をご利用いただきありがとうございます。", shop.name),
        format!(
            "ご注文（注文番号 {}）のお支払い方法をご案内します。",
            order.number
        ),
        String::new(),
        format!("お支払い方法: {}", order.draft.payment_method.label()),
        format!("お支払い金額: {}", yen(amount)),
    ];
    lines.extend(slip.fields.iter().map(|(k, v)| format!("{k}: {v}")));
    if let Some(u) = &slip.url {
        lines.push(format!("お支払い画面: {u}"));
    }
    lines.push(format!("お支払い期限: {}", jst_minute(slip.due)));
    lines.push(String::new());
    lines.push("お支払い期限を過ぎるとお支払いいただけなくなります。".into());
    juchu_store::mails::enqueue(
        tx,
        &juchu_store::mails::NewMail {
            shop_id,
            order_id: Some(order.id),
            kind: "payment_instructions",
            to: &order.draft.email,
            bcc: &shop_email,
            subject: &format!(
                "【{}】お支払い方法のご案内（注文番号 {}）",
                shop.name, order.number
            ),
            body: &lines.join("\n"),
            sent_by: actor,
        },
        now,
    )
    .await?;
    Ok(())
}

fn order_gateway(o: &Order) -> Result<Gateway, AppError> {
    kind_of(o)
        .map(|(g, _)| g)
        .ok_or_else(|| AppError::Internal("the order has no online payment method".into()))
}

/// The shop's optional automatic 対応状況: 売上確定 → 入金済み, 取消 / クローズ → キャンセル.
/// A status the order cannot take is noted in its history, never an error: the payment
/// operation itself stands.
async fn auto_status(
    tx: &mut Tx,
    actor: &str,
    shop_id: i64,
    order: &Order,
    action: Option<Action>,
    now: Timestamp,
) -> Result<(), AppError> {
    if !store::settings(tx.conn(), shop_id).await?.auto_status {
        return Ok(());
    }
    let to = match action {
        Some(Action::Capture) => OrderStatus::Paid,
        Some(Action::Cancel | Action::PaidyClose) => OrderStatus::Cancelled,
        _ => return Ok(()),
    };
    if order.draft.status == to {
        return Ok(());
    }
    let who = Actor {
        shop_id,
        user_id: None,
        name: format!("{actor}（自動）"),
        is_admin: false,
    };
    match order.standing().can_change_status(to) {
        Ok(()) => crate::orders::apply_status(tx, &who, order, to, now).await,
        Err(r) => {
            orders::add_history(
                tx,
                shop_id,
                order.id,
                &history(
                    &who.name,
                    now,
                    "auto_status",
                    format!("対応状況を「{}」にできませんでした: {r}", to.label()),
                    false,
                ),
            )
            .await?;
            Ok(())
        }
    }
}

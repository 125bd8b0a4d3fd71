//! 与信: a payment made for an order — from the back office or the API (a card token or a
//! test card), a storefront checkout (with 3-D Secure), or Paidy Checkout's payment taken.

use super::*;
use anyhow::Context;

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

pub(super) fn installments_of(s: Option<&str>) -> Result<(Installments, String), AppError> {
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

pub(super) fn mask(card: &str) -> String {
    let digits: String = card.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len();
    format!(
        "{}{}",
        "*".repeat(n.saturating_sub(4)),
        &digits[n.saturating_sub(4)..]
    )
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
        Authorization::ThreeDs { .. } => Err(AppError::bug("3-D Secure redirect outside checkout")),
    }
}

/// What an authorization needs once its rules passed on the locked order.
struct AuthorizationPlan {
    order: Order,
    kind: Kind,
    card: CardRef,
    amount: Yen,
    gw: std::sync::Arc<dyn GatewayApi>,
}

/// The rules of 与信 on the locked order: the order is the checkout's (決済処理中) exactly when
/// the request comes from the checkout, it is paid through a gateway by card or Paidy, it has
/// no payment and no operation in doubt, one card source was given, and the total is one
/// the gateway can carry.
async fn authorization_plan(
    app: &App,
    tx: &mut Tx,
    order: &Order,
    input: &AuthorizeInput,
) -> Result<AuthorizationPlan, AppError> {
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
    let Some((gateway, kind)) = kind_of(order) else {
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
    let amount = order.draft.totals.payment_total;
    if amount <= Yen::ZERO {
        return Err(AppError::conflict(
            "nothing_to_pay",
            "お支払い合計が0円のため与信は不要です",
        ));
    }
    if amount.get() > payment::amount_limit(gateway) {
        return Err(over_limit(gateway, amount));
    }
    let gw = app.gateways().get(gateway)?;
    Ok(AuthorizationPlan {
        order: order.clone(),
        kind,
        card,
        amount,
        gw,
    })
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
    let started = journaled(app, actor, number, &key, &request, async |tx, order| {
        let plan = authorization_plan(app, tx, order, &input).await?;
        let entry = Entry {
            action: OpAction::Authorize,
            amount: plan.amount,
            payment_id: None,
        };
        Ok((entry, plan))
    })
    .await?;
    let (
        op_id,
        AuthorizationPlan {
            order,
            kind,
            card,
            amount,
            gw,
        },
    ) = match started {
        Journaled::Repeat(first) => return Ok(Authorization::Settled(first)),
        Journaled::Started { op_id, plan } => (op_id, plan),
    };

    let masked = input
        .masked_card
        .clone()
        .or_else(|| input.test_card_number.as_deref().map(mask))
        .unwrap_or_default();
    let req = AuthorizeRequest {
        order_ref: order_ref(number, op_id),
        amount,
        tax: order_tax(&order)?,
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
        Ok(AuthorizeOutcome::Done { payment, status }) => Verdict::Created(Created {
            payment,
            status,
            mode,
            kind,
            installments: installments_label,
            masked,
            slip: None,
            three_ds,
            merchant: gw.merchant(),
        }),
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
    let (gateway, kind) = kind_of(&order).context("3-D Secure on an order without a gateway")?;
    let gw = app.gateways().get(gateway)?;
    let request: serde_json::Value = serde_json::from_str(&op.request).unwrap_or_default();
    let verdict = match gw.complete_3ds(&r).await {
        Ok(st) if matches!(st.state, PaymentState::Authorized | PaymentState::Captured) => {
            Verdict::Created(Created {
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
                merchant: gw.merchant(),
            })
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
// Long: every check Paidy's answer must pass before the payment is taken, then the close when one fails.
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
    let started = journaled(app, actor, number, &key, &request, async |tx, order| {
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
        // Held by another order already: taken here it would be paid twice.
        let taken = store::by_gateway_id(
            tx.conn(),
            actor.shop_id,
            Gateway::Paidy,
            store::GatewayId::Display(payment_id),
        )
        .await?
        .is_some();
        let amount = order.draft.totals.payment_total;
        let gw = app.gateways().get(Gateway::Paidy)?;
        let entry = Entry {
            action: OpAction::Authorize,
            amount,
            payment_id: None,
        };
        Ok((entry, (taken, amount, gw)))
    })
    .await?;
    let (op_id, (taken, amount, gw)) = match started {
        Journaled::Repeat(first) => return Ok(first),
        Journaled::Started { op_id, plan } => (op_id, plan),
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
        Ok(st) if st.state == PaymentState::Authorized && st.amount == amount => {
            Verdict::Created(Created {
                payment: r,
                status: st,
                mode: CaptureMode::AuthOnly,
                kind: Kind::Paidy,
                installments: String::new(),
                masked: String::new(),
                slip: None,
                three_ds: false,
                merchant: gw.merchant(),
            })
        }
        Ok(st) => {
            let closed = st.state == PaymentState::Authorized && gw.cancel(&r, now).await.is_ok();
            Verdict::Failed {
                code: "paidy_mismatch".into(),
                message: format!(
                    "Paidyの決済 {payment_id}（{}、{}）はご注文のお支払い合計 {} と一致しません{}",
                    st.gateway_status,
                    st.amount,
                    amount,
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

/// A checkout's payment for an order that is no longer 決済処理中 (completed, or removed by
/// the sweep meanwhile).
pub(super) fn checkout_closed() -> AppError {
    AppError::conflict(
        "checkout_closed",
        "このご注文のお手続きは終了しています。もう一度ご購入手続きをしてください",
    )
}

pub(super) fn capture_mode_of(request: &serde_json::Value) -> CaptureMode {
    if request["capture"].as_bool().unwrap_or(false) {
        CaptureMode::AuthAndCapture
    } else {
        CaptureMode::AuthOnly
    }
}

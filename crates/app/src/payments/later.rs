//! Payments the buyer makes later — konbini, ATM / Pay-easy, net bank: the request that gives
//! the buyer a payment number, and what the gateways say afterwards. A notification (Paygent
//! 差分通知, GMO 結果通知) or the pull job (Paygent 差分照会, a query per open payment) only
//! names the payment: juchu then asks the gateway where it stands and applies that, so a
//! forged or replayed notification cannot change anything by itself.
//!
//! Paid → 入金済み. Past the due date unpaid: konbini and ATM / Pay-easy → キャンセル (the
//! items go to the cancelled-order stock list; stock is never returned by itself); net bank →
//! the order stays 入金待ち and is flagged for the operator (the manuals' rule: a late net-bank
//! payment can still arrive).

use juchu_domain::payment_method::PaymentMethod;
use juchu_gateway::{LaterMethod, LaterRequest};

use super::*;

/// Parameters of a payment-number request.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct LaterInput {
    /// Konbini: the chain (GMO Convenience code `00001` Lawson, `10001` Seven-Eleven …;
    /// Paygent cvs_company_id).
    #[serde(default)]
    pub store: Option<String>,
    /// Days until the due date (default 7).
    #[serde(default)]
    pub due_days: Option<u8>,
}

fn later_method(m: PaymentMethod, input: &LaterInput) -> Result<LaterMethod, AppError> {
    match m {
        PaymentMethod::PaygentKonbini | PaymentMethod::GmoKonbini => {
            let store = input
                .store
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    AppError::Invalid(juchu_domain::Invalid::one(
                        "store",
                        "required",
                        "コンビニ決済は支払先のコンビニ（store）を指定してください",
                    ))
                })?;
            Ok(LaterMethod::Konbini {
                store: store.to_owned(),
            })
        }
        PaymentMethod::PaygentAtm | PaymentMethod::GmoPayeasy => Ok(LaterMethod::PayEasy),
        PaymentMethod::PaygentNetbank => Ok(LaterMethod::NetBank),
        other => Err(AppError::conflict(
            "not_paid_later",
            format!("支払方法「{}」は後払いの決済ではありません", other.label()),
        )),
    }
}

/// Issue the order's payment number (konbini, ATM / Pay-easy, net bank) for its お支払い合計;
/// the order becomes 入金待ち. Journaled like every operation.
pub async fn request_later(
    app: &App,
    actor: &Actor,
    number: i64,
    input: LaterInput,
    key: Option<String>,
) -> Result<OperationResult, AppError> {
    let key = check_key(key)?;
    let request = serde_json::json!({
        "order": number, "action": "request_payment", "store": input.store, "due_days": input.due_days,
    })
    .to_string();
    let started = journaled(app, actor, number, &key, &request, async |tx, order| {
        let method = later_method(order.draft.payment_method, &input)?;
        let gateway = order_gateway(order)?;
        if store::by_order(tx.conn(), order.id).await?.is_some() {
            return Err(AppError::conflict(
                "payment_exists",
                "この受注には支払番号が発行済みです",
            ));
        }
        if let Some(op) = store::open_operation(tx.conn(), order.id).await? {
            return Err(in_doubt(&op));
        }
        let due_days = input.due_days.unwrap_or(7);
        if !(1..=60).contains(&due_days) {
            return Err(AppError::Invalid(juchu_domain::Invalid::one(
                "due_days",
                "out_of_range",
                "支払期限は1〜60日で指定してください",
            )));
        }
        let amount = order.draft.totals.payment_total;
        let gw = app.gateways().get(gateway)?;
        let entry = Entry {
            action: OpAction::RequestPayment,
            amount,
            payment_id: None,
        };
        Ok((entry, (order.clone(), method, due_days, amount, gw)))
    })
    .await?;
    let (op_id, (order, method, due_days, amount, gw)) = match started {
        Journaled::Repeat(first) => return Ok(first),
        Journaled::Started { op_id, plan } => (op_id, plan),
    };
    let c = &order.draft.customer;
    let req = LaterRequest {
        order_ref: order_ref(number, op_id),
        amount,
        method,
        customer_name: format!("{} {}", c.family_name, c.given_name),
        customer_kana: format!("{} {}", c.family_kana, c.given_kana),
        tel: c.tel.clone(),
        due_days,
    };
    let verdict = match gw.request_payment(&req).await {
        Ok((payment, slip)) => Verdict::Created(Created {
            status: GatewayStatus::new(PaymentState::Pending, "", amount),
            payment,
            mode: CaptureMode::AuthAndCapture,
            kind: Kind::PaidLater,
            installments: String::new(),
            masked: String::new(),
            slip: Some(slip),
            three_ds: false,
            merchant: gw.merchant(),
        }),
        Err(e) => Verdict::from_error(e),
    };
    settle(app, &actor.name, op_id, verdict).await
}

/// What became of one notification or pulled status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Applied {
    pub order_number: i64,
    pub state: String,
    pub message: String,
}

/// Ask the gateway where `p` stands and apply it: the payment's state, and the order's
/// status for a paid or lapsed payment. `None` when nothing changed.
pub(super) async fn apply_truth(
    app: &App,
    p: &store::Payment,
    via: &str,
) -> Result<Option<Applied>, AppError> {
    match ask(app, p).await? {
        Some(st) => apply(app, p, &st, via).await,
        None => Ok(None),
    }
}

/// What the gateway says of the paid-later payment `p`; `None` when there is nothing to say
/// yet (a net-bank request the buyer has not started, before its due date).
pub(super) async fn ask(app: &App, p: &store::Payment) -> Result<Option<GatewayStatus>, AppError> {
    let gw = app.gateways().get(p.gateway)?;
    match gw.query(&parse_ref(&p.held.ref_json)?).await {
        Ok(st) => Ok(Some(st)),
        // A Paygent net-bank payment exists only once the buyer picks a bank; none by the
        // due date means the buyer never started paying.
        Err(GatewayError::Refused { code, .. })
            if code == "13001" && p.gateway == Gateway::Paygent =>
        {
            Ok(p.due_at
                .filter(|d| *d < app.now())
                .map(|_| GatewayStatus::new(PaymentState::Expired, "未申込", p.held.amount)))
        }
        Err(e) => Err(AppError::conflict("gateway_query_failed", e.to_string())),
    }
}

/// Apply what the gateway said (`st`) to the payment and its order.
pub(super) async fn apply(
    app: &App,
    p: &store::Payment,
    st: &GatewayStatus,
    via: &str,
) -> Result<Option<Applied>, AppError> {
    let now = app.now();
    let st = st.clone();
    let mut tx = app.store.begin().await?;
    let number = orders::number_of(tx.conn(), p.order_id)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    let order = orders::get_for_update(&mut tx, p.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    let cur = store::by_order_for_update(&mut tx, p.order_id)
        .await?
        .ok_or(AppError::NotFound("決済"))?;
    if cur.held.state == st.state && cur.held.amount == st.amount {
        return Ok(None);
    }
    let r = parse_ref(&cur.held.ref_json)?;
    let held = held_after(cur.gateway, Some(&cur.held), &r, &st, false, now)?;
    store::set_held(&mut tx, cur.id, cur.version, &held, now).await?;
    let who = Actor {
        shop_id: p.shop_id,
        user_id: None,
        name: format!(
            "{}（{}）",
            cur.gateway.name(),
            if via == "push" { "通知" } else { "照会" }
        ),
        is_admin: false,
    };
    let message = later_outcome(&mut tx, &who, &order, &cur, &st, now).await?;
    orders::add_history(
        &mut tx,
        p.shop_id,
        p.order_id,
        &history(&who.name, now, "notice", message.clone(), true),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(Applied {
        order_number: number,
        state: st.state.code().to_owned(),
        message,
    }))
}

/// What a paid-later payment's new state means for its order: 入金済み when paid, キャンセル
/// when a konbini / ATM slip lapsed unpaid, a note for the operator when a net-bank payment
/// lapsed (it may still be paid) or money arrived for an order that moved on. The message
/// for the order's history.
pub(super) async fn later_outcome(
    tx: &mut Tx,
    who: &Actor,
    order: &Order,
    cur: &store::Payment,
    st: &GatewayStatus,
    now: Timestamp,
) -> Result<String, AppError> {
    let method = order.draft.payment_method;
    let mut message = format!(
        "決済状況が「{}」になりました（{} / {}）",
        state_label(st.state),
        st.gateway_status,
        st.amount
    );
    match st.state {
        PaymentState::Paid => {
            message = format!("入金を確認しました（{}、{}）", method.label(), st.amount);
            if matches!(
                order.draft.status,
                OrderStatus::AwaitingPayment | OrderStatus::New
            ) {
                crate::orders::apply_status(tx, who, order, OrderStatus::Paid, now).await?;
                store::set_attention(tx, cur.id, "").await?;
            } else {
                // Paid after all (a late net-bank payment) into an order that moved on.
                let a = format!(
                    "対応状況が「{}」の受注に入金がありました。返金や受注の復活など、対応を決めてください",
                    order.draft.status.label()
                );
                store::set_attention(tx, cur.id, &a).await?;
                message = format!("{message}。{a}");
            }
        }
        PaymentState::Expired if method == PaymentMethod::PaygentNetbank => {
            let a = "支払期限を過ぎましたが、銀行ネット決済は期限後に入金されることがあります。入金を確認し、対応状況を決めてください";
            store::set_attention(tx, cur.id, a).await?;
            message = format!("支払期限切れ（銀行ネット決済）: {a}");
        }
        PaymentState::Expired | PaymentState::Cancelled => {
            message = if st.state == PaymentState::Expired {
                format!("支払期限までに入金がありませんでした（{}）", method.label())
            } else {
                format!("決済会社で取り消されました（{}）", method.label())
            };
            if order.draft.status != OrderStatus::Cancelled
                && order
                    .standing()
                    .can_change_status(OrderStatus::Cancelled)
                    .is_ok()
            {
                crate::orders::apply_status(tx, who, order, OrderStatus::Cancelled, now).await?;
            }
        }
        _ => {}
    }
    Ok(message)
}

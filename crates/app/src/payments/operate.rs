//! The operations on an existing payment (売上確定, キャンセル, オーソリ変更, 売上変更, 取引更新,
//! 再オーソリ, Paidy 更新 / クローズ / 払い戻し, 旧取引を取消), each on the journal.

use super::*;

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

/// An order total one payment at the gateway cannot carry.
pub(super) fn over_limit(g: Gateway, amount: Yen) -> AppError {
    AppError::conflict(
        "amount_over_limit",
        format!(
            "お支払い合計 {} は{}で扱える上限（{}）を超えています",
            amount,
            g.name(),
            yen(payment::amount_limit(g))
        ),
    )
}

/// The amount an operation works with, checked before anything is journaled.
pub(super) fn target_amount(
    action: Action,
    o: &Order,
    p: &store::Payment,
    input: &OperateInput,
) -> Result<Yen, AppError> {
    let bad = |m: String| AppError::Invalid(juchu_domain::Invalid::one("amount", "invalid", m));
    let total = o.draft.totals.payment_total;
    let limit = payment::amount_limit(p.gateway);
    let within = |a: Yen| {
        if a.get() > limit {
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
            let a = input.amount.unwrap_or(total.get());
            let a = match Yen::new(a) {
                Ok(a) if a > Yen::ZERO && a.get() <= limit => a,
                _ => {
                    return Err(bad(format!(
                        "金額は1円以上、{}以下で指定してください（{}の上限）",
                        yen(limit),
                        p.gateway.name()
                    )));
                }
            };
            if a == p.held.amount {
                return Err(bad(format!(
                    "決済金額は既に{a}です。変更後の金額を指定してください"
                )));
            }
            Ok(a)
        }
        Action::Refund => {
            let a = refund_amount(p.held.captured.get(), p.held.refunded.get(), input.amount)
                .map_err(|e| bad(e.0))?;
            // At most what was captured: within range.
            Ok(Yen::new(a).context("refund amount")?)
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
    operate_as(app, actor, number, action, input, key, Rules::Panel).await
}

/// The rules an operation is held to beyond the domain's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rules {
    /// The payment panel's and the API's: `payment::check`.
    Panel,
    /// 一括処理 (seed 004 §8): a capture is also refused while the order's total and the
    /// payment's amount differ, whatever the gateway would allow — the change is sent first
    /// (取引更新).
    Bulk,
}

impl Rules {
    fn check(self, f: &payment::Facts, action: Action) -> Result<(), AppError> {
        if self == Rules::Bulk && action == Action::Capture && f.order_total != f.amount {
            return Err(AppError::conflict(
                "amount_differs",
                format!(
                    "受注金額（{}）と決済金額（{}）が異なるため一括処理できません。受注詳細で「取引更新」（Paidyは「更新」）を行ってから実行してください",
                    yen(f.order_total),
                    yen(f.amount)
                ),
            ));
        }
        Ok(())
    }
}

// Long: one match over every panel action, so each action's gateway call reads in one place.
pub(crate) async fn operate_as(
    app: &App,
    actor: &Actor,
    number: i64,
    action: Action,
    input: OperateInput,
    key: Option<String>,
    rules: Rules,
) -> Result<OperationResult, AppError> {
    if action == Action::Refresh {
        return refresh(app, actor, number, key).await;
    }
    let key = check_key(key)?;
    let request = request_of(number, action, &input);
    let now = app.now();
    let started = journaled(app, actor, number, &key, &request, async |tx, order| {
        let p = store::by_order_for_update(tx, order.id)
            .await?
            .ok_or_else(no_payment)?;
        if let Some(v) = input.expected_version
            && v != p.version
        {
            return Err(AppError::Stale { current: p.version });
        }
        let open = store::open_operation(tx.conn(), order.id).await?;
        let previous = store::previous(tx.conn(), p.id).await?;
        let f = facts(order, &p, open.is_some(), &previous, now);
        let (entry, amount, gw) = checked(app, &f, order, &p, action, &input, rules)?;
        Ok((entry, (order.clone(), p, previous, amount, gw)))
    })
    .await?;
    let (op_id, (order, p, previous, amount, gw)) = match started {
        Journaled::Repeat(first) => return Ok(first),
        Journaled::Started { op_id, plan } => (op_id, plan),
    };

    let current = parse_ref(&p.held.ref_json)?;
    let verdict = match action {
        Action::Capture | Action::Cancel | Action::PaidyClose | Action::Refund => {
            return settle(
                app,
                &actor.name,
                op_id,
                on_payment(&*gw, action, &p, amount, now).await?,
            )
            .await;
        }
        Action::Reauthorize => match gw
            .reauthorize(&current, amount, false, &order_ref(number, op_id))
            .await
        {
            Ok((r, st)) => changed(&current, r, st, Replaced::Closed),
            Err(e) => Verdict::from_error(e),
        },
        Action::PaidyUpdate => match gw.update_order(&current, amount, &contents(&order)?).await {
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
    let verdict = with_status_after_refusal(&*gw, &current, verdict).await;
    settle(app, &actor.name, op_id, verdict).await
}

/// What an operation's journal row keeps of its request: a repeat with the same key must
/// say the same.
pub(super) fn request_of(number: i64, action: Action, input: &OperateInput) -> String {
    serde_json::json!({
        "order": number, "action": action.code(), "amount": input.amount, "capture": input.capture,
    })
    .to_string()
}

/// The rules of `action` on the locked order and payment (`f`: their facts; the domain's
/// rules, then `rules`), and what the journal row says: its entry, the amount, the gateway
/// to call.
pub(super) fn checked(
    app: &App,
    f: &Facts,
    order: &Order,
    p: &store::Payment,
    action: Action,
    input: &OperateInput,
    rules: Rules,
) -> Result<(Entry, Yen, Arc<dyn GatewayApi>), AppError> {
    payment::check(f, action).map_err(|e| AppError::conflict("payment_action_not_allowed", e.0))?;
    rules.check(f, action)?;
    let amount = target_amount(action, order, p, input)?;
    let gw = app.gateways().get(p.gateway)?;
    same_merchant(&*gw, p)?;
    let entry = Entry {
        action: OpAction::Panel(action),
        amount,
        payment_id: Some(p.id),
    };
    Ok((entry, amount, gw))
}

/// The gateway call of an action on the payment as it stands — 売上確定, 取消 / クローズ,
/// 払い戻し, the actions a bulk run takes — and what it came to.
pub(super) async fn on_payment(
    gw: &dyn GatewayApi,
    action: Action,
    p: &store::Payment,
    amount: Yen,
    now: Timestamp,
) -> Result<Verdict, AppError> {
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
            let whole = Ok(amount) == p.held.captured.checked_sub(p.held.refunded);
            done(gw.refund(&current, (!whole).then_some(amount)).await)
        }
        other => {
            return Err(AppError::Internal(anyhow::anyhow!(
                "{} is not an action on the payment as it stands",
                other.code()
            )));
        }
    };
    Ok(with_status_after_refusal(gw, &current, verdict).await)
}

/// A refusal may mean the payment moved on at the gateway (an authorization that lapsed):
/// record what it holds now, so the screen shows why.
async fn with_status_after_refusal(
    gw: &dyn GatewayApi,
    current: &PaymentRef,
    verdict: Verdict,
) -> Verdict {
    match verdict {
        Verdict::Failed {
            code,
            message,
            status: None,
        } if !code.is_empty() => Verdict::Failed {
            status: gw.query(current).await.ok(),
            code,
            message,
        },
        v => v,
    }
}

/// The order's lines as a gateway keeps them: products, then what changes the amount
/// (fee, discount, points) as lines of their own, so lines + shipping = お支払い合計.
pub(super) fn contents(o: &Order) -> Result<OrderContents, AppError> {
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
            unit_price: i.unit_price,
            quantity: i.quantity,
        })
        .collect();
    for (code, title, amount) in [
        ("fee", "手数料", Ok(t.fee)),
        ("discount", "値引き", Yen::ZERO.checked_sub(t.discount)),
        ("points", "ポイント利用", Yen::new(-t.points_used)),
    ] {
        let amount = amount.context("the order's contents")?;
        if amount != Yen::ZERO {
            lines.push(OrderLine {
                code: code.into(),
                title: title.into(),
                unit_price: amount,
                quantity: 1,
            });
        }
    }
    Ok(OrderContents {
        lines,
        shipping: t.shipping_fee,
        tax: order_tax(o)?,
    })
}

//! Settling operations whose outcome was lost, by asking the gateway: the recovery job and
//! the 決済状況を確認 button.

use super::*;
use anyhow::Context;

/// 決済状況を確認: settle an operation whose answer was lost, then ask the gateway where the
/// payment stands and record it. Journaled like every operation (its own id, the key, the
/// history line), so it never overwrites what a concurrent operation just wrote.
pub async fn refresh(
    app: &App,
    actor: &Actor,
    number: i64,
    key: Option<String>,
) -> Result<OperationResult, AppError> {
    let open = {
        let mut conn = app.store.read().await?;
        let order = orders::get(&mut conn, actor.shop_id, number)
            .await?
            .ok_or(AppError::NotFound("受注"))?;
        store::open_operation(&mut conn, order.id).await?
    };
    if let Some(op) = open {
        if op.status == OpStatus::Pending
            && op.created_at > app.now() - SignedDuration::from_secs(REPEAT_WAIT.as_secs() as i64)
        {
            // Its caller is still waiting for the gateway.
            return result_of(app, &op, false).await;
        }
        resolve(app, &op).await?;
    }
    let key = check_key(key)?;
    let request =
        serde_json::json!({"order": number, "action": Action::Refresh.code()}).to_string();
    let started = journaled(app, actor, number, &key, &request, async |tx, order| {
        let p = store::by_order_for_update(tx, order.id)
            .await?
            .ok_or_else(no_payment)?;
        if let Some(op) = store::open_operation(tx.conn(), order.id).await? {
            return Err(in_doubt(&op));
        }
        let gw = app.gateways().get(p.gateway)?;
        same_merchant(&*gw, &p)?;
        let entry = Entry {
            action: OpAction::Panel(Action::Refresh),
            amount: p.held.amount,
            payment_id: Some(p.id),
        };
        Ok((entry, (p, gw)))
    })
    .await?;
    let (op_id, (p, gw)) = match started {
        Journaled::Repeat(first) => return Ok(first),
        Journaled::Started { op_id, plan } => (op_id, plan),
    };
    let verdict = match gw.query(&parse_ref(&p.held.ref_json)?).await {
        // Cancelled at the gateway though juchu held it live: an operator's 補正 on
        // Paygent's screen leaves a new payment in its place.
        Ok(st)
            if st.state == PaymentState::Cancelled
                && matches!(
                    p.held.state,
                    PaymentState::Authorized | PaymentState::Captured
                ) =>
        {
            match chain::successor(app, &*gw, &p)
                .await
                .map_err(|e| unrecorded(op_id, e))?
            {
                Some((r, now_held)) => observed(&p.held, now_held, Some(r)),
                None => observed(&p.held, st, None),
            }
        }
        Ok(st) => observed(&p.held, st, None),
        Err(e) => Verdict::from_error(e),
    };
    settle(app, &actor.name, op_id, verdict).await
}

/// What the gateway holds (under `new_ref` when it replaced the payment), as the outcome of
/// 決済状況を確認.
fn observed(held: &store::Held, st: GatewayStatus, new_ref: Option<PaymentRef>) -> Verdict {
    let changed = still_lapsed(held.state, st.state) != held.state || st.amount != held.amount;
    Verdict::Done {
        message: format!(
            "決済状況: {}（{}）、金額 {}{}",
            state_label(st.state),
            st.gateway_status,
            st.amount,
            match &new_ref {
                Some(r) => format!(
                    "。決済会社の管理画面で補正された新しい決済ID {} に切り替えました",
                    r.display_id()
                ),
                None if changed => "。決済会社の状態に合わせて更新しました".to_owned(),
                None => String::new(),
            }
        ),
        status: st,
        new_ref: new_ref.map(|r| (r, Replaced::Closed)),
        previous_cancelled: vec![],
    }
}

/// One settled operation of a recovery run.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Recovered {
    pub order_number: i64,
    pub result: OperationResult,
}

/// Settle every operation whose outcome is not known: `unknown` ones, and `pending` ones
/// older than `grace` (their process died between the gateway call and the commit). Each is
/// settled by asking the gateway; nothing is sent again. Several processes may run this at
/// once: an operation is settled by whoever commits first.
pub async fn recover(app: &App, grace: Duration) -> Result<Vec<Recovered>, AppError> {
    // A grace too long to count back from now leaves no pending operation to take.
    let before = SignedDuration::try_from(grace)
        .ok()
        .and_then(|g| app.now().checked_sub(g).ok())
        .unwrap_or(Timestamp::MIN);
    let ops = store::to_recover(&mut *app.store.read().await?, before, 500).await?;
    let mut out = Vec::new();
    for op in ops {
        match resolve(app, &op).await {
            Ok(Some(result)) => {
                let number = orders::number_of(&mut *app.store.read().await?, op.order_id)
                    .await?
                    .unwrap_or_default();
                out.push(Recovered {
                    order_number: number,
                    result,
                });
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(operation = op.id, error = %e, "recovery: cannot settle yet"),
        }
    }
    Ok(out)
}

/// Settle one open operation from what the gateway holds. `None` when the gateway cannot
/// be asked now (the operation stays open for the next run).
pub(crate) async fn resolve(
    app: &App,
    op: &Operation,
) -> Result<Option<OperationResult>, AppError> {
    let mut conn = app.store.read().await?;
    let number = orders::number_of(&mut conn, op.order_id)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    let order = orders::get(&mut conn, op.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    let p = store::by_order(&mut conn, op.order_id).await?;
    let previous = match &p {
        Some(p) => store::previous(&mut conn, p.id).await?,
        None => vec![],
    };
    drop(conn);
    let gateway = order_gateway(&order)?;
    let gw = app.gateways().get(gateway)?;
    let lost = Lost {
        app,
        gw: &*gw,
        op,
        number,
    };
    let asked = match (op.action, &p) {
        (OpAction::Authorize, _) => lost.authorization(&order).await,
        (_, None) => return Err(AppError::NotFound("決済")),
        (_, Some(p)) => lost.operation(p, &previous).await,
    };
    let asked = match asked {
        Ok(a) => a,
        Err(Unasked::App(e)) => return Err(e),
        // The gateway could not be asked now: try again on the next run.
        Err(Unasked::Gateway(
            e @ (GatewayError::Unknown { .. }
            | GatewayError::NotSent { .. }
            | GatewayError::Protocol(_)),
        )) => {
            tracing::warn!(operation = op.id, error = %e, "recovery: the gateway cannot be asked now");
            return Ok(None);
        }
        // Any other error is the gateway's definite answer that it cannot say (unknown id,
        // no such inquiry): closed as unverifiable, with what the operator must check.
        Err(Unasked::Gateway(e)) => Asked::Settle(Verdict::Failed {
            code: e.code().unwrap_or("unverifiable").to_owned(),
            message: format!(
                "結果を照会できませんでした（{e}）。{}の管理画面で取引を確認してください",
                gateway.name()
            ),
            status: None,
        }),
    };
    match asked {
        Asked::Settle(v) => settle(app, WHO, op.id, v).await.map(Some),
        Asked::Increase {
            current,
            new,
            status,
        } => two_step::take_increase(app, WHO, op.id, &*gw, &current, new, status, app.now())
            .await
            .map(Some),
    }
}

/// Who settles what recovery found.
const WHO: &str = "システム（照会）";

/// What asking the gateway about a lost operation came to.
enum Asked {
    Settle(Verdict),
    /// A Paygent increase's new authorization, found under the operation's reference: the
    /// operation is finished with it.
    Increase {
        current: PaymentRef,
        new: PaymentRef,
        status: GatewayStatus,
    },
}

/// Why the gateway's answer is not known: juchu's own failure, or the gateway's.
enum Unasked {
    App(AppError),
    Gateway(GatewayError),
}

impl From<AppError> for Unasked {
    fn from(e: AppError) -> Self {
        Unasked::App(e)
    }
}

impl From<GatewayError> for Unasked {
    fn from(e: GatewayError) -> Self {
        Unasked::Gateway(e)
    }
}

/// A lost operation and where to ask about it.
struct Lost<'a> {
    app: &'a App,
    gw: &'a dyn GatewayApi,
    op: &'a Operation,
    number: i64,
}

impl Lost<'_> {
    /// An authorization: made or not, found by the shop's reference (or Paidy's id).
    async fn authorization(&self, order: &Order) -> Result<Asked, Unasked> {
        let op = self.op;
        Ok(Asked::Settle(
            match authorized_at_gateway(self.gw, self.number, op).await? {
                Some((r, st)) => {
                    let request: serde_json::Value =
                        serde_json::from_str(&op.request).unwrap_or_default();
                    Verdict::Created(Created {
                        payment: r,
                        status: st,
                        mode: capture_mode_of(&request),
                        kind: kind_of(order).map_or(Kind::Card, |(_, k)| k),
                        installments: installments_of(request["installments"].as_str())
                            .map(|(_, l)| l)
                            .unwrap_or_default(),
                        masked: request["masked"]
                            .as_str()
                            .or(request["test_card"].as_str())
                            .unwrap_or_default()
                            .to_owned(),
                        slip: None,
                        three_ds: request["three_ds"].as_bool().unwrap_or(false),
                        merchant: self.gw.merchant(),
                    })
                }
                None => not_done(),
            },
        ))
    }

    /// An operation on the payment `p`.
    async fn operation(
        &self,
        p: &store::Payment,
        previous: &[PreviousRef],
    ) -> Result<Asked, Unasked> {
        let op = self.op;
        let action = op
            .action
            .panel()
            .with_context(|| format!("journal action {}", op.action.code()))
            .map_err(AppError::from)?;
        // A two-step change whose step one committed: the payment holds the new ref; what is
        // open is the cancel of the old one.
        let to_cancel: Vec<&PreviousRef> = previous
            .iter()
            .filter(|r| r.standing == Replaced::ToCancel)
            .collect();
        if action == Action::CancelPrevious
            || (!op.new_display_id.is_empty() && !to_cancel.is_empty())
        {
            return self.second_step(p, &to_cancel).await;
        }
        if p.gateway == Gateway::Paygent && is_amount_change(action) && op.amount > p.held.amount {
            return self.increase(p, action).await;
        }
        let current = parse_ref(&p.held.ref_json)?;
        let st = self.gw.query(&current).await?;
        let took = match action {
            Action::Capture => matches!(st.state, PaymentState::Captured | PaymentState::Paid),
            Action::Cancel | Action::PaidyClose => {
                matches!(st.state, PaymentState::Cancelled | PaymentState::Refunded)
            }
            Action::Refund => p
                .held
                .refunded
                .checked_add(op.amount)
                .is_ok_and(|wanted| st.refunded >= wanted),
            Action::Reauthorize => {
                matches!(st.state, PaymentState::Authorized | PaymentState::Captured)
            }
            Action::ChangeAuthorization | Action::ChangeCapture | Action::UpdateTransaction
                if p.gateway == Gateway::Paygent =>
            {
                if st.state == PaymentState::Cancelled {
                    return self.amendment(p, action, current, st).await;
                }
                false
            }
            Action::ChangeAuthorization
            | Action::ChangeCapture
            | Action::UpdateTransaction
            | Action::PaidyUpdate => st.amount == op.amount,
            // Asking again is all a lost 決済状況を確認 needs.
            Action::Refresh => return Ok(Asked::Settle(observed(&p.held, st, None))),
            Action::CancelPrevious => false,
        };
        Ok(Asked::Settle(if took {
            Verdict::Done {
                message: format!(
                    "照会の結果、{}は決済会社で完了していました（決済状況: {} / {}）",
                    action.label(),
                    state_label(st.state),
                    st.gateway_status
                ),
                status: st,
                new_ref: None,
                previous_cancelled: vec![],
            }
        } else {
            Verdict::Failed {
                code: String::new(),
                message: format!(
                    "照会の結果、{}は決済会社で行われていませんでした（決済状況: {} / {}）。必要ならもう一度操作してください",
                    action.label(),
                    state_label(st.state),
                    st.gateway_status
                ),
                status: Some(st.clone()),
            }
        }))
    }

    /// Step two of a two-step change (or 旧取引を取消): which earlier refs are cancelled.
    async fn second_step(
        &self,
        p: &store::Payment,
        to_cancel: &[&PreviousRef],
    ) -> Result<Asked, Unasked> {
        let mut all = true;
        let mut cancelled = Vec::new();
        for r in to_cancel {
            match self.gw.query(&parse_ref(&r.ref_json)?).await? {
                st if st.state == PaymentState::Cancelled => cancelled.push(r.id),
                _ => all = false,
            }
        }
        let st = self.gw.query(&parse_ref(&p.held.ref_json)?).await?;
        Ok(Asked::Settle(if all {
            Verdict::Done {
                status: st,
                new_ref: None,
                message: "照会の結果、元の決済は取消済みでした".into(),
                previous_cancelled: cancelled,
            }
        } else {
            Verdict::Partial {
                new_ref: Some(parse_ref(&p.held.ref_json)?),
                status: st,
                code: String::new(),
                message: "照会の結果、元の決済は取り消されていません。「旧取引を取消」で取り消してください".into(),
                previous_cancelled: cancelled,
            }
        }))
    }

    /// A Paygent increase whose step one never committed: its new authorization, if Paygent
    /// made one, is under the operation's own reference.
    async fn increase(&self, p: &store::Payment, action: Action) -> Result<Asked, Unasked> {
        let current = parse_ref(&p.held.ref_json)?;
        Ok(
            match self.gw.find(&order_ref(self.number, self.op.id)).await? {
                Some((new, status))
                    if matches!(
                        status.state,
                        PaymentState::Authorized | PaymentState::Captured
                    ) =>
                {
                    Asked::Increase {
                        current,
                        new,
                        status,
                    }
                }
                _ => Asked::Settle(Verdict::Failed {
                    code: String::new(),
                    message: format!(
                        "照会の結果、{}の新しいオーソリは決済会社で取られていませんでした。必要ならもう一度操作してください",
                        action.label()
                    ),
                    status: None,
                }),
            },
        )
    }

    /// A Paygent 補正 whose answer was lost closed the old payment and opened one whose id
    /// only that answer carried: Paygent's notifications about the order name it; failing
    /// that, the operator must look it up.
    async fn amendment(
        &self,
        p: &store::Payment,
        action: Action,
        current: PaymentRef,
        st: GatewayStatus,
    ) -> Result<Asked, Unasked> {
        if let Some((r, now_held)) = chain::successor(self.app, self.gw, p).await?
            && now_held.amount == self.op.amount
        {
            return Ok(Asked::Settle(Verdict::Done {
                message: format!(
                    "照会の結果、{}は決済会社で完了していました（新しい決済ID {}、{}）",
                    action.label(),
                    r.display_id(),
                    now_held.amount
                ),
                status: now_held,
                new_ref: Some((r, Replaced::Closed)),
                previous_cancelled: vec![],
            }));
        }
        Ok(Asked::Settle(Verdict::Partial {
            message: format!(
                "照会の結果、元の決済ID {} は補正で取り消されています。新しい決済IDはペイジェントの管理画面（取引ID {}）で確認してください",
                current.display_id(),
                p.held.trading_id
            ),
            new_ref: Some(current),
            previous_cancelled: vec![],
            status: st,
            code: String::new(),
        }))
    }
}

/// What the gateway authorized for the authorize operation `op`, if anything: a Paidy
/// checkout's payment by its id (the buyer's browser created it), others by the reference
/// derived from the operation.
pub(crate) async fn authorized_at_gateway(
    gw: &dyn GatewayApi,
    number: i64,
    op: &Operation,
) -> Result<Option<(PaymentRef, GatewayStatus)>, GatewayError> {
    let request: serde_json::Value = serde_json::from_str(&op.request).unwrap_or_default();
    let found = match request["paidy_payment_id"].as_str() {
        Some(id) => {
            let r = PaymentRef::Paidy {
                payment_id: id.to_owned(),
            };
            let st = gw.query(&r).await?;
            Some((r, st))
        }
        None => gw.find(&order_ref(number, op.id)).await?,
    };
    Ok(found
        .filter(|(_, st)| matches!(st.state, PaymentState::Authorized | PaymentState::Captured)))
}

fn is_amount_change(a: Action) -> bool {
    matches!(
        a,
        Action::ChangeAuthorization | Action::ChangeCapture | Action::UpdateTransaction
    )
}

fn not_done() -> Verdict {
    Verdict::Failed {
        code: String::new(),
        message: "照会の結果、オーソリは決済会社で行われていませんでした".into(),
        status: None,
    }
}

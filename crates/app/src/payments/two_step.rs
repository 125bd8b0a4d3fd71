//! Changes made in two steps at the gateway: Paygent cannot raise an amount (028 / 029 only
//! lower it), so juchu authorizes the new amount with the same card — a new payment under a
//! trading_id of its own, derived from the journal row like every authorization, so a lost
//! answer is found again — keeps it, then cancels the old one. Step one is committed before
//! step two: a stop in between leaves the old payment "to cancel", shown to the operator with
//! the button that finishes it (旧取引を取消).

use super::*;

/// Raise the amount of a Paygent payment (オーソリ変更 / 売上変更 / 取引更新 upwards).
#[allow(clippy::too_many_arguments)]
pub(super) async fn grow_paygent(
    app: &App,
    actor: &str,
    number: i64,
    op_id: i64,
    gw: &dyn GatewayApi,
    old: &PaymentRef,
    amount: Yen,
    captured: bool,
    now: Timestamp,
) -> Result<OperationResult, AppError> {
    match gw
        .reauthorize(old, amount, captured, &order_ref(number, op_id))
        .await
    {
        Ok((new, st)) => take_increase(app, actor, op_id, gw, old, new, st, now).await,
        Err(e) => settle(app, actor, op_id, Verdict::from_error(e)).await,
    }
}

/// The new authorization of an increase is in hand — just made, or found by the recovery job
/// under the operation's reference: make it the payment's (step one), then cancel the old one
/// (step two). If the operation was settled without it meanwhile, juchu will never hold it:
/// it is cancelled at once, so no authorization is left that juchu does not show.
#[allow(clippy::too_many_arguments)]
pub(super) async fn take_increase(
    app: &App,
    actor: &str,
    op_id: i64,
    gw: &dyn GatewayApi,
    old: &PaymentRef,
    new: PaymentRef,
    st: GatewayStatus,
    now: Timestamp,
) -> Result<OperationResult, AppError> {
    let previous_id = match step_one(app, actor, op_id, old, &new, &st).await {
        Ok(StepOne::Taken(id)) => id,
        Ok(StepOne::AlreadyTaken(op)) => return result_of(app, &op, false).await,
        Ok(StepOne::Gone(op)) => return release(app, actor, &op, gw, &new, &st, now).await,
        // Nothing was committed: the operation is still open and the recovery job finds the
        // new authorization by its reference.
        Err(e) => return Err(unrecorded(op_id, e)),
    };
    let verdict = match gw.cancel(old, now).await {
        Ok(_) => Verdict::Done {
            message: format!(
                "新しい決済ID {} で{}のオーソリを取り、元の決済ID {} を取り消しました",
                new.display_id(),
                st.amount,
                old.display_id()
            ),
            status: st,
            new_ref: None,
            previous_cancelled: vec![previous_id],
        },
        Err(e) => Verdict::Partial {
            code: e.code().unwrap_or_default().to_owned(),
            message: format!(
                "新しい決済ID {} で{}のオーソリを取りましたが、元の決済ID {} の取消ができていません（{e}）。「旧取引を取消」で取り消してください",
                new.display_id(),
                st.amount,
                old.display_id()
            ),
            status: st,
            new_ref: Some(new),
            previous_cancelled: vec![],
        },
    };
    settle(app, actor, op_id, verdict).await
}

/// Where step one stands.
enum StepOne {
    /// Committed now: the payment holds the new ref; the earlier one's row (to cancel).
    Taken(i64),
    /// Someone (the recovery job) took this very authorization already.
    AlreadyTaken(Operation),
    /// The operation was settled otherwise, or the payment moved on: the new authorization
    /// is nobody's.
    Gone(Operation),
}

/// Commit step one: the payment now holds `new`; `old` is kept as "to cancel". The
/// operation stays open, marked as past step one by the new payment id.
async fn step_one(
    app: &App,
    actor: &str,
    op_id: i64,
    old: &PaymentRef,
    new: &PaymentRef,
    st: &GatewayStatus,
) -> Result<StepOne, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let (op, _order, p) = lock_op(&mut tx, op_id).await?;
    let p = p.ok_or(AppError::NotFound("決済"))?;
    if p.held.display_id == new.display_id() {
        return Ok(StepOne::AlreadyTaken(op));
    }
    if !op.status.is_open() || p.held.display_id != old.display_id() {
        return Ok(StepOne::Gone(op));
    }
    let held = held_after(p.gateway, Some(&p.held), new, st, true, now)?;
    let previous_id = store::add_previous(
        &mut tx,
        &NewPrevious {
            payment_id: p.id,
            ref_json: &p.held.ref_json,
            display_id: old.display_id(),
            amount: p.held.amount,
            reason: "増額のため新しいオーソリを取得",
            standing: Replaced::ToCancel,
        },
        now,
    )
    .await?;
    if !store::set_held(&mut tx, p.id, p.version, &held, now).await? {
        return Err(AppError::Stale {
            current: p.version + 1,
        });
    }
    orders::set_gateway_ref(&mut tx, op.order_id, new.display_id()).await?;
    store::finish_operation(
        &mut tx,
        op.id,
        &Finish {
            status: OpStatus::Pending,
            result_code: "",
            message: "",
            new_display_id: new.display_id(),
            payment_id: None,
        },
        now,
    )
    .await?;
    orders::add_history(
        &mut tx,
        p.shop_id,
        op.order_id,
        &history(
            actor,
            now,
            op.action.code(),
            format!(
                "{}: 新しい決済ID {} で{}のオーソリを取得しました（元の決済ID {} は取消待ち）",
                op.action.label(),
                new.display_id(),
                st.amount,
                old.display_id()
            ),
            true,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(StepOne::Taken(previous_id))
}

/// An authorization juchu will never hold (its operation was settled without it): cancel it
/// at the gateway and say so in the order's history.
async fn release(
    app: &App,
    actor: &str,
    op: &Operation,
    gw: &dyn GatewayApi,
    new: &PaymentRef,
    st: &GatewayStatus,
    now: Timestamp,
) -> Result<OperationResult, AppError> {
    let cancelled = gw.cancel(new, now).await;
    let detail = match &cancelled {
        Ok(_) => format!(
            "{}: 処理は既に確定していたため、新しく取れたオーソリ（決済ID {}、{}）を取り消しました",
            op.action.label(),
            new.display_id(),
            st.amount
        ),
        Err(e) => format!(
            "{}: 処理は既に確定していましたが、新しく取れたオーソリ（決済ID {}、{}）を取り消せませんでした（{e}）。ペイジェントの管理画面で取り消してください",
            op.action.label(),
            new.display_id(),
            st.amount
        ),
    };
    let mut tx = app.store.begin().await?;
    orders::add_history(
        &mut tx,
        op.shop_id,
        op.order_id,
        &history(
            actor,
            now,
            op.action.code(),
            detail.clone(),
            cancelled.is_ok(),
        ),
    )
    .await?;
    tx.commit().await?;
    Err(AppError::conflict("operation_settled_elsewhere", detail))
}

/// 旧取引を取消: cancel every earlier authorization still waiting for it.
pub(super) async fn cancel_previous(
    gw: &dyn GatewayApi,
    previous: &[PreviousRef],
    now: Timestamp,
) -> Result<Verdict, AppError> {
    let mut done = Vec::new();
    let mut names = Vec::new();
    for r in previous.iter().filter(|r| r.standing == Replaced::ToCancel) {
        match gw.cancel(&parse_ref(&r.ref_json)?, now).await {
            Ok(_) => {
                done.push(r.id);
                names.push(r.display_id.clone());
            }
            // What was cancelled before the refusal is recorded with it.
            Err(e) if done.is_empty() => return Ok(Verdict::from_error(e)),
            Err(e) => {
                return Ok(Verdict::Partial {
                    status: GatewayStatus::new(PaymentState::Cancelled, "", Yen::ZERO),
                    new_ref: None,
                    previous_cancelled: done,
                    code: e.code().unwrap_or_default().to_owned(),
                    message: format!(
                        "元の決済ID {} を取り消しましたが、{} は取り消せませんでした（{e}）",
                        names.join("、"),
                        r.display_id
                    ),
                });
            }
        }
    }
    Ok(Verdict::Done {
        status: GatewayStatus::new(PaymentState::Cancelled, "", Yen::ZERO),
        new_ref: None,
        message: format!("元の決済ID {} を取り消しました", names.join("、")),
        previous_cancelled: done,
    })
}

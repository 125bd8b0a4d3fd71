//! Step three of every operation: what the gateway answered (a [`Verdict`]) committed with
//! the payment's new state, the operation's outcome, the order's history line, the fee and
//! the automatic order status — in one transaction, retried when the database gave up on it.

use super::*;

/// What one operation came to.
#[derive(Clone)]
pub(super) enum Verdict {
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
pub(super) enum Replaced {
    /// The gateway closed it itself (Paygent 補正).
    Closed,
    /// juchu cancelled it (two-step change, second step done).
    Cancelled,
    /// Still to be cancelled.
    ToCancel,
}

impl Replaced {
    pub(super) fn code(self) -> &'static str {
        match self {
            Replaced::Closed => "closed",
            Replaced::Cancelled => "cancelled",
            Replaced::ToCancel => "to_cancel",
        }
    }
}

impl Verdict {
    pub(super) fn from_error(e: GatewayError) -> Verdict {
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

/// A capture the gateway refused because the authorization's period is over: the payment
/// is 期限切れ from now on, whatever status the gateway still shows for it (`now`: what it
/// answered when asked just after).
pub(super) fn lapsed(e: GatewayError, now: Option<GatewayStatus>, held: &Held) -> Verdict {
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

pub(super) fn done(r: Result<GatewayStatus, GatewayError>) -> Verdict {
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

pub(super) fn changed(
    old: &PaymentRef,
    new: PaymentRef,
    st: GatewayStatus,
    how: Replaced,
) -> Verdict {
    let new_ref = (new != *old).then_some((new, how));
    Verdict::Done {
        status: st,
        new_ref,
        message: String::new(),
        previous_cancelled: vec![],
    }
}

/// Commit an operation's outcome after its gateway call. A transaction the database gave up
/// on (deadlock, busy) is tried again; any other failure leaves the operation open for the
/// recovery job — which settles it from the gateway's answer — and says so.
pub(super) async fn settle(
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
pub(super) async fn settle_once(
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
pub(super) async fn instructions_mail(
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

/// The shop's optional automatic 対応状況: 売上確定 → 入金済み, 取消 / クローズ → キャンセル.
/// A status the order cannot take is noted in its history, never an error: the payment
/// operation itself stands.
pub(super) async fn auto_status(
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

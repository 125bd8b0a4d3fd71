//! Step three of every operation: what the gateway answered (a [`Verdict`]) committed with
//! the payment's new state, the operation's outcome, the order's history line, the fee and
//! the automatic order status — in one transaction, retried when the database gave up on it.

use super::*;
use anyhow::Context;

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

/// What settling a verdict came to: the operation's outcome, its history line's words, and
/// the payment it concerns.
pub(super) struct Settlement {
    pub status: OpStatus,
    pub code: String,
    pub message: String,
    pub payment_id: Option<i64>,
    /// The payment's id at the gateway when the operation gave it a new one.
    pub new_display: Option<String>,
}

impl Settlement {
    fn new(status: OpStatus, code: String, message: String, payment_id: Option<i64>) -> Self {
        Settlement {
            status,
            code,
            message,
            payment_id,
            new_display: None,
        }
    }

    fn showing(mut self, display_id: Option<String>) -> Self {
        self.new_display = display_id;
        self
    }
}

/// What every settlement step reads: the operation, its order and payment as locked, the
/// shop's settings, who settles it and when.
pub(super) struct Cx<'a> {
    actor: &'a str,
    op: &'a Operation,
    order: &'a Order,
    payment: Option<&'a store::Payment>,
    settings: &'a payment::Settings,
    action: Option<Action>,
    label: &'static str,
    now: Timestamp,
}

impl<'a> Cx<'a> {
    pub(super) fn new(
        actor: &'a str,
        op: &'a Operation,
        order: &'a Order,
        payment: Option<&'a store::Payment>,
        settings: &'a payment::Settings,
        now: Timestamp,
    ) -> Cx<'a> {
        Cx {
            actor,
            op,
            order,
            payment,
            settings,
            action: op.action.panel(),
            label: op.action.label(),
            now,
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
    let settings = store::settings(tx.conn(), op.shop_id).await?;
    let cx = Cx::new(actor, &op, &order, payment.as_ref(), &settings, now);
    settle_locked(&mut tx, &cx, verdict).await?;
    tx.commit().await?;
    let op = store::operation(&mut *app.store.read().await?, op.id)
        .await?
        .ok_or(AppError::NotFound("決済処理"))?;
    result_of(app, &op, false).await
}

/// An open operation's outcome on what `tx` has locked (its order, then its payment): the
/// payment's new state, the operation's row, the order's history line, the fee and the
/// automatic status. Nothing is committed.
pub(super) async fn settle_locked(
    tx: &mut Tx,
    cx: &Cx<'_>,
    verdict: Verdict,
) -> Result<Settlement, AppError> {
    let now = cx.now;
    let paid = cx.payment.map(|p| p.id);
    let s = match verdict {
        Verdict::Created(c) => created(tx, cx, c).await?,
        Verdict::Done {
            status,
            new_ref,
            message,
            previous_cancelled,
        } => done_at_gateway(tx, cx, status, new_ref, message, previous_cancelled).await?,
        Verdict::Partial {
            status,
            new_ref,
            code,
            message,
            previous_cancelled,
        } => {
            mark_cancelled(tx, &previous_cancelled).await?;
            // Step one already moved the payment to `new_ref`; refresh what it holds.
            if let (Some(p), Some(r)) = (cx.payment, &new_ref) {
                let held = held_after(p.gateway, Some(&p.held), r, &status, false, now)?;
                store::set_held(tx, p.id, p.version, &held, now).await?;
            }
            Settlement::new(OpStatus::Partial, code, message, paid)
                .showing(new_ref.map(|r| r.display_id().to_owned()))
        }
        Verdict::Failed {
            code,
            message,
            status,
        } => {
            // What the gateway holds after refusing (a lapsed authorization …).
            if let (Some(p), Some(st)) = (cx.payment, status) {
                let r = parse_ref(&p.held.ref_json)?;
                let held = held_after(p.gateway, Some(&p.held), &r, &st, false, now)?;
                store::set_held(tx, p.id, p.version, &held, now).await?;
            }
            Settlement::new(OpStatus::Failed, code, message, paid)
        }
        Verdict::Unknown { reason } => Settlement::new(
            OpStatus::Unknown,
            String::new(),
            format!("{reason}（同じ操作を繰り返さないでください）"),
            paid,
        ),
    };
    record(tx, cx, &s).await?;
    Ok(s)
}

/// The earlier refs this operation cancelled at the gateway.
async fn mark_cancelled(tx: &mut Tx, ids: &[i64]) -> Result<(), AppError> {
    for id in ids {
        store::set_previous_standing(tx, *id, Replaced::Cancelled).await?;
    }
    Ok(())
}

/// A payment was made: stored, the order's 外部決済注文番号 set, a checkout's order completed
/// (thanks mail and all), a paid-later order moved to 入金待ち with the buyer's instructions.
async fn created(tx: &mut Tx, cx: &Cx<'_>, c: Created) -> Result<Settlement, AppError> {
    let (op, order, now) = (cx.op, cx.order, cx.now);
    let gateway = order_gateway(order)?;
    let held = held_after(gateway, None, &c.payment, &c.status, true, now)?;
    let slip_json = match &c.slip {
        Some(x) => serde_json::to_string(x).context("payment slip")?,
        None => String::new(),
    };
    let id = store::insert(
        tx,
        &NewPayment {
            shop_id: op.shop_id,
            order_id: op.order_id,
            gateway,
            kind: c.kind,
            mode: c.mode,
            held: &held,
            three_ds: c.three_ds,
            installments: &c.installments,
            masked_card: &c.masked,
            slip: &slip_json,
            due_at: c.slip.as_ref().map(|x| x.due),
            merchant: &c.merchant,
        },
        now,
    )
    .await?;
    orders::set_gateway_ref(tx, op.order_id, c.payment.display_id()).await?;
    let checkout = order.draft.status == OrderStatus::PendingPayment;
    if checkout {
        // The checkout's payment: the order is complete with it, thanks mail and all, in this
        // same transaction.
        crate::orders::complete_checkout(tx, op.shop_id, cx.actor, order, c.slip.as_ref(), now)
            .await?;
    }
    let message = match &c.slip {
        // The buyer pays later: the order waits for it (a checkout's thanks mail carries the
        // payment number).
        Some(x) => {
            if !checkout {
                if order.draft.status == OrderStatus::New {
                    let who = Actor {
                        shop_id: op.shop_id,
                        user_id: None,
                        name: cx.actor.to_owned(),
                        is_admin: false,
                    };
                    crate::orders::apply_status(tx, &who, order, OrderStatus::AwaitingPayment, now)
                        .await?;
                }
                instructions_mail(tx, op.shop_id, cx.actor, order, x, c.status.amount, now).await?;
            }
            format!(
                "{}で{}の支払番号を発行しました（{}、支払期限 {}）",
                gateway.name(),
                c.status.amount,
                x.fields
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .chain(x.url.iter().map(|u| format!("支払画面: {u}")))
                    .collect::<Vec<_>>()
                    .join("、"),
                jst_minute(x.due)
            )
        }
        None => format!(
            "{}で{}を{}しました（決済ID {}）",
            gateway.name(),
            c.status.amount,
            if c.mode == CaptureMode::AuthAndCapture {
                "即時売上"
            } else {
                "仮売上"
            },
            c.payment.display_id()
        ),
    };
    Ok(
        Settlement::new(OpStatus::Succeeded, String::new(), message, Some(id))
            .showing(Some(c.payment.display_id().to_owned())),
    )
}

/// The operation took effect at the gateway: the payment holds what the gateway says (under
/// a new ref when it changed), with the fee, and 決済状況を確認's notes.
async fn done_at_gateway(
    tx: &mut Tx,
    cx: &Cx<'_>,
    status: GatewayStatus,
    new_ref: Option<(PaymentRef, Replaced)>,
    message: String,
    previous_cancelled: Vec<i64>,
) -> Result<Settlement, AppError> {
    let (op, action, now) = (cx.op, cx.action, cx.now);
    let p = cx.payment.ok_or(AppError::NotFound("決済"))?;
    mark_cancelled(tx, &previous_cancelled).await?;
    let shown = new_ref.as_ref().map(|(r, _)| r.display_id().to_owned());
    // 旧取引を取消 leaves the payment itself as it is.
    if action != Some(Action::CancelPrevious) {
        hold(tx, cx, p, &status, new_ref.as_ref()).await?;
    }
    // A slip paid or lapsed, seen by 決済状況を確認: the order follows, as it does when the
    // gateway's notification brings the news.
    let message = if action == Some(Action::Refresh)
        && p.kind == Kind::PaidLater
        && status.state != p.held.state
    {
        let who = Actor {
            shop_id: op.shop_id,
            user_id: None,
            name: cx.actor.to_owned(),
            is_admin: false,
        };
        let said = later::later_outcome(tx, &who, cx.order, p, &status, now).await?;
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
        store::add_fee(
            tx,
            &NewFee {
                shop_id: op.shop_id,
                operation_id: op.id,
                order_id: op.order_id,
                gateway: p.gateway,
                action: op.action.code(),
                fee: cx.settings.paygent_fee,
            },
            now,
        )
        .await?;
    }
    let message = if !message.is_empty() {
        message
    } else if action == Some(Action::Refund) {
        format!(
            "払い戻しが完了しました（払い戻し済み合計 {} / 売上 {}、決済状況: {} / {}）",
            status.refunded,
            status.captured,
            state_label(status.state),
            status.gateway_status
        )
    } else {
        format!(
            "{}が完了しました（決済状況: {} / {}、決済金額 {}）",
            cx.label,
            state_label(status.state),
            status.gateway_status,
            status.amount
        )
    };
    Ok(Settlement::new(OpStatus::Succeeded, String::new(), message, Some(p.id)).showing(shown))
}

/// The payment now holds what the gateway says, under `new_ref` when the operation replaced
/// it (the earlier ref kept); a change made at the gateway itself is noted for the operator
/// until juchu's next operation on the payment.
async fn hold(
    tx: &mut Tx,
    cx: &Cx<'_>,
    p: &store::Payment,
    status: &GatewayStatus,
    new_ref: Option<&(PaymentRef, Replaced)>,
) -> Result<(), AppError> {
    let (action, now) = (cx.action, cx.now);
    let current = parse_ref(&p.held.ref_json)?;
    let now_ref = new_ref.map(|(r, _)| r).unwrap_or(&current);
    let newly = action == Some(Action::Reauthorize) || new_ref.is_some();
    let held = held_after(p.gateway, Some(&p.held), now_ref, status, newly, now)?;
    if let Some((_, how)) = new_ref {
        store::add_previous(
            tx,
            &NewPrevious {
                payment_id: p.id,
                ref_json: &p.held.ref_json,
                display_id: &p.held.display_id,
                amount: p.held.amount,
                reason: if action == Some(Action::Refresh) {
                    "決済会社の管理画面で補正"
                } else {
                    cx.label
                },
                standing: *how,
            },
            now,
        )
        .await?;
        orders::set_gateway_ref(tx, cx.op.order_id, now_ref.display_id()).await?;
    }
    if !store::set_held(tx, p.id, p.version, &held, now).await? {
        return Err(AppError::Stale {
            current: p.version + 1,
        });
    }
    if p.kind != Kind::PaidLater {
        if action == Some(Action::Refresh) {
            let new_id = new_ref.map(|(r, _)| r.display_id());
            if let Some(n) = chain::change_note(p.gateway, &p.held, status, new_id, now) {
                store::set_attention(tx, p.id, &n).await?;
            }
        } else if !p.attention.is_empty() {
            store::set_attention(tx, p.id, "").await?;
        }
    }
    Ok(())
}

/// The operation's outcome on its row and in the order's history, and the automatic order
/// status after a success.
async fn record(tx: &mut Tx, cx: &Cx<'_>, s: &Settlement) -> Result<(), AppError> {
    let op = cx.op;
    let new_display = s
        .new_display
        .clone()
        .or_else(|| cx.payment.map(|p| p.held.display_id.clone()))
        .unwrap_or_default();
    store::finish_operation(
        tx,
        op.id,
        &Finish {
            status: s.status,
            result_code: &s.code,
            message: &s.message,
            new_display_id: &new_display,
            payment_id: s.payment_id,
        },
        cx.now,
    )
    .await?;
    let outcome_word = match s.status {
        OpStatus::Succeeded => "成功",
        OpStatus::Failed => "失敗",
        OpStatus::Unknown | OpStatus::Pending => "確認中",
        OpStatus::Partial => "途中で停止",
    };
    let code_part = if s.code.is_empty() {
        String::new()
    } else {
        format!(" [{}]", s.code)
    };
    orders::add_history(
        tx,
        op.shop_id,
        op.order_id,
        &history(
            cx.actor,
            cx.now,
            op.action.code(),
            format!(
                "{} {}: {outcome_word}{code_part} {}",
                cx.label, op.amount, s.message
            ),
            matches!(s.status, OpStatus::Succeeded | OpStatus::Unknown),
        ),
    )
    .await?;
    if s.status == OpStatus::Succeeded {
        auto_status(tx, cx).await?;
    }
    Ok(())
}

/// The mail telling the buyer how to pay (konbini, ATM, net bank), written with the payment
/// number in the same transaction; the shop gets a copy.
pub(super) async fn instructions_mail(
    tx: &mut Tx,
    shop_id: i64,
    actor: &str,
    order: &Order,
    slip: &juchu_gateway::PaymentSlip,
    amount: Yen,
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
        format!("お支払い金額: {amount}"),
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
async fn auto_status(tx: &mut Tx, cx: &Cx<'_>) -> Result<(), AppError> {
    let (actor, shop_id, order, action, now) =
        (cx.actor, cx.op.shop_id, cx.order, cx.action, cx.now);
    if !cx.settings.auto_status {
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

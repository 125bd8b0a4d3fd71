//! 決済処理中 orders the buyer left: 戻る, and the sweep that removes them — only after the
//! gateway has been asked whether anything was authorized.

use anyhow::Context;

use super::*;

/// The buyer left the payment page for the shop (戻る): the 決済処理中 order is removed and
/// the cart kept.
pub async fn back(app: &App, b: &Buyer) -> Result<(), AppError> {
    let l = load(app, b).await?;
    if l.c.state != CheckoutState::Paying {
        return Ok(());
    }
    let number = order_number(app, &l).await?;
    match remove_pending(app, b.shop_id, number, "お客様が購入手続きに戻ったため").await?
    {
        Removal::Removed | Removal::Gone => Ok(()),
        Removal::Completed => Err(AppError::conflict(
            "already_paid",
            "このご注文のお支払いは完了しています",
        )),
        Removal::Busy(why) => Err(AppError::conflict(
            "payment_in_doubt",
            format!(
                "お支払いの結果を確認しています。しばらくしてからもう一度お試しください（{why}）"
            ),
        )),
    }
}

/// What became of a 決済処理中 order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(tag = "outcome", content = "reason", rename_all = "snake_case")]
pub enum Removal {
    /// Removed: stock to the cancelled-order list, points returned.
    Removed,
    /// Its payment had gone through after all: completed instead.
    Completed,
    /// No longer 決済処理中 (another worker got there first).
    Gone,
    /// The gateway could not be asked now; left for the next run.
    Busy(String),
}

/// Remove a 決済処理中 order — but first settle its open operations by asking the gateway,
/// and close any authorization the gateway holds for it that juchu never took. An order
/// whose payment did go through is completed, never dropped.
// Long: each way an abandoned payment can end (settled, taken, closed) is handled before the order goes.
pub async fn remove_pending(
    app: &App,
    shop_id: i64,
    number: i64,
    reason: &str,
) -> Result<Removal, AppError> {
    let order = orders::get(&mut *app.store.read().await?, shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    if order.draft.status != OrderStatus::PendingPayment || order.deleted_at.is_some() {
        return Ok(Removal::Gone);
    }
    let ops = pay::operations(&mut *app.store.read().await?, order.id, 100).await?;
    for op in ops.iter().filter(|o| o.status.is_open()) {
        if payments::resolve(app, op).await?.is_none() {
            return Ok(Removal::Busy("決済会社に照会できません".into()));
        }
    }
    let order = orders::get(&mut *app.store.read().await?, shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    if order.draft.status != OrderStatus::PendingPayment {
        return Ok(Removal::Completed);
    }
    if let Some(g) = order.draft.payment_method.gateway() {
        let gw = app.gateways().get(g).ok();
        let ops = pay::operations(&mut *app.store.read().await?, order.id, 100).await?;
        if let Some(gw) = gw {
            for op in ops.iter().filter(|o| o.action == OpAction::Authorize) {
                match payments::authorized_at_gateway(&*gw, number, op).await {
                    Ok(Some((r, st))) => {
                        // Authorized at the gateway, though juchu settled the attempt as
                        // failed: release it, so no money is held without an order.
                        match gw.cancel(&r, app.now()).await {
                            Ok(_) => {
                                note(
                                    app,
                                    shop_id,
                                    number,
                                    &format!(
                                        "決済会社に残っていたオーソリ（{}、{}円）を取り消しました",
                                        r.display_id(),
                                        st.amount
                                    ),
                                    true,
                                )
                                .await?;
                            }
                            Err(e) => {
                                note(app, shop_id, number, &format!("決済会社に残っているオーソリ（{}）を取り消せませんでした: {e}", r.display_id()), false).await?;
                                return Ok(Removal::Busy(e.to_string()));
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(juchu_gateway::GatewayError::Unsupported(_)) => {}
                    Err(e @ juchu_gateway::GatewayError::Refused { .. }) => {
                        // The gateway has nothing under that reference.
                        tracing::debug!(order = number, error = %e, "sweep: nothing authorized");
                    }
                    Err(e) => return Ok(Removal::Busy(e.to_string())),
                }
            }
        }
    }
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let Some(o) = orders::get_for_update(&mut tx, shop_id, number).await? else {
        return Ok(Removal::Gone);
    };
    if o.draft.status != OrderStatus::PendingPayment || o.deleted_at.is_some() {
        return Ok(Removal::Gone);
    }
    if pay::open_operation(tx.conn(), o.id).await?.is_some()
        || pay::by_order(tx.conn(), o.id).await?.is_some()
    {
        // A payment step started meanwhile: leave it to finish.
        return Ok(Removal::Busy("お支払いの手続き中です".into()));
    }
    let who = Actor {
        shop_id,
        user_id: None,
        name: "システム（決済処理中の受注の削除）".into(),
        is_admin: true,
    };
    crate::orders::write_status(&mut tx, &who, &o, OrderStatus::Cancelled, now).await?;
    if !orders::mark_deleted(&mut tx, o.id, o.version + 1, now).await? {
        return Err(AppError::Stale {
            current: o.version + 1,
        });
    }
    orders::add_history(
        &mut tx,
        shop_id,
        o.id,
        &HistoryEntry {
            at: now,
            actor: who.name.clone(),
            action: "order.pending_removed".into(),
            detail: format!(
                "{reason}、決済処理中の受注を削除しました（決済会社でオーソリがないことを確認済み）"
            ),
            outcome: Outcome::Ok,
        },
    )
    .await?;
    checkouts::release_order(&mut tx, o.id, &crate::tokens::random_token()?, now).await?;
    tx.commit().await?;
    Ok(Removal::Removed)
}

/// One order the sweep looked at.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Swept {
    pub order_number: i64,
    pub removal: Removal,
}

/// Remove 決済処理中 orders older than `timeout` (the buyer left): the job `serve` runs.
/// Several processes may run it at once: each order is removed once.
/// The longest a 決済処理中 order may be left before the sweep (a year).
pub const MAX_PENDING_MINUTES: u64 = 525_600;

pub async fn sweep(app: &App, timeout: std::time::Duration) -> Result<Vec<Swept>, AppError> {
    let minutes = timeout.as_secs() / 60;
    if !(1..=MAX_PENDING_MINUTES).contains(&minutes) {
        return Err(AppError::Invalid(juchu_domain::Invalid::one(
            "older_than_minutes",
            "out_of_range",
            format!("経過時間は1〜{MAX_PENDING_MINUTES}分で指定してください"),
        )));
    }
    // In range, so neither the duration nor the instant can overflow.
    let before = SignedDuration::try_from(timeout)
        .ok()
        .and_then(|d| app.now().checked_sub(d).ok())
        .with_context(|| format!("sweep timeout {timeout:?}"))?;
    let found = checkouts::abandoned_orders(&mut *app.store.read().await?, before, 500).await?;
    let mut out = Vec::new();
    for (shop_id, number) in found {
        let reason = format!("お支払いが完了しないまま{minutes}分が過ぎたため");
        match remove_pending(app, shop_id, number, &reason).await {
            Ok(r) => out.push(Swept {
                order_number: number,
                removal: r,
            }),
            Err(e) => tracing::warn!(order = number, error = %e, "sweep: cannot remove yet"),
        }
    }
    Ok(out)
}

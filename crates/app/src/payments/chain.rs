//! Changes made at a gateway rather than through juchu (seed 004 §7-4 ①-2, ②-2, ④-1): an
//! operator capturing, cancelling or changing an amount on the gateway's own screen. juchu
//! learns of them when it asks (決済状況を確認, the recovery job), records the gateway's
//! truth, and tells the operator what changed and what to do.
//!
//! Paygent's 補正 on its screen closes the payment and opens a new payment id under the same
//! trading_id, which 094 then cannot resolve alone (13002): the new id comes from Paygent's
//! notifications about the order (差分通知 / 差分照会), checked by asking Paygent for it.

use super::*;

/// The live payment that replaced `p` at Paygent (a 補正 made on Paygent's screen, or one
/// whose answer was lost), if any: the newest id Paygent's notifications about the order
/// named that juchu does not hold, and that Paygent says is authorized or captured.
pub(super) async fn successor(
    app: &App,
    gw: &dyn GatewayApi,
    p: &store::Payment,
) -> Result<Option<(PaymentRef, GatewayStatus)>, AppError> {
    if p.gateway != Gateway::Paygent || p.kind != Kind::Card {
        return Ok(None);
    }
    // What Paygent has said since the last read: the push may not have come yet.
    let mut report = SyncReport::default();
    pull_paygent(app, p.shop_id, &mut report).await?;
    for e in &report.errors {
        tracing::warn!(error = %e, "差分照会 while looking for a successor");
    }
    let (known, ids) = {
        let mut conn = app.store.read().await?;
        let mut known: Vec<String> = store::previous(&mut conn, p.id)
            .await?
            .into_iter()
            .map(|r| r.display_id)
            .collect();
        known.push(p.held.display_id.clone());
        let ids = store::noticed_ids(&mut conn, p.shop_id, Gateway::Paygent, p.order_id).await?;
        (known, ids)
    };
    for id in ids
        .into_iter()
        .filter(|i| !i.is_empty() && !known.contains(i))
    {
        let r = PaymentRef::Paygent {
            payment_id: id,
            trading_id: p.held.trading_id.clone(),
        };
        match gw.query(&r).await {
            Ok(st) if matches!(st.state, PaymentState::Authorized | PaymentState::Captured) => {
                return Ok(Some((r, st)));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(payment = r.display_id(), error = %e, "successor query"),
        }
    }
    Ok(None)
}

/// What the gateway changed by itself between what juchu held (`before`) and what it holds
/// now, in the operator's words with what to do; `None` when nothing did.
pub(super) fn change_note(
    gateway: Gateway,
    before: &Held,
    st: &GatewayStatus,
    new_id: Option<&str>,
    now: Timestamp,
) -> Option<String> {
    let at = format!("（{}に確認）", jst_minute(now));
    let name = gateway.name();
    let state = still_lapsed(before.state, st.state);
    if let Some(id) = new_id {
        return Some(format!(
            "{name}の管理画面で補正され、決済IDが {} から {id} に変わりました（{} → {}）{at}",
            before.display_id, before.amount, st.amount
        ));
    }
    if state == before.state && st.amount == before.amount {
        return None;
    }
    Some(match (before.state, state) {
        (PaymentState::Authorized, PaymentState::Captured) => {
            format!("{name}の管理画面で売上確定されました（{}）{at}", st.amount)
        }
        (_, PaymentState::Cancelled) => format!(
            "{name}の管理画面で取り消されました{at}。受注もキャンセルするなら対応状況を変更してください。取引を続けるなら新しく与信が必要です"
        ),
        (_, PaymentState::Refunded) => {
            format!("{name}の管理画面で返金されました（{}）{at}", st.refunded)
        }
        _ if st.amount != before.amount => format!(
            "{name}の管理画面で金額が変更されました（{} → {}）{at}",
            before.amount, st.amount
        ),
        _ => format!(
            "{name}で決済状況が「{}」から「{}」に変わりました{at}",
            state_label(before.state),
            state_label(state)
        ),
    })
}

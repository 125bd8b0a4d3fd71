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

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};
use juchu_domain::history::{HistoryEntry, Outcome};
use juchu_domain::money::Yen;
use juchu_domain::order::Order;
use juchu_domain::payment::{
    self, Action, CaptureMode, Facts, Kind, OpAction, OpStatus, PaymentState, Replaced,
    refund_amount, state_label,
};
use juchu_domain::payment_method::Gateway;
use juchu_domain::status::{OrderList, OrderStatus};
use juchu_gateway::{
    AuthorizeOutcome, AuthorizeRequest, CardRef, Gateway as GatewayApi, GatewayError,
    GatewayStatus, Installments, OrderContents, OrderLine, PaymentRef, Secret,
};
use juchu_store::payments::{
    self as store, Finish, Held, NewFee, NewOperation, NewPayment, NewPrevious, Operation,
    PreviousRef,
};
use juchu_store::{Tx, orders};

use crate::{Actor, App, AppError};

mod authorize;
mod batch;
mod bulk;
mod chain;
mod journal;
mod later;
mod notices;
mod operate;
mod recovery;
mod settle;
mod sync;
mod two_step;
mod verdict;
mod view;

use authorize::*;
pub use authorize::{Authorization, AuthorizeInput, authorize};
pub(crate) use authorize::{adopt_paidy, finish_three_ds, start_authorization};
pub use bulk::{
    BULK_ACTIONS, BulkInput, BulkLimits, BulkPreview, ItemView, RunView, bulk_items, bulk_run,
    bulk_runs, preview_bulk, start_bulk, stop_bulk, work_bulk,
};
pub use journal::OperationResult;
use journal::*;
use later::*;
pub use later::{LaterInput, request_later};
pub(crate) use notices::paidy_key;
use notices::*;
pub use notices::{Notice, notices, receive_gmo, receive_paidy, receive_paygent};
use operate::*;
pub use operate::{OperateInput, operate};
pub(crate) use operate::{Rules, operate_as};
pub use recovery::{Recovered, recover, refresh};
pub(crate) use recovery::{authorized_at_gateway, resolve};
use settle::*;
pub use sync::{SyncReport, sync};
use verdict::*;
pub use view::{
    ActionView, FeeLine, FeeMonth, LogEntry, LogPage, LogQuery, PaymentView, PreviousView, fees,
    op_status_label, operation_log, set_settings, settings, view,
};

/// How long an authorization can be captured, where the gateway does not say: GMO 90 days
/// (E01420010 after), Paygent 60 days (20 → 33). Paidy's `expires_at` comes with the payment.
fn auth_days(g: Gateway) -> i64 {
    match g {
        Gateway::Gmo => 90,
        Gateway::Paygent => 60,
        Gateway::Paidy => 30,
    }
}

/// The order's consumption tax, all rates together (what a gateway keeps beside the amount).
fn order_tax(o: &Order) -> Result<Yen, AppError> {
    Ok(Yen::sum(o.draft.totals.tax.by_rate.iter().map(|r| r.tax)).context("the order's tax")?)
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

/// The operation an `order_ref` names (also as Paygent's `trading_id_of` it, `_` for `-`).
fn operation_of_ref(r: &str) -> Option<i64> {
    r.rsplit_once(['-', '_'])
        .and_then(|(_, id)| id.parse::<i64>().ok())
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
    Ok(serde_json::from_str(json).with_context(|| format!("stored payment ref {json}"))?)
}

fn ref_json(r: &PaymentRef) -> Result<String, AppError> {
    Ok(serde_json::to_string(r).context("payment ref")?)
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
        amount: p.held.amount.get(),
        refunded: p.held.refunded.get(),
        order_total: o.draft.totals.payment_total.get(),
        order_cancelled: o.draft.status == OrderStatus::Cancelled,
        in_doubt,
        previous_to_cancel: previous.iter().any(|r| r.standing == Replaced::ToCancel),
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

/// A payment made under another merchant account than the shop's connector uses now (the
/// merchant ID was changed, seed 004 §7-4 ①-5) is not operated through the new one: the
/// gateway would not know it, or worse, an operation would reach the wrong account.
fn same_merchant(gw: &dyn GatewayApi, p: &store::Payment) -> Result<(), AppError> {
    let now = gw.merchant();
    if p.merchant.is_empty() || now.is_empty() || now == p.merchant {
        return Ok(());
    }
    Err(AppError::conflict(
        "merchant_changed",
        format!(
            "この決済は以前のマーチャントID（{}）で作成されています。現在のマーチャントID（{}）では操作できないため、{}の管理画面（旧マーチャントID）で処理してください",
            p.merchant,
            now,
            p.gateway.name()
        ),
    ))
}

fn order_gateway(o: &Order) -> Result<Gateway, AppError> {
    Ok(kind_of(o)
        .map(|(g, _)| g)
        .context("the order has no online payment method")?)
}

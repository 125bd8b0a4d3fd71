//! Member points (1 point = 1 yen). An order takes its used points from the member when it
//! is placed and gives them back when it is cancelled; earned points are granted when it
//! ships and taken back if a shipped order is cancelled. Each change is a ledger entry.

use jiff::Timestamp;

use crate::status::OrderStatus;

/// Point movements caused by an order changing status, from the member's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PointMoves {
    /// + returns used points, - takes them again.
    pub used: i64,
    /// + grants earned points, - revokes them.
    pub earned: i64,
}

/// Point movements when an order is created in `status` (imports may arrive already
/// shipped or cancelled): used points are spent unless it is cancelled; earned points are
/// granted if it has shipped.
pub fn on_create(status: OrderStatus, points_used: i64, points_earned: i64) -> PointMoves {
    PointMoves {
        used: if status.is_cancelled() {
            0
        } else {
            -points_used
        },
        earned: if status == OrderStatus::Shipped {
            points_earned
        } else {
            0
        },
    }
}

/// `granted`: whether the order's earned points are currently credited.
pub fn on_status_change(
    from: OrderStatus,
    to: OrderStatus,
    points_used: i64,
    points_earned: i64,
    granted: bool,
) -> PointMoves {
    let mut m = PointMoves::default();
    if !from.is_cancelled() && to.is_cancelled() {
        m.used = points_used;
        if granted {
            m.earned = -points_earned;
        }
    } else if from.is_cancelled() && !to.is_cancelled() {
        // Un-cancelling spends the points again.
        m.used = -points_used;
    }
    if to == OrderStatus::Shipped && !granted && !to.is_cancelled() {
        m.earned = points_earned;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_status() -> impl Strategy<Value = OrderStatus> {
        proptest::sample::select(OrderStatus::ALL.to_vec())
    }

    #[test]
    fn cancel_returns_used_and_revokes_granted() {
        let m = on_status_change(OrderStatus::Shipped, OrderStatus::Cancelled, 100, 30, true);
        assert_eq!(
            m,
            PointMoves {
                used: 100,
                earned: -30
            }
        );
        let m = on_status_change(OrderStatus::New, OrderStatus::Shipped, 100, 30, false);
        assert_eq!(
            m,
            PointMoves {
                used: 0,
                earned: 30
            }
        );
    }

    #[test]
    fn creation_spends_unless_cancelled_and_grants_when_shipped() {
        assert_eq!(
            on_create(OrderStatus::New, 100, 30),
            PointMoves {
                used: -100,
                earned: 0
            }
        );
        assert_eq!(
            on_create(OrderStatus::Shipped, 100, 30),
            PointMoves {
                used: -100,
                earned: 30
            }
        );
        assert_eq!(
            on_create(OrderStatus::Cancelled, 100, 30),
            PointMoves { used: 0, earned: 0 }
        );
    }

    proptest! {
        /// Walking any path of statuses and applying the moves never credits more than the
        /// order earned, and leaves used points spent exactly when the order is not cancelled.
        #[test]
        fn ledger_stays_consistent(path in proptest::collection::vec(any_status(), 1..20), used in 0i64..1000, earned in 0i64..1000) {
            let mut status = OrderStatus::New;
            let mut granted = false;
            let mut balance = -used; // placing the order spent the points
            for to in path {
                if to == status { continue; }
                let m = on_status_change(status, to, used, earned, granted);
                balance += m.used + m.earned;
                if m.earned > 0 { granted = true; }
                if m.earned < 0 { granted = false; }
                status = to;
                let expected = if status.is_cancelled() { 0 } else { -used } + if granted { earned } else { 0 };
                prop_assert_eq!(balance, expected);
            }
        }
    }
}

// One line of a member's points ledger.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LedgerEntry {
    pub delta: i64,
    pub balance_after: i64,
    pub reason: String,
    pub order_number: Option<i64>,
    pub actor: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

//! Order status (対応状況) and the list an order sits in, with the rules for moving between
//! them. The UI and API ask these functions; they never re-implement them.

use crate::Invalid;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// 決済処理中: created when the buyer goes from confirmation to payment; owned by checkout.
    PendingPayment,
    /// 新規受付
    New,
    /// 入金待ち
    AwaitingPayment,
    /// 入金済み
    Paid,
    /// 取り寄せ中
    Backordered,
    /// 発送済み
    Shipped,
    /// キャンセル
    Cancelled,
    /// 定期配送完了済み
    SubscriptionCompleted,
    /// 顧客キャンセル
    CustomerCancelled,
    /// 決済失敗
    PaymentFailed,
    /// 継続確認中
    RenewalCheck,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 11] = [
        OrderStatus::PendingPayment,
        OrderStatus::New,
        OrderStatus::AwaitingPayment,
        OrderStatus::Paid,
        OrderStatus::Backordered,
        OrderStatus::Shipped,
        OrderStatus::Cancelled,
        OrderStatus::SubscriptionCompleted,
        OrderStatus::CustomerCancelled,
        OrderStatus::PaymentFailed,
        OrderStatus::RenewalCheck,
    ];

    pub fn code(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::New => "new",
            OrderStatus::AwaitingPayment => "awaiting_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Backordered => "backordered",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::SubscriptionCompleted => "subscription_completed",
            OrderStatus::CustomerCancelled => "customer_cancelled",
            OrderStatus::PaymentFailed => "payment_failed",
            OrderStatus::RenewalCheck => "renewal_check",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "決済処理中",
            OrderStatus::New => "新規受付",
            OrderStatus::AwaitingPayment => "入金待ち",
            OrderStatus::Paid => "入金済み",
            OrderStatus::Backordered => "取り寄せ中",
            OrderStatus::Shipped => "発送済み",
            OrderStatus::Cancelled => "キャンセル",
            OrderStatus::SubscriptionCompleted => "定期配送完了済み",
            OrderStatus::CustomerCancelled => "顧客キャンセル",
            OrderStatus::PaymentFailed => "決済失敗",
            OrderStatus::RenewalCheck => "継続確認中",
        }
    }

    pub fn from_code(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|x| x.code() == s)
    }

    pub fn parse(field: &str, s: &str) -> Result<OrderStatus, Invalid> {
        OrderStatus::from_code(s).ok_or_else(|| {
            Invalid::one(
                field,
                "unknown_status",
                format!(
                    "対応状況「{s}」はありません（{}）",
                    OrderStatus::ALL.map(|x| x.code()).join(", ")
                ),
            )
        })
    }

    /// Statuses whose order is called off: its stock goes to the cancelled-order stock list
    /// and the points it used go back to the member.
    pub fn is_cancelled(self) -> bool {
        matches!(
            self,
            OrderStatus::Cancelled | OrderStatus::CustomerCancelled
        )
    }

    /// Statuses an operator may choose by hand.
    pub fn operator_settable(self) -> bool {
        self != OrderStatus::PendingPayment
    }
}

/// The list an order sits in: 受注一覧 / 受注完了一覧 / 受注キャンセル一覧.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OrderList {
    Open,
    Completed,
    Cancelled,
}

impl OrderList {
    pub const ALL: [OrderList; 3] = [OrderList::Open, OrderList::Completed, OrderList::Cancelled];

    pub fn code(self) -> &'static str {
        match self {
            OrderList::Open => "open",
            OrderList::Completed => "completed",
            OrderList::Cancelled => "cancelled",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OrderList::Open => "受注一覧",
            OrderList::Completed => "受注完了一覧",
            OrderList::Cancelled => "受注キャンセル一覧",
        }
    }

    pub fn from_code(s: &str) -> Option<OrderList> {
        OrderList::ALL.into_iter().find(|x| x.code() == s)
    }

    pub fn parse(field: &str, s: &str) -> Result<OrderList, Invalid> {
        OrderList::from_code(s).ok_or_else(|| {
            Invalid::one(
                field,
                "unknown_list",
                format!("一覧「{s}」はありません（open, completed, cancelled）"),
            )
        })
    }
}

/// Why an action on an order is refused, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("決済処理中の受注は操作できません（購入手続きの完了または自動削除を待ってください）")]
    PaymentInProgress,
    #[error("対応状況を「決済処理中」に変更することはできません")]
    CannotSetPending,
    #[error("{0}にある受注は編集できません（受注一覧へ戻してから編集してください）")]
    NotInOpenList(&'static str),
    #[error("{0}にある受注では{1}はできません（受注一覧へ戻してから操作してください）")]
    OnlyInOpenList(&'static str, &'static str),
    #[error("受注完了一覧にある受注は「キャンセル」以外の対応状況に変更できません")]
    CompletedOnlyCancel,
    #[error("受注キャンセル一覧にある受注の対応状況は変更できません（受注一覧へ戻してください）")]
    CancelledListFrozen,
    #[error("すでに「{0}」です")]
    SameStatus(&'static str),
    #[error("すでに{0}にあります")]
    SameList(&'static str),
    #[error("対応状況が「{0}」の受注は受注完了一覧へ移動できません")]
    CannotComplete(&'static str),
    #[error(
        "受注キャンセル一覧へ移動できるのは、対応状況が「キャンセル」「顧客キャンセル」「決済失敗」の受注だけです（現在「{0}」）"
    )]
    CannotMoveToCancelled(&'static str),
    #[error("この受注は削除されています")]
    Deleted,
}

impl Refusal {
    /// Stable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::PaymentInProgress => "payment_in_progress",
            Refusal::CannotSetPending => "cannot_set_pending",
            Refusal::NotInOpenList(_) => "not_in_open_list",
            Refusal::OnlyInOpenList(..) => "only_in_open_list",
            Refusal::CompletedOnlyCancel => "completed_only_cancel",
            Refusal::CancelledListFrozen => "cancelled_list_frozen",
            Refusal::SameStatus(_) => "same_status",
            Refusal::SameList(_) => "same_list",
            Refusal::CannotComplete(_) => "cannot_complete",
            Refusal::CannotMoveToCancelled(_) => "cannot_move_to_cancelled",
            Refusal::Deleted => "deleted",
        }
    }
}

/// Where an order stands: what the rules need to decide what is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub status: OrderStatus,
    pub list: OrderList,
    pub deleted: bool,
}

impl Standing {
    fn live(self) -> Result<(), Refusal> {
        if self.deleted {
            return Err(Refusal::Deleted);
        }
        if self.status == OrderStatus::PendingPayment {
            return Err(Refusal::PaymentInProgress);
        }
        Ok(())
    }

    /// Editing items, amounts, addresses: only in the open list (the manuals: a moved order
    /// keeps only slip printing, and キャンセル in the completed list).
    pub fn can_edit(self) -> Result<(), Refusal> {
        self.live()?;
        match self.list {
            OrderList::Open => Ok(()),
            l => Err(Refusal::NotInOpenList(l.label())),
        }
    }

    pub fn can_change_status(self, to: OrderStatus) -> Result<(), Refusal> {
        self.live()?;
        if !to.operator_settable() {
            return Err(Refusal::CannotSetPending);
        }
        if to == self.status {
            return Err(Refusal::SameStatus(to.label()));
        }
        match self.list {
            OrderList::Open => Ok(()),
            OrderList::Completed if to == OrderStatus::Cancelled => Ok(()),
            OrderList::Completed => Err(Refusal::CompletedOnlyCancel),
            OrderList::Cancelled => Err(Refusal::CancelledListFrozen),
        }
    }

    pub fn can_move(self, to: OrderList) -> Result<(), Refusal> {
        self.live()?;
        if to == self.list {
            return Err(Refusal::SameList(to.label()));
        }
        match to {
            OrderList::Open => Ok(()),
            OrderList::Completed if self.status.is_cancelled() => {
                Err(Refusal::CannotComplete(self.status.label()))
            }
            OrderList::Completed => Ok(()),
            OrderList::Cancelled
                if self.status.is_cancelled() || self.status == OrderStatus::PaymentFailed =>
            {
                Ok(())
            }
            OrderList::Cancelled => Err(Refusal::CannotMoveToCancelled(self.status.label())),
        }
    }

    pub fn can_delete(self) -> Result<(), Refusal> {
        self.live()
    }

    /// Mails (注文確認 / 配送通知 / フリー) and 入金チェック: only in the open list — the
    /// manuals take them away once an order is moved to 受注完了 or 受注キャンセル.
    /// `action` names what was refused (「メール送信」, 「入金チェック」).
    pub fn can_work(self, action: &'static str) -> Result<(), Refusal> {
        self.live()?;
        match self.list {
            OrderList::Open => Ok(()),
            l => Err(Refusal::OnlyInOpenList(l.label(), action)),
        }
    }

    /// 帳票出力 stays in every list (the manuals: a moved order keeps slip printing).
    pub fn can_print(self) -> Result<(), Refusal> {
        self.live()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn st(status: OrderStatus, list: OrderList) -> Standing {
        Standing {
            status,
            list,
            deleted: false,
        }
    }

    #[test]
    fn codes_roundtrip() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::from_code(s.code()), Some(s));
        }
        assert!(OrderStatus::parse("status", "shipping").is_err());
    }

    #[test]
    fn completed_list_allows_only_cancel() {
        let s = st(OrderStatus::Shipped, OrderList::Completed);
        assert!(s.can_change_status(OrderStatus::Cancelled).is_ok());
        assert_eq!(
            s.can_change_status(OrderStatus::Paid),
            Err(Refusal::CompletedOnlyCancel)
        );
        assert!(s.can_edit().is_err());
    }

    #[test]
    fn moved_orders_keep_only_printing() {
        for list in [OrderList::Completed, OrderList::Cancelled] {
            let s = st(OrderStatus::Shipped, list);
            assert!(s.can_print().is_ok());
            let e = s.can_work("メール送信").unwrap_err();
            assert_eq!(e.code(), "only_in_open_list");
            assert!(e.to_string().contains("メール送信はできません"), "{e}");
        }
        assert!(
            st(OrderStatus::New, OrderList::Open)
                .can_work("入金チェック")
                .is_ok()
        );
        assert!(
            st(OrderStatus::PendingPayment, OrderList::Open)
                .can_print()
                .is_err()
        );
    }

    #[test]
    fn cancelled_list_needs_cancel_status() {
        assert!(
            st(OrderStatus::Cancelled, OrderList::Open)
                .can_move(OrderList::Cancelled)
                .is_ok()
        );
        assert!(
            st(OrderStatus::New, OrderList::Open)
                .can_move(OrderList::Cancelled)
                .is_err()
        );
        assert!(
            st(OrderStatus::Cancelled, OrderList::Open)
                .can_move(OrderList::Completed)
                .is_err()
        );
    }

    fn any_status() -> impl Strategy<Value = OrderStatus> {
        proptest::sample::select(OrderStatus::ALL.to_vec())
    }
    fn any_list() -> impl Strategy<Value = OrderList> {
        proptest::sample::select(OrderList::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn pending_is_never_touched_by_operators(to in any_status(), list in any_list(), l2 in any_list()) {
            let s = st(OrderStatus::PendingPayment, list);
            prop_assert!(s.can_change_status(to).is_err());
            prop_assert!(s.can_move(l2).is_err());
            prop_assert!(s.can_edit().is_err());
            prop_assert!(s.can_delete().is_err());
        }

        #[test]
        fn nobody_sets_pending(from in any_status(), list in any_list()) {
            prop_assert!(st(from, list).can_change_status(OrderStatus::PendingPayment).is_err());
        }

        #[test]
        fn deleted_orders_are_frozen(from in any_status(), to in any_status(), list in any_list(), l2 in any_list()) {
            let s = Standing { status: from, list, deleted: true };
            prop_assert!(s.can_change_status(to).is_err());
            prop_assert!(s.can_move(l2).is_err());
            prop_assert!(s.can_edit().is_err());
        }

        #[test]
        fn everything_can_go_back_to_open(from in any_status(), list in any_list()) {
            prop_assume!(from != OrderStatus::PendingPayment && list != OrderList::Open);
            prop_assert!(st(from, list).can_move(OrderList::Open).is_ok());
        }
    }
}

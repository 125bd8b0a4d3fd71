//! What an operator may do to an order's payment, decided in one place (DESIGN.md: "allowed
//! actions come from the domain"). The screen shows the buttons [`allowed`] lists; the API
//! refuses anything else with [`check`]'s reason, in the manuals' words.

use crate::payment_method::{Gateway, PaymentMethod};

/// Where a payment stands, in words common to all gateways (each connector maps its own
/// statuses to these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// Registered, not yet authorized (3DS or the buyer's payment awaited).
    Pending,
    /// 仮売上 / オーソリOK / open.
    Authorized,
    /// 実売上 / 即時売上 / 消込済 / captured.
    Captured,
    /// 取消 / 返品 / closed without capture / CvsCancel.
    Cancelled,
    /// Captured, then refunded in full.
    Refunded,
    /// Konbini / ATM / bank: the buyer paid.
    Paid,
    /// オーソリ期限切れ / 支払期限切れ.
    Expired,
    /// オーソリNG / rejected.
    Failed,
}

/// 売上方式, fixed when the order is created (seed 004 §2-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMode {
    /// 仮売上: authorize now, capture later (売上確定).
    AuthOnly,
    /// 即時売上: authorize and capture at once.
    AuthAndCapture,
}

/// The operations of the manuals' payment panels.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 売上確定 (Paygent 022, GMO 実売上, Paidy capture).
    Capture,
    /// キャンセル: Paygent 021/023, GMO 取消・返品・月跨返品 (by Japan dates), GMO CvsCancel.
    Cancel,
    /// オーソリ変更: a new amount before capture (Paygent 028 or a new authorization, GMO 金額変更
    /// to 仮売上).
    ChangeAuthorization,
    /// 売上変更: a new amount after capture (Paygent 029 or a new authorization, GMO 金額変更
    /// to 即時売上).
    ChangeCapture,
    /// 取引更新: send the order's changed total to the gateway (auth only, amounts differ).
    UpdateTransaction,
    /// 再オーソリ: GMO authorizes a cancelled card payment again.
    Reauthorize,
    /// Paidy 更新: order contents and amount to the order's current total.
    PaidyUpdate,
    /// Paidy クローズ: once the order is キャンセル.
    PaidyClose,
    /// Paidy 払い戻し: all or part of what was captured.
    Refund,
    /// 状態を確認: ask the gateway where the payment stands.
    Refresh,
    /// 旧取引を取消: finish a two-step change that stopped half-way (the new authorization
    /// was taken, the old one is still to be cancelled).
    CancelPrevious,
}

/// Where a journaled operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OpStatus {
    /// Written before the gateway was called; the caller is waiting for its answer (or died).
    Pending,
    /// The answer was lost: the recovery job asks the gateway.
    Unknown,
    Succeeded,
    Failed,
    /// A two-step change stopped half-way: the operator is told what is left to do.
    Partial,
}

impl OpStatus {
    /// Not settled yet: nothing else may run on the payment.
    pub fn is_open(self) -> bool {
        matches!(self, OpStatus::Pending | OpStatus::Unknown)
    }
}

/// The shop's payment settings.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct Settings {
    /// Set the order's 対応状況 after a payment operation (売上確定 → 入金済み, 取消 → キャンセル).
    pub auto_status: bool,
    /// The fee Paygent charges per capture and per cancel (yen).
    pub paygent_fee: i64,
}

codes!(PaymentState { Pending => "pending", Authorized => "authorized", Captured => "captured",
    Cancelled => "cancelled", Refunded => "refunded", Paid => "paid", Expired => "expired",
    Failed => "failed" });
codes!(CaptureMode { AuthOnly => "auth_only", AuthAndCapture => "auth_and_capture" });
codes!(Kind { Card => "card", Paidy => "paidy", PaidLater => "paid_later" });
codes!(Action { Capture => "capture", Cancel => "cancel", ChangeAuthorization => "change_authorization",
    ChangeCapture => "change_capture", UpdateTransaction => "update_transaction",
    Reauthorize => "reauthorize", PaidyUpdate => "paidy_update", PaidyClose => "paidy_close",
    Refund => "refund", Refresh => "refresh", CancelPrevious => "cancel_previous" });
codes!(Replaced { Closed => "closed", Cancelled => "cancelled", ToCancel => "to_cancel" });
codes!(OpStatus { Pending => "pending", Unknown => "unknown", Succeeded => "succeeded",
    Failed => "failed", Partial => "partial" });

impl Action {
    pub const ALL: [Action; 11] = [
        Action::Capture,
        Action::Cancel,
        Action::ChangeAuthorization,
        Action::ChangeCapture,
        Action::UpdateTransaction,
        Action::Reauthorize,
        Action::PaidyUpdate,
        Action::PaidyClose,
        Action::Refund,
        Action::Refresh,
        Action::CancelPrevious,
    ];

    /// The button's words.
    pub fn label(self) -> &'static str {
        match self {
            Action::Capture => "売上確定",
            Action::Cancel => "キャンセル",
            Action::ChangeAuthorization => "オーソリ変更",
            Action::ChangeCapture => "売上変更",
            Action::UpdateTransaction => "取引更新",
            Action::Reauthorize => "再オーソリ",
            Action::PaidyUpdate => "更新",
            Action::PaidyClose => "クローズ",
            Action::Refund => "払い戻し",
            Action::Refresh => "決済状況を確認",
            Action::CancelPrevious => "旧取引を取消",
        }
    }
}

/// What a journaled operation on a payment (`payment_operations.action`) was: an
/// authorization, a payment number requested for a payment made later, or one of the payment
/// panel's operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpAction {
    Authorize,
    RequestPayment,
    Panel(Action),
}

impl OpAction {
    pub fn code(self) -> &'static str {
        match self {
            OpAction::Authorize => "authorize",
            OpAction::RequestPayment => "request_payment",
            OpAction::Panel(a) => a.code(),
        }
    }

    pub fn from_code(s: &str) -> Option<OpAction> {
        match s {
            "authorize" => Some(OpAction::Authorize),
            "request_payment" => Some(OpAction::RequestPayment),
            s => Action::from_code(s).map(OpAction::Panel),
        }
    }

    /// In the journal's words.
    pub fn label(self) -> &'static str {
        match self {
            OpAction::Authorize => "オーソリ",
            OpAction::RequestPayment => "支払番号の発行",
            OpAction::Panel(a) => a.label(),
        }
    }

    /// The panel's operation, if it was one.
    pub fn panel(self) -> Option<Action> {
        match self {
            OpAction::Panel(a) => Some(a),
            _ => None,
        }
    }
}

/// How a payment's earlier gateway id (`payment_refs.standing`) stands after a change that
/// gave the payment a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Replaced {
    /// The gateway closed it itself (Paygent 補正).
    Closed,
    /// juchu cancelled it (two-step change, second step done).
    Cancelled,
    /// Still to be cancelled.
    ToCancel,
}

/// How the payment is made: a card (or Paidy) held by the gateway, or paid later by the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Card,
    Paidy,
    /// Konbini, ATM / Pay-easy, net bank.
    PaidLater,
}

/// What the rules need to know about a payment and its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// How the buyer pays: what the gateway can do depends on it (a konbini slip, a Pay-easy
    /// number …).
    pub method: PaymentMethod,
    pub gateway: Gateway,
    pub kind: Kind,
    pub state: PaymentState,
    pub mode: CaptureMode,
    /// Held by the gateway now (authorized, or captured).
    pub amount: i64,
    pub refunded: i64,
    /// The order's current total (お支払い合計).
    pub order_total: i64,
    /// The order's 対応状況 is キャンセル.
    pub order_cancelled: bool,
    /// An operation whose outcome is not known yet (確認中): nothing else until it is settled.
    pub in_doubt: bool,
    /// An earlier authorization of this payment is still to be cancelled (a two-step
    /// change stopped half-way).
    pub previous_to_cancel: bool,
}

/// The state an operator acts on: an authorization past its capture deadline is 期限切れ
/// whatever the gateway last said (GMO keeps showing `AUTH`; Paidy `authorized`).
pub fn effective_state(
    state: PaymentState,
    capture_deadline: Option<jiff::Timestamp>,
    now: jiff::Timestamp,
) -> PaymentState {
    match (state, capture_deadline) {
        (PaymentState::Authorized, Some(t)) if t <= now => PaymentState::Expired,
        _ => state,
    }
}

/// Why an action is not allowed, for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAllowed(pub String);

/// The actions the payment panel offers now, in the manuals' order.
pub fn allowed(f: &Facts) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|a| check(f, *a).is_ok())
        .collect()
}

/// Is `action` allowed now? The reason when it is not.
// Long: every action's rule in one match, so the manuals' rules are read in one place.
pub fn check(f: &Facts, action: Action) -> Result<(), NotAllowed> {
    use Action::*;
    use PaymentState as S;
    let no = |why: &str| Err(NotAllowed(why.to_owned()));
    if action == Refresh {
        return Ok(());
    }
    if f.in_doubt {
        return no(
            "前の決済処理の結果を確認中です。確認が終わるまで他の処理はできません（決済状況を確認してください）",
        );
    }
    if f.kind == Kind::PaidLater {
        // The buyer pays at the store or bank; only GMO lets the shop cancel an unpaid slip.
        return match (action, f.method.cancels_unpaid(), f.state) {
            (Cancel, true, S::Pending) => Ok(()),
            (Cancel, true, _) => no("支払い前のコンビニ決済だけ取り消せます"),
            (Cancel, false, _) => no(&format!(
                "{}は決済会社で取り消せません（支払期限を過ぎると支払えなくなります）",
                f.method.label()
            )),
            _ => no("この支払方法では、決済状況の確認のみできます"),
        };
    }
    if action == CancelPrevious {
        return if f.previous_to_cancel {
            Ok(())
        } else {
            no("取り消す旧取引はありません")
        };
    }
    let state_name = state_label(f.state);
    let differs = f.order_total != f.amount;
    match action {
        Capture => match (f.state, f.mode) {
            // Paygent's and Paidy's manuals: the capture button is closed while the shop's
            // amount and the gateway's differ — send the change first.
            (S::Authorized, CaptureMode::AuthOnly) if differs && f.gateway != Gateway::Gmo => {
                no(&format!(
                    "受注金額（{}円）と決済金額（{}円）が異なります。先に「{}」で決済金額を合わせてください",
                    f.order_total,
                    f.amount,
                    if f.gateway == Gateway::Paidy {
                        "更新"
                    } else {
                        "取引更新"
                    }
                ))
            }
            (S::Authorized, CaptureMode::AuthOnly) => Ok(()),
            (S::Authorized, CaptureMode::AuthAndCapture) => {
                no("即時売上の受注です。売上確定はオーソリと同時に済んでいます")
            }
            (S::Expired, _) => no("オーソリの有効期限が切れているため売上確定できません"),
            _ => no(&format!(
                "決済状況が「{state_name}」のため売上確定できません"
            )),
        },
        Cancel => match (f.gateway, f.state) {
            (Gateway::Paidy, _) => {
                no("Paidyはクローズ（売上前）または払い戻し（売上後）を使います")
            }
            (_, S::Authorized | S::Captured) => Ok(()),
            // GMO keeps a lapsed AUTH until it is cancelled (返品); cancelling releases it and
            // opens 再オーソリ.
            (Gateway::Gmo, S::Expired) => Ok(()),
            (Gateway::Paygent, S::Expired) => no(
                "オーソリの有効期限が切れています。ペイジェントでは期限切れの与信は残らないため取消は不要です（お客様に再度ご購入いただく必要があります）",
            ),
            _ => no(&format!("決済状況が「{state_name}」のため取り消せません")),
        },
        ChangeAuthorization => {
            if f.gateway == Gateway::Paidy {
                return no("Paidyの金額は「更新」で変更します");
            }
            match (f.state, f.mode) {
                (S::Authorized, CaptureMode::AuthOnly) => Ok(()),
                (_, CaptureMode::AuthAndCapture) => {
                    no("即時売上の受注では、キャンセルのみできます")
                }
                _ => no(&format!(
                    "決済状況が「{state_name}」のためオーソリ変更できません"
                )),
            }
        }
        ChangeCapture => {
            if f.gateway == Gateway::Paidy {
                return no("Paidyの売上後の減額は「払い戻し」で行います");
            }
            match (f.state, f.mode) {
                (S::Captured, CaptureMode::AuthOnly) => Ok(()),
                (_, CaptureMode::AuthAndCapture) => {
                    no("即時売上の受注では、キャンセルのみできます")
                }
                _ => no(&format!(
                    "決済状況が「{state_name}」のため売上変更できません"
                )),
            }
        }
        UpdateTransaction => {
            if f.gateway == Gateway::Paidy {
                return no("Paidyは「更新」を使います");
            }
            if f.mode == CaptureMode::AuthAndCapture {
                return no("即時売上の受注では、キャンセルのみできます");
            }
            if f.state != S::Authorized {
                return no(&format!(
                    "決済状況が「{state_name}」のため取引更新できません（売上前のみ）"
                ));
            }
            if !differs {
                return no("受注金額と決済金額が同じため、取引更新は不要です");
            }
            Ok(())
        }
        Reauthorize => {
            if f.gateway != Gateway::Gmo {
                return no("再オーソリはGMO-PGのカード決済でのみできます");
            }
            if f.state != S::Cancelled {
                return no("取消済みの決済だけ再オーソリできます");
            }
            if f.order_cancelled {
                return no(
                    "対応状況が「キャンセル」の受注は再オーソリできません（対応状況を戻してから行ってください）",
                );
            }
            Ok(())
        }
        PaidyUpdate => {
            if f.gateway != Gateway::Paidy {
                return no("「更新」はPaidyの決済でのみできます");
            }
            if f.state != S::Authorized {
                return no(&format!("決済状況が「{state_name}」のため更新できません"));
            }
            if !differs {
                return no("受注金額と決済金額が同じため、更新は不要です");
            }
            paidy_update_amount(f.amount, f.order_total)
        }
        PaidyClose => {
            if f.gateway != Gateway::Paidy {
                return no("クローズはPaidyの決済でのみできます");
            }
            if !f.order_cancelled {
                return no("対応状況を「キャンセル」にしてからクローズしてください");
            }
            match f.state {
                S::Authorized | S::Captured | S::Expired => Ok(()),
                _ => no(&format!(
                    "決済状況が「{state_name}」のためクローズできません"
                )),
            }
        }
        Refund => {
            if f.gateway != Gateway::Paidy {
                return no(
                    "払い戻しはPaidyの決済でのみできます（カードはキャンセルまたは売上変更）",
                );
            }
            if f.state != S::Captured {
                return no(&format!(
                    "決済状況が「{state_name}」のため払い戻しできません（売上確定後のみ）"
                ));
            }
            if f.refunded >= f.amount {
                return no("売上額はすべて払い戻し済みです");
            }
            Ok(())
        }
        Refresh | CancelPrevious => Ok(()),
    }
}

/// The largest amount one payment can carry at the gateway: Paygent's `payment_amount` and
/// GMO's `Amount` take at most 7 digits; Paidy publishes no ceiling, so juchu's own.
pub fn amount_limit(g: Gateway) -> i64 {
    match g {
        Gateway::Paygent | Gateway::Gmo => 9_999_999,
        Gateway::Paidy => crate::money::MAX_YEN,
    }
}

/// Paidy's 更新 may raise the amount by at most 10% of what was authorized.
pub fn paidy_update_amount(authorized: i64, new_total: i64) -> Result<(), NotAllowed> {
    if new_total <= 0 {
        return Err(NotAllowed("更新後の金額は1円以上にしてください".into()));
    }
    // 10% above, rounded down: integer yen, never a fraction over.
    let ceiling = authorized.saturating_add(authorized / 10);
    if new_total > ceiling {
        return Err(NotAllowed(format!(
            "Paidyの金額は元の金額（{authorized}円）の10%増し（{ceiling}円）までしか上げられません"
        )));
    }
    Ok(())
}

/// A refund of `amount`, or of everything left (`None`).
pub fn refund_amount(captured: i64, refunded: i64, amount: Option<i64>) -> Result<i64, NotAllowed> {
    let left = captured - refunded;
    match amount {
        None => Ok(left),
        Some(a) if a <= 0 => Err(NotAllowed("払い戻し額は1円以上にしてください".into())),
        Some(a) if a > left => Err(NotAllowed(format!(
            "払い戻し額は、売上額から払い戻し済みの額を引いた {left}円 までです"
        ))),
        Some(a) => Ok(a),
    }
}

/// The state in the panel's words.
pub fn state_label(s: PaymentState) -> &'static str {
    match s {
        PaymentState::Pending => "未決済",
        PaymentState::Authorized => "仮売上",
        PaymentState::Captured => "売上確定",
        PaymentState::Cancelled => "取消",
        PaymentState::Refunded => "払い戻し済み",
        PaymentState::Paid => "入金済み",
        PaymentState::Expired => "期限切れ",
        PaymentState::Failed => "決済失敗",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;

    fn card(gateway: Gateway, state: PaymentState) -> Facts {
        Facts {
            method: match gateway {
                Gateway::Paygent => PaymentMethod::PaygentCard,
                Gateway::Gmo => PaymentMethod::GmoCard,
                Gateway::Paidy => PaymentMethod::Paidy,
            },
            gateway,
            kind: if gateway == Gateway::Paidy {
                Kind::Paidy
            } else {
                Kind::Card
            },
            state,
            mode: CaptureMode::AuthOnly,
            amount: 1000,
            refunded: 0,
            order_total: 1000,
            order_cancelled: false,
            in_doubt: false,
            previous_to_cancel: false,
        }
    }

    #[test]
    fn paygent_card_before_and_after_capture() {
        let f = card(Gateway::Paygent, PaymentState::Authorized);
        assert_eq!(
            allowed(&f),
            vec![Capture, Cancel, ChangeAuthorization, Refresh]
        );
        let f = Facts {
            order_total: 1200,
            ..f
        };
        assert!(allowed(&f).contains(&UpdateTransaction));
        assert!(check(&f, Capture).unwrap_err().0.contains("取引更新"));
        let f = card(Gateway::Paygent, PaymentState::Captured);
        assert_eq!(allowed(&f), vec![Cancel, ChangeCapture, Refresh]);
        let f = card(Gateway::Paygent, PaymentState::Expired);
        assert_eq!(allowed(&f), vec![Refresh]);
        assert!(check(&f, Capture).unwrap_err().0.contains("有効期限"));
    }

    #[test]
    fn auth_and_capture_orders_offer_only_cancel() {
        for g in [Gateway::Paygent, Gateway::Gmo] {
            let f = Facts {
                mode: CaptureMode::AuthAndCapture,
                order_total: 800,
                ..card(g, PaymentState::Captured)
            };
            assert_eq!(allowed(&f), vec![Cancel, Refresh]);
            assert!(
                check(&f, ChangeCapture)
                    .unwrap_err()
                    .0
                    .contains("キャンセルのみ")
            );
        }
    }

    #[test]
    fn gmo_reauthorizes_a_cancel_only_once_the_order_is_no_longer_cancelled() {
        let f = Facts {
            order_cancelled: true,
            ..card(Gateway::Gmo, PaymentState::Cancelled)
        };
        assert_eq!(allowed(&f), vec![Refresh]);
        assert!(check(&f, Reauthorize).unwrap_err().0.contains("キャンセル"));
        let f = Facts {
            order_cancelled: false,
            ..f
        };
        assert_eq!(allowed(&f), vec![Reauthorize, Refresh]);
        assert!(
            check(
                &card(Gateway::Paygent, PaymentState::Cancelled),
                Reauthorize
            )
            .is_err()
        );
    }

    #[test]
    fn paidy_update_close_refund() {
        let f = card(Gateway::Paidy, PaymentState::Authorized);
        assert_eq!(allowed(&f), vec![Capture, Refresh]);
        let up = Facts {
            order_total: 1100,
            ..f
        };
        assert!(allowed(&up).contains(&PaidyUpdate));
        let too_much = Facts {
            order_total: 1101,
            ..f
        };
        assert!(check(&too_much, PaidyUpdate).unwrap_err().0.contains("10%"));
        let cancelled = Facts {
            order_cancelled: true,
            ..f
        };
        assert!(allowed(&cancelled).contains(&PaidyClose));
        let captured = card(Gateway::Paidy, PaymentState::Captured);
        assert_eq!(allowed(&captured), vec![Refund, Refresh]);
        let all_back = Facts {
            refunded: 1000,
            ..captured
        };
        assert!(check(&all_back, Refund).is_err());
        assert_eq!(refund_amount(1000, 300, None), Ok(700));
        assert_eq!(refund_amount(1000, 300, Some(700)), Ok(700));
        assert!(refund_amount(1000, 300, Some(701)).is_err());
        assert!(refund_amount(1000, 0, Some(0)).is_err());
    }

    #[test]
    fn a_half_done_change_offers_cancelling_the_old_authorization() {
        let f = Facts {
            previous_to_cancel: true,
            ..card(Gateway::Paygent, PaymentState::Authorized)
        };
        assert!(allowed(&f).contains(&CancelPrevious));
        assert!(
            !allowed(&card(Gateway::Paygent, PaymentState::Authorized)).contains(&CancelPrevious)
        );
        for a in Action::ALL {
            assert_eq!(Action::from_code(a.code()), Some(a));
        }
        assert_eq!(
            PaymentState::from_code("captured"),
            Some(PaymentState::Captured)
        );
    }

    #[test]
    fn a_lapsed_authorization_offers_only_what_can_still_be_done() {
        let now: jiff::Timestamp = "2024-11-18T01:00:00Z".parse().unwrap();
        let past = Some("2024-11-17T01:00:00Z".parse().unwrap());
        let later = Some("2024-11-19T01:00:00Z".parse().unwrap());
        use PaymentState as S;
        assert_eq!(effective_state(S::Authorized, past, now), S::Expired);
        assert_eq!(effective_state(S::Authorized, later, now), S::Authorized);
        assert_eq!(effective_state(S::Captured, past, now), S::Captured);
        assert_eq!(effective_state(S::Authorized, None, now), S::Authorized);
        // GMO: cancel the lapsed AUTH, then re-authorize.
        assert_eq!(
            allowed(&card(Gateway::Gmo, S::Expired)),
            vec![Cancel, Refresh]
        );
        // Paygent cancelled it itself; the buyer must order again.
        let f = card(Gateway::Paygent, S::Expired);
        assert_eq!(allowed(&f), vec![Refresh]);
        assert!(check(&f, Cancel).unwrap_err().0.contains("再度ご購入"));
        // Paidy: close once the order is cancelled.
        let f = Facts {
            order_cancelled: true,
            ..card(Gateway::Paidy, S::Expired)
        };
        assert_eq!(allowed(&f), vec![PaidyClose, Refresh]);
    }

    #[test]
    fn an_operation_in_doubt_blocks_everything_but_refresh() {
        for g in [Gateway::Paygent, Gateway::Gmo, Gateway::Paidy] {
            let f = Facts {
                in_doubt: true,
                ..card(g, PaymentState::Authorized)
            };
            assert_eq!(allowed(&f), vec![Refresh]);
            assert!(check(&f, Capture).unwrap_err().0.contains("確認中"));
        }
    }

    #[test]
    fn paid_later_methods_only_refresh_except_gmo_konbini_cancel() {
        let later = |method: PaymentMethod| Facts {
            kind: Kind::PaidLater,
            method,
            ..card(method.gateway().unwrap(), PaymentState::Pending)
        };
        assert_eq!(
            allowed(&later(PaymentMethod::GmoKonbini)),
            vec![Cancel, Refresh]
        );
        for m in [
            PaymentMethod::GmoPayeasy,
            PaymentMethod::PaygentKonbini,
            PaymentMethod::PaygentAtm,
            PaymentMethod::PaygentNetbank,
        ] {
            assert_eq!(allowed(&later(m)), vec![Refresh], "{m:?}");
            assert!(
                check(&later(m), Cancel)
                    .unwrap_err()
                    .0
                    .contains("取り消せません")
            );
        }
    }

    proptest::proptest! {
        /// Whatever the facts, refresh is always offered and every offered action passes its
        /// own check; an action in doubt never offers more than refresh.
        #[test]
        fn allowed_is_what_check_accepts(
            g in 0..3u8, k in 0..3u8, s in 0..8u8, auth_only: bool, amount in 1..100_000i64,
            total in 1..100_000i64, cancelled: bool, doubt: bool,
        ) {
            let gateway = [Gateway::Paygent, Gateway::Gmo, Gateway::Paidy][g as usize];
            let state = [PaymentState::Pending, PaymentState::Authorized, PaymentState::Captured,
                PaymentState::Cancelled, PaymentState::Refunded, PaymentState::Paid,
                PaymentState::Expired, PaymentState::Failed][s as usize];
            let kind = [Kind::Card, Kind::Paidy, Kind::PaidLater][k as usize];
            let method = match (gateway, kind) {
                (Gateway::Paygent, Kind::PaidLater) => PaymentMethod::PaygentKonbini,
                (Gateway::Gmo, Kind::PaidLater) => PaymentMethod::GmoKonbini,
                (Gateway::Paygent, _) => PaymentMethod::PaygentCard,
                (Gateway::Gmo, _) => PaymentMethod::GmoCard,
                (Gateway::Paidy, _) => PaymentMethod::Paidy,
            };
            let f = Facts {
                method,
                gateway,
                kind,
                state,
                mode: if auth_only { CaptureMode::AuthOnly } else { CaptureMode::AuthAndCapture },
                amount, refunded: 0, order_total: total, order_cancelled: cancelled, in_doubt: doubt,
                previous_to_cancel: false,
            };
            let a = allowed(&f);
            proptest::prop_assert!(a.contains(&Refresh));
            for x in &a {
                proptest::prop_assert!(check(&f, *x).is_ok());
            }
            if doubt {
                proptest::prop_assert_eq!(a, vec![Refresh]);
            }
        }
    }
}

/// Attempt オーソリ制御区分 (seed 004 §3-3 ⑪): when a card payment with 3-D Secure on may be
/// authorized. A successful authentication always may; an *attempt* (the issuer took no part)
/// only as far as the shop accepts the chargeback risk. Failed authentications never may: the
/// caller passes only results that passed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AttemptControl {
    /// セキュリティ高（全て実施しない）: only after a successful 3DS authentication.
    High,
    /// セキュリティ中（正常時のみ実施）: also an attempt of category 正常 (`attempt_kbn` "0",
    /// chargebacks borne by the issuer).
    Medium,
    /// セキュリティ低（全て実施）: also an attempt of category 注意 (`attempt_kbn` "1",
    /// chargebacks borne by the merchant).
    Low,
}

codes!(AttemptControl { High => "high", Medium => "medium", Low => "low" });

impl AttemptControl {
    pub const ALL: [AttemptControl; 3] = [
        AttemptControl::High,
        AttemptControl::Medium,
        AttemptControl::Low,
    ];

    /// 高 / 中 / 低, as the settings screen says it.
    pub fn label(self) -> &'static str {
        match self {
            AttemptControl::High => "高",
            AttemptControl::Medium => "中",
            AttemptControl::Low => "低",
        }
    }

    /// One line on what the level does, in the manual's words.
    pub fn explanation(self) -> &'static str {
        match self {
            AttemptControl::High => {
                "全て実施しない: 3Dセキュア認証に成功した場合に限りオーソリを行います"
            }
            AttemptControl::Medium => {
                "正常時のみ実施: 認証成功に加え、Attempt区分が「正常」（チャージバック負担はカード会社）の場合もオーソリを行います"
            }
            AttemptControl::Low => {
                "全て実施: 認証成功に加え、Attempt区分が「正常」「注意」（注意はチャージバック負担が加盟店）の場合もオーソリを行います"
            }
        }
    }

    /// May a card payment whose 3DS result passed be authorized? `authenticated`: the buyer
    /// was authenticated; otherwise `attempt_kbn` is the attempt's category ("0" 正常, "1"
    /// 注意). Anything else (an unknown category) is refused.
    pub fn allows(self, authenticated: bool, attempt_kbn: &str) -> bool {
        if authenticated {
            return true;
        }
        match self {
            AttemptControl::High => false,
            AttemptControl::Medium => attempt_kbn == "0",
            AttemptControl::Low => matches!(attempt_kbn, "0" | "1"),
        }
    }
}

#[cfg(test)]
mod attempt_tests {
    use super::AttemptControl::{self, High, Low, Medium};

    #[test]
    fn authenticated_is_always_allowed() {
        for a in AttemptControl::ALL {
            assert!(a.allows(true, ""));
            assert!(a.allows(true, "1"));
        }
    }

    #[test]
    fn attempts_by_level() {
        assert!(!High.allows(false, "0"));
        assert!(!High.allows(false, "1"));
        assert!(Medium.allows(false, "0"));
        assert!(!Medium.allows(false, "1"));
        assert!(Low.allows(false, "0"));
        assert!(Low.allows(false, "1"));
        for a in AttemptControl::ALL {
            assert!(!a.allows(false, ""));
            assert!(!a.allows(false, "2"));
        }
    }

    #[test]
    fn codes_and_labels() {
        for a in AttemptControl::ALL {
            assert_eq!(AttemptControl::from_code(a.code()), Some(a));
        }
        assert_eq!(High.label(), "高");
        assert_eq!(Medium.label(), "中");
        assert_eq!(Low.label(), "低");
        assert_eq!(AttemptControl::from_code("x"), None);
    }
}

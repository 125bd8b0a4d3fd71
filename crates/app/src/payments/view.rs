//! The payment panel's view of an order's payment, the fee ledger and the shop's payment
//! settings.

use super::*;

/// An action the panel offers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ActionView {
    pub action: String,
    pub label: String,
}

/// An earlier gateway id of the payment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PreviousView {
    pub payment_id: String,
    pub amount: i64,
    pub reason: String,
    /// `closed`, `to_cancel`, `cancelled`
    pub standing: String,
    pub standing_label: String,
    pub replaced_at: String,
}

/// The order's payment as the payment panel shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    /// `paygent`, `gmo`, `paidy`
    pub gateway: String,
    pub gateway_name: String,
    /// `card`, `paidy`, `paid_later`
    pub kind: String,
    /// `auth_only` (仮売上) or `auth_and_capture` (即時売上), fixed when the order was made.
    pub mode: String,
    pub mode_label: String,
    /// 取引ID / 決済ID at the gateway now.
    pub payment_id: String,
    /// Paygent trading_id, GMO OrderID.
    pub trading_id: String,
    pub state: String,
    pub state_label: String,
    /// The status in the gateway's own words (AUTH, 20, authorized …).
    pub gateway_status: String,
    pub amount: i64,
    pub captured: i64,
    pub refunded: i64,
    /// The order's お支払い合計.
    pub order_total: i64,
    pub amount_differs: bool,
    pub authorized_at: Option<String>,
    /// 売上確定有効期限.
    pub auth_expires_at: Option<String>,
    pub auth_expired: bool,
    pub three_ds: bool,
    pub installments: String,
    pub masked_card: String,
    pub version: i64,
    pub allowed: Vec<ActionView>,
    /// The operation whose outcome is being confirmed (確認中), if any.
    pub open_operation: Option<OperationResult>,
    pub previous: Vec<PreviousView>,
    /// Newest first.
    pub operations: Vec<OperationResult>,
    /// What the operator should know before acting (the manuals' warnings).
    pub warnings: Vec<String>,
    /// Paid later: what the buyer was given to pay with (受付番号 …), the URL, the due date.
    pub slip_fields: Vec<(String, String)>,
    pub slip_url: Option<String>,
    pub due_at: Option<String>,
    /// Something the operator must look at (a net-bank payment past its due date …).
    pub attention: String,
}

impl PreviousView {
    fn of(r: PreviousRef) -> PreviousView {
        PreviousView {
            standing_label: match r.standing {
                Replaced::Closed => "決済会社で取消済み",
                Replaced::ToCancel => "取消待ち",
                Replaced::Cancelled => "取消済み",
            }
            .to_owned(),
            payment_id: r.display_id,
            amount: r.amount.get(),
            reason: r.reason,
            standing: r.standing.code().to_owned(),
            replaced_at: juchu_domain::time::from_db(&r.replaced_at)
                .map(jst_minute)
                .unwrap_or(r.replaced_at),
        }
    }
}

/// The order's payment, or `None` when it has none yet.
pub async fn view(app: &App, actor: &Actor, number: i64) -> Result<Option<PaymentView>, AppError> {
    let mut conn = app.store.read().await?;
    let order = orders::get(&mut conn, actor.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    let ops = store::operations(&mut conn, order.id, 20).await?;
    let Some(p) = store::by_order(&mut conn, order.id).await? else {
        return Ok(None);
    };
    let previous = store::previous(&mut conn, p.id).await?;
    let open = store::open_operation(&mut conn, order.id).await?;
    let now = app.now();
    let f = facts(&order, &p, open.is_some(), &previous, now);
    let h = &p.held;
    let total = f.order_total;
    let expired = f.state == PaymentState::Expired;
    let warnings = warnings(&order, &p, &f, open.is_some());
    let slip: Option<juchu_gateway::PaymentSlip> = serde_json::from_str(&p.slip).ok();
    let operations = ops
        .iter()
        .map(|op| OperationResult::of(op, op.new_display_id.clone(), false))
        .collect();
    Ok(Some(PaymentView {
        gateway: p.gateway.code().to_owned(),
        gateway_name: p.gateway.name().to_owned(),
        kind: p.kind.code().to_owned(),
        mode: p.mode.code().to_owned(),
        mode_label: match p.mode {
            CaptureMode::AuthOnly => "仮売上（売上確定は後で）",
            CaptureMode::AuthAndCapture => "即時売上",
        }
        .to_owned(),
        payment_id: h.display_id.clone(),
        trading_id: h.trading_id.clone(),
        state: f.state.code().to_owned(),
        state_label: state_label(f.state).to_owned(),
        gateway_status: h.gateway_status.clone(),
        amount: h.amount.get(),
        captured: h.captured.get(),
        refunded: h.refunded.get(),
        order_total: total,
        amount_differs: total != h.amount.get(),
        authorized_at: h.authorized_at.map(jst_minute),
        auth_expires_at: h.auth_expires_at.map(jst_minute),
        auth_expired: expired,
        three_ds: p.three_ds,
        installments: p.installments.clone(),
        masked_card: p.masked_card.clone(),
        version: p.version,
        allowed: payment::allowed(&f)
            .into_iter()
            .map(|a| ActionView {
                action: a.code().to_owned(),
                label: a.label().to_owned(),
            })
            .collect(),
        open_operation: open.map(|op| OperationResult::of(&op, op.new_display_id.clone(), false)),
        previous: previous.into_iter().map(PreviousView::of).collect(),
        operations,
        warnings,
        slip_fields: slip.as_ref().map(|x| x.fields.clone()).unwrap_or_default(),
        slip_url: slip.and_then(|x| x.url),
        due_at: p.due_at.map(jst_minute),
        attention: p.attention.clone(),
    }))
}

/// What the operator should know before acting, in the manuals' words, most urgent first.
fn warnings(order: &Order, p: &store::Payment, f: &Facts, has_open: bool) -> Vec<String> {
    let h = &p.held;
    let mut warnings = Vec::new();
    if has_open {
        warnings.push(
            "前の決済処理の結果を確認中です。確認が終わるまで他の処理はできません".to_owned(),
        );
    }
    if p.kind != Kind::PaidLater && f.state == PaymentState::Expired {
        warnings.push(format!(
            "オーソリの有効期限{}が過ぎています。売上確定はできません。{}",
            h.auth_expires_at
                .map(|t| format!("（{}）", jst_minute(t)))
                .unwrap_or_default(),
            after_expiry(p.gateway)
        ));
    }
    // A change made at the gateway comes first: it explains the warnings below it.
    let changed_at_gateway = p.kind != Kind::PaidLater && !p.attention.is_empty();
    if changed_at_gateway {
        warnings.push(p.attention.clone());
    }
    warnings.extend(amount_warning(p, f, changed_at_gateway));
    warnings.extend(list_warning(p, f, order.list).map(str::to_owned));
    if p.three_ds && f.state != PaymentState::Cancelled {
        warnings.push(
            "3Dセキュア認証済みの決済です。金額を変更すると、変更後の取引は本人認証による保護の対象外になることがあります".to_owned(),
        );
    }
    if f.previous_to_cancel {
        warnings.push(
            "元の決済の取消が済んでいません。「旧取引を取消」で取り消してください（二重の与信が残っています）".to_owned(),
        );
    }
    if !p.attention.is_empty() && !changed_at_gateway {
        warnings.push(p.attention.clone());
    }
    warnings
}

/// What can be done once an authorization has lapsed, per gateway.
fn after_expiry(g: Gateway) -> &'static str {
    match g {
        Gateway::Gmo => {
            "「キャンセル」で与信を取り消すと、「再オーソリ」で同じカードに与信を取り直せます（3Dセキュアの保護は受けられません）"
        }
        Gateway::Paygent => {
            "ペイジェントではオーソリ期限切れとなり、与信は残りません。お客様に再度ご購入いただく必要があります"
        }
        Gateway::Paidy => {
            "Paidyでは与信を取り直せません。お客様に再度ご購入いただくか、受注をキャンセルしてクローズしてください"
        }
    }
}

/// The order's total and the payment's amount differ: which action brings them together.
fn amount_warning(p: &store::Payment, f: &Facts, changed_at_gateway: bool) -> Option<String> {
    let h = &p.held;
    let total = f.order_total;
    let live = h.captured.get() - h.refunded.get();
    match (p.gateway, f.state) {
        (Gateway::Paidy, PaymentState::Authorized) if total != h.amount.get() => Some(format!(
            "注文代金の総額（{}）とPaidyの決済金額（{}）が異なります。「更新」で合わせてから売上確定してください",
            yen(total),
            h.amount
        )),
        (Gateway::Paidy, PaymentState::Captured) if total != live => Some(format!(
            "売上確定後に注文代金の総額（{}）が請求済金額（{}）と異なっています。減額分は「払い戻し」で返金してください",
            yen(total),
            yen(live)
        )),
        (_, PaymentState::Authorized | PaymentState::Captured)
            if p.kind == Kind::Card && total != h.amount.get() =>
        {
            Some(format!(
                "受注金額（{}）と決済金額（{}）が異なります。{}",
                yen(total),
                h.amount,
                if p.mode == CaptureMode::AuthAndCapture {
                    "即時売上の受注はキャンセルのみできます"
                } else if changed_at_gateway && h.state == PaymentState::Authorized {
                    "受注編集で受注金額を決済金額に合わせるか、「取引更新」で決済金額を受注に合わせてください"
                } else if h.state == PaymentState::Authorized {
                    "「取引更新」または「オーソリ変更」で合わせてください"
                } else {
                    "「売上変更」で合わせてください"
                }
            ))
        }
        _ => None,
    }
}

/// Seed 004 §7-3: what the payment's state means in the list the order sits in.
fn list_warning(p: &store::Payment, f: &Facts, list: OrderList) -> Option<&'static str> {
    match (f.state, list) {
        (PaymentState::Authorized, OrderList::Completed) => Some(
            "注意: 売上確定が済んでいません。取引が正常に終わっているなら「売上確定」を押してください（売上確定しないと精算されません）",
        ),
        (PaymentState::Authorized, OrderList::Cancelled) => Some(
            "キャンセルの受注です。決済も「キャンセル」（Paidyは「クローズ」）で取り消してください",
        ),
        (PaymentState::Captured, OrderList::Cancelled) => Some(
            "注意: 売上確定済みの決済の受注がキャンセル一覧にあります。このままでは購入者に請求されます。キャンセルなら決済も取り消し、決済会社の管理画面でも一致を確認してください",
        ),
        (PaymentState::Expired, OrderList::Completed) if p.kind != Kind::PaidLater => Some(
            "注意: オーソリの有効期限が切れたまま受注完了一覧にあります。売上確定されていないため精算されません",
        ),
        (PaymentState::Cancelled, OrderList::Completed) => Some(
            "注意: 決済を取り消した受注が受注完了一覧にあります。メモ欄などにキャンセルの旨を記録してください",
        ),
        _ => None,
    }
}

/// One line of the fee ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FeeLine {
    pub order_number: i64,
    pub gateway: String,
    pub action: String,
    pub fee: i64,
    pub at: String,
}

impl From<store::FeeLine> for FeeLine {
    fn from(l: store::FeeLine) -> FeeLine {
        FeeLine {
            order_number: l.order_number,
            gateway: l.gateway,
            action: l.action,
            fee: l.fee,
            at: l.at,
        }
    }
}

/// A month's fees with their total.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FeeMonth {
    /// `YYYY-MM` (Japan time)
    pub month: String,
    pub count: i64,
    pub total: i64,
    pub lines: Vec<FeeLine>,
}

pub async fn fees(app: &App, actor: &Actor, month: &str) -> Result<FeeMonth, AppError> {
    let ok = month.len() == 7
        && month.as_bytes()[4] == b'-'
        && month[..4].bytes().all(|b| b.is_ascii_digit())
        && matches!(month[5..].parse::<u8>(), Ok(1..=12));
    if !ok {
        return Err(AppError::Invalid(juchu_domain::Invalid::one(
            "month",
            "invalid",
            "月は YYYY-MM（例: 2024-08）で指定してください",
        )));
    }
    let lines = store::fees(&mut *app.store.read().await?, actor.shop_id, month).await?;
    Ok(FeeMonth {
        month: month.to_owned(),
        count: lines.len() as i64,
        total: lines.iter().map(|l| l.fee).sum(),
        lines: lines.into_iter().map(FeeLine::from).collect(),
    })
}

pub async fn settings(
    app: &App,
    actor: &Actor,
) -> Result<juchu_domain::payment::Settings, AppError> {
    Ok(store::settings(&mut *app.store.read().await?, actor.shop_id).await?)
}

pub async fn set_settings(
    app: &App,
    actor: &Actor,
    s: juchu_domain::payment::Settings,
) -> Result<juchu_domain::payment::Settings, AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden);
    }
    if !(0..=100_000).contains(&s.paygent_fee) {
        return Err(AppError::Invalid(juchu_domain::Invalid::one(
            "paygent_fee",
            "out_of_range",
            "手数料は0〜100,000円で指定してください",
        )));
    }
    let mut tx = app.store.begin().await?;
    store::set_settings(&mut tx, actor.shop_id, &s).await?;
    tx.commit().await?;
    Ok(s)
}

/// 決済ログ's conditions as typed (`?from=&to=&gateway=&action=&status=&actor=&number=`).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// From this Japan date (`2024/08/19` or `2024-08-19`), inclusive.
    pub from: Option<String>,
    /// To this Japan date, inclusive.
    pub to: Option<String>,
    /// `paygent`, `gmo`, `paidy`
    pub gateway: Option<String>,
    /// `authorize`, `request_payment`, `capture`, `cancel`, … (the journal's actions)
    pub action: Option<String>,
    /// `succeeded`, `failed`, `partial`, `pending`, `unknown`
    pub status: Option<String>,
    /// Part of the operator's name.
    pub actor: Option<String>,
    /// 注文番号
    pub number: Option<String>,
    /// 1-based
    pub page: Option<i64>,
    /// default 100, at most 500
    pub per_page: Option<i64>,
}

/// One payment operation in 決済ログ.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LogEntry {
    pub operation_id: i64,
    pub order_number: i64,
    /// `paygent`, `gmo`, `paidy`; empty when the order has no payment.
    pub gateway: String,
    pub gateway_name: String,
    pub action: String,
    pub label: String,
    pub status: OpStatus,
    /// 成功, 失敗, 一部完了, 確認中
    pub status_label: String,
    pub amount: i64,
    pub result_code: String,
    pub message: String,
    pub actor: String,
    /// Japan time, to the minute.
    pub at: String,
}

/// A page of 決済ログ.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LogPage {
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub operations: Vec<LogEntry>,
}

/// The journal's status in the operator's words.
pub fn op_status_label(s: OpStatus) -> &'static str {
    match s {
        OpStatus::Succeeded => "成功",
        OpStatus::Failed => "失敗",
        OpStatus::Partial => "一部完了",
        OpStatus::Pending | OpStatus::Unknown => "確認中",
    }
}

/// 決済ログ: every payment operation of the shop, single and bulk, newest first — so a failed
/// one is found without opening every order.
pub async fn operation_log(app: &App, actor: &Actor, q: &LogQuery) -> Result<LogPage, AppError> {
    use juchu_domain::input::{parse_date, parse_int};
    let mut e = juchu_domain::Invalid::default();
    let present = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let from = present(&q.from).and_then(|d| e.take(parse_date("from", &d)));
    let to = present(&q.to).and_then(|d| e.take(parse_date("to", &d)));
    let mut f = store::LogFilter {
        from: from.map(juchu_domain::time::jst_day_start),
        to: to.map(juchu_domain::time::jst_day_end),
        actor: present(&q.actor),
        order_number: present(&q.number).and_then(|n| e.take(parse_int("number", &n))),
        ..Default::default()
    };
    if let Some(g) = present(&q.gateway) {
        match Gateway::from_code(&g) {
            Some(g) => f.gateway = Some(g),
            None => e.push(juchu_domain::FieldError::new(
                "gateway",
                "unknown_gateway",
                "決済会社は paygent, gmo, paidy のいずれかです",
            )),
        }
    }
    if let Some(a) = present(&q.action) {
        match OpAction::from_code(&a) {
            Some(a) => f.action = Some(a),
            None => e.push(juchu_domain::FieldError::new(
                "action",
                "unknown_action",
                format!("決済操作「{a}」はありません"),
            )),
        }
    }
    if let Some(st) = present(&q.status) {
        match OpStatus::from_code(&st) {
            Some(st) => f.status = Some(st),
            None => e.push(juchu_domain::FieldError::new(
                "status",
                "unknown_status",
                "結果は succeeded, failed, partial, pending, unknown のいずれかです",
            )),
        }
    }
    if let Some(a) = &f.actor
        && let Err(x) = juchu_domain::search::check_search_text("actor", a)
    {
        e.push(x);
    }
    let f = e.into_result(f)?;
    let page = q.page.unwrap_or(1).clamp(1, juchu_domain::search::MAX_PAGE);
    let per_page = q.per_page.unwrap_or(100).clamp(1, 500);
    let (total, rows) = store::operation_log(
        &mut *app.store.read().await?,
        actor.shop_id,
        &f,
        per_page,
        juchu_domain::search::page_offset(page, per_page),
    )
    .await?;
    Ok(LogPage {
        total,
        page,
        per_page,
        operations: rows
            .into_iter()
            .map(|l| LogEntry {
                operation_id: l.op.id,
                order_number: l.order_number,
                gateway: l.gateway.map(|g| g.code().to_owned()).unwrap_or_default(),
                gateway_name: l.gateway.map(|g| g.name().to_owned()).unwrap_or_default(),
                action: l.op.action.code().to_owned(),
                label: l.op.action.label().to_owned(),
                status: l.op.status,
                status_label: op_status_label(l.op.status).to_owned(),
                amount: l.op.amount.get(),
                result_code: l.op.result_code.clone(),
                message: l.op.message.clone(),
                actor: l.op.actor.clone(),
                at: jst_minute(l.op.created_at),
            })
            .collect(),
    })
}

//! Order use cases: create, edit, status changes, list moves, delete, search, history.

use juchu_domain::history::{HistoryEntry, Outcome};
use juchu_domain::order::OrderSummary;
use juchu_domain::order::{ItemInput, Order, OrderDraft, OrderInput};
use juchu_domain::points;
use juchu_domain::search::{OrderSearch, PaymentFilter, SearchInput};
use juchu_domain::status::{OrderList, OrderStatus};
use juchu_domain::time::jst_date;
use juchu_domain::{FieldError, Invalid};
use juchu_store::catalog::{self, Take};
use juchu_store::customers::{self, PointMove};
use juchu_store::orders::{self, StatusWrite};
use juchu_store::{AnyConnection, Tx, cancelled_stock};

use crate::{Actor, App, AppError};

/// Fill item fields left out (name, variants, price, tax rate) from the catalog by code.
pub(crate) async fn fill_items(
    conn: &mut AnyConnection,
    shop_id: i64,
    items: &mut [ItemInput],
) -> Result<(), AppError> {
    for it in items.iter_mut() {
        let needs = it.product_name.is_none() || it.unit_price.is_none() || it.tax_rate.is_none();
        if !needs || it.product_code.trim().is_empty() {
            continue;
        }
        if let Some(v) = catalog::variant_by_code(conn, shop_id, it.product_code.trim()).await? {
            it.product_name.get_or_insert(v.product_name);
            it.class1.get_or_insert(v.draft.class1);
            it.class2.get_or_insert(v.draft.class2);
            it.unit_price.get_or_insert(v.draft.price.get());
            it.tax_rate.get_or_insert(v.draft.tax_rate.percent());
        }
    }
    Ok(())
}

fn entry(actor: &Actor, at: jiff::Timestamp, action: &str, detail: String) -> HistoryEntry {
    HistoryEntry {
        at,
        actor: actor.name.clone(),
        action: action.to_owned(),
        detail,
        outcome: Outcome::Ok,
    }
}

/// Move a member's points for an order: a negative delta spends (refused when the balance
/// is short), a positive one returns or grants; zero does nothing.
async fn move_points(
    tx: &mut Tx,
    actor: &Actor,
    customer_id: i64,
    order_id: i64,
    delta: i64,
    reason: &str,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    if delta == 0 {
        return Ok(());
    }
    let m = PointMove {
        delta,
        reason,
        order_id: Some(order_id),
        actor: &actor.name,
        allow_negative: delta > 0,
    };
    match customers::move_points(tx, actor.shop_id, customer_id, &m, now).await? {
        Some(_) => Ok(()),
        None => Err(AppError::Invalid(Invalid::one(
            "points_used",
            "insufficient_points",
            format!("会員のポイント残高が不足しています（必要: {}pt）", -delta),
        ))),
    }
}

/// Read the order as written, then commit: the caller gets exactly what was stored.
async fn commit_and_read(mut tx: Tx, actor: &Actor, number: i64) -> Result<Order, AppError> {
    let order = orders::get(tx.conn(), actor.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    tx.commit().await?;
    Ok(order)
}

/// The operator's screen showed `expected` (None: the caller does not check); an order
/// changed since is refused, never overwritten.
fn check_version(o: &Order, expected: Option<i64>) -> Result<(), AppError> {
    match expected {
        Some(v) if v != o.version => Err(AppError::Stale { current: o.version }),
        _ => Ok(()),
    }
}

/// How an order enters the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    /// 新規受注入力: stock is taken off the shelf, refused when short.
    Manual,
    /// An order placed elsewhere (migration, another channel): stock is left alone.
    Import,
}

pub async fn create(
    app: &App,
    actor: &Actor,
    mut input: OrderInput,
    intake: Intake,
) -> Result<Order, AppError> {
    fill_items(
        &mut *app.store.read().await?,
        actor.shop_id,
        &mut input.items,
    )
    .await?;
    let mut draft = input.validate()?;
    if !draft.status.operator_settable() {
        return Err(AppError::Invalid(Invalid::one(
            "status",
            "cannot_set_pending",
            "「決済処理中」の受注は購入手続きだけが作ります",
        )));
    }
    let now = app.now();
    if draft.status == OrderStatus::Shipped && draft.shipped_on.is_none() {
        draft.shipped_on = Some(jst_date(now));
    }
    let mut tx = app.store.begin().await?;
    let (_, number) = create_in(&mut tx, actor, &draft, intake, now).await?;
    commit_and_read(tx, actor, number).await
}

/// Write a new order in the caller's transaction: number, stock (for `Intake::Manual`),
/// points, history. The checkout uses it for its 決済処理中 orders. → (id, number)
pub(crate) async fn create_in(
    tx: &mut Tx,
    actor: &Actor,
    draft: &OrderDraft,
    intake: Intake,
    now: jiff::Timestamp,
) -> Result<(i64, i64), AppError> {
    if let Some(cid) = draft.customer_id
        && customers::get(tx.conn(), actor.shop_id, cid)
            .await?
            .is_none()
    {
        return Err(Invalid::one(
            "customer_id",
            "unknown_customer",
            format!("会員ID {cid} はありません"),
        )
        .into());
    }
    let number = juchu_store::shops::next_order_number(tx, actor.shop_id).await?;
    let id = orders::insert(tx, actor.shop_id, number, draft, now).await?;
    if intake == Intake::Manual {
        take_stock(tx, actor.shop_id, draft).await?;
    }
    let mut granted = false;
    if let Some(cid) = draft.customer_id {
        let m = points::on_create(draft.status, draft.totals.points_used, draft.points_earned);
        move_points(
            tx,
            actor,
            cid,
            id,
            m.used,
            &format!("注文番号 {number} で使用"),
            now,
        )
        .await?;
        move_points(
            tx,
            actor,
            cid,
            id,
            m.earned,
            &format!("注文番号 {number} の加算"),
            now,
        )
        .await?;
        granted = m.earned > 0;
    }
    if granted {
        orders::mark_points_granted(tx, id).await?;
    }
    let how = match intake {
        Intake::Manual => "受注を登録しました",
        Intake::Import => "受注を取り込みました",
    };
    let detail = format!(
        "{how}（対応状況: {}、お支払い合計: {}）",
        draft.status.label(),
        draft.totals.payment_total
    );
    orders::add_history(
        tx,
        actor.shop_id,
        id,
        &entry(actor, now, "order.created", detail),
    )
    .await?;
    Ok((id, number))
}

async fn take_stock(tx: &mut Tx, shop_id: i64, draft: &OrderDraft) -> Result<(), AppError> {
    let mut e = Invalid::default();
    for (i, it) in draft.items.iter().enumerate() {
        if let Take::Insufficient { available } =
            catalog::take_stock(tx, shop_id, &it.product_code, it.quantity).await?
        {
            e.push(FieldError::new(
                format!("items[{i}].quantity"),
                "insufficient_stock",
                format!(
                    "在庫が不足しています（{}: 在庫 {available}）",
                    it.product_code
                ),
            ));
        }
    }
    // Any shortfall rolls back the whole order, stock taken for other lines included.
    e.into_result(()).map_err(AppError::from)
}

pub async fn get(app: &App, actor: &Actor, number: i64) -> Result<Order, AppError> {
    orders::get(&mut *app.store.read().await?, actor.shop_id, number)
        .await?
        .filter(|o| o.deleted_at.is_none())
        .ok_or(AppError::NotFound("受注"))
}

pub async fn history(app: &App, actor: &Actor, number: i64) -> Result<Vec<HistoryEntry>, AppError> {
    let mut conn = app.store.read().await?;
    let o = orders::get(&mut conn, actor.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    Ok(orders::history(&mut conn, o.id).await?)
}

/// An edit: the fields to change and the version the operator started from. Status is not
/// edited here (its changes have consequences: see `change_status`).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderPatch {
    pub version: i64,
    pub customer: Option<juchu_domain::customer::PersonInput>,
    pub email: Option<String>,
    pub birth_date: Option<String>,
    pub sex: Option<String>,
    pub delivery: Option<juchu_domain::customer::PersonInput>,
    pub delivery_date: Option<String>,
    pub delivery_time: Option<String>,
    /// Replaces all items.
    pub items: Option<Vec<ItemInput>>,
    pub discount: Option<i64>,
    pub shipping_fee: Option<i64>,
    pub fee: Option<i64>,
    pub points_used: Option<i64>,
    pub points_earned: Option<i64>,
    pub payment_method: Option<String>,
    pub remarks: Option<String>,
    pub memo: Option<String>,
    pub shipped_on: Option<String>,
    pub tracking_number: Option<String>,
    pub gateway_ref: Option<String>,
}

impl OrderPatch {
    fn apply(self, i: &mut OrderInput) {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { i.$f = v; } )* };
        }
        macro_rules! set_opt {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { i.$f = Some(v); } )* };
        }
        set!(
            customer,
            email,
            items,
            discount,
            shipping_fee,
            fee,
            points_used,
            points_earned,
            payment_method,
            remarks,
            memo,
            tracking_number,
            gateway_ref
        );
        set_opt!(
            birth_date,
            sex,
            delivery,
            delivery_date,
            delivery_time,
            shipped_on
        );
    }
}

/// What changed, in the operator's words, for the history.
fn describe_changes(old: &OrderDraft, new: &OrderDraft) -> String {
    let mut parts = Vec::new();
    let mut money = |label: &str, a: juchu_domain::Yen, b: juchu_domain::Yen| {
        if a != b {
            parts.push(format!("{label}: {a}→{b}"));
        }
    };
    money("小計", old.totals.subtotal, new.totals.subtotal);
    money("値引き", old.totals.discount, new.totals.discount);
    money("送料", old.totals.shipping_fee, new.totals.shipping_fee);
    money("手数料", old.totals.fee, new.totals.fee);
    money(
        "お支払い合計",
        old.totals.payment_total,
        new.totals.payment_total,
    );
    if old.items != new.items {
        parts.push("商品".to_owned());
    }
    if old.totals.points_used != new.totals.points_used {
        parts.push(format!(
            "使用ポイント: {}→{}",
            old.totals.points_used, new.totals.points_used
        ));
    }
    if old.customer != new.customer
        || old.email != new.email
        || old.birth_date != new.birth_date
        || old.sex != new.sex
    {
        parts.push("注文者情報".to_owned());
    }
    if old.delivery != new.delivery
        || old.delivery_date != new.delivery_date
        || old.delivery_time != new.delivery_time
    {
        parts.push("お届け先".to_owned());
    }
    if old.payment_method != new.payment_method {
        parts.push(format!(
            "支払方法: {}→{}",
            old.payment_method.label(),
            new.payment_method.label()
        ));
    }
    if old.tracking_number != new.tracking_number {
        parts.push(format!("お問い合わせ番号: {}", new.tracking_number));
    }
    if old.shipped_on != new.shipped_on {
        parts.push("発送日".to_owned());
    }
    if old.remarks != new.remarks {
        parts.push("備考".to_owned());
    }
    if old.memo != new.memo {
        parts.push("メモ".to_owned());
    }
    if old.gateway_ref != new.gateway_ref {
        parts.push("外部決済注文番号".to_owned());
    }
    if parts.is_empty() {
        "受注内容を保存しました（変更なし）".to_owned()
    } else {
        format!("受注内容を変更しました（{}）", parts.join("、"))
    }
}

pub async fn edit(
    app: &App,
    actor: &Actor,
    number: i64,
    patch: OrderPatch,
) -> Result<Order, AppError> {
    let now = app.now();
    let version = patch.version;
    let mut tx = app.store.begin().await?;
    let old = orders::get_for_update(&mut tx, actor.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    old.standing().can_edit()?;
    if old.version != version {
        return Err(AppError::Stale {
            current: old.version,
        });
    }
    let mut input = old.draft.to_input();
    patch.apply(&mut input);
    fill_items(tx.conn(), actor.shop_id, &mut input.items).await?;
    let draft = input.validate()?;
    if draft.payment_method != old.draft.payment_method
        && juchu_store::payments::by_order(tx.conn(), old.id)
            .await?
            .is_some()
    {
        return Err(Invalid::one(
            "payment_method",
            "payment_exists",
            format!(
                "決済（{}）があるため支払方法は変更できません。決済を取り消してから新しい受注を作成してください",
                old.draft.payment_method.label()
            ),
        )
        .into());
    }
    if let Some(cid) = draft.customer_id
        && !draft.status.is_cancelled()
    {
        let delta = old.draft.totals.points_used - draft.totals.points_used;
        move_points(
            &mut tx,
            actor,
            cid,
            old.id,
            delta,
            &format!("注文番号 {number} の使用ポイント変更"),
            now,
        )
        .await?;
    }
    if !orders::update_draft(&mut tx, old.id, version, &draft, now).await? {
        return Err(AppError::Stale {
            current: version + 1,
        });
    }
    let detail = describe_changes(&old.draft, &draft);
    orders::add_history(
        &mut tx,
        actor.shop_id,
        old.id,
        &entry(actor, now, "order.edited", detail),
    )
    .await?;
    commit_and_read(tx, actor, number).await
}

/// Change one order's 対応状況, with what comes with it: cancelling puts its items on the
/// cancelled-order stock list and returns used points; un-cancelling takes both back;
/// shipping sets the ship date and grants earned points.
pub async fn change_status(
    app: &App,
    actor: &Actor,
    number: i64,
    to: OrderStatus,
    expected_version: Option<i64>,
) -> Result<Order, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let o = orders::get_for_update(&mut tx, actor.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    check_version(&o, expected_version)?;
    apply_status(&mut tx, actor, &o, to, now).await?;
    commit_and_read(tx, actor, number).await
}

/// Change the status of `o` (locked by the caller's transaction) with what comes with it,
/// and record it in the order's history.
pub(crate) async fn apply_status(
    tx: &mut Tx,
    actor: &Actor,
    o: &Order,
    to: OrderStatus,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    o.standing().can_change_status(to)?;
    write_status(tx, actor, o, to, now).await
}

/// `apply_status` without asking the order's standing: for the checkout, which alone moves
/// a 決済処理中 order on (to 新規受付 / 入金待ち, or キャンセル when it is removed).
pub(crate) async fn write_status(
    tx: &mut Tx,
    actor: &Actor,
    o: &Order,
    to: OrderStatus,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    let number = o.number;
    let from = o.draft.status;
    let mut notes = Vec::new();
    let mut granted = o.points_granted;
    if let Some(cid) = o.draft.customer_id {
        let m = points::on_status_change(
            from,
            to,
            o.draft.totals.points_used,
            o.draft.points_earned,
            granted,
        );
        let reason = |what: &str| {
            format!(
                "注文番号 {number} の{what}（{}→{}）",
                from.label(),
                to.label()
            )
        };
        if m.used != 0 {
            move_points(tx, actor, cid, o.id, m.used, &reason("使用ポイント"), now).await?;
            notes.push(if m.used > 0 {
                format!("使用ポイント{}ptを会員に戻しました", m.used)
            } else {
                format!("使用ポイント{}ptを再度使用しました", -m.used)
            });
        }
        if m.earned != 0 {
            move_points(tx, actor, cid, o.id, m.earned, &reason("加算ポイント"), now).await?;
            granted = m.earned > 0;
            notes.push(if m.earned > 0 {
                format!("加算ポイント{}ptを付与しました", m.earned)
            } else {
                format!("加算ポイント{}ptを取り消しました", -m.earned)
            });
        }
    }
    if to.is_cancelled() && !from.is_cancelled() {
        cancelled_stock::add_order_items(tx, actor.shop_id, o.id, &o.draft.items, now).await?;
        let n: i64 = o.draft.items.iter().map(|i| i.quantity).sum();
        notes.push(format!(
            "商品{n}点をキャンセル受注在庫に移しました（在庫へ戻すにはキャンセル受注在庫管理から）"
        ));
    }
    if from.is_cancelled() && !to.is_cancelled() {
        let n = cancelled_stock::withdraw_open_of_order(tx, actor.shop_id, o.id).await?;
        if n > 0 {
            notes.push(format!("キャンセル受注在庫から{n}行を取り下げました"));
        }
    }
    let shipped_on = if to == OrderStatus::Shipped && o.draft.shipped_on.is_none() {
        Some(jst_date(now))
    } else {
        o.draft.shipped_on
    };
    let w = StatusWrite {
        status: to,
        shipped_on,
        points_granted: granted,
    };
    if !orders::set_status(tx, o.id, o.version, &w, now).await? {
        return Err(AppError::Stale {
            current: o.version + 1,
        });
    }
    let mut detail = format!(
        "対応状況を「{}」から「{}」に変更しました",
        from.label(),
        to.label()
    );
    if !notes.is_empty() {
        detail.push_str(&format!("（{}）", notes.join("、")));
    }
    orders::add_history(
        tx,
        actor.shop_id,
        o.id,
        &entry(actor, now, "order.status_changed", detail),
    )
    .await?;
    Ok(())
}

/// One order's result in a bulk run.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BulkResult {
    pub number: i64,
    pub ok: bool,
    /// Error code when not ok.
    pub code: Option<String>,
    pub message: String,
    /// Done, but something the operator must look at: an order shipped whose payment is
    /// still only authorized (売上確定が済んでいません) or has lapsed.
    pub warning: Option<String>,
}

/// What shipping an order means for its payment, when that needs the operator's attention.
fn shipping_warning(p: &PaymentBrief) -> Option<String> {
    match p.state.as_str() {
        "authorized" => Some(format!(
            "決済は仮売上のままです。売上確定が済んでいません{}",
            p.auth_expires_at
                .as_deref()
                .map(|t| format!("（売上確定期限 {t}）"))
                .unwrap_or_default()
        )),
        "expired" => Some("オーソリの有効期限が切れています。売上確定できません".to_owned()),
        _ => None,
    }
}

/// ステータス管理: change many orders; each succeeds or fails on its own.
pub async fn change_status_many(
    app: &App,
    actor: &Actor,
    numbers: &[i64],
    to: OrderStatus,
) -> Result<Vec<BulkResult>, AppError> {
    let mut out = Vec::with_capacity(numbers.len());
    // Shipped orders, by id, to look at their payments once all are moved.
    let mut shipped: Vec<(usize, i64)> = Vec::new();
    for &n in numbers {
        out.push(match change_status(app, actor, n, to, None).await {
            Ok(o) => {
                if to == OrderStatus::Shipped {
                    shipped.push((out.len(), o.id));
                }
                BulkResult {
                    number: n,
                    ok: true,
                    code: None,
                    message: format!("「{}」に変更しました", to.label()),
                    warning: None,
                }
            }
            // An internal failure is reported on its order too: the ones before it were
            // committed, and the operator must see which.
            Err(e @ (AppError::Store(_) | AppError::Internal(_))) => {
                tracing::error!(number = n, error = %e, "bulk status change failed");
                BulkResult {
                    number: n,
                    ok: false,
                    code: Some(e.code().to_owned()),
                    message:
                        "内部エラーのため変更できませんでした。この受注の状態を確認してください"
                            .to_owned(),
                    warning: None,
                }
            }
            Err(e) => BulkResult {
                number: n,
                ok: false,
                code: Some(e.code().to_owned()),
                message: e.to_string(),
                warning: None,
            },
        });
    }
    if !shipped.is_empty() {
        let ids: Vec<i64> = shipped.iter().map(|(_, id)| *id).collect();
        let pays = briefs(app, &ids).await?;
        for (i, id) in shipped {
            out[i].warning = pays.get(&id).and_then(shipping_warning);
        }
    }
    Ok(out)
}

pub async fn move_to_list(
    app: &App,
    actor: &Actor,
    number: i64,
    to: OrderList,
    expected_version: Option<i64>,
) -> Result<Order, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let o = orders::get_for_update(&mut tx, actor.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    o.standing().can_move(to)?;
    check_version(&o, expected_version)?;
    if !orders::set_list(&mut tx, o.id, o.version, to, now).await? {
        return Err(AppError::Stale {
            current: o.version + 1,
        });
    }
    let detail = format!("{}から{}へ移動しました", o.list.label(), to.label());
    orders::add_history(
        &mut tx,
        actor.shop_id,
        o.id,
        &entry(actor, now, "order.moved", detail),
    )
    .await?;
    commit_and_read(tx, actor, number).await
}

/// 入金チェック: a manual mark with no gateway effect (seed 004 §7-1: the ¥ turns to 済).
/// Only in 受注一覧, like the mails.
pub async fn set_payment_checked(
    app: &App,
    actor: &Actor,
    number: i64,
    checked: bool,
    expected_version: Option<i64>,
) -> Result<Order, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let o = orders::get_for_update(&mut tx, actor.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    o.standing().can_work("入金チェック")?;
    check_version(&o, expected_version)?;
    if o.payment_checked == checked {
        return Err(AppError::conflict(
            "same_payment_check",
            if checked {
                "すでに入金チェック済みです"
            } else {
                "入金チェックは付いていません"
            },
        ));
    }
    if !orders::set_payment_checked(&mut tx, o.id, o.version, checked, &actor.name, now).await? {
        return Err(AppError::Stale {
            current: o.version + 1,
        });
    }
    let detail = if checked {
        "入金チェックを「済」にしました"
    } else {
        "入金チェックを外しました"
    };
    orders::add_history(
        &mut tx,
        actor.shop_id,
        o.id,
        &entry(actor, now, "order.payment_checked", detail.to_owned()),
    )
    .await?;
    commit_and_read(tx, actor, number).await
}

/// Logical delete: the order leaves every list but keeps its record and history.
pub async fn delete(
    app: &App,
    actor: &Actor,
    number: i64,
    expected_version: Option<i64>,
) -> Result<(), AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let o = orders::get_for_update(&mut tx, actor.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    o.standing().can_delete()?;
    check_version(&o, expected_version)?;
    if !orders::mark_deleted(&mut tx, o.id, o.version, now).await? {
        return Err(AppError::Stale {
            current: o.version + 1,
        });
    }
    orders::add_history(
        &mut tx,
        actor.shop_id,
        o.id,
        &entry(actor, now, "order.deleted", "受注を削除しました".to_owned()),
    )
    .await?;
    Ok(tx.commit().await?)
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SearchPage {
    /// Matches in all pages.
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub orders: Vec<ListedOrder>,
}

/// A row of the order list with its payment.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ListedOrder {
    #[serde(flatten)]
    pub order: OrderSummary,
    /// The order's payment, when it has one.
    pub payment: Option<PaymentBrief>,
}

/// An order with its payment at a glance.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: Order,
    /// The order's payment, when it has one (the whole panel: `/orders/{number}/payment`).
    pub payment: Option<PaymentBrief>,
}

/// One order with its payment.
pub async fn detail(app: &App, actor: &Actor, number: i64) -> Result<OrderDetail, AppError> {
    let order = get(app, actor, number).await?;
    let payment = briefs(app, &[order.id]).await?.remove(&order.id);
    Ok(OrderDetail { order, payment })
}

pub async fn search(
    app: &App,
    actor: &Actor,
    input: &SearchInput,
) -> Result<(OrderSearch, SearchPage), AppError> {
    let s = input.validate()?;
    let (total, list) =
        orders::search(&mut *app.store.read().await?, actor.shop_id, &s, app.now()).await?;
    let ids: Vec<i64> = list.iter().map(|o| o.id).collect();
    let mut payments = briefs(app, &ids).await?;
    let page = SearchPage {
        total,
        page: s.page,
        per_page: s.per_page,
        orders: list
            .into_iter()
            .map(|o| ListedOrder {
                payment: payments.remove(&o.id),
                order: o,
            })
            .collect(),
    };
    Ok((s, page))
}

/// A checkout's order completed with its payment, in the transaction that records the
/// payment (`payments::settle`): the order leaves 決済処理中 (to 新規受付, or 入金待ち when the
/// buyer pays later) and its thanks mail is written.
pub(crate) async fn complete_checkout(
    tx: &mut Tx,
    shop_id: i64,
    actor_name: &str,
    order: &Order,
    slip: Option<&juchu_gateway::PaymentSlip>,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    let to = if slip.is_some() {
        OrderStatus::AwaitingPayment
    } else {
        OrderStatus::New
    };
    let who = Actor {
        shop_id,
        user_id: None,
        name: actor_name.to_owned(),
        is_admin: false,
    };
    write_status(tx, &who, order, to, now).await?;
    // サンクスメール (for cards also the payment-completion notice), Bcc to the shop: the
    // shop's 注文確認 template, the same text an operator re-sends from the order.
    crate::mail::thanks_in(tx, shop_id, actor_name, order, to, slip, now).await?;
    juchu_store::checkouts::complete_order(tx, order.id, now).await?;
    Ok(())
}

/// An order's payment at a glance: in the order JSON and every row of the order list, so a
/// client needs no second request per order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PaymentBrief {
    /// `paygent`, `gmo`, `paidy`
    pub gateway: String,
    /// 取引ID / 決済ID at the gateway now.
    pub payment_id: String,
    /// `pending`, `authorized`, `captured`, `cancelled`, `refunded`, `paid`, `expired`,
    /// `failed` — an authorization past its capture deadline is `expired`.
    pub state: String,
    /// 決済状況: 仮売上, 売上確定, 期限切れ, 入金待ち, 確認中 …
    pub state_label: String,
    /// An operation on the payment awaits its answer (確認中): nothing else may run on it.
    pub in_doubt: bool,
    /// The status in the gateway's own words.
    pub gateway_status: String,
    pub amount: i64,
    pub captured: i64,
    pub refunded: i64,
    /// 売上確定有効期限 (Japan time).
    pub auth_expires_at: Option<String>,
}

impl PaymentBrief {
    /// 決済状況 as a code for the screens' colours: `in_doubt` while an answer is awaited,
    /// else the state.
    pub fn state_code(&self) -> &str {
        if self.in_doubt {
            "in_doubt"
        } else {
            &self.state
        }
    }

    pub(crate) fn of(
        p: &juchu_store::payments::Payment,
        in_doubt: bool,
        now: jiff::Timestamp,
    ) -> PaymentBrief {
        let h = &p.held;
        let state = juchu_domain::payment::effective_state(h.state, h.auth_expires_at, now);
        PaymentBrief {
            gateway: p.gateway.code().to_owned(),
            payment_id: h.display_id.clone(),
            state: state.code().to_owned(),
            state_label: PaymentFilter::of(p.kind, state, in_doubt)
                .label()
                .to_owned(),
            in_doubt,
            gateway_status: h.gateway_status.clone(),
            amount: h.amount.get(),
            captured: h.captured.get(),
            refunded: h.refunded.get(),
            auth_expires_at: h.auth_expires_at.map(juchu_domain::time::format_jst_minute),
        }
    }
}

/// The payments of these orders, by order id.
async fn briefs(
    app: &App,
    order_ids: &[i64],
) -> Result<std::collections::HashMap<i64, PaymentBrief>, AppError> {
    briefs_in(&mut *app.store.read().await?, order_ids, app.now()).await
}

/// `briefs` on a connection the caller holds, as of `now`.
pub(crate) async fn briefs_in(
    conn: &mut juchu_store::AnyConnection,
    order_ids: &[i64],
    now: jiff::Timestamp,
) -> Result<std::collections::HashMap<i64, PaymentBrief>, AppError> {
    let open = juchu_store::payments::orders_in_doubt(conn, order_ids).await?;
    Ok(juchu_store::payments::by_orders(conn, order_ids)
        .await?
        .iter()
        .map(|p| {
            (
                p.order_id,
                PaymentBrief::of(p, open.contains(&p.order_id), now),
            )
        })
        .collect())
}

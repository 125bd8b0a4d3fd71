//! Payments the buyer makes later — konbini, ATM / Pay-easy, net bank: the request that gives
//! the buyer a payment number, and what the gateways say afterwards. A notification (Paygent
//! 差分通知, GMO 結果通知) or the pull job (Paygent 差分照会, a query per open payment) only
//! names the payment: juchu then asks the gateway where it stands and applies that, so a
//! forged or replayed notification cannot change anything by itself.
//!
//! Paid → 入金済み. Past the due date unpaid: konbini and ATM / Pay-easy → キャンセル (the
//! items go to the cancelled-order stock list; stock is never returned by itself); net bank →
//! the order stays 入金待ち and is flagged for the operator (the manuals' rule: a late net-bank
//! payment can still arrive).

use juchu_domain::payment_method::PaymentMethod;
use juchu_gateway::{LaterMethod, LaterRequest};
use juchu_store::payments::{GatewayId, NewNotice, Notice};

use super::*;

/// Parameters of a payment-number request.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct LaterInput {
    /// Konbini: the chain (GMO Convenience code `00001` Lawson, `10001` Seven-Eleven …;
    /// Paygent cvs_company_id).
    #[serde(default)]
    pub store: Option<String>,
    /// Days until the due date (default 7).
    #[serde(default)]
    pub due_days: Option<u8>,
}

fn later_method(m: PaymentMethod, input: &LaterInput) -> Result<LaterMethod, AppError> {
    match m {
        PaymentMethod::PaygentKonbini | PaymentMethod::GmoKonbini => {
            let store = input
                .store
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    AppError::Invalid(juchu_domain::Invalid::one(
                        "store",
                        "required",
                        "コンビニ決済は支払先のコンビニ（store）を指定してください",
                    ))
                })?;
            Ok(LaterMethod::Konbini {
                store: store.to_owned(),
            })
        }
        PaymentMethod::PaygentAtm | PaymentMethod::GmoPayeasy => Ok(LaterMethod::PayEasy),
        PaymentMethod::PaygentNetbank => Ok(LaterMethod::NetBank),
        other => Err(AppError::conflict(
            "not_paid_later",
            format!("支払方法「{}」は後払いの決済ではありません", other.label()),
        )),
    }
}

/// Issue the order's payment number (konbini, ATM / Pay-easy, net bank) for its お支払い合計;
/// the order becomes 入金待ち. Journaled like every operation.
pub async fn request_later(
    app: &App,
    actor: &Actor,
    number: i64,
    input: LaterInput,
    key: Option<String>,
) -> Result<OperationResult, AppError> {
    let key = check_key(key)?;
    let request = serde_json::json!({
        "order": number, "action": "request_payment", "store": input.store, "due_days": input.due_days,
    })
    .to_string();
    let now = app.now();
    let (mut tx, order) = match lock_order(app, actor, number, &key, &request).await? {
        Ok(x) => x,
        Err(first) => return Ok(first),
    };
    let method = later_method(order.draft.payment_method, &input)?;
    let gateway = order_gateway(&order)?;
    if store::by_order(tx.conn(), order.id).await?.is_some() {
        return Err(AppError::conflict(
            "payment_exists",
            "この受注には支払番号が発行済みです",
        ));
    }
    if let Some(op) = store::open_operation(tx.conn(), order.id).await? {
        return Err(in_doubt(&op));
    }
    let due_days = input.due_days.unwrap_or(7);
    if !(1..=60).contains(&due_days) {
        return Err(AppError::Invalid(juchu_domain::Invalid::one(
            "due_days",
            "out_of_range",
            "支払期限は1〜60日で指定してください",
        )));
    }
    let amount = order.draft.totals.payment_total.get();
    let gw = app.gateways().get(gateway)?;
    let op = NewOperation {
        shop_id: actor.shop_id,
        payment_id: None,
        order_id: order.id,
        action: "request_payment",
        idempotency_key: &key,
        request: &request,
        amount,
        actor: &actor.name,
    };
    let op_id = match journal(app, tx, op, now).await? {
        Ok(id) => id,
        Err(first) => return Ok(first),
    };
    let c = &order.draft.customer;
    let req = LaterRequest {
        order_ref: order_ref(number, op_id),
        amount,
        method,
        customer_name: format!("{} {}", c.family_name, c.given_name),
        customer_kana: format!("{} {}", c.family_kana, c.given_kana),
        tel: c.tel.clone(),
        due_days,
    };
    let verdict = match gw.request_payment(&req).await {
        Ok((payment, slip)) => Verdict::Created {
            status: GatewayStatus::new(PaymentState::Pending, "", amount),
            payment,
            mode: CaptureMode::AuthAndCapture,
            kind: Kind::PaidLater,
            installments: String::new(),
            masked: String::new(),
            slip: Some(slip),
            three_ds: false,
        },
        Err(e) => Verdict::from_error(e),
    };
    settle(app, &actor.name, op_id, verdict).await
}

/// What became of one notification or pulled status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Applied {
    pub order_number: i64,
    pub state: String,
    pub message: String,
}

/// Ask the gateway where `p` stands and apply it: the payment's state, and the order's
/// status for a paid or lapsed payment. `None` when nothing changed.
async fn apply_truth(
    app: &App,
    p: &store::Payment,
    via: &str,
) -> Result<Option<Applied>, AppError> {
    match ask(app, p).await? {
        Some(st) => apply(app, p, &st, via).await,
        None => Ok(None),
    }
}

/// What the gateway says of the paid-later payment `p`; `None` when there is nothing to say
/// yet (a net-bank request the buyer has not started, before its due date).
async fn ask(app: &App, p: &store::Payment) -> Result<Option<GatewayStatus>, AppError> {
    let gw = app.gateways().get(p.gateway)?;
    match gw.query(&parse_ref(&p.held.ref_json)?).await {
        Ok(st) => Ok(Some(st)),
        // A Paygent net-bank payment exists only once the buyer picks a bank; none by the
        // due date means the buyer never started paying.
        Err(GatewayError::Refused { code, .. })
            if code == "13001" && p.gateway == Gateway::Paygent =>
        {
            Ok(p.due_at
                .filter(|d| *d < app.now())
                .map(|_| GatewayStatus::new(PaymentState::Expired, "未申込", p.held.amount)))
        }
        Err(e) => Err(AppError::conflict("gateway_query_failed", e.to_string())),
    }
}

/// Apply what the gateway said (`st`) to the payment and its order.
async fn apply(
    app: &App,
    p: &store::Payment,
    st: &GatewayStatus,
    via: &str,
) -> Result<Option<Applied>, AppError> {
    let now = app.now();
    let st = st.clone();
    let mut tx = app.store.begin().await?;
    let number = orders::number_of(tx.conn(), p.order_id)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    let order = orders::get_for_update(&mut tx, p.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    let cur = store::by_order_for_update(&mut tx, p.order_id)
        .await?
        .ok_or(AppError::NotFound("決済"))?;
    if cur.held.state == st.state && cur.held.amount == st.amount {
        return Ok(None);
    }
    let r = parse_ref(&cur.held.ref_json)?;
    let held = held_after(cur.gateway, Some(&cur.held), &r, &st, false, now)?;
    store::set_held(&mut tx, cur.id, cur.version, &held, now).await?;
    let who = Actor {
        shop_id: p.shop_id,
        user_id: None,
        name: format!(
            "{}（{}）",
            gateway_name(cur.gateway),
            if via == "push" { "通知" } else { "照会" }
        ),
        is_admin: false,
    };
    let message = later_outcome(&mut tx, &who, &order, &cur, &st, now).await?;
    orders::add_history(
        &mut tx,
        p.shop_id,
        p.order_id,
        &history(&who.name, now, "notice", message.clone(), true),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(Applied {
        order_number: number,
        state: st.state.code().to_owned(),
        message,
    }))
}

/// What a paid-later payment's new state means for its order: 入金済み when paid, キャンセル
/// when a konbini / ATM slip lapsed unpaid, a note for the operator when a net-bank payment
/// lapsed (it may still be paid) or money arrived for an order that moved on. The message
/// for the order's history.
pub(super) async fn later_outcome(
    tx: &mut Tx,
    who: &Actor,
    order: &Order,
    cur: &store::Payment,
    st: &GatewayStatus,
    now: Timestamp,
) -> Result<String, AppError> {
    let method = order.draft.payment_method;
    let mut message = format!(
        "決済状況が「{}」になりました（{} / {}）",
        state_label(st.state),
        st.gateway_status,
        yen(st.amount)
    );
    match st.state {
        PaymentState::Paid => {
            message = format!(
                "入金を確認しました（{}、{}）",
                method.label(),
                yen(st.amount)
            );
            if matches!(
                order.draft.status,
                OrderStatus::AwaitingPayment | OrderStatus::New
            ) {
                crate::orders::apply_status(tx, who, order, OrderStatus::Paid, now).await?;
                store::set_attention(tx, cur.id, "").await?;
            } else {
                // Paid after all (a late net-bank payment) into an order that moved on.
                let a = format!(
                    "対応状況が「{}」の受注に入金がありました。返金や受注の復活など、対応を決めてください",
                    order.draft.status.label()
                );
                store::set_attention(tx, cur.id, &a).await?;
                message = format!("{message}。{a}");
            }
        }
        PaymentState::Expired if method == PaymentMethod::PaygentNetbank => {
            let a = "支払期限を過ぎましたが、銀行ネット決済は期限後に入金されることがあります。入金を確認し、対応状況を決めてください";
            store::set_attention(tx, cur.id, a).await?;
            message = format!("支払期限切れ（銀行ネット決済）: {a}");
        }
        PaymentState::Expired | PaymentState::Cancelled => {
            message = if st.state == PaymentState::Expired {
                format!("支払期限までに入金がありませんでした（{}）", method.label())
            } else {
                format!("決済会社で取り消されました（{}）", method.label())
            };
            if order.draft.status != OrderStatus::Cancelled
                && order
                    .standing()
                    .can_change_status(OrderStatus::Cancelled)
                    .is_ok()
            {
                crate::orders::apply_status(tx, who, order, OrderStatus::Cancelled, now).await?;
            }
        }
        _ => {}
    }
    Ok(message)
}

/// A notification as heard, push or pull.
#[derive(Clone, Copy)]
struct Heard<'a> {
    shop_id: i64,
    gateway: Gateway,
    /// The gateway's id of the notification (Paygent payment_notice_id), or one made from its
    /// contents (GMO: OrderID, status and date).
    notice_id: &'a str,
    /// The payment it names (Paygent payment_id, GMO OrderID).
    payment_ref: &'a str,
    /// Paygent's trading_id: the shop's reference, naming a net-bank payment before the
    /// buyer picks a bank.
    trading_id: Option<&'a str>,
    status: &'a str,
    amount: Option<i64>,
    /// `push` or `pull`
    via: &'a str,
    /// The order it is about, once its payment is found.
    order_id: Option<i64>,
    /// Its sender proved itself: Paygent's `hc` made with the shop's key, or an answer of
    /// Paygent's own 差分照会. A GMO 結果通知 or a Paidy webhook proves nothing by itself.
    authentic: bool,
    /// Who sent it (an IP address; `pull` for 差分照会).
    source: &'a str,
}

/// Refused notifications kept per source and minute; past that they are only counted in the
/// log, so a flood of forgeries cannot fill the database.
const REFUSED_PER_MINUTE: u32 = 30;

impl Heard<'_> {
    /// Keep it, as `outcome` with `reason`. Only a notification that proved itself (its
    /// sender is authentic, or the gateway's answer `confirmed` what it said) is kept under
    /// its own id, which marks it seen: a refused, forged or unconfirmed one is kept under an
    /// id of its own, so it never shadows the genuine notification with the same id. What is
    /// kept of it is bounded: anyone can post to the notification URLs.
    async fn log(
        &self,
        app: &App,
        outcome: &str,
        reason: &str,
        confirmed: bool,
    ) -> Result<(), AppError> {
        let refused = outcome == "refused";
        if refused {
            if !app.refused_notices.allow(self.source, REFUSED_PER_MINUTE) {
                tracing::warn!(
                    source = self.source,
                    "refused notification not kept: too many from this source"
                );
                return Ok(());
            }
            tracing::warn!(gateway = ?self.gateway, notice = %clip(self.notice_id, 100), payment = %clip(self.payment_ref, 100), reason, "notification refused");
        }
        let own_id;
        let (notice_id, reason) = if refused || !(self.authentic || confirmed) {
            own_id = format!(
                "{}-{}",
                if refused { "refused" } else { "unconfirmed" },
                new_key()?
            );
            (
                own_id.as_str(),
                format!(
                    "{reason}{}（通知ID: {}）",
                    if refused {
                        ""
                    } else {
                        "。決済会社の回答と一致しない通知のため、既読にしていません"
                    },
                    clip(self.notice_id, 100)
                ),
            )
        } else {
            (self.notice_id, reason.to_owned())
        };
        let mut tx = app.store.begin().await?;
        store::record_notice(
            &mut tx,
            &NewNotice {
                shop_id: self.shop_id,
                gateway: store::gateway_code(self.gateway),
                notice_id: &clip(notice_id, 200),
                payment_ref: &clip(self.payment_ref, 100),
                status: &clip(self.status, 40),
                amount: self.amount,
                via: self.via,
                outcome,
                reason: &clip(&reason, 500),
                order_id: self.order_id,
            },
            app.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Take it (once per notice id): find the payment, ask the gateway, apply.
    async fn take(&self, app: &App) -> Result<(), AppError> {
        let unreadable = |s: &str| s.len() > 100 || s.chars().any(char::is_control);
        if unreadable(self.notice_id)
            || unreadable(self.payment_ref)
            || self.trading_id.is_some_and(unreadable)
        {
            return self
                .log(app, "refused", "通知のIDが正しくありません", false)
                .await;
        }
        let g = store::gateway_code(self.gateway);
        let mut conn = app.store.read().await?;
        if store::notice_seen(&mut conn, self.shop_id, g, self.notice_id).await? {
            return Ok(());
        }
        let mut found = store::by_gateway_id(
            &mut conn,
            self.shop_id,
            self.gateway,
            GatewayId::Display(self.payment_ref),
        )
        .await?;
        if found.is_none()
            && let Some(t) = self.trading_id.filter(|t| !t.is_empty())
        {
            found =
                store::by_gateway_id(&mut conn, self.shop_id, self.gateway, GatewayId::Trading(t))
                    .await?;
        }
        drop(conn);
        let Some(p) = found else {
            return self
                .log(app, "refused", "該当する決済がありません", false)
                .await;
        };
        let h = Heard {
            order_id: Some(p.order_id),
            ..*self
        };
        h.about(app, &p).await
    }

    /// Take a notification about the payment `p`.
    async fn about(&self, app: &App, p: &store::Payment) -> Result<(), AppError> {
        // Card and Paidy payments change through juchu's own operations (journaled,
        // recovered); a notification about them is kept but applies nothing.
        if p.kind != Kind::PaidLater {
            return self
                .log(
                    app,
                    "unchanged",
                    "カード・Paidyの決済は決済操作と決済状況の確認で更新します",
                    false,
                )
                .await;
        }
        if let Some(a) = self.amount
            && a != p.held.amount
        {
            let why = format!(
                "金額が受注の決済金額（{}）と違います: {}",
                yen(p.held.amount),
                yen(a)
            );
            return self.log(app, "refused", &why, false).await;
        }
        let Some(st) = ask(app, p).await? else {
            return self.log(app, "unchanged", "", false).await;
        };
        // What the notification said is what the gateway says.
        let confirmed =
            st.gateway_status == self.status && self.amount.is_none_or(|a| a == st.amount);
        match apply(app, p, &st, self.via).await? {
            Some(a) => self.log(app, "applied", &a.message, confirmed).await,
            None => self.log(app, "unchanged", "", confirmed).await,
        }
    }
}

/// At most `n` characters of `s`, without control characters (PostgreSQL refuses NUL in
/// text, and a log line has no use for the others).
fn clip(s: &str, n: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(n).collect()
}

fn field<'a>(fields: &'a [(String, String)], k: &str) -> &'a str {
    fields
        .iter()
        .find(|(a, _)| a == k)
        .map_or("", |(_, v)| v.as_str())
}

async fn shop_id(app: &App, code: &str) -> Result<i64, AppError> {
    juchu_store::shops::by_code(&mut *app.store.read().await?, code)
        .await?
        .map(|s| s.id)
        .ok_or(AppError::NotFound("ショップ"))
}

/// Paygent 差分通知 for the shop `shop_code`. `Ok` means answer `result=0` (taken, or
/// refused and logged); `Err` means answer an error so Paygent sends it again.
pub async fn receive_paygent(
    app: &App,
    shop_code: &str,
    fields: &[(String, String)],
    source: &str,
) -> Result<(), AppError> {
    let h = Heard {
        shop_id: shop_id(app, shop_code).await?,
        gateway: Gateway::Paygent,
        notice_id: field(fields, "payment_notice_id"),
        payment_ref: field(fields, "payment_id"),
        trading_id: Some(field(fields, "trading_id")),
        status: field(fields, "payment_status"),
        amount: field(fields, "payment_amount").parse().ok(),
        via: "push",
        order_id: None,
        authentic: true,
        source,
    };
    if !juchu_gateway::paygent::notice_hash_ok(fields, app.gateways().paygent_hash_key.expose()) {
        return h
            .log(app, "refused", "ハッシュ値（hc）が一致しません", false)
            .await;
    }
    h.take(app).await
}

/// GMO 結果通知 for the shop `shop_code`: the ShopID must be the shop's; what the
/// notification says is checked against SearchTrade before anything changes.
pub async fn receive_gmo(
    app: &App,
    shop_code: &str,
    fields: &[(String, String)],
    source: &str,
) -> Result<(), AppError> {
    let id = format!(
        "{}:{}:{}",
        field(fields, "OrderID"),
        field(fields, "Status"),
        field(fields, "TranDate")
    );
    let h = Heard {
        shop_id: shop_id(app, shop_code).await?,
        gateway: Gateway::Gmo,
        notice_id: &id,
        payment_ref: field(fields, "OrderID"),
        trading_id: None,
        status: field(fields, "Status"),
        amount: field(fields, "Amount").parse().ok(),
        via: "push",
        order_id: None,
        authentic: false,
        source,
    };
    if field(fields, "ShopID") != app.gateways().gmo_shop_id {
        return h
            .log(
                app,
                "refused",
                "ShopIDがこのショップのものではありません",
                false,
            )
            .await;
    }
    h.take(app).await
}

/// Paidy webhook for the shop `shop_code` (JSON: payment_id, status, order_ref …). Nothing
/// in the body is believed: it only names a payment, and Paidy is asked about it with the
/// shop's secret key. A payment juchu holds changes only through its own operations (the
/// webhook is logged). One it does not hold is judged by what Paidy says — its status and its
/// own `order_ref`, never the webhook's: authorized for a 決済処理中 order waiting for Paidy
/// (the buyer never came back from Paidy Checkout), it is taken exactly as the browser's return
/// would be (`adopt_paidy`, same key); authorized for one of the shop's orders that no longer
/// waits for it, it is closed at Paidy, so nothing stays authorized without an order. A
/// payment Paidy does not know, or whose order is not the shop's, is refused and logged —
/// answered 200, so Paidy does not resend it forever.
pub async fn receive_paidy(
    app: &App,
    shop_code: &str,
    body: &serde_json::Value,
    source: &str,
) -> Result<(), AppError> {
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let (pay, status) = (text("payment_id"), text("status"));
    let id = format!("{pay}:{status}");
    let shop = shop_id(app, shop_code).await?;
    let h = Heard {
        shop_id: shop,
        gateway: Gateway::Paidy,
        notice_id: &id,
        payment_ref: &pay,
        trading_id: None,
        status: &status,
        amount: None,
        via: "push",
        order_id: None,
        authentic: false,
        source,
    };
    if !juchu_gateway::paidy::is_payment_id(&pay) || status.len() > 64 {
        return h
            .log(app, "refused", "Paidyの決済IDではありません", false)
            .await;
    }
    let mut conn = app.store.read().await?;
    if store::notice_seen(&mut conn, shop, "paidy", &id).await? {
        return Ok(());
    }
    let held =
        store::by_gateway_id(&mut conn, shop, Gateway::Paidy, GatewayId::Display(&pay)).await?;
    drop(conn);
    if let Some(p) = held {
        let h = Heard {
            order_id: Some(p.order_id),
            ..h
        };
        return h.about(app, &p).await;
    }
    let gw = app.gateways().get(Gateway::Paidy)?;
    let r = PaymentRef::Paidy {
        payment_id: pay.clone(),
    };
    let st = match gw.query(&r).await {
        Ok(st) => st,
        // Paidy does not know it: a forgery or another merchant's payment.
        Err(GatewayError::Refused { .. }) => {
            return h
                .log(app, "refused", "Paidyにこの決済はありません", false)
                .await;
        }
        // Paidy cannot be asked now: hear it again later.
        Err(e) => return Err(AppError::conflict("gateway_error", e.to_string())),
    };
    if st.state != PaymentState::Authorized {
        return h
            .log(
                app,
                "unchanged",
                &format!("Paidyの決済は{}です", st.gateway_status),
                false,
            )
            .await;
    }
    // Whose payment Paidy says it is: a storefront's checkout sends the plain order number.
    let number: Option<i64> = st.reference.as_deref().and_then(|r| r.parse().ok());
    let order = match number {
        Some(n) => orders::get(&mut *app.store.read().await?, shop, n).await?,
        None => None,
    };
    let Some(order) = order else {
        return h
            .log(
                app,
                "refused",
                "Paidyの決済の注文番号（order_ref）がこのショップの受注ではありません",
                false,
            )
            .await;
    };
    let h = Heard {
        order_id: Some(order.id),
        ..h
    };
    let waiting = order.draft.status == OrderStatus::PendingPayment
        && order.deleted_at.is_none()
        && order.draft.payment_method == PaymentMethod::Paidy;
    if waiting {
        let who = Actor {
            shop_id: shop,
            user_id: None,
            name: "Paidy（通知）".into(),
            is_admin: false,
        };
        let r = super::adopt_paidy(app, &who, order.number, &pay, paidy_key(&pay)).await?;
        return h.log(app, "applied", &r.message, true).await;
    }
    if store::open_operation(&mut *app.store.read().await?, order.id)
        .await?
        .is_some()
    {
        // The order's payment step is still running: hear it again later.
        return Err(AppError::conflict(
            "payment_in_doubt",
            "受注の決済処理が進行中です",
        ));
    }
    gw.cancel(&r, app.now())
        .await
        .map_err(|e| AppError::conflict("gateway_error", e.to_string()))?;
    h.log(
        app,
        "applied",
        &format!(
            "注文番号 {} はお支払いを待っていないため、Paidyの決済 {pay}（{}）をクローズしました",
            order.number,
            yen(st.amount)
        ),
        true,
    )
    .await
}

/// The key of taking a Paidy Checkout payment: the same whether the buyer's browser or
/// Paidy's webhook brings it, so it is taken once.
pub(crate) fn paidy_key(payment_id: &str) -> String {
    format!("paidy-{}", payment_id.trim())
}

/// One pull round.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct SyncReport {
    /// Paygent 差分照会 notices read.
    pub notices_read: usize,
    /// Payments whose state changed.
    pub applied: Vec<Applied>,
    /// What could not be done this round (read again next time).
    pub errors: Vec<String>,
}

/// The pull job: read Paygent's 差分照会 from where the last round stopped (repairing gaps),
/// then ask the gateways about every payment still waiting for the buyer — so a lost push
/// is caught, and lapsed due dates are applied.
pub async fn sync(app: &App) -> Result<SyncReport, AppError> {
    let mut report = SyncReport::default();
    let shops = juchu_store::shops::ids(&mut *app.store.read().await?).await?;
    for shop in shops {
        pull_paygent(app, shop, &mut report).await?;
        for p in store::awaiting(&mut *app.store.read().await?, shop, 1000).await? {
            match apply_truth(app, &p, "pull").await {
                Ok(Some(a)) => report.applied.push(a),
                Ok(None) => {}
                Err(e) => report
                    .errors
                    .push(format!("決済ID {}: {e}", p.held.display_id)),
            }
        }
    }
    Ok(report)
}

/// Read Paygent's 差分照会 for `shop` from where the last read stopped (repairing gaps), and
/// take each notice as a push would be taken.
pub(super) async fn pull_paygent(
    app: &App,
    shop: i64,
    report: &mut SyncReport,
) -> Result<(), AppError> {
    let Some(pg) = &app.gateways().paygent_client else {
        return Ok(());
    };
    let last: u64 = store::cursor(&mut *app.store.read().await?, shop, "paygent")
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let batch = pg.sync_notices(last, &[], 500).await;
    report.notices_read += batch.notices.len();
    for n in &batch.notices {
        let id = n.get("payment_notice_id");
        let h = Heard {
            shop_id: shop,
            gateway: Gateway::Paygent,
            notice_id: id,
            payment_ref: n.get("payment_id"),
            trading_id: Some(n.get("trading_id")),
            status: n.get("payment_status"),
            amount: n.get("payment_amount").parse().ok(),
            via: "pull",
            order_id: None,
            authentic: true,
            source: "pull",
        };
        if let Err(e) = h.take(app).await {
            report.errors.push(format!("差分照会 {id}: {e}"));
        }
    }
    if let Some(max) = batch.ids().max().filter(|m| *m > last) {
        let mut tx = app.store.begin().await?;
        store::set_cursor(&mut tx, shop, "paygent", &max.to_string(), app.now()).await?;
        tx.commit().await?;
    }
    if let Some(e) = batch.error {
        report.errors.push(format!("差分照会: {e}"));
    }
    Ok(())
}

/// Notifications received, newest first (only the refused ones when `refused_only`), a page
/// (1-based) of `per_page` (at most 500) at a time.
pub async fn notices(
    app: &App,
    actor: &Actor,
    refused_only: bool,
    page: i64,
    per_page: i64,
) -> Result<Vec<Notice>, AppError> {
    let per_page = per_page.clamp(1, 500);
    Ok(store::notices(
        &mut *app.store.read().await?,
        actor.shop_id,
        refused_only,
        per_page,
        juchu_domain::search::page_offset(page, per_page),
    )
    .await?)
}

//! The gateways' pushes — Paygent 差分通知, GMO 結果通知, Paidy webhooks — and the list of
//! what was heard. A notification proves nothing by itself: it only names a payment, and
//! juchu asks the gateway before anything changes (docs/security.md).

use juchu_domain::payment_method::PaymentMethod;
use juchu_store::payments::{GatewayId, NewNotice};

use super::*;

/// A notification as heard, push or pull.
#[derive(Clone, Copy)]
pub(super) struct Heard<'a> {
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

/// How long a notification about a payment juchu is making waits for juchu's own operation
/// (its gateway call and settlement) before it is judged without it.
const OWN_OPERATION_WAIT: Duration = Duration::from_secs(10);

/// Refused notifications kept per source and minute; past that they are only counted in the
/// log, so a flood of forgeries cannot fill the database.
pub(super) const REFUSED_PER_MINUTE: u32 = 30;

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
                gateway: self.gateway.code(),
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
    pub(super) async fn take(&self, app: &App) -> Result<(), AppError> {
        let unreadable = |s: &str| s.len() > 100 || s.chars().any(char::is_control);
        if unreadable(self.notice_id)
            || unreadable(self.payment_ref)
            || self.trading_id.is_some_and(unreadable)
        {
            return self
                .log(app, "refused", "通知のIDが正しくありません", false)
                .await;
        }
        let g = self.gateway.code();
        if store::notice_seen(
            &mut *app.store.read().await?,
            self.shop_id,
            g,
            self.notice_id,
        )
        .await?
        {
            return Ok(());
        }
        let mut found = self.payment(app).await?;
        // A gateway may tell of a payment before its answer to juchu's own request arrives
        // (GMO pushes 結果通知 as it processes): the payment is then one juchu is making, named
        // by the shop's reference `{number}-{operation}`. Wait for that operation to settle
        // and look again, rather than refusing the news.
        if found.is_none() && self.own_operation_settled(app).await? {
            found = self.payment(app).await?;
        }
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

    /// The payment the notification names: by the gateway's id, else by the shop's reference.
    async fn payment(&self, app: &App) -> Result<Option<store::Payment>, AppError> {
        let mut conn = app.store.read().await?;
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
        Ok(found)
    }

    /// The notification names, by the shop's reference (`order_ref`, or Paygent's
    /// `trading_id_of` it), an operation of this
    /// shop still in flight: wait (a while) for it to settle. `true` when one was found and
    /// has settled.
    async fn own_operation_settled(&self, app: &App) -> Result<bool, AppError> {
        let op_id = [Some(self.payment_ref), self.trading_id]
            .into_iter()
            .flatten()
            .find_map(operation_of_ref);
        let Some(op_id) = op_id else {
            return Ok(false);
        };
        let deadline = tokio::time::Instant::now() + OWN_OPERATION_WAIT;
        loop {
            let op = store::operation(&mut *app.store.read().await?, op_id).await?;
            match op {
                // An answer lost (`unknown`) waits for recovery, not for this.
                Some(op) if op.shop_id == self.shop_id && op.status == OpStatus::Pending => {
                    if tokio::time::Instant::now() >= deadline {
                        return Ok(false);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Some(op) if op.shop_id == self.shop_id => return Ok(!op.status.is_open()),
                _ => return Ok(false),
            }
        }
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
            && a != p.held.amount.get()
        {
            let why = format!(
                "金額が受注の決済金額（{}）と違います: {}",
                p.held.amount,
                yen(a)
            );
            return self.log(app, "refused", &why, false).await;
        }
        let Some(st) = ask(app, p).await? else {
            return self.log(app, "unchanged", "", false).await;
        };
        // What the notification said is what the gateway says.
        let confirmed =
            st.gateway_status == self.status && self.amount.is_none_or(|a| a == st.amount.get());
        match apply(app, p, &st, self.via).await? {
            Some(a) => self.log(app, "applied", &a.message, confirmed).await,
            None => self.log(app, "unchanged", "", confirmed).await,
        }
    }
}

/// At most `n` characters of `s`, without control characters (PostgreSQL refuses NUL in
/// text, and a log line has no use for the others).
pub(super) fn clip(s: &str, n: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(n).collect()
}

pub(super) fn field<'a>(fields: &'a [(String, String)], k: &str) -> &'a str {
    fields
        .iter()
        .find(|(a, _)| a == k)
        .map_or("", |(_, v)| v.as_str())
}

pub(super) async fn shop_id(app: &App, code: &str) -> Result<i64, AppError> {
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
    paidy_not_held(app, h, &pay).await
}

/// A Paidy payment juchu does not hold: taken for the order that waits for it, closed at
/// Paidy when no order waits, refused when Paidy does not know it or its order is not the
/// shop's.
async fn paidy_not_held(app: &App, h: Heard<'_>, pay: &str) -> Result<(), AppError> {
    let shop = h.shop_id;
    let gw = app.gateways().get(Gateway::Paidy)?;
    let r = PaymentRef::Paidy {
        payment_id: pay.to_owned(),
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
        let r = super::adopt_paidy(app, &who, order.number, pay, paidy_key(pay)).await?;
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
            order.number, st.amount
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

/// A received notification, for the operator's list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Notice {
    pub id: i64,
    pub gateway: String,
    pub notice_id: String,
    pub payment_ref: String,
    pub status: String,
    pub amount: Option<i64>,
    pub via: String,
    pub outcome: String,
    pub reason: String,
    pub received_at: String,
}

impl From<store::Notice> for Notice {
    fn from(n: store::Notice) -> Notice {
        Notice {
            id: n.id,
            gateway: n.gateway,
            notice_id: n.notice_id,
            payment_ref: n.payment_ref,
            status: n.status,
            amount: n.amount,
            via: n.via,
            outcome: n.outcome,
            reason: n.reason,
            received_at: n.received_at,
        }
    }
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
    .await?
    .into_iter()
    .map(Notice::from)
    .collect())
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

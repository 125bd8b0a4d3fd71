//! Paying: 注文する creates the 決済処理中 order, then the card form (with 3-D Secure), Paidy
//! or a payment number; each outcome completes the order or sends the buyer back to the form.

use super::*;
/// What comes after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The card form or the Paidy button.
    PaymentPage,
    /// The order is complete: show the completion page.
    Completed,
    /// Back to the page the buyer came from with this message.
    Failed { message: String },
    /// Answer the buyer's browser with this page (Paygent's 3-D Secure page).
    Html(String),
    /// Send the buyer's browser there (GMO's 3-D Secure page).
    Redirect(String),
}

/// 注文する: the order is created as 決済処理中 (once, however often the form is sent), then
/// paid: konbini / ATM / net bank get their payment number at once; cards and Paidy go to
/// the payment page. Orders without a gateway are complete here.
pub async fn confirm(app: &App, b: &Buyer, attempt: &str) -> Result<Next, AppError> {
    let now = app.now();
    // Everything read first: the transaction below holds the write lock (SQLite) and must
    // not wait for another connection.
    let seen = load(app, b).await?;
    let lines = lines_of(app, b.shop_id, &seen.cart).await?;
    let delivery = match seen.details.delivery_id {
        Some(id) => Some(methods::delivery(app, b.shop_id, id).await?),
        None => None,
    };
    let subtotal: i64 = lines.iter().map(|x| x.line_total).sum();
    let offered = match &delivery {
        Some(d) => methods::offered(app, b.shop_id, d, subtotal).await?,
        None => vec![],
    };
    let mut tx = app.store.begin().await?;
    let mut l = lock(&mut tx, b).await?;
    match l.c.state {
        CheckoutState::Completed => return Ok(Next::Completed),
        CheckoutState::Paying => {
            drop(tx);
            return pay_later_or_page(app, b, &l).await;
        }
        CheckoutState::Shopping => {}
    }
    if attempt != l.c.attempt || l.c.version != seen.c.version {
        return Err(AppError::conflict(
            "stale_form",
            "ご注文内容が変わりました。内容をご確認のうえ、もう一度「注文する」を押してください",
        ));
    }
    if lines.is_empty() {
        return Err(AppError::conflict("empty_cart", "カートに商品がありません"));
    }
    let input = draft_input(&l, &lines, delivery.as_ref()).ok_or_else(|| {
        AppError::conflict(
            "incomplete",
            "お客様情報・配送方法・お支払い方法をご入力ください",
        )
    })?;
    let method = l.details.payment_method.ok_or_else(gone)?;
    if !offered.iter().any(|s| s.method == method) {
        return Err(AppError::conflict(
            "method_not_offered",
            "選ばれたお支払い方法はご利用いただけません。お支払い方法を選び直してください",
        ));
    }
    let draft = input.validate()?;
    let who = actor(b.shop_id);
    let (order_id, number) =
        crate::orders::create_in(&mut tx, &who, &draft, crate::orders::Intake::Manual, now).await?;
    l.c.order_id = Some(order_id);
    l.details.message = None;
    if draft.status == OrderStatus::PendingPayment {
        l.c.state = CheckoutState::Paying;
        save(&mut tx, &l, now).await?;
    } else {
        // No gateway: the order is complete with its thanks mail.
        let order = orders::get(tx.conn(), b.shop_id, number)
            .await?
            .ok_or(AppError::NotFound("受注"))?;
        let status = order.draft.status;
        crate::mail::thanks_in(&mut tx, b.shop_id, &who.name, &order, status, None, now).await?;
        l.c.state = CheckoutState::Completed;
        save(&mut tx, &l, now).await?;
        tx.commit().await?;
        return Ok(Next::Completed);
    }
    tx.commit().await?;
    pay_later_or_page(app, b, &l).await
}

async fn pay_later_or_page(app: &App, b: &Buyer, l: &Loaded) -> Result<Next, AppError> {
    let method = l.details.payment_method.ok_or_else(gone)?;
    if method.is_card() || method == PaymentMethod::Paidy {
        return Ok(Next::PaymentPage);
    }
    let number = order_number(app, l).await?;
    let settings = methods::method_settings(app, b.shop_id, method).await?;
    let r = payments::request_later(
        app,
        &actor(b.shop_id),
        number,
        payments::LaterInput {
            store: l.details.konbini_store.clone(),
            due_days: u8::try_from(settings.due_days).ok(),
        },
        Some(format!("checkout-{}-later-{number}", l.c.id)),
    )
    .await?;
    outcome(app, b, r).await
}

pub(super) async fn order_number(app: &App, l: &Loaded) -> Result<i64, AppError> {
    let id = l.c.order_id.ok_or_else(gone)?;
    orders::number_of(&mut *app.store.read().await?, id)
        .await?
        .ok_or_else(gone)
}

/// What the buyer sees of an authorization's outcome. A failure gives the payment form a
/// new attempt, so the next card is a new authorization.
async fn outcome(app: &App, b: &Buyer, r: OperationResult) -> Result<Next, AppError> {
    match r.status {
        OpStatus::Succeeded => Ok(Next::Completed),
        OpStatus::Failed | OpStatus::Partial => {
            let message = if r.result_code.is_empty() || r.message.contains(&r.result_code) {
                r.message.clone()
            } else {
                format!("{}（コード {}）", r.message, r.result_code)
            };
            fail(app, b, &message).await
        }
        OpStatus::Pending | OpStatus::Unknown => Ok(Next::Failed {
            message: "決済会社の応答を確認しています。お支払いが確認できしだい、ご注文完了のメールをお送りします（このまま再度お支払いの操作をしないでください）".into(),
        }),
    }
}

/// A failed payment step: the message is kept for the payment page, the form renewed.
async fn fail(app: &App, b: &Buyer, message: &str) -> Result<Next, AppError> {
    let mut tx = app.store.begin().await?;
    let mut l = lock(&mut tx, b).await?;
    l.details.message = Some(message.to_owned());
    l.c.attempt = crate::tokens::random_token()?;
    l.c.three_ds = String::new();
    save(&mut tx, &l, app.now()).await?;
    tx.commit().await?;
    Ok(Next::Failed {
        message: message.to_owned(),
    })
}

/// The card form's submission: the token from the gateway's script, never the card.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CardInput {
    #[serde(default)]
    pub attempt: String,
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub masked: String,
    #[serde(default)]
    pub installments: String,
    /// Paygent's token answer, checked with its `hc`.
    #[serde(default)]
    pub valid_until: String,
    #[serde(default)]
    pub fingerprint: String,
    #[serde(default)]
    pub hc: String,
    /// カード名義 (half-width), which 3-D Secure sends to the issuer.
    #[serde(default)]
    pub holder: String,
}

async fn paying(app: &App, b: &Buyer) -> Result<(Loaded, i64, MethodSettings), AppError> {
    let l = load(app, b).await?;
    if l.c.state != CheckoutState::Paying {
        return Err(gone());
    }
    let number = order_number(app, &l).await?;
    let method = l.details.payment_method.ok_or_else(gone)?;
    let settings = methods::method_settings(app, b.shop_id, method).await?;
    Ok((l, number, settings))
}

/// お支払い (card).
pub async fn pay_card(
    app: &App,
    b: &Buyer,
    input: CardInput,
    base_url: &str,
) -> Result<Next, AppError> {
    if load(app, b).await?.c.state == CheckoutState::Completed {
        return Ok(Next::Completed);
    }
    let (l, number, s) = paying(app, b).await?;
    let method = s.method;
    if !method.is_card() {
        return Err(gone());
    }
    if input.token.trim().is_empty() {
        return Err(invalid(
            "token",
            "required",
            "カード情報を確認できませんでした。もう一度入力してください",
        ));
    }
    let installments = if input.installments.trim().is_empty() {
        "1".to_owned()
    } else {
        input.installments.trim().to_owned()
    };
    if !s.installments.contains(&installments) {
        return Err(invalid(
            "installments",
            "not_offered",
            "お選びの支払回数はご利用いただけません",
        ));
    }
    let g = app.gateways();
    if method == PaymentMethod::PaygentCard
        && !juchu_gateway::paygent::token_hash_ok(
            &input.token,
            &input.masked,
            &input.valid_until,
            &input.fingerprint,
            &input.hc,
            g.front.paygent_token_hash_key.expose(),
        )
    {
        return Err(invalid(
            "token",
            "bad_hash",
            "カード情報を確認できませんでした（トークンの検証に失敗しました）。もう一度入力してください",
        ));
    }
    let key = format!("checkout-{}-{}", l.c.id, input.attempt.trim());
    let front = format!(
        "{}/store/{}",
        base_url.trim_end_matches('/'),
        shop_code(app, b.shop_id).await?
    );
    if s.three_ds && method == PaymentMethod::PaygentCard {
        return paygent_3ds_start(app, b, &l, number, &s, &input, &installments, &front).await;
    }
    let r = payments::start_authorization(
        app,
        &actor(b.shop_id),
        number,
        AuthorizeInput {
            token: Some(input.token.trim().to_owned()),
            masked_card: Some(input.masked.clone()),
            capture: s.capture == CaptureMode::AuthAndCapture,
            installments: Some(installments),
            checkout: true,
            three_ds_return_url: (s.three_ds && method == PaymentMethod::GmoCard)
                .then(|| format!("{front}/checkout/3ds/gmo")),
            ..AuthorizeInput::default()
        },
        Some(key),
    )
    .await?;
    match r {
        Authorization::Settled(r) => outcome(app, b, r).await,
        Authorization::ThreeDs {
            op_id,
            redirect_url,
        } => {
            let mut tx = app.store.begin().await?;
            let mut l = lock(&mut tx, b).await?;
            l.c.three_ds = to_json(&ThreeDs::Gmo {
                attempt: input.attempt.clone(),
                op_id,
            })?;
            save(&mut tx, &l, app.now()).await?;
            tx.commit().await?;
            Ok(Next::Redirect(redirect_url))
        }
    }
}

async fn shop_code(app: &App, shop_id: i64) -> Result<String, AppError> {
    Ok(shops::by_id(&mut *app.store.read().await?, shop_id)
        .await?
        .ok_or(AppError::NotFound("ショップ"))?
        .code)
}

/// Paygent with 3-D Secure: start the authentication (450, nothing is authorized by it) and
/// answer the buyer's browser with the issuer's page. The same form sent twice gets the
/// same page.
#[allow(clippy::too_many_arguments)]
async fn paygent_3ds_start(
    app: &App,
    b: &Buyer,
    l: &Loaded,
    number: i64,
    s: &MethodSettings,
    input: &CardInput,
    installments: &str,
    front: &str,
) -> Result<Next, AppError> {
    if let Ok(ThreeDs::Paygent {
        attempt, acs_html, ..
    }) = serde_json::from_str::<ThreeDs>(&l.c.three_ds)
        && attempt == input.attempt
    {
        return Ok(Next::Html(acs_html));
    }
    let pg = app.gateways().paygent_client.clone().ok_or_else(|| {
        AppError::conflict(
            "gateway_not_configured",
            "ペイジェントの接続設定がありません",
        )
    })?;
    let buyer = l.details.buyer.clone().unwrap_or_default();
    let amount = orders::get(&mut *app.store.read().await?, b.shop_id, number)
        .await?
        .ok_or_else(gone)?
        .draft
        .totals
        .payment_total
        .get();
    let req = juchu_gateway::paygent::ThreeDsRequest {
        // Paygent takes letters, digits and `_` here.
        trading_id: format!("{number}_3ds_{}", input.attempt.get(..8).unwrap_or("0")),
        amount,
        card: juchu_gateway::paygent::Card::Token(input.token.trim().to_owned()),
        term_url: format!("{front}/checkout/3ds/paygent"),
        merchant_name: if s.merchant_name_en.is_empty() {
            "JUCHU SHOP".into()
        } else {
            s.merchant_name_en.clone()
        },
        cardholder_name: input
            .holder
            .trim()
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .take(45)
            .collect(),
        email: buyer.email.clone(),
        extra: vec![],
    };
    let started = match pg.start_3ds(&req).await {
        Ok(x) => x,
        Err(e) => {
            note(
                app,
                b.shop_id,
                number,
                &format!("3Dセキュア認証を開始できませんでした: {e}"),
                false,
            )
            .await?;
            return fail(
                app,
                b,
                &format!("カード会社の本人認証を開始できませんでした（{e}）"),
            )
            .await;
        }
    };
    let mut tx = app.store.begin().await?;
    let mut cur = lock(&mut tx, b).await?;
    if let Ok(ThreeDs::Paygent {
        attempt, acs_html, ..
    }) = serde_json::from_str::<ThreeDs>(&cur.c.three_ds)
        && attempt == input.attempt
    {
        // A twin request got there first; its page stands (this authentication lapses).
        return Ok(Next::Html(acs_html));
    }
    cur.c.three_ds = to_json(&ThreeDs::Paygent {
        attempt: input.attempt.clone(),
        auth_id: started.auth_id.clone(),
        token: input.token.trim().to_owned(),
        masked: input.masked.clone(),
        installments: installments.to_owned(),
        acs_html: started.acs_html.clone(),
    })?;
    save(&mut tx, &cur, app.now()).await?;
    tx.commit().await?;
    Ok(Next::Html(started.acs_html))
}

/// A line in the order's history for what happened at checkout without an operation.
pub(super) async fn note(
    app: &App,
    shop_id: i64,
    number: i64,
    detail: &str,
    ok: bool,
) -> Result<(), AppError> {
    let mut tx = app.store.begin().await?;
    let Some(o) = orders::get(tx.conn(), shop_id, number).await? else {
        return Ok(());
    };
    orders::add_history(
        &mut tx,
        shop_id,
        o.id,
        &HistoryEntry {
            at: app.now(),
            actor: BUYER.to_owned(),
            action: "payment.three_ds".into(),
            detail: detail.to_owned(),
            outcome: if ok { Outcome::Ok } else { Outcome::Error },
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The checkout a 3-D Secure return belongs to: the cookie's, or (a gateway on another site,
/// whose return carries no cookie) the one holding that authentication.
async fn three_ds_checkout(
    app: &App,
    b: Option<&Buyer>,
    shop_id: i64,
    matches: impl Fn(&ThreeDs) -> bool,
) -> Result<(Buyer, Loaded, ThreeDs), AppError> {
    if let Some(b) = b
        && let Ok(l) = load(app, b).await
        && let Ok(t) = serde_json::from_str::<ThreeDs>(&l.c.three_ds)
        && matches(&t)
    {
        return Ok((b.clone(), l, t));
    }
    for c in checkouts::awaiting_three_ds(&mut *app.store.read().await?, shop_id).await? {
        if let Ok(t) = serde_json::from_str::<ThreeDs>(&c.three_ds)
            && matches(&t)
        {
            // Found by the authentication itself; the buyer is named by the checkout row.
            let b = Buyer::of_checkout(shop_id, c.id);
            return Ok((b, parse(c)?, t));
        }
    }
    Err(AppError::conflict(
        "three_ds_unknown",
        "本人認証の結果に対応するお手続きが見つかりません。お手数ですが、もう一度お支払いの操作をしてください",
    ))
}

/// The buyer is back from Paygent's 3-D Secure page (GET to term_url): check the result's
/// `hc`, apply the shop's attempt control, then authorize with the authentication.
// Long: the 3-D Secure return's steps (hc check, attempt control, authorize) share the journal entry.
pub async fn paygent_3ds_returned(
    app: &App,
    b: Option<&Buyer>,
    shop_id: i64,
    params: Vec<(String, String)>,
) -> Result<Next, AppError> {
    use juchu_gateway::paygent::{PaygentClient, ThreeDsResult};
    let key = app
        .gateways()
        .front
        .paygent_3ds_hash_key
        .expose()
        .to_owned();
    if !PaygentClient::three_ds_result_ok(&params, &key) {
        return Err(AppError::conflict(
            "three_ds_unverified",
            "本人認証の結果を確認できませんでした。お手数ですが、もう一度お支払いの操作をしてください",
        ));
    }
    let result = ThreeDsResult::from_params(&params);
    if let Some(b) = b
        && load(app, b)
            .await
            .is_ok_and(|l| l.c.state == CheckoutState::Completed)
    {
        // A reload of the return after the order was completed.
        return Ok(Next::Completed);
    }
    let (b, l, t) = three_ds_checkout(
        app,
        b,
        shop_id,
        |t| matches!(t, ThreeDs::Paygent { auth_id, .. } if *auth_id == result.auth_id),
    )
    .await?;
    let ThreeDs::Paygent {
        attempt,
        auth_id,
        token,
        masked,
        installments,
        ..
    } = t
    else {
        return Err(gone());
    };
    if l.c.state == CheckoutState::Completed {
        return Ok(Next::Completed);
    }
    let (_, number, s) = paying(app, &b).await?;
    if !result.passed {
        let why = result.message();
        note(
            app,
            b.shop_id,
            number,
            &format!(
                "3Dセキュア認証に失敗しました（{} {}）: {why}",
                result.response_code, result.response_detail
            ),
            false,
        )
        .await?;
        return fail(
            app,
            &b,
            &format!(
                "カード会社の本人認証が完了しませんでした（{why}）。別のカードをお試しください"
            ),
        )
        .await;
    }
    let authenticated = result.attempt_kbn.is_empty();
    if !s.attempt_control.allows(authenticated, &result.attempt_kbn) {
        note(
            app,
            b.shop_id,
            number,
            &format!(
                "3Dセキュア: アテンプト取引（区分 {}）のためオーソリしませんでした（アテンプト取引の扱い: {}）",
                result.attempt_kbn,
                s.attempt_control.label()
            ),
            false,
        )
        .await?;
        return fail(
            app,
            &b,
            "カード会社の本人認証が完了しなかったため、このカードではお支払いいただけません。別のカードをご利用ください",
        )
        .await;
    }
    let r = payments::start_authorization(
        app,
        &actor(b.shop_id),
        number,
        AuthorizeInput {
            token: Some(token),
            masked_card: Some(masked),
            capture: s.capture == CaptureMode::AuthAndCapture,
            installments: Some(installments),
            checkout: true,
            three_ds_auth_id: Some(auth_id),
            ..AuthorizeInput::default()
        },
        Some(format!("checkout-{}-{attempt}", l.c.id)),
    )
    .await?;
    match r {
        Authorization::Settled(r) => outcome(app, &b, r).await,
        Authorization::ThreeDs { .. } => Err(AppError::bug("a second 3-D Secure")),
    }
}

/// The buyer is back from GMO's 3-D Secure page (a POST to RetUrl with the OrderID): the
/// waiting authorization is finished, once.
pub async fn gmo_3ds_returned(
    app: &App,
    b: Option<&Buyer>,
    shop_id: i64,
    gmo_order_id: &str,
) -> Result<Next, AppError> {
    // The OrderID is `{order number}-{operation id}` (payments::order_ref).
    let op_id: i64 = gmo_order_id
        .rsplit('-')
        .next()
        .and_then(|x| x.parse().ok())
        .ok_or_else(|| invalid("OrderID", "invalid", "本人認証の結果が正しくありません"))?;
    let op = pay::operation(&mut *app.store.read().await?, op_id)
        .await?
        .filter(|o| o.shop_id == shop_id && o.action == OpAction::Authorize)
        .ok_or_else(|| {
            invalid(
                "OrderID",
                "unknown",
                "本人認証の結果に対応するお手続きが見つかりません",
            )
        })?;
    let b = match b {
        Some(b) => b.clone(),
        None => {
            let c = checkouts::by_order(&mut *app.store.read().await?, op.order_id)
                .await?
                .ok_or_else(gone)?;
            Buyer::of_checkout(shop_id, c.id)
        }
    };
    let r = payments::finish_three_ds(app, &actor(shop_id), op.id).await?;
    outcome(app, &b, r).await
}

/// Paidy Checkout approved in the buyer's browser.
pub async fn paidy_approved(app: &App, b: &Buyer, payment_id: &str) -> Result<Next, AppError> {
    if load(app, b).await?.c.state == CheckoutState::Completed {
        return Ok(Next::Completed);
    }
    let (l, number, s) = paying(app, b).await?;
    let who = actor(b.shop_id);
    let r = payments::adopt_paidy(
        app,
        &who,
        number,
        payment_id,
        payments::paidy_key(payment_id),
    )
    .await?;
    if r.status == OpStatus::Succeeded && s.capture == CaptureMode::AuthAndCapture {
        // オーソリ＋売上: capture at once; a failure here leaves an authorized order for the
        // operator, never a lost one.
        let _ = payments::operate(
            app,
            &who,
            number,
            juchu_domain::payment::Action::Capture,
            payments::OperateInput::default(),
            Some(format!("checkout-{}-paidy-capture", l.c.id)),
        )
        .await;
    }
    outcome(app, b, r).await
}

/// The Paidy Checkout payload for the order.
pub(super) async fn paidy_payload(
    app: &App,
    shop_id: i64,
    o: &Order,
) -> Result<serde_json::Value, AppError> {
    let shop = shops::by_id(&mut *app.store.read().await?, shop_id)
        .await?
        .ok_or(AppError::NotFound("ショップ"))?;
    let c = &o.draft.customer;
    let t = &o.draft.totals;
    let mut items: Vec<serde_json::Value> = o
        .draft
        .items
        .iter()
        .map(|i| {
            serde_json::json!({
                "id": i.product_code, "title": i.product_name,
                "quantity": i.quantity, "unit_price": i.unit_price.get(),
            })
        })
        .collect();
    if t.points_used > 0 {
        items.push(serde_json::json!({
            "id": "points", "title": "ポイント利用", "quantity": 1, "unit_price": -t.points_used,
        }));
    }
    Ok(serde_json::json!({
        "amount": t.payment_total.get(),
        "currency": "JPY",
        "store_name": shop.name,
        "buyer": {
            "email": o.draft.email,
            "name1": format!("{} {}", c.family_name, c.given_name),
            "name2": format!("{} {}", c.family_kana, c.given_kana),
            "phone": c.tel,
        },
        "order": {
            "items": items,
            "shipping": t.shipping_fee.get() + t.fee.get(),
            "tax": t.tax.by_rate.iter().map(|r| r.tax.get()).sum::<i64>(),
            "order_ref": o.number.to_string(),
        },
        "shipping_address": {
            "zip": c.postal_code, "state": c.prefecture, "city": c.address1, "line1": c.address2,
        },
    }))
}

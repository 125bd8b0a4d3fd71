//! What the checkout's pages show (the cart and totals, the payment forms, the completion), and
//! the order draft the confirmation describes and the payment step creates.

use super::*;

#[derive(Debug, Clone, serde::Serialize)]
pub struct MemberView {
    pub id: i64,
    pub name: String,
    pub points: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TotalsView {
    pub subtotal: i64,
    pub shipping_fee: i64,
    pub fee: i64,
    pub discount: i64,
    pub total: i64,
    pub points_used: i64,
    pub payment_total: i64,
    pub tax10_amount: i64,
    pub tax10: i64,
    pub tax8_amount: i64,
    pub tax8: i64,
}

/// The card form's gateway side.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CardForm {
    /// `gmo` or `paygent`
    pub gateway: String,
    pub script_base: String,
    pub gmo_shop_id: String,
    pub paygent_merchant_id: String,
    pub paygent_token_key: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PaidyForm {
    pub script_base: String,
    pub public_key: String,
    pub payload: serde_json::Value,
}

/// Everything the storefront's pages show.
#[derive(Debug, Clone, serde::Serialize)]
pub struct View {
    pub state: CheckoutState,
    pub lines: Vec<CartLine>,
    pub subtotal: i64,
    pub buyer: Option<BuyerInput>,
    pub member: Option<MemberView>,
    pub deliveries: Vec<DeliveryMethod>,
    pub delivery: Option<DeliveryMethod>,
    pub offered: Vec<MethodSettings>,
    pub method: Option<MethodSettings>,
    pub konbini_store: Option<String>,
    pub points_used: i64,
    pub remarks: String,
    pub totals: Option<TotalsView>,
    pub order_number: Option<i64>,
    pub attempt: String,
    pub message: Option<String>,
    pub card: Option<CardForm>,
    pub paidy: Option<PaidyForm>,
}

pub async fn view(app: &App, b: &Buyer) -> Result<View, AppError> {
    let l = load(app, b).await?;
    let lines = lines_of(app, b.shop_id, &l.cart).await?;
    let subtotal = lines.iter().map(|x| x.line_total).sum();
    let member = match l.c.customer_id {
        Some(id) => customers::get(&mut *app.store.read().await?, b.shop_id, id)
            .await?
            .map(|m| MemberView {
                id,
                name: format!(
                    "{} {}",
                    m.draft.person.family_name, m.draft.person.given_name
                ),
                points: m.points,
            }),
        None => None,
    };
    let deliveries = methods::deliveries(app, b.shop_id).await?;
    let delivery = l
        .details
        .delivery_id
        .and_then(|id| deliveries.iter().find(|d| d.id == id).cloned());
    let offered = match &delivery {
        Some(d) => methods::offered(app, b.shop_id, d, subtotal).await?,
        None => vec![],
    };
    let method = match l.details.payment_method {
        Some(m) => Some(methods::method_settings(app, b.shop_id, m).await?),
        None => None,
    };
    let order = match l.c.order_id {
        Some(id) => orders::number_of(&mut *app.store.read().await?, id).await?,
        None => None,
    };
    let order = match order {
        Some(n) => orders::get(&mut *app.store.read().await?, b.shop_id, n).await?,
        None => None,
    };
    let totals = match &order {
        Some(o) => Some(totals_of(o)),
        None => match draft_input(&l, &lines, delivery.as_ref()) {
            Some(input) => input.validate().ok().map(|d| totals_of_draft(&d.totals)),
            None => None,
        },
    };
    let g = app.gateways();
    let card = l
        .details
        .payment_method
        .filter(|m| m.is_card())
        .map(|m| CardForm {
            gateway: if m == PaymentMethod::GmoCard {
                "gmo"
            } else {
                "paygent"
            }
            .into(),
            script_base: g.front.script_base.clone(),
            gmo_shop_id: g.gmo_shop_id.clone(),
            paygent_merchant_id: g.front.paygent_merchant_id.clone(),
            paygent_token_key: g.front.paygent_token_key.clone(),
        });
    let paidy = match (&order, l.details.payment_method) {
        (Some(o), Some(PaymentMethod::Paidy)) => Some(PaidyForm {
            script_base: g.front.script_base.clone(),
            public_key: g.front.paidy_public_key.clone(),
            payload: paidy_payload(app, b.shop_id, o).await?,
        }),
        _ => None,
    };
    Ok(View {
        state: l.c.state,
        lines,
        subtotal,
        buyer: l.details.buyer.clone(),
        member,
        deliveries,
        delivery,
        offered,
        method,
        konbini_store: l.details.konbini_store.clone(),
        points_used: l.details.points,
        remarks: l.details.remarks.clone(),
        totals,
        order_number: order.map(|o| o.number),
        attempt: l.c.attempt.clone(),
        message: l.details.message.clone(),
        card,
        paidy,
    })
}

pub(super) fn totals_of_draft(t: &juchu_domain::order::Totals) -> TotalsView {
    let rate = |r: i64| {
        t.tax
            .by_rate
            .iter()
            .find(|x| x.rate.percent() == r)
            .map_or((0, 0), |x| (x.amount.get(), x.tax.get()))
    };
    let (tax10_amount, tax10) = rate(10);
    let (tax8_amount, tax8) = rate(8);
    TotalsView {
        subtotal: t.subtotal.get(),
        shipping_fee: t.shipping_fee.get(),
        fee: t.fee.get(),
        discount: t.discount.get(),
        total: t.total.get(),
        points_used: t.points_used,
        payment_total: t.payment_total.get(),
        tax10_amount,
        tax10,
        tax8_amount,
        tax8,
    }
}

pub(super) fn totals_of(o: &Order) -> TotalsView {
    totals_of_draft(&o.draft.totals)
}

/// The order the buyer's choices make, before it is validated.
pub(super) fn draft_input(
    l: &Loaded,
    lines: &[CartLine],
    delivery: Option<&DeliveryMethod>,
) -> Option<OrderInput> {
    let buyer = l.details.buyer.as_ref()?;
    let method = l.details.payment_method?;
    let delivery = delivery?;
    let subtotal: i64 = lines.iter().map(|x| x.line_total).sum();
    Some(OrderInput {
        customer_id: l.c.customer_id,
        customer: person(buyer),
        email: buyer.email.trim().to_owned(),
        birth_date: None,
        sex: None,
        delivery: None,
        delivery_date: None,
        delivery_time: None,
        items: lines
            .iter()
            .map(|x| ItemInput {
                product_code: x.code.clone(),
                product_name: Some(x.product_name.clone()),
                class1: Some(x.class1.clone()),
                class2: Some(x.class2.clone()),
                unit_price: Some(x.unit_price),
                quantity: x.quantity,
                tax_rate: Some(x.tax_rate),
            })
            .collect(),
        discount: 0,
        shipping_fee: delivery.fee.unwrap_or(0),
        fee: 0,
        points_used: l.details.points,
        // The shop's point rate: 1% of the products for members.
        points_earned: if l.c.customer_id.is_some() {
            subtotal / 100
        } else {
            0
        },
        payment_method: method.code().into(),
        status: Some(if method.gateway().is_some() {
            OrderStatus::PendingPayment.code().into()
        } else {
            default_status(method).code().into()
        }),
        remarks: l.details.remarks.clone(),
        memo: String::new(),
        ordered_at: None,
        shipped_on: None,
        tracking_number: String::new(),
        gateway_ref: String::new(),
        device: Some("pc".into()),
        ip: String::new(),
    })
}

/// The status of an order paid without a gateway: 銀行振込 / 郵便振替 wait for the money,
/// 代金引換 is new.
pub(super) fn default_status(m: PaymentMethod) -> OrderStatus {
    match m {
        PaymentMethod::BankTransfer | PaymentMethod::PostalTransfer => OrderStatus::AwaitingPayment,
        _ => OrderStatus::New,
    }
}

/// ご注文完了.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Completion {
    pub number: i64,
    pub method_label: String,
    pub payment_total: i64,
    pub email: String,
    pub slip: Vec<(String, String)>,
    pub url: Option<String>,
    pub due: Option<String>,
    pub note: String,
    pub status_label: String,
}

pub async fn completion(app: &App, b: &Buyer) -> Result<Completion, AppError> {
    let l = load(app, b).await?;
    if l.c.state != CheckoutState::Completed {
        return Err(gone());
    }
    let number = order_number(app, &l).await?;
    let mut conn = app.store.read().await?;
    let o = orders::get(&mut conn, b.shop_id, number)
        .await?
        .ok_or_else(gone)?;
    let p = pay::by_order(&mut conn, o.id).await?;
    drop(conn);
    let slip: Option<PaymentSlip> = p
        .as_ref()
        .filter(|p| !p.slip.is_empty())
        .and_then(|p| serde_json::from_str(&p.slip).ok());
    let settings = methods::method_settings(app, b.shop_id, o.draft.payment_method).await?;
    Ok(Completion {
        number,
        method_label: settings.display_name.clone(),
        payment_total: o.draft.totals.payment_total.get(),
        email: o.draft.email.clone(),
        slip: slip.as_ref().map(|s| s.fields.clone()).unwrap_or_default(),
        url: slip.as_ref().and_then(|s| s.url.clone()),
        due: slip
            .as_ref()
            .map(|s| juchu_domain::time::format_jst_minute(s.due)),
        note: settings.mail_note.clone(),
        status_label: o.draft.status.label().to_owned(),
    })
}

//! お支払い (card form with the gateway's token script, Paidy checkout), the returns from
//! 3-D Secure, 戻る, and ご注文完了.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::Form;
use juchu_app::checkout::{self, CardInput, CheckoutState};
use juchu_app::methods;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Current, Posted, Visit, base_url, follow, on_page, render, with_status};
use crate::AppState;

#[derive(Serialize)]
struct Opt {
    code: String,
    label: String,
}

pub async fn payment(State(s): State<AppState>, Current(v): Current) -> Response {
    if v.sent.is_none() {
        return v.redirect("");
    }
    payment_page(&s, &v, None, StatusCode::OK).await
}

pub(super) async fn payment_page(
    s: &AppState,
    v: &Visit,
    message: Option<String>,
    status: StatusCode,
) -> Response {
    let view = match v.view(s).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match view.state {
        CheckoutState::Completed => return v.redirect("/checkout/complete"),
        CheckoutState::Paying => {}
        CheckoutState::Shopping => return v.redirect("/checkout/confirm"),
    }
    let installments: Vec<Opt> = view
        .method
        .as_ref()
        .map(|m| {
            m.installments
                .iter()
                .map(|c| Opt {
                    code: c.clone(),
                    label: methods::installment_label(c),
                })
                .collect()
        })
        .unwrap_or_default();
    let this_year = juchu_domain::time::jst_date(s.app.now()).year();
    let years: Vec<Opt> = (0..16)
        .map(|i| {
            let y = i64::from(this_year) + i;
            Opt {
                code: format!("{:02}", y % 100),
                label: y.to_string(),
            }
        })
        .collect();
    let paidy_payload = view
        .paidy
        .as_ref()
        .map(|p| p.payload.to_string())
        .unwrap_or_default();
    let ctx = v.ctx(
        "payment",
        context! {
            view => Value::from_serialize(&view),
            installments => installments,
            years => years,
            paidy_payload => paidy_payload,
            message => message.or(view.message.clone()),
        },
    );
    v.respond(with_status(render("store_payment.html", ctx), status))
}

/// The token from the card form's script: authorize (3-D Secure may come first).
pub async fn pay_card(
    State(s): State<AppState>,
    headers: HeaderMap,
    Posted(Current(v), f): Posted<Current, CardInput>,
) -> Response {
    let Some(base) = base_url(&s, &headers) else {
        return v.respond(super::error_page(
            Some(&v.front),
            StatusCode::BAD_REQUEST,
            "リクエストのホスト名が正しくありません",
        ));
    };
    let r = checkout::pay_card(&s.app, &v.buyer(), f, &base).await;
    settle(&s, &v, r).await
}

/// Where a payment step leads: a failure (or a refusal) back to the payment page in red.
async fn settle(
    s: &AppState,
    v: &Visit,
    r: Result<checkout::Next, juchu_app::AppError>,
) -> Response {
    match r {
        Ok(next) => match follow(v, next) {
            Ok(r) => r,
            Err(message) => payment_page(s, v, Some(message), StatusCode::OK).await,
        },
        Err(e) => match on_page(&e) {
            Some(m) => payment_page(s, v, Some(m), StatusCode::CONFLICT).await,
            None => v.error(&e),
        },
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PaidyForm {
    payment_id: String,
}

/// Paidy's checkout authorized the payment (`closed` with status `authorized`).
pub async fn pay_paidy(
    State(s): State<AppState>,
    Posted(Current(v), f): Posted<Current, PaidyForm>,
) -> Response {
    let r = checkout::paidy_approved(&s.app, &v.buyer(), f.payment_id.trim()).await;
    settle(&s, &v, r).await
}

/// Where a 3-D Secure return leads. A failure goes to the payment page by a redirect (the
/// checkout keeps the message): a reload must not replay the gateway's answer, and a
/// cross-site return (no SameSite=Lax cookie; the app finds the checkout by the gateway's
/// ids) reaches the buyer's cookie on the GET that follows.
async fn three_ds_settle(
    s: &AppState,
    v: &Visit,
    r: Result<checkout::Next, juchu_app::AppError>,
) -> Response {
    match r {
        Ok(next) => follow(v, next).unwrap_or_else(|_| v.redirect("/checkout/payment")),
        Err(e) if v.sent.is_some() => settle(s, v, Err(e)).await,
        Err(e) => v.error(&e),
    }
}

/// Paygent sends the buyer back here (a GET to term_url) after 3-D Secure, with the result
/// parameters.
pub async fn paygent_3ds(
    State(s): State<AppState>,
    Current(v): Current,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let buyer = v.sent.as_ref().map(|_| v.buyer());
    let r = checkout::paygent_3ds_returned(&s.app, buyer.as_ref(), v.front.shop_id, params).await;
    three_ds_settle(&s, &v, r).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct GmoReturn {
    #[serde(rename = "OrderID")]
    order_id: String,
}

/// GMO's issuer page posts AccessID and OrderID here (RetUrl) after 3-D Secure.
pub async fn gmo_3ds(
    State(s): State<AppState>,
    Current(v): Current,
    Form(f): Form<GmoReturn>,
) -> Response {
    let buyer = v.sent.as_ref().map(|_| v.buyer());
    let r = checkout::gmo_3ds_returned(&s.app, buyer.as_ref(), v.front.shop_id, f.order_id.trim())
        .await;
    three_ds_settle(&s, &v, r).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BackForm {
    /// `delivery`: to the delivery page (another payment method); otherwise the confirmation.
    to: String,
}

/// 「戻る」 from the payment page: the pending order goes, the buyer may change the order.
pub async fn back(
    State(s): State<AppState>,
    Posted(Current(v), f): Posted<Current, BackForm>,
) -> Response {
    match checkout::back(&s.app, &v.buyer()).await {
        Ok(()) if f.to == "delivery" => v.redirect("/checkout/delivery"),
        Ok(()) => v.redirect("/checkout/confirm"),
        Err(e) => match on_page(&e) {
            Some(m) => payment_page(&s, &v, Some(m), StatusCode::CONFLICT).await,
            None => v.error(&e),
        },
    }
}

/// ご注文完了
pub async fn complete(State(s): State<AppState>, Current(v): Current) -> Response {
    if v.sent.is_none() {
        return v.redirect("");
    }
    let view = match v.view(&s).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if view.state != CheckoutState::Completed {
        return v.redirect("/cart");
    }
    let c = match checkout::completion(&s.app, &v.buyer()).await {
        Ok(c) => c,
        Err(e) => return v.error(&e),
    };
    let ctx = v.ctx(
        "complete",
        context! { c => Value::from_serialize(&c), view => Value::from_serialize(&view) },
    );
    v.respond(render("store_complete.html", ctx))
}

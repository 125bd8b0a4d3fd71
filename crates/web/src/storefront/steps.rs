//! お客様情報, 配送方法・お支払い方法, ご注文内容の確認.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use juchu_app::checkout::{self, BuyerInput, CheckoutState, ChoiceInput};
use juchu_app::{AppError, methods};
use juchu_domain::payment_method::PaymentMethod;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Current, Posted, Visit, field_errors, follow, on_page, render, with_status};
use crate::AppState;

/// The stores a konbini payment can be made at, per gateway: GMO's Convenience codes and
/// Paygent's cvs_company_id values (telegram 030, connection type A).
pub const GMO_KONBINI: [(&str, &str); 5] = [
    ("10001", "セブン-イレブン"),
    ("00001", "ローソン"),
    ("00002", "ファミリーマート"),
    ("00005", "ミニストップ"),
    ("10002", "セイコーマート"),
];
pub const PAYGENT_KONBINI: [(&str, &str); 5] = [
    ("00C016", "セブン-イレブン"),
    ("00C002", "ローソン"),
    ("00C005", "ファミリーマート"),
    ("00C004", "ミニストップ"),
    ("00C014", "セイコーマート"),
];

fn konbini_stores(m: PaymentMethod) -> &'static [(&'static str, &'static str)] {
    match m {
        PaymentMethod::GmoKonbini => &GMO_KONBINI,
        PaymentMethod::PaygentKonbini => &PAYGENT_KONBINI,
        _ => &[],
    }
}

/// The store's name for a konbini code (for the confirmation page).
pub fn konbini_label(m: PaymentMethod, code: &str) -> Option<&'static str> {
    konbini_stores(m)
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, l)| *l)
}

/// Pages after the cart need something in it; pages during payment belong to the payment.
fn guard(v: &Visit, view: &checkout::View) -> Option<Response> {
    if view.state == CheckoutState::Completed {
        return Some(v.redirect("/checkout/complete"));
    }
    if view.lines.is_empty() {
        return Some(v.redirect("/cart"));
    }
    None
}

// ---- お客様情報 ----

pub async fn customer(State(s): State<AppState>, v: Visit) -> Response {
    customer_page(&s, &v, None, BTreeMap::new(), None, "", StatusCode::OK).await
}

async fn customer_page(
    s: &AppState,
    v: &Visit,
    input: Option<BuyerInput>,
    errors: BTreeMap<String, String>,
    message: Option<String>,
    login_email: &str,
    status: StatusCode,
) -> Response {
    let view = match v.view(s).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some(r) = guard(v, &view) {
        return r;
    }
    let input = input.or(view.buyer.clone()).unwrap_or_default();
    let ctx = v.ctx(
        "customer",
        context! {
            view => Value::from_serialize(&view),
            input => Value::from_serialize(&input),
            errors => errors,
            message => message,
            login_email => login_email,
            prefectures => juchu_domain::customer::PREFECTURES.as_slice(),
            paying => view.state == CheckoutState::Paying,
        },
    );
    v.respond(with_status(render("store_customer.html", ctx), status))
}

pub async fn set_customer(
    State(s): State<AppState>,
    Posted(v, f): Posted<Visit, BuyerInput>,
) -> Response {
    match checkout::set_buyer(&s.app, &v.buyer(), f.clone()).await {
        Ok(()) => v.redirect("/checkout/delivery"),
        Err(AppError::Invalid(i)) => {
            customer_page(
                &s,
                &v,
                Some(f),
                field_errors(&i),
                Some("入力内容をご確認ください".to_owned()),
                "",
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => match on_page(&e) {
            Some(m) => {
                customer_page(
                    &s,
                    &v,
                    Some(f),
                    BTreeMap::new(),
                    Some(m),
                    "",
                    StatusCode::CONFLICT,
                )
                .await
            }
            None => v.error(&e),
        },
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
}

/// 会員ログイン: the member's name and address fill the form.
pub async fn login(State(s): State<AppState>, Posted(v, f): Posted<Visit, LoginForm>) -> Response {
    let email = f.email.trim();
    let fail = |errors: BTreeMap<String, String>, message: String, status| {
        customer_page(&s, &v, None, errors, Some(message), email, status)
    };
    match checkout::login(&s.app, &v.buyer(), email, &f.password).await {
        Ok(()) => v.redirect("/checkout/delivery"),
        Err(AppError::Unauthenticated) => {
            let mut errors = BTreeMap::new();
            errors.insert(
                "login".to_owned(),
                "メールアドレスまたはパスワードが正しくありません".to_owned(),
            );
            fail(
                errors,
                "ログインできませんでした".to_owned(),
                StatusCode::UNAUTHORIZED,
            )
            .await
        }
        Err(AppError::Invalid(i)) => {
            let errors = field_errors(&i)
                .into_iter()
                .map(|(k, m)| (format!("login_{k}"), m))
                .collect();
            fail(
                errors,
                "ログインできませんでした".to_owned(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => match on_page(&e) {
            Some(m) => fail(BTreeMap::new(), m, StatusCode::CONFLICT).await,
            None => v.error(&e),
        },
    }
}

// ---- 配送方法・お支払い方法 ----

/// What the buyer has chosen (or is choosing) on the delivery page.
#[derive(Serialize, Default, Clone)]
struct Choice {
    delivery_id: Option<i64>,
    payment_method: String,
    konbini: BTreeMap<String, String>,
    points: String,
    remarks: String,
}

#[derive(Serialize)]
struct MethodRow {
    code: &'static str,
    name: String,
    logo_url: String,
    payment_note: String,
    stores: Vec<Store>,
}

#[derive(Serialize)]
struct Store {
    code: &'static str,
    name: &'static str,
}

pub async fn delivery(State(s): State<AppState>, v: Visit) -> Response {
    delivery_page(&s, &v, None, BTreeMap::new(), None, StatusCode::OK).await
}

async fn delivery_page(
    s: &AppState,
    v: &Visit,
    choice: Option<Choice>,
    errors: BTreeMap<String, String>,
    message: Option<String>,
    status: StatusCode,
) -> Response {
    let view = match v.view(s).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some(r) = guard(v, &view) {
        return r;
    }
    if view.buyer.is_none() {
        return v.redirect("/checkout/customer");
    }
    let choice = choice.unwrap_or_else(|| Choice {
        delivery_id: view.delivery.as_ref().map(|d| d.id),
        payment_method: view
            .method
            .as_ref()
            .map(|m| m.method.code().to_owned())
            .unwrap_or_default(),
        konbini: view
            .method
            .as_ref()
            .zip(view.konbini_store.as_ref())
            .map(|(m, k)| BTreeMap::from([(m.method.code().to_owned(), k.clone())]))
            .unwrap_or_default(),
        points: if view.points_used > 0 {
            view.points_used.to_string()
        } else {
            String::new()
        },
        remarks: view.remarks.clone(),
    });
    // The delivery shown: the one chosen on this page, the one kept, else the first.
    let selected = choice
        .delivery_id
        .and_then(|id| view.deliveries.iter().find(|d| d.id == id))
        .or(view.delivery.as_ref())
        .or(view.deliveries.first())
        .cloned();
    let offered = match &selected {
        Some(d) if view.delivery.as_ref().map(|x| x.id) == Some(d.id) => view.offered.clone(),
        Some(d) => match methods::offered(&s.app, v.front.shop_id, d, view.subtotal).await {
            Ok(o) => o,
            Err(e) => return v.error(&e),
        },
        None => vec![],
    };
    let rows: Vec<MethodRow> = offered
        .iter()
        .map(|m| MethodRow {
            code: m.method.code(),
            name: m.display_name.clone(),
            logo_url: m.logo_url.clone(),
            payment_note: m.payment_note.clone(),
            stores: konbini_stores(m.method)
                .iter()
                .map(|(code, name)| Store { code, name })
                .collect(),
        })
        .collect();
    // The chosen method, if still on offer; else the first one.
    let chosen = if rows.iter().any(|r| r.code == choice.payment_method) {
        choice.payment_method.clone()
    } else {
        rows.first().map(|r| r.code.to_owned()).unwrap_or_default()
    };
    let ctx = v.ctx(
        "delivery",
        context! {
            view => Value::from_serialize(&view),
            choice => Value::from_serialize(&choice),
            selected => Value::from_serialize(&selected),
            methods => rows,
            chosen => chosen,
            no_fixed_fee => selected.as_ref().is_some_and(|d| d.fee.is_none()),
            errors => errors,
            message => message.or(view.message.clone()),
            paying => view.state == CheckoutState::Paying,
        },
    );
    v.respond(with_status(render("store_delivery.html", ctx), status))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChoiceForm {
    /// `delivery`: only show the methods of another delivery; otherwise choose.
    op: String,
    delivery_id: String,
    payment_method: String,
    konbini_gmo_konbini: String,
    konbini_paygent_konbini: String,
    points: String,
    remarks: String,
}

pub async fn choose(
    State(s): State<AppState>,
    Posted(v, f): Posted<Visit, ChoiceForm>,
) -> Response {
    let mut konbini = BTreeMap::new();
    for (m, k) in [
        ("gmo_konbini", &f.konbini_gmo_konbini),
        ("paygent_konbini", &f.konbini_paygent_konbini),
    ] {
        if !k.is_empty() {
            konbini.insert(m.to_owned(), k.clone());
        }
    }
    let choice = Choice {
        delivery_id: f.delivery_id.trim().parse().ok(),
        payment_method: f.payment_method.clone(),
        konbini: konbini.clone(),
        points: f.points.trim().to_owned(),
        remarks: f.remarks.clone(),
    };
    if f.op == "delivery" {
        return delivery_page(&s, &v, Some(choice), BTreeMap::new(), None, StatusCode::OK).await;
    }
    let mut errors = BTreeMap::new();
    let Some(delivery_id) = choice.delivery_id else {
        errors.insert(
            "delivery_id".to_owned(),
            "配送方法を選んでください".to_owned(),
        );
        return delivery_page(
            &s,
            &v,
            Some(choice),
            errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let points = match choice.points.as_str() {
        "" => 0,
        p => match p.parse::<i64>() {
            Ok(n) if n >= 0 => n,
            _ => {
                errors.insert(
                    "points".to_owned(),
                    "ご利用ポイントは0以上の数字で入力してください".to_owned(),
                );
                return delivery_page(
                    &s,
                    &v,
                    Some(choice),
                    errors,
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        },
    };
    let input = ChoiceInput {
        delivery_id,
        payment_method: f.payment_method.clone(),
        konbini_store: konbini.get(&f.payment_method).cloned(),
        points,
        remarks: f.remarks.clone(),
    };
    match checkout::choose(&s.app, &v.buyer(), input).await {
        Ok(()) => v.redirect("/checkout/confirm"),
        Err(AppError::Invalid(i)) => {
            delivery_page(
                &s,
                &v,
                Some(choice),
                field_errors(&i),
                Some("入力内容をご確認ください".to_owned()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => match on_page(&e) {
            Some(m) => {
                delivery_page(
                    &s,
                    &v,
                    Some(choice),
                    BTreeMap::new(),
                    Some(m),
                    StatusCode::CONFLICT,
                )
                .await
            }
            None => v.error(&e),
        },
    }
}

/// The delivery page with a message (a payment that failed or was refused).
pub(super) async fn delivery_with(s: &AppState, v: &Visit, message: String) -> Response {
    delivery_page(s, v, None, BTreeMap::new(), Some(message), StatusCode::OK).await
}

// ---- ご注文内容の確認 ----

pub async fn confirm_page(State(s): State<AppState>, v: Visit) -> Response {
    confirm_render(&s, &v, None, StatusCode::OK).await
}

async fn confirm_render(
    s: &AppState,
    v: &Visit,
    message: Option<String>,
    status: StatusCode,
) -> Response {
    let view = match v.view(s).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some(r) = guard(v, &view) {
        return r;
    }
    if view.buyer.is_none() {
        return v.redirect("/checkout/customer");
    }
    if view.method.is_none() || view.delivery.is_none() || view.totals.is_none() {
        return v.redirect("/checkout/delivery");
    }
    let konbini = view
        .method
        .as_ref()
        .zip(view.konbini_store.as_ref())
        .and_then(|(m, k)| konbini_label(m.method, k));
    let ctx = v.ctx(
        "confirm",
        context! {
            view => Value::from_serialize(&view),
            konbini => konbini,
            message => message.or(view.message.clone()),
            paying => view.state == CheckoutState::Paying,
        },
    );
    v.respond(with_status(render("store_confirm.html", ctx), status))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ConfirmForm {
    attempt: String,
}

/// 「注文する」
pub async fn confirm(
    State(s): State<AppState>,
    Posted(Current(v), f): Posted<Current, ConfirmForm>,
) -> Response {
    match checkout::confirm(&s.app, &v.buyer(), &f.attempt).await {
        Ok(next) => match follow(&v, next) {
            Ok(r) => r,
            Err(message) => delivery_with(&s, &v, message).await,
        },
        Err(e) => match on_page(&e) {
            Some(m) => confirm_render(&s, &v, Some(m), StatusCode::CONFLICT).await,
            None => v.error(&e),
        },
    }
}

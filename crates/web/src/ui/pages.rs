use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::Form;
use axum_extra::extract::cookie::{Cookie, SameSite};
use juchu_app::orders::PaymentBrief;
use juchu_app::{AppError, access, customers, orders, stock};
use juchu_domain::money::group;
use juchu_domain::order::OrderSummary;
use juchu_domain::payment_method::PaymentMethod;
use juchu_domain::search::{PaymentFilter, SearchInput, SortOrder};
use juchu_domain::status::{OrderList, OrderStatus};
use juchu_domain::time::format_jst_minute;
use minijinja::context;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::{CsrfForm, LOGIN_CSRF_COOKIE, SESSION_COOKIE, Session, error_page, safe_next};
use crate::AppState;
use crate::extract::Query;

pub(super) use juchu_domain::money::yen;

fn cookie(s: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    let mut c = Cookie::new(name, value);
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_path("/admin");
    c.set_secure(s.secure_cookies);
    c
}

/// Layout values every page needs.
pub(super) fn base(sess: &Session, menu: &str) -> minijinja::Value {
    context! {
        user => sess.actor.name.clone(),
        is_admin => sess.actor.is_admin,
        shop => sess.shop_name.clone(),
        csrf => sess.csrf.clone(),
        menu => menu,
    }
}

pub(super) fn page_ctx(base: minijinja::Value, extra: minijinja::Value) -> minijinja::Value {
    context! { ..base, ..extra }
}

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

pub async fn login_form(
    State(s): State<AppState>,
    jar: CookieJar,
    Query(p): Query<NextParam>,
) -> Response {
    login_page(&s, jar, p.next.as_deref(), None, "")
}

fn login_page(
    s: &AppState,
    jar: CookieJar,
    next: Option<&str>,
    error: Option<&str>,
    login: &str,
) -> Response {
    // Login CSRF: a random value in a cookie and in the form; the POST must carry both.
    let token = match juchu_app::tokens::random_token() {
        Ok(t) => t,
        Err(e) => return error_page(s, &e),
    };
    let jar = jar.add(cookie(s, LOGIN_CSRF_COOKIE, token.clone()));
    let page = s.ui.render(
        "login.html",
        context! { csrf => token, next => safe_next(next), error => error, login => login },
    );
    (jar, page).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

pub async fn login(
    State(s): State<AppState>,
    crate::extract::ClientAddr(from): crate::extract::ClientAddr,
    jar: CookieJar,
    Form(f): Form<LoginForm>,
) -> Response {
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_owned());
    if !expected.is_some_and(|t| crate::csrf::same(&f.csrf, &t)) {
        return login_page(
            &s,
            jar,
            f.next.as_deref(),
            Some("画面の有効期限が切れました。もう一度ログインしてください"),
            &f.login,
        );
    }
    match access::login(&s.app, f.login.trim(), &f.password, &from).await {
        Ok(sess) => {
            let jar = jar
                .remove(cookie(&s, LOGIN_CSRF_COOKIE, String::new()))
                .add(cookie(&s, SESSION_COOKIE, sess.token));
            (jar, Redirect::to(&safe_next(f.next.as_deref()))).into_response()
        }
        Err(AppError::Unauthenticated) => login_page(
            &s,
            jar,
            f.next.as_deref(),
            Some("ログインIDまたはパスワードが正しくありません"),
            &f.login,
        ),
        Err(e @ AppError::TooManyAttempts { .. }) => {
            let mut r = login_page(&s, jar, f.next.as_deref(), Some(&e.to_string()), &f.login);
            *r.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
            r
        }
        Err(e) => error_page(&s, &e),
    }
}

pub async fn logout(
    State(s): State<AppState>,
    jar: CookieJar,
    CsrfForm(_, _): CsrfForm<IgnoredAny>,
) -> Response {
    if let Some(t) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned())
        && let Err(e) = access::logout(&s.app, &t).await
    {
        return error_page(&s, &e);
    }
    let jar = jar.remove(cookie(&s, SESSION_COOKIE, String::new()));
    (jar, Redirect::to("/admin/login")).into_response()
}

#[derive(Serialize)]
struct Opt {
    code: &'static str,
    label: &'static str,
}

/// Choices for a select or checkbox group.
fn opts<T: Copy>(all: &[T], code: fn(T) -> &'static str, label: fn(T) -> &'static str) -> Vec<Opt> {
    all.iter()
        .map(|x| Opt {
            code: code(*x),
            label: label(*x),
        })
        .collect()
}

#[derive(Serialize)]
struct OrderRow {
    number: i64,
    ordered_at: String,
    customer_name: String,
    customer_id: Option<i64>,
    payment: &'static str,
    gateway_ref: String,
    amount: String,
    shipped: String,
    status: &'static str,
    status_code: &'static str,
    /// 決済状況 and its code (for its colour); empty without a payment.
    payment_state: String,
    payment_state_code: String,
    /// 売上確定期限, for an authorization still to be captured.
    capture_by: Option<String>,
    version: i64,
    checked: bool,
    can_delete: bool,
}

fn with_page(raw: &str, page: i64) -> String {
    let mut parts: Vec<&str> = raw
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("page="))
        .collect();
    let p = format!("page={page}");
    parts.push(&p);
    format!("?{}", parts.join("&"))
}

/// 受注管理: the search form and its results; the search lives in the URL.
#[derive(Deserialize)]
pub struct Flash {
    done: Option<String>,
    refused: Option<String>,
}

/// One row of 受注一覧.
fn order_row(o: &OrderSummary, pay: Option<&PaymentBrief>) -> OrderRow {
    OrderRow {
        number: o.number,
        ordered_at: format_jst_minute(o.ordered_at),
        customer_name: o.customer_name.clone(),
        customer_id: o.customer_id,
        payment: o.payment_method.label(),
        gateway_ref: o.gateway_ref.clone(),
        amount: yen(o.payment_total.get()),
        shipped: o
            .shipped_on
            .map(juchu_domain::time::format_date)
            .unwrap_or_else(|| "未発送".to_owned()),
        status: o.status.label(),
        status_code: o.status.code(),
        payment_state: pay.map(|p| p.state_label.clone()).unwrap_or_default(),
        payment_state_code: pay.map(|p| p.state_code().to_owned()).unwrap_or_default(),
        capture_by: pay
            .filter(|p| p.state == "authorized")
            .and_then(|p| p.auth_expires_at.clone()),
        version: o.version,
        checked: o.payment_checked,
        can_delete: o.status != OrderStatus::PendingPayment,
    }
}

pub async fn orders(
    State(s): State<AppState>,
    sess: Session,
    RawQuery(raw): RawQuery,
    Query(q): Query<SearchInput>,
    Query(flash): Query<Flash>,
) -> Response {
    // The search as the URL keeps it, without the last action's message.
    let raw = raw
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.starts_with("done=") && !p.starts_with("refused="))
        .collect::<Vec<_>>()
        .join("&");
    let list = q.list.clone().unwrap_or_else(|| "open".to_owned());
    let (errors, rows, total, page, pages) = match orders::search(&s.app, &sess.actor, &q).await {
        Ok((_, p)) => {
            let rows: Vec<OrderRow> = p
                .orders
                .iter()
                .map(|l| (&l.order, l.payment.as_ref()))
                .map(|(o, pay)| order_row(o, pay))
                .collect();
            let pages = (p.total + p.per_page - 1) / p.per_page;
            (BTreeMap::new(), rows, p.total, p.page, pages)
        }
        Err(AppError::Invalid(i)) => {
            let errors: BTreeMap<String, String> =
                i.0.into_iter().map(|f| (f.field, f.message)).collect();
            (errors, vec![], 0, 1, 0)
        }
        Err(e) => return error_page(&s, &e),
    };
    let statuses = opts(&OrderStatus::ALL, OrderStatus::code, OrderStatus::label);
    let methods = opts(
        &PaymentMethod::ALL,
        PaymentMethod::code,
        PaymentMethod::label,
    );
    let sorts = opts(&SortOrder::ALL, SortOrder::code, SortOrder::label);
    let payment_states = opts(
        &PaymentFilter::ALL,
        PaymentFilter::code,
        PaymentFilter::label,
    );
    let lists = opts(&OrderList::ALL, OrderList::code, OrderList::label);
    let csv_query = raw
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("page=") && !p.starts_with("per_page="))
        .collect::<Vec<_>>()
        .join("&");
    let menu = match list.as_str() {
        "completed" => "orders_completed",
        "cancelled" => "orders_cancelled",
        _ => "orders",
    };
    let list_label = match OrderList::from_code(&list) {
        Some(l) => l.label(),
        None if list == "all" => "すべての一覧",
        None => "受注一覧",
    };
    s.ui.render(
        "orders.html",
        page_ctx(
            base(&sess, menu),
            context! {
                q => q, errors => errors, rows => rows, total => total, page => page, pages => pages,
                prev => (page > 1).then(|| with_page(&raw, page - 1)),
                next => (page < pages).then(|| with_page(&raw, page + 1)),
                statuses => statuses, methods => methods, sorts => sorts, lists => lists,
                payment_states => payment_states,
                list => list, list_label => list_label, csv_query => csv_query,
                back => format!("?{raw}"), done => flash.done, refused => flash.refused,
            },
        ),
    )
}

pub(super) fn unprocessable(mut r: Response) -> Response {
    if r.status().is_success() {
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
}

#[derive(Deserialize)]
pub struct ListQ {
    q: Option<String>,
    page: Option<i64>,
}

pub async fn products(
    State(s): State<AppState>,
    sess: Session,
    Query(p): Query<ListQ>,
) -> Response {
    let q = p.q.unwrap_or_default();
    let page = p.page.unwrap_or(1).max(1);
    match juchu_app::catalog::list(&s.app, &sess.actor, &q, page, 50).await {
        Ok((total, products)) => {
            let rows: Vec<_> = products
                .iter()
                .flat_map(|p| {
                    p.variants.iter().map(move |v| {
                        context! {
                            product => p.name.clone(), code => v.draft.code.clone(),
                            classes => juchu_domain::catalog::class_label(&v.draft.class1, &v.draft.class2),
                            price => yen(v.draft.price.get()), rate => format!("{}%", v.draft.tax_rate.percent()),
                            stock => v.draft.stock.map(group).unwrap_or_else(|| "無制限".to_owned()),
                        }
                    })
                })
                .collect();
            s.ui.render(
                "products.html",
                page_ctx(
                    base(&sess, "products"),
                    context! { q => q, rows => rows, total => total },
                ),
            )
        }
        Err(e) => error_page(&s, &e),
    }
}

pub async fn customers(
    State(s): State<AppState>,
    sess: Session,
    Query(p): Query<ListQ>,
) -> Response {
    let q = p.q.unwrap_or_default();
    let page = p.page.unwrap_or(1).max(1);
    match customers::search(&s.app, &sess.actor, &q, page, 50).await {
        Ok((total, list)) => {
            let rows: Vec<_> = list
                .iter()
                .map(|c| {
                    context! {
                        id => c.id, name => c.draft.person.full_name(), kana => c.draft.person.full_kana(),
                        email => c.draft.email.clone(), tel => c.draft.person.tel.clone(),
                        pref => c.draft.person.prefecture.clone(), points => group(c.points),
                    }
                })
                .collect();
            s.ui.render(
                "customers.html",
                page_ctx(
                    base(&sess, "customers"),
                    context! { q => q, rows => rows, total => total },
                ),
            )
        }
        Err(e) => error_page(&s, &e),
    }
}

#[derive(Deserialize)]
pub struct StockQ {
    all: Option<String>,
    done: Option<String>,
}

pub async fn cancelled_stock(
    State(s): State<AppState>,
    sess: Session,
    Query(p): Query<StockQ>,
) -> Response {
    let all = p.all.as_deref() == Some("1");
    stock_page(&s, &sess, all, p.done, vec![]).await
}

async fn stock_page(
    s: &AppState,
    sess: &Session,
    all: bool,
    done: Option<String>,
    results: Vec<minijinja::Value>,
) -> Response {
    match stock::list(&s.app, &sess.actor, all).await {
        Ok(lines) => {
            let open: Vec<i64> = lines
                .iter()
                .filter(|l| l.returned_at.is_none())
                .map(|l| l.id)
                .collect();
            let rows: Vec<_> = lines
                .iter()
                .map(|l| {
                    context! {
                        id => l.id, number => l.order_number, code => l.product_code.clone(), name => l.product_name.clone(),
                        classes => juchu_domain::catalog::class_label(&l.class1, &l.class2),
                        quantity => l.quantity, created_at => format_jst_minute(l.created_at),
                        returned => l.returned_at.map(format_jst_minute), returned_by => l.returned_by.clone(),
                    }
                })
                .collect();
            s.ui.render(
                "cancelled_stock.html",
                page_ctx(
                    base(sess, "cancelled_stock"),
                    context! { rows => rows, all => all, done => done, open => open, results => results },
                ),
            )
        }
        Err(e) => error_page(s, &e),
    }
}

pub async fn return_stock(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(sess, _): CsrfForm<IgnoredAny>,
) -> Response {
    match stock::return_one(&s.app, &sess.actor, id).await {
        Ok(l) => {
            let msg = format!(
                "{} ×{}（注文番号 {}）を在庫へ戻しました",
                l.product_code, l.quantity, l.order_number
            );
            Redirect::to(&format!(
                "/admin/cancelled-stock?done={}",
                super::url_escape(&msg)
            ))
            .into_response()
        }
        Err(e) => error_page(&s, &e),
    }
}

#[derive(Deserialize)]
pub struct ReturnManyForm {
    #[serde(default)]
    id: Vec<String>,
}

/// 選択した商品を在庫へ戻す / すべて在庫へ戻す: each line on its own, every outcome listed.
pub async fn return_stock_many(
    State(s): State<AppState>,
    CsrfForm(sess, f): CsrfForm<ReturnManyForm>,
) -> Response {
    let ids: Vec<i64> = f.id.iter().filter_map(|v| v.trim().parse().ok()).collect();
    match stock::return_many(&s.app, &sess.actor, &ids).await {
        Ok(results) => {
            let n = results.iter().filter(|r| r.result.is_ok()).count();
            let rows = results
                .iter()
                .map(|r| match &r.result {
                    Ok(l) => context! { ok => true, message => format!("{} ×{}（注文番号 {}）を在庫へ戻しました", l.product_code, l.quantity, l.order_number) },
                    Err(e) => context! { ok => false, message => crate::error::public_message(e) },
                })
                .collect();
            let done = format!("{n}行を在庫へ戻しました");
            stock_page(&s, &sess, false, Some(done), rows).await
        }
        Err(AppError::Invalid(i)) => {
            let rows =
                i.0.into_iter()
                    .map(|e| context! { ok => false, message => e.message })
                    .collect();
            unprocessable(stock_page(&s, &sess, false, None, rows).await)
        }
        Err(e) => error_page(&s, &e),
    }
}

#[derive(Deserialize)]
pub struct NoticesQ {
    refused: Option<String>,
}

/// 決済通知: what the gateways told juchu, the refused notifications in red.
pub async fn notices(
    State(s): State<AppState>,
    sess: Session,
    Query(q): Query<NoticesQ>,
) -> Response {
    let refused = q.refused.as_deref() == Some("1");
    match juchu_app::payments::notices(&s.app, &sess.actor, refused, 1, 200).await {
        Ok(list) => {
            let rows: Vec<_> = list
                .iter()
                .map(|n| {
                    let (outcome, css) = match n.outcome.as_str() {
                        "applied" => ("反映", "ok"),
                        "refused" => ("受付拒否", "ng"),
                        _ => ("変更なし", ""),
                    };
                    context! {
                        at => juchu_domain::time::from_db(&n.received_at).map(format_jst_minute).unwrap_or_else(|_| n.received_at.clone()),
                        gateway => match n.gateway.as_str() { "paygent" => "ペイジェント", "gmo" => "GMO", other => other },
                        via => if n.via == "push" { "通知" } else { "照会" },
                        notice_id => if n.outcome == "refused" { "—".to_owned() } else { n.notice_id.clone() },
                        payment_ref => n.payment_ref.clone(), status => n.status.clone(), amount => n.amount,
                        outcome => outcome, css => css, reason => n.reason.clone(),
                    }
                })
                .collect();
            s.ui.render(
                "notices.html",
                page_ctx(
                    base(&sess, "notices"),
                    context! { rows => rows, refused => refused },
                ),
            )
        }
        Err(e) => error_page(&s, &e),
    }
}

pub async fn settings(
    State(s): State<AppState>,
    sess: Session,
    Query(flash): Query<Flash>,
) -> Response {
    settings_page(&s, &sess, BTreeMap::new(), flash.done, None).await
}

async fn settings_page(
    s: &AppState,
    sess: &Session,
    errors: BTreeMap<String, String>,
    done: Option<String>,
    form: Option<&NewUserForm>,
) -> Response {
    let users = if sess.actor.is_admin {
        match access::list_users(&s.app, &sess.actor).await {
            Ok(u) => u,
            Err(e) => return error_page(s, &e),
        }
    } else {
        vec![]
    };
    let users: Vec<_> = users
        .iter()
        .map(|u| context! { login => u.login.clone(), name => u.name.clone(), role => u.role.label(), disabled => u.disabled })
        .collect();
    let shop_email = match juchu_app::mail::shop_email(&s.app, &sess.actor).await {
        Ok(e) => e,
        Err(e) => return error_page(s, &e),
    };
    let pay = match juchu_app::payments::settings(&s.app, &sess.actor).await {
        Ok(p) => p,
        Err(e) => return error_page(s, &e),
    };
    let month = juchu_domain::time::jst_date(s.app.now())
        .strftime("%Y-%m")
        .to_string();
    let fees = match juchu_app::payments::fees(&s.app, &sess.actor, &month).await {
        Ok(f) => f,
        Err(e) => return error_page(s, &e),
    };
    s.ui.render(
        "settings.html",
        page_ctx(
            base(sess, "settings"),
            context! {
                users => users, errors => errors, done => done, form => form, shop_email => shop_email,
                pay => context! { auto_status => pay.auto_status, paygent_fee => pay.paygent_fee },
                fees => context! { month => month, count => fees.count, total => yen(fees.total) },
            },
        ),
    )
}

/// The settings page after one of its forms: the message on success, the form's errors
/// beside its fields (422), or the error page.
async fn settings_after(
    s: &AppState,
    sess: &Session,
    r: Result<String, AppError>,
    form: Option<&NewUserForm>,
) -> Response {
    match r {
        Ok(done) => settings_page(s, sess, BTreeMap::new(), Some(done), None).await,
        Err(AppError::Invalid(i)) => {
            let errors = i.0.into_iter().map(|e| (e.field, e.message)).collect();
            unprocessable(settings_page(s, sess, errors, None, form).await)
        }
        Err(e) => error_page(s, &e),
    }
}

#[derive(Deserialize)]
pub struct ShopMailForm {
    email: String,
}

/// 基本設定 > ショップ: the shop's mail address (admins only; the app refuses others).
pub async fn shop_mail(
    State(s): State<AppState>,
    CsrfForm(sess, f): CsrfForm<ShopMailForm>,
) -> Response {
    let r = juchu_app::mail::set_shop_email(&s.app, &sess.actor, &f.email)
        .await
        .map(|e| format!("メールアドレスを {e} にしました"));
    settings_after(&s, &sess, r, None).await
}

#[derive(Deserialize)]
pub struct PaymentSettingsForm {
    #[serde(default)]
    auto_status: Option<String>,
    paygent_fee: String,
}

/// 基本設定 > 決済: automatic order status after payment operations, and the Paygent fee
/// (admins only; the app refuses others).
pub async fn payment_settings(
    State(s): State<AppState>,
    CsrfForm(sess, f): CsrfForm<PaymentSettingsForm>,
) -> Response {
    let saved = match juchu_domain::input::parse_int("paygent_fee", &f.paygent_fee) {
        Ok(fee) => {
            let new = juchu_domain::payment::Settings {
                auto_status: f.auto_status.is_some(),
                paygent_fee: fee,
            };
            juchu_app::payments::set_settings(&s.app, &sess.actor, new).await
        }
        Err(i) => Err(AppError::Invalid(i)),
    };
    let r = saved.map(|_| "決済の設定を保存しました".to_owned());
    settings_after(&s, &sess, r, None).await
}

#[derive(Deserialize, Serialize)]
pub struct NewUserForm {
    csrf: String,
    login: String,
    name: String,
    password: String,
    role: String,
}

/// 基本設定 > 管理者: add a user (admins only; the app refuses others).
pub async fn add_user(
    State(s): State<AppState>,
    CsrfForm(sess, f): CsrfForm<NewUserForm>,
) -> Response {
    let u = access::NewUser {
        login: f.login.clone(),
        name: f.name.clone(),
        password: f.password.clone(),
        role: f.role.clone(),
    };
    let r = access::add_user(&s.app, &sess.actor, &u).await.map(|_| {
        format!(
            "管理者「{}」（{}）を追加しました",
            f.name.trim(),
            f.login.trim()
        )
    });
    settings_after(&s, &sess, r, Some(&f)).await
}

/// CSV download of the current search, for the signed-in operator.
pub async fn orders_csv(
    State(s): State<AppState>,
    sess: Session,
    Query(p): Query<crate::download::CsvParams>,
    Query(q): Query<SearchInput>,
) -> Response {
    match crate::download::orders_csv(&s, &sess.actor, &q, p.encoding.as_deref()).await {
        Ok(r) => r,
        Err(e) => error_page(&s, &e.0),
    }
}

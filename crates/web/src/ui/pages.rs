use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::Form;
use axum_extra::extract::cookie::{Cookie, SameSite};
use juchu_app::{AppError, access, customers, orders, stock};
use juchu_domain::money::group;
use juchu_domain::order::Order;
use juchu_domain::payment_method::PaymentMethod;
use juchu_domain::search::{SearchInput, SortOrder};
use juchu_domain::status::{OrderList, OrderStatus};
use juchu_domain::time::format_jst_minute;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{LOGIN_CSRF_COOKIE, SESSION_COOKIE, Session, error_page, safe_next};
use crate::AppState;
use crate::extract::Query;

/// 規格1 / 規格2 as one label, leaving out the empty ones.
fn classes(class1: &str, class2: &str) -> String {
    [class1, class2]
        .into_iter()
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}

fn yen(v: i64) -> String {
    format!("{}円", group(v))
}

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
    let token = match access::random_token() {
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
    jar: CookieJar,
    Form(f): Form<LoginForm>,
) -> Response {
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_owned());
    if expected.as_deref() != Some(f.csrf.as_str()) {
        return login_page(
            &s,
            jar,
            f.next.as_deref(),
            Some("画面の有効期限が切れました。もう一度ログインしてください"),
            &f.login,
        );
    }
    match access::login(&s.app, f.login.trim(), &f.password).await {
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
        Err(e) => error_page(&s, &e),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// The error page for a form whose CSRF token is not the session's, or None when it is.
pub(super) fn csrf_refusal(s: &AppState, sess: &Session, given: &str) -> Option<Response> {
    if given == sess.csrf {
        None
    } else {
        Some(error_page(
            s,
            &AppError::conflict(
                "csrf",
                "画面の有効期限が切れました。画面を読み込み直してから操作してください",
            ),
        ))
    }
}

pub async fn logout(
    State(s): State<AppState>,
    sess: Session,
    jar: CookieJar,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = csrf_refusal(&s, &sess, &f.csrf) {
        return r;
    }
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
pub async fn orders(
    State(s): State<AppState>,
    sess: Session,
    RawQuery(raw): RawQuery,
    Query(q): Query<SearchInput>,
) -> Response {
    let raw = raw.unwrap_or_default();
    let list = q.list.clone().unwrap_or_else(|| "open".to_owned());
    let (errors, rows, total, page, pages) = match orders::search(&s.app, &sess.actor, &q).await {
        Ok((_, p)) => {
            let rows: Vec<OrderRow> = p
                .orders
                .iter()
                .map(|o| OrderRow {
                    number: o.number,
                    ordered_at: format_jst_minute(o.ordered_at),
                    customer_name: o.customer_name.clone(),
                    customer_id: o.customer_id,
                    payment: o.payment_method.label(),
                    gateway_ref: o.gateway_ref.clone(),
                    amount: yen(o.payment_total.get()),
                    shipped: o
                        .shipped_on
                        .map(|d| d.strftime("%Y/%m/%d").to_string())
                        .unwrap_or_else(|| "未発送".to_owned()),
                    status: o.status.label(),
                    status_code: o.status.code(),
                })
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
    let list_label = OrderList::from_code(&list)
        .map(|l| l.label())
        .unwrap_or("受注一覧");
    s.ui.render(
        "orders.html",
        page_ctx(
            base(&sess, menu),
            context! {
                q => q, errors => errors, rows => rows, total => total, page => page, pages => pages,
                prev => (page > 1).then(|| with_page(&raw, page - 1)),
                next => (page < pages).then(|| with_page(&raw, page + 1)),
                statuses => statuses, methods => methods, sorts => sorts, lists => lists,
                list => list, list_label => list_label, csv_query => csv_query,
            },
        ),
    )
}

#[derive(Serialize)]
struct ItemRow {
    code: String,
    name: String,
    classes: String,
    price: String,
    quantity: i64,
    rate: String,
    line: String,
}

/// The order page's query: `edit=1` opens 受注編集, `done` is a saved change's message, and
/// the rest is a payment operation's outcome (see `payments::operate`).
#[derive(Deserialize, Default)]
pub struct OrderQ {
    edit: Option<String>,
    done: Option<String>,
    #[serde(flatten)]
    result: super::payments::ResultQ,
}

/// 受注編集 (items, 送料, 手数料, 値引き) as the operator typed it, with what checking it said.
#[derive(Serialize, Default)]
struct EditState {
    version: i64,
    quantity: Vec<String>,
    unit_price: Vec<String>,
    shipping_fee: String,
    fee: String,
    discount: String,
    /// field path (`items[0].quantity`, `discount` …) → message
    errors: BTreeMap<String, String>,
    /// Errors on fields the form does not show (使用ポイント …).
    other_errors: Vec<String>,
    /// 計算結果の確認: the totals the edit would store.
    preview: Option<minijinja::Value>,
    /// A refusal of the whole edit (stale version, order not editable).
    alert: Option<String>,
}

impl EditState {
    fn of(o: &Order) -> EditState {
        let d = &o.draft;
        EditState {
            version: o.version,
            quantity: d.items.iter().map(|i| i.quantity.to_string()).collect(),
            unit_price: d
                .items
                .iter()
                .map(|i| i.unit_price.get().to_string())
                .collect(),
            shipping_fee: d.totals.shipping_fee.get().to_string(),
            fee: d.totals.fee.get().to_string(),
            discount: d.totals.discount.get().to_string(),
            ..EditState::default()
        }
    }

    fn invalid(&mut self, i: juchu_domain::Invalid, n_items: usize) {
        for e in i.0 {
            let shown = matches!(
                e.field.as_str(),
                "discount" | "shipping_fee" | "fee" | "items"
            ) || (0..n_items).any(|n| {
                e.field == format!("items[{n}].quantity")
                    || e.field == format!("items[{n}].unit_price")
            });
            if shown {
                self.errors.entry(e.field).or_insert(e.message);
            } else {
                self.other_errors.push(e.message);
            }
        }
    }
}

fn totals_ctx(t: &juchu_domain::order::Totals) -> minijinja::Value {
    let tax: Vec<_> = t
        .tax
        .by_rate
        .iter()
        .map(|r| context! { label => r.rate.label(), amount => yen(r.amount.get()), tax => yen(r.tax.get()) })
        .collect();
    context! {
        subtotal => yen(t.subtotal.get()), discount => yen(t.discount.get()),
        shipping_fee => yen(t.shipping_fee.get()), fee => yen(t.fee.get()), total => yen(t.total.get()),
        points_used => t.points_used, payment_total => yen(t.payment_total.get()),
        payment_total_value => t.payment_total.get(), tax => tax,
    }
}

/// 受注詳細 with the payment panel; `?edit=1` opens 受注編集.
pub async fn order(
    State(s): State<AppState>,
    sess: Session,
    Path(number): Path<i64>,
    Query(q): Query<OrderQ>,
) -> Response {
    let o: Order = match orders::get(&s.app, &sess.actor, number).await {
        Ok(o) => o,
        Err(e) => return error_page(&s, &e),
    };
    let edit = (q.edit.as_deref() == Some("1")).then(|| EditState::of(&o));
    order_page(&s, &sess, o, edit, q.done, &q.result).await
}

async fn order_page(
    s: &AppState,
    sess: &Session,
    o: Order,
    edit: Option<EditState>,
    done: Option<String>,
    result: &super::payments::ResultQ,
) -> Response {
    let number = o.number;
    let history = match orders::history(&s.app, &sess.actor, number).await {
        Ok(h) => h,
        Err(e) => return error_page(s, &e),
    };
    let payment = match super::payments::panel(s, sess, &o, result).await {
        Ok(p) => p,
        Err(e) => return error_page(s, &e),
    };
    let d = &o.draft;
    let t = &d.totals;
    let items: Vec<ItemRow> = d
        .items
        .iter()
        .map(|i| ItemRow {
            code: i.product_code.clone(),
            name: i.product_name.clone(),
            classes: classes(&i.class1, &i.class2),
            price: yen(i.unit_price.get()),
            quantity: i.quantity,
            rate: format!("{}%", i.tax_rate.percent()),
            line: i.line_total().map(|y| yen(y.get())).unwrap_or_default(),
        })
        .collect();
    let hist: Vec<_> = history
        .iter()
        .map(|h| context! { at => format_jst_minute(h.at), actor => h.actor.clone(), detail => h.detail.clone() })
        .collect();
    let person = |p: &juchu_domain::customer::Person| {
        context! {
            name => p.full_name(), kana => p.full_kana(), company => p.company.clone(),
            postal => if p.postal_code.len() == 7 { format!("〒{}-{}", &p.postal_code[..3], &p.postal_code[3..]) } else { p.postal_code.clone() },
            address => format!("{}{} {}", p.prefecture, p.address1, p.address2), tel => p.tel.clone(),
        }
    };
    // The domain says whether the order may be edited, and why not.
    let edit_refusal = o.standing().can_edit().err().map(|r| r.to_string());
    let edit = if edit_refusal.is_some() { None } else { edit };
    s.ui.render(
        "order.html",
        page_ctx(
            base(sess, "orders"),
            context! {
                number => o.number, version => o.version, status => d.status.label(), status_code => d.status.code(), list => o.list.label(),
                ordered_at => format_jst_minute(o.ordered_at), updated_at => format_jst_minute(o.updated_at),
                customer => person(&d.customer), delivery => person(&d.delivery), email => d.email.clone(),
                customer_id => d.customer_id,
                birth_date => d.birth_date.map(|x| x.strftime("%Y/%m/%d").to_string()),
                sex => d.sex.map(|x| x.label()),
                payment => d.payment_method.label(), gateway_ref => d.gateway_ref.clone(),
                items => items, t => totals_ctx(t),
                points_earned => d.points_earned,
                remarks => d.remarks.clone(), memo => d.memo.clone(),
                shipped_on => d.shipped_on.map(|x| x.strftime("%Y/%m/%d").to_string()),
                tracking_number => d.tracking_number.clone(),
                delivery_date => d.delivery_date.map(|x| x.strftime("%Y/%m/%d").to_string()),
                delivery_time => d.delivery_time.clone(),
                history => hist, done => done,
                edit => edit, edit_refusal => edit_refusal,
                mail_refusal => o.standing().can_work("メール送信").err().map(|r| r.to_string()),
                pay => payment,
            },
        ),
    )
}

/// 受注編集's form: one quantity and one unit price per line, in the order's line order.
#[derive(Deserialize)]
pub struct EditForm {
    csrf: String,
    version: String,
    #[serde(default)]
    quantity: Vec<String>,
    #[serde(default)]
    unit_price: Vec<String>,
    #[serde(default)]
    shipping_fee: String,
    #[serde(default)]
    fee: String,
    #[serde(default)]
    discount: String,
    /// `preview` (計算結果の確認) or `save` (保存)
    #[serde(default)]
    op: String,
}

/// 受注編集: 計算結果の確認 shows the totals the edit would store without storing it (the
/// same patch-and-validate `orders::edit` runs); 保存 stores it with the version the
/// operator started from.
pub async fn edit_order(
    State(s): State<AppState>,
    sess: Session,
    Path(number): Path<i64>,
    Form(f): Form<EditForm>,
) -> Response {
    if let Some(r) = csrf_refusal(&s, &sess, &f.csrf) {
        return r;
    }
    let o: Order = match orders::get(&s.app, &sess.actor, number).await {
        Ok(o) => o,
        Err(e) => return error_page(&s, &e),
    };
    let n = o.draft.items.len();
    let mut st = EditState {
        // A version that does not read as one is refused as stale, never saved over.
        version: f.version.trim().parse().unwrap_or(0),
        quantity: f.quantity.clone(),
        unit_price: f.unit_price.clone(),
        shipping_fee: f.shipping_fee.clone(),
        fee: f.fee.clone(),
        discount: f.discount.clone(),
        ..EditState::default()
    };
    let none = super::payments::ResultQ::default();
    if f.quantity.len() != n || f.unit_price.len() != n {
        st = EditState::of(&o);
        st.alert = Some(
            "受注の商品がこの画面を開いた後に変わっています。最新の内容で入力し直してください"
                .to_owned(),
        );
        return unprocessable(order_page(&s, &sess, o, Some(st), None, &none).await);
    }
    // What the operator typed, read as numbers; each bad one is reported beside its field.
    let mut bad = juchu_domain::Invalid::default();
    let mut num = |field: String, v: &str| {
        bad.take(juchu_domain::input::parse_int(&field, v))
            .unwrap_or_default()
    };
    let mut input = o.draft.to_input();
    for (i, it) in input.items.iter_mut().enumerate() {
        it.quantity = num(format!("items[{i}].quantity"), &f.quantity[i]);
        it.unit_price = Some(num(format!("items[{i}].unit_price"), &f.unit_price[i]));
    }
    input.shipping_fee = num("shipping_fee".into(), &f.shipping_fee);
    input.fee = num("fee".into(), &f.fee);
    input.discount = num("discount".into(), &f.discount);
    if !bad.is_empty() {
        st.invalid(bad, n);
        return unprocessable(order_page(&s, &sess, o, Some(st), None, &none).await);
    }
    if f.op != "save" {
        match input.validate() {
            Ok(draft) => st.preview = Some(totals_ctx(&draft.totals)),
            Err(i) => st.invalid(i, n),
        }
        let failed = !st.errors.is_empty() || !st.other_errors.is_empty();
        let page = order_page(&s, &sess, o, Some(st), None, &none).await;
        return if failed { unprocessable(page) } else { page };
    }
    let patch = orders::OrderPatch {
        version: st.version,
        items: Some(input.items.clone()),
        discount: Some(input.discount),
        shipping_fee: Some(input.shipping_fee),
        fee: Some(input.fee),
        ..orders::OrderPatch::default()
    };
    match orders::edit(&s.app, &sess.actor, number, patch).await {
        Ok(saved) => {
            let msg = format!(
                "受注内容を保存しました（お支払い合計: {}）",
                yen(saved.draft.totals.payment_total.get())
            );
            Redirect::to(&format!(
                "/admin/orders/{number}?done={}",
                super::url_escape(&msg)
            ))
            .into_response()
        }
        Err(AppError::Invalid(i)) => {
            st.invalid(i, n);
            unprocessable(order_page(&s, &sess, o, Some(st), None, &none).await)
        }
        Err(e @ (AppError::Stale { .. } | AppError::Refused(_) | AppError::Conflict { .. })) => {
            st.alert = Some(e.to_string());
            let mut r = order_page(&s, &sess, o, Some(st), None, &none).await;
            *r.status_mut() = crate::error::status_of(&e);
            r
        }
        Err(e) => error_page(&s, &e),
    }
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
                            classes => classes(&v.draft.class1, &v.draft.class2),
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
    match stock::list(&s.app, &sess.actor, all).await {
        Ok(lines) => {
            let rows: Vec<_> = lines
                .iter()
                .map(|l| {
                    context! {
                        id => l.id, number => l.order_number, code => l.product_code.clone(), name => l.product_name.clone(),
                        classes => classes(&l.class1, &l.class2),
                        quantity => l.quantity, created_at => format_jst_minute(l.created_at),
                        returned => l.returned_at.map(format_jst_minute), returned_by => l.returned_by.clone(),
                    }
                })
                .collect();
            s.ui.render(
                "cancelled_stock.html",
                page_ctx(
                    base(&sess, "cancelled_stock"),
                    context! { rows => rows, all => all, done => p.done },
                ),
            )
        }
        Err(e) => error_page(&s, &e),
    }
}

pub async fn return_stock(
    State(s): State<AppState>,
    sess: Session,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = csrf_refusal(&s, &sess, &f.csrf) {
        return r;
    }
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
    match juchu_app::payments::notices(&s.app, &sess.actor, refused).await {
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

pub async fn settings(State(s): State<AppState>, sess: Session) -> Response {
    settings_page(&s, &sess, BTreeMap::new(), None, None).await
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
    csrf: String,
    email: String,
}

/// 基本設定 > ショップ: the shop's mail address (admins only; the app refuses others).
pub async fn shop_mail(
    State(s): State<AppState>,
    sess: Session,
    Form(f): Form<ShopMailForm>,
) -> Response {
    if let Some(r) = csrf_refusal(&s, &sess, &f.csrf) {
        return r;
    }
    let r = juchu_app::mail::set_shop_email(&s.app, &sess.actor, &f.email)
        .await
        .map(|e| format!("メールアドレスを {e} にしました"));
    settings_after(&s, &sess, r, None).await
}

#[derive(Deserialize)]
pub struct PaymentSettingsForm {
    csrf: String,
    #[serde(default)]
    auto_status: Option<String>,
    paygent_fee: String,
}

/// 基本設定 > 決済: automatic order status after payment operations, and the Paygent fee
/// (admins only; the app refuses others).
pub async fn payment_settings(
    State(s): State<AppState>,
    sess: Session,
    Form(f): Form<PaymentSettingsForm>,
) -> Response {
    if let Some(r) = csrf_refusal(&s, &sess, &f.csrf) {
        return r;
    }
    let saved = match juchu_domain::input::parse_int("paygent_fee", &f.paygent_fee) {
        Ok(fee) => {
            let new = juchu_store::payments::Settings {
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
    sess: Session,
    Form(f): Form<NewUserForm>,
) -> Response {
    if let Some(r) = csrf_refusal(&s, &sess, &f.csrf) {
        return r;
    }
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
    Query(p): Query<crate::api::orders::CsvParams>,
    Query(q): Query<SearchInput>,
) -> Response {
    match crate::api::orders::csv_response(&s, &sess.actor, &q, p.encoding.as_deref()).await {
        Ok(r) => r,
        Err(e) => error_page(&s, &e.0),
    }
}

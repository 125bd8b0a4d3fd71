//! 受注編集 and 新規受注入力: one form for every field of an order — 注文者, お届け先, 商品
//! (with a product search), 送料・手数料・値引き, ポイント, 支払方法, 備考, 発送 — checked
//! beside each field. 計算結果の確認 shows the totals the order would have without storing
//! anything; 保存 stores it with the version the operator started from, so a save over
//! someone else's change is refused with what to do.
//!
//! The form carries its whole state (the lines included) in its fields: adding or removing
//! a line, searching products or loading a member re-renders it without storing anything.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use juchu_app::orders::{self, Intake, OrderPatch};
use juchu_app::{AppError, catalog, customers};
use juchu_domain::Invalid;
use juchu_domain::customer::{PREFECTURES, PersonInput};
use juchu_domain::input::parse_int;
use juchu_domain::order::{ItemInput, Order, OrderInput};
use juchu_domain::payment_method::PaymentMethod;
use juchu_domain::status::OrderStatus;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::CsrfForm;
use super::order::totals_ctx;
use super::pages::{base, page_ctx, unprocessable, yen};
use super::{Session, error_page, url_escape};
use crate::AppState;

/// Everything the form sends. Text as typed: numbers and dates are read (full-width digits,
/// `2024/08/19` or `2024-08-19`) when the form is checked.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct OrderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    /// `preview` (計算結果の確認), `save`, `search` (商品検索), `add_code`, `member_search`,
    /// `load_member`
    #[serde(default)]
    op: String,
    /// A search result's 追加 button: the variant code.
    #[serde(default)]
    add: Option<String>,
    /// A line's 削除 button: its index.
    #[serde(default)]
    remove: Option<String>,
    /// A member search result's 選択 button: the member id.
    #[serde(default)]
    pick: Option<String>,
    #[serde(default)]
    product_q: String,
    #[serde(default)]
    add_code: String,
    #[serde(default)]
    member_q: String,

    #[serde(default)]
    status: String,
    #[serde(default)]
    customer_id: String,
    #[serde(default)]
    customer_family_name: String,
    #[serde(default)]
    customer_given_name: String,
    #[serde(default)]
    customer_family_kana: String,
    #[serde(default)]
    customer_given_kana: String,
    #[serde(default)]
    customer_company: String,
    #[serde(default)]
    customer_postal_code: String,
    #[serde(default)]
    customer_prefecture: String,
    #[serde(default)]
    customer_address1: String,
    #[serde(default)]
    customer_address2: String,
    #[serde(default)]
    customer_tel: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    sex: String,
    /// 「注文者と同じ」: the delivery fields are ignored.
    #[serde(default)]
    delivery_same: Option<String>,
    #[serde(default)]
    delivery_family_name: String,
    #[serde(default)]
    delivery_given_name: String,
    #[serde(default)]
    delivery_family_kana: String,
    #[serde(default)]
    delivery_given_kana: String,
    #[serde(default)]
    delivery_company: String,
    #[serde(default)]
    delivery_postal_code: String,
    #[serde(default)]
    delivery_prefecture: String,
    #[serde(default)]
    delivery_address1: String,
    #[serde(default)]
    delivery_address2: String,
    #[serde(default)]
    delivery_tel: String,
    #[serde(default)]
    delivery_date: String,
    #[serde(default)]
    delivery_time: String,

    #[serde(default)]
    item_code: Vec<String>,
    #[serde(default)]
    item_name: Vec<String>,
    #[serde(default)]
    item_class1: Vec<String>,
    #[serde(default)]
    item_class2: Vec<String>,
    #[serde(default)]
    item_price: Vec<String>,
    #[serde(default)]
    item_qty: Vec<String>,
    #[serde(default)]
    item_rate: Vec<String>,

    #[serde(default)]
    shipping_fee: String,
    #[serde(default)]
    fee: String,
    #[serde(default)]
    discount: String,
    #[serde(default)]
    points_used: String,
    #[serde(default)]
    points_earned: String,
    #[serde(default)]
    payment_method: String,
    #[serde(default)]
    remarks: String,
    #[serde(default)]
    memo: String,
    #[serde(default)]
    shipped_on: String,
    #[serde(default)]
    tracking_number: String,
}

impl OrderForm {
    fn customer(&self) -> PersonInput {
        PersonInput {
            family_name: self.customer_family_name.clone(),
            given_name: self.customer_given_name.clone(),
            family_kana: self.customer_family_kana.clone(),
            given_kana: self.customer_given_kana.clone(),
            company: self.customer_company.clone(),
            postal_code: self.customer_postal_code.clone(),
            prefecture: self.customer_prefecture.clone(),
            address1: self.customer_address1.clone(),
            address2: self.customer_address2.clone(),
            tel: self.customer_tel.clone(),
        }
    }

    fn delivery(&self) -> PersonInput {
        PersonInput {
            family_name: self.delivery_family_name.clone(),
            given_name: self.delivery_given_name.clone(),
            family_kana: self.delivery_family_kana.clone(),
            given_kana: self.delivery_given_kana.clone(),
            company: self.delivery_company.clone(),
            postal_code: self.delivery_postal_code.clone(),
            prefecture: self.delivery_prefecture.clone(),
            address1: self.delivery_address1.clone(),
            address2: self.delivery_address2.clone(),
            tel: self.delivery_tel.clone(),
        }
    }

    fn set_customer(&mut self, p: PersonInput) {
        self.customer_family_name = p.family_name;
        self.customer_given_name = p.given_name;
        self.customer_family_kana = p.family_kana;
        self.customer_given_kana = p.given_kana;
        self.customer_company = p.company;
        self.customer_postal_code = p.postal_code;
        self.customer_prefecture = p.prefecture;
        self.customer_address1 = p.address1;
        self.customer_address2 = p.address2;
        self.customer_tel = p.tel;
    }

    fn set_delivery(&mut self, p: PersonInput) {
        self.delivery_family_name = p.family_name;
        self.delivery_given_name = p.given_name;
        self.delivery_family_kana = p.family_kana;
        self.delivery_given_kana = p.given_kana;
        self.delivery_company = p.company;
        self.delivery_postal_code = p.postal_code;
        self.delivery_prefecture = p.prefecture;
        self.delivery_address1 = p.address1;
        self.delivery_address2 = p.address2;
        self.delivery_tel = p.tel;
    }

    fn lines(&self) -> usize {
        self.item_code.len()
    }

    /// The lines the form sent, each list padded so a short list never panics.
    fn normalize_lines(&mut self) {
        let n = self.item_code.len();
        for v in [
            &mut self.item_name,
            &mut self.item_class1,
            &mut self.item_class2,
            &mut self.item_price,
            &mut self.item_qty,
            &mut self.item_rate,
        ] {
            v.resize(n, String::new());
        }
    }

    fn push_line(&mut self, i: &ItemInput) {
        self.item_code.push(i.product_code.clone());
        self.item_name
            .push(i.product_name.clone().unwrap_or_default());
        self.item_class1.push(i.class1.clone().unwrap_or_default());
        self.item_class2.push(i.class2.clone().unwrap_or_default());
        self.item_price
            .push(i.unit_price.map(|p| p.to_string()).unwrap_or_default());
        self.item_qty.push(i.quantity.to_string());
        self.item_rate
            .push(i.tax_rate.map(|r| r.to_string()).unwrap_or_default());
    }

    fn remove_line(&mut self, n: usize) {
        for v in [
            &mut self.item_code,
            &mut self.item_name,
            &mut self.item_class1,
            &mut self.item_class2,
            &mut self.item_price,
            &mut self.item_qty,
            &mut self.item_rate,
        ] {
            if n < v.len() {
                v.remove(n);
            }
        }
    }

    /// The form filled from a stored order.
    fn of(o: &Order) -> OrderForm {
        let i = o.draft.to_input();
        let mut f = OrderForm {
            version: o.version.to_string(),
            status: o.draft.status.code().to_owned(),
            customer_id: i.customer_id.map(|c| c.to_string()).unwrap_or_default(),
            email: i.email.clone(),
            birth_date: o
                .draft
                .birth_date
                .map(juchu_domain::time::format_date)
                .unwrap_or_default(),
            sex: i.sex.clone().unwrap_or_default(),
            delivery_date: o
                .draft
                .delivery_date
                .map(juchu_domain::time::format_date)
                .unwrap_or_default(),
            delivery_time: i.delivery_time.clone().unwrap_or_default(),
            shipping_fee: i.shipping_fee.to_string(),
            fee: i.fee.to_string(),
            discount: i.discount.to_string(),
            points_used: i.points_used.to_string(),
            points_earned: i.points_earned.to_string(),
            payment_method: i.payment_method.clone(),
            remarks: i.remarks.clone(),
            memo: i.memo.clone(),
            shipped_on: o
                .draft
                .shipped_on
                .map(juchu_domain::time::format_date)
                .unwrap_or_default(),
            tracking_number: i.tracking_number.clone(),
            ..OrderForm::default()
        };
        f.set_customer(i.customer.clone());
        if o.draft.delivery == o.draft.customer {
            f.delivery_same = Some("1".to_owned());
        } else {
            f.set_delivery(o.draft.delivery.to_input());
        }
        for it in &i.items {
            f.push_line(it);
        }
        f
    }

    /// A new order's empty form: 新規受付, one empty line to type a code into.
    fn blank() -> OrderForm {
        OrderForm {
            status: OrderStatus::New.code().to_owned(),
            delivery_same: Some("1".to_owned()),
            shipping_fee: "0".to_owned(),
            fee: "0".to_owned(),
            discount: "0".to_owned(),
            points_used: "0".to_owned(),
            points_earned: "0".to_owned(),
            ..OrderForm::default()
        }
    }

    /// What the form says, as the domain's input; numbers that do not read are reported
    /// beside their fields and read as 0 so the rest is still checked.
    fn input(&self, bad: &mut Invalid) -> OrderInput {
        let mut num = |field: String, v: &str| {
            let v = if v.trim().is_empty() { "0" } else { v };
            bad.take(parse_int(&field, v)).unwrap_or_default()
        };
        let mut items = Vec::with_capacity(self.lines());
        for n in 0..self.lines() {
            let text = |v: &[String]| v.get(n).map(|s| s.trim().to_owned()).unwrap_or_default();
            let price = text(&self.item_price);
            let rate = text(&self.item_rate);
            items.push(ItemInput {
                product_code: text(&self.item_code),
                product_name: Some(text(&self.item_name)).filter(|s| !s.is_empty()),
                class1: Some(text(&self.item_class1)),
                class2: Some(text(&self.item_class2)),
                unit_price: if price.is_empty() {
                    None
                } else {
                    Some(num(format!("items[{n}].unit_price"), &price))
                },
                quantity: num(format!("items[{n}].quantity"), &text(&self.item_qty)),
                tax_rate: if rate.is_empty() {
                    None
                } else {
                    Some(num(format!("items[{n}].tax_rate"), &rate))
                },
            });
        }
        let customer_id = match self.customer_id.trim() {
            "" => None,
            v => Some(num("customer_id".into(), v)),
        };
        let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let customer = self.customer();
        OrderInput {
            customer_id,
            delivery: if self.delivery_same.is_some() {
                Some(customer.clone())
            } else {
                Some(self.delivery())
            },
            customer,
            email: self.email.trim().to_owned(),
            birth_date: opt(&self.birth_date),
            sex: opt(&self.sex),
            delivery_date: opt(&self.delivery_date),
            delivery_time: opt(&self.delivery_time),
            items,
            discount: num("discount".into(), &self.discount),
            shipping_fee: num("shipping_fee".into(), &self.shipping_fee),
            fee: num("fee".into(), &self.fee),
            points_used: num("points_used".into(), &self.points_used),
            points_earned: num("points_earned".into(), &self.points_earned),
            payment_method: self.payment_method.trim().to_owned(),
            status: opt(&self.status),
            remarks: self.remarks.clone(),
            memo: self.memo.clone(),
            ordered_at: None,
            shipped_on: opt(&self.shipped_on),
            tracking_number: self.tracking_number.trim().to_owned(),
            gateway_ref: String::new(),
            device: Some("admin".to_owned()),
            ip: String::new(),
        }
    }
}

/// Which order the form is for.
#[derive(Clone, Copy)]
enum Target<'a> {
    New,
    Edit(&'a Order),
}

/// What the page shows beside the form.
#[derive(Default)]
struct Shown {
    errors: BTreeMap<String, String>,
    /// Errors on fields the form has no place for.
    other: Vec<String>,
    alert: Option<String>,
    preview: Option<minijinja::Value>,
    products: Option<Vec<minijinja::Value>>,
    members: Option<Vec<minijinja::Value>>,
    note: Option<String>,
}

impl Shown {
    /// Field errors go beside their fields when the form has them, else in the list above.
    fn invalid(&mut self, i: Invalid, f: &OrderForm) {
        for e in i.0 {
            if shown_field(&e.field, f.lines()) {
                self.errors.entry(e.field).or_insert(e.message);
            } else {
                self.other.push(e.message);
            }
        }
    }
}

const PERSON: [&str; 10] = [
    "family_name",
    "given_name",
    "family_kana",
    "given_kana",
    "company",
    "postal_code",
    "prefecture",
    "address1",
    "address2",
    "tel",
];

fn shown_field(field: &str, lines: usize) -> bool {
    const TOP: [&str; 19] = [
        "customer_id",
        "email",
        "birth_date",
        "sex",
        "delivery_date",
        "delivery_time",
        "items",
        "discount",
        "shipping_fee",
        "fee",
        "points_used",
        "points_earned",
        "payment_method",
        "status",
        "remarks",
        "memo",
        "shipped_on",
        "tracking_number",
        "add_code",
    ];
    if TOP.contains(&field) {
        return true;
    }
    for p in ["customer", "delivery"] {
        if PERSON.iter().any(|x| field == format!("{p}.{x}")) {
            return true;
        }
    }
    (0..lines).any(|n| {
        [
            "product_code",
            "product_name",
            "class1",
            "class2",
            "unit_price",
            "quantity",
            "tax_rate",
        ]
        .iter()
        .any(|x| field == format!("items[{n}].{x}"))
    })
}

async fn render(s: &AppState, sess: &Session, t: Target<'_>, f: &OrderForm, sh: Shown) -> Response {
    let (number, current, paid) = match t {
        Target::New => (None, None, None),
        Target::Edit(o) => {
            let paid = match juchu_app::payments::view(&s.app, &sess.actor, o.number).await {
                Ok(p) => p.map(|p| p.amount),
                Err(e) => return error_page(s, &e),
            };
            (Some(o.number), Some(totals_ctx(&o.draft.totals)), paid)
        }
    };
    let methods: Vec<_> = PaymentMethod::ALL
        .iter()
        .map(|m| context! { code => m.code(), label => m.label() })
        .collect();
    let statuses: Vec<_> = OrderStatus::ALL
        .iter()
        .filter(|st| st.operator_settable())
        .map(|st| context! { code => st.code(), label => st.label() })
        .collect();
    let lines: Vec<_> = (0..f.lines())
        .map(|n| {
            let g = |v: &Vec<String>| v.get(n).cloned().unwrap_or_default();
            context! {
                n => n, code => g(&f.item_code), name => g(&f.item_name), class1 => g(&f.item_class1),
                class2 => g(&f.item_class2), price => g(&f.item_price), qty => g(&f.item_qty), rate => g(&f.item_rate),
            }
        })
        .collect();
    let menu = if number.is_some() {
        "orders"
    } else {
        "order_new"
    };
    s.ui.render(
        "order_form.html",
        page_ctx(
            base(sess, menu),
            context! {
                number => number, f => f, lines => lines, current => current, has_payment => paid.is_some(),
                paid => paid.map(yen), paid_value => paid,
                payment_label => PaymentMethod::from_code(&f.payment_method).map(|m| m.label()),
                methods => methods, statuses => statuses, prefectures => PREFECTURES.to_vec(),
                errors => sh.errors, other_errors => sh.other, alert => sh.alert, preview => sh.preview,
                products => sh.products, members => sh.members, note => sh.note,
                person_fields => PERSON.to_vec(),
            },
        ),
    )
}

/// 受注編集: the form filled from the order.
pub async fn edit_page(
    State(s): State<AppState>,
    sess: Session,
    Path(number): Path<i64>,
) -> Response {
    let o = match orders::get(&s.app, &sess.actor, number).await {
        Ok(o) => o,
        Err(e) => return error_page(&s, &e),
    };
    if let Err(r) = o.standing().can_edit() {
        return error_page(&s, &AppError::Refused(r));
    }
    render(
        &s,
        &sess,
        Target::Edit(&o),
        &OrderForm::of(&o),
        Shown::default(),
    )
    .await
}

/// 新規受注入力: an empty form.
pub async fn new_page(State(s): State<AppState>, sess: Session) -> Response {
    render(
        &s,
        &sess,
        Target::New,
        &OrderForm::blank(),
        Shown::default(),
    )
    .await
}

pub async fn edit_post(
    State(s): State<AppState>,
    Path(number): Path<i64>,
    CsrfForm(sess, f): CsrfForm<OrderForm>,
) -> Response {
    let o = match orders::get(&s.app, &sess.actor, number).await {
        Ok(o) => o,
        Err(e) => return error_page(&s, &e),
    };
    handle(&s, &sess, Target::Edit(&o), f).await
}

pub async fn new_post(
    State(s): State<AppState>,
    CsrfForm(sess, f): CsrfForm<OrderForm>,
) -> Response {
    handle(&s, &sess, Target::New, f).await
}

// Long: the order form's buttons (add / remove line, recalculate, save) share one form state.
async fn handle(s: &AppState, sess: &Session, t: Target<'_>, mut f: OrderForm) -> Response {
    f.normalize_lines();
    let mut sh = Shown::default();
    // The buttons that change the form, not the order.
    if let Some(n) = f.remove.take() {
        if let Ok(n) = n.trim().parse::<usize>() {
            f.remove_line(n);
        }
        return render(s, sess, t, &f, sh).await;
    }
    if let Some(code) = f.add.take() {
        add_product(s, sess, &mut f, &mut sh, code.trim(), "add_code").await;
        return render(s, sess, t, &f, sh).await;
    }
    if let Some(id) = f.pick.take() {
        load_member(s, sess, &mut f, &mut sh, id.trim()).await;
        return render(s, sess, t, &f, sh).await;
    }
    match f.op.as_str() {
        "search" => {
            sh.products = Some(search_products(s, sess, &f.product_q, &mut sh).await);
            return render(s, sess, t, &f, sh).await;
        }
        "add_code" => {
            let code = f.add_code.trim().to_owned();
            if add_product(s, sess, &mut f, &mut sh, &code, "add_code").await {
                f.add_code.clear();
            }
            return render(s, sess, t, &f, sh).await;
        }
        "member_search" => {
            sh.members = Some(search_members(s, sess, &f.member_q, &mut sh).await);
            return render(s, sess, t, &f, sh).await;
        }
        "load_member" => {
            let id = f.customer_id.trim().to_owned();
            load_member(s, sess, &mut f, &mut sh, &id).await;
            return render(s, sess, t, &f, sh).await;
        }
        _ => {}
    }
    let mut bad = Invalid::default();
    let input = f.input(&mut bad);
    if !bad.is_empty() {
        sh.invalid(bad, &f);
        return unprocessable(render(s, sess, t, &f, sh).await);
    }
    if f.op != "save" {
        // 計算結果の確認: the domain's own check and totals, nothing stored.
        match input.clone().validate() {
            Ok(d) => sh.preview = Some(totals_ctx(&d.totals)),
            Err(i) => sh.invalid(i, &f),
        }
        let failed = !sh.errors.is_empty() || !sh.other.is_empty();
        let page = render(s, sess, t, &f, sh).await;
        return if failed { unprocessable(page) } else { page };
    }
    let saved = match t {
        Target::New => orders::create(&s.app, &sess.actor, input, Intake::Manual)
            .await
            .map(|o| {
                (
                    o.number,
                    format!(
                        "受注を登録しました（注文番号 {}、お支払い合計: {}）",
                        o.number,
                        yen(o.draft.totals.payment_total.get())
                    ),
                )
            }),
        Target::Edit(o) => {
            let patch = OrderPatch {
                // A version that does not read as one is refused as stale, never saved over.
                version: f.version.trim().parse().unwrap_or(0),
                customer: Some(input.customer),
                email: Some(input.email),
                birth_date: Some(input.birth_date.unwrap_or_default()),
                sex: Some(input.sex.unwrap_or_default()),
                delivery: input.delivery,
                delivery_date: Some(input.delivery_date.unwrap_or_default()),
                delivery_time: Some(input.delivery_time.unwrap_or_default()),
                items: Some(input.items),
                discount: Some(input.discount),
                shipping_fee: Some(input.shipping_fee),
                fee: Some(input.fee),
                points_used: Some(input.points_used),
                points_earned: Some(input.points_earned),
                payment_method: Some(input.payment_method),
                remarks: Some(input.remarks),
                memo: Some(input.memo),
                shipped_on: Some(input.shipped_on.unwrap_or_default()),
                tracking_number: Some(input.tracking_number),
                gateway_ref: None,
            };
            orders::edit(&s.app, &sess.actor, o.number, patch)
                .await
                .map(|o| {
                    (
                        o.number,
                        format!(
                            "受注内容を保存しました（お支払い合計: {}）",
                            yen(o.draft.totals.payment_total.get())
                        ),
                    )
                })
        }
    };
    match saved {
        Ok((number, msg)) => {
            Redirect::to(&format!("/admin/orders/{number}?done={}", url_escape(&msg)))
                .into_response()
        }
        Err(AppError::Invalid(i)) => {
            sh.invalid(i, &f);
            unprocessable(render(s, sess, t, &f, sh).await)
        }
        Err(e @ (AppError::Stale { .. } | AppError::Refused(_) | AppError::Conflict { .. })) => {
            let status = crate::error::status_of(&e);
            sh.alert = Some(crate::error::public_message(&e));
            let mut r = render(s, sess, t, &f, sh).await;
            *r.status_mut() = status;
            r
        }
        Err(e) => error_page(s, &e),
    }
}

/// The catalogue's variants matching what the operator typed (code or name), for 追加.
async fn search_products(
    s: &AppState,
    sess: &Session,
    q: &str,
    sh: &mut Shown,
) -> Vec<minijinja::Value> {
    match catalog::list(&s.app, &sess.actor, q.trim(), 1, 20).await {
        Ok((_, products)) => products
            .iter()
            .flat_map(|p| {
                p.variants.iter().map(move |v| {
                    context! {
                        code => v.draft.code.clone(), name => p.name.clone(),
                        classes => [v.draft.class1.as_str(), v.draft.class2.as_str()].iter().filter(|c| !c.is_empty()).copied().collect::<Vec<_>>().join(" / "),
                        price => yen(v.draft.price.get()), rate => format!("{}%", v.draft.tax_rate.percent()),
                        stock => v.draft.stock.map(juchu_domain::money::group).unwrap_or_else(|| "無制限".to_owned()),
                    }
                })
            })
            .collect(),
        Err(e) => {
            sh.alert = Some(crate::error::public_message(&e));
            vec![]
        }
    }
}

/// Add a line for the variant `code` with the catalogue's name, price and tax rate; a
/// code already on the order adds one to that line instead. False when there is no such
/// product (reported beside `field`).
async fn add_product(
    s: &AppState,
    sess: &Session,
    f: &mut OrderForm,
    sh: &mut Shown,
    code: &str,
    field: &str,
) -> bool {
    if code.is_empty() {
        sh.errors
            .insert(field.to_owned(), "商品コードを入力してください".to_owned());
        return false;
    }
    if let Some(n) = f.item_code.iter().position(|c| c.trim() == code) {
        let q = parse_int("q", &f.item_qty[n]).unwrap_or(0);
        f.item_qty[n] = (q + 1).to_string();
        sh.note = Some(format!("{code} の数量を1つ増やしました"));
        return true;
    }
    let found = match catalog::list(&s.app, &sess.actor, code, 1, 50).await {
        Ok((_, products)) => products.into_iter().find_map(|p| {
            p.variants
                .iter()
                .find(|v| v.draft.code == code)
                .map(|v| ItemInput {
                    product_code: v.draft.code.clone(),
                    product_name: Some(p.name.clone()),
                    class1: Some(v.draft.class1.clone()),
                    class2: Some(v.draft.class2.clone()),
                    unit_price: Some(v.draft.price.get()),
                    quantity: 1,
                    tax_rate: Some(v.draft.tax_rate.percent()),
                })
        }),
        Err(e) => {
            sh.alert = Some(crate::error::public_message(&e));
            return false;
        }
    };
    match found {
        Some(item) => {
            f.push_line(&item);
            sh.note = Some(format!(
                "{}（{code}）を追加しました",
                item.product_name.unwrap_or_default()
            ));
            true
        }
        None => {
            sh.errors.insert(
                field.to_owned(),
                format!("商品コード「{code}」の商品はありません"),
            );
            false
        }
    }
}

async fn search_members(
    s: &AppState,
    sess: &Session,
    q: &str,
    sh: &mut Shown,
) -> Vec<minijinja::Value> {
    match customers::search(&s.app, &sess.actor, q.trim(), 1, 20).await {
        Ok((_, list)) => list
            .iter()
            .map(|c| {
                context! {
                    id => c.id, name => c.draft.person.full_name(), kana => c.draft.person.full_kana(),
                    email => c.draft.email.clone(), tel => c.draft.person.tel.clone(),
                    points => juchu_domain::money::group(c.points),
                }
            })
            .collect(),
        Err(e) => {
            sh.alert = Some(crate::error::public_message(&e));
            vec![]
        }
    }
}

/// Fill the 注文者 fields from the member `id`.
async fn load_member(s: &AppState, sess: &Session, f: &mut OrderForm, sh: &mut Shown, id: &str) {
    let id = match parse_int("customer_id", id) {
        Ok(id) => id,
        Err(i) => {
            sh.invalid(i, f);
            return;
        }
    };
    match customers::get(&s.app, &sess.actor, id).await {
        Ok(c) => {
            f.customer_id = c.id.to_string();
            f.set_customer(c.draft.person.to_input());
            f.email = c.draft.email.clone();
            f.birth_date = c
                .draft
                .birth_date
                .map(juchu_domain::time::format_date)
                .unwrap_or_default();
            f.sex = c.draft.sex.map(|x| x.code().to_owned()).unwrap_or_default();
            sh.note = Some(format!(
                "会員ID {} {} 様の情報を読み込みました（ポイント残高 {}pt）",
                c.id,
                c.draft.person.full_name(),
                juchu_domain::money::group(c.points)
            ));
        }
        Err(AppError::NotFound(_)) => {
            sh.errors.insert(
                "customer_id".to_owned(),
                format!("会員ID {id} の会員はいません"),
            );
        }
        Err(e) => sh.alert = Some(crate::error::public_message(&e)),
    }
}

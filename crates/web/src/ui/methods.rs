//! 基本設定 > 支払方法設定 (`/admin/settings/payment-methods`): the list of payment methods
//! and each one's form, the gateways' credentials (masked; only what is typed is changed),
//! and 配送方法 with the payment methods each lists. Every form carries the session's CSRF
//! token; field errors are shown beside their fields (422), success says what changed.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use juchu_app::AppError;
use juchu_app::methods::{
    self, DeliveryInput, DeliveryMethod, MethodInput, MethodSettings, capture_label, has_capture,
    has_card_options, has_due_days, installment_label,
};
use juchu_domain::input::parse_int;
use juchu_domain::payment::{AttemptControl, CaptureMode};
use juchu_domain::payment_method::{Gateway, PaymentMethod};
use juchu_domain::{FieldError, Invalid};
use minijinja::context;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::error_page;
use super::pages::{base, page_ctx, unprocessable};
use super::{CsrfForm, Session};
use crate::AppState;
use crate::extract::Query;

type Errors = BTreeMap<String, String>;

fn errors_of(i: Invalid, prefix: &str) -> Errors {
    i.0.into_iter()
        .map(|e| (format!("{prefix}{}", e.field), e.message))
        .collect()
}

/// A delivery method that lists a payment method; `offered` false when it has no fixed 送料
/// and the method goes through a gateway (it is listed, but not shown at checkout).
#[derive(Serialize)]
struct Listed {
    name: String,
    offered: bool,
}

#[derive(Serialize)]
struct MethodRow {
    code: &'static str,
    label: &'static str,
    display_name: String,
    enabled: bool,
    capture: &'static str,
    installments: String,
    three_ds: &'static str,
    condition: String,
    deliveries: Vec<Listed>,
    updated: String,
}

fn method_row(s: &MethodSettings, ds: &[DeliveryMethod]) -> MethodRow {
    let m = s.method;
    MethodRow {
        code: m.code(),
        label: m.label(),
        display_name: s.display_name.clone(),
        enabled: s.enabled,
        capture: if !has_capture(m) {
            "—"
        } else if s.capture == CaptureMode::AuthOnly {
            "オーソリのみ"
        } else {
            "オーソリ＋売上"
        },
        installments: if has_card_options(m) {
            s.installments
                .iter()
                .map(|c| installment_label(c))
                .collect::<Vec<_>>()
                .join("・")
        } else {
            "—".to_owned()
        },
        three_ds: match (has_card_options(m), s.three_ds) {
            (false, _) => "—",
            (true, true) => "利用する",
            (true, false) => "利用しない",
        },
        condition: s.condition_label(),
        deliveries: ds
            .iter()
            .filter(|d| d.payment_methods.contains(&m))
            .map(|d| Listed {
                name: d.name.clone(),
                offered: d.fee.is_some() || m.gateway().is_none(),
            })
            .collect(),
        updated: s
            .updated_at
            .map(|t| {
                format!(
                    "{} {}",
                    juchu_domain::time::format_jst_minute(t),
                    s.updated_by
                )
            })
            .unwrap_or_default(),
    }
}

/// The delivery form's values, as shown (a delivery being edited, or what was typed).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DeliveryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    /// `fixed` (送料) or `quote` (送料別途見積).
    #[serde(default)]
    fee_kind: String,
    #[serde(default)]
    fee: String,
    #[serde(default)]
    payment_methods: Vec<String>,
    #[serde(default)]
    position: String,
}

impl DeliveryForm {
    fn of(d: &DeliveryMethod) -> DeliveryForm {
        DeliveryForm {
            csrf: String::new(),
            id: d.id.to_string(),
            name: d.name.clone(),
            fee_kind: if d.fee.is_some() { "fixed" } else { "quote" }.to_owned(),
            fee: d.fee.map(|f| f.to_string()).unwrap_or_default(),
            payment_methods: d
                .payment_methods
                .iter()
                .map(|m| m.code().to_owned())
                .collect(),
            position: d.position.to_string(),
        }
    }

    fn blank() -> DeliveryForm {
        DeliveryForm {
            fee_kind: "fixed".to_owned(),
            ..DeliveryForm::default()
        }
    }
}

/// What the list page shows besides its tables.
#[derive(Default)]
struct Shown {
    done: Option<String>,
    errors: Errors,
    delivery: Option<DeliveryForm>,
    /// The gateway whose form the errors are about, and what was typed (ids only).
    cred_form: Option<(Gateway, BTreeMap<String, String>)>,
}

#[derive(Deserialize)]
pub struct PageQ {
    /// A delivery method to edit in the form.
    delivery: Option<i64>,
}

pub async fn page(State(s): State<AppState>, sess: Session, Query(q): Query<PageQ>) -> Response {
    let delivery = match q.delivery {
        Some(id) => match methods::delivery(&s.app, sess.actor.shop_id, id).await {
            Ok(d) => Some(DeliveryForm::of(&d)),
            Err(e) => return error_page(&s, &e),
        },
        None => None,
    };
    list_page(
        &s,
        &sess,
        Shown {
            delivery,
            ..Shown::default()
        },
    )
    .await
}

async fn list_page(s: &AppState, sess: &Session, shown: Shown) -> Response {
    let actor = &sess.actor;
    let settings = match methods::list(&s.app, actor).await {
        Ok(x) => x,
        Err(e) => return error_page(s, &e),
    };
    let ds = match methods::deliveries(&s.app, actor.shop_id).await {
        Ok(x) => x,
        Err(e) => return error_page(s, &e),
    };
    let creds = if actor.is_admin {
        match juchu_app::credentials::credentials_view(&s.app, actor).await {
            Ok(x) => x,
            Err(e) => return error_page(s, &e),
        }
    } else {
        vec![]
    };
    let rows: Vec<MethodRow> = settings.iter().map(|m| method_row(m, &ds)).collect();
    let delivery_rows: Vec<_> = ds
        .iter()
        .map(|d| {
            context! {
                id => d.id, name => d.name.clone(), position => d.position,
                fee => d.fee.map(juchu_domain::money::yen).unwrap_or_else(|| "送料別途見積".to_owned()),
                quote => d.fee.is_none(),
                methods => d.payment_methods.iter().map(|m| m.label()).collect::<Vec<_>>(),
            }
        })
        .collect();
    let creds: Vec<_> = creds
        .iter()
        .map(|c| {
            let typed = shown
                .cred_form
                .as_ref()
                .filter(|(g, _)| *g == c.gateway)
                .map(|(_, t)| t);
            context! {
                gateway => c.gateway.code(),
                name => c.name, configured => c.configured,
                updated => c.updated_at.map(|t| format!("{} {}", juchu_domain::time::format_jst_minute(t), c.updated_by)).unwrap_or_default(),
                fields => c.fields.iter().map(|f| context! {
                    name => f.name, label => f.label, secret => f.secret, required => f.required,
                    set => f.set, shown => f.shown.clone(),
                    // Ids are prefilled (the current one, or what was typed); secrets never.
                    value => if f.secret { String::new() } else {
                        typed.and_then(|t| t.get(f.name).cloned()).unwrap_or_else(|| f.shown.clone())
                    },
                }).collect::<Vec<_>>(),
            }
        })
        .collect();
    let editing = shown.delivery.is_some();
    let dform = shown.delivery.unwrap_or_else(DeliveryForm::blank);
    let all_methods: Vec<_> = PaymentMethod::ALL
        .iter()
        .map(|m| {
            context! {
                code => m.code(), label => m.label(), online => m.gateway().is_some(),
                checked => dform.payment_methods.iter().any(|c| c == m.code()),
            }
        })
        .collect();
    s.ui.render(
        "payment_methods.html",
        page_ctx(
            base(sess, "payment_methods"),
            context! {
                rows => rows, deliveries => delivery_rows, creds => creds,
                done => shown.done, errors => shown.errors,
                dform => dform, editing => editing, all_methods => all_methods,
            },
        ),
    )
}

/// The method form's values as shown.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MethodForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    capture: String,
    #[serde(default)]
    installments: Vec<String>,
    #[serde(default)]
    installments_note: String,
    #[serde(default)]
    three_ds: String,
    #[serde(default)]
    merchant_name_en: String,
    #[serde(default)]
    attempt_control: String,
    #[serde(default)]
    min_subtotal: String,
    #[serde(default)]
    max_subtotal: String,
    #[serde(default)]
    due_days: String,
    #[serde(default)]
    payment_note: String,
    #[serde(default)]
    confirm_note: String,
    #[serde(default)]
    mail_note: String,
    #[serde(default)]
    logo_url: String,
}

impl MethodForm {
    fn of(s: &MethodSettings) -> MethodForm {
        MethodForm {
            csrf: String::new(),
            enabled: s.enabled.then(|| "1".to_owned()),
            display_name: s.display_name.clone(),
            capture: s.capture.code().to_owned(),
            installments: s.installments.clone(),
            installments_note: s.installments_note.clone(),
            three_ds: if s.three_ds { "1" } else { "0" }.to_owned(),
            merchant_name_en: s.merchant_name_en.clone(),
            attempt_control: s.attempt_control.code().to_owned(),
            min_subtotal: s.min_subtotal.map(|v| v.to_string()).unwrap_or_default(),
            max_subtotal: s.max_subtotal.map(|v| v.to_string()).unwrap_or_default(),
            due_days: s.due_days.to_string(),
            payment_note: s.payment_note.clone(),
            confirm_note: s.confirm_note.clone(),
            mail_note: s.mail_note.clone(),
            logo_url: s.logo_url.clone(),
        }
    }

    /// The input for `methods::set`, with the fields this method has; numbers that do not
    /// parse are reported in `errors` and left out.
    fn input(&self, m: PaymentMethod, errors: &mut Invalid) -> MethodInput {
        let mut amount = |field: &str, v: &str| -> Option<Option<i64>> {
            if v.trim().is_empty() {
                return Some(None);
            }
            errors.take(parse_int(field, v)).map(Some)
        };
        let min_subtotal = amount("min_subtotal", &self.min_subtotal);
        let max_subtotal = amount("max_subtotal", &self.max_subtotal);
        let due_days = if has_due_days(m) {
            errors.take(parse_int("due_days", &self.due_days))
        } else {
            None
        };
        let card = has_card_options(m);
        MethodInput {
            enabled: Some(self.enabled.is_some()),
            display_name: Some(self.display_name.clone()),
            capture: has_capture(m).then(|| self.capture.clone()),
            installments: card.then(|| self.installments.clone()),
            installments_note: card.then(|| self.installments_note.clone()),
            three_ds: card.then(|| self.three_ds == "1"),
            merchant_name_en: card.then(|| self.merchant_name_en.clone()),
            attempt_control: card.then(|| self.attempt_control.clone()),
            min_subtotal,
            max_subtotal,
            due_days,
            payment_note: Some(self.payment_note.clone()),
            confirm_note: Some(self.confirm_note.clone()),
            mail_note: Some(self.mail_note.clone()),
            logo_url: Some(self.logo_url.clone()),
        }
    }
}

fn not_found(s: &AppState) -> Response {
    error_page(s, &AppError::NotFound("支払方法"))
}

pub async fn edit_method(
    State(s): State<AppState>,
    sess: Session,
    Path(code): Path<String>,
) -> Response {
    let Some(m) = PaymentMethod::from_code(&code) else {
        return not_found(&s);
    };
    match methods::method_settings(&s.app, sess.actor.shop_id, m).await {
        Ok(cur) => method_page(&s, &sess, &cur, &MethodForm::of(&cur), Errors::new()),
        Err(e) => error_page(&s, &e),
    }
}

fn method_page(
    s: &AppState,
    sess: &Session,
    cur: &MethodSettings,
    form: &MethodForm,
    errors: Errors,
) -> Response {
    let m = cur.method;
    let installments: Vec<_> = methods::INSTALLMENTS
        .iter()
        .map(|c| {
            context! {
                code => *c, label => installment_label(c),
                checked => form.installments.iter().any(|x| x == c),
            }
        })
        .collect();
    let attempts: Vec<_> = AttemptControl::ALL
        .iter()
        .map(|a| context! { code => a.code(), label => a.label(), explanation => a.explanation() })
        .collect();
    let captures: Vec<_> = [CaptureMode::AuthOnly, CaptureMode::AuthAndCapture]
        .iter()
        .map(|c| context! { code => c.code(), label => capture_label(*c) })
        .collect();
    let gateway = m.gateway().map(Gateway::name).unwrap_or("—");
    let invalid = !errors.is_empty();
    let r = s.ui.render(
        "payment_method.html",
        page_ctx(
            base(sess, "payment_methods"),
            context! {
                code => m.code(), label => m.label(), gateway => gateway,
                has_capture => has_capture(m), card => has_card_options(m), has_due_days => has_due_days(m),
                f => form, errors => errors, installments => installments, attempts => attempts,
                captures => captures,
                updated => cur.updated_at.map(|t| format!("{} {}", juchu_domain::time::format_jst_minute(t), cur.updated_by)).unwrap_or_default(),
            },
        ),
    );
    if invalid { unprocessable(r) } else { r }
}

/// The labels of the fields that differ between `a` and `b`.
fn changed(a: &MethodSettings, b: &MethodSettings) -> Vec<&'static str> {
    let mut out = vec![];
    let mut ch = |diff: bool, label: &'static str| {
        if diff {
            out.push(label);
        }
    };
    ch(a.enabled != b.enabled, "有効・無効");
    ch(a.display_name != b.display_name, "支払方法の名称");
    ch(a.capture != b.capture, "売上確定方式");
    ch(a.installments != b.installments, "支払回数");
    ch(
        a.installments_note != b.installments_note,
        "支払回数の注意書き",
    );
    ch(a.three_ds != b.three_ds, "3Dセキュア");
    ch(a.merchant_name_en != b.merchant_name_en, "加盟店名（英字）");
    ch(
        a.attempt_control != b.attempt_control,
        "アテンプト取引の扱い",
    );
    ch(
        a.min_subtotal != b.min_subtotal || a.max_subtotal != b.max_subtotal,
        "利用条件",
    );
    ch(a.due_days != b.due_days, "支払期限");
    ch(a.payment_note != b.payment_note, "決済画面の文言");
    ch(a.confirm_note != b.confirm_note, "確認画面の文言");
    ch(a.mail_note != b.mail_note, "サンクスメールの文言");
    ch(a.logo_url != b.logo_url, "ロゴ画像URL");
    out
}

pub async fn save_method(
    State(s): State<AppState>,
    Path(code): Path<String>,
    CsrfForm(sess, f): CsrfForm<MethodForm>,
) -> Response {
    let Some(m) = PaymentMethod::from_code(&code) else {
        return not_found(&s);
    };
    if !sess.actor.is_admin {
        return error_page(&s, &AppError::Forbidden);
    }
    let cur = match methods::method_settings(&s.app, sess.actor.shop_id, m).await {
        Ok(c) => c,
        Err(e) => return error_page(&s, &e),
    };
    let mut parse_errors = Invalid::default();
    let input = f.input(m, &mut parse_errors);
    let result = if parse_errors.is_empty() {
        methods::set(&s.app, &sess.actor, m, input).await
    } else {
        // Report the numbers that did not parse together with every other bad field.
        let mut all = parse_errors;
        if let Err(more) = methods::validate(&cur, input) {
            all.0.extend(more.0);
        }
        Err(AppError::Invalid(all))
    };
    match result {
        Ok(new) => {
            let what = changed(&cur, &new);
            let done = if what.is_empty() {
                format!("{}の設定を保存しました（変更はありません）", m.label())
            } else {
                format!(
                    "{}の設定を保存しました（変更した項目: {}）",
                    m.label(),
                    what.join("・")
                )
            };
            list_page(
                &s,
                &sess,
                Shown {
                    done: Some(done),
                    ..Shown::default()
                },
            )
            .await
        }
        Err(AppError::Invalid(i)) => {
            let mut errors = Errors::new();
            for e in i.0 {
                errors.entry(e.field).or_insert(e.message);
            }
            method_page(&s, &sess, &cur, &f, errors)
        }
        Err(e) => error_page(&s, &e),
    }
}

pub async fn save_credentials(
    State(s): State<AppState>,
    Path(code): Path<String>,
    CsrfForm(sess, form): CsrfForm<BTreeMap<String, String>>,
) -> Response {
    let Some(g) = juchu_domain::payment_method::Gateway::from_code(&code) else {
        return error_page(&s, &AppError::NotFound("決済サービス"));
    };
    let input: BTreeMap<String, String> = form.into_iter().filter(|(k, _)| k != "csrf").collect();
    // What this save changes: every secret typed, and ids that differ from the stored ones
    // (those are prefilled, so sending them back changes nothing).
    let current: BTreeMap<&str, String> =
        juchu_app::credentials::credentials_view(&s.app, &sess.actor)
            .await
            .ok()
            .and_then(|v| v.into_iter().find(|c| c.gateway == g))
            .map(|c| c.fields.into_iter().map(|f| (f.name, f.shown)).collect())
            .unwrap_or_default();
    let typed: Vec<&'static str> = juchu_app::credentials::credential_fields(g)
        .iter()
        .filter(|f| {
            input.get(f.name).is_some_and(|v| {
                let v = v.trim();
                !v.is_empty() && (!f.public || current.get(f.name).map(String::as_str) != Some(v))
            })
        })
        .map(|f| f.label)
        .collect();
    let ids: BTreeMap<String, String> = juchu_app::credentials::credential_fields(g)
        .iter()
        .filter(|f| f.public)
        .filter_map(|f| input.get(f.name).map(|v| (f.name.to_owned(), v.clone())))
        .collect();
    match methods::set_credentials(&s.app, &sess.actor, g, input).await {
        Ok(_) => {
            let done = if typed.is_empty() {
                format!("{}の接続設定を保存しました（変更はありません）", g.name())
            } else {
                format!(
                    "{}の接続設定を保存しました（更新した項目: {}）",
                    g.name(),
                    typed.join("・")
                )
            };
            list_page(
                &s,
                &sess,
                Shown {
                    done: Some(done),
                    ..Shown::default()
                },
            )
            .await
        }
        Err(AppError::Invalid(i)) => {
            let prefix = format!("cred.{code}.");
            unprocessable(
                list_page(
                    &s,
                    &sess,
                    Shown {
                        errors: errors_of(i, &prefix),
                        cred_form: Some((g, ids)),
                        ..Shown::default()
                    },
                )
                .await,
            )
        }
        Err(e) => error_page(&s, &e),
    }
}

fn delivery_input(f: &DeliveryForm, errors: &mut Invalid) -> DeliveryInput {
    let fee = if f.fee_kind == "quote" {
        None
    } else if f.fee.trim().is_empty() {
        errors.push(FieldError::new(
            "fee",
            "required",
            "送料を入力するか「送料別途見積」を選んでください",
        ));
        None
    } else {
        errors.take(parse_int("fee", &f.fee))
    };
    let position = if f.position.trim().is_empty() {
        None
    } else {
        errors.take(parse_int("position", &f.position))
    };
    DeliveryInput {
        name: f.name.clone(),
        fee,
        payment_methods: f.payment_methods.clone(),
        position,
    }
}

pub async fn save_delivery(
    State(s): State<AppState>,
    CsrfForm(sess, f): CsrfForm<DeliveryForm>,
) -> Response {
    if !sess.actor.is_admin {
        return error_page(&s, &AppError::Forbidden);
    }
    let id = match f.id.trim() {
        "" => None,
        x => match x.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => return error_page(&s, &AppError::NotFound("配送方法")),
        },
    };
    let mut parse_errors = Invalid::default();
    let input = delivery_input(&f, &mut parse_errors);
    let result = if parse_errors.is_empty() {
        methods::save_delivery(&s.app, &sess.actor, id, input).await
    } else {
        let mut all = parse_errors;
        if let Err(more) = methods::check_delivery(&input) {
            all.0.extend(more.0);
        }
        Err(AppError::Invalid(all))
    };
    match result {
        Ok(d) => {
            let done = format!(
                "配送方法「{}」を{}しました",
                d.name,
                if id.is_some() { "保存" } else { "追加" }
            );
            list_page(
                &s,
                &sess,
                Shown {
                    done: Some(done),
                    ..Shown::default()
                },
            )
            .await
        }
        Err(AppError::Invalid(i)) => {
            // Parse errors first, then the app's (which may name the same field again).
            let mut errors = Errors::new();
            for e in i.0 {
                let key = match e.field.split_once('[') {
                    Some((head, _)) => head.to_owned(),
                    None => e.field,
                };
                errors.entry(format!("delivery.{key}")).or_insert(e.message);
            }
            unprocessable(
                list_page(
                    &s,
                    &sess,
                    Shown {
                        errors,
                        delivery: Some(f),
                        ..Shown::default()
                    },
                )
                .await,
            )
        }
        Err(e) => error_page(&s, &e),
    }
}

pub async fn delete_delivery(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(sess, _): CsrfForm<IgnoredAny>,
) -> Response {
    let name = match methods::delivery(&s.app, sess.actor.shop_id, id).await {
        Ok(d) => d.name,
        Err(e) => return error_page(&s, &e),
    };
    match methods::delete_delivery(&s.app, &sess.actor, id).await {
        Ok(()) => {
            list_page(
                &s,
                &sess,
                Shown {
                    done: Some(format!("配送方法「{name}」を削除しました")),
                    ..Shown::default()
                },
            )
            .await
        }
        Err(e) => error_page(&s, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_named() {
        let a = MethodSettings::defaults(PaymentMethod::PaygentCard);
        let mut b = a.clone();
        assert!(changed(&a, &b).is_empty());
        b.three_ds = true;
        b.max_subtotal = Some(1);
        assert_eq!(changed(&a, &b), vec!["3Dセキュア", "利用条件"]);
    }

    #[test]
    fn form_numbers() {
        let mut e = Invalid::default();
        let f = MethodForm {
            min_subtotal: "１，０００円".into(),
            max_subtotal: "abc".into(),
            due_days: "x".into(),
            ..MethodForm::default()
        };
        let i = f.input(PaymentMethod::PaygentKonbini, &mut e);
        assert_eq!(i.min_subtotal, Some(Some(1000)));
        assert_eq!(i.max_subtotal, None);
        assert_eq!(i.capture, None);
        let fields: Vec<_> = e.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, vec!["max_subtotal", "due_days"]);
    }
}

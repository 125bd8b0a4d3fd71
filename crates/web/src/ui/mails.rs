//! メール: 送信 from an order (注文確認 / 配送通知 / フリー: 入力 → 確認 → 送信), 送信メール一覧
//! (the outbox) with one mail's full text, and メールテンプレート設定. Every POST carries the
//! session's CSRF token; field errors are shown beside their fields (422), a stale order or
//! one moved out of 受注一覧 is refused with the reason (409).

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use juchu_app::AppError;
use juchu_app::mail::Listed;
use juchu_app::mail::{self, Composed, MailKind, OutboxQuery, SendInput, kind_label};
use juchu_domain::Invalid;
use juchu_domain::time::{format_jst_minute, from_db};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::CsrfForm;
use super::pages::{base, page_ctx, unprocessable};
use super::{Session, error_page, url_escape};
use crate::AppState;
use crate::extract::Query;

type Errors = BTreeMap<String, String>;

fn errors_of(i: Invalid) -> Errors {
    let mut out = Errors::new();
    for e in i.0 {
        out.entry(e.field).or_insert(e.message);
    }
    out
}

fn kind_or_default(code: Option<&str>) -> MailKind {
    code.and_then(MailKind::from_code)
        .unwrap_or(MailKind::Order)
}

fn kinds() -> Vec<minijinja::Value> {
    MailKind::ALL
        .iter()
        .map(|k| context! { code => k.code(), label => k.label() })
        .collect()
}

/// The mail form's values, as composed or as typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    tracking_number: String,
    /// `confirm` (確認), `send` (送信), `edit` (修正する), `recompose` (テンプレートから作り直す)
    #[serde(default)]
    op: String,
}

impl MailForm {
    fn of(c: &Composed) -> MailForm {
        MailForm {
            version: c.version.to_string(),
            kind: c.kind.code().to_owned(),
            subject: c.subject.clone(),
            body: c.body.clone(),
            tracking_number: c.tracking_number.clone(),
            ..MailForm::default()
        }
    }

    fn input(&self, kind: MailKind) -> SendInput {
        SendInput {
            kind,
            subject: Some(self.subject.clone()),
            body: Some(self.body.clone()),
            tracking_number: Some(self.tracking_number.clone()),
            // A version that does not read as one is refused as stale, never sent over.
            version: self.version.trim().parse().unwrap_or(0),
        }
    }
}

/// What the mail screen shows besides the form.
#[derive(Default)]
struct Shown {
    errors: Errors,
    /// A refusal of the whole mail (stale order, no address).
    alert: Option<String>,
    stale: bool,
    /// The order may take no mail (moved out of 受注一覧): the reason, instead of the form.
    refusal: Option<String>,
    /// 確認: the mail as it will go.
    confirm: Option<Composed>,
}

async fn mail_page(
    s: &AppState,
    sess: &Session,
    number: i64,
    kind: MailKind,
    form: &MailForm,
    shown: Shown,
) -> Response {
    let o = match juchu_app::orders::get(&s.app, &sess.actor, number).await {
        Ok(o) => o,
        Err(e) => return error_page(s, &e),
    };
    let shop_email = match mail::shop_email(&s.app, &sess.actor).await {
        Ok(e) => e,
        Err(e) => return error_page(s, &e),
    };
    let d = &o.draft;
    let confirm = shown.confirm.as_ref().map(|c| {
        context! {
            to => c.to.clone(), bcc => c.bcc.clone(), subject => c.subject.clone(), body => c.body.clone(),
            tracking_number => c.tracking_number.clone(),
            stores_tracking => kind == MailKind::Shipping && c.tracking_number != c.order_tracking_number,
        }
    });
    // Errors on what the form does not show (an order field the 問合せ番号 edit checks).
    let other_errors: Vec<String> = shown
        .errors
        .iter()
        .filter(|(k, _)| !["to", "subject", "body", "tracking_number"].contains(&k.as_str()))
        .map(|(_, v)| v.clone())
        .collect();
    let status = if shown.refusal.is_some() || shown.stale {
        axum::http::StatusCode::CONFLICT
    } else if !shown.errors.is_empty() || shown.alert.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    let mut r = s.ui.render(
        "mail_send.html",
        page_ctx(
            base(sess, "orders"),
            context! {
                number => number, kind => kind.code(), label => kind.label(), kinds => kinds(),
                customer => d.customer.full_name(), to => d.email.clone(), bcc => shop_email,
                status => d.status.label(), list => o.list.label(), ordered_at => format_jst_minute(o.ordered_at),
                order_tracking => d.tracking_number.clone(),
                f => form, errors => shown.errors, other_errors => other_errors, alert => shown.alert, stale => shown.stale,
                refusal => shown.refusal, confirm => confirm,
            },
        ),
    );
    if r.status().is_success() {
        *r.status_mut() = status;
    }
    r
}

#[derive(Deserialize)]
pub struct MailQ {
    kind: Option<String>,
    tracking_number: Option<String>,
}

/// メール送信: the mail `kind` composed from the shop's template, ready to be checked.
pub async fn compose_page(
    State(s): State<AppState>,
    sess: Session,
    Path(number): Path<i64>,
    Query(q): Query<MailQ>,
) -> Response {
    let kind = kind_or_default(q.kind.as_deref());
    let typed = q.tracking_number.as_deref();
    composed_page(&s, &sess, number, kind, typed, MailForm::default()).await
}

/// The form filled from the template (`typed`: the 問合せ番号 to put in it); `keep` is what the
/// operator had (kept when the template cannot be used).
async fn composed_page(
    s: &AppState,
    sess: &Session,
    number: i64,
    kind: MailKind,
    typed: Option<&str>,
    keep: MailForm,
) -> Response {
    match mail::compose(&s.app, &sess.actor, number, kind, typed).await {
        Ok(c) => mail_page(s, sess, number, kind, &MailForm::of(&c), Shown::default()).await,
        Err(e) => after_error(s, sess, number, kind, &keep, e).await,
    }
}

/// The mail screen after a refusal: errors beside the fields, a stale order or a refused one
/// with its reason; anything else is the error page.
async fn after_error(
    s: &AppState,
    sess: &Session,
    number: i64,
    kind: MailKind,
    f: &MailForm,
    e: AppError,
) -> Response {
    let shown = match e {
        AppError::Invalid(i) => Shown {
            errors: errors_of(i),
            ..Shown::default()
        },
        AppError::Refused(r) => Shown {
            refusal: Some(r.to_string()),
            ..Shown::default()
        },
        e @ AppError::Stale { .. } => Shown {
            alert: Some(e.to_string()),
            stale: true,
            ..Shown::default()
        },
        e @ AppError::Conflict { .. } => Shown {
            alert: Some(e.to_string()),
            ..Shown::default()
        },
        e => return error_page(s, &e),
    };
    mail_page(s, sess, number, kind, f, shown).await
}

/// 確認 / 送信 / 修正する / テンプレートから作り直す.
pub async fn post_mail(
    State(s): State<AppState>,
    Path(number): Path<i64>,
    CsrfForm(sess, mut f): CsrfForm<MailForm>,
) -> Response {
    let kind = kind_or_default(Some(&f.kind));
    match f.op.as_str() {
        "recompose" => {
            let typed = f.tracking_number.clone();
            // The order may have changed since the form was made: start from it as it is now.
            composed_page(&s, &sess, number, kind, Some(&typed), f).await
        }
        "send" => match mail::send(&s.app, &sess.actor, number, f.input(kind)).await {
            Ok(m) => {
                let msg = format!(
                    "{}を送信しました（宛先: {}）。送信状況は送信メール一覧で確認できます",
                    kind.label(),
                    m.mail.mail_to
                );
                Redirect::to(&format!("/admin/orders/{number}?done={}", url_escape(&msg)))
                    .into_response()
            }
            Err(e) => after_error(&s, &sess, number, kind, &f, e).await,
        },
        "confirm" => match mail::review(&s.app, &sess.actor, number, &f.input(kind)).await {
            Ok(c) => {
                // What will be sent, normalized (line ends, the typed 問合せ番号).
                f.subject = c.subject.clone();
                f.body = c.body.clone();
                f.tracking_number = c.tracking_number.clone();
                let shown = Shown {
                    confirm: Some(c),
                    ..Shown::default()
                };
                mail_page(&s, &sess, number, kind, &f, shown).await
            }
            Err(e) => after_error(&s, &sess, number, kind, &f, e).await,
        },
        _ => mail_page(&s, &sess, number, kind, &f, Shown::default()).await,
    }
}

fn status_label(m: &Listed) -> (&'static str, &'static str) {
    match m.mail.status.as_str() {
        "sent" => ("送信済み", "sent"),
        "failed" => ("送信失敗", "failed"),
        _ => ("送信待ち", "queued"),
    }
}

fn at(s: &str) -> String {
    from_db(s)
        .map(format_jst_minute)
        .unwrap_or_else(|_| s.to_owned())
}

fn mail_row(m: &Listed) -> minijinja::Value {
    let (status, css) = status_label(m);
    let x = &m.mail;
    context! {
        id => x.id, number => m.order_number, kind => kind_label(&x.kind), to => x.mail_to.clone(),
        bcc => x.bcc.clone(), subject => x.subject.clone(), body => x.body.clone(),
        status => status, css => css, error => x.last_error.clone(), attempts => x.attempts,
        retry => x.status == "failed" && x.attempts < mail::MAX_ATTEMPTS,
        created_at => at(&x.created_at), sent_at => x.sent_at.as_deref().map(at),
        sent_by => x.sent_by.clone(),
    }
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

/// 送信メール一覧: newest first; the filter lives in the URL.
pub async fn outbox(
    State(s): State<AppState>,
    sess: Session,
    RawQuery(raw): RawQuery,
    Query(q): Query<OutboxQuery>,
) -> Response {
    let raw = raw.unwrap_or_default();
    let (rows, total, page, pages, errors) = match mail::outbox(&s.app, &sess.actor, &q).await {
        Ok(p) => {
            let pages = (p.total + p.per_page - 1) / p.per_page;
            let rows: Vec<_> = p.mails.iter().map(mail_row).collect();
            (rows, p.total, p.page, pages, Errors::new())
        }
        Err(AppError::Invalid(i)) => (vec![], 0, 1, 0, errors_of(i)),
        Err(e) => return error_page(&s, &e),
    };
    let kinds: Vec<_> = mail::templates::OUTBOX_KINDS
        .iter()
        .map(|k| context! { code => *k, label => kind_label(k) })
        .collect();
    let statuses: Vec<_> = mail::OUTBOX_STATUSES
        .iter()
        .map(|(c, l)| context! { code => *c, label => *l })
        .collect();
    let failed = !errors.is_empty();
    let r = s.ui.render(
        "mails.html",
        page_ctx(
            base(&sess, "mails"),
            context! {
                q => q, rows => rows, total => total, page => page, pages => pages, errors => errors,
                kinds => kinds, statuses => statuses,
                prev => (page > 1).then(|| with_page(&raw, page - 1)),
                next => (page < pages).then(|| with_page(&raw, page + 1)),
            },
        ),
    );
    if failed { unprocessable(r) } else { r }
}

/// One mail, as sent: headers, state and the whole text.
pub async fn mail(State(s): State<AppState>, sess: Session, Path(id): Path<i64>) -> Response {
    match mail::get(&s.app, &sess.actor, id).await {
        Ok(m) => s.ui.render(
            "mail.html",
            page_ctx(base(&sess, "mails"), context! { m => mail_row(&m) }),
        ),
        Err(e) => error_page(&s, &e),
    }
}

fn updated(t: &mail::TemplateView) -> String {
    t.updated_at
        .map(|at| format!("{} {}", format_jst_minute(at), t.updated_by))
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct DoneQ {
    done: Option<String>,
}

/// メールテンプレート設定: the three kinds, built-in or the shop's.
pub async fn templates_page(
    State(s): State<AppState>,
    sess: Session,
    Query(q): Query<DoneQ>,
) -> Response {
    match mail::templates(&s.app, &sess.actor).await {
        Ok(list) => {
            let rows: Vec<_> = list
                .iter()
                .map(|t| {
                    context! {
                        code => t.kind.code(), label => t.label.clone(), subject => t.subject.clone(),
                        customized => t.customized, updated => updated(t),
                    }
                })
                .collect();
            s.ui.render(
                "mail_templates.html",
                page_ctx(
                    base(&sess, "mail_templates"),
                    context! { rows => rows, done => q.done },
                ),
            )
        }
        Err(e) => error_page(&s, &e),
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TemplateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    /// `preview` (プレビュー), `save` (保存), `reset` (標準に戻す)
    #[serde(default)]
    op: String,
}

fn template_kind(code: &str) -> Result<MailKind, AppError> {
    MailKind::from_code(code).ok_or(AppError::NotFound("メールの種類"))
}

struct TemplateShown {
    errors: Errors,
    preview: Option<mail::Preview>,
    done: Option<String>,
}

async fn template_page_with(
    s: &AppState,
    sess: &Session,
    kind: MailKind,
    f: &TemplateForm,
    shown: TemplateShown,
) -> Response {
    let saved = match mail::template(&s.app, &sess.actor, kind).await {
        Ok(t) => t,
        Err(e) => return error_page(s, &e),
    };
    let variables: Vec<_> = mail::templates::VARIABLES
        .iter()
        .map(|(n, d)| {
            // As the shop writes it: `{{ order_number }}`, or a filter as it is (`|yen`).
            let code = if n.starts_with('|') {
                (*n).to_owned()
            } else {
                format!("{{{{ {n} }}}}")
            };
            context! { code => code, description => *d }
        })
        .collect();
    let preview = shown.preview.map(|p| {
        context! { order_number => p.order_number, subject => p.subject, body => p.body }
    });
    let failed = !shown.errors.is_empty();
    let r = s.ui.render(
        "mail_template.html",
        page_ctx(
            base(sess, "mail_templates"),
            context! {
                code => kind.code(), label => kind.label(), f => f, errors => shown.errors,
                customized => saved.customized, updated => updated(&saved),
                variables => variables, preview => preview, done => shown.done,
            },
        ),
    );
    if failed { unprocessable(r) } else { r }
}

/// One kind's template, with the variables and a preview for the newest order.
pub async fn template_page(
    State(s): State<AppState>,
    sess: Session,
    Path(code): Path<String>,
    Query(q): Query<DoneQ>,
) -> Response {
    let kind = match template_kind(&code) {
        Ok(k) => k,
        Err(e) => return error_page(&s, &e),
    };
    let t = match mail::template(&s.app, &sess.actor, kind).await {
        Ok(t) => t,
        Err(e) => return error_page(&s, &e),
    };
    let preview = mail::preview_template(&s.app, &sess.actor, kind, &t.subject, &t.body)
        .await
        .ok();
    let f = TemplateForm {
        subject: t.subject,
        body: t.body,
        ..TemplateForm::default()
    };
    let shown = TemplateShown {
        errors: Errors::new(),
        preview,
        done: q.done,
    };
    template_page_with(&s, &sess, kind, &f, shown).await
}

/// プレビュー (nothing stored) / 保存 (admins; refused with the line when it does not render) /
/// 標準に戻す.
pub async fn save_template(
    State(s): State<AppState>,
    Path(code): Path<String>,
    CsrfForm(sess, f): CsrfForm<TemplateForm>,
) -> Response {
    let kind = match template_kind(&code) {
        Ok(k) => k,
        Err(e) => return error_page(&s, &e),
    };
    let result = match f.op.as_str() {
        "save" => mail::save_template(&s.app, &sess.actor, kind, &f.subject, &f.body)
            .await
            .map(|t| format!("{}のテンプレートを保存しました", t.label)),
        "reset" => mail::reset_template(&s.app, &sess.actor, kind)
            .await
            .map(|t| format!("{}のテンプレートを標準の文面に戻しました", t.label)),
        _ => {
            let p = mail::preview_template(&s.app, &sess.actor, kind, &f.subject, &f.body).await;
            let shown = match p {
                Ok(p) => TemplateShown {
                    errors: Errors::new(),
                    preview: Some(p),
                    done: None,
                },
                Err(AppError::Invalid(i)) => TemplateShown {
                    errors: errors_of(i),
                    preview: None,
                    done: None,
                },
                Err(e) => return error_page(&s, &e),
            };
            return template_page_with(&s, &sess, kind, &f, shown).await;
        }
    };
    match result {
        Ok(msg) => Redirect::to(&format!(
            "/admin/settings/mail-templates/{}?done={}",
            kind.code(),
            url_escape(&msg)
        ))
        .into_response(),
        Err(AppError::Invalid(i)) => {
            let shown = TemplateShown {
                errors: errors_of(i),
                preview: None,
                done: None,
            };
            template_page_with(&s, &sess, kind, &f, shown).await
        }
        Err(e) => error_page(&s, &e),
    }
}

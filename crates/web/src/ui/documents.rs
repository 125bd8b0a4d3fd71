//! 帳票出力 (`/admin/orders/{number}/slips`): choose the slip and its wording, then open the
//! printable page or download the PDF; 帳票一括ダウンロード (`/admin/slips/pdf`) prints several
//! orders into one PDF; ショップ情報 (`/admin/settings/shop-profile`) is what the slips print
//! as their issuer. Only the printable page and the PDFs are recorded in the order's 変更履歴:
//! opening the form prints nothing.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use juchu_app::documents::{
    self, DEFAULT_PROVISO, Output, ProfileInput, REDUCED_NOTE, SlipKind, SlipOptions,
};
use juchu_app::{AppError, orders};
use juchu_domain::Invalid;
use juchu_domain::time::{format_jst_minute, jst_date};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::CsrfForm;
use super::pages::{base, page_ctx, unprocessable};
use super::{Session, error_page};
use crate::AppState;
use crate::download::{pdf_file, pdf_filename, slips_pdf};
use crate::extract::Query;

type Errors = BTreeMap<String, String>;

fn errors_of(i: Invalid) -> Errors {
    i.0.into_iter().map(|e| (e.field, e.message)).collect()
}

#[derive(Serialize)]
struct KindOpt {
    code: &'static str,
    label: &'static str,
    note: &'static str,
}

fn kinds() -> Vec<KindOpt> {
    SlipKind::ALL
        .iter()
        .map(|k| KindOpt {
            code: k.code(),
            label: k.label(),
            note: match k {
                SlipKind::OrderSlip => "ショップ控え（注文者・お届け先・支払方法・メモ）",
                SlipKind::DeliveryNote => "商品に同梱する明細",
                SlipKind::Invoice => "適格請求書（登録番号・税率ごとの消費税額）",
                SlipKind::Receipt => "宛名・但し書き付き（適格簡易請求書）",
            },
        })
        .collect()
}

/// The 帳票出力 screen: the form as the operator left it, with `errors` beside its fields.
async fn choose_page(
    s: &AppState,
    sess: &Session,
    number: i64,
    q: &SlipOptions,
    errors: Errors,
) -> Response {
    let o = match orders::get(&s.app, &sess.actor, number).await {
        Ok(o) => o,
        Err(e) => return error_page(s, &e),
    };
    let history = match orders::history(&s.app, &sess.actor, number).await {
        Ok(h) => h,
        Err(e) => return error_page(s, &e),
    };
    let printed: Vec<_> = history
        .iter()
        .filter(|h| h.action == "order.printed")
        .take(10)
        .map(|h| context! { at => format_jst_minute(h.at), actor => h.actor.clone(), detail => h.detail.clone() })
        .collect();
    let profile = match documents::profile(&s.app, &sess.actor).await {
        Ok(p) => p,
        Err(e) => return error_page(s, &e),
    };
    let d = &o.draft;
    let refusal = o.standing().can_print().err().map(|r| r.to_string());
    let today = juchu_domain::time::format_date(jst_date(s.app.now()));
    let form = context! {
        kind => q.kind.clone().unwrap_or_else(|| SlipKind::DeliveryNote.code().to_owned()),
        issued_on => q.issued_on.clone().unwrap_or(today),
        addressee => q.addressee.clone().unwrap_or_else(|| documents::default_addressee(&d.customer)),
        proviso => q.proviso.clone().unwrap_or_else(|| DEFAULT_PROVISO.to_owned()),
        message => q.message.clone().unwrap_or_default(),
    };
    let r = s.ui.render(
        "slips.html",
        page_ctx(
            base(sess, "orders"),
            context! {
                number => o.number, status => d.status.label(), status_code => d.status.code(),
                list => o.list.label(), customer => d.customer.full_name(),
                payment_total => d.totals.payment_total.get(),
                ordered_at => format_jst_minute(o.ordered_at),
                kinds => kinds(), form => form, errors => errors, refusal => refusal,
                printed => printed, profile_missing => profile.invoice_number.is_empty(),
            },
        ),
    );
    if refusal.is_some() {
        let mut r = r;
        *r.status_mut() = axum::http::StatusCode::CONFLICT;
        return r;
    }
    r
}

/// 帳票出力: the form only; nothing is printed or recorded.
pub async fn choose(
    State(s): State<AppState>,
    sess: Session,
    Path(number): Path<i64>,
    Query(q): Query<SlipOptions>,
) -> Response {
    choose_page(&s, &sess, number, &q, Errors::new()).await
}

/// What a failed print shows: the form with the bad fields marked, or the error page.
async fn refused(
    s: &AppState,
    sess: &Session,
    number: i64,
    q: &SlipOptions,
    e: AppError,
) -> Response {
    match e {
        AppError::Invalid(i) => unprocessable(choose_page(s, sess, number, q, errors_of(i)).await),
        e => error_page(s, &e),
    }
}

/// The printable page (印刷用画面): the slip exactly as the PDF has it; recorded in 変更履歴.
pub async fn print(
    State(s): State<AppState>,
    sess: Session,
    Path(number): Path<i64>,
    RawQuery(raw): RawQuery,
    Query(q): Query<SlipOptions>,
) -> Response {
    match documents::issue(&s.app, &sess.actor, &[number], &q, Output::Print).await {
        Ok(mut slips) => match slips.pop() {
            Some(slip) => s.ui.render(
                "slip.html",
                context! {
                    slip => slip, reduced_note => REDUCED_NOTE, number => number,
                    query => raw.unwrap_or_default(),
                },
            ),
            None => error_page(&s, &AppError::NotFound("受注")),
        },
        Err(e) => refused(&s, &sess, number, &q, e).await,
    }
}

/// The PDF download of one order's slip; recorded in 変更履歴.
pub async fn pdf(
    State(s): State<AppState>,
    sess: Session,
    Path(number): Path<i64>,
    Query(q): Query<SlipOptions>,
) -> Response {
    match slips_pdf(&s, &sess.actor, &[number], &q).await {
        Ok((slips, bytes)) => pdf_file(bytes, &pdf_filename(&slips)),
        Err(e) => refused(&s, &sess, number, &q, e).await,
    }
}

/// 帳票一括ダウンロード: `kind`, the wording, and `number` once per order. (Listed out rather
/// than flattened: repeated keys do not survive serde's flatten.)
#[derive(Deserialize, Default)]
pub struct BulkQ {
    #[serde(default)]
    number: Vec<String>,
    kind: Option<String>,
    issued_on: Option<String>,
    proviso: Option<String>,
    message: Option<String>,
}

async fn bulk_pdf(s: &AppState, sess: &Session, q: BulkQ) -> Response {
    let mut bad = Invalid::default();
    let numbers: Vec<i64> = q
        .number
        .iter()
        .filter(|n| !n.trim().is_empty())
        .filter_map(|n| bad.take(juchu_domain::input::parse_int("number", n)))
        .collect();
    // A bulk download prints each order's own addressee.
    let options = SlipOptions {
        kind: q.kind,
        issued_on: q.issued_on,
        addressee: None,
        proviso: q.proviso,
        message: q.message,
    };
    let r = if bad.is_empty() {
        slips_pdf(s, &sess.actor, &numbers, &options).await
    } else {
        Err(AppError::Invalid(bad))
    };
    match r {
        Ok((slips, bytes)) => pdf_file(bytes, &pdf_filename(&slips)),
        Err(AppError::Invalid(i)) => {
            let msg =
                i.0.iter()
                    .map(|f| f.message.clone())
                    .collect::<Vec<_>>()
                    .join(" / ");
            let mut r = error_page(s, &AppError::conflict("invalid_input", msg));
            *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            r
        }
        Err(e) => error_page(s, &e),
    }
}

pub async fn bulk_get(
    State(s): State<AppState>,
    sess: Session,
    Query(q): Query<BulkQ>,
) -> Response {
    bulk_pdf(&s, &sess, q).await
}

/// The same from a form on the search results (checkboxes), with the session's CSRF token.
pub async fn bulk_post(State(s): State<AppState>, CsrfForm(sess, q): CsrfForm<BulkQ>) -> Response {
    bulk_pdf(&s, &sess, q).await
}

// ---------------------------------------------------------------------------------------
// ショップ情報（帳票の発行元）

#[derive(Deserialize, Default)]
pub struct DoneQ {
    done: Option<String>,
}

async fn profile_page(
    s: &AppState,
    sess: &Session,
    form: Option<&ProfileInput>,
    errors: Errors,
    done: bool,
) -> Response {
    if !sess.actor.is_admin {
        return error_page(s, &AppError::Forbidden);
    }
    let saved = match documents::profile(&s.app, &sess.actor).await {
        Ok(p) => p,
        Err(e) => return error_page(s, &e),
    };
    let shown = match form {
        Some(f) => context! {
            company_name => f.company_name.clone(), postal_code => f.postal_code.clone(),
            address => f.address.clone(), tel => f.tel.clone(), invoice_number => f.invoice_number.clone(),
        },
        None => context! {
            company_name => saved.company_name.clone(),
            postal_code => if saved.postal_code.len() == 7 { format!("{}-{}", &saved.postal_code[..3], &saved.postal_code[3..]) } else { saved.postal_code.clone() },
            address => saved.address.clone(), tel => saved.tel.clone(), invoice_number => saved.invoice_number.clone(),
        },
    };
    s.ui.render(
        "shop_profile.html",
        page_ctx(
            base(sess, "shop_profile"),
            context! { form => shown, saved => saved, errors => errors, done => done },
        ),
    )
}

pub async fn profile(State(s): State<AppState>, sess: Session, Query(q): Query<DoneQ>) -> Response {
    profile_page(&s, &sess, None, Errors::new(), q.done.is_some()).await
}

#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    company_name: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    tel: String,
    #[serde(default)]
    invoice_number: String,
}

pub async fn save_profile(
    State(s): State<AppState>,
    CsrfForm(sess, f): CsrfForm<ProfileForm>,
) -> Response {
    let input = ProfileInput {
        company_name: f.company_name,
        postal_code: f.postal_code,
        address: f.address,
        tel: f.tel,
        invoice_number: f.invoice_number,
    };
    match documents::set_profile(&s.app, &sess.actor, &input).await {
        Ok(_) => Redirect::to("/admin/settings/shop-profile?done=1").into_response(),
        Err(AppError::Invalid(i)) => {
            unprocessable(profile_page(&s, &sess, Some(&input), errors_of(i), false).await)
        }
        Err(e) => error_page(&s, &e),
    }
}

//! Mails an operator sends from an order (注文確認 / 配送通知 / フリー), the shop's templates
//! for them, and the outbox (送信メール一覧). Sending needs the order's `version` (409
//! `stale_version` otherwise) and is refused once the order has left 受注一覧 (409
//! `only_in_open_list`). Templates are minijinja text; one that does not render for the
//! sample orders is refused (422, the field's message names the line). Changing templates is
//! for admins.

use axum::extract::State;
use axum::http::StatusCode;
use juchu_app::AppError;
use juchu_app::mail::Listed;
use juchu_app::mail::{self, Composed, MailKind, OutboxPage, OutboxQuery, SendInput, TemplateView};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, Json, Path, Query};

fn kind_of(code: &str) -> Result<MailKind, ApiError> {
    MailKind::from_code(code).ok_or(ApiError(AppError::NotFound("メールの種類")))
}

/// One template variable.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Variable {
    /// As written in a template: `{{ order_number }}`.
    pub name: String,
    pub description: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TemplateDoc {
    #[serde(flatten)]
    pub template: TemplateView,
    /// What a template may use.
    pub variables: Vec<Variable>,
}

fn doc(t: TemplateView) -> axum::Json<TemplateDoc> {
    axum::Json(TemplateDoc {
        template: t,
        variables: mail::templates::VARIABLES
            .iter()
            .map(|(n, d)| Variable {
                name: (*n).to_owned(),
                description: (*d).to_owned(),
            })
            .collect(),
    })
}

/// A kind's template (`order`, `shipping`, `free`): the shop's, or the built-in text, with
/// the variables it may use.
#[utoipa::path(get, path = "/api/v1/shop/mail-templates/{kind}", tag = "mails", security(("bearer" = [])),
    params(("kind" = String, Path, description = "order（注文確認）, shipping（配送通知）, free（フリー）")),
    responses((status = 200, body = TemplateDoc), (status = 404, body = ErrorBody)))]
pub async fn template(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(kind): Path<String>,
) -> Result<axum::Json<TemplateDoc>, ApiError> {
    Ok(doc(mail::template(&s.app, &a, kind_of(&kind)?).await?))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub subject: String,
    pub body: String,
}

/// Store the shop's template for a kind. It is rendered against sample orders first; a
/// failure is 422 with the field (`subject` / `body`) and the line. Admin only.
#[utoipa::path(put, path = "/api/v1/shop/mail-templates/{kind}", tag = "mails", security(("bearer" = [])),
    params(("kind" = String, Path, description = "order, shipping, free")), request_body = TemplateInput,
    responses((status = 200, body = TemplateDoc), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_template(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(kind): Path<String>,
    Json(t): Json<TemplateInput>,
) -> Result<axum::Json<TemplateDoc>, ApiError> {
    let k = kind_of(&kind)?;
    Ok(doc(
        mail::save_template(&s.app, &a, k, &t.subject, &t.body).await?
    ))
}

/// Back to the built-in text. Admin only.
#[utoipa::path(delete, path = "/api/v1/shop/mail-templates/{kind}", tag = "mails", security(("bearer" = [])),
    params(("kind" = String, Path, description = "order, shipping, free")),
    responses((status = 200, body = TemplateDoc), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reset_template(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(kind): Path<String>,
) -> Result<axum::Json<TemplateDoc>, ApiError> {
    Ok(doc(mail::reset_template(&s.app, &a, kind_of(&kind)?).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComposeParams {
    /// order, shipping, free
    pub kind: String,
    /// 配送通知: the 問合せ番号 to put in the mail instead of the order's.
    pub tracking_number: Option<String>,
}

/// The mail a kind's template makes for the order, not sent: what `POST …/mails` sends
/// when `subject` and `body` are left out.
#[utoipa::path(get, path = "/api/v1/orders/{number}/mails/compose", tag = "mails", security(("bearer" = [])),
    params(("number" = i64, Path, description = "注文番号"), ComposeParams),
    responses((status = 200, body = Composed), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn compose(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(number): Path<i64>,
    Query(p): Query<ComposeParams>,
) -> Result<axum::Json<Composed>, ApiError> {
    let k = kind_of(&p.kind)?;
    Ok(axum::Json(
        mail::compose(&s.app, &a, number, k, p.tracking_number.as_deref()).await?,
    ))
}

/// メール送信: queue a 注文確認 / 配送通知 / フリー mail to the order's address, Bcc to the
/// shop. `subject` / `body` left out come from the shop's template. 配送通知 needs a
/// 問合せ番号 (given, or already on the order); a new one is stored on the order. The send
/// is written to the order's history with the operator's name.
#[utoipa::path(post, path = "/api/v1/orders/{number}/mails", tag = "mails", security(("bearer" = [])),
    params(("number" = i64, Path, description = "注文番号")), request_body = SendInput,
    responses((status = 201, body = Listed), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn send(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(number): Path<i64>,
    Json(input): Json<SendInput>,
) -> Result<(StatusCode, axum::Json<Listed>), ApiError> {
    let m = mail::send(&s.app, &a, number, input).await?;
    Ok((StatusCode::CREATED, axum::Json(m)))
}

/// 送信メール一覧: the shop's mails, newest first, by 注文番号, kind and status.
#[utoipa::path(get, path = "/api/v1/mails", tag = "mails", security(("bearer" = [])), params(OutboxQuery),
    responses((status = 200, body = OutboxPage), (status = 422, body = ErrorBody)))]
pub async fn outbox(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Query(q): Query<OutboxQuery>,
) -> Result<axum::Json<OutboxPage>, ApiError> {
    Ok(axum::Json(mail::outbox(&s.app, &a, &q).await?))
}

#[utoipa::path(get, path = "/api/v1/mails/{id}", tag = "mails", security(("bearer" = [])),
    params(("id" = i64, Path, description = "メールID")),
    responses((status = 200, body = Listed), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(id): Path<i64>,
) -> Result<axum::Json<Listed>, ApiError> {
    Ok(axum::Json(mail::get(&s.app, &a, id).await?))
}

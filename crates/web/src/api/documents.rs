//! 帳票出力 over the API: an order's slip as PDF (recorded in its 変更履歴) or as JSON (a
//! preview, recorded nowhere), several orders in one PDF, and the shop's issuer profile
//! (read by every operator, changed by admins).

use axum::extract::State;
use axum::response::Response;
use juchu_app::documents::{self, IssuerProfile, ProfileInput, Slip, SlipOptions};

use crate::AppState;
use crate::download::{pdf_file, pdf_filename, slips_pdf};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, Json, Path, Query};

/// `?format=pdf|json` and the slip's wording.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlipParams {
    /// `pdf` (the default when the path ends in `.pdf`) or `json`
    pub format: Option<String>,
    /// 発行日 (`2024/08/19` or `2024-08-19`); default today (Japan)
    pub issued_on: Option<String>,
    /// 宛名; default the customer's name + 様
    pub addressee: Option<String>,
    /// 但し書き (領収書); default お品代として
    pub proviso: Option<String>,
    /// メッセージ
    pub message: Option<String>,
}

/// An order's slip: `order_slip` (受注伝票), `delivery_note` (納品書), `invoice` (請求書),
/// `receipt` (領収書). `…/slips/invoice.pdf` or `?format=pdf` answers the A4 PDF and records
/// the printing in the order's history; `?format=json` (or no format) answers the slip's
/// contents without recording anything. Orders in 決済処理中 are refused (409).
#[utoipa::path(get, path = "/api/v1/orders/{number}/slips/{kind}", tag = "documents", security(("bearer" = [])),
    params(("number" = i64, Path, description = "注文番号"),
           ("kind" = String, Path, description = "order_slip, delivery_note, invoice, receipt; `.pdf` may follow"),
           SlipParams),
    responses((status = 200, description = "application/pdf, or the slip as JSON", body = Slip),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn slip(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path((number, kind)): Path<(i64, String)>,
    Query(p): Query<SlipParams>,
) -> Result<Response, ApiError> {
    let (kind, dot_pdf) = match kind.strip_suffix(".pdf") {
        Some(k) => (k.to_owned(), true),
        None => (kind, false),
    };
    let as_pdf = match p.format.as_deref() {
        Some("pdf") => true,
        Some("json") => false,
        None => dot_pdf,
        Some(_) => {
            return Err(juchu_domain::Invalid::one(
                "format",
                "unknown_format",
                "format は pdf または json です",
            )
            .into());
        }
    };
    let options = SlipOptions {
        kind: Some(kind),
        issued_on: p.issued_on,
        addressee: p.addressee,
        proviso: p.proviso,
        message: p.message,
    };
    if as_pdf {
        let (slips, bytes) = slips_pdf(&s, &a, &[number], &options).await?;
        Ok(pdf_file(bytes, &pdf_filename(&slips)))
    } else {
        let slip = documents::preview(&s.app, &a, number, &options).await?;
        Ok(axum::response::IntoResponse::into_response(axum::Json(
            slip,
        )))
    }
}

/// `?number=1&number=2…` and the slips' wording (each order's own addressee is printed).
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BulkParams {
    /// 注文番号, once per order (at most 500)
    #[serde(default)]
    pub number: Vec<i64>,
    /// 発行日; default today (Japan)
    pub issued_on: Option<String>,
    /// 但し書き (領収書)
    pub proviso: Option<String>,
    /// メッセージ
    pub message: Option<String>,
}

/// 帳票一括ダウンロード: one PDF with one slip per order, in the order given; each printing
/// is recorded. If any order cannot be printed nothing is, and the error names each such
/// order (409).
#[utoipa::path(get, path = "/api/v1/slips/{kind}", tag = "documents", security(("bearer" = [])),
    params(("kind" = String, Path, description = "order_slip, delivery_note, invoice, receipt; `.pdf` may follow"), BulkParams),
    responses((status = 200, description = "application/pdf"), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn bulk(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(kind): Path<String>,
    Query(p): Query<BulkParams>,
) -> Result<Response, ApiError> {
    let kind = kind.strip_suffix(".pdf").unwrap_or(&kind).to_owned();
    let options = SlipOptions {
        kind: Some(kind),
        issued_on: p.issued_on,
        addressee: None,
        proviso: p.proviso,
        message: p.message,
    };
    let (slips, bytes) = slips_pdf(&s, &a, &p.number, &options).await?;
    Ok(pdf_file(bytes, &pdf_filename(&slips)))
}

/// ショップ情報: what the slips print as their issuer.
#[utoipa::path(get, path = "/api/v1/shop/profile", tag = "documents", security(("bearer" = [])),
    responses((status = 200, body = IssuerProfile)))]
pub async fn profile(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
) -> Result<axum::Json<IssuerProfile>, ApiError> {
    Ok(axum::Json(documents::profile(&s.app, &a).await?))
}

/// Replace the issuer profile; every bad field is reported (422). `postal_code` takes
/// `123-4567` (〒, full-width digits too), `invoice_number` `T` + 13 digits or empty. Admin
/// only.
#[utoipa::path(put, path = "/api/v1/shop/profile", tag = "documents", security(("bearer" = [])),
    request_body = ProfileInput,
    responses((status = 200, body = IssuerProfile), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_profile(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Json(input): Json<ProfileInput>,
) -> Result<axum::Json<IssuerProfile>, ApiError> {
    Ok(axum::Json(
        documents::set_profile(&s.app, &a, &input).await?,
    ))
}

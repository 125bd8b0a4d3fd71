//! CSV出力項目設定 (the 受注CSV's columns) and the 送り状データ (B2クラウド) download.
//! Column settings are open to every operator, admin or not (docs/csv.md).

use axum::extract::State;
use axum::response::Response;

use juchu_app::AppError;
use juchu_app::export::{self, ColumnSettings, CsvKind};
use juchu_domain::search::SearchInput;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, Json, Path, Query};

fn kind_of(code: &str) -> Result<CsvKind, ApiError> {
    CsvKind::from_code(code).ok_or(ApiError(AppError::NotFound("CSVの種類")))
}

/// 送り状データ of a search (all pages): ヤマト運輸 B2クラウド「外部データから発行」's
/// layout (95 columns, header row), one row per order, Shift_JIS, CRLF. 代金引換 orders are
/// コレクト (送り状種類 2) with the お支払い合計 to collect. Writes no history.
#[utoipa::path(get, path = "/api/v1/orders/shipping-csv", tag = "orders", security(("bearer" = [])), params(SearchInput),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = ErrorBody)))]
pub async fn shipping_csv(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Query(q): Query<SearchInput>,
) -> Result<Response, ApiError> {
    let stream = export::shipping_csv(&s.app, &a, &q).await?;
    Ok(crate::download::csv(&s, "b2", "Shift_JIS", stream))
}

/// CSV出力項目設定 of a CSV: `orders` (受注CSV: the columns written, in order, and the
/// others available) or `shipping` (送り状CSV: B2クラウド's fixed layout, `editable: false`).
#[utoipa::path(get, path = "/api/v1/shop/csv-columns/{kind}", tag = "settings", security(("bearer" = [])),
    params(("kind" = String, Path, description = "orders または shipping")),
    responses((status = 200, body = ColumnSettings), (status = 404, body = ErrorBody)))]
pub async fn get_columns(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(kind): Path<String>,
) -> Result<axum::Json<ColumnSettings>, ApiError> {
    let k = kind_of(&kind)?;
    Ok(axum::Json(export::column_settings(&s.app, &a, k).await?))
}

/// The columns to write, by code, in order.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnsInput {
    /// Column codes (`number`, `ordered_at`, `customer_name` …; see `available` in GET).
    pub columns: Vec<String>,
}

/// Choose the 受注CSV's columns. An empty list, an unknown code or a code given twice is a
/// field error (`columns`, `columns[3]` …) and nothing is stored. `shipping` is fixed: 409.
#[utoipa::path(put, path = "/api/v1/shop/csv-columns/{kind}", tag = "settings", security(("bearer" = [])),
    params(("kind" = String, Path, description = "orders")),
    request_body = ColumnsInput,
    responses((status = 200, body = ColumnSettings), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_columns(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(kind): Path<String>,
    Json(input): Json<ColumnsInput>,
) -> Result<axum::Json<ColumnSettings>, ApiError> {
    let k = kind_of(&kind)?;
    Ok(axum::Json(
        export::set_columns(&s.app, &a, k, &input.columns).await?,
    ))
}

/// 初期設定に戻す: forget the choice; the built-in columns apply.
#[utoipa::path(delete, path = "/api/v1/shop/csv-columns/{kind}", tag = "settings", security(("bearer" = [])),
    params(("kind" = String, Path, description = "orders")),
    responses((status = 200, body = ColumnSettings), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reset_columns(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(kind): Path<String>,
) -> Result<axum::Json<ColumnSettings>, ApiError> {
    let k = kind_of(&kind)?;
    Ok(axum::Json(export::reset_columns(&s.app, &a, k).await?))
}

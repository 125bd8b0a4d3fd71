//! Files handed to the browser or an API client — CSV streams and PDFs — for the admin
//! screens and the API alike: the type, a file name, and errors met mid-stream logged.

use anyhow::Context;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use juchu_app::AppError;
use juchu_app::documents::{self, Output, Slip, SlipOptions};
use juchu_app::export::{self, Encoding};
use juchu_domain::search::SearchInput;

use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CsvParams {
    /// `sjis` (default, for Excel) or `utf8`
    pub encoding: Option<String>,
}

/// A CSV download: the type with its charset, and a file name with the Japan time.
pub fn csv<S>(s: &AppState, prefix: &str, charset: &str, body: S) -> Response
where
    S: Stream<Item = Result<Bytes, AppError>> + Send + 'static,
{
    let body = futures_util::StreamExt::map(body, |r| {
        r.map_err(|e| {
            tracing::error!(error = %e, "csv export failed mid-stream");
            std::io::Error::other(e.to_string())
        })
    });
    let name = format!(
        "{prefix}_{}.csv",
        juchu_domain::time::jst_zoned(s.app.now()).strftime("%Y%m%d%H%M%S")
    );
    (
        [
            (header::CONTENT_TYPE, format!("text/csv; charset={charset}")),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

pub async fn orders_csv(
    s: &AppState,
    a: &juchu_app::Actor,
    q: &SearchInput,
    encoding: Option<&str>,
) -> Result<Response, ApiError> {
    let enc = Encoding::parse(encoding)?;
    let stream = export::orders_csv(&s.app, a, q, enc).await?;
    Ok(csv(s, "orders", enc.charset(), stream))
}

/// `application/pdf` as a download named like `delivery_note_123.pdf`.
pub fn pdf_file(bytes: Vec<u8>, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// The PDF of one or more slips, or the app's error.
pub async fn slips_pdf(
    s: &AppState,
    actor: &juchu_app::Actor,
    numbers: &[i64],
    q: &SlipOptions,
) -> Result<(Vec<Slip>, Vec<u8>), AppError> {
    let slips = documents::issue(&s.app, actor, numbers, q, Output::Pdf).await?;
    // Layout and font subsetting take a moment for long orders: off the async threads.
    let for_pdf = slips.clone();
    let bytes = tokio::task::spawn_blocking(move || documents::render_pdf(&for_pdf))
        .await
        .context("PDF task")??;
    Ok((slips, bytes))
}

pub fn pdf_filename(slips: &[Slip]) -> String {
    match slips {
        [one] => format!("{}_{}.pdf", one.kind_code, one.number),
        [first, ..] => format!("{}_{}orders.pdf", first.kind_code, slips.len()),
        [] => "slips.pdf".to_owned(),
    }
}

//! Payment operations on an order. Every operation runs exactly once: send an
//! `Idempotency-Key` header and a repeat (a retry after a timeout, a double click) returns
//! the first outcome instead of running again. The answer is 200 with the outcome's
//! `status` (`succeeded`, `failed` with the gateway's `result_code`, `partial`), or 202 while
//! it is `pending` / `unknown` (確認中: the recovery job asks the gateway).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use juchu_app::payments::Notice;
use juchu_app::payments::{
    self, AuthorizeInput, FeeMonth, LaterInput, LogPage, LogQuery, OperateInput, OperationResult,
    PaymentView, Recovered, SyncReport,
};
use juchu_domain::payment::Action;
use juchu_domain::payment::{OpStatus, Settings};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiActor, Json, Path, Query};

pub(crate) fn idempotency_key(h: &HeaderMap) -> Option<String> {
    h.get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn answer(r: OperationResult) -> (StatusCode, axum::Json<OperationResult>) {
    let code = if matches!(r.status, OpStatus::Pending | OpStatus::Unknown) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    (code, axum::Json(r))
}

/// The order's payment: ids, status in common and gateway words, amounts, expiry, the
/// actions allowed now, earlier payment ids, recent operations and warnings.
#[utoipa::path(get, path = "/api/v1/orders/{number}/payment", tag = "payments", security(("bearer" = [])),
    params(("number" = i64, Path, description = "注文番号")),
    responses((status = 200, body = PaymentView),
        (status = 401, description = "No or unknown API token", body = ErrorBody),
        (status = 404, description = "No such order, or no payment yet", body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(number): Path<i64>,
) -> Result<axum::Json<PaymentView>, ApiError> {
    payments::view(&s.app, &a, number)
        .await?
        .map(axum::Json)
        .ok_or_else(|| juchu_app::AppError::NotFound("決済").into())
}

/// 与信: authorize the order's お支払い合計 with a card token (or a test card on a sandbox),
/// 仮売上 or 即時売上 (`capture`).
#[utoipa::path(post, path = "/api/v1/orders/{number}/payment", tag = "payments", security(("bearer" = [])),
    params(("number" = i64, Path, description = "注文番号"), ("Idempotency-Key" = Option<String>, Header)),
    request_body = AuthorizeInput,
    responses((status = 200, description = "Settled: `succeeded`, or `failed` with the gateway's code", body = OperationResult),
        (status = 202, description = "Outcome not known yet (確認中): the recovery job asks the gateway", body = OperationResult),
        (status = 400, description = "`malformed_json`: the body is not JSON", body = ErrorBody),
        (status = 401, description = "No or unknown API token", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "Not allowed now (a payment exists, an operation is open, not an online method …), or `idempotency_key_reused`", body = ErrorBody),
        (status = 422, description = "`invalid_json` or `invalid_input` with the fields", body = ErrorBody),
        (status = 500, description = "`outcome_not_recorded`: the gateway was called but the outcome could not be stored; the recovery job settles it", body = ErrorBody)))]
pub async fn authorize(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(number): Path<i64>,
    headers: HeaderMap,
    Json(input): Json<AuthorizeInput>,
) -> Result<(StatusCode, axum::Json<OperationResult>), ApiError> {
    Ok(answer(
        payments::authorize(&s.app, &a, number, input, idempotency_key(&headers)).await?,
    ))
}

/// Run one payment operation: `capture` (売上確定), `cancel` (取消・返品・月跨返品),
/// `change_authorization` (オーソリ変更), `change_capture` (売上変更), `update_transaction`
/// (取引更新), `reauthorize` (再オーソリ), `paidy_update`, `paidy_close`, `refund`,
/// `refresh` (決済状況を確認), `cancel_previous` (旧取引を取消). Refused with 409 and the
/// reason when the payment's state does not allow it.
#[utoipa::path(post, path = "/api/v1/orders/{number}/payment/{action}", tag = "payments", security(("bearer" = [])),
    params(("number" = i64, Path, description = "注文番号"), ("action" = inline(Action), Path, description = "The operation"),
        ("Idempotency-Key" = Option<String>, Header)),
    request_body(content = Option<OperateInput>, description = "Optional: most operations need no parameters"),
    responses((status = 200, description = "Settled: `succeeded`, `failed` with the gateway's code, or `partial`", body = OperationResult),
        (status = 202, description = "Outcome not known yet (確認中): the recovery job asks the gateway", body = OperationResult),
        (status = 400, description = "`malformed_json`: the body is not JSON", body = ErrorBody),
        (status = 401, description = "No or unknown API token", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "Not allowed now, with the reason (`payment_action_not_allowed`, `no_payment`, `stale_version`, `idempotency_key_reused` …)", body = ErrorBody),
        (status = 422, description = "`invalid_json`, or `invalid_input` (an amount out of range, an unknown action)", body = ErrorBody),
        (status = 500, description = "`outcome_not_recorded`: the gateway was called but the outcome could not be stored; the recovery job settles it", body = ErrorBody)))]
pub async fn operate(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path((number, action)): Path<(i64, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, axum::Json<OperationResult>), axum::response::Response> {
    use axum::response::IntoResponse;
    // The body is optional: most operations need no parameters.
    let input: OperateInput = if body.iter().all(u8::is_ascii_whitespace) {
        OperateInput::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| crate::extract::json_error(&e))?
    };
    let act = Action::from_code(&action).ok_or_else(|| {
        ApiError::from(juchu_domain::Invalid::one(
            "action",
            "unknown_action",
            format!("決済操作「{action}」はありません"),
        ))
        .into_response()
    })?;
    payments::operate(&s.app, &a, number, act, input, idempotency_key(&headers))
        .await
        .map(answer)
        .map_err(|e| ApiError::from(e).into_response())
}

/// Settle every operation whose outcome is unknown by asking the gateways (the job `serve`
/// runs on its own; this runs it now). Admin only.
#[utoipa::path(post, path = "/api/v1/payments/recover", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = Vec<Recovered>), (status = 403, body = ErrorBody)))]
pub async fn recover(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
) -> Result<axum::Json<Vec<Recovered>>, ApiError> {
    if !a.is_admin {
        return Err(juchu_app::AppError::Forbidden.into());
    }
    Ok(axum::Json(
        payments::recover(&s.app, s.recovery_grace).await?,
    ))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SweepParams {
    /// Remove 決済処理中 orders older than this (1–525600, default 60, as `serve
    /// --pending-timeout-mins`).
    #[param(minimum = 1, maximum = 525600)]
    pub older_than_minutes: Option<u64>,
}

/// Remove 決済処理中 orders the buyers left (the job `serve` runs every minute; this runs it
/// now): each is removed only after its gateway was asked that nothing was authorized — an
/// order whose payment did go through is completed instead. Admin only.
#[utoipa::path(post, path = "/api/v1/payments/pending-orders/sweep", tag = "payments", security(("bearer" = [])),
    params(SweepParams),
    responses((status = 200, body = Vec<juchu_app::checkout::Swept>), (status = 403, body = ErrorBody)))]
pub async fn sweep_pending(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Query(q): Query<SweepParams>,
) -> Result<axum::Json<Vec<juchu_app::checkout::Swept>>, ApiError> {
    if !a.is_admin {
        return Err(juchu_app::AppError::Forbidden.into());
    }
    // Out-of-range minutes are refused by the sweep; saturating keeps them out of range.
    let secs = q.older_than_minutes.unwrap_or(60).saturating_mul(60);
    Ok(axum::Json(
        juchu_app::checkout::sweep(&s.app, std::time::Duration::from_secs(secs)).await?,
    ))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeeParams {
    /// `YYYY-MM` (Japan time)
    pub month: String,
}

/// 手数料: the fees of a month (Paygent: each capture and cancel), with the total.
#[utoipa::path(get, path = "/api/v1/payments/fees", tag = "payments", security(("bearer" = [])), params(FeeParams),
    responses((status = 200, body = FeeMonth), (status = 422, body = ErrorBody)))]
pub async fn fees(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Query(p): Query<FeeParams>,
) -> Result<axum::Json<FeeMonth>, ApiError> {
    Ok(axum::Json(payments::fees(&s.app, &a, &p.month).await?))
}

#[utoipa::path(get, path = "/api/v1/shop/payment-settings", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = Settings)))]
pub async fn settings(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
) -> Result<axum::Json<Settings>, ApiError> {
    Ok(axum::Json(payments::settings(&s.app, &a).await?))
}

/// Automatic 対応状況 after payment operations, and the Paygent fee. Admin only.
#[utoipa::path(put, path = "/api/v1/shop/payment-settings", tag = "payments", security(("bearer" = [])),
    request_body = Settings,
    responses((status = 200, body = Settings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_settings(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Json(body): Json<Settings>,
) -> Result<axum::Json<Settings>, ApiError> {
    Ok(axum::Json(payments::set_settings(&s.app, &a, body).await?))
}

/// Issue the payment number of a konbini / ATM / Pay-easy / net-bank order (its お支払い合計);
/// the order becomes 入金待ち and settles when the gateway says the buyer paid.
#[utoipa::path(post, path = "/api/v1/orders/{number}/payment/request", tag = "payments", security(("bearer" = [])),
    params(("number" = i64, Path, description = "注文番号"), ("Idempotency-Key" = Option<String>, Header)),
    request_body = LaterInput,
    responses((status = 200, body = OperationResult), (status = 202, body = OperationResult),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn request_later(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(number): Path<i64>,
    headers: HeaderMap,
    Json(input): Json<LaterInput>,
) -> Result<(StatusCode, axum::Json<OperationResult>), ApiError> {
    Ok(answer(
        payments::request_later(&s.app, &a, number, input, idempotency_key(&headers)).await?,
    ))
}

/// The pull job now: Paygent 差分照会 from the last notice read, then a query of every payment
/// still waiting for the buyer (`serve` runs it hourly by itself). Admin only.
#[utoipa::path(post, path = "/api/v1/payments/sync", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = SyncReport), (status = 403, body = ErrorBody)))]
pub async fn sync(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
) -> Result<axum::Json<SyncReport>, ApiError> {
    if !a.is_admin {
        return Err(juchu_app::AppError::Forbidden.into());
    }
    Ok(axum::Json(payments::sync(&s.app).await?))
}

/// 決済ログ: every payment operation of the shop (single and 一括処理), newest first,
/// narrowed by date, gateway, action, result, operator or order.
#[utoipa::path(get, path = "/api/v1/payments/operations", tag = "payments", security(("bearer" = [])), params(LogQuery),
    responses((status = 200, body = LogPage), (status = 401, description = "No or unknown API token", body = ErrorBody),
        (status = 422, description = "`invalid_input`: a bad date, an unknown gateway, action or result", body = ErrorBody)))]
pub async fn operations(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Query(q): Query<LogQuery>,
) -> Result<axum::Json<LogPage>, ApiError> {
    Ok(axum::Json(payments::operation_log(&s.app, &a, &q).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoticeParams {
    /// Only the refused ones (forged, unknown order, wrong amount).
    #[serde(default)]
    pub refused: Option<bool>,
    /// 1-based page (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Notices per page (1–500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

/// Notifications received from the gateways, newest first.
#[utoipa::path(get, path = "/api/v1/payments/notices", tag = "payments", security(("bearer" = [])), params(NoticeParams),
    responses((status = 200, body = Vec<Notice>)))]
pub async fn notices(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Query(p): Query<NoticeParams>,
) -> Result<axum::Json<Vec<Notice>>, ApiError> {
    Ok(axum::Json(
        payments::notices(
            &s.app,
            &a,
            p.refused.unwrap_or(false),
            p.page.unwrap_or(1),
            p.per_page.unwrap_or(100),
        )
        .await?,
    ))
}

/// The order's mails (the outbox: queued, sent, failed), newest first.
#[utoipa::path(get, path = "/api/v1/orders/{number}/mails", tag = "orders", security(("bearer" = [])),
    params(("number" = i64, Path, description = "注文番号")),
    responses((status = 200, body = Vec<juchu_app::mail::Mail>), (status = 404, body = ErrorBody)))]
pub async fn mails(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Path(number): Path<i64>,
) -> Result<axum::Json<Vec<juchu_app::mail::Mail>>, ApiError> {
    Ok(axum::Json(
        juchu_app::mail::of_order(&s.app, &a, number).await?,
    ))
}

/// Send what the mail outbox holds now (`serve` does every few seconds). Admin only.
#[utoipa::path(post, path = "/api/v1/mails/deliver", tag = "orders", security(("bearer" = [])),
    responses((status = 200, description = "How many mails were sent", body = usize, content_type = "application/json"),
        (status = 403, body = ErrorBody)))]
pub async fn deliver_mails(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
) -> Result<axum::Json<usize>, ApiError> {
    if !a.is_admin {
        return Err(juchu_app::AppError::Forbidden.into());
    }
    Ok(axum::Json(juchu_app::mail::deliver(&s.app).await?))
}

#[derive(Debug, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct ShopMail {
    /// The shop's address: From of its mails, and where its copies go.
    pub email: String,
}

#[utoipa::path(get, path = "/api/v1/shop/mail", tag = "orders", security(("bearer" = [])),
    responses((status = 200, body = ShopMail)))]
pub async fn shop_mail(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
) -> Result<axum::Json<ShopMail>, ApiError> {
    Ok(axum::Json(ShopMail {
        email: juchu_app::mail::shop_email(&s.app, &a).await?,
    }))
}

/// Set the shop's mail address. Admin only.
#[utoipa::path(put, path = "/api/v1/shop/mail", tag = "orders", security(("bearer" = [])),
    request_body = ShopMail,
    responses((status = 200, body = ShopMail), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_shop_mail(
    State(s): State<AppState>,
    ApiActor(a): ApiActor,
    Json(body): Json<ShopMail>,
) -> Result<axum::Json<ShopMail>, ApiError> {
    Ok(axum::Json(ShopMail {
        email: juchu_app::mail::set_shop_email(&s.app, &a, &body.email).await?,
    }))
}

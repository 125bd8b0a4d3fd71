//! Where the gateways push: Paygent 差分通知, GMO 結果通知 and Paidy webhooks, per shop
//! (`/notify/{shop}/paygent`, `/notify/{shop}/gmo`, `/notify/{shop}/paidy`). No login: a notification proves itself
//! (Paygent's `hc`, GMO's ShopID) and only names a payment — juchu asks the gateway before
//! anything changes. The answer tells the gateway to stop resending (`result=0` / `0`) once
//! the notification is taken or refused and logged; an internal error asks it to resend.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use juchu_wire::form::{self, Charset};

use crate::AppState;
use crate::extract::ClientAddr;

fn answer(r: Result<(), juchu_app::AppError>, ok: &'static str) -> (StatusCode, &'static str) {
    match r {
        Ok(()) => (StatusCode::OK, ok),
        Err(juchu_app::AppError::NotFound(what)) => {
            tracing::warn!(what, "notification for an unknown shop");
            (StatusCode::NOT_FOUND, "unknown shop")
        }
        Err(e) => {
            tracing::error!(error = %e, "notification not taken; the gateway will resend it");
            (StatusCode::INTERNAL_SERVER_ERROR, "error")
        }
    }
}

pub async fn paygent(
    State(s): State<AppState>,
    ClientAddr(from): ClientAddr,
    Path(shop): Path<String>,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let fields = form::decode(&body, Charset::ShiftJis);
    answer(
        juchu_app::payments::receive_paygent(&s.app, &shop, &fields, &from).await,
        "result=0\r\n",
    )
}

pub async fn gmo(
    State(s): State<AppState>,
    ClientAddr(from): ClientAddr,
    Path(shop): Path<String>,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let fields = form::decode(&body, Charset::ShiftJis);
    answer(
        juchu_app::payments::receive_gmo(&s.app, &shop, &fields, &from).await,
        "0",
    )
}

/// Paidy webhooks (JSON); any 2xx tells Paidy it arrived.
pub async fn paidy(
    State(s): State<AppState>,
    ClientAddr(from): ClientAddr,
    Path(shop): Path<String>,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        tracing::warn!("a Paidy webhook that is not JSON");
        return (StatusCode::BAD_REQUEST, "not json");
    };
    answer(
        juchu_app::payments::receive_paidy(&s.app, &shop, &v, &from).await,
        "ok",
    )
}

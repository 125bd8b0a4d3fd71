use juchu_domain::Invalid;
use juchu_domain::status::Refusal;
use juchu_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input rejected field by field; nothing was stored.
    #[error("入力内容に誤りがあります: {0}")]
    Invalid(#[from] Invalid),
    #[error("{0}が見つかりません")]
    NotFound(&'static str),
    /// The order's state does not allow this.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// Someone else changed the record since it was read.
    #[error(
        "ほかの操作で内容が変更されています（現在の版: {current}）。最新の内容を読み込んでからやり直してください"
    )]
    Stale { current: i64 },
    /// A business rule refused it (stock, points, duplicates).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("ログインが必要です")]
    Unauthenticated,
    #[error("この操作の権限がありません")]
    Forbidden,
    /// Too many failed attempts lately: try again after `retry_after_secs`.
    #[error("{message}")]
    TooManyAttempts {
        retry_after_secs: u64,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The gateway was called but its outcome could not be recorded: something may have
    /// happened there. The operation stays open and the recovery job settles it by asking
    /// the gateway.
    #[error(
        "決済会社での処理は行われた可能性がありますが、結果を記録できませんでした。決済状況の確認で確定します。同じ操作を繰り返さないでください（決済処理番号 {operation_id}）"
    )]
    Unrecorded { operation_id: i64, cause: String },
    /// A fault of juchu or its machine, not of the request, with what was being done and the
    /// error under it (`anyhow::Context`). The web layer logs the whole chain once, with the
    /// request id, and shows 内部エラー.
    #[error("internal error: {0:#}")]
    Internal(#[source] anyhow::Error),
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::Internal(e)
    }
}

impl AppError {
    /// A state the code rules out was reached anyway: a bug, reported as an internal error.
    pub fn bug(what: &'static str) -> AppError {
        AppError::Internal(anyhow::anyhow!(what))
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// Stable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid(_) => "invalid_input",
            AppError::NotFound(_) => "not_found",
            AppError::Refused(r) => r.code(),
            AppError::Stale { .. } => "stale_version",
            AppError::Conflict { code, .. } => code,
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden => "forbidden",
            AppError::TooManyAttempts { .. } => "too_many_attempts",
            AppError::Unrecorded { .. } => "outcome_not_recorded",
            AppError::Store(_) | AppError::Internal(_) => "internal",
        }
    }
}

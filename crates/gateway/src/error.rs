/// What can go wrong when talking to a gateway, sorted by what the caller must do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The gateway answered and refused; nothing happened at the gateway. `declined` marks a
    /// card issuer's decline (オーソリNG), which the buyer can fix with another card.
    #[error("{message}（{code}: {detail}）")]
    Refused {
        code: String,
        detail: String,
        message: String,
        declined: bool,
        /// The same request may succeed later (busy, network at the card company).
        retryable: bool,
        /// The authorization can no longer be captured: its period is over, whatever status
        /// the gateway still shows for it (GMO keeps `AUTH`).
        lapsed: bool,
    },
    /// The request may have been processed: resolve by querying, never by resending.
    #[error("処理結果が不明です（{reason}）。決済会社に状態を照会して確定します")]
    Unknown { reason: String },
    /// The request never reached the gateway; nothing happened there.
    #[error("決済会社に接続できませんでした（{reason}）")]
    NotSent { reason: String },
    /// The gateway's answer was not its protocol.
    #[error("決済会社の応答を解釈できませんでした: {0}")]
    Protocol(String),
    #[error("決済設定の誤り: {0}")]
    Config(String),
    /// The gateway has no such operation.
    #[error("{0}")]
    Unsupported(String),
}

impl GatewayError {
    pub fn is_unknown(&self) -> bool {
        matches!(self, GatewayError::Unknown { .. })
    }

    /// The gateway's own code, when it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            GatewayError::Refused { detail, .. } => Some(detail),
            _ => None,
        }
    }
}

/// An amount in a gateway's answer: yen within juchu's range, or the answer is not the
/// protocol (the wire carries plain integers; juchu's code past the connectors sees `Yen`).
pub(crate) fn yen(v: i64) -> Result<juchu_domain::money::Yen, GatewayError> {
    juchu_domain::money::Yen::new(v).map_err(|_| GatewayError::Protocol(format!("amount {v}")))
}

//! Change history (変更履歴 / 操作履歴): every operation on an order appends one entry.

use jiff::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Who did it: an operator's name, `api:<token name>`, or `system`.
    pub actor: String,
    /// Stable code, e.g. `order.created`, `order.status_changed`.
    pub action: String,
    /// What changed, in Japanese, as the screen shows it.
    pub detail: String,
    pub outcome: Outcome,
}

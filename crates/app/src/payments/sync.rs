//! The pull job: Paygent's 差分照会 read from where the last round stopped, then every
//! payment still waiting for the buyer asked about — so a lost push is caught, and lapsed due
//! dates are applied.

use super::*;

/// One pull round.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct SyncReport {
    /// Paygent 差分照会 notices read.
    pub notices_read: usize,
    /// Payments whose state changed.
    pub applied: Vec<Applied>,
    /// What could not be done this round (read again next time).
    pub errors: Vec<String>,
}

/// The pull job: read Paygent's 差分照会 from where the last round stopped (repairing gaps),
/// then ask the gateways about every payment still waiting for the buyer — so a lost push
/// is caught, and lapsed due dates are applied.
pub async fn sync(app: &App) -> Result<SyncReport, AppError> {
    let mut report = SyncReport::default();
    let shops = juchu_store::shops::ids(&mut *app.store.read().await?).await?;
    for shop in shops {
        pull_paygent(app, shop, &mut report).await?;
        for p in store::awaiting(&mut *app.store.read().await?, shop, 1000).await? {
            match apply_truth(app, &p, "pull").await {
                Ok(Some(a)) => report.applied.push(a),
                Ok(None) => {}
                Err(e) => report
                    .errors
                    .push(format!("決済ID {}: {e}", p.held.display_id)),
            }
        }
    }
    Ok(report)
}

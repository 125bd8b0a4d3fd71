//! Shops: made once with the defaults a new shop sells with, and read.

use juchu_store::{Unique, shops};

use crate::{Actor, App, AppError};

/// A shop by code, created if missing; `true` when this call created it. Two processes
/// racing to create the same shop both succeed, and only one of them sees `true`.
pub async fn ensure(app: &App, code: &str, name: &str) -> Result<(shops::Shop, bool), AppError> {
    if let Some(s) = shops::by_code(&mut *app.store.read().await?, code).await? {
        return Ok((s, false));
    }
    let mut tx = app.store.begin().await?;
    match shops::create(&mut tx, code, name, app.now()).await {
        Ok(s) => {
            tx.commit().await?;
            // A new shop can sell at once: the usual delivery methods, every payment method.
            crate::methods::seed_defaults(app, s.id).await?;
            Ok((s, true))
        }
        Err(e) if e.violates(Unique::ShopCode) => {
            drop(tx);
            let s = shops::by_code(&mut *app.store.read().await?, code)
                .await?
                .ok_or(AppError::NotFound("ショップ"))?;
            Ok((s, false))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn get(app: &App, actor: &Actor) -> Result<shops::Shop, AppError> {
    shops::by_id(&mut *app.store.read().await?, actor.shop_id)
        .await?
        .ok_or(AppError::NotFound("ショップ"))
}

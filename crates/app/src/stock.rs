//! キャンセル受注在庫管理: returning cancelled orders' items to stock, line by line or all
//! of an order at once. A line is returned once, however often the button is pressed.

use juchu_domain::catalog::CancelledStock;
use juchu_domain::history::{HistoryEntry, Outcome};
use juchu_store::cancelled_stock;
use juchu_store::{Tx, catalog, orders};

use crate::{Actor, App, AppError};

pub async fn list(
    app: &App,
    actor: &Actor,
    include_returned: bool,
) -> Result<Vec<CancelledStock>, AppError> {
    Ok(cancelled_stock::list(
        &mut *app.store.read().await?,
        actor.shop_id,
        include_returned,
    )
    .await?)
}

async fn return_line(
    tx: &mut Tx,
    app: &App,
    actor: &Actor,
    id: i64,
) -> Result<CancelledStock, AppError> {
    let line = cancelled_stock::get_for_update(tx, actor.shop_id, id)
        .await?
        .ok_or(AppError::NotFound("キャンセル受注在庫"))?;
    if line.returned_at.is_some() {
        return Err(AppError::conflict(
            "already_returned",
            format!(
                "{}（注文番号 {}）はすでに在庫へ戻しています",
                line.product_code, line.order_number
            ),
        ));
    }
    if !catalog::add_stock(tx, actor.shop_id, &line.product_code, line.quantity).await? {
        return Err(AppError::conflict(
            "unknown_product_code",
            format!(
                "商品コード「{}」が商品管理にないため在庫へ戻せません",
                line.product_code
            ),
        ));
    }
    let now = app.now();
    cancelled_stock::mark_returned(tx, id, &actor.name, now).await?;
    if let Some(o) = orders::get(tx.conn(), actor.shop_id, line.order_number).await? {
        let e = HistoryEntry {
            at: now,
            actor: actor.name.clone(),
            action: "stock.returned".to_owned(),
            detail: format!(
                "キャンセル受注在庫を在庫へ戻しました（{} ×{}）",
                line.product_code, line.quantity
            ),
            outcome: Outcome::Ok,
        };
        orders::add_history(tx, actor.shop_id, o.id, &e).await?;
    }
    Ok(line)
}

pub async fn return_one(app: &App, actor: &Actor, id: i64) -> Result<CancelledStock, AppError> {
    let mut tx = app.store.begin().await?;
    let line = return_line(&mut tx, app, actor, id).await?;
    tx.commit().await?;
    Ok(line)
}

/// Return every open line of an order, all or nothing.
pub async fn return_order(
    app: &App,
    actor: &Actor,
    number: i64,
) -> Result<Vec<CancelledStock>, AppError> {
    let mut tx = app.store.begin().await?;
    let o = orders::get(tx.conn(), actor.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    let ids = cancelled_stock::open_ids_of_order(&mut tx, actor.shop_id, o.id).await?;
    if ids.is_empty() {
        return Err(AppError::conflict(
            "nothing_to_return",
            format!("注文番号 {number} に在庫へ戻す商品はありません"),
        ));
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(return_line(&mut tx, app, actor, id).await?);
    }
    tx.commit().await?;
    Ok(out)
}

/// One line's outcome when many are returned.
#[derive(Debug)]
pub struct LineResult {
    pub id: i64,
    pub result: Result<CancelledStock, AppError>,
}

/// Return the chosen lines, each on its own: a line that cannot go back (its product was
/// removed, someone returned it meanwhile) is reported and the others still go.
pub async fn return_many(
    app: &App,
    actor: &Actor,
    ids: &[i64],
) -> Result<Vec<LineResult>, AppError> {
    if ids.is_empty() {
        return Err(AppError::Invalid(juchu_domain::Invalid::one(
            "ids",
            "required",
            "在庫へ戻す商品を選んでください",
        )));
    }
    let mut out = Vec::with_capacity(ids.len());
    // A line's internal error is logged where it is shown (the web layer), with the request.
    for &id in ids {
        let result = return_one(app, actor, id).await;
        out.push(LineResult { id, result });
    }
    Ok(out)
}

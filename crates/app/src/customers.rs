//! 顧客管理: members and their points.

use juchu_domain::Invalid;
use juchu_domain::customer::Customer;
use juchu_domain::customer::CustomerInput;
use juchu_domain::points::LedgerEntry;
use juchu_store::Unique;
use juchu_store::customers::{self, PointMove};

use crate::{Actor, App, AppError};

pub async fn create(app: &App, actor: &Actor, input: &CustomerInput) -> Result<Customer, AppError> {
    let d = input.validate()?;
    let mut tx = app.store.begin().await?;
    let id = match customers::create(&mut tx, actor.shop_id, &d, app.now()).await {
        Ok(id) => id,
        Err(e) if e.violates(Unique::CustomerEmail) => {
            return Err(Invalid::one(
                "email",
                "duplicate",
                "このメールアドレスの会員はすでに登録されています",
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    let c = customers::get(tx.conn(), actor.shop_id, id)
        .await?
        .ok_or(AppError::NotFound("会員"))?;
    tx.commit().await?;
    Ok(c)
}

pub async fn get(app: &App, actor: &Actor, id: i64) -> Result<Customer, AppError> {
    customers::get(&mut *app.store.read().await?, actor.shop_id, id)
        .await?
        .ok_or(AppError::NotFound("会員"))
}

pub async fn search(
    app: &App,
    actor: &Actor,
    q: &str,
    page: i64,
    per_page: i64,
) -> Result<(i64, Vec<Customer>), AppError> {
    juchu_domain::search::check_search_text("q", q).map_err(|f| juchu_domain::Invalid(vec![f]))?;
    let (page, per_page) = (page.max(1), per_page.clamp(1, 1000));
    Ok(customers::search(
        &mut *app.store.read().await?,
        actor.shop_id,
        q,
        per_page,
        juchu_domain::search::page_offset(page, per_page),
    )
    .await?)
}

pub async fn ledger(app: &App, actor: &Actor, id: i64) -> Result<Vec<LedgerEntry>, AppError> {
    let mut conn = app.store.read().await?;
    customers::get(&mut conn, actor.shop_id, id)
        .await?
        .ok_or(AppError::NotFound("会員"))?;
    Ok(customers::ledger(&mut conn, actor.shop_id, id).await?)
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointAdjustment {
    /// Points to add (negative to take away).
    pub delta: i64,
    pub reason: String,
}

/// A manual points correction by the operator; the balance never goes below zero.
pub async fn adjust_points(
    app: &App,
    actor: &Actor,
    id: i64,
    a: &PointAdjustment,
) -> Result<Customer, AppError> {
    let reason = a.reason.trim();
    let mut e = Invalid::default();
    if a.delta == 0 || !(-10_000_000..=10_000_000).contains(&a.delta) {
        e.push(juchu_domain::FieldError::new(
            "delta",
            "out_of_range",
            "ポイントは±1〜10,000,000で入力してください",
        ));
    }
    if reason.is_empty() || reason.chars().count() > 200 {
        e.push(juchu_domain::FieldError::new(
            "reason",
            "required",
            "理由を200文字以内で入力してください",
        ));
    }
    e.into_result(())?;
    let mut tx = app.store.begin().await?;
    customers::get(tx.conn(), actor.shop_id, id)
        .await?
        .ok_or(AppError::NotFound("会員"))?;
    let m = PointMove {
        delta: a.delta,
        reason,
        order_id: None,
        actor: &actor.name,
        allow_negative: false,
    };
    if customers::move_points(&mut tx, actor.shop_id, id, &m, app.now())
        .await?
        .is_none()
    {
        return Err(Invalid::one(
            "delta",
            "insufficient_points",
            "ポイント残高がマイナスになります",
        )
        .into());
    }
    let c = customers::get(tx.conn(), actor.shop_id, id)
        .await?
        .ok_or(AppError::NotFound("会員"))?;
    tx.commit().await?;
    Ok(c)
}

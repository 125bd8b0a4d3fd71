//! 商品管理: products, variants, stock.

use juchu_domain::Invalid;
use juchu_domain::catalog::{Product, Variant};
use juchu_domain::catalog::{ProductInput, validate_price, validate_stock, validate_tax_rate};
use juchu_store::catalog;

use crate::{Actor, App, AppError};

pub async fn create(app: &App, actor: &Actor, input: &ProductInput) -> Result<Product, AppError> {
    let d = input.validate()?;
    let mut tx = app.store.begin().await?;
    let mut e = Invalid::default();
    for (i, v) in d.variants.iter().enumerate() {
        if catalog::variant_by_code(tx.conn(), actor.shop_id, &v.code)
            .await?
            .is_some()
        {
            e.push(juchu_domain::FieldError::new(
                format!("variants[{i}].code"),
                "duplicate",
                format!("商品コード「{}」はすでに登録されています", v.code),
            ));
        }
    }
    e.into_result(())?;
    let id = catalog::create(&mut tx, actor.shop_id, &d, app.now()).await?;
    let p = catalog::get(tx.conn(), actor.shop_id, id)
        .await?
        .ok_or(AppError::NotFound("商品"))?;
    tx.commit().await?;
    Ok(p)
}

pub async fn get(app: &App, actor: &Actor, id: i64) -> Result<Product, AppError> {
    catalog::get(&mut *app.store.read().await?, actor.shop_id, id)
        .await?
        .ok_or(AppError::NotFound("商品"))
}

pub async fn list(
    app: &App,
    actor: &Actor,
    q: &str,
    page: i64,
    per_page: i64,
) -> Result<(i64, Vec<Product>), AppError> {
    juchu_domain::search::check_search_text("q", q).map_err(|f| juchu_domain::Invalid(vec![f]))?;
    let (page, per_page) = (page.max(1), per_page.clamp(1, 1000));
    Ok(catalog::list(
        &mut *app.store.read().await?,
        actor.shop_id,
        q,
        per_page,
        juchu_domain::search::page_offset(page, per_page),
    )
    .await?)
}

#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantPatch {
    pub price: Option<i64>,
    pub tax_rate: Option<i64>,
    /// A number, or null for unlimited stock.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub stock: Option<Option<i64>>,
}

/// Tell "stock": null (unlimited) from a missing "stock" (unchanged).
mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
        Option::<i64>::deserialize(d).map(Some)
    }
}

pub async fn update_variant(
    app: &App,
    actor: &Actor,
    code: &str,
    p: &VariantPatch,
) -> Result<Variant, AppError> {
    let mut e = Invalid::default();
    let price = p.price.and_then(|v| e.take(validate_price("price", v)));
    let rate = p
        .tax_rate
        .and_then(|v| e.take(validate_tax_rate("tax_rate", v)));
    let stock = match p.stock {
        None => None,
        Some(s) => e.take(validate_stock("stock", s)),
    };
    e.into_result(())?;
    let mut tx = app.store.begin().await?;
    if !catalog::update_variant(&mut tx, actor.shop_id, code, price, rate, stock).await? {
        return Err(AppError::NotFound("商品コード"));
    }
    let v = catalog::variant_by_code(tx.conn(), actor.shop_id, code)
        .await?
        .ok_or(AppError::NotFound("商品コード"))?;
    tx.commit().await?;
    Ok(v)
}

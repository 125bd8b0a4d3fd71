//! Products and their variants (規格): what orders are made of and where stock is counted.

use jiff::Timestamp;

use crate::customer::text;
use crate::money::{MAX_UNIT_PRICE, Yen};
use crate::tax::TaxRate;
use crate::{FieldError, Invalid};

#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantInput {
    /// 商品コード, unique in the shop
    pub code: String,
    #[serde(default)]
    pub class1: String,
    #[serde(default)]
    pub class2: String,
    /// 販売価格 (税込)
    pub price: i64,
    /// 10 or 8
    #[serde(default = "ten")]
    pub tax_rate: i64,
    /// 在庫数; omitted = unlimited (在庫無制限)
    #[serde(default)]
    pub stock: Option<i64>,
}

fn ten() -> i64 {
    10
}

#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub name: String,
    pub variants: Vec<VariantInput>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct VariantDraft {
    pub code: String,
    pub class1: String,
    pub class2: String,
    pub price: Yen,
    pub tax_rate: TaxRate,
    pub stock: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ProductDraft {
    pub name: String,
    pub variants: Vec<VariantDraft>,
}

pub const MAX_STOCK: i64 = 9_999_999;

/// 規格1 / 規格2 as one label (`白 / M`), leaving out the empty ones.
pub fn class_label(class1: &str, class2: &str) -> String {
    [class1, class2]
        .into_iter()
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}

pub fn validate_stock(field: &str, stock: Option<i64>) -> Result<Option<i64>, Invalid> {
    match stock {
        Some(s) if !(0..=MAX_STOCK).contains(&s) => Err(Invalid::one(
            field,
            "out_of_range",
            format!("在庫数は0〜{MAX_STOCK}で入力してください"),
        )),
        s => Ok(s),
    }
}

pub fn validate_price(field: &str, price: i64) -> Result<Yen, Invalid> {
    if !(0..=MAX_UNIT_PRICE).contains(&price) {
        return Err(Invalid::one(
            field,
            "out_of_range",
            format!(
                "価格は0〜{}円で入力してください",
                crate::money::group(MAX_UNIT_PRICE)
            ),
        ));
    }
    Yen::new(price).map_err(|_| Invalid::one(field, "out_of_range", "価格が正しくありません"))
}

pub fn validate_tax_rate(field: &str, rate: i64) -> Result<TaxRate, Invalid> {
    TaxRate::from_percent(rate)
        .ok_or_else(|| Invalid::one(field, "unknown_tax_rate", "税率は10または8です"))
}

impl VariantInput {
    pub fn validate(&self) -> Result<VariantDraft, Invalid> {
        let mut e = Invalid::default();
        let code = text(&mut e, "code", &self.code, true, 100);
        if code.chars().any(char::is_whitespace) {
            e.push(FieldError::new(
                "code",
                "invalid_code",
                "商品コードに空白は使えません",
            ));
        }
        let class1 = text(&mut e, "class1", &self.class1, false, 100);
        let class2 = text(&mut e, "class2", &self.class2, false, 100);
        let price = e.take(validate_price("price", self.price));
        let tax_rate = e.take(validate_tax_rate("tax_rate", self.tax_rate));
        let stock = e.take(validate_stock("stock", self.stock));
        match (price, tax_rate, stock) {
            (Some(price), Some(tax_rate), Some(stock)) if e.is_empty() => Ok(VariantDraft {
                code,
                class1,
                class2,
                price,
                tax_rate,
                stock,
            }),
            _ => Err(e),
        }
    }
}

impl ProductInput {
    pub fn validate(&self) -> Result<ProductDraft, Invalid> {
        let mut e = Invalid::default();
        let name = text(&mut e, "name", &self.name, true, 200);
        if self.variants.is_empty() {
            e.push(FieldError::new(
                "variants",
                "required",
                "商品コードを1つ以上登録してください",
            ));
        }
        let mut variants = Vec::new();
        for (i, v) in self.variants.iter().enumerate() {
            if let Some(v) = e.take(v.validate().map_err(|x| x.under(&format!("variants[{i}]")))) {
                if variants.iter().any(|x: &VariantDraft| x.code == v.code) {
                    e.push(FieldError::new(
                        format!("variants[{i}].code"),
                        "duplicate",
                        "商品コードが重複しています",
                    ));
                }
                variants.push(v);
            }
        }
        e.into_result(ProductDraft { name, variants })
    }
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Variant {
    pub id: i64,
    pub product_id: i64,
    pub product_name: String,
    #[serde(flatten)]
    pub draft: VariantDraft,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub variants: Vec<Variant>,
}

// キャンセル在庫: items of cancelled orders, waiting to be put back on sale.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CancelledStock {
    pub id: i64,
    pub order_number: i64,
    pub product_code: String,
    pub product_name: String,
    pub class1: String,
    pub class2: String,
    pub quantity: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub returned_at: Option<Timestamp>,
    pub returned_by: Option<String>,
}

//! Consumption tax: 10% standard, 8% reduced (food). Prices are tax-inclusive (内税), so the
//! tax is the part of an amount that is tax, rounded down, per rate — the 10%対象 / 8%対象
//! breakdown printed on slips and invoices.

use crate::money::{Overflow, Yen};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub enum TaxRate {
    /// 8% 軽減税率
    Reduced8,
    /// 10% 標準税率
    Standard10,
}

/// On the wire the rate is its percent, 8 or 10 (as `serde` writes it), not the variant's name.
impl utoipa::PartialSchema for TaxRate {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .enum_values(Some([8, 10]))
            .description(Some("税率（%）: 8 軽減税率、10 標準税率"))
            .into()
    }
}

impl utoipa::ToSchema for TaxRate {}

impl TaxRate {
    pub const ALL: [TaxRate; 2] = [TaxRate::Standard10, TaxRate::Reduced8];

    pub fn percent(self) -> i64 {
        match self {
            TaxRate::Reduced8 => 8,
            TaxRate::Standard10 => 10,
        }
    }

    pub fn from_percent(p: i64) -> Option<TaxRate> {
        match p {
            8 => Some(TaxRate::Reduced8),
            10 => Some(TaxRate::Standard10),
            _ => None,
        }
    }

    /// The tax contained in a tax-inclusive amount, rounded down (切り捨て).
    pub fn tax_in(self, amount: Yen) -> Yen {
        let p = self.percent();
        // |amount| <= MAX_YEN < 1e12, times 10 cannot overflow i64.
        let tax = amount.get() * p / (100 + p);
        Yen::new(tax).unwrap_or(Yen::ZERO)
    }

    /// `10%対象` / `8%対象`
    pub fn label(self) -> &'static str {
        match self {
            TaxRate::Reduced8 => "8%対象",
            TaxRate::Standard10 => "10%対象",
        }
    }
}

impl TryFrom<i64> for TaxRate {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        TaxRate::from_percent(v).ok_or_else(|| format!("tax rate must be 10 or 8, got {v}"))
    }
}

impl From<TaxRate> for i64 {
    fn from(r: TaxRate) -> i64 {
        r.percent()
    }
}

/// One line of the per-rate breakdown: the tax-inclusive amount subject to the rate and the
/// tax inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RateAmount {
    pub rate: TaxRate,
    /// 対象額 (tax included)
    pub amount: Yen,
    /// 消費税額 (contained in `amount`)
    pub tax: Yen,
}

/// Per-rate amounts after discount. `by_rate` always lists 10% first, then 8%.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TaxBreakdown {
    pub by_rate: Vec<RateAmount>,
}

impl TaxBreakdown {
    /// Split a discount over the rates in proportion to their amounts (rounded down on the
    /// reduced rate, the remainder on the standard rate), never taking a rate below zero.
    ///
    /// `standard` includes shipping and fees, which are always taxed at 10%.
    pub fn with_discount(standard: Yen, reduced: Yen, discount: Yen) -> Result<Self, Overflow> {
        let base = standard.checked_add(reduced)?;
        let reduced_share = if base.get() == 0 {
            Yen::ZERO
        } else {
            // i128: discount * reduced can reach 1e24.
            let share = discount.get() as i128 * reduced.get() as i128 / base.get() as i128;
            Yen::new(share as i64)?.min(reduced)
        };
        let standard_share = discount.checked_sub(reduced_share)?;
        let s = standard.checked_sub(standard_share)?;
        let r = reduced.checked_sub(reduced_share)?;
        Ok(Self {
            by_rate: vec![
                RateAmount {
                    rate: TaxRate::Standard10,
                    amount: s,
                    tax: TaxRate::Standard10.tax_in(s),
                },
                RateAmount {
                    rate: TaxRate::Reduced8,
                    amount: r,
                    tax: TaxRate::Reduced8.tax_in(r),
                },
            ],
        })
    }

    pub fn total_tax(&self) -> Yen {
        Yen::sum(self.by_rate.iter().map(|r| r.tax)).unwrap_or(Yen::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::MAX_YEN;
    use proptest::prelude::*;

    fn y(v: i64) -> Yen {
        Yen::new(v).unwrap()
    }

    #[test]
    fn tax_inside_inclusive_prices() {
        assert_eq!(TaxRate::Standard10.tax_in(y(1100)), y(100));
        assert_eq!(TaxRate::Reduced8.tax_in(y(1080)), y(80));
        // 2,990 * 10 / 110 = 271.8 → 271
        assert_eq!(TaxRate::Standard10.tax_in(y(2990)), y(271));
        assert_eq!(TaxRate::Reduced8.tax_in(y(1)), y(0));
    }

    #[test]
    fn discount_split_by_proportion() {
        let b = TaxBreakdown::with_discount(y(3000), y(1000), y(400)).unwrap();
        assert_eq!(b.by_rate[0].amount, y(2700));
        assert_eq!(b.by_rate[1].amount, y(900));
    }

    #[test]
    fn rate_serializes_as_percent() {
        assert_eq!(serde_json_like(TaxRate::Reduced8), 8);
        assert!(TaxRate::try_from(5).is_err());
    }

    fn serde_json_like(r: TaxRate) -> i64 {
        r.into()
    }

    proptest! {
        #[test]
        fn breakdown_sums_to_total(
            std in 0..MAX_YEN / 4, red in 0..MAX_YEN / 4, disc_permille in 0i64..=1000
        ) {
            let discount = y((std + red) * disc_permille / 1000);
            let b = TaxBreakdown::with_discount(y(std), y(red), discount).unwrap();
            let sum = b.by_rate[0].amount.get() + b.by_rate[1].amount.get();
            prop_assert_eq!(sum, std + red - discount.get());
            for r in &b.by_rate {
                prop_assert!(r.amount.get() >= 0);
                prop_assert!(r.tax.get() >= 0 && r.tax.get() <= r.amount.get());
            }
        }
    }
}

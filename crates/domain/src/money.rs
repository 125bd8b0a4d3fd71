//! Money is integer yen. Every operation is checked: an overflow is an error, never a wrap.

use std::fmt;

use crate::Invalid;

/// An amount of Japanese yen. Can be negative only as a difference; order amounts are
/// validated non-negative where they are built.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct Yen(i64);

/// Largest amount juchu accepts anywhere (just under 1 trillion yen). Far above any real
/// order, far below i64 overflow, so sums of many orders stay exact.
pub const MAX_YEN: i64 = 999_999_999_999;

/// Largest unit price of one item (9 digits, as EC carts allow).
pub const MAX_UNIT_PRICE: i64 = 999_999_999;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("amount out of range (at most {MAX_YEN} yen)")]
pub struct Overflow;

impl Yen {
    pub const ZERO: Yen = Yen(0);

    /// An amount in range `-MAX_YEN..=MAX_YEN`.
    pub fn new(v: i64) -> Result<Yen, Overflow> {
        if (-MAX_YEN..=MAX_YEN).contains(&v) {
            Ok(Yen(v))
        } else {
            Err(Overflow)
        }
    }

    /// A non-negative amount for field `field`, as an input validation.
    pub fn non_negative(field: &str, v: i64) -> Result<Yen, Invalid> {
        if v < 0 {
            return Err(Invalid::one(field, "negative", "0円以上で入力してください"));
        }
        Yen::new(v).map_err(|_| {
            Invalid::one(
                field,
                "out_of_range",
                format!("{}円以下で入力してください", group(MAX_YEN)),
            )
        })
    }

    pub fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, o: Yen) -> Result<Yen, Overflow> {
        self.0.checked_add(o.0).ok_or(Overflow).and_then(Yen::new)
    }

    pub fn checked_sub(self, o: Yen) -> Result<Yen, Overflow> {
        self.0.checked_sub(o.0).ok_or(Overflow).and_then(Yen::new)
    }

    pub fn checked_mul(self, n: i64) -> Result<Yen, Overflow> {
        self.0.checked_mul(n).ok_or(Overflow).and_then(Yen::new)
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Sum of many amounts, checked.
    pub fn sum<I: IntoIterator<Item = Yen>>(it: I) -> Result<Yen, Overflow> {
        it.into_iter().try_fold(Yen::ZERO, |a, b| a.checked_add(b))
    }
}

/// `1234567` → `1,234,567` (the way every Japanese admin screen writes yen).
pub fn group(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if v < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2990` → `2,990円`: an amount as screens, mails and slips show it.
pub fn yen(v: i64) -> String {
    format!("{}円", group(v))
}

impl fmt::Display for Yen {
    /// `2,990円`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&yen(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(-1234567), "-1,234,567");
        assert_eq!(Yen(2990).to_string(), "2,990円");
    }

    #[test]
    fn bounds() {
        assert!(Yen::new(MAX_YEN).is_ok());
        assert!(Yen::new(MAX_YEN + 1).is_err());
        assert!(Yen::new(i64::MIN).is_err());
        assert_eq!(Yen(MAX_YEN).checked_add(Yen(1)), Err(Overflow));
        assert_eq!(Yen(MAX_YEN).checked_mul(i64::MAX), Err(Overflow));
        assert!(Yen::non_negative("x", -1).is_err());
    }

    proptest! {
        #[test]
        fn add_sub_roundtrip(a in -MAX_YEN..=MAX_YEN, b in -MAX_YEN..=MAX_YEN) {
            let (a, b) = (Yen(a), Yen(b));
            match a.checked_add(b) {
                Ok(s) => prop_assert_eq!(s.checked_sub(b), Ok(a)),
                Err(_) => prop_assert!((a.0 as i128 + b.0 as i128).abs() > MAX_YEN as i128),
            }
        }

        #[test]
        fn group_strips_back(v in any::<i64>()) {
            prop_assert_eq!(group(v).replace(',', "").parse::<i64>().ok(), Some(v));
        }
    }
}

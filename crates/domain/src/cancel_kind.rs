//! Which cancel a card gateway takes depends on Japan-time dates. GMO-PG: 取消 (VOID) on the
//! day of the last processing, 返品 (RETURN) later in the same month (or for an uncaptured
//! authorization), 月跨返品 (RETURNX) in a later month, nothing after 180 days.

use jiff::Timestamp;

use crate::time::jst_date;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GmoCancel {
    /// 取消
    Void,
    /// 返品
    Return,
    /// 月跨返品
    ReturnX,
}

impl GmoCancel {
    pub fn label(self) -> &'static str {
        match self {
            GmoCancel::Void => "取消",
            GmoCancel::Return => "返品",
            GmoCancel::ReturnX => "月跨返品",
        }
    }
}

pub const GMO_CANCEL_LIMIT_DAYS: i64 = 180;

/// The cancel GMO accepts for a transaction last processed at `processed`, `captured` or
/// not, cancelled at `now`; `None` past 180 days (the shop refunds the buyer directly).
pub fn gmo_cancel_kind(captured: bool, processed: Timestamp, now: Timestamp) -> Option<GmoCancel> {
    if now.duration_since(processed).as_secs() / 86_400 > GMO_CANCEL_LIMIT_DAYS {
        return None;
    }
    let (a, b) = (jst_date(processed), jst_date(now));
    Some(if a == b {
        GmoCancel::Void
    } else if (a.year(), a.month()) == (b.year(), b.month()) || !captured {
        GmoCancel::Return
    } else {
        GmoCancel::ReturnX
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn across_midnight_and_month_end_in_japan() {
        let p = t("2024-08-31T23:50:00+09:00");
        assert_eq!(
            gmo_cancel_kind(true, p, t("2024-08-31T23:59:59+09:00")),
            Some(GmoCancel::Void)
        );
        assert_eq!(
            gmo_cancel_kind(true, p, t("2024-09-01T00:00:01+09:00")),
            Some(GmoCancel::ReturnX)
        );
        assert_eq!(
            gmo_cancel_kind(false, p, t("2024-09-01T00:00:01+09:00")),
            Some(GmoCancel::Return)
        );
        // 15:10 UTC on the 31st is already 1 September in Japan.
        assert_eq!(
            gmo_cancel_kind(true, p, "2024-08-31T15:10:00Z".parse().unwrap()),
            Some(GmoCancel::ReturnX)
        );
        let mid = t("2024-09-02T10:00:00+09:00");
        assert_eq!(
            gmo_cancel_kind(true, mid, t("2024-09-30T23:00:00+09:00")),
            Some(GmoCancel::Return)
        );
        assert_eq!(
            gmo_cancel_kind(true, mid, t("2025-03-02T10:00:00+09:00")),
            None
        );
    }

    proptest! {
        #[test]
        fn void_exactly_on_the_same_japan_day(p in 1_600_000_000i64..1_900_000_000, d in 0i64..(200 * 86_400), captured in any::<bool>()) {
            let processed = Timestamp::from_second(p).unwrap();
            let now = Timestamp::from_second(p + d).unwrap();
            let k = gmo_cancel_kind(captured, processed, now);
            prop_assert_eq!(k == Some(GmoCancel::Void), jst_date(processed) == jst_date(now));
            prop_assert_eq!(k.is_none(), d / 86_400 > GMO_CANCEL_LIMIT_DAYS);
            if !captured { prop_assert_ne!(k, Some(GmoCancel::ReturnX)); }
        }
    }
}

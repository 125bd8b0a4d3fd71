//! Business dates are Japan dates. Instants are stored in UTC; the date an operator sees or
//! types is the Asia/Tokyo calendar date. Japan has had no daylight saving time since 1951,
//! so a fixed +09:00 offset is exact and needs no tz database on the machine.

use jiff::civil::Date;
use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, Zoned};

pub fn jst() -> TimeZone {
    TimeZone::fixed(Offset::constant(9))
}

/// The Japan calendar date of an instant.
pub fn jst_date(t: Timestamp) -> Date {
    t.to_zoned(jst()).date()
}

pub fn jst_zoned(t: Timestamp) -> Zoned {
    t.to_zoned(jst())
}

/// The instant a Japan date begins (00:00 JST).
pub fn jst_day_start(d: Date) -> Timestamp {
    // A civil date at midnight in a fixed offset always exists.
    d.to_zoned(jst())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The instant the next Japan day begins: the exclusive end of an inclusive date range.
pub fn jst_day_end(d: Date) -> Timestamp {
    match d.tomorrow() {
        Ok(next) => jst_day_start(next),
        Err(_) => Timestamp::MAX,
    }
}

/// `2024/08/19 14:10` as the manuals' lists show times.
/// A date as the screens, mails and slips write it: `2024/08/19`.
pub fn format_date(d: Date) -> String {
    d.strftime("%Y/%m/%d").to_string()
}

pub fn format_jst_minute(t: Timestamp) -> String {
    jst_zoned(t).strftime("%Y/%m/%d %H:%M").to_string()
}

/// To the second, for logs of runs that take seconds.
pub fn format_jst_second(t: Timestamp) -> String {
    jst_zoned(t).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// Canonical storage form of an instant: fixed width, so text order is time order.
pub fn to_db(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub fn from_db(s: &str) -> Result<Timestamp, jiff::Error> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japan_date_of_utc_evening_is_next_day() {
        let t: Timestamp = "2024-08-19T15:30:00Z".parse().unwrap();
        assert_eq!(jst_date(t), jiff::civil::date(2024, 8, 20));
        assert_eq!(format_jst_minute(t), "2024/08/20 00:30");
    }

    #[test]
    fn day_bounds() {
        let d = jiff::civil::date(2024, 8, 19);
        assert_eq!(to_db(jst_day_start(d)), "2024-08-18T15:00:00.000000Z");
        assert_eq!(to_db(jst_day_end(d)), "2024-08-19T15:00:00.000000Z");
    }

    #[test]
    fn db_form_roundtrips_and_sorts() {
        let a: Timestamp = "2024-01-02T03:04:05.5Z".parse().unwrap();
        let b: Timestamp = "2024-01-02T03:04:05.25Z".parse().unwrap();
        assert_eq!(from_db(&to_db(a)).unwrap(), a);
        assert!(to_db(b) < to_db(a));
    }
}

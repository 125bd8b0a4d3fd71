//! Forgiving parsing of what operators type: full-width digits, `2024/08/19` or `2024-08-19`,
//! phone numbers with hyphens. Normalize first, then validate strictly.

use jiff::civil::Date;

use crate::Invalid;

/// Full-width ASCII (０-９, Ａ-Ｚ, －, ／, ：, full-width space) to half-width; trims.
pub fn normalize_ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            // Minus signs and dashes typed for a hyphen in numbers and dates.
            '\u{2212}' | '\u{2010}'..='\u{2015}' => '-',
            _ => c,
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// A date as operators type it: `2024-08-19`, `2024/08/19`, `2024/8/9`, full-width too.
pub fn parse_date(field: &str, s: &str) -> Result<Date, Invalid> {
    let n = normalize_ascii(s);
    let bad = || {
        Invalid::one(
            field,
            "invalid_date",
            format!("日付は 2024/08/19 の形式で入力してください（入力値: {s}）"),
        )
    };
    let parts: Vec<&str> = n.split(['/', '-']).collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || p.len() > 4) {
        return Err(bad());
    }
    let num = |p: &str| p.parse::<i16>().map_err(|_| bad());
    let (y, m, d) = (num(parts[0])?, num(parts[1])?, num(parts[2])?);
    if parts[0].len() != 4 || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Date::new(y, m as i8, d as i8).map_err(|_| {
        Invalid::one(
            field,
            "invalid_date",
            format!("存在しない日付です（入力値: {s}）"),
        )
    })
}

/// A whole number as typed: full-width digits, thousands separators and a trailing 円 allowed.
pub fn parse_int(field: &str, s: &str) -> Result<i64, Invalid> {
    let n: String = normalize_ascii(s)
        .chars()
        .filter(|c| *c != ',' && *c != '円')
        .collect();
    n.parse::<i64>().map_err(|_| {
        Invalid::one(
            field,
            "invalid_number",
            format!("半角数字で入力してください（入力値: {s}）"),
        )
    })
}

/// Phone numbers are stored and searched as digits only.
pub fn tel_digits(s: &str) -> String {
    normalize_ascii(s)
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

/// Names and kana are searched without spaces (full- or half-width).
pub fn squash_spaces(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{3000}')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn dates_in_both_forms_and_full_width() {
        assert_eq!(parse_date("d", "2024/08/19").unwrap(), date(2024, 8, 19));
        assert_eq!(parse_date("d", "2024-08-19").unwrap(), date(2024, 8, 19));
        assert_eq!(parse_date("d", "2024/8/9").unwrap(), date(2024, 8, 9));
        assert_eq!(
            parse_date("d", "２０２４／０８／１９").unwrap(),
            date(2024, 8, 19)
        );
    }

    #[test]
    fn bad_dates_name_the_field() {
        for s in [
            "2024/02/30",
            "24/08/19",
            "2024-13-01",
            "yesterday",
            "2024/08",
            "",
        ] {
            let e = parse_date("ordered_from", s).unwrap_err();
            assert_eq!(e.0[0].field, "ordered_from", "{s}");
            assert_eq!(e.0[0].code, "invalid_date");
        }
    }

    #[test]
    fn numbers_as_typed() {
        assert_eq!(parse_int("n", "１，２３４円").unwrap(), 1234);
        assert_eq!(parse_int("n", " 42 ").unwrap(), 42);
        assert!(parse_int("n", "4a").is_err());
    }

    #[test]
    fn tel_and_names() {
        assert_eq!(tel_digits("０３－１２３４－５６７８"), "0312345678");
        assert_eq!(squash_spaces("山田　太郎 "), "山田太郎");
    }
}

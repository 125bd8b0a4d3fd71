//! 送り状データ: one row per order in the layout of ヤマト運輸 B2クラウド「外部データから
//! 発行」(基本レイアウト, 95 columns). Field lengths are B2's: "全角16文字/半角32文字" is
//! 32 bytes of Shift_JIS, so text is measured and cut in CP932 bytes. See docs/csv.md.

use super::Sender;
use jiff::civil::Date;
use juchu_domain::customer::Person;
use juchu_domain::order::Order;
use juchu_domain::payment_method::PaymentMethod;

use super::to_sjis;

/// The header row. B2 reads the columns by position; the names are Yamato's own.
pub const HEADERS: [&str; 95] = [
    "お客様管理番号",
    "送り状種類",
    "クール区分",
    "伝票番号",
    "出荷予定日",
    "お届け予定日",
    "配達時間帯",
    "お届け先コード",
    "お届け先電話番号",
    "お届け先電話番号枝番",
    "お届け先郵便番号",
    "お届け先住所",
    "お届け先アパートマンション名",
    "お届け先会社・部門１",
    "お届け先会社・部門２",
    "お届け先名",
    "お届け先名(ｶﾅ)",
    "敬称",
    "ご依頼主コード",
    "ご依頼主電話番号",
    "ご依頼主電話番号枝番",
    "ご依頼主郵便番号",
    "ご依頼主住所",
    "ご依頼主アパートマンション",
    "ご依頼主名",
    "ご依頼主名(ｶﾅ)",
    "品名コード１",
    "品名１",
    "品名コード２",
    "品名２",
    "荷扱い１",
    "荷扱い２",
    "記事",
    "ｺﾚｸﾄ代金引換額（税込)",
    "内消費税額等",
    "止置き",
    "営業所コード",
    "発行枚数",
    "個数口表示フラグ",
    "請求先顧客コード",
    "請求先分類コード",
    "運賃管理番号",
    "クロネコwebコレクトデータ登録",
    "クロネコwebコレクト加盟店番号",
    "クロネコwebコレクト申込受付番号１",
    "クロネコwebコレクト申込受付番号２",
    "クロネコwebコレクト申込受付番号３",
    "お届け予定ｅメール利用区分",
    "お届け予定ｅメールe-mailアドレス",
    "入力機種",
    "お届け予定ｅメールメッセージ",
    "お届け完了ｅメール利用区分",
    "お届け完了ｅメールe-mailアドレス",
    "お届け完了ｅメールメッセージ",
    "クロネコ収納代行利用区分",
    "予備",
    "収納代行請求金額(税込)",
    "収納代行内消費税額等",
    "収納代行請求先郵便番号",
    "収納代行請求先住所",
    "収納代行請求先住所（アパートマンション名）",
    "収納代行請求先会社・部門名１",
    "収納代行請求先会社・部門名２",
    "収納代行請求先名(漢字)",
    "収納代行請求先名(カナ)",
    "収納代行問合せ先名(漢字)",
    "収納代行問合せ先郵便番号",
    "収納代行問合せ先住所",
    "収納代行問合せ先住所（アパートマンション名）",
    "収納代行問合せ先電話番号",
    "収納代行管理番号",
    "収納代行品名",
    "収納代行備考",
    "複数口くくりキー",
    "検索キータイトル1",
    "検索キー1",
    "検索キータイトル2",
    "検索キー2",
    "検索キータイトル3",
    "検索キー3",
    "検索キータイトル4",
    "検索キー4",
    "検索キータイトル5",
    "検索キー5",
    "予備",
    "予備",
    "投函予定メール利用区分",
    "投函予定メールe-mailアドレス",
    "投函予定メールメッセージ",
    "投函完了メール（お届け先宛）利用区分",
    "投函完了メール（お届け先宛）e-mailアドレス",
    "投函完了メール（お届け先宛）メールメッセージ",
    "投函完了メール（ご依頼主宛）利用区分",
    "投函完了メール（ご依頼主宛）e-mailアドレス",
    "投函完了メール（ご依頼主宛）メールメッセージ",
];

/// B2's limits, in Shift_JIS bytes (全角 = 2).
pub mod limit {
    pub const ADDRESS: usize = 64;
    pub const BUILDING: usize = 32;
    pub const COMPANY: usize = 50;
    pub const NAME: usize = 32;
    pub const KANA: usize = 50;
    pub const ITEM_NAME: usize = 50;
    pub const NOTE: usize = 44;
    pub const TEL: usize = 15;
    /// コレクト代金引換額: 1 to 300,000 yen.
    pub const COLLECT_MAX: i64 = 300_000;
}

/// Bytes a character takes in CP932 (what B2 counts): 1 for ASCII and half-width katakana,
/// else what the encoder writes ('?' for what CP932 lacks).
fn width(c: char) -> usize {
    if c.is_ascii() || ('\u{FF61}'..='\u{FF9F}').contains(&c) {
        1
    } else {
        to_sjis(c.encode_utf8(&mut [0; 4])).len()
    }
}

pub fn sjis_width(s: &str) -> usize {
    s.chars().map(width).sum()
}

/// The longest prefix of `s` within `max` bytes, and the rest. A cut prefers the last space
/// in the second half of the prefix (addresses split better between words).
fn split_at_width(s: &str, max: usize) -> (String, String) {
    let mut used = 0;
    let mut end = s.len();
    for (i, c) in s.char_indices() {
        let w = width(c);
        if used + w > max {
            end = i;
            break;
        }
        used += w;
    }
    if end == s.len() {
        return (s.to_owned(), String::new());
    }
    let head = &s[..end];
    if let Some((i, sp)) = head
        .char_indices()
        .rev()
        .find(|(_, c)| *c == ' ' || *c == '\u{3000}')
        && i >= end / 2
    {
        return (
            head[..i].trim_end().to_owned(),
            s[i + sp.len_utf8()..].trim_start().to_owned(),
        );
    }
    (head.to_owned(), s[end..].to_owned())
}

/// Text within `max` bytes, made safe for a spreadsheet first so the `'` it may gain counts.
fn fit(s: &str, max: usize) -> String {
    split_at_width(&super::neutralize(s.trim()), max).0
}

/// Lay an address over B2's fields: the street line, the building line, and what still does
/// not fit into a spare line (お届け先会社・部門２ for the delivery address). Nothing is
/// dropped unless all of them are full.
fn spread(line: &str, building: &str, limits: &[usize]) -> Vec<String> {
    let mut out = Vec::with_capacity(limits.len());
    let (l, rest) = split_at_width(&super::neutralize(line.trim()), limits[0]);
    out.push(l);
    let mut pending = format!("{rest}{}", building.trim());
    for &max in &limits[1..] {
        let (part, rest) = split_at_width(&super::neutralize(pending.trim()), max);
        out.push(part);
        pending = rest;
    }
    out
}

/// Full-width (and hiragana) kana to the half-width katakana B2's ｶﾅ fields take; None when
/// something else is in it (kanji), so the field is left empty rather than rejected by B2.
pub fn half_kana(s: &str) -> Option<String> {
    const BASE: &str =
        "ｧｱｨｲｩｳｪｴｫｵｶｶｷｷｸｸｹｹｺｺｻｻｼｼｽｽｾｾｿｿﾀﾀﾁﾁｯﾂﾂﾃﾃﾄﾄﾅﾆﾇﾈﾉﾊﾊﾊﾋﾋﾋﾌﾌﾌﾍﾍﾍﾎﾎﾎﾏﾐﾑﾒﾓｬﾔｭﾕｮﾖﾗﾘﾙﾚﾛﾜﾜｲｴｦﾝｳｶｹ";
    // Per katakana from ァ (U+30A1) to ヶ (U+30F6), row by row of the kana table: 0 plain,
    // 1 with ﾞ, 2 with ﾟ.
    const MARK: &[u8] = concat!(
        "0000000000",      // ァ–オ
        "0101010101",      // カ–ゴ
        "0101010101",      // サ–ゾ
        "01010010101",     // タ–ド (ッ between ヂ and ツ)
        "00000",           // ナ–ノ
        "012012012012012", // ハ–ポ
        "00000",           // マ–モ
        "000000",          // ャ–ヨ
        "00000",           // ラ–ロ
        "000000",          // ヮ–ン
        "100",             // ヴ ヵ ヶ
    )
    .as_bytes();
    let base: Vec<char> = BASE.chars().collect();
    let mut out = String::new();
    for c in s.chars() {
        let k = match c {
            '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            _ => c,
        };
        match k {
            '\u{30A1}'..='\u{30F6}' => {
                let i = (k as u32 - 0x30A1) as usize;
                let (Some(b), Some(m)) = (base.get(i), MARK.get(i)) else {
                    return None;
                };
                out.push(*b);
                match m {
                    b'1' => out.push('ﾞ'),
                    b'2' => out.push('ﾟ'),
                    _ => {}
                }
            }
            'ー' | '－' | '-' => out.push('ｰ'),
            '　' | ' ' => out.push(' '),
            '・' => out.push('･'),
            c if c.is_ascii_alphanumeric() => out.push(c),
            '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => {
                out.push(char::from_u32(k as u32 - 0xFEE0).unwrap_or(k))
            }
            c if ('\u{FF61}'..='\u{FF9F}').contains(&c) => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

/// 配達時間帯 code for the order's 配達時間 text, or empty when it is none of Yamato's
/// current slots (12–14時 ended in 2017 and 20–21時 became 19–21時: the operator picks one
/// in B2 rather than juchu guessing).
pub fn time_slot(s: &str) -> &'static str {
    let n = juchu_domain::input::normalize_ascii(s);
    let n: String = n.chars().filter(|c| !c.is_whitespace()).collect();
    if n.is_empty() {
        return "";
    }
    if n.contains("午前中") || n == "午前" {
        return "0812";
    }
    let digits: Vec<u32> = n
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.parse().ok())
        .collect();
    match digits.as_slice() {
        [8, 12] | [8, 0, 12, 0] => "0812",
        [14, 16] | [14, 0, 16, 0] => "1416",
        [16, 18] | [16, 0, 18, 0] => "1618",
        [18, 20] | [18, 0, 20, 0] => "1820",
        [19, 21] | [19, 0, 21, 0] => "1921",
        _ => "",
    }
}

fn postal(p: &str) -> String {
    let d: String = p.chars().filter(char::is_ascii_digit).collect();
    if d.len() == 7 {
        format!("{}-{}", &d[..3], &d[3..])
    } else {
        fit(p, 8)
    }
}

fn tel(t: &str) -> String {
    fit(&juchu_domain::input::normalize_ascii(t), limit::TEL)
}

/// Where the parcel goes: the delivery address, or the customer's when the order has none.
fn destination(o: &Order) -> &Person {
    let d = &o.draft.delivery;
    if d.family_name.trim().is_empty() && d.address1.trim().is_empty() {
        &o.draft.customer
    } else {
        d
    }
}

/// One order's row (95 fields). `today` is the 出荷予定日 (Japan date of the download).
pub fn row(o: &Order, sender: &Sender, today: Date) -> Vec<String> {
    let d = &o.draft;
    let to = destination(o);
    let collect =
        d.payment_method == PaymentMethod::CashOnDelivery && d.totals.payment_total.get() >= 1;
    let amount = d.totals.payment_total.get();
    // The tax inside what the driver collects: the order's tax, never more than the amount
    // (points pay part of a total without lowering its tax).
    let tax = d.totals.tax.total_tax().get().min(amount);
    let addr = spread(
        &format!("{}{}", to.prefecture, to.address1),
        &to.address2,
        &[limit::ADDRESS, limit::BUILDING, limit::COMPANY],
    );
    let from = spread(&sender.address, "", &[limit::ADDRESS, limit::BUILDING]);
    let tel_to = if to.tel.trim().is_empty() {
        &d.customer.tel
    } else {
        &to.tel
    };
    let mut r = vec![String::new(); HEADERS.len()];
    r[0] = o.number.to_string();
    r[1] = if collect { "2" } else { "0" }.to_owned();
    r[4] = today.strftime("%Y/%m/%d").to_string();
    r[5] = d
        .delivery_date
        .map(|x| x.strftime("%Y/%m/%d").to_string())
        .unwrap_or_default();
    r[6] = time_slot(&d.delivery_time).to_owned();
    r[8] = tel(tel_to);
    r[10] = postal(&to.postal_code);
    r[11] = addr[0].clone();
    r[12] = addr[1].clone();
    r[13] = fit(&to.company, limit::COMPANY);
    r[14] = addr[2].clone();
    r[15] = fit(&to.full_name(), limit::NAME);
    r[16] = half_kana(&to.full_kana())
        .map(|k| fit(&k, limit::KANA))
        .unwrap_or_default();
    r[17] = "様".to_owned();
    r[19] = tel(&sender.tel);
    r[21] = postal(&sender.postal_code);
    r[22] = from[0].clone();
    r[23] = from[1].clone();
    r[24] = fit(&sender.name, limit::NAME);
    r[27] = d
        .items
        .first()
        .map(|i| fit(&i.product_name, limit::ITEM_NAME))
        .unwrap_or_default();
    r[32] = fit(&o.number.to_string(), limit::NOTE);
    if collect {
        r[33] = amount.to_string();
        r[34] = tax.to_string();
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_count_cp932_bytes() {
        assert_eq!(sjis_width("ABC"), 3);
        assert_eq!(sjis_width("山田ｶﾅ"), 6);
        assert_eq!(sjis_width("①髙"), 4);
    }

    #[test]
    fn splits_within_limits_and_keeps_the_rest() {
        let long = "東京都千代田区千代田一丁目一番一号　千代田ビルディング東館";
        let (a, b) = split_at_width(long, 32);
        assert!(sjis_width(&a) <= 32);
        assert_eq!(
            format!("{a}{b}").replace('\u{3000}', ""),
            long.replace('\u{3000}', "")
        );
        let parts = spread(long, "メゾン・ド・ジュチュウ１２３４号室", &[32, 16, 50]);
        assert!(sjis_width(&parts[0]) <= 32 && sjis_width(&parts[1]) <= 16);
        assert!(parts[2].ends_with("号室"), "{parts:?}");
    }

    #[test]
    fn kana_to_half_width() {
        assert_eq!(half_kana("ヤマダ ハナコ").as_deref(), Some("ﾔﾏﾀﾞ ﾊﾅｺ"));
        assert_eq!(half_kana("パーヴ").as_deref(), Some("ﾊﾟｰｳﾞ"));
        assert_eq!(half_kana("がっこう").as_deref(), Some("ｶﾞｯｺｳ"));
        assert_eq!(
            half_kana("ァィゥェォッャュョヮヲン").as_deref(),
            Some("ｧｨｩｪｫｯｬｭｮﾜｦﾝ")
        );
        assert_eq!(half_kana("山田"), None);
    }

    #[test]
    fn time_slots() {
        assert_eq!(time_slot("午前中"), "0812");
        assert_eq!(time_slot("14時～16時"), "1416");
        assert_eq!(time_slot("１６時〜１８時"), "1618");
        assert_eq!(time_slot("18:00-20:00"), "1820");
        assert_eq!(time_slot("19時-21時"), "1921");
        assert_eq!(time_slot("12時～14時"), "");
        assert_eq!(time_slot("指定なし"), "");
        assert_eq!(time_slot(""), "");
    }
}

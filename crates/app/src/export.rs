//! CSV download of a 受注管理 search: one row per order line, streamed in chunks so an export
//! of any size uses little memory. Shift_JIS (CP932) for Excel, or UTF-8 with a BOM.

use bytes::Bytes;
use encoding_rs::{EncoderResult, SHIFT_JIS};
use futures_util::Stream;
use juchu_domain::Invalid;
use juchu_domain::order::Order;
use juchu_domain::search::SearchInput;
use juchu_domain::tax::TaxRate;
use juchu_domain::time::format_jst_minute;

use crate::{Actor, App, AppError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    ShiftJis,
    Utf8,
}

impl Encoding {
    pub fn parse(s: Option<&str>) -> Result<Encoding, Invalid> {
        match s.map(str::trim).unwrap_or("sjis") {
            "" | "sjis" | "shift_jis" | "cp932" => Ok(Encoding::ShiftJis),
            "utf8" | "utf-8" => Ok(Encoding::Utf8),
            other => Err(Invalid::one(
                "encoding",
                "unknown_encoding",
                format!("文字コード「{other}」は使えません（sjis または utf8）"),
            )),
        }
    }

    pub fn charset(self) -> &'static str {
        match self {
            Encoding::ShiftJis => "Shift_JIS",
            Encoding::Utf8 => "UTF-8",
        }
    }
}

pub const COLUMNS: [&str; 32] = [
    "注文番号",
    "受注日時",
    "対応状況",
    "会員ID",
    "顧客名",
    "顧客名(カナ)",
    "メールアドレス",
    "TEL",
    "郵便番号",
    "住所",
    "お届け先名",
    "お届け先住所",
    "支払方法",
    "外部決済注文番号",
    "商品コード",
    "商品名",
    "規格1",
    "規格2",
    "単価",
    "数量",
    "税率",
    "小計",
    "値引き",
    "送料",
    "手数料",
    "合計",
    "使用ポイント",
    "お支払い合計",
    "10%対象",
    "8%対象",
    "発送日",
    "お問い合わせ番号",
];

fn rate_amount(o: &Order, r: TaxRate) -> String {
    o.draft
        .totals
        .tax
        .by_rate
        .iter()
        .find(|x| x.rate == r)
        .map(|x| x.amount.get().to_string())
        .unwrap_or_default()
}

fn rows_of(o: &Order) -> Vec<Vec<String>> {
    let d = &o.draft;
    let t = &d.totals;
    let addr = |p: &juchu_domain::customer::Person| {
        format!("{}{}{}", p.prefecture, p.address1, p.address2)
    };
    d.items
        .iter()
        .map(|it| {
            vec![
                o.number.to_string(),
                format_jst_minute(o.ordered_at),
                d.status.label().to_owned(),
                d.customer_id.map(|c| c.to_string()).unwrap_or_default(),
                d.customer.full_name(),
                d.customer.full_kana(),
                d.email.clone(),
                d.customer.tel.clone(),
                d.customer.postal_code.clone(),
                addr(&d.customer),
                d.delivery.full_name(),
                addr(&d.delivery),
                d.payment_method.label().to_owned(),
                d.gateway_ref.clone(),
                it.product_code.clone(),
                it.product_name.clone(),
                it.class1.clone(),
                it.class2.clone(),
                it.unit_price.get().to_string(),
                it.quantity.to_string(),
                format!("{}%", it.tax_rate.percent()),
                t.subtotal.get().to_string(),
                t.discount.get().to_string(),
                t.shipping_fee.get().to_string(),
                t.fee.get().to_string(),
                t.total.get().to_string(),
                t.points_used.to_string(),
                t.payment_total.get().to_string(),
                rate_amount(o, TaxRate::Standard10),
                rate_amount(o, TaxRate::Reduced8),
                d.shipped_on
                    .map(|x| x.strftime("%Y/%m/%d").to_string())
                    .unwrap_or_default(),
                d.tracking_number.clone(),
            ]
        })
        .collect()
}

fn csv_bytes(rows: &[Vec<String>]) -> Result<Vec<u8>, AppError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for r in rows {
        w.write_record(r)
            .map_err(|e| AppError::Internal(format!("csv: {e}")))?;
    }
    w.into_inner()
        .map_err(|e| AppError::Internal(format!("csv: {e}")))
}

/// Characters Unicode and CP932 spell differently (the WAVE DASH problem): map them to the
/// code points Windows uses, so Excel shows 〜 and － instead of '?'.
fn cp932_friendly(c: char) -> char {
    match c {
        '\u{301C}' => '\u{FF5E}', // 〜 → ～
        '\u{2016}' => '\u{2225}', // ‖ → ∥
        '\u{2212}' => '\u{FF0D}', // − → －
        '\u{00A2}' => '\u{FFE0}', // ¢
        '\u{00A3}' => '\u{FFE1}', // £
        '\u{00AC}' => '\u{FFE2}', // ¬
        '\u{2014}' => '\u{2015}', // — → ―
        _ => c,
    }
}

/// Encode as Shift_JIS (the WHATWG encoder is CP932's superset of JIS X 0208 with the NEC
/// and IBM extensions). Characters CP932 cannot hold become '?', never a byte sequence Excel
/// would misread.
pub fn to_sjis(s: &str) -> Vec<u8> {
    let mapped: String = s.chars().map(cp932_friendly).collect();
    let mut enc = SHIFT_JIS.new_encoder();
    let mut out = Vec::with_capacity(mapped.len() * 2);
    let mut src = mapped.as_str();
    loop {
        let need = enc
            .max_buffer_length_from_utf8_without_replacement(src.len())
            .unwrap_or(src.len() * 4 + 16);
        let start = out.len();
        out.resize(start + need, 0);
        let (res, read, written) =
            enc.encode_from_utf8_without_replacement(src, &mut out[start..], true);
        out.truncate(start + written);
        src = &src[read..];
        match res {
            EncoderResult::InputEmpty => return out,
            EncoderResult::Unmappable(_) => out.push(b'?'),
            EncoderResult::OutputFull => {}
        }
    }
}

fn encode(enc: Encoding, utf8: Vec<u8>) -> Bytes {
    match enc {
        Encoding::Utf8 => Bytes::from(utf8),
        Encoding::ShiftJis => Bytes::from(to_sjis(&String::from_utf8_lossy(&utf8))),
    }
}

const CHUNK: usize = 200;

/// Validate the search and find every match now (so a bad search is an error, not a broken
/// download); then stream the rows.
pub async fn orders_csv(
    app: &App,
    actor: &Actor,
    input: &SearchInput,
    enc: Encoding,
) -> Result<impl Stream<Item = Result<Bytes, AppError>> + Send + 'static, AppError> {
    let search = input.validate()?;
    let ids =
        juchu_store::orders::search_ids(&mut *app.store.read().await?, actor.shop_id, &search)
            .await?;
    let store = app.store.clone();
    let mut header = Vec::new();
    if enc == Encoding::Utf8 {
        header.extend_from_slice("\u{FEFF}".as_bytes());
    }
    header.extend(csv_bytes(&[COLUMNS
        .iter()
        .map(|c| c.to_string())
        .collect()])?);
    let head = futures_util::stream::once(async move { Ok(encode(enc, header)) });
    let chunks: Vec<Vec<i64>> = ids.chunks(CHUNK).map(<[i64]>::to_vec).collect();
    let body = futures_util::stream::unfold(
        (store, chunks.into_iter()),
        move |(store, mut it)| async move {
            let chunk = it.next()?;
            let res = async {
                let orders =
                    juchu_store::orders::get_many(&mut *store.read().await?, &chunk).await?;
                let rows: Vec<Vec<String>> = orders.iter().flat_map(rows_of).collect();
                Ok::<Bytes, AppError>(encode(enc, csv_bytes(&rows)?))
            }
            .await;
            Some((res, (store, it)))
        },
    );
    Ok(futures_util::StreamExt::chain(head, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sjis_of_japanese_and_unmappable() {
        let b = to_sjis("山田　花子〜①髙");
        let (back, _, bad) = SHIFT_JIS.decode(&b);
        assert!(!bad);
        assert_eq!(back, "山田　花子～①髙");
        assert_eq!(to_sjis("a😀b"), b"a?b");
    }
}

//! CSV downloads of a 受注管理 search, streamed in chunks so an export of any size uses
//! little memory: the 受注CSV (one row per order line, in the columns the shop chose in
//! CSV出力項目設定; Shift_JIS (CP932) for Excel, or UTF-8 with a BOM) and the 送り状データ
//! (one row per order in B2クラウド's layout, always Shift_JIS). See docs/csv.md.

pub mod b2;
pub mod columns;

use anyhow::Context;
use std::sync::Arc;

use bytes::Bytes;
use encoding_rs::{EncoderResult, SHIFT_JIS};
use futures_util::Stream;
use jiff::Timestamp;
use juchu_domain::Invalid;
use juchu_domain::history::{HistoryEntry, Outcome};
use juchu_domain::order::Order;
use juchu_domain::search::SearchInput;
use juchu_store::{Store, csv_settings};

use crate::{Actor, App, AppError};
pub use columns::{Column, Line, Per};

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

/// A cell a spreadsheet would run as a formula — it starts with `=`, `+`, `-` or `@`, or a
/// tab or carriage return that may hide one — gets a leading `'`, as OWASP advises for CSV
/// injection: Excel then shows the text (a name like `=HYPERLINK(…)`) instead of running it.
/// A number keeps its sign: `-500` stays a number.
pub fn neutralize(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if !risky || is_number(cell) {
        return std::borrow::Cow::Borrowed(cell);
    }
    std::borrow::Cow::Owned(format!("'{cell}"))
}

/// `-500`, `+81901234`, `-0.5`: a signed number, which no spreadsheet runs.
fn is_number(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    !t.is_empty()
        && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        && t.chars().filter(|c| *c == '.').count() <= 1
}

fn csv_bytes(rows: &[Vec<String>]) -> Result<Vec<u8>, AppError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for r in rows {
        w.write_record(r.iter().map(|c| neutralize(c).into_owned()))
            .context("csv")?;
    }
    Ok(w.into_inner().context("csv")?)
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

fn header_bytes(enc: Encoding, headers: Vec<String>) -> Result<Bytes, AppError> {
    let mut out = Vec::new();
    if enc == Encoding::Utf8 {
        out.extend_from_slice("\u{FEFF}".as_bytes());
    }
    out.extend(csv_bytes(&[headers])?);
    Ok(encode(enc, out))
}

const CHUNK: usize = 200;

/// The payments of a chunk's orders, by order id (決済状況 as of the export's start).
type Payments = std::collections::HashMap<i64, crate::orders::PaymentBrief>;

/// The header, then the rows of `ids` read `CHUNK` orders at a time: memory stays flat
/// whatever the size of the export.
fn stream_rows<F>(
    store: Store,
    now: jiff::Timestamp,
    ids: Vec<i64>,
    enc: Encoding,
    head: Bytes,
    rows: F,
) -> impl Stream<Item = Result<Bytes, AppError>> + Send + 'static
where
    F: Fn(&[Order], &Payments) -> Vec<Vec<String>> + Send + Sync + 'static,
{
    let head = futures_util::stream::once(async move { Ok(head) });
    let chunks: Vec<Vec<i64>> = ids.chunks(CHUNK).map(<[i64]>::to_vec).collect();
    let body = futures_util::stream::unfold(
        (store, chunks.into_iter(), Arc::new(rows)),
        move |(store, mut it, rows)| async move {
            let chunk = it.next()?;
            let res = async {
                let mut conn = store.read().await?;
                let orders = juchu_store::orders::get_many(&mut conn, &chunk).await?;
                let payments = crate::orders::briefs_in(&mut conn, &chunk, now).await?;
                drop(conn);
                let rows = rows(&orders, &payments);
                Ok::<Bytes, AppError>(encode(enc, csv_bytes(&rows)?))
            }
            .await;
            Some((res, (store, it, rows)))
        },
    );
    futures_util::StreamExt::chain(head, body)
}

async fn search_ids(app: &App, actor: &Actor, input: &SearchInput) -> Result<Vec<i64>, AppError> {
    let search = input.validate()?;
    Ok(juchu_store::orders::search_ids(
        &mut *app.store.read().await?,
        actor.shop_id,
        &search,
        app.now(),
    )
    .await?)
}

/// The shop's 受注CSV columns: its saved choice, or the built-in ones. A saved code the
/// catalogue no longer has is skipped (logged), never an error at download time.
async fn chosen_columns(
    conn: &mut juchu_store::AnyConnection,
    shop_id: i64,
) -> Result<(Vec<&'static Column>, Option<csv_settings::Stored>), AppError> {
    let stored = csv_settings::get(conn, shop_id, CsvKind::Orders.code()).await?;
    let cols: Vec<&'static Column> = match &stored {
        Some(s) => s
            .columns
            .iter()
            .filter_map(|c| {
                let col = columns::by_code(c);
                if col.is_none() {
                    tracing::warn!(shop_id, code = %c, "saved CSV column no longer exists");
                }
                col
            })
            .collect(),
        None => vec![],
    };
    if cols.is_empty() {
        Ok((columns::defaults(), stored))
    } else {
        Ok((cols, stored))
    }
}

/// 受注CSV: validate the search and find every match now (so a bad search is an error, not a
/// broken download); then stream one row per order line in the shop's chosen columns.
pub async fn orders_csv(
    app: &App,
    actor: &Actor,
    input: &SearchInput,
    enc: Encoding,
) -> Result<impl Stream<Item = Result<Bytes, AppError>> + Send + 'static, AppError> {
    let ids = search_ids(app, actor, input).await?;
    let (cols, _) = chosen_columns(&mut *app.store.read().await?, actor.shop_id).await?;
    let head = header_bytes(enc, cols.iter().map(|c| c.header.to_owned()).collect())?;
    Ok(stream_rows(
        app.store.clone(),
        app.now(),
        ids,
        enc,
        head,
        move |orders, payments| {
            let mut out = Vec::new();
            for o in orders {
                let payment_state = payments.get(&o.id).map_or("", |p| p.state_label.as_str());
                for (i, item) in o.draft.items.iter().enumerate() {
                    let line = Line {
                        order: o,
                        item,
                        line_no: i + 1,
                        payment_state,
                    };
                    out.push(cols.iter().map(|c| c.value(&line)).collect());
                }
            }
            out
        },
    ))
}

/// Which CSV a column setting is for (`csv_settings.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvKind {
    /// 受注CSV (受注管理's CSVダウンロード): the shop chooses the columns.
    Orders,
    /// 送り状CSV: B2クラウド's fixed layout.
    Shipping,
}

impl CsvKind {
    pub const ALL: [CsvKind; 2] = [CsvKind::Orders, CsvKind::Shipping];

    pub fn code(self) -> &'static str {
        match self {
            CsvKind::Orders => "orders",
            CsvKind::Shipping => "shipping",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CsvKind::Orders => "受注CSV",
            CsvKind::Shipping => "送り状CSV（B2クラウド）",
        }
    }

    pub fn from_code(s: &str) -> Option<CsvKind> {
        CsvKind::ALL.into_iter().find(|k| k.code() == s)
    }
}

/// One column as the settings screen and the API show it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ColumnView {
    /// Stable code (`number`, `customer_name` …); B2's columns are `b2_01` … `b2_95`.
    pub code: String,
    /// The CSV header (Japanese).
    pub header: String,
    /// `order`: the order's value, repeated on each of its lines; `line`: the line's own.
    pub per: Per,
    pub group: String,
}

impl ColumnView {
    fn of(c: &Column) -> ColumnView {
        ColumnView {
            code: c.code.to_owned(),
            header: c.header.to_owned(),
            per: c.per,
            group: c.group.to_owned(),
        }
    }
}

/// CSV出力項目設定 of one kind.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ColumnSettings {
    /// `orders` or `shipping`
    pub kind: String,
    /// false for a fixed layout (送り状CSV follows B2クラウド).
    pub editable: bool,
    /// The columns written, in order.
    pub columns: Vec<ColumnView>,
    /// The catalogue's other columns (出力しない項目), in catalogue order.
    pub available: Vec<ColumnView>,
    /// true when nothing is saved: the built-in columns apply.
    pub is_default: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<Timestamp>,
    pub updated_by: String,
}

fn shipping_settings() -> ColumnSettings {
    ColumnSettings {
        kind: CsvKind::Shipping.code().to_owned(),
        editable: false,
        columns: b2::HEADERS
            .iter()
            .enumerate()
            .map(|(i, h)| ColumnView {
                code: format!("b2_{:02}", i + 1),
                header: (*h).to_owned(),
                per: Per::Order,
                group: "B2クラウド".to_owned(),
            })
            .collect(),
        available: vec![],
        is_default: true,
        updated_at: None,
        updated_by: String::new(),
    }
}

fn orders_settings(
    cols: &[&'static Column],
    stored: Option<csv_settings::Stored>,
) -> ColumnSettings {
    ColumnSettings {
        kind: CsvKind::Orders.code().to_owned(),
        editable: true,
        columns: cols.iter().map(|c| ColumnView::of(c)).collect(),
        available: columns::CATALOGUE
            .iter()
            .filter(|c| !cols.contains(c))
            .map(ColumnView::of)
            .collect(),
        is_default: stored.is_none(),
        updated_at: stored.as_ref().map(|s| s.updated_at),
        updated_by: stored.map(|s| s.updated_by).unwrap_or_default(),
    }
}

fn fixed_layout() -> AppError {
    AppError::conflict(
        "fixed_layout",
        "送り状CSVはB2クラウドの取込み形式で項目が決まっているため、変更できません",
    )
}

/// Any signed-in operator (admin or not) may read and change the columns: they shape only
/// their own downloads.
pub async fn column_settings(
    app: &App,
    actor: &Actor,
    kind: CsvKind,
) -> Result<ColumnSettings, AppError> {
    match kind {
        CsvKind::Shipping => Ok(shipping_settings()),
        CsvKind::Orders => {
            let (cols, stored) =
                chosen_columns(&mut *app.store.read().await?, actor.shop_id).await?;
            Ok(orders_settings(&cols, stored))
        }
    }
}

/// Save the 受注CSV's columns (codes in output order). Unknown, empty or repeated codes are
/// field errors and nothing is stored.
pub async fn set_columns(
    app: &App,
    actor: &Actor,
    kind: CsvKind,
    codes: &[String],
) -> Result<ColumnSettings, AppError> {
    if kind == CsvKind::Shipping {
        return Err(fixed_layout());
    }
    let cols = columns::parse(codes)?;
    let codes: Vec<String> = cols.iter().map(|c| c.code.to_owned()).collect();
    let mut tx = app.store.begin().await?;
    csv_settings::set(
        &mut tx,
        actor.shop_id,
        kind.code(),
        &codes,
        app.now(),
        &actor.name,
    )
    .await?;
    tx.commit().await?;
    column_settings(app, actor, kind).await
}

/// 初期設定に戻す: the built-in columns from now on.
pub async fn reset_columns(
    app: &App,
    actor: &Actor,
    kind: CsvKind,
) -> Result<ColumnSettings, AppError> {
    if kind == CsvKind::Shipping {
        return Err(fixed_layout());
    }
    let mut tx = app.store.begin().await?;
    csv_settings::clear(&mut tx, actor.shop_id, kind.code()).await?;
    tx.commit().await?;
    column_settings(app, actor, kind).await
}

/// The shop as the sender (ご依頼主) of its parcels: its name and the issuer details the
/// slips print (ショップ情報).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sender {
    pub name: String,
    pub company_name: String,
    pub tel: String,
    pub postal_code: String,
    pub address: String,
}

pub async fn shipping_sender(app: &App, actor: &Actor) -> Result<Sender, AppError> {
    let mut conn = app.store.read().await?;
    let shop = juchu_store::shops::by_id(&mut conn, actor.shop_id)
        .await?
        .ok_or(AppError::NotFound("ショップ"))?;
    let i = juchu_store::shops::issuer(&mut conn, actor.shop_id).await?;
    Ok(Sender {
        name: shop.name,
        company_name: i.company_name,
        tel: i.tel,
        postal_code: i.postal_code,
        address: i.address,
    })
}

fn b2_head() -> Result<Bytes, AppError> {
    header_bytes(
        Encoding::ShiftJis,
        b2::HEADERS.iter().map(|h| (*h).to_owned()).collect(),
    )
}

/// 送り状データ of a search: B2クラウド's layout, one row per order, always Shift_JIS (B2
/// takes nothing else). A bulk read: nothing is written to the orders' history.
pub async fn shipping_csv(
    app: &App,
    actor: &Actor,
    input: &SearchInput,
) -> Result<impl Stream<Item = Result<Bytes, AppError>> + Send + 'static, AppError> {
    let ids = search_ids(app, actor, input).await?;
    let from = shipping_sender(app, actor).await?;
    let today = juchu_domain::time::jst_date(app.now());
    Ok(stream_rows(
        app.store.clone(),
        app.now(),
        ids,
        Encoding::ShiftJis,
        b2_head()?,
        move |orders, _| orders.iter().map(|o| b2::row(o, &from, today)).collect(),
    ))
}

/// 送り状データ of one order (the order screen's ダウンロード), recorded in its history as
/// 送り状データを出力しました, as the manuals record a slip printed. Refused (409) for an
/// order the order screen would not offer it for.
pub async fn shipping_csv_for(app: &App, actor: &Actor, number: i64) -> Result<Bytes, AppError> {
    let from = shipping_sender(app, actor).await?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let o = juchu_store::orders::get(tx.conn(), actor.shop_id, number)
        .await?
        .filter(|o| o.deleted_at.is_none())
        .ok_or(AppError::NotFound("受注"))?;
    // As the order screen offers it: not once the order left 受注一覧 (the manuals keep only
    // 帳票出力 there), nor for 決済処理中 orders.
    o.standing().can_work("送り状データの出力")?;
    let body = csv_bytes(&[b2::row(&o, &from, juchu_domain::time::jst_date(now))])?;
    let e = HistoryEntry {
        at: now,
        actor: actor.name.clone(),
        action: "order.shipping_label_exported".to_owned(),
        detail: "送り状データを出力しました（B2クラウド形式）".to_owned(),
        outcome: Outcome::Ok,
    };
    juchu_store::orders::add_history(&mut tx, actor.shop_id, o.id, &e).await?;
    tx.commit().await?;
    let mut out = b2_head()?.to_vec();
    out.extend_from_slice(&encode(Encoding::ShiftJis, body));
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_get_a_quote_numbers_keep_their_sign() {
        for (cell, out) in [
            ("=1+1", "'=1+1"),
            ("+cmd", "'+cmd"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("-500", "-500"),
            ("+819012345678", "+819012345678"),
            ("-0.5", "-0.5"),
            ("山田", "山田"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(neutralize(cell), out, "{cell:?}");
        }
    }

    #[test]
    fn sjis_of_japanese_and_unmappable() {
        let b = to_sjis("山田　花子〜①髙");
        let (back, _, bad) = SHIFT_JIS.decode(&b);
        assert!(!bad);
        assert_eq!(back, "山田　花子～①髙");
        assert_eq!(to_sjis("a😀b"), b"a?b");
    }
}

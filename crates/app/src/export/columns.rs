//! The 受注CSV's column catalogue: every order field an operator may export, each with a
//! stable code (what CSV出力項目設定 stores and the API speaks) and its Japanese header.
//! The export is one row per order line: per-order columns repeat on each line of the order.

use std::collections::HashMap;

use juchu_domain::customer::Person;
use juchu_domain::order::{Device, Item, Order};
use juchu_domain::tax::TaxRate;
use juchu_domain::time::format_jst_minute;
use juchu_domain::{FieldError, Invalid};

/// Whether a column's value belongs to the order (repeated on each of its lines) or to the
/// line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    Order,
    Line,
}

/// What a row is made of: one line of one order.
pub struct Line<'a> {
    pub order: &'a Order,
    pub item: &'a Item,
    /// 1-based line number within the order.
    pub line_no: usize,
    /// 決済状況 (仮売上, 売上確定, 入金待ち …), empty for an order without a payment.
    pub payment_state: &'a str,
}

pub struct Column {
    pub code: &'static str,
    pub header: &'static str,
    pub per: Per,
    /// Heading the settings screen groups the column under.
    pub group: &'static str,
    value: fn(&Line) -> String,
}

impl Column {
    pub fn value(&self, l: &Line) -> String {
        (self.value)(l)
    }
}

impl std::fmt::Debug for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code)
    }
}

impl PartialEq for Column {
    fn eq(&self, o: &Column) -> bool {
        self.code == o.code
    }
}

fn date(d: Option<jiff::civil::Date>) -> String {
    d.map(juchu_domain::time::format_date).unwrap_or_default()
}

fn address(p: &Person) -> String {
    format!("{}{}{}", p.prefecture, p.address1, p.address2)
}

fn rate(o: &Order, r: TaxRate, tax: bool) -> String {
    o.draft
        .totals
        .tax
        .by_rate
        .iter()
        .find(|x| x.rate == r)
        .map(|x| if tax { x.tax } else { x.amount }.get().to_string())
        .unwrap_or_default()
}

fn device(d: Device) -> &'static str {
    match d {
        Device::Pc => "PC",
        Device::Smartphone => "スマートフォン",
        Device::Mobile => "携帯電話",
        Device::Admin => "管理画面",
    }
}

const ORDER: &str = "受注";
const CUSTOMER: &str = "注文者";
const DELIVERY: &str = "お届け先";
const PAYMENT: &str = "支払・金額";
const ITEM: &str = "商品（明細）";
const SHIPPING: &str = "発送";
const OTHER: &str = "その他";

macro_rules! col {
    ($code:literal, $header:literal, $per:ident, $group:ident, $f:expr) => {
        Column {
            code: $code,
            header: $header,
            per: Per::$per,
            group: $group,
            value: $f,
        }
    };
}

/// Every column, in the order the settings screen lists them.
pub static CATALOGUE: &[Column] = &[
    col!("number", "注文番号", Order, ORDER, |l| l
        .order
        .number
        .to_string()),
    col!("ordered_at", "受注日時", Order, ORDER, |l| {
        format_jst_minute(l.order.ordered_at)
    }),
    col!("status", "対応状況", Order, ORDER, |l| l
        .order
        .draft
        .status
        .label()
        .to_owned()),
    col!("list", "受注区分", Order, ORDER, |l| l
        .order
        .list
        .label()
        .to_owned()),
    col!("updated_at", "更新日時", Order, ORDER, |l| {
        format_jst_minute(l.order.updated_at)
    }),
    col!("customer_id", "会員ID", Order, CUSTOMER, |l| l
        .order
        .draft
        .customer_id
        .map(|c| c.to_string())
        .unwrap_or_default()),
    col!("customer_name", "顧客名", Order, CUSTOMER, |l| l
        .order
        .draft
        .customer
        .full_name()),
    col!(
        "customer_family_name",
        "顧客名(姓)",
        Order,
        CUSTOMER,
        |l| l.order.draft.customer.family_name.clone()
    ),
    col!(
        "customer_given_name",
        "顧客名(名)",
        Order,
        CUSTOMER,
        |l| l.order.draft.customer.given_name.clone()
    ),
    col!("customer_kana", "顧客名(カナ)", Order, CUSTOMER, |l| l
        .order
        .draft
        .customer
        .full_kana()),
    col!(
        "customer_family_kana",
        "顧客名(セイ)",
        Order,
        CUSTOMER,
        |l| l.order.draft.customer.family_kana.clone()
    ),
    col!(
        "customer_given_kana",
        "顧客名(メイ)",
        Order,
        CUSTOMER,
        |l| l.order.draft.customer.given_kana.clone()
    ),
    col!("company", "会社名", Order, CUSTOMER, |l| l
        .order
        .draft
        .customer
        .company
        .clone()),
    col!("email", "メールアドレス", Order, CUSTOMER, |l| l
        .order
        .draft
        .email
        .clone()),
    col!("tel", "TEL", Order, CUSTOMER, |l| l
        .order
        .draft
        .customer
        .tel
        .clone()),
    col!("postal_code", "郵便番号", Order, CUSTOMER, |l| l
        .order
        .draft
        .customer
        .postal_code
        .clone()),
    col!("address", "住所", Order, CUSTOMER, |l| address(
        &l.order.draft.customer
    )),
    col!("prefecture", "都道府県", Order, CUSTOMER, |l| l
        .order
        .draft
        .customer
        .prefecture
        .clone()),
    col!("address1", "住所1", Order, CUSTOMER, |l| l
        .order
        .draft
        .customer
        .address1
        .clone()),
    col!("address2", "住所2", Order, CUSTOMER, |l| l
        .order
        .draft
        .customer
        .address2
        .clone()),
    col!("birth_date", "生年月日", Order, CUSTOMER, |l| date(
        l.order.draft.birth_date
    )),
    col!("sex", "性別", Order, CUSTOMER, |l| l
        .order
        .draft
        .sex
        .map(|s| s.label().to_owned())
        .unwrap_or_default()),
    col!("delivery_name", "お届け先名", Order, DELIVERY, |l| l
        .order
        .draft
        .delivery
        .full_name()),
    col!(
        "delivery_family_name",
        "お届け先名(姓)",
        Order,
        DELIVERY,
        |l| l.order.draft.delivery.family_name.clone()
    ),
    col!(
        "delivery_given_name",
        "お届け先名(名)",
        Order,
        DELIVERY,
        |l| l.order.draft.delivery.given_name.clone()
    ),
    col!(
        "delivery_kana",
        "お届け先名(カナ)",
        Order,
        DELIVERY,
        |l| l.order.draft.delivery.full_kana()
    ),
    col!(
        "delivery_family_kana",
        "お届け先名(セイ)",
        Order,
        DELIVERY,
        |l| l.order.draft.delivery.family_kana.clone()
    ),
    col!(
        "delivery_given_kana",
        "お届け先名(メイ)",
        Order,
        DELIVERY,
        |l| l.order.draft.delivery.given_kana.clone()
    ),
    col!(
        "delivery_company",
        "お届け先会社名",
        Order,
        DELIVERY,
        |l| l.order.draft.delivery.company.clone()
    ),
    col!("delivery_tel", "お届け先TEL", Order, DELIVERY, |l| l
        .order
        .draft
        .delivery
        .tel
        .clone()),
    col!(
        "delivery_postal_code",
        "お届け先郵便番号",
        Order,
        DELIVERY,
        |l| l.order.draft.delivery.postal_code.clone()
    ),
    col!(
        "delivery_address",
        "お届け先住所",
        Order,
        DELIVERY,
        |l| address(&l.order.draft.delivery)
    ),
    col!(
        "delivery_prefecture",
        "お届け先都道府県",
        Order,
        DELIVERY,
        |l| l.order.draft.delivery.prefecture.clone()
    ),
    col!(
        "delivery_address1",
        "お届け先住所1",
        Order,
        DELIVERY,
        |l| l.order.draft.delivery.address1.clone()
    ),
    col!(
        "delivery_address2",
        "お届け先住所2",
        Order,
        DELIVERY,
        |l| l.order.draft.delivery.address2.clone()
    ),
    col!("delivery_date", "配達日", Order, DELIVERY, |l| date(
        l.order.draft.delivery_date
    )),
    col!("delivery_time", "配達時間", Order, DELIVERY, |l| l
        .order
        .draft
        .delivery_time
        .clone()),
    col!("payment_method", "支払方法", Order, PAYMENT, |l| l
        .order
        .draft
        .payment_method
        .label()
        .to_owned()),
    col!(
        "gateway_ref",
        "外部決済注文番号",
        Order,
        PAYMENT,
        |l| l.order.draft.gateway_ref.clone()
    ),
    col!("payment_state", "決済状況", Order, PAYMENT, |l| l
        .payment_state
        .to_owned()),
    col!("subtotal", "小計", Order, PAYMENT, |l| l
        .order
        .draft
        .totals
        .subtotal
        .get()
        .to_string()),
    col!("discount", "値引き", Order, PAYMENT, |l| l
        .order
        .draft
        .totals
        .discount
        .get()
        .to_string()),
    col!("shipping_fee", "送料", Order, PAYMENT, |l| l
        .order
        .draft
        .totals
        .shipping_fee
        .get()
        .to_string()),
    col!("fee", "手数料", Order, PAYMENT, |l| l
        .order
        .draft
        .totals
        .fee
        .get()
        .to_string()),
    col!("total", "合計", Order, PAYMENT, |l| l
        .order
        .draft
        .totals
        .total
        .get()
        .to_string()),
    col!("points_used", "使用ポイント", Order, PAYMENT, |l| l
        .order
        .draft
        .totals
        .points_used
        .to_string()),
    col!("payment_total", "お支払い合計", Order, PAYMENT, |l| l
        .order
        .draft
        .totals
        .payment_total
        .get()
        .to_string()),
    col!("points_earned", "加算ポイント", Order, PAYMENT, |l| l
        .order
        .draft
        .points_earned
        .to_string()),
    col!("tax10_amount", "10%対象", Order, PAYMENT, |l| rate(
        l.order,
        TaxRate::Standard10,
        false
    )),
    col!("tax10", "10%消費税", Order, PAYMENT, |l| rate(
        l.order,
        TaxRate::Standard10,
        true
    )),
    col!("tax8_amount", "8%対象", Order, PAYMENT, |l| rate(
        l.order,
        TaxRate::Reduced8,
        false
    )),
    col!("tax8", "8%消費税", Order, PAYMENT, |l| rate(
        l.order,
        TaxRate::Reduced8,
        true
    )),
    col!("tax_total", "消費税合計", Order, PAYMENT, |l| l
        .order
        .draft
        .totals
        .tax
        .total_tax()
        .get()
        .to_string()),
    col!(
        "payment_checked",
        "入金チェック",
        Order,
        PAYMENT,
        |l| if l.order.payment_checked {
            "済".to_owned()
        } else {
            String::new()
        }
    ),
    col!(
        "payment_checked_at",
        "入金チェック日時",
        Order,
        PAYMENT,
        |l| l
            .order
            .payment_checked_at
            .map(format_jst_minute)
            .unwrap_or_default()
    ),
    col!(
        "payment_checked_by",
        "入金チェック者",
        Order,
        PAYMENT,
        |l| l.order.payment_checked_by.clone()
    ),
    col!("line_no", "明細番号", Line, ITEM, |l| l
        .line_no
        .to_string()),
    col!("product_code", "商品コード", Line, ITEM, |l| l
        .item
        .product_code
        .clone()),
    col!("product_name", "商品名", Line, ITEM, |l| l
        .item
        .product_name
        .clone()),
    col!("class1", "規格1", Line, ITEM, |l| l.item.class1.clone()),
    col!("class2", "規格2", Line, ITEM, |l| l.item.class2.clone()),
    col!("unit_price", "単価", Line, ITEM, |l| l
        .item
        .unit_price
        .get()
        .to_string()),
    col!("quantity", "数量", Line, ITEM, |l| l
        .item
        .quantity
        .to_string()),
    col!("tax_rate", "税率", Line, ITEM, |l| format!(
        "{}%",
        l.item.tax_rate.percent()
    )),
    col!("line_total", "商品小計", Line, ITEM, |l| l
        .item
        .line_total()
        .map(|y| y.get().to_string())
        .unwrap_or_default()),
    col!("shipped_on", "発送日", Order, SHIPPING, |l| date(
        l.order.draft.shipped_on
    )),
    col!(
        "tracking_number",
        "お問い合わせ番号",
        Order,
        SHIPPING,
        |l| l.order.draft.tracking_number.clone()
    ),
    col!("remarks", "備考", Order, OTHER, |l| l
        .order
        .draft
        .remarks
        .clone()),
    col!("memo", "ショップ用メモ", Order, OTHER, |l| l
        .order
        .draft
        .memo
        .clone()),
    col!("device", "購入端末", Order, OTHER, |l| device(
        l.order.draft.device
    )
    .to_owned()),
    col!("ip", "IPアドレス", Order, OTHER, |l| l
        .order
        .draft
        .ip
        .clone()),
];

/// The built-in columns (no CSV出力項目設定 saved): the export's original 32, in its order.
pub const DEFAULT: [&str; 32] = [
    "number",
    "ordered_at",
    "status",
    "customer_id",
    "customer_name",
    "customer_kana",
    "email",
    "tel",
    "postal_code",
    "address",
    "delivery_name",
    "delivery_address",
    "payment_method",
    "gateway_ref",
    "product_code",
    "product_name",
    "class1",
    "class2",
    "unit_price",
    "quantity",
    "tax_rate",
    "subtotal",
    "discount",
    "shipping_fee",
    "fee",
    "total",
    "points_used",
    "payment_total",
    "tax10_amount",
    "tax8_amount",
    "shipped_on",
    "tracking_number",
];

pub fn by_code(code: &str) -> Option<&'static Column> {
    CATALOGUE.iter().find(|c| c.code == code)
}

pub fn defaults() -> Vec<&'static Column> {
    DEFAULT.iter().filter_map(|c| by_code(c)).collect()
}

/// Check a choice of columns: at least one, every code known, none twice. Every problem is
/// reported, each on the position it is at (`columns[3]`).
pub fn parse(codes: &[String]) -> Result<Vec<&'static Column>, Invalid> {
    let mut errors = Invalid(vec![]);
    if codes.is_empty() {
        errors.push(FieldError::new(
            "columns",
            "required",
            "出力する項目を1つ以上選んでください",
        ));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(codes.len());
    for (i, raw) in codes.iter().enumerate() {
        let code = raw.trim();
        let field = format!("columns[{i}]");
        match by_code(code) {
            None if code.is_empty() => {
                errors.push(FieldError::new(field, "required", "項目コードが空です"))
            }
            None => errors.push(FieldError::new(
                field,
                "unknown_column",
                format!("「{code}」という項目はありません"),
            )),
            Some(c) => {
                if let Some(first) = seen.insert(c.code, i) {
                    errors.push(FieldError::new(
                        field,
                        "duplicate_column",
                        format!(
                            "「{}」が2回選ばれています（{}番目と{}番目）",
                            c.header,
                            first + 1,
                            i + 1
                        ),
                    ));
                } else {
                    out.push(c);
                }
            }
        }
    }
    errors.into_result(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_defaults_known() {
        let mut codes: Vec<&str> = CATALOGUE.iter().map(|c| c.code).collect();
        codes.sort_unstable();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n, "duplicate code in the catalogue");
        assert!(CATALOGUE.iter().all(|c| !c.code.contains(',')));
        assert_eq!(defaults().len(), DEFAULT.len());
    }

    #[test]
    fn parse_reports_every_problem() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(parse(&[]).unwrap_err().0[0].field, "columns");
        let e = parse(&s(&["number", "nope", "number", ""])).unwrap_err().0;
        let got: Vec<(&str, &str)> = e.iter().map(|f| (f.field.as_str(), f.code)).collect();
        assert_eq!(
            got,
            [
                ("columns[1]", "unknown_column"),
                ("columns[2]", "duplicate_column"),
                ("columns[3]", "required"),
            ]
        );
        assert!(e[1].message.contains("注文番号"));
        let ok = parse(&s(&[" email ", "number"])).unwrap();
        assert_eq!(
            ok.iter().map(|c| c.code).collect::<Vec<_>>(),
            ["email", "number"]
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
        ))]

        /// Whatever an admin (or a client of the API) sends as the column list, the parser
        /// answers without a panic, and what it accepts is known columns without repeats.
        #[test]
        fn settings_parser_takes_anything(codes in proptest::collection::vec(
            proptest::prop_oneof![
                "[a-z_0-9]{0,20}",
                proptest::sample::select(CATALOGUE.iter().map(|c| c.code.to_owned()).collect::<Vec<_>>()),
                ".{0,30}",
            ],
            0..40,
        )) {
            if let Ok(cols) = parse(&codes) {
                let mut seen = std::collections::HashSet::new();
                for c in cols {
                    proptest::prop_assert!(by_code(c.code).is_some());
                    proptest::prop_assert!(seen.insert(c.code));
                }
            }
        }
    }
}

//! 受注管理 search criteria: every field of the manuals' search form, parsed from what an
//! operator typed (empty fields mean "any").

use jiff::civil::Date;

use crate::customer::Sex;
use crate::input::{normalize_ascii, parse_date, parse_int, squash_spaces, tel_digits};
use crate::payment::{Kind, PaymentState};
use crate::payment_method::PaymentMethod;
use crate::status::{OrderList, OrderStatus};
use crate::{FieldError, Invalid};

pub const DEFAULT_PER_PAGE: i64 = 100;
pub const MAX_PER_PAGE: i64 = 1000;

/// The search as sent: query parameters or the search form. Repeatable keys (`status`,
/// `sex`, `payment_method`) may appear several times.
#[derive(
    Debug,
    Clone,
    Default,
    serde::Deserialize,
    serde::Serialize,
    utoipa::IntoParams,
    utoipa::ToSchema,
)]
#[into_params(parameter_in = Query)]
pub struct SearchInput {
    /// 注文番号 from
    pub number_from: Option<String>,
    /// 注文番号 to
    pub number_to: Option<String>,
    /// 対応状況 (repeatable)
    #[serde(default)]
    pub status: Vec<String>,
    /// 顧客名 (part of the name; spaces ignored)
    pub name: Option<String>,
    /// 顧客名(カナ)
    pub kana: Option<String>,
    /// メールアドレス (part)
    pub email: Option<String>,
    /// TEL (digits, part)
    pub tel: Option<String>,
    /// 生年月日 from (`2024/08/19` or `2024-08-19`)
    pub birth_from: Option<String>,
    pub birth_to: Option<String>,
    /// 性別: `male` / `female` (repeatable)
    #[serde(default)]
    pub sex: Vec<String>,
    /// 備考欄にメッセージが含まれているデータ: `1` / `true`
    pub has_remarks: Option<String>,
    /// 支払方法 (repeatable)
    #[serde(default)]
    pub payment_method: Vec<String>,
    /// 受注日 from (Japan date, inclusive)
    pub ordered_from: Option<String>,
    pub ordered_to: Option<String>,
    /// 発送日 from
    pub shipped_from: Option<String>,
    pub shipped_to: Option<String>,
    /// 更新日 from
    pub updated_from: Option<String>,
    pub updated_to: Option<String>,
    /// 購入金額 (お支払い合計) from
    pub amount_min: Option<String>,
    pub amount_max: Option<String>,
    /// 外部決済注文番号 (exact)
    pub gateway_ref: Option<String>,
    /// 会員ID: one member's orders (購入履歴)
    pub customer_id: Option<String>,
    /// 決済状況 (repeatable): `pending` 未決済, `awaiting_payment` 入金待ち, `authorized` 仮売上,
    /// `captured` 売上確定, `cancelled` 取消, `refunded` 払い戻し済み, `paid` 入金済み, `expired`
    /// 期限切れ, `failed` 決済失敗, `in_doubt` 確認中
    #[serde(default)]
    pub payment_state: Vec<String>,
    /// オーソリ有効期限が N 日以内 (0–90): authorizations still capturable that lapse within N days
    pub auth_expires_within: Option<String>,
    /// 金額差異あり: `1` — the order's お支払い合計 differs from its payment's amount (取引更新 needed)
    pub amount_differs: Option<String>,
    /// `open` (default), `completed`, `cancelled`, `all`
    pub list: Option<String>,
    /// 表示順: `updated_desc` (default), `updated_asc`, `ordered_desc`, `ordered_asc`,
    /// `number_desc`, `number_asc`, `amount_desc`, `amount_asc`
    pub sort: Option<String>,
    /// 1-based page
    pub page: Option<String>,
    /// 検索結果表示件数 (default 100, at most 1000)
    pub per_page: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    #[default]
    UpdatedDesc,
    UpdatedAsc,
    OrderedDesc,
    OrderedAsc,
    NumberDesc,
    NumberAsc,
    AmountDesc,
    AmountAsc,
}

impl SortOrder {
    pub const ALL: [SortOrder; 8] = [
        SortOrder::UpdatedDesc,
        SortOrder::UpdatedAsc,
        SortOrder::OrderedDesc,
        SortOrder::OrderedAsc,
        SortOrder::NumberDesc,
        SortOrder::NumberAsc,
        SortOrder::AmountDesc,
        SortOrder::AmountAsc,
    ];
    pub fn code(self) -> &'static str {
        match self {
            SortOrder::UpdatedDesc => "updated_desc",
            SortOrder::UpdatedAsc => "updated_asc",
            SortOrder::OrderedDesc => "ordered_desc",
            SortOrder::OrderedAsc => "ordered_asc",
            SortOrder::NumberDesc => "number_desc",
            SortOrder::NumberAsc => "number_asc",
            SortOrder::AmountDesc => "amount_desc",
            SortOrder::AmountAsc => "amount_asc",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            SortOrder::UpdatedDesc => "更新日の新しい順",
            SortOrder::UpdatedAsc => "更新日の古い順",
            SortOrder::OrderedDesc => "受注日の新しい順",
            SortOrder::OrderedAsc => "受注日の古い順",
            SortOrder::NumberDesc => "注文番号の大きい順",
            SortOrder::NumberAsc => "注文番号の小さい順",
            SortOrder::AmountDesc => "購入金額の高い順",
            SortOrder::AmountAsc => "購入金額の安い順",
        }
    }
}

/// 決済状況 as the search screen offers it: the payment's state as an operator acts on it (an
/// authorization past its deadline is 期限切れ), a payment number not yet paid (入金待ち) apart
/// from a card payment not yet authorized, and 確認中 for an operation whose answer is awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentFilter {
    Pending,
    AwaitingPayment,
    Authorized,
    Captured,
    Cancelled,
    Refunded,
    Paid,
    Expired,
    Failed,
    InDoubt,
}

codes!(PaymentFilter { Pending => "pending", AwaitingPayment => "awaiting_payment",
    Authorized => "authorized", Captured => "captured", Cancelled => "cancelled",
    Refunded => "refunded", Paid => "paid", Expired => "expired", Failed => "failed",
    InDoubt => "in_doubt" });

impl PaymentFilter {
    /// Where a payment stands for the operator: `state` as acted on (see
    /// [`crate::payment::effective_state`]), 確認中 while an operation's answer is awaited.
    pub fn of(kind: Kind, state: PaymentState, in_doubt: bool) -> PaymentFilter {
        if in_doubt {
            return PaymentFilter::InDoubt;
        }
        match state {
            PaymentState::Pending if kind == Kind::PaidLater => PaymentFilter::AwaitingPayment,
            PaymentState::Pending => PaymentFilter::Pending,
            PaymentState::Authorized => PaymentFilter::Authorized,
            PaymentState::Captured => PaymentFilter::Captured,
            PaymentState::Cancelled => PaymentFilter::Cancelled,
            PaymentState::Refunded => PaymentFilter::Refunded,
            PaymentState::Paid => PaymentFilter::Paid,
            PaymentState::Expired => PaymentFilter::Expired,
            PaymentState::Failed => PaymentFilter::Failed,
        }
    }

    pub const ALL: [PaymentFilter; 10] = [
        PaymentFilter::Authorized,
        PaymentFilter::Captured,
        PaymentFilter::Expired,
        PaymentFilter::InDoubt,
        PaymentFilter::AwaitingPayment,
        PaymentFilter::Paid,
        PaymentFilter::Pending,
        PaymentFilter::Cancelled,
        PaymentFilter::Refunded,
        PaymentFilter::Failed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            PaymentFilter::Pending => "未決済",
            PaymentFilter::AwaitingPayment => "入金待ち",
            PaymentFilter::Authorized => "仮売上",
            PaymentFilter::Captured => "売上確定",
            PaymentFilter::Cancelled => "取消",
            PaymentFilter::Refunded => "払い戻し済み",
            PaymentFilter::Paid => "入金済み",
            PaymentFilter::Expired => "期限切れ",
            PaymentFilter::Failed => "決済失敗",
            PaymentFilter::InDoubt => "確認中",
        }
    }
}

/// The longest look-ahead of オーソリ有効期限が N 日以内 (GMO keeps an authorization 90 days).
pub const MAX_EXPIRY_DAYS: i64 = 90;

/// A validated search.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderSearch {
    pub number_from: Option<i64>,
    pub number_to: Option<i64>,
    pub statuses: Vec<OrderStatus>,
    /// Spaces removed.
    pub name: Option<String>,
    pub kana: Option<String>,
    /// Lower-cased.
    pub email: Option<String>,
    /// Digits only.
    pub tel: Option<String>,
    pub birth_from: Option<Date>,
    pub birth_to: Option<Date>,
    pub sexes: Vec<Sex>,
    pub has_remarks: bool,
    pub payment_methods: Vec<PaymentMethod>,
    pub ordered_from: Option<Date>,
    pub ordered_to: Option<Date>,
    pub shipped_from: Option<Date>,
    pub shipped_to: Option<Date>,
    pub updated_from: Option<Date>,
    pub updated_to: Option<Date>,
    pub amount_min: Option<i64>,
    pub amount_max: Option<i64>,
    pub gateway_ref: Option<String>,
    pub customer_id: Option<i64>,
    pub payment_states: Vec<PaymentFilter>,
    /// Days: capturable authorizations that lapse within them.
    pub auth_expires_within: Option<i64>,
    /// Only orders whose total and authorized / captured payment amount differ.
    pub amount_differs: bool,
    pub list: Option<OrderList>,
    pub sort: SortOrder,
    pub page: i64,
    pub per_page: i64,
}

/// A checkbox: absent, `0` / `false` or `1` / `true` / `on`.
fn flag(e: &mut Invalid, field: &str, v: &Option<String>) -> bool {
    match present(v) {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") | Some("on") => true,
        Some(_) => {
            e.push(FieldError::new(
                field,
                "invalid_flag",
                format!("{field} は 1 または 0 です"),
            ));
            false
        }
    }
}

fn present(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn range_check<T: PartialOrd>(e: &mut Invalid, field: &str, from: &Option<T>, to: &Option<T>) {
    if let (Some(a), Some(b)) = (from, to)
        && a > b
    {
        e.push(FieldError::new(
            field,
            "inverted_range",
            "開始が終了より後になっています",
        ));
    }
}

/// The longest search word any list takes: a name, kana, e-mail, phone or id is far
/// shorter, and a pattern of tens of kilobytes is refused by SQLite's LIKE.
pub const MAX_SEARCH_CHARS: usize = 100;

/// A search word within [`MAX_SEARCH_CHARS`], or the field's error.
pub fn check_search_text(field: &str, v: &str) -> Result<(), FieldError> {
    if v.chars().count() > MAX_SEARCH_CHARS {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("検索語は{MAX_SEARCH_CHARS}文字以内で入力してください"),
        ));
    }
    Ok(())
}

impl SearchInput {
    // Long: one check per condition of the search screen, every bad one reported.
    pub fn validate(&self) -> Result<OrderSearch, Invalid> {
        let mut e = Invalid::default();
        for (f, v) in [
            ("name", &self.name),
            ("kana", &self.kana),
            ("email", &self.email),
            ("tel", &self.tel),
            ("gateway_ref", &self.gateway_ref),
        ] {
            if let Some(v) = v
                && let Err(x) = check_search_text(f, v)
            {
                e.push(x);
            }
        }
        if !e.is_empty() {
            return Err(e);
        }
        let int = |e: &mut Invalid, f: &str, v: &Option<String>, min: i64| -> Option<i64> {
            let s = present(v)?;
            let n = e.take(parse_int(f, s))?;
            if n < min {
                e.push(FieldError::new(
                    f,
                    "out_of_range",
                    format!("{min}以上で入力してください"),
                ));
                return None;
            }
            Some(n)
        };
        let date = |e: &mut Invalid, f: &str, v: &Option<String>| -> Option<Date> {
            present(v).and_then(|s| e.take(parse_date(f, s)))
        };
        let mut s = OrderSearch {
            number_from: int(&mut e, "number_from", &self.number_from, 1),
            number_to: int(&mut e, "number_to", &self.number_to, 1),
            name: present(&self.name).map(squash_spaces),
            kana: present(&self.kana).map(squash_spaces),
            email: present(&self.email).map(str::to_lowercase),
            birth_from: date(&mut e, "birth_from", &self.birth_from),
            birth_to: date(&mut e, "birth_to", &self.birth_to),
            ordered_from: date(&mut e, "ordered_from", &self.ordered_from),
            ordered_to: date(&mut e, "ordered_to", &self.ordered_to),
            shipped_from: date(&mut e, "shipped_from", &self.shipped_from),
            shipped_to: date(&mut e, "shipped_to", &self.shipped_to),
            updated_from: date(&mut e, "updated_from", &self.updated_from),
            updated_to: date(&mut e, "updated_to", &self.updated_to),
            amount_min: int(&mut e, "amount_min", &self.amount_min, 0),
            amount_max: int(&mut e, "amount_max", &self.amount_max, 0),
            gateway_ref: present(&self.gateway_ref).map(normalize_ascii),
            customer_id: int(&mut e, "customer_id", &self.customer_id, 1),
            page: int(&mut e, "page", &self.page, 1)
                .unwrap_or(1)
                .min(MAX_PAGE),
            per_page: int(&mut e, "per_page", &self.per_page, 1).unwrap_or(DEFAULT_PER_PAGE),
            ..OrderSearch::default()
        };
        if let Some(t) = present(&self.tel) {
            let d = tel_digits(t);
            if d.is_empty() {
                e.push(FieldError::new(
                    "tel",
                    "invalid_tel",
                    "電話番号は数字で入力してください",
                ));
            } else {
                s.tel = Some(d);
            }
        }
        for v in self
            .status
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        {
            if let Some(st) = e.take(OrderStatus::parse("status", v)) {
                s.statuses.push(st);
            }
        }
        for v in self.sex.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
            match Sex::from_code(v) {
                Some(x) => s.sexes.push(x),
                None => e.push(FieldError::new(
                    "sex",
                    "unknown_sex",
                    "性別は male または female です",
                )),
            }
        }
        for v in self
            .payment_method
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        {
            if let Some(m) = e.take(PaymentMethod::parse("payment_method", v)) {
                s.payment_methods.push(m);
            }
        }
        for v in self
            .payment_state
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        {
            match PaymentFilter::from_code(v) {
                Some(f) if !s.payment_states.contains(&f) => s.payment_states.push(f),
                Some(_) => {}
                None => e.push(FieldError::new(
                    "payment_state",
                    "unknown_payment_state",
                    format!(
                        "決済状況「{v}」はありません（{}）",
                        PaymentFilter::ALL.map(|x| x.code()).join(", ")
                    ),
                )),
            }
        }
        s.auth_expires_within = int(&mut e, "auth_expires_within", &self.auth_expires_within, 0);
        if s.auth_expires_within.is_some_and(|d| d > MAX_EXPIRY_DAYS) {
            e.push(FieldError::new(
                "auth_expires_within",
                "out_of_range",
                format!("オーソリ有効期限の日数は{MAX_EXPIRY_DAYS}日以内で入力してください"),
            ));
        }
        s.has_remarks = flag(&mut e, "has_remarks", &self.has_remarks);
        s.amount_differs = flag(&mut e, "amount_differs", &self.amount_differs);
        s.list = match present(&self.list) {
            None => Some(OrderList::Open),
            Some("all") => None,
            Some(l) => e.take(OrderList::parse("list", l)),
        };
        s.sort = match present(&self.sort) {
            None => SortOrder::default(),
            Some(v) => SortOrder::ALL
                .into_iter()
                .find(|x| x.code() == v)
                .unwrap_or_else(|| {
                    e.push(FieldError::new(
                        "sort",
                        "unknown_sort",
                        format!(
                            "表示順「{v}」はありません（{}）",
                            SortOrder::ALL.map(|x| x.code()).join(", ")
                        ),
                    ));
                    SortOrder::default()
                }),
        };
        if s.per_page > MAX_PER_PAGE {
            e.push(FieldError::new(
                "per_page",
                "out_of_range",
                format!("検索結果表示件数は{MAX_PER_PAGE}件までです"),
            ));
        }
        range_check(&mut e, "number_to", &s.number_from, &s.number_to);
        range_check(&mut e, "birth_to", &s.birth_from, &s.birth_to);
        range_check(&mut e, "ordered_to", &s.ordered_from, &s.ordered_to);
        range_check(&mut e, "shipped_to", &s.shipped_from, &s.shipped_to);
        range_check(&mut e, "updated_to", &s.updated_from, &s.updated_to);
        range_check(&mut e, "amount_max", &s.amount_min, &s.amount_max);
        e.into_result(s)
    }
}

/// The last page any list goes to: a page number from a URL is held to it, so the offset it
/// makes stays far inside what both databases take (PostgreSQL refuses a negative OFFSET;
/// a product that wraps would).
pub const MAX_PAGE: i64 = 1_000_000;

/// Rows to skip for `page` (1-based) of `per_page` rows, whatever numbers came in.
pub fn page_offset(page: i64, per_page: i64) -> i64 {
    (page.clamp(1, MAX_PAGE) - 1).saturating_mul(per_page.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_form_means_open_list_newest_update_first() {
        let s = SearchInput::default().validate().unwrap();
        assert_eq!(s.list, Some(OrderList::Open));
        assert_eq!(s.sort, SortOrder::UpdatedDesc);
        assert_eq!((s.page, s.per_page), (1, 100));
    }

    #[test]
    fn typed_forms_are_normalized() {
        let s = SearchInput {
            number_from: Some("１０".into()),
            tel: Some("03-1234".into()),
            email: Some("Foo@Example.JP".into()),
            name: Some("山田 太郎".into()),
            ordered_from: Some("2024/08/19".into()),
            status: vec!["new".into(), "".into()],
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(s.number_from, Some(10));
        assert_eq!(s.tel.as_deref(), Some("031234"));
        assert_eq!(s.email.as_deref(), Some("foo@example.jp"));
        assert_eq!(s.name.as_deref(), Some("山田太郎"));
        assert_eq!(s.statuses, vec![OrderStatus::New]);
    }

    #[test]
    fn bad_fields_are_each_reported() {
        let e = SearchInput {
            number_from: Some("abc".into()),
            status: vec!["shipping".into()],
            ordered_from: Some("2024/13/01".into()),
            amount_min: Some("500".into()),
            amount_max: Some("100".into()),
            per_page: Some("5000".into()),
            sort: Some("random".into()),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "number_from",
                "ordered_from",
                "status",
                "sort",
                "per_page",
                "amount_max"
            ]
        );
    }
}

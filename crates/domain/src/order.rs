//! An order as the shop records it, and the one function that computes its totals.

use jiff::Timestamp;
use jiff::civil::Date;

use crate::customer::{
    Person, PersonInput, Sex, parse_sex, text, validate_birth_date, validate_email,
};
use crate::input::{normalize_ascii, parse_date};
use crate::money::{MAX_UNIT_PRICE, Yen};
use crate::payment_method::PaymentMethod;
use crate::status::{OrderList, OrderStatus};
use crate::tax::{TaxBreakdown, TaxRate};
use crate::time::jst;
use crate::{FieldError, Invalid};

pub const MAX_QUANTITY: i64 = 99_999;
pub const MAX_ITEMS: usize = 500;

/// One line as sent by the API or a form. Fields left out are filled from the product
/// catalog by product code before validation.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    pub product_code: String,
    #[serde(default)]
    pub product_name: Option<String>,
    /// 規格1
    #[serde(default)]
    pub class1: Option<String>,
    /// 規格2
    #[serde(default)]
    pub class2: Option<String>,
    /// 単価 (税込)
    #[serde(default)]
    pub unit_price: Option<i64>,
    pub quantity: i64,
    /// 10 or 8
    #[serde(default)]
    pub tax_rate: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Item {
    pub product_code: String,
    pub product_name: String,
    pub class1: String,
    pub class2: String,
    /// 単価 (税込)
    pub unit_price: Yen,
    pub quantity: i64,
    pub tax_rate: TaxRate,
}

impl Item {
    pub fn line_total(&self) -> Result<Yen, crate::money::Overflow> {
        self.unit_price.checked_mul(self.quantity)
    }

    pub fn to_input(&self) -> ItemInput {
        ItemInput {
            product_code: self.product_code.clone(),
            product_name: Some(self.product_name.clone()),
            class1: Some(self.class1.clone()),
            class2: Some(self.class2.clone()),
            unit_price: Some(self.unit_price.get()),
            quantity: self.quantity,
            tax_rate: Some(self.tax_rate.percent()),
        }
    }
}

impl ItemInput {
    pub fn validate(&self) -> Result<Item, Invalid> {
        let mut e = Invalid::default();
        let product_code = text(&mut e, "product_code", &self.product_code, true, 100);
        let product_name = match &self.product_name {
            Some(n) => text(&mut e, "product_name", n, true, 200),
            None => {
                e.push(FieldError::new(
                    "product_name",
                    "unknown_product",
                    format!(
                        "商品コード「{}」の商品がありません。商品名・単価・税率を指定してください",
                        self.product_code.trim()
                    ),
                ));
                String::new()
            }
        };
        let class1 = text(
            &mut e,
            "class1",
            self.class1.as_deref().unwrap_or(""),
            false,
            100,
        );
        let class2 = text(
            &mut e,
            "class2",
            self.class2.as_deref().unwrap_or(""),
            false,
            100,
        );
        let unit_price = match self.unit_price {
            None if self.product_name.is_none() => Yen::ZERO,
            None => {
                e.push(FieldError::new(
                    "unit_price",
                    "required",
                    "単価を入力してください",
                ));
                Yen::ZERO
            }
            Some(p) if !(0..=MAX_UNIT_PRICE).contains(&p) => {
                e.push(FieldError::new(
                    "unit_price",
                    "out_of_range",
                    format!(
                        "単価は0〜{}円で入力してください",
                        crate::money::group(MAX_UNIT_PRICE)
                    ),
                ));
                Yen::ZERO
            }
            Some(p) => Yen::new(p).unwrap_or(Yen::ZERO),
        };
        if !(1..=MAX_QUANTITY).contains(&self.quantity) {
            e.push(FieldError::new(
                "quantity",
                "out_of_range",
                format!("数量は1〜{MAX_QUANTITY}で入力してください"),
            ));
        }
        let tax_rate = match self.tax_rate {
            None => TaxRate::Standard10,
            Some(r) => TaxRate::from_percent(r).unwrap_or_else(|| {
                e.push(FieldError::new(
                    "tax_rate",
                    "unknown_tax_rate",
                    "税率は10または8です",
                ));
                TaxRate::Standard10
            }),
        };
        e.into_result(Item {
            product_code,
            product_name,
            class1,
            class2,
            unit_price,
            quantity: self.quantity,
            tax_rate,
        })
    }
}

/// Amounts added to or taken from the items' subtotal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Charges {
    /// 値引き
    pub discount: Yen,
    /// 送料
    pub shipping_fee: Yen,
    /// 手数料
    pub fee: Yen,
    /// 使用ポイント (1 point = 1 yen)
    pub points_used: i64,
}

/// Everything an order's amounts are; only `calculate` makes one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Totals {
    /// 小計 (items, tax included)
    pub subtotal: Yen,
    pub discount: Yen,
    pub shipping_fee: Yen,
    pub fee: Yen,
    /// 合計 = 小計 - 値引き + 送料 + 手数料
    pub total: Yen,
    pub points_used: i64,
    /// お支払い合計 = 合計 - 使用ポイント
    pub payment_total: Yen,
    /// 10%対象 / 8%対象 after discount. Shipping and fees are taxed at 10%.
    pub tax: TaxBreakdown,
}

fn overflow(field: &str) -> Invalid {
    Invalid::one(
        field,
        "out_of_range",
        format!(
            "金額が大きすぎます（{}円まで）",
            crate::money::group(crate::money::MAX_YEN)
        ),
    )
}

/// The one place order totals are computed. Points are a means of payment, not a discount:
/// they lower the payment total but not the taxable amounts.
pub fn calculate(items: &[Item], charges: Charges) -> Result<Totals, Invalid> {
    let mut standard = Yen::ZERO;
    let mut reduced = Yen::ZERO;
    for (i, it) in items.iter().enumerate() {
        let line = it
            .line_total()
            .map_err(|_| overflow(&format!("items[{i}].quantity")))?;
        let slot = match it.tax_rate {
            TaxRate::Standard10 => &mut standard,
            TaxRate::Reduced8 => &mut reduced,
        };
        *slot = slot.checked_add(line).map_err(|_| overflow("items"))?;
    }
    let subtotal = standard
        .checked_add(reduced)
        .map_err(|_| overflow("items"))?;
    let standard_with_charges = standard
        .checked_add(charges.shipping_fee)
        .and_then(|s| s.checked_add(charges.fee))
        .map_err(|_| overflow("shipping_fee"))?;
    let gross = standard_with_charges
        .checked_add(reduced)
        .map_err(|_| overflow("fee"))?;
    if charges.discount > gross {
        return Err(Invalid::one(
            "discount",
            "exceeds_total",
            format!("値引きが合計（{gross}）を超えています"),
        ));
    }
    let total = gross
        .checked_sub(charges.discount)
        .map_err(|_| overflow("discount"))?;
    if charges.points_used < 0 {
        return Err(Invalid::one(
            "points_used",
            "negative",
            "0以上で入力してください",
        ));
    }
    if charges.points_used > total.get() {
        return Err(Invalid::one(
            "points_used",
            "exceeds_total",
            format!("使用ポイントが合計（{total}）を超えています"),
        ));
    }
    let payment_total = total
        .checked_sub(Yen::new(charges.points_used).map_err(|_| overflow("points_used"))?)
        .map_err(|_| overflow("points_used"))?;
    let tax = TaxBreakdown::with_discount(standard_with_charges, reduced, charges.discount)
        .map_err(|_| overflow("discount"))?;
    Ok(Totals {
        subtotal,
        discount: charges.discount,
        shipping_fee: charges.shipping_fee,
        fee: charges.fee,
        total,
        points_used: charges.points_used,
        payment_total,
        tax,
    })
}

/// The channel an order came from (EC-CUBE's device type).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    Pc,
    Smartphone,
    Mobile,
    /// 管理画面 (新規受注入力) or an import
    Admin,
}

impl Device {
    pub fn code(self) -> &'static str {
        match self {
            Device::Pc => "pc",
            Device::Smartphone => "smartphone",
            Device::Mobile => "mobile",
            Device::Admin => "admin",
        }
    }
    pub fn from_code(s: &str) -> Option<Device> {
        [
            Device::Pc,
            Device::Smartphone,
            Device::Mobile,
            Device::Admin,
        ]
        .into_iter()
        .find(|d| d.code() == s)
    }
}

/// An order as sent by the API (新規受注入力, imports). Amounts are integer yen.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// Member id; omitted for a guest order.
    #[serde(default)]
    pub customer_id: Option<i64>,
    pub customer: PersonInput,
    pub email: String,
    /// `2024/08/19` or `2024-08-19`
    #[serde(default)]
    pub birth_date: Option<String>,
    /// `male` / `female`
    #[serde(default)]
    pub sex: Option<String>,
    /// お届け先; omitted = the customer's address
    #[serde(default)]
    pub delivery: Option<PersonInput>,
    /// 配達日指定
    #[serde(default)]
    pub delivery_date: Option<String>,
    /// 時間指定, e.g. `16:00~18:00`
    #[serde(default)]
    pub delivery_time: Option<String>,
    pub items: Vec<ItemInput>,
    #[serde(default)]
    pub discount: i64,
    #[serde(default)]
    pub shipping_fee: i64,
    #[serde(default)]
    pub fee: i64,
    #[serde(default)]
    pub points_used: i64,
    #[serde(default)]
    pub points_earned: i64,
    pub payment_method: String,
    /// 対応状況; default 新規受付, or 入金待ち for methods paid later
    #[serde(default)]
    pub status: Option<String>,
    /// 備考 (the buyer's remarks)
    #[serde(default)]
    pub remarks: String,
    /// Operator memo (ショップ用メモ)
    #[serde(default)]
    pub memo: String,
    /// For imports: when the order was placed (RFC 3339, or `2024/08/19 14:10` in Japan time)
    #[serde(default)]
    pub ordered_at: Option<String>,
    /// 発送日
    #[serde(default)]
    pub shipped_on: Option<String>,
    /// お問い合わせ番号 (tracking number)
    #[serde(default)]
    pub tracking_number: String,
    /// 外部決済注文番号: the gateway's transaction id (imports)
    #[serde(default)]
    pub gateway_ref: String,
    /// `pc`, `smartphone`, `mobile`, `admin`
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default)]
    pub ip: String,
}

/// A validated order: what the store writes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct OrderDraft {
    pub customer_id: Option<i64>,
    pub customer: Person,
    pub email: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub birth_date: Option<Date>,
    pub sex: Option<Sex>,
    pub delivery: Person,
    #[schema(value_type = Option<String>, format = Date)]
    pub delivery_date: Option<Date>,
    pub delivery_time: String,
    pub items: Vec<Item>,
    pub totals: Totals,
    pub points_earned: i64,
    pub payment_method: PaymentMethod,
    pub status: OrderStatus,
    pub remarks: String,
    pub memo: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ordered_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = Date)]
    pub shipped_on: Option<Date>,
    pub tracking_number: String,
    pub gateway_ref: String,
    pub device: Device,
    pub ip: String,
}

/// `2024-08-19T05:10:00Z`, `2024/08/19 14:10` (Japan time), `2024/08/19 14:10:30`.
pub fn parse_instant(field: &str, s: &str) -> Result<Timestamp, Invalid> {
    let n = normalize_ascii(s);
    if let Ok(t) = n.parse::<Timestamp>() {
        return Ok(t);
    }
    let bad = || {
        Invalid::one(
            field,
            "invalid_datetime",
            format!("日時は 2024/08/19 14:10 の形式で入力してください（入力値: {s}）"),
        )
    };
    let (d, t) = n.split_once(' ').unwrap_or((n.as_str(), "00:00"));
    let date = parse_date(field, d).map_err(|_| bad())?;
    let mut hms = t.trim().split(':').map(|p| p.parse::<i8>());
    let h = hms.next().and_then(Result::ok).ok_or_else(bad)?;
    let m = hms.next().and_then(Result::ok).ok_or_else(bad)?;
    let sec = match hms.next() {
        None => 0,
        Some(r) => r.map_err(|_| bad())?,
    };
    let time = jiff::civil::Time::new(h, m, sec, 0).map_err(|_| bad())?;
    date.to_datetime(time)
        .to_zoned(jst())
        .map(|z| z.timestamp())
        .map_err(|_| bad())
}

fn opt_date(e: &mut Invalid, field: &str, s: &Option<String>) -> Option<Date> {
    match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => e.take(parse_date(field, s)),
    }
}

impl OrderInput {
    // Long: one check per field of the order form, in the form's order, every bad field reported.
    pub fn validate(&self) -> Result<OrderDraft, Invalid> {
        let mut e = Invalid::default();
        if let Some(id) = self.customer_id
            && id <= 0
        {
            e.push(FieldError::new(
                "customer_id",
                "invalid",
                "会員IDが正しくありません",
            ));
        }
        let customer = e.take(
            self.customer
                .validate(true)
                .map_err(|x| x.under("customer")),
        );
        let email = e.take(validate_email("email", &self.email, true));
        let birth_date = e.take(validate_birth_date(
            "birth_date",
            self.birth_date.as_deref(),
        ));
        let sex = e.take(parse_sex("sex", self.sex.as_deref()));
        let delivery = match &self.delivery {
            Some(d) => e.take(d.validate(true).map_err(|x| x.under("delivery"))),
            None => customer.clone(),
        };
        let delivery_date = opt_date(&mut e, "delivery_date", &self.delivery_date);
        let delivery_time = text(
            &mut e,
            "delivery_time",
            self.delivery_time.as_deref().unwrap_or(""),
            false,
            50,
        );
        if self.items.is_empty() {
            e.push(FieldError::new(
                "items",
                "required",
                "商品を1つ以上入力してください",
            ));
        }
        if self.items.len() > MAX_ITEMS {
            e.push(FieldError::new(
                "items",
                "too_many",
                format!("商品は{MAX_ITEMS}行までです"),
            ));
        }
        let mut items = Vec::with_capacity(self.items.len());
        for (i, it) in self.items.iter().enumerate() {
            if let Some(v) = e.take(it.validate().map_err(|x| x.under(&format!("items[{i}]")))) {
                items.push(v);
            }
        }
        let discount = e.take(Yen::non_negative("discount", self.discount));
        let shipping_fee = e.take(Yen::non_negative("shipping_fee", self.shipping_fee));
        let fee = e.take(Yen::non_negative("fee", self.fee));
        if self.points_used < 0 {
            e.push(FieldError::new(
                "points_used",
                "negative",
                "0以上で入力してください",
            ));
        }
        if !(0..=crate::money::MAX_YEN).contains(&self.points_earned) {
            e.push(FieldError::new(
                "points_earned",
                "out_of_range",
                "加算ポイントが正しくありません",
            ));
        }
        let payment_method = e.take(PaymentMethod::parse("payment_method", &self.payment_method));
        let status = match self
            .status
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => e.take(OrderStatus::parse("status", s)),
            None => payment_method.map(|m| {
                if m.settles_later() {
                    OrderStatus::AwaitingPayment
                } else {
                    OrderStatus::New
                }
            }),
        };
        let remarks = text(&mut e, "remarks", &self.remarks, false, 4000);
        let memo = text(&mut e, "memo", &self.memo, false, 4000);
        let ordered_at = match self
            .ordered_at
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(s) => e.take(parse_instant("ordered_at", s)),
        };
        let shipped_on = opt_date(&mut e, "shipped_on", &self.shipped_on);
        let tracking_number = text(&mut e, "tracking_number", &self.tracking_number, false, 50);
        let gateway_ref = text(&mut e, "gateway_ref", &self.gateway_ref, false, 64);
        let device = match self
            .device
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Device::Admin,
            Some(s) => Device::from_code(s).unwrap_or_else(|| {
                e.push(FieldError::new(
                    "device",
                    "unknown_device",
                    "端末は pc, smartphone, mobile, admin のいずれかです",
                ));
                Device::Admin
            }),
        };
        let ip = text(&mut e, "ip", &self.ip, false, 45);
        if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
            e.push(FieldError::new(
                "ip",
                "invalid_ip",
                "IPアドレスの形式が正しくありません",
            ));
        }
        // Totals only when every part parsed; their own errors join the rest.
        let totals = match (discount, shipping_fee, fee) {
            (Some(discount), Some(shipping_fee), Some(fee))
                if items.len() == self.items.len() && !items.is_empty() =>
            {
                e.take(calculate(
                    &items,
                    Charges {
                        discount,
                        shipping_fee,
                        fee,
                        points_used: self.points_used,
                    },
                ))
            }
            _ => None,
        };
        if !e.is_empty() {
            return Err(e);
        }
        match (
            customer,
            email,
            birth_date,
            sex,
            delivery,
            payment_method,
            status,
            totals,
        ) {
            (
                Some(customer),
                Some(email),
                Some(birth_date),
                Some(sex),
                Some(delivery),
                Some(payment_method),
                Some(status),
                Some(totals),
            ) => Ok(OrderDraft {
                customer_id: self.customer_id,
                customer,
                email,
                birth_date,
                sex,
                delivery,
                delivery_date,
                delivery_time,
                items,
                totals,
                points_earned: self.points_earned,
                payment_method,
                status,
                remarks,
                memo,
                ordered_at,
                shipped_on,
                tracking_number,
                gateway_ref,
                device,
                ip,
            }),
            _ => Err(Invalid::one("", "invalid", "入力内容が正しくありません")),
        }
    }
}

impl OrderDraft {
    /// The input that would produce this draft: edits patch it and validate again, so an
    /// edit passes exactly the checks a new order does.
    pub fn to_input(&self) -> OrderInput {
        OrderInput {
            customer_id: self.customer_id,
            customer: self.customer.to_input(),
            email: self.email.clone(),
            birth_date: self.birth_date.map(|d| d.to_string()),
            sex: self.sex.map(|s| s.code().to_owned()),
            delivery: Some(self.delivery.to_input()),
            delivery_date: self.delivery_date.map(|d| d.to_string()),
            delivery_time: Some(self.delivery_time.clone()),
            items: self.items.iter().map(Item::to_input).collect(),
            discount: self.totals.discount.get(),
            shipping_fee: self.totals.shipping_fee.get(),
            fee: self.totals.fee.get(),
            points_used: self.totals.points_used,
            points_earned: self.points_earned,
            payment_method: self.payment_method.code().to_owned(),
            status: Some(self.status.code().to_owned()),
            remarks: self.remarks.clone(),
            memo: self.memo.clone(),
            ordered_at: self.ordered_at.map(|t| t.to_string()),
            shipped_on: self.shipped_on.map(|d| d.to_string()),
            tracking_number: self.tracking_number.clone(),
            gateway_ref: self.gateway_ref.clone(),
            device: Some(self.device.code().to_owned()),
            ip: self.ip.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::MAX_YEN;
    use proptest::prelude::*;

    pub(crate) fn item(price: i64, qty: i64, rate: i64) -> ItemInput {
        ItemInput {
            product_code: "A-1".into(),
            product_name: Some("商品".into()),
            unit_price: Some(price),
            quantity: qty,
            tax_rate: Some(rate),
            ..Default::default()
        }
    }

    pub(crate) fn order() -> OrderInput {
        OrderInput {
            customer: PersonInput {
                family_name: "山田".into(),
                given_name: "花子".into(),
                family_kana: "ヤマダ".into(),
                given_kana: "ハナコ".into(),
                postal_code: "1000001".into(),
                prefecture: "東京都".into(),
                address1: "千代田区千代田1-1".into(),
                tel: "0312345678".into(),
                ..Default::default()
            },
            email: "hanako@example.jp".into(),
            items: vec![item(1100, 2, 10), item(540, 1, 8)],
            shipping_fee: 600,
            fee: 330,
            discount: 100,
            points_used: 50,
            payment_method: "gmo_card".into(),
            ..Default::default()
        }
    }

    #[test]
    fn totals_of_a_typical_order() {
        let d = order().validate().unwrap();
        let t = &d.totals;
        assert_eq!(t.subtotal.get(), 2740);
        assert_eq!(t.total.get(), 2740 + 600 + 330 - 100);
        assert_eq!(t.payment_total.get(), t.total.get() - 50);
        assert_eq!(d.status, OrderStatus::New);
        assert_eq!(d.delivery, d.customer);
        let sum: i64 = t.tax.by_rate.iter().map(|r| r.amount.get()).sum();
        assert_eq!(sum, t.total.get());
    }

    #[test]
    fn konbini_orders_wait_for_payment() {
        let mut o = order();
        o.payment_method = "paygent_konbini".into();
        assert_eq!(o.validate().unwrap().status, OrderStatus::AwaitingPayment);
    }

    #[test]
    fn bad_input_names_each_field() {
        let mut o = order();
        o.items[1].quantity = -1;
        o.discount = -5;
        o.payment_method = "bitcoin".into();
        o.status = Some("shipping".into());
        o.birth_date = Some("2024/02/30".into());
        let e = o.validate().unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "birth_date",
                "items[1].quantity",
                "discount",
                "payment_method",
                "status"
            ]
        );
    }

    #[test]
    fn discount_and_points_cannot_exceed_total() {
        let mut o = order();
        o.discount = 1_000_000;
        assert_eq!(o.validate().unwrap_err().0[0].code, "exceeds_total");
        let mut o = order();
        o.points_used = 1_000_000;
        assert_eq!(o.validate().unwrap_err().0[0].field, "points_used");
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let mut o = order();
        o.items = (0..MAX_ITEMS)
            .map(|_| item(999_999_999, 99_999, 10))
            .collect();
        let e = o.validate().unwrap_err();
        assert_eq!(e.0[0].code, "out_of_range");
    }

    #[test]
    fn instants_in_japan_time() {
        let t = parse_instant("x", "2024/08/19 14:10").unwrap();
        assert_eq!(t.to_string(), "2024-08-19T05:10:00Z");
        assert!(parse_instant("x", "2024/08/19 25:10").is_err());
        assert_eq!(parse_instant("x", "2024-08-19T05:10:00Z").unwrap(), t);
    }

    #[test]
    fn draft_roundtrips_through_input() {
        let d = order().validate().unwrap();
        assert_eq!(d.to_input().validate().unwrap(), d);
    }

    proptest! {
        #[test]
        fn totals_identities(
            lines in proptest::collection::vec((0i64..=200_000, 1i64..=50, prop_oneof![Just(8i64), Just(10i64)]), 1..20),
            ship in 0i64..=5_000, fee in 0i64..=1_000, disc_pm in 0i64..=1000, pts_pm in 0i64..=1000,
        ) {
            let items: Vec<Item> = lines.iter().map(|(p, q, r)| item(*p, *q, *r).validate().unwrap()).collect();
            let sub: i64 = lines.iter().map(|(p, q, _)| p * q).sum();
            let discount = (sub + ship + fee) * disc_pm / 1000;
            let total = sub + ship + fee - discount;
            let points = total * pts_pm / 1000;
            let t = calculate(&items, Charges {
                discount: Yen::new(discount).unwrap(),
                shipping_fee: Yen::new(ship).unwrap(),
                fee: Yen::new(fee).unwrap(),
                points_used: points,
            }).unwrap();
            prop_assert_eq!(t.subtotal.get(), sub);
            prop_assert_eq!(t.total.get(), total);
            prop_assert_eq!(t.payment_total.get(), total - points);
            let by_rate: i64 = t.tax.by_rate.iter().map(|r| r.amount.get()).sum();
            prop_assert_eq!(by_rate, total);
            prop_assert!(t.tax.by_rate.iter().all(|r| r.amount.get() >= 0 && r.tax <= r.amount));
        }

        #[test]
        fn any_amount_input_is_ok_or_a_field_error(
            price in any::<i64>(), qty in any::<i64>(), disc in any::<i64>(), ship in any::<i64>(), pts in any::<i64>()
        ) {
            let mut o = order();
            o.items = vec![item(price, qty, 10)];
            o.discount = disc;
            o.shipping_fee = ship;
            o.points_used = pts;
            match o.validate() {
                Ok(d) => {
                    prop_assert!(d.totals.payment_total.get() >= 0);
                    prop_assert!(d.totals.total.get() <= MAX_YEN);
                }
                Err(e) => prop_assert!(!e.0.is_empty() && e.0.iter().all(|f| !f.field.is_empty())),
            }
        }
    }
}

/// An order as stored: its validated contents plus what the shop's handling added.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Order {
    pub id: i64,
    /// 注文番号 (sequential per shop)
    pub number: i64,
    /// Changes on every write; an edit must send the version it started from.
    pub version: i64,
    pub list: crate::status::OrderList,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deleted_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub ordered_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Earned points are credited to the member (done when the order ships).
    pub points_granted: bool,
    /// 入金チェック: the operator's manual "payment checked" mark.
    pub payment_checked: bool,
    /// When and by whom 入金チェック was set (None while it is off).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub payment_checked_at: Option<Timestamp>,
    pub payment_checked_by: String,
    #[serde(flatten)]
    pub draft: OrderDraft,
}

impl Order {
    pub fn standing(&self) -> crate::status::Standing {
        crate::status::Standing {
            status: self.draft.status,
            list: self.list,
            deleted: self.deleted_at.is_some(),
        }
    }
}

/// One row of the 受注管理 result list.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OrderSummary {
    /// The row's id, for joining what belongs to it (its payment).
    #[serde(skip)]
    pub id: i64,
    pub number: i64,
    #[schema(value_type = String, format = DateTime)]
    pub ordered_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    pub customer_id: Option<i64>,
    pub customer_name: String,
    pub customer_kana: String,
    pub payment_method: PaymentMethod,
    /// 外部決済注文番号
    pub gateway_ref: String,
    /// 購入金額 (お支払い合計)
    pub payment_total: Yen,
    /// 全商品発送日
    #[schema(value_type = Option<String>, format = Date)]
    pub shipped_on: Option<Date>,
    pub status: OrderStatus,
    pub list: OrderList,
    pub payment_checked: bool,
    /// For actions from the list (削除): an order changed since is refused.
    pub version: i64,
}

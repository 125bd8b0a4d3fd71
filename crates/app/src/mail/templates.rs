//! The mails an operator sends from an order — 注文確認 / 配送通知 / フリー — as minijinja
//! text the shop can edit, with built-in Japanese defaults. A shop's template runs in its own
//! bounded environment: no loader (include / import / extends find nothing), a fuel limit
//! and a cap on the output, so a template cannot hang or flood the server; an undefined
//! variable is an error the operator sees with its line.

use std::io::Write;

use juchu_domain::customer::postal_label as postal;
use juchu_domain::order::Order;
use juchu_domain::tax::TaxRate;
use juchu_domain::time::format_date;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde::Serialize;

/// Instructions a template may run per render: a 500-line order needs a few thousand.
const FUEL: u64 = 200_000;
/// The longest mail a template may produce (bytes).
const MAX_OUTPUT: usize = 200_000;
/// The longest template the shop may store (characters).
pub const MAX_SUBJECT_SOURCE: usize = 500;
pub const MAX_BODY_SOURCE: usize = 20_000;

/// The mails an operator sends from an order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// 注文確認メール (the same text as the checkout's サンクスメール)
    Order,
    /// 配送通知メール, with the 問合せ番号
    Shipping,
    /// フリーメール
    Free,
}

impl MailKind {
    pub const ALL: [MailKind; 3] = [MailKind::Order, MailKind::Shipping, MailKind::Free];

    pub fn code(self) -> &'static str {
        match self {
            MailKind::Order => "order",
            MailKind::Shipping => "shipping",
            MailKind::Free => "free",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MailKind::Order => "注文確認メール",
            MailKind::Shipping => "配送通知メール",
            MailKind::Free => "フリーメール",
        }
    }

    pub fn from_code(s: &str) -> Option<MailKind> {
        MailKind::ALL.into_iter().find(|k| k.code() == s)
    }

    /// The built-in text: (subject, body).
    pub fn default_text(self) -> (&'static str, &'static str) {
        match self {
            MailKind::Order => (ORDER_SUBJECT, ORDER_BODY),
            MailKind::Shipping => (SHIPPING_SUBJECT, SHIPPING_BODY),
            MailKind::Free => (FREE_SUBJECT, FREE_BODY),
        }
    }
}

/// What the outbox calls each kind of mail (`mails.kind`), the system's mails included.
pub fn kind_label(code: &str) -> &'static str {
    match code {
        "order" => "注文確認",
        "shipping" => "配送通知",
        "free" => "フリー",
        "thanks" => "サンクス（注文確認）",
        "payment_instructions" => "お支払い案内",
        _ => "その他",
    }
}

/// Every kind the outbox can hold (`mails.kind`), for its filter.
pub const OUTBOX_KINDS: [&str; 5] = [
    "order",
    "shipping",
    "free",
    "thanks",
    "payment_instructions",
];

const ORDER_SUBJECT: &str =
    "【{{ shop_name }}】ご注文ありがとうございます（注文番号 {{ order_number }}）";

// The payment block sits where the checkout's サンクスメール always had it: after the
// totals, before the delivery address.
const ORDER_BODY: &str = "{{ customer_name }} 様

このたびは{{ shop_name }}をご利用いただき、ありがとうございます。
ご注文を承りました。内容をご確認ください。
{% if payment_done %}
{{ payment_method }}のお支払い手続きが完了しました（お支払い合計 {{ payment_total|yen }}）。
{% endif %}

注文番号: {{ order_number }}
ご注文日時: {{ order_date }}
お支払い方法: {{ payment_method }}

■ ご注文商品
{% for i in items %}
{% if i.tax_rate == 8 %}※{% endif %}{{ i.code }} {{ i.name }}{% if i.classes %}（{{ i.classes }}）{% endif %} × {{ i.quantity }} = {{ i.line_total|yen }}
{% endfor %}
{% if tax8.amount > 0 %}
※は軽減税率（8%）対象商品です。
{% endif %}

小計: {{ subtotal|yen }}
{% if discount > 0 %}
値引き: -{{ discount|yen }}
{% endif %}
送料: {{ shipping_fee|yen }}
{% if fee > 0 %}
手数料: {{ fee|yen }}
{% endif %}
{% if points_used > 0 %}
ご利用ポイント: -{{ points_used }}pt
{% endif %}
お支払い合計: {{ payment_total|yen }}
（10%対象 {{ tax10.amount|yen }} 内消費税 {{ tax10.tax|yen }}／8%対象 {{ tax8.amount|yen }} 内消費税 {{ tax8.tax|yen }}）
{% if payment_instructions %}

■ お支払いのご案内
{{ payment_instructions }}
{% endif %}

■ お届け先
{{ delivery_name }} 様
{{ delivery_postal }} {{ delivery_address }}
{% if payment_mail_note %}

{{ payment_mail_note }}
{% endif %}

――――――――――――――――――――
{{ shop_name }}
{{ shop_email }}";

const SHIPPING_SUBJECT: &str =
    "【{{ shop_name }}】ご注文の商品を発送しました（注文番号 {{ order_number }}）";

const SHIPPING_BODY: &str = "{{ customer_name }} 様

このたびは{{ shop_name }}をご利用いただき、ありがとうございます。
ご注文の商品を発送いたしましたので、お知らせいたします。

注文番号: {{ order_number }}
ご注文日時: {{ order_date }}
{% if shipped_on %}
発送日: {{ shipped_on }}
{% endif %}
お問い合わせ番号: {{ tracking_number }}

配送状況は、配送業者のホームページまたはお問い合わせ窓口で、
上記のお問い合わせ番号からご確認いただけます。
（発送直後は情報が反映されていない場合があります）

■ 発送した商品
{% for i in items %}
{{ i.name }}{% if i.classes %}（{{ i.classes }}）{% endif %} × {{ i.quantity }}
{% endfor %}

■ お届け先
{{ delivery_name }} 様
{{ delivery_postal }} {{ delivery_address }}
{% if delivery_date %}
配達日指定: {{ delivery_date }} {{ delivery_time }}
{% endif %}

商品の到着まで、今しばらくお待ちください。

――――――――――――――――――――
{{ shop_name }}
{{ shop_email }}";

const FREE_SUBJECT: &str = "【{{ shop_name }}】ご注文（注文番号 {{ order_number }}）について";

/// The built-in フリーメール's stand-in for what the operator writes; sending it unchanged
/// is refused.
pub const FREE_PLACEHOLDER: &str = "（ここにご連絡内容を入力してください）";

const FREE_BODY: &str = "{{ customer_name }} 様

このたびは{{ shop_name }}をご利用いただき、ありがとうございます。
ご注文（注文番号 {{ order_number }}、{{ order_date }}）について、ご連絡いたします。

（ここにご連絡内容を入力してください）

ご不明な点がございましたら、このメールにご返信ください。

――――――――――――――――――――
{{ shop_name }}
{{ shop_email }}";

/// The variables every template may use, with what they hold (shown on the edit screen).
pub const VARIABLES: [(&str, &str); 36] = [
    ("shop_name", "ショップ名"),
    ("shop_email", "ショップのメールアドレス（基本設定）"),
    ("order_number", "注文番号"),
    ("order_date", "ご注文日時（2024/08/19 10:00）"),
    ("order_status", "対応状況（新規受付・発送済み など）"),
    ("customer_name", "注文者のお名前（山田 花子）"),
    ("customer_kana", "注文者のフリガナ"),
    ("customer_email", "注文者のメールアドレス（宛先）"),
    (
        "items",
        "ご注文商品の一覧。{% for i in items %} … {% endfor %} で1行ずつ: i.code 商品コード、i.name 商品名、i.classes 規格、i.unit_price 単価（税込）、i.quantity 数量、i.line_total 金額、i.tax_rate 税率（10 / 8）",
    ),
    ("subtotal", "小計（税込・円）"),
    ("discount", "値引き（円）"),
    ("shipping_fee", "送料（円）"),
    ("fee", "手数料（円）"),
    ("total", "合計（円）"),
    ("points_used", "ご利用ポイント"),
    ("points_earned", "加算ポイント"),
    ("payment_total", "お支払い合計（円）"),
    ("tax10", "10%対象: tax10.amount 対象額、tax10.tax 内消費税"),
    (
        "tax8",
        "8%対象（軽減税率）: tax8.amount 対象額、tax8.tax 内消費税",
    ),
    ("payment_method", "お支払い方法（支払方法設定の名称）"),
    (
        "payment_done",
        "カード・あと払いのお支払い手続きが済んでいるとき true",
    ),
    (
        "payment_instructions",
        "コンビニ・ATM・ネットバンキングのお支払いのご案内（受付番号・お支払い期限・お支払い画面のURL）。お支払い待ちでないときは空",
    ),
    (
        "payment_mail_note",
        "支払方法設定の「サンクスメールに表示する文言」",
    ),
    ("delivery_name", "お届け先のお名前"),
    ("delivery_company", "お届け先の会社名"),
    ("delivery_postal", "お届け先の郵便番号（〒100-0001）"),
    ("delivery_address", "お届け先の住所"),
    ("delivery_tel", "お届け先の電話番号"),
    ("delivery_date", "配達日指定（2024/08/22、指定なしは空）"),
    ("delivery_time", "時間指定（指定なしは空）"),
    ("shipped_on", "発送日（未発送は空）"),
    (
        "tracking_number",
        "お問い合わせ番号（問合せ番号）。配送通知メールでは送信画面で入力した番号",
    ),
    ("remarks", "備考（お客様からのご要望）"),
    ("operator_name", "送信する担当者の名前"),
    ("today", "送信する日（2024/08/19）"),
    (
        "|yen",
        "金額を「1,234円」と表示するフィルタ: {{ payment_total|yen }}",
    ),
];

#[derive(Debug, Clone, Serialize)]
pub struct ItemVars {
    pub code: String,
    pub name: String,
    pub classes: String,
    pub unit_price: i64,
    pub quantity: i64,
    pub line_total: i64,
    pub tax_rate: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaxVars {
    pub amount: i64,
    pub tax: i64,
}

/// What a template sees (see [`VARIABLES`]). Every variable is always present — empty
/// when the order has nothing for it — so a template that renders for the sample renders
/// for every order.
#[derive(Debug, Clone, Serialize)]
pub struct Vars {
    pub shop_name: String,
    pub shop_email: String,
    pub order_number: i64,
    pub order_date: String,
    pub order_status: String,
    pub customer_name: String,
    pub customer_kana: String,
    pub customer_email: String,
    pub items: Vec<ItemVars>,
    pub subtotal: i64,
    pub discount: i64,
    pub shipping_fee: i64,
    pub fee: i64,
    pub total: i64,
    pub points_used: i64,
    pub points_earned: i64,
    pub payment_total: i64,
    pub tax10: TaxVars,
    pub tax8: TaxVars,
    pub payment_method: String,
    pub payment_done: bool,
    pub payment_instructions: String,
    pub payment_mail_note: String,
    pub delivery_name: String,
    pub delivery_company: String,
    pub delivery_postal: String,
    pub delivery_address: String,
    pub delivery_tel: String,
    pub delivery_date: String,
    pub delivery_time: String,
    pub shipped_on: String,
    pub tracking_number: String,
    pub remarks: String,
    pub operator_name: String,
    pub today: String,
}

/// What the order-independent variables come from.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub shop_name: String,
    pub shop_email: String,
    /// The payment method's name as the shop set it.
    pub payment_method: String,
    pub payment_done: bool,
    pub payment_instructions: String,
    pub payment_mail_note: String,
    pub operator_name: String,
    pub today: String,
}

impl Vars {
    pub fn of(o: &Order, x: Extras) -> Vars {
        let d = &o.draft;
        let t = &d.totals;
        let rate = |r: TaxRate| {
            t.tax
                .by_rate
                .iter()
                .find(|a| a.rate == r)
                .map(|a| TaxVars {
                    amount: a.amount.get(),
                    tax: a.tax.get(),
                })
                .unwrap_or(TaxVars { amount: 0, tax: 0 })
        };
        let p = &d.delivery;
        Vars {
            shop_name: x.shop_name,
            shop_email: x.shop_email,
            order_number: o.number,
            order_date: juchu_domain::time::format_jst_minute(o.ordered_at),
            order_status: d.status.label().to_owned(),
            customer_name: d.customer.full_name(),
            customer_kana: d.customer.full_kana(),
            customer_email: d.email.clone(),
            items: d
                .items
                .iter()
                .map(|i| ItemVars {
                    code: i.product_code.clone(),
                    name: i.product_name.clone(),
                    classes: juchu_domain::catalog::class_label(&i.class1, &i.class2),
                    unit_price: i.unit_price.get(),
                    quantity: i.quantity,
                    line_total: i.line_total().map(|y| y.get()).unwrap_or_default(),
                    tax_rate: i.tax_rate.percent(),
                })
                .collect(),
            subtotal: t.subtotal.get(),
            discount: t.discount.get(),
            shipping_fee: t.shipping_fee.get(),
            fee: t.fee.get(),
            total: t.total.get(),
            points_used: t.points_used,
            points_earned: d.points_earned,
            payment_total: t.payment_total.get(),
            tax10: rate(TaxRate::Standard10),
            tax8: rate(TaxRate::Reduced8),
            payment_method: if x.payment_method.is_empty() {
                d.payment_method.label().to_owned()
            } else {
                x.payment_method
            },
            payment_done: x.payment_done,
            payment_instructions: x.payment_instructions,
            payment_mail_note: x.payment_mail_note,
            delivery_name: p.full_name(),
            delivery_company: p.company.clone(),
            delivery_postal: postal(&p.postal_code),
            delivery_address: format!("{}{}{}", p.prefecture, p.address1, p.address2),
            delivery_tel: p.tel.clone(),
            delivery_date: d.delivery_date.map(format_date).unwrap_or_default(),
            delivery_time: d.delivery_time.clone(),
            shipped_on: d.shipped_on.map(format_date).unwrap_or_default(),
            tracking_number: d.tracking_number.clone(),
            remarks: d.remarks.clone(),
            operator_name: x.operator_name,
            today: x.today,
        }
    }

    /// A made-up order with something in every variable: templates are checked against it
    /// (and against [`Vars::sample_bare`]) before they are saved.
    pub fn sample(shop_name: &str, shop_email: &str) -> Vars {
        Vars {
            shop_name: shop_name.to_owned(),
            shop_email: shop_email.to_owned(),
            order_number: 1001,
            order_date: "2024/08/19 10:00".into(),
            order_status: "新規受付".into(),
            customer_name: "山田 花子".into(),
            customer_kana: "ヤマダ ハナコ".into(),
            customer_email: "hanako@example.jp".into(),
            items: vec![
                ItemVars {
                    code: "TS-M".into(),
                    name: "Tシャツ".into(),
                    classes: "白 / M".into(),
                    unit_price: 2990,
                    quantity: 2,
                    line_total: 5980,
                    tax_rate: 10,
                },
                ItemVars {
                    code: "TEA-1".into(),
                    name: "緑茶".into(),
                    classes: "20袋".into(),
                    unit_price: 1080,
                    quantity: 1,
                    line_total: 1080,
                    tax_rate: 8,
                },
            ],
            subtotal: 7060,
            discount: 100,
            shipping_fee: 600,
            fee: 330,
            total: 7890,
            points_used: 50,
            points_earned: 70,
            payment_total: 7840,
            tax10: TaxVars {
                amount: 6820,
                tax: 620,
            },
            tax8: TaxVars {
                amount: 1070,
                tax: 79,
            },
            payment_method: "コンビニ決済".into(),
            payment_done: true,
            payment_instructions: "受付番号: 1234567890\nお支払い期限: 2024/08/24 23:59\nお支払い期限を過ぎるとお支払いいただけなくなります。".into(),
            payment_mail_note: "お支払い方法についてのご案内です。".into(),
            delivery_name: "山田 花子".into(),
            delivery_company: "株式会社サンプル".into(),
            delivery_postal: "〒100-0001".into(),
            delivery_address: "東京都千代田区千代田1-1".into(),
            delivery_tel: "0312345678".into(),
            delivery_date: "2024/08/22".into(),
            delivery_time: "14:00~16:00".into(),
            shipped_on: "2024/08/20".into(),
            tracking_number: "1234-5678-9012".into(),
            remarks: "不在時は宅配ボックスへお願いします。".into(),
            operator_name: "受注 担当".into(),
            today: "2024/08/20".into(),
        }
    }

    /// The sample with everything optional empty: the other side of each `{% if %}`.
    pub fn sample_bare(shop_name: &str) -> Vars {
        Vars {
            shop_email: String::new(),
            items: vec![],
            discount: 0,
            fee: 0,
            points_used: 0,
            points_earned: 0,
            tax8: TaxVars { amount: 0, tax: 0 },
            payment_done: false,
            payment_instructions: String::new(),
            payment_mail_note: String::new(),
            delivery_company: String::new(),
            delivery_date: String::new(),
            delivery_time: String::new(),
            shipped_on: String::new(),
            tracking_number: String::new(),
            remarks: String::new(),
            ..Vars::sample(shop_name, "")
        }
    }
}

/// How a konbini / ATM / net-bank payment is paid, as the mails tell it.
pub fn instructions_text(slip: &juchu_gateway::PaymentSlip) -> String {
    let mut lines: Vec<String> = slip
        .fields
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if let Some(u) = &slip.url {
        lines.push(format!("お支払い画面: {u}"));
    }
    lines.push(format!(
        "お支払い期限: {}",
        juchu_domain::time::format_jst_minute(slip.due)
    ));
    lines.push("お支払い期限を過ぎるとお支払いいただけなくなります。".into());
    lines.join("\n")
}

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(50);
    // A line holding only `{% … %}` leaves nothing in the mail.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    // Plain-text mail: nothing is HTML-escaped.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.add_filter("yen", juchu_domain::money::yen);
    env
}

/// A writer that refuses to grow past `MAX_OUTPUT`: rendering stops there.
struct Capped(Vec<u8>);

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_OUTPUT {
            return Err(std::io::Error::other("too long"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why a template failed, for the operator: the line, the text there, and what is wrong.
fn describe(e: &minijinja::Error, source: &str) -> String {
    let detail = e.detail().unwrap_or_default();
    let what = match e.kind() {
        ErrorKind::SyntaxError => format!("書き方に誤りがあります（{detail}）"),
        ErrorKind::UndefinedError => {
            "使えない変数です（変数名の綴りを「使える変数」で確認してください）".to_owned()
        }
        ErrorKind::OutOfFuel => "処理が多すぎます（繰り返しを見直してください）".to_owned(),
        ErrorKind::TemplateNotFound | ErrorKind::BadInclude => {
            "include・import・extends は使えません".to_owned()
        }
        ErrorKind::UnknownFilter => format!("使えないフィルタです（{detail}）"),
        ErrorKind::UnknownFunction | ErrorKind::UnknownMethod | ErrorKind::UnknownTest => {
            format!("使えない関数です（{detail}）")
        }
        ErrorKind::WriteFailure => "メールが長すぎます".to_owned(),
        ErrorKind::InvalidOperation => format!("この操作はできません（{detail}）"),
        _ if detail.is_empty() => e.kind().to_string(),
        _ => format!("{}（{detail}）", e.kind()),
    };
    let at = e
        .range()
        .and_then(|r| source.get(r))
        .filter(|s| !s.is_empty() && s.chars().count() <= 60 && !s.contains('\n'))
        .map(|s| format!("「{s}」"))
        .unwrap_or_default();
    match e.line() {
        Some(l) => format!("{l}行目{at}: {what}"),
        None => what,
    }
}

/// Render one template (`name` is 件名 or 本文 in messages). Err: what is wrong, with the line.
pub fn render(name: &str, source: &str, vars: &Vars) -> Result<String, String> {
    let env = env();
    let t = env
        .template_from_named_str(name, source)
        .map_err(|e| describe(&e, source))?;
    let mut out = Capped(Vec::new());
    t.render_captured_to(vars, &mut out)
        .map_err(|e| describe(&e, source))?;
    String::from_utf8(out.0).map_err(|_| "文字コードが正しくありません".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_is_documented_and_every_documented_one_exists() {
        let v = serde_json::to_value(Vars::sample("店", "shop@example.jp")).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let documented: Vec<&str> = VARIABLES
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| !n.starts_with('|'))
            .collect();
        for k in &keys {
            assert!(documented.contains(k), "{k} is not in VARIABLES");
        }
        for d in &documented {
            assert!(keys.contains(d), "{d} is documented but not set");
        }
    }

    #[test]
    fn docs_list_every_variable() {
        let doc = include_str!("../../../../docs/mail.md");
        for (n, _) in VARIABLES {
            let shown = if let Some(filter) = n.strip_prefix('|') {
                format!("`{filter}` (filter)")
            } else {
                format!("`{{{{ {n} }}}}`")
            };
            assert!(doc.contains(&shown), "docs/mail.md does not list {shown}");
        }
    }

    #[test]
    fn built_in_templates_render_for_both_samples() {
        for k in MailKind::ALL {
            let (s, b) = k.default_text();
            for v in [
                Vars::sample("店", "shop@example.jp"),
                Vars::sample_bare("店"),
            ] {
                let subject = render("件名", s, &v).unwrap();
                assert!(!subject.contains('\n'), "{subject}");
                let body = render("本文", b, &v).unwrap();
                assert!(body.contains("山田 花子 様"), "{body}");
                assert!(
                    !body.contains("\n\n\n"),
                    "{k:?}: no runs of blank lines:\n{body}"
                );
            }
        }
        let body = render("本文", ORDER_BODY, &Vars::sample("店", "s@e.jp")).unwrap();
        assert!(
            body.contains("※TEA-1 緑茶（20袋） × 1 = 1,080円\n"),
            "{body}"
        );
        assert!(
            body.contains("TS-M Tシャツ（白 / M） × 2 = 5,980円\n"),
            "{body}"
        );
        assert!(body.contains("値引き: -100円"), "{body}");
        assert!(body.contains("受付番号: 1234567890"), "{body}");
        let shipping = render("本文", SHIPPING_BODY, &Vars::sample("店", "")).unwrap();
        assert!(
            shipping.contains("お問い合わせ番号: 1234-5678-9012"),
            "{shipping}"
        );
    }

    #[test]
    fn errors_name_the_line_and_what_is_wrong() {
        let v = Vars::sample("店", "");
        let e = render("本文", "こんにちは\n{{ customer_nmae }} 様", &v).unwrap_err();
        assert!(e.starts_with("2行目"), "{e}");
        assert!(e.contains("使えない変数"), "{e}");
        let e = render("本文", "a\nb\n{% if x %}", &v).unwrap_err();
        assert!(e.starts_with("3行目"), "{e}");
        let e = render("本文", "{% include 'x' %}", &v).unwrap_err();
        assert!(e.contains("include"), "{e}");
        // A template that would run for ever stops.
        let e = render(
            "本文",
            "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
            &v,
        )
        .unwrap_err();
        assert!(e.contains("処理が多すぎます"), "{e}");
        let e = render("本文", "{{ 'あ' * 1000000 }}", &v).unwrap_err();
        assert!(e.contains("長すぎます"), "{e}");
        // Nothing is HTML-escaped in a text mail.
        assert_eq!(render("件名", "{{ '<a&b>' }}", &v).unwrap(), "<a&b>");
    }
}

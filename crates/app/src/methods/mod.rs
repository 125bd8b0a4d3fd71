//! 支払方法設定 and 配送方法 (SPEC §10, seed 004 §3): what each payment method offers and
//! says, the gateways' credentials (sealed with the server's key, shown masked), and the
//! delivery methods that list the payment methods a buyer may choose. `offered` is the one
//! place the checkout asks which methods to show.

use std::collections::BTreeMap;

use jiff::Timestamp;
use juchu_domain::money::{MAX_YEN, group};
use juchu_domain::payment::{AttemptControl, CaptureMode};
use juchu_domain::payment_method::{Gateway, PaymentMethod};
use juchu_domain::{FieldError, Invalid};
use juchu_store::methods as store;

use crate::{Actor, App, AppError};

mod connection;
mod deliveries;

pub use connection::set_credentials;
pub use deliveries::{
    DeliveryInput, DeliveryMethod, check_delivery, delete_delivery, deliveries, delivery,
    save_delivery, seed_defaults,
};

/// 支払回数 a card payment may offer: 一括, 分割 (3…24回), ボーナス一括, リボ.
pub const INSTALLMENTS: [&str; 12] = [
    "1",
    "3",
    "5",
    "6",
    "10",
    "12",
    "15",
    "18",
    "20",
    "24",
    "bonus",
    "revolving",
];

/// How the settings screen names a 支払回数 code.
pub fn installment_label(code: &str) -> String {
    match code {
        "1" => "一括".to_owned(),
        "bonus" => "ボーナス一括".to_owned(),
        "revolving" => "リボ".to_owned(),
        n => format!("{n}回"),
    }
}

/// 売上確定方式 in the manual's words.
pub fn capture_label(c: CaptureMode) -> &'static str {
    match c {
        CaptureMode::AuthOnly => "オーソリのみ",
        CaptureMode::AuthAndCapture => "オーソリ＋売上（即時売上）",
    }
}

/// Methods whose 売上確定方式 is a setting: cards and Paidy.
pub fn has_capture(m: PaymentMethod) -> bool {
    m.is_card() || m == PaymentMethod::Paidy
}

/// Methods with 支払回数, 3Dセキュア and the attempt control: cards.
pub fn has_card_options(m: PaymentMethod) -> bool {
    m.is_card()
}

/// Methods the buyer pays later, by a date: konbini, ATM / Pay-easy, net bank, transfers.
pub fn has_due_days(m: PaymentMethod) -> bool {
    m.settles_later()
        || matches!(
            m,
            PaymentMethod::BankTransfer | PaymentMethod::PostalTransfer
        )
}

const DEFAULT_DUE_DAYS: i64 = 7;
const NOTE_MAX: usize = 1000;
const NAME_MAX: usize = 50;
const MERCHANT_NAME_MAX: usize = 40;
const URL_MAX: usize = 500;

/// One payment method's settings, as stored or (without a row) the defaults.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct MethodSettings {
    pub method: PaymentMethod,
    /// Shown at checkout (the offer needs a delivery method listing it too).
    pub enabled: bool,
    /// 支払方法の名称: what the buyer sees at checkout and in mails.
    pub display_name: String,
    /// 売上確定方式 (cards, Paidy): `auth_only` オーソリのみ, `auth_and_capture` オーソリ＋売上.
    #[schema(value_type = String, example = "auth_only")]
    pub capture: CaptureMode,
    /// 支払回数 offered (cards): `1`, `3` … `24`, `bonus`, `revolving`.
    pub installments: Vec<String>,
    /// 支払回数欄の注意書き.
    pub installments_note: String,
    /// 3Dセキュア2.0 (本人認証) を利用する (cards).
    pub three_ds: bool,
    /// 加盟店名（英字）, as registered with the gateway (required with 3DS).
    pub merchant_name_en: String,
    /// Attempt オーソリ制御区分.
    pub attempt_control: AttemptControl,
    /// 商品合計がこの金額未満なら表示しない.
    pub min_subtotal: Option<i64>,
    /// 商品合計がこの金額を超えるなら表示しない.
    pub max_subtotal: Option<i64>,
    /// 支払期限（日）: konbini / ATM / net bank / transfers.
    pub due_days: i64,
    /// 注意書き on the payment page, the confirmation page, the thanks mail.
    pub payment_note: String,
    pub confirm_note: String,
    pub mail_note: String,
    /// 決済サービスロゴ画像: empty, `https://…` or a path on the shop (`/…`).
    pub logo_url: String,
    /// When and by whom it was last saved; None while the defaults apply.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<Timestamp>,
    pub updated_by: String,
}

impl MethodSettings {
    /// A method never saved: enabled, named as the system names it, オーソリのみ, 一括 only,
    /// no 3DS (セキュリティ高 once turned on), 7 days to pay, no notes.
    pub fn defaults(method: PaymentMethod) -> MethodSettings {
        MethodSettings {
            method,
            enabled: true,
            display_name: method.label().to_owned(),
            capture: CaptureMode::AuthOnly,
            installments: vec!["1".to_owned()],
            installments_note: String::new(),
            three_ds: false,
            merchant_name_en: String::new(),
            attempt_control: AttemptControl::High,
            min_subtotal: None,
            max_subtotal: None,
            due_days: DEFAULT_DUE_DAYS,
            payment_note: String::new(),
            confirm_note: String::new(),
            mail_note: String::new(),
            logo_url: String::new(),
            updated_at: None,
            updated_by: String::new(),
        }
    }

    fn of_row(r: store::MethodRow) -> MethodSettings {
        MethodSettings {
            method: r.method,
            enabled: r.enabled,
            display_name: r.display_name,
            capture: r.capture,
            installments: r.installments,
            installments_note: r.installments_note,
            three_ds: r.three_ds,
            merchant_name_en: r.merchant_name_en,
            attempt_control: r.attempt_control,
            min_subtotal: r.min_subtotal,
            max_subtotal: r.max_subtotal,
            due_days: r.due_days,
            payment_note: r.payment_note,
            confirm_note: r.confirm_note,
            mail_note: r.mail_note,
            logo_url: r.logo_url,
            updated_at: Some(r.updated_at),
            updated_by: r.updated_by,
        }
    }

    /// 利用条件 in words (「商品合計 1,000円以上 50,000円以下」), empty without bounds.
    pub fn condition_label(&self) -> String {
        match (self.min_subtotal, self.max_subtotal) {
            (None, None) => String::new(),
            (Some(a), None) => format!("商品合計 {}円以上", group(a)),
            (None, Some(b)) => format!("商品合計 {}円以下", group(b)),
            (Some(a), Some(b)) => format!("商品合計 {}円以上 {}円以下", group(a), group(b)),
        }
    }

    /// May a buyer choose this method with `delivery` and products worth `subtotal`?
    /// `has_connector` says whether juchu can reach a gateway.
    pub fn is_offered(
        &self,
        delivery: &DeliveryMethod,
        subtotal: i64,
        has_connector: impl Fn(Gateway) -> bool,
    ) -> bool {
        let online_ok = match self.method.gateway() {
            // Paid through a gateway: only when the amount is fixed and juchu can reach it.
            Some(g) => delivery.fee.is_some() && has_connector(g),
            None => true,
        };
        self.enabled
            && delivery.payment_methods.contains(&self.method)
            && online_ok
            && self.min_subtotal.is_none_or(|m| subtotal >= m)
            && self.max_subtotal.is_none_or(|m| subtotal <= m)
    }
}

/// A change of a method's settings. Fields left out (None) keep their current value, so a
/// form or a client may send only what it changes; `min_subtotal` / `max_subtotal` as
/// `null` remove the bound. What GET returns can be sent back as it is (`method`,
/// `updated_at` and `updated_by` are ignored).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct MethodInput {
    pub enabled: Option<bool>,
    pub display_name: Option<String>,
    /// `auth_only` or `auth_and_capture` (cards, Paidy).
    pub capture: Option<String>,
    /// Codes from `1`, `3`, `5`, `6`, `10`, `12`, `15`, `18`, `20`, `24`, `bonus`, `revolving`;
    /// `1` (一括) is always included (cards).
    pub installments: Option<Vec<String>>,
    pub installments_note: Option<String>,
    pub three_ds: Option<bool>,
    /// Half-width, at most 40 characters; required with 3DS.
    pub merchant_name_en: Option<String>,
    /// `high`, `medium` or `low` (cards).
    pub attempt_control: Option<String>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub min_subtotal: Option<Option<i64>>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub max_subtotal: Option<Option<i64>>,
    /// 1–60 (konbini / ATM / net bank / transfers).
    pub due_days: Option<i64>,
    pub payment_note: Option<String>,
    pub confirm_note: Option<String>,
    pub mail_note: Option<String>,
    pub logo_url: Option<String>,
}

/// A field that is present (`null` included) is `Some`; an absent one stays `None`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Option::<T>::deserialize(d).map(Some)
}

fn not_applicable(field: &str, m: PaymentMethod, what: &str, only: &str) -> FieldError {
    FieldError::new(
        field,
        "not_applicable",
        format!(
            "{}では{what}を設定できません（{only}の設定です）",
            m.label()
        ),
    )
}

fn check_note(errors: &mut Invalid, field: &str, what: &str, v: &str) {
    if v.chars().count() > NOTE_MAX {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("{what}は{NOTE_MAX}文字以内で入力してください"),
        ));
    }
}

fn check_amount(errors: &mut Invalid, field: &str, v: Option<i64>) {
    if let Some(v) = v
        && !(0..=MAX_YEN).contains(&v)
    {
        errors.push(FieldError::new(
            field,
            "out_of_range",
            format!("金額は0〜{}円で入力してください", group(MAX_YEN)),
        ));
    }
}

/// `http(s)://…` or a path on the shop (`/img/card.png`), without spaces or quotes.
fn valid_url(s: &str) -> bool {
    let ok_chars = s
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '<' | '>' | '\\' | '`'));
    let ok_start = s.starts_with("https://") && s.len() > 8
        || s.starts_with("http://") && s.len() > 7
        || s.starts_with('/') && !s.starts_with("//");
    ok_chars && ok_start && s.len() <= URL_MAX
}

/// Apply `input` to `current` and check every field; every bad field is reported.
// Long: one check per field of the 支払方法設定 form, in the form's order, each reported.
pub fn validate(current: &MethodSettings, input: MethodInput) -> Result<MethodSettings, Invalid> {
    let m = current.method;
    let mut errors = Invalid::default();
    let mut s = current.clone();

    if let Some(v) = input.enabled {
        s.enabled = v;
    }
    if let Some(v) = input.display_name {
        let v = v.trim().to_owned();
        if v.is_empty() {
            errors.push(FieldError::new(
                "display_name",
                "required",
                "支払方法の名称を入力してください",
            ));
        } else if v.chars().count() > NAME_MAX {
            errors.push(FieldError::new(
                "display_name",
                "too_long",
                format!("支払方法の名称は{NAME_MAX}文字以内で入力してください"),
            ));
        }
        s.display_name = v;
    }

    if let Some(v) = input.capture {
        match CaptureMode::from_code(v.trim()) {
            None => errors.push(FieldError::new(
                "capture",
                "invalid",
                "売上確定方式は auth_only（オーソリのみ）か auth_and_capture（オーソリ＋売上）で指定してください",
            )),
            Some(c) if c != CaptureMode::AuthOnly && !has_capture(m) => errors.push(
                not_applicable("capture", m, "売上確定方式", "クレジットカード決済とあと払い（ペイディ）"),
            ),
            Some(c) => s.capture = c,
        }
    }

    let card_only = "クレジットカード決済";
    if let Some(list) = input.installments {
        let mut bad = vec![];
        let mut chosen: Vec<String> = vec![];
        for x in &list {
            let x = x.trim();
            if INSTALLMENTS.contains(&x) {
                if !chosen.iter().any(|c| c == x) {
                    chosen.push(x.to_owned());
                }
            } else {
                bad.push(x.to_owned());
            }
        }
        chosen.sort_by_key(|c| INSTALLMENTS.iter().position(|x| x == c));
        if !bad.is_empty() {
            errors.push(FieldError::new(
                "installments",
                "invalid",
                format!(
                    "支払回数「{}」は選べません（{} から選んでください）",
                    bad.join("」「"),
                    INSTALLMENTS.join(", ")
                ),
            ));
        } else if chosen != ["1"] && !has_card_options(m) {
            errors.push(not_applicable("installments", m, "支払回数", card_only));
        } else if !chosen.iter().any(|c| c == "1") {
            errors.push(FieldError::new(
                "installments",
                "required",
                "一括払い（1回）は外せません",
            ));
        }
        s.installments = chosen;
    }
    if let Some(v) = input.installments_note {
        let v = v.trim().to_owned();
        if !v.is_empty() && !has_card_options(m) {
            errors.push(not_applicable(
                "installments_note",
                m,
                "支払回数欄の注意書き",
                card_only,
            ));
        }
        check_note(&mut errors, "installments_note", "支払回数欄の注意書き", &v);
        s.installments_note = v;
    }
    if let Some(v) = input.three_ds {
        if v && !has_card_options(m) {
            errors.push(not_applicable("three_ds", m, "3Dセキュア", card_only));
        }
        s.three_ds = v;
    }
    if let Some(v) = input.merchant_name_en {
        let v = v.trim().to_owned();
        if !v.is_empty() && !has_card_options(m) {
            errors.push(not_applicable(
                "merchant_name_en",
                m,
                "加盟店名（英字）",
                card_only,
            ));
        } else if !v.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
            errors.push(FieldError::new(
                "merchant_name_en",
                "invalid",
                "加盟店名（英字）は半角英数字・記号で入力してください",
            ));
        } else if v.len() > MERCHANT_NAME_MAX {
            errors.push(FieldError::new(
                "merchant_name_en",
                "too_long",
                format!("加盟店名（英字）は{MERCHANT_NAME_MAX}文字以内で入力してください"),
            ));
        }
        s.merchant_name_en = v;
    }
    if s.three_ds
        && has_card_options(m)
        && s.merchant_name_en.is_empty()
        && !errors.0.iter().any(|e| e.field == "merchant_name_en")
    {
        errors.push(FieldError::new(
            "merchant_name_en",
            "required",
            "3Dセキュアを利用する場合は、ゲートウェイに申請した加盟店名（英字）を入力してください",
        ));
    }
    if let Some(v) = input.attempt_control {
        match AttemptControl::from_code(v.trim()) {
            None => errors.push(FieldError::new(
                "attempt_control",
                "invalid",
                "アテンプト取引の扱いは high（高）・medium（中）・low（低）のいずれかで指定してください",
            )),
            Some(a) if a != AttemptControl::High && !has_card_options(m) => errors.push(
                not_applicable("attempt_control", m, "アテンプト取引の扱い", card_only),
            ),
            Some(a) => s.attempt_control = a,
        }
    }

    if let Some(v) = input.min_subtotal {
        check_amount(&mut errors, "min_subtotal", v);
        s.min_subtotal = v;
    }
    if let Some(v) = input.max_subtotal {
        check_amount(&mut errors, "max_subtotal", v);
        s.max_subtotal = v;
    }
    if let (Some(a), Some(b)) = (s.min_subtotal, s.max_subtotal)
        && a > b
        && !errors
            .0
            .iter()
            .any(|e| e.field == "min_subtotal" || e.field == "max_subtotal")
    {
        errors.push(FieldError::new(
            "max_subtotal",
            "less_than_min",
            format!(
                "「{}円を超える場合は表示しない」の金額は「{}円未満の場合は表示しない」の金額以上にしてください",
                group(b),
                group(a)
            ),
        ));
    }
    if let Some(v) = input.due_days {
        if !(1..=60).contains(&v) {
            errors.push(FieldError::new(
                "due_days",
                "out_of_range",
                "支払期限は1〜60日で入力してください",
            ));
        } else if v != s.due_days && !has_due_days(m) {
            errors.push(not_applicable(
                "due_days",
                m,
                "支払期限",
                "コンビニ・ATM・銀行ネット決済と振込",
            ));
        }
        s.due_days = v;
    }

    for (field, what, v, slot) in [
        (
            "payment_note",
            "決済画面の注意書き",
            input.payment_note,
            &mut s.payment_note,
        ),
        (
            "confirm_note",
            "確認画面の注意書き",
            input.confirm_note,
            &mut s.confirm_note,
        ),
        (
            "mail_note",
            "サンクスメールの注意書き",
            input.mail_note,
            &mut s.mail_note,
        ),
    ] {
        if let Some(v) = v {
            let v = v.trim().to_owned();
            check_note(&mut errors, field, what, &v);
            *slot = v;
        }
    }
    if let Some(v) = input.logo_url {
        let v = v.trim().to_owned();
        if !v.is_empty() && !valid_url(&v) {
            errors.push(FieldError::new(
                "logo_url",
                "invalid",
                format!(
                    "ロゴ画像URLは https:// か http:// で始まるURL、または / で始まるパスを{URL_MAX}文字以内で入力してください（空白・引用符は使えません）"
                ),
            ));
        }
        s.logo_url = v;
    }
    errors.into_result(s)
}

/// One method's settings for the shop (the defaults when never saved).
pub async fn method_settings(
    app: &App,
    shop_id: i64,
    method: PaymentMethod,
) -> Result<MethodSettings, AppError> {
    let row = store::method(&mut *app.store.read().await?, shop_id, method).await?;
    Ok(row
        .map(MethodSettings::of_row)
        .unwrap_or_else(|| MethodSettings::defaults(method)))
}

async fn all_of_shop(app: &App, shop_id: i64) -> Result<Vec<MethodSettings>, AppError> {
    let mut rows: BTreeMap<PaymentMethod, store::MethodRow> =
        store::methods(&mut *app.store.read().await?, shop_id)
            .await?
            .into_iter()
            .map(|r| (r.method, r))
            .collect();
    Ok(PaymentMethod::ALL
        .into_iter()
        .map(|m| {
            rows.remove(&m)
                .map(MethodSettings::of_row)
                .unwrap_or_else(|| MethodSettings::defaults(m))
        })
        .collect())
}

/// Every payment method's settings, in `PaymentMethod::ALL` order.
pub async fn list(app: &App, actor: &Actor) -> Result<Vec<MethodSettings>, AppError> {
    all_of_shop(app, actor.shop_id).await
}

/// Change a method's settings (admins only). Nothing is stored unless every field is valid.
pub async fn set(
    app: &App,
    actor: &Actor,
    method: PaymentMethod,
    input: MethodInput,
) -> Result<MethodSettings, AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden);
    }
    // Read and write under the lock, so two partial changes at once both take effect.
    let mut tx = app.store.begin().await?;
    let current = store::method_for_update(&mut tx, actor.shop_id, method)
        .await?
        .map(MethodSettings::of_row)
        .unwrap_or_else(|| MethodSettings::defaults(method));
    let mut s = validate(&current, input)?;
    let now = app.now();
    s.updated_at = Some(now);
    s.updated_by = actor.name.clone();
    let row = store::MethodRow {
        shop_id: actor.shop_id,
        method,
        enabled: s.enabled,
        display_name: s.display_name.clone(),
        capture: s.capture,
        installments: s.installments.clone(),
        installments_note: s.installments_note.clone(),
        three_ds: s.three_ds,
        merchant_name_en: s.merchant_name_en.clone(),
        attempt_control: s.attempt_control,
        min_subtotal: s.min_subtotal,
        max_subtotal: s.max_subtotal,
        due_days: s.due_days,
        payment_note: s.payment_note.clone(),
        confirm_note: s.confirm_note.clone(),
        mail_note: s.mail_note.clone(),
        logo_url: s.logo_url.clone(),
        updated_at: now,
        updated_by: actor.name.clone(),
    };
    store::set_method(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(s)
}

/// The methods the buyer may choose with `delivery` for products worth `subtotal`: enabled,
/// listed by the delivery method, inside the method's 利用条件, and — for methods paid
/// through a gateway — only with a fixed 送料 and a connector to the gateway. Methods without
/// a gateway (銀行振込, 郵便振替, 代金引換) need neither. In `PaymentMethod::ALL` order.
pub async fn offered(
    app: &App,
    shop_id: i64,
    delivery: &DeliveryMethod,
    subtotal: i64,
) -> Result<Vec<MethodSettings>, AppError> {
    Ok(all_of_shop(app, shop_id)
        .await?
        .into_iter()
        .filter(|s| s.is_offered(delivery, subtotal, |g| app.gateways().has(g)))
        .collect())
}
/// `method_settings` on a connection the caller holds (inside a transaction: the thanks
/// mail is written with the order's completion).
pub(crate) async fn settings_in(
    conn: &mut juchu_store::AnyConnection,
    shop_id: i64,
    method: PaymentMethod,
) -> Result<MethodSettings, AppError> {
    Ok(store::method(conn, shop_id, method)
        .await?
        .map(MethodSettings::of_row)
        .unwrap_or_else(|| MethodSettings::defaults(method)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::mask;

    fn card() -> MethodSettings {
        MethodSettings::defaults(PaymentMethod::PaygentCard)
    }

    fn fields(r: Result<MethodSettings, Invalid>) -> Vec<String> {
        r.err()
            .map(|i| i.0.into_iter().map(|e| e.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn defaults_and_a_valid_change() {
        let d = card();
        assert!(d.enabled);
        assert_eq!(d.display_name, "クレジットカード決済（ペイジェント）");
        assert_eq!(d.installments, vec!["1"]);
        let s = validate(
            &d,
            MethodInput {
                capture: Some("auth_and_capture".into()),
                installments: Some(vec!["bonus".into(), "3".into(), "1".into(), "3".into()]),
                three_ds: Some(true),
                merchant_name_en: Some("JUCHU SHOP".into()),
                attempt_control: Some("low".into()),
                min_subtotal: Some(Some(1000)),
                max_subtotal: Some(Some(300_000)),
                logo_url: Some("/img/cards.png".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.capture, CaptureMode::AuthAndCapture);
        assert_eq!(s.installments, vec!["1", "3", "bonus"]);
        assert_eq!(s.attempt_control, AttemptControl::Low);
        assert_eq!(s.condition_label(), "商品合計 1,000円以上 300,000円以下");
        // Left-out fields keep their values; null removes a bound.
        let s2 = validate(
            &s,
            MethodInput {
                max_subtotal: Some(None),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s2.max_subtotal, None);
        assert_eq!(s2.min_subtotal, Some(1000));
        assert!(s2.three_ds);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let f = fields(validate(
            &card(),
            MethodInput {
                display_name: Some(" ".into()),
                capture: Some("later".into()),
                installments: Some(vec!["2".into()]),
                three_ds: Some(true),
                merchant_name_en: Some("ジュチュウ".into()),
                attempt_control: Some("max".into()),
                min_subtotal: Some(Some(-1)),
                max_subtotal: Some(Some(MAX_YEN + 1)),
                due_days: Some(0),
                payment_note: Some("あ".repeat(1001)),
                confirm_note: Some("い".repeat(1001)),
                mail_note: Some("う".repeat(1001)),
                installments_note: Some("え".repeat(1001)),
                logo_url: Some("javascript:alert(1)".into()),
                ..Default::default()
            },
        ));
        for x in [
            "display_name",
            "capture",
            "installments",
            "merchant_name_en",
            "attempt_control",
            "min_subtotal",
            "max_subtotal",
            "due_days",
            "payment_note",
            "confirm_note",
            "mail_note",
            "installments_note",
            "logo_url",
        ] {
            assert!(f.iter().any(|y| y == x), "{x} not in {f:?}");
        }
    }

    #[test]
    fn rules_between_fields() {
        // 3DS needs the merchant name.
        assert_eq!(
            fields(validate(
                &card(),
                MethodInput {
                    three_ds: Some(true),
                    ..Default::default()
                }
            )),
            vec!["merchant_name_en"]
        );
        // min above max.
        assert_eq!(
            fields(validate(
                &card(),
                MethodInput {
                    min_subtotal: Some(Some(5000)),
                    max_subtotal: Some(Some(4999)),
                    ..Default::default()
                }
            )),
            vec!["max_subtotal"]
        );
        // 一括 cannot be left out; 41 characters are too many.
        assert_eq!(
            fields(validate(
                &card(),
                MethodInput {
                    installments: Some(vec!["3".into()]),
                    merchant_name_en: Some("A".repeat(41)),
                    ..Default::default()
                }
            )),
            vec!["installments", "merchant_name_en"]
        );
    }

    #[test]
    fn card_settings_are_refused_elsewhere_but_defaults_pass() {
        let konbini = MethodSettings::defaults(PaymentMethod::PaygentKonbini);
        let f = fields(validate(
            &konbini,
            MethodInput {
                capture: Some("auth_and_capture".into()),
                installments: Some(vec!["1".into(), "3".into()]),
                three_ds: Some(true),
                merchant_name_en: Some("SHOP".into()),
                attempt_control: Some("low".into()),
                installments_note: Some("x".into()),
                ..Default::default()
            },
        ));
        assert_eq!(
            f,
            vec![
                "capture",
                "installments",
                "installments_note",
                "three_ds",
                "merchant_name_en",
                "attempt_control"
            ]
        );
        // What GET returns can be PUT back.
        assert!(
            validate(
                &konbini,
                MethodInput {
                    capture: Some("auth_only".into()),
                    installments: Some(vec!["1".into()]),
                    three_ds: Some(false),
                    attempt_control: Some("high".into()),
                    due_days: Some(10),
                    ..Default::default()
                }
            )
            .is_ok()
        );
        // Paidy has a capture mode, not the card options; a card has no due date.
        let paidy = MethodSettings::defaults(PaymentMethod::Paidy);
        assert!(
            validate(
                &paidy,
                MethodInput {
                    capture: Some("auth_and_capture".into()),
                    ..Default::default()
                }
            )
            .is_ok()
        );
        assert_eq!(
            fields(validate(
                &card(),
                MethodInput {
                    due_days: Some(10),
                    ..Default::default()
                }
            )),
            vec!["due_days"]
        );
    }

    #[test]
    fn offered_rules() {
        let d = DeliveryMethod {
            id: 1,
            name: "宅配便".into(),
            fee: Some(800),
            payment_methods: vec![PaymentMethod::PaygentCard, PaymentMethod::BankTransfer],
            position: 1,
        };
        let all = |_g: Gateway| true;
        let mut s = card();
        assert!(s.is_offered(&d, 100, all));
        assert!(!s.is_offered(&d, 100, |_| false), "no connector");
        let tbd = DeliveryMethod {
            fee: None,
            ..d.clone()
        };
        assert!(!s.is_offered(&tbd, 100, all), "送料別途見積");
        assert!(MethodSettings::defaults(PaymentMethod::BankTransfer).is_offered(&tbd, 100, all));
        assert!(!MethodSettings::defaults(PaymentMethod::GmoCard).is_offered(&d, 100, all));
        s.min_subtotal = Some(1000);
        s.max_subtotal = Some(2000);
        assert!(!s.is_offered(&d, 999, all));
        assert!(s.is_offered(&d, 1000, all));
        assert!(s.is_offered(&d, 2000, all));
        assert!(!s.is_offered(&d, 2001, all));
        s.enabled = false;
        assert!(!s.is_offered(&d, 1500, all));
    }

    #[test]
    fn masks() {
        assert_eq!(mask("abcdefgh1234"), "••••••1234");
        assert_eq!(mask("short"), "••••••");
        assert_eq!(mask("12345678"), "••••••5678");
    }
}

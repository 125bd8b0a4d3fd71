//! 帳票出力: 受注伝票, 納品書, 請求書 and 領収書 of an order, as the printable page and the PDF
//! show them, and the shop's issuer profile they print (会社名, 住所, TEL, 登録番号).
//!
//! A `Slip` is built once from an order and the shop, with every amount already written out
//! (`7,660円`), so the HTML page and the PDF cannot disagree. Printing is recorded in the
//! order's 変更履歴; orders still in 決済処理中 are refused (`Standing::can_print`).

mod pdf;

use anyhow::Context;
use jiff::civil::Date;
use juchu_domain::customer::Person;
use juchu_domain::history::{HistoryEntry, Outcome};
use juchu_domain::input::{normalize_ascii, parse_date};
use juchu_domain::money::group;
use juchu_domain::order::Order;
use juchu_domain::payment_method::Gateway;
use juchu_domain::tax::TaxRate;
use juchu_domain::time::{format_jst_minute, jst_date};
use juchu_domain::{FieldError, Invalid};
use juchu_store::shops::{self, IssuerRow};

use crate::{Actor, App, AppError};
use juchu_domain::customer::postal_label as postal;

pub use pdf::render as render_pdf;

/// Most orders one 帳票一括ダウンロード prints (a page of search results is at most this).
pub const MAX_BULK: usize = 500;

// ---------------------------------------------------------------------------------------
// Issuer profile (ショップ情報: 帳票の発行元)

/// The shop as the slips print it under the issuer. Empty fields are left off the slip.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct IssuerProfile {
    /// 会社名（屋号）; the shop name is printed when empty.
    pub company_name: String,
    /// 郵便番号: 7 digits
    pub postal_code: String,
    pub address: String,
    /// TEL as typed, in half-width digits and hyphens (`03-1234-5678`)
    pub tel: String,
    /// 適格請求書発行事業者 登録番号: `T` + 13 digits, or empty
    pub invoice_number: String,
}

/// The profile as a form or the API sends it: full-width digits, `〒`, hyphens allowed.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileInput {
    pub company_name: String,
    /// `123-4567`, `〒１２３－４５６７` or empty
    pub postal_code: String,
    pub address: String,
    /// `03-1234-5678` or empty
    pub tel: String,
    /// `T1234567890123` or empty
    pub invoice_number: String,
}

/// Trimmed text of at most `max` characters without control characters.
fn plain(e: &mut Invalid, field: &str, s: &str, max: usize, multiline: bool) -> String {
    let v = s.trim().to_owned();
    if v.chars().count() > max {
        e.push(FieldError::new(
            field,
            "too_long",
            format!("{max}文字以内で入力してください"),
        ));
    } else if v
        .chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r')))
    {
        e.push(FieldError::new(
            field,
            "control_character",
            "制御文字（NULなど）は入力できません",
        ));
    }
    v
}

impl ProfileInput {
    /// Every bad field is reported, not only the first.
    pub fn validate(&self) -> Result<IssuerProfile, Invalid> {
        let mut e = Invalid::default();
        let company_name = plain(&mut e, "company_name", &self.company_name, 100, false);
        let address = plain(&mut e, "address", &self.address, 200, false);

        let postal_code: String = normalize_ascii(&self.postal_code)
            .trim_start_matches('〒')
            .trim()
            .replace('-', "");
        if !postal_code.is_empty()
            && (postal_code.len() != 7 || !postal_code.chars().all(|c| c.is_ascii_digit()))
        {
            e.push(FieldError::new(
                "postal_code",
                "invalid_postal_code",
                "郵便番号は7桁の数字で入力してください（例: 123-4567）",
            ));
        }

        // Kept with its hyphens: the slip prints the number the way the shop writes it.
        let tel = normalize_ascii(&self.tel);
        let digits = tel.chars().filter(char::is_ascii_digit).count();
        if !tel.is_empty()
            && (!tel.chars().all(|c| c.is_ascii_digit() || c == '-')
                || !(10..=11).contains(&digits))
        {
            e.push(FieldError::new(
                "tel",
                "invalid_tel",
                "電話番号は10桁または11桁の数字で入力してください（例: 03-1234-5678）",
            ));
        }

        let invoice_number: String = normalize_ascii(&self.invoice_number)
            .chars()
            .filter(|c| *c != '-' && *c != ' ')
            .collect::<String>()
            .to_ascii_uppercase();
        let ok = invoice_number.is_empty()
            || (invoice_number.len() == 14
                && invoice_number.starts_with('T')
                && invoice_number[1..].chars().all(|c| c.is_ascii_digit()));
        if !ok {
            e.push(FieldError::new(
                "invoice_number",
                "invalid_invoice_number",
                "登録番号は「T」と13桁の数字で入力してください（例: T1234567890123）",
            ));
        }

        e.into_result(IssuerProfile {
            company_name,
            postal_code,
            address,
            tel,
            invoice_number,
        })
    }
}

impl From<IssuerRow> for IssuerProfile {
    fn from(r: IssuerRow) -> Self {
        IssuerProfile {
            company_name: r.company_name,
            postal_code: r.postal_code,
            address: r.address,
            tel: r.tel,
            invoice_number: r.invoice_number,
        }
    }
}

pub async fn profile(app: &App, actor: &Actor) -> Result<IssuerProfile, AppError> {
    Ok(shops::issuer(&mut *app.store.read().await?, actor.shop_id)
        .await?
        .into())
}

/// Change the issuer profile (admins only).
pub async fn set_profile(
    app: &App,
    actor: &Actor,
    input: &ProfileInput,
) -> Result<IssuerProfile, AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden);
    }
    let p = input.validate()?;
    let row = IssuerRow {
        company_name: p.company_name.clone(),
        postal_code: p.postal_code.clone(),
        address: p.address.clone(),
        tel: p.tel.clone(),
        invoice_number: p.invoice_number.clone(),
    };
    let mut tx = app.store.begin().await?;
    shops::set_issuer(&mut tx, actor.shop_id, &row).await?;
    tx.commit().await?;
    Ok(p)
}

// ---------------------------------------------------------------------------------------
// What to print

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SlipKind {
    /// 受注伝票: the shop's own slip (customer, delivery, payment, memo)
    OrderSlip,
    /// 納品書
    DeliveryNote,
    /// 請求書 (適格請求書)
    Invoice,
    /// 領収書 (適格簡易請求書)
    Receipt,
}

impl SlipKind {
    pub const ALL: [SlipKind; 4] = [
        SlipKind::OrderSlip,
        SlipKind::DeliveryNote,
        SlipKind::Invoice,
        SlipKind::Receipt,
    ];

    pub fn code(self) -> &'static str {
        match self {
            SlipKind::OrderSlip => "order_slip",
            SlipKind::DeliveryNote => "delivery_note",
            SlipKind::Invoice => "invoice",
            SlipKind::Receipt => "receipt",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SlipKind::OrderSlip => "受注伝票",
            SlipKind::DeliveryNote => "納品書",
            SlipKind::Invoice => "請求書",
            SlipKind::Receipt => "領収書",
        }
    }

    pub fn from_code(s: &str) -> Option<SlipKind> {
        SlipKind::ALL.into_iter().find(|k| k.code() == s)
    }

    /// The slips handed to the buyer; the 受注伝票 stays in the shop.
    pub fn for_customer(self) -> bool {
        self != SlipKind::OrderSlip
    }
}

/// What the operator chose on the 帳票出力 screen (or the API's query). Everything but the
/// kind may be left out.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct SlipOptions {
    /// `order_slip` (受注伝票), `delivery_note` (納品書), `invoice` (請求書), `receipt` (領収書)
    pub kind: Option<String>,
    /// 発行日: `2024/08/19` or `2024-08-19`; default today (Japan)
    pub issued_on: Option<String>,
    /// 宛名; default the customer's name + 様
    pub addressee: Option<String>,
    /// 但し書き (領収書); default 「お品代として」
    pub proviso: Option<String>,
    /// メッセージ printed under the items
    pub message: Option<String>,
}

/// Checked options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlipSettings {
    pub kind: SlipKind,
    pub issued_on: Date,
    /// None: each order's own default.
    pub addressee: Option<String>,
    pub proviso: String,
    pub message: String,
}

pub const DEFAULT_PROVISO: &str = "お品代として";
pub const MAX_MESSAGE_LINES: usize = 20;

impl SlipOptions {
    /// `today` is the default 発行日. Every bad field is reported.
    pub fn validate(&self, today: Date) -> Result<SlipSettings, Invalid> {
        let mut e = Invalid::default();
        fn given(o: &Option<String>) -> Option<&str> {
            o.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        let kind = match given(&self.kind) {
            None => {
                e.push(FieldError::new(
                    "kind",
                    "required",
                    "帳票の種類を選択してください",
                ));
                SlipKind::DeliveryNote
            }
            Some(k) => SlipKind::from_code(k).unwrap_or_else(|| {
                e.push(FieldError::new(
                    "kind",
                    "unknown_kind",
                    "帳票の種類は order_slip（受注伝票）、delivery_note（納品書）、invoice（請求書）、receipt（領収書）のいずれかです",
                ));
                SlipKind::DeliveryNote
            }),
        };
        let issued_on = match given(&self.issued_on) {
            None => today,
            Some(s) => e.take(parse_date("issued_on", s)).unwrap_or(today),
        };
        let addressee = given(&self.addressee).map(|s| plain(&mut e, "addressee", s, 100, false));
        let proviso = given(&self.proviso)
            .map(|s| plain(&mut e, "proviso", s, 100, false))
            .unwrap_or_else(|| DEFAULT_PROVISO.to_owned());
        let message = given(&self.message)
            .map(|s| plain(&mut e, "message", s, 500, true))
            .unwrap_or_default();
        // Kept to what fits under the totals of a page.
        if message.lines().count() > MAX_MESSAGE_LINES {
            e.push(FieldError::new(
                "message",
                "too_many_lines",
                format!("メッセージは{MAX_MESSAGE_LINES}行以内で入力してください"),
            ));
        }
        e.into_result(SlipSettings {
            kind,
            issued_on,
            addressee,
            proviso,
            message,
        })
    }
}

// ---------------------------------------------------------------------------------------
// The slip

/// A name and address block.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Party {
    pub name: String,
    pub kana: String,
    pub company: String,
    /// `〒100-0001`, or empty
    pub postal: String,
    pub address: String,
    pub tel: String,
}

/// The issuer block: who issues the slip.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Issuer {
    /// 会社名, or the shop name
    pub name: String,
    /// The shop name when a company name is printed above it, else empty.
    pub shop_name: String,
    pub postal: String,
    pub address: String,
    pub tel: String,
    /// `T1234567890123`, or empty
    pub invoice_number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SlipItem {
    pub code: String,
    /// Product name with its 規格 (`Tシャツ（白 / M）`)
    pub name: String,
    /// `※8%` (軽減税率) or `10%`
    pub rate: String,
    pub reduced: bool,
    pub unit_price: String,
    pub quantity: String,
    pub amount: String,
}

/// One line of the totals (小計 … お支払い合計).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SumLine {
    pub label: String,
    pub amount: String,
    /// The line that is the amount due (bold).
    pub grand: bool,
}

/// 税率ごとの対象額と消費税額.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TaxLine {
    /// `10%対象` / `8%対象`
    pub label: String,
    /// tax included
    pub amount: String,
    pub tax: String,
}

/// A slip, ready to print: every amount written out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Slip {
    pub kind: SlipKind,
    pub kind_code: &'static str,
    /// 受注伝票 / 納品書 / 請求書 / 領収書
    pub title: &'static str,
    pub number: i64,
    /// `2024/08/19 10:00`
    pub ordered_at: String,
    /// `2024年8月19日`
    pub issued_on: String,
    /// `山田 花子 様` (not printed on the 受注伝票)
    pub addressee: String,
    /// The sentence under the addressee (`下記の通りご請求申し上げます。`)
    pub lead: &'static str,
    /// The amount in large print: (ご請求金額 / 領収金額 / お支払い合計, `7,660円`)
    pub headline_label: &'static str,
    pub headline: String,
    /// 但し書き (領収書 only, else empty)
    pub proviso: String,
    pub message: String,
    pub issuer: Issuer,
    pub customer: Party,
    pub delivery: Party,
    pub email: String,
    pub payment_method: String,
    /// お届け日時 as printed (`2024/08/21 16:00~18:00`, or 指定なし)
    pub delivery_when: String,
    pub remarks: String,
    pub memo: String,
    pub items: Vec<SlipItem>,
    pub sums: Vec<SumLine>,
    pub taxes: Vec<TaxLine>,
    /// Some item is at the reduced rate: print the ※ note.
    pub has_reduced: bool,
}

pub const REDUCED_NOTE: &str = "※印は軽減税率（8%）対象商品です。";

fn party(p: &Person) -> Party {
    Party {
        name: p.full_name(),
        kana: p.full_kana(),
        company: p.company.clone(),
        postal: postal(&p.postal_code),
        address: format!("{}{} {}", p.prefecture, p.address1, p.address2)
            .trim()
            .to_owned(),
        tel: p.tel.clone(),
    }
}

/// `山田 花子 様`, or `株式会社〇〇 山田 花子 様`.
pub fn default_addressee(p: &Person) -> String {
    let name = p.full_name();
    if p.company.is_empty() {
        format!("{name} 様")
    } else {
        format!("{} {name} 様", p.company)
    }
}

/// Build the slip of `order`. Pure: no rules checked, nothing recorded (see `issue`).
// Long: the slip's fields in print order; splitting them would scatter one layout.
pub fn build(
    order: &Order,
    shop_name: &str,
    profile: &IssuerProfile,
    s: &SlipSettings,
) -> Result<Slip, AppError> {
    let d = &order.draft;
    let t = &d.totals;
    let kind = s.kind;
    let items = d
        .items
        .iter()
        .map(|i| {
            let classes = juchu_domain::catalog::class_label(&i.class1, &i.class2);
            let name = if classes.is_empty() {
                i.product_name.clone()
            } else {
                format!("{}（{classes}）", i.product_name)
            };
            let reduced = i.tax_rate == TaxRate::Reduced8;
            let amount = i
                .line_total()
                .with_context(|| format!("order {}", order.number))?;
            Ok(SlipItem {
                code: i.product_code.clone(),
                name,
                rate: if reduced {
                    "※8%".to_owned()
                } else {
                    format!("{}%", i.tax_rate.percent())
                },
                reduced,
                unit_price: i.unit_price.to_string(),
                quantity: group(i.quantity),
                amount: amount.to_string(),
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;

    let mut sums = vec![SumLine {
        label: "小計".into(),
        amount: t.subtotal.to_string(),
        grand: false,
    }];
    if t.discount.get() != 0 {
        sums.push(SumLine {
            label: "値引き".into(),
            amount: format!("-{}", t.discount),
            grand: false,
        });
    }
    sums.push(SumLine {
        label: "送料".into(),
        amount: t.shipping_fee.to_string(),
        grand: false,
    });
    if t.fee.get() != 0 {
        sums.push(SumLine {
            label: "手数料".into(),
            amount: t.fee.to_string(),
            grand: false,
        });
    }
    sums.push(SumLine {
        label: "合計（税込）".into(),
        amount: t.total.to_string(),
        grand: t.points_used == 0,
    });
    if t.points_used != 0 {
        sums.push(SumLine {
            label: "ポイント利用".into(),
            amount: format!("-{}円", group(t.points_used)),
            grand: false,
        });
        sums.push(SumLine {
            label: "お支払い合計".into(),
            amount: t.payment_total.to_string(),
            grand: true,
        });
    }
    let taxes = t
        .tax
        .by_rate
        .iter()
        .map(|r| TaxLine {
            label: r.rate.label().to_owned(),
            amount: r.amount.to_string(),
            tax: r.tax.to_string(),
        })
        .collect();

    let (lead, headline_label) = match kind {
        SlipKind::OrderSlip => ("", "お支払い合計"),
        SlipKind::DeliveryNote => ("下記の通り納品いたします。", "お支払い合計"),
        SlipKind::Invoice => ("下記の通りご請求申し上げます。", "ご請求金額"),
        SlipKind::Receipt => ("上記正に領収いたしました。", "領収金額"),
    };
    // The buyer does not need to know which gateway carried a card payment.
    let method = d.payment_method.label();
    let payment_method = match d.payment_method.gateway() {
        Some(Gateway::Paygent | Gateway::Gmo) if kind.for_customer() => {
            method.split('（').next().unwrap_or(method).to_owned()
        }
        _ => method.to_owned(),
    };
    let delivery_when = match (d.delivery_date, d.delivery_time.trim()) {
        (None, "") => "指定なし".to_owned(),
        (Some(day), time) => format!("{} {time}", juchu_domain::time::format_date(day))
            .trim()
            .to_owned(),
        (None, time) => time.to_owned(),
    };
    let issuer = Issuer {
        name: if profile.company_name.is_empty() {
            shop_name.to_owned()
        } else {
            profile.company_name.clone()
        },
        shop_name: if profile.company_name.is_empty() || profile.company_name == shop_name {
            String::new()
        } else {
            shop_name.to_owned()
        },
        postal: postal(&profile.postal_code),
        address: profile.address.clone(),
        tel: profile.tel.clone(),
        invoice_number: profile.invoice_number.clone(),
    };
    Ok(Slip {
        kind,
        kind_code: kind.code(),
        title: kind.label(),
        number: order.number,
        ordered_at: format_jst_minute(order.ordered_at),
        issued_on: format!(
            "{}年{}月{}日",
            s.issued_on.year(),
            s.issued_on.month(),
            s.issued_on.day()
        ),
        addressee: s
            .addressee
            .clone()
            .unwrap_or_else(|| default_addressee(&d.customer)),
        lead,
        headline_label,
        headline: t.payment_total.to_string(),
        proviso: if kind == SlipKind::Receipt {
            format!("但し {}", s.proviso)
        } else {
            String::new()
        },
        message: s.message.clone(),
        issuer,
        customer: party(&d.customer),
        delivery: party(&d.delivery),
        email: d.email.clone(),
        payment_method,
        delivery_when,
        remarks: d.remarks.clone(),
        memo: d.memo.clone(),
        has_reduced: d.items.iter().any(|i| i.tax_rate == TaxRate::Reduced8),
        items,
        sums,
        taxes,
    })
}

/// How the slips went out; the history says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// 印刷用画面
    Print,
    Pdf,
}

/// The slips of `numbers`, in that order, one per order; each printing is written to the
/// order's 変更履歴 in the same transaction. One order that cannot be printed refuses the
/// whole request and names every such order.
pub async fn issue(
    app: &App,
    actor: &Actor,
    numbers: &[i64],
    options: &SlipOptions,
    output: Output,
) -> Result<Vec<Slip>, AppError> {
    let now = app.now();
    let settings = options.validate(jst_date(now))?;
    if numbers.is_empty() {
        return Err(Invalid::one("number", "required", "受注を選択してください").into());
    }
    if numbers.len() > MAX_BULK {
        return Err(Invalid::one(
            "number",
            "too_many",
            format!("一度に出力できるのは{MAX_BULK}件までです"),
        )
        .into());
    }
    let mut tx = app.store.begin().await?;
    let shop = shops::by_id(tx.conn(), actor.shop_id)
        .await?
        .ok_or(AppError::NotFound("ショップ"))?;
    let profile: IssuerProfile = shops::issuer(tx.conn(), actor.shop_id).await?.into();
    let mut slips = Vec::with_capacity(numbers.len());
    let mut refused: Vec<(i64, AppError)> = vec![];
    for &n in numbers {
        let order = juchu_store::orders::get(tx.conn(), actor.shop_id, n)
            .await?
            .filter(|o| o.deleted_at.is_none());
        let order = match order {
            Some(o) => o,
            None => {
                refused.push((n, AppError::NotFound("受注")));
                continue;
            }
        };
        if let Err(r) = order.standing().can_print() {
            refused.push((n, r.into()));
            continue;
        }
        let slip = build(&order, &shop.name, &profile, &settings)?;
        let how = match output {
            Output::Print => "印刷用画面",
            Output::Pdf => "PDF",
        };
        let entry = HistoryEntry {
            at: now,
            actor: actor.name.clone(),
            action: "order.printed".to_owned(),
            detail: format!("帳票（{}）を出力しました（{how}）", settings.kind.label()),
            outcome: Outcome::Ok,
        };
        juchu_store::orders::add_history(&mut tx, actor.shop_id, order.id, &entry).await?;
        slips.push(slip);
    }
    match refused.len() {
        0 => {}
        // One order asked for, one answer: its own refusal (409) or 404.
        1 if numbers.len() == 1 => return Err(refused.remove(0).1),
        _ => {
            let each: Vec<String> = refused
                .iter()
                .map(|(n, e)| format!("注文番号 {n}: {e}"))
                .collect();
            return Err(AppError::conflict(
                "not_printable",
                format!(
                    "帳票を出力できない受注があります。選択から外してやり直してください（{}）",
                    each.join(" / ")
                ),
            ));
        }
    }
    tx.commit().await?;
    Ok(slips)
}

/// The slip of one order as the 帳票出力 screen previews it: checked like `issue`, recorded
/// nowhere.
pub async fn preview(
    app: &App,
    actor: &Actor,
    number: i64,
    options: &SlipOptions,
) -> Result<Slip, AppError> {
    let settings = options.validate(jst_date(app.now()))?;
    let order = crate::orders::get(app, actor, number).await?;
    order.standing().can_print()?;
    let mut conn = app.store.read().await?;
    let shop = shops::by_id(&mut conn, actor.shop_id)
        .await?
        .ok_or(AppError::NotFound("ショップ"))?;
    let profile: IssuerProfile = shops::issuer(&mut conn, actor.shop_id).await?.into();
    build(&order, &shop.name, &profile, &settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use juchu_domain::order::OrderInput;
    use juchu_domain::status::OrderList;

    fn order(points_used: i64, discount: i64) -> Order {
        let input: OrderInput = serde_json::from_value(serde_json::json!({
            "customer": {
                "family_name": "山田", "given_name": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ",
                "postal_code": "100-0001", "prefecture": "東京都", "address1": "千代田区千代田1-1", "tel": "03-1234-5678"
            },
            "email": "hanako@example.jp",
            "items": [
                {"product_code": "TS-M", "product_name": "Tシャツ", "class1": "白", "class2": "M", "unit_price": 2990, "quantity": 2, "tax_rate": 10},
                {"product_code": "TEA-1", "product_name": "緑茶", "class1": "20袋", "unit_price": 1080, "quantity": 1, "tax_rate": 8}
            ],
            "shipping_fee": 600, "discount": discount, "points_used": points_used,
            "payment_method": "gmo_card"
        }))
        .unwrap();
        Order {
            id: 1,
            number: 42,
            version: 1,
            list: OrderList::Open,
            deleted_at: None,
            ordered_at: "2024-08-19T01:00:00Z".parse().unwrap(),
            updated_at: "2024-08-19T01:00:00Z".parse().unwrap(),
            points_granted: false,
            payment_checked: false,
            payment_checked_at: None,
            payment_checked_by: String::new(),
            draft: input.validate().unwrap(),
        }
    }

    fn settings(kind: &str) -> SlipSettings {
        SlipOptions {
            kind: Some(kind.into()),
            ..Default::default()
        }
        .validate(jiff::civil::date(2024, 8, 20))
        .unwrap()
    }

    fn profile() -> IssuerProfile {
        ProfileInput {
            company_name: "株式会社テスト".into(),
            postal_code: "〒１５０－０００１".into(),
            address: "東京都渋谷区神宮前1-2-3".into(),
            tel: "０３－１２３４－５６７８".into(),
            invoice_number: "t1234567890123".into(),
        }
        .validate()
        .unwrap()
    }

    #[test]
    fn receipt_marks_reduced_items_and_splits_tax_by_rate() {
        let s = build(
            &order(0, 0),
            "テストショップ",
            &profile(),
            &settings("receipt"),
        )
        .unwrap();
        assert_eq!(s.title, "領収書");
        assert_eq!(s.addressee, "山田 花子 様");
        assert_eq!(s.proviso, "但し お品代として");
        assert_eq!(s.issued_on, "2024年8月20日");
        assert_eq!(s.headline, "7,660円");
        let rates: Vec<(&str, &str, bool)> = s
            .items
            .iter()
            .map(|i| (i.name.as_str(), i.rate.as_str(), i.reduced))
            .collect();
        assert_eq!(
            rates,
            [
                ("Tシャツ（白 / M）", "10%", false),
                ("緑茶（20袋）", "※8%", true)
            ]
        );
        assert!(s.has_reduced);
        // 10%: 5,980 + 600 shipping = 6,580 → tax 598; 8%: 1,080 → tax 80.
        let taxes: Vec<(&str, &str, &str)> = s
            .taxes
            .iter()
            .map(|t| (t.label.as_str(), t.amount.as_str(), t.tax.as_str()))
            .collect();
        assert_eq!(
            taxes,
            [
                ("10%対象", "6,580円", "598円"),
                ("8%対象", "1,080円", "80円")
            ]
        );
        assert_eq!(s.issuer.name, "株式会社テスト");
        assert_eq!(s.issuer.shop_name, "テストショップ");
        assert_eq!(s.issuer.invoice_number, "T1234567890123");
        assert_eq!(s.issuer.postal, "〒150-0001");
        assert_eq!(s.issuer.tel, "03-1234-5678");
        assert_eq!(s.payment_method, "クレジットカード決済");
    }

    #[test]
    fn points_lower_what_is_paid_but_not_the_taxed_amounts() {
        let s = build(
            &order(500, 1000),
            "ショップ",
            &profile(),
            &settings("invoice"),
        )
        .unwrap();
        let sums: Vec<(&str, &str, bool)> = s
            .sums
            .iter()
            .map(|l| (l.label.as_str(), l.amount.as_str(), l.grand))
            .collect();
        assert_eq!(
            sums,
            [
                ("小計", "7,060円", false),
                ("値引き", "-1,000円", false),
                ("送料", "600円", false),
                ("合計（税込）", "6,660円", false),
                ("ポイント利用", "-500円", false),
                ("お支払い合計", "6,160円", true),
            ]
        );
        assert_eq!(s.headline_label, "ご請求金額");
        assert_eq!(s.headline, "6,160円");
        // The discount is split over the rates; the amounts still add up to 合計.
        assert_eq!(s.taxes[0].amount, "5,720円");
        assert_eq!(s.taxes[1].amount, "940円");
    }

    #[test]
    fn order_slip_is_internal() {
        let s = build(
            &order(0, 0),
            "ショップ",
            &profile(),
            &settings("order_slip"),
        )
        .unwrap();
        assert_eq!(s.payment_method, "クレジットカード決済（GMO）");
        assert_eq!(s.proviso, "");
        assert_eq!(s.delivery_when, "指定なし");
    }

    #[test]
    fn long_memo_runs_over_pages_inside_the_margins() {
        let mut o = order(0, 0);
        o.draft.memo = "在庫確認のうえ発送。".repeat(400);
        let s = build(&o, "ショップ", &profile(), &settings("order_slip")).unwrap();
        let pages = pdf::page_count(std::slice::from_ref(&s));
        assert!(pages >= 2, "{pages}");
        assert!(pdf::inside_margins(std::slice::from_ref(&s)));
    }

    #[test]
    fn options_report_every_bad_field() {
        let e = SlipOptions {
            kind: Some("letter".into()),
            issued_on: Some("2024/02/30".into()),
            addressee: Some("x".repeat(101)),
            message: Some("。\n".repeat(21)),
            ..Default::default()
        }
        .validate(jiff::civil::date(2024, 8, 20))
        .unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["kind", "issued_on", "addressee", "message"]);
        let ok = SlipOptions {
            kind: Some("receipt".into()),
            issued_on: Some("２０２４／０８／１９".into()),
            proviso: Some("書籍代として".into()),
            ..Default::default()
        }
        .validate(jiff::civil::date(2024, 8, 20))
        .unwrap();
        assert_eq!(ok.issued_on, jiff::civil::date(2024, 8, 19));
        assert_eq!(ok.proviso, "書籍代として");
    }

    #[test]
    fn profile_reports_every_bad_field() {
        let e = ProfileInput {
            company_name: "会社".into(),
            postal_code: "12-345".into(),
            address: "".into(),
            tel: "03-1234".into(),
            invoice_number: "T123".into(),
        }
        .validate()
        .unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["postal_code", "tel", "invoice_number"]);
        assert!(ProfileInput::default().validate().is_ok());
    }

    #[test]
    fn pdf_has_a_page_per_slip_and_more_for_long_orders() {
        let p = profile();
        let short = build(&order(0, 0), "ショップ", &p, &settings("delivery_note")).unwrap();
        let mut long = short.clone();
        long.items = (0..80)
            .map(|i| SlipItem {
                name: format!("とても長い商品名のテスト商品 {i} 番 — 折り返して表示されることを確かめるための説明文"),
                ..short.items[0].clone()
            })
            .collect();
        let one = render_pdf(std::slice::from_ref(&short)).unwrap();
        assert!(one.starts_with(b"%PDF"));
        assert_eq!(pdf::page_count(std::slice::from_ref(&short)), 1);
        assert!(pdf::page_count(std::slice::from_ref(&long)) >= 3);
        assert!(pdf::inside_margins(std::slice::from_ref(&long)));
        assert_eq!(
            pdf::page_count(&[short, long.clone()]),
            1 + pdf::page_count(&[long])
        );
    }
}

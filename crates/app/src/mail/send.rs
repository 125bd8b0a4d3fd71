//! The mails an operator sends from an order (注文確認 / 配送通知 / フリー): the shop's
//! templates, composing a mail from one, and sending it — written to the outbox and the
//! order's history in one transaction, only while the order is in 受注一覧. The checkout's
//! サンクスメール is the 注文確認 template too.

use jiff::Timestamp;
use juchu_domain::history::{HistoryEntry, Outcome};
use juchu_domain::input::normalize_ascii;
use juchu_domain::order::Order;
use juchu_domain::payment::PaymentState;
use juchu_domain::payment_method::PaymentMethod;
use juchu_domain::{FieldError, Invalid};
use juchu_store::mail_templates::{self, MailTemplate};
use juchu_store::mails::{self, NewMail};

use super::Listed;
use juchu_store::{AnyConnection, Tx, orders, shops};

use super::templates::{
    Extras, FREE_PLACEHOLDER, MAX_BODY_SOURCE, MAX_SUBJECT_SOURCE, MailKind, Vars,
    instructions_text, render,
};
use crate::{Actor, App, AppError};

/// The longest mail an operator may send.
const MAX_SUBJECT: usize = 200;
const MAX_BODY: usize = 100_000;

/// A kind's template as the shop has it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TemplateView {
    pub kind: MailKind,
    /// 注文確認メール …
    pub label: String,
    pub subject: String,
    pub body: String,
    /// false: the built-in text.
    pub customized: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<Timestamp>,
    pub updated_by: String,
}

fn view(kind: MailKind, t: Option<MailTemplate>) -> TemplateView {
    let (s, b) = kind.default_text();
    match t {
        Some(t) => TemplateView {
            kind,
            label: kind.label().to_owned(),
            subject: t.subject,
            body: t.body,
            customized: true,
            updated_at: Some(t.updated_at),
            updated_by: t.updated_by,
        },
        None => TemplateView {
            kind,
            label: kind.label().to_owned(),
            subject: s.to_owned(),
            body: b.to_owned(),
            customized: false,
            updated_at: None,
            updated_by: String::new(),
        },
    }
}

async fn template_in(
    conn: &mut AnyConnection,
    shop_id: i64,
    kind: MailKind,
) -> Result<TemplateView, AppError> {
    Ok(view(
        kind,
        mail_templates::get(conn, shop_id, kind.code()).await?,
    ))
}

pub async fn template(app: &App, actor: &Actor, kind: MailKind) -> Result<TemplateView, AppError> {
    template_in(&mut *app.store.read().await?, actor.shop_id, kind).await
}

pub async fn templates(app: &App, actor: &Actor) -> Result<Vec<TemplateView>, AppError> {
    let mut conn = app.store.read().await?;
    let mut out = Vec::new();
    for k in MailKind::ALL {
        out.push(template_in(&mut conn, actor.shop_id, k).await?);
    }
    Ok(out)
}

async fn shop_of(conn: &mut AnyConnection, shop_id: i64) -> Result<(String, String), AppError> {
    let name = shops::by_id(conn, shop_id)
        .await?
        .ok_or(AppError::NotFound("ショップ"))?
        .name;
    Ok((name, shops::email(conn, shop_id).await?))
}

/// A template must render for the sample orders (one with every variable filled, one with
/// the optional ones empty); the first failure of each field, with its line.
fn check_template(subject: &str, body: &str, shop: &str, email: &str) -> Result<(), Invalid> {
    let mut e = Invalid::default();
    let mut field = |name: &str, label: &str, src: &str, max: usize| {
        if src.trim().is_empty() {
            e.push(FieldError::new(
                name,
                "required",
                format!("{label}を入力してください"),
            ));
            return;
        }
        if src.chars().count() > max {
            e.push(FieldError::new(
                name,
                "too_long",
                format!("{label}は{max}文字以内にしてください"),
            ));
            return;
        }
        for v in [Vars::sample(shop, email), Vars::sample_bare(shop)] {
            match render(label, src, &v) {
                Err(m) => {
                    e.push(FieldError::new(name, "template_error", m));
                    return;
                }
                Ok(s) if name == "subject" && s.trim().contains('\n') => {
                    e.push(FieldError::new(
                        name,
                        "multiline_subject",
                        "件名は1行になるようにしてください",
                    ));
                    return;
                }
                Ok(_) => {}
            }
        }
    };
    field("subject", "件名", subject, MAX_SUBJECT_SOURCE);
    field("body", "本文", body, MAX_BODY_SOURCE);
    e.into_result(())
}

/// Line ends as a browser's textarea sends them (CRLF) become LF.
fn lf(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// メールテンプレート設定: store the shop's text for `kind` after rendering it against the
/// sample orders; a template that fails is refused with the line. Admins only.
pub async fn save_template(
    app: &App,
    actor: &Actor,
    kind: MailKind,
    subject: &str,
    body: &str,
) -> Result<TemplateView, AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden);
    }
    let (subject, body) = (lf(subject).trim().to_owned(), lf(body));
    let (shop, email) = shop_of(&mut *app.store.read().await?, actor.shop_id).await?;
    check_template(&subject, &body, &shop, &email)?;
    let t = MailTemplate {
        shop_id: actor.shop_id,
        kind: kind.code().to_owned(),
        subject,
        body,
        updated_at: app.now(),
        updated_by: actor.name.clone(),
    };
    let mut tx = app.store.begin().await?;
    mail_templates::save(&mut tx, &t).await?;
    tx.commit().await?;
    Ok(view(kind, Some(t)))
}

/// Back to the built-in text. Admins only.
pub async fn reset_template(
    app: &App,
    actor: &Actor,
    kind: MailKind,
) -> Result<TemplateView, AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden);
    }
    let mut tx = app.store.begin().await?;
    mail_templates::delete(&mut tx, actor.shop_id, kind.code()).await?;
    tx.commit().await?;
    Ok(view(kind, None))
}

/// A template rendered for an order, for the edit screen's preview.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Preview {
    /// The order it was rendered for; None: the sample order.
    pub order_number: Option<i64>,
    pub subject: String,
    pub body: String,
}

/// Render a template (saved or not) for the shop's newest order — or the sample order when
/// it has none — without storing anything. Errors are the fields', with their lines.
pub async fn preview_template(
    app: &App,
    actor: &Actor,
    kind: MailKind,
    subject: &str,
    body: &str,
) -> Result<Preview, AppError> {
    let (subject, body) = (lf(subject), lf(body));
    let mut conn = app.store.read().await?;
    let (shop, email) = shop_of(&mut conn, actor.shop_id).await?;
    check_template(subject.trim(), &body, &shop, &email)?;
    let newest = mail_templates::preview_order(&mut conn, actor.shop_id).await?;
    let order = match newest {
        Some(n) => orders::get(&mut conn, actor.shop_id, n).await?,
        None => None,
    };
    let vars = match &order {
        Some(o) => {
            let mut v = vars_in(&mut conn, actor.shop_id, o, &actor.name, app.now()).await?;
            if kind == MailKind::Shipping && v.tracking_number.is_empty() {
                v.tracking_number = "（問合せ番号）".to_owned();
            }
            v
        }
        None => Vars::sample(&shop, &email),
    };
    let r = |name: &'static str, label: &str, src: &str| {
        render(label, src, &vars).map_err(|m| Invalid::one(name, "template_error", m))
    };
    Ok(Preview {
        order_number: order.as_ref().map(|o| o.number),
        subject: r("subject", "件名", subject.trim())?.trim().to_owned(),
        body: r("body", "本文", &body)?,
    })
}

/// What the templates see for an order.
pub(crate) async fn vars_in(
    conn: &mut AnyConnection,
    shop_id: i64,
    o: &Order,
    operator: &str,
    now: Timestamp,
) -> Result<Vars, AppError> {
    let (shop_name, shop_email) = shop_of(conn, shop_id).await?;
    let m = o.draft.payment_method;
    let settings = crate::methods::settings_in(conn, shop_id, m).await?;
    let payment = juchu_store::payments::by_order(conn, o.id).await?;
    let state = payment.as_ref().map(|p| p.held.state);
    let paid_online = m.is_card() || m == PaymentMethod::Paidy;
    // The slip only while the buyer still has to pay with it.
    let instructions = payment
        .as_ref()
        .filter(|p| p.held.state == PaymentState::Pending && !p.slip.is_empty())
        .and_then(|p| serde_json::from_str::<juchu_gateway::PaymentSlip>(&p.slip).ok())
        .map(|s| instructions_text(&s))
        .unwrap_or_default();
    Ok(Vars::of(
        o,
        Extras {
            shop_name,
            shop_email,
            payment_method: settings.display_name,
            payment_done: paid_online
                && matches!(
                    state,
                    Some(PaymentState::Authorized | PaymentState::Captured)
                ),
            payment_instructions: instructions,
            payment_mail_note: settings.mail_note,
            operator_name: operator.to_owned(),
            today: juchu_domain::time::format_date(juchu_domain::time::jst_date(now)),
        },
    ))
}

/// A mail ready to be looked at and sent.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Composed {
    pub kind: MailKind,
    pub number: i64,
    /// The order's version the mail was composed from; send it back with the mail.
    pub version: i64,
    /// 宛先: the order's mail address.
    pub to: String,
    /// The shop's copy (empty: the shop has no address).
    pub bcc: String,
    pub subject: String,
    pub body: String,
    /// 問合せ番号 in the mail (配送通知), typed or the order's.
    pub tracking_number: String,
    /// The order's 問合せ番号 now.
    pub order_tracking_number: String,
}

fn template_failed(field: &'static str, kind: MailKind, m: String) -> AppError {
    Invalid::one(
        field,
        "template_error",
        format!(
            "{}のテンプレートを使えません（{m}）。基本設定 > メールテンプレートで直してください",
            kind.label()
        ),
    )
    .into()
}

/// The typed 問合せ番号 (full-width digits made half-width), or None when left empty.
fn typed_tracking(t: Option<&str>) -> Option<String> {
    t.map(|s| normalize_ascii(s).trim().to_owned())
        .filter(|s| !s.is_empty())
}

async fn compose_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    o: &Order,
    kind: MailKind,
    tracking: Option<&str>,
    now: Timestamp,
) -> Result<Composed, AppError> {
    let mut vars = vars_in(conn, actor.shop_id, o, &actor.name, now).await?;
    if let Some(t) = typed_tracking(tracking) {
        vars.tracking_number = t;
    }
    let t = template_in(conn, actor.shop_id, kind).await?;
    let subject = render("件名", &t.subject, &vars)
        .map_err(|m| template_failed("subject", kind, m))?
        .trim()
        .to_owned();
    let body = render("本文", &t.body, &vars).map_err(|m| template_failed("body", kind, m))?;
    Ok(Composed {
        kind,
        number: o.number,
        version: o.version,
        to: o.draft.email.clone(),
        bcc: vars.shop_email.clone(),
        subject,
        body,
        tracking_number: vars.tracking_number,
        order_tracking_number: o.draft.tracking_number.clone(),
    })
}

/// メール送信's first screen: the mail `kind` for order `number`, from the shop's template,
/// with `tracking` (配送通知) in place of the order's 問合せ番号 when given. Refused once the
/// order has left 受注一覧.
pub async fn compose(
    app: &App,
    actor: &Actor,
    number: i64,
    kind: MailKind,
    tracking: Option<&str>,
) -> Result<Composed, AppError> {
    let mut conn = app.store.read().await?;
    let o = live_order(&mut conn, actor, number).await?;
    o.standing().can_work("メール送信")?;
    compose_in(&mut conn, actor, &o, kind, tracking, app.now()).await
}

async fn live_order(
    conn: &mut AnyConnection,
    actor: &Actor,
    number: i64,
) -> Result<Order, AppError> {
    orders::get(conn, actor.shop_id, number)
        .await?
        .filter(|o| o.deleted_at.is_none())
        .ok_or(AppError::NotFound("受注"))
}

/// A mail the operator sends: subject and body as they stand (omitted: from the template).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInput {
    pub kind: MailKind,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// 問合せ番号 (配送通知): stored on the order when it differs from the order's.
    #[serde(default)]
    pub tracking_number: Option<String>,
    /// The order's version the operator started from.
    pub version: i64,
}

/// Check a mail against its order (read or locked by the caller): the order may take mails,
/// is at `version`, and the mail's fields are complete. → the mail as it will go.
// Long: one check per field of the mail form, then the template filled in.
async fn prepare(
    conn: &mut AnyConnection,
    actor: &Actor,
    o: &Order,
    input: &SendInput,
    now: Timestamp,
) -> Result<Composed, AppError> {
    o.standing().can_work("メール送信")?;
    if o.version != input.version {
        return Err(AppError::Stale { current: o.version });
    }
    let kind = input.kind;
    let mut c = if input.subject.is_none() || input.body.is_none() {
        compose_in(conn, actor, o, kind, input.tracking_number.as_deref(), now).await?
    } else {
        let (_, bcc) = shop_of(conn, actor.shop_id).await?;
        Composed {
            kind,
            number: o.number,
            version: o.version,
            to: o.draft.email.clone(),
            bcc,
            subject: String::new(),
            body: String::new(),
            tracking_number: typed_tracking(input.tracking_number.as_deref())
                .unwrap_or_else(|| o.draft.tracking_number.clone()),
            order_tracking_number: o.draft.tracking_number.clone(),
        }
    };
    if let Some(s) = &input.subject {
        c.subject = lf(s).trim().to_owned();
    }
    if let Some(b) = &input.body {
        c.body = lf(b);
    }
    let mut e = Invalid::default();
    if c.subject.is_empty() {
        e.push(FieldError::new(
            "subject",
            "required",
            "件名を入力してください",
        ));
    } else if c.subject.contains('\n') {
        e.push(FieldError::new(
            "subject",
            "multiline_subject",
            "件名は1行で入力してください",
        ));
    } else if c.subject.chars().count() > MAX_SUBJECT {
        e.push(FieldError::new(
            "subject",
            "too_long",
            format!("件名は{MAX_SUBJECT}文字以内にしてください"),
        ));
    }
    if c.body.trim().is_empty() {
        e.push(FieldError::new(
            "body",
            "required",
            "本文を入力してください",
        ));
    } else if c.body.chars().count() > MAX_BODY {
        e.push(FieldError::new(
            "body",
            "too_long",
            format!("本文は{MAX_BODY}文字以内にしてください"),
        ));
    } else if kind == MailKind::Free && c.body.contains(FREE_PLACEHOLDER) {
        e.push(FieldError::new(
            "body",
            "placeholder",
            format!("本文の「{FREE_PLACEHOLDER}」をご連絡内容に書き換えてください"),
        ));
    }
    if kind == MailKind::Shipping {
        if c.tracking_number.is_empty() {
            e.push(FieldError::new(
                "tracking_number",
                "required",
                "問合せ番号を入力してください（配送通知メールに必要です）",
            ));
        } else if c.tracking_number.chars().count() > 50 {
            e.push(FieldError::new(
                "tracking_number",
                "too_long",
                "問合せ番号は50文字以内で入力してください",
            ));
        } else if !c.body.trim().is_empty() && !c.body.contains(&c.tracking_number) {
            e.push(FieldError::new(
                "body",
                "tracking_number_missing",
                format!(
                    "本文に問合せ番号「{}」がありません（「テンプレートから作り直す」で入れ直せます）",
                    c.tracking_number
                ),
            ));
        }
    }
    if c.to.trim().is_empty() {
        return Err(AppError::conflict(
            "no_address",
            "この受注にはメールアドレスがないため、メールを送れません",
        ));
    }
    e.into_result(c).map_err(AppError::from)
}

/// 確認: the mail as it would be sent, without sending it (the same checks as `send`).
pub async fn review(
    app: &App,
    actor: &Actor,
    number: i64,
    input: &SendInput,
) -> Result<Composed, AppError> {
    let mut conn = app.store.read().await?;
    let o = live_order(&mut conn, actor, number).await?;
    prepare(&mut conn, actor, &o, input, app.now()).await
}

fn entry(actor: &Actor, at: Timestamp, action: &str, detail: String) -> HistoryEntry {
    HistoryEntry {
        at,
        actor: actor.name.clone(),
        action: action.to_owned(),
        detail,
        outcome: Outcome::Ok,
    }
}

/// 送信: queue the mail (Bcc to the shop, `sent_by` the operator) and note it in the order's
/// history — with a 配送通知's new 問合せ番号 stored on the order — in one transaction.
/// Refused outside 受注一覧 and for a stale version (nothing is queued then).
pub async fn send(
    app: &App,
    actor: &Actor,
    number: i64,
    input: SendInput,
) -> Result<Listed, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let o = orders::get_for_update(&mut tx, actor.shop_id, number)
        .await?
        .filter(|o| o.deleted_at.is_none())
        .ok_or(AppError::NotFound("受注"))?;
    let c = prepare(tx.conn(), actor, &o, &input, now).await?;
    if c.kind == MailKind::Shipping && c.tracking_number != o.draft.tracking_number {
        store_tracking(&mut tx, actor, &o, &c.tracking_number, now).await?;
    }
    let id = mails::enqueue(
        &mut tx,
        &NewMail {
            shop_id: actor.shop_id,
            order_id: Some(o.id),
            kind: c.kind.code(),
            to: &c.to,
            bcc: &c.bcc,
            subject: &c.subject,
            body: &c.body,
            sent_by: &actor.name,
        },
        now,
    )
    .await?;
    let detail = format!(
        "{}を送信しました（件名: {}、宛先: {}）",
        c.kind.label(),
        c.subject,
        c.to
    );
    orders::add_history(
        &mut tx,
        actor.shop_id,
        o.id,
        &entry(actor, now, "mail.queued", detail),
    )
    .await?;
    let queued = mails::get(tx.conn(), actor.shop_id, id)
        .await?
        .ok_or(AppError::NotFound("メール"))?;
    tx.commit().await?;
    Ok(queued.into())
}

/// The order's 問合せ番号 becomes `tracking`, through the same validation and version check
/// as an edit.
async fn store_tracking(
    tx: &mut Tx,
    actor: &Actor,
    o: &Order,
    tracking: &str,
    now: Timestamp,
) -> Result<(), AppError> {
    let mut input = o.draft.to_input();
    input.tracking_number = tracking.to_owned();
    let draft = input.validate()?;
    if !orders::update_draft(tx, o.id, o.version, &draft, now).await? {
        return Err(AppError::Stale {
            current: o.version + 1,
        });
    }
    let detail = if o.draft.tracking_number.is_empty() {
        format!("お問い合わせ番号「{tracking}」を登録しました（配送通知メール）")
    } else {
        format!(
            "お問い合わせ番号を「{}」から「{tracking}」に変更しました（配送通知メール）",
            o.draft.tracking_number
        )
    };
    orders::add_history(
        tx,
        actor.shop_id,
        o.id,
        &entry(actor, now, "order.edited", detail),
    )
    .await?;
    Ok(())
}

/// The checkout's サンクスメール: the shop's 注文確認 template, with the payment's
/// instructions (konbini number, due date, net-bank URL) where the buyer pays later. A
/// template that fails for this order falls back to the built-in text: the buyer always gets
/// the mail.
pub(crate) async fn thanks_in(
    tx: &mut Tx,
    shop_id: i64,
    actor_name: &str,
    order: &Order,
    new_status: juchu_domain::status::OrderStatus,
    slip: Option<&juchu_gateway::PaymentSlip>,
    now: Timestamp,
) -> Result<(), AppError> {
    let m = order.draft.payment_method;
    let mut vars = vars_in(tx.conn(), shop_id, order, actor_name, now).await?;
    // The payment is being recorded in this transaction: say what the buyer needs now.
    vars.order_status = new_status.label().to_owned();
    vars.payment_done = m.is_card() || m == PaymentMethod::Paidy;
    vars.payment_instructions = slip.map(instructions_text).unwrap_or_default();
    let t = template_in(tx.conn(), shop_id, MailKind::Order).await?;
    let rendered = render("件名", &t.subject, &vars)
        .and_then(|s| Ok((s, render("本文", &t.body, &vars)?)))
        .or_else(|e| {
            tracing::warn!(shop_id, order = order.number, error = %e,
                "the shop's 注文確認 template failed; the built-in text is used");
            let (s, b) = MailKind::Order.default_text();
            Ok::<_, String>((render("件名", s, &vars)?, render("本文", b, &vars)?))
        })
        .map_err(|e| anyhow::anyhow!("built-in thanks mail: {e}"))?;
    mails::enqueue(
        tx,
        &NewMail {
            shop_id,
            order_id: Some(order.id),
            kind: "thanks",
            to: &order.draft.email,
            bcc: &vars.shop_email,
            subject: rendered.0.trim(),
            body: &rendered.1,
            sent_by: actor_name,
        },
        now,
    )
    .await?;
    Ok(())
}

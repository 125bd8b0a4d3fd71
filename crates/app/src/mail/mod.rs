//! Mail: an outbox written in the same transaction as what the mail tells about, delivered
//! by [`deliver`] — as .eml files in a directory (the default, `./data/mail`), or through
//! SMTP. Delivery is at least once: a sender that dies mid-send leaves the mail to be taken
//! again after ten minutes. Each mail sent or failed is recorded in the order's history.
//!
//! What an operator sends from an order (注文確認 / 配送通知 / フリー, from the shop's
//! templates) is in [`send`], the templates themselves in [`templates`]; the outbox list is
//! [`outbox`].

mod send;
pub mod templates;

pub(crate) use send::thanks_in;
pub use send::{
    Composed, Preview, SendInput, TemplateView, compose, preview_template, reset_template, review,
    save_template, send, template, templates,
};
pub use templates::{MailKind, kind_label};

use std::path::PathBuf;

use jiff::SignedDuration;
use juchu_domain::history::{HistoryEntry, Outcome};
use juchu_store::mails::{self, Filter};
use juchu_store::orders;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::{Actor, App, AppError};

/// How many times a mail is tried before it stays failed.
pub const MAX_ATTEMPTS: i64 = 5;

/// Where mails go.
#[derive(Clone, Default)]
pub enum Mailer {
    /// Nowhere yet: mails stay queued.
    #[default]
    Off,
    /// `.eml` files in this directory.
    Files(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Mailer {
    /// `smtp://user:pass@host:587` (STARTTLS with `?tls=required`), `smtps://…` (TLS).
    pub fn smtp(url: &str) -> Result<Mailer, String> {
        Ok(Mailer::Smtp(
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(|e| format!("SMTP URL: {e}"))?
                .build(),
        ))
    }
}

fn mailbox(addr: &str, name: Option<&str>) -> Result<Mailbox, String> {
    let a = addr
        .parse()
        .map_err(|e| format!("メールアドレス「{addr}」: {e}"))?;
    Ok(Mailbox::new(name.map(str::to_owned), a))
}

fn message(m: &mails::Mail, from: &str, shop_name: &str) -> Result<Message, String> {
    let mut b = Message::builder()
        .from(mailbox(from, Some(shop_name))?)
        .to(mailbox(&m.mail_to, None)?)
        .subject(m.subject.clone())
        .header(ContentType::TEXT_PLAIN);
    if !m.bcc.is_empty() {
        b = b.bcc(mailbox(&m.bcc, None)?);
    }
    b.body(m.body.clone()).map_err(|e| e.to_string())
}

/// Send what the outbox holds; the number of mails sent.
pub async fn deliver(app: &App) -> Result<usize, AppError> {
    if matches!(*app.mailer, Mailer::Off) {
        return Ok(0);
    }
    let now = app.now();
    let stale = now - SignedDuration::from_mins(10);
    let due = mails::due(&mut *app.store.read().await?, MAX_ATTEMPTS, stale, 100).await?;
    let mut sent = 0;
    for m in due {
        let mut tx = app.store.begin().await?;
        if !mails::claim(&mut tx, m.id, MAX_ATTEMPTS, stale, now).await? {
            continue;
        }
        tx.commit().await?;
        let (shop, from) = {
            let mut conn = app.store.read().await?;
            let shop = juchu_store::shops::by_id(&mut conn, m.shop_id)
                .await?
                .map(|s| s.name)
                .unwrap_or_default();
            let email = juchu_store::shops::email(&mut conn, m.shop_id).await?;
            (shop, email)
        };
        let from = if from.is_empty() {
            "noreply@juchu.invalid".to_owned()
        } else {
            from
        };
        let result = match message(&m, &from, &shop) {
            Err(e) => Err(e),
            Ok(msg) => match &*app.mailer {
                Mailer::Off => Err("メール送信が設定されていません".to_owned()),
                Mailer::Files(dir) => {
                    if let Err(e) = tokio::fs::create_dir_all(dir).await {
                        Err(format!("{}: {e}", dir.display()))
                    } else {
                        AsyncFileTransport::<Tokio1Executor>::new(dir)
                            .send(msg)
                            .await
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    }
                }
                Mailer::Smtp(t) => t.send(msg).await.map(|_| ()).map_err(|e| e.to_string()),
            },
        };
        let now = app.now();
        let mut tx = app.store.begin().await?;
        let error = result.as_ref().err().cloned().unwrap_or_default();
        mails::mark(&mut tx, m.id, result.is_ok(), &error, now).await?;
        if let Some(order_id) = m.order_id {
            let detail = match &result {
                Ok(()) => format!("メールを送信しました: 「{}」→ {}", m.subject, m.mail_to),
                Err(e) => format!(
                    "メールを送信できませんでした（{}回目）: 「{}」→ {}（{e}）",
                    m.attempts + 1,
                    m.subject,
                    m.mail_to
                ),
            };
            orders::add_history(
                &mut tx,
                m.shop_id,
                order_id,
                &HistoryEntry {
                    at: now,
                    actor: "システム（メール）".into(),
                    action: "mail.sent".into(),
                    detail,
                    outcome: if result.is_ok() {
                        Outcome::Ok
                    } else {
                        Outcome::Error
                    },
                },
            )
            .await?;
        }
        tx.commit().await?;
        if result.is_ok() {
            sent += 1;
        }
    }
    Ok(sent)
}

/// The order's mails, newest first.
pub async fn of_order(app: &App, actor: &Actor, number: i64) -> Result<Vec<Mail>, AppError> {
    let mut conn = app.store.read().await?;
    let o = orders::get(&mut conn, actor.shop_id, number)
        .await?
        .ok_or(AppError::NotFound("受注"))?;
    Ok(mails::of_order(&mut conn, o.id)
        .await?
        .into_iter()
        .map(Mail::from)
        .collect())
}

/// The shop's mail address: the From of its mails, and where its copies go. Admins only.
pub async fn set_shop_email(app: &App, actor: &Actor, email: &str) -> Result<String, AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden);
    }
    let email = juchu_domain::customer::validate_email("email", email, true)?;
    let mut tx = app.store.begin().await?;
    juchu_store::shops::set_email(&mut tx, actor.shop_id, &email).await?;
    tx.commit().await?;
    Ok(email)
}

pub async fn shop_email(app: &App, actor: &Actor) -> Result<String, AppError> {
    Ok(juchu_store::shops::email(&mut *app.store.read().await?, actor.shop_id).await?)
}

/// 送信メール一覧's filter as typed (`?number=&kind=&status=&page=`).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// 注文番号
    #[serde(default)]
    pub number: Option<String>,
    /// `order`, `shipping`, `free`, `thanks`, `payment_instructions`
    #[serde(default)]
    pub kind: Option<String>,
    /// `queued` (送信待ち), `sent` (送信済み), `failed` (送信失敗)
    #[serde(default)]
    pub status: Option<String>,
    /// 1-based
    #[serde(default)]
    pub page: Option<i64>,
    /// default 50, at most 200
    #[serde(default)]
    pub per_page: Option<i64>,
}

// A mail of the outbox, as the API and the screens show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Mail {
    pub id: i64,
    pub shop_id: i64,
    pub order_id: Option<i64>,
    pub kind: String,
    pub mail_to: String,
    pub bcc: String,
    pub subject: String,
    pub body: String,
    /// `queued`, `sent`, `failed`
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
    pub created_at: String,
    pub sent_at: Option<String>,
    /// Who queued it (an operator's name, or the system).
    pub sent_by: String,
}

impl From<mails::Mail> for Mail {
    fn from(m: mails::Mail) -> Mail {
        Mail {
            id: m.id,
            shop_id: m.shop_id,
            order_id: m.order_id,
            kind: m.kind,
            mail_to: m.mail_to,
            bcc: m.bcc,
            subject: m.subject,
            body: m.body,
            status: m.status,
            attempts: m.attempts,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
            sent_by: m.sent_by,
        }
    }
}

/// A mail in the outbox list, with its order's number.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Listed {
    #[serde(flatten)]
    pub mail: Mail,
    /// 注文番号
    pub order_number: Option<i64>,
}

impl From<mails::Listed> for Listed {
    fn from(l: mails::Listed) -> Listed {
        Listed {
            mail: l.mail.into(),
            order_number: l.order_number,
        }
    }
}

/// One page of the outbox.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OutboxPage {
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub mails: Vec<Listed>,
}

/// The outbox statuses an operator filters by: (code, label).
pub const OUTBOX_STATUSES: [(&str, &str); 3] = [
    ("queued", "送信待ち"),
    ("sent", "送信済み"),
    ("failed", "送信失敗"),
];

fn blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// 送信メール一覧: the shop's mails, newest first, narrowed by order, kind and status.
pub async fn outbox(app: &App, actor: &Actor, q: &OutboxQuery) -> Result<OutboxPage, AppError> {
    let mut e = juchu_domain::Invalid::default();
    let order_number = blank(&q.number).and_then(|n| {
        e.take(juchu_domain::input::parse_int("number", n).map_err(|_| {
            juchu_domain::Invalid::one(
                "number",
                "invalid_number",
                "注文番号は数字で入力してください",
            )
        }))
    });
    let kind = blank(&q.kind).map(str::to_owned);
    if let Some(k) = &kind
        && !templates::OUTBOX_KINDS.contains(&k.as_str())
    {
        e.push(juchu_domain::FieldError::new(
            "kind",
            "unknown_kind",
            format!("メールの種類「{k}」はありません"),
        ));
    }
    let status = blank(&q.status).map(str::to_owned);
    if let Some(s) = &status
        && !OUTBOX_STATUSES.iter().any(|(c, _)| c == s)
    {
        e.push(juchu_domain::FieldError::new(
            "status",
            "unknown_status",
            format!("状態「{s}」はありません（queued, sent, failed）"),
        ));
    }
    let f = e.into_result(Filter {
        order_number,
        kind,
        status,
    })?;
    let page = q.page.unwrap_or(1).max(1);
    let per_page = q.per_page.unwrap_or(50).clamp(1, 200);
    let (total, list) = mails::search(
        &mut *app.store.read().await?,
        actor.shop_id,
        &f,
        page,
        per_page,
    )
    .await?;
    Ok(OutboxPage {
        total,
        page,
        per_page,
        mails: list.into_iter().map(Listed::from).collect(),
    })
}

/// One of the shop's mails.
pub async fn get(app: &App, actor: &Actor, id: i64) -> Result<Listed, AppError> {
    mails::get(&mut *app.store.read().await?, actor.shop_id, id)
        .await?
        .map(Listed::from)
        .ok_or(AppError::NotFound("メール"))
}

//! The gateways' credentials per shop (支払方法設定's 接続設定): which fields each gateway
//! has, how they are sealed in the database (XChaCha20-Poly1305 under the process's key, the
//! shop and gateway as associated data), opened for the connectors, and shown masked.

use anyhow::Context;
use std::collections::BTreeMap;

use jiff::Timestamp;
use juchu_domain::payment_method::Gateway;
use juchu_gateway::Secret;
use juchu_store::methods as store;

use crate::{Actor, App, AppError};

/// One credential field of a gateway's 加盟店情報.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialField {
    pub name: &'static str,
    pub label: &'static str,
    /// An id, shown in full (merchant / shop ids, Paidy's public key); the rest are secrets,
    /// shown masked.
    pub public: bool,
    /// Must be set before the credentials can be saved.
    pub required: bool,
}

pub(crate) const fn field(
    name: &'static str,
    label: &'static str,
    public: bool,
    required: bool,
) -> CredentialField {
    CredentialField {
        name,
        label,
        public,
        required,
    }
}

pub(crate) const PAYGENT_FIELDS: [CredentialField; 7] = [
    field("merchant_id", "マーチャントID", true, true),
    field("connect_id", "接続ID", false, true),
    field("connect_password", "接続IDパスワード", false, true),
    field("token_key", "トークン生成鍵", false, true),
    field("token_hash_key", "トークン受付ハッシュ鍵", false, false),
    field(
        "three_ds_hash_key",
        "3Dセキュア結果受付ハッシュ鍵",
        false,
        false,
    ),
    field("notice_hash_key", "差分通知ハッシュ鍵", false, false),
];
pub(crate) const GMO_FIELDS: [CredentialField; 4] = [
    field("shop_id", "ショップID", true, true),
    field("shop_pass", "ショップパスワード", false, true),
    field("site_id", "サイトID", false, true),
    field("site_pass", "サイトパスワード", false, true),
];
pub(crate) const PAIDY_FIELDS: [CredentialField; 2] = [
    field("public_key", "パブリックキー", true, true),
    field("secret_key", "シークレットキー", false, true),
];

pub const GATEWAYS: [Gateway; 3] = [Gateway::Paygent, Gateway::Gmo, Gateway::Paidy];

/// The fields of a gateway's credentials, in the order of its contract papers.
pub fn credential_fields(g: Gateway) -> &'static [CredentialField] {
    match g {
        Gateway::Paygent => &PAYGENT_FIELDS,
        Gateway::Gmo => &GMO_FIELDS,
        Gateway::Paidy => &PAIDY_FIELDS,
    }
}

/// A secret as the screen may show it: six dots and, for secrets of 8 characters or more,
/// the last 4 (`••••••1234`); a short secret shows no tail at all.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let tail: String = if chars.len() >= 8 {
        chars[chars.len() - 4..].iter().collect()
    } else {
        String::new()
    };
    format!("••••••{tail}")
}

/// One field of the masked view.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CredentialFieldView {
    pub name: &'static str,
    pub label: &'static str,
    /// Shown masked (`••••••1234`); ids are shown in full.
    pub secret: bool,
    pub required: bool,
    /// A value is stored.
    pub set: bool,
    /// What may be shown of the stored value; empty when none is stored.
    pub shown: String,
}

/// A gateway's credentials as the screen and the API show them: never a secret in full.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CredentialsView {
    pub gateway: Gateway,
    /// ペイジェント, GMOペイメントゲートウェイ, Paidy.
    pub name: &'static str,
    /// Every required field is set.
    pub configured: bool,
    pub fields: Vec<CredentialFieldView>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<Timestamp>,
    pub updated_by: String,
}

pub(crate) fn view_of(
    g: Gateway,
    row: Option<&store::CredentialsRow>,
) -> Result<CredentialsView, AppError> {
    let masked: BTreeMap<String, String> = match row {
        Some(r) => serde_json::from_str(&r.masked).context("gateway_credentials.masked")?,
        None => BTreeMap::new(),
    };
    let fields: Vec<CredentialFieldView> = credential_fields(g)
        .iter()
        .map(|f| {
            let shown = masked.get(f.name).cloned().unwrap_or_default();
            CredentialFieldView {
                name: f.name,
                label: f.label,
                secret: !f.public,
                required: f.required,
                set: !shown.is_empty(),
                shown,
            }
        })
        .collect();
    Ok(CredentialsView {
        gateway: g,
        name: g.name(),
        configured: fields.iter().all(|f| f.set || !f.required),
        fields,
        updated_at: row.map(|r| r.updated_at),
        updated_by: row.map(|r| r.updated_by.clone()).unwrap_or_default(),
    })
}

/// Every gateway's credentials, masked (admins only).
pub async fn credentials_view(app: &App, actor: &Actor) -> Result<Vec<CredentialsView>, AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden);
    }
    let mut conn = app.store.read().await?;
    let mut out = vec![];
    for g in GATEWAYS {
        let row = store::credentials(&mut conn, actor.shop_id, g).await?;
        out.push(view_of(g, row.as_ref())?);
    }
    Ok(out)
}

/// What the seal is bound to: a sealed value copied to another shop or gateway does not open.
pub(crate) fn seal_context(shop_id: i64, g: Gateway) -> String {
    format!(
        "juchu gateway_credentials shop={shop_id} gateway={}",
        g.code()
    )
}

pub(crate) fn unreadable(g: Gateway) -> AppError {
    AppError::conflict(
        "credentials_unreadable",
        format!(
            "{}の接続設定を復号できません。サーバーの秘密鍵（JUCHU_SECRET_KEY または secret.key）が保存したときと違います",
            g.name()
        ),
    )
}

pub(crate) fn open_fields(
    app: &App,
    r: &store::CredentialsRow,
) -> Result<BTreeMap<String, String>, AppError> {
    let plain = app
        .secrets
        .open(&r.sealed, &seal_context(r.shop_id, r.gateway))
        .map_err(|_| unreadable(r.gateway))?;
    serde_json::from_slice(&plain).map_err(|_| unreadable(r.gateway))
}

/// Paygent's 加盟店情報.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaygentCredentials {
    pub merchant_id: Secret,
    pub connect_id: Secret,
    pub connect_password: Secret,
    pub token_key: Secret,
    pub token_hash_key: Secret,
    pub three_ds_hash_key: Secret,
    pub notice_hash_key: Secret,
}

/// GMO-PG's shop and site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GmoCredentials {
    pub shop_id: Secret,
    pub shop_pass: Secret,
    pub site_id: Secret,
    pub site_pass: Secret,
}

/// Paidy's API keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidyCredentials {
    pub public_key: Secret,
    pub secret_key: Secret,
}

/// A gateway's credentials in the clear, for building its connector. Every field is a
/// `Secret`: none of them prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayCredentials {
    Paygent(PaygentCredentials),
    Gmo(GmoCredentials),
    Paidy(PaidyCredentials),
}

impl GatewayCredentials {
    fn of(g: Gateway, mut m: BTreeMap<String, String>) -> GatewayCredentials {
        let mut take = |k: &str| Secret::new(m.remove(k).unwrap_or_default());
        match g {
            Gateway::Paygent => GatewayCredentials::Paygent(PaygentCredentials {
                merchant_id: take("merchant_id"),
                connect_id: take("connect_id"),
                connect_password: take("connect_password"),
                token_key: take("token_key"),
                token_hash_key: take("token_hash_key"),
                three_ds_hash_key: take("three_ds_hash_key"),
                notice_hash_key: take("notice_hash_key"),
            }),
            Gateway::Gmo => GatewayCredentials::Gmo(GmoCredentials {
                shop_id: take("shop_id"),
                shop_pass: take("shop_pass"),
                site_id: take("site_id"),
                site_pass: take("site_pass"),
            }),
            Gateway::Paidy => GatewayCredentials::Paidy(PaidyCredentials {
                public_key: take("public_key"),
                secret_key: take("secret_key"),
            }),
        }
    }
}

/// The shop's credentials for `gateway`, decrypted; None when never set. A server key that
/// does not open them is an error naming the gateway.
pub async fn credentials(
    app: &App,
    shop_id: i64,
    gateway: Gateway,
) -> Result<Option<GatewayCredentials>, AppError> {
    let Some(r) = store::credentials(&mut *app.store.read().await?, shop_id, gateway).await? else {
        return Ok(None);
    };
    Ok(Some(GatewayCredentials::of(gateway, open_fields(app, &r)?)))
}

/// Check that the app's key opens every stored credential (`juchu serve` runs this at
/// start-up, so a wrong key is reported at once, naming the shop and the gateway).
pub async fn verify_key(app: &App) -> Result<(), AppError> {
    let rows = store::all_credentials(&mut *app.store.read().await?).await?;
    for r in &rows {
        if open_fields(app, r).is_err() {
            return Err(AppError::conflict(
                "credentials_unreadable",
                format!(
                    "ショップ {} の{}の接続設定をこの秘密鍵で復号できません。保存したときの鍵（JUCHU_SECRET_KEY または secret.key）を指定してください",
                    r.shop_id,
                    r.gateway.name()
                ),
            ));
        }
    }
    Ok(())
}

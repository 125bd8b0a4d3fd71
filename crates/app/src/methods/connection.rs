//! 接続設定: saving a gateway's credentials, sealed, and reconnecting to it.

use anyhow::Context;
use std::collections::BTreeMap;

use juchu_domain::payment_method::Gateway;
use juchu_domain::{FieldError, Invalid};
use juchu_store::methods as store;

use crate::credentials::{
    CredentialsView, credential_fields, mask, open_fields, seal_context, view_of,
};
use crate::{Actor, App, AppError};

/// Set a gateway's credentials (admins only). `input` maps field names to values; an empty
/// or left-out field keeps the stored value, so a secret that cannot be seen need not be
/// typed again. Values are trimmed, half-width, at most 256 characters.
// Long: validate, seal and store each field, then reconnect, in one transaction's order.
pub async fn set_credentials(
    app: &App,
    actor: &Actor,
    gateway: Gateway,
    input: BTreeMap<String, String>,
) -> Result<CredentialsView, AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden);
    }
    let specs = credential_fields(gateway);
    let mut errors = Invalid::default();
    let mut given: BTreeMap<&'static str, String> = BTreeMap::new();
    for (k, v) in &input {
        let Some(f) = specs.iter().find(|f| f.name == k) else {
            errors.push(FieldError::new(
                k.clone(),
                "unknown_field",
                format!(
                    "{}の接続設定に「{k}」という項目はありません（{}）",
                    gateway.name(),
                    specs.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
                ),
            ));
            continue;
        };
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        if !v.chars().all(|c| c.is_ascii_graphic()) {
            errors.push(FieldError::new(
                f.name,
                "invalid",
                format!(
                    "{}は半角英数字・記号で入力してください（空白は使えません）",
                    f.label
                ),
            ));
        } else if v.len() > 256 {
            errors.push(FieldError::new(
                f.name,
                "too_long",
                format!("{}は256文字以内で入力してください", f.label),
            ));
        } else {
            given.insert(f.name, v.to_owned());
        }
    }
    // Format errors are reported together with the required fields still missing.
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let old = store::credentials_for_update(&mut tx, actor.shop_id, gateway).await?;
    let mut merged: BTreeMap<String, String> = match &old {
        None => BTreeMap::new(),
        Some(r) => match open_fields(app, r) {
            Ok(m) => m,
            // Sealed under another key: it can be replaced as a whole, not merged into.
            Err(e)
                if specs
                    .iter()
                    .all(|f| !f.required || given.contains_key(f.name)) =>
            {
                tracing::warn!(error = %e, "replacing gateway credentials sealed under another key");
                BTreeMap::new()
            }
            Err(e) => return Err(e),
        },
    };
    for (k, v) in given {
        merged.insert(k.to_owned(), v);
    }
    merged.retain(|k, v| !v.is_empty() && specs.iter().any(|f| f.name == k));
    for f in specs.iter().filter(|f| f.required) {
        if !merged.contains_key(f.name) && !errors.0.iter().any(|e| e.field == f.name) {
            errors.push(FieldError::new(
                f.name,
                "required",
                format!("{}を入力してください", f.label),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let masked: BTreeMap<&str, String> = specs
        .iter()
        .filter_map(|f| {
            merged
                .get(f.name)
                .map(|v| (f.name, if f.public { v.clone() } else { mask(v) }))
        })
        .collect();
    let plain = serde_json::to_vec(&merged).context("credentials as JSON")?;
    let sealed = app
        .secrets
        .seal(&plain, &seal_context(actor.shop_id, gateway))
        .context("sealing credentials")?;
    let row = store::CredentialsRow {
        shop_id: actor.shop_id,
        gateway,
        sealed,
        masked: serde_json::to_string(&masked).context("masked credentials as JSON")?,
        updated_at: now,
        updated_by: actor.name.clone(),
    };
    store::set_credentials(&mut tx, &row).await?;
    tx.commit().await?;
    // The connectors use the new credentials from the next request on.
    crate::connectors::reconnect(app, actor.shop_id).await?;
    view_of(gateway, Some(&row))
}

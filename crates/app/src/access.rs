//! Admin users, passwords (argon2), UI sessions and API tokens. Session and token secrets
//! are random 256-bit values; only their SHA-256 is stored, so a leaked database does not
//! log anyone in.

use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use jiff::{SignedDuration, Timestamp};
use juchu_domain::{FieldError, Invalid};
use juchu_store::Unique;
use juchu_store::users::{self, Role, User};

use crate::tokens::{random_token, token_hash};
use crate::{Actor, App, AppError};

pub const SESSION_HOURS: i64 = 12;
pub const MIN_PASSWORD_LEN: usize = 8;

/// Sign-in throttling: failures count for this long …
pub const FAILURE_WINDOW_MINUTES: i64 = 15;
/// … and this many for one login, or this many from one address, stop sign-ins for it until
/// the oldest of them is older than the window.
pub const FAILURES_PER_LOGIN: usize = 5;
pub const FAILURES_PER_ADDRESS: usize = 20;

/// Longest life an API token may be given (days).
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// At most this many argon2 computations at once (each takes ~19 MiB and tens of
/// milliseconds of a core), on the blocking pool: a flood of wrong passwords cannot starve the
/// async workers that serve everyone else.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Run a password hash or check off the async workers, a bounded number at a time.
async fn hashing<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
    let _turn = HASHING.acquire().await.context("hashing")?;
    Ok(tokio::task::spawn_blocking(f).await.context("hashing")?)
}

pub fn hash_password(password: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("random: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2: {e}").into())
}

pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A sign-in from `address`: refused without a look at the password while the login or the
/// address is throttled; every failure kept. Verified against a dummy hash when the login is
/// unknown, so a wrong login takes as long as a wrong password.
async fn check_login(
    app: &App,
    login: &str,
    password: &str,
    address: &str,
) -> Result<User, AppError> {
    let now = app.now();
    let login = login.trim();
    let login = &login.chars().take(100).collect::<String>();
    throttled(app, login, address, now).await?;
    let user = users::by_login(&mut *app.store.read().await?, login).await?;
    let hash = match &user {
        Some(u) if !u.disabled => u.password_hash.clone(),
        _ => DUMMY_HASH.to_owned(),
    };
    let password = password.to_owned();
    let matches = hashing(move || verify_password(&password, &hash)).await?;
    let mut tx = app.store.begin().await?;
    let out = match user {
        Some(u) if !u.disabled && matches => {
            users::clear_login_failures(&mut tx, login).await?;
            Ok(u)
        }
        _ => {
            users::record_login_failure(&mut tx, login, address, now).await?;
            Err(AppError::Unauthenticated)
        }
    };
    tx.commit().await?;
    out
}

/// Refused while `login` or `address` has failed too often lately, saying for how long.
async fn throttled(app: &App, login: &str, address: &str, now: Timestamp) -> Result<(), AppError> {
    let window = SignedDuration::from_mins(FAILURE_WINDOW_MINUTES);
    let (by_login, by_address) = users::login_failures(
        &mut *app.store.read().await?,
        login,
        address,
        now - window,
        FAILURES_PER_ADDRESS as i64,
    )
    .await?;
    // Newest first: the oldest failure that still counts frees it once it leaves the window.
    let until = |failures: &[Timestamp], max: usize| {
        failures
            .get(max - 1)
            .map(|t| *t + window)
            .filter(|t| *t > now)
    };
    let locked = |t: Timestamp, who: &str| {
        let secs = t.duration_since(now).as_secs().max(1) as u64;
        AppError::TooManyAttempts {
            retry_after_secs: secs,
            message: format!(
                "{who}ログインの失敗が続いたため、一時的にロックされています。{}分後にもう一度お試しください",
                secs.div_ceil(60)
            ),
        }
    };
    if let Some(t) = until(&by_login, FAILURES_PER_LOGIN) {
        return Err(locked(t, "このログインIDは"));
    }
    if let Some(t) = until(&by_address, FAILURES_PER_ADDRESS) {
        return Err(locked(t, "この接続元からの"));
    }
    Ok(())
}

pub(crate) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$eM0ysqSHS+6PzD3GnYCw1ZxLDnQcXIu0Q4zUrq0cD8s";

pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

/// Sign in from `address` (the client's IP address, for throttling and the record of
/// failures).
pub async fn login(
    app: &App,
    login: &str,
    password: &str,
    address: &str,
) -> Result<NewSession, AppError> {
    let user = check_login(app, login, password, address).await?;
    let token = random_token()?;
    let csrf_token = random_token()?;
    let now = app.now();
    let expires_at = now
        .checked_add(SignedDuration::from_hours(SESSION_HOURS))
        .context("session expiry")?;
    let mut tx = app.store.begin().await?;
    users::create_session(
        &mut tx,
        &token_hash(&token),
        user.id,
        &csrf_token,
        now,
        expires_at,
    )
    .await?;
    tx.commit().await?;
    Ok(NewSession {
        token,
        csrf_token,
        expires_at,
    })
}

pub async fn logout(app: &App, token: &str) -> Result<(), AppError> {
    let mut tx = app.store.begin().await?;
    users::delete_session(&mut tx, &token_hash(token)).await?;
    Ok(tx.commit().await?)
}

fn actor_of(u: &User, name: String) -> Actor {
    Actor {
        shop_id: u.shop_id,
        user_id: Some(u.id),
        name,
        is_admin: u.role == Role::Admin,
    }
}

/// The operator behind a session cookie, and the session's CSRF token.
pub async fn session(app: &App, token: &str) -> Result<(Actor, String), AppError> {
    let s = users::session(&mut *app.store.read().await?, &token_hash(token), app.now())
        .await?
        .ok_or(AppError::Unauthenticated)?;
    Ok((actor_of(&s.user, s.user.name.clone()), s.csrf_token))
}

/// The user behind an API bearer token (live: neither revoked nor expired).
pub async fn api_actor(app: &App, token: &str) -> Result<Actor, AppError> {
    let (u, token_name) =
        users::by_token(&mut *app.store.read().await?, &token_hash(token), app.now())
            .await?
            .ok_or(AppError::Unauthenticated)?;
    let name = format!("{}（API: {token_name}）", u.name);
    Ok(actor_of(&u, name))
}

/// Issue an API token for a user who proves their password, from `address` (throttled like
/// a sign-in). The token is shown once; it lives until revoked, or `expires_in_days`.
pub async fn issue_token(
    app: &App,
    login: &str,
    password: &str,
    name: &str,
    expires_in_days: Option<u32>,
    address: &str,
) -> Result<String, AppError> {
    let expires = token_expiry(app, expires_in_days)?;
    let user = check_login(app, login, password, address).await?;
    create_token_for(app, user.id, name, expires).await
}

/// When a token given `days` to live expires.
pub fn token_expiry(app: &App, days: Option<u32>) -> Result<Option<Timestamp>, AppError> {
    match days {
        None => Ok(None),
        Some(d) if (1..=MAX_TOKEN_DAYS).contains(&d) => app
            .now()
            .checked_add(SignedDuration::from_hours(24 * i64::from(d)))
            .map(Some)
            .context("token expiry")
            .map_err(AppError::from),
        Some(_) => Err(Invalid::one(
            "expires_in_days",
            "out_of_range",
            format!("有効期間は1〜{MAX_TOKEN_DAYS}日で指定してください"),
        )
        .into()),
    }
}

pub async fn create_token_for(
    app: &App,
    user_id: i64,
    name: &str,
    expires_at: Option<Timestamp>,
) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Invalid::one(
            "name",
            "required",
            "トークン名を100文字以内で入力してください（改行などの制御文字は使えません）",
        )
        .into());
    }
    let token = format!("juchu_{}", random_token()?);
    let mut tx = app.store.begin().await?;
    users::create_token(
        &mut tx,
        user_id,
        name,
        &token_hash(&token),
        app.now(),
        expires_at,
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// An API token as its owner and the shop's admins see it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    /// The owner's login.
    pub login: String,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
}

impl From<users::TokenInfo> for TokenInfo {
    fn from(t: users::TokenInfo) -> TokenInfo {
        TokenInfo {
            id: t.id,
            login: t.login,
            name: t.name,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// The API tokens the actor may see: an admin, every user's of the shop; an operator, their
/// own. Never the tokens themselves.
pub async fn tokens(app: &App, actor: &Actor) -> Result<Vec<TokenInfo>, AppError> {
    let whose = if actor.is_admin { None } else { actor.user_id };
    if !actor.is_admin && whose.is_none() {
        return Err(AppError::Forbidden);
    }
    let list = users::tokens(&mut *app.store.read().await?, actor.shop_id, whose).await?;
    Ok(list.into_iter().map(TokenInfo::from).collect())
}

/// The API tokens of one user of the shop (admins, for 管理者の編集).
pub async fn tokens_of(app: &App, actor: &Actor, login: &str) -> Result<Vec<TokenInfo>, AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden);
    }
    let mut conn = app.store.read().await?;
    let user = users::by_login(&mut conn, login.trim())
        .await?
        .filter(|u| u.shop_id == actor.shop_id)
        .ok_or(AppError::NotFound("ユーザー"))?;
    let list = users::tokens(&mut conn, actor.shop_id, Some(user.id)).await?;
    Ok(list.into_iter().map(TokenInfo::from).collect())
}

/// Revoke an API token at once: an admin any of the shop's, an operator their own.
pub async fn revoke_token(app: &App, actor: &Actor, id: i64) -> Result<(), AppError> {
    let whose = if actor.is_admin { None } else { actor.user_id };
    if !actor.is_admin && whose.is_none() {
        return Err(AppError::Forbidden);
    }
    let mut tx = app.store.begin().await?;
    if !users::revoke_token(&mut tx, actor.shop_id, whose, id, app.now()).await? {
        return Err(AppError::NotFound("有効なAPIトークン"));
    }
    Ok(tx.commit().await?)
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub login: String,
    pub name: String,
    pub password: String,
    /// `admin` or `operator`
    pub role: String,
}

fn validate_user(u: &NewUser) -> Result<Role, Invalid> {
    let mut e = Invalid::default();
    let login = u.login.trim();
    if login.is_empty()
        || login.len() > 50
        || !login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        e.push(FieldError::new(
            "login",
            "invalid_login",
            "ログインIDは英数字と . _ - @ で50文字以内です",
        ));
    }
    if u.name.trim().is_empty() || u.name.chars().count() > 50 {
        e.push(FieldError::new(
            "name",
            "required",
            "名前を50文字以内で入力してください",
        ));
    }
    if u.password.chars().count() < MIN_PASSWORD_LEN {
        e.push(FieldError::new(
            "password",
            "too_short",
            format!("パスワードは{MIN_PASSWORD_LEN}文字以上にしてください"),
        ));
    }
    let role = Role::from_code(u.role.trim());
    if role.is_none() {
        e.push(FieldError::new(
            "role",
            "unknown_role",
            "権限は admin または operator です",
        ));
    }
    match role {
        Some(r) if e.is_empty() => Ok(r),
        _ => Err(e),
    }
}

/// Add an admin user to the actor's shop. Only admins manage users.
pub async fn add_user(app: &App, actor: &Actor, u: &NewUser) -> Result<i64, AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden);
    }
    add_user_to_shop(app, actor.shop_id, u).await
}

/// Add a user to a shop (the CLI and start-up use this; they act for the deployment).
pub async fn add_user_to_shop(app: &App, shop_id: i64, u: &NewUser) -> Result<i64, AppError> {
    let mut e = Invalid::default();
    let role = e.take(validate_user(u));
    if users::by_login(&mut *app.store.read().await?, u.login.trim())
        .await?
        .is_some()
    {
        e.push(FieldError::new(
            "login",
            "duplicate",
            "このログインIDはすでに使われています",
        ));
    }
    let role = match role {
        Some(r) if e.is_empty() => r,
        _ => return Err(e.into()),
    };
    let password = u.password.clone();
    let hash = hashing(move || hash_password(&password)).await??;
    let mut tx = app.store.begin().await?;
    let id = match users::create(
        &mut tx,
        shop_id,
        u.login.trim(),
        u.name.trim(),
        &hash,
        role,
        app.now(),
    )
    .await
    {
        Ok(id) => id,
        // Two admins adding the same login at once: the unique index decides.
        Err(err) if err.violates(Unique::UserLogin) => {
            return Err(
                Invalid::one("login", "duplicate", "このログインIDはすでに使われています").into(),
            );
        }
        Err(err) => return Err(err.into()),
    };
    tx.commit().await?;
    Ok(id)
}

pub async fn list_users(app: &App, actor: &Actor) -> Result<Vec<User>, AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden);
    }
    Ok(users::list(&mut *app.store.read().await?, actor.shop_id).await?)
}

/// An admin's change to a user of the shop: name, role, 利用停止, and a new password
/// (empty: unchanged).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    pub name: String,
    /// `admin` or `operator`
    pub role: String,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub password: String,
}

/// Change a user of the actor's shop. Admins only; nobody disables or demotes themselves,
/// so the shop always keeps the admin who is acting.
pub async fn update_user(
    app: &App,
    actor: &Actor,
    login: &str,
    c: &UserChange,
) -> Result<User, AppError> {
    if !actor.is_admin {
        return Err(AppError::Forbidden);
    }
    let mut e = Invalid::default();
    let name = c.name.trim();
    if name.is_empty() || name.chars().count() > 50 {
        e.push(FieldError::new(
            "name",
            "required",
            "名前を50文字以内で入力してください",
        ));
    }
    let role = Role::from_code(c.role.trim());
    if role.is_none() {
        e.push(FieldError::new(
            "role",
            "unknown_role",
            "権限は admin または operator です",
        ));
    }
    if !c.password.is_empty() && c.password.chars().count() < MIN_PASSWORD_LEN {
        e.push(FieldError::new(
            "password",
            "too_short",
            format!("パスワードは{MIN_PASSWORD_LEN}文字以上にしてください"),
        ));
    }
    let mut tx = app.store.begin().await?;
    let user = users::by_login(tx.conn(), login.trim())
        .await?
        .filter(|u| u.shop_id == actor.shop_id)
        .ok_or(AppError::NotFound("ユーザー"))?;
    if Some(user.id) == actor.user_id && (c.disabled || role != Some(Role::Admin)) {
        e.push(FieldError::new(
            "role",
            "self",
            "自分自身を利用停止にしたり、管理者でなくしたりはできません",
        ));
    }
    let role = match role {
        Some(r) if e.is_empty() => r,
        _ => return Err(e.into()),
    };
    users::update(&mut tx, user.id, name, role, c.disabled).await?;
    if !c.password.is_empty() {
        let password = c.password.clone();
        let hash = hashing(move || hash_password(&password)).await??;
        users::set_password(&mut tx, user.id, &hash).await?;
        // A new password ends every way in that the old one opened: the user's sessions
        // (the admin's own too, when it is theirs) and API tokens.
        users::end_access(&mut tx, user.id, None, app.now()).await?;
    }
    let updated = users::by_login(tx.conn(), login.trim())
        .await?
        .ok_or(AppError::NotFound("ユーザー"))?;
    tx.commit().await?;
    Ok(updated)
}

pub async fn set_password(app: &App, login: &str, password: &str) -> Result<(), AppError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Invalid::one(
            "password",
            "too_short",
            format!("パスワードは{MIN_PASSWORD_LEN}文字以上にしてください"),
        )
        .into());
    }
    let owned = password.to_owned();
    let hash = hashing(move || hash_password(&owned)).await??;
    let mut tx = app.store.begin().await?;
    let user = users::by_login(tx.conn(), login)
        .await?
        .ok_or(AppError::NotFound("ユーザー"))?;
    users::set_password(&mut tx, user.id, &hash).await?;
    users::end_access(&mut tx, user.id, None, app.now()).await?;
    Ok(tx.commit().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_dummy_parses() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn tokens_are_random_hex() {
        let a = random_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_token().unwrap());
        assert_eq!(token_hash("x").len(), 64);
    }
}

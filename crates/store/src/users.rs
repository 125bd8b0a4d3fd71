//! Admin users, their login sessions (UI) and API tokens. Secrets are stored only as hashes.

use jiff::Timestamp;
use juchu_domain::time::{from_db, to_db};
use sqlx::AnyConnection;

use crate::db::corrupt;
use crate::{StoreError, Tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Admin,
    Operator,
}

impl Role {
    pub fn code(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
        }
    }
    pub fn label(&self) -> &'static str {
        match self {
            Role::Admin => "管理者",
            Role::Operator => "オペレーター",
        }
    }
    pub fn from_code(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub shop_id: i64,
    pub login: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub password_hash: String,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    shop_id: i64,
    login: String,
    name: String,
    password_hash: String,
    role: String,
    disabled: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<User, StoreError> {
        Ok(User {
            id: r.id,
            shop_id: r.shop_id,
            login: r.login,
            name: r.name,
            role: Role::from_code(&r.role)
                .ok_or_else(|| crate::db::corrupt(format!("role {}", r.role)))?,
            disabled: r.disabled != 0,
            password_hash: r.password_hash,
        })
    }
}

const USER_COLS: &str = "u.id, u.shop_id, u.login, u.name, u.password_hash, u.role, u.disabled";

pub async fn create(
    tx: &mut Tx,
    shop_id: i64,
    login: &str,
    name: &str,
    password_hash: &str,
    role: Role,
    now: Timestamp,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO users (shop_id, login, name, password_hash, role, disabled, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6) RETURNING id",
    )
    .bind(shop_id)
    .bind(login.to_owned())
    .bind(name.to_owned())
    .bind(password_hash.to_owned())
    .bind(role.code())
    .bind(to_db(now))
    .fetch_one(tx.conn())
    .await?)
}

pub async fn by_login(conn: &mut AnyConnection, login: &str) -> Result<Option<User>, StoreError> {
    let r: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLS} FROM users u WHERE u.login = $1"
    ))
    .bind(login.to_owned())
    .fetch_optional(conn)
    .await?;
    r.map(User::try_from).transpose()
}

pub async fn list(conn: &mut AnyConnection, shop_id: i64) -> Result<Vec<User>, StoreError> {
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLS} FROM users u WHERE u.shop_id = $1 ORDER BY u.id"
    ))
    .bind(shop_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(User::try_from).collect()
}

pub async fn set_password(tx: &mut Tx, user_id: i64, hash: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash.to_owned())
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Name, role and whether the user may sign in; their sessions and API tokens stop working
/// while disabled (every lookup filters on it).
pub async fn update(
    tx: &mut Tx,
    user_id: i64,
    name: &str,
    role: Role,
    disabled: bool,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET name = $1, role = $2, disabled = $3 WHERE id = $4")
        .bind(name.to_owned())
        .bind(role.code())
        .bind(disabled as i64)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub struct Session {
    pub user: User,
    pub csrf_token: String,
}

pub async fn create_session(
    tx: &mut Tx,
    token_hash: &str,
    user_id: i64,
    csrf_token: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), StoreError> {
    // Expired sessions are swept whenever someone logs in.
    sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
        .bind(to_db(now))
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash.to_owned())
    .bind(user_id)
    .bind(csrf_token.to_owned())
    .bind(to_db(now))
    .bind(to_db(expires_at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    user: UserRow,
    csrf_token: String,
}

pub async fn session(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<Session>, StoreError> {
    let r: Option<SessionRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLS}, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled = 0"
    ))
    .bind(token_hash.to_owned())
    .bind(to_db(now))
    .fetch_optional(conn)
    .await?;
    r.map(|r| {
        Ok(Session {
            user: User::try_from(r.user)?,
            csrf_token: r.csrf_token,
        })
    })
    .transpose()
}

pub async fn delete_session(tx: &mut Tx, token_hash: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash.to_owned())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn create_token(
    tx: &mut Tx,
    user_id: i64,
    name: &str,
    token_hash: &str,
    now: Timestamp,
    expires_at: Option<Timestamp>,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(name.to_owned())
    .bind(token_hash.to_owned())
    .bind(to_db(now))
    .bind(expires_at.map(to_db))
    .fetch_one(tx.conn())
    .await?)
}

/// An API token as its owner and the shop's admins see it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i64,
    /// The owner's login.
    pub login: String,
    pub name: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// The API tokens of a shop's users (of one user when `user_id` is given), newest first.
pub async fn tokens(
    conn: &mut AnyConnection,
    shop_id: i64,
    user_id: Option<i64>,
) -> Result<Vec<TokenInfo>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        login: String,
        name: String,
        created_at: String,
        expires_at: Option<String>,
        revoked_at: Option<String>,
    }
    // Every user's, or one user's.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT t.id, u.login, t.name, t.created_at, t.expires_at, t.revoked_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE u.shop_id = $1 AND ($2 = 0 OR u.id = $3) ORDER BY t.id DESC",
    )
    .bind(shop_id)
    .bind(i64::from(user_id.is_some()))
    .bind(user_id.unwrap_or(-1))
    .fetch_all(conn)
    .await?;
    let ts = |s: &str| from_db(s).map_err(|e| corrupt(format!("instant {s}: {e}")));
    rows.into_iter()
        .map(|r| {
            Ok(TokenInfo {
                id: r.id,
                login: r.login,
                name: r.name,
                created_at: ts(&r.created_at)?,
                expires_at: r.expires_at.as_deref().map(ts).transpose()?,
                revoked_at: r.revoked_at.as_deref().map(ts).transpose()?,
            })
        })
        .collect()
}

/// Revoke the token `id` of the shop (of the user `user_id` when given); `false` when there
/// is no such live token.
pub async fn revoke_token(
    tx: &mut Tx,
    shop_id: i64,
    user_id: Option<i64>,
    id: i64,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
         AND user_id IN (SELECT id FROM users WHERE shop_id = $3 AND ($4 = 0 OR id = $5))",
    )
    .bind(to_db(now))
    .bind(id)
    .bind(shop_id)
    .bind(i64::from(user_id.is_some()))
    .bind(user_id.unwrap_or(-1))
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// End a user's sessions (but `keep`, the session of the one acting) and revoke their API
/// tokens: what a new password does. The number of each ended.
pub async fn end_access(
    tx: &mut Tx,
    user_id: i64,
    keep: Option<&str>,
    now: Timestamp,
) -> Result<(u64, u64), StoreError> {
    let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user_id)
        .bind(keep.unwrap_or("").to_owned())
        .execute(tx.conn())
        .await?
        .rows_affected();
    let tokens = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(to_db(now))
    .bind(user_id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok((sessions, tokens))
}

/// Keep a failed sign-in.
pub async fn record_login_failure(
    tx: &mut Tx,
    login: &str,
    address: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO login_failures (login, address, at) VALUES ($1, $2, $3)")
        .bind(login.to_owned())
        .bind(address.to_owned())
        .bind(to_db(at))
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// When the failures since `since` of `login` and of `address` were, newest first (at most
/// `limit` each).
pub async fn login_failures(
    conn: &mut AnyConnection,
    login: &str,
    address: &str,
    since: Timestamp,
    limit: i64,
) -> Result<(Vec<Timestamp>, Vec<Timestamp>), StoreError> {
    let mut out = vec![];
    for (col, v) in [("login", login), ("address", address)] {
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT at FROM login_failures WHERE {col} = $1 AND at > $2 ORDER BY at DESC LIMIT $3"
        ))
        .bind(v.to_owned())
        .bind(to_db(since))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        out.push(
            rows.iter()
                .map(|s| from_db(s).map_err(|e| corrupt(format!("instant {s}: {e}"))))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    let address = out.pop().unwrap_or_default();
    let login = out.pop().unwrap_or_default();
    Ok((login, address))
}

/// A sign-in went through: the login's failures no longer count.
pub async fn clear_login_failures(tx: &mut Tx, login: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_failures WHERE login = $1")
        .bind(login.to_owned())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The user behind a live API token, and the token's name.
pub async fn by_token(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<(User, String)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Rec {
        #[sqlx(flatten)]
        user: UserRow,
        token_name: String,
    }
    let r: Option<Rec> = sqlx::query_as(&format!(
        "SELECT {USER_COLS}, t.name AS token_name FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled = 0 \
         AND (t.expires_at IS NULL OR t.expires_at > $2)"
    ))
    .bind(token_hash.to_owned())
    .bind(to_db(now))
    .fetch_optional(conn)
    .await?;
    r.map(|r| Ok((User::try_from(r.user)?, r.token_name)))
        .transpose()
}

//! Admin users, their login sessions (UI) and API tokens. Secrets are stored only as hashes.

use jiff::Timestamp;
use juchu_domain::time::to_db;
use sqlx::AnyConnection;

use crate::{StoreError, Tx};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
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

#[derive(Debug, Clone, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub shop_id: i64,
    pub login: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    #[serde(skip)]
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
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(user_id)
    .bind(name.to_owned())
    .bind(token_hash.to_owned())
    .bind(to_db(now))
    .fetch_one(tx.conn())
    .await?)
}

/// The user behind a live API token, and the token's name.
pub async fn by_token(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<(User, String)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Rec {
        #[sqlx(flatten)]
        user: UserRow,
        token_name: String,
    }
    let r: Option<Rec> = sqlx::query_as(&format!(
        "SELECT {USER_COLS}, t.name AS token_name FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled = 0"
    ))
    .bind(token_hash.to_owned())
    .fetch_optional(conn)
    .await?;
    r.map(|r| Ok((User::try_from(r.user)?, r.token_name)))
        .transpose()
}

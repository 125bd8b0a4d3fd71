//! 管理者の編集 (admins only): a user's name, role, 利用停止 and a new password, and the
//! user's API tokens (each revoked at once with 無効にする).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use juchu_app::AppError;
use juchu_app::access::{self, UserChange};
use minijinja::context;
use serde::Deserialize;
use serde::de::IgnoredAny;

use juchu_domain::time::format_jst_minute;

use super::CsrfForm;
use super::pages::{base, page_ctx, unprocessable};
use super::{Session, error_page, url_escape};
use crate::AppState;

async fn page(
    s: &AppState,
    sess: &Session,
    login: &str,
    c: &UserChange,
    errors: BTreeMap<String, String>,
    done: Option<&str>,
) -> Response {
    let tokens = match access::tokens_of(&s.app, &sess.actor, login).await {
        Ok(t) => t,
        Err(e) => return error_page(s, &e),
    };
    let now = s.app.now();
    let tokens: Vec<_> = tokens
        .iter()
        .map(|t| {
            let live = t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now);
            context! {
                id => t.id, name => t.name.clone(),
                created => format_jst_minute(t.created_at),
                expires => t.expires_at.map(format_jst_minute).unwrap_or_else(|| "なし".to_owned()),
                state => match (t.revoked_at, live) {
                    (Some(r), _) => format!("無効（{}）", format_jst_minute(r)),
                    (None, false) => "期限切れ".to_owned(),
                    (None, true) => "有効".to_owned(),
                },
                live => live,
            }
        })
        .collect();
    s.ui.render(
        "user.html",
        page_ctx(
            base(sess, "settings"),
            context! {
                login => login, name => c.name.clone(), role => c.role.clone(), disabled => c.disabled,
                errors => errors, tokens => tokens, done => done,
            },
        ),
    )
}

pub async fn edit(
    State(s): State<AppState>,
    sess: Session,
    Path(login): Path<String>,
    axum::extract::Query(q): axum::extract::Query<Done>,
) -> Response {
    let users = match access::list_users(&s.app, &sess.actor).await {
        Ok(u) => u,
        Err(e) => return error_page(&s, &e),
    };
    match users.into_iter().find(|u| u.login == login) {
        Some(u) => {
            let c = UserChange {
                name: u.name,
                role: u.role.code().to_owned(),
                disabled: u.disabled,
                password: String::new(),
            };
            page(&s, &sess, &login, &c, BTreeMap::new(), q.done.as_deref()).await
        }
        None => error_page(&s, &AppError::NotFound("ユーザー")),
    }
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// 無効にする: one API token of the user, at once.
pub async fn revoke_token(
    State(s): State<AppState>,
    Path((login, id)): Path<(String, i64)>,
    CsrfForm(sess, _): CsrfForm<IgnoredAny>,
) -> Response {
    // Only a token of this user: the page it was pressed on.
    let owned = match access::tokens_of(&s.app, &sess.actor, &login).await {
        Ok(t) => t.into_iter().find(|t| t.id == id),
        Err(e) => return error_page(&s, &e),
    };
    let Some(t) = owned else {
        return error_page(&s, &AppError::NotFound("APIトークン"));
    };
    match access::revoke_token(&s.app, &sess.actor, id).await {
        Ok(()) => {
            let msg = format!("APIトークン「{}」を無効にしました", t.name);
            Redirect::to(&format!(
                "/admin/settings/users/{}?done={}",
                url_escape(&login),
                url_escape(&msg)
            ))
            .into_response()
        }
        Err(e) => error_page(&s, &e),
    }
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    disabled: Option<String>,
    #[serde(default)]
    password: String,
}

pub async fn save(
    State(s): State<AppState>,
    Path(login): Path<String>,
    CsrfForm(sess, f): CsrfForm<UserForm>,
) -> Response {
    let c = UserChange {
        name: f.name,
        role: f.role,
        disabled: f.disabled.is_some(),
        password: f.password,
    };
    match access::update_user(&s.app, &sess.actor, &login, &c).await {
        Ok(u) => {
            let state = if u.disabled { "利用停止" } else { "有効" };
            let msg = format!(
                "管理者「{}」（{}）を保存しました（{}・{}）",
                u.name,
                u.login,
                u.role.label(),
                state
            );
            Redirect::to(&format!("/admin/settings?done={}", url_escape(&msg))).into_response()
        }
        Err(AppError::Invalid(i)) => {
            let errors = i.0.into_iter().map(|e| (e.field, e.message)).collect();
            let shown = UserChange {
                password: String::new(),
                ..c
            };
            unprocessable(page(&s, &sess, &login, &shown, errors, None).await)
        }
        Err(e) => error_page(&s, &e),
    }
}

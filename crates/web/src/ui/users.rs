//! 管理者の編集 (admins only): a user's name, role, 利用停止 and a new password.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use juchu_app::AppError;
use juchu_app::access::{self, UserChange};
use minijinja::context;
use serde::Deserialize;

use super::pages::{base, csrf_refusal, page_ctx, unprocessable};
use super::{Session, error_page, url_escape};
use crate::AppState;

fn page(
    s: &AppState,
    sess: &Session,
    login: &str,
    c: &UserChange,
    errors: BTreeMap<String, String>,
) -> Response {
    s.ui.render(
        "user.html",
        page_ctx(
            base(sess, "settings"),
            context! {
                login => login, name => c.name.clone(), role => c.role.clone(), disabled => c.disabled,
                errors => errors,
            },
        ),
    )
}

pub async fn edit(State(s): State<AppState>, sess: Session, Path(login): Path<String>) -> Response {
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
            page(&s, &sess, &login, &c, BTreeMap::new())
        }
        None => error_page(&s, &AppError::NotFound("ユーザー")),
    }
}

#[derive(Deserialize)]
pub struct UserForm {
    csrf: String,
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
    sess: Session,
    Path(login): Path<String>,
    Form(f): Form<UserForm>,
) -> Response {
    if let Some(r) = csrf_refusal(&s, &sess, &f.csrf) {
        return r;
    }
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
            unprocessable(page(&s, &sess, &login, &shown, errors))
        }
        Err(e) => error_page(&s, &e),
    }
}

//! Text that reaches juchu carries no control characters: a NUL byte in a search box, a mail
//! template or a token name once reached PostgreSQL (which refuses NUL in text) as a 500,
//! while SQLite stored it. Every query string, form and JSON body of the API, the admin and
//! the storefront is looked at once, here, and such a value is refused with its field named —
//! the same on both databases. Tab, line feed and carriage return stay allowed (mail bodies,
//! 備考). Gateway notifications are not looked at: they are parsed by their own rules.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use juchu_app::AppError;
use juchu_domain::Invalid;
use juchu_wire::form::{self, Charset};
use serde_json::Value;

use crate::AppState;

/// A body declared larger than [`crate::MAX_BODY`] is refused before any of it is read, so
/// a client announcing gigabytes it never sends holds no connection.
pub async fn declared_size(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > crate::MAX_BODY as u64) {
        return too_large();
    }
    next.run(req).await
}

fn too_large() -> Response {
    crate::error::body(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!(
            "リクエストが大きすぎます（{}MBまで）",
            crate::MAX_BODY / 1024 / 1024
        ),
        vec![],
    )
}

fn is_refused(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// The first field (`name`, `items[2].title`) whose text holds a refused character.
fn in_pairs(pairs: &[(String, String)]) -> Option<String> {
    pairs
        .iter()
        .find(|(k, v)| k.chars().any(is_refused) || v.chars().any(is_refused))
        .map(|(k, _)| k.chars().filter(|c| !is_refused(*c)).collect())
}

fn in_json(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::String(s) if s.chars().any(is_refused) => Some(path.to_owned()),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| in_json(x, &format!("{path}[{i}]"))),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            if k.chars().any(is_refused) {
                return Some(path.to_owned());
            }
            in_json(
                x,
                &if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                },
            )
        }),
        _ => None,
    }
}

fn refusal(s: &AppState, api: bool, field: String) -> Response {
    let e = AppError::Invalid(Invalid::one(
        field,
        "control_character",
        "制御文字（NULなど）は入力できません",
    ));
    if api {
        crate::ApiError(e).into_response()
    } else {
        crate::ui::error_page(s, &e)
    }
}

/// For the JSON API: the refusal is the API's error body.
pub async fn api(State(s): State<AppState>, req: Request, next: Next) -> Response {
    refuse(&s, true, req, next).await
}

/// For the admin screens and the storefront: the refusal is an error page.
pub async fn pages(State(s): State<AppState>, req: Request, next: Next) -> Response {
    refuse(&s, false, req, next).await
}

async fn refuse(s: &AppState, api: bool, req: Request, next: Next) -> Response {
    if let Some(q) = req.uri().query()
        && let Some(field) = in_pairs(&form::decode(q.as_bytes(), Charset::Utf8))
    {
        return refusal(s, api, field);
    }
    let kind = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json = kind.starts_with("application/json");
    let urlencoded = kind.starts_with("application/x-www-form-urlencoded");
    if !json && !urlencoded {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, crate::MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return too_large(),
    };
    let found = if json {
        // Not JSON at all: the handler's extractor says so in its own words.
        serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| in_json(&v, ""))
    } else {
        in_pairs(&form::decode(&bytes, Charset::Utf8))
    };
    if let Some(field) = found {
        return refusal(s, api, field);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_field_with_a_control_character() {
        let v: Value = serde_json::from_str(
            r#"{"customer": {"family_name": "山田\u0000"}, "items": [{"title": "ok"}, {"title": "a\u0007"}]}"#,
        )
        .unwrap();
        assert_eq!(in_json(&v, "").as_deref(), Some("customer.family_name"));
        let v: Value =
            serde_json::from_str(r#"{"items": [{"title": "ok"}, {"title": "a\u0007"}]}"#).unwrap();
        assert_eq!(in_json(&v, "").as_deref(), Some("items[1].title"));
        let v: Value = serde_json::from_str(r#"{"body": "一行目\r\n二行目\tタブ"}"#).unwrap();
        assert_eq!(in_json(&v, ""), None);
        let pairs = form::decode(b"name=a%00b&ok=1", Charset::Utf8);
        assert_eq!(in_pairs(&pairs).as_deref(), Some("name"));
        assert_eq!(
            in_pairs(&form::decode(b"memo=a%0D%0Ab", Charset::Utf8)),
            None
        );
        assert!(is_refused('\u{85}') && is_refused('\u{7f}'));
    }
}

//! CSRF for the HTML forms, admin and storefront alike: every POST form carries a `csrf`
//! field that a page of another site cannot know, compared in constant time here and only
//! here. The extractors built on [`read`] (`ui::CsrfForm`, `storefront::Posted`) check it
//! before the handler runs, so a handler that takes one cannot forget to.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Token and expected token equal, looking at every byte whatever the first difference (the
/// time taken tells nothing of how much of a guess was right).
pub fn same(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Token {
    csrf: String,
}

/// A form body read once: its `csrf` field (empty when missing) and the form itself, or
/// axum's answer when the body is not the form (422, or 415 without the form content type).
/// The form type needs no `csrf` field of its own. Callers check the token before they look
/// at the form, so a forged request is refused whatever it sent.
pub async fn read<T: DeserializeOwned>(
    parts: &Parts,
    body: Body,
) -> Result<(String, Result<T, Response>), Response> {
    let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), &())
        .await
        .map_err(IntoResponse::into_response)?;
    let again = |bytes: Bytes| Request::from_parts(parts.clone(), Body::from(bytes));
    let token = Form::<Token>::from_request(again(bytes.clone()), &())
        .await
        .map(|Form(t)| t.csrf)
        .unwrap_or_default();
    let form = Form::<T>::from_request(again(bytes), &())
        .await
        .map(|Form(f)| f)
        .map_err(IntoResponse::into_response);
    Ok((token, form))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_compares_every_byte() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "abc"));
    }
}

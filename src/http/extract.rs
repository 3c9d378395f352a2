//! Reading what a client sent: its token, its body, its query string.
//!
//! OpenBao's rules, which clients rely on: the body is JSON whatever the Content-Type says
//! (Kong sends none), except a urlencoded form whose body does not start with `{` or `[`;
//! an empty body or `null` means no data; the query string of a GET or DELETE is data, one
//! value as a string and a repeated key as a list.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use serde_json::{Map, Value};

use super::ApiError;
use crate::logical::Data;

/// The client token: `X-Vault-Token`, else `Authorization: Bearer`.
pub(crate) fn token(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("x-vault-token").and_then(|v| v.to_str().ok()) {
        if !v.is_empty() {
            return Some(v.to_owned());
        }
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The body, refused past `limit` bytes.
pub(crate) async fn body_bytes(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // The only error `to_bytes` reports with a limit set, other than a broken
        // connection, is the limit itself.
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
        {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest(format!("failed to read request body: {e}"))
        }
    })
}

/// Request data from a body; `None` for an empty body or `null`.
pub(crate) fn body_data(headers: &HeaderMap, bytes: &[u8]) -> Result<Option<Data>, ApiError> {
    let first = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let Some(first) = first else { return Ok(None) };
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if is_form && bytes[first] != b'{' && bytes[first] != b'[' {
        return Ok(Some(form_data(bytes)));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Null) => Ok(None),
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(other) => Err(ApiError::BadRequest(format!(
            "failed to decode JSON input: expected a JSON object, got {}",
            kind_of(&other)
        ))),
        Err(e) => Err(ApiError::BadRequest(format!(
            "failed to decode JSON input: {e}"
        ))),
    }
}

/// Query or form pairs as data: one value is a string, a repeated key a list.
pub(crate) fn form_data(bytes: &[u8]) -> Data {
    let mut data = Map::new();
    for (k, v) in form_urlencoded::parse(bytes) {
        let v = Value::String(v.into_owned());
        match data.get_mut(k.as_ref()) {
            None => {
                data.insert(k.into_owned(), v);
            }
            Some(Value::Array(list)) => list.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
        }
    }
    data
}

/// Decode request data into a typed struct, with OpenBao's error prefix.
pub(crate) fn typed<T: serde::de::DeserializeOwned + Default>(
    data: Option<Data>,
) -> Result<T, ApiError> {
    match data {
        None => Ok(T::default()),
        Some(map) => serde_json::from_value(Value::Object(map))
            .map_err(|e| ApiError::BadRequest(format!("failed to decode JSON input: {e}"))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header"));
        }
        h
    }

    #[test]
    fn token_sources_and_priority() {
        assert_eq!(
            token(&headers(&[("x-vault-token", "a")])).as_deref(),
            Some("a")
        );
        assert_eq!(
            token(&headers(&[("authorization", "Bearer b")])).as_deref(),
            Some("b")
        );
        assert_eq!(
            token(&headers(&[
                ("x-vault-token", "a"),
                ("authorization", "Bearer b")
            ]))
            .as_deref(),
            Some("a")
        );
        assert_eq!(token(&headers(&[("authorization", "Basic Zm9v")])), None);
        assert_eq!(token(&headers(&[])), None);
    }

    #[test]
    fn bodies_are_json_whatever_the_content_type() {
        let none = HeaderMap::new();
        assert!(body_data(&none, b"").expect("empty").is_none());
        assert!(body_data(&none, b" null ").expect("null").is_none());
        assert_eq!(
            body_data(&none, br#"{"a":1}"#)
                .expect("json")
                .expect("some")["a"],
            1
        );
        let form = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        assert_eq!(
            body_data(&form, br#"{"a":1}"#)
                .expect("json")
                .expect("some")["a"],
            1
        );
        assert_eq!(
            body_data(&form, b"a=1&a=2&b=x")
                .expect("form")
                .expect("some")["a"],
            serde_json::json!(["1", "2"])
        );
        assert!(body_data(&none, b"{bad").is_err());
        assert!(body_data(&none, b"[1,2]").is_err());
    }
}

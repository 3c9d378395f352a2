//! Every `/v1/` path that is not a raw `sys/` handler: HTTP in, logical request to the core,
//! Vault envelope out.

use axum::body::Body as HttpBody;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use super::extract::{body_bytes, body_data, form_data, token};
use super::{json_response, no_content, ApiError, AppState, RequestId};
use crate::logical::{Auth, Body, Data, Operation, Request, WrapInfo};

const MERGE_PATCH: &str = "application/merge-patch+json";

/// The standard envelope, fields in OpenBao's order.
#[derive(Serialize)]
struct Envelope<'a> {
    request_id: &'a str,
    lease_id: &'a str,
    renewable: bool,
    lease_duration: u64,
    data: Option<Data>,
    wrap_info: Option<&'a WrapInfo>,
    warnings: Option<Vec<String>>,
    auth: Option<&'a Auth>,
}

pub(super) async fn handle(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    connection: Option<Extension<std::sync::Arc<crate::logical::Connection>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: HttpBody,
) -> Result<Response, ApiError> {
    let mut path = logical_path(&uri)?;
    let mut query = uri
        .query()
        .map(|q| form_data(q.as_bytes()))
        .unwrap_or_default();
    let op = operation(&method, &mut query, &headers)?;
    let data = match op {
        Operation::Read | Operation::List | Operation::Delete => query,
        Operation::Create | Operation::Update | Operation::Patch => {
            let bytes = body_bytes(body, state.max_request_size).await?;
            body_data(&headers, &bytes)?.unwrap_or_default()
        }
    };
    if op == Operation::List {
        if !path.ends_with('/') {
            path.push('/');
        }
    } else if op.is_write() && path.ends_with('/') {
        return Err(ApiError::BadRequest(
            "cannot write to a path ending in '/'".into(),
        ));
    }
    let req = Request {
        op,
        path,
        data,
        token: token(&headers),
        wrap_ttl: wrap_ttl(&headers)?,
        // Requests served by the test harness's in-process router have no connection.
        connection: connection.map(|Extension(c)| c).unwrap_or_default(),
    };
    let resp = state.core.handle(req).await?;
    let (status, data) = match resp.body {
        Body::NoContent
            if resp.warnings.is_empty() && resp.auth.is_none() && resp.wrap_info.is_none() =>
        {
            return Ok(no_content())
        }
        Body::NoContent => (StatusCode::OK, None),
        Body::Data(d) => (StatusCode::OK, Some(d)),
        Body::Accepted => (StatusCode::ACCEPTED, None),
        Body::NotFound => return Err(ApiError::Core(crate::core::Error::NotFound)),
        Body::Missing => return Ok(empty(StatusCode::NOT_FOUND)),
        Body::Gone(d) => (StatusCode::NOT_FOUND, d),
        Body::Status(code, d) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Some(d),
        ),
    };
    // A list that found nothing is a 404, as OpenBao answers it.
    if op == Operation::List && data.as_ref().is_some_and(is_empty_list) {
        return Err(ApiError::Core(crate::core::Error::NotFound));
    }
    let top_level = match (&data, resp.data_at_top_level) {
        (Some(d), true) => Some(d.clone()),
        _ => None,
    };
    // A wrapped answer carries no request id, as OpenBao's.
    let request_id = match resp.wrap_info {
        Some(_) => "",
        None => request_id.as_str(),
    };
    let envelope = Envelope {
        request_id,
        lease_id: &resp.lease_id,
        renewable: resp.renewable,
        lease_duration: resp.lease_duration,
        data,
        wrap_info: resp.wrap_info.as_ref(),
        warnings: (!resp.warnings.is_empty()).then_some(resp.warnings),
        auth: resp.auth.as_ref(),
    };
    Ok(match top_level {
        None => json_response(status, &envelope),
        Some(copy) => legacy_response(status, &copy, &envelope),
    })
}

/// The path below `/v1/`, percent-decoded as Go's server decodes it (`%2F` is `/`).
/// Dot segments and empty segments are refused: a client that sends `a/../b` or `a//b`
/// means a path it did not write, and a proxy in front of us may resolve it differently,
/// so no answer would be safe. (OpenBao redirects to the cleaned path; docs/compat.md.)
fn logical_path(uri: &Uri) -> Result<String, ApiError> {
    let raw = uri.path().strip_prefix("/v1/").unwrap_or_default();
    let path = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| ApiError::BadRequest("invalid path: not valid UTF-8".into()))?;
    let body = path.strip_suffix('/').unwrap_or(&path);
    let segments = || body.split('/');
    // OpenBao's own text for the percent-encoded dot segments that reach its router.
    if segments().any(|seg| seg == ".." || seg == ".") {
        return Err(ApiError::BadRequest("relative paths not supported".into()));
    }
    if path.starts_with('/') || (!body.is_empty() && segments().any(str::is_empty)) {
        return Err(ApiError::BadRequest(
            "empty path segments are not supported".into(),
        ));
    }
    Ok(path.into_owned())
}

/// A status with no body (still typed `application/json` by the common layer).
fn empty(status: StatusCode) -> Response {
    let mut resp = no_content();
    *resp.status_mut() = status;
    resp
}

fn is_empty_list(d: &Data) -> bool {
    d.len() == 1
        && d.get("keys")
            .is_some_and(|k| k.as_array().is_some_and(Vec::is_empty))
}

/// OpenBao's legacy `sys/` shape: `data`'s entries first, at the top level, then the
/// envelope's fields in their usual order.
fn legacy_response(status: StatusCode, copy: &Data, envelope: &Envelope<'_>) -> Response {
    let (Ok(copy), Ok(env)) = (serde_json::to_vec(copy), serde_json::to_vec(envelope)) else {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &serde_json::json!({"errors": []}),
        );
    };
    // Two serialised objects, `{a}` and `{b}`, become `{a,b}`.
    let mut out = copy;
    out.pop();
    if out.len() > 1 {
        out.push(b',');
    }
    out.extend_from_slice(&env[1..]);
    out.push(b'\n');
    let mut resp = Response::new(HttpBody::from(out));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// HTTP verb (and `?list=`) to logical operation.
fn operation(
    method: &Method,
    query: &mut Data,
    headers: &HeaderMap,
) -> Result<Operation, ApiError> {
    match method.as_str() {
        "GET" => match query.remove("list") {
            None => Ok(Operation::Read),
            Some(Value::String(v)) => match v.as_str() {
                "true" | "1" | "t" | "T" | "TRUE" | "True" => Ok(Operation::List),
                "false" | "0" | "f" | "F" | "FALSE" | "False" => Ok(Operation::Read),
                _ => Err(ApiError::BadRequestBare),
            },
            Some(_) => Err(ApiError::BadRequestBare),
        },
        "LIST" => Ok(Operation::List),
        "POST" | "PUT" => Ok(Operation::Update),
        "DELETE" => Ok(Operation::Delete),
        "PATCH" => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if ct.split(';').next().map(str::trim) == Some(MERGE_PATCH) {
                Ok(Operation::Patch)
            } else {
                Err(ApiError::UnsupportedMediaType(format!(
                    "PATCH requires Content-Type of {MERGE_PATCH}, provided {ct}"
                )))
            }
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// `X-Vault-Wrap-TTL`: a Go duration or whole seconds, as OpenBao parses it.
fn wrap_ttl(headers: &HeaderMap) -> Result<Option<std::time::Duration>, ApiError> {
    let Some(raw) = headers.get("x-vault-wrap-ttl") else {
        return Ok(None);
    };
    let raw = raw.to_str().unwrap_or_default().trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let ttl = crate::engine::fields::duration_value(&Value::String(raw.to_owned()))
        .map_err(|e| ApiError::BadRequest(format!("error parsing X-Vault-Wrap-TTL header: {e}")))?;
    Ok((!ttl.is_zero()).then_some(ttl))
}

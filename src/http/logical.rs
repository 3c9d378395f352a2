//! Every `/v1/` path that is not a raw `sys/` handler: HTTP in, logical request to the core,
//! Vault envelope out.

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use super::extract::{body_bytes, body_data, form_data, token};
use super::{json_response, no_content, ApiError, AppState, RequestId};
use crate::logical::{Data, Operation, Request};

const MERGE_PATCH: &str = "application/merge-patch+json";

/// The standard envelope, fields in OpenBao's order.
#[derive(Serialize)]
struct Envelope<'a> {
    request_id: &'a str,
    lease_id: &'a str,
    renewable: bool,
    lease_duration: u64,
    data: Option<Data>,
    wrap_info: Option<Value>,
    warnings: Option<Vec<String>>,
    auth: Option<Value>,
}

pub(super) async fn handle(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut path = uri
        .path()
        .strip_prefix("/v1/")
        .unwrap_or_default()
        .to_owned();
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
    } else if matches!(op, Operation::Create | Operation::Update | Operation::Patch)
        && path.ends_with('/')
    {
        return Err(ApiError::BadRequest(
            "cannot write to a path ending in '/'".into(),
        ));
    }
    let req = Request {
        op,
        path,
        data,
        token: token(&headers),
    };
    let resp = state.core.handle(req).await?;
    if resp.is_empty() {
        return Ok(no_content());
    }
    let envelope = Envelope {
        request_id: &request_id,
        lease_id: "",
        renewable: false,
        lease_duration: 0,
        data: resp.data,
        wrap_info: None,
        warnings: (!resp.warnings.is_empty()).then_some(resp.warnings),
        auth: None,
    };
    Ok(json_response(StatusCode::OK, &envelope))
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

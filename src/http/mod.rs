//! HTTP: axum routes and the layers around them. Thin by design.
//!
//! Knows HTTP and JSON; knows no storage, policy or engine. Handlers turn HTTP into calls on
//! [`Core`](crate::core::Core) and its answers back into OpenBao's wire shapes.
//!
//! Routes: the raw `sys/` handlers that work while sealed (`http::sys`), then everything
//! else under `/v1/` as a logical request (`http::logical`).

mod error;
mod extract;
pub(crate) mod listener;
mod logical;
mod sys;

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use tracing::Instrument;

pub(crate) use error::ApiError;

use crate::core::Core;

/// Per-listener settings the handlers need.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) core: Core,
    pub(crate) max_request_size: usize,
    pub(crate) max_request_duration: Duration,
}

/// The id of one request, for logs; OpenBao's envelope carries the same kind of UUID.
#[derive(Clone, Debug)]
pub(crate) struct RequestId(pub(crate) String);

/// The whole API for one listener.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/sys/init", any(sys::init))
        .route("/v1/sys/unseal", any(sys::unseal))
        .route("/v1/sys/seal", any(sys::seal))
        .route("/v1/sys/seal-status", any(sys::seal_status))
        .route("/v1/sys/health", any(sys::health))
        .route("/v1/sys/leader", any(sys::leader))
        .route("/v1/{*path}", any(logical::handle))
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn_with_state(state.clone(), common))
        .with_state(state)
}

/// The layer every request passes: request id, tracing span, deadline, and the headers
/// OpenBao sends on every answer.
async fn common(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    // The path only: query strings and bodies can carry secrets and never reach the logs.
    let span =
        tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path());
    let mut resp = match tokio::time::timeout(
        state.max_request_duration,
        next.run(req).instrument(span.clone()),
    )
    .await
    {
        Ok(resp) => resp,
        Err(_) => ApiError::Timeout.into_response(),
    };
    span.in_scope(|| tracing::debug!(status = resp.status().as_u16(), "done"));
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A JSON body as Go's encoder writes it (with a trailing newline), typed exactly
/// `application/json`.
pub(crate) fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response {
    let mut bytes = match serde_json::to_vec(value) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "response serialisation failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    bytes.push(b'\n');
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An empty 204.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests;

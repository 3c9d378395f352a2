//! The one place that chooses HTTP status codes.
//!
//! Every failure becomes `{"errors":[...]}` with `Content-Type: application/json` exactly
//! (hvac parses errors only under that exact type). Internal details are logged with the
//! request id and never sent to the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::json_response;
use crate::core;
use crate::logical::multierror as wrap;

/// OpenBao wraps logical errors in go-multierror's text.
fn multierror(msg: &str) -> String {
    wrap(&[msg.to_owned()])
}

/// An error on its way to the client.
#[derive(Debug)]
pub(crate) enum ApiError {
    Core(core::Error),
    /// The body or query could not be understood.
    BadRequest(String),
    /// A 400 with an empty error list, as OpenBao answers malformed `sys/health` parameters.
    BadRequestBare,
    MethodNotAllowed,
    UnsupportedMediaType(String),
    PayloadTooLarge,
    NotFound,
    Timeout,
}

impl From<core::Error> for ApiError {
    fn from(e: core::Error) -> Self {
        ApiError::Core(e)
    }
}

impl ApiError {
    fn status_and_errors(&self) -> (StatusCode, Vec<String>) {
        use core::Error as E;
        match self {
            ApiError::Core(e) => match e {
                E::Sealed => (StatusCode::SERVICE_UNAVAILABLE, vec![e.to_string()]),
                E::NotInitialized | E::AlreadyInitialized | E::InvalidRequest(_) => {
                    (StatusCode::BAD_REQUEST, vec![e.to_string()])
                }
                E::PermissionDenied | E::Forbidden(_) => {
                    (StatusCode::FORBIDDEN, vec![e.to_string()])
                }
                E::AclDenied => (StatusCode::FORBIDDEN, vec![multierror(&e.to_string())]),
                E::NoHandler(_) => (StatusCode::NOT_FOUND, vec![e.to_string()]),
                E::Failed(msg) => (StatusCode::INTERNAL_SERVER_ERROR, vec![msg.clone()]),
                E::UnsupportedPath => (StatusCode::NOT_FOUND, vec![multierror(&e.to_string())]),
                E::UnsupportedOperation => (
                    StatusCode::METHOD_NOT_ALLOWED,
                    vec![multierror(&e.to_string())],
                ),
                E::NotFound => (StatusCode::NOT_FOUND, vec![]),
                E::Internal(detail) => {
                    tracing::error!(error = %detail, "internal error");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        vec![multierror("internal error")],
                    )
                }
            },
            ApiError::BadRequest(msg) => (StatusCode::BAD_REQUEST, vec![msg.clone()]),
            ApiError::BadRequestBare => (StatusCode::BAD_REQUEST, vec![]),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, vec![]),
            ApiError::UnsupportedMediaType(msg) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, vec![msg.clone()])
            }
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                vec!["http: request body too large".into()],
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, vec![]),
            ApiError::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                vec!["context deadline exceeded".into()],
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, errors) = self.status_and_errors();
        json_response(status, &serde_json::json!({ "errors": errors }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_are_not_sent() {
        let (status, errors) =
            ApiError::Core(core::Error::Internal("disk /secret/path broke".into()))
                .status_and_errors();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!errors.concat().contains("/secret/path"));
    }

    #[test]
    fn no_handler_text_matches_openbao() {
        let (status, errors) =
            ApiError::Core(core::Error::NoHandler("x/y".into())).status_and_errors();
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            errors,
            vec!["no handler for route \"x/y\". route entry not found.".to_string()]
        );
    }
}

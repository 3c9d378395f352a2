//! The core's error type. `http/error.rs` alone turns these into status codes.

use crate::barrier::BarrierError;
use crate::engine::EngineError;
use crate::router::RouterError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("Vault is sealed")]
    Sealed,
    #[error("Vault is not initialized")]
    NotInitialized,
    #[error("Vault is already initialized")]
    AlreadyInitialized,
    /// The request is wrong; the text is for the client.
    #[error("{0}")]
    InvalidRequest(String),
    /// No token, or one that is unknown, expired or revoked.
    #[error("permission denied")]
    PermissionDenied,
    /// A valid token whose policies do not grant the request.
    #[error("permission denied")]
    AclDenied,
    /// A refusal with its own text (the CLI's preflight check).
    #[error("{0}")]
    Forbidden(String),
    /// No mount serves this path.
    #[error("no handler for route {0:?}. route entry not found.")]
    NoHandler(String),
    /// The mount serves no such path.
    #[error("unsupported path")]
    UnsupportedPath,
    /// The path does not take this operation.
    #[error("unsupported operation")]
    UnsupportedOperation,
    /// Nothing there.
    #[error("not found")]
    NotFound,
    /// A failure whose text OpenBao sends with its 500 (see `EngineError::Failed`).
    #[error("{0}")]
    Failed(String),
    /// Something broke inside; the details are logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<BarrierError> for Error {
    fn from(e: BarrierError) -> Self {
        Error::Internal(e.to_string())
    }
}

impl From<storage::Error> for Error {
    fn from(e: storage::Error) -> Self {
        Error::Internal(e.to_string())
    }
}

impl From<EngineError> for Error {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::InvalidRequest(msg) => Error::InvalidRequest(msg),
            e @ EngineError::CasMismatch => Error::InvalidRequest(e.to_string()),
            EngineError::NotFound => Error::NotFound,
            EngineError::UnsupportedPath => Error::UnsupportedPath,
            EngineError::UnsupportedOperation => Error::UnsupportedOperation,
            e @ EngineError::PreflightDenied(_) => Error::Forbidden(e.to_string()),
            EngineError::Forbidden(msg) => Error::Forbidden(msg),
            EngineError::InvalidCredentials(msg) => Error::InvalidRequest(msg),
            EngineError::Failed(msg) => Error::Failed(msg),
            EngineError::Storage(e) => Error::Internal(e.to_string()),
        }
    }
}

impl From<RouterError> for Error {
    fn from(e: RouterError) -> Self {
        match e {
            RouterError::Invalid(msg) => Error::InvalidRequest(msg),
            RouterError::Storage(e) => Error::Internal(e.to_string()),
        }
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

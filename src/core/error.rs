//! The core's error type. `http/error.rs` alone turns these into status codes.

use crate::barrier::BarrierError;

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
    /// No mount serves this path.
    #[error("no handler for route {0:?}. route entry not found.")]
    NoHandler(String),
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

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

//! This layer's errors.

use std::path::PathBuf;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on the data directory.
    #[error("storage I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// RocksDB reported an error.
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// Another process holds the data directory.
    #[error("data directory {path} is locked by another coffer server ({holder}); stop it or choose another storage path")]
    Locked {
        /// The data directory.
        path: PathBuf,
        /// Who holds it, as recorded in the lock file (`pid N on host H`), or `unknown`.
        holder: String,
    },
    /// The data directory was written by a format this build does not understand.
    #[error(
        "data directory {path} has format version {found}; this build reads version {supported}"
    )]
    UnsupportedFormat {
        /// The data directory.
        path: PathBuf,
        /// The version found on disk.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A condition of a [`crate::Batch`] did not hold; nothing was written.
    #[error("batch condition failed")]
    ConditionFailed,
    /// Stored bytes could not be understood.
    #[error("corrupt storage: {0}")]
    Corrupt(String),
    /// The backend was closed.
    #[error("storage is closed")]
    Closed,
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

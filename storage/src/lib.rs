//! Coffer's physical layer: bytes in, bytes out.
//!
//! Everything stored here is assumed readable (and writable) by an attacker. Values arrive
//! already encrypted by the barrier (`src/barrier` in the server crate); keys are plaintext
//! paths. This crate knows nothing of crypto, mounts, tokens or HTTP, and never sees
//! plaintext secrets.
//!
//! # Layout
//! - [`backend`]: the [`Backend`] trait, [`Batch`] and its [`Condition`]s and [`Op`]s.
//! - [`error`]: [`Error`], this layer's one error type.
//! - [`memory`]: [`MemBackend`], a `BTreeMap` for tests and `-dev` mode.
//! - [`rocks`]: [`RocksBackend`], single-node RocksDB with a synced WAL.
//! - [`ondisk`]: the versioned data-directory header and the exclusive directory lock.
//! - `testing` (feature `testing`): `exercise_backend`, the conformance suite every backend passes.
#![warn(missing_docs)]

pub mod backend;
pub mod error;
pub mod memory;
pub mod ondisk;
pub mod rocks;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use backend::{Backend, Batch, Condition, Op};
pub use error::{Error, Result};
pub use memory::MemBackend;
pub use rocks::RocksBackend;

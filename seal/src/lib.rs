//! Coffer's key material: Shamir shares, unseal progress, the barrier keyring and cipher, and
//! the seal wrappers that protect the root key.
//!
//! This crate holds secrets and nothing else. It does no storage I/O and knows no storage paths
//! beyond the AAD its callers hand it; the server's `barrier` module is the only place where it
//! meets the `storage` crate. Every key is zeroed when dropped and prints as `[REDACTED]`.
//!
//! # Layout
//!
//! * [`key`]: [`Key`], one 32-byte AES-256 key, the unit of everything below.
//! * [`aead`]: the barrier cipher, `term ‖ version ‖ nonce ‖ ciphertext ‖ tag` bound to a path.
//! * [`keyring`]: [`Keyring`], the root key plus one data key per term; rotation, and the
//!   keyring sealed under the root key.
//! * [`shamir`]: split and combine in OpenBao's share format (x-coordinate last).
//! * [`progress`]: [`UnsealProgress`], the shares gathered towards the threshold, and
//!   [`parse_share`] for the key text clients send.
//! * [`config`]: [`SealConfig`], the plaintext share count and threshold.
//! * [`wrapper`]: [`KeyWrapper`] and its Shamir and static implementations, which encrypt the
//!   root key at rest; [`resolve_key_material`] for static seal keys.
//! * [`error`]: [`Error`], this crate's one error type.
//!
//! # How the pieces fit at unseal
//!
//! shares → [`UnsealProgress`] → key-encryption key → [`ShamirWrapper`] unwraps the root key →
//! [`Keyring::open_with_root`] → [`Keyring::decrypt`] for every read.

#![warn(missing_docs)]
// Tests may unwrap: a panic there is the failure report.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod aead;
pub mod config;
pub mod error;
pub mod key;
pub mod keyring;
pub mod progress;
pub mod shamir;
pub mod wrapper;

pub use config::SealConfig;
pub use error::{Error, Result, SealConfigError, ShamirError, StaticSealError};
pub use key::Key;
pub use keyring::{Keyring, TermKey};
pub use progress::{parse_share, Submitted, UnsealProgress};
pub use wrapper::{resolve_key_material, KeyWrapper, ShamirWrapper, StaticWrapper, Wrapped};

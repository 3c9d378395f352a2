//! Coffer: a secrets server that speaks the OpenBao / HashiCorp Vault HTTP API.
//!
//! # Layout
//! The folders follow the request, from the socket down to the disk, as the architecture
//! notes (`shared/design.md`) lay them out:
//!
//! - [`config`]: OpenBao-style HCL into a typed [`Config`]; parsing only, no side effects.
//! - [`server`]: wiring. Config → storage backend → seal → [`core::Core`] → HTTP listeners.
//! - `http`: axum routes and tower layers. Knows HTTP and JSON; calls only `Core`'s methods.
//!   Status codes are chosen in exactly one place, `http/error.rs`.
//! - `core`: the lifecycle (`Uninitialized | Sealed | Unsealed`) and the request pipeline,
//!   which owns the security order.
//! - `logical`: the shared request/response vocabulary and the plaintext `Storage` trait.
//! - `barrier`: the only bridge from plaintext to the untrusted `storage` crate; every value
//!   is sealed with the keyring from the `seal` crate, the storage path as AAD.
//! - `engine`: the trait every secrets engine implements, its path tables and the builtin
//!   registry; engines see only their own storage view.
//! - `router`: the mount table and longest-prefix routing over an immutable snapshot.
//! - `system`: the `sys/` backend (mounts, remount, the CLI's preflight endpoint).
//! - `secrets`: the engines themselves (KV v1 and v2).
//! - `token`: the token store (today: the root token), salted-hash lookups only.
//! - `telemetry`: the tracing subscriber.
//!
//! Only [`Server`], [`Config`] and what tests need are public; everything else is `pub(crate)`.

pub(crate) mod auth;
pub(crate) mod barrier;
pub mod config;
pub(crate) mod core;
pub(crate) mod duration;
pub(crate) mod engine;
pub(crate) mod http;
pub(crate) mod lease;
pub(crate) mod logical;
pub(crate) mod policy;
/// The policy engine's bench-only face.
#[doc(hidden)]
pub use policy::public as acl_bench;
pub(crate) mod router;
pub(crate) mod secrets;
/// The Transit key ring's bench-only face.
#[doc(hidden)]
pub use secrets::transit::public as transit_bench;
pub mod server;
pub(crate) mod system;
pub mod telemetry;
pub(crate) mod token;
pub(crate) mod version;
pub(crate) mod wrapping;

pub use config::Config;
pub use server::Server;

//! What this build says about itself on the wire.
//!
//! Clients (the `bao`/`vault` CLI, hvac, Kong) parse `version` from `sys/seal-status` and
//! `sys/health` as a semantic version to decide which features the server has. We claim the
//! OpenBao API level we implement (2.7.2) and add our own version as build metadata, which
//! semver comparisons ignore (see docs/compat.md).

/// The OpenBao release whose API this build speaks.
pub(crate) const OPENBAO_API: &str = "2.7.2";

/// `2.7.2+coffer.<crate version>`.
pub(crate) const WIRE_VERSION: &str = concat!("2.7.2+coffer.", env!("CARGO_PKG_VERSION"));

/// OpenBao reports the date of its commit; we report the date of the API level we target.
pub(crate) const COMMIT_DATE: &str = "2026-10-26T20:32:27Z";

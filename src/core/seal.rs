//! How the barrier's root key is kept while the server is sealed.
//!
//! These records live *beside* the barrier, directly in physical storage, because they are
//! what opens it:
//! - `core/seal-config`: plaintext `{type, secret_shares, secret_threshold}` (safe to read;
//!   `sys/seal-status` needs it while sealed);
//! - `core/hsm/barrier-unseal-keys`: the root key wrapped by the key-encryption key — the key
//!   combined from Shamir shares, or the static seal key;
//! - with an auto seal, `core/recovery-config` (plaintext) and `core/recovery-key`, the
//!   recovery key wrapped by the seal, so recovery shares can be checked while sealed.
//!
//! The keyring itself (`core/keyring`) is sealed under the root key; see `barrier`.

use std::sync::Arc;

use seal::{KeyWrapper, SealConfig, StaticWrapper, Wrapped};
use serde::de::DeserializeOwned;

use super::error::{Error, Result};

pub(crate) const SEAL_CONFIG: &str = "core/seal-config";
pub(crate) const RECOVERY_CONFIG: &str = "core/recovery-config";
pub(crate) const UNSEAL_KEYS: &str = "core/hsm/barrier-unseal-keys";
pub(crate) const RECOVERY_KEY: &str = "core/recovery-key";

/// Which seal protects the root key.
#[derive(Clone)]
pub(crate) enum SealKind {
    /// Key shares held by operators; the default.
    Shamir,
    /// OpenBao's `seal "static"`: a configured key unwraps the root key at start, and
    /// operators hold recovery shares instead.
    Static(Arc<StaticWrapper>),
}

impl SealKind {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            SealKind::Shamir => "shamir",
            SealKind::Static(_) => "static",
        }
    }

    pub(crate) fn is_auto(&self) -> bool {
        matches!(self, SealKind::Static(_))
    }
}

/// The configuration whose shares `sys/unseal` takes: the barrier shares with Shamir, the
/// recovery shares with an auto seal.
pub(crate) async fn unseal_config(
    backend: &dyn storage::Backend,
    kind: &SealKind,
) -> Result<Option<SealConfig>> {
    let path = if kind.is_auto() {
        RECOVERY_CONFIG
    } else {
        SEAL_CONFIG
    };
    read_json(backend, path).await
}

pub(crate) async fn is_initialized(backend: &dyn storage::Backend) -> Result<bool> {
    Ok(backend.get(SEAL_CONFIG).await?.is_some())
}

pub(crate) async fn read_wrapped(backend: &dyn storage::Backend, path: &str) -> Result<Wrapped> {
    read_json(backend, path).await?.ok_or_else(|| {
        Error::Internal(format!(
            "{path} is missing from an initialized data directory"
        ))
    })
}

async fn read_json<T: DeserializeOwned>(
    backend: &dyn storage::Backend,
    path: &str,
) -> Result<Option<T>> {
    match backend.get(path).await? {
        Some(raw) => serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|e| Error::Internal(format!("{path} is corrupt: {e}"))),
        None => Ok(None),
    }
}

pub(crate) fn json_op<T: serde::Serialize>(path: &str, value: &T) -> Result<storage::Op> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(storage::Op::Put(path.into(), bytes))
}

/// Wrap with the auto seal; only called for `SealKind::Static`.
pub(crate) fn wrap_with(wrapper: &dyn KeyWrapper, plaintext: &[u8]) -> Result<Wrapped> {
    wrapper
        .wrap(plaintext)
        .map_err(|e| Error::Internal(format!("seal wrap failed: {e}")))
}

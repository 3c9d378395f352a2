//! Auth methods: engines mounted under `auth/` whose login paths answer with a
//! [`Login`](crate::logical::Login) that the core turns into a token.
//!
//! A method never makes tokens itself and never sees the token store: it checks the
//! credentials against its own storage and says who the caller is and which token settings
//! apply ([`tokenutil`]). The core applies the mount's TTLs, creates the orphan token,
//! registers its lease and runs the lockout ([`lockout`]) around the login.
//!
//! May not touch: `core`, `router`, `token`, `policy`.

mod approle;
mod cert;
mod glob;
mod kubernetes;
pub(crate) mod lockout;
pub(crate) mod tokenutil;
mod userpass;

use std::sync::Arc;

use crate::engine::{DynBackend, EngineError, Mounted};

/// The auth method types this server can mount (`token` is the core's own).
pub(crate) const KINDS: &[&str] = &["approle", "cert", "kubernetes", "userpass"];

/// The type of a `sys/auth/<path>` request, or OpenBao's refusal.
pub(crate) fn check_kind(kind: &str) -> Result<String, EngineError> {
    match kind {
        "token" => Err(EngineError::InvalidRequest(
            "token credential backend cannot be instantiated".into(),
        )),
        k if KINDS.contains(&k) => Ok(k.to_owned()),
        other => Err(EngineError::InvalidRequest(format!(
            "plugin not found in the catalog: {other}"
        ))),
    }
}

/// The engine of an auth method, if `kind` is one.
pub(crate) fn build(kind: &str) -> Option<Result<Arc<dyn DynBackend>, EngineError>> {
    let table = |e: crate::engine::TableError| EngineError::InvalidRequest(e.to_string());
    let built: Result<Arc<dyn DynBackend>, EngineError> = match kind {
        "approle" => Mounted::new(approle::AppRole)
            .map(|m| Arc::new(m) as Arc<dyn DynBackend>)
            .map_err(table),
        "cert" => Mounted::new(cert::Cert)
            .map(|m| Arc::new(m) as Arc<dyn DynBackend>)
            .map_err(table),
        "kubernetes" => Mounted::new(kubernetes::Kubernetes::new(Default::default()))
            .map(|m| Arc::new(m) as Arc<dyn DynBackend>)
            .map_err(table),
        "userpass" => Mounted::new(userpass::Userpass::default())
            .map(|m| Arc::new(m) as Arc<dyn DynBackend>)
            .map_err(table),
        _ => return None,
    };
    Some(built)
}

//! `sys/auth`, `sys/auth/<path>` and `sys/auth/<path>/tune`: the auth method table.
//!
//! Auth methods live in the same router as secrets engines, at `auth/<path>`, with
//! [`MountTable::Auth`]; this is the API over that half of the table. Disabling a method
//! revokes every token it issued (found by the mount's accessor) once the mount is gone.

use serde_json::Value;

use super::{mounts, SystemBackend};
use crate::engine::{EngineError, EngineRequest, EngineResponse};
use crate::logical::{object, Data, Operation};
use crate::router::{normalize, MountTable, Router};

/// `GET sys/auth`: keyed by the path below `auth/`.
pub(super) fn list(router: &Router) -> EngineResponse {
    let data: Data = router
        .mounts_in(MountTable::Auth)
        .iter()
        .map(|m| {
            let rel = m.entry.path.strip_prefix("auth/").unwrap_or(&m.entry.path);
            (rel.to_owned(), mounts::entry_data(m))
        })
        .collect();
    EngineResponse::data(data)
}

pub(super) async fn handle(
    sys: &SystemBackend,
    router: &Router,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let raw = req.params.get("path");
    if let Some(path) = raw.strip_suffix("/tune") {
        return mounts::tune(
            router,
            &format!("auth/{}", normalize(path)),
            req.op,
            &req.data,
        )
        .await;
    }
    let rel = normalize(raw);
    let path = format!("auth/{rel}");
    match req.op {
        Operation::Read => match router.mount_at(&path) {
            Some(m) if m.entry.table == MountTable::Auth => {
                Ok(EngineResponse::data(object(mounts::entry_data(&m))))
            }
            _ => Err(EngineError::InvalidRequest(format!(
                "No auth engine at {rel}"
            ))),
        },
        Operation::Create | Operation::Update => {
            let mount = mounts::mount_request(&req.data, MountTable::Auth)?;
            router.mount(&rel, mount).await?;
            Ok(EngineResponse::no_content())
        }
        Operation::Delete => {
            let Some(m) = router.mount_at(&path) else {
                return Ok(EngineResponse::no_content());
            };
            if m.entry.table != MountTable::Auth {
                return Ok(EngineResponse::no_content());
            }
            if m.entry.kind == "token" {
                return Err(EngineError::InvalidRequest(
                    "token credential backend cannot be disabled".into(),
                ));
            }
            // The mount first, so no login can slip in between; then every token it issued
            // (their renewals already fail: they name a mount that is gone).
            router.unmount(&path).await?;
            let revoked = sys
                .services
                .tokens
                .revoke_issued_by(&m.entry.accessor)
                .await?;
            sys.services.lockout.forget_mount(&m.entry.accessor);
            tracing::info!(path = %path, revoked, "disabled an auth method");
            Ok(EngineResponse::no_content())
        }
        Operation::List | Operation::Patch => Err(EngineError::UnsupportedOperation),
    }
}

/// `GET sys/locked-users` (optionally for one `mount_accessor`).
pub(super) fn locked_users(sys: &SystemBackend, router: &Router, data: &Data) -> EngineResponse {
    let only = match data.get("mount_accessor") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    };
    let now = sys.services.clock.now().unix_timestamp();
    let mounts = router.mounts_in(MountTable::Auth);
    let lockout = &sys.services.lockout;
    let locked = |accessor: &str, alias: &str| {
        mounts
            .iter()
            .find(|m| m.entry.accessor == accessor)
            .and_then(|m| lockout.settings(&m.entry))
            .is_some_and(|s| lockout.is_locked(&s, accessor, alias, now))
    };
    EngineResponse::data(lockout.report(only, locked))
}

/// `POST sys/locked-users/<mount_accessor>/unlock/<alias>`.
pub(super) async fn unlock(
    sys: &SystemBackend,
    req: &EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let accessor = req.params.get("mount_accessor");
    let alias = req.params.get("alias");
    sys.services.lockout.unlock(accessor, alias).await?;
    Ok(EngineResponse::no_content())
}

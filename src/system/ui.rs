//! `sys/internal/ui/mounts[/<path>]`: what the CLI's `kv` helper asks before every command to
//! learn the mount owning a path and its KV version.

use serde_json::{json, Map, Value};

use super::mounts::entry_data;
use crate::engine::{EngineError, EngineRequest, EngineResponse};
use crate::logical::Data;
use crate::policy::Acl;
use crate::router::{MountTable, Router};

/// Every mount the caller may use, grouped as OpenBao groups them. Without a token: only
/// mounts tuned `listing_visibility=unauth`, with three fields.
pub(super) fn mounts(router: &Router, acl: Option<&Acl>) -> EngineResponse {
    let group = |which: MountTable| -> Map<String, Value> {
        router
            .mounts_in(which)
            .iter()
            .filter(|m| match acl {
                Some(acl) => acl.has_mount_access(&m.entry.path),
                None => m.entry.config.listing_visibility == "unauth",
            })
            .map(|m| {
                let shown = match acl {
                    Some(_) => entry_data(m),
                    None => json!({
                        "description": m.entry.description,
                        "options": m.entry.options,
                        "type": m.entry.kind,
                    }),
                };
                let key = m.entry.path.strip_prefix("auth/").unwrap_or(&m.entry.path);
                (key.to_owned(), shown)
            })
            .collect()
    };
    let mut data = Data::new();
    data.insert("auth".into(), Value::Object(group(MountTable::Auth)));
    data.insert("secret".into(), Value::Object(group(MountTable::Secret)));
    EngineResponse::data(data)
}

/// The mount owning a path, with `path` added. An unknown path is a 403, not a 404, as in
/// OpenBao: the CLI takes a 404 to mean "KV v1" and would go on to write to a wrong path.
pub(super) fn mount(
    router: &Router,
    req: &EngineRequest,
    acl: Option<&Acl>,
) -> Result<EngineResponse, EngineError> {
    let raw = req.params.get("path");
    let path = format!("{}/", raw.trim_end_matches('/'));
    let Some((m, _)) = router.resolve(&path) else {
        return Err(EngineError::PreflightDenied(path));
    };
    if !acl.is_some_and(|a| a.has_mount_access(&m.entry.path)) {
        return Err(EngineError::PreflightDenied(path));
    }
    let mut data = match entry_data(&m) {
        Value::Object(map) => map,
        _ => Data::new(),
    };
    let shown = m.entry.path.strip_prefix("auth/").unwrap_or(&m.entry.path);
    data.insert("path".into(), json!(shown));
    Ok(EngineResponse::data(data))
}

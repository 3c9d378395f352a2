//! `sys/internal/ui/mounts[/<path>]`: what the CLI's `kv` helper asks before every command to
//! learn the mount owning a path and its KV version.

use serde_json::{json, Map, Value};

use super::mounts::entry_data;
use crate::engine::{EngineError, EngineRequest, EngineResponse};
use crate::logical::Data;
use crate::router::Router;

/// Every mount, grouped as OpenBao groups them (`auth` is empty until auth methods land).
/// Without a token: only mounts tuned `listing_visibility=unauth`, with three fields.
pub(super) fn mounts(router: &Router, authenticated: bool) -> EngineResponse {
    let secret: Map<String, Value> = router
        .mounts()
        .iter()
        .filter(|m| authenticated || m.entry.config.listing_visibility == "unauth")
        .map(|m| {
            let shown = match authenticated {
                true => entry_data(m),
                false => json!({
                    "description": m.entry.description,
                    "options": m.entry.options,
                    "type": m.entry.kind,
                }),
            };
            (m.entry.path.clone(), shown)
        })
        .collect();
    let mut data = Data::new();
    data.insert("auth".into(), json!({}));
    data.insert("secret".into(), Value::Object(secret));
    EngineResponse::data(data)
}

/// The mount owning a path, with `path` added. An unknown path is a 403, not a 404, as in
/// OpenBao: the CLI takes a 404 to mean "KV v1" and would go on to write to a wrong path.
pub(super) fn mount(router: &Router, req: &EngineRequest) -> Result<EngineResponse, EngineError> {
    let raw = req.params.get("path");
    let path = format!("{}/", raw.trim_end_matches('/'));
    let Some((m, _)) = router.resolve(&path) else {
        return Err(EngineError::PreflightDenied(path));
    };
    let mut data = match entry_data(&m) {
        Value::Object(map) => map,
        _ => Data::new(),
    };
    data.insert("path".into(), json!(m.entry.path));
    Ok(EngineResponse::data(data))
}

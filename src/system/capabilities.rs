//! `sys/capabilities`, `sys/capabilities-self` and `sys/capabilities-accessor`: which
//! capabilities a token has on paths, as the same ACL the pipeline uses sees them.

use serde_json::{json, Value};

use crate::engine::{fields, EngineError, EngineResponse};
use crate::logical::Data;
use crate::policy::PolicyStore;

/// `sys/capabilities`, `-self` and `-accessor`: which capabilities a token has on paths.
pub(super) struct CapabilitiesQuery {
    pub(super) token_policies: Option<Vec<String>>,
    pub(super) paths: Vec<String>,
}

/// The paths asked about: `paths`, else the deprecated `path`; one string is split at
/// commas, as OpenBao's framework does.
pub(super) fn requested_paths(data: &Data) -> Result<Vec<String>, EngineError> {
    let mut paths = fields::string_list(data, "paths")?.unwrap_or_default();
    if paths.is_empty() {
        paths = fields::string_list(data, "path")?.unwrap_or_default();
    }
    if paths.is_empty() {
        return Err(EngineError::InvalidRequest("paths must be supplied".into()));
    }
    Ok(paths)
}

pub(super) async fn capabilities(
    store: &PolicyStore,
    q: CapabilitiesQuery,
) -> Result<EngineResponse, EngineError> {
    let Some(policies) = q.token_policies else {
        return Err(EngineError::InvalidRequest(crate::logical::multierror(&[
            "invalid token".into(),
        ])));
    };
    let acl = store.acl(&policies).await?;
    let mut data = Data::new();
    for path in &q.paths {
        if path.is_empty() {
            return Err(EngineError::InvalidRequest("missing path".into()));
        }
        let caps = match policies.is_empty() {
            true => vec!["deny"],
            false => acl.capabilities(path),
        };
        data.insert(path.clone(), json!(caps));
    }
    if q.paths.len() == 1 {
        let only = data.get(&q.paths[0]).cloned().unwrap_or(Value::Null);
        data.insert("capabilities".into(), only);
    }
    Ok(EngineResponse::data(data))
}

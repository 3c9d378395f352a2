//! `role/<name>`: which service accounts may log in through a role, and the token they get.
//!
//! Role names are case-insensitive (stored lower-cased), as in OpenBao.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::super::tokenutil::TokenParams;
use crate::engine::{fields, go_duration, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::{Data, Operation, Response};

pub(super) const PREFIX: &str = "role/";
pub(super) const SOURCE_UID: &str = "serviceaccount_uid";
pub(super) const SOURCE_NAME: &str = "serviceaccount_name";

pub(super) const FIELDS: &[&str] = &[
    "name",
    "bound_service_account_names",
    "bound_service_account_namespaces",
    "bound_service_account_namespace_selector",
    "audience",
    "alias_name_source",
    "token_bound_cidrs",
    "token_explicit_max_ttl",
    "token_max_ttl",
    "token_no_default_policy",
    "token_num_uses",
    "token_period",
    "token_policies",
    "token_type",
    "token_ttl",
    "token_strictly_bind_ip",
    "policies",
    "num_uses",
    "ttl",
    "max_ttl",
    "period",
    "bound_cidrs",
];

/// A stored role.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Role {
    #[serde(flatten)]
    pub(super) token: TokenParams,
    pub(super) bound_service_account_names: Vec<String>,
    pub(super) bound_service_account_namespaces: Vec<String>,
    pub(super) bound_service_account_namespace_selector: String,
    pub(super) audience: String,
    pub(super) alias_name_source: String,
}

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidRequest(msg.into())
}

fn key(name: &str) -> String {
    format!("{PREFIX}{}", name.to_lowercase())
}

pub(super) async fn load(ctx: &Ctx<'_>, name: &str) -> Result<Option<Role>, EngineError> {
    match ctx.storage.get(&key(name)).await? {
        None => Ok(None),
        Some(raw) => serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|e| EngineError::Failed(format!("stored role {name:?} is unreadable: {e}"))),
    }
}

pub(super) async fn list(ctx: &Ctx<'_>) -> Result<EngineResponse, EngineError> {
    let mut keys = ctx.storage.list(PREFIX).await?;
    keys.sort();
    Ok(Response::list(keys))
}

pub(super) async fn delete(ctx: &Ctx<'_>, name: &str) -> Result<EngineResponse, EngineError> {
    ctx.storage.delete(&key(name)).await?;
    Ok(Response::no_content())
}

pub(super) async fn read(ctx: &Ctx<'_>, name: &str) -> Result<EngineResponse, EngineError> {
    let Some(role) = load(ctx, name).await? else {
        return Ok(Response::not_found());
    };
    let list = |l: &[String]| {
        // A list never set is Go's nil slice.
        if l.is_empty() {
            Value::Null
        } else {
            json!(l)
        }
    };
    let mut data = crate::logical::object(json!({
        "bound_service_account_names": list(&role.bound_service_account_names),
        "bound_service_account_namespaces": list(&role.bound_service_account_namespaces),
        "bound_service_account_namespace_selector": role.bound_service_account_namespace_selector,
        "alias_name_source": role.alias_name_source,
    }));
    if !role.audience.is_empty() {
        data.insert("audience".into(), json!(role.audience));
    }
    role.token.populate(&mut data);
    Ok(Response::data(data))
}

/// Create or update, with OpenBao's checks and texts. An update of a role that does not
/// exist (a root token skips the existence check) creates it, as OpenBao does.
pub(super) async fn write(
    ctx: &Ctx<'_>,
    name: &str,
    req: &EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let existing = load(ctx, name).await?;
    let creating = existing.is_none() || req.op == Operation::Create;
    let mut role = existing.unwrap_or_default();
    let d = with_legacy_num_uses(&req.data);
    role.token.update(&d)?;
    let max = ctx.mount.max_lease_ttl.as_secs();
    if role.token.token_period > max {
        return Err(invalid(format!(
            "token period of '{:?}' is greater than the backend's maximum lease TTL of '{:?}'",
            go_duration(std::time::Duration::from_secs(role.token.token_period)),
            go_duration(ctx.mount.max_lease_ttl)
        )));
    }
    let mut resp = Response::no_content();
    if role.token.token_max_ttl > max {
        resp = resp.with_warning("max_ttl is greater than the system or backend mount's maximum TTL value; issued tokens' max TTL value will be truncated");
    }

    if let Some(names) = fields::string_list(&d, "bound_service_account_names")? {
        role.bound_service_account_names = names;
    } else if creating {
        role.bound_service_account_names = Vec::new();
    }
    if role.bound_service_account_names.is_empty() {
        return Err(invalid("\"bound_service_account_names\" can not be empty"));
    }
    if role.bound_service_account_names.len() > 1
        && role.bound_service_account_names.iter().any(|n| n == "*")
    {
        return Err(invalid("can not mix \"*\" with values"));
    }
    if let Some(ns) = fields::string_list(&d, "bound_service_account_namespaces")? {
        role.bound_service_account_namespaces = ns;
    }
    // OpenBao reads the selector with its default on every write, so an update without it
    // clears it.
    role.bound_service_account_namespace_selector =
        fields::string(&d, "bound_service_account_namespace_selector")?.unwrap_or_default();
    if role.bound_service_account_namespaces.is_empty()
        && role.bound_service_account_namespace_selector.is_empty()
    {
        return Err(invalid("\"bound_service_account_namespaces\" can not be empty if \"bound_service_account_namespace_selector\" is not set"));
    }
    if !role.bound_service_account_namespace_selector.is_empty()
        && !valid_selector(&role.bound_service_account_namespace_selector)
    {
        return Err(invalid(
            "invalid \"bound_service_account_namespace_selector\" configured",
        ));
    }
    if role.bound_service_account_namespaces.len() > 1
        && role
            .bound_service_account_namespaces
            .iter()
            .any(|n| n == "*")
    {
        return Err(invalid("can not mix \"*\" with values"));
    }
    if let Some(aud) = fields::string(&d, "audience")? {
        role.audience = aud;
    }
    match fields::string(&d, "alias_name_source")? {
        Some(s) if !s.is_empty() => role.alias_name_source = s,
        _ if role.alias_name_source.is_empty() => role.alias_name_source = SOURCE_UID.into(),
        _ => {}
    }
    if role.alias_name_source != SOURCE_UID && role.alias_name_source != SOURCE_NAME {
        return Err(invalid(format!(
            "invalid alias_name_source, must be one of: {SOURCE_UID}, {SOURCE_NAME}"
        )));
    }
    let bytes =
        Zeroizing::new(serde_json::to_vec(&role).map_err(|e| EngineError::Failed(e.to_string()))?);
    ctx.storage.put(&key(name), &bytes).await?;
    Ok(resp)
}

/// The legacy `num_uses` counts when `token_num_uses` is absent.
fn with_legacy_num_uses(d: &Data) -> Data {
    let mut d = d.clone();
    if d.get("token_num_uses").is_none_or(Value::is_null) {
        if let Some(v) = d.get("num_uses").cloned() {
            d.insert("token_num_uses".into(), v);
        }
    }
    d
}

/// A label selector as OpenBao accepts it: a JSON (or YAML) object. Only the JSON form is
/// checked here; a YAML one is kept as given.
fn valid_selector(s: &str) -> bool {
    let t = s.trim_start();
    if t.starts_with('{') {
        return serde_json::from_str::<serde_json::Map<String, Value>>(s).is_ok();
    }
    // YAML mappings have a `key:` somewhere.
    t.contains(':')
}

pub(super) use crate::auth::glob::list_contains_glob;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_checked_when_json() {
        assert!(valid_selector(r#"{"matchLabels":{"a":"b"}}"#));
        assert!(!valid_selector("{nope"));
        assert!(valid_selector("matchLabels:\n  a: b"));
        assert!(!valid_selector("zz"));
    }
}

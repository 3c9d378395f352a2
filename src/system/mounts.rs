//! `sys/mounts`, `sys/mounts/<path>`, `sys/mounts/<path>/tune` and `sys/remount`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::SystemBackend;
use crate::engine::SYSTEM_MAX_LEASE_TTL;
use crate::engine::{fields, registry, EngineError, EngineRequest, EngineResponse};
use crate::logical::{object, Data, Operation};
use crate::router::{check_listing_visibility, normalize, Mount, MountConfig, MountRequest};
use crate::router::{MountTable, Router, Tune, UserLockoutConfig};
use crate::version;

/// A finished remount, as `sys/remount/status/<id>` reports it.
#[derive(Clone, Debug)]
pub(super) struct Migration {
    source: String,
    target: String,
}

/// One mount as `sys/mounts` shows it, OpenBao's fields in its order.
pub(super) fn entry_data(m: &Mount) -> Value {
    let e = &m.entry;
    let mut config = Map::new();
    config.insert(
        "default_lease_ttl".into(),
        json!(e.config.default_lease_ttl),
    );
    config.insert("force_no_cache".into(), json!(e.config.force_no_cache));
    if !e.config.listing_visibility.is_empty() {
        config.insert(
            "listing_visibility".into(),
            json!(e.config.listing_visibility),
        );
    }
    config.insert("max_lease_ttl".into(), json!(e.config.max_lease_ttl));
    if e.table == MountTable::Auth {
        config.insert("token_type".into(), json!("default-service"));
        if let Some(l) = &e.config.user_lockout_config {
            config.insert("user_lockout_config".into(), lockout_data(l));
        }
    }
    for (name, list) in [
        (
            "audit_non_hmac_request_keys",
            &e.config.audit_non_hmac_request_keys,
        ),
        (
            "audit_non_hmac_response_keys",
            &e.config.audit_non_hmac_response_keys,
        ),
        (
            "passthrough_request_headers",
            &e.config.passthrough_request_headers,
        ),
        (
            "allowed_response_headers",
            &e.config.allowed_response_headers,
        ),
    ] {
        if !list.is_empty() {
            config.insert(name.into(), json!(list));
        }
    }
    let mut out = Map::new();
    out.insert("accessor".into(), json!(e.accessor));
    out.insert("config".into(), Value::Object(config));
    if !e.is_builtin() {
        out.insert("deprecation_status".into(), json!("supported"));
    }
    out.insert("description".into(), json!(e.description));
    out.insert(
        "external_entropy_access".into(),
        json!(e.external_entropy_access),
    );
    out.insert("local".into(), json!(e.local));
    out.insert(
        "options".into(),
        e.options.as_ref().map_or(Value::Null, |o| json!(o)),
    );
    out.insert("plugin_version".into(), json!(e.plugin_version));
    out.insert(
        "running_plugin_version".into(),
        json!(format!("v{}+builtin.bao", version::OPENBAO_API)),
    );
    out.insert("running_sha256".into(), json!(""));
    out.insert("seal_wrap".into(), json!(e.seal_wrap));
    out.insert("type".into(), json!(e.kind));
    out.insert("uuid".into(), json!(e.uuid));
    Value::Object(out)
}

/// A mount's tuned lockout settings, as OpenBao shows them (seconds).
fn lockout_data(l: &UserLockoutConfig) -> Value {
    json!({
        "user_lockout_counter_reset_duration": l.lockout_counter_reset,
        "user_lockout_disable": l.disable_lockout,
        "user_lockout_duration": l.lockout_duration,
        "user_lockout_threshold": l.lockout_threshold,
    })
}

/// `user_lockout_config` of a tune: numbers as strings, durations as Go durations.
fn lockout_tune(data: &Data) -> Result<Option<UserLockoutConfig>, EngineError> {
    let c = match data.get("user_lockout_config") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(c)) => c,
        Some(_) => {
            return Err(EngineError::InvalidRequest(
                "error converting input for field \"user_lockout_config\": expected a map".into(),
            ))
        }
    };
    let secs = |field: &str| -> Result<u64, EngineError> {
        match c.get(field) {
            None | Some(Value::Null) => Ok(0),
            Some(Value::String(s)) if s.is_empty() => Ok(0),
            Some(v) => fields::duration_value(v)
                .map(|d| d.as_secs())
                .map_err(|why| {
                    EngineError::InvalidRequest(format!("error parsing {field}: {why}"))
                }),
        }
    };
    let threshold = match c.get("lockout_threshold") {
        None | Some(Value::Null) => 0,
        Some(v) => fields::weak_string(v)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<u64>().map_err(|_| {
                    EngineError::InvalidRequest(format!("error parsing lockout_threshold: {s:?}"))
                })
            })
            .transpose()?
            .unwrap_or(0),
    };
    Ok(Some(UserLockoutConfig {
        lockout_threshold: threshold,
        lockout_duration: secs("lockout_duration")?,
        lockout_counter_reset: secs("lockout_counter_reset_duration")?,
        disable_lockout: fields::boolean(c, "lockout_disable")?.unwrap_or(false),
    }))
}

/// `GET sys/mounts`.
pub(super) fn list(router: &Router) -> EngineResponse {
    let data = router
        .mounts()
        .iter()
        .map(|m| (m.entry.path.clone(), entry_data(m)))
        .collect();
    EngineResponse::data(data)
}

/// `sys/mounts/<path>` and `sys/mounts/<path>/tune`.
pub(super) async fn handle(
    router: &Router,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let raw = req.params.get("path");
    // matchit cannot put a capture before a suffix, so `<path>/tune` is told apart here.
    if let Some(path) = raw.strip_suffix("/tune") {
        return tune(router, path, req.op, &req.data).await;
    }
    let path = normalize(raw);
    match req.op {
        Operation::Read => match router.mount_at(&path) {
            Some(m) => Ok(EngineResponse::data(object(entry_data(&m)))),
            None => Err(EngineError::InvalidRequest(format!(
                "No secret engine mount at {path}"
            ))),
        },
        Operation::Create | Operation::Update => {
            router
                .mount(&path, mount_request(&req.data, MountTable::Secret)?)
                .await?;
            Ok(EngineResponse::no_content())
        }
        Operation::Delete => {
            router.unmount(&path).await?;
            Ok(EngineResponse::no_content())
        }
        Operation::List | Operation::Patch => Err(EngineError::UnsupportedOperation),
    }
}

/// The body of `sys/mounts/<path>` or `sys/auth/<path>`.
pub(super) fn mount_request(data: &Data, table: MountTable) -> Result<MountRequest, EngineError> {
    let kind = fields::string(data, "type")?.unwrap_or_default();
    if kind.is_empty() {
        return Err(EngineError::InvalidRequest(
            "backend type must be specified as a string".into(),
        ));
    }
    let (kind, mut options) = match table {
        MountTable::Secret => registry::normalize(&kind, options(data)?)?,
        MountTable::Auth => (crate::auth::check_kind(&kind)?, options(data)?),
    };
    // OpenBao records `options` as sent: `{}` when the field is absent (for kv), `null` when
    // the client sent `null` (as the CLI does for `bao secrets enable kv`).
    if matches!(data.get("options"), Some(Value::Null))
        && options.as_ref().is_some_and(|o| o.is_empty())
    {
        options = None;
    }
    let config = match data.get("config") {
        None | Some(Value::Null) => MountConfig::default(),
        Some(Value::Object(c)) => mount_config(c)?,
        Some(_) => {
            return Err(EngineError::InvalidRequest(
                "error converting input for field \"config\": expected a map".into(),
            ))
        }
    };
    Ok(MountRequest {
        table,
        kind,
        description: fields::string(data, "description")?.unwrap_or_default(),
        config,
        options,
        local: fields::boolean(data, "local")?.unwrap_or(false),
        seal_wrap: fields::boolean(data, "seal_wrap")?.unwrap_or(false),
        external_entropy_access: fields::boolean(data, "external_entropy_access")?.unwrap_or(false),
        plugin_version: fields::string(data, "plugin_version")?.unwrap_or_default(),
    })
}

/// `options`: a map whose values become strings (`{"version": 2}` is `"2"`).
fn options(data: &Data) -> Result<Option<BTreeMap<String, String>>, EngineError> {
    match data.get("options") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(
            m.iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect(),
        )),
        Some(_) => Err(EngineError::InvalidRequest(
            "error converting input for field \"options\": expected a map".into(),
        )),
    }
}

/// A TTL given to `sys/mounts` or a tune: a duration, seconds, or `"system"` (0, the
/// system default). `Err` carries Go's text for what was wrong.
fn ttl_secs(data: &Data, field: &str) -> Result<Option<u64>, String> {
    match data.get(field) {
        // The CLI sends `""` for "leave it as it is".
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s == "system" => Ok(Some(0)),
        Some(v) => fields::duration_value(v).map(|d| Some(d.as_secs())),
    }
}

fn mount_config(c: &Data) -> Result<MountConfig, EngineError> {
    let ttl = |field: &str, what: &str| {
        ttl_secs(c, field).map_err(|why| {
            let given = c
                .get(field)
                .and_then(fields::weak_string)
                .unwrap_or_default();
            EngineError::InvalidRequest(format!("unable to parse {what} TTL of {given}: {why}"))
        })
    };
    let config = MountConfig {
        default_lease_ttl: ttl("default_lease_ttl", "default")?.unwrap_or(0),
        max_lease_ttl: ttl("max_lease_ttl", "max")?.unwrap_or(0),
        force_no_cache: fields::boolean(c, "force_no_cache")?.unwrap_or(false),
        listing_visibility: fields::string(c, "listing_visibility")?.unwrap_or_default(),
        passthrough_request_headers: fields::string_list(c, "passthrough_request_headers")?
            .unwrap_or_default(),
        allowed_response_headers: fields::string_list(c, "allowed_response_headers")?
            .unwrap_or_default(),
        audit_non_hmac_request_keys: fields::string_list(c, "audit_non_hmac_request_keys")?
            .unwrap_or_default(),
        audit_non_hmac_response_keys: fields::string_list(c, "audit_non_hmac_response_keys")?
            .unwrap_or_default(),
        user_lockout_config: lockout_tune(c)?,
    };
    check_listing_visibility(&config.listing_visibility)?;
    let system_max = SYSTEM_MAX_LEASE_TTL.as_secs();
    if config.max_lease_ttl != 0 && config.default_lease_ttl > config.max_lease_ttl {
        return Err(EngineError::InvalidRequest(
            "given default lease TTL greater than given max lease TTL".into(),
        ));
    }
    if config.max_lease_ttl == 0 && config.default_lease_ttl > system_max {
        return Err(EngineError::InvalidRequest(format!(
            "given default lease TTL greater than system max lease TTL of {system_max}"
        )));
    }
    Ok(config)
}

pub(super) async fn tune(
    router: &Router,
    path: &str,
    op: Operation,
    data: &Data,
) -> Result<EngineResponse, EngineError> {
    let path = normalize(path);
    match op {
        Operation::Read => {
            let m = router.mount_at(&path).ok_or_else(|| {
                EngineError::InvalidRequest(format!("cannot fetch sysview for path {path:?}"))
            })?;
            let e = &m.entry;
            let mut out = Map::new();
            out.insert(
                "default_lease_ttl".into(),
                json!(m.info.default_lease_ttl.as_secs()),
            );
            out.insert("description".into(), json!(e.description));
            out.insert("force_no_cache".into(), json!(e.config.force_no_cache));
            if !e.config.listing_visibility.is_empty() {
                out.insert(
                    "listing_visibility".into(),
                    json!(e.config.listing_visibility),
                );
            }
            out.insert(
                "max_lease_ttl".into(),
                json!(m.info.max_lease_ttl.as_secs()),
            );
            if let Some(o) = &e.options {
                out.insert("options".into(), json!(o));
            }
            if e.table == MountTable::Auth {
                out.insert("token_type".into(), json!("default-service"));
                if let Some(Value::Object(l)) =
                    e.config.user_lockout_config.as_ref().map(lockout_data)
                {
                    out.extend(l);
                }
            }
            if !e.config.passthrough_request_headers.is_empty() {
                out.insert(
                    "passthrough_request_headers".into(),
                    json!(e.config.passthrough_request_headers),
                );
            }
            Ok(EngineResponse::data(out))
        }
        Operation::Create | Operation::Update => {
            let ttl = |field: &str| ttl_secs(data, field).map_err(EngineError::InvalidRequest);
            let t = Tune {
                description: fields::string(data, "description")?,
                default_lease_ttl: ttl("default_lease_ttl")?,
                max_lease_ttl: ttl("max_lease_ttl")?,
                options: options(data)?,
                listing_visibility: fields::string(data, "listing_visibility")?,
                user_lockout: lockout_tune(data)?,
                passthrough_request_headers: fields::string_list(
                    data,
                    "passthrough_request_headers",
                )?,
                allowed_response_headers: fields::string_list(data, "allowed_response_headers")?,
                audit_non_hmac_request_keys: fields::string_list(
                    data,
                    "audit_non_hmac_request_keys",
                )?,
                audit_non_hmac_response_keys: fields::string_list(
                    data,
                    "audit_non_hmac_response_keys",
                )?,
            };
            let warnings = router.tune(&path, t).await?;
            Ok(EngineResponse {
                warnings,
                ..EngineResponse::no_content()
            })
        }
        Operation::List | Operation::Patch | Operation::Delete => {
            Err(EngineError::UnsupportedOperation)
        }
    }
}

/// `sys/remount`: synchronous here (a move rewrites one record), reported as a finished
/// migration so clients that poll `sys/remount/status/<id>` see it succeed.
pub(super) async fn remount(
    sys: &SystemBackend,
    router: &Router,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let from = fields::string(&req.data, "from")?.unwrap_or_default();
    let to = fields::string(&req.data, "to")?.unwrap_or_default();
    if from.is_empty() || to.is_empty() {
        return Err(EngineError::InvalidRequest(
            "both 'from' and 'to' path must be specified as a string".into(),
        ));
    }
    router.remount(&from, &to).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let migration = Migration {
        source: normalize(&from),
        target: normalize(&to),
    };
    if let Ok(mut m) = sys.migrations.lock() {
        m.insert(id.clone(), migration);
    }
    let mut data = Data::new();
    data.insert("migration_id".into(), json!(id));
    Ok(EngineResponse::data(data).with_warning(
        "Mount move has been queued. Progress will be reported in OpenBao's server log, tagged with the returned migration_id",
    ))
}

/// `sys/remount/status/<id>`.
pub(super) fn remount_status(sys: &SystemBackend, req: &EngineRequest) -> EngineResponse {
    let id = req.params.get("id");
    let found = sys.migrations.lock().ok().and_then(|m| m.get(id).cloned());
    let Some(m) = found else {
        return EngineResponse::not_found();
    };
    EngineResponse::data(object(json!({
        "migration_id": id,
        "migration_info": {
            "source_mount": m.source,
            "target_mount": m.target,
            "status": "success",
        },
    })))
}

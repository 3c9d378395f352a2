//! `data/<key>`: read a version, write a new one (with `cas`), patch, soft-delete the latest;
//! and `subkeys/<key>`.

use serde_json::{json, Value};

use super::types::{nanos, KeyMeta, KvConfig, VersionMeta};
use super::{data_key, encode, key_param, load_meta, Change, KvV2};
use crate::engine::{fields, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::storage::StorageOp;
use crate::logical::{object, Body, Data, Operation};

pub(super) async fn handle(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    match req.op {
        Operation::Read => read(ctx, &req).await,
        Operation::Create | Operation::Update => {
            let data = data_field(&req.data)?;
            write(kv, ctx, &req, data).await
        }
        Operation::Patch => patch(kv, ctx, &req).await,
        Operation::Delete => delete_latest(kv, ctx, &req).await,
        Operation::List => Err(EngineError::UnsupportedOperation),
    }
}

/// The `data` field of a write: required, and an object (`null` is stored as `null`, as
/// OpenBao stores it).
fn data_field(body: &Data) -> Result<Value, EngineError> {
    match body.get("data") {
        None => Err(EngineError::InvalidRequest("no data provided".into())),
        Some(v @ (Value::Null | Value::Object(_))) => Ok(v.clone()),
        Some(Value::Array(items)) => Err(not_a_map(
            "[0]",
            items.first().map_or("<nil>", fields::go_type),
        )),
        Some(other) => Err(not_a_map("", fields::go_type(other))),
    }
}

fn not_a_map(at: &str, got: &str) -> EngineError {
    EngineError::InvalidRequest(format!(
        "error converting input for field \"data\": '{at}' expected type 'map[string]interface {{}}', got unconvertible type '{got}'"
    ))
}

/// `options.cas`, if given. A negative cas can match no version, so it fails the check.
fn cas_option(body: &Data) -> Result<Option<i64>, EngineError> {
    let options = match body.get("options") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(EngineError::InvalidRequest(format!(
                "error converting input for field \"options\": '' expected type 'map[string]interface {{}}', got unconvertible type '{}'",
                fields::go_type(other)
            )))
        }
    };
    // A `cas` that is present but null counts as 0, as Go decodes it.
    if matches!(options.get("cas"), Some(Value::Null)) {
        return Ok(Some(0));
    }
    fields::int(options, "cas")
        .map_err(|_| EngineError::InvalidRequest("error parsing check-and-set parameter".into()))
}

/// The version a read asks for; 0, a negative number or none is the current one.
fn version_param(data: &Data) -> Result<u64, EngineError> {
    let v = fields::int(data, "version")
        .map_err(|e| EngineError::InvalidRequest(format!("Field validation failed: {e}")))?;
    Ok(v.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
}

async fn read(ctx: &Ctx<'_>, req: &EngineRequest) -> Result<EngineResponse, EngineError> {
    let key = key_param(req)?;
    let wanted = version_param(&req.data)?;
    let Some(meta) = load_meta(ctx, key).await? else {
        return Ok(EngineResponse::not_found());
    };
    let version = if wanted == 0 {
        meta.current_version
    } else {
        wanted
    };
    let Some(vm) = meta.versions.get(&version) else {
        return Ok(EngineResponse::not_found());
    };
    let metadata = Value::Object(meta.version_data(version));
    let now = nanos(ctx.clock.now());
    if !vm.is_live(now) {
        return Ok(gone(json!({"data": null, "metadata": metadata})));
    }
    let Some(raw) = ctx.storage.get(&data_key(key, version)).await? else {
        return Ok(gone(json!({"data": null, "metadata": metadata})));
    };
    let data: Value = serde_json::from_slice(&raw)
        .map_err(|e| EngineError::InvalidRequest(format!("stored data is unreadable: {e}")))?;
    Ok(EngineResponse::data(object(json!({
        "data": data,
        "metadata": metadata,
    }))))
}

fn gone(v: Value) -> EngineResponse {
    EngineResponse {
        body: Body::Gone(Some(object(v))),
        ..EngineResponse::default()
    }
}

/// Add version `current + 1` holding `data`, pruning what `max_versions` no longer keeps.
/// Returns the new metadata and the ops besides the metadata write.
fn new_version(
    meta: Option<KeyMeta>,
    config: &KvConfig,
    cas: Option<i64>,
    key: &str,
    bytes: &[u8],
    now: i128,
) -> Result<(KeyMeta, Vec<StorageOp>, u64), EngineError> {
    let mut meta = meta.unwrap_or_else(|| KeyMeta::new(now));
    if cas.is_none() && (config.cas_required || meta.cas_required) {
        return Err(EngineError::InvalidRequest(
            "check-and-set parameter required for this call".into(),
        ));
    }
    if let Some(cas) = cas {
        if u64::try_from(cas).ok() != Some(meta.current_version) {
            return Err(EngineError::CasMismatch);
        }
    }
    let version = meta.current_version + 1;
    let deletion = meta
        .effective_delete_after(config)
        .map(|secs| now + i128::from(secs) * 1_000_000_000);
    meta.versions.insert(
        version,
        VersionMeta {
            created: now,
            deletion,
            destroyed: false,
        },
    );
    meta.current_version = version;
    meta.updated = now;
    let mut ops = vec![StorageOp::Put(data_key(key, version), bytes.to_vec())];
    let keep = u64::from(meta.effective_max_versions(config));
    if version > keep {
        let cutoff = version - keep; // versions <= cutoff go
        let pruned: Vec<u64> = meta.versions.range(..=cutoff).map(|(v, _)| *v).collect();
        for v in pruned {
            meta.versions.remove(&v);
            ops.push(StorageOp::Delete(data_key(key, v)));
        }
        meta.oldest_version = meta.versions.keys().next().copied().unwrap_or(version);
    }
    Ok((meta, ops, version))
}

async fn write(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: &EngineRequest,
    data: Value,
) -> Result<EngineResponse, EngineError> {
    let key = key_param(req)?;
    let cas = cas_option(&req.data)?;
    let bytes = encode(&data)?;
    commit_version(kv, ctx, key, cas, &bytes).await
}

async fn commit_version(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    key: &str,
    cas: Option<i64>,
    bytes: &[u8],
) -> Result<EngineResponse, EngineError> {
    let config = kv.config(ctx).await?;
    let now = nanos(ctx.clock.now());
    let answer = kv
        .update(ctx, key, |meta| {
            let (meta, ops, version) = new_version(meta, &config, cas, key, bytes, now)?;
            let answer = meta.version_data(version);
            Ok(Change::Commit {
                meta: Some(meta),
                ops,
                answer,
            })
        })
        .await;
    Ok(EngineResponse::data(answer?))
}

/// JSON merge patch (RFC 7386) onto the current version, written as a new version.
async fn patch(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: &EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let key = key_param(req)?;
    let changes = match data_field(&req.data)? {
        Value::Null => return Err(EngineError::InvalidRequest("no data provided".into())),
        v => v,
    };
    let cas = cas_option(&req.data)?;
    for _ in 0..super::MAX_ATTEMPTS {
        let Some(meta) = load_meta(ctx, key).await? else {
            return Ok(EngineResponse {
                body: Body::Missing,
                ..EngineResponse::default()
            });
        };
        let now = nanos(ctx.clock.now());
        let current = meta.current_version;
        // A deleted or destroyed current version cannot be patched: 404 with its metadata.
        if !meta.versions.get(&current).is_some_and(|v| v.is_live(now)) {
            return Ok(gone(Value::Object(meta.version_data(current))));
        }
        // The write below always carries a cas (the version patched), so the cas_required
        // rule is checked here against what the caller sent.
        if cas.is_none() && (meta.cas_required || kv.config(ctx).await?.cas_required) {
            return Err(EngineError::InvalidRequest(
                "check-and-set parameter required for this call".into(),
            ));
        }
        let Some(raw) = ctx.storage.get(&data_key(key, current)).await? else {
            return Ok(EngineResponse::not_found());
        };
        let mut doc: Value = serde_json::from_slice(&raw)
            .map_err(|e| EngineError::InvalidRequest(format!("stored data is unreadable: {e}")))?;
        json_patch::merge(&mut doc, &changes);
        let bytes = encode(&doc)?;
        // The patch was computed from `current`: writing it over anything newer would drop
        // that newer write, so it is conditioned on `current`. Without a cas of the caller's
        // own, a lost race just means patching the newer version instead.
        let guard = cas.unwrap_or(current as i64);
        match commit_version(kv, ctx, key, Some(guard), &bytes).await {
            Err(EngineError::CasMismatch) if cas.is_none() => continue,
            other => return other,
        }
    }
    Err(EngineError::InvalidRequest(format!(
        "too many concurrent writers to {key:?}; try again"
    )))
}

/// `DELETE data/<key>`: soft-delete the current version. 204 whatever there was.
async fn delete_latest(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: &EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let key = key_param(req)?;
    let now = nanos(ctx.clock.now());
    kv.update(ctx, key, |meta| {
        let Some(mut meta) = meta else {
            return Ok(Change::Skip(()));
        };
        let current = meta.current_version;
        match meta.versions.get_mut(&current) {
            // `updated_time` follows writes only: deleting a version leaves it alone.
            Some(v) if v.is_live(now) => {
                v.deletion = Some(now);
                Ok(Change::Commit {
                    meta: Some(meta),
                    ops: Vec::new(),
                    answer: (),
                })
            }
            _ => Ok(Change::Skip(())),
        }
    })
    .await?;
    Ok(EngineResponse::no_content())
}

/// `subkeys/<key>`: the data's shape with every leaf replaced by `null`, to `depth` levels
/// (0 is unlimited).
pub(super) async fn subkeys(
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    // 0 and negative depths mean "unlimited", as in OpenBao.
    let depth = fields::int(&req.data, "depth")
        .map_err(|e| EngineError::InvalidRequest(format!("Field validation failed: {e}")))?
        .and_then(|d| usize::try_from(d).ok())
        .unwrap_or(0);
    let resp = read(ctx, &req).await?;
    match resp.body {
        Body::Data(mut d) => {
            let data = d.remove("data").unwrap_or(Value::Null);
            let metadata = d.remove("metadata").unwrap_or(Value::Null);
            Ok(EngineResponse::data(object(json!({
                "metadata": metadata,
                "subkeys": shape(&data, depth, 1),
            }))))
        }
        Body::Gone(d) => {
            let metadata = d
                .and_then(|mut d| d.remove("metadata"))
                .unwrap_or(Value::Null);
            Ok(gone(json!({"metadata": metadata, "subkeys": null})))
        }
        other => Ok(EngineResponse {
            body: other,
            ..EngineResponse::default()
        }),
    }
}

fn shape(v: &Value, depth: usize, level: usize) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, child)| {
                    let inner = match child {
                        Value::Object(_) if depth == 0 || level < depth => {
                            shape(child, depth, level + 1)
                        }
                        _ => Value::Null,
                    };
                    (k.clone(), inner)
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_replaces_leaves_and_honours_depth() {
        let v = json!({"a": 1, "n": {"x": {"y": 2}, "z": [1]}});
        assert_eq!(
            shape(&v, 0, 1),
            json!({"a": null, "n": {"x": {"y": null}, "z": null}})
        );
        assert_eq!(shape(&v, 1, 1), json!({"a": null, "n": null}));
        assert_eq!(
            shape(&v, 2, 1),
            json!({"a": null, "n": {"x": null, "z": null}})
        );
    }

    #[test]
    fn pruning_keeps_the_newest_versions() {
        let config = KvConfig {
            max_versions: 2,
            ..KvConfig::default()
        };
        let mut meta = None;
        let mut pruned = Vec::new();
        for i in 1..=4 {
            let (m, ops, v) = new_version(meta, &config, None, "k", b"{}", i).expect("write");
            assert_eq!(v, i as u64);
            pruned.extend(ops.into_iter().filter_map(|op| match op {
                StorageOp::Delete(k) => Some(k),
                StorageOp::Put(..) => None,
            }));
            meta = Some(m);
        }
        let meta = meta.expect("meta");
        assert_eq!(
            meta.versions.keys().copied().collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert_eq!(meta.oldest_version, 3);
        assert_eq!(pruned, vec!["d/k@1".to_string(), "d/k@2".to_string()]);
    }

    #[test]
    fn cas_rules() {
        let config = KvConfig::default();
        let (m, _, _) = new_version(None, &config, Some(0), "k", b"{}", 1).expect("cas 0 on new");
        assert!(matches!(
            new_version(Some(m.clone()), &config, Some(0), "k", b"{}", 2),
            Err(EngineError::CasMismatch)
        ));
        assert!(new_version(Some(m.clone()), &config, Some(1), "k", b"{}", 2).is_ok());
        let strict = KvConfig {
            cas_required: true,
            ..KvConfig::default()
        };
        assert!(matches!(
            new_version(Some(m), &strict, None, "k", b"{}", 2),
            Err(EngineError::InvalidRequest(_))
        ));
    }
}

//! `metadata/<key>`: read, write, patch and delete a key's metadata, and list keys.

use std::collections::BTreeMap;

use serde_json::Value;

use super::config::non_negative;
use super::types::{nanos, KeyMeta};
use super::{data_key, key_param, Change, KvV2};
use crate::engine::{fields, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::storage::StorageOp;
use crate::logical::{Data, Operation};

/// OpenBao's limits on `custom_metadata`.
const MAX_CUSTOM_KEYS: usize = 64;
const MAX_CUSTOM_KEY_LEN: usize = 128;
const MAX_CUSTOM_VALUE_LEN: usize = 512;

pub(super) async fn handle(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    match req.op {
        Operation::List => {
            let prefix = format!("m/{}", req.params.get("path"));
            Ok(EngineResponse::list(ctx.storage.list(&prefix).await?))
        }
        Operation::Read => {
            let key = key_param(&req)?;
            let config = kv.config(ctx).await?;
            Ok(match super::load_meta(ctx, key).await? {
                Some(meta) => EngineResponse::data(meta.to_data(config.metadata_cas_required)),
                None => EngineResponse::not_found(),
            })
        }
        Operation::Create | Operation::Update => write(kv, ctx, &req, false).await,
        Operation::Patch => write(kv, ctx, &req, true).await,
        Operation::Delete => delete(kv, ctx, &req).await,
    }
}

/// The settings a metadata write or patch may change; `None` leaves a setting alone.
struct Settings {
    max_versions: Option<u32>,
    cas_required: Option<bool>,
    delete_version_after: Option<u64>,
    /// For a patch, a merge patch to apply; for a write, the new map.
    custom_metadata: Option<Value>,
    cas: Option<u64>,
}

impl Settings {
    fn is_empty(&self) -> bool {
        self.max_versions.is_none()
            && self.cas_required.is_none()
            && self.delete_version_after.is_none()
            && self.custom_metadata.is_none()
    }
}

fn settings(data: &Data) -> Result<Settings, EngineError> {
    // A merge patch may remove entries with `null`; a write replaces the whole map.
    let custom_metadata = data.get("custom_metadata").cloned();
    Ok(Settings {
        max_versions: fields::int(data, "max_versions")?
            .map(|n| non_negative(n, "max_versions"))
            .transpose()?,
        cas_required: fields::boolean(data, "cas_required")?,
        delete_version_after: fields::duration(data, "delete_version_after")?.map(|d| d.as_secs()),
        custom_metadata,
        cas: fields::int(data, "cas")?
            .map(|n| {
                u64::try_from(n).map_err(|_| {
                    EngineError::InvalidRequest("cas must be a non-negative integer".into())
                })
            })
            .transpose()?,
    })
}

fn validate_custom(map: &BTreeMap<String, String>) -> Result<(), EngineError> {
    let mut errors = Vec::new();
    if map.len() > MAX_CUSTOM_KEYS {
        errors.push(format!(
            "payload must contain at most {MAX_CUSTOM_KEYS} keys, provided {}",
            map.len()
        ));
    }
    for (k, v) in map {
        if k.is_empty() || k.len() > MAX_CUSTOM_KEY_LEN {
            errors.push(format!(
                "length of key {k:?} is {} but must be 0 < len(key) <= {MAX_CUSTOM_KEY_LEN}",
                k.len()
            ));
        }
        if v.is_empty() || v.len() > MAX_CUSTOM_VALUE_LEN {
            errors.push(format!(
                "length of value for key {k:?} is {} but must be 0 < len(value) <= {MAX_CUSTOM_VALUE_LEN}",
                v.len()
            ));
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    let errors: Vec<String> = errors
        .into_iter()
        .map(|e| format!("custom_metadata validation failed: {e}"))
        .collect();
    Err(EngineError::InvalidRequest(fields::multierror(&errors)))
}

/// The merged `custom_metadata` after a write or patch; an empty map is `None`.
fn custom_after(
    current: &Option<BTreeMap<String, String>>,
    change: &Value,
    patch: bool,
) -> Result<Option<BTreeMap<String, String>>, EngineError> {
    let merged = if patch {
        let mut doc = serde_json::json!(current.clone().unwrap_or_default());
        json_patch::merge(&mut doc, change);
        doc
    } else {
        change.clone()
    };
    let mut data = Data::new();
    data.insert("custom_metadata".into(), merged);
    let Some(map) = fields::string_map(&data, "custom_metadata")? else {
        return Ok(None);
    };
    validate_custom(&map)?;
    Ok((!map.is_empty()).then_some(map))
}

async fn write(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: &EngineRequest,
    patch: bool,
) -> Result<EngineResponse, EngineError> {
    let key = key_param(req)?;
    let s = settings(&req.data)?;
    let config = kv.config(ctx).await?;
    let now = nanos(ctx.clock.now());
    kv.update(ctx, key, |meta| {
        let mut meta = match (meta, patch) {
            (Some(m), _) => m,
            // Patching needs something to patch.
            (None, true) => return Err(EngineError::NotFound),
            // A write with nothing in it creates nothing, as in OpenBao.
            (None, false) if s.is_empty() => return Ok(Change::Skip(())),
            (None, false) => KeyMeta::new(now),
        };
        if s.cas.is_none() && config.metadata_cas_required {
            return Err(EngineError::InvalidRequest(
                "check-and-set parameter required for this call".into(),
            ));
        }
        if let Some(cas) = s.cas {
            if cas != meta.current_metadata_version {
                return Err(EngineError::CasMismatch);
            }
        }
        if let Some(n) = s.max_versions {
            meta.max_versions = n;
        }
        if let Some(b) = s.cas_required {
            meta.cas_required = b;
        }
        if let Some(d) = s.delete_version_after {
            meta.delete_version_after = d;
        }
        if let Some(change) = &s.custom_metadata {
            meta.custom_metadata = custom_after(&meta.custom_metadata, change, patch)?;
        }
        meta.current_metadata_version += 1;
        meta.updated = now;
        Ok(Change::Commit {
            meta: Some(meta),
            ops: Vec::new(),
            answer: (),
        })
    })
    .await?;
    let mut resp = EngineResponse::no_content();
    if s.cas_required == Some(false) && config.cas_required {
        resp = resp.with_warning(
            "\"cas_required\" set to false, but is mandated by backend config. This value will be ignored.",
        );
    }
    Ok(resp)
}

/// Remove every version and the metadata: the key is gone for good.
async fn delete(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: &EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let key = key_param(req)?;
    kv.update(ctx, key, |meta| {
        let Some(meta) = meta else {
            return Ok(Change::Skip(()));
        };
        let ops = meta
            .versions
            .keys()
            .map(|v| StorageOp::Delete(data_key(key, *v)))
            .collect();
        Ok(Change::Commit {
            meta: None,
            ops,
            answer: (),
        })
    })
    .await?;
    Ok(EngineResponse::no_content())
}

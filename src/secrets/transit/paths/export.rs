//! `export/`, `backup/` and `restore/` (path_export.go, path_backup.go, path_restore.go,
//! and the lock manager's `BackupPolicy` / `RestorePolicy`). A backup is base64 of the
//! JSON `{"policy": ..., "archived_keys": ...}` in OpenBao's stored form, so backups move
//! between OpenBao and Coffer either way.

use serde_json::{Map, Value};

use super::{b64, b64_encode, boolean, invalid, string};
use crate::engine::{Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::Data;
use crate::secrets::transit::keyring::wire::{KeyData, KeyEntry, OpInfo};
use crate::secrets::transit::keyring::{asymmetric, go_atoi, KeyError, KeyRing, KeyType};
use crate::secrets::transit::store::{Store, StoreError};

const ENCRYPTION_KEY: &str = "encryption-key";
const SIGNING_KEY: &str = "signing-key";
const HMAC_KEY: &str = "hmac-key";
const PUBLIC_KEY: &str = "public-key";
const CERTIFICATE_CHAIN: &str = "certificate-chain";

pub(crate) async fn export(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let export_type = req.params.get("type");
    let version = req.params.get("version");
    let format = string(&req.data, "format")?;
    if ![
        ENCRYPTION_KEY,
        SIGNING_KEY,
        HMAC_KEY,
        PUBLIC_KEY,
        CERTIFICATE_CHAIN,
    ]
    .contains(&export_type)
    {
        return Err(invalid(format!("invalid export type: {export_type}")));
    }
    if !["", "raw", "der", "pem"].contains(&format.as_str()) {
        return Err(invalid(format!("invalid format: {format}")));
    }
    let Some(ring) = store.get(ctx.storage, req.params.get("name")).await? else {
        return Ok(EngineResponse::not_found());
    };
    let p = &ring.policy;
    if !p.exportable && export_type != PUBLIC_KEY && export_type != CERTIFICATE_CHAIN {
        return Err(invalid("private key material is not exportable"));
    }
    match export_type {
        ENCRYPTION_KEY if !p.kind.encryption_supported() => {
            return Err(invalid("encryption not supported for the key"))
        }
        SIGNING_KEY if !p.kind.signing_supported() => {
            return Err(invalid("signing not supported for the key"))
        }
        CERTIFICATE_CHAIN if !p.kind.signing_supported() => {
            return Err(invalid(
                "certificate chain not supported for keys that do not support signing",
            ))
        }
        _ => {}
    }
    let mut keys = Map::new();
    if version.is_empty() {
        for (v, e) in &p.keys {
            keys.insert(
                v.clone(),
                export_key(&ring, e, export_type, &format)?.into(),
            );
        }
    } else {
        let v = if version == "latest" {
            p.latest_version
        } else {
            go_atoi(version.strip_prefix('v').unwrap_or(version))
                .ok_or_else(|| invalid("invalid key version"))?
        };
        if v < p.min_decryption_version {
            return Err(invalid(
                "version for export is below minimum decryption version",
            ));
        }
        let e = p
            .keys
            .get(&v.to_string())
            .ok_or_else(|| invalid("version does not exist or cannot be found"))?;
        keys.insert(
            v.to_string(),
            export_key(&ring, e, export_type, &format)?.into(),
        );
    }
    let mut data = Data::new();
    data.insert("name".into(), p.name.clone().into());
    data.insert("type".into(), p.kind.name().into());
    data.insert("keys".into(), Value::Object(keys));
    Ok(EngineResponse::data(data))
}

/// `getExportKey`; OpenBao's errors here are 500s.
fn export_key(
    ring: &KeyRing,
    e: &KeyEntry,
    export_type: &str,
    format: &str,
) -> Result<String, EngineError> {
    let kind = ring.kind();
    let failed = |s: String| Err(crate::secrets::transit::failed(s));
    match export_type {
        HMAC_KEY => {
            if format == "der" || format == "pem" {
                return failed(
                    "unknown format for HMAC key; supported values are `` or `raw`".into(),
                );
            }
            let src = if kind == KeyType::Hmac {
                &e.key
            } else {
                &e.hmac_key
            };
            Ok(b64_encode(src.get()))
        }
        ENCRYPTION_KEY if kind.is_symmetric_aead() => {
            if format == "der" || format == "pem" {
                return failed(
                    "unknown format for HMAC key; supported values are `` or `raw`".into(),
                );
            }
            Ok(b64_encode(e.key.get()))
        }
        ENCRYPTION_KEY | SIGNING_KEY if kind.signing_supported() => {
            Ok(asymmetric::export_private(kind, e, format)?)
        }
        PUBLIC_KEY if kind.signing_supported() => {
            Ok(asymmetric::export_public_format(kind, e, format)?)
        }
        CERTIFICATE_CHAIN => {
            let Some(chain) = &e.certificate_chain else {
                return failed(
                    "selected key version does not have a certificate chain imported".into(),
                );
            };
            Ok(chain
                .iter()
                .map(|c| super::keys::pem("CERTIFICATE", c.get()).trim().to_string())
                .collect::<Vec<_>>()
                .join("\n"))
        }
        _ => failed(format!(
            "unknown key type {kind} for export type {export_type}"
        )),
    }
}

pub(crate) async fn backup(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let name = req.params.get("name").to_string();
    let now = ctx.clock.now();
    let _w = store.lock(&name).await;
    let Some(current) = store.get_locked(ctx.storage, &name).await? else {
        return Err(invalid(format!("key {name:?} not found")));
    };
    if !current.policy.exportable {
        return Err(invalid("exporting is disallowed on the policy"));
    }
    if !current.policy.allow_plaintext_backup {
        return Err(invalid("plaintext backup is disallowed on the policy"));
    }
    let mut next = KeyRing::clone(&current);
    next.policy.backup_info = Some(OpInfo {
        time: now,
        version: next.policy.latest_version,
    });
    let ring = store.put_locked(ctx.storage, next).await?;
    // The archive is read after the policy is stored: storing it may have moved versions.
    let archive = store.load_archive(ctx.storage, &name).await?;
    let data = KeyData {
        policy: Some(ring.policy.clone()),
        archived_keys: Some(archive),
    };
    let json = zeroize::Zeroizing::new(
        serde_json::to_vec(&data).map_err(|e| crate::secrets::transit::failed(e.to_string()))?,
    );
    let mut out = Data::new();
    out.insert("backup".into(), b64_encode(&json).into());
    Ok(EngineResponse::data(out))
}

pub(crate) async fn restore(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let encoded = string(&req.data, "backup")?;
    let force = boolean(&req.data, "force")?;
    if encoded.is_empty() {
        return Err(invalid("'backup' must be supplied"));
    }
    let mut name = req.params.get("name").to_string();
    if name.is_empty() {
        name = string(&req.data, "name")?;
    }
    if name.contains('/') {
        return Err(invalid("key names cannot be paths"));
    }
    let raw = zeroize::Zeroizing::new(b64(&encoded).map_err(invalid)?);
    let data: KeyData = serde_json::from_slice(&raw)
        .map_err(|e| invalid(format!("failed to decode the backup: {e}")))?;
    let Some(mut policy) = data.policy else {
        return Err(invalid("failed to decode the backup: it holds no key"));
    };
    if !name.is_empty() {
        policy.name = name;
    }
    let name = policy.name.clone();
    if name.is_empty() || name.contains('/') {
        return Err(invalid("key names cannot be paths"));
    }
    let _w = store.lock(&name).await;
    if !force && store.get_locked(ctx.storage, &name).await?.is_some() {
        return Err(invalid(format!("key {name:?} already exists")));
    }
    if let Some(archive) = &data.archived_keys {
        store.put_archive(ctx.storage, &name, archive).await?;
    }
    policy.restore_info = Some(OpInfo {
        time: ctx.clock.now(),
        version: policy.latest_version,
    });
    let ring = KeyRing::new(policy);
    // Every version must be usable before the key is served.
    for v in ring.policy.keys.keys() {
        if let Ok(v) = v.parse::<i64>() {
            if !ring.kind().is_symmetric_aead()
                && ring.kind() != KeyType::Hmac
                && !ring.policy.derived
            {
                ring.prepared(v).map_err(|e| {
                    invalid(format!(
                        "failed to restore the policy {name:?}: version {v}: {e}"
                    ))
                })?;
            }
        }
    }
    store
        .put_locked(ctx.storage, ring)
        .await
        .map_err(|e| match e {
            StoreError::Key(KeyError::Internal(s)) => crate::secrets::transit::failed(format!(
                "failed to restore the policy {name:?}: {s}"
            )),
            other => other.into(),
        })?;
    Ok(EngineResponse::no_content())
}

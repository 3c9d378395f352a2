//! `keys/`: list, create, read, delete, `config`, `rotate`, `trim` (path_keys.go,
//! path_keys_config.go, path_rotate.go, path_trim.go).

use std::time::Duration;

use serde_json::{Map, Value};

use super::{b64, boolean, int, invalid, string};
use crate::engine::{fields, rfc3339_nano, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::{Data, Operation};
use crate::secrets::transit::keyring::wire::go_time;
use crate::secrets::transit::keyring::{asymmetric, KeyError, KeyRing, KeyType, NewKey};
use crate::secrets::transit::store::Store;

const HOUR: Duration = Duration::from_secs(3600);
const NANOS: i64 = 1_000_000_000;

pub(crate) async fn list(store: &Store, ctx: &Ctx<'_>) -> Result<EngineResponse, EngineError> {
    Ok(EngineResponse::list(store.list(ctx.storage).await?))
}

pub(crate) async fn key(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let name = req.params.get("name").to_string();
    match req.op {
        Operation::Read => {
            let Some(ring) = store.get(ctx.storage, &name).await? else {
                return Ok(EngineResponse::not_found());
            };
            let context = match string(&req.data, "context")? {
                c if c.is_empty() => Vec::new(),
                c => b64(&c).map_err(|_| invalid("failed to base64-decode context"))?,
            };
            Ok(EngineResponse::data(describe(&ring, &context)?))
        }
        Operation::Delete => {
            let _w = store.lock(&name).await;
            let Some(ring) = store.get_locked(ctx.storage, &name).await? else {
                return Err(invalid(format!(
                    "error deleting policy {name}: could not delete key; not found"
                )));
            };
            if !ring.policy.deletion_allowed {
                return Err(invalid(format!(
                    "error deleting policy {name}: deletion is not allowed for this key"
                )));
            }
            store.delete_locked(ctx.storage, &name).await?;
            Ok(EngineResponse::no_content())
        }
        _ => create(store, ctx, &name, &req.data).await,
    }
}

/// `auto_rotate_period`: a duration, 0 or at least an hour.
fn auto_rotate(data: &Data) -> Result<Option<i64>, EngineError> {
    let Some(d) = fields::duration(data, "auto_rotate_period")? else {
        return Ok(None);
    };
    // Whole seconds, as OpenBao's `TypeDurationSecond`.
    let d = Duration::from_secs(d.as_secs());
    if !d.is_zero() && d < HOUR {
        return Err(invalid(
            "auto rotate period must be 0 to disable or at least an hour",
        ));
    }
    Ok(Some(d.as_secs() as i64 * NANOS))
}

async fn create(
    store: &Store,
    ctx: &Ctx<'_>,
    name: &str,
    data: &Data,
) -> Result<EngineResponse, EngineError> {
    let derived = boolean(data, "derived")?;
    let convergent = boolean(data, "convergent_encryption")?;
    let auto_rotate_period_ns = auto_rotate(data)?.unwrap_or(0);
    if !derived && convergent {
        return Err(invalid(
            "convergent encryption requires derivation to be enabled",
        ));
    }
    let kind_name = match string(data, "type")? {
        t if t.is_empty() => "aes256-gcm96".to_string(),
        t => t,
    };
    let kind = KeyType::parse(&kind_name)
        .ok_or_else(|| invalid(format!("unknown key type {kind_name}")))?;
    let mut key_size = int(data, "key_size")?;
    if key_size != 0 {
        if kind != KeyType::Hmac {
            return Err(invalid(format!(
                "key_size is not valid for algorithm {kind}"
            )));
        }
        if !(super::super::keyring::HMAC_MIN_KEY_SIZE..=super::super::keyring::HMAC_MAX_KEY_SIZE)
            .contains(&key_size)
        {
            return Err(invalid(format!("invalid key_size {key_size}")));
        }
    } else if kind == KeyType::Hmac {
        // OpenBao fails a `type=hmac` without `key_size` with a 500; 32 bytes is its minimum
        // and what every other key type's HMAC key is (docs/compat.md).
        key_size = 32;
    }
    let new = NewKey {
        name: name.to_string(),
        kind,
        derived,
        convergent,
        exportable: boolean(data, "exportable")?,
        allow_plaintext_backup: boolean(data, "allow_plaintext_backup")?,
        auto_rotate_period_ns,
        key_size,
    };
    let _w = store.lock(name).await;
    if let Some(ring) = store.get_locked(ctx.storage, name).await? {
        return Ok(EngineResponse::data(describe(&ring, &[])?)
            .with_warning(format!("key {name} already existed")));
    }
    // RSA key generation takes a while: off the async workers.
    let now = ctx.clock.now();
    let ring = if kind.is_rsa() {
        tokio::task::spawn_blocking(move || KeyRing::create(&new, now))
            .await
            .map_err(|e| crate::secrets::transit::failed(format!("key generation failed: {e}")))??
    } else {
        KeyRing::create(&new, now)?
    };
    let ring = store.put_locked(ctx.storage, ring).await?;
    Ok(EngineResponse::data(describe(&ring, &[])?))
}

/// `formatKeyPolicy`: the key description every key path answers with.
pub(crate) fn describe(ring: &KeyRing, context: &[u8]) -> Result<Data, EngineError> {
    let p = &ring.policy;
    let kind = p.kind;
    let mut d = Data::new();
    d.insert("name".into(), p.name.clone().into());
    d.insert("type".into(), kind.name().into());
    d.insert("derived".into(), p.derived.into());
    d.insert("deletion_allowed".into(), p.deletion_allowed.into());
    d.insert(
        "min_available_version".into(),
        p.min_available_version.into(),
    );
    d.insert(
        "min_decryption_version".into(),
        p.min_decryption_version.into(),
    );
    d.insert(
        "min_encryption_version".into(),
        p.min_encryption_version.into(),
    );
    d.insert("latest_version".into(), p.latest_version.into());
    d.insert("exportable".into(), p.exportable.into());
    d.insert(
        "allow_plaintext_backup".into(),
        p.allow_plaintext_backup.into(),
    );
    d.insert(
        "supports_encryption".into(),
        kind.encryption_supported().into(),
    );
    d.insert(
        "supports_decryption".into(),
        kind.encryption_supported().into(),
    );
    d.insert("supports_signing".into(), kind.signing_supported().into());
    d.insert(
        "supports_derivation".into(),
        kind.derivation_supported().into(),
    );
    d.insert(
        "auto_rotate_period".into(),
        (p.auto_rotate_period / NANOS).into(),
    );
    d.insert("imported_key".into(), p.imported.into());
    d.insert("soft_deleted".into(), p.soft_deleted.into());
    if p.key_size != 0 {
        d.insert("key_size".into(), p.key_size.into());
    }
    if p.imported {
        d.insert(
            "imported_key_allow_rotation".into(),
            p.allow_imported_key_rotation.into(),
        );
    }
    for (field, info) in [
        ("backup_info", &p.backup_info),
        ("restore_info", &p.restore_info),
    ] {
        if let Some(info) = info {
            let mut m = Map::new();
            m.insert("time".into(), rfc3339_nano(info.time).into());
            m.insert("version".into(), info.version.into());
            d.insert(field.into(), Value::Object(m));
        }
    }
    if p.derived {
        match p.kdf {
            0 => {
                d.insert("kdf".into(), "hmac-sha256-counter".into());
                d.insert("kdf_mode".into(), "hmac-sha256-counter".into());
            }
            1 => {
                d.insert("kdf".into(), "hkdf_sha256".into());
            }
            _ => {}
        }
        d.insert(
            "convergent_encryption".into(),
            p.convergent_encryption.into(),
        );
        if p.convergent_encryption {
            d.insert(
                "convergent_encryption_version".into(),
                p.convergent_version.into(),
            );
        }
    }
    if kind.is_symmetric_aead() {
        let keys: Map<String, Value> = p
            .keys
            .iter()
            .map(|(v, e)| (v.clone(), e.creation_time.into()))
            .collect();
        d.insert("keys".into(), Value::Object(keys));
    } else if kind.signing_supported() {
        let mut keys = Map::new();
        for (v, e) in &p.keys {
            let created = if e.time == go_time::zero() {
                time::OffsetDateTime::from_unix_timestamp(e.creation_time).unwrap_or(e.time)
            } else {
                e.time
            };
            let public_key = match kind {
                KeyType::Ed25519 if p.derived => {
                    if context.is_empty() {
                        String::new()
                    } else {
                        let ver: i64 = v.parse().map_err(|_| {
                            crate::secrets::transit::failed(format!("invalid version {v:?}"))
                        })?;
                        let seed = ring.derive_key(context, ver, 32).map_err(|e| {
                            crate::secrets::transit::failed(format!(
                                "failed to derive key to return public component: {e}"
                            ))
                        })?;
                        asymmetric::ed25519_public_from_seed(&seed)?
                    }
                }
                k if k.is_rsa() => asymmetric::export_public(kind, e)?,
                _ => e.public_key.clone(),
            };
            let curve = match kind {
                KeyType::EcdsaP256 => "P-256",
                KeyType::EcdsaP384 => "P-384",
                KeyType::EcdsaP521 => "P-521",
                other => other.name(),
            };
            let chain = e
                .certificate_chain
                .as_ref()
                .map(|certs| {
                    certs
                        .iter()
                        .map(|c| pem("CERTIFICATE", c.get()).trim().to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            let mut m = Map::new();
            m.insert("certificate_chain".into(), chain.into());
            m.insert("creation_time".into(), rfc3339_nano(created).into());
            m.insert("name".into(), curve.into());
            m.insert("public_key".into(), public_key.into());
            keys.insert(v.clone(), Value::Object(m));
        }
        d.insert("keys".into(), Value::Object(keys));
    }
    Ok(d)
}

/// Go's `pem.EncodeToMemory`: 64-column base64 lines, a trailing newline.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let b = super::b64_encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub(crate) async fn config(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let name = req.params.get("name").to_string();
    let data = &req.data;
    let min_dec = fields::int(data, "min_decryption_version")?;
    let min_enc = fields::int(data, "min_encryption_version")?;
    let deletion = fields::boolean(data, "deletion_allowed")?;
    let exportable = fields::boolean(data, "exportable")?;
    let backup = fields::boolean(data, "allow_plaintext_backup")?;
    let rotate = auto_rotate(data)?;
    let mut warning = None;
    let mut changed = false;
    let _w = store.lock(&name).await;
    let Some(current) = store.get_locked(ctx.storage, &name).await? else {
        return Err(invalid(format!(
            "no existing key named {name} could be found"
        )));
    };
    let mut next = KeyRing::clone(&current);
    let p = &mut next.policy;
    if let Some(mut v) = min_dec {
        if v < 0 {
            return Err(invalid("min decryption version cannot be negative"));
        }
        if v == 0 {
            v = 1;
            warning = Some("since Vault 0.3 (prior to the OpenBao fork), transit key numbering starts at 1; forcing minimum to 1");
        }
        if v != p.min_decryption_version {
            if v > p.latest_version {
                return Err(invalid(format!(
                    "cannot set min decryption version of {v}, latest key version is {}",
                    p.latest_version
                )));
            }
            p.min_decryption_version = v;
            changed = true;
        }
    }
    if let Some(v) = min_enc {
        if v < 0 {
            return Err(invalid("min encryption version cannot be negative"));
        }
        if v != p.min_encryption_version {
            if v > p.latest_version {
                return Err(invalid(format!(
                    "cannot set min encryption version of {v}, latest key version is {}",
                    p.latest_version
                )));
            }
            p.min_encryption_version = v;
            changed = true;
        }
    }
    if p.min_encryption_version > 0 && p.min_encryption_version < p.min_decryption_version {
        return Err(invalid(format!(
            "cannot set min encryption/decryption values; min encryption version of {} must be greater than or equal to min decryption version of {}",
            p.min_encryption_version, p.min_decryption_version
        )));
    }
    if let Some(v) = deletion {
        if v != p.deletion_allowed {
            p.deletion_allowed = v;
            changed = true;
        }
    }
    if p.min_decryption_version == 0 {
        p.min_decryption_version = 1;
        changed = true;
    }
    // Exportability and plaintext backups can be turned on, never off.
    if exportable == Some(true) && !p.exportable {
        p.exportable = true;
        changed = true;
    }
    if backup == Some(true) && !p.allow_plaintext_backup {
        p.allow_plaintext_backup = true;
        changed = true;
    }
    if let Some(ns) = rotate {
        if ns != p.auto_rotate_period {
            p.auto_rotate_period = ns;
            changed = true;
        }
    }
    let ring = if changed {
        if p.min_available_version > p.min_encryption_version {
            return Err(invalid(
                "min encryption version should not be less than min available version",
            ));
        }
        if p.min_available_version > p.min_decryption_version {
            return Err(invalid(
                "min decryption version should not be less then min available version",
            ));
        }
        store.put_locked(ctx.storage, next).await?
    } else {
        current
    };
    let mut resp = EngineResponse::data(describe(&ring, &[])?);
    if let Some(w) = warning {
        resp.warnings.push(w.into());
    }
    Ok(resp)
}

pub(crate) async fn rotate(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let name = req.params.get("name").to_string();
    let ring = rotate_now(store, ctx, &name)
        .await?
        .ok_or_else(|| invalid("key not found"))?;
    Ok(EngineResponse::data(describe(&ring, &[])?))
}

/// Add a version to `name` now (the `rotate` path and the auto-rotation).
pub(crate) async fn rotate_now(
    store: &Store,
    ctx: &Ctx<'_>,
    name: &str,
) -> Result<Option<std::sync::Arc<KeyRing>>, EngineError> {
    let _w = store.lock(name).await;
    let Some(current) = store.get_locked(ctx.storage, name).await? else {
        return Ok(None);
    };
    let mut next = KeyRing::clone(&current);
    let now = ctx.clock.now();
    next = if next.kind().is_rsa() {
        tokio::task::spawn_blocking(move || next.rotate_in_memory(now).map(|()| next))
            .await
            .map_err(|e| crate::secrets::transit::failed(format!("key generation failed: {e}")))??
    } else {
        next.rotate_in_memory(now)?;
        next
    };
    Ok(Some(store.put_locked(ctx.storage, next).await?))
}

pub(crate) async fn trim(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let name = req.params.get("name").to_string();
    let wanted = fields::int(&req.data, "min_available_version")?;
    let ring = store
        .update(ctx.storage, &name, |ring| {
            let p = &mut ring.policy;
            let Some(v) = wanted else {
                return Err(KeyError::user("missing min_available_version"));
            };
            let refuse = |s: &str| Err(KeyError::user(s));
            match v {
                v if v < p.min_available_version => {
                    refuse("minimum available version cannot be decremented")
                }
                _ if p.min_encryption_version == 0 => refuse(
                    "minimum available version cannot be set when minimum encryption version is not set",
                ),
                _ if p.min_decryption_version == 0 => refuse(
                    "minimum available version cannot be set when minimum decryption version is not set",
                ),
                v if v > p.min_encryption_version => refuse(
                    "minimum available version cannot be greater than minmum encryption version",
                ),
                v if v > p.min_decryption_version => refuse(
                    "minimum available version cannot be greater than minimum decryption version",
                ),
                v if v < 0 => refuse("minimum available version cannot be negative"),
                0 => refuse("minimum available version should be positive"),
                v => {
                    p.min_available_version = v;
                    Ok(())
                }
            }
        })
        .await?
        .ok_or_else(|| invalid("invalid key name"))?;
    Ok(EngineResponse::data(describe(&ring, &[])?))
}

//! Keyless paths and mount settings: `hash/`, `random/` (path_hash.go, random_api.go),
//! `cache-config` and `config/keys`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{b64, b64_encode, invalid, string};
use crate::engine::{fields, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::{Data, Operation};
use crate::secrets::transit::keyring::hash::HashAlg;
use crate::secrets::transit::keyring::{go_atoi, symmetric};
use crate::secrets::transit::store::Store;

/// OpenBao's `APIMaxBytes`.
const MAX_RANDOM_BYTES: i64 = 128 * 1024;
/// OpenBao's smallest bounded cache.
const MIN_CACHE_SIZE: i64 = 10;
const CONFIG_KEYS: &str = "config/keys";
const CONFIG_CACHE: &str = "config/cache";

fn encode(bytes: &[u8], format: &str) -> String {
    match format {
        "hex" => hex::encode(bytes),
        _ => b64_encode(bytes),
    }
}

pub(crate) fn hash(req: EngineRequest) -> Result<EngineResponse, EngineError> {
    let data = &req.data;
    let Some(input) = data.get("input").filter(|v| !v.is_null()) else {
        return Err(invalid("input missing"));
    };
    let input = fields::weak_string(input).unwrap_or_default();
    let format = match string(data, "format")? {
        f if f.is_empty() => "hex".to_string(),
        f => f,
    };
    let algorithm = match req.params.get("urlalgorithm") {
        "" => match string(data, "algorithm")? {
            a if a.is_empty() => "sha2-256".to_string(),
            a => a,
        },
        url => url.to_string(),
    };
    let input =
        b64(&input).map_err(|e| invalid(format!("unable to decode input as base64: {e}")))?;
    if format != "hex" && format != "base64" {
        return Err(invalid(format!(
            "unsupported encoding format {format}; must be \"hex\" or \"base64\""
        )));
    }
    // `hash` offers the SHA-2 and SHA-3 families only (no sha1, no none).
    let alg = HashAlg::parse(&algorithm)
        .filter(|a| !matches!(a, HashAlg::None | HashAlg::Sha1))
        .ok_or_else(|| invalid(format!("unsupported algorithm {algorithm}")))?;
    let mut out = Data::new();
    out.insert("sum".into(), encode(&alg.digest(&input), &format).into());
    Ok(EngineResponse::data(out))
}

fn is_source(s: &str) -> bool {
    matches!(s, "" | "platform" | "seal" | "all")
}

pub(crate) fn random(req: EngineRequest) -> Result<EngineResponse, EngineError> {
    let data = &req.data;
    let body_bytes =
        || -> Result<i64, EngineError> { Ok(fields::int(data, "bytes")?.unwrap_or(32)) };
    let source_param = req.params.get("source");
    let url_bytes = req.params.get("urlbytes");
    // `random/<x>` is a source when it names one, else a byte count (OpenBao's parsing).
    let (source, bytes) = match (source_param, url_bytes) {
        ("", "") => ("platform".to_string(), body_bytes()?),
        ("", one) if is_source(one) => (one.to_string(), body_bytes()?),
        ("", one) => (
            "platform".to_string(),
            go_atoi(one).ok_or_else(|| {
                invalid(format!(
                    "error parsing url-set byte count: strconv.Atoi: parsing {one:?}: invalid syntax"
                ))
            })?,
        ),
        (src, n) => (
            src.to_string(),
            go_atoi(n).ok_or_else(|| {
                invalid(format!(
                    "error parsing url-set byte count: strconv.Atoi: parsing {n:?}: invalid syntax"
                ))
            })?,
        ),
    };
    let format = match string(data, "format")? {
        f if f.is_empty() => "base64".to_string(),
        f => f,
    };
    if bytes < 1 {
        return Err(invalid("'bytes' cannot be less than 1"));
    }
    if bytes > MAX_RANDOM_BYTES {
        return Err(invalid(format!(
            "'bytes' should be less than {MAX_RANDOM_BYTES}"
        )));
    }
    if format != "hex" && format != "base64" {
        return Err(invalid(format!(
            "unsupported encoding format {format:?}; must be \"hex\" or \"base64\""
        )));
    }
    let mut warnings = Vec::new();
    match source.as_str() {
        "" | "platform" | "all" => {}
        "seal" => warnings.push(
            "no seal/entropy augmentation available, using platform entropy source".to_string(),
        ),
        other => {
            return Err(invalid(format!(
                "unsupported entropy source {other:?}; must be \"platform\" or \"seal\", or \"all\""
            )))
        }
    }
    let random = zeroize::Zeroizing::new(symmetric::random_bytes(bytes as usize));
    let mut out = Data::new();
    out.insert("random_bytes".into(), encode(&random, &format).into());
    Ok(EngineResponse {
        warnings,
        ..EngineResponse::data(out)
    })
}

#[derive(Default, Serialize, Deserialize)]
struct KeysConfig {
    #[serde(default)]
    disable_upsert: bool,
}

#[derive(Default, Serialize, Deserialize)]
struct CacheConfig {
    #[serde(default)]
    size: i64,
}

async fn read_json<T: Default + for<'de> Deserialize<'de>>(
    ctx: &Ctx<'_>,
    key: &str,
) -> Result<T, EngineError> {
    match ctx.storage.get(key).await? {
        None => Ok(T::default()),
        Some(raw) => serde_json::from_slice(&raw)
            .map_err(|e| crate::secrets::transit::failed(format!("failed to decode {key}: {e}"))),
    }
}

async fn write_json<T: Serialize>(ctx: &Ctx<'_>, key: &str, v: &T) -> Result<(), EngineError> {
    let raw = serde_json::to_vec(v).map_err(|e| crate::secrets::transit::failed(e.to_string()))?;
    ctx.storage.put(key, &raw).await?;
    Ok(())
}

pub(crate) async fn read_disable_upsert(ctx: &Ctx<'_>) -> Result<bool, EngineError> {
    Ok(read_json::<KeysConfig>(ctx, CONFIG_KEYS)
        .await?
        .disable_upsert)
}

pub(crate) async fn read_cache_size(ctx: &Ctx<'_>) -> Result<i64, EngineError> {
    Ok(read_json::<CacheConfig>(ctx, CONFIG_CACHE).await?.size)
}

pub(crate) async fn config_keys(
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let mut cfg: KeysConfig = read_json(ctx, CONFIG_KEYS).await?;
    if req.op != Operation::Read {
        if let Some(v) = fields::boolean(&req.data, "disable_upsert")? {
            if v != cfg.disable_upsert {
                cfg.disable_upsert = v;
                write_json(ctx, CONFIG_KEYS, &cfg).await?;
            }
        }
    }
    let mut out = Data::new();
    out.insert("disable_upsert".into(), Value::Bool(cfg.disable_upsert));
    Ok(EngineResponse::data(out))
}

pub(crate) async fn cache_config(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let size = if req.op == Operation::Read {
        read_cache_size(ctx).await?
    } else {
        let size = fields::int(&req.data, "size")?.unwrap_or(0);
        if size != 0 && size < MIN_CACHE_SIZE {
            return Err(invalid(format!(
                "size must be 0 or a value greater or equal to {MIN_CACHE_SIZE}"
            )));
        }
        write_json(ctx, CONFIG_CACHE, &CacheConfig { size }).await?;
        store.set_cache_size(size as usize);
        size
    };
    let mut out = Data::new();
    out.insert("size".into(), size.into());
    Ok(EngineResponse::data(out))
}

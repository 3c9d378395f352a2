//! `hmac/` and the HMAC half of `verify/` (path_hmac.go). Every version of every key type
//! has its own HMAC key; for `hmac` keys it is the key itself.

use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::{b64, batch_input, batch_parse_error, int, invalid, item_string, string};
use crate::engine::{Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::Data;
use crate::secrets::transit::keyring::hash::HashAlg;
use crate::secrets::transit::keyring::{go_atoi, KeyRing};
use crate::secrets::transit::store::Store;

/// The URL's algorithm wins over the body's.
fn algorithm(req: &EngineRequest, fields: &[&str]) -> Result<String, EngineError> {
    let url = req.params.get("urlalgorithm");
    if !url.is_empty() {
        return Ok(url.to_string());
    }
    for f in fields {
        let v = string(&req.data, f)?;
        if !v.is_empty() {
            return Ok(v);
        }
    }
    Ok("sha2-256".into())
}

/// The batch (or the single request) as string maps, OpenBao's `batchRequestHMACItem`.
fn hmac_items(
    data: &Data,
    single: &[&str],
) -> Result<(Vec<Map<String, Value>>, bool), EngineError> {
    match batch_input(data)? {
        Some(items) if items.is_empty() => Err(invalid("missing batch input to process")),
        Some(items) => {
            let mut errors = Vec::new();
            for (i, item) in items.iter().enumerate() {
                for key in item.keys() {
                    item_string(item, key, i, &mut errors);
                }
            }
            if !errors.is_empty() {
                return Err(batch_parse_error(errors));
            }
            Ok((items, true))
        }
        None => {
            let mut m = Map::new();
            for f in single {
                if let Some(Value::String(s)) = data.get(*f) {
                    m.insert((*f).into(), s.clone().into());
                } else if let Some(v) = data.get(*f).filter(|v| !v.is_null()) {
                    m.insert(
                        (*f).into(),
                        crate::engine::fields::weak_string(v)
                            .unwrap_or_default()
                            .into(),
                    );
                }
            }
            Ok((vec![m], false))
        }
    }
}

fn get<'a>(item: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    item.get(key).and_then(Value::as_str)
}

fn answer(
    results: Vec<Result<Value, String>>,
    items: &[Map<String, Value>],
    batch: bool,
    field: &str,
) -> Result<EngineResponse, EngineError> {
    let mut data = Data::new();
    if batch {
        let list = results
            .into_iter()
            .zip(items)
            .map(|(r, item)| {
                let mut m = Map::new();
                match r {
                    // `omitempty`: a false `valid` is left out, as OpenBao does.
                    Ok(Value::Bool(false)) => {}
                    Ok(v) => {
                        m.insert(field.into(), v);
                    }
                    Err(e) => {
                        m.insert("error".into(), e.into());
                    }
                }
                m.insert(
                    "reference".into(),
                    get(item, "reference").unwrap_or("").into(),
                );
                Value::Object(m)
            })
            .collect();
        data.insert("batch_results".into(), Value::Array(list));
        return Ok(EngineResponse::data(data));
    }
    match results.into_iter().next() {
        Some(Ok(v)) => {
            data.insert(field.into(), v);
            Ok(EngineResponse::data(data))
        }
        Some(Err(e)) => Err(invalid(e)),
        None => Err(invalid("missing batch input to process")),
    }
}

pub(crate) async fn hmac(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let mut ver = int(&req.data, "key_version")?;
    let algo = algorithm(&req, &["algorithm"])?;
    let Some(ring) = store.get(ctx.storage, req.params.get("name")).await? else {
        return Err(invalid("encryption key not found"));
    };
    let p = &ring.policy;
    if ver == 0 {
        ver = p.latest_version;
    } else if ver != p.latest_version
        && p.min_encryption_version > 0
        && ver < p.min_encryption_version
    {
        return Err(invalid(
            "cannot generate HMAC: version is too old (disallowed by policy)",
        ));
    }
    let key = ring.hmac_key(ver).map_err(|e| invalid(e.to_string()))?;
    let hash = HashAlg::parse(&algo)
        .filter(|h| *h != HashAlg::None)
        .ok_or_else(|| invalid(format!("unsupported algorithm {algo:?}")))?;
    let (items, batch) = hmac_items(&req.data, &["input"])?;
    if !batch && !items[0].contains_key("input") {
        return Err(invalid("missing input for HMAC"));
    }
    let results = items
        .iter()
        .map(|item| {
            let input = get(item, "input").ok_or("missing input for HMAC")?;
            let input = b64(input).map_err(|e| format!("unable to decode input as base64: {e}"))?;
            let mac = hash.hmac(key, &input).unwrap_or_default();
            Ok(Value::String(format!(
                "vault:v{ver}:{}",
                super::b64_encode(&mac)
            )))
        })
        .collect::<Vec<Result<Value, String>>>();
    answer(results, &items, batch, "hmac")
}

/// `verify/` with `hmac` (the sign module hands these over).
pub(crate) async fn verify_hmac(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let algo = algorithm(&req, &["hash_algorithm", "algorithm"])?;
    let Some(ring) = store.get(ctx.storage, req.params.get("name")).await? else {
        return Err(invalid("encryption key not found"));
    };
    let hash = HashAlg::parse(&algo)
        .filter(|h| *h != HashAlg::None)
        .ok_or_else(|| invalid(format!("invalid hash algorithm {algo:?}")))?;
    let (mut items, batch) = hmac_items(&req.data, &["input", "hmac"])?;
    if !batch {
        // A single request's fields default to empty strings (`d.Get`).
        for f in ["input", "hmac"] {
            items[0]
                .entry(f)
                .or_insert_with(|| Value::String(String::new()));
        }
    }
    let results = items
        .iter()
        .map(|item| verify_one(&ring, hash, item).map(Value::Bool))
        .collect::<Vec<_>>();
    answer(results, &items, batch, "valid")
}

fn verify_one(ring: &KeyRing, hash: HashAlg, item: &Map<String, Value>) -> Result<bool, String> {
    let input = get(item, "input").ok_or("missing input")?;
    let input = b64(input).map_err(|e| format!("unable to decode input as base64: {e}"))?;
    let mac = get(item, "hmac").ok_or("missing hmac")?;
    let rest = mac
        .strip_prefix("vault:v")
        .ok_or("invalid HMAC to verify: no prefix")?;
    let (ver, body) = rest
        .split_once(':')
        .ok_or("invalid HMAC: wrong number of fields")?;
    let ver = go_atoi(ver).ok_or("invalid HMAC: version number could not be decoded")?;
    let given =
        b64(body).map_err(|e| format!("unable to decode verification HMAC as base64: {e}"))?;
    let p = &ring.policy;
    if ver > p.latest_version {
        return Err("invalid HMAC: version is too new".into());
    }
    if p.min_decryption_version > 0 && ver < p.min_decryption_version {
        return Err("cannot verify HMAC: version is too old (disallowed by policy)".into());
    }
    let key = ring.hmac_key(ver).map_err(|e| e.to_string())?;
    let mac = hash.hmac(key, &input).unwrap_or_default();
    Ok(mac.ct_eq(&given).into())
}

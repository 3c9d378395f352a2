//! `sign/` and `verify/` (path_sign_verify.go): the request fields, batches and the answer
//! shapes; the signing itself is `KeyRing::sign` / `KeyRing::verify`. `verify/` with
//! `hmac` instead of `signature` goes to `hmac::verify_hmac`.
//!
//! OpenBao's status rules here, which differ from `encrypt/`'s: a batch answers 200 with
//! the failed items' `error`s whatever failed; a single request answers 400 for its own
//! decoding errors and, on signing, 500 for anything `SignWithOptions` refuses (user errors
//! included, in go-multierror's text); on verifying, 400 for user errors and 500 otherwise.

use serde_json::{Map, Value};

use super::{b64, b64_encode, boolean, int, invalid, string};
use crate::engine::{fields, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::{multierror, Data};
use crate::secrets::transit::keyring::asymmetric::{
    Marshaling, RsaPadding, SaltLength, SignOptions,
};
use crate::secrets::transit::keyring::hash::HashAlg;
use crate::secrets::transit::keyring::{KeyError, KeyRing, KeyType};
use crate::secrets::transit::store::Store;

const DEFAULT_HASH: &str = "sha2-256";

/// A Go error returned by the handler: 500 in go-multierror's text.
fn failed(s: impl Into<String>) -> EngineError {
    EngineError::Failed(multierror(&[s.into()]))
}

/// The options every item shares, parsed in OpenBao's order.
struct Common {
    opts: SignOptions,
    prehashed: bool,
    sig_algorithm: String,
}

fn common(req: &EngineRequest) -> Result<Common, EngineError> {
    let mut hash = req.params.get("urlalgorithm").to_string();
    if hash.is_empty() {
        hash = string(&req.data, "hash_algorithm")?;
    }
    if hash.is_empty() {
        hash = string(&req.data, "algorithm")?;
    }
    if hash.is_empty() {
        hash = DEFAULT_HASH.into();
    }
    let Some(hash_alg) = HashAlg::parse(&hash) else {
        return Err(invalid(format!(
            "invalid hash algorithm {}",
            go_quote(&hash)
        )));
    };
    let marshaling =
        fields::string(&req.data, "marshaling_algorithm")?.unwrap_or_else(|| "asn1".into());
    let marshaling = match marshaling.as_str() {
        "asn1" => Marshaling::Asn1,
        "jws" => Marshaling::Jws,
        other => {
            return Err(invalid(format!(
                "invalid marshaling type {}",
                go_quote(other)
            )))
        }
    };
    let prehashed = boolean(&req.data, "prehashed")?;
    let sig_algorithm = string(&req.data, "signature_algorithm")?;
    let salt = salt_length(&req.data)?;
    let (padding, unknown_padding) = match sig_algorithm.as_str() {
        "" | "pss" => (RsaPadding::Pss, None),
        "pkcs1v15" => (RsaPadding::Pkcs1v15, None),
        other => (RsaPadding::Pss, Some(other.to_string())),
    };
    let mut opts = SignOptions::new(hash_alg);
    opts.padding = padding;
    opts.marshaling = marshaling;
    opts.salt = salt;
    opts.unknown_padding = unknown_padding;
    Ok(Common {
        opts,
        prehashed,
        sig_algorithm,
    })
}

/// Go's `%q` for the plain texts these fields hold.
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// `getSaltLength`.
fn salt_length(data: &Data) -> Result<SaltLength, EngineError> {
    let Some(raw) = fields::string(data, "salt_length")? else {
        return Ok(SaltLength::Auto);
    };
    match raw.to_lowercase().as_str() {
        "auto" => Ok(SaltLength::Auto),
        "hash" => Ok(SaltLength::Hash),
        lower => {
            let n = crate::secrets::transit::keyring::go_atoi(lower).ok_or_else(|| {
                invalid(format!(
                    "salt length neither 'auto', 'hash', nor an int: {raw}"
                ))
            })?;
            match n {
                n if n < -1 => Err(invalid(format!("salt length is invalid: {n}"))),
                -1 => Ok(SaltLength::Hash),
                0 => Ok(SaltLength::Auto),
                n => Ok(SaltLength::Bytes(n as usize)),
            }
        }
    }
}

/// `batch_input` decoded as mapstructure decodes it into `[]map[string]string` (numbers
/// keep their text, null is an empty string); `None` without one. Failures are 500s.
fn batch_items(
    data: &Data,
    item_type: &str,
) -> Result<Option<Vec<Map<String, Value>>>, EngineError> {
    let raw = match data.get("batch_input") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(other) => {
            let kind = match other {
                Value::Object(_) => "map",
                Value::Bool(_) => "bool",
                _ => "string",
            };
            return Err(failed(format!(
                "failed to parse batch input: '' source data must be an array or slice, got {kind}"
            )));
        }
    };
    let mut errors = Vec::new();
    let mut items = Vec::with_capacity(raw.len());
    for (i, v) in raw.iter().enumerate() {
        let Value::Object(m) = v else {
            errors.push(format!(
                "'[{i}]' expected type '{item_type}', got unconvertible type '{}'",
                fields::go_type(v)
            ));
            continue;
        };
        let mut item = Map::new();
        for (k, v) in m {
            match v {
                Value::String(s) => {
                    item.insert(k.clone(), s.clone().into());
                }
                Value::Number(n) => {
                    item.insert(k.clone(), n.to_string().into());
                }
                Value::Null => {
                    item.insert(k.clone(), String::new().into());
                }
                other => errors.push(format!(
                    "'[{i}][{k}]' expected type 'string', got unconvertible type '{}'",
                    fields::go_type(other)
                )),
            }
        }
        items.push(item);
    }
    if !errors.is_empty() {
        return Err(failed(format!(
            "failed to parse batch input: decoding failed due to the following error(s):\n\n{}",
            errors.join("\n")
        )));
    }
    if items.is_empty() {
        return Err(invalid("missing batch input to process"));
    }
    Ok(Some(items))
}

fn get<'a>(item: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    item.get(key).and_then(Value::as_str)
}

/// One item's input, decoded and hashed as the key type wants.
fn item_input(ring: &KeyRing, c: &Common, item: &Map<String, Value>) -> Result<Vec<u8>, String> {
    let raw = get(item, "input").ok_or("missing input")?;
    let mut input = b64(raw).map_err(|e| format!("unable to decode input as base64: {e}"))?;
    if ring.kind().hash_signature_input() && !c.prehashed {
        input = c.opts.hash.digest(&input);
    }
    Ok(input)
}

fn item_context(item: &Map<String, Value>) -> Result<Vec<u8>, String> {
    match get(item, "context") {
        None | Some("") => Ok(Vec::new()),
        Some(c) => b64(c).map_err(|_| "failed to base64-decode context".to_string()),
    }
}

/// How one item failed: the text, and whether OpenBao answers it 400 (its own
/// `ErrInvalidRequest` or a `UserError`) or 500 for a single request.
struct ItemError {
    text: String,
    user: bool,
}

impl ItemError {
    fn request(text: String) -> Self {
        Self { text, user: true }
    }
}

/// A signature and, for derived ed25519 keys, the public key it verifies under.
type Signed = (String, Option<Vec<u8>>);

pub(crate) async fn sign(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let ver = int(&req.data, "key_version")?;
    let c = common(&req)?;
    let Some(ring) = store.get(ctx.storage, req.params.get("name")).await? else {
        return Err(invalid("signing key not found"));
    };
    let kind = ring.kind();
    if !kind.signing_supported() {
        return Err(invalid(format!("key type {kind} does not support signing")));
    }
    check_none(&c, kind)?;
    let batch = batch_items(&req.data, "transit.batchRequestSignItem")?;
    let is_batch = batch.is_some();
    let items = match batch {
        Some(items) => items,
        None => {
            let mut m = Map::new();
            m.insert("input".into(), string(&req.data, "input")?.into());
            m.insert("context".into(), string(&req.data, "context")?.into());
            vec![m]
        }
    };
    let results: Vec<Result<Signed, ItemError>> = items
        .iter()
        .map(|item| {
            let input = item_input(&ring, &c, item).map_err(ItemError::request)?;
            let context = item_context(item).map_err(ItemError::request)?;
            ring.sign(ver, &context, &input, &c.opts)
                .map_err(|e| ItemError {
                    // Whatever `SignWithOptions` refuses is the handler's Go error (500).
                    user: false,
                    text: e.to_string(),
                })
        })
        .collect();
    let key_version = if ver == 0 { ring.latest() } else { ver };
    let mut data = Data::new();
    if is_batch {
        let list = results
            .into_iter()
            .zip(&items)
            .map(|(r, item)| {
                let mut m = Map::new();
                match r {
                    Ok((sig, public)) => {
                        m.insert("signature".into(), sig.into());
                        m.insert("key_version".into(), key_version.into());
                        if let Some(p) = public.filter(|p| !p.is_empty()) {
                            m.insert("publickey".into(), b64_encode(&p).into());
                        }
                    }
                    Err(e) => {
                        m.insert("key_version".into(), 0.into());
                        m.insert("error".into(), e.text.into());
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
        Some(Ok((sig, public))) => {
            data.insert("signature".into(), sig.into());
            data.insert("key_version".into(), key_version.into());
            if let Some(p) = public.filter(|p| !p.is_empty()) {
                data.insert("public_key".into(), b64_encode(&p).into());
            }
            Ok(EngineResponse::data(data))
        }
        Some(Err(e)) if e.user => Err(invalid(e.text)),
        Some(Err(e)) => Err(failed(e.text)),
        None => Err(invalid("missing batch input to process")),
    }
}

/// `hash_algorithm=none` only with `prehashed` and PKCS#1 v1.5, for the types that hash
/// their input (OpenBao 2.7.2 lets ed25519, which never hashes, through).
fn check_none(c: &Common, kind: KeyType) -> Result<(), EngineError> {
    if kind.hash_signature_input()
        && c.opts.hash == HashAlg::None
        && (!c.prehashed || c.sig_algorithm != "pkcs1v15")
    {
        return Err(invalid(
            "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15",
        ));
    }
    // What aws-lc-rs cannot sign or verify with an RSA key is refused up front, as the
    // caller's to change (docs/compat.md).
    if kind.is_rsa() {
        crate::secrets::transit::keyring::asymmetric::rsa_hash_supported(c.opts.hash)
            .map_err(|e| invalid(e.to_string()))?;
    }
    Ok(())
}

pub(crate) async fn verify(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let batch = batch_items(&req.data, "transit.batchRequestVerifyItem")?;
    let is_batch = batch.is_some();
    let items = match batch {
        Some(items) => items,
        None => {
            let mut m = Map::new();
            m.insert("input".into(), string(&req.data, "input")?.into());
            // Present (even as null) counts, as `GetOk` does.
            for f in ["signature", "hmac"] {
                if req.data.contains_key(f) {
                    m.insert(f.into(), string(&req.data, f)?.into());
                }
            }
            m.insert("context".into(), string(&req.data, "context")?.into());
            vec![m]
        }
    };
    let (mut sig_found, mut hmac_found, mut missing) = (false, false, false);
    for item in &items {
        if item.contains_key("signature") {
            sig_found = true;
        } else if item.contains_key("hmac") {
            hmac_found = true;
        } else {
            missing = true;
        }
    }
    if !is_batch && sig_found && hmac_found {
        return Err(invalid("provide one of 'signature' or 'hmac'"));
    }
    if !is_batch && !sig_found && !hmac_found {
        return Err(invalid(
            "neither a 'signature' nor an 'hmac' were given to verify",
        ));
    }
    if sig_found && hmac_found {
        return Err(invalid(
            "elements of batch_input must all provide 'signature' or all provide 'hmac'",
        ));
    }
    if missing && sig_found {
        return Err(invalid(
            "some elements of batch_input are missing 'signature'",
        ));
    }
    if missing && hmac_found {
        return Err(invalid("some elements of batch_input are missing 'hmac'"));
    }
    if missing {
        return Err(invalid(
            "no batch_input elements have 'signature' or 'hmac'",
        ));
    }
    if hmac_found {
        return super::hmac::verify_hmac(store, ctx, req).await;
    }

    let c = common(&req)?;
    let Some(ring) = store.get(ctx.storage, req.params.get("name")).await? else {
        return Err(invalid("signature verification key not found"));
    };
    let kind = ring.kind();
    if !kind.signing_supported() {
        return Err(invalid(format!(
            "key type {kind} does not support verification"
        )));
    }
    check_none(&c, kind)?;
    let results: Vec<Result<bool, ItemError>> = items
        .iter()
        .map(|item| {
            let raw =
                get(item, "input").ok_or_else(|| ItemError::request("missing input".into()))?;
            let mut input = b64(raw).map_err(|e| {
                ItemError::request(format!("unable to decode input as base64: {e}"))
            })?;
            let signature = get(item, "signature")
                .ok_or_else(|| ItemError::request("missing signature".into()))?;
            if kind.hash_signature_input() && !c.prehashed {
                input = c.opts.hash.digest(&input);
            }
            let context = item_context(item).map_err(ItemError::request)?;
            ring.verify(&context, &input, signature, &c.opts)
                .map_err(|e| ItemError {
                    user: matches!(e, KeyError::User(_)),
                    text: e.to_string(),
                })
        })
        .collect();
    let mut data = Data::new();
    if is_batch {
        let list = results
            .into_iter()
            .zip(&items)
            .map(|(r, item)| {
                let mut m = Map::new();
                match r {
                    Ok(valid) => {
                        m.insert("valid".into(), valid.into());
                    }
                    Err(e) => {
                        m.insert("valid".into(), false.into());
                        m.insert("error".into(), e.text.into());
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
        Some(Ok(valid)) => {
            data.insert("valid".into(), valid.into());
            Ok(EngineResponse::data(data))
        }
        Some(Err(e)) if e.user => Err(invalid(e.text)),
        Some(Err(e)) => Err(failed(e.text)),
        None => Err(invalid("missing batch input to process")),
    }
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;

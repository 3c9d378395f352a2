//! `encrypt/`, `decrypt/`, `rewrap/` and `datakey/`: path_encrypt.go, path_decrypt.go,
//! path_rewrap.go and path_datakey.go, in their order of checks and with their texts.

use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use super::{b64, b64_encode, batch_input, batch_parse_error, batch_response, int, invalid};
use super::{item_int, item_string, string, Outcome};
use crate::engine::{Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::{Data, Operation};
use crate::secrets::transit::keyring::{KeyError, KeyRing, KeyType, NewKey};
use crate::secrets::transit::store::Store;

/// One item of a batch (or the single request), as `BatchRequestItem`.
#[derive(Default)]
struct Item {
    plaintext: String,
    ciphertext: String,
    context: String,
    decoded_context: Vec<u8>,
    /// The base64-decoded plaintext (encrypt), decoded once when the item is checked.
    decoded_plaintext: Zeroizing<Vec<u8>>,
    key_version: i64,
    associated_data: String,
    reference: String,
    /// Set when the item failed before the key was used.
    error: Option<String>,
}

/// Read `batch_input`, or the top-level fields as one item; `required` names the field that
/// must be there (`plaintext` or `ciphertext`).
fn items(data: &Data, required: &str) -> Result<(Vec<Item>, bool), EngineError> {
    if let Some(raw) = batch_input(data)? {
        if raw.is_empty() {
            return Err(invalid("missing batch input to process"));
        }
        let mut errors = Vec::new();
        let mut out = Vec::with_capacity(raw.len());
        for (i, m) in raw.iter().enumerate() {
            out.push(item_from(m, i, required, &mut errors));
        }
        if !errors.is_empty() {
            return Err(batch_parse_error(errors));
        }
        return Ok((out, true));
    }
    let missing = match required {
        "plaintext" => data.get("plaintext").is_none_or(Value::is_null),
        _ => string(data, "ciphertext")?.is_empty(),
    };
    if missing {
        return Err(invalid(match required {
            "plaintext" => "missing plaintext to encrypt",
            _ => "missing ciphertext to decrypt",
        }));
    }
    Ok((
        vec![Item {
            plaintext: string(data, "plaintext")?,
            ciphertext: string(data, "ciphertext")?,
            context: string(data, "context")?,
            key_version: int(data, "key_version")?,
            associated_data: string(data, "associated_data")?,
            ..Item::default()
        }],
        false,
    ))
}

fn item_from(m: &Map<String, Value>, i: usize, required: &str, errors: &mut Vec<String>) -> Item {
    if !m.contains_key(required) {
        errors.push(match required {
            "plaintext" => format!("'[{i}].plaintext' missing plaintext to encrypt"),
            _ => format!("'[{i}].ciphertext' missing ciphertext to decrypt"),
        });
    }
    Item {
        plaintext: item_string(m, "plaintext", i, errors),
        ciphertext: item_string(m, "ciphertext", i, errors),
        context: item_string(m, "context", i, errors),
        key_version: item_int(m, "key_version", i, errors),
        associated_data: item_string(m, "associated_data", i, errors),
        reference: item_string(m, "reference", i, errors),
        ..Item::default()
    }
}

/// All items carry a context, or none does; decode each.
fn contexts(items: &mut [Item]) -> Result<(), EngineError> {
    let set = !items[0].context.is_empty();
    for item in items.iter_mut() {
        if item.context.is_empty() == set {
            return Err(invalid(
                "context should be set either in all the request blocks or in none",
            ));
        }
    }
    for item in items.iter_mut() {
        if item.error.is_none() && !item.context.is_empty() {
            match b64(&item.context) {
                Ok(c) => item.decoded_context = c,
                Err(e) => item.error = Some(e),
            }
        }
    }
    Ok(())
}

/// `associated_data` is base64, for AEAD key types only.
fn associated_data(ring: &KeyRing, item: &Item, i: usize) -> Result<Vec<u8>, KeyError> {
    if item.associated_data.is_empty() {
        return Ok(Vec::new());
    }
    if !ring.kind().associated_data_supported() {
        return Err(KeyError::user(format!(
            "'[{i}].associated_data' provided for non-AEAD cipher suite {}",
            ring.kind()
        )));
    }
    b64(&item.associated_data).map_err(|e| {
        KeyError::internal(format!(
            "unable to get associated_data/additional_data from factory[0]: {e}"
        ))
    })
}

fn key_not_found() -> EngineError {
    invalid("encryption key not found")
}

/// The key for an encrypt request, created first when missing and upserts are allowed.
/// Returns the ring and whether this request created it.
async fn encryption_key(
    store: &Store,
    ctx: &Ctx<'_>,
    data: &Data,
    name: &str,
    context_set: bool,
    upsert: bool,
) -> Result<(std::sync::Arc<KeyRing>, bool), EngineError> {
    if let Some(ring) = store.get(ctx.storage, name).await? {
        return Ok((ring, false));
    }
    if !upsert {
        return Err(key_not_found());
    }
    let convergent = super::boolean(data, "convergent_encryption")?;
    if convergent && !context_set {
        return Err(invalid(
            "convergent encryption requires derivation to be enabled, so context is required",
        ));
    }
    let kind_name = match string(data, "type")? {
        t if t.is_empty() => "aes256-gcm96".to_string(),
        t => t,
    };
    let kind = match KeyType::parse(&kind_name) {
        Some(k) if k.is_symmetric_aead() => k,
        Some(k) if k.is_ecdsa() => {
            return Err(invalid(format!(
                "key type {kind_name} not supported for this operation"
            )))
        }
        _ => return Err(invalid(format!("unknown key type {kind_name}"))),
    };
    let new = NewKey {
        name: name.to_string(),
        kind,
        derived: context_set,
        convergent,
        exportable: false,
        allow_plaintext_backup: false,
        auto_rotate_period_ns: 0,
        key_size: 0,
    };
    let _w = store.lock(name).await;
    if let Some(ring) = store.get_locked(ctx.storage, name).await? {
        return Ok((ring, false));
    }
    let ring = KeyRing::create(&new, ctx.clock.now())?;
    Ok((store.put_locked(ctx.storage, ring).await?, true))
}

pub(crate) async fn encrypt(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
    upsert: bool,
) -> Result<EngineResponse, EngineError> {
    let name = req.params.get("name").to_string();
    let (mut items, batch) = items(&req.data, "plaintext")?;
    let context_set = !items[0].context.is_empty();
    // Plaintexts are checked before the key is touched (so a bad batch creates nothing).
    for item in items.iter_mut() {
        match b64(&item.plaintext) {
            Ok(p) => item.decoded_plaintext = Zeroizing::new(p),
            Err(e) => item.error = Some(e),
        }
    }
    contexts(&mut items)?;
    let (ring, created) = encryption_key(store, ctx, &req.data, &name, context_set, upsert).await?;

    let mut outcome = Outcome::default();
    let mut results = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let result = match &item.error {
            Some(e) => Err(KeyError::user(e.clone())),
            None => associated_data(&ring, item, i).and_then(|aad| {
                ring.encrypt(
                    item.key_version,
                    &item.decoded_context,
                    &[],
                    &item.decoded_plaintext,
                    &aad,
                )
            }),
        };
        results.push(match result {
            Ok(ciphertext) => {
                outcome.successes = true;
                let version = match item.key_version {
                    0 => ring.latest(),
                    v => v,
                };
                Ok((ciphertext, version))
            }
            Err(e) => {
                if e.is_user() {
                    outcome.user_error = true;
                } else {
                    outcome.internal_error = true;
                }
                Err(e)
            }
        });
    }

    let mut resp = if batch {
        let list = results
            .into_iter()
            .zip(&items)
            .map(|(r, item)| {
                let mut m = Map::new();
                match r {
                    Ok((ciphertext, version)) => {
                        m.insert("ciphertext".into(), ciphertext.into());
                        m.insert("key_version".into(), version.into());
                    }
                    Err(e) => {
                        m.insert("error".into(), e.to_string().into());
                    }
                }
                m.insert("reference".into(), item.reference.clone().into());
                Value::Object(m)
            })
            .collect::<Vec<_>>();
        let mut data = Data::new();
        data.insert("batch_results".into(), Value::Array(list));
        batch_response(data, &outcome, &req.data)?
    } else {
        match results.pop() {
            Some(Ok((ciphertext, version))) => {
                let mut data = Data::new();
                data.insert("ciphertext".into(), ciphertext.into());
                data.insert("key_version".into(), version.into());
                EngineResponse::data(data)
            }
            Some(Err(e)) => return Err(e.into()),
            None => return Err(invalid("missing plaintext to encrypt")),
        }
    };
    if req.op == Operation::Create && !created {
        resp.warnings.push(
            "Attempted creation of the key during the encrypt operation, but it was created beforehand"
                .into(),
        );
    }
    Ok(resp)
}

/// The ciphertexts of a decrypt or rewrap request, checked as OpenBao checks them before the
/// key is looked up, and the key.
async fn ciphertext_items(
    store: &Store,
    ctx: &Ctx<'_>,
    req: &EngineRequest,
) -> Result<(Vec<Item>, bool, std::sync::Arc<KeyRing>), EngineError> {
    let (mut items, batch) = items(&req.data, "ciphertext")?;
    for item in items.iter_mut() {
        if item.ciphertext.is_empty() {
            item.error = Some("missing ciphertext to decrypt".into());
        }
    }
    contexts(&mut items)?;
    let Some(ring) = store.get(ctx.storage, req.params.get("name")).await? else {
        return Err(key_not_found());
    };
    Ok((items, batch, ring))
}

pub(crate) async fn decrypt(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let (items, batch, ring) = ciphertext_items(store, ctx, &req).await?;
    let mut outcome = Outcome::default();
    let mut results = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let result = match &item.error {
            Some(e) => Err(KeyError::user(e.clone())),
            None => associated_data(&ring, item, i)
                .and_then(|aad| ring.decrypt(&item.decoded_context, &item.ciphertext, &aad)),
        };
        match &result {
            Ok(_) => outcome.successes = true,
            Err(e) if e.is_user() => outcome.user_error = true,
            Err(_) => outcome.internal_error = true,
        }
        results.push(result.map(|p| b64_encode(&p)));
    }
    if batch {
        let list = results
            .into_iter()
            .zip(&items)
            .map(|(r, item)| match r {
                Ok(p) => json!({"plaintext": p, "reference": item.reference}),
                Err(e) => {
                    json!({"plaintext": "", "error": e.to_string(), "reference": item.reference})
                }
            })
            .collect::<Vec<_>>();
        let mut data = Data::new();
        data.insert("batch_results".into(), Value::Array(list));
        return batch_response(data, &outcome, &req.data);
    }
    match results.pop() {
        Some(Ok(p)) => {
            let mut data = Data::new();
            data.insert("plaintext".into(), p.into());
            Ok(EngineResponse::data(data))
        }
        Some(Err(e)) => Err(e.into()),
        None => Err(invalid("missing ciphertext to decrypt")),
    }
}

pub(crate) async fn rewrap(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let (items, batch, ring) = ciphertext_items(store, ctx, &req).await?;
    let mut results = Vec::with_capacity(items.len());
    for item in &items {
        if let Some(e) = &item.error {
            results.push(Err(e.clone()));
            continue;
        }
        // A failure inside (not the caller's) fails the whole request, as OpenBao's.
        let rewrapped = ring
            .decrypt(&item.decoded_context, &item.ciphertext, &[])
            .and_then(|p| ring.encrypt(item.key_version, &item.decoded_context, &[], &p, &[]));
        match rewrapped {
            Ok(c) => {
                let version = match item.key_version {
                    0 => ring.latest(),
                    v => v,
                };
                results.push(Ok((c, version)));
            }
            Err(KeyError::User(e)) => results.push(Err(e)),
            Err(e) => return Err(e.into()),
        }
    }
    if batch {
        let list = results
            .into_iter()
            .zip(&items)
            .map(|(r, item)| match r {
                Ok((c, v)) => {
                    json!({"ciphertext": c, "key_version": v, "reference": item.reference})
                }
                Err(e) => json!({"error": e, "reference": item.reference}),
            })
            .collect::<Vec<_>>();
        let mut data = Data::new();
        data.insert("batch_results".into(), Value::Array(list));
        return Ok(EngineResponse::data(data));
    }
    match results.pop() {
        Some(Ok((c, v))) => {
            let mut data = Data::new();
            data.insert("ciphertext".into(), c.into());
            data.insert("key_version".into(), v.into());
            Ok(EngineResponse::data(data))
        }
        Some(Err(e)) => Err(invalid(e)),
        None => Err(invalid("missing ciphertext to decrypt")),
    }
}

pub(crate) async fn datakey(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let ver = int(&req.data, "key_version")?;
    let with_plaintext = match req.params.get("plaintext") {
        "plaintext" => true,
        "wrapped" => false,
        _ => return Err(invalid("Invalid path, must be 'plaintext' or 'wrapped'")),
    };
    let context = match string(&req.data, "context")? {
        c if c.is_empty() => Vec::new(),
        c => b64(&c).map_err(|_| invalid("failed to base64-decode context"))?,
    };
    let Some(ring) = store.get(ctx.storage, req.params.get("name")).await? else {
        return Err(key_not_found());
    };
    let len = match fields_bits(&req.data)? {
        512 => 64,
        256 => 32,
        128 => 16,
        _ => return Err(invalid("invalid bit length")),
    };
    let key = Zeroizing::new(crate::secrets::transit::keyring::symmetric::random_bytes(
        len,
    ));
    let aad = match string(&req.data, "associated_data")? {
        a if a.is_empty() => Vec::new(),
        a => {
            if !ring.kind().associated_data_supported() {
                return Err(invalid(format!(
                    "'associated_data' provided for non-AEAD cipher suite {}",
                    ring.kind()
                )));
            }
            b64(&a).map_err(|e| {
                crate::secrets::transit::failed(format!(
                    "unable to get associated_data/additional_data from factory[0]: {e}"
                ))
            })?
        }
    };
    let ciphertext = ring.encrypt(ver, &context, &[], &key, &aad)?;
    let mut data = Data::new();
    data.insert("ciphertext".into(), ciphertext.into());
    data.insert(
        "key_version".into(),
        (if ver == 0 { ring.latest() } else { ver }).into(),
    );
    if with_plaintext {
        data.insert("plaintext".into(), b64_encode(&key).into());
    }
    Ok(EngineResponse::data(data))
}

fn fields_bits(data: &Data) -> Result<i64, EngineError> {
    Ok(crate::engine::fields::int(data, "bits")?.unwrap_or(256))
}

//! The engine through its path table, on a real barrier over memory: the flows of the
//! issue (keys, encrypt/decrypt, rotation, min versions, rewrap, batches, derivation,
//! convergence, HMAC, datakeys, backup/restore, trim with the archive, auto-rotation).

use std::time::Duration;

use serde_json::{json, Value};

use super::Transit;
use crate::engine::testing::Harness;
use crate::engine::{EngineError, EngineResponse};
use crate::logical::{Body, Operation};

const U: Operation = Operation::Update;

fn b64(s: &[u8]) -> String {
    super::paths::b64_encode(s)
}

async fn encrypt(h: &Harness, key: &str, body: Value) -> String {
    let d = h.data(U, &format!("encrypt/{key}"), body).await;
    d["ciphertext"].as_str().expect("ciphertext").to_string()
}

async fn decrypt(h: &Harness, key: &str, body: Value) -> Result<String, String> {
    match h.call(U, &format!("decrypt/{key}"), body).await {
        Ok(EngineResponse {
            body: Body::Data(d),
            ..
        }) => Ok(d["plaintext"].as_str().expect("plaintext").to_string()),
        Ok(other) => panic!("decrypt: {other:?}"),
        Err(e) => Err(e.to_string()),
    }
}

fn err(r: Result<EngineResponse, EngineError>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(resp) => panic!("expected an error, got {resp:?}"),
    }
}

#[tokio::test]
async fn encrypt_rotate_min_version_rewrap() {
    let h = Harness::new(Transit::default());
    let created = h.data(U, "keys/app", json!({})).await;
    assert_eq!(created["type"], "aes256-gcm96");
    assert_eq!(created["latest_version"], 1);
    assert!(created["keys"]["1"].is_i64());
    let pt = b64(b"hello world");
    let v1 = encrypt(&h, "app", json!({"plaintext": pt})).await;
    assert!(v1.starts_with("vault:v1:"), "{v1}");
    // 12-byte nonce + 11 bytes + 16-byte tag, base64: OpenBao's 52 characters.
    assert_eq!(v1.len() - "vault:v1:".len(), 52);
    assert_eq!(
        decrypt(&h, "app", json!({"ciphertext": v1})).await,
        Ok(pt.clone())
    );

    let rotated = h.data(U, "keys/app/rotate", json!({})).await;
    assert_eq!(rotated["latest_version"], 2);
    let v2 = encrypt(&h, "app", json!({"plaintext": pt})).await;
    assert!(v2.starts_with("vault:v2:"));
    assert_eq!(
        decrypt(&h, "app", json!({"ciphertext": v1})).await,
        Ok(pt.clone())
    );
    // Encrypting with an old version on request.
    let old = h
        .data(U, "encrypt/app", json!({"plaintext": pt, "key_version": 1}))
        .await;
    assert_eq!(old["key_version"], 1);

    let rewrapped = h.data(U, "rewrap/app", json!({"ciphertext": v1})).await;
    let rewrapped = rewrapped["ciphertext"]
        .as_str()
        .expect("ciphertext")
        .to_string();
    assert!(rewrapped.starts_with("vault:v2:"));

    h.data(U, "keys/app/config", json!({"min_decryption_version": 2}))
        .await;
    assert_eq!(
        decrypt(&h, "app", json!({"ciphertext": v1})).await,
        Err("ciphertext or signature version is disallowed by policy (too old)".into())
    );
    assert_eq!(
        decrypt(&h, "app", json!({"ciphertext": rewrapped})).await,
        Ok(pt.clone())
    );
    // Version 1 went to the archive; lowering the minimum brings it back.
    h.data(U, "keys/app/config", json!({"min_decryption_version": 1}))
        .await;
    assert_eq!(decrypt(&h, "app", json!({"ciphertext": v1})).await, Ok(pt));

    let tampered = format!("{}A", &v2[..v2.len() - 1]);
    let tampered = if tampered == v2 {
        format!("{}B", &v2[..v2.len() - 1])
    } else {
        tampered
    };
    assert_eq!(
        decrypt(&h, "app", json!({"ciphertext": tampered})).await,
        Err("cipher: message authentication failed".into())
    );
    assert_eq!(
        decrypt(&h, "app", json!({"ciphertext": "vault:v9:AAAA"})).await,
        Err("invalid ciphertext: version is too new".into())
    );
    assert_eq!(
        decrypt(&h, "app", json!({"ciphertext": "nope"})).await,
        Err("invalid ciphertext: no prefix".into())
    );
    assert_eq!(
        err(h
            .call(U, "encrypt/app", json!({"plaintext": "not base64!"}))
            .await),
        "illegal base64 data at input byte 3"
    );
    assert_eq!(
        err(h.call(U, "keys/x", json!({"type": "aes512"})).await),
        "unknown key type aes512"
    );
    // Deletion needs deletion_allowed.
    assert_eq!(
        err(h.call(Operation::Delete, "keys/app", json!({})).await),
        "error deleting policy app: deletion is not allowed for this key"
    );
    h.data(U, "keys/app/config", json!({"deletion_allowed": true}))
        .await;
    h.call(Operation::Delete, "keys/app", json!({}))
        .await
        .expect("delete");
    assert!(matches!(
        h.call(Operation::Read, "keys/app", json!({}))
            .await
            .expect("read")
            .body,
        Body::NotFound
    ));
    let archive = crate::logical::storage::Storage::get(&h.view, "archive/app").await;
    assert!(archive.expect("get").is_none(), "the archive goes too");
}

#[tokio::test]
async fn every_symmetric_type_and_upsert() {
    let h = Harness::new(Transit::default());
    for kind in [
        "aes128-gcm96",
        "aes256-gcm96",
        "chacha20-poly1305",
        "xchacha20-poly1305",
    ] {
        let ct = encrypt(&h, kind, json!({"plaintext": b64(b"x"), "type": kind})).await;
        let d = h
            .data(Operation::Read, &format!("keys/{kind}"), json!({}))
            .await;
        assert_eq!(d["type"], kind, "upsert created the requested type");
        assert_eq!(
            decrypt(&h, kind, json!({"ciphertext": ct})).await,
            Ok(b64(b"x"))
        );
        // associated data is bound.
        let ad = b64(b"ad");
        let ct = encrypt(
            &h,
            kind,
            json!({"plaintext": b64(b"y"), "associated_data": ad}),
        )
        .await;
        assert_eq!(
            decrypt(&h, kind, json!({"ciphertext": ct, "associated_data": ad})).await,
            Ok(b64(b"y"))
        );
        assert!(decrypt(&h, kind, json!({"ciphertext": ct})).await.is_err());
    }
    assert_eq!(
        err(h
            .call(
                U,
                "encrypt/e",
                json!({"plaintext": "", "type": "ecdsa-p256"})
            )
            .await),
        "key type ecdsa-p256 not supported for this operation"
    );
    let listed = h.data(Operation::List, "keys/", json!({})).await;
    assert_eq!(listed["keys"].as_array().map(Vec::len), Some(4));
    // With upserts off, a missing key is an error.
    h.data(U, "config/keys", json!({"disable_upsert": true}))
        .await;
    assert_eq!(
        err(h.call(U, "encrypt/new", json!({"plaintext": ""})).await),
        "encryption key not found"
    );
}

#[tokio::test]
async fn batches_answer_400_with_every_result_when_one_fails() {
    let h = Harness::new(Transit::default());
    h.data(U, "keys/b", json!({})).await;
    let resp = h
        .call(
            U,
            "encrypt/b",
            json!({"batch_input": [
                {"plaintext": b64(b"one"), "reference": "r1"},
                {"plaintext": "%%%", "reference": "r2"},
            ]}),
        )
        .await
        .expect("answer");
    let Body::Status(400, d) = resp.body else {
        panic!("{resp:?}")
    };
    let results = d["batch_results"].as_array().expect("results");
    assert_eq!(results[0]["reference"], "r1");
    let ct = results[0]["ciphertext"]
        .as_str()
        .expect("first succeeded")
        .to_string();
    assert_eq!(results[1]["error"], "illegal base64 data at input byte 0");
    assert!(results[1].get("ciphertext").is_none());

    let resp = h
        .call(
            U,
            "decrypt/b",
            json!({"batch_input": [{"ciphertext": ct}, {"ciphertext": "vault:v1:AAAA"}]}),
        )
        .await
        .expect("answer");
    let Body::Status(400, d) = resp.body else {
        panic!("{resp:?}")
    };
    assert_eq!(d["batch_results"][0]["plaintext"], b64(b"one"));
    assert_eq!(d["batch_results"][1]["plaintext"], "");
    assert_eq!(d["batch_results"][1]["error"], "invalid ciphertext length");
    // All good: 200.
    let ok = h
        .data(U, "decrypt/b", json!({"batch_input": [{"ciphertext": ct}]}))
        .await;
    assert_eq!(ok["batch_results"][0]["plaintext"], b64(b"one"));
    // 1,000 items in one request.
    let items: Vec<Value> = (0..1000)
        .map(|i| json!({"plaintext": b64(format!("{i}").as_bytes())}))
        .collect();
    let big = h.data(U, "encrypt/b", json!({"batch_input": items})).await;
    assert_eq!(big["batch_results"].as_array().map(Vec::len), Some(1000));
    assert_eq!(
        err(h.call(U, "encrypt/b", json!({"batch_input": []})).await),
        "missing batch input to process"
    );
}

#[tokio::test]
async fn derived_and_convergent_keys() {
    let h = Harness::new(Transit::default());
    h.data(U, "keys/d", json!({"derived": true})).await;
    let ctx1 = b64(b"tenant-1");
    let ctx2 = b64(b"tenant-2");
    let ct = encrypt(&h, "d", json!({"plaintext": b64(b"s"), "context": ctx1})).await;
    assert_eq!(
        decrypt(&h, "d", json!({"ciphertext": ct, "context": ctx1})).await,
        Ok(b64(b"s"))
    );
    assert_eq!(
        decrypt(&h, "d", json!({"ciphertext": ct, "context": ctx2})).await,
        Err("cipher: message authentication failed".into())
    );
    assert!(decrypt(&h, "d", json!({"ciphertext": ct}))
        .await
        .expect_err("must fail")
        .starts_with("missing 'context'"));

    h.data(
        U,
        "keys/c",
        json!({"derived": true, "convergent_encryption": true}),
    )
    .await;
    let a = encrypt(&h, "c", json!({"plaintext": b64(b"same"), "context": ctx1})).await;
    let b = encrypt(&h, "c", json!({"plaintext": b64(b"same"), "context": ctx1})).await;
    let c = encrypt(&h, "c", json!({"plaintext": b64(b"same"), "context": ctx2})).await;
    assert_eq!(
        a, b,
        "convergent: same plaintext and context, same ciphertext"
    );
    assert_ne!(a, c);
    let d = h.data(Operation::Read, "keys/c", json!({})).await;
    assert_eq!(d["convergent_encryption_version"], -1);
    assert_eq!(d["kdf"], "hkdf_sha256");
    assert_eq!(
        err(h
            .call(U, "keys/x", json!({"convergent_encryption": true}))
            .await),
        "convergent encryption requires derivation to be enabled"
    );
}

#[tokio::test]
async fn hmac_datakey_hash_random() {
    let h = Harness::new(Transit::default());
    h.data(U, "keys/m", json!({})).await;
    let mac = h.data(U, "hmac/m", json!({"input": b64(b"data")})).await;
    let mac = mac["hmac"].as_str().expect("hmac").to_string();
    assert!(mac.starts_with("vault:v1:"));
    let ok = h
        .data(U, "verify/m", json!({"input": b64(b"data"), "hmac": mac}))
        .await;
    assert_eq!(ok["valid"], true);
    let bad = h
        .data(U, "verify/m", json!({"input": b64(b"other"), "hmac": mac}))
        .await;
    assert_eq!(bad["valid"], false);
    let mac512 = h
        .data(U, "hmac/m/sha2-512", json!({"input": b64(b"data")}))
        .await;
    let mac512 = mac512["hmac"].as_str().expect("hmac").to_string();
    assert_eq!(
        h.data(
            U,
            "verify/m/sha2-512",
            json!({"input": b64(b"data"), "hmac": mac512})
        )
        .await["valid"],
        true
    );
    assert_eq!(
        h.data(
            U,
            "verify/m",
            json!({"input": b64(b"data"), "hmac": mac512})
        )
        .await["valid"],
        false
    );

    // hmac keys: the key is the HMAC key; key_size defaults to 32.
    let k = h
        .data(U, "keys/hk", json!({"type": "hmac", "key_size": 64}))
        .await;
    assert_eq!(k["key_size"], 64);
    assert!(
        k.get("keys").is_none(),
        "OpenBao lists no versions for hmac keys"
    );
    h.data(U, "hmac/hk", json!({"input": b64(b"x")})).await;
    assert_eq!(
        err(h
            .call(U, "encrypt/hk", json!({"plaintext": b64(b"x")}))
            .await),
        "message encryption not supported for key type hmac"
    );

    let dk = h.data(U, "datakey/plaintext/m", json!({"bits": 512})).await;
    let plain = dk["plaintext"].as_str().expect("plaintext");
    assert_eq!(super::paths::b64(plain).expect("b64").len(), 64);
    let back = decrypt(&h, "m", json!({"ciphertext": dk["ciphertext"]})).await;
    assert_eq!(back.as_deref(), Ok(plain));
    let wrapped = h.data(U, "datakey/wrapped/m", json!({})).await;
    assert!(wrapped.get("plaintext").is_none());
    assert_eq!(
        err(h.call(U, "datakey/plaintext/m", json!({"bits": 100})).await),
        "invalid bit length"
    );
    assert_eq!(
        err(h.call(U, "datakey/other/m", json!({})).await),
        "Invalid path, must be 'plaintext' or 'wrapped'"
    );

    let sum = h.data(U, "hash", json!({"input": b64(b"abc")})).await;
    assert_eq!(
        sum["sum"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let sum = h
        .data(
            U,
            "hash/sha3-256",
            json!({"input": b64(b"abc"), "format": "base64"}),
        )
        .await;
    assert_eq!(
        sum["sum"],
        b64(
            &hex::decode("3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532")
                .expect("hex")
        )
    );
    assert_eq!(
        err(h.call(U, "hash/md5", json!({"input": ""})).await),
        "unsupported algorithm md5"
    );

    let r = h.data(U, "random/16", json!({"format": "hex"})).await;
    assert_eq!(r["random_bytes"].as_str().map(str::len), Some(32));
    let r = h.data(U, "random", json!({})).await;
    assert_eq!(
        super::paths::b64(r["random_bytes"].as_str().expect("random"))
            .expect("b64")
            .len(),
        32
    );
    let r = h.data(U, "random/platform/8", json!({})).await;
    assert_eq!(
        super::paths::b64(r["random_bytes"].as_str().expect("random"))
            .expect("b64")
            .len(),
        8
    );
    assert_eq!(
        err(h.call(U, "random/0", json!({})).await),
        "'bytes' cannot be less than 1"
    );
}

#[tokio::test]
async fn backup_restore_and_trim() {
    let h = Harness::new(Transit::default());
    h.data(
        U,
        "keys/k",
        json!({"exportable": true, "allow_plaintext_backup": true}),
    )
    .await;
    let v1 = encrypt(&h, "k", json!({"plaintext": b64(b"one")})).await;
    h.data(U, "keys/k/rotate", json!({})).await;
    h.data(U, "keys/k/rotate", json!({})).await;
    let v3 = encrypt(&h, "k", json!({"plaintext": b64(b"three")})).await;
    let exported = h
        .data(Operation::Read, "export/encryption-key/k", json!({}))
        .await;
    assert_eq!(exported["keys"].as_object().map(|m| m.len()), Some(3));

    let backup = h.data(Operation::Read, "backup/k", json!({})).await;
    let backup = backup["backup"].as_str().expect("backup").to_string();
    let decoded: Value =
        serde_json::from_slice(&super::paths::b64(&backup).expect("b64")).expect("json");
    assert_eq!(decoded["policy"]["latest_version"], 3);
    assert_eq!(
        decoded["archived_keys"]["keys"].as_array().map(Vec::len),
        Some(4)
    );

    // Restore under another name in another mount: every ciphertext decrypts there.
    let other = Harness::new(Transit::default());
    other
        .call(U, "restore/copy", json!({"backup": backup}))
        .await
        .expect("restore");
    assert_eq!(
        decrypt(&other, "copy", json!({"ciphertext": v1})).await,
        Ok(b64(b"one"))
    );
    assert_eq!(
        decrypt(&other, "copy", json!({"ciphertext": v3})).await,
        Ok(b64(b"three"))
    );
    let d = other.data(Operation::Read, "keys/copy", json!({})).await;
    assert_eq!(d["restore_info"]["version"], 3);
    assert_eq!(
        err(other
            .call(U, "restore/copy", json!({"backup": backup}))
            .await),
        "key \"copy\" already exists"
    );
    other
        .call(U, "restore/copy", json!({"backup": backup, "force": true}))
        .await
        .expect("forced");
    assert_eq!(
        err(other.call(U, "restore", json!({})).await),
        "'backup' must be supplied"
    );

    // Trim: needs min versions, then drops the versions below it for good.
    assert_eq!(
        err(h
            .call(U, "keys/k/trim", json!({"min_available_version": 2}))
            .await),
        "minimum available version cannot be set when minimum encryption version is not set"
    );
    h.data(
        U,
        "keys/k/config",
        json!({"min_decryption_version": 2, "min_encryption_version": 3}),
    )
    .await;
    let t = h
        .data(U, "keys/k/trim", json!({"min_available_version": 2}))
        .await;
    assert_eq!(t["min_available_version"], 2);
    assert_eq!(
        err(h
            .call(U, "keys/k/config", json!({"min_decryption_version": 1}))
            .await),
        "min decryption version should not be less then min available version"
    );
    assert!(decrypt(&h, "k", json!({"ciphertext": v1})).await.is_err());
    assert_eq!(
        decrypt(&h, "k", json!({"ciphertext": v3})).await,
        Ok(b64(b"three"))
    );

    // Not exportable: no export, no backup.
    h.data(U, "keys/locked", json!({})).await;
    assert_eq!(
        err(h
            .call(Operation::Read, "export/encryption-key/locked", json!({}))
            .await),
        "private key material is not exportable"
    );
    assert_eq!(
        err(h.call(Operation::Read, "backup/locked", json!({})).await),
        "exporting is disallowed on the policy"
    );
}

#[tokio::test]
async fn keys_rotate_themselves_on_schedule() {
    let h = Harness::new(Transit::default());
    assert_eq!(
        err(h
            .call(U, "keys/r", json!({"auto_rotate_period": "30m"}))
            .await),
        "auto rotate period must be 0 to disable or at least an hour"
    );
    let k = h
        .data(U, "keys/r", json!({"auto_rotate_period": "1h"}))
        .await;
    assert_eq!(k["auto_rotate_period"], 3600);
    h.data(U, "keys/still", json!({})).await;
    h.periodic().await.expect("periodic");
    assert_eq!(
        h.data(Operation::Read, "keys/r", json!({})).await["latest_version"],
        1
    );
    h.clock.advance(Duration::from_secs(3601));
    h.periodic().await.expect("periodic");
    assert_eq!(
        h.data(Operation::Read, "keys/r", json!({})).await["latest_version"],
        2
    );
    assert_eq!(
        h.data(Operation::Read, "keys/still", json!({})).await["latest_version"],
        1
    );
    h.periodic().await.expect("periodic");
    assert_eq!(
        h.data(Operation::Read, "keys/r", json!({})).await["latest_version"],
        2,
        "not again until the next period"
    );
}

#[tokio::test]
async fn key_material_never_reaches_storage_in_plaintext() {
    let h = Harness::new(Transit::default());
    h.data(U, "keys/secret", json!({"exportable": true})).await;
    let key = h
        .data(Operation::Read, "export/encryption-key/secret/1", json!({}))
        .await;
    let key = super::paths::b64(key["keys"]["1"].as_str().expect("key")).expect("b64");
    let mac = h
        .data(Operation::Read, "export/hmac-key/secret/1", json!({}))
        .await;
    let mac = super::paths::b64(mac["keys"]["1"].as_str().expect("key")).expect("b64");
    let b64key = b64(&key);
    let keys = crate::logical::storage::list_tree(&h.view, "")
        .await
        .expect("list");
    assert!(keys.iter().any(|k| k == "policy/secret"), "{keys:?}");
    for k in keys {
        let full = format!("{}{k}", h.view.prefix());
        let v = storage::Backend::get(&*h.physical, &full)
            .await
            .expect("get")
            .expect("some");
        for needle in [&key[..], &mac[..], b64key.as_bytes()] {
            assert!(
                !v.windows(needle.len()).any(|w| w == needle),
                "key material in plaintext at {k}"
            );
        }
    }
}

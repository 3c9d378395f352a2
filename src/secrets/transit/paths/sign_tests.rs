//! `sign/` and `verify/` through the engine's path table. The expected statuses and texts
//! are what OpenBao 2.7.2 answered to the same requests.

use base64::Engine as _;
use serde_json::{json, Value};

use crate::engine::testing::Harness;
use crate::engine::{EngineError, EngineResponse};
use crate::logical::Operation;
use crate::secrets::transit::Transit;

const U: Operation = Operation::Update;

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn harness() -> Harness {
    let h = Harness::new(Transit::default());
    for (name, kind) in [
        ("p256", "ecdsa-p256"),
        ("p521", "ecdsa-p521"),
        ("ed", "ed25519"),
        ("rsa", "rsa-2048"),
        ("aes", "aes256-gcm96"),
    ] {
        h.data(U, &format!("keys/{name}"), json!({"type": kind}))
            .await;
    }
    h.data(U, "keys/dk", json!({"type": "ed25519", "derived": true}))
        .await;
    h
}

/// `(status, text)` of a failed request.
fn status(r: Result<EngineResponse, EngineError>) -> (u16, String) {
    match r {
        Err(EngineError::InvalidRequest(t)) => (400, t),
        Err(EngineError::Failed(t)) => (500, t),
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(resp) => panic!("expected an error, got {resp:?}"),
    }
}

fn multi(s: &str) -> String {
    crate::logical::multierror(&[s.to_string()])
}

async fn sign(h: &Harness, path: &str, body: Value) -> String {
    let d = h.data(U, path, body).await;
    d["signature"].as_str().expect("signature").to_string()
}

async fn valid(h: &Harness, path: &str, body: Value) -> bool {
    let d = h.data(U, path, body).await;
    d["valid"].as_bool().expect("valid")
}

#[tokio::test]
async fn sign_and_verify_every_key_type() {
    let h = harness().await;
    let m = b64(b"hello coffer");
    for key in ["p256", "p521", "ed", "rsa"] {
        for body in [
            json!({"input": m}),
            json!({"input": m, "hash_algorithm": "sha2-512"}),
            json!({"input": m, "marshaling_algorithm": "jws"}),
            json!({"input": m, "algorithm": "sha2-384"}),
        ] {
            let sig = sign(&h, &format!("sign/{key}"), body.clone()).await;
            assert!(sig.starts_with("vault:v1:"), "{sig}");
            let mut v = body.clone();
            v["signature"] = sig.clone().into();
            assert!(
                valid(&h, &format!("verify/{key}"), v.clone()).await,
                "{key} {body}"
            );
            v["input"] = b64(b"other").into();
            assert!(
                !valid(&h, &format!("verify/{key}"), v).await,
                "{key} {body}"
            );
        }
        // The URL's algorithm wins over the body's.
        let sig = sign(
            &h,
            &format!("sign/{key}/sha2-512"),
            json!({"input": m, "hash_algorithm": "md5"}),
        )
        .await;
        assert!(
            valid(
                &h,
                &format!("verify/{key}"),
                json!({"input": m, "signature": sig, "hash_algorithm": "sha2-512"})
            )
            .await
        );
        assert!(
            valid(
                &h,
                &format!("verify/{key}/sha2-512"),
                json!({"input": m, "signature": sig})
            )
            .await
        );
    }
    // RSA paddings and salt lengths.
    for extra in [
        json!({"signature_algorithm": "pkcs1v15"}),
        json!({"salt_length": "hash"}),
        json!({"salt_length": "HASH"}),
        json!({"salt_length": "20"}),
        json!({"salt_length": 5}),
        json!({"salt_length": "0"}),
        json!({"salt_length": "+5"}),
    ] {
        let mut body = json!({"input": m});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        let sig = sign(&h, "sign/rsa", body.clone()).await;
        body["signature"] = sig.into();
        assert!(valid(&h, "verify/rsa", body.clone()).await, "{extra}");
        if extra.get("salt_length").is_some() {
            // Auto verification finds any salt length.
            body.as_object_mut().expect("object").remove("salt_length");
            assert!(valid(&h, "verify/rsa", body).await, "{extra} as auto");
        }
    }
    // Prehashed input.
    let digest = crate::secrets::transit::keyring::hash::HashAlg::Sha2_256.digest(b"hello coffer");
    let sig = sign(
        &h,
        "sign/p256",
        json!({"input": b64(&digest), "prehashed": true}),
    )
    .await;
    assert!(valid(&h, "verify/p256", json!({"input": m, "signature": sig})).await);
}

#[tokio::test]
async fn sign_answers_as_openbao() {
    let h = harness().await;
    let m = b64(b"hello coffer");
    let d = h
        .data(
            U,
            "sign/ed",
            json!({"input": m, "marshaling_algorithm": "jws"}),
        )
        .await;
    assert_eq!(d["key_version"], 1);
    assert!(!d["signature"]
        .as_str()
        .expect("sig")
        .contains(['+', '/', '=']));
    assert!(d.get("public_key").is_none());
    // Derived ed25519: the public key comes back.
    let ctx = b64(b"ctx");
    let d = h
        .data(U, "sign/dk", json!({"input": m, "context": ctx}))
        .await;
    let public = d["public_key"].as_str().expect("public_key").to_string();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&public)
            .expect("b64")
            .len(),
        32
    );
    let sig = d["signature"].as_str().expect("sig").to_string();
    assert!(
        valid(
            &h,
            "verify/dk",
            json!({"input": m, "signature": sig, "context": ctx})
        )
        .await
    );
    assert!(
        !valid(
            &h,
            "verify/dk",
            json!({"input": m, "signature": sig, "context": b64(b"x")})
        )
        .await
    );
    let key = h
        .data(Operation::Read, "keys/dk", json!({"context": ctx}))
        .await;
    assert_eq!(key["keys"]["1"]["public_key"], public.as_str());

    let cases: Vec<(&str, Value, u16, String)> = vec![
        ("sign/nokey", json!({"input": m}), 400, "signing key not found".into()),
        ("sign/aes", json!({"input": m}), 400, "key type aes256-gcm96 does not support signing".into()),
        ("sign/rsa", json!({"input": m, "hash_algorithm": "md5"}), 400, "invalid hash algorithm \"md5\"".into()),
        ("sign/rsa", json!({"input": m, "hash_algorithm": "SHA2-256"}), 400, "invalid hash algorithm \"SHA2-256\"".into()),
        ("sign/rsa", json!({"input": m, "marshaling_algorithm": "foo"}), 400, "invalid marshaling type \"foo\"".into()),
        ("sign/ed", json!({"input": m, "marshaling_algorithm": ""}), 400, "invalid marshaling type \"\"".into()),
        ("sign/rsa", json!({"input": m, "hash_algorithm": "none"}), 400, "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15".into()),
        ("sign/rsa", json!({"input": m, "salt_length": "abc"}), 400, "salt length neither 'auto', 'hash', nor an int: abc".into()),
        ("sign/rsa", json!({"input": m, "salt_length": "-5"}), 400, "salt length is invalid: -5".into()),
        ("sign/rsa", json!({"input": m, "salt_length": "99999999999999999999"}), 400, "salt length neither 'auto', 'hash', nor an int: 99999999999999999999".into()),
        ("sign/rsa", json!({"input": m, "salt_length": "1000"}), 500, multi("requested salt length 1000 is invalid")),
        ("sign/rsa", json!({"input": m, "signature_algorithm": "foo"}), 500, multi("unsupported rsa signature algorithm foo")),
        ("sign/rsa", json!({"input": m, "prehashed": true}), 500, multi("crypto/rsa: input must be hashed with given hash")),
        ("sign/rsa", json!({"input": m, "prehashed": true, "signature_algorithm": "pkcs1v15"}), 500, multi("crypto/rsa: input must be hashed message")),
        ("sign/p256", json!({"input": m, "key_version": 5}), 500, multi("requested version for signing is higher than the latest key version")),
        ("sign/ed", json!({"input": "!!"}), 400, "unable to decode input as base64: illegal base64 data at input byte 0".into()),
        ("sign/dk", json!({"input": m, "context": "!!"}), 400, "failed to base64-decode context".into()),
        ("sign/dk", json!({"input": m}), 500, multi("error deriving key: missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key")),
        ("sign/p256", json!({"batch_input": []}), 400, "missing batch input to process".into()),
        ("sign/p256", json!({"batch_input": [{"input": true}]}), 500, multi("failed to parse batch input: decoding failed due to the following error(s):\n\n'[0][input]' expected type 'string', got unconvertible type 'bool'")),
        ("sign/p256", json!({"batch_input": [{"input": m}, {"input": {}}]}), 500, multi("failed to parse batch input: decoding failed due to the following error(s):\n\n'[1][input]' expected type 'string', got unconvertible type 'map[string]interface {}'")),
        ("sign/p256", json!({"batch_input": "[]"}), 500, multi("failed to parse batch input: '' source data must be an array or slice, got string")),
        ("sign/p256", json!({"batch_input": {"input": m}}), 500, multi("failed to parse batch input: '' source data must be an array or slice, got map")),
        ("sign/p256", json!({"batch_input": ["x"]}), 500, multi("failed to parse batch input: decoding failed due to the following error(s):\n\n'[0]' expected type 'transit.batchRequestSignItem', got unconvertible type 'string'")),
    ];
    for (path, body, code, text) in cases {
        assert_eq!(
            status(h.call(U, path, body.clone()).await),
            (code, text),
            "{path} {body}"
        );
    }
    // Empty input signs the empty message.
    let sig = sign(&h, "sign/ed", json!({})).await;
    assert!(valid(&h, "verify/ed", json!({"input": "", "signature": sig})).await);
}

#[tokio::test]
async fn sign_batches_answer_200_with_per_item_errors() {
    let h = harness().await;
    let m = b64(b"hello coffer");
    let d = h
        .data(
            U,
            "sign/p256",
            json!({"batch_input": [
                {"input": m, "reference": "a"},
                {"input": "!!"},
                {"input": m, "context": "!!"},
                {"context": "YQ=="},
                {"input": null},
                {"input": 5},
            ]}),
        )
        .await;
    let r = d["batch_results"].as_array().expect("results");
    assert_eq!(r.len(), 6);
    assert!(r[0]["signature"]
        .as_str()
        .expect("sig")
        .starts_with("vault:v1:"));
    assert_eq!(r[0]["key_version"], 1);
    assert_eq!(r[0]["reference"], "a");
    assert!(r[0].get("error").is_none());
    assert_eq!(
        r[1],
        json!({"key_version": 0, "error": "unable to decode input as base64: illegal base64 data at input byte 0", "reference": ""})
    );
    assert_eq!(
        r[2],
        json!({"key_version": 0, "error": "failed to base64-decode context", "reference": ""})
    );
    assert_eq!(
        r[3],
        json!({"key_version": 0, "error": "missing input", "reference": ""})
    );
    assert!(r[4]["signature"].is_string(), "null is the empty input");
    assert_eq!(
        r[5]["error"],
        "unable to decode input as base64: illegal base64 data at input byte 0"
    );
    let d = h
        .data(
            U,
            "sign/p256",
            json!({"key_version": 5, "batch_input": [{"input": m, "reference": "r1"}]}),
        )
        .await;
    assert_eq!(
        d["batch_results"],
        json!([{"key_version": 0, "error": "requested version for signing is higher than the latest key version", "reference": "r1"}])
    );
    // Derived ed25519 batches carry `publickey`.
    let d = h
        .data(
            U,
            "sign/dk",
            json!({"batch_input": [{"input": m, "context": b64(b"ctx")}]}),
        )
        .await;
    let item = &d["batch_results"][0];
    assert!(item["publickey"].is_string(), "{item}");
    assert!(item["signature"].is_string());
}

#[tokio::test]
async fn verify_answers_as_openbao() {
    let h = harness().await;
    let m = b64(b"hello coffer");
    let der = |b: &[u8]| format!("vault:v1:{}", b64(b));
    let cases: Vec<(&str, Value, u16, String)> = vec![
        ("verify/nokey", json!({"input": m, "signature": "x"}), 400, "signature verification key not found".into()),
        ("verify/aes", json!({"input": m, "signature": "x"}), 400, "key type aes256-gcm96 does not support verification".into()),
        ("verify/p256", json!({"input": m, "signature": "abc"}), 400, "invalid signature: no prefix".into()),
        ("verify/p256", json!({"input": m, "signature": "vault:abc"}), 400, "invalid signature: no prefix".into()),
        ("verify/p256", json!({"input": m, "signature": "vault:vx:abc"}), 400, "invalid signature: version number could not be decoded".into()),
        ("verify/p256", json!({"input": m, "signature": "vault:v9:abc"}), 400, "invalid signature: version is too new".into()),
        ("verify/p256", json!({"input": m, "signature": "vault:v1:!!"}), 400, "invalid base64 signature value".into()),
        ("verify/p256", json!({"input": m, "signature": "vault:v1:AAAA"}), 400, "supplied signature is invalid".into()),
        ("verify/p256", json!({"input": m, "signature": der(&[0x30, 6, 2, 1, 1, 2, 1, 1, 0])}), 400, "supplied signature contains extra data".into()),
        ("verify/p256", json!({"input": m, "signature": der(&[0x30, 7, 2, 2, 0, 1, 2, 1, 1])}), 400, "supplied signature is invalid".into()),
        ("verify/p256", json!({"input": m, "marshaling_algorithm": "jws", "signature": "vault:v1:AAAA=="}), 400, "invalid base64 signature value".into()),
        ("verify/p256", json!({"input": m, "signature": 5}), 400, "invalid signature: no prefix".into()),
        ("verify/p256", json!({"input": m, "signature": null}), 400, "invalid signature: no prefix".into()),
        ("verify/rsa", json!({"input": m, "signature": "vault:v1:AAAA", "salt_length": "999"}), 400, "requested salt length 999 is invalid".into()),
        ("verify/rsa", json!({"input": m, "signature": "vault:v1:AAAA", "signature_algorithm": "foo"}), 500, multi("unsupported rsa signature algorithm foo")),
        ("verify/rsa", json!({"input": m}), 400, "neither a 'signature' nor an 'hmac' were given to verify".into()),
        // As OpenBao: with both, the signature is what is checked.
        ("verify/rsa", json!({"input": m, "signature": "x", "hmac": "y"}), 400, "invalid signature: no prefix".into()),
        ("verify/rsa", json!({"batch_input": [{"input": m, "signature": "x"}, {"input": m, "hmac": "y"}]}), 400, "elements of batch_input must all provide 'signature' or all provide 'hmac'".into()),
        ("verify/rsa", json!({"batch_input": [{"input": m, "signature": "x"}, {"input": m}]}), 400, "some elements of batch_input are missing 'signature'".into()),
        ("verify/rsa", json!({"batch_input": [{"input": m, "hmac": "x"}, {"input": m}]}), 400, "some elements of batch_input are missing 'hmac'".into()),
        ("verify/rsa", json!({"batch_input": [{"input": m}]}), 400, "no batch_input elements have 'signature' or 'hmac'".into()),
        ("verify/p256", json!({"batch_input": [{"input": m, "signature": true}]}), 500, multi("failed to parse batch input: decoding failed due to the following error(s):\n\n'[0][signature]' expected type 'string', got unconvertible type 'bool'")),
        ("verify/dk", json!({"input": m, "signature": "vault:v1:AAAA"}), 500, multi("error deriving key: missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key")),
    ];
    for (path, body, code, text) in cases {
        assert_eq!(
            status(h.call(U, path, body.clone()).await),
            (code, text),
            "{path} {body}"
        );
    }
    // Well-formed but wrong signatures are simply not valid.
    for (key, body) in [
        (
            "p256",
            json!({"input": m, "signature": der(&[0x30, 6, 2, 1, 1, 2, 1, 1])}),
        ),
        (
            "p256",
            json!({"input": m, "signature": der(&[0x30, 6, 2, 1, 0x81, 2, 1, 1])}),
        ),
        (
            "p256",
            json!({"input": m, "marshaling_algorithm": "jws", "signature": "vault:v1:AAAA"}),
        ),
        ("ed", json!({"input": m, "signature": "vault:v1:AAAA"})),
        ("rsa", json!({"input": m, "signature": "vault:v1:AAAA"})),
        (
            "rsa",
            json!({"input": m, "signature": "vault:v1:AAAA", "signature_algorithm": "pkcs1v15"}),
        ),
    ] {
        assert!(
            !valid(&h, &format!("verify/{key}"), body.clone()).await,
            "{key} {body}"
        );
    }
}

#[tokio::test]
async fn verify_batches_and_hmac_hand_over() {
    let h = harness().await;
    let m = b64(b"hello coffer");
    let sig = sign(&h, "sign/p256", json!({"input": m})).await;
    let d = h
        .data(
            U,
            "verify/p256",
            json!({"batch_input": [
                {"input": m, "signature": sig, "reference": "ok"},
                {"input": m, "signature": "vault:v1:!!", "reference": "a"},
                {"input": "!!", "signature": "x"},
                {"input": m, "signature": "vault:v1:AAAA"},
                {"signature": "vault:v1:AAAA"},
                {"input": m, "signature": "vault:v1:AAAA", "context": "!!"},
            ]}),
        )
        .await;
    assert_eq!(
        d["batch_results"],
        json!([
            {"valid": true, "reference": "ok"},
            {"valid": false, "error": "invalid base64 signature value", "reference": "a"},
            {"valid": false, "error": "unable to decode input as base64: illegal base64 data at input byte 0", "reference": ""},
            {"valid": false, "error": "supplied signature is invalid", "reference": ""},
            {"valid": false, "error": "missing input", "reference": ""},
            {"valid": false, "error": "failed to base64-decode context", "reference": ""},
        ])
    );
    let d = h
        .data(
            U,
            "verify/rsa",
            json!({"batch_input": [{"input": m, "signature": "vault:v1:AAAA"}], "signature_algorithm": "foo"}),
        )
        .await;
    assert_eq!(
        d["batch_results"],
        json!([{"valid": false, "error": "unsupported rsa signature algorithm foo", "reference": ""}])
    );
    // `hmac` goes to the HMAC verification.
    let mac = h.data(U, "hmac/ed", json!({"input": m})).await["hmac"]
        .as_str()
        .expect("hmac")
        .to_string();
    assert!(valid(&h, "verify/ed", json!({"input": m, "hmac": mac})).await);
    assert!(!valid(&h, "verify/ed", json!({"input": b64(b"x"), "hmac": mac})).await);
}

#[tokio::test]
async fn rsa_keys_encrypt_decrypt_and_export() {
    let h = harness().await;
    let pt = b64(b"secret");
    let ct = h.data(U, "encrypt/rsa", json!({"plaintext": pt})).await["ciphertext"]
        .as_str()
        .expect("ct")
        .to_string();
    assert!(ct.starts_with("vault:v1:"));
    let d = h.data(U, "decrypt/rsa", json!({"ciphertext": ct})).await;
    assert_eq!(d["plaintext"], pt.as_str());
    let key = h.data(Operation::Read, "keys/rsa", json!({})).await;
    let public = key["keys"]["1"]["public_key"].as_str().expect("public key");
    assert!(
        public.starts_with("-----BEGIN PUBLIC KEY-----\n")
            && public.ends_with("-----END PUBLIC KEY-----\n")
    );
    let exported = h
        .data(Operation::Read, "export/public-key/rsa/1", json!({}))
        .await;
    assert_eq!(exported["keys"]["1"], public);
}

#[test]
fn salt_lengths_parse_as_getsaltlength() {
    use crate::secrets::transit::keyring::asymmetric::SaltLength;
    let parse = |v: Value| {
        let mut d = crate::logical::Data::new();
        d.insert("salt_length".into(), v);
        super::salt_length(&d)
    };
    assert_eq!(
        super::salt_length(&crate::logical::Data::new()).ok(),
        Some(SaltLength::Auto)
    );
    assert_eq!(parse("AUTO".into()).ok(), Some(SaltLength::Auto));
    assert_eq!(parse("0".into()).ok(), Some(SaltLength::Auto));
    assert_eq!(parse("-1".into()).ok(), Some(SaltLength::Hash));
    assert_eq!(parse("Hash".into()).ok(), Some(SaltLength::Hash));
    assert_eq!(parse(32.into()).ok(), Some(SaltLength::Bytes(32)));
    assert!(parse("-2".into()).is_err());
    assert!(parse("1.5".into()).is_err());
}

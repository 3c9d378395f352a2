//! The differential Transit test: keys made on one server, moved by `transit/backup` +
//! `transit/restore` to another, and everything the first produced must work on the second.
//!
//! On the source: exportable, plaintext-backup keys of every type (also a derived
//! aes256-gcm96, a convergent derived key, a derived ed25519 and a key rotated to three
//! versions); ciphertexts (with context, associated data, every version of the rotated key,
//! wrapped data keys), signatures (every hash × marshaling × signature algorithm OpenBao
//! supports per type, prehashed too, PSS salt lengths), HMACs (every algorithm); then a
//! backup of each key. On the destination: restore each, decrypt every ciphertext, verify
//! every signature and HMAC (and a tampered copy of each: `valid:false`), recompute what is
//! deterministic (HMACs, ed25519 signatures, convergent ciphertexts) and compare, read every
//! key (`transit/keys/NAME` must match field for field, times included, apart from the
//! destination's own `restore_info`), and compare every export type's answer.
//!
//! Three directions, each with its own servers: OpenBao → OpenBao (proves the harness),
//! OpenBao → Coffer and Coffer → OpenBao. A [`Target`] is either server.

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use common::{keys_of, Api, Coffer, OpenBao};
use serde_json::{json, Value};

/// One server the test talks to, by HTTP with its root token. The process handle lives in
/// `_node` and is killed when the target drops.
struct Target {
    label: &'static str,
    api: Api,
    _node: Node,
}

/// Held only so the process lives as long as its target (killed on drop).
#[allow(dead_code)]
enum Node {
    Coffer(Coffer),
    OpenBao(OpenBao),
}

impl Target {
    fn is_coffer(&self) -> bool {
        matches!(self._node, Node::Coffer(_))
    }
    fn openbao(label: &'static str) -> Target {
        let mut bao = OpenBao::new();
        bao.start();
        let (root, key) = common::init_one_share(&bao.addr());
        common::unseal_and_wait(&bao.addr(), bao.port, &key);
        let api = Api {
            port: bao.port,
            token: Some(root),
        };
        Target::ready(label, api, Node::OpenBao(bao))
    }

    fn coffer(label: &'static str) -> Target {
        let (coffer, root, _) = Coffer::start_unsealed();
        let api = Api {
            port: coffer.port,
            token: Some(root),
        };
        Target::ready(label, api, Node::Coffer(coffer))
    }

    fn ready(label: &'static str, api: Api, node: Node) -> Target {
        let r = api.post("sys/mounts/transit", &json!({"type": "transit"}));
        assert_eq!(r.status, 204, "{label}: enable transit: {}", r.body);
        Target {
            label,
            api,
            _node: node,
        }
    }

    /// POST, assert 200, the `data`.
    #[track_caller]
    fn ok(&self, path: &str, body: &Value) -> Value {
        let r = self.api.post(path, body);
        assert_eq!(
            r.status, 200,
            "{}: POST {path} {body}: {}",
            self.label, r.body
        );
        r.json()["data"].clone()
    }
}

struct KeySpec {
    name: &'static str,
    ty: &'static str,
    derived: bool,
    convergent: bool,
    versions: u32,
}

const fn key(name: &'static str, ty: &'static str) -> KeySpec {
    KeySpec {
        name,
        ty,
        derived: false,
        convergent: false,
        versions: 1,
    }
}

const KEYS: &[KeySpec] = &[
    key("aes128", "aes128-gcm96"),
    key("aes256", "aes256-gcm96"),
    key("chacha", "chacha20-poly1305"),
    key("xchacha", "xchacha20-poly1305"),
    key("ed25519", "ed25519"),
    key("p256", "ecdsa-p256"),
    key("p384", "ecdsa-p384"),
    key("p521", "ecdsa-p521"),
    key("rsa2048", "rsa-2048"),
    key("rsa3072", "rsa-3072"),
    key("rsa4096", "rsa-4096"),
    key("hmac", "hmac"),
    KeySpec {
        derived: true,
        ..key("derived", "aes256-gcm96")
    },
    KeySpec {
        derived: true,
        convergent: true,
        ..key("convergent", "aes256-gcm96")
    },
    KeySpec {
        derived: true,
        ..key("ed-derived", "ed25519")
    },
    KeySpec {
        versions: 3,
        ..key("rotated", "aes256-gcm96")
    },
    KeySpec {
        versions: 2,
        ..key("chacha-rotated", "chacha20-poly1305")
    },
];

const HASHES: [&str; 9] = [
    "sha1", "sha2-224", "sha2-256", "sha2-384", "sha2-512", "sha3-224", "sha3-256", "sha3-384",
    "sha3-512",
];

const EXPORT_TYPES: [&str; 4] = ["encryption-key", "signing-key", "hmac-key", "public-key"];

fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

fn is_aead(ty: &str) -> bool {
    matches!(
        ty,
        "aes128-gcm96" | "aes256-gcm96" | "chacha20-poly1305" | "xchacha20-poly1305"
    )
}

/// Flip one bit in the last byte of a `vault:vN:` value's payload.
fn tamper(s: &str, url_safe: bool) -> String {
    let mut parts = s.splitn(3, ':');
    let (vault, version, payload) = (
        parts.next().expect("vault"),
        parts.next().expect("version"),
        parts.next().expect("payload"),
    );
    let engine = if url_safe {
        &URL_SAFE_NO_PAD
    } else {
        &STANDARD
    };
    let mut raw = engine.decode(payload).expect("base64 payload");
    let last = raw.len() - 1;
    raw[last] ^= 1;
    format!("{vault}:{version}:{}", engine.encode(raw))
}

/// What the destination must answer to one request: a field of `data`, or `valid`.
enum Expect {
    Field(&'static str, Value),
    Valid(bool),
}

struct Case {
    what: String,
    path: String,
    body: Value,
    expect: Expect,
}

/// Everything the source produced: the cases to replay on the destination, the backups and
/// the key descriptions after the backups.
struct Made {
    cases: Vec<Case>,
    backups: Vec<(&'static str, String)>,
    reads: Vec<(&'static str, Value)>,
}

fn with(base: &Value, extra: &Value) -> Value {
    let mut body = base.clone();
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    body
}

/// Create the keys and produce ciphertexts, signatures and HMACs on `src`, then back up.
fn produce(src: &Target) -> Made {
    let mut cases = Vec::new();
    let data = b"differential transit";
    let input = b64(data);
    let ctx = b64(b"tenant-7");
    let ad = b64(b"header-9");

    // Digests for prehashed signing, from the source's own hash endpoint (no sha1 there).
    let digest = |alg: &str| -> Option<String> {
        if alg == "sha1" {
            return None;
        }
        let d = src.ok(
            "transit/hash",
            &json!({"input": input, "algorithm": alg, "format": "base64"}),
        );
        Some(d["sum"].as_str().expect("sum").to_owned())
    };
    let digests: Vec<(&str, Option<String>)> = HASHES.iter().map(|h| (*h, digest(h))).collect();

    for k in KEYS {
        let mut body = json!({
            "type": k.ty,
            "exportable": true,
            "allow_plaintext_backup": true,
        });
        if k.derived {
            body["derived"] = json!(true);
        }
        if k.convergent {
            body["convergent_encryption"] = json!(true);
        }
        if k.ty == "hmac" {
            body["key_size"] = json!(32);
        }
        src.ok(&format!("transit/keys/{}", k.name), &body);
        for _ in 1..k.versions {
            src.ok(&format!("transit/keys/{}/rotate", k.name), &json!({}));
        }
    }

    for k in KEYS {
        let name = k.name;
        let base = if k.derived {
            json!({ "context": ctx })
        } else {
            json!({})
        };
        let encrypts = is_aead(k.ty) || k.ty.starts_with("rsa-");

        // Ciphertexts: plain, with associated data, at every version.
        if encrypts {
            let mut variants = vec![("plain", json!({}))];
            if is_aead(k.ty) {
                variants.push(("associated_data", json!({ "associated_data": ad })));
            }
            for v in 1..=k.versions {
                if k.versions > 1 {
                    variants.push(("version", json!({ "key_version": v })));
                }
            }
            for (label, extra) in variants {
                let body = with(&with(&base, &json!({ "plaintext": input })), &extra);
                let d = src.ok(&format!("transit/encrypt/{name}"), &body);
                let ct = d["ciphertext"].clone();
                let mut dec = with(&base, &json!({ "ciphertext": ct }));
                if let Some(a) = extra.get("associated_data") {
                    dec["associated_data"] = a.clone();
                }
                cases.push(Case {
                    what: format!("decrypt {name} ({label} {extra})"),
                    path: format!("transit/decrypt/{name}"),
                    body: dec,
                    expect: Expect::Field("plaintext", json!(input)),
                });
                if k.convergent {
                    cases.push(Case {
                        what: format!("convergent encrypt {name} ({label})"),
                        path: format!("transit/encrypt/{name}"),
                        body,
                        expect: Expect::Field("ciphertext", ct),
                    });
                }
            }
            // A data key: its wrapped copy decrypts to its plaintext.
            if is_aead(k.ty) {
                let d = src.ok(
                    &format!("transit/datakey/plaintext/{name}"),
                    &with(&base, &json!({"bits": 512})),
                );
                cases.push(Case {
                    what: format!("datakey {name}"),
                    path: format!("transit/decrypt/{name}"),
                    body: with(&base, &json!({ "ciphertext": d["ciphertext"] })),
                    expect: Expect::Field("plaintext", d["plaintext"].clone()),
                });
            }
        }

        // Signatures.
        let mut sign_params: Vec<Value> = Vec::new();
        if k.ty == "ed25519" {
            sign_params.push(json!({}));
            sign_params.push(json!({"marshaling_algorithm": "jws"}));
        } else if k.ty.starts_with("ecdsa-") {
            for (hash, dig) in &digests {
                for m in ["asn1", "jws"] {
                    sign_params.push(json!({"hash_algorithm": hash, "marshaling_algorithm": m}));
                    if let Some(d) = dig {
                        sign_params.push(json!({
                            "hash_algorithm": hash, "marshaling_algorithm": m,
                            "prehashed": true, "input": d,
                        }));
                    }
                }
            }
        } else if k.ty == "rsa-2048" {
            for (hash, dig) in &digests {
                for m in ["asn1", "jws"] {
                    for s in ["pss", "pkcs1v15"] {
                        sign_params.push(json!({
                            "hash_algorithm": hash, "marshaling_algorithm": m,
                            "signature_algorithm": s,
                        }));
                        if let Some(d) = dig {
                            sign_params.push(json!({
                                "hash_algorithm": hash, "marshaling_algorithm": m,
                                "signature_algorithm": s, "prehashed": true, "input": d,
                            }));
                        }
                    }
                }
            }
            let sha256 = digests[2].1.clone().expect("sha2-256");
            for m in ["asn1", "jws"] {
                sign_params.push(json!({
                    "hash_algorithm": "none", "prehashed": true, "input": sha256,
                    "signature_algorithm": "pkcs1v15", "marshaling_algorithm": m,
                }));
            }
            for salt in ["auto", "hash", "32"] {
                sign_params.push(json!({"signature_algorithm": "pss", "salt_length": salt}));
            }
            sign_params.push(json!({}));
        } else if k.ty.starts_with("rsa-") {
            sign_params.push(json!({}));
            sign_params.push(json!({"signature_algorithm": "pkcs1v15"}));
            sign_params.push(json!({"signature_algorithm": "pss", "hash_algorithm": "sha2-512", "marshaling_algorithm": "jws"}));
        }
        for params in sign_params {
            let body = with(&with(&base, &json!({ "input": input })), &params);
            let path = format!("transit/sign/{name}");
            if src.is_coffer() && coffer_refuses(&path, &body) {
                let r = src.api.post(&path, &body);
                assert_eq!(r.status, 400, "{path} {body}: {}", r.body);
                continue;
            }
            let d = src.ok(&path, &body);
            let sig = d["signature"].as_str().expect("signature").to_owned();
            let url_safe = params["marshaling_algorithm"] == "jws";
            let mut verify = body.clone();
            verify["signature"] = json!(sig);
            cases.push(Case {
                what: format!("verify {name} {params}"),
                path: format!("transit/verify/{name}"),
                body: verify.clone(),
                expect: Expect::Valid(true),
            });
            verify["signature"] = json!(tamper(&sig, url_safe));
            cases.push(Case {
                what: format!("verify tampered {name} {params}"),
                path: format!("transit/verify/{name}"),
                body: verify,
                expect: Expect::Valid(false),
            });
            if k.ty == "ed25519" {
                // Deterministic: the destination signs the same.
                cases.push(Case {
                    what: format!("ed25519 re-sign {name} {params}"),
                    path: format!("transit/sign/{name}"),
                    body,
                    expect: Expect::Field("signature", json!(sig)),
                });
            }
        }

        // HMACs: every key has an HMAC key; all algorithms for the hmac type, a few else.
        let algs: &[&str] = if k.ty == "hmac" {
            &HASHES
        } else {
            &["sha2-256", "sha3-512"]
        };
        for alg in algs {
            let body = json!({"input": input, "algorithm": alg});
            let d = src.ok(&format!("transit/hmac/{name}"), &body);
            let mac = d["hmac"].clone();
            cases.push(Case {
                what: format!("re-hmac {name} {alg}"),
                path: format!("transit/hmac/{name}"),
                body: body.clone(),
                expect: Expect::Field("hmac", mac.clone()),
            });
            cases.push(Case {
                what: format!("verify hmac {name} {alg}"),
                path: format!("transit/verify/{name}"),
                body: json!({"input": input, "algorithm": alg, "hmac": mac}),
                expect: Expect::Valid(true),
            });
            let bad = tamper(mac.as_str().expect("hmac"), false);
            cases.push(Case {
                what: format!("verify tampered hmac {name} {alg}"),
                path: format!("transit/verify/{name}"),
                body: json!({"input": input, "algorithm": alg, "hmac": bad}),
                expect: Expect::Valid(false),
            });
        }
    }

    let mut backups = Vec::new();
    let mut reads = Vec::new();
    for k in KEYS {
        let r = src.api.get(&format!("transit/backup/{}", k.name));
        assert_eq!(
            r.status, 200,
            "{}: backup {}: {}",
            src.label, k.name, r.body
        );
        let backup = r.json()["data"]["backup"]
            .as_str()
            .expect("backup")
            .to_owned();
        backups.push((k.name, backup));
        let r = src.api.get(&format!("transit/keys/{}", k.name));
        assert_eq!(r.status, 200, "{}: read {}: {}", src.label, k.name, r.body);
        reads.push((k.name, r.json()["data"].clone()));
    }
    Made {
        cases,
        backups,
        reads,
    }
}

/// Restore everything on `dst` and replay; every difference is collected, then reported.
fn replay(src: &Target, dst: &Target, made: &Made) {
    let mut failures: Vec<String> = Vec::new();
    for (name, backup) in &made.backups {
        let r = dst.api.post(
            &format!("transit/restore/{name}"),
            &json!({ "backup": backup }),
        );
        if r.status != 204 {
            failures.push(format!(
                "restore {name}: HTTP {} {}",
                r.status,
                r.body.trim()
            ));
        }
    }
    if !failures.is_empty() {
        panic!(
            "{} → {}: {} restores failed:\n{}",
            src.label,
            dst.label,
            failures.len(),
            failures.join("\n")
        );
    }

    // The keys read the same, but for the destination's restore_info.
    for (name, want) in &made.reads {
        let r = dst.api.get(&format!("transit/keys/{name}"));
        if r.status != 200 {
            failures.push(format!("read {name}: HTTP {} {}", r.status, r.body.trim()));
            continue;
        }
        let mut got = r.json()["data"].clone();
        let restore_info = got
            .as_object_mut()
            .and_then(|o| o.remove("restore_info"))
            .unwrap_or(Value::Null);
        if keys_of(&restore_info) != ["time", "version"]
            || restore_info["version"] != want["latest_version"]
        {
            failures.push(format!("read {name}: restore_info {restore_info}"));
        }
        if &got != want {
            failures.push(format!(
                "read {name}: {} has {want}\n    {} has {got}",
                src.label, dst.label
            ));
        }
    }
    let listed = |t: &Target| t.api.list("transit/keys").json()["data"]["keys"].clone();
    if listed(src) != listed(dst) {
        failures.push(format!(
            "list: {} {} vs {} {}",
            src.label,
            listed(src),
            dst.label,
            listed(dst)
        ));
    }

    // Every export type answers the same on both.
    let answer = |t: &Target, path: &str| {
        let r = t.api.get(path);
        let body = r.json();
        (
            r.status,
            body.get("data").cloned(),
            body.get("errors").cloned(),
        )
    };
    let mut exports = 0;
    for k in KEYS {
        for ty in EXPORT_TYPES {
            let path = format!("transit/export/{ty}/{}", k.name);
            let (want, got) = (answer(src, &path), answer(dst, &path));
            if want.0 == 200 {
                exports += 1;
            }
            if want != got {
                failures.push(format!("GET {path}: {want:?}\n    vs {got:?}"));
            }
        }
    }

    // Replay every case.
    let mut refused = 0;
    for case in &made.cases {
        let r = dst.api.post(&case.path, &case.body);
        if dst.is_coffer() && coffer_refuses(&case.path, &case.body) {
            let want = format!(
                "unsupported hash algorithm {} for RSA keys (sha2-256, sha2-384 and sha2-512 are)",
                case.body["hash_algorithm"].as_str().unwrap_or_default()
            );
            if r.status != 400 || r.json()["errors"] != json!([want]) {
                failures.push(format!(
                    "{}: want 400 {want:?}, got {} {}",
                    case.what,
                    r.status,
                    r.body.trim()
                ));
            }
            refused += 1;
            continue;
        }
        if r.status != 200 {
            failures.push(format!(
                "{}: POST {} {}: HTTP {} {}",
                case.what,
                case.path,
                case.body,
                r.status,
                r.body.trim()
            ));
            continue;
        }
        let data = r.json()["data"].clone();
        let ok = match &case.expect {
            Expect::Field(field, want) => &data[*field] == want,
            Expect::Valid(v) => data["valid"] == json!(v),
        };
        if !ok {
            let want = match &case.expect {
                Expect::Field(f, w) => format!("{f} = {w}"),
                Expect::Valid(v) => format!("valid = {v}"),
            };
            failures.push(format!("{}: want {want}, got {data}", case.what));
        }
    }

    println!(
        "{} → {}: {} keys, {} cases ({refused} refused as documented), {exports} exports compared",
        src.label,
        dst.label,
        KEYS.len(),
        made.cases.len()
    );
    assert!(made.cases.len() > 400, "only {} cases", made.cases.len());
    if !failures.is_empty() {
        for f in failures.iter().take(60) {
            eprintln!("{f}");
        }
        panic!(
            "{} → {}: {} differences (first 60 above)",
            src.label,
            dst.label,
            failures.len()
        );
    }
}

/// The harness itself, OpenBao against OpenBao: what the other two directions must match.
#[test]
fn openbao_keys_restored_into_openbao() {
    let src = Target::openbao("OpenBao A");
    let dst = Target::openbao("OpenBao B");
    let made = produce(&src);
    replay(&src, &dst, &made);
}

#[test]
fn openbao_keys_restored_into_coffer() {
    let src = Target::openbao("OpenBao");
    let dst = Target::coffer("Coffer");
    let made = produce(&src);
    replay(&src, &dst, &made);
}

#[test]
fn coffer_keys_restored_into_openbao() {
    let src = Target::coffer("Coffer");
    let dst = Target::openbao("OpenBao");
    let made = produce(&src);
    replay(&src, &dst, &made);
}

/// Signatures by RSA keys over a hash other than SHA-2 256/384/512 (and raw PKCS#1 v1.5 of a
/// caller's digest): OpenBao makes and checks them, Coffer answers 400 because aws-lc-rs
/// has no such operation (docs/compat.md, Transit). Everything else must match exactly.
fn coffer_refuses(path: &str, body: &Value) -> bool {
    let rsa = path
        .rsplit('/')
        .next()
        .is_some_and(|k| k.starts_with("rsa"));
    let hash = body["hash_algorithm"].as_str().unwrap_or("sha2-256");
    rsa && (path.contains("/sign/") || path.contains("/verify/"))
        && !["sha2-256", "sha2-384", "sha2-512"].contains(&hash)
}

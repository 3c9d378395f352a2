//! The server's lifecycle end to end: the real `coffer` binary on RocksDB, driven by the real
//! OpenBao CLI (`bao`, 2.7.2) exactly as an operator drives it.

mod common;

use base64::Engine as _;
use common::{http, Coffer};
use serde_json::Value;

fn keys(init: &Value, field: &str) -> Vec<String> {
    init[field]
        .as_array()
        .unwrap_or_else(|| panic!("no {field} in {init}"))
        .iter()
        .map(|k| k.as_str().expect("key").to_owned())
        .collect()
}

fn status_json(c: &Coffer) -> (i32, Value) {
    let run = c.bao(None, &["status", "-format=json"]);
    (run.code, run.json())
}

#[test]
fn shamir_init_unseal_seal_and_restart() {
    let mut c = Coffer::new("");
    c.start();

    // Phase 1: before init, `bao status` says so and exits 2 (sealed).
    let run = c.bao(None, &["status"]);
    assert_eq!(
        run.code, 2,
        "bao status before init: {}{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stdout.contains("Initialized        false"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Sealed             true"),
        "{}",
        run.stdout
    );
    let (_, s) = status_json(&c);
    assert_eq!(
        (
            s["initialized"].as_bool(),
            s["sealed"].as_bool(),
            s["storage_type"].as_str()
        ),
        (Some(false), Some(true), Some("rocksdb"))
    );
    assert_eq!(
        http(c.port, "GET", "/v1/sys/health", "", None)
            .expect("health")
            .0,
        501
    );

    // Phase 2: init with 3 shares, threshold 2.
    let run = c.bao(
        None,
        &[
            "operator",
            "init",
            "-key-shares=3",
            "-key-threshold=2",
            "-format=json",
        ],
    );
    assert_eq!(run.code, 0, "init: {}", run.stderr);
    let init = run.json();
    let (b64, hex) = (
        keys(&init, "unseal_keys_b64"),
        keys(&init, "unseal_keys_hex"),
    );
    assert_eq!((b64.len(), hex.len()), (3, 3));
    assert!(hex.iter().all(|k| k.len() == 66), "33-byte shares: {hex:?}");
    let root = init["root_token"].as_str().expect("root token").to_owned();
    assert!(
        root.starts_with("s.") && root.len() == 26,
        "root token shape: {root}"
    );
    let (code, s) = status_json(&c);
    assert_eq!(
        (
            code,
            s["initialized"].as_bool(),
            s["sealed"].as_bool(),
            s["t"].as_u64(),
            s["n"].as_u64()
        ),
        (2, Some(true), Some(true), Some(2), Some(3))
    );
    assert_eq!(
        http(c.port, "GET", "/v1/sys/health", "", None)
            .expect("health")
            .0,
        503
    );
    assert_eq!(
        http(c.port, "GET", "/v1/sys/health?sealedcode=204", "", None)
            .expect("health")
            .0,
        204
    );
    let again = c.bao(
        None,
        &["operator", "init", "-key-shares=3", "-key-threshold=2"],
    );
    assert!(
        again.code != 0 && again.stderr.contains("Vault is already initialized"),
        "{}",
        again.stderr
    );

    // Phase 3: one share is progress 1/2; the same share again changes nothing.
    let run = c.bao(None, &["operator", "unseal", "-format=json", &b64[0]]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = run.json();
    assert_eq!(
        (s["sealed"].as_bool(), s["progress"].as_u64()),
        (Some(true), Some(1))
    );
    let nonce = s["nonce"].as_str().expect("nonce").to_owned();
    assert!(!nonce.is_empty());
    let s = c
        .bao(None, &["operator", "unseal", "-format=json", &hex[0]])
        .json();
    assert_eq!(
        (s["progress"].as_u64(), s["nonce"].as_str()),
        (Some(1), Some(nonce.as_str())),
        "a repeated share must not count twice"
    );

    // Phase 4: a wrong share completes the threshold, fails, and resets the progress.
    let wrong = base64::engine::general_purpose::STANDARD.encode([0x42u8; 33]);
    let run = c.bao(None, &["operator", "unseal", &wrong]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("failed to decrypt keys from storage: cipher: message authentication failed"),
        "{}",
        run.stderr
    );
    let (_, s) = status_json(&c);
    assert_eq!(
        (s["sealed"].as_bool(), s["progress"].as_u64()),
        (Some(true), Some(0))
    );
    let run = c.bao(None, &["operator", "unseal", "not-a-key!"]);
    assert!(
        run.code != 0
            && run
                .stderr
                .contains("'key' must be a valid hex or base64 string"),
        "{}",
        run.stderr
    );

    // Phase 5: two right shares unseal. (`bao operator unseal` exits 0 whenever the share was
    // accepted, sealed or not; `bao status` is what exits 2 while sealed.)
    let s = c
        .bao(None, &["operator", "unseal", "-format=json", &b64[1]])
        .json();
    assert_eq!(
        (s["sealed"].as_bool(), s["progress"].as_u64()),
        (Some(true), Some(1))
    );
    let run = c.bao(None, &["operator", "unseal", &hex[2]]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let (code, s) = status_json(&c);
    assert_eq!((code, s["sealed"].as_bool()), (0, Some(false)));
    assert!(s["cluster_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(
        http(c.port, "GET", "/v1/sys/health", "", None)
            .expect("health")
            .0,
        200
    );
    assert_eq!(
        http(c.port, "GET", "/v1/sys/health?activecode=299", "", None)
            .expect("health")
            .0,
        299
    );
    let leader = c.bao(Some(&root), &["read", "-format=json", "sys/leader"]);
    assert_eq!(leader.code, 0, "{}", leader.stderr);

    // Phase 6: sealing needs the root token.
    let run = c.bao(None, &["operator", "seal"]);
    assert!(
        run.code != 0 && run.stderr.contains("permission denied"),
        "{}",
        run.stderr
    );
    let run = c.bao(Some("s.notarealtoken00000000000"), &["operator", "seal"]);
    assert!(
        run.code != 0 && run.stderr.contains("Code: 403"),
        "{}",
        run.stderr
    );
    let run = c.bao(Some(&root), &["operator", "seal"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(status_json(&c).0, 2, "sealed again");
    assert_eq!(
        http(c.port, "GET", "/v1/secret/x", "", Some(&root))
            .expect("sealed")
            .0,
        503
    );

    // Phase 7: kill -9, restart on the same data dir: sealed, and the same shares unseal it.
    c.kill();
    c.start();
    let (code, s) = status_json(&c);
    assert_eq!(
        (code, s["initialized"].as_bool(), s["sealed"].as_bool()),
        (2, Some(true), Some(true))
    );
    c.bao(None, &["operator", "unseal", &hex[1]]);
    assert_eq!(c.bao(None, &["operator", "unseal", &b64[0]]).code, 0);
    assert_eq!(status_json(&c).0, 0, "unsealed after restart");
    // The root token minted at init still works after the restart.
    assert_eq!(c.bao(Some(&root), &["operator", "seal"]).code, 0);

    // Phase 8: nothing secret is on disk in plaintext.
    let secrets: Vec<Vec<u8>> = std::iter::once(root.as_bytes().to_vec())
        .chain(hex.iter().map(|k| k.as_bytes().to_vec()))
        .chain(b64.iter().map(|k| k.as_bytes().to_vec()))
        .chain(hex.iter().map(|k| decode_hex(k)))
        .collect();
    c.kill();
    for file in walk(&c.data_dir()) {
        let bytes = std::fs::read(&file).expect("read data file");
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_slice()),
                "{} holds a secret in plaintext",
                file.display()
            );
        }
    }
}

#[test]
fn static_seal_unseals_itself_and_takes_recovery_keys() {
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let mut c = Coffer::new(&format!(
        "seal \"static\" {{\n  current_key_id = \"k1\"\n  current_key = \"{key}\"\n}}"
    ));
    c.start();
    let (code, s) = status_json(&c);
    assert_eq!(
        (code, s["type"].as_str(), s["recovery_seal"].as_bool()),
        (2, Some("static"), Some(true))
    );

    // `bao operator init` sees the auto seal and asks for recovery keys (5, threshold 3).
    let run = c.bao(None, &["operator", "init", "-format=json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let init = run.json();
    assert!(keys(&init, "unseal_keys_b64").is_empty());
    let recovery = keys(&init, "recovery_keys_b64");
    assert_eq!(recovery.len(), 5);
    let root = init["root_token"].as_str().expect("root").to_owned();
    let (code, s) = status_json(&c);
    assert_eq!(
        (
            code,
            s["sealed"].as_bool(),
            s["t"].as_u64(),
            s["n"].as_u64()
        ),
        (0, Some(false), Some(3), Some(5))
    );

    // Restart: it unseals itself.
    c.kill();
    c.start();
    let (code, s) = status_json(&c);
    assert_eq!(
        (code, s["sealed"].as_bool()),
        (0, Some(false)),
        "static seal should unseal at start: {}",
        c.stderr()
    );

    // Sealed by hand, three recovery shares unseal it again.
    assert_eq!(c.bao(Some(&root), &["operator", "seal"]).code, 0);
    for (i, share) in recovery.iter().take(3).enumerate() {
        let run = c.bao(None, &["operator", "unseal", "-format=json", share]);
        assert_eq!(run.code, 0, "recovery share {i}: {}", run.stderr);
        let s = run.json();
        assert_eq!(
            s["sealed"].as_bool(),
            Some(i < 2),
            "after recovery share {i}: {s}"
        );
    }
    assert_eq!(status_json(&c).0, 0, "unsealed by recovery shares");
    // `secret_shares` does not apply to a static seal; and init happened already.
    let run = c.bao(
        None,
        &["operator", "init", "-key-shares=3", "-key-threshold=2"],
    );
    assert!(run.code != 0, "{}", run.stdout);
}

#[test]
fn a_second_server_on_a_locked_data_dir_is_refused() {
    let mut first = Coffer::new("");
    first.start();
    let second_port = common::free_port();
    let hcl = std::fs::read_to_string(first.config_path())
        .expect("config")
        .replace(
            &format!("127.0.0.1:{}", first.port),
            &format!("127.0.0.1:{second_port}"),
        );
    let second_cfg = first.dir.path().join("second.hcl");
    std::fs::write(&second_cfg, hcl).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("server")
        .arg(format!("-config={}", second_cfg.display()))
        .output()
        .expect("run second server");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second server must not start");
    assert!(
        stderr.contains("locked by another coffer server") && stderr.contains("pid "),
        "{stderr}"
    );
    // The first one is unharmed.
    assert_eq!(first.bao(None, &["status"]).code, 2);
}

#[test]
fn bad_config_stops_the_start_naming_field_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("bad.hcl");
    std::fs::write(&cfg, "listener \"tcp\" {\n  address = \"127.0.0.1:1\"\n  tls_disable = \"perhaps\"\n}\nstorage \"inmem\" {}\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("server")
        .arg(format!("-config={}", cfg.display()))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("bad.hcl") && stderr.contains("listener.tcp.tls_disable"),
        "{stderr}"
    );
}

fn decode_hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

//! `coffer server -dev`: ready at once, root token as asked, and hvac (the most used Python
//! client) agrees.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn dev_server_is_ready_unsealed_with_the_given_root_token() {
    let port = common::free_port();
    let start = Instant::now();
    let _child = Child(
        Command::new(env!("CARGO_BIN_EXE_coffer"))
            .args([
                "server",
                "-dev",
                "-dev-root-token-id=root",
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    let deadline = start + Duration::from_secs(15);
    while common::http(port, "GET", "/v1/sys/health", "", None)
        .map(|r| r.0)
        .ok()
        != Some(200)
    {
        assert!(Instant::now() < deadline, "dev server not healthy in time");
        std::thread::sleep(Duration::from_millis(10));
    }
    let addr = format!("http://127.0.0.1:{port}");
    let run = common::bao(&addr, Some("root"), &["status", "-format=json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = run.json();
    assert_eq!(
        (
            s["sealed"].as_bool(),
            s["t"].as_u64(),
            s["n"].as_u64(),
            s["storage_type"].as_str()
        ),
        (Some(false), Some(1), Some(1), Some("inmem"))
    );
    // The root token authenticates (sealing is root-only).
    assert!(common::bao(&addr, Some("wrong"), &["operator", "seal"]).code != 0);

    // hvac: health, seal status, authentication and sealing, as a Python client sees them.
    let python = std::env::var("COFFER_PYTHON").unwrap_or_else(|_| {
        let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
        if venv.exists() {
            venv.display().to_string()
        } else {
            "python3".into()
        }
    });
    let script = r#"
import sys, hvac
c = hvac.Client(url=sys.argv[1], token="root")
assert c.sys.is_initialized() is True
assert c.sys.is_sealed() is False
h = c.sys.read_health_status(method="GET")
assert h["initialized"] and not h["sealed"] and not h["standby"], h
assert c.sys.read_seal_status()["type"] == "shamir"
bad = hvac.Client(url=sys.argv[1], token="nope")
try:
    bad.sys.seal()
    raise SystemExit("sealing with a bad token must fail")
except hvac.exceptions.Forbidden:
    pass
c.sys.seal()
assert c.sys.is_sealed() is True
print("ok")
"#;
    let out = Command::new(&python)
        .args(["-c", script, &addr])
        .output()
        .expect("python with hvac (run scripts/test)");
    assert!(
        out.status.success(),
        "hvac check failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, _) = common::http(port, "GET", "/v1/sys/health", "", None).expect("health");
    assert_eq!(code, 503, "sealed through hvac");
}

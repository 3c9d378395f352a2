//! A TLS listener (rustls): the `bao` CLI verifies the server against the CA it is given, and
//! `tls_min_version = "tls13"` is honoured.

mod common;

use std::process::Command;

use common::Coffer;

/// A self-signed certificate for 127.0.0.1, made with the system's `openssl`.
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=coffer-test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian package openssl) is needed to make a test certificate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

#[test]
fn bao_talks_to_a_tls_listener() {
    let certs = tempfile::tempdir().expect("tempdir");
    let (cert, key) = self_signed(certs.path());
    let listener = format!(
        "tls_cert_file = \"{}\"\n  tls_key_file = \"{}\"\n  tls_min_version = \"tls13\"",
        cert.display(),
        key.display()
    );
    let mut c = Coffer::with_listener(&listener, "");
    c.start();
    assert!(c.addr().starts_with("https://"));

    let ca = format!("-ca-cert={}", cert.display());
    let run = c.bao(None, &["status", "-format=json", &ca]);
    assert_eq!(
        run.code, 2,
        "sealed and uninitialized over TLS: {}",
        run.stderr
    );
    assert_eq!(run.json()["initialized"].as_bool(), Some(false));

    // Without the CA the client must refuse the self-signed certificate.
    let run = c.bao(None, &["status"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("certificate"), "{}", run.stderr);

    // Plain HTTP on the TLS port is not served.
    assert!(
        common::http(c.port, "GET", "/v1/sys/health", "", None)
            .map(|r| r.0)
            .ok()
            != Some(501)
    );

    let run = c.bao(
        None,
        &[
            "operator",
            "init",
            "-key-shares=1",
            "-key-threshold=1",
            "-format=json",
            &ca,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

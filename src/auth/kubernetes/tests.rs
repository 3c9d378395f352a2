//! The method through its path table (no core, no HTTP): roles, configuration in and out of
//! a pod (the pod files live in a temp dir), and which bearer the TokenReview carries. The
//! API server here is a one-shot HTTPS stand-in on 127.0.0.1 with its own CA; the full
//! fake API is in tests/kubernetes.rs.

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::engine::testing::Harness;
use crate::logical::Operation::{Create, Delete, List, Read, Update};

fn pod(dir: &tempfile::TempDir) -> LocalFiles {
    LocalFiles {
        token: dir.path().join("token"),
        ca: dir.path().join("ca.crt"),
    }
}

fn err(r: Result<EngineResponse, EngineError>) -> String {
    r.expect_err("refused").to_string()
}

fn jwt(ns: &str, name: &str, uid: &str) -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2ln",
        part(json!({"alg": "RS256"})),
        part(json!({
            "kubernetes.io/serviceaccount/namespace": ns,
            "kubernetes.io/serviceaccount/service-account.name": name,
            "kubernetes.io/serviceaccount/service-account.uid": uid,
        }))
    )
}

#[tokio::test]
async fn roles_are_checked_and_read_back_as_openbao_does() {
    let h = Harness::new(Kubernetes::new(LocalFiles::default()));
    let write = |path: &'static str, v: Value| h.call(Create, path, v);
    assert_eq!(
        err(write("role/r", json!({})).await),
        "\"bound_service_account_names\" can not be empty"
    );
    assert_eq!(
        err(write("role/r", json!({"bound_service_account_names": "a"})).await),
        "\"bound_service_account_namespaces\" can not be empty if \"bound_service_account_namespace_selector\" is not set"
    );
    for (names, namespaces) in [("a,*", "x"), ("a", "x,*")] {
        let v = json!({"bound_service_account_names": names, "bound_service_account_namespaces": namespaces});
        assert_eq!(
            err(write("role/r", v).await),
            "can not mix \"*\" with values"
        );
    }
    let base = json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "x"});
    let mut bad = base.clone();
    bad["alias_name_source"] = json!("bad");
    assert_eq!(
        err(write("role/r", bad).await),
        "invalid alias_name_source, must be one of: serviceaccount_uid, serviceaccount_name"
    );
    let mut bad = base.clone();
    bad["bound_service_account_namespace_selector"] = json!("zz");
    assert_eq!(
        err(write("role/r", bad).await),
        "invalid \"bound_service_account_namespace_selector\" configured"
    );

    // Names are case-insensitive; legacy fields are echoed as OpenBao does.
    let mut v = base.clone();
    v["policies"] = json!("p1");
    v["ttl"] = json!(60);
    v["audience"] = json!("vault");
    write("role/App", v).await.expect("written");
    let d = h.data(Read, "role/app", Value::Null).await;
    assert_eq!(d["policies"], json!(["p1"]));
    assert_eq!(d["token_policies"], json!(["p1"]));
    assert_eq!(d["ttl"], json!(60));
    assert_eq!(d["audience"], "vault");
    assert_eq!(d["alias_name_source"], "serviceaccount_uid");
    assert_eq!(d["bound_service_account_namespace_selector"], "");
    // An update changes only what it names (the selector aside, as in OpenBao).
    h.call(
        Update,
        "role/APP",
        json!({"bound_service_account_names": "b"}),
    )
    .await
    .expect("updated");
    let d = h.data(Read, "role/app", Value::Null).await;
    assert_eq!(d["bound_service_account_names"], json!(["b"]));
    assert_eq!(d["bound_service_account_namespaces"], json!(["x"]));
    assert_eq!(d["audience"], "vault");
    assert_eq!(
        h.data(List, "role/", Value::Null).await["keys"],
        json!(["app"])
    );
    h.call(Delete, "role/App", Value::Null)
        .await
        .expect("deleted");
    assert!(matches!(
        h.call(Read, "role/app", Value::Null).await,
        Ok(EngineResponse {
            body: crate::logical::Body::NotFound,
            ..
        })
    ));
}

#[tokio::test]
async fn outside_a_pod_the_ca_is_required() {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = pod(&dir);
    let h = Harness::new(Kubernetes::new(local.clone()));
    assert_eq!(
        err(h
            .call(Update, "config", json!({"kubernetes_host": "https://k"}))
            .await),
        format!("open {}: no such file or directory", local.ca.display())
    );
    assert!(matches!(
        h.call(Read, "config", Value::Null).await,
        Ok(EngineResponse {
            body: crate::logical::Body::NotFound,
            ..
        })
    ));
}

/// A one-shot HTTPS TokenReview endpoint: answers `answer`, keeps the Authorization
/// header it saw. Returns its URL and the PEM of the CA that signed its certificate.
async fn stand_in(
    answer: Value,
) -> (
    String,
    String,
    Arc<Mutex<Option<String>>>,
    tokio::task::JoinHandle<()>,
) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &ca, &ca_key)
        .expect("cert");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("https://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(None));
    let task = {
        let seen = seen.clone();
        tokio::spawn(async move {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let Ok(mut s) = acceptor.accept(tcp).await else {
                return;
            };
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            // Head, then the body its Content-Length announces.
            loop {
                let Ok(n) = s.read(&mut buf).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= len {
                        let auth = head
                            .lines()
                            .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                            .map(|l| l["authorization:".len()..].trim().to_owned());
                        *seen.lock().expect("lock") = auth;
                        break;
                    }
                }
            }
            let body = answer.to_string();
            let reply = format!(
                "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(reply.as_bytes()).await;
        })
    };
    (url, ca.pem(), seen, task)
}

fn accepted() -> Value {
    json!({"status": {"authenticated": true,
        "user": {"username": "system:serviceaccount:default:app", "uid": "u1"}}})
}

#[tokio::test]
async fn in_a_pod_its_ca_and_token_are_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = pod(&dir);
    std::fs::write(&local.token, "pod-token\n").expect("token");
    let (url, ca, seen, task) = stand_in(accepted()).await;
    std::fs::write(&local.ca, ca).expect("ca");
    let h = Harness::new(Kubernetes::new(local));
    h.call(Update, "config", json!({"kubernetes_host": url}))
        .await
        .expect("the pod CA is enough");
    let d = h.data(Read, "config", Value::Null).await;
    assert_eq!(d["kubernetes_ca_cert"], "", "the pod CA is not stored");
    assert_eq!(d["token_reviewer_jwt_set"], false);
    h.call(
        Create,
        "role/app",
        json!({"bound_service_account_names": "app", "bound_service_account_namespaces": "default"}),
    )
    .await
    .expect("role");
    let resp = h
        .call(
            Update,
            "login",
            json!({"role": "app", "jwt": jwt("default", "app", "u1")}),
        )
        .await
        .expect("login");
    let login = resp.login.expect("a login");
    assert_eq!(login.display_name, "default-app");
    assert_eq!(login.alias, "u1");
    task.await.expect("stand-in");
    assert_eq!(
        seen.lock().expect("lock").as_deref(),
        Some("Bearer pod-token"),
        "the pod's token, trimmed, is the bearer"
    );
}

#[tokio::test]
async fn with_local_files_disabled_the_client_jwt_is_the_bearer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = pod(&dir);
    std::fs::write(&local.token, "pod-token").expect("token");
    let h = Harness::new(Kubernetes::new(local));
    let (url, ca, seen, task) = stand_in(accepted()).await;
    h.call(
        Update,
        "config",
        json!({"kubernetes_host": url, "kubernetes_ca_cert": ca, "disable_local_ca_jwt": true}),
    )
    .await
    .expect("config");
    h.call(
        Create,
        "role/app",
        json!({"bound_service_account_names": "*", "bound_service_account_namespaces": "*",
               "alias_name_source": "serviceaccount_name"}),
    )
    .await
    .expect("role");
    let token = jwt("default", "app", "u1");
    let login = h
        .call(Update, "login", json!({"role": "app", "jwt": token}))
        .await
        .expect("login")
        .login
        .expect("a login");
    assert_eq!(login.alias, "default/app");
    assert_eq!(login.metadata["service_account_uid"], "u1");
    task.await.expect("stand-in");
    assert_eq!(
        seen.lock().expect("lock").clone(),
        Some(format!("Bearer {token}"))
    );
}

#[tokio::test]
async fn the_api_server_is_reached_over_tls_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = Harness::new(Kubernetes::new(pod(&dir)));
    let e = err(h
        .call(
            Update,
            "config",
            json!({"kubernetes_host": "http://127.0.0.1:1", "kubernetes_ca_cert": "x"}),
        )
        .await);
    assert!(e.contains("https://"), "{e}");
}

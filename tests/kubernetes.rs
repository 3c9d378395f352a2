//! The kubernetes auth method end to end: the real `bao` CLI configures it and logs in, and
//! the test itself plays the Kubernetes API server: an HTTPS TokenReview endpoint on
//! 127.0.0.1 with its own CA (rcgen), answering `authentication.k8s.io/v1` TokenReview JSON
//! as the API server does, and recording what it was asked.
//!
//! Every expectation holds on a real OpenBao 2.7.2 too: `E2E_SERVER=openbao cargo test
//! --test kubernetes` runs the same scenarios against `bao server`.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{Api, Server};
use serde_json::{json, Value};

// ------------------------------------------------------------------------------------------
// The fake API server.

/// What the fake answers next: status code and body.
#[derive(Clone)]
struct Answer(u16, String);

/// One request the fake received.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Shared {
    answer: Mutex<Answer>,
    seen: Mutex<Vec<Seen>>,
    stop: AtomicBool,
}

/// An HTTPS server on 127.0.0.1 with a certificate for 127.0.0.1 signed by its own CA.
/// Stopped (and its thread joined) on drop.
struct FakeApi {
    addr: SocketAddr,
    ca_pem: String,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl FakeApi {
    fn start() -> FakeApi {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "fake kubernetes CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA cert");
        let key = rcgen::KeyPair::generate().expect("server key");
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
        let cert = params.signed_by(&key, &ca, &ca_key).expect("server cert");

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
        let config = Arc::new(config);

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            answer: Mutex::new(Answer(500, "{}".into())),
            seen: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let thread = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        // A failed handshake (a client that distrusts us) is just dropped.
                        let _ = serve_one(&config, &shared, stream);
                    }
                }
            })
        };
        FakeApi {
            addr,
            ca_pem: ca.pem(),
            shared,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    fn answer(&self, status: u16, body: Value) {
        *self.shared.answer.lock().expect("lock") = Answer(status, body.to_string());
    }

    /// The requests received since the last call.
    fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.shared.seen.lock().expect("lock"))
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_one(
    config: &Arc<rustls::ServerConfig>,
    shared: &Shared,
    tcp: TcpStream,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(10)))?;
    let conn = rustls::ServerConnection::new(config.clone()).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let (head_len, content_length) = loop {
        let n = tls.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..at]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (at + 4, len);
        }
    };
    while raw.len() < head_len + content_length {
        let n = tls.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&raw[..head_len - 4]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split_whitespace();
    let seen = Seen {
        method: request_line.next().unwrap_or("").to_owned(),
        path: request_line.next().unwrap_or("").to_owned(),
        headers: lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect(),
        body: String::from_utf8_lossy(&raw[head_len..]).into_owned(),
    };
    shared.seen.lock().expect("lock").push(seen);
    let Answer(status, body) = shared.answer.lock().expect("lock").clone();
    write!(
        tls,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    tls.conn.send_close_notify();
    tls.flush()
}

/// The API server's answer for a token it accepts.
fn accepted(ns: &str, name: &str, uid: &str, audiences: &[&str]) -> Value {
    json!({
        "kind": "TokenReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": {"token": "<redacted>", "audiences": audiences},
        "status": {
            "authenticated": true,
            "user": {
                "username": format!("system:serviceaccount:{ns}:{name}"),
                "uid": uid,
                "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{ns}"), "system:authenticated"],
                "extra": {"authentication.kubernetes.io/credential-id": ["JTI=1"]}
            },
            "audiences": audiences
        }
    })
}

/// The API server's answer for a token it does not accept.
fn rejected(error: &str) -> Value {
    json!({
        "kind": "TokenReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": {"token": "<redacted>"},
        "status": {"user": {}, "error": error}
    })
}

// ------------------------------------------------------------------------------------------
// JWTs.

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A JWT whose signature nobody checks (no `pem_keys`).
fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.{}",
        b64(&json!({"alg": "RS256", "kid": "k1"})),
        b64(claims),
        URL_SAFE_NO_PAD.encode(b"not-a-signature")
    )
}

/// The claims of a legacy secret-based service account token.
fn legacy(ns: &str, name: &str, uid: &str) -> Value {
    json!({
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": ns,
        "kubernetes.io/serviceaccount/secret.name": format!("{name}-token"),
        "kubernetes.io/serviceaccount/service-account.name": name,
        "kubernetes.io/serviceaccount/service-account.uid": uid,
        "sub": format!("system:serviceaccount:{ns}:{name}"),
    })
}

/// The claims of a projected (bound) service account token.
fn projected(ns: &str, name: &str, uid: &str, aud: &[&str]) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    json!({
        "aud": aud,
        "exp": now + 3600,
        "iat": now - 10,
        "nbf": now - 10,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "kubernetes.io": {
            "namespace": ns,
            "pod": {"name": "app-7d4b9c", "uid": "pod-uid-1"},
            "serviceaccount": {"name": name, "uid": uid}
        },
        "sub": format!("system:serviceaccount:{ns}:{name}"),
    })
}

// ------------------------------------------------------------------------------------------
// Helpers around the server under test.

struct World {
    server: Server,
    root: String,
    fake: FakeApi,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let (server, root, _) = Server::start_unsealed();
        let w = World {
            server,
            root,
            fake: FakeApi::start(),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        w.bao(&["auth", "enable", "kubernetes"]).ok();
        w
    }

    fn bao(&self, args: &[&str]) -> common::BaoRun {
        self.server.bao(Some(&self.root), args)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p: PathBuf = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        format!("@{}", p.display())
    }

    fn anonymous(&self) -> Api {
        Api {
            port: self.server.port(),
            token: None,
        }
    }

    fn root_api(&self) -> Api {
        self.server.api(&self.root)
    }

    /// POST auth/kubernetes/login without a token (as a pod does).
    fn login(&self, role: &str, jwt: &str) -> common::Resp {
        self.anonymous()
            .post("auth/kubernetes/login", &json!({"role": role, "jwt": jwt}))
    }

    /// The one TokenReview the fake saw since the last look.
    #[track_caller]
    fn one_review(&self) -> Seen {
        let seen = self.fake.take_seen();
        assert_eq!(seen.len(), 1, "one TokenReview expected: {seen:?}");
        seen.into_iter().next().expect("one")
    }
}

const REVIEWER: &str = "reviewer-jwt-abc";

// ------------------------------------------------------------------------------------------
// Scenarios.

#[test]
fn login_with_a_token_review() {
    let w = World::new();
    let ca = w.file("ca.pem", &w.fake.ca_pem);
    let host = format!("kubernetes_host={}", w.fake.url());
    w.bao(&[
        "write",
        "auth/kubernetes/config",
        &host,
        &format!("kubernetes_ca_cert={ca}"),
        &format!("token_reviewer_jwt={REVIEWER}"),
    ])
    .ok();
    let config = w
        .bao(&["read", "-format=json", "auth/kubernetes/config"])
        .ok()
        .json();
    assert_eq!(
        config["data"],
        json!({
            "disable_iss_validation": true,
            "disable_local_ca_jwt": false,
            "issuer": "",
            "kubernetes_ca_cert": w.fake.ca_pem,
            "kubernetes_host": w.fake.url(),
            "pem_keys": [],
            "token_reviewer_jwt_set": true,
        })
    );

    w.bao(&[
        "write",
        "auth/kubernetes/role/app",
        "bound_service_account_names=app,web-*",
        "bound_service_account_namespaces=default",
        "token_policies=p1",
        "token_ttl=1h",
    ])
    .ok();
    let role = w
        .bao(&["read", "-format=json", "auth/kubernetes/role/app"])
        .ok()
        .json();
    assert_eq!(
        role["data"],
        json!({
            "alias_name_source": "serviceaccount_uid",
            "bound_service_account_names": ["app", "web-*"],
            "bound_service_account_namespace_selector": "",
            "bound_service_account_namespaces": ["default"],
            "token_bound_cidrs": [],
            "token_explicit_max_ttl": 0,
            "token_max_ttl": 0,
            "token_no_default_policy": false,
            "token_num_uses": 0,
            "token_period": 0,
            "token_policies": ["p1"],
            "token_strictly_bind_ip": false,
            "token_ttl": 3600,
            "token_type": "default",
        })
    );
    let list = w
        .bao(&["list", "-format=json", "auth/kubernetes/role"])
        .ok()
        .json();
    assert_eq!(list, json!(["app"]));

    // Accepted: the CLI logs in, the token carries OpenBao's metadata and display name.
    let jwt = unsigned(&legacy("default", "app", "uid-123"));
    w.fake
        .answer(201, accepted("default", "app", "uid-123", &[]));
    let out = w
        .bao(&[
            "write",
            "-format=json",
            "auth/kubernetes/login",
            "role=app",
            &format!("jwt={jwt}"),
        ])
        .ok()
        .json();
    let auth = &out["auth"];
    assert_eq!(auth["policies"], json!(["default", "p1"]));
    assert_eq!(auth["token_policies"], json!(["default", "p1"]));
    assert_eq!(auth["lease_duration"], 3600);
    assert_eq!(auth["orphan"], true);
    assert_eq!(auth["renewable"], true);
    assert_eq!(
        auth["metadata"],
        json!({
            "role": "app",
            "service_account_name": "app",
            "service_account_namespace": "default",
            "service_account_secret_name": "app-token",
            "service_account_uid": "uid-123",
        })
    );
    let token = auth["client_token"].as_str().expect("token").to_owned();
    let looked = w
        .bao(&["token", "lookup", "-format=json", &token])
        .ok()
        .json();
    assert_eq!(looked["data"]["display_name"], "kubernetes-default-app");
    assert_eq!(looked["data"]["path"], "auth/kubernetes/login");

    // What the API server was asked, exactly.
    let review = w.one_review();
    assert_eq!(review.method, "POST");
    assert_eq!(review.path, "/apis/authentication.k8s.io/v1/tokenreviews");
    assert_eq!(
        review.header("authorization"),
        Some(format!("Bearer {REVIEWER}").as_str())
    );
    assert_eq!(review.header("content-type"), Some("application/json"));
    assert_eq!(review.header("accept"), Some("application/json"));
    assert_eq!(
        review.body,
        format!(r#"{{"metadata":{{}},"spec":{{"token":"{jwt}"}},"status":{{"user":{{}}}}}}"#)
    );

    // `bao login -method=kubernetes` posts the same login.
    w.fake
        .answer(201, accepted("default", "app", "uid-123", &[]));
    let out = w
        .server
        .bao(
            None,
            &[
                "login",
                "-no-store",
                "-format=json",
                "-method=kubernetes",
                "role=app",
                &format!("jwt={jwt}"),
            ],
        )
        .ok()
        .json();
    assert_eq!(out["auth"]["metadata"]["service_account_uid"], "uid-123");
    w.one_review();

    // A glob-bound name, a projected token and the name alias source.
    w.bao(&[
        "write",
        "auth/kubernetes/role/app",
        "alias_name_source=serviceaccount_name",
    ])
    .ok();
    let jwt = unsigned(&projected(
        "default",
        "web-1",
        "uid-w1",
        &["https://kubernetes.default.svc"],
    ));
    w.fake.answer(
        201,
        accepted(
            "default",
            "web-1",
            "uid-w1",
            &["https://kubernetes.default.svc"],
        ),
    );
    let auth = w.login("app", &jwt).expect(200)["auth"].clone();
    assert_eq!(auth["metadata"]["service_account_name"], "web-1");
    assert_eq!(auth["metadata"]["service_account_uid"], "uid-w1");
    assert_eq!(auth["metadata"]["service_account_secret_name"], "");
    // Without a role audience the review asks for the token's own audiences.
    let review = w.one_review();
    let body: Value = serde_json::from_str(&review.body).expect("json body");
    assert_eq!(
        body["spec"]["audiences"],
        json!(["https://kubernetes.default.svc"])
    );

    // Rejected by the API server: authenticated false with an error.
    let jwt = unsigned(&legacy("default", "app", "uid-123"));
    w.fake.answer(
        201,
        rejected("[invalid bearer token, token has been invalidated]"),
    );
    w.login("app", &jwt)
        .expect_errors(403, &["permission denied"]);
    w.one_review();
    // authenticated false without an error.
    w.fake
        .answer(201, json!({"kind": "TokenReview", "status": {"user": {}}}));
    w.login("app", &jwt)
        .expect_errors(403, &["permission denied"]);
    w.one_review();
    // The reviewer is not allowed to review (a Status object with 403).
    w.fake.answer(
        403,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
               "message": "tokenreviews.authentication.k8s.io is forbidden", "reason": "Forbidden", "code": 403}),
    );
    w.login("app", &jwt)
        .expect_errors(403, &["permission denied"]);
    w.one_review();
    // The review names another service account, or another uid.
    w.fake
        .answer(201, accepted("default", "other", "uid-123", &[]));
    w.login("app", &jwt)
        .expect_errors(403, &["permission denied"]);
    w.one_review();
    w.fake
        .answer(201, accepted("default", "app", "uid-999", &[]));
    w.login("app", &jwt)
        .expect_errors(403, &["permission denied"]);
    w.one_review();
    // A user that is not a service account.
    let mut alice = accepted("default", "app", "uid-123", &[]);
    alice["status"]["user"]["username"] = json!("alice");
    w.fake.answer(201, alice);
    w.login("app", &jwt)
        .expect_errors(403, &["permission denied"]);
    w.one_review();

    // Refusals before any review: the role, the JWT's names, its claims.
    w.login("nope", &jwt)
        .expect_errors(400, &["invalid role name \"nope\""]);
    w.anonymous()
        .post("auth/kubernetes/login", &json!({"jwt": jwt}))
        .expect_errors(400, &["missing role"]);
    w.anonymous()
        .post("auth/kubernetes/login", &json!({"role": "app"}))
        .expect_errors(400, &["missing jwt"]);
    w.login("app", &unsigned(&legacy("default", "bob", "u")))
        .expect_errors(403, &["service account name not authorized"]);
    w.login("app", &unsigned(&legacy("kube-system", "app", "u")))
        .expect_errors(403, &["namespace not authorized"]);
    w.login("app", "not-a-jwt")
        .expect_errors(403, &["permission denied"]);
    let mut expired = legacy("default", "app", "uid-123");
    expired["exp"] = json!(1000);
    w.login("app", &unsigned(&expired)).expect_errors(
        403,
        &["invalid expiration time (exp) claim: token is expired"],
    );
    assert!(w.fake.take_seen().is_empty(), "no review for refused JWTs");
}

#[test]
fn audiences_are_checked_in_the_jwt_and_the_review() {
    let w = World::new();
    let ca = w.file("ca.pem", &w.fake.ca_pem);
    // No reviewer JWT: the client's own JWT is the bearer (not in a pod here).
    w.bao(&[
        "write",
        "auth/kubernetes/config",
        &format!("kubernetes_host={}", w.fake.url()),
        &format!("kubernetes_ca_cert={ca}"),
    ])
    .ok();
    w.bao(&[
        "write",
        "auth/kubernetes/role/aud",
        "bound_service_account_names=*",
        "bound_service_account_namespaces=team-*",
        "audience=vault",
    ])
    .ok();
    let role = w.root_api().get("auth/kubernetes/role/aud").expect(200);
    assert_eq!(role["data"]["audience"], "vault");

    let jwt = unsigned(&projected("team-a", "svc", "uid-a", &["vault", "other"]));
    w.fake
        .answer(201, accepted("team-a", "svc", "uid-a", &["vault"]));
    let auth = w.login("aud", &jwt).expect(200)["auth"].clone();
    assert_eq!(auth["metadata"]["service_account_namespace"], "team-a");
    let review = w.one_review();
    assert_eq!(
        review.header("authorization"),
        Some(format!("Bearer {jwt}").as_str())
    );
    assert_eq!(
        review.body,
        format!(
            r#"{{"metadata":{{}},"spec":{{"token":"{jwt}","audiences":["vault"]}},"status":{{"user":{{}}}}}}"#
        )
    );

    // The API server says the token is for another audience.
    w.fake.answer(
        201,
        accepted(
            "team-a",
            "svc",
            "uid-a",
            &["https://kubernetes.default.svc"],
        ),
    );
    w.login("aud", &jwt)
        .expect_errors(403, &["permission denied"]);
    w.one_review();

    // The JWT itself is for another audience: refused before any review.
    let other = unsigned(&projected("team-a", "svc", "uid-a", &["other"]));
    w.login("aud", &other).expect_errors(
        403,
        &["invalid audience (aud) claim: audience claim does not match any expected audience"],
    );
    assert!(w.fake.take_seen().is_empty());
}

#[test]
fn an_unreachable_or_untrusted_api_server_denies() {
    let w = World::new();
    w.bao(&[
        "write",
        "auth/kubernetes/role/app",
        "bound_service_account_names=app",
        "bound_service_account_namespaces=default",
    ])
    .ok();
    let jwt = unsigned(&legacy("default", "app", "uid-123"));
    // No configuration yet.
    w.login("app", &jwt)
        .expect_errors(500, &["could not load backend configuration"]);
    // Outside a pod the CA is required.
    let run = w.bao(&[
        "write",
        "auth/kubernetes/config",
        &format!("kubernetes_host={}", w.fake.url()),
    ]);
    run.fails(
        2,
        "open /var/run/secrets/kubernetes.io/serviceaccount/ca.crt: no such file or directory",
    );
    w.root_api()
        .post(
            "auth/kubernetes/config",
            &json!({"kubernetes_host": "https://x", "disable_local_ca_jwt": true}),
        )
        .expect_errors(
            400,
            &["kubernetes_ca_cert must be given when disable_local_ca_jwt is true"],
        );
    w.root_api()
        .post("auth/kubernetes/config", &json!({}))
        .expect_errors(400, &["no host provided"]);

    // A closed port.
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let ca = w.file("ca.pem", &w.fake.ca_pem);
    w.bao(&[
        "write",
        "auth/kubernetes/config",
        &format!("kubernetes_host=https://127.0.0.1:{closed_port}"),
        &format!("kubernetes_ca_cert={ca}"),
    ])
    .ok();
    w.login("app", &jwt)
        .expect_errors(403, &["permission denied"]);

    // The server's certificate is not signed by the configured CA.
    let stranger = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let other_ca = params.self_signed(&stranger).expect("other CA");
    let other = w.file("other.pem", &other_ca.pem());
    w.bao(&[
        "write",
        "auth/kubernetes/config",
        &format!("kubernetes_host={}", w.fake.url()),
        &format!("kubernetes_ca_cert={other}"),
        &format!("token_reviewer_jwt={REVIEWER}"),
    ])
    .ok();
    w.fake
        .answer(201, accepted("default", "app", "uid-123", &[]));
    w.login("app", &jwt)
        .expect_errors(403, &["permission denied"]);
    assert!(
        w.fake.take_seen().is_empty(),
        "no request gets past a failed handshake"
    );
    // With the right CA the same login works (the fake was reachable all along).
    w.bao(&[
        "write",
        "auth/kubernetes/config",
        &format!("kubernetes_host={}", w.fake.url()),
        &format!("kubernetes_ca_cert={ca}"),
        &format!("token_reviewer_jwt={REVIEWER}"),
    ])
    .ok();
    w.login("app", &jwt).expect(200);
    w.one_review();
}

#[test]
fn pem_keys_check_the_signature() {
    let w = World::new();
    let ca = w.file("ca.pem", &w.fake.ca_pem);
    let signer = rcgen::KeyPair::generate().expect("signing key");
    let public = w.file("sa.pub", &signer.public_key_pem());
    w.bao(&[
        "write",
        "auth/kubernetes/config",
        &format!("kubernetes_host={}", w.fake.url()),
        &format!("kubernetes_ca_cert={ca}"),
        &format!("pem_keys={public}"),
    ])
    .ok();
    let config = w.root_api().get("auth/kubernetes/config").expect(200);
    // Stored trimmed, as OpenBao's comma-separated list fields are.
    assert_eq!(
        config["data"]["pem_keys"],
        json!([signer.public_key_pem().trim()])
    );
    assert_eq!(config["data"]["token_reviewer_jwt_set"], false);
    w.root_api()
        .post(
            "auth/kubernetes/config",
            &json!({"kubernetes_host": w.fake.url(), "kubernetes_ca_cert": w.fake.ca_pem, "pem_keys": "junk"}),
        )
        .expect_errors(400, &["data does not contain any valid public keys"]);
    w.bao(&[
        "write",
        "auth/kubernetes/role/app",
        "bound_service_account_names=app",
        "bound_service_account_namespaces=default",
    ])
    .ok();

    let key = jsonwebtoken::EncodingKey::from_ec_der(&signer.serialize_der());
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    let good =
        jsonwebtoken::encode(&header, &legacy("default", "app", "uid-123"), &key).expect("sign");
    w.fake
        .answer(201, accepted("default", "app", "uid-123", &[]));
    w.login("app", &good).expect(200);
    w.one_review();

    // Same signature, other claims.
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(&legacy("default", "app", "uid-999")),
        parts[2]
    );
    w.fake
        .answer(201, accepted("default", "app", "uid-999", &[]));
    w.login("app", &tampered)
        .expect_errors(403, &["permission denied"]);
    // Signed by another key.
    let stranger = rcgen::KeyPair::generate().expect("key");
    let forged = jsonwebtoken::encode(
        &header,
        &legacy("default", "app", "uid-123"),
        &jsonwebtoken::EncodingKey::from_ec_der(&stranger.serialize_der()),
    )
    .expect("sign");
    w.login("app", &forged)
        .expect_errors(403, &["permission denied"]);
    // The unsigned JWT that passes without pem_keys does not pass with them.
    w.login("app", &unsigned(&legacy("default", "app", "uid-123")))
        .expect_errors(403, &["permission denied"]);
    assert!(
        w.fake.take_seen().is_empty(),
        "no review for a bad signature"
    );
}

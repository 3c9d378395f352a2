//! The server configuration: OpenBao-style HCL into typed values.
//!
//! Parse, don't validate: everything that can be checked without touching the machine is
//! checked here, and what comes out is typed (`Storage::RocksDb { path }`, not a map). No side
//! effects: reading a static seal's key file happens when the seal is built, in `server`.
//!
//! Several files merge as OpenBao merges them: listeners accumulate, a later `storage` or
//! `seal` replaces an earlier one, a later scalar wins. An unknown field is a warning; an
//! invalid value stops the start with a message naming the field and the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hcl::{Block, Body, Expression};

/// OpenBao's default request body limit (`max_request_size`).
pub const DEFAULT_MAX_REQUEST_SIZE: usize = 32 * 1024 * 1024;
/// OpenBao's default request deadline (`max_request_duration`).
pub const DEFAULT_MAX_REQUEST_DURATION: Duration = Duration::from_secs(90);

/// A configuration error, naming the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {file}: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {file} is not valid HCL: {message}")]
    Syntax { file: PathBuf, message: String },
    #[error("config file {file}: {field}: {message}")]
    Invalid {
        file: PathBuf,
        field: String,
        message: String,
    },
    #[error("configuration: {0}")]
    Incomplete(String),
}

/// The whole configuration.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub listeners: Vec<Listener>,
    pub storage: Option<Storage>,
    pub seal: Option<Seal>,
    pub api_addr: Option<String>,
    pub cluster_addr: Option<String>,
    /// Accepted for compatibility. Coffer never swaps out key material it holds in memory,
    /// whatever this says (see docs/compat.md).
    pub disable_mlock: bool,
    pub log_level: Option<String>,
    /// Accepted and ignored: Coffer serves no web UI.
    pub ui: bool,
    /// `user_lockout "<method type>|all" { ... }` stanzas, by label.
    pub user_lockout: std::collections::BTreeMap<String, UserLockout>,
    /// Unknown fields met while parsing, to be logged once logging is set up.
    pub warnings: Vec<String>,
}

/// One `user_lockout` stanza. Unset fields fall back to a less specific stanza, then to
/// OpenBao's defaults (5 attempts, 15 minutes, 15 minutes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserLockout {
    pub lockout_threshold: Option<u64>,
    pub lockout_duration: Option<Duration>,
    pub lockout_counter_reset: Option<Duration>,
    pub disable_lockout: Option<bool>,
}

/// One `listener "tcp"` block.
#[derive(Clone, Debug)]
pub struct Listener {
    pub address: String,
    pub tls: Option<Tls>,
    pub max_request_size: usize,
    pub max_request_duration: Duration,
}

/// TLS settings of a listener whose `tls_disable` is false.
#[derive(Clone, Debug)]
pub struct Tls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub min_version: TlsVersion,
    pub client_certs: ClientCerts,
}

/// Whether and how a TLS listener asks for client certificates (OpenBao's
/// `tls_disable_client_certs`, `tls_require_and_verify_client_cert`, `tls_client_ca_file`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientCerts {
    /// Never ask for one.
    pub disabled: bool,
    /// A connection without a certificate issued by `ca_file` is refused.
    pub required: bool,
    /// The CAs a presented certificate must chain to. Without it any certificate is taken
    /// (its key still has to sign the handshake) and the cert auth method judges it, as
    /// OpenBao's `RequestClientCert` does.
    pub ca_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// The physical backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storage {
    /// Embedded RocksDB on one node.
    RocksDb { path: PathBuf },
    /// In memory; lost at exit. For tests and `-dev`.
    Memory,
}

/// The seal that protects the root key; absent means Shamir.
#[derive(Clone, Debug)]
pub enum Seal {
    /// OpenBao's `seal "static"`. Key material stays a spec (`env://`, `file://` or a
    /// literal) until the seal is built, so this type holds no secret bytes read from disk.
    Static {
        current_key_id: String,
        current_key: String,
        previous_key_id: Option<String>,
        previous_key: Option<String>,
    },
}

impl Config {
    /// Parse and merge the files, in order.
    pub fn load(files: &[PathBuf]) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        for file in files {
            let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
                file: file.clone(),
                source,
            })?;
            config.merge(Config::parse(&text, file)?);
        }
        Ok(config)
    }

    /// Parse one file's text; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let body: Body = hcl::parse(text).map_err(|e| ConfigError::Syntax {
            file: file.to_owned(),
            message: e.to_string(),
        })?;
        let mut p = Parser {
            file,
            warnings: Vec::new(),
        };
        let mut config = Config::default();
        for attr in body.attributes() {
            let (key, expr) = (attr.key(), attr.expr());
            match key {
                "api_addr" => config.api_addr = Some(p.string(key, expr)?),
                "cluster_addr" => config.cluster_addr = Some(p.string(key, expr)?),
                "disable_mlock" => config.disable_mlock = p.bool(key, expr)?,
                "log_level" => config.log_level = Some(p.log_level(key, expr)?),
                "ui" => config.ui = p.bool(key, expr)?,
                other => p.warn(other),
            }
        }
        for block in body.blocks() {
            match block.identifier() {
                "listener" => config.listeners.push(p.listener(block)?),
                "storage" | "backend" => config.storage = Some(p.storage(block)?),
                "seal" => {
                    if let Some(seal) = p.seal(block)? {
                        config.seal = Some(seal);
                    }
                }
                "user_lockout" => {
                    let (label, stanza) = p.user_lockout(block)?;
                    config.user_lockout.insert(label, stanza);
                }
                other => p.warn(other),
            }
        }
        config.warnings = p.warnings;
        Ok(config)
    }

    /// OpenBao's merge: listeners accumulate; a later storage, seal or scalar wins.
    pub fn merge(&mut self, other: Config) {
        self.listeners.extend(other.listeners);
        self.storage = other.storage.or(self.storage.take());
        self.seal = other.seal.or(self.seal.take());
        self.api_addr = other.api_addr.or(self.api_addr.take());
        self.cluster_addr = other.cluster_addr.or(self.cluster_addr.take());
        self.log_level = other.log_level.or(self.log_level.take());
        self.disable_mlock |= other.disable_mlock;
        self.ui |= other.ui;
        self.user_lockout.extend(other.user_lockout);
        self.warnings.extend(other.warnings);
    }

    /// The lockout settings the core applies: the stanzas, and `BAO_DISABLE_USER_LOCKOUT`
    /// (or `VAULT_DISABLE_USER_LOCKOUT`) turning it off everywhere, as in OpenBao.
    pub(crate) fn user_lockout(&self) -> crate::auth::lockout::ServerLockout {
        let env_off = ["BAO_DISABLE_USER_LOCKOUT", "VAULT_DISABLE_USER_LOCKOUT"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .any(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"));
        let by_kind = self
            .user_lockout
            .iter()
            .map(|(k, u)| {
                let c = crate::router::UserLockoutConfig {
                    lockout_threshold: u.lockout_threshold.unwrap_or(0),
                    lockout_duration: u.lockout_duration.map_or(0, |d| d.as_secs()),
                    lockout_counter_reset: u.lockout_counter_reset.map_or(0, |d| d.as_secs()),
                    disable_lockout: u.disable_lockout.unwrap_or(false),
                };
                (k.clone(), c)
            })
            .collect();
        crate::auth::lockout::ServerLockout {
            by_kind,
            disabled: env_off,
        }
    }

    /// What a server needs before it can start.
    pub fn check_complete(&self) -> Result<(), ConfigError> {
        if self.storage.is_none() {
            return Err(ConfigError::Incomplete(
                "a storage block is required".into(),
            ));
        }
        if self.listeners.is_empty() {
            return Err(ConfigError::Incomplete(
                "at least one listener block is required".into(),
            ));
        }
        Ok(())
    }
}

struct Parser<'a> {
    file: &'a Path,
    warnings: Vec<String>,
}

impl Parser<'_> {
    fn invalid(&self, field: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        }
    }

    fn warn(&mut self, field: &str) {
        self.warnings.push(format!(
            "{}: unknown field {field:?} ignored",
            self.file.display()
        ));
    }

    fn string(&self, field: &str, expr: &Expression) -> Result<String, ConfigError> {
        match expr {
            Expression::String(s) => Ok(s.clone()),
            Expression::Number(n) => Ok(n.to_string()),
            Expression::Bool(b) => Ok(b.to_string()),
            _ => Err(self.invalid(field, "expected a string")),
        }
    }

    /// HCL bools, and the strings OpenBao's parser also takes.
    fn bool(&self, field: &str, expr: &Expression) -> Result<bool, ConfigError> {
        match expr {
            Expression::Bool(b) => Ok(*b),
            Expression::Number(n) if n.as_u64() == Some(1) => Ok(true),
            Expression::Number(n) if n.as_u64() == Some(0) => Ok(false),
            Expression::String(s) => match s.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
                "0" | "f" | "F" | "false" | "FALSE" | "False" | "" => Ok(false),
                _ => Err(self.invalid(field, format!("{s:?} is not a boolean"))),
            },
            _ => Err(self.invalid(field, "expected a boolean")),
        }
    }

    fn size(&self, field: &str, expr: &Expression) -> Result<usize, ConfigError> {
        let n = match expr {
            Expression::Number(n) => n.as_u64(),
            Expression::String(s) => s.parse::<u64>().ok(),
            _ => None,
        };
        n.filter(|n| *n > 0)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| self.invalid(field, "expected a positive number of bytes"))
    }

    fn duration(&self, field: &str, expr: &Expression) -> Result<Duration, ConfigError> {
        match expr {
            Expression::Number(n) => n.as_u64().map(Duration::from_secs),
            Expression::String(s) => crate::duration::parse(s),
            _ => None,
        }
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            self.invalid(
                field,
                "expected a duration such as \"90s\" or a number of seconds",
            )
        })
    }

    fn log_level(&self, field: &str, expr: &Expression) -> Result<String, ConfigError> {
        let level = self.string(field, expr)?.to_ascii_lowercase();
        match level.as_str() {
            "trace" | "debug" | "info" | "warn" | "error" => Ok(level),
            "warning" => Ok("warn".into()),
            "err" => Ok("error".into()),
            other => Err(self.invalid(
                field,
                format!("unknown level {other:?} (trace, debug, info, warn, error)"),
            )),
        }
    }

    fn label<'b>(&self, block: &'b Block) -> Result<&'b str, ConfigError> {
        match block.labels() {
            [one] => Ok(one.as_str()),
            _ => Err(self.invalid(
                block.identifier(),
                "expected exactly one label, e.g. listener \"tcp\" { ... }",
            )),
        }
    }

    fn user_lockout(&mut self, block: &Block) -> Result<(String, UserLockout), ConfigError> {
        let label = self.label(block)?;
        if !matches!(label, "all" | "userpass" | "approle" | "ldap") {
            return Err(self.invalid(
                "user_lockout",
                format!("unsupported auth method {label:?}; use \"all\", \"userpass\", \"approle\" or \"ldap\""),
            ));
        }
        let mut u = UserLockout::default();
        for attr in block.body().attributes() {
            let (key, expr) = (attr.key(), attr.expr());
            let field = format!("user_lockout.{label}.{key}");
            match key {
                "lockout_threshold" => {
                    let n = self.string(&field, expr)?;
                    u.lockout_threshold = Some(
                        n.parse()
                            .map_err(|_| self.invalid(&field, "expected a number of attempts"))?,
                    );
                }
                "lockout_duration" => u.lockout_duration = Some(self.duration(&field, expr)?),
                "lockout_counter_reset" => {
                    u.lockout_counter_reset = Some(self.duration(&field, expr)?)
                }
                "disable_lockout" => u.disable_lockout = Some(self.bool(&field, expr)?),
                other => self.warn(&format!("user_lockout.{label}.{other}")),
            }
        }
        Ok((label.to_owned(), u))
    }

    fn listener(&mut self, block: &Block) -> Result<Listener, ConfigError> {
        let kind = self.label(block)?;
        if kind != "tcp" {
            return Err(self.invalid(
                "listener",
                format!("unsupported listener type {kind:?}; only \"tcp\""),
            ));
        }
        let mut address = "127.0.0.1:8200".to_owned();
        let mut tls_disable = false;
        let (mut cert, mut key, mut min_version) = (None, None, TlsVersion::Tls12);
        let mut client_certs = ClientCerts::default();
        let mut max_request_size = DEFAULT_MAX_REQUEST_SIZE;
        let mut max_request_duration = DEFAULT_MAX_REQUEST_DURATION;
        for attr in block.body().attributes() {
            let (k, e) = (attr.key(), attr.expr());
            let field = format!("listener.tcp.{k}");
            match k {
                "address" => address = self.string(&field, e)?,
                "tls_disable" => tls_disable = self.bool(&field, e)?,
                "tls_cert_file" => cert = Some(PathBuf::from(self.string(&field, e)?)),
                "tls_key_file" => key = Some(PathBuf::from(self.string(&field, e)?)),
                "tls_min_version" => {
                    min_version = match self.string(&field, e)?.as_str() {
                        "tls12" => TlsVersion::Tls12,
                        "tls13" => TlsVersion::Tls13,
                        other => {
                            return Err(self.invalid(
                                &field,
                                format!("{other:?} is not supported; use \"tls12\" or \"tls13\""),
                            ))
                        }
                    }
                }
                "tls_client_ca_file" => {
                    client_certs.ca_file = Some(PathBuf::from(self.string(&field, e)?))
                }
                "tls_require_and_verify_client_cert" => {
                    client_certs.required = self.bool(&field, e)?
                }
                "tls_disable_client_certs" => client_certs.disabled = self.bool(&field, e)?,
                "max_request_size" => max_request_size = self.size(&field, e)?,
                "max_request_duration" => max_request_duration = self.duration(&field, e)?,
                _ => self.warn(&field),
            }
        }
        if address.parse::<std::net::SocketAddr>().is_err() {
            return Err(self.invalid(
                "listener.tcp.address",
                format!("{address:?} is not an ip:port address"),
            ));
        }
        if client_certs.disabled && client_certs.required {
            return Err(self.invalid(
                "listener.tcp",
                "'tls_disable_client_certs' and 'tls_require_and_verify_client_cert' are mutually exclusive",
            ));
        }
        // OpenBao would fall back to the system's roots; trusting every public CA for client
        // identity is rarely meant, so the CA file must be named.
        if client_certs.required && client_certs.ca_file.is_none() {
            return Err(self.invalid(
                "listener.tcp.tls_require_and_verify_client_cert",
                "needs tls_client_ca_file",
            ));
        }
        let tls = if tls_disable {
            None
        } else {
            match (cert, key) {
                (Some(cert_file), Some(key_file)) => Some(Tls {
                    cert_file,
                    key_file,
                    min_version,
                    client_certs,
                }),
                _ => {
                    return Err(self.invalid(
                        "listener.tcp",
                        "TLS is on by default: set tls_cert_file and tls_key_file, or tls_disable = true",
                    ))
                }
            }
        };
        Ok(Listener {
            address,
            tls,
            max_request_size,
            max_request_duration,
        })
    }

    fn storage(&mut self, block: &Block) -> Result<Storage, ConfigError> {
        let kind = self.label(block)?;
        match kind {
            "rocksdb" => {
                let mut path = None;
                for attr in block.body().attributes() {
                    match attr.key() {
                        "path" => path = Some(PathBuf::from(self.string("storage.rocksdb.path", attr.expr())?)),
                        other => self.warn(&format!("storage.rocksdb.{other}")),
                    }
                }
                let path = path.filter(|p| !p.as_os_str().is_empty());
                path.map(|path| Storage::RocksDb { path })
                    .ok_or_else(|| self.invalid("storage.rocksdb.path", "is required"))
            }
            "inmem" => Ok(Storage::Memory),
            "raft" => Err(self.invalid(
                "storage",
                "storage \"raft\" (replication) is not available in this release yet; use storage \"rocksdb\" { path = \"...\" } on a single node",
            )),
            other => Err(self.invalid("storage", format!("unsupported storage type {other:?}; use \"rocksdb\" or \"inmem\""))),
        }
    }

    /// `None` for a seal block marked `disabled`.
    fn seal(&mut self, block: &Block) -> Result<Option<Seal>, ConfigError> {
        let kind = self.label(block)?;
        if kind != "static" {
            return Err(self.invalid(
                "seal",
                format!(
                    "unsupported seal type {kind:?}; only \"static\" (or no seal block for Shamir)"
                ),
            ));
        }
        let (mut id, mut key, mut prev_id, mut prev_key, mut disabled) =
            (None, None, None, None, false);
        for attr in block.body().attributes() {
            let (k, e) = (attr.key(), attr.expr());
            let field = format!("seal.static.{k}");
            match k {
                "current_key_id" => id = Some(self.string(&field, e)?),
                "current_key" => key = Some(self.string(&field, e)?),
                "previous_key_id" => prev_id = Some(self.string(&field, e)?),
                "previous_key" => prev_key = Some(self.string(&field, e)?),
                "disabled" => disabled = self.bool(&field, e)?,
                _ => self.warn(&field),
            }
        }
        if disabled {
            return Ok(None);
        }
        let current_key_id = id
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.invalid("seal.static.current_key_id", "is required"))?;
        let current_key = key
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.invalid("seal.static.current_key", "is required"))?;
        if prev_id.is_some() != prev_key.is_some() {
            return Err(self.invalid(
                "seal.static.previous_key",
                "previous_key_id and previous_key go together",
            ));
        }
        Ok(Some(Seal::Static {
            current_key_id,
            current_key,
            previous_key_id: prev_id,
            previous_key: prev_key,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.hcl"))
    }

    #[test]
    fn a_typical_file() {
        let c = parse(
            r#"
            ui = true
            disable_mlock = true
            api_addr = "http://127.0.0.1:8200"
            cluster_addr = "https://127.0.0.1:8201"
            listener "tcp" {
              address = "127.0.0.1:8200"
              tls_disable = "true"
              max_request_size = 1024
              max_request_duration = "5s"
            }
            storage "rocksdb" { path = "/var/lib/coffer" }
            seal "static" {
              current_key_id = "k1"
              current_key = "env://UNSEAL_KEY"
            }
            "#,
        )
        .expect("parse");
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(
            c.storage,
            Some(Storage::RocksDb {
                path: "/var/lib/coffer".into()
            })
        );
        assert_eq!(c.listeners[0].max_request_size, 1024);
        assert_eq!(c.listeners[0].max_request_duration, Duration::from_secs(5));
        assert!(c.listeners[0].tls.is_none());
        assert!(
            matches!(c.seal, Some(Seal::Static { ref current_key_id, .. }) if current_key_id == "k1")
        );
    }

    #[test]
    fn unknown_fields_warn_and_bad_values_name_field_and_file() {
        let c = parse("storage \"inmem\" {}\ntelemetry { x = 1 }\nfoo = 1\n").expect("parse");
        assert_eq!(c.warnings.len(), 2);
        let e = parse("listener \"tcp\" {\n tls_disable = \"maybe\"\n}")
            .expect_err("bad bool")
            .to_string();
        assert!(
            e.contains("test.hcl") && e.contains("listener.tcp.tls_disable"),
            "{e}"
        );
        let e = parse("listener \"tcp\" {\n address = \"nope\"\n tls_disable = true\n}")
            .expect_err("bad addr")
            .to_string();
        assert!(e.contains("listener.tcp.address"), "{e}");
    }

    #[test]
    fn tls_is_required_unless_disabled() {
        assert!(parse("listener \"tcp\" { address = \"127.0.0.1:1\" }").is_err());
        let c = parse("listener \"tcp\" {\n tls_cert_file = \"c.pem\"\n tls_key_file = \"k.pem\"\n tls_min_version = \"tls13\"\n}").expect("tls");
        assert_eq!(
            c.listeners[0].tls.as_ref().map(|t| t.min_version),
            Some(TlsVersion::Tls13)
        );
    }

    #[test]
    fn client_cert_settings_follow_openbao_names() {
        let tls = "tls_cert_file = \"c.pem\"\n tls_key_file = \"k.pem\"\n";
        let listener = |extra: &str| parse(&format!("listener \"tcp\" {{\n {tls} {extra}\n}}"));
        let c = listener(
            "tls_client_ca_file = \"ca.pem\"\n tls_require_and_verify_client_cert = \"true\"",
        )
        .expect("required");
        assert_eq!(
            c.listeners[0].tls.as_ref().map(|t| t.client_certs.clone()),
            Some(ClientCerts {
                disabled: false,
                required: true,
                ca_file: Some("ca.pem".into()),
            })
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let e = listener("tls_client_ca_file = \"ca.pem\"\n tls_require_and_verify_client_cert = true\n tls_disable_client_certs = true")
            .expect_err("exclusive")
            .to_string();
        assert!(e.contains("mutually exclusive"), "{e}");
        let e = listener("tls_require_and_verify_client_cert = true")
            .expect_err("no CA")
            .to_string();
        assert!(e.contains("tls_client_ca_file"), "{e}");
        let c = listener("tls_disable_client_certs = true").expect("disabled");
        assert!(c.listeners[0]
            .tls
            .as_ref()
            .is_some_and(|t| t.client_certs.disabled));
    }

    #[test]
    fn raft_storage_says_it_is_not_there_yet() {
        let e = parse("storage \"raft\" { path = \"/x\" }")
            .expect_err("raft")
            .to_string();
        assert!(e.contains("not available in this release"), "{e}");
    }

    #[test]
    fn files_merge_as_openbao_merges() {
        let mut a = parse(
            "listener \"tcp\" {\n tls_disable = true\n}\nstorage \"inmem\" {}\napi_addr = \"a\"",
        )
        .expect("a");
        let b = parse("listener \"tcp\" {\n address = \"127.0.0.1:9\"\n tls_disable = true\n}\nstorage \"rocksdb\" { path = \"/d\" }").expect("b");
        a.merge(b);
        assert_eq!(a.listeners.len(), 2);
        assert_eq!(a.storage, Some(Storage::RocksDb { path: "/d".into() }));
        assert_eq!(a.api_addr.as_deref(), Some("a"));
    }

    #[test]
    fn a_disabled_seal_is_no_seal() {
        let c = parse("seal \"static\" {\n disabled = \"true\"\n}").expect("parse");
        assert!(c.seal.is_none());
    }

    #[test]
    fn user_lockout_stanzas_become_the_core_settings() {
        let c = parse(
            r#"
            user_lockout "all" {
              lockout_threshold = "7"
              lockout_duration = "10m"
            }
            user_lockout "userpass" {
              lockout_counter_reset = 120
              disable_lockout = false
            }
            "#,
        )
        .expect("parse");
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let s = c.user_lockout();
        assert_eq!(s.by_kind["all"].lockout_threshold, 7);
        assert_eq!(s.by_kind["all"].lockout_duration, 600);
        assert_eq!(s.by_kind["userpass"].lockout_counter_reset, 120);
        let e = parse("user_lockout \"kubernetes\" {}").expect_err("unsupported");
        assert!(e.to_string().contains("unsupported auth method"), "{e}");
        let e = parse("user_lockout \"all\" {\n lockout_threshold = \"many\"\n}").expect_err("bad");
        assert!(
            e.to_string().contains("user_lockout.all.lockout_threshold"),
            "{e}"
        );
    }
}

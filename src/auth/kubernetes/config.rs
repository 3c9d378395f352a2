//! `config`: where the Kubernetes API is, how to trust it, and how to sign in to it.
//!
//! A write replaces the whole configuration, as OpenBao's does (absent fields take their
//! defaults). The reviewer JWT is stored (inside the barrier) but never read back: a read
//! says only `token_reviewer_jwt_set`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::jwt::{self, PublicKey};
use crate::engine::{fields, Ctx, EngineError, EngineResponse};
use crate::logical::{Data, Response};

const KEY: &str = "config";

/// OpenBao's pod paths: a Kubernetes pod finds its service account token and the cluster CA
/// there.
pub(super) const LOCAL_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
pub(super) const LOCAL_CA: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

/// Where the pod's own token and CA are looked for (tests point these elsewhere).
#[derive(Clone, Debug)]
pub(crate) struct LocalFiles {
    pub(crate) token: PathBuf,
    pub(crate) ca: PathBuf,
}

impl Default for LocalFiles {
    fn default() -> Self {
        Self {
            token: PathBuf::from(LOCAL_TOKEN),
            ca: PathBuf::from(LOCAL_CA),
        }
    }
}

/// The stored configuration, under OpenBao's storage field names.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Config {
    pub(super) pem_keys: Vec<String>,
    pub(super) host: String,
    pub(super) ca_cert: String,
    pub(super) token_reviewer_jwt: Secret,
    pub(super) issuer: String,
    pub(super) disable_iss_validation: bool,
    pub(super) disable_local_ca_jwt: bool,
}

/// A credential held in a configuration: zeroized on drop, never printed.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct Secret(String);

impl Secret {
    pub(super) fn as_str(&self) -> &str {
        &self.0
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field(
                "token_reviewer_jwt_set",
                &!self.token_reviewer_jwt.is_empty(),
            )
            .finish_non_exhaustive()
    }
}

pub(super) const FIELDS: &[&str] = &[
    "kubernetes_host",
    "kubernetes_ca_cert",
    "token_reviewer_jwt",
    "pem_keys",
    "issuer",
    "disable_iss_validation",
    "disable_local_ca_jwt",
];

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidRequest(msg.into())
}

pub(super) async fn load(ctx: &Ctx<'_>) -> Result<Option<Config>, EngineError> {
    let Some(raw) = ctx.storage.get(KEY).await? else {
        return Ok(None);
    };
    let raw = Zeroizing::new(raw);
    serde_json::from_slice(&raw)
        .map(Some)
        .map_err(|e| EngineError::Failed(format!("stored configuration is unreadable: {e}")))
}

pub(super) async fn read(ctx: &Ctx<'_>) -> Result<EngineResponse, EngineError> {
    let Some(c) = load(ctx).await? else {
        return Ok(Response::not_found());
    };
    let data = crate::logical::object(serde_json::json!({
        "kubernetes_host": c.host,
        "kubernetes_ca_cert": c.ca_cert,
        "pem_keys": c.pem_keys,
        "issuer": c.issuer,
        "disable_iss_validation": c.disable_iss_validation,
        "disable_local_ca_jwt": c.disable_local_ca_jwt,
        "token_reviewer_jwt_set": !c.token_reviewer_jwt.is_empty(),
    }));
    Ok(Response::data(data))
}

pub(super) async fn write(
    ctx: &Ctx<'_>,
    local: &LocalFiles,
    d: &Data,
) -> Result<EngineResponse, EngineError> {
    let host = fields::string(d, "kubernetes_host")?.unwrap_or_default();
    if host.is_empty() {
        return Err(invalid("no host provided"));
    }
    // The review carries a service account's JWT and its answer grants a token: only over
    // TLS verified against the configured CA (docs/compat.md).
    if !host.to_ascii_lowercase().starts_with("https://") {
        return Err(invalid(
            "kubernetes_host must be an https:// URL: the TokenReview call carries credentials",
        ));
    }
    let config = Config {
        disable_local_ca_jwt: fields::boolean(d, "disable_local_ca_jwt")?.unwrap_or(false),
        pem_keys: fields::string_list(d, "pem_keys")?.unwrap_or_default(),
        ca_cert: fields::string(d, "kubernetes_ca_cert")?.unwrap_or_default(),
        issuer: fields::string(d, "issuer")?.unwrap_or_default(),
        disable_iss_validation: fields::boolean(d, "disable_iss_validation")?.unwrap_or(true),
        token_reviewer_jwt: Secret(
            Zeroizing::new(fields::string(d, "token_reviewer_jwt")?.unwrap_or_default())
                .to_string(),
        ),
        host,
    };
    if config.disable_local_ca_jwt && config.ca_cert.is_empty() {
        return Err(invalid(
            "kubernetes_ca_cert must be given when disable_local_ca_jwt is true",
        ));
    }
    public_keys(&config).map_err(invalid)?;
    // OpenBao builds the TLS configuration on write, so a pod CA that cannot be read fails
    // the write (outside a pod: "open ...: no such file or directory").
    if config.ca_cert.is_empty() && !config.disable_local_ca_jwt {
        read_local(&local.ca).map_err(invalid)?;
    }
    let bytes = Zeroizing::new(
        serde_json::to_vec(&config).map_err(|e| EngineError::Failed(e.to_string()))?,
    );
    ctx.storage.put(KEY, &bytes).await?;
    Ok(Response::no_content())
}

/// The configured keys, parsed.
pub(super) fn public_keys(c: &Config) -> Result<Vec<PublicKey>, String> {
    c.pem_keys
        .iter()
        .map(|p| jwt::parse_public_key_pem(p))
        .collect()
}

/// `loadConfig`: the stored configuration with the pod's token and CA filled in where the
/// configuration has none, unless `disable_local_ca_jwt`. A pod token that cannot be read is
/// skipped (the client's JWT is the bearer then); a pod CA that cannot be read fails the
/// login with OpenBao's 500.
pub(super) fn with_local(mut c: Config, local: &LocalFiles) -> Result<Config, EngineError> {
    if c.disable_local_ca_jwt {
        return Ok(c);
    }
    if c.token_reviewer_jwt.is_empty() {
        if let Ok(token) = read_local(&local.token) {
            c.token_reviewer_jwt = Secret(token.to_string());
        }
    }
    if c.ca_cert.is_empty() {
        c.ca_cert = read_local(&local.ca)
            .map_err(EngineError::Failed)?
            .to_string();
    }
    Ok(c)
}

/// A file's text, or Go's `os.ReadFile` error text.
fn read_local(path: &Path) -> Result<Zeroizing<String>, String> {
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
                _ => e.to_string(),
            };
            format!("open {}: {why}", path.display())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_files_fill_only_what_the_config_lacks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let local = LocalFiles {
            token: dir.path().join("token"),
            ca: dir.path().join("ca.crt"),
        };
        let base = Config {
            host: "https://k".into(),
            ..Config::default()
        };
        // Outside a pod: the CA is required, the token is not.
        let err = with_local(base.clone(), &local).expect_err("no CA");
        assert_eq!(
            err.to_string(),
            format!("open {}: no such file or directory", local.ca.display())
        );
        std::fs::write(&local.ca, "CA PEM").expect("write");
        let c = with_local(base.clone(), &local).expect("CA only");
        assert_eq!(
            (c.ca_cert.as_str(), c.token_reviewer_jwt.as_str()),
            ("CA PEM", "")
        );
        std::fs::write(&local.token, "pod-jwt").expect("write");
        let c = with_local(base.clone(), &local).expect("in a pod");
        assert_eq!(c.token_reviewer_jwt.as_str(), "pod-jwt");
        // Configured values win; disable_local_ca_jwt ignores the pod entirely.
        let mut own = base.clone();
        own.ca_cert = "mine".into();
        own.token_reviewer_jwt = "reviewer".into();
        let c = with_local(own, &local).expect("configured");
        assert_eq!(
            (c.ca_cert.as_str(), c.token_reviewer_jwt.as_str()),
            ("mine", "reviewer")
        );
        let mut off = base;
        off.disable_local_ca_jwt = true;
        off.ca_cert = "mine".into();
        let c = with_local(off, &local).expect("disabled");
        assert_eq!(c.token_reviewer_jwt.as_str(), "");
    }

    #[test]
    fn debug_never_prints_the_reviewer_jwt() {
        let c = Config {
            token_reviewer_jwt: "secret-jwt".into(),
            ..Config::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret-jwt") && shown.contains("token_reviewer_jwt_set: true"));
    }
}

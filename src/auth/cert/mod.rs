//! The `cert` auth method: TLS client certificates checked against trusted certificates
//! stored under `certs/<name>` (OpenBao's `builtin/credential/cert`).
//!
//! The chain comes from the connection (`Connection::peer_certs`), never from the request
//! body; the listener has already made the client prove it holds the leaf's key. A login
//! then follows OpenBao's `verifyCredentials` order: the leaf's validity, the chains to
//! every trusted CA ([`verify`]), a pinned leaf (a non-CA entry) before any CA, then the
//! first CA entry whose constraints ([`constraints`]) the leaf meets.
//!
//! Not here yet: `config` (`disable_binding`, identity alias metadata), `crls/`, OCSP, and
//! the re-check of the certificate itself when a token is renewed (the entry is checked).

mod constraints;
mod verify;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use x509_parser::certificate::X509Certificate;

use super::tokenutil::{self, TokenParams};
use crate::engine::{fields, Backend, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::engine::{Flags, LoginRecord, Ops, Path};
use crate::logical::{Data, Login, Operation, Response};

const CERTS: &str = "cert/";
const NO_CHAIN: &str = "invalid certificate or no client certificate supplied";
const NO_MATCH: &str =
    "no chain matching all constraints could be found for this login certificate";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Certs,
    Cert,
    Login,
}

const CERT_FIELDS: &[&str] = &[
    "name",
    "certificate",
    "ocsp_enabled",
    "ocsp_ca_certificates",
    "ocsp_servers_override",
    "ocsp_fail_open",
    "ocsp_query_all_servers",
    "allowed_names",
    "allowed_common_names",
    "allowed_dns_sans",
    "allowed_email_sans",
    "allowed_uri_sans",
    "allowed_organizational_units",
    "required_extensions",
    "allowed_metadata_extensions",
    "display_name",
    "lease",
    "token_bound_cidrs",
    "token_explicit_max_ttl",
    "token_max_ttl",
    "token_no_default_policy",
    "token_num_uses",
    "token_period",
    "token_policies",
    "token_type",
    "token_ttl",
    "token_strictly_bind_ip",
    "policies",
    "ttl",
    "max_ttl",
    "period",
    "bound_cidrs",
];

/// A trusted certificate (CA or pinned leaf) and what a login through it must satisfy.
/// Lists stay `None` until written, so a read shows `null` for them as OpenBao does.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct CertEntry {
    #[serde(flatten)]
    token: TokenParams,
    name: String,
    /// PEM, one or more certificates; the first decides whether this is a CA entry.
    certificate: String,
    display_name: String,
    allowed_names: Option<Vec<String>>,
    allowed_common_names: Option<Vec<String>>,
    allowed_dns_sans: Option<Vec<String>>,
    allowed_email_sans: Option<Vec<String>>,
    allowed_uri_sans: Option<Vec<String>>,
    allowed_organizational_units: Option<Vec<String>>,
    required_extensions: Option<Vec<String>>,
    allowed_metadata_extensions: Option<Vec<String>>,
    /// Stored and shown, not used: OCSP is not implemented, so `ocsp_enabled` is refused.
    ocsp_ca_certificates: String,
    ocsp_servers_override: Option<Vec<String>>,
    ocsp_fail_open: bool,
    ocsp_query_all_servers: bool,
}

pub(crate) struct Cert;

impl Backend for Cert {
    type Route = Route;

    const PATHS: &'static [Path<Route>] = &[
        Path::new("certs/", Route::Certs)
            .ops(Ops::LIST)
            .fields(&["after", "limit"]),
        Path::new("certs/{name}", Route::Cert)
            .ops(Ops::READ.union(Ops::WRITE).union(Ops::DELETE))
            .fields(CERT_FIELDS)
            .help("Manage trusted certificates used for authentication."),
        Path::new("login", Route::Login)
            .ops(Ops::UPDATE)
            .flags(Flags::UNAUTHENTICATED)
            .fields(&["name"])
            .help("Log in with the TLS client certificate of the connection."),
    ];

    async fn handle(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        req: EngineRequest,
    ) -> Result<EngineResponse, EngineError> {
        match route {
            Route::Certs => list(ctx, &req.data).await,
            Route::Cert => {
                let name = req.params.get("name").to_lowercase();
                if !valid_name(&name) {
                    return Err(EngineError::UnsupportedPath);
                }
                match req.op {
                    Operation::Read => read(ctx, &name).await,
                    Operation::Delete => {
                        ctx.storage.delete(&key(&name)).await?;
                        Ok(Response::no_content())
                    }
                    _ => write(ctx, &name, &req.data).await,
                }
            }
            Route::Login => login(ctx, &req).await,
        }
    }

    /// OpenBao's `pathLoginRenew`, short of re-checking the certificate itself: the
    /// trusted entry must still exist with the same policies; its current TTLs apply.
    async fn renew_login(
        &self,
        ctx: &Ctx<'_>,
        login: &LoginRecord,
    ) -> Result<Option<Login>, EngineError> {
        let name = login.metadata.get("cert_name").cloned().unwrap_or_default();
        let entry = load(ctx, &name).await?;
        tokenutil::renewal(
            entry.as_ref().map(|e| &e.token),
            &login.policies,
            true,
            || format!("certificate entry {name:?} no longer exists, not renewing"),
        )
    }
}

/// OpenBao's `GenericNameRegex`: word characters, with `-` and `.` inside.
fn valid_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let (Some(first), Some(last)) = (name.chars().next(), name.chars().last()) else {
        return false;
    };
    word(first) && word(last) && name.chars().all(|c| word(c) || c == '-' || c == '.')
}

fn key(name: &str) -> String {
    format!("{CERTS}{name}")
}

async fn load(ctx: &Ctx<'_>, name: &str) -> Result<Option<CertEntry>, EngineError> {
    match ctx.storage.get(&key(&name.to_lowercase())).await? {
        None => Ok(None),
        Some(raw) => serde_json::from_slice(&raw).map(Some).map_err(|e| {
            EngineError::InvalidRequest(format!("stored certificate {name:?} is unreadable: {e}"))
        }),
    }
}

async fn list(ctx: &Ctx<'_>, d: &Data) -> Result<EngineResponse, EngineError> {
    let after = fields::string(d, "after")?.unwrap_or_default();
    let limit = fields::int(d, "limit")?.unwrap_or(0);
    let mut keys = ctx.storage.list(CERTS).await?;
    keys.sort();
    keys.retain(|k| after.is_empty() || *k > after);
    if let Ok(limit) = usize::try_from(limit) {
        if limit > 0 {
            keys.truncate(limit);
        }
    }
    Ok(Response::list(keys))
}

async fn read(ctx: &Ctx<'_>, name: &str) -> Result<EngineResponse, EngineError> {
    let Some(c) = load(ctx, name).await? else {
        return Ok(Response::not_found());
    };
    let mut data = crate::logical::object(json!({
        "certificate": c.certificate,
        "display_name": c.display_name,
        "allowed_names": c.allowed_names,
        "allowed_common_names": c.allowed_common_names,
        "allowed_dns_sans": c.allowed_dns_sans,
        "allowed_email_sans": c.allowed_email_sans,
        "allowed_uri_sans": c.allowed_uri_sans,
        "allowed_organizational_units": c.allowed_organizational_units,
        "required_extensions": c.required_extensions,
        "allowed_metadata_extensions": c.allowed_metadata_extensions,
        "ocsp_ca_certificates": c.ocsp_ca_certificates,
        "ocsp_enabled": false,
        "ocsp_servers_override": c.ocsp_servers_override,
        "ocsp_fail_open": c.ocsp_fail_open,
        "ocsp_query_all_servers": c.ocsp_query_all_servers,
    }));
    c.token.populate(&mut data);
    Ok(Response::data(data))
}

async fn write(ctx: &Ctx<'_>, name: &str, d: &Data) -> Result<EngineResponse, EngineError> {
    let mut c = load(ctx, name).await?.unwrap_or_else(|| CertEntry {
        name: name.to_owned(),
        ..CertEntry::default()
    });
    if let Some(v) = fields::string(d, "certificate")? {
        c.certificate = v;
    }
    if let Some(v) = fields::string(d, "ocsp_ca_certificates")? {
        c.ocsp_ca_certificates = v;
    }
    if fields::boolean(d, "ocsp_enabled")? == Some(true) {
        // Accepting it would promise revocation checks that never happen.
        return Err(EngineError::InvalidRequest(
            "OCSP verification is not supported by this server".into(),
        ));
    }
    if let Some(v) = fields::string_list(d, "ocsp_servers_override")? {
        c.ocsp_servers_override = Some(v);
    }
    if let Some(v) = fields::boolean(d, "ocsp_fail_open")? {
        c.ocsp_fail_open = v;
    }
    if let Some(v) = fields::boolean(d, "ocsp_query_all_servers")? {
        c.ocsp_query_all_servers = v;
    }
    if let Some(v) = fields::string(d, "display_name")? {
        c.display_name = v;
    }
    for (field, slot) in [
        ("allowed_names", &mut c.allowed_names),
        ("allowed_common_names", &mut c.allowed_common_names),
        ("allowed_dns_sans", &mut c.allowed_dns_sans),
        ("allowed_email_sans", &mut c.allowed_email_sans),
        ("allowed_uri_sans", &mut c.allowed_uri_sans),
        (
            "allowed_organizational_units",
            &mut c.allowed_organizational_units,
        ),
        ("required_extensions", &mut c.required_extensions),
        (
            "allowed_metadata_extensions",
            &mut c.allowed_metadata_extensions,
        ),
    ] {
        if let Some(v) = fields::string_list(d, field)? {
            *slot = Some(v);
        }
    }
    c.token.update(with_lease(d)?.as_ref())?;

    let mut warnings = Vec::new();
    let (default_ttl, max_ttl) = (
        ctx.mount.default_lease_ttl.as_secs(),
        ctx.mount.max_lease_ttl.as_secs(),
    );
    if c.token.token_ttl > default_ttl {
        warnings.push(format!("Given ttl of {} seconds is greater than current mount/system default of {default_ttl} seconds", c.token.token_ttl));
    }
    if c.token.token_max_ttl > max_ttl {
        warnings.push(format!("Given max_ttl of {} seconds is greater than current mount/system default of {max_ttl} seconds", c.token.token_max_ttl));
    }
    if c.token.token_period > max_ttl {
        warnings.push(format!("Given period of {} seconds is greater than the backend's maximum TTL of {max_ttl} seconds", c.token.token_period));
    }
    if c.display_name.is_empty() {
        c.display_name = name.to_owned();
    }
    check_certificate(&c.certificate)?;

    let bytes = serde_json::to_vec(&c).map_err(|e| EngineError::InvalidRequest(e.to_string()))?;
    ctx.storage.put(&key(name), &bytes).await?;
    Ok(warnings
        .into_iter()
        .fold(Response::no_content(), Response::with_warning))
}

/// The legacy `lease` (seconds) counts as `ttl` when neither `token_ttl` nor `ttl` is given.
fn with_lease(d: &Data) -> Result<std::borrow::Cow<'_, Data>, EngineError> {
    let given = |f: &str| d.get(f).is_some_and(|v| !v.is_null());
    if given("token_ttl") || given("ttl") {
        return Ok(std::borrow::Cow::Borrowed(d));
    }
    let Some(lease) = fields::int(d, "lease")? else {
        return Ok(std::borrow::Cow::Borrowed(d));
    };
    let mut d = d.clone();
    d.insert("ttl".into(), Value::from(lease));
    Ok(std::borrow::Cow::Owned(d))
}

/// A role's certificate must parse; a leaf must be fit for client authentication.
fn check_certificate(pem: &str) -> Result<(), EngineError> {
    let certs = verify::parse_pem(pem);
    let first = certs
        .first()
        .and_then(|der| verify::parse(der))
        .ok_or_else(|| EngineError::InvalidRequest("failed to parse certificate".into()))?;
    if !verify::is_ca(&first) && !verify::allows_client_auth(&first) {
        return Err(EngineError::InvalidRequest(
            "nonCA certificates should have TLS client authentication set as an extended key usage"
                .into(),
        ));
    }
    Ok(())
}

/// The entries a login may match: the named one, or all in name order.
async fn candidates(ctx: &Ctx<'_>, name: &str) -> Result<Vec<CertEntry>, EngineError> {
    let names = if name.is_empty() {
        let mut all = ctx.storage.list(CERTS).await?;
        all.sort();
        all
    } else {
        vec![name.to_lowercase()]
    };
    let mut out = Vec::new();
    for n in names {
        // A deleted (or never written) entry is simply not a candidate.
        if let Some(c) = load(ctx, &n).await? {
            out.push(c);
        }
    }
    Ok(out)
}

async fn login(ctx: &Ctx<'_>, req: &EngineRequest) -> Result<EngineResponse, EngineError> {
    let chain = &req.connection.peer_certs;
    let Some(leaf_der) = chain.first() else {
        return Err(EngineError::InvalidRequest(
            "no client certificate found".into(),
        ));
    };
    let leaf_der = rustls::pki_types::CertificateDer::from(leaf_der.as_slice());
    let leaf = verify::parse(&leaf_der).ok_or_else(|| {
        EngineError::InvalidRequest(
            "while getting preferred certificate chain: [cert 0]: failed to parse".into(),
        )
    })?;
    let intermediates: Vec<_> = chain[1..]
        .iter()
        .map(|c| rustls::pki_types::CertificateDer::from(c.as_slice()))
        .collect();
    let name = fields::string(&req.data, "name")?.unwrap_or_default();
    let entries = candidates(ctx, &name).await?;
    let matched =
        choose(&entries, &leaf_der, &leaf, &intermediates, ctx.clock.now()).map_err(|e| {
            // OpenBao returns a verification failure as a Go error: a 500 with its text.
            match e.starts_with("failed to verify client's certificate") {
                true => EngineError::Failed(e),
                false => EngineError::InvalidRequest(e),
            }
        })?;

    if !tokenutil::remote_allowed(&matched.token.token_bound_cidrs, req.connection.remote_addr) {
        return Err(EngineError::Forbidden("permission denied".into()));
    }
    let mut login = matched.token.login(req.connection.remote_addr);
    login.display_name = matched.display_name.clone();
    login.alias = constraints::common_name(&leaf);
    login.metadata = constraints::login_metadata(matched, &leaf);
    Ok(Response::login(login))
}

/// The entry a client chain logs in through, or OpenBao's refusal.
fn choose<'e>(
    entries: &'e [CertEntry],
    leaf_der: &rustls::pki_types::CertificateDer<'_>,
    leaf: &X509Certificate<'_>,
    intermediates: &[rustls::pki_types::CertificateDer<'_>],
    now: time::OffsetDateTime,
) -> Result<&'e CertEntry, String> {
    let verify_failed = |e: String| format!("failed to verify client's certificate: {e}");
    verify::check_validity(leaf, now).map_err(verify_failed)?;

    let (mut cas, mut pinned) = (Vec::new(), Vec::new());
    for entry in entries {
        let certs = verify::parse_pem(&entry.certificate);
        let is_ca = certs
            .first()
            .and_then(|der| verify::parse(der))
            .map(|first| verify::is_ca(&first));
        match is_ca {
            Some(true) => cas.push((entry, certs)),
            Some(false) => pinned.push((entry, certs)),
            None => tracing::warn!(name = %entry.name, "stored certificate does not parse"),
        }
    }

    // Go verifies against the pool of every CA first, and a broken path fails the login
    // even when a pinned leaf would match.
    let mut chained = Vec::new();
    let mut broken = None;
    for (entry, certs) in &cas {
        match verify::chains_to(leaf_der, intermediates, certs, now) {
            Ok(true) => chained.push(*entry),
            Ok(false) => {}
            Err(e) => broken = Some(e),
        }
    }
    if chained.is_empty() {
        if let Some(e) = broken {
            return Err(verify_failed(e));
        }
    } else if !verify::allows_client_auth(leaf) {
        return Err(verify_failed(
            "x509: certificate specifies an incompatible key usage".into(),
        ));
    }

    for (entry, certs) in &pinned {
        if certs
            .first()
            .is_some_and(|c| c.as_ref() == leaf_der.as_ref())
            && constraints::matches(entry, leaf)
        {
            return Ok(entry);
        }
    }
    if chained.is_empty() {
        return Err(NO_CHAIN.into());
    }
    chained
        .into_iter()
        .find(|entry| constraints::matches(entry, leaf))
        .ok_or_else(|| NO_MATCH.into())
}

#[cfg(test)]
mod tests {
    use rcgen::ExtendedKeyUsagePurpose;

    use super::verify::tests::*;
    use super::*;

    fn entry(name: &str, pem: String, edit: impl FnOnce(&mut CertEntry)) -> CertEntry {
        let mut e = CertEntry {
            name: name.into(),
            certificate: pem,
            display_name: name.into(),
            ..CertEntry::default()
        };
        edit(&mut e);
        e
    }

    /// The name of the entry `client` logs in through, or the refusal.
    fn pick(entries: &[CertEntry], client: &Made) -> Result<String, String> {
        let der = client.der();
        let parsed = verify::parse(&der).expect("parse");
        choose(entries, &der, &parsed, &[], now()).map(|e| e.name.clone())
    }

    #[test]
    fn logins_pick_the_entry_openbao_picks() {
        let (root, other) = (ca("root"), ca("other"));
        let web = leaf(&root, "web-client", |_| {});
        let db = leaf(&root, "db-client", |_| {});
        let stranger = leaf(&other, "web-client", |_| {});
        let entries = vec![
            entry("a-db", root.cert.pem(), |e| {
                e.allowed_common_names = Some(vec!["db-*".into()])
            }),
            entry("b-web", root.cert.pem(), |e| {
                e.allowed_common_names = Some(vec!["web-*".into()])
            }),
        ];
        assert_eq!(pick(&entries, &web).as_deref(), Ok("b-web"));
        assert_eq!(pick(&entries, &db).as_deref(), Ok("a-db"));
        assert_eq!(pick(&entries, &stranger), Err(NO_CHAIN.into()));
        let bad = leaf(&root, "ops-client", |_| {});
        assert_eq!(pick(&entries, &bad), Err(NO_MATCH.into()));
        assert_eq!(pick(&[], &web), Err(NO_CHAIN.into()));
    }

    #[test]
    fn a_pinned_leaf_needs_no_trusted_issuer_and_wins_over_cas() {
        let (root, other) = (ca("root"), ca("other"));
        let stranger = leaf(&other, "web-client", |_| {});
        let entries = vec![
            entry("a-ca", root.cert.pem(), |_| {}),
            entry("z-pin", stranger.cert.pem(), |_| {}),
        ];
        assert_eq!(pick(&entries, &stranger).as_deref(), Ok("z-pin"));
        // Same issuer and name, another key: not the pinned certificate.
        let twin = leaf(&other, "web-client", |_| {});
        assert_eq!(pick(&entries, &twin), Err(NO_CHAIN.into()));
        let web = leaf(&root, "web-client", |_| {});
        assert_eq!(pick(&entries, &web).as_deref(), Ok("a-ca"));
    }

    #[test]
    fn expired_and_misused_certificates_fail_verification() {
        let root = ca("root");
        let entries = vec![entry("web", root.cert.pem(), |_| {})];
        let old = leaf(&root, "web", |p| {
            p.not_after = now() - time::Duration::days(1);
            p.not_before = now() - time::Duration::days(2);
        });
        let e = pick(&entries, &old).expect_err("expired");
        assert!(
            e.starts_with("failed to verify client's certificate: x509: certificate has expired or is not yet valid: current time"),
            "{e}"
        );
        // Even with nothing trusted, as Go checks the leaf's dates first.
        assert!(pick(&[], &old).is_err_and(|e| e.contains("expired")));
        let server = leaf(&root, "web", |p| {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]
        });
        assert_eq!(
            pick(&entries, &server),
            Err("failed to verify client's certificate: x509: certificate specifies an incompatible key usage".into())
        );
        // Without a chain the usage does not matter: the issuer is simply unknown.
        let other = ca("other");
        let foreign = leaf(&other, "web", |p| {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]
        });
        assert_eq!(pick(&entries, &foreign), Err(NO_CHAIN.into()));
    }

    #[test]
    fn stored_certificates_are_checked_on_write() {
        let root = ca("root");
        assert!(check_certificate(&root.cert.pem()).is_ok());
        let e = check_certificate("nope").expect_err("garbage").to_string();
        assert_eq!(e, "failed to parse certificate");
        let server = leaf(&root, "srv", |p| {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]
        });
        let e = check_certificate(&server.cert.pem())
            .expect_err("server leaf")
            .to_string();
        assert_eq!(
            e,
            "nonCA certificates should have TLS client authentication set as an extended key usage"
        );
        assert!(check_certificate(&leaf(&root, "c", |_| {}).cert.pem()).is_ok());
    }

    #[test]
    fn names_follow_the_generic_name_pattern() {
        assert!(valid_name("web"));
        assert!(valid_name("a.b-c_d"));
        assert!(valid_name("x"));
        assert!(!valid_name(""));
        assert!(!valid_name("-web"));
        assert!(!valid_name("web."));
        assert!(!valid_name("we b"));
    }
}

//! Certificate checks of a cert login, as Go's `x509.Certificate.Verify` makes them for
//! OpenBao: the client's leaf must be inside its validity period, and a trusted CA must be
//! reachable from it through the intermediates the client sent.
//!
//! Errors are Go's texts, since OpenBao returns them to the client verbatim. An unknown
//! issuer is not an error but "no chain" (OpenBao then says the certificate is invalid).

use rustls::pki_types::{CertificateDer, UnixTime};
use time::OffsetDateTime;
use webpki::{EndEntityCert, KeyPurposeIdIter};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

/// The certificates of a PEM bundle that parse as X.509, as OpenBao's `parsePEM` keeps them:
/// other blocks and unparsable certificates are skipped.
pub(super) fn parse_pem(pem: &str) -> Vec<CertificateDer<'static>> {
    let mut reader = pem.as_bytes();
    rustls_pemfile::read_all(&mut reader)
        .filter_map(|item| match item {
            Ok(rustls_pemfile::Item::X509Certificate(der)) => Some(der),
            _ => None,
        })
        .filter(|der| parse(der).is_some())
        .collect()
}

/// A certificate that parses completely (Go refuses trailing data too).
pub(super) fn parse<'a>(der: &'a CertificateDer<'_>) -> Option<X509Certificate<'a>> {
    match X509Certificate::from_der(der.as_ref()) {
        Ok((&[], cert)) => Some(cert),
        _ => None,
    }
}

/// Go's `IsCA`: the basic constraints say so.
pub(super) fn is_ca(cert: &X509Certificate<'_>) -> bool {
    cert.is_ca()
}

/// Without an extended key usage extension any use is allowed; with one it must name TLS
/// client authentication or any usage.
pub(super) fn allows_client_auth(cert: &X509Certificate<'_>) -> bool {
    match cert.extended_key_usage() {
        Ok(Some(eku)) => eku.value.client_auth || eku.value.any,
        Ok(None) => true,
        Err(_) => false,
    }
}

/// Go's validity check, with its text.
pub(super) fn check_validity(
    cert: &X509Certificate<'_>,
    now: OffsetDateTime,
) -> Result<(), String> {
    let validity = cert.validity();
    let (not_before, not_after) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    let at = now.unix_timestamp();
    let detail = if at < not_before {
        format!(
            "current time {} is before {}",
            rfc3339(at),
            rfc3339(not_before)
        )
    } else if at > not_after {
        format!(
            "current time {} is after {}",
            rfc3339(at),
            rfc3339(not_after)
        )
    } else {
        return Ok(());
    };
    Err(format!(
        "x509: certificate has expired or is not yet valid: {detail}"
    ))
}

/// Go's `time.RFC3339` in UTC: `2026-12-02T16:00:52Z`.
fn rfc3339(unix: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// Does `leaf` chain to one of `anchors` through `intermediates` at `now`? `Ok(false)` when
/// no anchor is its issuer; `Err` with Go's text when a path exists but is not valid.
///
/// Extended key usage is the caller's to check on the leaf (as Go checks it only once a
/// chain is found); anchors outside their validity period are refused as Go refuses them,
/// which webpki alone would not do.
pub(super) fn chains_to(
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    anchors: &[CertificateDer<'_>],
    now: OffsetDateTime,
) -> Result<bool, String> {
    let mut expired = None;
    let mut trust = Vec::new();
    for der in anchors {
        let Some(cert) = parse(der) else { continue };
        if let Err(e) = check_validity(&cert, now) {
            expired = Some(e);
            continue;
        }
        // A v1 certificate cannot be an anchor for webpki; it is skipped, not fatal.
        if let Ok(anchor) = webpki::anchor_from_trusted_cert(der) {
            trust.push(anchor);
        }
    }
    if trust.is_empty() {
        return expired.map_or(Ok(false), Err);
    }
    let leaf = EndEntityCert::try_from(leaf).map_err(|e| format!("x509: {e}"))?;
    let algorithms = rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all;
    let secs = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
    match leaf.verify_for_usage(algorithms, &trust, intermediates, at, AnyUsage, None, None) {
        Ok(_) => Ok(true),
        Err(e) => classify(e, expired),
    }
}

/// webpki's refusals as Go would see them: a missing or mismatching issuer is an unknown
/// authority (no chain), anything else a broken chain.
fn classify(e: webpki::Error, expired: Option<String>) -> Result<bool, String> {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer
        | E::InvalidSignatureForPublicKey
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch => expired.map_or(Ok(false), Err),
        E::CertExpired { time, not_after } => Err(format!(
            "x509: certificate has expired or is not yet valid: current time {} is after {}",
            rfc3339(unix(time)),
            rfc3339(unix(not_after))
        )),
        E::CertNotValidYet { time, not_before } => Err(format!(
            "x509: certificate has expired or is not yet valid: current time {} is before {}",
            rfc3339(unix(time)),
            rfc3339(unix(not_before))
        )),
        other => Err(format!("x509: {other}")),
    }
}

fn unix(t: UnixTime) -> i64 {
    i64::try_from(t.as_secs()).unwrap_or(i64::MAX)
}

/// Key usage is judged on the leaf by [`allows_client_auth`], after path building.
struct AnyUsage;

impl webpki::ExtendedKeyUsageValidator for AnyUsage {
    fn validate(&self, _iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };
    use time::Duration;

    use super::*;

    /// A certificate with its key (to sign others with).
    pub(crate) struct Made {
        pub(crate) cert: rcgen::Certificate,
        pub(crate) key: KeyPair,
    }

    impl Made {
        pub(crate) fn der(&self) -> CertificateDer<'static> {
            self.cert.der().clone()
        }
    }

    pub(crate) fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time")
    }

    pub(crate) fn ca(cn: &str) -> Made {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.not_before = now() - Duration::days(10);
        p.not_after = now() + Duration::days(10);
        let key = KeyPair::generate().expect("key");
        let cert = p.self_signed(&key).expect("self-signed");
        Made { cert, key }
    }

    /// A client certificate from `issuer`; `edit` adjusts its parameters first.
    pub(crate) fn leaf(issuer: &Made, cn: &str, edit: impl FnOnce(&mut CertificateParams)) -> Made {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.not_before = now() - Duration::days(1);
        p.not_after = now() + Duration::days(1);
        p.use_authority_key_identifier_extension = true;
        edit(&mut p);
        let key = KeyPair::generate().expect("key");
        let cert = p
            .signed_by(&key, &issuer.cert, &issuer.key)
            .expect("signed");
        Made { cert, key }
    }

    #[test]
    fn a_leaf_chains_to_its_ca_only() {
        let (root, other) = (ca("root"), ca("other"));
        let client = leaf(&root, "web", |_| {});
        assert_eq!(
            chains_to(&client.der(), &[], &[root.der()], now()),
            Ok(true)
        );
        assert_eq!(
            chains_to(&client.der(), &[], &[other.der()], now()),
            Ok(false)
        );
        assert_eq!(
            chains_to(&client.der(), &[], &[other.der(), root.der()], now()),
            Ok(true)
        );
    }

    #[test]
    fn intermediates_sent_by_the_client_complete_the_path() {
        let root = ca("root");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name
            .push(DnType::CommonName, "intermediate");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.not_before = now() - Duration::days(5);
        p.not_after = now() + Duration::days(5);
        let key = KeyPair::generate().expect("key");
        let cert = p.signed_by(&key, &root.cert, &root.key).expect("signed");
        let mid = Made { cert, key };
        let client = leaf(&mid, "web", |_| {});
        assert_eq!(
            chains_to(&client.der(), &[], &[root.der()], now()),
            Ok(false)
        );
        assert_eq!(
            chains_to(&client.der(), &[mid.der()], &[root.der()], now()),
            Ok(true)
        );
        // Trusting the intermediate itself is enough, as in Go's pool.
        assert_eq!(chains_to(&client.der(), &[], &[mid.der()], now()), Ok(true));
    }

    #[test]
    fn validity_errors_read_as_go_prints_them() {
        let root = ca("root");
        let old = leaf(&root, "web", |p| {
            p.not_before = now() - Duration::days(3);
            p.not_after = now() - Duration::days(2);
        });
        let der = old.der();
        let parsed = parse(&der).expect("parse");
        let e = check_validity(&parsed, now()).expect_err("expired");
        assert_eq!(
            e,
            "x509: certificate has expired or is not yet valid: current time 2027-01-15T08:00:00Z is after 2027-01-13T08:00:00Z"
        );
        let young = leaf(&root, "web", |p| p.not_before = now() + Duration::hours(1));
        let der = young.der();
        let e = check_validity(&parse(&der).expect("parse"), now()).expect_err("not yet");
        assert!(e.ends_with("is before 2027-01-15T09:00:00Z"), "{e}");
        // An expired trusted CA breaks the chain with the same text.
        let client = leaf(&root, "web", |_| {});
        let later = now() + Duration::days(20);
        let e = chains_to(&client.der(), &[], &[root.der()], later).expect_err("old CA");
        assert!(e.contains("has expired"), "{e}");
    }

    #[test]
    fn bundles_keep_certificates_only_and_key_usage_is_read() {
        let root = ca("root");
        let pem = format!(
            "junk\n{}{}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            root.cert.pem(),
            root.key.serialize_pem()
        );
        let certs = parse_pem(&pem);
        assert_eq!(certs.len(), 1);
        let parsed = parse(&certs[0]).expect("parse");
        assert!(is_ca(&parsed));
        assert!(parse_pem("not a pem").is_empty());

        let server_only = leaf(&root, "srv", |p| {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]
        });
        let der = server_only.der();
        let parsed = parse(&der).expect("parse");
        assert!(!is_ca(&parsed));
        assert!(!allows_client_auth(&parsed));
        let none = leaf(&root, "any", |p| p.extended_key_usages.clear());
        let der = none.der();
        assert!(allows_client_auth(&parse(&der).expect("parse")));
    }
}

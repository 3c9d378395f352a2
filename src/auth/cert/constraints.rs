//! What a role asks of the client's leaf certificate beyond its chain (`allowed_*`,
//! `required_extensions`), and what a login records of it (metadata), as OpenBao's
//! `matchesConstraints` and `pathLogin` read a certificate.

use crate::auth::glob::glob;
use std::collections::BTreeMap;

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};

use super::CertEntry;

/// The names OpenBao reads from a leaf.
struct Names<'a> {
    common_name: String,
    dns: Vec<&'a str>,
    email: Vec<&'a str>,
    uri: Vec<&'a str>,
    ous: Vec<String>,
}

impl<'a> Names<'a> {
    fn of(cert: &'a X509Certificate<'a>) -> Self {
        let (mut dns, mut email, mut uri) = (Vec::new(), Vec::new(), Vec::new());
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(n) => dns.push(*n),
                    GeneralName::RFC822Name(n) => email.push(*n),
                    GeneralName::URI(n) => uri.push(*n),
                    _ => {}
                }
            }
        }
        Names {
            common_name: common_name(cert),
            dns,
            email,
            uri,
            ous: cert
                .subject()
                .iter_organizational_unit()
                .filter_map(|a| a.as_str().ok().map(str::to_owned))
                .collect(),
        }
    }
}

/// Go's `Subject.CommonName`: the last CN attribute.
pub(super) fn common_name(cert: &X509Certificate<'_>) -> String {
    cert.subject()
        .iter_common_name()
        .filter_map(|a| a.as_str().ok())
        .last()
        .unwrap_or_default()
        .to_owned()
}

/// Does `cert` satisfy every constraint of `entry`? An empty list allows anything.
pub(super) fn matches(entry: &CertEntry, cert: &X509Certificate<'_>) -> bool {
    let n = Names::of(cert);
    let any = |patterns: &Option<Vec<String>>, names: &[&str]| {
        let patterns = patterns.as_deref().unwrap_or_default();
        patterns.is_empty()
            || patterns
                .iter()
                .any(|p| names.iter().any(|name| glob(p, name)))
    };
    let cn = [n.common_name.as_str()];
    let mut all_names = vec![n.common_name.as_str()];
    all_names.extend(&n.dns);
    all_names.extend(&n.email);
    let ous: Vec<&str> = n.ous.iter().map(String::as_str).collect();
    any(&entry.allowed_names, &all_names)
        && any(&entry.allowed_common_names, &cn)
        && any(&entry.allowed_dns_sans, &n.dns)
        && any(&entry.allowed_email_sans, &n.email)
        && any(&entry.allowed_uri_sans, &n.uri)
        && any(&entry.allowed_organizational_units, &ous)
        && required_extensions(entry, cert)
}

/// Every `oid:value` must name an extension of `cert` whose string value matches the glob.
fn required_extensions(entry: &CertEntry, cert: &X509Certificate<'_>) -> bool {
    let required = entry.required_extensions.as_deref().unwrap_or_default();
    if required.is_empty() {
        return true;
    }
    let present = extension_values(cert);
    if present.is_empty() {
        return false;
    }
    required.iter().all(|r| {
        // OpenBao indexes past the end on a value without `:` (a panic); here it fails.
        let Some((oid, pattern)) = r.split_once(':') else {
            return false;
        };
        present.get(oid).is_some_and(|v| glob(pattern, v))
    })
}

/// Every extension by dotted OID, its value read as an ASN.1 string ("" when it is not
/// one, as Go's `asn1.Unmarshal` into a string leaves it).
fn extension_values(cert: &X509Certificate<'_>) -> BTreeMap<String, String> {
    cert.extensions()
        .iter()
        .map(|e| {
            (
                e.oid.to_id_string(),
                asn1_string(e.value).unwrap_or_default(),
            )
        })
        .collect()
}

/// The metadata of a login: OpenBao's five keys, then `allowed_metadata_extensions` under
/// their OIDs with dashes for dots (so ACL templates can name them).
pub(super) fn login_metadata(
    entry: &CertEntry,
    cert: &X509Certificate<'_>,
) -> BTreeMap<String, String> {
    let (mut skid, mut akid): (&[u8], &[u8]) = (&[], &[]);
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => skid = k.0,
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                if let Some(k) = &a.key_identifier {
                    akid = k.0;
                }
            }
            _ => {}
        }
    }
    let mut m = BTreeMap::from([
        ("cert_name".to_owned(), entry.name.clone()),
        ("common_name".to_owned(), common_name(cert)),
        (
            "serial_number".to_owned(),
            cert.tbs_certificate.serial.to_string(),
        ),
        ("subject_key_id".to_owned(), colon_hex(skid)),
        ("authority_key_id".to_owned(), colon_hex(akid)),
    ]);
    let wanted = entry
        .allowed_metadata_extensions
        .as_deref()
        .unwrap_or_default();
    if !wanted.is_empty() {
        for ext in cert.extensions() {
            let oid = ext.oid.to_id_string();
            if wanted.contains(&oid) {
                m.insert(
                    oid.replace('.', "-"),
                    asn1_string(ext.value).unwrap_or_default(),
                );
            }
        }
    }
    m
}

/// `certutil.GetHexFormatted(b, ":")`: lower-case hex pairs joined by colons.
pub(super) fn colon_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// One DER string value of the types Go's `asn1` reads into a Go string.
fn asn1_string(der: &[u8]) -> Option<String> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, body) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    let value = body.get(..len)?;
    match tag {
        // UTF8String, NumericString, PrintableString, T61String, IA5String, GeneralString.
        12 | 18 | 19 | 20 | 22 | 27 => String::from_utf8(value.to_vec()).ok(),
        // BMPString: UCS-2, big-endian.
        30 if value.len() % 2 == 0 => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{CustomExtension, DnType, SanType};

    use super::super::verify::{self, tests::*};
    use super::*;

    fn entry(edit: impl FnOnce(&mut CertEntry)) -> CertEntry {
        let mut e = CertEntry {
            name: "web".into(),
            ..CertEntry::default()
        };
        edit(&mut e);
        e
    }

    fn some(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn each_constraint_needs_one_match_and_all_must_hold() {
        let root = ca("root");
        let client = leaf(&root, "web-client", |p| {
            p.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x01, 0x02]));
            p.distinguished_name
                .push(DnType::OrganizationalUnitName, "eng");
            p.subject_alt_names = vec![
                SanType::DnsName("client.example.com".try_into().expect("dns")),
                SanType::Rfc822Name("me@example.com".try_into().expect("email")),
                SanType::URI("spiffe://example/web".try_into().expect("uri")),
            ];
            // A UTF8String "prod" under a private OID.
            p.custom_extensions = vec![CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 99999, 1],
                vec![12, 4, b'p', b'r', b'o', b'd'],
            )];
        });
        let der = client.der();
        let cert = verify::parse(&der).expect("parse");
        let ok = |e: CertEntry| matches(&e, &cert);
        assert!(ok(entry(|_| {})));
        assert!(ok(entry(|e| e.allowed_common_names = some(&["web-*"]))));
        assert!(!ok(entry(|e| e.allowed_common_names = some(&["db-*"]))));
        assert!(ok(entry(|e| e.allowed_names = some(&["me@*"]))));
        assert!(ok(entry(
            |e| e.allowed_names = some(&["nope", "*.example.com"])
        )));
        assert!(!ok(entry(|e| e.allowed_names = some(&["spiffe://*"]))));
        assert!(ok(entry(|e| e.allowed_dns_sans = some(&["client.*"]))));
        assert!(!ok(entry(|e| e.allowed_dns_sans = some(&["web-client"]))));
        assert!(ok(entry(
            |e| e.allowed_email_sans = some(&["*@example.com"])
        )));
        assert!(ok(entry(
            |e| e.allowed_uri_sans = some(&["spiffe://example/*"])
        )));
        assert!(ok(entry(
            |e| e.allowed_organizational_units = some(&["eng"])
        )));
        assert!(!ok(entry(
            |e| e.allowed_organizational_units = some(&["ops"])
        )));
        assert!(ok(entry(
            |e| e.required_extensions = some(&["1.3.6.1.4.1.99999.1:pr*"])
        )));
        assert!(!ok(entry(
            |e| e.required_extensions = some(&["1.3.6.1.4.1.99999.1:dev"])
        )));
        assert!(!ok(entry(|e| e.required_extensions = some(&["1.2.3:*"]))));
        assert!(!ok(entry(|e| e.required_extensions = some(&["no-colon"]))));
        assert!(!ok(entry(|e| {
            e.allowed_common_names = some(&["web-client"]);
            e.allowed_organizational_units = some(&["ops"]);
        })));

        let meta = login_metadata(
            &entry(|e| e.allowed_metadata_extensions = some(&["1.3.6.1.4.1.99999.1"])),
            &cert,
        );
        assert_eq!(meta["cert_name"], "web");
        assert_eq!(meta["common_name"], "web-client");
        assert_eq!(meta["1-3-6-1-4-1-99999-1"], "prod");
        assert_eq!(
            meta["serial_number"], "258",
            "decimal, as Go's big.Int prints"
        );
        // rcgen gives leaves no subject key id: Go prints the absent one as "".
        assert_eq!(meta["subject_key_id"], "");
        let root_der = root.der();
        let root_cert = verify::parse(&root_der).expect("root");
        let root_meta = login_metadata(&entry(|_| {}), &root_cert);
        let skid = &root_meta["subject_key_id"];
        assert!(skid.len() > 10 && skid.contains(':'), "{skid}");
        assert_eq!(
            meta["authority_key_id"], root_meta["subject_key_id"],
            "the leaf's authority key id is its CA's subject key id"
        );
    }

    #[test]
    fn hex_and_asn1_strings() {
        assert_eq!(colon_hex(&[0x0a, 0xff, 0x00]), "0a:ff:00");
        assert_eq!(colon_hex(&[]), "");
        assert_eq!(asn1_string(&[19, 2, b'h', b'i']).as_deref(), Some("hi"));
        assert_eq!(asn1_string(&[30, 2, 0, b'A']).as_deref(), Some("A"));
        assert_eq!(
            asn1_string(&[4, 1, 0]),
            None,
            "OCTET STRING is not a Go string"
        );
        assert_eq!(asn1_string(&[12, 5, b'a']), None, "short");
    }
}

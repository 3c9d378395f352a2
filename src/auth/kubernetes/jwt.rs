//! The service account JWT: its parsing, the optional signature check against `pem_keys`,
//! the registered-claim checks, and the service account it names.
//!
//! OpenBao (hashicorp/cap's validator) checks in this order, and so do we: signature (or a
//! bare parse when no key is configured), `alg`, registered-claim types, `iss`, `aud`, time
//! claims; then the plugin decodes the service account claims. A token that does not parse
//! or whose signature fails is a plain "permission denied" there; the later checks are 403s
//! with their own texts, and a claim of the wrong type is a 500 from its decoder.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::SubjectPublicKeyInfo;

/// What go-jose parses before any check (`consts.AllowedJWTSignatureAlgorithmsK8s`).
const PARSE_ALGS: &[&str] = &[
    "ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
];
/// What the plugin accepts after the signature (`supportedJwtAlgs`).
const LOGIN_ALGS: &[&str] = &["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"];
/// cap's default leeway when `exp` or `nbf` is missing, and go-jose's clock skew.
const MISSING_LEEWAY: i64 = 150;
const CLOCK_SKEW: i64 = 60;
const OID_ED25519: &str = "1.3.101.112";

/// A compact JWS, split but not trusted.
pub(super) struct Jwt<'a> {
    alg: String,
    signing_input: &'a str,
    signature: &'a str,
    signature_len: usize,
    claims: Map<String, Value>,
}

/// Split and decode a compact JWS as go-jose's `ParseSigned` does; `None` for anything it
/// refuses (the login answers "permission denied" without saying why).
pub(super) fn parse(token: &str) -> Option<Jwt<'_>> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Map<String, Value> = serde_json::from_slice(&b64url(header)?).ok()?;
    let alg = header.get("alg")?.as_str()?.to_owned();
    if !PARSE_ALGS.contains(&alg.as_str()) || header.contains_key("crit") {
        return None;
    }
    let signature_len = b64url(signature)?.len();
    let claims: Map<String, Value> = serde_json::from_slice(&b64url(payload)?).ok()?;
    let cut = token.rfind('.')?;
    Some(Jwt {
        alg,
        signing_input: &token[..cut],
        signature: &token[cut + 1..],
        signature_len,
        claims,
    })
}

fn b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// A `pem_keys` entry, ready to verify with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum PublicKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An uncompressed point; its length says the curve.
    Ec(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// `certutil.ParsePublicKeyPEM`: one PEM block holding a public key (PKIX) or a
/// certificate, RSA, ECDSA or Ed25519; the error is OpenBao's text.
pub(super) fn parse_public_key_pem(pem: &str) -> Result<PublicKey, String> {
    const NONE: &str = "data does not contain any valid public keys";
    let Some((der, rest)) = pem_decode(pem) else {
        return Err(NONE.into());
    };
    if !rest.trim().is_empty() {
        return Err("unexpected trailing data after parsed PEM block".into());
    }
    let from_spki = |spki: &SubjectPublicKeyInfo<'_>| -> Option<PublicKey> {
        if spki.algorithm.algorithm.to_id_string() == OID_ED25519 {
            return Some(PublicKey::Ed25519(spki.subject_public_key.data.to_vec()));
        }
        match spki.parsed().ok()? {
            x509_parser::public_key::PublicKey::RSA(k) => Some(PublicKey::Rsa {
                n: strip_zeros(k.modulus),
                e: strip_zeros(k.exponent),
            }),
            x509_parser::public_key::PublicKey::EC(p) => Some(PublicKey::Ec(p.data().to_vec())),
            _ => None,
        }
    };
    match SubjectPublicKeyInfo::from_der(&der) {
        Ok((_, spki)) => from_spki(&spki).ok_or_else(|| NONE.into()),
        Err(_) => match X509Certificate::from_der(&der) {
            Ok((_, cert)) => from_spki(cert.public_key()).ok_or_else(|| NONE.into()),
            Err(_) => Err("x509: malformed certificate".into()),
        },
    }
}

fn strip_zeros(b: &[u8]) -> Vec<u8> {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b[start..].to_vec()
}

/// Go's `pem.Decode`: the first block of any type, and what follows it.
fn pem_decode(text: &str) -> Option<(Vec<u8>, &str)> {
    let mut from = 0;
    while let Some(at) = text[from..].find("-----BEGIN ") {
        let begin = from + at;
        from = begin + 1;
        // A block starts a line.
        if begin > 0 && !text[..begin].ends_with('\n') {
            continue;
        }
        let after = &text[begin + "-----BEGIN ".len()..];
        let Some(label_end) = after.find("-----") else {
            continue;
        };
        let label = &after[..label_end];
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body_start.find(&end_marker) else {
            continue;
        };
        let body: String = body_start[..end]
            .lines()
            .filter(|l| !l.contains(':'))
            .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
            .collect();
        let Ok(der) = STANDARD.decode(body) else {
            continue;
        };
        let rest = &body_start[end + end_marker.len()..];
        return Some((der, rest));
    }
    None
}

impl Jwt<'_> {
    /// Does one of `keys` sign this token? Tokens signed with an algorithm jsonwebtoken
    /// cannot check (ES512) never verify.
    pub(super) fn verified_by(&self, keys: &[PublicKey]) -> bool {
        keys.iter().any(|key| {
            let (decoding, alg) = match (key, self.alg.as_str()) {
                (PublicKey::Rsa { n, e }, alg) => {
                    let alg = match alg {
                        "RS256" => Algorithm::RS256,
                        "RS384" => Algorithm::RS384,
                        "RS512" => Algorithm::RS512,
                        "PS256" => Algorithm::PS256,
                        "PS384" => Algorithm::PS384,
                        "PS512" => Algorithm::PS512,
                        _ => return false,
                    };
                    (DecodingKey::from_rsa_raw_components(n, e), alg)
                }
                (PublicKey::Ec(p), "ES256") if p.len() == 65 => {
                    (DecodingKey::from_ec_der(p), Algorithm::ES256)
                }
                (PublicKey::Ec(p), "ES384") if p.len() == 97 => {
                    (DecodingKey::from_ec_der(p), Algorithm::ES384)
                }
                (PublicKey::Ed25519(k), "EdDSA") => (DecodingKey::from_ed_der(k), Algorithm::EdDSA),
                _ => return false,
            };
            jsonwebtoken::crypto::verify(
                self.signature,
                self.signing_input.as_bytes(),
                &decoding,
                alg,
            )
            .unwrap_or(false)
        })
    }

    /// cap's checks after the signature: `alg`, the registered claims' types, `iss` (when
    /// `issuer` is given), `aud` (when `audience` is given) and the time claims at `now`.
    /// The error is the 403 text OpenBao answers.
    pub(super) fn validate(
        &self,
        issuer: Option<&str>,
        audience: Option<&str>,
        now: i64,
    ) -> Result<(), String> {
        if self.signature_len == 0 {
            return Err("invalid algorithm (alg) header parameter: token must be signed".into());
        }
        if !LOGIN_ALGS.contains(&self.alg.as_str()) {
            return Err(
                "invalid algorithm (alg) header parameter: token signed with unexpected algorithm"
                    .into(),
            );
        }
        let c = &self.claims;
        for name in ["iss", "sub", "jti"] {
            match c.get(name) {
                None | Some(Value::Null | Value::String(_)) => {}
                Some(v) => {
                    return Err(format!(
                    "json: cannot unmarshal {} into Go struct field Claims.{name} of type string",
                    json_kind(v)
                ))
                }
            }
        }
        let aud = audiences(c.get("aud")).ok_or(
            "go-jose/go-jose/jwt: expected string or array value to unmarshal to Audience",
        )?;
        let mut times = [0i64; 3];
        for (slot, name) in times.iter_mut().zip(["iat", "exp", "nbf"]) {
            match c.get(name) {
                None | Some(Value::Null) => {}
                Some(Value::Number(n)) => *slot = n.as_f64().map_or(0, |f| f as i64),
                Some(_) => {
                    return Err(
                        "go-jose/go-jose/jwt: expected number value to unmarshal NumericDate"
                            .into(),
                    )
                }
            }
        }
        if let Some(want) = issuer.filter(|i| !i.is_empty()) {
            if c.get("iss").and_then(Value::as_str).unwrap_or("") != want {
                return Err("invalid issuer (iss) claim".into());
            }
        }
        if let Some(want) = audience.filter(|a| !a.is_empty()) {
            if !aud.iter().any(|a| a == want) {
                return Err("invalid audience (aud) claim: audience claim does not match any expected audience".into());
            }
        }
        check_times(times, now)
    }

    pub(super) fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

/// go-jose's `Audience`: one string or an array of strings.
fn audiences(v: Option<&Value>) -> Option<Vec<String>> {
    match v {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::String(s)) => Some(vec![s.clone()]),
        Some(Value::Array(a)) => a.iter().map(|x| x.as_str().map(str::to_owned)).collect(),
        Some(_) => None,
    }
}

/// cap's `ValidateAllowMissingIatNbfExp` time rules: nothing to check when all three are
/// absent; a missing `exp` or `nbf` is derived from the others with 150 s of leeway; 60 s of
/// clock skew on every comparison.
fn check_times([iat, exp, nbf]: [i64; 3], now: i64) -> Result<(), String> {
    if iat == 0 && exp == 0 && nbf == 0 {
        return Ok(());
    }
    let exp = if exp == 0 {
        iat.max(nbf).saturating_add(MISSING_LEEWAY)
    } else {
        exp
    };
    let nbf = match (nbf, iat) {
        (0, 0) => exp.saturating_sub(MISSING_LEEWAY),
        (0, iat) => iat,
        (nbf, _) => nbf,
    };
    // Claims are attacker-chosen numbers: saturate rather than overflow.
    if now.saturating_add(CLOCK_SKEW) < nbf {
        return Err("invalid not before (nbf) claim: token not yet valid".into());
    }
    if now.saturating_sub(CLOCK_SKEW) > exp {
        return Err("invalid expiration time (exp) claim: token is expired".into());
    }
    if now.saturating_add(CLOCK_SKEW) < iat {
        return Err("invalid issued at (iat) claim: token issued in the future".into());
    }
    Ok(())
}

/// Go's `encoding/json` name for a JSON value's kind.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The Go type mapstructure names in its errors.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// reflect's kind name, for mapstructure's "expected a map or struct" error.
fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

/// A string claim as mapstructure decodes it: absent or null is empty, another type is an
/// error (collected, as mapstructure reports them all).
fn decode_string(errors: &mut Vec<String>, key: &str, v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            errors.push(format!(
                "'{key}' expected type 'string', got unconvertible type '{}'",
                go_type(other)
            ));
            String::new()
        }
    }
}

/// The service account a token names: the legacy secret-token claims
/// (`kubernetes.io/serviceaccount/...`) or the projected-token `kubernetes.io` object,
/// which wins when present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ServiceAccount {
    legacy_name: String,
    legacy_uid: String,
    pub(super) secret_name: String,
    legacy_namespace: String,
    pub(super) audience: Vec<String>,
    projected: Option<Projected>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Projected {
    namespace: String,
    /// `(name, uid)`
    service_account: Option<(String, String)>,
}

const LEGACY_NAME: &str = "kubernetes.io/serviceaccount/service-account.name";
const LEGACY_UID: &str = "kubernetes.io/serviceaccount/service-account.uid";
const LEGACY_SECRET: &str = "kubernetes.io/serviceaccount/secret.name";
const LEGACY_NAMESPACE: &str = "kubernetes.io/serviceaccount/namespace";

impl ServiceAccount {
    /// mapstructure's decoding of the claims (strict types); the error is OpenBao's 500 text.
    pub(super) fn from_claims(c: &Map<String, Value>) -> Result<Self, String> {
        let mut errors = Vec::new();
        let mut sa = ServiceAccount {
            legacy_name: decode_string(&mut errors, LEGACY_NAME, c.get(LEGACY_NAME)),
            legacy_uid: decode_string(&mut errors, LEGACY_UID, c.get(LEGACY_UID)),
            secret_name: decode_string(&mut errors, LEGACY_SECRET, c.get(LEGACY_SECRET)),
            legacy_namespace: decode_string(&mut errors, LEGACY_NAMESPACE, c.get(LEGACY_NAMESPACE)),
            ..Default::default()
        };
        match c.get("aud") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let s = decode_string(&mut errors, &format!("aud[{i}]"), Some(item));
                    sa.audience.push(s);
                }
            }
            Some(other) => errors.push(format!(
                "'aud' source data must be an array or slice, got {}",
                go_kind(other)
            )),
        }
        match c.get("kubernetes.io") {
            None | Some(Value::Null) => {}
            Some(Value::Object(k)) => {
                let namespace =
                    decode_string(&mut errors, "kubernetes.io.namespace", k.get("namespace"));
                let mut object = |field: &str| match k.get(field) {
                    None | Some(Value::Null) => None,
                    Some(Value::Object(o)) => {
                        let name = format!("kubernetes.io.{field}.name");
                        let uid = format!("kubernetes.io.{field}.uid");
                        Some((
                            decode_string(&mut errors, &name, o.get("name")),
                            decode_string(&mut errors, &uid, o.get("uid")),
                        ))
                    }
                    Some(other) => {
                        errors.push(format!(
                            "'kubernetes.io.{field}' expected a map or struct, got \"{}\"",
                            go_kind(other)
                        ));
                        None
                    }
                };
                let _pod = object("pod");
                let service_account = object("serviceaccount");
                sa.projected = Some(Projected {
                    namespace,
                    service_account,
                });
            }
            Some(other) => errors.push(format!(
                "'kubernetes.io' expected a map or struct, got \"{}\"",
                go_kind(other)
            )),
        }
        if errors.is_empty() {
            Ok(sa)
        } else {
            Err(format!(
                "decoding failed due to the following error(s):\n\n{}",
                errors.join("\n")
            ))
        }
    }

    pub(super) fn name(&self) -> &str {
        match &self.projected {
            Some(Projected {
                service_account: Some((name, _)),
                ..
            }) => name,
            _ => &self.legacy_name,
        }
    }

    pub(super) fn namespace(&self) -> &str {
        match &self.projected {
            Some(p) => &p.namespace,
            None => &self.legacy_namespace,
        }
    }

    /// The uid, or OpenBao's error when the token has none.
    pub(super) fn uid(&self) -> Result<&str, String> {
        let uid = match &self.projected {
            Some(Projected {
                service_account: Some((_, uid)),
                ..
            }) => uid,
            _ => &self.legacy_uid,
        };
        if uid.is_empty() {
            return Err("could not parse UID from claims".into());
        }
        Ok(uid)
    }
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;

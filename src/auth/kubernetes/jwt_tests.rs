//! Claims, keys and signatures, with keys the tests make (EC, Ed25519) or carry (an RSA test
//! key in `testdata/`, since ring cannot generate RSA keys).

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;

use super::*;

const RSA_KEY: &str = include_str!("testdata/rsa-test-key.pem");
const RSA_PUB: &str = include_str!("testdata/rsa-test.pub");
const RSA_CERT: &str = include_str!("testdata/rsa-test.crt");
const NOW: i64 = 1_800_000_000;

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn unsigned(alg: &str, claims: &Value) -> String {
    format!("{}.{}.{}", b64(&json!({"alg": alg})), b64(claims), "c2ln")
}

fn rsa_signed(alg: Algorithm, claims: &Value) -> String {
    let (der, _) = pem_decode(RSA_KEY).expect("test key PEM");
    encode(&Header::new(alg), claims, &EncodingKey::from_rsa_der(&der)).expect("sign")
}

fn ec_key() -> rcgen::KeyPair {
    rcgen::KeyPair::generate().expect("P-256 key")
}

fn ec_signed(key: &rcgen::KeyPair, claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::ES256),
        claims,
        &EncodingKey::from_ec_der(&key.serialize_der()),
    )
    .expect("sign")
}

fn legacy() -> Value {
    json!({
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "default",
        "kubernetes.io/serviceaccount/secret.name": "app-token-x1",
        "kubernetes.io/serviceaccount/service-account.name": "app",
        "kubernetes.io/serviceaccount/service-account.uid": "uid-legacy",
        "sub": "system:serviceaccount:default:app",
    })
}

fn projected() -> Value {
    json!({
        "aud": ["https://kubernetes.default.svc", "vault"],
        "exp": NOW + 600, "iat": NOW - 10, "nbf": NOW - 10,
        "iss": "https://kubernetes.default.svc",
        "kubernetes.io": {
            "namespace": "prod",
            "pod": {"name": "web-1", "uid": "pod-uid"},
            "serviceaccount": {"name": "web", "uid": "uid-projected"}
        },
        "sub": "system:serviceaccount:prod:web",
    })
}

fn sa_of(claims: &Value) -> Result<ServiceAccount, String> {
    ServiceAccount::from_claims(claims.as_object().expect("object"))
}

#[test]
fn legacy_and_projected_claims_name_the_service_account() {
    let sa = sa_of(&legacy()).expect("legacy");
    assert_eq!((sa.namespace(), sa.name()), ("default", "app"));
    assert_eq!(sa.uid(), Ok("uid-legacy"));
    assert_eq!(sa.secret_name, "app-token-x1");
    assert!(sa.audience.is_empty());

    let sa = sa_of(&projected()).expect("projected");
    assert_eq!((sa.namespace(), sa.name()), ("prod", "web"));
    assert_eq!(sa.uid(), Ok("uid-projected"));
    assert_eq!(sa.secret_name, "");
    assert_eq!(sa.audience, vec!["https://kubernetes.default.svc", "vault"]);

    // The projected object wins, even over legacy claims in the same token.
    let mut both = projected();
    both["kubernetes.io/serviceaccount/service-account.name"] = json!("legacy-name");
    assert_eq!(sa_of(&both).expect("both").name(), "web");
    // A projected object without a service account: the name falls back to the legacy
    // claim, the namespace does not.
    let mut partial = legacy();
    partial["kubernetes.io"] = json!({"namespace": "other"});
    let sa = sa_of(&partial).expect("partial");
    assert_eq!((sa.namespace(), sa.name()), ("other", "app"));

    let mut no_uid = legacy();
    no_uid
        .as_object_mut()
        .expect("object")
        .remove("kubernetes.io/serviceaccount/service-account.uid");
    assert_eq!(
        sa_of(&no_uid).expect("decodes").uid(),
        Err("could not parse UID from claims".into())
    );
}

#[test]
fn claims_of_the_wrong_type_fail_with_mapstructure_texts() {
    let mut c = legacy();
    c["kubernetes.io/serviceaccount/namespace"] = json!(5);
    assert_eq!(
        sa_of(&c).expect_err("number"),
        "decoding failed due to the following error(s):\n\n'kubernetes.io/serviceaccount/namespace' expected type 'string', got unconvertible type 'float64'"
    );
    let mut c = legacy();
    c["aud"] = json!("vault");
    assert_eq!(
        sa_of(&c).expect_err("string aud"),
        "decoding failed due to the following error(s):\n\n'aud' source data must be an array or slice, got string"
    );
    let mut c = projected();
    c["kubernetes.io"]["serviceaccount"] = json!("web");
    assert_eq!(
        sa_of(&c).expect_err("flat sa"),
        "decoding failed due to the following error(s):\n\n'kubernetes.io.serviceaccount' expected a map or struct, got \"string\""
    );
}

#[test]
fn parsing_refuses_what_go_jose_refuses() {
    assert!(parse(&unsigned("RS256", &legacy())).is_some());
    assert!(parse(&unsigned("PS256", &legacy())).is_some());
    for bad in [
        "not-a-jwt".to_owned(),
        "a.b.c".to_owned(),
        unsigned("HS256", &legacy()),
        unsigned("none", &legacy()),
        format!("{}.{}.c2ln", b64(&json!({"typ": "JWT"})), b64(&legacy())),
        format!(
            "{}.{}.c2ln",
            b64(&json!({"alg": "RS256"})),
            b64(&json!([1]))
        ),
        format!("{}.d", unsigned("RS256", &legacy())),
    ] {
        assert!(parse(&bad).is_none(), "{bad}");
    }
}

#[test]
fn algorithms_iss_and_aud_are_checked_with_cap_texts() {
    let ok = |t: &str, iss: Option<&str>, aud: Option<&str>| {
        parse(t).expect("parses").validate(iss, aud, NOW)
    };
    let t = unsigned("RS256", &projected());
    assert_eq!(ok(&t, None, None), Ok(()));
    assert_eq!(
        ok(&t, Some("https://kubernetes.default.svc"), Some("vault")),
        Ok(())
    );
    assert_eq!(
        ok(&t, Some("kubernetes/serviceaccount"), None),
        Err("invalid issuer (iss) claim".into())
    );
    // An empty issuer checks nothing (the plugin's default issuer is never applied).
    assert_eq!(ok(&t, Some(""), None), Ok(()));
    assert_eq!(
        ok(&t, None, Some("other")),
        Err(
            "invalid audience (aud) claim: audience claim does not match any expected audience"
                .into()
        )
    );
    // A token without `aud` fails a role audience too.
    assert!(ok(&unsigned("RS256", &legacy()), None, Some("vault")).is_err());
    // `aud` as one string is an audience for cap.
    let mut one = legacy();
    one["aud"] = json!("vault");
    assert_eq!(ok(&unsigned("RS256", &one), None, Some("vault")), Ok(()));

    assert_eq!(
        ok(&unsigned("PS256", &legacy()), None, None),
        Err(
            "invalid algorithm (alg) header parameter: token signed with unexpected algorithm"
                .into()
        )
    );
    assert_eq!(ok(&unsigned("ES512", &legacy()), None, None), Ok(()));
    let empty_sig = format!("{}.{}.", b64(&json!({"alg": "RS256"})), b64(&legacy()));
    assert_eq!(
        ok(&empty_sig, None, None),
        Err("invalid algorithm (alg) header parameter: token must be signed".into())
    );
    let mut c = legacy();
    c["iss"] = json!(5);
    assert_eq!(
        ok(&unsigned("RS256", &c), None, None),
        Err("json: cannot unmarshal number into Go struct field Claims.iss of type string".into())
    );
    let mut c = legacy();
    c["exp"] = json!("soon");
    assert_eq!(
        ok(&unsigned("RS256", &c), None, None),
        Err("go-jose/go-jose/jwt: expected number value to unmarshal NumericDate".into())
    );
}

#[test]
fn time_claims_follow_cap_with_leeway() {
    let at = |claims: Value, now: i64| {
        parse(&unsigned("RS256", &claims))
            .expect("parses")
            .validate(None, None, now)
    };
    assert_eq!(at(legacy(), NOW), Ok(()), "no time claims: no check");
    let expired = "invalid expiration time (exp) claim: token is expired";
    let early = "invalid not before (nbf) claim: token not yet valid";
    assert_eq!(at(json!({"exp": NOW - 59}), NOW), Ok(()), "60 s of skew");
    assert_eq!(at(json!({"exp": NOW - 61}), NOW), Err(expired.into()));
    assert_eq!(at(json!({"nbf": NOW + 61}), NOW), Err(early.into()));
    // Without exp, a token lives 150 s past its iat (plus skew).
    assert_eq!(at(json!({"iat": NOW - 200}), NOW), Ok(()));
    assert_eq!(at(json!({"iat": NOW - 211}), NOW), Err(expired.into()));
    // An iat in the future is first seen as the default nbf.
    assert_eq!(at(json!({"iat": NOW + 100}), NOW), Err(early.into()));
    assert_eq!(
        at(json!({"iat": NOW + 100, "nbf": NOW}), NOW),
        Err("invalid issued at (iat) claim: token issued in the future".into())
    );
}

#[test]
fn pem_keys_parse_like_certutil() {
    let rsa = parse_public_key_pem(RSA_PUB).expect("RSA SPKI");
    assert!(matches!(rsa, PublicKey::Rsa { .. }));
    assert_eq!(
        parse_public_key_pem(RSA_CERT),
        Ok(rsa),
        "a certificate's key"
    );
    let ec = ec_key();
    assert!(matches!(
        parse_public_key_pem(&ec.public_key_pem()),
        Ok(PublicKey::Ec(p)) if p.len() == 65
    ));
    let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
    assert!(matches!(
        parse_public_key_pem(&ed.public_key_pem()),
        Ok(PublicKey::Ed25519(k)) if k.len() == 32
    ));
    assert_eq!(
        parse_public_key_pem("junk"),
        Err("data does not contain any valid public keys".into())
    );
    assert_eq!(
        parse_public_key_pem(&format!("{RSA_PUB}\nextra")),
        Err("unexpected trailing data after parsed PEM block".into())
    );
    assert_eq!(
        parse_public_key_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
        Err("x509: malformed certificate".into())
    );
}

#[test]
fn signatures_verify_only_with_the_right_key() {
    let rsa = parse_public_key_pem(RSA_PUB).expect("RSA");
    let ec = ec_key();
    let ec_pub = parse_public_key_pem(&ec.public_key_pem()).expect("EC");
    let other_ec = parse_public_key_pem(&ec_key().public_key_pem()).expect("EC");

    for alg in [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
    ] {
        let t = rsa_signed(alg, &legacy());
        let jwt = parse(&t).expect("parses");
        assert!(jwt.verified_by(std::slice::from_ref(&rsa)), "{alg:?}");
        assert!(
            !jwt.verified_by(std::slice::from_ref(&ec_pub)),
            "{alg:?} with an EC key"
        );
    }
    let t = ec_signed(&ec, &projected());
    let jwt = parse(&t).expect("parses");
    assert!(
        jwt.verified_by(&[other_ec.clone(), ec_pub.clone()]),
        "any key may sign"
    );
    assert!(!jwt.verified_by(&[other_ec, rsa.clone()]));

    // Claims changed under the same signature.
    let parts: Vec<&str> = t.split('.').collect();
    let mut c = projected();
    c["kubernetes.io"]["serviceaccount"]["name"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], b64(&c), parts[2]);
    assert!(!parse(&tampered)
        .expect("parses")
        .verified_by(std::slice::from_ref(&ec_pub)));
    // An unsigned token never verifies.
    assert!(!parse(&unsigned("ES256", &projected()))
        .expect("parses")
        .verified_by(&[ec_pub, rsa]));
}

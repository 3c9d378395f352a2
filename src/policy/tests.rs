//! The policy engine's unit tests: the data-driven cases in `testdata/` (each decision
//! checked against a real OpenBao when it was written; `tests/policy_diff.rs` replays them
//! there), then the parser's errors.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use super::acl::{Acl, AclRequest};
use super::parse::parse;
use super::Policy;
use crate::logical::{Data, Operation};

fn op(name: &str) -> Operation {
    match name {
        "read" => Operation::Read,
        "list" => Operation::List,
        "create" => Operation::Create,
        "update" => Operation::Update,
        "patch" => Operation::Patch,
        "delete" => Operation::Delete,
        other => panic!("unknown operation {other:?}"),
    }
}

fn params(spec: &str) -> Data {
    let mut data = Data::new();
    for pair in spec.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        data.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    data
}

/// Run one testdata file; returns the number of checks.
fn run_file(name: &str, text: &str) -> usize {
    let mut policies: HashMap<String, Policy> = HashMap::new();
    let mut acl: Option<Acl> = None;
    let mut lines = text.lines().enumerate();
    let mut checks = 0;
    while let Some((n, line)) = lines.next() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{name}:{}", n + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[0] {
            "policy" => {
                let pname = words.get(1).unwrap_or_else(|| panic!("{at}: policy name"));
                let mut body = String::new();
                for (_, l) in lines.by_ref() {
                    if l.trim() == "end" {
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                let p = parse(pname, &body).unwrap_or_else(|e| panic!("{at}: {e}"));
                policies.insert(pname.to_string(), p);
            }
            "token" => {
                let set: Vec<&Policy> = words[1..]
                    .iter()
                    .map(|p| {
                        policies
                            .get(*p)
                            .unwrap_or_else(|| panic!("{at}: unknown policy {p}"))
                    })
                    .collect();
                acl = Some(Acl::new(set));
            }
            "check" => {
                let acl = acl
                    .as_ref()
                    .unwrap_or_else(|| panic!("{at}: check before token"));
                let (spec, want) = match words.len() {
                    4 => ("", words[3]),
                    5 => (words[3], words[4]),
                    _ => panic!("{at}: check <op> <path> [params] allow|deny"),
                };
                let data = params(spec);
                let req = AclRequest {
                    op: op(words[1]),
                    path: words[2],
                    data: &data,
                    wrap_ttl: None,
                };
                let got = if acl.allow(&req).allowed {
                    "allow"
                } else {
                    "deny"
                };
                assert_eq!(got, want, "{at}: {line}");
                checks += 1;
            }
            other => panic!("{at}: unknown directive {other:?}"),
        }
    }
    checks
}

#[test]
fn testdata_decisions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/policy/testdata");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("src/policy/testdata exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no testdata files in {}", dir.display());
    let mut total = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read testdata");
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let n = run_file(name, &text);
        assert!(n > 0, "{name} has no checks");
        total += n;
    }
    assert!(total >= 50, "only {total} checks");
}

fn acl_of(texts: &[&str]) -> Acl {
    let policies: Vec<Policy> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| parse(&format!("p{i}"), t).expect("parses"))
        .collect();
    Acl::new(policies.iter())
}

fn decide(acl: &Acl, op: Operation, path: &str, data: Value, wrap: Option<u64>) -> bool {
    let data = match data {
        Value::Object(m) => m,
        _ => Data::new(),
    };
    acl.allow(&AclRequest {
        op,
        path,
        data: &data,
        wrap_ttl: wrap.map(Duration::from_secs),
    })
    .allowed
}

#[test]
fn the_issue_policy_allows_what_it_says() {
    let acl = acl_of(&[r#"
path "sys/health"             { capabilities = ["read"] }
path "sys/mounts"             { capabilities = ["read"] }
path "sys/capabilities-self"  { capabilities = ["update"] }
path "auth/userpass/users"       { capabilities = ["list"] }
path "auth/userpass/users/*"     { capabilities = ["create","update","read","delete"] }
path "sys/policies/acl/apono-*"  { capabilities = ["create","update","read","delete","list"] }
path "kv/metadata/*"             { capabilities = ["read","list"] }
path "transit/keys"              { capabilities = ["list"] }
"#]);
    let j = Value::Null;
    use Operation::*;
    assert!(decide(&acl, List, "auth/userpass/users/", j.clone(), None));
    assert!(decide(
        &acl,
        Create,
        "auth/userpass/users/bob",
        j.clone(),
        None
    ));
    assert!(!decide(
        &acl,
        List,
        "auth/userpass/users/bob/",
        j.clone(),
        None
    ));
    assert!(!decide(&acl, Read, "auth/userpass/users", j.clone(), None));
    assert!(decide(&acl, List, "transit/keys/", j.clone(), None));
    assert!(!decide(&acl, Read, "transit/keys/k1", j.clone(), None));
    assert!(decide(
        &acl,
        Update,
        "sys/policies/acl/apono-x",
        j.clone(),
        None
    ));
    assert!(!decide(
        &acl,
        Update,
        "sys/policies/acl/other",
        j.clone(),
        None
    ));
    assert!(!decide(&acl, List, "sys/policies/acl/", j.clone(), None));
    assert!(decide(&acl, List, "kv/metadata/", j.clone(), None));
    assert!(!decide(&acl, Read, "kv/data/x", j.clone(), None));
    assert!(!decide(&acl, Update, "sys/mounts", j.clone(), None));
    assert_eq!(acl.capabilities("kv/metadata"), vec!["deny"]);
    assert_eq!(acl.capabilities("kv/metadata/a"), vec!["list", "read"]);
}

#[test]
fn segment_wildcards_rank_as_openbao_ranks_them() {
    let acl = acl_of(&[r#"
path "secret/+/db"   { capabilities = ["read"] }
path "secret/app/*"  { capabilities = ["update"] }
path "secret/+/+"    { capabilities = ["delete"] }
path "secret/*"      { capabilities = ["list"] }
"#]);
    // `secret/app/*` has its first wildcard later (11) than `secret/+/db` (7).
    assert_eq!(acl.capabilities("secret/app/db"), vec!["update"]);
    assert_eq!(acl.capabilities("secret/web/db"), vec!["read"]);
    assert_eq!(acl.capabilities("secret/web/x"), vec!["delete"]);
    assert_eq!(acl.capabilities("secret/web/x/y"), vec!["list"]);
}

#[test]
fn deny_wins_and_parameters_merge() {
    let acl = acl_of(&[
        "path \"kv/a\" {\n capabilities = [\"read\", \"update\"]\n allowed_parameters = { \"x\" = [\"1\"] }\n}",
        "path \"kv/a\" {\n capabilities = [\"create\"]\n allowed_parameters = { \"x\" = [\"2\"], \"y\" = [] }\n}",
        r#"path "kv/b" { capabilities = ["read"] }"#,
        r#"path "kv/b" { capabilities = ["deny"] }"#,
    ]);
    use serde_json::json;
    use Operation::*;
    assert!(decide(&acl, Update, "kv/a", json!({"x": "1"}), None));
    assert!(decide(
        &acl,
        Update,
        "kv/a",
        json!({"x": "2", "y": "anything"}),
        None
    ));
    assert!(!decide(&acl, Update, "kv/a", json!({"x": "3"}), None));
    assert!(!decide(&acl, Update, "kv/a", json!({"z": "1"}), None));
    // A JSON number never equals a policy value, as in OpenBao.
    assert!(!decide(&acl, Update, "kv/a", json!({"x": 1}), None));
    assert!(!decide(&acl, Read, "kv/b", json!({}), None));
    assert_eq!(acl.capabilities("kv/b"), vec!["deny"]);
}

#[test]
fn wrapping_ttl_bounds() {
    let acl = acl_of(&[
        "path \"kv/w\" {\n capabilities = [\"read\"]\n min_wrapping_ttl = \"1m\"\n max_wrapping_ttl = 3600\n}",
    ]);
    use Operation::Read;
    assert!(!decide(&acl, Read, "kv/w", Value::Null, None));
    assert!(!decide(&acl, Read, "kv/w", Value::Null, Some(30)));
    assert!(decide(&acl, Read, "kv/w", Value::Null, Some(60)));
    assert!(decide(&acl, Read, "kv/w", Value::Null, Some(3600)));
    assert!(!decide(&acl, Read, "kv/w", Value::Null, Some(3601)));
}

#[test]
fn hcl1_attributes_on_one_line() {
    let acl = acl_of(&[
        r#"path "kv/w" { capabilities = ["read"] min_wrapping_ttl = "1m" max_wrapping_ttl = 3600 }
path "kv/p" { capabilities = ["update"] allowed_parameters = { "x" = ["a*"] } denied_parameters = { y = [] } }"#,
    ]);
    use serde_json::json;
    assert!(decide(&acl, Operation::Read, "kv/w", Value::Null, Some(60)));
    assert!(!decide(&acl, Operation::Read, "kv/w", Value::Null, None));
    assert!(decide(
        &acl,
        Operation::Update,
        "kv/p",
        json!({"x": "abc"}),
        None
    ));
    assert!(!decide(
        &acl,
        Operation::Update,
        "kv/p",
        json!({"x": "b"}),
        None
    ));
}

#[test]
fn json_policies_and_old_style_policies() {
    let acl = acl_of(&[
        r#"{"path": {"kv/j/*": {"capabilities": ["read"]}, "kv/old": {"policy": "write"}}}"#,
    ]);
    assert_eq!(acl.capabilities("kv/j/x"), vec!["read"]);
    assert_eq!(
        acl.capabilities("kv/old"),
        vec!["create", "delete", "list", "read", "update"]
    );
}

#[test]
fn parse_errors_have_openbao_texts() {
    let err = parse("p", r#"path "kv/x" { capabilities = ["raed"] }"#).expect_err("bad cap");
    assert_eq!(
        err.to_string(),
        r#"failed to parse policy: path "kv/x": path "kv/x": invalid capability "raed""#
    );
    let err = parse("p", r#"path "kv/+*" { capabilities = ["read"] }"#).expect_err("+*");
    assert!(err.to_string().contains("'+*' is forbidden"), "{err}");
    let err = parse(
        "p",
        "path \"kv/x\" {\n capabilities = [\"read\"]\n min_wrapping_ttl = 60\n max_wrapping_ttl = 30\n}",
    )
    .expect_err("bounds");
    assert!(err.to_string().contains("max_wrapping_ttl cannot be less"));
    assert!(parse("p", "path \"kv\" {").is_err());
    assert!(parse(
        "p",
        "path \"kv/x\" {\n capabilities = [\"read\"]\n bogus = 1\n}"
    )
    .is_err());
}

#[test]
fn the_default_policy_parses() {
    let p = parse("default", super::DEFAULT_POLICY).expect("default parses");
    let acl = Acl::new([&p]);
    assert_eq!(acl.capabilities("auth/token/lookup-self"), vec!["read"]);
    assert_eq!(acl.capabilities("cubbyhole/x").len(), 5);
    assert_eq!(
        acl.capabilities("identity/oidc/provider/p/authorize"),
        vec!["read", "update"]
    );
    assert_eq!(acl.capabilities("identity/entity/id/"), vec!["deny"]);
}

#[test]
fn expired_paths_grant_nothing() {
    let acl = acl_of(&[
        "path \"kv/old\" {\n capabilities = [\"read\"]\n expiration = \"2020-01-01T00:00:00Z\"\n}\npath \"kv/new\" {\n capabilities = [\"read\"]\n expiration = \"2999-01-01T00:00:00Z\"\n}",
    ]);
    assert_eq!(acl.capabilities("kv/old"), vec!["deny"]);
    assert_eq!(acl.capabilities("kv/new"), vec!["read"]);
    assert!(acl.expires_at.is_some());
    assert!(parse(
        "p",
        "path \"kv\" {\n capabilities = [\"read\"]\n expiration = \"soon\"\n}"
    )
    .is_err());
}

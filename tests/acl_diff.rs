//! The differential ACL test: the same policies, tokens and requests on a real OpenBao and
//! on Coffer, every decision compared.
//!
//! A generated matrix of (token with one or two policies) × (path) × (operation with
//! parameters and wrap TTLs) is sent as real HTTP requests to both servers in the same
//! order (writes change which keys exist, so create-vs-update evolves identically), and
//! every status code must agree; then `sys/capabilities-self` for every (token, path) must
//! return the same list. Policies cover exact paths, `*` prefixes (also inside a segment),
//! `+` segments alone and with `*`, OpenBao's priority between overlapping rules, `deny`,
//! merged rules from two policies, allowed / denied / required parameters with globs and
//! empty lists, the list fallback without a trailing slash, create vs update by existence,
//! and min / max wrapping TTLs. (`tests/policy_diff.rs` is the seeded, model-generated
//! companion, and replays `src/policy/testdata` against OpenBao.)

mod common;

use common::{request, Coffer, OpenBao};
use serde_json::{json, Value};

const POLICIES: &[(&str, &str)] = &[
    (
        "exact",
        r#"
path "kv/a" { capabilities = ["read", "update"] }
path "kv/dir" { capabilities = ["list"] }
path "kv/dir/k" { capabilities = ["read", "delete"] }
"#,
    ),
    (
        "glob",
        r#"
path "kv/app*" { capabilities = ["read", "list"] }
path "kv/app/*" { capabilities = ["create"] }
path "kv/*" { capabilities = ["list"] }
"#,
    ),
    (
        "plus",
        r#"
path "kv/team/+/db" { capabilities = ["read", "update", "create"] }
path "kv/team/+/+/cfg" { capabilities = ["read"] }
path "kv/+/db/*" { capabilities = ["delete", "read"] }
path "kv/+" { capabilities = ["list", "patch"] }
"#,
    ),
    (
        "prio",
        r#"
path "kv/team/*" { capabilities = ["list"] }
path "kv/team/t1/*" { capabilities = ["read"] }
path "kv/+/t1/db" { capabilities = ["delete"] }
path "kv/team/+/x*" { capabilities = ["update", "create"] }
path "kv/team/t1/x" { capabilities = ["patch"] }
"#,
    ),
    (
        "deny",
        r#"
path "kv/deny/*" { capabilities = ["deny"] }
path "kv/*" { capabilities = ["read"] }
path "kv/a" { capabilities = ["deny"] }
"#,
    ),
    (
        "params",
        r#"
path "kv/p/*" {
  capabilities = ["create", "update", "read"]
  allowed_parameters = {
    "env" = ["prod-*", "dev"]
    "k" = []
  }
}
"#,
    ),
    (
        "denied",
        r#"
path "kv/p/params" {
  capabilities = ["update", "create", "read"]
  denied_parameters = {
    "secret" = []
    "env" = ["test", "*-old"]
  }
}
path "kv/aa/*" {
  capabilities = ["create", "update"]
  allowed_parameters = { "*" = [] }
  denied_parameters = { "bad" = [] }
}
"#,
    ),
    (
        "required",
        r#"
path "kv/req" {
  capabilities = ["create", "update", "read"]
  required_parameters = ["k"]
}
path "kv/p/*" {
  capabilities = ["update"]
  required_parameters = ["env"]
}
"#,
    ),
    (
        "createonly",
        r#"
path "kv/new/*" { capabilities = ["create"] }
path "kv/upd/*" { capabilities = ["update"] }
path "kv/a" { capabilities = ["create"] }
"#,
    ),
    (
        "wrap",
        r#"
path "kv/w/*" {
  capabilities = ["read", "list"]
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = 3600
}
path "kv/a" {
  capabilities = ["read"]
  max_wrapping_ttl = "10m"
}
"#,
    ),
    (
        "sudo",
        r#"
path "kv/s/*" { capabilities = ["read", "sudo"] }
path "sec/*" { capabilities = ["read", "list", "patch", "update"] }
path "sec/+/b" { capabilities = ["deny"] }
"#,
    ),
    (
        "literal",
        r#"
path "kv/a+b" { capabilities = ["read"] }
path "kv/x/+y" { capabilities = ["read"] }
path "+/team/*" { capabilities = ["update"] }
path "kv/lst/" { capabilities = ["list"] }
"#,
    ),
];

/// The policies of each token: every policy alone, then pairs that overlap.
const TOKENS: &[&[&str]] = &[
    &["exact"],
    &["glob"],
    &["plus"],
    &["prio"],
    &["deny"],
    &["params"],
    &["denied"],
    &["required"],
    &["createonly"],
    &["wrap"],
    &["sudo"],
    &["literal"],
    &["exact", "glob"],
    &["deny", "glob"],
    &["params", "denied"],
    &["params", "required"],
    &["prio", "plus"],
    &["createonly", "exact"],
    &["wrap", "deny"],
    &["literal", "prio"],
];

const PATHS: &[&str] = &[
    "kv/a",
    "kv/dir",
    "kv/dir/k",
    "kv/app",
    "kv/appx",
    "kv/app/db",
    "kv/team/t1/db",
    "kv/team/t2/db",
    "kv/team/t1/web/cfg",
    "kv/team/t1/x",
    "kv/team/t2/xy",
    "kv/x/db/y",
    "kv/deny/k",
    "kv/p/params",
    "kv/p/other",
    "kv/req",
    "kv/new/k",
    "kv/upd/k",
    "kv/w/k",
    "kv/s/k",
    "kv/aa/k",
    "kv/a+b",
    "kv/x/+y",
    "kv/lst",
    "sec/s",
    "sec/a/b",
];

/// Written by root first, so both create and update occur.
const SEEDED: &[&str] = &[
    "kv/a",
    "kv/dir/k",
    "kv/app/db",
    "kv/team/t1/db",
    "kv/p/params",
    "kv/upd/k",
    "kv/w/k",
    "sec/s",
    "kv/lst/k",
];

const WRITE_BODIES: &[&str] = &[
    r#"{"k":"v"}"#,
    r#"{"env":"prod-eu"}"#,
    r#"{"env":"dev","k":"v"}"#,
    r#"{"env":"test"}"#,
    r#"{"env":"x-old","k":"1"}"#,
    r#"{"secret":"s"}"#,
    r#"{"bad":"b","k":"v"}"#,
    r#"{"ENV":"dev"}"#,
    r#"{"k":1}"#,
];

/// One request: method, path (below /v1/, with query), body, wrap TTL header.
#[derive(Clone, Debug)]
struct Case {
    token: usize,
    method: &'static str,
    path: String,
    body: String,
    wrap: Option<&'static str>,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (t, _) in TOKENS.iter().enumerate() {
        for p in PATHS {
            let mut add = |method: &'static str, path: String, body: &str, wrap| {
                out.push(Case {
                    token: t,
                    method,
                    path,
                    body: body.to_owned(),
                    wrap,
                })
            };
            add("GET", p.to_string(), "", None);
            add("GET", format!("{p}?env=dev"), "", None);
            add("GET", format!("{p}?k=v&env=test"), "", None);
            add("LIST", p.to_string(), "", None);
            add("LIST", format!("{p}/"), "", None);
            for wrap in ["30s", "5m", "2h"] {
                add("GET", p.to_string(), "", Some(wrap));
            }
            for body in WRITE_BODIES {
                add("POST", p.to_string(), body, None);
            }
            add("PATCH", p.to_string(), r#"{"k":"v"}"#, None);
            add("DELETE", p.to_string(), "", None);
        }
    }
    out
}

struct Side {
    port: u16,
    tokens: Vec<String>,
}

fn call(
    port: u16,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
    wrap: Option<&str>,
) -> (u16, String) {
    let mut headers = Vec::new();
    if method == "PATCH" {
        headers.push(("Content-Type", "application/merge-patch+json"));
    }
    if let Some(w) = wrap {
        headers.push(("X-Vault-Wrap-TTL", w));
    }
    let r = request(
        port,
        method,
        &format!("/v1/{path}"),
        &headers,
        body.as_bytes(),
        Some(token),
    )
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    (r.status, r.body)
}

fn ok(port: u16, root: &str, method: &str, path: &str, body: Value) {
    let (status, text) = call(port, root, method, path, &body.to_string(), None);
    assert!(status < 300, "{method} {path}: {status} {text}");
}

/// Mounts, policies, seeded keys and tokens, identically on one server.
fn setup(port: u16, root: &str) -> Side {
    for mount in ["kv", "sec"] {
        ok(
            port,
            root,
            "POST",
            &format!("sys/mounts/{mount}"),
            json!({"type": "kv", "options": {"version": "1"}}),
        );
    }
    for (name, text) in POLICIES {
        ok(
            port,
            root,
            "PUT",
            &format!("sys/policies/acl/{name}"),
            json!({ "policy": text }),
        );
    }
    for key in SEEDED {
        ok(port, root, "POST", key, json!({"seed": "1"}));
    }
    let tokens = TOKENS
        .iter()
        .map(|policies| {
            let (status, body) = call(
                port,
                root,
                "POST",
                "auth/token/create",
                &json!({"policies": policies, "ttl": "2h"}).to_string(),
                None,
            );
            assert_eq!(status, 200, "token create: {body}");
            let v: Value = serde_json::from_str(&body).expect("json");
            v["auth"]["client_token"]
                .as_str()
                .expect("client_token")
                .to_owned()
        })
        .collect();
    Side { port, tokens }
}

#[test]
fn coffer_and_openbao_decide_every_case_alike() {
    let mut bao = OpenBao::new();
    bao.start();
    let (bao_root, bao_key) = common::init_one_share(&bao.addr());
    common::unseal_and_wait(&bao.addr(), bao.port, &bao_key);
    let (coffer, coffer_root, _) = Coffer::start_unsealed();

    let reference = setup(bao.port, &bao_root);
    let ours = setup(coffer.port, &coffer_root);

    let all = cases();
    let mut mismatches = Vec::new();
    let mut denied = 0;
    for case in &all {
        let (want, want_body) = call(
            reference.port,
            &reference.tokens[case.token],
            case.method,
            &case.path,
            &case.body,
            case.wrap,
        );
        let (got, got_body) = call(
            ours.port,
            &ours.tokens[case.token],
            case.method,
            &case.path,
            &case.body,
            case.wrap,
        );
        if want == 403 {
            denied += 1;
        }
        if want != got {
            mismatches.push(format!(
                "{:?} {} {} body={} wrap={:?}: OpenBao {want} {}, Coffer {got} {}",
                TOKENS[case.token],
                case.method,
                case.path,
                case.body,
                case.wrap,
                want_body.trim(),
                got_body.trim()
            ));
        }
    }

    // Capabilities as each token sees them.
    let mut cap_cases = 0;
    for (t, _) in TOKENS.iter().enumerate() {
        for p in PATHS.iter().flat_map(|p| [p.to_string(), format!("{p}/")]) {
            let body = json!({ "paths": [p] }).to_string();
            let ask = |side: &Side| {
                let (s, b) = call(
                    side.port,
                    &side.tokens[t],
                    "POST",
                    "sys/capabilities-self",
                    &body,
                    None,
                );
                assert_eq!(s, 200, "capabilities-self {p}: {b}");
                let v: Value = serde_json::from_str(&b).expect("json");
                v["data"][&p].clone()
            };
            let (want, got) = (ask(&reference), ask(&ours));
            cap_cases += 1;
            if want != got {
                mismatches.push(format!(
                    "{:?} capabilities {p}: OpenBao {want}, Coffer {got}",
                    TOKENS[t]
                ));
            }
        }
    }

    let total = all.len() + cap_cases;
    println!(
        "compared {total} cases ({} requests, {denied} of them denied by OpenBao; {cap_cases} capability lists)",
        all.len()
    );
    assert!(total >= 2000, "only {total} cases");
    if !mismatches.is_empty() {
        for m in mismatches.iter().take(60) {
            eprintln!("{m}");
        }
        panic!("{} of {total} cases differ", mismatches.len());
    }
    let allowed = all.len() - denied;
    assert!(
        allowed >= 500 && denied >= 500,
        "the matrix should exercise both: {allowed} allowed, {denied} denied"
    );
}

//! Differential ACL test: the same policies, tokens and request sequence on a real OpenBao
//! 2.7.2 and on Coffer, every status code compared.
//!
//! Both servers get the same KV v1 mounts (`kv/`, `secret/`), seeded keys, ACL policies
//! (hand-written ones per feature plus seeded random ones, in HCL and JSON) and tokens (one
//! to three policies each, `no_default_policy`). Then a generated sequence of ≥ 2,500 real
//! requests (GET, LIST, `?list=true`, POST/PUT — create or update by existence —, DELETE,
//! PATCH, some with query parameters or `X-Vault-Wrap-TTL`) runs in the same order on both,
//! with root resetting the keys every hundred cases, so the state evolves identically. A
//! case is denied when the answer is 403; decisions and exact status codes must agree. For
//! every (token, path) `sys/capabilities-self` and `sys/capabilities` must return the same
//! lists. Finally every check in `src/policy/testdata/*.txt` runs as a real request on both
//! (create: root deletes the key first; update: root writes it first), and OpenBao's decision
//! must also be the one the file states.
//!
//! `POLICY_DIFF_BOTH_OPENBAO=1` runs a second OpenBao in Coffer's place: how the harness
//! itself is checked (every case must then agree). `POLICY_DIFF_SEED=<n>` changes the matrix.

mod common;
#[path = "policy_diff/model.rs"]
mod model;
#[path = "policy_diff/testdata.rs"]
mod testdata;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use common::{request, Coffer, OpenBao, Server};
use model::{Case, PolicyDef, Rng, Step};
use serde_json::{json, Value};

const DEFAULT_SEED: u64 = 0x00c0_ffe7_a11c_e5ed;
const RANDOM_POLICIES: usize = 28;
const RANDOM_TOKENS: usize = 30;
const PER_TOKEN: usize = 50;
/// Lets a token call `sys/capabilities-self` (the tokens have no `default` policy).
const CAPSELF: &str = "pd-capself";
const CAPSELF_TEXT: &str = "path \"sys/capabilities-self\" { capabilities = [\"update\"] }\n";
/// Paths per `sys/capabilities*` call.
const CAP_CHUNK: usize = 12;

/// Which token a request uses.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Tok {
    Root,
    /// A token of the generated matrix.
    Main(usize),
    /// A token of a testdata `token` line.
    Td(usize),
}

/// What one request of the transcript is, identical on both sides.
#[derive(Clone, Debug)]
enum Kind {
    Setup(String),
    /// `auth/token/create` for this token: the answer supplies its id on that server.
    Token(Tok),
    Case(usize),
    Reset,
    TdArrange(usize),
    TdCheck(usize),
    /// `sys/capabilities-self` (self_ = true, with the token) or `sys/capabilities` (root).
    Caps {
        tok: Tok,
        self_: bool,
        paths: Vec<String>,
    },
}

#[derive(Clone, Debug)]
struct Req {
    kind: Kind,
    tok: Tok,
    method: &'static str,
    path: String,
    body: String,
    wrap: Option<&'static str>,
}

#[derive(Clone, Debug)]
struct Out {
    status: u16,
    body: String,
}

/// Everything the test sends, in order, before any of it is sent.
struct Plan {
    policies: Vec<PolicyDef>,
    token_sets: Vec<Vec<String>>,
    steps: Vec<Step>,
    td: testdata::Testdata,
    reqs: Vec<Req>,
}

fn root_req(kind: Kind, method: &'static str, path: impl Into<String>, body: Value) -> Req {
    Req {
        kind,
        tok: Tok::Root,
        method,
        path: path.into(),
        body: if body.is_null() {
            String::new()
        } else {
            body.to_string()
        },
        wrap: None,
    }
}

/// The policy names a main-matrix token holds on the servers.
fn main_policies(sets: &[Vec<String>], t: usize) -> Vec<String> {
    let mut p = sets[t].clone();
    // Token 0 cannot call capabilities-self: that 403 is compared too.
    if t != 0 {
        p.push(CAPSELF.into());
    }
    p
}

fn td_policies(td: &testdata::Testdata, t: usize) -> Vec<String> {
    let mut p = td.tokens[t].clone();
    p.push(CAPSELF.into());
    p
}

fn plan(seed: u64) -> Plan {
    let mut rng = Rng::new(seed);
    let policies = model::policies(&mut rng, RANDOM_POLICIES);
    let token_sets = model::token_sets(&mut rng, &policies, RANDOM_TOKENS);
    let steps = model::steps(&mut rng, &policies, &token_sets, PER_TOKEN);
    let td = testdata::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/policy/testdata"),
    );

    let mut reqs = Vec::new();
    for mount in ["kv", "secret"] {
        reqs.push(root_req(
            Kind::Setup(format!("mount {mount}/")),
            "POST",
            format!("sys/mounts/{mount}"),
            json!({"type": "kv", "options": {"version": "1"}}),
        ));
    }
    let mut all_policies: Vec<(String, String)> = vec![(CAPSELF.into(), CAPSELF_TEXT.into())];
    all_policies.extend(policies.iter().map(|p| (p.name.clone(), p.text.clone())));
    all_policies.extend(td.policies.iter().cloned());
    for (name, text) in &all_policies {
        reqs.push(root_req(
            Kind::Setup(format!("write policy {name}")),
            "PUT",
            format!("sys/policies/acl/{name}"),
            json!({ "policy": text }),
        ));
    }
    for key in model::keys(&steps) {
        if model::seeded(&key) {
            reqs.push(root_req(
                Kind::Setup(format!("seed {key}")),
                "PUT",
                key,
                json!({"seed": "1"}),
            ));
        }
    }
    // Tokens last in the setup (their ids are read from these answers).
    for t in 0..token_sets.len() {
        reqs.push(root_req(
            Kind::Token(Tok::Main(t)),
            "POST",
            "auth/token/create",
            json!({"policies": main_policies(&token_sets, t), "no_default_policy": true, "ttl": "2h"}),
        ));
    }
    for t in 0..td.tokens.len() {
        reqs.push(root_req(
            Kind::Token(Tok::Td(t)),
            "POST",
            "auth/token/create",
            json!({"policies": td_policies(&td, t), "no_default_policy": true, "ttl": "2h"}),
        ));
    }
    for (i, s) in steps.iter().enumerate() {
        match s {
            Step::Case(c) => reqs.push(Req {
                kind: Kind::Case(i),
                tok: Tok::Main(c.token),
                method: c.method,
                path: c.path.clone(),
                body: c.body.clone(),
                wrap: c.wrap,
            }),
            Step::Root(m, p, b) => reqs.push(Req {
                kind: Kind::Reset,
                tok: Tok::Root,
                method: m,
                path: p.clone(),
                body: b.clone(),
                wrap: None,
            }),
        }
    }
    for (i, c) in td.checks.iter().enumerate() {
        match c.op.as_str() {
            "create" => reqs.push(root_req(Kind::TdArrange(i), "DELETE", &c.path, Value::Null)),
            "update" => reqs.push(root_req(
                Kind::TdArrange(i),
                "PUT",
                &c.path,
                json!({"seed": "1"}),
            )),
            _ => {}
        }
        let (method, path, body) = c.request();
        reqs.push(Req {
            kind: Kind::TdCheck(i),
            tok: Tok::Td(c.token),
            method,
            path,
            body,
            wrap: None,
        });
    }
    // Capabilities of every (token, path) the requests used, plus the other form of each
    // path (with / without the trailing slash).
    let mut cap_paths: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for s in &steps {
        if let Step::Case(c) = s {
            let set = cap_paths.entry(c.token).or_default();
            set.insert(c.acl_path.clone());
            match c.acl_path.strip_suffix('/') {
                Some(p) => set.insert(p.to_owned()),
                None => set.insert(format!("{}/", c.acl_path)),
            };
        }
    }
    let mut td_paths: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for c in &td.checks {
        td_paths.entry(c.token).or_default().insert(c.path.clone());
    }
    let caps = cap_paths
        .into_iter()
        .map(|(t, p)| (Tok::Main(t), p))
        .chain(td_paths.into_iter().map(|(t, p)| (Tok::Td(t), p)));
    for (tok, paths) in caps {
        let paths: Vec<String> = paths.into_iter().collect();
        for chunk in paths.chunks(CAP_CHUNK) {
            reqs.push(Req {
                kind: Kind::Caps {
                    tok,
                    self_: true,
                    paths: chunk.to_vec(),
                },
                tok,
                method: "POST",
                path: "sys/capabilities-self".into(),
                body: json!({ "paths": chunk }).to_string(),
                wrap: None,
            });
            reqs.push(Req {
                kind: Kind::Caps {
                    tok,
                    self_: false,
                    paths: chunk.to_vec(),
                },
                tok: Tok::Root,
                method: "POST",
                path: "sys/capabilities".into(),
                // The token id is filled in per server.
                body: json!({ "paths": chunk }).to_string(),
                wrap: None,
            });
        }
    }
    Plan {
        policies,
        token_sets,
        steps,
        td,
        reqs,
    }
}

fn send(port: u16, token: &str, method: &str, path: &str, body: &str, wrap: Option<&str>) -> Out {
    let mut headers = Vec::new();
    if method == "PATCH" {
        headers.push(("Content-Type", "application/merge-patch+json"));
    }
    if let Some(w) = wrap {
        headers.push(("X-Vault-Wrap-TTL", w));
    }
    match request(
        port,
        method,
        &format!("/v1/{path}"),
        &headers,
        body.as_bytes(),
        Some(token),
    ) {
        Ok(r) => Out {
            status: r.status,
            body: r.body,
        },
        // A dead or hung server is a mismatch to report, not a reason to stop comparing.
        Err(e) => Out {
            status: 0,
            body: format!("I/O error: {e}"),
        },
    }
}

/// Run the whole plan against one server: one answer per request, in order.
fn drive(port: u16, root: &str, plan: &Plan) -> Vec<Out> {
    let n_main = plan.token_sets.len();
    let n_td = plan.td.tokens.len();
    let mut main_tokens = vec![String::new(); n_main];
    let mut td_tokens = vec![String::new(); n_td];
    let mut outs = Vec::with_capacity(plan.reqs.len());
    for (i, r) in plan.reqs.iter().enumerate() {
        let token = match r.tok {
            Tok::Root => root,
            Tok::Main(t) => &main_tokens[t],
            Tok::Td(t) => &td_tokens[t],
        };
        let body = match (&r.kind, r.tok) {
            (
                Kind::Caps {
                    tok,
                    self_: false,
                    paths,
                },
                _,
            ) => {
                let id = match tok {
                    Tok::Main(t) => &main_tokens[*t],
                    Tok::Td(t) => &td_tokens[*t],
                    Tok::Root => root,
                };
                json!({"token": id, "paths": paths}).to_string()
            }
            _ => r.body.clone(),
        };
        let out = send(port, token, r.method, &r.path, &body, r.wrap);
        if let Kind::Token(tok) = r.kind {
            let id = serde_json::from_str::<Value>(&out.body)
                .ok()
                .and_then(|v| v["auth"]["client_token"].as_str().map(str::to_owned))
                // A failed creation leaves an id no server knows: its requests are 403.
                .unwrap_or_else(|| format!("s.notcreated{i}"));
            match tok {
                Tok::Main(t) => main_tokens[t] = id,
                Tok::Td(t) => td_tokens[t] = id,
                Tok::Root => unreachable!(),
            }
        }
        outs.push(out);
    }
    outs
}

fn init_and_unseal(server: &Server) -> String {
    let init = send(
        server.port(),
        "",
        "PUT",
        "sys/init",
        r#"{"secret_shares":1,"secret_threshold":1}"#,
        None,
    );
    assert_eq!(init.status, 200, "sys/init: {}", init.body);
    let v: Value = serde_json::from_str(&init.body).expect("init JSON");
    let root = v["root_token"].as_str().expect("root_token").to_owned();
    let key = v["keys_base64"][0]
        .as_str()
        .expect("keys_base64")
        .to_owned();
    server.unseal(&key);
    root
}

fn start_openbao() -> (Server, String) {
    let mut s = Server::OpenBao(OpenBao::new());
    s.start();
    let root = init_and_unseal(&s);
    (s, root)
}

fn start_coffer() -> (Server, String) {
    let (c, root, _) = Coffer::start_unsealed();
    (Server::Coffer(c), root)
}

fn short(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 240 {
        format!("{}…", s.chars().take(240).collect::<String>())
    } else {
        s.to_owned()
    }
}

fn is_write(c: &Case) -> bool {
    matches!(c.method, "POST" | "PUT")
}

#[test]
fn openbao_and_coffer_make_the_same_acl_decisions() {
    let started = Instant::now();
    let seed = std::env::var("POLICY_DIFF_SEED")
        .ok()
        .map(|s| s.parse().expect("POLICY_DIFF_SEED is a number"))
        .unwrap_or(DEFAULT_SEED);
    let both_openbao = std::env::var("POLICY_DIFF_BOTH_OPENBAO").is_ok_and(|v| v == "1");
    let b_name = if both_openbao { "OpenBao#2" } else { "Coffer" };
    let plan = plan(seed);

    // Start both at once (OpenBao's raft takes a few seconds to become active).
    let b_thread = std::thread::spawn(move || {
        if both_openbao {
            start_openbao()
        } else {
            start_coffer()
        }
    });
    let (a, a_root) = start_openbao();
    let (b, b_root) = b_thread.join().expect("starting the second server");

    // Drive both at once, each its own sequence in the same order.
    let (a_outs, b_outs) = std::thread::scope(|s| {
        let plan = &plan;
        let (a_port, b_port) = (a.port(), b.port());
        let (a_root, b_root) = (a_root.as_str(), b_root.as_str());
        let hb = s.spawn(move || drive(b_port, b_root, plan));
        let oa = drive(a_port, a_root, plan);
        (oa, hb.join().expect("driving the second server"))
    });
    let elapsed = started.elapsed();

    // ---- compare
    let mut mismatches: Vec<String> = Vec::new();
    let mut involved: BTreeSet<String> = BTreeSet::new();
    let policy_set = |tok: Tok| -> Vec<String> {
        match tok {
            Tok::Root => vec!["root".into()],
            Tok::Main(t) => main_policies(&plan.token_sets, t),
            Tok::Td(t) => td_policies(&plan.td, t),
        }
    };
    let mut exists: BTreeSet<String> = BTreeSet::new();
    let mut stats: BTreeMap<String, (usize, usize)> = BTreeMap::new(); // (allowed, denied)
    let (mut cases, mut td_checks, mut cap_compares) = (0usize, 0usize, 0usize);
    let (mut wrong_td, mut cap_denied_self) = (0usize, 0usize);
    for (r, (oa, ob)) in plan.reqs.iter().zip(a_outs.iter().zip(b_outs.iter())) {
        let denied = oa.status == 403;
        let differs = oa.status != ob.status;
        let describe = |label: &str| {
            format!(
                "{label}: token {:?} {:?} {} {} body={} wrap={:?}\n      OpenBao {} {}\n      {b_name} {} {}",
                r.tok,
                policy_set(r.tok),
                r.method,
                r.path,
                if r.body.is_empty() { "-" } else { &r.body },
                r.wrap,
                oa.status,
                short(&oa.body),
                ob.status,
                short(&ob.body)
            )
        };
        let kind_word = |a: u16, b: u16| {
            if (a == 403) != (b == 403) {
                "DECISION"
            } else {
                "status"
            }
        };
        match &r.kind {
            Kind::Token(tok) => {
                if differs || oa.status != 200 {
                    mismatches.push(describe(&format!("setup: create token {tok:?}")));
                }
            }
            Kind::Setup(what) => {
                if what.starts_with("seed") && oa.status < 300 {
                    exists.insert(r.path.clone());
                }
                if differs || oa.status >= 300 {
                    mismatches.push(describe(&format!("setup `{what}`")));
                }
            }
            Kind::Reset => {
                match r.method {
                    "DELETE" => exists.remove(&r.path),
                    _ => exists.insert(r.path.clone()),
                };
                if differs {
                    mismatches.push(describe("root reset"));
                }
            }
            Kind::Case(i) => {
                cases += 1;
                let Step::Case(c) = &plan.steps[*i] else {
                    unreachable!()
                };
                let label = if is_write(c) {
                    if exists.contains(&c.acl_path) {
                        "write-existing"
                    } else {
                        "write-missing"
                    }
                } else {
                    c.what.as_str()
                };
                let label = match (c.wrap, c.path.contains('?') && c.method == "GET") {
                    (Some(_), _) => format!("{label}+wrap"),
                    (None, true) if c.what == "read" => format!("{label}+query"),
                    _ => label.to_owned(),
                };
                let e = stats.entry(label).or_default();
                if denied {
                    e.1 += 1;
                } else {
                    e.0 += 1;
                }
                if oa.status < 300 {
                    if is_write(c) {
                        exists.insert(c.acl_path.clone());
                    } else if c.method == "DELETE" {
                        exists.remove(&c.acl_path);
                    }
                }
                if differs {
                    involved.extend(policy_set(r.tok));
                    mismatches.push(describe(&format!(
                        "{} case {i} ({})",
                        kind_word(oa.status, ob.status),
                        c.what
                    )));
                }
            }
            Kind::TdArrange(i) => {
                if differs || oa.status >= 300 {
                    mismatches.push(describe(&format!(
                        "testdata arrange {}",
                        plan.td.checks[*i].at
                    )));
                }
            }
            Kind::TdCheck(i) => {
                td_checks += 1;
                let c = &plan.td.checks[*i];
                if denied == c.allow {
                    wrong_td += 1;
                    involved.extend(policy_set(r.tok));
                    mismatches.push(describe(&format!(
                        "TESTDATA {} `check {} {} {:?}` says {}, OpenBao says otherwise",
                        c.at,
                        c.op,
                        c.path,
                        c.params,
                        if c.allow { "allow" } else { "deny" }
                    )));
                }
                if differs {
                    involved.extend(policy_set(r.tok));
                    mismatches.push(describe(&format!(
                        "{} testdata {}",
                        kind_word(oa.status, ob.status),
                        c.at
                    )));
                }
            }
            Kind::Caps { tok, self_, paths } => {
                let endpoint = if *self_ {
                    "capabilities-self"
                } else {
                    "capabilities"
                };
                if differs {
                    cap_compares += paths.len();
                    involved.extend(policy_set(*tok));
                    mismatches.push(describe(&format!("{endpoint} status, token {tok:?}")));
                    continue;
                }
                if oa.status != 200 {
                    // Token 0 has no grant on sys/capabilities-self: 403 on both is right.
                    if *self_ && *tok == Tok::Main(0) && oa.status == 403 {
                        cap_denied_self += 1;
                        cap_compares += paths.len();
                        continue;
                    }
                    mismatches.push(describe(&format!("{endpoint}: unexpected status")));
                    continue;
                }
                let (va, vb): (Value, Value) = (
                    serde_json::from_str(&oa.body).unwrap_or(Value::Null),
                    serde_json::from_str(&ob.body).unwrap_or(Value::Null),
                );
                for p in paths {
                    cap_compares += 1;
                    let (ca, cb) = (&va["data"][p], &vb["data"][p]);
                    let (ta, tb) = (&va[p], &vb[p]);
                    if ca != cb || ta != tb || ca.is_null() {
                        involved.extend(policy_set(*tok));
                        mismatches.push(format!(
                            "CAPABILITIES {endpoint} token {tok:?} {:?} path {p:?}: OpenBao data {ca} top {ta}, {b_name} data {cb} top {tb}",
                            policy_set(*tok)
                        ));
                    }
                }
            }
        }
    }

    let requests = a_outs.len();
    println!(
        "policy_diff: seed {seed:#x}, OpenBao vs {b_name}: {cases} request cases, {td_checks} testdata checks, \
         {cap_compares} capability lists ({cap_denied_self} capabilities-self calls denied as expected); \
         {requests} requests per server in {:.1} s",
        elapsed.as_secs_f64()
    );
    for (label, (allowed, denied)) in &stats {
        println!("  {label:<22} {allowed:>5} allowed {denied:>5} denied (by OpenBao)");
    }
    assert!(cases >= 2500, "only {cases} request cases");

    if !mismatches.is_empty() {
        eprintln!(
            "{} mismatches ({wrong_td} of them testdata decisions OpenBao disagrees with); the first 50:",
            mismatches.len()
        );
        for (n, m) in mismatches.iter().take(50).enumerate() {
            eprintln!("#{n} {m}");
        }
        eprintln!("\nPolicies involved:");
        let texts: BTreeMap<&str, &str> = plan
            .policies
            .iter()
            .map(|p| (p.name.as_str(), p.text.as_str()))
            .chain(
                plan.td
                    .policies
                    .iter()
                    .map(|(n, t)| (n.as_str(), t.as_str())),
            )
            .chain([(CAPSELF, CAPSELF_TEXT)])
            .collect();
        for name in &involved {
            if let Some(t) = texts.get(name.as_str()) {
                eprintln!("--- {name}\n{t}");
            }
        }
        panic!(
            "{} of {} compared cases differ between OpenBao and {b_name} (see above)",
            mismatches.len(),
            cases + td_checks + cap_compares
        );
    }

    // The matrix must exercise both outcomes and both create and update.
    let sum = |pred: &dyn Fn(&str) -> bool| {
        stats
            .iter()
            .filter(|(l, _)| pred(l))
            .fold((0, 0), |acc, (_, v)| (acc.0 + v.0, acc.1 + v.1))
    };
    let (allowed, denied) = sum(&|_| true);
    assert!(
        allowed * 5 >= cases && denied * 5 >= cases,
        "the matrix should exercise both outcomes: {allowed} allowed, {denied} denied"
    );
    for label in [
        "write-existing",
        "write-missing",
        "read",
        "list",
        "delete",
        "patch",
    ] {
        let (a, d) = sum(&|l| l.starts_with(label));
        assert!(a >= 20 && d >= 20, "{label}: only {a} allowed / {d} denied");
    }
    drop((a, b));
}

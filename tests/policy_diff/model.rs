//! What the differential ACL test sends: the policies (hand-written ones for each feature and
//! seeded random ones), the tokens holding them, and the request sequence, all deterministic.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

/// xorshift64*: small, seeded, the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `pct` percent.
    pub fn pct(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A policy as written to `sys/policies/acl/<name>`.
#[derive(Clone, Debug)]
pub struct PolicyDef {
    pub name: String,
    pub text: String,
    /// The `path` patterns in it with their capabilities (requests are biased toward paths
    /// they match and operations they grant).
    pub patterns: Vec<(String, Vec<String>)>,
}

/// One generated `path` block.
struct Rule {
    pattern: String,
    caps: Vec<&'static str>,
    allowed: Option<Vec<(&'static str, Vec<&'static str>)>>,
    denied: Option<Vec<(&'static str, Vec<&'static str>)>>,
    required: Option<Vec<&'static str>>,
    min_wrap: Option<&'static str>,
    max_wrap: Option<&'static str>,
}

fn quoted(items: &[&str]) -> String {
    let q: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", q.join(", "))
}

fn hcl_map(name: &str, entries: &[(&str, Vec<&str>)]) -> String {
    let mut s = format!("  {name} = {{\n");
    for (k, vs) in entries {
        s.push_str(&format!("    {k:?} = {}\n", quoted(vs)));
    }
    s.push_str("  }\n");
    s
}

impl Rule {
    fn hcl(&self) -> String {
        let mut s = format!(
            "path {:?} {{\n  capabilities = {}\n",
            self.pattern,
            quoted(&self.caps)
        );
        if let Some(a) = &self.allowed {
            s.push_str(&hcl_map("allowed_parameters", a));
        }
        if let Some(d) = &self.denied {
            s.push_str(&hcl_map("denied_parameters", d));
        }
        if let Some(r) = &self.required {
            s.push_str(&format!("  required_parameters = {}\n", quoted(r)));
        }
        if let Some(w) = self.min_wrap {
            s.push_str(&format!("  min_wrapping_ttl = {w:?}\n"));
        }
        if let Some(w) = self.max_wrap {
            s.push_str(&format!("  max_wrapping_ttl = {w:?}\n"));
        }
        s.push_str("}\n");
        s
    }

    fn json(&self) -> Value {
        let map = |entries: &Vec<(&str, Vec<&str>)>| {
            Value::Object(
                entries
                    .iter()
                    .map(|(k, vs)| (k.to_string(), json!(vs)))
                    .collect(),
            )
        };
        let mut o = serde_json::Map::new();
        o.insert("capabilities".into(), json!(self.caps));
        if let Some(a) = &self.allowed {
            o.insert("allowed_parameters".into(), map(a));
        }
        if let Some(d) = &self.denied {
            o.insert("denied_parameters".into(), map(d));
        }
        if let Some(r) = &self.required {
            o.insert("required_parameters".into(), json!(r));
        }
        if let Some(w) = self.min_wrap {
            o.insert("min_wrapping_ttl".into(), json!(w));
        }
        if let Some(w) = self.max_wrap {
            o.insert("max_wrapping_ttl".into(), json!(w));
        }
        Value::Object(o)
    }
}

/// Hand-written policies, one or two per feature. Names start with `h-`.
const HANDWRITTEN: &[(&str, &str)] = &[
    (
        "h-exact",
        r#"path "kv/a" { capabilities = ["read", "update"] }
path "kv/dir" { capabilities = ["list"] }
path "kv/dir/k1" { capabilities = ["read", "delete", "patch"] }
path "secret/b/c" { capabilities = ["create", "delete", "read"] }
"#,
    ),
    (
        "h-glob",
        r#"path "kv/*" { capabilities = ["list"] }
path "kv/app-*" { capabilities = ["read", "create"] }
path "kv/app*" { capabilities = ["update"] }
path "kv/app/*" { capabilities = ["delete", "read"] }
path "secret/dev-*" { capabilities = ["read", "list", "update", "create"] }
"#,
    ),
    (
        "h-plus",
        r#"path "kv/+/db/*" { capabilities = ["read", "list"] }
path "kv/+/+/db/*" { capabilities = ["delete"] }
path "kv/team/+/cfg" { capabilities = ["read", "update", "create"] }
path "kv/+" { capabilities = ["read", "patch"] }
path "secret/+/c" { capabilities = ["list", "read"] }
path "kv/+/y*" { capabilities = ["create"] }
path "secret/+/+/d" { capabilities = ["update", "read"] }
"#,
    ),
    (
        "h-prio",
        r#"path "kv/team/*" { capabilities = ["list"] }
path "kv/team/one/*" { capabilities = ["read"] }
path "kv/team/+/db/*" { capabilities = ["update"] }
path "kv/+/one/db/*" { capabilities = ["delete"] }
path "kv/team/+/db/x" { capabilities = ["create"] }
path "kv/team/one/db/+" { capabilities = ["patch", "read"] }
path "kv/team/+/+" { capabilities = ["sudo", "read", "list"] }
path "kv/team/one/db/x*" { capabilities = ["list", "create", "update"] }
"#,
    ),
    (
        "h-deny",
        r#"path "kv/*" { capabilities = ["read", "list", "create", "update"] }
path "kv/app/*" { capabilities = ["deny"] }
path "kv/app/x" { capabilities = ["read"] }
path "kv/+/db/*" { capabilities = ["deny", "read"] }
path "secret/*" { capabilities = ["read", "deny", "list"] }
"#,
    ),
    (
        "h-deny2",
        r#"path "kv/app-*" { capabilities = ["deny"] }
path "kv/dir" { capabilities = ["deny"] }
path "kv/team/+/cfg" { capabilities = ["deny"] }
"#,
    ),
    (
        "h-list",
        r#"path "kv/dir" { capabilities = ["list"] }
path "kv/lst/" { capabilities = ["list", "read"] }
path "kv/lf/+" { capabilities = ["list"] }
path "kv/lf/+/+" { capabilities = ["read"] }
path "secret/b" { capabilities = ["list"] }
path "kv/lg*" { capabilities = ["list"] }
"#,
    ),
    (
        "h-params",
        r#"path "kv/p/*" {
  capabilities = ["create", "update", "read", "patch"]
  allowed_parameters = {
    "k" = []
    "env" = ["prod-*", "dev"]
  }
}
path "kv/q/*" {
  capabilities = ["create", "update"]
  allowed_parameters = {
    "*" = []
    "k" = ["v1"]
  }
  denied_parameters = {
    "bad" = []
  }
}
path "kv/r/*" {
  capabilities = ["create", "update", "read"]
  required_parameters = ["k"]
  denied_parameters = {
    "j" = ["*x*", "v1"]
  }
}
path "secret/a" {
  capabilities = ["update", "create"]
  denied_parameters = {
    "*" = []
  }
}
path "kv/v/*" {
  capabilities = ["create", "update", "read"]
  allowed_parameters = {
    "k" = ["*", "foo-*", "*-bar", "1"]
    "j" = ["*mid*"]
  }
}
"#,
    ),
    (
        "h-params2",
        r#"path "kv/p/*" {
  capabilities = ["delete"]
  allowed_parameters = {
    "j" = ["v2"]
    "env" = []
  }
}
path "kv/r/*" {
  capabilities = ["update"]
  required_parameters = ["j"]
  denied_parameters = {
    "k" = ["bad"]
  }
}
path "kv/q/*" { capabilities = ["read"] }
path "kv/a" {
  capabilities = ["create"]
  allowed_parameters = {
    "k" = ["v1", "v2"]
  }
}
"#,
    ),
    (
        "h-cu",
        r#"path "kv/cu/*" { capabilities = ["create"] }
path "secret/*" { capabilities = ["update", "read"] }
path "kv/up/*" { capabilities = ["update", "delete"] }
"#,
    ),
    (
        "h-wrap",
        r#"path "kv/w/*" {
  capabilities = ["read", "list", "update", "create"]
  min_wrapping_ttl = "30s"
  max_wrapping_ttl = "2m"
}
path "kv/a" {
  capabilities = ["read"]
  max_wrapping_ttl = 100
}
"#,
    ),
    (
        "h-wrap2",
        r#"path "kv/w/*" {
  capabilities = ["read"]
  min_wrapping_ttl = "60s"
  max_wrapping_ttl = "5m"
}
path "kv/a" {
  capabilities = ["read"]
  min_wrapping_ttl = 50
}
"#,
    ),
    (
        "h-json",
        r#"{"path": {
  "kv/j/*": {"capabilities": ["read", "list"]},
  "kv/j/+/x": {"capabilities": ["update", "create"], "allowed_parameters": {"k": ["v*"]}},
  "secret/j": {"capabilities": ["deny"]}
}}"#,
    ),
    (
        "h-sudo",
        r#"path "kv/s/*" { capabilities = ["sudo", "read"] }
path "secret/*" { capabilities = ["sudo"] }
path "kv/a" { capabilities = ["sudo", "list", "delete"] }
"#,
    ),
    (
        "h-dup",
        r#"path "kv/d/*" { capabilities = ["read"] }
path "kv/d/*" {
  capabilities = ["update", "create"]
  allowed_parameters = {
    "k" = []
  }
}
path "kv/d/x" { capabilities = ["list"] }
path "kv/d/x" { capabilities = ["deny"] }
"#,
    ),
    (
        "h-literal",
        r#"path "kv/a+b" { capabilities = ["read", "create", "update"] }
path "kv/x/+y" { capabilities = ["read"] }
path "+/team/*" { capabilities = ["update"] }
path "kv/e" { capabilities = [] }
"#,
    ),
];

/// The policy sets of the hand-written tokens: each policy alone, then pairs and triples
/// that merge rules on the same pattern or overlap.
const HANDWRITTEN_TOKENS: &[&[&str]] = &[
    &["h-exact"],
    &["h-glob"],
    &["h-plus"],
    &["h-prio"],
    &["h-deny"],
    &["h-list"],
    &["h-params"],
    &["h-cu"],
    &["h-wrap"],
    &["h-json"],
    &["h-sudo"],
    &["h-dup"],
    &["h-literal"],
    &["h-exact", "h-glob"],
    &["h-glob", "h-deny2"],
    &["h-deny", "h-exact"],
    &["h-params", "h-params2"],
    &["h-wrap", "h-wrap2"],
    &["h-prio", "h-plus"],
    &["h-list", "h-deny2", "h-exact"],
    &["h-cu", "h-params2"],
    &["h-sudo", "h-deny", "h-wrap"],
    &["h-plus", "h-literal", "h-deny2"],
];

/// Patterns for generated rules.
const PATTERNS: &[&str] = &[
    "kv/a",
    "kv/b",
    "kv/app",
    "kv/app/x",
    "kv/dir",
    "kv/dir/",
    "kv/cu/exists",
    "kv/cu/missing",
    "kv/*",
    "kv/a*",
    "kv/app*",
    "kv/app-*",
    "kv/app/*",
    "kv/dir/*",
    "kv/team/*",
    "kv/x/*",
    "kv/cu/*",
    "kv/+",
    "kv/+/x",
    "kv/app/+",
    "kv/+/db/*",
    "kv/+/db/pw",
    "kv/+/+/db/*",
    "kv/team/+/cfg",
    "kv/team/+/*",
    "kv/+/+",
    "kv/+/+/+",
    "kv/+/y*",
    "kv/team/+/db/+",
    "kv/+/one/*",
    "secret/*",
    "secret/a",
    "secret/b/*",
    "secret/b/c",
    "secret/dev-*",
    "secret/+/c",
    "secret/+/+/d",
    "secret/+",
    "secre*",
];

/// Concrete keys the requests use besides those derived from the token's own patterns.
const UNIVERSE: &[&str] = &[
    "kv/a",
    "kv/b",
    "kv/ab",
    "kv/app",
    "kv/app-x",
    "kv/app-y/z",
    "kv/app/x",
    "kv/app/y",
    "kv/app/db/pw",
    "kv/apps/q",
    "kv/dir/k1",
    "kv/dir/sub/k2",
    "kv/x/db/pw",
    "kv/y/db/cfg",
    "kv/x/y/db/z",
    "kv/x/x",
    "kv/b/x",
    "kv/team/one/cfg",
    "kv/team/two/cfg",
    "kv/team/one/db/x",
    "kv/team/one/db/xy",
    "kv/team/one/db/x/y",
    "kv/team/two/db/x",
    "kv/team/cfg",
    "kv/cu/exists",
    "kv/cu/missing",
    "kv/up/exists",
    "kv/up/missing",
    "kv/q/yes",
    "kv/p/x",
    "kv/q/x",
    "kv/r/x",
    "kv/v/x",
    "kv/w/x",
    "kv/j/x",
    "kv/j/a/x",
    "kv/s/x",
    "kv/d/x",
    "kv/d/y",
    "kv/lst/k",
    "kv/lf/a/b",
    "kv/lg/a",
    "kv/a+b",
    "kv/x/+y",
    "kv/e",
    "secret/a",
    "secret/b",
    "secret/b/c",
    "secret/b/c/d",
    "secret/x/c",
    "secret/x/y/d",
    "secret/dev-1",
    "secret/dev/x",
    "secret/j",
    "secret/team/x",
    "secret/prod",
];

/// Directories listed besides the parents of keys.
const LIST_DIRS: &[&str] = &[
    "kv/",
    "kv/dir/",
    "kv/app/",
    "kv/team/",
    "kv/team/one/",
    "kv/team/one/db/",
    "kv/lst/",
    "kv/lf/",
    "kv/lf/a/",
    "secret/",
    "secret/b/",
    "secret/b/c/",
];

const CAPS: &[&str] = &[
    "create", "read", "update", "patch", "delete", "list", "sudo",
];
const SEGMENTS: &[&str] = &["a", "x", "one", "db", "app", "b", "team", "y"];
const SUFFIXES: &[&str] = &["", "x", "1", "-x", "/x", "/db/pw", "x/y", "/one/cfg", "b"];
const PARAM_KEYS: &[&str] = &["k", "j", "K", "env", "bad", "other"];
const STRING_VALUES: &[&str] = &[
    "v1", "v2", "foo-1", "foo-", "fo", "bad", "bad-x", "x-bar", "-bar", "*", "1", "dev", "prod-eu",
    "amidb", "",
];
const WRAP_TTLS: &[&str] = &["10", "45s", "90", "200s", "10m", "1m"];

type ParamMap = Vec<(&'static str, Vec<&'static str>)>;

fn allowed_options() -> Vec<ParamMap> {
    vec![
        vec![("k", vec![])],
        vec![("k", vec!["v1", "v2"])],
        vec![("k", vec!["foo-*"])],
        vec![("k", vec!["*-bar", "v1"])],
        vec![("*", vec![])],
        vec![("*", vec![]), ("k", vec!["v1"])],
        vec![("k", vec![]), ("j", vec!["*"])],
        vec![("env", vec!["prod-*", "dev"])],
        vec![("k", vec!["*mid*"]), ("j", vec![])],
    ]
}

fn denied_options() -> Vec<ParamMap> {
    vec![
        vec![("k", vec![])],
        vec![("k", vec!["bad"])],
        vec![("*", vec![])],
        vec![("k", vec!["bad-*"])],
        vec![("j", vec!["v1", "*x*"])],
        vec![("bad", vec![]), ("env", vec!["prod-*"])],
    ]
}

fn required_options() -> Vec<Vec<&'static str>> {
    vec![vec!["k"], vec!["k", "j"], vec!["env"]]
}

fn random_rule(rng: &mut Rng, pattern: &str) -> Rule {
    let caps: Vec<&'static str> = match rng.below(100) {
        0..=7 => vec!["deny"],
        8..=10 => {
            let mut c = vec!["deny", *rng.pick(CAPS)];
            if rng.pct(50) {
                c.reverse();
            }
            c
        }
        11..=12 => vec![],
        _ => {
            let n = 1 + rng.below(4);
            let mut c: Vec<&'static str> = Vec::new();
            while c.len() < n {
                let cap = *rng.pick(CAPS);
                if !c.contains(&cap) {
                    c.push(cap);
                }
            }
            c
        }
    };
    let mut rule = Rule {
        pattern: pattern.to_owned(),
        caps,
        allowed: None,
        denied: None,
        required: None,
        min_wrap: None,
        max_wrap: None,
    };
    if rng.pct(35) {
        match rng.below(5) {
            0 | 1 => rule.allowed = Some(rng.pick(&allowed_options()).clone()),
            2 => rule.denied = Some(rng.pick(&denied_options()).clone()),
            3 => rule.required = Some(rng.pick(&required_options()).clone()),
            _ => {
                rule.allowed = Some(rng.pick(&allowed_options()).clone());
                rule.denied = Some(rng.pick(&denied_options()).clone());
            }
        }
    }
    if rng.pct(7) {
        match rng.below(3) {
            0 => rule.min_wrap = Some("30s"),
            1 => rule.max_wrap = Some("120"),
            _ => {
                rule.min_wrap = Some("1m");
                rule.max_wrap = Some("5m");
            }
        }
    }
    rule
}

/// Patterns and capabilities in an HCL or JSON policy text (good enough for the texts
/// above and the generated ones).
fn patterns_of(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    if text.trim_start().starts_with('{') {
        let v: Value = serde_json::from_str(text).expect("JSON policy");
        if let Some(paths) = v["path"].as_object() {
            for (p, rule) in paths {
                let caps = rule["capabilities"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| c.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                out.push((p.clone(), caps));
            }
        }
        return out;
    }
    let mut rest = text;
    while let Some(i) = rest.find("path \"") {
        rest = &rest[i + 6..];
        let end = rest.find('"').expect("closing quote");
        let pattern = rest[..end].to_owned();
        rest = &rest[end..];
        let caps = rest
            .find("capabilities")
            .and_then(|c| {
                let list = &rest[c..];
                let (open, close) = (list.find('[')?, list.find(']')?);
                Some(
                    list[open + 1..close]
                        .split(',')
                        .map(|w| w.trim().trim_matches('"').to_owned())
                        .filter(|w| !w.is_empty())
                        .collect(),
                )
            })
            .unwrap_or_default();
        out.push((pattern, caps));
    }
    out
}

/// The hand-written policies, then `n` random ones (`r-0`, ...), each with 1–4 rules.
pub fn policies(rng: &mut Rng, n: usize) -> Vec<PolicyDef> {
    let mut out: Vec<PolicyDef> = HANDWRITTEN
        .iter()
        .map(|(name, text)| PolicyDef {
            name: name.to_string(),
            text: text.to_string(),
            patterns: patterns_of(text),
        })
        .collect();
    for i in 0..n {
        let rules_n = 1 + rng.below(4);
        let mut rules = Vec::new();
        let mut seen = BTreeSet::new();
        while rules.len() < rules_n {
            let p = *rng.pick(PATTERNS);
            // Now and then the same pattern twice in one policy (merged like two policies).
            if seen.insert(p) || rng.pct(10) {
                rules.push(random_rule(rng, p));
            }
        }
        let json_form = rng.pct(20) && seen.len() == rules.len();
        let text = if json_form {
            let paths: serde_json::Map<String, Value> = rules
                .iter()
                .map(|r| (r.pattern.clone(), r.json()))
                .collect();
            serde_json::to_string_pretty(&json!({ "path": paths })).expect("json")
        } else {
            rules.iter().map(Rule::hcl).collect::<Vec<_>>().join("")
        };
        out.push(PolicyDef {
            name: format!("r-{i}"),
            patterns: rules
                .iter()
                .map(|r| {
                    (
                        r.pattern.clone(),
                        r.caps.iter().map(|c| c.to_string()).collect(),
                    )
                })
                .collect(),
            text,
        });
    }
    out
}

/// The policy sets of the tokens: the hand-written sets, then `n` random sets of 1–3
/// policies (mostly random ones, sometimes with a hand-written one).
pub fn token_sets(rng: &mut Rng, policies: &[PolicyDef], n: usize) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = HANDWRITTEN_TOKENS
        .iter()
        .map(|set| set.iter().map(|s| s.to_string()).collect())
        .collect();
    let random: Vec<&PolicyDef> = policies
        .iter()
        .filter(|p| p.name.starts_with("r-"))
        .collect();
    let hand: Vec<&PolicyDef> = policies
        .iter()
        .filter(|p| p.name.starts_with("h-"))
        .collect();
    for i in 0..n {
        let mut set: Vec<String> = Vec::new();
        // Every random policy is held alone by at least one token.
        set.push(random[i % random.len()].name.clone());
        let extra = rng.below(3);
        for _ in 0..extra {
            let p = if rng.pct(25) {
                rng.pick(&hand).name.clone()
            } else {
                rng.pick(&random).name.clone()
            };
            if !set.contains(&p) {
                set.push(p);
            }
        }
        out.push(set);
    }
    out
}

/// One HTTP request of the matrix.
#[derive(Clone, Debug)]
pub struct Case {
    pub token: usize,
    /// GET, LIST, POST, PUT, DELETE or PATCH.
    pub method: &'static str,
    /// Below `/v1/`, including any query string.
    pub path: String,
    pub body: String,
    pub wrap: Option<&'static str>,
    /// The ACL path of the request (no query; list paths end in `/`), for capabilities.
    pub acl_path: String,
    /// What the case is about, for the report.
    pub what: String,
}

/// A step of the sequence both servers run in the same order.
#[derive(Clone, Debug)]
pub enum Step {
    Case(Case),
    /// As root: (method, path, body) — resets keys the previous cases wrote or deleted.
    Root(&'static str, String, String),
}

/// A key path from a pattern: `+` → a segment, a trailing `*` → a suffix.
fn instantiate(rng: &mut Rng, pattern: &str) -> String {
    let (stem, glob) = match pattern.strip_suffix('*') {
        Some(s) => (s, true),
        None => (pattern, false),
    };
    let mut s: String = stem
        .split('/')
        .map(|seg| if seg == "+" { *rng.pick(SEGMENTS) } else { seg })
        .collect::<Vec<_>>()
        .join("/");
    if glob {
        let mut suffix = *rng.pick(SUFFIXES);
        if s.ends_with('/') || s.is_empty() {
            suffix = suffix.trim_start_matches('/');
        }
        s.push_str(suffix);
    }
    s
}

fn is_key(p: &str) -> bool {
    !p.is_empty() && !p.ends_with('/') && p.contains('/') && !p.contains("//")
}

/// Whether root writes this key before the cases (and after every reset).
pub fn seeded(key: &str) -> bool {
    if key.contains("missing") {
        return false;
    }
    if key.contains("exists") {
        return true;
    }
    // FNV-1a, half of the keys.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h.is_multiple_of(2)
}

fn body_value(rng: &mut Rng) -> Value {
    match rng.below(20) {
        0 => json!(1),
        1 => json!(true),
        2 => json!(["v1"]),
        _ => json!(rng.pick(STRING_VALUES)),
    }
}

fn write_body(rng: &mut Rng) -> String {
    let n = match rng.below(10) {
        0 => 0,
        1..=5 => 1,
        6..=8 => 2,
        _ => 3,
    };
    let mut m = serde_json::Map::new();
    while m.len() < n {
        m.insert(rng.pick(PARAM_KEYS).to_string(), body_value(rng));
    }
    Value::Object(m).to_string()
}

fn query(rng: &mut Rng) -> String {
    let n = 1 + rng.below(2);
    let mut parts = Vec::new();
    for _ in 0..n {
        let v = *rng.pick(STRING_VALUES);
        parts.push(format!("{}={v}", rng.pick(PARAM_KEYS)));
    }
    parts.join("&")
}

/// A directory to list that relates to `key`: its parent, itself as a directory, or a
/// fixed one.
fn list_dir(rng: &mut Rng, key: &str) -> String {
    match rng.below(3) {
        0 => match key.rfind('/') {
            Some(i) => key[..=i].to_owned(),
            None => format!("{key}/"),
        },
        1 => format!("{}/", key.trim_end_matches('/')),
        _ => rng.pick(LIST_DIRS).to_string(),
    }
}

/// The case sequence: `per_token` cases for every token, interleaved in blocks, with root
/// resets of every key the block wrote or deleted.
pub fn steps(
    rng: &mut Rng,
    policies: &[PolicyDef],
    tokens: &[Vec<String>],
    per_token: usize,
) -> Vec<Step> {
    let by_name: BTreeMap<&str, &PolicyDef> =
        policies.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut cases = Vec::new();
    for (t, set) in tokens.iter().enumerate() {
        let patterns: Vec<&(String, Vec<String>)> = set
            .iter()
            .flat_map(|n| by_name[n.as_str()].patterns.iter())
            .collect();
        for _ in 0..per_token {
            let mut key;
            let mut granted: &[String];
            loop {
                key = if !patterns.is_empty() && rng.pct(70) {
                    let (p, caps) = *rng.pick(&patterns);
                    granted = caps;
                    instantiate(rng, p)
                } else {
                    granted = &[];
                    rng.pick(UNIVERSE).to_string()
                };
                if is_key(&key) || key.ends_with('/') {
                    break;
                }
            }
            let dir_only = !is_key(&key);
            // Mostly an operation the rule the path came from grants (it may still be
            // denied: by another rule with priority, a parameter, a wrapping TTL).
            let mut roll = rng.below(100);
            let mut own_dir = false;
            if !granted.is_empty() && rng.pct(60) {
                roll = match rng.pick(granted).as_str() {
                    "list" => {
                        own_dir = true;
                        0
                    }
                    "read" => 20,
                    "create" | "update" => 50,
                    "delete" => 85,
                    "patch" => 95,
                    _ => roll,
                };
            }
            let case = if dir_only || roll < 16 {
                let dir = if dir_only {
                    key.clone()
                } else if own_dir {
                    format!("{key}/")
                } else {
                    list_dir(rng, &key)
                };
                let wrap = rng.pct(6).then(|| *rng.pick(WRAP_TTLS));
                let (method, path) = match rng.below(4) {
                    0 => ("LIST", dir.trim_end_matches('/').to_owned()),
                    1 => ("GET", format!("{}?list=true", dir.trim_end_matches('/'))),
                    _ => ("LIST", dir.clone()),
                };
                Case {
                    token: t,
                    method,
                    path,
                    body: String::new(),
                    wrap,
                    acl_path: dir,
                    what: "list".into(),
                }
            } else if roll < 40 {
                let wrap = rng.pct(12).then(|| *rng.pick(WRAP_TTLS));
                let path = if rng.pct(25) {
                    format!("{key}?{}", query(rng))
                } else {
                    key.clone()
                };
                Case {
                    token: t,
                    method: "GET",
                    path,
                    body: String::new(),
                    wrap,
                    acl_path: key.clone(),
                    what: "read".into(),
                }
            } else if roll < 78 {
                let wrap = rng.pct(5).then(|| *rng.pick(WRAP_TTLS));
                Case {
                    token: t,
                    method: if rng.pct(50) { "POST" } else { "PUT" },
                    path: key.clone(),
                    body: write_body(rng),
                    wrap,
                    acl_path: key.clone(),
                    what: "write".into(),
                }
            } else if roll < 90 {
                Case {
                    token: t,
                    method: "DELETE",
                    path: key.clone(),
                    body: String::new(),
                    wrap: None,
                    acl_path: key.clone(),
                    what: "delete".into(),
                }
            } else {
                Case {
                    token: t,
                    method: "PATCH",
                    path: key.clone(),
                    body: write_body(rng),
                    wrap: None,
                    acl_path: key.clone(),
                    what: "patch".into(),
                }
            };
            cases.push(case);
        }
    }
    // Interleave tokens: a deterministic shuffle (Fisher–Yates), so one token's writes
    // change what another token's create/update sees.
    for i in (1..cases.len()).rev() {
        let j = rng.below(i + 1);
        cases.swap(i, j);
    }
    let mut out = Vec::new();
    let mut touched: BTreeSet<String> = BTreeSet::new();
    for (i, c) in cases.into_iter().enumerate() {
        if matches!(c.method, "POST" | "PUT" | "DELETE")
            && (c.acl_path.starts_with("kv/") || c.acl_path.starts_with("secret/"))
        {
            touched.insert(c.acl_path.clone());
        }
        out.push(Step::Case(c));
        if (i + 1) % 100 == 0 {
            out.extend(resets(&mut touched));
        }
    }
    out.extend(resets(&mut touched));
    out
}

fn resets(touched: &mut BTreeSet<String>) -> Vec<Step> {
    let out = touched
        .iter()
        .map(|k| {
            if seeded(k) {
                Step::Root("PUT", k.clone(), r#"{"seed":"1"}"#.into())
            } else {
                Step::Root("DELETE", k.clone(), String::new())
            }
        })
        .collect();
    touched.clear();
    out
}

/// Every key (on a mount) the steps use, for the initial seeding.
pub fn keys(steps: &[Step]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = UNIVERSE.iter().map(|s| s.to_string()).collect();
    for s in steps {
        if let Step::Case(c) = s {
            let mounted = c.acl_path.starts_with("kv/") || c.acl_path.starts_with("secret/");
            if is_key(&c.acl_path) && mounted {
                out.insert(c.acl_path.clone());
            }
        }
    }
    out
}

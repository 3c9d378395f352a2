//! The data-driven ACL cases of `src/policy/testdata/*.txt` (format at the top of
//! `01-exact-and-list.txt` and of `07-list-fallback.txt`), replayed as real requests.

use std::path::Path;

use serde_json::Value;

/// One `check` line.
#[derive(Clone, Debug)]
pub struct Check {
    /// `file:line`.
    pub at: String,
    /// Index into [`Testdata::tokens`].
    pub token: usize,
    pub op: String,
    pub path: String,
    pub params: Vec<(String, String)>,
    pub allow: bool,
}

#[derive(Default)]
pub struct Testdata {
    /// (name on the server — `td-<file stem>-<name>` —, text).
    pub policies: Vec<(String, String)>,
    /// The policy sets of the `token` lines (server names).
    pub tokens: Vec<Vec<String>>,
    pub checks: Vec<Check>,
}

pub fn load(dir: &Path) -> Testdata {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut td = Testdata::default();
    for f in files {
        let stem = f
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("file name")
            .to_owned();
        let text = std::fs::read_to_string(&f).expect("read testdata");
        let mut lines = text.lines().enumerate();
        let mut token: Option<usize> = None;
        while let Some((n, line)) = lines.next() {
            let at = format!("{stem}.txt:{}", n + 1);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[0] {
                "policy" => {
                    assert_eq!(words.len(), 2, "{at}: policy <name>");
                    let mut body = String::new();
                    let mut closed = false;
                    for (_, l) in lines.by_ref() {
                        if l.trim() == "end" {
                            closed = true;
                            break;
                        }
                        body.push_str(l);
                        body.push('\n');
                    }
                    assert!(closed, "{at}: policy without `end`");
                    td.policies.push((format!("td-{stem}-{}", words[1]), body));
                }
                "token" => {
                    assert!(words.len() >= 2, "{at}: token <policy> ...");
                    td.tokens.push(
                        words[1..]
                            .iter()
                            .map(|w| format!("td-{stem}-{w}"))
                            .collect(),
                    );
                    token = Some(td.tokens.len() - 1);
                }
                "check" => {
                    let (spec, want) = match words.len() {
                        4 => ("", words[3]),
                        5 => (words[3], words[4]),
                        _ => panic!("{at}: check <op> <path> [k=v,...] allow|deny"),
                    };
                    assert!(matches!(want, "allow" | "deny"), "{at}: decision {want:?}");
                    assert!(
                        matches!(
                            words[1],
                            "read" | "list" | "create" | "update" | "patch" | "delete"
                        ),
                        "{at}: op {:?}",
                        words[1]
                    );
                    td.checks.push(Check {
                        at: at.clone(),
                        token: token.unwrap_or_else(|| panic!("{at}: check before any token")),
                        op: words[1].to_owned(),
                        path: words[2].to_owned(),
                        params: spec
                            .split(',')
                            .filter(|p| !p.is_empty())
                            .map(|p| {
                                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                                (k.to_owned(), v.to_owned())
                            })
                            .collect(),
                        allow: want == "allow",
                    });
                }
                other => panic!("{at}: unknown directive {other:?}"),
            }
        }
    }
    td
}

impl Check {
    /// The request for this check: (method, path with query, body). A `create` or `update`
    /// is a POST; the caller arranges (as root) that the key is missing or present first.
    pub fn request(&self) -> (&'static str, String, String) {
        let body: serde_json::Map<String, Value> = self
            .params
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let body = Value::Object(body).to_string();
        match self.op.as_str() {
            "read" if self.params.is_empty() => ("GET", self.path.clone(), String::new()),
            "read" => {
                let q: Vec<String> = self
                    .params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                (
                    "GET",
                    format!("{}?{}", self.path, q.join("&")),
                    String::new(),
                )
            }
            "list" => ("LIST", self.path.clone(), String::new()),
            "delete" => ("DELETE", self.path.clone(), String::new()),
            "patch" => ("PATCH", self.path.clone(), body),
            _ => ("POST", self.path.clone(), body),
        }
    }
}

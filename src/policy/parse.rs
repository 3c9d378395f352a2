//! Policy text → [`Policy`]. HCL through `hcl-rs`, JSON through `serde_json`; both become
//! the same list of `(path, fields)` pairs, which one function validates with OpenBao's
//! rules and error texts (`vault/policy/policy.go`, `parsePaths`).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{Caps, ParamValue, PathRule, Perms, Policy};

/// Why a policy text was refused. The text is OpenBao's, after its
/// `failed to parse policy: ` prefix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("failed to parse policy: {0}")]
pub(crate) struct ParseError(pub(crate) String);

/// The `path` blocks of a policy: each pattern with its fields as JSON.
type Blocks = Vec<(String, Map<String, Value>)>;

const PATH_KEYS: &[&str] = &[
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "pagination_limit",
    "expiration",
    "list_scan_response_keys_filter_path",
    "control_group",
];

/// Parse `raw` as the policy `name`.
pub(crate) fn parse(name: &str, raw: &str) -> Result<Policy, ParseError> {
    let blocks = if raw.trim_start().starts_with('{') {
        json_blocks(raw)?
    } else {
        hcl_blocks(raw)?
    };
    let mut rules = Vec::with_capacity(blocks.len());
    let now = time::OffsetDateTime::now_utc();
    for (key, fields) in blocks {
        let rule = path_rule(&key, &fields)?;
        // An expired path is dropped, as OpenBao drops it.
        if rule.expiration.is_none_or(|e| e > now) {
            rules.push(rule);
        }
    }
    Ok(Policy {
        name: name.to_owned(),
        rules,
    })
}

/// The `path` blocks of an HCL policy, each with its fields as JSON.
fn hcl_blocks(raw: &str) -> Result<Blocks, ParseError> {
    // HCL 1, which OpenBao parses, allows several attributes on one line
    // (`path "x" { capabilities = ["read"] min_wrapping_ttl = "1m" }`); HCL 2 wants a
    // newline between them, so a text that fails is tried once more with them added.
    let body = match hcl::parse(raw) {
        Ok(body) => body,
        Err(e) => hcl::parse(&split_attributes(raw)).map_err(|_| ParseError(e.to_string()))?,
    };
    let mut out = Vec::new();
    let mut invalid = Vec::new();
    for structure in body.into_inner() {
        match structure {
            hcl::Structure::Attribute(a) if a.key.as_str() == "name" => {}
            hcl::Structure::Attribute(a) => {
                invalid.push(format!("invalid key {:?}", a.key.as_str()))
            }
            hcl::Structure::Block(b) if b.identifier.as_str() == "path" => {
                let key = match b.labels.first() {
                    Some(hcl::BlockLabel::String(s)) => s.clone(),
                    Some(hcl::BlockLabel::Identifier(i)) => i.as_str().to_owned(),
                    None => "path".to_owned(),
                };
                out.push((key, body_object(b.body)));
            }
            hcl::Structure::Block(b) => {
                invalid.push(format!("invalid key {:?}", b.identifier.as_str()))
            }
        }
    }
    if !invalid.is_empty() {
        return Err(ParseError(crate::logical::multierror(&invalid)));
    }
    Ok(out)
}

/// A newline before every `name =` that shares its line with something before it, and
/// around every brace, outside string literals and comments.
fn split_attributes(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::with_capacity(raw.len() + 16);
    let (mut i, mut in_string, mut line_has_content) = (0, false, false);
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            in_string = c != '"';
            i += 1;
            continue;
        }
        match c {
            '"' => in_string = true,
            // HCL 2 wants a block's braces on lines of their own once it holds more than
            // one attribute; objects accept the newlines too.
            '{' => {
                out.push_str("{\n");
                line_has_content = false;
                i += 1;
                continue;
            }
            '}' => {
                out.push_str("\n}");
                line_has_content = true;
                i += 1;
                continue;
            }
            '#' => {
                // A comment runs to the end of the line.
                while i < chars.len() && chars[i] != '\n' {
                    out.push(chars[i]);
                    i += 1;
                }
                continue;
            }
            '\n' => line_has_content = false,
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                let mut end = i;
                while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_')
                {
                    end += 1;
                }
                let mut next = end;
                while next < chars.len() && (chars[next] == ' ' || chars[next] == '\t') {
                    next += 1;
                }
                let assigns =
                    next < chars.len() && chars[next] == '=' && chars.get(next + 1) != Some(&'=');
                let before_ok = start == 0 || !chars[start - 1].is_ascii_alphanumeric();
                if assigns && before_ok && line_has_content {
                    out.push('\n');
                }
                out.extend(&chars[start..end]);
                line_has_content = true;
                i = end;
                continue;
            }
            c if !c.is_whitespace() => line_has_content = true,
            _ => {}
        }
        if c != '\n' && !c.is_whitespace() {
            line_has_content = true;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// An HCL body as a JSON object: attributes by key, nested blocks (HCL 1's
/// `allowed_parameters { ... }` form) as objects.
fn body_object(body: hcl::Body) -> Map<String, Value> {
    let mut map = Map::new();
    for structure in body.into_inner() {
        match structure {
            hcl::Structure::Attribute(a) => {
                let value = serde_json::to_value(hcl::Value::from(a.expr)).unwrap_or(Value::Null);
                map.insert(a.key.to_string(), value);
            }
            hcl::Structure::Block(b) => {
                map.insert(b.identifier.to_string(), Value::Object(body_object(b.body)));
            }
        }
    }
    map
}

/// The `path` entries of a JSON policy: `{"path": {"p": {...}}}`, or a list of such maps.
fn json_blocks(raw: &str) -> Result<Blocks, ParseError> {
    let root: Value = serde_json::from_str(raw).map_err(|e| ParseError(e.to_string()))?;
    let Value::Object(root) = root else {
        return Err(ParseError("does not contain a root object".into()));
    };
    let mut out = Vec::new();
    for (key, value) in root {
        match key.as_str() {
            "name" => {}
            "path" => {
                let maps = match value {
                    Value::Array(items) => items,
                    other => vec![other],
                };
                for m in maps {
                    let Value::Object(m) = m else {
                        return Err(ParseError("path: expected an object".into()));
                    };
                    for (path, fields) in m {
                        let fields = match fields {
                            Value::Object(f) => f,
                            Value::Array(mut list) if list.len() == 1 => match list.remove(0) {
                                Value::Object(f) => f,
                                _ => Map::new(),
                            },
                            _ => Map::new(),
                        };
                        out.push((path, fields));
                    }
                }
            }
            other => {
                return Err(ParseError(crate::logical::multierror(&[format!(
                    "invalid key {other:?}"
                )])))
            }
        }
    }
    Ok(out)
}

fn path_rule(key: &str, fields: &Map<String, Value>) -> Result<PathRule, ParseError> {
    let bad_keys: Vec<String> = fields
        .keys()
        .filter(|k| !PATH_KEYS.contains(&k.as_str()))
        .map(|k| format!("invalid key {k:?}"))
        .collect();
    if !bad_keys.is_empty() {
        return Err(ParseError(format!(
            "path {key:?}: {}",
            crate::logical::multierror(&bad_keys)
        )));
    }
    let expiration = match fields.get("expiration").and_then(Value::as_str) {
        None | Some("") => None,
        Some(raw) => Some(
            time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
                .map_err(|e| ParseError(format!("path {key:?}: invalid expiration time: {e}")))?,
        ),
    };
    let mut path = key.strip_prefix('/').unwrap_or(key).to_owned();
    if path.contains("+*") {
        return Err(ParseError(format!(
            "path {path:?}: invalid use of wildcards ('+*' is forbidden)"
        )));
    }
    let has_segment_wildcards = path == "+" || path.contains("/+") || path.starts_with("+/");
    let mut is_prefix = false;
    if !has_segment_wildcards {
        if let Some(stripped) = path.strip_suffix('*') {
            path = stripped.to_owned();
            is_prefix = true;
        }
    }
    let mut caps_names = string_list(fields.get("capabilities"));
    if let Some(old) = fields.get("policy").and_then(Value::as_str) {
        let implied: &[&str] = match old {
            "deny" => &["deny"],
            "read" => &["read", "list"],
            "write" => &["create", "read", "update", "delete", "list"],
            "sudo" => &["create", "read", "update", "delete", "list", "sudo"],
            other => {
                return Err(ParseError(format!(
                    "path {key:?}: invalid policy {other:?}"
                )))
            }
        };
        if old == "deny" {
            caps_names = vec!["deny".into()];
        } else {
            caps_names.extend(implied.iter().map(|s| s.to_string()));
        }
    }
    let mut perms = Perms::default();
    for name in &caps_names {
        match Caps::named(name) {
            // A deny rule holds nothing else, and OpenBao reads none of its other fields.
            Some(Caps::DENY) => {
                perms.caps = Caps::DENY;
                let mut r = rule(path, is_prefix, has_segment_wildcards, key, perms);
                r.expiration = expiration;
                return Ok(r);
            }
            Some(c) => perms.caps |= c,
            None => {
                // OpenBao names the path twice here (its error is prefixed once more on
                // the way out of the HCL decoder).
                return Err(ParseError(format!(
                    "path {key:?}: path {key:?}: invalid capability {name:?}"
                )));
            }
        }
    }
    perms.allowed = param_map(fields.get("allowed_parameters"));
    perms.denied = param_map(fields.get("denied_parameters"));
    if let Some(v) = fields.get("min_wrapping_ttl") {
        perms.min_wrapping_ttl = duration_second(v)
            .map_err(|e| ParseError(format!("error parsing min_wrapping_ttl: {e}")))?;
    }
    if let Some(v) = fields.get("max_wrapping_ttl") {
        perms.max_wrapping_ttl = duration_second(v)
            .map_err(|e| ParseError(format!("error parsing max_wrapping_ttl: {e}")))?;
    }
    if !perms.min_wrapping_ttl.is_zero()
        && !perms.max_wrapping_ttl.is_zero()
        && perms.max_wrapping_ttl < perms.min_wrapping_ttl
    {
        return Err(ParseError(
            "max_wrapping_ttl cannot be less than min_wrapping_ttl".into(),
        ));
    }
    perms.required = string_list(fields.get("required_parameters"));
    let mut r = rule(path, is_prefix, has_segment_wildcards, key, perms);
    r.expiration = expiration;
    Ok(r)
}

fn rule(path: String, is_prefix: bool, segments: bool, key: &str, perms: Perms) -> PathRule {
    PathRule {
        path,
        is_prefix,
        has_segment_wildcards: segments,
        templated: key.contains("{{"),
        expiration: None,
        perms,
    }
}

/// A list of strings; a lone string is a list of one, as HCL 1 decodes it.
fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `allowed_parameters` / `denied_parameters`: keys lower-cased, each value a list.
fn param_map(v: Option<&Value>) -> HashMap<String, Vec<ParamValue>> {
    let mut out = HashMap::new();
    let Some(Value::Object(map)) = v else {
        return out;
    };
    for (k, v) in map {
        let values = match v {
            Value::Array(items) => items.iter().map(param_value).collect(),
            Value::Null => Vec::new(),
            one => vec![param_value(one)],
        };
        out.insert(k.to_lowercase(), values);
    }
    out
}

fn param_value(v: &Value) -> ParamValue {
    match v {
        Value::String(s) => ParamValue::Str(s.clone()),
        Value::Bool(b) => ParamValue::Bool(*b),
        _ => ParamValue::Other,
    }
}

/// Go's `parseutil.ParseDurationSecond`: a number of seconds, or a duration string.
fn duration_second(v: &Value) -> Result<Duration, String> {
    crate::engine::fields::duration_value(v)
}

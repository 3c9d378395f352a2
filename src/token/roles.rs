//! Token roles (`auth/token/roles/<name>`): what `create/<role>` imposes on the tokens it
//! makes. Stored under `roles/<name>` as OpenBao writes them: the legacy `period` /
//! `explicit_max_ttl` values are kept apart from the `token_*` ones so a read shows what was
//! written.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::engine::{fields, EngineError};
use crate::logical::Data;

/// A token role.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Role {
    pub(crate) name: String,
    pub(crate) allowed_policies: Vec<String>,
    pub(crate) disallowed_policies: Vec<String>,
    pub(crate) allowed_policies_glob: Vec<String>,
    pub(crate) disallowed_policies_glob: Vec<String>,
    pub(crate) allowed_entity_aliases: Option<Vec<String>>,
    pub(crate) orphan: bool,
    pub(crate) renewable: bool,
    pub(crate) path_suffix: String,
    /// Seconds. The deprecated fields as written, and the effective `token_*` values.
    pub(crate) period: u64,
    pub(crate) explicit_max_ttl: u64,
    pub(crate) token_period: u64,
    pub(crate) token_explicit_max_ttl: u64,
    pub(crate) token_no_default_policy: bool,
    pub(crate) token_num_uses: i64,
    /// `service` or `default-service` (batch tokens are not made by this server).
    pub(crate) token_type: String,
}

/// OpenBao's `policyutil.SanitizePolicies`: trimmed, lower-cased, no empties, `root` alone
/// if present, `default` added when asked, sorted and deduplicated.
pub(crate) fn sanitize_policies(policies: &[String], add_default: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut default_found = false;
    for p in policies {
        let p = p.trim().to_lowercase();
        if p.is_empty() {
            continue;
        }
        if p == "root" {
            out = vec![p];
            default_found = true;
            break;
        }
        if p == "default" {
            default_found = true;
        }
        out.push(p);
    }
    if add_default && (out.is_empty() || !default_found) {
        out.push("default".into());
    }
    remove_duplicates(&out)
}

/// `strutil.RemoveDuplicates(list, true)`: trimmed, lower-cased, no empties, sorted, unique.
pub(crate) fn remove_duplicates(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = list
        .iter()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `strutil.StrListContainsGlob`: any pattern (with `*` wildcards) matches `value`.
pub(crate) fn contains_glob(patterns: &[String], value: &str) -> bool {
    patterns.iter().any(|p| glob(p, value))
}

fn glob(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !value.starts_with(first) || !value.ends_with(last) || value.len() < first.len() + last.len()
    {
        return false;
    }
    let Some(mut rest) = value.get(first.len()..value.len() - last.len()) else {
        return false;
    };
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// OpenBao's `pathSuffixSanitize` (`\w[\w-.]+\w`), which it applies unanchored.
fn suffix_ok(s: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let inner = |c: char| word(c) || c == '-' || c == '.';
    let chars: Vec<char> = s.chars().collect();
    (0..chars.len()).any(|start| {
        if !word(chars[start]) {
            return false;
        }
        // The longest run of inner characters after `start`; it must hold a word char
        // preceded by at least one inner char.
        let mut end = start + 1;
        while end < chars.len() && inner(chars[end]) {
            end += 1;
        }
        (start + 2..end).any(|i| word(chars[i]))
    })
}

fn list(d: &Data, f: &str) -> Result<Option<Vec<String>>, EngineError> {
    fields::string_list(d, f)
}

fn secs(d: &Data, f: &str) -> Result<Option<u64>, EngineError> {
    Ok(fields::duration(d, f)?.map(|v| v.as_secs()))
}

impl Role {
    /// A role write, as `tokenStoreRoleCreateUpdate`: `create` is true when the role does
    /// not exist yet (absent fields then take their defaults). Returns the warnings.
    pub(crate) fn update(
        &mut self,
        d: &Data,
        create: bool,
        mount_max_ttl: u64,
    ) -> Result<Vec<String>, EngineError> {
        let bad = |m: String| Err(EngineError::InvalidRequest(m));
        if let Some(v) = fields::boolean(d, "orphan")? {
            self.orphan = v;
        } else if create {
            self.orphan = false;
        }
        if let Some(v) = fields::boolean(d, "renewable")? {
            self.renewable = v;
        } else if create {
            self.renewable = true;
        }
        if let Some(v) = fields::string(d, "path_suffix")? {
            if !v.is_empty() && !suffix_ok(&v) {
                return bad(
                    "given role path suffix contains invalid characters; must match \\w[\\w-.]+\\w"
                        .into(),
                );
            }
            self.path_suffix = v;
        }
        if self.path_suffix.contains("..") {
            return bad(
                "error registering path suffix: path cannot contain parent references".into(),
            );
        }
        if let Some(v) = list(d, "allowed_policies")? {
            self.allowed_policies = sanitize_policies(&v, false);
        }
        if let Some(v) = list(d, "disallowed_policies")? {
            self.disallowed_policies = remove_duplicates(&v);
        }
        if let Some(v) = list(d, "allowed_policies_glob")? {
            self.allowed_policies_glob = sanitize_policies(&v, false);
        }
        if let Some(v) = list(d, "disallowed_policies_glob")? {
            self.disallowed_policies_glob = remove_duplicates(&v);
        }
        if d.get("token_type").is_some_and(|v| v.is_null()) {
            return bad("Invalid 'token_type' value: null".into());
        }
        if let Some(v) = fields::string(d, "token_type")? {
            match v.as_str() {
                "service" | "default-service" => self.token_type = v,
                "batch" | "default-batch" => {
                    return bad(
                        "batch tokens are not supported by this server; use service tokens".into(),
                    )
                }
                other => return bad(format!("invalid 'token_type' value {other:?}")),
            }
        }
        if self.token_type.is_empty() || self.token_type == "default" {
            self.token_type = "default-service".into();
        }
        if let Some(v) = fields::boolean(d, "token_no_default_policy")? {
            self.token_no_default_policy = v;
        }
        if let Some(v) = fields::int(d, "token_num_uses")? {
            if v < 0 {
                return bad(
                    "error parsing role fields: 'token_num_uses' cannot be negative".into(),
                );
            }
            self.token_num_uses = v;
        }

        let mut warnings = Vec::new();
        match secs(d, "token_period")? {
            Some(v) => {
                self.token_period = v;
                if d.contains_key("period") {
                    warnings.push("Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value".into());
                }
                self.period = 0;
            }
            None => {
                if let Some(v) = secs(d, "period")? {
                    self.period = v;
                    self.token_period = v;
                }
            }
        }
        let final_max = match secs(d, "token_explicit_max_ttl")? {
            Some(v) => {
                self.token_explicit_max_ttl = v;
                if d.contains_key("explicit_max_ttl") {
                    warnings.push("Both 'token_explicit_max_ttl' and deprecated 'explicit_max_ttl' value supplied, ignoring the deprecated value".into());
                }
                self.explicit_max_ttl = 0;
                v
            }
            None => {
                if let Some(v) = secs(d, "explicit_max_ttl")? {
                    self.explicit_max_ttl = v;
                    self.token_explicit_max_ttl = v;
                }
                self.explicit_max_ttl
            }
        };
        if final_max != 0 && mount_max_ttl != 0 && final_max > mount_max_ttl {
            warnings.push(format!(
                "Given explicit max TTL of {final_max} is greater than system/mount allowed value of {mount_max_ttl} seconds; until this is fixed attempting to create tokens against this role will result in an error"
            ));
        }
        if let Some(v) = list(d, "allowed_entity_aliases")? {
            self.allowed_entity_aliases = Some(remove_duplicates(&v));
        }
        Ok(warnings)
    }

    /// The role as `GET auth/token/roles/<name>` shows it.
    pub(crate) fn data(&self) -> Data {
        let mut d = crate::logical::object(json!({
            "allowed_entity_aliases": self.allowed_entity_aliases,
            "allowed_policies": self.allowed_policies,
            "allowed_policies_glob": self.allowed_policies_glob,
            "disallowed_policies": self.disallowed_policies,
            "disallowed_policies_glob": self.disallowed_policies_glob,
            "explicit_max_ttl": self.explicit_max_ttl,
            "name": self.name,
            "orphan": self.orphan,
            "path_suffix": self.path_suffix,
            "period": self.period,
            "renewable": self.renewable,
            "token_explicit_max_ttl": self.token_explicit_max_ttl,
            "token_no_default_policy": self.token_no_default_policy,
            "token_period": self.token_period,
            "token_type": self.token_type,
        }));
        if self.token_num_uses > 0 {
            d.insert("token_num_uses".into(), json!(self.token_num_uses));
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_go_glob_does() {
        assert!(glob("dev-*", "dev-app"));
        assert!(glob("*-app", "dev-app"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxc"));
        assert!(glob("*", "x"));
        assert!(!glob("dev-*", "prod-app"));
        assert!(glob("same", "same"));
    }

    #[test]
    fn policies_are_sanitised_as_openbao_does() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            sanitize_policies(&v(&["B", " a", "a", ""]), true),
            v(&["a", "b", "default"])
        );
        assert_eq!(
            sanitize_policies(&v(&["x", "root", "y"]), true),
            v(&["root"])
        );
        assert_eq!(sanitize_policies(&v(&[]), true), v(&["default"]));
        assert_eq!(sanitize_policies(&v(&[]), false), Vec::<String>::new());
    }

    #[test]
    fn path_suffixes_match_unanchored() {
        assert!(suffix_ok("v1.2"));
        assert!(suffix_ok("abc"));
        assert!(!suffix_ok("ab"));
        assert!(!suffix_ok("--"));
    }
}

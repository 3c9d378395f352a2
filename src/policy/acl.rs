//! One token's policies merged into an [`Acl`], and its decisions.
//!
//! Every rule here is OpenBao's (`vault/policy/acl.go`), because a policy written for
//! OpenBao must grant exactly the same requests here:
//!
//! 1. an exact rule on the path;
//! 2. for a list, an exact rule on the path without its trailing `/`;
//! 3. the best non-exact rule: the longest `*` prefix rule and every `+` rule that matches
//!    segment by segment, ranked by the position of the first wildcard (later wins), then a
//!    non-prefix over a prefix rule, then fewer `+` segments, then the longer pattern, then
//!    the lexically larger one;
//! 4. for a list ending in `/`, step 3 on the path without it.
//!
//! Rules on the same pattern from several policies are merged first: capabilities unite,
//! `deny` anywhere wipes the rest, parameter lists join (an empty list, "any value", wins),
//! required parameters unite, and of two wrapping-TTL bounds the smaller is kept.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use super::{Caps, ParamValue, Perms, Policy, ROOT};
use crate::logical::{Data, Operation};

/// A `+` rule, precompiled.
#[derive(Debug)]
struct SegmentRule {
    /// The pattern as written, without a trailing `*`.
    wc_path: String,
    parts: Vec<String>,
    first_plus: usize,
    is_prefix: bool,
    perms: Perms,
}

/// The merged rules of one set of policies.
#[derive(Debug, Default)]
pub(crate) struct Acl {
    root: bool,
    exact: HashMap<String, Perms>,
    prefix: HashMap<String, Perms>,
    /// The distinct lengths of `prefix`'s keys, longest first: a longest-prefix lookup
    /// probes only these.
    prefix_lens: Vec<usize>,
    segments: Vec<SegmentRule>,
    /// The earliest `expiration` of a rule in here: from then on the ACL must be rebuilt.
    pub(crate) expires_at: Option<time::OffsetDateTime>,
}

/// What the ACL needs to know about a request.
#[derive(Debug)]
pub(crate) struct AclRequest<'a> {
    pub(crate) op: Operation,
    /// The full request path (list paths end in `/`).
    pub(crate) path: &'a str,
    pub(crate) data: &'a Data,
    pub(crate) wrap_ttl: Option<Duration>,
}

/// The ACL's answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) allowed: bool,
    /// The matching rule grants `sudo` (or the token is root): needed for root paths.
    pub(crate) sudo: bool,
    pub(crate) root: bool,
}

impl Acl {
    /// Merge `policies`. Templated paths (identity templates) are left out: they render to
    /// nothing for a token without an entity, which is every token here.
    pub(crate) fn new<'a>(policies: impl IntoIterator<Item = &'a Policy>) -> Acl {
        let mut acl = Acl::default();
        let now = time::OffsetDateTime::now_utc();
        let mut segments: HashMap<String, Perms> = HashMap::new();
        let mut segment_order: Vec<String> = Vec::new();
        for policy in policies {
            if policy.name == ROOT {
                acl.root = true;
            }
            let live = |r: &&super::PathRule| !r.templated && r.expiration.is_none_or(|e| e > now);
            for rule in policy.rules.iter().filter(live) {
                if let Some(e) = rule.expiration {
                    acl.expires_at = Some(acl.expires_at.map_or(e, |a| a.min(e)));
                }
                let map = if rule.has_segment_wildcards {
                    if !segments.contains_key(&rule.path) {
                        segment_order.push(rule.path.clone());
                    }
                    &mut segments
                } else if rule.is_prefix {
                    &mut acl.prefix
                } else {
                    &mut acl.exact
                };
                merge_into(map, &rule.path, &rule.perms);
            }
        }
        let mut lens: Vec<usize> = acl.prefix.keys().map(String::len).collect();
        lens.sort_unstable_by(|a, b| b.cmp(a));
        lens.dedup();
        acl.prefix_lens = lens;
        for full in segment_order {
            let Some(perms) = segments.remove(&full) else {
                continue;
            };
            if full.is_empty() {
                continue;
            }
            let (wc_path, is_prefix) = match full.strip_suffix('*') {
                Some(p) => (p.to_owned(), true),
                None => (full.clone(), false),
            };
            acl.segments.push(SegmentRule {
                parts: wc_path.split('/').map(str::to_owned).collect(),
                first_plus: full.find('+').unwrap_or(0),
                wc_path,
                is_prefix,
                perms,
            });
        }
        acl
    }

    pub(crate) fn is_root(&self) -> bool {
        self.root
    }

    /// May this request go ahead?
    pub(crate) fn allow(&self, req: &AclRequest<'_>) -> Decision {
        if self.root {
            return Decision {
                allowed: true,
                sudo: true,
                root: true,
            };
        }
        let list = req.op == Operation::List;
        let Some(perms) = self.lookup(req.path.trim_start_matches('/'), list) else {
            return Decision::default();
        };
        let caps = perms.caps;
        let denied = Decision {
            allowed: false,
            sudo: caps.contains(Caps::SUDO),
            root: false,
        };
        let needed = match req.op {
            Operation::Read => Caps::READ,
            Operation::List => Caps::LIST,
            Operation::Create => Caps::CREATE,
            Operation::Update => Caps::UPDATE,
            Operation::Patch => Caps::PATCH,
            Operation::Delete => Caps::DELETE,
        };
        if !caps.contains(needed) {
            return denied;
        }
        if !perms.max_wrapping_ttl.is_zero()
            && req.wrap_ttl.is_none_or(|ttl| ttl > perms.max_wrapping_ttl)
        {
            return denied;
        }
        if !perms.min_wrapping_ttl.is_zero()
            && req.wrap_ttl.is_none_or(|ttl| ttl < perms.min_wrapping_ttl)
        {
            return denied;
        }
        // Merging can leave bounds that no single rule had.
        if !perms.min_wrapping_ttl.is_zero()
            && !perms.max_wrapping_ttl.is_zero()
            && perms.max_wrapping_ttl < perms.min_wrapping_ttl
        {
            return denied;
        }
        let checks_parameters = matches!(
            req.op,
            Operation::Read | Operation::Update | Operation::Create | Operation::Patch
        );
        if checks_parameters && !parameters_allowed(perms, req.data) {
            return denied;
        }
        Decision {
            allowed: true,
            ..denied
        }
    }

    /// The capabilities on `path`, sorted, as `sys/capabilities*` report them: `["root"]`
    /// for root, `["deny"]` when nothing (or `deny`) matches. Evaluated as a list would be,
    /// without parameter or wrapping checks, as OpenBao does.
    pub(crate) fn capabilities(&self, path: &str) -> Vec<&'static str> {
        if self.root {
            return vec!["root"];
        }
        let caps = self
            .lookup(path.trim_start_matches('/'), true)
            .map(|p| p.caps)
            .unwrap_or_default();
        if caps.contains(Caps::DENY) {
            return vec!["deny"];
        }
        let mut names: Vec<&'static str> = [
            (Caps::CREATE, "create"),
            (Caps::DELETE, "delete"),
            (Caps::LIST, "list"),
            (Caps::PATCH, "patch"),
            (Caps::READ, "read"),
            (Caps::SCAN, "scan"),
            (Caps::SUDO, "sudo"),
            (Caps::UPDATE, "update"),
        ]
        .into_iter()
        .filter(|(c, _)| caps.contains(*c))
        .map(|(_, n)| n)
        .collect();
        if names.is_empty() {
            names.push("deny");
        }
        names
    }

    /// Whether the token can do anything at all under a mount (`kv/`), which decides
    /// whether `sys/internal/ui/mounts/<path>` shows it the mount (OpenBao's
    /// `hasMountAccess`).
    pub(crate) fn has_mount_access(&self, mount_path: &str) -> bool {
        if self.root || self.capabilities(mount_path) != ["deny"] {
            return true;
        }
        let grants = |p: &Perms| !p.caps.contains(Caps::DENY) && grants_something(p.caps);
        let under = |map: &HashMap<String, Perms>| {
            map.iter()
                .any(|(k, p)| k.starts_with(mount_path) && grants(p))
        };
        if under(&self.exact) || under(&self.prefix) {
            return true;
        }
        let path_parts: Vec<&str> = mount_path.split('/').collect();
        if path_parts.len() < 2 {
            return false;
        }
        self.segments.iter().any(|rule| {
            let last = rule.parts.len() - 1;
            let mut segments: Vec<&str> = Vec::new();
            for (i, part) in rule.parts.iter().enumerate() {
                if part == "+" || part == path_parts[i] {
                    segments.push(path_parts[i]);
                } else if rule.is_prefix && i == last && path_parts[i].starts_with(part.as_str()) {
                    segments.extend(&path_parts[i..]);
                }
                if i == path_parts.len() - 2 {
                    let joined = format!("{}/", segments.join("/"));
                    return joined.starts_with(mount_path)
                        && !rule.perms.caps.contains(Caps::DENY)
                        && !rule.perms.caps.is_empty();
                }
            }
            false
        })
    }

    /// The rule that governs `path` (steps 1–4 of the module docs).
    fn lookup(&self, path: &str, list: bool) -> Option<&Perms> {
        if let Some(p) = self.exact.get(path) {
            return Some(p);
        }
        let trimmed = path.strip_suffix('/');
        if list {
            if let Some(p) = self.exact.get(trimmed.unwrap_or(path)) {
                return Some(p);
            }
        }
        if let Some(p) = self.non_exact(path) {
            return Some(p);
        }
        match (list, trimmed) {
            (true, Some(t)) => self.non_exact(t),
            _ => None,
        }
    }

    fn longest_prefix(&self, path: &str) -> Option<(&str, &Perms)> {
        self.prefix_lens
            .iter()
            .filter(|&&len| len <= path.len() && path.is_char_boundary(len))
            .find_map(|&len| {
                let (k, p) = self.prefix.get_key_value(&path[..len])?;
                Some((k.as_str(), p))
            })
    }

    fn non_exact(&self, path: &str) -> Option<&Perms> {
        let prefix = self.longest_prefix(path);
        if self.segments.is_empty() {
            return prefix.map(|(_, p)| p);
        }
        // (first wildcard position, not a prefix, fewer `+`, length, the pattern): the
        // largest wins.
        type Rank<'a> = (usize, bool, std::cmp::Reverse<usize>, usize, &'a str);
        let mut best: Option<(Rank<'_>, &Perms)> = prefix.map(|(k, p)| {
            let rank = (k.len(), false, std::cmp::Reverse(0), k.len(), k);
            (rank, p)
        });
        let parts: Vec<&str> = path.split('/').collect();
        'rules: for rule in &self.segments {
            if parts.len() < rule.parts.len()
                || (!rule.is_prefix && rule.parts.len() != parts.len())
            {
                continue;
            }
            let last = rule.parts.len() - 1;
            let mut wildcards = 0;
            for (i, part) in rule.parts.iter().enumerate() {
                if part == "+" {
                    wildcards += 1;
                } else if part != parts[i]
                    && !(rule.is_prefix && i == last && parts[i].starts_with(part.as_str()))
                {
                    continue 'rules;
                }
            }
            let rank = (
                rule.first_plus,
                !rule.is_prefix,
                std::cmp::Reverse(wildcards),
                rule.wc_path.len(),
                rule.wc_path.as_str(),
            );
            if best.as_ref().is_none_or(|(b, _)| rank > *b) {
                best = Some((rank, &rule.perms));
            }
        }
        best.map(|(_, p)| p)
    }
}

fn grants_something(caps: Caps) -> bool {
    caps.intersects(
        Caps::CREATE
            | Caps::DELETE
            | Caps::LIST
            | Caps::READ
            | Caps::SUDO
            | Caps::UPDATE
            | Caps::PATCH,
    )
}

/// Merge one rule into the rules already on its pattern (OpenBao's `NewACL`).
fn merge_into(map: &mut HashMap<String, Perms>, path: &str, new: &Perms) {
    let Some(existing) = map.get_mut(path) else {
        map.insert(path.to_owned(), new.clone());
        return;
    };
    if existing.caps.contains(Caps::DENY) {
        return;
    }
    if new.caps.contains(Caps::DENY) {
        existing.caps = Caps::DENY;
        existing.allowed.clear();
        existing.denied.clear();
        return;
    }
    existing.caps |= new.caps;
    // Of two bounds the smaller is kept, for the shortest-lived wrapping tokens.
    let smaller = |old: Duration, new: Duration| match (old.is_zero(), new.is_zero()) {
        (_, true) => old,
        (true, false) => new,
        (false, false) => old.min(new),
    };
    existing.max_wrapping_ttl = smaller(existing.max_wrapping_ttl, new.max_wrapping_ttl);
    existing.min_wrapping_ttl = smaller(existing.min_wrapping_ttl, new.min_wrapping_ttl);
    merge_params(&mut existing.allowed, &new.allowed);
    merge_params(&mut existing.denied, &new.denied);
    for r in &new.required {
        if !existing.required.contains(r) {
            existing.required.push(r.clone());
        }
    }
}

fn merge_params(
    into: &mut HashMap<String, Vec<ParamValue>>,
    new: &HashMap<String, Vec<ParamValue>>,
) {
    for (key, values) in new {
        match into.get_mut(key) {
            Some(old) if values.is_empty() || old.is_empty() => old.clear(),
            Some(old) => {
                let mut merged = values.clone();
                merged.append(old);
                *old = merged;
            }
            None => {
                into.insert(key.clone(), values.clone());
            }
        }
    }
}

/// `required_parameters`, `denied_parameters`, `allowed_parameters`, in OpenBao's order.
fn parameters_allowed(perms: &Perms, data: &Data) -> bool {
    if perms
        .required
        .iter()
        .any(|r| !data.contains_key(&r.to_lowercase()))
    {
        return false;
    }
    if data.is_empty() {
        return true;
    }
    if !perms.denied.is_empty() {
        if perms.denied.contains_key("*") {
            return false;
        }
        for (key, value) in data {
            if let Some(list) = perms.denied.get(&key.to_lowercase()) {
                if value_in_list(value, list) {
                    return false;
                }
            }
        }
    }
    if perms.allowed.is_empty() {
        return true;
    }
    let allowed_all = perms.allowed.contains_key("*");
    if perms.allowed.len() == 1 && allowed_all {
        return true;
    }
    data.iter().all(
        |(key, value)| match perms.allowed.get(&key.to_lowercase()) {
            None => allowed_all,
            Some(list) => value_in_list(value, list),
        },
    )
}

/// An empty list holds every value; strings match with `*` globs at either end; booleans
/// by equality; nothing else ever matches (see [`ParamValue`]).
fn value_in_list(value: &Value, list: &[ParamValue]) -> bool {
    list.is_empty()
        || list.iter().any(|el| match (el, value) {
            (ParamValue::Str(pattern), Value::String(s)) => globbed_match(pattern, s),
            (ParamValue::Bool(a), Value::Bool(b)) => a == b,
            _ => false,
        })
}

/// go-secure-stdlib's `GlobbedStringsMatch`: `*` at the start and/or end of a pattern of
/// two or more characters; a lone `*` matches only itself.
fn globbed_match(pattern: &str, value: &str) -> bool {
    if pattern.len() < 2 {
        return pattern == value;
    }
    let starts = pattern.starts_with('*');
    let ends = pattern.ends_with('*');
    match (starts, ends) {
        (true, true) => value.contains(&pattern[1..pattern.len() - 1]),
        (true, false) => value.ends_with(&pattern[1..]),
        (false, true) => value.starts_with(&pattern[..pattern.len() - 1]),
        (false, false) => pattern == value,
    }
}

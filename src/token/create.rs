//! Making and renewing tokens with OpenBao's rules: which policies a child may get, how its
//! TTL is chosen and capped, what a role imposes; and the two shapes a token is shown in
//! (the `auth` block and lookup data).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::store::nanos;
use super::{generate_id, random_base62, TokenEntry, TokenStore};
use crate::engine::{fields, go_duration, rfc3339_nano, EngineError, SYSTEM_MAX_LEASE_TTL};
use crate::logical::{Auth, Data};
use crate::policy::{sanitize_name, DEFAULT, ROOT};

/// A token role (`auth/token/roles/<name>`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Role {
    pub(crate) name: String,
    pub(crate) allowed_policies: Vec<String>,
    pub(crate) disallowed_policies: Vec<String>,
    pub(crate) allowed_policies_glob: Vec<String>,
    pub(crate) disallowed_policies_glob: Vec<String>,
    pub(crate) orphan: bool,
    pub(crate) renewable: bool,
    pub(crate) path_suffix: String,
    pub(crate) explicit_max_ttl: u64,
    pub(crate) period: u64,
    pub(crate) no_default_policy: bool,
    pub(crate) token_type: String,
}

impl Role {
    /// Apply a role write (create or update) from request data.
    pub(crate) fn update(&mut self, d: &Data) -> Result<(), EngineError> {
        let list = |f: &str| -> Result<Option<Vec<String>>, EngineError> {
            Ok(fields::string_list(d, f)?.map(|v| v.iter().map(|p| sanitize_name(p)).collect()))
        };
        if let Some(v) = list("allowed_policies")? {
            self.allowed_policies = v;
        }
        if let Some(v) = list("disallowed_policies")? {
            self.disallowed_policies = v;
        }
        if let Some(v) = list("allowed_policies_glob")? {
            self.allowed_policies_glob = v;
        }
        if let Some(v) = list("disallowed_policies_glob")? {
            self.disallowed_policies_glob = v;
        }
        if let Some(v) = fields::boolean(d, "orphan")? {
            self.orphan = v;
        }
        if let Some(v) = fields::boolean(d, "renewable")? {
            self.renewable = v;
        }
        if let Some(v) = fields::string(d, "path_suffix")? {
            if !v.is_empty() && !valid_suffix(&v) {
                return Err(EngineError::InvalidRequest(
                    "path_suffix must match the regular expression ^\\w[\\w-.]+\\w$".into(),
                ));
            }
            self.path_suffix = v;
        }
        for f in ["token_explicit_max_ttl", "explicit_max_ttl"] {
            if let Some(v) = fields::duration(d, f)? {
                self.explicit_max_ttl = v.as_secs();
            }
        }
        for f in ["token_period", "period"] {
            if let Some(v) = fields::duration(d, f)? {
                self.period = v.as_secs();
            }
        }
        if let Some(v) = fields::boolean(d, "token_no_default_policy")? {
            self.no_default_policy = v;
        }
        if let Some(v) = fields::string(d, "token_type")? {
            match v.as_str() {
                "" | "default" | "service" | "default-service" => {
                    self.token_type = "service".into()
                }
                other => {
                    return Err(EngineError::InvalidRequest(format!(
                        "unsupported token_type {other:?}: only service tokens are supported"
                    )))
                }
            }
        }
        Ok(())
    }

    /// The role as `GET auth/token/roles/<name>` shows it.
    pub(crate) fn data(&self) -> Data {
        let token_type = if self.token_type.is_empty() {
            "service"
        } else {
            &self.token_type
        };
        crate::logical::object(json!({
            "allowed_entity_aliases": null,
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
            "token_explicit_max_ttl": self.explicit_max_ttl,
            "token_no_default_policy": self.no_default_policy,
            "token_period": self.period,
            "token_type": token_type,
        }))
    }
}

fn valid_suffix(s: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let chars: Vec<char> = s.chars().collect();
    chars.len() >= 3
        && word(chars[0])
        && word(chars[chars.len() - 1])
        && chars.iter().all(|&c| word(c) || c == '-' || c == '.')
}

/// What `auth/token/create*` asks for.
#[derive(Debug, Default)]
pub(crate) struct CreateRequest {
    pub(crate) id: Option<String>,
    pub(crate) policies: Option<Vec<String>>,
    pub(crate) meta: Option<BTreeMap<String, String>>,
    pub(crate) no_parent: bool,
    pub(crate) no_default_policy: bool,
    pub(crate) renewable: bool,
    pub(crate) ttl: u64,
    pub(crate) explicit_max_ttl: u64,
    pub(crate) period: u64,
    pub(crate) display_name: String,
    pub(crate) num_uses: i64,
}

impl CreateRequest {
    pub(crate) fn parse(d: &Data) -> Result<Self, EngineError> {
        let secs = |f: &str| -> Result<u64, EngineError> {
            Ok(fields::duration(d, f)?.map_or(0, |v| v.as_secs()))
        };
        let num_uses = fields::int(d, "num_uses")?.unwrap_or(0);
        if num_uses < 0 {
            return Err(EngineError::InvalidRequest(
                "number of uses cannot be negative".into(),
            ));
        }
        match fields::string(d, "type")?.as_deref() {
            None | Some("") | Some("service") | Some("default") => {}
            Some("batch") => {
                return Err(EngineError::InvalidRequest(
                    "batch tokens are not supported by this server; use service tokens".into(),
                ))
            }
            Some(other) => {
                return Err(EngineError::InvalidRequest(format!(
                    "invalid 'token_type' value {other:?}"
                )))
            }
        }
        let meta = match d.get("meta") {
            None | Some(Value::Null) => None,
            Some(_) => fields::string_map(d, "meta")?,
        };
        Ok(Self {
            id: fields::string(d, "id")?.filter(|s| !s.is_empty()),
            policies: fields::string_list(d, "policies")?,
            meta: meta.filter(|m| !m.is_empty()),
            no_parent: fields::boolean(d, "no_parent")?.unwrap_or(false),
            no_default_policy: fields::boolean(d, "no_default_policy")?.unwrap_or(false),
            renewable: fields::boolean(d, "renewable")?.unwrap_or(true),
            ttl: secs("ttl").or_else(|_| secs("lease"))?,
            explicit_max_ttl: secs("explicit_max_ttl")?,
            period: secs("period")?,
            display_name: fields::string(d, "display_name")?.unwrap_or_default(),
            num_uses,
        })
    }
}

/// Sorted, lower-cased, without duplicates or empties.
fn sanitize(policies: &[String]) -> Vec<String> {
    let mut out: Vec<String> = policies
        .iter()
        .map(|p| sanitize_name(p))
        .filter(|p| !p.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn go_list(v: &[String]) -> String {
    let quoted: Vec<String> = v.iter().map(|p| format!("{p:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

fn glob_match(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((pre, post)) => {
            value.len() >= pre.len() + post.len() && value.starts_with(pre) && value.ends_with(post)
        }
    }
}

/// A new token, as `create*` makes it. Returns the id, the stored entry and warnings.
pub(crate) async fn create(
    store: &TokenStore,
    parent: &TokenEntry,
    parent_sudo: bool,
    mut req: CreateRequest,
    role: Option<&Role>,
    orphan_path: bool,
    now: OffsetDateTime,
) -> Result<(Zeroizing<String>, TokenEntry, Vec<String>), EngineError> {
    let mut warnings = Vec::new();
    let parent_root = parent.is_root();
    let invalid = |m: String| Err(EngineError::InvalidRequest(m));
    if req.no_parent && !orphan_path && !(parent_root || parent_sudo) && role.is_none() {
        return invalid("root or sudo privileges required to create orphan token".into());
    }
    if req.id.is_some() && !(parent_root || parent_sudo) {
        return invalid("root or sudo privileges required to specify token id".into());
    }
    if let Some(id) = &req.id {
        if id.contains('.') {
            return invalid("custom token ID cannot have the '.' in the value".into());
        }
    }
    let mut policies = req.policies.as_deref().map(sanitize).unwrap_or_default();
    let mut no_default = req.no_default_policy;
    let mut path = "auth/token/create".to_owned();
    let mut orphan = req.no_parent || orphan_path;
    if orphan_path {
        path = "auth/token/create-orphan".into();
    }
    let mut explicit_max = req.explicit_max_ttl;
    let mut period = req.period;
    if let Some(role) = role {
        path = format!("auth/token/create/{}", role.name);
        if !role.path_suffix.is_empty() {
            path = format!("{path}/{}", role.path_suffix);
        }
        orphan = role.orphan;
        no_default = no_default || role.no_default_policy;
        req.renewable = req.renewable && role.renewable;
        if role.explicit_max_ttl > 0 {
            explicit_max = match explicit_max {
                0 => role.explicit_max_ttl,
                v => v.min(role.explicit_max_ttl),
            };
        }
        if role.period > 0 {
            period = role.period;
        }
        let allowed: Vec<String> = role.allowed_policies.clone();
        if policies.is_empty() {
            policies = sanitize(&allowed);
        }
        let mut check = policies.clone();
        if !no_default && !check.iter().any(|p| p == DEFAULT) {
            check.push(DEFAULT.into());
            check.sort();
        }
        for p in &check {
            if role.disallowed_policies.contains(p)
                || role
                    .disallowed_policies_glob
                    .iter()
                    .any(|g| glob_match(g, p))
            {
                return invalid(format!("token policy {p:?} is disallowed by this role"));
            }
        }
        if !allowed.is_empty() || !role.allowed_policies_glob.is_empty() {
            let ok = |p: &String| {
                p == DEFAULT
                    || allowed.contains(p)
                    || role.allowed_policies_glob.iter().any(|g| glob_match(g, p))
            };
            if !check.iter().all(ok) {
                let mut shown = allowed.clone();
                if !shown.iter().any(|p| p == DEFAULT) {
                    shown.push(DEFAULT.into());
                }
                return invalid(format!(
                    "token policies ({}) must be subset of the role's allowed policies ({})",
                    go_list(&check),
                    go_list(&shown)
                ));
            }
        }
    } else if !parent_root {
        // A child may hold only policies its parent holds.
        if policies.is_empty() {
            policies = parent
                .policies
                .iter()
                .filter(|p| p.as_str() != DEFAULT)
                .cloned()
                .collect();
        }
        let parent_has = |p: &String| parent.policies.contains(p) || p == DEFAULT;
        if !policies.iter().all(parent_has) {
            return invalid("child policies must be subset of parent".into());
        }
    } else if policies.is_empty() {
        policies = vec![ROOT.into()];
    }
    if policies.iter().any(|p| p == ROOT) && !parent_root {
        return invalid("root or sudo privileges required to create a root token".into());
    }
    if !no_default && !policies.iter().any(|p| p == ROOT || p == DEFAULT) {
        policies.push(DEFAULT.into());
    }
    policies.sort();
    policies.dedup();
    let is_root_token = policies.iter().any(|p| p == ROOT);

    // TTL: the period for periodic tokens; else the requested TTL or the default, capped by
    // the explicit max and the system max. A root-policy token with no TTL never expires.
    let system_max = SYSTEM_MAX_LEASE_TTL.as_secs();
    let mut ttl = if period > 0 { period } else { req.ttl };
    if ttl == 0 && !is_root_token {
        ttl = system_max;
    }
    if explicit_max > 0 && ttl > explicit_max {
        warnings.push(format!(
            "explicit max TTL of {:?} is less than the requested TTL; TTL value is capped accordingly",
            go_duration(Duration::from_secs(explicit_max))
        ));
        ttl = explicit_max;
    }
    if period == 0 && ttl > system_max {
        warnings.push(format!(
            "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
            go_duration(Duration::from_secs(ttl)),
            go_duration(Duration::from_secs(system_max))
        ));
        ttl = system_max;
    }

    let id = match req.id.take() {
        Some(id) => Zeroizing::new(id),
        None => generate_id(),
    };
    let salted = store.salted(&id);
    if store.read(&salted).await?.is_some() {
        return invalid("cannot create a token with a duplicate ID".into());
    }
    let display_name = match req.display_name.trim() {
        "" => "token".to_owned(),
        name => format!("token-{}", sanitize_display(name)),
    };
    let issue = nanos(now);
    let entry = TokenEntry {
        salted_id: salted,
        accessor: random_base62(24),
        policies,
        path,
        display_name,
        creation_time: now.unix_timestamp(),
        parent: if orphan {
            String::new()
        } else {
            parent.salted_id.clone()
        },
        meta: req.meta,
        num_uses: req.num_uses,
        ttl,
        explicit_max_ttl: explicit_max,
        period,
        renewable: req.renewable,
        issue_ns: issue,
        expire_ns: (ttl > 0).then(|| issue + (ttl as i64) * 1_000_000_000),
        last_renewal_ns: None,
        role: role.map(|r| r.name.clone()).unwrap_or_default(),
    };
    store.insert(&entry).await?;
    Ok((id, entry, warnings))
}

fn sanitize_display(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Seconds left at `now_ns`.
fn remaining(e: &TokenEntry, now_ns: i64) -> u64 {
    e.expire_ns
        .map_or(0, |at| ((at - now_ns).max(0) / 1_000_000_000) as u64)
}

/// The `auth` block of a create or renew answer.
pub(crate) fn auth_block(id: &str, e: &TokenEntry, now: OffsetDateTime) -> Auth {
    let lease = remaining(e, nanos(now));
    Auth {
        client_token: id.to_owned(),
        accessor: e.accessor.clone(),
        policies: e.policies.clone(),
        token_policies: e.policies.clone(),
        identity_policies: Vec::new(),
        metadata: e.meta.clone(),
        lease_duration: lease,
        renewable: e.renewable && e.ttl > 0,
        entity_id: String::new(),
        token_type: "service".into(),
        orphan: e.is_orphan(),
        mfa_requirement: None,
        num_uses: e.num_uses.max(0),
    }
}

/// What `lookup*` shows of a token; `id` is empty for `lookup-accessor`.
pub(crate) fn lookup_data(id: &str, e: &TokenEntry, now: OffsetDateTime) -> Data {
    let at = |ns: i64| {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
            .map(rfc3339_nano)
            .unwrap_or_default()
    };
    let mut d = crate::logical::object(json!({
        "accessor": e.accessor,
        "creation_time": e.creation_time,
        "creation_ttl": e.ttl,
        "display_name": e.display_name,
        "entity_id": "",
        "expire_time": e.expire_ns.map(at),
        "explicit_max_ttl": e.explicit_max_ttl,
        "id": id,
        "issue_time": at(e.issue_ns),
        "meta": e.meta,
        // -1 on the request that spends the last use, as OpenBao shows it.
        "num_uses": e.num_uses,
        "orphan": e.is_orphan(),
        "path": e.path,
        "policies": e.policies,
        "renewable": e.renewable && e.ttl > 0,
        "ttl": remaining(e, nanos(now)),
        "type": "service",
    }));
    if e.period > 0 {
        d.insert("period".into(), json!(e.period));
    }
    if let Some(ns) = e.last_renewal_ns {
        d.insert("last_renewal".into(), json!(at(ns)));
        d.insert("last_renewal_time".into(), json!(ns / 1_000_000_000));
    }
    if !e.role.is_empty() {
        d.insert("role".into(), json!(e.role));
    }
    d
}

/// Renew: periodic tokens to their period, others by `increment` (default: their TTL),
/// never past the explicit max TTL nor the system max counted from creation.
pub(crate) async fn renew(
    store: &TokenStore,
    e: &TokenEntry,
    increment: Option<Duration>,
    now: OffsetDateTime,
) -> Result<TokenEntry, EngineError> {
    // A token that never expires has no lease at all (OpenBao's text for the root token).
    if e.ttl == 0 {
        return Err(EngineError::InvalidRequest("invalid lease ID".into()));
    }
    if !e.renewable {
        return Err(EngineError::InvalidRequest("lease is not renewable".into()));
    }
    let now_ns = nanos(now);
    let issued = e.issue_ns;
    let age = ((now_ns - issued).max(0) / 1_000_000_000) as u64;
    let mut ttl = if e.period > 0 {
        e.period
    } else {
        // No increment, or 0 (what the CLI sends by default): the token's own TTL.
        increment
            .map(|i| i.as_secs())
            .filter(|&i| i > 0)
            .unwrap_or(e.ttl)
    };
    let mut max = SYSTEM_MAX_LEASE_TTL.as_secs();
    if e.explicit_max_ttl > 0 {
        max = if e.period > 0 {
            e.explicit_max_ttl
        } else {
            e.explicit_max_ttl.min(max)
        };
    } else if e.period > 0 {
        max = u64::MAX;
    }
    ttl = ttl.min(max.saturating_sub(age));
    let mut renewed = e.clone();
    renewed.expire_ns = Some(now_ns + (ttl as i64) * 1_000_000_000);
    renewed.last_renewal_ns = Some(now_ns);
    store.write_entry(&renewed).await?;
    Ok(renewed)
}

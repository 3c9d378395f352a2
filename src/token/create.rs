//! Making and renewing tokens with OpenBao's rules (`handleCreateCommon`,
//! `resolveTokenPolicies`, `parseAndMergeTTLPeriod`, `framework.CalculateTTL`,
//! `RenewToken`): which policies a child may get, how its TTL is chosen and capped, what a
//! role imposes; and the two shapes a token is shown in (the `auth` block and lookup data).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::roles::{contains_glob, remove_duplicates, sanitize_policies, Role};
use super::store::nanos;
use super::{generate_id, random_base62, TokenEntry, TokenStore};
use crate::engine::{fields, go_duration, rfc3339_nano, EngineError, MountInfo};
use crate::logical::{Auth, Data, Login};
use crate::policy::{DEFAULT, RESPONSE_WRAPPING, ROOT};

const NANOS: i64 = 1_000_000_000;

fn invalid<T>(m: impl Into<String>) -> Result<T, EngineError> {
    Err(EngineError::InvalidRequest(m.into()))
}

/// A duration field OpenBao takes as a string and parses itself: absent or empty is unset,
/// negative is refused with `<what> must be positive`.
fn duration_field(d: &Data, field: &str, what: &str) -> Result<Option<u64>, EngineError> {
    if let Some(Value::String(s)) = d.get(field) {
        if s.trim().starts_with('-') {
            return invalid(format!("{what} must be positive"));
        }
        if s.trim().is_empty() {
            return Ok(None);
        }
    }
    Ok(fields::duration(d, field)?.map(|v| v.as_secs()))
}

/// What `auth/token/create*` asks for.
#[derive(Debug, Default)]
pub(crate) struct CreateRequest {
    pub(crate) id: Option<String>,
    pub(crate) policies: Vec<String>,
    pub(crate) meta: Option<BTreeMap<String, String>>,
    pub(crate) no_parent: bool,
    pub(crate) no_default_policy: bool,
    pub(crate) renewable: bool,
    pub(crate) ttl: u64,
    pub(crate) explicit_max_ttl: u64,
    pub(crate) period: u64,
    pub(crate) display_name: String,
    pub(crate) num_uses: i64,
    pub(crate) token_type: String,
    pub(crate) entity_alias: String,
}

impl CreateRequest {
    pub(crate) fn parse(d: &Data) -> Result<Self, EngineError> {
        let ttl = match duration_field(d, "ttl", "ttl")? {
            Some(v) => v,
            None => duration_field(d, "lease", "lease")?.unwrap_or(0),
        };
        let meta = match d.get("meta") {
            None | Some(Value::Null) => None,
            Some(_) => fields::string_map(d, "meta")?,
        };
        Ok(Self {
            id: fields::string(d, "id")?.filter(|s| !s.is_empty()),
            policies: fields::string_list(d, "policies")?.unwrap_or_default(),
            meta,
            no_parent: fields::boolean(d, "no_parent")?.unwrap_or(false),
            no_default_policy: fields::boolean(d, "no_default_policy")?.unwrap_or(false),
            renewable: fields::boolean(d, "renewable")?.unwrap_or(true),
            ttl,
            explicit_max_ttl: duration_field(d, "explicit_max_ttl", "explicit_max_ttl")?
                .unwrap_or(0),
            period: duration_field(d, "period", "period")?.unwrap_or(0),
            display_name: fields::string(d, "display_name")?.unwrap_or_default(),
            num_uses: fields::int(d, "num_uses")?.unwrap_or(0),
            token_type: fields::string(d, "type")?.unwrap_or_default(),
            entity_alias: fields::string(d, "entity_alias")?.unwrap_or_default(),
        })
    }
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_list(v: &[String]) -> String {
    let quoted: Vec<String> = v.iter().map(|p| format!("{p:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// OpenBao's `humanDuration`: Go's duration text without zero units (`768h`, `1h30m`).
pub(crate) fn human_duration(secs: u64) -> String {
    let mut s = go_duration(Duration::from_secs(secs));
    if s.ends_with("m0s") {
        s.truncate(s.len() - 2);
    }
    if let Some(i) = s.find("h0m") {
        if i > 0 {
            s.replace_range(i + 1..i + 3, "");
        }
    }
    s
}

/// The inputs of OpenBao's `framework.CalculateTTL`, all in seconds.
pub(crate) struct TtlInputs {
    pub(crate) increment: u64,
    pub(crate) backend_ttl: u64,
    pub(crate) period: u64,
    pub(crate) backend_max_ttl: u64,
    pub(crate) explicit_max_ttl: u64,
    /// Unix seconds the lease started (creation / issue time).
    pub(crate) start: i64,
    pub(crate) now: i64,
}

/// `framework.CalculateTTL`: the TTL to grant and the warnings for any capping.
pub(crate) fn calculate_ttl(
    mount: &MountInfo,
    i: &TtlInputs,
) -> Result<(u64, Vec<String>), EngineError> {
    let mut warnings = Vec::new();
    let mut max_ttl = mount.max_lease_ttl.as_secs();
    if i.backend_max_ttl > 0 && i.backend_max_ttl < max_ttl {
        max_ttl = i.backend_max_ttl;
    }
    if i.explicit_max_ttl > 0 && i.explicit_max_ttl < max_ttl {
        max_ttl = i.explicit_max_ttl;
    }
    if max_ttl == 0 {
        return invalid("max TTL must be greater than zero");
    }
    let mut ttl;
    let max_valid: Option<i64>;
    if i.period > 0 {
        let mut period = i.period;
        if period > max_ttl {
            warnings.push(format!(
                "period of {:?} exceeded the effective max_ttl of {:?}; period value is capped accordingly",
                human_duration(period),
                human_duration(max_ttl)
            ));
            period = max_ttl;
        }
        ttl = period;
        max_valid = (i.explicit_max_ttl > 0).then(|| i.start + i.explicit_max_ttl as i64);
    } else {
        ttl = if i.increment > 0 {
            i.increment
        } else if i.backend_ttl > 0 {
            i.backend_ttl
        } else {
            mount.default_lease_ttl.as_secs()
        };
        max_valid = Some(i.start + max_ttl as i64);
    }
    if let Some(until) = max_valid {
        let left = until - i.now;
        if left <= 0 {
            return invalid("past the max TTL, cannot renew");
        }
        if (left as u64) < ttl {
            warnings.push(format!(
                "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
                human_duration(ttl),
                human_duration(left as u64)
            ));
            ttl = left as u64;
        }
    }
    Ok((ttl, warnings))
}

/// Everything `create` needs to know about the request besides its body.
pub(crate) struct CreateCtx<'a> {
    pub(crate) store: &'a TokenStore,
    pub(crate) mount: &'a MountInfo,
    /// The caller's token: the parent.
    pub(crate) parent: &'a TokenEntry,
    /// The caller may use sudo on this path (or is root).
    pub(crate) sudo: bool,
    pub(crate) role: Option<&'a Role>,
    /// `create-orphan`.
    pub(crate) orphan_path: bool,
    /// The path below the mount (`create`, `create-orphan`, `create/<role>`).
    pub(crate) rel_path: &'a str,
    pub(crate) now: OffsetDateTime,
}

/// `resolveTokenPolicies`.
fn resolve_policies(
    c: &CreateCtx<'_>,
    requested: &[String],
    no_default_policy: bool,
) -> Result<Vec<String>, EngineError> {
    let parent = c.parent;
    let mut policies = requested.to_vec();
    let mut add_default = false;
    match c.role {
        Some(role)
            if !role.allowed_policies.is_empty()
                || !role.disallowed_policies.is_empty()
                || !role.allowed_policies_glob.is_empty()
                || !role.disallowed_policies_glob.is_empty() =>
        {
            let local_add_default = !no_default_policy
                && !role.token_no_default_policy
                && !role.disallowed_policies.iter().any(|p| p == DEFAULT)
                && !contains_glob(&role.disallowed_policies_glob, DEFAULT);
            let mut finals = if policies.is_empty() {
                Vec::new()
            } else {
                sanitize_policies(&policies, local_add_default)
            };
            if !role.allowed_policies.is_empty() || !role.allowed_policies_glob.is_empty() {
                let allowed = sanitize_policies(&role.allowed_policies, local_add_default);
                if finals.is_empty() {
                    finals = allowed;
                } else {
                    let globs = sanitize_policies(&role.allowed_policies_glob, false);
                    for p in &finals {
                        if !allowed.contains(p) && !contains_glob(&globs, p) {
                            return invalid(format!(
                                "token policies ({}) must be subset of the role's allowed policies ({}) or glob policies ({})",
                                go_list(&finals),
                                go_list(&allowed),
                                go_list(&globs)
                            ));
                        }
                    }
                }
            } else if finals.is_empty() {
                finals = sanitize_policies(&parent.policies, local_add_default);
            }
            if !role.disallowed_policies.is_empty() || !role.disallowed_policies_glob.is_empty() {
                let denied = remove_duplicates(&role.disallowed_policies);
                let denied_glob = remove_duplicates(&role.disallowed_policies_glob);
                for p in &finals {
                    if denied.contains(p) || contains_glob(&denied_glob, p) {
                        return invalid(format!("token policy {p:?} is disallowed by this role"));
                    }
                }
            }
            policies = finals;
        }
        _ if policies.is_empty() => {
            // Inherit the parent's; `default` only if the parent has it.
            policies = sanitize_policies(&parent.policies, false);
        }
        _ if !c.sudo => {
            let asked = sanitize_policies(&policies, false);
            let held = sanitize_policies(&parent.policies, false);
            if !asked.iter().all(|p| held.contains(p)) {
                return invalid("child policies must be subset of parent");
            }
            add_default = !no_default_policy && parent.policies.iter().any(|p| p == DEFAULT);
        }
        _ => add_default = !no_default_policy,
    }
    let mut finals = sanitize_policies(&policies, add_default);
    if no_default_policy {
        finals.retain(|p| p != DEFAULT);
    }
    if let Some(p) = finals.iter().find(|p| p.as_str() == RESPONSE_WRAPPING) {
        return invalid(format!("cannot assign policy {p:?}"));
    }
    Ok(finals)
}

/// `token-<name>` with every character but `[a-zA-Z0-9-]` turned into `-`, one trailing
/// `-` dropped.
fn display_name(name: &str) -> String {
    if name.is_empty() {
        return "token".into();
    }
    let full: String = format!("token-{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    full.strip_suffix('-').map(str::to_owned).unwrap_or(full)
}

/// A new token, as `create*` makes it. Returns the id, the stored entry and warnings
/// (`Policy "x" does not exist` is the caller's to add: it needs the policy store).
pub(crate) async fn create(
    c: &CreateCtx<'_>,
    req: CreateRequest,
) -> Result<(Zeroizing<String>, TokenEntry, Vec<String>), EngineError> {
    let parent = c.parent;
    let mut warnings = Vec::new();
    if parent.num_uses > 0 {
        return invalid("restricted use token cannot generate child tokens");
    }
    // Roles only make service tokens here; a batch role was refused when written.
    match req.token_type.as_str() {
        "" | "service" => {}
        "batch" => {
            return invalid("batch tokens are not supported by this server; use service tokens")
        }
        _ => return invalid("invalid 'token_type' value"),
    }
    if req.num_uses < 0 {
        return invalid("number of uses cannot be negative");
    }
    if !req.entity_alias.is_empty() {
        if c.role.is_none() {
            return invalid("'entity_alias' is only allowed in combination with token role");
        }
        // No identity store yet: no alias can be resolved to an entity.
        return invalid("invalid 'entity_alias' value");
    }

    let mut path = format!("auth/token/{}", c.rel_path);
    let mut num_uses = req.num_uses;
    let mut renewable = req.renewable;
    if let Some(role) = c.role {
        if renewable && !role.renewable {
            renewable = false;
        }
        if role.token_num_uses != 0 && (num_uses == 0 || role.token_num_uses < num_uses) {
            num_uses = role.token_num_uses;
        }
        if !role.path_suffix.is_empty() {
            path = format!("{path}/{}", role.path_suffix);
        }
    }
    let display_name = display_name(&req.display_name);
    if req.id.is_some() && !c.sudo {
        return invalid("root or sudo privileges required to specify token id");
    }
    let policies = resolve_policies(c, &req.policies, req.no_default_policy)?;
    let wants_root = policies.iter().any(|p| p == ROOT);
    if wants_root && !parent.is_root() {
        return invalid("root tokens may not be created without parent token being root");
    }

    let orphan = match c.role {
        Some(role) => role.orphan,
        None if req.no_parent => {
            if !c.sudo {
                return invalid("root or sudo privileges required to create orphan token");
            }
            true
        }
        None => c.orphan_path,
    };

    // parseAndMergeTTLPeriod
    let mut explicit_max = req.explicit_max_ttl;
    let mut period = 0;
    if req.period > 0 {
        if !c.sudo {
            return invalid("root or sudo privileges required to create periodic token");
        }
        period = req.period;
    }
    if let Some(role) = c.role {
        if role.token_explicit_max_ttl != 0 {
            if explicit_max == 0 {
                explicit_max = role.token_explicit_max_ttl;
            } else {
                explicit_max = explicit_max.min(role.token_explicit_max_ttl);
                warnings.push(format!("Explicit max TTL specified both during creation call and in role; using the lesser value of {explicit_max} seconds"));
            }
        }
        if role.token_period != 0 {
            if period == 0 {
                period = role.token_period;
            } else {
                period = period.min(role.token_period);
                warnings.push(format!("Period specified both during creation call and in role; using the lesser value of {period} seconds"));
            }
        }
    }

    let created = c.now.unix_timestamp();
    let mut ttl = req.ttl;
    if period > 0 || ttl > 0 || !wants_root {
        let (granted, w) = calculate_ttl(
            c.mount,
            &TtlInputs {
                increment: 0,
                backend_ttl: ttl,
                period,
                backend_max_ttl: 0,
                explicit_max_ttl: explicit_max,
                start: created,
                now: created,
            },
        )?;
        warnings.extend(w);
        ttl = granted;
    }
    // Root tokens are still bound by an explicit max TTL.
    if ttl == 0 && explicit_max > 0 {
        ttl = explicit_max;
    }
    if ttl == 0 {
        if parent.ttl != 0 {
            return invalid("expiring root tokens cannot create non-expiring root tokens");
        }
        renewable = false;
    }

    let id = match req.id {
        Some(id) => {
            if id.starts_with("hvs.") {
                return invalid("custom token ID cannot have the 'hvs.' prefix");
            }
            if id.starts_with("s.") {
                return invalid("custom token ID cannot have the 's.' prefix");
            }
            if id.contains('.') {
                return invalid("custom token ID cannot have a '.' in the value");
            }
            warnings.push("Supplying a custom ID for the token uses the weaker SHA1 hashing instead of the more secure SHA2-256 HMAC for token obfuscation. SHA1 hashed tokens on the wire leads to less secure lookups.".into());
            Zeroizing::new(id)
        }
        None => generate_id(),
    };
    let salted = c.store.salted(&id);
    if c.store.read(&salted).await?.is_some() {
        return invalid("cannot create a token with a duplicate ID");
    }
    let issue = nanos(c.now);
    let entry = TokenEntry {
        salted_id: salted,
        accessor: random_base62(24),
        policies,
        path,
        display_name,
        creation_time: created,
        parent: if orphan {
            String::new()
        } else {
            parent.salted_id.clone()
        },
        meta: req.meta,
        num_uses,
        ttl,
        explicit_max_ttl: explicit_max,
        period,
        renewable,
        issue_ns: issue,
        expire_ns: (ttl > 0).then(|| issue + (ttl as i64) * NANOS),
        last_renewal_ns: None,
        role: c.role.map(|r| r.name.clone()).unwrap_or_default(),
        lease_ttl: ttl,
        no_lease: false,
        max_ttl: 0,
        bound_cidrs: Vec::new(),
        alias: String::new(),
        mount_accessor: String::new(),
    };
    c.store.insert(&entry).await?;
    Ok((id, entry, warnings))
}

/// The token a successful login earns (OpenBao's `LoginCreateToken` + `RegisterAuth`): an
/// orphan at the login's path, its TTL from the method's settings capped by the auth
/// mount's, its display name `<mount>-<name>`. Returns the id, the entry and warnings.
pub(crate) async fn create_login(
    store: &TokenStore,
    mount: &MountInfo,
    mount_path: &str,
    mount_accessor: &str,
    path: &str,
    login: &Login,
    now: OffsetDateTime,
) -> Result<(Zeroizing<String>, TokenEntry, Vec<String>), EngineError> {
    if login.token_type == "batch" {
        return invalid("batch tokens are not supported by this server; use service tokens");
    }
    let policies = sanitize_policies(&login.policies, !login.no_default_policy);
    for p in &policies {
        if p == ROOT {
            return invalid("auth methods cannot create root tokens");
        }
        if p == RESPONSE_WRAPPING {
            return invalid(format!("cannot assign policy {p:?}"));
        }
    }
    let created = now.unix_timestamp();
    let (ttl, warnings) = calculate_ttl(
        mount,
        &TtlInputs {
            increment: 0,
            backend_ttl: login.ttl,
            period: login.period,
            backend_max_ttl: login.max_ttl,
            explicit_max_ttl: login.explicit_max_ttl,
            start: created,
            now: created,
        },
    )?;
    let source = mount_path
        .strip_prefix("auth/")
        .unwrap_or(mount_path)
        .replace('/', "-");
    let display = format!("{source}{}", login.display_name);
    let display = display.strip_suffix('-').unwrap_or(&display).to_owned();
    let id = generate_id();
    let issue = nanos(now);
    let entry = TokenEntry {
        salted_id: store.salted(&id),
        accessor: random_base62(24),
        policies,
        path: path.to_owned(),
        display_name: display,
        creation_time: created,
        parent: String::new(),
        meta: (!login.metadata.is_empty()).then(|| login.metadata.clone()),
        num_uses: login.num_uses,
        ttl,
        explicit_max_ttl: login.explicit_max_ttl,
        period: login.period,
        renewable: login.renewable,
        issue_ns: issue,
        expire_ns: Some(issue + (ttl as i64) * NANOS),
        last_renewal_ns: None,
        role: String::new(),
        lease_ttl: ttl,
        no_lease: false,
        // The auth mount's cap too: renewals go through `auth/token/`, whose mount may
        // allow more than the mount that issued the token.
        max_ttl: match mount.max_lease_ttl.as_secs() {
            m if login.max_ttl > 0 && login.max_ttl < m => login.max_ttl,
            m => m,
        },
        bound_cidrs: login.bound_cidrs.clone(),
        alias: login.alias.clone(),
        mount_accessor: mount_accessor.to_owned(),
    };
    store.insert(&entry).await?;
    Ok((id, entry, warnings))
}

/// OpenBao's `leaseEntry.renewable()` for a token's lease: why it may not be renewed.
pub(crate) fn not_renewable(e: &TokenEntry, now_ns: i64) -> Option<&'static str> {
    match e.expire_ns {
        None => Some("lease is not renewable"),
        Some(at) if at < now_ns => Some("lease expired"),
        Some(_) if !e.renewable => Some("lease is not renewable"),
        Some(_) => None,
    }
}

/// A renewed token and the warnings its capping earned.
pub(crate) struct RenewOutcome {
    pub(crate) entry: TokenEntry,
    pub(crate) warnings: Vec<String>,
}

/// `ExpirationManager.RenewToken`: periodic tokens to their period, others by `increment`
/// (default: the TTL last granted), never past the explicit max TTL or the mount's max
/// counted from the issue time. A token made from a role takes the role's current period
/// and explicit max, as OpenBao's `authRenew` does.
///
/// A login token renews under `login` when its auth method gave current settings
/// ([`crate::engine::Backend::renew_login`]); `mount` is then the auth method's mount.
pub(crate) async fn renew(
    store: &TokenStore,
    mount: &MountInfo,
    e: &TokenEntry,
    increment: Option<Duration>,
    now: OffsetDateTime,
    login: Option<&Login>,
) -> Result<RenewOutcome, EngineError> {
    if e.no_lease {
        return invalid("invalid lease ID");
    }
    let now_ns = nanos(now);
    if let Some(why) = not_renewable(e, now_ns) {
        return invalid(why);
    }
    let (period, explicit_max) = if e.role.is_empty() {
        (e.period, e.explicit_max_ttl)
    } else {
        match store.role(&e.role).await? {
            Some(r) => (r.token_period, r.token_explicit_max_ttl),
            None => {
                return invalid(format!(
                    "original token role {:?} could not be found, not renewing",
                    e.role
                ))
            }
        }
    };
    let (backend_ttl, backend_max_ttl, period) = match login {
        Some(l) => (l.ttl, l.max_ttl, l.period),
        None => (e.lease_ttl, e.max_ttl, period),
    };
    let (ttl, warnings) = calculate_ttl(
        mount,
        &TtlInputs {
            increment: increment.map_or(0, |i| i.as_secs()),
            backend_ttl,
            period,
            backend_max_ttl,
            explicit_max_ttl: explicit_max,
            start: e.issue_ns.div_euclid(NANOS),
            now: now.unix_timestamp(),
        },
    )?;
    let mut renewed = e.clone();
    renewed.expire_ns = Some(now_ns + (ttl as i64) * NANOS);
    renewed.last_renewal_ns = Some(now_ns);
    renewed.lease_ttl = ttl;
    store.write_entry(&renewed).await?;
    Ok(RenewOutcome {
        entry: renewed,
        warnings,
    })
}

/// The `auth` block of a create or renew answer: the TTL granted, not what is left.
pub(crate) fn auth_block(id: &str, e: &TokenEntry) -> Auth {
    Auth {
        client_token: id.to_owned(),
        accessor: e.accessor.clone(),
        policies: e.policies.clone(),
        token_policies: e.policies.clone(),
        identity_policies: Vec::new(),
        metadata: e.meta.clone(),
        lease_duration: e.lease_ttl,
        renewable: e.renewable,
        entity_id: String::new(),
        token_type: "service".into(),
        orphan: e.is_orphan(),
        mfa_requirement: None,
        num_uses: e.num_uses.max(0),
    }
}

fn at(ns: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .map(rfc3339_nano)
        .unwrap_or_default()
}

/// Seconds left, as OpenBao's `leaseEntry.ttl()`: to the expiry from now rounded to the
/// second, truncated.
pub(crate) fn ttl_left(expire_ns: i64, now_ns: i64) -> i64 {
    let rounded = (now_ns + NANOS / 2).div_euclid(NANOS) * NANOS;
    (expire_ns - rounded) / NANOS
}

/// What `lookup*` shows of a token; `id` is empty for `lookup-accessor`.
pub(crate) fn lookup_data(id: &str, e: &TokenEntry, now: OffsetDateTime) -> Data {
    let now_ns = nanos(now);
    let mut d = crate::logical::object(json!({
        "accessor": e.accessor,
        "creation_time": e.creation_time,
        "creation_ttl": e.ttl,
        "display_name": e.display_name,
        "entity_id": "",
        "expire_time": null,
        "explicit_max_ttl": e.explicit_max_ttl,
        "id": id,
        "meta": e.meta,
        "num_uses": e.num_uses,
        "orphan": e.is_orphan(),
        "path": e.path,
        "policies": e.policies,
        "ttl": 0,
        "type": "service",
    }));
    if !e.role.is_empty() {
        d.insert("role".into(), json!(e.role));
    }
    if e.period > 0 {
        d.insert("period".into(), json!(e.period));
    }
    if !e.bound_cidrs.is_empty() {
        let shown: Vec<String> = e
            .bound_cidrs
            .iter()
            .map(|c| crate::auth::tokenutil::display_cidr(c))
            .collect();
        d.insert("bound_cidrs".into(), json!(shown));
    }
    if !e.no_lease {
        if let Some(ns) = e.last_renewal_ns {
            d.insert("last_renewal_time".into(), json!(ns.div_euclid(NANOS)));
            d.insert("last_renewal".into(), json!(at(ns)));
        }
        if let Some(x) = e.expire_ns {
            d.insert("expire_time".into(), json!(at(x)));
            d.insert("ttl".into(), json!(ttl_left(x, now_ns)));
        }
        d.insert(
            "renewable".into(),
            json!(not_renewable(e, now_ns).is_none()),
        );
        d.insert("issue_time".into(), json!(at(e.issue_ns)));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_openbao_warnings_do() {
        assert_eq!(human_duration(768 * 3600), "768h");
        assert_eq!(human_duration(24 * 3600), "24h");
        assert_eq!(human_duration(5400), "1h30m");
        assert_eq!(human_duration(3605), "1h5s");
        assert_eq!(human_duration(120), "2m");
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(0), "0s");
    }

    #[test]
    fn display_names_are_sanitised() {
        assert_eq!(display_name(""), "token");
        assert_eq!(display_name("App X"), "token-App-X");
        assert_eq!(display_name("a.b_c!"), "token-a-b-c");
    }

    #[test]
    fn ttl_left_rounds_now_to_the_second() {
        let t0 = 1_000 * NANOS + 632_000_000;
        assert_eq!(ttl_left(t0 + 3600 * NANOS, t0), 3599);
        assert_eq!(ttl_left(t0 + 3600 * NANOS, t0 - 200_000_000), 3600);
    }
}

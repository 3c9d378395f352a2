//! The `token_*` fields every auth method's roles and users share (OpenBao's `tokenutil`),
//! with their legacy names (`policies`, `ttl`, `max_ttl`, `period`, `bound_cidrs`).
//!
//! A role stores a [`TokenParams`]; a write parses the request over the stored value (only
//! fields present change), a read prints it back, and a login turns it into a [`Login`].

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::engine::{fields, EngineError};
use crate::logical::{Data, Login};

/// The token settings of a role or user. Durations are seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct TokenParams {
    pub(crate) token_bound_cidrs: Vec<String>,
    pub(crate) token_explicit_max_ttl: u64,
    pub(crate) token_max_ttl: u64,
    pub(crate) token_no_default_policy: bool,
    pub(crate) token_num_uses: i64,
    pub(crate) token_period: u64,
    pub(crate) token_policies: Vec<String>,
    /// `default`, `service` or `batch`.
    pub(crate) token_type: String,
    pub(crate) token_ttl: u64,
    pub(crate) token_strictly_bind_ip: bool,
    /// The legacy names last written (`policies`, `ttl`, ...): reads echo those, as OpenBao
    /// echoes a legacy field only while it was set through its legacy name.
    pub(crate) legacy: BTreeSet<String>,
}

fn invalid<T>(msg: impl Into<String>) -> Result<T, EngineError> {
    Err(EngineError::InvalidRequest(msg.into()))
}

/// The `(legacy, current)` name pairs.
const LEGACY: &[(&str, &str)] = &[
    ("policies", "token_policies"),
    ("ttl", "token_ttl"),
    ("max_ttl", "token_max_ttl"),
    ("period", "token_period"),
    ("bound_cidrs", "token_bound_cidrs"),
];

impl TokenParams {
    /// Apply the token fields present in `d` (`ParseTokenFields` with the legacy upgrade
    /// every builtin method runs first: a legacy field counts only when its current name is
    /// absent).
    pub(crate) fn update(&mut self, d: &Data) -> Result<(), EngineError> {
        let pick = |current: &'static str| pick(d, current);
        for (legacy, current) in LEGACY {
            match pick(current) {
                Some((_, true)) => {
                    self.legacy.insert((*legacy).to_owned());
                }
                // Writing the current name drops the legacy echo.
                Some((_, false)) => {
                    self.legacy.remove(*legacy);
                }
                None => {}
            }
        }
        if let Some((name, _)) = pick("token_bound_cidrs") {
            let list = fields::string_list(d, name)?.unwrap_or_default();
            self.token_bound_cidrs = parse_cidrs(&list)?;
        }
        if let Some(v) = fields::duration(d, "token_explicit_max_ttl")? {
            self.token_explicit_max_ttl = v.as_secs();
        }
        if let Some((name, _)) = pick("token_max_ttl") {
            self.token_max_ttl = secs(d, name)?;
        }
        if let Some(v) = fields::boolean(d, "token_no_default_policy")? {
            self.token_no_default_policy = v;
        }
        if let Some((name, _)) = pick("token_period") {
            self.token_period = secs(d, name)?;
        }
        // `token_policies` are kept as given (OpenBao lower-cases them only in the token);
        // the legacy `policies` go through `ParsePolicies`, which sorts and lower-cases.
        match pick("token_policies") {
            Some((name, false)) => {
                self.token_policies = fields::string_list(d, name)?.unwrap_or_default();
            }
            Some((name, true)) => {
                self.token_policies =
                    parse_policies(&fields::string_list(d, name)?.unwrap_or_default());
            }
            None => {}
        }
        if let Some(t) = fields::string(d, "token_type")? {
            self.token_type = match t.as_str() {
                "" | "default" => "default".into(),
                "service" | "batch" => t,
                other => return invalid(format!("invalid 'token_type' value {other:?}")),
            };
        }
        if let Some(n) = fields::int(d, "token_num_uses")? {
            if n < 0 {
                return invalid("'token_num_uses' cannot be negative");
            }
            self.token_num_uses = n;
        }
        if self.token_type == "batch" {
            if self.token_period != 0 {
                return invalid("'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens");
            }
            if self.token_num_uses != 0 {
                return invalid("'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count");
            }
        }
        if let Some((name, _)) = pick("token_ttl") {
            self.token_ttl = secs(d, name)?;
        }
        if self.token_ttl > 0 && self.token_max_ttl > 0 && self.token_ttl > self.token_max_ttl {
            return invalid("'token_ttl' cannot be greater than 'token_max_ttl'");
        }
        if let Some(v) = fields::boolean(d, "token_strictly_bind_ip")? {
            self.token_strictly_bind_ip = v;
        }
        if self.token_strictly_bind_ip && !self.token_bound_cidrs.is_empty() {
            return invalid(
                "'token_strictly_bind_ip' conflicts with 'token_bound_cidrs'; set only one",
            );
        }
        if self.token_type.is_empty() {
            self.token_type = "default".into();
        }
        Ok(())
    }

    /// `PopulateTokenData`, plus the legacy names that were written through them.
    pub(crate) fn populate(&self, out: &mut Data) {
        let cidrs: Vec<String> = self
            .token_bound_cidrs
            .iter()
            .map(|c| display_cidr(c))
            .collect();
        let token_type = match self.token_type.as_str() {
            "" => "default",
            t => t,
        };
        let fields = json!({
            "token_bound_cidrs": cidrs,
            "token_explicit_max_ttl": self.token_explicit_max_ttl,
            "token_max_ttl": self.token_max_ttl,
            "token_no_default_policy": self.token_no_default_policy,
            "token_period": self.token_period,
            "token_policies": self.token_policies,
            "token_type": token_type,
            "token_ttl": self.token_ttl,
            "token_num_uses": self.token_num_uses,
            "token_strictly_bind_ip": self.token_strictly_bind_ip,
        });
        out.extend(crate::logical::object(fields));
        for (legacy, current) in LEGACY {
            if self.legacy.contains(*legacy) {
                let v = out.get(*current).cloned().unwrap_or(Value::Null);
                out.insert((*legacy).to_owned(), v);
            }
        }
    }

    /// `PopulateTokenAuth`: the login these settings make, from `remote` (for
    /// `token_strictly_bind_ip`). Policies, metadata and names are the caller's to add.
    pub(crate) fn login(&self, remote: Option<IpAddr>) -> Login {
        let bound_cidrs = match (self.token_strictly_bind_ip, remote) {
            (true, Some(ip)) => vec![IpNet::from(ip).to_string()],
            _ => self.token_bound_cidrs.clone(),
        };
        Login {
            policies: self.token_policies.clone(),
            no_default_policy: self.token_no_default_policy,
            ttl: self.token_ttl,
            max_ttl: self.token_max_ttl,
            explicit_max_ttl: self.token_explicit_max_ttl,
            period: self.token_period,
            num_uses: self.token_num_uses,
            bound_cidrs,
            renewable: true,
            token_type: self.token_type.clone(),
            ..Login::default()
        }
    }
}

/// The name a field arrives under: its current one, or else its legacy one (`true`).
fn pick(d: &Data, current: &'static str) -> Option<(&'static str, bool)> {
    if d.get(current).is_some_and(|v| !v.is_null()) {
        return Some((current, false));
    }
    let legacy = LEGACY.iter().find(|(_, c)| *c == current)?.0;
    d.get(legacy)
        .is_some_and(|v| !v.is_null())
        .then_some((legacy, true))
}

fn secs(d: &Data, field: &str) -> Result<u64, EngineError> {
    Ok(fields::duration(d, field)?.map_or(0, |v| v.as_secs()))
}

/// `policyutil.ParsePolicies`: trimmed, lower-cased, de-duplicated, sorted, without empties.
pub(crate) fn parse_policies(list: &[String]) -> Vec<String> {
    let set: BTreeSet<String> = list
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    set.into_iter().collect()
}

/// `policyutil.EquivalentPolicies`: the same set, `default` aside, compared as tokens hold
/// the names (trimmed, lower-cased). Renewals refuse a token whose method's policies moved.
pub(crate) fn equivalent_policies(a: &[String], b: &[String]) -> bool {
    let set = |p: &[String]| -> BTreeSet<String> {
        parse_policies(p)
            .into_iter()
            .filter(|p| p != "default")
            .collect()
    };
    set(a) == set(b)
}

/// What a method's `renew_login` answers once it has looked up what the login came through
/// (`found`: the user's, role's or entry's token settings, if it still exists): refused
/// with `missing` when it is gone, or when `same_policies` and its policies moved away from
/// the token's; else its current settings.
pub(crate) fn renewal(
    found: Option<&TokenParams>,
    token_policies: &[String],
    same_policies: bool,
    missing: impl FnOnce() -> String,
) -> Result<Option<Login>, EngineError> {
    let Some(params) = found else {
        return Err(EngineError::InvalidRequest(missing()));
    };
    if same_policies && !equivalent_policies(&params.token_policies, token_policies) {
        return invalid("policies have changed, not renewing");
    }
    Ok(Some(params.login(None)))
}

/// CIDR blocks (or bare addresses, meaning one host) in canonical form.
pub(crate) fn parse_cidrs(list: &[String]) -> Result<Vec<String>, EngineError> {
    list.iter()
        .map(|raw| {
            let raw = raw.trim();
            parse_cidr(raw).map(|n| n.to_string()).ok_or_else(|| {
                EngineError::InvalidRequest(format!("invalid CIDR or address {raw:?}"))
            })
        })
        .collect()
}

fn parse_cidr(raw: &str) -> Option<IpNet> {
    raw.parse::<IpNet>()
        .ok()
        .or_else(|| raw.parse::<IpAddr>().ok().map(IpNet::from))
}

/// A single-host block prints as the bare address, as OpenBao's `SockAddrMarshaler` does.
pub(crate) fn display_cidr(c: &str) -> String {
    match c.parse::<IpNet>() {
        Ok(n) if n.prefix_len() == n.max_prefix_len() => n.addr().to_string(),
        _ => c.to_owned(),
    }
}

/// Is `remote` inside one of `cidrs`? No restriction when the list is empty; an unknown
/// remote address is refused when there is one.
pub(crate) fn remote_allowed(cidrs: &[String], remote: Option<IpAddr>) -> bool {
    if cidrs.is_empty() {
        return true;
    }
    let Some(ip) = remote else {
        return false;
    };
    cidrs
        .iter()
        .filter_map(|c| parse_cidr(c))
        .any(|n| n.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(v: Value) -> Data {
        crate::logical::object(v)
    }

    #[test]
    fn legacy_names_apply_only_without_current_ones() {
        let mut p = TokenParams::default();
        p.update(&data(
            json!({"policies": "B, a", "ttl": "1h", "max_ttl": 7200}),
        ))
        .expect("ok");
        assert_eq!(p.token_policies, vec!["a", "b"]);
        assert_eq!((p.token_ttl, p.token_max_ttl), (3600, 7200));
        let mut out = Data::new();
        p.populate(&mut out);
        assert_eq!(out["policies"], json!(["a", "b"]));
        assert_eq!(out["ttl"], json!(3600));
        assert!(!out.contains_key("period"));

        p.update(&data(json!({"token_policies": "c", "policies": "d"})))
            .expect("ok");
        assert_eq!(p.token_policies, vec!["c"]);
        let mut out = Data::new();
        p.populate(&mut out);
        assert!(
            !out.contains_key("policies"),
            "current name wins and drops the echo"
        );
        assert_eq!(out["token_type"], json!("default"));
        assert_eq!(out["token_bound_cidrs"], json!([]));
    }

    #[test]
    fn invalid_combinations_are_refused_with_openbao_texts() {
        let err = |v: Value| {
            TokenParams::default()
                .update(&data(v))
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(
            err(json!({"token_ttl": 7200, "token_max_ttl": 3600})),
            "'token_ttl' cannot be greater than 'token_max_ttl'"
        );
        assert_eq!(
            err(json!({"token_num_uses": -1})),
            "'token_num_uses' cannot be negative"
        );
        assert_eq!(
            err(json!({"token_type": "weird"})),
            "invalid 'token_type' value \"weird\""
        );
        assert!(err(json!({"token_bound_cidrs": "nonsense"})).contains("nonsense"));
        assert!(err(json!({"token_type": "batch", "token_period": 60})).contains("periodic"));
    }

    #[test]
    fn policies_are_equivalent_as_sets_without_default() {
        let v = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(equivalent_policies(
            &v(&["Admin", "b"]),
            &v(&["b", "admin", "default"])
        ));
        assert!(!equivalent_policies(&v(&["a"]), &v(&["a", "b"])));
        assert!(equivalent_policies(&v(&[]), &v(&["default"])));
    }

    #[test]
    fn cidrs_match_and_print_like_openbao() {
        let cidrs = parse_cidrs(&["127.0.0.1".into(), "10.0.0.0/8".into()]).expect("ok");
        assert_eq!(display_cidr(&cidrs[0]), "127.0.0.1");
        assert_eq!(display_cidr(&cidrs[1]), "10.0.0.0/8");
        assert!(remote_allowed(
            &cidrs,
            Some("10.1.2.3".parse().expect("ip"))
        ));
        assert!(!remote_allowed(
            &cidrs,
            Some("192.168.0.1".parse().expect("ip"))
        ));
        assert!(!remote_allowed(&cidrs, None));
        assert!(remote_allowed(&[], None));
    }

    #[test]
    fn strictly_bound_logins_take_the_remote_address() {
        let mut p = TokenParams::default();
        p.update(&data(json!({"token_strictly_bind_ip": true})))
            .expect("ok");
        let login = p.login(Some("127.0.0.5".parse().expect("ip")));
        assert_eq!(login.bound_cidrs, vec!["127.0.0.5/32"]);
        assert!(login.renewable);
    }
}

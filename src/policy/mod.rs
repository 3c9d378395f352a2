//! ACL policies: their text (HCL or JSON), the rules they hold, and the decision a set of
//! them makes about one request.
//!
//! - [`parse`]: text → [`Policy`], with OpenBao's validation and error texts.
//! - [`acl`]: the policies of one token merged into an [`Acl`], and its decisions, which
//!   follow OpenBao's `vault/policy/acl.go` rule for rule (exact, list fallback, `*` prefix,
//!   `+` segments and their priority order, merging, parameters, wrapping TTLs).
//! - [`store`]: policies behind the barrier, with the built-in `default` and `root`, and a
//!   cache of parsed policies and merged ACLs that every write clears, so a change reaches
//!   every token on its next request.
//!
//! May not touch: tokens, the router or engines. The pipeline asks, this answers.

pub(crate) mod acl;
pub(crate) mod parse;
pub mod public;
pub(crate) mod store;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::Duration;

use bitflags::bitflags;

pub(crate) use acl::{Acl, AclRequest};
pub(crate) use store::{PolicyStore, PREFIX};

bitflags! {
    /// Capabilities, with OpenBao's bit order (which decides nothing here but is kept so the
    /// list order of `Acl::capabilities` can follow OpenBao's code).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub(crate) struct Caps: u16 {
        const DENY = 1;
        const CREATE = 1 << 1;
        const READ = 1 << 2;
        const UPDATE = 1 << 3;
        const DELETE = 1 << 4;
        const LIST = 1 << 5;
        const SUDO = 1 << 6;
        const PATCH = 1 << 7;
        const SCAN = 1 << 8;
    }
}

impl Caps {
    pub(crate) fn named(name: &str) -> Option<Caps> {
        Some(match name {
            "deny" => Caps::DENY,
            "create" => Caps::CREATE,
            "read" => Caps::READ,
            "update" => Caps::UPDATE,
            "delete" => Caps::DELETE,
            "list" => Caps::LIST,
            "sudo" => Caps::SUDO,
            "patch" => Caps::PATCH,
            "scan" => Caps::SCAN,
            _ => return None,
        })
    }
}

/// One value a policy lists for a parameter. Only strings (with `*` globs) and booleans can
/// ever match what a client sends: OpenBao compares other values with Go's `DeepEqual`
/// against JSON numbers decoded as `json.Number`, which never equal a policy's numbers.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ParamValue {
    Str(String),
    Bool(bool),
    Other,
}

/// What a rule grants on its path.
#[derive(Clone, Debug, Default)]
pub(crate) struct Perms {
    pub(crate) caps: Caps,
    pub(crate) min_wrapping_ttl: Duration,
    pub(crate) max_wrapping_ttl: Duration,
    /// Keys lower-cased; an empty list means "any value".
    pub(crate) allowed: HashMap<String, Vec<ParamValue>>,
    pub(crate) denied: HashMap<String, Vec<ParamValue>>,
    /// As written (lower-cased only when checked, as OpenBao does).
    pub(crate) required: Vec<String>,
}

/// One `path "..." { ... }` block.
#[derive(Clone, Debug)]
pub(crate) struct PathRule {
    /// Without a trailing `*` for plain prefix rules; segment-wildcard rules keep it.
    pub(crate) path: String,
    pub(crate) is_prefix: bool,
    pub(crate) has_segment_wildcards: bool,
    /// A path with an identity template (`{{identity.entity.id}}`), which renders to
    /// nothing for a token without an entity, so it never matches.
    pub(crate) templated: bool,
    /// `expiration`: the rule grants nothing from then on.
    pub(crate) expiration: Option<time::OffsetDateTime>,
    pub(crate) perms: Perms,
}

/// A parsed policy.
#[derive(Clone, Debug)]
pub(crate) struct Policy {
    pub(crate) name: String,
    pub(crate) rules: Vec<PathRule>,
}

/// OpenBao's built-in `default` policy, verbatim: clients and operators read it back and
/// diff it.
pub(crate) const DEFAULT_POLICY: &str = r#"
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own entity by id or name
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}


# Allow a token to look up its resultant ACL from all policies. This is useful
# for UIs. It is an internal path because the format may change at any time
# based on how the internal ACL features and capabilities change.
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Allow a token to renew a lease via lease_id in the request body; old path for
# old clients, new path for newer
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Allow looking up lease properties. This requires knowing the lease ID ahead
# of time and does not divulge any sensitive information.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow a token to wrap arbitrary values in a response-wrapping token
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow a token to look up the creation time and TTL of a given
# response-wrapping token
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# Allow a token to unwrap a response-wrapping token. This is a convenience to
# avoid client token swapping since this is also part of the response wrapping
# policy.
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Allow general purpose tools
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Allow a token to make requests to the Authorization Endpoint for OIDC providers.
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
"#;

/// The fixed policy of response-wrapping tokens: they can read their cubbyhole and unwrap.
pub(crate) const RESPONSE_WRAPPING_POLICY: &str = r#"
path "cubbyhole/response" {
    capabilities = ["create", "read"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}
"#;

pub(crate) const ROOT: &str = "root";
pub(crate) const DEFAULT: &str = "default";
pub(crate) const RESPONSE_WRAPPING: &str = "response-wrapping";

/// Policy names are case-insensitive: OpenBao stores them lower-cased and trimmed.
pub(crate) fn sanitize_name(name: &str) -> String {
    name.trim().to_lowercase()
}

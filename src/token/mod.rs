//! The token store: token records under the system view `sys/token/`.
//!
//! Token ids are never stored. A record's key is the token id salted with a per-cluster
//! secret salt (`"h" + hex(HMAC-SHA256(salt, id))`, as OpenBao does for dotted ids), so the
//! data directory holds nothing that authenticates, and a lookup never compares the presented
//! token with a stored one byte by byte. Policy evaluation is not in here: a record carries
//! policy *names* and the pipeline decides.
//!
//! - [`store`]: the records (`id/<salted id>`, `accessor/<salted accessor>`,
//!   `parent/<salted parent>/<salted child>`, `roles/<name>`), creation, use counts,
//!   renewal, tree revocation and expiry.
//! - `backend`: the `auth/token/` engine over the store.

mod backend;
mod create;
mod roles;
mod store;
#[cfg(test)]
pub(crate) mod tests;
mod wrapping;

pub(crate) use backend::TokenBackend;
pub(crate) use create::{
    auth_block, calculate_ttl, create_login, not_renewable, ttl_left, TtlInputs,
};
pub(crate) use roles::Role;
pub(crate) use store::{nanos, RevokeHook, TokenStore};

use hmac::{Hmac, Mac};
use rand::{distributions::Alphanumeric, Rng};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The view prefix the store owns.
pub(crate) const PREFIX: &str = "sys/token/";
const SALT_KEY: &str = "salt";

/// A stored token record. It holds the salted id (for the constant-time check) but never the
/// id itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct TokenEntry {
    pub(crate) salted_id: String,
    pub(crate) accessor: String,
    pub(crate) policies: Vec<String>,
    pub(crate) path: String,
    pub(crate) display_name: String,
    /// Unix seconds.
    pub(crate) creation_time: i64,
    /// The parent's salted id; empty for an orphan.
    #[serde(default)]
    pub(crate) parent: String,
    #[serde(default)]
    pub(crate) meta: Option<std::collections::BTreeMap<String, String>>,
    /// Uses left; 0 is unlimited, -1 means the last one was spent and revocation is due.
    #[serde(default)]
    pub(crate) num_uses: i64,
    /// The TTL given at creation, seconds; 0 never expires (root tokens).
    #[serde(default)]
    pub(crate) ttl: u64,
    #[serde(default)]
    pub(crate) explicit_max_ttl: u64,
    #[serde(default)]
    pub(crate) period: u64,
    #[serde(default)]
    pub(crate) renewable: bool,
    /// Unix nanoseconds: when it was issued, when it expires (none: never), last renewed.
    #[serde(default)]
    pub(crate) issue_ns: i64,
    #[serde(default)]
    pub(crate) expire_ns: Option<i64>,
    #[serde(default)]
    pub(crate) last_renewal_ns: Option<i64>,
    /// The token role it was created from, if any.
    #[serde(default)]
    pub(crate) role: String,
    /// The TTL last granted (at creation or renewal), seconds: what a renewal without an
    /// increment asks for again, as OpenBao keeps it in the lease's `auth`.
    #[serde(default)]
    pub(crate) lease_ttl: u64,
    /// No lease was registered for it (the root token made by `sys/init`): lookups show no
    /// `issue_time` or `renewable`, and renewal answers `invalid lease ID`.
    #[serde(default)]
    pub(crate) no_lease: bool,
    /// The auth method's max TTL for a login token (`token_max_ttl`), seconds; renewals are
    /// capped by it as by the mount's. 0: none beyond the mount's.
    #[serde(default)]
    pub(crate) max_ttl: u64,
    /// CIDR blocks the token may be used from; empty: anywhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) bound_cidrs: Vec<String>,
    /// A login token's alias in its auth method (user name, role id), for renewals.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) alias: String,
    /// The accessor of the auth mount that issued a login token: its renewals ask that
    /// mount, wherever it has moved since.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) mount_accessor: String,
}

impl TokenEntry {
    pub(crate) fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }

    pub(crate) fn is_orphan(&self) -> bool {
        self.parent.is_empty()
    }

    /// Expired at `now_ns` (unix nanoseconds)? As OpenBao's `ExpireTime.Before(now)`: a
    /// token is still good at the very nanosecond it expires.
    pub(crate) fn expired(&self, now_ns: i64) -> bool {
        self.expire_ns.is_some_and(|e| e < now_ns)
    }

    /// A revocation is under way or due (the last use was spent).
    pub(crate) fn revocation_pending(&self) -> bool {
        self.num_uses < 0
    }

    /// The lease id OpenBao gives a token's lease: its creation path and salted id.
    pub(crate) fn lease_id(&self) -> String {
        format!("{}/{}", self.path, self.salted_id)
    }
}

/// A token that passed the pipeline's token step.
#[derive(Clone, Debug)]
pub(crate) struct Authenticated {
    pub(crate) entry: std::sync::Arc<TokenEntry>,
    /// This request spent the token's last use: revoke it when the request is done.
    pub(crate) last_use: bool,
}

/// The secret salt that turns token ids into storage keys.
#[derive(Clone)]
struct Salt(Zeroizing<Vec<u8>>);

impl Salt {
    fn generate() -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; 32]);
        rand::thread_rng().fill(&mut bytes[..]);
        Salt(bytes)
    }

    fn salt_id(&self, id: &str) -> String {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("hmac takes any key length");
        mac.update(id.as_bytes());
        format!("h{}", hex::encode(mac.finalize().into_bytes()))
    }
}

/// A fresh service token id in OpenBao's format: `s.` and 24 base62 characters.
pub(crate) fn generate_id() -> Zeroizing<String> {
    Zeroizing::new(format!("s.{}", random_base62(24)))
}

pub(crate) fn random_base62(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// The plaintext records (relative to [`PREFIX`]) that `sys/init` writes: the salt and the
/// root token's record. Returned rather than written so init can persist them in the same
/// atomic batch as the seal configuration and the keyring.
pub(crate) fn init_records(root_id: &str) -> Vec<(String, Zeroizing<Vec<u8>>)> {
    let salt = Salt::generate();
    // `sys/init` runs before any clock is handed out; its records are stamped with real time.
    let now = time::OffsetDateTime::now_utc();
    let accessor = random_base62(24);
    let entry = TokenEntry {
        salted_id: salt.salt_id(root_id),
        accessor: accessor.clone(),
        policies: vec!["root".into()],
        path: "auth/token/root".into(),
        display_name: "root".into(),
        creation_time: now.unix_timestamp(),
        parent: String::new(),
        meta: None,
        num_uses: 0,
        ttl: 0,
        explicit_max_ttl: 0,
        period: 0,
        renewable: false,
        issue_ns: nanos(now),
        expire_ns: None,
        last_renewal_ns: None,
        role: String::new(),
        lease_ttl: 0,
        no_lease: true,
        max_ttl: 0,
        bound_cidrs: Vec::new(),
        alias: String::new(),
        mount_accessor: String::new(),
    };
    let record = Zeroizing::new(serde_json::to_vec(&entry).unwrap_or_default());
    let accessor_record = Zeroizing::new(store::accessor_record(&entry));
    vec![
        (SALT_KEY.into(), salt.0.clone()),
        (format!("id/{}", entry.salted_id), record),
        (
            format!("accessor/{}", salt.salt_id(&accessor)),
            accessor_record,
        ),
    ]
}

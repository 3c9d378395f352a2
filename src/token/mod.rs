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
mod store;
mod wrapping;

pub(crate) use backend::TokenBackend;
pub(crate) use create::{renew, Role};
pub(crate) use store::{nanos, spawn_expiry_worker, TokenStore};

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
}

impl TokenEntry {
    pub(crate) fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }

    pub(crate) fn is_orphan(&self) -> bool {
        self.parent.is_empty()
    }

    /// Expired at `now_ns` (unix nanoseconds)?
    pub(crate) fn expired(&self, now_ns: i64) -> bool {
        self.expire_ns.is_some_and(|e| e <= now_ns)
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

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The plaintext records (relative to [`PREFIX`]) that `sys/init` writes: the salt and the
/// root token's record. Returned rather than written so init can persist them in the same
/// atomic batch as the seal configuration and the keyring.
pub(crate) fn init_records(root_id: &str) -> Vec<(String, Zeroizing<Vec<u8>>)> {
    let salt = Salt::generate();
    let entry = TokenEntry {
        salted_id: salt.salt_id(root_id),
        accessor: random_base62(24),
        policies: vec!["root".into()],
        path: "auth/token/root".into(),
        display_name: "root".into(),
        creation_time: now_unix(),
        parent: String::new(),
        meta: None,
        num_uses: 0,
        ttl: 0,
        explicit_max_ttl: 0,
        period: 0,
        renewable: false,
        issue_ns: (time::OffsetDateTime::now_utc().unix_timestamp_nanos()) as i64,
        expire_ns: None,
        last_renewal_ns: None,
        role: String::new(),
    };
    let record = Zeroizing::new(serde_json::to_vec(&entry).unwrap_or_default());
    vec![
        (SALT_KEY.into(), salt.0.clone()),
        (format!("id/{}", entry.salted_id), record),
    ]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use seal::{Key, Keyring};

    use super::*;
    use crate::barrier::Barrier;
    use crate::logical::storage::Storage;

    async fn store_with_root(root: &str) -> (Arc<storage::MemBackend>, TokenStore) {
        let mem = Arc::new(storage::MemBackend::new());
        let barrier = Arc::new(Barrier::new(mem.clone(), Keyring::new(Key::generate())));
        let view = barrier.view(PREFIX);
        for (k, v) in init_records(root) {
            view.put(&k, &v).await.expect("put");
        }
        let clock: std::sync::Arc<dyn crate::engine::Clock> =
            std::sync::Arc::new(crate::engine::SystemClock);
        (mem, TokenStore::load(view, clock).await.expect("load"))
    }

    #[tokio::test]
    async fn root_token_is_found_and_others_are_not() {
        let id = generate_id();
        let (_mem, store) = store_with_root(&id).await;
        let entry = store.lookup(&id).await.expect("lookup").expect("found");
        assert!(entry.is_root());
        assert_eq!(entry.path, "auth/token/root");
        assert!(store.lookup("s.notatoken").await.expect("lookup").is_none());
        assert!(store.lookup("").await.expect("lookup").is_none());
    }

    #[tokio::test]
    async fn the_token_id_is_not_in_storage() {
        let id = generate_id();
        let (mem, _store) = store_with_root(&id).await;
        for key in storage::Backend::list(&*mem, "sys/token/id/")
            .await
            .expect("list")
        {
            assert!(!key.contains(id.as_str()));
        }
    }

    #[test]
    fn ids_have_openbao_shape() {
        let id = generate_id();
        assert_eq!(id.len(), 26);
        assert!(id.starts_with("s."));
        assert!(id[2..].chars().all(|c| c.is_ascii_alphanumeric()));
    }
}

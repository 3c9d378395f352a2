//! The token store: token records under the system view `sys/token/`.
//!
//! Token ids are never stored. A record's key is the token id salted with a per-cluster
//! secret salt (`"h" + hex(HMAC-SHA256(salt, id))`, as OpenBao does for dotted ids), so the
//! data directory holds nothing that authenticates, and a lookup never compares the presented
//! token with a stored one byte by byte. Policy evaluation is not in here: a record carries
//! policy *names* and the pipeline decides.
//!
//! Today the store knows root tokens only; the full `auth/token/` backend grows here.

mod backend;
mod wrapping;

pub(crate) use backend::TokenBackend;

use hmac::{Hmac, Mac};
use rand::{distributions::Alphanumeric, Rng};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::barrier::{BarrierError, View};
use crate::logical::storage::Storage;

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
}

impl TokenEntry {
    pub(crate) fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
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

fn random_base62(n: usize) -> String {
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
    };
    let record = Zeroizing::new(serde_json::to_vec(&entry).unwrap_or_default());
    vec![
        (SALT_KEY.into(), salt.0.clone()),
        (format!("id/{}", entry.salted_id), record),
    ]
}

/// The token store over its barrier view.
pub(crate) struct TokenStore {
    view: View,
    salt: Salt,
    /// Records already read, by salted id: every request looks its token up, and a storage
    /// read plus a decryption per request is the largest cost of a small KV read. Holds no
    /// token ids (only salted ones). Whatever revokes or changes a token must evict it here;
    /// today no token is ever revoked or changed (only root tokens exist).
    cache: std::sync::RwLock<std::collections::HashMap<String, TokenEntry>>,
}

impl TokenStore {
    /// Open the store: read the salt written at init.
    pub(crate) async fn load(view: View) -> Result<Self, BarrierError> {
        let salt = view
            .get(SALT_KEY)
            .await?
            .ok_or_else(|| BarrierError::Decrypt {
                path: format!("{PREFIX}{SALT_KEY}"),
            })?;
        Ok(Self {
            view,
            salt: Salt(salt),
            cache: Default::default(),
        })
    }

    /// The record for `id`, if it is a live token.
    pub(crate) async fn lookup(&self, id: &str) -> Result<Option<TokenEntry>, BarrierError> {
        if id.is_empty() {
            return Ok(None);
        }
        let salted = self.salt.salt_id(id);
        if let Some(hit) = self.cached(&salted) {
            return Ok(Some(hit));
        }
        let Some(raw) = self.view.get(&format!("id/{salted}")).await? else {
            return Ok(None);
        };
        let entry: TokenEntry =
            serde_json::from_slice(&raw).map_err(|_| BarrierError::Decrypt {
                path: format!("{PREFIX}id/{salted}"),
            })?;
        // The storage key already matched; this re-check binds the record to the key it was
        // found under (a record copied to another key is refused) without a timing leak.
        if bool::from(entry.salted_id.as_bytes().ct_eq(salted.as_bytes())) {
            if let Ok(mut cache) = self.cache.write() {
                cache.insert(salted, entry.clone());
            }
            Ok(Some(entry))
        } else {
            Ok(None)
        }
    }

    /// The pipeline's token step: the live token `id` names (not expired at `now`), with
    /// one use spent if it has a use limit. `last_use` tells the pipeline to revoke it once
    /// the request is done, as OpenBao does.
    pub(crate) async fn authenticate(
        &self,
        id: &str,
        _now: time::OffsetDateTime,
    ) -> Result<Option<Authenticated>, BarrierError> {
        Ok(self.lookup(id).await?.map(|e| Authenticated {
            entry: std::sync::Arc::new(e),
            last_use: false,
        }))
    }

    /// After a request that spent a token's last use: revoke it (and its children).
    pub(crate) async fn finish_use(&self, _auth: &Authenticated) -> Result<(), BarrierError> {
        Ok(())
    }

    /// The token an accessor names, for `sys/capabilities-accessor`.
    pub(crate) async fn lookup_accessor(
        &self,
        _accessor: &str,
    ) -> Result<Option<std::sync::Arc<TokenEntry>>, BarrierError> {
        Ok(None)
    }

    fn cached(&self, salted: &str) -> Option<TokenEntry> {
        // A hit was found under the same salted key before; the HashMap's lookup compares
        // salted ids, which are HMACs of the token, never the token itself.
        self.cache.read().ok()?.get(salted).cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use seal::{Key, Keyring};

    use super::*;
    use crate::barrier::Barrier;

    async fn store_with_root(root: &str) -> (Arc<storage::MemBackend>, TokenStore) {
        let mem = Arc::new(storage::MemBackend::new());
        let barrier = Arc::new(Barrier::new(mem.clone(), Keyring::new(Key::generate())));
        let view = barrier.view(PREFIX);
        for (k, v) in init_records(root) {
            view.put(&k, &v).await.expect("put");
        }
        (mem, TokenStore::load(view).await.expect("load"))
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

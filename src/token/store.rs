//! The token records and everything that changes them: creation, use counts, renewal,
//! revocation of whole subtrees, and expiry.
//!
//! Every key is salted: `id/<salted id>` holds the entry, `accessor/<salted accessor>` the
//! salted id and the accessor, `parent/<salted parent>/<salted child>` the tree. A token id
//! is never written anywhere.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, OnceLock, RwLock};

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{Authenticated, Salt, TokenEntry, PREFIX, SALT_KEY};
use crate::barrier::{BarrierError, View};
use crate::engine::Clock;
use crate::logical::storage::{Storage, StorageOp};

/// Revocations walk at most this many tokens per call, so a pathological tree cannot stall
/// a request forever; what is left is revoked by the next call or the expiry worker.
const MAX_REVOKE: usize = 100_000;

#[derive(Serialize, Deserialize)]
struct AccessorRecord {
    salted_id: String,
    accessor: String,
}

pub(crate) struct TokenStore {
    pub(super) view: View,
    pub(super) salt: Salt,
    pub(super) clock: Arc<dyn Clock>,
    /// Records already read, by salted id (never by token id): every request looks its token
    /// up. Every change to a record goes through `write_entry` or `remove`, which update it.
    pub(super) cache: RwLock<HashMap<String, TokenEntry>>,
    /// Expiry times → salted ids, for the expiry worker.
    expiries: RwLock<BTreeSet<(i64, String)>>,
    /// Serialises read-modify-write of records (use counts, renewals, revocations).
    writer: tokio::sync::Mutex<()>,
    /// The cubbyhole mount's storage: a revoked token's cubbyhole goes with it.
    cubbyhole: OnceLock<View>,
}

pub(crate) fn nanos(t: OffsetDateTime) -> i64 {
    t.unix_timestamp_nanos() as i64
}

impl TokenStore {
    /// Open the store: read the salt written at init and index every expiry.
    pub(crate) async fn load(view: View, clock: Arc<dyn Clock>) -> Result<Self, BarrierError> {
        let salt = view
            .get(SALT_KEY)
            .await?
            .ok_or_else(|| BarrierError::Decrypt {
                path: format!("{PREFIX}{SALT_KEY}"),
            })?;
        let store = Self {
            view,
            salt: Salt(salt),
            clock,
            cache: Default::default(),
            expiries: Default::default(),
            writer: tokio::sync::Mutex::new(()),
            cubbyhole: OnceLock::new(),
        };
        for salted in store.view.list("id/").await? {
            if let Some(e) = store.read(&salted).await? {
                if let Some(at) = e.expire_ns {
                    store.index_expiry(at, &e.salted_id);
                }
            }
        }
        Ok(store)
    }

    /// Where revoked tokens' cubbyholes are cleared (set once the router is loaded).
    pub(crate) fn set_cubbyhole(&self, view: View) {
        let _ = self.cubbyhole.set(view);
    }

    pub(crate) fn salted(&self, id: &str) -> String {
        self.salt.salt_id(id)
    }

    fn now_ns(&self) -> i64 {
        nanos(self.clock.now())
    }

    fn index_expiry(&self, at: i64, salted: &str) {
        if let Ok(mut x) = self.expiries.write() {
            x.insert((at, salted.to_owned()));
        }
    }

    /// The record stored under a salted id, live or not.
    pub(crate) async fn read(&self, salted: &str) -> Result<Option<TokenEntry>, BarrierError> {
        if let Some(hit) = self.cache.read().ok().and_then(|c| c.get(salted).cloned()) {
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
        if !bool::from(entry.salted_id.as_bytes().ct_eq(salted.as_bytes())) {
            return Ok(None);
        }
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(salted.to_owned(), entry.clone());
        }
        Ok(Some(entry))
    }

    /// The record of a live token by salted id: not expired, no revocation pending.
    pub(crate) async fn live(&self, salted: &str) -> Result<Option<TokenEntry>, BarrierError> {
        let now = self.now_ns();
        Ok(self
            .read(salted)
            .await?
            .filter(|e| !e.expired(now) && e.num_uses >= 0))
    }

    /// The record for `id`, if it is a live token. Spends no use.
    pub(crate) async fn lookup(&self, id: &str) -> Result<Option<TokenEntry>, BarrierError> {
        if id.is_empty() {
            return Ok(None);
        }
        self.live(&self.salt.salt_id(id)).await
    }

    /// The pipeline's token step: the live token `id` names, with one use spent if it has a
    /// use limit. The request that spends the last use still runs; `last_use` tells the
    /// pipeline to revoke the token afterwards, as OpenBao does.
    pub(crate) async fn authenticate(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, BarrierError> {
        if id.is_empty() {
            return Ok(None);
        }
        let salted = self.salt.salt_id(id);
        let Some(entry) = self.read(&salted).await? else {
            return Ok(None);
        };
        if entry.expired(nanos(now)) || entry.num_uses < 0 {
            return Ok(None);
        }
        if entry.num_uses == 0 {
            return Ok(Some(Authenticated {
                entry: Arc::new(entry),
                last_use: false,
            }));
        }
        let _w = self.writer.lock().await;
        // Re-read under the lock: another request may have spent a use meanwhile.
        let Some(mut entry) = self.read(&salted).await? else {
            return Ok(None);
        };
        if entry.num_uses < 0 {
            return Ok(None);
        }
        let last_use = entry.num_uses == 1;
        entry.num_uses = if last_use { -1 } else { entry.num_uses - 1 };
        self.write_entry(&entry).await?;
        Ok(Some(Authenticated {
            entry: Arc::new(entry),
            last_use,
        }))
    }

    /// After a request that spent a token's last use: revoke it and its children.
    pub(crate) async fn finish_use(&self, auth: &Authenticated) -> Result<(), BarrierError> {
        self.revoke_tree(&auth.entry.salted_id).await.map(|_| ())
    }

    /// The token an accessor names.
    pub(crate) async fn lookup_accessor(
        &self,
        accessor: &str,
    ) -> Result<Option<Arc<TokenEntry>>, BarrierError> {
        if accessor.is_empty() {
            return Ok(None);
        }
        let key = format!("accessor/{}", self.salt.salt_id(accessor));
        let Some(raw) = self.view.get(&key).await? else {
            return Ok(None);
        };
        let Ok(rec) = serde_json::from_slice::<AccessorRecord>(&raw) else {
            return Ok(None);
        };
        Ok(self.live(&rec.salted_id).await?.map(Arc::new))
    }

    /// Every accessor of a stored token, for `auth/token/accessors`.
    pub(crate) async fn accessors(&self) -> Result<Vec<String>, BarrierError> {
        let mut out = Vec::new();
        for key in self.view.list("accessor/").await? {
            if let Some(raw) = self.view.get(&format!("accessor/{key}")).await? {
                if let Ok(rec) = serde_json::from_slice::<AccessorRecord>(&raw) {
                    out.push(rec.accessor);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Persist a changed record (cache and expiry index follow).
    pub(crate) async fn write_entry(&self, entry: &TokenEntry) -> Result<(), BarrierError> {
        let bytes = Zeroizing::new(serde_json::to_vec(entry).unwrap_or_default());
        self.view
            .put(&format!("id/{}", entry.salted_id), &bytes)
            .await?;
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(entry.salted_id.clone(), entry.clone());
        }
        if let Some(at) = entry.expire_ns {
            self.index_expiry(at, &entry.salted_id);
        }
        Ok(())
    }

    /// Store a new token: its record, accessor index and parent link in one batch.
    pub(crate) async fn insert(&self, entry: &TokenEntry) -> Result<(), BarrierError> {
        let record = serde_json::to_vec(entry).unwrap_or_default();
        let accessor = serde_json::to_vec(&AccessorRecord {
            salted_id: entry.salted_id.clone(),
            accessor: entry.accessor.clone(),
        })
        .unwrap_or_default();
        let mut ops = vec![
            StorageOp::Put(format!("id/{}", entry.salted_id), record),
            StorageOp::Put(
                format!("accessor/{}", self.salt.salt_id(&entry.accessor)),
                accessor,
            ),
        ];
        if !entry.parent.is_empty() {
            ops.push(StorageOp::Put(
                format!("parent/{}/{}", entry.parent, entry.salted_id),
                Vec::new(),
            ));
        }
        self.view.batch(Vec::new(), ops).await?;
        if let Some(at) = entry.expire_ns {
            self.index_expiry(at, &entry.salted_id);
        }
        Ok(())
    }

    /// Revoke a token and every descendant, breadth first. Returns how many were revoked.
    pub(crate) async fn revoke_tree(&self, salted: &str) -> Result<usize, BarrierError> {
        let _w = self.writer.lock().await;
        let mut queue = VecDeque::from([salted.to_owned()]);
        let mut done = 0;
        while let Some(next) = queue.pop_front() {
            if done >= MAX_REVOKE {
                break;
            }
            for child in self.view.list(&format!("parent/{next}/")).await? {
                queue.push_back(child);
            }
            self.remove(&next).await?;
            done += 1;
        }
        Ok(done)
    }

    /// `revoke-orphan`: revoke one token, its children become orphans.
    pub(crate) async fn revoke_orphan(&self, salted: &str) -> Result<(), BarrierError> {
        let _w = self.writer.lock().await;
        for child in self.view.list(&format!("parent/{salted}/")).await? {
            if let Some(mut e) = self.read(&child).await? {
                e.parent.clear();
                self.write_entry(&e).await?;
            }
        }
        self.remove(salted).await
    }

    /// Delete one token's records, its cubbyhole and its link to its parent.
    async fn remove(&self, salted: &str) -> Result<(), BarrierError> {
        let entry = self.read(salted).await?;
        let mut ops = vec![StorageOp::Delete(format!("id/{salted}"))];
        for child in self.view.list(&format!("parent/{salted}/")).await? {
            ops.push(StorageOp::Delete(format!("parent/{salted}/{child}")));
        }
        if let Some(e) = &entry {
            ops.push(StorageOp::Delete(format!(
                "accessor/{}",
                self.salt.salt_id(&e.accessor)
            )));
            if !e.parent.is_empty() {
                ops.push(StorageOp::Delete(format!("parent/{}/{salted}", e.parent)));
            }
        }
        self.view.batch(Vec::new(), ops).await?;
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(salted);
        }
        if let Some(at) = entry.and_then(|e| e.expire_ns) {
            if let Ok(mut x) = self.expiries.write() {
                x.remove(&(at, salted.to_owned()));
            }
        }
        if let Some(cubby) = self.cubbyhole.get() {
            crate::logical::storage::delete_tree(cubby, &format!("{salted}/")).await?;
        }
        Ok(())
    }

    /// Revoke every token that expired by `now`. The expiry worker calls this; tests call
    /// it with a clock they move. Returns how many tokens were revoked.
    pub(crate) async fn expire_due(&self, now: OffsetDateTime) -> Result<usize, BarrierError> {
        let now = nanos(now);
        let due: Vec<(i64, String)> = match self.expiries.read() {
            Ok(x) => x.iter().take_while(|(at, _)| *at <= now).cloned().collect(),
            Err(_) => Vec::new(),
        };
        let mut revoked = 0;
        for (at, salted) in due {
            if let Ok(mut x) = self.expiries.write() {
                x.remove(&(at, salted.clone()));
            }
            // Renewed since it was indexed: a later entry in the index covers it.
            match self.read(&salted).await? {
                Some(e) if e.expired(now) => revoked += self.revoke_tree(&salted).await?,
                _ => {}
            }
        }
        Ok(revoked)
    }

    /// When the next indexed expiry falls, if any.
    pub(crate) fn next_expiry(&self) -> Option<i64> {
        self.expiries.read().ok()?.iter().next().map(|(at, _)| *at)
    }

    /// Every live token whose lease id starts with `prefix` (`sys/leases/revoke-prefix`,
    /// `lookup/<prefix>`).
    pub(crate) async fn with_lease_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<TokenEntry>, BarrierError> {
        let mut out = Vec::new();
        for salted in self.view.list("id/").await? {
            if let Some(e) = self.live(&salted).await? {
                if e.ttl > 0 && e.lease_id().starts_with(prefix) {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    /// Roles.
    pub(crate) async fn role(&self, name: &str) -> Result<Option<super::Role>, BarrierError> {
        let Some(raw) = self.view.get(&format!("roles/{name}")).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&raw).ok())
    }

    pub(crate) async fn put_role(&self, role: &super::Role) -> Result<(), BarrierError> {
        let bytes = serde_json::to_vec(role).unwrap_or_default();
        self.view.put(&format!("roles/{}", role.name), &bytes).await
    }

    pub(crate) async fn delete_role(&self, name: &str) -> Result<(), BarrierError> {
        self.view.delete(&format!("roles/{name}")).await
    }

    pub(crate) async fn roles(&self) -> Result<Vec<String>, BarrierError> {
        let mut r = self.view.list("roles/").await?;
        r.sort();
        Ok(r)
    }
}

/// The expiry worker: revokes tokens as they expire, for as long as the store lives (it
/// holds only a weak handle, so sealing, which drops the store, ends it).
pub(crate) fn spawn_expiry_worker(store: &Arc<TokenStore>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(store);
    tokio::spawn(async move {
        loop {
            let Some(store) = weak.upgrade() else { return };
            let now = store.clock.now();
            if let Err(e) = store.expire_due(now).await {
                tracing::warn!(error = %e, "token expiry failed; retrying");
            }
            // Wake for the next expiry, but at least once a second (a renewal or a new
            // token may bring the next one closer).
            let wait = store
                .next_expiry()
                .map(|at| ((at - nanos(store.clock.now())).max(0) as u64).min(1_000_000_000))
                .unwrap_or(1_000_000_000);
            drop(store);
            tokio::time::sleep(std::time::Duration::from_nanos(wait.max(10_000_000))).await;
        }
    })
}

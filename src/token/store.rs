//! The token records and everything that changes them: creation, use counts, renewal,
//! revocation of whole subtrees, and expiry.
//!
//! Every key is salted: `id/<salted id>` holds the entry, `accessor/<salted accessor>` the
//! salted id and the accessor, `parent/<salted parent>/<salted child>` the tree. A token id
//! is never written anywhere.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, OnceLock, RwLock};

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{Authenticated, Salt, TokenEntry, PREFIX, SALT_KEY};
use crate::barrier::{BarrierError, View};
use crate::engine::{BoxFuture, Clock};
use crate::logical::storage::{Storage, StorageOp};

#[derive(Serialize, Deserialize)]
struct AccessorRecord {
    salted_id: String,
    accessor: String,
}

/// The `accessor/<salted accessor>` record of a token: its salted id (never the id).
pub(super) fn accessor_record(entry: &TokenEntry) -> Vec<u8> {
    serde_json::to_vec(&AccessorRecord {
        salted_id: entry.salted_id.clone(),
        accessor: entry.accessor.clone(),
    })
    .unwrap_or_default()
}

/// Told of every revoked token (by salted id) before its record goes, so what hangs off a
/// token (its secret leases) goes with it. The expiration manager registers one.
pub(crate) trait RevokeHook: Send + Sync {
    fn revoked<'a>(&'a self, salted_id: &'a str) -> BoxFuture<'a, Result<(), BarrierError>>;
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
    /// Told of each revocation (the expiration manager: the token's secret leases go too).
    hook: OnceLock<Arc<dyn RevokeHook>>,
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
            hook: OnceLock::new(),
        };
        for salted in store.view.list("id/").await? {
            if let Some(e) = store.read(&salted).await? {
                if e.revocation_pending() {
                    // A revocation (or a last use) was under way when the server stopped:
                    // finish it at the first tick.
                    store.index_expiry(i64::MIN, &e.salted_id);
                } else if let Some(at) = e.expire_ns {
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

    /// Who is told of revocations (set once, by the expiration manager).
    pub(crate) fn set_revoke_hook(&self, hook: Arc<dyn RevokeHook>) {
        let _ = self.hook.set(hook);
    }

    pub(crate) fn salted(&self, id: &str) -> String {
        self.salt.salt_id(id)
    }

    /// The store's clock (the one tests move).
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.clock.now()
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
            .filter(|e| !e.expired(now) && !e.revocation_pending()))
    }

    /// The record for `id` whatever its state (expired, last use spent), as OpenBao's
    /// "tainted" lookup: what `auth/token/lookup*` shows.
    pub(crate) async fn lookup_tainted(
        &self,
        id: &str,
    ) -> Result<Option<TokenEntry>, BarrierError> {
        if id.is_empty() {
            return Ok(None);
        }
        self.read(&self.salt.salt_id(id)).await
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
    ///
    /// A token bound to CIDR blocks is no token at all from `remote` outside them, and
    /// that is decided before a use is spent: a stolen bound token cannot be burnt from
    /// elsewhere.
    pub(crate) async fn authenticate(
        &self,
        id: &str,
        now: OffsetDateTime,
        remote: Option<std::net::IpAddr>,
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
        if !crate::auth::tokenutil::remote_allowed(&entry.bound_cidrs, remote) {
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

    /// The salted id an accessor's record points at, whatever the token's state.
    async fn accessor_target(&self, accessor: &str) -> Result<Option<String>, BarrierError> {
        if accessor.is_empty() {
            return Ok(None);
        }
        let key = format!("accessor/{}", self.salt.salt_id(accessor));
        let Some(raw) = self.view.get(&key).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice::<AccessorRecord>(&raw)
            .ok()
            .map(|r| r.salted_id))
    }

    /// The live token an accessor names.
    pub(crate) async fn lookup_accessor(
        &self,
        accessor: &str,
    ) -> Result<Option<Arc<TokenEntry>>, BarrierError> {
        let Some(salted) = self.accessor_target(accessor).await? else {
            return Ok(None);
        };
        Ok(self.live(&salted).await?.map(Arc::new))
    }

    /// The token an accessor names, whatever its state (`lookup-accessor` shows it).
    pub(crate) async fn lookup_accessor_tainted(
        &self,
        accessor: &str,
    ) -> Result<Option<TokenEntry>, BarrierError> {
        match self.accessor_target(accessor).await? {
            Some(salted) => self.read(&salted).await,
            None => Ok(None),
        }
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
        let mut ops = vec![
            StorageOp::Put(format!("id/{}", entry.salted_id), record),
            StorageOp::Put(
                format!("accessor/{}", self.salt.salt_id(&entry.accessor)),
                accessor_record(entry),
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

    /// Revoke a token and every descendant. The token is marked revoked first (no request
    /// may use it from then on); then the tree is walked depth first, children before
    /// parents, as OpenBao's `revokeTreeInternal` does, so a walk cut short by a storage
    /// error leaves every remaining token still linked below a marked one, and the next
    /// call (or the expiry worker) finishes it. Cycles are cut. Returns the salted ids
    /// revoked, for whoever keeps per-token state.
    pub(crate) async fn revoke_tree(&self, salted: &str) -> Result<Vec<String>, BarrierError> {
        let _w = self.writer.lock().await;
        self.mark_pending(salted).await?;
        let mut stack = vec![salted.to_owned()];
        let mut seen: HashSet<String> = HashSet::new();
        let mut revoked = Vec::new();
        while let Some(top) = stack.last().cloned() {
            seen.insert(top.clone());
            let mut children = Vec::new();
            for child in self.view.list(&format!("parent/{top}/")).await? {
                if seen.contains(&child) {
                    tracing::warn!("token cycle found; cutting it");
                    self.view.delete(&format!("parent/{top}/{child}")).await?;
                } else {
                    children.push(child);
                }
            }
            if children.is_empty() {
                self.remove(&top).await?;
                revoked.push(top);
                stack.pop();
            } else {
                stack.extend(children);
            }
        }
        Ok(revoked)
    }

    /// Revoke every token an auth mount issued (its accessor is on each login token, so a
    /// remount does not hide them), with their children. Returns how many trees went.
    pub(crate) async fn revoke_issued_by(&self, accessor: &str) -> Result<usize, BarrierError> {
        let mut n = 0;
        for e in self.leased().await? {
            if e.mount_accessor == accessor {
                self.revoke_tree(&e.salted_id).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Mark a token as being revoked (OpenBao's `tokenRevocationPending`).
    async fn mark_pending(&self, salted: &str) -> Result<(), BarrierError> {
        if let Some(mut e) = self.read(salted).await? {
            if !e.revocation_pending() {
                e.num_uses = -1;
                self.write_entry(&e).await?;
            }
        }
        Ok(())
    }

    /// `revoke-orphan`: revoke one token; its children become orphans.
    pub(crate) async fn revoke_orphan(&self, salted: &str) -> Result<(), BarrierError> {
        let _w = self.writer.lock().await;
        self.mark_pending(salted).await?;
        for child in self.view.list(&format!("parent/{salted}/")).await? {
            if let Some(mut e) = self.read(&child).await? {
                e.parent.clear();
                self.write_entry(&e).await?;
            }
            self.view
                .delete(&format!("parent/{salted}/{child}"))
                .await?;
        }
        self.remove(salted).await
    }

    /// Delete one token: first what hangs off it (cubbyhole, leases), then its accessor,
    /// its link to its parent and its record.
    async fn remove(&self, salted: &str) -> Result<(), BarrierError> {
        let entry = self.read(salted).await?;
        if let Some(cubby) = self.cubbyhole.get() {
            crate::logical::storage::delete_tree(cubby, &format!("{salted}/")).await?;
        }
        if let Some(hook) = self.hook.get() {
            hook.revoked(salted).await?;
        }
        let mut ops = Vec::new();
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
        ops.push(StorageOp::Delete(format!("id/{salted}")));
        self.view.batch(Vec::new(), ops).await?;
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(salted);
        }
        if let Some(at) = entry.and_then(|e| e.expire_ns) {
            if let Ok(mut x) = self.expiries.write() {
                x.remove(&(at, salted.to_owned()));
            }
        }
        Ok(())
    }

    /// Revoke every token that expired by `now` (and finish revocations left pending). The
    /// expiration manager's tick calls this; tests call it with a clock they move. Returns
    /// how many tokens were revoked.
    pub(crate) async fn expire_due(&self, now: OffsetDateTime) -> Result<usize, BarrierError> {
        let now = nanos(now);
        let due: Vec<(i64, String)> = match self.expiries.read() {
            Ok(x) => x.iter().take_while(|(at, _)| *at < now).cloned().collect(),
            Err(_) => Vec::new(),
        };
        let mut revoked = 0;
        for (at, salted) in due {
            // Renewed since it was indexed: its later entry in the index covers it.
            let expired = matches!(self.read(&salted).await?,
                Some(e) if e.expired(now) || (at == i64::MIN && e.revocation_pending()));
            if expired {
                revoked += self.revoke_tree(&salted).await?.len();
            }
            if let Ok(mut x) = self.expiries.write() {
                x.remove(&(at, salted.clone()));
            }
        }
        Ok(revoked)
    }

    /// When the next indexed expiry falls, if any.
    pub(crate) fn next_expiry(&self) -> Option<i64> {
        self.expiries.read().ok()?.iter().next().map(|(at, _)| *at)
    }

    /// Every stored token that has a lease, live or not (`sys/leases` looks at these).
    pub(crate) async fn leased(&self) -> Result<Vec<TokenEntry>, BarrierError> {
        let mut out = Vec::new();
        for salted in self.view.list("id/").await? {
            if let Some(e) = self.read(&salted).await? {
                if !e.no_lease {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    /// The token whose lease id this is (`<path>/<salted id>`), whatever its state.
    pub(crate) async fn by_lease_id(
        &self,
        lease_id: &str,
    ) -> Result<Option<TokenEntry>, BarrierError> {
        let Some((_, salted)) = lease_id.rsplit_once('/') else {
            return Ok(None);
        };
        if salted.is_empty() || salted.contains('.') {
            return Ok(None);
        }
        Ok(self
            .read(salted)
            .await?
            .filter(|e| !e.no_lease && e.lease_id() == lease_id))
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

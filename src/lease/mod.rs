//! The expiration manager: every lease, when it ends, and what ends it.
//!
//! Two kinds of lease, as in OpenBao:
//! - **token leases** (`auth/token/create/<salted id>`): the token store's records carry
//!   their times (issue, expiry, last renewal), so the lease *is* the token record; the
//!   token store indexes their expiries and this manager's tick revokes them.
//! - **secret leases** (`<request path>/<24 base62>`), for dynamic secrets: a
//!   [`LeaseEntry`] under `sys/expire/id/<lease id>`, indexed by the token that obtained it
//!   under `sys/expire/token/<salted token>/<salted lease>`. An engine registers one with
//!   [`ExpirationManager::register_secret`]; when it ends, the [`SecretRevoker`] the core
//!   installed is asked to revoke it at its backend. Failed revocations are retried six
//!   times with exponential backoff from 10 s, then the lease is marked irrevocable (only
//!   `revoke-force` removes it), as OpenBao does.
//!
//! Time comes from the injected clock only: [`ExpirationManager::tick`] does all the work at
//! a given instant, the worker ([`spawn_worker`]) just calls it, and tests call it with a
//! clock they move. Everything is restored from storage at unseal ([`ExpirationManager::load`]).

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::barrier::{BarrierError, View};
use crate::engine::{BoxFuture, Clock, MountInfo};
use crate::logical::storage::{list_tree, Storage, StorageOp};
use crate::logical::Data;
use crate::token::{nanos, random_base62, RevokeHook, TokenEntry, TokenStore};

/// The view prefix the manager owns.
pub(crate) const PREFIX: &str = "sys/expire/";

const NANOS: i64 = 1_000_000_000;
/// OpenBao's `maxRevokeAttempts` and `revokeRetryBase`.
const MAX_REVOKE_ATTEMPTS: u32 = 6;
const REVOKE_RETRY_BASE: Duration = Duration::from_secs(10);

/// A secret lease as stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct LeaseEntry {
    pub(crate) lease_id: String,
    /// The request path that made the secret (`database/creds/app`): its mount revokes it.
    pub(crate) path: String,
    /// The salted id of the token that obtained it ("" when none): revoked with it.
    #[serde(default)]
    pub(crate) client_salted: String,
    /// What the backend needs to revoke or renew the secret (its internal data).
    #[serde(default)]
    pub(crate) internal: Option<Data>,
    #[serde(default)]
    pub(crate) renewable: bool,
    /// Seconds: the TTL last granted, and the cap counted from `issue_ns`.
    #[serde(default)]
    pub(crate) ttl: u64,
    #[serde(default)]
    pub(crate) max_ttl: u64,
    pub(crate) issue_ns: i64,
    #[serde(default)]
    pub(crate) expire_ns: Option<i64>,
    #[serde(default)]
    pub(crate) last_renewal_ns: Option<i64>,
    /// Set once revocation failed for good (OpenBao's `RevokeErr`).
    #[serde(default)]
    pub(crate) revoke_err: String,
}

/// What a lease lookup tells about a lease of either kind.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LeaseInfo {
    pub(crate) lease_id: String,
    pub(crate) path: String,
    pub(crate) issue_ns: i64,
    pub(crate) expire_ns: Option<i64>,
    pub(crate) last_renewal_ns: Option<i64>,
    pub(crate) renewable: bool,
    pub(crate) revoke_err: String,
    pub(crate) is_token: bool,
}

/// Revokes secrets at their backends; installed by the core once engines issue secrets.
pub(crate) trait SecretRevoker: Send + Sync {
    fn revoke<'a>(&'a self, lease: &'a LeaseEntry) -> BoxFuture<'a, Result<(), String>>;
}

/// Why a lease operation was refused; the texts are OpenBao's.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LeaseError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] BarrierError),
}

impl From<LeaseError> for crate::engine::EngineError {
    fn from(e: LeaseError) -> Self {
        match e {
            LeaseError::Invalid(m) => crate::engine::EngineError::InvalidRequest(m),
            LeaseError::Storage(s) => crate::engine::EngineError::Storage(s),
        }
    }
}

/// A revocation that failed and waits for its next attempt.
#[derive(Clone, Debug)]
struct Retry {
    attempts: u32,
}

pub(crate) struct ExpirationManager {
    view: View,
    tokens: Arc<TokenStore>,
    clock: Arc<dyn Clock>,
    /// Secret lease expiries (or retry times) → lease ids.
    pending: RwLock<BTreeSet<(i64, String)>>,
    retries: RwLock<std::collections::HashMap<String, Retry>>,
    revoker: OnceLock<Arc<dyn SecretRevoker>>,
    /// Serialises changes to lease records.
    writer: tokio::sync::Mutex<()>,
}

/// The token store's revocation hook: a revoked token's secret leases go with it.
struct Hook(Weak<ExpirationManager>);

impl RevokeHook for Hook {
    fn revoked<'a>(&'a self, salted_id: &'a str) -> BoxFuture<'a, Result<(), BarrierError>> {
        Box::pin(async move {
            match self.0.upgrade() {
                Some(m) => m.revoke_by_token(salted_id).await,
                None => Ok(()),
            }
        })
    }
}

fn at_ns(t: OffsetDateTime) -> i64 {
    nanos(t)
}

impl ExpirationManager {
    /// Open the manager over `view` (`sys/expire/`): index every secret lease's expiry and
    /// hook into the token store's revocations. Token expiries were indexed by the token
    /// store's own load.
    pub(crate) async fn load(
        view: View,
        tokens: Arc<TokenStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, BarrierError> {
        let m = Arc::new(Self {
            view,
            tokens: tokens.clone(),
            clock,
            pending: Default::default(),
            retries: Default::default(),
            revoker: OnceLock::new(),
            writer: tokio::sync::Mutex::new(()),
        });
        for rel in list_tree(&m.view, "id/").await? {
            if let Some(le) = m.read(&rel).await? {
                if le.revoke_err.is_empty() {
                    if let Some(at) = le.expire_ns {
                        m.index(at, &le.lease_id);
                    }
                }
            }
        }
        tokens.set_revoke_hook(Arc::new(Hook(Arc::downgrade(&m))));
        Ok(m)
    }

    /// Who revokes secrets at their backends (set once by the core).
    #[allow(dead_code)] // for the engines that will issue secrets
    pub(crate) fn set_revoker(&self, revoker: Arc<dyn SecretRevoker>) {
        let _ = self.revoker.set(revoker);
    }

    #[allow(dead_code)] // for the engines that will issue secrets
    pub(crate) fn tokens(&self) -> &Arc<TokenStore> {
        &self.tokens
    }

    fn index(&self, at: i64, lease_id: &str) {
        if let Ok(mut p) = self.pending.write() {
            p.insert((at, lease_id.to_owned()));
        }
    }

    fn unindex(&self, lease_id: &str) {
        if let Ok(mut p) = self.pending.write() {
            p.retain(|(_, id)| id != lease_id);
        }
    }

    async fn read(&self, lease_id: &str) -> Result<Option<LeaseEntry>, BarrierError> {
        let Some(raw) = self.view.get(&format!("id/{lease_id}")).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&raw).ok())
    }

    fn token_index_key(&self, client_salted: &str, lease_id: &str) -> String {
        format!(
            "token/{client_salted}/{}",
            self.tokens.salted(&format!("lease:{lease_id}"))
        )
    }

    async fn persist(&self, le: &LeaseEntry) -> Result<(), BarrierError> {
        let bytes = serde_json::to_vec(le).unwrap_or_default();
        self.view.put(&format!("id/{}", le.lease_id), &bytes).await
    }

    /// Register a dynamic secret's lease, as OpenBao's `ExpirationManager.Register`: `path`
    /// is the request path, `client_salted` the obtaining token's salted id, `ttl` the TTL
    /// the backend granted (already capped) and `max_ttl` the cap from now. Returns the
    /// stored entry; its `lease_id` goes into the response.
    #[allow(dead_code)] // for the engines that will issue secrets
    pub(crate) async fn register_secret(
        &self,
        path: &str,
        client_salted: &str,
        internal: Option<Data>,
        renewable: bool,
        ttl: Duration,
        max_ttl: Duration,
    ) -> Result<LeaseEntry, LeaseError> {
        if path.contains("..") {
            return Err(LeaseError::Invalid(
                "path cannot contain parent references".into(),
            ));
        }
        let now = at_ns(self.clock.now());
        let le = LeaseEntry {
            lease_id: format!("{}/{}", path.trim_end_matches('/'), random_base62(24)),
            path: path.to_owned(),
            client_salted: client_salted.to_owned(),
            internal,
            renewable,
            ttl: ttl.as_secs(),
            max_ttl: max_ttl.as_secs(),
            issue_ns: now,
            expire_ns: (ttl > Duration::ZERO).then(|| now + ttl.as_nanos() as i64),
            last_renewal_ns: None,
            revoke_err: String::new(),
        };
        let _w = self.writer.lock().await;
        let mut ops = vec![StorageOp::Put(
            format!("id/{}", le.lease_id),
            serde_json::to_vec(&le).unwrap_or_default(),
        )];
        if !client_salted.is_empty() {
            ops.push(StorageOp::Put(
                self.token_index_key(client_salted, &le.lease_id),
                le.lease_id.clone().into_bytes(),
            ));
        }
        self.view.batch(Vec::new(), ops).await?;
        if let Some(at) = le.expire_ns {
            self.index(at, &le.lease_id);
        }
        Ok(le)
    }

    /// A lease of either kind, for `sys/leases/lookup`.
    pub(crate) async fn lookup(&self, lease_id: &str) -> Result<Option<LeaseInfo>, LeaseError> {
        let now = at_ns(self.clock.now());
        if let Some(e) = self.tokens.by_lease_id(lease_id).await? {
            return Ok(Some(token_info(&e, now)));
        }
        Ok(self.read(lease_id).await?.map(|le| LeaseInfo {
            renewable: secret_not_renewable(&le, now).is_none(),
            lease_id: le.lease_id,
            path: le.path,
            issue_ns: le.issue_ns,
            expire_ns: le.expire_ns,
            last_renewal_ns: le.last_renewal_ns,
            revoke_err: le.revoke_err,
            is_token: false,
        }))
    }

    /// `LIST sys/leases/lookup/<prefix>`: the next segments of every lease id below it
    /// (folders end in `/`), as a storage listing of OpenBao's lease view shows them.
    pub(crate) async fn list(&self, prefix: &str) -> Result<Vec<String>, LeaseError> {
        let mut prefix = prefix.to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        let mut keys: BTreeSet<String> = self
            .view
            .list(&format!("id/{prefix}"))
            .await?
            .into_iter()
            .collect();
        for e in self.tokens.leased().await? {
            let id = e.lease_id();
            if let Some(rest) = id.strip_prefix(&prefix) {
                keys.insert(match rest.split_once('/') {
                    Some((dir, _)) => format!("{dir}/"),
                    None => rest.to_owned(),
                });
            }
        }
        Ok(keys.into_iter().collect())
    }

    /// `sys/leases/renew`: secret leases only, as OpenBao (tokens renew at
    /// `auth/token/renew*`). Returns the entry with its new TTL and the capping warnings.
    pub(crate) async fn renew(
        &self,
        lease_id: &str,
        increment: Option<Duration>,
    ) -> Result<(LeaseEntry, Vec<String>), LeaseError> {
        let now_t = self.clock.now();
        let now = at_ns(now_t);
        if let Some(e) = self.tokens.by_lease_id(lease_id).await? {
            if let Some(why) = crate::token::not_renewable(&e, now) {
                return Err(LeaseError::Invalid(why.into()));
            }
            return Err(LeaseError::Invalid(
                "tokens cannot be renewed through this endpoint".into(),
            ));
        }
        let _w = self.writer.lock().await;
        let Some(mut le) = self.read(lease_id).await? else {
            return Err(LeaseError::Invalid("lease not found".into()));
        };
        if let Some(why) = secret_not_renewable(&le, now) {
            return Err(LeaseError::Invalid(why.into()));
        }
        let mount = MountInfo {
            default_lease_ttl: Duration::from_secs(le.ttl),
            max_lease_ttl: Duration::from_secs(le.max_ttl.max(1)),
        };
        let (ttl, warnings) = crate::token::calculate_ttl(
            &mount,
            &crate::token::TtlInputs {
                increment: increment.map_or(0, |i| i.as_secs()),
                backend_ttl: le.ttl,
                period: 0,
                backend_max_ttl: 0,
                explicit_max_ttl: 0,
                start: le.issue_ns.div_euclid(NANOS),
                now: now_t.unix_timestamp(),
            },
        )
        .map_err(|e| LeaseError::Invalid(e.to_string()))?;
        if let Some(old) = le.expire_ns {
            if let Ok(mut p) = self.pending.write() {
                p.remove(&(old, le.lease_id.clone()));
            }
        }
        le.ttl = ttl;
        le.expire_ns = Some(now + ttl as i64 * NANOS);
        le.last_renewal_ns = Some(now);
        self.persist(&le).await?;
        if let Some(at) = le.expire_ns {
            self.index(at, &le.lease_id);
        }
        Ok((le, warnings))
    }

    /// `sys/leases/revoke`: revoke one lease now. A token lease revokes the token's tree.
    /// An unknown lease is not an error.
    pub(crate) async fn revoke(&self, lease_id: &str) -> Result<(), LeaseError> {
        if let Some(e) = self.tokens.by_lease_id(lease_id).await? {
            self.tokens.revoke_tree(&e.salted_id).await?;
            return Ok(());
        }
        let Some(le) = self.read(lease_id).await? else {
            return Ok(());
        };
        self.revoke_secret(le, false).await.map_err(|e| match e {
            RevokeFailure::Backend(m) => {
                LeaseError::Invalid(format!("failed to revoke lease: {m}"))
            }
            RevokeFailure::Storage(s) => LeaseError::Storage(s),
        })
    }

    /// `revoke-prefix/<prefix>` (and `revoke-force`, which removes secret leases whose
    /// backend refuses to revoke them). Token leases below the prefix revoke their trees.
    pub(crate) async fn revoke_prefix(&self, prefix: &str, force: bool) -> Result<(), LeaseError> {
        let mut prefix = prefix.to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        for e in self.tokens.leased().await? {
            if e.lease_id().starts_with(&prefix) {
                self.tokens.revoke_tree(&e.salted_id).await?;
            }
        }
        for rel in list_tree(&self.view, &format!("id/{prefix}")).await? {
            let id = format!("{prefix}{rel}");
            if let Some(le) = self.read(&id).await? {
                match self.revoke_secret(le, force).await {
                    Ok(()) => {}
                    Err(RevokeFailure::Storage(s)) => return Err(s.into()),
                    Err(RevokeFailure::Backend(m)) => {
                        return Err(LeaseError::Invalid(format!("failed to revoke {id:?}: {m}")))
                    }
                }
            }
        }
        Ok(())
    }

    /// Revoke a secret lease at its backend and drop its records; `force` drops them even
    /// when the backend fails.
    async fn revoke_secret(&self, le: LeaseEntry, force: bool) -> Result<(), RevokeFailure> {
        let result = match self.revoker.get() {
            Some(r) => r.revoke(&le).await,
            None => Err("no backend is registered to revoke this lease".into()),
        };
        if let Err(m) = result {
            if !force {
                return Err(RevokeFailure::Backend(m));
            }
            tracing::warn!(lease_id = %le.lease_id, error = %m, "revoke-force: dropping lease");
        }
        self.delete(&le).await.map_err(RevokeFailure::Storage)
    }

    async fn delete(&self, le: &LeaseEntry) -> Result<(), BarrierError> {
        let _w = self.writer.lock().await;
        let mut ops = vec![StorageOp::Delete(format!("id/{}", le.lease_id))];
        if !le.client_salted.is_empty() {
            ops.push(StorageOp::Delete(
                self.token_index_key(&le.client_salted, &le.lease_id),
            ));
        }
        self.view.batch(Vec::new(), ops).await?;
        self.unindex(&le.lease_id);
        if let Ok(mut r) = self.retries.write() {
            r.remove(&le.lease_id);
        }
        Ok(())
    }

    /// A token was revoked: its secret leases expire now (the next tick revokes them at
    /// their backends), as OpenBao's `RevokeByToken`.
    async fn revoke_by_token(&self, salted: &str) -> Result<(), BarrierError> {
        let now = at_ns(self.clock.now());
        let index = format!("token/{salted}/");
        for key in self.view.list(&index).await? {
            let Some(raw) = self.view.get(&format!("{index}{key}")).await? else {
                continue;
            };
            let lease_id = String::from_utf8_lossy(&raw).into_owned();
            if let Some(mut le) = self.read(&lease_id).await? {
                if le.revoke_err.is_empty() {
                    if let Some(old) = le.expire_ns {
                        if let Ok(mut p) = self.pending.write() {
                            p.remove(&(old, le.lease_id.clone()));
                        }
                    }
                    le.expire_ns = Some(now);
                    // The index entry goes now: the token it points from is gone.
                    le.client_salted.clear();
                    self.persist(&le).await?;
                    self.index(now - 1, &le.lease_id);
                }
            }
            self.view.delete(&format!("{index}{key}")).await?;
        }
        Ok(())
    }

    /// Do everything due at `now`: revoke expired tokens (their trees) and expired secret
    /// leases, retrying failed revocations with backoff. The worker calls this; tests call
    /// it with a clock they move. Returns how many leases (tokens and secrets) ended.
    pub(crate) async fn tick(&self, now: OffsetDateTime) -> Result<usize, BarrierError> {
        let mut ended = self.tokens.expire_due(now).await?;
        let now_ns = at_ns(now);
        let due: Vec<(i64, String)> = match self.pending.read() {
            Ok(p) => p
                .iter()
                .take_while(|(at, _)| *at < now_ns)
                .cloned()
                .collect(),
            Err(_) => Vec::new(),
        };
        for (at, lease_id) in due {
            if let Ok(mut p) = self.pending.write() {
                p.remove(&(at, lease_id.clone()));
            }
            let Some(le) = self.read(&lease_id).await? else {
                continue;
            };
            // Renewed since it was indexed: its later entry covers it.
            if le.expire_ns.is_some_and(|x| x >= now_ns) && !self.retrying(&lease_id) {
                continue;
            }
            match self.revoke_secret(le.clone(), false).await {
                Ok(()) => ended += 1,
                Err(RevokeFailure::Storage(e)) => return Err(e),
                Err(RevokeFailure::Backend(m)) => self.revoke_failed(le, m, now_ns).await?,
            }
        }
        Ok(ended)
    }

    fn retrying(&self, lease_id: &str) -> bool {
        self.retries
            .read()
            .map(|r| r.contains_key(lease_id))
            .unwrap_or(false)
    }

    /// OpenBao's `revocationJob.OnFailure`: retry with exponential backoff, then mark the
    /// lease irrevocable.
    async fn revoke_failed(
        &self,
        mut le: LeaseEntry,
        error: String,
        now_ns: i64,
    ) -> Result<(), BarrierError> {
        let attempts = {
            let mut r = self.retries.write().unwrap_or_else(|e| e.into_inner());
            let entry = r
                .entry(le.lease_id.clone())
                .or_insert(Retry { attempts: 0 });
            entry.attempts += 1;
            entry.attempts
        };
        if attempts >= MAX_REVOKE_ATTEMPTS {
            tracing::error!(lease_id = %le.lease_id, %error, "lease is irrevocable");
            le.revoke_err = error;
            self.persist(&le).await?;
            if let Ok(mut r) = self.retries.write() {
                r.remove(&le.lease_id);
            }
            return Ok(());
        }
        let backoff = REVOKE_RETRY_BASE.as_nanos() as i64 * (1i64 << (attempts - 1));
        tracing::warn!(lease_id = %le.lease_id, %error, attempts, "lease revocation failed; retrying");
        self.index(now_ns + backoff, &le.lease_id);
        Ok(())
    }

    /// When the next lease (token or secret) is due, if any.
    pub(crate) fn next_due(&self) -> Option<i64> {
        let secret = self
            .pending
            .read()
            .ok()
            .and_then(|p| p.iter().next().map(|(at, _)| *at));
        match (secret, self.tokens.next_expiry()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// `sys/leases/tidy` and `auth/token/tidy`: sweep whatever is overdue now, and drop
    /// token indexes of secret leases that are gone.
    pub(crate) async fn tidy(&self) -> Result<usize, BarrierError> {
        let n = self.tick(self.clock.now()).await?;
        for rel in list_tree(&self.view, "token/").await? {
            let key = format!("token/{rel}");
            if let Some(raw) = self.view.get(&key).await? {
                let lease_id = String::from_utf8_lossy(&raw).into_owned();
                if self.read(&lease_id).await?.is_none() {
                    self.view.delete(&key).await?;
                }
            }
        }
        Ok(n)
    }
}

enum RevokeFailure {
    Backend(String),
    Storage(BarrierError),
}

fn secret_not_renewable(le: &LeaseEntry, now_ns: i64) -> Option<&'static str> {
    if !le.revoke_err.is_empty() {
        return Some("lease is expired and has failed previous revocation attempts");
    }
    match le.expire_ns {
        None => Some("lease is not renewable"),
        Some(at) if at < now_ns => Some("lease expired"),
        Some(_) if !le.renewable => Some("lease is not renewable"),
        Some(_) => None,
    }
}

fn token_info(e: &TokenEntry, now_ns: i64) -> LeaseInfo {
    LeaseInfo {
        lease_id: e.lease_id(),
        path: e.path.clone(),
        issue_ns: e.issue_ns,
        expire_ns: e.expire_ns,
        last_renewal_ns: e.last_renewal_ns,
        renewable: crate::token::not_renewable(e, now_ns).is_none(),
        revoke_err: String::new(),
        is_token: true,
    }
}

/// The expiry worker: calls [`ExpirationManager::tick`] when the next lease is due, and at
/// least once a second, for as long as the manager lives (it holds only a weak handle, so
/// sealing, which drops the manager, ends it).
pub(crate) fn spawn_worker(m: &Arc<ExpirationManager>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(m);
    tokio::spawn(async move {
        loop {
            let Some(m) = weak.upgrade() else { return };
            let now = m.clock.now();
            if let Err(e) = m.tick(now).await {
                tracing::warn!(error = %e, "lease expiry failed; retrying");
            }
            let wait = m
                .next_due()
                .map(|at| ((at - nanos(m.clock.now())).max(0) as u64).min(NANOS as u64))
                .unwrap_or(NANOS as u64);
            drop(m);
            tokio::time::sleep(Duration::from_nanos(wait.max(10_000_000))).await;
        }
    })
}

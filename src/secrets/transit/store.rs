//! Where key rings live: `policy/<name>` (the current versions and settings) and
//! `archive/<name>` (every version, for trimming and for moving `min_decryption_version`
//! back down), in OpenBao's layout and JSON, behind the barrier. Loaded rings are cached in
//! memory (OpenBao's `cache-config`, 0 = unbounded); every change writes storage first and
//! then swaps the cached ring, under the name's write lock.
//!
//! The cache is this node's: with one node it is always right. (Raft replication will have
//! to invalidate it on followers.)

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use super::keyring::wire::{Archive, Policy};
use super::keyring::{symmetric, KeyError, KeyRing, KeyType};
use crate::engine::EngineError;
use crate::logical::storage::Storage;

const POLICY: &str = "policy/";
const ARCHIVE: &str = "archive/";
const STRIPES: usize = 64;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<crate::barrier::BarrierError> for StoreError {
    fn from(e: crate::barrier::BarrierError) -> Self {
        Self::Engine(e.into())
    }
}

struct Cache {
    rings: HashMap<String, Arc<KeyRing>>,
    order: VecDeque<String>,
    /// 0 = unbounded.
    size: usize,
}

pub(crate) struct Store {
    cache: Mutex<Cache>,
    writes: Vec<tokio::sync::Mutex<()>>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            cache: Mutex::new(Cache {
                rings: HashMap::new(),
                order: VecDeque::new(),
                size: 0,
            }),
            writes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }
}

/// The write lock of one name: held across the read-modify-write of its ring.
pub(crate) struct WriteGuard<'a>(#[allow(dead_code)] tokio::sync::MutexGuard<'a, ()>);

impl Store {
    pub(crate) fn set_cache_size(&self, size: usize) {
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        c.size = size;
        c.rings.clear();
        c.order.clear();
    }

    fn cached(&self, name: &str) -> Option<Arc<KeyRing>> {
        let c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        c.rings.get(name).cloned()
    }

    fn remember(&self, ring: Arc<KeyRing>) {
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let name = ring.policy.name.clone();
        if c.rings.insert(name.clone(), ring).is_none() {
            c.order.push_back(name);
        }
        while c.size > 0 && c.rings.len() > c.size {
            let Some(old) = c.order.pop_front() else {
                break;
            };
            c.rings.remove(&old);
        }
    }

    fn forget(&self, name: &str) {
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if c.rings.remove(name).is_some() {
            c.order.retain(|n| n != name);
        }
    }

    pub(crate) async fn lock(&self, name: &str) -> WriteGuard<'_> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        name.hash(&mut h);
        WriteGuard(self.writes[(h.finish() as usize) % STRIPES].lock().await)
    }

    /// The ring called `name`, if there is one.
    pub(crate) async fn get(
        &self,
        storage: &dyn Storage,
        name: &str,
    ) -> Result<Option<Arc<KeyRing>>, StoreError> {
        if let Some(r) = self.cached(name) {
            return Ok(Some(r));
        }
        let _w = self.lock(name).await;
        self.get_locked(storage, name).await
    }

    /// As [`Store::get`], for a caller that holds the name's lock.
    pub(crate) async fn get_locked(
        &self,
        storage: &dyn Storage,
        name: &str,
    ) -> Result<Option<Arc<KeyRing>>, StoreError> {
        if let Some(r) = self.cached(name) {
            return Ok(Some(r));
        }
        let Some(raw) = storage.get(&format!("{POLICY}{name}")).await? else {
            return Ok(None);
        };
        let policy: Policy = serde_json::from_slice(&raw).map_err(|e| {
            KeyError::internal(format!("failed to decode stored key {name:?}: {e}"))
        })?;
        let mut ring = KeyRing::new(policy);
        if needs_upgrade(&ring.policy) {
            upgrade(&mut ring.policy);
            persist(storage, &mut ring.policy).await?;
        }
        let ring = Arc::new(ring);
        self.remember(ring.clone());
        Ok(Some(ring))
    }

    /// Store a changed ring (its archive first) and make it the one served.
    pub(crate) async fn put_locked(
        &self,
        storage: &dyn Storage,
        mut ring: KeyRing,
    ) -> Result<Arc<KeyRing>, StoreError> {
        persist(storage, &mut ring.policy).await?;
        let ring = Arc::new(ring);
        self.remember(ring.clone());
        Ok(ring)
    }

    /// Change the ring called `name` under its lock; `None` if there is none.
    pub(crate) async fn update<F>(
        &self,
        storage: &dyn Storage,
        name: &str,
        change: F,
    ) -> Result<Option<Arc<KeyRing>>, StoreError>
    where
        F: FnOnce(&mut KeyRing) -> Result<(), KeyError>,
    {
        let _w = self.lock(name).await;
        let Some(current) = self.get_locked(storage, name).await? else {
            return Ok(None);
        };
        let mut next = KeyRing::clone(&current);
        change(&mut next)?;
        Ok(Some(self.put_locked(storage, next).await?))
    }

    /// Remove a ring and its archive.
    pub(crate) async fn delete_locked(
        &self,
        storage: &dyn Storage,
        name: &str,
    ) -> Result<(), StoreError> {
        storage.delete(&format!("{POLICY}{name}")).await?;
        storage.delete(&format!("{ARCHIVE}{name}")).await?;
        self.forget(name);
        Ok(())
    }

    pub(crate) async fn list(&self, storage: &dyn Storage) -> Result<Vec<String>, StoreError> {
        Ok(storage.list(POLICY).await?)
    }

    pub(crate) async fn load_archive(
        &self,
        storage: &dyn Storage,
        name: &str,
    ) -> Result<Archive, StoreError> {
        load_archive(storage, name).await
    }

    /// Write an archive as found in a backup (restore), before its policy.
    pub(crate) async fn put_archive(
        &self,
        storage: &dyn Storage,
        name: &str,
        archive: &Archive,
    ) -> Result<(), StoreError> {
        let raw = serde_json::to_vec(archive)
            .map_err(|e| KeyError::internal(format!("failed to encode archive: {e}")))?;
        storage.put(&format!("{ARCHIVE}{name}"), &raw).await?;
        Ok(())
    }
}

async fn load_archive(storage: &dyn Storage, name: &str) -> Result<Archive, StoreError> {
    match storage.get(&format!("{ARCHIVE}{name}")).await? {
        None => Ok(Archive::default()),
        Some(raw) => Ok(serde_json::from_slice(&raw).map_err(|e| {
            KeyError::internal(format!("failed to decode archive of {name:?}: {e}"))
        })?),
    }
}

/// `NeedsUpgrade`: a policy from an older OpenBao (or a backup of one).
fn needs_upgrade(p: &Policy) -> bool {
    !p.key.is_empty()
        || (p.latest_version == 0 && !p.keys.is_empty())
        || p.min_decryption_version == 0
        || p.archive_version == 0
        || (p.convergent_encryption && p.convergent_version == 0)
        || p.keys
            .get(&p.latest_version.to_string())
            .is_some_and(|e| e.hmac_key.is_empty())
}

/// `Upgrade`, in memory; the caller persists.
fn upgrade(p: &mut Policy) {
    if !p.key.is_empty() {
        let now = OffsetDateTime::now_utc();
        let mut entry = super::keyring::wire::KeyEntry::new(now);
        entry.key = std::mem::take(&mut p.key);
        p.keys.clear();
        p.keys.insert("1".into(), entry);
    }
    if p.latest_version == 0 && !p.keys.is_empty() {
        p.latest_version = p.keys.len() as i64;
    }
    if p.min_decryption_version == 0 {
        p.min_decryption_version = 1;
    }
    if p.convergent_encryption && p.convergent_version == 0 {
        p.convergent_version = 1;
    }
    let kind = p.kind;
    if let Some(e) = p.keys.get_mut(&p.latest_version.to_string()) {
        if e.hmac_key.is_empty() {
            e.hmac_key = if kind == KeyType::Hmac {
                e.key.clone()
            } else {
                super::keyring::wire::Bytes::new(symmetric::random_bytes(32))
            };
        }
    }
}

/// `Persist`: move versions to or from the archive (`handleArchiving`), then write the
/// policy. On failure the policy is as it was.
async fn persist(storage: &dyn Storage, p: &mut Policy) -> Result<(), StoreError> {
    let before = p.clone();
    let result = persist_inner(storage, p).await;
    if result.is_err() {
        *p = before;
    }
    result
}

async fn persist_inner(storage: &dyn Storage, p: &mut Policy) -> Result<(), StoreError> {
    let has_min = p.keys.contains_key(&p.min_decryption_version.to_string());
    let fail = |s: String| Err(StoreError::Key(KeyError::internal(s)));
    if p.min_decryption_version < 1 {
        return fail(format!(
            "minimum decryption version of {} is less than 1",
            p.min_decryption_version
        ));
    }
    if p.latest_version < 1 {
        return fail(format!(
            "latest version of {} is less than 1",
            p.latest_version
        ));
    }
    if !has_min && p.archive_version != p.latest_version {
        return fail("need to move keys from archive but archive version not up-to-date".into());
    }
    if p.archive_version > p.latest_version {
        return fail(format!(
            "archive version of {} is greater than the latest version {}",
            p.archive_version, p.latest_version
        ));
    }
    if p.min_encryption_version > 0 && p.min_encryption_version < p.min_decryption_version {
        return fail(format!(
            "minimum decryption version of {} is greater than minimum encryption version {}",
            p.min_decryption_version, p.min_encryption_version
        ));
    }
    if p.min_decryption_version > p.latest_version {
        return fail(format!(
            "minimum decryption version of {} is greater than the latest version {}",
            p.min_decryption_version, p.latest_version
        ));
    }
    let mut archive = load_archive(storage, &p.name).await?;
    let bad_archive = || StoreError::Key(KeyError::internal("archive is missing key versions"));
    if !has_min {
        // Bring versions back from the archive.
        for v in p.min_decryption_version..=p.latest_version {
            let idx = usize::try_from(v - p.min_available_version).map_err(|_| bad_archive())?;
            let entry = archive.keys.get(idx).cloned().ok_or_else(bad_archive)?;
            p.keys.insert(v.to_string(), entry);
        }
    } else {
        let want = usize::try_from(p.latest_version - p.min_available_version + 1)
            .map_err(|_| bad_archive())?;
        if archive.keys.len() < want {
            archive.keys.resize(
                want,
                super::keyring::wire::KeyEntry::new(super::keyring::wire::go_time::zero()),
            );
        }
        for v in p.archive_version + 1..=p.latest_version {
            let idx = usize::try_from(v - p.min_available_version).map_err(|_| bad_archive())?;
            let entry = p
                .keys
                .get(&v.to_string())
                .cloned()
                .ok_or_else(bad_archive)?;
            archive.keys[idx] = entry;
            p.archive_version = v;
        }
        if p.archive_min_version < p.min_available_version {
            let cut = usize::try_from(p.min_available_version - p.archive_min_version)
                .map_err(|_| bad_archive())?;
            archive.keys.drain(..cut.min(archive.keys.len()));
            p.archive_min_version = p.min_available_version;
        }
        let raw = serde_json::to_vec(&archive)
            .map_err(|e| KeyError::internal(format!("failed to encode archive: {e}")))?;
        storage.put(&format!("{ARCHIVE}{}", p.name), &raw).await?;
        let first = p.latest_version - p.keys.len() as i64 + 1;
        for v in first..p.min_decryption_version {
            p.keys.remove(&v.to_string());
        }
    }
    let raw = serde_json::to_vec(&*p)
        .map_err(|e| KeyError::internal(format!("failed to encode key: {e}")))?;
    storage.put(&format!("{POLICY}{}", p.name), &raw).await?;
    Ok(())
}

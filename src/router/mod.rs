//! Which mount serves a path, and the mount table behind it.
//!
//! The table is an immutable snapshot behind an `ArcSwap`: every request resolves against
//! whatever snapshot it loaded, without a lock, and a change (mount, unmount, tune, remount)
//! builds a new snapshot and swaps it in. Changes are serialised by one async mutex, and each
//! is persisted through the barrier before it is published, so a crash never leaves a mount
//! that is served but not stored.
//!
//! Resolution is longest-prefix over whole path segments: `a/b/c` is served by `a/b/` before
//! `a/`. Mount paths may not be prefixes of one another in either direction, as in OpenBao.
//!
//! May not touch: authentication or authorisation; that is the pipeline's.

mod table;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};

use arc_swap::ArcSwap;

use crate::barrier::{Barrier, BarrierError, View};
use crate::engine::{registry, DynBackend, MountInfo, SYSTEM_DEFAULT_LEASE_TTL};
use crate::engine::{EngineError, SYSTEM_MAX_LEASE_TTL};
use crate::logical::storage::{delete_tree, Storage, StorageOp};
pub(crate) use table::{MountConfig, MountEntry, MountTable, UserLockoutConfig};

/// Where mount entries are stored, one record per uuid.
const ENTRIES: &str = "core/mounts/";

/// Why a mount-table change was refused. The texts are OpenBao's.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RouterError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] BarrierError),
}

impl From<EngineError> for RouterError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Storage(e) => RouterError::Storage(e),
            other => RouterError::Invalid(other.to_string()),
        }
    }
}

impl From<RouterError> for EngineError {
    fn from(e: RouterError) -> Self {
        match e {
            RouterError::Invalid(msg) => EngineError::InvalidRequest(msg),
            RouterError::Storage(e) => EngineError::Storage(e),
        }
    }
}

/// One live mount: its record, its engine and its storage view.
pub(crate) struct Mount {
    pub(crate) entry: MountEntry,
    pub(crate) backend: Arc<dyn DynBackend>,
    pub(crate) view: View,
    pub(crate) info: MountInfo,
}

/// A snapshot of the table.
#[derive(Default)]
struct Table {
    by_path: HashMap<String, Arc<Mount>>,
}

/// Builds the engine for an entry. The system backend needs a handle back to the router, so
/// the router asks its owner (the core) to build engines rather than knowing every kind.
pub(crate) type EngineFactory =
    dyn Fn(&MountEntry, Weak<Router>) -> Result<Arc<dyn DynBackend>, RouterError> + Send + Sync;

pub(crate) struct Router {
    barrier: Arc<Barrier>,
    entries: View,
    table: ArcSwap<Table>,
    writer: tokio::sync::Mutex<()>,
    factory: Box<EngineFactory>,
    this: Weak<Router>,
}

/// What `mount` needs besides the path and type.
#[derive(Debug, Default)]
pub(crate) struct MountRequest {
    /// `Auth` mounts the path under `auth/` (`sys/auth/<path>`).
    pub(crate) table: MountTable,
    pub(crate) kind: String,
    pub(crate) description: String,
    pub(crate) config: MountConfig,
    pub(crate) options: Option<BTreeMap<String, String>>,
    pub(crate) local: bool,
    pub(crate) seal_wrap: bool,
    pub(crate) external_entropy_access: bool,
    pub(crate) plugin_version: String,
}

/// A tune: each field that is `Some` replaces the current value.
#[derive(Debug, Default)]
pub(crate) struct Tune {
    pub(crate) description: Option<String>,
    pub(crate) default_lease_ttl: Option<u64>,
    pub(crate) max_lease_ttl: Option<u64>,
    pub(crate) options: Option<BTreeMap<String, String>>,
    pub(crate) listing_visibility: Option<String>,
    pub(crate) user_lockout: Option<UserLockoutConfig>,
    pub(crate) passthrough_request_headers: Option<Vec<String>>,
    pub(crate) allowed_response_headers: Option<Vec<String>>,
    pub(crate) audit_non_hmac_request_keys: Option<Vec<String>>,
    pub(crate) audit_non_hmac_response_keys: Option<Vec<String>>,
}

impl Router {
    /// Load the table from storage (writing the default mounts on a first unseal).
    pub(crate) async fn load(
        barrier: Arc<Barrier>,
        factory: Box<EngineFactory>,
    ) -> Result<Arc<Router>, RouterError> {
        let entries = barrier.view(ENTRIES);
        let mut records = Vec::new();
        for uuid in entries.list("").await? {
            let raw = entries.get(&uuid).await?.ok_or_else(|| {
                RouterError::Invalid(format!("mount record {uuid} vanished while loading"))
            })?;
            let entry: MountEntry = serde_json::from_slice(&raw).map_err(|e| {
                RouterError::Invalid(format!("mount record {uuid} is unreadable: {e}"))
            })?;
            records.push(entry);
        }
        let added = match records.is_empty() {
            true => MountEntry::defaults(),
            // Data written before the token store had a mount record.
            false if !records.iter().any(|e| e.kind == "token") => vec![MountEntry::token()],
            false => Vec::new(),
        };
        if !added.is_empty() {
            let ops = added
                .iter()
                .map(|e| Ok(StorageOp::Put(e.uuid.clone(), encode(e)?)))
                .collect::<Result<Vec<_>, RouterError>>()?;
            entries.batch(Vec::new(), ops).await?;
            records.extend(added);
        }
        let router = Arc::new_cyclic(|this| Router {
            barrier,
            entries,
            table: ArcSwap::from_pointee(Table::default()),
            writer: tokio::sync::Mutex::new(()),
            factory,
            this: this.clone(),
        });
        let mut table = Table::default();
        for entry in records {
            let mount = router.build(entry)?;
            table
                .by_path
                .insert(mount.entry.path.clone(), Arc::new(mount));
        }
        router.table.store(Arc::new(table));
        Ok(router)
    }

    fn build(&self, entry: MountEntry) -> Result<Mount, RouterError> {
        let backend = (self.factory)(&entry, self.this.clone())?;
        let view = self.barrier.view(&entry.view_prefix());
        let info = mount_info(&entry);
        Ok(Mount {
            entry,
            backend,
            view,
            info,
        })
    }

    /// The mount serving `path`, and the path relative to it.
    pub(crate) fn resolve(&self, path: &str) -> Option<(Arc<Mount>, String)> {
        let table = self.table.load();
        longest_prefix(&table.by_path, path)
            .map(|m| (m.clone(), path[m.entry.path.len()..].to_owned()))
    }

    /// Every secrets engine mount, sorted by path.
    pub(crate) fn mounts(&self) -> Vec<Arc<Mount>> {
        self.mounts_in(MountTable::Secret)
    }

    /// Every mount of one table, sorted by path.
    pub(crate) fn mounts_in(&self, which: MountTable) -> Vec<Arc<Mount>> {
        let table = self.table.load();
        let mut all: Vec<_> = table
            .by_path
            .values()
            .filter(|m| m.entry.table == which)
            .cloned()
            .collect();
        all.sort_by(|a, b| a.entry.path.cmp(&b.entry.path));
        all
    }

    /// The mount at exactly `path` (normalised to end in `/`).
    pub(crate) fn mount_at(&self, path: &str) -> Option<Arc<Mount>> {
        self.table.load().by_path.get(&normalize(path)).cloned()
    }

    /// `sys/mounts/<path>`: add a mount.
    /// An auth method's `path` is relative to `auth/`.
    pub(crate) async fn mount(&self, path: &str, req: MountRequest) -> Result<(), RouterError> {
        let path = match req.table {
            MountTable::Secret => {
                let path = normalize(path);
                check_mountable(&path)?;
                path
            }
            MountTable::Auth => {
                let rel = normalize(path);
                if rel == "/" || rel.split('/').any(|seg| seg == ".." || seg == ".") {
                    return Err(RouterError::Invalid(format!("invalid mount path {rel:?}")));
                }
                format!("auth/{rel}")
            }
        };
        let _writer = self.writer.lock().await;
        let current = self.table.load();
        if let Some(existing) = overlapping(&current.by_path, &path) {
            // `sys/auth` names paths below `auth/`, and so do its errors.
            let shown = match req.table {
                MountTable::Auth => existing.strip_prefix("auth/").unwrap_or(existing),
                MountTable::Secret => existing,
            };
            return Err(RouterError::Invalid(format!(
                "path is already in use at {shown}"
            )));
        }
        let mut entry = match req.table {
            MountTable::Secret => MountEntry::new(&path, &req.kind),
            MountTable::Auth => MountEntry::new_auth(&path, &req.kind),
        };
        entry.description = req.description;
        entry.config = req.config;
        entry.options = req.options;
        entry.local = req.local;
        entry.seal_wrap = req.seal_wrap;
        entry.external_entropy_access = req.external_entropy_access;
        entry.plugin_version = req.plugin_version;
        let mount = self.build(entry)?;
        self.entries
            .put(&mount.entry.uuid, &encode(&mount.entry)?)
            .await?;
        self.publish(&current, |t| {
            t.by_path.insert(path.clone(), Arc::new(mount));
        });
        tracing::info!(path = %path, "mounted");
        Ok(())
    }

    /// `DELETE sys/mounts/<path>`: remove a mount and everything it stored. Removing a
    /// mount that does not exist succeeds, as in OpenBao.
    pub(crate) async fn unmount(&self, path: &str) -> Result<(), RouterError> {
        let path = normalize(path);
        let _writer = self.writer.lock().await;
        let current = self.table.load();
        let Some(mount) = current.by_path.get(&path).cloned() else {
            return Ok(());
        };
        if mount.entry.is_builtin() {
            return Err(RouterError::Invalid(format!("cannot unmount {path:?}")));
        }
        // The record goes first: once it is gone nothing can reach the data, so a crash
        // before the data is cleared leaves only unreachable ciphertext, never a mount
        // whose data is half deleted.
        self.entries.delete(&mount.entry.uuid).await?;
        self.publish(&current, |t| {
            t.by_path.remove(&path);
        });
        delete_tree(&mount.view, "").await?;
        tracing::info!(path = %path, "unmounted");
        Ok(())
    }

    /// `sys/mounts/<path>/tune`. An options change that the engine must act on (KV v1 → v2)
    /// runs before the new settings are stored. Returns warnings for the client.
    pub(crate) async fn tune(&self, path: &str, tune: Tune) -> Result<Vec<String>, RouterError> {
        let path = normalize(path);
        let _writer = self.writer.lock().await;
        let current = self.table.load();
        let Some(mount) = current.by_path.get(&path).cloned() else {
            return Err(RouterError::Invalid(format!(
                "tune of path {path:?} failed: no mount entry found"
            )));
        };
        let mut entry = mount.entry.clone();
        // OpenBao compares the two TTLs only when the tune sets one of them: a mount made
        // with just a max below the system default stays tunable in other respects.
        let ttls_changed = tune.default_lease_ttl.is_some() || tune.max_lease_ttl.is_some();
        if let Some(d) = tune.description {
            entry.description = d;
        }
        let c = &mut entry.config;
        if let Some(v) = tune.default_lease_ttl {
            c.default_lease_ttl = v;
        }
        if let Some(v) = tune.max_lease_ttl {
            c.max_lease_ttl = v;
        }
        let or_system = |v: u64, system: std::time::Duration| match v {
            0 => system.as_secs(),
            v => v,
        };
        let (default, max) = (
            or_system(c.default_lease_ttl, SYSTEM_DEFAULT_LEASE_TTL),
            or_system(c.max_lease_ttl, SYSTEM_MAX_LEASE_TTL),
        );
        if ttls_changed && default > max {
            return Err(RouterError::Invalid(format!(
                "backend max lease TTL of {max} would be less than backend default lease TTL of {default}"
            )));
        }
        if let Some(v) = tune.listing_visibility {
            check_listing_visibility(&v)?;
            c.listing_visibility = v;
        }
        if let Some(v) = tune.user_lockout {
            c.user_lockout_config = Some(v);
        }
        if let Some(v) = tune.passthrough_request_headers {
            c.passthrough_request_headers = v;
        }
        if let Some(v) = tune.allowed_response_headers {
            c.allowed_response_headers = v;
        }
        if let Some(v) = tune.audit_non_hmac_request_keys {
            c.audit_non_hmac_request_keys = v;
        }
        if let Some(v) = tune.audit_non_hmac_response_keys {
            c.audit_non_hmac_response_keys = v;
        }
        let mut warnings = Vec::new();
        if let Some(new_options) = tune.options {
            let old = entry.options.clone().unwrap_or_default();
            let mut merged = old.clone();
            merged.extend(new_options);
            let now = time::OffsetDateTime::now_utc();
            warnings = registry::retune(&entry.kind, &old, &merged, &mount.view, now).await?;
            entry.options = Some(merged);
        }
        if entry == mount.entry {
            return Ok(warnings);
        }
        let rebuilt = self.build(entry)?;
        self.entries
            .put(&rebuilt.entry.uuid, &encode(&rebuilt.entry)?)
            .await?;
        self.publish(&current, |t| {
            t.by_path.insert(path.clone(), Arc::new(rebuilt));
        });
        Ok(warnings)
    }

    /// `sys/remount`: move a mount to a new path. The data stays where it is, since views
    /// are named by uuid, so the move is one record rewrite.
    pub(crate) async fn remount(&self, from: &str, to: &str) -> Result<(), RouterError> {
        let (from, to) = (normalize(from), normalize(to));
        let _writer = self.writer.lock().await;
        let current = self.table.load();
        let Some(mount) = current.by_path.get(&from).cloned() else {
            return Err(RouterError::Invalid(format!(
                "no matching mount at {from:?}"
            )));
        };
        // An auth method stays below `auth/`, and nothing else may move there.
        let destination_ok = match mount.entry.table {
            MountTable::Auth => {
                to.starts_with("auth/")
                    && to != "auth/"
                    && !to.split('/').any(|seg| seg == ".." || seg == ".")
            }
            MountTable::Secret => check_mountable(&to).is_ok(),
        };
        if !destination_ok {
            return Err(RouterError::Invalid(format!(
                "cannot remount to destination {to}"
            )));
        }
        if mount.entry.is_builtin() {
            return Err(RouterError::Invalid(format!("cannot remount {from:?}")));
        }
        if let Some(taken) = overlapping(&current.by_path, &to) {
            return Err(RouterError::Invalid(format!(
                "path already in use at {taken:?}"
            )));
        }
        let mut entry = mount.entry.clone();
        entry.path = to.clone();
        let moved = self.build(entry)?;
        self.entries
            .put(&moved.entry.uuid, &encode(&moved.entry)?)
            .await?;
        self.publish(&current, |t| {
            t.by_path.remove(&from);
            t.by_path.insert(to.clone(), Arc::new(moved));
        });
        tracing::info!(from = %from, to = %to, "remounted");
        Ok(())
    }

    /// Swap in a copy of `current` changed by `change`. Callers hold `writer`, so no other
    /// change can interleave between their load and this store.
    fn publish(&self, current: &Table, change: impl FnOnce(&mut Table)) {
        let mut next = Table {
            by_path: current.by_path.clone(),
        };
        change(&mut next);
        self.table.store(Arc::new(next));
    }
}

fn encode(entry: &MountEntry) -> Result<Vec<u8>, RouterError> {
    serde_json::to_vec(entry).map_err(|e| RouterError::Invalid(format!("mount record: {e}")))
}

fn mount_info(entry: &MountEntry) -> MountInfo {
    let secs = |v: u64, default: std::time::Duration| {
        if v == 0 {
            default
        } else {
            std::time::Duration::from_secs(v)
        }
    };
    MountInfo {
        default_lease_ttl: secs(entry.config.default_lease_ttl, SYSTEM_DEFAULT_LEASE_TTL),
        max_lease_ttl: secs(entry.config.max_lease_ttl, SYSTEM_MAX_LEASE_TTL),
    }
}

/// A mount path always ends in one `/`.
pub(crate) fn normalize(path: &str) -> String {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    format!("{trimmed}/")
}

/// The mount owning `path`: the longest mount path that is a whole-segment prefix of it.
fn longest_prefix<'a>(
    mounts: &'a HashMap<String, Arc<Mount>>,
    path: &str,
) -> Option<&'a Arc<Mount>> {
    path.rmatch_indices('/')
        .find_map(|(i, _)| mounts.get(&path[..=i]))
}

/// Paths a client may never mount at.
fn check_mountable(path: &str) -> Result<(), RouterError> {
    if path == "/" || path.split('/').any(|seg| seg == ".." || seg == ".") {
        return Err(RouterError::Invalid(format!("invalid mount path {path:?}")));
    }
    for reserved in ["sys/", "cubbyhole/", "identity/", "auth/"] {
        if path.starts_with(reserved) {
            return Err(RouterError::Invalid(format!("cannot mount {path:?}")));
        }
    }
    Ok(())
}

/// OpenBao's conflict rule: no mount path may be a prefix of another, either way round.
/// A mount path that `path` is a prefix of, or that is a prefix of `path`.
fn overlapping<'a>(mounts: &'a HashMap<String, Arc<Mount>>, path: &str) -> Option<&'a str> {
    mounts
        .keys()
        .find(|existing| existing.starts_with(path) || path.starts_with(existing.as_str()))
        .map(String::as_str)
}

pub(crate) fn check_listing_visibility(v: &str) -> Result<(), RouterError> {
    match v {
        "" | "hidden" | "unauth" => Ok(()),
        other => Err(RouterError::Invalid(format!(
            "invalid listing_visibility {other}"
        ))),
    }
}

#[cfg(test)]
mod tests;

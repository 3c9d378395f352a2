//! KV version 2: versioned secrets with check-and-set, soft delete, undelete, destroy,
//! per-key metadata and version pruning, with OpenBao's API shapes.
//!
//! # Atomicity
//! Every change to a key is read-modify-write of its metadata record plus writes to version
//! records. The write is one storage batch conditioned on the metadata being exactly what was
//! read (its sealed bytes, see [`Stamp`](crate::logical::storage::Stamp)), so a `cas` check
//! and the write it guards are one atomic step even when storage is replicated: the condition
//! is checked where the batch is applied. On one node, a striped lock per key also makes
//! concurrent writers to the same key queue instead of failing the condition and retrying.

mod config;
mod data;
mod metadata;
mod types;
mod versions;

use std::hash::{Hash, Hasher};

use arc_swap::ArcSwapOption;
use std::sync::Arc;

use crate::engine::{Backend, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::engine::{Flags, Ops, Params, Path};
use crate::logical::storage::{Precondition, Stamp, StorageOp};
pub(crate) use types::{KeyMeta, KvConfig, VersionMeta};

const CONFIG: &str = "config";
/// Striped key locks: enough stripes that unrelated keys rarely share one.
const LOCK_STRIPES: usize = 256;
/// A write that keeps losing its condition to other nodes' writers gives up after this many
/// rounds (a single node never loses it: the stripe lock serialises its writers).
const MAX_ATTEMPTS: usize = 8;

fn meta_key(key: &str) -> String {
    format!("m/{key}")
}

/// `key@version` is unambiguous: the version is the digits after the last `@`.
fn data_key(key: &str, version: u64) -> String {
    format!("d/{key}@{version}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Config,
    Data,
    Metadata,
    Delete,
    Undelete,
    Destroy,
    Subkeys,
    /// Anything else: a v1-style path on a v2 mount.
    Invalid,
}

/// The versioned KV engine.
pub(crate) struct KvV2 {
    locks: Box<[tokio::sync::Mutex<()>]>,
    /// The mount's `config`, read once and replaced on every config write through this engine.
    config: ArcSwapOption<KvConfig>,
}

impl Default for KvV2 {
    fn default() -> Self {
        Self {
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            config: ArcSwapOption::empty(),
        }
    }
}

const VERSIONS_FIELDS: &[&str] = &["versions"];

impl Backend for KvV2 {
    type Route = Route;

    const PATHS: &'static [Path<Route>] = &[
        Path::new("config", Route::Config)
            .ops(Ops::READ.union(Ops::WRITE))
            .fields(&[
                "max_versions",
                "cas_required",
                "delete_version_after",
                "metadata_cas_required",
            ])
            .help("Configures settings for the KV store."),
        Path::new("data/{*path}", Route::Data)
            .or_empty()
            .ops(
                Ops::READ
                    .union(Ops::WRITE)
                    .union(Ops::PATCH)
                    .union(Ops::DELETE),
            )
            .flags(Flags::EXISTENCE_CHECK)
            .fields(&["data", "options", "version"])
            .help("Write, patch, read and delete data in the key-value store."),
        Path::new("metadata/{*path}", Route::Metadata)
            .or_empty()
            .ops(Ops::ALL)
            .flags(Flags::EXISTENCE_CHECK)
            .fields(&[
                "max_versions",
                "cas_required",
                "delete_version_after",
                "custom_metadata",
                "cas",
                "after",
                "limit",
            ])
            .help("Configures settings and lists keys of the KV store."),
        Path::new("delete/{*path}", Route::Delete)
            .or_empty()
            .ops(Ops::WRITE)
            .fields(VERSIONS_FIELDS)
            .help("Marks one or more versions as deleted."),
        Path::new("undelete/{*path}", Route::Undelete)
            .or_empty()
            .ops(Ops::WRITE)
            .fields(VERSIONS_FIELDS)
            .help("Undeletes one or more versions."),
        Path::new("destroy/{*path}", Route::Destroy)
            .or_empty()
            .ops(Ops::WRITE)
            .fields(VERSIONS_FIELDS)
            .help("Permanently removes one or more versions."),
        Path::new("{*path}", Route::Invalid)
            .or_empty()
            .ops(Ops::ALL)
            .help("Not a K/V v2 path: answers with a warning naming the right API."),
        Path::new("subkeys/{*path}", Route::Subkeys)
            .or_empty()
            .ops(Ops::READ)
            .fields(&["version", "depth"])
            .help("Reads the structure of a version's data without its values."),
    ];

    async fn handle(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        req: EngineRequest,
    ) -> Result<EngineResponse, EngineError> {
        match route {
            Route::Config => config::handle(self, ctx, req).await,
            Route::Data => data::handle(self, ctx, req).await,
            Route::Metadata => metadata::handle(self, ctx, req).await,
            Route::Delete => versions::delete(self, ctx, req).await,
            Route::Undelete => versions::undelete(self, ctx, req).await,
            Route::Destroy => versions::destroy(self, ctx, req).await,
            Route::Subkeys => data::subkeys(ctx, req).await,
            Route::Invalid => Ok(invalid_path(&req)),
        }
    }

    async fn exists(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        params: &Params,
    ) -> Result<bool, EngineError> {
        match route {
            Route::Data | Route::Metadata => Ok(ctx
                .storage
                .get(&meta_key(params.get("path")))
                .await?
                .is_some()),
            Route::Config => Ok(ctx.storage.get(CONFIG).await?.is_some()),
            Route::Delete | Route::Undelete | Route::Destroy | Route::Subkeys | Route::Invalid => {
                Ok(true)
            }
        }
    }
}

/// What one round of a read-modify-write decided.
pub(super) enum Change<T> {
    /// Write the new metadata (`None` deletes it) plus `ops`, then answer `T`.
    Commit {
        meta: Option<KeyMeta>,
        ops: Vec<StorageOp>,
        answer: T,
    },
    /// Nothing to write; answer `T`.
    Skip(T),
}

impl KvV2 {
    /// The mount's config (cached).
    pub(super) async fn config(&self, ctx: &Ctx<'_>) -> Result<Arc<KvConfig>, EngineError> {
        if let Some(c) = self.config.load_full() {
            return Ok(c);
        }
        let config = match ctx.storage.get(CONFIG).await? {
            Some(raw) => serde_json::from_slice(&raw).map_err(|e| corrupt(CONFIG, e))?,
            None => KvConfig::default(),
        };
        let config = Arc::new(config);
        self.config.store(Some(config.clone()));
        Ok(config)
    }

    fn lock(&self, key: &str) -> &tokio::sync::Mutex<()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        &self.locks[(h.finish() as usize) % self.locks.len()]
    }

    /// Read-modify-write `key`'s metadata atomically: `decide` sees the current metadata
    /// (`None` when the key has none) and says what to write. The write applies only if the
    /// metadata is still what `decide` saw; otherwise `decide` runs again on the new value.
    /// `retry` false makes a lost race an error instead (for `cas`, where another writer
    /// winning means the caller's version is stale).
    pub(super) async fn update<T>(
        &self,
        ctx: &Ctx<'_>,
        key: &str,
        mut decide: impl FnMut(Option<KeyMeta>) -> Result<Change<T>, EngineError>,
    ) -> Result<T, EngineError> {
        let _stripe = self.lock(key).lock().await;
        let mkey = meta_key(key);
        for _ in 0..MAX_ATTEMPTS {
            let (meta, stamp) = read_meta(ctx, &mkey).await?;
            match decide(meta)? {
                Change::Skip(answer) => return Ok(answer),
                Change::Commit {
                    meta,
                    mut ops,
                    answer,
                } => {
                    ops.push(match meta {
                        Some(m) => StorageOp::Put(mkey.clone(), encode(&m)?),
                        None => StorageOp::Delete(mkey.clone()),
                    });
                    let condition = Precondition::as_read(&mkey, stamp.as_ref());
                    match ctx.storage.batch(vec![condition], ops).await {
                        Ok(()) => return Ok(answer),
                        Err(crate::barrier::BarrierError::Conflict) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Err(EngineError::InvalidRequest(format!(
            "too many concurrent writers to {key:?}; try again"
        )))
    }
}

/// A key's metadata and the stamp a conditional write compares against.
pub(super) async fn read_meta(
    ctx: &Ctx<'_>,
    mkey: &str,
) -> Result<(Option<KeyMeta>, Option<Stamp>), EngineError> {
    match ctx.storage.get_stamped(mkey).await? {
        Some((raw, stamp)) => {
            let meta = serde_json::from_slice(&raw).map_err(|e| corrupt(mkey, e))?;
            Ok((Some(meta), Some(stamp)))
        }
        None => Ok((None, None)),
    }
}

pub(super) async fn load_meta(ctx: &Ctx<'_>, key: &str) -> Result<Option<KeyMeta>, EngineError> {
    Ok(read_meta(ctx, &meta_key(key)).await?.0)
}

pub(super) fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, EngineError> {
    serde_json::to_vec(v).map_err(|e| EngineError::InvalidRequest(format!("encoding: {e}")))
}

fn corrupt(key: &str, e: serde_json::Error) -> EngineError {
    EngineError::Storage(crate::barrier::BarrierError::Decrypt {
        path: format!("{key} (unreadable record: {e})"),
    })
}

/// The ops that import a v1 value as version 1 of `key` (the v1 → v2 upgrade).
pub(crate) fn import_ops(
    key: &str,
    value: &[u8],
    now: time::OffsetDateTime,
) -> Result<Vec<StorageOp>, EngineError> {
    let t = types::nanos(now);
    let mut meta = KeyMeta::new(t);
    meta.current_version = 1;
    // OpenBao's upgrade records the imported version as the oldest one.
    meta.oldest_version = 1;
    meta.versions.insert(
        1,
        VersionMeta {
            created: t,
            deletion: None,
            destroyed: false,
        },
    );
    Ok(vec![
        StorageOp::Put(data_key(key, 1), value.to_vec()),
        StorageOp::Put(meta_key(key), encode(&meta)?),
    ])
}

/// OpenBao's answer to a path outside the v2 API: 404, no data, and a warning that says
/// what to use instead. A list of the mount's root finds nothing.
fn invalid_path(req: &EngineRequest) -> EngineResponse {
    use crate::logical::{Body, Operation};
    let path = req.params.get("path");
    if req.op == Operation::List {
        return EngineResponse::not_found();
    }
    let root = path.is_empty()
        || [
            "data", "metadata", "delete", "undelete", "destroy", "subkeys",
        ]
        .contains(&path);
    let warning = if root {
        "Non-listing operations on the root of a K/V v2 mount are not supported."
    } else {
        "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the OpenBao CLI, use 'bao kv get' for this operation."
    };
    EngineResponse {
        body: Body::Gone(None),
        ..EngineResponse::default()
    }
    .with_warning(warning)
}

/// A key must be named, and may not be a folder.
pub(super) fn key_param(req: &EngineRequest) -> Result<&str, EngineError> {
    let key = req.params.get("path");
    if key.is_empty() {
        return Err(EngineError::InvalidRequest("missing path".into()));
    }
    Ok(key)
}

#[cfg(test)]
mod tests;

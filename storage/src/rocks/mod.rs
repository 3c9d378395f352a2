//! [`RocksBackend`]: single-node storage on RocksDB with a synced write-ahead log.
//!
//! Owns `<data dir>/db` (RocksDB's files) and, through [`DataDir`], the directory's header and
//! lock. It stores keys and values exactly as given: values are ciphertext from the barrier, so
//! compression is off (it would only burn CPU).
//!
//! May not touch: anything about what the bytes mean.
//!
//! # Durability and group commit
//! Every write (put, delete, batch) uses `WriteOptions::set_sync(true)`, so it returns only
//! after the WAL is fsynced: an acknowledged write survives `kill -9` and power loss. One fsync
//! per write would cap throughput at the disk's fsync rate, but RocksDB's write thread already
//! does group commit: writers that arrive while a write is in flight queue up, and the next
//! leader appends all their batches to the WAL and syncs once for the whole group. That only
//! helps if the writes really are concurrent on different OS threads, so every write and scan
//! runs in `tokio::task::spawn_blocking` (which also keeps blocking fsyncs off the async
//! workers); point reads, which are short and never fsync, run inline. `enable_pipelined_write` is left off (fsync, not the memtable insert, is our
//! bottleneck) and `unordered_write` is off because it weakens read-after-acknowledge and
//! snapshot guarantees and is rejected by the transaction layer anyway.
//!
//! # Conditional batches
//! The database is a pessimistic `TransactionDB`. A batch opens a transaction and, in sorted
//! key order, takes an exclusive lock (`get_for_update`) on every key it checks or writes; it
//! then checks its conditions against the locked values and commits. Plain puts and deletes go
//! through the same lock manager (RocksDB locks the key for a non-transactional write on a
//! `TransactionDB`), so nothing can change a checked key between the check and the commit: two
//! batches conditioned on `Absent(k)` serialise on `k`'s lock and the second sees the first's
//! write. Sorted locking means batches can never deadlock with each other, and plain writes
//! lock one key, so they cannot close a cycle either. We chose this over a process-wide writer
//! mutex, which would have serialised every batch behind its own fsync and defeated group
//! commit, and over `OptimisticTransactionDB`, whose parallel validation does not cover plain
//! writes and which needs retry loops on `Busy`.

mod keys;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rocksdb::{
    DBCompressionType, Options, ReadOptions, TransactionDB, TransactionDBOptions,
    TransactionOptions, WriteOptions,
};

use crate::backend::{Backend, Batch, Condition, Op};
use crate::ondisk::DataDir;
use crate::{Error, Result};

/// RocksDB's directory inside the data directory.
const DB_DIR: &str = "db";

/// How long a write waits for a key lock held by another write (milliseconds). Locks are held
/// only for one commit, and sorted locking rules out deadlock, so reaching this means the disk
/// is stalled; the write then fails rather than hanging forever.
const LOCK_TIMEOUT_MS: i64 = 30_000;

/// Single-node RocksDB storage. Cheap to clone: clones share one database. The database is
/// closed, and then the data directory unlocked, when the last clone is dropped (and any
/// in-flight blocking call has finished).
#[derive(Clone)]
pub struct RocksBackend {
    inner: Arc<Inner>,
}

struct Inner {
    // Field order is drop order: the database must be closed before the directory lock is
    // released, or a new server could open it while we are still flushing.
    db: TransactionDB,
    dir: DataDir,
}

impl std::fmt::Debug for RocksBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksBackend")
            .field("path", &self.inner.dir.path())
            .finish()
    }
}

impl RocksBackend {
    /// Open (or create) the data directory at `path`: take its lock, check or write its header,
    /// then open RocksDB in `<path>/db`. Blocking; call it before serving, or from
    /// `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> Result<RocksBackend> {
        let dir = DataDir::open(path)?;
        let db_path = dir.path().join(DB_DIR);
        if dir.created_now() && db_path.exists() {
            // The header is written before the database is ever created, so a database without
            // a header was not made by us; refuse rather than adopt it.
            return Err(Error::Corrupt(format!(
                "{} holds a database but had no header",
                dir.path().display()
            )));
        }
        if !dir.created_now() && !db_path.exists() {
            tracing::warn!(path = %db_path.display(), "database directory missing; creating an empty one");
        }

        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_compression_type(DBCompressionType::None);
        opts.set_keep_log_file_num(8);
        let mut txn_db_opts = TransactionDBOptions::default();
        txn_db_opts.set_txn_lock_timeout(LOCK_TIMEOUT_MS);
        txn_db_opts.set_default_lock_timeout(LOCK_TIMEOUT_MS);
        let db = TransactionDB::open(&opts, &txn_db_opts, &db_path)?;
        tracing::info!(path = %dir.path().display(), "opened rocksdb storage");
        Ok(RocksBackend {
            inner: Arc::new(Inner { db, dir }),
        })
    }

    /// The data directory's path.
    pub fn path(&self) -> &Path {
        self.inner.dir.path()
    }

    /// Run `f` on a blocking-pool thread. Blocking RocksDB calls never run on async workers, and
    /// concurrent writes land on different threads, which is what lets RocksDB group-commit
    /// them into one WAL sync.
    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&TransactionDB) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        match tokio::task::spawn_blocking(move || f(&inner.db)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The runtime is shutting down and dropped the task before it ran.
            Err(_) => Err(Error::Closed),
        }
    }
}

/// Write options for every write: fsync the WAL before returning.
fn synced() -> WriteOptions {
    let mut opts = WriteOptions::default();
    opts.set_sync(true);
    opts
}

#[async_trait]
impl Backend for RocksBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        // Point reads run on the calling thread: they are served from the memtable, the block
        // cache or the OS page cache in a few microseconds, far less than the two thread
        // hand-offs of `spawn_blocking`, and they never wait on an fsync. Writes, which do,
        // and scans, which can be long, still go to the blocking pool.
        Ok(self.inner.db.get(key)?)
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<()> {
        let key = key.to_owned();
        self.blocking(move |db| Ok(db.put_opt(key, value, &synced())?))
            .await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let key = key.to_owned();
        self.blocking(move |db| Ok(db.delete_opt(key, &synced())?))
            .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = prefix.to_owned();
        self.blocking(move |db| list(db, &prefix)).await
    }

    async fn batch(&self, batch: Batch) -> Result<()> {
        self.blocking(move |db| apply(db, batch)).await
    }

    fn kind(&self) -> &'static str {
        "rocksdb"
    }
}

/// One level of names below `prefix` (see [`Backend::list`]). Reads one key per name: after the
/// first key of a folder it seeks past the whole folder instead of stepping through it.
fn list(db: &TransactionDB, prefix: &str) -> Result<Vec<String>> {
    let prefix = prefix.as_bytes();
    let mut read = ReadOptions::default();
    if let Some(end) = keys::prefix_end(prefix) {
        read.set_iterate_upper_bound(end);
    }
    let mut it = db.raw_iterator_opt(read);
    it.seek(prefix);
    let mut out = Vec::new();
    while let Some(key) = it.key() {
        let Some(rest) = key.strip_prefix(prefix) else {
            break;
        };
        match rest.iter().position(|&b| b == b'/') {
            Some(slash) => {
                out.push(utf8(&rest[..=slash])?);
                let resume = keys::after_folder(prefix, &rest[..slash]);
                it.seek(resume);
            }
            None => {
                // A key equal to the prefix is not "below" it.
                if !rest.is_empty() {
                    out.push(utf8(rest)?);
                }
                it.next();
            }
        }
    }
    it.status()?;
    Ok(out)
}

fn utf8(name: &[u8]) -> Result<String> {
    String::from_utf8(name.to_vec())
        .map_err(|_| Error::Corrupt(format!("stored key is not UTF-8: {name:?}")))
}

/// Check `batch`'s conditions and apply its ops as one synced transaction, holding exclusive
/// locks on every key involved from before the check until after the commit.
fn apply(db: &TransactionDB, batch: Batch) -> Result<()> {
    let txn = db.transaction_opt(&synced(), &TransactionOptions::default());

    // Lock every key the batch reads or writes, in sorted order (the BTreeMap), so that two
    // batches can never each hold a lock the other waits for. Remember the checked values.
    let mut locked: BTreeMap<&str, Option<Vec<u8>>> = BTreeMap::new();
    for c in &batch.conditions {
        let (Condition::Absent(k) | Condition::Equals(k, _)) = c;
        locked.insert(k, None);
    }
    for op in &batch.ops {
        let (Op::Put(k, _) | Op::Delete(k)) = op;
        locked.insert(k, None);
    }
    for (key, value) in locked.iter_mut() {
        *value = txn.get_for_update(key, true)?;
    }

    let holds = batch.conditions.iter().all(|c| match c {
        Condition::Absent(k) => matches!(locked.get(k.as_str()), Some(None)),
        Condition::Equals(k, want) => matches!(locked.get(k.as_str()), Some(Some(v)) if v == want),
    });
    if !holds {
        // Dropping the transaction rolls it back and releases the locks.
        return Err(Error::ConditionFailed);
    }
    for op in &batch.ops {
        match op {
            Op::Put(k, v) => txn.put(k, v)?,
            Op::Delete(k) => txn.delete(k)?,
        }
    }
    Ok(txn.commit()?)
}

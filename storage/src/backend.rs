//! The physical backend contract.
//!
//! Keys are `/`-separated paths. `list` is one level deep with Vault semantics: for a prefix
//! `a/` holding `a/x`, `a/y/z` and `a/y/w`, it answers `["x", "y/"]` — the next segment, with a
//! trailing `/` for a "folder", each name once, sorted.

use async_trait::async_trait;

use crate::Result;

/// What must hold for a [`Batch`] to apply. Checked atomically with the batch's writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The key has no value.
    Absent(String),
    /// The key holds exactly these bytes.
    Equals(String, Vec<u8>),
}

/// One write inside a [`Batch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Store `value` at `key`, replacing any previous value.
    Put(String, Vec<u8>),
    /// Remove `key`; removing a missing key is not an error.
    Delete(String),
}

/// A one-shot conditional write: every condition is checked and, only if all hold, every op is
/// applied, all as one atomic and durable step. This is our only transaction primitive, because
/// it can be applied as a single command in a replicated state machine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// All must hold, or nothing is written and [`crate::Error::ConditionFailed`] is returned.
    pub conditions: Vec<Condition>,
    /// Applied in order.
    pub ops: Vec<Op>,
}

/// Untrusted key/value storage. Implementations must be safe to call concurrently, and a write
/// that has returned `Ok` must survive a crash of the process (`kill -9`).
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The value at `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Store `value` at `key`; durable when it returns.
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<()>;
    /// Remove `key`; a missing key is not an error. Durable when it returns.
    async fn delete(&self, key: &str) -> Result<()>;
    /// The names directly below `prefix`, one level deep, sorted, folders ending in `/`.
    /// `prefix` is either empty or ends in `/`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Apply a [`Batch`] atomically and durably.
    async fn batch(&self, batch: Batch) -> Result<()>;
    /// A short name for logs and `sys/seal-status` (`"inmem"`, `"rocksdb"`, `"raft"`).
    fn kind(&self) -> &'static str;
}

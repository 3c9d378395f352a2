//! [`MemBackend`]: everything in one `BTreeMap`, for tests and `-dev` mode.
//!
//! Owns only its map. Nothing survives the process, so the "durable when it returns" half of
//! the [`Backend`] contract holds trivially for as long as the process lives, and not beyond.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::backend::{Backend, Batch, Condition, Op};
use crate::{Error, Result};

/// An in-memory [`Backend`]. Clones share the same map.
#[derive(Clone, Debug, Default)]
pub struct MemBackend {
    // A std mutex, not a tokio one: every critical section is a few map operations with no
    // `.await` inside, so it is never held across a yield point, and a std mutex is cheaper
    // and cannot be accidentally held over an await (the guard is not `Send`). This is the
    // mini-redis `Db` reasoning. One lock for the whole map also makes `batch` atomic for free.
    entries: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
}

impl MemBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        // A panic while holding the lock cannot leave the map half-updated (each mutation is a
        // single insert/remove, and `batch` checks every condition before its first write), so
        // a poisoned lock is safe to keep using.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Backend for MemBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.entries().get(key).cloned())
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<()> {
        self.entries().insert(key.to_owned(), value);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.entries().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let entries = self.entries();
        let keys = entries
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .map(|(k, _)| k.as_str())
            .take_while(|k| k.starts_with(prefix));
        Ok(one_level(prefix, keys))
    }

    async fn batch(&self, batch: Batch) -> Result<()> {
        let mut entries = self.entries();
        let holds = batch.conditions.iter().all(|c| match c {
            Condition::Absent(k) => !entries.contains_key(k),
            Condition::Equals(k, v) => entries.get(k) == Some(v),
        });
        if !holds {
            return Err(Error::ConditionFailed);
        }
        for op in batch.ops {
            match op {
                Op::Put(k, v) => {
                    entries.insert(k, v);
                }
                Op::Delete(k) => {
                    entries.remove(&k);
                }
            }
        }
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "inmem"
    }
}

/// Collapse sorted `keys` (all starting with `prefix`) into Vault's one-level listing.
///
/// Keys under one folder are contiguous in sorted order, and a folder name sorts where its
/// first key does, so comparing with the last name pushed is enough to dedupe and the output
/// stays sorted.
fn one_level<'a>(prefix: &str, keys: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in keys {
        let rest = &key[prefix.len()..];
        let name = match rest.find('/') {
            Some(i) => &rest[..=i],
            None => rest,
        };
        // A key equal to the prefix is not "below" it.
        if !name.is_empty() && out.last().map(String::as_str) != Some(name) {
            out.push(name.to_owned());
        }
    }
    out
}

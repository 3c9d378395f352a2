//! A prefix-scoped view of the barrier, handed to exactly one consumer.
//!
//! The consumer sees keys relative to its prefix and cannot name a key outside it: the
//! prefix is prepended, never interpreted, so `..` is just two dots inside the view.

use std::sync::Arc;

use async_trait::async_trait;
use zeroize::Zeroizing;

use super::{Barrier, BarrierError};
use crate::logical::storage::{Precondition, Stamp, Storage, StorageOp};

#[derive(Clone)]
pub(crate) struct View {
    barrier: Arc<Barrier>,
    prefix: String,
}

impl View {
    pub(super) fn new(barrier: Arc<Barrier>, prefix: &str) -> Self {
        debug_assert!(prefix.ends_with('/'), "view prefixes end in '/'");
        Self {
            barrier,
            prefix: prefix.to_owned(),
        }
    }

    fn full(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    /// The physical prefix of this view, for tests that look below the barrier.
    #[cfg(test)]
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }
}

#[async_trait]
impl Storage for View {
    async fn get(&self, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, BarrierError> {
        self.barrier.get(&self.full(key)).await
    }

    async fn get_stamped(
        &self,
        key: &str,
    ) -> Result<Option<(Zeroizing<Vec<u8>>, Stamp)>, BarrierError> {
        self.barrier.get_stamped(&self.full(key)).await
    }

    async fn put(&self, key: &str, value: &[u8]) -> Result<(), BarrierError> {
        self.barrier.put(&self.full(key), value).await
    }

    async fn delete(&self, key: &str) -> Result<(), BarrierError> {
        self.barrier.delete(&self.full(key)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BarrierError> {
        self.barrier.list(&self.full(prefix)).await
    }

    async fn batch(
        &self,
        conditions: Vec<Precondition>,
        ops: Vec<StorageOp>,
    ) -> Result<(), BarrierError> {
        let conditions = conditions
            .into_iter()
            .map(|c| match c {
                Precondition::Absent(k) => Precondition::Absent(self.full(&k)),
                Precondition::Unchanged(k, s) => Precondition::Unchanged(self.full(&k), s),
            })
            .collect();
        let ops = ops
            .into_iter()
            .map(|op| match op {
                StorageOp::Put(k, v) => StorageOp::Put(self.full(&k), v),
                StorageOp::Delete(k) => StorageOp::Delete(self.full(&k)),
            })
            .collect();
        self.barrier.batch(conditions, ops).await
    }
}

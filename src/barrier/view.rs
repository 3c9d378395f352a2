//! A prefix-scoped view of the barrier, handed to exactly one consumer.
//!
//! The consumer sees keys relative to its prefix and cannot name a key outside it: the
//! prefix is prepended, never interpreted, so `..` is just two dots inside the view.

use std::sync::Arc;

use async_trait::async_trait;
use zeroize::Zeroizing;

use super::{Barrier, BarrierError};
use crate::logical::storage::{Storage, StorageOp};

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
}

#[async_trait]
impl Storage for View {
    async fn get(&self, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, BarrierError> {
        self.barrier.get(&self.full(key)).await
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

    async fn batch(&self, absent: &[&str], ops: Vec<StorageOp>) -> Result<(), BarrierError> {
        let absent: Vec<String> = absent.iter().map(|k| self.full(k)).collect();
        let absent: Vec<&str> = absent.iter().map(String::as_str).collect();
        let ops = ops
            .into_iter()
            .map(|op| match op {
                StorageOp::Put(k, v) => StorageOp::Put(self.full(&k), v),
                StorageOp::Delete(k) => StorageOp::Delete(self.full(&k)),
            })
            .collect();
        self.barrier.batch(&absent, ops).await
    }
}

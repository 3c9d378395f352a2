//! The plaintext storage an engine or a core subsystem sees: one prefix-scoped view.
//!
//! This trait is deliberately distinct from `storage::Backend`: a `Backend` holds ciphertext
//! and is untrusted, a `Storage` holds plaintext. Only `barrier` turns one into the other,
//! so code handed a `&dyn Storage` can never write around the encryption.

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::barrier::BarrierError;

/// A write inside an atomic [`Storage::batch`].
#[derive(Debug)]
#[allow(dead_code)] // deletes and conditions are used by the engines that follow (KV v2 cas)
pub(crate) enum StorageOp {
    Put(String, Vec<u8>),
    Delete(String),
}

/// Plaintext, path-scoped storage. Keys are relative to the view's prefix.
#[async_trait]
#[allow(dead_code)] // the full surface is for the engines that follow; the token store uses part
pub(crate) trait Storage: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, BarrierError>;
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), BarrierError>;
    async fn delete(&self, key: &str) -> Result<(), BarrierError>;
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BarrierError>;
    /// Apply all ops atomically, but only if no key named in `absent` exists.
    async fn batch(&self, absent: &[&str], ops: Vec<StorageOp>) -> Result<(), BarrierError>;
}

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
pub(crate) enum StorageOp {
    Put(String, Vec<u8>),
    Delete(String),
}

/// Proof of which stored value a read saw: the sealed bytes themselves. Comparing stamps is
/// comparing ciphertexts, and every write seals with a fresh nonce, so a stamp matches only
/// the very value that was read, never an equal plaintext written since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stamp(pub(crate) Vec<u8>);

/// A condition an atomic batch checks in the same step as it writes.
#[derive(Clone, Debug)]
pub(crate) enum Precondition {
    /// The key holds nothing.
    Absent(String),
    /// The key still holds the value this stamp was read from.
    Unchanged(String, Stamp),
}

impl Precondition {
    /// "Still as I read it": absent if it was absent, unchanged if it was there.
    pub(crate) fn as_read(key: &str, stamp: Option<&Stamp>) -> Self {
        match stamp {
            Some(s) => Precondition::Unchanged(key.to_owned(), s.clone()),
            None => Precondition::Absent(key.to_owned()),
        }
    }
}

/// Plaintext, path-scoped storage. Keys are relative to the view's prefix.
#[async_trait]
pub(crate) trait Storage: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, BarrierError>;
    /// As `get`, with the stamp a later [`Precondition::Unchanged`] compares against.
    async fn get_stamped(
        &self,
        key: &str,
    ) -> Result<Option<(Zeroizing<Vec<u8>>, Stamp)>, BarrierError>;
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), BarrierError>;
    async fn delete(&self, key: &str) -> Result<(), BarrierError>;
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BarrierError>;
    /// Apply all ops atomically, only if every condition holds; otherwise nothing is written
    /// and the answer is [`BarrierError::Conflict`].
    async fn batch(
        &self,
        conditions: Vec<Precondition>,
        ops: Vec<StorageOp>,
    ) -> Result<(), BarrierError>;
}

/// Every key below `prefix` (which is empty or ends in `/`), relative to `prefix`, depth first.
pub(crate) async fn list_tree(
    storage: &dyn Storage,
    prefix: &str,
) -> Result<Vec<String>, BarrierError> {
    let mut out = Vec::new();
    // An explicit stack rather than recursion: async recursion needs boxing, and a deep tree
    // must not grow the task's stack.
    let mut folders = vec![String::new()];
    while let Some(folder) = folders.pop() {
        for name in storage.list(&format!("{prefix}{folder}")).await? {
            let rel = format!("{folder}{name}");
            if name.ends_with('/') {
                folders.push(rel);
            } else {
                out.push(rel);
            }
        }
    }
    Ok(out)
}

/// Delete every key below `prefix`, in batches so a large tree never becomes one huge write.
pub(crate) async fn delete_tree(storage: &dyn Storage, prefix: &str) -> Result<(), BarrierError> {
    const CHUNK: usize = 1000;
    let keys = list_tree(storage, prefix).await?;
    for chunk in keys.chunks(CHUNK) {
        let ops = chunk
            .iter()
            .map(|k| StorageOp::Delete(format!("{prefix}{k}")))
            .collect();
        storage.batch(Vec::new(), ops).await?;
    }
    Ok(())
}

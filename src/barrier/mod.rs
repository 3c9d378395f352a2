//! The barrier: the only bridge from plaintext to the untrusted physical backend.
//!
//! Every value written through here is sealed with the keyring's active term (AES-256-GCM,
//! `seal::aead`'s `term | version | nonce | ciphertext` format) and bound to its full storage
//! path as AAD, so a value copied or moved to another key fails to open. Keys (paths) stay
//! plaintext, as in OpenBao. The keyring itself lives at `core/keyring`, sealed under the
//! root key; see `core::seal` for how the root key is recovered at unseal.
//!
//! May not: know about mounts, tokens or HTTP. It hands out [`View`]s; what goes in them is
//! their owner's business.

mod view;

use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use seal::{Key, Keyring};
use zeroize::Zeroizing;

use crate::logical::storage::{Precondition, Stamp, Storage, StorageOp};
pub(crate) use view::View;

/// Where the keyring is stored, sealed under the root key.
pub(crate) const KEYRING_PATH: &str = "core/keyring";

/// Failures below the logical layer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BarrierError {
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// A stored value failed authentication: tampered, moved, or sealed by a foreign keyring.
    #[error("failed to decrypt the value stored at {path}")]
    Decrypt { path: String },
    /// An atomic batch's condition did not hold.
    #[error("the value changed concurrently")]
    Conflict,
}

/// Plaintext over ciphertext storage. Cheap to share behind an `Arc`.
pub(crate) struct Barrier {
    backend: Arc<dyn storage::Backend>,
    // Copy-on-write so a future `sys/rotate` swaps in a new term without blocking readers.
    keyring: ArcSwap<Keyring>,
}

impl Barrier {
    /// A barrier over `backend` with an already opened keyring.
    pub(crate) fn new(backend: Arc<dyn storage::Backend>, keyring: Keyring) -> Self {
        Self {
            backend,
            keyring: ArcSwap::from_pointee(keyring),
        }
    }

    /// Read `core/keyring` and open it with the root key.
    pub(crate) async fn unlock(
        backend: Arc<dyn storage::Backend>,
        root_key: &Key,
    ) -> Result<Self, BarrierError> {
        let sealed = backend
            .get(KEYRING_PATH)
            .await?
            .ok_or_else(|| BarrierError::Decrypt {
                path: KEYRING_PATH.into(),
            })?;
        let keyring = Keyring::open_with_root(root_key, KEYRING_PATH, &sealed).map_err(|_| {
            BarrierError::Decrypt {
                path: KEYRING_PATH.into(),
            }
        })?;
        Ok(Self::new(backend, keyring))
    }

    /// The physical op that persists `keyring` at init.
    pub(crate) fn keyring_op(keyring: &Keyring) -> storage::Op {
        storage::Op::Put(KEYRING_PATH.into(), keyring.seal_with_root(KEYRING_PATH))
    }

    /// Seal `plaintext` for storage at the physical `path` (used to build init's batch).
    pub(crate) fn seal_value(&self, path: &str, plaintext: &[u8]) -> Vec<u8> {
        self.keyring.load().encrypt(path, plaintext)
    }

    /// A view that prefixes every key with `prefix` (which ends in `/`).
    pub(crate) fn view(self: &Arc<Self>, prefix: &str) -> View {
        View::new(self.clone(), prefix)
    }

    fn open(&self, path: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, BarrierError> {
        self.keyring
            .load()
            .decrypt(path, sealed)
            .map_err(|_| BarrierError::Decrypt { path: path.into() })
    }
}

#[async_trait]
impl Storage for Barrier {
    async fn get(&self, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, BarrierError> {
        match self.backend.get(key).await? {
            Some(sealed) => self.open(key, &sealed).map(Some),
            None => Ok(None),
        }
    }

    async fn get_stamped(
        &self,
        key: &str,
    ) -> Result<Option<(Zeroizing<Vec<u8>>, Stamp)>, BarrierError> {
        match self.backend.get(key).await? {
            Some(sealed) => {
                let plain = self.open(key, &sealed)?;
                Ok(Some((plain, Stamp(sealed))))
            }
            None => Ok(None),
        }
    }

    async fn put(&self, key: &str, value: &[u8]) -> Result<(), BarrierError> {
        let sealed = self.seal_value(key, value);
        Ok(self.backend.put(key, sealed).await?)
    }

    async fn delete(&self, key: &str) -> Result<(), BarrierError> {
        Ok(self.backend.delete(key).await?)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BarrierError> {
        Ok(self.backend.list(prefix).await?)
    }

    async fn batch(
        &self,
        conditions: Vec<Precondition>,
        ops: Vec<StorageOp>,
    ) -> Result<(), BarrierError> {
        let batch = storage::Batch {
            // A stamp is the sealed bytes as stored, so "unchanged" is a byte comparison of
            // ciphertext below the barrier: it works the same inside a replicated apply.
            conditions: conditions
                .into_iter()
                .map(|c| match c {
                    Precondition::Absent(k) => storage::Condition::Absent(k),
                    Precondition::Unchanged(k, Stamp(sealed)) => {
                        storage::Condition::Equals(k, sealed)
                    }
                })
                .collect(),
            ops: ops
                .into_iter()
                .map(|op| match op {
                    StorageOp::Put(k, v) => {
                        let sealed = self.seal_value(&k, &v);
                        storage::Op::Put(k, sealed)
                    }
                    StorageOp::Delete(k) => storage::Op::Delete(k),
                })
                .collect(),
        };
        match self.backend.batch(batch).await {
            Err(storage::Error::ConditionFailed) => Err(BarrierError::Conflict),
            other => Ok(other?),
        }
    }
}

/// A barrier over memory storage with a fresh key, for other modules' unit tests.
#[cfg(test)]
pub(crate) fn memory_barrier() -> Arc<Barrier> {
    Arc::new(Barrier::new(
        Arc::new(storage::MemBackend::new()),
        seal::Keyring::new(seal::Key::generate()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn barrier() -> (Arc<storage::MemBackend>, Barrier) {
        let mem = Arc::new(storage::MemBackend::new());
        let b = Barrier::new(mem.clone(), Keyring::new(Key::generate()));
        (mem, b)
    }

    #[tokio::test]
    async fn values_are_ciphertext_below_the_barrier() {
        let (mem, b) = barrier();
        b.put("logical/x/secret", b"hunter2-plaintext")
            .await
            .expect("put");
        let raw = storage::Backend::get(&*mem, "logical/x/secret")
            .await
            .expect("get")
            .expect("some");
        assert!(
            !raw.windows(7).any(|w| w == b"hunter2"),
            "plaintext leaked to storage"
        );
        let back = b.get("logical/x/secret").await.expect("get").expect("some");
        assert_eq!(&back[..], b"hunter2-plaintext");
    }

    #[tokio::test]
    async fn a_value_moved_to_another_path_fails_to_open() {
        let (mem, b) = barrier();
        b.put("a", b"v").await.expect("put");
        let raw = storage::Backend::get(&*mem, "a")
            .await
            .expect("get")
            .expect("some");
        storage::Backend::put(&*mem, "b", raw).await.expect("put");
        assert!(matches!(
            b.get("b").await,
            Err(BarrierError::Decrypt { .. })
        ));
    }

    #[tokio::test]
    async fn unlock_reads_the_keyring_back() {
        let mem: Arc<dyn storage::Backend> = Arc::new(storage::MemBackend::new());
        let root = Key::generate();
        let keyring = Keyring::new(root.clone());
        let storage::Op::Put(k, v) = Barrier::keyring_op(&keyring) else {
            panic!("put op")
        };
        mem.put(&k, v).await.expect("put");
        let b = Barrier::new(mem.clone(), keyring);
        b.put("x", b"1").await.expect("put");
        let again = Barrier::unlock(mem.clone(), &root).await.expect("unlock");
        assert_eq!(&again.get("x").await.expect("get").expect("some")[..], b"1");
        assert!(Barrier::unlock(mem, &Key::generate()).await.is_err());
    }

    #[tokio::test]
    async fn batch_respects_absent_conditions() {
        let (_mem, b) = barrier();
        let absent = || vec![Precondition::Absent("k".into())];
        b.batch(absent(), vec![StorageOp::Put("k".into(), b"1".to_vec())])
            .await
            .expect("first");
        let again = b
            .batch(absent(), vec![StorageOp::Put("k".into(), b"2".to_vec())])
            .await;
        assert!(matches!(again, Err(BarrierError::Conflict)));
        assert_eq!(&b.get("k").await.expect("get").expect("some")[..], b"1");
    }

    #[tokio::test]
    async fn a_stamp_matches_only_the_value_it_was_read_from() {
        let (_mem, b) = barrier();
        b.put("k", b"same").await.expect("put");
        let (_, stamp) = b.get_stamped("k").await.expect("get").expect("some");
        // The same plaintext written again is a different value: fresh nonce, new stamp.
        b.put("k", b"same").await.expect("put");
        let stale = vec![Precondition::Unchanged("k".into(), stamp)];
        let put = || vec![StorageOp::Put("k".into(), b"mine".to_vec())];
        assert!(matches!(
            b.batch(stale, put()).await,
            Err(BarrierError::Conflict)
        ));
        let (_, fresh) = b.get_stamped("k").await.expect("get").expect("some");
        b.batch(vec![Precondition::Unchanged("k".into(), fresh)], put())
            .await
            .expect("fresh stamp applies");
        assert_eq!(&b.get("k").await.expect("get").expect("some")[..], b"mine");
    }
}

//! Runs the one conformance suite (`storage::testing::exercise_backend`) on every backend.

use std::sync::Arc;

use storage::testing::{exercise_backend, temp_rocks};
use storage::{Backend, MemBackend};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mem_backend_conforms() {
    let backend = MemBackend::new();
    assert_eq!(backend.kind(), "inmem");
    exercise_backend(Arc::new(backend)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rocks_backend_conforms() {
    let (_dir, backend) = temp_rocks().expect("open rocksdb");
    assert_eq!(backend.kind(), "rocksdb");
    exercise_backend(Arc::new(backend)).await;
}

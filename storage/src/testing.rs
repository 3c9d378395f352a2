//! The conformance suite every [`Backend`] must pass (after OpenBao's `ExerciseBackend` and
//! `ExerciseBackend_ListPrefix`), plus small helpers for tests that need a backend.
//!
//! Owns no production behaviour: compiled only for this crate's tests and under the `testing`
//! feature. Failures panic with a message naming the phase, like any test assertion.

use std::sync::Arc;

use crate::backend::{Backend, Batch, Condition, Op};
use crate::{Error, RocksBackend};

/// A [`RocksBackend`] in a fresh temporary directory, removed when the `TempDir` is dropped
/// (drop the backend first).
pub fn temp_rocks() -> crate::Result<(tempfile::TempDir, RocksBackend)> {
    let dir = tempfile::tempdir().map_err(|source| crate::Error::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let backend = RocksBackend::open(dir.path().join("data"))?;
    Ok((dir, backend))
}

/// Run the whole conformance suite against `backend`, which must start empty; it is left
/// empty again.
///
/// Takes an `Arc` rather than a reference because the concurrency phases share the backend
/// with spawned tasks. Run it on a multi-threaded runtime
/// (`#[tokio::test(flavor = "multi_thread")]`) so those tasks really run in parallel.
pub async fn exercise_backend(backend: Arc<dyn Backend>) {
    let b = &*backend;
    basics(b).await;
    nested_listing(b).await;
    list_prefix(b).await;
    big_folder_listing(b).await;
    unusual_keys(b).await;
    binary_values(b).await;
    batches(b).await;
    racing_absent_batches(&backend).await;
    racing_compare_and_swap(&backend).await;
    assert_eq!(
        list(b, "").await,
        Vec::<String>::new(),
        "the suite must leave the backend empty"
    );
}

async fn get(b: &dyn Backend, key: &str) -> Option<Vec<u8>> {
    b.get(key)
        .await
        .unwrap_or_else(|e| panic!("get {key:?}: {e}"))
}

async fn put(b: &dyn Backend, key: &str, value: &[u8]) {
    b.put(key, value.to_vec())
        .await
        .unwrap_or_else(|e| panic!("put {key:?}: {e}"));
}

async fn delete(b: &dyn Backend, key: &str) {
    b.delete(key)
        .await
        .unwrap_or_else(|e| panic!("delete {key:?}: {e}"));
}

async fn list(b: &dyn Backend, prefix: &str) -> Vec<String> {
    b.list(prefix)
        .await
        .unwrap_or_else(|e| panic!("list {prefix:?}: {e}"))
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Get, put, overwrite and delete one key.
async fn basics(b: &dyn Backend) {
    assert!(!b.kind().is_empty());
    assert_eq!(
        list(b, "").await,
        Vec::<String>::new(),
        "backend must start empty"
    );
    delete(b, "foo").await; // deleting a missing key is fine
    assert_eq!(get(b, "foo").await, None, "missing key");

    put(b, "foo", b"test").await;
    assert_eq!(get(b, "foo").await.as_deref(), Some(&b"test"[..]));
    assert_eq!(list(b, "").await, strings(&["foo"]));
    put(b, "foo", b"other").await;
    assert_eq!(
        get(b, "foo").await.as_deref(),
        Some(&b"other"[..]),
        "overwrite"
    );

    delete(b, "foo").await;
    assert_eq!(get(b, "foo").await, None, "after delete");
    assert_eq!(list(b, "").await, Vec::<String>::new());
    delete(b, "foo").await; // and again
}

/// Folders appear once, with a trailing `/`, next to a key of the same name.
async fn nested_listing(b: &dyn Backend) {
    put(b, "foo", b"1").await;
    put(b, "foo/bar", b"2").await;
    put(b, "foo/baz/qux", b"3").await;
    assert_eq!(list(b, "").await, strings(&["foo", "foo/"]));
    assert_eq!(list(b, "foo/").await, strings(&["bar", "baz/"]));
    assert_eq!(list(b, "foo/baz/").await, strings(&["qux"]));
    assert_eq!(
        list(b, "foo/nope/").await,
        Vec::<String>::new(),
        "missing folder"
    );

    // Deleting a key leaves its namesake folder, and the reverse.
    delete(b, "foo").await;
    assert_eq!(get(b, "foo/bar").await.as_deref(), Some(&b"2"[..]));
    assert_eq!(list(b, "").await, strings(&["foo/"]));
    delete(b, "foo/baz/qux").await;
    assert_eq!(
        list(b, "foo/").await,
        strings(&["bar"]),
        "no empty folder left behind"
    );
    delete(b, "foo/bar").await;
    assert_eq!(list(b, "").await, Vec::<String>::new());

    // A deep key keeps every ancestor folder listed.
    put(b, "foo/n1/n2/v1", b"x").await;
    put(b, "foo/n1/n2/v2", b"x").await;
    delete(b, "foo/n1/n2/v2").await;
    assert_eq!(list(b, "").await, strings(&["foo/"]));
    assert_eq!(list(b, "foo/n1/").await, strings(&["n2/"]));
    delete(b, "foo/n1/n2/v1").await;
    assert_eq!(list(b, "").await, Vec::<String>::new());

    // Names grow one at a time and stay sorted.
    let mut created = Vec::new();
    for i in (0..10).rev() {
        let name = format!("key-{i}");
        put(b, &format!("foo/{name}"), b"x").await;
        created.push(name);
        created.sort();
        assert_eq!(list(b, "foo/").await, created);
    }
    for name in &created {
        delete(b, &format!("foo/{name}")).await;
    }
}

/// OpenBao's `ExerciseBackend_ListPrefix`: a key that is also a folder, two levels deep.
async fn list_prefix(b: &dyn Backend) {
    for key in ["foo", "foo/bar", "foo/bar/baz"] {
        put(b, key, b"test").await;
    }
    assert_eq!(list(b, "").await, strings(&["foo", "foo/"]));
    assert_eq!(list(b, "foo/").await, strings(&["bar", "bar/"]));
    assert_eq!(list(b, "foo/bar/").await, strings(&["baz"]));
    for key in ["foo", "foo/bar", "foo/bar/baz"] {
        delete(b, key).await;
    }
}

/// A folder with many children is one name, and siblings that sort just before and after the
/// folder (`big.`, `big0`) are not swallowed by it.
async fn big_folder_listing(b: &dyn Backend) {
    let children: Vec<String> = (0..300).map(|i| format!("big/{i:04}")).collect();
    for key in &children {
        put(b, key, b"").await;
    }
    put(b, "big/sub/deeper", b"").await;
    for key in ["big", "big.", "big0", "bia"] {
        put(b, key, b"").await;
    }
    assert_eq!(
        list(b, "").await,
        strings(&["bia", "big", "big.", "big/", "big0"])
    );
    let under = list(b, "big/").await;
    assert_eq!(under.len(), 301);
    assert_eq!(under.first().map(String::as_str), Some("0000"));
    assert_eq!(under.last().map(String::as_str), Some("sub/"));
    for key in
        children
            .iter()
            .map(String::as_str)
            .chain(["big/sub/deeper", "big", "big.", "big0", "bia"])
    {
        delete(b, key).await;
    }
}

/// Keys are any UTF-8: spaces, escapes, control characters, NUL, non-ASCII.
async fn unusual_keys(b: &dyn Backend) {
    let names = [
        "with space",
        "per%2Fcent",
        "tab\there",
        "nul\0byte",
        "del\u{7f}",
        "ünïcødé",
        "ключ/дерево",
        "emoji-🔑",
        "quote\"'",
        "back\\slash",
        "a+b=c&d?e#f",
        "..",
        "-",
    ];
    for (i, name) in names.iter().enumerate() {
        put(b, &format!("odd/{name}"), format!("v{i}").as_bytes()).await;
    }
    for (i, name) in names.iter().enumerate() {
        let got = get(b, &format!("odd/{name}")).await;
        assert_eq!(got, Some(format!("v{i}").into_bytes()), "key {name:?}");
    }
    let mut expected: Vec<String> = names
        .iter()
        .map(|n| match n.find('/') {
            Some(i) => n[..=i].to_owned(),
            None => (*n).to_owned(),
        })
        .collect();
    expected.sort();
    assert_eq!(list(b, "odd/").await, expected);
    assert_eq!(list(b, "odd/ключ/").await, strings(&["дерево"]));
    for name in names {
        delete(b, &format!("odd/{name}")).await;
    }
}

/// Values are opaque bytes, and an empty value is a value, not an absence.
async fn binary_values(b: &dyn Backend) {
    put(b, "bin/empty", b"").await;
    assert_eq!(
        get(b, "bin/empty").await,
        Some(Vec::new()),
        "empty value is present"
    );
    assert_eq!(list(b, "bin/").await, strings(&["empty"]));

    let all_bytes: Vec<u8> = (0..=255).collect();
    put(b, "bin/all", &all_bytes).await;
    assert_eq!(get(b, "bin/all").await, Some(all_bytes));

    // 1 MiB of cheap pseudo-random bytes (xorshift), like a large ciphertext.
    let mut x: u32 = 0x9e37_79b9;
    let big: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect();
    put(b, "bin/big", &big).await;
    assert!(
        get(b, "bin/big").await == Some(big),
        "1 MiB value round-trips"
    );

    for key in ["bin/empty", "bin/all", "bin/big"] {
        delete(b, key).await;
    }
}

/// Conditions hold → every op applies, in order; any condition fails → nothing is written.
async fn batches(b: &dyn Backend) {
    b.batch(Batch::default()).await.expect("empty batch");
    put(b, "tx/existing", b"old").await;

    let ok = Batch {
        conditions: vec![
            Condition::Absent("tx/new".into()),
            Condition::Equals("tx/existing".into(), b"old".to_vec()),
        ],
        ops: vec![
            Op::Put("tx/new".into(), b"n".to_vec()),
            Op::Put("tx/existing".into(), b"new".to_vec()),
            Op::Put("tx/gone".into(), b"g".to_vec()),
            Op::Delete("tx/gone".into()), // later ops win...
            Op::Delete("tx/back".into()),
            Op::Put("tx/back".into(), b"b".to_vec()), // ...in both directions
            Op::Delete("tx/never-existed".into()),
        ],
    };
    b.batch(ok).await.expect("batch whose conditions hold");
    assert_eq!(get(b, "tx/new").await.as_deref(), Some(&b"n"[..]));
    assert_eq!(get(b, "tx/existing").await.as_deref(), Some(&b"new"[..]));
    assert_eq!(get(b, "tx/gone").await, None);
    assert_eq!(get(b, "tx/back").await.as_deref(), Some(&b"b"[..]));

    let failing = [
        (
            "Absent on an existing key",
            Condition::Absent("tx/new".into()),
        ),
        (
            "Equals with the wrong bytes",
            Condition::Equals("tx/existing".into(), b"old".to_vec()),
        ),
        (
            "Equals on a missing key",
            Condition::Equals("tx/missing".into(), Vec::new()),
        ),
    ];
    for (what, bad) in failing {
        let batch = Batch {
            // A holding condition first, so only `bad` can fail the batch.
            conditions: vec![Condition::Absent("tx/missing".into()), bad],
            ops: vec![
                Op::Put("tx/written".into(), b"x".to_vec()),
                Op::Delete("tx/new".into()),
                Op::Put("tx/existing".into(), b"clobbered".to_vec()),
            ],
        };
        let result = b.batch(batch).await;
        assert!(
            matches!(result, Err(Error::ConditionFailed)),
            "{what}: {result:?}"
        );
        assert_eq!(get(b, "tx/written").await, None, "{what}: nothing written");
        assert_eq!(
            get(b, "tx/new").await.as_deref(),
            Some(&b"n"[..]),
            "{what}: nothing deleted"
        );
        assert_eq!(
            get(b, "tx/existing").await.as_deref(),
            Some(&b"new"[..]),
            "{what}"
        );
    }

    // Conditions only, and Equals on an empty value.
    put(b, "tx/empty", b"").await;
    let check = Batch {
        conditions: vec![Condition::Equals("tx/empty".into(), Vec::new())],
        ops: vec![],
    };
    b.batch(check).await.expect("Equals on an empty value");

    let cleanup = Batch {
        conditions: vec![],
        ops: ["tx/new", "tx/existing", "tx/back", "tx/empty"]
            .map(|k| Op::Delete(k.into()))
            .to_vec(),
    };
    b.batch(cleanup).await.expect("delete-only batch");
    assert_eq!(list(b, "tx/").await, Vec::<String>::new());
}

/// Many batches race to create the same key: exactly one wins, and its writes are the ones
/// that stick.
async fn racing_absent_batches(backend: &Arc<dyn Backend>) {
    const RACERS: usize = 32;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let b = Arc::clone(backend);
        tasks.spawn(async move {
            let batch = Batch {
                conditions: vec![Condition::Absent("race/key".into())],
                ops: vec![
                    Op::Put("race/key".into(), i.to_string().into_bytes()),
                    Op::Put(format!("race/winner-{i:02}"), Vec::new()),
                ],
            };
            (i, b.batch(batch).await)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("racer task") {
            (i, Ok(())) => winners.push(i),
            (_, Err(Error::ConditionFailed)) => {}
            (i, Err(e)) => panic!("racer {i}: unexpected error {e}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one Absent batch may win: {winners:?}"
    );
    let b = &**backend;
    let winner = winners[0];
    assert_eq!(
        get(b, "race/key").await,
        Some(winner.to_string().into_bytes())
    );
    let winner_key = format!("winner-{winner:02}");
    assert_eq!(list(b, "race/").await, strings(&["key", &winner_key]));
    delete(b, "race/key").await;
    delete(b, &format!("race/{winner_key}")).await;
}

/// Read-modify-write loops guarded by `Equals` lose no update.
async fn racing_compare_and_swap(backend: &Arc<dyn Backend>) {
    const TASKS: u64 = 16;
    const INCREMENTS: u64 = 4;
    put(&**backend, "cas/counter", &0u64.to_be_bytes()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let b = Arc::clone(backend);
        tasks.spawn(async move {
            for _ in 0..INCREMENTS {
                loop {
                    let old = get(&*b, "cas/counter").await.expect("counter exists");
                    let n = u64::from_be_bytes(old.as_slice().try_into().expect("8 bytes"));
                    let batch = Batch {
                        conditions: vec![Condition::Equals("cas/counter".into(), old)],
                        ops: vec![Op::Put(
                            "cas/counter".into(),
                            (n + 1).to_be_bytes().to_vec(),
                        )],
                    };
                    match b.batch(batch).await {
                        Ok(()) => break,
                        Err(Error::ConditionFailed) => tokio::task::yield_now().await,
                        Err(e) => panic!("cas: {e}"),
                    }
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("cas task");
    }
    let end = get(&**backend, "cas/counter")
        .await
        .expect("counter exists");
    assert_eq!(
        end,
        (TASKS * INCREMENTS).to_be_bytes().to_vec(),
        "no lost update"
    );
    delete(&**backend, "cas/counter").await;
}

//! KV v2 through the engine harness: shapes, versions, cas, delete/undelete/destroy,
//! pruning, patch, subkeys, and concurrent check-and-set writers.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::KvV2;
use crate::engine::testing::Harness;
use crate::engine::EngineError;
use crate::logical::{Body, Operation};

fn kv() -> Harness {
    Harness::new(KvV2::default())
}

async fn put(h: &Harness, key: &str, data: Value) -> Value {
    h.data(
        Operation::Update,
        &format!("data/{key}"),
        json!({"data": data, "options": {}}),
    )
    .await
}

fn body(r: Result<crate::engine::EngineResponse, EngineError>) -> Body {
    r.expect("ok").body
}

#[tokio::test]
async fn write_then_read_has_openbao_shape() {
    let h = kv();
    let w = put(&h, "app/db", json!({"user": "u", "nested": {"a": [1, 2]}})).await;
    assert_eq!(w["version"], 1);
    assert_eq!(w["deletion_time"], "");
    assert_eq!(w["destroyed"], false);
    assert_eq!(w["custom_metadata"], Value::Null);
    assert_eq!(w["created_time"], "2026-11-22T08:08:10.632335602Z");
    let r = h.data(Operation::Read, "data/app/db", json!({})).await;
    assert_eq!(r["data"], json!({"user": "u", "nested": {"a": [1, 2]}}));
    assert_eq!(r["metadata"]["version"], 1);
    assert!(matches!(
        body(h.call(Operation::Read, "data/nope", json!({})).await),
        Body::NotFound
    ));
}

#[tokio::test]
async fn versions_and_cas() {
    let h = kv();
    put(&h, "k", json!({"v": 1})).await;
    put(&h, "k", json!({"v": 2})).await;
    let wrong = h
        .call(
            Operation::Update,
            "data/k",
            json!({"data": {"v": 3}, "options": {"cas": 1}}),
        )
        .await;
    assert!(matches!(wrong, Err(EngineError::CasMismatch)));
    let ok = h
        .data(
            Operation::Update,
            "data/k",
            json!({"data": {"v": 3}, "options": {"cas": 2}}),
        )
        .await;
    assert_eq!(ok["version"], 3);
    let old = h
        .data(Operation::Read, "data/k", json!({"version": "1"}))
        .await;
    assert_eq!(old["data"]["v"], 1);
    assert!(matches!(
        body(
            h.call(Operation::Read, "data/k", json!({"version": "9"}))
                .await
        ),
        Body::NotFound
    ));
    let meta = h.data(Operation::Read, "metadata/k", json!({})).await;
    assert_eq!(meta["current_version"], 3);
    assert_eq!(meta["oldest_version"], 0);
    assert_eq!(
        meta["versions"].as_object().map(|m| m.len()),
        Some(3),
        "{meta}"
    );
}

#[tokio::test]
async fn bad_input_is_refused_without_touching_data() {
    let h = kv();
    put(&h, "k", json!({"v": 1})).await;
    for bad in [
        json!({}),
        json!({"data": "x"}),
        json!({"data": [1]}),
        json!({"data": 5}),
    ] {
        let r = h.call(Operation::Update, "data/k", bad.clone()).await;
        assert!(
            matches!(r, Err(EngineError::InvalidRequest(_))),
            "{bad}: {r:?}"
        );
    }
    let r = h.data(Operation::Read, "data/k", json!({})).await;
    assert_eq!(
        (r["data"]["v"].clone(), r["metadata"]["version"].clone()),
        (json!(1), json!(1))
    );
}

#[tokio::test]
async fn delete_undelete_destroy() {
    let h = kv();
    put(&h, "k", json!({"v": 1})).await;
    put(&h, "k", json!({"v": 2})).await;
    h.call(Operation::Delete, "data/k", json!({}))
        .await
        .expect("delete");
    match body(h.call(Operation::Read, "data/k", json!({})).await) {
        Body::Gone(Some(d)) => {
            assert_eq!(d["data"], Value::Null);
            assert_eq!(d["metadata"]["version"], 2);
            assert_ne!(d["metadata"]["deletion_time"], "");
        }
        other => panic!("deleted version: {other:?}"),
    }
    h.call(Operation::Update, "undelete/k", json!({"versions": ["2"]}))
        .await
        .expect("undelete");
    assert_eq!(
        h.data(Operation::Read, "data/k", json!({})).await["data"]["v"],
        2
    );
    h.call(Operation::Update, "destroy/k", json!({"versions": [1]}))
        .await
        .expect("destroy");
    match body(
        h.call(Operation::Read, "data/k", json!({"version": 1}))
            .await,
    ) {
        Body::Gone(Some(d)) => assert_eq!(d["metadata"]["destroyed"], true),
        other => panic!("destroyed version: {other:?}"),
    }
    // A destroyed version cannot come back, and its data is gone from storage.
    h.call(Operation::Update, "undelete/k", json!({"versions": [1]}))
        .await
        .expect("undelete");
    assert!(matches!(
        body(
            h.call(Operation::Read, "data/k", json!({"version": 1}))
                .await
        ),
        Body::Gone(_)
    ));
    let remaining = crate::logical::storage::list_tree(&h.view, "d/")
        .await
        .expect("list");
    assert_eq!(remaining, vec!["k@2".to_string()]);
    for empty in ["delete/k", "undelete/k", "destroy/k"] {
        assert!(matches!(
            h.call(Operation::Update, empty, json!({"versions": []}))
                .await,
            Err(EngineError::InvalidRequest(_))
        ));
    }
}

#[tokio::test]
async fn delete_version_after_counts_from_the_write() {
    let h = kv();
    h.call(
        Operation::Update,
        "metadata/k",
        json!({"delete_version_after": "1h"}),
    )
    .await
    .expect("metadata");
    put(&h, "k", json!({"v": 1})).await;
    let r = h.data(Operation::Read, "data/k", json!({})).await;
    assert_eq!(
        r["metadata"]["deletion_time"],
        "2026-11-22T09:08:10.632335602Z"
    );
    h.clock.advance(Duration::from_secs(3601));
    assert!(matches!(
        body(h.call(Operation::Read, "data/k", json!({})).await),
        Body::Gone(_)
    ));
}

#[tokio::test]
async fn pruning_uses_the_larger_max_versions() {
    let h = kv();
    h.call(Operation::Update, "config", json!({"max_versions": 2}))
        .await
        .expect("config");
    for i in 1..=4 {
        put(&h, "k", json!({"v": i})).await;
    }
    let meta = h.data(Operation::Read, "metadata/k", json!({})).await;
    let versions: Vec<&String> = meta["versions"].as_object().expect("map").keys().collect();
    assert_eq!(versions, vec!["3", "4"]);
    assert_eq!(meta["oldest_version"], 3);
    // The key's own setting is larger, so it wins.
    h.call(Operation::Update, "metadata/k", json!({"max_versions": 3}))
        .await
        .expect("metadata");
    for i in 5..=7 {
        put(&h, "k", json!({"v": i})).await;
    }
    let meta = h.data(Operation::Read, "metadata/k", json!({})).await;
    assert_eq!(meta["versions"].as_object().map(|m| m.len()), Some(3));
    assert_eq!(meta["oldest_version"], 5);
}

#[tokio::test]
async fn patch_merges_onto_the_current_version() {
    let h = kv();
    put(&h, "k", json!({"a": 1, "n": {"x": 1, "y": 2}})).await;
    let w = h
        .data(
            Operation::Patch,
            "data/k",
            json!({"data": {"b": 2, "n": {"y": null}}}),
        )
        .await;
    assert_eq!(w["version"], 2);
    let r = h.data(Operation::Read, "data/k", json!({})).await;
    assert_eq!(r["data"], json!({"a": 1, "b": 2, "n": {"x": 1}}));
    assert!(matches!(
        body(
            h.call(Operation::Patch, "data/missing", json!({"data": {"a": 1}}))
                .await
        ),
        Body::Missing
    ));
    // A deleted current version answers 404 with its metadata, and is not patched.
    h.call(Operation::Delete, "data/k", json!({}))
        .await
        .expect("delete");
    match body(
        h.call(Operation::Patch, "data/k", json!({"data": {"c": 3}}))
            .await,
    ) {
        Body::Gone(Some(d)) => assert_eq!(d["version"], 2),
        other => panic!("patch of a deleted version: {other:?}"),
    }
    let meta = h.data(Operation::Read, "metadata/k", json!({})).await;
    assert_eq!(meta["current_version"], 2);
}

#[tokio::test]
async fn metadata_write_patch_list_delete() {
    let h = kv();
    put(&h, "app/a", json!({"v": 1})).await;
    put(&h, "app/sub/b", json!({"v": 1})).await;
    put(&h, "top", json!({"v": 1})).await;
    h.call(
        Operation::Update,
        "metadata/top",
        json!({"custom_metadata": {"owner": "me", "team": "x"}, "cas_required": true}),
    )
    .await
    .expect("write");
    h.call(
        Operation::Patch,
        "metadata/top",
        json!({"custom_metadata": {"team": null, "env": "prod"}}),
    )
    .await
    .expect("patch");
    let meta = h.data(Operation::Read, "metadata/top", json!({})).await;
    assert_eq!(
        meta["custom_metadata"],
        json!({"owner": "me", "env": "prod"})
    );
    assert_eq!(meta["cas_required"], true);
    assert_eq!(meta["current_metadata_version"], 2);
    // cas_required on the key now refuses a write without cas.
    assert!(h
        .call(Operation::Update, "data/top", json!({"data": {"v": 2}}))
        .await
        .is_err());
    let root = h.data(Operation::List, "metadata/", json!({})).await;
    assert_eq!(root["keys"], json!(["app/", "top"]));
    let app = h.data(Operation::List, "metadata/app/", json!({})).await;
    assert_eq!(app["keys"], json!(["a", "sub/"]));
    h.call(Operation::Delete, "metadata/app/a", json!({}))
        .await
        .expect("delete");
    assert!(matches!(
        body(h.call(Operation::Read, "data/app/a", json!({})).await),
        Body::NotFound
    ));
    assert!(matches!(
        body(
            h.call(Operation::List, "metadata/nothing/", json!({}))
                .await
        ),
        Body::NotFound
    ));
    assert!(matches!(
        h.call(
            Operation::Patch,
            "metadata/ghost",
            json!({"max_versions": 1})
        )
        .await,
        Err(EngineError::NotFound)
    ));
    assert!(matches!(
        h.call(Operation::List, "data/", json!({})).await,
        Err(EngineError::UnsupportedOperation)
    ));
}

#[tokio::test]
async fn subkeys_show_the_shape() {
    let h = kv();
    put(&h, "k", json!({"a": "1", "n": {"x": {"y": "2"}}})).await;
    let s = h.data(Operation::Read, "subkeys/k", json!({})).await;
    assert_eq!(s["subkeys"], json!({"a": null, "n": {"x": {"y": null}}}));
    let s = h
        .data(Operation::Read, "subkeys/k", json!({"depth": "1"}))
        .await;
    assert_eq!(s["subkeys"], json!({"a": null, "n": null}));
}

#[tokio::test]
async fn values_are_ciphertext_below_the_barrier() {
    let h = kv();
    put(&h, "k", json!({"password": "hunter2-plaintext"})).await;
    for key in crate::logical::storage::list_tree(&h.view, "")
        .await
        .expect("list")
    {
        let full = format!("{}{key}", h.view.prefix());
        let raw = storage::Backend::get(&*h.physical, &full)
            .await
            .expect("get")
            .expect("some");
        assert!(
            !raw.windows(7).any(|w| w == b"hunter2"),
            "{key} is plaintext"
        );
    }
}

#[tokio::test]
async fn paths_outside_the_v2_api_warn() {
    let h = kv();
    for path in ["", "data", "foo", "some/v1/path"] {
        let r = h
            .call(Operation::Read, path, json!({}))
            .await
            .expect("answer");
        assert!(matches!(r.body, Body::Gone(None)), "{path}");
        assert_eq!(r.warnings.len(), 1, "{path}");
    }
    let root = h.call(Operation::List, "", json!({})).await.expect("list");
    assert!(matches!(root.body, Body::NotFound));
}

#[tokio::test]
async fn null_data_is_stored_as_null() {
    let h = kv();
    h.data(Operation::Update, "data/n", json!({"data": null}))
        .await;
    let r = h.data(Operation::Read, "data/n", json!({})).await;
    assert_eq!(r["data"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_cas_writers_never_lose_an_update() {
    let h = Arc::new(kv());
    put(&h, "c", json!({"n": 0})).await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for _ in 0..25 {
                let meta = h.data(Operation::Read, "metadata/c", json!({})).await;
                let current = meta["current_version"].as_u64().expect("version");
                let r = h
                    .call(
                        Operation::Update,
                        "data/c",
                        json!({"data": {"w": w}, "options": {"cas": current}}),
                    )
                    .await;
                match r {
                    Ok(resp) => match resp.body {
                        Body::Data(d) => won.push(d["version"].as_u64().expect("v")),
                        other => panic!("{other:?}"),
                    },
                    Err(EngineError::CasMismatch) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            won
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "two writers got the same version");
    let meta = h.data(Operation::Read, "metadata/c", json!({})).await;
    assert_eq!(meta["current_version"].as_u64(), Some(n as u64 + 1));
}

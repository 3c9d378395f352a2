//! The token store driven directly, with a clock the tests move: creation rules, use
//! counts, renewal caps, the tree, and expiry by the worker's own `expire_due`.

use std::sync::Arc;
use std::time::Duration;

use seal::{Key, Keyring};

use super::create::{self, CreateRequest};
use super::*;
use crate::barrier::Barrier;
use crate::engine::testing::TestClock;
use crate::engine::Clock;
use crate::logical::storage::Storage;

struct Fixture {
    mem: Arc<storage::MemBackend>,
    barrier: Arc<Barrier>,
    clock: Arc<TestClock>,
    store: TokenStore,
    root: TokenEntry,
}

async fn fixture() -> Fixture {
    let mem = Arc::new(storage::MemBackend::new());
    let barrier = Arc::new(Barrier::new(mem.clone(), Keyring::new(Key::generate())));
    let view = barrier.view(PREFIX);
    let root_id = generate_id();
    for (k, v) in init_records(&root_id) {
        view.put(&k, &v).await.expect("put");
    }
    let clock = Arc::new(TestClock::new());
    let store = TokenStore::load(view, clock.clone()).await.expect("load");
    let root = store.lookup(&root_id).await.expect("lookup").expect("root");
    Fixture {
        mem,
        barrier,
        clock,
        store,
        root,
    }
}

fn req(policies: &[&str], ttl: u64) -> CreateRequest {
    CreateRequest {
        policies: Some(policies.iter().map(|p| p.to_string()).collect()),
        renewable: true,
        ttl,
        ..CreateRequest::default()
    }
}

async fn make(f: &Fixture, parent: &TokenEntry, r: CreateRequest) -> (String, TokenEntry) {
    let (id, e, _) = create::create(&f.store, parent, false, r, None, false, f.clock.now())
        .await
        .expect("create");
    (id.to_string(), e)
}

#[tokio::test]
async fn policies_default_and_subsets() {
    let f = fixture().await;
    let (_, e) = make(&f, &f.root, req(&["B", "a"], 60)).await;
    assert_eq!(e.policies, ["a", "b", "default"]);
    let (_, r) = make(&f, &f.root, req(&[], 0)).await;
    assert_eq!(r.policies, ["root"]);
    assert_eq!(
        r.expire_ns, None,
        "a root token without a TTL never expires"
    );
    let err = create::create(
        &f.store,
        &e,
        false,
        req(&["c"], 0),
        None,
        false,
        f.clock.now(),
    )
    .await
    .expect_err("not a subset");
    assert!(err
        .to_string()
        .contains("child policies must be subset of parent"));
    let (_, child) = make(&f, &e, req(&["a"], 0)).await;
    assert_eq!(child.policies, ["a", "default"]);
    assert_eq!(child.ttl, 768 * 3600, "the system default TTL");
    assert_eq!(child.parent, e.salted_id);
}

#[tokio::test]
async fn uses_are_spent_and_the_last_one_revokes() {
    let f = fixture().await;
    let mut r = req(&["a"], 60);
    r.num_uses = 2;
    let (id, _) = make(&f, &f.root, r).await;
    let now = f.clock.now();
    let first = f
        .store
        .authenticate(&id, now)
        .await
        .expect("a")
        .expect("live");
    assert!(!first.last_use);
    let second = f
        .store
        .authenticate(&id, now)
        .await
        .expect("a")
        .expect("live");
    assert!(second.last_use);
    f.store.finish_use(&second).await.expect("finish");
    assert!(f.store.authenticate(&id, now).await.expect("a").is_none());
}

#[tokio::test]
async fn expiry_revokes_on_time_and_survives_a_restart() {
    let f = fixture().await;
    let (id, parent) = make(&f, &f.root, req(&["a"], 60)).await;
    let (child_id, _) = make(&f, &parent, req(&["a"], 600)).await;
    f.clock.advance(Duration::from_secs(59));
    assert_eq!(f.store.expire_due(f.clock.now()).await.expect("expire"), 0);
    assert!(f.store.lookup(&id).await.expect("l").is_some());

    // A restart (a new store over the same storage) still knows when it expires.
    let reloaded = TokenStore::load(f.barrier.view(PREFIX), f.clock.clone())
        .await
        .expect("reload");
    f.clock.advance(Duration::from_secs(1));
    assert!(
        reloaded.lookup(&id).await.expect("l").is_none(),
        "expired tokens are refused"
    );
    assert_eq!(reloaded.expire_due(f.clock.now()).await.expect("expire"), 2);
    assert!(reloaded.lookup(&child_id).await.expect("l").is_none());
    assert!(
        reloaded.view.list("id/").await.expect("list").len() == 1,
        "only root is left"
    );
}

#[tokio::test]
async fn renewal_is_capped() {
    let f = fixture().await;
    let mut r = req(&["a"], 600);
    r.explicit_max_ttl = 1200;
    let (_, e) = make(&f, &f.root, r).await;
    f.clock.advance(Duration::from_secs(300));
    let renewed = create::renew(&f.store, &e, Some(Duration::from_secs(3600)), f.clock.now())
        .await
        .expect("renew");
    let left = (renewed.expire_ns.expect("expires") - nanos(f.clock.now())) / 1_000_000_000;
    assert_eq!(
        left, 900,
        "capped at the explicit max counted from creation"
    );
    let mut p = req(&["a"], 0);
    p.period = 1800;
    let (_, periodic) = make(&f, &f.root, p).await;
    let renewed = create::renew(
        &f.store,
        &periodic,
        Some(Duration::from_secs(5)),
        f.clock.now(),
    )
    .await
    .expect("renew");
    let left = (renewed.expire_ns.expect("expires") - nanos(f.clock.now())) / 1_000_000_000;
    assert_eq!(left, 1800, "periodic tokens renew to their period");
    let err = create::renew(&f.store, &f.root, None, f.clock.now())
        .await
        .expect_err("root");
    assert!(err.to_string().contains("invalid lease ID"));
}

#[tokio::test]
async fn orphan_revocation_keeps_children_and_no_id_reaches_storage() {
    let f = fixture().await;
    let (pid, parent) = make(&f, &f.root, req(&["a"], 600)).await;
    let (cid, _) = make(&f, &parent, req(&["a"], 600)).await;
    f.store
        .revoke_orphan(&parent.salted_id)
        .await
        .expect("orphan");
    assert!(f.store.lookup(&pid).await.expect("l").is_none());
    let child = f.store.lookup(&cid).await.expect("l").expect("child lives");
    assert!(child.is_orphan());
    for key in storage::Backend::list(&*f.mem, "").await.expect("list") {
        assert!(!key.contains(&cid) && !key.contains(&pid), "{key}");
    }
    // Nor in any value: everything under the barrier is sealed, so scan the raw bytes.
    for key in storage::Backend::list(&*f.mem, "").await.expect("list") {
        if let Some(raw) = storage::Backend::get(&*f.mem, &key).await.expect("get") {
            let text = String::from_utf8_lossy(&raw);
            assert!(!text.contains(&cid[2..]), "{key} holds a token id");
        }
    }
}

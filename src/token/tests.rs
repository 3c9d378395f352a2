//! The token store and the `auth/token/` engine, driven without the core or HTTP: a real
//! barrier over memory storage, the engine's compiled path table, and a clock the tests
//! move (expiry happens when the test ticks, never by sleeping).

use std::sync::Arc;
use std::time::Duration;

use seal::{Key, Keyring};
use serde_json::{json, Value};

use super::*;
use crate::barrier::Barrier;
use crate::engine::testing::TestClock;
use crate::engine::{
    Clock, Ctx, DynBackend, EngineError, EngineRequest, EngineResponse, MountInfo, Mounted,
    SYSTEM_DEFAULT_LEASE_TTL, SYSTEM_MAX_LEASE_TTL,
};
use crate::lease::ExpirationManager;
use crate::logical::storage::Storage;
use crate::logical::{Body, Data, Operation};

const H: u64 = 3600;

pub(crate) struct Fixture {
    pub(crate) mem: Arc<storage::MemBackend>,
    pub(crate) barrier: Arc<Barrier>,
    pub(crate) clock: Arc<TestClock>,
    pub(crate) store: Arc<TokenStore>,
    pub(crate) leases: Arc<ExpirationManager>,
    backend: Mounted<TokenBackend>,
    pub(crate) mount: MountInfo,
    pub(crate) root: String,
}

impl Fixture {
    pub(crate) async fn new() -> Self {
        let mem = Arc::new(storage::MemBackend::new());
        let barrier = Arc::new(Barrier::new(mem.clone(), Keyring::new(Key::generate())));
        let root = generate_id().to_string();
        let view = barrier.view(PREFIX);
        for (k, v) in init_records(&root) {
            view.put(&k, &v).await.expect("put");
        }
        let clock = Arc::new(TestClock::new());
        Self::open(mem, barrier, clock, root).await
    }

    /// (Re)open the store and the manager over the same storage, as an unseal does.
    pub(crate) async fn open(
        mem: Arc<storage::MemBackend>,
        barrier: Arc<Barrier>,
        clock: Arc<TestClock>,
        root: String,
    ) -> Self {
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let store = Arc::new(
            TokenStore::load(barrier.view(PREFIX), dyn_clock.clone())
                .await
                .expect("load"),
        );
        let leases =
            ExpirationManager::load(barrier.view(crate::lease::PREFIX), store.clone(), dyn_clock)
                .await
                .expect("leases");
        Self {
            backend: Mounted::new(TokenBackend::bare(store.clone())).expect("table"),
            mem,
            barrier,
            clock,
            store,
            leases,
            mount: MountInfo {
                default_lease_ttl: SYSTEM_DEFAULT_LEASE_TTL,
                max_lease_ttl: SYSTEM_MAX_LEASE_TTL,
            },
            root,
        }
    }

    pub(crate) async fn reopen(self) -> Self {
        let Fixture {
            mem,
            barrier,
            clock,
            root,
            ..
        } = self;
        Self::open(mem, barrier, clock, root).await
    }

    pub(crate) fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// One request to `auth/token/<path>` as `token`, with or without sudo on the path
    /// (root always has it).
    pub(crate) async fn call(
        &self,
        op: Operation,
        path: &str,
        data: Value,
        token: &str,
        sudo: bool,
    ) -> Result<EngineResponse, EngineError> {
        let data: Data = match data {
            Value::Object(m) => m,
            _ => Data::new(),
        };
        let caller = self.store.lookup(token).await.expect("lookup");
        let sudo = sudo || caller.as_ref().is_some_and(|e| e.is_root());
        let ctx = Ctx {
            storage: &self.barrier.view("logical/token/"),
            mount: &self.mount,
            clock: &*self.clock,
        };
        let m = self.backend.resolve(path)?;
        let req = EngineRequest {
            op,
            params: m.params.clone(),
            data,
            client_token: Some(token.to_owned()),
            client_id: caller.map(|e| e.salted_id),
            sudo,
            wrap_ttl: None,
            connection: Default::default(),
        };
        self.backend.handle(&ctx, m, req).await
    }

    /// A write that must succeed; returns the response.
    pub(crate) async fn ok(&self, path: &str, data: Value, token: &str) -> EngineResponse {
        match self.call(Operation::Update, path, data, token, false).await {
            Ok(r) => r,
            Err(e) => panic!("{path}: {e}"),
        }
    }

    /// A write that must fail; returns the error text.
    pub(crate) async fn err(&self, path: &str, data: Value, token: &str) -> String {
        match self.call(Operation::Update, path, data, token, false).await {
            Ok(r) => panic!("{path}: expected an error, got {r:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// `create` as `parent`; returns (token, auth as JSON, warnings).
    pub(crate) async fn create(&self, parent: &str, data: Value) -> (String, Value, Vec<String>) {
        let r = self.ok("create", data, parent).await;
        let auth = serde_json::to_value(r.auth.expect("auth")).expect("json");
        let token = auth["client_token"].as_str().expect("token").to_owned();
        (token, auth, r.warnings)
    }

    pub(crate) async fn lookup(&self, token: &str) -> Value {
        let r = self
            .call(Operation::Read, "lookup-self", Value::Null, token, false)
            .await
            .expect("lookup-self");
        match r.body {
            Body::Data(d) => Value::Object(d),
            other => panic!("lookup-self: {other:?}"),
        }
    }

    pub(crate) async fn alive(&self, token: &str) -> bool {
        self.store
            .authenticate(token, self.clock.now(), None)
            .await
            .expect("auth")
            .is_some()
    }
}

fn s(v: &[&str]) -> Value {
    json!(v)
}

#[tokio::test]
async fn create_answers_the_auth_block_and_lookup_the_openbao_fields() {
    let f = Fixture::new().await;
    let (t, auth, warnings) = f
        .create(
            &f.root,
            json!({"policies": ["B", "a"], "ttl": "1h", "display_name": "App X",
                   "meta": {"team": "a"}, "explicit_max_ttl": "0s", "period": "0s",
                   "num_uses": 0, "renewable": true, "type": "service", "entity_alias": ""}),
        )
        .await;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(t.starts_with("s.") && t.len() == 26);
    // Field order as OpenBao sends it.
    let text = serde_json::to_string(&f.ok("create", json!({}), &f.root).await.auth).expect("json");
    let order = [
        "client_token",
        "accessor",
        "policies",
        "token_policies",
        "metadata",
        "lease_duration",
        "renewable",
        "entity_id",
        "token_type",
        "orphan",
        "mfa_requirement",
        "num_uses",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|k| text.find(&format!("\"{k}\":")).expect(k))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(auth["policies"], s(&["a", "b", "default"]));
    assert_eq!(auth["lease_duration"], 3600);
    assert_eq!(auth["renewable"], true);
    assert_eq!(auth["orphan"], false);
    assert_eq!(auth["metadata"], json!({"team": "a"}));
    assert_eq!(auth["accessor"].as_str().expect("acc").len(), 24);

    let d = f.lookup(&t).await;
    assert_eq!(d["id"], t.as_str());
    assert_eq!(d["display_name"], "token-App-X");
    assert_eq!(d["path"], "auth/token/create");
    assert_eq!(d["creation_ttl"], 3600);
    assert_eq!(d["ttl"], 3599, "now rounds up past the creation second");
    assert_eq!(d["expire_time"], "2026-11-22T09:08:10.632335602Z");
    assert_eq!(d["issue_time"], "2026-11-22T08:08:10.632335602Z");
    assert_eq!(d["renewable"], true);
    assert_eq!(d["orphan"], false);
    assert_eq!(d["num_uses"], 0);
    assert_eq!(d["entity_id"], "");
    assert_eq!(d["type"], "service");
    assert_eq!(d["explicit_max_ttl"], 0);
    assert!(d.get("period").is_none() && d.get("last_renewal").is_none());

    // lookup by token (GET and POST), by accessor (id blanked).
    let r = f
        .call(
            Operation::Read,
            "lookup",
            json!({"token": t}),
            &f.root,
            false,
        )
        .await
        .expect("lookup");
    assert!(matches!(r.body, Body::Data(ref d) if d["id"] == t.as_str()));
    let acc = auth["accessor"].as_str().expect("acc");
    let r = f
        .ok("lookup-accessor", json!({"accessor": acc}), &f.root)
        .await;
    assert!(matches!(r.body, Body::Data(ref d) if d["id"] == "" && d["accessor"] == acc));
    assert_eq!(
        f.err("lookup", json!({"token": "s.nope"}), &f.root).await,
        "bad token"
    );
    assert_eq!(
        f.err("lookup-accessor", json!({"accessor": "nope"}), &f.root)
            .await,
        "1 error occurred:\n\t* invalid accessor\n\n"
    );
}

#[tokio::test]
async fn the_init_root_token_has_no_lease() {
    let f = Fixture::new().await;
    let d = f.lookup(&f.root).await;
    assert_eq!(d["path"], "auth/token/root");
    assert_eq!(d["display_name"], "root");
    assert_eq!(d["policies"], s(&["root"]));
    assert_eq!(d["expire_time"], Value::Null);
    assert_eq!(d["ttl"], 0);
    assert_eq!(d["orphan"], true);
    assert!(d.get("issue_time").is_none() && d.get("renewable").is_none());
    assert_eq!(
        f.err("renew-self", json!({}), &f.root).await,
        "invalid lease ID"
    );
    // Its accessor works too.
    let acc = d["accessor"].as_str().expect("acc").to_owned();
    assert!(f.store.lookup_accessor(&acc).await.expect("acc").is_some());
}

#[tokio::test]
async fn policy_rules_follow_openbao() {
    let f = Fixture::new().await;
    // Root with no policies: root, never expires, not renewable.
    let (r, auth, _) = f.create(&f.root, json!({})).await;
    assert_eq!(auth["policies"], s(&["root"]));
    assert_eq!(auth["lease_duration"], 0);
    assert_eq!(auth["renewable"], false);
    assert_eq!(f.lookup(&r).await["expire_time"], Value::Null);
    // no_default_policy.
    let (_, auth, _) = f
        .create(
            &f.root,
            json!({"policies": ["a"], "no_default_policy": true}),
        )
        .await;
    assert_eq!(auth["policies"], s(&["a"]));
    // A child of a non-root parent: inherits, subsets only, no root.
    let (p, _, _) = f.create(&f.root, json!({"policies": ["a", "b"]})).await;
    let (_, auth, _) = f.create(&p, json!({})).await;
    assert_eq!(auth["policies"], s(&["a", "b", "default"]));
    let (_, auth, _) = f.create(&p, json!({"policies": ["a"]})).await;
    assert_eq!(auth["policies"], s(&["a", "default"]));
    assert_eq!(
        f.err("create", json!({"policies": ["c"]}), &p).await,
        "child policies must be subset of parent"
    );
    assert_eq!(
        f.err("create", json!({"policies": ["root"]}), &p).await,
        "child policies must be subset of parent"
    );
    assert_eq!(
        f.err("create", json!({"no_parent": true}), &p).await,
        "root or sudo privileges required to create orphan token"
    );
    assert_eq!(
        f.err("create", json!({"id": "custom"}), &p).await,
        "root or sudo privileges required to specify token id"
    );
    assert_eq!(
        f.err("create", json!({"period": "1h"}), &p).await,
        "root or sudo privileges required to create periodic token"
    );
    assert_eq!(
        f.err(
            "create",
            json!({"policies": ["response-wrapping"]}),
            &f.root
        )
        .await,
        "cannot assign policy \"response-wrapping\""
    );
    // Sudo (not root) may grant any non-root policy, but not root itself.
    let r = f
        .call(
            Operation::Update,
            "create",
            json!({"policies": ["zzz"]}),
            &p,
            true,
        )
        .await
        .expect("sudo create");
    assert_eq!(r.auth.expect("auth").policies, ["default", "zzz"]);
    let e = f
        .call(
            Operation::Update,
            "create",
            json!({"policies": ["root"]}),
            &p,
            true,
        )
        .await
        .expect_err("root from sudo");
    assert_eq!(
        e.to_string(),
        "root tokens may not be created without parent token being root"
    );
}

#[tokio::test]
async fn custom_ids_and_orphans() {
    let f = Fixture::new().await;
    let (t, auth, warnings) = f
        .create(&f.root, json!({"id": "myid", "policies": ["a"]}))
        .await;
    assert_eq!(t, "myid");
    assert_eq!(warnings.len(), 1);
    assert_eq!(auth["orphan"], false);
    for (id, msg) in [
        ("s.abc", "custom token ID cannot have the 's.' prefix"),
        ("hvs.abc", "custom token ID cannot have the 'hvs.' prefix"),
        ("a.b", "custom token ID cannot have a '.' in the value"),
        ("myid", "cannot create a token with a duplicate ID"),
    ] {
        assert_eq!(f.err("create", json!({"id": id}), &f.root).await, msg);
    }
    let r = f.ok("create-orphan", json!({"policies": ["a"]}), &t).await;
    let auth = r.auth.expect("auth");
    assert!(auth.orphan);
    let d = f.lookup(&auth.client_token).await;
    assert_eq!(d["path"], "auth/token/create-orphan");
    let (_, auth, _) = f.create(&f.root, json!({"no_parent": true})).await;
    assert_eq!(auth["orphan"], true);
}

#[tokio::test]
async fn ttls_are_capped_with_openbao_warnings() {
    let mut f = Fixture::new().await;
    // Default: the mount's default TTL.
    let (_, auth, _) = f.create(&f.root, json!({"policies": ["a"]})).await;
    assert_eq!(auth["lease_duration"], 768 * H);
    // Over the max: capped, warned.
    let (_, auth, w) = f
        .create(&f.root, json!({"policies": ["a"], "ttl": "1000h"}))
        .await;
    assert_eq!(auth["lease_duration"], 768 * H);
    assert_eq!(
        w,
        ["TTL of \"1000h\" exceeded the effective max_ttl of \"768h\"; TTL value is capped accordingly"]
    );
    // Explicit max below the TTL.
    let (_, auth, w) = f
        .create(
            &f.root,
            json!({"policies": ["a"], "ttl": "2h", "explicit_max_ttl": "1h"}),
        )
        .await;
    assert_eq!(auth["lease_duration"], H);
    assert_eq!(
        w,
        ["TTL of \"2h\" exceeded the effective max_ttl of \"1h\"; TTL value is capped accordingly"]
    );
    // A tuned mount max.
    f.mount.max_lease_ttl = Duration::from_secs(24 * H);
    let (_, auth, w) = f.create(&f.root, json!({"policies": ["a"]})).await;
    assert_eq!(auth["lease_duration"], 24 * H);
    assert_eq!(
        w,
        ["TTL of \"768h\" exceeded the effective max_ttl of \"24h\"; TTL value is capped accordingly"]
    );
    // A root-policy token with an explicit max expires.
    let (r, auth, _) = f.create(&f.root, json!({"explicit_max_ttl": "1h"})).await;
    assert_eq!(auth["policies"], s(&["root"]));
    assert_eq!(auth["lease_duration"], H);
    // ... and may not create a non-expiring root token.
    assert_eq!(
        f.err("create", json!({}), &r).await,
        "expiring root tokens cannot create non-expiring root tokens"
    );
    // Periods are capped by the max.
    let (_, auth, w) = f
        .create(&f.root, json!({"policies": ["a"], "period": "48h"}))
        .await;
    assert_eq!(auth["lease_duration"], 24 * H);
    assert!(w[0].starts_with("period of \"48h\" exceeded"), "{w:?}");
}

#[tokio::test]
async fn renewal_grants_increments_up_to_the_max() {
    let f = Fixture::new().await;
    let (t, _, _) = f
        .create(&f.root, json!({"policies": ["a"], "ttl": "1h"}))
        .await;
    f.advance(600);
    let r = f.ok("renew-self", json!({"increment": "10m"}), &t).await;
    let auth = r.auth.expect("auth");
    assert_eq!(auth.lease_duration, 600);
    assert_eq!(auth.client_token, t);
    let d = f.lookup(&t).await;
    assert_eq!(d["ttl"], 599);
    assert_eq!(d["last_renewal"], "2026-11-22T08:18:10.632335602Z");
    assert!(d["last_renewal_time"].is_i64());
    // No increment: the TTL last granted.
    let r = f.ok("renew", json!({"token": t}), &f.root).await;
    assert_eq!(r.auth.expect("auth").lease_duration, 600);
    // Explicit max from creation caps it, counted from the issue time.
    let (c, _, _) = f
        .create(
            &f.root,
            json!({"policies": ["a"], "ttl": "10m", "explicit_max_ttl": "20m"}),
        )
        .await;
    f.advance(60);
    let r = f.ok("renew-self", json!({"increment": "1h"}), &c).await;
    assert_eq!(r.auth.expect("auth").lease_duration, 1140);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    // Periodic tokens renew to their period.
    let (p, _, _) = f
        .create(&f.root, json!({"policies": ["a"], "period": "30m"}))
        .await;
    let r = f.ok("renew-self", json!({"increment": "5h"}), &p).await;
    assert_eq!(r.auth.expect("auth").lease_duration, 1800);
    assert_eq!(f.lookup(&p).await["period"], 1800);
    // Not renewable.
    let (n, _, _) = f
        .create(&f.root, json!({"policies": ["a"], "renewable": false}))
        .await;
    assert_eq!(
        f.err("renew-self", json!({}), &n).await,
        "lease is not renewable"
    );
    assert_eq!(f.lookup(&n).await["renewable"], false);
    // By accessor: the token is not shown.
    let acc = f.lookup(&t).await["accessor"]
        .as_str()
        .expect("acc")
        .to_owned();
    let r = f
        .ok("renew-accessor", json!({"accessor": acc}), &f.root)
        .await;
    assert_eq!(r.auth.expect("auth").client_token, "");
    assert_eq!(
        f.err("renew", json!({"token": "s.nope"}), &f.root).await,
        "token not found"
    );
}

#[tokio::test]
async fn use_counts_are_spent_and_the_last_use_revokes() {
    let f = Fixture::new().await;
    let (t, auth, _) = f
        .create(&f.root, json!({"policies": ["a"], "num_uses": 2}))
        .await;
    assert_eq!(auth["num_uses"], 2);
    let now = f.clock.now();
    let a = f
        .store
        .authenticate(&t, now, None)
        .await
        .expect("a")
        .expect("live");
    assert!(!a.last_use);
    assert_eq!(a.entry.num_uses, 1);
    // A token with uses left may not make children.
    assert_eq!(
        f.err("create", json!({}), &t).await,
        "restricted use token cannot generate child tokens"
    );
    let a = f
        .store
        .authenticate(&t, now, None)
        .await
        .expect("a")
        .expect("live");
    assert!(a.last_use, "the second use is the last");
    // The request spending it still sees the token (num_uses -1: revocation pending).
    assert_eq!(f.lookup(&t).await["num_uses"], -1);
    assert!(f
        .store
        .authenticate(&t, now, None)
        .await
        .expect("a")
        .is_none());
    f.store.finish_use(&a).await.expect("finish");
    assert!(f
        .store
        .read(&a.entry.salted_id)
        .await
        .expect("read")
        .is_none());
    assert_eq!(
        f.err("lookup", json!({"token": t}), &f.root).await,
        "bad token"
    );
}

#[tokio::test]
async fn revoking_takes_the_whole_tree_but_not_orphans() {
    let f = Fixture::new().await;
    let (p, _, _) = f.create(&f.root, json!({"policies": ["a"]})).await;
    let (c1, _, _) = f.create(&p, json!({})).await;
    let (c2, _, _) = f.create(&p, json!({})).await;
    let (g, _, _) = f.create(&c1, json!({})).await;
    let (o, _, _) = f
        .call(Operation::Update, "create-orphan", json!({}), &c2, false)
        .await
        .map(|r| {
            let a = r.auth.expect("auth");
            (a.client_token, (), ())
        })
        .expect("orphan");
    let r = f.ok("revoke", json!({"token": p}), &f.root).await;
    assert!(matches!(r.body, Body::NoContent) && r.warnings.is_empty());
    for gone in [&p, &c1, &c2, &g] {
        assert!(!f.alive(gone).await, "{gone} survived");
    }
    assert!(f.alive(&o).await);
    // Nothing of theirs is left: one root, one orphan; two accessors; no parent links.
    assert_eq!(f.store.view.list("id/").await.expect("ids").len(), 2);
    assert_eq!(f.store.accessors().await.expect("acc").len(), 2);
    assert!(f
        .store
        .view
        .list("parent/")
        .await
        .expect("parents")
        .is_empty());
    // Revoking again, or an unknown token: still 204.
    f.ok("revoke", json!({"token": p}), &f.root).await;
    assert_eq!(
        f.err("revoke", json!({}), &f.root).await,
        "missing token ID"
    );
    // revoke-self.
    f.ok("revoke-self", json!({}), &o).await;
    assert!(!f.alive(&o).await);
}

#[tokio::test]
async fn revoke_orphan_keeps_the_children() {
    let f = Fixture::new().await;
    let (p, _, _) = f.create(&f.root, json!({"policies": ["a"]})).await;
    let (c, _, _) = f.create(&p, json!({})).await;
    let (g, _, _) = f.create(&c, json!({})).await;
    assert_eq!(
        f.err("revoke-orphan", json!({"token": c}), &p).await,
        "root or sudo privileges required to revoke and orphan"
    );
    f.ok("revoke-orphan", json!({"token": c}), &f.root).await;
    assert!(!f.alive(&c).await);
    assert!(f.alive(&p).await && f.alive(&g).await);
    assert_eq!(f.lookup(&g).await["orphan"], true);
    // The grandchild no longer goes with its grandparent.
    f.ok("revoke", json!({"token": p}), &f.root).await;
    assert!(f.alive(&g).await);
    assert_eq!(
        f.err("revoke-orphan", json!({"token": "s.nope"}), &f.root)
            .await,
        "token to revoke not found"
    );
}

#[tokio::test]
async fn accessors_list_and_revoke() {
    let f = Fixture::new().await;
    let (t, auth, _) = f.create(&f.root, json!({"policies": ["a"]})).await;
    let acc = auth["accessor"].as_str().expect("acc").to_owned();
    let r = f
        .call(Operation::List, "accessors/", Value::Null, &f.root, false)
        .await
        .expect("list");
    let Body::Data(d) = r.body else {
        panic!("list")
    };
    assert_eq!(d["keys"].as_array().expect("keys").len(), 2);
    assert!(d["keys"].as_array().expect("keys").contains(&json!(acc)));
    f.ok("revoke-accessor", json!({"accessor": acc}), &f.root)
        .await;
    assert!(!f.alive(&t).await);
    let r = f
        .ok("revoke-accessor", json!({"accessor": acc}), &f.root)
        .await;
    assert_eq!(r.warnings, ["No token found with this accessor"]);
}

#[tokio::test]
async fn the_worker_tick_expires_tokens_on_time_and_after_a_restart() {
    let f = Fixture::new().await;
    let (t, _, _) = f
        .create(&f.root, json!({"policies": ["a"], "ttl": "1h"}))
        .await;
    let (c, _, _) = f.create(&t, json!({"ttl": "5h"})).await;
    let (long, _, _) = f
        .create(&f.root, json!({"policies": ["a"], "ttl": "2h"}))
        .await;
    f.advance(H);
    // At the very second it ends it is still good; the tick does nothing yet.
    assert_eq!(f.leases.tick(f.clock.now()).await.expect("tick"), 0);
    assert!(f.alive(&t).await);
    // Restart: the expiry is restored from storage.
    let f = f.reopen().await;
    f.clock.advance(Duration::from_millis(1));
    assert!(
        !f.alive(&t).await,
        "expired tokens are refused before the tick"
    );
    assert_eq!(f.leases.tick(f.clock.now()).await.expect("tick"), 2);
    assert!(f
        .store
        .read(&f.store.salted(&t))
        .await
        .expect("r")
        .is_none());
    assert!(!f.alive(&c).await, "the child went with its parent");
    assert!(f.alive(&long).await);
    // A renewal moves the expiry: the old index entry must not revoke it.
    f.ok("renew", json!({"token": long, "increment": "3h"}), &f.root)
        .await;
    f.advance(2 * H);
    assert_eq!(f.leases.tick(f.clock.now()).await.expect("tick"), 0);
    assert!(f.alive(&long).await);
    f.advance(2 * H);
    assert_eq!(f.leases.tick(f.clock.now()).await.expect("tick"), 1);
    assert!(!f.alive(&long).await);
    assert!(f.alive(&f.root).await, "root tokens never expire");
}

#[tokio::test]
async fn a_revocation_cut_short_is_finished_after_a_restart() {
    let f = Fixture::new().await;
    let (t, _, _) = f
        .create(&f.root, json!({"policies": ["a"], "num_uses": 1}))
        .await;
    let a = f
        .store
        .authenticate(&t, f.clock.now(), None)
        .await
        .expect("a")
        .expect("live");
    assert!(a.last_use);
    // The server stops before the request finished: the token is pending revocation.
    let f = f.reopen().await;
    assert!(!f.alive(&t).await);
    assert_eq!(f.leases.tick(f.clock.now()).await.expect("tick"), 1);
    assert!(f.store.read(&a.entry.salted_id).await.expect("r").is_none());
}

#[tokio::test]
async fn roles_shape_and_constraints() {
    let f = Fixture::new().await;
    let r = f
        .ok(
            "roles/app",
            json!({"allowed_policies": "a,B", "orphan": true, "token_explicit_max_ttl": "1h",
                   "path_suffix": "v1.0"}),
            &f.root,
        )
        .await;
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let r = f
        .call(Operation::Read, "roles/app", Value::Null, &f.root, false)
        .await
        .expect("read");
    let Body::Data(d) = r.body else {
        panic!("read")
    };
    assert_eq!(
        Value::Object(d),
        json!({"allowed_entity_aliases": null, "allowed_policies": ["a", "b"],
               "allowed_policies_glob": [], "disallowed_policies": [],
               "disallowed_policies_glob": [], "explicit_max_ttl": 0, "name": "app",
               "orphan": true, "path_suffix": "v1.0", "period": 0, "renewable": true,
               "token_explicit_max_ttl": 3600, "token_no_default_policy": false,
               "token_period": 0, "token_type": "default-service"})
    );
    // A non-root parent may use a role to grant policies it does not hold.
    let (p, _, _) = f.create(&f.root, json!({"policies": ["x"]})).await;
    let r = f.ok("create/app", json!({}), &p).await;
    let auth = r.auth.expect("auth");
    assert_eq!(auth.policies, ["a", "b", "default"]);
    assert!(auth.orphan);
    assert_eq!(auth.lease_duration, 3600);
    let d = f.lookup(&auth.client_token).await;
    assert_eq!(d["path"], "auth/token/create/app/v1.0");
    assert_eq!(d["role"], "app");
    assert_eq!(
        f.err("create/app", json!({"policies": ["c"]}), &p).await,
        "token policies ([\"c\" \"default\"]) must be subset of the role's allowed policies ([\"a\" \"b\" \"default\"]) or glob policies ([])"
    );
    assert_eq!(
        f.err("create/nope", json!({}), &p).await,
        "unknown role nope"
    );
    // Disallowed policies and globs.
    f.ok(
        "roles/deny",
        json!({"disallowed_policies": ["bad"], "allowed_policies_glob": ["dev-*"]}),
        &f.root,
    )
    .await;
    let r = f
        .ok("create/deny", json!({"policies": ["dev-app"]}), &f.root)
        .await;
    assert_eq!(r.auth.expect("auth").policies, ["default", "dev-app"]);
    assert_eq!(
        f.err("create/deny", json!({"policies": ["bad"]}), &f.root).await,
        "token policies ([\"bad\" \"default\"]) must be subset of the role's allowed policies ([\"default\"]) or glob policies ([\"dev-*\"])"
    );
    // Role renewability, num uses and period.
    f.ok(
        "roles/limited",
        json!({"renewable": false, "token_num_uses": 3, "token_period": "30m"}),
        &f.root,
    )
    .await;
    let r = f
        .ok("create/limited", json!({"num_uses": 5}), &f.root)
        .await;
    let auth = r.auth.expect("auth");
    assert!(!auth.renewable);
    assert_eq!(auth.num_uses, 3);
    assert_eq!(auth.lease_duration, 1800);
    // Lists; an update keeps what it does not name; delete.
    let r = f
        .call(Operation::List, "roles/", Value::Null, &f.root, false)
        .await
        .expect("list");
    let Body::Data(d) = r.body else {
        panic!("list")
    };
    assert_eq!(d["keys"], json!(["app", "deny", "limited"]));
    f.ok("roles/app", json!({"orphan": false}), &f.root).await;
    let role = f.store.role("app").await.expect("r").expect("role");
    assert!(!role.orphan);
    assert_eq!(role.allowed_policies, ["a", "b"]);
    assert_eq!(
        f.err("roles/app", json!({"path_suffix": "a/"}), &f.root)
            .await,
        "given role path suffix contains invalid characters; must match \\w[\\w-.]+\\w"
    );
    f.call(Operation::Delete, "roles/app", Value::Null, &f.root, false)
        .await
        .expect("delete");
    assert!(f.store.role("app").await.expect("r").is_none());
}

#[tokio::test]
async fn token_ids_are_never_stored() {
    let f = Fixture::new().await;
    let mut ids = vec![f.root.clone()];
    let mut accessors = Vec::new();
    for data in [
        json!({"policies": ["a"]}),
        json!({"id": "customid"}),
        json!({"num_uses": 3}),
    ] {
        let (t, auth, _) = f.create(&f.root, data).await;
        accessors.push(auth["accessor"].as_str().expect("acc").to_owned());
        ids.push(t);
    }
    let (child, _, _) = f.create(&ids[1], json!({})).await;
    ids.push(child);
    f.ok("renew", json!({"token": ids[1]}), &f.root).await;
    // Neither ids nor accessors appear in any key, nor (decrypted) in any value.
    let view = f.barrier.view("sys/");
    for key in crate::logical::storage::list_tree(&view, "")
        .await
        .expect("tree")
    {
        let value = view.get(&key).await.expect("get").unwrap_or_default();
        let text = String::from_utf8_lossy(&value);
        for id in &ids {
            assert!(!key.contains(id.as_str()), "{key} holds a token id");
            assert!(
                !text.contains(id.as_str()),
                "{key}'s value holds a token id"
            );
        }
        for a in &accessors {
            assert!(!key.contains(a.as_str()), "{key} holds an accessor");
        }
    }
    // Nor in the raw bytes below the barrier.
    for key in storage::Backend::list(&*f.mem, "").await.expect("list") {
        for id in &ids {
            assert!(!key.contains(id.as_str()));
        }
    }
}

#[tokio::test]
async fn tidy_answers_202() {
    let f = Fixture::new().await;
    let r = f.ok("tidy", json!({}), &f.root).await;
    assert!(matches!(r.body, Body::Accepted));
    assert_eq!(r.warnings.len(), 1);
}

#[test]
fn ids_have_openbao_shape() {
    let id = generate_id();
    assert_eq!(id.len(), 26);
    assert!(id.starts_with("s."));
    assert!(id[2..].chars().all(|c| c.is_ascii_alphanumeric()));
}

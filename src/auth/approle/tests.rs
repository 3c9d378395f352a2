//! The approle method through its path table: role CRUD, secret id lifecycle, use counts,
//! expiry with a moved clock, CIDR bindings, and logins racing for a last use.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::AppRole;
use crate::barrier::BarrierError;
use crate::engine::testing::Harness;
use crate::engine::{Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::storage::{list_tree, Precondition, Stamp, Storage, StorageOp};
use crate::logical::{Body, Connection, Operation};

fn approle() -> Harness {
    Harness::new(AppRole)
}

async fn write(h: &Harness, path: &str, data: Value) -> EngineResponse {
    h.call(Operation::Update, path, data)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn read(h: &Harness, path: &str) -> Value {
    h.data(Operation::Read, path, json!({})).await
}

fn data(resp: EngineResponse) -> Value {
    match resp.body {
        Body::Data(d) => Value::Object(d),
        other => panic!("expected data, got {other:?}"),
    }
}

fn err_text(r: Result<EngineResponse, EngineError>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(resp) => panic!("expected an error, got {resp:?}"),
    }
}

/// A login from `remote`, as the pipeline would hand it over.
async fn login_from(
    h: &Harness,
    remote: Option<&str>,
    body: Value,
) -> Result<EngineResponse, EngineError> {
    login_via(h, &h.view, remote, body).await
}

async fn login_via(
    h: &Harness,
    storage: &dyn Storage,
    remote: Option<&str>,
    body: Value,
) -> Result<EngineResponse, EngineError> {
    let ctx = Ctx {
        storage,
        mount: &h.mount,
        clock: &h.clock,
    };
    let m = h.backend.resolve("login")?;
    let req = EngineRequest {
        op: Operation::Update,
        params: m.params.clone(),
        data: crate::logical::object(body),
        client_token: None,
        client_id: None,
        sudo: false,
        wrap_ttl: None,
        connection: Arc::new(Connection {
            remote_addr: remote.map(|r| r.parse::<IpAddr>().expect("ip")),
            peer_certs: Vec::new(),
        }),
    };
    h.backend.handle(&ctx, m, req).await
}

async fn login(h: &Harness, role_id: &str, secret_id: &str) -> Result<EngineResponse, EngineError> {
    login_from(
        h,
        Some("127.0.0.1"),
        json!({"role_id": role_id, "secret_id": secret_id}),
    )
    .await
}

/// Role `web` with its role id and one secret id made with `sid` fields.
async fn role_with_secret(h: &Harness, role: Value, sid: Value) -> (String, String, String) {
    write(h, "role/web", role).await;
    let role_id = read(h, "role/web/role-id").await["role_id"]
        .as_str()
        .expect("role_id")
        .to_owned();
    let s = data(write(h, "role/web/secret-id", sid).await);
    (
        role_id,
        s["secret_id"].as_str().expect("secret_id").to_owned(),
        s["secret_id_accessor"]
            .as_str()
            .expect("accessor")
            .to_owned(),
    )
}

#[tokio::test]
async fn role_crud_and_openbao_shapes() {
    let h = approle();
    // `ttl` is no legacy name here (only `policies` and `period` are): it is ignored.
    write(
        &h,
        "role/Web",
        json!({"policies": "b,a", "period": "1h", "secret_id_ttl": "10m", "ttl": 5}),
    )
    .await;
    let r = read(&h, "role/WEB").await;
    assert_eq!(r["bind_secret_id"], json!(true));
    assert_eq!(r["secret_id_bound_cidrs"], Value::Null);
    assert_eq!(r["secret_id_ttl"], json!(600));
    assert_eq!(r["token_policies"], json!(["a", "b"]));
    assert_eq!(r["policies"], json!(["a", "b"]), "legacy names are echoed");
    assert_eq!(r["period"], json!(3600));
    assert_eq!(r["token_ttl"], json!(0));
    assert!(r.get("ttl").is_none());

    let list = h.data(Operation::List, "role/", json!({})).await;
    assert_eq!(list["keys"], json!(["web"]));

    // Sub-paths.
    write(&h, "role/web/policies", json!({"token_policies": "c"})).await;
    assert_eq!(
        read(&h, "role/web/policies").await,
        json!({"token_policies": ["c"]})
    );
    write(
        &h,
        "role/web/secret-id-bound-cidrs",
        json!({"secret_id_bound_cidrs": "10.0.0.0/8"}),
    )
    .await;
    assert_eq!(
        read(&h, "role/web/secret-id-bound-cidrs").await,
        json!({"secret_id_bound_cidrs": ["10.0.0.0/8"]})
    );
    h.call(
        Operation::Delete,
        "role/web/secret-id-bound-cidrs",
        json!({}),
    )
    .await
    .expect("delete");
    assert_eq!(
        read(&h, "role/web/secret-id-bound-cidrs").await,
        json!({"secret_id_bound_cidrs": null})
    );
    assert_eq!(
        err_text(
            h.call(Operation::Update, "role/web/secret-id-ttl", json!({}))
                .await
        ),
        "missing secret_id_ttl"
    );
    assert!(matches!(
        h.call(
            Operation::Update,
            "role/nope/token-ttl",
            json!({"token_ttl": 1})
        )
        .await,
        Err(EngineError::UnsupportedPath)
    ));

    // Unbound roles and bad input, with OpenBao's texts.
    let e = h
        .call(
            Operation::Update,
            "role/loose",
            json!({"bind_secret_id": false}),
        )
        .await;
    assert!(matches!(&e, Err(EngineError::Failed(m)) if m.contains("at least one constraint")));
    assert_eq!(
        err_text(
            h.call(
                Operation::Update,
                "role/x",
                json!({"secret_id_num_uses": -1})
            )
            .await
        ),
        "secret_id_num_uses cannot be negative"
    );
    assert_eq!(
        err_text(
            h.call(
                Operation::Update,
                "role/web",
                json!({"local_secret_ids": true})
            )
            .await
        ),
        "local_secret_ids can only be modified during role creation"
    );
    assert!(matches!(
        h.call(Operation::Read, "role/-bad", json!({})).await,
        Err(EngineError::UnsupportedPath)
    ));

    h.call(Operation::Delete, "role/web", json!({}))
        .await
        .expect("delete");
    assert!(matches!(
        h.call(Operation::Read, "role/web", json!({}))
            .await
            .expect("read")
            .body,
        Body::NotFound
    ));
}

#[tokio::test]
async fn role_ids_are_unique_and_move_with_the_role() {
    let h = approle();
    write(&h, "role/a", json!({"role_id": "shared"})).await;
    let e = h
        .call(Operation::Update, "role/b", json!({"role_id": "shared"}))
        .await;
    assert!(matches!(&e, Err(EngineError::Failed(m)) if m.contains("role_id already in use")));
    assert!(matches!(
        h.call(Operation::Read, "role/b", json!({}))
            .await
            .expect("read")
            .body,
        Body::NotFound
    ));
    write(&h, "role/a/role-id", json!({"role_id": "moved"})).await;
    let s = data(write(&h, "role/a/secret-id", json!({})).await);
    let sid = s["secret_id"].as_str().expect("sid");
    assert_eq!(
        err_text(login(&h, "shared", sid).await),
        "invalid role or secret ID"
    );
    login(&h, "moved", sid)
        .await
        .expect("login with the new role id");
    // The old id is free again.
    write(&h, "role/b", json!({"role_id": "shared"})).await;
}

#[tokio::test]
async fn secret_ids_are_stored_only_as_hmacs() {
    let h = approle();
    let (role_id, sid, accessor) = role_with_secret(&h, json!({}), json!({})).await;
    write(
        &h,
        "role/web/custom-secret-id",
        json!({"secret_id": "custom-one"}),
    )
    .await;
    for key in list_tree(&h.view, "").await.expect("list") {
        let value = h.view.get(&key).await.expect("get").expect("value");
        let text = String::from_utf8_lossy(&value);
        for secret in [
            sid.as_str(),
            "custom-one",
            role_id.as_str(),
            accessor.as_str(),
        ] {
            assert!(!key.contains(secret), "{key} names a secret");
            if secret != role_id && secret != accessor {
                assert!(!text.contains(secret), "{key} holds a secret id");
            }
        }
    }
    let again = h
        .call(
            Operation::Update,
            "role/web/custom-secret-id",
            json!({"secret_id": "custom-one"}),
        )
        .await;
    assert!(matches!(&again, Err(EngineError::Failed(m)) if m.contains("already registered")));
}

#[tokio::test]
async fn lifecycle_lookup_list_destroy() {
    let h = approle();
    let (role_id, sid, accessor) = role_with_secret(
        &h,
        json!({"secret_id_num_uses": 5, "secret_id_ttl": 3600}),
        json!({"metadata": "{\"team\":\"blue\"}", "num_uses": 3}),
    )
    .await;
    let look = data(write(&h, "role/web/secret-id/lookup", json!({"secret_id": sid})).await);
    assert_eq!(look["secret_id_num_uses"], json!(3));
    assert_eq!(look["secret_id_ttl"], json!(3600));
    assert_eq!(look["metadata"], json!({"team": "blue"}));
    assert_eq!(
        look["creation_time"],
        json!("2026-11-22T08:08:10.632335602Z")
    );
    assert_eq!(
        look["expiration_time"],
        json!("2026-11-22T09:08:10.632335602Z")
    );
    let by_acc = data(
        write(
            &h,
            "role/web/secret-id-accessor/lookup",
            json!({"secret_id_accessor": accessor}),
        )
        .await,
    );
    assert_eq!(by_acc, look);
    let list = h
        .data(Operation::List, "role/web/secret-id/", json!({}))
        .await;
    assert_eq!(list["keys"], json!([accessor]));

    let resp = login(&h, &role_id, &sid).await.expect("login");
    let l = resp.login.expect("a login");
    assert_eq!(l.alias, role_id);
    assert_eq!(l.metadata.get("role_name").map(String::as_str), Some("web"));
    assert_eq!(l.metadata.get("team").map(String::as_str), Some("blue"));
    assert!(
        l.display_name.is_empty(),
        "the token is named after the mount alone"
    );
    let look = data(write(&h, "role/web/secret-id/lookup", json!({"secret_id": sid})).await);
    assert_eq!(look["secret_id_num_uses"], json!(2));

    // Limits against the role's.
    for (body, text) in [
        (
            json!({"num_uses": 0}),
            "num_uses cannot be higher than the role's secret_id_num_uses",
        ),
        (
            json!({"ttl": "2h"}),
            "ttl cannot be longer than the role's secret_id_ttl",
        ),
        (
            json!({"metadata": "novalue"}),
            "failed to parse metadata: failed to parse the input: invalid <key,value> format",
        ),
    ] {
        assert_eq!(
            err_text(h.call(Operation::Update, "role/web/secret-id", body).await),
            text
        );
    }

    write(&h, "role/web/secret-id/destroy", json!({"secret_id": sid})).await;
    assert_eq!(
        err_text(login(&h, &role_id, &sid).await),
        "invalid role or secret ID"
    );
    let e = h
        .call(
            Operation::Update,
            "role/web/secret-id-accessor/destroy",
            json!({"secret_id_accessor": accessor}),
        )
        .await;
    assert!(
        matches!(&e, Err(EngineError::Failed(m)) if m.contains("failed to find accessor entry"))
    );
    let gone = h
        .call(
            Operation::Update,
            "role/web/secret-id-accessor/lookup",
            json!({"secret_id_accessor": accessor}),
        )
        .await
        .expect("lookup");
    assert!(matches!(gone.body, Body::Gone(Some(_))));
    assert!(matches!(
        h.call(Operation::List, "role/web/secret-id/", json!({}))
            .await
            .expect("list")
            .body,
        Body::NotFound
    ));
}

#[tokio::test]
async fn use_counts_run_out() {
    let h = approle();
    let (role_id, sid, _) = role_with_secret(&h, json!({}), json!({"num_uses": 2})).await;
    login(&h, &role_id, &sid).await.expect("first");
    login(&h, &role_id, &sid).await.expect("second");
    let third = login(&h, &role_id, &sid).await;
    assert!(
        matches!(&third, Err(EngineError::InvalidCredentials(m)) if m == "invalid role or secret ID"),
        "a spent secret id counts toward the lockout: {third:?}"
    );
    // Spent means gone, accessor and all.
    assert!(matches!(
        h.call(Operation::List, "role/web/secret-id/", json!({}))
            .await
            .expect("list")
            .body,
        Body::NotFound
    ));
}

#[tokio::test]
async fn expiry_follows_the_clock_and_tidy_sweeps() {
    let h = approle();
    let (role_id, sid, _) = role_with_secret(&h, json!({}), json!({"ttl": "60s"})).await;
    let keep = data(write(&h, "role/web/secret-id", json!({})).await);
    h.clock.advance(Duration::from_secs(59));
    login(&h, &role_id, &sid).await.expect("still valid");
    h.clock.advance(Duration::from_secs(2));
    assert!(matches!(
        login(&h, &role_id, &sid).await,
        Err(EngineError::InvalidCredentials(_))
    ));

    // Tidy: an expired one goes, a lasting one stays.
    let other = data(write(&h, "role/web/secret-id", json!({"ttl": 5})).await)["secret_id"].clone();
    h.clock.advance(Duration::from_secs(6));
    let t = write(&h, "tidy/secret-id", json!({})).await;
    assert!(matches!(t.body, Body::Accepted));
    let list = h
        .data(Operation::List, "role/web/secret-id/", json!({}))
        .await;
    assert_eq!(list["keys"], json!([keep["secret_id_accessor"]]));
    let looked = h
        .call(
            Operation::Update,
            "role/web/secret-id/lookup",
            json!({"secret_id": other}),
        )
        .await
        .expect("lookup");
    assert!(matches!(looked.body, Body::NoContent));
    login(&h, &role_id, keep["secret_id"].as_str().expect("sid"))
        .await
        .expect("the lasting one");
}

#[tokio::test]
async fn the_mount_max_ttl_caps_a_secret_id() {
    let mut h = approle();
    h.mount.max_lease_ttl = Duration::from_secs(120);
    write(&h, "role/web", json!({})).await;
    let s = data(write(&h, "role/web/secret-id", json!({"ttl": "1h"})).await);
    assert_eq!(s["secret_id_ttl"], json!(120));
}

#[tokio::test]
async fn cidr_bindings() {
    let h = approle();
    let (role_id, sid, _) = role_with_secret(
        &h,
        json!({"secret_id_bound_cidrs": "10.0.0.0/8"}),
        json!({"cidr_list": "10.1.0.0/16", "token_bound_cidrs": "10.1.2.0/24"}),
    )
    .await;
    let body = json!({"role_id": role_id, "secret_id": sid});
    let e = login_from(&h, Some("10.2.0.1"), body.clone()).await;
    assert_eq!(
        err_text(e),
        "source address \"10.2.0.1\" unauthorized through CIDR restrictions on the secret ID"
    );
    let e = login_from(&h, None, body.clone()).await;
    assert!(
        matches!(&e, Err(EngineError::Failed(m)) if m.contains("failed to get connection information"))
    );
    let ok = login_from(&h, Some("10.1.2.3"), body)
        .await
        .expect("inside");
    assert_eq!(ok.login.expect("login").bound_cidrs, vec!["10.1.2.0/24"]);

    // A secret id's blocks must lie inside the role's.
    let e = h
        .call(
            Operation::Update,
            "role/web/secret-id",
            json!({"cidr_list": "192.168.0.0/16"}),
        )
        .await;
    assert!(
        matches!(&e, Err(EngineError::Failed(m)) if m.contains("failed to verify subset relationship"))
    );
    let e = h
        .call(
            Operation::Update,
            "role/web/secret-id",
            json!({"cidr_list": "10.0.0.1"}),
        )
        .await;
    assert!(
        matches!(&e, Err(EngineError::Failed(m)) if m.contains("invalid CIDR address: 10.0.0.1"))
    );

    // The role's own binding, without a secret id.
    write(
        &h,
        "role/open",
        json!({"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.1/32"}),
    )
    .await;
    let open_id = read(&h, "role/open/role-id").await["role_id"].clone();
    login_from(&h, Some("127.0.0.1"), json!({"role_id": open_id}))
        .await
        .expect("bound role, right address");
    assert_eq!(
        err_text(login_from(&h, Some("127.0.0.2"), json!({"role_id": open_id})).await),
        "source address \"127.0.0.2\" unauthorized by CIDR restrictions on the role: %!w(<nil>)"
    );
}

/// Storage that holds the first two readers of a secret id until both have read it, so two
/// logins certainly race for the same stored value.
struct Rendezvous<'a> {
    inner: &'a dyn Storage,
    gate: tokio::sync::Barrier,
    waiting: AtomicUsize,
}

#[async_trait::async_trait]
impl Storage for Rendezvous<'_> {
    async fn get(&self, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, BarrierError> {
        self.inner.get(key).await
    }
    async fn get_stamped(
        &self,
        key: &str,
    ) -> Result<Option<(Zeroizing<Vec<u8>>, Stamp)>, BarrierError> {
        let read = self.inner.get_stamped(key).await;
        if key.starts_with("secret_id/") && self.waiting.fetch_add(1, Ordering::SeqCst) < 2 {
            self.gate.wait().await;
        }
        read
    }
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), BarrierError> {
        self.inner.put(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), BarrierError> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BarrierError> {
        self.inner.list(prefix).await
    }
    async fn batch(
        &self,
        conditions: Vec<Precondition>,
        ops: Vec<StorageOp>,
    ) -> Result<(), BarrierError> {
        self.inner.batch(conditions, ops).await
    }
}

#[tokio::test]
async fn two_logins_racing_for_a_last_use_cannot_both_win() {
    for uses in [1, 2] {
        let h = approle();
        let (role_id, sid, _) = role_with_secret(&h, json!({}), json!({"num_uses": uses})).await;
        let racing = Rendezvous {
            inner: &h.view,
            gate: tokio::sync::Barrier::new(2),
            waiting: AtomicUsize::new(0),
        };
        let body = json!({"role_id": role_id, "secret_id": sid});
        let (a, b) = tokio::join!(
            login_via(&h, &racing, Some("127.0.0.1"), body.clone()),
            login_via(&h, &racing, Some("127.0.0.1"), body.clone()),
        );
        let won = usize::from(a.is_ok()) + usize::from(b.is_ok());
        assert_eq!(won, uses, "{uses} use(s): {a:?} / {b:?}");
        assert!(
            login(&h, &role_id, &sid).await.is_err(),
            "all {uses} use(s) spent"
        );
    }
}

#[test]
fn metadata_parses_as_openbao_does() {
    use super::secret_id::parse_metadata;
    let m = parse_metadata(r#"{"a":"b"}"#).expect("json");
    assert_eq!(m.get("a").map(String::as_str), Some("b"));
    let m = parse_metadata("K=V, x=y").expect("pairs");
    assert_eq!(m.get("k").map(String::as_str), Some("v"));
    assert_eq!(m.get("x").map(String::as_str), Some("y"));
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, r#"{"z":"1"}"#);
    assert_eq!(parse_metadata(&b64).expect("base64")["z"], "1");
    assert!(parse_metadata(r#"{"a":""}"#).is_err());
    assert!(parse_metadata("").expect("empty").is_empty());
}

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use super::*;
use crate::engine::DynBackend;

fn engines(entry: &MountEntry, _: Weak<Router>) -> Result<Arc<dyn DynBackend>, RouterError> {
    // The system backend is the core's to build; here every builtin is the inert engine.
    let kind = if entry.kind == "system" || entry.kind == "token" {
        "identity"
    } else {
        &entry.kind
    };
    Ok(registry::build(
        kind,
        &entry.options.clone().unwrap_or_default(),
    )?)
}

fn barrier() -> Arc<Barrier> {
    Arc::new(Barrier::new(
        Arc::new(storage::MemBackend::new()),
        seal::Keyring::new(seal::Key::generate()),
    ))
}

fn kv(version: &str) -> MountRequest {
    MountRequest {
        kind: "kv".into(),
        options: Some(BTreeMap::from([("version".into(), version.into())])),
        ..MountRequest::default()
    }
}

#[tokio::test]
async fn defaults_exist_and_survive_a_reload() {
    let b = barrier();
    let r = Router::load(b.clone(), Box::new(engines))
        .await
        .expect("load");
    let paths: Vec<String> = r.mounts().iter().map(|m| m.entry.path.clone()).collect();
    assert_eq!(paths, vec!["cubbyhole/", "identity/", "sys/"]);
    r.mount("kv", kv("2")).await.expect("mount");
    let uuid = r.mount_at("kv/").expect("kv").entry.uuid.clone();
    let again = Router::load(b, Box::new(engines)).await.expect("reload");
    assert_eq!(
        again.mount_at("kv").expect("kv after reload").entry.uuid,
        uuid
    );
    assert_eq!(again.mounts().len(), 4);
}

#[tokio::test]
async fn longest_prefix_on_whole_segments() {
    let r = Router::load(barrier(), Box::new(engines))
        .await
        .expect("load");
    r.mount("a/b", kv("1")).await.expect("a/b");
    r.mount("ab", kv("1")).await.expect("ab");
    let (m, rel) = r.resolve("a/b/c/d").expect("a/b");
    assert_eq!((m.entry.path.as_str(), rel.as_str()), ("a/b/", "c/d"));
    let (m, rel) = r.resolve("ab/x").expect("ab");
    assert_eq!((m.entry.path.as_str(), rel.as_str()), ("ab/", "x"));
    assert!(r.resolve("a/x").is_none());
    assert!(r.resolve("abc/x").is_none());
    assert!(
        r.resolve("ab").is_none(),
        "the mount path itself needs its slash"
    );
}

#[tokio::test]
async fn conflicts_either_way_and_reserved_paths() {
    let r = Router::load(barrier(), Box::new(engines))
        .await
        .expect("load");
    r.mount("a/b", kv("1")).await.expect("a/b");
    for bad in [
        "a",
        "a/b/c",
        "a/b",
        "sys",
        "sys/x",
        "auth/x",
        "cubbyhole",
        "identity/x",
        "x/../y",
    ] {
        assert!(
            r.mount(bad, kv("1")).await.is_err(),
            "{bad} must be refused"
        );
    }
    r.mount("a/c", kv("1")).await.expect("a sibling is fine");
}

#[tokio::test]
async fn unmount_removes_the_data_and_remount_keeps_it() {
    let r = Router::load(barrier(), Box::new(engines))
        .await
        .expect("load");
    r.mount("kv", kv("1")).await.expect("mount");
    let m = r.mount_at("kv").expect("kv");
    m.view.put("v1/secret", b"{}").await.expect("put");
    r.remount("kv", "moved").await.expect("remount");
    assert!(r.mount_at("kv").is_none());
    let moved = r.mount_at("moved").expect("moved");
    assert!(moved.view.get("v1/secret").await.expect("get").is_some());
    r.unmount("moved").await.expect("unmount");
    assert!(moved.view.get("v1/secret").await.expect("get").is_none());
    r.unmount("never-there").await.expect("absent is fine");
    assert!(r.unmount("sys").await.is_err());
    assert!(r.remount("sys", "other").await.is_err());
    assert!(r.remount("nothing", "other").await.is_err());
}

#[tokio::test]
async fn tune_upgrades_kv_v1_to_v2_keeping_data() {
    let r = Router::load(barrier(), Box::new(engines))
        .await
        .expect("load");
    r.mount("kv", kv("1")).await.expect("mount");
    let before = r.mount_at("kv").expect("kv");
    before
        .view
        .put("v1/app/db", br#"{"password":"p"}"#)
        .await
        .expect("put");
    let tune = Tune {
        options: Some(BTreeMap::from([("version".into(), "2".into())])),
        default_lease_ttl: Some(3600),
        ..Tune::default()
    };
    r.tune("kv", tune).await.expect("tune");
    let after = r.mount_at("kv").expect("kv");
    assert_eq!(
        after.entry.options.as_ref().expect("options")["version"],
        "2"
    );
    assert_eq!(after.info.default_lease_ttl.as_secs(), 3600);
    assert!(after.view.get("v1/app/db").await.expect("get").is_none());
    let data = after
        .view
        .get("d/app/db@1")
        .await
        .expect("get")
        .expect("v2 data");
    assert_eq!(&data[..], br#"{"password":"p"}"#);
    let downgrade = Tune {
        options: Some(BTreeMap::from([("version".into(), "1".into())])),
        ..Tune::default()
    };
    assert!(r.tune("kv", downgrade).await.is_err());
}

#[tokio::test]
async fn auth_methods_move_only_below_auth() {
    let r = Router::load(barrier(), Box::new(engines))
        .await
        .expect("load");
    let up = MountRequest {
        table: MountTable::Auth,
        kind: "userpass".into(),
        ..MountRequest::default()
    };
    r.mount("userpass", up).await.expect("enable");
    assert!(r.mount_at("auth/userpass/").is_some());
    for to in ["up", "secret-up", "auth/", "auth/../up", "sys/up"] {
        let e = r.remount("auth/userpass", to).await.expect_err(to);
        assert!(e.to_string().contains("cannot remount"), "{to}: {e}");
    }
    r.remount("auth/userpass", "auth/people")
        .await
        .expect("auth to auth");
    assert!(r.mount_at("auth/people/").is_some());
    r.mount("kv", kv("2")).await.expect("kv");
    let e = r.remount("kv", "auth/kv").await.expect_err("into auth");
    assert!(e.to_string().contains("cannot remount"), "{e}");
}

//! Secrets-engine mounts end to end: `bao secrets enable/disable/list/tune/move`, the
//! `sys/mounts`, `sys/mounts/<path>/tune`, `sys/remount` and `sys/internal/ui/mounts` APIs, with
//! every expectation taken from a real OpenBao 2.7.2.
//!
//! By default each test starts Coffer from a config file (RocksDB, no `secret/` mount). With
//! `E2E_SERVER=openbao` the same scenarios run against the real OpenBao instead (`bao server` on
//! raft): that is how these expectations were checked.

mod common;

use std::time::{Duration, Instant};

use common::{keys_of, Server};
use serde_json::{json, Value};

/// The fields of one mount in `sys/mounts`, `sys/mounts/<path>` and `bao secrets list`.
const MOUNT_KEYS: [&str; 13] = [
    "accessor",
    "config",
    "deprecation_status",
    "description",
    "external_entropy_access",
    "local",
    "options",
    "plugin_version",
    "running_plugin_version",
    "running_sha256",
    "seal_wrap",
    "type",
    "uuid",
];

#[track_caller]
fn assert_kv_mount(m: &Value, description: &str, options: &Value, default_ttl: u64, max_ttl: u64) {
    assert_eq!(keys_of(m), MOUNT_KEYS, "{m}");
    assert_eq!(m["type"], "kv", "{m}");
    assert_eq!(m["description"], description, "{m}");
    assert_eq!(&m["options"], options, "{m}");
    assert_eq!(
        m["config"],
        json!({"default_lease_ttl": default_ttl, "force_no_cache": false, "max_lease_ttl": max_ttl}),
        "{m}"
    );
    assert_eq!(
        (
            &m["local"],
            &m["seal_wrap"],
            &m["external_entropy_access"],
            &m["plugin_version"],
            &m["running_plugin_version"],
            &m["running_sha256"],
            &m["deprecation_status"],
        ),
        (
            &json!(false),
            &json!(false),
            &json!(false),
            &json!(""),
            &json!("v2.7.2+builtin.bao"),
            &json!(""),
            &json!("supported"),
        ),
        "{m}"
    );
    let accessor = m["accessor"].as_str().expect("accessor");
    assert!(
        accessor.len() == 11
            && accessor.starts_with("kv_")
            && accessor[3..].bytes().all(|b| b.is_ascii_hexdigit()),
        "accessor {accessor:?}"
    );
    assert_uuid(&m["uuid"]);
}

#[track_caller]
fn assert_uuid(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("uuid: {v}"));
    let groups: Vec<usize> = s.split('-').map(str::len).collect();
    assert!(
        groups == [8, 4, 4, 4, 12] && s.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()),
        "not a UUID: {s:?}"
    );
}

#[test]
fn secrets_enable_list_tune_disable() {
    let (server, root, _) = Server::start_unsealed();
    let bao = |args: &[&str]| server.bao(Some(&root), args);
    let api = server.api(&root);

    // A config-started server has the built-in mounts and no secret/.
    let list = bao(&["secrets", "list", "-format=json"]).ok().json();
    assert_eq!(list["cubbyhole/"]["type"], "cubbyhole", "{list}");
    assert_eq!(list["cubbyhole/"]["local"], true);
    assert_eq!(
        list["cubbyhole/"]["description"],
        "per-token private secret storage"
    );
    assert_eq!(list["sys/"]["type"], "system", "{list}");
    assert_eq!(
        list["sys/"]["description"],
        "system endpoints used for control, policy and debugging"
    );
    assert!(
        list.get("secret/").is_none(),
        "no secret/ outside -dev: {list}"
    );

    // enable with the CLI: description, version, TTLs.
    let run = bao(&[
        "secrets",
        "enable",
        "-path=team",
        "-description=team secrets",
        "-version=2",
        "-default-lease-ttl=1h",
        "-max-lease-ttl=2h",
        "kv",
    ])
    .ok();
    assert_eq!(
        run.stdout.trim(),
        "Success! Enabled the kv secrets engine at: team/"
    );
    let list = bao(&["secrets", "list", "-format=json"]).ok().json();
    assert_kv_mount(
        &list["team/"],
        "team secrets",
        &json!({"version": "2"}),
        3600,
        7200,
    );
    let table = bao(&["secrets", "list"]).ok().stdout;
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("team/ ") && l.contains(" kv ") && l.ends_with("team secrets")),
        "{table}"
    );

    // The same through sys/mounts: the list, one mount, its tune view. (sys/mounts also copies
    // its data to the top level of the body, as OpenBao does for these legacy endpoints.)
    let all = api.get("sys/mounts").expect(200);
    assert_eq!(all["data"]["team/"], list["team/"]);
    assert_eq!(all["team/"], all["data"]["team/"]);
    assert_eq!(all["data"]["sys/"]["type"], "system");
    let one = api.get("sys/mounts/team").expect(200);
    assert_eq!(one["data"], list["team/"]);
    assert_eq!(one["type"], "kv");
    let tune = api.get("sys/mounts/team/tune").expect(200);
    assert_eq!(
        tune["data"],
        json!({"default_lease_ttl": 3600, "description": "team secrets", "force_no_cache": false,
               "max_lease_ttl": 7200, "options": {"version": "2"}})
    );
    assert_eq!(tune["default_lease_ttl"], 3600);
    let read = bao(&["read", "-format=json", "sys/mounts/team/tune"])
        .ok()
        .json();
    assert_eq!(read["data"], tune["data"]);

    // Other ways to say the version, and TTLs left to the system defaults (32 days).
    bao(&["secrets", "enable", "-path=v1cli", "kv"]).ok();
    bao(&["secrets", "enable", "-path=v1explicit", "-version=1", "kv"]).ok();
    api.post(
        "sys/mounts/v2http",
        &json!({"type": "kv", "options": {"version": "2"}}),
    )
    .expect(204);
    api.post("sys/mounts/v2alias", &json!({"type": "kv-v2"}))
        .expect(204);
    api.post("sys/mounts/v1http", &json!({"type": "kv", "description": "d",
                                          "config": {"default_lease_ttl": "1h", "max_lease_ttl": "2h"}}))
        .expect(204);
    let all = api.get("sys/mounts").expect(200)["data"].clone();
    assert_kv_mount(&all["v1cli/"], "", &Value::Null, 0, 0);
    assert_kv_mount(&all["v1explicit/"], "", &json!({"version": "1"}), 0, 0);
    assert_kv_mount(&all["v2http/"], "", &json!({"version": "2"}), 0, 0);
    assert_kv_mount(&all["v2alias/"], "", &json!({"version": "2"}), 0, 0);
    assert_kv_mount(&all["v1http/"], "d", &json!({}), 3600, 7200);
    let tune = api.get("sys/mounts/v1cli/tune").expect(200)["data"].clone();
    assert_eq!(
        tune,
        json!({"default_lease_ttl": 2_764_800, "description": "", "force_no_cache": false,
               "max_lease_ttl": 2_764_800})
    );
    // A trailing slash on -path is the same mount.
    bao(&["secrets", "enable", "-path=slashed/", "-version=2", "kv"]).ok();
    assert!(api.get("sys/mounts").expect(200)["data"]["slashed/"].is_object());

    // enable errors.
    let enable_fails = |path: &str, message: &str| {
        let arg = format!("-path={path}");
        let run = bao(&["secrets", "enable", &arg, "kv"]);
        run.fails(2, "Code: 400");
        run.fails(2, &format!("* {message}"));
    };
    enable_fails("team", "path is already in use at team/");
    enable_fails("team/sub", "path is already in use at team/");
    bao(&["secrets", "enable", "-path=a/b", "kv"]).ok();
    enable_fails("a", "path is already in use at a/b/");
    enable_fails("a/b/c", "path is already in use at a/b/");
    enable_fails("sys", "cannot mount \"sys/\"");
    enable_fails("sys/x", "cannot mount \"sys/x/\"");
    enable_fails("auth", "cannot mount \"auth/\"");
    enable_fails("cubbyhole", "cannot mount \"cubbyhole/\"");
    enable_fails("identity", "cannot mount \"identity/\"");
    bao(&["secrets", "enable", "nosuch"]).fails(2, "plugin not found in the catalog: nosuch");
    api.post("sys/mounts/m", &json!({}))
        .expect_errors(400, &["backend type must be specified as a string"]);
    api.post(
        "sys/mounts/m",
        &json!({"type": "kv", "options": {"version": "3"}}),
    )
    .expect_errors(
        400,
        // Coffer names the mistake (docs/compat.md, "Mounts").
        &[if server.is_openbao() {
            "nil backend of type \"kv\" returned from factory"
        } else {
            "invalid version provided: 3"
        }],
    );
    api.get("sys/mounts/m")
        .expect_errors(400, &["No secret engine mount at m/"]);

    // tune
    let run = bao(&[
        "secrets",
        "tune",
        "-default-lease-ttl=30m",
        "-max-lease-ttl=1h",
        "-description=tuned",
        "team",
    ])
    .ok();
    assert_eq!(
        run.stdout.trim(),
        "Success! Tuned the secrets engine at: team/"
    );
    assert_eq!(
        api.get("sys/mounts/team/tune").expect(200)["data"],
        json!({"default_lease_ttl": 1800, "description": "tuned", "force_no_cache": false,
               "max_lease_ttl": 3600, "options": {"version": "2"}})
    );
    let m = api.get("sys/mounts/team").expect(200)["data"].clone();
    assert_kv_mount(&m, "tuned", &json!({"version": "2"}), 1800, 3600);
    assert_eq!(m["uuid"], list["team/"]["uuid"], "tuning keeps the mount");
    assert_eq!(m["accessor"], list["team/"]["accessor"]);
    api.post("sys/mounts/team/tune", &json!({"description": "via http"}))
        .expect(204);
    assert_eq!(
        api.get("sys/mounts/team/tune").expect(200)["data"]["description"],
        "via http"
    );
    bao(&["secrets", "tune", "-default-lease-ttl=3h", "team"]).fails(
        2,
        "backend max lease TTL of 3600 would be less than backend default lease TTL of 10800",
    );
    bao(&["secrets", "tune", "-max-lease-ttl=10m", "team"]).fails(
        2,
        "backend max lease TTL of 600 would be less than backend default lease TTL of 1800",
    );
    bao(&["secrets", "tune", "-options=version=1", "team"])
        .fails(2, "cannot downgrade mount from version 2");
    bao(&["secrets", "tune", "-default-lease-ttl=1h", "nope"])
        .fails(2, "tune of path \"nope/\" failed: no mount entry found");
    api.get("sys/mounts/nope/tune")
        .expect_errors(400, &["cannot fetch sysview for path \"nope/\""]);
    // Upgrading a v1 mount by tune.
    bao(&["secrets", "tune", "-options=version=2", "v1explicit"]).ok();
    assert_eq!(
        api.get("sys/mounts/v1explicit").expect(200)["data"]["options"],
        json!({"version": "2"})
    );

    // disable: idempotent; the built-in mounts cannot go.
    api.wait_kv_v2_ready("team");
    bao(&["kv", "put", "team/x", "a=1"]).ok();
    let run = bao(&["secrets", "disable", "team"]).ok();
    assert_eq!(
        run.stdout.trim(),
        "Success! Disabled the secrets engine (if it existed) at: team/"
    );
    let list = bao(&["secrets", "list", "-format=json"]).ok().json();
    assert!(list.get("team/").is_none(), "{list}");
    api.get("team/data/x").expect_errors(
        404,
        &["no handler for route \"team/data/x\". route entry not found."],
    );
    bao(&["secrets", "disable", "team"]).ok();
    bao(&["secrets", "disable", "never-mounted"]).ok();
    assert_eq!(api.delete("sys/mounts/never-mounted").status, 204);
    bao(&["secrets", "disable", "sys"]).fails(2, "cannot unmount \"sys/\"");
    bao(&["secrets", "disable", "cubbyhole"]).fails(2, "cannot unmount \"cubbyhole/\"");
    // Re-enabled at the same path: a new, empty mount.
    bao(&["secrets", "enable", "-path=team", "-version=2", "kv"]).ok();
    api.wait_kv_v2_ready("team");
    let again = api.get("sys/mounts/team").expect(200)["data"].clone();
    assert_ne!(again["uuid"], m["uuid"]);
    bao(&["kv", "get", "team/x"]).fails(2, "No value found at team/data/x");
}

#[test]
fn secrets_move_keeps_data_and_identity() {
    let (server, root, _) = Server::start_unsealed();
    let bao = |args: &[&str]| server.bao(Some(&root), args);
    let api = server.api(&root);

    bao(&[
        "secrets",
        "enable",
        "-path=src",
        "-version=2",
        "-description=moving",
        "-default-lease-ttl=1h",
        "kv",
    ])
    .ok();
    api.wait_kv_v2_ready("src");
    bao(&["kv", "put", "src/x", "a=1"]).ok();
    bao(&["kv", "put", "src/x", "a=2"]).ok();
    bao(&["kv", "put", "src/dir/y", "b=1"]).ok();
    let before = api.get("sys/mounts/src").expect(200)["data"].clone();
    let meta_before = api.get("src/metadata/x").expect(200)["data"].clone();

    let run = bao(&["secrets", "move", "src", "dst"]).ok();
    assert!(
        run.stdout
            .starts_with("Started moving secrets engine src/ to dst/, with migration ID ")
            && run.stdout.contains(
                "Success! Finished moving secrets engine src/ to dst/, with migration ID "
            ),
        "{}",
        run.stdout
    );
    // Same mount (uuid, accessor, config), same data, same versions.
    api.wait_kv_v2_ready("dst");
    let after = api.get("sys/mounts/dst").expect(200)["data"].clone();
    assert_eq!(after, before);
    assert_eq!(api.get("dst/metadata/x").expect(200)["data"], meta_before);
    let g = bao(&["kv", "get", "-format=json", "dst/x"]).ok().json();
    assert_eq!(g["data"]["data"], json!({"a": "2"}));
    assert_eq!(g["data"]["metadata"]["version"], 2);
    assert_eq!(
        bao(&["kv", "list", "-format=json", "dst"]).ok().json(),
        json!(["dir/", "x"])
    );
    // The old path is no mount at all.
    api.get("sys/mounts/src")
        .expect_errors(400, &["No secret engine mount at src/"]);
    let run = bao(&["kv", "get", "src/x"]);
    run.fails(2, "Code: 403");
    run.fails(
        2,
        "preflight capability check returned 403, please ensure client's policies grant access to path \"src/x/\"",
    );
    api.get("src/data/x").expect_errors(
        404,
        &["no handler for route \"src/data/x\". route entry not found."],
    );

    // sys/remount over HTTP: queued, with a migration id to poll.
    let body = api
        .post("sys/remount", &json!({"from": "dst", "to": "deep/er"}))
        .expect(200);
    let id = body["data"]["migration_id"]
        .as_str()
        .expect("migration_id")
        .to_owned();
    assert_eq!(body["migration_id"], id.as_str());
    assert_eq!(
        body["warnings"],
        json!(["Mount move has been queued. Progress will be reported in OpenBao's server log, tagged with the returned migration_id"])
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let info = loop {
        let s = api.get(&format!("sys/remount/status/{id}")).expect(200);
        assert_eq!(s["data"]["migration_id"], id.as_str());
        let info = s["data"]["migration_info"].clone();
        if info["status"] == "success" {
            break info;
        }
        assert_ne!(info["status"], "failure", "{s}");
        assert!(Instant::now() < deadline, "move not done in 15 s: {s}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        info,
        json!({"source_mount": "dst/", "target_mount": "deep/er/", "status": "success"})
    );
    api.wait_kv_v2_ready("deep/er");
    assert_eq!(
        api.get("deep/er/data/x").expect(200)["data"]["data"],
        json!({"a": "2"})
    );
    assert_eq!(
        api.get("sys/mounts/deep/er").expect(200)["data"]["uuid"],
        before["uuid"]
    );
    api.get("sys/remount/status/00000000-0000-0000-0000-000000000000")
        .expect_errors(404, &[]);

    // A v1 mount moves with its data too.
    bao(&["secrets", "enable", "-path=plain", "kv"]).ok();
    bao(&["kv", "put", "plain/k", "v=1"]).ok();
    bao(&["secrets", "move", "plain", "plain2"]).ok();
    assert_eq!(api.get("plain2/k").expect(200)["data"], json!({"v": "1"}));

    // move errors.
    let move_fails = |from: &str, to: &str, message: &str| {
        let run = bao(&["secrets", "move", from, to]);
        run.fails(2, "Code: 400");
        run.fails(2, &format!("* {message}"));
    };
    move_fails("plain2", "deep/er", "path already in use at \"deep/er/\"");
    move_fails("nope", "k9", "no matching mount at \"nope/\"");
    move_fails("plain2", "sys/x", "cannot remount to destination sys/x/");
    move_fails("plain2", "plain2/sub", "path already in use at \"plain2/\"");
    assert_eq!(api.get("plain2/k").expect(200)["data"], json!({"v": "1"}));
}

#[test]
fn internal_ui_mounts() {
    let (server, root, _) = Server::start_unsealed();
    let bao = |args: &[&str]| server.bao(Some(&root), args);
    let api = server.api(&root);
    bao(&["secrets", "enable", "-path=kv", "-version=2", "kv"]).ok();
    bao(&["secrets", "enable", "-path=old", "kv"]).ok();
    bao(&["secrets", "enable", "-path=team/a", "-version=1", "kv"]).ok();

    // One mount, found by its path or any path below it (how the CLI learns a KV version).
    let body = api.get("sys/internal/ui/mounts/kv").expect(200);
    let m = &body["data"];
    let mut keys: Vec<&str> = MOUNT_KEYS.to_vec();
    keys.push("path");
    keys.sort_unstable();
    assert_eq!(keys_of(m), keys, "{m}");
    assert_eq!(m["path"], "kv/");
    assert_eq!(m["type"], "kv");
    assert_eq!(m["options"], json!({"version": "2"}));
    let mounted = api.get("sys/mounts/kv").expect(200)["data"].clone();
    for k in MOUNT_KEYS {
        assert_eq!(m[k], mounted[k], "{k}");
    }
    for below in ["kv/", "kv/a", "kv/a/b/c", "kv/data/a"] {
        let b = api
            .get(&format!("sys/internal/ui/mounts/{below}"))
            .expect(200);
        assert_eq!(&b["data"], m, "{below}");
    }
    let old = api.get("sys/internal/ui/mounts/old/x").expect(200);
    assert_eq!(
        (&old["data"]["path"], &old["data"]["options"]),
        (&json!("old/"), &Value::Null)
    );
    let nested = api.get("sys/internal/ui/mounts/team/a/k").expect(200);
    assert_eq!(
        (&nested["data"]["path"], &nested["data"]["options"]),
        (&json!("team/a/"), &json!({"version": "1"}))
    );
    let sys = api.get("sys/internal/ui/mounts/sys").expect(200);
    assert_eq!(
        (&sys["data"]["path"], &sys["data"]["type"]),
        (&json!("sys/"), &json!("system"))
    );
    let cubby = api.get("sys/internal/ui/mounts/cubbyhole/x").expect(200);
    assert_eq!(
        (&cubby["data"]["path"], &cubby["data"]["type"]),
        (&json!("cubbyhole/"), &json!("cubbyhole"))
    );

    // No such mount: 403, even for root; the path in the message gets a trailing slash.
    for (path, shown) in [
        ("nope", "nope/"),
        ("nope/x", "nope/x/"),
        ("team", "team/"),
        ("team/b/x", "team/b/x/"),
    ] {
        api.get(&format!("sys/internal/ui/mounts/{path}")).expect_errors(
            403,
            &[&format!(
                "preflight capability check returned 403, please ensure client's policies grant access to path \"{shown}\""
            )],
        );
    }
    let run = bao(&["kv", "get", "nope/x"]);
    run.fails(2, "URL: GET ");
    run.fails(2, "/v1/sys/internal/ui/mounts/nope/x");
    run.fails(2, "Code: 403");

    // Without a valid token: permission denied.
    let anonymous = common::Api {
        port: server.port(),
        token: None,
    };
    anonymous
        .get("sys/internal/ui/mounts/kv")
        .expect_errors(403, &["permission denied"]);
    server
        .api("s.notarealtoken00000000000")
        .get("sys/internal/ui/mounts/kv")
        .expect_errors(403, &["permission denied"]);

    // The listing form (no path): secret mounts and auth mounts.
    let all = api.get("sys/internal/ui/mounts").expect(200);
    assert_eq!(keys_of(&all["data"]), ["auth", "secret"]);
    let kv = &all["data"]["secret"]["kv/"];
    assert_eq!(kv["type"], "kv");
    assert_eq!(kv["options"], json!({"version": "2"}));
    assert_eq!(kv["uuid"], m["uuid"]);
    assert!(all["data"]["secret"]["team/a/"].is_object());
    assert!(all["data"]["secret"]["sys/"].is_object());
    assert!(all["data"]["auth"].is_object());
    // OpenBao's text here lacks the multierror wrapping it uses for every other unsupported
    // path; Coffer answers like the others (docs/compat.md, "Mounts").
    api.get("sys/internal/ui/mounts/").expect_errors(
        404,
        &[if server.is_openbao() {
            "unsupported path"
        } else {
            "1 error occurred:\n\t* unsupported path\n\n"
        }],
    );

    // After a disable the mount is unknown again.
    bao(&["secrets", "disable", "kv"]).ok();
    api.get("sys/internal/ui/mounts/kv/a").expect_errors(
        403,
        &["preflight capability check returned 403, please ensure client's policies grant access to path \"kv/a/\""],
    );
}

//! The KV secrets engine (v1 and v2) end to end, driven by the real `bao` CLI (2.7.2), raw HTTP
//! and hvac, with every expectation taken from a real OpenBao 2.7.2.
//!
//! By default each test starts Coffer from a config file (RocksDB, no `secret/` mount). With
//! `E2E_SERVER=openbao` the same scenarios run against the real OpenBao instead (`bao server` on
//! raft, started and killed the same way): that is how these expectations were checked.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{assert_nano_time, keys_of, Api, Server};
use serde_json::{json, Value};

const VERSION_KEYS: [&str; 5] = [
    "created_time",
    "custom_metadata",
    "deletion_time",
    "destroyed",
    "version",
];

const METADATA_KEYS: [&str; 11] = [
    "cas_required",
    "created_time",
    "current_metadata_version",
    "current_version",
    "custom_metadata",
    "delete_version_after",
    "max_versions",
    "metadata_cas_required",
    "oldest_version",
    "updated_time",
    "versions",
];

/// A live version's metadata, as a write returns it and a read nests it under `metadata`.
#[track_caller]
fn assert_live_version(meta: &Value, version: u64) {
    assert_eq!(keys_of(meta), VERSION_KEYS, "version metadata keys: {meta}");
    assert_eq!(meta["version"], version, "{meta}");
    assert_eq!(meta["deletion_time"], "", "{meta}");
    assert_eq!(meta["destroyed"], false, "{meta}");
    assert_nano_time(&meta["created_time"]);
}

/// The envelope every logical response has.
#[track_caller]
fn assert_envelope(body: &Value) {
    assert_eq!(
        keys_of(body),
        [
            "auth",
            "data",
            "lease_duration",
            "lease_id",
            "renewable",
            "request_id",
            "warnings",
            "wrap_info"
        ],
        "{body}"
    );
    assert_eq!(
        body["request_id"].as_str().map(str::len),
        Some(36),
        "{body}"
    );
    assert_eq!(
        (
            &body["lease_id"],
            &body["renewable"],
            &body["wrap_info"],
            &body["auth"]
        ),
        (&json!(""), &json!(false), &Value::Null, &Value::Null),
        "{body}"
    );
}

fn versions_of(meta: &Value) -> Vec<u64> {
    let mut v: Vec<u64> = keys_of(&meta["versions"])
        .iter()
        .map(|k| k.parse().expect("version key is a number"))
        .collect();
    v.sort_unstable();
    v
}

/// `bao secrets enable <args>`; for a v2 mount, wait until it serves (see `wait_kv_v2_ready`).
fn enable(server: &Server, root: &str, args: &[&str]) {
    let mut all = vec!["secrets", "enable"];
    all.extend_from_slice(args);
    server.bao(Some(root), &all).ok();
    if args.contains(&"-version=2") {
        let path = args
            .iter()
            .find_map(|a| a.strip_prefix("-path="))
            .expect("-path");
        server.api(root).wait_kv_v2_ready(path);
    }
}

#[test]
fn kv_v2_every_cli_subcommand() {
    let (server, root, _) = Server::start_unsealed();
    let bao = |args: &[&str]| server.bao(Some(&root), args);
    let api = server.api(&root);

    let run = bao(&["secrets", "enable", "-path=kv", "-version=2", "kv"]).ok();
    assert_eq!(
        run.stdout.trim(),
        "Success! Enabled the kv secrets engine at: kv/"
    );
    api.wait_kv_v2_ready("kv");

    // put: the table names the data path; -format=json gives the version's metadata.
    let run = bao(&["kv", "put", "kv/app/db", "user=alice", "pass=one"]).ok();
    assert!(
        run.stdout.contains(" Secret Path =\nkv/data/app/db\n"),
        "{}",
        run.stdout
    );
    let w2 = bao(&[
        "kv",
        "put",
        "-format=json",
        "kv/app/db",
        "user=alice",
        "pass=two",
    ])
    .ok()
    .json();
    assert_live_version(&w2["data"], 2);
    assert_eq!(w2["data"]["custom_metadata"], Value::Null);

    // get, -version, -field, -format=json.
    let g = bao(&["kv", "get", "-format=json", "kv/app/db"]).ok().json();
    assert_eq!(g["data"]["data"], json!({"user": "alice", "pass": "two"}));
    assert_live_version(&g["data"]["metadata"], 2);
    assert_eq!(
        g["data"]["metadata"]["created_time"],
        w2["data"]["created_time"]
    );
    let g1 = bao(&["kv", "get", "-version=1", "-format=json", "kv/app/db"])
        .ok()
        .json();
    assert_eq!(g1["data"]["data"], json!({"user": "alice", "pass": "one"}));
    assert_live_version(&g1["data"]["metadata"], 1);
    assert_eq!(
        bao(&["kv", "get", "-field=pass", "kv/app/db"]).ok().stdout,
        "two"
    );
    assert_eq!(
        bao(&["kv", "get", "-version=1", "-field=pass", "kv/app/db"])
            .ok()
            .stdout,
        "one"
    );
    assert_eq!(
        bao(&["kv", "get", "-field=pass", "-format=json", "kv/app/db"])
            .ok()
            .stdout,
        "\"two\""
    );
    bao(&["kv", "get", "-field=nope", "kv/app/db"]).fails(1, "Field \"nope\" not present in map");
    bao(&["kv", "get", "kv/app/missing"]).fails(2, "No value found at kv/data/app/missing");
    bao(&["kv", "get", "-version=9", "kv/app/db"]).fails(2, "No value found at kv/data/app/db");
    let body = api.get("kv/data/app/db").expect(200);
    assert_envelope(&body);
    assert_eq!(body["lease_duration"], 0);
    assert_eq!(body["warnings"], Value::Null);
    assert_eq!(keys_of(&body["data"]), ["data", "metadata"]);
    api.get("kv/data/app/missing").expect_errors(404, &[]);
    api.get("kv/data/app/db?version=9").expect_errors(404, &[]);

    // patch (HTTP PATCH with a JSON merge patch), patch -method=rw, and patch errors.
    let p = bao(&[
        "kv",
        "patch",
        "-format=json",
        "kv/app/db",
        "pass=three",
        "extra=x",
    ])
    .ok()
    .json();
    assert_live_version(&p["data"], 3);
    let g = bao(&["kv", "get", "-format=json", "kv/app/db"]).ok().json();
    assert_eq!(
        g["data"]["data"],
        json!({"user": "alice", "pass": "three", "extra": "x"})
    );
    let p = bao(&[
        "kv",
        "patch",
        "-method=rw",
        "-format=json",
        "kv/app/db",
        "extra=y",
    ])
    .ok()
    .json();
    assert_live_version(&p["data"], 4);
    bao(&["kv", "patch", "-cas=1", "kv/app/db", "a=b"]).fails(
        2,
        "check-and-set parameter did not match the current version",
    );
    bao(&["kv", "patch", "kv/app/missing", "a=b"]).fails(2, "Code: 404");
    api.call_with(
        "PATCH",
        "kv/data/app/db",
        &[("Content-Type", "application/json")],
        r#"{"data":{"x":1}}"#,
    )
    .expect_errors(
        415,
        &["PATCH requires Content-Type of application/merge-patch+json, provided application/json"],
    );
    let merge = [("Content-Type", "application/merge-patch+json")];
    let body = api
        .call_with(
            "PATCH",
            "kv/data/app/db",
            &merge,
            r#"{"data":{"extra":null,"nested":{"n":1}}}"#,
        )
        .expect(200);
    assert_live_version(&body["data"], 5);
    assert_eq!(
        api.get("kv/data/app/db").expect(200)["data"]["data"],
        json!({"user": "alice", "pass": "three", "nested": {"n": 1}}),
        "a null in the merge patch removes the key"
    );
    let patch_missing = api.call_with(
        "PATCH",
        "kv/data/app/missing",
        &merge,
        r#"{"data":{"a":1}}"#,
    );
    assert_eq!(
        (patch_missing.status, patch_missing.body.as_str()),
        (404, ""),
        "PATCH of a missing key: 404 with an empty body"
    );

    // delete: the version reads 404 with its metadata in the body (data null); the CLI prints
    // that metadata and exits 0.
    let run = bao(&["kv", "delete", "kv/app/db"]).ok();
    assert_eq!(
        run.stdout.trim(),
        "Success! Data deleted (if it existed) at: kv/data/app/db"
    );
    let body = api.get("kv/data/app/db").expect(404);
    assert_envelope(&body);
    assert_eq!(body["data"]["data"], Value::Null, "{body}");
    let meta = &body["data"]["metadata"];
    assert_eq!(keys_of(meta), VERSION_KEYS);
    assert_eq!(
        (&meta["version"], &meta["destroyed"]),
        (&json!(5), &json!(false))
    );
    assert_nano_time(&meta["deletion_time"]);
    let g = bao(&["kv", "get", "-format=json", "kv/app/db"]).ok().json();
    assert_eq!(g["data"]["data"], Value::Null);
    assert_eq!(
        g["data"]["metadata"]["deletion_time"],
        meta["deletion_time"]
    );
    bao(&["kv", "delete", "-versions=1,2", "kv/app/db"]).ok();
    let body = api.get("kv/data/app/db?version=1").expect(404);
    assert_nano_time(&body["data"]["metadata"]["deletion_time"]);
    api.post("kv/delete/app/db", &json!({}))
        .expect_errors(400, &["No version number provided"]);

    // undelete
    let run = bao(&["kv", "undelete", "-versions=1,5", "kv/app/db"]).ok();
    assert_eq!(
        run.stdout.trim(),
        "Success! Data written to: kv/undelete/app/db"
    );
    let body = api.get("kv/data/app/db").expect(200);
    assert_live_version(&body["data"]["metadata"], 5);
    assert_eq!(
        api.get("kv/data/app/db?version=1").expect(200)["data"]["data"]["pass"],
        "one"
    );
    let body = api.get("kv/data/app/db?version=2").expect(404);
    assert_nano_time(&body["data"]["metadata"]["deletion_time"]);
    bao(&["kv", "undelete", "kv/app/db"]).fails(1, "No versions provided");
    api.post("kv/undelete/app/db", &json!({}))
        .expect_errors(400, &["No version number provided"]);

    // destroy: permanent; undelete cannot bring it back.
    let run = bao(&["kv", "destroy", "-versions=2", "kv/app/db"]).ok();
    assert_eq!(
        run.stdout.trim(),
        "Success! Data written to: kv/destroy/app/db"
    );
    let body = api.get("kv/data/app/db?version=2").expect(404);
    assert_eq!(body["data"]["data"], Value::Null);
    assert_eq!(body["data"]["metadata"]["destroyed"], true);
    assert_eq!(body["data"]["metadata"]["version"], 2);
    assert_nano_time(&body["data"]["metadata"]["deletion_time"]);
    bao(&["kv", "undelete", "-versions=2", "kv/app/db"]).ok();
    assert_eq!(
        api.get("kv/data/app/db?version=2").expect(404)["data"]["metadata"]["destroyed"],
        true
    );
    bao(&["kv", "destroy", "kv/app/db"]).fails(1, "No versions provided");
    api.post("kv/destroy/app/db", &json!({}))
        .expect_errors(400, &["no version number provided"]);

    // metadata get: the versions map, one entry per version.
    let m = bao(&["kv", "metadata", "get", "-format=json", "kv/app/db"])
        .ok()
        .json();
    let m = &m["data"];
    assert_eq!(keys_of(m), METADATA_KEYS);
    assert_eq!(
        (
            &m["current_version"],
            &m["oldest_version"],
            &m["max_versions"],
            &m["cas_required"],
            &m["delete_version_after"],
            &m["custom_metadata"],
            &m["current_metadata_version"],
            &m["metadata_cas_required"],
        ),
        (
            &json!(5),
            &json!(0),
            &json!(0),
            &json!(false),
            &json!("0s"),
            &Value::Null,
            &json!(0),
            &json!(false)
        ),
        "{m}"
    );
    assert_eq!(versions_of(m), [1, 2, 3, 4, 5]);
    for (v, entry) in m["versions"].as_object().expect("versions") {
        assert_eq!(
            keys_of(entry),
            ["created_time", "deletion_time", "destroyed"],
            "version {v}"
        );
        assert_nano_time(&entry["created_time"]);
        assert_eq!(entry["destroyed"], v == "2", "version {v}: {entry}");
        assert_eq!(
            entry["deletion_time"] == "",
            v != "2",
            "version {v}: {entry}"
        );
    }
    assert_eq!(
        m["versions"]["2"]["created_time"],
        w2["data"]["created_time"]
    );
    assert_eq!(m["created_time"], m["versions"]["1"]["created_time"]);
    assert_eq!(m["updated_time"], m["versions"]["5"]["created_time"]);
    bao(&["kv", "metadata", "get", "kv/app/missing"])
        .fails(2, "No value found at kv/metadata/app/missing");
    api.get("kv/metadata/app/missing").expect_errors(404, &[]);

    // metadata put / patch: custom_metadata, max_versions; each bumps current_metadata_version.
    let run = bao(&[
        "kv",
        "metadata",
        "put",
        "-max-versions=7",
        "-custom-metadata=owner=alice",
        "-custom-metadata=team=db",
        "kv/app/db",
    ])
    .ok();
    assert_eq!(
        run.stdout.trim(),
        "Success! Data written to: kv/metadata/app/db"
    );
    let m2 = api.get("kv/metadata/app/db").expect(200)["data"].clone();
    assert_eq!(m2["max_versions"], 7);
    assert_eq!(
        m2["custom_metadata"],
        json!({"owner": "alice", "team": "db"})
    );
    assert_eq!(m2["current_metadata_version"], 1);
    assert_eq!(versions_of(&m2), [1, 2, 3, 4, 5]);
    assert!(
        assert_nano_time(&m2["updated_time"]) > assert_nano_time(&m["updated_time"]),
        "a metadata write moves updated_time: {m2}"
    );
    let run = bao(&[
        "kv",
        "metadata",
        "patch",
        "-custom-metadata=team=infra",
        "kv/app/db",
    ])
    .ok();
    assert_eq!(
        run.stdout.trim(),
        "Success! Data written to: kv/metadata/app/db"
    );
    let m3 = api.get("kv/metadata/app/db").expect(200)["data"].clone();
    assert_eq!(
        m3["custom_metadata"],
        json!({"owner": "alice", "team": "infra"})
    );
    assert_eq!(m3["max_versions"], 7);
    assert_eq!(m3["current_metadata_version"], 2);
    // A data read carries the key's custom_metadata.
    assert_eq!(
        api.get("kv/data/app/db").expect(200)["data"]["metadata"]["custom_metadata"],
        json!({"owner": "alice", "team": "infra"})
    );
    bao(&[
        "kv",
        "metadata",
        "patch",
        "-max-versions=2",
        "kv/app/missing",
    ])
    .fails(2, "Code: 404");

    // list (LIST and GET ?list=true); an empty list is 404 {"errors":[]}.
    bao(&["kv", "put", "kv/app/cache", "x=1"]).ok();
    bao(&["kv", "put", "kv/app/sub/deep", "x=1"]).ok();
    let keys = json!(["cache", "db", "sub/"]);
    assert_eq!(
        bao(&["kv", "list", "-format=json", "kv/app"]).ok().json(),
        keys
    );
    assert_eq!(
        bao(&["kv", "list", "-format=json", "kv"]).ok().json(),
        json!(["app/"])
    );
    let run = bao(&["kv", "list", "kv/app"]).ok();
    assert_eq!(run.stdout, "Keys\n----\ncache\ndb\nsub/\n");
    let body = api.list("kv/metadata/app").expect(200);
    assert_envelope(&body);
    assert_eq!(body["data"], json!({ "keys": keys }));
    assert_eq!(
        api.list("kv/metadata/app/").expect(200)["data"]["keys"],
        keys
    );
    assert_eq!(
        api.get("kv/metadata/app?list=true").expect(200)["data"]["keys"],
        keys
    );
    assert_eq!(
        api.get("kv/metadata/?list=true").expect(200)["data"]["keys"],
        json!(["app/"])
    );
    bao(&["kv", "list", "kv/nothing"]).fails(2, "No value found at kv/metadata/nothing");
    api.list("kv/metadata/nothing").expect_errors(404, &[]);
    api.list("kv/metadata/nothing/").expect_errors(404, &[]);

    // rollback: writes the old data as a new version (with cas), refuses deleted/destroyed.
    let r = bao(&["kv", "rollback", "-format=json", "-version=1", "kv/app/db"])
        .ok()
        .json();
    assert_live_version(&r["data"], 6);
    let g = api.get("kv/data/app/db").expect(200);
    assert_eq!(g["data"]["data"], json!({"user": "alice", "pass": "one"}));
    assert_eq!(g["data"]["metadata"]["version"], 6);
    // Version 2 is both deleted and destroyed: the CLI names the deletion.
    bao(&["kv", "rollback", "-version=2", "kv/app/db"])
        .fails(2, "Cannot roll back to a version that has been deleted");
    bao(&["kv", "destroy", "-versions=4", "kv/app/db"]).ok();
    bao(&["kv", "rollback", "-version=4", "kv/app/db"])
        .fails(2, "Cannot roll back to a version that has been destroyed");
    bao(&["kv", "delete", "-versions=3", "kv/app/db"]).ok();
    bao(&["kv", "rollback", "-version=3", "kv/app/db"])
        .fails(2, "Cannot roll back to a version that has been deleted");
    bao(&["kv", "rollback", "-version=99", "kv/app/db"])
        .fails(2, "No value found at kv/data/app/db");
    bao(&["kv", "rollback", "kv/app/db"]).fails(1, "Version flag must be specified");

    // metadata delete: every version and the metadata go; deleting nothing succeeds.
    let run = bao(&["kv", "metadata", "delete", "kv/app/db"]).ok();
    assert_eq!(
        run.stdout.trim(),
        "Success! Data deleted (if it existed) at: kv/metadata/app/db"
    );
    api.get("kv/data/app/db").expect_errors(404, &[]);
    api.get("kv/data/app/db?version=1").expect_errors(404, &[]);
    api.get("kv/metadata/app/db").expect_errors(404, &[]);
    assert_eq!(
        bao(&["kv", "list", "-format=json", "kv/app"]).ok().json(),
        json!(["cache", "sub/"])
    );
    bao(&["kv", "metadata", "delete", "kv/app/never"]).ok();

    // metadata put on a new key: metadata with no versions; the data is 404 without a body.
    bao(&["kv", "metadata", "put", "-custom-metadata=a=b", "kv/blank"]).ok();
    let m = api.get("kv/metadata/blank").expect(200)["data"].clone();
    assert_eq!(keys_of(&m), METADATA_KEYS);
    assert_eq!(
        (
            &m["current_version"],
            &m["oldest_version"],
            &m["versions"],
            &m["custom_metadata"],
            &m["current_metadata_version"]
        ),
        (
            &json!(0),
            &json!(0),
            &json!({}),
            &json!({"a": "b"}),
            &json!(1)
        ),
        "{m}"
    );
    assert_eq!(m["created_time"], m["updated_time"]);
    api.get("kv/data/blank").expect_errors(404, &[]);
    bao(&["kv", "get", "kv/blank"]).fails(2, "No value found at kv/data/blank");
    assert_eq!(
        bao(&["kv", "list", "-format=json", "kv"]).ok().json(),
        json!(["app/", "blank"])
    );
}

#[test]
fn kv_v2_max_versions_and_check_and_set() {
    let (server, root, _) = Server::start_unsealed();
    let bao = |args: &[&str]| server.bao(Some(&root), args);
    let api = server.api(&root);
    enable(&server, &root, &["-path=mv", "-version=2", "kv"]);
    let write = |key: &str, n: u64| {
        let body = api
            .put(&format!("mv/data/{key}"), &json!({"data": {"n": n}}))
            .expect(200);
        body["data"]["version"].as_u64().expect("version")
    };
    let meta = |key: &str| api.get(&format!("mv/metadata/{key}")).expect(200)["data"].clone();

    let config = api.get("mv/config").expect(200);
    assert_eq!(
        config["data"],
        json!({"cas_required": false, "delete_version_after": "0s", "max_versions": 0,
               "metadata_cas_required": false})
    );

    // Neither the key nor the mount sets max_versions: 10 are kept.
    for n in 1..=12 {
        assert_eq!(write("ten", n), n);
    }
    let m = meta("ten");
    assert_eq!(
        (&m["current_version"], &m["oldest_version"]),
        (&json!(12), &json!(3))
    );
    assert_eq!(versions_of(&m), (3..=12).collect::<Vec<_>>());
    api.get("mv/data/ten?version=2").expect_errors(404, &[]);
    assert_eq!(
        api.get("mv/data/ten?version=3").expect(200)["data"]["data"]["n"],
        3
    );
    bao(&["kv", "get", "-version=1", "mv/ten"]).fails(2, "No value found at mv/data/ten");

    // Lowering a key's max_versions prunes at its next write, not at once.
    bao(&["kv", "metadata", "put", "-max-versions=3", "mv/ten"]).ok();
    assert_eq!(versions_of(&meta("ten")).len(), 10);
    assert_eq!(write("ten", 13), 13);
    let m = meta("ten");
    assert_eq!(versions_of(&m), [11, 12, 13]);
    assert_eq!(m["oldest_version"], 11);

    // The mount keeps 2: a key without its own setting keeps 2, a key asking for 4 keeps 4,
    // a key asking for 1 keeps 2 (the larger of the two wins).
    api.post("mv/config", &json!({"max_versions": 2}))
        .expect(204);
    assert_eq!(api.get("mv/config").expect(200)["data"]["max_versions"], 2);
    bao(&["kv", "metadata", "put", "-max-versions=4", "mv/four"]).ok();
    bao(&["kv", "metadata", "put", "-max-versions=1", "mv/one"]).ok();
    for n in 1..=6 {
        for key in ["plain", "four", "one"] {
            assert_eq!(write(key, n), n);
        }
    }
    assert_eq!(versions_of(&meta("plain")), [5, 6]);
    assert_eq!(meta("plain")["oldest_version"], 5);
    assert_eq!(versions_of(&meta("four")), [3, 4, 5, 6]);
    assert_eq!(versions_of(&meta("one")), [5, 6]);
    assert_eq!(meta("one")["max_versions"], 1);
    api.post("mv/config", &json!({"max_versions": 0}))
        .expect(204);

    // cas_required on a key.
    bao(&["kv", "metadata", "put", "-cas-required=true", "mv/guarded"]).ok();
    assert_eq!(meta("guarded")["cas_required"], true);
    bao(&["kv", "put", "mv/guarded", "a=1"])
        .fails(2, "check-and-set parameter required for this call");
    api.put("mv/data/guarded", &json!({"data": {"a": 1}}))
        .expect_errors(400, &["check-and-set parameter required for this call"]);
    let w = bao(&["kv", "put", "-format=json", "-cas=0", "mv/guarded", "a=1"])
        .ok()
        .json();
    assert_eq!(w["data"]["version"], 1);
    bao(&["kv", "put", "-cas=0", "mv/guarded", "a=2"]).fails(
        2,
        "check-and-set parameter did not match the current version",
    );
    bao(&["kv", "put", "-cas=1", "mv/guarded", "a=2"]).ok();

    // cas_required on the mount: a config write changes only the fields it names.
    api.post("mv/config", &json!({"cas_required": true}))
        .expect(204);
    assert_eq!(
        api.get("mv/config").expect(200)["data"],
        json!({"cas_required": true, "delete_version_after": "0s", "max_versions": 0,
               "metadata_cas_required": false})
    );
    api.put("mv/data/fresh", &json!({"data": {"a": 1}}))
        .expect_errors(400, &["check-and-set parameter required for this call"]);
    let body = api
        .put(
            "mv/data/fresh",
            &json!({"data": {"a": 1}, "options": {"cas": 0}}),
        )
        .expect(200);
    assert_eq!(body["data"]["version"], 1);
    // The key's own flag stays false; turning it off while the mount mandates it is a warning.
    assert_eq!(meta("fresh")["cas_required"], false);
    let body = api
        .post("mv/metadata/fresh", &json!({"cas_required": false}))
        .expect(200);
    assert_eq!(body["data"], Value::Null);
    assert_eq!(
        body["warnings"],
        json!(["\"cas_required\" set to false, but is mandated by backend config. This value will be ignored."])
    );
    api.put("mv/data/fresh", &json!({"data": {"a": 2}}))
        .expect_errors(400, &["check-and-set parameter required for this call"]);
    api.post("mv/config", &json!({"cas_required": false}))
        .expect(204);

    // Wrong and malformed cas values.
    let mismatch = ["check-and-set parameter did not match the current version"];
    let parse = ["error parsing check-and-set parameter"];
    let put = |cas: Value| {
        api.put(
            "mv/data/fresh",
            &json!({"data": {"a": 3}, "options": {"cas": cas}}),
        )
    };
    put(json!(0)).expect_errors(400, &mismatch);
    put(json!(5)).expect_errors(400, &mismatch);
    put(json!(-1)).expect_errors(400, &mismatch);
    put(Value::Null).expect_errors(400, &mismatch);
    put(json!("x")).expect_errors(400, &parse);
    put(json!(1.5)).expect_errors(400, &parse);
    assert_eq!(
        meta("fresh")["current_version"],
        1,
        "no failed write landed"
    );
    // A numeric string is a number (the API's weak typing).
    assert_eq!(put(json!("1")).expect(200)["data"]["version"], 2);
}

#[test]
fn kv_bad_input() {
    let (server, root, _) = Server::start_unsealed();
    let api = server.api(&root);
    enable(&server, &root, &["-path=kv", "-version=2", "kv"]);
    enable(&server, &root, &["-path=other", "-version=2", "kv"]);
    api.put("other/data/target", &json!({"data": {"secret": "other"}}))
        .expect(200);

    // `data` must be an object (null is accepted and stored as null).
    for bad in [json!("str"), json!([1, 2]), json!(5), json!(true)] {
        let err = api
            .put("kv/data/x", &json!({ "data": bad }))
            .expect_error(400);
        assert!(
            err.starts_with("error converting input for field \"data\": "),
            "data = {bad}: {err}"
        );
    }
    let err = api
        .put("kv/data/x", &json!({"data": {"a": 1}, "options": "x"}))
        .expect_error(400);
    assert!(
        err.starts_with("error converting input for field \"options\": "),
        "{err}"
    );
    api.get("kv/metadata/x").expect_errors(404, &[]);
    api.put("kv/data/x", &json!({}))
        .expect_errors(400, &["no data provided"]);
    api.call("PUT", "kv/data/x", "")
        .expect_errors(400, &["no data provided"]);
    for body in [
        "notjson",
        "[1]",
        "{\"data\":{\"a\":1}} trailing",
        "{\"data\":",
    ] {
        let err = api.call("PUT", "kv/data/x", body).expect_error(400);
        assert!(
            err.starts_with("failed to decode JSON input: "),
            "{body:?}: {err}"
        );
    }
    api.get("kv/metadata/x").expect_errors(404, &[]);
    let body = api.put("kv/data/x", &json!({"data": null})).expect(200);
    assert_live_version(&body["data"], 1);
    let body = api.get("kv/data/x").expect(200);
    assert_eq!(body["data"]["data"], Value::Null);
    // POST is a write too.
    let body = api.post("kv/data/x", &json!({"data": {}})).expect(200);
    assert_eq!(body["data"]["version"], 2);
    assert_eq!(api.get("kv/data/x").expect(200)["data"]["data"], json!({}));

    // A literal `..` or `.` segment or an empty one: OpenBao's HTTP layer redirects (307) to the
    // cleaned path, Coffer's refuses (400); neither runs anything itself.
    let port = server.port();
    let raw = |method: &str, path: &str, body: &str| {
        common::request(port, method, path, &[], body.as_bytes(), Some(&root))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    };
    let write = r#"{"data":{"evil":true}}"#;
    for (path, clean) in [
        (
            "/v1/kv/data/../../other/data/target",
            "/v1/other/data/target",
        ),
        (
            "/v1/kv/data/a/../../../other/data/target",
            "/v1/other/data/target",
        ),
        ("/v1/kv/data/x/..", "/v1/kv/data"),
        ("/v1/kv/data/./x", "/v1/kv/data/x"),
        ("/v1/kv/data//x", "/v1/kv/data/x"),
        (
            "/v1/kv/data/x/../../../sys/mounts/evil",
            "/v1/sys/mounts/evil",
        ),
    ] {
        for method in ["GET", "PUT"] {
            let r = raw(method, path, if method == "PUT" { write } else { "" });
            if server.is_openbao() {
                assert_eq!(
                    (r.status, r.header("location")),
                    (307, Some(clean)),
                    "{method} {path}: {}",
                    r.body
                );
            } else {
                // Coffer refuses instead of redirecting (docs/compat.md, "Paths").
                let _ = clean;
                assert_eq!(r.status, 400, "{method} {path}: {}", r.body);
                assert!(r.header("location").is_none());
            }
        }
    }
    // Percent-encoded dot segments reach the router and are refused.
    for path in [
        "/v1/kv/data/%2e%2e/other/data/target",
        "/v1/kv/data/%2E%2E%2F%2E%2E%2Fother%2Fdata%2Ftarget",
        "/v1/kv/data/x%2F..%2F..%2F..%2Fsys%2Fmounts%2Fevil",
        "/v1/kv/data/x/%2e%2e",
        "/v1/kv/data/%2e",
        "/v1/kv/data/x/%2e/y",
        "/v1/kv/metadata/%2e%2e%2f",
    ] {
        for method in ["GET", "PUT"] {
            raw(method, path, if method == "PUT" { write } else { "" })
                .expect_errors(400, &["relative paths not supported"]);
        }
    }
    // Nothing above wrote anything anywhere.
    assert_eq!(
        api.get("other/data/target").expect(200)["data"]["data"],
        json!({"secret": "other"})
    );
    assert_eq!(
        api.get("other/metadata/target").expect(200)["data"]["current_version"],
        1
    );
    api.get("sys/mounts/evil")
        .expect_errors(400, &["No secret engine mount at evil/"]);
    assert_eq!(
        api.list("kv/metadata/").expect(200)["data"]["keys"],
        json!(["x"])
    );
    // Dots inside a name are just characters.
    for name in ["a..b", "...", "x.y"] {
        api.put(&format!("kv/data/{name}"), &json!({"data": {"n": name}}))
            .expect(200);
        assert_eq!(
            api.get(&format!("kv/data/{name}")).expect(200)["data"]["data"]["n"],
            name
        );
    }
    // An encoded slash is a slash: it cannot smuggle a path past the mount.
    api.put("kv/data/enc%2Fslash", &json!({"data": {"s": 1}}))
        .expect(200);
    assert_eq!(
        api.get("kv/data/enc/slash").expect(200)["data"]["data"]["s"],
        1
    );
    assert_eq!(
        api.get("kv%2Fdata%2Fenc%2Fslash").expect(200)["data"]["data"]["s"],
        1
    );
    assert_eq!(
        api.list("kv/metadata/enc").expect(200)["data"]["keys"],
        json!(["slash"])
    );

    // A body over max_request_size (32 MiB by default) is refused whole.
    let huge = format!(
        "{{\"data\":{{\"v\":\"{}\"}}}}",
        "x".repeat(32 * 1024 * 1024 + 16)
    );
    let r = common::request(
        port,
        "PUT",
        "/v1/kv/data/huge",
        &[],
        huge.as_bytes(),
        Some(&root),
    )
    .expect("oversized PUT");
    r.expect_errors(413, &["http: request body too large"]);
    api.get("kv/metadata/huge").expect_errors(404, &[]);
    // A large value under the request limit either round-trips intact or fails without
    // leaving a version behind (OpenBao's raft refuses entries over 1 MiB with a 500).
    let value = "v".repeat(900 * 1024);
    let r = api.put("kv/data/large", &json!({"data": {"v": value}}));
    if r.status == 200 {
        assert_eq!(
            api.get("kv/data/large").expect(200)["data"]["data"]["v"],
            value.as_str()
        );
    } else {
        assert!(r.status >= 400, "{}: {}", r.status, r.body);
        api.get("kv/metadata/large").expect_errors(404, &[]);
    }
}

#[test]
fn kv_v1_and_enable_versioning() {
    let (server, root, _) = Server::start_unsealed();
    let bao = |args: &[&str]| server.bao(Some(&root), args);
    let api = server.api(&root);
    enable(&server, &root, &["-path=old", "kv"]);
    let ui = api.get("sys/internal/ui/mounts/old").expect(200);
    assert_eq!(
        (&ui["data"]["type"], &ui["data"]["options"]),
        (&json!("kv"), &Value::Null)
    );

    // write, read, -field, list, delete.
    let run = bao(&["kv", "put", "old/a", "foo=bar"]).ok();
    assert_eq!(run.stdout.trim(), "Success! Data written to: old/a");
    let r = api.put("old/b", &json!({"n": 1, "nested": {"k": [1, 2]}}));
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    let g = bao(&["kv", "get", "-format=json", "old/a"]).ok().json();
    assert_eq!(g["data"], json!({"foo": "bar"}));
    // A v1 read is a lease of the mount's default TTL (32 days); a `ttl` key sets it.
    assert_eq!(g["lease_duration"], 2_764_800);
    assert_eq!(
        bao(&["kv", "get", "-field=foo", "old/a"]).ok().stdout,
        "bar"
    );
    let body = api.get("old/b").expect(200);
    assert_envelope(&body);
    assert_eq!(body["data"], json!({"n": 1, "nested": {"k": [1, 2]}}));
    assert_eq!(body["lease_duration"], 2_764_800);
    api.put("old/t", &json!({"ttl": "1h", "v": "x"}))
        .expect(204);
    let body = api.get("old/t").expect(200);
    assert_eq!(
        (&body["lease_duration"], &body["data"]),
        (&json!(3600), &json!({"ttl": "1h", "v": "x"}))
    );
    bao(&["kv", "put", "old/dir/c", "x=1"]).ok();
    assert_eq!(
        bao(&["kv", "list", "-format=json", "old"]).ok().json(),
        json!(["a", "b", "dir/", "t"])
    );
    assert_eq!(
        api.list("old/dir").expect(200)["data"]["keys"],
        json!(["c"])
    );
    api.list("old/nope").expect_errors(404, &[]);
    api.get("old/nope").expect_errors(404, &[]);
    bao(&["kv", "get", "old/nope"]).fails(2, "No value found at old/nope");
    let run = bao(&["kv", "delete", "old/t"]).ok();
    assert_eq!(
        run.stdout.trim(),
        "Success! Data deleted (if it existed) at: old/t"
    );
    api.get("old/t").expect_errors(404, &[]);
    assert_eq!(api.delete("old/t").status, 204);
    // The v2-only subcommands refuse a v1 mount on the client side.
    bao(&["kv", "patch", "old/a", "x=1"])
        .fails(2, "K/V engine mount must be version 2 for patch support");
    bao(&["kv", "metadata", "get", "old/a"]).fails(1, "Metadata not supported on KV Version 1");
    bao(&["kv", "undelete", "-versions=1", "old/a"])
        .fails(1, "Undelete not supported on KV Version 1");
    bao(&["kv", "destroy", "-versions=1", "old/a"])
        .fails(1, "Destroy not supported on KV Version 1");
    bao(&["kv", "rollback", "-version=1", "old/a"])
        .fails(2, "K/V engine mount must be version 2 for rollback support");

    // enable-versioning upgrades in place: every key becomes version 1 of itself.
    let run = bao(&["kv", "enable-versioning", "old"]).ok();
    assert_eq!(
        run.stdout.trim(),
        "Success! Tuned the secrets engine at: old/"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let upgraded = loop {
        let r = api.get("old/data/a");
        if r.status == 200 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let body = upgraded.expect(200);
    assert_eq!(body["data"]["data"], json!({"foo": "bar"}));
    assert_live_version(&body["data"]["metadata"], 1);
    assert_eq!(body["lease_duration"], 0);
    let g = bao(&["kv", "get", "-format=json", "old/b"]).ok().json();
    assert_eq!(g["data"]["data"], json!({"n": 1, "nested": {"k": [1, 2]}}));
    let m = bao(&["kv", "metadata", "get", "-format=json", "old/a"])
        .ok()
        .json();
    assert_eq!(keys_of(&m["data"]), METADATA_KEYS);
    assert_eq!(
        (&m["data"]["current_version"], &m["data"]["oldest_version"]),
        (&json!(1), &json!(1)),
        "an upgraded key starts at oldest_version 1: {m}"
    );
    assert_eq!(versions_of(&m["data"]), [1]);
    assert_eq!(
        bao(&["kv", "list", "-format=json", "old"]).ok().json(),
        json!(["a", "b", "dir/"])
    );
    assert_eq!(
        bao(&["kv", "get", "-field=x", "old/dir/c"]).ok().stdout,
        "1"
    );
    api.get("old/data/t").expect_errors(404, &[]);
    let tune = api.get("sys/mounts/old/tune").expect(200);
    assert_eq!(tune["data"]["options"], json!({"version": "2"}));
    let ui = api.get("sys/internal/ui/mounts/old").expect(200);
    assert_eq!(ui["data"]["options"], json!({"version": "2"}));
    let w = bao(&["kv", "put", "-format=json", "old/a", "foo=baz"])
        .ok()
        .json();
    assert_live_version(&w["data"], 2);
    // Once versioned, always versioned; and doing it again is harmless.
    bao(&["secrets", "tune", "-options=version=1", "old"])
        .fails(2, "cannot downgrade mount from version 2");
    bao(&["kv", "enable-versioning", "old"]).ok();
    assert_eq!(
        api.get("old/data/a").expect(200)["data"]["metadata"]["version"],
        2
    );
    bao(&["kv", "enable-versioning", "nope"])
        .fails(2, "tune of path \"nope/\" failed: no mount entry found");
}

#[test]
fn kv_survives_a_restart_and_disable_removes_it() {
    let (mut server, root, key) = Server::start_unsealed();
    let bao = |s: &Server, args: &[&str]| s.bao(Some(&root), args);
    enable(
        &server,
        &root,
        &["-path=kv", "-version=2", "-description=kept", "kv"],
    );
    enable(&server, &root, &["-path=v1", "kv"]);
    for v in 1..=3 {
        bao(&server, &["kv", "put", "kv/app/db", &format!("v={v}")]).ok();
    }
    bao(&server, &["kv", "delete", "-versions=2", "kv/app/db"]).ok();
    bao(
        &server,
        &[
            "kv",
            "metadata",
            "patch",
            "-custom-metadata=o=x",
            "kv/app/db",
        ],
    )
    .ok();
    bao(&server, &["kv", "put", "kv/other", "a=1"]).ok();
    bao(&server, &["kv", "put", "v1/plain", "p=1"]).ok();
    let api = server.api(&root);
    let snapshot = |api: &Api| {
        (
            api.get("kv/metadata/app/db").expect(200)["data"].clone(),
            api.get("kv/data/app/db").expect(200)["data"].clone(),
            api.get("kv/data/app/db?version=1").expect(200)["data"].clone(),
            api.get("kv/data/app/db?version=2").expect(404)["data"].clone(),
            api.get("v1/plain").expect(200)["data"].clone(),
            api.list("kv/metadata/").expect(200)["data"].clone(),
            api.get("sys/mounts/kv").expect(200)["data"].clone(),
            api.get("sys/mounts/v1").expect(200)["data"].clone(),
        )
    };
    let before = snapshot(&api);

    // kill -9 and start again on the same data dir: sealed; the same key unseals it.
    server.kill();
    server.start();
    let run = server.bao(None, &["status", "-format=json"]);
    assert_eq!(run.code, 2, "sealed after a restart: {}", run.stdout);
    assert_eq!(run.json()["sealed"], true);
    server.unseal(&key);
    let api = server.api(&root);
    assert_eq!(
        snapshot(&api),
        before,
        "everything as it was before the kill"
    );

    // disable removes the data: the same path enabled again is empty.
    let run = bao(&server, &["secrets", "disable", "kv"]).ok();
    assert_eq!(
        run.stdout.trim(),
        "Success! Disabled the secrets engine (if it existed) at: kv/"
    );
    api.get("kv/data/app/db").expect_errors(
        404,
        &["no handler for route \"kv/data/app/db\". route entry not found."],
    );
    enable(&server, &root, &["-path=kv", "-version=2", "kv"]);
    let fresh = api.get("sys/mounts/kv").expect(200)["data"].clone();
    assert_ne!(fresh["uuid"], before.6["uuid"], "a new mount");
    assert_ne!(fresh["accessor"], before.6["accessor"]);
    bao(&server, &["kv", "get", "kv/app/db"]).fails(2, "No value found at kv/data/app/db");
    api.get("kv/metadata/app/db").expect_errors(404, &[]);
    api.list("kv/metadata/").expect_errors(404, &[]);
    bao(&server, &["kv", "list", "kv"]).fails(2, "No value found at kv/metadata");

    // ... and stays gone after another restart; the v1 mount is untouched.
    server.kill();
    server.start();
    server.unseal(&key);
    let api = server.api(&root);
    api.get("kv/data/app/db").expect_errors(404, &[]);
    api.get("kv/data/other").expect_errors(404, &[]);
    api.list("kv/metadata/").expect_errors(404, &[]);
    assert_eq!(api.get("v1/plain").expect(200)["data"], json!({"p": "1"}));
}

#[test]
fn kv_concurrent_cas_writers_lose_no_update() {
    const WRITERS: usize = 8;
    const WRITES_EACH: usize = 5;
    const MAX_ATTEMPTS: usize = 400;
    let (server, root, _) = Server::start_unsealed();
    enable(&server, &root, &["-path=kv", "-version=2", "kv"]);
    let api = server.api(&root);

    let results: Vec<Vec<(u64, usize, usize)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let api = api.clone();
                scope.spawn(move || {
                    let mut won = Vec::new();
                    for _ in 0..MAX_ATTEMPTS {
                        if won.len() == WRITES_EACH {
                            break;
                        }
                        let r = api.get("kv/metadata/c");
                        let current = match r.status {
                            404 => 0,
                            200 => r.json()["data"]["current_version"]
                                .as_u64()
                                .expect("current_version"),
                            other => panic!("read: {other} {}", r.body),
                        };
                        let n = won.len();
                        let r = api.put(
                            "kv/data/c",
                            &json!({"data": {"writer": writer, "n": n},
                                    "options": {"cas": current}}),
                        );
                        match r.status {
                            200 => {
                                let v = r.json()["data"]["version"].as_u64().expect("version");
                                assert_eq!(v, current + 1, "a cas write makes the next version");
                                won.push((v, writer, n));
                            }
                            400 => assert_eq!(
                                r.json(),
                                json!({"errors": ["check-and-set parameter did not match the current version"]})
                            ),
                            other => panic!("write: {other} {}", r.body),
                        }
                    }
                    won
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect()
    });

    let all: Vec<(u64, usize, usize)> = results.iter().flatten().copied().collect();
    let versions: BTreeSet<u64> = all.iter().map(|w| w.0).collect();
    assert_eq!(
        versions.len(),
        all.len(),
        "two writes got the same version: {all:?}"
    );
    let total = all.len() as u64;
    assert!(total > 0);
    assert_eq!(
        versions.iter().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    let m = api.get("kv/metadata/c").expect(200);
    assert_eq!(m["data"]["current_version"], total, "no lost update");
    let last = all.iter().find(|w| w.0 == total).expect("the last write");
    assert_eq!(
        api.get("kv/data/c").expect(200)["data"]["data"],
        json!({"writer": last.1, "n": last.2})
    );
}

#[test]
fn hvac_kv_v2_and_mounts() {
    let (server, root, _) = Server::start_unsealed();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kv_hvac.py");
    let out = Command::new(common::python())
        .arg(&script)
        .arg(server.addr())
        .arg(&root)
        .output()
        .expect("python with hvac (run scripts/test)");
    assert!(
        out.status.success(),
        "{} failed:\n{}{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

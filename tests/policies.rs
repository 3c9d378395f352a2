//! ACL policies end to end, with the real `bao` CLI: `bao policy write/read/list/delete/fmt`,
//! the `sys/policies/acl` API's errors and check-and-set, KV v2 access granted and denied by a
//! policy (and changed by rewriting or deleting it), and one broker policy checked line by line
//! with real requests and with `sys/capabilities-self` / `bao token capabilities`.
//!
//! Every expectation holds on a real OpenBao 2.7.2 too: `E2E_SERVER=openbao cargo test
//! --test policies` runs the same scenarios against `bao server`.

mod common;

use common::{Api, Server};
use serde_json::{json, Value};

fn write_file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

/// A server with KV v2 at `kv/`: (server, root token).
fn with_kv() -> (Server, String) {
    let (server, root, _) = Server::start_unsealed();
    server
        .bao(
            Some(&root),
            &["secrets", "enable", "-path=kv", "-version=2", "kv"],
        )
        .ok();
    server.api(&root).wait_kv_v2_ready("kv");
    (server, root)
}

#[test]
fn policy_commands() {
    let (server, root, _) = Server::start_unsealed();
    let dir = tempfile::tempdir().expect("tmp");
    let bao = |args: &[&str]| server.bao(Some(&root), args);
    let api = server.api(&root);

    // A fresh server has exactly default and root.
    assert_eq!(
        bao(&["policy", "list", "-format=json"]).ok().json(),
        json!(["default", "root"])
    );

    // From a file; the name is lower-cased (the CLI says so on stderr).
    let text = "path \"kv/data/app/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n";
    let file = write_file(dir.path(), "p.hcl", text);
    let run = bao(&["policy", "write", "App-Reader", &file]).ok();
    assert!(
        run.stdout.contains("Success! Uploaded policy: app-reader"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("Policy name was converted from \"App-Reader\" to \"app-reader\""),
        "{}",
        run.stderr
    );
    // The text is kept verbatim.
    assert_eq!(bao(&["policy", "read", "app-reader"]).ok().stdout, text);
    let read = api.get("sys/policies/acl/app-reader").expect(200);
    assert_eq!(read["data"]["name"], "app-reader");
    assert_eq!(read["data"]["policy"], text);
    assert_eq!(read["data"]["version"], 1);
    assert_eq!(read["data"]["cas_required"], false);
    common::assert_nano_time(&read["data"]["modified"]);
    // Reads are case-insensitive too.
    assert_eq!(
        api.get("sys/policies/acl/APP-Reader").expect(200)["data"]["name"],
        "app-reader"
    );

    // From stdin.
    let stdin_text = "path \"kv/data/x\" {\n  capabilities = [\"read\"]\n}\n";
    let run = server.bao_stdin(
        Some(&root),
        &["policy", "write", "zeta-from-stdin", "-"],
        stdin_text,
    );
    run.ok();
    assert_eq!(
        bao(&["policy", "read", "zeta-from-stdin"]).ok().stdout,
        stdin_text
    );
    // Rewriting bumps the version.
    server
        .bao_stdin(
            Some(&root),
            &["policy", "write", "zeta-from-stdin", "-"],
            text,
        )
        .ok();
    assert_eq!(
        api.get("sys/policies/acl/zeta-from-stdin").expect(200)["data"]["version"],
        2
    );

    // The list is sorted, with root always last (also after names that sort after it).
    let want = json!(["app-reader", "default", "zeta-from-stdin", "root"]);
    assert_eq!(bao(&["policy", "list", "-format=json"]).ok().json(), want);
    assert_eq!(
        api.list("sys/policies/acl").expect(200)["data"]["keys"],
        want
    );
    assert_eq!(
        api.get("sys/policies/acl?list=true").expect(200)["data"]["keys"],
        want
    );
    // Plain GET of the collection is not an operation there.
    api.get("sys/policies/acl")
        .expect_errors(405, &["1 error occurred:\n\t* unsupported operation\n\n"]);
    // The legacy API: data copied to the top level, `keys` and `policies`.
    let legacy = api.get("sys/policy").expect(200);
    assert_eq!(legacy["keys"], want);
    assert_eq!(legacy["policies"], want);
    assert_eq!(legacy["data"]["policies"], want);
    let legacy_one = api.get("sys/policy/app-reader").expect(200);
    assert_eq!(legacy_one["rules"], text);
    assert_eq!(legacy_one["data"]["rules"], text);

    // root and default: readable, root's text empty.
    let root_policy = api.get("sys/policies/acl/root").expect(200);
    assert_eq!(root_policy["data"]["policy"], "");
    assert_eq!(root_policy["data"]["version"], 0);
    let default_text = bao(&["policy", "read", "default"]).ok().stdout;
    assert!(
        default_text.contains("path \"auth/token/lookup-self\""),
        "{default_text}"
    );
    bao(&["policy", "read", "nosuch"]).fails(2, "No policy named: nosuch");
    api.get("sys/policies/acl/nosuch").expect_errors(404, &[]);

    // fmt is client-side: a valid file is rewritten in canonical form, invalid HCL fails.
    let messy = write_file(
        dir.path(),
        "messy.hcl",
        "path \"a\" {capabilities=[\"read\"]}\n",
    );
    let run = bao(&["policy", "fmt", &messy]).ok();
    assert!(
        run.stdout.contains("Success! Formatted policy"),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read_to_string(&messy).expect("read"),
        "path \"a\" {\n  capabilities = [\"read\"]\n}\n"
    );
    let unclosed = write_file(
        dir.path(),
        "unclosed.hcl",
        "path \"a\" {capabilities=[\"read\"]\n",
    );
    bao(&["policy", "fmt", &unclosed]).fails(1, "failed to parse policy");
    let raed = write_file(
        dir.path(),
        "raed.hcl",
        "path \"kv/*\" {\n  capabilities = [\"raed\"]\n}\n",
    );
    bao(&["policy", "fmt", &raed]).fails(1, "invalid capability \"raed\"");

    // The server refuses invalid policies with 400 "failed to parse policy: ...".
    bao(&["policy", "write", "bad", &raed]).fails(2, "invalid capability \"raed\"");
    bao(&["policy", "write", "bad", &unclosed]).fails(2, "failed to parse policy");
    server
        .bao_stdin(Some(&root), &["policy", "write", "bad", "-"], "not hcl {{{")
        .fails(2, "failed to parse policy");

    // delete: default and root refuse, missing is fine.
    bao(&["policy", "delete", "default"]).fails(2, "cannot delete default policy");
    bao(&["policy", "delete", "root"]).fails(2, "cannot delete \"root\" policy");
    let run = bao(&["policy", "delete", "nosuch"]).ok();
    assert!(
        run.stdout.contains("Success! Deleted policy: nosuch"),
        "{}",
        run.stdout
    );
    bao(&["policy", "delete", "App-Reader"]).ok();
    bao(&["policy", "delete", "zeta-from-stdin"]).ok();
    assert_eq!(
        bao(&["policy", "list", "-format=json"]).ok().json(),
        json!(["default", "root"])
    );
}

#[test]
fn policy_api_errors_and_check_and_set() {
    let (server, root, _) = Server::start_unsealed();
    let api = server.api(&root);
    let body = |extra: Value| {
        let mut b = json!({"policy": "path \"a\" {\n  capabilities = [\"read\"]\n}\n"});
        for (k, v) in extra.as_object().expect("object") {
            b[k] = v.clone();
        }
        b
    };
    let put = |name: &str, b: &Value| api.put(&format!("sys/policies/acl/{name}"), b);
    let version = |name: &str| {
        api.get(&format!("sys/policies/acl/{name}")).expect(200)["data"]["version"].clone()
    };

    // Parse errors.
    put(
        "bad",
        &json!({"policy": "path \"kv/*\" {\n capabilities = [\"raed\"]\n}"}),
    )
    .expect_errors(
        400,
        &["failed to parse policy: path \"kv/*\": path \"kv/*\": invalid capability \"raed\""],
    );
    let e = put("bad", &json!({"policy": "path \"kv/*\" { capabilities = "})).expect_error(400);
    assert!(e.starts_with("failed to parse policy: "), "{e}");
    let e = put("bad", &json!({"policy": "not hcl at all {{{"})).expect_error(400);
    assert!(e.starts_with("failed to parse policy: "), "{e}");
    put("bad", &json!({"policy": ""}))
        .expect_errors(400, &["'policy' parameter not supplied or empty"]);
    put("bad", &json!({})).expect_errors(400, &["'policy' parameter not supplied or empty"]);
    api.get("sys/policies/acl/bad").expect_errors(404, &[]);
    // root cannot be written; default can.
    put("root", &body(json!({}))).expect_errors(400, &["cannot update \"root\" policy"]);
    assert_eq!(put("default", &body(json!({}))).status, 204);
    api.delete("sys/policies/acl/default")
        .expect_errors(400, &["cannot delete default policy"]);
    api.delete("sys/policies/acl/root")
        .expect_errors(400, &["cannot delete \"root\" policy"]);
    assert_eq!(api.delete("sys/policies/acl/nosuch").status, 204);
    // Upper case in the path is lower-cased.
    assert_eq!(put("UpPer", &body(json!({}))).status, 204);
    assert_eq!(
        api.get("sys/policies/acl/upper").expect(200)["data"]["name"],
        "upper"
    );
    assert_eq!(api.delete("sys/policies/acl/UPPER").status, 204);
    api.get("sys/policies/acl/upper").expect_errors(404, &[]);

    // Check-and-set: the version a write expects; 0 means "must not exist yet".
    put("c", &body(json!({"cas": 1}))).expect_errors(
        400,
        &["check-and-set parameter 1 did not match the current version 0"],
    );
    assert_eq!(put("c", &body(json!({"cas": 0}))).status, 204);
    assert_eq!(version("c"), 1);
    put("c", &body(json!({"cas": 0}))).expect_errors(
        400,
        &["check-and-set parameter 0 did not match the current version 1"],
    );
    assert_eq!(put("c", &body(json!({"cas": 1}))).status, 204);
    assert_eq!(version("c"), 2);
    // -1 means "whatever exists" only for a new policy.
    put("c", &body(json!({"cas": -1}))).expect_errors(
        400,
        &["check-and-set parameter set to -1 on existing entry"],
    );
    assert_eq!(put("d", &body(json!({"cas": -1}))).status, 204);
    // cas_required: the write that sets it needs cas itself, and so does the next one; it
    // holds only as long as each write sends it again.
    put("c", &body(json!({"cas_required": true})))
        .expect_errors(400, &["check-and-set parameter required for this call"]);
    assert_eq!(
        put("c", &body(json!({"cas_required": true, "cas": 2}))).status,
        204
    );
    let read = api.get("sys/policies/acl/c").expect(200);
    assert_eq!(read["data"]["cas_required"], true);
    assert_eq!(read["data"]["version"], 3);
    put("c", &body(json!({})))
        .expect_errors(400, &["check-and-set parameter required for this call"]);
    assert_eq!(put("c", &body(json!({"cas": 3}))).status, 204);
    let read = api.get("sys/policies/acl/c").expect(200);
    assert_eq!(read["data"]["cas_required"], false);
    assert_eq!(read["data"]["version"], 4);
    assert_eq!(put("c", &body(json!({}))).status, 204);
    put("e", &body(json!({"cas_required": true})))
        .expect_errors(400, &["check-and-set parameter required for this call"]);
}

#[test]
fn kv_v2_access_follows_the_policy() {
    let (server, root) = with_kv();
    let bao = |token: &str, args: &[&str]| server.bao(Some(token), args);
    bao(&root, &["kv", "put", "kv/app/db", "password=s3cret"]).ok();
    bao(&root, &["kv", "put", "kv/app/cache", "url=redis"]).ok();
    bao(&root, &["kv", "put", "kv/other/x", "y=z"]).ok();

    // Data and metadata are separate paths: this policy reads and writes data under app/,
    // lists and reads metadata under app/, soft-deletes versions, and nothing else.
    server.write_policy(
        &root,
        "app",
        r#"
path "kv/data/app/*" { capabilities = ["create", "read", "update"] }
path "kv/metadata/app/*" { capabilities = ["list", "read"] }
path "kv/delete/app/*" { capabilities = ["update"] }
"#,
    );
    // Data only.
    server.write_policy(
        &root,
        "data-only",
        "path \"kv/data/app/*\" { capabilities = [\"read\"] }\n",
    );
    // Metadata only.
    server.write_policy(
        &root,
        "meta-only",
        "path \"kv/metadata/*\" { capabilities = [\"read\", \"list\"] }\n",
    );
    let app = server.new_token(&root, &["-policy=app"]);
    let data_only = server.new_token(&root, &["-policy=data-only"]);
    let meta_only = server.new_token(&root, &["-policy=meta-only"]);
    let denied = |run: common::BaoRun| {
        run.fails(2, "Code: 403");
        assert!(run.stderr.contains("* permission denied"), "{}", run.stderr);
    };

    // app
    assert_eq!(
        bao(&app, &["kv", "get", "-field=password", "kv/app/db"])
            .ok()
            .stdout,
        "s3cret"
    );
    bao(&app, &["kv", "put", "kv/app/db", "password=new"]).ok();
    bao(&app, &["kv", "put", "kv/app/fresh", "a=b"]).ok();
    denied(bao(&app, &["kv", "get", "kv/other/x"]));
    denied(bao(&app, &["kv", "put", "kv/other/x", "y=w"]));
    denied(bao(&app, &["kv", "put", "kv/top", "y=w"]));
    assert_eq!(
        bao(&app, &["kv", "list", "-format=json", "kv/app"])
            .ok()
            .json(),
        json!(["cache", "db", "fresh"])
    );
    denied(bao(&app, &["kv", "list", "kv/"]));
    denied(bao(&app, &["kv", "list", "kv/other"]));
    let meta = bao(
        &app,
        &["kv", "metadata", "get", "-format=json", "kv/app/db"],
    )
    .ok()
    .json();
    assert_eq!(meta["data"]["current_version"], 2);
    denied(bao(&app, &["kv", "metadata", "get", "kv/other/x"]));
    denied(bao(
        &app,
        &["kv", "metadata", "put", "-max-versions=3", "kv/app/db"],
    ));
    denied(bao(&app, &["kv", "metadata", "delete", "kv/app/db"]));
    // An HTTP PATCH needs the patch capability; on its 403 `bao kv patch` falls back to a
    // read and a write, which this policy grants (and the CLI says so on stderr).
    server
        .api(&app)
        .call_with(
            "PATCH",
            "kv/data/app/db",
            &[("Content-Type", "application/merge-patch+json")],
            r#"{"data":{"extra":"0"}}"#,
        )
        .expect_acl_denied();
    let run = bao(&app, &["kv", "patch", "kv/app/db", "extra=1"]).ok();
    assert!(
        run.stderr
            .contains("we recommend that you add the \"patch\" capability"),
        "{}",
        run.stderr
    );
    bao(&app, &["kv", "patch", "-method=rw", "kv/app/db", "extra=2"]).ok();
    assert_eq!(
        bao(&app, &["kv", "get", "-field=extra", "kv/app/db"])
            .ok()
            .stdout,
        "2"
    );
    // `kv delete` of the latest version is a DELETE on data/: not granted. Deleting versions
    // goes through delete/: granted.
    denied(bao(&app, &["kv", "delete", "kv/app/db"]));
    bao(&app, &["kv", "delete", "-versions=1", "kv/app/db"]).ok();
    denied(bao(&app, &["kv", "undelete", "-versions=1", "kv/app/db"]));
    denied(bao(&app, &["kv", "destroy", "-versions=1", "kv/app/db"]));
    // The raw requests and their 403 body.
    let a = server.api(&app);
    a.get("kv/data/other/x").expect_acl_denied();
    a.delete("kv/data/app/db").expect_acl_denied();
    a.get("kv/config").expect_acl_denied();
    assert_eq!(a.get("kv/data/app/cache").status, 200);
    assert_eq!(a.list("kv/metadata/app").status, 200);
    assert_eq!(a.list("kv/metadata/app/").status, 200);
    a.list("kv/metadata").expect_acl_denied();

    // data-only: reads the secret, not its metadata, cannot list.
    assert_eq!(
        bao(&data_only, &["kv", "get", "-field=url", "kv/app/cache"])
            .ok()
            .stdout,
        "redis"
    );
    denied(bao(&data_only, &["kv", "metadata", "get", "kv/app/cache"]));
    denied(bao(&data_only, &["kv", "list", "kv/app"]));
    denied(bao(&data_only, &["kv", "put", "kv/app/cache", "url=x"]));

    // meta-only: lists and reads metadata everywhere, never the data.
    assert_eq!(
        bao(&meta_only, &["kv", "list", "-format=json", "kv/"])
            .ok()
            .json(),
        json!(["app/", "other/"])
    );
    bao(&meta_only, &["kv", "metadata", "get", "kv/other/x"]).ok();
    denied(bao(&meta_only, &["kv", "get", "kv/other/x"]));
    denied(bao(&meta_only, &["kv", "get", "kv/app/cache"]));

    // A token with only `default` cannot even find the mount: the CLI's preflight is refused.
    let nobody = server.new_token(&root, &["-policy=default"]);
    bao(&nobody, &["kv", "get", "kv/app/db"]).fails(2, "preflight capability check returned 403");

    // A rewritten policy applies to the very next request of a token that holds it.
    server.write_policy(
        &root,
        "data-only",
        "path \"kv/data/app/*\" { capabilities = [\"read\"] }\npath \"kv/data/other/*\" { capabilities = [\"read\"] }\n",
    );
    bao(&data_only, &["kv", "get", "kv/other/x"]).ok();
    // Narrowed again.
    server.write_policy(
        &root,
        "data-only",
        "path \"kv/data/other/*\" { capabilities = [\"read\"] }\n",
    );
    denied(bao(&data_only, &["kv", "get", "kv/app/cache"]));
    bao(&data_only, &["kv", "get", "kv/other/x"]).ok();
    // Deleted: the token still holds the name, which now grants nothing.
    // The CLI's preflight (any capability under the mount) fails first.
    bao(&root, &["policy", "delete", "data-only"]).ok();
    bao(&data_only, &["kv", "get", "kv/other/x"]).fails(
        2,
        "preflight capability check returned 403, please ensure client's policies grant access to path \"kv/other/x/\"",
    );
    server
        .api(&data_only)
        .get("kv/data/other/x")
        .expect_acl_denied();
    let me = bao(&data_only, &["token", "lookup", "-format=json"])
        .ok()
        .json();
    assert_eq!(me["data"]["policies"], json!(["data-only", "default"]));
    // Recreated under the same name: it applies again.
    server.write_policy(
        &root,
        "data-only",
        "path \"kv/data/other/*\" { capabilities = [\"read\"] }\n",
    );
    bao(&data_only, &["kv", "get", "kv/other/x"]).ok();
}

/// The access broker's policy, checked line by line. `userpass` and `transit` need not be
/// mounted: OpenBao checks the ACL before routing, so a denied request to an unmounted path
/// is the ACL's 403, and an allowed one is anything but 403 (a 404 "no handler for route"
/// while nothing is mounted there).
const BROKER: &str = r#"path "sys/health"             { capabilities = ["read"] }
path "sys/mounts"             { capabilities = ["read"] }
path "sys/capabilities-self"  { capabilities = ["update"] }
path "auth/userpass/users"       { capabilities = ["list"] }
path "auth/userpass/users/*"     { capabilities = ["create","update","read","delete"] }
path "sys/policies/acl/apono-*"  { capabilities = ["create","update","read","delete","list"] }
path "kv/metadata/*"             { capabilities = ["read","list"] }
path "transit/keys"              { capabilities = ["list"] }
"#;

#[test]
fn the_broker_policy_allows_exactly_what_it_says() {
    let (server, root) = with_kv();
    server
        .bao(Some(&root), &["kv", "put", "kv/app/db", "password=s3cret"])
        .ok();
    server.write_policy(&root, "broker", BROKER);
    // Without `default`, so that nothing but the policy above grants anything.
    let t = server.new_token(&root, &["-policy=broker", "-no-default-policy"]);
    let a = server.api(&t);

    // 1. What sys/capabilities-self says (capabilities sorted; `deny` when nothing matches).
    // It evaluates a path as a list would: `p/` falls back to an exact rule for `p`.
    let caps = |path: &str| -> Value {
        let r = a
            .post("sys/capabilities-self", &json!({"path": path}))
            .expect(200);
        assert_eq!(r["data"]["capabilities"], r["data"][path], "{r}");
        assert_eq!(
            r["capabilities"], r["data"]["capabilities"],
            "injected copy: {r}"
        );
        r["data"]["capabilities"].clone()
    };
    let crud = json!(["create", "delete", "read", "update"]);
    let all5 = json!(["create", "delete", "list", "read", "update"]);
    let deny = json!(["deny"]);
    let expect_caps: Vec<(&str, Value)> = vec![
        // sys/health (unauthenticated anyway; the rule only shows in capabilities)
        ("sys/health", json!(["read"])),
        ("sys/health/x", deny.clone()),
        ("sys", deny.clone()),
        ("sys/", deny.clone()),
        // sys/mounts
        ("sys/mounts", json!(["read"])),
        ("sys/mounts/", json!(["read"])),
        ("sys/mounts/kv", deny.clone()),
        ("sys/mounts/kv/tune", deny.clone()),
        ("sys/mountsx", deny.clone()),
        // sys/capabilities-self
        ("sys/capabilities-self", json!(["update"])),
        ("sys/capabilities", deny.clone()),
        ("sys/capabilities-accessor", deny.clone()),
        // auth/userpass/users
        ("auth/userpass/users", json!(["list"])),
        ("auth/userpass/users/", json!(["list"])),
        ("auth/userpass", deny.clone()),
        ("auth/userpass/login/bob", deny.clone()),
        ("auth/userpass/usersx", deny.clone()),
        // auth/userpass/users/*
        ("auth/userpass/users/bob", crud.clone()),
        ("auth/userpass/users/bob/password", crud.clone()),
        // sys/policies/acl/apono-*
        ("sys/policies/acl/apono-1", all5.clone()),
        ("sys/policies/acl/apono-", all5.clone()),
        ("sys/policies/acl/apono-a/b", all5.clone()),
        ("sys/policies/acl/apono", deny.clone()),
        ("sys/policies/acl/APONO-1", deny.clone()),
        ("sys/policies/acl/default", deny.clone()),
        ("sys/policies/acl", deny.clone()),
        ("sys/policies/acl/", deny.clone()),
        ("sys/policy/apono-1", deny.clone()),
        // kv/metadata/*
        ("kv/metadata/app/db", json!(["list", "read"])),
        ("kv/metadata/", json!(["list", "read"])),
        ("kv/metadata", deny.clone()),
        ("kv/metadatax", deny.clone()),
        ("kv/data/app/db", deny.clone()),
        ("kv/delete/app/db", deny.clone()),
        ("kv/config", deny.clone()),
        // transit/keys
        ("transit/keys", json!(["list"])),
        ("transit/keys/", json!(["list"])),
        ("transit/keys/k1", deny.clone()),
        ("transit", deny.clone()),
        ("transit/encrypt/k1", deny.clone()),
        // and what default would have given
        ("auth/token/lookup-self", deny.clone()),
        ("cubbyhole/x", deny.clone()),
    ];
    for (path, want) in &expect_caps {
        assert_eq!(&caps(path), want, "capabilities-self on {path}");
    }
    // Several paths at once: one key per path, no `capabilities` key.
    let many = a
        .post(
            "sys/capabilities-self",
            &json!({"paths": ["sys/mounts", "kv/metadata/x", "transit/keys/k1"]}),
        )
        .expect(200);
    assert_eq!(
        many["data"],
        json!({"sys/mounts": ["read"], "kv/metadata/x": ["list", "read"], "transit/keys/k1": ["deny"]})
    );
    // The CLI asks the same endpoint.
    for (path, want) in [
        ("sys/mounts", "read"),
        ("auth/userpass/users/bob", "create, delete, read, update"),
        (
            "sys/policies/acl/apono-x",
            "create, delete, list, read, update",
        ),
        ("kv/metadata/app", "list, read"),
        ("kv/data/app/db", "deny"),
        ("transit/keys", "list"),
    ] {
        let out = server
            .bao(Some(&t), &["token", "capabilities", path])
            .ok()
            .stdout;
        assert_eq!(out.trim(), want, "bao token capabilities {path}");
    }
    assert_eq!(
        server
            .bao(
                Some(&t),
                &["token", "capabilities", "-format=json", "kv/metadata/a"]
            )
            .ok()
            .json(),
        json!(["list", "read"])
    );
    // A token without the update rule on capabilities-self cannot ask.
    let plain = server.new_token(&root, &["-policy=default"]);
    server
        .api(&plain)
        .post("sys/capabilities-self", &json!({"path": "kv/x"}))
        .expect(200);

    // 2. The requests themselves: denied is the ACL's 403 body; allowed is anything else.
    let denied = |method: &str, path: &str, body: &str| {
        let r = a.call(method, path, body);
        assert_eq!(
            (r.status, r.json()),
            (
                403,
                json!({"errors": ["1 error occurred:\n\t* permission denied\n\n"]})
            ),
            "{method} {path} should be denied by the ACL"
        );
    };
    let allowed = |method: &str, path: &str, body: &str| -> common::Resp {
        let r = a.call(method, path, body);
        assert_ne!(
            r.status, 403,
            "{method} {path} should be allowed: {}",
            r.body
        );
        r
    };

    // sys/health: unauthenticated in any case, so a token neither helps nor hurts.
    assert_eq!(allowed("GET", "sys/health", "").status, 200);
    assert_eq!(
        common::request(server.port(), "GET", "/v1/sys/health", &[], b"", None)
            .expect("health")
            .status,
        200
    );

    // sys/mounts: read only.
    let mounts = allowed("GET", "sys/mounts", "").expect(200);
    assert!(mounts["data"]["kv/"].is_object(), "{mounts}");
    denied("GET", "sys/mounts/kv", "");
    denied("POST", "sys/mounts/other", r#"{"type":"kv"}"#);
    denied("DELETE", "sys/mounts/kv", "");
    denied("GET", "sys/mounts/kv/tune", "");
    denied("POST", "sys/mounts/kv/tune", r#"{"description":"x"}"#);
    denied("POST", "sys/mounts", "{}");
    denied("LIST", "sys/mounts", "");
    denied("GET", "sys/auth", "");
    denied("GET", "sys/policies/acl/broker", "");

    // sys/capabilities-self: update (POST and PUT) only.
    allowed("PUT", "sys/capabilities-self", r#"{"path":"x"}"#).expect(200);
    denied("GET", "sys/capabilities-self", "");
    denied(
        "POST",
        "sys/capabilities",
        &json!({"token": t, "path": "x"}).to_string(),
    );
    denied(
        "POST",
        "sys/capabilities-accessor",
        r#"{"accessor":"x","path":"x"}"#,
    );

    // auth/userpass/users: list, with or without the trailing slash; never read.
    allowed("LIST", "auth/userpass/users", "");
    allowed("LIST", "auth/userpass/users/", "");
    allowed("GET", "auth/userpass/users?list=true", "");
    denied("GET", "auth/userpass/users", "");
    denied("POST", "auth/userpass/users", "{}");
    denied("LIST", "auth/userpass", "");
    // auth/userpass/users/*: create, update, read, delete; not list, not patch.
    allowed("POST", "auth/userpass/users/bob", r#"{"password":"x"}"#);
    allowed("PUT", "auth/userpass/users/bob", r#"{"password":"y"}"#);
    allowed("GET", "auth/userpass/users/bob", "");
    allowed("DELETE", "auth/userpass/users/bob", "");
    allowed(
        "POST",
        "auth/userpass/users/bob/password",
        r#"{"password":"z"}"#,
    );
    denied("LIST", "auth/userpass/users/bob", "");
    denied("LIST", "auth/userpass/users/bob/", "");
    let r = a.call_with(
        "PATCH",
        "auth/userpass/users/bob",
        &[("Content-Type", "application/merge-patch+json")],
        "{}",
    );
    assert_eq!(r.status, 403, "PATCH is not granted: {}", r.body);
    denied("POST", "auth/userpass/login/bob", r#"{"password":"x"}"#);
    denied("GET", "auth/userpass/usersx", "");
    denied("POST", "sys/auth/userpass", r#"{"type":"userpass"}"#);

    // sys/policies/acl/apono-*: the broker manages its own policies and no others.
    let pol = json!({"policy": "path \"kv/data/app/db\" {\n  capabilities = [\"read\"]\n}\n"})
        .to_string();
    assert_eq!(
        allowed("PUT", "sys/policies/acl/apono-42", &pol).status,
        204
    );
    assert_eq!(
        allowed("POST", "sys/policies/acl/apono-43", &pol).status,
        204
    );
    let got = allowed("GET", "sys/policies/acl/apono-42", "").expect(200);
    assert_eq!(got["data"]["name"], "apono-42");
    // A policy path is lower-cased before the ACL sees it: APONO-44 is apono-44.
    assert_eq!(
        allowed("PUT", "sys/policies/acl/APONO-44", &pol).status,
        204
    );
    // LIST on the prefix itself is allowed, and answers nothing there.
    allowed("LIST", "sys/policies/acl/apono-", "");
    denied("LIST", "sys/policies/acl", "");
    denied("LIST", "sys/policies/acl/", "");
    denied("PUT", "sys/policies/acl/apono", &pol);
    denied("PUT", "sys/policies/acl/other", &pol);
    denied("PUT", "sys/policies/acl/default", &pol);
    denied("PUT", "sys/policies/acl/broker", &pol);
    denied("GET", "sys/policies/acl/default", "");
    denied("DELETE", "sys/policies/acl/broker", "");
    denied("PUT", "sys/policy/apono-45", &pol);
    denied("GET", "sys/policy", "");
    assert_eq!(
        allowed("DELETE", "sys/policies/acl/apono-42", "").status,
        204
    );
    assert_eq!(
        allowed("DELETE", "sys/policies/acl/apono-43", "").status,
        204
    );
    assert_eq!(
        allowed("DELETE", "sys/policies/acl/apono-44", "").status,
        204
    );
    // What it wrote is real: root sees the list back to default, broker, root.
    assert_eq!(
        server.api(&root).list("sys/policies/acl").expect(200)["data"]["keys"],
        json!(["broker", "default", "root"])
    );

    // kv/metadata/*: read and list metadata; never data, never write metadata.
    let md = allowed("GET", "kv/metadata/app/db", "").expect(200);
    assert_eq!(md["data"]["current_version"], 1);
    assert_eq!(
        allowed("LIST", "kv/metadata/app", "").expect(200)["data"]["keys"],
        json!(["db"])
    );
    assert_eq!(
        allowed("LIST", "kv/metadata", "").expect(200)["data"]["keys"],
        json!(["app/"])
    );
    allowed("LIST", "kv/metadata/", "").expect(200);
    allowed("GET", "kv/metadata/nosuch", "").expect_errors(404, &[]);
    denied("GET", "kv/data/app/db", "");
    denied("POST", "kv/data/app/db", r#"{"data":{"a":"b"}}"#);
    denied("POST", "kv/metadata/app/db", r#"{"max_versions":1}"#);
    denied("DELETE", "kv/metadata/app/db", "");
    denied("POST", "kv/delete/app/db", r#"{"versions":[1]}"#);
    denied("POST", "kv/destroy/app/db", r#"{"versions":[1]}"#);
    denied("GET", "kv/subkeys/app/db", "");
    denied("GET", "kv/config", "");
    // The CLI: metadata and listing work, the secret itself does not.
    server
        .bao(Some(&t), &["kv", "metadata", "get", "kv/app/db"])
        .ok();
    assert_eq!(
        server
            .bao(Some(&t), &["kv", "list", "-format=json", "kv/app"])
            .ok()
            .json(),
        json!(["db"])
    );
    server
        .bao(Some(&t), &["kv", "get", "kv/app/db"])
        .fails(2, "Code: 403");
    server
        .bao(Some(&t), &["kv", "put", "kv/app/db", "a=b"])
        .fails(2, "Code: 403");

    // transit/keys: list only.
    allowed("LIST", "transit/keys", "");
    allowed("LIST", "transit/keys/", "");
    denied("GET", "transit/keys", "");
    denied("LIST", "transit/keys/k1", "");
    denied("GET", "transit/keys/k1", "");
    denied("POST", "transit/keys/k1", "{}");
    denied("POST", "transit/encrypt/k1", r#"{"plaintext":"YQ=="}"#);
    denied("POST", "sys/mounts/transit", r#"{"type":"transit"}"#);

    // Nothing else: not even its own token (no default policy).
    denied("GET", "auth/token/lookup-self", "");
    denied("POST", "auth/token/renew-self", "{}");
    denied("POST", "auth/token/create", "{}");
    denied("GET", "cubbyhole/x", "");
    denied("GET", "sys/leases/lookup", "");
}

#[test]
fn the_two_403_bodies() {
    let (server, root) = with_kv();
    server.write_policy(
        &root,
        "none",
        "path \"kv/data/x\" { capabilities = [\"read\"] }\n",
    );
    let t = server.new_token(&root, &["-policy=none"]);
    // The ACL's denial: a multierror text.
    server.api(&t).get("kv/data/y").expect_acl_denied();
    // Unknown, malformed, missing token: plain.
    server
        .api("s.invalidinvalidinvalid00")
        .get("kv/data/x")
        .expect_bad_token();
    server.api("nonsense").get("kv/data/x").expect_bad_token();
    Api {
        port: server.port(),
        token: None,
    }
    .get("kv/data/x")
    .expect_bad_token();
    // The CLI shows the same.
    let run = server.bao(Some(&t), &["kv", "get", "kv/y"]);
    run.fails(2, "Code: 403");
}

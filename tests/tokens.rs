//! Tokens, policies, wrapping and cubbyhole end to end, with the real `bao` CLI and hvac.
//! Every expectation holds on a real OpenBao 2.7.2 too: `E2E_SERVER=openbao cargo test
//! --test tokens` runs the same scenarios against `bao server`.

mod common;

use std::time::{Duration, Instant};

use common::{Api, Server};
use serde_json::json;

const ACL_DENIED: &str = "1 error occurred:\n\t* permission denied\n\n";

fn write_file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

fn token_of(run: common::BaoRun) -> String {
    run.ok().json()["auth"]["client_token"]
        .as_str()
        .expect("client_token")
        .to_owned()
}

fn api(server: &Server, token: &str) -> Api {
    server.api(token)
}

#[test]
fn policies_with_the_cli() {
    let (server, root, _) = Server::start_unsealed();
    let dir = tempfile::tempdir().expect("tmp");
    let bao = |args: &[&str]| server.bao(Some(&root), args);

    let file = write_file(
        dir.path(),
        "p.hcl",
        "path \"kv/data/app/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n",
    );
    bao(&["policy", "write", "App-Reader", &file]).ok();
    let list = bao(&["policy", "list", "-format=json"]).ok().json();
    assert_eq!(list, json!(["app-reader", "default", "root"]));
    let read = bao(&["read", "-format=json", "sys/policies/acl/app-reader"])
        .ok()
        .json();
    assert_eq!(read["data"]["name"], "app-reader");
    assert_eq!(read["data"]["version"], 1);
    assert!(read["data"]["policy"]
        .as_str()
        .expect("text")
        .contains("kv/data/app/*"));
    let text = bao(&["policy", "read", "app-reader"]).ok().stdout;
    assert!(
        text.contains("capabilities = [\"read\", \"list\"]"),
        "{text}"
    );
    bao(&["policy", "fmt", &file]).ok();
    let bad = write_file(
        dir.path(),
        "bad.hcl",
        "path \"kv/*\" {\n  capabilities = [\"raed\"]\n}\n",
    );
    bao(&["policy", "write", "bad", &bad]).fails(2, "invalid capability \"raed\"");
    bao(&["policy", "delete", "default"]).fails(2, "cannot delete default policy");
    bao(&["policy", "delete", "root"]).fails(2, "cannot delete \"root\" policy");
    // The legacy API copies data to the top level.
    let legacy = api(&server, &root).get("sys/policy").expect(200);
    assert_eq!(legacy["keys"], legacy["data"]["policies"]);
    // Check-and-set.
    let r = api(&server, &root).put(
        "sys/policies/acl/app-reader",
        &json!({"policy": "path \"x\" {\n capabilities = [\"read\"]\n}", "cas": 0}),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .contains("check-and-set parameter 0 did not match the current version 1"),
        "{}",
        r.body
    );
    bao(&["policy", "delete", "app-reader"]).ok();
    assert_eq!(
        bao(&["policy", "list", "-format=json"]).ok().json(),
        json!(["default", "root"])
    );
}

#[test]
fn kv_access_follows_the_policy_and_its_changes() {
    let (server, root, _) = Server::start_unsealed();
    let dir = tempfile::tempdir().expect("tmp");
    let bao = |token: &str, args: &[&str]| server.bao(Some(token), args);
    bao(
        &root,
        &["secrets", "enable", "-path=kv", "-version=2", "kv"],
    )
    .ok();
    api(&server, &root).wait_kv_v2_ready("kv");
    bao(&root, &["kv", "put", "kv/app/db", "password=s3cret"]).ok();
    bao(&root, &["kv", "put", "kv/other/x", "y=z"]).ok();
    let policy = "path \"kv/data/app/*\" {\n  capabilities = [\"read\"]\n}\npath \"kv/metadata/app/*\" {\n  capabilities = [\"list\"]\n}\n";
    bao(
        &root,
        &[
            "policy",
            "write",
            "app",
            &write_file(dir.path(), "p.hcl", policy),
        ],
    )
    .ok();
    let t = token_of(bao(
        &root,
        &["token", "create", "-policy=app", "-format=json"],
    ));

    let got = bao(&t, &["kv", "get", "-field=password", "kv/app/db"]).ok();
    assert_eq!(got.stdout.trim(), "s3cret");
    bao(&t, &["kv", "get", "kv/other/x"]).fails(2, "Code: 403");
    bao(&t, &["kv", "put", "kv/app/db", "password=x"]).fails(2, "Code: 403");
    bao(&t, &["kv", "metadata", "get", "kv/app/db"]).fails(2, "Code: 403");
    api(&server, &t)
        .get("kv/data/other/x")
        .expect_errors(403, &[ACL_DENIED]);
    // An invalid token: the other 403.
    api(&server, "s.invalidinvalidinvalid00")
        .get("kv/data/app/db")
        .expect_errors(403, &["permission denied"]);
    let caps = bao(&t, &["token", "capabilities", "kv/data/app/db"])
        .ok()
        .stdout;
    assert_eq!(caps.trim(), "read");

    // The next request sees a changed policy.
    let wider = format!("{policy}path \"kv/data/other/*\" {{\n  capabilities = [\"read\"]\n}}\n");
    bao(
        &root,
        &[
            "policy",
            "write",
            "app",
            &write_file(dir.path(), "p2.hcl", &wider),
        ],
    )
    .ok();
    bao(&t, &["kv", "get", "kv/other/x"]).ok();
    bao(&root, &["policy", "delete", "app"]).ok();
    bao(&t, &["kv", "get", "kv/app/db"]).fails(2, "Code: 403");
}

#[test]
fn the_issue_policy_allows_exactly_what_it_says() {
    let (server, root, _) = Server::start_unsealed();
    let dir = tempfile::tempdir().expect("tmp");
    let bao = |token: &str, args: &[&str]| server.bao(Some(token), args);
    bao(
        &root,
        &["secrets", "enable", "-path=kv", "-version=2", "kv"],
    )
    .ok();
    api(&server, &root).wait_kv_v2_ready("kv");
    bao(&root, &["kv", "put", "kv/app/db", "password=s3cret"]).ok();
    let policy = r#"path "sys/health"             { capabilities = ["read"] }
path "sys/mounts"             { capabilities = ["read"] }
path "sys/capabilities-self"  { capabilities = ["update"] }
path "auth/userpass/users"       { capabilities = ["list"] }
path "auth/userpass/users/*"     { capabilities = ["create","update","read","delete"] }
path "sys/policies/acl/apono-*"  { capabilities = ["create","update","read","delete","list"] }
path "kv/metadata/*"             { capabilities = ["read","list"] }
path "transit/keys"              { capabilities = ["list"] }
"#;
    bao(
        &root,
        &[
            "policy",
            "write",
            "broker",
            &write_file(dir.path(), "b.hcl", policy),
        ],
    )
    .ok();
    let t = token_of(bao(
        &root,
        &[
            "token",
            "create",
            "-policy=broker",
            "-no-default-policy",
            "-format=json",
        ],
    ));
    let a = api(&server, &t);
    let denied = |method: &str, path: &str, body: &str| {
        let r = a.call(method, path, body);
        assert_eq!(
            r.status, 403,
            "{method} {path} should be denied: {}",
            r.body
        );
    };
    let allowed = |method: &str, path: &str, body: &str| {
        let r = a.call(method, path, body);
        assert_ne!(
            r.status, 403,
            "{method} {path} should be allowed: {}",
            r.body
        );
    };
    // Capabilities, as the broker asks for them.
    let caps = |path: &str| {
        a.post("sys/capabilities-self", &json!({"paths": [path]}))
            .expect(200)["data"][path]
            .clone()
    };
    let expect_caps: &[(&str, serde_json::Value)] = &[
        ("sys/health", json!(["read"])),
        ("sys/mounts", json!(["read"])),
        ("sys/mounts/kv", json!(["deny"])),
        ("sys/capabilities-self", json!(["update"])),
        ("sys/capabilities", json!(["deny"])),
        ("auth/userpass/users", json!(["list"])),
        (
            "auth/userpass/users/bob",
            json!(["create", "delete", "read", "update"]),
        ),
        (
            "auth/userpass/users/bob/x",
            json!(["create", "delete", "read", "update"]),
        ),
        ("auth/userpass/login/bob", json!(["deny"])),
        (
            "sys/policies/acl/apono-1",
            json!(["create", "delete", "list", "read", "update"]),
        ),
        (
            "sys/policies/acl/apono-",
            json!(["create", "delete", "list", "read", "update"]),
        ),
        ("sys/policies/acl/default", json!(["deny"])),
        ("sys/policies/acl", json!(["deny"])),
        ("kv/metadata/app/db", json!(["list", "read"])),
        ("kv/metadata/", json!(["list", "read"])),
        ("kv/metadata", json!(["deny"])),
        ("kv/data/app/db", json!(["deny"])),
        ("transit/keys", json!(["list"])),
        ("transit/keys/k1", json!(["deny"])),
        ("transit/encrypt/k1", json!(["deny"])),
    ];
    for (path, want) in expect_caps {
        assert_eq!(&caps(path), want, "capabilities on {path}");
    }
    // And the requests themselves.
    allowed("GET", "sys/health", "");
    allowed("GET", "sys/mounts", "");
    denied("POST", "sys/mounts/other", r#"{"type":"kv"}"#);
    denied("GET", "sys/mounts/kv/tune", "");
    allowed("LIST", "auth/userpass/users", "");
    denied("GET", "auth/userpass/users", "");
    allowed("POST", "auth/userpass/users/bob", r#"{"password":"x"}"#);
    allowed("GET", "auth/userpass/users/bob", "");
    allowed("DELETE", "auth/userpass/users/bob", "");
    denied("LIST", "auth/userpass/users/bob", "");
    denied("POST", "auth/userpass/login/bob", r#"{"password":"x"}"#);
    let pol = r#"{"policy":"path \"kv/data/app/db\" {\n capabilities = [\"read\"]\n}"}"#;
    assert_eq!(a.call("PUT", "sys/policies/acl/apono-42", pol).status, 204);
    assert_eq!(
        a.get("sys/policies/acl/apono-42").expect(200)["data"]["name"],
        "apono-42"
    );
    allowed("LIST", "sys/policies/acl/apono-", "");
    denied("LIST", "sys/policies/acl", "");
    denied("PUT", "sys/policies/acl/other", pol);
    denied("GET", "sys/policies/acl/default", "");
    assert_eq!(a.delete("sys/policies/acl/apono-42").status, 204);
    allowed("GET", "kv/metadata/app/db", "");
    allowed("LIST", "kv/metadata/app", "");
    allowed("LIST", "kv/metadata", "");
    denied("GET", "kv/data/app/db", "");
    denied("POST", "kv/metadata/app/db", r#"{"max_versions":1}"#);
    denied("DELETE", "kv/metadata/app/db", "");
    allowed("LIST", "transit/keys", "");
    denied("GET", "transit/keys/k1", "");
    denied("POST", "transit/keys/k1", "");
    denied("GET", "auth/token/lookup-self", "");
}

#[test]
fn token_lifecycle_with_the_cli() {
    let (server, root, _) = Server::start_unsealed();
    let dir = tempfile::tempdir().expect("tmp");
    let bao = |token: &str, args: &[&str]| server.bao(Some(token), args);
    let p = "path \"auth/token/create\" {\n  capabilities = [\"update\"]\n}\npath \"sys/health\" {\n  capabilities = [\"read\"]\n}\n";
    bao(
        &root,
        &[
            "policy",
            "write",
            "creator",
            &write_file(dir.path(), "c.hcl", p),
        ],
    )
    .ok();

    // create -policy -ttl, lookup, renew, capabilities
    let created = bao(
        &root,
        &[
            "token",
            "create",
            "-policy=creator",
            "-ttl=1h",
            "-display-name=App X",
            "-metadata=team=a",
            "-format=json",
        ],
    )
    .ok()
    .json();
    let auth = &created["auth"];
    assert_eq!(auth["policies"], json!(["creator", "default"]));
    assert_eq!(auth["lease_duration"], 3600);
    assert_eq!(auth["renewable"], true);
    assert_eq!(auth["orphan"], false);
    assert_eq!(auth["metadata"], json!({"team": "a"}));
    let t = auth["client_token"].as_str().expect("token").to_owned();
    assert!(t.starts_with("s.") && t.len() == 26, "{t}");
    let accessor = auth["accessor"].as_str().expect("accessor").to_owned();
    let me = bao(&t, &["token", "lookup", "-format=json"]).ok().json();
    let d = &me["data"];
    assert_eq!(d["id"], t);
    assert_eq!(d["display_name"], "token-App-X");
    assert_eq!(d["path"], "auth/token/create");
    assert_eq!(d["creation_ttl"], 3600);
    assert_eq!(d["policies"], json!(["creator", "default"]));
    common::assert_nano_time(&d["expire_time"]);
    let by_accessor = bao(
        &root,
        &["token", "lookup", "-format=json", "-accessor", &accessor],
    )
    .ok()
    .json();
    assert_eq!(by_accessor["data"]["id"], "");
    assert_eq!(by_accessor["data"]["accessor"], accessor.as_str());
    let renewed = bao(&t, &["token", "renew", "-increment=10m", "-format=json"])
        .ok()
        .json();
    assert_eq!(renewed["auth"]["lease_duration"], 600);
    bao(&root, &["token", "renew", &t]).ok();
    assert_eq!(
        bao(&t, &["token", "capabilities", "auth/token/create"])
            .ok()
            .stdout
            .trim(),
        "update"
    );
    assert_eq!(
        bao(&root, &["token", "capabilities", "kv/x"])
            .ok()
            .stdout
            .trim(),
        "root"
    );
    // The root token from init never expires and cannot be renewed.
    bao(&root, &["token", "renew"]).fails(2, "invalid lease ID");

    // A child may not get policies its parent lacks.
    bao(&t, &["token", "create", "-policy=root"]).fails(2, "Code: 400");
    bao(&t, &["token", "create", "-policy=other"])
        .fails(2, "child policies must be subset of parent");
    // Orphans need root or sudo.
    bao(&t, &["token", "create", "-orphan", "-policy=creator"]).fails(2, "Code: 400");

    // The tree: a parent's revocation takes children and grandchildren, not orphans.
    let child = token_of(bao(
        &t,
        &["token", "create", "-policy=creator", "-format=json"],
    ));
    let grandchild = token_of(bao(
        &child,
        &["token", "create", "-policy=creator", "-format=json"],
    ));
    let orphan = token_of(bao(
        &root,
        &[
            "token",
            "create",
            "-orphan",
            "-policy=creator",
            "-format=json",
        ],
    ));
    let orphan_child = token_of(bao(
        &orphan,
        &["token", "create", "-policy=creator", "-format=json"],
    ));
    assert_eq!(
        bao(&orphan, &["token", "lookup", "-format=json"])
            .ok()
            .json()["data"]["orphan"],
        true
    );
    bao(&root, &["token", "revoke", &t]).ok();
    for gone in [&t, &child, &grandchild] {
        bao(gone, &["token", "lookup"]).fails(2, "Code: 403");
    }
    bao(&orphan, &["token", "lookup"]).ok();
    // revoke -mode=orphan: the children stay, now orphans.
    bao(&root, &["token", "revoke", "-mode=orphan", &orphan]).ok();
    bao(&orphan, &["token", "lookup"]).fails(2, "Code: 403");
    let survivor = bao(&orphan_child, &["token", "lookup", "-format=json"])
        .ok()
        .json();
    assert_eq!(survivor["data"]["orphan"], true);
    bao(
        &root,
        &[
            "token",
            "revoke",
            "-accessor",
            survivor["data"]["accessor"].as_str().expect("acc"),
        ],
    )
    .ok();
    bao(&orphan_child, &["token", "lookup"]).fails(2, "Code: 403");

    // -use-limit=2: each lookup-self spends a use; the third request is refused.
    let limited = token_of(bao(
        &root,
        &[
            "token",
            "create",
            "-use-limit=2",
            "-policy=creator",
            "-format=json",
        ],
    ));
    let first = bao(&limited, &["token", "lookup", "-format=json"])
        .ok()
        .json();
    assert_eq!(first["data"]["num_uses"], 1);
    // sys/health is unauthenticated: it spends no use.
    bao(&limited, &["read", "sys/health"]).ok();
    let last = bao(&limited, &["token", "lookup", "-format=json"])
        .ok()
        .json();
    // The request that spends the last use sees -1: revocation is pending.
    assert_eq!(last["data"]["num_uses"], -1);
    api(&server, &limited)
        .get("auth/token/lookup-self")
        .expect_errors(403, &["permission denied"]);

    // -period: renewals go back to the period.
    let periodic = token_of(bao(
        &root,
        &[
            "token",
            "create",
            "-period=30m",
            "-policy=creator",
            "-format=json",
        ],
    ));
    let r = bao(
        &periodic,
        &["token", "renew", "-increment=5h", "-format=json"],
    )
    .ok()
    .json();
    assert_eq!(r["auth"]["lease_duration"], 1800);
    // -explicit-max-ttl caps renewals.
    let capped = token_of(bao(
        &root,
        &[
            "token",
            "create",
            "-ttl=10m",
            "-explicit-max-ttl=20m",
            "-policy=creator",
            "-format=json",
        ],
    ));
    let r = bao(
        &capped,
        &["token", "renew", "-increment=1h", "-format=json"],
    )
    .ok()
    .json();
    let lease = r["auth"]["lease_duration"].as_u64().expect("lease");
    assert!((1190..=1200).contains(&lease), "{lease}");

    // Expiry: a 2 s token is refused once its TTL ran out.
    let short = token_of(bao(
        &root,
        &[
            "token",
            "create",
            "-ttl=2s",
            "-policy=creator",
            "-format=json",
        ],
    ));
    bao(&short, &["token", "lookup"]).ok();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = api(&server, &short).get("auth/token/lookup-self");
        if r.status == 403 {
            r.expect_errors(403, &["permission denied"]);
            break;
        }
        assert!(Instant::now() < deadline, "the 2 s token still works");
        std::thread::sleep(Duration::from_millis(250));
    }

    // Token roles.
    bao(
        &root,
        &[
            "write",
            "auth/token/roles/app",
            "allowed_policies=creator",
            "orphan=true",
            "token_explicit_max_ttl=1h",
        ],
    )
    .ok();
    let role = bao(&root, &["read", "-format=json", "auth/token/roles/app"])
        .ok()
        .json();
    assert_eq!(role["data"]["allowed_policies"], json!(["creator"]));
    assert_eq!(role["data"]["orphan"], true);
    assert_eq!(role["data"]["token_explicit_max_ttl"], 3600);
    let from_role = bao(&root, &["token", "create", "-role=app", "-format=json"])
        .ok()
        .json();
    assert_eq!(from_role["auth"]["orphan"], true);
    assert_eq!(from_role["auth"]["policies"], json!(["creator", "default"]));
    assert_eq!(from_role["auth"]["lease_duration"], 3600);
    bao(&root, &["token", "create", "-role=app", "-policy=other"])
        .fails(2, "must be subset of the role's allowed policies");
    let roles = api(&server, &root).list("auth/token/roles").expect(200);
    assert_eq!(roles["data"]["keys"], json!(["app"]));
    let accessors = api(&server, &root).list("auth/token/accessors").expect(200);
    assert!(accessors["data"]["keys"].as_array().expect("keys").len() >= 2);
}

#[test]
fn wrapping_and_cubbyhole() {
    let (server, root, _) = Server::start_unsealed();
    let bao = |token: &str, args: &[&str]| server.bao(Some(token), args);
    bao(
        &root,
        &["secrets", "enable", "-path=kv", "-version=2", "kv"],
    )
    .ok();
    api(&server, &root).wait_kv_v2_ready("kv");
    bao(&root, &["kv", "put", "kv/app", "pw=s3cret"]).ok();

    let wrapped = bao(
        &root,
        &["kv", "get", "-wrap-ttl=5m", "-format=json", "kv/app"],
    )
    .ok()
    .json();
    assert_eq!(wrapped["request_id"], "");
    let info = &wrapped["wrap_info"];
    assert_eq!(info["ttl"], 300);
    assert_eq!(info["creation_path"], "kv/data/app");
    let w = info["token"].as_str().expect("wrap token").to_owned();
    let looked = api(&server, &root)
        .post("sys/wrapping/lookup", &json!({"token": w}))
        .expect(200);
    assert_eq!(looked["data"]["creation_path"], "kv/data/app");
    assert_eq!(looked["data"]["creation_ttl"], 300);
    let out = bao(&root, &["unwrap", "-format=json", &w]).ok().json();
    assert_eq!(out["data"]["data"]["pw"], "s3cret");
    bao(&root, &["unwrap", &w]).fails(2, "wrapping token is not valid or does not exist");

    // Unwrapping with the wrapping token itself, no body (as Kong does).
    let w2 = bao(
        &root,
        &["kv", "get", "-wrap-ttl=1m", "-format=json", "kv/app"],
    )
    .ok()
    .json()["wrap_info"]["token"]
        .as_str()
        .expect("t")
        .to_owned();
    let r = api(&server, &w2)
        .call("PUT", "sys/wrapping/unwrap", "")
        .expect(200);
    assert_eq!(r["data"]["data"]["pw"], "s3cret");
    api(&server, &w2)
        .call("PUT", "sys/wrapping/unwrap", "")
        .expect_errors(400, &["wrapping token is not valid or does not exist"]);

    // A wrapped token creation unwraps to an auth block; rewrap gives a new token.
    let w3 = bao(
        &root,
        &[
            "token",
            "create",
            "-wrap-ttl=2m",
            "-policy=default",
            "-format=json",
        ],
    )
    .ok()
    .json();
    let w3_info = &w3["wrap_info"];
    assert!(!w3_info["wrapped_accessor"]
        .as_str()
        .unwrap_or_default()
        .is_empty());
    let old = w3_info["token"].as_str().expect("t").to_owned();
    let rewrapped = api(&server, &root)
        .post("sys/wrapping/rewrap", &json!({"token": old}))
        .expect(200);
    let new = rewrapped["wrap_info"]["token"]
        .as_str()
        .expect("t")
        .to_owned();
    assert_ne!(new, old);
    bao(&root, &["unwrap", &old]).fails(2, "wrapping token is not valid or does not exist");
    let unwrapped = bao(&root, &["unwrap", "-format=json", &new]).ok().json();
    let minted = unwrapped["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_owned();
    bao(&minted, &["token", "lookup"]).ok();

    // sys/wrapping/wrap needs a wrap TTL.
    api(&server, &root)
        .post("sys/wrapping/wrap", &json!({"a": "b"}))
        .expect_errors(400, &["endpoint requires response wrapping to be used"]);
    let w4 = bao(
        &root,
        &[
            "write",
            "-wrap-ttl=1m",
            "-format=json",
            "sys/wrapping/wrap",
            "a=b",
        ],
    )
    .ok()
    .json();
    let t4 = w4["wrap_info"]["token"].as_str().expect("t").to_owned();
    assert_eq!(
        bao(&root, &["unwrap", "-format=json", &t4]).ok().json()["data"]["a"],
        "b"
    );

    // Each token has its own cubbyhole.
    let other = token_of(bao(
        &root,
        &["token", "create", "-policy=default", "-format=json"],
    ));
    bao(&root, &["write", "cubbyhole/x", "a=b"]).ok();
    assert_eq!(
        bao(&root, &["read", "-field=a", "cubbyhole/x"])
            .ok()
            .stdout
            .trim(),
        "b"
    );
    bao(&other, &["read", "cubbyhole/x"]).fails(2, "No value found at cubbyhole/x");
    bao(&other, &["write", "cubbyhole/x", "c=d"]).ok();
    assert_eq!(
        bao(&other, &["read", "-field=c", "cubbyhole/x"])
            .ok()
            .stdout
            .trim(),
        "d"
    );
    assert_eq!(
        bao(&root, &["read", "-field=a", "cubbyhole/x"])
            .ok()
            .stdout
            .trim(),
        "b"
    );
}

#[test]
fn hvac_tokens_policies_and_wrapping() {
    let (server, root, _) = Server::start_unsealed();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tokens_hvac.py");
    let out = std::process::Command::new(common::python())
        .arg(script)
        .arg(server.addr())
        .arg(&root)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "hvac script failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

//! Tokens, response wrapping and cubbyhole end to end, with the real `bao` CLI and hvac:
//! `bao token create/lookup/renew/revoke/capabilities`, the parent/child tree, use limits,
//! expiry, token roles, accessors, token leases, `bao unwrap` and `sys/wrapping/*`, and
//! `tests/tokens_hvac.py`. (Policies themselves: tests/policies.rs.)
//!
//! Every expectation holds on a real OpenBao 2.7.2 too: `E2E_SERVER=openbao cargo test
//! --test tokens` runs the same scenarios against `bao server`.

mod common;

use std::time::{Duration, Instant};

use common::{BaoRun, Server};
use serde_json::{json, Value};

/// A policy that lets a token create children and read sys/health; the default policy gives
/// lookup-self, renew-self, revoke-self, capabilities-self and cubbyhole.
const CREATOR: &str = "path \"auth/token/create\" {\n  capabilities = [\"update\"]\n}\n";

fn started() -> (Server, String) {
    let (server, root, _) = Server::start_unsealed();
    server.write_policy(&root, "creator", CREATOR);
    (server, root)
}

fn lookup_self(server: &Server, token: &str) -> Value {
    server
        .bao(Some(token), &["token", "lookup", "-format=json"])
        .ok()
        .json()["data"]
        .clone()
}

/// The token no longer works: lookup-self is the invalid-token 403.
#[track_caller]
fn assert_gone(server: &Server, token: &str) {
    server
        .api(token)
        .get("auth/token/lookup-self")
        .expect_bad_token();
}

fn str_of(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

#[test]
fn create_with_every_flag_and_look_it_up() {
    let (server, root) = started();
    let bao = |token: &str, args: &[&str]| server.bao(Some(token), args);

    let auth = server.create_token(
        &root,
        &[
            "-policy=creator",
            "-ttl=1h",
            "-display-name=App X",
            "-metadata=team=a",
            "-metadata=env=prod",
        ],
    );
    assert_eq!(auth["policies"], json!(["creator", "default"]));
    assert_eq!(auth["token_policies"], json!(["creator", "default"]));
    assert_eq!(auth["lease_duration"], 3600);
    assert_eq!(auth["renewable"], true);
    assert_eq!(auth["orphan"], false);
    assert_eq!(auth["metadata"], json!({"team": "a", "env": "prod"}));
    let t = str_of(&auth["client_token"]);
    assert!(t.starts_with("s.") && t.len() == 26, "{t}");
    let accessor = str_of(&auth["accessor"]);
    assert_eq!(accessor.len(), 24, "{accessor}");

    // lookup (self): what the token says about itself.
    let d = lookup_self(&server, &t);
    assert_eq!(d["id"], t);
    assert_eq!(d["accessor"], accessor);
    assert_eq!(d["display_name"], "token-App-X");
    assert_eq!(d["path"], "auth/token/create");
    assert_eq!(d["creation_ttl"], 3600);
    assert!(
        (3590..=3600).contains(&d["ttl"].as_u64().expect("ttl")),
        "{d}"
    );
    assert_eq!(d["explicit_max_ttl"], 0);
    assert_eq!(d["num_uses"], 0);
    assert_eq!(d["orphan"], false);
    assert_eq!(d["renewable"], true);
    assert_eq!(d["type"], "service");
    assert_eq!(d["meta"], json!({"team": "a", "env": "prod"}));
    assert_eq!(d["policies"], json!(["creator", "default"]));
    assert_eq!(d["entity_id"], "");
    common::assert_nano_time(&d["expire_time"]);
    common::assert_nano_time(&d["issue_time"]);
    assert!(
        d.get("period").is_none() && d.get("last_renewal").is_none(),
        "{d}"
    );

    // lookup by token (root asks about t) and by accessor (no id then).
    let other = bao(&root, &["token", "lookup", "-format=json", &t])
        .ok()
        .json();
    assert_eq!(other["data"]["id"], t);
    assert_eq!(other["data"]["display_name"], "token-App-X");
    let by_acc = bao(
        &root,
        &["token", "lookup", "-format=json", "-accessor", &accessor],
    )
    .ok()
    .json();
    assert_eq!(by_acc["data"]["id"], "");
    assert_eq!(by_acc["data"]["accessor"], accessor);
    assert_eq!(by_acc["data"]["policies"], json!(["creator", "default"]));
    let api = server.api(&root);
    let raw = api
        .post("auth/token/lookup-accessor", &json!({"accessor": accessor}))
        .expect(200);
    assert_eq!(raw["data"]["id"], "");
    assert_eq!(raw["data"]["display_name"], "token-App-X");
    api.post(
        "auth/token/lookup-accessor",
        &json!({"accessor": "nonexistent000000000000"}),
    )
    .expect_errors(400, &["1 error occurred:\n\t* invalid accessor\n\n"]);
    api.post(
        "auth/token/lookup",
        &json!({"token": "s.nonexistent000000000000"}),
    )
    .expect_errors(403, &["bad token"]);
    // The default policy does not let t look up other tokens.
    server
        .api(&t)
        .post("auth/token/lookup", &json!({"token": root}))
        .expect_acl_denied();

    // The raw create answer: auth block fields the CLI does not print.
    let created = api
        .post(
            "auth/token/create",
            &json!({"policies": ["creator"], "ttl": "1h", "num_uses": 5}),
        )
        .expect(200);
    assert_eq!(created["data"], Value::Null);
    assert_eq!(created["auth"]["token_type"], "service");
    assert_eq!(created["auth"]["num_uses"], 5);
    assert_eq!(created["auth"]["entity_id"], "");
    assert_eq!(created["auth"]["mfa_requirement"], Value::Null);
    assert_eq!(created["auth"]["metadata"], Value::Null);

    // -orphan (root): no parent.
    let orphan = server.create_token(&root, &["-orphan", "-policy=creator"]);
    assert_eq!(orphan["orphan"], true);
    assert_eq!(
        lookup_self(&server, &str_of(&orphan["client_token"]))["orphan"],
        true
    );
    // -period: a periodic token shows its period.
    let periodic = server.new_token(&root, &["-period=30m", "-policy=creator"]);
    let d = lookup_self(&server, &periodic);
    assert_eq!(d["period"], 1800);
    assert_eq!(d["creation_ttl"], 1800);
    // -explicit-max-ttl below -ttl: the TTL is capped at creation, with a warning.
    let run = bao(
        &root,
        &[
            "token",
            "create",
            "-format=json",
            "-policy=creator",
            "-ttl=1h",
            "-explicit-max-ttl=20m",
        ],
    )
    .ok()
    .json();
    assert_eq!(run["auth"]["lease_duration"], 1200);
    assert_eq!(
        run["warnings"],
        json!(["TTL of \"1h\" exceeded the effective max_ttl of \"20m\"; TTL value is capped accordingly"])
    );
    let capped = lookup_self(&server, &str_of(&run["auth"]["client_token"]));
    assert_eq!(capped["explicit_max_ttl"], 1200);
    // Root without policies: the child inherits root.
    let rooty = server.create_token(&root, &[]);
    assert_eq!(rooty["policies"], json!(["root"]));
    // A policy that does not exist is accepted, with a warning.
    let r = api
        .post("auth/token/create", &json!({"policies": ["nosuch"]}))
        .expect(200);
    assert_eq!(r["warnings"], json!(["Policy \"nosuch\" does not exist"]));
    api.post("auth/token/create", &json!({"num_uses": -1}))
        .expect_errors(400, &["number of uses cannot be negative"]);

    // A non-root parent: subset of its own policies, no orphans, no custom ids.
    let t2 = server.new_token(&root, &["-policy=creator"]);
    bao(&t2, &["token", "create", "-policy=other"])
        .fails(2, "child policies must be subset of parent");
    bao(&t2, &["token", "create", "-policy=root"])
        .fails(2, "child policies must be subset of parent");
    bao(&t2, &["token", "create", "-orphan", "-policy=creator"])
        .fails(2, "root or sudo privileges required to create orphan token");
    server
        .api(&t2)
        .post(
            "auth/token/create",
            &json!({"id": "custom-1", "policies": ["creator"]}),
        )
        .expect_errors(
            400,
            &["root or sudo privileges required to specify token id"],
        );
    let child = server.create_token(&t2, &["-policy=creator"]);
    assert_eq!(child["policies"], json!(["creator", "default"]));
    // Without -policy a child gets its parent's policies.
    let child2 = server.create_token(&t2, &[]);
    assert_eq!(child2["policies"], json!(["creator", "default"]));
}

#[test]
fn renewal() {
    let (server, root) = started();
    let bao = |token: &str, args: &[&str]| server.bao(Some(token), args);
    let lease = |v: &Value| {
        v["auth"]["lease_duration"]
            .as_u64()
            .expect("lease_duration")
    };

    // renew self, with and without -increment.
    let t = server.new_token(&root, &["-policy=creator", "-ttl=1h"]);
    let r = bao(&t, &["token", "renew", "-increment=10m", "-format=json"])
        .ok()
        .json();
    assert_eq!(lease(&r), 600);
    assert_eq!(r["auth"]["client_token"], t);
    let d = lookup_self(&server, &t);
    assert!(
        (590..=600).contains(&d["ttl"].as_u64().expect("ttl")),
        "{d}"
    );
    common::assert_nano_time(&d["last_renewal"]);
    assert!(d["last_renewal_time"].is_u64(), "{d}");
    // Without an increment: the TTL of the last renewal again (not the creation TTL).
    let r = bao(&t, &["token", "renew", "-format=json"]).ok().json();
    assert_eq!(lease(&r), 600);

    // renew another token (root renews t), with -increment.
    let r = bao(
        &root,
        &["token", "renew", "-increment=20m", "-format=json", &t],
    )
    .ok()
    .json();
    assert_eq!(lease(&r), 1200);
    assert_eq!(r["auth"]["client_token"], t);
    bao(&root, &["token", "renew", &t]).ok();
    server
        .api(&root)
        .post(
            "auth/token/renew",
            &json!({"token": "s.nonexistent000000000000"}),
        )
        .expect_errors(400, &["token not found"]);

    // Periodic: every renewal goes back to the period, whatever the increment.
    let periodic = server.new_token(&root, &["-period=30m", "-policy=creator"]);
    for inc in ["-increment=5h", "-increment=1m"] {
        let r = bao(&periodic, &["token", "renew", inc, "-format=json"])
            .ok()
            .json();
        assert_eq!(lease(&r), 1800, "{inc}");
        assert_eq!(r["warnings"], Value::Null);
    }

    // -explicit-max-ttl caps renewals, with a warning.
    let capped = server.new_token(
        &root,
        &["-ttl=10m", "-explicit-max-ttl=20m", "-policy=creator"],
    );
    let r = bao(
        &capped,
        &["token", "renew", "-increment=1h", "-format=json"],
    )
    .ok()
    .json();
    assert!((1190..=1200).contains(&lease(&r)), "{r}");
    let w = str_of(&r["warnings"][0]);
    assert!(
        w.starts_with("TTL of \"1h\" exceeded the effective max_ttl of \"")
            && w.ends_with("\"; TTL value is capped accordingly"),
        "{w}"
    );

    // Not renewable.
    let fixed = server.new_token(&root, &["-renewable=false", "-ttl=1h", "-policy=creator"]);
    bao(&fixed, &["token", "renew"]).fails(2, "lease is not renewable");
    server
        .api(&root)
        .post("auth/token/renew", &json!({"token": fixed}))
        .expect_errors(400, &["lease is not renewable"]);
    // The root token from init never expires and cannot be renewed.
    let me = lookup_self(&server, &root);
    assert_eq!(me["path"], "auth/token/root");
    assert_eq!(me["ttl"], 0);
    assert_eq!(me["expire_time"], Value::Null);
    bao(&root, &["token", "renew"]).fails(2, "invalid lease ID");
}

#[test]
fn revocation_and_the_token_tree() {
    let (server, root) = started();
    let bao = |token: &str, args: &[&str]| server.bao(Some(token), args);

    // The tree: a parent's revocation takes children and grandchildren, never orphans.
    let parent = server.new_token(&root, &["-policy=creator"]);
    let child = server.new_token(&parent, &["-policy=creator"]);
    let grandchild = server.new_token(&child, &["-policy=creator"]);
    let sibling = server.new_token(&root, &["-policy=creator"]);
    let orphan = server.new_token(&root, &["-orphan", "-policy=creator"]);
    let orphan_child = server.new_token(&orphan, &["-policy=creator"]);
    let create_orphan = server.api(&parent).post(
        "auth/token/create-orphan",
        &json!({"policies": ["creator"]}),
    );
    // create-orphan needs only update on its path; the parent's policy lacks it.
    create_orphan.expect_acl_denied();
    let run = bao(&root, &["token", "revoke", &parent]).ok();
    assert!(
        run.stdout
            .contains("Success! Revoked token (if it existed)"),
        "{}",
        run.stdout
    );
    for gone in [&parent, &child, &grandchild] {
        assert_gone(&server, gone);
        bao(gone, &["token", "lookup"]).fails(2, "Code: 403");
    }
    lookup_self(&server, &sibling);
    lookup_self(&server, &orphan);
    lookup_self(&server, &orphan_child);
    // Revoking again, or a token that never existed: still 204.
    bao(&root, &["token", "revoke", &parent]).ok();
    assert_eq!(
        server
            .api(&root)
            .post(
                "auth/token/revoke",
                &json!({"token": "s.nonexistent000000000000"})
            )
            .status,
        204
    );

    // -mode=orphan: the token goes, its children stay, now orphans.
    let mid = server.new_token(&root, &["-policy=creator"]);
    let kid = server.new_token(&mid, &["-policy=creator"]);
    let grandkid = server.new_token(&kid, &["-policy=creator"]);
    assert_eq!(lookup_self(&server, &kid)["orphan"], false);
    bao(&root, &["token", "revoke", "-mode=orphan", &mid]).ok();
    assert_gone(&server, &mid);
    assert_eq!(lookup_self(&server, &kid)["orphan"], true);
    // The grandchild keeps its parent (kid), so it is not an orphan; kid's revocation takes it.
    assert_eq!(lookup_self(&server, &grandkid)["orphan"], false);
    bao(&root, &["token", "revoke", &kid]).ok();
    assert_gone(&server, &grandkid);
    // revoke-orphan needs root or sudo, even with update on the path.
    server.write_policy(
        &root,
        "tokadmin",
        "path \"auth/token/*\" { capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"] }\n",
    );
    let admin = server.new_token(&root, &["-policy=tokadmin"]);
    let victim = server.new_token(&admin, &["-policy=tokadmin"]);
    bao(&admin, &["token", "revoke", "-mode=orphan", &victim])
        .fails(2, "root or sudo privileges required to revoke and orphan");
    server
        .api(&root)
        .post(
            "auth/token/revoke-orphan",
            &json!({"token": "s.nonexistent000000000000"}),
        )
        .expect_errors(400, &["token to revoke not found"]);
    // ... but create-orphan needs no sudo: update on the path suffices.
    let made = server
        .api(&admin)
        .post(
            "auth/token/create-orphan",
            &json!({"policies": ["tokadmin"]}),
        )
        .expect(200);
    assert_eq!(made["auth"]["orphan"], true);

    // -self
    let me = server.new_token(&root, &["-policy=creator"]);
    let my_child = server.new_token(&me, &["-policy=creator"]);
    let run = bao(&me, &["token", "revoke", "-self"]).ok();
    assert!(
        run.stdout
            .contains("Success! Revoked token (if it existed)"),
        "{}",
        run.stdout
    );
    assert_gone(&server, &me);
    assert_gone(&server, &my_child);

    // -accessor
    let by_acc = server.create_token(&root, &["-policy=creator"]);
    let acc_child = server.new_token(&str_of(&by_acc["client_token"]), &["-policy=creator"]);
    bao(
        &root,
        &["token", "revoke", "-accessor", &str_of(&by_acc["accessor"])],
    )
    .ok();
    assert_gone(&server, &str_of(&by_acc["client_token"]));
    assert_gone(&server, &acc_child);
    // An unknown accessor: 200 with a warning.
    let r = server
        .api(&root)
        .post(
            "auth/token/revoke-accessor",
            &json!({"accessor": "nonexistent000000000000"}),
        )
        .expect(200);
    assert_eq!(r["warnings"], json!(["No token found with this accessor"]));
    // The default policy does not grant revoking by accessor.
    let plain = server.create_token(&root, &["-policy=creator"]);
    server
        .api(&str_of(&plain["client_token"]))
        .post(
            "auth/token/revoke-accessor",
            &json!({"accessor": plain["accessor"]}),
        )
        .expect_acl_denied();
}

#[test]
fn use_limits_and_expiry() {
    let (server, root) = started();
    let bao = |token: &str, args: &[&str]| server.bao(Some(token), args);

    // -use-limit=2: exactly two requests; lookup-self counts as one.
    let auth = server.create_token(&root, &["-use-limit=2", "-policy=creator"]);
    let limited = str_of(&auth["client_token"]);
    let first = lookup_self(&server, &limited);
    assert_eq!(first["num_uses"], 1);
    // sys/health is unauthenticated: it spends no use.
    bao(&limited, &["read", "sys/health"]).ok();
    // The request that spends the last use sees -1 (revocation pending) and succeeds.
    let last = lookup_self(&server, &limited);
    assert_eq!(last["num_uses"], -1);
    // The third is refused: the token is gone.
    server
        .api(&limited)
        .get("auth/token/lookup-self")
        .expect_bad_token();
    bao(&limited, &["token", "lookup"]).fails(2, "permission denied");
    server
        .api(&root)
        .post(
            "auth/token/lookup-accessor",
            &json!({"accessor": auth["accessor"]}),
        )
        .expect_errors(400, &["1 error occurred:\n\t* invalid accessor\n\n"]);

    // A request the ACL denies still spends a use; a token with a use limit has no children.
    let three = server.new_token(&root, &["-use-limit=3", "-policy=creator"]);
    server
        .api(&three)
        .post("auth/token/create", &json!({"policies": ["creator"]}))
        .expect_errors(400, &["restricted use token cannot generate child tokens"]);
    server.api(&three).get("sys/mounts").expect_acl_denied();
    assert_eq!(lookup_self(&server, &three)["num_uses"], -1);
    assert_gone(&server, &three);

    // Expiry: a 2 s token is refused once its TTL ran out (the one place with a short wait).
    let short = server.new_token(&root, &["-ttl=2s", "-policy=creator"]);
    let d = lookup_self(&server, &short);
    assert!(d["ttl"].as_u64().expect("ttl") <= 2, "{d}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = server.api(&short).get("auth/token/lookup-self");
        if r.status == 403 {
            r.expect_bad_token();
            break;
        }
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            Instant::now() < deadline,
            "the 2 s token still works after 15 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    bao(&short, &["token", "lookup"]).fails(2, "permission denied");
}

#[test]
fn token_roles() {
    let (server, root) = started();
    let bao = |token: &str, args: &[&str]| server.bao(Some(token), args);
    let api = server.api(&root);

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
    assert_eq!(
        role["data"],
        json!({
            "allowed_entity_aliases": null,
            "allowed_policies": ["creator"],
            "allowed_policies_glob": [],
            "disallowed_policies": [],
            "disallowed_policies_glob": [],
            "explicit_max_ttl": 0,
            "name": "app",
            "orphan": true,
            "path_suffix": "",
            "period": 0,
            "renewable": true,
            "token_explicit_max_ttl": 3600,
            "token_no_default_policy": false,
            "token_period": 0,
            "token_type": "default-service"
        })
    );

    // The role's token: orphan, the role's policies, TTL capped at the role's max.
    let run = bao(&root, &["token", "create", "-role=app", "-format=json"])
        .ok()
        .json();
    assert_eq!(run["auth"]["orphan"], true);
    assert_eq!(run["auth"]["policies"], json!(["creator", "default"]));
    assert_eq!(run["auth"]["lease_duration"], 3600);
    assert_eq!(
        run["warnings"],
        json!(["TTL of \"768h\" exceeded the effective max_ttl of \"1h\"; TTL value is capped accordingly"])
    );
    let t = str_of(&run["auth"]["client_token"]);
    let d = lookup_self(&server, &t);
    assert_eq!(d["path"], "auth/token/create/app");
    assert_eq!(d["role"], "app");
    assert_eq!(d["orphan"], true);
    let run = bao(
        &root,
        &["token", "create", "-role=app", "-ttl=2h", "-format=json"],
    )
    .ok()
    .json();
    assert_eq!(run["auth"]["lease_duration"], 3600);
    assert_eq!(
        run["warnings"],
        json!(["TTL of \"2h\" exceeded the effective max_ttl of \"1h\"; TTL value is capped accordingly"])
    );
    // A renewal stays under the role's max too.
    let r = api
        .post("auth/token/renew", &json!({"token": t, "increment": "2h"}))
        .expect(200);
    assert!(
        (3590..=3600).contains(&r["auth"]["lease_duration"].as_u64().expect("lease")),
        "{r}"
    );
    assert!(
        str_of(&r["warnings"][0]).starts_with("TTL of \"2h\" exceeded the effective max_ttl of"),
        "{r}"
    );
    // A shorter TTL is taken as asked, without a warning.
    let run = bao(
        &root,
        &["token", "create", "-role=app", "-ttl=10m", "-format=json"],
    )
    .ok()
    .json();
    assert_eq!(run["auth"]["lease_duration"], 600);
    assert_eq!(run["warnings"], Value::Null);

    // Subset enforcement.
    bao(&root, &["token", "create", "-role=app", "-policy=other"]).fails(
        2,
        "token policies ([\"default\" \"other\"]) must be subset of the role's allowed policies ([\"creator\" \"default\"]) or glob policies ([])",
    );
    api.post("auth/token/create/app", &json!({"policies": ["other"]}))
        .expect_errors(
            400,
            &["token policies ([\"default\" \"other\"]) must be subset of the role's allowed policies ([\"creator\" \"default\"]) or glob policies ([])"],
        );
    bao(&root, &["token", "create", "-role=nosuch"]).fails(2, "unknown role nosuch");

    // List, delete.
    bao(
        &root,
        &[
            "write",
            "auth/token/roles/second",
            "allowed_policies=default",
        ],
    )
    .ok();
    assert_eq!(
        api.list("auth/token/roles").expect(200)["data"]["keys"],
        json!(["app", "second"])
    );
    assert_eq!(api.delete("auth/token/roles/second").status, 204);
    api.get("auth/token/roles/second").expect_errors(404, &[]);
    assert_eq!(api.delete("auth/token/roles/nosuch").status, 204);
    assert_eq!(
        api.list("auth/token/roles").expect(200)["data"]["keys"],
        json!(["app"])
    );
    // A plain token cannot use or read roles.
    let plain = server.new_token(&root, &["-policy=creator"]);
    server
        .api(&plain)
        .list("auth/token/roles")
        .expect_acl_denied();
    server
        .api(&plain)
        .post("auth/token/create/app", &json!({}))
        .expect_acl_denied();
}

#[test]
fn accessors_and_token_leases() {
    let (server, root) = started();
    let api = server.api(&root);

    // The one token with a TTL on this server: its lease is auth/token/create/<salted hash>.
    let auth = server.create_token(&root, &["-policy=creator", "-ttl=1h"]);
    let t = str_of(&auth["client_token"]);
    let keys = api.list("sys/leases/lookup/auth/token/create/").expect(200)["data"]["keys"].clone();
    let keys = keys.as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let key = str_of(&keys[0]);
    assert!(
        key.len() == 65 && key.starts_with('h') && key[1..].bytes().all(|b| b.is_ascii_hexdigit()),
        "a salted token id: {key}"
    );
    assert!(
        !key.contains(&t[2..]),
        "the lease id must not reveal the token"
    );
    let lease_id = format!("auth/token/create/{key}");
    let lease = api
        .put("sys/leases/lookup", &json!({"lease_id": lease_id}))
        .expect(200);
    let d = &lease["data"];
    assert_eq!(d["id"], lease_id.as_str());
    assert_eq!(d["path"], "auth/token/create");
    assert_eq!(d["renewable"], true);
    assert_eq!(d["last_renewal"], Value::Null);
    assert!(
        (3590..=3600).contains(&d["ttl"].as_u64().expect("ttl")),
        "{d}"
    );
    common::assert_nano_time(&d["expire_time"]);
    common::assert_nano_time(&d["issue_time"]);
    // The default policy allows the lookup, not the listing.
    server
        .api(&t)
        .put("sys/leases/lookup", &json!({"lease_id": lease_id}))
        .expect(200);
    server
        .api(&t)
        .list("sys/leases/lookup/auth/token/create/")
        .expect_acl_denied();
    api.put(
        "sys/leases/lookup",
        &json!({"lease_id": "auth/token/create/x"}),
    )
    .expect_errors(400, &["invalid lease"]);
    // Tokens renew through auth/token, not sys/leases.
    api.put(
        "sys/leases/renew",
        &json!({"lease_id": lease_id, "increment": 60}),
    )
    .expect_errors(400, &["tokens cannot be renewed through this endpoint"]);
    // A role's tokens sit under the role's path.
    server
        .bao(
            Some(&root),
            &["write", "auth/token/roles/r1", "allowed_policies=creator"],
        )
        .ok();
    let from_role = server.new_token(&root, &["-role=r1", "-ttl=1h"]);
    let role_keys =
        api.list("sys/leases/lookup/auth/token/create/").expect(200)["data"]["keys"].clone();
    assert!(
        role_keys.as_array().expect("keys").contains(&json!("r1/")),
        "{role_keys}"
    );
    let r1 = api
        .list("sys/leases/lookup/auth/token/create/r1/")
        .expect(200)["data"]["keys"][0]
        .clone();
    let r1_lease = format!("auth/token/create/r1/{}", str_of(&r1));
    assert_eq!(
        api.put("sys/leases/lookup", &json!({"lease_id": r1_lease}))
            .expect(200)["data"]["path"],
        "auth/token/create/r1"
    );
    // Revoking the lease revokes the token.
    assert_eq!(
        api.put("sys/leases/revoke", &json!({"lease_id": r1_lease}))
            .status,
        204
    );
    assert_gone(&server, &from_role);
    assert_eq!(
        api.put("sys/leases/revoke", &json!({"lease_id": lease_id}))
            .status,
        204
    );
    assert_gone(&server, &t);
    api.list("sys/leases/lookup/auth/token/create/")
        .expect_errors(404, &[]);

    // auth/token/accessors: LIST (sudo), every live token's accessor, root's included.
    let a1 = server.create_token(&root, &["-policy=creator"]);
    let a2 = server.create_token(&root, &["-policy=creator"]);
    let root_acc = lookup_self(&server, &root)["accessor"].clone();
    let listed = api.list("auth/token/accessors").expect(200)["data"]["keys"].clone();
    let listed = listed.as_array().expect("keys");
    for acc in [&a1["accessor"], &a2["accessor"], &root_acc] {
        assert!(listed.contains(acc), "{acc} not in {listed:?}");
    }
    assert!(
        !listed.contains(&auth["accessor"]),
        "a revoked token's accessor is listed"
    );
    assert_eq!(
        api.get("auth/token/accessors?list=true").expect(200)["data"]["keys"]
            .as_array()
            .expect("keys")
            .len(),
        listed.len()
    );
    // Not even list on the path suffices without sudo.
    server.write_policy(
        &root,
        "tokadmin",
        "path \"auth/token/*\" { capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"] }\n",
    );
    let admin = server.new_token(&root, &["-policy=tokadmin"]);
    server
        .api(&admin)
        .list("auth/token/accessors")
        .expect_acl_denied();
}

#[test]
fn token_capabilities() {
    let (server, root) = started();
    let bao = |token: &str, args: &[&str]| server.bao(Some(token), args);
    let t = server.new_token(&root, &["-policy=creator"]);

    // `bao token capabilities PATH`: sys/capabilities-self for the caller.
    assert_eq!(
        bao(&t, &["token", "capabilities", "auth/token/create"])
            .ok()
            .stdout
            .trim(),
        "update"
    );
    assert_eq!(
        bao(&t, &["token", "capabilities", "kv/x"])
            .ok()
            .stdout
            .trim(),
        "deny"
    );
    assert_eq!(
        bao(
            &t,
            &["token", "capabilities", "-format=json", "cubbyhole/x"]
        )
        .ok()
        .json(),
        json!(["create", "delete", "list", "read", "update"])
    );
    assert_eq!(
        bao(&root, &["token", "capabilities", "kv/x"])
            .ok()
            .stdout
            .trim(),
        "root"
    );
    // `bao token capabilities TOKEN PATH`: sys/capabilities, which root may ask.
    assert_eq!(
        bao(&root, &["token", "capabilities", &t, "auth/token/create"])
            .ok()
            .stdout
            .trim(),
        "update"
    );
    assert_eq!(
        bao(&root, &["token", "capabilities", &t, "sys/mounts"])
            .ok()
            .stdout
            .trim(),
        "deny"
    );
    let api = server.api(&root);
    let r = api
        .post(
            "sys/capabilities",
            &json!({"token": t, "paths": ["kv/x", "auth/token/create"]}),
        )
        .expect(200);
    assert_eq!(
        r["data"],
        json!({"kv/x": ["deny"], "auth/token/create": ["update"]})
    );
    assert_eq!(r["kv/x"], json!(["deny"]), "injected at the top level: {r}");
    api.post(
        "sys/capabilities",
        &json!({"token": "s.bogusbogusbogus000000000", "path": "kv/x"}),
    )
    .expect_errors(400, &["1 error occurred:\n\t* invalid token\n\n"]);
    // The default policy does not grant sys/capabilities (about other tokens).
    server
        .api(&t)
        .post("sys/capabilities", &json!({"token": t, "path": "kv/x"}))
        .expect_acl_denied();
    bao(&t, &["token", "capabilities", &root, "kv/x"]).fails(2, "Code: 403");
    // By accessor.
    let acc = lookup_self(&server, &t)["accessor"].clone();
    let r = api
        .post(
            "sys/capabilities-accessor",
            &json!({"accessor": acc, "path": "auth/token/create"}),
        )
        .expect(200);
    assert_eq!(r["data"]["capabilities"], json!(["update"]));
    assert_eq!(r["data"]["auth/token/create"], json!(["update"]));
    // capabilities-self with `path`: the list under the path and under `capabilities`.
    let r = server
        .api(&t)
        .post(
            "sys/capabilities-self",
            &json!({"path": "auth/token/create"}),
        )
        .expect(200);
    assert_eq!(
        r["data"],
        json!({"auth/token/create": ["update"], "capabilities": ["update"]})
    );
}

/// `-wrap-ttl`: the response is wrapped in a single-use token; `bao unwrap`, the
/// `sys/wrapping/*` endpoints.
#[test]
fn response_wrapping() {
    let (server, root) = started();
    let bao = |token: &str, args: &[&str]| server.bao(Some(token), args);
    bao(
        &root,
        &["secrets", "enable", "-path=kv", "-version=2", "kv"],
    )
    .ok();
    server.api(&root).wait_kv_v2_ready("kv");
    bao(&root, &["kv", "put", "kv/app", "pw=s3cret"]).ok();
    let wrap_token = |run: BaoRun| str_of(&run.ok().json()["wrap_info"]["token"]);
    let nobody = common::Api {
        port: server.port(),
        token: None,
    };

    // kv get -wrap-ttl: a wrapped envelope, nothing but wrap_info.
    let wrapped = bao(
        &root,
        &["kv", "get", "-wrap-ttl=5m", "-format=json", "kv/app"],
    )
    .ok()
    .json();
    assert_eq!(wrapped["request_id"], "");
    assert_eq!(wrapped["data"], Value::Null);
    let info = &wrapped["wrap_info"];
    assert_eq!(info["ttl"], 300);
    assert_eq!(info["creation_path"], "kv/data/app");
    // The CLI prints an empty wrapped_accessor; on the wire it is absent (below).
    assert_eq!(info["wrapped_accessor"], "", "{info}");
    common::assert_nano_time(&info["creation_time"]);
    let w = str_of(&info["token"]);
    assert!(w.starts_with("s.") && w.len() == 26, "{w}");
    // On the wire: the wrapped envelope exactly, no wrapped_accessor for a non-token response.
    let raw = server
        .api(&root)
        .call_with("GET", "kv/data/app", &[("X-Vault-Wrap-TTL", "5m")], "")
        .expect(200);
    assert_eq!(
        keys(&raw),
        [
            "auth",
            "data",
            "lease_duration",
            "lease_id",
            "renewable",
            "request_id",
            "warnings",
            "wrap_info"
        ]
    );
    assert_eq!(raw["request_id"], "");
    assert_eq!(
        keys(&raw["wrap_info"]),
        ["accessor", "creation_path", "creation_time", "token", "ttl"]
    );
    // lookup: unauthenticated, does not spend the token.
    let looked = nobody
        .post("sys/wrapping/lookup", &json!({"token": w}))
        .expect(200);
    assert_eq!(
        keys(&looked["data"]),
        ["creation_path", "creation_time", "creation_ttl"]
    );
    assert_eq!(looked["data"]["creation_path"], "kv/data/app");
    assert_eq!(looked["data"]["creation_ttl"], 300);
    assert_eq!(looked["data"]["creation_time"], info["creation_time"]);
    // ... also with the wrapping token as the caller and no body.
    server
        .api(&w)
        .post("sys/wrapping/lookup", &json!({}))
        .expect(200);
    nobody
        .post(
            "sys/wrapping/lookup",
            &json!({"token": "s.bogusbogusbogusbogus0000"}),
        )
        .expect_errors(400, &["wrapping token is not valid or does not exist"]);
    nobody
        .post("sys/wrapping/lookup", &json!({}))
        .expect_errors(403, &["error validating wrapping token: token is empty"]);
    // bao unwrap <token>: the original response, once.
    let out = bao(&root, &["unwrap", "-format=json", &w]).ok().json();
    assert_eq!(out["data"]["data"], json!({"pw": "s3cret"}));
    assert_eq!(out["data"]["metadata"]["version"], 1);
    bao(&root, &["unwrap", &w]).fails(2, "wrapping token is not valid or does not exist");
    nobody
        .post("sys/wrapping/lookup", &json!({"token": w}))
        .expect_errors(400, &["wrapping token is not valid or does not exist"]);

    // Unwrapping with the wrapping token itself as X-Vault-Token and no body (as Kong does),
    // and `bao unwrap` with no argument (the same, BAO_TOKEN being the wrapping token).
    let w2 = wrap_token(bao(
        &root,
        &["kv", "get", "-wrap-ttl=1m", "-format=json", "kv/app"],
    ));
    let r = server
        .api(&w2)
        .call("PUT", "sys/wrapping/unwrap", "")
        .expect(200);
    assert_eq!(r["data"]["data"]["pw"], "s3cret");
    assert_ne!(r["request_id"], "");
    server
        .api(&w2)
        .call("PUT", "sys/wrapping/unwrap", "")
        .expect_errors(400, &["wrapping token is not valid or does not exist"]);
    let w3 = wrap_token(bao(
        &root,
        &["kv", "get", "-wrap-ttl=1m", "-format=json", "kv/app"],
    ));
    let out = bao(&w3, &["unwrap", "-format=json"]).ok().json();
    assert_eq!(out["data"]["data"]["pw"], "s3cret");
    // A wrapping token used anywhere else is spent by that (denied) request.
    let w4 = wrap_token(bao(
        &root,
        &["kv", "get", "-wrap-ttl=1m", "-format=json", "kv/app"],
    ));
    server
        .api(&w4)
        .get("auth/token/lookup-self")
        .expect_acl_denied();
    bao(&root, &["unwrap", &w4]).fails(2, "wrapping token is not valid or does not exist");

    // bao write -wrap-ttl auth/token/create: unwraps to an auth block; wrapped_accessor is
    // the new token's accessor.
    let run = bao(
        &root,
        &[
            "write",
            "-wrap-ttl=2m",
            "-format=json",
            "auth/token/create",
            "policies=creator",
        ],
    )
    .ok()
    .json();
    let info = &run["wrap_info"];
    assert_eq!(info["creation_path"], "auth/token/create");
    assert_eq!(info["ttl"], 120);
    let wrapped_accessor = str_of(&info["wrapped_accessor"]);
    let out = server
        .api(&root)
        .post("sys/wrapping/unwrap", &json!({"token": info["token"]}))
        .expect(200);
    assert_eq!(out["data"], Value::Null);
    assert_eq!(out["auth"]["accessor"], wrapped_accessor.as_str());
    assert_eq!(out["auth"]["policies"], json!(["creator", "default"]));
    assert_eq!(out["auth"]["orphan"], false);
    let minted = str_of(&out["auth"]["client_token"]);
    assert_eq!(
        lookup_self(&server, &minted)["accessor"],
        wrapped_accessor.as_str()
    );
    // And the CLI form.
    let w5 = wrap_token(bao(
        &root,
        &[
            "token",
            "create",
            "-wrap-ttl=2m",
            "-policy=creator",
            "-format=json",
        ],
    ));
    let out = bao(&root, &["unwrap", "-format=json", &w5]).ok().json();
    lookup_self(&server, &str_of(&out["auth"]["client_token"]));

    // rewrap: a new token for the same response; the old one is spent.
    let old = wrap_token(bao(
        &root,
        &["kv", "get", "-wrap-ttl=3m", "-format=json", "kv/app"],
    ));
    let rewrapped = server
        .api(&root)
        .post("sys/wrapping/rewrap", &json!({"token": old}))
        .expect(200);
    let info = &rewrapped["wrap_info"];
    assert_eq!(info["creation_path"], "kv/data/app");
    assert_eq!(info["ttl"], 180);
    let new = str_of(&info["token"]);
    assert_ne!(new, old);
    bao(&root, &["unwrap", &old]).fails(2, "wrapping token is not valid or does not exist");
    server
        .api(&root)
        .post("sys/wrapping/rewrap", &json!({"token": old}))
        .expect_errors(400, &["wrapping token is not valid or does not exist"]);
    assert_eq!(
        bao(&root, &["unwrap", "-format=json", &new]).ok().json()["data"]["data"]["pw"],
        "s3cret"
    );

    // sys/wrapping/wrap: wraps its body; needs a wrap TTL.
    server
        .api(&root)
        .post("sys/wrapping/wrap", &json!({"a": "b"}))
        .expect_errors(400, &["endpoint requires response wrapping to be used"]);
    let r = server
        .api(&root)
        .call_with(
            "POST",
            "sys/wrapping/wrap",
            &[("X-Vault-Wrap-TTL", "90s")],
            r#"{"a":"b","n":1}"#,
        )
        .expect(200);
    assert_eq!(r["request_id"], "");
    assert_eq!(r["data"], Value::Null);
    assert_eq!(r["wrap_info"]["ttl"], 90);
    assert_eq!(r["wrap_info"]["creation_path"], "sys/wrapping/wrap");
    assert!(r["wrap_info"].get("wrapped_accessor").is_none(), "{r}");
    let t6 = str_of(&r["wrap_info"]["token"]);
    assert_eq!(
        bao(&root, &["unwrap", "-format=json", &t6]).ok().json()["data"],
        json!({"a": "b", "n": 1})
    );
    let t7 = wrap_token(bao(
        &root,
        &[
            "write",
            "-wrap-ttl=1m",
            "-format=json",
            "sys/wrapping/wrap",
            "x=y",
        ],
    ));
    assert_eq!(bao(&root, &["unwrap", "-field=x", &t7]).ok().stdout, "y");
    // The default policy grants wrap, lookup and unwrap, not rewrap (which spends nothing).
    let plain = server.new_token(&root, &["-policy=default"]);
    let t8 = wrap_token(bao(
        &plain,
        &[
            "write",
            "-wrap-ttl=1m",
            "-format=json",
            "sys/wrapping/wrap",
            "k=v",
        ],
    ));
    server
        .api(&plain)
        .post("sys/wrapping/lookup", &json!({"token": t8}))
        .expect(200);
    server
        .api(&plain)
        .post("sys/wrapping/rewrap", &json!({"token": t8}))
        .expect_acl_denied();
    assert_eq!(bao(&plain, &["unwrap", "-field=k", &t8]).ok().stdout, "v");
}

fn keys(v: &Value) -> Vec<String> {
    common::keys_of(v)
}

#[test]
fn cubbyhole_is_per_token() {
    let (server, root) = started();
    let bao = |token: &str, args: &[&str]| server.bao(Some(token), args);
    let a = server.new_token(&root, &["-policy=creator"]);
    let b = server.new_token(&root, &["-policy=default"]);

    bao(&a, &["write", "cubbyhole/x", "a=b"]).ok();
    assert_eq!(
        bao(&a, &["read", "-field=a", "cubbyhole/x"]).ok().stdout,
        "b"
    );
    // Another token (and root) sees nothing there.
    bao(&b, &["read", "cubbyhole/x"]).fails(2, "No value found at cubbyhole/x");
    bao(&root, &["read", "cubbyhole/x"]).fails(2, "No value found at cubbyhole/x");
    server.api(&b).list("cubbyhole").expect_errors(404, &[]);
    // Its own value under the same name.
    bao(&b, &["write", "cubbyhole/x", "c=d"]).ok();
    assert_eq!(
        bao(&b, &["read", "-field=c", "cubbyhole/x"]).ok().stdout,
        "d"
    );
    assert_eq!(
        bao(&a, &["read", "-field=a", "cubbyhole/x"]).ok().stdout,
        "b"
    );
    bao(&a, &["write", "cubbyhole/dir/y", "e=f"]).ok();
    assert_eq!(
        server.api(&a).list("cubbyhole").expect(200)["data"]["keys"],
        json!(["dir/", "x"])
    );
    // A child token has its own cubbyhole too.
    let child = server.new_token(&a, &["-policy=default"]);
    bao(&child, &["read", "cubbyhole/x"]).fails(2, "No value found at cubbyhole/x");
    // The cubbyhole goes with its token.
    bao(&a, &["token", "revoke", "-self"]).ok();
    bao(&b, &["delete", "cubbyhole/x"]).ok();
    bao(&b, &["read", "cubbyhole/x"]).fails(2, "No value found at cubbyhole/x");
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

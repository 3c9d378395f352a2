//! Auth methods end to end, with the real `bao` CLI and hvac: `bao auth enable/list/tune/
//! disable` (sudo, accessors, revocation on disable), userpass users and logins (token_*
//! fields, expiry, renewal capped at token_max_ttl, CIDR binding, lockout and
//! `sys/locked-users`), the AppRole CLI flow, and `tests/auth_hvac.py`.
//!
//! Every expectation holds on a real OpenBao 2.7.2 too: `E2E_SERVER=openbao cargo test
//! --test auth` runs the same scenarios against `bao server`.

mod common;

use std::time::{Duration, Instant};

use common::{Api, BaoRun, Server};
use serde_json::{json, Value};

const INVALID: &str = "invalid username or password";

fn str_of(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// An HTTP client with no token: logins need none.
fn anonymous(server: &Server) -> Api {
    Api {
        port: server.port(),
        token: None,
    }
}

/// `bao login -method=userpass -path=<mount>` as `user`; `-no-store` keeps the token helper
/// file out of it (the tests run in parallel and share a HOME).
fn login_run(server: &Server, mount: &str, user: &str, password: &str) -> BaoRun {
    server.bao(
        None,
        &[
            "login",
            "-no-store",
            "-format=json",
            "-method=userpass",
            &format!("-path={mount}"),
            &format!("username={user}"),
            &format!("password={password}"),
        ],
    )
}

/// A successful userpass login: the `auth` block.
#[track_caller]
fn login(server: &Server, mount: &str, user: &str, password: &str) -> Value {
    login_run(server, mount, user, password).ok().json()["auth"].clone()
}

#[track_caller]
fn login_token(server: &Server, mount: &str, user: &str, password: &str) -> String {
    str_of(&login(server, mount, user, password)["client_token"])
}

/// The HTTP login answer, for exact status and error checks.
fn login_http(server: &Server, mount: &str, user: &str, password: &str) -> common::Resp {
    anonymous(server).post(
        &format!("auth/{mount}/login/{user}"),
        &json!({ "password": password }),
    )
}

/// `data` of `bao read -format=json <path>`.
#[track_caller]
fn read(server: &Server, token: &str, path: &str) -> Value {
    server
        .bao(Some(token), &["read", "-format=json", path])
        .ok()
        .json()["data"]
        .clone()
}

/// The accessor of an auth mount (`sys/auth`, keyed `<path>/`).
#[track_caller]
fn accessor_of(server: &Server, root: &str, mount: &str) -> String {
    let list = server
        .bao(Some(root), &["auth", "list", "-format=json"])
        .ok()
        .json();
    str_of(&list[format!("{mount}/")]["accessor"])
}

/// Go's `humanDuration` (OpenBao's warning texts): "2m", "1m59s", "1h0m0s" shortened.
fn human(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

fn is_accessor(s: &str, kind: &str) -> bool {
    s.strip_prefix(&format!("auth_{kind}_")).is_some_and(|hex| {
        hex.len() == 8
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

#[test]
fn enable_list_tune_and_disable() {
    let (server, root, _) = Server::start_unsealed();
    let bao = |token: &str, args: &[&str]| server.bao(Some(token), args);

    let run = bao(&root, &["auth", "enable", "userpass"]).ok();
    assert!(
        run.stdout
            .contains("Success! Enabled userpass auth method at: userpass/"),
        "{}",
        run.stdout
    );
    bao(
        &root,
        &["auth", "enable", "-path=up2", "-description=x", "userpass"],
    )
    .ok();
    bao(&root, &["auth", "enable", "userpass"]).fails(2, "path is already in use at userpass/");

    // The table: a header and one line per mount, sorted by path.
    let table = bao(&root, &["auth", "list"]).ok().stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("Path") && lines[0].contains("Type") && lines[0].contains("Accessor"),
        "{table}"
    );
    let paths: Vec<&str> = lines[2..]
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(paths, ["token/", "up2/", "userpass/"], "{table}");
    let up2_line = lines
        .iter()
        .find(|l| l.starts_with("up2/"))
        .expect("up2 line");
    let cols: Vec<&str> = up2_line.split_whitespace().collect();
    assert_eq!(cols[1], "userpass", "{up2_line}");
    assert!(is_accessor(cols[2], "userpass"), "{up2_line}");
    assert_eq!(cols[3], "x", "{up2_line}");

    // -format=json: keyed by path, token/ always there.
    let list = bao(&root, &["auth", "list", "-format=json"]).ok().json();
    assert_eq!(
        common::keys_of(&list),
        ["token/", "up2/", "userpass/"],
        "{list}"
    );
    let token = &list["token/"];
    assert_eq!(token["type"], "token");
    assert_eq!(token["description"], "token based credentials");
    assert!(is_accessor(&str_of(&token["accessor"]), "token"), "{token}");
    assert_eq!(token["config"]["token_type"], "default-service");
    for (path, description) in [("userpass/", ""), ("up2/", "x")] {
        let m = &list[path];
        assert_eq!(m["type"], "userpass", "{m}");
        assert_eq!(m["description"], description, "{m}");
        assert!(is_accessor(&str_of(&m["accessor"]), "userpass"), "{m}");
        assert_eq!(m["local"], false, "{m}");
        assert_eq!(m["seal_wrap"], false, "{m}");
        assert_eq!(
            m["config"],
            json!({"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": false,
                   "token_type": "default-service"}),
            "{m}"
        );
        assert_eq!(str_of(&m["uuid"]).len(), 36, "{m}");
    }
    assert_ne!(list["userpass/"]["accessor"], list["up2/"]["accessor"]);

    // Tune, then read the tuning back.
    let run = bao(
        &root,
        &[
            "auth",
            "tune",
            "-default-lease-ttl=1h",
            "-max-lease-ttl=2h",
            "up2/",
        ],
    )
    .ok();
    assert!(
        run.stdout
            .contains("Success! Tuned the auth method at: up2/"),
        "{}",
        run.stdout
    );
    let tune = read(&server, &root, "sys/auth/up2/tune");
    assert_eq!(
        tune,
        json!({"default_lease_ttl": 3600, "max_lease_ttl": 7200, "description": "x",
               "force_no_cache": false, "token_type": "default-service"}),
    );
    let list = bao(&root, &["auth", "list", "-format=json"]).ok().json();
    assert_eq!(list["up2/"]["config"]["default_lease_ttl"], 3600);
    assert_eq!(list["up2/"]["config"]["max_lease_ttl"], 7200);

    // sys/auth/* is a root path: create+update+delete+read without sudo are not enough to
    // enable, disable or read the tuning there; listing needs only read on sys/auth.
    server.write_policy(
        &root,
        "nosudo",
        "path \"sys/auth/*\" { capabilities = [\"create\", \"update\", \"read\", \"delete\"] }\n\
         path \"sys/auth\" { capabilities = [\"read\"] }\n",
    );
    let t = server.new_token(&root, &["-policy=nosudo"]);
    let api = server.api(&t);
    bao(&t, &["auth", "enable", "-path=up3", "userpass"]).fails(2, "Code: 403");
    api.post("sys/auth/up3", &json!({"type": "userpass"}))
        .expect_acl_denied();
    api.delete("sys/auth/up2").expect_acl_denied();
    api.get("sys/auth/up2/tune").expect_acl_denied();
    api.post("sys/auth/up2/tune", &json!({"default_lease_ttl": "5m"}))
        .expect_acl_denied();
    let seen = api.get("sys/auth").expect(200);
    assert!(seen["data"]["up2/"].is_object(), "{seen}");
    // With sudo on top it works.
    server.write_policy(
        &root,
        "withsudo",
        "path \"sys/auth/*\" { capabilities = [\"create\", \"update\", \"read\", \"delete\", \"sudo\"] }\n",
    );
    let s = server.new_token(&root, &["-policy=withsudo"]);
    bao(&s, &["auth", "enable", "-path=up3", "userpass"]).ok();
    bao(&s, &["auth", "disable", "up3/"]).ok();

    // A token from a login through up2/ gets the mount's default TTL and dies with the mount.
    bao(&root, &["write", "auth/up2/users/ann", "password=pw-ann"]).ok();
    let auth = login(&server, "up2", "ann", "pw-ann");
    assert_eq!(auth["lease_duration"], 3600, "{auth}");
    let ann = str_of(&auth["client_token"]);
    let me = server.api(&ann).get("auth/token/lookup-self").expect(200);
    assert_eq!(me["data"]["path"], "auth/up2/login/ann");
    assert_eq!(me["data"]["display_name"], "up2-ann");
    let run = bao(&root, &["auth", "disable", "up2/"]).ok();
    assert!(
        run.stdout
            .contains("Success! Disabled the auth method (if it existed) at: up2/"),
        "{}",
        run.stdout
    );
    server
        .api(&ann)
        .get("auth/token/lookup-self")
        .expect_bad_token();
    let list = bao(&root, &["auth", "list", "-format=json"]).ok().json();
    assert_eq!(common::keys_of(&list), ["token/", "userpass/"], "{list}");
    // The token method cannot be disabled.
    server
        .api(&root)
        .delete("sys/auth/token")
        .expect_errors(400, &["token credential backend cannot be disabled"]);
}

#[test]
fn userpass_users() {
    let (server, root, _) = Server::start_unsealed();
    let bao = |args: &[&str]| server.bao(Some(&root), args);
    bao(&["auth", "enable", "userpass"]).ok();

    let run = bao(&[
        "write",
        "auth/userpass/users/Bob",
        "password=first-pw",
        "token_policies=p",
        "token_ttl=2s",
        "token_max_ttl=1m",
    ])
    .ok();
    assert!(
        run.stdout
            .contains("Success! Data written to: auth/userpass/users/Bob"),
        "{}",
        run.stdout
    );
    // Stored lower-cased; the read shows the token fields and never the password.
    let user = read(&server, &root, "auth/userpass/users/bob");
    assert_eq!(
        user,
        json!({
            "token_bound_cidrs": [], "token_explicit_max_ttl": 0, "token_max_ttl": 60,
            "token_no_default_policy": false, "token_num_uses": 0, "token_period": 0,
            "token_policies": ["p"], "token_strictly_bind_ip": false, "token_ttl": 2,
            "token_type": "default"
        })
    );
    assert_eq!(read(&server, &root, "auth/userpass/users/BOB"), user);
    let list = bao(&["list", "-format=json", "auth/userpass/users"])
        .ok()
        .json();
    assert_eq!(list, json!(["bob"]));

    // Password change: the old one stops working, the new one works.
    login_token(&server, "userpass", "bob", "first-pw");
    bao(&[
        "write",
        "auth/userpass/users/bob/password",
        "password=second-pw",
    ])
    .ok();
    login_http(&server, "userpass", "bob", "first-pw").expect_errors(400, &[INVALID]);
    login_token(&server, "userpass", "bob", "second-pw");
    // An update without a password keeps it.
    bao(&["write", "auth/userpass/users/bob", "token_ttl=1m"]).ok();
    login_token(&server, "userpass", "bob", "second-pw");

    // Policies change, through users/<u>/policies.
    bao(&[
        "write",
        "auth/userpass/users/bob/policies",
        "token_policies=q,r",
    ])
    .ok();
    let user = read(&server, &root, "auth/userpass/users/bob");
    assert_eq!(user["token_policies"], json!(["q", "r"]), "{user}");
    assert_eq!(user["token_ttl"], 60, "{user}");
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
    let auth = login(&server, "userpass", "bob", "second-pw");
    assert_eq!(auth["policies"], json!(["default", "q", "r"]), "{auth}");
    // The legacy `policies` is echoed only when it was set that way.
    assert!(user.get("policies").is_none(), "{user}");
    bao(&[
        "write",
        "auth/userpass/users/gina",
        "password=pw",
        "policies=a,b",
    ])
    .ok();
    let gina = read(&server, &root, "auth/userpass/users/gina");
    assert_eq!(gina["policies"], json!(["a", "b"]), "{gina}");
    assert_eq!(gina["token_policies"], json!(["a", "b"]), "{gina}");

    // password_hash: a bcrypt hash made without OpenBao (Python's crypt, `$2b$`, cost 10).
    let hash = bcrypt_hash("hashed-pw");
    bao(&[
        "write",
        "auth/userpass/users/eve",
        &format!("password_hash={hash}"),
    ])
    .ok();
    login_token(&server, "userpass", "eve", "hashed-pw");
    login_http(&server, "userpass", "eve", "other").expect_errors(400, &[INVALID]);
    let api = server.api(&root);
    api.post(
        "auth/userpass/users/eve",
        &json!({"password_hash": "not-a-hash"}),
    )
    .expect_errors(400, &["password_hash is not a valid bcrypt hash"]);
    api.post("auth/userpass/users/frank", &json!({"token_ttl": "1m"}))
        .expect_errors(400, &["must provide either password or password_hash"]);

    // Delete: gone from reads and lists, and no more logins (even with the right password).
    let run = bao(&["delete", "auth/userpass/users/bob"]).ok();
    assert!(
        run.stdout
            .contains("Success! Data deleted (if it existed) at: auth/userpass/users/bob"),
        "{}",
        run.stdout
    );
    bao(&["read", "auth/userpass/users/bob"]).fails(2, "No value found at auth/userpass/users/bob");
    login_http(&server, "userpass", "bob", "second-pw").expect_errors(400, &[INVALID]);
    bao(&["delete", "auth/userpass/users/nosuch"]).ok();
    let list = bao(&["list", "-format=json", "auth/userpass/users"])
        .ok()
        .json();
    assert_eq!(list, json!(["eve", "gina"]));
    bao(&["delete", "auth/userpass/users/eve"]).ok();
    bao(&["delete", "auth/userpass/users/gina"]).ok();
    bao(&["list", "auth/userpass/users"]).fails(2, "No value found at auth/userpass/users");
}

/// A bcrypt hash of `password` from Python's `crypt` module (the glibc/libxcrypt `$2b$`),
/// so that `password_hash` is tested with a hash OpenBao did not make.
fn bcrypt_hash(password: &str) -> String {
    let out = std::process::Command::new(common::python())
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))",
            password,
        ])
        .output()
        .expect("run python");
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success() && hash.starts_with("$2b$10$") && hash.len() == 60,
        "python crypt made no bcrypt hash: {hash:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    hash
}

#[test]
fn userpass_login_and_token_lifetime() {
    let (server, root, _) = Server::start_unsealed();
    let bao = |args: &[&str]| server.bao(Some(&root), args);
    bao(&["auth", "enable", "userpass"]).ok();
    server.write_policy(
        &root,
        "p",
        "path \"sys/mounts\" { capabilities = [\"read\"] }\n",
    );
    bao(&[
        "write",
        "auth/userpass/users/Bob",
        "password=bob-pw",
        "token_policies=p",
        "token_ttl=2s",
        "token_max_ttl=1m",
    ])
    .ok();

    // The table output: the token and its policies.
    let run = server
        .bao(
            None,
            &[
                "login",
                "-no-store",
                "-method=userpass",
                "username=bob",
                "password=bob-pw",
            ],
        )
        .ok();
    assert!(
        run.stdout.contains("Success! You are now authenticated."),
        "{}",
        run.stdout
    );
    let token_line = run
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("token"))
        .unwrap_or_else(|| panic!("no token line: {}", run.stdout));
    let shown = token_line.split_whitespace().nth(1).expect("token value");
    assert!(shown.starts_with("s."), "{token_line}");
    assert!(
        run.stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["token_meta_username", "bob"]),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["token_duration", "2s"]),
        "{}",
        run.stdout
    );

    // -format=json: an orphan with the user's policies and metadata; the name is
    // case-insensitive at login.
    let auth = login(&server, "userpass", "BOB", "bob-pw");
    assert_eq!(auth["policies"], json!(["default", "p"]), "{auth}");
    assert_eq!(auth["token_policies"], json!(["default", "p"]), "{auth}");
    assert_eq!(auth["metadata"], json!({"username": "bob"}), "{auth}");
    assert_eq!(auth["orphan"], true, "{auth}");
    assert_eq!(auth["renewable"], true, "{auth}");
    assert_eq!(auth["lease_duration"], 2, "{auth}");
    assert!(auth["entity_id"].is_string(), "{auth}");

    // Wrong password and unknown user: the same 400.
    login_http(&server, "userpass", "bob", "wrong").expect_errors(400, &[INVALID]);
    login_http(&server, "userpass", "nobody", "bob-pw").expect_errors(400, &[INVALID]);
    login_run(&server, "userpass", "bob", "wrong").fails(2, INVALID);
    login_run(&server, "userpass", "bob", "wrong").fails(2, "Code: 400");

    // A 2 s token is refused once its TTL has run out.
    let short = str_of(
        &login_http(&server, "userpass", "bob", "bob-pw").expect(200)["auth"]["client_token"],
    );
    let me = server.api(&short).get("auth/token/lookup-self").expect(200);
    assert_eq!(me["data"]["path"], "auth/userpass/login/bob", "{me}");
    assert_eq!(me["data"]["display_name"], "userpass-bob", "{me}");
    assert_eq!(me["data"]["meta"], json!({"username": "bob"}), "{me}");
    assert_eq!(me["data"]["orphan"], true, "{me}");
    assert!(me["data"]["ttl"].as_u64().expect("ttl") <= 2, "{me}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = server.api(&short).get("auth/token/lookup-self");
        if r.status == 403 {
            r.expect_bad_token();
            break;
        }
        r.expect(200);
        assert!(
            Instant::now() < deadline,
            "the 2 s token still works after 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Renewal is capped at token_max_ttl, with OpenBao's warning.
    bao(&[
        "write",
        "auth/userpass/users/carol",
        "password=carol-pw",
        "token_policies=p",
        "token_ttl=1m",
        "token_max_ttl=2m",
    ])
    .ok();
    let carol = login_token(&server, "userpass", "carol", "carol-pw");
    let renewed = server
        .bao(
            Some(&carol),
            &["token", "renew", "-format=json", "-increment=1h"],
        )
        .ok()
        .json();
    let lease = renewed["auth"]["lease_duration"].as_u64().expect("lease");
    assert!((100..=120).contains(&lease), "{renewed}");
    assert_eq!(
        renewed["warnings"],
        json!([format!(
            "TTL of \"1h\" exceeded the effective max_ttl of \"{}\"; TTL value is capped accordingly",
            human(lease)
        )]),
        "{renewed}"
    );
    // Without an increment: the user's token_ttl again, no warning.
    let renewed = server
        .bao(Some(&carol), &["token", "renew", "-format=json"])
        .ok()
        .json();
    assert_eq!(renewed["auth"]["lease_duration"], 60, "{renewed}");
    assert_eq!(renewed["warnings"], Value::Null, "{renewed}");
    let me = server.api(&carol).get("auth/token/lookup-self").expect(200);
    assert_eq!(me["data"]["creation_ttl"], 60, "{me}");
    assert!(me["data"]["last_renewal"].is_string(), "{me}");

    // A deleted policy takes its access away at once from a token already issued.
    let api = server.api(&carol);
    api.get("sys/mounts").expect(200);
    bao(&["policy", "delete", "p"]).ok();
    api.get("sys/mounts").expect_acl_denied();
    // The token itself still works for what `default` grants.
    api.get("auth/token/lookup-self").expect(200);

    // A deleted user can no longer log in.
    bao(&["delete", "auth/userpass/users/carol"]).ok();
    login_http(&server, "userpass", "carol", "carol-pw").expect_errors(400, &[INVALID]);
}

/// A login token's renewal asks the auth method again (OpenBao's userpass `pathLoginRenew`):
/// the user's current token_ttl applies, changed policies refuse the renewal, and a deleted
/// user's token renews to nothing (204) but stays valid until it expires.
#[test]
fn userpass_renewal_follows_the_user() {
    let (server, root, _) = Server::start_unsealed();
    let bao = |args: &[&str]| server.bao(Some(&root), args);
    bao(&["auth", "enable", "userpass"]).ok();
    bao(&[
        "write",
        "auth/userpass/users/hank",
        "password=hank-pw",
        "token_policies=a",
        "token_ttl=1m",
        "token_max_ttl=10m",
    ])
    .ok();
    let t = login_token(&server, "userpass", "hank", "hank-pw");
    let api = server.api(&t);
    let renew = |body: &Value| api.post("auth/token/renew-self", body);

    // An explicit increment, then none: back to the user's token_ttl, not the last increment.
    let r = renew(&json!({"increment": "30s"})).expect(200);
    assert_eq!(r["auth"]["lease_duration"], 30, "{r}");
    let r = renew(&json!({})).expect(200);
    assert_eq!(r["auth"]["lease_duration"], 60, "{r}");
    // The user's token_ttl as it is now.
    bao(&["write", "auth/userpass/users/hank", "token_ttl=45s"]).ok();
    let r = renew(&json!({})).expect(200);
    assert_eq!(r["auth"]["lease_duration"], 45, "{r}");

    // Other policies than the token's: no renewal.
    bao(&[
        "write",
        "auth/userpass/users/hank/policies",
        "token_policies=b",
    ])
    .ok();
    // OpenBao refuses with a 500; Coffer with a 400 saying the same (docs/compat.md).
    if server.is_openbao() {
        renew(&json!({})).expect_errors(
            500,
            &["1 error occurred:\n\t* failed to renew entry: policies have changed, not renewing\n\n"],
        );
    } else {
        renew(&json!({})).expect_errors(400, &["policies have changed, not renewing"]);
    }
    bao(&[
        "write",
        "auth/userpass/users/hank/policies",
        "token_policies=a",
    ])
    .ok();
    renew(&json!({})).expect(200);

    // A deleted user: OpenBao answers an empty 204 that renews nothing, Coffer says why it
    // does not renew (docs/compat.md); either way the token lives on until it expires.
    bao(&["delete", "auth/userpass/users/hank"]).ok();
    let r = renew(&json!({}));
    if server.is_openbao() {
        assert_eq!(r.status, 204, "{}", r.body);
    } else {
        r.expect_errors(400, &["user \"hank\" no longer exists, not renewing"]);
    }
    api.get("auth/token/lookup-self").expect(200);
}

#[test]
fn userpass_token_bound_cidrs() {
    let (server, root, _) = Server::start_unsealed();
    let bao = |args: &[&str]| server.bao(Some(&root), args);
    bao(&["auth", "enable", "userpass"]).ok();
    bao(&[
        "write",
        "auth/userpass/users/dave",
        "password=dave-pw",
        "token_bound_cidrs=10.0.0.0/8",
    ])
    .ok();
    let user = read(&server, &root, "auth/userpass/users/dave");
    assert_eq!(user["token_bound_cidrs"], json!(["10.0.0.0/8"]), "{user}");
    // The tests talk from 127.0.0.1: outside 10.0.0.0/8.
    login_http(&server, "userpass", "dave", "dave-pw").expect_bad_token();
    login_run(&server, "userpass", "dave", "dave-pw").fails(2, "Code: 403");

    bao(&[
        "write",
        "auth/userpass/users/dave",
        "token_bound_cidrs=127.0.0.1/32",
    ])
    .ok();
    // A /32 reads back as the bare address.
    let user = read(&server, &root, "auth/userpass/users/dave");
    assert_eq!(user["token_bound_cidrs"], json!(["127.0.0.1"]), "{user}");
    let t = login_token(&server, "userpass", "dave", "dave-pw");
    let me = server.api(&t).get("auth/token/lookup-self").expect(200);
    assert_eq!(me["data"]["bound_cidrs"], json!(["127.0.0.1"]), "{me}");
}

#[test]
fn userpass_lockout() {
    let (server, root, _) = Server::start_unsealed();
    let bao = |args: &[&str]| server.bao(Some(&root), args);
    bao(&["auth", "enable", "userpass"]).ok();
    bao(&["auth", "tune", "-user-lockout-threshold=3", "userpass/"]).ok();
    let tune = read(&server, &root, "sys/auth/userpass/tune");
    assert_eq!(tune["user_lockout_threshold"], 3, "{tune}");
    bao(&["write", "auth/userpass/users/bob", "password=bob-pw"]).ok();
    let accessor = accessor_of(&server, &root, "userpass");

    for _ in 0..3 {
        login_http(&server, "userpass", "bob", "wrong").expect_errors(400, &[INVALID]);
    }
    // Locked: even the right password is refused, with the bare 403.
    login_http(&server, "userpass", "bob", "bob-pw").expect_bad_token();
    login_run(&server, "userpass", "bob", "bob-pw").fails(2, "Code: 403");

    let locked = read(&server, &root, "sys/locked-users");
    assert_eq!(locked["total"], 1, "{locked}");
    assert_eq!(
        locked["by_namespace"],
        json!([{
            "namespace_id": "root", "namespace_path": "", "counts": 1,
            "mount_accessors": [{
                "mount_accessor": accessor, "counts": 1, "alias_identifiers": ["bob"]
            }]
        }]),
        "{locked}"
    );

    let run = bao(&[
        "write",
        "-f",
        &format!("sys/locked-users/{accessor}/unlock/bob"),
    ])
    .ok();
    assert!(
        run.stdout.contains("Success! Data written to"),
        "{}",
        run.stdout
    );
    login_token(&server, "userpass", "bob", "bob-pw");
    let locked = read(&server, &root, "sys/locked-users");
    assert_eq!(locked["total"], 0, "{locked}");
}

#[test]
fn approle_cli_flow() {
    let (server, root, _) = Server::start_unsealed();
    let bao = |args: &[&str]| server.bao(Some(&root), args);
    bao(&["auth", "enable", "approle"]).ok();
    server.write_policy(
        &root,
        "p",
        "path \"sys/mounts\" { capabilities = [\"read\"] }\n",
    );
    bao(&[
        "write",
        "auth/approle/role/web",
        "token_policies=p",
        "token_ttl=60m",
        "token_max_ttl=4h",
    ])
    .ok();
    let role = read(&server, &root, "auth/approle/role/web");
    assert_eq!(
        role,
        json!({
            "bind_secret_id": true, "local_secret_ids": false, "secret_id_bound_cidrs": null,
            "secret_id_num_uses": 0, "secret_id_ttl": 0, "token_bound_cidrs": [],
            "token_explicit_max_ttl": 0, "token_max_ttl": 14400,
            "token_no_default_policy": false, "token_num_uses": 0, "token_period": 0,
            "token_policies": ["p"], "token_strictly_bind_ip": false, "token_ttl": 3600,
            "token_type": "default"
        })
    );
    let role_id = str_of(&read(&server, &root, "auth/approle/role/web/role-id")["role_id"]);
    assert_eq!(role_id.len(), 36, "{role_id}");
    let secret = bao(&[
        "write",
        "-format=json",
        "-f",
        "auth/approle/role/web/secret-id",
    ])
    .ok()
    .json()["data"]
        .clone();
    assert_eq!(
        common::keys_of(&secret),
        [
            "secret_id",
            "secret_id_accessor",
            "secret_id_num_uses",
            "secret_id_ttl"
        ]
    );
    assert_eq!(secret["secret_id_num_uses"], 0);
    assert_eq!(secret["secret_id_ttl"], 0);
    let secret_id = str_of(&secret["secret_id"]);

    let login = server
        .bao(
            None,
            &[
                "write",
                "-format=json",
                "auth/approle/login",
                &format!("role_id={role_id}"),
                &format!("secret_id={secret_id}"),
            ],
        )
        .ok()
        .json();
    let auth = &login["auth"];
    assert_eq!(auth["policies"], json!(["default", "p"]), "{login}");
    assert_eq!(auth["metadata"], json!({"role_name": "web"}), "{login}");
    assert_eq!(auth["lease_duration"], 3600, "{login}");
    assert_eq!(auth["orphan"], true, "{login}");
    let t = str_of(&auth["client_token"]);
    let api = server.api(&t);
    api.get("sys/mounts").expect(200);
    let me = api.get("auth/token/lookup-self").expect(200);
    assert_eq!(me["data"]["path"], "auth/approle/login", "{me}");
    assert_eq!(me["data"]["display_name"], "approle", "{me}");
    // A wrong secret id: the 400.
    anonymous(&server)
        .post(
            "auth/approle/login",
            &json!({"role_id": role_id, "secret_id": "00000000-0000-0000-0000-000000000000"}),
        )
        .expect_errors(400, &["invalid role or secret ID"]);
}

/// Runs one part of tests/auth_hvac.py against a fresh server.
fn hvac(part: &str) {
    let (server, root, _) = Server::start_unsealed();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/auth_hvac.py");
    let out = std::process::Command::new(common::python())
        .arg(script)
        .arg(server.addr())
        .arg(&root)
        .arg(part)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "hvac script ({part}) failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hvac_userpass() {
    hvac("userpass");
}

#[test]
fn hvac_approle() {
    hvac("approle");
}

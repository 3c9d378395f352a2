//! The approle auth method end to end with the real `bao` CLI: roles and their sub-paths,
//! role ids, secret ids (limits, expiry, lookup, destroy, accessors), logins and the tokens
//! they earn, and the gateway flow (a response-wrapped secret id unwrapped, then a login).
//!
//! Every expectation holds on a real OpenBao 2.7.2 too: `E2E_SERVER=openbao cargo test
//! --test approle` runs the same scenarios against `bao server`.

mod common;

use std::time::{Duration, Instant};

use common::{BaoRun, Server};
use serde_json::{json, Value};

const ROLE: &str = "auth/approle/role/web";

/// A server with approle enabled and the role `web` of the brief.
fn started() -> (Server, String) {
    let (server, root, _) = Server::start_unsealed();
    server.bao(Some(&root), &["auth", "enable", "approle"]).ok();
    server
        .bao(
            Some(&root),
            &[
                "write",
                ROLE,
                "token_policies=app,ops",
                "token_ttl=60m",
                "token_max_ttl=4h",
            ],
        )
        .ok();
    (server, root)
}

fn json_of(run: BaoRun) -> Value {
    run.ok().json()
}

fn str_of(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

fn role_id(server: &Server, root: &str) -> String {
    let v = json_of(server.bao(
        Some(root),
        &["read", "-format=json", &format!("{ROLE}/role-id")],
    ));
    str_of(&v["data"]["role_id"])
}

/// `bao write -f .../secret-id` with these arguments: the answer's `data`.
fn secret_id(server: &Server, root: &str, args: &[&str]) -> Value {
    let path = format!("{ROLE}/secret-id");
    let mut all = vec!["write", "-format=json", "-f", path.as_str()];
    all.extend_from_slice(args);
    json_of(server.bao(Some(root), &all))["data"].clone()
}

fn login(server: &Server, role_id: &str, secret_id: &str) -> BaoRun {
    server.bao(
        None,
        &[
            "write",
            "-format=json",
            "auth/approle/login",
            &format!("role_id={role_id}"),
            &format!("secret_id={secret_id}"),
        ],
    )
}

#[test]
fn roles_role_ids_and_a_login_with_the_cli() {
    let (server, root) = started();
    let bao = |args: &[&str]| server.bao(Some(&root), args);

    let role = json_of(bao(&["read", "-format=json", ROLE]));
    assert_eq!(
        role["data"],
        json!({
            "bind_secret_id": true,
            "local_secret_ids": false,
            "secret_id_bound_cidrs": null,
            "secret_id_num_uses": 0,
            "secret_id_ttl": 0,
            "token_bound_cidrs": [],
            "token_explicit_max_ttl": 0,
            "token_max_ttl": 14400,
            "token_no_default_policy": false,
            "token_num_uses": 0,
            "token_period": 0,
            "token_policies": ["app", "ops"],
            "token_strictly_bind_ip": false,
            "token_ttl": 3600,
            "token_type": "default"
        })
    );
    // Role names are case-insensitive.
    let upper = json_of(bao(&["read", "-format=json", "auth/approle/role/WEB"]));
    assert_eq!(upper["data"], role["data"]);
    let list = json_of(bao(&["list", "-format=json", "auth/approle/role"]));
    assert_eq!(list, json!(["web"]));

    let rid = role_id(&server, &root);
    assert_eq!(rid.len(), 36, "a uuid: {rid}");
    let sid = secret_id(&server, &root, &[]);
    assert_eq!(
        common::keys_of(&sid),
        [
            "secret_id",
            "secret_id_accessor",
            "secret_id_num_uses",
            "secret_id_ttl"
        ]
    );
    assert_eq!(
        (
            sid["secret_id_num_uses"].clone(),
            sid["secret_id_ttl"].clone()
        ),
        (json!(0), json!(0))
    );

    let auth = json_of(login(&server, &rid, &str_of(&sid["secret_id"])))["auth"].clone();
    assert_eq!(auth["lease_duration"], json!(3600));
    assert_eq!(auth["policies"], json!(["app", "default", "ops"]));
    assert_eq!(auth["metadata"], json!({"role_name": "web"}));
    assert_eq!(auth["orphan"], json!(true));
    assert_eq!(auth["renewable"], json!(true));
    let token = str_of(&auth["client_token"]);
    let me =
        json_of(server.bao(Some(&token), &["token", "lookup", "-format=json"]))["data"].clone();
    assert_eq!(me["display_name"], json!("approle"));
    assert_eq!(me["type"], json!("service"));
    assert_eq!(me["path"], json!("auth/approle/login"));
    assert_eq!(me["meta"], json!({"role_name": "web"}));
    assert_eq!(me["policies"], json!(["app", "default", "ops"]));

    // A custom role id; role ids are unique across roles.
    bao(&["write", &format!("{ROLE}/role-id"), "role_id=web-custom-id"]).ok();
    assert_eq!(role_id(&server, &root), "web-custom-id");
    login(&server, &rid, &str_of(&sid["secret_id"])).fails(2, "invalid role or secret ID");
    login(&server, "web-custom-id", &str_of(&sid["secret_id"])).ok();
    bao(&["write", "auth/approle/role/other", "role_id=web-custom-id"])
        .fails(2, "role_id already in use");
    let api = server.api(&root);
    api.post(
        "auth/approle/role/other",
        &json!({"role_id": "web-custom-id"}),
    )
    .expect_errors(500, &["1 error occurred:\n\t* role_id already in use\n\n"]);

    // Sub-paths.
    let policies = json_of(bao(&["read", "-format=json", &format!("{ROLE}/policies")]));
    assert_eq!(policies["data"], json!({"token_policies": ["app", "ops"]}));
    bao(&["write", &format!("{ROLE}/token-ttl"), "token_ttl=30m"]).ok();
    bao(&[
        "write",
        &format!("{ROLE}/secret-id-num-uses"),
        "secret_id_num_uses=3",
    ])
    .ok();
    let read = |sub: &str| api.get(&format!("{ROLE}/{sub}")).expect(200)["data"].clone();
    assert_eq!(read("token-ttl"), json!({"token_ttl": 1800}));
    assert_eq!(read("secret-id-num-uses"), json!({"secret_id_num_uses": 3}));
    assert_eq!(
        read("token-bound-cidrs"),
        json!({"token_bound_cidrs": null})
    );
    assert_eq!(
        read("secret-id-bound-cidrs"),
        json!({"secret_id_bound_cidrs": null})
    );
    assert_eq!(read("period"), json!({"token_period": 0}));
    // OpenBao 2.7.2 serves no operation on this one, though its OpenAPI lists it.
    api.get(&format!("{ROLE}/bind-secret-id"))
        .expect_errors(404, &["1 error occurred:\n\t* unsupported path\n\n"]);
    assert_eq!(read("local-secret-ids"), json!({"local_secret_ids": false}));
    api.delete(&format!("{ROLE}/secret-id-num-uses"))
        .expect(204);
    assert_eq!(read("secret-id-num-uses"), json!({"secret_id_num_uses": 0}));
    api.post(
        &format!("{ROLE}/token-max-ttl"),
        &json!({"token_max_ttl": "10m"}),
    )
    .expect_errors(
        400,
        &["token_max_ttl should be greater than or equal to token_ttl"],
    );
    api.post(&format!("{ROLE}/policies"), &json!({}))
        .expect_errors(400, &["missing token_policies"]);
    api.post(
        "auth/approle/role/nope/policies",
        &json!({"token_policies": "x"}),
    )
    .expect_errors(404, &["1 error occurred:\n\t* unsupported path\n\n"]);
    api.get("auth/approle/role/nope").expect_errors(404, &[]);

    // A role must be bound somehow.
    api.post("auth/approle/role/loose", &json!({"bind_secret_id": false}))
        .expect_errors(
            500,
            &["1 error occurred:\n\t* at least one constraint should be enabled on the role\n\n"],
        );
    // Logins that are wrong in the ways OpenBao names.
    let anon = server.api("");
    anon.post(
        "auth/approle/login",
        &json!({"role_id": "no-such-role", "secret_id": "x"}),
    )
    .expect_errors(400, &["invalid role or secret ID"]);
    anon.post("auth/approle/login", &json!({"role_id": "web-custom-id"}))
        .expect_errors(400, &["missing secret_id"]);
    anon.post("auth/approle/login", &json!({"secret_id": "x"}))
        .expect_errors(500, &["missing role_id"]);

    // Deleting the role ends its secret ids and role id.
    bao(&["delete", ROLE]).ok();
    login(&server, "web-custom-id", &str_of(&sid["secret_id"]))
        .fails(2, "invalid role or secret ID");
    api.get(&format!("{ROLE}/role-id")).expect_errors(404, &[]);
}

#[test]
fn secret_id_use_counts_and_expiry() {
    let (server, root) = started();
    let rid = role_id(&server, &root);

    let once = secret_id(
        &server,
        &root,
        &["num_uses=1", "metadata={\"team\":\"blue\"}"],
    );
    assert_eq!(once["secret_id_num_uses"], json!(1));
    let first = json_of(login(&server, &rid, &str_of(&once["secret_id"])));
    assert_eq!(
        first["auth"]["metadata"],
        json!({"role_name": "web", "team": "blue"})
    );
    login(&server, &rid, &str_of(&once["secret_id"])).fails(2, "invalid role or secret ID");

    let twice = secret_id(&server, &root, &["num_uses=2"]);
    login(&server, &rid, &str_of(&twice["secret_id"])).ok();
    let api = server.api(&root);
    let left = api
        .post(
            &format!("{ROLE}/secret-id/lookup"),
            &json!({"secret_id": twice["secret_id"]}),
        )
        .expect(200);
    assert_eq!(left["data"]["secret_id_num_uses"], json!(1));
    login(&server, &rid, &str_of(&twice["secret_id"])).ok();
    login(&server, &rid, &str_of(&twice["secret_id"])).fails(2, "invalid role or secret ID");

    // Limits against the role's.
    api.post(
        &format!("{ROLE}/secret-id-num-uses"),
        &json!({"secret_id_num_uses": 5}),
    )
    .expect(204);
    api.post(&format!("{ROLE}/secret-id"), &json!({"num_uses": 6}))
        .expect_errors(
            400,
            &["num_uses cannot be higher than the role's secret_id_num_uses"],
        );
    api.post(&format!("{ROLE}/secret-id"), &json!({"num_uses": -1}))
        .expect_errors(400, &["num_uses cannot be negative"]);

    // An expired secret id is refused. OpenBao removes it on its next tidy (and does not
    // look at the expiry at login), so ask for one and wait, bounded, for the refusal.
    let short = secret_id(&server, &root, &["ttl=1s"]);
    assert_eq!(short["secret_id_ttl"], json!(1));
    let issued = Instant::now();
    let looked = api
        .post(
            &format!("{ROLE}/secret-id/lookup"),
            &json!({"secret_id": short["secret_id"]}),
        )
        .expect(200);
    common::assert_nano_time(&looked["data"]["expiration_time"]);
    std::thread::sleep(Duration::from_millis(1100).saturating_sub(issued.elapsed()));
    let tidy = api
        .post("auth/approle/tidy/secret-id", &json!({}))
        .expect(202);
    assert_eq!(
        tidy["warnings"],
        json!(["Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs."])
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = login(&server, &rid, &str_of(&short["secret_id"]));
        if r.code != 0 {
            r.fails(2, "invalid role or secret ID");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the expired secret id still logs in after 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    api.post(
        &format!("{ROLE}/secret-id/lookup"),
        &json!({"secret_id": short["secret_id"]}),
    )
    .expect(204);
}

#[test]
fn lookup_destroy_and_accessors() {
    let (server, root) = started();
    let api = server.api(&root);
    let rid = role_id(&server, &root);
    let sid = secret_id(
        &server,
        &root,
        &["cidr_list=127.0.0.0/8", "metadata=env=prod", "ttl=10m"],
    );
    assert_eq!(sid["secret_id_ttl"], json!(600));
    let accessor = str_of(&sid["secret_id_accessor"]);

    let by_id = api
        .post(
            &format!("{ROLE}/secret-id/lookup"),
            &json!({"secret_id": sid["secret_id"]}),
        )
        .expect(200)["data"]
        .clone();
    assert_eq!(
        common::keys_of(&by_id),
        [
            "cidr_list",
            "creation_time",
            "expiration_time",
            "last_updated_time",
            "metadata",
            "secret_id_accessor",
            "secret_id_num_uses",
            "secret_id_ttl",
            "token_bound_cidrs"
        ]
    );
    assert_eq!(by_id["cidr_list"], json!(["127.0.0.0/8"]));
    assert_eq!(by_id["metadata"], json!({"env": "prod"}));
    assert_eq!(by_id["secret_id_accessor"], json!(accessor));
    assert_eq!(by_id["token_bound_cidrs"], json!([]));
    let created = common::assert_nano_time(&by_id["creation_time"]);
    let expires = common::assert_nano_time(&by_id["expiration_time"]);
    assert_eq!((expires - created).whole_seconds(), 600);
    let by_accessor = api
        .post(
            &format!("{ROLE}/secret-id-accessor/lookup"),
            &json!({"secret_id_accessor": accessor}),
        )
        .expect(200)["data"]
        .clone();
    assert_eq!(by_accessor, by_id);
    let listed = server
        .bao(
            Some(&root),
            &["list", "-format=json", &format!("{ROLE}/secret-id")],
        )
        .ok()
        .json();
    assert_eq!(listed, json!([accessor]));

    // The CIDR binding of the secret id admits the loopback address the test runs from.
    login(&server, &rid, &str_of(&sid["secret_id"])).ok();

    // Destroy by accessor; then the accessor is unknown.
    server
        .bao(
            Some(&root),
            &[
                "write",
                &format!("{ROLE}/secret-id-accessor/destroy"),
                &format!("secret_id_accessor={accessor}"),
            ],
        )
        .ok();
    login(&server, &rid, &str_of(&sid["secret_id"])).fails(2, "invalid role or secret ID");
    let unknown = format!("failed to find accessor entry for secret_id_accessor: {accessor:?}");
    api.post(
        &format!("{ROLE}/secret-id-accessor/destroy"),
        &json!({"secret_id_accessor": accessor}),
    )
    .expect_errors(500, &[&format!("1 error occurred:\n\t* {unknown}\n\n")]);
    let gone = api
        .post(
            &format!("{ROLE}/secret-id-accessor/lookup"),
            &json!({"secret_id_accessor": accessor}),
        )
        .expect(404);
    assert_eq!(gone["data"], json!({"error": unknown}));
    api.list(&format!("{ROLE}/secret-id"))
        .expect_errors(404, &[]);

    // Destroy by secret id.
    let other = secret_id(&server, &root, &[]);
    api.post(
        &format!("{ROLE}/secret-id/destroy"),
        &json!({"secret_id": other["secret_id"]}),
    )
    .expect(204);
    login(&server, &rid, &str_of(&other["secret_id"])).fails(2, "invalid role or secret ID");
    api.post(
        &format!("{ROLE}/secret-id/lookup"),
        &json!({"secret_id": other["secret_id"]}),
    )
    .expect(204);

    // A custom secret id.
    let custom = api
        .post(
            &format!("{ROLE}/custom-secret-id"),
            &json!({"secret_id": "my-own-secret"}),
        )
        .expect(200)["data"]
        .clone();
    assert_eq!(custom["secret_id"], json!("my-own-secret"));
    login(&server, &rid, "my-own-secret").ok();

    // CIDR blocks: a bare address is not one, and a secret id's must lie inside the role's.
    api.post(&format!("{ROLE}/secret-id"), &json!({"cidr_list": "10.0.0.1"}))
        .expect_errors(
            500,
            &["1 error occurred:\n\t* failed to validate CIDR blocks: invalid CIDR address: 10.0.0.1\n\n"],
        );
    api.post(
        &format!("{ROLE}/secret-id-bound-cidrs"),
        &json!({"secret_id_bound_cidrs": "127.0.0.0/8"}),
    )
    .expect(204);
    api.post(&format!("{ROLE}/secret-id"), &json!({"cidr_list": "10.0.0.0/8"}))
        .expect_errors(
            500,
            &["1 error occurred:\n\t* failed to verify subset relationship between CIDR blocks on the role [\"127.0.0.0/8\"] and CIDR blocks on the secret ID [\"10.0.0.0/8\"]: %!w(<nil>)\n\n"],
        );

    // Requests for a role that does not exist.
    api.post("auth/approle/role/zz/secret-id", &json!({}))
        .expect_errors(404, &["role \"zz\" does not exist"]);
    api.list("auth/approle/role/zz/secret-id")
        .expect_errors(400, &["role \"zz\" does not exist"]);
    api.post(
        "auth/approle/role/zz/secret-id/lookup",
        &json!({"secret_id": "x"}),
    )
    .expect_errors(
        500,
        &["1 error occurred:\n\t* role \"zz\" does not exist\n\n"],
    );
}

#[test]
fn a_wrapped_secret_id_is_unwrapped_and_logs_in() {
    let (server, root) = started();
    let rid = role_id(&server, &root);
    let wrapped = json_of(server.bao(
        Some(&root),
        &[
            "write",
            "-format=json",
            "-wrap-ttl=60s",
            "-f",
            &format!("{ROLE}/secret-id"),
        ],
    ));
    let info = &wrapped["wrap_info"];
    assert_eq!(info["ttl"], json!(60));
    assert_eq!(info["creation_path"], json!(format!("{ROLE}/secret-id")));
    let wrapping_token = str_of(&info["token"]);
    let wrapped_accessor = str_of(&info["wrapped_accessor"]);
    assert!(wrapped["data"].is_null(), "{wrapped}");

    // The gateway unwraps with the wrapping token as its own token.
    let unwrapped = server
        .api(&wrapping_token)
        .post("sys/wrapping/unwrap", &json!({}))
        .expect(200);
    let data = &unwrapped["data"];
    assert_eq!(data["secret_id_accessor"], json!(wrapped_accessor));
    let auth = json_of(login(&server, &rid, &str_of(&data["secret_id"])))["auth"].clone();
    assert_eq!(auth["metadata"], json!({"role_name": "web"}));
    // The wrapping token was single use.
    server
        .api(&wrapping_token)
        .post("sys/wrapping/unwrap", &json!({}))
        .expect_errors(400, &["wrapping token is not valid or does not exist"]);
}

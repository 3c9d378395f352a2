//! The access broker's flow end to end, with the real `bao` CLI: a broker logs in with
//! AppRole and holds only its own policy (issue 4's, checked line by line in
//! tests/policies.rs); it grants a just-in-time user read access to one KV v2 secret through
//! a policy of its own (`apono-<id>`) and a userpass user, then takes it away again. The
//! user's token stops working at once and the user can no longer log in.
//!
//! Every expectation holds on a real OpenBao 2.7.2 too: `E2E_SERVER=openbao cargo test
//! --test broker` runs the same scenario against `bao server`.

mod common;

use common::{Api, Server};
use serde_json::{json, Value};

/// The broker's policy, exactly as in tests/policies.rs (`BROKER`).
const BROKER: &str = r#"path "sys/health"             { capabilities = ["read"] }
path "sys/mounts"             { capabilities = ["read"] }
path "sys/capabilities-self"  { capabilities = ["update"] }
path "auth/userpass/users"       { capabilities = ["list"] }
path "auth/userpass/users/*"     { capabilities = ["create","update","read","delete"] }
path "sys/policies/acl/apono-*"  { capabilities = ["create","update","read","delete","list"] }
path "kv/metadata/*"             { capabilities = ["read","list"] }
path "transit/keys"              { capabilities = ["list"] }
"#;

/// What the broker grants the user: read on one secret.
const GRANT: &str = "path \"kv/data/app/db\" {\n  capabilities = [\"read\"]\n}\n";

fn str_of(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// Root sets the stage: a KV v2 mount with two secrets, userpass and AppRole enabled, the
/// broker's policy and an AppRole role that carries only it. Returns the broker's token.
fn stage(server: &Server, root: &str) -> String {
    let bao = |args: &[&str]| server.bao(Some(root), args);
    bao(&["secrets", "enable", "-path=kv", "kv-v2"]).ok();
    server.api(root).wait_kv_v2_ready("kv");
    bao(&["kv", "put", "kv/app/db", "password=s3cret"]).ok();
    bao(&["kv", "put", "kv/app/other", "password=not-yours"]).ok();
    bao(&["auth", "enable", "userpass"]).ok();
    bao(&["auth", "enable", "approle"]).ok();
    server.write_policy(root, "broker", BROKER);
    bao(&[
        "write",
        "auth/approle/role/broker",
        "token_policies=broker",
        "token_no_default_policy=true",
        "token_ttl=1h",
    ])
    .ok();
    let role_id = bao(&["read", "-field=role_id", "auth/approle/role/broker/role-id"])
        .ok()
        .stdout;
    let secret_id = bao(&[
        "write",
        "-f",
        "-field=secret_id",
        "auth/approle/role/broker/secret-id",
    ])
    .ok()
    .stdout;
    let login = server
        .bao(
            None,
            &[
                "write",
                "-format=json",
                "auth/approle/login",
                &format!("role_id={}", role_id.trim()),
                &format!("secret_id={}", secret_id.trim()),
            ],
        )
        .ok()
        .json();
    assert_eq!(login["auth"]["policies"], json!(["broker"]), "{login}");
    assert_eq!(
        login["auth"]["token_policies"],
        json!(["broker"]),
        "{login}"
    );
    str_of(&login["auth"]["client_token"])
}

#[test]
fn broker_grants_and_revokes_a_jit_user() {
    let (server, root, _) = Server::start_unsealed();
    let broker = stage(&server, &root);
    let as_broker = |args: &[&str]| server.bao(Some(&broker), args);

    // What the broker may see first: the mounts, the secret's metadata, never its data.
    as_broker(&["read", "sys/mounts"]).ok();
    as_broker(&["read", "kv/metadata/app/db"]).ok();
    server
        .api(&broker)
        .get("kv/data/app/db")
        .expect_acl_denied();

    // The grant: a policy of its own, and a user that carries it.
    server
        .bao_stdin(Some(&broker), &["policy", "write", "apono-42", "-"], GRANT)
        .ok();
    let read_back = as_broker(&["read", "-format=json", "sys/policies/acl/apono-42"])
        .ok()
        .json();
    assert_eq!(read_back["data"]["policy"], GRANT, "{read_back}");
    as_broker(&[
        "write",
        "auth/userpass/users/jit-42",
        "password=jit-pw-42",
        "token_policies=apono-42",
        "token_ttl=1h",
    ])
    .ok();
    let users = as_broker(&["list", "-format=json", "auth/userpass/users"])
        .ok()
        .json();
    assert_eq!(users, json!(["jit-42"]));
    // Its own policies only: not another name, not its own.
    server
        .bao_stdin(Some(&broker), &["policy", "write", "admin", "-"], GRANT)
        .fails(2, "Code: 403");
    server
        .api(&broker)
        .delete("sys/policies/acl/broker")
        .expect_acl_denied();

    // The user logs in and reads the secret, and nothing else.
    let login = server
        .bao(
            None,
            &[
                "login",
                "-no-store",
                "-format=json",
                "-method=userpass",
                "username=jit-42",
                "password=jit-pw-42",
            ],
        )
        .ok()
        .json();
    assert_eq!(
        login["auth"]["policies"],
        json!(["apono-42", "default"]),
        "{login}"
    );
    let user = str_of(&login["auth"]["client_token"]);
    let got = server
        .bao(Some(&user), &["read", "-format=json", "kv/data/app/db"])
        .ok()
        .json();
    assert_eq!(got["data"]["data"], json!({"password": "s3cret"}), "{got}");
    let api = server.api(&user);
    api.get("kv/data/app/db").expect(200);
    api.get("kv/data/app/other").expect_acl_denied();
    api.post("kv/data/app/db", &json!({"data": {"password": "x"}}))
        .expect_acl_denied();

    // The revocation: the policy goes, then the user.
    as_broker(&["policy", "delete", "apono-42"]).ok();
    // The token already issued loses the access on its very next request.
    api.get("kv/data/app/db").expect_acl_denied();
    server
        .bao(Some(&user), &["read", "kv/data/app/db"])
        .fails(2, "Code: 403");
    as_broker(&["delete", "auth/userpass/users/jit-42"]).ok();
    Api {
        port: server.port(),
        token: None,
    }
    .post(
        "auth/userpass/login/jit-42",
        &json!({"password": "jit-pw-42"}),
    )
    .expect_errors(400, &["invalid username or password"]);
    server
        .bao(
            None,
            &[
                "login",
                "-no-store",
                "-method=userpass",
                "username=jit-42",
                "password=jit-pw-42",
            ],
        )
        .fails(2, "invalid username or password");
    as_broker(&["read", "auth/userpass/users/jit-42"])
        .fails(2, "No value found at auth/userpass/users/jit-42");
    as_broker(&["read", "sys/policies/acl/apono-42"])
        .fails(2, "No value found at sys/policies/acl/apono-42");
}

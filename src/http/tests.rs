//! The router without a socket (`Router::oneshot`), against an in-memory core.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::{router, AppState};
use crate::core::seal::SealKind;
use crate::core::{Core, InitParams};

async fn app(max_request_size: usize) -> (Core, axum::Router) {
    let core = Core::open(
        Arc::new(storage::MemBackend::new()),
        SealKind::Shamir,
        Default::default(),
    )
    .await
    .expect("core");
    let app = router(AppState {
        core: core.clone(),
        max_request_size,
        max_request_duration: Duration::from_secs(5),
    });
    (core, app)
}

async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::from(body.to_owned()))
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn every_answer_is_exactly_application_json() {
    let (_core, app) = app(1024).await;
    for (method, path) in [
        ("GET", "/v1/sys/health"),
        ("GET", "/v1/sys/seal-status"),
        ("PUT", "/v1/sys/seal"),
        ("GET", "/nope"),
    ] {
        let (_, headers, _) = call(&app, method, path, "").await;
        assert_eq!(
            headers["content-type"], "application/json",
            "{method} {path}"
        );
        assert_eq!(headers["cache-control"], "no-store");
    }
}

#[tokio::test]
async fn lifecycle_codes_before_and_after_init() {
    let (core, app) = app(1024).await;
    assert_eq!(
        call(&app, "GET", "/v1/sys/health", "").await.0,
        StatusCode::NOT_IMPLEMENTED
    );
    assert_eq!(
        call(&app, "GET", "/v1/sys/health?uninitcode=204", "")
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, "GET", "/v1/sys/health?activecode=abc", "")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(&app, "POST", "/v1/sys/health", "").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        call(&app, "GET", "/v1/secret/x", "").await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            call(&app, "GET", "/v1/secret/x", "").await.1,
            "{\"errors\":[\"Vault is sealed\"]}\n".into()
        )
    );
    let init = core
        .init(InitParams {
            secret_shares: 1,
            secret_threshold: 1,
            ..Default::default()
        })
        .await
        .expect("init");
    assert_eq!(
        call(&app, "GET", "/v1/sys/health", "").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let key = hex::encode(&init.keys[0]);
    let (status, _, body) = call(
        &app,
        "PUT",
        "/v1/sys/unseal",
        &format!("{{\"key\":\"{key}\"}}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"sealed\":false"), "{body}");
    assert_eq!(
        call(&app, "GET", "/v1/sys/health", "").await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, "HEAD", "/v1/sys/health?activecode=201", "")
            .await
            .0,
        StatusCode::CREATED
    );
    // Unknown mounts: 403 without a token, 404 with one.
    assert_eq!(
        call(&app, "GET", "/v1/nosuch/x", "").await.0,
        StatusCode::FORBIDDEN
    );
    let req = Request::get("/v1/nosuch/x")
        .header("x-vault-token", init.root_token.as_str())
        .body(Body::empty())
        .expect("req");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx() {
    let (_core, app) = app(64).await;
    let (status, _, body) = call(&app, "PUT", "/v1/sys/init", "{bad").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.starts_with("{\"errors\":[\"failed to decode JSON input:"),
        "{body}"
    );
    let (status, _, body) = call(&app, "PUT", "/v1/sys/init", "{\"secret_shares\":\"x\"}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, _) = call(
        &app,
        "PUT",
        "/v1/sys/init",
        &format!("{{\"pad\":\"{}\"}}", "x".repeat(100)),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _, body) = call(
        &app,
        "PUT",
        "/v1/sys/init",
        "{\"secret_shares\":3,\"secret_threshold\":1}",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("threshold must be greater than one for multiple shares"),
        "{body}"
    );
    assert_eq!(
        call(&app, "PUT", "/v1/sys/seal-status", "").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        call(&app, "PUT", "/v1/sys/unseal", "{\"key\":\"zz\"}")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
}

/// An unsealed core and its root token.
async fn unsealed_app() -> (axum::Router, String) {
    let (core, app) = app(1 << 20).await;
    let init = core
        .init(InitParams {
            secret_shares: 1,
            secret_threshold: 1,
            ..Default::default()
        })
        .await
        .expect("init");
    core.unseal(Some(&hex::encode(&init.keys[0])), false)
        .await
        .expect("unseal");
    (app, init.root_token.to_string())
}

async fn authed(
    app: &axum::Router,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (StatusCode, serde_json::Value, String) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("x-vault-token", token)
        .header("content-type", "application/merge-patch+json")
        .body(Body::from(body.to_owned()))
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, json, text)
}

#[tokio::test]
async fn kv_v2_wire_shapes() {
    let (app, root) = unsealed_app().await;
    let (s, _, body) = authed(
        &app,
        &root,
        "POST",
        "/v1/sys/mounts/kv",
        r#"{"type":"kv-v2"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    let (s, j, _) = authed(&app, &root, "PUT", "/v1/kv/data/a", r#"{"data":{"x":"1"}}"#).await;
    assert_eq!(
        (s, j["data"]["version"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    // An unknown field earns a warning on an answer that has a body; a bare 204 stays one,
    // as in OpenBao.
    let (s, _, _) = authed(&app, &root, "PUT", "/v1/kv/metadata/a", r#"{"bogus":1}"#).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let body = r#"{"data":{"x":"2"},"bogus":1}"#;
    let (s, j, _) = authed(&app, &root, "PUT", "/v1/kv/data/a", body).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        j["warnings"][0],
        "Endpoint ignored these unrecognized parameters: [bogus]"
    );
    // A deleted version: 404 with the full envelope.
    assert_eq!(
        authed(&app, &root, "DELETE", "/v1/kv/data/a", "").await.0,
        StatusCode::NO_CONTENT
    );
    let (s, j, _) = authed(&app, &root, "GET", "/v1/kv/data/a", "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(j["data"]["data"], serde_json::Value::Null);
    assert_eq!(j["data"]["metadata"]["version"], 2);
    // Lists: both spellings, 404 when empty, 405 where there is nothing to list.
    let (s, j, _) = authed(&app, &root, "LIST", "/v1/kv/metadata", "").await;
    assert_eq!(
        (s, j["data"]["keys"].clone()),
        (StatusCode::OK, serde_json::json!(["a"]))
    );
    let (s, j, _) = authed(&app, &root, "GET", "/v1/kv/metadata/?list=true", "").await;
    assert_eq!(
        (s, j["data"]["keys"].clone()),
        (StatusCode::OK, serde_json::json!(["a"]))
    );
    let (s, _, body) = authed(&app, &root, "LIST", "/v1/kv/metadata/none/", "").await;
    assert_eq!(
        (s, body.as_str()),
        (StatusCode::NOT_FOUND, "{\"errors\":[]}\n")
    );
    assert_eq!(
        authed(&app, &root, "LIST", "/v1/kv/data/", "").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    // Paths that would leave what they name are refused before any engine sees them.
    for bad in [
        "/v1/kv/data/../x",
        "/v1/kv/data/./x",
        "/v1/kv//data/x",
        "/v1/kv/data/a%2F..%2Fb",
    ] {
        let (s, _, body) = authed(&app, &root, "GET", bad, "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    // %2F is a slash, as in OpenBao.
    authed(
        &app,
        &root,
        "PUT",
        "/v1/kv/data/p%2Fq",
        r#"{"data":{"y":"2"}}"#,
    )
    .await;
    let (s, j, _) = authed(&app, &root, "GET", "/v1/kv/data/p/q", "").await;
    assert_eq!(
        (s, j["data"]["data"]["y"].clone()),
        (StatusCode::OK, "2".into())
    );
}

#[tokio::test]
async fn sys_mounts_copies_data_to_the_top_level() {
    let (app, root) = unsealed_app().await;
    let (s, j, text) = authed(&app, &root, "GET", "/v1/sys/mounts", "").await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert_eq!(j["sys/"]["type"], "system");
    assert_eq!(j["data"]["sys/"], j["sys/"]);
    assert_eq!(j["data"]["cubbyhole/"]["local"], true);
    // The copy comes first, then the envelope in its own order.
    let request_id = text.find("\"request_id\"").expect("request_id");
    assert!(text.find("\"sys/\"").expect("sys/") < request_id, "{text}");
    assert!(request_id < text.find("\"lease_id\"").expect("lease_id"));
    // The CLI's preflight: the owning mount with its path, or 403 for no mount, even root.
    let (s, j, _) = authed(&app, &root, "GET", "/v1/sys/internal/ui/mounts/sys/foo", "").await;
    assert_eq!(
        (s, j["data"]["path"].clone()),
        (StatusCode::OK, "sys/".into())
    );
    let (s, _, body) = authed(
        &app,
        &root,
        "GET",
        "/v1/sys/internal/ui/mounts/nosuch/x",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        body.contains("preflight capability check returned 403"),
        "{body}"
    );
    // Without a token the list is served, with nothing in it that is not `unauth`.
    let (s, _, body) = call(&app, "GET", "/v1/sys/internal/ui/mounts", "").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(!body.contains("sys/"), "{body}");
    let (s, _, _) = authed(&app, "bogus", "GET", "/v1/sys/internal/ui/mounts", "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        authed(&app, &root, "GET", "/v1/sys/mounts/", "").await.0,
        StatusCode::NOT_FOUND
    );
}

/// The whole login path in process: `sys/auth`, a userpass user, the login's token and its
/// policies, the lockout counting only wrong passwords of real users, `sys/locked-users`,
/// and disabling the method revoking what it issued.
#[tokio::test]
async fn userpass_logins_through_the_pipeline() {
    let (app, root) = unsealed_app().await;
    let ok = |s: StatusCode, body: &str| assert!(s.is_success(), "{s}: {body}");
    let (s, _, b) = authed(
        &app,
        &root,
        "POST",
        "/v1/sys/auth/userpass",
        r#"{"type":"userpass"}"#,
    )
    .await;
    ok(s, &b);
    let (s, j, b) = authed(&app, &root, "GET", "/v1/sys/auth", "").await;
    ok(s, &b);
    let accessor = j["data"]["userpass/"]["accessor"]
        .as_str()
        .expect("accessor")
        .to_owned();
    assert!(accessor.starts_with("auth_userpass_"), "{accessor}");
    assert_eq!(
        j["data"]["userpass/"]["config"]["token_type"],
        "default-service"
    );
    assert_eq!(j["token/"]["type"], "token", "copied to the top level: {b}");
    let (s, j, _) = authed(
        &app,
        &root,
        "POST",
        "/v1/sys/auth/userpass",
        r#"{"type":"userpass"}"#,
    )
    .await;
    assert_eq!(
        (s.as_u16(), j["errors"][0].as_str()),
        (400, Some("path is already in use at userpass/"))
    );

    let policy = r#"{"policy":"path \"secret/*\" { capabilities = [\"read\"] }"}"#;
    let (s, _, b) = authed(&app, &root, "PUT", "/v1/sys/policies/acl/reader", policy).await;
    ok(s, &b);
    let user =
        r#"{"password":"pw1","token_policies":"reader","token_ttl":"1h","token_max_ttl":"2h"}"#;
    let (s, _, b) = authed(&app, &root, "POST", "/v1/auth/userpass/users/Bob", user).await;
    ok(s, &b);
    let (s, j, b) = authed(&app, &root, "GET", "/v1/auth/userpass/users/bob", "").await;
    ok(s, &b);
    assert_eq!(j["data"]["token_policies"], serde_json::json!(["reader"]));
    assert_eq!(j["data"]["token_ttl"], 3600);
    assert!(!b.contains("pw1") && !b.contains("password_hash"), "{b}");

    let login = |pw: &str| format!(r#"{{"password":"{pw}"}}"#);
    let (s, j, b) = call_json(&app, "POST", "/v1/auth/userpass/login/BOB", &login("pw1")).await;
    ok(s, &b);
    let auth = &j["auth"];
    assert_eq!(auth["policies"], serde_json::json!(["default", "reader"]));
    assert_eq!(auth["metadata"]["username"], "bob");
    assert_eq!(auth["lease_duration"], 3600);
    assert_eq!(auth["orphan"], true);
    let token = auth["client_token"].as_str().expect("token").to_owned();
    let (s, j, b) = authed(&app, &token, "GET", "/v1/auth/token/lookup-self", "").await;
    ok(s, &b);
    assert_eq!(j["data"]["display_name"], "userpass-bob");
    assert_eq!(j["data"]["path"], "auth/userpass/login/BOB");
    let (s, _, _) = authed(&app, &token, "GET", "/v1/sys/auth", "").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "reader may not list auth methods");
    // Renewal is capped by the user's token_max_ttl (2h), whatever the increment.
    let (s, j, b) = authed(
        &app,
        &token,
        "POST",
        "/v1/auth/token/renew-self",
        r#"{"increment":"10h"}"#,
    )
    .await;
    ok(s, &b);
    let granted = j["auth"]["lease_duration"].as_u64().expect("ttl");
    assert!((7190..=7200).contains(&granted), "{b}");
    assert!(
        j["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("exceeded the effective max_ttl")),
        "{b}"
    );

    // An unknown user never counts; five wrong passwords lock bob, even against the right one.
    for _ in 0..6 {
        let (s, j, _) =
            call_json(&app, "POST", "/v1/auth/userpass/login/nobody", &login("x")).await;
        assert_eq!(
            (s.as_u16(), j["errors"][0].as_str()),
            (400, Some("invalid username or password"))
        );
    }
    for _ in 0..5 {
        let (s, j, _) = call_json(&app, "POST", "/v1/auth/userpass/login/bob", &login("bad")).await;
        assert_eq!(
            (s.as_u16(), j["errors"][0].as_str()),
            (400, Some("invalid username or password"))
        );
    }
    let (s, j, _) = call_json(&app, "POST", "/v1/auth/userpass/login/bob", &login("pw1")).await;
    assert_eq!(
        (s.as_u16(), j["errors"][0].as_str()),
        (403, Some("permission denied"))
    );
    let (s, j, b) = authed(&app, &root, "GET", "/v1/sys/locked-users", "").await;
    ok(s, &b);
    assert_eq!(j["data"]["total"], 1, "{b}");
    let m = &j["data"]["by_namespace"][0]["mount_accessors"][0];
    assert_eq!(
        (m["mount_accessor"].as_str(), &m["alias_identifiers"]),
        (Some(accessor.as_str()), &serde_json::json!(["bob"]))
    );
    let unlock = format!("/v1/sys/locked-users/{accessor}/unlock/bob");
    let (s, _, b) = authed(&app, &root, "POST", &unlock, "").await;
    ok(s, &b);
    let (s, j, b) = call_json(&app, "POST", "/v1/auth/userpass/login/bob", &login("pw1")).await;
    ok(s, &b);
    let token = j["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_owned();

    // The method is asked at renewal: changed policies or a deleted user stop renewals.
    let (s, _, b) = authed(&app, &token, "POST", "/v1/auth/token/renew-self", "{}").await;
    ok(s, &b);
    let other = r#"{"token_policies":"reader,other"}"#;
    let (s, _, b) = authed(
        &app,
        &root,
        "POST",
        "/v1/auth/userpass/users/bob/policies",
        other,
    )
    .await;
    ok(s, &b);
    let (s, j, _) = authed(&app, &token, "POST", "/v1/auth/token/renew-self", "{}").await;
    assert_eq!(
        (s.as_u16(), j["errors"][0].as_str()),
        (400, Some("policies have changed, not renewing"))
    );
    let (s, _, b) = authed(&app, &root, "DELETE", "/v1/auth/userpass/users/bob", "").await;
    ok(s, &b);
    let (s, j, _) = authed(&app, &token, "POST", "/v1/auth/token/renew-self", "{}").await;
    assert_eq!(
        (s.as_u16(), j["errors"][0].as_str()),
        (400, Some("user \"bob\" no longer exists, not renewing"))
    );
    let (s, _, _) = call_json(&app, "POST", "/v1/auth/userpass/login/bob", &login("pw1")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a deleted user cannot log in");

    // Disabling the method revokes its tokens; the token store cannot be disabled.
    let (s, j, _) = authed(&app, &root, "DELETE", "/v1/sys/auth/token", "").await;
    assert_eq!(
        (s.as_u16(), j["errors"][0].as_str()),
        (400, Some("token credential backend cannot be disabled"))
    );
    let (s, _, b) = authed(&app, &root, "DELETE", "/v1/sys/auth/userpass", "").await;
    ok(s, &b);
    let (s, _, _) = authed(&app, &token, "GET", "/v1/auth/token/lookup-self", "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call_json(&app, "POST", "/v1/auth/userpass/login/bob", &login("pw1")).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "no method there any more: no login path"
    );
}

/// An unauthenticated JSON call.
async fn call_json(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: &str,
) -> (StatusCode, serde_json::Value, String) {
    let (s, _, text) = call(app, method, path, body).await;
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (s, json, text)
}

/// Concurrent guesses at one user take turns: only a bounded few beyond the lockout
/// threshold reach the password check, however many arrive at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_do_not_outrun_the_lockout() {
    let (app, root) = unsealed_app().await;
    let ok = |s: StatusCode, body: &str| assert!(s.is_success(), "{s}: {body}");
    let (s, _, b) = authed(
        &app,
        &root,
        "POST",
        "/v1/sys/auth/userpass",
        r#"{"type":"userpass"}"#,
    )
    .await;
    ok(s, &b);
    let tune = r#"{"user_lockout_config":{"lockout_threshold":"3"}}"#;
    let (s, _, b) = authed(&app, &root, "POST", "/v1/sys/auth/userpass/tune", tune).await;
    ok(s, &b);
    let (s, _, b) = authed(
        &app,
        &root,
        "POST",
        "/v1/auth/userpass/users/eve",
        r#"{"password":"right"}"#,
    )
    .await;
    ok(s, &b);
    const GUESSES: usize = 40;
    let guesses: Vec<_> = (0..GUESSES)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let body = format!(r#"{{"password":"wrong-{i}"}}"#);
                call(&app, "POST", "/v1/auth/userpass/login/eve", &body)
                    .await
                    .0
            })
        })
        .collect();
    let mut codes = Vec::new();
    for g in guesses {
        codes.push(g.await.expect("join").as_u16());
    }
    let checked = codes.iter().filter(|c| **c == 400).count();
    let locked = codes.iter().filter(|c| **c == 403).count();
    // Threshold 3: at least 3 wrong passwords are checked, and at most 2 + TURNS before
    // the counts catch up; every other guess is refused unchecked.
    let most = 2 + crate::auth::lockout::TURNS;
    assert!((3..=most).contains(&checked), "{codes:?}");
    assert_eq!(checked + locked, GUESSES, "{codes:?}");
}

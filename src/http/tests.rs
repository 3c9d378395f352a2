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
    let core = Core::open(Arc::new(storage::MemBackend::new()), SealKind::Shamir)
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

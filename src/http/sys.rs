//! The raw `sys/` handlers: unauthenticated (but `sys/seal`), usable while sealed, answering
//! plain JSON without the logical envelope, as OpenBao does.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::extract::{body_bytes, body_data, token, typed};
use super::{json_response, no_content, ApiError, AppState};
use crate::core::{Health, InitParams, SealStatus};
use crate::version;

type Result<T, E = ApiError> = std::result::Result<T, E>;

fn is_write(method: &Method) -> bool {
    method == Method::PUT || method == Method::POST
}

async fn read_typed<T: serde::de::DeserializeOwned + Default>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<T> {
    let bytes = body_bytes(body, state.max_request_size).await?;
    typed(body_data(headers, &bytes)?)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InitBody {
    secret_shares: i64,
    secret_threshold: i64,
    stored_shares: i64,
    pgp_keys: Option<Vec<String>>,
    root_token_pgp_key: String,
    recovery_shares: i64,
    recovery_threshold: i64,
    recovery_pgp_keys: Option<Vec<String>>,
}

#[derive(Serialize)]
struct InitAnswer {
    keys: Vec<String>,
    keys_base64: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    recovery_keys: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    recovery_keys_base64: Vec<String>,
    root_token: String,
}

/// `GET|PUT sys/init`.
pub(super) async fn init(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    if method == Method::GET {
        let initialized = state.core.is_initialized();
        return Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({ "initialized": initialized }),
        ));
    }
    if !is_write(&method) {
        return Err(ApiError::MethodNotAllowed);
    }
    let body: InitBody = read_typed(&state, &headers, body).await?;
    let has_pgp = |keys: &Option<Vec<String>>| keys.as_ref().is_some_and(|k| !k.is_empty());
    let params = InitParams {
        secret_shares: body.secret_shares,
        secret_threshold: body.secret_threshold,
        recovery_shares: body.recovery_shares,
        recovery_threshold: body.recovery_threshold,
        stored_shares: body.stored_shares,
        pgp_keys: has_pgp(&body.pgp_keys)
            || has_pgp(&body.recovery_pgp_keys)
            || !body.root_token_pgp_key.is_empty(),
        root_token_id: None,
    };
    let result = state.core.init(params).await?;
    let hex_all =
        |keys: &[zeroize::Zeroizing<Vec<u8>>]| keys.iter().map(hex::encode).collect::<Vec<_>>();
    let b64_all = |keys: &[zeroize::Zeroizing<Vec<u8>>]| {
        keys.iter()
            .map(|k| base64::engine::general_purpose::STANDARD.encode(k))
            .collect::<Vec<_>>()
    };
    let answer = InitAnswer {
        keys: hex_all(&result.keys),
        keys_base64: b64_all(&result.keys),
        recovery_keys: hex_all(&result.recovery_keys),
        recovery_keys_base64: b64_all(&result.recovery_keys),
        root_token: result.root_token.to_string(),
    };
    Ok(json_response(StatusCode::OK, &answer))
}

#[derive(Serialize)]
struct SealStatusAnswer {
    r#type: &'static str,
    initialized: bool,
    sealed: bool,
    t: u32,
    n: u32,
    progress: usize,
    nonce: String,
    recovery_seal: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_seal_type: Option<&'static str>,
    version: &'static str,
    commit_date: &'static str,
    migration: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_id: Option<String>,
    storage_type: &'static str,
}

fn seal_status_answer(s: SealStatus) -> Response {
    let (cluster_name, cluster_id) = s.cluster.map_or((None, None), |(n, i)| (Some(n), Some(i)));
    json_response(
        StatusCode::OK,
        &SealStatusAnswer {
            r#type: s.seal_type,
            initialized: s.initialized,
            sealed: s.sealed,
            t: s.threshold,
            n: s.shares,
            progress: s.progress,
            nonce: s.nonce,
            recovery_seal: s.recovery_seal,
            recovery_seal_type: s.recovery_seal.then_some("shamir"),
            version: version::WIRE_VERSION,
            commit_date: version::COMMIT_DATE,
            migration: false,
            cluster_name,
            cluster_id,
            storage_type: s.storage_type,
        },
    )
}

/// `GET sys/seal-status`.
pub(super) async fn seal_status(State(state): State<AppState>, method: Method) -> Result<Response> {
    if method != Method::GET {
        return Err(ApiError::MethodNotAllowed);
    }
    Ok(seal_status_answer(state.core.seal_status().await?))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UnsealBody {
    key: Option<String>,
    reset: bool,
    migrate: bool,
}

/// `PUT sys/unseal`.
pub(super) async fn unseal(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    if !is_write(&method) {
        return Err(ApiError::MethodNotAllowed);
    }
    let body: UnsealBody = read_typed(&state, &headers, body).await?;
    if body.migrate {
        return Err(ApiError::BadRequest(
            "seal migration is not supported by this server".into(),
        ));
    }
    let status = state.core.unseal(body.key.as_deref(), body.reset).await?;
    Ok(seal_status_answer(status))
}

/// `PUT sys/seal`: root only.
pub(super) async fn seal(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response> {
    if !is_write(&method) {
        return Err(ApiError::MethodNotAllowed);
    }
    state.core.seal(token(&headers).as_deref()).await?;
    Ok(no_content())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct HealthQuery {
    standbyok: Option<String>,
    perfstandbyok: Option<String>,
    activecode: Option<String>,
    standbycode: Option<String>,
    sealedcode: Option<String>,
    uninitcode: Option<String>,
    drsecondarycode: Option<String>,
    performancestandbycode: Option<String>,
}

#[derive(Serialize)]
struct HealthAnswer {
    initialized: bool,
    sealed: bool,
    standby: bool,
    replication_performance_mode: &'static str,
    replication_dr_mode: &'static str,
    server_time_utc: i64,
    version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_id: Option<String>,
}

/// Go's `strconv.ParseBool`, which OpenBao uses for `standbyok`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A status code override; OpenBao takes any integer Go's HTTP server will write.
fn parse_code(s: &Option<String>, default: StatusCode) -> Result<StatusCode> {
    match s {
        None => Ok(default),
        Some(s) => s
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .ok_or(ApiError::BadRequestBare),
    }
}

/// `GET|HEAD sys/health`: status by the first matching rule — uninitialized, sealed,
/// standby (not while `standbyok`), active — each code overridable by the query.
pub(super) async fn health(
    State(state): State<AppState>,
    method: Method,
    query: std::result::Result<Query<HealthQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    if method != Method::GET && method != Method::HEAD {
        return Err(ApiError::MethodNotAllowed);
    }
    let Query(q) = query.map_err(|_| ApiError::BadRequestBare)?;
    // Parsed even when unused, so a malformed value is refused whatever the state.
    let _standby_ok = q
        .standbyok
        .as_deref()
        .map(|s| parse_bool(s).ok_or(ApiError::BadRequestBare))
        .transpose()?;
    let _perf_standby_ok = q
        .perfstandbyok
        .as_deref()
        .map(|s| parse_bool(s).ok_or(ApiError::BadRequestBare))
        .transpose()?;
    let active = parse_code(&q.activecode, StatusCode::OK)?;
    let _standby = parse_code(&q.standbycode, StatusCode::TOO_MANY_REQUESTS)?;
    let sealed = parse_code(&q.sealedcode, StatusCode::SERVICE_UNAVAILABLE)?;
    let uninit = parse_code(&q.uninitcode, StatusCode::NOT_IMPLEMENTED)?;
    let _ = (&q.drsecondarycode, &q.performancestandbycode);

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (status, body) = match state.core.health() {
        Health::Uninitialized => (uninit, down(false, now)),
        Health::Sealed => (sealed, down(true, now)),
        // A single node without HA storage is always the active node.
        Health::Active {
            cluster_name,
            cluster_id,
        } => (
            active,
            HealthAnswer {
                initialized: true,
                sealed: false,
                standby: false,
                replication_performance_mode: "disabled",
                replication_dr_mode: "disabled",
                server_time_utc: now,
                version: version::WIRE_VERSION,
                cluster_name: Some(cluster_name),
                cluster_id: Some(cluster_id),
            },
        ),
    };
    if method == Method::HEAD {
        let mut resp = ().into_response();
        *resp.status_mut() = status;
        return Ok(resp);
    }
    Ok(json_response(status, &body))
}

fn down(initialized: bool, now: i64) -> HealthAnswer {
    HealthAnswer {
        initialized,
        sealed: true,
        standby: true,
        replication_performance_mode: "unknown",
        replication_dr_mode: "unknown",
        server_time_utc: now,
        version: version::WIRE_VERSION,
        cluster_name: None,
        cluster_id: None,
    }
}

/// `GET sys/leader`: a single node without HA storage reports `ha_enabled: false`.
pub(super) async fn leader(State(state): State<AppState>, method: Method) -> Result<Response> {
    if method != Method::GET {
        return Err(ApiError::MethodNotAllowed);
    }
    state.core.unsealed()?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "ha_enabled": false }),
    ))
}

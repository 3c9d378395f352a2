//! `sys/leases/*`. Tokens are the only leases so far (KV and Transit create none); a token's
//! lease id is its creation path and salted id (`auth/token/create/h…`), as in OpenBao.

use serde_json::json;
use time::OffsetDateTime;

use crate::engine::{fields, rfc3339_nano, EngineError, EngineRequest, EngineResponse};
use crate::logical::Body;
use crate::token::{TokenEntry, TokenStore};

fn invalid() -> EngineError {
    EngineError::InvalidRequest("invalid lease".into())
}

/// The token a lease id names, if it is live.
async fn token_of(tokens: &TokenStore, lease_id: &str) -> Result<Option<TokenEntry>, EngineError> {
    let Some((_, salted)) = lease_id.rsplit_once('/') else {
        return Ok(None);
    };
    Ok(tokens
        .live(salted)
        .await?
        .filter(|e| e.ttl > 0 && e.lease_id() == lease_id))
}

/// The lease id from the body, or from the path after `renew/` / `revoke/`.
fn lease_id(req: &EngineRequest) -> Result<String, EngineError> {
    let from_path = req.params.get("id");
    if !from_path.is_empty() {
        return Ok(from_path.to_owned());
    }
    Ok(fields::string(&req.data, "lease_id")?.unwrap_or_default())
}

fn at(ns: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .map(rfc3339_nano)
        .unwrap_or_default()
}

pub(super) async fn lookup(
    tokens: &TokenStore,
    req: &EngineRequest,
    now: OffsetDateTime,
) -> Result<EngineResponse, EngineError> {
    let id = lease_id(req)?;
    if id.is_empty() {
        return Err(EngineError::InvalidRequest("missing lease id".into()));
    }
    let e = token_of(tokens, &id).await?.ok_or_else(invalid)?;
    let now_ns = now.unix_timestamp_nanos() as i64;
    let ttl = e
        .expire_ns
        .map_or(0, |x| ((x - now_ns).max(0) / 1_000_000_000) as u64);
    Ok(EngineResponse::data(crate::logical::object(json!({
        "expire_time": e.expire_ns.map(at),
        "id": id,
        "issue_time": at(e.issue_ns),
        "last_renewal": e.last_renewal_ns.map(at),
        "renewable": e.renewable,
        "ttl": ttl,
    }))))
}

/// `LIST sys/leases/lookup/<prefix>/`: the next segment of every lease id below it.
pub(super) async fn list(tokens: &TokenStore, prefix: &str) -> Result<EngineResponse, EngineError> {
    let mut keys: Vec<String> = tokens
        .with_lease_prefix(prefix)
        .await?
        .iter()
        .filter_map(|e| {
            let rest = e.lease_id()[prefix.len()..].to_owned();
            match rest.split_once('/') {
                Some((dir, _)) => Some(format!("{dir}/")),
                None => Some(rest),
            }
        })
        .collect();
    keys.sort();
    keys.dedup();
    Ok(EngineResponse::list(keys))
}

pub(super) async fn renew(
    tokens: &TokenStore,
    req: &EngineRequest,
    now: OffsetDateTime,
) -> Result<EngineResponse, EngineError> {
    let id = lease_id(req)?;
    let e = token_of(tokens, &id).await?.ok_or_else(invalid)?;
    let increment = fields::duration(&req.data, "increment")?;
    let renewed = crate::token::renew(tokens, &e, increment, now).await?;
    let now_ns = now.unix_timestamp_nanos() as i64;
    Ok(EngineResponse {
        lease_id: id,
        renewable: renewed.renewable,
        lease_duration: renewed
            .expire_ns
            .map_or(0, |x| ((x - now_ns).max(0) / 1_000_000_000) as u64),
        ..EngineResponse::default()
    })
}

pub(super) async fn revoke(
    tokens: &TokenStore,
    req: &EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let id = lease_id(req)?;
    if let Some(e) = token_of(tokens, &id).await? {
        tokens.revoke_tree(&e.salted_id).await?;
    }
    Ok(EngineResponse::no_content())
}

/// `revoke-prefix/<prefix>` and `revoke-force/<prefix>` (the same here: token revocation
/// cannot fail the way a dynamic secret's backend can).
pub(super) async fn revoke_prefix(
    tokens: &TokenStore,
    req: &EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let prefix = req.params.get("prefix");
    for e in tokens.with_lease_prefix(prefix).await? {
        tokens.revoke_tree(&e.salted_id).await?;
    }
    Ok(EngineResponse::no_content())
}

pub(super) async fn tidy(
    tokens: &TokenStore,
    now: OffsetDateTime,
) -> Result<EngineResponse, EngineError> {
    tokens.expire_due(now).await?;
    Ok(EngineResponse {
        body: Body::Accepted,
        warnings: vec![
            "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.".into(),
        ],
        ..EngineResponse::default()
    })
}

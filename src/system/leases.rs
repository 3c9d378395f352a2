//! `sys/leases/*`, over the expiration manager ([`crate::lease`]): token leases
//! (`auth/token/create/h…`) and, once engines issue them, secret leases.

use serde_json::json;
use time::OffsetDateTime;

use crate::engine::{fields, rfc3339_nano, EngineError, EngineRequest, EngineResponse};
use crate::lease::ExpirationManager;
use crate::logical::Body;

/// Which `sys/leases` endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Lookup,
    List,
    Renew,
    Revoke,
    RevokePrefix,
    RevokeForce,
    Tidy,
}

const TIDY_WARNING: &str = "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.";

fn at(ns: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .map(rfc3339_nano)
        .unwrap_or_default()
}

/// The lease id from the body, or else from the path after `renew/` / `revoke/`.
fn lease_id(req: &EngineRequest) -> Result<String, EngineError> {
    let body = fields::string(&req.data, "lease_id")?.unwrap_or_default();
    let id = if body.is_empty() {
        req.params.get("id").to_owned()
    } else {
        body
    };
    if id.is_empty() {
        return Err(EngineError::InvalidRequest(
            "lease_id must be specified".into(),
        ));
    }
    Ok(id)
}

fn accepted() -> EngineResponse {
    EngineResponse {
        body: Body::Accepted,
        ..EngineResponse::default()
    }
}

pub(super) async fn handle(
    leases: &ExpirationManager,
    op: Op,
    req: EngineRequest,
    now: OffsetDateTime,
) -> Result<EngineResponse, EngineError> {
    match op {
        Op::Lookup => {
            let id = lease_id(&req)?;
            let Some(info) = leases.lookup(&id).await? else {
                return Err(EngineError::InvalidRequest("invalid lease".into()));
            };
            let now_ns = crate::token::nanos(now);
            let mut d = crate::logical::object(json!({
                "expire_time": info.expire_ns.map(at),
                "id": id,
                "issue_time": at(info.issue_ns),
                "last_renewal": info.last_renewal_ns.map(at),
                "path": info.path,
                "renewable": info.renewable,
                "ttl": info.expire_ns.map_or(0, |x| crate::token::ttl_left(x, now_ns)),
            }));
            if !info.revoke_err.is_empty() {
                d.insert("revoke_error".into(), json!(info.revoke_err));
            }
            Ok(EngineResponse::data(d))
        }
        Op::List => Ok(EngineResponse::list(
            leases.list(req.params.get("prefix")).await?,
        )),
        Op::Renew => {
            let id = lease_id(&req)?;
            let increment = fields::duration(&req.data, "increment")?;
            let (le, warnings) = leases.renew(&id, increment).await?;
            Ok(EngineResponse {
                lease_id: le.lease_id,
                renewable: le.renewable,
                lease_duration: le.ttl,
                warnings,
                ..EngineResponse::default()
            })
        }
        Op::Revoke => {
            let id = lease_id(&req)?;
            leases.revoke(&id).await?;
            Ok(match fields::boolean(&req.data, "sync")?.unwrap_or(true) {
                true => EngineResponse::no_content(),
                false => accepted(),
            })
        }
        Op::RevokePrefix | Op::RevokeForce => {
            let force = op == Op::RevokeForce;
            leases
                .revoke_prefix(req.params.get("prefix"), force)
                .await?;
            let sync = force || fields::boolean(&req.data, "sync")?.unwrap_or(true);
            Ok(if sync {
                EngineResponse::no_content()
            } else {
                accepted()
            })
        }
        Op::Tidy => {
            let ended = leases.tidy().await?;
            tracing::info!(ended, "lease tidy");
            Ok(EngineResponse {
                warnings: vec![TIDY_WARNING.into()],
                ..accepted()
            })
        }
    }
}

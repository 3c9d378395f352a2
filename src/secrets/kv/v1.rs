//! KV version 1: one JSON object per key, replaced whole on every write, no history.

use serde_json::Value;

use crate::engine::{fields, Backend, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::engine::{Flags, Ops, Params, Path};
use crate::logical::{Body, Operation};

pub(super) const PREFIX: &str = "v1/";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Key,
}

/// The unversioned KV engine. Stateless: everything is in the mount's view.
pub(crate) struct KvV1;

impl Backend for KvV1 {
    type Route = Route;

    const PATHS: &'static [Path<Route>] = &[Path::new("{*path}", Route::Key)
        .or_empty()
        .ops(
            Ops::READ
                .union(Ops::LIST)
                .union(Ops::WRITE)
                .union(Ops::DELETE),
        )
        .flags(Flags::EXISTENCE_CHECK)
        .help("Pass-through secret storage: any JSON object, replaced on write.")];

    async fn handle(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        req: EngineRequest,
    ) -> Result<EngineResponse, EngineError> {
        let Route::Key = route;
        let key = format!("{PREFIX}{}", req.params.get("path"));
        let mut resp = serve(ctx, &key, &key, req).await?;
        if let Body::Data(data) = &resp.body {
            // OpenBao reports a `ttl` (or `lease`) key as the lease duration, uncapped; one
            // that is not a duration is ignored in favour of the mount's default TTL.
            let ttl = ["ttl", "lease"]
                .iter()
                .find_map(|f| fields::duration(data, f).ok().flatten())
                .unwrap_or(ctx.mount.default_lease_ttl);
            resp.lease_duration = ttl.as_secs();
        }
        Ok(resp)
    }

    async fn exists(
        &self,
        ctx: &Ctx<'_>,
        _route: Route,
        params: &Params,
    ) -> Result<bool, EngineError> {
        let key = format!("{PREFIX}{}", params.get("path"));
        Ok(ctx.storage.get(&key).await?.is_some())
    }
}

/// One JSON object per key, replaced whole on every write: what KV v1 and cubbyhole both
/// serve. `shown` names the key in errors (without the storage prefix).
pub(crate) async fn serve(
    ctx: &Ctx<'_>,
    key: &str,
    shown: &str,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    match req.op {
        Operation::Read => {
            let Some(raw) = ctx.storage.get(key).await? else {
                return Ok(EngineResponse::not_found());
            };
            match serde_json::from_slice::<Value>(&raw) {
                Ok(Value::Object(map)) => Ok(EngineResponse::data(map)),
                _ => Err(EngineError::InvalidRequest(format!(
                    "the value stored at {shown:?} is not a JSON object"
                ))),
            }
        }
        Operation::List => Ok(EngineResponse::list(ctx.storage.list(key).await?)),
        Operation::Create | Operation::Update => {
            if req.data.is_empty() {
                return Err(EngineError::InvalidRequest("missing data fields".into()));
            }
            let bytes = serde_json::to_vec(&req.data)
                .map_err(|e| EngineError::InvalidRequest(format!("failed to encode data: {e}")))?;
            ctx.storage.put(key, &bytes).await?;
            Ok(EngineResponse::no_content())
        }
        Operation::Delete => {
            ctx.storage.delete(key).await?;
            Ok(EngineResponse::no_content())
        }
        Operation::Patch => Err(EngineError::UnsupportedOperation),
    }
}

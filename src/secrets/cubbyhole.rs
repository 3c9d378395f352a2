//! `cubbyhole/`: private storage per token. Each token sees only its own cubbyhole, which is
//! named by the token's salted id (never the id itself), and is gone with the token.

use serde_json::Value;

use crate::engine::{Backend, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::engine::{Flags, Ops, Params, Path};
use crate::logical::storage::{delete_tree, Storage};
use crate::logical::{Data, Operation};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Key,
}

/// Where a token's cubbyhole lives in the mount's view.
pub(crate) fn prefix(salted_id: &str) -> String {
    format!("{salted_id}/")
}

/// Remove a revoked token's cubbyhole.
pub(crate) async fn destroy(storage: &dyn Storage, salted_id: &str) -> Result<(), EngineError> {
    Ok(delete_tree(storage, &prefix(salted_id)).await?)
}

/// Stateless: the caller's cubbyhole is named by its token's salted id, which the pipeline
/// hands over as `client_id`.
pub(crate) struct Cubbyhole;

impl Backend for Cubbyhole {
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
        .help("Private storage for the calling token.")];

    async fn handle(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        req: EngineRequest,
    ) -> Result<EngineResponse, EngineError> {
        let Route::Key = route;
        let owner = match req.client_id.as_deref() {
            Some(id) => prefix(id),
            None => return Err(EngineError::InvalidRequest("client token empty".into())),
        };
        let path = req.params.get("path");
        let key = format!("{owner}{path}");
        match req.op {
            Operation::Read => {
                let Some(raw) = ctx.storage.get(&key).await? else {
                    return Ok(EngineResponse::not_found());
                };
                match serde_json::from_slice::<Value>(&raw) {
                    Ok(Value::Object(map)) => Ok(EngineResponse::data(map)),
                    _ => Err(EngineError::InvalidRequest(
                        "json decoding failed: the stored value is not an object".into(),
                    )),
                }
            }
            Operation::List => Ok(EngineResponse::list(ctx.storage.list(&key).await?)),
            Operation::Create | Operation::Update => {
                if path.is_empty() {
                    return Err(EngineError::InvalidRequest("missing path".into()));
                }
                if req.data.is_empty() {
                    return Err(EngineError::InvalidRequest("missing data fields".into()));
                }
                let bytes = encode(&req.data)?;
                ctx.storage.put(&key, &bytes).await?;
                Ok(EngineResponse::no_content())
            }
            Operation::Delete => {
                ctx.storage.delete(&key).await?;
                Ok(EngineResponse::no_content())
            }
            Operation::Patch => Err(EngineError::UnsupportedOperation),
        }
    }

    async fn exists(
        &self,
        ctx: &Ctx<'_>,
        _route: Route,
        params: &Params,
    ) -> Result<bool, EngineError> {
        // The existence check has no token at hand; a write is then an update, which the
        // default policy grants alongside create on `cubbyhole/*`.
        let _ = (ctx, params);
        Ok(true)
    }
}

fn encode(data: &Data) -> Result<Vec<u8>, EngineError> {
    serde_json::to_vec(data)
        .map_err(|e| EngineError::InvalidRequest(format!("failed to encode data: {e}")))
}

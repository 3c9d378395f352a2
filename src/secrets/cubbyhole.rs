//! `cubbyhole/`: private storage per token. Each token sees only its own cubbyhole, which is
//! named by the token's salted id (never the id itself), and is gone with the token.

use crate::engine::{Backend, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::engine::{Flags, Ops, Params, Path};
use crate::logical::storage::{delete_tree, Storage};
use crate::secrets::kv;

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
        let path = req.params.get("path").to_owned();
        if req.op.is_write() && path.is_empty() {
            return Err(EngineError::InvalidRequest("missing path".into()));
        }
        kv::v1::serve(ctx, &format!("{owner}{path}"), &path, req).await
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

//! The `auth/token/` engine: the HTTP face of the token store.

use std::sync::Arc;

use super::TokenStore;
use crate::engine::{Backend, Ctx, EngineError, EngineRequest, EngineResponse, Path};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    LookupSelf,
}

pub(crate) struct TokenBackend {
    #[allow(dead_code)]
    store: Arc<TokenStore>,
}

impl TokenBackend {
    pub(crate) fn new(store: Arc<TokenStore>) -> Self {
        Self { store }
    }
}

impl Backend for TokenBackend {
    type Route = Route;
    const PATHS: &'static [Path<Route>] = &[];

    async fn handle(
        &self,
        _ctx: &Ctx<'_>,
        route: Route,
        _req: EngineRequest,
    ) -> Result<EngineResponse, EngineError> {
        match route {
            Route::LookupSelf => Err(EngineError::UnsupportedPath),
        }
    }
}

//! `sign/` and `verify/` (path_sign_verify.go). BEING WRITTEN (helper, see
//! /work/helpers/TRANSIT_ASYM.md); verify with `hmac` already goes to `hmac::verify_hmac`.

use crate::engine::{Ctx, EngineError, EngineRequest, EngineResponse};
use crate::secrets::transit::store::Store;

pub(crate) async fn sign(
    _store: &Store,
    _ctx: &Ctx<'_>,
    _req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    Err(EngineError::UnsupportedPath)
}

pub(crate) async fn verify(
    store: &Store,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    super::hmac::verify_hmac(store, ctx, req).await
}

//! The one function that owns the security order of a logical request.
//!
//! resolve mount → token → existence check → ACL → audit → engine → leases → audit.
//! Audit and leases have nothing to do yet; the order is fixed here so they slot in without
//! moving it.

use super::{Core, Error, Result};
use crate::engine::{Ctx, EngineRequest, Flags, SystemClock};
use crate::logical::{Operation, Request, Response};

impl Core {
    pub(crate) async fn handle(&self, req: Request) -> Result<Response> {
        // 0. The barrier must be open.
        let unsealed = self.unsealed()?;
        let token = req.token.as_deref();

        // 1. Which mount serves the path. A path no mount serves is only revealed as such to
        //    a caller with a valid token, as in OpenBao.
        let Some((mount, rel)) = unsealed.router.resolve(&req.path) else {
            unsealed.authenticate(token).await?;
            return Err(Error::NoHandler(req.path));
        };
        let route = mount.backend.resolve(&rel);

        // 2. Token, unless the path is one of the engine's unauthenticated ones (logins), or
        //    takes a token only optionally and none was sent.
        let flags = route.as_ref().map(|m| m.flags).unwrap_or_default();
        let skip = flags.contains(Flags::UNAUTHENTICATED)
            || (flags.contains(Flags::TOKEN_OPTIONAL) && token.is_none());
        let entry = match skip {
            true => None,
            false => Some(unsealed.authenticate(token).await?),
        };
        let m = route?;
        let ctx = Ctx {
            storage: &mount.view,
            mount: &mount.info,
            clock: &SystemClock,
        };

        // 3. Existence check: a write to something that does not exist yet is a create. Only
        //    the ACL step tells the two apart, and a root token passes it either way, so root
        //    requests skip the extra storage read.
        let mut op = req.op;
        let is_root = entry.as_ref().is_some_and(|e| e.is_root());
        if op == Operation::Update
            && m.flags.contains(Flags::EXISTENCE_CHECK)
            && !is_root
            && !mount.backend.exists(&ctx, &m).await?
        {
            op = Operation::Create;
        }

        // 4. Policy. Until ACL policies land, the only tokens are root tokens, and any other
        //    token would be granted nothing.
        if entry.as_ref().is_some_and(|e| !e.is_root()) {
            return Err(Error::AclDenied);
        }

        // 6. The engine.
        let data_at_top_level = m.flags.contains(Flags::DATA_AT_TOP_LEVEL);
        let engine_req = EngineRequest {
            op,
            params: m.params.clone(),
            data: req.data,
            authenticated: entry.is_some(),
        };
        let mut resp = mount.backend.handle(&ctx, m, engine_req).await?;
        resp.data_at_top_level = data_at_top_level;
        Ok(resp)
    }
}

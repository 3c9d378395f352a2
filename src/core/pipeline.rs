//! The one function that owns the security order of a logical request.
//!
//! resolve mount → token → existence check → ACL → audit → engine → leases → audit.
//! Today only the first two steps have anything to do: there are no mounts yet, so every
//! authenticated request ends at "no handler". The order is fixed here so the steps that
//! follow slot in without moving it.

use super::{Core, Error, Result};
use crate::logical::{Request, Response};

impl Core {
    pub(crate) async fn handle(&self, req: Request) -> Result<Response> {
        // 0. The barrier must be open.
        let unsealed = self.unsealed()?;
        // 1. Which mount serves the path: none are mounted yet.
        // 2. Token. A path that no mount serves is still only revealed as such to a caller
        //    with a valid token, as in OpenBao.
        let _entry = unsealed.authenticate(req.token.as_deref()).await?;
        Err(Error::NoHandler(req.path))
    }
}

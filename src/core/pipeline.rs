//! The one function that owns the security order of a logical request.
//!
//! resolve mount → token (a use is spent) → existence check → ACL (+ sudo on root paths)
//! → engine → wrapping → revoke a token whose last use this was.
//!
//! The ACL is asked before anything about the path is revealed: a path no mount serves, a
//! path the mount does not know and an operation the path does not take all answer 403 to
//! a token that may not touch the path, as OpenBao does.

use std::sync::Arc;

use super::{Error, Result, Unsealed};
use crate::engine::{Ctx, EngineRequest, Flags};
use crate::logical::{Operation, Request, Response};
use crate::policy::acl::Decision;
use crate::policy::AclRequest;
use crate::router::MountTable;
use crate::token::Authenticated;

impl super::Core {
    pub(crate) async fn handle(&self, mut req: Request) -> Result<Response> {
        // Policy names are case-insensitive: OpenBao lower-cases a policy path before the
        // ACL and the handler see it (`sys/policies/acl/APONO-1` is `apono-1`).
        if req.path.starts_with("sys/policy/") || req.path.starts_with("sys/policies/") {
            req.path = req.path.to_lowercase();
        }
        // 0. The barrier must be open.
        let unsealed = self.unsealed()?;
        let resolved = unsealed.router.resolve(&req.path);
        let route = resolved
            .as_ref()
            .map(|(mount, rel)| mount.backend.resolve(rel));

        // 1. Token, unless the path is one of the engine's unauthenticated ones (logins).
        let flags = match &route {
            Some(Ok(m)) => m.flags,
            _ => Flags::empty(),
        };
        // Paths that take a token only optionally (the CLI's `sys/internal/ui/mounts`) are
        // unauthenticated paths in OpenBao: no use is spent and no ACL asked; their handler
        // looks at the token itself.
        let skip = flags.intersects(Flags::UNAUTHENTICATED | Flags::TOKEN_OPTIONAL);
        let auth = match skip {
            true => None,
            false => match unsealed
                .authenticate(req.token.as_deref(), req.connection.remote_addr)
                .await
            {
                Ok(a) => Some(a),
                // Unwrapping with the wrapping token as the client token: a spent or
                // unknown one is a bad wrapping token, not a bad client (OpenBao's 400).
                Err(Error::PermissionDenied)
                    if req.path == "sys/wrapping/unwrap" && !req.data.contains_key("token") =>
                {
                    return Err(Error::InvalidRequest(
                        "wrapping token is not valid or does not exist".into(),
                    ))
                }
                Err(e) => return Err(e),
            },
        };
        let result = handle_authenticated(&unsealed, req, resolved, route, auth.as_ref()).await;
        // The request that spent a token's last use still gets its answer; the token is
        // gone afterwards.
        if let Some(a) = auth.as_ref().filter(|a| a.last_use) {
            unsealed.tokens.finish_use(a).await?;
        }
        result
    }
}

async fn handle_authenticated(
    unsealed: &Unsealed,
    req: Request,
    resolved: Option<(Arc<crate::router::Mount>, String)>,
    route: Option<Result<crate::engine::RouteMatch, crate::engine::EngineError>>,
    auth: Option<&Authenticated>,
) -> Result<Response> {
    let mut op = req.op;
    let mut decision = Decision::default();
    if let Some(auth) = auth {
        let acl = unsealed.policies.acl(&auth.entry.policies).await?;
        // 2. Existence check: a write to something that does not exist yet is a create.
        //    Only the ACL tells the two apart, and root passes either way, so root requests
        //    skip the extra storage read.
        if let (Some((mount, _)), Some(Ok(m))) = (&resolved, &route) {
            if op == Operation::Update && m.flags.contains(Flags::EXISTENCE_CHECK) && !acl.is_root()
            {
                let ctx = Ctx {
                    storage: &mount.view,
                    mount: &mount.info,
                    clock: &*unsealed.clock,
                };
                if !mount.backend.exists(&ctx, m).await? {
                    op = Operation::Create;
                }
            }
        }
        // 3. Policy.
        decision = acl.allow(&AclRequest {
            op,
            path: &req.path,
            data: &req.data,
            wrap_ttl: req.wrap_ttl,
        });
        let root_path = flags_of(&route).contains(Flags::ROOT);
        if !decision.allowed || (root_path && !decision.sudo) {
            return Err(Error::AclDenied);
        }
    }

    // 4. Only now may the caller learn what is (not) at the path.
    let Some((mount, _)) = resolved else {
        return Err(Error::NoHandler(req.path));
    };
    let m = route.ok_or(Error::UnsupportedPath)??;
    let ctx = Ctx {
        storage: &mount.view,
        mount: &mount.info,
        clock: &*unsealed.clock,
    };

    // 5. The engine.
    let data_at_top_level = m.flags.contains(Flags::DATA_AT_TOP_LEVEL);
    let engine_req = EngineRequest {
        op,
        params: m.params.clone(),
        data: req.data,
        // Only the engines that manage tokens get to see one.
        client_token: match mount.entry.kind.as_str() {
            "token" | "system" => req.token.clone(),
            _ => None,
        },
        client_id: auth.map(|a| a.entry.salted_id.clone()),
        sudo: decision.sudo,
        wrap_ttl: req.wrap_ttl,
        connection: req.connection.clone(),
    };
    // A login: lockout around the engine, and the token it earns after it.
    let is_login =
        m.flags.contains(Flags::UNAUTHENTICATED) && mount.entry.table == MountTable::Auth;
    let mut resp = if is_login {
        let attempt = super::login::before(unsealed, &mount, &m, &engine_req).await?;
        let result = mount.backend.handle(&ctx, m, engine_req).await;
        super::login::after(unsealed, &mount, &req.path, attempt, result).await?
    } else {
        mount.backend.handle(&ctx, m, engine_req).await?
    };
    resp.data_at_top_level = data_at_top_level;

    // 6. Wrapping: the answer goes into a fresh token's cubbyhole, the token to the client.
    match req.wrap_ttl {
        Some(ttl) if crate::wrapping::wrappable(&resp) && resp.wrap_info.is_none() => {
            let cubby = unsealed
                .router
                .mount_at("cubbyhole/")
                .ok_or_else(|| Error::Internal("the cubbyhole mount is missing".into()))?;
            let now = unsealed.clock.now();
            let path = req.path.trim_end_matches('/');
            Ok(crate::wrapping::wrap(&unsealed.tokens, &cubby.view, resp, ttl, path, now).await?)
        }
        _ => Ok(resp),
    }
}

fn flags_of(
    route: &Option<Result<crate::engine::RouteMatch, crate::engine::EngineError>>,
) -> Flags {
    match route {
        Some(Ok(m)) => m.flags,
        _ => Flags::empty(),
    }
}

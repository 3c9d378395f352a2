//! The `kubernetes` auth method: a pod logs in with its service account JWT, which the
//! Kubernetes API server confirms through a TokenReview.
//!
//! # Layout
//! - [`config`]: `config` (API server, CA, reviewer JWT, `pem_keys`), and the pod's own token
//!   and CA as fallbacks.
//! - [`role`]: `role/<name>`: bound service account names and namespaces (globs), audience,
//!   alias source, token settings.
//! - [`jwt`]: parsing the JWT, the optional signature check, the registered claims, the
//!   service account claims (legacy and projected).
//! - [`review`]: the HTTPS TokenReview client.
//! - [`login`]: the login, in OpenBao's order.
//!
//! Trust: the JWT is a credential. It is never logged, never put in an error text, and the
//! copies made here are zeroized. The API server is trusted only through the configured (or
//! the pod's) CA.

mod config;
mod jwt;
mod login;
mod review;
mod role;

use std::time::Duration;

pub(crate) use config::LocalFiles;

use crate::engine::{Backend, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::engine::{Flags, LoginRecord, Ops, Params, Path};
use crate::logical::{Data, Login, Operation};

/// How long a login waits for the TokenReview answer.
const REVIEW_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Config,
    Roles,
    Role,
    Login,
}

/// The mounted method. Holds only where the pod files are and how long to wait for the API
/// server; everything else lives in the mount's storage.
pub(crate) struct Kubernetes {
    local: LocalFiles,
    review_timeout: Duration,
}

impl Kubernetes {
    pub(crate) fn new(local: LocalFiles) -> Self {
        Self {
            local,
            review_timeout: REVIEW_TIMEOUT,
        }
    }
}

impl Backend for Kubernetes {
    type Route = Route;

    const PATHS: &'static [Path<Route>] = &[
        Path::new("config", Route::Config)
            .ops(Ops::READ.union(Ops::WRITE))
            .fields(config::FIELDS)
            .help("Configures the JWT Public Key and Kubernetes API information."),
        Path::new("role/", Route::Roles)
            .ops(Ops::LIST)
            .fields(&["after", "limit"])
            .help("Lists all the roles registered with the backend."),
        Path::new("role/{name}", Route::Role)
            .ops(Ops::READ.union(Ops::WRITE).union(Ops::DELETE))
            .flags(Flags::EXISTENCE_CHECK)
            .fields(role::FIELDS)
            .help("Register an role with the backend."),
        Path::new("login", Route::Login)
            .ops(Ops::UPDATE)
            .flags(Flags::UNAUTHENTICATED)
            .fields(&["role", "jwt"])
            .help("Authenticates Kubernetes service accounts with OpenBao."),
    ];

    async fn handle(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        req: EngineRequest,
    ) -> Result<EngineResponse, EngineError> {
        match route {
            Route::Config => match req.op {
                Operation::Read => config::read(ctx).await,
                _ => config::write(ctx, &self.local, &req.data).await,
            },
            Route::Roles => role::list(ctx).await,
            Route::Role => {
                let name = req.params.get("name").to_owned();
                match req.op {
                    Operation::Read => role::read(ctx, &name).await,
                    Operation::Delete => role::delete(ctx, &name).await,
                    _ => role::write(ctx, &name, &req).await,
                }
            }
            Route::Login => login::login(ctx, &self.local, self.review_timeout, &req).await,
        }
    }

    async fn exists(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        params: &Params,
    ) -> Result<bool, EngineError> {
        match route {
            Route::Role => Ok(role::load(ctx, params.get("name")).await?.is_some()),
            _ => Ok(true),
        }
    }

    /// No lockout: OpenBao locks out userpass, approle and ldap users only.
    fn alias_lookahead(&self, _route: Route, _params: &Params, _data: &Data) -> Option<String> {
        None
    }

    /// The plugin's `pathLoginRenew`: the role must still exist; its current TTLs apply.
    async fn renew_login(
        &self,
        ctx: &Ctx<'_>,
        login: &LoginRecord,
    ) -> Result<Option<Login>, EngineError> {
        let name = login.metadata.get("role").cloned().unwrap_or_default();
        if name.is_empty() {
            return Err(EngineError::InvalidRequest(
                "failed to fetch role_name during renewal".into(),
            ));
        }
        let role = role::load(ctx, &name).await?;
        crate::auth::tokenutil::renewal(
            role.as_ref().map(|r| &r.token),
            &login.policies,
            false,
            || format!("role {name} does not exist during renewal"),
        )
    }
}

#[cfg(test)]
mod tests;

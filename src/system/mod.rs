//! The `sys/` backend: the one engine that is handed service handles (the router), because
//! its endpoints manage the server itself. The raw lifecycle handlers (`sys/init`,
//! `sys/unseal`, …) are not here: they work while sealed, so `http::sys` serves them.
//!
//! May not touch: raw `storage::Backend`; everything goes through the router and the barrier.

mod mounts;
mod ui;

use std::collections::HashMap;
use std::sync::{Mutex, Weak};

use crate::engine::{Backend, Ctx, EngineError, EngineRequest, EngineResponse, Flags, Ops, Path};
use crate::router::Router;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Mounts,
    Mount,
    Remount,
    RemountStatus,
    UiMounts,
    UiMount,
}

pub(crate) struct SystemBackend {
    router: Weak<Router>,
    /// Finished `sys/remount` migrations by id, for `sys/remount/status/<id>`. In memory, as
    /// in OpenBao: a restart forgets them.
    migrations: Mutex<HashMap<String, mounts::Migration>>,
}

const MOUNT_FIELDS: &[&str] = &[
    "type",
    "description",
    "config",
    "options",
    "local",
    "seal_wrap",
    "external_entropy_access",
    "plugin_name",
    "plugin_version",
    "path",
    // tune
    "default_lease_ttl",
    "max_lease_ttl",
    "force_no_cache",
    "listing_visibility",
    "passthrough_request_headers",
    "allowed_response_headers",
    "audit_non_hmac_request_keys",
    "audit_non_hmac_response_keys",
    "token_type",
    "user_lockout_config",
    "plugin_version",
    "allowed_managed_keys",
    "delegated_auth_accessors",
    "identity_token_key",
];

impl Backend for SystemBackend {
    type Route = Route;

    const PATHS: &'static [Path<Route>] = &[
        Path::new("mounts", Route::Mounts)
            .ops(Ops::READ)
            .flags(Flags::DATA_AT_TOP_LEVEL)
            .help("List the mounted secrets engines."),
        Path::new("mounts/{*path}", Route::Mount)
            .ops(Ops::READ.union(Ops::WRITE).union(Ops::DELETE))
            .flags(Flags::DATA_AT_TOP_LEVEL)
            .fields(MOUNT_FIELDS)
            .help("Mount, read, tune (<path>/tune) or unmount a secrets engine."),
        Path::new("remount", Route::Remount)
            .ops(Ops::WRITE)
            .flags(Flags::DATA_AT_TOP_LEVEL)
            .fields(&["from", "to"])
            .help("Move a mounted backend to a new path."),
        Path::new("remount/status/{id}", Route::RemountStatus)
            .ops(Ops::READ)
            .help("The status of a remount."),
        Path::new("internal/ui/mounts", Route::UiMounts)
            .ops(Ops::READ)
            .flags(Flags::TOKEN_OPTIONAL)
            .help("The mounts a token can see, for the UI and the CLI."),
        Path::new("internal/ui/mounts/{*path}", Route::UiMount)
            .ops(Ops::READ)
            .help("The mount serving a path, for the CLI's kv helper."),
    ];

    async fn handle(
        &self,
        _ctx: &Ctx<'_>,
        route: Route,
        req: EngineRequest,
    ) -> Result<EngineResponse, EngineError> {
        // The router outlives every request: it is owned by the `Unsealed` that the request
        // holds, so this upgrade fails only while that is being torn down.
        let router = self
            .router
            .upgrade()
            .ok_or_else(|| EngineError::InvalidRequest("the server is sealing".into()))?;
        match route {
            Route::Mounts => Ok(mounts::list(&router)),
            Route::Mount => mounts::handle(&router, req).await,
            Route::Remount => mounts::remount(self, &router, req).await,
            Route::RemountStatus => Ok(mounts::remount_status(self, &req)),
            Route::UiMounts => Ok(ui::mounts(&router, req.authenticated)),
            Route::UiMount => ui::mount(&router, &req),
        }
    }
}

impl SystemBackend {
    pub(crate) fn new(router: Weak<Router>) -> Self {
        Self {
            router,
            migrations: Mutex::new(HashMap::new()),
        }
    }
}

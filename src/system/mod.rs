//! The `sys/` backend: the one engine that is handed service handles (the router), because
//! its endpoints manage the server itself. The raw lifecycle handlers (`sys/init`,
//! `sys/unseal`, …) are not here: they work while sealed, so `http::sys` serves them.
//!
//! May not touch: raw `storage::Backend`; everything goes through the router and the barrier.

mod auth;
mod capabilities;
mod leases;
mod mounts;
mod policies;
mod ui;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use crate::core::Services;
use crate::engine::{fields, Backend, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::engine::{Flags, Ops, Path};
use crate::policy::Acl;
use crate::router::Router;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Auths,
    Auth,
    LockedUsers,
    Unlock,
    Mounts,
    Mount,
    Remount,
    RemountStatus,
    UiMounts,
    UiMount,
    PoliciesAclRoot,
    PolicyAcl,
    PolicyLegacyList,
    PolicyLegacy,
    Capabilities,
    CapabilitiesSelf,
    CapabilitiesAccessor,
    WrappingWrap,
    WrappingUnwrap,
    WrappingLookup,
    WrappingRewrap,
    LeaseLookup,
    LeaseList,
    LeaseRenew,
    LeaseRevoke,
    LeaseRevokePrefix,
    LeaseRevokeForce,
    LeaseTidy,
}

const POLICY_FIELDS: &[&str] = &[
    "name",
    "policy",
    "rules",
    "cas",
    "cas_required",
    "expiration",
    "ttl",
    "allow_slashes_in_identity_templates",
    "allow_wildcards_in_identity_templates",
];

const CAPABILITIES_FIELDS: &[&str] = &["token", "accessor", "path", "paths"];

pub(crate) struct SystemBackend {
    router: Weak<Router>,
    services: Services,
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
        Path::new("auth", Route::Auths)
            .ops(Ops::READ)
            .flags(Flags::DATA_AT_TOP_LEVEL)
            .help("List the enabled auth methods."),
        // Every operation on an auth method needs sudo, as OpenBao's root path `auth/*`.
        Path::new("auth/{*path}", Route::Auth)
            .ops(Ops::READ.union(Ops::WRITE).union(Ops::DELETE))
            .flags(Flags::DATA_AT_TOP_LEVEL.union(Flags::ROOT))
            .fields(MOUNT_FIELDS)
            .help("Enable, read, tune (<path>/tune) or disable an auth method."),
        Path::new("locked-users", Route::LockedUsers)
            .ops(Ops::READ)
            .fields(&["mount_accessor"])
            .help("The users locked out after repeated failed logins."),
        Path::new(
            "locked-users/{mount_accessor}/unlock/{alias}",
            Route::Unlock,
        )
        .ops(Ops::WRITE)
        .help("Unlock a locked-out user."),
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
            .flags(Flags::TOKEN_OPTIONAL)
            .help("The mount serving a path, for the CLI's kv helper."),
        // A plain GET of the folder is refused (405), as in OpenBao; LIST arrives with `/`.
        Path::new("policies/acl", Route::PoliciesAclRoot)
            .ops(Ops::LIST)
            .help("List the ACL policies."),
        Path::new("policies/acl/{*name}", Route::PolicyAcl)
            .or_empty()
            .ops(
                Ops::READ
                    .union(Ops::LIST)
                    .union(Ops::WRITE)
                    .union(Ops::DELETE),
            )
            .fields(POLICY_FIELDS)
            .help("Read, write or delete an ACL policy; list them."),
        Path::new("policy", Route::PolicyLegacyList)
            .ops(Ops::READ.union(Ops::LIST))
            .flags(Flags::DATA_AT_TOP_LEVEL)
            .help("List the policies (legacy)."),
        Path::new("policy/{name}", Route::PolicyLegacy)
            .ops(Ops::READ.union(Ops::WRITE).union(Ops::DELETE))
            .flags(Flags::DATA_AT_TOP_LEVEL)
            .fields(POLICY_FIELDS)
            .help("Read, write or delete a policy (legacy)."),
        Path::new("capabilities", Route::Capabilities)
            .ops(Ops::WRITE)
            .flags(Flags::DATA_AT_TOP_LEVEL)
            .fields(CAPABILITIES_FIELDS)
            .help("A token's capabilities on paths."),
        Path::new("capabilities-self", Route::CapabilitiesSelf)
            .ops(Ops::WRITE)
            .flags(Flags::DATA_AT_TOP_LEVEL)
            .fields(CAPABILITIES_FIELDS)
            .help("The calling token's capabilities on paths."),
        Path::new("capabilities-accessor", Route::CapabilitiesAccessor)
            .ops(Ops::WRITE)
            .flags(Flags::DATA_AT_TOP_LEVEL)
            .fields(CAPABILITIES_FIELDS)
            .help("The capabilities on paths of the token an accessor names."),
        Path::new("leases/lookup", Route::LeaseLookup)
            .ops(Ops::WRITE)
            .fields(&["lease_id"]),
        Path::new("leases/lookup/{*prefix}", Route::LeaseList)
            .or_empty()
            .ops(Ops::LIST)
            .flags(Flags::ROOT),
        Path::new("leases/renew", Route::LeaseRenew)
            .ops(Ops::WRITE)
            .fields(&["lease_id", "increment", "url_lease_id"]),
        Path::new("leases/renew/{*id}", Route::LeaseRenew)
            .ops(Ops::WRITE)
            .fields(&["lease_id", "increment", "url_lease_id"]),
        Path::new("leases/revoke", Route::LeaseRevoke)
            .ops(Ops::WRITE)
            .fields(&["lease_id", "sync", "url_lease_id"]),
        Path::new("leases/revoke/{*id}", Route::LeaseRevoke)
            .ops(Ops::WRITE)
            .fields(&["lease_id", "sync", "url_lease_id"]),
        Path::new("leases/revoke-prefix/{*prefix}", Route::LeaseRevokePrefix)
            .ops(Ops::WRITE)
            .flags(Flags::ROOT)
            .fields(&["sync"]),
        Path::new("leases/revoke-force/{*prefix}", Route::LeaseRevokeForce)
            .ops(Ops::WRITE)
            .flags(Flags::ROOT),
        Path::new("leases/tidy", Route::LeaseTidy).ops(Ops::WRITE),
        Path::new("wrapping/wrap", Route::WrappingWrap)
            .ops(Ops::WRITE)
            .flags(Flags::DATA_AT_TOP_LEVEL)
            .help("Wrap the request data in a response-wrapping token."),
        Path::new("wrapping/unwrap", Route::WrappingUnwrap)
            .ops(Ops::WRITE)
            .fields(&["token"])
            .help("The wrapped answer, once."),
        Path::new("wrapping/lookup", Route::WrappingLookup)
            .ops(Ops::WRITE)
            .flags(Flags::UNAUTHENTICATED)
            .fields(&["token"])
            .help("When and where a wrapping token was made."),
        Path::new("wrapping/rewrap", Route::WrappingRewrap)
            .ops(Ops::WRITE)
            .fields(&["token"])
            .help("The same answer under a new wrapping token."),
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
            Route::Auths => Ok(auth::list(&router)),
            Route::Auth => auth::handle(self, &router, req).await,
            Route::LockedUsers => Ok(auth::locked_users(self, &router, &req.data)),
            Route::Unlock => auth::unlock(self, &req).await,
            Route::Mounts => Ok(mounts::list(&router)),
            Route::Mount => mounts::handle(&router, req).await,
            Route::Remount => mounts::remount(self, &router, req).await,
            Route::RemountStatus => Ok(mounts::remount_status(self, &req)),
            Route::UiMounts => {
                let acl = self.caller_acl(&req).await?;
                Ok(ui::mounts(&router, acl.as_deref()))
            }
            Route::UiMount => {
                // This one needs a token, though it asks no ACL (OpenBao answers 403).
                if req.client_token.is_none() {
                    return Err(EngineError::Forbidden("permission denied".into()));
                }
                let acl = self.caller_acl(&req).await?;
                ui::mount(&router, &req, acl.as_deref())
            }
            Route::PoliciesAclRoot => Err(EngineError::UnsupportedOperation),
            Route::PolicyAcl => {
                let now = self.services.clock.now();
                policies::handle(&self.services.policies, policies::Api::Acl, req, now).await
            }
            Route::PolicyLegacyList => {
                policies::list(&self.services.policies, policies::Api::Legacy).await
            }
            Route::PolicyLegacy => {
                let now = self.services.clock.now();
                policies::handle(&self.services.policies, policies::Api::Legacy, req, now).await
            }
            Route::LeaseLookup
            | Route::LeaseList
            | Route::LeaseRenew
            | Route::LeaseRevoke
            | Route::LeaseRevokePrefix
            | Route::LeaseRevokeForce
            | Route::LeaseTidy => {
                let op = match route {
                    Route::LeaseLookup => leases::Op::Lookup,
                    Route::LeaseList => leases::Op::List,
                    Route::LeaseRenew => leases::Op::Renew,
                    Route::LeaseRevoke => leases::Op::Revoke,
                    Route::LeaseRevokePrefix => leases::Op::RevokePrefix,
                    Route::LeaseRevokeForce => leases::Op::RevokeForce,
                    _ => leases::Op::Tidy,
                };
                let now = self.services.clock.now();
                leases::handle(&self.services.leases, op, req, now).await
            }
            Route::WrappingWrap => match req.wrap_ttl {
                Some(_) => Ok(EngineResponse::data(req.data)),
                None => Err(EngineError::InvalidRequest(
                    "endpoint requires response wrapping to be used".into(),
                )),
            },
            Route::WrappingUnwrap | Route::WrappingLookup | Route::WrappingRewrap => {
                self.wrapping(&router, route, req).await
            }
            Route::Capabilities | Route::CapabilitiesSelf | Route::CapabilitiesAccessor => {
                let paths = capabilities::requested_paths(&req.data)?;
                let token_policies = self.subject_policies(route, &req).await?;
                let q = capabilities::CapabilitiesQuery {
                    token_policies,
                    paths,
                };
                capabilities::capabilities(&self.services.policies, q).await
            }
        }
    }
}

impl SystemBackend {
    /// `sys/wrapping/{unwrap,lookup,rewrap}`. The wrapping token is in the body, or, for
    /// unwrap, it is the token the request was sent with.
    async fn wrapping(
        &self,
        router: &Router,
        route: Route,
        req: EngineRequest,
    ) -> Result<EngineResponse, EngineError> {
        let cubby = router
            .mount_at("cubbyhole/")
            .ok_or_else(|| EngineError::InvalidRequest("the cubbyhole mount is missing".into()))?;
        let tokens = &self.services.tokens;
        let body_token = fields::string(&req.data, "token")?.filter(|t| !t.is_empty());
        let token = match (route, body_token) {
            (_, Some(t)) => t,
            // No token in the body: the wrapping token is the one the request was sent with.
            (_, None) => match req.client_token.clone() {
                Some(t) => t,
                None => {
                    return Err(EngineError::Forbidden(
                        "error validating wrapping token: token is empty".into(),
                    ))
                }
            },
        };
        match route {
            Route::WrappingLookup => {
                let (_, record) = crate::wrapping::lookup(tokens, &cubby.view, &token).await?;
                let mut data = crate::logical::Data::new();
                data.insert("creation_path".into(), record.creation_path.into());
                data.insert("creation_time".into(), record.creation_time.into());
                data.insert("creation_ttl".into(), record.creation_ttl.into());
                Ok(EngineResponse::data(data))
            }
            Route::WrappingRewrap => {
                let now = self.services.clock.now();
                crate::wrapping::rewrap(tokens, &cubby.view, &token, now).await
            }
            _ => crate::wrapping::unwrap(tokens, &cubby.view, &token).await,
        }
    }

    /// The ACL of the token that sent `req`, if it sent one (`sys/internal/ui/mounts*`).
    async fn caller_acl(&self, req: &EngineRequest) -> Result<Option<Arc<Acl>>, EngineError> {
        let Some(id) = req.client_token.as_deref() else {
            return Ok(None);
        };
        // A token that is sent must be valid, as on every other path.
        let Some(entry) = self.services.tokens.lookup(id).await? else {
            return Err(EngineError::Forbidden("permission denied".into()));
        };
        Ok(Some(self.services.policies.acl(&entry.policies).await?))
    }

    /// The policies of the token a capabilities request asks about; `None` for a token
    /// that does not exist.
    async fn subject_policies(
        &self,
        route: Route,
        req: &EngineRequest,
    ) -> Result<Option<Vec<String>>, EngineError> {
        let tokens = &self.services.tokens;
        let entry = match route {
            Route::CapabilitiesSelf => match req.client_token.as_deref() {
                Some(id) => tokens.lookup(id).await?.map(|e| e.policies.clone()),
                None => None,
            },
            Route::CapabilitiesAccessor => {
                let accessor = fields::string(&req.data, "accessor")?.unwrap_or_default();
                if accessor.is_empty() {
                    return Err(EngineError::InvalidRequest("missing accessor".into()));
                }
                match tokens.lookup_accessor(&accessor).await? {
                    Some(e) => Some(e.policies.clone()),
                    None => {
                        return Err(EngineError::InvalidRequest(crate::logical::multierror(&[
                            "invalid accessor".into(),
                        ])))
                    }
                }
            }
            _ => {
                let id = fields::string(&req.data, "token")?.unwrap_or_default();
                if id.is_empty() {
                    return Err(EngineError::InvalidRequest("missing token".into()));
                }
                tokens.lookup(&id).await?.map(|e| e.policies.clone())
            }
        };
        Ok(entry)
    }

    pub(crate) fn new(router: Weak<Router>, services: Services) -> Self {
        Self {
            router,
            services,
            migrations: Mutex::new(HashMap::new()),
        }
    }
}

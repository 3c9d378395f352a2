//! The `auth/token/` engine: the HTTP face of the token store.

use std::sync::{Arc, Weak};

use super::create::{self, auth_block, lookup_data, CreateCtx, CreateRequest};
use super::{Role, TokenEntry, TokenStore};
use crate::engine::{fields, Backend, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::engine::{Flags, LoginRecord, Ops, Path};
use crate::logical::{multierror, Body, Operation};
use crate::policy::PolicyStore;
use crate::router::{MountTable, Router};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Create,
    CreateOrphan,
    CreateRole,
    Lookup,
    LookupSelf,
    LookupAccessor,
    Renew,
    RenewSelf,
    RenewAccessor,
    Revoke,
    RevokeSelf,
    RevokeAccessor,
    RevokeOrphan,
    Roles,
    Role,
    Accessors,
    Tidy,
}

const CREATE_FIELDS: &[&str] = &[
    "id",
    "role_name",
    "policies",
    "meta",
    "no_parent",
    "no_default_policy",
    "renewable",
    "ttl",
    "lease",
    "type",
    "explicit_max_ttl",
    "display_name",
    "num_uses",
    "period",
    "entity_alias",
];

const ROLE_FIELDS: &[&str] = &[
    "allowed_policies",
    "disallowed_policies",
    "allowed_policies_glob",
    "disallowed_policies_glob",
    "orphan",
    "renewable",
    "path_suffix",
    "explicit_max_ttl",
    "period",
    "allowed_entity_aliases",
    "token_explicit_max_ttl",
    "token_period",
    "token_no_default_policy",
    "token_type",
    "token_bound_cidrs",
    "token_num_uses",
    "bound_cidrs",
    "role_name",
];

pub(crate) struct TokenBackend {
    store: Arc<TokenStore>,
    /// For the `Policy "x" does not exist` warnings of token creation.
    policies: Option<Arc<PolicyStore>>,
    /// To ask the auth method that issued a login token before renewing it.
    router: Weak<Router>,
}

fn bad(m: &str) -> EngineError {
    EngineError::InvalidRequest(m.into())
}

/// OpenBao's `logical.StatusBadRequest` texts, which its HTTP layer wraps as a multierror.
fn status_bad_request(m: &str) -> EngineError {
    EngineError::InvalidRequest(multierror(&[m.into()]))
}

impl TokenBackend {
    pub(crate) fn new(
        store: Arc<TokenStore>,
        policies: Arc<PolicyStore>,
        router: Weak<Router>,
    ) -> Self {
        Self {
            store,
            policies: Some(policies),
            router,
        }
    }

    /// Without a policy store (unit tests): no missing-policy warnings.
    #[cfg(test)]
    pub(crate) fn bare(store: Arc<TokenStore>) -> Self {
        Self {
            store,
            policies: None,
            router: Weak::new(),
        }
    }

    /// Renew `e`: a login token under its auth method's current settings (OpenBao's
    /// `authRenew`), any other under its own.
    async fn renew_entry(
        &self,
        ctx: &Ctx<'_>,
        e: &TokenEntry,
        increment: Option<std::time::Duration>,
    ) -> Result<create::RenewOutcome, EngineError> {
        let now = ctx.clock.now();
        if e.mount_accessor.is_empty() {
            return create::renew(&self.store, ctx.mount, e, increment, now, None).await;
        }
        // A login token: the mount that issued it decides, and without it, no renewal.
        let router = self
            .router
            .upgrade()
            .ok_or_else(|| bad("the server is sealing"))?;
        let Some(mount) = router
            .mounts_in(MountTable::Auth)
            .into_iter()
            .find(|m| m.entry.accessor == e.mount_accessor)
        else {
            return Err(bad(
                "the auth method that issued this token is gone, not renewing",
            ));
        };
        let record = LoginRecord {
            metadata: e.meta.clone().unwrap_or_default(),
            policies: e.policies.clone(),
            alias: e.alias.clone(),
        };
        let auth_ctx = Ctx {
            storage: &mount.view,
            mount: &mount.info,
            clock: ctx.clock,
        };
        let login = mount.backend.renew_login(&auth_ctx, &record).await?;
        let login = login.map(|mut l| {
            // As at login: the issuing mount's max caps the method's own.
            let cap = mount.info.max_lease_ttl.as_secs();
            if l.max_ttl == 0 || l.max_ttl > cap {
                l.max_ttl = cap;
            }
            l
        });
        create::renew(&self.store, &mount.info, e, increment, now, login.as_ref()).await
    }

    /// The raw token the request names in `token`, or the caller's own when it names none
    /// (OpenBao's `lookup` and the `*-self` paths).
    fn token_or_self(req: &EngineRequest, field_only: bool) -> Result<String, EngineError> {
        let named = fields::string(&req.data, "token")?.unwrap_or_default();
        if !named.is_empty() || field_only {
            return Ok(named);
        }
        Ok(req.client_token.clone().unwrap_or_default())
    }

    async fn warn_missing_policies(
        &self,
        e: &TokenEntry,
        warnings: &mut Vec<String>,
    ) -> Result<(), EngineError> {
        let Some(store) = &self.policies else {
            return Ok(());
        };
        for p in &e.policies {
            if store.get(p).await?.is_none() {
                warnings.push(format!("Policy {p:?} does not exist"));
            }
        }
        Ok(())
    }

    async fn create(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        req: &EngineRequest,
    ) -> Result<EngineResponse, EngineError> {
        let store = &*self.store;
        let client = req.client_token.clone().unwrap_or_default();
        let parent = match store.lookup(&client).await? {
            Some(p) => p,
            None => return Err(bad("parent token lookup failed: no parent found")),
        };
        let (role, rel_path) = match route {
            Route::CreateRole => {
                let name = req.params.get("role").to_owned();
                match store.role(&name).await? {
                    Some(r) => (Some(r), format!("create/{name}")),
                    None => return Err(bad(&format!("unknown role {name}"))),
                }
            }
            Route::CreateOrphan => (None, "create-orphan".to_owned()),
            _ => (None, "create".to_owned()),
        };
        let create_req = CreateRequest::parse(&req.data)?;
        let c = CreateCtx {
            store,
            mount: ctx.mount,
            parent: &parent,
            sudo: req.sudo || parent.is_root(),
            role: role.as_ref(),
            orphan_path: route == Route::CreateOrphan,
            rel_path: &rel_path,
            now: ctx.clock.now(),
        };
        let (id, entry, mut warnings) = create::create(&c, create_req).await?;
        self.warn_missing_policies(&entry, &mut warnings).await?;
        Ok(EngineResponse {
            auth: Some(auth_block(&id, &entry)),
            warnings,
            ..EngineResponse::default()
        })
    }

    async fn renew(
        &self,
        ctx: &Ctx<'_>,
        id: &str,
        req: &EngineRequest,
        show_token: bool,
    ) -> Result<EngineResponse, EngineError> {
        let Some(e) = self.store.lookup(id).await? else {
            return Err(bad("token not found"));
        };
        let increment = fields::duration(&req.data, "increment")?;
        let out = self.renew_entry(ctx, &e, increment).await?;
        Ok(EngineResponse {
            auth: Some(auth_block(if show_token { id } else { "" }, &out.entry)),
            warnings: out.warnings,
            ..EngineResponse::default()
        })
    }
}

impl Backend for TokenBackend {
    type Route = Route;

    const PATHS: &'static [Path<Route>] = &[
        Path::new("create", Route::Create)
            .ops(Ops::WRITE)
            .fields(CREATE_FIELDS),
        Path::new("create-orphan", Route::CreateOrphan)
            .ops(Ops::WRITE)
            .fields(CREATE_FIELDS),
        Path::new("create/{role}", Route::CreateRole)
            .ops(Ops::WRITE)
            .fields(CREATE_FIELDS),
        Path::new("lookup", Route::Lookup)
            .ops(Ops::READ.union(Ops::WRITE))
            .fields(&["token"]),
        Path::new("lookup-self", Route::LookupSelf)
            .ops(Ops::READ.union(Ops::WRITE))
            .fields(&["token"]),
        Path::new("lookup-accessor", Route::LookupAccessor)
            .ops(Ops::WRITE)
            .fields(&["accessor"]),
        Path::new("renew", Route::Renew)
            .ops(Ops::WRITE)
            .fields(&["token", "increment"]),
        Path::new("renew-self", Route::RenewSelf)
            .ops(Ops::WRITE)
            .fields(&["token", "increment"]),
        Path::new("renew-accessor", Route::RenewAccessor)
            .ops(Ops::WRITE)
            .fields(&["accessor", "increment"]),
        Path::new("revoke", Route::Revoke)
            .ops(Ops::WRITE)
            .fields(&["token"]),
        Path::new("revoke-self", Route::RevokeSelf).ops(Ops::WRITE),
        Path::new("revoke-accessor", Route::RevokeAccessor)
            .ops(Ops::WRITE)
            .fields(&["accessor"]),
        // OpenBao's root path is `revoke-orphan/*`; this one checks sudo in the handler.
        Path::new("revoke-orphan", Route::RevokeOrphan)
            .ops(Ops::WRITE)
            .fields(&["token"]),
        Path::new("roles/", Route::Roles).ops(Ops::LIST),
        Path::new("roles/{name}", Route::Role)
            .ops(Ops::READ.union(Ops::WRITE).union(Ops::DELETE))
            .flags(Flags::EXISTENCE_CHECK)
            .fields(ROLE_FIELDS),
        Path::new("accessors/", Route::Accessors)
            .ops(Ops::LIST)
            .flags(Flags::ROOT),
        Path::new("tidy", Route::Tidy).ops(Ops::WRITE),
    ];

    async fn handle(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        req: EngineRequest,
    ) -> Result<EngineResponse, EngineError> {
        let now = ctx.clock.now();
        let store = &*self.store;
        match route {
            Route::Create | Route::CreateOrphan | Route::CreateRole => {
                self.create(ctx, route, &req).await
            }
            Route::Lookup | Route::LookupSelf => {
                let id = Self::token_or_self(&req, false)?;
                if id.is_empty() {
                    return Err(bad("missing token ID"));
                }
                match store.lookup_tainted(&id).await? {
                    Some(e) => Ok(EngineResponse::data(lookup_data(&id, &e, now))),
                    None => Err(EngineError::Forbidden("bad token".into())),
                }
            }
            Route::LookupAccessor => {
                let accessor = fields::string(&req.data, "accessor")?.unwrap_or_default();
                if accessor.is_empty() {
                    return Err(status_bad_request("missing accessor"));
                }
                match store.lookup_accessor_tainted(&accessor).await? {
                    Some(e) => Ok(EngineResponse::data(lookup_data("", &e, now))),
                    None => Err(status_bad_request("invalid accessor")),
                }
            }
            Route::Renew | Route::RenewSelf => {
                let id = match route {
                    Route::RenewSelf => req.client_token.clone().unwrap_or_default(),
                    _ => Self::token_or_self(&req, true)?,
                };
                if id.is_empty() {
                    return Err(bad("missing token ID"));
                }
                self.renew(ctx, &id, &req, true).await
            }
            Route::RenewAccessor => {
                let accessor = fields::string(&req.data, "accessor")?.unwrap_or_default();
                if accessor.is_empty() {
                    return Err(status_bad_request("missing accessor"));
                }
                let Some(e) = store.lookup_accessor_tainted(&accessor).await? else {
                    return Err(status_bad_request("invalid accessor"));
                };
                if e.expired(crate::token::nanos(now)) || e.revocation_pending() {
                    return Err(bad("token not found"));
                }
                let increment = fields::duration(&req.data, "increment")?;
                let out = self.renew_entry(ctx, &e, increment).await?;
                Ok(EngineResponse {
                    auth: Some(auth_block("", &out.entry)),
                    warnings: out.warnings,
                    ..EngineResponse::default()
                })
            }
            Route::Revoke | Route::RevokeSelf => {
                let id = match route {
                    Route::RevokeSelf => req.client_token.clone().unwrap_or_default(),
                    _ => Self::token_or_self(&req, true)?,
                };
                if id.is_empty() && route == Route::Revoke {
                    return Err(bad("missing token ID"));
                }
                // An unknown or already revoked token: nothing to do, still 204.
                if let Some(e) = store.lookup(&id).await? {
                    store.revoke_tree(&e.salted_id).await?;
                }
                Ok(EngineResponse::no_content())
            }
            Route::RevokeAccessor => {
                let accessor = fields::string(&req.data, "accessor")?.unwrap_or_default();
                if accessor.is_empty() {
                    return Err(status_bad_request("missing accessor"));
                }
                match store.lookup_accessor_tainted(&accessor).await? {
                    None => Ok(EngineResponse::no_content()
                        .with_warning("No token found with this accessor")),
                    Some(e) if e.expired(crate::token::nanos(now)) || e.revocation_pending() => {
                        Err(bad("token not found"))
                    }
                    Some(e) => {
                        store.revoke_tree(&e.salted_id).await?;
                        Ok(EngineResponse::no_content())
                    }
                }
            }
            Route::RevokeOrphan => {
                let id = Self::token_or_self(&req, true)?;
                if id.is_empty() {
                    return Err(bad("missing token ID"));
                }
                if !req.sudo {
                    return Err(bad("root or sudo privileges required to revoke and orphan"));
                }
                match store.lookup(&id).await? {
                    Some(e) => {
                        store.revoke_orphan(&e.salted_id).await?;
                        Ok(EngineResponse::no_content())
                    }
                    None => Err(bad("token to revoke not found")),
                }
            }
            Route::Roles => Ok(EngineResponse::list(store.roles().await?)),
            Route::Role => {
                let name = req.params.get("name").to_owned();
                match req.op {
                    Operation::Read => Ok(match store.role(&name).await? {
                        Some(r) => EngineResponse::data(r.data()),
                        None => EngineResponse::not_found(),
                    }),
                    Operation::Delete => {
                        store.delete_role(&name).await?;
                        Ok(EngineResponse::no_content())
                    }
                    _ => {
                        let existing = store.role(&name).await?;
                        let create = existing.is_none();
                        let mut role = existing.unwrap_or_else(|| Role {
                            name: name.clone(),
                            ..Role::default()
                        });
                        let warnings =
                            role.update(&req.data, create, ctx.mount.max_lease_ttl.as_secs())?;
                        store.put_role(&role).await?;
                        Ok(EngineResponse {
                            warnings,
                            ..EngineResponse::no_content()
                        })
                    }
                }
            }
            Route::Accessors => Ok(EngineResponse::list(store.accessors().await?)),
            Route::Tidy => {
                let swept = store.expire_due(now).await?;
                tracing::info!(revoked = swept, "token tidy");
                Ok(EngineResponse {
                    body: Body::Accepted,
                    warnings: vec![
                        "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs."
                            .into(),
                    ],
                    ..EngineResponse::default()
                })
            }
        }
    }

    async fn exists(
        &self,
        _ctx: &Ctx<'_>,
        route: Route,
        params: &crate::engine::Params,
    ) -> Result<bool, EngineError> {
        match route {
            Route::Role => Ok(self.store.role(params.get("name")).await?.is_some()),
            _ => Ok(true),
        }
    }
}

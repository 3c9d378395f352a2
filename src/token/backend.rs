//! The `auth/token/` engine: the HTTP face of the token store.

use std::sync::Arc;

use super::create::{self, auth_block, lookup_data, CreateRequest, Role};
use super::{TokenEntry, TokenStore};
use crate::engine::{fields, Backend, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::engine::{Flags, Ops, Path};
use crate::logical::{multierror, Body, Operation};

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
    "token_ttl",
    "token_max_ttl",
    "token_policies",
    "token_bound_cidrs",
    "token_num_uses",
    "bound_cidrs",
];

pub(crate) struct TokenBackend {
    store: Arc<TokenStore>,
}

impl TokenBackend {
    pub(crate) fn new(store: Arc<TokenStore>) -> Self {
        Self { store }
    }

    /// The token that sent the request. Read without the live filter: a token spending
    /// its last use still looks itself up.
    async fn caller(&self, req: &EngineRequest) -> Result<(String, TokenEntry), EngineError> {
        let id = req.client_token.clone().unwrap_or_default();
        match self.store.read(&self.store.salted(&id)).await? {
            Some(e) if !id.is_empty() => Ok((id, e)),
            _ => Err(EngineError::Forbidden("permission denied".into())),
        }
    }

    /// The token named by the `token` field.
    async fn named(
        &self,
        req: &EngineRequest,
    ) -> Result<Option<(String, TokenEntry)>, EngineError> {
        let id = fields::string(&req.data, "token")?.unwrap_or_default();
        Ok(self.store.lookup(&id).await?.map(|e| (id, e)))
    }

    async fn by_accessor(&self, req: &EngineRequest) -> Result<TokenEntry, EngineError> {
        let accessor = fields::string(&req.data, "accessor")?.unwrap_or_default();
        match self.store.lookup_accessor(&accessor).await? {
            Some(e) => Ok((*e).clone()),
            None => Err(EngineError::InvalidRequest(multierror(&[
                "invalid accessor".into(),
            ]))),
        }
    }
}

fn auth_response(id: &str, e: &TokenEntry, now: time::OffsetDateTime) -> EngineResponse {
    EngineResponse {
        auth: Some(auth_block(id, e, now)),
        ..EngineResponse::default()
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
            .ops(Ops::WRITE)
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
        Path::new("revoke-orphan", Route::RevokeOrphan)
            .ops(Ops::WRITE)
            .flags(Flags::ROOT)
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
        let increment = || fields::duration(&req.data, "increment");
        match route {
            Route::Create | Route::CreateOrphan | Route::CreateRole => {
                let (_, parent) = self.caller(&req).await?;
                let role = match route {
                    Route::CreateRole => {
                        let name = req.params.get("role").to_lowercase();
                        match store.role(&name).await? {
                            Some(r) => Some(r),
                            None => {
                                return Err(EngineError::InvalidRequest(format!(
                                    "unknown role {name}"
                                )))
                            }
                        }
                    }
                    _ => None,
                };
                let create_req = CreateRequest::parse(&req.data)?;
                let (id, entry, warnings) = create::create(
                    store,
                    &parent,
                    req.sudo,
                    create_req,
                    role.as_ref(),
                    route == Route::CreateOrphan,
                    now,
                )
                .await?;
                let mut resp = auth_response(&id, &entry, now);
                resp.warnings = warnings;
                Ok(resp)
            }
            Route::LookupSelf => {
                let (id, e) = self.caller(&req).await?;
                Ok(EngineResponse::data(lookup_data(&id, &e, now)))
            }
            Route::Lookup => match self.named(&req).await? {
                Some((id, e)) => Ok(EngineResponse::data(lookup_data(&id, &e, now))),
                None => Err(EngineError::Forbidden("bad token".into())),
            },
            Route::LookupAccessor => {
                let e = self.by_accessor(&req).await?;
                Ok(EngineResponse::data(lookup_data("", &e, now)))
            }
            Route::RenewSelf => {
                let (id, e) = self.caller(&req).await?;
                let renewed = create::renew(store, &e, increment()?, now).await?;
                Ok(auth_response(&id, &renewed, now))
            }
            Route::Renew => match self.named(&req).await? {
                Some((id, e)) => {
                    let renewed = create::renew(store, &e, increment()?, now).await?;
                    Ok(auth_response(&id, &renewed, now))
                }
                None => Err(EngineError::InvalidRequest("token not found".into())),
            },
            Route::RenewAccessor => {
                let e = self.by_accessor(&req).await?;
                let renewed = create::renew(store, &e, increment()?, now).await?;
                Ok(auth_response("", &renewed, now))
            }
            Route::RevokeSelf => {
                let (_, e) = self.caller(&req).await?;
                store.revoke_tree(&e.salted_id).await?;
                Ok(EngineResponse::no_content())
            }
            Route::Revoke => {
                if let Some((_, e)) = self.named(&req).await? {
                    store.revoke_tree(&e.salted_id).await?;
                }
                Ok(EngineResponse::no_content())
            }
            Route::RevokeAccessor => {
                let e = self.by_accessor(&req).await?;
                store.revoke_tree(&e.salted_id).await?;
                Ok(EngineResponse::no_content())
            }
            Route::RevokeOrphan => {
                if let Some((_, e)) = self.named(&req).await? {
                    store.revoke_orphan(&e.salted_id).await?;
                }
                Ok(EngineResponse::no_content())
            }
            Route::Roles => Ok(EngineResponse::list(store.roles().await?)),
            Route::Role => {
                let name = req.params.get("name").to_lowercase();
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
                        let mut role = match store.role(&name).await? {
                            Some(r) => r,
                            None => Role {
                                name: name.clone(),
                                renewable: true,
                                token_type: "service".into(),
                                ..Role::default()
                            },
                        };
                        role.update(&req.data)?;
                        store.put_role(&role).await?;
                        Ok(EngineResponse::no_content())
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
            Route::Role => Ok(self
                .store
                .role(&params.get("name").to_lowercase())
                .await?
                .is_some()),
            _ => Ok(true),
        }
    }
}

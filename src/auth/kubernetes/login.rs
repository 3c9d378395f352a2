//! `login {role, jwt}`: OpenBao's validation order, then a [`Login`] for the core.
//!
//! 1. `role`, `jwt` present; the role exists; `token_bound_cidrs` admit the caller.
//! 2. The configuration exists (500 otherwise), with the pod's token and CA filled in.
//! 3. The JWT ([`jwt`]): parse and signature (only with `pem_keys`), then `alg`, `iss`
//!    (only with `disable_iss_validation=false` and an `issuer`), `aud` (when the role has
//!    one), time claims; the service account it names must match the role's lists.
//! 4. The TokenReview ([`review`]) must agree on name, namespace and uid.

use std::time::Duration;

use tracing::debug;
use zeroize::Zeroizing;

use super::config::{self, LocalFiles};
use super::jwt::{self, ServiceAccount};
use super::review::{self, Target};
use super::role::{self, Role, SOURCE_NAME};
use crate::auth::tokenutil;
use crate::engine::{fields, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::Response;

fn denied() -> EngineError {
    EngineError::Forbidden("permission denied".into())
}

fn required(d: &crate::logical::Data, name: &str) -> Result<Zeroizing<String>, EngineError> {
    let v = Zeroizing::new(fields::string(d, name)?.unwrap_or_default());
    if v.is_empty() {
        return Err(EngineError::InvalidRequest(format!("missing {name}")));
    }
    Ok(v)
}

pub(super) async fn login(
    ctx: &Ctx<'_>,
    local: &LocalFiles,
    timeout: Duration,
    req: &EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let role_name = required(&req.data, "role")?;
    let token = required(&req.data, "jwt")?;
    let Some(role) = role::load(ctx, &role_name).await? else {
        return Err(EngineError::InvalidRequest(format!(
            "invalid role name {:?}",
            role_name.as_str()
        )));
    };
    if !tokenutil::remote_allowed(&role.token.token_bound_cidrs, req.connection.remote_addr) {
        return Err(denied());
    }
    let Some(stored) = config::load(ctx).await? else {
        return Err(EngineError::Failed(
            "could not load backend configuration".into(),
        ));
    };
    let config = config::with_local(stored, local)?;
    let keys = config::public_keys(&config).map_err(EngineError::Failed)?;

    let now = ctx.clock.now().unix_timestamp();
    let sa = validate(&token, &role, &config, &keys, now)?;

    let audiences = if role.audience.is_empty() {
        sa.audience.clone()
    } else {
        vec![role.audience.clone()]
    };
    let bearer = if config.token_reviewer_jwt.is_empty() {
        token.as_str()
    } else {
        config.token_reviewer_jwt.as_str()
    };
    let target = Target {
        host: &config.host,
        ca_pem: &config.ca_cert,
        bearer,
        timeout,
    };
    let reviewed = review::review(&target, &token, &audiences)
        .await
        .map_err(|why| {
            debug!(reason = %why.0, "kubernetes login unauthorized");
            denied()
        })?;
    if reviewed.name != sa.name()
        || sa.uid().ok() != Some(reviewed.uid.as_str())
        || reviewed.namespace != sa.namespace()
    {
        debug!("kubernetes login unauthorized: the review names another service account");
        return Err(denied());
    }

    let uid = sa.uid().map_err(EngineError::Failed)?.to_owned();
    let alias = if role.alias_name_source == SOURCE_NAME {
        format!("{}/{}", sa.namespace(), sa.name())
    } else {
        uid.clone()
    };
    let mut login = role.token.login(req.connection.remote_addr);
    login.display_name = format!("{}-{}", sa.namespace(), sa.name());
    login.alias = alias;
    let metadata = [
        ("role", role_name.as_str()),
        ("service_account_name", sa.name()),
        ("service_account_namespace", sa.namespace()),
        ("service_account_secret_name", sa.secret_name.as_str()),
        ("service_account_uid", uid.as_str()),
    ];
    for (k, v) in metadata {
        login.metadata.insert(k.into(), v.to_owned());
    }
    Ok(Response::login(login))
}

/// Step 3: the JWT against the configuration and the role.
fn validate(
    token: &str,
    role: &Role,
    config: &config::Config,
    keys: &[jwt::PublicKey],
    now: i64,
) -> Result<ServiceAccount, EngineError> {
    let parsed = jwt::parse(token).ok_or_else(|| {
        debug!("kubernetes login unauthorized: the JWT does not parse");
        denied()
    })?;
    if !keys.is_empty() && !parsed.verified_by(keys) {
        debug!("kubernetes login unauthorized: no pem_keys entry verifies the JWT");
        return Err(denied());
    }
    let issuer = (!config.disable_iss_validation).then_some(config.issuer.as_str());
    let audience = (!role.audience.is_empty()).then_some(role.audience.as_str());
    parsed
        .validate(issuer, audience, now)
        .map_err(EngineError::Forbidden)?;
    let sa = ServiceAccount::from_claims(parsed.claims()).map_err(EngineError::Failed)?;

    let names = &role.bound_service_account_names;
    if (names.len() > 1 || names.first().is_some_and(|n| n != "*"))
        && !role::list_contains_glob(names, sa.name())
    {
        return Err(EngineError::Forbidden(
            "service account name not authorized".into(),
        ));
    }
    let namespaces = &role.bound_service_account_namespaces;
    let allowed = namespaces.first().is_some_and(|n| n == "*")
        || role::list_contains_glob(namespaces, sa.namespace());
    // A namespace selector needs the namespace's labels from the API server, which this
    // server does not query: it admits no namespace the list does not.
    if !allowed {
        return Err(EngineError::Forbidden("namespace not authorized".into()));
    }
    Ok(sa)
}

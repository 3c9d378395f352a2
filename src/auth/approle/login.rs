//! `login`: a role id, and a secret id when the role binds one, for a token.
//!
//! Which failures count toward the lockout follows OpenBao: only a secret id that is not
//! (or no longer) there for a real role is `InvalidCredentials`; an unknown role id or a
//! refused address is a plain 400.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::role;
use super::secret_id::{self, INVALID};
use crate::auth::tokenutil;
use crate::engine::{fields, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::Response;

pub(crate) async fn login(
    ctx: &Ctx<'_>,
    req: &EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let role_id = fields::string(&req.data, "role_id")?.unwrap_or_default();
    let role_id = role_id.trim();
    if role_id.is_empty() {
        // OpenBao's alias lookahead fails first, with a bare 500.
        return Err(EngineError::Failed("missing role_id".into()));
    }
    let role = role::by_role_id(ctx, role_id)
        .await?
        .ok_or_else(|| EngineError::InvalidRequest(INVALID.into()))?;
    let remote = req.connection.remote_addr;

    let mut metadata = BTreeMap::new();
    let mut token_cidrs = Vec::new();
    if role.bind_secret_id {
        let secret = Zeroizing::new(fields::string(&req.data, "secret_id")?.unwrap_or_default());
        let secret = Zeroizing::new(secret.trim().to_owned());
        if secret.is_empty() {
            return Err(EngineError::InvalidRequest("missing secret_id".into()));
        }
        let entry = secret_id::spend(ctx, &role, &secret, remote).await?;
        metadata = entry.metadata;
        token_cidrs = entry.token_bound_cidrs;
    } else {
        secret_id::check_role_cidrs(&role, remote)?;
    }

    let mut login = role.token.login(remote);
    // A secret id's own token binding replaces the role's.
    if !token_cidrs.is_empty() {
        login.bound_cidrs = tokenutil::parse_cidrs(&token_cidrs)?;
    }
    metadata.insert("role_name".into(), role.name.clone());
    login.metadata = metadata;
    login.alias = role.role_id.clone();
    Ok(Response::login(login))
}

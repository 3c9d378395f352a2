//! What the core does around an auth method's login path: the lockout before it, the token
//! after it (OpenBao's `handleLoginRequest`, `LoginCreateToken`).

use super::{Error, Result, Unsealed};
use crate::auth::lockout::Settings;
use crate::engine::{EngineError, EngineRequest, EngineResponse, RouteMatch};
use crate::router::Mount;

/// The lockout state of one login attempt: who it claims to be and which settings apply.
pub(super) struct Attempt {
    settings: Settings,
    alias: String,
    /// This name's turn: held until the attempt is counted.
    _turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// Before the engine: wait for the name's turn, then refuse a locked-out user with 403
/// without checking anything.
pub(super) async fn before(
    unsealed: &Unsealed,
    mount: &Mount,
    m: &RouteMatch,
    req: &EngineRequest,
) -> Result<Option<Attempt>> {
    let Some(settings) = unsealed.lockout.settings(&mount.entry) else {
        return Ok(None);
    };
    let Some(alias) = mount.backend.alias_lookahead(m, &req.data) else {
        return Ok(None);
    };
    let turn = unsealed.lockout.turn(&mount.entry.accessor, &alias).await;
    let now = unsealed.clock.now().unix_timestamp();
    if unsealed
        .lockout
        .is_locked(&settings, &mount.entry.accessor, &alias, now)
    {
        return Err(Error::PermissionDenied);
    }
    Ok(Some(Attempt {
        settings,
        alias,
        _turn: turn,
    }))
}

/// After the engine: count a wrong credential, clear the counter on success, and turn a
/// successful login into a token.
pub(super) async fn after(
    unsealed: &Unsealed,
    mount: &Mount,
    path: &str,
    attempt: Option<Attempt>,
    result: std::result::Result<EngineResponse, EngineError>,
) -> Result<EngineResponse> {
    let accessor = &mount.entry.accessor;
    let mut resp = match result {
        Err(EngineError::InvalidCredentials(msg)) => {
            if let Some(a) = &attempt {
                let now = unsealed.clock.now().unix_timestamp();
                unsealed
                    .lockout
                    .failed(&a.settings, accessor, &a.alias, now)
                    .await?;
            }
            return Err(Error::InvalidRequest(msg));
        }
        other => other?,
    };
    let Some(login) = resp.login.take() else {
        return Ok(resp);
    };
    if let Some(a) = attempt {
        unsealed.lockout.succeeded(accessor, &a.alias).await?;
        // The turn ends here: the token is made outside it.
    }
    let now = unsealed.clock.now();
    let (id, entry, warnings) = crate::token::create_login(
        &unsealed.tokens,
        &mount.info,
        &mount.entry.path,
        &mount.entry.accessor,
        path,
        &login,
        now,
    )
    .await?;
    resp.warnings.extend(warnings);
    resp.auth = Some(crate::token::auth_block(&id, &entry));
    Ok(resp)
}

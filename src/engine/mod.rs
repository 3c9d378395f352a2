//! What every secrets engine and auth method implements, and the machinery around it.
//!
//! An engine is a [`Backend`]: a typed `Route` enum, a static path table ([`paths`]), and a
//! `handle` that matches on the route. [`Mounted`] compiles the table once and erases the
//! type, so the router can hold any engine as an `Arc<dyn DynBackend>`.
//!
//! An engine sees only its [`Ctx`]: its own storage view, its mount's settings and a clock.
//! It never sees the core, the router, tokens or another mount's data.
//!
//! May not touch: `core`, `router`, `token`, `policy`.

pub(crate) mod fields;
pub(crate) mod paths;
pub(crate) mod registry;
#[cfg(test)]
pub(crate) mod testing;

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use time::OffsetDateTime;

use crate::barrier::BarrierError;
use crate::logical::storage::Storage;
use crate::logical::{Data, Operation, Response};
pub(crate) use paths::{Flags, Ops, Params, Path, PathTable, TableError};

/// What an engine answers; the same vocabulary the pipeline hands to HTTP.
pub(crate) type EngineResponse = Response;

/// OpenBao's system-wide default lease TTL, 768h, used when a mount sets none.
pub(crate) const SYSTEM_DEFAULT_LEASE_TTL: Duration = Duration::from_secs(768 * 3600);
/// OpenBao's system-wide maximum lease TTL, also 768h.
pub(crate) const SYSTEM_MAX_LEASE_TTL: Duration = Duration::from_secs(768 * 3600);

/// Why an engine refused or failed a request. `core::Error` converts from it, and
/// `http/error.rs` alone picks the status code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EngineError {
    /// The request is wrong; the text is for the client (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// Nothing there: 404 with an empty error list.
    #[error("not found")]
    NotFound,
    /// No path of this engine matches.
    #[error("unsupported path")]
    UnsupportedPath,
    /// The path exists but not for this operation.
    #[error("unsupported operation")]
    UnsupportedOperation,
    /// A KV `cas` that does not match the current version.
    #[error("check-and-set parameter did not match the current version")]
    CasMismatch,
    /// `sys/internal/ui/mounts/<path>` for a path no mount serves (or the token may not see).
    #[error(
        "preflight capability check returned 403, please ensure client's policies grant access to path {0:?}"
    )]
    PreflightDenied(String),
    /// A refusal with its own text (403), as the token store's `bad token`.
    #[error("{0}")]
    Forbidden(String),
    /// A login with wrong credentials (400 with the text, as OpenBao's
    /// `ErrInvalidCredentials`); the core counts it toward the user's lockout.
    #[error("{0}")]
    InvalidCredentials(String),
    /// A failure OpenBao answers with 500 and this exact text (a Go error returned by the
    /// handler, which clients show): approle's role constraint and accessor checks.
    #[error("{0}")]
    Failed(String),
    /// A 404 that names what is missing (OpenBao's error response with
    /// `ErrUnsupportedPath`, e.g. a secret id asked for a role that does not exist).
    #[error("{0}")]
    NotFoundWith(String),
    /// Storage below the engine failed; details are logged, not sent.
    #[error(transparent)]
    Storage(#[from] BarrierError),
}

/// The time source. Engines never call the system clock directly, so tests can move time.
pub(crate) trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The real clock.
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// What an engine may know about its mount.
#[derive(Clone, Debug)]
pub(crate) struct MountInfo {
    /// The mount's default lease TTL, already resolved to the system default when unset.
    pub(crate) default_lease_ttl: Duration,
    pub(crate) max_lease_ttl: Duration,
}

/// Everything an engine's handler may use.
pub(crate) struct Ctx<'a> {
    pub(crate) storage: &'a dyn Storage,
    pub(crate) mount: &'a MountInfo,
    pub(crate) clock: &'a dyn Clock,
}

/// One request as an engine sees it: already authenticated, authorised and audited.
#[derive(Debug)]
pub(crate) struct EngineRequest {
    /// Read, list, create/update (after the existence check), patch or delete.
    pub(crate) op: Operation,
    /// The captures of the matched path (`path` = `app/db` for `data/app/db`).
    pub(crate) params: Params,
    pub(crate) data: Data,
    /// The caller's token id as sent, handed only to the engines that manage tokens (the
    /// token store's `*-self` paths, `sys/capabilities-self`, `sys/wrapping/unwrap`).
    /// Every other engine gets `None`: engines never see a raw token.
    pub(crate) client_token: Option<String>,
    /// A stable id of the caller's token that is not the token (its salted id), for
    /// engines that keep something per token (cubbyhole).
    pub(crate) client_id: Option<String>,
    /// The caller may use sudo on this path (root, or a policy granting `sudo`): the token
    /// store's orphan creation and custom ids check it.
    pub(crate) sudo: bool,
    /// `X-Vault-Wrap-TTL`, for `sys/wrapping/wrap`, which refuses to answer unwrapped.
    pub(crate) wrap_ttl: Option<Duration>,
    /// The peer: its address (CIDR bindings) and TLS client certificate (cert logins).
    pub(crate) connection: std::sync::Arc<crate::logical::Connection>,
}

/// A mountable secrets engine or auth method.
pub(crate) trait Backend: Send + Sync + 'static {
    /// One variant per row of `PATHS`; `handle` matches on it exhaustively.
    type Route: Copy + Eq + Debug + Send + Sync + 'static;

    /// The path table.
    const PATHS: &'static [Path<Self::Route>];

    /// Serve one request.
    fn handle(
        &self,
        ctx: &Ctx<'_>,
        route: Self::Route,
        req: EngineRequest,
    ) -> impl Future<Output = Result<EngineResponse, EngineError>> + Send;

    /// Only asked for routes flagged `EXISTENCE_CHECK`: does the item exist, so a write is an
    /// update rather than a create?
    fn exists(
        &self,
        _ctx: &Ctx<'_>,
        _route: Self::Route,
        _params: &Params,
    ) -> impl Future<Output = Result<bool, EngineError>> + Send {
        async { Ok(true) }
    }

    /// For a login path: the name the caller claims to be (user name, role id), read from
    /// the request before any credential is checked, so the core can refuse a locked-out
    /// user without running the check. OpenBao's `AliasLookahead`.
    fn alias_lookahead(
        &self,
        _route: Self::Route,
        _params: &Params,
        _data: &Data,
    ) -> Option<String> {
        None
    }

    /// A login token this method issued is being renewed: the settings to renew it under
    /// now (OpenBao's `AuthRenew`), from what the login recorded on the token. `Ok(None)`
    /// keeps the settings of the login; an error refuses the renewal.
    fn renew_login(
        &self,
        _ctx: &Ctx<'_>,
        _login: &LoginRecord,
    ) -> impl Future<Output = Result<Option<crate::logical::Login>, EngineError>> + Send {
        async { Ok(None) }
    }

    /// Background work, called every [`PERIODIC_INTERVAL`] while the server is unsealed
    /// (OpenBao's `PeriodicFunc`): Transit's auto-rotation.
    fn periodic(&self, _ctx: &Ctx<'_>) -> impl Future<Output = Result<(), EngineError>> + Send {
        async { Ok(()) }
    }
}

/// How often the core calls every mount's [`Backend::periodic`] (OpenBao's rollback manager
/// ticks once a minute).
pub(crate) const PERIODIC_INTERVAL: Duration = Duration::from_secs(60);

/// What a login token remembers of its login, for [`Backend::renew_login`].
#[derive(Clone, Debug, Default)]
pub(crate) struct LoginRecord {
    /// The login's metadata (`username`, `role_name`, ...).
    pub(crate) metadata: std::collections::BTreeMap<String, String>,
    /// The token's policies, `default` included.
    pub(crate) policies: Vec<String>,
    /// The login's alias (the user name, the role id).
    pub(crate) alias: String,
}

/// A boxed future, for the object-safe [`DynBackend`].
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which row of a mounted engine serves a path.
#[derive(Debug)]
pub(crate) struct RouteMatch {
    row: usize,
    pub(crate) params: Params,
    pub(crate) ops: Ops,
    pub(crate) flags: Flags,
    fields: Option<&'static [&'static str]>,
}

/// An engine with its type erased, as the router holds it.
pub(crate) trait DynBackend: Send + Sync {
    /// The row for `path` (relative to the mount), or `UnsupportedPath`.
    fn resolve(&self, path: &str) -> Result<RouteMatch, EngineError>;
    /// Serve `req` on the row `m`; refuses an operation the row does not accept.
    fn handle<'a>(
        &'a self,
        ctx: &'a Ctx<'a>,
        m: RouteMatch,
        req: EngineRequest,
    ) -> BoxFuture<'a, Result<EngineResponse, EngineError>>;
    fn exists<'a>(
        &'a self,
        ctx: &'a Ctx<'a>,
        m: &'a RouteMatch,
    ) -> BoxFuture<'a, Result<bool, EngineError>>;
    /// [`Backend::alias_lookahead`] for the row `m`.
    fn alias_lookahead(&self, m: &RouteMatch, data: &Data) -> Option<String>;
    /// [`Backend::renew_login`].
    fn renew_login<'a>(
        &'a self,
        ctx: &'a Ctx<'a>,
        login: &'a LoginRecord,
    ) -> BoxFuture<'a, Result<Option<crate::logical::Login>, EngineError>>;
    /// [`Backend::periodic`].
    fn periodic<'a>(&'a self, ctx: &'a Ctx<'a>) -> BoxFuture<'a, Result<(), EngineError>>;
}

/// A [`Backend`] with its path table compiled.
pub(crate) struct Mounted<B: Backend> {
    backend: B,
    table: PathTable<B::Route>,
}

impl<B: Backend> Mounted<B> {
    pub(crate) fn new(backend: B) -> Result<Self, TableError> {
        Ok(Self {
            table: PathTable::build(B::PATHS)?,
            backend,
        })
    }
}

impl<B: Backend> DynBackend for Mounted<B> {
    fn resolve(&self, path: &str) -> Result<RouteMatch, EngineError> {
        let (index, row, params) = self
            .table
            .lookup(path)
            .ok_or(EngineError::UnsupportedPath)?;
        Ok(RouteMatch {
            row: index,
            params,
            ops: row.ops,
            flags: row.flags,
            fields: row.fields,
        })
    }

    fn handle<'a>(
        &'a self,
        ctx: &'a Ctx<'a>,
        m: RouteMatch,
        req: EngineRequest,
    ) -> BoxFuture<'a, Result<EngineResponse, EngineError>> {
        Box::pin(async move {
            if !m.ops.allows(req.op) {
                return Err(EngineError::UnsupportedOperation);
            }
            let warning = m
                .fields
                .and_then(|known| fields::unknown_fields_warning(&req.data, known));
            let route = self.table.route(m.row);
            let mut resp = self.backend.handle(ctx, route, req).await?;
            // OpenBao warns only on a response it has: a bare 204 stays a 204.
            let bare = matches!(resp.body, crate::logical::Body::NoContent)
                && resp.warnings.is_empty()
                && resp.auth.is_none()
                && resp.login.is_none();
            if !bare {
                resp.warnings.extend(warning);
            }
            Ok(resp)
        })
    }

    fn exists<'a>(
        &'a self,
        ctx: &'a Ctx<'a>,
        m: &'a RouteMatch,
    ) -> BoxFuture<'a, Result<bool, EngineError>> {
        Box::pin(self.backend.exists(ctx, self.table.route(m.row), &m.params))
    }

    fn alias_lookahead(&self, m: &RouteMatch, data: &Data) -> Option<String> {
        self.backend
            .alias_lookahead(self.table.route(m.row), &m.params, data)
    }

    fn renew_login<'a>(
        &'a self,
        ctx: &'a Ctx<'a>,
        login: &'a LoginRecord,
    ) -> BoxFuture<'a, Result<Option<crate::logical::Login>, EngineError>> {
        Box::pin(self.backend.renew_login(ctx, login))
    }

    fn periodic<'a>(&'a self, ctx: &'a Ctx<'a>) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(self.backend.periodic(ctx))
    }
}

/// Go's `time.RFC3339Nano` in UTC: nanoseconds with trailing zeros dropped, as OpenBao
/// prints every timestamp (`2026-11-22T08:08:10.632335602Z`).
pub(crate) fn rfc3339_nano(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Go's `time.Duration.String()` for whole seconds and more (`1h0m0s`, `90s` → `1m30s`,
/// zero → `0s`), which KV v2 uses for `delete_version_after`.
pub(crate) fn go_duration(d: Duration) -> String {
    let total = d.as_secs();
    let nanos = d.subsec_nanos();
    if total == 0 && nanos == 0 {
        return "0s".into();
    }
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let secs = if nanos == 0 {
        format!("{s}")
    } else {
        format!("{s}.{}", format!("{nanos:09}").trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{secs}s")
    } else if m > 0 {
        format!("{m}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_go_rfc3339_nano() {
        let t = time::macros::datetime!(2026-11-22 08:08:10.632335602 UTC);
        assert_eq!(rfc3339_nano(t), "2026-11-22T08:08:10.632335602Z");
        let t = time::macros::datetime!(2026-11-22 08:08:10.5 UTC);
        assert_eq!(rfc3339_nano(t), "2026-11-22T08:08:10.5Z");
        let t = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        assert_eq!(rfc3339_nano(t), "2026-01-02T03:04:05Z");
    }

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(45)), "45s");
        assert_eq!(go_duration(Duration::from_secs(90061)), "25h1m1s");
    }
}

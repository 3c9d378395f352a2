//! The `approle` auth method: roles with a `role_id`, secret ids issued against them, and a
//! `login` that trades the pair for a token.
//!
//! # Storage (all of it behind the barrier)
//! - `salt`: a random per-mount key; `role_id/` and `accessor/` index by an HMAC under it,
//!   so neither a role id nor an accessor appears in a key.
//! - `role/<name>`: a [`role::Role`], with its own random HMAC key.
//! - `role_id/<hmac(role_id)>`: the role's name (role ids are unique across roles).
//! - `secret_id/<hmac(role name)>/<hmac(secret id)>`: a [`secret_id::SecretId`]. A secret id
//!   is never stored, only its HMAC under the role's key, as OpenBao lays it out
//!   (`secret_id_local/` for roles with `local_secret_ids`).
//! - `accessor/<hmac(accessor)>`: which secret id HMAC an accessor names.
//!
//! A use of a limited secret id is spent with one conditional batch write, so two logins
//! racing for the last use cannot both win.

mod login;
mod role;
mod secret_id;
#[cfg(test)]
mod tests;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::barrier::BarrierError;
use crate::engine::{Backend, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::engine::{Flags, LoginRecord, Ops, Params, Path};
use crate::logical::storage::{Precondition, StorageOp};
use crate::logical::{multierror, Data, Login};

/// The longest role name or secret id OpenBao will HMAC.
const MAX_HMAC_INPUT: usize = 4096;
const SALT: &str = "salt";

/// The fields a single-value sub-path of a role serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    LocalSecretIds,
    Policies,
    BoundCidrList,
    SecretIdBoundCidrs,
    TokenBoundCidrs,
    SecretIdNumUses,
    SecretIdTtl,
    Period,
    TokenNumUses,
    TokenTtl,
    TokenMaxTtl,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Roles,
    Role,
    Field(Field),
    RoleId,
    SecretId,
    SecretIds,
    CustomSecretId,
    SecretIdLookup,
    SecretIdDestroy,
    AccessorLookup,
    AccessorDestroy,
    Login,
    Tidy,
}

const ROLE_FIELDS: &[&str] = &[
    "role_name",
    "bind_secret_id",
    "bound_cidr_list",
    "secret_id_bound_cidrs",
    "secret_id_num_uses",
    "secret_id_ttl",
    "period",
    "policies",
    "role_id",
    "local_secret_ids",
    "token_bound_cidrs",
    "token_explicit_max_ttl",
    "token_max_ttl",
    "token_no_default_policy",
    "token_num_uses",
    "token_period",
    "token_policies",
    "token_type",
    "token_ttl",
    "token_strictly_bind_ip",
];

const SECRET_ID_FIELDS: &[&str] = &[
    "role_name",
    "metadata",
    "cidr_list",
    "token_bound_cidrs",
    "num_uses",
    "ttl",
    "after",
    "limit",
];

const CUSTOM_SECRET_ID_FIELDS: &[&str] = &[
    "role_name",
    "secret_id",
    "metadata",
    "cidr_list",
    "token_bound_cidrs",
    "num_uses",
    "ttl",
];

const RWD: Ops = Ops::READ.union(Ops::UPDATE).union(Ops::DELETE);

/// One single-value sub-path of a role.
const fn field(pattern: &'static str, f: Field, fields: &'static [&'static str]) -> Path<Route> {
    Path::new(pattern, Route::Field(f)).ops(RWD).fields(fields)
}

pub(crate) struct AppRole;

impl Backend for AppRole {
    type Route = Route;

    const PATHS: &'static [Path<Route>] = &[
        Path::new("role/", Route::Roles)
            .ops(Ops::LIST)
            .fields(&["after", "limit"])
            .help("Lists all the roles registered with the backend."),
        Path::new("role/{role_name}", Route::Role)
            .ops(Ops::READ.union(Ops::WRITE).union(Ops::DELETE))
            .flags(Flags::EXISTENCE_CHECK)
            .fields(ROLE_FIELDS)
            .help("Register an role with the backend."),
        Path::new(
            "role/{role_name}/local-secret-ids",
            Route::Field(Field::LocalSecretIds),
        )
        .ops(Ops::READ)
        .fields(&["role_name"]),
        field(
            "role/{role_name}/policies",
            Field::Policies,
            &["role_name", "policies", "token_policies"],
        ),
        field(
            "role/{role_name}/bound-cidr-list",
            Field::BoundCidrList,
            &["role_name", "bound_cidr_list"],
        ),
        field(
            "role/{role_name}/secret-id-bound-cidrs",
            Field::SecretIdBoundCidrs,
            &["role_name", "secret_id_bound_cidrs"],
        ),
        field(
            "role/{role_name}/token-bound-cidrs",
            Field::TokenBoundCidrs,
            &["role_name", "token_bound_cidrs"],
        ),
        // No `role/<r>/bind-secret-id`: OpenBao 2.7.2 lists it in its OpenAPI document
        // but answers every operation on it with 404 "unsupported path".
        field(
            "role/{role_name}/secret-id-num-uses",
            Field::SecretIdNumUses,
            &["role_name", "secret_id_num_uses"],
        ),
        field(
            "role/{role_name}/secret-id-ttl",
            Field::SecretIdTtl,
            &["role_name", "secret_id_ttl"],
        ),
        field(
            "role/{role_name}/period",
            Field::Period,
            &["role_name", "period", "token_period"],
        ),
        field(
            "role/{role_name}/token-num-uses",
            Field::TokenNumUses,
            &["role_name", "token_num_uses"],
        ),
        field(
            "role/{role_name}/token-ttl",
            Field::TokenTtl,
            &["role_name", "token_ttl"],
        ),
        field(
            "role/{role_name}/token-max-ttl",
            Field::TokenMaxTtl,
            &["role_name", "token_max_ttl"],
        ),
        Path::new("role/{role_name}/role-id", Route::RoleId)
            .ops(Ops::READ.union(Ops::UPDATE))
            .fields(&["role_name", "role_id"])
            .help("Returns the 'role_id' of the role."),
        Path::new("role/{role_name}/secret-id", Route::SecretId)
            .ops(Ops::UPDATE)
            .fields(SECRET_ID_FIELDS)
            .help("Generate a SecretID against this role."),
        Path::new("role/{role_name}/secret-id/", Route::SecretIds)
            .ops(Ops::LIST)
            .fields(SECRET_ID_FIELDS),
        Path::new("role/{role_name}/custom-secret-id", Route::CustomSecretId)
            .ops(Ops::UPDATE)
            .fields(CUSTOM_SECRET_ID_FIELDS)
            .help("Assign a SecretID of choice against the role."),
        Path::new("role/{role_name}/secret-id/lookup", Route::SecretIdLookup)
            .ops(Ops::UPDATE)
            .fields(&["role_name", "secret_id"])
            .help("Read the properties of an issued secret_id"),
        Path::new("role/{role_name}/secret-id/destroy", Route::SecretIdDestroy)
            .ops(Ops::UPDATE.union(Ops::DELETE))
            .fields(&["role_name", "secret_id"])
            .help("Invalidate an issued secret_id"),
        Path::new(
            "role/{role_name}/secret-id-accessor/lookup",
            Route::AccessorLookup,
        )
        .ops(Ops::UPDATE)
        .fields(&["role_name", "secret_id_accessor"])
        .help("Read an issued secret_id, using its accessor"),
        Path::new(
            "role/{role_name}/secret-id-accessor/destroy",
            Route::AccessorDestroy,
        )
        .ops(Ops::UPDATE.union(Ops::DELETE))
        .fields(&["role_name", "secret_id_accessor"])
        .help("Delete an issued secret_id, using its accessor"),
        Path::new("login", Route::Login)
            .ops(Ops::UPDATE)
            .flags(Flags::UNAUTHENTICATED)
            .fields(&["role_id", "secret_id"])
            .help("Issue a token based on the credentials supplied"),
        Path::new("tidy/secret-id", Route::Tidy)
            .ops(Ops::UPDATE)
            .fields(&[])
            .help("Trigger the clean-up of expired SecretID entries."),
    ];

    async fn handle(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        req: EngineRequest,
    ) -> Result<EngineResponse, EngineError> {
        match route {
            Route::Roles => role::list(ctx, &req.data).await,
            Route::Login => login::login(ctx, &req).await,
            Route::Tidy => secret_id::tidy(ctx).await,
            _ => {
                let name = RoleName::from_params(&req.params)?;
                match route {
                    Route::Role => role::handle(ctx, &name, &req).await,
                    Route::Field(f) => role::field(ctx, &name, f, &req).await,
                    Route::RoleId => role::role_id(ctx, &name, &req).await,
                    Route::SecretId => secret_id::generate(ctx, &name, &req.data, None).await,
                    Route::CustomSecretId => {
                        secret_id::generate_custom(ctx, &name, &req.data).await
                    }
                    Route::SecretIds => secret_id::list(ctx, &name, &req.data).await,
                    Route::SecretIdLookup => secret_id::lookup(ctx, &name, &req.data).await,
                    Route::SecretIdDestroy => secret_id::destroy(ctx, &name, &req.data).await,
                    Route::AccessorLookup => {
                        secret_id::accessor_lookup(ctx, &name, &req.data).await
                    }
                    Route::AccessorDestroy => {
                        secret_id::accessor_destroy(ctx, &name, &req.data).await
                    }
                    Route::Roles | Route::Login | Route::Tidy => Err(EngineError::UnsupportedPath),
                }
            }
        }
    }

    async fn exists(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        params: &Params,
    ) -> Result<bool, EngineError> {
        match route {
            Route::Role => {
                let name = RoleName::from_params(params)?;
                Ok(role::load(ctx, &name).await?.is_some())
            }
            _ => Ok(true),
        }
    }

    fn alias_lookahead(&self, route: Route, _params: &Params, data: &Data) -> Option<String> {
        if route != Route::Login {
            return None;
        }
        let id = crate::engine::fields::string(data, "role_id").ok()??;
        let id = id.trim();
        (!id.is_empty()).then(|| id.to_owned())
    }

    /// OpenBao's `pathLoginRenew`: the role must still exist; its current TTLs apply.
    async fn renew_login(
        &self,
        ctx: &Ctx<'_>,
        login: &LoginRecord,
    ) -> Result<Option<Login>, EngineError> {
        let name = login.metadata.get("role_name").cloned().unwrap_or_default();
        if name.is_empty() {
            return Err(EngineError::InvalidRequest(
                "failed to fetch role_name during renewal".into(),
            ));
        }
        let role = role::by_name(ctx, &name).await?;
        crate::auth::tokenutil::renewal(
            role.as_ref().map(|r| &r.token),
            &login.policies,
            false,
            || format!("role {name:?} does not exist during renewal"),
        )
    }
}

/// A role name from the path: as given (for messages) and lower-cased (the key), since
/// OpenBao lower-cases every role it creates.
pub(crate) struct RoleName {
    pub(crate) given: String,
    pub(crate) key: String,
}

impl RoleName {
    fn from_params(params: &Params) -> Result<Self, EngineError> {
        let given = params.get("role_name").to_owned();
        if !valid_name(&given) {
            return Err(EngineError::UnsupportedPath);
        }
        Ok(Self {
            key: given.to_lowercase(),
            given,
        })
    }
}

/// OpenBao's `GenericNameRegex`: word characters, `-` and `.` inside, a word character at
/// each end. Anything else matches no path there.
fn valid_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let (Some(first), Some(last)) = (name.chars().next(), name.chars().last()) else {
        return false;
    };
    word(first) && word(last) && name.chars().all(|c| word(c) || c == '-' || c == '.')
}

/// A Go error from an OpenBao handler: 500, the text wrapped as go-multierror wraps it.
pub(crate) fn failed(msg: impl Into<String>) -> EngineError {
    EngineError::Failed(multierror(&[msg.into()]))
}

pub(crate) fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidRequest(msg.into())
}

/// Hex HMAC-SHA256 of `value` under `key` (OpenBao's `createHMAC`, which refuses long input).
pub(crate) fn hmac_hex(key: &[u8], value: &str) -> Result<String, String> {
    if key.is_empty() {
        return Err("invalid HMAC key".into());
    }
    if value.len() > MAX_HMAC_INPUT {
        return Err(format!(
            "value is longer than maximum of {MAX_HMAC_INPUT} bytes"
        ));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|e| e.to_string())?;
    mac.update(value.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// The mount's salt, made on first use. Two requests making it at once: the conditional
/// write lets one win and the other reads the winner's.
pub(crate) async fn salt(ctx: &Ctx<'_>) -> Result<Zeroizing<Vec<u8>>, EngineError> {
    for _ in 0..3 {
        if let Some(s) = ctx.storage.get(SALT).await? {
            return Ok(s);
        }
        let fresh: Zeroizing<Vec<u8>> = Zeroizing::new(rand::random::<[u8; 32]>().to_vec());
        match ctx
            .storage
            .batch(
                vec![Precondition::Absent(SALT.into())],
                vec![StorageOp::Put(SALT.into(), fresh.to_vec())],
            )
            .await
        {
            Ok(()) => return Ok(fresh),
            Err(BarrierError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(failed("failed to create the mount's salt"))
}

/// `value` salted with the mount's salt, for an index key.
pub(crate) async fn salted(ctx: &Ctx<'_>, value: &str) -> Result<String, EngineError> {
    let salt = salt(ctx).await?;
    hmac_hex(&salt, value).map_err(failed)
}

/// A random id in OpenBao's UUID shape.
pub(crate) fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Nanoseconds since the epoch of the engine's clock.
pub(crate) fn now_nanos(ctx: &Ctx<'_>) -> i64 {
    i64::try_from(ctx.clock.now().unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

/// `after`/`limit` paging over sorted keys, as OpenBao's `ListPage`.
pub(crate) fn page(mut keys: Vec<String>, data: &Data) -> Result<Vec<String>, EngineError> {
    use crate::engine::fields;
    keys.sort();
    let after = fields::string(data, "after")?.unwrap_or_default();
    let limit = fields::int(data, "limit")?.unwrap_or(0);
    let keys = keys.into_iter().filter(|k| after.is_empty() || *k > after);
    Ok(match usize::try_from(limit) {
        Ok(n) if n > 0 => keys.take(n).collect(),
        _ => keys.collect(),
    })
}

fn decode<T: serde::de::DeserializeOwned>(raw: &[u8], what: &str) -> Result<T, EngineError> {
    serde_json::from_slice(raw).map_err(|e| failed(format!("stored {what} is unreadable: {e}")))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, EngineError> {
    serde_json::to_vec(v).map_err(|e| failed(e.to_string()))
}

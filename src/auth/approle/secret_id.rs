//! Secret ids: issuing (`secret-id`, `custom-secret-id`), listing their accessors, lookup
//! and destroy by secret id or accessor, spending a use at login, and `tidy/secret-id`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::role::{self, check_subset, validate_cidrs, Role};
use super::RoleName;
use super::{decode, encode, failed, hmac_hex, invalid, new_uuid, now_nanos, page, salted};
use crate::barrier::BarrierError;
use crate::engine::{fields, rfc3339_nano, Ctx, EngineError, EngineResponse};
use crate::logical::storage::{Precondition, StorageOp};
use crate::logical::{Body, Data, Response};

pub(crate) const INVALID: &str = "invalid role or secret ID";
/// How often a login re-reads a secret id that another login changed under it.
const SPEND_TRIES: usize = 16;
/// Go's zero `time.Time`, which OpenBao prints for a secret id that never expires.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A stored secret id: everything but the secret id itself. Times are Unix nanoseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct SecretId {
    pub(crate) secret_id_accessor: String,
    /// Logins left; 0 is unlimited.
    pub(crate) secret_id_num_uses: i64,
    /// Seconds, as asked for (the expiry below is what the mount allowed).
    pub(crate) secret_id_ttl: u64,
    pub(crate) creation_time: i64,
    /// 0: never.
    pub(crate) expiration_time: i64,
    pub(crate) last_updated_time: i64,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) cidr_list: Vec<String>,
    pub(crate) token_bound_cidrs: Vec<String>,
}

impl SecretId {
    pub(crate) fn expired(&self, now: i64) -> bool {
        self.expiration_time != 0 && now > self.expiration_time
    }

    fn to_data(&self) -> Data {
        let time = |n: i64| match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)) {
            Ok(t) if n != 0 => rfc3339_nano(t),
            _ => ZERO_TIME.to_owned(),
        };
        crate::logical::object(json!({
            "secret_id_accessor": self.secret_id_accessor,
            "secret_id_num_uses": self.secret_id_num_uses,
            "secret_id_ttl": self.secret_id_ttl,
            "creation_time": time(self.creation_time),
            "expiration_time": time(self.expiration_time),
            "last_updated_time": time(self.last_updated_time),
            "metadata": self.metadata,
            "cidr_list": self.cidr_list,
            "token_bound_cidrs": self.token_bound_cidrs,
        }))
    }
}

/// The accessor index: which secret id HMAC an accessor names, and under which role's
/// folder (so tidy can tell a dangling accessor from one whose secret id it has not seen).
#[derive(Serialize, Deserialize)]
struct AccessorEntry {
    secret_id_hmac: String,
    #[serde(default)]
    role_hmac: String,
}

fn secret_prefix(role: &Role) -> &'static str {
    match role.local_secret_ids {
        true => "secret_id_local/",
        false => "secret_id/",
    }
}

fn accessor_prefix(role: &Role) -> &'static str {
    match role.local_secret_ids {
        true => "accessor_local/",
        false => "accessor/",
    }
}

fn role_hmac(role: &Role) -> Result<String, EngineError> {
    hmac_hex(role.hmac_key.as_bytes(), &role.name)
        .map_err(|e| failed(format!("failed to create HMAC of role_name: {e}")))
}

/// The folder of a role's secret ids.
fn role_dir(role: &Role) -> Result<String, EngineError> {
    Ok(format!("{}{}/", secret_prefix(role), role_hmac(role)?))
}

/// Where a secret id is kept, and its HMAC.
struct Loc {
    key: String,
    hmac: String,
}

fn locate(role: &Role, secret_id: &str) -> Result<Loc, EngineError> {
    let hmac = hmac_hex(role.hmac_key.as_bytes(), secret_id)
        .map_err(|e| failed(format!("failed to create HMAC of secret_id: {e}")))?;
    Ok(Loc {
        key: format!("{}{hmac}", role_dir(role)?),
        hmac,
    })
}

async fn accessor_key(ctx: &Ctx<'_>, role: &Role, accessor: &str) -> Result<String, EngineError> {
    if accessor.is_empty() {
        return Err(failed("missing secretIDAccessor"));
    }
    Ok(format!(
        "{}{}",
        accessor_prefix(role),
        salted(ctx, accessor).await?
    ))
}

async fn accessor_entry(
    ctx: &Ctx<'_>,
    role: &Role,
    accessor: &str,
) -> Result<Option<AccessorEntry>, EngineError> {
    match ctx
        .storage
        .get(&accessor_key(ctx, role, accessor).await?)
        .await?
    {
        None => Ok(None),
        Some(raw) => decode(&raw, "secret id accessor").map(Some),
    }
}

async fn load(ctx: &Ctx<'_>, key: &str) -> Result<Option<SecretId>, EngineError> {
    match ctx.storage.get(key).await? {
        None => Ok(None),
        Some(raw) => decode(&raw, "secret id").map(Some),
    }
}

/// The role for a secret id request that OpenBao answers with a Go error when missing.
async fn role_or_failed(ctx: &Ctx<'_>, name: &RoleName) -> Result<Role, EngineError> {
    role::load(ctx, name)
        .await?
        .ok_or_else(|| failed(format!("role {:?} does not exist", name.given)))
}

pub(crate) async fn generate_custom(
    ctx: &Ctx<'_>,
    name: &RoleName,
    d: &Data,
) -> Result<EngineResponse, EngineError> {
    let secret = Zeroizing::new(fields::string(d, "secret_id")?.unwrap_or_default());
    generate(ctx, name, d, Some(secret)).await
}

/// `role/<r>/secret-id` (a fresh uuid) or `custom-secret-id` (`custom`).
pub(crate) async fn generate(
    ctx: &Ctx<'_>,
    name: &RoleName,
    d: &Data,
    custom: Option<Zeroizing<String>>,
) -> Result<EngineResponse, EngineError> {
    let secret = custom.unwrap_or_else(|| Zeroizing::new(new_uuid()));
    if secret.is_empty() {
        return Err(invalid("missing secret_id"));
    }
    let role = role::load(ctx, name).await?.ok_or_else(|| {
        EngineError::NotFoundWith(format!("role {:?} does not exist", name.given))
    })?;
    if !role.bind_secret_id {
        return Err(invalid("bind_secret_id is not set on the role"));
    }
    let cidr_list = fields::string_list(d, "cidr_list")?.unwrap_or_default();
    if !cidr_list.is_empty() {
        validate_cidrs(&cidr_list)
            .map_err(|e| failed(format!("failed to validate CIDR blocks: {e}")))?;
    }
    check_subset(&cidr_list, role.secret_id_cidrs())?;
    let token_cidrs = fields::string_list(d, "token_bound_cidrs")?.unwrap_or_default();
    if !token_cidrs.is_empty() {
        validate_cidrs(&token_cidrs)
            .map_err(|e| failed(format!("failed to validate token CIDR blocks: {e}")))?;
    }
    let role_token_cidrs: Vec<String> = role
        .token
        .token_bound_cidrs
        .iter()
        .map(|c| crate::auth::tokenutil::display_cidr(c))
        .collect();
    check_subset(&token_cidrs, &role_token_cidrs)?;

    let num_uses = match fields::int(d, "num_uses")? {
        Some(n) if n < 0 => return Err(invalid("num_uses cannot be negative")),
        Some(n) => {
            let limit = role.secret_id_num_uses;
            if limit > 0 && (n == 0 || n > limit) {
                return Err(invalid(
                    "num_uses cannot be higher than the role's secret_id_num_uses",
                ));
            }
            n
        }
        None => role.secret_id_num_uses,
    };
    let ttl = match fields::duration(d, "ttl")? {
        Some(t) => {
            let (t, limit) = (t.as_secs(), role.secret_id_ttl);
            if limit > 0 && (t == 0 || t > limit) {
                return Err(invalid(
                    "ttl cannot be longer than the role's secret_id_ttl",
                ));
            }
            t
        }
        None => role.secret_id_ttl,
    };
    let metadata = parse_metadata(&fields::string(d, "metadata")?.unwrap_or_default())
        .map_err(|e| invalid(format!("failed to parse metadata: {e}")))?;

    // `deriveSecretIDTTL`: the mount's max lease TTL caps a secret id's life.
    let max = ctx.mount.max_lease_ttl.as_secs();
    let effective = ttl.min(max);
    let now = now_nanos(ctx);
    let entry = SecretId {
        secret_id_accessor: new_uuid(),
        secret_id_num_uses: num_uses,
        secret_id_ttl: ttl,
        creation_time: now,
        expiration_time: match effective {
            0 => 0,
            s => now.saturating_add(
                i64::try_from(s)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1_000_000_000),
            ),
        },
        last_updated_time: now,
        metadata,
        cidr_list,
        token_bound_cidrs: token_cidrs,
    };
    let loc = locate(&role, &secret)
        .map_err(|_| failed("failed to store secret_id: failed to create HMAC of secret ID: value is longer than maximum of 4096 bytes"))?;
    let acc_key = accessor_key(ctx, &role, &entry.secret_id_accessor).await?;
    let index = encode(&AccessorEntry {
        secret_id_hmac: loc.hmac.clone(),
        role_hmac: role_hmac(&role)?,
    })?;
    match ctx
        .storage
        .batch(
            vec![Precondition::Absent(loc.key.clone())],
            vec![
                StorageOp::Put(acc_key, index),
                StorageOp::Put(loc.key, encode(&entry)?),
            ],
        )
        .await
    {
        Ok(()) => {}
        Err(BarrierError::Conflict) => {
            return Err(failed(
                "failed to store secret_id: SecretID is already registered",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let mut resp = Response::data(crate::logical::object(json!({
        "secret_id": secret.as_str(),
        "secret_id_accessor": entry.secret_id_accessor,
        "secret_id_ttl": effective,
        "secret_id_num_uses": entry.secret_id_num_uses,
    })));
    resp.wrapped_accessor = entry.secret_id_accessor;
    Ok(resp)
}

/// `strutil.ParseArbitraryKeyValues`: JSON (possibly base64-encoded) or `k=v,k2=v2`.
pub(crate) fn parse_metadata(input: &str) -> Result<BTreeMap<String, String>, String> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(BTreeMap::new());
    }
    let text = match base64::engine::general_purpose::STANDARD.decode(input) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => input.to_owned(),
    };
    let out = match serde_json::from_str::<BTreeMap<String, String>>(&text) {
        Ok(m) => m,
        Err(_) => key_values(&text).map_err(|e| format!("failed to parse the input: {e}"))?,
    };
    if let Some((k, _)) = out.iter().find(|(k, v)| !k.is_empty() && v.is_empty()) {
        return Err(format!("invalid value for key {k:?}"));
    }
    Ok(out)
}

/// `strutil.ParseKeyValues` (which lower-cases the pairs first, as OpenBao does).
fn key_values(input: &str) -> Result<BTreeMap<String, String>, String> {
    let pairs: BTreeSet<String> = input
        .split(',')
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    let mut out = BTreeMap::new();
    for pair in pairs {
        let shards: Vec<&str> = pair.split('=').collect();
        let [k, v] = shards.as_slice() else {
            return Err("invalid <key,value> format".into());
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() {
            return Err(format!("invalid <key,value> pair {pair:?}"));
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

/// `LIST role/<r>/secret-id`: the accessors.
pub(crate) async fn list(
    ctx: &Ctx<'_>,
    name: &RoleName,
    d: &Data,
) -> Result<EngineResponse, EngineError> {
    let role = role::load(ctx, name)
        .await?
        .ok_or_else(|| invalid(format!("role {:?} does not exist", name.given)))?;
    let dir = role_dir(&role)?;
    let hmacs = page(ctx.storage.list(&dir).await?, d)?;
    let mut accessors = Vec::with_capacity(hmacs.len());
    for h in hmacs.iter().filter(|h| !h.is_empty() && !h.ends_with('/')) {
        let entry = load(ctx, &format!("{dir}{h}")).await?.ok_or_else(|| {
            failed("storage entry for SecretID is present but no content found at the index")
        })?;
        accessors.push(entry.secret_id_accessor);
    }
    Ok(Response::list(accessors))
}

fn secret_id_field(d: &Data) -> Result<Zeroizing<String>, EngineError> {
    let s = Zeroizing::new(fields::string(d, "secret_id")?.unwrap_or_default());
    if s.is_empty() {
        return Err(invalid("missing secret_id"));
    }
    Ok(s)
}

fn accessor_field(d: &Data) -> Result<String, EngineError> {
    let a = fields::string(d, "secret_id_accessor")?.unwrap_or_default();
    if a.is_empty() {
        return Err(invalid("missing secret_id_accessor"));
    }
    Ok(a)
}

pub(crate) async fn lookup(
    ctx: &Ctx<'_>,
    name: &RoleName,
    d: &Data,
) -> Result<EngineResponse, EngineError> {
    let secret = secret_id_field(d)?;
    let role = role_or_failed(ctx, name).await?;
    let loc = locate(&role, &secret)?;
    let Some(entry) = load(ctx, &loc.key).await? else {
        return Ok(Response::no_content());
    };
    // A secret id whose accessor is gone is revoked on sight, as in OpenBao.
    if accessor_entry(ctx, &role, &entry.secret_id_accessor)
        .await?
        .is_none()
    {
        ctx.storage.delete(&loc.key).await?;
        return Err(invalid("invalid secret id"));
    }
    Ok(Response::data(entry.to_data()))
}

pub(crate) async fn destroy(
    ctx: &Ctx<'_>,
    name: &RoleName,
    d: &Data,
) -> Result<EngineResponse, EngineError> {
    let secret = secret_id_field(d)?;
    let role = role_or_failed(ctx, name).await?;
    let loc = locate(&role, &secret)?;
    let Some(entry) = load(ctx, &loc.key).await? else {
        return Ok(Response::no_content());
    };
    let acc_key = accessor_key(ctx, &role, &entry.secret_id_accessor).await?;
    ctx.storage
        .batch(
            Vec::new(),
            vec![StorageOp::Delete(acc_key), StorageOp::Delete(loc.key)],
        )
        .await?;
    Ok(Response::no_content())
}

fn no_accessor(accessor: &str) -> String {
    format!("failed to find accessor entry for secret_id_accessor: {accessor:?}")
}

pub(crate) async fn accessor_lookup(
    ctx: &Ctx<'_>,
    name: &RoleName,
    d: &Data,
) -> Result<EngineResponse, EngineError> {
    let accessor = accessor_field(d)?;
    let role = role_or_failed(ctx, name).await?;
    let Some(index) = accessor_entry(ctx, &role, &accessor).await? else {
        // OpenBao answers this one as a 404 whose data carries the error.
        return Ok(Response {
            body: Body::Gone(Some(crate::logical::object(
                json!({"error": no_accessor(&accessor)}),
            ))),
            ..Response::default()
        });
    };
    let key = format!("{}{}", role_dir(&role)?, index.secret_id_hmac);
    Ok(match load(ctx, &key).await? {
        Some(entry) => Response::data(entry.to_data()),
        None => Response::no_content(),
    })
}

pub(crate) async fn accessor_destroy(
    ctx: &Ctx<'_>,
    name: &RoleName,
    d: &Data,
) -> Result<EngineResponse, EngineError> {
    let accessor = accessor_field(d)?;
    let role = role_or_failed(ctx, name).await?;
    let index = accessor_entry(ctx, &role, &accessor)
        .await?
        .ok_or_else(|| failed(no_accessor(&accessor)))?;
    let key = format!("{}{}", role_dir(&role)?, index.secret_id_hmac);
    if load(ctx, &key).await?.is_none() {
        return Err(EngineError::Forbidden("invalid secret id accessor".into()));
    }
    let acc_key = accessor_key(ctx, &role, &accessor).await?;
    ctx.storage
        .batch(
            Vec::new(),
            vec![StorageOp::Delete(acc_key), StorageOp::Delete(key)],
        )
        .await?;
    Ok(Response::no_content())
}

/// Every secret id of a role and its accessor, before the role goes.
pub(crate) async fn flush(ctx: &Ctx<'_>, role: &Role) -> Result<(), EngineError> {
    let dir = role_dir(role)?;
    for h in ctx.storage.list(&dir).await? {
        let key = format!("{dir}{h}");
        let mut ops = vec![StorageOp::Delete(key.clone())];
        if let Some(entry) = load(ctx, &key).await? {
            if !entry.secret_id_accessor.is_empty() {
                ops.push(StorageOp::Delete(
                    accessor_key(ctx, role, &entry.secret_id_accessor).await?,
                ));
            }
        }
        ctx.storage.batch(Vec::new(), ops).await?;
    }
    Ok(())
}

/// What a login checks against the connection's address.
fn remote_in(cidrs: &[String], remote: Option<IpAddr>) -> Result<Option<IpAddr>, EngineError> {
    if cidrs.is_empty() {
        return Ok(None);
    }
    let ip = remote.ok_or_else(|| failed("failed to get connection information"))?;
    Ok((!crate::auth::tokenutil::remote_allowed(cidrs, Some(ip))).then_some(ip))
}

/// Check a login's secret id and spend one of its uses, in one conditional write: a login
/// that loses the race to another reads the entry again (and finds it spent, or gone).
/// The role's address binding is checked here too, before anything is spent.
pub(crate) async fn spend(
    ctx: &Ctx<'_>,
    role: &Role,
    secret: &str,
    remote: Option<IpAddr>,
) -> Result<SecretId, EngineError> {
    let loc = locate(role, secret)?;
    for _ in 0..SPEND_TRIES {
        let Some((raw, stamp)) = ctx.storage.get_stamped(&loc.key).await? else {
            return Err(EngineError::InvalidCredentials(INVALID.into()));
        };
        let entry: SecretId = decode(&raw, "secret id")?;
        let unchanged = || vec![Precondition::Unchanged(loc.key.clone(), stamp.clone())];
        let acc_key = accessor_key(ctx, role, &entry.secret_id_accessor).await?;
        let index: Option<AccessorEntry> = match ctx.storage.get(&acc_key).await? {
            Some(raw) => Some(decode(&raw, "secret id accessor")?),
            None => None,
        };
        let indexed = index
            .is_some_and(|i| bool::from(i.secret_id_hmac.as_bytes().ct_eq(loc.hmac.as_bytes())));
        if !indexed {
            // A secret id without its accessor is revoked on sight, as in OpenBao.
            forget(ctx, unchanged(), vec![StorageOp::Delete(loc.key.clone())]).await?;
            return Err(invalid(INVALID));
        }
        if entry.expired(now_nanos(ctx)) {
            // What tidy would have removed: the same answer as after it did.
            let ops = vec![
                StorageOp::Delete(acc_key),
                StorageOp::Delete(loc.key.clone()),
            ];
            forget(ctx, unchanged(), ops).await?;
            return Err(EngineError::InvalidCredentials(INVALID.into()));
        }
        check_subset(&entry.cidr_list, role.secret_id_cidrs())?;
        if let Some(ip) = remote_in(&entry.cidr_list, remote)? {
            return Err(invalid(match entry.secret_id_num_uses {
                0 => format!(
                    "source address {:?} unauthorized through CIDR restrictions on the secret ID",
                    ip.to_string()
                ),
                _ => format!(
                    "source address {:?} unauthorized by CIDR restrictions on the secret ID: %!w(<nil>)",
                    ip.to_string()
                ),
            }));
        }
        check_role_cidrs(role, remote)?;
        let ops = match entry.secret_id_num_uses {
            0 => return Ok(entry),
            1 => vec![
                StorageOp::Delete(acc_key),
                StorageOp::Delete(loc.key.clone()),
            ],
            n => {
                let mut next = entry.clone();
                next.secret_id_num_uses = n - 1;
                next.last_updated_time = now_nanos(ctx);
                vec![StorageOp::Put(loc.key.clone(), encode(&next)?)]
            }
        };
        match ctx.storage.batch(unchanged(), ops).await {
            Ok(()) => return Ok(entry),
            Err(BarrierError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(failed(
        "the secret id is being changed by too many logins at once",
    ))
}

/// The role's `secret_id_bound_cidrs` against the caller.
pub(crate) fn check_role_cidrs(role: &Role, remote: Option<IpAddr>) -> Result<(), EngineError> {
    match remote_in(role.secret_id_cidrs(), remote)? {
        None => Ok(()),
        Some(ip) => Err(invalid(format!(
            "source address {:?} unauthorized by CIDR restrictions on the role: %!w(<nil>)",
            ip.to_string()
        ))),
    }
}

/// A conditional delete that may lose to another writer, which is then the one to act.
async fn forget(
    ctx: &Ctx<'_>,
    conditions: Vec<Precondition>,
    ops: Vec<StorageOp>,
) -> Result<(), EngineError> {
    match ctx.storage.batch(conditions, ops).await {
        Ok(()) | Err(BarrierError::Conflict) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `tidy/secret-id`: drop expired secret ids, secret ids without an accessor, and
/// accessors without a secret id. Done before answering (OpenBao starts it in the
/// background), with the same 202 and warning.
pub(crate) async fn tidy(ctx: &Ctx<'_>) -> Result<EngineResponse, EngineError> {
    let now = now_nanos(ctx);
    for (secrets, accessors) in [
        ("secret_id/", "accessor/"),
        ("secret_id_local/", "accessor_local/"),
    ] {
        let mut live = BTreeSet::new();
        for dir in ctx.storage.list(secrets).await? {
            let dir = format!("{secrets}{dir}");
            for h in ctx.storage.list(&dir).await? {
                let key = format!("{dir}{h}");
                let Some((raw, stamp)) = ctx.storage.get_stamped(&key).await? else {
                    continue;
                };
                let entry: SecretId = decode(&raw, "secret id")?;
                let acc_key = format!(
                    "{accessors}{}",
                    salted(ctx, &entry.secret_id_accessor).await?
                );
                let unchanged = vec![Precondition::Unchanged(key.clone(), stamp)];
                if ctx.storage.get(&acc_key).await?.is_none() {
                    forget(ctx, unchanged, vec![StorageOp::Delete(key)]).await?;
                } else if entry.expired(now) {
                    let ops = vec![StorageOp::Delete(acc_key), StorageOp::Delete(key)];
                    forget(ctx, unchanged, ops).await?;
                } else {
                    live.insert(h);
                }
            }
        }
        for a in ctx.storage.list(accessors).await? {
            let key = format!("{accessors}{a}");
            let Some((raw, stamp)) = ctx.storage.get_stamped(&key).await? else {
                continue;
            };
            let index: AccessorEntry = decode(&raw, "secret id accessor")?;
            if live.contains(&index.secret_id_hmac) {
                continue;
            }
            // Only if its secret id is still absent: one issued since the listing keeps
            // its accessor.
            let mut conditions = vec![Precondition::Unchanged(key.clone(), stamp)];
            if !index.role_hmac.is_empty() {
                conditions.push(Precondition::Absent(format!(
                    "{secrets}{}/{}",
                    index.role_hmac, index.secret_id_hmac
                )));
            }
            forget(ctx, conditions, vec![StorageOp::Delete(key)]).await?;
        }
    }
    Ok(Response {
        body: Body::Accepted,
        warnings: vec!["Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.".into()],
        ..Response::default()
    })
}

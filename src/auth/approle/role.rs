//! Roles: `role/<name>` and its single-value sub-paths, and `role/<name>/role-id`.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{decode, encode, failed, invalid, new_uuid, page, salted, Field, RoleName};
use super::{secret_id, MAX_HMAC_INPUT};
use crate::auth::tokenutil::{self, TokenParams};
use crate::engine::{fields, go_duration, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::storage::{Precondition, StorageOp};
use crate::logical::{Data, Operation, Response};

const ROLES: &str = "role/";
const ROLE_IDS: &str = "role_id/";

/// A stored role.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Role {
    #[serde(flatten)]
    pub(crate) token: TokenParams,
    /// Lower-cased, as OpenBao names every role it creates.
    pub(crate) name: String,
    pub(crate) role_id: String,
    /// The key of this role's secret id HMACs, random per role.
    pub(crate) hmac_key: String,
    pub(crate) bind_secret_id: bool,
    /// `None` prints as `null`, as OpenBao prints a role that never had any.
    pub(crate) secret_id_bound_cidrs: Option<Vec<String>>,
    pub(crate) secret_id_num_uses: i64,
    /// Seconds.
    pub(crate) secret_id_ttl: u64,
    pub(crate) local_secret_ids: bool,
}

impl Role {
    pub(crate) fn secret_id_cidrs(&self) -> &[String] {
        self.secret_id_bound_cidrs.as_deref().unwrap_or_default()
    }

    /// `validateRoleConstraints`: something must stand between a caller and a token.
    fn check_constraints(&self) -> Result<(), EngineError> {
        if self.bind_secret_id
            || !self.secret_id_cidrs().is_empty()
            || !self.token.token_bound_cidrs.is_empty()
        {
            return Ok(());
        }
        Err(failed(
            "at least one constraint should be enabled on the role",
        ))
    }
}

fn key(name: &str) -> String {
    format!("{ROLES}{name}")
}

pub(crate) async fn role_id_key(ctx: &Ctx<'_>, role_id: &str) -> Result<String, EngineError> {
    Ok(format!("{ROLE_IDS}{}", salted(ctx, role_id).await?))
}

#[derive(Serialize, Deserialize)]
struct RoleIdEntry {
    name: String,
}

pub(crate) async fn load(ctx: &Ctx<'_>, name: &RoleName) -> Result<Option<Role>, EngineError> {
    load_key(ctx, &name.key).await
}

async fn load_key(ctx: &Ctx<'_>, name: &str) -> Result<Option<Role>, EngineError> {
    match ctx.storage.get(&key(name)).await? {
        None => Ok(None),
        Some(raw) => decode(&raw, "role").map(Some),
    }
}

/// A role by its name as a login recorded it.
pub(crate) async fn by_name(ctx: &Ctx<'_>, name: &str) -> Result<Option<Role>, EngineError> {
    load_key(ctx, &name.to_lowercase()).await
}

/// The role a role id belongs to.
pub(crate) async fn by_role_id(ctx: &Ctx<'_>, role_id: &str) -> Result<Option<Role>, EngineError> {
    let Some(raw) = ctx.storage.get(&role_id_key(ctx, role_id).await?).await? else {
        return Ok(None);
    };
    let entry: RoleIdEntry = decode(&raw, "role id index")?;
    load_key(ctx, &entry.name).await
}

/// `setRoleEntry`: check the constraints and the role id's uniqueness, then write the role
/// and move its role id index in one batch.
async fn store(ctx: &Ctx<'_>, role: &Role, previous_role_id: &str) -> Result<(), EngineError> {
    role.check_constraints()?;
    let new_key = role_id_key(ctx, &role.role_id).await?;
    let index = ctx.storage.get_stamped(&new_key).await?;
    if let Some((raw, _)) = &index {
        let owner: RoleIdEntry = decode(raw, "role id index")?;
        if owner.name != role.name {
            return Err(failed("role_id already in use"));
        }
    }
    // The index must still be as read when the batch lands: two roles written at once
    // cannot both claim one role id.
    let unchanged = Precondition::as_read(&new_key, index.as_ref().map(|(_, stamp)| stamp));
    let mut ops = Vec::new();
    if !previous_role_id.is_empty() && previous_role_id != role.role_id {
        ops.push(StorageOp::Delete(role_id_key(ctx, previous_role_id).await?));
    }
    ops.push(StorageOp::Put(key(&role.name), encode(role)?));
    ops.push(StorageOp::Put(
        new_key,
        encode(&RoleIdEntry {
            name: role.name.clone(),
        })?,
    ));
    match ctx.storage.batch(vec![unchanged], ops).await {
        Err(crate::barrier::BarrierError::Conflict) => Err(failed("role_id already in use")),
        other => Ok(other?),
    }
}

pub(crate) async fn list(ctx: &Ctx<'_>, data: &Data) -> Result<EngineResponse, EngineError> {
    let keys = ctx.storage.list(ROLES).await?;
    Ok(Response::list(page(keys, data)?))
}

pub(crate) async fn handle(
    ctx: &Ctx<'_>,
    name: &RoleName,
    req: &EngineRequest,
) -> Result<EngineResponse, EngineError> {
    match req.op {
        Operation::Read => read(ctx, name).await,
        Operation::Delete => delete(ctx, name).await,
        _ => write(ctx, name, &req.data).await,
    }
}

async fn read(ctx: &Ctx<'_>, name: &RoleName) -> Result<EngineResponse, EngineError> {
    let Some(role) = load(ctx, name).await? else {
        return Ok(Response::not_found());
    };
    let mut data = crate::logical::object(json!({
        "bind_secret_id": role.bind_secret_id,
        "secret_id_bound_cidrs": role.secret_id_bound_cidrs,
        "secret_id_num_uses": role.secret_id_num_uses,
        "secret_id_ttl": role.secret_id_ttl,
        "local_secret_ids": role.local_secret_ids,
    }));
    role.token.populate(&mut data);
    let mut resp = Response::data(data);
    if role.check_constraints().is_err() {
        resp = resp.with_warning("Role does not have any constraints set on it. Updates to this role will require a constraint to be set");
    }
    Ok(resp)
}

async fn delete(ctx: &Ctx<'_>, name: &RoleName) -> Result<EngineResponse, EngineError> {
    let Some(role) = load(ctx, name).await? else {
        return Ok(Response::no_content());
    };
    secret_id::flush(ctx, &role).await?;
    let ops = vec![
        StorageOp::Delete(role_id_key(ctx, &role.role_id).await?),
        StorageOp::Delete(key(&role.name)),
    ];
    ctx.storage.batch(Vec::new(), ops).await?;
    Ok(Response::no_content())
}

/// The legacy token names approle never took (only `policies` and `period` are upgraded);
/// they are left to the unknown-field warning.
const NOT_LEGACY_HERE: &[&str] = &["ttl", "max_ttl", "bound_cidrs"];

async fn write(ctx: &Ctx<'_>, name: &RoleName, d: &Data) -> Result<EngineResponse, EngineError> {
    if name.given.len() > MAX_HMAC_INPUT {
        return Err(invalid(format!(
            "role_name is longer than maximum of {MAX_HMAC_INPUT} bytes"
        )));
    }
    // A write to a role that does not exist creates it, whatever the pipeline called it: a
    // root token skips the existence check.
    let existing = load(ctx, name).await?;
    let creating = existing.is_none();
    let mut role = existing.unwrap_or_else(|| Role {
        name: name.key.clone(),
        hmac_key: hex::encode(rand::random::<[u8; 32]>()),
        bind_secret_id: true,
        ..Role::default()
    });
    let mut warnings = Vec::new();
    let mut d = d.clone();
    for legacy in NOT_LEGACY_HERE {
        d.remove(*legacy);
    }
    if let Some(Value::String(t)) = d.get("token_type") {
        let adjusted = match t.as_str() {
            "default-service" => Some("service"),
            "default-batch" => Some("batch"),
            _ => None,
        };
        if let Some(a) = adjusted {
            warnings.push(format!("{t} has no useful meaning; adjusting to {a}"));
            d.insert("token_type".into(), Value::String(a.into()));
        }
    }
    role.token.update(&d)?;

    if let Some(local) = fields::boolean(&d, "local_secret_ids")? {
        if !creating {
            return Err(invalid(
                "local_secret_ids can only be modified during role creation",
            ));
        }
        role.local_secret_ids = local;
    }
    let previous_role_id = role.role_id.clone();
    match fields::string(&d, "role_id")? {
        Some(id) => role.role_id = id,
        None if creating => role.role_id = new_uuid(),
        None => {}
    }
    if role.role_id.is_empty() {
        return Err(invalid(
            "invalid role_id supplied, or failed to generate a role_id",
        ));
    }
    if let Some(b) = fields::boolean(&d, "bind_secret_id")? {
        role.bind_secret_id = b;
    }
    let cidrs = match fields::string_list(&d, "secret_id_bound_cidrs")? {
        Some(c) => Some(c),
        None => fields::string_list(&d, "bound_cidr_list")?,
    };
    if let Some(cidrs) = cidrs {
        validate_cidrs(&cidrs)
            .map_err(|e| failed(format!("failed to validate CIDR blocks: {e}")))?;
        role.secret_id_bound_cidrs = Some(cidrs);
    }
    if let Some(n) = fields::int(&d, "secret_id_num_uses")? {
        role.secret_id_num_uses = n;
    }
    if role.secret_id_num_uses < 0 {
        return Err(invalid("secret_id_num_uses cannot be negative"));
    }
    if let Some(ttl) = fields::duration(&d, "secret_id_ttl")? {
        role.secret_id_ttl = ttl.as_secs();
    }
    let max = ctx.mount.max_lease_ttl;
    if role.token.legacy.contains("period") && role.token.token_period > max.as_secs() {
        return Err(invalid(format!(
            "period of {:?} is greater than the backend's maximum lease TTL of {:?}",
            go_duration(std::time::Duration::from_secs(role.token.token_period)),
            go_duration(max)
        )));
    }
    if role.token.token_max_ttl > max.as_secs() {
        warnings.push("token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' max TTL value will be truncated".into());
    }
    store(ctx, &role, &previous_role_id).await?;
    let mut resp = Response::no_content();
    resp.warnings = warnings;
    Ok(resp)
}

/// `cidrutil.ValidateCIDRListSlice`: every entry a CIDR block (a bare address is not one).
pub(crate) fn validate_cidrs(list: &[String]) -> Result<(), String> {
    for c in list {
        let c = c.trim();
        if c.parse::<IpNet>().is_err() {
            return Err(format!("invalid CIDR address: {c}"));
        }
    }
    Ok(())
}

/// A block as OpenBao compares it: a bare address is its /32 (or /128).
fn as_net(c: &str) -> Option<IpNet> {
    let c = c.trim();
    c.parse::<IpNet>()
        .ok()
        .or_else(|| c.parse::<IpAddr>().ok().map(IpNet::from))
}

/// `verifyCIDRRoleSecretIDSubset`: a secret id's blocks must lie inside the role's (when
/// the role has any).
pub(crate) fn check_subset(secret: &[String], role: &[String]) -> Result<(), EngineError> {
    if secret.is_empty() || role.is_empty() {
        return Ok(());
    }
    let role_nets: Vec<IpNet> = role.iter().filter_map(|c| as_net(c)).collect();
    let inside = secret
        .iter()
        .all(|c| as_net(c).is_some_and(|n| role_nets.iter().any(|r| r.contains(&n))));
    if inside {
        return Ok(());
    }
    let role_shown: Vec<String> = role
        .iter()
        .map(|c| match c.contains('/') {
            true => c.clone(),
            false => format!("{c}/32"),
        })
        .collect();
    Err(failed(format!(
        "failed to verify subset relationship between CIDR blocks on the role {} and CIDR blocks on the secret ID {}: %!w(<nil>)",
        go_quoted(&role_shown),
        go_quoted(secret)
    )))
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_quoted(list: &[String]) -> String {
    let items: Vec<String> = list.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", items.join(" "))
}

pub(crate) async fn role_id(
    ctx: &Ctx<'_>,
    name: &RoleName,
    req: &EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let role = load(ctx, name).await?;
    if req.op == Operation::Read {
        return Ok(match role {
            Some(r) => Response::data(crate::logical::object(json!({"role_id": r.role_id}))),
            None => Response::not_found(),
        });
    }
    let mut role = role.ok_or(EngineError::UnsupportedPath)?;
    let previous = std::mem::take(&mut role.role_id);
    role.role_id = fields::string(&req.data, "role_id")?.unwrap_or_default();
    if role.role_id.is_empty() {
        return Err(invalid("missing role_id"));
    }
    store(ctx, &role, &previous).await?;
    Ok(Response::no_content())
}

/// One of the single-value sub-paths: read, set or reset one setting.
pub(crate) async fn field(
    ctx: &Ctx<'_>,
    name: &RoleName,
    f: Field,
    req: &EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let role = load(ctx, name).await?;
    match req.op {
        Operation::Read => Ok(match role {
            Some(r) => read_field(&r, f),
            None => Response::not_found(),
        }),
        Operation::Delete => {
            let Some(mut role) = role else {
                return Ok(Response::no_content());
            };
            reset_field(&mut role, f);
            store(ctx, &role, "").await?;
            Ok(Response::no_content())
        }
        _ => {
            let mut role = role.ok_or(EngineError::UnsupportedPath)?;
            set_field(ctx, &mut role, f, &req.data)?;
            store(ctx, &role, "").await?;
            Ok(Response::no_content())
        }
    }
}

fn read_field(role: &Role, f: Field) -> EngineResponse {
    let t = &role.token;
    let legacy = |n: &str| t.legacy.contains(n);
    let cidrs: Vec<String> = t
        .token_bound_cidrs
        .iter()
        .map(|c| tokenutil::display_cidr(c))
        .collect();
    let v = match f {
        Field::LocalSecretIds => json!({"local_secret_ids": role.local_secret_ids}),
        Field::Policies if legacy("policies") => {
            json!({"token_policies": t.token_policies, "policies": t.token_policies})
        }
        Field::Policies => json!({"token_policies": t.token_policies}),
        Field::BoundCidrList => {
            // Upgraded into `secret_id_bound_cidrs` long ago; OpenBao answers the empty
            // old field with a deprecation warning.
            return Response::data(crate::logical::object(json!({"bound_cidr_list": null})))
                .with_warning(r#"The "bound_cidr_list" field is deprecated and will be removed. Please use "secret_id_bound_cidrs" instead."#);
        }
        Field::SecretIdBoundCidrs => {
            json!({"secret_id_bound_cidrs": role.secret_id_bound_cidrs})
        }
        // `null` when there are none, as OpenBao prints its nil list here (but `[]` in the
        // role itself).
        Field::TokenBoundCidrs if cidrs.is_empty() => json!({"token_bound_cidrs": null}),
        Field::TokenBoundCidrs => json!({"token_bound_cidrs": cidrs}),
        Field::SecretIdNumUses => json!({"secret_id_num_uses": role.secret_id_num_uses}),
        Field::SecretIdTtl => json!({"secret_id_ttl": role.secret_id_ttl}),
        Field::Period if legacy("period") && t.token_period > 0 => {
            json!({"token_period": t.token_period, "period": t.token_period})
        }
        Field::Period => json!({"token_period": t.token_period}),
        Field::TokenNumUses => json!({"token_num_uses": t.token_num_uses}),
        Field::TokenTtl => json!({"token_ttl": t.token_ttl}),
        Field::TokenMaxTtl => json!({"token_max_ttl": t.token_max_ttl}),
    };
    Response::data(crate::logical::object(v))
}

/// A DELETE on a sub-path: the setting goes back to its default.
fn reset_field(role: &mut Role, f: Field) {
    let t = &mut role.token;
    match f {
        Field::LocalSecretIds | Field::BoundCidrList => {}
        Field::Policies => {
            t.token_policies.clear();
            t.legacy.remove("policies");
        }
        Field::SecretIdBoundCidrs => role.secret_id_bound_cidrs = None,
        Field::TokenBoundCidrs => t.token_bound_cidrs.clear(),
        Field::SecretIdNumUses => role.secret_id_num_uses = 0,
        Field::SecretIdTtl => role.secret_id_ttl = 0,
        Field::Period => {
            t.token_period = 0;
            t.legacy.remove("period");
        }
        Field::TokenNumUses => t.token_num_uses = 0,
        Field::TokenTtl => t.token_ttl = 0,
        Field::TokenMaxTtl => t.token_max_ttl = 0,
    }
}

fn set_field(ctx: &Ctx<'_>, role: &mut Role, f: Field, d: &Data) -> Result<(), EngineError> {
    let missing = |field: &str| invalid(format!("missing {field}"));
    let present = |field: &str| d.get(field).is_some_and(|v| !v.is_null());
    // The token settings go through `TokenParams::update` with only the sub-path's own
    // field, so their validation is the role write's.
    let only = |names: &[&str]| -> Data {
        names
            .iter()
            .filter_map(|n| d.get(*n).map(|v| ((*n).to_owned(), v.clone())))
            .collect()
    };
    match f {
        Field::LocalSecretIds => return Err(EngineError::UnsupportedOperation),
        Field::Policies => {
            if !present("token_policies") && !present("policies") {
                return Err(missing("token_policies"));
            }
            role.token.update(&only(&["token_policies", "policies"]))?;
        }
        Field::BoundCidrList | Field::SecretIdBoundCidrs => {
            let list = match f {
                Field::BoundCidrList => fields::string_list(d, "bound_cidr_list")?,
                _ => fields::string_list(d, "secret_id_bound_cidrs")?,
            };
            match list {
                Some(cidrs) if cidrs.is_empty() => return Err(missing("bound_cidr_list")),
                Some(cidrs) => {
                    validate_cidrs(&cidrs)
                        .map_err(|e| invalid(format!("failed to validate CIDR blocks: {e}")))?;
                    role.secret_id_bound_cidrs = Some(cidrs);
                }
                None => {}
            }
        }
        Field::TokenBoundCidrs => {
            if let Some(list) = fields::string_list(d, "token_bound_cidrs")? {
                role.token.token_bound_cidrs = tokenutil::parse_cidrs(&list)
                    .map_err(|e| invalid(format!("failed to parse token_bound_cidrs: {e}")))?;
            }
        }
        Field::SecretIdNumUses => {
            let n = fields::int(d, "secret_id_num_uses")?
                .ok_or_else(|| missing("secret_id_num_uses"))?;
            if n < 0 {
                return Err(invalid("secret_id_num_uses cannot be negative"));
            }
            role.secret_id_num_uses = n;
        }
        Field::SecretIdTtl => {
            role.secret_id_ttl = fields::duration(d, "secret_id_ttl")?
                .ok_or_else(|| missing("secret_id_ttl"))?
                .as_secs();
        }
        Field::Period => {
            if !present("token_period") && !present("period") {
                return Err(missing("period"));
            }
            role.token.update(&only(&["token_period", "period"]))?;
            let max = ctx.mount.max_lease_ttl;
            if role.token.token_period > max.as_secs() {
                return Err(invalid(format!(
                    "period of {:?} is greater than the backend's maximum lease TTL of {:?}",
                    go_duration(std::time::Duration::from_secs(role.token.token_period)),
                    go_duration(max)
                )));
            }
        }
        Field::TokenNumUses => {
            if !present("token_num_uses") {
                return Err(missing("token_num_uses"));
            }
            role.token.update(&only(&["token_num_uses"]))?;
        }
        Field::TokenTtl => {
            let ttl = fields::duration(d, "token_ttl")?
                .ok_or_else(|| missing("token_ttl"))?
                .as_secs();
            if role.token.token_max_ttl > 0 && ttl > role.token.token_max_ttl {
                return Err(invalid(
                    "token_ttl should not be greater than token_max_ttl",
                ));
            }
            role.token.token_ttl = ttl;
        }
        Field::TokenMaxTtl => {
            let max = fields::duration(d, "token_max_ttl")?
                .ok_or_else(|| missing("token_max_ttl"))?
                .as_secs();
            if max > 0 && role.token.token_ttl > max {
                return Err(invalid(
                    "token_max_ttl should be greater than or equal to token_ttl",
                ));
            }
            role.token.token_max_ttl = max;
        }
    }
    Ok(())
}

//! The `userpass` auth method: users with bcrypt-hashed passwords, `login/<user>`.
//!
//! A login for a user that does not exist still runs one bcrypt comparison (against a hash
//! made at start), so the answer takes as long as a wrong password for a real user, and
//! both answer OpenBao's 400 `invalid username or password`. Only a wrong password for a
//! real user counts toward its lockout, as in OpenBao.

use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::tokenutil::{self, TokenParams};
use crate::engine::{fields, Backend, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::engine::{Flags, LoginRecord, Ops, Params, Path};
use crate::logical::{Data, Login, Operation, Response};

const USERS: &str = "user/";
/// `bcrypt.DefaultCost`, as OpenBao hashes a `password`.
const COST: u32 = 10;
/// The bcrypt costs a `password_hash` may carry (OpenBao's bounds).
const MIN_COST: u32 = 5;
const MAX_COST: u32 = 12;
const INVALID: &str = "invalid username or password";

/// Compared against when the user does not exist, so that answer is as slow as a real one.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| bcrypt::hash("dummy", COST).unwrap_or_default());

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Users,
    User,
    Password,
    Policies,
    Login,
}

const USER_FIELDS: &[&str] = &[
    "username",
    "password",
    "password_hash",
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
    "policies",
    "ttl",
    "max_ttl",
    "bound_cidrs",
];

/// A stored user.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct User {
    #[serde(flatten)]
    token: TokenParams,
    /// The bcrypt hash; never returned.
    password_hash: String,
}

/// The userpass engine of one mount.
#[derive(Default)]
pub(crate) struct Userpass {
    verified: Verified,
}

/// Logins verified recently: a client that logs in again with the same name and password
/// within [`VERIFIED_FOR`] skips bcrypt. Entries are HMACs under a key made for this mount
/// instance and kept only in memory, over the name, the stored hash and the password, so a
/// password change (a new hash) or a deleted user no longer matches. Only successes are
/// kept: a wrong password, or an unknown user, always pays the full bcrypt.
struct Verified {
    key: Zeroizing<[u8; 32]>,
    seen: std::sync::Mutex<std::collections::HashMap<[u8; 32], i64>>,
}

/// How long a verified login is remembered, seconds.
const VERIFIED_FOR: i64 = 300;
/// At most this many remembered logins; past it, expired ones go, then all.
const VERIFIED_MAX: usize = 4096;

impl Default for Verified {
    fn default() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::Rng::fill(&mut rand::thread_rng(), &mut key[..]);
        Self {
            key,
            seen: Default::default(),
        }
    }
}

impl Verified {
    fn tag(&self, name: &str, hash: &str, password: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.key[..])
            .expect("hmac takes any key length");
        for part in [name, hash, password] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<[u8; 32], i64>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn contains(&self, tag: &[u8; 32], now: i64) -> bool {
        self.map().get(tag).is_some_and(|until| now < *until)
    }

    fn insert(&self, tag: [u8; 32], now: i64) {
        let mut map = self.map();
        if map.len() >= VERIFIED_MAX {
            map.retain(|_, until| now < *until);
            if map.len() >= VERIFIED_MAX {
                map.clear();
            }
        }
        map.insert(tag, now + VERIFIED_FOR);
    }
}

impl Backend for Userpass {
    type Route = Route;

    const PATHS: &'static [Path<Route>] = &[
        Path::new("users/", Route::Users)
            .ops(Ops::LIST)
            .fields(&["after", "limit"]),
        Path::new("users/{username}", Route::User)
            .ops(Ops::READ.union(Ops::WRITE).union(Ops::DELETE))
            .flags(Flags::EXISTENCE_CHECK)
            .fields(USER_FIELDS)
            .help("Manage users allowed to authenticate."),
        Path::new("users/{username}/password", Route::Password)
            .ops(Ops::UPDATE)
            .fields(&["username", "password", "password_hash"])
            .help("Reset user's password."),
        Path::new("users/{username}/policies", Route::Policies)
            .ops(Ops::UPDATE)
            .fields(&["username", "policies", "token_policies"])
            .help("Update the policies associated with the username."),
        Path::new("login/{username}", Route::Login)
            .ops(Ops::UPDATE)
            .flags(Flags::UNAUTHENTICATED)
            .fields(&["username", "password"])
            .help("Log in with a username and password."),
    ];

    async fn handle(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        req: EngineRequest,
    ) -> Result<EngineResponse, EngineError> {
        let name = req.params.get("username").to_lowercase();
        match route {
            Route::Users => {
                let mut keys = ctx.storage.list(USERS).await?;
                keys.sort();
                Ok(Response::list(keys))
            }
            Route::User => match req.op {
                Operation::Read => read(ctx, &name).await,
                Operation::Delete => {
                    ctx.storage.delete(&key(&name)).await?;
                    Ok(Response::no_content())
                }
                _ => write(ctx, &name, &req).await,
            },
            Route::Password => {
                let mut user = load(ctx, &name)
                    .await?
                    .ok_or_else(|| EngineError::InvalidRequest("username does not exist".into()))?;
                set_password(&mut user, &req.data).await?;
                store(ctx, &name, &user).await
            }
            Route::Policies => {
                let mut user = load(ctx, &name)
                    .await?
                    .ok_or_else(|| EngineError::InvalidRequest("username does not exist".into()))?;
                let mut only = Data::new();
                for f in ["token_policies", "policies"] {
                    if let Some(v) = req.data.get(f) {
                        only.insert(f.into(), v.clone());
                    }
                }
                user.token.update(&only)?;
                store(ctx, &name, &user).await
            }
            Route::Login => login(ctx, &self.verified, &name, &req).await,
        }
    }

    async fn exists(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        params: &Params,
    ) -> Result<bool, EngineError> {
        match route {
            Route::User => Ok(load(ctx, &params.get("username").to_lowercase())
                .await?
                .is_some()),
            _ => Ok(true),
        }
    }

    fn alias_lookahead(&self, route: Route, params: &Params, _data: &Data) -> Option<String> {
        (route == Route::Login).then(|| params.get("username").to_lowercase())
    }

    /// OpenBao's `pathLoginRenew`: the user must still exist with the same policies, and
    /// its current TTLs apply.
    async fn renew_login(
        &self,
        ctx: &Ctx<'_>,
        login: &LoginRecord,
    ) -> Result<Option<Login>, EngineError> {
        let name = match login.alias.as_str() {
            "" => login.metadata.get("username").cloned().unwrap_or_default(),
            alias => alias.to_owned(),
        };
        let user = load(ctx, &name).await?;
        tokenutil::renewal(
            user.as_ref().map(|u| &u.token),
            &login.policies,
            true,
            || format!("user {name:?} no longer exists, not renewing"),
        )
    }
}

fn key(name: &str) -> String {
    format!("{USERS}{name}")
}

async fn load(ctx: &Ctx<'_>, name: &str) -> Result<Option<User>, EngineError> {
    match ctx.storage.get(&key(name)).await? {
        None => Ok(None),
        Some(raw) => serde_json::from_slice(&raw).map(Some).map_err(|e| {
            EngineError::InvalidRequest(format!("stored user {name:?} is unreadable: {e}"))
        }),
    }
}

async fn store(ctx: &Ctx<'_>, name: &str, user: &User) -> Result<EngineResponse, EngineError> {
    let bytes = Zeroizing::new(
        serde_json::to_vec(user).map_err(|e| EngineError::InvalidRequest(e.to_string()))?,
    );
    ctx.storage.put(&key(name), &bytes).await?;
    Ok(Response::no_content())
}

async fn read(ctx: &Ctx<'_>, name: &str) -> Result<EngineResponse, EngineError> {
    let Some(user) = load(ctx, name).await? else {
        return Ok(Response::not_found());
    };
    let mut data = Data::new();
    user.token.populate(&mut data);
    Ok(Response::data(data))
}

async fn write(
    ctx: &Ctx<'_>,
    name: &str,
    req: &EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let password = fields::string(&req.data, "password")?.unwrap_or_default();
    let hash = fields::string(&req.data, "password_hash")?.unwrap_or_default();
    if req.op == Operation::Create {
        check_password_input(&password, &hash)?;
    }
    let mut user = load(ctx, name).await?.unwrap_or_default();
    user.token.update(&req.data)?;
    if !password.is_empty() || !hash.is_empty() {
        set_password(&mut user, &req.data).await?;
    }
    // An update of a user that the existence check did not see (a root token skips it)
    // still needs a password.
    if user.password_hash.is_empty() {
        check_password_input(&password, &hash)?;
    }
    store(ctx, name, &user).await
}

fn check_password_input(password: &str, hash: &str) -> Result<(), EngineError> {
    match (password.is_empty(), hash.is_empty()) {
        (false, false) => Err(EngineError::InvalidRequest(
            "only one of password or password_hash may be provided".into(),
        )),
        (true, true) => Err(EngineError::InvalidRequest(
            "must provide either password or password_hash".into(),
        )),
        _ => Ok(()),
    }
}

async fn set_password(user: &mut User, d: &Data) -> Result<(), EngineError> {
    let password = Zeroizing::new(fields::string(d, "password")?.unwrap_or_default());
    let hash = fields::string(d, "password_hash")?.unwrap_or_default();
    check_password_input(&password, &hash)?;
    if !password.is_empty() {
        // bcrypt reads 72 bytes at most; a longer password is refused rather than cut, as
        // Go's `GenerateFromPassword` refuses it.
        if password.len() > 72 {
            return Err(EngineError::InvalidRequest(
                "bcrypt: password length exceeds 72 bytes".into(),
            ));
        }
        user.password_hash = blocking(move || bcrypt::hash(password.as_bytes(), COST))
            .await?
            .map_err(|e| {
                EngineError::InvalidRequest(format!("failed to hash the password: {e}"))
            })?;
        return Ok(());
    }
    let cost = bcrypt_cost(&hash).ok_or_else(|| {
        EngineError::InvalidRequest("password_hash is not a valid bcrypt hash".into())
    })?;
    if cost < MIN_COST {
        return Err(EngineError::InvalidRequest(format!(
            "bcrypt cost of {cost} is too low, want {MIN_COST} at minimum"
        )));
    }
    if cost > MAX_COST {
        return Err(EngineError::InvalidRequest(format!(
            "bcrypt cost of {cost} exceeds maximum cost of {MAX_COST}"
        )));
    }
    user.password_hash = hash;
    Ok(())
}

/// The cost of a `$2a$`/`$2b$`/`$2y$` hash, if it is one.
fn bcrypt_cost(hash: &str) -> Option<u32> {
    let parts: Vec<&str> = hash.split('$').collect();
    match parts.as_slice() {
        ["", "2a" | "2b" | "2y", cost, rest] if cost.len() == 2 && rest.len() == 53 => {
            cost.parse().ok()
        }
        _ => None,
    }
}

/// bcrypt is deliberately slow: keep it off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, EngineError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| EngineError::InvalidRequest(format!("password check failed: {e}")))
}

async fn login(
    ctx: &Ctx<'_>,
    verified: &Verified,
    name: &str,
    req: &EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let password = Zeroizing::new(fields::string(&req.data, "password")?.unwrap_or_default());
    if password.is_empty() {
        return Err(EngineError::InvalidRequest("missing password".into()));
    }
    let user = load(ctx, name).await?;
    let hash = Arc::new(match &user {
        Some(u) if u.password_hash.is_empty() => {
            return Err(EngineError::InvalidRequest(INVALID.into()))
        }
        Some(u) => u.password_hash.clone(),
        None => DUMMY_HASH.clone(),
    });
    let now = ctx.clock.now().unix_timestamp();
    let tag = verified.tag(name, &hash, &password);
    let ok = user.is_some() && verified.contains(&tag, now)
        || blocking(move || bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false)).await?;
    if ok {
        verified.insert(tag, now);
    }
    let user = match (user, ok) {
        (Some(u), true) => u,
        // Only a real user's wrong password counts toward a lockout (OpenBao: an unknown
        // user is not an `ErrInvalidCredentials`).
        (Some(_), false) => return Err(EngineError::InvalidCredentials(INVALID.into())),
        (None, _) => return Err(EngineError::InvalidRequest(INVALID.into())),
    };
    if !tokenutil::remote_allowed(&user.token.token_bound_cidrs, req.connection.remote_addr) {
        return Err(EngineError::Forbidden("permission denied".into()));
    }
    let mut login = user.token.login(req.connection.remote_addr);
    login.display_name = name.to_owned();
    login.alias = name.to_owned();
    login.metadata.insert("username".into(), name.to_owned());
    Ok(Response::login(login))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn logins_are_checked_and_remembered_only_while_they_match() {
        use crate::engine::testing::Harness;
        use serde_json::json;
        let h = Harness::new(Userpass::default());
        let up = Operation::Update;
        h.call(
            up,
            "users/bob",
            json!({"password": "pw1", "token_policies": "p"}),
        )
        .await
        .expect("create");
        let login = |pw: &'static str| h.call(up, "login/Bob", json!({ "password": pw }));
        let ok = login("pw1").await.expect("login");
        let l = ok.login.expect("a login");
        assert_eq!(
            (l.display_name.as_str(), l.policies.clone()),
            ("bob", vec!["p".to_string()])
        );
        // Remembered now, but a wrong password still fails, as a credential error.
        login("pw1").await.expect("again");
        assert!(matches!(
            login("pw2").await,
            Err(EngineError::InvalidCredentials(_))
        ));
        assert!(matches!(
            h.call(up, "login/nobody", json!({"password": "pw1"})).await,
            Err(EngineError::InvalidRequest(m)) if m == INVALID
        ));
        // A new password: the remembered login no longer matches.
        h.call(up, "users/bob/password", json!({"password": "pw2"}))
            .await
            .expect("reset");
        assert!(matches!(
            login("pw1").await,
            Err(EngineError::InvalidCredentials(_))
        ));
        login("pw2").await.expect("new password");
        // A deleted user cannot log in, remembered or not.
        h.call(Operation::Delete, "users/bob", json!(null))
            .await
            .expect("delete");
        assert!(matches!(
            login("pw2").await,
            Err(EngineError::InvalidRequest(_))
        ));
        // Past the memory's lifetime the cache answers nothing by itself.
        let v = Verified::default();
        let tag = v.tag("a", "h", "p");
        v.insert(tag, 0);
        assert!(v.contains(&tag, VERIFIED_FOR - 1));
        assert!(!v.contains(&tag, VERIFIED_FOR));
    }

    #[tokio::test]
    async fn users_read_back_without_secrets_and_refuse_bad_input() {
        use crate::engine::testing::Harness;
        use serde_json::json;
        let h = Harness::new(Userpass::default());
        let up = Operation::Create;
        let err = |r: Result<EngineResponse, EngineError>| match r {
            Err(e) => e.to_string(),
            Ok(r) => panic!("expected an error, got {r:?}"),
        };
        assert_eq!(
            err(h.call(up, "users/a", json!({})).await),
            "must provide either password or password_hash"
        );
        assert_eq!(
            err(h
                .call(
                    up,
                    "users/a",
                    json!({"password": "x", "password_hash": "y"})
                )
                .await),
            "only one of password or password_hash may be provided"
        );
        assert_eq!(
            err(h
                .call(up, "users/a", json!({"password_hash": "nope"}))
                .await),
            "password_hash is not a valid bcrypt hash"
        );
        let weak = bcrypt::hash("x", 4).expect("hash");
        assert_eq!(
            err(h.call(up, "users/a", json!({"password_hash": weak})).await),
            "bcrypt cost of 4 is too low, want 5 at minimum"
        );
        let hash = bcrypt::hash("hashed", 5).expect("hash");
        h.call(
            up,
            "users/a",
            json!({"password_hash": hash, "policies": "X,y"}),
        )
        .await
        .expect("create");
        let d = h.data(Operation::Read, "users/A", json!(null)).await;
        assert_eq!(d["token_policies"], json!(["x", "y"]));
        assert_eq!(d["policies"], json!(["x", "y"]), "legacy name echoed");
        assert!(!d.to_string().contains("$2"), "no hash in {d}");
        h.call(Operation::Update, "login/a", json!({"password": "hashed"}))
            .await
            .expect("a password_hash user logs in");
        let keys = h.data(Operation::List, "users/", json!(null)).await;
        assert_eq!(keys["keys"], json!(["a"]));
    }

    #[test]
    fn bcrypt_costs_are_read_from_the_hash() {
        let h = bcrypt::hash("pw", 5).expect("hash");
        assert_eq!(bcrypt_cost(&h), Some(5));
        assert_eq!(bcrypt_cost("$2a$04$short"), None);
        assert_eq!(bcrypt_cost("plain"), None);
    }
}

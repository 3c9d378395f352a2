//! The core: the server's lifecycle and the request pipeline.
//!
//! [`Core`] is a cheap-to-clone handle over shared state. Its lifecycle is a type, not a
//! flag: [`State`] is `Uninitialized | Sealed | Unsealed(Arc<Unsealed>)`, and everything that
//! needs the barrier open lives inside [`Unsealed`], so sealing is dropping that value.
//!
//! May not: know HTTP types (that is `http`), or engine internals.

mod error;
mod login;
mod pipeline;
pub(crate) mod seal;
mod unsealed;

use std::sync::{Arc, RwLock};

use ::seal::{Key, Keyring, ShamirWrapper, Submitted, UnsealProgress};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub(crate) use error::{Error, Result};
use seal::SealKind;
pub(crate) use unsealed::{Services, Unsealed};

use crate::auth::lockout::ServerLockout;
use crate::barrier::Barrier;
use crate::token;

/// The lifecycle. Transitions happen under `Shared::lifecycle`; readers take a snapshot.
enum State {
    Uninitialized,
    Sealed(UnsealProgress),
    Unsealed(Arc<Unsealed>),
}

struct Shared {
    backend: Arc<dyn storage::Backend>,
    seal: SealKind,
    // A std lock: it is held only to read or swap the state, never across an `.await`, so
    // it cannot stall the runtime, and it is cheaper than tokio's on every request.
    state: RwLock<State>,
    // Serialises init, unseal and seal, which do storage I/O between reading and writing
    // `state`; held across `.await`, hence tokio's.
    lifecycle: tokio::sync::Mutex<()>,
    /// The configuration's `user_lockout` stanzas, applied at every unseal.
    lockout: ServerLockout,
}

/// The handle every HTTP handler holds.
#[derive(Clone)]
pub(crate) struct Core {
    shared: Arc<Shared>,
}

/// What `sys/init` asks for, already type-checked by `http`.
#[derive(Debug, Default)]
pub(crate) struct InitParams {
    pub(crate) secret_shares: i64,
    pub(crate) secret_threshold: i64,
    pub(crate) recovery_shares: i64,
    pub(crate) recovery_threshold: i64,
    pub(crate) stored_shares: i64,
    pub(crate) pgp_keys: bool,
    /// Dev mode only: the root token id to mint instead of a random one.
    pub(crate) root_token_id: Option<String>,
}

/// What `sys/init` answers. Every field is secret.
pub(crate) struct InitResult {
    pub(crate) keys: Vec<Zeroizing<Vec<u8>>>,
    pub(crate) recovery_keys: Vec<Zeroizing<Vec<u8>>>,
    pub(crate) root_token: Zeroizing<String>,
}

/// What `sys/seal-status` (and `sys/unseal`) answer.
pub(crate) struct SealStatus {
    pub(crate) seal_type: &'static str,
    pub(crate) initialized: bool,
    pub(crate) sealed: bool,
    pub(crate) threshold: u32,
    pub(crate) shares: u32,
    pub(crate) progress: usize,
    pub(crate) nonce: String,
    pub(crate) recovery_seal: bool,
    pub(crate) cluster: Option<(String, String)>,
    pub(crate) storage_type: &'static str,
}

/// Where the server stands, for `sys/health` and `sys/leader`.
pub(crate) enum Health {
    Uninitialized,
    Sealed,
    Active {
        cluster_name: String,
        cluster_id: String,
    },
}

impl Core {
    /// Open the core over `backend`. With an auto seal and an initialized data directory
    /// this also unseals, as OpenBao does at start.
    pub(crate) async fn open(
        backend: Arc<dyn storage::Backend>,
        seal: SealKind,
        lockout: ServerLockout,
    ) -> Result<Self> {
        let state = match seal::unseal_config(&*backend, &seal).await? {
            Some(config) => State::Sealed(UnsealProgress::new(config.secret_threshold.max(1) as usize)),
            None if seal::is_initialized(&*backend).await? => {
                return Err(Error::Internal(format!(
                    "the data directory was initialized with a different seal than the configured {:?} seal",
                    seal.type_name()
                )))
            }
            None => State::Uninitialized,
        };
        let core = Core {
            shared: Arc::new(Shared {
                backend,
                seal,
                state: RwLock::new(state),
                lifecycle: tokio::sync::Mutex::new(()),
                lockout,
            }),
        };
        if let SealKind::Static(wrapper) = &core.shared.seal {
            if core.is_sealed() {
                let wrapped = seal::read_wrapped(&*core.shared.backend, seal::UNSEAL_KEYS).await?;
                let root = ::seal::KeyWrapper::unwrap(&**wrapper, &wrapped).map_err(|e| {
                    Error::Internal(format!(
                        "the static seal key could not unwrap the root key: {e}"
                    ))
                })?;
                let _guard = core.shared.lifecycle.lock().await;
                core.open_barrier(&root).await?;
                tracing::info!("unsealed with the static seal key");
            }
        }
        Ok(core)
    }

    fn is_sealed(&self) -> bool {
        matches!(*self.read_state(), State::Sealed(_))
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A poisoned lock means a panic while swapping states; the state itself is a plain
        // enum that is never left half-written, so carrying on is sound.
        self.shared.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.shared.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The open barrier and everything behind it, or why there is none.
    pub(crate) fn unsealed(&self) -> Result<Arc<Unsealed>> {
        match &*self.read_state() {
            State::Unsealed(u) => Ok(u.clone()),
            State::Sealed(_) | State::Uninitialized => Err(Error::Sealed),
        }
    }

    pub(crate) fn health(&self) -> Health {
        match &*self.read_state() {
            State::Uninitialized => Health::Uninitialized,
            State::Sealed(_) => Health::Sealed,
            State::Unsealed(u) => Health::Active {
                cluster_name: u.cluster.name.clone(),
                cluster_id: u.cluster.id.clone(),
            },
        }
    }

    pub(crate) fn is_initialized(&self) -> bool {
        !matches!(*self.read_state(), State::Uninitialized)
    }

    pub(crate) async fn seal_status(&self) -> Result<SealStatus> {
        let config = seal::unseal_config(&*self.shared.backend, &self.shared.seal).await?;
        let state = self.read_state();
        let (progress, nonce, cluster) = match &*state {
            State::Sealed(p) => (p.progress(), p.nonce().to_owned(), None),
            State::Unsealed(u) => (
                0,
                String::new(),
                Some((u.cluster.name.clone(), u.cluster.id.clone())),
            ),
            State::Uninitialized => (0, String::new(), None),
        };
        Ok(SealStatus {
            seal_type: self.shared.seal.type_name(),
            initialized: !matches!(*state, State::Uninitialized),
            sealed: !matches!(*state, State::Unsealed(_)),
            threshold: config.as_ref().map_or(0, |c| c.secret_threshold),
            shares: config.as_ref().map_or(0, |c| c.secret_shares),
            progress,
            nonce,
            recovery_seal: self.shared.seal.is_auto(),
            cluster,
            storage_type: self.shared.backend.kind(),
        })
    }

    /// `sys/init`: create the keys, the keyring and the root token, all in one atomic batch.
    pub(crate) async fn init(&self, params: InitParams) -> Result<InitResult> {
        let (barrier_config, recovery_config) = validate_init(&self.shared.seal, &params)?;
        let _guard = self.shared.lifecycle.lock().await;
        if self.is_initialized() {
            return Err(Error::AlreadyInitialized);
        }
        let backend = &self.shared.backend;
        let root_key = Key::generate();
        let keyring = Keyring::new(root_key.clone());
        let mut ops = vec![
            seal::json_op(seal::SEAL_CONFIG, &barrier_config)?,
            Barrier::keyring_op(&keyring),
        ];
        let mut keys = Vec::new();
        let mut recovery_keys = Vec::new();
        match &self.shared.seal {
            SealKind::Shamir => {
                let kek = Key::generate();
                keys = split_key(&kek, &barrier_config)?;
                let wrapped =
                    ::seal::KeyWrapper::wrap(&ShamirWrapper::new(kek), root_key.as_bytes())
                        .map_err(|e| Error::Internal(e.to_string()))?;
                ops.push(seal::json_op(seal::UNSEAL_KEYS, &wrapped)?);
            }
            SealKind::Static(wrapper) => {
                let recovery_config =
                    recovery_config.ok_or_else(|| Error::Internal("no recovery config".into()))?;
                let recovery_key = Key::generate();
                recovery_keys = split_key(&recovery_key, &recovery_config)?;
                ops.push(seal::json_op(
                    seal::UNSEAL_KEYS,
                    &seal::wrap_with(&**wrapper, root_key.as_bytes())?,
                )?);
                ops.push(seal::json_op(
                    seal::RECOVERY_KEY,
                    &seal::wrap_with(&**wrapper, recovery_key.as_bytes())?,
                )?);
                ops.push(seal::json_op(seal::RECOVERY_CONFIG, &recovery_config)?);
            }
        }
        // Records behind the barrier are sealed now, with the keyring being persisted in the
        // same batch, so a crash leaves either nothing or a complete, openable store.
        let barrier = Barrier::new(backend.clone(), keyring);
        let root_token = match params.root_token_id {
            Some(id) => Zeroizing::new(id),
            None => token::generate_id(),
        };
        let mut plain: Vec<(String, Zeroizing<Vec<u8>>)> = token::init_records(&root_token)
            .into_iter()
            .map(|(k, v)| (format!("{}{k}", token::PREFIX), v))
            .collect();
        plain.push(unsealed::ClusterInfo::generate().record()?);
        for (path, value) in plain {
            ops.push(storage::Op::Put(
                path.clone(),
                barrier.seal_value(&path, &value),
            ));
        }
        let batch = storage::Batch {
            conditions: vec![storage::Condition::Absent(seal::SEAL_CONFIG.into())],
            ops,
        };
        match backend.batch(batch).await {
            Err(storage::Error::ConditionFailed) => return Err(Error::AlreadyInitialized),
            other => other?,
        }
        tracing::info!(seal = self.shared.seal.type_name(), "initialized");
        match &self.shared.seal {
            SealKind::Shamir => {
                *self.write_state() = State::Sealed(UnsealProgress::new(
                    barrier_config.secret_threshold as usize,
                ));
            }
            SealKind::Static(_) => {
                let unsealed = Unsealed::load(Arc::new(barrier), &self.shared.lockout).await?;
                *self.write_state() = State::Unsealed(Arc::new(unsealed));
            }
        }
        Ok(InitResult {
            keys,
            recovery_keys,
            root_token,
        })
    }

    /// `sys/unseal`: add one share, or reset the progress.
    pub(crate) async fn unseal(&self, key: Option<&str>, reset: bool) -> Result<SealStatus> {
        let _guard = self.shared.lifecycle.lock().await;
        if reset {
            if let State::Sealed(p) = &mut *self.write_state() {
                p.reset();
            }
            drop(_guard);
            return self.seal_status().await;
        }
        let key = match key {
            Some(k) if !k.is_empty() => k,
            _ => {
                return Err(Error::InvalidRequest(
                    "'key' must be specified in request body as JSON, or 'reset' set to true"
                        .into(),
                ))
            }
        };
        if !self.is_initialized() {
            return Err(Error::NotInitialized);
        }
        let share = ::seal::parse_share(key).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        let submitted = match &mut *self.write_state() {
            State::Sealed(progress) => Some(progress.submit(share)),
            // Already unsealed: OpenBao answers with the status and ignores the key.
            _ => None,
        };
        match submitted {
            None | Some(Ok(Submitted::Pending { .. })) => {}
            Some(Ok(Submitted::Complete(secret))) => self.complete_unseal(&secret).await?,
            Some(Err(e @ ::seal::Error::Shamir(_))) => {
                return Err(Error::InvalidRequest(format!(
                    "invalid key: failed to compute combined key: {e}"
                )))
            }
            Some(Err(e)) => return Err(Error::InvalidRequest(format!("invalid key: {e}"))),
        }
        drop(_guard);
        self.seal_status().await
    }

    async fn complete_unseal(&self, secret: &[u8]) -> Result<()> {
        let backend = &*self.shared.backend;
        let root = match &self.shared.seal {
            SealKind::Shamir => {
                let kek = Key::from_slice(secret).map_err(|_| {
                    Error::InvalidRequest(format!(
                        "invalid key: failed to setup unseal key: invalid key size {}",
                        secret.len()
                    ))
                })?;
                let wrapped = seal::read_wrapped(backend, seal::UNSEAL_KEYS).await?;
                ::seal::KeyWrapper::unwrap(&ShamirWrapper::new(kek), &wrapped).map_err(|e| {
                    Error::InvalidRequest(format!(
                        "unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: {e}"
                    ))
                })?
            }
            SealKind::Static(wrapper) => {
                let stored = seal::read_wrapped(backend, seal::RECOVERY_KEY).await?;
                let recovery = ::seal::KeyWrapper::unwrap(&**wrapper, &stored).map_err(|e| {
                    Error::Internal(format!("the seal could not unwrap the recovery key: {e}"))
                })?;
                if !bool::from(recovery.as_slice().ct_eq(secret)) {
                    return Err(Error::InvalidRequest("invalid recovery key".into()));
                }
                let wrapped = seal::read_wrapped(backend, seal::UNSEAL_KEYS).await?;
                ::seal::KeyWrapper::unwrap(&**wrapper, &wrapped).map_err(|e| {
                    Error::Internal(format!("the seal could not unwrap the root key: {e}"))
                })?
            }
        };
        self.open_barrier(&root).await
    }

    /// Open the barrier with the root key and move to `Unsealed`. The caller holds the
    /// lifecycle lock.
    async fn open_barrier(&self, root: &[u8]) -> Result<()> {
        let root =
            Key::from_slice(root).map_err(|e| Error::Internal(format!("stored root key: {e}")))?;
        let barrier = Barrier::unlock(self.shared.backend.clone(), &root).await?;
        let unsealed = Unsealed::load(Arc::new(barrier), &self.shared.lockout).await?;
        *self.write_state() = State::Unsealed(Arc::new(unsealed));
        tracing::info!("unsealed");
        Ok(())
    }

    /// `sys/seal`: needs a root token. Sealing drops `Unsealed` and all it owns.
    pub(crate) async fn seal(&self, token: Option<&str>) -> Result<()> {
        let _guard = self.shared.lifecycle.lock().await;
        let unsealed = match self.unsealed() {
            Ok(u) => u,
            // Sealing a sealed or uninitialized server is a no-op, as in OpenBao.
            Err(_) => return Ok(()),
        };
        // The raw `sys/seal` handler has no peer address: a CIDR-bound token cannot seal.
        let auth = unsealed.authenticate(token, None).await?;
        // `sys/seal` is a sudo path: update and sudo on it, as in OpenBao.
        let acl = unsealed.policies.acl(&auth.entry.policies).await?;
        let decision = acl.allow(&crate::policy::AclRequest {
            op: crate::logical::Operation::Update,
            path: "sys/seal",
            data: &Default::default(),
            wrap_ttl: None,
        });
        if auth.last_use {
            unsealed.tokens.finish_use(&auth).await?;
        }
        if !(decision.allowed && decision.sudo) {
            return Err(Error::PermissionDenied);
        }
        let config = seal::unseal_config(&*self.shared.backend, &self.shared.seal)
            .await?
            .ok_or_else(|| Error::Internal("seal configuration vanished".into()))?;
        *self.write_state() =
            State::Sealed(UnsealProgress::new(config.secret_threshold.max(1) as usize));
        tracing::info!("sealed");
        Ok(())
    }
}

fn validate_init(
    seal: &SealKind,
    p: &InitParams,
) -> Result<(::seal::SealConfig, Option<::seal::SealConfig>)> {
    if p.pgp_keys {
        return Err(Error::InvalidRequest(
            "PGP-encrypted key shares are not supported by this server; omit pgp_keys".into(),
        ));
    }
    let invalid = |what: &str, e: ::seal::Error| {
        Error::InvalidRequest(format!("invalid {what} configuration: {e}"))
    };
    match seal {
        SealKind::Shamir => {
            let mut extra = Vec::new();
            if p.recovery_shares != 0 {
                extra.push("recovery_shares");
            }
            if p.recovery_threshold != 0 {
                extra.push("recovery_threshold");
            }
            if !extra.is_empty() {
                return Err(Error::InvalidRequest(format!(
                    "parameters {} not applicable to seal type shamir",
                    extra.join(",")
                )));
            }
            let config = ::seal::SealConfig::shamir(p.secret_shares, p.secret_threshold)
                .map_err(|e| invalid("seal", e))?;
            if p.stored_shares > 0 && p.stored_shares as u32 > config.secret_shares {
                return Err(Error::InvalidRequest(
                    "invalid seal configuration: stored keys cannot be larger than shares".into(),
                ));
            }
            Ok((config, None))
        }
        SealKind::Static(_) => {
            if p.secret_shares != 0 || p.secret_threshold != 0 {
                return Err(Error::InvalidRequest(
                    "parameters secret_shares,secret_threshold not applicable to seal type static"
                        .into(),
                ));
            }
            let recovery = ::seal::SealConfig::recovery(p.recovery_shares, p.recovery_threshold)
                .map_err(|e| invalid("recovery", e))?;
            let barrier = ::seal::SealConfig {
                r#type: "static".into(),
                secret_shares: 1,
                secret_threshold: 1,
            };
            Ok((barrier, Some(recovery)))
        }
    }
}

/// Shares of `key` under `config`; a single share is the key itself, as in OpenBao.
fn split_key(key: &Key, config: &::seal::SealConfig) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    match config.secret_shares {
        // An auto seal may be initialized with no recovery keys at all.
        0 => return Ok(Vec::new()),
        1 => return Ok(vec![Zeroizing::new(key.as_bytes().to_vec())]),
        _ => {}
    }
    ::seal::shamir::split(
        key.as_bytes(),
        config.secret_shares as usize,
        config.secret_threshold as usize,
    )
    .map_err(|e| Error::Internal(format!("shamir split: {e}")))
}

//! Everything that exists only while the barrier is open.
//!
//! Built from storage at unseal, dropped at seal: dropping an `Unsealed` drops the keyring,
//! the token store and (as they arrive) the router, policies, leases and their workers.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use rand::Rng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::error::{Error, Result};
use crate::auth::lockout::{self, Lockout, ServerLockout};
use crate::barrier::Barrier;
use crate::engine::{registry, Clock, DynBackend, Mounted, SystemClock};
use crate::lease::{self, ExpirationManager};
use crate::logical::storage::Storage;
use crate::policy::{self, PolicyStore};
use crate::router::{MountEntry, MountRequest, Router, RouterError};
use crate::secrets::cubbyhole::Cubbyhole;
use crate::system::SystemBackend;
use crate::token::{self, Authenticated, TokenBackend, TokenStore};

const CLUSTER_INFO: &str = "core/cluster/local/info";

/// The cluster's name and id, fixed at init and reported by `sys/health` and `sys/seal-status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ClusterInfo {
    pub(crate) name: String,
    pub(crate) id: String,
}

impl ClusterInfo {
    pub(crate) fn generate() -> Self {
        let suffix: u32 = rand::thread_rng().gen();
        Self {
            name: format!("vault-cluster-{suffix:08x}"),
            id: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// The plaintext record `sys/init` seals into its batch.
    pub(crate) fn record(&self) -> Result<(String, Zeroizing<Vec<u8>>)> {
        let bytes = serde_json::to_vec(self).map_err(|e| Error::Internal(e.to_string()))?;
        Ok((CLUSTER_INFO.into(), Zeroizing::new(bytes)))
    }
}

pub(crate) struct Unsealed {
    pub(crate) router: Arc<Router>,
    pub(crate) tokens: Arc<TokenStore>,
    pub(crate) policies: Arc<PolicyStore>,
    pub(crate) cluster: ClusterInfo,
    /// The one time source of everything behind the barrier (token expiry, leases); tests
    /// swap in one they move.
    pub(crate) clock: Arc<dyn Clock>,
    /// The expiration manager, and its worker; sealing drops `Unsealed` and ends both.
    #[allow(dead_code)] // the core installs its secret revoker here once engines lease
    pub(crate) leases: Arc<ExpirationManager>,
    /// Failed-login counters and locked users.
    pub(crate) lockout: Arc<Lockout>,
    _expiry: AbortOnDrop,
    _periodic: AbortOnDrop,
}

/// Calls every mount's periodic function once a [`crate::engine::PERIODIC_INTERVAL`], for
/// as long as the router lives (it holds a weak handle, so sealing ends it).
fn spawn_periodic(router: Weak<Router>, clock: Arc<dyn Clock>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::engine::PERIODIC_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(router) = router.upgrade() else {
                return;
            };
            for mount in router.mounts() {
                let ctx = crate::engine::Ctx {
                    storage: &mount.view,
                    mount: &mount.info,
                    clock: &*clock,
                };
                if let Err(e) = mount.backend.periodic(&ctx).await {
                    tracing::warn!(mount = %mount.entry.path, error = %e, "periodic work failed");
                }
            }
        }
    })
}

/// A background task that ends when its owner is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The core's services that some engines are handed (the `sys/` backend and the token
/// store's own engine); every other engine sees only its `Ctx`.
#[derive(Clone)]
pub(crate) struct Services {
    pub(crate) tokens: Arc<TokenStore>,
    /// The expiration manager: token and secret leases (`sys/leases/*`).
    pub(crate) leases: Arc<ExpirationManager>,
    pub(crate) policies: Arc<PolicyStore>,
    pub(crate) clock: Arc<dyn Clock>,
    /// `sys/locked-users`, and `sys/auth` forgetting a disabled mount's counters.
    pub(crate) lockout: Arc<Lockout>,
}

/// Builds the engine for a mount entry: the system backend and the token store's engine
/// (which get service handles) or a builtin from the registry.
fn engine_for(
    services: &Services,
    entry: &MountEntry,
    router: Weak<Router>,
) -> Result<Arc<dyn DynBackend>, RouterError> {
    let table = |e: crate::engine::TableError| RouterError::Invalid(e.to_string());
    match entry.kind.as_str() {
        "system" => Ok(Arc::new(
            Mounted::new(SystemBackend::new(router, services.clone())).map_err(table)?,
        )),
        "token" => Ok(Arc::new(
            Mounted::new(TokenBackend::new(
                services.tokens.clone(),
                services.policies.clone(),
                router,
            ))
            .map_err(table)?,
        )),
        "cubbyhole" => Ok(Arc::new(Mounted::new(Cubbyhole).map_err(table)?)),
        kind => {
            let options = entry.options.clone().unwrap_or_default();
            Ok(registry::build(kind, &options)?)
        }
    }
}

impl Unsealed {
    /// Post-unseal setup: read what the core keeps behind the barrier.
    pub(crate) async fn load(barrier: Arc<Barrier>, lockout: &ServerLockout) -> Result<Self> {
        let raw = barrier
            .get(CLUSTER_INFO)
            .await?
            .ok_or_else(|| Error::Internal(format!("{CLUSTER_INFO} is missing")))?;
        let cluster = serde_json::from_slice(&raw)
            .map_err(|e| Error::Internal(format!("{CLUSTER_INFO}: {e}")))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let tokens = Arc::new(TokenStore::load(barrier.view(token::PREFIX), clock.clone()).await?);
        let leases =
            ExpirationManager::load(barrier.view(lease::PREFIX), tokens.clone(), clock.clone())
                .await?;
        let policies = Arc::new(PolicyStore::load(barrier.view(policy::PREFIX)).await?);
        let lockout =
            Arc::new(Lockout::load(barrier.view(lockout::PREFIX), lockout.clone()).await?);
        let services = Services {
            tokens: tokens.clone(),
            leases: leases.clone(),
            policies: policies.clone(),
            clock: clock.clone(),
            lockout: lockout.clone(),
        };
        let factory = move |e: &MountEntry, r: Weak<Router>| engine_for(&services, e, r);
        let router = Router::load(barrier, Box::new(factory)).await?;
        if let Some(cubby) = router.mount_at("cubbyhole/") {
            tokens.set_cubbyhole(cubby.view.clone());
        }
        let expiry = AbortOnDrop(lease::spawn_worker(&leases));
        let periodic = AbortOnDrop(spawn_periodic(Arc::downgrade(&router), clock.clone()));
        Ok(Self {
            router,
            tokens,
            policies,
            cluster,
            clock,
            leases,
            lockout,
            _expiry: expiry,
            _periodic: periodic,
        })
    }

    /// What `-dev` mounts, as OpenBao's dev mode does: KV v2 at `secret/`.
    pub(crate) async fn mount_dev_secret(&self) -> Result<()> {
        if self.router.mount_at("secret/").is_some() {
            return Ok(());
        }
        let req = MountRequest {
            kind: "kv".into(),
            description: "key/value secret storage".into(),
            options: Some(BTreeMap::from([("version".into(), "2".into())])),
            ..MountRequest::default()
        };
        Ok(self.router.mount("secret/", req).await?)
    }

    /// The pipeline's token step: a live token (one use spent), or `PermissionDenied`.
    /// `remote` is the caller's address, for tokens bound to CIDR blocks.
    pub(crate) async fn authenticate(
        &self,
        token: Option<&str>,
        remote: Option<std::net::IpAddr>,
    ) -> Result<Authenticated> {
        let Some(token) = token else {
            return Err(Error::PermissionDenied);
        };
        self.tokens
            .authenticate(token, self.clock.now(), remote)
            .await?
            .ok_or(Error::PermissionDenied)
    }
}

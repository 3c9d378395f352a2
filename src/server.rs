//! Wiring only: configuration → storage backend → seal → core → HTTP listeners.

use std::future::Future;
use std::sync::Arc;

use base64::Engine as _;
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use crate::config::{self, Config, ConfigError};
use crate::core::seal::SealKind;
use crate::core::{Core, InitParams};
use crate::http::{self, listener, AppState};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Storage(#[from] storage::Error),
    #[error("seal \"static\": {0}")]
    Seal(String),
    #[error("{0}")]
    Core(String),
    #[error("listener {address}: {message}")]
    Tls { address: String, message: String },
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

impl From<crate::core::Error> for ServerError {
    fn from(e: crate::core::Error) -> Self {
        ServerError::Core(e.to_string())
    }
}

/// A built server: the core is open (and, with a static seal, unsealed); nothing listens yet.
pub struct Server {
    core: Core,
    listeners: Vec<config::Listener>,
}

/// What `-dev` prints: the single unseal key and the root token.
pub struct DevCredentials {
    pub unseal_key: Zeroizing<String>,
    pub root_token: Zeroizing<String>,
}

impl Server {
    /// Build from a complete configuration.
    pub async fn build(config: &Config) -> Result<Self, ServerError> {
        config.check_complete()?;
        let backend: Arc<dyn storage::Backend> = match &config.storage {
            Some(config::Storage::RocksDb { path }) => {
                let path = path.clone();
                Arc::new(storage::RocksBackend::open(path)?)
            }
            Some(config::Storage::Memory) | None => Arc::new(storage::MemBackend::new()),
        };
        let seal = match &config.seal {
            None => SealKind::Shamir,
            Some(config::Seal::Static {
                current_key_id,
                current_key,
                previous_key_id,
                previous_key,
            }) => {
                let current = seal::resolve_key_material(current_key)
                    .map_err(|e| ServerError::Seal(format!("current_key: {e}")))?;
                let previous = match (previous_key_id, previous_key) {
                    (Some(id), Some(spec)) => Some((
                        id.clone(),
                        seal::resolve_key_material(spec)
                            .map_err(|e| ServerError::Seal(format!("previous_key: {e}")))?,
                    )),
                    _ => None,
                };
                let wrapper = seal::StaticWrapper::new(current_key_id.clone(), current, previous)
                    .map_err(|e| ServerError::Seal(e.to_string()))?;
                SealKind::Static(Arc::new(wrapper))
            }
        };
        let core = Core::open(backend, seal, config.user_lockout()).await?;
        Ok(Self {
            core,
            listeners: config.listeners.clone(),
        })
    }

    /// `-dev`: in memory, initialized with one key share, unsealed, with the given root
    /// token id (or a random one).
    pub async fn dev(
        listen: &str,
        root_token_id: Option<String>,
    ) -> Result<(Self, DevCredentials), ServerError> {
        let config = Config {
            listeners: vec![config::Listener {
                address: listen.to_owned(),
                tls: None,
                max_request_size: config::DEFAULT_MAX_REQUEST_SIZE,
                max_request_duration: config::DEFAULT_MAX_REQUEST_DURATION,
            }],
            storage: Some(config::Storage::Memory),
            ..Config::default()
        };
        let server = Self::build(&config).await?;
        let init = server
            .core
            .init(InitParams {
                secret_shares: 1,
                secret_threshold: 1,
                root_token_id,
                ..InitParams::default()
            })
            .await?;
        let key = init
            .keys
            .first()
            .ok_or_else(|| ServerError::Core("init returned no key".into()))?;
        let unseal_key = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(key));
        server.core.unseal(Some(&unseal_key), false).await?;
        server.core.unsealed()?.mount_dev_secret().await?;
        Ok((
            server,
            DevCredentials {
                unseal_key,
                root_token: init.root_token,
            },
        ))
    }

    /// The addresses the configuration asks to listen on.
    pub fn addresses(&self) -> Vec<String> {
        self.listeners.iter().map(|l| l.address.clone()).collect()
    }

    /// Bind every configured listener and serve until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let mut bound = Vec::new();
        for l in &self.listeners {
            let tls = l
                .tls
                .as_ref()
                .map(listener::acceptor)
                .transpose()
                .map_err(|e| ServerError::Tls {
                    address: l.address.clone(),
                    message: e.to_string(),
                })?;
            let socket =
                TcpListener::bind(&l.address)
                    .await
                    .map_err(|source| ServerError::Bind {
                        address: l.address.clone(),
                        source,
                    })?;
            tracing::info!(address = %l.address, tls = tls.is_some(), "listening");
            bound.push((socket, tls, self.app(l)));
        }
        // One shutdown signal fans out to every listener.
        let (tx, rx) = tokio::sync::watch::channel(());
        let mut tasks = tokio::task::JoinSet::new();
        for (socket, tls, app) in bound {
            let mut rx = rx.clone();
            tasks.spawn(listener::serve(socket, tls, app, async move {
                let _ = rx.changed().await;
            }));
        }
        shutdown.await;
        let _ = tx.send(());
        while tasks.join_next().await.is_some() {}
        Ok(())
    }

    /// Serve plain HTTP on an already bound socket (tests bind `127.0.0.1:0`).
    pub async fn serve(self, socket: TcpListener, shutdown: impl Future<Output = ()>) {
        let settings = self.listeners.first().cloned().unwrap_or(config::Listener {
            address: String::new(),
            tls: None,
            max_request_size: config::DEFAULT_MAX_REQUEST_SIZE,
            max_request_duration: config::DEFAULT_MAX_REQUEST_DURATION,
        });
        listener::serve(socket, None, self.app(&settings), shutdown).await;
    }

    fn app(&self, l: &config::Listener) -> axum::Router {
        http::router(AppState {
            core: self.core.clone(),
            max_request_size: l.max_request_size,
            max_request_duration: l.max_request_duration,
        })
    }
}

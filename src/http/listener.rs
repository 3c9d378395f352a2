//! Serving the API on a TCP listener, in plain HTTP or TLS (rustls), with graceful shutdown.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::{Tls, TlsVersion};
use crate::logical::Connection;

/// How long open connections get to finish after shutdown is asked for.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM {what}")]
    Missing { path: String, what: &'static str },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A rustls acceptor from a listener's PEM files.
pub(crate) fn acceptor(tls: &Tls) -> Result<TlsAcceptor, TlsError> {
    let certs = read_pem(&tls.cert_file, |r| {
        rustls_pemfile::certs(r).collect::<Result<Vec<_>, _>>()
    })?;
    if certs.is_empty() {
        return Err(TlsError::Missing {
            path: tls.cert_file.display().to_string(),
            what: "certificate",
        });
    }
    let key =
        read_pem(&tls.key_file, rustls_pemfile::private_key)?.ok_or_else(|| TlsError::Missing {
            path: tls.key_file.display().to_string(),
            what: "private key",
        })?;
    let versions: &[&rustls::SupportedProtocolVersion] = match tls.min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read_pem<T>(
    path: &Path,
    parse: impl FnOnce(&mut dyn std::io::BufRead) -> Result<T, std::io::Error>,
) -> Result<T, TlsError> {
    let err = |source| TlsError::Read {
        path: path.display().to_string(),
        source,
    };
    let bytes = std::fs::read(path).map_err(err)?;
    parse(&mut &bytes[..]).map_err(err)
}

/// What one accepted connection needs, whether it arrives plain or through TLS.
struct Conn {
    builder: auto::Builder<TokioExecutor>,
    app: Router,
    watcher: hyper_util::server::graceful::Watcher,
}

impl Conn {
    /// Serve the connection; every request on it carries `peer` as an extension.
    async fn serve<S>(
        self,
        stream: S,
        peer: Connection,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let peer = Arc::new(peer);
        let app = tower::ServiceExt::map_request(
            self.app,
            move |mut r: axum::http::Request<hyper::body::Incoming>| {
                r.extensions_mut().insert(peer.clone());
                r
            },
        );
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(app));
        self.watcher.watch(conn.into_owned()).await
    }
}

/// Accept connections until `shutdown` resolves, then let open ones drain.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = Conn {
            builder: builder.clone(),
            app: app.clone(),
            watcher: graceful.watcher(),
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            let mut info = Connection {
                remote_addr: Some(peer.ip()),
                peer_certs: Vec::new(),
            };
            let result = match tls {
                None => conn.serve(stream, info).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => {
                        // Verified against `tls_client_ca_file` by the handshake already.
                        info.peer_certs = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .map(|chain| chain.iter().map(|c| c.to_vec()).collect())
                            .unwrap_or_default();
                        conn.serve(stream, info).await
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                },
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN:?}; closing them");
    }
}

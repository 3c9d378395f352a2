//! Serving the API on a TCP listener, in plain HTTP or TLS (rustls), with graceful shutdown.
//!
//! A TLS listener asks for a client certificate unless `tls_disable_client_certs`: with
//! `tls_client_ca_file` the certificate must chain to it (and must be there at all with
//! `tls_require_and_verify_client_cert`); without, any certificate is taken as OpenBao's
//! `RequestClientCert` takes it, and the `cert` auth method decides whether it is trusted.
//! Either way the client has proved it holds the certificate's key, and the chain reaches
//! every request on the connection as `Connection::peer_certs`.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::{ClientCerts, Tls, TlsVersion};
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
    #[error("failed to parse CA certificate in tls_client_ca_file {path}: {message}")]
    ClientCa { path: String, message: String },
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
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)?;
    let builder = match client_verifier(&tls.client_certs, provider)? {
        None => builder.with_no_client_auth(),
        Some(verifier) => builder.with_client_cert_verifier(verifier),
    };
    let mut config = builder.with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// How the handshake treats client certificates; `None` never asks for one.
fn client_verifier(
    settings: &ClientCerts,
    provider: Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, TlsError> {
    if settings.disabled {
        return Ok(None);
    }
    let Some(path) = &settings.ca_file else {
        return Ok(Some(Arc::new(AnyClientCert {
            algorithms: provider.signature_verification_algorithms,
        })));
    };
    let display = path.display().to_string();
    let invalid = |message: String| TlsError::ClientCa {
        path: display.clone(),
        message,
    };
    let cas = read_pem(path, |r| {
        rustls_pemfile::certs(r).collect::<Result<Vec<_>, _>>()
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        roots.add(ca).map_err(|e| invalid(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(invalid("no certificate in it".into()));
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = if settings.required {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    builder
        .build()
        .map(Some)
        .map_err(|e| invalid(e.to_string()))
}

/// Takes whatever certificate the client presents, checking only that the client signed the
/// handshake with its key: the chain is for the `cert` auth method to judge.
#[derive(Debug)]
struct AnyClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
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
                // `::ffff:10.1.2.3` from a dual-stack listener is 10.1.2.3 to a CIDR check.
                remote_addr: Some(peer.ip().to_canonical()),
                peer_certs: Vec::new(),
            };
            let result = match tls {
                None => conn.serve(stream, info).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => {
                        // Chained to `tls_client_ca_file` when there is one; otherwise
                        // only the key is proved (see `AnyClientCert`).
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

//! A pooled hyper client for MPNS: HTTP/1.1 keep-alive, plain and TLS
//! connections reused across notifications, mutual TLS for authenticated
//! (https) channels with rustls and its `ring` provider.
//!
//! The client only moves bytes (the [`Transport`] trait): the request comes from
//! [`mpns_proto::Request`], and the answer goes back as a
//! [`mpns_proto::Response`] for the core to classify.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mpns_proto::http_interop::ToHttpError;
use mpns_proto::sender::TransportError;
use mpns_proto::{Outcome, Request, Response};

use crate::conn_watch::{Watch, Watching};
use crate::proxy::{ProxyConfig, ProxyConnector};
use crate::transport::{Transport, TransportFailure};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A TLS client certificate chain and its private key, for authenticated channels.
///
/// `Debug` and logs never show the key.
#[derive(Clone)]
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Identity {
    /// Loads a PEM certificate chain (leaf first) and a PEM private key
    /// (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, ClientError> {
        let chain = CertificateDer::pem_slice_iter(chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClientError::Pem(format!("certificate chain: {e}")))?;
        if chain.is_empty() {
            return Err(ClientError::Pem(
                "certificate chain: no certificate found".into(),
            ));
        }
        // The PEM error may quote the input: say only where it failed.
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|_| ClientError::Pem("private key: no usable PEM private key found".into()))?;
        Ok(Identity {
            chain,
            key: Arc::new(key),
        })
    }

    /// Loads the chain and key from PEM files.
    pub fn from_pem_files(chain: &Path, key: &Path) -> Result<Self, ClientError> {
        let read = |p: &Path| {
            crate::input::read_file_limited(p, crate::input::MAX_INPUT).map_err(|e| {
                ClientError::Io {
                    path: p.display().to_string(),
                    source: Arc::new(e),
                }
            })
        };
        Self::from_pem(&read(chain)?, &read(key)?)
    }
}

/// Settings of a [`Client`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Time allowed for one request, connect included (15 s, as Microsoft recommended).
    pub timeout: Duration,
    /// Largest response body read (MPNS sends none); a longer one is cut, its
    /// status headers kept and its connection not reused (64 KiB).
    pub max_response_body: usize,
    /// Trust the public roots of webpki-roots (true). Verification is never off.
    pub webpki_roots: bool,
    /// More trusted CA certificates, PEM (the emulator's CA, a corporate proxy's).
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// The client certificate for authenticated (https) channels.
    pub identity: Option<Identity>,
    /// Idle keep-alive connections kept per host (`usize::MAX`: no limit).
    pub max_idle_per_host: usize,
    /// An idle connection is closed after this long unused (90 s).
    pub idle_timeout: Duration,
    /// Proxies (none by default; [`ProxyConfig::from_env`] reads
    /// `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`): both transports tunnel
    /// through them with `CONNECT`.
    pub proxy: ProxyConfig,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_secs(15),
            max_response_body: 64 * 1024,
            webpki_roots: true,
            extra_roots_pem: Vec::new(),
            identity: None,
            max_idle_per_host: usize::MAX,
            idle_timeout: Duration::from_secs(90),
            proxy: ProxyConfig::default(),
        }
    }
}

/// Why a [`Client`] could not be built. The I/O and rustls errors are kept
/// as the [`source`](std::error::Error::source), not repeated in `Display`.
#[derive(Debug, Clone)]
pub enum ClientError {
    /// A PEM input is not usable (the PEM parser's error is not kept: it may
    /// quote a private key).
    Pem(String),
    /// A file could not be read.
    Io {
        /// The file.
        path: String,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// rustls refused the configuration (for example a key that does not match the certificate).
    Tls {
        /// What was being configured.
        what: &'static str,
        /// rustls's error.
        source: rustls::Error,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Pem(e) => write!(f, "PEM: {e}"),
            ClientError::Io { path, .. } => write!(f, "reading {path}"),
            ClientError::Tls { what, .. } => write!(f, "TLS configuration: {what}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Pem(_) => None,
            ClientError::Io { source, .. } => Some(&**source),
            ClientError::Tls { source, .. } => Some(source),
        }
    }
}

/// The pooled MPNS client. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct Client {
    inner: HyperClient<Watching<HttpsConnector<ProxyConnector>>, Full<Bytes>>,
    timeout: Duration,
    max_response_body: usize,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A one-shot send's result: the response and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The MPNS status headers as read.
    pub response: Response,
    /// The core's classification of it.
    pub outcome: Outcome,
}

/// Why a one-shot send got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneShotError {
    /// The channel URI was refused.
    Channel(mpns_proto::UriError),
    /// The notification was refused before any I/O.
    Encode(mpns_proto::EncodeError),
    /// The request failed on the way: connect refused, reset, timeout, TLS
    /// ([`TransportFailure::kind`]); the cause is its source.
    Transport(TransportFailure),
}

impl fmt::Display for OneShotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OneShotError::Channel(e) => write!(f, "channel URI: {e}"),
            OneShotError::Encode(e) => write!(f, "{e}"),
            OneShotError::Transport(e) => write!(f, "transport ({:?}): {}", e.kind(), e.detail()),
        }
    }
}

impl std::error::Error for OneShotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OneShotError::Channel(e) => Some(e),
            OneShotError::Encode(e) => Some(e),
            OneShotError::Transport(e) => Some(e),
        }
    }
}

impl Client {
    /// Builds a client. Fails only for an unusable certificate or key.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let tls = tls_config(&config)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(ProxyConnector::new(http, config.proxy));
        let inner = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(config.max_idle_per_host)
            .pool_idle_timeout(config.idle_timeout)
            // Head and body copied into one buffer, one write: measured cheaper than writev.
            .http1_writev(false)
            .build(Watching(connector));
        Ok(Client {
            inner,
            timeout: config.timeout,
            max_response_body: config.max_response_body,
        })
    }

    /// Sends a request built by [`Request::to_http`].
    pub async fn send_hyper(
        &self,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<Response, TransportFailure> {
        let exchange = async {
            // Kept for the one retry (`Watch::retry_on_fresh_connection`).
            let copy = request.clone();
            let response = match self.inner.request(request).await {
                Ok(response) => response,
                Err(e) if Watch::of_error(&e).is_some_and(|w| w.retry_on_fresh_connection()) => {
                    // A kept connection closed before any byte of the answer
                    // (the server closed it as the request went out): once
                    // more, on the connection the pool gives next.
                    tracing::debug!(error = %error_chain(&e), "sending once more");
                    self.inner.request(copy).await.map_err(transport_error)?
                }
                Err(e) => return Err(transport_error(e)),
            };
            if let Some(watch) = response.extensions().get::<Watch>() {
                watch.answered();
            }
            let (parts, body) = response.into_parts();
            // MPNS answers with no body; read what comes, bounded, so the
            // connection can be reused.
            let _ = Limited::new(body, self.max_response_body).collect().await;
            // Every field, repeats included, so that conflicting status
            // headers are seen (`docs/protocol.md`, "Reading a response").
            Ok(Response::from_http_parts(&parts))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(TransportFailure::new(
                TransportError::Timeout,
                format!("no response within {:?}", self.timeout),
            )),
        }
    }
}

impl Transport for Client {
    /// A channel URI the `http` crate refuses (see [`ToHttpError::Uri`])
    /// cannot go through hyper: it fails as [`TransportError::Other`]. The
    /// direct transport sends it as written.
    type Prepared = Result<hyper::Request<Full<Bytes>>, ToHttpError>;

    fn prepare(&self, request: &Request<'_>) -> Self::Prepared {
        request.to_http()
    }

    async fn send_prepared(&self, prepared: Self::Prepared) -> Result<Response, TransportFailure> {
        match prepared {
            Ok(request) => self.send_hyper(request).await,
            Err(e) => Err(TransportFailure::new(TransportError::Other, e)),
        }
    }
}

/// The rustls configuration of both transports: webpki roots and the extra
/// CAs, the client certificate if any, the `ring` provider.
pub(crate) fn tls_config(config: &ClientConfig) -> Result<rustls::ClientConfig, ClientError> {
    let mut roots = RootCertStore::empty();
    if config.webpki_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for (i, pem) in config.extra_roots_pem.iter().enumerate() {
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| ClientError::Pem(format!("CA certificate: {e}")))?;
            roots.add(cert).map_err(|source| ClientError::Tls {
                what: "CA certificate",
                source,
            })?;
            found += 1;
        }
        // A CA file that holds no certificate would silently trust nothing more.
        if found == 0 {
            return Err(ClientError::Pem(format!(
                "CA certificate {}: no PEM certificate found",
                i + 1
            )));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| ClientError::Tls {
            what: "protocol versions",
            source,
        })?
        .with_root_certificates(roots);
    match &config.identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(|source| ClientError::Tls {
                what: "client certificate and key",
                source,
            }),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// Maps a hyper client error to the core's transport failure kinds.
fn transport_error(e: hyper_util::client::legacy::Error) -> TransportFailure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    let mut kind = if e.is_connect() {
        TransportError::Other
    } else {
        TransportError::Reset
    };
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            kind = io_error_kind(io).unwrap_or(kind);
        }
        if s.is::<rustls::Error>() {
            kind = TransportError::Tls;
        }
        source = next_source(s);
    }
    TransportFailure::new(kind, e)
}

/// The error under `e`. An `io::Error`'s own `source` skips the error it
/// wraps (hyper-rustls wraps tokio-rustls's, which wraps rustls's): look
/// inside it instead, or a certificate failure would not be seen as TLS.
pub(crate) fn next_source<'e>(
    e: &'e (dyn std::error::Error + 'static),
) -> Option<&'e (dyn std::error::Error + 'static)> {
    match e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => Some(inner),
        None => e.source(),
    }
}

/// The transport failure an I/O error means, if it says.
pub(crate) fn io_error_kind(io: &std::io::Error) -> Option<TransportError> {
    use std::io::ErrorKind as K;
    Some(match io.kind() {
        K::ConnectionRefused => TransportError::Refused,
        K::TimedOut => TransportError::Timeout,
        K::InvalidData if io.get_ref().is_some_and(|i| i.is::<rustls::Error>()) => {
            TransportError::Tls
        }
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            TransportError::Reset
        }
        _ => return None,
    })
}

/// An error and its sources, one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

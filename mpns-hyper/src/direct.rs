//! The direct transport: the core's request bytes written to tokio TCP (or
//! tokio-rustls) streams and the response read back through the core's
//! [`HttpExchange`], with no HTTP library in between. Per-host pools of
//! kept-alive connections, mutual TLS with the client certificate for https
//! channels, the client's connect and request timeout.
//!
//! It sends HTTP/1.1 to the channel's host, or through a `CONNECT` tunnel
//! of the configured proxy ([`crate::proxy`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mpns_proto::sender::TransportError;
use mpns_proto::{ConnectionReuse, ExchangeError, HttpExchange, Request, Response};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::client::{ClientConfig, ClientError, io_error_kind, tls_config};
use crate::transport::{Context, Transport, TransportFailure};

/// Bytes of response a connection buffers: the longest response head it
/// takes (MPNS sends about 300 bytes). Bodies stream through.
const READ_BUFFER: usize = 8 * 1024;

/// The direct transport. Cheap to clone: clones share the pools.
#[derive(Clone)]
pub struct DirectClient {
    inner: Arc<Inner>,
}

struct Inner {
    tls: TlsConnector,
    proxy: crate::proxy::ProxyConfig,
    timeout: Duration,
    idle_timeout: Duration,
    max_idle_per_host: usize,
    /// Most response bytes read, head and body: the buffer plus the body limit.
    max_response: usize,
    idle: Mutex<HashMap<Endpoint, Vec<Idle>>>,
}

impl fmt::Debug for DirectClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectClient")
            .field("timeout", &self.inner.timeout)
            .field("idle_connections", &self.idle_connections())
            .finish_non_exhaustive()
    }
}

/// Where a connection goes: scheme, host (lower case, IPv6 in brackets) and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Endpoint {
    tls: bool,
    host: Box<str>,
    port: u16,
}

/// A request ready for [`DirectClient`]: its HTTP/1.1 bytes and where they go.
#[derive(Debug)]
pub struct DirectRequest {
    bytes: Vec<u8>,
    endpoint: Endpoint,
}

struct Conn {
    stream: Stream,
    buf: Box<[u8]>,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// Why one attempt failed: the exchange's own error or the stream's.
enum Failure {
    Exchange(ExchangeError),
    Io(std::io::Error),
    /// The response went on past the limit before its head was complete.
    TooLong(usize),
}

/// What one attempt brought back.
struct Answer {
    response: Response,
    /// The connection can carry the next request.
    reusable: bool,
}

impl From<ExchangeError> for Failure {
    fn from(e: ExchangeError) -> Self {
        Failure::Exchange(e)
    }
}

impl Failure {
    fn into_transport(self) -> TransportFailure {
        match self {
            Failure::Exchange(e) => TransportFailure::new(e.transport_error(), e),
            Failure::TooLong(max) => TransportFailure::new(
                TransportError::Protocol,
                format!("response longer than {max} bytes"),
            ),
            Failure::Io(e) => {
                TransportFailure::new(io_error_kind(&e).unwrap_or(TransportError::Reset), e)
            }
        }
    }
}

impl DirectClient {
    /// Builds a client. Fails only for an unusable certificate or key.
    pub fn new(config: ClientConfig) -> Result<DirectClient, ClientError> {
        let tls = tls_config(&config)?;
        Ok(DirectClient {
            inner: Arc::new(Inner {
                tls: TlsConnector::from(Arc::new(tls)),
                proxy: config.proxy,
                timeout: config.timeout,
                idle_timeout: config.idle_timeout,
                max_idle_per_host: config.max_idle_per_host,
                max_response: READ_BUFFER.saturating_add(config.max_response_body),
                idle: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Idle connections kept open, all hosts together.
    pub fn idle_connections(&self) -> usize {
        self.pools().values().map(Vec::len).sum()
    }

    fn pools(&self) -> MutexGuard<'_, HashMap<Endpoint, Vec<Idle>>> {
        // A panic elsewhere leaves the map consistent: keep using it.
        self.inner.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most recently used idle connection to `endpoint` that has not
    /// been idle too long.
    fn take_idle(&self, endpoint: &Endpoint) -> Option<Conn> {
        let mut pools = self.pools();
        let idle = pools.get_mut(endpoint)?;
        let now = Instant::now();
        while let Some(entry) = idle.pop() {
            if now.duration_since(entry.since) < self.inner.idle_timeout {
                return Some(entry.conn);
            }
        }
        None
    }

    fn put_idle(&self, endpoint: Endpoint, conn: Conn) {
        let mut pools = self.pools();
        let idle = pools.entry(endpoint).or_default();
        // The oldest sit at the front, under the ones in use: close those idle
        // too long here, or a busy pool would keep them open for good.
        let now = Instant::now();
        let expired = idle
            .iter()
            .take_while(|e| now.duration_since(e.since) >= self.inner.idle_timeout)
            .count();
        idle.drain(..expired);
        if idle.len() < self.inner.max_idle_per_host {
            idle.push(Idle { conn, since: now });
        }
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Conn, TransportFailure> {
        let host = endpoint
            .host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&endpoint.host);
        let connect_failed = |e: std::io::Error| {
            Context::failure(
                io_error_kind(&e).unwrap_or(TransportError::Other),
                format!("connecting to {host}:{}", endpoint.port),
                e,
            )
        };
        let tcp = match self.inner.proxy.for_target(endpoint.tls, host) {
            None => TcpStream::connect((host, endpoint.port))
                .await
                .map_err(connect_failed)?,
            Some(proxy) => {
                let authority = format!("{}:{}", endpoint.host, endpoint.port);
                crate::proxy::connect(proxy, &authority)
                    .await
                    .map_err(|e| {
                        TransportFailure::new(
                            io_error_kind(&e).unwrap_or(TransportError::Other),
                            crate::proxy::ProxyFailure::new(proxy, &authority, e),
                        )
                    })?
            }
        };
        // Requests are written whole: no reason to wait for more.
        let _ = tcp.set_nodelay(true);
        let stream = if endpoint.tls {
            let name = ServerName::try_from(host.to_owned()).map_err(|e| {
                Context::failure(
                    TransportError::Tls,
                    format!("{host} is not a TLS server name"),
                    e,
                )
            })?;
            let tls = self.inner.tls.connect(name, tcp).await.map_err(|e| {
                let kind = io_error_kind(&e).unwrap_or(TransportError::Tls);
                Context::failure(kind, "TLS handshake".into(), e)
            })?;
            Stream::Tls(Box::new(tls))
        } else {
            Stream::Plain(tcp)
        };
        Ok(Conn {
            stream,
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
        })
    }

    /// The exchange on a kept connection or a new one, with the core's one
    /// retry on a fresh connection.
    async fn exchange(&self, request: DirectRequest) -> Result<Response, TransportFailure> {
        let DirectRequest { bytes, endpoint } = request;
        let (mut conn, reused) = match self.take_idle(&endpoint) {
            Some(conn) => (conn, true),
            None => (self.connect(&endpoint).await?, false),
        };
        let mut exchange: HttpExchange = HttpExchange::new(reused);
        loop {
            match attempt(&mut conn, &mut exchange, &bytes, self.inner.max_response).await {
                Ok(answer) => {
                    if answer.reusable {
                        self.put_idle(endpoint, conn);
                    }
                    return Ok(answer.response);
                }
                Err(failure) => {
                    drop(conn);
                    if !exchange.retry_on_fresh_connection() {
                        return Err(failure.into_transport());
                    }
                    tracing::debug!(
                        host = %endpoint.host,
                        "kept connection failed before a response; reconnecting"
                    );
                    conn = self.connect(&endpoint).await?;
                }
            }
        }
    }
}

/// Writes the request and reads its response on one connection.
async fn attempt(
    conn: &mut Conn,
    exchange: &mut HttpExchange,
    bytes: &[u8],
    max_response: usize,
) -> Result<Answer, Failure> {
    let Conn { stream, buf } = conn;
    match stream {
        Stream::Plain(s) => s.write_all(bytes).await.map_err(Failure::Io)?,
        Stream::Tls(s) => {
            s.write_all(bytes).await.map_err(Failure::Io)?;
            s.flush().await.map_err(Failure::Io)?;
        }
    }
    let mut total = 0usize;
    loop {
        let space = exchange.read_space(buf)?;
        let n = match stream {
            Stream::Plain(s) => s.read(space).await,
            Stream::Tls(s) => s.read(space).await,
        }
        .map_err(Failure::Io)?;
        total = total.saturating_add(n);
        if total > max_response {
            // A body MPNS never sends: keep the status headers, not the connection.
            return match exchange.response_in_progress() {
                Some(response) => Ok(Answer {
                    response,
                    reusable: false,
                }),
                None => Err(Failure::TooLong(max_response)),
            };
        }
        if let Some(done) = exchange.received(buf, n)? {
            return Ok(Answer {
                response: done.response,
                reusable: done.connection == ConnectionReuse::KeepAlive,
            });
        }
    }
}

impl Transport for DirectClient {
    type Prepared = DirectRequest;

    fn prepare(&self, request: &Request<'_>) -> DirectRequest {
        let mut bytes = vec![0; request.http_len()];
        // Cannot fail: the buffer has the exact length.
        let _ = request.write_http(&mut bytes);
        let channel = request.channel();
        DirectRequest {
            bytes,
            endpoint: Endpoint {
                tls: channel.is_authenticated(),
                host: channel.host().to_ascii_lowercase().into_boxed_str(),
                port: channel.port(),
            },
        }
    }

    async fn send_prepared(&self, prepared: DirectRequest) -> Result<Response, TransportFailure> {
        let timeout = self.inner.timeout;
        match tokio::time::timeout(timeout, self.exchange(prepared)).await {
            Ok(result) => result,
            Err(_) => Err(TransportFailure::new(
                TransportError::Timeout,
                format!("no response within {timeout:?}"),
            )),
        }
    }
}

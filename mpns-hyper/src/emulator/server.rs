//! Listeners, TLS and the hyper service: routing, request checks, answers.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use mpns_proto::{MessageId, RequestKind};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::state::{self, Accepted, Answer, Shared, Verdict};
use super::{HTTP_PREFIX, HTTPS_PREFIX, ReceivedPayload, TlsConfig, schema};
use mpns_proto::http_interop::header_name::{
    CALLBACK_URI, DEVICE_CONNECTION_STATUS, MESSAGE_ID, NOTIFICATION_CLASS, NOTIFICATION_STATUS,
    SUBSCRIPTION_STATUS, TARGET,
};

static REASON: HeaderName = HeaderName::from_static("x-emulator-reason");

/// How many bytes of a response [`Behaviour::ResetMidResponse`](super::Behaviour) lets through:
/// the status line and a few bytes of the first header.
const RESET_AFTER: usize = 20;

/// Bodies longer than this are not read: 400 and the connection closes.
const READ_CAP: usize = 64 * 1024;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn invalid(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("emulator TLS: {what}: {e}"),
    )
}

/// The HTTPS listener's rustls configuration: mutual TLS that lets clients
/// without a certificate through (their requests get 403).
pub(super) fn tls_acceptor(tls: &TlsConfig) -> io::Result<TlsAcceptor> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = CertificateDer::pem_slice_iter(tls.server_cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("server certificate", e))?;
    if chain.is_empty() {
        return Err(invalid("server certificate", "no certificate in the PEM"));
    }
    let key = PrivateKeyDer::from_pem_slice(tls.server_key_pem.as_bytes())
        .map_err(|e| invalid("server key", e))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(tls.client_ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| invalid("client CA", e))?;
        roots.add(cert).map_err(|e| invalid("client CA", e))?;
    }
    if roots.is_empty() {
        return Err(invalid("client CA", "no certificate in the PEM"));
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .map_err(|e| invalid("client verifier", e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("protocol versions", e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| invalid("server certificate and key", e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// What bounds the connections of a server left running: their count and
/// how long each may take to send a request or wait for the next.
#[derive(Clone, Copy, Debug)]
pub(super) struct ConnectionLimits {
    pub(super) request_read_timeout: Duration,
    pub(super) idle_timeout: Duration,
    pub(super) max_connections: usize,
}

/// Serves both listeners until `stop` fires (or its sender is dropped).
pub(super) async fn run(
    shared: Arc<Shared>,
    limits: ConnectionLimits,
    http: std::net::TcpListener,
    https: Option<(std::net::TcpListener, TlsAcceptor)>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    // One count for both listeners.
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    match TcpListener::from_std(http) {
        Ok(listener) => {
            let accept = accept_loop(Arc::clone(&shared), limits, permits.clone(), listener, None);
            tokio::spawn(accept);
        }
        Err(e) => tracing::error!(error = %e, "emulator: HTTP listener"),
    }
    if let Some((listener, acceptor)) = https {
        match TcpListener::from_std(listener) {
            Ok(listener) => {
                let accept = accept_loop(
                    Arc::clone(&shared),
                    limits,
                    permits,
                    listener,
                    Some(acceptor),
                );
                tokio::spawn(accept);
            }
            Err(e) => tracing::error!(error = %e, "emulator: HTTPS listener"),
        }
    }
    let _ = stop.await;
}

async fn accept_loop(
    shared: Arc<Shared>,
    limits: ConnectionLimits,
    permits: Arc<tokio::sync::Semaphore>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
) {
    loop {
        // At the cap, stop accepting: new connections wait in the listen
        // queue until one closes.
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                shared.count_cap_reached();
                tracing::info!(
                    max_connections = limits.max_connections,
                    "emulator: connection cap reached; new connections wait"
                );
                match permits.clone().acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => return,
                }
            }
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: do not spin.
                tracing::warn!(error = %e, "emulator: accept");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared.count_connection();
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve(&shared, stream, limits, false, false).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            shared.count_handshake();
                            let authenticated = stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .is_some_and(|certs| !certs.is_empty());
                            serve(&shared, stream, limits, true, authenticated).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "emulator: TLS handshake failed"),
                        Err(_) => tracing::debug!("emulator: TLS handshake timed out"),
                    }
                }
            }
            shared.count_closed();
            drop(permit);
        });
    }
}

/// What a connection's handler and its [`ConnIo`] share.
struct Conn {
    secure: bool,
    authenticated: bool,
    /// Set by a [`Verdict::Reset`]: [`ConnIo`] cuts the next response.
    reset: AtomicBool,
    /// A request is being handled: no read deadline meanwhile.
    busy: AtomicBool,
    /// Requests answered: each sends the connection back to waiting.
    answered: AtomicU64,
    /// How long the body may take (`request_read_timeout`).
    read_timeout: Duration,
}

async fn serve<T>(
    shared: &Arc<Shared>,
    io: T,
    limits: ConnectionLimits,
    secure: bool,
    authenticated: bool,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shared = Arc::clone(shared);
    let conn = Arc::new(Conn {
        secure,
        authenticated,
        reset: AtomicBool::new(false),
        busy: AtomicBool::new(false),
        answered: AtomicU64::new(0),
        read_timeout: limits.request_read_timeout,
    });
    let io = TokioIo::new(ConnIo::new(
        io,
        limits,
        Arc::clone(&conn),
        Arc::clone(&shared),
    ));
    let service = service_fn(move |request| {
        let shared = Arc::clone(&shared);
        let conn = Arc::clone(&conn);
        async move {
            conn.busy.store(true, Ordering::Release);
            let reply = handle(&shared, &conn, request).await;
            conn.answered.fetch_add(1, Ordering::AcqRel);
            conn.busy.store(false, Ordering::Release);
            Ok::<_, Infallible>(reply)
        }
    });
    if let Err(e) = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service)
        .await
    {
        tracing::debug!(error = %e, "emulator: connection ended");
    }
}

/// Which deadline a connection's reads run under.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request's first byte: `idle_timeout`.
    Idle,
    /// A request has started: `request_read_timeout` for the rest of it.
    Request,
}

/// A connection's stream as hyper sees it.
///
/// Reads run under the connection's timeouts: while no request is being
/// handled, a read that waits past the deadline of its phase fails, and
/// hyper closes the connection (while one is handled, a slow behaviour or
/// the body's read, the handler bounds the time itself).
///
/// Writes pass through until a reset is armed; then [`RESET_AFTER`] bytes
/// of the response go and the write fails, which makes hyper drop the
/// connection (the peer sees a truncated response and the connection close).
struct ConnIo<T> {
    inner: T,
    conn: Arc<Conn>,
    limits: ConnectionLimits,
    shared: Arc<Shared>,
    phase: Phase,
    answered: u64,
    deadline: Pin<Box<tokio::time::Sleep>>,
    written: usize,
}

impl<T> ConnIo<T> {
    fn new(inner: T, limits: ConnectionLimits, conn: Arc<Conn>, shared: Arc<Shared>) -> Self {
        ConnIo {
            inner,
            conn,
            limits,
            shared,
            phase: Phase::Idle,
            answered: 0,
            deadline: Box::pin(tokio::time::sleep(limits.idle_timeout)),
            written: 0,
        }
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        let after = match phase {
            Phase::Idle => self.limits.idle_timeout,
            Phase::Request => self.limits.request_read_timeout,
        };
        if let Some(at) = tokio::time::Instant::now().checked_add(after) {
            self.deadline.as_mut().reset(at);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ConnIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let answered = self.conn.answered.load(Ordering::Acquire);
        if answered != self.answered {
            // A request was answered since: wait for the next one.
            self.answered = answered;
            self.enter(Phase::Idle);
        }
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && self.phase == Phase::Idle {
                    self.enter(Phase::Request);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if self.conn.busy.load(Ordering::Acquire)
                    || self.deadline.as_mut().poll(cx).is_pending()
                {
                    return Poll::Pending;
                }
                self.shared.count_timed_out();
                let (what, after) = match self.phase {
                    Phase::Idle => ("idle", self.limits.idle_timeout),
                    Phase::Request => ("request not read", self.limits.request_read_timeout),
                };
                tracing::info!(?after, "emulator: connection {what} too long; closed");
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("emulator: {what} for {after:?}"),
                )))
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> ConnIo<T> {
    fn poll_write_cut(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.written < RESET_AFTER {
            let take = buf.len().min(RESET_AFTER - self.written);
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &buf[..take]))?;
            self.written += n;
            return Poll::Ready(Ok(n));
        }
        ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "emulator: reset mid-response",
        )))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ConnIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.conn.reset.load(Ordering::Relaxed) {
            return self.poll_write_cut(cx, buf);
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.conn.reset.load(Ordering::Relaxed) {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            return self.poll_write_cut(cx, first);
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

type Reply = Response<Full<Bytes>>;

fn empty(status: u16) -> Reply {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}

fn message_id_value(id: Option<MessageId>) -> HeaderValue {
    match id {
        None => HeaderValue::from_static("00000000-0000-0000-0000-000000000000"),
        Some(id) => HeaderValue::from_bytes(&id.to_text())
            .unwrap_or_else(|_| HeaderValue::from_static("00000000-0000-0000-0000-000000000000")),
    }
}

/// A status with the MPNS headers (and a reason on refusals).
fn mpns(answer: Answer, echo: Option<MessageId>, reason: Option<&'static str>) -> Reply {
    let mut response = empty(answer.status);
    let headers = response.headers_mut();
    headers.insert(
        NOTIFICATION_STATUS,
        HeaderValue::from_static(answer.notification),
    );
    headers.insert(
        SUBSCRIPTION_STATUS,
        HeaderValue::from_static(answer.subscription),
    );
    headers.insert(
        DEVICE_CONNECTION_STATUS,
        HeaderValue::from_static(answer.device),
    );
    headers.insert(MESSAGE_ID, message_id_value(echo));
    if let Some(reason) = reason {
        headers.insert(REASON.clone(), HeaderValue::from_static(reason));
    }
    response
}

/// A refused request: Dropped / N/A / N/A with the reason.
fn refuse(status: u16, echo: Option<MessageId>, reason: &'static str) -> Reply {
    mpns(state::refused(status), echo, Some(reason))
}

/// Counts and answers one request.
async fn handle(shared: &Shared, conn: &Conn, request: Request<Incoming>) -> Reply {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    if !conn.secure && path == "/inspect" {
        return inspect(shared, &parts.method, parts.uri.query());
    }
    shared.count_request();
    let reply = match read_body(&parts.headers, body, conn.read_timeout).await {
        Ok(body) => notify(shared, conn, &parts, &body).await,
        Err(reply) => reply,
    };
    if reply.status().is_client_error() {
        shared.count_rejected();
    }
    log_refusal(path, &reply);
    reply
}

/// Logs, at info, an answer that is not 200 Received, with its reason: the
/// emulator's own (`X-Emulator-Reason`) or the MPNS status headers that a
/// channel behaviour answered with.
fn log_refusal(path: &str, reply: &Reply) {
    let headers = reply.headers();
    let text = |name: &HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
    };
    let status = reply.status().as_u16();
    if status == 200 && text(&NOTIFICATION_STATUS) == "Received" {
        return;
    }
    let channel = crate::redact::channel(path);
    match headers.get(&REASON).and_then(|v| v.to_str().ok()) {
        Some(reason) => tracing::info!(status, reason, %channel, "emulator: refused"),
        None => tracing::info!(
            status,
            notification = text(&NOTIFICATION_STATUS),
            subscription = text(&SUBSCRIPTION_STATUS),
            device = text(&DEVICE_CONNECTION_STATUS),
            %channel,
            "emulator: not accepted (channel behaviour)"
        ),
    }
}

/// Reads the whole body (so that the connection stays usable), up to
/// [`READ_CAP`], within `timeout`.
async fn read_body(headers: &HeaderMap, body: Incoming, timeout: Duration) -> Result<Bytes, Reply> {
    let too_large = || {
        let mut reply = refuse(400, None, "body too large");
        reply
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        reply
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > READ_CAP as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(timeout, Limited::new(body, READ_CAP).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(_)) => Err(too_large()),
        Err(_) => {
            tracing::info!(?timeout, "emulator: body not read in time; closed");
            let mut reply = refuse(408, None, "body not received in time");
            reply
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(reply)
        }
    }
}

/// Where a path leads on this listener.
enum Route<'a> {
    Notification(&'a str),
    Callback(&'a str),
}

fn route(path: &str, secure: bool) -> Option<Route<'_>> {
    let rest = path.strip_prefix(if secure { HTTPS_PREFIX } else { HTTP_PREFIX })?;
    let (id, callback) = match rest.strip_suffix("/callback") {
        Some(id) => (id, true),
        None => (rest, false),
    };
    if id.is_empty() || id.contains('/') {
        return None;
    }
    Some(if callback {
        Route::Callback(id)
    } else {
        Route::Notification(id)
    })
}

/// At most one value of `name`.
fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h [u8]>, ()> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(());
    }
    Ok(first.map(HeaderValue::as_bytes))
}

/// What the header checks found.
struct Checked<'h> {
    kind: RequestKind,
    class: u8,
    callback_uri: Option<&'h str>,
}

/// The header checks of a notification or callback registration (400 reasons).
fn check_headers<'h>(
    shared: &Shared,
    headers: &'h HeaderMap,
    secure: bool,
    callback: bool,
) -> Result<Checked<'h>, &'static str> {
    let block: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if block > shared.limits.headers {
        return Err("header lines over the limit");
    }
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return Err("Transfer-Encoding (chunked bodies) is not accepted: send Content-Length");
    }
    if !headers.contains_key(header::CONTENT_LENGTH) {
        return Err("Content-Length is required");
    }
    let content_type =
        single(headers, &header::CONTENT_TYPE).map_err(|()| "Content-Type repeated")?;
    let media_type = content_type
        .map(|v| {
            v.split(|&b| b == b';')
                .next()
                .unwrap_or_default()
                .trim_ascii()
        })
        .unwrap_or_default();
    if !media_type.eq_ignore_ascii_case(b"text/xml") {
        return Err("Content-Type must be text/xml");
    }
    let target = single(headers, &TARGET).map_err(|()| "X-WindowsPhone-Target repeated")?;
    let class =
        single(headers, &NOTIFICATION_CLASS).map_err(|()| "X-NotificationClass repeated")?;
    let callback_uri = single(headers, &CALLBACK_URI).map_err(|()| "X-CallbackURI repeated")?;
    let callback_uri = match callback_uri {
        None => None,
        Some(_) if !secure => {
            return Err("X-CallbackURI needs an authenticated (https) channel");
        }
        Some(uri) => {
            let uri = std::str::from_utf8(uri).map_err(|_| "X-CallbackURI is not a URI")?;
            mpns_proto::Uri::parse(uri)
                .map_err(|_| "X-CallbackURI is not an absolute http(s) URI")?;
            Some(uri)
        }
    };
    if callback {
        if target.is_some() || class.is_some() {
            return Err(
                "a callback registration has no X-WindowsPhone-Target or X-NotificationClass",
            );
        }
        if callback_uri.is_none() {
            return Err("a callback registration needs X-CallbackURI");
        }
        return Ok(Checked {
            kind: RequestKind::CallbackRegistration,
            class: 0,
            callback_uri,
        });
    }
    let kind = match target {
        None => RequestKind::Raw,
        Some(b"toast") => RequestKind::Toast,
        Some(b"token") => RequestKind::Tile,
        Some(_) => return Err("X-WindowsPhone-Target must be toast, token or absent (raw)"),
    };
    let class = match class {
        None => match kind {
            RequestKind::Tile => 1,
            RequestKind::Toast => 2,
            _ => 3,
        },
        Some(text) => {
            let valid: &[u8] = match kind {
                RequestKind::Tile => &[1, 11, 21],
                RequestKind::Toast => &[2, 12, 22],
                _ => &[3, 13, 23, 4],
            };
            let class = std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<u8>().ok())
                .filter(|c| valid.contains(c));
            class.ok_or("X-NotificationClass does not match X-WindowsPhone-Target")?
        }
    };
    Ok(Checked {
        kind,
        class,
        callback_uri,
    })
}

/// The body checks: size, then the schema of toasts and tiles.
fn check_body(
    shared: &Shared,
    kind: RequestKind,
    body: &[u8],
) -> Result<Option<ReceivedPayload>, &'static str> {
    let limit = match kind {
        RequestKind::Toast | RequestKind::Tile => shared.limits.payload,
        RequestKind::Raw => shared.limits.raw,
        RequestKind::CallbackRegistration => shared.limits.callback,
    };
    if body.len() > limit {
        return Err("body over the size limit");
    }
    match kind {
        RequestKind::Toast | RequestKind::Tile => {
            let payload = schema::parse(body).map_err(|e| e.0)?;
            match (&payload, kind) {
                (ReceivedPayload::Toast(_), RequestKind::Toast)
                | (ReceivedPayload::Tile(_), RequestKind::Tile) => Ok(Some(payload)),
                _ => Err("the payload does not match X-WindowsPhone-Target"),
            }
        }
        _ => Ok(None),
    }
}

/// A channel request, body read.
async fn notify(
    shared: &Shared,
    conn: &Conn,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
) -> Reply {
    let (id, callback) = match route(parts.uri.path(), conn.secure) {
        Some(Route::Notification(id)) => (id, false),
        Some(Route::Callback(id)) => (id, true),
        None => return refuse(404, None, "not a channel path of this listener"),
    };
    // The echo of a valid X-MessageID goes on every answer with MPNS headers.
    let echo = match single(&parts.headers, &MESSAGE_ID) {
        Ok(None) => Ok(None),
        Ok(Some(text)) => match std::str::from_utf8(text).map(MessageId::parse) {
            Ok(Ok(id)) => Ok(Some(id)),
            _ => Err("X-MessageID is not a UUID"),
        },
        Err(()) => Err("X-MessageID repeated"),
    };
    if parts.method != Method::POST {
        return refuse(405, echo.ok().flatten(), "only POST is allowed");
    }
    if conn.secure && !conn.authenticated {
        return refuse(403, echo.ok().flatten(), "no client certificate");
    }
    let echo = match echo {
        Ok(echo) => echo,
        Err(reason) => return refuse(400, None, reason),
    };
    if callback && !conn.secure {
        return refuse(
            400,
            echo,
            "callback registration needs an authenticated (https) channel",
        );
    }
    let checked = match check_headers(shared, &parts.headers, conn.secure, callback) {
        Ok(checked) => checked,
        Err(reason) => return refuse(400, echo, reason),
    };
    let parsed = match check_body(shared, checked.kind, body) {
        Ok(parsed) => parsed,
        Err(reason) => return refuse(400, echo, reason),
    };
    let mut verdict = shared.decide(id, conn.secure, callback, Instant::now());
    if let Verdict::Wait(wait) = verdict {
        tokio::time::sleep(wait).await;
        verdict = shared.after_wait(id, conn.secure, callback);
    }
    match verdict {
        Verdict::Accept => {
            shared.record(Accepted {
                channel_id: id,
                secure: conn.secure,
                kind: checked.kind,
                class: checked.class,
                message_id: echo,
                body,
                parsed,
                callback_uri: checked.callback_uri,
            });
            mpns(state::RECEIVED, echo, None)
        }
        Verdict::Mpns(answer) => mpns(answer, echo, None),
        Verdict::Bare(status) => empty(status),
        Verdict::Reset => {
            conn.reset.store(true, Ordering::Relaxed);
            mpns(state::RECEIVED, echo, None)
        }
        Verdict::Wait(_) => empty(500),
    }
}

/// Records `GET /inspect` returns when not asked for a number.
const INSPECT_PAGE: usize = 100;
/// The most records one `GET /inspect` returns.
const INSPECT_MAX_PAGE: usize = 1000;

/// `GET /inspect[?offset=N&limit=M]`: the counters, and one page of the
/// records kept (oldest first; `limit` defaults to [`INSPECT_PAGE`], at most
/// [`INSPECT_MAX_PAGE`]; `limit=0` for the counters alone), so that an
/// inspection costs little however many records are kept.
fn inspect(shared: &Shared, method: &Method, query: Option<&str>) -> Reply {
    if method != Method::GET {
        return refuse(405, None, "only GET is allowed on /inspect");
    }
    let (mut offset, mut limit) = (0, INSPECT_PAGE);
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let parsed = pair
            .split_once('=')
            .and_then(|(k, v)| Some((k, v.parse::<usize>().ok()?)));
        match parsed {
            Some(("offset", n)) => offset = n,
            Some(("limit", n)) => limit = n.min(INSPECT_MAX_PAGE),
            _ => return refuse(400, None, "/inspect takes offset=N and limit=N"),
        }
    }
    #[derive(serde::Serialize)]
    struct Inspect {
        stats: super::Stats,
        channels_remembered: usize,
        /// Records kept, of which `accepted` is the page from `offset`.
        records: usize,
        offset: usize,
        accepted: Vec<super::Recorded>,
    }
    let (records, accepted) = shared.accepted_page(offset, limit);
    let doc = Inspect {
        stats: shared.stats(),
        channels_remembered: shared.channels_remembered(),
        records,
        offset,
        accepted,
    };
    match serde_json::to_vec(&doc) {
        Ok(json) => {
            let mut response = Response::new(Full::new(Bytes::from(json)));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(_) => empty(500),
    }
}

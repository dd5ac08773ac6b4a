//! Transports over an `embedded-svc` HTTP client (feature `embedded-svc`):
//! [`embedded_svc::http::client::Connection`], which esp-idf-svc's
//! `EspHttpConnection` implements, and its async variant in [`asynch`].
//!
//! The client writes HTTP itself, so these use the request's structured
//! parts (target, headers, body) and build the [`Response`] with
//! [`Response::from_parts`] from the connection's status and header lookup.
//! The connection must find header names case-insensitively, as esp-idf-svc
//! does. TLS, keep-alive and reconnection are the HTTP client's business.
//!
//! The exchange buffer holds the absolute URI and the body:
//! [`uri_len`] + [`Request::body_len`] bytes (at most 1,033 + 3,072 with
//! MPNS's limits); it also receives the (empty) response body.

use embedded_io::ErrorKind;
use embedded_svc::http::client::Connection;
use embedded_svc::http::{Method, Status};
use mpns_proto::ExchangeError;
use mpns_proto::exchange::retry_on_fresh_connection;
use mpns_proto::sender::TransportError;
use mpns_proto::{Request, Response};

use crate::blocking::Exchange;
use crate::{ExchangeBuffer, SendError};

/// Most response body bytes read (and discarded) before giving up on the
/// body. MPNS sends none.
pub const MAX_BODY_DRAIN: usize = 16 * 1024;

/// Length of the absolute URI the request goes to: scheme, `://`, host and
/// port as in the channel URI, then the request target.
pub fn uri_len(request: &Request<'_>) -> usize {
    let channel = request.channel();
    channel.uri().scheme().as_str().len() + 3 + channel.host_header().len() + request.target().len()
}

/// Bytes of exchange buffer `request` needs: the URI and the body.
pub fn buffer_needed(request: &Request<'_>) -> usize {
    uri_len(request) + request.body_len()
}

/// The parts an embedded-svc client needs, laid out in `buf`.
struct Parts<'a> {
    uri: &'a str,
    body: &'a [u8],
    headers: heapless::Vec<(&'static str, &'a str), 8>,
}

fn parts<'a>(request: &'a Request<'_>, buf: &'a mut [u8]) -> Result<Parts<'a>, SendError> {
    let needed = buffer_needed(request);
    if needed > buf.len() {
        return Err(SendError::Exchange(ExchangeError::BufferTooSmall {
            needed,
        }));
    }
    let (uri_buf, rest) = buf.split_at_mut(uri_len(request));
    let channel = request.channel();
    let mut at = 0;
    let target = request.target();
    let target_parts = target.parts();
    let pieces = [
        channel.uri().scheme().as_str(),
        "://",
        channel.host_header(),
    ];
    for piece in pieces.iter().chain(target_parts.iter()) {
        uri_buf[at..at + piece.len()].copy_from_slice(piece.as_bytes());
        at += piece.len();
    }
    // Only ASCII was copied: the parts of a validated URI.
    let uri = core::str::from_utf8(uri_buf).map_err(|_| SendError::Io(ErrorKind::InvalidData))?;
    let body_len = request
        .write_body(rest)
        .map_err(|e| SendError::Exchange(ExchangeError::BufferTooSmall { needed: e.needed }))?;
    let mut headers = heapless::Vec::new();
    for header in request.headers() {
        // At most six headers besides Host: cannot overflow.
        let _ = headers.push(header);
    }
    Ok(Parts {
        uri,
        body: &rest[..body_len],
        headers,
    })
}

/// How far an exchange got before it failed.
#[derive(Clone, Copy, Debug)]
struct Failed {
    error: SendError,
    /// No response status was read yet.
    before_response: bool,
    /// The connection is stuck in its request phase: embedded-svc has no way
    /// to reset it (esp-idf-svc panics on the next request), so replace it.
    stuck: bool,
}

fn io<E: embedded_io::Error>(e: E) -> SendError {
    SendError::Io(e.kind())
}

/// Sends `request` on an embedded-svc connection in its initial phase and
/// reads the response, body included (up to [`MAX_BODY_DRAIN`] bytes).
/// `buf`: [`buffer_needed`] bytes.
///
/// After an error the connection may be left in its request phase
/// ([`Connection::is_request_initiated`]); esp-idf-svc then panics on the next
/// request, so drop it and make a new one ([`SvcClient`] does).
pub fn send<C: Connection>(
    conn: &mut C,
    request: &Request<'_>,
    buf: &mut [u8],
) -> Result<Response, SendError> {
    exchange(conn, request, buf).map_err(|f| f.error)
}

fn exchange<C: Connection>(
    conn: &mut C,
    request: &Request<'_>,
    buf: &mut [u8],
) -> Result<Response, Failed> {
    let fail = |error, before_response, stuck| Failed {
        error,
        before_response,
        stuck,
    };
    {
        let p = parts(request, buf).map_err(|e| fail(e, true, false))?;
        conn.initiate_request(Method::Post, p.uri, &p.headers)
            .map_err(|e| fail(io(e), true, false))?;
        write_all(conn, p.body).map_err(|e| fail(e, true, true))?;
    }
    conn.initiate_response()
        .map_err(|e| fail(io(e), true, true))?;
    let response = read_head(conn);
    drain(conn, buf).map_err(|e| fail(e, false, false))?;
    Ok(response)
}

fn read_head<H: Status + embedded_svc::http::Headers>(conn: &H) -> Response {
    Response::from_parts(conn.status(), |name| conn.header(name).map(str::as_bytes))
}

fn write_all<C: Connection>(conn: &mut C, mut bytes: &[u8]) -> Result<(), SendError> {
    while !bytes.is_empty() {
        match conn.write(bytes) {
            Ok(0) => return Err(SendError::Io(ErrorKind::WriteZero)),
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(e) => return Err(io(e)),
        }
    }
    conn.flush().map_err(io)
}

fn drain<C: Connection>(conn: &mut C, buf: &mut [u8]) -> Result<(), SendError> {
    let mut total = 0usize;
    while total < MAX_BODY_DRAIN {
        let room = buf.len().min(MAX_BODY_DRAIN - total).max(1);
        let mut one = [0u8; 1];
        let into = match buf.get_mut(..room) {
            Some(b) if !b.is_empty() => b,
            _ => &mut one[..],
        };
        match conn.read(into) {
            Ok(0) => return Ok(()),
            Ok(n) => total += n,
            Err(e) => return Err(io(e)),
        }
    }
    warn!(
        "response body longer than {:?} bytes: not read to its end",
        MAX_BODY_DRAIN
    );
    Ok(())
}

/// A client over embedded-svc connections that makes a new connection when
/// the old one is unusable, and tries a request once more on a new
/// connection when a used one fails before any response (the server may
/// have closed it while idle).
///
/// `F` makes connections: for esp-idf-svc,
/// `|| EspHttpConnection::new(&config).map_err(|_| TransportError::Other)`.
pub struct SvcClient<C, F> {
    conn: Option<C>,
    used: bool,
    make: F,
}

impl<C, F> SvcClient<C, F>
where
    C: Connection,
    F: FnMut() -> Result<C, TransportError>,
{
    /// A client that makes its first connection on the first request.
    pub const fn new(make: F) -> Self {
        SvcClient {
            conn: None,
            used: false,
            make,
        }
    }

    /// A client starting with `conn` (in its initial phase).
    pub const fn with_connection(conn: C, make: F) -> Self {
        SvcClient {
            conn: Some(conn),
            used: false,
            make,
        }
    }

    /// The current connection, if any.
    pub fn connection(&mut self) -> Option<&mut C> {
        self.conn.as_mut()
    }

    /// Sends `request` and reads its response; `buf`: [`buffer_needed`] bytes.
    pub fn send(&mut self, request: &Request<'_>, buf: &mut [u8]) -> Result<Response, SendError> {
        let needed = buffer_needed(request);
        if needed > buf.len() {
            return Err(SendError::Exchange(ExchangeError::BufferTooSmall {
                needed,
            }));
        }
        let reused = self.conn.is_some() && self.used;
        match self.once(request, buf) {
            Err(f) if retry_on_fresh_connection(reused, !f.before_response) => {
                debug!(
                    "connection failed before a response: {:?}; retrying",
                    f.error
                );
                self.conn = None;
                self.once(request, buf).map_err(|f| f.error)
            }
            other => other.map_err(|f| f.error),
        }
    }

    fn once(&mut self, request: &Request<'_>, buf: &mut [u8]) -> Result<Response, Failed> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            slot @ None => {
                let conn = (self.make)().map_err(|e| Failed {
                    error: SendError::Connect(e),
                    before_response: false,
                    stuck: false,
                })?;
                self.used = false;
                slot.insert(conn)
            }
        };
        let result = exchange(conn, request, buf);
        match &result {
            Ok(_) => self.used = true,
            Err(f) if f.stuck || conn.is_request_initiated() => {
                self.conn = None;
            }
            Err(_) => {}
        }
        result
    }
}

impl<C, F> ExchangeBuffer for SvcClient<C, F> {
    fn buffer_needed(&self, request: &Request<'_>) -> usize {
        buffer_needed(request)
    }
}

impl<C, F> Exchange for SvcClient<C, F>
where
    C: Connection,
    F: FnMut() -> Result<C, TransportError>,
{
    fn exchange(&mut self, request: &Request<'_>, buf: &mut [u8]) -> Result<Response, SendError> {
        self.send(request, buf)
    }
}

impl<C, F> core::fmt::Debug for SvcClient<C, F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SvcClient")
            .field("connected", &self.conn.is_some())
            .field("used", &self.used)
            .finish_non_exhaustive()
    }
}

/// The async variant: [`embedded_svc::http::client::asynch::Connection`].
pub mod asynch {
    use embedded_io::ErrorKind;
    use embedded_svc::http::Method;
    use embedded_svc::http::client::asynch::Connection;
    use mpns_proto::sender::TransportError;
    use mpns_proto::{ExchangeError, Request, Response};

    use super::{
        Failed, MAX_BODY_DRAIN, buffer_needed, io, parts, read_head, retry_on_fresh_connection,
    };
    use crate::asynch::Exchange;
    use crate::{ExchangeBuffer, SendError};

    /// Sends `request` on an async embedded-svc connection in its initial
    /// phase and reads the response; see [`super::send`].
    pub async fn send<C: Connection>(
        conn: &mut C,
        request: &Request<'_>,
        buf: &mut [u8],
    ) -> Result<Response, SendError> {
        exchange(conn, request, buf).await.map_err(|f| f.error)
    }

    async fn exchange<C: Connection>(
        conn: &mut C,
        request: &Request<'_>,
        buf: &mut [u8],
    ) -> Result<Response, Failed> {
        let fail = |error, before_response, stuck| Failed {
            error,
            before_response,
            stuck,
        };
        {
            let p = parts(request, buf).map_err(|e| fail(e, true, false))?;
            conn.initiate_request(Method::Post, p.uri, &p.headers)
                .await
                .map_err(|e| fail(io(e), true, false))?;
            write_all(conn, p.body)
                .await
                .map_err(|e| fail(e, true, true))?;
        }
        conn.initiate_response()
            .await
            .map_err(|e| fail(io(e), true, true))?;
        let response = read_head(conn);
        drain(conn, buf).await.map_err(|e| fail(e, false, false))?;
        Ok(response)
    }

    async fn write_all<C: Connection>(conn: &mut C, mut bytes: &[u8]) -> Result<(), SendError> {
        while !bytes.is_empty() {
            match conn.write(bytes).await {
                Ok(0) => return Err(SendError::Io(ErrorKind::WriteZero)),
                Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
                Err(e) => return Err(io(e)),
            }
        }
        conn.flush().await.map_err(io)
    }

    async fn drain<C: Connection>(conn: &mut C, buf: &mut [u8]) -> Result<(), SendError> {
        let mut total = 0usize;
        while total < MAX_BODY_DRAIN {
            let room = buf.len().min(MAX_BODY_DRAIN - total).max(1);
            let mut one = [0u8; 1];
            let into = match buf.get_mut(..room) {
                Some(b) if !b.is_empty() => b,
                _ => &mut one[..],
            };
            match conn.read(into).await {
                Ok(0) => return Ok(()),
                Ok(n) => total += n,
                Err(e) => return Err(io(e)),
            }
        }
        warn!(
            "response body longer than {:?} bytes: not read to its end",
            MAX_BODY_DRAIN
        );
        Ok(())
    }

    /// The async [`SvcClient`](super::SvcClient).
    pub struct SvcClient<C, F> {
        conn: Option<C>,
        used: bool,
        make: F,
    }

    impl<C, F> SvcClient<C, F>
    where
        C: Connection,
        F: FnMut() -> Result<C, TransportError>,
    {
        /// A client that makes its first connection on the first request.
        pub const fn new(make: F) -> Self {
            SvcClient {
                conn: None,
                used: false,
                make,
            }
        }

        /// A client starting with `conn` (in its initial phase).
        pub const fn with_connection(conn: C, make: F) -> Self {
            SvcClient {
                conn: Some(conn),
                used: false,
                make,
            }
        }

        /// The current connection, if any.
        pub fn connection(&mut self) -> Option<&mut C> {
            self.conn.as_mut()
        }

        /// Sends `request` and reads its response; `buf`: [`buffer_needed`] bytes.
        pub async fn send(
            &mut self,
            request: &Request<'_>,
            buf: &mut [u8],
        ) -> Result<Response, SendError> {
            let needed = buffer_needed(request);
            if needed > buf.len() {
                return Err(SendError::Exchange(ExchangeError::BufferTooSmall {
                    needed,
                }));
            }
            let reused = self.conn.is_some() && self.used;
            match self.once(request, buf).await {
                Err(f) if retry_on_fresh_connection(reused, !f.before_response) => {
                    debug!(
                        "connection failed before a response: {:?}; retrying",
                        f.error
                    );
                    self.conn = None;
                    self.once(request, buf).await.map_err(|f| f.error)
                }
                other => other.map_err(|f| f.error),
            }
        }

        async fn once(
            &mut self,
            request: &Request<'_>,
            buf: &mut [u8],
        ) -> Result<Response, Failed> {
            let conn = match &mut self.conn {
                Some(conn) => conn,
                slot @ None => {
                    let conn = (self.make)().map_err(|e| Failed {
                        error: SendError::Connect(e),
                        before_response: false,
                        stuck: false,
                    })?;
                    self.used = false;
                    slot.insert(conn)
                }
            };
            let result = exchange(conn, request, buf).await;
            match &result {
                Ok(_) => self.used = true,
                Err(f) if f.stuck || conn.is_request_initiated() => {
                    self.conn = None;
                }
                Err(_) => {}
            }
            result
        }
    }

    impl<C, F> ExchangeBuffer for SvcClient<C, F> {
        fn buffer_needed(&self, request: &Request<'_>) -> usize {
            buffer_needed(request)
        }
    }

    impl<C, F> Exchange for SvcClient<C, F>
    where
        C: Connection,
        F: FnMut() -> Result<C, TransportError>,
    {
        async fn exchange(
            &mut self,
            request: &Request<'_>,
            buf: &mut [u8],
        ) -> Result<Response, SendError> {
            self.send(request, buf).await
        }
    }

    impl<C, F> core::fmt::Debug for SvcClient<C, F> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("SvcClient")
                .field("connected", &self.conn.is_some())
                .field("used", &self.used)
                .finish_non_exhaustive()
        }
    }
}

//! Blocking transports over [`embedded_io`] streams.
//!
//! - [`send`]: one request and its response on a stream you own.
//! - [`StreamClient`]: opens connections through your [`Connector`], keeps
//!   one alive per host and reconnects when the server closes.
//! - [`Exchange`]: what the [`Gateway`](crate::Gateway) needs from a
//!   transport; [`StreamClient`] and (feature `embedded-svc`)
//!   `svc::SvcClient` implement it.

use embedded_io::{Error as _, Read, Write};
use mpns_proto::ExchangeError;
use mpns_proto::sender::TransportError;
use mpns_proto::{ConnectionReuse, HttpExchange, ReadResponse, Request, Response};

use crate::pool::{Pool, host_key};
use crate::{ExchangeBuffer, SendError};

/// Sends `request` on `stream` and reads its response.
///
/// `buf` first holds the request bytes ([`Request::http_len`]), then the
/// response head (MPNS sends about 300 bytes; 512 is a safe minimum). Short
/// writes and reads are fine; the end of the stream completes a response
/// without a length. Check [`ReadResponse::connection`] before sending the
/// next request on the same stream: [`ConnectionReuse::Close`] means reconnect.
///
/// ```
/// use mpns_embedded::blocking;
/// use mpns_proto::{ChannelUri, Notification, Options, Outcome, Request, Toast, classify};
///
/// # struct Fake(&'static [u8]);
/// # impl embedded_io::ErrorType for Fake { type Error = core::convert::Infallible; }
/// # impl embedded_io::Write for Fake {
/// #     fn write(&mut self, b: &[u8]) -> Result<usize, Self::Error> { Ok(b.len()) }
/// #     fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// # impl embedded_io::Read for Fake {
/// #     fn read(&mut self, b: &mut [u8]) -> Result<usize, Self::Error> {
/// #         let n = b.len().min(self.0.len());
/// #         b[..n].copy_from_slice(&self.0[..n]);
/// #         self.0 = &self.0[n..];
/// #         Ok(n)
/// #     }
/// # }
/// # let mut stream = Fake(b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\nContent-Length: 0\r\n\r\n");
/// let channel = ChannelUri::parse("http://db3.notify.live.net/throttledthirdparty/01.00/AAF")?;
/// let toast = Notification::Toast(Toast { text1: Some("Hello"), ..Toast::default() });
/// let request = Request::notification(channel, &toast, &Options::default())?;
/// let mut buf = [0u8; 1024];
/// let response = blocking::send(&mut stream, &request, &mut buf)?;
/// assert_eq!(classify(&response.response), Outcome::Accepted { device: None });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn send<T: Read + Write + ?Sized>(
    stream: &mut T,
    request: &Request<'_>,
    buf: &mut [u8],
) -> Result<ReadResponse, SendError> {
    attempt(stream, false, request, buf).map_err(|(e, _)| e)
}

/// One attempt of `request` on `stream`, a `reused` connection or a new one.
/// A failure says whether the core's exchange asks for a fresh connection.
fn attempt<T: Read + Write + ?Sized>(
    stream: &mut T,
    reused: bool,
    request: &Request<'_>,
    buf: &mut [u8],
) -> Result<ReadResponse, (SendError, bool)> {
    let mut exchange = HttpExchange::new(reused);
    exchange_on(stream, &mut exchange, request, buf)
        .map_err(|e| (e, exchange.retry_on_fresh_connection()))
}

fn exchange_on<T: Read + Write + ?Sized>(
    stream: &mut T,
    exchange: &mut HttpExchange,
    request: &Request<'_>,
    buf: &mut [u8],
) -> Result<ReadResponse, SendError> {
    let len = exchange.encode(request, buf)?;
    write_all(stream, buf.get(..len).unwrap_or_default())?;
    loop {
        let n = stream
            .read(exchange.read_space(buf)?)
            .map_err(|e| SendError::Io(e.kind()))?;
        if let Some(response) = exchange.received(buf, n)? {
            return Ok(response);
        }
    }
}

/// Writes everything and flushes; a write of 0 bytes is an error, not a panic.
fn write_all<T: Write + ?Sized>(stream: &mut T, mut bytes: &[u8]) -> Result<(), SendError> {
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(SendError::Io(embedded_io::ErrorKind::WriteZero)),
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(e) => return Err(SendError::Io(e.kind())),
        }
    }
    stream.flush().map_err(|e| SendError::Io(e.kind()))
}

/// Opens a byte stream to a host: TCP, TLS over TCP (embedded-tls with a
/// client certificate for `https` channels), a modem's socket...
///
/// The stream should time out (Microsoft recommended 15 s) with
/// [`embedded_io::ErrorKind::TimedOut`]; a blocking read that never returns
/// stalls the gateway.
pub trait Connector {
    /// The stream.
    type Conn: Read + Write;

    /// Opens a connection to `host` (as written in the channel URI; an IPv6
    /// address keeps its brackets) and `port`; `tls` for `https` channels,
    /// which need mutual TLS. Report a failed TLS handshake as
    /// [`TransportError::Tls`].
    fn connect(&mut self, host: &str, port: u16, tls: bool) -> Result<Self::Conn, TransportError>;

    /// Closes a connection that will not be used again. The default drops it.
    fn disconnect(&mut self, conn: Self::Conn) {
        let _ = conn;
    }
}

/// What the [`Gateway`](crate::Gateway) needs from a blocking transport: send
/// one request and return its response.
pub trait Exchange: ExchangeBuffer {
    /// Sends `request` and reads its response, using `buf` as the exchange buffer.
    fn exchange(&mut self, request: &Request<'_>, buf: &mut [u8]) -> Result<Response, SendError>;
}

impl<T: Exchange + ?Sized> Exchange for &mut T {
    fn exchange(&mut self, request: &Request<'_>, buf: &mut [u8]) -> Result<Response, SendError> {
        (**self).exchange(request, buf)
    }
}

/// A client over byte streams: at most one open connection per host, `N`
/// hosts at once (the least recently used is closed to make room), reused
/// across requests until the server closes it.
///
/// A request that fails before any response byte on a connection that already
/// carried one (the server may have closed it while idle) is sent once more
/// on a new connection.
pub struct StreamClient<K: Connector, const N: usize = 2> {
    connector: K,
    pool: Pool<K::Conn, N>,
}

impl<K: Connector, const N: usize> StreamClient<K, N> {
    /// A client with no open connection.
    pub const fn new(connector: K) -> Self {
        StreamClient {
            connector,
            pool: Pool::new(),
        }
    }

    /// The connector.
    pub fn connector(&mut self) -> &mut K {
        &mut self.connector
    }

    /// Connections kept open.
    pub fn open_connections(&self) -> usize {
        self.pool.len()
    }

    /// Closes every kept connection.
    pub fn close_all(&mut self) {
        while let Some(conn) = self.pool.pop() {
            self.connector.disconnect(conn);
        }
    }

    /// Sends `request` on the host's kept connection (or a new one) and reads
    /// its response. `buf` as for [`send`].
    pub fn send(
        &mut self,
        request: &Request<'_>,
        buf: &mut [u8],
    ) -> Result<ReadResponse, SendError> {
        let needed = request.http_len();
        if needed > buf.len() {
            return Err(SendError::Exchange(ExchangeError::BufferTooSmall {
                needed,
            }));
        }
        let key = host_key(request.channel());
        let (mut conn, reused) = match self.pool.take(key) {
            Some(conn) => (conn, true),
            None => (self.connect(request)?, false),
        };
        let result = match attempt(&mut conn, reused, request, buf) {
            Err((e, true)) => {
                debug!(
                    "kept connection failed before a response: {:?}; reconnecting",
                    e
                );
                self.connector.disconnect(conn);
                conn = self.connect(request)?;
                // A fresh connection: no second retry.
                attempt(&mut conn, false, request, buf)
            }
            other => other,
        };
        match result {
            Ok(response) => {
                self.keep(key, conn, response.connection);
                Ok(response)
            }
            Err((e, _)) => {
                self.connector.disconnect(conn);
                Err(e)
            }
        }
    }

    fn connect(&mut self, request: &Request<'_>) -> Result<K::Conn, SendError> {
        let c = request.channel();
        trace!("connecting to {:?}:{:?}", c.host(), c.port());
        self.connector
            .connect(c.host(), c.port(), c.is_authenticated())
            .map_err(SendError::Connect)
    }

    fn keep(&mut self, key: u64, conn: K::Conn, connection: ConnectionReuse) {
        let closed = match connection {
            ConnectionReuse::KeepAlive => self.pool.put(key, conn),
            ConnectionReuse::Close => Some(conn),
        };
        if let Some(conn) = closed {
            self.connector.disconnect(conn);
        }
    }
}

impl<K: Connector, const N: usize> ExchangeBuffer for StreamClient<K, N> {
    fn buffer_needed(&self, request: &Request<'_>) -> usize {
        request.http_len()
    }
}

impl<K: Connector, const N: usize> Exchange for StreamClient<K, N> {
    fn exchange(&mut self, request: &Request<'_>, buf: &mut [u8]) -> Result<Response, SendError> {
        self.send(request, buf).map(|r| r.response)
    }
}

impl<K: Connector, const N: usize> Drop for StreamClient<K, N> {
    fn drop(&mut self) {
        self.close_all();
    }
}

impl<K: Connector, const N: usize> core::fmt::Debug for StreamClient<K, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamClient")
            .field("open_connections", &self.pool.len())
            .finish_non_exhaustive()
    }
}

//! Async transports over [`embedded_io_async`] streams: the same as
//! [`crate::blocking`], awaited (embassy-net sockets, embedded-tls's
//! `TlsConnection`, tokio through `embedded-io-adapters` on a host).
//!
//! The traits use `async fn`: their futures are not `Send`, which suits the
//! single-threaded executors of microcontrollers.
#![allow(async_fn_in_trait)]

use embedded_io_async::{Error as _, Read, Write};
use mpns_proto::ExchangeError;
use mpns_proto::sender::TransportError;
use mpns_proto::{ConnectionReuse, HttpExchange, ReadResponse, Request, Response};

use crate::pool::{Pool, host_key};
use crate::{ExchangeBuffer, SendError};

/// Sends `request` on `stream` and reads its response; see [`crate::blocking::send`].
pub async fn send<T: Read + Write + ?Sized>(
    stream: &mut T,
    request: &Request<'_>,
    buf: &mut [u8],
) -> Result<ReadResponse, SendError> {
    attempt(stream, false, request, buf)
        .await
        .map_err(|(e, _)| e)
}

/// One attempt of `request` on `stream`, a `reused` connection or a new one.
/// A failure says whether the core's exchange asks for a fresh connection.
async fn attempt<T: Read + Write + ?Sized>(
    stream: &mut T,
    reused: bool,
    request: &Request<'_>,
    buf: &mut [u8],
) -> Result<ReadResponse, (SendError, bool)> {
    let mut exchange = HttpExchange::new(reused);
    match exchange_on(stream, &mut exchange, request, buf).await {
        Ok(response) => Ok(response),
        Err(e) => Err((e, exchange.retry_on_fresh_connection())),
    }
}

async fn exchange_on<T: Read + Write + ?Sized>(
    stream: &mut T,
    exchange: &mut HttpExchange,
    request: &Request<'_>,
    buf: &mut [u8],
) -> Result<ReadResponse, SendError> {
    let len = exchange.encode(request, buf)?;
    write_all(stream, buf.get(..len).unwrap_or_default()).await?;
    loop {
        let n = stream
            .read(exchange.read_space(buf)?)
            .await
            .map_err(|e| SendError::Io(e.kind()))?;
        if let Some(response) = exchange.received(buf, n)? {
            return Ok(response);
        }
    }
}

async fn write_all<T: Write + ?Sized>(stream: &mut T, mut bytes: &[u8]) -> Result<(), SendError> {
    while !bytes.is_empty() {
        match stream.write(bytes).await {
            Ok(0) => return Err(SendError::Io(embedded_io::ErrorKind::WriteZero)),
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(e) => return Err(SendError::Io(e.kind())),
        }
    }
    stream.flush().await.map_err(|e| SendError::Io(e.kind()))
}

/// Opens an async byte stream to a host; see [`crate::blocking::Connector`].
/// Time out reads (embassy-net's `TcpSocket::set_timeout`, or a timeout in
/// the stream wrapper) so that a silent server cannot stall the gateway.
pub trait Connector {
    /// The stream.
    type Conn: Read + Write;

    /// Opens a connection to `host` and `port`; `tls` for `https` channels.
    async fn connect(
        &mut self,
        host: &str,
        port: u16,
        tls: bool,
    ) -> Result<Self::Conn, TransportError>;

    /// Closes a connection that will not be used again. The default drops it.
    async fn disconnect(&mut self, conn: Self::Conn) {
        let _ = conn;
    }
}

/// What the [`Gateway`](crate::Gateway) needs from an async transport.
pub trait Exchange: ExchangeBuffer {
    /// Sends `request` and reads its response, using `buf` as the exchange buffer.
    async fn exchange(
        &mut self,
        request: &Request<'_>,
        buf: &mut [u8],
    ) -> Result<Response, SendError>;
}

impl<T: Exchange + ?Sized> Exchange for &mut T {
    async fn exchange(
        &mut self,
        request: &Request<'_>,
        buf: &mut [u8],
    ) -> Result<Response, SendError> {
        (**self).exchange(request, buf).await
    }
}

/// The async [`StreamClient`](crate::blocking::StreamClient): one kept
/// connection per host, `N` hosts, one retry on a new connection when a kept
/// one fails before any response byte.
///
/// Unlike the blocking client it does not close its connections when dropped
/// (that needs an `.await`): call [`StreamClient::close_all`] first. A `send`
/// future dropped midway drops its connection with it, so no half-read
/// response is left on a kept connection.
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
    pub async fn close_all(&mut self) {
        while let Some(conn) = self.pool.pop() {
            self.connector.disconnect(conn).await;
        }
    }

    /// Sends `request` on the host's kept connection (or a new one) and reads
    /// its response; see [`crate::blocking::StreamClient::send`].
    pub async fn send(
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
            None => (self.connect(request).await?, false),
        };
        let result = match attempt(&mut conn, reused, request, buf).await {
            Err((e, true)) => {
                debug!(
                    "kept connection failed before a response: {:?}; reconnecting",
                    e
                );
                self.connector.disconnect(conn).await;
                conn = self.connect(request).await?;
                // A fresh connection: no second retry.
                attempt(&mut conn, false, request, buf).await
            }
            other => other,
        };
        match result {
            Ok(response) => {
                let closed = match response.connection {
                    ConnectionReuse::KeepAlive => self.pool.put(key, conn),
                    ConnectionReuse::Close => Some(conn),
                };
                if let Some(conn) = closed {
                    self.connector.disconnect(conn).await;
                }
                Ok(response)
            }
            Err((e, _)) => {
                self.connector.disconnect(conn).await;
                Err(e)
            }
        }
    }

    async fn connect(&mut self, request: &Request<'_>) -> Result<K::Conn, SendError> {
        let c = request.channel();
        trace!("connecting to {:?}:{:?}", c.host(), c.port());
        self.connector
            .connect(c.host(), c.port(), c.is_authenticated())
            .await
            .map_err(SendError::Connect)
    }
}

impl<K: Connector, const N: usize> ExchangeBuffer for StreamClient<K, N> {
    fn buffer_needed(&self, request: &Request<'_>) -> usize {
        request.http_len()
    }
}

impl<K: Connector, const N: usize> Exchange for StreamClient<K, N> {
    async fn exchange(
        &mut self,
        request: &Request<'_>,
        buf: &mut [u8],
    ) -> Result<Response, SendError> {
        self.send(request, buf).await.map(|r| r.response)
    }
}

impl<K: Connector, const N: usize> core::fmt::Debug for StreamClient<K, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamClient")
            .field("open_connections", &self.pool.len())
            .finish_non_exhaustive()
    }
}

//! One request's HTTP/1.1 exchange over kept-alive byte streams, without the
//! I/O: the request bytes into the caller's buffer, the read bytes through a
//! [`ResponseReader`], whether the connection can carry the next request, and
//! the one retry a kept-alive connection earns.
//!
//! Every byte-stream transport of the workspace (the embedded blocking and
//! async clients, the tokio direct transport) runs this loop:
//!
//! ```
//! use mpns_proto::exchange::{HttpExchange, ExchangeError};
//! use mpns_proto::{ChannelUri, Notification, Options, Raw, Request};
//!
//! # fn demo() -> Result<(), ExchangeError> {
//! let channel = ChannelUri::parse("http://127.0.0.1:47001/throttledthirdparty/01.00/ABC").unwrap();
//! let raw = Notification::Raw(Raw { body: b"hi", voip: false });
//! let request = Request::notification(channel, &raw, &Options::default()).unwrap();
//! // A connection taken from the pool (reused) or new.
//! let mut exchange: HttpExchange = HttpExchange::new(true);
//! let mut buf = [0u8; 512];
//! let mut replies: &[&[u8]] = &[b"", b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\nContent-Length: 0\r\n\r\n"];
//! let response = 'attempt: loop {
//!     let len = exchange.encode(&request, &mut buf)?;
//!     let _written = &buf[..len]; // write these to the stream
//!     let reply = replies[0];     // this connection's bytes; the first closes at once
//!     replies = &replies[1..];
//!     let mut at = 0;
//!     loop {
//!         let space = exchange.read_space(&mut buf)?;
//!         let n = space.len().min(reply.len() - at); // read from the stream
//!         space[..n].copy_from_slice(&reply[at..at + n]);
//!         at += n;
//!         match exchange.received(&buf, n) {
//!             Ok(Some(response)) => break 'attempt response,
//!             Ok(None) => continue,
//!             // An I/O error would come here as well.
//!             Err(_) if exchange.retry_on_fresh_connection() => continue 'attempt, // open a new connection
//!             Err(e) => return Err(e),
//!         }
//!     }
//! };
//! assert_eq!(response.response.status, 200);
//! # Ok(()) }
//! # demo().unwrap();
//! ```

use core::fmt;

use crate::http::{ConnectionReuse, ReadError, ReadResponse, ReaderLimits, ResponseReader};
use crate::request::Request;
use crate::response::Response;
use crate::sender::TransportError;

/// The most header fields a response head may have in an [`HttpExchange`]. MPNS
/// sends about ten; proxies add a few. httparse keeps two slices per field on
/// the stack while it parses a head (16 bytes each on 32-bit targets).
pub const MAX_RESPONSE_HEADERS: usize = 24;

/// Why an exchange ended without a response (the stream's own I/O errors stay
/// with the transport, which then asks [`HttpExchange::retry_on_fresh_connection`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ExchangeError {
    /// The buffer cannot hold the request: nothing was sent.
    BufferTooSmall {
        /// Bytes needed ([`Request::http_len`]).
        needed: usize,
    },
    /// The stream ended before a complete response.
    Closed,
    /// The response is not HTTP/1.x, or its head does not fit in the read
    /// buffer ([`ReadError::HeadTooLarge`]).
    Response(ReadError),
}

impl ExchangeError {
    /// The kind of transport failure this is: a stream closed early is a
    /// reset; a reply that is not HTTP, a protocol failure; a buffer too
    /// small (nothing sent), other.
    pub const fn transport_error(&self) -> TransportError {
        match self {
            ExchangeError::Closed => TransportError::Reset,
            ExchangeError::Response(_) => TransportError::Protocol,
            ExchangeError::BufferTooSmall { .. } => TransportError::Other,
        }
    }
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::BufferTooSmall { needed } => {
                write!(f, "the exchange buffer is too small: {needed} bytes needed")
            }
            ExchangeError::Closed => {
                f.write_str("the server closed the connection before a complete response")
            }
            ExchangeError::Response(e) => write!(f, "unreadable response: {e}"),
        }
    }
}

impl core::error::Error for ExchangeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ExchangeError::Response(e) => Some(e),
            _ => None,
        }
    }
}

/// The retry rule of every transport: a request that failed on a reused
/// kept-alive connection before any response byte arrived goes once more on
/// a fresh connection (once: a fresh connection is not reused). A server may
/// close an idle connection just as a request is written to it, and then it
/// never read the request. The cost is a duplicate notification in the rare
/// case of a server that read the request and closed without a word. A fresh
/// connection's failure, or one after the response started, is the server's
/// answer: the sender's policy decides what follows.
pub const fn retry_on_fresh_connection(reused: bool, response_started: bool) -> bool {
    reused && !response_started
}

/// One request's exchange: see the [module documentation](self) for the loop.
///
/// The read buffer is the caller's, passed to [`HttpExchange::read_space`] and
/// [`HttpExchange::received`]: the same buffer on every call until the response
/// or a retry (it may be the buffer the request was encoded into). A response
/// head must fit in it; bodies stream through.
#[derive(Clone, Debug)]
pub struct HttpExchange<const MAX_HEADERS: usize = MAX_RESPONSE_HEADERS> {
    reader: ResponseReader<MAX_HEADERS>,
    /// Received bytes not yet consumed by the reader: `buf[start..end]`.
    start: usize,
    end: usize,
    response_started: bool,
    /// The connection carried a request before; false after the retry.
    reused: bool,
}

impl<const MAX_HEADERS: usize> HttpExchange<MAX_HEADERS> {
    /// An exchange on a connection that carried a request before (`reused`,
    /// taken from a pool) or a new one.
    pub const fn new(reused: bool) -> Self {
        HttpExchange {
            // The read buffer bounds the head; see `read_space`.
            reader: ResponseReader::new(ReaderLimits {
                max_head_len: usize::MAX,
                ..ReaderLimits::DEFAULT
            }),
            start: 0,
            end: 0,
            response_started: false,
            reused,
        }
    }

    /// Writes the request's HTTP/1.1 bytes to the front of `buf`; returns
    /// their length. Nothing is written when it does not fit, and then no
    /// connection will do better: no retry.
    pub fn encode(
        &mut self,
        request: &Request<'_>,
        buf: &mut [u8],
    ) -> Result<usize, ExchangeError> {
        request.write_http(buf).map_err(|e| {
            self.reused = false;
            ExchangeError::BufferTooSmall { needed: e.needed }
        })
    }

    /// Where the next read goes: the free end of `buf`. Unconsumed bytes move
    /// to the front first when the end is full; a head that fills the whole
    /// buffer is [`ReadError::HeadTooLarge`].
    pub fn read_space<'b>(&mut self, buf: &'b mut [u8]) -> Result<&'b mut [u8], ExchangeError> {
        if self.end >= buf.len() {
            if self.start == 0 {
                let max = buf.len();
                return Err(ExchangeError::Response(ReadError::HeadTooLarge { max }));
            }
            // Swaps rather than `copy_within`, which links `memmove` (1.5 KiB
            // on Cortex-M) for a move that happens only after an interim 1xx
            // response or inside a chunked body.
            let kept = self.end - self.start;
            for i in 0..kept {
                buf.swap(i, self.start + i);
            }
            (self.start, self.end) = (0, kept);
        }
        Ok(buf.get_mut(self.end..).unwrap_or_default())
    }

    /// `n` bytes were read into [`HttpExchange::read_space`] of `buf`; 0 is the
    /// end of the stream. `Ok(Some(_))` is the response, its `connection`
    /// saying whether the stream can carry the next request; `Ok(None)`:
    /// read more.
    pub fn received(
        &mut self,
        buf: &[u8],
        n: usize,
    ) -> Result<Option<ReadResponse>, ExchangeError> {
        if n == 0 {
            if !self.response_started {
                // Left as new for a retry.
                return Err(ExchangeError::Closed);
            }
            return match self.reader.finish() {
                Ok(Some(mut response)) => {
                    response.connection = ConnectionReuse::Close;
                    Ok(Some(response))
                }
                Ok(None) | Err(ReadError::Incomplete) => Err(ExchangeError::Closed),
                Err(e) => Err(ExchangeError::Response(e)),
            };
        }
        self.response_started = true;
        self.end += n.min(buf.len().saturating_sub(self.end));
        let unread = buf.get(self.start..self.end).unwrap_or_default();
        let progress = self.reader.feed(unread).map_err(ExchangeError::Response)?;
        self.start += progress.consumed;
        let left = self.end - self.start;
        if left == 0 {
            (self.start, self.end) = (0, 0);
        }
        Ok(progress.done.map(|mut response| {
            if left > 0 {
                // Bytes nobody asked for: do not trust the connection.
                response.connection = ConnectionReuse::Close;
            }
            response
        }))
    }

    /// The status and MPNS headers of the response whose body is being read
    /// ([`ResponseReader::response_in_progress`]): a transport that stops reading a body too
    /// long still has the answer (and closes the connection).
    pub const fn response_in_progress(&self) -> Option<Response> {
        self.reader.response_in_progress()
    }

    /// Whether any response byte arrived.
    pub const fn response_started(&self) -> bool {
        self.response_started
    }

    /// The connection failed: an I/O error while writing or reading, or
    /// [`ExchangeError::Closed`]. True when the request should go once more
    /// on a fresh connection ([`retry_on_fresh_connection`]); the exchange is
    /// then ready for it (encode again, then read). False: the failure is the
    /// request's.
    pub fn retry_on_fresh_connection(&mut self) -> bool {
        let retry = retry_on_fresh_connection(self.reused, self.response_started);
        // No byte was read: the reader is as new for the fresh connection.
        self.reused = false;
        retry
    }
}

impl<const MAX_HEADERS: usize> Default for HttpExchange<MAX_HEADERS> {
    /// An exchange on a new connection.
    fn default() -> Self {
        Self::new(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChannelUri, Notification, Options, Outcome, Raw, classify};

    fn feed_all(
        ex: &mut HttpExchange,
        buf: &mut [u8],
        input: &[u8],
        step: usize,
    ) -> Result<ReadResponse, ExchangeError> {
        let mut rest = input;
        loop {
            let space = ex.read_space(buf)?;
            let n = step.min(space.len()).min(rest.len());
            space[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            if let Some(r) = ex.received(buf, n)? {
                return Ok(r);
            }
        }
    }

    #[test]
    fn responses_in_any_pieces() {
        let bytes = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\nContent-Length: 2\r\n\r\nok";
        for step in [1, 2, 7, 64, 1024] {
            let mut buf = [0u8; 128];
            let r = feed_all(&mut HttpExchange::new(false), &mut buf, bytes, step).unwrap();
            assert_eq!(classify(&r.response), Outcome::Accepted { device: None });
            assert_eq!(r.connection, ConnectionReuse::KeepAlive);
            assert_eq!(r.body_len, 2);
        }
    }

    #[test]
    fn unconsumed_bytes_move_to_the_front_of_a_small_buffer() {
        let bytes = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
        for step in [1, 3, 16, 1024] {
            let mut buf = [0u8; 80];
            let r = feed_all(&mut HttpExchange::new(false), &mut buf, bytes, step).unwrap();
            assert_eq!(classify(&r.response), Outcome::Accepted { device: None });
            assert_eq!(r.connection, ConnectionReuse::KeepAlive, "step {step}");
            assert_eq!(r.body_len, 19);
        }
    }

    #[test]
    fn leftover_bytes_close_the_connection() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n";
        let mut buf = [0u8; 128];
        let r = feed_all(&mut HttpExchange::new(false), &mut buf, bytes, 1024).unwrap();
        assert_eq!(r.connection, ConnectionReuse::Close);
    }

    #[test]
    fn end_of_stream() {
        let mut buf = [0u8; 64];
        // Nothing at all on a reused connection: retried once, then not.
        let mut ex: HttpExchange = HttpExchange::new(true);
        assert_eq!(
            feed_all(&mut ex, &mut buf, b"", 8),
            Err(ExchangeError::Closed)
        );
        assert!(!ex.response_started());
        assert!(ex.retry_on_fresh_connection());
        assert_eq!(
            feed_all(&mut ex, &mut buf, b"", 8),
            Err(ExchangeError::Closed)
        );
        assert!(!ex.retry_on_fresh_connection(), "only once");
        // On a new connection: no retry.
        let mut ex: HttpExchange = HttpExchange::new(false);
        assert_eq!(
            feed_all(&mut ex, &mut buf, b"", 8),
            Err(ExchangeError::Closed)
        );
        assert!(!ex.retry_on_fresh_connection());
        // Part of a head on a reused connection: the server answered; no retry.
        let mut ex: HttpExchange = HttpExchange::new(true);
        assert_eq!(
            feed_all(&mut ex, &mut buf, b"HTTP/1.1 2", 8),
            Err(ExchangeError::Closed)
        );
        assert!(ex.response_started());
        assert!(!ex.retry_on_fresh_connection());
        // A body until close.
        let r = feed_all(
            &mut HttpExchange::new(false),
            &mut buf,
            b"HTTP/1.1 200 OK\r\n\r\nabc",
            8,
        )
        .unwrap();
        assert_eq!(r.connection, ConnectionReuse::Close);
        assert_eq!(r.body_len, 3);
    }

    #[test]
    fn a_head_longer_than_the_buffer() {
        let mut buf = [0u8; 32];
        let mut ex: HttpExchange = HttpExchange::new(true);
        let e = feed_all(
            &mut ex,
            &mut buf,
            b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\n\r\n",
            5,
        );
        assert_eq!(
            e,
            Err(ExchangeError::Response(ReadError::HeadTooLarge { max: 32 }))
        );
        assert!(!ex.retry_on_fresh_connection());
    }

    #[test]
    fn encode_writes_the_request_or_says_what_it_needs() {
        let channel = ChannelUri::parse("http://h/a").unwrap();
        let raw = Notification::Raw(Raw {
            body: b"x",
            voip: false,
        });
        let request = Request::notification(channel, &raw, &Options::default()).unwrap();
        let mut ex: HttpExchange = HttpExchange::new(true);
        let mut small = [0u8; 8];
        assert_eq!(
            ex.encode(&request, &mut small),
            Err(ExchangeError::BufferTooSmall {
                needed: request.http_len()
            })
        );
        assert!(
            !ex.retry_on_fresh_connection(),
            "a bigger buffer, not a new connection"
        );
        let mut buf = [0u8; 512];
        assert_eq!(ex.encode(&request, &mut buf), Ok(request.http_len()));
        assert!(buf.starts_with(b"POST /a HTTP/1.1\r\n"));
    }

    #[test]
    fn the_status_headers_are_known_before_the_body_ends() {
        let mut ex: HttpExchange = HttpExchange::new(false);
        let mut buf = [0u8; 128];
        let head =
            b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\nContent-Length: 100\r\n\r\nab";
        assert_eq!(ex.response_in_progress(), None);
        let space = ex.read_space(&mut buf).unwrap();
        space[..head.len()].copy_from_slice(head);
        assert_eq!(ex.received(&buf, head.len()), Ok(None));
        let response = ex.response_in_progress().expect("head read");
        assert_eq!(response.status, 200);
        assert_eq!(classify(&response), Outcome::Accepted { device: None });
    }

    #[test]
    fn the_retry_rule() {
        assert!(retry_on_fresh_connection(true, false));
        assert!(!retry_on_fresh_connection(false, false));
        assert!(!retry_on_fresh_connection(true, true));
    }
}

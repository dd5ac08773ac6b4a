//! The I/O-free half of one exchange, shared by the blocking and async
//! transports: request bytes into the buffer, response bytes through the
//! core's [`ResponseReader`], and the pool of kept-alive connections.

use embedded_io::ErrorKind;
use mpns_proto::{
    ChannelUri, Connection, ReadError, ReadResponse, ReaderLimits, Request, ResponseReader,
};

use crate::SendError;

/// The most header fields a response head may have. MPNS sends about ten;
/// proxies add a few. httparse keeps two slices per field on the stack while
/// it parses a head (16 bytes each on 32-bit targets).
pub const MAX_RESPONSE_HEADERS: usize = 24;

/// A failed exchange, and whether it failed before any response byte arrived
/// (then a kept-alive connection may just have been closed by the server
/// while idle, and one retry on a new connection is safe to try).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Failure {
    pub(crate) error: SendError,
    pub(crate) before_response: bool,
}

impl Failure {
    pub(crate) const fn hard(error: SendError) -> Self {
        Failure {
            error,
            before_response: false,
        }
    }
}

impl From<Failure> for SendError {
    fn from(f: Failure) -> Self {
        f.error
    }
}

/// Writes the request's HTTP/1.1 bytes to the front of `buf`.
pub(crate) fn encode(request: &Request<'_>, buf: &mut [u8]) -> Result<usize, Failure> {
    request
        .write_http(buf)
        .map_err(|e| Failure::hard(SendError::BufferTooSmall { needed: e.needed }))
}

/// A failure while the request was being written: no response byte yet.
pub(crate) const fn write_failure(kind: ErrorKind) -> Failure {
    Failure {
        error: SendError::Io(kind),
        before_response: true,
    }
}

/// What the response reader made of the bytes so far.
pub(crate) enum Received {
    /// Read more.
    More,
    /// The response is complete; its `connection` says whether the stream
    /// can carry the next request.
    Done(ReadResponse),
}

/// Receiving one response into the caller's buffer.
pub(crate) struct Receive<'b> {
    buf: &'b mut [u8],
    /// Received bytes not yet consumed by the reader: `buf[start..end]`.
    start: usize,
    end: usize,
    reader: ResponseReader<MAX_RESPONSE_HEADERS>,
    any_byte: bool,
}

impl<'b> Receive<'b> {
    /// A fresh reader whose longest head is the buffer's length.
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        let limits = ReaderLimits {
            max_head_len: buf.len(),
            ..ReaderLimits::DEFAULT
        };
        Receive {
            buf,
            start: 0,
            end: 0,
            reader: ResponseReader::new(limits),
            any_byte: false,
        }
    }

    /// Where the next read goes.
    pub(crate) fn space(&mut self) -> Result<&mut [u8], Failure> {
        if self.end == self.buf.len() {
            if self.start == 0 {
                // The reader reports a head that fills the buffer; defensive.
                let max = self.buf.len();
                return Err(Failure::hard(SendError::Response(
                    ReadError::HeadTooLarge { max },
                )));
            }
            // Move the unconsumed bytes to the front. Swaps rather than
            // `copy_within`, which would link `memmove` (1.5 KiB on Cortex-M)
            // for a move that happens only after an interim 1xx response or
            // inside a chunked body.
            for i in 0..self.end - self.start {
                self.buf.swap(i, self.start + i);
            }
            self.end -= self.start;
            self.start = 0;
        }
        Ok(&mut self.buf[self.end..])
    }

    /// A read failed.
    pub(crate) fn failed(&self, kind: ErrorKind) -> Failure {
        Failure {
            error: SendError::Io(kind),
            before_response: !self.any_byte,
        }
    }

    /// `n` bytes were read into [`Receive::space`]; 0 is the end of the stream.
    pub(crate) fn received(&mut self, n: usize) -> Result<Received, Failure> {
        if n == 0 {
            return match self.reader.finish() {
                Ok(Some(mut response)) => {
                    response.connection = Connection::Close;
                    Ok(Received::Done(response))
                }
                Ok(None) => Err(Failure {
                    error: SendError::Closed,
                    before_response: !self.any_byte,
                }),
                Err(ReadError::Incomplete) => Err(Failure::hard(SendError::Closed)),
                Err(e) => Err(Failure::hard(SendError::Response(e))),
            };
        }
        self.any_byte = true;
        self.end = (self.end + n).min(self.buf.len());
        let progress = self
            .reader
            .feed(&self.buf[self.start..self.end])
            .map_err(|e| Failure::hard(SendError::Response(e)))?;
        self.start += progress.consumed;
        let left = self.end - self.start;
        if left == 0 {
            (self.start, self.end) = (0, 0);
        }
        Ok(match progress.done {
            Some(mut response) => {
                if left > 0 {
                    // Bytes nobody asked for: do not trust the connection.
                    warn!("{:?} unexpected bytes after a response", left);
                    response.connection = Connection::Close;
                }
                Received::Done(response)
            }
            None => Received::More,
        })
    }
}

/// Identifies a connection endpoint: scheme, host (case-insensitively) and
/// port, hashed (FNV-1a, 64 bits) so the pool stores 8 bytes per entry.
pub(crate) fn host_key(channel: &ChannelUri<'_>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    for b in channel.uri().scheme().as_str().bytes() {
        eat(b);
    }
    eat(0xff);
    for b in channel.host().bytes() {
        eat(b.to_ascii_lowercase());
    }
    eat(0xff);
    for b in channel.port().to_le_bytes() {
        eat(b);
    }
    h
}

/// Kept-alive connections, at most one per host and `N` in all; the least
/// recently used goes first when a new host needs room.
///
/// A plain array with use stamps rather than an ordered `heapless::Vec`:
/// removing from the middle of a vector pulls `memmove` (1.5 KiB on Cortex-M)
/// into the firmware.
pub(crate) struct Pool<T, const N: usize> {
    entries: [Place<T>; N],
    clock: u32,
}

/// A place in the pool. An explicit tag, 0 for free, rather than
/// `Option<Entry>`, whose `None` may live in a niche of the connection type:
/// filling the pool with that takes a `memset` on microcontrollers.
#[repr(u8)]
enum Place<T> {
    Free = 0,
    Kept(Entry<T>),
}

impl<T> Place<T> {
    fn take(&mut self) -> Option<Entry<T>> {
        match core::mem::replace(self, Place::Free) {
            Place::Free => None,
            Place::Kept(e) => Some(e),
        }
    }

    fn key(&self) -> Option<u64> {
        match self {
            Place::Free => None,
            Place::Kept(e) => Some(e.key),
        }
    }
}

struct Entry<T> {
    key: u64,
    conn: T,
    used: u32,
}

impl<T, const N: usize> Pool<T, N> {
    pub(crate) const fn new() -> Self {
        Pool {
            entries: [const { Place::Free }; N],
            clock: 0,
        }
    }

    /// Takes the open connection to `key`, if any.
    pub(crate) fn take(&mut self, key: u64) -> Option<T> {
        self.entries
            .iter_mut()
            .find(|e| e.key() == Some(key))
            .and_then(Place::take)
            .map(|e| e.conn)
    }

    /// Keeps `conn` for `key`; returns the connection that no longer fits
    /// (the least recently used, or `conn` itself when `N` is 0).
    pub(crate) fn put(&mut self, key: u64, conn: T) -> Option<T> {
        self.clock = self.clock.wrapping_add(1);
        let entry = Entry {
            key,
            conn,
            used: self.clock,
        };
        let clock = self.clock;
        // A free place, else the least recently used (the oldest stamp).
        let place = self.entries.iter_mut().min_by_key(|e| match e {
            Place::Free => (0, 0),
            Place::Kept(e) => (1, u32::MAX - clock.wrapping_sub(e.used)),
        });
        match place {
            Some(place) => core::mem::replace(place, Place::Kept(entry))
                .take()
                .map(|old| old.conn),
            None => Some(entry.conn),
        }
    }

    /// Takes any connection (to close them all).
    pub(crate) fn pop(&mut self) -> Option<T> {
        self.entries
            .iter_mut()
            .find_map(Place::take)
            .map(|e| e.conn)
    }

    /// Open connections.
    pub(crate) fn len(&self) -> usize {
        self.entries.iter().filter(|e| e.key().is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpns_proto::{Connection, Outcome, classify};

    #[test]
    fn pool_keeps_one_per_key_and_evicts_the_least_recently_used() {
        let mut pool: Pool<&str, 2> = Pool::new();
        assert_eq!(pool.put(1, "a"), None);
        assert_eq!(pool.put(2, "b"), None);
        assert_eq!(pool.take(1), Some("a"));
        assert_eq!(pool.put(1, "a"), None);
        assert_eq!(pool.put(3, "c"), Some("b"), "2 was used least recently");
        assert_eq!(pool.take(2), None);
        assert_eq!(pool.len(), 2);
        let mut none: Pool<&str, 0> = Pool::new();
        assert_eq!(none.put(1, "a"), Some("a"));
    }

    #[test]
    fn host_keys_ignore_case_and_path_but_not_scheme_or_port() {
        let key = |u| host_key(&ChannelUri::parse(u).unwrap());
        let base = key("http://db3.notify.live.net/a/1");
        assert_eq!(base, key("http://DB3.Notify.Live.Net/b/2?q"));
        assert_eq!(base, key("http://db3.notify.live.net:80/a"));
        assert_ne!(base, key("https://db3.notify.live.net/a/1"));
        assert_ne!(base, key("http://db3.notify.live.net:8080/a/1"));
        assert_ne!(base, key("http://sn1.notify.live.net/a/1"));
    }

    fn feed_all(buf: &mut [u8], input: &[u8], step: usize) -> Result<ReadResponse, Failure> {
        let mut rx = Receive::new(buf);
        let mut rest = input;
        loop {
            let space = rx.space()?;
            let n = step.min(space.len()).min(rest.len());
            space[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            if let Received::Done(r) = rx.received(n)? {
                return Ok(r);
            }
        }
    }

    #[test]
    fn responses_in_any_pieces() {
        let bytes = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\nContent-Length: 2\r\n\r\nok";
        for step in [1, 2, 7, 64, 1024] {
            let mut buf = [0u8; 128];
            let r = feed_all(&mut buf, bytes, step).unwrap();
            assert_eq!(classify(&r.response), Outcome::Accepted { device: None });
            assert_eq!(r.connection, Connection::KeepAlive);
            assert_eq!(r.body_len, 2);
        }
    }

    #[test]
    fn unconsumed_bytes_move_to_the_front_of_a_small_buffer() {
        let bytes = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
        for step in [1, 3, 16, 1024] {
            let mut buf = [0u8; 80];
            let r = feed_all(&mut buf, bytes, step).unwrap();
            assert_eq!(classify(&r.response), Outcome::Accepted { device: None });
            assert_eq!(r.connection, Connection::KeepAlive, "step {step}");
            assert_eq!(r.body_len, 19);
        }
    }

    #[test]
    fn leftover_bytes_close_the_connection() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n";
        let mut buf = [0u8; 128];
        let r = feed_all(&mut buf, bytes, 1024).unwrap();
        assert_eq!(r.connection, Connection::Close);
    }

    #[test]
    fn end_of_stream() {
        let mut buf = [0u8; 64];
        // Nothing at all: maybe a kept connection the server closed.
        let f = feed_all(&mut buf, b"", 8).unwrap_err();
        assert!(f.before_response);
        assert_eq!(f.error, SendError::Closed);
        // Part of a head: a real failure.
        let f = feed_all(&mut buf, b"HTTP/1.1 2", 8).unwrap_err();
        assert!(!f.before_response);
        assert_eq!(f.error, SendError::Closed);
        // A body until close.
        let r = feed_all(&mut buf, b"HTTP/1.1 200 OK\r\n\r\nabc", 8).unwrap();
        assert_eq!(r.connection, Connection::Close);
        assert_eq!(r.body_len, 3);
    }

    #[test]
    fn a_head_longer_than_the_buffer() {
        let mut buf = [0u8; 32];
        let f = feed_all(
            &mut buf,
            b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\n\r\n",
            5,
        )
        .unwrap_err();
        assert_eq!(
            f.error,
            SendError::Response(ReadError::HeadTooLarge { max: 32 })
        );
    }
}

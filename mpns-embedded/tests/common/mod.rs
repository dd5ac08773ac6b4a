//! Test support: connectors over std and tokio TCP (through
//! embedded-io-adapters), stream wrappers that cut reads and writes short,
//! a scripted HTTP server for what the emulator cannot do, and the
//! expected outcome of every policy row of `docs/protocol.md`, "What each
//! response means".
#![allow(dead_code, unreachable_pub)]

// With the `defmt` feature the crate logs through defmt: link a logger.
#[cfg(feature = "defmt")]
use mpns_embedded_defmt_sink as _;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use embedded_io_adapters::std::FromStd;
use embedded_io_adapters::tokio_1::FromTokio;
use mpns_embedded::transport_error;
use mpns_hyper::emulator::Behaviour;
use mpns_proto::sender::{Event, Finished, TransportError};
use mpns_proto::{AnomalyReason, DeviceStatus, RejectReason, RetryReason};

pub const TIMEOUT: Duration = Duration::from_secs(15);

fn std_error(e: &std::io::Error) -> TransportError {
    transport_error(embedded_io::ErrorKind::from(e.kind()))
}

/// Opens plain TCP connections with std, and counts them.
#[derive(Clone, Debug, Default)]
pub struct StdTcp {
    pub connects: Arc<AtomicUsize>,
    /// Largest read and write, to test short reads and writes (0: no limit).
    pub read_max: usize,
    pub write_max: usize,
}

impl StdTcp {
    pub fn trickle(read_max: usize, write_max: usize) -> Self {
        StdTcp {
            read_max,
            write_max,
            ..StdTcp::default()
        }
    }

    pub fn count(&self) -> usize {
        self.connects.load(Ordering::SeqCst)
    }
}

impl mpns_embedded::blocking::Connector for StdTcp {
    type Conn = Trickle<FromStd<TcpStream>>;

    fn connect(&mut self, host: &str, port: u16, tls: bool) -> Result<Self::Conn, TransportError> {
        assert!(!tls, "the tests use plain HTTP");
        let stream = TcpStream::connect((host, port)).map_err(|e| std_error(&e))?;
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        self.connects.fetch_add(1, Ordering::SeqCst);
        Ok(Trickle::new(
            FromStd::new(stream),
            self.read_max,
            self.write_max,
        ))
    }
}

/// Opens plain TCP connections with tokio, and counts them.
#[derive(Clone, Debug, Default)]
pub struct TokioTcp {
    pub connects: Arc<AtomicUsize>,
    pub read_max: usize,
    pub write_max: usize,
}

impl TokioTcp {
    pub fn count(&self) -> usize {
        self.connects.load(Ordering::SeqCst)
    }
}

impl mpns_embedded::asynch::Connector for TokioTcp {
    type Conn = Trickle<FromTokio<tokio::net::TcpStream>>;

    async fn connect(
        &mut self,
        host: &str,
        port: u16,
        tls: bool,
    ) -> Result<Self::Conn, TransportError> {
        assert!(!tls, "the tests use plain HTTP");
        let stream = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| std_error(&e))?;
        stream.set_nodelay(true).unwrap();
        self.connects.fetch_add(1, Ordering::SeqCst);
        Ok(Trickle::new(
            FromTokio::new(stream),
            self.read_max,
            self.write_max,
        ))
    }
}

/// A stream that reads and writes at most so many bytes per call (0: no limit).
#[derive(Debug)]
pub struct Trickle<T> {
    pub inner: T,
    read_max: usize,
    write_max: usize,
    pub reads: usize,
    pub writes: usize,
}

impl<T> Trickle<T> {
    pub fn new(inner: T, read_max: usize, write_max: usize) -> Self {
        Trickle {
            inner,
            read_max,
            write_max,
            reads: 0,
            writes: 0,
        }
    }
}

fn cut(len: usize, max: usize) -> usize {
    if max == 0 { len } else { len.min(max) }
}

impl<T: embedded_io::ErrorType> embedded_io::ErrorType for Trickle<T> {
    type Error = T::Error;
}

impl<T: embedded_io::Read> embedded_io::Read for Trickle<T> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.reads += 1;
        let n = cut(buf.len(), self.read_max);
        self.inner.read(&mut buf[..n])
    }
}

impl<T: embedded_io::Write> embedded_io::Write for Trickle<T> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.writes += 1;
        let n = cut(buf.len(), self.write_max);
        self.inner.write(&buf[..n])
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()
    }
}

impl<T: embedded_io_async::Read> embedded_io_async::Read for Trickle<T> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.reads += 1;
        let n = cut(buf.len(), self.read_max);
        self.inner.read(&mut buf[..n]).await
    }
}

impl<T: embedded_io_async::Write> embedded_io_async::Write for Trickle<T> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.writes += 1;
        let n = cut(buf.len(), self.write_max);
        self.inner.write(&buf[..n]).await
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush().await
    }
}

// ---- a scripted server ------------------------------------------------------

/// A TCP server on 127.0.0.1 that runs `script(connection_index, stream)` on
/// a thread per accepted connection. It stops with the test process.
pub struct Scripted {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
}

impl Scripted {
    pub fn spawn<F>(script: F) -> Scripted
    where
        F: Fn(usize, TcpStream) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        let script = Arc::new(script);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                let index = counter.fetch_add(1, Ordering::SeqCst);
                let script = Arc::clone(&script);
                std::thread::spawn(move || script(index, stream));
            }
        });
        Scripted { addr, connections }
    }

    /// A channel URI on this server.
    pub fn channel_url(&self, id: &str) -> String {
        format!("http://{}/throttledthirdparty/01.00/{id}", self.addr)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A request as the scripted server read it.
#[derive(Debug)]
pub struct ReadRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ReadRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request (head and `Content-Length` body); `None` when the
/// client closed the connection first.
pub fn read_request(stream: &mut TcpStream) -> Option<ReadRequest> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(len) = request.parse(&buf).expect("valid request") {
            let headers: Vec<(String, String)> = request
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8(h.value.to_vec()).unwrap(),
                    )
                })
                .collect();
            let content_length: usize = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or(0);
            let method = request.method.unwrap().to_owned();
            let path = request.path.unwrap().to_owned();
            let mut body = buf[len..].to_vec();
            while body.len() < content_length {
                let n = stream.read(&mut chunk).ok()?;
                if n == 0 {
                    return None;
                }
                body.extend_from_slice(&chunk[..n]);
            }
            assert_eq!(body.len(), content_length, "no pipelining expected");
            return Some(ReadRequest {
                method,
                path,
                headers,
                body,
            });
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// An MPNS-like response with `Content-Length: 0` and these extra header lines.
pub fn response(status_line: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status_line}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out.into_bytes()
}

/// 200 Received / Active / Connected.
pub fn received() -> Vec<u8> {
    response(
        "200 OK",
        &[
            ("X-NotificationStatus", "Received"),
            ("X-SubscriptionStatus", "Active"),
            ("X-DeviceConnectionStatus", "Connected"),
        ],
    )
}

/// Answers every request on the connection with `answer(request)` until the client closes.
pub fn serve_all(mut stream: TcpStream, answer: impl Fn(&ReadRequest) -> Vec<u8>) {
    while let Some(request) = read_request(&mut stream) {
        if stream.write_all(&answer(&request)).is_err() {
            return;
        }
    }
}

// ---- the policy table ---------------------------------------------------------

/// What the sender makes of one first answer: a final result, or a retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Final(Finished),
    Retry(RetryReason),
}

/// Every row of `docs/protocol.md`, "What each response means", that the
/// emulator can answer with, and what the sender must make of it.
pub fn policy_rows() -> Vec<(&'static str, Behaviour, Expect)> {
    use Expect::{Final, Retry};
    vec![
        (
            "200 Received",
            Behaviour::Active,
            Final(Finished::Accepted {
                device: Some(DeviceStatus::Connected),
            }),
        ),
        (
            "200 QueueFull",
            Behaviour::QueueFull(1),
            Retry(RetryReason::QueueFull),
        ),
        (
            "200 Suppressed",
            Behaviour::Suppressed,
            Final(Finished::Suppressed),
        ),
        ("200 Dropped", Behaviour::Dropped, Final(Finished::Dropped)),
        (
            "200 without MPNS headers",
            Behaviour::Status(200),
            Final(Finished::Anomaly {
                reason: AnomalyReason::MissingNotificationStatus,
                status: 200,
            }),
        ),
        (
            "400",
            Behaviour::Status(400),
            Final(Finished::Rejected {
                reason: RejectReason::BadRequest,
                status: 400,
            }),
        ),
        (
            "401",
            Behaviour::Status(401),
            Final(Finished::Rejected {
                reason: RejectReason::Unauthorized,
                status: 401,
            }),
        ),
        (
            "403",
            Behaviour::Status(403),
            Final(Finished::Rejected {
                reason: RejectReason::Forbidden,
                status: 403,
            }),
        ),
        (
            "404 Dropped/Expired",
            Behaviour::Expired,
            Final(Finished::ChannelExpired),
        ),
        (
            "404 alone",
            Behaviour::Status(404),
            Final(Finished::ChannelExpired),
        ),
        (
            "405",
            Behaviour::Status(405),
            Final(Finished::Rejected {
                reason: RejectReason::MethodNotAllowed,
                status: 405,
            }),
        ),
        (
            "406",
            Behaviour::RateLimited,
            Retry(RetryReason::RateLimited),
        ),
        (
            "412",
            Behaviour::Inactive,
            Retry(RetryReason::DeviceInactive),
        ),
        (
            "503",
            Behaviour::Unavailable(1),
            Retry(RetryReason::ServiceUnavailable),
        ),
        (
            "429",
            Behaviour::Status(429),
            Retry(RetryReason::TooManyRequests),
        ),
        (
            "500",
            Behaviour::Status(500),
            Retry(RetryReason::ServerError),
        ),
        (
            "502",
            Behaviour::Status(502),
            Retry(RetryReason::ServerError),
        ),
        (
            "other 4xx (418)",
            Behaviour::Status(418),
            Final(Finished::Rejected {
                reason: RejectReason::OtherClientError,
                status: 418,
            }),
        ),
        (
            "a status MPNS never sends (204)",
            Behaviour::Status(204),
            Final(Finished::Anomaly {
                reason: AnomalyReason::UnexpectedStatus,
                status: 204,
            }),
        ),
        (
            "mid-response reset",
            Behaviour::ResetMidResponse(1),
            Retry(RetryReason::Transport),
        ),
    ]
}

/// The first answer in `events`: the final result, or the retry reason.
pub fn first_answer(events: &[Event]) -> Option<Expect> {
    events.iter().find_map(|e| match *e {
        Event::Finished { result, .. } => Some(Expect::Final(result)),
        Event::Retrying { reason, .. } => Some(Expect::Retry(reason)),
        _ => None,
    })
}

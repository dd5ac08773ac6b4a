//! The embedded-svc transports, through a test implementation of
//! `embedded_svc::http::client::Connection` (and its async variant) over a
//! std `TcpStream`, against the emulator of mpns-hyper.

mod common;

use mpns_proto::ExchangeError;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{Expect, Scripted, first_answer, policy_rows, read_request, received, serve_all};
use embedded_io_adapters::std::FromStd;
use embedded_svc::http::client::Connection;
use embedded_svc::http::{Headers, Method, Status};
use mpns_embedded::svc::{self, SvcClient};
use mpns_embedded::{Gateway, GatewaySubmitError, SendError};
use mpns_hyper::emulator::{Behaviour, Emulator, EmulatorConfig};
use mpns_proto::sender::{Event, Sender, SenderConfig, TransportError};
use mpns_proto::{
    ChannelUri, Instant, Limits, Notification, Options, Outcome, Request, RetryReason, Toast,
    classify,
};

// ---- a test Connection ---------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    New,
    Request,
    Response,
}

/// Status and headers of the current response.
#[derive(Debug, Default)]
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Status for Head {
    fn status(&self) -> u16 {
        self.status
    }

    fn status_message(&self) -> Option<&str> {
        None
    }
}

impl Headers for Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The socket, and what is left of the response body.
#[derive(Default)]
struct Body {
    stream: Option<FromStd<TcpStream>>,
    buffered: Vec<u8>,
    /// `None`: until the server closes.
    remaining: Option<usize>,
    close_after: bool,
}

impl embedded_io::ErrorType for Body {
    type Error = std::io::Error;
}

impl embedded_io::Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, std::io::Error> {
        let want = buf.len().min(self.remaining.unwrap_or(usize::MAX));
        if want == 0 {
            if self.close_after {
                self.stream = None;
            }
            return Ok(0);
        }
        let n = if !self.buffered.is_empty() {
            let n = want.min(self.buffered.len());
            buf[..n].copy_from_slice(&self.buffered[..n]);
            self.buffered.drain(..n);
            n
        } else {
            let stream = self
                .stream
                .as_mut()
                .ok_or(std::io::ErrorKind::NotConnected)?;
            stream.inner_mut().read(&mut buf[..want])?
        };
        if n == 0 {
            self.stream = None;
        }
        if let Some(r) = &mut self.remaining {
            *r -= n;
        }
        Ok(n)
    }
}

/// A minimal HTTP/1.1 client connection, in the manner of esp-idf-svc's
/// `EspHttpConnection`: it connects on demand, keeps the connection alive,
/// and stays in its request phase after a failed response (the next
/// `initiate_request` then panics, as esp-idf-svc's does).
struct TestConn {
    phase: Phase,
    endpoint: Option<String>,
    head: Head,
    body: Body,
    connects: Arc<AtomicUsize>,
    /// Request heads sent, for assertions.
    sent: Arc<Mutex<Vec<String>>>,
}

impl TestConn {
    fn new(connects: Arc<AtomicUsize>, sent: Arc<Mutex<Vec<String>>>) -> Self {
        TestConn {
            phase: Phase::New,
            endpoint: None,
            head: Head::default(),
            body: Body::default(),
            connects,
            sent,
        }
    }

    fn stream(&mut self) -> std::io::Result<&mut TcpStream> {
        Ok(self
            .body
            .stream
            .as_mut()
            .ok_or(std::io::ErrorKind::NotConnected)?
            .inner_mut())
    }

    fn read_head(&mut self) -> std::io::Result<()> {
        let mut buf = std::mem::take(&mut self.body.buffered);
        let mut chunk = [0u8; 512];
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            let parsed = response
                .parse(&buf)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            if let httparse::Status::Complete(len) = parsed {
                self.head = Head {
                    status: response.code.unwrap(),
                    headers: response
                        .headers
                        .iter()
                        .map(|h| {
                            let value = String::from_utf8_lossy(h.value).into_owned();
                            (h.name.to_owned(), value)
                        })
                        .collect(),
                };
                self.body.remaining = match self.head.header("Content-Length") {
                    Some(v) => Some(v.trim().parse().unwrap()),
                    None if matches!(self.head.status, 204 | 304) => Some(0),
                    None => None,
                };
                self.body.close_after = self.body.remaining.is_none()
                    || self
                        .head
                        .header("Connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                self.body.buffered = buf[len..].to_vec();
                return Ok(());
            }
            let n = self.stream()?.read(&mut chunk)?;
            if n == 0 {
                self.body.stream = None;
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }
}

impl embedded_io::ErrorType for TestConn {
    type Error = std::io::Error;
}

impl embedded_io::Read for TestConn {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, std::io::Error> {
        assert_eq!(self.phase, Phase::Response);
        self.body.read(buf)
    }
}

impl embedded_io::Write for TestConn {
    fn write(&mut self, buf: &[u8]) -> Result<usize, std::io::Error> {
        assert_eq!(self.phase, Phase::Request);
        // Short writes on purpose.
        let n = buf.len().min(9);
        self.stream()?.write(&buf[..n])
    }

    fn flush(&mut self) -> Result<(), std::io::Error> {
        self.stream()?.flush()
    }
}

impl Status for TestConn {
    fn status(&self) -> u16 {
        assert_eq!(self.phase, Phase::Response);
        self.head.status()
    }

    fn status_message(&self) -> Option<&str> {
        None
    }
}

impl Headers for TestConn {
    fn header(&self, name: &str) -> Option<&str> {
        assert_eq!(self.phase, Phase::Response);
        self.head.header(name)
    }
}

impl Connection for TestConn {
    type Headers = Head;
    type Read = Body;
    type RawConnectionError = std::io::Error;
    type RawConnection = FromStd<TcpStream>;

    fn initiate_request<'a>(
        &'a mut self,
        method: Method,
        uri: &'a str,
        headers: &'a [(&'a str, &'a str)],
    ) -> Result<(), std::io::Error> {
        assert_ne!(
            self.phase,
            Phase::Request,
            "connection is not in initial phase"
        );
        assert_eq!(method, Method::Post);
        // Plain TCP whatever the scheme: the tests have no TLS.
        let rest = uri.split_once("://").unwrap().1;
        let split = rest.find('/').unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        if self.endpoint.as_deref() != Some(authority) || self.body.stream.is_none() {
            let stream = TcpStream::connect(authority)?;
            stream.set_read_timeout(Some(common::TIMEOUT))?;
            self.connects.fetch_add(1, Ordering::SeqCst);
            self.body = Body {
                stream: Some(FromStd::new(stream)),
                ..Body::default()
            };
            self.endpoint = Some(authority.to_owned());
        }
        let mut head = format!("POST {target} HTTP/1.1\r\nHost: {authority}\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        self.stream()?.write_all(head.as_bytes())?;
        self.sent.lock().unwrap().push(head);
        self.phase = Phase::Request;
        Ok(())
    }

    fn is_request_initiated(&self) -> bool {
        self.phase == Phase::Request
    }

    fn initiate_response(&mut self) -> Result<(), std::io::Error> {
        assert_eq!(
            self.phase,
            Phase::Request,
            "connection is not in request phase"
        );
        self.read_head()?;
        self.phase = Phase::Response;
        Ok(())
    }

    fn is_response_initiated(&self) -> bool {
        self.phase == Phase::Response
    }

    fn split(&mut self) -> (&Self::Headers, &mut Self::Read) {
        (&self.head, &mut self.body)
    }

    fn raw_connection(&mut self) -> Result<&mut Self::RawConnection, std::io::Error> {
        Ok(self
            .body
            .stream
            .as_mut()
            .ok_or(std::io::ErrorKind::NotConnected)?)
    }
}

/// The async variant over the same blocking socket (fine for a test).
struct AsyncTestConn(TestConn);

impl embedded_io::ErrorType for AsyncTestConn {
    type Error = std::io::Error;
}

impl embedded_io_async::Read for AsyncTestConn {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, std::io::Error> {
        embedded_io::Read::read(&mut self.0, buf)
    }
}

impl embedded_io_async::Write for AsyncTestConn {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, std::io::Error> {
        embedded_io::Write::write(&mut self.0, buf)
    }

    async fn flush(&mut self) -> Result<(), std::io::Error> {
        embedded_io::Write::flush(&mut self.0)
    }
}

impl embedded_io_async::Read for Body {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, std::io::Error> {
        embedded_io::Read::read(self, buf)
    }
}

impl embedded_io_async::Write for FromStdAsync {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, std::io::Error> {
        self.0.inner_mut().write(buf)
    }

    async fn flush(&mut self) -> Result<(), std::io::Error> {
        self.0.inner_mut().flush()
    }
}

impl embedded_io_async::Read for FromStdAsync {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, std::io::Error> {
        self.0.inner_mut().read(buf)
    }
}

/// The raw connection of the async test connection (never used).
struct FromStdAsync(FromStd<TcpStream>);

impl embedded_io::ErrorType for FromStdAsync {
    type Error = std::io::Error;
}

impl Status for AsyncTestConn {
    fn status(&self) -> u16 {
        self.0.status()
    }

    fn status_message(&self) -> Option<&str> {
        None
    }
}

impl Headers for AsyncTestConn {
    fn header(&self, name: &str) -> Option<&str> {
        self.0.header(name)
    }
}

impl embedded_svc::http::client::asynch::Connection for AsyncTestConn {
    type Headers = Head;
    type Read = Body;
    type RawConnectionError = std::io::Error;
    type RawConnection = FromStdAsync;

    async fn initiate_request(
        &mut self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> Result<(), std::io::Error> {
        self.0.initiate_request(method, uri, headers)
    }

    fn is_request_initiated(&self) -> bool {
        self.0.is_request_initiated()
    }

    async fn initiate_response(&mut self) -> Result<(), std::io::Error> {
        self.0.initiate_response()
    }

    fn is_response_initiated(&self) -> bool {
        self.0.is_response_initiated()
    }

    fn split(&mut self) -> (&Self::Headers, &mut Self::Read) {
        self.0.split()
    }

    fn raw_connection(&mut self) -> Result<&mut Self::RawConnection, std::io::Error> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

// ---- helpers ----------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Factory {
    made: Arc<AtomicUsize>,
    connects: Arc<AtomicUsize>,
    sent: Arc<Mutex<Vec<String>>>,
}

impl Factory {
    fn make(&self) -> impl FnMut() -> Result<TestConn, TransportError> + use<> {
        let this = self.clone();
        move || {
            this.made.fetch_add(1, Ordering::SeqCst);
            Ok(TestConn::new(
                Arc::clone(&this.connects),
                Arc::clone(&this.sent),
            ))
        }
    }

    fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }

    fn connects(&self) -> usize {
        self.connects.load(Ordering::SeqCst)
    }
}

fn toast(text: &str) -> Notification<'_> {
    Notification::Toast(Toast {
        text1: Some("Svc"),
        text2: Some(text),
        ..Toast::default()
    })
}

fn drain<S, T, const Q: usize, const C: usize>(gw: &mut Gateway<'_, S, T, Q, C>) -> Vec<Event>
where
    S: AsRef<[u8]> + AsMut<[u8]>,
    T: mpns_embedded::ExchangeBuffer,
{
    std::iter::from_fn(|| gw.poll_event()).collect()
}

// ---- tests --------------------------------------------------------------------

#[test]
fn every_policy_row_through_an_svc_connection() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    for (i, (name, behaviour, expect)) in policy_rows().into_iter().enumerate() {
        let id = format!("row{i}");
        emu.set_behaviour(&id, behaviour);
        let url = emu.channel_url(&id);
        let channel = ChannelUri::parse(&url).unwrap();
        let factory = Factory::default();
        let mut buf = [0u8; 1024];
        let sender: Sender<_, 4, 4> = Sender::new(SenderConfig::default(), vec![0u8; 4096]);
        let mut gw = Gateway::new(sender, SvcClient::new(factory.make()), &mut buf);
        gw.submit(Instant::ZERO, channel, &toast(name), &Options::default())
            .unwrap();
        let round = gw.poll(Instant::ZERO);
        let events = drain(&mut gw);
        assert_eq!(first_answer(&events), Some(expect), "{name}: {events:?}");
        let transport = expect == Expect::Retry(RetryReason::Transport);
        assert_eq!(round.failures, u16::from(transport), "{name}");
    }
}

#[test]
fn svc_connection_is_kept_alive_and_sends_the_core_headers() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    let factory = Factory::default();
    let mut client = SvcClient::new(factory.make());
    let mut buf = [0u8; 1024];
    for i in 0..10 {
        let url = emu.channel_url(&format!("k{}", i % 3));
        let channel = ChannelUri::parse(&url).unwrap();
        let note = toast("kept alive");
        let request = Request::notification(channel, &note, &Options::default()).unwrap();
        let response = client.send(&request, &mut buf).unwrap();
        assert!(matches!(classify(&response), Outcome::Accepted { .. }));
    }
    assert_eq!((factory.made(), factory.connects()), (1, 1));
    assert_eq!(emu.stats().connections, 1);
    let recorded = emu.accepted();
    assert_eq!(recorded.len(), 10);
    assert!(recorded.iter().all(|r| r.parsed.is_some()));
    let sent = factory.sent.lock().unwrap();
    let head = &sent[0];
    assert!(
        head.starts_with("POST /throttledthirdparty/01.00/k0 HTTP/1.1\r\n"),
        "{head}"
    );
    for line in [
        "Content-Type: text/xml\r\n",
        "X-WindowsPhone-Target: toast\r\n",
        "X-NotificationClass: 2\r\n",
        "Content-Length: ",
    ] {
        assert!(head.contains(line), "{line} in {head}");
    }
}

#[test]
fn stuck_or_closed_svc_connections_are_replaced() {
    // One request per connection, then the server closes without saying so,
    // and tells the test it has closed.
    let (closed, closes) = std::sync::mpsc::channel();
    let server = Scripted::spawn(move |_, mut stream| {
        if read_request(&mut stream).is_some() {
            let _ = stream.write_all(&received());
        }
        drop(stream);
        let _ = closed.send(());
    });
    let factory = Factory::default();
    let mut client = SvcClient::new(factory.make());
    let mut buf = [0u8; 1024];
    let url = server.channel_url("s");
    for _ in 0..3 {
        let channel = ChannelUri::parse(&url).unwrap();
        let note = toast("replace me");
        let request = Request::notification(channel, &note, &Options::default()).unwrap();
        let response = client.send(&request, &mut buf).unwrap();
        assert!(classify(&response).is_final());
        // The server has closed this connection before the next request.
        closes
            .recv_timeout(common::TIMEOUT)
            .expect("the server closes");
        // Never left in its request phase (the next request would panic).
        assert!(!client.connection().unwrap().is_request_initiated());
    }
    assert_eq!(server.connections(), 3);

    // A server that reads and closes: the error reaches the caller, and the
    // stuck connection is dropped.
    let silent = Scripted::spawn(|_, mut stream| {
        let _ = read_request(&mut stream);
    });
    let url = silent.channel_url("s");
    let channel = ChannelUri::parse(&url).unwrap();
    let note = toast("nobody");
    let request = Request::notification(channel, &note, &Options::default()).unwrap();
    let err = client.send(&request, &mut buf).unwrap_err();
    assert!(matches!(err, SendError::Io(_)), "{err:?}");
    assert!(client.connection().is_none());
}

#[test]
fn svc_buffer_holds_uri_and_body_and_callback_paths_get_their_suffix() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let server = Scripted::spawn(move |_, stream| {
        let record = Arc::clone(&record);
        serve_all(stream, move |request| {
            record.lock().unwrap().push((
                request.path.clone(),
                request.header("X-CallbackURI").map(str::to_owned),
                request.body.clone(),
            ));
            received()
        })
    });
    // An https channel on the plain test server: the test connection ignores the scheme.
    let url = format!("https://{}/unthrottledthirdparty/01.00/cb?x=1", server.addr);
    let channel = ChannelUri::parse(&url).unwrap();
    let limits = Limits::default();
    let request =
        Request::callback_registration(channel, "https://example.invalid/hook", b"ctx", &limits)
            .unwrap();
    assert_eq!(
        svc::buffer_needed(&request),
        url.len() + "/callback".len() + 3
    );

    let factory = Factory::default();
    let mut small = vec![0u8; svc::buffer_needed(&request) - 1];
    let mut client = SvcClient::new(factory.make());
    assert_eq!(
        client.send(&request, &mut small),
        Err(SendError::Exchange(ExchangeError::BufferTooSmall {
            needed: svc::buffer_needed(&request)
        }))
    );
    assert_eq!(factory.made(), 0, "nothing was opened");

    let mut exact = vec![0u8; svc::buffer_needed(&request)];
    let response = client.send(&request, &mut exact).unwrap();
    assert_eq!(
        classify(&response),
        Outcome::Accepted {
            device: Some(mpns_proto::DeviceStatus::Connected)
        }
    );
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0],
        (
            "/unthrottledthirdparty/01.00/cb/callback?x=1".to_owned(),
            Some("https://example.invalid/hook".to_owned()),
            b"ctx".to_vec()
        )
    );

    // The gateway refuses what its buffer cannot hold, counted the svc way.
    let sender: Sender<_, 2, 2> = Sender::new(SenderConfig::default(), vec![0u8; 4096]);
    let mut buf = [0u8; 64];
    let mut gw = Gateway::new(sender, SvcClient::new(factory.make()), &mut buf);
    let channel = ChannelUri::parse(&url).unwrap();
    let err = gw
        .submit(
            Instant::ZERO,
            channel,
            &toast("too big"),
            &Options::default(),
        )
        .unwrap_err();
    assert!(
        matches!(err, GatewaySubmitError::BufferTooSmall { len: 64, .. }),
        "{err:?}"
    );
}

#[test]
fn one_shot_svc_send() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emu.set_behaviour("inactive", Behaviour::Inactive);
    let factory = Factory::default();
    let mut conn = (factory.make())().unwrap();
    let mut buf = [0u8; 1024];
    let url = emu.channel_url("inactive");
    let channel = ChannelUri::parse(&url).unwrap();
    let note = toast("one shot");
    let request = Request::notification(channel, &note, &Options::default()).unwrap();
    let response = svc::send(&mut conn, &request, &mut buf).unwrap();
    assert_eq!(response.status, 412);
    assert!(matches!(
        classify(&response),
        Outcome::Retry {
            reason: RetryReason::DeviceInactive,
            ..
        }
    ));
    assert!(conn.is_response_initiated());
}

#[tokio::test]
async fn async_svc_rows_and_keep_alive() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    let factory = Factory::default();
    let connects = Arc::clone(&factory.connects);
    let sent = Arc::clone(&factory.sent);
    let make = move || {
        Ok(AsyncTestConn(TestConn::new(
            Arc::clone(&connects),
            Arc::clone(&sent),
        )))
    };
    let sender: Sender<_, 4, 32> = Sender::new(SenderConfig::default(), vec![0u8; 4096]);
    let mut buf = [0u8; 1024];
    let mut gw = Gateway::new(sender, svc::asynch::SvcClient::new(make), &mut buf);
    let mut answers = Vec::new();
    // Rows that end or retry without pausing the host, so one gateway takes them all.
    let rows: Vec<_> = policy_rows()
        .into_iter()
        .filter(|(_, _, e)| {
            !matches!(
                e,
                Expect::Retry(
                    RetryReason::ServiceUnavailable
                        | RetryReason::TooManyRequests
                        | RetryReason::ServerError
                        | RetryReason::Transport
                )
            )
        })
        .collect();
    for (i, (name, behaviour, expect)) in rows.iter().enumerate() {
        let id = format!("a{i}");
        emu.set_behaviour(&id, behaviour.clone());
        let url = emu.channel_url(&id);
        let channel = ChannelUri::parse(&url).unwrap();
        gw.submit(Instant::ZERO, channel, &toast(name), &Options::default())
            .unwrap();
        let round = gw.poll_async(Instant::ZERO).await;
        assert_eq!((round.responses, round.failures), (1, 0), "{name}");
        let events = drain(&mut gw);
        answers.push((name, first_answer(&events)));
        assert_eq!(first_answer(&events), Some(*expect), "{name}: {events:?}");
        for ticket in events.iter().filter_map(|e| match e {
            Event::Retrying { ticket, .. } => Some(*ticket),
            _ => None,
        }) {
            gw.cancel(ticket).unwrap();
        }
        drain(&mut gw);
    }
    assert!(answers.len() >= 12);
    assert_eq!(factory.connects(), 1);
    assert_eq!(emu.stats().connections, 1);
}

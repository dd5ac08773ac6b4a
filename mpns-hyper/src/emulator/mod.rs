//! A local MPNS: it checks requests the way MPNS did and answers per channel
//! behaviour, over HTTP and (with a client-certificate check) HTTPS.
//!
//! The emulator runs on a background thread with its own tokio runtime, so it
//! works the same from synchronous tests, async tests and the CLI.
//!
//! ```no_run
//! use mpns_hyper::emulator::{Behaviour, Emulator, EmulatorConfig};
//!
//! let emulator = Emulator::spawn(EmulatorConfig::default())?;
//! let channel = emulator.channel_url("ABC"); // http://127.0.0.1:PORT/throttledthirdparty/01.00/ABC
//! emulator.set_behaviour("GONE", Behaviour::Expired);
//! // … send notifications to `channel` …
//! for recorded in emulator.accepted() {
//!     println!("{} {:?}", recorded.channel_id, recorded.parsed);
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Listeners and paths
//!
//! - HTTP (`listen`): `POST /throttledthirdparty/01.00/{id}`, and `GET
//!   /inspect[?offset=N&limit=M]` (JSON: `{"stats": {...},
//!   "channels_remembered": N, "records": KEPT, "offset": N, "accepted":
//!   [...]}`: the counters and one page of the records kept, oldest first,
//!   100 by default and at most 1000; `limit=0` for the counters alone).
//! - HTTPS (`tls`, `https_listen`): `POST /unthrottledthirdparty/01.00/{id}` and
//!   `POST /unthrottledthirdparty/01.00/{id}/callback` (callback registration).
//!   The handshake asks for a client certificate from `client_ca_pem`: a
//!   connection without one is served, but every request on it gets `403`; a
//!   certificate from another CA fails the handshake.
//!
//! The channel id is the last path segment; the query string is ignored.
//! Keep-alive (HTTP/1.1) on both listeners.
//!
//! # Left running
//!
//! A connection is closed when a request takes longer than
//! `request_read_timeout` (10 s) from its first byte to arrive whole, or when
//! it waits longer than `idle_timeout` (120 s) for its next request; at most
//! `max_connections` (4096) are open at once, beyond which new ones wait in
//! the listen queue (logged at info). Channels are forgotten once idle (no
//! behaviour, nothing in their quota window), and at most `record_limit`
//! records are kept, so memory stays bounded however long it runs.
//! [`Stats`] counts open, peak and timed-out connections.
//!
//! # Checks
//!
//! In this order; the first failure answers (headers as in `docs/protocol.md`,
//! "Status headers"):
//!
//! | check | status | `X-NotificationStatus` / `X-SubscriptionStatus` / `X-DeviceConnectionStatus` |
//! |---|---|---|
//! | path is not a channel of this listener | 404 | Dropped / N/A / N/A |
//! | method is not `POST` | 405 | Dropped / N/A / N/A |
//! | HTTPS without a client certificate | 403 | Dropped / N/A / N/A |
//! | bad header, size, body, XML or schema | 400 | Dropped / N/A / N/A |
//! | unknown channel id in strict mode | 404 | Dropped / Expired / Connected |
//! | per channel [`Behaviour`] | see there | |
//! | HTTP channel over its quota | 406 | Dropped / Active / Connected |
//! | accepted | 200 | Received / Active / Connected |
//!
//! Every answer with MPNS headers echoes `X-MessageID` (the request's, or the
//! all-zero UUID when it sent none or an invalid one) and has `Content-Length: 0`.
//! Refusals also carry `X-Emulator-Reason`, a short English reason (not an MPNS header).
//!
//! Header checks (400): `Content-Type: text/xml` (parameters allowed);
//! `X-WindowsPhone-Target` `toast`, `token` or absent (raw); `X-NotificationClass`
//! consistent with it (toast 2/12/22, tile 1/11/21, raw 3/13/23 or 4 for VoIP;
//! absent means the immediate class); `X-MessageID` a canonical UUID;
//! `X-CallbackURI` an absolute http(s) URI, on HTTPS only; none of these
//! repeated; `Content-Length` present and no `Transfer-Encoding` (MPNS never
//! took chunked bodies); header lines (`Name: value\r\n` each) at most
//! `header_limit` bytes. Bodies: at most `payload_limit` (toast, tile) or
//! `raw_limit` (raw) bytes; toast and tile bodies must follow the schema of
//! `docs/protocol.md`, "Payloads" ([`schema`]), and match the target header. A callback
//! registration needs HTTPS, a valid `X-CallbackURI`, no target or class
//! header, and a body of at most 1024 bytes; it is recorded and answered
//! 200 Received, and a new one replaces the channel's old one.
//!
//! The daily quota counts notifications answered 200 Received on HTTP per
//! channel, in a rolling window (`quota_window`, 24 h) kept as 1024 buckets:
//! a send leaves the window up to 1/1024 of it late (84 s for 24 h), never early.
//!
//! # Many channels
//!
//! [`Emulator::set_behaviour_prefix`] sets a behaviour for every channel id
//! starting with a prefix (`mpns emulator --behaviour 'inact-*=inactive'`).
//! A behaviour set for the exact id wins over any prefix, and the longest
//! matching prefix wins among prefixes; the empty prefix matches every id.
//! A counted prefix behaviour (`queue-full:N`, `unavailable:N`, `reset:N`)
//! counts down per channel: each matching channel answers it N times, then as
//! active (setting the prefix again restarts every channel's count).
//! `unavailable-for:DUR` by prefix ends DUR after the prefix was set, for all
//! its channels at once. In strict mode a prefix makes its ids known.
//!
//! Memory: a channel is only remembered while it holds something: quota counts
//! still in the window, a behaviour set for its id, a callback URI, or its
//! count of a counted prefix behaviour. A remembered channel costs about 100
//! bytes with a short id (see [`Emulator::channels_remembered`]); idle ones are
//! forgotten in a sweep that runs at most once per quota bucket and once per as
//! many requests as there are channels. Secure channels, and every channel when
//! `daily_quota` is `u32::MAX`, have no quota counts to remember. The record of
//! accepted requests keeps the most recent `record_limit` (0: none);
//! [`Stats`] count them all.

pub mod schema;
mod server;
mod state;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

pub use schema::ReceivedPayload;

use crate::pki::TestPki;

/// The path prefix of unauthenticated (HTTP) channels.
pub const HTTP_PREFIX: &str = "/throttledthirdparty/01.00/";
/// The path prefix of authenticated (HTTPS) channels.
pub const HTTPS_PREFIX: &str = "/unthrottledthirdparty/01.00/";

/// How the emulator listens and what it enforces.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// HTTP listener; default `127.0.0.1:0` (any free port).
    pub listen: SocketAddr,
    /// When set, an HTTPS listener with mutual TLS on `https_listen`.
    pub tls: Option<TlsConfig>,
    /// HTTPS listener; default `127.0.0.1:0`.
    pub https_listen: SocketAddr,
    /// Unknown channel ids answer 404 Expired (default `false`: they are active).
    pub strict: bool,
    /// Largest toast or tile body in bytes (default 3072); over it is 400.
    pub payload_limit: usize,
    /// Largest raw body in bytes (default 1024); over it is 400.
    pub raw_limit: usize,
    /// Largest total of header lines in bytes (default 1024); over it is 400.
    pub header_limit: usize,
    /// Notifications accepted per HTTP channel per `quota_window` (default 500), then 406.
    pub daily_quota: u32,
    /// The quota's rolling window (default 24 h); shorten it to test the window.
    pub quota_window: Duration,
    /// How many accepted notifications [`Emulator::accepted`] and `GET /inspect`
    /// keep, the most recent (default [`EmulatorConfig::DEFAULT_RECORD_LIMIT`];
    /// 0 keeps none); [`Stats::accepted`] still counts them all.
    pub record_limit: usize,
    /// Tokio worker threads (default 0: one per CPU).
    pub worker_threads: usize,
    /// Time a request's head and body may take to arrive, from its first
    /// byte (default 10 s; a TLS handshake has its own 10 s); then the
    /// connection is closed. Bounds what a client that dribbles its request
    /// can hold.
    pub request_read_timeout: Duration,
    /// Time a connection may wait for its next request (default 120 s, longer
    /// than the client's 90 s idle timeout, so that clients close first, as
    /// they should); then it is closed.
    pub idle_timeout: Duration,
    /// Most connections open at once over both listeners (default 4096);
    /// beyond it the emulator stops accepting (new connections wait in the
    /// listen queue) until one closes, and logs that it is full.
    pub max_connections: usize,
}

impl EmulatorConfig {
    /// The default `record_limit`: 10 000 records, a few MB, and an `/inspect` that stays quick.
    pub const DEFAULT_RECORD_LIMIT: usize = 10_000;
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        EmulatorConfig {
            listen: loopback,
            tls: None,
            https_listen: loopback,
            strict: false,
            payload_limit: 3072,
            raw_limit: 1024,
            header_limit: 1024,
            daily_quota: 500,
            quota_window: Duration::from_secs(24 * 60 * 60),
            record_limit: EmulatorConfig::DEFAULT_RECORD_LIMIT,
            worker_threads: 0,
            request_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_connections: 4096,
        }
    }
}

/// The HTTPS listener's identity and the CA its clients' certificates must chain to.
#[derive(Clone)]
pub struct TlsConfig {
    /// Server certificate chain, PEM.
    pub server_cert_pem: String,
    /// Server private key, PEM.
    pub server_key_pem: String,
    /// CA certificates (PEM) trusted for client certificates.
    pub client_ca_pem: String,
}

impl TlsConfig {
    /// The server side of a [`TestPki`]: its server certificate, trusting its CA for clients.
    pub fn from_test_pki(pki: &TestPki) -> TlsConfig {
        TlsConfig {
            server_cert_pem: pki.server_cert_pem.clone(),
            server_key_pem: pki.server_key_pem.clone(),
            client_ca_pem: pki.ca_cert_pem.clone(),
        }
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server_cert_pem", &self.server_cert_pem)
            .field("server_key_pem", &"<redacted>")
            .field("client_ca_pem", &self.client_ca_pem)
            .finish()
    }
}

/// How a channel answers valid requests (set with [`Emulator::set_behaviour`]
/// or [`Emulator::set_behaviour_prefix`]).
///
/// Behaviours apply after the request checks (a malformed request is 400
/// whatever the behaviour). Counted behaviours count down per request and
/// then become [`Behaviour::Active`]. The delivery statuses (`QueueFull`,
/// `Suppressed`, `Dropped`, `Inactive`, `RateLimited`) do not apply to callback
/// registrations, which such channels accept.
///
/// Text form ([`FromStr`], [`Display`](fmt::Display)): `active`, `expired`,
/// `queue-full:N`, `suppressed`, `dropped`, `inactive`, `rate-limited`,
/// `unavailable:N`, `unavailable-for:DUR`, `slow:DUR`, `reset:N`, `status:CODE`,
/// `flaky:RESET,UNAVAILABLE,SLOW,DUR` (rates per thousand requests), with
/// `DUR` like `250ms` or `3s`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// 200 Received / Active / Connected (the HTTP quota applies).
    Active,
    /// 404 Dropped / Expired / Connected.
    Expired,
    /// The next N requests: 200 QueueFull / Active / Connected; then active.
    QueueFull(u32),
    /// 200 Suppressed / Active / Connected.
    Suppressed,
    /// 200 Dropped / Active / Connected.
    Dropped,
    /// 412 Dropped / Active / Inactive.
    Inactive,
    /// 406 Dropped / Active / Connected, always.
    RateLimited,
    /// The next N requests: 503 with no MPNS headers; then active.
    Unavailable(u32),
    /// 503 with no MPNS headers until this long after the behaviour was set; then active.
    UnavailableFor(Duration),
    /// Waits this long, then answers as active.
    Slow(Duration),
    /// The next N requests: the connection closes after the first 20 bytes of
    /// the response (mid-headers); then active.
    ResetMidResponse(u32),
    /// Always this status with no MPNS headers (a code outside 100..=999 answers 500).
    Status(u16),
    /// Faults at random, per request: the connection reset mid-response, a
    /// bare 503, or a slow answer, each with its rate; else active. For soak
    /// tests of a whole fleet (`'*=flaky:10,10,10,2s'`: 1 % of each).
    Flaky(Faults),
}

/// The rates of [`Behaviour::Flaky`], in requests per thousand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Faults {
    /// Reset mid-response.
    pub reset: u16,
    /// 503 with no MPNS headers.
    pub unavailable: u16,
    /// Answered after `delay`.
    pub slow: u16,
    /// The wait of a slow answer.
    pub delay: Duration,
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

impl fmt::Display for Behaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Behaviour::Active => f.write_str("active"),
            Behaviour::Expired => f.write_str("expired"),
            Behaviour::QueueFull(n) => write!(f, "queue-full:{n}"),
            Behaviour::Suppressed => f.write_str("suppressed"),
            Behaviour::Dropped => f.write_str("dropped"),
            Behaviour::Inactive => f.write_str("inactive"),
            Behaviour::RateLimited => f.write_str("rate-limited"),
            Behaviour::Unavailable(n) => write!(f, "unavailable:{n}"),
            Behaviour::UnavailableFor(d) => write!(f, "unavailable-for:{}", fmt_duration(*d)),
            Behaviour::Slow(d) => write!(f, "slow:{}", fmt_duration(*d)),
            Behaviour::ResetMidResponse(n) => write!(f, "reset:{n}"),
            Behaviour::Status(code) => write!(f, "status:{code}"),
            Behaviour::Flaky(x) => write!(
                f,
                "flaky:{},{},{},{}",
                x.reset,
                x.unavailable,
                x.slow,
                fmt_duration(x.delay)
            ),
        }
    }
}

/// A behaviour's text did not parse (see [`Behaviour`] for the forms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BehaviourParseError(String);

impl fmt::Display for BehaviourParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown behaviour {:?}: expected active, expired, queue-full:N, suppressed, dropped, \
             inactive, rate-limited, unavailable:N, unavailable-for:DUR, slow:DUR, reset:N, \
             status:CODE or flaky:RESET,UNAVAILABLE,SLOW,DUR (rates per thousand requests; \
             DUR like 250ms or 3s)",
            self.0
        )
    }
}

impl std::error::Error for BehaviourParseError {}

fn parse_duration(text: &str) -> Option<Duration> {
    if let Some(ms) = text.strip_suffix("ms") {
        ms.parse().ok().map(Duration::from_millis)
    } else if let Some(s) = text.strip_suffix('s') {
        s.parse().ok().map(Duration::from_secs)
    } else {
        None
    }
}

impl FromStr for Behaviour {
    type Err = BehaviourParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = || BehaviourParseError(text.to_owned());
        let (name, arg) = match text.split_once(':') {
            Some((name, arg)) => (name, Some(arg)),
            None => (text, None),
        };
        let count = || arg.and_then(|a| a.parse::<u32>().ok()).ok_or_else(fail);
        let duration = || arg.and_then(parse_duration).ok_or_else(fail);
        let behaviour = match (name.to_ascii_lowercase().as_str(), arg) {
            ("active", None) => Behaviour::Active,
            ("expired", None) => Behaviour::Expired,
            ("queue-full", _) => Behaviour::QueueFull(count()?),
            ("suppressed", None) => Behaviour::Suppressed,
            ("dropped", None) => Behaviour::Dropped,
            ("inactive", None) => Behaviour::Inactive,
            ("rate-limited", None) => Behaviour::RateLimited,
            ("unavailable", _) => Behaviour::Unavailable(count()?),
            ("unavailable-for", _) => Behaviour::UnavailableFor(duration()?),
            ("slow", _) => Behaviour::Slow(duration()?),
            ("reset" | "reset-mid-response", _) => Behaviour::ResetMidResponse(count()?),
            ("status", Some(code)) => Behaviour::Status(code.parse().map_err(|_| fail())?),
            ("flaky", Some(rates)) => {
                let parts: Vec<&str> = rates.split(',').collect();
                let [reset, unavailable, slow, delay] = parts[..] else {
                    return Err(fail());
                };
                let rate = |r: &str| {
                    r.parse::<u16>()
                        .ok()
                        .filter(|r| *r <= 1000)
                        .ok_or_else(fail)
                };
                let faults = Faults {
                    reset: rate(reset)?,
                    unavailable: rate(unavailable)?,
                    slow: rate(slow)?,
                    delay: parse_duration(delay).ok_or_else(fail)?,
                };
                if u32::from(faults.reset) + u32::from(faults.unavailable) + u32::from(faults.slow)
                    > 1000
                {
                    return Err(fail());
                }
                Behaviour::Flaky(faults)
            }
            _ => return Err(fail()),
        };
        Ok(behaviour)
    }
}

/// A request answered 200 Received: a notification, or a callback registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Recorded {
    /// The channel id (last path segment, without the query).
    pub channel_id: String,
    /// Whether it came over HTTPS.
    pub secure: bool,
    /// Toast, tile, raw, or callback registration.
    pub kind: mpns_proto::RequestKind,
    /// `X-NotificationClass` (the immediate class when absent; 0 for a callback registration).
    pub notification_class: u8,
    /// `X-MessageID`, in canonical lower-case form.
    pub message_id: Option<String>,
    /// The body; serialized as a string when it is UTF-8, else as an array of bytes.
    #[serde(serialize_with = "serialize_body")]
    pub body: Vec<u8>,
    /// The typed XML of a toast or tile.
    pub parsed: Option<ReceivedPayload>,
    /// `X-CallbackURI`.
    pub callback_uri: Option<String>,
}

fn serialize_body<S: serde::Serializer>(body: &[u8], s: S) -> Result<S::Ok, S::Error> {
    match std::str::from_utf8(body) {
        Ok(text) => s.serialize_str(text),
        Err(_) => s.collect_seq(body),
    }
}

/// Counters since the emulator started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Requests to channel paths on either listener (`/inspect` excluded).
    pub requests: u64,
    /// Requests answered 200 Received.
    pub accepted: u64,
    /// Requests answered with a 4xx status.
    pub rejected: u64,
    /// Completed TLS handshakes.
    pub tls_handshakes: u64,
    /// Accepted TCP connections, both listeners.
    pub connections: u64,
    /// Connections open now.
    pub open_connections: u64,
    /// The most connections that were open at once.
    pub peak_connections: u64,
    /// Times the emulator reached `max_connections` and stopped accepting.
    pub connection_cap_reached: u64,
    /// Connections closed because a request took longer than
    /// `request_read_timeout` to arrive, or nothing came for `idle_timeout`.
    pub timed_out: u64,
}

/// A running emulator. Dropping it shuts it down.
pub struct Emulator {
    shared: Arc<state::Shared>,
    http_addr: SocketAddr,
    https_addr: Option<SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("http_addr", &self.http_addr)
            .field("https_addr", &self.https_addr)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Binds the listeners and starts serving on a background thread.
    ///
    /// Fails when a listener cannot bind, or when the TLS certificates or key
    /// do not load (`InvalidInput`).
    pub fn spawn(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let tls = config.tls.as_ref().map(server::tls_acceptor).transpose()?;
        let http = std::net::TcpListener::bind(config.listen)?;
        http.set_nonblocking(true)?;
        let http_addr = http.local_addr()?;
        let https = match tls {
            Some(acceptor) => {
                let listener = std::net::TcpListener::bind(config.https_listen)?;
                listener.set_nonblocking(true)?;
                Some((listener, acceptor))
            }
            None => None,
        };
        let https_addr = https.as_ref().map(|(l, _)| l.local_addr()).transpose()?;
        let mut runtime = tokio::runtime::Builder::new_multi_thread();
        if config.worker_threads > 0 {
            runtime.worker_threads(config.worker_threads);
        }
        let runtime = runtime
            .enable_all()
            .thread_name("mpns-emulator-worker")
            .build()?;
        let shared = Arc::new(state::Shared::new(&config));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let serving = Arc::clone(&shared);
        let limits = server::ConnectionLimits {
            request_read_timeout: config.request_read_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections.max(1),
        };
        let thread = std::thread::Builder::new()
            .name("mpns-emulator".into())
            .spawn(move || {
                runtime.block_on(server::run(serving, limits, http, https, stopped));
                runtime.shutdown_timeout(Duration::from_millis(100));
            })?;
        Ok(Emulator {
            shared,
            http_addr,
            https_addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The HTTP listener's address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The HTTPS listener's address, when TLS is configured.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https_addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn http_base(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// `https://127.0.0.1:PORT`, when TLS is configured.
    pub fn https_base(&self) -> Option<String> {
        self.https_addr.map(|a| format!("https://{a}"))
    }

    /// The HTTP channel URI of `id`: `http://127.0.0.1:PORT/throttledthirdparty/01.00/{id}`.
    pub fn channel_url(&self, id: &str) -> String {
        format!("{}{HTTP_PREFIX}{id}", self.http_base())
    }

    /// The HTTPS channel URI of `id`: `https://127.0.0.1:PORT/unthrottledthirdparty/01.00/{id}`.
    pub fn secure_channel_url(&self, id: &str) -> Option<String> {
        self.https_base().map(|b| format!("{b}{HTTPS_PREFIX}{id}"))
    }

    /// Sets how channel `id` answers from now on (it also makes `id` known in strict mode).
    pub fn set_behaviour(&self, id: &str, behaviour: Behaviour) {
        self.shared.set_behaviour(id, behaviour);
    }

    /// Sets how every channel whose id starts with `prefix` answers from now on,
    /// unless its exact id has a behaviour (see [Many channels](self#many-channels)).
    /// The longest matching prefix wins; a counted behaviour counts down per channel.
    pub fn set_behaviour_prefix(&self, prefix: &str, behaviour: Behaviour) {
        self.shared.set_behaviour_prefix(prefix, behaviour);
    }

    /// The behaviours set, by channel id; counted ones show what is left.
    pub fn behaviours(&self) -> Vec<(String, Behaviour)> {
        self.shared.behaviours()
    }

    /// The behaviours set by prefix, as set (per-channel counts are not shown).
    pub fn behaviour_prefixes(&self) -> Vec<(String, Behaviour)> {
        self.shared.behaviour_prefixes()
    }

    /// How many channels the emulator remembers now (idle ones are forgotten
    /// in sweeps, see [Many channels](self#many-channels)).
    pub fn channels_remembered(&self) -> usize {
        self.shared.channels_remembered()
    }

    /// Every request answered 200 Received, oldest first (at most `record_limit`, the most recent).
    pub fn accepted(&self) -> Vec<Recorded> {
        self.shared.accepted()
    }

    /// The callback URI registered per channel id.
    pub fn callbacks(&self) -> Vec<(String, String)> {
        self.shared.callbacks()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Stops the listeners, closes every connection and joins the thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviour_text_round_trips() {
        let all = [
            Behaviour::Active,
            Behaviour::Expired,
            Behaviour::QueueFull(3),
            Behaviour::Suppressed,
            Behaviour::Dropped,
            Behaviour::Inactive,
            Behaviour::RateLimited,
            Behaviour::Unavailable(2),
            Behaviour::UnavailableFor(Duration::from_secs(5)),
            Behaviour::Slow(Duration::from_millis(250)),
            Behaviour::ResetMidResponse(1),
            Behaviour::Status(429),
            Behaviour::Flaky(Faults {
                reset: 10,
                unavailable: 5,
                slow: 1,
                delay: Duration::from_secs(2),
            }),
        ];
        for b in all {
            assert_eq!(b.to_string().parse::<Behaviour>(), Ok(b));
        }
        assert!("queue-full".parse::<Behaviour>().is_err());
        assert!("slow:5".parse::<Behaviour>().is_err());
        assert!("nope".parse::<Behaviour>().is_err());
        // Rates are per thousand, and at most a thousand in all.
        assert!("flaky:10,10,10".parse::<Behaviour>().is_err());
        assert!("flaky:600,600,0,1s".parse::<Behaviour>().is_err());
    }
}

//! `sender`: the [`Sender`] state machine driven by any sequence of submits,
//! cancels, transmits, responses, transport failures, clock moves (forwards
//! and backwards), forgets and snapshot/restore round trips.
//!
//! A model beside it checks on every step:
//!
//! - at most one final event per ticket, only for tickets it handed out, with
//!   the attempts counted, and a result that follows from what happened to
//!   the ticket (its last response, a cancel, a supersede, an expiry, the
//!   reason of its last retry);
//! - never two requests in flight on one channel, and per channel first in
//!   first out;
//! - never a send to a paused channel, host or notification before its time
//!   (after `Retry-After` too), never more than the quota in any window on an
//!   http channel, never more than `max_attempts` sends, never a send after
//!   the deadline;
//! - every transmitted request is byte for byte the one submitted;
//! - `pending` is the number of tickets without a polled final event (never
//!   more than `Q` for the fixed sender); submit refusals are the right ones;
//!   `is_expired` is the model's;
//! - after a drain, `poll_timeout` is in the future (the fixed sender's;
//!   the growable one's may be early), or `None` only when nothing is
//!   pending or something is in flight;
//! - a snapshot restores (postcard round trip, at most [`MAX_ROUND_TRIPS`]
//!   times per input) into a fixed sender that carries on, and restoring
//!   is idempotent;
//!
//! and at the end everything drains to exactly one final event per ticket.
//!
//! The model reads each response with the classify oracle
//! (`super::classify::expected`, written from `docs/protocol.md`), never with
//! the library's `classify`, so a classification bug cannot sit on both sides.
//!
//! The same model drives either sender: [`Sender`] (target `sender`, with
//! its capacity refusals and the snapshot/restore round trip) or
//! [`GrowableSender`] (target `growable_sender`, which refuses nothing for
//! capacity and, once drained, must remember, far enough in the future, only
//! expired channels not forgotten and hosts still counting failures, with
//! `memory_used` exactly their entries; nothing once those channels are
//! forgotten but the failing hosts). One sender per input keeps an input's
//! code, and so libFuzzer's bookkeeping of it, half what running both in
//! lockstep cost (see `benches/README.md`); the lockstep comparison of the
//! two is `mpns-proto/tests/sender_twin.rs`.
//!
//! Input: one byte of configuration, two of seed, then up to [`MAX_STEPS`]
//! operations of a tag byte and a few argument bytes each (see [`Op`]).

use mpns_proto::sender::{Cancellation, Event, Finished, Snapshot, SubmitError, TicketError};
use mpns_proto::sender::{ChannelId, Transmit};
use mpns_proto::{
    ChannelUri, Delivery, Duration, Field, FlipTile, GrowableSender, Instant, Limits, MessageId,
    Notification, Options, Outcome, Raw, Request, RequestKind, Response, RetryPolicy, RetryReason,
    Scope, Sender, SenderConfig, StandardTile, TargetOs, Ticket, Tile, TileTemplate, Toast,
};

use super::Bytes;

/// Notifications pending at once.
pub const Q: usize = 4;
/// Channels known at once (fewer than [`CHANNELS`], so the table fills).
pub const C: usize = 3;
/// The sender under test.
pub type TestSender = Sender<Vec<u8>, Q, C>;
/// The growable sender's memory budget: far more than an input's requests,
/// channels, hosts and events take, so it never refuses for memory.
pub const GROW_BUDGET: usize = 1 << 20;

/// The channels: two share a host, one is another host, one is https.
pub const CHANNELS: [&str; 4] = [
    "http://db3.notify.live.net/throttledthirdparty/01.00/A",
    "http://DB3.notify.live.net:80/throttledthirdparty/01.00/B?x=1&y=2",
    "http://127.0.0.1:47001/C",
    "https://db3.notify.live.net/unthrottledthirdparty/01.00/S",
];
/// Host of each channel (scheme, host case-insensitively, port).
const HOSTS: [usize; 4] = [0, 0, 1, 2];
const CALLBACK: &str = "https://callback.example/mpns?app=1";

/// The configuration and arena chosen by the first byte.
pub fn setup(sel: u8, seed: u64) -> (SenderConfig, usize) {
    let mut config = SenderConfig {
        retry: RetryPolicy::DEFAULT,
        max_attempts: 6,
        deadline: Duration::from_hours(6),
        quota: 3,
        quota_window: Duration::from_hours(1),
        supersede_tiles: sel & 1 == 1,
        seed,
    };
    match (sel >> 1) & 3 {
        0 => {}
        1 => {
            config.max_attempts = 1;
            config.deadline = Duration::from_mins(20);
        }
        2 => {
            config.retry.jitter_percent = 0;
            config.quota = 1;
            config.quota_window = Duration::from_mins(10);
            config.deadline = Duration::from_millis(u64::MAX);
        }
        _ => {
            config.retry = RetryPolicy {
                base: Duration::from_secs(1),
                cap: Duration::from_secs(10),
                channel_pause: Duration::from_secs(30),
                jitter_percent: 100,
            };
            config.max_attempts = 30;
            config.quota = 500;
            config.quota_window = Duration::from_hours(24);
            config.deadline = Duration::from_hours(24);
        }
    }
    let arena = if sel & 8 == 0 { Q * 1024 } else { Q * 160 };
    (config, arena)
}

/// What the model knows of one ticket.
#[derive(Clone, Debug)]
struct Model {
    ticket: Ticket,
    channel: usize,
    /// The HTTP/1.1 bytes of the request as submitted.
    http: Vec<u8>,
    message_id: Option<MessageId>,
    deadline: Instant,
    /// For tiles: the `Id` (superseding).
    tile: Option<Option<String>>,
    transmits: u16,
    in_flight: bool,
    finished: bool,
    cancelled: bool,
    cancel_in_flight: bool,
    answered: Option<Outcome>,
    last_retry: Option<RetryReason>,
    /// Earliest next send after QueueFull (its own wait).
    not_before: Instant,
    /// Earliest time a `Retrying` event may name.
    retry_bound: Instant,
    queue_full: u32,
    mismatch: bool,
    /// The final result is already known (cancelled while queued).
    expect: Option<Finished>,
}

/// What the model drives: the fixed [`Sender`] or the [`GrowableSender`],
/// through their common methods, plus what only one of them has.
pub trait Subject: Sized {
    /// A new sender; the fixed one gets an arena of `arena` bytes.
    fn create(config: SenderConfig, arena: usize) -> Self;
    fn submit(
        &mut self,
        now: Instant,
        uri: ChannelUri<'_>,
        n: &Notification<'_>,
        options: &Options<'_>,
    ) -> Result<Ticket, SubmitError>;
    fn submit_callback_registration(
        &mut self,
        now: Instant,
        uri: ChannelUri<'_>,
        callback: &str,
        body: &[u8],
        limits: &Limits,
    ) -> Result<Ticket, SubmitError>;
    fn poll_transmit(&mut self, now: Instant) -> Option<Transmit<'_>>;
    fn handle_response(&mut self, now: Instant, t: Ticket, r: &Response)
    -> Result<(), TicketError>;
    fn handle_transport_error(&mut self, now: Instant, t: Ticket) -> Result<(), TicketError>;
    fn cancel(&mut self, t: Ticket) -> Result<Cancellation, TicketError>;
    fn forget_channel(&mut self, id: ChannelId);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_event(&mut self) -> Option<Event>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn channel_id(&self, uri: &ChannelUri<'_>) -> ChannelId;
    fn pending(&self) -> usize;
    fn is_expired(&self, uri: &ChannelUri<'_>) -> bool;
    /// Whether it has fixed capacity (`Q` slots of `arena / Q` bytes, `C`
    /// channel and host entries), and so may refuse for it.
    const FIXED: bool;
    /// Whether `poll_timeout` is exact: never at or before now after a
    /// drain. The growable sender's may be early (a timer whose reason is gone).
    const EXACT_TIMEOUT: bool;
    /// Its channel and host entries (the fixed sender's tables).
    fn table_entries(&self) -> (usize, usize);
    /// [`Op::RoundTrip`] (the fixed sender's snapshot/restore round trip).
    fn round_trip(h: &mut Harness<Self>);
    /// Checks once everything drained.
    fn drained(h: &mut Harness<Self>);
}

macro_rules! subject_methods {
    () => {
        fn submit(
            &mut self,
            now: Instant,
            uri: ChannelUri<'_>,
            n: &Notification<'_>,
            options: &Options<'_>,
        ) -> Result<Ticket, SubmitError> {
            self.submit(now, uri, n, options)
        }
        fn submit_callback_registration(
            &mut self,
            now: Instant,
            uri: ChannelUri<'_>,
            callback: &str,
            body: &[u8],
            limits: &Limits,
        ) -> Result<Ticket, SubmitError> {
            self.submit_callback_registration(now, uri, callback, body, limits)
        }
        fn poll_transmit(&mut self, now: Instant) -> Option<Transmit<'_>> {
            self.poll_transmit(now)
        }
        fn handle_response(
            &mut self,
            now: Instant,
            t: Ticket,
            r: &Response,
        ) -> Result<(), TicketError> {
            self.handle_response(now, t, r)
        }
        fn handle_transport_error(&mut self, now: Instant, t: Ticket) -> Result<(), TicketError> {
            self.handle_transport_error(now, t)
        }
        fn cancel(&mut self, t: Ticket) -> Result<Cancellation, TicketError> {
            self.cancel(t)
        }
        fn forget_channel(&mut self, id: ChannelId) {
            self.forget_channel(id)
        }
        fn handle_timeout(&mut self, now: Instant) {
            self.handle_timeout(now)
        }
        fn poll_event(&mut self) -> Option<Event> {
            self.poll_event()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            self.poll_timeout()
        }
        fn channel_id(&self, uri: &ChannelUri<'_>) -> ChannelId {
            self.channel_id(uri)
        }
        fn pending(&self) -> usize {
            self.pending()
        }
        fn is_expired(&self, uri: &ChannelUri<'_>) -> bool {
            self.is_expired(uri)
        }
    };
}

impl Subject for TestSender {
    subject_methods!();
    const FIXED: bool = true;
    const EXACT_TIMEOUT: bool = true;
    fn create(config: SenderConfig, arena: usize) -> Self {
        Sender::new(config, vec![0; arena])
    }
    fn table_entries(&self) -> (usize, usize) {
        Sender::table_entries(self)
    }
    fn round_trip(h: &mut Harness<Self>) {
        h.snapshot_restore();
    }
    fn drained(_: &mut Harness<Self>) {}
}

impl Subject for GrowableSender {
    subject_methods!();
    const FIXED: bool = false;
    const EXACT_TIMEOUT: bool = false;
    fn create(config: SenderConfig, _: usize) -> Self {
        GrowableSender::new(config, GROW_BUDGET)
    }
    fn table_entries(&self) -> (usize, usize) {
        unreachable!("the growable sender has no table to fill")
    }
    /// Its journal round trip is the `replay` target's.
    fn round_trip(_: &mut Harness<Self>) {}
    fn drained(h: &mut Harness<Self>) {
        h.check_memory();
    }
}

/// One operation of an input: a tag byte (its low four bits), then its
/// arguments. The tags that libFuzzer writes most (0x00, 0xFF, 0xFE) are cheap
/// operations; a submit, whose notification both the model and the sender
/// encode, and which every later drain sends and answers, is tag 4 or 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op<'a> {
    /// 0: read the events and check them.
    Events,
    /// 1: forget a channel.
    Forget(u8),
    /// 2: the fixed sender's snapshot/restore round trip (at most
    /// [`MAX_ROUND_TRIPS`] per input).
    RoundTrip,
    /// 3: a response and a transport failure for a ticket not in flight,
    /// then a drain.
    Bogus(u8),
    /// 4 or 5: submit a notification, chosen by `kind`, with the options
    /// `opts`; `extra % 32` bytes of `text` follow.
    Submit {
        channel: u8,
        kind: u8,
        opts: u8,
        extra: u8,
        text: &'a [u8],
    },
    /// 6: submit a callback registration of `len * 5` bytes.
    Callback { channel: u8, len: u8 },
    /// 7: cancel the `which`th ticket handed out.
    Cancel(u8),
    /// 8: transmit one request, if one is due.
    Transmit,
    /// 9: transmit every request due.
    TransmitAll,
    /// 10 or 11: answer the `nth` request in flight.
    Respond {
        nth: u8,
        status: u8,
        n: u8,
        sd: u8,
        ra: u8,
        echo: u8,
    },
    /// 12: the `nth` request in flight fails in transport.
    TransportFailure(u8),
    /// 13: the clock moves on by this many seconds.
    Forward(u16),
    /// 14: the clock moves to the sender's `poll_timeout`.
    ToTimeout,
    /// 15: the caller's clock goes back this many seconds.
    Back(u16),
}

impl<'a> Op<'a> {
    /// Reads one operation (missing bytes read as 0).
    pub fn read(b: &mut Bytes<'a>) -> Self {
        match b.u8() % 16 {
            0 => Op::Events,
            1 => Op::Forget(b.u8()),
            2 => Op::RoundTrip,
            3 => Op::Bogus(b.u8()),
            4 | 5 => {
                let (channel, kind, opts, extra) = (b.u8(), b.u8(), b.u8(), b.u8());
                let text = b.take(usize::from(extra % 32));
                Op::Submit {
                    channel,
                    kind,
                    opts,
                    extra,
                    text,
                }
            }
            6 => Op::Callback {
                channel: b.u8(),
                len: b.u8(),
            },
            7 => Op::Cancel(b.u8()),
            8 => Op::Transmit,
            9 => Op::TransmitAll,
            10 | 11 => Op::Respond {
                nth: b.u8(),
                status: b.u8(),
                n: b.u8(),
                sd: b.u8(),
                ra: b.u8(),
                echo: b.u8(),
            },
            12 => Op::TransportFailure(b.u8()),
            13 => Op::Forward(b.u16()),
            14 => Op::ToTimeout,
            _ => Op::Back(b.u16()),
        }
    }

    /// Its bytes, which [`Op::read`] reads back as it (the seeds are written
    /// with it). A submit's `text` must be `extra % 32` bytes long.
    pub fn write(&self, out: &mut Vec<u8>) {
        match *self {
            Op::Events => out.push(0),
            Op::Forget(c) => out.extend([1, c]),
            Op::RoundTrip => out.push(2),
            Op::Bogus(w) => out.extend([3, w]),
            Op::Submit {
                channel,
                kind,
                opts,
                extra,
                text,
            } => {
                assert_eq!(text.len(), usize::from(extra % 32), "submit text length");
                out.extend([4, channel, kind, opts, extra]);
                out.extend_from_slice(text);
            }
            Op::Callback { channel, len } => out.extend([6, channel, len]),
            Op::Cancel(w) => out.extend([7, w]),
            Op::Transmit => out.push(8),
            Op::TransmitAll => out.push(9),
            Op::Respond {
                nth,
                status,
                n,
                sd,
                ra,
                echo,
            } => out.extend([10, nth, status, n, sd, ra, echo]),
            Op::TransportFailure(nth) => out.extend([12, nth]),
            Op::Forward(s) => {
                out.push(13);
                out.extend(s.to_le_bytes());
            }
            Op::ToTimeout => out.push(14),
            Op::Back(s) => {
                out.push(15);
                out.extend(s.to_le_bytes());
            }
        }
    }
}

/// The sender under test and the model.
pub struct Harness<S> {
    sender: S,
    config: SenderConfig,
    arena: usize,
    now: Instant,
    /// Every ticket handed out, in the order handed out (tickets grow).
    tickets: Vec<Model>,
    /// The sender's id of each of [`CHANNELS`].
    ids: [ChannelId; 4],
    /// The bytes of the last transmit (one buffer for every transmit).
    wire: Vec<u8>,
    channel_not_before: [Instant; 4],
    host_not_before: [Instant; 3],
    expired: [bool; 4],
    expiry_reported: [bool; 4],
    ever_expired: [bool; 4],
    /// Channels whose `is_expired` the next step's check compares: those an
    /// operation touched (before and after a forget; all after a restore and
    /// at the end). Hashing all four URIs on every step was a sixth of the
    /// target's time; an expiry lost by a timer or another channel's submit
    /// shows at the next of these.
    recheck: [bool; 4],
    sends: [Vec<Instant>; 4],
    /// The host's last answer was a host-wide retry (it counts failures).
    host_failing: [bool; 3],
    /// Snapshot/restore round trips done (at most [`MAX_ROUND_TRIPS`]).
    round_trips: usize,
}

/// Channel `i`, parsed once: the harness asks for them on every step, and
/// parsing them each time was a third of the target's time.
fn channel(i: usize) -> ChannelUri<'static> {
    static PARSED: std::sync::OnceLock<[ChannelUri<'static>; 4]> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| CHANNELS.map(|c| ChannelUri::parse(c).expect("fixed channel")))[i]
}

/// The header fields of a response with these values (empty: not sent),
/// and how many there are. Borrowed, not allocated: a respond allocated 14
/// times, two thirds of an input's allocations, each dear under the
/// sanitizer.
fn fields(values: [&[u8]; 5]) -> ([(&'static str, &[u8]); 5], usize) {
    const NAMES: [&str; 5] = [
        "X-NotificationStatus",
        "X-SubscriptionStatus",
        "X-DeviceConnectionStatus",
        "Retry-After",
        "X-MessageID",
    ];
    let mut out: [(&str, &[u8]); 5] = [("", b""); 5];
    let mut n = 0;
    for (name, value) in NAMES.into_iter().zip(values) {
        if !value.is_empty() {
            out[n] = (name, value);
            n += 1;
        }
    }
    (out, n)
}

/// `200 Received`, `Active`, `Connected`: the answer `finish` gives
/// everything, with the classify oracle's reading of it; built once (every
/// allocation costs under the sanitizer).
fn received() -> &'static (Response, Outcome) {
    static R: std::sync::OnceLock<(Response, Outcome)> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        let (fields, n) = fields([b"Received", b"Active", b"Connected", b"", b""]);
        (
            response(200, &fields[..n]),
            super::classify::expected(200, &fields[..n]).0,
        )
    })
}

/// `200 Received` with only the notification status: the probe that asks a
/// sender about a ticket not in flight (it must be refused, changing nothing).
fn probe() -> &'static Response {
    static R: std::sync::OnceLock<Response> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        let (fields, n) = fields([b"Received", b"", b"", b"", b""]);
        response(200, &fields[..n])
    })
}

/// A response with these fields, as a structured client hands it over.
fn response(status: u16, fields: &[(&str, &[u8])]) -> Response {
    Response::from_parts(status, |name| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    })
}

const STATUSES: [u16; 16] = [
    200, 200, 200, 200, 400, 401, 403, 404, 405, 406, 412, 429, 500, 503, 302, 0,
];
const NOTIFICATION: [&str; 7] = [
    "Received",
    "QueueFull",
    "Suppressed",
    "Dropped",
    "",
    "N/A",
    "Bogus",
];
const SUBSCRIPTION: [&str; 3] = ["Active", "", "Expired"];
const DEVICE: [&str; 4] = ["Connected", "", "Inactive", "Temp Disconnected"];
const RETRY_AFTER: [&str; 6] = ["", "", "30", "7200", "4294967295", " 0 "];

impl<S: Subject> Harness<S> {
    /// A new sender with the configuration byte `sel`.
    pub fn new(sel: u8, seed: u64) -> Self {
        let (config, arena) = setup(sel, seed);
        let sender = S::create(config, arena);
        let ids = [0, 1, 2, 3].map(|c| sender.channel_id(&channel(c)));
        Harness {
            sender,
            config,
            arena,
            now: Instant::ZERO,
            tickets: Vec::new(),
            ids,
            wire: Vec::new(),
            channel_not_before: [Instant::ZERO; 4],
            host_not_before: [Instant::ZERO; 3],
            expired: [false; 4],
            expiry_reported: [false; 4],
            ever_expired: [false; 4],
            recheck: [false; 4],
            sends: Default::default(),
            host_failing: [false; 3],
            round_trips: 0,
        }
    }

    fn model(&mut self, ticket: Ticket) -> &mut Model {
        match self.tickets.binary_search_by_key(&ticket, |t| t.ticket) {
            Ok(i) => &mut self.tickets[i],
            Err(_) => panic!("{ticket:?} was never handed out"),
        }
    }

    /// Shortest delay the policy may give for `failures` consecutive failures.
    fn min_exponential(&self, failures: u32) -> Duration {
        let p = self.config.retry;
        let d = p
            .base
            .as_millis()
            .saturating_mul(1u64 << failures.saturating_sub(1).min(63))
            .min(p.cap.as_millis());
        let keep = 100u64.saturating_sub(u64::from(p.jitter_percent));
        Duration::from_millis((u128::from(d) * u128::from(keep) / 100).saturating_sub(1) as u64)
    }

    fn check_counts(&mut self) {
        let open = self.tickets.iter().filter(|t| !t.finished).count();
        assert_eq!(self.sender.pending(), open, "pending");
        assert!(!S::FIXED || open <= Q, "{open} pending in {Q} slots");
        for c in 0..4 {
            if !std::mem::take(&mut self.recheck[c]) {
                continue;
            }
            assert_eq!(
                self.sender.is_expired(&channel(c)),
                self.expired[c],
                "is_expired of channel {c}"
            );
        }
    }

    fn handle_response(&mut self, ticket: Ticket, r: &Response) -> Result<(), TicketError> {
        self.sender.handle_response(self.now, ticket, r)
    }

    /// One operation from the input.
    pub fn step(&mut self, b: &mut Bytes<'_>) {
        let op = Op::read(b);
        super::trace(|| format!("t={} {op:?}", self.now));
        match op {
            Op::Submit {
                channel,
                kind,
                opts,
                extra,
                text,
            } => self.submit(usize::from(channel % 4), kind, opts, extra, text),
            Op::Callback { channel, len } => {
                self.submit_callback(usize::from(channel % 4), usize::from(len) * 5);
            }
            Op::Cancel(which) => self.cancel(which),
            Op::Transmit => {
                self.transmit();
            }
            Op::TransmitAll => while self.transmit().is_some() {},
            Op::Respond {
                nth,
                status,
                n,
                sd,
                ra,
                echo,
            } => self.respond(nth, status, n, sd, ra, echo),
            Op::TransportFailure(nth) => self.transport_failure(nth),
            Op::Forward(secs) => {
                self.now = self.now + Duration::from_secs(u64::from(secs));
                self.sender.handle_timeout(self.now);
            }
            Op::ToTimeout => {
                if let Some(at) = self.sender.poll_timeout() {
                    self.now = self.now.max(at);
                    self.sender.handle_timeout(self.now);
                }
            }
            Op::Back(secs) => {
                // The caller's clock went backwards: the sender keeps its own.
                let back = Duration::from_secs(u64::from(secs));
                let earlier =
                    Instant::from_millis(self.now.as_millis().saturating_sub(back.as_millis()));
                self.sender.handle_timeout(earlier);
                self.transmit_at(earlier);
            }
            Op::Events => self.events(),
            Op::Forget(channel) => {
                let ch = usize::from(channel % 4);
                // Compared before forgetting too: a sender that lost an
                // expiry would otherwise agree with the model from here on.
                self.recheck[ch] = true;
                self.check_counts();
                self.sender.forget_channel(self.ids[ch]);
                self.recheck[ch] = true;
                if self.expired[ch] && self.expiry_reported[ch] {
                    // Forgotten: the entry is idle again, its pause dropped.
                    self.expired[ch] = false;
                    self.channel_not_before[ch] = Instant::ZERO;
                }
            }
            Op::RoundTrip if self.round_trips < MAX_ROUND_TRIPS => {
                self.round_trips += 1;
                S::round_trip(self);
                self.recheck = [true; 4];
            }
            Op::RoundTrip => {}
            Op::Bogus(which) => {
                self.bogus(which);
                self.drain_and_check_timeout();
            }
        }
        self.check_counts();
    }

    fn submit(&mut self, ch: usize, kind: u8, opts: u8, extra: u8, text: &[u8]) {
        let big = if kind % 10 == 8 {
            "a".repeat(usize::from(extra) * 8)
        } else {
            String::new()
        };
        let text = core::str::from_utf8(text).unwrap_or("?");
        let id = if extra & 1 == 0 {
            "/S.xaml"
        } else {
            "/T.xaml?x=1&y=2"
        };
        let n = match kind % 10 {
            0 => Notification::Toast(Toast {
                text1: Some("Bold Text"),
                text2: Some("Normal text"),
                param: Some("/Page2.xaml?NavigatedFrom=Toast"),
                sound: None,
            }),
            1 => Notification::Toast(Toast {
                text1: Some("x"),
                ..Toast::default()
            }),
            2 => Notification::Tile(Tile {
                id: None,
                template: TileTemplate::Standard(StandardTile {
                    count: Field::Set(extra % 100),
                    title: Field::Set("Zero"),
                    ..StandardTile::default()
                }),
            }),
            3 => Notification::Tile(Tile {
                id: Some(id),
                template: TileTemplate::Standard(StandardTile {
                    title: Field::Set("Keep"),
                    count: Field::Clear,
                    back_content: Field::Clear,
                    ..StandardTile::default()
                }),
            }),
            4 => Notification::Tile(Tile {
                id: Some(id),
                template: TileTemplate::Flip(FlipTile {
                    small_background_image: Field::Set("/s.png"),
                    wide_back_content: Field::Set("wide back"),
                    count: Field::Set(12),
                    title: Field::Set("Flip"),
                    ..FlipTile::default()
                }),
            }),
            5 => Notification::Raw(Raw {
                body: b"<root><v>1</v></root>",
                voip: false,
            }),
            6 => Notification::Raw(Raw {
                body: b"<IncomingCall/>",
                voip: true,
            }),
            7 => Notification::Toast(Toast::default()),
            8 => Notification::Toast(Toast {
                text1: Some(&big),
                ..Toast::default()
            }),
            _ => Notification::Toast(Toast {
                text1: Some(text),
                text2: Some(text),
                ..Toast::default()
            }),
        };
        let options = Options {
            delivery: match (opts >> 1) & 3 {
                1 => Delivery::Within450s,
                2 => Delivery::Within900s,
                _ => Delivery::Immediate,
            },
            message_id: (opts & 1 == 1).then_some(MessageId([extra; 16])),
            callback_uri: (opts & 8 == 8).then_some(CALLBACK),
            target_os: if opts & 16 == 16 {
                TargetOs::Wp70
            } else {
                TargetOs::Wp80Gdr3
            },
            limits: Limits::DEFAULT,
        };
        let uri = channel(ch);
        let request = Request::notification(uri, &n, &options);
        let tile = match n {
            Notification::Tile(t) => Some(t.id.map(str::to_string)),
            _ => None,
        };
        let result = self.sender.submit(self.now, uri, &n, &options);
        super::trace(|| format!("  submit ch{ch} {:?} -> {result:?}", RequestKind::of(&n)));
        self.submitted(ch, result, request, tile, options.message_id);
    }

    fn submit_callback(&mut self, ch: usize, len: usize) {
        let body = vec![b'b'; len];
        let uri = channel(ch);
        let limits = Limits::DEFAULT;
        let request = Request::callback_registration(uri, CALLBACK, &body, &limits);
        let result =
            (self.sender).submit_callback_registration(self.now, uri, CALLBACK, &body, &limits);
        self.submitted(ch, result, request, None, None);
    }

    fn submitted(
        &mut self,
        ch: usize,
        result: Result<Ticket, SubmitError>,
        request: Result<Request<'_>, mpns_proto::EncodeError>,
        tile: Option<Option<String>>,
        message_id: Option<MessageId>,
    ) {
        let slot = self.arena / Q;
        self.recheck[ch] = true;
        match (result, request) {
            (Err(SubmitError::Encode(e)), Err(want)) => assert_eq!(e, want),
            (Err(SubmitError::Encode(e)), Ok(_)) => panic!("submit refused {e:?}, Request took it"),
            (Ok(_) | Err(_), Err(e)) => panic!("Request refused {e:?}, submit did not"),
            (Err(SubmitError::TooLarge { needed, slot: s }), Ok(r)) => {
                assert!(S::FIXED, "TooLarge from a sender without slots");
                assert_eq!(s, slot);
                let cb = r.callback_uri().map_or(0, str::len);
                assert_eq!(needed, CHANNELS[ch].len() + cb + r.body_len());
                assert!(needed > slot);
            }
            (Err(SubmitError::QueueFull), Ok(_)) => {
                assert!(S::FIXED, "QueueFull from a sender without slots");
                assert_eq!(self.sender.pending(), Q);
            }
            (Err(SubmitError::ChannelExpired(id)), Ok(_)) => {
                assert!(self.expired[ch], "channel {ch} refused as expired");
                assert_eq!(id, self.ids[ch]);
            }
            (Err(SubmitError::ChannelTableFull), Ok(_)) => {
                assert!(S::FIXED, "ChannelTableFull from a sender without a table");
                // A full table is full, and the channel has no entry (none of
                // its notifications is pending).
                let (channels, hosts) = self.sender.table_entries();
                assert!(
                    channels == C || hosts == C,
                    "ChannelTableFull with {channels} channel and {hosts} host entries"
                );
                assert!(
                    self.sender.pending() < Q,
                    "ChannelTableFull before QueueFull"
                );
                assert!(
                    !self.tickets.iter().any(|t| t.channel == ch && !t.finished),
                    "ChannelTableFull for channel {ch}, which has notifications"
                );
            }
            (Ok(ticket), Ok(r)) => {
                assert!(!self.expired[ch], "submit to expired channel {ch} taken");
                // C other channels with notifications hold every entry.
                let busy = (self.tickets.iter())
                    .filter(|t| !t.finished && t.channel != ch)
                    .fold(0u8, |set, t| set | 1 << t.channel);
                assert!(
                    !S::FIXED || (busy.count_ones() as usize) < C,
                    "took a channel while channels {busy:#06b} hold the table"
                );
                assert!(
                    self.tickets.last().is_none_or(|t| t.ticket < ticket),
                    "ticket {ticket:?} not new"
                );
                let mut http = vec![0; r.http_len()];
                r.write_http(&mut http).expect("exact buffer");
                self.tickets.push(Model {
                    ticket,
                    channel: ch,
                    http,
                    message_id,
                    deadline: self.now + self.config.deadline,
                    tile,
                    transmits: 0,
                    in_flight: false,
                    finished: false,
                    cancelled: false,
                    cancel_in_flight: false,
                    answered: None,
                    last_retry: None,
                    not_before: Instant::ZERO,
                    retry_bound: Instant::ZERO,
                    queue_full: 0,
                    mismatch: false,
                    expect: None,
                });
            }
        }
    }

    fn cancel(&mut self, which: u8) {
        let Some(ticket) = self.tickets.get(usize::from(which)).map(|t| t.ticket) else {
            let bogus = Ticket(u64::MAX - u64::from(which));
            assert_eq!(self.sender.cancel(bogus), Err(TicketError::Unknown(bogus)));
            return;
        };
        let result = self.sender.cancel(ticket);
        let m = self.model(ticket);
        match result {
            Err(TicketError::Unknown(_)) => assert!(m.finished, "cancel: unknown live ticket"),
            Err(TicketError::AlreadyFinished(_)) => assert!(!m.finished && !m.in_flight),
            Err(TicketError::NotInFlight(_)) => panic!("cancel answered NotInFlight"),
            Ok(Cancellation::AfterResponse) => {
                assert!(m.in_flight, "AfterResponse for a ticket not in flight");
                m.cancelled = true;
                m.cancel_in_flight = true;
            }
            Ok(Cancellation::Done) => {
                assert!(!m.in_flight && !m.finished);
                m.cancelled = true;
                m.expect = Some(Finished::Cancelled);
            }
        }
    }

    fn transmit(&mut self) -> Option<Ticket> {
        self.transmit_at(self.now)
    }

    fn transmit_at(&mut self, at: Instant) -> Option<Ticket> {
        let now = self.now;
        let mut http = core::mem::take(&mut self.wire);
        let sent = self
            .sender
            .poll_transmit(at)
            .as_ref()
            .map(|tx| wire(tx, &mut http));
        let Some((ticket, id, attempt, ch)) = sent else {
            self.wire = http;
            return None;
        };
        super::trace(|| format!("  transmit {ticket:?} attempt {attempt}"));
        assert_eq!(id, self.ids[ch]);
        let max_attempts = self.config.max_attempts;
        let (quota, window) = (self.config.quota, self.config.quota_window);
        assert!(
            !self.tickets.iter().any(|t| t.in_flight && t.channel == ch),
            "two requests in flight on channel {ch}"
        );
        // First in, first out: every older ticket on the channel has ended
        // (asking about it is non-mutating: it is not in flight).
        for i in 0..self.tickets.len() {
            let t = &self.tickets[i];
            if t.ticket >= ticket {
                break;
            }
            if !t.finished && t.channel == ch {
                let t = t.ticket;
                assert_eq!(
                    self.handle_response(t, probe()),
                    Err(TicketError::AlreadyFinished(t)),
                    "{ticket:?} sent before the older {t:?} on channel {ch}"
                );
            }
        }
        assert!(!self.expired[ch], "sent to an expired channel");
        assert!(now >= self.channel_not_before[ch], "channel {ch} paused");
        assert!(now >= self.host_not_before[HOSTS[ch]], "host paused");
        let m = self.model(ticket);
        assert!(!m.finished && !m.in_flight);
        assert!(now >= m.not_before, "sent while waiting after QueueFull");
        assert!(now < m.deadline, "sent after the deadline");
        assert_eq!(attempt, m.transmits + 1, "attempt number");
        assert!(attempt <= max_attempts, "more than max_attempts sends");
        assert!(http == m.http, "the request sent is not the one submitted");
        m.transmits = attempt;
        m.in_flight = true;
        self.wire = http;
        if ch != 3 {
            let sends = &mut self.sends[ch];
            sends.push(now);
            let recent = sends.iter().filter(|s| (now - **s) < window).count();
            assert!(
                recent <= quota as usize,
                "{recent} sends within {window} on http channel {ch}"
            );
        }
        Some(ticket)
    }

    fn nth_in_flight(&self, nth: u8) -> Option<Ticket> {
        let in_flight = || self.tickets.iter().filter(|t| t.in_flight);
        let n = in_flight().count();
        (n > 0).then(|| {
            in_flight()
                .nth(usize::from(nth) % n)
                .expect("n of them")
                .ticket
        })
    }

    fn respond(&mut self, nth: u8, status: u8, n: u8, sd: u8, ra: u8, echo: u8) {
        let Some(ticket) = self.nth_in_flight(nth) else {
            return;
        };
        let sent = self.model(ticket).message_id;
        let (sent_text, other_text) = (
            sent.unwrap_or(MessageId::NIL).to_text(),
            MessageId([0xEE; 16]).to_text(),
        );
        let id: &[u8] = match echo % 4 {
            0 => b"",
            1 => &sent_text,
            2 => &other_text,
            _ => b"not-a-uuid",
        };
        let status = STATUSES[usize::from(status % 16)];
        let (fields, count) = fields([
            NOTIFICATION[usize::from(n % 7)].as_bytes(),
            SUBSCRIPTION[usize::from(sd % 3)].as_bytes(),
            DEVICE[usize::from((sd >> 2) % 4)].as_bytes(),
            RETRY_AFTER[usize::from(ra % 6)].as_bytes(),
            id,
        ]);
        let fields = &fields[..count];
        let r = response(status, fields);
        self.handle_response(ticket, &r)
            .expect("response to a request in flight");
        // The model's reading of the answer: the classify oracle's, written
        // from docs/protocol.md, not the library's `classify`.
        let (outcome, echoed) = super::classify::expected(status, fields);
        let mismatch = echoed.is_some_and(|e| e != sent.unwrap_or(MessageId::NIL));
        self.model(ticket).mismatch |= mismatch;
        super::trace(|| format!("  respond {ticket:?} {r:?} -> {outcome:?}"));
        self.answered(ticket, outcome);
    }

    fn transport_failure(&mut self, nth: u8) {
        let Some(ticket) = self.nth_in_flight(nth) else {
            return;
        };
        (self.sender)
            .handle_transport_error(self.now, ticket)
            .expect("failure of a request in flight");
        self.answered(ticket, Outcome::transport_failure());
    }

    fn answered(&mut self, ticket: Ticket, outcome: Outcome) {
        let now = self.now;
        let pause = self.config.retry.channel_pause;
        let first = self.min_exponential(1);
        let m = self.model(ticket);
        let ch = m.channel;
        m.in_flight = false;
        m.answered = Some(outcome);
        self.recheck[ch] = true;
        match outcome {
            Outcome::Retry {
                scope: Scope::Host, ..
            } => self.host_failing[HOSTS[ch]] = true,
            Outcome::Retry { .. } => {}
            _ => self.host_failing[HOSTS[ch]] = false,
        }
        let m = self.model(ticket);
        match outcome {
            Outcome::Retry {
                reason,
                scope,
                retry_after_s,
                ..
            } => {
                m.last_retry = Some(reason);
                let asked = Duration::from_secs(retry_after_s.map_or(0, u64::from));
                match scope {
                    Scope::Message => {
                        m.queue_full += 1;
                        let n = m.queue_full;
                        let d = self.min_exponential(n).max(asked);
                        let m = self.model(ticket);
                        m.not_before = now + d;
                        m.retry_bound = now + d;
                    }
                    Scope::Channel => {
                        let at = now + pause.max(asked);
                        self.channel_not_before[ch] = self.channel_not_before[ch].max(at);
                        self.model(ticket).retry_bound = at;
                    }
                    Scope::Host => {
                        let at = now + first.max(asked);
                        let h = HOSTS[ch];
                        self.host_not_before[h] = self.host_not_before[h].max(at);
                        self.model(ticket).retry_bound = at;
                    }
                }
            }
            Outcome::Expired => {
                self.expired[ch] = true;
                self.expiry_reported[ch] = false;
                self.ever_expired[ch] = true;
            }
            _ => {}
        }
    }

    /// Handling a ticket that is not in flight is refused and changes nothing.
    fn bogus(&mut self, which: u8) {
        let ticket = match self.tickets.get(usize::from(which)) {
            Some(t) if !t.in_flight => t.ticket,
            Some(_) => return,
            None => Ticket(u64::MAX - u64::from(which)),
        };
        let before = self.sender.pending();
        let e = self
            .handle_response(ticket, probe())
            .expect_err("response to a ticket not in flight");
        let e2 = self
            .sender
            .handle_transport_error(self.now, ticket)
            .expect_err("failure of a ticket not in flight");
        assert_eq!(e, e2);
        match self.tickets.iter().find(|t| t.ticket == ticket) {
            None => assert_eq!(e, TicketError::Unknown(ticket)),
            Some(t) if t.finished => assert_eq!(e, TicketError::Unknown(ticket)),
            Some(_) => assert!(matches!(
                e,
                TicketError::NotInFlight(_) | TicketError::AlreadyFinished(_)
            )),
        }
        assert_eq!(self.sender.pending(), before);
    }

    /// Polls every event and checks it against the model.
    pub fn events(&mut self) {
        while let Some(event) = self.sender.poll_event() {
            super::trace(|| format!("  event {event:?}"));
            match event {
                Event::Finished {
                    ticket,
                    result,
                    attempts,
                } => {
                    let supersede = self.config.supersede_tiles;
                    // The superseding ticket, looked up before `m` borrows the model.
                    let by = match result {
                        Finished::Superseded { by } => self
                            .tickets
                            .iter()
                            .position(|t| t.ticket == by)
                            .map(|i| (by, i)),
                        _ => None,
                    };
                    let ever_expired = self.ever_expired;
                    let m = self.model(ticket);
                    assert!(!m.finished, "two final events for {ticket:?}");
                    assert!(!m.in_flight, "final event while in flight");
                    assert!(!m.mismatch, "final event before the MessageIdMismatch");
                    assert_eq!(attempts, m.transmits, "attempts of {ticket:?}");
                    if let Some(want) = m.expect {
                        assert_eq!(result, want);
                    }
                    let answered = m.answered;
                    match result {
                        Finished::Accepted { device } => {
                            assert_eq!(answered, Some(Outcome::Accepted { device }));
                        }
                        Finished::Suppressed => assert_eq!(answered, Some(Outcome::Suppressed)),
                        Finished::Dropped => assert_eq!(answered, Some(Outcome::Dropped)),
                        Finished::Rejected { reason, status } => {
                            assert_eq!(answered, Some(Outcome::Rejected { reason, status }));
                        }
                        Finished::Anomaly { reason, status } => {
                            assert_eq!(answered, Some(Outcome::Anomaly { reason, status }));
                        }
                        Finished::ChannelExpired => assert!(ever_expired[m.channel]),
                        Finished::Superseded { .. } => {
                            assert!(supersede, "superseded with supersede_tiles off");
                            let (by, i) = by.expect("superseded by an unknown ticket");
                            assert!(by > ticket);
                            let (channel, tile) = (m.channel, m.tile.clone());
                            let by = &self.tickets[i];
                            assert_eq!(by.channel, channel);
                            assert!(tile.is_some() && by.tile == tile);
                            let m = self.model(ticket);
                            m.finished = true;
                            continue;
                        }
                        Finished::Cancelled => assert!(m.cancelled),
                        Finished::GaveUp { last } => assert_eq!(last, m.last_retry),
                    }
                    m.finished = true;
                }
                Event::ChannelExpired { channel: id } => {
                    let ch = (0..4)
                        .find(|&c| self.ids[c] == id)
                        .expect("expiry of an unknown channel");
                    assert!(self.expired[ch], "expiry event for a live channel");
                    self.expiry_reported[ch] = true;
                }
                Event::Retrying { ticket, reason, at } => {
                    let m = self.model(ticket);
                    assert!(!m.finished);
                    assert_eq!(m.last_retry, Some(reason));
                    assert!(
                        at >= m.retry_bound,
                        "retry at {at} before {}",
                        m.retry_bound
                    );
                    assert!(at <= m.deadline, "retry announced after the deadline");
                }
                Event::Deferred { ticket, .. } => {
                    let m = self.model(ticket);
                    assert!(!m.finished);
                    assert_ne!(m.channel, 3, "https channels have no quota");
                }
                Event::MessageIdMismatch { ticket } => {
                    let m = self.model(ticket);
                    assert!(m.mismatch, "mismatch event without a mismatched echo");
                    m.mismatch = false;
                }
                Event::InDoubt { ticket, .. } => {
                    panic!("{ticket:?} in doubt, but nothing was replayed")
                }
            }
        }
        assert!(self.tickets.iter().all(|t| !t.mismatch || t.finished));
    }

    /// Transmits everything due and polls every event; then `poll_timeout`
    /// is in the future, or `None` only when nothing waits.
    fn drain_and_check_timeout(&mut self) {
        while self.transmit().is_some() {}
        self.events();
        let in_flight = self.tickets.iter().any(|t| t.in_flight);
        match self.sender.poll_timeout() {
            Some(at) => assert!(
                at > self.now || !S::EXACT_TIMEOUT,
                "poll_timeout {at} not after now {}",
                self.now
            ),
            None => assert!(
                self.sender.pending() == 0 || in_flight,
                "pending notifications, nothing in flight, no timeout"
            ),
        }
    }

    /// Answers everything with `200 Received` and lets time pass until no
    /// notification is pending; every ticket must end in one final event.
    pub fn finish(&mut self) {
        for _ in 0..2000 {
            for i in 0..self.tickets.len() {
                if self.tickets[i].in_flight {
                    self.accept(self.tickets[i].ticket);
                }
            }
            while let Some(ticket) = self.transmit() {
                self.accept(ticket);
            }
            self.events();
            self.check_counts();
            if self.sender.pending() == 0 {
                break;
            }
            let at = (self.sender.poll_timeout())
                .expect("pending notifications, nothing in flight, no timeout");
            assert!(
                at > self.now || !S::EXACT_TIMEOUT,
                "poll_timeout {at} not after now {}",
                self.now
            );
            self.now = self.now.max(at);
            self.sender.handle_timeout(self.now);
        }
        assert_eq!(self.sender.pending(), 0, "livelock");
        assert!(
            self.tickets.iter().all(|t| t.finished),
            "a ticket without a final event"
        );
        self.recheck = [true; 4];
        self.check_counts();
        S::drained(self);
    }

    fn accept(&mut self, ticket: Ticket) {
        let (r, outcome) = received();
        self.handle_response(ticket, r).expect("in flight");
        self.answered(ticket, *outcome);
    }
}

impl Harness<TestSender> {
    /// Saves the sender through postcard and carries on with the restored
    /// one. Snapshots are compared as values: serializing each of them cost
    /// a third of the round trip.
    fn snapshot_restore(&mut self) {
        // With room from the start: growing costs allocations, which the
        // sanitizer makes dear.
        let room = Vec::with_capacity(self.arena + 2048);
        let saved = self.sender.snapshot();
        let bytes = postcard::to_extend(&saved, room).expect("postcard");
        let decoded: Snapshot<'_, Q, C> = postcard::from_bytes(&bytes).expect("own snapshot");
        assert_eq!(decoded, saved, "postcard round trip");
        drop(saved);
        let restored = TestSender::restore(decoded, vec![0; self.arena]).expect("own snapshot");
        assert_eq!(restored.pending(), self.sender.pending());
        // In-flight requests are sent again.
        for t in &mut self.tickets {
            t.in_flight = false;
        }
        // Restoring is idempotent. When the restored sender's snapshot is the
        // one it came from (nothing was in flight), that holds already:
        // restoring it again is restoring `saved` again, into the same arena.
        let again = restored.snapshot();
        if again != self.sender.snapshot() {
            let twice = TestSender::restore(again.clone(), vec![0; self.arena]);
            assert!(
                twice.expect("own snapshot").snapshot() == again,
                "restore is not idempotent"
            );
        }
        drop(again);
        self.sender = restored;
    }
}

impl Harness<GrowableSender> {
    /// The drained growable sender, once every pause and quota window is
    /// over, remembers only the expired channels (until forgotten), their
    /// hosts and the hosts still failing (a host keeps counting failures, so
    /// its backoff goes on doubling), and counts exactly their entries.
    fn check_memory(&mut self) {
        let (now, failing) = (self.now, self.host_failing);
        let g = &mut self.sender;
        assert_eq!(g.pending(), 0);
        // Pauses end at most 2 hours after the model's bounds (jitter).
        let latest = (self.channel_not_before.iter())
            .chain(&self.host_not_before)
            .fold(now, |a, b| a.max(*b));
        let far = latest + self.config.quota_window + Duration::from_hours(48);
        g.handle_timeout(far);
        let kept: Vec<usize> = (0..4).filter(|&c| self.expired[c]).collect();
        let hosts = (0..3)
            .filter(|&h| failing[h] || kept.iter().any(|&c| HOSTS[c] == h))
            .count();
        assert_eq!(g.channels(), kept.len(), "growable: channels kept");
        assert_eq!(
            g.memory_used(),
            kept.len() * GrowableSender::CHANNEL_ENTRY + hosts * GrowableSender::HOST_ENTRY,
            "growable: memory of {kept:?}, {hosts} hosts"
        );
        for c in 0..4 {
            g.forget_channel(g.channel_id(&channel(c)));
        }
        g.handle_timeout(far);
        let hosts = failing.iter().filter(|f| **f).count();
        assert_eq!(g.channels(), 0, "growable: channels after forgetting");
        assert_eq!(
            g.memory_used(),
            hosts * GrowableSender::HOST_ENTRY,
            "growable: memory after forgetting"
        );
    }
}

/// What a transmit sends: ticket, channel, attempt and target (which of
/// [`CHANNELS`]); its HTTP/1.1 bytes go into `http`.
fn wire(tx: &Transmit<'_>, http: &mut Vec<u8>) -> (Ticket, ChannelId, u16, usize) {
    http.clear();
    http.resize(tx.request.http_len(), 0);
    let n = tx.request.write_http(http).expect("exact buffer");
    assert_eq!(n, http.len());
    let uri = tx.request.channel().as_str();
    let ch = (CHANNELS.iter().position(|c| *c == uri)).expect("known channel");
    (tx.ticket, tx.channel, tx.attempt, ch)
}

/// Operations read from one input at most. A sender of 4 slots and 3
/// channels reaches every state (full tables, recycled entries, snapshots
/// mid-flight) well within 64; longer runs only cost time: at 512 a long
/// input took 4 ms under the sanitizer, and libFuzzer, whose inputs grow to
/// 4 KiB, ran the target at a tenth of its speed on short ones.
pub const MAX_STEPS: usize = 64;

/// Round trips done in one input at most; later ones do nothing. Two let a
/// restored sender be saved and restored again, from wherever the input puts
/// them. Uncapped (and then on tag 14, which libFuzzer's mutations favor as
/// the low bits of 0xFE; now tag 2), they were a quarter of the operations
/// it kept and most of the target's time, each a serialization, a parse and
/// a restore that checks every stored URI again.
pub const MAX_ROUND_TRIPS: usize = 2;

/// Runs the check on raw fuzz input, with the fixed [`Sender`].
pub fn check(data: &[u8]) {
    run::<TestSender>(data);
}

/// The same check on the [`GrowableSender`].
pub fn check_growable(data: &[u8]) {
    run::<GrowableSender>(data);
}

fn run<S: Subject>(data: &[u8]) {
    let mut b = Bytes::new(data);
    let sel = b.u8();
    let seed = u64::from(b.u16()).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut h = Harness::<S>::new(sel, seed);
    let mut steps = 0;
    while !b.is_empty() && steps < MAX_STEPS {
        h.step(&mut b);
        steps += 1;
    }
    h.finish();
}

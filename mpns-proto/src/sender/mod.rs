//! The sender: a sans-IO state machine that decides, for every notification,
//! when it is sent, when it is tried again and how it ends.
//!
//! [`Sender`] owns a fixed number of pending notifications (`Q`) and known
//! channels (`C`), and borrows (or owns) a byte arena for their requests. It
//! never performs I/O and never reads a clock: time comes in as [`Instant`].
//!
//! # The run loop
//!
//! > **Drive the sender until `poll_transmit` and `poll_event` both return
//! > `None`; then wait for the next input or for `poll_timeout`.**
//!
//! 1. Give it work: [`Sender::submit`] (or [`Sender::cancel`]).
//! 2. Send what is due: [`Sender::poll_transmit`] hands out one request at a
//!    time (headers and body for structured clients, or HTTP/1.1 bytes).
//!    Any number may be in flight, at most one per channel.
//! 3. Report what came back: [`Sender::handle_response`] with the parsed
//!    response, or [`Sender::handle_transport_error`] when the connection failed.
//! 4. Read what happened: [`Sender::poll_event`] until `None`. Every ticket ends
//!    in exactly one [`Event::Finished`].
//! 5. Sleep until [`Sender::poll_timeout`] or new input, whichever is first.
//! 6. Tell the time: [`Sender::handle_timeout`] (every `poll_transmit` does too).
//!
//! ```
//! use mpns_proto::sender::{Event, Finished, Sender, SenderConfig};
//! use mpns_proto::{ChannelUri, Instant, Notification, Options, Response, Toast};
//!
//! let mut arena = [0u8; 4 * 1024];
//! let mut sender: Sender<_, 4, 8> = Sender::new(SenderConfig::default(), &mut arena[..]);
//! let mut now = Instant::ZERO; // the caller's clock; here a fake one
//!
//! let channel = ChannelUri::parse("http://127.0.0.1:47001/throttledthirdparty/01.00/A")?;
//! let toast = Notification::Toast(Toast { text1: Some("Hello"), ..Toast::default() });
//! let ticket = sender.submit(now, channel, &toast, &Options::default())?;
//!
//! let mut finished = None;
//! for _round in 0..10 {
//!     while let Some(transmit) = sender.poll_transmit(now) {
//!         let mut wire = [0u8; 1024];
//!         let _len = transmit.request.write_http(&mut wire)?; // send these bytes
//!         let sent = transmit.ticket;
//!         // ... the server answers (here, on the first try, with "QueueFull").
//!         let status = if now == Instant::ZERO { "QueueFull" } else { "Received" };
//!         let response = Response::from_parts(200, |name| {
//!             (name == "X-NotificationStatus").then_some(status.as_bytes())
//!         });
//!         sender.handle_response(now, sent, &response)?;
//!     }
//!     while let Some(event) = sender.poll_event() {
//!         if let Event::Finished { ticket: t, result, .. } = event {
//!             assert_eq!(t, ticket);
//!             finished = Some(result);
//!         }
//!     }
//!     match sender.poll_timeout() {
//!         Some(at) => now = at, // sleep until then
//!         None => break,
//!     }
//! }
//! assert!(matches!(finished, Some(Finished::Accepted { .. })));
//! assert!(now >= Instant::from_secs(48), "QueueFull backs off about a minute");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Policy
//!
//! Exactly the table of MPNS.md section 6: see [`crate::classify`]. Per
//! channel, first in first out with at most one request in flight, so tile
//! updates never arrive out of order. A retry pauses the notification
//! (QueueFull), its channel (406, 412: 60 min, never more than one attempt an
//! hour) or its host (503, 429, other 5xx, transport failures), with
//! exponential backoff and jitter from the seed in [`SenderConfig`]. An
//! expired channel ends everything queued for it and refuses later submits.
//! Unauthenticated channels are held under their rolling quota instead of
//! provoking 406.
//!
//! # Memory
//!
//! No allocator. The sender's own size is at most
//! `256 + 136·Q + 112·C` bytes (`size_of::<Sender<&mut [u8], Q, C>>()`, on
//! 64-bit hosts; less on 32-bit `thumbv7em`): 8 notifications and 16 channels
//! take 2,984 bytes, well inside 16 KiB. The arena is split into `Q` equal
//! slots; a slot holds one request's channel URI, callback URI and body, so
//! size it as `Q × (longest URI + largest body)`: with MPNS's limits,
//! `Q × 4,200` bytes covers any toast or tile, `Q × 2,100` any raw
//! notification, and `Q × 1,024` typical toasts to typical channel URIs.
//! [`SubmitError::TooLarge`] says when a request does not fit.
//!
//! # Persistence
//!
//! With the `serde` feature, `Sender::snapshot` captures the whole state and
//! the queued requests, and `Sender::restore` carries on after a reboot. A
//! request that was in flight when the snapshot was taken is sent again as
//! its next attempt (at least once, never lost), or ends as given up if it
//! had used its last attempt; take snapshots after `handle_response` to
//! avoid both. Snapshots need a binary format such as postcard.

mod lifecycle;
mod quota;
#[cfg(feature = "serde")]
mod snapshot;

use core::fmt;

use crate::error::EncodeError;
use crate::notification::Notification;
use crate::options::{Limits, MessageId, Options};
use crate::request::{Request, RequestKind};
use crate::response::{
    AnomalyReason, DeviceStatus, Jitter, MessageIdEcho, Outcome, RejectReason, Response,
    RetryPolicy, RetryReason, Scope, classify,
};
use crate::time::{Duration, Instant};
use crate::uri::{ChannelUri, UriSplit};

use lifecycle::{Input, Stage, transition};
use quota::QuotaWindow;

#[cfg(feature = "serde")]
pub use snapshot::{RestoreError, Snapshot};

/// Identifies one submitted notification until its final event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Ticket(pub u64);

/// Identifies a channel: a hash of its URI, keyed by the sender's seed.
/// [`Sender::channel_id`] computes it for a URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ChannelId(pub u64);

/// How a notification ended. Exactly one per ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Finished {
    /// 200 Received: queued at MPNS for the device.
    Accepted {
        /// `X-DeviceConnectionStatus`, when given.
        device: Option<DeviceStatus>,
    },
    /// 200 Suppressed: the app's channel does not take this class.
    Suppressed,
    /// 200 Dropped.
    Dropped,
    /// Refused for good (400, 401, 403, 405, other 4xx).
    Rejected {
        /// Why.
        reason: RejectReason,
        /// The HTTP status.
        status: u16,
    },
    /// The server's reply was not an MPNS reply.
    Anomaly {
        /// Why.
        reason: AnomalyReason,
        /// The HTTP status.
        status: u16,
    },
    /// The channel expired (404 or `Expired`): delete it.
    ChannelExpired,
    /// A newer update of the same tile replaced it before it was sent.
    Superseded {
        /// The replacing notification.
        by: Ticket,
    },
    /// Cancelled by the application.
    Cancelled,
    /// Out of attempts or past its deadline.
    GaveUp {
        /// The reason of the last retry, if it was ever retried.
        last: Option<RetryReason>,
    },
}

impl Finished {
    /// Whether MPNS took the notification.
    pub const fn is_accepted(&self) -> bool {
        matches!(self, Finished::Accepted { .. })
    }

    /// Short snake_case name of the outcome.
    pub const fn name(&self) -> &'static str {
        match self {
            Finished::Accepted { .. } => "accepted",
            Finished::Suppressed => "suppressed",
            Finished::Dropped => "dropped",
            Finished::Rejected { .. } => "rejected",
            Finished::Anomaly { .. } => "anomaly",
            Finished::ChannelExpired => "channel_expired",
            Finished::Superseded { .. } => "superseded",
            Finished::Cancelled => "cancelled",
            Finished::GaveUp { .. } => "gave_up",
        }
    }
}

/// What the application hears from [`Sender::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// The final event of a ticket.
    Finished {
        /// The notification.
        ticket: Ticket,
        /// How it ended.
        result: Finished,
        /// Requests sent for it.
        attempts: u16,
    },
    /// A channel expired: the application should delete it. Later submits to
    /// it are refused until [`Sender::forget_channel`].
    ChannelExpired {
        /// The channel.
        channel: ChannelId,
    },
    /// Informational: the notification will be tried again at `at`.
    Retrying {
        /// The notification.
        ticket: Ticket,
        /// Why it was not accepted.
        reason: RetryReason,
        /// The earliest next attempt.
        at: Instant,
    },
    /// Informational: held back by its channel's quota until `until`.
    Deferred {
        /// The notification.
        ticket: Ticket,
        /// When the quota allows the next send.
        until: Instant,
    },
    /// Informational: the response's `X-MessageID` is not the one sent.
    MessageIdMismatch {
        /// The notification.
        ticket: Ticket,
    },
}

/// How a connection failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum TransportError {
    /// Connection refused.
    Refused,
    /// Connection reset or closed before a complete response.
    Reset,
    /// No response in time (Microsoft recommended 15 s).
    Timeout,
    /// TLS handshake or certificate failure.
    Tls,
    /// The answer could not be read as HTTP (see [`crate::http::ReadError`]).
    Protocol,
    /// Anything else (DNS, I/O).
    Other,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportError::Refused => "connection refused",
            TransportError::Reset => "connection reset or closed before a complete response",
            TransportError::Timeout => "no response in time",
            TransportError::Tls => "TLS handshake or certificate failure",
            TransportError::Protocol => "the response is not readable HTTP",
            TransportError::Other => "transport failure",
        })
    }
}

impl core::error::Error for TransportError {}

/// Why [`Sender::submit`] took nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SubmitError {
    /// The notification was refused by the encoder.
    Encode(EncodeError),
    /// All `Q` slots hold notifications or unread final events: poll events
    /// and wait for some to finish.
    QueueFull,
    /// All `C` channel entries are in use by channels with queued
    /// notifications, pauses, quota counts or unforgotten expiry.
    ChannelTableFull,
    /// The channel expired; delete it (or [`Sender::forget_channel`] it).
    ChannelExpired(ChannelId),
    /// The request does not fit in one arena slot.
    TooLarge {
        /// Bytes needed (channel URI, callback URI and body).
        needed: usize,
        /// Bytes in one slot.
        slot: usize,
    },
}

/// Why a `handle_*` call or a cancel was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TicketError {
    /// No notification has this ticket (never submitted, or its final event was polled).
    Unknown(Ticket),
    /// The notification is not in flight, so it has no response to handle.
    NotInFlight(Ticket),
    /// The notification already finished; its final event is waiting.
    AlreadyFinished(Ticket),
}

/// What [`Sender::cancel`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Cancellation {
    /// Cancelled: its final event is [`Finished::Cancelled`].
    Done,
    /// It is in flight: if the response asks for a retry it ends as cancelled,
    /// otherwise with what the response says.
    AfterResponse,
}

/// Settings of a [`Sender`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct SenderConfig {
    /// Backoff and pauses.
    pub retry: RetryPolicy,
    /// Most requests sent for one notification (30).
    pub max_attempts: u16,
    /// Time after submission when a notification not yet accepted gives up (24 h).
    pub deadline: Duration,
    /// Sends allowed per unauthenticated (http) channel per window (500).
    pub quota: u32,
    /// The quota's rolling window (24 h).
    pub quota_window: Duration,
    /// A newer update of the same tile (same channel and `Id`) replaces one
    /// still queued (false). Off by default: tile updates may be partial, and
    /// replacing one loses the elements only it set.
    pub supersede_tiles: bool,
    /// Seed of the jitter and of channel ids. Use a random value per process.
    pub seed: u64,
}

impl SenderConfig {
    /// The defaults of MPNS.md sections 6 and 7.
    pub const DEFAULT: SenderConfig = SenderConfig {
        retry: RetryPolicy::DEFAULT,
        max_attempts: 30,
        deadline: Duration::from_hours(24),
        quota: 500,
        quota_window: Duration::from_hours(24),
        supersede_tiles: false,
        seed: 0x6d70_6e73_5345_4544,
    };
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig::DEFAULT
    }
}

/// Where a queued request's bytes are in its arena slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Stored {
    kind: RequestKind,
    class: Option<u8>,
    message_id: Option<MessageId>,
    uri_len: u32,
    callback_len: u32,
    body_len: u32,
}

impl Stored {
    fn len(&self) -> usize {
        self.uri_len as usize + self.callback_len as usize + self.body_len as usize
    }
}

/// Informational event waiting for `poll_event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
enum Notice {
    Retrying { reason: RetryReason, at: Instant },
    Deferred { until: Instant },
}

/// One pending notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Slot {
    ticket: Ticket,
    stage: Stage,
    /// Index in `channels`.
    channel: u16,
    /// Index of its arena slot.
    arena: u16,
    attempts: u16,
    /// Consecutive QueueFull answers, for its own backoff.
    queue_full: u16,
    deadline: Instant,
    last_reason: Option<RetryReason>,
    cancel_requested: bool,
    deferred_reported: bool,
    mismatch_unreported: bool,
    notice: Option<Notice>,
    /// For superseding: a hash of the tile's `Id`.
    tile: Option<u64>,
    stored: Stored,
}

/// One known channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Channel {
    id: ChannelId,
    /// Index in `hosts`.
    host: u16,
    authenticated: bool,
    /// 406/412 pause: no attempt before this.
    paused_until: Instant,
    expired: bool,
    expiry_reported: bool,
    quota: QuotaWindow,
}

/// One known host (scheme, host and port).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Host {
    key: u64,
    /// Consecutive host-wide failures, for its backoff.
    failures: u16,
    paused_until: Instant,
}

/// Everything but the arena: what a snapshot saves.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct State<const Q: usize, const C: usize> {
    config: SenderConfig,
    slots: heapless::Vec<Slot, Q>,
    channels: heapless::Vec<Channel, C>,
    hosts: heapless::Vec<Host, C>,
    next_ticket: u64,
    next_order: u64,
    rng: u64,
    now: Instant,
}

/// A request ready to be sent, from [`Sender::poll_transmit`].
#[derive(Clone, Copy, Debug)]
pub struct Transmit<'s> {
    /// The notification; pass it back to `handle_response` or `handle_transport_error`.
    pub ticket: Ticket,
    /// Its channel.
    pub channel: ChannelId,
    /// 1 for the first attempt.
    pub attempt: u16,
    /// The request: target, headers, body, or HTTP/1.1 bytes.
    pub request: Request<'s>,
}

/// The MPNS sender state machine. See the [module docs](self) for the run loop.
///
/// `S` is the arena (`&mut [u8]`, `[u8; N]`, `Vec<u8>`...), `Q` the most
/// notifications pending at once, `C` the most channels known at once.
pub struct Sender<S, const Q: usize, const C: usize> {
    state: State<Q, C>,
    storage: S,
    /// Arena slots not used by any notification (derived from `state`).
    free: heapless::Vec<u16, Q>,
    /// By arena slot, where the parts of its stored channel URI are, so that
    /// sending does not parse it again (derived from the arena).
    uris: [UriSplit; Q],
    /// Some channel may have an expiry to report: spares `poll_event` a
    /// look at every channel (derived from `state`).
    expiry_unreported: bool,
}

impl<S, const Q: usize, const C: usize> fmt::Debug for Sender<S, Q, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("pending", &self.state.slots.len())
            .field("channels", &self.state.channels.len())
            .field("now", &self.state.now)
            .finish_non_exhaustive()
    }
}

/// FNV-1a over `parts`, keyed by `seed`, finished by a SplitMix64 round.
fn keyed_hash(seed: u64, parts: &[&[u8]]) -> u64 {
    parts
        .iter()
        .fold(KeyedHash::new(seed), |h, part| h.part(part.iter().copied()))
        .finish()
}

/// The state of [`keyed_hash`], for parts that are not byte slices.
struct KeyedHash(u64);

impl KeyedHash {
    const PRIME: u64 = 0x0100_0000_01b3;

    const fn new(seed: u64) -> Self {
        KeyedHash(0xcbf2_9ce4_8422_2325 ^ seed)
    }

    fn part(mut self, bytes: impl Iterator<Item = u8>) -> Self {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(Self::PRIME);
        }
        // Separate parts so that ("ab", "c") and ("a", "bc") differ.
        self.0 = (self.0 ^ 0xff).wrapping_mul(Self::PRIME);
        self
    }

    fn finish(self) -> u64 {
        splitmix(self.0)
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Identifies a host: scheme, host name (ASCII case-insensitively, its first
/// 256 bytes) and port.
fn host_key(seed: u64, channel: &ChannelUri<'_>) -> u64 {
    let uri = channel.uri();
    let host = uri.host().bytes().take(256).map(|b| b.to_ascii_lowercase());
    KeyedHash::new(seed)
        .part(uri.scheme().as_str().bytes())
        .part(host)
        .part(uri.port_or_default().to_le_bytes().into_iter())
        .finish()
}

impl<const Q: usize, const C: usize> State<Q, C> {
    /// Moves slot `i` through the lifecycle; inputs that do not apply are ignored.
    fn apply(&mut self, i: usize, input: Input) {
        let order = self.next_order;
        let slot = &mut self.slots[i];
        if let Some(stage) = transition(slot.stage, input, order) {
            if matches!(stage, Stage::Done { .. }) && !matches!(slot.stage, Stage::Done { .. }) {
                // Only the relative order matters; saturating keeps a restored
                // counter near the end from overflowing.
                self.next_order = self.next_order.saturating_add(1);
                slot.notice = None;
            }
            slot.stage = stage;
        }
    }
}

impl<S: AsRef<[u8]> + AsMut<[u8]>, const Q: usize, const C: usize> Sender<S, Q, C> {
    /// A sender with no pending notifications, using `storage` as its arena.
    pub fn new(config: SenderConfig, storage: S) -> Self {
        const { assert!(Q > 0 && Q <= u16::MAX as usize && C > 0 && C <= u16::MAX as usize) };
        let mut free = heapless::Vec::new();
        for i in (0..Q as u16).rev() {
            // Cannot fail: Q entries fit.
            let _ = free.push(i);
        }
        Sender {
            state: State {
                config,
                slots: heapless::Vec::new(),
                channels: heapless::Vec::new(),
                hosts: heapless::Vec::new(),
                next_ticket: 1,
                next_order: 0,
                rng: splitmix(config.seed),
                now: Instant::ZERO,
            },
            storage,
            free,
            uris: [UriSplit::default(); Q],
            expiry_unreported: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SenderConfig {
        &self.state.config
    }

    /// Bytes of arena per notification.
    pub fn slot_size(&self) -> usize {
        self.storage.as_ref().len() / Q
    }

    /// Notifications submitted whose final event has not been polled yet.
    pub fn pending(&self) -> usize {
        self.state.slots.len()
    }

    /// The id this sender gives `channel`.
    pub fn channel_id(&self, channel: &ChannelUri<'_>) -> ChannelId {
        ChannelId(keyed_hash(
            self.state.config.seed,
            &[channel.as_str().as_bytes()],
        ))
    }

    /// Whether `channel` is known to have expired.
    pub fn is_expired(&self, channel: &ChannelUri<'_>) -> bool {
        let id = self.channel_id(channel);
        self.state.channels.iter().any(|c| c.id == id && c.expired)
    }

    // ---- commands ---------------------------------------------------------

    /// Queues a notification for `channel`. Everything is validated now; the
    /// request bytes are kept in the arena until its final event is polled.
    pub fn submit(
        &mut self,
        now: Instant,
        channel: ChannelUri<'_>,
        notification: &Notification<'_>,
        options: &Options<'_>,
    ) -> Result<Ticket, SubmitError> {
        // With a free slot, the body is encoded straight into it in one pass
        // (on hosts: see `FAST_PATHS`); without, the notification is only
        // validated here (its errors come first).
        let uri = channel.as_str().len();
        let callback = options.callback_uri.map_or(0, str::len);
        let slot_size = self.slot_size();
        let (request, written) = match self.free.last() {
            Some(&arena) if crate::payload::FAST_PATHS && uri + callback <= slot_size => {
                let start = usize::from(arena) * slot_size + uri + callback;
                let end = (usize::from(arena) + 1) * slot_size;
                let out = &mut self.storage.as_mut()[start..end];
                let request = Request::notification_with_body(channel, notification, options, out);
                (request, Some(arena))
            }
            _ => (Request::notification(channel, notification, options), None),
        };
        let request = request.map_err(SubmitError::Encode)?;
        let tile = match notification {
            #[cfg(feature = "tiles")]
            Notification::Tile(tile) => Some(keyed_hash(
                self.state.config.seed,
                &[tile.id.map_or(b"\0main".as_slice(), str::as_bytes)],
            )),
            _ => None,
        };
        self.enqueue(now, &request, options.message_id, tile, written)
    }

    /// Queues a callback registration for an authenticated `channel`
    /// (MPNS.md section 7). It takes its turn with the channel's notifications.
    pub fn submit_callback_registration(
        &mut self,
        now: Instant,
        channel: ChannelUri<'_>,
        callback_uri: &str,
        body: &[u8],
        limits: &Limits,
    ) -> Result<Ticket, SubmitError> {
        let request = Request::callback_registration(channel, callback_uri, body, limits)
            .map_err(SubmitError::Encode)?;
        self.enqueue(now, &request, None, None, None)
    }

    /// Queues `request`, sent with `message_id`, whose body is already in
    /// arena slot `written` if given.
    fn enqueue(
        &mut self,
        now: Instant,
        request: &Request<'_>,
        message_id: Option<MessageId>,
        tile: Option<u64>,
        written: Option<u16>,
    ) -> Result<Ticket, SubmitError> {
        self.advance(now);
        let channel = *request.channel();
        let uri = channel.as_str().as_bytes();
        let callback = request.callback_uri().unwrap_or("").as_bytes();
        let needed = uri.len() + callback.len() + request.body_len();
        let slot_size = self.slot_size();
        if needed > slot_size {
            return Err(SubmitError::TooLarge {
                needed,
                slot: slot_size,
            });
        }
        if self.state.slots.is_full() {
            return Err(SubmitError::QueueFull);
        }
        let channel_index = self.channel_entry(&channel)?;
        let ticket = Ticket(self.state.next_ticket);
        if let Some(tile) = tile.filter(|_| self.state.config.supersede_tiles) {
            for i in 0..self.state.slots.len() {
                let s = self.state.slots[i];
                if s.channel == channel_index
                    && s.tile == Some(tile)
                    && matches!(s.stage, Stage::Queued | Stage::Waiting { .. })
                {
                    self.state.apply(i, Input::Superseded { by: ticket });
                }
            }
        }
        let Some(arena) = self.free.pop() else {
            return Err(SubmitError::QueueFull);
        };
        if let Some(split) = self.uris.get_mut(usize::from(arena)) {
            *split = channel.split();
        }
        // Write the URI, callback URI and body into the slot.
        let start = usize::from(arena) * slot_size;
        let region = &mut self.storage.as_mut()[start..start + slot_size];
        region[..uri.len()].copy_from_slice(uri);
        region[uri.len()..uri.len() + callback.len()].copy_from_slice(callback);
        let body_start = uri.len() + callback.len();
        if written != Some(arena) {
            // Cannot fail: the slot holds `needed` bytes.
            let _ = request.write_body(&mut region[body_start..needed]);
        }
        let slot = Slot {
            ticket,
            stage: Stage::Queued,
            channel: channel_index,
            arena,
            attempts: 0,
            queue_full: 0,
            deadline: self.state.now + self.state.config.deadline,
            last_reason: None,
            cancel_requested: false,
            deferred_reported: false,
            mismatch_unreported: false,
            notice: None,
            tile,
            stored: Stored {
                kind: request.kind(),
                class: request.notification_class(),
                message_id,
                uri_len: uri.len() as u32,
                callback_len: callback.len() as u32,
                body_len: request.body_len() as u32,
            },
        };
        if self.state.slots.push(slot).is_err() {
            let _ = self.free.push(arena);
            return Err(SubmitError::QueueFull);
        }
        // Restore bounds the counter far below the end, so this never saturates.
        self.state.next_ticket = self.state.next_ticket.saturating_add(1);
        Ok(ticket)
    }

    /// The index of `channel`'s entry, created (or recycled) if needed.
    fn channel_entry(&mut self, channel: &ChannelUri<'_>) -> Result<u16, SubmitError> {
        let id = self.channel_id(channel);
        if let Some(i) = self.state.channels.iter().position(|c| c.id == id) {
            let c = &self.state.channels[i];
            if c.expired {
                return Err(SubmitError::ChannelExpired(id));
            }
            return Ok(i as u16);
        }
        let host = self.host_entry(channel)?;
        let entry = Channel {
            id,
            host,
            authenticated: channel.is_authenticated(),
            paused_until: Instant::ZERO,
            expired: false,
            expiry_reported: false,
            quota: QuotaWindow::default(),
        };
        if let Some(i) = self.idle_channel() {
            self.state.channels[i] = entry;
            return Ok(i as u16);
        }
        self.state
            .channels
            .push(entry)
            .map_err(|_| SubmitError::ChannelTableFull)?;
        Ok((self.state.channels.len() - 1) as u16)
    }

    /// A channel entry that holds nothing worth remembering.
    fn idle_channel(&self) -> Option<usize> {
        let now = self.state.now;
        let window = self.state.config.quota_window;
        (0..self.state.channels.len()).find(|&i| {
            let c = &self.state.channels[i];
            !c.expired
                && c.paused_until <= now
                && (c.authenticated || c.quota.is_empty(now, window))
                && !self.state.slots.iter().any(|s| usize::from(s.channel) == i)
        })
    }

    fn host_entry(&mut self, channel: &ChannelUri<'_>) -> Result<u16, SubmitError> {
        let key = host_key(self.state.config.seed, channel);
        if let Some(i) = self.state.hosts.iter().position(|h| h.key == key) {
            return Ok(i as u16);
        }
        let entry = Host {
            key,
            failures: 0,
            paused_until: Instant::ZERO,
        };
        let now = self.state.now;
        let idle = (0..self.state.hosts.len()).find(|&i| {
            // A host with failures keeps its entry, so its backoff goes on doubling.
            self.state.hosts[i].paused_until <= now
                && self.state.hosts[i].failures == 0
                && !self.state.channels.iter().any(|c| usize::from(c.host) == i)
        });
        if let Some(i) = idle {
            self.state.hosts[i] = entry;
            return Ok(i as u16);
        }
        self.state
            .hosts
            .push(entry)
            .map_err(|_| SubmitError::ChannelTableFull)?;
        Ok((self.state.hosts.len() - 1) as u16)
    }

    /// Cancels a notification.
    pub fn cancel(&mut self, ticket: Ticket) -> Result<Cancellation, TicketError> {
        let i = self.find(ticket)?;
        match self.state.slots[i].stage {
            Stage::Done { .. } => Err(TicketError::AlreadyFinished(ticket)),
            Stage::InFlight => {
                self.state.slots[i].cancel_requested = true;
                Ok(Cancellation::AfterResponse)
            }
            Stage::Queued | Stage::Waiting { .. } => {
                self.state.apply(i, Input::Cancel);
                Ok(Cancellation::Done)
            }
        }
    }

    /// Forgets an expired channel (after the application deleted it), so that
    /// its entry can be reused. Nothing happens for a channel that is in use.
    pub fn forget_channel(&mut self, channel: ChannelId) {
        if let Some(c) = self
            .state
            .channels
            .iter_mut()
            .find(|c| c.id == channel && c.expired && c.expiry_reported)
        {
            // An expired channel has nothing queued; the entry becomes idle.
            c.expired = false;
            c.paused_until = Instant::ZERO;
        }
    }

    // ---- input ------------------------------------------------------------

    /// Reports the response to a request from `poll_transmit`.
    pub fn handle_response(
        &mut self,
        now: Instant,
        ticket: Ticket,
        response: &Response,
    ) -> Result<(), TicketError> {
        let i = self.in_flight(ticket)?;
        let sent = self.state.slots[i].stored.message_id;
        if response.message_id_echo(sent) == MessageIdEcho::Mismatch {
            self.state.slots[i].mismatch_unreported = true;
        }
        self.answer(now, i, classify(response));
        Ok(())
    }

    /// Reports that a request from `poll_transmit` got no response: the
    /// whole host backs off as after a 503.
    pub fn handle_transport_error(
        &mut self,
        now: Instant,
        ticket: Ticket,
        error: TransportError,
    ) -> Result<(), TicketError> {
        let _ = error; // Every transport failure gets the same policy.
        let i = self.in_flight(ticket)?;
        self.answer(now, i, Outcome::transport_failure());
        Ok(())
    }

    /// Tells the sender the time: gives up on notifications past their deadline
    /// and ends waits that are over.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
    }

    fn advance(&mut self, now: Instant) {
        if now > self.state.now {
            self.state.now = now;
        }
        let now = self.state.now;
        for i in 0..self.state.slots.len() {
            let s = &self.state.slots[i];
            let tick = Input::Tick {
                now,
                deadline: s.deadline,
                last: s.last_reason,
            };
            self.state.apply(i, tick);
        }
    }

    fn find(&self, ticket: Ticket) -> Result<usize, TicketError> {
        self.state
            .slots
            .iter()
            .position(|s| s.ticket == ticket)
            .ok_or(TicketError::Unknown(ticket))
    }

    fn in_flight(&self, ticket: Ticket) -> Result<usize, TicketError> {
        let i = self.find(ticket)?;
        match self.state.slots[i].stage {
            Stage::InFlight => Ok(i),
            Stage::Done { .. } => Err(TicketError::AlreadyFinished(ticket)),
            _ => Err(TicketError::NotInFlight(ticket)),
        }
    }

    fn jitter(&mut self) -> Jitter {
        self.state.rng = splitmix(self.state.rng);
        Jitter::per_mille(crate::time::div_rem(self.state.rng, 2001).1 as i16 - 1000)
    }

    /// Applies a classified answer to the in-flight slot `i`.
    fn answer(&mut self, now: Instant, i: usize, outcome: Outcome) {
        if now > self.state.now {
            self.state.now = now;
        }
        let now = self.state.now;
        let channel = usize::from(self.state.slots[i].channel);
        let host = usize::from(self.state.channels[channel].host);
        let policy = self.state.config.retry;
        let (mut own_wait, mut give_up) = (None, false);
        match outcome {
            Outcome::Retry {
                reason,
                scope,
                backoff,
                retry_after_s,
            } => {
                let jitter = self.jitter();
                let slot = &mut self.state.slots[i];
                slot.last_reason = Some(reason);
                let at = match scope {
                    Scope::Message => {
                        slot.queue_full = slot.queue_full.saturating_add(1);
                        let d =
                            policy.delay(backoff, slot.queue_full.into(), retry_after_s, jitter);
                        own_wait = Some(now + d);
                        now + d
                    }
                    Scope::Channel => {
                        let d = policy.delay(backoff, 1, retry_after_s, jitter);
                        let c = &mut self.state.channels[channel];
                        c.paused_until = c.paused_until.max(now + d);
                        c.paused_until
                    }
                    Scope::Host => {
                        let h = &mut self.state.hosts[host];
                        h.failures = h.failures.saturating_add(1);
                        let d = policy.delay(backoff, h.failures.into(), retry_after_s, jitter);
                        h.paused_until = h.paused_until.max(now + d);
                        h.paused_until
                    }
                };
                let slot = &mut self.state.slots[i];
                give_up = slot.attempts >= self.state.config.max_attempts || at > slot.deadline;
                if !give_up && !slot.cancel_requested {
                    slot.notice = Some(Notice::Retrying { reason, at });
                }
            }
            _ => {
                // The host answered as MPNS does: it is up.
                self.state.hosts[host].failures = 0;
            }
        }
        let input = Input::Answer {
            outcome,
            own_wait,
            give_up,
            cancel_requested: self.state.slots[i].cancel_requested,
        };
        self.state.apply(i, input);
        if outcome == Outcome::Expired {
            let c = &mut self.state.channels[channel];
            c.expired = true;
            c.expiry_reported = false;
            self.expiry_unreported = true;
            for j in 0..self.state.slots.len() {
                if usize::from(self.state.slots[j].channel) == channel {
                    self.state.apply(j, Input::ChannelExpired);
                }
            }
        }
    }

    // ---- output -----------------------------------------------------------

    /// The head of each channel: the ticket of its oldest unfinished notification.
    fn heads(&self) -> [u64; C] {
        // 0 for none: tickets start at 1. A zero fill costs microcontrollers
        // no `memset` beyond the one zeroing already needs.
        let mut heads = [0; C];
        for s in &self.state.slots {
            if !matches!(s.stage, Stage::Done { .. }) {
                let head = &mut heads[usize::from(s.channel)];
                if *head == 0 || s.ticket.0 < *head {
                    *head = s.ticket.0;
                }
            }
        }
        heads
    }

    /// When slot `i` may be sent: `None` if it must wait for something other
    /// than time (a response on its channel, the notification before it, or
    /// its own end). The one place that decides readiness.
    fn ready_at(&self, i: usize, heads: &[u64; C]) -> Option<Ready> {
        let config = &self.state.config;
        let s = &self.state.slots[i];
        let c = &self.state.channels[usize::from(s.channel)];
        let h = &self.state.hosts[usize::from(c.host)];
        // Only a channel's head may go; while it is in flight, nothing else on the channel can.
        if heads[usize::from(s.channel)] != s.ticket.0 || c.expired {
            return None;
        }
        let own = match s.stage {
            Stage::Queued => Instant::ZERO,
            Stage::Waiting { until } => until,
            Stage::InFlight | Stage::Done { .. } => return None,
        };
        let pause = own.max(c.paused_until).max(h.paused_until);
        let quota = if c.authenticated {
            None
        } else {
            c.quota
                .next_free(pause.max(self.state.now), config.quota_window, config.quota)
        };
        Some(match quota {
            Some(until) => Ready::Quota(until),
            None => Ready::At(pause),
        })
    }

    /// The next request to send, if one is due at `now`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit<'_>> {
        self.advance(now);
        let now = self.state.now;
        let config = self.state.config;
        let heads = self.heads();
        let mut best: Option<usize> = None;
        for i in 0..self.state.slots.len() {
            match self.ready_at(i, &heads) {
                // Heads of different channels: the oldest goes first.
                Some(Ready::At(at))
                    if at <= now
                        && best.is_none_or(|b| {
                            self.state.slots[i].ticket < self.state.slots[b].ticket
                        }) =>
                {
                    best = Some(i);
                }
                Some(Ready::Quota(until)) => {
                    let s = &mut self.state.slots[i];
                    if !s.deferred_reported {
                        s.deferred_reported = true;
                        s.notice = Some(Notice::Deferred { until });
                    }
                }
                _ => {}
            }
        }
        let i = best?;
        self.state.apply(i, Input::Send);
        let slot = &mut self.state.slots[i];
        slot.attempts = slot.attempts.saturating_add(1);
        slot.deferred_reported = false;
        let c = &mut self.state.channels[usize::from(slot.channel)];
        if !c.authenticated {
            c.quota.record(now, config.quota_window);
        }
        let (ticket, attempt, channel) = (slot.ticket, slot.attempts, c.id);
        let slot = &self.state.slots[i];
        let split = self.uris.get(usize::from(slot.arena)).copied();
        match stored_request(
            self.storage.as_ref(),
            self.storage.as_ref().len() / Q,
            slot,
            split.unwrap_or_default(),
        ) {
            Some(request) => Some(Transmit {
                ticket,
                channel,
                attempt,
                request,
            }),
            None => {
                // Unreachable: stored requests are validated on submit and on
                // restore. Should it happen, the notification still ends.
                self.state.apply(
                    i,
                    Input::Answer {
                        outcome: Outcome::Anomaly {
                            reason: AnomalyReason::UnexpectedStatus,
                            status: 0,
                        },
                        own_wait: None,
                        give_up: false,
                        cancel_requested: false,
                    },
                );
                None
            }
        }
    }

    /// The next event, if any: channel expiries first, then informational
    /// events, then final events in the order they happened.
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.expiry_unreported {
            match self
                .state
                .channels
                .iter_mut()
                .find(|c| c.expired && !c.expiry_reported)
            {
                Some(c) => {
                    c.expiry_reported = true;
                    return Some(Event::ChannelExpired { channel: c.id });
                }
                None => self.expiry_unreported = false,
            }
        }
        for s in self.state.slots.iter_mut() {
            if s.mismatch_unreported {
                s.mismatch_unreported = false;
                return Some(Event::MessageIdMismatch { ticket: s.ticket });
            }
            if let Some(notice) = s.notice.take() {
                return Some(match notice {
                    Notice::Retrying { reason, at } => Event::Retrying {
                        ticket: s.ticket,
                        reason,
                        at,
                    },
                    Notice::Deferred { until } => Event::Deferred {
                        ticket: s.ticket,
                        until,
                    },
                });
            }
        }
        let (i, result) = self
            .state
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s.stage {
                Stage::Done { result, order } => Some((i, result, order)),
                _ => None,
            })
            .min_by_key(|(_, _, order)| *order)
            .map(|(i, result, _)| (i, result))?;
        // `swap_remove` by hand: it (and `slice::swap`) moves slots with
        // `ptr::copy`, which links `memmove` (1.5 KiB on Cortex-M) for this alone.
        let slot = self.state.slots[i];
        let last = self.state.slots.pop()?;
        if let Some(place) = self.state.slots.get_mut(i) {
            *place = last;
        }
        let _ = self.free.push(slot.arena);
        Some(Event::Finished {
            ticket: slot.ticket,
            result,
            attempts: slot.attempts,
        })
    }

    /// When the sender next needs `handle_timeout` (or `poll_transmit`): the
    /// earliest end of a wait, pause, quota hold or deadline. `None` when
    /// nothing waits on time. A soft deadline: calling later is fine.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let heads = self.heads();
        (0..self.state.slots.len())
            .filter_map(|i| {
                let s = &self.state.slots[i];
                if matches!(s.stage, Stage::Done { .. } | Stage::InFlight) {
                    return None;
                }
                let ready = match self.ready_at(i, &heads) {
                    Some(Ready::At(at) | Ready::Quota(at)) => at,
                    None => s.deadline,
                };
                Some(ready.min(s.deadline))
            })
            .min()
    }
}

/// When a notification may go.
#[derive(Clone, Copy, Debug)]
enum Ready {
    /// At this time (now or earlier: at once).
    At(Instant),
    /// Its channel's quota is used up until this time.
    Quota(Instant),
}

/// The URI, callback URI and body kept in a slot's arena region.
fn stored_parts<'s>(
    storage: &'s [u8],
    slot_size: usize,
    slot: &Slot,
) -> Option<(&'s str, Option<&'s str>, &'s [u8])> {
    let start = usize::from(slot.arena) * slot_size;
    let region = storage.get(start..start + slot.stored.len())?;
    let (uri, rest) = region.split_at(slot.stored.uri_len as usize);
    let (callback, body) = rest.split_at(slot.stored.callback_len as usize);
    let callback = match callback {
        [] => None,
        c => Some(core::str::from_utf8(c).ok()?),
    };
    Some((core::str::from_utf8(uri).ok()?, callback, body))
}

/// Rebuilds the request kept in a slot's arena region, its URI from `split`
/// rather than parsed again.
fn stored_request<'s>(
    storage: &'s [u8],
    slot_size: usize,
    slot: &Slot,
    split: UriSplit,
) -> Option<Request<'s>> {
    let (uri, callback, body) = stored_parts(storage, slot_size, slot)?;
    let channel = ChannelUri::from_split(uri, split)?;
    Some(Request::from_validated(
        channel,
        slot.stored.kind,
        slot.stored.class,
        slot.stored.message_id,
        callback,
        body,
    ))
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Encode(e) => write!(f, "refused: {e}"),
            SubmitError::QueueFull => f.write_str(
                "the sender's queue is full: poll events and wait for notifications to finish",
            ),
            SubmitError::ChannelTableFull => {
                f.write_str("the sender's channel table is full of channels in use")
            }
            SubmitError::ChannelExpired(id) => write!(
                f,
                "channel {:016x} expired: delete it; MPNS will not deliver to it",
                id.0
            ),
            SubmitError::TooLarge { needed, slot } => write!(
                f,
                "the request needs {needed} bytes of arena; a slot has {slot}"
            ),
        }
    }
}

impl fmt::Display for TicketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TicketError::Unknown(t) => write!(f, "no notification has ticket {}", t.0),
            TicketError::NotInFlight(t) => write!(f, "notification {} is not in flight", t.0),
            TicketError::AlreadyFinished(t) => write!(f, "notification {} already finished", t.0),
        }
    }
}

impl core::error::Error for SubmitError {}
impl core::error::Error for TicketError {}

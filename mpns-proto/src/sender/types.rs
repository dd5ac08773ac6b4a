//! The sender's vocabulary: tickets, events, outcomes, settings and errors,
//! the same for both storages.

use core::fmt;

use crate::error::EncodeError;
use crate::request::Request;
use crate::response::{AnomalyReason, DeviceStatus};
use crate::response::{RejectReason, RetryPolicy, RetryReason};
use crate::time::{Duration, Instant};

#[cfg(doc)]
use super::Sender;

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
    /// Informational, after a restart from records: this notification's
    /// request was on the wire when the previous process stopped, so MPNS
    /// may have it. MPNS has no idempotency key, so it is sent again (or
    /// ends as given up if that was its last attempt).
    InDoubt {
        /// The notification.
        ticket: Ticket,
        /// The attempt whose outcome is unknown.
        attempt: u16,
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
    /// All `Q` slots (or the memory budget) hold notifications or unread final
    /// events: poll events and wait for some to finish.
    QueueFull,
    /// All `C` channel entries are in use by channels with queued
    /// notifications, pauses, quota counts or unforgotten expiry. Back-pressure
    /// that clears with time, like `QueueFull` (fixed [`Sender`] only).
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
    /// The defaults of `docs/protocol.md`, "Retries and backoff" and "Quota".
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

impl SubmitError {
    /// Whether this is back-pressure rather than a refusal: the sender is
    /// full for now ([`SubmitError::QueueFull`], [`SubmitError::ChannelTableFull`]),
    /// and the same submit succeeds once notifications finish or channel
    /// entries fall idle (quota windows and pauses end).
    pub const fn is_back_pressure(&self) -> bool {
        matches!(self, SubmitError::QueueFull | SubmitError::ChannelTableFull)
    }
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

//! MPNS responses (`docs/protocol.md`, "Responses"): the status headers, read
//! leniently, and [`classify`], the one place that decides what a response
//! means.
//!
//! A structured client builds a [`Response`] with [`Response::from_parts`];
//! a byte-stream client gets one from [`crate::http::ResponseReader`].

use core::fmt;

use crate::options::MessageId;
use crate::time::{Duration, div_rem};

/// `X-NotificationStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum NotificationStatus {
    /// Queued at MPNS (not a delivery receipt).
    Received,
    /// The device's queue is full.
    QueueFull,
    /// The app's channel suppresses this notification class.
    Suppressed,
    /// Not delivered (quota, inactive device, expired subscription, or undocumented).
    Dropped,
}

/// `X-SubscriptionStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum SubscriptionStatus {
    /// The channel is valid.
    Active,
    /// The channel is gone: delete it.
    Expired,
}

/// `X-DeviceConnectionStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum DeviceStatus {
    /// The phone is connected.
    Connected,
    /// The phone is briefly unreachable.
    TempDisconnected,
    /// The phone is inactive: MPNS may block senders that insist.
    Inactive,
    /// The phone is disconnected.
    Disconnected,
}

/// A status header as read: absent (or `N/A`), a known value, or something else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum HeaderValue<T> {
    /// Missing, empty or `N/A`: not given.
    #[default]
    NotGiven,
    /// A recognised value.
    Known(T),
    /// Present but not a value MPNS documents.
    Unrecognized,
    /// Given more than once, with values that mean different things (read
    /// leniently): not a reply MPNS gives. Only readers that see every field
    /// ([`crate::http::ResponseReader`], [`Response::from_fields`]) can tell.
    Conflicting,
}

impl<T: Copy> HeaderValue<T> {
    /// The recognised value, if any.
    pub fn known(&self) -> Option<T> {
        match self {
            HeaderValue::Known(v) => Some(*v),
            _ => None,
        }
    }
}

/// Lower-cases ASCII letters and drops spaces, so that `Temp Disconnected`,
/// `tempdisconnected` and `TempDisconnected` compare equal (`canonical` is
/// lower case).
fn squeezed_eq(value: &[u8], canonical: &str) -> bool {
    let mut want = canonical.bytes();
    value
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .all(|b| want.next() == Some(b.to_ascii_lowercase()))
        && want.next().is_none()
}

/// The value's place in `names`, read leniently. Not generic over the value
/// type, so microcontrollers keep one copy of it rather than three.
fn lenient(value: Option<&[u8]>, names: &[&str]) -> HeaderValue<usize> {
    let Some(value) = value else {
        return HeaderValue::NotGiven;
    };
    if value.iter().all(u8::is_ascii_whitespace) || squeezed_eq(value, "n/a") {
        return HeaderValue::NotGiven;
    }
    names
        .iter()
        .position(|name| squeezed_eq(value, name))
        .map_or(HeaderValue::Unrecognized, HeaderValue::Known)
}

/// The value [`lenient`] found, from the table of values in the order of its names.
fn known<T: Copy>(found: HeaderValue<usize>, values: &[T]) -> HeaderValue<T> {
    match found {
        HeaderValue::Known(i) => values
            .get(i)
            .map_or(HeaderValue::Unrecognized, |v| HeaderValue::Known(*v)),
        HeaderValue::NotGiven => HeaderValue::NotGiven,
        HeaderValue::Unrecognized => HeaderValue::Unrecognized,
        HeaderValue::Conflicting => HeaderValue::Conflicting,
    }
}

const NOTIFICATION_NAMES: [&str; 4] = ["received", "queuefull", "suppressed", "dropped"];
const NOTIFICATION_VALUES: [NotificationStatus; 4] = [
    NotificationStatus::Received,
    NotificationStatus::QueueFull,
    NotificationStatus::Suppressed,
    NotificationStatus::Dropped,
];

const SUBSCRIPTION_NAMES: [&str; 2] = ["active", "expired"];
const SUBSCRIPTION_VALUES: [SubscriptionStatus; 2] =
    [SubscriptionStatus::Active, SubscriptionStatus::Expired];

const DEVICE_NAMES: [&str; 5] = [
    "connected",
    "tempdisconnected",
    "temporarilydisconnected",
    "inactive",
    "disconnected",
];
const DEVICE_VALUES: [DeviceStatus; 5] = [
    DeviceStatus::Connected,
    DeviceStatus::TempDisconnected,
    DeviceStatus::TempDisconnected,
    DeviceStatus::Inactive,
    DeviceStatus::Disconnected,
];

/// `X-MessageID` trimmed of HTTP's (ASCII) whitespace, read as
/// [`MessageId::parse`] reads it (`8-4-4-4-12` hex digits in either case),
/// at fixed offsets.
fn message_id(value: &[u8]) -> Option<MessageId> {
    /// Where each byte's two hex digits start.
    const AT: [u8; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let text: &[u8; 36] = value.trim_ascii().try_into().ok()?;
    if [8, 13, 18, 23].iter().any(|&i| text[i] != b'-') {
        return None;
    }
    let hex = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        _ => match c | 0x20 {
            l @ b'a'..=b'f' => Some(l - b'a' + 10),
            _ => None,
        },
    };
    let mut id = [0; 16];
    for (byte, &at) in id.iter_mut().zip(&AT) {
        let at = usize::from(at);
        *byte = hex(text[at])? << 4 | hex(text[at + 1])?;
    }
    Some(MessageId(id))
}

/// What the response's `X-MessageID` says about the id that was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MessageIdEcho {
    /// The echo is the id sent (or the all-zero id when none was sent).
    Matches,
    /// The echo is another id: the response may belong to another request.
    Mismatch,
    /// No echo, or one that is not a UUID.
    NotGiven,
}

/// The header fields a [`Response`] reads.
pub(crate) const HEADERS: [&str; 5] = [
    "X-NotificationStatus",
    "X-SubscriptionStatus",
    "X-DeviceConnectionStatus",
    "X-MessageID",
    "Retry-After",
];

/// The parts of an MPNS response that matter, read leniently
/// (`docs/protocol.md`, "Reading a response").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// `X-NotificationStatus`.
    pub notification: HeaderValue<NotificationStatus>,
    /// `X-SubscriptionStatus`.
    pub subscription: HeaderValue<SubscriptionStatus>,
    /// `X-DeviceConnectionStatus`.
    pub device: HeaderValue<DeviceStatus>,
    /// `X-MessageID`, when it is a UUID.
    pub message_id: Option<MessageId>,
    /// `Retry-After` in seconds, when given as a number.
    pub retry_after_s: Option<u32>,
}

impl Response {
    /// Builds a response from a status code and a header lookup. `header` must
    /// find names case-insensitively (as hyper's `HeaderMap` and embedded-svc do)
    /// and return the raw value bytes. A lookup gives one value per name, so a
    /// repeated status header is not seen: where the client can list every
    /// field, [`Response::from_fields`] is stricter.
    pub fn from_parts<'h>(status: u16, header: impl Fn(&str) -> Option<&'h [u8]>) -> Self {
        Self::from_values(status, HEADERS.map(header))
    }

    /// Builds a response from a status code and every header field, in the
    /// order received, repeated names included (as `HeaderMap::iter` gives
    /// them). Names are matched ignoring case; the first value of each header
    /// counts, and a status header repeated with a value that means something
    /// else is [`HeaderValue::Conflicting`] (`docs/protocol.md`, "Reading a
    /// response").
    pub fn from_fields<'h, N: AsRef<[u8]>>(
        status: u16,
        fields: impl IntoIterator<Item = (N, &'h [u8])>,
    ) -> Self {
        let mut found = StatusFields::default();
        for (name, value) in fields {
            let name = name.as_ref();
            if let Some(i) = HEADERS
                .iter()
                .position(|h| h.as_bytes().eq_ignore_ascii_case(name))
            {
                found.add(i, value);
            }
        }
        found.response(status)
    }

    /// Builds a response from the values of the [`HEADERS`], in that order.
    // Inlined into the reader, it costs the firmware flash.
    #[inline(never)]
    pub(crate) fn from_values(status: u16, values: [Option<&[u8]>; 5]) -> Self {
        let [
            notification,
            subscription,
            device,
            message_id_value,
            retry_after,
        ] = values;
        Response {
            status,
            notification: known(
                lenient(notification, &NOTIFICATION_NAMES),
                &NOTIFICATION_VALUES,
            ),
            subscription: known(
                lenient(subscription, &SUBSCRIPTION_NAMES),
                &SUBSCRIPTION_VALUES,
            ),
            device: known(lenient(device, &DEVICE_NAMES), &DEVICE_VALUES),
            message_id: message_id_value.and_then(message_id),
            retry_after_s: retry_after.and_then(parse_delay_seconds),
        }
    }

    /// Compares the `X-MessageID` echo with the id sent (`None`: none was sent).
    pub fn message_id_echo(&self, sent: Option<MessageId>) -> MessageIdEcho {
        match self.message_id {
            None => MessageIdEcho::NotGiven,
            Some(echo) if echo == sent.unwrap_or(MessageId::NIL) => MessageIdEcho::Matches,
            Some(_) => MessageIdEcho::Mismatch,
        }
    }
}

/// The [`HEADERS`] of one response, gathered field by field by readers that
/// see every field: the first value of each, and which status headers came
/// again with a value that means something else.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StatusFields<'h> {
    values: [Option<&'h [u8]>; 5],
    /// Bit `i`: header `i` (one of the three status headers) conflicts.
    conflicting: u8,
}

/// What value `value` of status header `i` (0 to 2, in [`HEADERS`] order)
/// means: its place in the names, aliases folded, for comparing two values
/// of one header.
fn meaning(i: usize, value: &[u8]) -> HeaderValue<usize> {
    let names: &[&str] = match i {
        0 => &NOTIFICATION_NAMES,
        1 => &SUBSCRIPTION_NAMES,
        _ => &DEVICE_NAMES,
    };
    match lenient(Some(value), names) {
        // `temporarilydisconnected` is `tempdisconnected`.
        HeaderValue::Known(2) if i == 2 => HeaderValue::Known(1),
        m => m,
    }
}

impl<'h> StatusFields<'h> {
    /// A field whose name is `HEADERS[i]`.
    // Inlined into the reader, it costs the firmware flash.
    #[inline(never)]
    pub(crate) fn add(&mut self, i: usize, value: &'h [u8]) {
        let Some(slot) = self.values.get_mut(i) else {
            return;
        };
        match *slot {
            None => *slot = Some(value),
            // X-MessageID and Retry-After: the first one counts.
            Some(first) if i < 3 => {
                if meaning(i, first) != meaning(i, value) {
                    self.conflicting |= 1 << i;
                }
            }
            Some(_) => {}
        }
    }

    pub(crate) fn response(&self, status: u16) -> Response {
        let mut r = Response::from_values(status, self.values);
        let conflicting = |bit: u8| self.conflicting & (1 << bit) != 0;
        if conflicting(0) {
            r.notification = HeaderValue::Conflicting;
        }
        if conflicting(1) {
            r.subscription = HeaderValue::Conflicting;
        }
        if conflicting(2) {
            r.device = HeaderValue::Conflicting;
        }
        r
    }
}

/// `Retry-After` as delta-seconds, saturating at `u32::MAX` (a longer wait
/// than that is still the longest); HTTP dates are not used by MPNS and are ignored.
fn parse_delay_seconds(value: &[u8]) -> Option<u32> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u32, |acc, d| {
        acc.saturating_mul(10).saturating_add(u32::from(d - b'0'))
    }))
}

/// Why a notification should be tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum RetryReason {
    /// 200 QueueFull: the device's queue is full.
    QueueFull,
    /// 406: the daily quota or the per-second rate was reached.
    RateLimited,
    /// 412: the device is inactive.
    DeviceInactive,
    /// 503: MPNS is unavailable.
    ServiceUnavailable,
    /// 429: too many requests (not documented for MPNS).
    TooManyRequests,
    /// Another 5xx status (not documented for MPNS).
    ServerError,
    /// The connection failed: refused, reset, timed out, TLS.
    Transport,
}

/// What a retry pauses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Scope {
    /// Only this notification waits (others to the channel wait behind it, in order).
    Message,
    /// Every notification to this channel waits.
    Channel,
    /// Every channel on this host waits.
    Host,
}

/// How long a retry waits, before `Retry-After` and jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Backoff {
    /// From the policy's base (1 min), doubling per consecutive failure, capped (60 min).
    Exponential,
    /// The policy's channel pause (60 min), at most one attempt per pause.
    ChannelPause,
}

/// Why a notification was refused for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum RejectReason {
    /// 400: bad XML, bad URI or too large. The channel is kept.
    BadRequest,
    /// 401: certificate and channel do not match. The channel is kept.
    Unauthorized,
    /// 403: the certificate is not associated with an app.
    Forbidden,
    /// 405: only POST is allowed (a bug in the sender).
    MethodNotAllowed,
    /// Another 4xx status, not documented for MPNS.
    OtherClientError,
}

/// Why a response is not one MPNS gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AnomalyReason {
    /// 200 without an `X-NotificationStatus`.
    MissingNotificationStatus,
    /// 200 with an `X-NotificationStatus` MPNS does not document.
    UnknownNotificationStatus,
    /// A status code MPNS never answers with (1xx, 2xx other than 200, 3xx).
    UnexpectedStatus,
    /// Not an answer: the sender could not read back the request it had
    /// stored (status 0). Requests are validated on submit and on restore, so
    /// this is a bug if it is ever seen; the notification ends rather than
    /// stay queued.
    UnreadableStoredRequest,
    /// A status header given twice with values that mean different things
    /// ([`HeaderValue::Conflicting`]): nothing can be said about delivery.
    ConflictingStatusHeaders,
}

/// What a response means for the notification (the policy table of
/// `docs/protocol.md`, "What each response means").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Outcome {
    /// 200 Received: queued at MPNS.
    Accepted {
        /// `X-DeviceConnectionStatus`, when given.
        device: Option<DeviceStatus>,
    },
    /// Try again later.
    Retry {
        /// Why.
        reason: RetryReason,
        /// What waits.
        scope: Scope,
        /// How long, before `Retry-After` and jitter.
        backoff: Backoff,
        /// `Retry-After` in seconds: honoured when longer than the policy.
        retry_after_s: Option<u32>,
    },
    /// 200 Suppressed: not delivered, by the app's choice. Final.
    Suppressed,
    /// 200 Dropped: not delivered. Final.
    Dropped,
    /// 404 or `X-SubscriptionStatus: Expired`: the channel is gone. Final for
    /// every notification to it; the application should delete it.
    Expired,
    /// Refused for good; the channel is kept.
    Rejected {
        /// Why.
        reason: RejectReason,
        /// The HTTP status.
        status: u16,
    },
    /// Not an MPNS reply. Final, and not a success.
    Anomaly {
        /// Why.
        reason: AnomalyReason,
        /// The HTTP status.
        status: u16,
    },
}

impl Outcome {
    /// Whether the notification is done (everything but [`Outcome::Retry`]).
    pub const fn is_final(&self) -> bool {
        !matches!(self, Outcome::Retry { .. })
    }

    /// The outcome of a transport failure (refused, reset, timeout, TLS): the
    /// same backoff as 503, for the whole host.
    pub const fn transport_failure() -> Self {
        Outcome::Retry {
            reason: RetryReason::Transport,
            scope: Scope::Host,
            backoff: Backoff::Exponential,
            retry_after_s: None,
        }
    }

    /// Short snake_case name: `accepted`, `retry`, `suppressed`, `dropped`,
    /// `expired`, `rejected`, `anomaly`.
    pub const fn name(&self) -> &'static str {
        match self {
            Outcome::Accepted { .. } => "accepted",
            Outcome::Retry { .. } => "retry",
            Outcome::Suppressed => "suppressed",
            Outcome::Dropped => "dropped",
            Outcome::Expired => "expired",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Anomaly { .. } => "anomaly",
        }
    }
}

/// Decides what a response means: exactly the policy table of
/// `docs/protocol.md`, "What each response means".
pub fn classify(r: &Response) -> Outcome {
    let retry = |reason, scope, backoff| Outcome::Retry {
        reason,
        scope,
        backoff,
        retry_after_s: r.retry_after_s,
    };
    if matches!(r.notification, HeaderValue::Conflicting)
        || matches!(r.subscription, HeaderValue::Conflicting)
        || matches!(r.device, HeaderValue::Conflicting)
    {
        return Outcome::Anomaly {
            reason: AnomalyReason::ConflictingStatusHeaders,
            status: r.status,
        };
    }
    if r.subscription == HeaderValue::Known(SubscriptionStatus::Expired) {
        return Outcome::Expired;
    }
    match r.status {
        200 => match r.notification {
            HeaderValue::Known(NotificationStatus::Received) => Outcome::Accepted {
                device: r.device.known(),
            },
            HeaderValue::Known(NotificationStatus::QueueFull) => {
                retry(RetryReason::QueueFull, Scope::Message, Backoff::Exponential)
            }
            HeaderValue::Known(NotificationStatus::Suppressed) => Outcome::Suppressed,
            HeaderValue::Known(NotificationStatus::Dropped) => Outcome::Dropped,
            HeaderValue::NotGiven => Outcome::Anomaly {
                reason: AnomalyReason::MissingNotificationStatus,
                status: 200,
            },
            HeaderValue::Unrecognized | HeaderValue::Conflicting => Outcome::Anomaly {
                reason: AnomalyReason::UnknownNotificationStatus,
                status: 200,
            },
        },
        404 => Outcome::Expired,
        406 => retry(
            RetryReason::RateLimited,
            Scope::Channel,
            Backoff::ChannelPause,
        ),
        412 => retry(
            RetryReason::DeviceInactive,
            Scope::Channel,
            Backoff::ChannelPause,
        ),
        503 => retry(
            RetryReason::ServiceUnavailable,
            Scope::Host,
            Backoff::Exponential,
        ),
        429 => retry(
            RetryReason::TooManyRequests,
            Scope::Host,
            Backoff::Exponential,
        ),
        500..=599 => retry(RetryReason::ServerError, Scope::Host, Backoff::Exponential),
        status @ 400..=499 => Outcome::Rejected {
            reason: match status {
                400 => RejectReason::BadRequest,
                401 => RejectReason::Unauthorized,
                403 => RejectReason::Forbidden,
                405 => RejectReason::MethodNotAllowed,
                _ => RejectReason::OtherClientError,
            },
            status,
        },
        status => Outcome::Anomaly {
            reason: AnomalyReason::UnexpectedStatus,
            status,
        },
    }
}

/// Retry timing (`docs/protocol.md`, "Retries and backoff").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct RetryPolicy {
    /// First exponential delay (1 min).
    pub base: Duration,
    /// Largest exponential delay (60 min).
    pub cap: Duration,
    /// Pause of a channel after 406 or 412, and so the least time between
    /// two attempts to such a channel (60 min).
    pub channel_pause: Duration,
    /// Jitter in percent either way (20): spreads retries so that paused
    /// channels and hosts do not all come back at once.
    pub jitter_percent: u8,
}

/// Where in the jitter range a delay falls: from -1000 (shortest) to 1000
/// (longest) per mille. A channel pause is never shortened: there the size
/// alone counts, -1000 and 1000 both lengthening it the most. The core has no
/// randomness; the sender draws it from the caller's seed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Jitter(i16);

impl Jitter {
    /// No jitter: the policy's delay exactly.
    pub const NONE: Jitter = Jitter(0);

    /// A position in the range, clamped to -1000..=1000.
    pub const fn per_mille(value: i16) -> Self {
        Jitter(if value < -1000 {
            -1000
        } else if value > 1000 {
            1000
        } else {
            value
        })
    }
}

impl RetryPolicy {
    /// The policy of `docs/protocol.md`, "Retries and backoff".
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        base: Duration::from_mins(1),
        cap: Duration::from_mins(60),
        channel_pause: Duration::from_mins(60),
        jitter_percent: 20,
    };

    /// The delay before the next attempt. `failures` counts consecutive
    /// failures of this kind, the current one included (1 for the first).
    ///
    /// Jitter may shorten an exponential delay but never a channel pause
    /// (MPNS may block a sender that tries an inactive device more than once an
    /// hour), and a longer `Retry-After` always wins.
    pub fn delay(
        &self,
        backoff: Backoff,
        failures: u32,
        retry_after_s: Option<u32>,
        jitter: Jitter,
    ) -> Duration {
        let (policy, shorter) = match backoff {
            Backoff::Exponential => {
                // 2^(failures - 1), saturating: past 63 doublings only the cap bounds it.
                let factor = 1u64
                    .checked_shl(failures.saturating_sub(1))
                    .unwrap_or(u64::MAX);
                let d = self
                    .base
                    .as_millis()
                    .saturating_mul(factor)
                    .min(self.cap.as_millis());
                (d, jitter.0 < 0)
            }
            Backoff::ChannelPause => (self.channel_pause.as_millis(), false),
        };
        // policy × (1 ± |jitter|/1000 × percent/100), in integers, the spread
        // rounded toward zero. policy × k / 100,000 is computed as
        // (policy / 100,000) × k + (policy % 100,000) × k / 100,000, which is
        // exact and stays in 64 bits (a spread too large saturates, as does the
        // delay it makes).
        let k = u64::from(jitter.0.unsigned_abs()) * u64::from(self.jitter_percent);
        let (high, low) = div_rem(policy, 100_000);
        let spread = high
            .saturating_mul(k)
            .saturating_add(div_rem(low * k, 100_000).0);
        let jittered = if shorter {
            policy.saturating_sub(spread)
        } else {
            policy.saturating_add(spread)
        };
        let asked = retry_after_s.map_or(0, |s| u64::from(s).saturating_mul(1000));
        Duration::from_millis(jittered.max(asked))
    }

    /// The delay before a first retry after `outcome`, without jitter; `None`
    /// when the outcome is final.
    pub fn first_retry_delay(&self, outcome: &Outcome) -> Option<Duration> {
        match *outcome {
            Outcome::Retry {
                backoff,
                retry_after_s,
                ..
            } => Some(self.delay(backoff, 1, retry_after_s, Jitter::NONE)),
            _ => None,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::DEFAULT
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Accepted { device: Some(d) } => write!(f, "accepted (device {d:?})"),
            Outcome::Accepted { device: None } => f.write_str("accepted"),
            Outcome::Retry { reason, scope, .. } => {
                write!(f, "retry ({reason:?}, pauses the {scope:?})")
            }
            Outcome::Suppressed => f.write_str("suppressed by the app's channel"),
            Outcome::Dropped => f.write_str("dropped by MPNS"),
            Outcome::Expired => f.write_str("channel expired: delete it"),
            Outcome::Rejected { reason, status } => {
                write!(f, "rejected with {status} ({reason:?})")
            }
            Outcome::Anomaly { reason, status } => {
                write!(f, "not an MPNS reply: {status} ({reason:?})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_reads_as_message_id_parse() {
        let id = b"0123abcd-EF01-2345-6789-abcdefABCDEF";
        let mut cases: [[u8; 36]; 1 + 36 * 5] = [*id; 1 + 36 * 5];
        for (i, case) in cases[1..].iter_mut().enumerate() {
            case[i / 5] = [b'-', b'0', b'g', b'G', 0xc3][i % 5];
        }
        for case in &cases {
            let parsed = core::str::from_utf8(case)
                .ok()
                .and_then(|t| MessageId::parse(t).ok());
            assert_eq!(message_id(case), parsed, "{case:?}");
        }
        assert_eq!(
            message_id(b"\t0123abcd-ef01-2345-6789-abcdefabcdef "),
            message_id(id)
        );
        assert_eq!(message_id(b"0123abcd-ef01-2345-6789-abcdefabcde"), None);
        assert_eq!(message_id(b""), None);
    }
}

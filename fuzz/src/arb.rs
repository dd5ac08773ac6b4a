//! Structured fuzz input, decoded with `arbitrary` (fuzz crate only).

use arbitrary::{Arbitrary, Unstructured};
use mpns_proto::{Duration, Limits, MessageId, Notification, Options, RetryPolicy};

use crate::checks::classify::Input;

/// How the encode target picks size limits.
#[derive(Arbitrary, Debug)]
pub enum LimitsChoice {
    /// The protocol's defaults (`RetryPolicy::DEFAULT`).
    Default,
    /// Small limits around real sizes: payload ×16, raw ×8, headers ×8 bytes.
    Small(u8, u8, u8),
    /// Whatever `arbitrary` made of the options' limits.
    Given,
}

/// Input of the `encode` target.
#[derive(Arbitrary, Debug)]
pub struct EncodeInput<'a> {
    /// Index into [`crate::checks::encode::channel`].
    pub channel: u8,
    /// Limits.
    pub limits: LimitsChoice,
    /// The notification.
    pub notification: Notification<'a>,
    /// Its options.
    pub options: Options<'a>,
}

impl EncodeInput<'_> {
    /// The options with the chosen limits.
    pub fn options(&self) -> Options<'_> {
        let limits = match self.limits {
            LimitsChoice::Default => Limits::DEFAULT,
            LimitsChoice::Small(p, r, h) => Limits {
                payload: usize::from(p) * 16,
                raw: usize::from(r) * 8,
                callback_body: 1024,
                headers: usize::from(h) * 8,
            },
            LimitsChoice::Given => self.options.limits,
        };
        Options {
            limits,
            ..self.options
        }
    }
}

/// A header name: one of MPNS's, in a case chosen by the mask, or any.
#[derive(Arbitrary, Debug)]
pub enum HeaderName<'a> {
    /// `X-NotificationStatus`.
    Notification(u8),
    /// `X-SubscriptionStatus`.
    Subscription(u8),
    /// `X-DeviceConnectionStatus`.
    Device(u8),
    /// `X-MessageID`.
    MessageId(u8),
    /// `Retry-After`.
    RetryAfter(u8),
    /// Anything.
    Other(&'a str),
}

/// A header value: a known spelling, or any bytes.
#[derive(Arbitrary, Debug)]
pub enum HeaderValue<'a> {
    /// One of the values the protocol defines, padded with spaces when the flag is set.
    Known(u8, bool),
    /// A UUID.
    Uuid([u8; 16]),
    /// A number of seconds.
    Seconds(u64),
    /// Anything.
    Bytes(&'a [u8]),
}

const KNOWN: [&str; 20] = [
    "Received",
    "QueueFull",
    "Suppressed",
    "Dropped",
    "Active",
    "Expired",
    "Connected",
    "TempDisconnected",
    "Temp Disconnected",
    "Temporarily Disconnected",
    "InActive",
    "Inactive",
    "Disconnected",
    "N/A",
    "",
    "received",
    "EXPIRED",
    "00000000-0000-0000-0000-000000000000",
    "120",
    "99999999999",
];

fn cased(name: &str, mask: u8) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask & (1 << (i % 8)) != 0 {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

/// Input of the `classify` target.
#[derive(Arbitrary, Debug)]
pub struct ClassifyInput<'a> {
    /// Status code.
    pub status: u16,
    /// Header fields.
    pub headers: Vec<(HeaderName<'a>, HeaderValue<'a>)>,
    /// Policy: base, cap and channel pause in milliseconds, jitter percent.
    pub policy: (u64, u64, u64, u8),
    /// Use the default policy (`RetryPolicy::DEFAULT`) instead.
    pub default_policy: bool,
    /// Consecutive failures.
    pub failures: u32,
    /// Jitter per mille.
    pub jitter: i16,
    /// The message id sent.
    pub sent: Option<[u8; 16]>,
}

impl ClassifyInput<'_> {
    /// The plain input of the shared check.
    pub fn input(&self) -> Input {
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| {
                let name = match name {
                    HeaderName::Notification(m) => cased("X-NotificationStatus", *m),
                    HeaderName::Subscription(m) => cased("X-SubscriptionStatus", *m),
                    HeaderName::Device(m) => cased("X-DeviceConnectionStatus", *m),
                    HeaderName::MessageId(m) => cased("X-MessageID", *m),
                    HeaderName::RetryAfter(m) => cased("Retry-After", *m),
                    HeaderName::Other(s) => s.to_string(),
                };
                let value = match value {
                    HeaderValue::Known(i, pad) => {
                        let v = KNOWN[usize::from(*i) % KNOWN.len()];
                        if *pad {
                            format!(" {v}\t")
                        } else {
                            v.to_string()
                        }
                        .into_bytes()
                    }
                    HeaderValue::Uuid(id) => MessageId(*id).to_string().into_bytes(),
                    HeaderValue::Seconds(s) => s.to_string().into_bytes(),
                    HeaderValue::Bytes(b) => b.to_vec(),
                };
                (name, value)
            })
            .collect();
        let (base, cap, pause, jitter_percent) = self.policy;
        Input {
            status: self.status,
            headers,
            policy: if self.default_policy {
                RetryPolicy::DEFAULT
            } else {
                RetryPolicy {
                    base: Duration::from_millis(base),
                    cap: Duration::from_millis(cap),
                    channel_pause: Duration::from_millis(pause),
                    jitter_percent,
                }
            },
            failures: self.failures,
            jitter: self.jitter,
            sent: self.sent.map(MessageId),
        }
    }
}

/// Decodes `T` from all of `data`, as `fuzz_target!` does.
pub fn decode<'a, T: Arbitrary<'a>>(data: &'a [u8]) -> Option<T> {
    T::arbitrary_take_rest(Unstructured::new(data)).ok()
}

//! Records: the sender's changes as a journal keeps them, so that a sender
//! can be rebuilt after its process stopped (a deploy, a crash, a power cut).
//!
//! A sender asked to record (`GrowableSender::recording` with the `alloc` feature,
//! or with the `journal` feature the fixed `Sender::recording`)
//! hands out a [`Record`] for every change that matters after a restart:
//!
//! | record | when | what it keeps |
//! |---|---|---|
//! | start | first, and first of every compacted journal | the seed (channel ids are keyed by it), the next ticket, the quota window |
//! | submitted | a notification was queued | its ticket, deadline, tile key and request (channel URI, callback URI, body, kind, class, message id) |
//! | progress | an attempt goes on the wire, a retry was scheduled, a cancel waits for a response | the notification's stage, attempts and backoff state |
//! | finished | a notification ended | its ticket and result |
//! | channel | a channel's pause, expiry or quota use changed | the channel's policy state |
//! | host | a host's failures or pause changed | the host's policy state |
//!
//! Records carry state, not deltas: a later record of the same thing
//! replaces an earlier one, so replaying a record twice does no harm. The
//! storage (a journal file, flash) appends [`Record::encode`]'s bytes and
//! feeds them back through [`Record::decode`] and `replay` on start; every
//! field is checked there as untrusted input, as a snapshot's are.
//!
//! The encoding is this crate's own, little-endian, one kind byte first;
//! [`RECORD_FORMAT`] names its version (a store keeps it in its header).
//! Both senders write and read the same records: a gateway's journal
//! rebuilds a growable sender (a server tool), and a growable sender's
//! journal a fixed one, as far as it fits ([`ReplayError::Full`]).

use core::fmt;

use crate::options::MessageId;
use crate::request::{RequestKind, is_valid_class};
use crate::response::{AnomalyReason, DeviceStatus, RejectReason, RetryReason};
use crate::time::Instant;
use crate::uri::{ChannelUri, Uri, UriSplit};

use super::lifecycle::Stage;
use super::policy::{ChannelState, HostState, Note, Stored, stored_parts};
use super::quota::QuotaWindow;
use super::{ChannelId, Finished, Ticket};

/// Version of the record encoding.
pub const RECORD_FORMAT: u16 = 1;

/// One change to a sender's state, as a journal keeps it. Opaque: store
/// [`Record::encode`]'s bytes, give them back to [`Record::decode`].
#[derive(Clone, Copy, Debug)]
pub struct Record<'a>(pub(super) Inner<'a>);

/// Where a notification is, as recorded (a notification never records `Done`:
/// that is its `Finished` record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Progress {
    Queued,
    Waiting(Instant),
    InFlight,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Inner<'a> {
    Start {
        seed: u64,
        next_ticket: u64,
        quota_window_ms: u64,
    },
    Submitted {
        ticket: Ticket,
        deadline: Instant,
        tile: Option<u64>,
        stored: Stored,
        /// Channel URI, callback URI and body.
        bytes: &'a [u8],
    },
    Progress {
        ticket: Ticket,
        progress: Progress,
        attempts: u16,
        queue_full: u16,
        last_reason: Option<RetryReason>,
        cancel_requested: bool,
    },
    Finished {
        ticket: Ticket,
        result: Finished,
        attempts: u16,
    },
    Channel {
        id: ChannelId,
        host: u64,
        state: ChannelState<()>,
    },
    Host {
        key: u64,
        state: HostState,
    },
}

/// Why bytes are not a record: the field and the byte offset in the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RecordError {
    /// Byte offset in the record where the field starts.
    pub offset: usize,
    /// The field.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record byte {}: {}: {}",
            self.offset, self.field, self.reason
        )
    }
}

impl core::error::Error for RecordError {}

/// Why a record could not be replayed into a sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReplayError {
    /// The bytes are not a record.
    Record(RecordError),
    /// The records were made by a sender with another seed or quota window:
    /// channel ids or quota buckets would not match. Use the recorded settings.
    Settings {
        /// Which setting differs: `"seed"` or `"quota_window"`.
        setting: &'static str,
    },
    /// A second `submitted` record for a ticket, or tickets out of order.
    Ticket(Ticket),
    /// A channel was recorded on another host, or with another scheme
    /// (authenticated or not), than its URI names.
    Channel(ChannelId),
    /// The sender has already been used: replay into a new sender, before
    /// any submit or poll.
    NotFresh,
    /// The fixed sender has no room for what a record holds (the growable
    /// sender takes everything): records of a larger sender.
    Full {
        /// The notification whose `submitted` record did not fit (`None` for
        /// a channel or host record).
        ticket: Option<Ticket>,
        /// What is full: `"notification slots"` (all `Q` hold one),
        /// `"arena slot"` (the request is larger than one slot of the
        /// arena), `"channel table"` or `"host table"` (all `C` entries are
        /// in use).
        what: &'static str,
    },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Record(e) => write!(f, "{e}"),
            ReplayError::Settings { setting } => write!(
                f,
                "the records were made with another {setting}: start the sender with the recorded one"
            ),
            ReplayError::Ticket(t) => write!(
                f,
                "ticket {}: submitted twice, or after a later ticket",
                t.0
            ),
            ReplayError::Channel(id) => write!(
                f,
                "channel {:016x}: recorded on another host or scheme than its URI names",
                id.0
            ),
            ReplayError::NotFresh => {
                f.write_str("records can only be replayed into a sender not used yet")
            }
            ReplayError::Full { ticket, what } => {
                if let Some(t) = ticket {
                    write!(f, "ticket {}: ", t.0)?;
                }
                write!(
                    f,
                    "the records need more room than this sender's {what} has"
                )
            }
        }
    }
}

impl core::error::Error for ReplayError {}

impl From<RecordError> for ReplayError {
    fn from(e: RecordError) -> Self {
        ReplayError::Record(e)
    }
}

// ---- kinds and codes ------------------------------------------------------

const START: u8 = 1;
const SUBMITTED: u8 = 2;
const PROGRESS: u8 = 3;
const FINISHED: u8 = 4;
const CHANNEL: u8 = 5;
const HOST: u8 = 6;

/// Codes of an enum without fields, both ways.
macro_rules! codes {
    ($to:ident, $from:ident, $ty:ty { $($v:ident = $c:literal),* $(,)? }) => {
        fn $to(v: $ty) -> u8 {
            match v { $(<$ty>::$v => $c),* }
        }
        fn $from(c: u8) -> Option<$ty> {
            match c { $($c => Some(<$ty>::$v),)* _ => None }
        }
    };
}

codes!(retry_code, retry_of, RetryReason {
    QueueFull = 1, RateLimited = 2, DeviceInactive = 3, ServiceUnavailable = 4,
    TooManyRequests = 5, ServerError = 6, Transport = 7,
});
codes!(device_code, device_of, DeviceStatus {
    Connected = 1, TempDisconnected = 2, Inactive = 3, Disconnected = 4,
});
codes!(reject_code, reject_of, RejectReason {
    BadRequest = 1, Unauthorized = 2, Forbidden = 3, MethodNotAllowed = 4, OtherClientError = 5,
});
codes!(anomaly_code, anomaly_of, AnomalyReason {
    MissingNotificationStatus = 1, UnknownNotificationStatus = 2, UnexpectedStatus = 3,
    UnreadableStoredRequest = 4, ConflictingStatusHeaders = 5,
});
codes!(kind_code, kind_of, RequestKind {
    Toast = 1, Tile = 2, Raw = 3, CallbackRegistration = 4,
});

// ---- writing ----------------------------------------------------------------

/// Where encoded bytes go: a counter, a slice, or (with `alloc`) a `Vec`.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
    fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }
    fn u16(&mut self, v: u16) {
        self.put(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }
}

struct Count(usize);

impl Sink for Count {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

struct Slice<'b> {
    out: &'b mut [u8],
    at: usize,
}

impl Sink for Slice<'_> {
    fn put(&mut self, bytes: &[u8]) {
        // The caller checked the length first.
        if let Some(dst) = self.out.get_mut(self.at..self.at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }
}

#[cfg(feature = "alloc")]
impl Sink for alloc::vec::Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// The buffer given to [`Record::encode`] is shorter than [`Record::encoded_len`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RecordTooLarge {
    /// Bytes the record needs.
    pub needed: usize,
}

impl fmt::Display for RecordTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the record needs {} bytes", self.needed)
    }
}

impl core::error::Error for RecordTooLarge {}

fn put_instant(s: &mut impl Sink, t: Instant) {
    s.u64(t.as_millis());
}

fn put_finished(s: &mut impl Sink, result: &Finished) {
    match *result {
        Finished::Accepted { device } => {
            s.u8(1);
            s.u8(device.map_or(0, device_code));
        }
        Finished::Suppressed => s.u8(2),
        Finished::Dropped => s.u8(3),
        Finished::Rejected { reason, status } => {
            s.u8(4);
            s.u8(reject_code(reason));
            s.u16(status);
        }
        Finished::Anomaly { reason, status } => {
            s.u8(5);
            s.u8(anomaly_code(reason));
            s.u16(status);
        }
        Finished::ChannelExpired => s.u8(6),
        Finished::Superseded { by } => {
            s.u8(7);
            s.u64(by.0);
        }
        Finished::Cancelled => s.u8(8),
        Finished::GaveUp { last } => {
            s.u8(9);
            s.u8(last.map_or(0, retry_code));
        }
    }
}

impl Record<'_> {
    fn write(&self, s: &mut impl Sink) {
        match self.0 {
            Inner::Start {
                seed,
                next_ticket,
                quota_window_ms,
            } => {
                s.u8(START);
                s.u64(seed);
                s.u64(next_ticket);
                s.u64(quota_window_ms);
            }
            Inner::Submitted {
                ticket,
                deadline,
                tile,
                stored,
                bytes,
            } => {
                s.u8(SUBMITTED);
                s.u64(ticket.0);
                put_instant(s, deadline);
                match tile {
                    Some(t) => {
                        s.u8(1);
                        s.u64(t);
                    }
                    None => s.u8(0),
                }
                s.u8(kind_code(stored.kind));
                s.u8(u8::from(stored.class.is_some()));
                s.u8(stored.class.unwrap_or(0));
                match stored.message_id {
                    Some(MessageId(id)) => {
                        s.u8(1);
                        s.put(&id);
                    }
                    None => s.u8(0),
                }
                s.u32(stored.uri_len);
                s.u32(stored.callback_len);
                s.u32(stored.body_len);
                s.put(bytes.get(..stored.len()).unwrap_or(bytes));
            }
            Inner::Progress {
                ticket,
                progress,
                attempts,
                queue_full,
                last_reason,
                cancel_requested,
            } => {
                s.u8(PROGRESS);
                s.u64(ticket.0);
                match progress {
                    Progress::Queued => s.u8(0),
                    Progress::Waiting(until) => {
                        s.u8(1);
                        put_instant(s, until);
                    }
                    Progress::InFlight => s.u8(2),
                }
                s.u16(attempts);
                s.u16(queue_full);
                s.u8(last_reason.map_or(0, retry_code));
                s.u8(u8::from(cancel_requested));
            }
            Inner::Finished {
                ticket,
                result,
                attempts,
            } => {
                s.u8(FINISHED);
                s.u64(ticket.0);
                s.u16(attempts);
                put_finished(s, &result);
            }
            Inner::Channel { id, host, state } => {
                s.u8(CHANNEL);
                s.u64(id.0);
                s.u64(host);
                s.u8(u8::from(state.authenticated)
                    | u8::from(state.expired) << 1
                    | u8::from(state.expiry_reported) << 2);
                put_instant(s, state.paused_until);
                // Only the buckets with sends: most channels have one.
                let (newest, counts) = state.quota.parts();
                s.u64(newest);
                let used = counts.iter().filter(|&&c| c != 0).count();
                s.u8(used as u8);
                for (i, &c) in counts.iter().enumerate().filter(|(_, c)| **c != 0) {
                    s.u8(i as u8);
                    s.u16(c);
                }
            }
            Inner::Host { key, state } => {
                s.u8(HOST);
                s.u64(key);
                s.u16(state.failures);
                put_instant(s, state.paused_until);
            }
        }
    }

    /// Bytes [`Record::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        let mut count = Count(0);
        self.write(&mut count);
        count.0
    }

    /// Writes the record into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, RecordTooLarge> {
        let needed = self.encoded_len();
        if out.len() < needed {
            return Err(RecordTooLarge { needed });
        }
        let mut slice = Slice { out, at: 0 };
        self.write(&mut slice);
        Ok(needed)
    }

    /// Appends the record to `out`.
    #[cfg(feature = "alloc")]
    pub fn encode_to_vec(&self, out: &mut alloc::vec::Vec<u8>) {
        self.write(out);
    }

    /// The notification the record is about, if it is about one.
    pub fn ticket(&self) -> Option<Ticket> {
        match self.0 {
            Inner::Submitted { ticket, .. }
            | Inner::Progress { ticket, .. }
            | Inner::Finished { ticket, .. } => Some(ticket),
            _ => None,
        }
    }

    /// For the record of a notification's end: its ticket, result and attempts.
    pub fn finished(&self) -> Option<(Ticket, Finished, u16)> {
        match self.0 {
            Inner::Finished {
                ticket,
                result,
                attempts,
            } => Some((ticket, result, attempts)),
            _ => None,
        }
    }

    /// For the record that starts a journal: the seed the sender that made it
    /// was configured with (a sender that replays the records needs the same).
    pub fn seed(&self) -> Option<u64> {
        match self.0 {
            Inner::Start { seed, .. } => Some(seed),
            _ => None,
        }
    }

    /// Whether this is the record of a notification submitted.
    pub fn is_submitted(&self) -> bool {
        matches!(self.0, Inner::Submitted { .. })
    }
}

// ---- reading ----------------------------------------------------------------

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, field: &'static str, reason: &'static str) -> RecordError {
        RecordError {
            offset: self.at,
            field,
            reason,
        }
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], RecordError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| self.err(field, "the record ends inside it"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, RecordError> {
        Ok(self.take(1, field)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, RecordError> {
        let b = self.take(2, field)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, RecordError> {
        let mut a = [0; 4];
        a.copy_from_slice(self.take(4, field)?);
        Ok(u32::from_le_bytes(a))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, RecordError> {
        let mut a = [0; 8];
        a.copy_from_slice(self.take(8, field)?);
        Ok(u64::from_le_bytes(a))
    }

    fn instant(&mut self, field: &'static str) -> Result<Instant, RecordError> {
        self.u64(field).map(Instant::from_millis)
    }

    fn flag(&mut self, field: &'static str) -> Result<bool, RecordError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(RecordError {
                offset: self.at - 1,
                field,
                reason: "not 0 or 1",
            }),
        }
    }

    /// A code read by `of` (0 for `None` when `optional`).
    fn code<T>(
        &mut self,
        field: &'static str,
        optional: bool,
        of: fn(u8) -> Option<T>,
    ) -> Result<Option<T>, RecordError> {
        let c = self.u8(field)?;
        if optional && c == 0 {
            return Ok(None);
        }
        of(c).map(Some).ok_or(RecordError {
            offset: self.at - 1,
            field,
            reason: "unknown code",
        })
    }

    fn ticket(&mut self, field: &'static str) -> Result<Ticket, RecordError> {
        let t = self.u64(field)?;
        // Tickets start at 1; half the range is more than any sender reaches.
        if t == 0 || t > u64::MAX / 2 {
            return Err(RecordError {
                offset: self.at - 8,
                field,
                reason: "not a ticket a sender gives",
            });
        }
        Ok(Ticket(t))
    }

    fn finished(&mut self) -> Result<Finished, RecordError> {
        let at = self.at;
        Ok(match self.u8("result")? {
            1 => Finished::Accepted {
                device: self.code("result.device", true, device_of)?,
            },
            2 => Finished::Suppressed,
            3 => Finished::Dropped,
            4 => Finished::Rejected {
                reason: self
                    .code("result.reason", false, reject_of)?
                    .unwrap_or(RejectReason::OtherClientError),
                status: self.u16("result.status")?,
            },
            5 => Finished::Anomaly {
                reason: self
                    .code("result.reason", false, anomaly_of)?
                    .unwrap_or(AnomalyReason::UnexpectedStatus),
                status: self.u16("result.status")?,
            },
            6 => Finished::ChannelExpired,
            7 => Finished::Superseded {
                by: self.ticket("result.by")?,
            },
            8 => Finished::Cancelled,
            9 => Finished::GaveUp {
                last: self.code("result.last", true, retry_of)?,
            },
            _ => {
                return Err(RecordError {
                    offset: at,
                    field: "result",
                    reason: "unknown code",
                });
            }
        })
    }
}

impl<'a> Record<'a> {
    /// Reads a record written by [`Record::encode`]. Every field is checked;
    /// a request's URIs, kind and class are checked as on submit.
    pub fn decode(bytes: &'a [u8]) -> Result<Record<'a>, RecordError> {
        let mut r = Reader { bytes, at: 0 };
        let inner = match r.u8("kind")? {
            START => Inner::Start {
                seed: r.u64("seed")?,
                next_ticket: r.ticket("next_ticket")?.0,
                quota_window_ms: r.u64("quota_window")?,
            },
            SUBMITTED => {
                let ticket = r.ticket("ticket")?;
                let deadline = r.instant("deadline")?;
                let tile = if r.flag("tile")? {
                    Some(r.u64("tile")?)
                } else {
                    None
                };
                let kind = r
                    .code("request.kind", false, kind_of)?
                    .unwrap_or(RequestKind::Raw);
                let class_at = r.at;
                let class = if r.flag("request.class")? {
                    Some(r.u8("request.class")?)
                } else {
                    None
                };
                let class_ok = match kind {
                    RequestKind::CallbackRegistration => class.is_none(),
                    _ => class.is_some_and(is_valid_class),
                };
                if !class_ok {
                    return Err(RecordError {
                        offset: class_at,
                        field: "request.class",
                        reason: "not a notification class MPNS defines for this kind",
                    });
                }
                let message_id = if r.flag("request.message_id")? {
                    let mut id = [0; 16];
                    id.copy_from_slice(r.take(16, "request.message_id")?);
                    Some(MessageId(id))
                } else {
                    None
                };
                let stored = Stored {
                    kind,
                    class,
                    message_id,
                    uri_len: r.u32("request.uri_len")?,
                    callback_len: r.u32("request.callback_len")?,
                    body_len: r.u32("request.body_len")?,
                };
                let parts_at = r.at;
                let len = (stored.uri_len as usize)
                    .checked_add(stored.callback_len as usize)
                    .and_then(|n| n.checked_add(stored.body_len as usize))
                    .ok_or_else(|| r.err("request", "lengths overflow"))?;
                let bytes = r.take(len, "request")?;
                check_request(&stored, bytes).map_err(|(field, reason)| RecordError {
                    offset: parts_at,
                    field,
                    reason,
                })?;
                Inner::Submitted {
                    ticket,
                    deadline,
                    tile,
                    stored,
                    bytes,
                }
            }
            PROGRESS => {
                let ticket = r.ticket("ticket")?;
                let progress = match r.u8("stage")? {
                    0 => Progress::Queued,
                    1 => Progress::Waiting(r.instant("stage.until")?),
                    2 => Progress::InFlight,
                    _ => {
                        return Err(RecordError {
                            offset: r.at - 1,
                            field: "stage",
                            reason: "unknown code",
                        });
                    }
                };
                Inner::Progress {
                    ticket,
                    progress,
                    attempts: r.u16("attempts")?,
                    queue_full: r.u16("queue_full")?,
                    last_reason: r.code("last_reason", true, retry_of)?,
                    cancel_requested: r.flag("cancel_requested")?,
                }
            }
            FINISHED => Inner::Finished {
                ticket: r.ticket("ticket")?,
                attempts: r.u16("attempts")?,
                result: r.finished()?,
            },
            CHANNEL => {
                let id = ChannelId(r.u64("channel")?);
                let host = r.u64("host")?;
                let flags_at = r.at;
                let flags = r.u8("flags")?;
                if flags > 0b111 {
                    return Err(RecordError {
                        offset: flags_at,
                        field: "flags",
                        reason: "unknown flags",
                    });
                }
                let paused_until = r.instant("paused_until")?;
                let newest_at = r.at;
                let newest = r.u64("quota.newest")?;
                let mut counts = [0u16; QuotaWindow::RING];
                let used_at = r.at;
                let used = usize::from(r.u8("quota.buckets")?);
                if used > QuotaWindow::RING {
                    return Err(RecordError {
                        offset: used_at,
                        field: "quota.buckets",
                        reason: "more buckets than a window has",
                    });
                }
                // Buckets in increasing order, each with sends: one encoding per window.
                let mut next = 0;
                for _ in 0..used {
                    let at = r.at;
                    let i = usize::from(r.u8("quota.bucket")?);
                    let count = r.u16("quota.count")?;
                    if i < next || i >= QuotaWindow::RING || count == 0 {
                        return Err(RecordError {
                            offset: at,
                            field: "quota.bucket",
                            reason: "out of order, beyond the window, or empty",
                        });
                    }
                    counts[i] = count;
                    next = i + 1;
                }
                Inner::Channel {
                    id,
                    host,
                    state: ChannelState {
                        host: (),
                        authenticated: flags & 1 != 0,
                        paused_until,
                        expired: flags & 2 != 0,
                        expiry_reported: flags & 4 != 0,
                        quota: QuotaWindow::from_parts(newest, counts).ok_or(RecordError {
                            offset: newest_at,
                            field: "quota.newest",
                            reason: "beyond any clock",
                        })?,
                    },
                }
            }
            HOST => Inner::Host {
                key: r.u64("host")?,
                state: HostState {
                    failures: r.u16("failures")?,
                    paused_until: r.instant("paused_until")?,
                    failure_serial: 0,
                },
            },
            _ => {
                return Err(RecordError {
                    offset: 0,
                    field: "kind",
                    reason: "unknown record kind",
                });
            }
        };
        if r.at != bytes.len() {
            return Err(r.err("end", "bytes after the record"));
        }
        Ok(Record(inner))
    }
}

/// Checks a recorded request as submit would: its channel URI parses, a
/// callback URI is valid and only on an authenticated channel. Returns the
/// parsed channel's parts.
fn check_request(stored: &Stored, bytes: &[u8]) -> Result<UriSplit, (&'static str, &'static str)> {
    let (uri, callback, _) =
        stored_parts(bytes, stored).ok_or(("request.uri", "not UTF-8 text"))?;
    let channel = ChannelUri::parse(uri).map_err(|_| ("request.uri", "not a valid channel URI"))?;
    match (stored.kind, callback) {
        (RequestKind::CallbackRegistration, None) => {
            return Err(("request.callback", "a callback registration needs one"));
        }
        (RequestKind::CallbackRegistration, Some(cb)) => {
            if !channel.is_authenticated() || Uri::parse(cb).is_err() {
                return Err(("request.callback", "not valid for this channel"));
            }
        }
        (_, Some(_)) => return Err(("request.callback", "only a callback registration has one")),
        (_, None) => {}
    }
    Ok(channel.split())
}

// ---- making records -------------------------------------------------------

// Used by the storages that record (the growable sender, and the fixed one
// with `journal`).
#[cfg_attr(not(any(feature = "alloc", feature = "journal")), allow(dead_code))]
impl<'a> Record<'a> {
    pub(super) fn start(seed: u64, next_ticket: u64, quota_window_ms: u64) -> Self {
        Record(Inner::Start {
            seed,
            next_ticket,
            quota_window_ms,
        })
    }

    pub(super) fn submitted<P>(ticket: Ticket, note: &Note<P>, bytes: &'a [u8]) -> Self {
        Record(Inner::Submitted {
            ticket,
            deadline: note.deadline,
            tile: note.tile,
            stored: note.stored,
            bytes,
        })
    }

    /// The progress of a notification not finished (`None` when it is).
    pub(super) fn progress<P>(ticket: Ticket, stage: Stage, note: &Note<P>) -> Option<Self> {
        let progress = match stage {
            Stage::Queued => Progress::Queued,
            Stage::Waiting { until } => Progress::Waiting(until),
            Stage::InFlight => Progress::InFlight,
            Stage::Done { .. } => return None,
        };
        Some(Record(Inner::Progress {
            ticket,
            progress,
            attempts: note.attempts,
            queue_full: note.queue_full,
            last_reason: note.last_reason,
            cancel_requested: note.cancel_requested,
        }))
    }

    pub(super) fn finished_of(ticket: Ticket, result: Finished, attempts: u16) -> Self {
        Record(Inner::Finished {
            ticket,
            result,
            attempts,
        })
    }

    pub(super) fn channel<H>(id: ChannelId, host: u64, state: &ChannelState<H>) -> Self {
        Record(Inner::Channel {
            id,
            host,
            state: state.with_host(()),
        })
    }

    pub(super) fn host(key: u64, state: HostState) -> Self {
        Record(Inner::Host { key, state })
    }
}

/// Checks a `start` record's settings against the replaying sender's.
#[cfg_attr(not(any(feature = "alloc", feature = "journal")), allow(dead_code))]
pub(super) fn check_settings(
    config: &super::SenderConfig,
    seed: u64,
    quota_window_ms: u64,
) -> Result<(), ReplayError> {
    if seed != config.seed {
        return Err(ReplayError::Settings { setting: "seed" });
    }
    if quota_window_ms != config.quota_window.as_millis() {
        return Err(ReplayError::Settings {
            setting: "quota_window",
        });
    }
    Ok(())
}

/// A recorded progress applied to a notification being rebuilt.
#[cfg_attr(not(any(feature = "alloc", feature = "journal")), allow(dead_code))]
pub(super) fn apply_progress<P>(
    stage: &mut Stage,
    note: &mut Note<P>,
    progress: Progress,
    attempts: u16,
    queue_full: u16,
    last_reason: Option<RetryReason>,
    cancel_requested: bool,
) {
    *stage = match progress {
        Progress::Queued => Stage::Queued,
        Progress::Waiting(until) => Stage::Waiting { until },
        Progress::InFlight => Stage::InFlight,
    };
    note.attempts = attempts;
    note.queue_full = queue_full;
    note.last_reason = last_reason;
    note.cancel_requested = cancel_requested;
}

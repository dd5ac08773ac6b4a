//! Every decision the sender makes about one notification, its channel and
//! its host, written once for both storages ([`super::fixed`] and, with
//! `alloc`, [`super::growable`]).
//!
//! The storages only find records and keep track of what is due; what a
//! record does next (send, wait, retry, give up, defer for quota, end) is
//! decided here, over the records' policy state: [`Note`] for a
//! notification, [`ChannelState`] for a channel, [`HostState`] for a host.

use crate::options::MessageId;
use crate::request::{Request, RequestKind};
use crate::response::{Jitter, MessageIdEcho, Outcome, Response, RetryReason, Scope};
use crate::time::Instant;
use crate::uri::{ChannelUri, UriSplit};

use super::lifecycle::{Input, Stage, transition};
use super::quota::QuotaWindow;
use super::{ChannelId, Event, SenderConfig, Ticket, TicketError};

/// What a queued request is, and how its bytes are laid out: channel URI,
/// then callback URI, then body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Stored {
    pub(super) kind: RequestKind,
    pub(super) class: Option<u8>,
    pub(super) message_id: Option<MessageId>,
    pub(super) uri_len: u32,
    pub(super) callback_len: u32,
    pub(super) body_len: u32,
}

impl Stored {
    pub(super) fn of(request: &Request<'_>, message_id: Option<MessageId>) -> Stored {
        Stored {
            kind: request.kind(),
            class: request.notification_class(),
            message_id,
            uri_len: request.channel().as_str().len() as u32,
            callback_len: request.callback_uri().map_or(0, str::len) as u32,
            body_len: request.body_len() as u32,
        }
    }

    /// The bytes it takes. Summed in `u32`, saturating, so that a hostile
    /// snapshot's lengths give the same (too large) total on 32- and 64-bit
    /// targets, never one that wrapped round to match its payload.
    pub(super) fn len(&self) -> usize {
        self.uri_len
            .saturating_add(self.callback_len)
            .saturating_add(self.body_len) as usize
    }
}

/// Informational event waiting for `poll_event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) enum Notice {
    Retrying { reason: RetryReason, at: Instant },
    Deferred { until: Instant },
}

impl Notice {
    pub(super) fn event(self, ticket: Ticket) -> Event {
        match self {
            Notice::Retrying { reason, at } => Event::Retrying { ticket, reason, at },
            Notice::Deferred { until } => Event::Deferred { ticket, until },
        }
    }
}

/// The policy state of one pending notification (its stage and ticket are
/// kept beside it by the storage), with where the storage keeps it (`P`:
/// each storage's own, kept here so that it packs with the small fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Note<P> {
    pub(super) place: P,
    pub(super) attempts: u16,
    /// Consecutive QueueFull answers, for its own backoff.
    pub(super) queue_full: u16,
    /// Its host's [`HostState::failure_serial`] when the attempt went out:
    /// its failure counts toward the host's backoff only if no other did
    /// since (one step per outage, `docs/protocol.md`, "Retries and backoff").
    pub(super) host_serial_at_send: u16,
    pub(super) deadline: Instant,
    pub(super) last_reason: Option<RetryReason>,
    pub(super) cancel_requested: bool,
    pub(super) deferred_reported: bool,
    pub(super) mismatch_unreported: bool,
    pub(super) notice: Option<Notice>,
    /// For superseding: a hash of the tile's `Id`.
    pub(super) tile: Option<u64>,
    pub(super) stored: Stored,
}

impl<P> Note<P> {
    /// A notification submitted at `now`.
    pub(super) fn new(
        config: &SenderConfig,
        now: Instant,
        place: P,
        tile: Option<u64>,
        stored: Stored,
    ) -> Self {
        Note {
            place,
            attempts: 0,
            queue_full: 0,
            host_serial_at_send: 0,
            deadline: now + config.deadline,
            last_reason: None,
            cancel_requested: false,
            deferred_reported: false,
            mismatch_unreported: false,
            notice: None,
            tile,
            stored,
        }
    }

    /// The clock input for this notification at `now`.
    pub(super) fn tick(&self, now: Instant) -> Input {
        Input::Tick {
            now,
            deadline: self.deadline,
            last: self.last_reason,
        }
    }
}

/// The policy state of one channel, with the index of its host (`H`: each
/// storage's own index type, kept here so that it packs with the flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct ChannelState<H> {
    pub(super) host: H,
    pub(super) authenticated: bool,
    /// 406/412 pause: no attempt before this.
    pub(super) paused_until: Instant,
    pub(super) expired: bool,
    pub(super) expiry_reported: bool,
    pub(super) quota: QuotaWindow,
}

impl<H> ChannelState<H> {
    pub(super) fn new(channel: &ChannelUri<'_>, host: H) -> Self {
        ChannelState {
            host,
            authenticated: channel.is_authenticated(),
            paused_until: Instant::ZERO,
            expired: false,
            expiry_reported: false,
            quota: QuotaWindow::default(),
        }
    }

    /// Whether the channel holds nothing worth remembering at `now` (no
    /// pause, no expiry, no sends counted in its quota window): with no
    /// notification queued for it, its entry can go.
    pub(super) fn is_idle(&self, config: &SenderConfig, now: Instant) -> bool {
        !self.expired
            && self.paused_until <= now
            && (self.authenticated || self.quota.is_empty(now, config.quota_window))
    }

    /// When its quota window holds nothing any more, for a channel with no
    /// pause and no expiry (`None` if it never needs to be kept).
    pub(super) fn quota_empty_at(&self, config: &SenderConfig) -> Option<Instant> {
        (!self.authenticated).then(|| self.quota.empty_at(config.quota_window))
    }

    /// The same state kept with another storage's host index (or none, in a
    /// record). An expiry is reported or not; without one the flag is clear.
    pub(super) fn with_host<H2>(&self, host: H2) -> ChannelState<H2> {
        ChannelState {
            host,
            authenticated: self.authenticated,
            paused_until: self.paused_until,
            expired: self.expired,
            expiry_reported: self.expired && self.expiry_reported,
            quota: self.quota,
        }
    }

    /// Forgets an expiry the application has seen; `false` if there is none to forget.
    pub(super) fn forget_expiry(&mut self) -> bool {
        if self.expired && self.expiry_reported {
            self.expired = false;
            self.expiry_reported = false;
            self.paused_until = Instant::ZERO;
            true
        } else {
            false
        }
    }
}

/// The policy state of one host (scheme, host and port).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct HostState {
    /// Host-wide failures in a row, for its backoff: one per outage, however
    /// many requests were in flight when it began; a success ends it.
    pub(super) failures: u16,
    /// Failures counted since the entry was made (never reset, wrapping):
    /// which outage a request was sent in. Not recorded: requests in flight
    /// are sent again after a restore, and take it afresh.
    pub(super) failure_serial: u16,
    pub(super) paused_until: Instant,
}

impl HostState {
    /// Whether the host holds nothing worth remembering at `now`. A host with
    /// failures keeps its entry, so its backoff goes on doubling.
    pub(super) fn is_idle(&self, now: Instant) -> bool {
        self.paused_until <= now && self.failures == 0
    }
}

/// When a notification may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ready {
    /// At this time (now or earlier: at once).
    At(Instant),
    /// Its channel's quota is used up until this time.
    Quota(Instant),
}

impl Ready {
    pub(super) fn at(self) -> Instant {
        match self {
            Ready::At(at) | Ready::Quota(at) => at,
        }
    }
}

/// When the head of a channel (its oldest unfinished notification) may be
/// sent: `None` if it must wait for something other than time (its
/// response, or its channel's expiry). The one place that decides readiness.
pub(super) fn ready_at(
    config: &SenderConfig,
    now: Instant,
    stage: Stage,
    channel: &ChannelState<impl Sized>,
    host: &HostState,
) -> Option<Ready> {
    if channel.expired {
        return None;
    }
    let own = match stage {
        Stage::Queued => Instant::ZERO,
        Stage::Waiting { until } => until,
        Stage::InFlight | Stage::Done { .. } => return None,
    };
    let pause = own.max(channel.paused_until).max(host.paused_until);
    let quota = if channel.authenticated {
        None
    } else {
        channel
            .quota
            .next_free(pause.max(now), config.quota_window, config.quota)
    };
    Some(match quota {
        Some(until) => Ready::Quota(until),
        None => Ready::At(pause),
    })
}

/// A head held back by its channel's quota: tells the application once per attempt.
pub(super) fn defer(note: &mut Note<impl Sized>, until: Instant) {
    if !note.deferred_reported {
        note.deferred_reported = true;
        note.notice = Some(Notice::Deferred { until });
    }
}

/// A notification goes on the wire at `now`: counts the attempt (and the
/// send against an unauthenticated channel's quota) and notes which of its
/// host's outages it was sent in. Returns the attempt number.
pub(super) fn record_send(
    config: &SenderConfig,
    now: Instant,
    note: &mut Note<impl Sized>,
    channel: &mut ChannelState<impl Sized>,
    host: &HostState,
) -> u16 {
    note.attempts = note.attempts.saturating_add(1);
    note.host_serial_at_send = host.failure_serial;
    note.deferred_reported = false;
    if !channel.authenticated {
        channel.quota.record(now, config.quota_window);
    }
    note.attempts
}

/// The next jitter from the sender's generator.
pub(super) fn jitter(rng: &mut u64) -> Jitter {
    *rng = splitmix(*rng);
    Jitter::per_mille(crate::time::div_rem(*rng, 2001).1 as i16 - 1000)
}

/// What a classified answer does: for a retry, who waits (the notification
/// for QueueFull, its channel for 406/412, its host for 5xx and transport
/// failures) and whether it gives up; a host that answered as MPNS does is
/// up again. Returns the lifecycle input for the notification.
pub(super) fn answer(
    config: &SenderConfig,
    now: Instant,
    outcome: Outcome,
    rng: &mut u64,
    note: &mut Note<impl Sized>,
    channel: &mut ChannelState<impl Sized>,
    host: &mut HostState,
) -> Input {
    let policy = config.retry;
    let (mut own_wait, mut give_up) = (None, false);
    match outcome {
        Outcome::Retry {
            reason,
            scope,
            backoff,
            retry_after_s,
        } => {
            let jitter = jitter(rng);
            note.last_reason = Some(reason);
            let at = match scope {
                Scope::Message => {
                    note.queue_full = note.queue_full.saturating_add(1);
                    let d = policy.delay(backoff, note.queue_full.into(), retry_after_s, jitter);
                    own_wait = Some(now + d);
                    now + d
                }
                Scope::Channel => {
                    let d = policy.delay(backoff, 1, retry_after_s, jitter);
                    channel.paused_until = channel.paused_until.max(now + d);
                    channel.paused_until
                }
                Scope::Host => {
                    // A host that was up starts an outage; in one, requests
                    // already on the wire when it last failed fail with it:
                    // only one sent since is a new failure.
                    if host.failures == 0 || note.host_serial_at_send == host.failure_serial {
                        host.failures = host.failures.saturating_add(1);
                        host.failure_serial = host.failure_serial.wrapping_add(1);
                    }
                    let d = policy.delay(backoff, host.failures.into(), retry_after_s, jitter);
                    host.paused_until = host.paused_until.max(now + d);
                    host.paused_until
                }
            };
            give_up = note.attempts >= config.max_attempts || at > note.deadline;
            if !give_up && !note.cancel_requested {
                note.notice = Some(Notice::Retrying { reason, at });
            }
        }
        _ => host.failures = 0,
    }
    if outcome == Outcome::Expired {
        channel.expired = true;
        channel.expiry_reported = false;
    }
    Input::Answer {
        outcome,
        own_wait,
        give_up,
        cancel_requested: note.cancel_requested,
    }
}

/// Notes a response whose `X-MessageID` is not the one sent; returns whether
/// that is news (one `MessageIdMismatch` event until the application polls it).
pub(super) fn echo_mismatch(note: &mut Note<impl Sized>, response: &Response) -> bool {
    let mismatch = response.message_id_echo(note.stored.message_id) == MessageIdEcho::Mismatch;
    let news = mismatch && !note.mismatch_unreported;
    note.mismatch_unreported |= mismatch;
    news
}

/// The input that ends a notification whose stored request cannot be read
/// back (never, for requests validated on submit and restore).
pub(super) fn unreadable_request() -> Input {
    Input::Answer {
        outcome: Outcome::Anomaly {
            reason: crate::response::AnomalyReason::UnreadableStoredRequest,
            status: 0,
        },
        own_wait: None,
        give_up: false,
        cancel_requested: false,
    }
}

/// Whether a new update of tile `tile` on the same channel replaces this
/// queued notification.
pub(super) fn supersedes(
    config: &SenderConfig,
    tile: Option<u64>,
    stage: Stage,
    note: &Note<impl Sized>,
) -> bool {
    config.supersede_tiles
        && tile.is_some()
        && note.tile == tile
        && matches!(stage, Stage::Queued | Stage::Waiting { .. })
}

/// What cancelling a notification in `stage` does: the input to apply now,
/// or a cancel that waits for the response.
pub(super) fn cancel(stage: Stage, ticket: Ticket) -> Result<Option<Input>, TicketError> {
    match stage {
        Stage::Done { .. } => Err(TicketError::AlreadyFinished(ticket)),
        Stage::InFlight => Ok(None),
        Stage::Queued | Stage::Waiting { .. } => Ok(Some(Input::Cancel)),
    }
}

/// Moves a notification through its lifecycle; inputs that do not apply are
/// ignored. Returns whether it finished now (its final event is ordered by
/// `next_order`, which counts up).
pub(super) fn apply(
    stage: &mut Stage,
    note: &mut Note<impl Sized>,
    next_order: &mut u64,
    input: Input,
) -> bool {
    let Some(next) = transition(*stage, input, *next_order) else {
        return false;
    };
    let finished = matches!(next, Stage::Done { .. }) && !matches!(*stage, Stage::Done { .. });
    if finished {
        // Only the relative order matters; saturating keeps a restored
        // counter near the end from overflowing.
        *next_order = next_order.saturating_add(1);
        note.notice = None;
    }
    *stage = next;
    finished
}

/// FNV-1a over `parts`, keyed by `seed`, finished by a SplitMix64 round.
pub(super) fn keyed_hash(seed: u64, parts: &[&[u8]]) -> u64 {
    parts
        .iter()
        .fold(KeyedHash::new(seed), |h, part| h.part(part.iter().copied()))
        .finish()
}

/// The id a sender seeded with `seed` gives `channel`.
pub(super) fn channel_id(seed: u64, channel: &ChannelUri<'_>) -> ChannelId {
    ChannelId(keyed_hash(seed, &[channel.as_str().as_bytes()]))
}

/// The id of a fixed sender's channel entry let go with its host. A channel
/// whose keyed hash is 0 would be taken for one: as unlikely (2^-64) as two
/// channels sharing an id, which identifying channels by hash accepts.
pub(super) const VACANT: ChannelId = ChannelId(0);

/// The supersede key of a tile: a hash of its `Id` (`None` for the main tile).
#[cfg(feature = "tiles")]
pub(super) fn tile_key(seed: u64, id: Option<&str>) -> u64 {
    keyed_hash(seed, &[id.map_or(b"\0main".as_slice(), str::as_bytes)])
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

pub(super) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Identifies a host: scheme, host name (ASCII case-insensitively, its first
/// 256 bytes) and port.
pub(super) fn host_key(seed: u64, channel: &ChannelUri<'_>) -> u64 {
    let uri = channel.uri();
    let host = uri.host().bytes().take(256).map(|b| b.to_ascii_lowercase());
    KeyedHash::new(seed)
        .part(uri.scheme().as_str().bytes())
        .part(host)
        .part(uri.port_or_default().to_le_bytes().into_iter())
        .finish()
}

/// The channel URI, callback URI and body of a stored request, from its bytes.
pub(super) fn stored_parts<'s>(
    bytes: &'s [u8],
    stored: &Stored,
) -> Option<(&'s str, Option<&'s str>, &'s [u8])> {
    let region = bytes.get(..stored.len())?;
    let (uri, rest) = region.split_at_checked(stored.uri_len as usize)?;
    let (callback, body) = rest.split_at_checked(stored.callback_len as usize)?;
    let callback = match callback {
        [] => None,
        c => Some(core::str::from_utf8(c).ok()?),
    };
    Some((core::str::from_utf8(uri).ok()?, callback, body))
}

/// Rebuilds a stored request from its bytes, its URI from `split` rather
/// than parsed again.
pub(super) fn stored_request<'s>(
    bytes: &'s [u8],
    stored: &Stored,
    split: UriSplit,
) -> Option<Request<'s>> {
    let (uri, callback, body) = stored_parts(bytes, stored)?;
    let channel = ChannelUri::from_split(uri, split)?;
    Some(Request::from_validated(
        channel,
        stored.kind,
        stored.class,
        stored.message_id,
        callback,
        body,
    ))
}

/// Writes a request's channel URI, callback URI and body into `region`
/// (exactly [`Stored::len`] bytes); the body is skipped when `body_written`.
pub(super) fn store_request(request: &Request<'_>, region: &mut [u8], body_written: bool) {
    let uri = request.channel().as_str().as_bytes();
    let callback = request.callback_uri().unwrap_or("").as_bytes();
    region[..uri.len()].copy_from_slice(uri);
    region[uri.len()..uri.len() + callback.len()].copy_from_slice(callback);
    if !body_written {
        // Cannot fail: the region holds the body.
        let _ = request.write_body(&mut region[uri.len() + callback.len()..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hostile snapshot's lengths: on a 32-bit target a `usize` sum of
    /// `u32::MAX + 54` wraps to 53 and matched a 53-byte payload, then the
    /// split at `u32::MAX` panicked. Summed in `u32`, saturating, the total
    /// is the same on every target, and too large for any payload.
    #[test]
    fn stored_lengths_saturate_the_same_on_every_target() {
        let hostile = Stored {
            kind: RequestKind::Raw,
            class: None,
            message_id: None,
            uri_len: u32::MAX,
            callback_len: 0,
            body_len: 54,
        };
        assert_eq!(hostile.len(), u32::MAX as usize);
        let bytes = [b'a'; 64];
        assert_eq!(stored_parts(&bytes, &hostile), None);
        let split = Stored {
            uri_len: 40,
            callback_len: 30,
            body_len: 0,
            ..hostile
        };
        // 70 bytes asked of 64: refused, not split out of range.
        assert_eq!(stored_parts(&bytes, &split), None);
    }
}

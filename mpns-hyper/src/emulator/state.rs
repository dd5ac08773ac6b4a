//! What the emulator remembers: behaviours, quotas, callbacks, records, counters.
//!
//! One mutex guards the channels and prefix behaviours, another the records;
//! counters are atomics. Each request takes the channel lock once (twice for
//! [`Behaviour::Slow`]) and, when accepted, the record lock once.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use mpns_proto::{MessageId, RequestKind};

use super::{Behaviour, EmulatorConfig, ReceivedPayload, Recorded, Stats};

/// Status code and the three MPNS status header values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) notification: &'static str,
    pub(super) subscription: &'static str,
    pub(super) device: &'static str,
}

const fn answer(
    status: u16,
    notification: &'static str,
    subscription: &'static str,
    device: &'static str,
) -> Answer {
    Answer {
        status,
        notification,
        subscription,
        device,
    }
}

pub(super) const RECEIVED: Answer = answer(200, "Received", "Active", "Connected");
pub(super) const QUEUE_FULL: Answer = answer(200, "QueueFull", "Active", "Connected");
pub(super) const SUPPRESSED: Answer = answer(200, "Suppressed", "Active", "Connected");
pub(super) const DROPPED: Answer = answer(200, "Dropped", "Active", "Connected");
pub(super) const EXPIRED: Answer = answer(404, "Dropped", "Expired", "Connected");
pub(super) const INACTIVE: Answer = answer(412, "Dropped", "Active", "Inactive");
pub(super) const RATE_LIMITED: Answer = answer(406, "Dropped", "Active", "Connected");

/// A refused request (a failed check): Dropped / N/A / N/A.
pub(super) const fn refused(status: u16) -> Answer {
    answer(status, "Dropped", "N/A", "N/A")
}

/// What to answer a checked request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// 200 Received: record it.
    Accept,
    /// A status with MPNS headers.
    Mpns(Answer),
    /// A status with no MPNS headers.
    Bare(u16),
    /// Cut the response and close the connection.
    Reset,
    /// Wait, then ask [`Shared::after_wait`].
    Wait(Duration),
}

/// Sends per channel in a rolling window, as counts per time bucket. A few
/// sends close together (the common case) fit in one bucket, kept inline.
#[derive(Debug, Default, PartialEq, Eq)]
enum Quota {
    /// Nothing in the window.
    #[default]
    Empty,
    /// `count` sends in bucket `index`.
    One { index: u64, count: u32 },
    /// Several buckets.
    Many(Box<Buckets>),
}

/// The buckets of a [`Quota`] that spans more than one.
#[derive(Debug, PartialEq, Eq)]
struct Buckets {
    /// (bucket index, count), oldest first.
    list: VecDeque<(u64, u32)>,
    total: u64,
}

impl Quota {
    /// Forgets the buckets that have left the window at `now_us`.
    fn expire(&mut self, now_us: u64, window_us: u64, bucket_us: u64) {
        // A bucket leaves the window once all of it is older than the window.
        let gone = |index: u64| {
            index
                .saturating_add(1)
                .saturating_mul(bucket_us)
                .saturating_add(window_us)
                <= now_us
        };
        match self {
            Quota::Empty => {}
            Quota::One { index, .. } => {
                if gone(*index) {
                    *self = Quota::Empty;
                }
            }
            Quota::Many(buckets) => {
                while let Some(&(index, count)) = buckets.list.front() {
                    if !gone(index) {
                        break;
                    }
                    buckets.list.pop_front();
                    buckets.total = buckets.total.saturating_sub(u64::from(count));
                }
                match (buckets.list.len(), buckets.list.front()) {
                    (0, _) => *self = Quota::Empty,
                    (1, Some(&(index, count))) => *self = Quota::One { index, count },
                    _ => {}
                }
            }
        }
    }

    fn total(&self) -> u64 {
        match self {
            Quota::Empty => 0,
            Quota::One { count, .. } => u64::from(*count),
            Quota::Many(buckets) => buckets.total,
        }
    }

    /// Counts one send at `now_us` unless `limit` sends are already in the window.
    fn try_take(&mut self, now_us: u64, window_us: u64, bucket_us: u64, limit: u32) -> bool {
        self.expire(now_us, window_us, bucket_us);
        if self.total() >= u64::from(limit) {
            return false;
        }
        let now = now_us / bucket_us.max(1);
        match self {
            Quota::Empty => {
                *self = Quota::One {
                    index: now,
                    count: 1,
                }
            }
            Quota::One { index, count } if *index == now => *count = count.saturating_add(1),
            Quota::One { index, count } => {
                let list = VecDeque::from([(*index, *count), (now, 1)]);
                let total = u64::from(*count) + 1;
                *self = Quota::Many(Box::new(Buckets { list, total }));
            }
            Quota::Many(buckets) => {
                match buckets.list.back_mut() {
                    Some((last, count)) if *last == now => *count = count.saturating_add(1),
                    _ => buckets.list.push_back((now, 1)),
                }
                buckets.total += 1;
            }
        }
        true
    }
}

/// What the emulator remembers of one channel, 16 bytes: most channels only
/// have a few sends in one quota bucket; anything more is boxed.
enum Channel {
    /// `count` sends in bucket `index` (count 0: none).
    Counts {
        index: u32,
        count: u32,
    },
    Full(Box<Full>),
}

impl Default for Channel {
    fn default() -> Self {
        Channel::Counts { index: 0, count: 0 }
    }
}

#[derive(Default)]
struct Full {
    quota: Quota,
    /// The behaviour set for this id, and when.
    behaviour: Option<(Behaviour, Instant)>,
    callback: Option<Box<str>>,
    countdown: Countdown,
}

/// What is left of a counted prefix behaviour for one channel.
#[derive(Clone, Copy, Default)]
struct Countdown {
    /// The [`Rule::serial`] it counts down (0: none).
    rule: u32,
    left: u32,
}

/// The [`Quota`] of [`Channel::Counts`].
fn inline_quota(index: u32, count: u32) -> Quota {
    match count {
        0 => Quota::Empty,
        _ => Quota::One {
            index: u64::from(index),
            count,
        },
    }
}

/// [`Channel::Counts`] of `quota`, if it fits.
fn fits_inline(quota: &Quota) -> Option<(u32, u32)> {
    match quota {
        Quota::Empty => Some((0, 0)),
        Quota::One { index, count } => Some((u32::try_from(*index).ok()?, *count)),
        Quota::Many(_) => None,
    }
}

impl Channel {
    /// Runs `f` on the channel's quota; keeps it inline when it fits.
    fn with_quota<R>(&mut self, f: impl FnOnce(&mut Quota) -> R) -> R {
        match self {
            Channel::Full(full) => {
                let result = f(&mut full.quota);
                let only_counts =
                    full.behaviour.is_none() && full.callback.is_none() && full.countdown.rule == 0;
                if let (true, Some((index, count))) = (only_counts, fits_inline(&full.quota)) {
                    *self = Channel::Counts { index, count };
                }
                result
            }
            Channel::Counts { index, count } => {
                let mut quota = inline_quota(*index, *count);
                let result = f(&mut quota);
                *self = match fits_inline(&quota) {
                    Some((index, count)) => Channel::Counts { index, count },
                    None => Channel::Full(Box::new(Full {
                        quota,
                        ..Full::default()
                    })),
                };
                result
            }
        }
    }

    /// Whether it holds nothing at `now_us` (then it can be forgotten).
    fn idle(&mut self, now_us: u64, window_us: u64, bucket_us: u64) -> bool {
        let empty = self.with_quota(|q| {
            q.expire(now_us, window_us, bucket_us);
            *q == Quota::Empty
        });
        empty && matches!(self, Channel::Counts { .. })
    }

    /// Runs `f` on the boxed part, made when missing.
    fn with_full<R>(&mut self, f: impl FnOnce(&mut Full) -> R) -> R {
        match self {
            Channel::Full(full) => f(full),
            Channel::Counts { index, count } => {
                let mut full = Box::new(Full {
                    quota: inline_quota(*index, *count),
                    ..Full::default()
                });
                let result = f(&mut full);
                *self = Channel::Full(full);
                result
            }
        }
    }

    fn full_ref(&self) -> Option<&Full> {
        match self {
            Channel::Full(full) => Some(full),
            Channel::Counts { .. } => None,
        }
    }

    fn full_mut(&mut self) -> Option<&mut Full> {
        match self {
            Channel::Full(full) => Some(full),
            Channel::Counts { .. } => None,
        }
    }
}

/// A behaviour for every channel id starting with a prefix.
struct Rule {
    behaviour: Behaviour,
    set_at: Instant,
    /// Tells channel countdowns of this rule from those of a rule it replaced.
    serial: u32,
}

/// Sweeps for idle channels wait for at least this many requests.
const SWEEP_MIN: usize = 1024;

/// The channels and the prefix behaviours, under one lock.
#[derive(Default)]
struct Channels {
    map: HashMap<Box<str>, Channel>,
    prefixes: HashMap<Box<str>, Rule>,
    /// The distinct prefix lengths, longest first.
    lengths: Vec<usize>,
    last_serial: u32,
    /// Requests since the last sweep.
    since_sweep: usize,
    /// The quota bucket of the last sweep.
    swept_bucket: u64,
}

impl Channels {
    /// The rule of the longest prefix of `id`.
    fn rule_for(&self, id: &str) -> Option<&Rule> {
        self.lengths
            .iter()
            .filter_map(|&len| id.get(..len))
            .find_map(|prefix| self.prefixes.get(prefix))
    }

    /// Runs `f` on the channel `id`, made when missing (the key is only
    /// allocated then).
    fn with<R>(&mut self, id: &str, f: impl FnOnce(&mut Channel) -> R) -> R {
        if let Some(channel) = self.map.get_mut(id) {
            return f(channel);
        }
        f(self.map.entry(id.into()).or_default())
    }
}

/// The count of a counted behaviour.
fn counted(behaviour: &Behaviour) -> Option<u32> {
    match behaviour {
        Behaviour::QueueFull(n) | Behaviour::Unavailable(n) | Behaviour::ResetMidResponse(n) => {
            Some(*n)
        }
        _ => None,
    }
}

/// What `behaviour` (set at `set_at`, `left` of its count left) answers, if
/// not as active. For a counted behaviour, `Some` uses one of its count.
fn verdict_of(
    behaviour: &Behaviour,
    set_at: Instant,
    left: u32,
    delivery: bool,
    now: Instant,
) -> Option<Verdict> {
    match behaviour {
        Behaviour::Active => None,
        Behaviour::Expired => Some(Verdict::Mpns(EXPIRED)),
        Behaviour::QueueFull(_) if delivery && left > 0 => Some(Verdict::Mpns(QUEUE_FULL)),
        Behaviour::Suppressed if delivery => Some(Verdict::Mpns(SUPPRESSED)),
        Behaviour::Dropped if delivery => Some(Verdict::Mpns(DROPPED)),
        Behaviour::Inactive if delivery => Some(Verdict::Mpns(INACTIVE)),
        Behaviour::RateLimited if delivery => Some(Verdict::Mpns(RATE_LIMITED)),
        Behaviour::Unavailable(_) if left > 0 => Some(Verdict::Bare(503)),
        Behaviour::UnavailableFor(d) if !ended(set_at, *d, now) => Some(Verdict::Bare(503)),
        Behaviour::Slow(d) => Some(Verdict::Wait(*d)),
        Behaviour::ResetMidResponse(_) if left > 0 => Some(Verdict::Reset),
        Behaviour::Status(code) => Some(Verdict::Bare(*code)),
        _ => None,
    }
}

/// An accepted request as stored (the message id stays binary until read).
struct Record {
    channel_id: String,
    secure: bool,
    kind: RequestKind,
    class: u8,
    message_id: Option<MessageId>,
    body: Vec<u8>,
    parsed: Option<ReceivedPayload>,
    callback_uri: Option<String>,
}

impl Record {
    fn to_recorded(&self) -> Recorded {
        Recorded {
            channel_id: self.channel_id.clone(),
            secure: self.secure,
            kind: self.kind,
            notification_class: self.class,
            message_id: self.message_id.map(|id| id.to_string()),
            body: self.body.clone(),
            parsed: self.parsed.clone(),
            callback_uri: self.callback_uri.clone(),
        }
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    tls_handshakes: AtomicU64,
    connections: AtomicU64,
    open: AtomicU64,
    peak: AtomicU64,
    cap_reached: AtomicU64,
    timed_out: AtomicU64,
}

/// Size limits of requests.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub(super) payload: usize,
    pub(super) raw: usize,
    pub(super) headers: usize,
    pub(super) callback: usize,
}

/// A request to record.
pub(super) struct Accepted<'a> {
    pub(super) channel_id: &'a str,
    pub(super) secure: bool,
    pub(super) kind: RequestKind,
    pub(super) class: u8,
    pub(super) message_id: Option<MessageId>,
    pub(super) body: &'a [u8],
    pub(super) parsed: Option<ReceivedPayload>,
    pub(super) callback_uri: Option<&'a str>,
}

/// State shared by the listeners and the [`super::Emulator`] handle.
pub(super) struct Shared {
    pub(super) limits: Limits,
    strict: bool,
    daily_quota: u32,
    window_us: u64,
    bucket_us: u64,
    record_limit: usize,
    start: Instant,
    channels: Mutex<Channels>,
    records: Mutex<VecDeque<Record>>,
    counters: Counters,
}

/// Whether `now` is `duration` or more after `start` (never, when that overflows).
fn ended(start: Instant, duration: Duration, now: Instant) -> bool {
    start.checked_add(duration).is_some_and(|end| now >= end)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(super) fn new(config: &EmulatorConfig) -> Shared {
        let window_us = u64::try_from(config.quota_window.as_micros())
            .unwrap_or(u64::MAX / 4)
            .clamp(1, u64::MAX / 4);
        Shared {
            limits: Limits {
                payload: config.payload_limit,
                raw: config.raw_limit,
                headers: config.header_limit,
                callback: mpns_proto::Limits::DEFAULT.callback_body,
            },
            strict: config.strict,
            daily_quota: config.daily_quota,
            window_us,
            bucket_us: (window_us / 1024).max(1),
            record_limit: config.record_limit,
            start: Instant::now(),
            channels: Mutex::new(Channels::default()),
            records: Mutex::new(VecDeque::new()),
            counters: Counters::default(),
        }
    }

    pub(super) fn set_behaviour(&self, id: &str, behaviour: Behaviour) {
        let now = Instant::now();
        lock(&self.channels).with(id, |c| {
            c.with_full(|f| f.behaviour = Some((behaviour, now)))
        });
    }

    pub(super) fn set_behaviour_prefix(&self, prefix: &str, behaviour: Behaviour) {
        let set_at = Instant::now();
        let mut channels = lock(&self.channels);
        // A new serial: channels restart the count of a replaced rule.
        channels.last_serial = channels.last_serial.checked_add(1).unwrap_or(1);
        let serial = channels.last_serial;
        let rule = Rule {
            behaviour,
            set_at,
            serial,
        };
        channels.prefixes.insert(prefix.into(), rule);
        if !channels.lengths.contains(&prefix.len()) {
            channels.lengths.push(prefix.len());
            channels.lengths.sort_unstable_by(|a, b| b.cmp(a));
        }
    }

    pub(super) fn behaviours(&self) -> Vec<(String, Behaviour)> {
        let channels = lock(&self.channels);
        let mut list: Vec<_> = channels
            .map
            .iter()
            .filter_map(|(id, c)| {
                let (b, _) = c.full_ref()?.behaviour.as_ref()?;
                Some((id.to_string(), b.clone()))
            })
            .collect();
        drop(channels);
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    pub(super) fn behaviour_prefixes(&self) -> Vec<(String, Behaviour)> {
        let channels = lock(&self.channels);
        let mut list: Vec<_> = channels
            .prefixes
            .iter()
            .map(|(prefix, rule)| (prefix.to_string(), rule.behaviour.clone()))
            .collect();
        drop(channels);
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    pub(super) fn callbacks(&self) -> Vec<(String, String)> {
        let channels = lock(&self.channels);
        let mut list: Vec<_> = channels
            .map
            .iter()
            .filter_map(|(id, c)| {
                let uri = c.full_ref()?.callback.as_ref()?;
                Some((id.to_string(), uri.to_string()))
            })
            .collect();
        drop(channels);
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    pub(super) fn channels_remembered(&self) -> usize {
        lock(&self.channels).map.len()
    }

    /// Microseconds since the start, at most `u64::MAX / 4` (no overflow in the quota).
    fn micros(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.start).as_micros())
            .unwrap_or(u64::MAX)
            .min(u64::MAX / 4)
    }

    /// Forgets idle channels, at most once per quota bucket and once per as
    /// many requests as there are channels: O(1) per request, amortised.
    fn maybe_sweep(&self, channels: &mut Channels, now_us: u64) {
        channels.since_sweep = channels.since_sweep.saturating_add(1);
        let bucket = now_us / self.bucket_us;
        if channels.since_sweep < channels.map.len().max(SWEEP_MIN)
            || bucket <= channels.swept_bucket
        {
            return;
        }
        channels.since_sweep = 0;
        channels.swept_bucket = bucket;
        let (window_us, bucket_us) = (self.window_us, self.bucket_us);
        channels
            .map
            .retain(|_, c| !c.idle(now_us, window_us, bucket_us));
        // Give memory back after many channels went idle.
        let len = channels.map.len();
        if channels.map.capacity() > len.saturating_mul(4).max(SWEEP_MIN) {
            channels.map.shrink_to(len.saturating_mul(2));
        }
    }

    /// What channel `id` answers to a checked request at `now`.
    pub(super) fn decide(&self, id: &str, secure: bool, callback: bool, now: Instant) -> Verdict {
        let now_us = self.micros(now);
        let delivery = !callback;
        let mut guard = lock(&self.channels);
        let channels = &mut *guard;
        self.maybe_sweep(channels, now_us);
        // The channel's own behaviour.
        if let Some(channel) = channels.map.get_mut(id)
            && let Some((behaviour, set_at)) = channel.full_mut().and_then(|f| f.behaviour.as_mut())
        {
            let verdict = verdict_of(
                behaviour,
                *set_at,
                counted(behaviour).unwrap_or(0),
                delivery,
                now,
            );
            if verdict.is_some()
                && let Behaviour::QueueFull(n)
                | Behaviour::Unavailable(n)
                | Behaviour::ResetMidResponse(n) = behaviour
            {
                *n = n.saturating_sub(1);
            }
            // A counted behaviour that ran out, or a time-limited one that ended, becomes active.
            if counted(behaviour) == Some(0)
                || matches!(behaviour, Behaviour::UnavailableFor(d) if ended(*set_at, *d, now))
            {
                *behaviour = Behaviour::Active;
            }
            return match verdict {
                Some(v) => v,
                None => self.active(channel, secure, callback, now_us),
            };
        }
        // Else the longest prefix's; a counted one counts down per channel.
        let Some(rule) = channels.rule_for(id) else {
            if self.strict {
                return Verdict::Mpns(EXPIRED);
            }
            return self.active_id(channels, id, secure, callback, now_us);
        };
        let (serial, count) = (rule.serial, counted(&rule.behaviour));
        let left = count.map_or(0, |n| {
            channels
                .map
                .get(id)
                .and_then(Channel::full_ref)
                .filter(|e| e.countdown.rule == serial)
                .map_or(n, |e| e.countdown.left)
        });
        match verdict_of(&rule.behaviour, rule.set_at, left, delivery, now) {
            Some(verdict) => {
                if count.is_some() {
                    let countdown = Countdown {
                        rule: serial,
                        left: left.saturating_sub(1),
                    };
                    channels.with(id, |c| c.with_full(|f| f.countdown = countdown));
                }
                verdict
            }
            None => self.active_id(channels, id, secure, callback, now_us),
        }
    }

    /// The answer of a [`Behaviour::Slow`] channel once its wait is over: as active.
    pub(super) fn after_wait(&self, id: &str, secure: bool, callback: bool) -> Verdict {
        let now_us = self.micros(Instant::now());
        self.active_id(&mut lock(&self.channels), id, secure, callback, now_us)
    }

    /// Whether requests count against the HTTP quota.
    fn quota_applies(&self, secure: bool, callback: bool) -> bool {
        !(secure || callback || self.daily_quota == u32::MAX)
    }

    /// [`Shared::active`] by id: a channel is only made when its quota counts.
    fn active_id(
        &self,
        channels: &mut Channels,
        id: &str,
        secure: bool,
        callback: bool,
        now_us: u64,
    ) -> Verdict {
        if !self.quota_applies(secure, callback) {
            return Verdict::Accept;
        }
        channels.with(id, |c| self.active(c, secure, callback, now_us))
    }

    /// An active channel: accepted, unless an HTTP channel is over its quota.
    fn active(&self, channel: &mut Channel, secure: bool, callback: bool, now_us: u64) -> Verdict {
        if !self.quota_applies(secure, callback) {
            return Verdict::Accept;
        }
        let (window_us, bucket_us, limit) = (self.window_us, self.bucket_us, self.daily_quota);
        if channel.with_quota(|q| q.try_take(now_us, window_us, bucket_us, limit)) {
            Verdict::Accept
        } else {
            Verdict::Mpns(RATE_LIMITED)
        }
    }

    /// Stores an accepted request (and a callback registration's URI).
    pub(super) fn record(&self, accepted: Accepted<'_>) {
        if accepted.kind == RequestKind::CallbackRegistration
            && let Some(uri) = accepted.callback_uri
        {
            lock(&self.channels).with(accepted.channel_id, |c| {
                c.with_full(|f| f.callback = Some(uri.into()));
            });
        }
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        if self.record_limit == 0 {
            return;
        }
        let record = Record {
            channel_id: accepted.channel_id.to_owned(),
            secure: accepted.secure,
            kind: accepted.kind,
            class: accepted.class,
            message_id: accepted.message_id,
            body: accepted.body.to_vec(),
            parsed: accepted.parsed,
            callback_uri: accepted.callback_uri.map(str::to_owned),
        };
        let mut records = lock(&self.records);
        if records.len() >= self.record_limit {
            records.pop_front();
        }
        records.push_back(record);
    }

    pub(super) fn accepted(&self) -> Vec<Recorded> {
        lock(&self.records)
            .iter()
            .map(Record::to_recorded)
            .collect()
    }

    /// The records kept, and at most `limit` of them from `offset` (oldest first).
    pub(super) fn accepted_page(&self, offset: usize, limit: usize) -> (usize, Vec<Recorded>) {
        let records = lock(&self.records);
        let page = records
            .iter()
            .skip(offset)
            .take(limit)
            .map(Record::to_recorded)
            .collect();
        (records.len(), page)
    }

    pub(super) fn count_request(&self) {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_rejected(&self) {
        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_handshake(&self) {
        self.counters.tls_handshakes.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection accepted: counted, and open until [`Shared::count_closed`].
    pub(super) fn count_connection(&self) {
        let c = &self.counters;
        c.connections.fetch_add(1, Ordering::Relaxed);
        let open = c.open.fetch_add(1, Ordering::SeqCst) + 1;
        c.peak.fetch_max(open, Ordering::SeqCst);
    }

    pub(super) fn count_closed(&self) {
        self.counters.open.fetch_sub(1, Ordering::SeqCst);
    }

    pub(super) fn count_cap_reached(&self) {
        self.counters.cap_reached.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_timed_out(&self) {
        self.counters.timed_out.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            requests: c.requests.load(Ordering::Relaxed),
            accepted: c.accepted.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            tls_handshakes: c.tls_handshakes.load(Ordering::Relaxed),
            connections: c.connections.load(Ordering::Relaxed),
            open_connections: c.open.load(Ordering::SeqCst),
            peak_connections: c.peak.load(Ordering::SeqCst),
            connection_cap_reached: c.cap_reached.load(Ordering::Relaxed),
            timed_out: c.timed_out.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_state_is_small() {
        assert_eq!(std::mem::size_of::<Channel>(), 16);
        let (window, bucket) = (1_000_000, 1_000);
        let mut c = Channel::default();
        assert!(c.with_quota(|q| q.try_take(10, window, bucket, 5)));
        assert!(matches!(c, Channel::Counts { index: 0, count: 1 }));
        // A second bucket is boxed; once the first has left, inline again.
        assert!(c.with_quota(|q| q.try_take(500_000, window, bucket, 5)));
        assert!(matches!(c, Channel::Full(_)));
        assert!(!c.idle(1_001_000, window, bucket));
        assert!(matches!(
            c,
            Channel::Counts {
                index: 500,
                count: 1
            }
        ));
        assert!(c.idle(1_501_000, window, bucket));
        // Other state keeps it boxed, and remembered.
        c.with_full(|f| f.countdown = Countdown { rule: 1, left: 0 });
        assert!(!c.idle(9_000_000, window, bucket));
    }

    #[test]
    fn quota_window_rolls() {
        let mut q = Quota::default();
        let (window, bucket) = (1_000_000, 1_000);
        for t in 0..3 {
            assert!(q.try_take(t * 10, window, bucket, 3));
        }
        assert!(!q.try_take(500_000, window, bucket, 3));
        // Not before the oldest bucket has left the window entirely.
        assert!(!q.try_take(1_000_500, window, bucket, 3));
        // All three were in bucket 0, which leaves at once.
        for t in 0..3 {
            assert!(q.try_take(1_001_000 + t, window, bucket, 3));
        }
        assert!(!q.try_take(1_001_003, window, bucket, 3));
        assert_eq!(
            q,
            Quota::One {
                index: 1001,
                count: 3
            }
        );
        // Sends in several buckets, then all of them leave the window.
        assert!(q.try_take(1_500_000, window, bucket, 5));
        assert!(matches!(&q, Quota::Many(b) if b.total == 4));
        q.expire(2_002_000, window, bucket);
        assert_eq!(
            q,
            Quota::One {
                index: 1500,
                count: 1
            }
        );
        q.expire(2_501_000, window, bucket);
        assert_eq!(q, Quota::Empty);
    }
}

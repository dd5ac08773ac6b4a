//! What the emulator remembers: behaviours, quotas, callbacks, records, counters.
//!
//! One mutex guards the channels, another the records; counters are atomics.
//! Each request takes the channel lock once (twice for [`Behaviour::Slow`]) and,
//! when accepted, the record lock once.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use mpns_proto::{MessageId, RequestKind};

use super::{Behaviour, EmulatorConfig, Payload, Recorded, Stats};

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

/// Sends per channel in a rolling window, as counts per time bucket.
#[derive(Default)]
struct Quota {
    /// (bucket index, count), oldest first.
    buckets: VecDeque<(u64, u32)>,
    total: u64,
}

impl Quota {
    /// Counts one send at `now_us` unless `limit` sends are already in the window.
    fn try_take(&mut self, now_us: u64, window_us: u64, bucket_us: u64, limit: u32) -> bool {
        // A bucket leaves the window once all of it is older than the window.
        while let Some(&(index, count)) = self.buckets.front() {
            if (index + 1) * bucket_us + window_us <= now_us {
                self.buckets.pop_front();
                self.total -= u64::from(count);
            } else {
                break;
            }
        }
        if self.total >= u64::from(limit) {
            return false;
        }
        let index = now_us / bucket_us;
        match self.buckets.back_mut() {
            Some((last, count)) if *last == index => *count += 1,
            _ => self.buckets.push_back((index, 1)),
        }
        self.total += 1;
        true
    }
}

#[derive(Default)]
struct Channel {
    /// The behaviour set, and when.
    behaviour: Option<(Behaviour, Instant)>,
    quota: Quota,
    callback: Option<String>,
}

/// An accepted request as stored (the message id stays binary until read).
struct Record {
    channel_id: String,
    secure: bool,
    kind: RequestKind,
    class: u8,
    message_id: Option<MessageId>,
    body: Vec<u8>,
    parsed: Option<Payload>,
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
    pub(super) parsed: Option<Payload>,
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
    channels: Mutex<HashMap<String, Channel>>,
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
            channels: Mutex::new(HashMap::new()),
            records: Mutex::new(VecDeque::new()),
            counters: Counters::default(),
        }
    }

    pub(super) fn set_behaviour(&self, id: &str, behaviour: Behaviour) {
        let now = Instant::now();
        let mut channels = lock(&self.channels);
        channels.entry(id.to_owned()).or_default().behaviour = Some((behaviour, now));
    }

    pub(super) fn behaviours(&self) -> Vec<(String, Behaviour)> {
        let channels = lock(&self.channels);
        let mut list: Vec<_> = channels
            .iter()
            .filter_map(|(id, c)| c.behaviour.as_ref().map(|(b, _)| (id.clone(), b.clone())))
            .collect();
        drop(channels);
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    pub(super) fn callbacks(&self) -> Vec<(String, String)> {
        let channels = lock(&self.channels);
        let mut list: Vec<_> = channels
            .iter()
            .filter_map(|(id, c)| c.callback.as_ref().map(|u| (id.clone(), u.clone())))
            .collect();
        drop(channels);
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    /// What channel `id` answers to a checked request at `now`.
    pub(super) fn decide(&self, id: &str, secure: bool, callback: bool, now: Instant) -> Verdict {
        let mut channels = lock(&self.channels);
        let channel = match channels.get_mut(id) {
            Some(channel) => channel,
            None if self.strict => return Verdict::Mpns(EXPIRED),
            None if secure => return Verdict::Accept, // no quota: nothing to remember
            None => channels.entry(id.to_owned()).or_default(),
        };
        let Some((behaviour, set_at)) = &mut channel.behaviour else {
            return self.active(channel, secure, callback, now);
        };
        let delivery = !callback;
        let verdict = match behaviour {
            Behaviour::Active => None,
            Behaviour::Expired => Some(Verdict::Mpns(EXPIRED)),
            Behaviour::QueueFull(n) if delivery && *n > 0 => {
                *n -= 1;
                Some(Verdict::Mpns(QUEUE_FULL))
            }
            Behaviour::Suppressed if delivery => Some(Verdict::Mpns(SUPPRESSED)),
            Behaviour::Dropped if delivery => Some(Verdict::Mpns(DROPPED)),
            Behaviour::Inactive if delivery => Some(Verdict::Mpns(INACTIVE)),
            Behaviour::RateLimited if delivery => Some(Verdict::Mpns(RATE_LIMITED)),
            Behaviour::Unavailable(n) if *n > 0 => {
                *n -= 1;
                Some(Verdict::Bare(503))
            }
            Behaviour::UnavailableFor(d) if !ended(*set_at, *d, now) => Some(Verdict::Bare(503)),
            Behaviour::Slow(d) => Some(Verdict::Wait(*d)),
            Behaviour::ResetMidResponse(n) if *n > 0 => {
                *n -= 1;
                Some(Verdict::Reset)
            }
            Behaviour::Status(code) => Some(Verdict::Bare(*code)),
            _ => None,
        };
        // A counted behaviour that ran out, or a time-limited one that ended, becomes active.
        if matches!(
            behaviour,
            Behaviour::QueueFull(0) | Behaviour::Unavailable(0) | Behaviour::ResetMidResponse(0)
        ) || matches!(behaviour, Behaviour::UnavailableFor(d) if ended(*set_at, *d, now))
        {
            *behaviour = Behaviour::Active;
        }
        match verdict {
            Some(v) => v,
            None => self.active(channel, secure, callback, now),
        }
    }

    /// The answer of a [`Behaviour::Slow`] channel once its wait is over: as active.
    pub(super) fn after_wait(&self, id: &str, secure: bool, callback: bool) -> Verdict {
        let now = Instant::now();
        let mut channels = lock(&self.channels);
        let channel = channels.entry(id.to_owned()).or_default();
        self.active(channel, secure, callback, now)
    }

    /// An active channel: accepted, unless an HTTP channel is over its quota.
    fn active(&self, channel: &mut Channel, secure: bool, callback: bool, now: Instant) -> Verdict {
        if secure || callback || self.daily_quota == u32::MAX {
            return Verdict::Accept;
        }
        let now_us = u64::try_from(now.saturating_duration_since(self.start).as_micros())
            .unwrap_or(u64::MAX / 4);
        if channel
            .quota
            .try_take(now_us, self.window_us, self.bucket_us, self.daily_quota)
        {
            Verdict::Accept
        } else {
            Verdict::Mpns(RATE_LIMITED)
        }
    }

    /// Stores an accepted request (and a callback registration's URI).
    pub(super) fn record(&self, accepted: Accepted<'_>) {
        if accepted.kind == RequestKind::CallbackRegistration {
            if let Some(uri) = accepted.callback_uri {
                lock(&self.channels)
                    .entry(accepted.channel_id.to_owned())
                    .or_default()
                    .callback = Some(uri.to_owned());
            }
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

    pub(super) fn count_request(&self) {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_rejected(&self) {
        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_handshake(&self) {
        self.counters.tls_handshakes.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_connection(&self) {
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            requests: c.requests.load(Ordering::Relaxed),
            accepted: c.accepted.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            tls_handshakes: c.tls_handshakes.load(Ordering::Relaxed),
            connections: c.connections.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(q.buckets.len(), 1);
    }
}

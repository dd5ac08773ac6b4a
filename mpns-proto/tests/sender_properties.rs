//! Property tests of the sender over random sequences of submits, cancels,
//! transmits, responses, transport failures, clock moves and forgotten
//! expiries, on a `Sender<_, 4, 3>` with six channels on five hosts, so that
//! the queue, the channel table and the host table all fill and entries are
//! recycled.
//!
//! Every result is checked against a model written from `docs/protocol.md`:
//!
//! - a submit is refused exactly when the model says so: `QueueFull` when
//!   four notifications are pending, `ChannelExpired` for an expired channel
//!   not forgotten, `ChannelTableFull` only when the table (read from a
//!   snapshot) is full and the model cannot rule out that every entry is
//!   still needed, and always when three other channels (or hosts) hold
//!   notifications;
//! - a cancel answers `Done`, `AfterResponse`, `AlreadyFinished` or `Unknown`
//!   as the ticket's state says;
//! - each final event is the one the replies that led to it call for (the
//!   response table, a cancel, an expiry, a supersede, giving up with the
//!   reason of the last retry), with the attempts counted;
//! - never two requests in flight on one channel; never a send to a paused
//!   channel, host or notification before its time; never more than the
//!   quota in any window on an http channel; one final event per ticket.
//!
//! The run prints how often each state was reached, and fails if the
//! generator stopped reaching full tables, recycled entries or refusals.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use mpns_proto::sender::{Cancellation, ChannelId, Event, Finished, SubmitError, TicketError};
use mpns_proto::{
    AnomalyReason, ChannelUri, Duration, Field, Instant, Notification, Options, RejectReason,
    Response, RetryReason, Sender, SenderConfig, StandardTile, Ticket, Tile, TileTemplate, Toast,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const CHANNELS: [&str; 6] = [
    "http://db3.notify.live.net/throttledthirdparty/01.00/A",
    "http://db3.notify.live.net/throttledthirdparty/01.00/B",
    "http://sn1.notify.live.net/throttledthirdparty/01.00/C",
    "http://bn2.notify.live.net/throttledthirdparty/01.00/D",
    "https://db3.notify.live.net/unthrottledthirdparty/01.00/S",
    "https://hk2.notify.live.net/unthrottledthirdparty/01.00/T",
];
/// Host of each channel: A and B share one; S is https on A's name, another host.
const HOSTS: [usize; 6] = [0, 0, 1, 2, 3, 4];
const HTTP: [bool; 6] = [true, true, true, true, false, false];
const Q: usize = 4;
const C: usize = 3;
type TestSender = Sender<Vec<u8>, Q, C>;
const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;
const QUOTA: usize = 5;
const MAX_ATTEMPTS: u16 = 6;
const DEADLINE: u64 = 6 * HOUR;

#[derive(Clone, Debug)]
enum Op {
    Submit { channel: usize, tile: bool },
    Cancel(usize),
    Transmit,
    Respond { nth: usize, reply: usize },
    Advance(u64),
    Events,
    Forget(usize),
}

/// What a reply means ("What each response means").
#[derive(Clone, Copy, Debug)]
enum Means {
    Final(Finished),
    /// A retry: its reason, and whether its scope is the host.
    Retry(RetryReason, bool),
}

/// A reply: status, notification and subscription status, Retry-After (empty:
/// not sent), and its meaning; `None` is a transport failure.
type Reply = Option<(u16, &'static str, &'static str, &'static str, Means)>;

const fn rejected(reason: RejectReason, status: u16) -> Means {
    Means::Final(Finished::Rejected { reason, status })
}

const REPLIES: &[Reply] = &[
    Some((200, "Received", "Active", "", Means::Final(ACCEPTED))),
    Some((200, "Received", "Active", "", Means::Final(ACCEPTED))),
    Some((200, "Received", "Active", "", Means::Final(ACCEPTED))),
    Some((
        200,
        "QueueFull",
        "Active",
        "",
        retry(RetryReason::QueueFull, false),
    )),
    Some((
        200,
        "Suppressed",
        "Active",
        "",
        Means::Final(Finished::Suppressed),
    )),
    Some((
        200,
        "Dropped",
        "Active",
        "",
        Means::Final(Finished::Dropped),
    )),
    Some((200, "", "", "", Means::Final(MISSING_STATUS))),
    Some((400, "", "", "", rejected(RejectReason::BadRequest, 400))),
    Some((401, "", "", "", rejected(RejectReason::Unauthorized, 401))),
    Some((
        404,
        "Dropped",
        "Expired",
        "",
        Means::Final(Finished::ChannelExpired),
    )),
    Some((
        200,
        "Received",
        "Expired",
        "",
        Means::Final(Finished::ChannelExpired),
    )),
    Some((
        406,
        "Dropped",
        "Active",
        "",
        retry(RetryReason::RateLimited, false),
    )),
    Some((
        412,
        "Dropped",
        "Active",
        "",
        retry(RetryReason::DeviceInactive, false),
    )),
    Some((
        503,
        "",
        "",
        "",
        retry(RetryReason::ServiceUnavailable, true),
    )),
    Some((
        503,
        "",
        "",
        "120",
        retry(RetryReason::ServiceUnavailable, true),
    )),
    Some((429, "", "", "", retry(RetryReason::TooManyRequests, true))),
    Some((500, "", "", "", retry(RetryReason::ServerError, true))),
    None,
];
const ACCEPTED: Finished = Finished::Accepted { device: None };
const MISSING_STATUS: Finished = Finished::Anomaly {
    reason: AnomalyReason::MissingNotificationStatus,
    status: 200,
};
const fn retry(reason: RetryReason, host: bool) -> Means {
    Means::Retry(reason, host)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..6usize, any::<bool>()).prop_map(|(channel, tile)| Op::Submit { channel, tile }),
        1 => (0..64usize).prop_map(Op::Cancel),
        3 => Just(Op::Transmit),
        3 => (0..4usize, 0..REPLIES.len()).prop_map(|(nth, reply)| Op::Respond { nth, reply }),
        2 => prop_oneof![0..2 * MIN, 0..2 * HOUR].prop_map(Op::Advance),
        2 => Just(Op::Events),
        1 => (0..6usize).prop_map(Op::Forget),
    ]
}

/// How often the interesting states were reached, over all cases.
#[derive(Debug, Default)]
struct Stats {
    submitted: usize,
    queue_full: usize,
    table_full: usize,
    channel_expired: usize,
    /// Submits that found the channel table full (snapshot) and took an entry.
    recycled_channel: usize,
    /// The same for the host table.
    recycled_host: usize,
    cancel: HashMap<&'static str, usize>,
    finished: HashMap<&'static str, usize>,
}

/// What the model knows of a ticket.
#[derive(Debug)]
struct Note {
    ticket: Ticket,
    channel: usize,
    tile: bool,
    submitted_at: Instant,
    in_flight: bool,
    sends: u16,
    queue_full: u32,
    /// The event number of its last send, and its host's count then.
    sent_seq: u64,
    count_at_send: u32,
    /// Its own wait after `QueueFull`.
    not_before: Instant,
    last_retry: Option<RetryReason>,
    /// Cancelled while in flight: a retry answer ends it as cancelled.
    cancel_after_response: bool,
    /// The final results the replies so far allow (empty: none known yet).
    expect: Vec<Finished>,
    /// Its final event was polled.
    polled: bool,
}

impl Note {
    /// Whether it may give up at `now` (deadline passed, or retried).
    fn may_give_up(&self, now: Instant) -> bool {
        self.last_retry.is_some() || (now - self.submitted_at).as_millis() >= DEADLINE
    }
}

#[derive(Default)]
struct Model {
    now: Instant,
    notes: Vec<Note>,
    channel_not_before: [Instant; 6],
    host_not_before: [Instant; 5],
    /// A lower bound of the host's failures in a row: under the rule of
    /// `docs/protocol.md` ("Retries and backoff": once per outage, a failure
    /// counts only for a request sent since the last counted one, and while
    /// the count is what it was at the send) and under the older one (every
    /// failure counts).
    host_failures: [u32; 5],
    /// The event number of the host's last counted failure.
    host_counted_at: [u64; 5],
    /// The host's entry may have been recycled (count unknown, taken as 0)
    /// since its last final answer.
    host_count_unknown: [bool; 5],
    /// Event numbers, for "sent since".
    seq: u64,
    /// The last host-wide failure.
    host_failed_at: [Option<Instant>; 5],
    /// A channel pause's upper end (jitter lengthens it).
    channel_pause_max: [Instant; 6],
    expired: [bool; 6],
    expiry_reported: [bool; 6],
    sends: [Vec<Instant>; 6],
}

impl Model {
    fn note(&mut self, ticket: Ticket) -> &mut Note {
        self.notes.iter_mut().find(|n| n.ticket == ticket).unwrap()
    }

    /// Notifications the sender holds (final event not polled).
    fn live(&self) -> usize {
        self.notes.iter().filter(|n| !n.polled).count()
    }

    fn has_live(&self, ch: usize) -> bool {
        self.notes.iter().any(|n| !n.polled && n.channel == ch)
    }

    /// Whether channel `ch`'s entry may still be needed at `now` (an upper
    /// bound): notifications, an expiry, a pause, or sends that may still be
    /// in its quota window (the window plus two of its 2.5-minute buckets).
    fn channel_may_be_busy(&self, ch: usize) -> bool {
        self.has_live(ch)
            || self.expired[ch]
            || self.channel_pause_max[ch] > self.now
            || (HTTP[ch]
                && self.sends[ch]
                    .last()
                    .is_some_and(|s| (self.now - *s).as_millis() < HOUR + 5 * MIN))
    }

    /// Whether host `h`'s entry may still be needed when its table is full:
    /// a channel that may be busy, or a pause that may not be over (a
    /// failure's delay is at most the cap, 1 h, plus 20 % jitter, or
    /// `Retry-After`'s 2 min).
    fn host_may_be_busy(&self, h: usize, pinned: &[bool; 5]) -> bool {
        pinned[h]
            || (0..6).any(|ch| HOSTS[ch] == h && self.channel_may_be_busy(ch))
            || self
                .host_failed_at
                .get(h)
                .copied()
                .flatten()
                .is_some_and(|at| (self.now - at).as_millis() < HOUR * 12 / 10 + MIN)
    }
}

fn reply_response(status: u16, n: &'static str, s: &'static str, retry: &'static str) -> Response {
    Response::from_parts(status, move |name| {
        let v = match name {
            "X-NotificationStatus" => n,
            "X-SubscriptionStatus" => s,
            "Retry-After" => retry,
            _ => "",
        };
        (!v.is_empty()).then_some(v.as_bytes())
    })
}

/// The shortest exponential delay the policy may give after `failures`: 80 % of 1 min × 2^(n-1), capped.
fn min_exponential(failures: u32) -> u64 {
    (MIN << (failures.saturating_sub(1).min(10))).min(HOUR) * 8 / 10
}

/// The channel and host tables, as a snapshot shows them: channel ids, and
/// the number of host entries.
fn tables(sender: &TestSender) -> (Vec<u64>, usize) {
    let v = serde_json::to_value(sender.snapshot()).expect("snapshot");
    let channels = v["state"]["channels"].as_array().expect("channels");
    let hosts = v["state"]["hosts"].as_array().expect("hosts");
    let ids = channels.iter().map(|c| c["id"].as_u64().unwrap()).collect();
    (ids, hosts.len())
}

fn name(f: &Finished) -> &'static str {
    f.name()
}

/// `strict`: every `ChannelTableFull` must be one the model cannot rule out.
/// Without it, a host entry still referenced by an idle channel entry counts
/// as needed (as it did before `idle_channel_entries_do_not_pin_the_host_table`
/// was fixed: both runs are kept).
fn check(ops: Vec<Op>, strict: bool, stats: &RefCell<Stats>) -> Result<(), TestCaseError> {
    let config = SenderConfig {
        quota: QUOTA as u32,
        quota_window: Duration::from_hours(1),
        max_attempts: MAX_ATTEMPTS,
        deadline: Duration::from_millis(DEADLINE),
        supersede_tiles: true,
        ..SenderConfig::default()
    };
    let mut sender: TestSender = Sender::new(config, vec![0; Q * 512]);
    let ids: Vec<ChannelId> = CHANNELS
        .iter()
        .map(|c| sender.channel_id(&ChannelUri::parse(c).unwrap()))
        .collect();
    let mut m = Model::default();
    let mut st = stats.borrow_mut();

    let poll_events = |sender: &mut TestSender,
                       m: &mut Model,
                       st: &mut Stats|
     -> Result<(), TestCaseError> {
        while let Some(e) = sender.poll_event() {
            match e {
                Event::Finished {
                    ticket,
                    result,
                    attempts,
                } => {
                    let now = m.now;
                    let n = m
                        .notes
                        .iter_mut()
                        .find(|n| n.ticket == ticket)
                        .ok_or_else(|| TestCaseError::fail("final event for an unknown ticket"))?;
                    prop_assert!(!n.polled, "two final events for {:?}", ticket);
                    prop_assert!(!n.in_flight, "{:?} finished while in flight", ticket);
                    n.polled = true;
                    prop_assert_eq!(attempts, n.sends, "attempts of {:?}", ticket);
                    if n.expect.is_empty() {
                        // Nothing final happened to it: only giving up ends
                        // it, with the reason of its last retry.
                        prop_assert_eq!(result, Finished::GaveUp { last: n.last_retry });
                        prop_assert!(
                            n.may_give_up(now),
                            "{:?} gave up before its deadline, never retried",
                            ticket
                        );
                    } else {
                        prop_assert!(
                            n.expect.contains(&result),
                            "{:?} ended {:?}, expected one of {:?}",
                            ticket,
                            result,
                            n.expect
                        );
                    }
                    *st.finished.entry(name(&result)).or_default() += 1;
                }
                Event::ChannelExpired { channel } => {
                    let ch = ids.iter().position(|id| *id == channel).unwrap();
                    prop_assert!(m.expired[ch], "expiry event for a live channel");
                    prop_assert!(!m.expiry_reported[ch], "two expiry events");
                    m.expiry_reported[ch] = true;
                }
                Event::Retrying { ticket, .. }
                | Event::Deferred { ticket, .. }
                | Event::MessageIdMismatch { ticket }
                | Event::InDoubt { ticket, .. } => {
                    prop_assert!(
                        m.notes.iter().any(|n| n.ticket == ticket && !n.polled),
                        "event for a finished ticket"
                    );
                }
            }
        }
        Ok(())
    };

    let transmit = |sender: &mut TestSender, m: &mut Model| -> Result<bool, TestCaseError> {
        let Some(t) = sender.poll_transmit(m.now) else {
            return Ok(false);
        };
        let channel = CHANNELS
            .iter()
            .position(|c| *c == t.request.channel().as_str())
            .unwrap();
        prop_assert_eq!(t.channel, ids[channel]);
        let ticket = t.ticket;
        let attempt = t.attempt;
        let now = m.now;
        prop_assert!(
            !m.notes.iter().any(|n| n.in_flight && n.channel == channel),
            "two in flight on channel {}",
            channel
        );
        prop_assert!(!m.expired[channel], "sent to an expired channel");
        prop_assert!(
            now >= m.channel_not_before[channel],
            "channel {} paused until {}, sent at {}",
            channel,
            m.channel_not_before[channel],
            now
        );
        prop_assert!(now >= m.host_not_before[HOSTS[channel]], "host paused");
        // First in, first out: nothing older still waits on the channel
        // (unless it may have given up).
        for n in m.notes.iter().filter(|n| n.channel == channel && !n.polled) {
            if n.ticket == ticket {
                break;
            }
            prop_assert!(
                !n.expect.is_empty() || n.may_give_up(now),
                "{:?} sent before the older {:?}",
                ticket,
                n.ticket
            );
        }
        let n = m.note(ticket);
        prop_assert!(n.expect.is_empty(), "{:?} sent after it ended", ticket);
        prop_assert!(
            now >= n.not_before,
            "{:?} sent before its QueueFull wait",
            ticket
        );
        n.sends += 1;
        n.in_flight = true;
        m.seq += 1;
        let (seq, count) = (m.seq, m.host_failures[HOSTS[channel]]);
        let n = m.note(ticket);
        n.sent_seq = seq;
        n.count_at_send = count;
        prop_assert_eq!(attempt, n.sends);
        prop_assert!(n.sends <= MAX_ATTEMPTS);
        m.sends[channel].push(now);
        Ok(true)
    };

    for op in ops {
        match op {
            Op::Submit { channel: ch, tile } => {
                let n = if tile {
                    Notification::Tile(Tile {
                        id: None,
                        template: TileTemplate::Standard(StandardTile {
                            count: Field::Set(1),
                            ..Default::default()
                        }),
                    })
                } else {
                    Notification::Toast(Toast {
                        text1: Some("t"),
                        ..Toast::default()
                    })
                };
                // Submit first catches up with the time (deadlines), as here.
                sender.handle_timeout(m.now);
                let (before, hosts_before) = tables(&sender);
                let result = sender.submit(
                    m.now,
                    ChannelUri::parse(CHANNELS[ch]).unwrap(),
                    &n,
                    &Options::default(),
                );
                let (after, hosts_after) = tables(&sender);
                if hosts_before == C {
                    // A full host table lets a host whose pause is over give
                    // way, failures and all: the model's counts become lower
                    // bounds of 0 for those it cannot rule out.
                    for h in 0..5 {
                        if h != HOSTS[ch] && m.now >= m.host_not_before[h] {
                            m.host_failures[h] = 0;
                            m.host_count_unknown[h] = true;
                        }
                    }
                }
                // What the model decides.
                let others_live: HashSet<usize> =
                    (0..6).filter(|&c| c != ch && m.has_live(c)).collect();
                let hosts_live: HashSet<usize> = others_live
                    .iter()
                    .map(|&c| HOSTS[c])
                    .filter(|&h| h != HOSTS[ch])
                    .collect();
                let must_refuse_table =
                    !m.has_live(ch) && (others_live.len() >= C || hosts_live.len() >= C);
                // Hosts referenced by a channel entry (the known bug's tolerance).
                let mut pinned = [false; 5];
                if !strict {
                    for id in &before {
                        if let Some(c) = ids.iter().position(|i| i.0 == *id) {
                            pinned[HOSTS[c]] = true;
                        }
                    }
                    pinned[HOSTS[ch]] = false;
                }
                let busy_channels = (0..6)
                    .filter(|&c| c != ch && m.channel_may_be_busy(c))
                    .count();
                let busy_hosts = (0..5)
                    .filter(|&h| h != HOSTS[ch] && m.host_may_be_busy(h, &pinned))
                    .count();
                let host_present = (0..6).any(|c| HOSTS[c] == HOSTS[ch] && m.has_live(c));
                let may_refuse_table = busy_channels >= C || (!host_present && busy_hosts >= C);
                match result {
                    Ok(t) => {
                        prop_assert!(m.live() < Q, "took a fifth notification");
                        prop_assert!(!m.expired[ch], "took a notification for an expired channel");
                        prop_assert!(!must_refuse_table, "took a fourth channel or host");
                        prop_assert!(after.contains(&ids[ch].0), "no entry for the channel");
                        if before.len() == C && !before.contains(&ids[ch].0) {
                            st.recycled_channel += 1;
                        }
                        if hosts_before == C && before.len() < C && !before.contains(&ids[ch].0) {
                            st.recycled_host += 1;
                        }
                        st.submitted += 1;
                        // A new update of the tile ends a queued or waiting one.
                        if tile {
                            let now = m.now;
                            for old in m.notes.iter_mut() {
                                if old.channel == ch
                                    && old.tile
                                    && !old.polled
                                    && !old.in_flight
                                    && old.expect.is_empty()
                                {
                                    old.expect.push(Finished::Superseded { by: t });
                                    if old.may_give_up(now) {
                                        old.expect.push(Finished::GaveUp {
                                            last: old.last_retry,
                                        });
                                    }
                                }
                            }
                        }
                        m.notes.push(Note {
                            ticket: t,
                            channel: ch,
                            tile,
                            submitted_at: m.now,
                            in_flight: false,
                            sends: 0,
                            queue_full: 0,
                            sent_seq: 0,
                            count_at_send: 0,
                            not_before: Instant::ZERO,
                            last_retry: None,
                            cancel_after_response: false,
                            expect: Vec::new(),
                            polled: false,
                        });
                    }
                    Err(SubmitError::QueueFull) => {
                        prop_assert_eq!(m.live(), Q, "QueueFull with room");
                        prop_assert_eq!(sender.pending(), Q);
                        st.queue_full += 1;
                    }
                    Err(SubmitError::ChannelExpired(id)) => {
                        prop_assert!(m.live() < Q, "ChannelExpired before QueueFull");
                        prop_assert!(m.expired[ch], "ChannelExpired for a live channel");
                        prop_assert_eq!(id, ids[ch]);
                        st.channel_expired += 1;
                    }
                    Err(SubmitError::ChannelTableFull) => {
                        prop_assert!(m.live() < Q, "ChannelTableFull before QueueFull");
                        prop_assert!(!m.expired[ch], "ChannelTableFull for an expired channel");
                        prop_assert!(
                            before.len() == C || hosts_before == C,
                            "ChannelTableFull with {} channel and {} host entries",
                            before.len(),
                            hosts_before
                        );
                        prop_assert!(
                            may_refuse_table,
                            "ChannelTableFull at {} although at most {} other channels and {} \
                             other hosts may need their entries: {:?}",
                            m.now,
                            busy_channels,
                            busy_hosts,
                            before
                        );
                        // The channel table is left as it was (the host's entry
                        // may have been made before the channel table was
                        // found full; it holds nothing and may go).
                        prop_assert_eq!(&before, &after);
                        prop_assert!(hosts_after <= hosts_before + 1);
                        st.table_full += 1;
                    }
                    Err(e) => prop_assert!(false, "refused {:?}", e),
                }
            }
            Op::Cancel(i) => {
                if m.notes.is_empty() {
                    continue;
                }
                let i = i % m.notes.len();
                let t = m.notes[i].ticket;
                let result = sender.cancel(t);
                let n = &mut m.notes[i];
                let kind = match result {
                    Err(TicketError::Unknown(u)) => {
                        prop_assert_eq!(u, t);
                        prop_assert!(
                            n.polled,
                            "{:?} unknown before its final event was polled",
                            t
                        );
                        "unknown"
                    }
                    Err(TicketError::AlreadyFinished(u)) => {
                        prop_assert_eq!(u, t);
                        prop_assert!(!n.polled && !n.in_flight);
                        // Known final, or given up on its own.
                        prop_assert!(
                            !n.expect.is_empty() || n.may_give_up(m.now),
                            "{:?} already finished, but nothing ended it",
                            t
                        );
                        "already finished"
                    }
                    Err(e) => return Err(TestCaseError::fail(format!("cancel: {e:?}"))),
                    Ok(Cancellation::AfterResponse) => {
                        prop_assert!(n.in_flight, "AfterResponse for {:?} not in flight", t);
                        n.cancel_after_response = true;
                        "after response"
                    }
                    Ok(Cancellation::Done) => {
                        prop_assert!(!n.polled && !n.in_flight);
                        prop_assert!(n.expect.is_empty(), "cancelled {:?} after it ended", t);
                        n.expect.push(Finished::Cancelled);
                        "done"
                    }
                };
                *st.cancel.entry(kind).or_default() += 1;
            }
            Op::Transmit => {
                transmit(&mut sender, &mut m)?;
            }
            Op::Forget(ch) => {
                sender.forget_channel(ids[ch]);
                // Only an expiry the application heard of is forgotten, and
                // with it the channel's pause.
                if m.expired[ch] && m.expiry_reported[ch] {
                    m.expired[ch] = false;
                    m.expiry_reported[ch] = false;
                    m.channel_not_before[ch] = Instant::ZERO;
                    m.channel_pause_max[ch] = Instant::ZERO;
                }
                prop_assert_eq!(
                    sender.is_expired(&ChannelUri::parse(CHANNELS[ch]).unwrap()),
                    m.expired[ch]
                );
            }
            Op::Respond { nth, reply } => {
                let in_flight: Vec<Ticket> = m
                    .notes
                    .iter()
                    .filter(|n| n.in_flight)
                    .map(|n| n.ticket)
                    .collect();
                if in_flight.is_empty() {
                    continue;
                }
                let ticket = in_flight[nth % in_flight.len()];
                let now = m.now;
                let (means, retry_after) = match REPLIES[reply] {
                    None => {
                        sender.handle_transport_error(now, ticket).unwrap();
                        (Means::Retry(RetryReason::Transport, true), None)
                    }
                    Some((status, n, s, ra, means)) => {
                        sender
                            .handle_response(now, ticket, &reply_response(status, n, s, ra))
                            .unwrap();
                        (means, (!ra.is_empty()).then(|| ra.parse::<u64>().unwrap()))
                    }
                };
                let asked = Duration::from_secs(retry_after.unwrap_or(0));
                let ch = m.note(ticket).channel;
                let host = HOSTS[ch];
                let n = m.note(ticket);
                n.in_flight = false;
                match means {
                    Means::Final(f) => {
                        n.expect.push(f);
                        if f == Finished::ChannelExpired {
                            m.expired[ch] = true;
                            m.expiry_reported[ch] = false;
                            for other in m.notes.iter_mut() {
                                if other.channel == ch && !other.polled && other.expect.is_empty() {
                                    other.expect.push(Finished::ChannelExpired);
                                    if other.may_give_up(now) {
                                        other.expect.push(Finished::GaveUp {
                                            last: other.last_retry,
                                        });
                                    }
                                }
                            }
                        }
                        // "Every final answer from the host resets it to
                        // zero": the count, not the pause.
                        m.host_failures[host] = 0;
                        m.host_count_unknown[host] = false;
                    }
                    Means::Retry(reason, host_wide) => {
                        n.last_retry = Some(reason);
                        if n.cancel_after_response {
                            n.expect.push(Finished::Cancelled);
                        } else if n.sends >= MAX_ATTEMPTS {
                            n.expect.push(Finished::GaveUp { last: Some(reason) });
                        }
                        if reason == RetryReason::QueueFull {
                            // Scope Message: this notification waits.
                            n.queue_full += 1;
                            let d = Duration::from_millis(min_exponential(n.queue_full));
                            n.not_before = now + d.max(asked);
                        } else if host_wide {
                            // Scope Host: a new outage counts one more
                            // failure in a row and pauses the host.
                            let (sent, count) = (n.sent_seq, n.count_at_send);
                            m.host_failed_at[host] = Some(now);
                            if !m.host_count_unknown[host]
                                && count == m.host_failures[host]
                                && sent > m.host_counted_at[host]
                            {
                                m.host_failures[host] += 1;
                                m.seq += 1;
                                m.host_counted_at[host] = m.seq;
                                let d =
                                    Duration::from_millis(min_exponential(m.host_failures[host]));
                                m.host_not_before[host] =
                                    m.host_not_before[host].max(now + d.max(asked));
                            }
                        } else {
                            // Scope Channel: an hour, jitter only lengthens it.
                            let pause = Duration::from_millis(HOUR).max(asked);
                            m.channel_not_before[ch] = m.channel_not_before[ch].max(now + pause);
                            m.channel_pause_max[ch] = m.channel_pause_max[ch]
                                .max(now + Duration::from_millis(HOUR * 12 / 10 + MIN));
                        }
                    }
                }
            }
            Op::Advance(ms) => {
                m.now = m.now + Duration::from_millis(ms);
                sender.handle_timeout(m.now);
            }
            Op::Events => poll_events(&mut sender, &mut m, &mut st)?,
        }
        prop_assert_eq!(sender.pending(), m.live(), "pending");
    }

    // Finish: answer everything with Received and let time pass until nothing is pending.
    let ok = || reply_response(200, "Received", "Active", "");
    for _ in 0..500 {
        let now = m.now;
        let in_flight: Vec<Ticket> = m
            .notes
            .iter()
            .filter(|n| n.in_flight)
            .map(|n| n.ticket)
            .collect();
        for ticket in in_flight {
            sender.handle_response(now, ticket, &ok()).unwrap();
            let n = m.note(ticket);
            n.in_flight = false;
            n.expect.push(ACCEPTED);
        }
        while transmit(&mut sender, &mut m)? {
            let ticket = m.notes.iter().find(|n| n.in_flight).unwrap().ticket;
            sender.handle_response(now, ticket, &ok()).unwrap();
            let n = m.note(ticket);
            n.in_flight = false;
            n.expect.push(ACCEPTED);
        }
        poll_events(&mut sender, &mut m, &mut st)?;
        if sender.pending() == 0 {
            break;
        }
        let next = sender.poll_timeout();
        prop_assert!(next.is_some(), "pending notifications but no timeout");
        let next = next.unwrap();
        prop_assert!(next > m.now, "timeout {} not after now {}", next, m.now);
        m.now = next;
        sender.handle_timeout(m.now);
    }
    prop_assert_eq!(sender.pending(), 0, "livelock");
    prop_assert!(
        m.notes.iter().all(|n| n.polled),
        "every ticket ends in exactly one final event"
    );
    for (channel, sends) in m.sends.iter().enumerate().filter(|(c, _)| HTTP[*c]) {
        for (i, start) in sends.iter().enumerate() {
            let in_window = sends[i..]
                .iter()
                .filter(|t| (**t - *start).as_millis() < HOUR)
                .count();
            prop_assert!(
                in_window <= QUOTA,
                "{} sends within an hour on http channel {}",
                in_window,
                channel
            );
        }
    }
    Ok(())
}

fn run(cases: u32, strict: bool) -> Stats {
    let stats = RefCell::new(Stats::default());
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(op(), 1..150), |ops| {
        check(ops, strict, &stats)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    stats.into_inner()
}

#[test]
fn invariants_hold_for_any_sequence() {
    let stats = run(1500, false);
    println!("{stats:#?}");
    // The generator reaches the states the checks are about.
    assert!(stats.submitted > 10_000, "{stats:?}");
    assert!(stats.queue_full > 100, "{stats:?}");
    assert!(stats.table_full > 100, "{stats:?}");
    assert!(stats.channel_expired > 10, "{stats:?}");
    assert!(stats.recycled_channel > 100, "{stats:?}");
    assert!(stats.cancel.len() == 4, "{stats:?}");
    for f in [
        "accepted",
        "suppressed",
        "dropped",
        "rejected",
        "anomaly",
        "channel_expired",
        "superseded",
        "cancelled",
        "gave_up",
    ] {
        assert!(
            stats.finished.get(f).is_some_and(|&n| n > 10),
            "{f}: {stats:?}"
        );
    }
}

/// The same with every `ChannelTableFull` justified by the doc alone.
#[test]
fn invariants_hold_for_any_sequence_strict() {
    run(1500, true);
}

/// `docs/protocol.md`, "Quota" and `SubmitError::ChannelTableFull`: an http
/// channel's entry is kept until its quota window is empty, then it may go.
/// Three http channels on three hosts fill both tables; a day later their
/// windows are empty (`room_at` says so), yet a channel on a fourth host is
/// refused forever: `channel_entry` asks for a host entry before recycling
/// the idle channel entry, and `host_entry` keeps every host an idle channel
/// entry still points to.
#[test]
fn idle_channel_entries_do_not_pin_the_host_table() {
    let mut s: TestSender = Sender::new(SenderConfig::default(), vec![0; Q * 512]);
    let toast = Notification::Toast(Toast {
        text1: Some("t"),
        ..Toast::default()
    });
    let ok = reply_response(200, "Received", "Active", "");
    let now = Instant::ZERO;
    for uri in [
        "http://a.example/1",
        "http://b.example/2",
        "http://c.example/3",
    ] {
        let uri = ChannelUri::parse(uri).unwrap();
        s.submit(now, uri, &toast, &Options::default()).unwrap();
        let t = s.poll_transmit(now).unwrap().ticket;
        s.handle_response(now, t, &ok).unwrap();
        while s.poll_event().is_some() {}
    }
    let fourth = ChannelUri::parse("http://d.example/4").unwrap();
    assert_eq!(
        s.submit(now, fourth, &toast, &Options::default()),
        Err(SubmitError::ChannelTableFull)
    );
    let room = s.room_at().expect("the table clears with time");
    let later = room + Duration::from_hours(48);
    assert!(
        s.submit(later, fourth, &toast, &Options::default()).is_ok(),
        "refused at {later}, after room_at {room}"
    );
}

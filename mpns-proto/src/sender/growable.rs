//! The growable sender (feature `alloc`): any number of notifications and
//! channels within a memory budget, every operation O(log n).
//!
//! The records are those of [`super::fixed`] and the decisions
//! [`super::policy`]'s; what differs is how the sender finds what is due
//! without looking at everything:
//!
//! - notifications live in a slab, found by ticket through a hash map, and
//!   are linked in a FIFO per channel; only a channel's head is scheduled;
//! - a channel whose head may go now sits in its host's ready heap (oldest
//!   head first), and a host with ready channels and no pause in the ready
//!   heap of hosts: a host pause parks all its channels at once, untouched;
//! - everything that waits on time (a head's backoff, a channel's pause or
//!   quota hold, a host's pause, a notification's deadline, a channel whose
//!   quota window must be kept) is an entry in a timer heap;
//! - heap entries carry the generation of what they schedule and are dropped
//!   when it changed since (lazy deletion), so no entry is ever searched for.
//!
//! Channels are remembered while they have queued notifications, a pause,
//! an unforgotten expiry or sends in their quota window, and dropped when
//! they hold nothing. A channel that holds nothing but its quota window, with
//! all its sends in one bucket (a device that got a notification or a few at
//! once: a server's common case), shrinks to 16 bytes, plus 16 for the
//! timer that forgets it when the window empties: a day of a million devices
//! keeps 32 MB of quota memory.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;
use core::hash::{BuildHasherDefault, Hasher};
use core::mem::size_of;

use hashbrown::HashMap;

use crate::notification::Notification;
use crate::options::{Limits, MessageId, Options};
use crate::request::Request;
use crate::response::{Outcome, Response, classify};
use crate::time::Instant;
use crate::uri::{ChannelUri, UriSplit};

use super::lifecycle::{Input, Stage};
use super::min_queue::MinQueue;
use super::policy::{self, ChannelState, HostState, Note, Ready, Stored};
use super::quota::QuotaWindow;
use super::record::{self, Inner, Record, ReplayError};
use super::{
    Cancellation, ChannelId, Event, SenderConfig, SubmitError, Ticket, TicketError, Transmit,
};

/// Bytes of the scratch buffer a body is encoded into on submit: more than
/// any body MPNS's limits allow (a longer one is written again from the model).
const SCRATCH: usize = 8 * 1024;

/// No index: the end of a channel's FIFO.
const NONE: u32 = u32::MAX;
/// In the ticket map: finished, its final event not polled yet.
const FINISHED: u32 = u32::MAX;

/// Hashes keys that are already well spread (channel ids are keyed hashes)
/// or sequential (tickets), keeping sequential keys near each other in the
/// table (a million pending tickets are then looked up with few cache
/// misses) while their low bits also vary the top bits the table compares first.
#[derive(Clone, Copy, Default)]
struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0 ^ self.0.rotate_right(7)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
    fn write_u32(&mut self, n: u32) {
        self.0 ^= u64::from(n);
    }
}

type Map<K, V> = HashMap<K, V, BuildHasherDefault<Mix>>;

/// A channel's quota window as its one bucket with sends, when that is all
/// the channel holds (no pause, no expiry, unauthenticated).
fn compact(state: &ChannelState<u32>, now: Instant) -> Option<(u32, u16)> {
    if state.expired || state.authenticated || state.paused_until > now {
        return None;
    }
    let (bucket, count) = state.quota.single()?;
    Some((u32::try_from(bucket).ok()?, count))
}

/// A fresh generation from the sender's counter.
fn next_generation(epoch: &mut u64) -> u64 {
    *epoch += 1;
    *epoch
}

/// One pending notification.
struct NoteRec {
    ticket: Ticket,
    stage: Stage,
    channel: ChannelId,
    /// With its neighbours in its channel's FIFO.
    note: Note<Links>,
    split: UriSplit,
    /// Channel URI, callback URI and body.
    bytes: Box<[u8]>,
}

/// A notification's neighbours in its channel's FIFO (`NONE` at the ends).
#[derive(Clone, Copy, Debug)]
struct Links {
    prev: u32,
    next: u32,
}

/// One remembered channel.
struct ChannelRec {
    /// With the index of its host in `hosts`.
    state: ChannelState<u32>,
    /// Its FIFO of unfinished notifications, oldest first.
    head: u32,
    tail: u32,
    /// Renewed whenever its schedule changes; heap entries with another are stale.
    generation: u64,
    /// When a check whether it can be forgotten is queued (`ZERO`: none).
    retire_at: Instant,
    /// When a deadline check is queued (`ZERO`: none). Deadlines follow
    /// submission order, so the FIFO's first notification not in flight has
    /// the earliest: one timer per channel covers them all.
    deadline_at: Instant,
}

/// One remembered host.
struct HostRec {
    key: u64,
    state: HostState,
    /// Channels remembered on this host.
    channels: u32,
    /// Channels whose head may go as soon as the host may: (head ticket, channel, generation).
    ready: MinQueue<(u64, ChannelId, u64)>,
    generation: u64,
}

/// Something that waits on time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// Schedule the channel's head again (its generation then).
    Channel(ChannelId, u64),
    /// The host's pause ended (its generation then).
    Host(u32, u64),
    /// Forget the channel if it holds nothing any more.
    Retire(ChannelId),
    /// Give up on the channel's notifications past their deadline.
    Deadline(ChannelId),
}

/// What `poll_event` reports before final events.
#[derive(Clone, Copy, Debug)]
enum Info {
    Mismatch(Ticket),
    Notice(Ticket),
    InDoubt(Ticket, u16),
}

/// A record to hand out: what changed, read when the record is polled (so
/// that it carries the latest state).
#[derive(Clone, Copy, Debug)]
enum Pending {
    Submitted(Ticket),
    Progress(Ticket),
    /// The next final event's record.
    Final,
    Channel(ChannelId),
    Host(u64),
}

/// Whether records may still be replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Fresh,
    Replaying,
    Running,
}

/// The MPNS sender state machine, growable: any number of pending
/// notifications and remembered channels, within a memory budget. The same
/// methods and events as [`super::Sender`]; see the [module docs](super)
/// for the run loop.
///
/// ```
/// use mpns_proto::{ChannelUri, GrowableSender, Instant, Notification, Options, SenderConfig, Toast};
///
/// // 64 MiB of pending notifications: about 150,000 typical toasts.
/// let mut sender = GrowableSender::new(SenderConfig::default(), 64 << 20);
/// let toast = Notification::Toast(Toast { text1: Some("Storm warning"), ..Toast::default() });
/// let now = Instant::ZERO;
/// for i in 0..10_000 {
///     let uri = format!("http://127.0.0.1:47001/throttledthirdparty/01.00/device{i}");
///     match sender.submit(now, ChannelUri::parse(&uri)?, &toast, &Options::default()) {
///         Ok(_) => {}
///         Err(e) if e.is_back_pressure() => break, // send and read events, then go on
///         Err(e) => return Err(e.into()),
///     }
/// }
/// assert_eq!(sender.pending(), 10_000);
/// // Oldest first, one request in flight per channel.
/// let first = sender.poll_transmit(now).expect("due now");
/// assert_eq!(first.ticket.0, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct GrowableSender {
    config: SenderConfig,
    budget: usize,
    used: usize,
    now: Instant,
    rng: u64,
    next_ticket: u64,
    next_order: u64,
    notes: Vec<Option<NoteRec>>,
    free_notes: Vec<u32>,
    tickets: Map<u64, u32>,
    channels: Map<ChannelId, ChannelRec>,
    /// Channels kept only for their quota window, as its one bucket with
    /// sends and their count (see the module docs).
    remembered: Map<ChannelId, (u32, u16)>,
    /// When each remembered window empties (stale entries are skipped).
    forget: MinQueue<(Instant, ChannelId)>,
    hosts: Vec<Option<HostRec>>,
    free_hosts: Vec<u32>,
    host_keys: Map<u64, u32>,
    /// Hosts with ready channels: (oldest ready head's ticket, host, generation).
    ready_hosts: MinQueue<(u64, u32, u64)>,
    /// Every host's oldest ready head, paused or not: (its ticket, host).
    /// Deadlines follow tickets, so the first entry has the earliest
    /// deadline of all ready heads (stale entries are dropped from the front).
    ready_deadlines: MinQueue<(u64, u32)>,
    timers: MinQueue<(Instant, Timer)>,
    /// Timer entries after the last compaction (stale ones are dropped when
    /// the heap has doubled since).
    timers_floor: usize,
    /// The last generation given: one counter for every channel and host,
    /// so that a stale entry never matches, even of a record forgotten and
    /// made again.
    epoch: u64,
    /// Channels scheduled as held by their quota since the last `poll_transmit`.
    quota_held: Vec<ChannelId>,
    /// Where `submit` encodes a body (see [`SCRATCH`]).
    scratch: Vec<u8>,
    expiries: VecDeque<ChannelId>,
    info: VecDeque<Info>,
    finals: VecDeque<Event>,
    /// Whether records are handed out (see [`GrowableSender::recording`]).
    recording: bool,
    records: VecDeque<Pending>,
    /// Final events at the front of `finals` whose record was handed out:
    /// while recording, only those are given to `poll_event`.
    finals_recorded: usize,
    phase: Phase,
    /// The last ticket replayed from a `submitted` record.
    replayed: u64,
}

impl fmt::Debug for GrowableSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrowableSender")
            .field("pending", &self.tickets.len())
            .field("channels", &self.channels.len())
            .field("used", &self.used)
            .field("budget", &self.budget)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl GrowableSender {
    /// Bytes counted per pending notification beyond its request bytes
    /// (channel URI, callback URI and body): its record and its ticket's map entry.
    pub const NOTIFICATION_OVERHEAD: usize = size_of::<Option<NoteRec>>() + size_of::<(u64, u32)>();
    /// Bytes counted per remembered channel: its map entry and its timers
    /// (a schedule, a deadline check and a retire check).
    pub const CHANNEL_ENTRY: usize =
        size_of::<(ChannelId, ChannelRec)>() + 3 * size_of::<(Instant, Timer)>();
    /// Bytes a channel takes when all it holds is its quota window, with its
    /// sends in one bucket: its entry and the timer that forgets it. Not
    /// counted against the budget (see [`GrowableSender::new`]).
    pub const REMEMBERED_ENTRY: usize =
        size_of::<(ChannelId, (u32, u16))>() + size_of::<(Instant, ChannelId)>();
    /// Bytes counted per remembered host (scheme, host name and port).
    pub const HOST_ENTRY: usize = size_of::<Option<HostRec>>() + size_of::<(u64, u32)>();
    /// Bytes counted per final event not yet polled.
    pub const FINAL_EVENT: usize = size_of::<Event>() + size_of::<(u64, u32)>();

    /// A sender with no pending notifications that holds at most `budget`
    /// bytes of pending notifications, channels with queued work, pauses or
    /// unforgotten expiry, hosts and unpolled events (counted as the
    /// constants above say; the hash tables' spare capacity is not counted).
    ///
    /// Channels kept only for their quota window are not counted against the
    /// budget: they are what the policy must remember (an unauthenticated
    /// channel is held under its quota), they leave by themselves when their
    /// window empties, and refusing work for them would stall a server for a
    /// day. They take [`GrowableSender::REMEMBERED_ENTRY`] bytes each (see
    /// [`GrowableSender::remembered_memory`]).
    pub fn new(config: SenderConfig, budget: usize) -> Self {
        GrowableSender {
            config,
            budget,
            used: 0,
            now: Instant::ZERO,
            rng: policy::splitmix(config.seed),
            next_ticket: 1,
            next_order: 0,
            notes: Vec::new(),
            free_notes: Vec::new(),
            tickets: Map::default(),
            channels: Map::default(),
            remembered: Map::default(),
            forget: MinQueue::new(),
            hosts: Vec::new(),
            free_hosts: Vec::new(),
            host_keys: Map::default(),
            ready_hosts: MinQueue::new(),
            ready_deadlines: MinQueue::new(),
            timers: MinQueue::new(),
            timers_floor: 0,
            epoch: 0,
            quota_held: Vec::new(),
            scratch: Vec::new(),
            expiries: VecDeque::new(),
            info: VecDeque::new(),
            finals: VecDeque::new(),
            recording: false,
            records: VecDeque::new(),
            finals_recorded: 0,
            phase: Phase::Fresh,
            replayed: 0,
        }
    }

    /// The same sender, handing out a [`Record`] for every change a journal
    /// must keep ([`GrowableSender::poll_record`]). While recording, a final
    /// event is given to `poll_event` only after its record was polled, so
    /// that the application never hears of an end the journal may lose.
    pub fn recording(mut self) -> Self {
        self.recording = true;
        self
    }

    fn record(&mut self, pending: Pending) {
        if self.recording {
            self.records.push_back(pending);
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SenderConfig {
        &self.config
    }

    /// Notifications submitted whose final event has not been polled yet.
    pub fn pending(&self) -> usize {
        self.tickets.len()
    }

    /// Whether `ticket` is submitted and its final event not polled yet.
    pub fn contains(&self, ticket: Ticket) -> bool {
        self.tickets.contains_key(&ticket.0)
    }

    /// Channels remembered now (with queued notifications, a pause, an
    /// unforgotten expiry or sends in their quota window).
    pub fn channels(&self) -> usize {
        self.channels.len() + self.remembered.len()
    }

    /// Bytes of channels kept only for their quota window (not counted
    /// against the budget).
    pub fn remembered_memory(&self) -> usize {
        self.remembered.len() * Self::REMEMBERED_ENTRY
    }

    /// Bytes counted against the budget now.
    pub fn memory_used(&self) -> usize {
        self.used
    }

    /// The memory budget.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// The id this sender gives `channel`.
    pub fn channel_id(&self, channel: &ChannelUri<'_>) -> ChannelId {
        policy::channel_id(self.config.seed, channel)
    }

    /// Whether `channel` is known to have expired.
    pub fn is_expired(&self, channel: &ChannelUri<'_>) -> bool {
        self.channels
            .get(&self.channel_id(channel))
            .is_some_and(|c| c.state.expired)
    }

    // ---- commands ---------------------------------------------------------

    /// Queues a notification for `channel`. Everything is validated now; the
    /// request bytes are kept until its final event is polled.
    ///
    /// [`SubmitError::QueueFull`] means the memory budget is reached:
    /// back-pressure, submit again after the next final event.
    pub fn submit(
        &mut self,
        now: Instant,
        channel: ChannelUri<'_>,
        notification: &Notification<'_>,
        options: &Options<'_>,
    ) -> Result<Ticket, SubmitError> {
        // On hosts the body is encoded once, into a scratch buffer, while it
        // is validated (see `FAST_PATHS`); the stored copy is then exact.
        let mut scratch = core::mem::take(&mut self.scratch);
        let request = if crate::payload::FAST_PATHS {
            scratch.resize(SCRATCH, 0);
            Request::notification_with_body(channel, notification, options, &mut scratch)
        } else {
            Request::notification(channel, notification, options)
        };
        let result = match request {
            Err(e) => Err(SubmitError::Encode(e)),
            Ok(request) => {
                let tile = match notification {
                    #[cfg(feature = "tiles")]
                    Notification::Tile(tile) => Some(policy::tile_key(self.config.seed, tile.id)),
                    _ => None,
                };
                let written = scratch
                    .get(..request.body_len())
                    .filter(|_| crate::payload::FAST_PATHS);
                self.enqueue(now, &request, options.message_id, tile, written)
            }
        };
        self.scratch = scratch;
        result
    }

    /// Queues a callback registration for an authenticated `channel`. It
    /// takes its turn with the channel's notifications.
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

    fn enqueue(
        &mut self,
        now: Instant,
        request: &Request<'_>,
        message_id: Option<MessageId>,
        tile: Option<u64>,
        body: Option<&[u8]>,
    ) -> Result<Ticket, SubmitError> {
        self.advance(now);
        let channel = *request.channel();
        let stored = Stored::of(request, message_id);
        let cost = Self::NOTIFICATION_OVERHEAD + stored.len();
        let id = self.channel_id(&channel);
        let known = self.channels.get(&id);
        let entry_cost = match known {
            Some(_) => 0,
            None => Self::CHANNEL_ENTRY + Self::HOST_ENTRY,
        };
        if cost + entry_cost > self.budget {
            return Err(SubmitError::TooLarge {
                needed: cost + entry_cost,
                slot: self.budget,
            });
        }
        if self.used + cost + entry_cost > self.budget {
            return Err(SubmitError::QueueFull);
        }
        if known.is_some_and(|c| c.state.expired) {
            return Err(SubmitError::ChannelExpired(id));
        }
        if known.is_none() {
            let quota = self
                .remembered
                .remove(&id)
                .map(|(bucket, count)| QuotaWindow::from_single(bucket.into(), count));
            self.add_channel(id, &channel, quota);
        }
        let ticket = Ticket(self.next_ticket);
        let mut bytes = alloc::vec![0u8; stored.len()].into_boxed_slice();
        policy::store_request(request, &mut bytes, body.is_some());
        if let Some(body) = body {
            let start = bytes.len() - body.len();
            bytes[start..].copy_from_slice(body);
        }
        let note = NoteRec {
            ticket,
            stage: Stage::Queued,
            channel: id,
            note: Note::new(
                &self.config,
                self.now,
                Links {
                    prev: NONE,
                    next: NONE,
                },
                tile,
                stored,
            ),
            split: channel.split(),
            bytes,
        };
        let ix = match self.free_notes.pop() {
            Some(ix) => {
                self.notes[ix as usize] = Some(note);
                ix
            }
            None => {
                self.notes.push(Some(note));
                (self.notes.len() - 1) as u32
            }
        };
        self.used += cost;
        self.tickets.insert(ticket.0, ix);
        self.next_ticket = self.next_ticket.saturating_add(1);
        self.record(Pending::Submitted(ticket));
        let head = self.channels.get(&id).map_or(NONE, |c| c.head);
        self.link_tail(id, ix);
        if tile.is_some() && self.config.supersede_tiles {
            self.supersede(id, tile, ix);
        }
        if self.channels.get(&id).is_some_and(|c| c.head != head) {
            self.schedule_ticked(id, false);
        } else {
            self.arm_deadline(id);
        }
        Ok(ticket)
    }

    fn add_channel(&mut self, id: ChannelId, channel: &ChannelUri<'_>, quota: Option<QuotaWindow>) {
        let key = policy::host_key(self.config.seed, channel);
        let mut state = ChannelState::new(channel, 0);
        if let Some(quota) = quota {
            state.quota = quota;
        }
        self.insert_channel(id, key, state);
    }

    /// Remembers channel `id` on the host `key` with `state` (its host index is set here).
    fn insert_channel(&mut self, id: ChannelId, key: u64, mut state: ChannelState<u32>) {
        let host = match self.host_keys.get(&key) {
            Some(&h) => h,
            None => self.new_host(key),
        };
        self.host_mut(host).channels += 1;
        let generation = next_generation(&mut self.epoch);
        state.host = host;
        self.channels.insert(
            id,
            ChannelRec {
                state,
                head: NONE,
                tail: NONE,
                generation,
                retire_at: Instant::ZERO,
                deadline_at: Instant::ZERO,
            },
        );
        self.used += Self::CHANNEL_ENTRY;
    }

    /// Remembers host `key`, with nothing known of it yet.
    fn new_host(&mut self, key: u64) -> u32 {
        let generation = next_generation(&mut self.epoch);
        let rec = HostRec {
            key,
            state: HostState::default(),
            channels: 0,
            ready: MinQueue::new(),
            generation,
        };
        let h = match self.free_hosts.pop() {
            Some(h) => {
                self.hosts[h as usize] = Some(rec);
                h
            }
            None => {
                self.hosts.push(Some(rec));
                (self.hosts.len() - 1) as u32
            }
        };
        self.host_keys.insert(key, h);
        self.used += Self::HOST_ENTRY;
        h
    }

    /// Ends the queued updates of tile `tile` on channel `id` older than `new`.
    fn supersede(&mut self, id: ChannelId, tile: Option<u64>, new: u32) {
        let by = self.note(new).ticket;
        let mut ix = self.channels.get(&id).map_or(NONE, |c| c.head);
        while ix != NONE && ix != new {
            let n = self.note(ix);
            let next = n.note.place.next;
            if policy::supersedes(&self.config, tile, n.stage, &n.note) {
                self.apply(ix, Input::Superseded { by });
            }
            ix = next;
        }
    }

    /// Cancels a notification.
    pub fn cancel(&mut self, ticket: Ticket) -> Result<Cancellation, TicketError> {
        self.settle();
        let ix = self.find(ticket)?;
        let n = self.note_mut(ix);
        match policy::cancel(n.stage, ticket)? {
            None => {
                n.note.cancel_requested = true;
                self.record(Pending::Progress(ticket));
                Ok(Cancellation::AfterResponse)
            }
            Some(input) => {
                let channel = n.channel;
                self.apply(ix, input);
                self.schedule_ticked(channel, false);
                Ok(Cancellation::Done)
            }
        }
    }

    /// Forgets an expired channel (after the application deleted it), so that
    /// its entry can go. Nothing happens for a channel that is in use.
    pub fn forget_channel(&mut self, channel: ChannelId) {
        self.settle();
        if let Some(c) = self.channels.get_mut(&channel)
            && c.state.forget_expiry()
        {
            self.record(Pending::Channel(channel));
            self.schedule(channel);
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
        self.settle();
        let ix = self.in_flight(ticket)?;
        if policy::echo_mismatch(&mut self.note_mut(ix).note, response) {
            self.info.push_back(Info::Mismatch(ticket));
        }
        self.answer(now, ix, classify(response));
        Ok(())
    }

    /// Reports that a request from `poll_transmit` got no response: the
    /// whole host backs off as after a 503 (every kind of failure alike).
    pub fn handle_transport_error(
        &mut self,
        now: Instant,
        ticket: Ticket,
    ) -> Result<(), TicketError> {
        self.settle();
        let ix = self.in_flight(ticket)?;
        self.answer(now, ix, Outcome::transport_failure());
        Ok(())
    }

    /// Tells the sender the time: gives up on notifications past their
    /// deadline, ends waits that are over, forgets channels that hold nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
    }

    fn advance(&mut self, now: Instant) {
        if self.phase != Phase::Running {
            self.resume(now);
        }
        if now > self.now {
            self.now = now;
        }
        while let Some(&(at, id)) = self.forget.peek() {
            if at > self.now {
                break;
            }
            self.forget.pop();
            let window = self.config.quota_window;
            let empty = self
                .remembered
                .get(&id)
                .is_some_and(|&(b, _)| QuotaWindow::single_empty_at(b.into(), window) <= self.now);
            if empty {
                self.remembered.remove(&id);
            }
        }
        while let Some(&(at, timer)) = self.timers.peek() {
            if at > self.now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Deadline(id) => {
                    let Some(c) = self.channels.get_mut(&id) else {
                        continue;
                    };
                    c.deadline_at = Instant::ZERO;
                    // Every notification past its deadline is at the front of
                    // the FIFO; one in flight is judged when its answer comes.
                    let mut ix = c.head;
                    while let Some(n) = self.note_opt(ix) {
                        if n.note.deadline > self.now {
                            break;
                        }
                        let (next, tick) = (n.note.place.next, n.note.tick(self.now));
                        self.apply(ix, tick);
                        ix = next;
                    }
                    self.schedule(id);
                }
                Timer::Channel(id, generation) => {
                    if self
                        .channels
                        .get(&id)
                        .is_some_and(|c| c.generation == generation)
                    {
                        self.schedule(id);
                    }
                }
                Timer::Host(h, generation) => {
                    if self.host(h).is_some_and(|h| h.generation == generation) {
                        self.refresh_host(h);
                    }
                }
                Timer::Retire(id) => {
                    if let Some(c) = self.channels.get_mut(&id) {
                        c.retire_at = Instant::ZERO;
                        if c.head == NONE {
                            self.schedule(id);
                        }
                    }
                }
            }
        }
        self.expire_ready();
    }

    fn find(&self, ticket: Ticket) -> Result<u32, TicketError> {
        match self.tickets.get(&ticket.0) {
            None => Err(TicketError::Unknown(ticket)),
            Some(&FINISHED) => Err(TicketError::AlreadyFinished(ticket)),
            Some(&ix) => Ok(ix),
        }
    }

    fn in_flight(&self, ticket: Ticket) -> Result<u32, TicketError> {
        let ix = self.find(ticket)?;
        match self.note(ix).stage {
            Stage::InFlight => Ok(ix),
            _ => Err(TicketError::NotInFlight(ticket)),
        }
    }

    /// Applies a classified answer to the in-flight notification `ix`.
    fn answer(&mut self, now: Instant, ix: u32, outcome: Outcome) {
        if now > self.now {
            self.now = now;
        }
        let id = self.note(ix).channel;
        let Some(c) = self.channels.get_mut(&id) else {
            return;
        };
        let h = c.state.host;
        let Some(Some(host)) = self.hosts.get_mut(h as usize) else {
            return;
        };
        let Some(Some(n)) = self.notes.get_mut(ix as usize) else {
            return;
        };
        let (host_was, channel_was) = (host.state, (c.state.paused_until, c.state.expired));
        let input = policy::answer(
            &self.config,
            self.now,
            outcome,
            &mut self.rng,
            &mut n.note,
            &mut c.state,
            &mut host.state,
        );
        let host_paused = host.state.paused_until != host_was.paused_until;
        let host_changed = (host.key, host.state != host_was);
        let channel_changed = (c.state.paused_until, c.state.expired) != channel_was;
        let ticket = n.ticket;
        if n.note.notice.is_some() {
            self.info.push_back(Info::Notice(ticket));
        }
        if host_changed.1 {
            self.record(Pending::Host(host_changed.0));
        }
        if channel_changed {
            self.record(Pending::Channel(id));
        }
        if !self.apply(ix, input) {
            self.record(Pending::Progress(ticket));
        }
        if outcome == Outcome::Expired {
            self.expiries.push_back(id);
            let mut ix = self.channels.get(&id).map_or(NONE, |c| c.head);
            while ix != NONE {
                let next = self.note(ix).note.place.next;
                self.apply(ix, Input::ChannelExpired);
                ix = next;
            }
        }
        if host_paused {
            self.refresh_host(h);
        }
        self.schedule_ticked(id, false);
    }

    /// Moves notification `ix` through its lifecycle; when it finishes, its
    /// final event is queued and its record freed. Returns whether it finished.
    fn apply(&mut self, ix: u32, input: Input) -> bool {
        let Some(Some(n)) = self.notes.get_mut(ix as usize) else {
            return false;
        };
        if !policy::apply(&mut n.stage, &mut n.note, &mut self.next_order, input) {
            return false;
        }
        let Stage::Done { result, .. } = n.stage else {
            return false;
        };
        let Some(n) = self.unlink(ix) else {
            return false;
        };
        self.tickets.insert(n.ticket.0, FINISHED);
        self.used += Self::FINAL_EVENT;
        self.finals.push_back(Event::Finished {
            ticket: n.ticket,
            result,
            attempts: n.note.attempts,
        });
        self.record(Pending::Final);
        true
    }

    /// Decides what channel `id` waits for now: its head goes to its host's
    /// ready heap or to the timers; with no head, the channel is forgotten
    /// when it holds nothing, or checked again when it might.
    fn schedule(&mut self, id: ChannelId) {
        self.schedule_ticked(id, true);
    }

    /// [`Self::schedule`]; without `tick`, the head does not see the clock:
    /// after a submit, an answer or a cancel, as in the fixed sender, a head
    /// past its deadline ends at the next `handle_timeout` or `poll_transmit`
    /// (by its deadline timer), so both give the same events between two inputs.
    fn schedule_ticked(&mut self, id: ChannelId, tick: bool) {
        let now = self.now;
        // The clock may have ended the head's wait, or its deadline.
        let head = loop {
            let Some(c) = self.channels.get(&id) else {
                return;
            };
            let head = c.head;
            let Some(n) = self.note_opt(head) else {
                break NONE;
            };
            if !tick {
                break head;
            }
            let tick = n.note.tick(now);
            if !self.apply(head, tick) {
                break head;
            }
        };
        let Some(c) = self.channels.get_mut(&id) else {
            return;
        };
        c.generation = next_generation(&mut self.epoch);
        if head == NONE {
            if c.state.is_idle(&self.config, now) {
                self.remove_channel(id);
            } else if let Some(single) = compact(&c.state, now) {
                self.remove_channel(id);
                self.remembered.insert(id, single);
                let at = QuotaWindow::single_empty_at(single.0.into(), self.config.quota_window);
                self.forget.push((at, id));
                if self.forget.len() > 2 * self.remembered.len() + 1024 {
                    let (remembered, window) = (&self.remembered, self.config.quota_window);
                    self.forget.retain(|(at, id)| {
                        remembered.get(id).is_some_and(|&(b, _)| {
                            QuotaWindow::single_empty_at(b.into(), window) == *at
                        })
                    });
                }
            } else if !c.state.expired {
                let at = c
                    .state
                    .quota_empty_at(&self.config)
                    .unwrap_or(Instant::ZERO)
                    .max(c.state.paused_until);
                // Not idle, yet its quota empty by now: only at the end of
                // time, where `at` saturates. Nothing changes after it, so no
                // timer (one at now would fire again and again).
                if at > now && (c.retire_at == Instant::ZERO || at < c.retire_at) {
                    c.retire_at = at;
                    self.push_timer(at, Timer::Retire(id));
                }
            }
            return;
        }
        let (generation, h) = (c.generation, c.state.host);
        let (Some(c), Some(host)) = (self.channels.get(&id), self.host(h)) else {
            return;
        };
        let n = self.note(head);
        match policy::ready_at(&self.config, now, n.stage, &c.state, &host.state) {
            // In flight (its followers' deadlines) or expired.
            None => self.arm_deadline(id),
            // Ready: its deadline is watched through its host (`ready_deadlines`).
            Some(Ready::At(at)) if at <= now => {
                let ticket = n.ticket.0;
                let host = self.host_mut(h);
                let was_top = host.ready.peek().map(|(t, _, _)| *t);
                host.ready.push((ticket, id, generation));
                if was_top.is_none_or(|t| ticket < t) {
                    self.refresh_host(h);
                }
            }
            Some(ready) => {
                if matches!(ready, Ready::Quota(_)) {
                    self.quota_held.push(id);
                }
                self.push_timer(ready.at(), Timer::Channel(id, generation));
                self.arm_deadline(id);
            }
        }
    }

    /// Makes sure a deadline check is queued for the first notification of
    /// channel `id` that is not in flight (the earliest deadline there).
    fn arm_deadline(&mut self, id: ChannelId) {
        let Some(c) = self.channels.get(&id) else {
            return;
        };
        let first = match self.note_opt(c.head) {
            Some(n) if n.stage == Stage::InFlight => self.note_opt(n.note.place.next),
            other => other,
        };
        let Some(deadline) = first.map(|n| n.note.deadline) else {
            return;
        };
        if c.deadline_at == Instant::ZERO || deadline < c.deadline_at {
            if let Some(c) = self.channels.get_mut(&id) {
                c.deadline_at = deadline;
            }
            self.push_timer(deadline, Timer::Deadline(id));
        }
    }

    fn push_timer(&mut self, at: Instant, timer: Timer) {
        self.timers.push((at, timer));
        if self.timers.len() > 2 * self.timers_floor.max(1024) {
            self.compact_timers();
        }
    }

    /// Drops timer entries whose reason is gone (amortised O(1): the heap
    /// has doubled since the last time).
    fn compact_timers(&mut self) {
        let channels = &self.channels;
        let hosts = &self.hosts;
        self.timers.retain(|(at, timer)| match *timer {
            Timer::Channel(id, g) => channels.get(&id).is_some_and(|c| c.generation == g),
            Timer::Host(h, g) => hosts
                .get(h as usize)
                .and_then(Option::as_ref)
                .is_some_and(|h| h.generation == g),
            Timer::Retire(id) => channels.get(&id).is_some_and(|c| c.retire_at == *at),
            Timer::Deadline(id) => channels.get(&id).is_some_and(|c| c.deadline_at == *at),
        });
        self.timers_floor = self.timers.len();
    }

    fn remove_channel(&mut self, id: ChannelId) {
        let Some(c) = self.channels.remove(&id) else {
            return;
        };
        self.used -= Self::CHANNEL_ENTRY;
        let (h, now) = (c.state.host, self.now);
        let host = self.host_mut(h);
        host.channels -= 1;
        if host.channels == 0 && host.state.is_idle(now) {
            let key = host.key;
            self.hosts[h as usize] = None;
            self.free_hosts.push(h);
            self.host_keys.remove(&key);
            self.used -= Self::HOST_ENTRY;
        }
    }

    /// Puts host `h` in the ready queue of hosts under its oldest ready head,
    /// or, while it is paused, a timer at the end of its pause; either way its
    /// oldest ready head's deadline is watched.
    fn refresh_host(&mut self, h: u32) {
        let now = self.now;
        let Some(Some(host)) = self.hosts.get_mut(h as usize) else {
            return;
        };
        host.generation = next_generation(&mut self.epoch);
        let generation = host.generation;
        // Drop stale channel entries from the front.
        while let Some(&(_, id, g)) = host.ready.peek() {
            if self.channels.get(&id).is_some_and(|c| c.generation == g) {
                break;
            }
            host.ready.pop();
        }
        let front = host.ready.peek().map(|(ticket, _, _)| *ticket);
        if let Some(ticket) = front {
            self.ready_deadlines.push((ticket, h));
        }
        if host.state.paused_until > now {
            let at = host.state.paused_until;
            self.push_timer(at, Timer::Host(h, generation));
        } else if let Some(ticket) = front {
            self.ready_hosts.push((ticket, h, generation));
        } else if host.channels == 0 && host.state.is_idle(now) {
            let key = host.key;
            self.hosts[h as usize] = None;
            self.free_hosts.push(h);
            self.host_keys.remove(&key);
            self.used -= Self::HOST_ENTRY;
        }
    }

    /// Gives up on ready heads past their deadline, earliest first.
    fn expire_ready(&mut self) {
        while let Some(&(ticket, h)) = self.ready_deadlines.peek() {
            let front = self.host(h).and_then(|host| host.ready.peek().copied());
            let Some((_, id, g)) = front.filter(|(t, _, _)| *t == ticket) else {
                // Not the host's front any more: a newer entry stands for it.
                self.ready_deadlines.pop();
                continue;
            };
            let head = self
                .channels
                .get(&id)
                .filter(|c| c.generation == g)
                .map_or(NONE, |c| c.head);
            let Some(n) = self.note_opt(head) else {
                self.ready_deadlines.pop();
                self.refresh_host(h); // drops the stale front, watches the next
                continue;
            };
            if n.note.deadline > self.now {
                break;
            }
            let tick = n.note.tick(self.now);
            self.ready_deadlines.pop();
            self.apply(head, tick);
            self.schedule(id);
            self.refresh_host(h);
        }
    }

    // ---- output -----------------------------------------------------------

    /// The next request to send, if one is due at `now`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit<'_>> {
        self.advance(now);
        let now = self.now;
        // Quota holds are told at the first poll that finds them still held.
        for id in core::mem::take(&mut self.quota_held) {
            let Some(c) = self.channels.get(&id) else {
                continue;
            };
            let (Some(n), Some(host)) = (self.note_opt(c.head), self.host(c.state.host)) else {
                continue;
            };
            if let Some(Ready::Quota(until)) =
                policy::ready_at(&self.config, now, n.stage, &c.state, &host.state)
            {
                let head = c.head;
                let n = self.note_mut(head);
                let was = n.note.notice;
                policy::defer(&mut n.note, until);
                if n.note.notice != was {
                    let ticket = n.ticket;
                    self.info.push_back(Info::Notice(ticket));
                }
            }
        }
        let (ix, id) = self.next_ready()?;
        self.apply(ix, Input::Send);
        let c = self.channels.get_mut(&id)?;
        // In flight: nothing else on the channel is scheduled until its answer.
        c.generation = next_generation(&mut self.epoch);
        let n = self.notes.get_mut(ix as usize)?.as_mut()?;
        let host = &self.hosts.get(c.state.host as usize)?.as_ref()?.state;
        let attempt = policy::record_send(&self.config, now, &mut n.note, &mut c.state, host);
        let (ticket, follower) = (n.ticket, n.note.place.next);
        let h = c.state.host;
        let counted = !c.state.authenticated;
        self.record(Pending::Progress(ticket));
        if counted {
            self.record(Pending::Channel(id));
        }
        if follower != NONE {
            self.arm_deadline(id);
        }
        self.refresh_host(h);
        let n = self.note(ix);
        if policy::stored_request(&n.bytes, &n.note.stored, n.split).is_none() {
            // Unreachable: stored requests are validated on submit. Should it
            // happen, the notification still ends.
            self.apply(ix, policy::unreadable_request());
            self.schedule(id);
            return None;
        }
        let n = self.note(ix);
        let request = policy::stored_request(&n.bytes, &n.note.stored, n.split)?;
        Some(Transmit {
            ticket,
            channel: id,
            attempt,
            request,
        })
    }

    /// The notification that goes next: the oldest ready head of a host that
    /// is not paused. Stale heap entries met on the way are dropped.
    fn next_ready(&mut self) -> Option<(u32, ChannelId)> {
        let now = self.now;
        loop {
            let (_, h, hg) = *self.ready_hosts.peek()?;
            let live = self
                .host(h)
                .is_some_and(|host| host.generation == hg && host.state.paused_until <= now);
            if !live {
                self.ready_hosts.pop();
                continue;
            }
            let host = self.host_mut(h);
            let Some(&(_, id, g)) = host.ready.peek() else {
                self.ready_hosts.pop();
                continue;
            };
            let current = self
                .channels
                .get(&id)
                .filter(|c| c.generation == g)
                .map(|c| c.head);
            match current {
                Some(head) if head != NONE => {
                    self.ready_hosts.pop();
                    self.host_mut(h).ready.pop();
                    let tick = self.note(head).note.tick(now);
                    if !self.apply(head, tick) {
                        let c = &self.channels[&id];
                        let n = self.note(head);
                        let host = self.host(h)?;
                        let ready =
                            policy::ready_at(&self.config, now, n.stage, &c.state, &host.state);
                        if n.stage == Stage::Queued
                            && matches!(ready, Some(Ready::At(at)) if at <= now)
                        {
                            return Some((head, id));
                        }
                    }
                    // Not ready after all: schedule it again, look further.
                    self.schedule(id);
                    self.refresh_host(h);
                }
                _ => {
                    // A stale entry: drop it and look at the host again.
                    self.ready_hosts.pop();
                    self.host_mut(h).ready.pop();
                    self.refresh_host(h);
                }
            }
        }
    }

    /// The next event, if any: channel expiries first, then informational
    /// events, then final events in the order they happened.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.settle();
        while let Some(id) = self.expiries.pop_front() {
            if let Some(c) = self.channels.get_mut(&id)
                && c.state.expired
                && !c.state.expiry_reported
            {
                c.state.expiry_reported = true;
                self.record(Pending::Channel(id));
                return Some(Event::ChannelExpired { channel: id });
            }
        }
        while let Some(info) = self.info.pop_front() {
            match info {
                Info::Mismatch(ticket) => {
                    if let Some(&ix) = self.tickets.get(&ticket.0).filter(|&&ix| ix != FINISHED) {
                        self.note_mut(ix).note.mismatch_unreported = false;
                    }
                    return Some(Event::MessageIdMismatch { ticket });
                }
                Info::Notice(ticket) => {
                    let Some(&ix) = self.tickets.get(&ticket.0).filter(|&&ix| ix != FINISHED)
                    else {
                        continue;
                    };
                    if let Some(notice) = self.note_mut(ix).note.notice.take() {
                        return Some(notice.event(ticket));
                    }
                }
                Info::InDoubt(ticket, attempt) => return Some(Event::InDoubt { ticket, attempt }),
            }
        }
        if self.recording {
            if self.finals_recorded == 0 {
                return None;
            }
            self.finals_recorded -= 1;
        }
        let event = self.finals.pop_front()?;
        if let Event::Finished { ticket, .. } = event {
            self.tickets.remove(&ticket.0);
        }
        self.used -= Self::FINAL_EVENT;
        Some(event)
    }

    /// When the sender next needs `handle_timeout` (or `poll_transmit`): the
    /// earliest end of a wait, pause, quota hold or deadline, or now when a
    /// request is due. `None` when nothing waits on time. A soft deadline:
    /// calling later is fine, and it may be early (a timer whose reason is gone).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let due = (!self.ready_hosts.is_empty()).then_some(self.now);
        let timer = self.timers.peek().map(|(at, _)| *at);
        // The earliest deadline of a ready head (now, if the entry is stale).
        let ready_deadline = self.ready_deadlines.peek().map(|&(ticket, h)| {
            let head = self
                .host(h)
                .and_then(|host| host.ready.peek())
                .filter(|(t, _, _)| *t == ticket)
                .and_then(|(_, id, g)| self.channels.get(id).filter(|c| c.generation == *g))
                .and_then(|c| self.note_opt(c.head));
            head.map_or(self.now, |n| n.note.deadline)
        });
        [due, timer, ready_deadline].into_iter().flatten().min()
    }

    // ---- journal ----------------------------------------------------------

    /// The next record to keep, while [recording](GrowableSender::recording):
    /// store [`Record::encode`]'s bytes before acting on what the sender
    /// hands out next (a request to send, a final event). Poll until `None`
    /// after every call that changes the sender.
    pub fn poll_record(&mut self) -> Option<Record<'_>> {
        loop {
            let pending = self.records.pop_front()?;
            let live = |sender: &Self, ticket: Ticket| {
                sender
                    .tickets
                    .get(&ticket.0)
                    .filter(|&&ix| ix != FINISHED)
                    .copied()
            };
            match pending {
                Pending::Submitted(ticket) => {
                    // Gone already: it finished before its record was polled,
                    // and its `finished` record follows.
                    if let Some(ix) = live(self, ticket) {
                        let n = self.note(ix);
                        return Some(Record::submitted(ticket, &n.note, &n.bytes));
                    }
                }
                Pending::Progress(ticket) => {
                    if let Some(ix) = live(self, ticket) {
                        let n = self.note(ix);
                        if let Some(r) = Record::progress(ticket, n.stage, &n.note) {
                            return Some(r);
                        }
                    }
                }
                Pending::Final => {
                    let event = self.finals.get(self.finals_recorded).copied();
                    self.finals_recorded += 1;
                    if let Some(Event::Finished {
                        ticket,
                        result,
                        attempts,
                    }) = event
                    {
                        return Some(Record::finished_of(ticket, result, attempts));
                    }
                }
                Pending::Channel(id) => return Some(self.channel_record(id)),
                Pending::Host(key) => {
                    let state = self
                        .host_keys
                        .get(&key)
                        .and_then(|&h| self.host(h))
                        .map_or(HostState::default(), |h| h.state);
                    return Some(Record::host(key, state));
                }
            }
        }
    }

    /// The record of channel `id` as it is now (an idle one when forgotten,
    /// so that a replay forgets it too).
    fn channel_record(&self, id: ChannelId) -> Record<'_> {
        if let Some(c) = self.channels.get(&id) {
            let key = self.host(c.state.host).map_or(0, |h| h.key);
            return Record::channel(id, key, &c.state);
        }
        let mut state = ChannelState {
            host: (),
            authenticated: false,
            paused_until: Instant::ZERO,
            expired: false,
            expiry_reported: false,
            quota: QuotaWindow::default(),
        };
        if let Some(&(bucket, count)) = self.remembered.get(&id) {
            state.quota = QuotaWindow::from_single(bucket.into(), count);
        }
        // A remembered channel needs no host: it has nothing to send.
        Record::channel(id, 0, &state)
    }

    /// The record a journal starts with: the settings replay checks (the
    /// seed, the quota window) and the next ticket. [`GrowableSender::state_records`]
    /// begins with it too.
    pub fn start_record(&self) -> Record<'static> {
        Record::start(
            self.config.seed,
            self.next_ticket,
            self.config.quota_window.as_millis(),
        )
    }

    /// Records of the whole state now, for a journal that starts afresh
    /// (compaction): the settings, every host and channel with something to
    /// keep, and every pending notification in ticket order. Records the
    /// sender still has to hand out stay due.
    pub fn state_records(&self, mut out: impl FnMut(&Record<'_>)) {
        out(&self.start_record());
        for host in self.hosts.iter().flatten() {
            if host.state != HostState::default() {
                out(&Record::host(host.key, host.state));
            }
        }
        let fresh = QuotaWindow::default();
        for (&id, c) in &self.channels {
            let s = &c.state;
            if s.expired || s.paused_until != Instant::ZERO || s.quota != fresh {
                out(&self.channel_record(id));
            }
        }
        for &id in self.remembered.keys() {
            out(&self.channel_record(id));
        }
        let mut pending: Vec<(u64, u32)> = self
            .tickets
            .iter()
            .filter(|(_, ix)| **ix != FINISHED)
            .map(|(&t, &ix)| (t, ix))
            .collect();
        pending.sort_unstable();
        for (ticket, ix) in pending {
            let n = self.note(ix);
            out(&Record::submitted(Ticket(ticket), &n.note, &n.bytes));
            let untouched = n.stage == Stage::Queued && n.note.attempts == 0;
            if (!untouched || n.note.cancel_requested)
                && let Some(r) = Record::progress(Ticket(ticket), n.stage, &n.note)
            {
                out(&r);
            }
        }
    }

    /// Rebuilds state from one record, in the order they were handed out
    /// (or [`GrowableSender::state_records`]'s). Only into a sender not used
    /// yet; the first other call (or [`GrowableSender::resume`]) ends the
    /// replay. Records of notifications that finished or were never seen are
    /// skipped; everything else is checked.
    pub fn replay(&mut self, record: &Record<'_>) -> Result<(), ReplayError> {
        if self.phase == Phase::Running {
            return Err(ReplayError::NotFresh);
        }
        self.phase = Phase::Replaying;
        match record.0 {
            Inner::Start {
                seed,
                next_ticket,
                quota_window_ms,
            } => {
                record::check_settings(&self.config, seed, quota_window_ms)?;
                self.next_ticket = self.next_ticket.max(next_ticket);
            }
            Inner::Submitted {
                ticket,
                deadline,
                tile,
                stored,
                bytes,
            } => self.replay_submitted(ticket, deadline, tile, stored, bytes)?,
            Inner::Progress {
                ticket,
                progress,
                attempts,
                queue_full,
                last_reason,
                cancel_requested,
            } => {
                if let Some(&ix) = self.tickets.get(&ticket.0) {
                    let n = self.note_mut(ix);
                    record::apply_progress(
                        &mut n.stage,
                        &mut n.note,
                        progress,
                        attempts,
                        queue_full,
                        last_reason,
                        cancel_requested,
                    );
                }
            }
            Inner::Finished { ticket, .. } => {
                // Its `submitted` record may be missing (it ended before that
                // was polled): its ticket is taken all the same.
                self.next_ticket = self.next_ticket.max(ticket.0.saturating_add(1));
                // Its end was told before the replay: no final event.
                if let Some(ix) = self.tickets.remove(&ticket.0) {
                    self.unlink(ix);
                }
            }
            Inner::Channel { id, host, state } => {
                let idle = !state.expired
                    && state.paused_until == Instant::ZERO
                    && state.quota == QuotaWindow::default();
                if let Some(c) = self.channels.get_mut(&id) {
                    // Its host and authentication follow from its URI, not
                    // from a record that may say otherwise.
                    let (host, authenticated) = (c.state.host, c.state.authenticated);
                    c.state = state.with_host(host);
                    c.state.authenticated = authenticated;
                } else if idle {
                    self.remembered.remove(&id);
                } else {
                    let s = state.with_host(0);
                    match compact(&s, Instant::ZERO) {
                        Some(single) => {
                            self.remembered.insert(id, single);
                        }
                        None => {
                            self.remembered.remove(&id);
                            self.insert_channel(id, host, s);
                        }
                    }
                }
            }
            Inner::Host { key, state } => {
                if !self.host_keys.contains_key(&key) {
                    self.new_host(key);
                }
                if let Some(&h) = self.host_keys.get(&key) {
                    self.host_mut(h).state = state;
                }
            }
        }
        Ok(())
    }

    fn replay_submitted(
        &mut self,
        ticket: Ticket,
        deadline: Instant,
        tile: Option<u64>,
        stored: Stored,
        bytes: &[u8],
    ) -> Result<(), ReplayError> {
        if ticket.0 <= self.replayed {
            return Err(ReplayError::Ticket(ticket));
        }
        let parsed = policy::stored_parts(bytes, &stored)
            .and_then(|(uri, _, _)| ChannelUri::parse(uri).ok());
        let Some(channel) = parsed else {
            // `Record::decode` checked it: a record made in this process.
            return Err(ReplayError::Ticket(ticket));
        };
        self.replayed = ticket.0;
        self.next_ticket = self.next_ticket.max(ticket.0.saturating_add(1));
        let id = self.channel_id(&channel);
        match self.channels.get(&id) {
            Some(c) => {
                // Another host, or another scheme: a record that lies.
                let key = policy::host_key(self.config.seed, &channel);
                if self.host(c.state.host).map(|h| h.key) != Some(key)
                    || c.state.authenticated != channel.is_authenticated()
                {
                    return Err(ReplayError::Channel(id));
                }
            }
            None => {
                let quota = self
                    .remembered
                    .remove(&id)
                    .map(|(bucket, count)| QuotaWindow::from_single(bucket.into(), count));
                self.add_channel(id, &channel, quota);
            }
        }
        let links = Links {
            prev: NONE,
            next: NONE,
        };
        let mut note = Note::new(&self.config, Instant::ZERO, links, tile, stored);
        note.deadline = deadline;
        let rec = NoteRec {
            ticket,
            stage: Stage::Queued,
            channel: id,
            note,
            split: channel.split(),
            bytes: bytes.get(..stored.len()).unwrap_or(bytes).into(),
        };
        self.used += Self::NOTIFICATION_OVERHEAD + rec.bytes.len();
        let ix = match self.free_notes.pop() {
            Some(ix) => {
                self.notes[ix as usize] = Some(rec);
                ix
            }
            None => {
                self.notes.push(Some(rec));
                (self.notes.len() - 1) as u32
            }
        };
        self.tickets.insert(ticket.0, ix);
        self.link_tail(id, ix);
        Ok(())
    }

    /// Puts notification `ix` at the end of channel `id`'s FIFO. Its deadline
    /// is not before the one ahead of it (a shorter deadline configured since
    /// the records were made), so that a channel's deadlines follow its FIFO:
    /// the deadline timer relies on it.
    fn link_tail(&mut self, id: ChannelId, ix: u32) {
        let Some(c) = self.channels.get_mut(&id) else {
            return;
        };
        let tail = c.tail;
        c.tail = ix;
        if tail == NONE {
            c.head = ix;
            return;
        }
        let before = self.note(tail).note.deadline;
        self.note_mut(tail).note.place.next = ix;
        let n = self.note_mut(ix);
        n.note.place.prev = tail;
        n.note.deadline = n.note.deadline.max(before);
    }

    /// Ends a replay at `now`: requests that were on the wire when the
    /// records stopped are queued again (each reported as
    /// [`Event::InDoubt`]), or given up when that was their last attempt;
    /// everything else carries on where it was. Called by the first use of
    /// the sender after [`GrowableSender::replay`] if not before.
    pub fn resume(&mut self, now: Instant) {
        if self.phase == Phase::Running {
            return;
        }
        self.phase = Phase::Running;
        if now > self.now {
            self.now = now;
        }
        let mut in_doubt: Vec<(Ticket, u32, u16)> = Vec::new();
        for (ix, n) in self.notes.iter_mut().enumerate() {
            if let Some(n) = n.as_mut().filter(|n| n.stage == Stage::InFlight) {
                n.stage = Stage::Queued;
                in_doubt.push((n.ticket, ix as u32, n.note.attempts));
            }
        }
        in_doubt.sort_unstable();
        for (ticket, ix, attempt) in in_doubt {
            self.info.push_back(Info::InDoubt(ticket, attempt));
            if attempt >= self.config.max_attempts {
                let last = self.note(ix).note.last_reason;
                let now = self.now;
                self.apply(
                    ix,
                    Input::Tick {
                        now,
                        deadline: Instant::ZERO,
                        last,
                    },
                );
            }
        }
        let window = self.config.quota_window;
        for (&id, &(bucket, _)) in &self.remembered {
            self.forget
                .push((QuotaWindow::single_empty_at(bucket.into(), window), id));
        }
        let ids: Vec<ChannelId> = self.channels.keys().copied().collect();
        for id in ids {
            // An expiry the application may not have heard of is told again.
            if self.channels[&id].state.expired && !self.channels[&id].state.expiry_reported {
                self.expiries.push_back(id);
            }
            self.schedule(id);
        }
        for h in 0..self.hosts.len() as u32 {
            if self.host(h).is_some() {
                self.refresh_host(h);
            }
        }
        self.advance(now);
    }

    /// Ends a replay at the sender's own time before any other use.
    fn settle(&mut self) {
        if self.phase != Phase::Running {
            self.resume(self.now);
        }
    }

    /// Takes notification `ix` out of its slot and its channel's FIFO, and
    /// its bytes out of the budget; the caller decides what its end is.
    fn unlink(&mut self, ix: u32) -> Option<NoteRec> {
        let n = self.notes.get_mut(ix as usize).and_then(Option::take)?;
        self.free_notes.push(ix);
        if n.note.place.prev != NONE {
            self.note_mut(n.note.place.prev).note.place.next = n.note.place.next;
        }
        if n.note.place.next != NONE {
            self.note_mut(n.note.place.next).note.place.prev = n.note.place.prev;
        }
        if let Some(c) = self.channels.get_mut(&n.channel) {
            if c.head == ix {
                c.head = n.note.place.next;
            }
            if c.tail == ix {
                c.tail = n.note.place.prev;
            }
        }
        self.used -= Self::NOTIFICATION_OVERHEAD + n.bytes.len();
        Some(n)
    }

    // ---- records ----------------------------------------------------------

    fn note(&self, ix: u32) -> &NoteRec {
        self.note_opt(ix).expect("a linked notification exists")
    }

    fn note_opt(&self, ix: u32) -> Option<&NoteRec> {
        self.notes.get(ix as usize).and_then(Option::as_ref)
    }

    fn note_mut(&mut self, ix: u32) -> &mut NoteRec {
        self.notes[ix as usize]
            .as_mut()
            .expect("a linked notification exists")
    }

    fn host(&self, h: u32) -> Option<&HostRec> {
        self.hosts.get(h as usize).and_then(Option::as_ref)
    }

    fn host_mut(&mut self, h: u32) -> &mut HostRec {
        self.hosts[h as usize]
            .as_mut()
            .expect("a channel's host exists")
    }
}

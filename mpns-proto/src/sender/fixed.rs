//! The fixed-size sender: `Q` notifications and `C` channels in arrays,
//! request bytes in an arena the caller lends or owns. No allocator.
//!
//! For a gateway's handful of notifications, finding what is due by looking
//! at every slot is both the smallest code and the fastest: no index to keep.
//! The decisions are [`super::policy`]'s.
//!
//! With the `journal` feature it records its changes as the growable sender
//! does ([`super::record`]), with no list of records to hand out: each
//! notification and each channel entry carries a byte of marks of what is
//! due (its records; a channel's also its host's), in what was padding, so
//! that the tables do not grow. A finished notification stays in its slot
//! until `poll_event` takes it, so its marks also say whether its
//! `finished` record was handed out.

use core::fmt;

use crate::notification::Notification;
use crate::options::{Limits, MessageId, Options};
use crate::request::Request;
use crate::response::{Outcome, Response, classify};
use crate::time::Instant;
use crate::uri::{ChannelUri, UriSplit};

use super::lifecycle::{Input, Stage};
use super::policy::{self, ChannelState, HostState, Note, Ready, Stored};
use super::{
    Cancellation, ChannelId, Event, SenderConfig, SubmitError, Ticket, TicketError, Transmit,
};
#[cfg(feature = "journal")]
use {
    super::quota::QuotaWindow,
    super::record::{self, Inner, Record, ReplayError},
    crate::time::div_rem,
};

/// What the marks say (feature `journal`).
#[cfg(feature = "journal")]
mod mark {
    // A notification's (`Place::marks`):
    /// Its `submitted` record is due.
    pub(super) const SUBMITTED: u8 = 1;
    /// A `progress` record is due.
    pub(super) const PROGRESS: u8 = 2;
    /// Finished, and its `finished` record was handed out: `poll_event` may take it.
    pub(super) const FINAL_RECORDED: u8 = 4;
    /// In flight when the records stopped: an `Event::InDoubt` is due.
    pub(super) const IN_DOUBT: u8 = 8;
    // A channel entry's (`HostRef::marks`):
    /// The channel's record is due.
    pub(super) const CHANNEL: u8 = 1;
    /// Its host's record is due.
    pub(super) const HOST: u8 = 2;
}

/// One pending notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Slot {
    pub(super) ticket: Ticket,
    pub(super) stage: Stage,
    pub(super) note: Note<Place>,
}

#[cfg(feature = "serde")]
impl Slot {
    /// The slot as a snapshot saves it: without the journal's marks.
    #[cfg_attr(not(feature = "journal"), allow(unused_mut))]
    pub(super) fn saved(mut self) -> Self {
        #[cfg(feature = "journal")]
        {
            self.note.place.marks = 0;
        }
        self
    }
}

#[cfg(feature = "serde")]
impl Channel {
    /// The channel entry as a snapshot saves it: without the journal's marks.
    #[cfg_attr(not(feature = "journal"), allow(unused_mut))]
    pub(super) fn saved(mut self) -> Self {
        #[cfg(feature = "journal")]
        {
            self.state.host = HostRef::from(self.state.host.index);
        }
        self
    }
}

/// Where a slot's notification is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Place {
    /// Index in `channels`.
    pub(super) channel: u16,
    /// Index of its arena slot.
    pub(super) arena: u16,
    /// What is due (`mark`); not part of a snapshot.
    #[cfg(feature = "journal")]
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(super) marks: u8,
}

/// A channel's host: its index in `hosts`.
#[cfg(not(feature = "journal"))]
pub(super) type HostIx = u16;
/// A channel's host: its index in `hosts`, and the channel's marks.
#[cfg(feature = "journal")]
pub(super) type HostIx = HostRef;

/// A channel's host index and the channel's marks (`mark`), which take a
/// byte the channel's record leaves as padding (feature `journal`). A
/// snapshot saves the index alone.
#[cfg(feature = "journal")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct HostRef {
    index: u16,
    marks: u8,
}

#[cfg(feature = "journal")]
impl From<u16> for HostRef {
    fn from(index: u16) -> Self {
        HostRef { index, marks: 0 }
    }
}

#[cfg(feature = "journal")]
impl From<HostRef> for usize {
    fn from(host: HostRef) -> usize {
        usize::from(host.index)
    }
}

#[cfg(all(feature = "journal", feature = "serde"))]
impl serde::Serialize for HostRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.index.serialize(s)
    }
}

#[cfg(all(feature = "journal", feature = "serde"))]
impl<'de> serde::Deserialize<'de> for HostRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u16::deserialize(d).map(HostRef::from)
    }
}

/// One known channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Channel {
    pub(super) id: ChannelId,
    /// With the index of its host in `hosts`.
    pub(super) state: ChannelState<HostIx>,
}

/// One known host (scheme, host and port).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Host {
    pub(super) key: u64,
    pub(super) state: HostState,
}

/// Everything but the arena: what a snapshot saves.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct State<const Q: usize, const C: usize> {
    pub(super) config: SenderConfig,
    pub(super) slots: heapless::Vec<Slot, Q>,
    pub(super) channels: heapless::Vec<Channel, C>,
    pub(super) hosts: heapless::Vec<Host, C>,
    pub(super) next_ticket: u64,
    pub(super) next_order: u64,
    pub(super) rng: u64,
    pub(super) now: Instant,
    /// Recording and replay; not part of a snapshot.
    #[cfg(feature = "journal")]
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(super) journal: Journal,
}

/// Whether the sender records, and where a replay stands (feature
/// `journal`): the 16 bytes the feature adds to a sender.
#[cfg(feature = "journal")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Journal {
    recording: bool,
    phase: Phase,
    /// The last ticket replayed from a `submitted` record.
    replayed: u64,
}

/// Whether records may still be replayed.
#[cfg(feature = "journal")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Phase {
    #[default]
    Fresh,
    Replaying,
    Running,
}

/// The MPNS sender state machine with fixed capacity. See the [module
/// docs](super) for the run loop.
///
/// `S` is the arena (`&mut [u8]`, `[u8; N]`, `Vec<u8>`...), `Q` the most
/// notifications pending at once, `C` the most channels known at once.
pub struct Sender<S, const Q: usize, const C: usize> {
    pub(super) state: State<Q, C>,
    pub(super) storage: S,
    /// Arena slots not used by any notification (derived from `state`).
    pub(super) free: heapless::Vec<u16, Q>,
    /// By arena slot, where the parts of its stored channel URI are, so that
    /// sending does not parse it again (derived from the arena).
    pub(super) uris: [UriSplit; Q],
    /// Some channel may have an expiry to report: spares `poll_event` a
    /// look at every channel (derived from `state`).
    pub(super) expiry_unreported: bool,
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

impl<const Q: usize, const C: usize> State<Q, C> {
    /// Moves slot `i` through the lifecycle; inputs that do not apply are ignored.
    fn apply(&mut self, i: usize, input: Input) {
        let slot = &mut self.slots[i];
        policy::apply(&mut slot.stage, &mut slot.note, &mut self.next_order, input);
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
                rng: policy::splitmix(config.seed),
                now: Instant::ZERO,
                #[cfg(feature = "journal")]
                journal: Journal::default(),
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

    /// Entries of the channel table and of the host table in use, of `C`
    /// each. An entry is reused once it holds nothing worth remembering,
    /// never removed: a new channel is refused
    /// ([`SubmitError::ChannelTableFull`]) only when a table is full and
    /// none of its entries is idle ([`room_at`](Self::room_at)).
    pub fn table_entries(&self) -> (usize, usize) {
        (self.state.channels.len(), self.state.hosts.len())
    }

    /// The id this sender gives `channel`.
    pub fn channel_id(&self, channel: &ChannelUri<'_>) -> ChannelId {
        policy::channel_id(self.state.config.seed, channel)
    }

    /// Whether `channel` is known to have expired.
    pub fn is_expired(&self, channel: &ChannelUri<'_>) -> bool {
        let id = self.channel_id(channel);
        self.state
            .channels
            .iter()
            .any(|c| c.id == id && c.state.expired)
    }

    // ---- commands ---------------------------------------------------------

    /// Queues a notification for `channel`. Everything is validated now; the
    /// request bytes are kept in the arena until its final event is polled.
    ///
    /// [`SubmitError::QueueFull`] and [`SubmitError::ChannelTableFull`] are
    /// back-pressure ([`SubmitError::is_back_pressure`]): submit again after
    /// the next final event, or after [`Sender::poll_timeout`].
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
            Notification::Tile(tile) => Some(policy::tile_key(self.state.config.seed, tile.id)),
            _ => None,
        };
        self.enqueue(now, &request, options.message_id, tile, written)
    }

    /// Queues a callback registration for an authenticated `channel`
    /// (`docs/protocol.md`, "Callback registration"). It takes its turn with
    /// the channel's notifications.
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
        let stored = Stored::of(request, message_id);
        let needed = stored.len();
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
        let config = self.state.config;
        for i in 0..self.state.slots.len() {
            let s = &self.state.slots[i];
            if s.note.place.channel == channel_index
                && policy::supersedes(&config, tile, s.stage, &s.note)
            {
                self.state.apply(i, Input::Superseded { by: ticket });
            }
        }
        let Some(arena) = self.free.pop() else {
            return Err(SubmitError::QueueFull);
        };
        if let Some(split) = self.uris.get_mut(usize::from(arena)) {
            *split = channel.split();
        }
        let start = usize::from(arena) * slot_size;
        let region = &mut self.storage.as_mut()[start..start + needed];
        policy::store_request(request, region, written == Some(arena));
        let place = Place {
            channel: channel_index,
            arena,
            #[cfg(feature = "journal")]
            marks: if self.state.journal.recording {
                mark::SUBMITTED
            } else {
                0
            },
        };
        let slot = Slot {
            ticket,
            stage: Stage::Queued,
            note: Note::new(&config, self.state.now, place, tile, stored),
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
            if self.state.channels[i].state.expired {
                return Err(SubmitError::ChannelExpired(id));
            }
            // A channel replayed from a growable sender's record of its
            // quota alone has no host yet (key 0): it gets its own now.
            #[cfg(feature = "journal")]
            if self.state.hosts[usize::from(self.state.channels[i].state.host)].key == 0 {
                let host = self.host_entry(channel)?;
                self.state.channels[i].state.host.index = host;
            }
            return Ok(i as u16);
        }
        let host = self.host_entry(channel)?;
        let entry = Channel {
            id,
            state: ChannelState::new(channel, HostIx::from(host)),
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

    /// Whether channel entry `i` holds nothing worth remembering and nothing queued.
    fn is_idle_channel(&self, i: usize) -> bool {
        self.state.channels[i]
            .state
            .is_idle(&self.state.config, self.state.now)
            && !self
                .state
                .slots
                .iter()
                .any(|s| usize::from(s.note.place.channel) == i)
    }

    /// A channel entry that holds nothing worth remembering.
    fn idle_channel(&self) -> Option<usize> {
        (0..self.state.channels.len()).find(|&i| self.is_idle_channel(i))
    }

    fn host_entry(&mut self, channel: &ChannelUri<'_>) -> Result<u16, SubmitError> {
        let key = policy::host_key(self.state.config.seed, channel);
        if let Some(i) = self.state.hosts.iter().position(|h| h.key == key) {
            return Ok(i as u16);
        }
        let entry = Host {
            key,
            state: HostState::default(),
        };
        let now = self.state.now;
        // A host with failures keeps its entry, so its backoff goes on
        // doubling, unless the table is full: then one whose pause is over
        // gives way, so that a full table clears with time.
        let full = self.state.hosts.is_full();
        // Its channel entries, if any, hold nothing worth remembering and
        // nothing queued: they go with it (vacated), rather than keep a full
        // table refusing new hosts for ever.
        let recyclable = |i: usize| {
            let h = &self.state.hosts[i].state;
            (h.is_idle(now) || (full && h.paused_until <= now))
                && (0..self.state.channels.len()).all(|j| {
                    let c = &self.state.channels[j];
                    c.id == policy::VACANT
                        || usize::from(c.state.host) != i
                        || self.is_idle_channel(j)
                })
        };
        if let Some(i) = (0..self.state.hosts.len()).find(|&i| recyclable(i)) {
            for c in self.state.channels.iter_mut() {
                // Idle already: only the id goes (state_records skips it).
                if usize::from(c.state.host) == i {
                    c.id = policy::VACANT;
                }
            }
            self.state.hosts[i] = entry;
            return Ok(i as u16);
        }
        self.state
            .hosts
            .push(entry)
            .map_err(|_| SubmitError::ChannelTableFull)?;
        Ok((self.state.hosts.len() - 1) as u16)
    }

    /// When a full channel table has room again ([`SubmitError::ChannelTableFull`]
    /// clears): the earliest time a channel with nothing queued holds nothing
    /// any more (its pause over, its quota window empty). `None` when no entry
    /// will fall idle by itself (every channel has queued notifications or an
    /// expiry to forget).
    pub fn room_at(&self) -> Option<Instant> {
        let config = &self.state.config;
        let slots = &self.state.slots;
        let unused = |i: usize| !slots.iter().any(|s| usize::from(s.note.place.channel) == i);
        (0..self.state.channels.len())
            .filter(|&i| !self.state.channels[i].state.expired && unused(i))
            .map(|i| {
                let c = &self.state.channels[i].state;
                let quota = c.quota_empty_at(config).unwrap_or(Instant::ZERO);
                quota.max(c.paused_until)
            })
            .min()
    }

    /// Cancels a notification.
    pub fn cancel(&mut self, ticket: Ticket) -> Result<Cancellation, TicketError> {
        #[cfg(feature = "journal")]
        self.settle();
        let i = self.find(ticket)?;
        match policy::cancel(self.state.slots[i].stage, ticket)? {
            None => {
                self.state.slots[i].note.cancel_requested = true;
                #[cfg(feature = "journal")]
                self.mark_slot(i, mark::PROGRESS);
                Ok(Cancellation::AfterResponse)
            }
            Some(input) => {
                self.state.apply(i, input);
                Ok(Cancellation::Done)
            }
        }
    }

    /// Forgets an expired channel (after the application deleted it), so that
    /// its entry can be reused. Nothing happens for a channel that is in use.
    pub fn forget_channel(&mut self, channel: ChannelId) {
        #[cfg(feature = "journal")]
        self.settle();
        if let Some(c) = self.state.channels.iter_mut().find(|c| c.id == channel) {
            // An expired channel has nothing queued; the entry becomes idle.
            #[cfg_attr(not(feature = "journal"), allow(unused_variables))]
            let forgot = c.state.forget_expiry();
            #[cfg(feature = "journal")]
            if forgot {
                self.mark_channel(channel);
            }
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
        #[cfg(feature = "journal")]
        self.settle();
        let i = self.in_flight(ticket)?;
        policy::echo_mismatch(&mut self.state.slots[i].note, response);
        self.answer(now, i, classify(response));
        Ok(())
    }

    /// Reports that a request from `poll_transmit` got no response: the
    /// whole host backs off as after a 503 (every kind of failure alike).
    pub fn handle_transport_error(
        &mut self,
        now: Instant,
        ticket: Ticket,
    ) -> Result<(), TicketError> {
        #[cfg(feature = "journal")]
        self.settle();
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
        #[cfg(feature = "journal")]
        if self.state.journal.phase != Phase::Running {
            self.resume(now);
        }
        if now > self.state.now {
            self.state.now = now;
        }
        let now = self.state.now;
        for i in 0..self.state.slots.len() {
            let tick = self.state.slots[i].note.tick(now);
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

    /// Applies a classified answer to the in-flight slot `i`.
    fn answer(&mut self, now: Instant, i: usize, outcome: Outcome) {
        if now > self.state.now {
            self.state.now = now;
        }
        #[cfg(feature = "journal")]
        let was = self.policy_state(i);
        let state = &mut self.state;
        let slot = &mut state.slots[i];
        let channel = usize::from(slot.note.place.channel);
        let c = &mut state.channels[channel];
        let host = &mut state.hosts[usize::from(c.state.host)].state;
        let input = policy::answer(
            &state.config,
            state.now,
            outcome,
            &mut state.rng,
            &mut slot.note,
            &mut c.state,
            host,
        );
        state.apply(i, input);
        #[cfg(feature = "journal")]
        self.mark_answer(i, was);
        if outcome == Outcome::Expired {
            self.expiry_unreported = true;
            for j in 0..self.state.slots.len() {
                if usize::from(self.state.slots[j].note.place.channel) == channel {
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
                let head = &mut heads[usize::from(s.note.place.channel)];
                if *head == 0 || s.ticket.0 < *head {
                    *head = s.ticket.0;
                }
            }
        }
        heads
    }

    /// When slot `i` may be sent, if it is its channel's head.
    fn ready_at(&self, i: usize, heads: &[u64; C]) -> Option<Ready> {
        let s = &self.state.slots[i];
        let c = &self.state.channels[usize::from(s.note.place.channel)];
        // Only a channel's head may go; while it is in flight, nothing else on the channel can.
        if heads[usize::from(s.note.place.channel)] != s.ticket.0 {
            return None;
        }
        let h = &self.state.hosts[usize::from(c.state.host)].state;
        policy::ready_at(&self.state.config, self.state.now, s.stage, &c.state, h)
    }

    /// The next request to send, if one is due at `now`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit<'_>> {
        self.advance(now);
        let now = self.state.now;
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
                Some(Ready::Quota(until)) => policy::defer(&mut self.state.slots[i].note, until),
                _ => {}
            }
        }
        let i = best?;
        self.state.apply(i, Input::Send);
        let state = &mut self.state;
        let slot = &mut state.slots[i];
        let c = &mut state.channels[usize::from(slot.note.place.channel)];
        let host = &state.hosts[usize::from(c.state.host)].state;
        let attempt = policy::record_send(&state.config, now, &mut slot.note, &mut c.state, host);
        #[cfg(feature = "journal")]
        if state.journal.recording {
            slot.note.place.marks |= mark::PROGRESS;
            if !c.state.authenticated {
                // The send counts against its quota.
                c.state.host.marks |= mark::CHANNEL;
            }
        }
        let (ticket, channel) = (slot.ticket, c.id);
        let slot = &self.state.slots[i];
        let split = self.uris.get(usize::from(slot.note.place.arena)).copied();
        let start = usize::from(slot.note.place.arena) * self.slot_size();
        let bytes = self.storage.as_ref().get(start..).unwrap_or_default();
        match policy::stored_request(bytes, &slot.note.stored, split.unwrap_or_default()) {
            Some(request) => Some(Transmit {
                ticket,
                channel,
                attempt,
                request,
            }),
            None => {
                // Unreachable: stored requests are validated on submit and on
                // restore. Should it happen, the notification still ends.
                self.state.apply(i, policy::unreadable_request());
                None
            }
        }
    }

    /// The next event, if any: channel expiries first, then informational
    /// events, then final events in the order they happened.
    pub fn poll_event(&mut self) -> Option<Event> {
        #[cfg(feature = "journal")]
        self.settle();
        if self.expiry_unreported {
            match self
                .state
                .channels
                .iter_mut()
                .find(|c| c.state.expired && !c.state.expiry_reported)
            {
                Some(c) => {
                    c.state.expiry_reported = true;
                    let channel = c.id;
                    #[cfg(feature = "journal")]
                    self.mark_channel(channel);
                    return Some(Event::ChannelExpired { channel });
                }
                None => self.expiry_unreported = false,
            }
        }
        #[cfg(feature = "journal")]
        if let Some(i) = self.next_slot(0, |_, marks| marks & mark::IN_DOUBT != 0) {
            let s = &mut self.state.slots[i];
            s.note.place.marks &= !mark::IN_DOUBT;
            return Some(Event::InDoubt {
                ticket: s.ticket,
                attempt: s.note.attempts,
            });
        }
        for s in self.state.slots.iter_mut() {
            if s.note.mismatch_unreported {
                s.note.mismatch_unreported = false;
                return Some(Event::MessageIdMismatch { ticket: s.ticket });
            }
            if let Some(notice) = s.note.notice.take() {
                return Some(notice.event(s.ticket));
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
        // While recording, the application hears of an end only once the
        // journal may have it.
        #[cfg(feature = "journal")]
        if self.state.journal.recording && self.marks(i) & mark::FINAL_RECORDED == 0 {
            return None;
        }
        // `swap_remove` by hand: it (and `slice::swap`) moves slots with
        // `ptr::copy`, which links `memmove` (1.5 KiB on Cortex-M) for this alone.
        let slot = self.state.slots[i];
        let last = self.state.slots.pop()?;
        if let Some(place) = self.state.slots.get_mut(i) {
            *place = last;
        }
        let _ = self.free.push(slot.note.place.arena);
        Some(Event::Finished {
            ticket: slot.ticket,
            result,
            attempts: slot.note.attempts,
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
                    Some(ready) => ready.at(),
                    None => s.note.deadline,
                };
                Some(ready.min(s.note.deadline))
            })
            .min()
    }
}

// ---- journal (feature `journal`) ------------------------------------------

#[cfg(feature = "journal")]
impl<S: AsRef<[u8]> + AsMut<[u8]>, const Q: usize, const C: usize> Sender<S, Q, C> {
    /// The same sender, handing out a [`Record`] for every change a journal
    /// must keep ([`Sender::poll_record`]). While recording, a final event
    /// is given to `poll_event` only after its record was polled, so that
    /// the application never hears of an end the journal may lose.
    ///
    /// Records are changes: turn it on before the first submit, or begin
    /// the journal with [`Sender::state_records`].
    pub fn recording(mut self) -> Self {
        self.state.journal.recording = true;
        self
    }

    /// The marks of slot `i`'s notification.
    fn marks(&self, i: usize) -> u8 {
        self.state.slots[i].note.place.marks
    }

    fn mark_slot(&mut self, i: usize, marks: u8) {
        if self.state.journal.recording {
            self.state.slots[i].note.place.marks |= marks;
        }
    }

    fn mark_channel(&mut self, id: ChannelId) {
        if self.state.journal.recording
            && let Some(c) = self.state.channels.iter_mut().find(|c| c.id == id)
        {
            c.state.host.marks |= mark::CHANNEL;
        }
    }

    /// The host and channel policy state of slot `i`'s notification, to
    /// see after an answer what changed.
    fn policy_state(&self, i: usize) -> (HostState, (Instant, bool)) {
        let c = &self.state.channels[usize::from(self.state.slots[i].note.place.channel)].state;
        let h = self.state.hosts[usize::from(c.host)].state;
        (h, (c.paused_until, c.expired))
    }

    /// Marks what an answer to slot `i` changed: its host, its channel
    /// (a pause, an expiry), its progress (its end needs no mark).
    fn mark_answer(&mut self, i: usize, was: (HostState, (Instant, bool))) {
        if !self.state.journal.recording {
            return;
        }
        let now = self.policy_state(i);
        if !matches!(self.state.slots[i].stage, Stage::Done { .. }) {
            self.mark_slot(i, mark::PROGRESS);
        }
        let channel = usize::from(self.state.slots[i].note.place.channel);
        let marks = &mut self.state.channels[channel].state.host.marks;
        if now.1 != was.1 {
            *marks |= mark::CHANNEL;
        }
        if now.0 != was.0 {
            *marks |= mark::HOST;
        }
    }

    /// The slot with the lowest ticket above `after` that `pick` picks
    /// (given the slot and its marks).
    fn next_slot(&self, after: u64, pick: impl Fn(&Slot, u8) -> bool) -> Option<usize> {
        let slots = &self.state.slots;
        let mut best: Option<usize> = None;
        for (i, s) in slots.iter().enumerate() {
            if s.ticket.0 > after
                && pick(s, self.marks(i))
                && best.is_none_or(|b| s.ticket < slots[b].ticket)
            {
                best = Some(i);
            }
        }
        best
    }

    /// The `submitted` record of slot `i`.
    fn submitted_record(&self, i: usize) -> Record<'_> {
        let s = &self.state.slots[i];
        let start = usize::from(s.note.place.arena) * self.slot_size();
        let bytes = self.storage.as_ref();
        let bytes = bytes
            .get(start..start + s.note.stored.len())
            .unwrap_or(bytes);
        Record::submitted(s.ticket, &s.note, bytes)
    }

    /// The record of channel entry `i` as it is now.
    fn channel_record(&self, i: usize) -> Record<'_> {
        let c = &self.state.channels[i];
        let key = self.state.hosts[usize::from(c.state.host)].key;
        Record::channel(c.id, key, &c.state)
    }

    /// The next record to keep, while [recording](Sender::recording): store
    /// [`Record::encode`]'s bytes before acting on what the sender hands out
    /// next (a request to send, a final event). Poll until `None` after
    /// every call that changes the sender.
    ///
    /// A record carries the state when it is polled, not when it was due.
    /// Order: notifications submitted (oldest first: they bring their
    /// channels with them), then hosts and channels, then progress and ends
    /// by ticket; a notification's `submitted` record always comes before
    /// its others.
    pub fn poll_record(&mut self) -> Option<Record<'_>> {
        if !self.state.journal.recording {
            return None;
        }
        // One that finished before its record was polled needs none: its
        // `finished` record follows.
        let submitted = |s: &Slot, marks: u8| {
            marks & mark::SUBMITTED != 0 && !matches!(s.stage, Stage::Done { .. })
        };
        if let Some(i) = self.next_slot(0, submitted) {
            self.state.slots[i].note.place.marks &= !mark::SUBMITTED;
            return Some(self.submitted_record(i));
        }
        let channels = &mut self.state.channels;
        if let Some(c) = channels
            .iter_mut()
            .find(|c| c.state.host.marks & mark::HOST != 0)
        {
            c.state.host.marks &= !mark::HOST;
            let h = &self.state.hosts[usize::from(c.state.host)];
            return Some(Record::host(h.key, h.state));
        }
        let dirty = |c: &Channel| c.state.host.marks & mark::CHANNEL != 0;
        if let Some(c) = self.state.channels.iter().position(dirty) {
            self.state.channels[c].state.host.marks &= !mark::CHANNEL;
            return Some(self.channel_record(c));
        }
        let i = self.next_slot(0, |s, marks| match s.stage {
            Stage::Done { .. } => marks & mark::FINAL_RECORDED == 0,
            _ => marks & mark::PROGRESS != 0,
        })?;
        let s = &mut self.state.slots[i];
        match s.stage {
            Stage::Done { result, .. } => {
                s.note.place.marks |= mark::FINAL_RECORDED;
                Some(Record::finished_of(s.ticket, result, s.note.attempts))
            }
            stage => {
                s.note.place.marks &= !mark::PROGRESS;
                Record::progress(s.ticket, stage, &s.note)
            }
        }
    }

    /// The record a journal starts with: the settings replay checks (the
    /// seed, the quota window) and the next ticket. [`Sender::state_records`]
    /// begins with it too.
    pub fn start_record(&self) -> Record<'static> {
        let config = &self.state.config;
        Record::start(
            config.seed,
            self.state.next_ticket,
            config.quota_window.as_millis(),
        )
    }

    /// Records of the whole state now, for a journal that starts afresh
    /// (compaction): the settings, every host and channel with something to
    /// keep, and every pending notification in ticket order. Records the
    /// sender still has to hand out stay due.
    pub fn state_records(&self, mut out: impl FnMut(&Record<'_>)) {
        out(&self.start_record());
        for h in &self.state.hosts {
            if h.state != HostState::default() {
                out(&Record::host(h.key, h.state));
            }
        }
        let fresh = QuotaWindow::default();
        for (i, c) in self.state.channels.iter().enumerate() {
            let s = &c.state;
            if c.id != policy::VACANT
                && (s.expired || s.paused_until != Instant::ZERO || s.quota != fresh)
            {
                out(&self.channel_record(i));
            }
        }
        let mut after = 0;
        while let Some(i) = self.next_slot(after, |s, _| !matches!(s.stage, Stage::Done { .. })) {
            let s = &self.state.slots[i];
            after = s.ticket.0;
            out(&self.submitted_record(i));
            let untouched = s.stage == Stage::Queued && s.note.attempts == 0;
            if (!untouched || s.note.cancel_requested)
                && let Some(r) = Record::progress(s.ticket, s.stage, &s.note)
            {
                out(&r);
            }
        }
    }

    /// Rebuilds state from one record, in the order they were handed out
    /// (or [`Sender::state_records`]'s). Only into a sender not used yet;
    /// the first other call (or [`Sender::resume`]) ends the replay. Records
    /// of notifications that finished or were never seen are skipped;
    /// everything else is checked.
    ///
    /// [`ReplayError::Full`] when what the records hold does not fit this
    /// sender's `Q` slots, arena slot size, or `C` channels or hosts
    /// (records of a larger sender, or of a growable one).
    pub fn replay(&mut self, record: &Record<'_>) -> Result<(), ReplayError> {
        if self.state.journal.phase == Phase::Running {
            return Err(ReplayError::NotFresh);
        }
        self.state.journal.phase = Phase::Replaying;
        let config = self.state.config;
        match record.0 {
            Inner::Start {
                seed,
                next_ticket,
                quota_window_ms,
            } => {
                record::check_settings(&config, seed, quota_window_ms)?;
                self.state.next_ticket = self.state.next_ticket.max(next_ticket);
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
                if let Ok(i) = self.find(ticket) {
                    let s = &mut self.state.slots[i];
                    record::apply_progress(
                        &mut s.stage,
                        &mut s.note,
                        progress,
                        attempts,
                        queue_full,
                        last_reason,
                        cancel_requested,
                    );
                }
            }
            Inner::Finished { ticket, .. } => {
                // Its ticket is taken even when its `submitted` record never was.
                let next = ticket.0.saturating_add(1);
                self.state.next_ticket = self.state.next_ticket.max(next);
                if let Ok(i) = self.find(ticket) {
                    self.remove_slot(i);
                }
            }
            Inner::Channel { id, host, state } => {
                let idle = !state.expired
                    && state.paused_until == Instant::ZERO
                    && state.quota == QuotaWindow::default();
                // The clock was at least at the channel's last send: quota
                // windows are read from there on, not as if in the future.
                let (newest, _) = state.quota.parts();
                let buckets = (QuotaWindow::RING - 1) as u64;
                let bucket_ms = div_rem(config.quota_window.as_millis(), buckets).0.max(1);
                let sent = Instant::from_millis(newest.saturating_mul(bucket_ms));
                self.state.now = self.state.now.max(sent);
                if let Some(c) = self.state.channels.iter_mut().find(|c| c.id == id) {
                    // Its host and authentication follow from its URI, not
                    // from a record that may say otherwise.
                    let authenticated = c.state.authenticated;
                    c.state = state.with_host(c.state.host);
                    c.state.authenticated = authenticated;
                } else if !idle {
                    let i = self.replay_entry(id, host, state.authenticated, None)?;
                    let c = &mut self.state.channels[usize::from(i)];
                    c.state = state.with_host(c.state.host);
                }
            }
            Inner::Host { key, state } => {
                let h = self.host_index(key).ok_or(ReplayError::Full {
                    ticket: None,
                    what: "host table",
                })?;
                self.state.hosts[usize::from(h)].state = state;
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
        if ticket.0 <= self.state.journal.replayed || self.find(ticket).is_ok() {
            return Err(ReplayError::Ticket(ticket));
        }
        let parsed = policy::stored_parts(bytes, &stored)
            .and_then(|(uri, _, _)| ChannelUri::parse(uri).ok());
        let Some(channel) = parsed else {
            // `Record::decode` checked it: a record made in this process.
            return Err(ReplayError::Ticket(ticket));
        };
        let full = |what| ReplayError::Full {
            ticket: Some(ticket),
            what,
        };
        let needed = stored.len();
        let slot_size = self.slot_size();
        if needed > slot_size {
            return Err(full("arena slot"));
        }
        if self.state.slots.is_full() {
            return Err(full("notification slots"));
        }
        // The clock was at least at the submit: channels idle by then may
        // give their entries to others, as they did in the recorded run.
        let config = self.state.config;
        let submitted_at = deadline
            .as_millis()
            .saturating_sub(config.deadline.as_millis());
        self.state.now = self.state.now.max(Instant::from_millis(submitted_at));
        let id = self.channel_id(&channel);
        let key = policy::host_key(config.seed, &channel);
        let channel_index = self.replay_entry(id, key, channel.is_authenticated(), Some(ticket))?;
        let Some(arena) = self.free.pop() else {
            return Err(full("notification slots"));
        };
        if let Some(split) = self.uris.get_mut(usize::from(arena)) {
            *split = channel.split();
        }
        let start = usize::from(arena) * slot_size;
        self.storage.as_mut()[start..start + needed].copy_from_slice(&bytes[..needed]);
        // Its records are in the journal already.
        let place = Place {
            channel: channel_index,
            arena,
            marks: 0,
        };
        let mut note = Note::new(&config, Instant::ZERO, place, tile, stored);
        note.deadline = deadline;
        let slot = Slot {
            ticket,
            stage: Stage::Queued,
            note,
        };
        if self.state.slots.push(slot).is_err() {
            let _ = self.free.push(arena);
            return Err(full("notification slots"));
        }
        self.state.journal.replayed = ticket.0;
        let next = ticket.0.saturating_add(1);
        self.state.next_ticket = self.state.next_ticket.max(next);
        Ok(())
    }

    /// The entry of channel `id` on host `key`, made (or recycled) if
    /// needed, for the record of `ticket` (if of a notification).
    fn replay_entry(
        &mut self,
        id: ChannelId,
        key: u64,
        authenticated: bool,
        ticket: Option<Ticket>,
    ) -> Result<u16, ReplayError> {
        let full = |what| ReplayError::Full { ticket, what };
        let known = self.state.channels.iter().position(|c| c.id == id);
        if let Some(i) = known {
            let c = &self.state.channels[i].state;
            if c.authenticated != authenticated {
                // Another scheme: a record that lies.
                return Err(ReplayError::Channel(id));
            }
            let on = self.state.hosts[usize::from(c.host)].key;
            if on == key {
                return Ok(i as u16);
            }
            // Only a channel recorded without its host (key 0: a growable
            // sender's channel kept for its quota) gets one from its
            // notification; another host is a record that lies.
            if on != 0 {
                return Err(ReplayError::Channel(id));
            }
        }
        let host = self.host_index(key).ok_or(full("host table"))?;
        if let Some(i) = known {
            self.state.channels[i].state.host.index = host;
            return Ok(i as u16);
        }
        let entry = Channel {
            id,
            state: ChannelState {
                host: HostRef::from(host),
                authenticated,
                paused_until: Instant::ZERO,
                expired: false,
                expiry_reported: false,
                quota: QuotaWindow::default(),
            },
        };
        if let Some(i) = self.idle_channel() {
            self.state.channels[i] = entry;
            return Ok(i as u16);
        }
        self.state
            .channels
            .push(entry)
            .map_err(|_| full("channel table"))?;
        Ok((self.state.channels.len() - 1) as u16)
    }

    /// The entry of host `key`, made (or recycled, as `host_entry` does) if needed.
    fn host_index(&mut self, key: u64) -> Option<u16> {
        if let Some(i) = self.state.hosts.iter().position(|h| h.key == key) {
            return Some(i as u16);
        }
        let now = self.state.now;
        let full = self.state.hosts.is_full();
        let idle = (0..self.state.hosts.len()).find(|&i| {
            let h = &self.state.hosts[i].state;
            (h.is_idle(now) || (full && h.paused_until <= now))
                && !self
                    .state
                    .channels
                    .iter()
                    .any(|c| usize::from(c.state.host) == i)
        });
        let entry = Host {
            key,
            state: HostState::default(),
        };
        if let Some(i) = idle {
            self.state.hosts[i] = entry;
            return Some(i as u16);
        }
        self.state.hosts.push(entry).ok()?;
        Some((self.state.hosts.len() - 1) as u16)
    }

    /// Frees slot `i` without a final event (its end was recorded before the replay).
    fn remove_slot(&mut self, i: usize) {
        let arena = self.state.slots[i].note.place.arena;
        // By hand, as in `poll_event`.
        if let Some(last) = self.state.slots.pop()
            && let Some(place) = self.state.slots.get_mut(i)
        {
            *place = last;
        }
        let _ = self.free.push(arena);
    }

    /// Ends a replay at `now`: requests that were on the wire when the
    /// records stopped are queued again (each reported as
    /// [`Event::InDoubt`]), or given up when that was their last attempt;
    /// an expiry not reported yet is reported again; everything else
    /// carries on where it was. Called by the first use of the sender after
    /// [`Sender::replay`] if not before.
    pub fn resume(&mut self, now: Instant) {
        if self.state.journal.phase == Phase::Running {
            return;
        }
        self.state.journal.phase = Phase::Running;
        if now > self.state.now {
            self.state.now = now;
        }
        let now = self.state.now;
        let max_attempts = self.state.config.max_attempts;
        let mut after = 0;
        while let Some(i) = self.next_slot(after, |s, _| s.stage == Stage::InFlight) {
            let s = &mut self.state.slots[i];
            after = s.ticket.0;
            s.stage = Stage::Queued;
            s.note.place.marks |= mark::IN_DOUBT;
            if s.note.attempts >= max_attempts {
                let last = s.note.last_reason;
                let deadline = Instant::ZERO;
                self.state.apply(
                    i,
                    Input::Tick {
                        now,
                        deadline,
                        last,
                    },
                );
            }
        }
        self.expiry_unreported = true;
        self.advance(now);
    }

    /// Ends a replay at the sender's own time before any other use.
    fn settle(&mut self) {
        if self.state.journal.phase != Phase::Running {
            self.resume(self.state.now);
        }
    }
}

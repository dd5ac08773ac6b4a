//! The fixed-size sender: `Q` notifications and `C` channels in arrays,
//! request bytes in an arena the caller lends or owns. No allocator.
//!
//! For a gateway's handful of notifications, finding what is due by looking
//! at every slot is both the smallest code and the fastest: no index to keep.
//! The decisions are [`super::policy`]'s.

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
    TransportError,
};

/// One pending notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Slot {
    pub(super) ticket: Ticket,
    pub(super) stage: Stage,
    pub(super) note: Note<Place>,
}

/// Where a slot's notification is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Place {
    /// Index in `channels`.
    pub(super) channel: u16,
    /// Index of its arena slot.
    pub(super) arena: u16,
}

/// One known channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Channel {
    pub(super) id: ChannelId,
    /// With the index of its host in `hosts`.
    pub(super) state: ChannelState<u16>,
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
    /// (MPNS.md section 7). It takes its turn with the channel's notifications.
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
            return Ok(i as u16);
        }
        let host = self.host_entry(channel)?;
        let entry = Channel {
            id,
            state: ChannelState::new(channel, host),
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

    /// A channel entry that holds nothing worth remembering.
    fn idle_channel(&self) -> Option<usize> {
        let now = self.state.now;
        let config = &self.state.config;
        (0..self.state.channels.len()).find(|&i| {
            self.state.channels[i].state.is_idle(config, now)
                && !self
                    .state
                    .slots
                    .iter()
                    .any(|s| usize::from(s.note.place.channel) == i)
        })
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
        let idle = (0..self.state.hosts.len()).find(|&i| {
            let h = &self.state.hosts[i].state;
            (h.is_idle(now) || (full && h.paused_until <= now))
                && !self
                    .state
                    .channels
                    .iter()
                    .any(|c| usize::from(c.state.host) == i)
        });
        if let Some(i) = idle {
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
        let i = self.find(ticket)?;
        match policy::cancel(self.state.slots[i].stage, ticket)? {
            None => {
                self.state.slots[i].note.cancel_requested = true;
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
        if let Some(c) = self.state.channels.iter_mut().find(|c| c.id == channel) {
            // An expired channel has nothing queued; the entry becomes idle.
            c.state.forget_expiry();
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
        _error: TransportError,
    ) -> Result<(), TicketError> {
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
        let attempt = policy::record_send(&state.config, now, &mut slot.note, &mut c.state);
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
        if self.expiry_unreported {
            match self
                .state
                .channels
                .iter_mut()
                .find(|c| c.state.expired && !c.state.expiry_reported)
            {
                Some(c) => {
                    c.state.expiry_reported = true;
                    return Some(Event::ChannelExpired { channel: c.id });
                }
                None => self.expiry_unreported = false,
            }
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

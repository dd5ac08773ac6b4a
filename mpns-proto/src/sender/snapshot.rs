//! Saving and restoring a sender (feature `serde`).
//!
//! A [`Snapshot`] is the whole state plus the bytes of every queued request.
//! [`Sender::restore`] checks it as untrusted input: every index, length,
//! ticket and stored URI, so that a corrupt or hostile snapshot gives a
//! [`RestoreError`] rather than a sender that misbehaves.

use core::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::fixed::{Channel, Sender, Slot, State};
use super::lifecycle::Stage;
use super::policy::{self, stored_parts};
use crate::request::{RequestKind, is_valid_class};
use crate::uri::{ChannelUri, Uri, UriSplit};

/// Request bytes of one queued notification, serialized as bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Payload<'a>(pub &'a [u8]);

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Payload<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = &'de [u8];
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes borrowed from the input (use a binary format such as postcard)")
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
                Ok(v)
            }
        }
        d.deserialize_bytes(V).map(Payload)
    }
}

/// The saved state of a [`Sender`]: serialize it with a binary format.
///
/// Two snapshots are equal when they restore the same state with the same
/// request bytes (a caller can skip saving one that has not changed).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
pub struct Snapshot<'a, const Q: usize, const C: usize> {
    state: State<Q, C>,
    /// The request bytes of `state.slots`, in the same order.
    #[serde(borrow)]
    payloads: heapless::Vec<Payload<'a>, Q>,
}

impl<const Q: usize, const C: usize> PartialEq for Snapshot<'_, Q, C> {
    /// What a snapshot saves, compared: not the journal's state or marks.
    fn eq(&self, other: &Self) -> bool {
        fn same<T: Copy + PartialEq>(a: &[T], b: &[T], saved: impl Fn(T) -> T) -> bool {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| saved(*x) == saved(*y))
        }
        let (a, b) = (&self.state, &other.state);
        // Destructured so that a new field is not left out by accident.
        let State {
            config,
            slots,
            channels,
            hosts,
            next_ticket,
            next_order,
            rng,
            now,
            #[cfg(feature = "journal")]
                journal: _,
        } = a;
        *config == b.config
            && same(slots, &b.slots, Slot::saved)
            && same(channels, &b.channels, Channel::saved)
            && **hosts == *b.hosts
            && [*next_ticket, *next_order, *rng] == [b.next_ticket, b.next_order, b.rng]
            && *now == b.now
            && self.payloads == other.payloads
    }
}

impl<const Q: usize, const C: usize> Eq for Snapshot<'_, Q, C> {}

/// Why a snapshot was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RestoreError {
    /// A payload is missing or does not match its notification's lengths.
    PayloadMismatch {
        /// Index of the notification in the snapshot.
        index: usize,
    },
    /// A request does not fit in one slot of the new arena.
    TooLargeForSlot {
        /// Bytes needed.
        needed: usize,
        /// Bytes in one slot.
        slot: usize,
    },
    /// A notification, channel or host refers to an entry that does not exist,
    /// or two notifications share an arena slot or a ticket.
    Inconsistent,
    /// A stored channel or callback URI is invalid, or belongs to another channel.
    BadUri {
        /// Index of the notification in the snapshot.
        index: usize,
    },
    /// A stored notification class or kind is not one MPNS defines.
    BadRequest {
        /// Index of the notification in the snapshot.
        index: usize,
    },
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestoreError::PayloadMismatch { index } => {
                write!(
                    f,
                    "snapshot: the request bytes of notification {index} do not match it"
                )
            }
            RestoreError::TooLargeForSlot { needed, slot } => write!(
                f,
                "snapshot: a request needs {needed} bytes but the new arena's slots have {slot}"
            ),
            RestoreError::Inconsistent => f.write_str(
                "snapshot: references between notifications, channels and hosts are broken",
            ),
            RestoreError::BadUri { index } => {
                write!(
                    f,
                    "snapshot: notification {index} has an invalid stored URI"
                )
            }
            RestoreError::BadRequest { index } => {
                write!(
                    f,
                    "snapshot: notification {index} has an invalid kind or class"
                )
            }
        }
    }
}

impl core::error::Error for RestoreError {}

impl<S: AsRef<[u8]> + AsMut<[u8]>, const Q: usize, const C: usize> Sender<S, Q, C> {
    /// The whole state and the bytes of every queued request.
    pub fn snapshot(&self) -> Snapshot<'_, Q, C> {
        let size = self.slot_size();
        let mut payloads = heapless::Vec::new();
        for slot in &self.state.slots {
            let start = usize::from(slot.note.place.arena) * size;
            let bytes = self
                .storage
                .as_ref()
                .get(start..start + slot.note.stored.len())
                .unwrap_or(&[]);
            // Cannot fail: as many payloads as slots.
            let _ = payloads.push(Payload(bytes));
        }
        Snapshot {
            state: self.state.clone(),
            payloads,
        }
    }

    /// A sender that carries on from `snapshot`, with `storage` as its arena
    /// (which may differ in size from the old one). Requests that were in
    /// flight are queued again.
    pub fn restore(snapshot: Snapshot<'_, Q, C>, mut storage: S) -> Result<Self, RestoreError> {
        let Snapshot {
            mut state,
            payloads,
        } = snapshot;
        let slot_size = storage.as_ref().len() / Q;
        if payloads.len() != state.slots.len() {
            return Err(RestoreError::PayloadMismatch {
                index: payloads.len().min(state.slots.len()),
            });
        }
        check_references(&state)?;
        let mut used = [false; Q];
        let mut uris = [UriSplit::default(); Q];
        for (index, (slot, payload)) in state.slots.iter_mut().zip(&payloads).enumerate() {
            let arena = usize::from(slot.note.place.arena);
            if arena >= Q || core::mem::replace(&mut used[arena], true) {
                return Err(RestoreError::Inconsistent);
            }
            let needed = slot.note.stored.len();
            if payload.0.len() != needed {
                return Err(RestoreError::PayloadMismatch { index });
            }
            if needed > slot_size {
                return Err(RestoreError::TooLargeForSlot {
                    needed,
                    slot: slot_size,
                });
            }
            let start = arena * slot_size;
            storage.as_mut()[start..start + needed].copy_from_slice(payload.0);
            uris[arena] = check_stored(
                &state.config,
                &state.channels,
                slot,
                &storage.as_ref()[start..],
                index,
            )?;
            if slot.stage == Stage::InFlight {
                // Its answer was lost with the old sender: send it again, as
                // the next attempt, unless that would pass the attempt limit.
                slot.stage = if slot.note.attempts >= state.config.max_attempts {
                    let order = state.next_order;
                    state.next_order = state.next_order.saturating_add(1);
                    Stage::Done {
                        result: super::Finished::GaveUp {
                            last: slot.note.last_reason,
                        },
                        order,
                    }
                } else {
                    Stage::Queued
                };
            }
        }
        let mut free = heapless::Vec::new();
        for i in (0..Q).rev().filter(|&i| !used[i]) {
            let _ = free.push(i as u16);
        }
        Ok(Sender {
            state,
            storage,
            free,
            uris,
            expiry_unreported: true,
        })
    }
}

fn check_references<const Q: usize, const C: usize>(
    state: &State<Q, C>,
) -> Result<(), RestoreError> {
    let bad = RestoreError::Inconsistent;
    // A sender counts one up per notification and per final event: half the
    // range is more than any sender reaches, and keeps the counters from overflowing.
    const COUNTER_LIMIT: u64 = u64::MAX / 2;
    if state.next_ticket > COUNTER_LIMIT
        || state.next_order > COUNTER_LIMIT
        || state
            .channels
            .iter()
            .any(|c| usize::from(c.state.host) >= state.hosts.len())
    {
        return Err(bad);
    }
    for (i, s) in state.slots.iter().enumerate() {
        if usize::from(s.note.place.channel) >= state.channels.len()
            || s.ticket.0 == 0
            || s.ticket.0 >= state.next_ticket
            || state.slots[..i].iter().any(|o| o.ticket == s.ticket)
        {
            return Err(bad);
        }
        if let Stage::Done { order, .. } = s.stage
            && order >= state.next_order
        {
            return Err(bad);
        }
    }
    Ok(())
}

fn check_stored(
    config: &super::SenderConfig,
    channels: &[Channel],
    slot: &Slot,
    bytes: &[u8],
    index: usize,
) -> Result<UriSplit, RestoreError> {
    let stored = &slot.note.stored;
    let class_ok = match stored.kind {
        RequestKind::CallbackRegistration => stored.class.is_none(),
        _ => stored.class.is_some_and(is_valid_class),
    };
    if !class_ok {
        return Err(RestoreError::BadRequest { index });
    }
    let bad_uri = RestoreError::BadUri { index };
    let (uri, callback, _) = stored_parts(bytes, stored).ok_or(bad_uri)?;
    let channel = ChannelUri::parse(uri).map_err(|_| bad_uri)?;
    if channels[usize::from(slot.note.place.channel)].id
        != policy::channel_id(config.seed, &channel)
    {
        return Err(bad_uri);
    }
    if let Some(cb) = callback
        && (!channel.is_authenticated() || Uri::parse(cb).is_err())
    {
        return Err(bad_uri);
    }
    Ok(channel.split())
}

//! The sender: a sans-IO state machine that decides, for every notification,
//! when it is sent, when it is tried again and how it ends.
//!
//! Two storages, one policy:
//!
//! - [`Sender`] (always there, no allocator): a fixed number of pending
//!   notifications (`Q`) and known channels (`C`), request bytes in a byte
//!   arena it borrows or owns. For gateways.
//! - `GrowableSender` (feature `alloc`): any number of notifications and
//!   channels within a memory budget the caller sets, every operation
//!   O(log n). For servers that push to every subscriber's phone.
//!
//! Both have the same methods and give the same events for the same inputs.
//! Neither performs I/O nor reads a clock: time comes in as [`Instant`](crate::Instant).
//!
//! # Map
//!
//! | file | what |
//! |---|---|
//! | `types.rs` | the vocabulary: [`Ticket`], [`Event`], [`Finished`], [`SenderConfig`], [`Transmit`], the errors |
//! | `lifecycle.rs` | one notification's stages, as one enum and one `match` |
//! | `policy.rs` | every decision about a notification, its channel and its host (readiness, retries, pauses, quota holds, superseding, cancelling), shared by both storages |
//! | `quota.rs` | the rolling quota window of an unauthenticated channel |
//! | `fixed.rs` | [`Sender`]: arrays and an arena; finds what is due by looking at every slot |
//! | `growable.rs` | `GrowableSender`: a slab, hash maps, a FIFO per channel, ready queues per host and a timer queue |
//! | `min_queue.rs` | the growable sender's priority queue: an in-order run beside a heap |
//! | `snapshot.rs` | saving and restoring a [`Sender`] (feature `serde`) |
//! | [`record`] | [`Record`]: a sender's changes as a journal keeps them, and their encoding, for both storages (the fixed one with feature `journal`) |
//!
//! Why two storages rather than one generic one: a gateway's sender must fit
//! in a few KiB of flash and RAM, where scanning 8 slots is the smallest and
//! fastest code, while a server's million pending notifications need indexes
//! that a gateway cannot afford. So the decisions are pure functions over one
//! record at a time (`policy.rs`), and each storage only finds the records and
//! tracks what is due; a property test drives both with the same inputs.
//!
//! # The run loop
//!
//! > **Drive the sender until `poll_transmit` and `poll_event` both return
//! > `None`; then wait for the next input or for `poll_timeout`.**
//!
//! 1. Give it work: [`Sender::submit`] (or [`Sender::cancel`]).
//! 2. Send what is due: [`Sender::poll_transmit`] hands out one request at a
//!    time (headers and body for structured clients, or HTTP/1.1 bytes).
//!    Any number may be in flight, at most one per channel.
//! 3. Report what came back: [`Sender::handle_response`] with the parsed
//!    response, or [`Sender::handle_transport_error`] when the connection failed.
//! 4. Read what happened: [`Sender::poll_event`] until `None`. Every ticket ends
//!    in exactly one [`Event::Finished`].
//! 5. Sleep until [`Sender::poll_timeout`] or new input, whichever is first.
//! 6. Tell the time: [`Sender::handle_timeout`] (every `poll_transmit` does too).
//!
//! ```
//! use mpns_proto::sender::{Event, Finished, Sender, SenderConfig};
//! use mpns_proto::{ChannelUri, Instant, Notification, Options, Response, Toast};
//!
//! let mut arena = [0u8; 4 * 1024];
//! let mut sender: Sender<_, 4, 8> = Sender::new(SenderConfig::default(), &mut arena[..]);
//! let mut now = Instant::ZERO; // the caller's clock; here a fake one
//!
//! let channel = ChannelUri::parse("http://127.0.0.1:47001/throttledthirdparty/01.00/A")?;
//! let toast = Notification::Toast(Toast { text1: Some("Hello"), ..Toast::default() });
//! let ticket = sender.submit(now, channel, &toast, &Options::default())?;
//!
//! let mut finished = None;
//! for _round in 0..10 {
//!     while let Some(transmit) = sender.poll_transmit(now) {
//!         let mut wire = [0u8; 1024];
//!         let _len = transmit.request.write_http(&mut wire)?; // send these bytes
//!         let sent = transmit.ticket;
//!         // ... the server answers (here, on the first try, with "QueueFull").
//!         let status = if now == Instant::ZERO { "QueueFull" } else { "Received" };
//!         let response = Response::from_parts(200, |name| {
//!             (name == "X-NotificationStatus").then_some(status.as_bytes())
//!         });
//!         sender.handle_response(now, sent, &response)?;
//!     }
//!     while let Some(event) = sender.poll_event() {
//!         if let Event::Finished { ticket: t, result, .. } = event {
//!             assert_eq!(t, ticket);
//!             finished = Some(result);
//!         }
//!     }
//!     match sender.poll_timeout() {
//!         Some(at) => now = at, // sleep until then
//!         None => break,
//!     }
//! }
//! assert!(matches!(finished, Some(Finished::Accepted { .. })));
//! assert!(now >= Instant::from_secs(48), "QueueFull backs off about a minute");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Policy
//!
//! Exactly the table of `docs/protocol.md`, "What each response means": see
//! [`crate::classify`]. Per channel, first in first out with at most one
//! request in flight, so tile updates never arrive out of order. A retry
//! pauses the notification (QueueFull), its channel (406, 412: 60 min, never
//! more than one attempt an hour) or its host (503, 429, other 5xx, transport
//! failures), with exponential backoff and jitter from the seed in
//! [`SenderConfig`]. An expired channel ends everything queued for it and
//! refuses later submits. Unauthenticated channels are held under their
//! rolling quota instead of provoking 406.
//!
//! # Memory
//!
//! [`Sender`] needs no allocator. Its own size is at most
//! `256 + 136·Q + 112·C` bytes (`size_of::<Sender<&mut [u8], Q, C>>()`, on
//! 64-bit hosts; less on 32-bit `thumbv7em`): 8 notifications and 16 channels
//! take 3,016 bytes, well inside 16 KiB. The `journal` feature adds 16 bytes
//! whatever `Q` and `C` (its marks take bytes that were padding). The arena is split into `Q` equal
//! slots; a slot holds one request's channel URI, callback URI and body, so
//! size it as `Q × (longest URI + largest body)`: with MPNS's limits,
//! `Q × 4,200` bytes covers any toast or tile, `Q × 2,100` any raw
//! notification, and `Q × 1,024` typical toasts to typical channel URIs.
//! [`SubmitError::TooLarge`] says when a request does not fit.
//!
//! `GrowableSender` counts what it holds against its budget: each pending
//! notification costs its request bytes plus a fixed overhead, each channel
//! with queued work a fixed entry (its `NOTIFICATION_OVERHEAD` and
//! `CHANNEL_ENTRY`). At the budget, submits get [`SubmitError::QueueFull`],
//! back-pressure that clears as notifications finish. Measured
//! (`tests/sender_memory.rs`, resident memory of a process of its own): a
//! pending toast takes about 190 bytes beyond its channel URI and body; a
//! channel kept only for its quota window, 40 bytes, outside the budget.
//! Cost per operation: `benches/README.md` (the sender cycle at 64 and a
//! million pending).
//!
//! # Persistence
//!
//! With the `serde` feature, `Sender::snapshot` captures the whole state and
//! the queued requests, and `Sender::restore` carries on after a reboot. A
//! request that was in flight when the snapshot was taken is sent again as
//! its next attempt (at least once, never lost), or ends as given up if it
//! had used its last attempt; take snapshots after `handle_response` to
//! avoid both. Snapshots need a binary format such as postcard.
//!
//! Or records (module [`record`]): a recording sender hands out a small
//! [`Record`] for each change (`poll_record`), to append to a journal
//! before acting on what it hands out next; `replay` and `resume` rebuild
//! it, and `state_records` compacts the journal. Requests on the wire at
//! the crash are sent again and reported as [`Event::InDoubt`]; no end is
//! told that the journal may lose. What is written follows the work done,
//! not the state held, so it suits a server with a million pending.
//! `GrowableSender` records with `alloc`, [`Sender`] with the `journal`
//! feature (no allocator). The contract: `docs/journal.md` in the
//! repository; a gateway's choice between snapshots and records:
//! `docs/gateway-persistence.md`.

mod fixed;
#[cfg(feature = "alloc")]
mod growable;
mod lifecycle;
#[cfg(feature = "alloc")]
mod min_queue;
mod policy;
mod quota;
pub mod record;
#[cfg(feature = "serde")]
mod snapshot;
mod types;

pub use fixed::Sender;
#[cfg(feature = "alloc")]
pub use growable::GrowableSender;
pub use record::{Record, RecordError, ReplayError};
#[cfg(feature = "serde")]
pub use snapshot::{RestoreError, Snapshot};
pub use types::{
    Cancellation, ChannelId, Event, Finished, SenderConfig, SubmitError, Ticket, TicketError,
    Transmit, TransportError,
};

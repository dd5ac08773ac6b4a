//! The life of one notification, as data: one enum and one `match`.
//!
//! ```text
//!             submit
//!               │
//!               ▼            poll_transmit
//!  ┌────────► Queued ───────────────────────► InFlight
//!  │  wait      │ ▲                              │
//!  │  over      │ │ retry: channel or            │ response or
//!  │            │ │ host paused                  │ transport failure
//!  │            │ └──────────────────────────────┤
//!  Waiting ◄────┼────────────────────────────────┤ retry: QueueFull
//!  (backoff)    │ cancel, deadline, superseded,  │ (this notification waits)
//!               │ channel expired                │
//!               ▼                                ▼
//!             Done (one final event, kept until poll_event takes it)
//! ```
//!
//! [`Stage`] is the state; [`transition`] is every way out of a state.

use crate::response::{Outcome, RetryReason};
use crate::time::Instant;

use super::{Finished, Ticket};

/// Where one notification is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum Stage {
    /// Ready to go as soon as its channel, host and quota allow.
    Queued,
    /// Backing off after QueueFull until `until`; its channel waits behind it.
    Waiting { until: Instant },
    /// Sent; waiting for the response or a transport failure.
    InFlight,
    /// Finished; the final event waits for `poll_event`. `order` sorts finals
    /// in the order they happened.
    Done { result: Finished, order: u64 },
}

/// Something that happens to a notification.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Input {
    /// `poll_transmit` chose it.
    Send,
    /// Its response (or transport failure) was classified; for a retry, the
    /// sender has already worked out when the next attempt may be.
    Answer {
        outcome: Outcome,
        /// For a retry that was not given up: the notification's own wait
        /// (QueueFull), or `None` when the channel or host carries the pause.
        own_wait: Option<Instant>,
        give_up: bool,
        cancel_requested: bool,
    },
    /// The clock reached `now`. `last` is the reason of the last retry, if any.
    Tick {
        now: Instant,
        deadline: Instant,
        last: Option<RetryReason>,
    },
    /// The application cancelled it.
    Cancel,
    /// A newer update of the same tile replaced it.
    Superseded { by: Ticket },
    /// Its channel expired.
    ChannelExpired,
}

/// The result of an input: the new stage, or `None` when the input does not
/// apply in this stage; the sender then ignores it and the stage stays as it
/// is (see `policy::apply`). A response to a notification that is not in
/// flight never gets here: `handle_response` refuses its ticket first.
pub(crate) fn transition(stage: Stage, input: Input, order: u64) -> Option<Stage> {
    use Stage::*;
    let done = |result| Some(Done { result, order });
    match (stage, input) {
        (Queued, Input::Send) => Some(InFlight),
        (
            InFlight,
            Input::Answer {
                outcome,
                own_wait,
                give_up,
                cancel_requested,
            },
        ) => match outcome {
            Outcome::Retry { .. } if cancel_requested => done(Finished::Cancelled),
            Outcome::Retry { reason, .. } if give_up => {
                done(Finished::GaveUp { last: Some(reason) })
            }
            Outcome::Retry { .. } => Some(match own_wait {
                Some(until) => Waiting { until },
                None => Queued,
            }),
            Outcome::Accepted { device } => done(Finished::Accepted { device }),
            Outcome::Suppressed => done(Finished::Suppressed),
            Outcome::Dropped => done(Finished::Dropped),
            Outcome::Expired => done(Finished::ChannelExpired),
            Outcome::Rejected { reason, status } => done(Finished::Rejected { reason, status }),
            Outcome::Anomaly { reason, status } => done(Finished::Anomaly { reason, status }),
        },
        (
            Queued | Waiting { .. },
            Input::Tick {
                now,
                deadline,
                last,
            },
        ) if deadline <= now => done(Finished::GaveUp { last }),
        (Waiting { until }, Input::Tick { now, .. }) if until <= now => Some(Queued),
        (Queued | Waiting { .. } | InFlight, Input::Tick { .. }) => Some(stage),
        (Queued | Waiting { .. }, Input::Cancel) => done(Finished::Cancelled),
        (Queued | Waiting { .. }, Input::Superseded { by }) => done(Finished::Superseded { by }),
        (Queued | Waiting { .. } | InFlight, Input::ChannelExpired) => {
            done(Finished::ChannelExpired)
        }
        (Done { .. }, Input::Tick { .. }) => Some(stage),
        _ => None,
    }
}

//! Test helpers shared by the sender tests.

#![allow(dead_code)] // each test binary uses a part

use std::collections::VecDeque;

use mpns_proto::sender::{
    Cancellation as Cancel, ChannelId, Event, SubmitError, TicketError, Transmit,
};
use mpns_proto::{
    ChannelUri, GrowableSender, Instant, Limits, Notification, Options, Response, Sender,
    SenderConfig, Ticket,
};

/// The fixed sender and the growable one, given the same inputs: every
/// output is compared, and the fixed sender's is returned. Informational
/// and final events read together (between two inputs) are compared as
/// sets: the storages may list simultaneous events in another order.
pub(crate) struct Twin<const Q: usize, const C: usize> {
    pub(crate) fixed: Sender<Vec<u8>, Q, C>,
    /// `None` where a scenario is about the fixed sender alone (its
    /// capacity, its snapshots).
    pub(crate) grow: Option<GrowableSender>,
    events: VecDeque<Event>,
    /// The latest time given.
    now: Instant,
}

impl<const Q: usize, const C: usize> Twin<Q, C> {
    pub(crate) fn new(config: SenderConfig) -> Self {
        Twin {
            fixed: Sender::new(config, vec![0u8; Q * 2048]),
            grow: Some(GrowableSender::new(config, 64 << 20)),
            events: VecDeque::new(),
            now: Instant::ZERO,
        }
    }

    pub(crate) fn fixed_only(fixed: Sender<Vec<u8>, Q, C>) -> Self {
        Twin {
            fixed,
            grow: None,
            events: VecDeque::new(),
            now: Instant::ZERO,
        }
    }

    pub(crate) fn submit(
        &mut self,
        now: Instant,
        channel: ChannelUri<'_>,
        n: &Notification<'_>,
        o: &Options<'_>,
    ) -> Result<Ticket, SubmitError> {
        self.now = self.now.max(now);
        let a = self.fixed.submit(now, channel, n, o);
        if let Some(g) = &mut self.grow {
            assert_eq!(g.submit(now, channel, n, o), a, "submit");
        }
        a
    }

    pub(crate) fn submit_callback_registration(
        &mut self,
        now: Instant,
        channel: ChannelUri<'_>,
        uri: &str,
        body: &[u8],
        limits: &Limits,
    ) -> Result<Ticket, SubmitError> {
        self.now = self.now.max(now);
        let a = self
            .fixed
            .submit_callback_registration(now, channel, uri, body, limits);
        if let Some(g) = &mut self.grow {
            let b = g.submit_callback_registration(now, channel, uri, body, limits);
            assert_eq!(b, a, "submit_callback_registration");
        }
        a
    }

    pub(crate) fn poll_transmit(&mut self, now: Instant) -> Option<Transmit<'_>> {
        self.now = self.now.max(now);
        let a = self.fixed.poll_transmit(now);
        if let Some(g) = &mut self.grow {
            let b = g.poll_transmit(now);
            let key = |t: &Transmit<'_>| {
                let mut wire = vec![0; t.request.http_len()];
                t.request.write_http(&mut wire).unwrap();
                (
                    t.ticket,
                    t.channel,
                    t.attempt,
                    String::from_utf8_lossy(&wire).len(),
                    wire,
                )
            };
            assert_eq!(
                b.as_ref().map(key),
                a.as_ref().map(key),
                "poll_transmit at {now}"
            );
        }
        a
    }

    pub(crate) fn handle_response(
        &mut self,
        now: Instant,
        t: Ticket,
        r: &Response,
    ) -> Result<(), TicketError> {
        self.now = self.now.max(now);
        let a = self.fixed.handle_response(now, t, r);
        if let Some(g) = &mut self.grow {
            assert_eq!(g.handle_response(now, t, r), a, "handle_response");
        }
        a
    }

    pub(crate) fn handle_transport_error(
        &mut self,
        now: Instant,
        t: Ticket,
    ) -> Result<(), TicketError> {
        self.now = self.now.max(now);
        let a = self.fixed.handle_transport_error(now, t);
        if let Some(g) = &mut self.grow {
            assert_eq!(
                g.handle_transport_error(now, t),
                a,
                "handle_transport_error"
            );
        }
        a
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.fixed.handle_timeout(now);
        if let Some(g) = &mut self.grow {
            g.handle_timeout(now);
        }
    }

    pub(crate) fn cancel(&mut self, t: Ticket) -> Result<Cancel, TicketError> {
        let a = self.fixed.cancel(t);
        if let Some(g) = &mut self.grow {
            assert_eq!(g.cancel(t), a, "cancel");
        }
        a
    }

    pub(crate) fn forget_channel(&mut self, id: ChannelId) {
        self.fixed.forget_channel(id);
        if let Some(g) = &mut self.grow {
            g.forget_channel(id);
        }
    }

    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() {
            let ours: Vec<Event> = std::iter::from_fn(|| self.fixed.poll_event()).collect();
            if let Some(g) = &mut self.grow {
                let theirs: Vec<Event> = std::iter::from_fn(|| g.poll_event()).collect();
                let sorted = |v: &[Event]| {
                    let mut v: Vec<String> = v.iter().map(|e| format!("{e:?}")).collect();
                    v.sort();
                    v
                };
                assert_eq!(sorted(&theirs), sorted(&ours), "events");
            }
            self.events.extend(ours);
        }
        self.events.pop_front()
    }

    /// The fixed sender's timeout; the growable one's may be earlier (a timer
    /// whose reason is gone), never later. Any time up to now means "now".
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let a = self.fixed.poll_timeout();
        if let (Some(g), Some(a)) = (&self.grow, a) {
            let b = g.poll_timeout().map(|b| b.max(self.now));
            let a = a.max(self.now);
            assert!(
                b.is_some_and(|b| b <= a),
                "growable timeout {b:?} after {a:?}"
            );
        }
        a
    }

    pub(crate) fn pending(&self) -> usize {
        let a = self.fixed.pending();
        if let Some(g) = &self.grow {
            assert_eq!(g.pending(), a, "pending");
        }
        a
    }

    pub(crate) fn channel_id(&self, c: &ChannelUri<'_>) -> ChannelId {
        self.fixed.channel_id(c)
    }

    pub(crate) fn is_expired(&self, c: &ChannelUri<'_>) -> bool {
        let a = self.fixed.is_expired(c);
        if let Some(g) = &self.grow {
            assert_eq!(g.is_expired(c), a, "is_expired");
        }
        a
    }
}

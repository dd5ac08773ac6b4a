//! `replay`: a growable sender rebuilt from any bytes read as a journal of
//! records ([`Record::decode`], [`GrowableSender::replay`]).
//!
//! Every record is a typed error or reads back to its own bytes. Replaying is
//! a typed error or a sender that is consistent: the records of its state,
//! replayed into a new sender, give the same records again (as a set: hash
//! order may differ), and answered `200 Received` it drains, within a bounded
//! number of rounds, to exactly one final event per notification it held,
//! each request well-formed HTTP/1.1, at most one in flight per channel.
//!
//! The same records replayed into a fixed `Sender` (a gateway's, feature
//! `journal`) are taken or refused with a typed error (a full table among
//! them), never a panic, and it drains the same way.
//!
//! Input: records, each as a little-endian u16 length and that many bytes.

use std::collections::{BTreeSet, HashSet};

use mpns_proto::sender::{Event, Record, ReplayError};
use mpns_proto::{
    ChannelUri, Duration, GrowableSender, Instant, Notification, Options, Response, Sender,
    SenderConfig, Toast,
};

use super::Bytes;
use super::channel_uri::request_parses;
use super::sender::CHANNELS;

/// The settings of the senders that made the seeds (replay checks the seed).
pub fn config() -> SenderConfig {
    SenderConfig {
        seed: 0x6a6f_7572_6e61_6c00,
        quota: 3,
        quota_window: Duration::from_hours(1),
        max_attempts: 5,
        ..SenderConfig::default()
    }
}

const BUDGET: usize = 1 << 20;

/// Runs the check on raw fuzz input.
pub fn check(data: &[u8]) {
    let mut b = Bytes::new(data);
    let mut sender = GrowableSender::new(config(), BUDGET).recording();
    let mut fixed: Option<Sender<Vec<u8>, 8, 6>> =
        Some(Sender::new(config(), vec![0; 8 * 1024]).recording());
    let mut now = Instant::ZERO;
    while !b.is_empty() {
        let len = usize::from(b.u16());
        let bytes = b.take(len);
        let record = match Record::decode(bytes) {
            Ok(record) => record,
            Err(e) => {
                assert!(e.offset <= bytes.len(), "{e} beyond {} bytes", bytes.len());
                assert!(!e.to_string().is_empty());
                continue;
            }
        };
        super::trace(|| format!("replay {record:?}"));
        let mut again = Vec::new();
        record.encode_to_vec(&mut again);
        assert_eq!(again, bytes, "a record reads back to its bytes");
        // Refused (full, or inconsistent): the gateway starts afresh.
        if let Some(Err(e)) = fixed.as_mut().map(|f| f.replay(&record)) {
            assert!(!e.to_string().is_empty());
            fixed = None;
        }
        match sender.replay(&record) {
            Ok(()) => {}
            Err(ReplayError::Record(_) | ReplayError::NotFresh) => {
                panic!(
                    "decoded records replay into a fresh sender or are refused for their content"
                )
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
        now = now.max(Instant::from_millis(u64::from(b.u8()) * 1_000));
    }
    sender.resume(now);
    if let Some(mut f) = fixed {
        f.resume(now);
        drain_fixed(f, now);
    }
    let state = state_of(&sender);
    let mut rebuilt = GrowableSender::new(config(), BUDGET).recording();
    let mut in_order = Vec::new();
    sender.state_records(|r| {
        let mut bytes = Vec::new();
        r.encode_to_vec(&mut bytes);
        in_order.push(bytes);
    });
    for bytes in &in_order {
        let record = Record::decode(bytes).expect("a sender's own records decode");
        rebuilt
            .replay(&record)
            .expect("a sender's own records replay");
    }
    rebuilt.resume(now);
    let again = state_of(&rebuilt);
    let decoded = |set: &BTreeSet<Vec<u8>>, other: &BTreeSet<Vec<u8>>| -> Vec<String> {
        set.difference(other)
            .map(|b| format!("{:?}", Record::decode(b).expect("own record")))
            .collect()
    };
    assert!(
        again == state,
        "state, replay, state changed it: lost {:?}, gained {:?}",
        decoded(&state, &again),
        decoded(&again, &state)
    );
    // Ends at the resume (past deadlines, last attempts in doubt) are final
    // events not polled yet: counted as pending, not kept in the state.
    assert!(rebuilt.pending() <= sender.pending());
    drain(sender, now);
}

/// The records of a sender's state, as a set of encoded records.
fn state_of(sender: &GrowableSender) -> BTreeSet<Vec<u8>> {
    let mut out = BTreeSet::new();
    sender.state_records(|r| {
        let mut bytes = Vec::new();
        r.encode_to_vec(&mut bytes);
        out.insert(bytes);
    });
    out
}

/// Answers everything `200 Received` until every notification has ended.
fn drain(mut sender: GrowableSender, mut now: Instant) {
    let mut live: HashSet<u64> = HashSet::new();
    // Records are polled as a journal would; they must not stop events.
    while sender.poll_record().is_some() {}
    let held = sender.pending();
    let mut ended = 0;
    let toast = Notification::Toast(Toast {
        text1: Some("after"),
        ..Toast::default()
    });
    let channel = ChannelUri::parse(CHANNELS[0]).expect("fixed");
    let fresh = sender.submit(now, channel, &toast, &Options::default());
    let expected = held + usize::from(fresh.is_ok());
    for _round in 0..2_000 {
        let mut wire = Vec::new();
        let mut channels = HashSet::new();
        while let Some(t) = sender.poll_transmit(now) {
            let channel = t.request.channel();
            let uri = channel.uri();
            let path = if uri.path().is_empty() {
                "/"
            } else {
                uri.path()
            };
            let target = match t.request.callback_uri() {
                Some(_) => format!("{}/callback{}", uri.path(), uri.query()),
                None => format!("{path}{}", uri.query()),
            };
            request_parses(&t.request, &target, channel.host_header());
            assert!(channels.insert(t.channel), "two in flight on one channel");
            wire.push(t.ticket);
        }
        while sender.poll_record().is_some() {}
        for ticket in wire {
            let ok = Response::from_parts(200, |name| match name {
                "X-NotificationStatus" => Some(b"Received".as_slice()),
                "X-SubscriptionStatus" => Some(b"Active".as_slice()),
                _ => None,
            });
            sender.handle_response(now, ticket, &ok).expect("in flight");
        }
        while sender.poll_record().is_some() {}
        while let Some(event) = sender.poll_event() {
            if let Event::Finished { ticket, .. } = event {
                assert!(live.insert(ticket.0), "two final events for {ticket:?}");
                ended += 1;
            }
        }
        if sender.pending() == 0 {
            break;
        }
        now = match sender.poll_timeout() {
            Some(at) => now.max(at),
            None => panic!("pending work with nothing to wait for"),
        };
        while sender.poll_record().is_some() {}
    }
    assert_eq!(ended, expected, "one final event per notification");
}

/// Answers everything `200 Received` until every notification of the
/// fixed sender has ended, one final event each.
fn drain_fixed(mut sender: Sender<Vec<u8>, 8, 6>, mut now: Instant) {
    let held = sender.pending();
    let mut live: HashSet<u64> = HashSet::new();
    for _round in 0..2_000 {
        while sender.poll_record().is_some() {}
        let mut wire = Vec::new();
        let mut channels = HashSet::new();
        while let Some(t) = sender.poll_transmit(now) {
            assert!(channels.insert(t.channel), "two in flight on one channel");
            wire.push(t.ticket);
        }
        while sender.poll_record().is_some() {}
        for ticket in wire {
            let ok = Response::from_parts(200, |name| match name {
                "X-NotificationStatus" => Some(b"Received".as_slice()),
                "X-SubscriptionStatus" => Some(b"Active".as_slice()),
                _ => None,
            });
            sender.handle_response(now, ticket, &ok).expect("in flight");
        }
        while sender.poll_record().is_some() {}
        while let Some(event) = sender.poll_event() {
            if let Event::Finished { ticket, .. } = event {
                assert!(live.insert(ticket.0), "two final events for {ticket:?}");
            }
        }
        if sender.pending() == 0 {
            break;
        }
        while sender.poll_record().is_some() {}
        now = match sender.poll_timeout() {
            Some(at) => now.max(at),
            None => panic!("fixed sender: pending work with nothing to wait for"),
        };
    }
    assert_eq!(
        live.len(),
        held,
        "fixed sender: one final event per notification"
    );
}

/// Records as the check reads them: each as a u16 length and its bytes.
pub fn frame(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(&(r.len() as u16).to_le_bytes());
        out.extend_from_slice(r);
        out.push(5); // the clock moves 5 s
    }
    out
}

/// The journal of a short run: submits to every channel, a QueueFull, a 503,
/// an expiry, a request left in flight.
pub fn seed_journal(in_flight: bool) -> Vec<Vec<u8>> {
    let mut sender = GrowableSender::new(config(), BUDGET).recording();
    let mut journal = Vec::new();
    let mut keep = |sender: &mut GrowableSender| {
        while let Some(r) = sender.poll_record() {
            let mut bytes = Vec::new();
            r.encode_to_vec(&mut bytes);
            journal.push(bytes);
        }
    };
    let toast = Notification::Toast(Toast {
        text1: Some("seed"),
        ..Toast::default()
    });
    let mut now = Instant::from_secs(1);
    for round in 0..2 {
        for uri in CHANNELS {
            let channel = ChannelUri::parse(uri).expect("fixed");
            let _ = sender.submit(now, channel, &toast, &Options::default());
        }
        keep(&mut sender);
        let mut wire = Vec::new();
        while let Some(t) = sender.poll_transmit(now) {
            wire.push((t.ticket, t.channel));
        }
        keep(&mut sender);
        if in_flight && round == 1 {
            break;
        }
        for (i, (ticket, _)) in wire.into_iter().enumerate() {
            let (status, n, s): (u16, &str, &str) = match i {
                0 => (200, "QueueFull", "Active"),
                1 => (503, "", ""),
                2 => (404, "Dropped", "Expired"),
                _ => (200, "Received", "Active"),
            };
            let response = Response::from_parts(status, |name| match name {
                "X-NotificationStatus" if !n.is_empty() => Some(n.as_bytes()),
                "X-SubscriptionStatus" if !s.is_empty() => Some(s.as_bytes()),
                _ => None,
            });
            let _ = sender.handle_response(now, ticket, &response);
            keep(&mut sender);
        }
        while sender.poll_event().is_some() {}
        keep(&mut sender);
        now = now + Duration::from_secs(90);
    }
    journal
}

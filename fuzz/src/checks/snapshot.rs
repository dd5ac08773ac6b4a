//! `snapshot_restore`: [`Sender::restore`] from any bytes read as a postcard
//! [`Snapshot`] (the sender survives a reboot).
//!
//! Restoring is a typed error, or a sender that is consistent: its own
//! snapshot restores again to the same bytes, it accepts a new submit, every
//! request it transmits is one well-formed HTTP/1.1 request (at most one in
//! flight per channel), and answered (from the rest of the input, then with
//! `200 Received`) it drains, within a bounded number of rounds, to exactly
//! one final event per notification it held.
//!
//! Input: a postcard snapshot of a `Sender<_, 4, 3>`, then one byte choosing
//! the new arena's size, one choosing a submit, then bytes choosing answers.

use std::collections::HashSet;

use mpns_proto::sender::{Event, Snapshot, SubmitError};
use mpns_proto::{
    ChannelUri, Instant, Notification, Options, Response, Sender, Ticket, Toast, classify,
};

use super::Bytes;
use super::channel_uri::request_parses;
use super::sender::{C, CHANNELS, Q, TestSender};

/// Runs the check on raw fuzz input.
pub fn check(data: &[u8]) {
    let Ok((snapshot, rest)) = postcard::take_from_bytes::<Snapshot<'_, Q, C>>(data) else {
        return;
    };
    let mut b = Bytes::new(rest);
    let arena = match b.u8() % 4 {
        0 => Q * 1024,
        1 => Q * 64,
        2 => Q * 8192,
        _ => 0,
    };
    super::trace(|| format!("{snapshot:#?}"));
    match TestSender::restore(snapshot, vec![0; arena]) {
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(sender) => drive(sender, arena, &mut b),
    }
}

/// A response chosen by one byte: mostly `200 Received`.
fn answer(sel: u8) -> Response {
    let (status, n, s): (u16, &str, &str) = match sel {
        0..=199 => (200, "Received", "Active"),
        200..=209 => (200, "QueueFull", "Active"),
        210..=219 => (503, "", ""),
        220..=229 => (406, "Dropped", "Active"),
        230..=239 => (404, "Dropped", "Expired"),
        240..=247 => (400, "", ""),
        _ => (200, "", ""),
    };
    Response::from_parts(status, |name| match name {
        "X-NotificationStatus" if !n.is_empty() => Some(n.as_bytes()),
        "X-SubscriptionStatus" if !s.is_empty() => Some(s.as_bytes()),
        _ => None,
    })
}

fn drive(mut sender: TestSender, arena: usize, b: &mut Bytes<'_>) {
    // The restored sender's own snapshot restores, to the same bytes.
    let once = postcard::to_allocvec(&sender.snapshot()).expect("postcard");
    let snapshot: Snapshot<'_, Q, C> = postcard::from_bytes(&once).expect("own snapshot");
    let again = Sender::<Vec<u8>, Q, C>::restore(snapshot, vec![0; arena])
        .expect("a restored sender's snapshot restores");
    assert_eq!(
        postcard::to_allocvec(&again.snapshot()).expect("postcard"),
        once,
        "snapshot, restore, snapshot changed the state"
    );

    let mut expected = sender.pending();
    let held = sender.pending();
    // A new notification after the restore.
    let sel = b.u8();
    if sel & 1 == 1 {
        let channel = ChannelUri::parse(CHANNELS[usize::from(sel >> 1) % 4]).expect("fixed");
        let toast = Notification::Toast(Toast {
            text1: Some("after restore"),
            ..Toast::default()
        });
        let expired = sender.is_expired(&channel);
        match sender.submit(Instant::ZERO, channel, &toast, &Options::default()) {
            Ok(_) => {
                assert!(!expired, "took a notification for an expired channel");
                expected += 1;
            }
            // Each refusal is the state's: a full queue, an expired channel,
            // a full table.
            Err(SubmitError::QueueFull) => assert_eq!(held, Q, "QueueFull with room"),
            Err(SubmitError::ChannelExpired(id)) => {
                assert!(expired, "ChannelExpired for a live channel");
                assert_eq!(id, sender.channel_id(&channel));
            }
            Err(SubmitError::ChannelTableFull) => {
                let (channels, hosts) = tables(&sender);
                assert_eq!(sender.table_entries(), (channels, hosts), "table_entries");
                assert!(channels == C || hosts == C, "ChannelTableFull, not full");
            }
            Err(SubmitError::TooLarge { needed, slot }) => {
                assert!(needed > slot, "TooLarge: {needed} fits in {slot}");
                assert_eq!(slot, sender.slot_size());
            }
            Err(e) => panic!("a small toast refused: {e:?}"),
        }
        assert!(sender.pending() <= Q);
    }

    let mut now = Instant::ZERO;
    let mut finals: HashSet<Ticket> = HashSet::new();
    let mut stalls = 0;
    for round in 0..3000 {
        if round == 2900 {
            // Degenerate configurations (a quota of 0, a window of 0 ms) may
            // hold a notification until its deadline with a wake-up every few
            // milliseconds: jump to the end of time, where every deadline has passed.
            now = Instant::from_millis(u64::MAX);
            sender.handle_timeout(now);
        }
        let mut in_flight: Vec<(Ticket, String)> = Vec::new();
        while let Some(tx) = sender.poll_transmit(now) {
            let request = tx.request;
            super::trace(|| format!("t={now} transmit {:?} attempt {}", tx.ticket, tx.attempt));
            let uri = request.channel().as_str().to_string();
            assert!(
                !in_flight.iter().any(|(_, c)| *c == uri),
                "two requests in flight on {uri}"
            );
            request_parses(
                &request,
                &request.target().to_string(),
                request.channel().host_header(),
            );
            in_flight.push((tx.ticket, uri));
        }
        let sent = !in_flight.is_empty();
        for (ticket, _) in in_flight {
            let sel = b.u8();
            if sel == 255 {
                sender
                    .handle_transport_error(now, ticket)
                    .expect("in flight");
            } else {
                let response = answer(sel);
                let _ = classify(&response);
                sender
                    .handle_response(now, ticket, &response)
                    .expect("in flight");
            }
        }
        let before = finals.len();
        while let Some(event) = sender.poll_event() {
            super::trace(|| format!("t={now} event {event:?}"));
            if let Event::Finished { ticket, .. } = event {
                assert!(finals.insert(ticket), "two final events for {ticket:?}");
            }
        }
        assert!(sender.pending() <= Q);
        if sender.pending() == 0 {
            break;
        }
        let at = sender
            .poll_timeout()
            .expect("pending notifications, nothing in flight, no timeout");
        super::trace(|| format!("t={now} poll_timeout {at} pending {}", sender.pending()));
        if at > now {
            now = at;
            stalls = 0;
        } else if sent || finals.len() != before {
            stalls = 0;
        } else {
            // After a drain, poll_timeout must be in the future or something must move.
            stalls += 1;
            assert!(
                stalls < 3,
                "poll_timeout {at} is not after now {now} and nothing moves"
            );
        }
        sender.handle_timeout(now);
    }
    assert_eq!(
        sender.pending(),
        0,
        "livelock: restored notifications never end"
    );
    assert_eq!(
        finals.len(),
        expected,
        "one final event per notification ({held} restored)"
    );
}

/// The number of channel and host entries, as a snapshot shows them (an
/// oracle for [`Sender::table_entries`]).
fn tables(sender: &TestSender) -> (usize, usize) {
    let v = serde_json::to_value(sender.snapshot()).expect("snapshot");
    let len = |name: &str| v["state"][name].as_array().map_or(0, Vec::len);
    (len("channels"), len("hosts"))
}

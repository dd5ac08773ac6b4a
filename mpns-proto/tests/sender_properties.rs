//! Property tests of the sender over random sequences of submits, cancels,
//! transmits, responses, transport failures and clock moves. Invariants:
//! one final event per ticket; never two requests in flight on one channel;
//! never an attempt to a paused channel, host or notification before its
//! time; never more than the quota in any window on an http channel;
//! capacities never exceeded; no panic.

use std::collections::{HashMap, HashSet};

use mpns_proto::sender::Event;
use mpns_proto::{
    ChannelUri, Duration, Field, Instant, Notification, Options, Response, Sender, SenderConfig,
    StandardTile, Ticket, Tile, TileTemplate, Toast,
};
use proptest::prelude::*;

const CHANNELS: [&str; 4] = [
    "http://db3.notify.live.net/throttledthirdparty/01.00/A",
    "http://db3.notify.live.net/throttledthirdparty/01.00/B",
    "http://sn1.notify.live.net/throttledthirdparty/01.00/C",
    "https://db3.notify.live.net/unthrottledthirdparty/01.00/S",
];
/// Host of each channel: A and B share one; S is https on the same name, another host.
const HOSTS: [usize; 4] = [0, 0, 1, 2];
const Q: usize = 6;
const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;
const QUOTA: usize = 5;

#[derive(Clone, Debug)]
enum Op {
    Submit { channel: usize, tile: bool },
    Cancel(usize),
    Transmit,
    Respond { nth: usize, reply: usize },
    Advance(u64),
    Events,
}

/// (status, notification status, subscription status, Retry-After) or a transport failure.
const REPLIES: &[Option<(u16, &str, &str, &str)>] = &[
    Some((200, "Received", "Active", "")),
    Some((200, "Received", "Active", "")),
    Some((200, "QueueFull", "Active", "")),
    Some((200, "Suppressed", "Active", "")),
    Some((200, "Dropped", "Active", "")),
    Some((200, "", "", "")),
    Some((400, "", "", "")),
    Some((401, "", "", "")),
    Some((404, "Dropped", "Expired", "")),
    Some((406, "Dropped", "Active", "")),
    Some((412, "Dropped", "Active", "")),
    Some((503, "", "", "")),
    Some((503, "", "", "120")),
    Some((429, "", "", "")),
    Some((500, "", "", "")),
    None,
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..4usize, any::<bool>()).prop_map(|(channel, tile)| Op::Submit { channel, tile }),
        1 => (0..8usize).prop_map(Op::Cancel),
        3 => Just(Op::Transmit),
        3 => (0..4usize, 0..REPLIES.len()).prop_map(|(nth, reply)| Op::Respond { nth, reply }),
        2 => prop_oneof![0..2 * MIN, 0..2 * HOUR].prop_map(Op::Advance),
        2 => Just(Op::Events),
    ]
}

#[derive(Default)]
struct Model {
    now: Instant,
    submitted: Vec<(Ticket, usize)>,
    finals: HashMap<Ticket, usize>,
    in_flight: Vec<(Ticket, usize)>,
    channel_not_before: [Instant; 4],
    host_not_before: [Instant; 3],
    /// Outages in a row (`docs/protocol.md`, "Retries and backoff").
    host_failures: [u32; 3],
    /// Failures counted per host, never reset.
    host_serial: [u32; 3],
    /// The host's serial when each in-flight ticket was sent: in an outage,
    /// only a failure of a request sent since the last counted one counts.
    serial_at_send: HashMap<Ticket, u32>,
    ticket_not_before: HashMap<Ticket, Instant>,
    queue_full: HashMap<Ticket, u32>,
    sends: [Vec<Instant>; 4],
}

fn reply_response(reply: (u16, &'static str, &'static str, &'static str)) -> Response {
    let (status, n, s, retry) = reply;
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

fn check(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let config = SenderConfig {
        quota: QUOTA as u32,
        quota_window: Duration::from_hours(1),
        max_attempts: 6,
        deadline: Duration::from_hours(6),
        supersede_tiles: true,
        ..SenderConfig::default()
    };
    let mut sender: Sender<Vec<u8>, Q, 4> = Sender::new(config, vec![0; Q * 512]);
    let mut m = Model::default();

    let poll_events =
        |sender: &mut Sender<Vec<u8>, Q, 4>, m: &mut Model| -> Result<(), TestCaseError> {
            while let Some(e) = sender.poll_event() {
                if let Event::Finished { ticket, .. } = e {
                    let n = m.finals.entry(ticket).or_default();
                    *n += 1;
                    prop_assert_eq!(*n, 1, "two final events for {:?}", ticket);
                    prop_assert!(m.submitted.iter().any(|(t, _)| *t == ticket));
                    m.in_flight.retain(|(t, _)| *t != ticket);
                }
            }
            Ok(())
        };

    let transmit =
        |sender: &mut Sender<Vec<u8>, Q, 4>, m: &mut Model| -> Result<bool, TestCaseError> {
            let Some(t) = sender.poll_transmit(m.now) else {
                return Ok(false);
            };
            let channel = CHANNELS
                .iter()
                .position(|c| *c == t.request.channel().as_str())
                .unwrap();
            let ticket = t.ticket;
            prop_assert!(
                !m.in_flight.iter().any(|(_, c)| *c == channel),
                "two in flight on channel {}",
                channel
            );
            prop_assert!(
                m.now >= m.channel_not_before[channel],
                "channel {} paused until {}, sent at {}",
                channel,
                m.channel_not_before[channel],
                m.now
            );
            prop_assert!(m.now >= m.host_not_before[HOSTS[channel]], "host paused");
            if let Some(at) = m.ticket_not_before.get(&ticket) {
                prop_assert!(m.now >= *at, "notification waiting after QueueFull");
            }
            m.in_flight.push((ticket, channel));
            m.serial_at_send
                .insert(ticket, m.host_serial[HOSTS[channel]]);
            m.sends[channel].push(m.now);
            Ok(true)
        };

    for op in ops {
        match op {
            Op::Submit { channel, tile } => {
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
                if let Ok(t) = sender.submit(
                    m.now,
                    ChannelUri::parse(CHANNELS[channel]).unwrap(),
                    &n,
                    &Options::default(),
                ) {
                    m.submitted.push((t, channel));
                }
            }
            Op::Cancel(i) => {
                if let Some((t, _)) = m.submitted.get(i) {
                    let _ = sender.cancel(*t);
                }
            }
            Op::Transmit => {
                transmit(&mut sender, &mut m)?;
            }
            Op::Respond { nth, reply } => {
                if m.in_flight.is_empty() {
                    continue;
                }
                let (ticket, channel) = m.in_flight.remove(nth % m.in_flight.len());
                let host = HOSTS[channel];
                // A host that was up starts an outage; in one, a request sent
                // before its last counted failure fails with it.
                let counts =
                    m.host_failures[host] == 0 || m.serial_at_send[&ticket] == m.host_serial[host];
                let count = |m: &mut Model| {
                    if counts {
                        m.host_failures[host] += 1;
                        m.host_serial[host] += 1;
                    }
                };
                match REPLIES[reply] {
                    None => {
                        sender.handle_transport_error(m.now, ticket).unwrap();
                        count(&mut m);
                        let at =
                            m.now + Duration::from_millis(min_exponential(m.host_failures[host]));
                        m.host_not_before[host] = m.host_not_before[host].max(at);
                    }
                    Some(r) => {
                        sender
                            .handle_response(m.now, ticket, &reply_response(r))
                            .unwrap();
                        let expired = r.2 == "Expired" || r.0 == 404;
                        match r.0 {
                            _ if expired => m.host_failures[host] = 0,
                            406 | 412 => {
                                m.host_failures[host] = 0;
                                m.channel_not_before[channel] = m.channel_not_before[channel]
                                    .max(m.now + Duration::from_millis(HOUR));
                            }
                            503 | 429 | 500 => {
                                count(&mut m);
                                let mut at = m.now
                                    + Duration::from_millis(min_exponential(m.host_failures[host]));
                                if !r.3.is_empty() {
                                    at = at.max(m.now + Duration::from_secs(r.3.parse().unwrap()));
                                }
                                m.host_not_before[host] = m.host_not_before[host].max(at);
                            }
                            200 if r.1 == "QueueFull" => {
                                m.host_failures[host] = 0;
                                let n = m.queue_full.entry(ticket).or_default();
                                *n += 1;
                                m.ticket_not_before.insert(
                                    ticket,
                                    m.now + Duration::from_millis(min_exponential(*n)),
                                );
                            }
                            _ => m.host_failures[host] = 0,
                        }
                    }
                }
            }
            Op::Advance(ms) => {
                m.now = m.now + Duration::from_millis(ms);
                sender.handle_timeout(m.now);
            }
            Op::Events => poll_events(&mut sender, &mut m)?,
        }
        prop_assert!(sender.pending() <= Q);
    }

    // Finish: answer everything with Received and let time pass until nothing is pending.
    for _ in 0..500 {
        for (ticket, _) in std::mem::take(&mut m.in_flight) {
            sender
                .handle_response(
                    m.now,
                    ticket,
                    &reply_response((200, "Received", "Active", "")),
                )
                .unwrap();
        }
        while transmit(&mut sender, &mut m)? {
            let (ticket, _) = m.in_flight.pop().unwrap();
            sender
                .handle_response(
                    m.now,
                    ticket,
                    &reply_response((200, "Received", "Active", "")),
                )
                .unwrap();
        }
        poll_events(&mut sender, &mut m)?;
        if sender.pending() == 0 {
            break;
        }
        let next = sender.poll_timeout();
        prop_assert!(next.is_some(), "pending notifications but no timeout");
        let next = next.unwrap();
        prop_assert!(next > m.now, "timeout {} not after now {}", next, m.now);
        m.now = next;
    }
    prop_assert_eq!(sender.pending(), 0, "livelock");
    let submitted: HashSet<Ticket> = m.submitted.iter().map(|(t, _)| *t).collect();
    prop_assert_eq!(
        submitted.len(),
        m.finals.len(),
        "every ticket ends in exactly one final event"
    );
    for (channel, sends) in m.sends.iter().enumerate().take(3) {
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn invariants_hold_for_any_sequence(ops in proptest::collection::vec(op(), 1..150)) {
        check(ops)?;
    }
}

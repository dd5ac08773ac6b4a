//! The growable sender's records: a sender dropped at any step of a
//! scripted run and rebuilt from what it recorded ends every notification
//! exactly once, as the uninterrupted run does, but for the requests that
//! were on the wire at the crash (reported as in doubt and sent again).

#![cfg(feature = "alloc")]

use std::collections::{BTreeMap, HashMap};

use mpns_proto::sender::{ChannelId, Event, Finished, Record, ReplayError, TransportError};
use mpns_proto::{
    ChannelUri, Duration, GrowableSender, Instant, Notification, Options, Response, SenderConfig,
    Toast,
};

const CHANNELS: [&str; 10] = [
    "http://h0.example/throttledthirdparty/01.00/ok",
    "http://h0.example/throttledthirdparty/01.00/queuefull",
    "http://h1.example/throttledthirdparty/01.00/unavailable",
    "http://h1.example/throttledthirdparty/01.00/expired",
    "http://h2.example/throttledthirdparty/01.00/ratelimited",
    "http://h2.example/throttledthirdparty/01.00/rejected",
    "https://h3.example/unthrottledthirdparty/01.00/transport",
    "http://h0.example/throttledthirdparty/01.00/quota-a",
    "http://h0.example/throttledthirdparty/01.00/quota-b",
    "https://h3.example/unthrottledthirdparty/01.00/ok",
];

fn config() -> SenderConfig {
    SenderConfig {
        max_attempts: 4,
        deadline: Duration::from_hours(6),
        quota: 3,
        quota_window: Duration::from_hours(1),
        seed: 0x5eed,
        ..SenderConfig::default()
    }
}

/// Submissions: (time in seconds, channel index).
fn script() -> Vec<(u64, usize)> {
    let mut subs = Vec::new();
    // Channel 3 expires at its first answer: later submits to it would be refused.
    subs.extend([(0, 3), (0, 3)]);
    for round in 0..4u64 {
        for c in (0..CHANNELS.len()).filter(|&c| c != 3 || round == 0) {
            subs.push((round * 30, c));
        }
    }
    subs.push((200, 7));
    subs.push((200, 8));
    subs
}

/// The emulated MPNS: its answer to `attempt` on channel `c`.
fn answer(c: usize, attempt: u16) -> Result<Response, TransportError> {
    let status = |s: &'static str| {
        move |name: &str| (name == "X-NotificationStatus").then_some(s.as_bytes())
    };
    Ok(match (c, attempt) {
        (1, 1) => Response::from_parts(200, status("QueueFull")),
        (2, 1) => Response::from_parts(503, |_| None),
        (3, _) => Response::from_parts(404, status("Dropped")),
        (4, 1) => Response::from_parts(406, |_| None),
        (5, _) => Response::from_parts(400, |_| None),
        (6, 1 | 2) => return Err(TransportError::Reset),
        _ => Response::from_parts(200, status("Received")),
    })
}

/// What the application keeps of a run: the ends of notifications, as
/// recorded (a driver stores them with the records, so they survive a crash
/// between the record and the event), the final events it heard, the
/// in-doubt reports, the requests the server got.
#[derive(Default)]
struct Seen {
    finals: BTreeMap<u64, Finished>,
    heard: BTreeMap<u64, Finished>,
    in_doubt: Vec<u64>,
    sends: usize,
    /// (channel, ticket, time) of every request the server got.
    wire: Vec<(usize, u64, Instant)>,
}

/// An application that drives the sender and keeps a journal of its records.
struct App {
    sender: GrowableSender,
    journal: Vec<Vec<u8>>,
    /// Submissions made, kept with the journal.
    submitted: usize,
    ids: HashMap<ChannelId, usize>,
    now: Instant,
    next_sub: usize,
    /// Steps left before the process dies (`None`: never).
    left: Option<usize>,
    /// Replace the journal by the sender's state when it grows past this.
    compact_over: Option<usize>,
}

struct Crashed;

impl App {
    fn new(compact_over: Option<usize>) -> App {
        let sender = GrowableSender::new(config(), 16 << 20).recording();
        let ids = CHANNELS
            .iter()
            .enumerate()
            .map(|(i, c)| (sender.channel_id(&ChannelUri::parse(c).unwrap()), i))
            .collect();
        App {
            sender,
            journal: Vec::new(),
            submitted: 0,
            ids,
            now: Instant::ZERO,
            next_sub: 0,
            left: None,
            compact_over,
        }
    }

    /// A new process: a sender rebuilt from the journal, the clock where it was.
    fn restart(&self) -> Result<App, ReplayError> {
        let mut sender = GrowableSender::new(config(), 16 << 20).recording();
        for bytes in &self.journal {
            sender.replay(&Record::decode(bytes)?)?;
        }
        sender.resume(self.now);
        Ok(App {
            sender,
            journal: self.journal.clone(),
            submitted: self.submitted,
            ids: self.ids.clone(),
            now: self.now,
            next_sub: self.submitted,
            left: None,
            compact_over: self.compact_over,
        })
    }

    fn step(&mut self) -> Result<(), Crashed> {
        match &mut self.left {
            Some(0) => Err(Crashed),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Keeps what the sender asks to keep, before acting on anything else.
    fn flush(&mut self, seen: &mut Seen) {
        self.submitted = self.next_sub;
        while let Some(r) = self.sender.poll_record() {
            let mut bytes = vec![0; r.encoded_len()];
            r.encode(&mut bytes).unwrap();
            self.journal.push(bytes);
            if let Some((ticket, result, _)) = r.finished() {
                assert!(
                    seen.finals.insert(ticket.0, result).is_none(),
                    "ticket {} finished twice",
                    ticket.0
                );
            }
        }
        if self.compact_over.is_some_and(|n| self.journal.len() > n) {
            let mut fresh = Vec::new();
            self.sender.state_records(|r| {
                let mut bytes = Vec::new();
                r.encode_to_vec(&mut bytes);
                fresh.push(bytes);
            });
            self.journal = fresh;
        }
    }

    fn events(&mut self, seen: &mut Seen) -> Result<(), Crashed> {
        loop {
            self.step()?;
            let Some(event) = self.sender.poll_event() else {
                return Ok(());
            };
            match event {
                Event::Finished { ticket, result, .. } => {
                    assert_eq!(
                        seen.finals.get(&ticket.0),
                        Some(&result),
                        "an end is recorded before it is told"
                    );
                    assert!(seen.heard.insert(ticket.0, result).is_none());
                }
                Event::InDoubt { ticket, .. } => seen.in_doubt.push(ticket.0),
                // The application deletes the channel, as MPNS asks.
                Event::ChannelExpired { channel } => self.sender.forget_channel(channel),
                _ => {}
            }
        }
    }

    fn run(&mut self, seen: &mut Seen) -> Result<(), Crashed> {
        let subs = script();
        let toast = Notification::Toast(Toast {
            text1: Some("Storm"),
            ..Toast::default()
        });
        loop {
            while self.next_sub < subs.len()
                && Instant::from_secs(subs[self.next_sub].0) <= self.now
            {
                self.step()?;
                let channel = ChannelUri::parse(CHANNELS[subs[self.next_sub].1]).unwrap();
                let result = self
                    .sender
                    .submit(self.now, channel, &toast, &Options::default());
                assert_eq!(
                    result.map(|t| t.0),
                    Ok(self.next_sub as u64 + 1),
                    "tickets follow submissions"
                );
                self.next_sub += 1;
                self.flush(seen);
            }
            self.events(seen)?;
            let mut wire = Vec::new();
            loop {
                self.step()?;
                let Some(t) = self.sender.poll_transmit(self.now) else {
                    break;
                };
                let c = self.ids[&t.channel];
                wire.push((t.ticket, c, t.attempt));
                self.flush(seen);
            }
            for (ticket, c, attempt) in wire {
                self.step()?;
                seen.sends += 1;
                seen.wire.push((c, ticket.0, self.now));
                let r = match answer(c, attempt) {
                    Ok(response) => self.sender.handle_response(self.now, ticket, &response),
                    Err(_) => self.sender.handle_transport_error(self.now, ticket),
                };
                r.unwrap();
                self.flush(seen);
                self.events(seen)?;
            }
            self.flush(seen);
            self.events(seen)?;
            let next_sub = subs.get(self.next_sub).map(|s| Instant::from_secs(s.0));
            let next = [self.sender.poll_timeout(), next_sub]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(at) => self.now = self.now.max(at),
                None if self.sender.pending() == 0 => return Ok(()),
                None => panic!("pending work with nothing to wait for"),
            }
            self.step()?;
            self.sender.handle_timeout(self.now);
            self.flush(seen);
        }
    }
}

fn uninterrupted() -> (Seen, usize) {
    let mut app = App::new(None);
    let mut seen = Seen::default();
    app.left = Some(usize::MAX);
    assert!(app.run(&mut seen).is_ok());
    let steps = usize::MAX - app.left.unwrap();
    (seen, steps)
}

/// Runs with crashes after the given numbers of steps, each time rebuilding from the journal.
fn with_crashes(crashes: &[usize], compact_over: Option<usize>) -> Seen {
    let mut app = App::new(compact_over);
    let mut seen = Seen::default();
    for &after in crashes {
        app.left = Some(after);
        if app.run(&mut seen).is_ok() {
            return seen;
        }
        app = app.restart().expect("the journal replays");
    }
    app.left = None;
    assert!(app.run(&mut seen).is_ok());
    seen
}

/// Time between the first two requests to channel `c`.
fn first_gap(seen: &Seen, c: usize) -> u64 {
    let times: Vec<u64> = seen
        .wire
        .iter()
        .filter(|(ch, _, _)| *ch == c)
        .map(|(_, _, t)| t.as_millis())
        .collect();
    times[1] - times[0]
}

/// The most requests channel `c` got in any hour.
fn busiest_hour(seen: &Seen, c: usize) -> usize {
    let times: Vec<u64> = seen
        .wire
        .iter()
        .filter(|(ch, _, _)| *ch == c)
        .map(|(_, _, t)| t.as_millis())
        .collect();
    times
        .iter()
        .map(|&start| {
            times
                .iter()
                .filter(|&&t| t >= start && t < start + 3_600_000)
                .count()
        })
        .max()
        .unwrap_or(0)
}

fn check(reference: &Seen, run: &Seen, label: &str) {
    // Pauses and quotas hold across the crash: a QueueFull backoff (1), a
    // host's pause after 503 (2), a channel's after 406 (4), and at most
    // 3 requests an hour to an unauthenticated channel (7, 8).
    for c in [1, 2, 4] {
        let resent = run
            .wire
            .iter()
            .any(|(ch, t, _)| *ch == c && run.in_doubt.contains(t));
        if resent {
            continue; // Sent again at once, as documented.
        }
        assert!(
            first_gap(run, c) * 2 >= first_gap(reference, c),
            "{label}: channel {c} waited {} ms, not about {} ms",
            first_gap(run, c),
            first_gap(reference, c)
        );
    }
    for c in [7, 8] {
        assert!(
            busiest_hour(run, c) <= 3,
            "{label}: channel {c} over its quota"
        );
    }
    let n = script().len() as u64;
    let tickets: Vec<u64> = run.finals.keys().copied().collect();
    assert!(
        run.finals.len() - run.heard.len() <= CHANNELS.len() * 2,
        "{label}: few ends recorded but not heard"
    );
    assert_eq!(
        tickets,
        (1..=n).collect::<Vec<_>>(),
        "{label}: every ticket ends once"
    );
    for (ticket, result) in &reference.finals {
        if !run.in_doubt.contains(ticket) {
            assert_eq!(
                &run.finals[ticket], result,
                "{label}: ticket {ticket} ends as without the crash"
            );
        }
    }
}

#[test]
fn the_script_exercises_every_kind_of_state() {
    let (seen, steps) = uninterrupted();
    let names: std::collections::BTreeSet<&str> = seen.finals.values().map(|r| r.name()).collect();
    for name in ["accepted", "channel_expired", "rejected"] {
        assert!(names.contains(name), "{name} in {names:?}");
    }
    assert!(
        seen.sends > script().len() + 5,
        "retries happen: {}",
        seen.sends
    );
    assert!(steps > 100, "{steps} steps");
}

#[test]
fn a_crash_at_any_step_loses_nothing() {
    let (reference, steps) = uninterrupted();
    let mut in_doubt = 0;
    for crash in 0..steps {
        let run = with_crashes(&[crash], None);
        check(&reference, &run, &format!("crash after {crash} steps"));
        assert!(
            run.in_doubt.len() <= CHANNELS.len(),
            "one request per channel"
        );
        in_doubt += run.in_doubt.len();
    }
    assert!(in_doubt > 0, "some crashes hit requests on the wire");
}

#[test]
fn repeated_crashes_with_compaction_lose_nothing() {
    let (reference, steps) = uninterrupted();
    for every in [3, 7, 13, 29] {
        for compact in [None, Some(8), Some(40)] {
            let crashes = vec![every; steps / every + 1];
            let run = with_crashes(&crashes, compact);
            check(
                &reference,
                &run,
                &format!("a crash every {every} steps, compaction over {compact:?} records"),
            );
        }
    }
}

#[test]
fn a_journal_from_another_seed_is_refused() {
    let mut app = App::new(None);
    app.left = Some(40);
    let mut seen = Seen::default();
    assert!(app.run(&mut seen).is_err());
    let mut fresh = Vec::new();
    app.sender
        .state_records(|r| fresh.push(r.encode_to_vec_owned()));
    let mut other = GrowableSender::new(
        SenderConfig {
            seed: 1,
            ..config()
        },
        1 << 20,
    );
    let first = Record::decode(&fresh[0]).unwrap();
    assert_eq!(
        other.replay(&first),
        Err(ReplayError::Settings { setting: "seed" })
    );
    // And a sender already in use takes no records.
    let mut used = GrowableSender::new(config(), 1 << 20);
    used.handle_timeout(Instant::ZERO);
    assert_eq!(used.replay(&first), Err(ReplayError::NotFresh));
}

trait Owned {
    fn encode_to_vec_owned(&self) -> Vec<u8>;
}

impl Owned for Record<'_> {
    fn encode_to_vec_owned(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode_to_vec(&mut v);
        v
    }
}

#[test]
fn every_truncation_and_bit_flip_of_a_record_is_refused_or_harmless() {
    let mut app = App::new(None);
    app.left = Some(200);
    let mut seen = Seen::default();
    let _ = app.run(&mut seen);
    assert!(app.journal.len() > 20);
    for bytes in &app.journal {
        let record = Record::decode(bytes).expect("what was written reads back");
        assert_eq!(&record.encode_to_vec_owned(), bytes, "round trip");
        for cut in 0..bytes.len() {
            let err = Record::decode(&bytes[..cut]).expect_err("a cut record is refused");
            assert!(err.offset <= cut, "{err}");
        }
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            // Either refused with a reason, or a valid record of other values;
            // replaying it into a fresh sender never panics.
            if let Ok(r) = Record::decode(&flipped) {
                let mut s = GrowableSender::new(config(), 1 << 20);
                let _ = s.replay(&r);
                s.resume(Instant::from_secs(10));
                while s.poll_transmit(Instant::from_secs(10)).is_some() {}
                while s.poll_event().is_some() {}
            }
        }
    }
}

/// A notification that ended before its `submitted` record was polled leaves
/// only its `finished` record: its ticket is still never given again.
#[test]
fn a_ticket_that_ended_unrecorded_is_not_given_again() {
    let mut sender = GrowableSender::new(config(), 1 << 20).recording();
    let mut journal = vec![sender.start_record().encode_to_vec_owned()];
    let channel = ChannelUri::parse(CHANNELS[0]).unwrap();
    let toast = Notification::Toast(Toast {
        text1: Some("gone"),
        ..Toast::default()
    });
    let ticket = sender
        .submit(Instant::ZERO, channel, &toast, &Options::default())
        .unwrap();
    sender.cancel(ticket).unwrap();
    while let Some(r) = sender.poll_record() {
        assert!(!r.is_submitted(), "it ended before its record was polled");
        journal.push(r.encode_to_vec_owned());
    }
    let mut again = GrowableSender::new(config(), 1 << 20).recording();
    for bytes in &journal {
        again.replay(&Record::decode(bytes).unwrap()).unwrap();
    }
    again.resume(Instant::ZERO);
    let next = again
        .submit(Instant::ZERO, channel, &toast, &Options::default())
        .unwrap();
    assert!(next.0 > ticket.0, "{next:?} after {ticket:?}");
}

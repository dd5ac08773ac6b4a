//! The fixed sender's records (feature `journal`): a sender dropped at any
//! step of a scripted run and rebuilt from what it recorded ends every
//! notification exactly once, as the uninterrupted run does, but for the
//! requests that were on the wire at the crash (reported as in doubt and
//! sent again). And its records and the growable sender's rebuild each
//! other: a gateway's journal can be read by a server tool.

#![cfg(all(feature = "journal", feature = "alloc"))]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mpns_proto::sender::{
    ChannelId, Event, Finished, Record, ReplayError, Sender, SubmitError, Ticket, TicketError,
    TransportError,
};
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

// ---- both senders behind one interface ----------------------------------------

/// The gateway's sender: 48 notifications of up to 2 KiB, 16 channels.
type Fixed = Sender<Vec<u8>, 48, 16>;

fn fixed() -> Fixed {
    Sender::new(config(), vec![0; 48 * 2048])
}

/// What the tests need of a recording sender.
trait Journaled {
    fn fresh() -> Self;
    fn channel_id(&self, channel: &ChannelUri<'_>) -> ChannelId;
    fn submit(
        &mut self,
        now: Instant,
        channel: ChannelUri<'_>,
        n: &Notification<'_>,
    ) -> Result<Ticket, SubmitError>;
    /// The next request: its ticket, channel, attempt and HTTP bytes.
    fn transmit(&mut self, now: Instant) -> Option<(Ticket, ChannelId, u16, Vec<u8>)>;
    fn respond(&mut self, now: Instant, ticket: Ticket, c: usize, attempt: u16);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_event(&mut self) -> Option<Event>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn pending(&self) -> usize;
    fn forget_channel(&mut self, channel: ChannelId);
    fn cancel(&mut self, ticket: Ticket) -> Result<(), TicketError>;
    fn next_record(&mut self) -> Option<Vec<u8>>;
    fn state(&self) -> Vec<Vec<u8>>;
    fn replay(&mut self, bytes: &[u8]) -> Result<(), ReplayError>;
    fn resume(&mut self, now: Instant);
}

macro_rules! journaled {
    ($ty:ty, $new:expr) => {
        impl Journaled for $ty {
            fn fresh() -> Self {
                $new.recording()
            }
            fn channel_id(&self, channel: &ChannelUri<'_>) -> ChannelId {
                <$ty>::channel_id(self, channel)
            }
            fn submit(
                &mut self,
                now: Instant,
                channel: ChannelUri<'_>,
                n: &Notification<'_>,
            ) -> Result<Ticket, SubmitError> {
                <$ty>::submit(self, now, channel, n, &Options::default())
            }
            fn transmit(&mut self, now: Instant) -> Option<(Ticket, ChannelId, u16, Vec<u8>)> {
                let t = self.poll_transmit(now)?;
                let mut bytes = vec![0; t.request.http_len()];
                t.request.write_http(&mut bytes).unwrap();
                Some((t.ticket, t.channel, t.attempt, bytes))
            }
            fn respond(&mut self, now: Instant, ticket: Ticket, c: usize, attempt: u16) {
                match answer(c, attempt) {
                    Ok(response) => self.handle_response(now, ticket, &response),
                    Err(_) => self.handle_transport_error(now, ticket),
                }
                .unwrap();
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$ty>::handle_timeout(self, now)
            }
            fn poll_event(&mut self) -> Option<Event> {
                <$ty>::poll_event(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$ty>::poll_timeout(self)
            }
            fn pending(&self) -> usize {
                <$ty>::pending(self)
            }
            fn forget_channel(&mut self, channel: ChannelId) {
                <$ty>::forget_channel(self, channel)
            }
            fn cancel(&mut self, ticket: Ticket) -> Result<(), TicketError> {
                <$ty>::cancel(self, ticket).map(|_| ())
            }
            fn next_record(&mut self) -> Option<Vec<u8>> {
                let r = self.poll_record()?;
                let mut bytes = vec![0; r.encoded_len()];
                assert_eq!(r.encode(&mut bytes), Ok(bytes.len()));
                Some(bytes)
            }
            fn state(&self) -> Vec<Vec<u8>> {
                let mut out = Vec::new();
                self.state_records(|r| {
                    let mut bytes = Vec::new();
                    r.encode_to_vec(&mut bytes);
                    out.push(bytes);
                });
                out
            }
            fn replay(&mut self, bytes: &[u8]) -> Result<(), ReplayError> {
                <$ty>::replay(self, &Record::decode(bytes)?)
            }
            fn resume(&mut self, now: Instant) {
                <$ty>::resume(self, now)
            }
        }
    };
}

journaled!(Fixed, fixed());
journaled!(GrowableSender, GrowableSender::new(config(), 16 << 20));

// ---- the application ------------------------------------------------------------

/// What the application keeps of a run: the ends of notifications, as
/// recorded (a driver stores them with the records, so they survive a crash
/// between the record and the event), the final events it heard, the
/// in-doubt reports, the requests the server got.
#[derive(Default, Debug, PartialEq)]
struct Seen {
    finals: BTreeMap<u64, Finished>,
    heard: BTreeMap<u64, Finished>,
    in_doubt: Vec<u64>,
    sends: usize,
    /// (channel, ticket, time) of every request the server got.
    wire: Vec<(usize, u64, Instant)>,
}

/// An application that drives a sender and keeps a journal of its records.
struct App<S> {
    sender: S,
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
    /// Die when this many requests were answered, before the next answer
    /// (`true`, requests on the wire) or after it (`false`). Unlike steps,
    /// answers count alike in both senders (they differ in informational
    /// events and in early wake-ups).
    cut: Option<(usize, bool)>,
}

struct Crashed;

impl<S: Journaled> App<S> {
    fn new(compact_over: Option<usize>) -> App<S> {
        let sender = S::fresh();
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
            cut: None,
        }
    }

    /// A new process: a sender of kind `T` rebuilt from `journal`, the
    /// clock where it was.
    fn restart_from<T: Journaled>(&self, journal: &[Vec<u8>]) -> Result<App<T>, ReplayError> {
        let mut sender = T::fresh();
        for bytes in journal {
            sender.replay(bytes)?;
        }
        sender.resume(self.now);
        Ok(App {
            sender,
            journal: journal.to_vec(),
            submitted: self.submitted,
            ids: self.ids.clone(),
            now: self.now,
            next_sub: self.submitted,
            left: None,
            compact_over: self.compact_over,
            cut: None,
        })
    }

    fn restart(&self) -> Result<App<S>, ReplayError> {
        self.restart_from(&self.journal)
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
        while let Some(bytes) = self.sender.next_record() {
            let r = Record::decode(&bytes).expect("a record reads back");
            if let Some((ticket, result, _)) = r.finished() {
                assert!(
                    seen.finals.insert(ticket.0, result).is_none(),
                    "ticket {} finished twice",
                    ticket.0
                );
            }
            self.journal.push(bytes);
        }
        if self.compact_over.is_some_and(|n| self.journal.len() > n) {
            self.journal = self.sender.state();
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
                let result = self.sender.submit(self.now, channel, &toast);
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
                let Some((ticket, channel, attempt, _)) = self.sender.transmit(self.now) else {
                    break;
                };
                wire.push((ticket, self.ids[&channel], attempt));
                self.flush(seen);
            }
            for (ticket, c, attempt) in wire {
                self.step()?;
                if self.cut == Some((seen.sends, true)) {
                    return Err(Crashed);
                }
                seen.sends += 1;
                seen.wire.push((c, ticket.0, self.now));
                self.sender.respond(self.now, ticket, c, attempt);
                self.flush(seen);
                self.events(seen)?;
                if self.cut == Some((seen.sends, false)) {
                    return Err(Crashed);
                }
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

fn uninterrupted<S: Journaled>() -> (Seen, usize) {
    let mut app = App::<S>::new(None);
    let mut seen = Seen::default();
    app.left = Some(usize::MAX);
    assert!(app.run(&mut seen).is_ok());
    let steps = usize::MAX - app.left.unwrap();
    (seen, steps)
}

/// Runs with crashes after the given numbers of steps, each time rebuilding from the journal.
fn with_crashes(crashes: &[usize], compact_over: Option<usize>) -> Seen {
    let mut app = App::<Fixed>::new(compact_over);
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

/// Times of the requests channel `c` got.
fn times(seen: &Seen, c: usize) -> Vec<u64> {
    seen.wire
        .iter()
        .filter(|(ch, _, _)| *ch == c)
        .map(|(_, _, t)| t.as_millis())
        .collect()
}

/// Time between the first two requests to channel `c`.
fn first_gap(seen: &Seen, c: usize) -> u64 {
    let times = times(seen, c);
    times[1] - times[0]
}

/// The most requests channel `c` got in any hour.
fn busiest_hour(seen: &Seen, c: usize) -> usize {
    let times = times(seen, c);
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

// ---- crashes ----------------------------------------------------------------------

#[test]
fn the_script_exercises_every_kind_of_state() {
    let (seen, steps) = uninterrupted::<Fixed>();
    let names: BTreeSet<&str> = seen.finals.values().map(|r| r.name()).collect();
    for name in ["accepted", "channel_expired", "rejected"] {
        assert!(names.contains(name), "{name} in {names:?}");
    }
    assert!(
        seen.sends > script().len() + 5,
        "retries happen: {}",
        seen.sends
    );
    assert!(steps > 100, "{steps} steps");
    assert_eq!(seen.finals, seen.heard, "every end recorded is told");
}

#[test]
fn the_fixed_and_the_growable_sender_run_the_script_alike() {
    let (fixed, _) = uninterrupted::<Fixed>();
    let (growable, _) = uninterrupted::<GrowableSender>();
    assert_eq!(fixed, growable);
}

#[test]
fn a_crash_at_any_step_loses_nothing() {
    let (reference, steps) = uninterrupted::<Fixed>();
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
    let (reference, steps) = uninterrupted::<Fixed>();
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

// ---- the fixed and the growable sender read each other's records ----------------

/// A request: its ticket, attempt and bytes.
type Send = (Ticket, u16, Vec<u8>);

/// What a rebuilt sender holds: its pending notifications' `submitted` and
/// `progress` records from `state_records`, in ticket order, and the
/// requests it sends first.
fn holdings<S: Journaled>(app: &mut App<S>) -> (Vec<Vec<u8>>, Vec<Send>) {
    let pending = app
        .sender
        .state()
        .into_iter()
        .filter(|bytes| Record::decode(bytes).unwrap().ticket().is_some())
        .collect();
    let mut sends = Vec::new();
    while let Some((ticket, _, attempt, bytes)) = app.sender.transmit(app.now) {
        sends.push((ticket, attempt, bytes));
    }
    (pending, sends)
}

#[test]
fn fixed_and_growable_records_rebuild_each_other() {
    let (reference, _) = uninterrupted::<Fixed>();
    let mut compared = 0;
    for cut in (0..reference.sends).flat_map(|n| [(n, true), (n + 1, false)]) {
        let mut seen_f = Seen::default();
        let mut seen_g = Seen::default();
        let mut f = App::<Fixed>::new(None);
        let mut g = App::<GrowableSender>::new(None);
        f.cut = Some(cut);
        g.cut = Some(cut);
        assert!(f.run(&mut seen_f).is_err() && g.run(&mut seen_g).is_err());
        assert_eq!(seen_f, seen_g, "same inputs");
        assert_eq!((f.now, f.submitted), (g.now, g.submitted), "same inputs");
        let journals = [
            ("fixed's records", f.journal.clone()),
            ("growable's records", g.journal.clone()),
            ("fixed's state", f.sender.state()),
            ("growable's state", g.sender.state()),
        ];
        let mut outcomes = Vec::new();
        for (name, journal) in &journals {
            let into_fixed = f.restart_from::<Fixed>(journal);
            let mut into_fixed = into_fixed.unwrap_or_else(|e| panic!("{name} into fixed: {e}"));
            let into_growable = f.restart_from::<GrowableSender>(journal);
            let mut into_growable =
                into_growable.unwrap_or_else(|e| panic!("{name} into growable: {e}"));
            let label = format!("cut at {cut:?}, {name}");
            let fixed_holds = holdings(&mut into_fixed);
            let growable_holds = holdings(&mut into_growable);
            assert_eq!(
                fixed_holds.0, growable_holds.0,
                "{label}: the same pending notifications"
            );
            assert_eq!(
                fixed_holds.1, growable_holds.1,
                "{label}: the same next requests"
            );
            outcomes.push((label, fixed_holds));
        }
        // Every journal gives the same state (the in-doubt ones are queued
        // again alike).
        for (label, holds) in &outcomes[1..] {
            assert_eq!(holds, &outcomes[0].1, "{label} as {}", outcomes[0].0);
        }
        // And from there on both run as one.
        let mut rest = Vec::new();
        for (_, journal) in &journals[..2] {
            let mut seen = Seen::default();
            let mut a = f.restart_from::<Fixed>(journal).unwrap();
            assert!(a.run(&mut seen).is_ok());
            rest.push(seen);
            let mut seen = Seen::default();
            let mut a = f.restart_from::<GrowableSender>(journal).unwrap();
            assert!(a.run(&mut seen).is_ok());
            rest.push(seen);
        }
        for seen in &rest[1..] {
            assert_eq!(seen, &rest[0], "cut at {cut:?}: the rest of the run");
        }
        compared += 1;
    }
    assert!(compared > 60, "{compared} cuts compared");
}

// ---- replay's refusals --------------------------------------------------------------

/// Records of a growable sender that queued a toast for each of `uris`.
fn records_of(uris: &[&str], text: &str) -> Vec<Vec<u8>> {
    let mut g = GrowableSender::fresh();
    let toast = Notification::Toast(Toast {
        text1: Some(text),
        ..Toast::default()
    });
    for uri in uris {
        Journaled::submit(
            &mut g,
            Instant::ZERO,
            ChannelUri::parse(uri).unwrap(),
            &toast,
        )
        .unwrap();
    }
    std::iter::from_fn(|| g.next_record()).collect()
}

fn replay_all<S: AsRef<[u8]> + AsMut<[u8]>, const Q: usize, const C: usize>(
    sender: &mut Sender<S, Q, C>,
    journal: &[Vec<u8>],
) -> Result<(), ReplayError> {
    journal
        .iter()
        .try_for_each(|bytes| sender.replay(&Record::decode(bytes)?))
}

#[test]
fn records_that_do_not_fit_are_refused_naming_what_is_full() {
    let a = "http://h0.example/throttledthirdparty/01.00/a";
    let b = "http://h0.example/throttledthirdparty/01.00/b";
    let c = "http://h1.example/throttledthirdparty/01.00/c";

    let mut two: Sender<Vec<u8>, 2, 4> = Sender::new(config(), vec![0; 2 * 1024]);
    let err = replay_all(&mut two, &records_of(&[a, a, a], "x"));
    assert_eq!(
        err,
        Err(ReplayError::Full {
            ticket: Some(Ticket(3)),
            what: "notification slots"
        })
    );

    let mut small: Sender<Vec<u8>, 4, 4> = Sender::new(config(), vec![0; 4 * 128]);
    let long = "a longer text than a 128-byte slot holds with its channel URI";
    let err = replay_all(&mut small, &records_of(&[a], long));
    assert_eq!(
        err,
        Err(ReplayError::Full {
            ticket: Some(Ticket(1)),
            what: "arena slot"
        })
    );

    let mut one: Sender<Vec<u8>, 4, 1> = Sender::new(config(), vec![0; 4 * 1024]);
    let err = replay_all(&mut one, &records_of(&[a, b], "x"));
    assert_eq!(
        err,
        Err(ReplayError::Full {
            ticket: Some(Ticket(2)),
            what: "channel table"
        })
    );
    let mut one: Sender<Vec<u8>, 4, 1> = Sender::new(config(), vec![0; 4 * 1024]);
    let err = replay_all(&mut one, &records_of(&[a, c], "x"));
    assert_eq!(
        err,
        Err(ReplayError::Full {
            ticket: Some(Ticket(2)),
            what: "host table"
        })
    );
    let e = err.unwrap_err().to_string();
    assert!(e.contains("ticket 2") && e.contains("host table"), "{e}");

    // A channel recorded on another host than its URI names is a record
    // that lies: refused, not put on either host.
    let mut g = GrowableSender::fresh();
    let toast = Notification::Toast(Toast {
        text1: Some("x"),
        ..Toast::default()
    });
    Journaled::submit(&mut g, Instant::ZERO, ChannelUri::parse(a).unwrap(), &toast).unwrap();
    assert!(g.transmit(Instant::ZERO).is_some());
    let journal: Vec<Vec<u8>> = std::iter::from_fn(|| g.next_record()).collect();
    let channel_record = journal
        .iter()
        .find(|b| b[0] == 5)
        .expect("a channel record");
    let mut lying = channel_record.clone();
    lying[9] ^= 1; // its host key
    let mut four: Sender<Vec<u8>, 4, 4> = Sender::new(config(), vec![0; 4 * 1024]);
    four.replay(&Record::decode(&lying).unwrap()).unwrap();
    let id = four.channel_id(&ChannelUri::parse(a).unwrap());
    let submitted = journal.iter().find(|b| b[0] == 2).unwrap();
    assert_eq!(
        four.replay(&Record::decode(submitted).unwrap()),
        Err(ReplayError::Channel(id))
    );

    // What fits replays whole.
    let mut four: Sender<Vec<u8>, 4, 4> = Sender::new(config(), vec![0; 4 * 1024]);
    replay_all(&mut four, &records_of(&[a, b, c], "x")).unwrap();
    assert_eq!(four.pending(), 3);
}

#[test]
fn a_journal_from_another_seed_is_refused() {
    let mut app = App::<Fixed>::new(None);
    app.left = Some(40);
    let mut seen = Seen::default();
    assert!(app.run(&mut seen).is_err());
    let state = app.sender.state();
    let first = Record::decode(&state[0]).unwrap();
    let mut other: Sender<Vec<u8>, 4, 4> = Sender::new(
        SenderConfig {
            seed: 1,
            ..config()
        },
        vec![0; 4096],
    );
    assert_eq!(
        other.replay(&first),
        Err(ReplayError::Settings { setting: "seed" })
    );
    // And a sender already in use takes no records.
    let mut used: Sender<Vec<u8>, 4, 4> = Sender::new(config(), vec![0; 4096]);
    used.handle_timeout(Instant::ZERO);
    assert_eq!(used.replay(&first), Err(ReplayError::NotFresh));
}

#[test]
fn without_recording_nothing_is_recorded_or_held_back() {
    let mut s: Sender<Vec<u8>, 4, 4> = Sender::new(config(), vec![0; 4096]);
    let channel = ChannelUri::parse(CHANNELS[0]).unwrap();
    let toast = Notification::Toast(Toast {
        text1: Some("x"),
        ..Toast::default()
    });
    let t = s
        .submit(Instant::ZERO, channel, &toast, &Options::default())
        .unwrap();
    assert!(s.poll_record().is_none());
    s.cancel(t).unwrap();
    assert!(matches!(s.poll_event(), Some(Event::Finished { .. })));
}

#[test]
fn a_cancelled_notification_whose_submit_was_not_recorded_keeps_its_ticket() {
    let mut s = Fixed::fresh();
    let channel = ChannelUri::parse(CHANNELS[0]).unwrap();
    let toast = Notification::Toast(Toast {
        text1: Some("x"),
        ..Toast::default()
    });
    let t = Journaled::submit(&mut s, Instant::ZERO, channel, &toast).unwrap();
    Journaled::cancel(&mut s, t).unwrap();
    // Held back until its end is recorded.
    assert_eq!(Journaled::poll_event(&mut s), None);
    let journal: Vec<Vec<u8>> = std::iter::from_fn(|| s.next_record()).collect();
    assert_eq!(journal.len(), 1, "only its end");
    assert_eq!(
        Record::decode(&journal[0]).unwrap().finished(),
        Some((t, Finished::Cancelled, 0))
    );
    assert!(matches!(
        Journaled::poll_event(&mut s),
        Some(Event::Finished { .. })
    ));
    // A sender rebuilt from it does not give the ticket again.
    let mut again = Fixed::fresh();
    for bytes in &journal {
        Journaled::replay(&mut again, bytes).unwrap();
    }
    let next = Journaled::submit(&mut again, Instant::ZERO, channel, &toast).unwrap();
    assert_eq!(next, Ticket(t.0 + 1));
}

/// Everything `s` has to record, as bytes.
fn drain(s: &mut Fixed) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| s.next_record()).collect()
}

fn rebuilt(journal: &[Vec<u8>], config: SenderConfig, now: Instant) -> Fixed {
    let mut s = Sender::new(config, vec![0; 48 * 2048]).recording();
    for bytes in journal {
        s.replay(&Record::decode(bytes).unwrap()).unwrap();
    }
    s.resume(now);
    s
}

#[test]
fn an_expiry_not_reported_before_the_crash_is_reported_after_it() {
    let mut s = Fixed::fresh();
    let channel = ChannelUri::parse(CHANNELS[3]).unwrap();
    let toast = Notification::Toast(Toast {
        text1: Some("x"),
        ..Toast::default()
    });
    let now = Instant::from_secs(5);
    let t = Journaled::submit(&mut s, now, channel, &toast).unwrap();
    assert!(s.transmit(now).is_some());
    s.respond(now, t, 3, 1);
    let journal = drain(&mut s);
    // The process dies before the application hears of it.
    let mut again = rebuilt(&journal, config(), now);
    let id = again.channel_id(&channel);
    assert_eq!(
        again.poll_event(),
        Some(Event::ChannelExpired { channel: id })
    );
    assert!(again.is_expired(&channel));
    // Its `finished` record was kept: the ticket is not told again.
    assert_eq!(again.poll_event(), None);
    // Now told, and recorded as told: not told a third time.
    let told = drain(&mut again);
    assert_eq!(told.len(), 1, "the channel, expiry reported");
    let mut third = rebuilt(&[journal, told].concat(), config(), now);
    assert_eq!(third.poll_event(), None);
}

#[test]
fn a_request_on_the_wire_at_its_last_attempt_gives_up_after_the_crash() {
    let config = SenderConfig {
        max_attempts: 2,
        ..config()
    };
    let mut s = Sender::new(config, vec![0; 48 * 2048]).recording();
    let channel = ChannelUri::parse(CHANNELS[6]).unwrap();
    let toast = Notification::Toast(Toast {
        text1: Some("x"),
        ..Toast::default()
    });
    let t = Journaled::submit(&mut s, Instant::ZERO, channel, &toast).unwrap();
    let mut now = Instant::ZERO;
    for attempt in 1..=2 {
        let (sent, _, n, _) = s.transmit(now).expect("due");
        assert_eq!((sent, n), (t, attempt));
        if attempt == 1 {
            s.respond(now, t, 6, 1); // a transport failure: the host waits
            now = s.poll_timeout().unwrap();
        }
    }
    let journal = drain(&mut s);
    let mut again = rebuilt(&journal, config, now);
    assert_eq!(
        again.poll_event(),
        Some(Event::InDoubt {
            ticket: t,
            attempt: 2
        })
    );
    // Its end waits for its record.
    assert_eq!(again.poll_event(), None);
    let end = drain(&mut again);
    assert_eq!(
        Record::decode(&end[0]).unwrap().finished(),
        Some((
            t,
            Finished::GaveUp {
                last: Some(mpns_proto::RetryReason::Transport)
            },
            2
        ))
    );
    assert!(matches!(
        again.poll_event(),
        Some(Event::Finished { ticket, .. }) if ticket == t
    ));
    assert!(again.poll_transmit(now).is_none(), "not sent a third time");
}

#[test]
fn every_truncation_and_bit_flip_of_a_record_is_refused_or_harmless() {
    let mut app = App::<Fixed>::new(None);
    app.left = Some(200);
    let mut seen = Seen::default();
    let _ = app.run(&mut seen);
    assert!(app.journal.len() > 20);
    let kinds: BTreeSet<u8> = app.journal.iter().map(|b| b[0]).collect();
    assert_eq!(
        kinds.len(),
        5,
        "submitted, progress, finished, channel, host"
    );
    for bytes in &app.journal {
        let record = Record::decode(bytes).expect("what was written reads back");
        let mut again = Vec::new();
        record.encode_to_vec(&mut again);
        assert_eq!(&again, bytes, "round trip");
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
                let mut s: Sender<Vec<u8>, 2, 2> = Sender::new(config(), vec![0; 2 * 512]);
                let _ = s.replay(&r);
                s.resume(Instant::from_secs(10));
                while s.poll_transmit(Instant::from_secs(10)).is_some() {}
                while s.poll_event().is_some() {}
            }
        }
    }
}

// ---- what a gateway writes ----------------------------------------------------------

/// The record sizes `docs/gateway-persistence.md` gives for a typical toast.
#[test]
fn record_sizes_of_a_typical_toast() {
    let uri = "http://db3.notify.live.net/throttledthirdparty/01.00/AAGvdLTQ3E4mTbi0Xt1uHsz7AgAAAAADAQAAAAQUZm52OjIzOEQ2NDJDRkI5MEVFMEQ";
    let toast = Notification::Toast(Toast {
        text1: Some("Motion"),
        text2: Some("Front door"),
        param: Some("/Alarm.xaml?zone=1"),
        ..Toast::default()
    });
    let mut s: Sender<Vec<u8>, 4, 4> = Sender::new(config(), vec![0; 4 * 1024]).recording();
    let channel = ChannelUri::parse(uri).unwrap();
    let t = s
        .submit(Instant::ZERO, channel, &toast, &Options::default())
        .unwrap();
    let mut sizes = Vec::new();
    let mut take = |s: &mut Sender<Vec<u8>, 4, 4>| {
        while let Some(r) = s.poll_record() {
            sizes.push((r.encoded_len(), r.is_submitted(), r.finished().is_some()));
        }
    };
    take(&mut s);
    let request_len = {
        let r = s.poll_transmit(Instant::ZERO).unwrap();
        (uri.len(), r.request.body_len())
    };
    take(&mut s);
    let ok = Response::from_parts(200, |name| {
        (name == "X-NotificationStatus").then_some(b"Received".as_slice())
    });
    s.handle_response(Instant::ZERO, t, &ok).unwrap();
    take(&mut s);
    assert_eq!(request_len, (120, 217));
    // submitted (34 bytes, the channel URI and the body), then at the send
    // the channel (its quota: 35 bytes and 3 per bucket with sends) and the progress (in flight), then finished.
    let lens: Vec<usize> = sizes.iter().map(|s| s.0).collect();
    assert_eq!(lens, [34 + 120 + 217, 38, 16, 13]);
    assert!(sizes[0].1 && sizes[3].2);
}

//! The fixed sender's host table (`docs/protocol.md`, "Retries and
//! backoff"): a host keeps its failures in a row while nothing is sent to it,
//! so its backoff goes on doubling; a full table of failing hosts refuses a
//! new host until a pause is over, and then one gives way. Jitter is off, so
//! every delay is exact.

use mpns_proto::sender::{Cancellation, Event, Finished, SubmitError};
use mpns_proto::{
    ChannelUri, Duration, Instant, Notification, Options, Response, RetryPolicy, RetryReason,
    Sender, SenderConfig, Ticket, Toast,
};

type TestSender = Sender<Vec<u8>, 4, 3>;
const MIN: u64 = 60_000;

fn sender() -> TestSender {
    let config = SenderConfig {
        retry: RetryPolicy {
            jitter_percent: 0,
            ..RetryPolicy::DEFAULT
        },
        ..SenderConfig::default()
    };
    Sender::new(config, vec![0; 4 * 512])
}

fn toast() -> Notification<'static> {
    Notification::Toast(Toast {
        text1: Some("t"),
        ..Toast::default()
    })
}

fn unavailable() -> Response {
    Response::from_parts(503, |_| None)
}

/// Submits to `uri` at `now`, sends it and answers 503; returns the ticket
/// and when the `Retrying` event says it goes again.
fn fail_once(s: &mut TestSender, now: Instant, uri: &str) -> (Ticket, Instant) {
    let ticket = s
        .submit(
            now,
            ChannelUri::parse(uri).unwrap(),
            &toast(),
            &Options::default(),
        )
        .unwrap();
    let sent = s.poll_transmit(now).expect("sent at once").ticket;
    assert_eq!(sent, ticket);
    s.handle_response(now, ticket, &unavailable()).unwrap();
    match s.poll_event() {
        Some(Event::Retrying {
            ticket: t,
            reason: RetryReason::ServiceUnavailable,
            at,
        }) if t == ticket => (ticket, at),
        other => panic!("{other:?}"),
    }
}

/// Cancels a waiting notification and reads its final event.
fn cancel(s: &mut TestSender, ticket: Ticket) {
    assert_eq!(s.cancel(ticket), Ok(Cancellation::Done));
    match s.poll_event() {
        Some(Event::Finished {
            ticket: t,
            result: Finished::Cancelled,
            ..
        }) if t == ticket => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(s.pending(), 0);
}

#[test]
fn a_host_keeps_its_failures_while_nothing_is_sent_to_it() {
    let mut s = sender();
    let uri = "https://a.example/1";
    let t0 = Instant::ZERO;
    let (ticket, at) = fail_once(&mut s, t0, uri);
    assert_eq!(at, t0 + Duration::from_millis(MIN), "first failure: base");
    cancel(&mut s, ticket);

    // Long after the pause, nothing pending: the host still counts one
    // failure, so the next 503 waits twice as long, then four times.
    let t1 = t0 + Duration::from_hours(3);
    let (ticket, at) = fail_once(&mut s, t1, uri);
    assert_eq!(
        at,
        t1 + Duration::from_millis(2 * MIN),
        "second failure in a row"
    );
    cancel(&mut s, ticket);
    let t2 = t1 + Duration::from_hours(3);
    let (ticket, at) = fail_once(&mut s, t2, uri);
    assert_eq!(
        at,
        t2 + Duration::from_millis(4 * MIN),
        "third failure in a row"
    );
    cancel(&mut s, ticket);

    // A final answer resets the count: the next failure waits the base again.
    let t3 = t2 + Duration::from_hours(3);
    let ticket = s
        .submit(
            t3,
            ChannelUri::parse(uri).unwrap(),
            &toast(),
            &Options::default(),
        )
        .unwrap();
    assert_eq!(s.poll_transmit(t3).map(|t| t.ticket), Some(ticket));
    let received = Response::from_parts(200, |name| {
        (name == "X-NotificationStatus").then_some(b"Received".as_slice())
    });
    s.handle_response(t3, ticket, &received).unwrap();
    while s.poll_event().is_some() {}
    let (ticket, at) = fail_once(&mut s, t3, uri);
    assert_eq!(
        at,
        t3 + Duration::from_millis(MIN),
        "the count starts again"
    );
    cancel(&mut s, ticket);
}

#[test]
fn a_full_table_of_paused_hosts_refuses_a_new_host_until_a_pause_ends() {
    let mut s = sender();
    let t0 = Instant::ZERO;
    // Three hosts (the table's size), each failing and paused for a minute,
    // nothing pending on any.
    for uri in [
        "https://a.example/1",
        "https://b.example/2",
        "https://c.example/3",
    ] {
        let (ticket, at) = fail_once(&mut s, t0, uri);
        assert_eq!(at, t0 + Duration::from_millis(MIN));
        cancel(&mut s, ticket);
    }
    let fourth = ChannelUri::parse("https://d.example/4").unwrap();
    // Every host entry is still needed: the new host is refused.
    assert_eq!(
        s.submit(t0, fourth, &toast(), &Options::default()),
        Err(SubmitError::ChannelTableFull)
    );
    // The cancelled channels' entry is idle and reused; each failing host
    // keeps its own.
    assert_eq!(s.table_entries(), (1, 3), "one channel entry, three hosts");
    let almost = t0 + Duration::from_millis(MIN - 1);
    assert_eq!(
        s.submit(almost, fourth, &toast(), &Options::default()),
        Err(SubmitError::ChannelTableFull)
    );
    // Once the pauses are over, a failing host gives way.
    let over = t0 + Duration::from_millis(MIN);
    let ticket = s
        .submit(over, fourth, &toast(), &Options::default())
        .expect("a host whose pause is over gives way");
    assert_eq!(s.poll_transmit(over).map(|t| t.ticket), Some(ticket));
}

//! The blocking stream transports against the emulator of mpns-hyper (and a
//! scripted server for what the emulator never does), through
//! embedded-io-adapters over std's `TcpStream`.

mod common;

use mpns_proto::ExchangeError;
use std::io::Write as _;
use std::net::TcpStream;

use common::{
    Expect, Scripted, StdTcp, first_answer, policy_rows, read_request, received, response,
    serve_all,
};
use embedded_io_adapters::std::FromStd;
use mpns_embedded::blocking::{self, StreamClient};
use mpns_embedded::{Gateway, GatewaySubmitError, Round, SendError};
use mpns_hyper::emulator::{Behaviour, Emulator, EmulatorConfig};
use mpns_proto::sender::{Event, Finished, Sender, SenderConfig, TransportError};
use mpns_proto::{
    AnomalyReason, ChannelUri, ConnectionReuse, Instant, Notification, Options, Outcome, ReadError,
    Request, RetryReason, Toast, classify,
};

type TestGateway<'b> = Gateway<'b, Vec<u8>, StreamClient<StdTcp, 2>, 8, 8>;

fn toast(text: &str) -> Notification<'_> {
    Notification::Toast(Toast {
        text1: Some("Gateway"),
        text2: Some(text),
        ..Toast::default()
    })
}

fn gateway(connector: StdTcp, buf: &mut [u8]) -> TestGateway<'_> {
    let sender = Sender::new(SenderConfig::default(), vec![0u8; 8 * 1024]);
    Gateway::new(sender, StreamClient::new(connector), buf)
}

fn events(gateway: &mut TestGateway<'_>) -> Vec<Event> {
    std::iter::from_fn(|| gateway.poll_event()).collect()
}

/// Polls with a fake clock until nothing is pending; returns every event.
fn run_to_end(gateway: &mut TestGateway<'_>, mut now: Instant) -> (Vec<Event>, Instant) {
    let mut all = Vec::new();
    for _ in 0..50 {
        let round = gateway.poll(now);
        all.extend(events(gateway));
        if gateway.sender().pending() == 0 {
            return (all, now);
        }
        now = round
            .next_timeout
            .expect("something waits on time")
            .max(now);
    }
    panic!("did not finish: {all:?}");
}

fn finished(events: &[Event]) -> Vec<(Finished, u16)> {
    events
        .iter()
        .filter_map(|e| match *e {
            Event::Finished {
                result, attempts, ..
            } => Some((result, attempts)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_policy_row_through_the_gateway() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    for (i, (name, behaviour, expect)) in policy_rows().into_iter().enumerate() {
        let id = format!("row{i}");
        emu.set_behaviour(&id, behaviour);
        let url = emu.channel_url(&id);
        let channel = ChannelUri::parse(&url).unwrap();
        let mut buf = [0u8; 1024];
        let mut gw = gateway(StdTcp::default(), &mut buf);
        gw.submit(Instant::ZERO, channel, &toast(name), &Options::default())
            .unwrap();
        let round = gw.poll(Instant::ZERO);
        let events = events(&mut gw);
        assert_eq!(first_answer(&events), Some(expect), "{name}: {events:?}");
        let transport = expect == Expect::Retry(RetryReason::Transport);
        assert_eq!(
            (round.responses, round.failures),
            if transport { (0, 1) } else { (1, 0) },
            "{name}"
        );
        if expect == Expect::Final(Finished::ChannelExpired) {
            assert!(
                events
                    .iter()
                    .any(|e| matches!(e, Event::ChannelExpired { .. })),
                "{name}: the application is told to delete the channel"
            );
        }
        if let Expect::Retry(_) = expect {
            assert!(
                round.next_timeout.is_some(),
                "{name}: a retry waits on time"
            );
        }
    }
}

#[test]
fn retries_run_to_acceptance_over_the_same_transport() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emu.set_behaviour("full", Behaviour::QueueFull(2));
    emu.set_behaviour("down", Behaviour::Unavailable(1));
    let (full, down) = (emu.channel_url("full"), emu.channel_url("down"));
    let mut buf = [0u8; 1024];
    let connector = StdTcp::default();
    let mut gw = gateway(connector.clone(), &mut buf);
    for url in [&full, &down] {
        let channel = ChannelUri::parse(url).unwrap();
        gw.submit(Instant::ZERO, channel, &toast("retry"), &Options::default())
            .unwrap();
    }
    let (events, end) = run_to_end(&mut gw, Instant::ZERO);
    let done = finished(&events);
    assert_eq!(done.len(), 2, "{events:?}");
    assert!(done.iter().all(|(r, _)| r.is_accepted()), "{events:?}");
    let attempts: u16 = done.iter().map(|(_, a)| a).sum();
    assert_eq!(attempts, 5, "2 QueueFull + 1 unavailable + 2 accepted");
    assert!(
        end >= Instant::from_secs(48),
        "backed off about a minute at least"
    );
    assert_eq!(emu.accepted().len(), 2);
    assert_eq!(connector.count(), 1, "one kept connection for the host");
}

#[test]
fn one_connection_carries_many_notifications() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    let urls: Vec<String> = (0..4).map(|i| emu.channel_url(&format!("ka{i}"))).collect();
    let connector = StdTcp::default();
    let mut buf = [0u8; 1024];
    let mut gw = gateway(connector.clone(), &mut buf);
    let mut now = Instant::ZERO;
    let mut accepted = 0;
    for round in 0..6 {
        for url in &urls {
            let text = format!("note {round}");
            let channel = ChannelUri::parse(url).unwrap();
            gw.submit(now, channel, &toast(&text), &Options::default())
                .unwrap();
        }
        let Round { responses, .. } = gw.poll(now);
        assert_eq!(responses, 4);
        accepted += finished(&events(&mut gw))
            .iter()
            .filter(|(r, _)| r.is_accepted())
            .count();
        now = now + mpns_proto::Duration::from_secs(1);
    }
    assert_eq!(accepted, 24);
    assert_eq!(connector.count(), 1);
    assert_eq!(emu.stats().connections, 1);
    assert_eq!(emu.accepted().len(), 24);
    assert_eq!(gw.transport().open_connections(), 1);
}

#[test]
fn one_byte_reads_and_short_writes() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emu.set_behaviour("q", Behaviour::QueueFull(1));
    let connector = StdTcp::trickle(1, 7);
    let mut client: StreamClient<_, 1> = StreamClient::new(connector.clone());
    let mut buf = [0u8; 1024];
    for (id, want) in [
        (
            "a",
            Outcome::Accepted {
                device: Some(mpns_proto::DeviceStatus::Connected),
            },
        ),
        ("q", classify_queue_full()),
        (
            "q",
            Outcome::Accepted {
                device: Some(mpns_proto::DeviceStatus::Connected),
            },
        ),
    ] {
        let url = emu.channel_url(id);
        let channel = ChannelUri::parse(&url).unwrap();
        let note = toast("one byte at a time");
        let request = Request::notification(channel, &note, &Options::default()).unwrap();
        let response = client.send(&request, &mut buf).unwrap();
        assert_eq!(classify(&response.response), want);
        assert_eq!(response.connection, ConnectionReuse::KeepAlive);
    }
    assert_eq!(connector.count(), 1);
    assert_eq!(emu.stats().connections, 1);
}

fn classify_queue_full() -> Outcome {
    let r = mpns_proto::Response::from_parts(200, |n| {
        (n == "X-NotificationStatus").then_some(b"QueueFull".as_slice())
    });
    classify(&r)
}

#[test]
fn one_shot_send_on_a_caller_stream() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emu.set_behaviour("gone", Behaviour::Expired);
    let mut stream = FromStd::new(TcpStream::connect(emu.http_addr()).unwrap());
    let mut buf = [0u8; 768];
    for (id, want) in [
        ("live", "accepted"),
        ("gone", "expired"),
        ("live", "accepted"),
    ] {
        let url = emu.channel_url(id);
        let channel = ChannelUri::parse(&url).unwrap();
        let note = toast("one shot");
        let request = Request::notification(channel, &note, &Options::default()).unwrap();
        let response = blocking::send(&mut stream, &request, &mut buf).unwrap();
        assert_eq!(classify(&response.response).name(), want);
        assert_eq!(response.connection, ConnectionReuse::KeepAlive);
    }
    assert_eq!(emu.stats().connections, 1);
    let recorded = emu.accepted();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].channel_id, "live");
}

#[test]
fn server_closing_idle_connections_is_retried_on_a_new_one() {
    // Answers one request per connection, then closes without saying so,
    // and tells the test it has closed.
    let (closed, closes) = std::sync::mpsc::channel();
    let server = Scripted::spawn(move |_, mut stream| {
        if read_request(&mut stream).is_some() {
            let _ = stream.write_all(&received());
        }
        drop(stream);
        let _ = closed.send(());
    });
    let connector = StdTcp::default();
    let mut buf = [0u8; 1024];
    let mut gw = gateway(connector.clone(), &mut buf);
    let url = server.channel_url("c");
    for i in 0..5 {
        let now = Instant::from_secs(i);
        let channel = ChannelUri::parse(&url).unwrap();
        gw.submit(now, channel, &toast("again"), &Options::default())
            .unwrap();
        let round = gw.poll(now);
        assert_eq!((round.responses, round.failures), (1, 0), "request {i}");
        let done = finished(&events(&mut gw));
        assert_eq!(done.len(), 1);
        assert!(done[0].0.is_accepted());
        assert_eq!(done[0].1, 1, "one attempt as far as the sender knows");
        // The server has closed this connection before the next request.
        closes
            .recv_timeout(common::TIMEOUT)
            .expect("the server closes");
    }
    assert_eq!(server.connections(), 5);
    assert_eq!(connector.count(), 5);
}

#[test]
fn connection_close_and_http10_and_eof_bodies_reconnect() {
    let server = Scripted::spawn(|index, mut stream| {
        let Some(_) = read_request(&mut stream) else {
            return;
        };
        let bytes: &[u8] = match index % 3 {
            0 => b"HTTP/1.1 200 OK\r\nConnection: close\r\nX-NotificationStatus: Received\r\nContent-Length: 0\r\n\r\n",
            1 => b"HTTP/1.0 200 OK\r\nX-NotificationStatus: Received\r\nContent-Length: 0\r\n\r\n",
            _ => b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\n\r\nbody until close",
        };
        let _ = stream.write_all(bytes);
        // Closing is the server's side of the deal.
    });
    let connector = StdTcp::trickle(5, 0);
    let mut client: StreamClient<_, 2> = StreamClient::new(connector.clone());
    let mut buf = [0u8; 1024];
    let url = server.channel_url("c");
    for _ in 0..6 {
        let channel = ChannelUri::parse(&url).unwrap();
        let note = toast("close");
        let request = Request::notification(channel, &note, &Options::default()).unwrap();
        let response = client.send(&request, &mut buf).unwrap();
        assert_eq!(response.connection, ConnectionReuse::Close);
        assert!(classify(&response.response).is_final());
        assert_eq!(client.open_connections(), 0);
    }
    assert_eq!(connector.count(), 6);
}

#[test]
fn responses_with_bodies_keep_the_connection() {
    let server = Scripted::spawn(|_, stream| {
        serve_all(stream, |_| {
            b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n".to_vec()
        })
    });
    let connector = StdTcp::trickle(3, 0);
    let mut client: StreamClient<_, 2> = StreamClient::new(connector.clone());
    let mut buf = [0u8; 512];
    let url = server.channel_url("c");
    for _ in 0..3 {
        let channel = ChannelUri::parse(&url).unwrap();
        let note = toast("chunked");
        let request = Request::notification(channel, &note, &Options::default()).unwrap();
        let response = client.send(&request, &mut buf).unwrap();
        assert_eq!(response.connection, ConnectionReuse::KeepAlive);
        assert_eq!(response.body_len, 5);
    }
    assert_eq!(connector.count(), 1);
}

#[test]
fn rows_the_emulator_cannot_answer() {
    // (answer, expected first result, least wait before the retry in seconds)
    let rows: Vec<(Vec<u8>, Expect, u64)> = vec![
        (
            response(
                "200 OK",
                &[
                    ("X-NotificationStatus", "Received"),
                    ("X-SubscriptionStatus", "Expired"),
                ],
            ),
            Expect::Final(Finished::ChannelExpired),
            0,
        ),
        (
            response("200 OK", &[("X-NotificationStatus", "Delivered")]),
            Expect::Final(Finished::Anomaly {
                reason: AnomalyReason::UnknownNotificationStatus,
                status: 200,
            }),
            0,
        ),
        (
            response(
                "412 Precondition Failed",
                &[
                    ("X-NotificationStatus", "Dropped"),
                    ("X-DeviceConnectionStatus", "Inactive"),
                ],
            ),
            Expect::Retry(RetryReason::DeviceInactive),
            3600,
        ),
        (
            response("503 Service Unavailable", &[("Retry-After", "7200")]),
            Expect::Retry(RetryReason::ServiceUnavailable),
            7200,
        ),
    ];
    for (answer, expect, wait_s) in rows {
        let answer = std::sync::Arc::new(answer);
        let served = std::sync::Arc::clone(&answer);
        let server = Scripted::spawn(move |_, stream| serve_all(stream, |_| served.to_vec()));
        let mut buf = [0u8; 1024];
        let mut gw = gateway(StdTcp::default(), &mut buf);
        let url = server.channel_url("x");
        let channel = ChannelUri::parse(&url).unwrap();
        gw.submit(Instant::ZERO, channel, &toast("row"), &Options::default())
            .unwrap();
        let round = gw.poll(Instant::ZERO);
        let events = events(&mut gw);
        assert_eq!(first_answer(&events), Some(expect), "{events:?}");
        if wait_s > 0 {
            let at = round.next_timeout.unwrap();
            assert!(at >= Instant::from_secs(wait_s), "{expect:?} waits {at:?}");
        }
    }
}

#[test]
fn message_id_mismatch_is_reported() {
    let server = Scripted::spawn(|_, stream| {
        serve_all(stream, |_| {
            response(
                "200 OK",
                &[
                    ("X-NotificationStatus", "Received"),
                    ("X-MessageID", "11111111-2222-3333-4444-555555555555"),
                ],
            )
        })
    });
    let mut buf = [0u8; 1024];
    let mut gw = gateway(StdTcp::default(), &mut buf);
    let url = server.channel_url("m");
    let channel = ChannelUri::parse(&url).unwrap();
    let options = Options {
        message_id: Some(
            mpns_proto::MessageId::parse("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee").unwrap(),
        ),
        ..Options::default()
    };
    gw.submit(Instant::ZERO, channel, &toast("id"), &options)
        .unwrap();
    gw.poll(Instant::ZERO);
    let events = events(&mut gw);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::MessageIdMismatch { .. })),
        "{events:?}"
    );
}

#[test]
fn transport_failures_reach_the_sender() {
    // Refused: nothing listens on the port of a dropped listener.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/throttledthirdparty/01.00/x");
    let connector = StdTcp::default();
    let mut client: StreamClient<_, 1> = StreamClient::new(connector.clone());
    let mut buf = [0u8; 1024];
    let channel = ChannelUri::parse(&url).unwrap();
    let note = toast("nobody");
    let request = Request::notification(channel, &note, &Options::default()).unwrap();
    let err = client.send(&request, &mut buf).unwrap_err();
    assert_eq!(err, SendError::Connect(TransportError::Refused));

    // Closed before any response on a fresh connection: not retried, reset.
    let server = Scripted::spawn(|_, mut stream| {
        let _ = read_request(&mut stream);
    });
    let url = server.channel_url("x");
    let channel = ChannelUri::parse(&url).unwrap();
    let request = Request::notification(channel, &note, &Options::default()).unwrap();
    let err = client.send(&request, &mut buf).unwrap_err();
    assert_eq!(err, SendError::Exchange(ExchangeError::Closed));
    assert_eq!(err.transport_error(), TransportError::Reset);
    assert_eq!(server.connections(), 1, "a fresh connection is not retried");

    // Truncated mid-head.
    let server = Scripted::spawn(|_, mut stream| {
        let _ = read_request(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nX-Notif");
    });
    let url = server.channel_url("x");
    let channel = ChannelUri::parse(&url).unwrap();
    let request = Request::notification(channel, &note, &Options::default()).unwrap();
    assert_eq!(
        client.send(&request, &mut buf),
        Err(SendError::Exchange(ExchangeError::Closed))
    );

    // Not HTTP.
    let server = Scripted::spawn(|_, mut stream| {
        let _ = read_request(&mut stream);
        let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n");
    });
    let url = server.channel_url("x");
    let channel = ChannelUri::parse(&url).unwrap();
    let request = Request::notification(channel, &note, &Options::default()).unwrap();
    let err = client.send(&request, &mut buf).unwrap_err();
    assert!(
        matches!(
            err,
            SendError::Exchange(ExchangeError::Response(ReadError::Malformed(_)))
        ),
        "{err:?}"
    );
    assert_eq!(err.transport_error(), TransportError::Protocol);
    assert_eq!(client.open_connections(), 0);
}

#[test]
fn buffers_too_small_are_refused_before_any_io() {
    let server = Scripted::spawn(|_, stream| serve_all(stream, |_| received()));
    let url = server.channel_url("b");
    let note = toast("a toast whose request does not fit in sixty-four bytes");

    let mut small = [0u8; 64];
    let mut gw = gateway(StdTcp::default(), &mut small);
    let channel = ChannelUri::parse(&url).unwrap();
    let err = gw
        .submit(Instant::ZERO, channel, &note, &Options::default())
        .unwrap_err();
    assert!(
        matches!(err, GatewaySubmitError::BufferTooSmall { len: 64, .. }),
        "{err:?}"
    );
    assert_eq!(gw.sender().pending(), 0);

    let channel = ChannelUri::parse(&url).unwrap();
    let request = Request::notification(channel, &note, &Options::default()).unwrap();
    let mut client: StreamClient<_, 1> = StreamClient::new(StdTcp::default());
    assert_eq!(
        client.send(&request, &mut small),
        Err(SendError::Exchange(ExchangeError::BufferTooSmall {
            needed: request.http_len()
        }))
    );
    assert_eq!(server.connections(), 0);

    // Room for the request but not for a long response head.
    let long = Scripted::spawn(|_, stream| {
        serve_all(stream, |_| {
            let padding = "x".repeat(600);
            response(
                "200 OK",
                &[
                    ("X-NotificationStatus", "Received"),
                    ("X-Padding", &padding),
                ],
            )
        })
    });
    let url = long.channel_url("b");
    let channel = ChannelUri::parse(&url).unwrap();
    let request = Request::notification(channel, &note, &Options::default()).unwrap();
    let mut buf = vec![0u8; request.http_len() + 8];
    let err = client.send(&request, &mut buf).unwrap_err();
    assert!(
        matches!(
            err,
            SendError::Exchange(ExchangeError::Response(ReadError::HeadTooLarge { .. }))
        ),
        "{err:?}"
    );
}

#[test]
fn hosts_get_their_own_connections_and_the_oldest_is_closed() {
    let emus: Vec<Emulator> = (0..3)
        .map(|_| Emulator::spawn(EmulatorConfig::default()).unwrap())
        .collect();
    let connector = StdTcp::default();
    let mut client: StreamClient<_, 2> = StreamClient::new(connector.clone());
    let mut buf = [0u8; 1024];
    // a, b, a, b (2 connections), c (evicts a), a (reconnects).
    for i in [0, 1, 0, 1, 2, 0] {
        let url = emus[i].channel_url("h");
        let channel = ChannelUri::parse(&url).unwrap();
        let note = toast("hosts");
        let request = Request::notification(channel, &note, &Options::default()).unwrap();
        let response = client.send(&request, &mut buf).unwrap();
        assert!(classify(&response.response).is_final());
        assert!(client.open_connections() <= 2);
    }
    assert_eq!(connector.count(), 4);
    let per_host: Vec<u64> = emus.iter().map(|e| e.stats().connections).collect();
    assert_eq!(per_host, [2, 1, 1]);
}

#[test]
fn a_request_submitted_around_the_gateway_that_does_not_fit_ends_cancelled() {
    let server = Scripted::spawn(|_, stream| serve_all(stream, |_| received()));
    let url = server.channel_url("b");
    let mut small = [0u8; 128];
    let mut gw = gateway(StdTcp::default(), &mut small);
    let channel = ChannelUri::parse(&url).unwrap();
    let ticket = gw
        .sender_mut()
        .submit(
            Instant::ZERO,
            channel,
            &toast("too big"),
            &Options::default(),
        )
        .unwrap();
    let round = gw.poll(Instant::ZERO);
    assert_eq!((round.responses, round.failures), (0, 1));
    let events = events(&mut gw);
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Finished { ticket: t, result: Finished::Cancelled, attempts: 1 } if *t == ticket
        )),
        "{events:?}"
    );
    assert_eq!(server.connections(), 0, "nothing was sent");
}

#[allow(dead_code)]
#[path = "../examples/tcp_blocking.rs"]
mod tcp_blocking_example;

/// `examples/tcp_blocking.rs` against the emulator: a toast arrives, and an
/// expired channel is the `Expired` outcome.
#[test]
fn the_tcp_blocking_example_sends_to_the_emulator() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emu.set_behaviour("GONE", Behaviour::Expired);
    let (status, outcome) = tcp_blocking_example::send_alert(&emu.channel_url("GATE")).unwrap();
    assert_eq!(status, 200);
    assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
    let got = emu.accepted();
    assert_eq!(got.len(), 1);
    assert!(format!("{:?}", got[0].parsed).contains("Door opened"));
    let (status, outcome) = tcp_blocking_example::send_alert(&emu.channel_url("GONE")).unwrap();
    assert_eq!((status, outcome), (404, Outcome::Expired));
}

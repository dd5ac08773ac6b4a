//! The async stream transports against the emulator of mpns-hyper, through
//! embedded-io-adapters over tokio's `TcpStream`.

mod common;

use mpns_proto::ExchangeError;
use std::io::Write as _;
use std::time::Duration as StdDuration;

use common::{Expect, Scripted, TokioTcp, first_answer, policy_rows, read_request, received};
use embedded_io_adapters::tokio_1::FromTokio;
use mpns_embedded::asynch::{self, StreamClient};
use mpns_embedded::{Gateway, SendError};
use mpns_hyper::emulator::{Behaviour, Emulator, EmulatorConfig};
use mpns_proto::sender::{Event, Finished, Sender, SenderConfig};
use mpns_proto::{
    ChannelUri, ConnectionReuse, Instant, Notification, Options, Request, RetryReason, Toast,
    classify,
};

type TestGateway<'b> = Gateway<'b, Vec<u8>, StreamClient<TokioTcp, 2>, 8, 8>;

fn toast(text: &str) -> Notification<'_> {
    Notification::Toast(Toast {
        text1: Some("Async"),
        text2: Some(text),
        ..Toast::default()
    })
}

fn gateway(connector: TokioTcp, buf: &mut [u8]) -> TestGateway<'_> {
    let sender = Sender::new(SenderConfig::default(), vec![0u8; 8 * 1024]);
    Gateway::new(sender, StreamClient::new(connector), buf)
}

fn events(gateway: &mut TestGateway<'_>) -> Vec<Event> {
    std::iter::from_fn(|| gateway.poll_event()).collect()
}

#[tokio::test]
async fn every_policy_row_through_the_async_gateway() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    for (i, (name, behaviour, expect)) in policy_rows().into_iter().enumerate() {
        let id = format!("row{i}");
        emu.set_behaviour(&id, behaviour);
        let url = emu.channel_url(&id);
        let channel = ChannelUri::parse(&url).unwrap();
        let mut buf = [0u8; 1024];
        let mut gw = gateway(TokioTcp::default(), &mut buf);
        gw.submit(Instant::ZERO, channel, &toast(name), &Options::default())
            .unwrap();
        let round = gw.poll_async(Instant::ZERO).await;
        let events = events(&mut gw);
        assert_eq!(first_answer(&events), Some(expect), "{name}: {events:?}");
        let transport = expect == Expect::Retry(RetryReason::Transport);
        assert_eq!(round.failures, u16::from(transport), "{name}");
        gw.transport().close_all().await;
    }
}

#[tokio::test]
async fn one_connection_carries_many_notifications_read_one_byte_at_a_time() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emu.set_behaviour("full", Behaviour::QueueFull(1));
    let connector = TokioTcp {
        read_max: 1,
        write_max: 5,
        ..TokioTcp::default()
    };
    let mut buf = [0u8; 1024];
    let mut gw = gateway(connector.clone(), &mut buf);
    let urls: Vec<String> = ["a", "b", "full", "c"]
        .iter()
        .map(|id| emu.channel_url(id))
        .collect();
    for round in 0..3 {
        for url in &urls {
            let text = format!("round {round}");
            let channel = ChannelUri::parse(url).unwrap();
            gw.submit(Instant::ZERO, channel, &toast(&text), &Options::default())
                .unwrap();
        }
        let mut now = Instant::ZERO;
        let mut done = 0;
        for _ in 0..10 {
            let round = gw.poll_async(now).await;
            done += events(&mut gw)
                .iter()
                .filter(|e| {
                    matches!(
                        e,
                        Event::Finished {
                            result: Finished::Accepted { .. },
                            ..
                        }
                    )
                })
                .count();
            if gw.sender().pending() == 0 {
                break;
            }
            now = round.next_timeout.unwrap();
        }
        assert_eq!(done, 4);
    }
    assert_eq!(emu.accepted().len(), 12);
    assert_eq!(connector.count(), 1);
    assert_eq!(emu.stats().connections, 1);
}

#[tokio::test]
async fn one_shot_send_on_a_tokio_stream() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emu.set_behaviour("dropped", Behaviour::Dropped);
    let stream = tokio::net::TcpStream::connect(emu.http_addr())
        .await
        .unwrap();
    let mut stream = FromTokio::new(stream);
    let mut buf = [0u8; 512];
    for (id, want) in [("x", "accepted"), ("dropped", "dropped"), ("y", "accepted")] {
        let url = emu.channel_url(id);
        let channel = ChannelUri::parse(&url).unwrap();
        let note = toast("one shot");
        let request = Request::notification(channel, &note, &Options::default()).unwrap();
        let response = asynch::send(&mut stream, &request, &mut buf).await.unwrap();
        assert_eq!(classify(&response.response).name(), want);
        assert_eq!(response.connection, ConnectionReuse::KeepAlive);
    }
    assert_eq!(emu.stats().connections, 1);
}

#[tokio::test]
async fn server_closing_between_requests() {
    // Closes after each answer, and tells the test it has closed.
    let (closed, mut closes) = tokio::sync::mpsc::unbounded_channel();
    let server = Scripted::spawn(move |_, mut stream| {
        if read_request(&mut stream).is_some() {
            let _ = stream.write_all(&received());
        }
        drop(stream);
        let _ = closed.send(());
    });
    let connector = TokioTcp::default();
    let mut client: StreamClient<_, 1> = StreamClient::new(connector.clone());
    let mut buf = [0u8; 1024];
    let url = server.channel_url("c");
    for _ in 0..4 {
        let channel = ChannelUri::parse(&url).unwrap();
        let note = toast("again");
        let request = Request::notification(channel, &note, &Options::default()).unwrap();
        let response = client.send(&request, &mut buf).await.unwrap();
        assert!(classify(&response.response).is_final());
        // The server has closed this connection before the next request.
        closes.recv().await.expect("the server closes");
    }
    assert_eq!(connector.count(), 4);
    assert_eq!(server.connections(), 4);

    // A fresh connection that closes without answering is not retried.
    let silent = Scripted::spawn(|_, mut stream| {
        let _ = read_request(&mut stream);
    });
    let url = silent.channel_url("c");
    let channel = ChannelUri::parse(&url).unwrap();
    let note = toast("nobody answers");
    let request = Request::notification(channel, &note, &Options::default()).unwrap();
    assert_eq!(
        client.send(&request, &mut buf).await,
        Err(SendError::Exchange(ExchangeError::Closed))
    );
    assert_eq!(silent.connections(), 1);
}

#[tokio::test]
async fn a_cancelled_poll_is_reported_as_a_timeout() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emu.set_behaviour("slow", Behaviour::Slow(StdDuration::from_millis(500)));
    let mut buf = [0u8; 1024];
    let connector = TokioTcp::default();
    let mut gw = gateway(connector.clone(), &mut buf);
    let url = emu.channel_url("slow");
    let channel = ChannelUri::parse(&url).unwrap();
    let ticket = gw
        .submit(Instant::ZERO, channel, &toast("slow"), &Options::default())
        .unwrap();
    let cancelled =
        tokio::time::timeout(StdDuration::from_millis(50), gw.poll_async(Instant::ZERO)).await;
    assert!(cancelled.is_err(), "the server takes 500 ms");
    assert!(events(&mut gw).is_empty());
    assert_eq!(
        gw.transport().open_connections(),
        0,
        "the half-done connection is gone"
    );

    let round = gw.poll_async(Instant::from_secs(1)).await;
    assert_eq!((round.responses, round.failures), (0, 1));
    let events = events(&mut gw);
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Retrying { ticket: t, reason: RetryReason::Transport, .. } if *t == ticket
        )),
        "{events:?}"
    );
    // The retry goes out on a new connection once the host's pause is over.
    let next = round.next_timeout.unwrap();
    let round = gw.poll_async(next).await;
    assert_eq!(round.responses, 1);
    assert_eq!(connector.count(), 2);
}

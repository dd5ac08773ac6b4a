//! The driver at a server's scale, over loopback against the real emulator:
//! 20,000 distinct channels (scaled down from a million; the full size is in
//! benches/README.md), with inactive, queue-full, expired and slow ones
//! mixed in, and a memory budget small enough that submitting waits on it.
//! Every notification ends exactly once, with the outcome its channel's
//! behaviour gives, and nothing valid is refused.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use mpns_hyper::client::{Client, ClientConfig};
use mpns_hyper::driver::{Driver, DriverConfig};
use mpns_hyper::emulator::{Behaviour, Emulator, EmulatorConfig};
use mpns_proto::sender::{Event, Finished};
use mpns_proto::{Duration, Notification, Options, RetryPolicy, RetryReason, SenderConfig, Toast};

const N: usize = 20_000;

/// The channel id of notification `i`: its prefix chooses its behaviour.
fn id(i: usize) -> String {
    match i % 100 {
        1 | 51 => format!("inact-{i}"),
        2 => format!("qf-{i}"),
        3 => format!("gone-{i}"),
        _ if i % 500 == 4 => format!("slow-{i}"),
        _ => format!("c{i}"),
    }
}

fn expected(id: &str) -> Finished {
    if id.starts_with("inact-") {
        Finished::GaveUp {
            last: Some(RetryReason::DeviceInactive),
        }
    } else if id.starts_with("gone-") {
        Finished::ChannelExpired
    } else {
        Finished::Accepted {
            device: Some(mpns_proto::DeviceStatus::Connected),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_channels_each_end_once_and_slow_ones_block_nothing() {
    let emulator = Emulator::spawn(EmulatorConfig {
        record_limit: 0,
        ..EmulatorConfig::default()
    })
    .unwrap();
    emulator.set_behaviour_prefix("inact-", Behaviour::Inactive);
    emulator.set_behaviour_prefix("qf-", Behaviour::QueueFull(1));
    emulator.set_behaviour_prefix("gone-", Behaviour::Expired);
    emulator.set_behaviour_prefix("slow-", Behaviour::Slow(StdDuration::from_millis(400)));
    let config = DriverConfig {
        sender: SenderConfig {
            // MPNS's shape, in milliseconds.
            retry: RetryPolicy {
                base: Duration::from_millis(20),
                cap: Duration::from_millis(160),
                channel_pause: Duration::from_millis(100),
                jitter_percent: 20,
            },
            max_attempts: 3,
            deadline: Duration::from_secs(120),
            ..SenderConfig::default()
        },
        max_in_flight: 32,
        // About a thousand toasts: submitting waits on it many times.
        memory_budget: 512 << 10,
    };
    let client = Client::new(ClientConfig::default()).unwrap();
    let (handle, mut events) = Driver::start(client, config);
    let collector = tokio::spawn(async move {
        let mut finals = HashMap::new();
        let mut expiries = 0;
        while let Some(event) = events.recv().await {
            match event {
                Event::Finished { ticket, result, .. } => {
                    assert!(finals.insert(ticket, result).is_none(), "{ticket:?} twice");
                }
                Event::ChannelExpired { .. } => expiries += 1,
                _ => {}
            }
        }
        (finals, expiries)
    });
    let toast = Notification::Toast(Toast {
        text1: Some("Alert"),
        ..Toast::default()
    });
    let mut tickets = Vec::with_capacity(N);
    let mut peak = 0;
    for i in 0..N {
        let channel = emulator.channel_url(&id(i));
        let ticket = handle
            .submit_wait(&channel, &toast, &Options::default())
            .await
            .expect("a valid notification is never refused");
        tickets.push(ticket);
        peak = peak.max(handle.stats().memory_used);
    }
    assert!(peak <= 512 << 10, "the budget held: {peak}");
    drop(handle);
    let (finals, expiries) = tokio::time::timeout(StdDuration::from_secs(600), collector)
        .await
        .expect("every notification finished (livelock guard)")
        .unwrap();
    assert_eq!(finals.len(), N, "one final event each");
    let mut counts: HashMap<&'static str, usize> = HashMap::new();
    for (i, ticket) in tickets.iter().enumerate() {
        let id = id(i);
        assert_eq!(finals[ticket], expected(&id), "{id}");
        *counts.entry(finals[ticket].name()).or_default() += 1;
    }
    let gone = (0..N).filter(|i| i % 100 == 3).count();
    assert_eq!(expiries, gone);
    assert_eq!(
        emulator.stats().accepted,
        counts["accepted"] as u64,
        "accepted by the sender = accepted by the emulator"
    );
}

/// An expired channel stays remembered (its submits refused) until the
/// application forgets it; then it takes nothing.
#[tokio::test]
async fn an_expired_channel_is_kept_until_forgotten() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emulator.set_behaviour("gone", Behaviour::Expired);
    let client = Client::new(ClientConfig::default()).unwrap();
    let (handle, mut events) = Driver::start(client, DriverConfig::default());
    let toast = Notification::Toast(Toast {
        text1: Some("x"),
        ..Toast::default()
    });
    let channel = emulator.channel_url("gone");
    handle
        .submit(&channel, &toast, &Options::default())
        .unwrap();
    let expired = loop {
        match events.recv().await.expect("an event") {
            Event::ChannelExpired { channel } => break channel,
            _ => continue,
        }
    };
    while handle.pending() > 0 {
        events.recv().await.expect("the final event");
    }
    let refused = handle.submit(&channel, &toast, &Options::default());
    assert!(
        matches!(
            refused,
            Err(mpns_hyper::driver::DriverError::Submit(
                mpns_proto::sender::SubmitError::ChannelExpired(id)
            )) if id == expired
        ),
        "{refused:?}"
    );
    assert!(handle.stats().memory_used > 0);
    handle.forget_channel(expired);
    // Only its quota window is left (outside the budget), and it may be sent to again.
    assert_eq!(handle.stats().memory_used, 0);
    assert_eq!(handle.stats().channels, 1);
    handle
        .submit(&channel, &toast, &Options::default())
        .expect("a forgotten channel is a channel like any other");
}

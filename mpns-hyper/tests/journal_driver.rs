//! The driver over a journal, in process, against the real emulator: a
//! driver stopped while its requests are on the wire comes back from its
//! journal with every notification, reports the requests in doubt, sends
//! them again, and a third start finds only their outcomes.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use mpns_hyper::client::{Client, ClientConfig};
use mpns_hyper::driver::{Driver, DriverConfig};
use mpns_hyper::emulator::{Behaviour, Emulator, EmulatorConfig};
use mpns_hyper::journal::JournalConfig;
use mpns_proto::sender::{Event, Finished};
use mpns_proto::{Notification, Options, Toast};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_driver_stopped_mid_flight_resumes_from_its_journal() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emulator.set_behaviour_prefix("slow-", Behaviour::Slow(StdDuration::from_millis(300)));
    let dir = std::env::temp_dir().join(format!("mpns-journal-driver-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let journal = JournalConfig::new(&dir);
    let config = DriverConfig::default();
    let toast = Notification::Toast(Toast {
        text1: Some("resume"),
        ..Toast::default()
    });
    let channels: Vec<String> = (0..4)
        .map(|i| emulator.channel_url(&format!("slow-{i}")))
        .collect();

    // First run: four tagged toasts on the wire, then the process "dies"
    // (the runtime is dropped with the requests in flight).
    let first = runtime();
    first.block_on(async {
        let client = Client::new(ClientConfig::default()).unwrap();
        let (handle, _events, recovery) =
            Driver::recover(client, config, &journal, b"test").unwrap();
        assert!(recovery.report.created);
        for (tag, channel) in channels.iter().enumerate() {
            handle
                .submit_tagged(100 + tag as u64, channel, &toast, &Options::default())
                .unwrap();
        }
        while handle.stats().in_flight < 4 {
            tokio::time::sleep(StdDuration::from_millis(5)).await;
        }
    });
    drop(first);

    // Second run: everything comes back, the four are in doubt and sent again.
    let second = runtime();
    let outcomes = second.block_on(async {
        let client = Client::new(ClientConfig::default()).unwrap();
        let (handle, mut events, recovery) =
            Driver::recover(client, config, &journal, b"test").unwrap();
        assert_eq!(recovery.pending, 4);
        let tags: Vec<u64> = recovery.resumed.iter().map(|(_, tag)| *tag).collect();
        assert_eq!(tags, [100, 101, 102, 103]);
        assert!(recovery.finished.is_empty());
        drop(handle);
        let mut in_doubt = Vec::new();
        let mut finished = BTreeMap::new();
        while let Some(event) = events.recv().await {
            match event {
                Event::InDoubt { ticket, attempt } => {
                    assert_eq!(attempt, 1);
                    in_doubt.push(ticket);
                }
                Event::Finished {
                    ticket,
                    result,
                    attempts,
                } => {
                    assert_eq!(attempts, 2, "the attempt in doubt, then the one sent again");
                    finished.insert(ticket, result);
                }
                _ => {}
            }
        }
        let resumed: Vec<_> = recovery.resumed.iter().map(|(t, _)| *t).collect();
        assert_eq!(in_doubt, resumed);
        finished
    });
    drop(second);
    assert_eq!(outcomes.len(), 4);
    assert!(outcomes.values().all(Finished::is_accepted));

    // Third run: nothing pending, the four outcomes by tag.
    let third = runtime();
    third.block_on(async {
        let client = Client::new(ClientConfig::default()).unwrap();
        let (handle, _events, recovery) =
            Driver::recover(client, config, &journal, b"test").unwrap();
        assert_eq!(recovery.pending, 0);
        let mut tags: Vec<u64> = recovery.finished.iter().map(|(tag, _)| *tag).collect();
        tags.sort_unstable();
        assert_eq!(tags, [100, 101, 102, 103]);
        assert!(recovery.finished.iter().all(|(_, r)| r.is_accepted()));
        drop(handle);
        // Another job's identity is refused.
        let client = Client::new(ClientConfig::default()).unwrap();
        let other = Driver::recover(client, config, &journal, b"other");
        assert!(other.is_err(), "another identity, or the lock held");
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// A journal compacted again and again while a batch runs keeps every
/// tagged outcome, nothing else of finished notifications, and stays small.
#[test]
fn compaction_keeps_the_outcomes_and_drops_the_rest() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("mpns-journal-compact-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut journal = JournalConfig::new(&dir);
    journal.compact_min_bytes = 16 << 10;
    let config = DriverConfig::default();
    let toast = Notification::Toast(Toast {
        text1: Some("compact"),
        ..Toast::default()
    });
    let n = 2_000u64;
    runtime().block_on(async {
        let client = Client::new(ClientConfig::default()).unwrap();
        let (handle, mut events, _) = Driver::recover(client, config, &journal, b"c").unwrap();
        for i in 0..n {
            let channel = emulator.channel_url(&format!("c{i}"));
            handle
                .submit_wait_tagged(i, &channel, &toast, &Options::default())
                .await
                .unwrap();
        }
        drop(handle);
        let mut finished = 0;
        while let Some(event) = events.recv().await {
            finished += u64::from(matches!(event, Event::Finished { .. }));
        }
        assert_eq!(finished, n);
    });
    let size = std::fs::metadata(dir.join("journal")).unwrap().len();
    // Written whole, the run takes about 170 bytes a notification; compacted,
    // about 30 an outcome, and at most twice the live size before the next.
    assert!(size < n * 100, "{size} bytes: compaction did not run");
    runtime().block_on(async {
        let client = Client::new(ClientConfig::default()).unwrap();
        let (_handle, _events, recovery) = Driver::recover(client, config, &journal, b"c").unwrap();
        assert_eq!(recovery.pending, 0);
        let mut tags: Vec<u64> = recovery.finished.iter().map(|(t, _)| *t).collect();
        tags.sort_unstable();
        assert_eq!(tags, (0..n).collect::<Vec<_>>(), "every outcome, once");
    });
    let _ = std::fs::remove_dir_all(&dir);
}

//! The driver's metrics (feature `metrics`) through a recorder written here:
//! `cargo test -p mpns-hyper --features metrics --test metrics`.
#![cfg(feature = "metrics")]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use mpns_hyper::client::ClientConfig;
use mpns_hyper::driver::{Driver, DriverConfig};
use mpns_hyper::emulator::{Behaviour, Emulator, EmulatorConfig};
use mpns_hyper::transport::{AnyClient, TransportKind};
use mpns_proto::{Duration, Notification, Options, RetryPolicy, SenderConfig, Toast};

/// Counts per `name{label=value,...}`; histograms count their samples.
#[derive(Default)]
struct Counts(Mutex<BTreeMap<String, Arc<Cell>>>);

#[derive(Default)]
struct Cell(AtomicU64);

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

impl HistogramFn for Cell {
    fn record(&self, value: f64) {
        assert!(value >= 0.0);
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl Counts {
    fn cell(&self, key: &Key) -> Arc<Cell> {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = if labels.is_empty() {
            key.name().to_string()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        self.0.lock().unwrap().entry(name).or_default().clone()
    }

    fn get(&self) -> BTreeMap<String, u64> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.0.load(Ordering::Relaxed)))
            .collect()
    }
}

impl Recorder for Counts {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.cell(key))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.cell(key))
    }
}

#[test]
fn counters_and_the_latency_histogram() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emulator.set_behaviour("gone", Behaviour::Expired);
    emulator.set_behaviour("busy", Behaviour::QueueFull(1));
    emulator.set_behaviour("down", Behaviour::Unavailable(1));
    let counts = Counts::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The driver runs on this thread: the local recorder sees everything.
    metrics::with_local_recorder(&counts, || {
        runtime.block_on(async {
            let client = AnyClient::new(TransportKind::Direct, ClientConfig::default()).unwrap();
            let config = DriverConfig {
                sender: SenderConfig {
                    retry: RetryPolicy {
                        base: Duration::from_millis(5),
                        cap: Duration::from_millis(20),
                        channel_pause: Duration::from_millis(20),
                        jitter_percent: 0,
                    },
                    ..SenderConfig::default()
                },
                ..DriverConfig::default()
            };
            let (handle, mut events) = Driver::start(client, config);
            let toast = Notification::Toast(Toast {
                text1: Some("m"),
                ..Toast::default()
            });
            for id in ["ok", "gone", "busy", "down"] {
                handle
                    .submit(&emulator.channel_url(id), &toast, &Options::default())
                    .unwrap();
            }
            drop(handle);
            while events.recv().await.is_some() {}
        })
    });
    let got = counts.get();
    let want: BTreeMap<String, u64> = [
        // ok 1, gone 1, busy 2 (queue full, then accepted), down 2 (503, then accepted).
        ("mpns_attempts_total", 6),
        ("mpns_attempt_duration_seconds", 6),
        ("mpns_finished_total{outcome=accepted}", 3),
        ("mpns_finished_total{outcome=channel_expired}", 1),
        ("mpns_channels_expired_total", 1),
        ("mpns_pauses_total{scope=host}", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(got, want);
}

//! The soak run, 30 seconds of it (benches/README.md, "Soak under faults"):
//! the driver sends to 1,000 channels of an emulator that resets 1 % of
//! its connections, answers 1 % with 503 and 1 % after 2 s, and is
//! restarted twice; every notification ends in exactly one final event, and
//! the connections left open are bounded by the requests in flight. Times
//! are reported, not asserted.

use std::net::SocketAddr;
use std::time::Duration;

use mpns_benches::soak::{self, Emulated, SOAK_RETRY, SoakConfig};
use mpns_hyper::emulator::{Emulator, EmulatorConfig};
use mpns_hyper::transport::TransportKind;

const FLAKY: &str = "flaky:10,10,10,2s";

/// The emulator in this process, restarted on its address.
struct InProcess {
    emulator: Option<Emulator>,
    addr: SocketAddr,
}

impl InProcess {
    fn start(addr: SocketAddr) -> Emulator {
        let emulator = Emulator::spawn(EmulatorConfig {
            listen: addr,
            daily_quota: u32::MAX,
            record_limit: 0,
            worker_threads: 1,
            ..EmulatorConfig::default()
        })
        .expect("the emulator starts");
        emulator.set_behaviour_prefix("", FLAKY.parse().unwrap());
        emulator
    }
}

impl Emulated for InProcess {
    fn restart(&mut self) {
        drop(self.emulator.take());
        self.emulator = Some(Self::start(self.addr));
    }
    fn rss_kib(&self) -> Option<u64> {
        None
    }
    fn open_connections(&self) -> Option<u64> {
        self.emulator.as_ref().map(|e| e.stats().open_connections)
    }
}

#[test]
fn thirty_seconds_under_faults_end_every_notification_once() {
    let emulator = InProcess::start(SocketAddr::from(([127, 0, 0, 1], 0)));
    let addr = emulator.http_addr();
    let channels = (0..1000)
        .map(|i| emulator.channel_url(&format!("soak{i}")))
        .collect();
    let config = SoakConfig {
        duration: Duration::from_secs(30),
        channels,
        restarts_at: vec![Duration::from_secs(10), Duration::from_secs(20)],
        max_in_flight: 32,
        retry: SOAK_RETRY,
        transport: TransportKind::Direct,
        sample_every: Duration::from_secs(5),
        // About 2,500 toasts waiting: the run drains in seconds.
        memory_budget: 1 << 20,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let in_process = InProcess {
        emulator: Some(emulator),
        addr,
    };
    let report = runtime.block_on(soak::run(config, Box::new(in_process)));
    println!("{report:#?}");
    assert!(report.submitted > 0);
    assert!(report.exactly_once(), "{report:#?}");
    // The faults happened and were retried through.
    assert!(report.resends > 0, "{report:#?}");
    assert!(
        report.outcomes.get("accepted") == Some(&report.finals),
        "{report:#?}"
    );
    // At most one connection per request in flight is left open.
    let open = report.open_connections_at_end.unwrap();
    assert!(open <= 32, "{open} connections open: {report:#?}");
}

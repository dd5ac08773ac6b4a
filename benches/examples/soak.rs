//! The soak under faults (benches/README.md, "Soak under faults"): the
//! driver sends for MINUTES (default 10) to 10,000 channels of an emulator in
//! another process that resets 1 % of its connections, answers 1 % with 503
//! and 1 % after 2 s, and is restarted twice (at a third and two thirds of
//! the run). Prints the report: notifications sent, final events (each
//! exactly once), re-sends, the longest gap without requests after each
//! restart, both processes' memory every 10 s, and the connections left
//! open.
//!
//!     cargo run --release -p mpns-benches --example soak -- [MINUTES] [CHANNELS]
//!
//! The emulator is this same program started with `--serve PORT`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mpns_benches::soak::{self, Emulated, SOAK_RETRY, SoakConfig};
use mpns_hyper::emulator::{Emulator, EmulatorConfig};
use mpns_hyper::transport::TransportKind;

const FLAKY: &str = "flaky:10,10,10,2s";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, port] = &args[..]
        && flag == "--serve"
    {
        return serve(port.parse()?);
    }
    let minutes: u64 = args.first().map_or(Ok(10), |a| a.parse())?;
    let channels: usize = args.get(1).map_or(Ok(10_000), |a| a.parse())?;
    let port = free_port()?;
    let emulator = OtherProcess::start(port)?;
    let base = format!("http://127.0.0.1:{port}/throttledthirdparty/01.00");
    let duration = Duration::from_secs(minutes * 60);
    let config = SoakConfig {
        duration,
        channels: (0..channels).map(|i| format!("{base}/soak{i}")).collect(),
        restarts_at: vec![duration / 3, duration * 2 / 3],
        max_in_flight: 64,
        retry: SOAK_RETRY,
        transport: TransportKind::Direct,
        sample_every: Duration::from_secs(10),
        memory_budget: 8 << 20,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(soak::run(config, Box::new(emulator)));
    println!("rss (s, sender KiB, emulator KiB):");
    for s in &report.rss {
        println!(
            "  {:>5} {:>8} {:>8}",
            s.at.as_secs(),
            s.sender_kib.unwrap_or(0),
            s.emulator_kib.unwrap_or(0)
        );
    }
    let (two, end) = (Duration::from_secs(120), duration);
    println!(
        "rss growth, minute 2 to the end: sender {:.1} %, emulator {:.1} % (the emulator restarts reset it)",
        report
            .rss_growth(two, end, |s| s.sender_kib)
            .unwrap_or(f64::NAN),
        report
            .rss_growth(two, end, |s| s.emulator_kib)
            .unwrap_or(f64::NAN),
    );
    println!(
        "submitted {}  finals {}  duplicates {}  exactly once: {}",
        report.submitted,
        report.finals,
        report.duplicate_finals,
        report.exactly_once()
    );
    println!("outcomes {:?}", report.outcomes);
    println!(
        "requests {}  re-sends {}  in {:.1} s ({:.0} notifications/s)",
        report.sent,
        report.resends,
        report.elapsed.as_secs_f64(),
        report.finals as f64 / report.elapsed.as_secs_f64()
    );
    println!(
        "longest gap after each restart: {:?} (target: under the first backoff step, {:?} with its 20 % jitter, plus a second)",
        report.gaps_after_restart,
        Duration::from_millis(SOAK_RETRY.base.as_millis() * 12 / 10)
    );
    println!(
        "open connections at the end: {:?} (at most {} in flight)",
        report.open_connections_at_end, 64
    );
    if !report.exactly_once() {
        return Err("not every notification ended exactly once".into());
    }
    Ok(())
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `--serve PORT`: the emulator, every channel flaky, no quota, no records.
fn serve(port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::spawn(EmulatorConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        daily_quota: u32::MAX,
        record_limit: 0,
        worker_threads: 1,
        ..EmulatorConfig::default()
    })?;
    emulator.set_behaviour_prefix("", FLAKY.parse()?);
    println!("ready");
    // Until killed; one line a second with the open connections.
    loop {
        println!("open {}", emulator.stats().open_connections);
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The emulator in a process of its own, on a fixed port.
struct OtherProcess {
    port: u16,
    child: Child,
    /// The last "open N" line it printed.
    open: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl OtherProcess {
    fn start(port: u16) -> std::io::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--serve", &port.to_string()])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        match lines.next() {
            Some(Ok(line)) if line == "ready" => {}
            other => return Err(std::io::Error::other(format!("emulator: {other:?}"))),
        }
        let open = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen = open.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("open ").and_then(|n| n.parse().ok()) {
                    seen.store(n, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        Ok(OtherProcess { port, child, open })
    }
}

impl Emulated for OtherProcess {
    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = OtherProcess::start(self.port).expect("the emulator restarts");
    }

    fn rss_kib(&self) -> Option<u64> {
        soak::rss_kib(&self.child.id().to_string())
    }

    fn open_connections(&self) -> Option<u64> {
        // Its once-a-second line: wait for a fresh one.
        std::thread::sleep(Duration::from_millis(1100));
        Some(self.open.load(std::sync::atomic::Ordering::Relaxed))
    }
}

impl Drop for OtherProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

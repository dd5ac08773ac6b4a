//! The soak run: the driver sends at full speed to an emulator that resets
//! connections, answers 503 and answers slowly at small rates, and is
//! restarted on the way; the run reports what a server left running needs
//! to know. `examples/soak.rs` runs it for minutes against an emulator in
//! another process (benches/README.md, "Soak under faults");
//! `tests/soak.rs` runs it for seconds in `cargo test`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mpns_hyper::client::ClientConfig;
use mpns_hyper::driver::{Driver, DriverConfig};
use mpns_hyper::transport::{AnyClient, TransportKind};
use mpns_proto::sender::Event;
use mpns_proto::{Notification, Options, RetryPolicy, SenderConfig, Toast};

/// What a soak run does.
#[derive(Clone, Debug)]
pub struct SoakConfig {
    /// How long notifications are submitted; the run then waits for every
    /// final event.
    pub duration: Duration,
    /// The channel URLs, sent to in turn.
    pub channels: Vec<String>,
    /// When, from the start, the emulator is restarted.
    pub restarts_at: Vec<Duration>,
    /// Requests in flight at most.
    pub max_in_flight: usize,
    /// The retry policy. The default one pauses the whole host for a minute
    /// after a reset or a 503, so at 1 % of either it would send a few
    /// requests a minute: a soak shortens it to keep sending.
    pub retry: RetryPolicy,
    /// The transport.
    pub transport: TransportKind,
    /// How often memory is sampled.
    pub sample_every: Duration,
    /// The driver's memory budget: what may wait unsent. Submitting waits
    /// while it is full, so it bounds how long the run drains at the end.
    pub memory_budget: usize,
}

/// The emulator under the run, which the run restarts and measures.
pub trait Emulated: Send {
    /// Stops the emulator and starts it again on the same address; returns
    /// once it accepts connections.
    fn restart(&mut self);
    /// Its resident memory in KiB, when it runs in another process.
    fn rss_kib(&self) -> Option<u64>;
    /// Connections it has open now.
    fn open_connections(&self) -> Option<u64>;
}

/// Resident memory of a process (`self` or a pid) in KiB, from /proc.
pub fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Memory at one moment of the run.
#[derive(Clone, Copy, Debug)]
pub struct RssSample {
    /// Since the start.
    pub at: Duration,
    /// The sending process, KiB.
    pub sender_kib: Option<u64>,
    /// The emulator, KiB, when it runs in another process.
    pub emulator_kib: Option<u64>,
}

/// What a soak run saw.
#[derive(Clone, Debug, Default)]
pub struct SoakReport {
    /// Notifications submitted.
    pub submitted: u64,
    /// Final events received (one per notification when all is well).
    pub finals: u64,
    /// Final events for a ticket that already had one.
    pub duplicate_finals: u64,
    /// Final events by outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Requests sent, every attempt.
    pub sent: u64,
    /// Requests beyond the first of each notification.
    pub resends: u64,
    /// Per restart: the longest time without a request being sent, in the
    /// 30 seconds from the restart.
    pub gaps_after_restart: Vec<Duration>,
    /// Memory over the run.
    pub rss: Vec<RssSample>,
    /// The emulator's open connections once every notification had ended,
    /// with the driver still running.
    pub open_connections_at_end: Option<u64>,
    /// From the start to the last final event.
    pub elapsed: Duration,
}

impl SoakReport {
    /// Whether every submitted notification ended in exactly one final event.
    pub fn exactly_once(&self) -> bool {
        self.finals == self.submitted && self.duplicate_finals == 0
    }

    /// Growth of a process's memory between two times of the run, in percent
    /// of the first sample at or after `from` (None without samples).
    pub fn rss_growth(
        &self,
        from: Duration,
        to: Duration,
        pick: impl Fn(&RssSample) -> Option<u64>,
    ) -> Option<f64> {
        let first = self.rss.iter().find(|s| s.at >= from).and_then(&pick)?;
        let last = self.rss.iter().rev().find(|s| s.at <= to).and_then(&pick)?;
        Some((last as f64 - first as f64) * 100.0 / first as f64)
    }
}

/// Runs the soak on the current tokio runtime.
pub async fn run(config: SoakConfig, mut emulator: Box<dyn Emulated>) -> SoakReport {
    let client = AnyClient::new(config.transport, ClientConfig::default()).expect("a plain client");
    let driver_config = DriverConfig {
        sender: SenderConfig {
            retry: config.retry,
            // The emulator's quota is off: so is the sender's.
            quota: u32::MAX,
            ..SenderConfig::default()
        },
        max_in_flight: config.max_in_flight,
        memory_budget: config.memory_budget,
    };
    let (handle, mut events) = Driver::start(client, driver_config);
    let start = Instant::now();

    // Every final event, once per ticket. Tickets are numbered from 0: a
    // bit each (a set of every ticket would be what grows in a long run).
    let collector = tokio::spawn(async move {
        let (mut seen, mut report) = (Vec::<u64>::new(), SoakReport::default());
        while let Some(event) = events.recv().await {
            if let Event::Finished {
                ticket,
                result,
                attempts,
            } = event
            {
                let (word, bit) = ((ticket.0 / 64) as usize, 1u64 << (ticket.0 % 64));
                if seen.len() <= word {
                    seen.resize(word + 1, 0);
                }
                if seen[word] & bit == 0 {
                    seen[word] |= bit;
                    report.finals += 1;
                    report.resends += u64::from(attempts.saturating_sub(1));
                    *report.outcomes.entry(result.name().into()).or_default() += 1;
                } else {
                    report.duplicate_finals += 1;
                }
            }
        }
        report
    });

    // Requests sent, sampled every 5 ms: the longest time the count did not
    // move, in the window after each restart.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn({
        let (handle, stop) = (handle.clone(), stop.clone());
        let windows: Vec<(Duration, Duration)> = config
            .restarts_at
            .iter()
            .map(|&at| (at, at + Duration::from_secs(30)))
            .collect();
        async move {
            let mut gaps = vec![Duration::ZERO; windows.len()];
            let (mut last, mut moved) = (0, Duration::ZERO);
            let mut tick = tokio::time::interval(Duration::from_millis(5));
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let sent = handle.stats().sent;
                if sent != last {
                    let now = start.elapsed();
                    longest_gaps(&mut gaps, &windows, moved, now);
                    (last, moved) = (sent, now);
                }
            }
            (gaps, last)
        }
    });

    // The emulator's restarts and memory samples, on a thread of their own
    // (a restart blocks).
    let control = std::thread::spawn({
        let (stop, config) = (stop.clone(), config.clone());
        move || {
            let mut rss = Vec::new();
            let mut restarts = config.restarts_at.iter().peekable();
            let mut next_sample = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let now = start.elapsed();
                if restarts.peek().is_some_and(|at| now >= **at) {
                    restarts.next();
                    emulator.restart();
                }
                if now >= next_sample {
                    rss.push(RssSample {
                        at: now,
                        sender_kib: rss_kib("self"),
                        emulator_kib: emulator.rss_kib(),
                    });
                    next_sample += config.sample_every;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (emulator, rss)
        }
    });

    let toast = Notification::Toast(Toast {
        text1: Some("soak"),
        ..Toast::default()
    });
    let mut submitted = 0u64;
    for channel in config.channels.iter().cycle() {
        if start.elapsed() >= config.duration {
            break;
        }
        handle
            .submit_wait(channel, &toast, &Options::default())
            .await
            .expect("every soak notification is valid");
        submitted += 1;
    }
    // Wait for every final event, then look at the connections left open.
    while handle.stats().pending > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (emulator, rss) = control.join().expect("the control thread");
    let open_connections_at_end = emulator.open_connections();
    let (gaps, sent) = watcher.await.expect("the watcher");
    drop(handle);
    let mut report = collector.await.expect("the collector");
    report.submitted = submitted;
    report.sent = sent;
    report.rss = rss;
    report.open_connections_at_end = open_connections_at_end;
    report.elapsed = elapsed;
    report.gaps_after_restart = gaps;
    report
}

/// Takes the gap between two moves of the sent count, `from..to`, into the
/// longest gap of each window it overlaps.
fn longest_gaps(
    gaps: &mut [Duration],
    windows: &[(Duration, Duration)],
    from: Duration,
    to: Duration,
) {
    for (gap, &(start, end)) in gaps.iter_mut().zip(windows) {
        if to >= start && from <= end {
            *gap = (*gap).max(to - from);
        }
    }
}

/// The retry policy of a soak: a host pause of 200 ms doubling to 2 s.
pub const SOAK_RETRY: RetryPolicy = RetryPolicy {
    base: mpns_proto::Duration::from_millis(200),
    cap: mpns_proto::Duration::from_secs(2),
    ..RetryPolicy::DEFAULT
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_gap_overlapping_a_window() {
        let s = Duration::from_secs;
        let moves = [s(0), s(1), s(5), s(6), s(20), s(21)];
        let windows = [(s(4), s(10)), (s(0), s(3)), (s(30), s(40))];
        let mut gaps = [Duration::ZERO; 3];
        for w in moves.windows(2) {
            longest_gaps(&mut gaps, &windows, w[0], w[1]);
        }
        assert_eq!(gaps, [s(14), s(4), Duration::ZERO]);
    }
}

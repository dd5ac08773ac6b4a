//! Resume time of a driver whose journal holds N pending notifications
//! (default 1,000,000), each to its own channel.
//!
//!     cargo run --release -p mpns-benches --example journal_resume -- [N] [DIR]
//!
//! The first run fills a journal through `Driver::recover` and
//! `submit_tagged` (the channels' host refuses connections, so the host
//! pauses after the first failures and everything stays pending), then stops
//! the runtime without a clean shutdown. Then `Driver::recover` over it is
//! timed: reading and checking every frame, replaying every record into the
//! sender, and resuming. Then a compaction of the same state is timed (what
//! the driver does under its lock: the sender's `state_records` written to a
//! new journal, fsynced and renamed over the old). Prints the journal's
//! size, the times, and the process's peak resident memory.

use std::time::Instant;

use mpns_hyper::client::{Client, ClientConfig};
use mpns_hyper::driver::{Driver, DriverConfig};
use mpns_hyper::journal::{Journal, JournalConfig};
use mpns_proto::{GrowableSender, Notification, Options, SenderConfig, Toast};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let dir = args.next().map_or_else(
        || std::env::temp_dir().join(format!("mpns-journal-resume-{}", std::process::id())),
        std::path::PathBuf::from,
    );
    let _ = std::fs::remove_dir_all(&dir);
    let journal = JournalConfig::new(&dir);
    let config = DriverConfig {
        memory_budget: 4 << 30,
        ..DriverConfig::default()
    };
    let identity = b"journal_resume";

    let fill = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    fill.block_on(async {
        let client = Client::new(ClientConfig::default())?;
        let (handle, _events, _) = Driver::recover(client, config, &journal, identity)?;
        let toast = Notification::Toast(Toast {
            text1: Some("Storm warning"),
            text2: Some("Leave the coast now"),
            ..Toast::default()
        });
        let mut uri = String::new();
        for i in 0..n {
            use std::fmt::Write;
            uri.clear();
            write!(
                uri,
                "http://127.0.0.1:1/throttledthirdparty/01.00/device{i:08}"
            )?;
            handle.submit_tagged(i, &uri, &toast, &Options::default())?;
            if i % 4096 == 0 {
                tokio::task::yield_now().await;
            }
        }
        // Let the driver write what it has; then the runtime is dropped.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        println!(
            "filled: {} pending in {:.1} s",
            handle.pending(),
            started.elapsed().as_secs_f64()
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    drop(fill);
    let size = std::fs::metadata(dir.join("journal"))?.len();

    let resume = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    resume.block_on(async {
        let client = Client::new(ClientConfig::default())?;
        let started = Instant::now();
        let (handle, _events, recovery) = Driver::recover(client, config, &journal, identity)?;
        let took = started.elapsed();
        println!(
            "resumed {} pending ({} tagged) from {:.0} MB of journal ({} frames) in {:.2} s",
            recovery.pending,
            recovery.resumed.len(),
            size as f64 / 1e6,
            recovery.report.frames,
            took.as_secs_f64()
        );
        drop(handle);
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    compaction(n, &dir.join("compaction"))?;
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM"))
    {
        println!(
            "peak resident memory: {}",
            line.trim_start_matches("VmHWM:").trim()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Times a compaction of a journal whose sender holds `n` pending toasts.
fn compaction(n: u64, dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut sender = GrowableSender::new(SenderConfig::default(), 4 << 30).recording();
    let toast = Notification::Toast(Toast {
        text1: Some("Storm warning"),
        text2: Some("Leave the coast now"),
        ..Toast::default()
    });
    let (mut journal, _) = Journal::open(&JournalConfig::new(dir), b"compaction", |_| Ok(()))?;
    let mut bytes = Vec::new();
    let mut uri = String::new();
    for i in 0..n {
        use std::fmt::Write;
        uri.clear();
        write!(
            uri,
            "http://127.0.0.1:1/throttledthirdparty/01.00/device{i:08}"
        )?;
        let channel = mpns_proto::ChannelUri::parse(&uri)?;
        sender.submit(
            mpns_proto::Instant::ZERO,
            channel,
            &toast,
            &Options::default(),
        )?;
        while let Some(record) = sender.poll_record() {
            bytes.clear();
            record.encode_to_vec(&mut bytes);
            journal.append(1, &bytes);
        }
    }
    journal.flush()?;
    let started = Instant::now();
    journal.compact(|sink| {
        let mut result = Ok(());
        sender.state_records(|record| {
            if result.is_ok() {
                bytes.clear();
                record.encode_to_vec(&mut bytes);
                result = sink.append(1, &bytes);
            }
        });
        result
    })?;
    println!(
        "compacted {n} pending into {:.0} MB in {:.2} s",
        journal.len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

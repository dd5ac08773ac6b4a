//! `mpns bench`: N toasts at concurrency C through the pooled client, to a
//! URL or to an in-process emulator; rate, latency percentiles and the
//! client's CPU time per notification.
//!
//! Each notification takes the whole one-shot path: encode (validate, escape,
//! write), send over a pooled keep-alive connection, read the status headers,
//! classify. Concurrency needs many requests in flight to one channel, which
//! the sender forbids (one per channel, to keep order), so the benchmark
//! drives the client directly.
//!
//! Client CPU time is read per thread from `/proc/self/task/*/schedstat`
//! (nanoseconds on CPU), leaving out the in-process emulator's threads.
//!
//! The harness ([`measure`], [`Load`]) is public so that the bare hyper-util
//! reference (`benches/examples/bare_hyper.rs`) is measured the same way.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant as StdInstant;

use clap::Args;
use mpns_proto::{ChannelUri, Notification, Options, Outcome, Request, Toast, classify};
use serde::Serialize;

use super::CliError;
use super::send::TlsArgs;
use crate::client::{ClientConfig, Identity};
use crate::emulator::{Emulator, EmulatorConfig, TlsConfig};
use crate::pki::TestPki;
use crate::transport::{AnyClient, Transport};

/// `mpns bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Channel URI to send to [default: a channel of an in-process emulator]
    #[arg(long, value_name = "URI")]
    pub url: Option<String>,
    /// Notifications to send (after the warm-up)
    #[arg(
        short = 'n',
        long = "count",
        value_name = "COUNT",
        default_value_t = 20_000
    )]
    pub count: usize,
    /// Requests in flight at once
    #[arg(
        short = 'c',
        long = "concurrency",
        value_name = "CONCURRENCY",
        default_value_t = 64
    )]
    pub concurrency: usize,
    /// With the in-process emulator: over HTTPS with a client certificate
    #[arg(long, conflicts_with = "url")]
    pub https: bool,
    /// Notifications sent before measuring (connections, TLS handshakes)
    #[arg(long, default_value_t = 1000)]
    pub warmup: usize,
    /// Print one JSON object instead of text
    #[arg(long)]
    pub json: bool,
    /// Client certificate and trusted CAs (with --url).
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// What `mpns bench --json` prints.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BenchResult {
    /// Notifications per second.
    pub rate_per_s: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Client CPU time per notification, µs.
    pub cpu_us_per_notification: f64,
    /// Accepted notifications.
    pub ok: usize,
    /// Notifications not accepted (any other outcome or a transport failure).
    pub failed: usize,
}

impl BenchArgs {
    /// Runs the benchmark and prints its result.
    pub fn run(&self) -> Result<(), CliError> {
        let (emulator, channel, client) = self.target()?;
        let count = self.count.max(1);
        let concurrency = self.concurrency.max(1);
        let result = measure(self.warmup, count, concurrency, || Toasts {
            client: client.clone(),
            channel: channel.clone(),
            text: String::new(),
        })
        .map_err(CliError::Runtime)?;
        drop(emulator);
        let out = if self.json {
            serde_json::to_string(&result).unwrap_or_default() + "\n"
        } else {
            format!(
                "{} notifications, concurrency {}: {:.0}/s, p50 {:.3} ms, p99 {:.3} ms, {:.1} µs client CPU each; {} ok, {} failed\n",
                count,
                concurrency,
                result.rate_per_s,
                result.p50_ms,
                result.p99_ms,
                result.cpu_us_per_notification,
                result.ok,
                result.failed
            )
        };
        super::write_stdout(out.as_bytes())?;
        if result.failed > 0 {
            return Err(CliError::BatchFailed {
                failed: result.failed,
            });
        }
        Ok(())
    }

    /// The channel and client to use, with the in-process emulator if any.
    fn target(&self) -> Result<(Option<Emulator>, String, AnyClient), CliError> {
        if let Some(url) = &self.url {
            ChannelUri::parse(url)?;
            return Ok((None, url.clone(), self.tls.client()?));
        }
        let mut config = EmulatorConfig {
            daily_quota: u32::MAX,
            record_limit: 0,
            worker_threads: 1,
            ..EmulatorConfig::default()
        };
        let mut client = ClientConfig::default();
        let pki = if self.https {
            let pki = TestPki::generate().map_err(|e| CliError::Pki(e.to_string()))?;
            config.tls = Some(TlsConfig::from_test_pki(&pki));
            client.identity = Some(
                Identity::from_pem(
                    pki.client_cert_pem.as_bytes(),
                    pki.client_key_pem.as_bytes(),
                )
                .map_err(CliError::Client)?,
            );
            client
                .extra_roots_pem
                .push(pki.ca_cert_pem.clone().into_bytes());
            Some(pki)
        } else {
            None
        };
        let emulator = Emulator::spawn(config).map_err(CliError::Listen)?;
        let channel = match pki {
            Some(_) => emulator.secure_channel_url("bench").unwrap_or_default(),
            None => emulator.channel_url("bench"),
        };
        let client = AnyClient::new(self.tls.transport, client).map_err(CliError::Client)?;
        Ok((Some(emulator), channel, client))
    }
}

/// One task's way of sending a notification, for [`measure`]: `mpns bench`
/// sends through either transport; `benches/examples/bare_hyper.rs`, the reference,
/// through a bare hyper-util client. Both share this harness and its measure.
pub trait Load: Send + 'static {
    /// Sends one notification; true if it was accepted.
    fn send(&mut self) -> impl Future<Output = bool> + Send + '_;
}

/// Runs `warmup` then `count` sends at `concurrency`, timing and reading
/// client CPU around the second run only. Fails only if no runtime starts.
pub fn measure<L: Load>(
    warmup: usize,
    count: usize,
    concurrency: usize,
    mut load: impl FnMut() -> L,
) -> std::io::Result<BenchResult> {
    // One client thread: on a small machine the other cores serve the
    // emulator, and a single-threaded runtime wastes no CPU on work stealing.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let count = count.max(1);
    let concurrency = concurrency.max(1);
    Ok(runtime.block_on(async move {
        // Warm-up: connections, TLS handshakes, allocator.
        if warmup > 0 {
            run_load(warmup, concurrency, &mut load).await;
        }
        let cpu_before = client_cpu_ns();
        let started = StdInstant::now();
        let (latencies, ok) = run_load(count, concurrency, &mut load).await;
        let elapsed = started.elapsed();
        let cpu = client_cpu_ns().saturating_sub(cpu_before);
        summarize(latencies, ok, count, elapsed, cpu)
    }))
}

/// Sends `count` notifications with `concurrency` tasks; returns latencies (ns) and accepted count.
async fn run_load<L: Load>(
    count: usize,
    concurrency: usize,
    load: &mut impl FnMut() -> L,
) -> (Vec<u64>, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.min(count) {
        let (mut task, next) = (load(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(count / concurrency + 1);
            let mut ok = 0;
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let started = StdInstant::now();
                ok += usize::from(task.send().await);
                latencies.push(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
            }
            (latencies, ok)
        }));
    }
    let mut all = Vec::with_capacity(count);
    let mut ok = 0;
    for task in tasks {
        if let Ok((latencies, n)) = task.await {
            all.extend(latencies);
            ok += n;
        }
    }
    (all, ok)
}

/// `mpns bench`'s load: the whole one-shot path per toast.
struct Toasts {
    client: AnyClient,
    channel: String,
    text: String,
}

impl Load for Toasts {
    async fn send(&mut self) -> bool {
        // The text is rebuilt each time so the toast is not a constant.
        self.text.clear();
        self.text.push_str("Benchmark");
        let toast = Notification::Toast(Toast {
            text1: Some(&self.text),
            text2: Some("Normal text"),
            param: Some("/Page2.xaml?NavigatedFrom=Toast"),
            sound: None,
        });
        let request = ChannelUri::parse(&self.channel)
            .ok()
            .and_then(|c| Request::notification(c, &toast, &Options::default()).ok())
            .map(|r| self.client.prepare(&r));
        let Some(request) = request else {
            return false;
        };
        match self.client.send_prepared(request).await {
            Ok(response) => matches!(classify(&response), Outcome::Accepted { .. }),
            Err(_) => false,
        }
    }
}

/// The result of one measured run; latencies in ns, CPU in ns.
pub fn summarize(
    mut latencies: Vec<u64>,
    ok: usize,
    count: usize,
    elapsed: std::time::Duration,
    cpu_ns: u64,
) -> BenchResult {
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(i).copied().unwrap_or(0) as f64 / 1e6
    };
    BenchResult {
        rate_per_s: count as f64 / elapsed.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        cpu_us_per_notification: cpu_ns as f64 / 1e3 / count as f64,
        ok,
        failed: count - ok.min(count),
    }
}

/// CPU time of this process's threads in nanoseconds, the emulator's left out.
pub fn client_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .map(|t| t.path())
        .filter(|p| {
            let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
            !comm.starts_with("mpns-emulator")
        })
        .filter_map(|p| std::fs::read_to_string(p.join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

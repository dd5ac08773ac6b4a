//! What the driver logs, read back from a tracing-subscriber writing to a
//! buffer: levels per outcome, the span of each notification, 5xx storms,
//! TLS failures, and channel URIs only redacted.

use std::io::Write;
use std::sync::{Arc, Mutex};

use mpns_hyper::client::ClientConfig;
use mpns_hyper::driver::{Driver, DriverConfig};
use mpns_hyper::emulator::{Behaviour, Emulator, EmulatorConfig, TlsConfig};
use mpns_hyper::pki::TestPki;
use mpns_hyper::transport::{AnyClient, TransportKind};
use mpns_proto::sender::Event;
use mpns_proto::{Duration, Notification, Options, RetryPolicy, SenderConfig, Toast};

/// A writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs the driver over `client` for `channels` (one toast each) on a
/// runtime of this thread, under a subscriber at `level`; returns the log.
fn logged(client: AnyClient, channels: &[String], level: &str) -> String {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let config = DriverConfig {
                sender: SenderConfig {
                    retry: RetryPolicy {
                        base: Duration::from_millis(5),
                        cap: Duration::from_millis(20),
                        channel_pause: Duration::from_millis(20),
                        jitter_percent: 0,
                    },
                    max_attempts: 4,
                    deadline: Duration::from_secs(60),
                    ..SenderConfig::default()
                },
                ..DriverConfig::default()
            };
            let (handle, mut events) = Driver::start(client, config);
            let toast = Notification::Toast(Toast {
                text1: Some("x"),
                ..Toast::default()
            });
            for channel in channels {
                handle.submit(channel, &toast, &Options::default()).unwrap();
            }
            drop(handle);
            // The stream ends once every notification has finished.
            while let Some(event) = events.recv().await {
                let _: Event = event;
            }
        })
    });
    let bytes = buffer.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

fn lines_with<'a>(log: &'a str, level: &str, text: &str) -> Vec<&'a str> {
    log.lines()
        .filter(|l| l.contains(level) && l.contains(text))
        .collect()
}

#[test]
fn outcomes_at_their_levels_in_their_spans() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    let ids = [
        "accepted-0123456789abACPT",
        "expired-0123456789abcdef",
        "refused-0123456789abcdef",
        "inactive-0123456789abcdef",
    ];
    emulator.set_behaviour(ids[1], Behaviour::Expired);
    emulator.set_behaviour(ids[2], Behaviour::Status(400));
    emulator.set_behaviour(ids[3], Behaviour::Inactive);
    let channels: Vec<String> = ids.iter().map(|id| emulator.channel_url(id)).collect();
    let client = AnyClient::new(TransportKind::Direct, ClientConfig::default()).unwrap();
    let log = logged(client, &channels, "mpns_hyper=info");

    // Info and up: nothing about the accepted one, no attempt lines.
    assert!(!log.contains("DEBUG") && !log.contains("ACPT"), "{log}");
    let expired = lines_with(&log, "WARN", "channel expired");
    assert_eq!(expired.len(), 1, "{log}");
    let rejected = lines_with(&log, "WARN", "rejected");
    assert_eq!(rejected.len(), 1, "{log}");
    assert!(
        rejected[0].contains("notification{ticket=")
            && rejected[0].contains("host=127.0.0.1")
            && rejected[0].contains("kind=toast")
            && rejected[0].contains("/…cdef")
            && rejected[0].contains("status=400"),
        "{}",
        rejected[0]
    );
    // 412: the channel is paused (info), then the notification gives up (info).
    assert!(
        !lines_with(&log, "INFO", "pausing the channel").is_empty(),
        "{log}"
    );
    assert_eq!(lines_with(&log, "INFO", "gave up").len(), 1, "{log}");
    assert_eq!(
        lines_with(&log, "INFO", "outcome=\"channel_expired\"").len(),
        1,
        "{log}"
    );
    // Never a whole channel URI.
    assert!(!log.contains("0123456789abcdef"), "{log}");
}

#[test]
fn a_5xx_storm_is_a_warning_and_each_attempt_a_debug_line() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emulator.set_behaviour_prefix("down-", Behaviour::Unavailable(1000));
    let channels: Vec<String> = (0..3)
        .map(|i| emulator.channel_url(&format!("down-{i}")))
        .collect();
    let client = AnyClient::new(TransportKind::Hyper, ClientConfig::default()).unwrap();
    let log = logged(client, &channels, "mpns_hyper=debug");
    // 3 notifications of 4 attempts, all answered 503: a storm at the 8th.
    assert_eq!(emulator.stats().requests, 12);
    assert_eq!(lines_with(&log, "DEBUG", "sending").len(), 12, "{log}");
    let storm = lines_with(&log, "WARN", "5xx again and again");
    assert_eq!(storm.len(), 1, "{log}");
    assert!(storm[0].contains("in_a_row=8"), "{}", storm[0]);
    assert!(
        !lines_with(&log, "INFO", "pausing the host").is_empty(),
        "{log}"
    );
    assert_eq!(lines_with(&log, "INFO", "gave up").len(), 3, "{log}");
}

#[test]
fn a_tls_failure_is_a_warning() {
    let pki = TestPki::generate().unwrap();
    let emulator = Emulator::spawn(EmulatorConfig {
        tls: Some(TlsConfig::from_test_pki(&pki)),
        ..EmulatorConfig::default()
    })
    .unwrap();
    // The emulator's CA is not trusted.
    let client = AnyClient::new(TransportKind::Direct, ClientConfig::default()).unwrap();
    let channel = emulator.secure_channel_url("tls-0123456789abcdef").unwrap();
    let log = logged(client, &[channel], "mpns_hyper=warn");
    let tls = lines_with(&log, "WARN", "TLS failure");
    assert_eq!(tls.len(), 4, "one per attempt: {log}");
    assert!(
        tls.iter().all(|l| l.contains("kind=\"tls\"")
            && l.contains("UnknownIssuer")
            && l.contains("channel=https://127.0.0.1:")
            && l.contains("/…cdef")),
        "{log}"
    );
}

/// At warn, no span is kept (they cost CPU per notification); the warnings
/// still name the channel they are about, redacted.
#[test]
fn warnings_name_their_channel_without_spans() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    let ids = ["expired-0123456789abEXPD", "refused-0123456789abREFU"];
    emulator.set_behaviour(ids[0], Behaviour::Expired);
    emulator.set_behaviour(ids[1], Behaviour::Status(400));
    let channels: Vec<String> = ids.iter().map(|id| emulator.channel_url(id)).collect();
    let client = AnyClient::new(TransportKind::Direct, ClientConfig::default()).unwrap();
    let log = logged(client, &channels, "mpns_hyper=warn");
    assert!(!log.contains("notification{"), "no span at warn: {log}");
    let expired = lines_with(&log, "WARN", "channel expired");
    assert_eq!(expired.len(), 1, "{log}");
    assert!(
        expired[0].contains("channel=http://127.0.0.1:") && expired[0].contains("/…EXPD"),
        "{log}"
    );
    let rejected = lines_with(&log, "WARN", "rejected");
    assert_eq!(rejected.len(), 1, "{log}");
    assert!(
        rejected[0].contains("/…REFU") && !rejected[0].contains("EXPD"),
        "{log}"
    );
    assert!(!log.contains("0123456789ab"), "never a whole token: {log}");
}

/// A proxy that cannot be reached is a setting to fix: a warning naming
/// the proxy, not a debug line.
#[test]
fn a_proxy_failure_is_a_warning() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy =
        mpns_hyper::proxy::Proxy::parse(&format!("http://127.0.0.1:{port}"), "test").unwrap();
    let config = ClientConfig {
        proxy: mpns_hyper::proxy::ProxyConfig::all(proxy),
        ..ClientConfig::default()
    };
    let client = AnyClient::new(TransportKind::Direct, config).unwrap();
    let channel = emulator.channel_url("proxied-0123456789abPRXY");
    let log = logged(client, &[channel], "mpns_hyper=warn");
    let failures = lines_with(&log, "WARN", "proxy failure");
    assert!(!failures.is_empty(), "{log}");
    assert!(
        failures
            .iter()
            .all(|l| l.contains(&format!("127.0.0.1:{port}")) && l.contains("/…PRXY")),
        "{log}"
    );
    assert!(emulator.accepted().is_empty());
}

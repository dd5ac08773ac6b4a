//! What the emulator costs per request: ignored by default, run with
//!
//! ```text
//! cargo test -p mpns-hyper --release --test emulator_cost -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - `xml_parse_cost`: [`schema::parse`] alone on the bodies of two request
//!   vectors (`toast_basic`, `tile_flip_full`), ns per body.
//! - `cost_per_request`: the emulator's own CPU time per request (the sum over
//!   its threads of `/proc/self/task/*/schedstat`, Linux only) while client
//!   threads pipeline requests over keep-alive connections; raw bodies (no XML)
//!   against toasts (XML) show what parsing adds.
//!
//! Timings are printed, never asserted: timed assertions are flaky on a
//! shared machine (speed targets live in `benches/`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use mpns_hyper::emulator::schema;
use mpns_hyper::emulator::{Emulator, EmulatorConfig};

const TOAST_BASIC: &str = r#"<?xml version="1.0" encoding="utf-8"?><wp:Notification xmlns:wp="WPNotification"><wp:Toast><wp:Text1>Bold Text</wp:Text1><wp:Text2>Normal text</wp:Text2><wp:Param>/Page2.xaml?NavigatedFrom=Toast</wp:Param></wp:Toast></wp:Notification>"#;
const TILE_FLIP: &str = r#"<?xml version="1.0" encoding="utf-8"?><wp:Notification xmlns:wp="WPNotification" Version="2.0"><wp:Tile Id="/F.xaml" Template="FlipTile"><wp:SmallBackgroundImage>/s.png</wp:SmallBackgroundImage><wp:WideBackgroundImage>/w.png</wp:WideBackgroundImage><wp:WideBackBackgroundImage>/wb.png</wp:WideBackBackgroundImage><wp:WideBackContent>wide back</wp:WideBackContent><wp:BackgroundImage>/m.png</wp:BackgroundImage><wp:Count>12</wp:Count><wp:Title>Flip</wp:Title><wp:BackBackgroundImage>/mb.png</wp:BackBackgroundImage><wp:BackTitle>bt</wp:BackTitle><wp:BackContent>bc</wp:BackContent></wp:Tile></wp:Notification>"#;

#[test]
#[ignore = "timing; run with --release --ignored --nocapture"]
fn xml_parse_cost() {
    type Parse = fn(&[u8]) -> Result<schema::ReceivedPayload, schema::SchemaError>;
    let readers: [(&str, Parse); 2] = [
        ("schema::parse (compact reader)", schema::parse),
        ("schema::parse_with_serde", schema::parse_with_serde),
    ];
    for (reader, parse) in readers {
        for (name, body) in [("toast_basic", TOAST_BASIC), ("tile_flip_full", TILE_FLIP)] {
            for _ in 0..1_000 {
                parse(body.as_bytes()).unwrap();
            }
            // The best of five rounds: the machine is shared.
            let n = 10_000u32;
            let per = (0..5)
                .map(|_| {
                    let started = Instant::now();
                    for _ in 0..n {
                        std::hint::black_box(parse(std::hint::black_box(body.as_bytes())).unwrap());
                    }
                    started.elapsed() / n
                })
                .min()
                .unwrap();
            println!(
                "{reader}, {name} ({} bytes): {} ns/body",
                body.len(),
                per.as_nanos()
            );
        }
    }
}

/// CPU time of this process's threads whose name starts with `prefix`.
fn thread_cpu(prefix: &str) -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let schedstat = std::fs::read_to_string(path.join("schedstat")).ok()?;
        total += schedstat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

fn request(path: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Makes the request of client connection `c`.
type MakeRequest = dyn Fn(usize) -> Vec<u8> + Sync;

/// Pipelines `batch` requests at a time on `connections` keep-alive connections
/// for `run`; returns (requests answered, emulator CPU time).
fn load(
    addr: std::net::SocketAddr,
    threads: &str,
    make: &MakeRequest,
    connections: usize,
    batch: usize,
    run: Duration,
) -> (u64, Duration) {
    let cpu_before = thread_cpu(threads).unwrap_or_default();
    let answered: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..connections)
            .map(|c| {
                let one = make(c);
                scope.spawn(move || {
                    let burst = one.repeat(batch);
                    let mut stream = TcpStream::connect(addr).unwrap();
                    stream.set_nodelay(true).unwrap();
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut answered = 0u64;
                    let deadline = Instant::now() + run;
                    while Instant::now() < deadline {
                        stream.write_all(&burst).unwrap();
                        let mut ends = 0;
                        let mut tail = [0u8; 3];
                        while ends < batch {
                            let n = stream.read(&mut buf).unwrap();
                            assert!(n > 0, "closed");
                            // Count head ends ("\r\n\r\n"), across reads.
                            let mut joined = tail.to_vec();
                            joined.extend_from_slice(&buf[..n]);
                            ends += joined.windows(4).filter(|w| w == b"\r\n\r\n").count();
                            tail.copy_from_slice(&joined[joined.len() - 3..]);
                        }
                        answered += batch as u64;
                    }
                    answered
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let cpu = thread_cpu(threads).unwrap_or_default() - cpu_before;
    (answered, cpu)
}

/// The floor: a hyper server that reads the body and answers an empty 200
/// with four static headers, on threads named `baseline-hyper`.
fn baseline_server(workers: usize) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    use http_body_util::{BodyExt, Full};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("baseline-hyper")
        .enable_all()
        .build()
        .unwrap();
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            tokio::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    stream.set_nodelay(true).unwrap();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(
                            |request: hyper::Request<hyper::body::Incoming>| async move {
                                let _body = request.into_body().collect().await?.to_bytes();
                                let mut response =
                                    hyper::Response::new(Full::new(bytes::Bytes::new()));
                                let headers = response.headers_mut();
                                for (name, value) in [
                                    ("x-notificationstatus", "Received"),
                                    ("x-subscriptionstatus", "Active"),
                                    ("x-deviceconnectionstatus", "Connected"),
                                    ("x-messageid", "00000000-0000-0000-0000-000000000000"),
                                ] {
                                    headers.insert(
                                        hyper::header::HeaderName::from_static(name),
                                        hyper::header::HeaderValue::from_static(value),
                                    );
                                }
                                Ok::<_, hyper::Error>(response)
                            },
                        );
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
            let _ = stopped.await;
        });
        runtime.shutdown_background();
    });
    (addr, stop)
}

#[test]
#[ignore = "timing; run with --release --ignored --nocapture"]
fn cost_per_request() {
    if thread_cpu("mpns-emulator").is_none() {
        println!("no /proc/self/task/*/schedstat: skipped");
        return;
    }
    let run = Duration::from_millis(1500);
    let path = |c: usize| format!("/throttledthirdparty/01.00/C{c}");
    let raw = move |c: usize| {
        request(
            &path(c),
            "X-NotificationClass: 3\r\n",
            "<root><v>1</v></root>",
        )
    };
    let toast = move |c: usize| {
        request(
            &path(c),
            "X-WindowsPhone-Target: toast\r\nX-NotificationClass: 2\r\n",
            TOAST_BASIC,
        )
    };
    // The same toast with single quotes in the declaration: read by serde-xml-rs.
    let toast_serde = move |c: usize| {
        request(
            &path(c),
            "X-WindowsPhone-Target: toast\r\nX-NotificationClass: 2\r\n",
            &TOAST_BASIC.replacen(
                "version=\"1.0\" encoding=\"utf-8\"",
                "version='1.0' encoding='utf-8'",
                1,
            ),
        )
    };
    let tile = move |c: usize| {
        request(
            &path(c),
            "X-WindowsPhone-Target: token\r\nX-NotificationClass: 1\r\n",
            TILE_FLIP,
        )
    };
    let cases: [(&str, &MakeRequest); 5] = [
        ("baseline hyper, raw", &raw),
        ("raw 21 B", &raw),
        ("toast_basic 234 B", &toast),
        ("toast_basic, serde-xml-rs path", &toast_serde),
        ("tile_flip_full 608 B", &tile),
    ];
    for workers in [1, 2] {
        let emulator = Emulator::spawn(EmulatorConfig {
            worker_threads: workers,
            daily_quota: u32::MAX,
            ..EmulatorConfig::default()
        })
        .unwrap();
        let (baseline, stop) = baseline_server(workers);
        // (connections, requests in flight per connection)
        for (connections, batch) in [(8, 1), (4, 32)] {
            for (name, make) in cases {
                let (addr, threads) = if name.starts_with("baseline") {
                    (baseline, "baseline-hyper")
                } else {
                    (emulator.http_addr(), "mpns-emulator")
                };
                let started = Instant::now();
                let (answered, cpu) = load(addr, threads, make, connections, batch, run);
                let wall = started.elapsed();
                println!(
                    "{workers} worker(s), {connections} conn x {batch} in flight, {name}: {:.0} req/s, server CPU {:.2} µs/request",
                    answered as f64 / wall.as_secs_f64(),
                    cpu.as_secs_f64() * 1e6 / answered as f64,
                );
            }
        }
        let _ = stop.send(());
        let stats = emulator.stats();
        assert_eq!(stats.accepted, stats.requests);
        assert_eq!(stats.rejected, 0);
    }
}

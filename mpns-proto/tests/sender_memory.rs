//! What the growable sender really takes, measured as the growth of the
//! process's resident memory in a child process of its own (one per case,
//! so that nothing else allocates there and freed memory is not reused):
//!
//! - a pending notification: at most 300 bytes beyond its channel URI and
//!   body (its record, ticket, FIFO links, deadline and the tables' spare
//!   capacity), measured with 200,000 notifications on one channel;
//! - a remembered channel: at most 64 bytes (its entry, the timer that
//!   forgets it and the table's spare capacity), measured with 200,000
//!   channels that each got one notification and are kept only for their
//!   quota window.
//!
//! These are the figures of the crate docs; the budget's own counts
//! (`GrowableSender::NOTIFICATION_OVERHEAD`, `CHANNEL_ENTRY`) are what it
//! holds without the tables' spare capacity, so the real use stays within
//! twice the budget.

use std::process::Command;

use mpns_proto::{
    ChannelUri, GrowableSender, Instant, Notification, Options, Request, Response, SenderConfig,
    Toast,
};

const N: usize = 200_000;
const MODE: &str = "MPNS_SENDER_MEMORY_CASE";

fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn uri(i: usize) -> String {
    format!("http://db3.notify.live.net/throttledthirdparty/01.00/AAGvdLTQ{i:08}")
}

fn toast() -> Notification<'static> {
    Notification::Toast(Toast {
        text1: Some("Alert"),
        text2: Some("for you"),
        ..Toast::default()
    })
}

/// Runs in the child: prints the bytes per item that the case took.
#[test]
fn child_case() {
    let Ok(case) = std::env::var(MODE) else {
        return; // Only in the child process.
    };
    let mut sender = GrowableSender::new(SenderConfig::default(), 1 << 32);
    let toast = toast();
    let uris: Vec<String> = (0..N).map(uri).collect();
    let before = rss();
    match case.as_str() {
        "notifications" => {
            let one = ChannelUri::parse(&uris[0]).unwrap();
            for _ in 0..N {
                sender
                    .submit(Instant::ZERO, one, &toast, &Options::default())
                    .unwrap();
            }
            assert_eq!(sender.pending(), N);
        }
        _ => {
            let received = Response::from_parts(200, |name| {
                (name == "X-NotificationStatus").then_some(b"Received".as_slice())
            });
            for u in &uris {
                let c = ChannelUri::parse(u).unwrap();
                sender
                    .submit(Instant::ZERO, c, &toast, &Options::default())
                    .unwrap();
                let t = sender.poll_transmit(Instant::ZERO).unwrap().ticket;
                sender.handle_response(Instant::ZERO, t, &received).unwrap();
                sender.poll_event().unwrap();
            }
            assert_eq!((sender.pending(), sender.channels()), (0, N));
        }
    }
    let after = rss();
    println!("BYTES_PER_ITEM {}", (after - before) / N);
    std::hint::black_box(&sender);
}

fn measure(case: &str) -> usize {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_case",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(MODE, case)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figure = text
        .split("BYTES_PER_ITEM ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no figure in {text}"));
    figure.parse().unwrap()
}

#[test]
fn a_pending_notification_takes_at_most_300_bytes_beyond_its_request() {
    let (u, toast) = (uri(0), toast());
    let request =
        Request::notification(ChannelUri::parse(&u).unwrap(), &toast, &Options::default()).unwrap();
    let own = uri(0).len() + request.body_len();
    let per = measure("notifications");
    println!("{per} bytes per pending notification, of which {own} its URI and body");
    assert!(per >= own, "{per} < {own}: the measurement is broken");
    assert!(per - own <= 300, "{} bytes of overhead", per - own);
    assert!(per - own >= GrowableSender::NOTIFICATION_OVERHEAD / 2);
}

#[test]
fn a_remembered_channel_takes_at_most_64_bytes() {
    let per = measure("channels");
    println!("{per} bytes per remembered channel");
    assert!(per <= 64, "{per} bytes per channel");
    assert!(
        per >= GrowableSender::REMEMBERED_ENTRY,
        "{per}: the measurement is broken"
    );
}

//! Runs one hot path of `benches/response.rs` or `benches/sender.rs` N times,
//! for `valgrind --tool=callgrind` (see README.md):
//! `profile_core response|reader|sender [N] [--time]`. With `--time` it prints
//! the fastest and the median time per call over 100 batches, which a busy
//! machine disturbs less than criterion's mean.

use std::hint::black_box;

use mpns_proto::sender::Event;
use mpns_proto::{
    ChannelUri, Instant, Notification, Options, Parsed, ReaderLimits, Response, ResponseReader,
    Sender, SenderConfig, Toast, classify, parse_response,
};

/// The reply of `benches/response.rs`.
const REPLY_2015: &[u8] = b"HTTP/1.1 200 OK\r\nCache-Control: private\r\nServer: Microsoft-IIS/8.0\r\n\
X-DeviceConnectionStatus: Connected\r\nX-NotificationStatus: Received\r\nX-SubscriptionStatus: Active\r\n\
X-MessageID: 00000000-0000-0000-0000-000000000000\r\nX-AspNet-Version: 4.0.30319\r\nX-Powered-By: ASP.NET\r\n\
Date: Tue, 13 Oct 2015 10:01:12 GMT\r\nContent-Length: 0\r\n\r\n";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map_or("response", String::as_str);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let time = args.iter().any(|a| a == "--time");
    match what {
        "response" => repeat(what, n, time, |_| {
            let Ok(Parsed::Complete { response, .. }) =
                parse_response::<32>(black_box(REPLY_2015), ReaderLimits::DEFAULT, false)
            else {
                unreachable!()
            };
            black_box(classify(&response.response));
        }),
        "reader" => {
            let mut reader: ResponseReader = ResponseReader::new(ReaderLimits::DEFAULT);
            repeat(what, n, time, |_| {
                let progress = reader.feed(black_box(REPLY_2015)).unwrap();
                black_box(progress.done.map(|r| classify(&r.response)));
            });
        }
        "sender" => sender(n, time),
        _ => panic!("unknown: {what}"),
    }
}

/// Calls `op` `n` times; with `time`, in 100 batches, and prints the fastest
/// and the median nanoseconds per call.
fn repeat(what: &str, n: usize, time: bool, mut op: impl FnMut(usize)) {
    if !time {
        (0..n).for_each(op);
        return;
    }
    let batch = (n / 100).max(1);
    let mut ns: Vec<f64> = (0..100)
        .map(|b| {
            let start = std::time::Instant::now();
            (b * batch..(b + 1) * batch).for_each(&mut op);
            start.elapsed().as_nanos() as f64 / batch as f64
        })
        .collect();
    ns.sort_by(f64::total_cmp);
    println!("{what}: fastest {:.0} ns, median {:.0} ns", ns[0], ns[50]);
}

/// The cycle of `benches/sender.rs`.
fn sender(n: usize, time: bool) {
    let channels: Vec<String> = (0..64)
        .map(|i| format!("http://db3.notify.live.net/throttledthirdparty/01.00/AAGvdLTQ{i:02}"))
        .collect();
    let channels: Vec<ChannelUri<'_>> = channels
        .iter()
        .map(|c| ChannelUri::parse(c).unwrap())
        .collect();
    let toast = Notification::Toast(Toast {
        text1: Some("Bold Text"),
        text2: Some("Normal text"),
        param: Some("/Page2.xaml?NavigatedFrom=Toast"),
        sound: None,
    });
    let received = Response::from_parts(200, |name| match name {
        "X-NotificationStatus" => Some(b"Received".as_slice()),
        "X-SubscriptionStatus" => Some(b"Active".as_slice()),
        "X-DeviceConnectionStatus" => Some(b"Connected".as_slice()),
        _ => None,
    });
    let config = SenderConfig {
        quota: u32::MAX,
        ..SenderConfig::default()
    };
    let mut sender: Sender<Vec<u8>, 64, 64> = Sender::new(config, vec![0u8; 64 * 1024]);
    let mut wire = [0u8; 1024];
    repeat("sender", n, time, |i| {
        let channel = channels[i % channels.len()];
        let now = Instant::from_millis(i as u64 + 1);
        let ticket = sender
            .submit(now, channel, &toast, &Options::default())
            .unwrap();
        let t = sender.poll_transmit(now).unwrap();
        assert_eq!(t.ticket, ticket);
        let len = t.request.write_http(&mut wire).unwrap();
        black_box(&wire[..len]);
        sender
            .handle_response(now, ticket, black_box(&received))
            .unwrap();
        let event = sender.poll_event();
        assert!(matches!(event, Some(Event::Finished { .. })));
    });
}

//! Runs one encoder benchmark case N times, for instruction counts under
//! callgrind or on-CPU time under `perf stat -e task-clock`:
//! `valgrind --tool=callgrind target/release/examples/encode_count toast 10000`.
//! Cases: toast, dense, flip, raw (`encode_request`); add `2` for the two-step
//! `Request::notification` then `write_http` (`toast2`); `uri` for `ChannelUri::parse`.

use std::hint::black_box;

use mpns_benches::{
    LIVE_CHANNEL, TOAST_CHANNEL, flip_tile_full, raw_1k, toast_basic, toast_dense_escape,
};
use mpns_proto::{ChannelUri, Options, Request, encode_request};

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "toast".into());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    if case == "uri" {
        let mut ok = 0;
        for _ in 0..n {
            ok += usize::from(ChannelUri::parse(black_box(LIVE_CHANNEL)).is_ok());
        }
        println!("uri: {ok} of {n} parsed");
        return;
    }
    let (channel, notification) = match case.trim_end_matches('2') {
        "toast" => (TOAST_CHANNEL, toast_basic()),
        "dense" => (TOAST_CHANNEL, toast_dense_escape()),
        "flip" => (LIVE_CHANNEL, flip_tile_full()),
        "raw" => (LIVE_CHANNEL, raw_1k()),
        other => panic!("unknown case {other}: toast, dense, flip or raw"),
    };
    let channel = ChannelUri::parse(channel).expect("channel");
    let options = Options::default();
    let two_step = case.ends_with('2');
    let mut buf = [0u8; 4096];
    let mut total = 0;
    for _ in 0..n {
        let (channel, notification) = (black_box(channel), black_box(&notification));
        total += if two_step {
            let request = Request::notification(channel, notification, &options).expect("encodes");
            request.write_http(&mut buf).expect("fits")
        } else {
            encode_request(channel, notification, &options, &mut buf).expect("fits")
        };
        black_box(&buf);
    }
    println!("{case}: {n} requests, {total} bytes");
}

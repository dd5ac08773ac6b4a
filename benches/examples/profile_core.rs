//! Runs one hot path of `benches/response.rs` or `benches/sender.rs` N times,
//! for `valgrind --tool=callgrind` (see README.md):
//! `profile_core response|reader|sender [N] [--time]`, or
//! `profile_core growable PENDING [N] [--time]`. With `--time` it prints
//! the fastest and the median time per call over 100 batches, which a busy
//! machine disturbs less than criterion's mean.

use std::hint::black_box;

use mpns_benches::{REPLY_2015, SenderCycle};
use mpns_proto::{Parsed, ReaderLimits, ResponseReader, classify, parse_response};

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
        // `growable PENDING [N]`: the growable sender's cycle with PENDING waiting.
        "growable" => {
            let pending: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(64);
            let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
            let mut cycle = mpns_benches::GrowableCycle::new(pending);
            repeat(what, n, time, |_| cycle.run());
        }
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
    let mut cycle = SenderCycle::default();
    repeat("sender", n, time, |_| cycle.run());
}

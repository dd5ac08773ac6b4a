//! Parse and classify the real 2015 MPNS reply from raw bytes (target ≤ 300 ns).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mpns_benches::REPLY_2015;
use mpns_proto::{Outcome, Parsed, ReaderLimits, ResponseReader, classify, parse_response};

fn response(c: &mut Criterion) {
    // Check once that the benchmark measures a successful parse.
    match parse_response::<32>(REPLY_2015, ReaderLimits::DEFAULT, false) {
        Ok(Parsed::Complete { response, consumed }) => {
            assert_eq!(consumed, REPLY_2015.len());
            assert!(matches!(
                classify(&response.response),
                Outcome::Accepted { .. }
            ));
        }
        other => panic!("the 2015 reply did not parse: {other:?}"),
    }
    c.bench_function("parse_and_classify_2015_reply", |b| {
        b.iter(|| {
            let Ok(Parsed::Complete { response, .. }) =
                parse_response::<32>(black_box(REPLY_2015), ReaderLimits::DEFAULT, false)
            else {
                unreachable!()
            };
            black_box(classify(&response.response))
        })
    });
    // Scale: httparse alone on the same bytes (no_std build, 32 header slots),
    // the floor under the two benchmarks above.
    c.bench_function("httparse_only_2015_reply", |b| {
        b.iter(|| {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            black_box(
                response
                    .parse(black_box(REPLY_2015))
                    .map(|s| s.is_complete()),
            )
        })
    });
    // The keep-alive path: one reader reused across responses.
    let mut reader: ResponseReader = ResponseReader::new(ReaderLimits::DEFAULT);
    c.bench_function("reader_feed_and_classify_2015_reply", |b| {
        b.iter(|| {
            let progress = reader
                .feed(black_box(REPLY_2015))
                .unwrap_or_else(|e| panic!("{e}"));
            black_box(progress.done.map(|r| classify(&r.response)))
        })
    });
}

criterion_group!(benches, response);
criterion_main!(benches);

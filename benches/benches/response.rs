//! Parse and classify the real 2015 MPNS reply from raw bytes (target ≤ 300 ns).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mpns_proto::{Outcome, Parsed, ReaderLimits, ResponseReader, classify, parse_response};

/// The real reply of 2015 (MPNS.md section 6), as IIS sent it.
const REPLY_2015: &[u8] = b"HTTP/1.1 200 OK\r\nCache-Control: private\r\nServer: Microsoft-IIS/8.0\r\n\
X-DeviceConnectionStatus: Connected\r\nX-NotificationStatus: Received\r\nX-SubscriptionStatus: Active\r\n\
X-MessageID: 00000000-0000-0000-0000-000000000000\r\nX-AspNet-Version: 4.0.30319\r\nX-Powered-By: ASP.NET\r\n\
Date: Tue, 13 Oct 2015 10:01:12 GMT\r\nContent-Length: 0\r\n\r\n";

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

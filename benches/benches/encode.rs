//! Criterion benchmarks of the encoder: from a notification value to the bytes
//! of its HTTP/1.1 request (validate, write), into a reused stack buffer.
//!
//! The inputs live in `mpns_benches` (benches/src/lib.rs), whose tests check
//! that each of them encodes to the exact bytes of its vector.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mpns_benches::{
    FLIP_TILE_FULL_BODY_LEN, LIVE_CHANNEL, RAW_1K_BODY_LEN, TOAST_BASIC_BODY_LEN, TOAST_CHANNEL,
    flip_tile_full, raw_1k, toast_basic, toast_dense_escape,
};
use mpns_proto::{ChannelUri, EncodeError, Notification, Options, Request, encode_request};

/// Benchmarks `encode_request` (one pass into a buffer that holds any
/// request) for `notification`.
fn bench_request(
    c: &mut Criterion,
    name: &str,
    channel: &str,
    notification: &Notification<'_>,
    body_len: Option<usize>,
) {
    let channel = ChannelUri::parse(channel).expect("bench channel parses");
    let options = Options::default();
    let mut buf = [0u8; 4096];

    // Outside the timing: the input encodes, so the loop measures the success path.
    let request = Request::notification(channel, notification, &options).expect("bench input");
    if let Some(body_len) = body_len {
        assert_eq!(request.body_len(), body_len, "{name}");
    }
    let len = request.write_http(&mut buf).expect("bench buffer");
    let two_pass = buf[..len].to_vec();
    assert_eq!(
        encode_request(channel, notification, &options, &mut buf),
        Ok(len)
    );
    assert_eq!(buf[..len], two_pass[..], "{name}");

    c.bench_function(name, |b| {
        b.iter(|| -> Result<usize, EncodeError> {
            let len = encode_request(
                black_box(channel),
                black_box(notification),
                black_box(&options),
                &mut buf,
            )?;
            Ok(black_box(&buf[..len]).len())
        })
    });
}

fn encode(c: &mut Criterion) {
    bench_request(
        c,
        "toast_request",
        TOAST_CHANNEL,
        &toast_basic(),
        Some(TOAST_BASIC_BODY_LEN),
    );
    bench_request(
        c,
        "toast_dense_escape",
        TOAST_CHANNEL,
        &toast_dense_escape(),
        None,
    );
    bench_request(
        c,
        "flip_tile_full",
        LIVE_CHANNEL,
        &flip_tile_full(),
        Some(FLIP_TILE_FULL_BODY_LEN),
    );
    bench_request(c, "raw_1k", LIVE_CHANNEL, &raw_1k(), Some(RAW_1K_BODY_LEN));

    // The two-step API for structured clients: `Request::notification` (validate,
    // measure) then `write_http`.
    let channel = ChannelUri::parse(TOAST_CHANNEL).expect("bench channel parses");
    let toast = toast_basic();
    let options = Options::default();
    let mut buf = [0u8; 4096];
    c.bench_function("toast_request_two_step", |b| {
        b.iter(|| -> Result<usize, EncodeError> {
            let request =
                Request::notification(black_box(channel), black_box(&toast), black_box(&options))?;
            let len = request.write_http(&mut buf)?;
            Ok(black_box(&buf[..len]).len())
        })
    });

    // The body alone: `Notification::encode` (validate, measure, write), no headers.
    let toast = toast_basic();
    let options = Options::default();
    let mut buf = [0u8; 4096];
    assert_eq!(toast.encode(&options, &mut buf), Ok(TOAST_BASIC_BODY_LEN));
    c.bench_function("toast_body_only", |b| {
        b.iter(|| -> Result<usize, EncodeError> {
            let len = black_box(&toast).encode(black_box(&options), &mut buf)?;
            Ok(black_box(&buf[..len]).len())
        })
    });

    c.bench_function("channel_uri_parse", |b| {
        b.iter(|| ChannelUri::parse(black_box(LIVE_CHANNEL)))
    });
}

criterion_group!(benches, encode);
criterion_main!(benches);

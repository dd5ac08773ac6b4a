//! Classifying any status and header set: see `src/checks/classify.rs`.
//! Input starting with `HTTP/` is a response head (the seeds); anything else
//! is decoded with `arbitrary`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpns_fuzz::arb::{ClassifyInput, decode};
use mpns_fuzz::checks::classify;

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"HTTP/") {
        classify::check_http(data);
    } else if let Some(input) = decode::<ClassifyInput<'_>>(data) {
        classify::check(&input.input());
    }
});

//! Channel URI parsing: see `src/checks/channel_uri.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mpns_fuzz::checks::channel_uri::check(data));

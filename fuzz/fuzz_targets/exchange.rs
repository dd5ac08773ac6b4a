//! The I/O-free exchange over a buffer: see `src/checks/exchange.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mpns_fuzz::checks::exchange::check(data));

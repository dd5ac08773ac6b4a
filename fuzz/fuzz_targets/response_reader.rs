//! The incremental response reader: see `src/checks/response_reader.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mpns_fuzz::checks::response_reader::check(data));

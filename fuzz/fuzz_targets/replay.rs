//! A sender rebuilt from a journal of records: see `src/checks/replay.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mpns_fuzz::checks::replay::check(data));

//! Restoring a sender from any bytes: see `src/checks/snapshot.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mpns_fuzz::checks::snapshot::check(data));

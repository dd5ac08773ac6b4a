//! The sender state machine: see `src/checks/sender.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mpns_fuzz::checks::sender::check(data));

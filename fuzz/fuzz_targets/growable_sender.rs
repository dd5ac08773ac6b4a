//! The growable sender state machine, under the same model as `sender`: see
//! `src/checks/sender.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mpns_fuzz::checks::sender::check_growable(data));

//! Encoding any notification and options: see `src/checks/encode.rs`.
//! Input starting with `[` is the JSON form of the seeds; anything else is
//! decoded with `arbitrary`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpns_fuzz::arb::{EncodeInput, decode};
use mpns_fuzz::checks::encode;

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'[') {
        encode::check_json(data);
    } else if let Some(input) = decode::<EncodeInput<'_>>(data) {
        encode::check(
            encode::channel(input.channel),
            &input.notification,
            &input.options(),
        );
    }
});

//! The firmware's work (`firmware/src/scenario.rs`, linked from `tests/firmware/`) on the host: the same
//! source the Cortex-M4 firmwares run, with the same expected steps, so a
//! 32-bit-only difference (the compact escape tables, the out-of-line copies,
//! the division-free time arithmetic) shows as a difference between the two.

// With the `defmt` feature the crate logs through defmt: link a logger.
#[cfg(feature = "defmt")]
use mpns_embedded_defmt_sink as _;

#[allow(dead_code, unreachable_pub)]
#[path = "firmware/scenario.rs"]
mod scenario;

use mpns_proto::{DeviceStatus, Outcome};
use scenario::{EXPECTED_STEPS, Step, four_notifications, one_shot};

#[test]
fn the_one_shot_toast_is_accepted() {
    let mut buf = [0u8; 768];
    assert_eq!(
        one_shot(&mut buf),
        Some(Outcome::Accepted {
            device: Some(DeviceStatus::Connected)
        })
    );
}

#[test]
fn the_sender_run_takes_the_expected_steps() {
    let mut arena = [0u8; 4 * 768];
    let mut buf = [0u8; 768];
    let mut steps = Vec::new();
    let accepted = four_notifications(&mut arena, &mut buf, |now, event| {
        steps.push(Step::of(now, event));
    });
    assert_eq!(steps, EXPECTED_STEPS);
    assert_eq!(accepted, 4);
}

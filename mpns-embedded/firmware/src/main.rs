//! Example firmware for a Cortex-M4F gateway (`thumbv7em-none-eabihf`), and
//! the proof that mpns-embedded needs no allocator: there is no global
//! allocator here, so it only links if nothing allocates.
//!
//! It runs [`scenario`]: encodes a toast, sends it over an in-memory
//! `embedded-io` stream that answers like MPNS and classifies the response,
//! then runs a 4-notification `Sender` through a `Gateway`, with a fake clock,
//! until every notification has ended.
//!
//! Without the `semihosting` feature (what a board ships, and what CI's size
//! guard measures) results go to [`core::hint::black_box`] so the optimizer
//! keeps the work; on a board, log them or blink an LED instead. With it (the
//! default), it prints its results and its peak stack over semihosting and
//! exits 0 only when the results are right: run it under QEMU, see README.md.
//!
//! Build: `cargo build --release` in this directory (see `.cargo/config.toml`).
#![no_std]
#![no_main]
// Unsafe code: what cortex-m-rt's `#[entry]` and `#[exception]` generate.
#![deny(unsafe_code)]

use core::hint::black_box;
use core::panic::PanicInfo;

use cortex_m_rt::entry;
// A module of this binary, not of the library: across the crate boundary
// the optimizer inlines less, and the image is 256 bytes larger.
#[allow(dead_code)] // the steps are for the vectors firmware and the host test
mod scenario;

use scenario::{four_notifications, one_shot};
// Linked for its interrupt vector table (`rt`): the device this firmware is for.
use stm32f4 as _;

#[entry]
fn main() -> ! {
    // cortex-m-rt turns these into `&'static mut` without unsafe code.
    static mut ARENA: [u8; 4 * 768] = [0; 4 * 768];
    static mut BUF: [u8; 768] = [0; 768];

    let outcome = one_shot(BUF);
    black_box(outcome);
    let accepted = four_notifications(ARENA, BUF, |_, _| {});
    black_box(accepted);
    #[cfg(feature = "semihosting")]
    report(outcome, accepted);
    #[cfg(not(feature = "semihosting"))]
    loop {
        core::hint::spin_loop();
    }
}

/// Checks and prints the results and the peak stack, and ends QEMU.
#[cfg(feature = "semihosting")]
fn report(outcome: Option<mpns_proto::Outcome>, accepted: u32) -> ! {
    use mpns_embedded_firmware::qemu;
    use mpns_proto::{DeviceStatus, Outcome};
    // Read first: the printing below uses stack of its own.
    let peak = qemu::peak_stack();
    let one_ok = outcome
        == Some(Outcome::Accepted {
            device: Some(DeviceStatus::Connected),
        });
    qemu::line(format_args!(
        "one shot: {:?}: {}",
        outcome,
        if one_ok { "ok" } else { "WRONG" }
    ));
    qemu::line(format_args!(
        "sender: {accepted} of 4 accepted: {}",
        if accepted == 4 { "ok" } else { "WRONG" }
    ));
    qemu::line(format_args!("peak stack: {peak} bytes"));
    qemu::exit(one_ok && accepted == 4)
}

#[cfg(feature = "semihosting")]
// cortex-m-rt requires a HardFault handler to be declared `unsafe fn`.
#[allow(unsafe_code)]
#[cortex_m_rt::exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    mpns_embedded_firmware::qemu::hard_fault(frame.pc())
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    #[cfg(feature = "semihosting")]
    mpns_embedded_firmware::qemu::panicked(info);
    #[cfg(not(feature = "semihosting"))]
    {
        let _ = info;
        loop {
            core::hint::spin_loop();
        }
    }
}

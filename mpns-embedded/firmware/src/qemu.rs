//! Reporting under QEMU (or a debug probe): lines and the exit status over
//! semihosting, and the peak stack.
//!
//! The `semihosting` feature turns on cortex-m-rt's `paint-stack`: at reset,
//! before `main`, every word between `_stack_end` (the end of static RAM)
//! and `_stack_start` (the top of RAM, the initial stack pointer) is written
//! with `0xCCCC_CCCC`. [`peak_stack`] scans up from `_stack_end` for the first
//! word that no longer holds it: everything above was used as stack at some
//! point. A frame that reserves stack and never writes part of it is not
//! seen, so the figure can be low by such unwritten space, never high.

use core::fmt::Arguments;

use cortex_m_semihosting::{debug, hprintln};

/// cortex-m-rt's paint value (`cortex_m_rt::STACK_PAINT_VALUE`).
const PAINT: u32 = 0xcccc_cccc;

#[allow(unsafe_code)]
mod symbols {
    // SAFETY: cortex-m-rt's linker script defines both; only their addresses
    // are taken, never their values.
    unsafe extern "C" {
        pub(super) static _stack_end: u32;
        pub(super) static _stack_start: u32;
    }
}

/// Bytes of stack used since reset: the highest the stack has reached.
#[allow(unsafe_code)]
pub fn peak_stack() -> usize {
    let bottom = (&raw const symbols::_stack_end) as usize;
    let top = (&raw const symbols::_stack_start) as usize;
    let mut at = bottom;
    while at < top {
        // SAFETY: an aligned word of RAM between the end of static data and
        // the top of the stack; read volatile because the compiler does not
        // know the reset handler wrote it.
        if unsafe { core::ptr::read_volatile(at as *const u32) } != PAINT {
            break;
        }
        at += 4;
    }
    top - at
}

/// Prints a line on the host's standard output.
pub fn line(args: Arguments<'_>) {
    hprintln!("{}", args);
}

/// Prints `PASS` or `FAIL` and ends QEMU with status 0 or 1.
pub fn exit(ok: bool) -> ! {
    hprintln!("{}", if ok { "PASS" } else { "FAIL" });
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Reached only if the host did not end the program.
    loop {
        core::hint::spin_loop();
    }
}

/// Reports a panic and ends QEMU with status 1.
pub fn panicked(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("panic: {}", info);
    exit(false)
}

/// Reports a HardFault and ends QEMU with status 1.
pub fn hard_fault(pc: u32) -> ! {
    hprintln!("HardFault at pc {:#010x}", pc);
    exit(false)
}

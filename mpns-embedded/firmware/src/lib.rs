//! What the firmware binaries share besides their work (`src/scenario.rs`,
//! a module of each binary): with the `semihosting` feature, the stack's
//! high-water mark and the verdict for QEMU ([`qemu`]).
#![no_std]
// Only `qemu` reads memory by address (the painted stack); it allows unsafe
// code there, with its reasons.
#![deny(unsafe_code)]

#[cfg(feature = "semihosting")]
pub mod qemu;

//! A defmt global logger for host tests: defmt's frames go nowhere.
//!
//! On a microcontroller a transport (RTT, semihosting, a UART) defines
//! defmt's logger; a host test binary has none, and with mpns-embedded's
//! `defmt` feature on it would not link. The tests link this crate when
//! that feature is on (`use mpns_embedded_defmt_sink as _;`, in every test
//! file and in the doc tests that run the crate).

#![no_std]

#[defmt::global_logger]
struct Sink;

// SAFETY: the methods keep no state, so any interleaving of calls is sound.
unsafe impl defmt::Logger for Sink {
    fn acquire() {}
    unsafe fn flush() {}
    unsafe fn release() {}
    unsafe fn write(_bytes: &[u8]) {}
}

defmt::timestamp!("");

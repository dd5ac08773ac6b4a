//! Time as a value: the core never reads a clock.
//!
//! An [`Instant`] counts milliseconds from an arbitrary start chosen by the
//! caller (boot, the Unix epoch, a test's zero). Only differences matter, so
//! any monotonic millisecond clock works.

use core::fmt;
use core::ops::{Add, Sub};

/// A point in time, in milliseconds since the caller's chosen start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Instant(u64);

impl Instant {
    /// The start of the caller's clock.
    pub const ZERO: Instant = Instant(0);

    /// An instant `ms` milliseconds after the start.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    /// An instant `s` seconds after the start.
    pub const fn from_secs(s: u64) -> Self {
        Instant(s.saturating_mul(1000))
    }

    /// Milliseconds since the start.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

/// A span of time in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Duration(u64);

impl Duration {
    /// No time.
    pub const ZERO: Duration = Duration(0);

    /// `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration(ms)
    }

    /// `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        Duration(s.saturating_mul(1000))
    }

    /// `m` minutes.
    pub const fn from_mins(m: u64) -> Self {
        Duration(m.saturating_mul(60_000))
    }

    /// `h` hours.
    pub const fn from_hours(h: u64) -> Self {
        Duration(h.saturating_mul(3_600_000))
    }

    /// Whole milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds, rounded down.
    pub fn as_secs(self) -> u64 {
        div_rem(self.0, 1000).0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the end of time rather than wrapping.
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero.
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_since(earlier)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

/// `(n / d, n % d)` for `d > 0` (`(0, 0)` for `d == 0`).
///
/// On 32-bit targets a 64-bit division is a call into the compiler's runtime
/// library, about 1 KiB of flash on a Cortex-M4; this uses the hardware's
/// 32-bit division when both fit, and shift-and-subtract otherwise (the
/// sender divides times a few times per send, never in a loop).
#[inline]
pub(crate) fn div_rem(n: u64, d: u64) -> (u64, u64) {
    if d == 0 {
        return (0, 0);
    }
    if cfg!(target_pointer_width = "64") {
        return (n / d, n % d);
    }
    match (u32::try_from(n), u32::try_from(d)) {
        (Ok(n), Ok(d)) => (u64::from(n / d), u64::from(n % d)),
        _ => long_div_rem(n, d),
    }
}

/// Shift-and-subtract division, `d > 0`.
fn long_div_rem(n: u64, d: u64) -> (u64, u64) {
    let (mut quotient, mut rest) = (0u64, 0u64);
    for bit in (0..64).rev() {
        // `rest < d` before the shift, so a carry out of it means `rest >= d`.
        let carry = rest >> 63;
        rest = (rest << 1) | ((n >> bit) & 1);
        if carry == 1 || rest >= d {
            rest = rest.wrapping_sub(d);
            quotient |= 1 << bit;
        }
    }
    (quotient, rest)
}

#[cfg(test)]
mod tests {
    use super::long_div_rem;

    #[test]
    fn long_division_is_exact() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..20_000 {
            let n = next() >> (i % 64);
            let d = (next() >> (next() % 64)).max(1);
            assert_eq!(long_div_rem(n, d), (n / d, n % d), "{n} / {d}");
        }
        for (n, d) in [
            (u64::MAX, 1),
            (u64::MAX, u64::MAX),
            (u64::MAX, 3),
            (0, 7),
            (5, 1 << 63),
            (u64::MAX, (1 << 63) + 1),
        ] {
            assert_eq!(long_div_rem(n, d), (n / d, n % d), "{n} / {d}");
        }
    }
}

//! The checks behind the fuzz targets.
//!
//! This directory is compiled twice: into the fuzz crate (`mpns_fuzz::checks`),
//! where `fuzz_targets/*.rs` call it, and into mpns-proto's test suite
//! (`mpns-proto/tests/fuzz_regressions.rs` includes it with `#[path]`), where
//! every crash the fuzzers found is replayed through the very same check. So it
//! only uses crates that mpns-proto's tests have too: mpns-proto (with serde),
//! httparse, quick-xml, postcard and serde_json; never `arbitrary` (that is
//! `src/arb.rs`, fuzz crate only).
//!
//! A check panics (an assertion) when an invariant breaks; that is the finding.

pub mod channel_uri;
pub mod classify;
pub mod encode;
pub mod exchange;
pub mod replay;
pub mod response_reader;
pub mod seeds;
pub mod sender;
pub mod snapshot;

/// Fuzz input read from the front: integers and slices, zero or empty once exhausted.
#[derive(Clone, Debug)]
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    /// Reads `data` from its start.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte, or 0.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// The next four bytes, little-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// The next eight bytes, little-endian.
    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }
}

/// Whether XML 1.0 allows the character at all (the `Char` production).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        || c >= '\u{10000}'
}

/// Whether `MPNS_FUZZ_TRACE` is set: the checks then print what they do (for
/// reading a crash input; see README.md).
pub fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MPNS_FUZZ_TRACE").is_some())
}

/// Prints the message `f` makes, when [`tracing`].
pub fn trace(f: impl FnOnce() -> String) {
    if tracing() {
        eprintln!("{}", f());
    }
}

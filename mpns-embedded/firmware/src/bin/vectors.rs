//! The core's vectors on the target: run under QEMU (see README.md), it
//! checks, on a Cortex-M4,
//!
//! - every request vector of `mpns-proto/tests/vectors/requests.jsonl`:
//!   request line, exactly the listed headers, the body, or the refusal;
//! - every response vector of `responses.jsonl` through `ResponseReader` and
//!   `classify`, whole, split in two at several points, byte by byte and in
//!   7-byte reads;
//! - the example's work (`scenario.rs`): the one-shot toast and the
//!   4-notification sender run with the fake clock, step by step as a
//!   64-bit host takes them (`mpns-embedded/tests/firmware_scenario.rs`).
//!
//! It prints one line per case, its peak stack, `PASS` or `FAIL`, and exits
//! 0 only when every case passed. `build.rs` turns the JSONL files into the
//! tables included below.
#![no_std]
#![no_main]
// Unsafe code: what cortex-m-rt's `#[entry]` and `#[exception]` generate.
#![deny(unsafe_code)]

use core::fmt::{self, Debug, Write as _};
use core::panic::PanicInfo;

use cortex_m_rt::entry;
use mpns_embedded_firmware::qemu;
use mpns_proto::{
    ChannelUri, DeviceStatus, Outcome, ReadResponse, ReaderLimits, ResponseReader, classify,
    encode_request,
};
// Linked for its interrupt vector table (`rt`): the device this firmware is for.
use stm32f4 as _;

#[allow(dead_code)] // the example's part of it is not used here
#[path = "../scenario.rs"]
mod scenario;

// The notification of each request vector, shared with the host tests.
#[path = "../../../../mpns-proto/tests/vectors/notifications.rs"]
mod notifications;
use notifications::notification;

/// A line of `requests.jsonl`.
struct RequestVector {
    case: &'static str,
    /// The `--channel` argument.
    channel: &'static str,
    /// `None`: the encoder must refuse.
    expected: Option<Expected>,
}

struct Expected {
    target: &'static str,
    /// Lower-case names and exact values.
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
}

/// A line of `responses.jsonl`.
struct ResponseVector {
    case: &'static str,
    response: &'static str,
    /// `Debug` text of the outcome.
    outcome: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/vectors.rs"));

fn check_request(v: &RequestVector, buf: &mut [u8]) -> Result<(), &'static str> {
    let (n, o) = notification(v.case).ok_or("no notification for this case here")?;
    let len = ChannelUri::parse(v.channel)
        .ok()
        .and_then(|c| encode_request(c, &n, &o, buf).ok());
    match (&v.expected, len) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err("encoded a request the vector refuses"),
        (Some(_), None) => Err("refused"),
        (Some(e), Some(len)) => check_wire(e, buf.get(..len).ok_or("length")?),
    }
}

fn check_wire(e: &Expected, wire: &[u8]) -> Result<(), &'static str> {
    let split = wire
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of head")?;
    let head = core::str::from_utf8(&wire[..split]).map_err(|_| "head not UTF-8")?;
    if &wire[split + 4..] != e.body.as_bytes() {
        return Err("body");
    }
    let mut lines = head.split("\r\n");
    let line = lines.next().ok_or("no request line")?;
    let target = line
        .strip_prefix("POST ")
        .and_then(|l| l.strip_suffix(" HTTP/1.1"));
    if target != Some(e.target) {
        return Err("request line");
    }
    let mut sent = 0;
    for line in lines {
        let (name, value) = line.split_once(": ").ok_or("header line")?;
        let listed = e
            .headers
            .iter()
            .any(|&(n, v)| n.eq_ignore_ascii_case(name) && v == value);
        if !listed {
            return Err("a header not listed, or its value");
        }
        sent += 1;
    }
    if sent != e.headers.len() {
        return Err("number of headers");
    }
    Ok(())
}

/// How a response is cut into reads.
#[derive(Clone, Copy, Debug)]
enum Reads {
    /// Two reads, split at this offset.
    SplitAt(usize),
    /// Reads of this many bytes.
    Chunks(usize),
}

/// Reads `bytes` as `reads` say, then ends the stream: the outcome of the
/// one response they hold.
fn read(bytes: &[u8], reads: Reads) -> Result<Outcome, &'static str> {
    let mut reader: ResponseReader = ResponseReader::new(ReaderLimits::DEFAULT);
    let mut buf = [0u8; 512];
    let mut len = 0;
    let mut done: Option<ReadResponse> = None;
    let mut responses = 0;
    let mut at = 0;
    while at < bytes.len() {
        let end = match reads {
            Reads::SplitAt(i) if at < i => i,
            Reads::SplitAt(_) => bytes.len(),
            Reads::Chunks(n) => (at + n).min(bytes.len()),
        };
        let piece = &bytes[at..end];
        at = end;
        buf.get_mut(len..len + piece.len())
            .ok_or("response too long for the buffer")?
            .copy_from_slice(piece);
        len += piece.len();
        loop {
            let progress = reader.feed(&buf[..len]).map_err(|_| "read error")?;
            buf.copy_within(progress.consumed..len, 0);
            len -= progress.consumed;
            match progress.done {
                Some(r) => {
                    responses += 1;
                    done = Some(r);
                }
                None => break,
            }
        }
    }
    if let Some(r) = reader.finish().map_err(|_| "read error at the end")? {
        responses += 1;
        done = Some(r);
    }
    if len != 0 {
        return Err("bytes left over");
    }
    match (responses, done) {
        (1, Some(r)) => Ok(classify(&r.response)),
        _ => Err("not exactly one response"),
    }
}

/// Compares `Debug` output with a text as it is written, without a buffer.
struct Matches<'a> {
    rest: &'a str,
    ok: bool,
}

impl fmt::Write for Matches<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match self.rest.strip_prefix(s) {
            Some(rest) => self.rest = rest,
            None => self.ok = false,
        }
        Ok(())
    }
}

fn debug_is(value: &impl Debug, text: &str) -> bool {
    let mut m = Matches {
        rest: text,
        ok: true,
    };
    let _ = write!(m, "{value:?}");
    m.ok && m.rest.is_empty()
}

fn check_response(v: &ResponseVector) -> bool {
    let bytes = v.response.as_bytes();
    let n = bytes.len();
    let readings = [
        Reads::Chunks(n),
        Reads::SplitAt(1),
        Reads::SplitAt(n / 3),
        Reads::SplitAt(n / 2),
        Reads::SplitAt(n - 1),
        Reads::Chunks(1),
        Reads::Chunks(7),
    ];
    for reads in readings {
        match read(bytes, reads) {
            Ok(outcome) if debug_is(&outcome, v.outcome) => {}
            Ok(outcome) => {
                qemu::line(format_args!(
                    "response {}: FAIL: {reads:?}: {outcome:?}, expected {}",
                    v.case, v.outcome
                ));
                return false;
            }
            Err(e) => {
                qemu::line(format_args!("response {}: FAIL: {reads:?}: {e}", v.case));
                return false;
            }
        }
    }
    qemu::line(format_args!(
        "response {}: ok ({} readings)",
        v.case,
        readings.len()
    ));
    true
}

/// The example's work, checked against the steps a 64-bit host takes.
fn check_scenario(arena: &mut [u8], buf: &mut [u8]) -> bool {
    let one = scenario::one_shot(buf);
    let one_ok = one
        == Some(Outcome::Accepted {
            device: Some(DeviceStatus::Connected),
        });
    qemu::line(format_args!(
        "sender one shot: {}: {one:?}",
        if one_ok { "ok" } else { "FAIL" }
    ));
    let mut steps = [scenario::Step::Other(0); 8];
    let mut len = 0;
    let accepted = scenario::four_notifications(arena, buf, |now, event| {
        if let Some(s) = steps.get_mut(len) {
            *s = scenario::Step::of(now, event);
        }
        len += 1;
    });
    let run_ok = accepted == 4 && steps.get(..len) == Some(&scenario::EXPECTED_STEPS[..]);
    qemu::line(format_args!(
        "sender run: {}: {accepted} accepted, steps {:?}",
        if run_ok { "ok" } else { "FAIL" },
        steps.get(..len.min(steps.len()))
    ));
    one_ok && run_ok
}

#[entry]
fn main() -> ! {
    // cortex-m-rt turns these into `&'static mut` without unsafe code.
    static mut ARENA: [u8; 4 * 768] = [0; 4 * 768];
    static mut BUF: [u8; 2048] = [0; 2048];

    let (mut passed, mut cases) = (0, 0);
    for v in REQUESTS {
        cases += 1;
        match check_request(v, BUF) {
            Ok(()) => {
                passed += 1;
                qemu::line(format_args!("request {}: ok", v.case));
            }
            Err(e) => qemu::line(format_args!("request {}: FAIL: {e}", v.case)),
        }
    }
    for v in RESPONSES {
        cases += 1;
        passed += u32::from(check_response(v));
    }
    cases += 1;
    passed += u32::from(check_scenario(ARENA, BUF));

    let peak = qemu::peak_stack();
    qemu::line(format_args!("{passed} of {cases} cases passed"));
    qemu::line(format_args!("peak stack: {peak} bytes"));
    qemu::exit(passed == cases && !REQUESTS.is_empty() && !RESPONSES.is_empty())
}

// cortex-m-rt requires a HardFault handler to be declared `unsafe fn`.
#[allow(unsafe_code)]
#[cortex_m_rt::exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    qemu::hard_fault(frame.pc())
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    qemu::panicked(info)
}

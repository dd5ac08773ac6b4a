//! The fuzz targets' checks in the normal test suite.
//!
//! `fuzz/src/checks/` is compiled here as it is in the fuzz crate, so every
//! input below runs through exactly the check that found it:
//!
//! - every seed built by `checks::seeds`, and every committed corpus file:
//!   the `seed-*` files of `fuzz/corpus/<target>/` (`.gitignore` keeps only
//!   those), crashes found by the fuzzers (`seed-crash-*`) included. The other
//!   files a local fuzzing run leaves there are not committed and are replayed
//!   only with `MPNS_FUZZ_CORPUS=all`;
//! - one test per finding, with the exact input (for the `arbitrary`-decoded
//!   targets, the decoded value).
//!
//! Rewrite the seed files with
//! `cargo test -p mpns-proto --test fuzz_regressions -- --ignored write_seeds`.

#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../fuzz/src/checks/mod.rs"]
mod checks;

use std::path::PathBuf;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus")
}

/// Runs `bytes` through the check of `target`, as its fuzz target would
/// (the `arbitrary` modes of `encode` and `classify` are left to the fuzz crate).
fn run(target: &str, bytes: &[u8]) {
    let (_, check) = checks::seeds::TARGETS
        .iter()
        .find(|(t, _)| *t == target)
        .unwrap_or_else(|| panic!("no target {target}"));
    match target {
        "encode" if bytes.first() != Some(&b'[') => {}
        "classify" if !bytes.starts_with(b"HTTP/") => {}
        _ => check(bytes),
    }
}

/// Runs every input, then fails naming each one whose check panicked.
fn run_all(inputs: impl IntoIterator<Item = (String, &'static str, Vec<u8>)>) -> usize {
    let mut failed = Vec::new();
    let mut count = 0;
    for (name, target, bytes) in inputs {
        count += 1;
        if std::panic::catch_unwind(|| run(target, &bytes)).is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "checks failed for {failed:?}");
    count
}

#[test]
fn seeds_pass() {
    let seeds = checks::seeds::all();
    for (target, name, bytes) in &seeds {
        assert!(
            checks::seeds::decodes(target, bytes),
            "{target}/seed-{name} is noise"
        );
    }
    let seeds = seeds
        .into_iter()
        .map(|(target, name, bytes)| (format!("{target}/seed-{name}"), target, bytes));
    run_all(seeds);
}

/// The committed corpus: every `seed-*` file (the only files `.gitignore`
/// lets git keep under `fuzz/corpus/`), and with `MPNS_FUZZ_CORPUS=all`
/// every other file there too (what local fuzzing runs kept).
#[test]
fn committed_corpus_passes() {
    let everything = std::env::var_os("MPNS_FUZZ_CORPUS").is_some_and(|v| v == "all");
    let mut files = Vec::new();
    let mut per_target = Vec::new();
    for &(target, _) in &checks::seeds::TARGETS {
        let dir = corpus().join(target);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus directory {}: {e}", dir.display()));
        let mut count = 0;
        for entry in entries {
            let path = entry.expect("corpus entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if everything || name.starts_with("seed-") {
                let bytes = std::fs::read(&path).expect("corpus file");
                files.push((format!("{target}/{name}"), target, bytes));
                count += 1;
            }
        }
        assert!(count > 0, "no corpus for {target} in {}", dir.display());
        per_target.push((target, count));
    }
    let count = run_all(files);
    println!("replayed {count} corpus files: {per_target:?}");
}

/// Every seed `checks::seeds` builds is committed, byte for byte, so the
/// committed corpus is not stale (rewrite it with `write_seeds`).
#[test]
fn committed_seeds_are_current() {
    let mut stale = Vec::new();
    for (target, name, bytes) in checks::seeds::all() {
        let path = corpus().join(target).join(format!("seed-{name}"));
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            stale.push(format!("{target}/seed-{name}"));
        }
    }
    assert!(stale.is_empty(), "missing or stale seeds: {stale:?}");
}

#[test]
#[ignore = "writes fuzz/corpus/*/seed-*; run it by name after changing the seeds"]
fn write_seeds() {
    for (target, name, bytes) in checks::seeds::all() {
        let dir = corpus().join(target);
        std::fs::create_dir_all(&dir).expect("corpus directory");
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("seed file");
    }
}

// ---- findings ---------------------------------------------------------------
//
// One test per finding, with the exact input, through the same check. The
// byte inputs are also in the corpus as `seed-crash-*`.

use mpns_proto::{Duration, MessageId, ReaderLimits, RetryPolicy};

/// response_reader: an invalid byte or a header past `max_head_len` is
/// `Malformed` / `TooManyHeaders` when the head arrives in one piece, but
/// `HeadTooLarge` when it arrives in pieces: the error depends on how TCP
/// segments the stream. (http.rs parses all of `rest`, not its first
/// `max_head_len` bytes.)
#[test]
fn reader_head_limit_error_does_not_depend_on_segmentation() {
    let limits = ReaderLimits {
        max_head_len: 8,
        max_trailer_len: 0,
    };
    checks::response_reader::check_stream::<32>(b"HTTP/1.1 200 OK\r\n\x01\r\n\r\n", limits, 0, 0);
}

/// response_reader: the same for a chunk-size line longer than the limit
/// with an invalid byte after it: `BadChunk(Size)` whole, `ChunkLineTooLong`
/// in pieces (http.rs gives `httparse::parse_chunk_size` all of `rest`).
#[test]
fn reader_chunk_line_limit_error_does_not_depend_on_segmentation() {
    let limits = ReaderLimits {
        max_head_len: 48,
        max_trailer_len: 0,
    };
    let mut stream = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    stream.extend_from_slice(b"1");
    stream.extend_from_slice(&[b' '; 60]);
    stream.extend_from_slice(b"\x01\r\n");
    checks::response_reader::check_stream::<32>(&stream, limits, 0, 0);
}

/// classify: `Retry-After` of more than ten digits is ignored, so the sender
/// retries after its own 1 min instead of the longer time the server asked
/// for (a larger request gives a shorter wait than `4294967295`).
#[test]
fn retry_after_beyond_ten_digits_is_honoured() {
    for value in ["99999999999", "5211883372763433032", "00000000000120"] {
        checks::classify::check(&checks::classify::Input {
            status: 503,
            headers: vec![("reTrY-AfteR".to_string(), value.as_bytes().to_vec())],
            policy: RetryPolicy::DEFAULT,
            failures: 1,
            jitter: 0,
            sent: Some(MessageId::NIL),
        });
    }
}

/// classify: the points `docs/protocol.md` states precisely ("Reading a
/// response", "What each response means", "Retries and backoff"), each
/// through the oracle: which whitespace and letter case are ignored, `N/A`
/// spelled loosely, UUIDs and `Retry-After` with whitespace around them, 406
/// and 412 whatever their headers, statuses below 100, and the delays of odd
/// policies (a count of 0, `base` over `cap`, jitter over 100 %, the jitter's
/// sign on a channel pause, the longest durations).
#[test]
fn classify_edges_the_doc_states() {
    let values: [&[u8]; 18] = [
        b"in\x0bactive",
        b"in\x0cactive",
        b"\r\nInActive\r\n",
        b"in\xc2\xa0active",
        "\u{17f}uppressed".as_bytes(),
        b" N / a ",
        b" \t ",
        b"\x0b",
        b"Temporarily Disconnected",
        b"\x0c0123abcd-89AB-cdef-0123-456789abcdef\r",
        b"\x0b0123abcd-89ab-cdef-0123-456789abcdef",
        b"{0123abcd-89ab-cdef-0123-456789abcdef}",
        b" 120\t",
        b"\x0b120",
        b"+120",
        b"000000000000000000000120",
        b"1.5",
        b"Wed, 21 Oct 2015 07:28:00 GMT",
    ];
    let policies = [
        RetryPolicy::DEFAULT,
        RetryPolicy {
            base: Duration::from_mins(10),
            cap: Duration::from_mins(5),
            channel_pause: Duration::from_mins(1),
            jitter_percent: 200,
        },
        RetryPolicy {
            base: Duration::from_millis(u64::MAX),
            cap: Duration::from_millis(u64::MAX),
            channel_pause: Duration::from_millis(u64::MAX),
            jitter_percent: 255,
        },
    ];
    for status in [0, 99, 200, 404, 406, 412, 503] {
        for value in values {
            for policy in policies {
                for (failures, jitter) in [(0, -1000), (1, -1000), (2, -500), (3, 1000)] {
                    let headers = [
                        "X-NotificationStatus",
                        "X-SubscriptionStatus",
                        "X-DeviceConnectionStatus",
                        "X-MessageID",
                        "Retry-After",
                    ]
                    .map(|name| (name.to_string(), value.to_vec()))
                    .to_vec();
                    checks::classify::check(&checks::classify::Input {
                        status,
                        headers,
                        policy,
                        failures,
                        jitter,
                        sent: None,
                    });
                }
            }
        }
    }
}

/// classify: exponential backoff stopped doubling after 64 failures, at
/// `base × 2^63`, although `cap` is longer (`docs/protocol.md`, "Retries and
/// backoff": `base × 2^(n-1)` or `cap`, whichever is shorter): 2^63 ms
/// instead of the cap, `u64::MAX` ms. Found by the oracle written from the doc.
#[test]
fn exponential_backoff_doubles_up_to_a_cap_beyond_2_pow_63() {
    for failures in [65, 66, u32::MAX] {
        checks::classify::check(&checks::classify::Input {
            status: 503,
            headers: Vec::new(),
            policy: RetryPolicy {
                base: Duration::from_millis(1),
                cap: Duration::from_millis(u64::MAX),
                ..RetryPolicy::DEFAULT
            },
            failures,
            jitter: 0,
            sent: None,
        });
    }
}

/// sender: with `max_attempts: 1`, a toast is sent (attempt 1), the sender
/// is snapshotted while it is in flight and restored: the restored sender
/// sends it again as attempt 2, past `max_attempts`.
#[test]
fn restore_does_not_send_past_max_attempts() {
    checks::sender::check(include_bytes!(
        "../../fuzz/corpus/sender/seed-crash-resent-after-restore-beyond-max-attempts"
    ));
}

/// snapshot_restore: a snapshot whose `next_ticket` is `u64::MAX` restores,
/// and the next submit overflows it (`next_ticket += 1`: a panic with
/// overflow checks, a wrapped ticket 0 and then duplicate tickets without).
/// The input is `seed-empty` with `next_ticket` set to `u64::MAX`, then a
/// submit to channel 0.
#[test]
fn restored_ticket_counter_never_overflows() {
    checks::snapshot::check(include_bytes!(
        "../../fuzz/corpus/snapshot_restore/seed-crash-next-ticket-at-max"
    ));
}

/// snapshot_restore: a snapshot with a zero quota window (one bucket per
/// millisecond, so a bucket's index is the time) and a clock 35 ms before
/// the end of time restores; sending then asks when the quota frees, and
/// `bucket + 25` overflowed (a panic with overflow checks). Both quota
/// deadlines now saturate at the end of time.
#[test]
fn a_quota_window_of_milliseconds_at_the_end_of_time_never_overflows() {
    checks::snapshot::check(include_bytes!(
        "../../fuzz/corpus/snapshot_restore/seed-crash-quota-window-at-end-of-time"
    ));
}

/// snapshot_restore: the same for `next_order` (the order of final events):
/// the first final event after the restore overflows `next_order += 1`.
#[test]
fn restored_order_counter_never_overflows() {
    checks::snapshot::check(include_bytes!(
        "../../fuzz/corpus/snapshot_restore/seed-crash-next-order-at-max"
    ));
}

/// sender: with `deadline` at the end of time, the clock jumps there (to
/// `poll_timeout`, the queued toast's deadline) while a toast is in flight,
/// and its transport failure schedules a retry at that very instant: the
/// growable sender gave up on it at the answer, the fixed one at the next
/// tick, so their events between two inputs (and `poll_timeout`) differed.
#[test]
fn growable_ends_a_head_past_its_deadline_at_the_next_tick() {
    let input = include_bytes!("../../fuzz/corpus/sender/seed-crash-growable-gave-up-at-answer");
    checks::sender::check(input);
    checks::sender::check_growable(input);
}

/// sender: the same at a submit at the end of time (its deadline saturates
/// to now): the growable sender gave the new toast up at once.
#[test]
fn growable_ends_a_new_head_past_its_deadline_at_the_next_tick() {
    let input = include_bytes!("../../fuzz/corpus/sender/seed-crash-growable-gave-up-at-submit");
    checks::sender::check(input);
    checks::sender::check_growable(input);
}

/// sender: two answers with a mismatched `X-MessageID` echo before the
/// events are read: the fixed sender reports one `MessageIdMismatch`, the
/// growable one reported one per answer.
#[test]
fn growable_reports_one_mismatch_until_polled() {
    let input = include_bytes!("../../fuzz/corpus/sender/seed-crash-growable-two-mismatch-events");
    checks::sender::check(input);
    checks::sender::check_growable(input);
}

/// replay: a journal whose deadlines do not follow its channel's FIFO (as
/// after a restart with a shorter deadline): the deadline timer fired again
/// and again at the same instant. A notification now never gives up before
/// the one ahead of it on its channel.
#[test]
fn replayed_deadlines_follow_the_fifo() {
    checks::replay::check(include_bytes!(
        "../../fuzz/corpus/replay/seed-crash-deadlines-out-of-fifo-order"
    ));
}

/// replay: a channel recorded on one host and submitted to with a URI on
/// another is refused, not kept on the wrong host.
#[test]
fn a_channel_recorded_on_another_host_is_refused() {
    checks::replay::check(include_bytes!(
        "../../fuzz/corpus/replay/seed-crash-channel-recorded-on-another-host"
    ));
}

/// replay: a forgotten expiry left its "reported" flag behind, which the
/// records kept and a rebuilt sender did not.
#[test]
fn a_forgotten_expiry_leaves_no_flag() {
    checks::replay::check(include_bytes!(
        "../../fuzz/corpus/replay/seed-crash-forgotten-expiry-still-reported"
    ));
}

/// replay: found by a CI run of the `replay` target. A journal whose
/// `Channel` record says a channel is not authenticated, while the
/// channel's notifications go to an https URI: the sender's own state
/// records, replayed into a new sender, said authenticated.
#[test]
fn replayed_channel_keeps_its_authentication() {
    checks::replay::check(include_bytes!(
        "../../fuzz/corpus/replay/seed-crash-authenticated-flag-flips"
    ));
}

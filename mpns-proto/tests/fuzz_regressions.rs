//! The fuzz targets' checks in the normal test suite.
//!
//! `fuzz/src/checks/` is compiled here as it is in the fuzz crate, so every
//! input below runs through exactly the check that found it:
//!
//! - every seed of `fuzz/corpus/<target>/seed-*` (built by `checks::seeds`),
//!   and every committed corpus file, crashes found by the fuzzers included;
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

#[test]
fn committed_corpus_passes() {
    let mut files = Vec::new();
    for (target, _) in checks::seeds::TARGETS {
        let Ok(dir) = std::fs::read_dir(corpus().join(target)) else {
            continue;
        };
        for entry in dir {
            let path = entry.expect("corpus entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("seed-") {
                let bytes = std::fs::read(&path).expect("corpus file");
                files.push((format!("{target}/{name}"), target, bytes));
            }
        }
    }
    let count = run_all(files);
    assert!(count > 0, "no corpus in {}", corpus().display());
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

use mpns_proto::{MessageId, ReaderLimits, RetryPolicy};

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
    checks::sender::check(include_bytes!(
        "../../fuzz/corpus/sender/seed-crash-growable-gave-up-at-answer"
    ));
}

/// sender: the same at a submit at the end of time (its deadline saturates
/// to now): the growable sender gave the new toast up at once.
#[test]
fn growable_ends_a_new_head_past_its_deadline_at_the_next_tick() {
    checks::sender::check(include_bytes!(
        "../../fuzz/corpus/sender/seed-crash-growable-gave-up-at-submit"
    ));
}

/// sender: two answers with a mismatched `X-MessageID` echo before the
/// events are read: the fixed sender reports one `MessageIdMismatch`, the
/// growable one reported one per answer.
#[test]
fn growable_reports_one_mismatch_until_polled() {
    checks::sender::check(include_bytes!(
        "../../fuzz/corpus/sender/seed-crash-growable-two-mismatch-events"
    ));
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

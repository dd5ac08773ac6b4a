//! The journal file: frames round-trip in order, torn tails are dropped at
//! every cut, damage elsewhere is reported at its offset, foreign, newer and
//! other jobs' files are refused and left alone, one writer at a time, and
//! compaction keeps exactly the frames it is given. No content panics.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mpns_hyper::journal::{
    Frame, Journal, JournalConfig, JournalError, MAGIC, MAX_FRAME, OpenReport,
};
use proptest::prelude::*;

const ID: &[u8] = b"batch digest 0123456789abcdef";
/// Header length for `ID`: magic, version, identity length, identity, CRC.
const HEADER: u64 = 8 + 2 + 4 + ID.len() as u64 + 4;

type Frames = Vec<(u8, Vec<u8>)>;
/// `(offset, kind, payload)` of each frame read.
type Seen = Vec<(u64, u8, Vec<u8>)>;

fn config(dir: &Path) -> JournalConfig {
    JournalConfig::new(dir.join("state"))
}

fn file_of(dir: &Path) -> PathBuf {
    dir.join("state").join("journal")
}

/// Opens, collecting `(offset, kind, payload)` of every frame.
fn open_with(
    config: &JournalConfig,
    identity: &[u8],
) -> Result<(Journal, OpenReport, Seen), JournalError> {
    let mut seen = Vec::new();
    let (journal, report) = Journal::open(config, identity, |frame: Frame<'_>| {
        seen.push((frame.offset, frame.kind, frame.payload.to_vec()));
        Ok(())
    })?;
    Ok((journal, report, seen))
}

fn open(dir: &Path) -> Result<(Journal, OpenReport, Seen), JournalError> {
    open_with(&config(dir), ID)
}

fn kinds_payloads(seen: &[(u64, u8, Vec<u8>)]) -> Frames {
    seen.iter().map(|(_, k, p)| (*k, p.clone())).collect()
}

/// Frame `i`: its kind and a payload of 0 to 299 bytes.
fn frame(i: usize) -> (u8, Vec<u8>) {
    let len = (i * 37) % 300;
    let payload = (0..len).map(|j| (i * 31 + j * 7) as u8).collect();
    ((i % 7) as u8, payload)
}

fn size(payload: &[u8]) -> u64 {
    9 + payload.len() as u64
}

/// Offsets of `frames` in a journal of identity `ID`.
fn offsets(frames: &[(u8, Vec<u8>)]) -> Vec<u64> {
    let mut at = HEADER;
    frames
        .iter()
        .map(|(_, p)| {
            let here = at;
            at += size(p);
            here
        })
        .collect()
}

/// A synced journal of `frames` in `dir`; returns its bytes.
fn write_journal(dir: &Path, frames: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let (mut journal, report, _) = open(dir).unwrap();
    assert!(report.created);
    for (kind, payload) in frames {
        journal.append(*kind, payload);
    }
    journal.sync().unwrap();
    drop(journal);
    fs::read(file_of(dir)).unwrap()
}

/// A fresh directory whose journal file holds `bytes`.
fn dir_with(bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("state")).unwrap();
    fs::write(file_of(dir.path()), bytes).unwrap();
    dir
}

#[test]
fn many_frames_round_trip_in_order_with_their_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Frames = (0..20_000).map(frame).collect();
    let (mut journal, report, seen) = open(dir.path()).unwrap();
    assert_eq!(
        report,
        OpenReport {
            frames: 0,
            bytes: HEADER,
            torn_bytes: 0,
            created: true
        }
    );
    assert!(seen.is_empty() && journal.is_empty());
    assert_eq!(journal.len(), HEADER);
    for (i, (kind, payload)) in frames.iter().enumerate() {
        journal.append(*kind, payload);
        if i % 100 == 99 {
            journal.flush().unwrap();
            assert_eq!(journal.buffered_bytes(), 0);
        }
    }
    let total: u64 = frames.iter().map(|(_, p)| size(p)).sum();
    assert_eq!(journal.len(), HEADER + total);
    assert_eq!(journal.appended_bytes(), total);
    journal.sync().unwrap();
    assert_eq!(fs::metadata(journal.path()).unwrap().len(), HEADER + total);
    drop(journal);

    let (journal, report, seen) = open(dir.path()).unwrap();
    assert_eq!(
        report,
        OpenReport {
            frames: 20_000,
            bytes: HEADER + total,
            torn_bytes: 0,
            created: false
        }
    );
    assert_eq!(kinds_payloads(&seen), frames);
    let at: Vec<u64> = seen.iter().map(|(o, _, _)| *o).collect();
    assert_eq!(at, offsets(&frames));
    assert_eq!(journal.len(), HEADER + total);
    assert_eq!(journal.appended_bytes(), 0);
}

#[test]
fn reopen_and_append_more_and_drop_flushes_the_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Frames = (0..30).map(frame).collect();
    write_journal(dir.path(), &frames[..10]);

    let (mut journal, report, seen) = open(dir.path()).unwrap();
    assert_eq!(report.frames, 10);
    assert_eq!(kinds_payloads(&seen), frames[..10]);
    for (kind, payload) in &frames[10..20] {
        journal.append(*kind, payload);
    }
    journal.flush().unwrap();
    for (kind, payload) in &frames[20..] {
        journal.append(*kind, payload);
    }
    // Not flushed: dropping flushes.
    drop(journal);

    let (_journal, report, seen) = open(dir.path()).unwrap();
    assert_eq!(report.frames, 30);
    assert_eq!(report.torn_bytes, 0);
    assert_eq!(kinds_payloads(&seen), frames);
}

#[test]
fn torn_last_frame_is_dropped_at_every_cut_and_appending_goes_on() {
    let source = tempfile::tempdir().unwrap();
    let mut frames: Frames = (1..4).map(frame).collect();
    frames.push((3, (0..50).collect()));
    let bytes = write_journal(source.path(), &frames);
    let last = offsets(&frames)[3];
    assert_eq!(bytes.len() as u64, last + 9 + 50);

    for cut in last..bytes.len() as u64 {
        let dir = dir_with(&bytes[..cut as usize]);
        let (mut journal, report, seen) = open(dir.path()).unwrap();
        assert_eq!(kinds_payloads(&seen), frames[..3], "cut at {cut}");
        assert_eq!(report.frames, 3);
        assert_eq!(report.torn_bytes, cut - last, "cut at {cut}");
        assert_eq!(report.bytes, last);
        assert_eq!(fs::metadata(file_of(dir.path())).unwrap().len(), last);
        journal.append(9, b"after the tear");
        drop(journal);

        let (_journal, report, seen) = open(dir.path()).unwrap();
        assert_eq!(report.torn_bytes, 0);
        let mut want = frames[..3].to_vec();
        want.push((9, b"after the tear".to_vec()));
        assert_eq!(kinds_payloads(&seen), want, "cut at {cut}");
    }
}

#[test]
fn bad_checksum_on_the_last_frame_or_a_zero_filled_tail_is_torn() {
    let source = tempfile::tempdir().unwrap();
    let frames: Frames = (1..5).map(frame).collect();
    let bytes = write_journal(source.path(), &frames);
    let last = offsets(&frames)[3];

    // A flipped bit in the last frame's payload, which runs to the end.
    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 0x10;
    let dir = dir_with(&flipped);
    let (_j, report, seen) = open(dir.path()).unwrap();
    assert_eq!(kinds_payloads(&seen), frames[..3]);
    assert_eq!(report.torn_bytes, bytes.len() as u64 - last);

    // Zeros after the last good frame (the file grew, the data never came).
    let mut zeros = bytes.clone();
    zeros.extend_from_slice(&[0; 4096]);
    let dir = dir_with(&zeros);
    let (_j, report, seen) = open(dir.path()).unwrap();
    assert_eq!(kinds_payloads(&seen), frames);
    assert_eq!(report.torn_bytes, 4096);
    assert_eq!(report.bytes, bytes.len() as u64);

    // A bad last frame followed by zeros only.
    flipped.extend_from_slice(&[0; 100]);
    let dir = dir_with(&flipped);
    let (_j, report, seen) = open(dir.path()).unwrap();
    assert_eq!(kinds_payloads(&seen), frames[..3]);
    assert_eq!(report.torn_bytes, flipped.len() as u64 - last);
}

#[test]
fn a_flipped_bit_in_a_middle_frame_is_corrupt_at_its_offset() {
    let source = tempfile::tempdir().unwrap();
    let frames: Frames = (1..6).map(frame).collect();
    let bytes = write_journal(source.path(), &frames);
    let at = offsets(&frames)[2];
    let end = at + size(&frames[2].1);

    for bit in at * 8..end * 8 {
        let mut bad = bytes.clone();
        bad[(bit / 8) as usize] ^= 1 << (bit % 8);
        let dir = dir_with(&bad);
        let result = open(dir.path());
        let in_length = bit / 8 < at + 4;
        match result {
            Err(JournalError::Corrupt { offset, path, .. }) => {
                assert_eq!(offset, at, "bit {bit}");
                assert_eq!(path, file_of(dir.path()));
            }
            // A length made to reach past the end reads as a cut-short
            // last frame: only a flip in the length can do that.
            Ok((_j, report, seen)) if in_length => {
                assert_eq!(kinds_payloads(&seen), frames[..2], "bit {bit}");
                assert_eq!(report.torn_bytes, bytes.len() as u64 - at);
            }
            Ok(_) => panic!("bit {bit}: opened"),
            Err(other) => panic!("bit {bit}: {other}"),
        }
        if !in_length {
            // Nothing was cut off a corrupt journal.
            assert_eq!(fs::read(file_of(dir.path())).unwrap(), bad);
        }
    }

    // Impossible lengths with data after them.
    for len in [0u32, MAX_FRAME as u32 + 1, u32::MAX] {
        let mut bad = bytes.clone();
        bad[at as usize..at as usize + 4].copy_from_slice(&len.to_le_bytes());
        let dir = dir_with(&bad);
        match open(dir.path()) {
            Err(JournalError::Corrupt { offset, .. }) => assert_eq!(offset, at),
            other => panic!("length {len}: {:?}", other.map(|o| o.1)),
        }
    }
}

#[test]
fn every_bit_flip_of_a_small_journal_is_an_error_or_a_prefix() {
    let source = tempfile::tempdir().unwrap();
    let frames: Frames = vec![
        (1, b"one".to_vec()),
        (2, Vec::new()),
        (3, b"three!".to_vec()),
    ];
    let bytes = write_journal(source.path(), &frames);
    for bit in 0..bytes.len() * 8 {
        let mut bad = bytes.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let dir = dir_with(&bad);
        let byte = (bit / 8) as u64;
        match open(dir.path()) {
            Ok((_j, _report, seen)) => {
                assert!(byte >= HEADER, "bit {bit}: a bad header was accepted");
                let seen = kinds_payloads(&seen);
                assert!(
                    seen.len() < frames.len() && frames.starts_with(&seen),
                    "bit {bit}: {seen:?}"
                );
            }
            Err(JournalError::NotAJournal { .. }) => assert!(byte < 8, "bit {bit}"),
            Err(JournalError::Version { .. }) => assert!((8..10).contains(&byte), "bit {bit}"),
            Err(JournalError::Corrupt { offset, .. }) => {
                if byte < HEADER {
                    assert_eq!(offset, 0, "bit {bit}");
                } else {
                    assert!(offsets(&frames).contains(&offset), "bit {bit}");
                    assert!(offset <= byte, "bit {bit}");
                }
            }
            Err(other) => panic!("bit {bit}: {other}"),
        }
    }
}

/// Opening `bytes` never panics; when it opens, a second open reads the
/// same frames and finds nothing torn.
fn opens_sanely(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = dir_with(bytes);
    if let Ok((journal, report, seen)) = open(dir.path()) {
        prop_assert_eq!(report.frames as usize, seen.len());
        drop(journal);
        let (_j, again, seen_again) = open(dir.path()).unwrap();
        prop_assert_eq!(again.torn_bytes, 0);
        prop_assert_eq!(seen_again, seen);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_bytes_after_the_magic(tail in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&tail);
        opens_sanely(&bytes)?;
    }

    #[test]
    fn random_bytes_after_a_good_header(tail in prop::collection::vec(any::<u8>(), 0..600)) {
        let source = tempfile::tempdir().unwrap();
        let mut bytes = write_journal(source.path(), &[]);
        bytes.extend_from_slice(&tail);
        opens_sanely(&bytes)?;
    }

    #[test]
    fn random_damage_to_a_journal(
        n in 0usize..8,
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let source = tempfile::tempdir().unwrap();
        let frames: Frames = (0..n).map(frame).collect();
        let mut bytes = write_journal(source.path(), &frames);
        for (at, value) in damage {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep.max(bytes.len() / 2));
        opens_sanely(&bytes)?;
    }
}

#[test]
fn a_cut_short_header_of_a_new_journal_is_created_anew() {
    let source = tempfile::tempdir().unwrap();
    let bytes = write_journal(source.path(), &[]);
    assert_eq!(bytes.len() as u64, HEADER);
    for cut in 0..bytes.len() {
        let dir = dir_with(&bytes[..cut]);
        let (_j, report, seen) = open(dir.path()).unwrap();
        assert!(report.created, "cut at {cut}");
        assert!(seen.is_empty());
        assert_eq!(fs::read(file_of(dir.path())).unwrap(), bytes);
    }
}

#[test]
fn a_foreign_file_is_not_a_journal_and_is_left_alone() {
    for content in [
        &b"channel,text\nhttp://a,hello\n"[..],
        b"x",
        b"MPNSJRN!and more",
    ] {
        let dir = dir_with(content);
        let error = open(dir.path()).unwrap_err();
        assert!(
            matches!(&error, JournalError::NotAJournal { path } if *path == file_of(dir.path()))
        );
        let shown = error.to_string();
        assert!(shown.contains("not an mpns journal"), "{shown}");
        assert!(shown.contains(&file_of(dir.path()).display().to_string()));
        assert_eq!(fs::read(file_of(dir.path())).unwrap(), content);
    }
}

#[test]
fn another_format_version_is_refused() {
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&(ID.len() as u32).to_le_bytes());
    header.extend_from_slice(ID);
    let crc = crc32fast::hash(&header);
    header.extend_from_slice(&crc.to_le_bytes());
    let dir = dir_with(&header);
    let error = open(dir.path()).unwrap_err();
    assert!(
        matches!(error, JournalError::Version { found: 2, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("version 2"));
    assert_eq!(fs::read(file_of(dir.path())).unwrap(), header);
}

#[test]
fn a_bad_header_checksum_is_corrupt_at_zero() {
    let source = tempfile::tempdir().unwrap();
    let mut bytes = write_journal(source.path(), &[frame(1)]);
    bytes[20] ^= 4; // in the identity
    let dir = dir_with(&bytes);
    let error = open(dir.path()).unwrap_err();
    assert!(
        matches!(error, JournalError::Corrupt { offset: 0, .. }),
        "{error}"
    );
}

#[test]
fn another_identity_is_refused_and_the_journal_kept() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = write_journal(dir.path(), &[frame(5)]);
    for other in [&b"another batch digest"[..], b"", &ID[..ID.len() - 1]] {
        let error = open_with(&config(dir.path()), other).unwrap_err();
        assert!(matches!(&error, JournalError::Identity { path } if *path == file_of(dir.path())));
        let shown = error.to_string();
        assert!(shown.contains("belongs to another job"), "{shown}");
        assert!(
            shown.contains("another directory") && shown.contains("delete"),
            "{shown}"
        );
    }
    assert_eq!(fs::read(file_of(dir.path())).unwrap(), bytes);
    let (_j, report, _) = open(dir.path()).unwrap();
    assert_eq!(report.frames, 1);
}

#[test]
fn an_identity_over_4096_bytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let error = open_with(&config(dir.path()), &[7; 4097]).unwrap_err();
    assert!(
        matches!(&error, JournalError::Io { source, .. } if source.kind() == io::ErrorKind::InvalidInput),
        "{error}"
    );
    open_with(&config(dir.path()), &[7; 4096]).unwrap();
}

#[test]
fn a_second_open_is_locked_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, _, _) = open(dir.path()).unwrap();
    first.append(1, b"x");
    first.flush().unwrap();
    let error = open(dir.path()).unwrap_err();
    assert!(matches!(&error, JournalError::Locked { path } if *path == file_of(dir.path())));
    assert!(error.to_string().contains("locked"));
    // Dropping ends the sync thread and closes every handle of the file.
    drop(first);
    let (_second, report, _) = open(dir.path()).unwrap();
    assert_eq!(report.frames, 1);
}

#[test]
fn drop_does_not_wait_for_a_long_sync_interval() {
    for interval in [Duration::from_secs(3600), Duration::MAX, Duration::ZERO] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        config.sync_interval = interval;
        config.sync_records = 1_000_000;
        let (mut journal, _) = Journal::open(&config, ID, |_| Ok(())).unwrap();
        for i in 0..100 {
            let (kind, payload) = frame(i);
            journal.append(kind, &payload);
            journal.flush().unwrap();
        }
        // Dropped on another thread; a drop that waited for the interval
        // (an hour, or for ever) would miss this guard's minute.
        let (dropped, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(journal);
            let _ = dropped.send(());
        });
        assert_eq!(
            done.recv_timeout(Duration::from_secs(60)),
            Ok(()),
            "drop waited for the sync interval {interval:?}"
        );
        let (_j, report, _) = open_with(&config, ID).unwrap();
        assert_eq!(report.frames, 100);
    }
}

#[test]
fn group_commit_settings_keep_every_frame() {
    for (interval, records) in [(Duration::ZERO, 1), (Duration::from_millis(1), 3)] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        config.sync_interval = interval;
        config.sync_records = records;
        let (mut journal, _) = Journal::open(&config, ID, |_| Ok(())).unwrap();
        let frames: Frames = (0..500).map(frame).collect();
        for (i, (kind, payload)) in frames.iter().enumerate() {
            journal.append(*kind, payload);
            journal.flush().unwrap();
            if i % 50 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        journal.flush().unwrap(); // empty: cheap and fine
        journal.sync().unwrap();
        drop(journal);
        let (_j, _, seen) = open_with(&config, ID).unwrap();
        assert_eq!(kinds_payloads(&seen), frames);
    }
}

#[test]
fn a_refused_frame_is_a_replay_error_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Frames = (0..5).map(frame).collect();
    let bytes = write_journal(dir.path(), &frames);
    let mut count = 0;
    let error = Journal::open(&config(dir.path()), ID, |_| {
        count += 1;
        if count == 4 {
            Err("no such channel".into())
        } else {
            Ok(())
        }
    })
    .unwrap_err();
    match &error {
        JournalError::Replay { offset, reason, .. } => {
            assert_eq!(*offset, offsets(&frames)[3]);
            assert_eq!(reason, "no such channel");
        }
        other => panic!("{other}"),
    }
    assert!(error.to_string().contains("no such channel"));
    assert_eq!(fs::read(file_of(dir.path())).unwrap(), bytes);
}

#[test]
fn compaction_keeps_only_the_given_frames_and_appends_go_to_the_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.compact_min_bytes = 10_000;
    config.compact_ratio = 3;
    let (mut journal, _) = Journal::open(&config, ID, |_| Ok(())).unwrap();
    let frames: Frames = (0..200).map(frame).collect();
    for (kind, payload) in &frames[..190] {
        journal.append(*kind, payload);
    }
    journal.flush().unwrap();
    for (kind, payload) in &frames[190..] {
        journal.append(*kind, payload); // buffered when compaction starts
    }
    let live = &frames[195..];
    let live_bytes: u64 = live.iter().map(|(_, p)| size(p)).sum();
    assert!(journal.len() > 10_000);
    assert!(journal.should_compact(live_bytes));
    assert!(!journal.should_compact(journal.len().div_ceil(3)));
    assert!(journal.should_compact((journal.len() - 1) / 3));

    journal
        .compact(|sink| {
            for (kind, payload) in live {
                sink.append(*kind, payload)?;
            }
            assert_eq!(sink.frames(), 5);
            assert_eq!(sink.bytes(), live_bytes);
            Ok(())
        })
        .unwrap();
    assert_eq!(journal.len(), HEADER + live_bytes);
    assert_eq!(journal.appended_bytes(), 0);
    assert!(!journal.should_compact(0), "under compact_min_bytes");
    assert_eq!(
        fs::metadata(journal.path()).unwrap().len(),
        HEADER + live_bytes
    );
    assert!(!dir.path().join("state/journal.new").exists());

    // The lock moved to the new file.
    assert!(matches!(
        open_with(&config, ID),
        Err(JournalError::Locked { .. })
    ));

    journal.append(42, b"after compaction");
    journal.sync().unwrap();
    journal.append(43, b"and another, flushed by drop");
    drop(journal);

    let (_j, report, seen) = open_with(&config, ID).unwrap();
    let mut want = live.to_vec();
    want.push((42, b"after compaction".to_vec()));
    want.push((43, b"and another, flushed by drop".to_vec()));
    assert_eq!(kinds_payloads(&seen), want);
    assert_eq!(report.torn_bytes, 0);
}

#[test]
fn a_failed_compaction_leaves_the_old_journal_going() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Frames = (0..20).map(frame).collect();
    write_journal(dir.path(), &frames[..10]);
    let (mut journal, _, _) = open(dir.path()).unwrap();
    let error = journal
        .compact(|sink| {
            sink.append(1, b"half")?;
            Err(io::Error::other("the caller gave up"))
        })
        .unwrap_err();
    assert_eq!(error.to_string(), "the caller gave up");
    assert!(!dir.path().join("state/journal.new").exists());
    for (kind, payload) in &frames[10..] {
        journal.append(*kind, payload);
    }
    drop(journal);
    let (_j, _, seen) = open(dir.path()).unwrap();
    assert_eq!(kinds_payloads(&seen), frames);
}

#[test]
fn a_leftover_journal_new_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Frames = (0..3).map(frame).collect();
    write_journal(dir.path(), &frames);
    let leftover = dir.path().join("state/journal.new");
    fs::write(&leftover, b"MPNSJRNL half a compaction").unwrap();
    let (_j, report, seen) = open(dir.path()).unwrap();
    assert!(!leftover.exists());
    assert_eq!(report.frames, 3);
    assert_eq!(kinds_payloads(&seen), frames);
}

//! The response vectors (`tests/vectors/responses.jsonl`): each raw response,
//! read by `ResponseReader` whole, split in two at every point and byte by
//! byte, gives exactly one response whose `classify` outcome is the listed
//! one. The firmware in `mpns-embedded/firmware` checks the same file on a
//! Cortex-M4.

use mpns_proto::{ReaderLimits, ResponseReader, classify};

struct Case {
    name: String,
    bytes: Vec<u8>,
    outcome: String,
}

fn cases() -> Vec<Case> {
    include_str!("vectors/responses.jsonl")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            Case {
                name: v["case"].as_str().unwrap().to_string(),
                bytes: v["response"].as_str().unwrap().as_bytes().to_vec(),
                outcome: v["outcome"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

/// Feeds `pieces` as successive reads, then ends the stream; the outcome of
/// the one response they hold.
fn outcome_of(pieces: &[&[u8]]) -> String {
    let mut reader: ResponseReader = ResponseReader::new(ReaderLimits::DEFAULT);
    let mut buf = Vec::new();
    let mut done = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            let progress = reader.feed(&buf).unwrap();
            buf.drain(..progress.consumed);
            match progress.done {
                Some(r) => done.push(r),
                None => break,
            }
        }
    }
    done.extend(reader.finish().unwrap());
    assert!(buf.is_empty(), "bytes left: {buf:?}");
    assert_eq!(done.len(), 1, "{done:?}");
    format!("{:?}", classify(&done[0].response))
}

#[test]
fn every_response_vector_classifies_as_listed_at_every_split() {
    let cases = cases();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    for case in &cases {
        let b = &case.bytes[..];
        assert_eq!(outcome_of(&[b]), case.outcome, "{}: whole", case.name);
        for i in 0..=b.len() {
            let (x, y) = b.split_at(i);
            assert_eq!(
                outcome_of(&[x, y]),
                case.outcome,
                "{}: split at {i}",
                case.name
            );
        }
        let ones: Vec<&[u8]> = b.chunks(1).collect();
        assert_eq!(outcome_of(&ones), case.outcome, "{}: bytes", case.name);
    }
}

#[test]
fn response_vector_names_are_unique() {
    let cases = cases();
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len());
}

//! `response_reader`: [`ResponseReader`] on any byte stream (MPNS responses as `mpns-proto/src/http.rs` reads them).
//!
//! Input: two bytes of split point, one byte choosing limits and the number of
//! headers, one byte seeding uneven chunk sizes, then the stream. The stream
//! is read as a whole, in two parts split at the chosen point, one byte at a
//! time, and in uneven chunks; every way must give the same responses (and
//! the same byte offsets), the same error and the same end. In every way the
//! bytes left unconsumed stay under `max_head_len` (memory is bounded), an
//! error is sticky, and a response's framing agrees with its body.
//! [`parse_response`] agrees with the first result.

use mpns_proto::{
    BodyFraming, ConnectionReuse, Parsed, ReadError, ReadResponse, ReaderLimits, ResponseReader,
    classify, parse_response,
};

use super::Bytes;

/// One thing a run produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// A response, and the stream offset just after it.
    Response(ReadResponse, usize),
    /// `feed` failed.
    Error(ReadError),
    /// What `finish` said at the end of the stream.
    Finish(Result<Option<ReadResponse>, ReadError>),
}

/// Limits and header count chosen by one byte.
pub fn limits(sel: u8) -> ReaderLimits {
    match sel & 3 {
        0 => ReaderLimits::DEFAULT,
        1 => ReaderLimits {
            max_head_len: 64,
            max_trailer_len: 8,
        },
        2 => ReaderLimits {
            max_head_len: 24,
            max_trailer_len: 0,
        },
        _ => ReaderLimits {
            max_head_len: usize::from((sel >> 2) & 0x1f),
            max_trailer_len: usize::from(sel >> 5),
        },
    }
}

/// Runs the check on raw fuzz input.
pub fn check(data: &[u8]) {
    let mut b = Bytes::new(data);
    let split = usize::from(b.u16());
    let sel = b.u8();
    let seed = b.u8();
    let stream = b.rest();
    if sel & 0x80 == 0 {
        check_stream::<32>(stream, limits(sel), split, seed);
    } else {
        check_stream::<3>(stream, limits(sel), split, seed);
    }
}

/// Reads `stream` in every way and compares.
pub fn check_stream<const H: usize>(stream: &[u8], limits: ReaderLimits, split: usize, seed: u8) {
    let whole = run::<H>(limits, [stream]);
    let split = split.min(stream.len());
    let (a, b) = stream.split_at(split);
    assert_eq!(run::<H>(limits, [a, b]), whole, "split at {split}");
    assert_eq!(
        run::<H>(limits, stream.chunks(1)),
        whole,
        "one byte at a time"
    );
    let mut pieces = Vec::new();
    let mut rest = stream;
    let mut i = 0u32;
    while !rest.is_empty() {
        i += 1;
        let size = 1 + (u32::from(seed).wrapping_mul(i).wrapping_mul(2_654_435_761) >> 28) as usize;
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    assert_eq!(run::<H>(limits, pieces), whole, "uneven chunks");

    // parse_response agrees with the first result.
    let at_eof = parse_response::<H>(stream, limits, true);
    let open = parse_response::<H>(stream, limits, false);
    match whole[0] {
        Item::Response(response, consumed) => {
            let want = Ok(Parsed::Complete { response, consumed });
            assert_eq!(at_eof, want);
            assert_eq!(open, want);
        }
        Item::Error(e) => {
            assert_eq!(at_eof, Err(e));
            assert_eq!(open, Err(e));
        }
        Item::Finish(end) => {
            let want = match end {
                Ok(Some(response)) => Ok(Parsed::Complete {
                    response,
                    consumed: stream.len(),
                }),
                Ok(None) => Err(ReadError::Incomplete),
                Err(e) => Err(e),
            };
            assert_eq!(at_eof, want);
            assert_eq!(open, Ok(Parsed::Partial));
        }
    }
}

fn check_response(r: &ReadResponse) {
    let status = r.response.status;
    assert!(!(100..200).contains(&status), "interim {status} returned");
    match r.framing {
        BodyFraming::Empty => {
            assert_eq!(r.body_len, 0);
            assert!(matches!(status, 204 | 304));
        }
        BodyFraming::ContentLength(n) => assert_eq!(r.body_len, n),
        BodyFraming::UntilClose => assert_eq!(r.connection, ConnectionReuse::Close),
        BodyFraming::Chunked => {}
    }
    let _ = classify(&r.response);
}

/// Feeds `pieces` one after the other, as the run loop of the module docs says.
pub fn run<'a, const H: usize>(
    limits: ReaderLimits,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<Item> {
    let mut reader = ResponseReader::<H>::new(limits);
    let mut buffer: Vec<u8> = Vec::new();
    let mut offset = 0usize;
    let mut items = Vec::new();
    let mut closed = false;
    for piece in pieces {
        buffer.extend_from_slice(piece);
        loop {
            match reader.feed(&buffer) {
                Err(e) => {
                    if closed {
                        assert_eq!(e, ReadError::DataAfterClose);
                    }
                    // Sticky until reset.
                    assert_eq!(reader.feed(&buffer), Err(e));
                    assert_eq!(reader.feed(&[]), Err(e));
                    assert_eq!(reader.finish(), Err(e));
                    assert!(!reader.is_idle());
                    items.push(Item::Error(e));
                    reader.reset();
                    assert!(reader.is_idle());
                    return items;
                }
                Ok(progress) => {
                    assert!(progress.consumed <= buffer.len());
                    buffer.drain(..progress.consumed);
                    offset += progress.consumed;
                    match progress.done {
                        Some(r) => {
                            assert!(!closed, "a response after Connection: close");
                            check_response(&r);
                            closed = r.connection == ConnectionReuse::Close;
                            assert_eq!(reader.is_idle(), !closed);
                            items.push(Item::Response(r, offset));
                        }
                        None => {
                            // Bounded memory: what the reader leaves is under the limit.
                            assert!(
                                buffer.len() < limits.max_head_len.max(1),
                                "{} bytes left unconsumed, limit {}",
                                buffer.len(),
                                limits.max_head_len
                            );
                            break;
                        }
                    }
                }
            }
        }
    }
    let end = reader.finish();
    if let Ok(Some(r)) = &end {
        check_response(r);
        assert_eq!(r.framing, BodyFraming::UntilClose);
    }
    // After the end the reader is closed (or failed) until reset.
    match end {
        Ok(_) => assert_eq!(reader.feed(b"H"), Err(ReadError::DataAfterClose)),
        Err(e) => assert_eq!(reader.feed(b"H"), Err(e)),
    }
    items.push(Item::Finish(end));
    items
}

//! `exchange`: [`HttpExchange`] reading any byte stream through a buffer of
//! any size, in uneven reads, as every byte-stream transport drives it.
//!
//! Input: one byte choosing the buffer size, one byte seeding the read sizes,
//! one byte of flags (bit 0: the connection was reused), then the stream.
//!
//! Checked against a [`ResponseReader`] fed the whole stream with no head
//! limit: the exchange never gives a response the reader does not; when the
//! stream fits in the buffer it gives exactly the reader's answer (a
//! response, the same error, or `Closed` at an early end); a response is
//! kept alive exactly when the reader says so and no byte past it was read;
//! and a fresh connection
//! is asked for exactly when a reused one ended before any byte.

use mpns_proto::exchange::MAX_RESPONSE_HEADERS;
use mpns_proto::{
    ConnectionReuse, ExchangeError, HttpExchange, ReadError, ReadResponse, ReaderLimits,
    ResponseReader,
};

use super::Bytes;

/// The buffer size chosen by one byte: 8 KiB, 512, 64, or 1 to 64 bytes.
pub fn buffer_len(sel: u8) -> usize {
    match sel & 3 {
        0 => 8192,
        1 => 512,
        2 => 64,
        _ => 1 + usize::from(sel >> 2),
    }
}

/// Runs the check on raw fuzz input.
pub fn check(data: &[u8]) {
    let mut b = Bytes::new(data);
    let sel = b.u8();
    let seed = b.u8();
    let flags = b.u8();
    check_stream(b.rest(), buffer_len(sel), seed, flags & 1 == 1);
}

/// What the reader makes of the whole stream: the first response, or the
/// error, or what the end of the stream says.
fn reference(stream: &[u8]) -> Result<Option<ReadResponse>, ReadError> {
    let mut reader: ResponseReader<MAX_RESPONSE_HEADERS> = ResponseReader::new(ReaderLimits {
        max_head_len: usize::MAX,
        ..ReaderLimits::DEFAULT
    });
    match reader.feed(stream)?.done {
        Some(response) => Ok(Some(response)),
        None => reader.finish(),
    }
}

/// Reads `stream` through an exchange with a `buffer_len` buffer and compares.
pub fn check_stream(stream: &[u8], buffer_len: usize, seed: u8, reused: bool) {
    let mut buf = vec![0u8; buffer_len.max(1)];
    let mut exchange: HttpExchange = HttpExchange::new(reused);
    let mut rest = stream;
    let mut i = 0u32;
    let result = loop {
        let space = match exchange.read_space(&mut buf) {
            Ok(space) => space,
            Err(e) => break Err(e),
        };
        assert!(
            !space.is_empty(),
            "read_space gave no room without an error"
        );
        i += 1;
        let want = 1 + (u32::from(seed).wrapping_mul(i).wrapping_mul(2_654_435_761) >> 27) as usize;
        let n = want.min(space.len()).min(rest.len());
        space[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        match exchange.received(&buf, n) {
            Ok(Some(response)) => break Ok(response),
            Ok(None) => assert!(n > 0, "the end of the stream must end the exchange"),
            Err(e) => break Err(e),
        }
    };
    let expected = reference(stream);
    let read = stream.len() - rest.len();
    // Only a head (or chunk line) longer than the buffer may fail where the
    // reader does not; when the stream fits, the buffer never fills.
    let too_large = matches!(
        result,
        Err(ExchangeError::Response(ReadError::HeadTooLarge { max })) if max == buf.len()
    );
    if too_large {
        assert!(
            stream.len() >= buf.len(),
            "head too large for a stream that fits"
        );
    } else {
        match (&result, &expected) {
            (Ok(got), Ok(Some(want))) => {
                assert_eq!(got.response, want.response);
                assert_eq!(got.version, want.version);
                assert_eq!(got.framing, want.framing);
                assert_eq!(got.body_len, want.body_len);
                // Kept alive exactly when the reader says so and no byte
                // past the response was read (it would sit in the buffer).
                let clean = response_end(stream).is_some_and(|end| read <= end);
                assert_eq!(
                    got.connection == ConnectionReuse::KeepAlive,
                    want.connection == ConnectionReuse::KeepAlive && clean,
                    "read {read} of {}",
                    stream.len()
                );
            }
            (Err(ExchangeError::Response(e)), Err(want)) => assert_eq!(e, want),
            (Err(ExchangeError::Closed), Err(ReadError::Incomplete) | Ok(None)) => {}
            (got, want) => panic!("the exchange gave {got:?}, the reader {want:?}"),
        }
    }
    assert_eq!(
        exchange.retry_on_fresh_connection(),
        reused && stream.is_empty(),
        "a fresh connection only for a reused one that ended before any byte"
    );
}

/// Where the first response ends in the stream, by the reader.
fn response_end(stream: &[u8]) -> Option<usize> {
    let mut reader: ResponseReader<MAX_RESPONSE_HEADERS> = ResponseReader::new(ReaderLimits {
        max_head_len: usize::MAX,
        ..ReaderLimits::DEFAULT
    });
    let progress = reader.feed(stream).ok()?;
    progress.done.map(|_| progress.consumed)
}

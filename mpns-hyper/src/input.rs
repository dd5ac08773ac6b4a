//! Bounded reads of the tool's and the client's inputs (stdin, bodies, PEM
//! files): each is read up to its limit plus one byte and refused past it,
//! so `/dev/zero` or a wrong path costs at most the limit.

use std::io::{self, Read};
use std::path::Path;

/// The limit of every file and of stdin read whole: 1 MiB, far above what
/// MPNS takes (a payload is at most a few KiB; a PEM chain a few KiB).
pub const MAX_INPUT: u64 = 1 << 20;

/// Reads `reader` to its end, refusing it if it holds more than `limit`
/// bytes (`io::ErrorKind::FileTooLarge`, the limit named in the message).
pub fn read_limited(reader: impl Read, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than the limit of {limit} bytes"),
        ));
    }
    Ok(bytes)
}

/// [`read_limited`] of a file.
pub fn read_file_limited(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    read_limited(std::fs::File::open(path)?, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_read_and_one_byte_more_is_refused() {
        assert_eq!(read_limited(&[7u8; 10][..], 10).unwrap(), vec![7; 10]);
        let e = read_limited(&[7u8; 11][..], 10).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(e.to_string(), "larger than the limit of 10 bytes");
        // An endless input stops at the limit.
        let e = read_limited(io::repeat(0), 1000).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
    }
}

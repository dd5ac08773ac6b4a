//! Reading MPNS responses from a byte stream: an incremental HTTP/1.1 response
//! reader on [`httparse`], for adapters that own the socket (`mpns-embedded`,
//! `mpns decode`). Structured HTTP clients use [`Response::from_parts`] instead.
//!
//! [`ResponseReader`] follows one connection. It stores no bytes: the caller
//! keeps a receive buffer and the reader says how many bytes of it were used.
//!
//! # Run loop
//!
//! > Feed everything received and not yet consumed; drop what the reader
//! > consumed; repeat.
//!
//! 1. Append received bytes to the buffer.
//! 2. Call [`ResponseReader::feed`] with the whole unconsumed buffer.
//! 3. Drop [`Progress::consumed`] bytes from the front of the buffer.
//! 4. If [`Progress::done`] holds a response, hand it to [`crate::classify`].
//!    Bytes left in the buffer belong to the next response: go to 2. A
//!    response whose [`ReadResponse::connection`] is [`ConnectionReuse::Close`]
//!    ends the connection: reconnect for the next request.
//! 5. Otherwise wait for more bytes and go to 1. At end of stream, call
//!    [`ResponseReader::finish`]: it completes a body that runs until the
//!    server closes ([`BodyFraming::UntilClose`]) and reports a truncated
//!    response as [`ReadError::Incomplete`].
//!
//! ```
//! use mpns_proto::{ConnectionReuse, Outcome, ReaderLimits, ResponseReader, classify};
//!
//! let mut reader: ResponseReader = ResponseReader::new(ReaderLimits::DEFAULT);
//! let mut buffer = Vec::new();
//! let mut outcomes = Vec::new();
//! // Two responses on one connection, arriving in three reads.
//! let reads: [&[u8]; 3] = [
//!     b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Rec",
//!     b"eived\r\nContent-Length: 0\r\n\r\nHTTP/1.1 404 Not Found\r\n",
//!     b"Content-Length: 0\r\n\r\n",
//! ];
//! for read in reads {
//!     buffer.extend_from_slice(read);
//!     loop {
//!         let progress = reader.feed(&buffer)?;
//!         buffer.drain(..progress.consumed);
//!         match progress.done {
//!             Some(r) => {
//!                 assert_eq!(r.connection, ConnectionReuse::KeepAlive);
//!                 outcomes.push(classify(&r.response));
//!             }
//!             None => break,
//!         }
//!     }
//! }
//! assert_eq!(reader.finish()?, None);
//! assert_eq!(outcomes, [Outcome::Accepted { device: None }, Outcome::Expired]);
//! # Ok::<(), mpns_proto::ReadError>(())
//! ```
//!
//! # Memory
//!
//! A response head is parsed only once it is complete (httparse needs it in
//! one piece), so the caller's buffer must hold [`ReaderLimits::max_head_len`]
//! bytes; a longer head is [`ReadError::HeadTooLarge`]. The same bound applies
//! to one chunk-size line of a chunked body. Bodies and trailers are consumed
//! as they arrive and never stored. The reader itself is a few dozen bytes;
//! [`ResponseReader::feed`] puts `MAX_HEADERS` httparse headers (two slices
//! each) on the stack while it parses a head.
//!
//! # Framing (RFC 9112 section 6)
//!
//! - 1xx, 204 and 304 have no body; 1xx interim responses (`100 Continue`) are
//!   consumed and skipped, and `101 Switching Protocols` is refused (MPNS never
//!   upgrades).
//! - `Transfer-Encoding` wins over `Content-Length`: chunked when `chunked` is
//!   the last coding, otherwise the body runs until the server closes. A
//!   response with both, or with `Transfer-Encoding` in HTTP/1.0, closes the
//!   connection afterwards (the framing is suspect).
//! - `Content-Length` must be a decimal number; repeated or listed values must
//!   all agree.
//! - Otherwise the body runs until the server closes the connection.
//!
//! Responses to `HEAD` requests are not supported (MPNS only takes `POST`).

use core::fmt;
use core::mem::MaybeUninit;

use httparse::{Header, Status};

use crate::response::{HEADERS, Response, StatusFields};

/// The number of header fields [`ResponseReader`] accepts by default.
pub const DEFAULT_MAX_HEADERS: usize = 32;

/// Size limits of the reader, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReaderLimits {
    /// Longest response head (status line, header fields, empty line), and
    /// longest chunk-size line: the caller's receive buffer must hold this
    /// many bytes. Default 8 KiB.
    pub max_head_len: usize,
    /// Longest trailer section of a chunked body, line ends included and the
    /// final empty line excluded. Default 1 KiB.
    pub max_trailer_len: usize,
}

impl ReaderLimits {
    /// 8 KiB of head, 1 KiB of trailers.
    pub const DEFAULT: ReaderLimits = ReaderLimits {
        max_head_len: 8 * 1024,
        max_trailer_len: 1024,
    };
}

impl Default for ReaderLimits {
    fn default() -> Self {
        ReaderLimits::DEFAULT
    }
}

/// The HTTP version of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HttpVersion {
    /// `HTTP/1.0`: the connection closes unless `Connection: keep-alive`.
    Http10,
    /// `HTTP/1.1`: the connection stays open unless `Connection: close`.
    Http11,
}

/// How the end of a response body was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BodyFraming {
    /// No body, by status code (204, 304).
    Empty,
    /// `Content-Length` bytes.
    ContentLength(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the server closed the connection.
    UntilClose,
}

/// Whether the connection can carry the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConnectionReuse {
    /// The connection stays open for the next request.
    KeepAlive,
    /// The server closes (or has closed) the connection: reconnect.
    Close,
}

/// A complete response, body consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReadResponse {
    /// Status code and MPNS status headers, for [`crate::classify`].
    pub response: Response,
    /// HTTP version of the status line.
    pub version: HttpVersion,
    /// How the body was delimited.
    pub framing: BodyFraming,
    /// Whether the connection can be reused.
    pub connection: ConnectionReuse,
    /// Body bytes read, chunk framing excluded (MPNS sends none).
    pub body_len: u64,
}

/// What one [`ResponseReader::feed`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Progress {
    /// Bytes used from the front of the input: drop them before the next call.
    pub consumed: usize,
    /// The response, when it is complete. Input after `consumed` belongs to
    /// the next response.
    pub done: Option<ReadResponse>,
}

/// Which part of a response head httparse found invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MalformedReason {
    /// A byte not allowed in a header name.
    HeaderName,
    /// A byte not allowed in a header value.
    HeaderValue,
    /// A line that does not end with CRLF or LF.
    NewLine,
    /// A status line without a three-digit status code.
    Status,
    /// A byte not allowed in a token.
    Token,
    /// Not `HTTP/1.0` or `HTTP/1.1`.
    Version,
}

impl MalformedReason {
    /// Maps httparse's error (`TooManyHeaders` is [`ReadError::TooManyHeaders`]).
    const fn from_httparse(e: httparse::Error) -> Self {
        match e {
            httparse::Error::HeaderName => MalformedReason::HeaderName,
            httparse::Error::HeaderValue => MalformedReason::HeaderValue,
            httparse::Error::NewLine => MalformedReason::NewLine,
            httparse::Error::Status | httparse::Error::TooManyHeaders => MalformedReason::Status,
            httparse::Error::Token => MalformedReason::Token,
            httparse::Error::Version => MalformedReason::Version,
        }
    }
}

/// What is wrong with a chunked body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ChunkProblem {
    /// The chunk-size line is not hex digits, optional extensions, CRLF.
    Size,
    /// The chunk data is not followed by CRLF.
    MissingCrlf,
    /// A trailer line does not end with CRLF.
    TrailerLine,
}

/// Why a response could not be read. The reader keeps returning the same
/// error until [`ResponseReader::reset`]: the connection cannot be trusted and
/// should be closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReadError {
    /// The response head is not valid HTTP/1.x.
    Malformed(MalformedReason),
    /// The head has more header fields than the reader's `MAX_HEADERS`.
    TooManyHeaders {
        /// `MAX_HEADERS`.
        max: usize,
    },
    /// The head is longer than [`ReaderLimits::max_head_len`].
    HeadTooLarge {
        /// The limit in bytes.
        max: usize,
    },
    /// `101 Switching Protocols`, which no MPNS request asks for.
    UnexpectedUpgrade,
    /// `Content-Length` is not a decimal number that fits in 64 bits.
    BadContentLength,
    /// Several `Content-Length` values that differ.
    ConflictingContentLength,
    /// The chunked body is malformed.
    BadChunk(ChunkProblem),
    /// A chunk-size line (with its extensions) is longer than
    /// [`ReaderLimits::max_head_len`].
    ChunkLineTooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// The trailers are longer than [`ReaderLimits::max_trailer_len`].
    TrailersTooLarge {
        /// The limit in bytes.
        max: usize,
    },
    /// Bytes arrived after a response that closes the connection.
    DataAfterClose,
    /// The stream ended inside a response.
    Incomplete,
}

impl fmt::Display for MalformedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MalformedReason::HeaderName => "invalid byte in a header name",
            MalformedReason::HeaderValue => "invalid byte in a header value",
            MalformedReason::NewLine => "invalid line ending",
            MalformedReason::Status => "invalid status code in the status line",
            MalformedReason::Token => "invalid byte where a token is required",
            MalformedReason::Version => "HTTP version is not HTTP/1.0 or HTTP/1.1",
        })
    }
}

impl fmt::Display for ChunkProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkProblem::Size => "the chunk-size line is not hex digits, extensions, CRLF",
            ChunkProblem::MissingCrlf => "the chunk data is not followed by CRLF",
            ChunkProblem::TrailerLine => "a trailer line does not end with CRLF",
        })
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ReadError::Malformed(reason) => write!(f, "malformed response head: {reason}"),
            ReadError::TooManyHeaders { max } => {
                write!(f, "the response head has more than {max} header fields")
            }
            ReadError::HeadTooLarge { max } => {
                write!(f, "the response head is longer than {max} bytes")
            }
            ReadError::UnexpectedUpgrade => {
                f.write_str("101 Switching Protocols, but no upgrade was asked for")
            }
            ReadError::BadContentLength => {
                f.write_str("Content-Length is not a decimal number of bytes")
            }
            ReadError::ConflictingContentLength => {
                f.write_str("several Content-Length values that differ")
            }
            ReadError::BadChunk(problem) => write!(f, "malformed chunked body: {problem}"),
            ReadError::ChunkLineTooLong { max } => {
                write!(f, "a chunk-size line is longer than {max} bytes")
            }
            ReadError::TrailersTooLarge { max } => {
                write!(f, "the chunked body's trailers are longer than {max} bytes")
            }
            ReadError::DataAfterClose => {
                f.write_str("bytes after a response that closes the connection")
            }
            ReadError::Incomplete => {
                f.write_str("the stream ended before the response was complete")
            }
        }
    }
}

impl core::error::Error for MalformedReason {}
impl core::error::Error for ChunkProblem {}
impl core::error::Error for ReadError {}

/// Where the reader is in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Body {
    /// `Content-Length`: bytes still to come (never 0).
    Length { remaining: u64 },
    /// At a chunk-size line.
    ChunkSize,
    /// Inside a chunk: bytes still to come (never 0).
    ChunkData { remaining: u64 },
    /// After chunk data: expecting CR.
    ChunkCr,
    /// After chunk data and CR: expecting LF.
    ChunkLf,
    /// After the last chunk: trailer lines, then an empty line.
    Trailers {
        /// Trailer bytes so far.
        len: usize,
        /// At the start of a line.
        line_start: bool,
        /// A CR was just read.
        cr: bool,
    },
    /// Until the server closes.
    UntilClose,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum State {
    /// Waiting for a complete head. `pending`: length of the input that was
    /// not yet a complete head (kept by the caller); `interim`: a 1xx was skipped.
    Head { pending: usize, interim: bool },
    /// Head read; consuming the body.
    Body { response: ReadResponse, body: Body },
    /// The connection is done: nothing more may come.
    Closed,
    /// A sticky error.
    Failed(ReadError),
}

/// One step of the state machine.
enum Step {
    /// Nothing more can be done with this input.
    NeedMore,
    /// This many bytes (more than 0) were used; continue.
    Consumed(usize),
    /// A response is complete after this many bytes.
    Done(usize, ReadResponse),
}

/// An incremental HTTP/1.1 response reader for one connection.
///
/// `MAX_HEADERS` is the most header fields a head may have
/// ([`DEFAULT_MAX_HEADERS`], 32, by default; MPNS sends about ten). In
/// expressions, name the default through a type:
/// `let r: ResponseReader = ResponseReader::new(limits);`.
///
/// See the [module documentation](self) for the run loop.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResponseReader<const MAX_HEADERS: usize = DEFAULT_MAX_HEADERS> {
    limits: ReaderLimits,
    state: State,
}

impl<const MAX_HEADERS: usize> Default for ResponseReader<MAX_HEADERS> {
    fn default() -> Self {
        Self::new(ReaderLimits::DEFAULT)
    }
}

impl<const MAX_HEADERS: usize> ResponseReader<MAX_HEADERS> {
    /// A reader for a new connection.
    pub const fn new(limits: ReaderLimits) -> Self {
        ResponseReader {
            limits,
            state: State::Head {
                pending: 0,
                interim: false,
            },
        }
    }

    /// The limits given to [`ResponseReader::new`].
    pub const fn limits(&self) -> ReaderLimits {
        self.limits
    }

    /// Forgets the current connection, its error included, for a new one.
    pub fn reset(&mut self) {
        *self = Self::new(self.limits);
    }

    /// The status and MPNS headers of the response whose body is being read:
    /// known once its head is complete, before the body ends.
    pub const fn response_in_progress(&self) -> Option<Response> {
        match self.state {
            State::Body { response, .. } => Some(response.response),
            _ => None,
        }
    }

    /// Whether the reader is between responses with nothing pending: the
    /// connection can carry a new request.
    pub const fn is_idle(&self) -> bool {
        matches!(
            self.state,
            State::Head {
                pending: 0,
                interim: false
            }
        )
    }

    /// Reads as much of `input` (the bytes received and not yet consumed) as
    /// it can. Drop [`Progress::consumed`] bytes from the front of the buffer;
    /// when [`Progress::done`] holds a response, call again with the rest
    /// (the next response), else wait for more bytes. At most one response
    /// completes per call.
    ///
    /// An error is final for this connection: it is returned again until
    /// [`ResponseReader::reset`].
    pub fn feed(&mut self, input: &[u8]) -> Result<Progress, ReadError> {
        let mut consumed = 0usize;
        loop {
            let rest = input.get(consumed..).unwrap_or_default();
            let step = match self.step(rest) {
                Ok(step) => step,
                Err(e) => {
                    self.state = State::Failed(e);
                    return Err(e);
                }
            };
            match step {
                Step::NeedMore | Step::Consumed(0) => {
                    return Ok(Progress {
                        consumed,
                        done: None,
                    });
                }
                Step::Consumed(n) => consumed = consumed.saturating_add(n),
                Step::Done(n, response) => {
                    return Ok(Progress {
                        consumed: consumed.saturating_add(n),
                        done: Some(response),
                    });
                }
            }
        }
    }

    /// The stream ended. Completes a body that runs until the server closes
    /// (`Ok(Some(_))`); `Ok(None)` when no response had started;
    /// [`ReadError::Incomplete`] when one had. Feed every received byte
    /// first. Afterwards the reader is closed until [`ResponseReader::reset`].
    pub fn finish(&mut self) -> Result<Option<ReadResponse>, ReadError> {
        let result = match self.state {
            State::Head {
                pending: 0,
                interim: false,
            }
            | State::Closed => Ok(None),
            State::Body {
                response,
                body: Body::UntilClose,
            } => Ok(Some(response)),
            State::Head { .. } | State::Body { .. } => Err(ReadError::Incomplete),
            State::Failed(e) => Err(e),
        };
        self.state = match result {
            Ok(_) => State::Closed,
            Err(e) => State::Failed(e),
        };
        result
    }

    fn step(&mut self, rest: &[u8]) -> Result<Step, ReadError> {
        match self.state {
            State::Head { interim, .. } => self.head(rest, interim),
            State::Body { response, body } => self.body(rest, response, body),
            State::Closed if rest.is_empty() => Ok(Step::NeedMore),
            State::Closed => Err(ReadError::DataAfterClose),
            State::Failed(e) => Err(e),
        }
    }

    /// Parses a head once it is complete.
    fn head(&mut self, rest: &[u8], interim: bool) -> Result<Step, ReadError> {
        if rest.is_empty() {
            self.state = State::Head {
                pending: 0,
                interim,
            };
            return Ok(Step::NeedMore);
        }
        let max = self.limits.max_head_len;
        // httparse fills the headers it finds: no need to clear them first.
        let mut headers = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut []);
        // Never look past the limit, so that the error does not depend on how
        // the bytes were split (a malformed byte past the limit is still too large).
        let window = rest.get(..max).unwrap_or(rest);
        let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut parsed,
            window,
            &mut headers,
        ) {
            Ok(Status::Complete(len)) if len > max => return Err(ReadError::HeadTooLarge { max }),
            Ok(Status::Complete(len)) => len,
            Ok(Status::Partial) if window.len() >= max => {
                return Err(ReadError::HeadTooLarge { max });
            }
            Ok(Status::Partial) => {
                self.state = State::Head {
                    pending: rest.len(),
                    interim,
                };
                return Ok(Step::NeedMore);
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(ReadError::TooManyHeaders { max: MAX_HEADERS });
            }
            Err(e) => return Err(ReadError::Malformed(MalformedReason::from_httparse(e))),
        };
        let (Some(code), Some(minor)) = (parsed.code, parsed.version) else {
            return Err(ReadError::Malformed(MalformedReason::Status));
        };
        let version = if minor == 0 {
            HttpVersion::Http10
        } else {
            HttpVersion::Http11
        };
        match code {
            101 => return Err(ReadError::UnexpectedUpgrade),
            100..=199 => {
                self.state = State::Head {
                    pending: 0,
                    interim: true,
                };
                return Ok(Step::Consumed(len));
            }
            _ => {}
        }
        let fields = Fields::read(parsed.headers);
        let response = fields.mpns.response(code);
        let (framing, connection) = framing(code, version, &fields)?;
        let read = ReadResponse {
            response,
            version,
            framing,
            connection,
            body_len: 0,
        };
        let body = match framing {
            BodyFraming::Empty | BodyFraming::ContentLength(0) => {
                return Ok(self.done(len, read));
            }
            BodyFraming::ContentLength(remaining) => Body::Length { remaining },
            BodyFraming::Chunked => Body::ChunkSize,
            BodyFraming::UntilClose => Body::UntilClose,
        };
        self.state = State::Body {
            response: read,
            body,
        };
        Ok(Step::Consumed(len))
    }

    /// Consumes body bytes.
    fn body(
        &mut self,
        rest: &[u8],
        mut response: ReadResponse,
        body: Body,
    ) -> Result<Step, ReadError> {
        if rest.is_empty() {
            return Ok(Step::NeedMore);
        }
        let (used, next) = match body {
            Body::Length { remaining } => {
                let used = take(remaining, rest);
                response.body_len = response.body_len.saturating_add(used.1);
                match remaining.saturating_sub(used.1) {
                    0 => return Ok(self.done(used.0, response)),
                    remaining => (used.0, Body::Length { remaining }),
                }
            }
            Body::UntilClose => {
                let used = take(u64::MAX, rest);
                response.body_len = response.body_len.saturating_add(used.1);
                (used.0, Body::UntilClose)
            }
            Body::ChunkSize => {
                let max = self.limits.max_head_len;
                // As for the head: only the first `max` bytes are looked at.
                let window = rest.get(..max).unwrap_or(rest);
                match httparse::parse_chunk_size(window) {
                    Ok(Status::Complete((len, _))) if len > max => {
                        return Err(ReadError::ChunkLineTooLong { max });
                    }
                    // httparse reads an empty or extension-only line as size 0.
                    Ok(Status::Complete(_)) if !rest.first().is_some_and(u8::is_ascii_hexdigit) => {
                        return Err(ReadError::BadChunk(ChunkProblem::Size));
                    }
                    Ok(Status::Complete((len, 0))) => (
                        len,
                        Body::Trailers {
                            len: 0,
                            line_start: true,
                            cr: false,
                        },
                    ),
                    Ok(Status::Complete((len, remaining))) => (len, Body::ChunkData { remaining }),
                    Ok(Status::Partial) if window.len() >= max => {
                        return Err(ReadError::ChunkLineTooLong { max });
                    }
                    Ok(Status::Partial) => return Ok(Step::NeedMore),
                    Err(httparse::InvalidChunkSize) => {
                        return Err(ReadError::BadChunk(ChunkProblem::Size));
                    }
                }
            }
            Body::ChunkData { remaining } => {
                let used = take(remaining, rest);
                response.body_len = response.body_len.saturating_add(used.1);
                match remaining.saturating_sub(used.1) {
                    0 => (used.0, Body::ChunkCr),
                    remaining => (used.0, Body::ChunkData { remaining }),
                }
            }
            Body::ChunkCr | Body::ChunkLf => {
                let (want, next) = match body {
                    Body::ChunkCr => (b'\r', Body::ChunkLf),
                    _ => (b'\n', Body::ChunkSize),
                };
                if rest.first() != Some(&want) {
                    return Err(ReadError::BadChunk(ChunkProblem::MissingCrlf));
                }
                (1, next)
            }
            Body::Trailers {
                len,
                line_start,
                cr,
            } => match self.trailers(rest, len, line_start, cr)? {
                Ok(used) => return Ok(self.done(used, response)),
                Err(next) => (rest.len(), next),
            },
        };
        self.state = State::Body {
            response,
            body: next,
        };
        Ok(Step::Consumed(used))
    }

    /// Reads trailer lines: `Ok(Ok(used))` at the end of the body, or
    /// `Ok(Err(state))` when all of `rest` was used.
    fn trailers(
        &self,
        rest: &[u8],
        mut len: usize,
        mut line_start: bool,
        mut cr: bool,
    ) -> Result<Result<usize, Body>, ReadError> {
        let max = self.limits.max_trailer_len;
        for (i, &b) in rest.iter().enumerate() {
            match (cr, b) {
                // The empty line: the end of the body.
                (true, b'\n') if line_start => return Ok(Ok(i.saturating_add(1))),
                (true, b'\n') => {
                    cr = false;
                    line_start = true;
                }
                (true, _) | (false, b'\n') => {
                    return Err(ReadError::BadChunk(ChunkProblem::TrailerLine));
                }
                (false, b'\r') => cr = true,
                (false, _) => line_start = false,
            }
            // Every byte of a trailer line counts, its CRLF included.
            if !line_start || !cr {
                len = len.saturating_add(1);
                if len > max {
                    return Err(ReadError::TrailersTooLarge { max });
                }
            }
        }
        Ok(Err(Body::Trailers {
            len,
            line_start,
            cr,
        }))
    }

    /// A response is complete after `used` more bytes.
    // One copy on microcontrollers: inlined, each caller moves the whole response.
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn done(&mut self, used: usize, response: ReadResponse) -> Step {
        self.state = match response.connection {
            ConnectionReuse::KeepAlive => State::Head {
                pending: 0,
                interim: false,
            },
            ConnectionReuse::Close => State::Closed,
        };
        Step::Done(used, response)
    }
}

/// Up to `remaining` bytes of `rest`: as a `usize` and as a `u64`.
fn take(remaining: u64, rest: &[u8]) -> (usize, u64) {
    let available = u64::try_from(rest.len()).unwrap_or(u64::MAX);
    let n = remaining.min(available);
    (usize::try_from(n).unwrap_or(rest.len()), n)
}

/// The header fields the reader looks at: those of [`HEADERS`], then the framing ones.
const NAMES: [&str; 8] = [
    HEADERS[0],
    HEADERS[1],
    HEADERS[2],
    HEADERS[3],
    HEADERS[4],
    "Connection",
    "Transfer-Encoding",
    "Content-Length",
];
const CONNECTION: usize = 5;
const TRANSFER_ENCODING: usize = 6;
const CONTENT_LENGTH: usize = 7;

/// The index of `name` in [`NAMES`], ASCII case-insensitively. Each length
/// has one candidate, except 11 and 20, whose third letters differ.
fn name_index(name: &str) -> Option<usize> {
    let b = name.as_bytes();
    let i = match (b.len(), b.get(2).map(u8::to_ascii_lowercase)) {
        (20, Some(b'n')) => 0,
        (20, _) => 1,
        (24, _) => 2,
        (11, Some(b'm')) => 3,
        (11, _) => 4,
        (10, _) => CONNECTION,
        (17, _) => TRANSFER_ENCODING,
        (14, _) => CONTENT_LENGTH,
        _ => return None,
    };
    eq_ignore_case(NAMES[i].as_bytes(), b).then_some(i)
}

/// `name.eq_ignore_ascii_case(canonical)` for a canonical name of letters
/// and `-`, with one OR per byte and no early exit. Setting bit 5 lower-cases
/// letters, and maps no other byte onto a letter or `-` but CR, which
/// httparse keeps out of names.
fn eq_ignore_case(canonical: &[u8], name: &[u8]) -> bool {
    canonical.len() == name.len()
        && canonical
            .iter()
            .zip(name)
            .fold(0, |diff, (a, b)| diff | ((a | 0x20) ^ (b | 0x20)))
            == 0
}

/// What a head's header fields say, read in one pass.
struct Fields<'b> {
    /// The [`HEADERS`]' values.
    mpns: StatusFields<'b>,
    /// `Connection` lists `close`.
    close: bool,
    /// `Connection` lists `keep-alive`.
    keep_alive: bool,
    /// The last `Transfer-Encoding` coding.
    transfer_coding: Option<&'b [u8]>,
    has_content_length: bool,
    /// The length every `Content-Length` value (repeated fields and comma
    /// lists) agrees on, or the first problem.
    content_length: Result<Option<u64>, ReadError>,
}

impl<'b> Fields<'b> {
    fn read(headers: &[Header<'b>]) -> Self {
        let mut f = Fields {
            mpns: StatusFields::default(),
            close: false,
            keep_alive: false,
            transfer_coding: None,
            has_content_length: false,
            content_length: Ok(None),
        };
        for h in headers {
            match name_index(h.name) {
                Some(i @ 0..5) => f.mpns.add(i, h.value),
                Some(CONNECTION) => {
                    for token in tokens(h.value) {
                        f.close |= token.eq_ignore_ascii_case(b"close");
                        f.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                    }
                }
                Some(TRANSFER_ENCODING) => {
                    if let Some(last) = tokens(h.value).last() {
                        f.transfer_coding = Some(last);
                    }
                }
                Some(_) => {
                    f.has_content_length = true;
                    if let Ok(found) = f.content_length {
                        f.content_length = content_length(found, h.value);
                    }
                }
                None => {}
            }
        }
        f
    }
}

/// The comma-separated, trimmed, non-empty elements of a header value.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// The body framing and connection reuse of a final response (RFC 9112 sections 6 and 9.3).
// Inlined into `head`, it costs the firmware flash.
#[inline(never)]
fn framing(
    code: u16,
    version: HttpVersion,
    fields: &Fields<'_>,
) -> Result<(BodyFraming, ConnectionReuse), ReadError> {
    let mut close = fields.close;
    let framing = if matches!(code, 204 | 304) {
        BodyFraming::Empty
    } else if let Some(last) = fields.transfer_coding {
        // Suspect framing (smuggling): read it, then close.
        close |= fields.has_content_length || version == HttpVersion::Http10;
        if last.eq_ignore_ascii_case(b"chunked") {
            BodyFraming::Chunked
        } else {
            BodyFraming::UntilClose
        }
    } else if let Some(len) = fields.content_length? {
        BodyFraming::ContentLength(len)
    } else {
        BodyFraming::UntilClose
    };
    close |= framing == BodyFraming::UntilClose
        || (version == HttpVersion::Http10 && !fields.keep_alive);
    let connection = if close {
        ConnectionReuse::Close
    } else {
        ConnectionReuse::KeepAlive
    };
    Ok((framing, connection))
}

/// Adds one `Content-Length` value to the length `found` so far: all must agree.
fn content_length(mut found: Option<u64>, value: &[u8]) -> Result<Option<u64>, ReadError> {
    for part in value.split(|&b| b == b',') {
        let len = decimal(part.trim_ascii()).ok_or(ReadError::BadContentLength)?;
        match found {
            Some(other) if other != len => return Err(ReadError::ConflictingContentLength),
            _ => found = Some(len),
        }
    }
    Ok(found)
}

/// A non-empty run of ASCII digits that fits in a `u64`.
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// The result of [`parse_response`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Parsed {
    /// More bytes are needed.
    Partial,
    /// The first final response, its body complete.
    Complete {
        /// The response.
        response: ReadResponse,
        /// Bytes it used, interim 1xx responses included; the rest of the
        /// input belongs to the next response.
        consumed: usize,
    },
}

/// Reads the first final response of `bytes` in one call, skipping 1xx
/// interim responses.
///
/// `at_eof` says whether `bytes` is everything the server will send (the
/// connection closed, or stdin was read to its end). Then a body that runs
/// until close ([`BodyFraming::UntilClose`]) is the rest of the input, and a
/// truncated (or empty) input is [`ReadError::Incomplete`]. Without `at_eof`,
/// such responses are [`Parsed::Partial`].
///
/// ```
/// use mpns_proto::{Parsed, ReaderLimits, classify, parse_response};
///
/// let bytes = b"HTTP/1.1 200 OK\r\nX-NotificationStatus: QueueFull\r\nContent-Length: 0\r\n\r\n";
/// let Parsed::Complete { response, consumed } =
///     parse_response::<32>(bytes, ReaderLimits::DEFAULT, true)?
/// else {
///     unreachable!()
/// };
/// assert_eq!(consumed, bytes.len());
/// assert!(!classify(&response.response).is_final());
/// # Ok::<(), mpns_proto::ReadError>(())
/// ```
pub fn parse_response<const MAX_HEADERS: usize>(
    bytes: &[u8],
    limits: ReaderLimits,
    at_eof: bool,
) -> Result<Parsed, ReadError> {
    let mut reader = ResponseReader::<MAX_HEADERS>::new(limits);
    let progress = reader.feed(bytes)?;
    if let Some(response) = progress.done {
        return Ok(Parsed::Complete {
            response,
            consumed: progress.consumed,
        });
    }
    if !at_eof {
        return Ok(Parsed::Partial);
    }
    match reader.finish()? {
        Some(response) => Ok(Parsed::Complete {
            response,
            consumed: bytes.len(),
        }),
        None => Err(ReadError::Incomplete),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_index_finds_each_name_in_any_case_and_nothing_else() {
        for (i, name) in NAMES.iter().enumerate() {
            assert_eq!(name_index(name), Some(i), "{name}");
            assert_eq!(name_index(&name.to_ascii_lowercase()), Some(i), "{name}");
            assert_eq!(name_index(&name.to_ascii_uppercase()), Some(i), "{name}");
        }
        for other in [
            "",
            "X",
            "Server",
            "X-NotificationStatuz",
            "X-MessageIE",
            "Content-Lengths",
        ] {
            assert_eq!(name_index(other), None, "{other}");
        }
    }
}

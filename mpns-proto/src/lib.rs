//! The sans-IO core of a Microsoft Push Notification Service (MPNS) sender.
//!
//! `#![no_std]`, no I/O, no clock, and no allocator unless its growable
//! sender is asked for (feature `alloc`). It turns notifications into
//! the exact bytes of MPNS requests; adapters (`mpns-hyper`, `mpns-embedded`)
//! move those bytes. Every MPNS decision lives here.
//!
//! The protocol this crate implements, and the policy it follows where MPNS
//! left a choice, is written down in the repository's `docs/protocol.md`;
//! the code cites it by section name.
//!
//! **The run loop.** A sender is told everything and does nothing itself:
//! [`Sender::submit`] a notification; [`Sender::poll_transmit`] hands out the
//! next request due (its bytes: [`Request::write_http`], or headers and body
//! for a structured HTTP client); the adapter sends it and reads the answer
//! ([`HttpExchange`] over a byte stream); [`Sender::handle_response`] (or
//! [`Sender::handle_transport_error`]) tells the sender; [`Sender::poll_event`]
//! reports what happened; [`Sender::poll_timeout`] and
//! [`Sender::handle_timeout`] bring the caller's clock in. See [`sender`].
//!
//! **Tests and benchmarks.** `cargo test -p mpns-proto` (property tests,
//! exact bytes of the request vectors in `tests/vectors/`, the sender's
//! crash-at-every-step replays); `cargo bench -p mpns-benches` (encoder,
//! response reader, sender cycle); `fuzz/` holds a `cargo fuzz` target per
//! parser, encoder and state machine.
//!
//! # Map
//!
//! | module | what |
//! |---|---|
//! | [`uri`] | [`ChannelUri::parse`]: validation, WNS refusal, host, port, request target |
//! | [`notification`] | the model: [`Toast`], [`Tile`] (standard, flip, iconic, cycle), [`Raw`] |
//! | [`options`] | [`Options`]: delivery interval, [`MessageId`], callback URI, [`TargetOs`], [`Limits`] |
//! | [`request`] | [`Request`]: headers for structured clients, or HTTP/1.1 bytes |
//! | [`response`] | [`Response`] (status headers read leniently), [`classify`] into an [`Outcome`], [`RetryPolicy`] |
//! | [`exchange`] | [`HttpExchange`]: one request over kept-alive byte streams without the I/O: encode, read, keep-alive, the one retry on a fresh connection |
//! | `http_interop` | feature `http`: requests as `http::Request`, responses from `http::Response`, `Parts` or a `HeaderMap` |
//! | [`http`] | [`ResponseReader`]: incremental HTTP/1.1 response reader for byte streams (httparse); [`parse_response`] in one call |
//! | [`sender`] | the state machine: queue, per-channel order, retries, quota, expiry, events; [`Sender`] (fixed size) and, with `alloc`, `GrowableSender` |
//! | [`time`] | [`Instant`] and [`Duration`]: time as a value, from the caller's clock |
//! | [`error`] | [`EncodeError`]: what was wrong, naming the field |
//!
//! # Example
//!
//! ```
//! use mpns_proto::{ChannelUri, Notification, Options, Request, Toast};
//!
//! let channel = ChannelUri::parse("http://127.0.0.1:47001/throttledthirdparty/01.00/ABC")?;
//! let toast = Notification::Toast(Toast {
//!     text1: Some("Bold Text"),
//!     text2: Some("Normal text"),
//!     ..Toast::default()
//! });
//! let request = Request::notification(channel, &toast, &Options::default())?;
//!
//! // For byte streams: the whole HTTP/1.1 request.
//! let mut buf = [0u8; 512];
//! let n = request.write_http(&mut buf)?;
//! assert!(buf[..n].starts_with(b"POST /throttledthirdparty/01.00/ABC HTTP/1.1\r\nHost: 127.0.0.1:47001\r\n"));
//!
//! // For structured HTTP clients: headers and body.
//! let headers: Vec<_> = request.headers().collect();
//! assert_eq!(headers[1], ("X-WindowsPhone-Target", "toast"));
//! let mut body = [0u8; 512];
//! let len = request.write_body(&mut body)?;
//! assert_eq!(len, request.body_len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Contracts
//!
//! - Building a [`Request`] validates everything (fields, OS gating, limits)
//!   before anything is written; writing can then only fail for a buffer that
//!   is too small, which reports the bytes needed and is left unchanged.
//! - [`encode_request`] is the fast path for byte-stream senders: the same
//!   bytes and errors, with the body written once when the buffer can hold
//!   any request the limits allow.
//! - Lengths ([`Request::http_len`], [`Request::body_len`],
//!   [`Notification::encoded_len`]) are exact.
//! - Values are XML-escaped exactly once; characters XML 1.0 forbids are refused
//!   with the field named.
//!
//! # Features
//!
//! - `tiles` (default): tile notifications, the [`Tile`] model and its
//!   encoder. A toast- and raw-only firmware leaves it out (about 5 KB of flash
//!   on a Cortex-M4); [`Notification`] is `non_exhaustive` so that matching
//!   code builds either way.
//! - `alloc`: `GrowableSender`, the sender for servers: any number of
//!   notifications and channels within a memory budget, O(log n) per
//!   operation. Needs an allocator, not `std`.
//! - `journal`: records of the fixed sender's changes (`Sender::recording`,
//!   `replay`, `resume`), for a journal in flash. No allocator.
//! - `http`: `Request::to_http`, `Response::from_http` and friends (module
//!   `http_interop`): the `http` crate's types, for reqwest, ureq or hyper.
//!   Needs `std`.
//! - `serde`: `Serialize`/`Deserialize` on the model and options, borrowing strings.
//! - `defmt`: `defmt::Format` on public types.
//! - `arbitrary`: `arbitrary::Arbitrary` on the model and options, for the fuzz targets in `fuzz/` (needs `std`).

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(
    clippy::std_instead_of_core,
    clippy::alloc_instead_of_core,
    clippy::std_instead_of_alloc
)]

// The `arbitrary` derive (fuzzing only, see fuzz/) expands to code that names `std`.
#[cfg(feature = "arbitrary")]
extern crate std;

#[cfg(any(feature = "alloc", feature = "http"))]
extern crate alloc;

pub mod error;
pub mod exchange;
pub mod http;
#[cfg(feature = "http")]
pub mod http_interop;
pub mod notification;
pub mod options;
mod payload;
pub mod request;
pub mod response;
pub mod sender;
#[cfg(feature = "serde")]
mod serde_impl;
pub mod time;
pub mod uri;

pub use error::{BufferTooSmall, EncodeError, FieldProblem};
pub use exchange::{ExchangeError, HttpExchange};
pub use http::{
    BodyFraming, ChunkProblem, ConnectionReuse, HttpVersion, MalformedReason, Parsed, Progress,
    ReadError, ReadResponse, ReaderLimits, ResponseReader, parse_response,
};
#[cfg(feature = "tiles")]
pub use notification::{CycleTile, Field, FlipTile, IconicTile, StandardTile, Tile, TileTemplate};
pub use notification::{FieldName, Notification, Raw, Sound, Toast};
pub use options::{Delivery, Limits, MessageId, MessageIdError, Options, TargetOs, UnknownName};
pub use request::{Request, RequestKind, encode_request};
pub use response::{
    AnomalyReason, Backoff, DeviceStatus, HeaderValue, Jitter, MessageIdEcho, NotificationStatus,
    Outcome, RejectReason, Response, RetryPolicy, RetryReason, Scope, SubscriptionStatus, classify,
};
#[cfg(feature = "alloc")]
pub use sender::GrowableSender;
pub use sender::{Event, Finished, Sender, SenderConfig, Ticket, Transmit};
pub use time::{Duration, Instant};
pub use uri::{ChannelUri, RequestTarget, Scheme, Uri, UriError};

/// The crate README's example, compiled and run as a doctest
/// (`cargo test --doc -p mpns-proto`) so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

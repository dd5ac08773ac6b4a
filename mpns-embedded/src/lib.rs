//! MPNS on constrained gateways: drives [`mpns_proto`] over byte streams.
//!
//! This crate is at its beginning: today it offers [`write_request`], which
//! writes a notification's HTTP/1.1 request into a caller buffer, ready for
//! any byte stream. The embedded-io transports and the gateway driver follow.

#![no_std]
#![forbid(unsafe_code)]

pub use mpns_proto;

use mpns_proto::{ChannelUri, EncodeError, Notification, Options};

/// Writes the whole HTTP/1.1 request of `notification` into `buf`, returning its length.
pub fn write_request(
    channel: &str,
    notification: &Notification<'_>,
    options: &Options<'_>,
    buf: &mut [u8],
) -> Result<usize, WriteRequestError> {
    let channel = ChannelUri::parse(channel).map_err(WriteRequestError::Channel)?;
    mpns_proto::encode_request(channel, notification, options, buf)
        .map_err(WriteRequestError::Encode)
}

/// Why [`write_request`] wrote nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WriteRequestError {
    /// The channel URI was refused.
    Channel(mpns_proto::UriError),
    /// The notification was refused, or the buffer is too small.
    Encode(EncodeError),
}

impl core::fmt::Display for WriteRequestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WriteRequestError::Channel(e) => write!(f, "channel URI: {e}"),
            WriteRequestError::Encode(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for WriteRequestError {}

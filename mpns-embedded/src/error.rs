//! What can go wrong while moving one request and its response.

use core::fmt;

use embedded_io::ErrorKind;
use mpns_proto::ExchangeError;
use mpns_proto::sender::TransportError;

/// Why a request got no response. Every transport of this crate reports this
/// type; [`SendError::transport_error`] names its kind. The sender handles
/// every kind alike ([`mpns_proto::Sender::handle_transport_error`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendError {
    /// The exchange itself failed: the buffer cannot hold the request
    /// ([`ExchangeError::BufferTooSmall`]: nothing was sent, a configuration
    /// error; the stream transports need [`mpns_proto::Request::http_len`]
    /// bytes, the embedded-svc ones the URI and the body), the server closed
    /// the connection before a complete response, or the response is not
    /// HTTP/1.x or its head does not fit in the buffer.
    Exchange(ExchangeError),
    /// Opening the connection failed, as the connector reported it.
    Connect(TransportError),
    /// Writing the request or reading the response failed.
    Io(ErrorKind),
}

impl SendError {
    /// The kind of transport failure (for logs and counters).
    pub const fn transport_error(&self) -> TransportError {
        match *self {
            SendError::Connect(e) => e,
            SendError::Io(kind) => transport_error(kind),
            // Not valid HTTP is retried like any other transport failure
            // (see the crate docs, "Core gaps").
            SendError::Exchange(e) => e.transport_error(),
        }
    }
}

/// Maps a stream's error kind to the core's transport failure: refused,
/// reset (also aborted, broken pipe, not connected, write zero), timed out,
/// or other. `embedded-io` has no TLS kind: a connector that sees a TLS
/// handshake fail reports [`TransportError::Tls`] itself.
pub const fn transport_error(kind: ErrorKind) -> TransportError {
    match kind {
        ErrorKind::ConnectionRefused => TransportError::Refused,
        ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe
        | ErrorKind::NotConnected
        | ErrorKind::WriteZero => TransportError::Reset,
        ErrorKind::TimedOut => TransportError::Timeout,
        _ => TransportError::Other,
    }
}

impl From<ExchangeError> for SendError {
    fn from(e: ExchangeError) -> Self {
        SendError::Exchange(e)
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Connect(e) => write!(f, "connecting failed: {e:?}"),
            SendError::Io(kind) => write!(f, "the stream failed: {kind:?}"),
            SendError::Exchange(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for SendError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            SendError::Exchange(e) => Some(e),
            _ => None,
        }
    }
}

//! Requests and responses as the `http` crate's types (feature `http`, which
//! needs `std`): the currency of Rust HTTP clients (reqwest, ureq, hyper).
//!
//! - [`Request::to_http`] gives an [`http::Request`] with the full URI (scheme,
//!   host, port, path, the `/callback` suffix of a registration, query) and
//!   every header, with the body type the client wants (`Vec<u8>`, `Bytes`,
//!   `Full<Bytes>`, `reqwest::Body`); [`Request::to_http_in`] writes the body
//!   into the caller's buffer instead.
//! - [`Response::from_http`], [`Response::from_http_parts`] and
//!   [`Response::from_header_map`] read the status headers, every field
//!   counted, so a conflicting repeat is seen (`docs/protocol.md`, "Reading a
//!   response").
//!
//! `Host` is not among the headers: the URI carries it, and clients write it
//! from there.
//!
//! ```
//! use mpns_proto::{ChannelUri, Notification, Options, Request, Response, Toast};
//!
//! let channel = ChannelUri::parse("http://127.0.0.1:47001/throttledthirdparty/01.00/ABC")?;
//! let toast = Notification::Toast(Toast { text1: Some("Hi"), ..Toast::default() });
//! let request = Request::notification(channel, &toast, &Options::default())?;
//! let http_request: http::Request<Vec<u8>> = request.to_http()?;
//! assert_eq!(http_request.uri(), "http://127.0.0.1:47001/throttledthirdparty/01.00/ABC");
//! assert_eq!(http_request.headers()["x-windowsphone-target"], "toast");
//!
//! let answer = http::Response::builder()
//!     .status(200)
//!     .header("X-NotificationStatus", "Received")
//!     .body(())?;
//! let response = Response::from_http(&answer);
//! assert!(matches!(mpns_proto::classify(&response), mpns_proto::Outcome::Accepted { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use core::fmt;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme as HttpScheme};

use crate::error::BufferTooSmall;
use crate::request::{METHOD, Request, header as names};
use crate::response::Response;
use crate::uri::Scheme;

/// The MPNS header names as `http` values, built at compile time.
pub mod header_name {
    use http::header::HeaderName;

    /// `X-WindowsPhone-Target`.
    pub const TARGET: HeaderName = HeaderName::from_static("x-windowsphone-target");
    /// `X-NotificationClass`.
    pub const NOTIFICATION_CLASS: HeaderName = HeaderName::from_static("x-notificationclass");
    /// `X-MessageID`.
    pub const MESSAGE_ID: HeaderName = HeaderName::from_static("x-messageid");
    /// `X-CallbackURI`.
    pub const CALLBACK_URI: HeaderName = HeaderName::from_static("x-callbackuri");
    /// `X-NotificationStatus` (response).
    pub const NOTIFICATION_STATUS: HeaderName = HeaderName::from_static("x-notificationstatus");
    /// `X-SubscriptionStatus` (response).
    pub const SUBSCRIPTION_STATUS: HeaderName = HeaderName::from_static("x-subscriptionstatus");
    /// `X-DeviceConnectionStatus` (response).
    pub const DEVICE_CONNECTION_STATUS: HeaderName =
        HeaderName::from_static("x-deviceconnectionstatus");
}

/// Why a valid MPNS request has no `http` form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToHttpError {
    /// The channel URI holds a character the `http` crate refuses in that
    /// part (RFC 3986 forbids `<`, `>`, `` ` `` in a path, `"` in a query,
    /// and more in a host). The core's own bytes ([`Request::write_http`])
    /// carry it as written.
    Uri {
        /// The part refused: `"host"` or `"path and query"`.
        part: &'static str,
        /// The `http` crate's reason.
        reason: String,
    },
    /// The caller's body buffer is too small.
    BufferTooSmall(BufferTooSmall),
}

impl fmt::Display for ToHttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToHttpError::Uri { part, reason } => write!(
                f,
                "the channel URI's {part} is not representable as an http::Uri: {reason}"
            ),
            ToHttpError::BufferTooSmall(e) => {
                write!(f, "body buffer too small: {} bytes needed", e.needed)
            }
        }
    }
}

impl core::error::Error for ToHttpError {}

impl Request<'_> {
    /// This request as an [`http::Request`], its body copied into a `Vec<u8>`
    /// and turned into `B` (`Vec<u8>`, `bytes::Bytes`, `Full<Bytes>`,
    /// `reqwest::Body`, …).
    pub fn to_http<B: From<Vec<u8>>>(&self) -> Result<http::Request<B>, ToHttpError> {
        let mut body = vec![0u8; self.body_len()];
        // Cannot fail: the buffer has the exact length.
        let _ = self.write_body(&mut body);
        Ok(http::Request::from_parts(
            self.to_http_parts()?,
            B::from(body),
        ))
    }

    /// This request as an [`http::Request`] whose body is written into the
    /// front of `buf` ([`Request::body_len`] bytes); `buf` is left unchanged
    /// when it is too small.
    pub fn to_http_in<'b>(
        &self,
        buf: &'b mut [u8],
    ) -> Result<http::Request<&'b [u8]>, ToHttpError> {
        let parts = self.to_http_parts()?;
        let len = self.write_body(buf).map_err(ToHttpError::BufferTooSmall)?;
        Ok(http::Request::from_parts(parts, &buf[..len]))
    }

    /// Method, URI and headers, without the body.
    pub fn to_http_parts(&self) -> Result<http::request::Parts, ToHttpError> {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.method = http::Method::from_bytes(METHOD.as_bytes()).unwrap_or(http::Method::POST);
        parts.uri = self.http_uri()?;
        for (name, value) in self.headers() {
            // The core validated every value (visible ASCII): these cannot fail.
            let value = static_value(value).map_or_else(|| HeaderValue::from_str(value), Ok);
            if let (Some(name), Ok(value)) = (request_header(name), value) {
                parts.headers.append(name, value);
            }
        }
        Ok(parts)
    }

    /// `scheme://host[:port]{path}{suffix}{query}`.
    fn http_uri(&self) -> Result<http::Uri, ToHttpError> {
        let channel = self.channel();
        let [path, suffix, query] = self.target().parts();
        let mut path_and_query = String::with_capacity(path.len() + suffix.len() + query.len());
        for part in [path, suffix, query] {
            path_and_query.push_str(part);
        }
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(match channel.uri().scheme() {
            Scheme::Http => HttpScheme::HTTP,
            Scheme::Https => HttpScheme::HTTPS,
        });
        parts.authority =
            Some(
                Authority::try_from(channel.host_header()).map_err(|e| ToHttpError::Uri {
                    part: "host",
                    reason: e.to_string(),
                })?,
            );
        parts.path_and_query =
            Some(
                PathAndQuery::try_from(path_and_query).map_err(|e| ToHttpError::Uri {
                    part: "path and query",
                    reason: e.to_string(),
                })?,
            );
        http::Uri::from_parts(parts).map_err(|e| ToHttpError::Uri {
            part: "path and query",
            reason: e.to_string(),
        })
    }
}

impl Response {
    /// Reads an [`http::Response`]'s status and headers (the body is not
    /// looked at: MPNS answers have none).
    pub fn from_http<B>(response: &http::Response<B>) -> Self {
        Self::from_header_map(response.status(), response.headers())
    }

    /// Reads the status and headers of a response split with `into_parts`.
    pub fn from_http_parts(parts: &http::response::Parts) -> Self {
        Self::from_header_map(parts.status, &parts.headers)
    }

    /// Reads a status and a [`HeaderMap`], every field counted (repeats
    /// included, so a conflicting status header is seen).
    pub fn from_header_map(status: http::StatusCode, headers: &HeaderMap) -> Self {
        Self::from_fields(
            status.as_u16(),
            headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
        )
    }
}

/// The values that recur on every request; cloning one copies nothing.
static STATIC_VALUES: [HeaderValue; 13] = [
    HeaderValue::from_static("text/xml"),
    HeaderValue::from_static("toast"),
    HeaderValue::from_static("token"),
    HeaderValue::from_static("1"),
    HeaderValue::from_static("2"),
    HeaderValue::from_static("3"),
    HeaderValue::from_static("4"),
    HeaderValue::from_static("11"),
    HeaderValue::from_static("12"),
    HeaderValue::from_static("13"),
    HeaderValue::from_static("21"),
    HeaderValue::from_static("22"),
    HeaderValue::from_static("23"),
];

/// The values that recur on every request, without copying them.
fn static_value(value: &str) -> Option<HeaderValue> {
    STATIC_VALUES
        .iter()
        .find(|v| v.as_bytes() == value.as_bytes())
        .cloned()
}

/// The header names the core writes, without parsing them per request.
fn request_header(name: &str) -> Option<HeaderName> {
    Some(match name {
        names::CONTENT_TYPE => header::CONTENT_TYPE,
        names::CONTENT_LENGTH => header::CONTENT_LENGTH,
        names::TARGET => header_name::TARGET,
        names::NOTIFICATION_CLASS => header_name::NOTIFICATION_CLASS,
        names::MESSAGE_ID => header_name::MESSAGE_ID,
        names::CALLBACK_URI => header_name::CALLBACK_URI,
        other => return HeaderName::from_bytes(other.as_bytes()).ok(),
    })
}

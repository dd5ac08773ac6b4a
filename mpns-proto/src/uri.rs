//! Channel URIs (`docs/protocol.md`, "Channel URIs") and the absolute URIs
//! of callbacks.
//!
//! A channel URI is opaque: its path and query are kept byte for byte. Parsing
//! only splits it and refuses what must never reach a request line.

use core::fmt;

/// Longest channel URI MPNS hands out, in characters (bytes: URIs are ASCII).
pub const MAX_CHANNEL_URI_LEN: usize = 1024;

/// `http` (unauthenticated sender, quota applies) or `https` (authenticated, mutual TLS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Scheme {
    /// Plain HTTP: an unauthenticated sender, limited to 500 notifications per channel per day.
    Http,
    /// HTTPS with a client certificate: an authenticated sender.
    Https,
}

impl Scheme {
    /// The scheme's name, lower case.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port used when the URI names none.
    pub const fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// Why a URI was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UriError {
    /// The URI is the empty string.
    Empty,
    /// Longer than [`MAX_CHANNEL_URI_LEN`]; carries the length in bytes.
    TooLong {
        /// Length of the given URI in bytes.
        len: usize,
    },
    /// A whitespace, control or non-ASCII character at this byte offset.
    ForbiddenChar {
        /// Byte offset of the character in the URI.
        offset: usize,
        /// The offending byte (the first byte of a multi-byte character).
        byte: u8,
    },
    /// Not an absolute URI (no `scheme://`).
    NotAbsolute,
    /// A scheme other than `http` or `https`.
    UnsupportedScheme,
    /// Nothing between `//` and the path.
    MissingHost,
    /// `user@` in the authority: MPNS URIs never carry credentials.
    UserInfo,
    /// The port is not a number from 1 to 65535.
    BadPort,
    /// A `#fragment`: it would never be sent, so the URI is not what MPNS issued.
    Fragment,
    /// A Windows Push Notification Services URI (`*.notify.windows.com`): WNS
    /// speaks another protocol and answers MPNS requests with 400.
    Wns,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            UriError::Empty => f.write_str("the URI is empty"),
            UriError::TooLong { len } => write!(
                f,
                "the URI is {len} characters long; MPNS channel URIs are at most {MAX_CHANNEL_URI_LEN}"
            ),
            UriError::ForbiddenChar { offset, byte } => write!(
                f,
                "byte 0x{byte:02x} at offset {offset} is whitespace, a control character or not ASCII"
            ),
            UriError::NotAbsolute => f.write_str("not an absolute URI (expected http:// or https://)"),
            UriError::UnsupportedScheme => f.write_str("the scheme is neither http nor https"),
            UriError::MissingHost => f.write_str("the URI has no host"),
            UriError::UserInfo => f.write_str("the URI carries user information (user@host)"),
            UriError::BadPort => f.write_str("the port is not a number from 1 to 65535"),
            UriError::Fragment => f.write_str("the URI has a #fragment"),
            UriError::Wns => f.write_str(
                "this is a WNS URI (*.notify.windows.com), not an MPNS channel; WNS rejects MPNS requests with 400",
            ),
        }
    }
}

impl core::error::Error for UriError {}

/// A validated absolute http(s) URI, split into the parts a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Uri<'a> {
    text: &'a str,
    scheme: Scheme,
    authority: &'a str,
    host: &'a str,
    port: Option<u16>,
    path: &'a str,
    query: &'a str,
}

impl<'a> Uri<'a> {
    /// Parses an absolute `http` or `https` URI of any length.
    pub fn parse(text: &'a str) -> Result<Self, UriError> {
        if text.is_empty() {
            return Err(UriError::Empty);
        }
        let bytes = text.as_bytes();
        if let Some(offset) = bytes.iter().position(|b| !(0x21..0x7f).contains(b)) {
            return Err(UriError::ForbiddenChar {
                offset,
                byte: bytes[offset],
            });
        }
        // Every byte is now printable ASCII: the parts are found byte by byte,
        // and every index is a character boundary.
        let scheme_end = bytes
            .windows(3)
            .position(|w| w == b"://")
            .ok_or(UriError::NotAbsolute)?;
        let (scheme_text, rest) = split_ascii(text, scheme_end);
        let rest = split_ascii(rest, 3).1;
        let scheme = if scheme_text.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme_text.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else if scheme_text.is_empty() || has_any(scheme_text, b"/?#") {
            return Err(UriError::NotAbsolute);
        } else {
            return Err(UriError::UnsupportedScheme);
        };
        if has_any(rest, b"#") {
            return Err(UriError::Fragment);
        }
        let authority_end = position_of_any(rest, b"/?").unwrap_or(rest.len());
        let (authority, path_and_query) = split_ascii(rest, authority_end);
        if has_any(authority, b"@") {
            return Err(UriError::UserInfo);
        }
        let (host, port) = split_host_port(authority)?;
        if host.is_empty() {
            return Err(UriError::MissingHost);
        }
        let (path, query) = match position_of_any(path_and_query, b"?") {
            Some(q) => split_ascii(path_and_query, q),
            None => (path_and_query, ""),
        };
        Ok(Uri {
            text,
            scheme,
            authority,
            host,
            port,
            path,
            query,
        })
    }

    /// The whole URI as given.
    pub const fn as_str(&self) -> &'a str {
        self.text
    }

    /// Where the parts are, to rebuild the URI from its text without parsing it again.
    pub(crate) const fn split(&self) -> UriSplit {
        UriSplit {
            https: matches!(self.scheme, Scheme::Https),
            port: self.port,
            authority_len: self.authority.len() as u16,
            host_len: self.host.len() as u16,
            path_len: self.path.len() as u16,
        }
    }

    /// The URI `split` was taken from, given its text; `None` for another text.
    pub(crate) fn from_split(text: &'a str, split: UriSplit) -> Option<Self> {
        let authority_len = usize::from(split.authority_len);
        let host_len = usize::from(split.host_len);
        let path_len = usize::from(split.path_len);
        // `{scheme}://{authority}{path}{query}`: the scheme is 4 or 5 bytes.
        let start = if split.https { 8 } else { 7 };
        let path_start = start + authority_len;
        let query_start = path_start + path_len;
        Some(Uri {
            text,
            scheme: if split.https {
                Scheme::Https
            } else {
                Scheme::Http
            },
            authority: text.get(start..path_start)?,
            host: text.get(start..start + host_len.min(authority_len))?,
            port: split.port,
            path: text.get(path_start..query_start)?,
            query: text.get(query_start..)?,
        })
    }

    /// `http` or `https`.
    pub const fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host name or address, without port; IPv6 addresses keep their brackets.
    pub const fn host(&self) -> &'a str {
        self.host
    }

    /// The port written in the URI, if any.
    pub const fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port to connect to: the written one or the scheme's default.
    pub const fn port_or_default(&self) -> u16 {
        match self.port {
            Some(p) => p,
            None => self.scheme.default_port(),
        }
    }

    /// The value of the `Host` header: host and port exactly as written in the URI.
    pub const fn host_header(&self) -> &'a str {
        self.authority
    }

    /// The path as given; empty when the URI has none (the request line then uses `/`).
    pub const fn path(&self) -> &'a str {
        self.path
    }

    /// The query including its leading `?`, or empty.
    pub const fn query(&self) -> &'a str {
        self.query
    }

    /// Path and query as one slice of the text (they end it); `None` for an
    /// empty path, which the request line writes as `/`.
    #[inline]
    pub(crate) fn path_and_query(&self) -> Option<&'a [u8]> {
        if self.path.is_empty() {
            return None;
        }
        let start = self.text.len() - self.path.len() - self.query.len();
        self.text.as_bytes().get(start..)
    }

    /// The request target: path and query exactly as given (`/` when the path is empty).
    pub const fn request_target(&self) -> RequestTarget<'a> {
        RequestTarget {
            path: self.path,
            suffix: "",
            query: self.query,
        }
    }
}

/// The offsets of a parsed URI's parts (its scheme, authority, host and
/// path lengths, and port), kept beside its text by the sender so that a
/// queued request is rebuilt without parsing its URI again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct UriSplit {
    https: bool,
    port: Option<u16>,
    authority_len: u16,
    host_len: u16,
    path_len: u16,
}

/// The target of a request line, `path[suffix][?query]`, borrowed from a URI.
///
/// Kept in parts so that callback registration can append `/callback` to the
/// path without allocating; `Display` writes the exact bytes of the request line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RequestTarget<'a> {
    path: &'a str,
    suffix: &'static str,
    query: &'a str,
}

impl<'a> RequestTarget<'a> {
    pub(crate) const fn with_suffix(self, suffix: &'static str) -> Self {
        RequestTarget { suffix, ..self }
    }

    /// The parts in wire order: path (`/` when empty and nothing follows it), suffix, query.
    pub const fn parts(&self) -> [&'a str; 3] {
        let path = if self.path.is_empty() && self.suffix.is_empty() {
            "/"
        } else {
            self.path
        };
        [path, self.suffix, self.query]
    }

    /// Length in bytes on the wire.
    pub const fn len(&self) -> usize {
        let [a, b, c] = self.parts();
        a.len() + b.len() + c.len()
    }

    /// Never true: a target is at least `/`.
    pub const fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for RequestTarget<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.parts().iter().try_for_each(|p| f.write_str(p))
    }
}

/// The offset of the first byte of `s` that is one of `set` (ASCII).
fn position_of_any(s: &str, set: &[u8]) -> Option<usize> {
    s.bytes().position(|b| set.contains(&b))
}

/// `s` split at `at`, for text already checked to be ASCII: every index is a
/// character boundary, so this never falls back to `(s, "")`. Unlike
/// `str::split_at` it has no panic path (flash on microcontrollers).
fn split_ascii(s: &str, at: usize) -> (&str, &str) {
    s.split_at_checked(at).unwrap_or((s, ""))
}

/// Whether `s` holds a byte of `set` (ASCII).
fn has_any(s: &str, set: &[u8]) -> bool {
    position_of_any(s, set).is_some()
}

fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), UriError> {
    let bytes = authority.as_bytes();
    let port_sep = if bytes.first() == Some(&b'[') {
        // IPv6 literal: the port separator comes after the closing bracket.
        let close = position_of_any(authority, b"]").ok_or(UriError::MissingHost)?;
        match bytes.get(close + 1) {
            None => None,
            Some(b':') => Some(close + 1),
            Some(_) => return Err(UriError::BadPort),
        }
    } else {
        bytes.iter().rposition(|&b| b == b':')
    };
    let Some(sep) = port_sep else {
        return Ok((authority, None));
    };
    let (host, digits) = (
        split_ascii(authority, sep).0,
        bytes.get(sep + 1..).unwrap_or_default(),
    );
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(UriError::BadPort);
    }
    let port = digits
        .iter()
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    match u16::try_from(port) {
        Ok(port @ 1..) => Ok((host, Some(port))),
        _ => Err(UriError::BadPort),
    }
}

fn host_ends_with(host: &str, suffix: &str) -> bool {
    let (h, s) = (host.as_bytes(), suffix.as_bytes());
    h.len() >= s.len() && h[h.len() - s.len()..].eq_ignore_ascii_case(s)
}

/// A channel URI as MPNS handed it to the phone app (`docs/protocol.md`,
/// "Channel URIs").
///
/// Refuses WNS URIs, other schemes, empty hosts, user information, fragments,
/// URIs over 1024 characters and any whitespace, control or non-ASCII byte.
/// Any other host is accepted (proxies, test servers, the emulator).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ChannelUri<'a> {
    uri: Uri<'a>,
}

impl<'a> ChannelUri<'a> {
    /// Validates a channel URI.
    pub fn parse(text: &'a str) -> Result<Self, UriError> {
        if text.len() > MAX_CHANNEL_URI_LEN {
            return Err(UriError::TooLong { len: text.len() });
        }
        let uri = Uri::parse(text)?;
        if host_ends_with(uri.host, ".notify.windows.com")
            || uri.host.eq_ignore_ascii_case("notify.windows.com")
        {
            return Err(UriError::Wns);
        }
        Ok(ChannelUri { uri })
    }

    /// The parsed parts: host, port, path, query, `Host` header value.
    pub const fn uri(&self) -> &Uri<'a> {
        &self.uri
    }

    /// See [`Uri::split`].
    pub(crate) const fn split(&self) -> UriSplit {
        self.uri.split()
    }

    /// The channel URI `split` was taken from (see [`Uri::split`]), given the
    /// text that [`ChannelUri::parse`] accepted.
    pub(crate) fn from_split(text: &'a str, split: UriSplit) -> Option<Self> {
        Uri::from_split(text, split).map(|uri| ChannelUri { uri })
    }

    /// The whole URI as given.
    pub const fn as_str(&self) -> &'a str {
        self.uri.text
    }

    /// `https` channels belong to authenticated senders (TLS client certificate, no quota).
    pub const fn is_authenticated(&self) -> bool {
        matches!(self.uri.scheme, Scheme::Https)
    }

    /// Whether the host is Microsoft's MPNS (`*.notify.live.net`), rather than a proxy or emulator.
    pub fn is_live_net(&self) -> bool {
        host_ends_with(self.uri.host, ".notify.live.net")
    }

    /// The host name or address, without port.
    pub const fn host(&self) -> &'a str {
        self.uri.host
    }

    /// The port to connect to: the written one or the scheme's default.
    pub const fn port(&self) -> u16 {
        self.uri.port_or_default()
    }

    /// The value of the `Host` header.
    pub const fn host_header(&self) -> &'a str {
        self.uri.authority
    }

    /// The request target: path and query exactly as given.
    pub const fn request_target(&self) -> RequestTarget<'a> {
        self.uri.request_target()
    }
}

impl fmt::Display for ChannelUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.uri.text)
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

#[cfg(test)]
mod split_tests {
    use super::ChannelUri;

    /// A channel URI rebuilt from its split is the one parsed.
    #[test]
    fn from_split_gives_back_the_parsed_uri() {
        for text in [
            "http://db3.notify.live.net/throttledthirdparty/01.00/AAGvdLTQ?x=1&y=2",
            "https://sn1.notify.live.net/unthrottledthirdparty/01.00/AAG5O",
            "HTTP://h:8080/p",
            "HtTpS://[::1]:47202/a/b?c",
            "http://h",
            "http://h?q",
            "http://h:1/",
        ] {
            let uri = ChannelUri::parse(text).unwrap();
            assert_eq!(
                ChannelUri::from_split(text, uri.split()),
                Some(uri),
                "{text}"
            );
        }
    }
}

//! Requests: the header list for structured HTTP clients, and the exact
//! HTTP/1.1 bytes for byte-stream transports (`docs/protocol.md`,
//! "Requests", "Limits" and "Callback registration").
//!
//! [`Request`] validates everything when it is built: the fields, the OS
//! gating, the body and header limits, the callback URI. Writing it can then
//! only fail for a buffer that is too small, which is left unchanged.

use crate::error::{BufferTooSmall, EncodeError, FieldProblem};
use crate::notification::{FieldName, Notification, Raw};
use crate::options::{Limits, MESSAGE_ID_TEXT_LEN, Options};
use crate::payload::{self, FAST_PATHS, Measured, Sink, Write};
use crate::uri::{ChannelUri, RequestTarget, Uri};

/// Header names in Microsoft's spelling.
pub mod header {
    /// `Host`.
    pub const HOST: &str = "Host";
    /// `Content-Type`.
    pub const CONTENT_TYPE: &str = "Content-Type";
    /// `Content-Length`.
    pub const CONTENT_LENGTH: &str = "Content-Length";
    /// `X-WindowsPhone-Target`: `toast` or `token`; absent for raw.
    pub const TARGET: &str = "X-WindowsPhone-Target";
    /// `X-NotificationClass`: the delivery class.
    pub const NOTIFICATION_CLASS: &str = "X-NotificationClass";
    /// `X-MessageID`: a UUID echoed by MPNS.
    pub const MESSAGE_ID: &str = "X-MessageID";
    /// `X-CallbackURI`: authenticated senders only.
    pub const CALLBACK_URI: &str = "X-CallbackURI";
    /// `X-NotificationStatus` (response).
    pub const NOTIFICATION_STATUS: &str = "X-NotificationStatus";
    /// `X-SubscriptionStatus` (response).
    pub const SUBSCRIPTION_STATUS: &str = "X-SubscriptionStatus";
    /// `X-DeviceConnectionStatus` (response).
    pub const DEVICE_CONNECTION_STATUS: &str = "X-DeviceConnectionStatus";
}

/// The only method MPNS accepts.
pub const METHOD: &str = "POST";

/// `text/xml` for every kind: raw too, as in Microsoft's samples.
const CONTENT_TYPE: &str = "text/xml";

/// What a request is, which decides its target header and path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum RequestKind {
    /// A toast: `X-WindowsPhone-Target: toast`.
    Toast,
    /// A tile: `X-WindowsPhone-Target: token` (not `tile`: two peers shipped that bug).
    Tile,
    /// A raw notification: no `X-WindowsPhone-Target`.
    Raw,
    /// A callback registration: `POST {channel}/callback`, no notification headers.
    CallbackRegistration,
}

impl RequestKind {
    /// The kind of a notification.
    pub const fn of(notification: &Notification<'_>) -> Self {
        match notification {
            Notification::Toast(_) => RequestKind::Toast,
            #[cfg(feature = "tiles")]
            Notification::Tile(_) => RequestKind::Tile,
            Notification::Raw(_) => RequestKind::Raw,
        }
    }

    /// The `X-WindowsPhone-Target` value, if the kind sends one.
    pub const fn windows_phone_target(self) -> Option<&'static str> {
        match self {
            RequestKind::Toast => Some("toast"),
            RequestKind::Tile => Some("token"),
            RequestKind::Raw | RequestKind::CallbackRegistration => None,
        }
    }

    const fn path_suffix(self) -> &'static str {
        match self {
            RequestKind::CallbackRegistration => "/callback",
            _ => "",
        }
    }
}

/// What the request carries.
#[derive(Clone, Copy, Debug)]
enum Body<'a> {
    /// A toast or tile, encoded on write; or a raw body, copied.
    Notification(&'a Notification<'a>, crate::options::TargetOs, u64),
    /// Bytes sent as they are: a callback registration's body, or a stored request's.
    Bytes(&'a [u8]),
}

/// A validated MPNS request, ready to be written as headers and body or as
/// HTTP/1.1 bytes. Build it with [`Request::notification`] or
/// [`Request::callback_registration`].
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    channel: ChannelUri<'a>,
    body: Body<'a>,
    kind: RequestKind,
    notification_class: Option<u8>,
    message_id: Option<[u8; MESSAGE_ID_TEXT_LEN]>,
    callback_uri: Option<&'a str>,
    body_len: usize,
    content_length: Digits,
}

/// The decimal text of a `usize`, without allocating.
#[derive(Clone, Copy, Debug)]
struct Digits {
    buf: [u8; Digits::MAX],
    start: u8,
}

impl Digits {
    /// The most digits a `usize` has: 20 on hosts, 10 on microcontrollers.
    const MAX: usize = usize::MAX.ilog10() as usize + 1;

    /// Before the body is known.
    const UNKNOWN: Digits = Digits {
        buf: [b'0'; Digits::MAX],
        start: (Digits::MAX - 1) as u8,
    };

    /// How many digits `n` has.
    fn count(n: usize) -> usize {
        n.checked_ilog10().map_or(1, |d| d as usize + 1)
    }

    fn new(mut n: usize) -> Self {
        if FAST_PATHS {
            // Eight digits at once on hosts; a digit at a time otherwise.
            if let Some(small) = u32::try_from(n).ok().filter(|&n| n < 100_000_000) {
                let (digits, count) = eight_digits(small);
                let mut buf = [b'0'; Digits::MAX];
                buf[Digits::MAX - 8..].copy_from_slice(&digits.to_le_bytes());
                return Digits {
                    buf,
                    start: (Digits::MAX - count) as u8,
                };
            }
        }
        let mut buf = [b'0'; Digits::MAX];
        let mut start = buf.len();
        loop {
            start -= 1;
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Digits {
            buf,
            start: start as u8,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[usize::from(self.start)..]
    }
}

/// The notification class: base 1 (tile), 2 (toast), 3 (raw), plus 10 or 20
/// for a later delivery; 4 for VoIP.
fn notification_class(n: &Notification<'_>, options: &Options<'_>) -> u8 {
    let base = match n {
        #[cfg(feature = "tiles")]
        Notification::Tile(_) => 1,
        Notification::Toast(_) => 2,
        Notification::Raw(raw) if raw.voip => return 4,
        Notification::Raw(_) => 3,
    };
    base + options.delivery.class_offset()
}

/// The header text of a notification class (`"?"` for one MPNS does not define).
const fn class_text(class: u8) -> &'static str {
    match class {
        1 => "1",
        2 => "2",
        3 => "3",
        4 => "4",
        11 => "11",
        12 => "12",
        13 => "13",
        21 => "21",
        22 => "22",
        23 => "23",
        _ => "?",
    }
}

/// Whether MPNS defines this notification class.
pub(crate) const fn is_valid_class(class: u8) -> bool {
    !matches!(class_text(class).as_bytes(), b"?")
}

/// What a request's header lines are made of; [`HeadValues::lines`] makes them.
struct HeadValues<'v> {
    host: &'v str,
    kind: RequestKind,
    /// The notification class's text, looked up once.
    class: Option<&'static str>,
    message_id: Option<&'v [u8; MESSAGE_ID_TEXT_LEN]>,
    callback_uri: Option<&'v str>,
    content_length: &'v [u8],
}

impl<'v> HeadValues<'v> {
    /// The header layout: hands `sink` each header line, in wire order,
    /// `Host` first. The one place that says which lines a request has and
    /// with which values: [`Request::headers_len`], [`Request::headers`],
    /// [`Request::write_http`] and [`encode_raw`] all read it.
    #[inline(always)]
    fn lines(&self, sink: &mut impl LineSink<'v>) {
        sink.line(header::HOST, self.host.as_bytes());
        sink.line(header::CONTENT_TYPE, CONTENT_TYPE.as_bytes());
        if let Some(target) = self.kind.windows_phone_target() {
            sink.line(header::TARGET, target.as_bytes());
        }
        if let Some(class) = self.class {
            sink.line(header::NOTIFICATION_CLASS, class.as_bytes());
        }
        if let Some(id) = self.message_id {
            sink.line(header::MESSAGE_ID, id);
        }
        if let Some(uri) = self.callback_uri {
            sink.line(header::CALLBACK_URI, uri.as_bytes());
        }
        sink.line(header::CONTENT_LENGTH, self.content_length);
    }

    /// Length of the lines as written; writes them into `out` if given,
    /// each after a CRLF (the caller ends the last). One copy on
    /// microcontrollers, for flash.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn write(&self, out: Option<&mut Write<'_>>) -> usize {
        let mut head = Head { len: 0, out };
        self.lines(&mut head);
        head.len
    }
}

/// Takes a request's header lines from [`HeadValues::lines`].
trait LineSink<'v> {
    /// One line: its name and its value (ASCII).
    fn line(&mut self, name: &'static str, value: &'v [u8]);
}

/// Counts the lines' length as written (`Name: value\r\n` each) and, given
/// a writer, writes them: each after a CRLF, which ends the line before.
struct Head<'w, 'b> {
    len: usize,
    out: Option<&'w mut Write<'b>>,
}

impl LineSink<'_> for Head<'_, '_> {
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn line(&mut self, name: &'static str, value: &[u8]) {
        self.len += name.len() + ": \r\n".len() + value.len();
        if let Some(w) = &mut self.out {
            w.put_header_line(name.as_bytes(), value);
        }
    }
}

/// The most header lines [`HeadValues::lines`] gives (a toast or tile with
/// a message ID and a callback URI): [`Collect`] has room for no more.
const MAX_LINES: usize = 7;

/// Keeps the lines for [`Request::headers`].
struct Collect<'v> {
    lines: [Option<(&'static str, &'v str)>; MAX_LINES],
    len: usize,
}

impl<'v> LineSink<'v> for Collect<'v> {
    fn line(&mut self, name: &'static str, value: &'v [u8]) {
        // The values are ASCII: this never falls back to "".
        self.lines[self.len] = Some((name, core::str::from_utf8(value).unwrap_or("")));
        self.len += 1;
    }
}

fn check_callback_uri<'a>(channel: &ChannelUri<'a>, uri: &'a str) -> Result<&'a str, EncodeError> {
    if !channel.is_authenticated() {
        return Err(EncodeError::field(
            FieldName::CallbackUri,
            FieldProblem::NeedsAuthenticatedChannel,
        ));
    }
    Uri::parse(uri)
        .map_err(|e| EncodeError::field(FieldName::CallbackUri, FieldProblem::Uri(e)))?;
    Ok(uri)
}

/// The options' refusals (after the body's): VoIP with a delivery interval,
/// a bad callback URI. Returns the callback URI.
#[inline(always)]
fn check_options<'a>(
    channel: &ChannelUri<'a>,
    notification: &Notification<'_>,
    options: &Options<'a>,
) -> Result<Option<&'a str>, EncodeError> {
    if matches!(notification, Notification::Raw(raw) if raw.voip)
        && options.delivery != crate::options::Delivery::Immediate
    {
        return Err(EncodeError::field(
            FieldName::Voip,
            FieldProblem::VoipNeedsImmediateDelivery,
        ));
    }
    match options.callback_uri {
        Some(uri) => Ok(Some(check_callback_uri(channel, uri)?)),
        None => Ok(None),
    }
}

impl<'a> Request<'a> {
    /// Validates a notification for `channel` and prepares its request.
    pub fn notification(
        channel: ChannelUri<'a>,
        notification: &'a Notification<'a>,
        options: &Options<'a>,
    ) -> Result<Self, EncodeError> {
        let measured = payload::measure(notification, options.target_os)?;
        let mut request = Self::prepare(channel, notification, options)?;
        request.set_body(measured);
        request.check_limits(notification.body_limit(&options.limits), &options.limits)?;
        Ok(request)
    }

    /// [`Request::notification`] that also writes the body into `out` in the
    /// same pass, for a caller that keeps it (the sender's arena). `out` holds
    /// the body when [`Request::body_len`] is at most its length; otherwise,
    /// and past the body, its bytes are unspecified.
    pub(crate) fn notification_with_body(
        channel: ChannelUri<'a>,
        notification: &'a Notification<'a>,
        options: &Options<'a>,
        out: &mut [u8],
    ) -> Result<Self, EncodeError> {
        let mut request = Self::prepare_body_first(channel, notification, options)?;
        let mut sink = Sink::validating(out);
        payload::emit(notification, options.target_os, &mut sink)?;
        request.set_body(sink.measured());
        request.check_limits(notification.body_limit(&options.limits), &options.limits)?;
        Ok(request)
    }

    /// [`Self::prepare`] for a caller that validates the body later, while
    /// writing it: a refusal of the body still comes first, as it does in
    /// [`Request::notification`].
    fn prepare_body_first(
        channel: ChannelUri<'a>,
        notification: &'a Notification<'a>,
        options: &Options<'a>,
    ) -> Result<Self, EncodeError> {
        Self::prepare(channel, notification, options).map_err(|refusal| {
            match payload::measure(notification, options.target_os) {
                Err(body) => body,
                Ok(_) => refusal,
            }
        })
    }

    /// The request with every check made but those of the body, which is left empty.
    fn prepare(
        channel: ChannelUri<'a>,
        notification: &'a Notification<'a>,
        options: &Options<'a>,
    ) -> Result<Self, EncodeError> {
        let callback_uri = check_options(&channel, notification, options)?;
        Ok(Request {
            channel,
            body: Body::Notification(notification, options.target_os, 0),
            kind: RequestKind::of(notification),
            notification_class: Some(notification_class(notification, options)),
            message_id: options.message_id.map(|id| id.to_text()),
            callback_uri,
            body_len: 0,
            content_length: Digits::UNKNOWN,
        })
    }

    /// Records the measured body of a notification request.
    fn set_body(&mut self, measured: Measured) {
        self.body_len = measured.len;
        self.content_length = Digits::new(measured.len);
        if let Body::Notification(_, _, escapes) = &mut self.body {
            *escapes = measured.escapes;
        }
    }

    /// Registers `callback_uri` for an authenticated channel: `POST {channel}/callback`
    /// with `X-CallbackURI` and an opaque `body` that MPNS posts to the callback
    /// when the device goes inactive. A new registration replaces the old one.
    pub fn callback_registration(
        channel: ChannelUri<'a>,
        callback_uri: &'a str,
        body: &'a [u8],
        limits: &Limits,
    ) -> Result<Self, EncodeError> {
        let callback_uri = check_callback_uri(&channel, callback_uri)?;
        let request = Request {
            channel,
            body: Body::Bytes(body),
            kind: RequestKind::CallbackRegistration,
            notification_class: None,
            message_id: None,
            callback_uri: Some(callback_uri),
            body_len: body.len(),
            content_length: Digits::new(body.len()),
        };
        request.check_limits(limits.callback_body, limits)?;
        Ok(request)
    }

    fn check_limits(&self, body_limit: usize, limits: &Limits) -> Result<(), EncodeError> {
        self.check_limits_of(body_limit, limits, self.headers_len())
    }

    /// [`Self::check_limits`] with the header lines' length counted already.
    fn check_limits_of(
        &self,
        body_limit: usize,
        limits: &Limits,
        headers_len: usize,
    ) -> Result<(), EncodeError> {
        if self.body_len > body_limit {
            return Err(EncodeError::BodyTooLarge {
                len: self.body_len,
                limit: body_limit,
            });
        }
        if headers_len > limits.headers {
            return Err(EncodeError::HeadersTooLarge {
                len: headers_len,
                limit: limits.headers,
            });
        }
        Ok(())
    }

    /// Rebuilds a request from parts validated earlier (a queued request in
    /// the sender): nothing is checked again.
    pub(crate) fn from_validated(
        channel: ChannelUri<'a>,
        kind: RequestKind,
        notification_class: Option<u8>,
        message_id: Option<crate::options::MessageId>,
        callback_uri: Option<&'a str>,
        body: &'a [u8],
    ) -> Self {
        Request {
            channel,
            body: Body::Bytes(body),
            kind,
            notification_class,
            message_id: message_id.map(|id| id.to_text()),
            callback_uri,
            body_len: body.len(),
            content_length: Digits::new(body.len()),
        }
    }

    /// What the request is.
    pub const fn kind(&self) -> RequestKind {
        self.kind
    }

    /// The `X-NotificationClass` value, absent for callback registrations.
    pub const fn notification_class(&self) -> Option<u8> {
        self.notification_class
    }

    /// The `X-MessageID` sent, if any.
    pub fn message_id(&self) -> Option<crate::options::MessageId> {
        self.message_id
            .as_ref()
            .and_then(|t| core::str::from_utf8(t).ok())
            .and_then(|t| crate::options::MessageId::parse(t).ok())
    }

    /// The `X-CallbackURI` sent, if any.
    pub const fn callback_uri(&self) -> Option<&'a str> {
        self.callback_uri
    }

    /// Total length of the header lines (`Name: value\r\n` each), as checked
    /// against the limit; counted without collecting [`Self::headers`].
    pub fn headers_len(&self) -> usize {
        self.head_values().write(None)
    }

    /// The channel the request goes to.
    pub const fn channel(&self) -> &ChannelUri<'a> {
        &self.channel
    }

    /// The request target (path and query; `/callback` appended to the path for a registration).
    pub const fn target(&self) -> RequestTarget<'a> {
        self.channel
            .request_target()
            .with_suffix(self.kind.path_suffix())
    }

    /// Headers for clients that write HTTP themselves (hyper, embedded-svc):
    /// every header but `Host`, in Microsoft's spelling and in wire order.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.header_lines().skip(1)
    }

    /// All header lines of the HTTP/1.1 request, `Host` first.
    fn header_lines(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        let mut collect = Collect {
            lines: [None; MAX_LINES],
            len: 0,
        };
        self.head_values().lines(&mut collect);
        collect.lines.into_iter().flatten()
    }

    /// What this request's header lines are made of.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn head_values(&self) -> HeadValues<'_> {
        HeadValues {
            host: self.channel.host_header(),
            kind: self.kind,
            class: self.notification_class.map(class_text),
            message_id: self.message_id.as_ref(),
            callback_uri: self.callback_uri,
            content_length: self.content_length.as_bytes(),
        }
    }

    /// Exact length of the body in bytes (the `Content-Length`).
    pub const fn body_len(&self) -> usize {
        self.body_len
    }

    /// Writes the body into `buf` and returns its length.
    pub fn write_body(&self, buf: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let buf = buf.get_mut(..self.body_len).ok_or(BufferTooSmall {
            needed: self.body_len,
        })?;
        Ok(self.emit_body(buf))
    }

    /// Writes the body at the front of `buf`, which holds at least `body_len`
    /// bytes, and returns its length.
    fn emit_body(&self, buf: &mut [u8]) -> usize {
        match self.body {
            // Validated when the request was built: this cannot fail.
            Body::Notification(n, os, escapes) => {
                let measured = Measured {
                    len: self.body_len,
                    escapes,
                };
                let mut sink = Sink::write(buf, measured);
                let _ = payload::emit(n, os, &mut sink);
                sink.len()
            }
            Body::Bytes(bytes) => {
                buf[..bytes.len()].copy_from_slice(bytes);
                bytes.len()
            }
        }
    }

    /// Exact length of the whole HTTP/1.1 request in bytes.
    pub fn http_len(&self) -> usize {
        self.head_len() + self.body_len
    }

    /// Length of the request line, header lines and blank line.
    fn head_len(&self) -> usize {
        self.request_line_len() + self.headers_len() + 2
    }

    /// Length of `POST {target} HTTP/1.1\r\n`.
    fn request_line_len(&self) -> usize {
        METHOD.len() + 1 + self.target().len() + " HTTP/1.1\r\n".len()
    }

    /// Writes the whole HTTP/1.1 request (request line, headers, blank line,
    /// body) into `buf` and returns its length.
    pub fn write_http(&self, buf: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let needed = self.http_len();
        let buf = buf.get_mut(..needed).ok_or(BufferTooSmall { needed })?;
        let (head, body) = buf.split_at_mut(needed - self.body_len);
        self.write_head(head);
        Ok(head.len() + self.emit_body(body))
    }

    /// Writes the request line, header lines and blank line into `head`,
    /// which is [`Self::head_len`] long.
    fn write_head(&self, head: &mut [u8]) {
        let mut w = Write::new(head);
        w.put(METHOD.as_bytes());
        w.put(b" ");
        for part in self.target().parts() {
            w.put(part.as_bytes());
        }
        w.put(b" HTTP/1.1");
        self.head_values().write(Some(&mut w));
        w.put(b"\r\n\r\n");
    }
}

impl<'a> Notification<'a> {
    /// The body limit that applies to this kind: raw or toast/tile payload.
    fn body_limit(&self, limits: &Limits) -> usize {
        match self {
            Notification::Raw(_) => limits.raw,
            _ => limits.payload,
        }
    }

    /// Exact body length under `options`, after every check [`Request`] makes on the body.
    pub fn encoded_len(&self, options: &Options<'_>) -> Result<usize, EncodeError> {
        Ok(self.measure(options)?.len)
    }

    fn measure(&self, options: &Options<'_>) -> Result<Measured, EncodeError> {
        let measured = payload::measure(self, options.target_os)?;
        let limit = self.body_limit(&options.limits);
        if measured.len > limit {
            return Err(EncodeError::BodyTooLarge {
                len: measured.len,
                limit,
            });
        }
        Ok(measured)
    }

    /// Writes the body (XML for toasts and tiles, bytes for raw) into `buf`
    /// and returns its length. A buffer that is too small is left unchanged.
    pub fn encode(&self, options: &Options<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let measured = self.measure(options)?;
        let len = measured.len;
        let buf = buf
            .get_mut(..len)
            .ok_or(EncodeError::BufferTooSmall { needed: len })?;
        let mut sink = Sink::write(buf, measured);
        payload::emit(self, options.target_os, &mut sink)?;
        Ok(sink.len())
    }
}

/// Validates a notification and writes its whole HTTP/1.1 request into `buf`;
/// returns its length. The same bytes as [`Request::notification`] then
/// [`Request::write_http`], and the same errors.
///
/// When `buf` can hold the longest request the body limit allows, the body
/// is written in one pass behind room for the head it most likely has (a
/// three-digit `Content-Length`), moved only if its length has another
/// number of digits, and the head is written in front of it.
/// Otherwise the body is measured first, so that a buffer too small is left
/// unchanged. After any other error, and past the returned length, the
/// contents of `buf` are unspecified. On hosts a raw request, whose length is
/// known at once, is written directly.
pub fn encode_request(
    channel: ChannelUri<'_>,
    notification: &Notification<'_>,
    options: &Options<'_>,
    buf: &mut [u8],
) -> Result<usize, EncodeError> {
    if FAST_PATHS
        && let Notification::Raw(raw) = notification
        && let Ok(len) = u32::try_from(raw.body.len())
        && len < 100_000_000
    {
        return encode_raw(channel, notification, raw, len, options, buf);
    }
    let mut request = Request::prepare_body_first(channel, notification, options)?;
    let limit = notification.body_limit(&options.limits);
    // The head with the most Content-Length digits the limit allows.
    let request_line = request.request_line_len();
    let headers_but_length = request.headers_len() - request.content_length.as_bytes().len();
    let longest_head = request_line + headers_but_length + Digits::count(limit) + 2;
    // The body goes behind the head it most likely has (bodies are mostly 100
    // to 999 bytes long), in room for any body the limit allows behind the
    // longest head; it moves only if its length has another number of digits.
    let likely_head = request_line + headers_but_length + Digits::count(limit.min(999)) + 2;
    let Some(body_room) = buf.get_mut(likely_head..longest_head.saturating_add(limit)) else {
        request.set_body(payload::measure(notification, options.target_os)?);
        request.check_limits(limit, &options.limits)?;
        return Ok(request.write_http(buf)?);
    };
    let mut sink = Sink::validating(body_room);
    payload::emit(notification, options.target_os, &mut sink)?;
    request.set_body(sink.measured());
    let headers_len = headers_but_length + request.content_length.as_bytes().len();
    request.check_limits_of(limit, &options.limits, headers_len)?;
    let head = request_line + headers_len + 2;
    let len = request.body_len;
    if head != likely_head {
        buf.copy_within(likely_head..likely_head + len, head);
    }
    request.write_head(&mut buf[..head]);
    Ok(head + len)
}

/// `n` (below 10^8) as eight ASCII digits, leading zeros included and the
/// most significant in the lowest byte, and how many digits `n` has. Each
/// step splits every lane in two at once (SWAR): four digits, two, one.
fn eight_digits(n: u32) -> (u64, usize) {
    let n = u64::from(n);
    let halves = (n / 10_000) | ((n % 10_000) << 32);
    // x * 10486 >> 20 is x / 100 for x below 10^4; y * 103 >> 10 is y / 10 below 100.
    let hundreds = ((halves * 10_486) >> 20) & 0x0000_007F_0000_007F;
    let quarters = hundreds | ((halves - hundreds * 100) << 16);
    let tens = ((quarters * 103) >> 10) & 0x000F_000F_000F_000F;
    let digits = tens | ((quarters - tens * 10) << 8);
    let leading_zeros = (digits.trailing_zeros() / 8).min(7) as usize;
    (digits + 0x3030_3030_3030_3030, 8 - leading_zeros)
}

/// [`encode_request`] of a raw notification of `len` bytes (below 10^8), on
/// hosts (see `FAST_PATHS`): its length is known at once, so the exact head
/// is written in front of one copy of the body, without building a
/// [`Request`]. The same header lines ([`HeadValues::lines`]), the same bytes
/// as [`Request::write_head`] and the same refusals, in the same order. Not inlined: the other kinds' path keeps
/// its code as it was.
#[inline(never)]
fn encode_raw(
    channel: ChannelUri<'_>,
    notification: &Notification<'_>,
    raw: &Raw<'_>,
    len: u32,
    options: &Options<'_>,
    buf: &mut [u8],
) -> Result<usize, EncodeError> {
    payload::check_raw(raw, options.target_os)?;
    let callback_uri = check_options(&channel, notification, options)?;
    let body = raw.body;
    let limit = options.limits.raw;
    if body.len() > limit {
        return Err(EncodeError::BodyTooLarge {
            len: body.len(),
            limit,
        });
    }
    let (digits, count) = eight_digits(len);
    let digits = digits.to_le_bytes();
    let message_id = options.message_id.map(|id| id.to_text());
    let values = HeadValues {
        host: channel.host_header(),
        kind: RequestKind::Raw,
        class: Some(class_text(notification_class(notification, options))),
        message_id: message_id.as_ref(),
        callback_uri,
        content_length: &digits[digits.len() - count..],
    };
    let headers_len = values.write(None);
    if headers_len > options.limits.headers {
        return Err(EncodeError::HeadersTooLarge {
            len: headers_len,
            limit: options.limits.headers,
        });
    }
    let uri = channel.uri();
    let target = uri.path_and_query();
    let target_len = target.map_or(1 + uri.query().len(), <[u8]>::len);
    let head = "POST  HTTP/1.1\r\n".len() + target_len + headers_len + 2;
    let needed = head + body.len();
    let out = buf
        .get_mut(..needed)
        .ok_or(EncodeError::BufferTooSmall { needed })?;
    let (head_out, body_out) = out.split_at_mut(head);
    let mut w = Write::new(head_out);
    w.put(b"POST ");
    match target {
        Some(target) => w.put(target),
        None => {
            w.put(b"/");
            w.put(uri.query().as_bytes());
        }
    }
    w.put(b" HTTP/1.1");
    values.write(Some(&mut w));
    w.put(b"\r\n\r\n");
    // The body last: the head's values need not outlive a call to `memcpy`.
    body_out.copy_from_slice(body);
    Ok(needed)
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    extern crate std;
    use alloc::{format, vec, vec::Vec};

    use super::*;
    use crate::{Delivery, MessageId, Raw, Tile, Toast};

    #[test]
    fn eight_digits_are_the_decimal_text() {
        let edges = (0..8).flat_map(|e| [10u32.pow(e) - 1, 10u32.pow(e)]);
        for n in (0..20_000)
            .chain(edges)
            .chain((0..99_999_999).step_by(9_973))
        {
            let (digits, count) = eight_digits(n);
            let text = format!("{n:08}");
            assert_eq!(digits.to_le_bytes(), text.as_bytes(), "{n}");
            assert_eq!(count, format!("{n}").len(), "{n}");
        }
        assert_eq!(
            eight_digits(99_999_999),
            (u64::from_le_bytes(*b"99999999"), 8)
        );
    }

    /// `write_http` and `header_lines` read the layout through different sinks:
    /// they must give the same lines.
    #[test]
    fn write_http_agrees_with_header_lines() {
        let http = ChannelUri::parse("http://h:1/p?q=1").unwrap();
        let https = ChannelUri::parse("https://h/p").unwrap();
        let toast = Notification::Toast(Toast {
            text1: Some("a"),
            ..Toast::default()
        });
        let tile = Notification::Tile(Tile::default());
        let raw = Notification::Raw(Raw {
            body: b"x",
            voip: false,
        });
        let voip = Notification::Raw(Raw {
            body: b"x",
            voip: true,
        });
        let mut requests = Vec::new();
        for n in [&toast, &tile, &raw, &voip] {
            for delivery in [
                Delivery::Immediate,
                Delivery::Within450s,
                Delivery::Within900s,
            ] {
                for message_id in [None, Some(MessageId([7; 16]))] {
                    let options = Options {
                        delivery,
                        message_id,
                        ..Options::default()
                    };
                    requests.extend(Request::notification(http, n, &options));
                    let options = Options {
                        callback_uri: Some("https://cb/x"),
                        ..options
                    };
                    requests.extend(Request::notification(https, n, &options));
                }
            }
        }
        assert_eq!(requests.len(), 40);
        requests.push(
            Request::callback_registration(https, "https://cb/x", b"body", &Limits::DEFAULT)
                .unwrap(),
        );
        for r in requests {
            let mut expected = format!("POST {} HTTP/1.1\r\n", r.target());
            for (name, value) in r.header_lines() {
                expected += &format!("{name}: {value}\r\n");
            }
            expected += "\r\n";
            let mut body = vec![0; r.body_len()];
            r.write_body(&mut body).unwrap();
            let mut wire = vec![0; r.http_len()];
            assert_eq!(r.write_http(&mut wire).unwrap(), wire.len());
            assert_eq!(&wire[..expected.len()], expected.as_bytes());
            assert_eq!(&wire[expected.len()..], &body[..]);
        }
    }
}

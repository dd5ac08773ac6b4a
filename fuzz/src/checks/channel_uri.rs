//! `channel_uri`: [`ChannelUri::parse`] on any bytes (the channel URI rules of `mpns-proto/src/uri.rs`).
//!
//! Accepted: at most 1024 bytes, no byte outside `!`..`~`, http or https, a
//! host, no user info, no fragment, not WNS; the parts rebuild the text; the
//! request line and `Host` header written from it are exactly the URI's and
//! parse back as one HTTP/1.1 request. Refused: a typed error that says what
//! is wrong, and the general [`Uri::parse`] agrees.

use mpns_proto::uri::MAX_CHANNEL_URI_LEN;
use mpns_proto::{
    ChannelUri, Limits, Notification, Options, Request, Scheme, Toast, Uri, UriError,
};

/// Runs the check on raw fuzz input (invalid UTF-8 is read lossily).
pub fn check(data: &[u8]) {
    match core::str::from_utf8(data) {
        Ok(text) => check_text(text),
        Err(_) => check_text(&String::from_utf8_lossy(data)),
    }
}

fn is_wns(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h == "notify.windows.com" || h.ends_with(".notify.windows.com")
}

/// Runs the check on one string.
pub fn check_text(text: &str) {
    let general = Uri::parse(text);
    match ChannelUri::parse(text) {
        Ok(channel) => accepted(text, channel, general),
        Err(e) => refused(text, e, general),
    }
}

fn accepted(text: &str, channel: ChannelUri<'_>, general: Result<Uri<'_>, UriError>) {
    assert!(
        text.len() <= MAX_CHANNEL_URI_LEN,
        "over 1024 bytes accepted"
    );
    assert!(
        text.bytes().all(|b| (0x21..0x7f).contains(&b)),
        "whitespace, control or non-ASCII accepted: {text:?}"
    );
    let uri = *channel.uri();
    assert_eq!(general, Ok(uri), "Uri::parse disagrees");
    assert_eq!(channel.as_str(), text);
    assert_eq!(channel.to_string(), text);

    // The parts rebuild the text exactly.
    let (scheme, rest) = text.split_once("://").expect("accepted without ://");
    assert!(scheme.eq_ignore_ascii_case(uri.scheme().as_str()));
    assert_eq!(
        channel.is_authenticated(),
        uri.scheme() == Scheme::Https,
        "https is the authenticated scheme"
    );
    assert_eq!(
        rest,
        format!("{}{}{}", channel.host_header(), uri.path(), uri.query())
    );
    let host = channel.host();
    assert!(!host.is_empty(), "empty host accepted");
    assert!(!text.contains('#'), "fragment accepted");
    assert!(!channel.host_header().contains('@'), "user info accepted");
    assert!(
        !host.contains(['/', '?']),
        "host {host:?} runs into the path"
    );
    assert!(!is_wns(host), "WNS host accepted: {host:?}");
    assert_eq!(
        channel.is_live_net(),
        host.to_ascii_lowercase().ends_with(".notify.live.net")
    );
    match uri.port() {
        Some(port) => {
            assert_ne!(port, 0);
            assert_eq!(channel.port(), port);
            let suffix = channel
                .host_header()
                .strip_prefix(host)
                .expect("host first");
            let digits = suffix.strip_prefix(':').expect("port after a colon");
            assert_eq!(digits.parse::<u16>().ok(), Some(port));
        }
        None => {
            assert_eq!(channel.host_header(), host);
            assert_eq!(channel.port(), uri.scheme().default_port());
        }
    }
    assert!(uri.path().is_empty() || uri.path().starts_with('/'));
    assert!(!uri.path().contains('?'));
    assert!(uri.query().is_empty() || uri.query().starts_with('?'));

    // The request target: path and query exactly, `/` for an empty path.
    let target = channel.request_target();
    let shown = target.to_string();
    assert_eq!(shown.len(), target.len());
    assert!(shown.starts_with('/'), "target {shown:?}");
    let expected = if uri.path().is_empty() {
        format!("/{}", uri.query())
    } else {
        format!("{}{}", uri.path(), uri.query())
    };
    assert_eq!(shown, expected);

    // A request to it: the request line and Host header are the URI's, and
    // the head parses back as exactly one request.
    let toast = Notification::Toast(Toast {
        text1: Some("t"),
        ..Toast::default()
    });
    let options = Options {
        limits: Limits {
            headers: 4096,
            ..Limits::DEFAULT
        },
        ..Options::default()
    };
    let request = Request::notification(channel, &toast, &options).expect("toast to a channel");
    request_parses(&request, &shown, channel.host_header());
    if channel.is_authenticated() {
        let registration = Request::callback_registration(
            channel,
            "https://callback.example/mpns",
            b"state",
            &Limits {
                headers: 4096,
                ..Limits::DEFAULT
            },
        )
        .expect("callback registration on https");
        let with_suffix = if uri.path().is_empty() {
            format!("/callback{}", uri.query())
        } else {
            format!("{}/callback{}", uri.path(), uri.query())
        };
        request_parses(&registration, &with_suffix, channel.host_header());
    }
}

/// The HTTP/1.1 bytes of `request` parse as one POST to `target` with `host`.
pub fn request_parses(request: &Request<'_>, target: &str, host: &str) {
    let mut wire = vec![0u8; request.http_len()];
    let n = request.write_http(&mut wire).expect("exact buffer");
    assert_eq!(n, request.http_len());
    let line = format!("POST {target} HTTP/1.1\r\n");
    assert!(
        wire.starts_with(line.as_bytes()),
        "request line is not {line:?}"
    );
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut parsed = httparse::Request::new(&mut headers);
    let head = match parsed.parse(&wire) {
        Ok(httparse::Status::Complete(head)) => head,
        other => panic!("request head does not parse: {other:?}"),
    };
    assert_eq!(parsed.method, Some("POST"));
    assert_eq!(parsed.path, Some(target));
    assert_eq!(parsed.version, Some(1));
    let value = |name: &str| {
        let mut found = parsed
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name));
        let first = found.next().map(|h| h.value);
        assert!(found.next().is_none(), "two {name} headers");
        first
    };
    assert_eq!(value("Host"), Some(host.as_bytes()));
    let length = value("Content-Length").expect("Content-Length");
    assert_eq!(length, request.body_len().to_string().as_bytes());
    assert_eq!(head + request.body_len(), n, "body after the head");
    // Every header but Host, in order, as the structured-client list says.
    let listed: Vec<(&str, &[u8])> = request
        .headers()
        .map(|(name, value)| (name, value.as_bytes()))
        .collect();
    let parsed_list: Vec<(&str, &[u8])> = parsed
        .headers
        .iter()
        .skip(1)
        .map(|h| (h.name, h.value))
        .collect();
    assert_eq!(listed, parsed_list);
    assert_eq!(
        request.headers_len(),
        parsed
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len() + 4)
            .sum::<usize>(),
        "headers_len is the sum of the header lines"
    );
}

fn refused(text: &str, e: UriError, general: Result<Uri<'_>, UriError>) {
    assert!(!e.to_string().is_empty());
    match e {
        UriError::Empty => assert!(text.is_empty()),
        UriError::TooLong { len } => {
            assert_eq!(len, text.len());
            assert!(len > MAX_CHANNEL_URI_LEN);
        }
        UriError::ForbiddenChar { offset, byte } => {
            assert_eq!(text.as_bytes().get(offset), Some(&byte));
            assert!(!(0x21..0x7f).contains(&byte));
            assert!(
                text.as_bytes()[..offset]
                    .iter()
                    .all(|b| (0x21..0x7f).contains(b)),
                "not the first forbidden byte"
            );
        }
        UriError::Wns => {
            let uri = general.expect("WNS, yet not a URI");
            assert!(is_wns(uri.host()));
        }
        UriError::UnsupportedScheme => {
            let (scheme, _) = text.split_once("://").expect("a scheme");
            assert!(!scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https"));
        }
        UriError::NotAbsolute
        | UriError::MissingHost
        | UriError::UserInfo
        | UriError::BadPort
        | UriError::Fragment => {}
    }
    if text.len() <= MAX_CHANNEL_URI_LEN && e != UriError::Wns {
        assert_eq!(general, Err(e), "Uri::parse disagrees on {text:?}");
    }
}

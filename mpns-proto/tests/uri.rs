//! Channel URI rules of `docs/protocol.md`, "Channel URIs", one test per rule
//! and refusal.

use mpns_proto::uri::MAX_CHANNEL_URI_LEN;
use mpns_proto::{ChannelUri, Scheme, Uri, UriError};

#[test]
fn unauthenticated_live_net_channel() {
    let c =
        ChannelUri::parse("http://db3.notify.live.net/throttledthirdparty/01.00/AAGvdLT").unwrap();
    assert!(!c.is_authenticated());
    assert!(c.is_live_net());
    assert_eq!(c.host(), "db3.notify.live.net");
    assert_eq!(c.port(), 80);
    assert_eq!(c.host_header(), "db3.notify.live.net");
    assert_eq!(
        c.request_target().to_string(),
        "/throttledthirdparty/01.00/AAGvdLT"
    );
    assert_eq!(c.uri().scheme(), Scheme::Http);
}

#[test]
fn https_is_authenticated_with_default_port_443() {
    let c =
        ChannelUri::parse("https://sn1.notify.live.net/unthrottledthirdparty/01.00/AAG5O").unwrap();
    assert!(c.is_authenticated());
    assert_eq!(c.port(), 443);
    assert_eq!(c.uri().port(), None);
}

#[test]
fn wp8_shape_keeps_path_exactly() {
    let text = "http://s.notify.live.net/u/1/sin/H2QAAAA/d2luZG93c3Bob25lZGVmYXVsdA/AQ";
    let c = ChannelUri::parse(text).unwrap();
    assert_eq!(
        c.request_target().to_string(),
        "/u/1/sin/H2QAAAA/d2luZG93c3Bob25lZGVmYXVsdA/AQ"
    );
    assert_eq!(c.as_str(), text);
    assert_eq!(c.to_string(), text);
}

#[test]
fn query_and_port_are_kept() {
    let c = ChannelUri::parse("http://127.0.0.1:47001/throttledthirdparty/01.00/ABC?x=1&y=%20")
        .unwrap();
    assert_eq!(c.host(), "127.0.0.1");
    assert_eq!(c.port(), 47001);
    assert_eq!(c.host_header(), "127.0.0.1:47001");
    assert_eq!(
        c.request_target().to_string(),
        "/throttledthirdparty/01.00/ABC?x=1&y=%20"
    );
    assert_eq!(c.uri().query(), "?x=1&y=%20");
    assert!(!c.is_live_net());
}

#[test]
fn empty_path_targets_slash() {
    let c = ChannelUri::parse("http://example.com").unwrap();
    assert_eq!(c.request_target().to_string(), "/");
    let c = ChannelUri::parse("http://example.com?a=b").unwrap();
    assert_eq!(c.request_target().to_string(), "/?a=b");
    assert_eq!(c.request_target().len(), 5);
}

#[test]
fn ipv6_host_with_port() {
    let c = ChannelUri::parse("http://[::1]:8080/p").unwrap();
    assert_eq!(c.host(), "[::1]");
    assert_eq!(c.port(), 8080);
    assert_eq!(c.host_header(), "[::1]:8080");
    let c = ChannelUri::parse("http://[::1]/p").unwrap();
    assert_eq!(c.port(), 80);
}

#[test]
fn scheme_is_case_insensitive() {
    assert!(
        ChannelUri::parse("HTTPS://a.notify.live.net/x")
            .unwrap()
            .is_authenticated()
    );
}

#[test]
fn live_net_detection_is_by_suffix() {
    assert!(
        ChannelUri::parse("http://DB3.NOTIFY.LIVE.NET/x")
            .unwrap()
            .is_live_net()
    );
    assert!(
        !ChannelUri::parse("http://notify.live.net.evil.com/x")
            .unwrap()
            .is_live_net()
    );
    assert!(
        !ChannelUri::parse("http://evilnotify.live.net/x")
            .unwrap()
            .is_live_net()
    );
}

#[test]
fn exactly_1024_characters_is_accepted_1025_refused() {
    let prefix = "http://h/";
    let ok = format!("{prefix}{}", "a".repeat(MAX_CHANNEL_URI_LEN - prefix.len()));
    assert_eq!(ok.len(), 1024);
    ChannelUri::parse(&ok).unwrap();
    let long = format!("{ok}a");
    assert_eq!(
        ChannelUri::parse(&long),
        Err(UriError::TooLong { len: 1025 })
    );
    // The generic URI type (callbacks) has no such limit.
    Uri::parse(&long).unwrap();
}

#[test]
fn refusals() {
    let cases: &[(&str, UriError)] = &[
        ("", UriError::Empty),
        ("ftp://h/x", UriError::UnsupportedScheme),
        ("ws://h/x", UriError::UnsupportedScheme),
        ("h/x", UriError::NotAbsolute),
        ("/throttledthirdparty/01.00/x", UriError::NotAbsolute),
        ("http:/h/x", UriError::NotAbsolute),
        ("://h/x", UriError::NotAbsolute),
        ("http:///x", UriError::MissingHost),
        ("http://:80/x", UriError::MissingHost),
        ("http://?x", UriError::MissingHost),
        ("http://user:pw@h/x", UriError::UserInfo),
        ("http://h:/x", UriError::BadPort),
        ("http://h:0/x", UriError::BadPort),
        ("http://h:65536/x", UriError::BadPort),
        ("http://h:8a/x", UriError::BadPort),
        ("http://h:123456/x", UriError::BadPort),
        ("http://[::1]x/y", UriError::BadPort),
        ("http://[::1/y", UriError::MissingHost),
        ("http://h/x#frag", UriError::Fragment),
        (
            "https://db5.notify.windows.com/?token=AwYAAAB",
            UriError::Wns,
        ),
        ("https://NOTIFY.WINDOWS.COM/?token=x", UriError::Wns),
        ("https://bn1.notify.Windows.com:443/?token=x", UriError::Wns),
    ];
    for (text, want) in cases {
        assert_eq!(ChannelUri::parse(text), Err(*want), "{text:?}");
    }
}

#[test]
fn whitespace_control_and_non_ascii_are_refused_with_their_offset() {
    let cases: &[(&str, usize, u8)] = &[
        ("http://h/a\r\nX-Evil: 1", 10, b'\r'),
        ("http://h/a\nb", 10, b'\n'),
        ("http://h/a b", 10, b' '),
        ("http://h/a\tb", 10, b'\t'),
        (" http://h/a", 0, b' '),
        ("http://h/a\u{7f}", 10, 0x7f),
        ("http://h/a\0", 10, 0),
        ("http://h/é", 9, 0xc3),
    ];
    for (text, offset, byte) in cases {
        assert_eq!(
            ChannelUri::parse(text),
            Err(UriError::ForbiddenChar {
                offset: *offset,
                byte: *byte
            }),
            "{text:?}"
        );
    }
}

#[test]
fn errors_explain_themselves() {
    let wns = ChannelUri::parse("https://db5.notify.windows.com/?token=A").unwrap_err();
    assert!(wns.to_string().contains("WNS"), "{wns}");
    let long = UriError::TooLong { len: 2000 }.to_string();
    assert!(long.contains("2000") && long.contains("1024"), "{long}");
    let ch = UriError::ForbiddenChar {
        offset: 7,
        byte: b'\r',
    }
    .to_string();
    assert!(ch.contains("offset 7") && ch.contains("0x0d"), "{ch}");
}

//! The `http` feature: every request vector as an `http::Request` carries the
//! same URI, headers and body as the vector (`tests/vectors/requests.jsonl`),
//! and responses read from `http` types give the same result as the core's
//! own reader (`docs/protocol.md`, "Requests" and "Reading a response").

use mpns_proto::http_interop::ToHttpError;
use mpns_proto::{
    ChannelUri, HeaderValue, NotificationStatus, Options, Parsed, ReaderLimits, Request, Response,
    Toast, parse_response,
};

#[path = "vectors/notifications.rs"]
mod notifications;
use notifications::notification;

/// Each vector that encodes: `to_http`, `to_http_in` and `to_http_parts`
/// give the vector's target (in the URI, after scheme and authority), its
/// headers but `Host` (which is the URI's authority) and its body.
#[test]
fn every_request_vector_as_http_request() {
    let text = include_str!("vectors/requests.jsonl");
    let mut checked = 0;
    for line in text.lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let name = case["case"].as_str().unwrap();
        let expected = &case["expected"];
        if expected == "refuse" {
            continue;
        }
        let uri = case["args"]
            .as_array()
            .unwrap()
            .windows(2)
            .find(|w| w[0] == "--channel")
            .and_then(|w| w[1].as_str())
            .unwrap();
        let (n, o) = notification(name).unwrap();
        let request = Request::notification(ChannelUri::parse(uri).unwrap(), &n, &o).unwrap();
        let http: http::Request<Vec<u8>> = request.to_http().unwrap();

        assert_eq!(http.method(), http::Method::POST, "{name}");
        let scheme = &uri[..uri.find("://").unwrap()];
        let host = expected["headers"]["host"].as_str().unwrap();
        let target = expected["target"].as_str().unwrap();
        assert_eq!(
            http.uri().to_string(),
            format!("{scheme}://{host}{target}"),
            "{name}: URI"
        );
        assert_eq!(http.uri().host(), Some(request.channel().host()), "{name}");
        let want: Vec<(String, String)> = expected["headers"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "host")
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let got: Vec<(String, String)> = http
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
            .collect();
        assert_eq!(sorted(got), sorted(want), "{name}: headers");
        assert_eq!(
            http.body().as_slice(),
            expected["body"].as_str().unwrap().as_bytes(),
            "{name}: body"
        );

        // The same request with the body in the caller's buffer, and as bytes::Bytes.
        let mut buf = vec![0xAAu8; request.body_len() + 7];
        let in_buf = request.to_http_in(&mut buf).unwrap();
        assert_eq!(*in_buf.body(), http.body().as_slice(), "{name}");
        assert_eq!(in_buf.uri(), http.uri(), "{name}");
        assert_eq!(in_buf.headers(), http.headers(), "{name}");
        let bytes: http::Request<bytes::Bytes> = request.to_http().unwrap();
        assert_eq!(bytes.body().as_ref(), http.body().as_slice(), "{name}");
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} vectors checked");
}

#[test]
fn a_callback_registration_keeps_port_suffix_and_query() {
    let channel = ChannelUri::parse("https://127.0.0.1:8443/sub/01.00/TOKEN?a=1&b=2").unwrap();
    let request = Request::callback_registration(
        channel,
        "https://example.com/cb",
        b"state",
        &mpns_proto::Limits::default(),
    )
    .unwrap();
    let http: http::Request<Vec<u8>> = request.to_http().unwrap();
    assert_eq!(
        http.uri(),
        "https://127.0.0.1:8443/sub/01.00/TOKEN/callback?a=1&b=2"
    );
    assert_eq!(http.headers()["x-callbackuri"], "https://example.com/cb");
    assert_eq!(http.body().as_slice(), b"state");
}

#[test]
fn a_small_buffer_is_refused_and_left_unchanged() {
    let channel = ChannelUri::parse("http://h/p").unwrap();
    let toast = mpns_proto::Notification::Toast(Toast {
        text1: Some("hi"),
        ..Toast::default()
    });
    let request = Request::notification(channel, &toast, &Options::default()).unwrap();
    let mut buf = vec![7u8; request.body_len() - 1];
    let err = request.to_http_in(&mut buf).unwrap_err();
    assert_eq!(
        err,
        ToHttpError::BufferTooSmall(mpns_proto::BufferTooSmall {
            needed: request.body_len()
        })
    );
    assert!(buf.iter().all(|&b| b == 7));
}

/// The core accepts every printable ASCII byte in a channel path; the `http`
/// crate refuses some that RFC 3986 forbids. The conversion names the part.
#[test]
fn a_path_the_http_crate_refuses_is_a_typed_error() {
    let channel = ChannelUri::parse("http://h/a<b").unwrap();
    let raw = mpns_proto::Notification::Raw(mpns_proto::Raw {
        body: b"x",
        ..Default::default()
    });
    let request = Request::notification(channel, &raw, &Options::default()).unwrap();
    match request.to_http::<Vec<u8>>() {
        Err(ToHttpError::Uri { part, reason }) => {
            assert_eq!(part, "path and query");
            assert!(!reason.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

/// Each response vector, read from an `http::Response` built from the same
/// fields, gives the response the core's byte reader gives.
#[test]
fn every_response_vector_reads_the_same_from_http_types() {
    let text = include_str!("vectors/responses.jsonl");
    let mut checked = 0;
    for line in text.lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let raw = case["response"]
            .as_str()
            .unwrap_or_else(|| panic!("{case}: no response"));
        let Ok(Parsed::Complete { response, .. }) =
            parse_response::<32>(raw.as_bytes(), ReaderLimits::DEFAULT, true)
        else {
            continue;
        };
        let from_bytes = response.response;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut headers);
        parsed.parse(raw.as_bytes()).unwrap();
        if parsed.code.unwrap() < 200 {
            // An HTTP client hands over the final response, not a 1xx.
            continue;
        }
        let mut builder = http::Response::builder().status(parsed.code.unwrap());
        for h in parsed.headers.iter() {
            builder = builder.header(h.name, h.value);
        }
        let http = builder.body(()).unwrap();
        assert_eq!(Response::from_http(&http), from_bytes, "{raw}");
        let (parts, ()) = http.into_parts();
        assert_eq!(Response::from_http_parts(&parts), from_bytes, "{raw}");
        assert_eq!(
            Response::from_header_map(parts.status, &parts.headers),
            from_bytes,
            "{raw}"
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} response vectors checked");
}

#[test]
fn a_conflicting_repeat_in_a_header_map_is_seen() {
    let http = http::Response::builder()
        .status(200)
        .header("X-NotificationStatus", "Received")
        .header("x-notificationstatus", "QueueFull")
        .body(())
        .unwrap();
    let response = Response::from_http(&http);
    assert_eq!(response.notification, HeaderValue::Conflicting);
    let agreeing = http::Response::builder()
        .status(200)
        .header("X-NotificationStatus", "Received")
        .header("X-NotificationStatus", "received")
        .body(())
        .unwrap();
    assert_eq!(
        Response::from_http(&agreeing).notification,
        HeaderValue::Known(NotificationStatus::Received)
    );
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

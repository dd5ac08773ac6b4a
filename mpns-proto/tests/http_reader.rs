//! The incremental HTTP/1.1 response reader (`mpns_proto::http`): the policy
//! table of `docs/protocol.md`, "What each response means", from raw bytes,
//! framing, connection reuse, split invariance, limits and malformed input.

use mpns_proto::response::AnomalyReason;
use mpns_proto::{
    Backoff, BodyFraming, ChunkProblem, ConnectionReuse, DeviceStatus, HttpVersion,
    MalformedReason, MessageId, MessageIdEcho, Outcome, Parsed, ReadError, ReadResponse,
    ReaderLimits, RejectReason, ResponseReader, RetryReason, Scope, classify, parse_response,
};
use proptest::prelude::*;

const LIMITS: ReaderLimits = ReaderLimits::DEFAULT;

/// One complete response, using all of `bytes`.
fn read(bytes: &[u8]) -> ReadResponse {
    match parse_response::<32>(bytes, LIMITS, true) {
        Ok(Parsed::Complete { response, consumed }) => {
            assert_eq!(consumed, bytes.len(), "{}", String::from_utf8_lossy(bytes));
            response
        }
        other => panic!("{other:?} for {}", String::from_utf8_lossy(bytes)),
    }
}

/// The error `bytes` give, read as a whole stream.
fn read_err(bytes: &[u8]) -> ReadError {
    drive::<32>(&[bytes], LIMITS).expect_err(&String::from_utf8_lossy(bytes))
}

/// A response with this status line and header lines, and no body.
fn reply(status: &str, headers: &[&str]) -> Vec<u8> {
    let mut s = format!("HTTP/1.1 {status}\r\n");
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    s.into_bytes()
}

fn outcome(status: &str, headers: &[&str]) -> Outcome {
    classify(&read(&reply(status, headers)).response)
}

/// Everything a connection gave: each response with the total consumed when
/// it completed, what `finish` said, the total consumed and the bytes left.
#[derive(Debug, PartialEq)]
struct Run {
    responses: Vec<(ReadResponse, usize)>,
    end: Option<ReadResponse>,
    consumed: usize,
    left: usize,
}

/// Feeds `pieces` as successive reads into a growing buffer, draining what is
/// consumed, then ends the stream.
fn drive<const N: usize>(pieces: &[&[u8]], limits: ReaderLimits) -> Result<Run, ReadError> {
    let mut reader = ResponseReader::<N>::new(limits);
    let mut buf = Vec::new();
    let mut run = Run {
        responses: Vec::new(),
        end: None,
        consumed: 0,
        left: 0,
    };
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            let progress = reader.feed(&buf)?;
            assert!(progress.consumed <= buf.len());
            buf.drain(..progress.consumed);
            run.consumed += progress.consumed;
            match progress.done {
                Some(r) => run.responses.push((r, run.consumed)),
                None => break,
            }
        }
    }
    run.end = reader.finish()?;
    run.left = buf.len();
    Ok(run)
}

fn whole(bytes: &[u8]) -> Result<Run, ReadError> {
    drive::<32>(&[bytes], LIMITS)
}

/// Every split in two pieces, and byte at a time, gives what the whole gives.
fn assert_split_invariant(bytes: &[u8]) -> Result<Run, ReadError> {
    let expected = whole(bytes);
    for i in 0..=bytes.len() {
        let (a, b) = bytes.split_at(i);
        assert_eq!(
            drive::<32>(&[a, b], LIMITS),
            expected,
            "split at {i}: {}",
            String::from_utf8_lossy(bytes)
        );
    }
    let bytes_one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(drive::<32>(&bytes_one_by_one, LIMITS), expected);
    expected
}

fn retry(reason: RetryReason, scope: Scope, backoff: Backoff) -> Outcome {
    Outcome::Retry {
        reason,
        scope,
        backoff,
        retry_after_s: None,
    }
}

fn rejected(reason: RejectReason, status: u16) -> Outcome {
    Outcome::Rejected { reason, status }
}

fn anomaly(reason: AnomalyReason, status: u16) -> Outcome {
    Outcome::Anomaly { reason, status }
}

// 1. The policy table of docs/protocol.md, "What each response means", from raw bytes.

#[test]
fn received_reports_every_device_status_spelling() {
    let cases = [
        ("Connected", DeviceStatus::Connected),
        ("connected", DeviceStatus::Connected),
        ("CONNECTED", DeviceStatus::Connected),
        ("TempDisconnected", DeviceStatus::TempDisconnected),
        ("Temp Disconnected", DeviceStatus::TempDisconnected),
        ("Temporarily Disconnected", DeviceStatus::TempDisconnected),
        ("tempdisconnected", DeviceStatus::TempDisconnected),
        ("Inactive", DeviceStatus::Inactive),
        ("InActive", DeviceStatus::Inactive),
        ("INACTIVE", DeviceStatus::Inactive),
        ("Disconnected", DeviceStatus::Disconnected),
        ("disconnected", DeviceStatus::Disconnected),
    ];
    for (value, device) in cases {
        let header = format!("X-DeviceConnectionStatus: {value}");
        assert_eq!(
            outcome("200 OK", &["X-NotificationStatus: Received", &header]),
            Outcome::Accepted {
                device: Some(device)
            },
            "{value}"
        );
    }
    for value in ["N/A", "n/a", "", "Sleeping"] {
        let header = format!("X-DeviceConnectionStatus: {value}");
        assert_eq!(
            outcome("200 OK", &["X-NotificationStatus: Received", &header]),
            Outcome::Accepted { device: None },
            "{value:?}"
        );
    }
    assert_eq!(
        outcome("200 OK", &["X-NotificationStatus: received"]),
        Outcome::Accepted { device: None }
    );
}

#[test]
fn policy_table_rows() {
    use Backoff::{ChannelPause, Exponential};
    use Scope::{Channel, Host, Message};
    let rows: Vec<(&str, Vec<&str>, Outcome)> = vec![
        (
            "200 OK",
            vec![
                "X-NotificationStatus: QueueFull",
                "X-SubscriptionStatus: Active",
            ],
            retry(RetryReason::QueueFull, Message, Exponential),
        ),
        (
            "200 OK",
            vec!["X-NotificationStatus: Suppressed"],
            Outcome::Suppressed,
        ),
        (
            "200 OK",
            vec!["X-NotificationStatus: Dropped"],
            Outcome::Dropped,
        ),
        (
            "200 OK",
            vec![],
            anomaly(AnomalyReason::MissingNotificationStatus, 200),
        ),
        (
            "200 OK",
            vec!["X-NotificationStatus: N/A"],
            anomaly(AnomalyReason::MissingNotificationStatus, 200),
        ),
        (
            "200 OK",
            vec!["X-NotificationStatus: Delivered"],
            anomaly(AnomalyReason::UnknownNotificationStatus, 200),
        ),
        (
            "400 Bad Request",
            vec![],
            rejected(RejectReason::BadRequest, 400),
        ),
        (
            "401 Unauthorized",
            vec![],
            rejected(RejectReason::Unauthorized, 401),
        ),
        (
            "403 Forbidden",
            vec![],
            rejected(RejectReason::Forbidden, 403),
        ),
        (
            "404 Not Found",
            vec![
                "X-NotificationStatus: Dropped",
                "X-SubscriptionStatus: Expired",
            ],
            Outcome::Expired,
        ),
        (
            "404 Not Found",
            vec!["X-NotificationStatus: Dropped", "X-SubscriptionStatus: N/A"],
            Outcome::Expired,
        ),
        (
            "405 Method Not Allowed",
            vec![],
            rejected(RejectReason::MethodNotAllowed, 405),
        ),
        (
            "406 Not Acceptable",
            vec![
                "X-NotificationStatus: Dropped",
                "X-SubscriptionStatus: Active",
            ],
            retry(RetryReason::RateLimited, Channel, ChannelPause),
        ),
        (
            "412 Precondition Failed",
            vec![
                "X-NotificationStatus: Dropped",
                "X-DeviceConnectionStatus: Inactive",
            ],
            retry(RetryReason::DeviceInactive, Channel, ChannelPause),
        ),
        (
            "503 Service Unavailable",
            vec![],
            retry(RetryReason::ServiceUnavailable, Host, Exponential),
        ),
        (
            "429 Too Many Requests",
            vec![],
            retry(RetryReason::TooManyRequests, Host, Exponential),
        ),
        (
            "500 Internal Server Error",
            vec![],
            retry(RetryReason::ServerError, Host, Exponential),
        ),
        (
            "502 Bad Gateway",
            vec![],
            retry(RetryReason::ServerError, Host, Exponential),
        ),
        (
            "410 Gone",
            vec![],
            rejected(RejectReason::OtherClientError, 410),
        ),
        (
            "418 Teapot",
            vec![],
            rejected(RejectReason::OtherClientError, 418),
        ),
        (
            "301 Moved Permanently",
            vec!["Location: http://example.invalid/"],
            anomaly(AnomalyReason::UnexpectedStatus, 301),
        ),
        (
            "302 Found",
            vec![],
            anomaly(AnomalyReason::UnexpectedStatus, 302),
        ),
        (
            "200 OK",
            vec![
                "X-NotificationStatus: Received",
                "X-SubscriptionStatus: Expired",
            ],
            Outcome::Expired,
        ),
        (
            "412 Precondition Failed",
            vec![
                "X-NotificationStatus: Dropped",
                "X-SubscriptionStatus: Expired",
            ],
            Outcome::Expired,
        ),
        (
            "503 Service Unavailable",
            vec!["X-SubscriptionStatus: expired"],
            Outcome::Expired,
        ),
    ];
    for (status, headers, expected) in rows {
        assert_eq!(outcome(status, &headers), expected, "{status} {headers:?}");
    }
}

#[test]
fn retry_after_is_kept_in_the_outcome() {
    let with_retry_after = |status, headers: &[&str]| {
        let mut headers = headers.to_vec();
        headers.push("Retry-After: 120");
        outcome(status, &headers)
    };
    let cases = [
        (
            "503 Service Unavailable",
            vec![],
            RetryReason::ServiceUnavailable,
            Scope::Host,
            Backoff::Exponential,
        ),
        (
            "200 OK",
            vec!["X-NotificationStatus: QueueFull"],
            RetryReason::QueueFull,
            Scope::Message,
            Backoff::Exponential,
        ),
        (
            "406 Not Acceptable",
            vec!["X-NotificationStatus: Dropped"],
            RetryReason::RateLimited,
            Scope::Channel,
            Backoff::ChannelPause,
        ),
        (
            "429 Too Many Requests",
            vec![],
            RetryReason::TooManyRequests,
            Scope::Host,
            Backoff::Exponential,
        ),
    ];
    for (status, headers, reason, scope, backoff) in cases {
        assert_eq!(
            with_retry_after(status, &headers),
            Outcome::Retry {
                reason,
                scope,
                backoff,
                retry_after_s: Some(120)
            },
            "{status}"
        );
    }
}

#[test]
fn header_names_in_any_case() {
    for names in [
        [
            "X-NotificationStatus",
            "X-SubscriptionStatus",
            "X-DeviceConnectionStatus",
            "Retry-After",
        ],
        [
            "x-notificationstatus",
            "x-subscriptionstatus",
            "x-deviceconnectionstatus",
            "retry-after",
        ],
        [
            "X-NOTIFICATIONSTATUS",
            "X-SUBSCRIPTIONSTATUS",
            "X-DEVICECONNECTIONSTATUS",
            "RETRY-AFTER",
        ],
    ] {
        let headers = [
            format!("{}: QueueFull", names[0]),
            format!("{}: Active", names[1]),
            format!("{}: Connected", names[2]),
            format!("{}: 120", names[3]),
        ];
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let r = read(&reply("200 OK", &headers));
        assert_eq!(r.response.device.known(), Some(DeviceStatus::Connected));
        assert_eq!(
            classify(&r.response),
            Outcome::Retry {
                reason: RetryReason::QueueFull,
                scope: Scope::Message,
                backoff: Backoff::Exponential,
                retry_after_s: Some(120)
            }
        );
        let expired = reply("200 OK", &[&format!("{}: Expired", names[1])]);
        assert_eq!(classify(&read(&expired).response), Outcome::Expired);
    }
    // Connection, Content-Length and Transfer-Encoding names too.
    let r = read(b"HTTP/1.1 200 OK\r\nCONNECTION: CLOSE\r\ncontent-length: 2\r\n\r\nok");
    assert_eq!(
        (r.connection, r.framing),
        (ConnectionReuse::Close, BodyFraming::ContentLength(2))
    );
    let r = read(b"HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED\r\n\r\n0\r\n\r\n");
    assert_eq!(r.framing, BodyFraming::Chunked);
}

// 2. The real 2015 reply.

const REAL_2015: &[u8] = b"HTTP/1.1 200 OK\r\nCache-Control: private\r\nServer: Microsoft-IIS/8.0\r\nX-DeviceConnectionStatus: Connected\r\nX-NotificationStatus: Received\r\nX-SubscriptionStatus: Active\r\nX-MessageID: 00000000-0000-0000-0000-000000000000\r\nX-AspNet-Version: 4.0.30319\r\nX-Powered-By: ASP.NET\r\nDate: Tue, 13 Oct 2015 10:01:12 GMT\r\nContent-Length: 0\r\n\r\n";

#[test]
fn the_real_2015_reply() {
    let r = read(REAL_2015);
    assert_eq!(
        classify(&r.response),
        Outcome::Accepted {
            device: Some(DeviceStatus::Connected)
        }
    );
    assert_eq!(r.response.status, 200);
    assert_eq!(r.response.message_id, Some(MessageId::NIL));
    assert_eq!(r.response.message_id_echo(None), MessageIdEcho::Matches);
    let sent = MessageId::parse("0e9b7a5c-1b4e-4d7e-9f7a-3c2d1e0f4a5b").unwrap();
    assert_eq!(
        r.response.message_id_echo(Some(sent)),
        MessageIdEcho::Mismatch
    );
    assert_eq!(r.version, HttpVersion::Http11);
    assert_eq!(r.framing, BodyFraming::ContentLength(0));
    assert_eq!(r.connection, ConnectionReuse::KeepAlive);
    assert_eq!(r.body_len, 0);

    // Incrementally: nothing is consumed until the head is complete, then all of it.
    let mut reader: ResponseReader = ResponseReader::new(LIMITS);
    let head = &REAL_2015[..REAL_2015.len() - 1];
    assert_eq!(reader.feed(head).unwrap().consumed, 0);
    assert!(!reader.is_idle());
    let progress = reader.feed(REAL_2015).unwrap();
    assert_eq!(progress.consumed, REAL_2015.len());
    assert_eq!(progress.done, Some(r));
    assert!(reader.is_idle());
    assert_eq!(reader.finish(), Ok(None));
}

// 3. Split at every byte.

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-NotificationStatus: Received\r\n\r\n5;name=value;other=\"quoted; thing\"\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0;last\r\nX-Trailer: yes\r\nAnother: one\r\n\r\n";
const CONTINUE_THEN_REAL: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX-NotificationStatus: Dropped\r\n\r\nHTTP/1.1 200 OK\r\nX-NotificationStatus: QueueFull\r\nContent-Length: 7\r\n\r\ncontent";
const LENGTH_BODY: &[u8] =
    b"HTTP/1.1 412 Precondition Failed\r\nX-NotificationStatus: Dropped\r\nContent-Length: 12\r\n\r\nhello, world";
const UNTIL_CLOSE: &[u8] =
    b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 30\r\n\r\nService is down, come back later";

#[test]
fn chunked_with_extensions_and_trailers() {
    let r = read(CHUNKED);
    assert_eq!(r.framing, BodyFraming::Chunked);
    assert_eq!(r.body_len, 5 + 26);
    assert_eq!(r.connection, ConnectionReuse::KeepAlive);
    assert_eq!(classify(&r.response), Outcome::Accepted { device: None });
    // Upper-case hex and leading zeros.
    let r = read(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00A\r\n0123456789\r\n0\r\n\r\n",
    );
    assert_eq!(r.body_len, 10);
}

#[test]
fn interim_responses_are_skipped() {
    let r = read(CONTINUE_THEN_REAL);
    assert_eq!(r.response.status, 200);
    assert_eq!(r.body_len, 7);
    assert_eq!(
        classify(&r.response),
        retry(RetryReason::QueueFull, Scope::Message, Backoff::Exponential)
    );
}

#[test]
fn every_split_gives_the_same_result() {
    let mut two = LENGTH_BODY.to_vec();
    two.extend_from_slice(CHUNKED);
    two.extend_from_slice(REAL_2015);
    for (bytes, responses) in [
        (REAL_2015, 1),
        (CHUNKED, 1),
        (CONTINUE_THEN_REAL, 1),
        (LENGTH_BODY, 1),
        (UNTIL_CLOSE, 0),
        (&two[..], 3),
    ] {
        let run = assert_split_invariant(bytes).unwrap();
        assert_eq!(run.responses.len(), responses);
        assert_eq!(run.consumed, bytes.len());
        assert_eq!(run.left, 0);
        for (r, _) in &run.responses {
            assert_eq!(
                parse_response::<32>(bytes, LIMITS, true).map(|_| ()),
                Ok(())
            );
            assert_eq!(r.connection, ConnectionReuse::KeepAlive);
        }
    }
    let run = assert_split_invariant(UNTIL_CLOSE).unwrap();
    let end = run.end.unwrap();
    assert_eq!(end.framing, BodyFraming::UntilClose);
    assert_eq!(end.body_len, 32);
}

#[test]
fn errors_do_not_depend_on_splits() {
    for bytes in [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    ] {
        assert!(assert_split_invariant(bytes).is_err());
    }
}

// 4. Back to back on one connection.

#[test]
fn responses_back_to_back() {
    let first =
        b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\nContent-Length: 5\r\n\r\nhello";
    let second = b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Suppressed\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let third = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    let mut buf = Vec::new();
    for part in [&first[..], second, third] {
        buf.extend_from_slice(part);
    }

    let mut reader: ResponseReader = ResponseReader::new(LIMITS);
    let p1 = reader.feed(&buf).unwrap();
    assert_eq!(p1.consumed, first.len());
    let r1 = p1.done.unwrap();
    assert_eq!(classify(&r1.response), Outcome::Accepted { device: None });
    assert_eq!(r1.body_len, 5);

    let rest = &buf[p1.consumed..];
    assert!(rest.starts_with(b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Suppressed"));
    let p2 = reader.feed(rest).unwrap();
    assert_eq!(p2.consumed, second.len());
    assert_eq!(classify(&p2.done.unwrap().response), Outcome::Suppressed);

    let rest = &rest[p2.consumed..];
    assert_eq!(rest, third);
    let p3 = reader.feed(rest).unwrap();
    assert_eq!(p3.consumed, third.len());
    assert_eq!(classify(&p3.done.unwrap().response), Outcome::Expired);

    assert_eq!(
        reader.feed(&[]).unwrap(),
        mpns_proto::Progress {
            consumed: 0,
            done: None
        }
    );
    assert!(reader.is_idle());
    assert_eq!(reader.finish(), Ok(None));

    // The one-shot parser stops after the first response.
    assert_eq!(
        parse_response::<32>(&buf, LIMITS, false),
        Ok(Parsed::Complete {
            response: r1,
            consumed: first.len()
        })
    );
    // Two responses in one buffer, the driver's way.
    let run = whole(&buf[..first.len() + second.len()]).unwrap();
    assert_eq!(run.responses.len(), 2);
    assert_eq!(run.responses[0].1, first.len());
    assert_eq!(run.responses[1].1, first.len() + second.len());
}

// 5. Connection reuse.

#[test]
fn connection_reuse() {
    let cases: [(&[u8], HttpVersion, ConnectionReuse); 9] = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", HttpVersion::Http11, ConnectionReuse::KeepAlive),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", HttpVersion::Http11, ConnectionReuse::Close),
        (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", HttpVersion::Http11, ConnectionReuse::Close),
        (b"HTTP/1.1 200 OK\r\nConnection: Upgrade\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", HttpVersion::Http11, ConnectionReuse::Close),
        (b"HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n", HttpVersion::Http11, ConnectionReuse::KeepAlive),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", HttpVersion::Http10, ConnectionReuse::Close),
        (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", HttpVersion::Http10, ConnectionReuse::KeepAlive),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n", HttpVersion::Http10, ConnectionReuse::Close),
        (b"HTTP/1.1 204 No Content\r\n\r\n", HttpVersion::Http11, ConnectionReuse::KeepAlive),
    ];
    for (bytes, version, connection) in cases {
        let r = read(bytes);
        assert_eq!(
            (r.version, r.connection),
            (version, connection),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn after_close_the_reader_takes_no_more_bytes() {
    let close = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    let mut reader: ResponseReader = ResponseReader::new(LIMITS);
    let p = reader.feed(close).unwrap();
    assert_eq!(p.done.unwrap().connection, ConnectionReuse::Close);
    assert_eq!(reader.feed(&[]).unwrap().consumed, 0);
    assert_eq!(reader.feed(REAL_2015), Err(ReadError::DataAfterClose));
    // Sticky until reset.
    assert_eq!(reader.feed(&[]), Err(ReadError::DataAfterClose));
    assert_eq!(reader.finish(), Err(ReadError::DataAfterClose));
    reader.reset();
    assert!(reader.is_idle());
    assert_eq!(reader.feed(REAL_2015).unwrap().consumed, REAL_2015.len());
}

#[test]
fn until_close_is_completed_by_finish() {
    let mut reader: ResponseReader = ResponseReader::new(LIMITS);
    let head = b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\n\r\n";
    let p = reader.feed(head).unwrap();
    assert_eq!(
        p,
        mpns_proto::Progress {
            consumed: head.len(),
            done: None
        }
    );
    assert_eq!(reader.feed(b"some body").unwrap().consumed, 9);
    assert_eq!(reader.feed(b"more").unwrap().consumed, 4);
    let r = reader.finish().unwrap().unwrap();
    assert_eq!(r.framing, BodyFraming::UntilClose);
    assert_eq!(r.connection, ConnectionReuse::Close);
    assert_eq!(r.body_len, 13);
    assert_eq!(classify(&r.response), Outcome::Accepted { device: None });
    assert_eq!(reader.finish(), Ok(None));

    // The one-shot parser: Partial unless at EOF.
    let mut bytes = head.to_vec();
    bytes.extend_from_slice(b"body");
    assert_eq!(
        parse_response::<32>(&bytes, LIMITS, false),
        Ok(Parsed::Partial)
    );
    assert_eq!(
        parse_response::<32>(&bytes, LIMITS, true),
        Ok(Parsed::Complete {
            response: ReadResponse { body_len: 4, ..r },
            consumed: bytes.len()
        })
    );
    // A transfer coding other than chunked also runs until close.
    let r = read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nxyz");
    assert_eq!(
        (r.framing, r.connection, r.body_len),
        (BodyFraming::UntilClose, ConnectionReuse::Close, 3)
    );
}

#[test]
fn framing_rules() {
    // 204 and 304 have no body, whatever Content-Length says.
    for status in ["204 No Content", "304 Not Modified"] {
        let bytes = format!("HTTP/1.1 {status}\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\n");
        let run = whole(bytes.as_bytes());
        // The next response starts right after the head (and is incomplete here).
        assert_eq!(run, Err(ReadError::Incomplete), "{status}");
        match parse_response::<32>(bytes.as_bytes(), LIMITS, false) {
            Ok(Parsed::Complete { response, consumed }) => {
                assert_eq!(response.framing, BodyFraming::Empty);
                assert_eq!(&bytes.as_bytes()[consumed..], b"HTTP/1.1 200 OK\r\n");
            }
            other => panic!("{other:?}"),
        }
    }
    // Transfer-Encoding wins over Content-Length, and the connection closes.
    let r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n");
    assert_eq!(
        (r.framing, r.connection, r.body_len),
        (BodyFraming::Chunked, ConnectionReuse::Close, 2)
    );
    // Repeated equal Content-Length values are one.
    let r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc");
    assert_eq!(r.framing, BodyFraming::ContentLength(3));
    // A status line without a reason phrase; header values with extra spaces.
    let r =
        read(b"HTTP/1.1 200\r\nX-NotificationStatus:   Received  \r\nContent-Length:  0 \r\n\r\n");
    assert_eq!(classify(&r.response), Outcome::Accepted { device: None });
    // Leading empty lines before the status line are skipped.
    let r = read(b"\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(r.response.status, 200);
}

// 6. Refusals.

#[test]
fn oversized_head() {
    let limits = ReaderLimits {
        max_head_len: 64,
        ..LIMITS
    };
    let long = reply(
        "200 OK",
        &["X-Padding: 0123456789012345678901234567890123456789"],
    );
    assert!(long.len() > 64);
    // Complete in one read, or arriving in pieces.
    assert_eq!(
        drive::<32>(&[&long], limits),
        Err(ReadError::HeadTooLarge { max: 64 })
    );
    let pieces: Vec<&[u8]> = long.chunks(7).collect();
    assert_eq!(
        drive::<32>(&pieces, limits),
        Err(ReadError::HeadTooLarge { max: 64 })
    );
    // A head of exactly the limit passes.
    let exact = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let limits = ReaderLimits {
        max_head_len: exact.len(),
        ..LIMITS
    };
    assert!(drive::<32>(&[exact], limits).is_ok());
    let limits = ReaderLimits {
        max_head_len: exact.len() - 1,
        ..LIMITS
    };
    assert_eq!(
        drive::<32>(&[&exact[..exact.len() - 1]], limits),
        Err(ReadError::HeadTooLarge {
            max: exact.len() - 1
        })
    );
    // The default limit, with a head that never ends.
    let endless = [b'a'; 9000];
    let mut bytes = b"HTTP/1.1 200 OK\r\nX-Endless: ".to_vec();
    bytes.extend_from_slice(&endless);
    let mut reader: ResponseReader = ResponseReader::new(LIMITS);
    assert_eq!(reader.feed(&bytes[..8191]).unwrap().consumed, 0);
    assert_eq!(
        reader.feed(&bytes[..8192]),
        Err(ReadError::HeadTooLarge { max: 8192 })
    );
}

#[test]
fn too_many_headers() {
    let four = reply("200 OK", &["A: 1", "B: 2", "C: 3"]);
    let r = parse_response::<4>(&four, LIMITS, true).unwrap();
    assert!(matches!(r, Parsed::Complete { .. }));
    let five = reply("200 OK", &["A: 1", "B: 2", "C: 3", "D: 4"]);
    assert_eq!(
        parse_response::<4>(&five, LIMITS, true),
        Err(ReadError::TooManyHeaders { max: 4 })
    );
    assert_eq!(
        drive::<4>(&five.chunks(3).collect::<Vec<_>>(), LIMITS),
        Err(ReadError::TooManyHeaders { max: 4 })
    );
    assert!(parse_response::<32>(&five, LIMITS, true).is_ok());
}

#[test]
fn malformed_heads() {
    let cases: [(&[u8], MalformedReason); 6] = [
        (b"HTTP/2.0 200 OK\r\n\r\n", MalformedReason::Version),
        (b"HTTX/1.1 200 OK\r\n\r\n", MalformedReason::Version),
        (b"HTTP/1.1 20 OK\r\n\r\n", MalformedReason::Status),
        (b"HTTP/1.1 2000 OK\r\n\r\n", MalformedReason::Status),
        (
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            MalformedReason::HeaderName,
        ),
        (
            b"HTTP/1.1 200 OK\r\nName: a\x01b\r\n\r\n",
            MalformedReason::HeaderValue,
        ),
    ];
    for (bytes, reason) in cases {
        assert_eq!(
            read_err(bytes),
            ReadError::Malformed(reason),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
    assert_eq!(
        read_err(b"garbage\r\n\r\n"),
        ReadError::Malformed(MalformedReason::Version)
    );
    assert_eq!(
        read_err(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
        ReadError::UnexpectedUpgrade
    );
}

#[test]
fn bad_content_length() {
    for value in [
        "",
        "abc",
        "-1",
        "+5",
        "1.5",
        "0x10",
        "5 5",
        "99999999999999999999",
        "5,",
    ] {
        let bytes = format!("HTTP/1.1 200 OK\r\nContent-Length: {value}\r\n\r\n");
        assert_eq!(
            read_err(bytes.as_bytes()),
            ReadError::BadContentLength,
            "{value:?}"
        );
    }
    for values in [&["5", "6"][..], &["5, 6"], &["0", "1"]] {
        let mut bytes = "HTTP/1.1 200 OK\r\n".to_string();
        for v in values {
            bytes.push_str(&format!("Content-Length: {v}\r\n"));
        }
        bytes.push_str("\r\n");
        assert_eq!(
            read_err(bytes.as_bytes()),
            ReadError::ConflictingContentLength,
            "{values:?}"
        );
    }
    // The largest value fits.
    let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n";
    assert_eq!(
        parse_response::<32>(bytes, LIMITS, false),
        Ok(Parsed::Partial)
    );
}

#[test]
fn bad_chunks() {
    let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cases = [
        ("zz\r\n", ChunkProblem::Size),
        ("\r\n", ChunkProblem::Size),
        (";ext\r\n", ChunkProblem::Size),
        (" 5\r\nhello\r\n0\r\n\r\n", ChunkProblem::Size),
        ("5\rhello", ChunkProblem::Size),
        ("11111111111111111\r\n", ChunkProblem::Size),
        ("5\r\nhelloX\r\n0\r\n\r\n", ChunkProblem::MissingCrlf),
        ("5\r\nhello\rX0\r\n\r\n", ChunkProblem::MissingCrlf),
        ("5\r\nhello\r\n0\r\nX: y\n\r\n", ChunkProblem::TrailerLine),
        ("5\r\nhello\r\n0\r\n\n", ChunkProblem::TrailerLine),
        ("5\r\nhello\r\n0\r\n\rX", ChunkProblem::TrailerLine),
    ];
    for (body, problem) in cases {
        let bytes = format!("{head}{body}");
        assert_eq!(
            read_err(bytes.as_bytes()),
            ReadError::BadChunk(problem),
            "{body:?}"
        );
    }
    // The chunk-size line is bounded by max_head_len.
    let limits = ReaderLimits {
        max_head_len: 128,
        max_trailer_len: 16,
    };
    let long_ext = format!("{head}5;{}\r\nhello\r\n0\r\n\r\n", "e".repeat(200));
    assert_eq!(
        drive::<32>(&[long_ext.as_bytes()], limits),
        Err(ReadError::ChunkLineTooLong { max: 128 })
    );
    assert_eq!(
        drive::<32>(&long_ext.as_bytes().chunks(10).collect::<Vec<_>>(), limits),
        Err(ReadError::ChunkLineTooLong { max: 128 })
    );
    // Trailers are bounded by max_trailer_len (16: "X-Trailer: 1234\r\n" is 17).
    let ok = format!("{head}0\r\nX-Trailer: 123\r\n\r\n");
    assert!(drive::<32>(&[ok.as_bytes()], limits).is_ok());
    let too_long = format!("{head}0\r\nX-Trailer: 1234\r\n\r\n");
    assert_eq!(
        drive::<32>(&[too_long.as_bytes()], limits),
        Err(ReadError::TrailersTooLarge { max: 16 })
    );
    let many = format!("{head}0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    assert_eq!(
        drive::<32>(&[many.as_bytes()], limits),
        Err(ReadError::TrailersTooLarge { max: 16 })
    );
}

#[test]
fn truncated_input_is_incomplete_at_eof() {
    let mut prefixes: Vec<&[u8]> = Vec::new();
    for bytes in [REAL_2015, CHUNKED, LENGTH_BODY, CONTINUE_THEN_REAL] {
        for end in 1..bytes.len() {
            prefixes.push(&bytes[..end]);
        }
    }
    for prefix in prefixes {
        assert_eq!(
            whole(prefix),
            Err(ReadError::Incomplete),
            "{}",
            String::from_utf8_lossy(prefix)
        );
        assert_eq!(
            parse_response::<32>(prefix, LIMITS, false),
            Ok(Parsed::Partial)
        );
        assert_eq!(
            parse_response::<32>(prefix, LIMITS, true),
            Err(ReadError::Incomplete)
        );
    }
    // Nothing at all: no response, no error from the reader.
    assert_eq!(
        whole(b""),
        Ok(Run {
            responses: vec![],
            end: None,
            consumed: 0,
            left: 0
        })
    );
    assert_eq!(
        parse_response::<32>(b"", LIMITS, true),
        Err(ReadError::Incomplete)
    );
    assert_eq!(
        parse_response::<32>(b"", LIMITS, false),
        Ok(Parsed::Partial)
    );
}

#[test]
fn errors_name_the_problem() {
    let cases = [
        (
            ReadError::Malformed(MalformedReason::HeaderName),
            "header name",
        ),
        (
            ReadError::TooManyHeaders { max: 4 },
            "more than 4 header fields",
        ),
        (
            ReadError::HeadTooLarge { max: 8192 },
            "longer than 8192 bytes",
        ),
        (ReadError::BadContentLength, "Content-Length"),
        (ReadError::ConflictingContentLength, "Content-Length"),
        (ReadError::BadChunk(ChunkProblem::Size), "chunk-size line"),
        (
            ReadError::BadChunk(ChunkProblem::MissingCrlf),
            "followed by CRLF",
        ),
        (
            ReadError::TrailersTooLarge { max: 16 },
            "trailers are longer than 16",
        ),
        (
            ReadError::Incomplete,
            "ended before the response was complete",
        ),
    ];
    for (error, words) in cases {
        let text = error.to_string();
        assert!(text.contains(words), "{text}");
        let _: &dyn std::error::Error = &error;
    }
}

// 7. Arbitrary input.

/// How a generated response frames its body.
#[derive(Clone, Debug)]
enum Framing {
    Length(Vec<u8>),
    Chunked(Vec<(Vec<u8>, bool)>, Vec<&'static str>),
    NoBody,
    UntilClose(Vec<u8>),
}

/// One well-formed response (optionally after a 1xx) and whether it closes.
fn response() -> impl Strategy<Value = (Vec<u8>, bool)> {
    let status = prop::sample::select(vec![
        "HTTP/1.1 200 OK",
        "HTTP/1.1 404 Not Found",
        "HTTP/1.1 412 Precondition Failed",
        "HTTP/1.1 503 Service Unavailable",
        "HTTP/1.0 200 OK",
    ]);
    let header = prop::sample::select(vec![
        "X-NotificationStatus: Received",
        "X-NotificationStatus: QueueFull",
        "X-DeviceConnectionStatus: Temp Disconnected",
        "X-SubscriptionStatus: Expired",
        "x-messageid: 00000000-0000-0000-0000-000000000000",
        "Retry-After: 60",
        "Connection: close",
        "Connection: keep-alive",
        "Server: Microsoft-IIS/8.0",
    ]);
    let body = prop::collection::vec(any::<u8>(), 0..12);
    let framing = prop_oneof![
        body.clone().prop_map(Framing::Length),
        (
            prop::collection::vec(
                (prop::collection::vec(any::<u8>(), 1..20), any::<bool>()),
                0..4
            ),
            prop::collection::vec(prop::sample::select(vec!["T: 1", "Expires: x"]), 0..3),
        )
            .prop_map(|(chunks, trailers)| Framing::Chunked(chunks, trailers)),
        Just(Framing::NoBody),
        body.prop_map(Framing::UntilClose),
    ];
    (
        any::<bool>(),
        status,
        prop::collection::vec(header, 0..5),
        framing,
    )
        .prop_map(|(interim, status, headers, framing)| {
            let mut s = Vec::new();
            if interim {
                s.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
            let status = match framing {
                Framing::NoBody => "HTTP/1.1 204 No Content",
                _ => status,
            };
            s.extend_from_slice(format!("{status}\r\n").as_bytes());
            for h in &headers {
                s.extend_from_slice(format!("{h}\r\n").as_bytes());
            }
            let http10 = status.starts_with("HTTP/1.0");
            let close_token = headers.contains(&"Connection: close");
            let keep_alive = headers.contains(&"Connection: keep-alive");
            let mut close = close_token || (http10 && !keep_alive);
            match framing {
                Framing::Length(body) => {
                    s.extend_from_slice(
                        format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                    );
                    s.extend_from_slice(&body);
                }
                Framing::Chunked(chunks, trailers) => {
                    close |= http10;
                    s.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                    for (data, ext) in chunks {
                        let ext = if ext { ";a=b" } else { "" };
                        s.extend_from_slice(format!("{:X}{ext}\r\n", data.len()).as_bytes());
                        s.extend_from_slice(&data);
                        s.extend_from_slice(b"\r\n");
                    }
                    s.extend_from_slice(b"0\r\n");
                    for t in trailers {
                        s.extend_from_slice(format!("{t}\r\n").as_bytes());
                    }
                    s.extend_from_slice(b"\r\n");
                }
                Framing::NoBody => s.extend_from_slice(b"\r\n"),
                Framing::UntilClose(body) => {
                    close = true;
                    s.extend_from_slice(b"\r\n");
                    s.extend_from_slice(&body);
                }
            }
            (s, close)
        })
}

/// Up to three responses on one connection, up to the first that closes it.
fn connection() -> impl Strategy<Value = (Vec<u8>, usize)> {
    prop::collection::vec(response(), 1..4).prop_map(|responses| {
        let mut bytes = Vec::new();
        let mut n = 0;
        for (r, close) in responses {
            bytes.extend_from_slice(&r);
            n += 1;
            if close {
                break;
            }
        }
        (bytes, n)
    })
}

/// A change that may break a valid stream.
#[derive(Clone, Debug)]
enum Mutation {
    None,
    Truncate(prop::sample::Index),
    Replace(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::None),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (
            any::<prop::sample::Index>(),
            prop::sample::select(vec![b'\r', b'\n', b' ', b'0', b';'])
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
    ]
}

/// Bytes that start like an HTTP response more often than not: a status
/// line, header lines, the end of the head (mostly), then body, chunk and
/// next-response pieces in any order, and sometimes one stray byte; or any
/// bytes at all.
fn http_ish() -> impl Strategy<Value = Vec<u8>> {
    const FIRST: &[&str] = &[
        "HTTP/1.1 200 OK\r\n",
        "HTTP/1.1 404 Not Found\r\n",
        "HTTP/1.0 200 OK\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n",
        "HTTP/1.1 204 No Content\r\n",
    ];
    const HEAD: &[&str] = &[
        "X-NotificationStatus: Received\r\n",
        "X-SubscriptionStatus: Active\r\n",
        "Content-Length: 0\r\n",
        "Content-Length: 3\r\n",
        "Content-Length: x\r\n",
        "Transfer-Encoding: chunked\r\n",
        "Connection: close\r\n",
        "Connection: keep-alive\r\n",
    ];
    const BODY: &[&str] = &[
        "abc",
        "3\r\nabc\r\n",
        "3;a=b\r\nabc\r\n",
        "0\r\n\r\n",
        "0\r\nTrailer: x\r\n\r\n",
        "\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n",
    ];
    let pick = |list: &'static [&'static str]| prop::sample::select(list).prop_map(str::as_bytes);
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..400),
        4 => (
            pick(FIRST),
            prop::collection::vec(pick(HEAD), 0..5),
            prop::bool::weighted(0.9),
            prop::collection::vec(pick(BODY), 0..5),
            prop::option::weighted(0.2, (any::<prop::sample::Index>(), any::<u8>())),
        )
            .prop_map(|(first, head, end, body, stray)| {
                let mut bytes = first.to_vec();
                head.iter().for_each(|h| bytes.extend_from_slice(h));
                if end {
                    bytes.extend_from_slice(b"\r\n");
                }
                body.iter().for_each(|b| bytes.extend_from_slice(b));
                if let Some((at, byte)) = stray {
                    bytes.insert(at.index(bytes.len() + 1), byte);
                }
                bytes
            }),
    ]
}

/// How a run ended, for the statistics: a response or an error's kind.
fn kind(run: &Result<Run, ReadError>) -> String {
    match run {
        Ok(run) if run.responses.is_empty() && run.end.is_none() => "no response".into(),
        Ok(_) => "response".into(),
        Err(e) => {
            let e = format!("{e:?}");
            e.split(['(', ' ', '{'])
                .next()
                .unwrap_or_default()
                .to_string()
        }
    }
}

const SMALL: ReaderLimits = ReaderLimits {
    max_head_len: 96,
    max_trailer_len: 8,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_responses_split_anywhere(
        (mut bytes, count) in connection(),
        change in mutation(),
        split in any::<prop::sample::Index>(),
        split2 in any::<prop::sample::Index>(),
    ) {
        let valid = matches!(change, Mutation::None);
        match change {
            Mutation::None => {}
            Mutation::Truncate(i) => bytes.truncate(i.index(bytes.len())),
            Mutation::Replace(i, b) => {
                let i = i.index(bytes.len());
                bytes[i] = b;
            }
            Mutation::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), b),
        }
        let mut at = [split.index(bytes.len() + 1), split2.index(bytes.len() + 1)];
        at.sort_unstable();
        let reads = [&bytes[..at[0]], &bytes[at[0]..at[1]], &bytes[at[1]..]];
        let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
        for limits in [LIMITS, SMALL] {
            let expected = drive::<6>(&[&bytes], limits);
            if valid && limits == LIMITS {
                let run = expected.as_ref().unwrap();
                prop_assert_eq!(run.responses.len() + usize::from(run.end.is_some()), count);
                prop_assert_eq!((run.consumed, run.left), (bytes.len(), 0));
            }
            let split = drive::<6>(&reads, limits);
            prop_assert_eq!(&expected, &split);
            let split = drive::<6>(&one_by_one, limits);
            prop_assert_eq!(&expected, &split);
            if let Ok(run) = &expected {
                prop_assert_eq!(run.consumed + run.left, bytes.len());
                // The one-shot parser agrees with the reader on the first response.
                let first = run.responses.first().copied().or(run.end.map(|r| (r, bytes.len())));
                if let Some((response, consumed)) = first {
                    prop_assert_eq!(
                        parse_response::<6>(&bytes, limits, true),
                        Ok(Parsed::Complete { response, consumed })
                    );
                }
            }
        }
    }
}

/// Any bytes, mostly shaped like a response, split anywhere: the same
/// responses and the same error (compared with `==`, not "both failed"),
/// whole, in two pieces or byte by byte. Prints how the runs
/// ended and fails if too few of them read a response or an error of a kind.
#[test]
fn arbitrary_bytes_split_anywhere() {
    use proptest::test_runner::{Config, TestRunner};
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    let ends: RefCell<BTreeMap<String, usize>> = RefCell::default();
    let mut runner = TestRunner::new(Config {
        cases: 2048,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(
        &(http_ish(), any::<prop::sample::Index>()),
        |(bytes, split)| {
            let at = split.index(bytes.len() + 1);
            let (a, b) = bytes.split_at(at);
            for limits in [LIMITS, SMALL] {
                let expected = drive::<8>(&[&bytes], limits);
                let split = drive::<8>(&[a, b], limits);
                prop_assert_eq!(&expected, &split, "split at {}", at);
                let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
                prop_assert_eq!(&expected, &drive::<8>(&one_by_one, limits), "byte by byte");
                *ends.borrow_mut().entry(kind(&expected)).or_default() += 1;
                let _ = parse_response::<8>(&bytes, limits, true);
                let _ = parse_response::<8>(&bytes, limits, false);
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    let ends = ends.into_inner();
    println!("how the runs ended: {ends:#?}");
    // Both limits, 2048 cases: 4096 runs.
    assert!(ends.get("response").is_some_and(|&n| n > 400), "{ends:?}");
    for error in [
        "Malformed",
        "Incomplete",
        "BadContentLength",
        "BadChunk",
        "HeadTooLarge",
        "UnexpectedUpgrade",
        "DataAfterClose",
    ] {
        assert!(
            ends.get(error).is_some_and(|&n| n > 10),
            "{error}: {ends:?}"
        );
    }
}

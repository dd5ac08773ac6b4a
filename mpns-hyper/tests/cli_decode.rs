//! `mpns decode`, run as a user runs it: raw response bytes on stdin, one JSON
//! object on stdout, parsed here with serde_json.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

fn decode(input: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mpns"))
        .arg("decode")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn decoded(input: &str) -> Value {
    let (code, stdout, stderr) = decode(input.as_bytes());
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.ends_with('\n') && stdout.lines().count() == 1,
        "{stdout:?}"
    );
    serde_json::from_str(&stdout).unwrap()
}

fn reply(status_line: &str, headers: &[(&str, &str)]) -> String {
    let mut s = format!("HTTP/1.1 {status_line}\r\n");
    for (k, v) in headers {
        s += &format!("{k}: {v}\r\n");
    }
    s + "Content-Length: 0\r\n\r\n"
}

#[test]
fn the_real_2015_reply() {
    let input = "HTTP/1.1 200 OK\r\nCache-Control: private\r\nServer: Microsoft-IIS/8.0\r\n\
                 X-DeviceConnectionStatus: Connected\r\nX-NotificationStatus: Received\r\n\
                 X-SubscriptionStatus: Active\r\nX-MessageID: 00000000-0000-0000-0000-000000000000\r\n\
                 X-AspNet-Version: 4.0.30319\r\nX-Powered-By: ASP.NET\r\nDate: Tue, 13 Oct 2015 10:01:12 GMT\r\n\
                 Content-Length: 0\r\n\r\n";
    assert_eq!(
        decoded(input),
        json!({
            "status": 200,
            "notification_status": "received",
            "subscription_status": "active",
            "device_status": "connected",
            "message_id": "00000000-0000-0000-0000-000000000000",
            "retry_after_s": null,
            "outcome": "accepted",
            "reason": null,
            "scope": null,
            "backoff": null,
            "retry_delay_s": null,
        })
    );
}

/// Status line, headers, then the expected outcome, reason, retry_delay_s and scope.
type Row<'a> = (
    &'a str,
    Vec<(&'a str, &'a str)>,
    &'a str,
    Value,
    Value,
    Value,
);

#[test]
fn every_policy_row() {
    let n = |v| ("X-NotificationStatus", v);
    let s = |v| ("X-SubscriptionStatus", v);
    let d = |v| ("X-DeviceConnectionStatus", v);
    // (status line, headers, outcome, reason, retry_delay_s, scope)
    let rows: Vec<Row<'_>> = vec![
        (
            "200 OK",
            vec![n("Received"), s("Active"), d("Temp Disconnected")],
            "accepted",
            Value::Null,
            Value::Null,
            Value::Null,
        ),
        (
            "200 OK",
            vec![n("QueueFull"), s("Active"), d("Connected")],
            "retry",
            json!("queue_full"),
            json!(60),
            json!("message"),
        ),
        (
            "200 OK",
            vec![n("Suppressed"), s("Active")],
            "suppressed",
            Value::Null,
            Value::Null,
            Value::Null,
        ),
        (
            "200 OK",
            vec![n("Dropped"), s("Active")],
            "dropped",
            Value::Null,
            Value::Null,
            Value::Null,
        ),
        (
            "200 OK",
            vec![],
            "anomaly",
            json!("missing_notification_status"),
            Value::Null,
            Value::Null,
        ),
        (
            "200 OK",
            vec![n("Delivered")],
            "anomaly",
            json!("unknown_notification_status"),
            Value::Null,
            Value::Null,
        ),
        (
            "400 Bad Request",
            vec![],
            "rejected",
            json!("bad_request"),
            Value::Null,
            Value::Null,
        ),
        (
            "401 Unauthorized",
            vec![],
            "rejected",
            json!("unauthorized"),
            Value::Null,
            Value::Null,
        ),
        (
            "403 Forbidden",
            vec![],
            "rejected",
            json!("forbidden"),
            Value::Null,
            Value::Null,
        ),
        (
            "404 Not Found",
            vec![n("Dropped"), s("Expired")],
            "expired",
            Value::Null,
            Value::Null,
            Value::Null,
        ),
        (
            "405 Method Not Allowed",
            vec![],
            "rejected",
            json!("method_not_allowed"),
            Value::Null,
            Value::Null,
        ),
        (
            "406 Not Acceptable",
            vec![n("Dropped"), s("Active")],
            "retry",
            json!("rate_limited"),
            json!(3600),
            json!("channel"),
        ),
        (
            "412 Precondition Failed",
            vec![n("Dropped"), s("Active"), d("InActive")],
            "retry",
            json!("device_inactive"),
            json!(3600),
            json!("channel"),
        ),
        (
            "503 Service Unavailable",
            vec![],
            "retry",
            json!("service_unavailable"),
            json!(60),
            json!("host"),
        ),
        (
            "429 Too Many Requests",
            vec![],
            "retry",
            json!("too_many_requests"),
            json!(60),
            json!("host"),
        ),
        (
            "502 Bad Gateway",
            vec![],
            "retry",
            json!("server_error"),
            json!(60),
            json!("host"),
        ),
        (
            "418 I'm a teapot",
            vec![],
            "rejected",
            json!("other_client_error"),
            Value::Null,
            Value::Null,
        ),
        (
            "200 OK",
            vec![n("Received"), s("Expired")],
            "expired",
            Value::Null,
            Value::Null,
            Value::Null,
        ),
        (
            "503 Service Unavailable",
            vec![("Retry-After", "7200")],
            "retry",
            json!("service_unavailable"),
            json!(7200),
            json!("host"),
        ),
    ];
    for (status_line, headers, outcome, reason, retry, scope) in rows {
        let v = decoded(&reply(status_line, &headers));
        assert_eq!(v["outcome"], outcome, "{status_line} {headers:?}: {v}");
        assert_eq!(v["reason"], reason, "{status_line} {headers:?}");
        assert_eq!(v["retry_delay_s"], retry, "{status_line} {headers:?}");
        assert_eq!(v["scope"], scope, "{status_line} {headers:?}");
        assert_eq!(v["status"], status_line[..3].parse::<u16>().unwrap());
    }
    let v = decoded(&reply(
        "412 Precondition Failed",
        &[d("InActive"), s("Active")],
    ));
    assert_eq!(
        (v["device_status"].clone(), v["subscription_status"].clone()),
        (json!("inactive"), json!("active"))
    );
}

#[test]
fn chunked_and_lowercase_headers() {
    let v = decoded(
        "HTTP/1.1 200 OK\r\nx-notificationstatus: queuefull\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    assert_eq!(v["notification_status"], "queue_full");
    assert_eq!(v["outcome"], "retry");
}

#[test]
fn malformed_or_incomplete_input_is_an_error() {
    for input in [
        &b""[..],
        b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Rec",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"\x00\x01\x02garbage",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    ] {
        let (code, stdout, stderr) = decode(input);
        assert_eq!(code, 2, "{input:?}");
        assert!(stdout.is_empty(), "{input:?}: {stdout}");
        assert!(stderr.starts_with("error: "), "{input:?}: {stderr}");
    }
}

/// The names of every field, in order: scripts read them, so they do not
/// change without a note in the changelog (docs/cli.md lists them).
#[test]
fn the_json_field_names_are_pinned() {
    let v = decoded(&reply("200 OK", &[("X-NotificationStatus", "Received")]));
    let names: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "status",
            "notification_status",
            "subscription_status",
            "device_status",
            "message_id",
            "retry_after_s",
            "outcome",
            "reason",
            "scope",
            "backoff",
            "retry_delay_s",
        ]
    );
    assert_eq!(names, mpns_hyper::cli::decode::FIELDS);
}

/// One test per field: what docs/cli.md says each holds.
#[test]
fn each_field_means_what_the_table_says() {
    let v = decoded(&reply(
        "503 Service Unavailable",
        &[
            ("X-NotificationStatus", "Dropped"),
            ("X-SubscriptionStatus", "Active"),
            ("X-DeviceConnectionStatus", "Connected"),
            ("X-MessageID", "3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f"),
            ("Retry-After", "30"),
        ],
    ));
    // status: the HTTP status code.
    assert_eq!(v["status"], 503);
    // The three MPNS headers, snake case; null when absent or unreadable.
    assert_eq!(v["notification_status"], "dropped");
    assert_eq!(v["subscription_status"], "active");
    assert_eq!(v["device_status"], "connected");
    // message_id: X-MessageID as received.
    assert_eq!(v["message_id"], "3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f");
    // retry_after_s: the header itself, not the policy's delay.
    assert_eq!(v["retry_after_s"], 30);
    // outcome, reason, scope, backoff: the policy's classification.
    assert_eq!(v["outcome"], "retry");
    assert_eq!(v["reason"], "service_unavailable");
    assert_eq!(v["scope"], "host");
    assert_eq!(v["backoff"], "exponential");
    // retry_delay_s: the policy's first delay (1 min), longer than the header's 30 s.
    assert_eq!(v["retry_delay_s"], 60);

    // A longer Retry-After is honoured by the delay, and still shown as sent.
    let v = decoded(&reply(
        "503 Service Unavailable",
        &[("Retry-After", "7200")],
    ));
    assert_eq!(
        (v["retry_after_s"].clone(), v["retry_delay_s"].clone()),
        (json!(7200), json!(7200))
    );
    // A date is not a number of seconds: null, and the policy's delay stands.
    let v = decoded(&reply(
        "503 Service Unavailable",
        &[("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")],
    ));
    assert_eq!(
        (v["retry_after_s"].clone(), v["retry_delay_s"].clone()),
        (Value::Null, json!(60))
    );
    // A rejection has a reason but no scope, backoff or delay.
    let v = decoded(&reply("400 Bad Request", &[]));
    assert_eq!(
        [
            &v["reason"],
            &v["scope"],
            &v["backoff"],
            &v["retry_delay_s"],
            &v["message_id"]
        ],
        [
            &json!("bad_request"),
            &Value::Null,
            &Value::Null,
            &Value::Null,
            &Value::Null
        ]
    );
    // A channel pause: its own backoff.
    let v = decoded(&reply(
        "412 Precondition Failed",
        &[
            ("X-NotificationStatus", "Dropped"),
            ("X-DeviceConnectionStatus", "InActive"),
        ],
    ));
    assert_eq!(
        (v["scope"].clone(), v["backoff"].clone()),
        (json!("channel"), json!("channel_pause"))
    );
}

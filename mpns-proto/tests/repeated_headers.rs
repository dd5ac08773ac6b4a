//! A header given twice (`docs/protocol.md`, "Reading a response"): a status
//! header repeated with another meaning is an anomaly, whether the response
//! is read from bytes (`ResponseReader`) or from a client's list of fields
//! (`Response::from_fields`); a repeat with the same meaning, and repeated
//! `X-MessageID` or `Retry-After`, keep the first value.

use mpns_proto::response::{AnomalyReason, HeaderValue};
use mpns_proto::{
    DeviceStatus, NotificationStatus, Outcome, Parsed, ReaderLimits, Response, classify,
    parse_response,
};

/// The response of a 200 with these header fields, read from bytes.
fn from_bytes(status: u16, fields: &[(&str, &str)]) -> Response {
    let mut bytes = format!("HTTP/1.1 {status} X\r\n");
    for (name, value) in fields {
        bytes.push_str(&format!("{name}: {value}\r\n"));
    }
    bytes.push_str("Content-Length: 0\r\n\r\n");
    match parse_response::<32>(bytes.as_bytes(), ReaderLimits::DEFAULT, true) {
        Ok(Parsed::Complete { response, .. }) => response.response,
        other => panic!("{other:?} for {bytes}"),
    }
}

/// The same, from the list of fields a structured client gives.
fn from_fields(status: u16, fields: &[(&str, &str)]) -> Response {
    Response::from_fields(status, fields.iter().map(|(n, v)| (*n, v.as_bytes())))
}

fn both(status: u16, fields: &[(&str, &str)]) -> Response {
    let a = from_bytes(status, fields);
    assert_eq!(a, from_fields(status, fields), "{fields:?}");
    a
}

const CONFLICT: Outcome = Outcome::Anomaly {
    reason: AnomalyReason::ConflictingStatusHeaders,
    status: 200,
};

#[test]
fn a_status_header_repeated_with_another_meaning_is_an_anomaly() {
    // Received then QueueFull: reading the first would call it accepted.
    let r = both(
        200,
        &[
            ("X-NotificationStatus", "Received"),
            ("X-NotificationStatus", "QueueFull"),
        ],
    );
    assert_eq!(r.notification, HeaderValue::Conflicting);
    assert_eq!(classify(&r), CONFLICT);
    // Names in any case; N/A against a value; an unknown value against a known one.
    for fields in [
        [
            ("x-notificationstatus", "QueueFull"),
            ("X-NOTIFICATIONSTATUS", "Received"),
        ],
        [
            ("X-NotificationStatus", "N/A"),
            ("X-NotificationStatus", "Received"),
        ],
        [
            ("X-NotificationStatus", "Received"),
            ("X-NotificationStatus", "Delivered"),
        ],
    ] {
        assert_eq!(classify(&both(200, &fields)), CONFLICT, "{fields:?}");
    }
    // The subscription and device headers too, and before Expired: a reply
    // that says both Active and Expired is not believed either way.
    let r = both(
        200,
        &[
            ("X-NotificationStatus", "Received"),
            ("X-SubscriptionStatus", "Active"),
            ("X-SubscriptionStatus", "Expired"),
        ],
    );
    assert_eq!(r.subscription, HeaderValue::Conflicting);
    assert_eq!(classify(&r), CONFLICT);
    let r = both(
        404,
        &[
            ("X-DeviceConnectionStatus", "Connected"),
            ("X-DeviceConnectionStatus", "Disconnected"),
        ],
    );
    assert_eq!(r.device, HeaderValue::Conflicting);
    assert_eq!(
        classify(&r),
        Outcome::Anomaly {
            reason: AnomalyReason::ConflictingStatusHeaders,
            status: 404
        }
    );
}

#[test]
fn a_repeat_with_the_same_meaning_changes_nothing() {
    let r = both(
        200,
        &[
            ("X-NotificationStatus", "Received"),
            ("X-NotificationStatus", " received "),
            ("X-DeviceConnectionStatus", "TempDisconnected"),
            ("X-DeviceConnectionStatus", "Temporarily Disconnected"),
        ],
    );
    assert_eq!(
        r.notification,
        HeaderValue::Known(NotificationStatus::Received)
    );
    assert_eq!(
        classify(&r),
        Outcome::Accepted {
            device: Some(DeviceStatus::TempDisconnected)
        }
    );
}

#[test]
fn repeated_message_id_and_retry_after_keep_the_first() {
    let id = "d4c6a3b2-1e0f-4a5b-8c7d-6e5f4a3b2c1d";
    let r = both(
        503,
        &[
            ("Retry-After", "120"),
            ("Retry-After", "5"),
            ("X-MessageID", id),
            ("X-MessageID", "00000000-0000-0000-0000-000000000000"),
        ],
    );
    assert_eq!(r.retry_after_s, Some(120));
    assert_eq!(r.message_id.unwrap().to_string(), id);
}

#[test]
fn a_lookup_sees_one_value_per_name() {
    // from_parts is given one value per name by its client, so it cannot
    // see a repeat: what it is given decides.
    let r = Response::from_parts(200, |name| {
        (name == "X-NotificationStatus").then_some(b"QueueFull".as_slice())
    });
    assert_eq!(
        r.notification,
        HeaderValue::Known(NotificationStatus::QueueFull)
    );
}

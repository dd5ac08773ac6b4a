//! `classify`: [`Response::from_parts`], [`classify`] and [`RetryPolicy`] on
//! any status and header set (the response table of `mpns-proto/src/response.rs`).
//!
//! An oracle written from the protocol's rules reads the headers leniently (case, spaces,
//! `N/A`, the spellings of `InActive` and `Temp Disconnected`) and applies the
//! policy table; the library must agree on every field and outcome. Then the
//! retry timing: never shorter than `Retry-After`, a channel pause never
//! shortened by jitter, exponential delays within the jitter band around
//! `base × 2^(n-1)` capped, never shorter for more failures, and no overflow
//! for any policy.

use mpns_proto::{
    AnomalyReason, Backoff, DeviceStatus, Duration, HeaderValue, Jitter, MessageId, MessageIdEcho,
    NotificationStatus, Outcome, RejectReason, Response, RetryPolicy, RetryReason, Scope,
    SubscriptionStatus, classify,
};

/// One case: what a structured HTTP client would hand over, and a retry policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// Status code (any `u16`: structured clients may pass anything).
    pub status: u16,
    /// Header fields in order; names in any case.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The retry policy.
    pub policy: RetryPolicy,
    /// Consecutive failures for [`RetryPolicy::delay`].
    pub failures: u32,
    /// Jitter position, per mille.
    pub jitter: i16,
    /// The `X-MessageID` that was sent.
    pub sent: Option<MessageId>,
}

/// Runs the check on raw fuzz input that is an HTTP response head (the seeds).
pub fn check_http(data: &[u8]) {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Response::new(&mut headers);
    let Ok(_) = parsed.parse(data) else {
        return;
    };
    let Some(status) = parsed.code else {
        return;
    };
    let headers = parsed
        .headers
        .iter()
        .take_while(|h| !h.name.is_empty())
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    for failures in [1, 2, 3, 10, 64, u32::MAX] {
        for jitter in [-1000, -1, 0, 500, 1000] {
            check(&Input {
                status,
                headers: Vec::clone(&headers),
                policy: RetryPolicy::DEFAULT,
                failures,
                jitter,
                sent: Some(MessageId([7; 16])),
            });
        }
    }
}

fn squeezed(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(u8::to_ascii_lowercase)
        .collect()
}

fn lenient<T: Copy>(value: Option<&[u8]>, table: &[(&str, T)]) -> HeaderValue<T> {
    let Some(value) = value else {
        return HeaderValue::NotGiven;
    };
    let s = squeezed(value);
    if s.is_empty() || s == b"n/a" {
        return HeaderValue::NotGiven;
    }
    match table.iter().find(|(name, _)| name.as_bytes() == s) {
        Some((_, v)) => HeaderValue::Known(*v),
        None => HeaderValue::Unrecognized,
    }
}

fn message_id(value: &[u8]) -> Option<MessageId> {
    // Trimmed of HTTP's (ASCII) whitespace, as every header value.
    let text = core::str::from_utf8(value.trim_ascii()).ok()?;
    let b = text.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut hex = Vec::new();
    for (i, c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if *c != b'-' {
                return None;
            }
        } else {
            hex.push((*c as char).to_digit(16)? as u8);
        }
    }
    let mut id = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        id[i] = pair[0] << 4 | pair[1];
    }
    Some(MessageId(id))
}

/// `Retry-After` as delta-seconds: digits (after trimming), saturating at
/// `u32::MAX` seconds; anything else (dates, signs, fractions) is not given.
fn retry_after(value: &[u8]) -> Option<u32> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u32, |acc, d| {
        acc.saturating_mul(10).saturating_add(u32::from(d - b'0'))
    }))
}

/// The policy table (`mpns_proto::classify`'s documentation).
fn outcome(status: u16, r: &Response) -> Outcome {
    let retry = |reason, scope, backoff| Outcome::Retry {
        reason,
        scope,
        backoff,
        retry_after_s: r.retry_after_s,
    };
    if r.subscription == HeaderValue::Known(SubscriptionStatus::Expired) || status == 404 {
        return Outcome::Expired;
    }
    match status {
        200 => match r.notification {
            HeaderValue::Known(NotificationStatus::Received) => Outcome::Accepted {
                device: r.device.known(),
            },
            HeaderValue::Known(NotificationStatus::QueueFull) => {
                retry(RetryReason::QueueFull, Scope::Message, Backoff::Exponential)
            }
            HeaderValue::Known(NotificationStatus::Suppressed) => Outcome::Suppressed,
            HeaderValue::Known(NotificationStatus::Dropped) => Outcome::Dropped,
            HeaderValue::NotGiven => Outcome::Anomaly {
                reason: AnomalyReason::MissingNotificationStatus,
                status,
            },
            HeaderValue::Unrecognized => Outcome::Anomaly {
                reason: AnomalyReason::UnknownNotificationStatus,
                status,
            },
        },
        406 => retry(
            RetryReason::RateLimited,
            Scope::Channel,
            Backoff::ChannelPause,
        ),
        412 => retry(
            RetryReason::DeviceInactive,
            Scope::Channel,
            Backoff::ChannelPause,
        ),
        503 => retry(
            RetryReason::ServiceUnavailable,
            Scope::Host,
            Backoff::Exponential,
        ),
        429 => retry(
            RetryReason::TooManyRequests,
            Scope::Host,
            Backoff::Exponential,
        ),
        500..=599 => retry(RetryReason::ServerError, Scope::Host, Backoff::Exponential),
        400..=499 => Outcome::Rejected {
            reason: match status {
                400 => RejectReason::BadRequest,
                401 => RejectReason::Unauthorized,
                403 => RejectReason::Forbidden,
                405 => RejectReason::MethodNotAllowed,
                _ => RejectReason::OtherClientError,
            },
            status,
        },
        _ => Outcome::Anomaly {
            reason: AnomalyReason::UnexpectedStatus,
            status,
        },
    }
}

/// Runs the check on one case.
pub fn check(input: &Input) {
    let lookup = |name: &str| {
        input
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    };
    let r = Response::from_parts(input.status, lookup);

    // The headers, read leniently.
    assert_eq!(r.status, input.status);
    assert_eq!(
        r.notification,
        lenient(
            lookup("X-NotificationStatus"),
            &[
                ("received", NotificationStatus::Received),
                ("queuefull", NotificationStatus::QueueFull),
                ("suppressed", NotificationStatus::Suppressed),
                ("dropped", NotificationStatus::Dropped),
            ]
        ),
        "X-NotificationStatus"
    );
    assert_eq!(
        r.subscription,
        lenient(
            lookup("X-SubscriptionStatus"),
            &[
                ("active", SubscriptionStatus::Active),
                ("expired", SubscriptionStatus::Expired),
            ]
        ),
        "X-SubscriptionStatus"
    );
    assert_eq!(
        r.device,
        lenient(
            lookup("X-DeviceConnectionStatus"),
            &[
                ("connected", DeviceStatus::Connected),
                ("tempdisconnected", DeviceStatus::TempDisconnected),
                ("temporarilydisconnected", DeviceStatus::TempDisconnected),
                ("inactive", DeviceStatus::Inactive),
                ("disconnected", DeviceStatus::Disconnected),
            ]
        ),
        "X-DeviceConnectionStatus"
    );
    assert_eq!(
        r.message_id,
        lookup("X-MessageID").and_then(message_id),
        "X-MessageID"
    );
    assert_eq!(
        r.retry_after_s,
        lookup("Retry-After").and_then(retry_after),
        "Retry-After"
    );
    let echo = match r.message_id {
        None => MessageIdEcho::NotGiven,
        Some(id) if id == input.sent.unwrap_or(MessageId::NIL) => MessageIdEcho::Matches,
        Some(_) => MessageIdEcho::Mismatch,
    };
    assert_eq!(r.message_id_echo(input.sent), echo);

    // The policy table.
    let got = classify(&r);
    assert_eq!(got, outcome(input.status, &r), "classify");
    assert!(!got.to_string().is_empty() && !got.name().is_empty());
    assert_eq!(got.is_final(), !matches!(got, Outcome::Retry { .. }));
    let policy = input.policy;
    assert_eq!(
        policy.first_retry_delay(&got),
        match got {
            Outcome::Retry {
                backoff,
                retry_after_s,
                ..
            } => Some(policy.delay(backoff, 1, retry_after_s, Jitter::NONE)),
            _ => None,
        }
    );
    check_delays(&policy, input.failures, input.jitter, r.retry_after_s);
    check_delays(&policy, input.failures, input.jitter, None);
    let transport = Outcome::transport_failure();
    assert!(matches!(
        transport,
        Outcome::Retry {
            reason: RetryReason::Transport,
            scope: Scope::Host,
            backoff: Backoff::Exponential,
            retry_after_s: None
        }
    ));
}

/// [`RetryPolicy::delay`] for both backoffs.
fn check_delays(policy: &RetryPolicy, failures: u32, jitter: i16, retry_after_s: Option<u32>) {
    let asked = retry_after_s.map_or(0, |s| u128::from(s) * 1000);
    let percent = i128::from(policy.jitter_percent);
    let j = i128::from(jitter.clamp(-1000, 1000));
    for backoff in [Backoff::Exponential, Backoff::ChannelPause] {
        let d = policy.delay(backoff, failures, retry_after_s, Jitter::per_mille(jitter));
        let d = u128::from(d.as_millis());
        assert!(
            d >= asked,
            "{backoff:?}: {d} ms is shorter than Retry-After"
        );
        let base = match backoff {
            Backoff::Exponential => {
                let doublings = failures.saturating_sub(1).min(63);
                u128::from(policy.base.as_millis())
                    .saturating_mul(1u128 << doublings)
                    .min(u128::from(policy.cap.as_millis()))
            }
            Backoff::ChannelPause => u128::from(policy.channel_pause.as_millis()),
        };
        let j = match backoff {
            Backoff::Exponential => j,
            // Jitter never shortens a channel pause.
            Backoff::ChannelPause => j.abs(),
        };
        // base × (1 + j/1000 × percent/100), within one millisecond of rounding.
        let exact = base as i128 + base as i128 * j * percent / 100_000;
        let lo = exact.max(0) as u128;
        let lo = lo.saturating_sub(1).min(u128::from(u64::MAX));
        let hi = (exact.max(0) as u128 + 1).min(u128::from(u64::MAX));
        assert!(
            d >= lo.max(asked) && d <= hi.max(asked),
            "{backoff:?}: {d} ms outside [{lo}, {hi}] (Retry-After {asked} ms)"
        );
        if backoff == Backoff::ChannelPause {
            assert!(
                d >= u128::from(policy.channel_pause.as_millis()),
                "jitter shortened a channel pause"
            );
        }
    }
    // More failures never wait less (without jitter).
    let without = |n| policy.delay(Backoff::Exponential, n, retry_after_s, Jitter::NONE);
    assert!(without(failures.saturating_add(1)) >= without(failures));
    let _ = Duration::ZERO;
}

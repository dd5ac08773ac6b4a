//! `classify`: [`Response::from_parts`], [`Response::from_fields`],
//! [`classify`] and [`RetryPolicy`] on any status and header set.
//!
//! The oracle here is written from `docs/protocol.md` alone, never from the
//! code under test (`mpns-proto/src/response.rs` and the retry timing), so
//! that a misreading of the protocol in one is not copied into the other. Each
//! part follows one section of the doc:
//!
//! - "Reading a response": header names in any letter case; status values
//!   compared ignoring ASCII letter case and ASCII whitespace (space, tab, LF,
//!   FF, CR) anywhere, so `InActive`, `Temp Disconnected` and `Temporarily
//!   Disconnected` are known spellings; missing, empty and `N/A` are not
//!   given, any other value outside the "Status headers" table unrecognized;
//!   `X-MessageID` kept only as a canonical 8-4-4-4-12 UUID, whitespace around
//!   it ignored; `Retry-After` only as digits, 4294967295 when larger; a
//!   repeated header counts by its first field, but a status header repeated
//!   with another meaning is `Conflicting` for a reader that sees every field.
//!   `Response::from_fields` must read every field exactly so, and
//!   `Response::from_parts` (one value per name) the first of each.
//! - "Message ids": the echo matches the id sent, or the all-zero id when none
//!   was sent; any other UUID is a mismatch, and no UUID is no echo.
//! - "What each response means": the table, its rows tried in the doc's order,
//!   gives the [`Outcome`] that [`classify`] must return (`is_final` and
//!   `name` follow from it); a transport failure is a host-wide exponential
//!   retry without `Retry-After`.
//! - "Retries and backoff": [`RetryPolicy::first_retry_delay`] is the policy's
//!   unjittered delay for a first failure, or a longer `Retry-After`, and none
//!   for a final outcome; [`RetryPolicy::delay`] is `base × 2^(n-1)` up to
//!   `cap`, or the fixed channel pause, moved by the jitter position (either
//!   way for an exponential delay, only longer for a channel pause), never
//!   shorter than `Retry-After`, within a millisecond of rounding, and the
//!   longest `Duration` rather than an overflow for any policy; more failures
//!   never wait less.

use mpns_proto::{
    AnomalyReason, Backoff, DeviceStatus, HeaderValue, Jitter, MessageId, MessageIdEcho,
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

// ---------------------------------------------------------------------------
// "Reading a response"
// ---------------------------------------------------------------------------

/// Header fields as the oracle takes them: names and values, owned (the
/// classify target's input) or borrowed (the sender model's, which must not
/// allocate: every allocation is dear under the sanitizer).
pub trait Headers {
    /// Every field, in order.
    fn each(&self) -> impl Iterator<Item = (&str, &[u8])>;
}

impl Headers for [(String, Vec<u8>)] {
    fn each(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }
}

impl Headers for [(&str, &[u8])] {
    fn each(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.iter().copied()
    }
}

/// Every field named `name`, in order, names compared ignoring letter case.
fn fields<'a, 'n, H: Headers + ?Sized>(
    headers: &'a H,
    name: &'n str,
) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n, H> {
    headers
        .each()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The first field named `name`: a repeated header counts by its first value
/// (the doc has no rule for repeats yet; one would go in [`status_header`]).
fn field<'a, H: Headers + ?Sized>(headers: &'a H, name: &str) -> Option<&'a [u8]> {
    fields(headers, name).next()
}

/// Whitespace, as "Reading a response" counts it: space, tab, LF, FF and CR
/// (not vertical tab, nothing outside ASCII).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0c | b'\r')
}

/// A status value as compared: no whitespace anywhere, letters in lower case.
fn folded(value: &[u8]) -> impl Iterator<Item = u8> + Clone + '_ {
    value
        .iter()
        .filter(|&&b| !is_space(b))
        .map(u8::to_ascii_lowercase)
}

/// Reads one status header: not given when missing, empty or `N/A`; known when
/// it is one of `spellings` (written as the doc writes them); else unrecognized.
fn status_value<T: Copy>(value: Option<&[u8]>, spellings: &[(&str, T)]) -> HeaderValue<T> {
    let Some(value) = value else {
        return HeaderValue::NotGiven;
    };
    let value = folded(value);
    if value.clone().next().is_none() || value.clone().eq(folded(b"N/A")) {
        return HeaderValue::NotGiven;
    }
    for (spelling, meaning) in spellings {
        if folded(spelling.as_bytes()).eq(value.clone()) {
            return HeaderValue::Known(*meaning);
        }
    }
    HeaderValue::Unrecognized
}

/// `X-NotificationStatus` values ("Status headers").
const NOTIFICATION: [(&str, NotificationStatus); 4] = [
    ("Received", NotificationStatus::Received),
    ("QueueFull", NotificationStatus::QueueFull),
    ("Suppressed", NotificationStatus::Suppressed),
    ("Dropped", NotificationStatus::Dropped),
];

/// `X-SubscriptionStatus` values ("Status headers").
const SUBSCRIPTION: [(&str, SubscriptionStatus); 2] = [
    ("Active", SubscriptionStatus::Active),
    ("Expired", SubscriptionStatus::Expired),
];

/// `X-DeviceConnectionStatus` values ("Status headers"), and the spelling
/// "Reading a response" adds.
const DEVICE: [(&str, DeviceStatus); 5] = [
    ("Connected", DeviceStatus::Connected),
    ("TempDisconnected", DeviceStatus::TempDisconnected),
    ("Temporarily Disconnected", DeviceStatus::TempDisconnected),
    ("InActive", DeviceStatus::Inactive),
    ("Disconnected", DeviceStatus::Disconnected),
];

/// `value` without leading and trailing whitespace.
fn trimmed(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// The value of one hexadecimal digit, either case.
fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `X-MessageID` ("Message ids"): the canonical UUID text, groups of 8, 4, 4,
/// 4 and 12 hexadecimal digits joined by `-`, surrounding whitespace ignored.
fn message_id(value: &[u8]) -> Option<MessageId> {
    let mut groups = trimmed(value).split(|&b| b == b'-');
    let mut digits = [0u8; 32];
    let mut n = 0;
    for len in [8, 4, 4, 4, 12] {
        let group = groups.next()?;
        if group.len() != len {
            return None;
        }
        for &c in group {
            digits[n] = hex_digit(c)?;
            n += 1;
        }
    }
    if groups.next().is_some() {
        return None;
    }
    let mut id = [0u8; 16];
    for (byte, pair) in id.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = pair[0] * 16 + pair[1];
    }
    Some(MessageId(id))
}

/// `Retry-After` ("Reading a response"): a number of seconds, surrounding
/// whitespace ignored; more than a `u32` holds is the largest `u32`. Anything
/// that is not all digits (an HTTP date, a sign, a fraction) is not given.
fn retry_after(value: &[u8]) -> Option<u32> {
    let digits = trimmed(value);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut seconds: u64 = 0;
    for &d in digits {
        seconds = seconds * 10 + u64::from(d - b'0');
        if seconds > u64::from(u32::MAX) {
            return Some(u32::MAX);
        }
    }
    Some(seconds as u32)
}

/// What the oracle reads from the headers.
#[derive(Debug)]
struct Reading {
    notification: HeaderValue<NotificationStatus>,
    subscription: HeaderValue<SubscriptionStatus>,
    device: HeaderValue<DeviceStatus>,
    message_id: Option<MessageId>,
    retry_after_s: Option<u32>,
}

/// One status header ("Status headers"), read as "Reading a response" says:
/// the first field counts, and with `every` (a reader that sees every
/// field) one that means something else makes it `Conflicting`.
fn status_header<T: Copy + PartialEq, H: Headers + ?Sized>(
    headers: &H,
    name: &str,
    spellings: &[(&str, T)],
    every: bool,
) -> HeaderValue<T> {
    let mut values = fields(headers, name).map(|v| status_value(Some(v), spellings));
    let Some(first) = values.next() else {
        return HeaderValue::NotGiven;
    };
    if every && values.any(|v| v != first) {
        return HeaderValue::Conflicting;
    }
    first
}

/// The headers as a reader that sees every field reads them.
fn read<H: Headers + ?Sized>(headers: &H) -> Reading {
    read_as(headers, true)
}

/// The headers as read by a reader that sees every field, or (`every` off)
/// by a lookup that gets one value per name.
fn read_as<H: Headers + ?Sized>(headers: &H, every: bool) -> Reading {
    Reading {
        notification: status_header(headers, "X-NotificationStatus", &NOTIFICATION, every),
        subscription: status_header(headers, "X-SubscriptionStatus", &SUBSCRIPTION, every),
        device: status_header(headers, "X-DeviceConnectionStatus", &DEVICE, every),
        message_id: field(headers, "X-MessageID").and_then(message_id),
        retry_after_s: field(headers, "Retry-After").and_then(retry_after),
    }
}

/// "Message ids" and "Reading a response": what the echo says about `sent`.
fn echo(echoed: Option<MessageId>, sent: Option<MessageId>) -> MessageIdEcho {
    let Some(echoed) = echoed else {
        return MessageIdEcho::NotGiven;
    };
    let expected = match sent {
        Some(id) => id,
        None => MessageId([0; 16]),
    };
    if echoed.0 == expected.0 {
        MessageIdEcho::Matches
    } else {
        MessageIdEcho::Mismatch
    }
}

// ---------------------------------------------------------------------------
// "What each response means"
// ---------------------------------------------------------------------------

/// The response table, its rows tried in the order the doc gives them.
fn meaning(status: u16, h: &Reading) -> Outcome {
    let retry = |reason, scope, backoff| Outcome::Retry {
        reason,
        scope,
        backoff,
        retry_after_s: h.retry_after_s,
    };
    let rejected = |reason| Outcome::Rejected { reason, status };
    let anomaly = |reason| Outcome::Anomaly { reason, status };

    // any | a status header repeated with another meaning
    if [
        matches!(h.notification, HeaderValue::Conflicting),
        matches!(h.subscription, HeaderValue::Conflicting),
        matches!(h.device, HeaderValue::Conflicting),
    ]
    .contains(&true)
    {
        return anomaly(AnomalyReason::ConflictingStatusHeaders);
    }
    // any | X-SubscriptionStatus: Expired
    if matches!(
        h.subscription,
        HeaderValue::Known(SubscriptionStatus::Expired)
    ) {
        return Outcome::Expired;
    }
    // 200, by X-NotificationStatus
    if status == 200 {
        return match h.notification {
            HeaderValue::Known(NotificationStatus::Received) => Outcome::Accepted {
                device: match h.device {
                    HeaderValue::Known(d) => Some(d),
                    _ => None,
                },
            },
            HeaderValue::Known(NotificationStatus::QueueFull) => {
                retry(RetryReason::QueueFull, Scope::Message, Backoff::Exponential)
            }
            HeaderValue::Known(NotificationStatus::Suppressed) => Outcome::Suppressed,
            HeaderValue::Known(NotificationStatus::Dropped) => Outcome::Dropped,
            HeaderValue::NotGiven => anomaly(AnomalyReason::MissingNotificationStatus),
            HeaderValue::Unrecognized | HeaderValue::Conflicting => {
                anomaly(AnomalyReason::UnknownNotificationStatus)
            }
        };
    }
    if status == 400 {
        return rejected(RejectReason::BadRequest);
    }
    if status == 401 {
        return rejected(RejectReason::Unauthorized);
    }
    if status == 403 {
        return rejected(RejectReason::Forbidden);
    }
    if status == 404 {
        return Outcome::Expired;
    }
    if status == 405 {
        return rejected(RejectReason::MethodNotAllowed);
    }
    if status == 406 {
        return retry(
            RetryReason::RateLimited,
            Scope::Channel,
            Backoff::ChannelPause,
        );
    }
    if status == 412 {
        return retry(
            RetryReason::DeviceInactive,
            Scope::Channel,
            Backoff::ChannelPause,
        );
    }
    if status == 503 {
        return retry(
            RetryReason::ServiceUnavailable,
            Scope::Host,
            Backoff::Exponential,
        );
    }
    if status == 429 {
        return retry(
            RetryReason::TooManyRequests,
            Scope::Host,
            Backoff::Exponential,
        );
    }
    if (500..600).contains(&status) {
        return retry(RetryReason::ServerError, Scope::Host, Backoff::Exponential);
    }
    if (400..500).contains(&status) {
        return rejected(RejectReason::OtherClientError);
    }
    anomaly(AnomalyReason::UnexpectedStatus)
}

/// The short names `Outcome::name` documents.
fn name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Accepted { .. } => "accepted",
        Outcome::Retry { .. } => "retry",
        Outcome::Suppressed => "suppressed",
        Outcome::Dropped => "dropped",
        Outcome::Expired => "expired",
        Outcome::Rejected { .. } => "rejected",
        Outcome::Anomaly { .. } => "anomaly",
    }
}

/// The oracle's answer for a response, for other checks that need one
/// without the code under test (the sender model): the outcome the table
/// gives, and the `X-MessageID` echo as read.
pub fn expected<H: Headers + ?Sized>(status: u16, headers: &H) -> (Outcome, Option<MessageId>) {
    let h = read(headers);
    (meaning(status, &h), h.message_id)
}

// ---------------------------------------------------------------------------
// "Retries and backoff"
// ---------------------------------------------------------------------------

const MAX_MS: u128 = u64::MAX as u128;

/// The policy's delay in milliseconds before jitter and `Retry-After`:
/// `base` doubled for each failure after the first, up to `cap`; or the
/// channel pause, which does not grow.
fn policy_ms(policy: &RetryPolicy, backoff: Backoff, failures: u32) -> u128 {
    match backoff {
        Backoff::ChannelPause => u128::from(policy.channel_pause.as_millis()),
        Backoff::Exponential => {
            let base = u128::from(policy.base.as_millis());
            let cap = u128::from(policy.cap.as_millis());
            let mut d = base;
            for _ in 1..failures {
                if d == 0 || d >= cap {
                    break;
                }
                d *= 2;
            }
            d.min(cap)
        }
    }
}

/// `Retry-After` in milliseconds (0 when not given).
fn asked_ms(retry_after_s: Option<u32>) -> u128 {
    retry_after_s.map_or(0, |s| u128::from(s) * 1000)
}

/// [`RetryPolicy::first_retry_delay`]: the unjittered delay of a first
/// failure, or `Retry-After` when that is longer; none for a final outcome.
fn first_retry_ms(policy: &RetryPolicy, outcome: &Outcome) -> Option<u128> {
    match *outcome {
        Outcome::Retry {
            backoff,
            retry_after_s,
            ..
        } => Some(
            policy_ms(policy, backoff, 1)
                .max(asked_ms(retry_after_s))
                .min(MAX_MS),
        ),
        _ => None,
    }
}

/// The delay with jitter at position `j` (per mille, -1000 to 1000), in
/// microseconds, before `Retry-After`: an exponential delay moves by that
/// fraction of `jitter_percent` either way (never below zero), a channel
/// pause is lengthened by the position's size whatever its sign.
fn jittered_micros(policy: &RetryPolicy, backoff: Backoff, failures: u32, j: i16) -> i128 {
    let d = policy_ms(policy, backoff, failures) as i128;
    let percent = i128::from(policy.jitter_percent);
    let j = i128::from(j.clamp(-1000, 1000));
    // How far along the band, in thousandths: either way, or only longer.
    let along = match backoff {
        Backoff::Exponential => j,
        Backoff::ChannelPause => j.abs(),
    };
    // d × (1 + along/1000 × percent/100), × 1000.
    (d * 1000 + d * along * percent / 100).max(0)
}

/// [`RetryPolicy::delay`] against the doc, for both backoffs.
fn check_delays(policy: &RetryPolicy, failures: u32, jitter: i16, retry_after_s: Option<u32>) {
    let asked = asked_ms(retry_after_s);
    for backoff in [Backoff::Exponential, Backoff::ChannelPause] {
        // Without jitter: the policy's delay exactly, or a longer Retry-After.
        let plain = u128::from(
            policy
                .delay(backoff, failures, retry_after_s, Jitter::NONE)
                .as_millis(),
        );
        let expected = policy_ms(policy, backoff, failures).max(asked).min(MAX_MS);
        assert_eq!(
            plain, expected,
            "{backoff:?} after {failures} failures, no jitter, Retry-After {retry_after_s:?}, {policy:?}"
        );

        // With jitter: within a millisecond of the jittered delay, or a
        // longer Retry-After; never past the largest duration.
        let got = u128::from(
            policy
                .delay(backoff, failures, retry_after_s, Jitter::per_mille(jitter))
                .as_millis(),
        );
        let micros = jittered_micros(policy, backoff, failures, jitter) as u128;
        let lo = (micros / 1000).saturating_sub(1).max(asked).min(MAX_MS);
        let hi = ((micros + 1).div_ceil(1000) + 1).max(asked).min(MAX_MS);
        assert!(
            (lo..=hi).contains(&got),
            "{backoff:?} after {failures} failures, jitter {jitter}‰, \
             Retry-After {retry_after_s:?}, {policy:?}: {got} ms, not in [{lo}, {hi}]"
        );
        // The properties the doc states outright.
        assert!(
            got >= asked.min(MAX_MS),
            "{backoff:?}: shorter than Retry-After"
        );
        if backoff == Backoff::ChannelPause {
            assert!(
                got >= u128::from(policy.channel_pause.as_millis()),
                "jitter shortened a channel pause"
            );
        }
    }
    // A further failure never waits less; a channel pause does not grow.
    let more = failures.saturating_add(1);
    let delay = |b, n| policy.delay(b, n, retry_after_s, Jitter::NONE);
    assert!(delay(Backoff::Exponential, more) >= delay(Backoff::Exponential, failures));
    assert_eq!(
        delay(Backoff::ChannelPause, more),
        delay(Backoff::ChannelPause, failures)
    );
}

// ---------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------

/// Runs the check on one case.
pub fn check(input: &Input) {
    super::trace(|| format!("{input:?}"));
    // A lookup sees the first field of each name.
    let lookup = |name: &str| field(input.headers.as_slice(), name);
    let first = Response::from_parts(input.status, lookup);
    let f = read_as(input.headers.as_slice(), false);
    assert_eq!(
        first.notification, f.notification,
        "from_parts: X-NotificationStatus"
    );
    assert_eq!(
        first.subscription, f.subscription,
        "from_parts: X-SubscriptionStatus"
    );
    assert_eq!(
        first.device, f.device,
        "from_parts: X-DeviceConnectionStatus"
    );
    assert_eq!(
        classify(&first),
        meaning(input.status, &f),
        "classify from_parts"
    );
    // Every field, repeats included.
    let every = input
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()));
    let r = Response::from_fields(input.status, every);
    let h = read(input.headers.as_slice());

    // "Reading a response".
    assert_eq!(r.status, input.status, "status");
    assert_eq!(r.notification, h.notification, "X-NotificationStatus");
    assert_eq!(r.subscription, h.subscription, "X-SubscriptionStatus");
    assert_eq!(r.device, h.device, "X-DeviceConnectionStatus");
    assert_eq!(r.message_id, h.message_id, "X-MessageID");
    assert_eq!(r.retry_after_s, h.retry_after_s, "Retry-After");
    // "Message ids".
    for sent in [input.sent, None, Some(MessageId::NIL), h.message_id] {
        assert_eq!(
            r.message_id_echo(sent),
            echo(h.message_id, sent),
            "echo of {sent:?}"
        );
    }

    // "What each response means".
    let expected = meaning(input.status, &h);
    let got = classify(&r);
    assert_eq!(got, expected, "classify");
    assert_eq!(got.is_final(), !matches!(expected, Outcome::Retry { .. }));
    assert_eq!(got.name(), name(&expected));
    assert!(!got.to_string().is_empty());
    assert_eq!(
        Outcome::transport_failure(),
        Outcome::Retry {
            reason: RetryReason::Transport,
            scope: Scope::Host,
            backoff: Backoff::Exponential,
            retry_after_s: None,
        }
    );

    // "Retries and backoff".
    let policy = input.policy;
    for outcome in [got, Outcome::transport_failure()] {
        assert_eq!(
            policy
                .first_retry_delay(&outcome)
                .map(|d| u128::from(d.as_millis())),
            first_retry_ms(&policy, &outcome),
            "first retry after {outcome:?}"
        );
    }
    check_delays(&policy, input.failures, input.jitter, h.retry_after_s);
    check_delays(&policy, input.failures, input.jitter, None);
}

//! `mpns decode`: what an MPNS response means, as one JSON object.
//!
//! The raw HTTP/1.1 response bytes are read from stdin to its end, parsed by
//! the core's [`parse_response`] and classified by [`classify`]; this module
//! only prints the result.

use clap::Args;
use mpns_proto::{
    HeaderValue, Outcome, Parsed, ReaderLimits, Response, RetryPolicy, classify, parse_response,
};
use serde_json::{Value, json};

use super::CliError;

/// `mpns decode`: reads raw HTTP response bytes on stdin.
#[derive(Debug, Clone, Args)]
pub struct DecodeArgs {}

impl DecodeArgs {
    /// Reads stdin to its end and returns the JSON line to print.
    pub fn run(&self) -> Result<String, CliError> {
        let input = crate::input::read_limited(std::io::stdin(), crate::input::MAX_INPUT)
            .map_err(CliError::Stdin)?;
        decode(&input)
    }
}

/// The JSON of the first response in `bytes`, which hold everything the server sent.
pub fn decode(bytes: &[u8]) -> Result<String, CliError> {
    match parse_response::<64>(bytes, ReaderLimits::DEFAULT, true).map_err(CliError::Response)? {
        Parsed::Complete { response, .. } => Ok(to_json(&response.response).to_string()),
        // Unreachable with `at_eof`: an unfinished response is an error then.
        Parsed::Partial => Err(CliError::Response(mpns_proto::ReadError::Incomplete)),
    }
}

fn known<T: serde::Serialize + Copy>(v: HeaderValue<T>) -> Value {
    v.known().map_or(Value::Null, |v| json!(v))
}

/// The fields of `mpns decode` (and `mpns send`) for a response, in this
/// order; the repository's `docs/cli.md` says what each means, and a test
/// pins the names.
pub const FIELDS: [&str; 11] = [
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
];

/// The JSON of `mpns decode` (and `mpns send`) for a response: [`FIELDS`].
///
/// `retry_after_s` is the response's own `Retry-After` (seconds, when a
/// number); `retry_delay_s` is how long this project's [`RetryPolicy`]
/// waits before the first retry, which honours a longer `Retry-After`.
pub fn to_json(r: &Response) -> Value {
    let outcome = classify(r);
    let (reason, scope, backoff) = match outcome {
        Outcome::Retry {
            reason,
            scope,
            backoff,
            ..
        } => (json!(reason), json!(scope), json!(backoff)),
        Outcome::Rejected { reason, .. } => (json!(reason), Value::Null, Value::Null),
        Outcome::Anomaly { reason, .. } => (json!(reason), Value::Null, Value::Null),
        _ => (Value::Null, Value::Null, Value::Null),
    };
    json!({
        "status": r.status,
        "notification_status": known(r.notification),
        "subscription_status": known(r.subscription),
        "device_status": known(r.device),
        "message_id": r.message_id.map(|id| id.to_string()),
        "retry_after_s": r.retry_after_s,
        "outcome": outcome.name(),
        "reason": reason,
        "scope": scope,
        "backoff": backoff,
        "retry_delay_s": RetryPolicy::DEFAULT.first_retry_delay(&outcome).map(|d| d.as_secs()),
    })
}

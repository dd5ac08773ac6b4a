//! MPNS responses, as bytes off a stream, read and classified: what happened
//! and what the sender does next.
//!
//! `cargo run -p mpns-proto --example decode`

use mpns_proto::{Parsed, ReaderLimits, RetryPolicy, classify, parse_response};

const ANSWERS: [&[u8]; 4] = [
    b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\nX-SubscriptionStatus: Active\r\nX-DeviceConnectionStatus: Connected\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-NotificationStatus: QueueFull\r\nX-SubscriptionStatus: Active\r\nX-DeviceConnectionStatus: Connected\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 404 Not Found\r\nX-NotificationStatus: Dropped\r\nX-SubscriptionStatus: Expired\r\nX-DeviceConnectionStatus: Connected\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n",
];

fn main() -> Result<(), mpns_proto::ReadError> {
    let policy = RetryPolicy::default();
    for bytes in ANSWERS {
        // At the end of the stream: a response without a length ends there.
        let Parsed::Complete { response, .. } =
            parse_response::<32>(bytes, ReaderLimits::DEFAULT, true)?
        else {
            unreachable!("each answer is whole");
        };
        let outcome = classify(&response.response);
        println!(
            "{}: {outcome:?}; final: {}; first retry after: {:?}",
            response.response.status,
            outcome.is_final(),
            policy.first_retry_delay(&outcome),
        );
    }
    Ok(())
}

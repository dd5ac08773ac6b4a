//! The sender's run loop with a fake clock and a scripted MPNS: no I/O, no
//! real time. One channel accepts, one answers `QueueFull` once (the sender
//! waits and sends again), one has expired (the sender says so, once).
//!
//! `cargo run -p mpns-proto --example sender_loop`

use mpns_proto::{
    ChannelUri, Instant, Notification, Options, Response, Sender, SenderConfig, Toast,
};

/// What the scripted MPNS answers the `attempt`-th request to `path`.
fn mpns(path: &str, attempt: u16) -> Response {
    let (status, notification, subscription) = match path {
        p if p.ends_with("/FULL") && attempt == 1 => (200, "QueueFull", "Active"),
        p if p.ends_with("/GONE") => (404, "Dropped", "Expired"),
        _ => (200, "Received", "Active"),
    };
    Response::from_fields(
        status,
        [
            ("X-NotificationStatus", notification.as_bytes()),
            ("X-SubscriptionStatus", subscription.as_bytes()),
            ("X-DeviceConnectionStatus", b"Connected".as_slice()),
        ],
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Up to 4 notifications and 4 channels in 4 KiB that the caller owns.
    let mut sender: Sender<[u8; 4096], 4, 4> = Sender::new(SenderConfig::default(), [0; 4096]);
    let mut now = Instant::ZERO;
    let toast = Notification::Toast(Toast {
        text1: Some("Door opened"),
        ..Toast::default()
    });
    for id in ["OK", "FULL", "GONE"] {
        let channel = format!("http://127.0.0.1:9/throttledthirdparty/01.00/{id}");
        let ticket = sender.submit(
            now,
            ChannelUri::parse(&channel)?,
            &toast,
            &Options::default(),
        )?;
        println!("{:>8} ms  submitted {ticket:?} to {id}", now.as_millis());
    }
    while sender.pending() > 0 {
        // Send what is due; here the "network" answers at once.
        while let Some(transmit) = sender.poll_transmit(now) {
            let response = mpns(transmit.request.channel().uri().path(), transmit.attempt);
            let ticket = transmit.ticket;
            sender.handle_response(now, ticket, &response)?;
        }
        while let Some(event) = sender.poll_event() {
            // A `Finished` event is a ticket's last: its slot is free again.
            println!("{:>8} ms  {event:?}", now.as_millis());
        }
        // Sleep until the sender's next deadline (a retry's backoff here).
        match sender.poll_timeout() {
            Some(at) => {
                now = at;
                sender.handle_timeout(now);
            }
            None => break,
        }
    }
    Ok(())
}

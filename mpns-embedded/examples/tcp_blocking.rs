//! One toast over a `std::net::TcpStream`, adapted to `embedded-io` with
//! embedded-io-adapters: the blocking path a board takes over its own TCP
//! stack, run on a host.
//!
//! `cargo run -p mpns-embedded --example tcp_blocking -- CHANNEL_URI`, for
//! example against `mpns emulator` (an http channel; TLS is the stream's
//! business).

use std::net::TcpStream;

use embedded_io_adapters::std::FromStd;
use mpns_proto::{ChannelUri, Notification, Options, Outcome, Request, Toast, classify};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let channel = std::env::args()
        .nth(1)
        .ok_or("usage: tcp_blocking CHANNEL_URI")?;
    let (status, outcome) = send_alert(&channel)?;
    println!("HTTP {status}: {outcome:?}");
    Ok(())
}

/// Sends one toast on a new connection: the status code and what it means.
pub(crate) fn send_alert(channel: &str) -> Result<(u16, Outcome), Box<dyn std::error::Error>> {
    let channel = ChannelUri::parse(channel)?;
    let toast = Notification::Toast(Toast {
        text1: Some("Gateway alert"),
        text2: Some("Door opened"),
        ..Toast::default()
    });
    let request = Request::notification(channel, &toast, &Options::default())?;

    let mut stream = FromStd::new(TcpStream::connect((host(&channel), channel.port()))?);
    // The request is written from, and the response read into, this buffer.
    let mut buf = [0u8; 2048];
    let read = mpns_embedded::blocking::send(&mut stream, &request, &mut buf)?;
    Ok((read.response.status, classify(&read.response)))
}

/// The host to connect to: an IPv6 literal without its brackets.
fn host<'c>(channel: &ChannelUri<'c>) -> &'c str {
    let host = channel.host();
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

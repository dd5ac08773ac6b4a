//! MPNS over a plain `std::net::TcpStream`: the core's request bytes out, its
//! `ResponseReader` over the bytes that come back. No HTTP client at all.
//!
//! `cargo run -p mpns-hyper --example tcp_stream` starts the emulator and
//! sends a toast to an active channel and to an expired one; `send_toast` is
//! the part to copy (http channels; TLS would wrap the stream).

use std::io::{Read, Write};
use std::net::TcpStream;

use mpns_proto::{
    ChannelUri, Notification, Options, Outcome, Request, ResponseReader, Toast, classify,
};

/// Sends one toast on a new connection and classifies MPNS's answer.
pub(crate) fn send_toast(channel: &str, text: &str) -> Result<Outcome, String> {
    let channel = ChannelUri::parse(channel).map_err(|e| format!("channel: {e}"))?;
    let toast = Notification::Toast(Toast {
        text1: Some(text),
        ..Toast::default()
    });
    let request = Request::notification(channel, &toast, &Options::default())
        .map_err(|e| format!("toast: {e}"))?;
    let mut bytes = vec![0; request.http_len()];
    request.write_http(&mut bytes).map_err(|e| e.to_string())?;

    let mut stream = TcpStream::connect((host(&channel), channel.port()))
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .write_all(&bytes)
        .map_err(|e| format!("write: {e}"))?;

    let mut reader: ResponseReader = ResponseReader::default();
    let mut buf = [0u8; 1024];
    let mut held = 0;
    loop {
        let n = stream
            .read(&mut buf[held..])
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            // The server closed: a response read until close, or none.
            let read = reader.finish().map_err(|e| e.to_string())?;
            return read
                .map(|r| classify(&r.response))
                .ok_or_else(|| "closed before a response".to_string());
        }
        held += n;
        let progress = reader.feed(&buf[..held]).map_err(|e| e.to_string())?;
        // Keep what the reader did not take (an incomplete head).
        buf.copy_within(progress.consumed..held, 0);
        held -= progress.consumed;
        if let Some(read) = progress.done {
            return Ok(classify(&read.response));
        }
        if held == buf.len() {
            return Err("response head larger than the buffer".into());
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    use mpns_hyper::emulator::{Behaviour, Emulator, EmulatorConfig};

    let emulator = Emulator::spawn(EmulatorConfig::default())?;
    emulator.set_behaviour("GONE", Behaviour::Expired);
    for id in ["PHONE", "GONE"] {
        let outcome = send_toast(&emulator.channel_url(id), "Hello over TCP")?;
        println!("{id}: {outcome:?}");
    }
    Ok(())
}

/// The host to connect to: an IPv6 literal without its brackets.
fn host<'c>(channel: &ChannelUri<'c>) -> &'c str {
    let host = channel.host();
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

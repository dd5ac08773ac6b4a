//! MPNS over ureq (blocking), with the core's `http` conversions.
//!
//! `cargo run -p mpns-hyper --example ureq` starts the emulator and sends a
//! toast to an active channel and to an expired one; `send_toast` is the part
//! to copy.

use mpns_proto::{ChannelUri, Notification, Options, Outcome, Request, Response, Toast, classify};

/// Sends one toast and classifies MPNS's answer.
pub(crate) fn send_toast(
    agent: &ureq::Agent,
    channel: &str,
    text: &str,
) -> Result<Outcome, String> {
    let channel = ChannelUri::parse(channel).map_err(|e| format!("channel: {e}"))?;
    let toast = Notification::Toast(Toast {
        text1: Some(text),
        ..Toast::default()
    });
    let request = Request::notification(channel, &toast, &Options::default())
        .map_err(|e| format!("toast: {e}"))?;
    let request: http::Request<Vec<u8>> = request.to_http().map_err(|e| e.to_string())?;
    let response = agent
        .run(request)
        .map_err(|e| format!("no response: {e}"))?;
    Ok(classify(&Response::from_http(&response)))
}

/// An agent that hands every answer back as a response.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        // ureq turns 4xx/5xx into `Err` by default, and the MPNS status
        // headers go with it: a 404 Expired or a 406 over quota must come
        // back as a response for the core to classify.
        .http_status_as_error(false)
        .build()
        .into()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    use mpns_hyper::emulator::{Behaviour, Emulator, EmulatorConfig};

    let emulator = Emulator::spawn(EmulatorConfig::default())?;
    emulator.set_behaviour("GONE", Behaviour::Expired);
    let agent = agent();
    for id in ["PHONE", "GONE"] {
        let outcome = send_toast(&agent, &emulator.channel_url(id), "Hello from ureq")?;
        println!("{id}: {outcome:?}");
    }
    Ok(())
}

//! MPNS over reqwest (async), with the core's `http` conversions and a client
//! certificate for authenticated (https) channels.
//!
//! `cargo run -p mpns-hyper --example reqwest` starts the emulator with mutual
//! TLS and sends a toast to an http and an https channel; `send_toast` and
//! `client` are the parts to copy.

use mpns_proto::{ChannelUri, Notification, Options, Outcome, Request, Response, Toast, classify};

/// Sends one toast and classifies MPNS's answer.
pub(crate) async fn send_toast(
    client: &reqwest::Client,
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
    let request = reqwest::Request::try_from(request).map_err(|e| e.to_string())?;
    // reqwest hands back 4xx/5xx answers as responses: nothing to configure.
    let response = client
        .execute(request)
        .await
        .map_err(|e| format!("no response: {e}"))?;
    let status = response.status();
    Ok(classify(&Response::from_header_map(
        status,
        response.headers(),
    )))
}

/// A client that trusts `ca_pem` only and shows the certificate and key in
/// `identity_pem` (both PEM, one after the other) to https channels.
pub(crate) fn client(ca_pem: &str, identity_pem: &str) -> Result<reqwest::Client, reqwest::Error> {
    // rustls with the `ring` provider, as the rest of this workspace uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes())?])
        .identity(reqwest::Identity::from_pem(identity_pem.as_bytes())?)
        .build()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use mpns_hyper::emulator::{Emulator, EmulatorConfig, TlsConfig};
    use mpns_hyper::pki::TestPki;

    let pki = TestPki::generate()?;
    let emulator = Emulator::spawn(EmulatorConfig {
        tls: Some(TlsConfig::from_test_pki(&pki)),
        ..EmulatorConfig::default()
    })?;
    let identity = format!("{}{}", pki.client_cert_pem, pki.client_key_pem);
    let client = client(&pki.ca_cert_pem, &identity)?;
    let https = emulator
        .secure_channel_url("SECURE")
        .ok_or("no https listener")?;
    for channel in [emulator.channel_url("PHONE"), https] {
        let outcome = send_toast(&client, &channel, "Hello from reqwest").await?;
        println!("{channel}: {outcome:?}");
    }
    Ok(())
}

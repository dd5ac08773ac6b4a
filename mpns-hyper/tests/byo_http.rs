//! The bring-your-own-HTTP examples (`examples/reqwest.rs`, `ureq.rs`,
//! `tcp_stream.rs`), run against the emulator as a user runs them: the
//! notification arrives as sent, and a 404 Expired comes back as the
//! `Expired` outcome, not as a client error.

use mpns_hyper::emulator::{Behaviour, Emulator, EmulatorConfig, TlsConfig};
use mpns_hyper::pki::TestPki;
use mpns_proto::Outcome;

#[allow(dead_code)]
#[path = "../examples/reqwest.rs"]
mod reqwest_example;
#[allow(dead_code)]
#[path = "../examples/tcp_stream.rs"]
mod tcp_stream_example;
#[allow(dead_code)]
#[path = "../examples/ureq.rs"]
mod ureq_example;

fn emulator(tls: Option<&TestPki>) -> Emulator {
    let emulator = Emulator::spawn(EmulatorConfig {
        tls: tls.map(TlsConfig::from_test_pki),
        ..EmulatorConfig::default()
    })
    .unwrap();
    emulator.set_behaviour("GONE", Behaviour::Expired);
    emulator.set_behaviour("FULL", Behaviour::QueueFull(1));
    emulator
}

/// What the emulator received on `channel_id`: the toast's first text.
fn received_text(emulator: &Emulator, channel_id: &str) -> Vec<String> {
    emulator
        .accepted()
        .into_iter()
        .filter(|r| r.channel_id == channel_id)
        .map(|r| format!("{:?}", r.parsed))
        .collect()
}

fn is_accepted(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Accepted { .. })
}

#[test]
fn ureq_keeps_4xx_answers_as_responses() {
    let emulator = emulator(None);
    let agent = ureq_example::agent();
    let sent = ureq_example::send_toast(&agent, &emulator.channel_url("PHONE"), "via ureq");
    assert!(is_accepted(&sent.unwrap()));
    assert_eq!(received_text(&emulator, "PHONE").len(), 1);
    assert!(received_text(&emulator, "PHONE")[0].contains("via ureq"));
    let gone = ureq_example::send_toast(&agent, &emulator.channel_url("GONE"), "x").unwrap();
    assert_eq!(gone, Outcome::Expired);
    let full = ureq_example::send_toast(&agent, &emulator.channel_url("FULL"), "x").unwrap();
    assert!(matches!(full, Outcome::Retry { .. }), "{full:?}");
}

#[test]
fn ureq_with_its_defaults_loses_the_status_headers() {
    // Why the example turns `http_status_as_error` off: with ureq's default,
    // a 404 Expired is an error that carries no headers.
    let emulator = emulator(None);
    let agent = ureq::Agent::new_with_defaults();
    let err = ureq_example::send_toast(&agent, &emulator.channel_url("GONE"), "x").unwrap_err();
    assert!(err.contains("404"), "{err}");
}

#[tokio::test]
async fn reqwest_sends_over_http_and_over_mutual_tls() {
    let pki = TestPki::generate().unwrap();
    let emulator = emulator(Some(&pki));
    let identity = format!("{}{}", pki.client_cert_pem, pki.client_key_pem);
    let client = reqwest_example::client(&pki.ca_cert_pem, &identity).unwrap();
    let http = emulator.channel_url("PHONE");
    let https = emulator.secure_channel_url("SECURE").unwrap();
    for (id, channel) in [("PHONE", &http), ("SECURE", &https)] {
        let outcome = reqwest_example::send_toast(&client, channel, "via reqwest")
            .await
            .unwrap();
        assert!(is_accepted(&outcome), "{channel}: {outcome:?}");
        let got = received_text(&emulator, id);
        assert_eq!(got.len(), 1, "{id}");
        assert!(got[0].contains("via reqwest"), "{got:?}");
    }
    let gone = reqwest_example::send_toast(&client, &emulator.channel_url("GONE"), "x")
        .await
        .unwrap();
    assert_eq!(gone, Outcome::Expired);
}

#[tokio::test]
async fn reqwest_without_the_client_certificate_is_refused_on_https() {
    let pki = TestPki::generate().unwrap();
    let emulator = emulator(Some(&pki));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pki.ca_cert_pem.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let https = emulator.secure_channel_url("SECURE").unwrap();
    let outcome = reqwest_example::send_toast(&client, &https, "x")
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::Rejected { status: 403, .. }),
        "{outcome:?}"
    );
    assert!(received_text(&emulator, "SECURE").is_empty());
}

#[test]
fn a_plain_tcp_stream_with_the_core_reader() {
    let emulator = emulator(None);
    let sent = tcp_stream_example::send_toast(&emulator.channel_url("PHONE"), "over tcp");
    assert!(is_accepted(&sent.unwrap()));
    assert!(received_text(&emulator, "PHONE")[0].contains("over tcp"));
    let gone = tcp_stream_example::send_toast(&emulator.channel_url("GONE"), "x").unwrap();
    assert_eq!(gone, Outcome::Expired);
}

//! Both transports through a `CONNECT` proxy written here over tokio, end to
//! end against the emulator: http and https (mutual TLS) channels, tunnels
//! kept alive, `NO_PROXY`, credentials, a refusing proxy, and a certificate
//! the client does not trust. Proxy settings are passed explicitly: nothing
//! here reads the environment.

use std::sync::{Arc, Mutex};

use mpns_hyper::client::{ClientConfig, Identity, OneShotError};
use mpns_hyper::emulator::{Emulator, EmulatorConfig, TlsConfig};
use mpns_hyper::pki::TestPki;
use mpns_hyper::proxy::{Proxy, ProxyConfig};
use mpns_hyper::transport::{AnyClient, Transport, TransportKind};
use mpns_proto::sender::TransportError;
use mpns_proto::{Notification, Options, Outcome, Toast};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[macro_use]
mod common;

fn toast(text: &str) -> Notification<'_> {
    Notification::Toast(Toast {
        text1: Some(text),
        ..Toast::default()
    })
}

both_transports!(
    http_channels_tunnel_through_the_proxy_and_keep_the_tunnel,
    https_channels_tunnel_with_mutual_tls,
    no_proxy_hosts_are_reached_directly,
    credentials_go_to_the_proxy_only,
    a_refusing_proxy_is_a_transport_failure_with_its_answer,
    an_untrusted_certificate_through_the_proxy_is_tls,
);

/// What the test proxy saw: one entry per `CONNECT`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    authority: String,
    authorization: Option<String>,
}

/// A `CONNECT`-only proxy on loopback; `refuse` answers every request with
/// that status line instead of opening a tunnel.
async fn proxy(refuse: Option<&'static str>) -> (Proxy, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(serve(client, log.clone(), refuse));
        }
    });
    (
        Proxy::parse(&format!("http://{addr}"), "test").unwrap(),
        seen,
    )
}

async fn serve(mut client: TcpStream, seen: Arc<Mutex<Vec<Seen>>>, refuse: Option<&str>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await.unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let mut lines = head.split("\r\n");
    let request: Vec<&str> = lines.next().unwrap().split(' ').collect();
    assert_eq!(request[0], "CONNECT", "{head}");
    let authorization = lines
        .filter_map(|l| l.split_once(": "))
        .find(|(n, _)| n.eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, v)| v.to_string());
    seen.lock().unwrap().push(Seen {
        authority: request[1].to_string(),
        authorization,
    });
    if let Some(status) = refuse {
        let _ = client
            .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
            .await;
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(request[1]).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .unwrap();
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

fn client(kind: TransportKind, proxy: ProxyConfig) -> AnyClient {
    AnyClient::new(
        kind,
        ClientConfig {
            proxy,
            ..ClientConfig::default()
        },
    )
    .unwrap()
}

/// The `host:port` of a channel URL.
fn authority(url: &str) -> String {
    url.split("://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string()
}

async fn http_channels_tunnel_through_the_proxy_and_keep_the_tunnel(kind: TransportKind) {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    let (p, seen) = proxy(None).await;
    let client = client(kind, ProxyConfig::all(p));
    let channel = emulator.channel_url("via-proxy");
    for i in 0..10 {
        let sent = client
            .send(&channel, &toast(&i.to_string()), &Options::default())
            .await
            .unwrap();
        assert!(matches!(sent.outcome, Outcome::Accepted { .. }), "{sent:?}");
    }
    assert_eq!(emulator.accepted().len(), 10);
    let seen = seen.lock().unwrap().clone();
    // Tunnels are pooled like connections (hyper-util's pool may race a
    // second or third one open, as in end_to_end.rs).
    let most = match kind {
        TransportKind::Direct => 1,
        TransportKind::Hyper => 4,
    };
    assert!(!seen.is_empty() && seen.len() <= most, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.authority == authority(&channel) && s.authorization.is_none()),
        "{seen:?}"
    );
    // Every connection the emulator saw came through the proxy.
    assert_eq!(emulator.stats().connections, seen.len() as u64);
}

fn pki_client(kind: TransportKind, pki: &TestPki, proxy: ProxyConfig) -> AnyClient {
    AnyClient::new(
        kind,
        ClientConfig {
            identity: Some(
                Identity::from_pem(
                    pki.client_cert_pem.as_bytes(),
                    pki.client_key_pem.as_bytes(),
                )
                .unwrap(),
            ),
            extra_roots_pem: vec![pki.ca_cert_pem.clone().into_bytes()],
            proxy,
            ..ClientConfig::default()
        },
    )
    .unwrap()
}

async fn https_channels_tunnel_with_mutual_tls(kind: TransportKind) {
    let pki = TestPki::generate().unwrap();
    let emulator = Emulator::spawn(EmulatorConfig {
        tls: Some(TlsConfig::from_test_pki(&pki)),
        ..EmulatorConfig::default()
    })
    .unwrap();
    let (p, seen) = proxy(None).await;
    // Only https goes through the proxy here: the http channel goes direct.
    let client = pki_client(
        kind,
        &pki,
        ProxyConfig {
            https: Some(p),
            ..ProxyConfig::default()
        },
    );
    let secure = emulator.secure_channel_url("secure").unwrap();
    for i in 0..3 {
        let sent = client
            .send(&secure, &toast(&i.to_string()), &Options::default())
            .await
            .unwrap();
        assert!(matches!(sent.outcome, Outcome::Accepted { .. }), "{sent:?}");
    }
    let sent = client
        .send(
            &emulator.channel_url("plain"),
            &toast("p"),
            &Options::default(),
        )
        .await
        .unwrap();
    assert!(matches!(sent.outcome, Outcome::Accepted { .. }), "{sent:?}");
    let accepted = emulator.accepted();
    assert_eq!(accepted.len(), 4);
    assert!(accepted.iter().filter(|a| a.secure).count() == 3);
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "{seen:?}");
    assert!(
        seen.iter().all(|s| s.authority == authority(&secure)),
        "{seen:?}"
    );
    // Every TLS handshake came through a tunnel. hyper-util may race a
    // connect (a tunnel) against a connection coming back idle and drop or
    // finish it later, so a tunnel may not have its handshake yet.
    let handshakes = emulator.stats().tls_handshakes;
    assert!(
        handshakes >= 1 && handshakes <= seen.len() as u64,
        "{handshakes} handshakes, tunnels {seen:?}"
    );
    if matches!(kind, TransportKind::Direct) {
        assert_eq!(handshakes, seen.len() as u64);
    }
}

async fn no_proxy_hosts_are_reached_directly(kind: TransportKind) {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    let (p, seen) = proxy(None).await;
    // As NO_PROXY=127.0.0.1 would give (parsing: src/proxy.rs's unit tests).
    let config = ProxyConfig::from_vars(|name| match name {
        "NO_PROXY" => Some("localhost, 127.0.0.1".into()),
        _ => None,
    })
    .unwrap();
    let client = client(
        kind,
        ProxyConfig {
            http: Some(p),
            ..config
        },
    );
    let sent = client
        .send(
            &emulator.channel_url("direct"),
            &toast("d"),
            &Options::default(),
        )
        .await
        .unwrap();
    assert!(matches!(sent.outcome, Outcome::Accepted { .. }), "{sent:?}");
    assert!(seen.lock().unwrap().is_empty());
}

async fn credentials_go_to_the_proxy_only(kind: TransportKind) {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    let (p, seen) = proxy(None).await;
    let (host, port) = p.address();
    let with_user = Proxy::parse(&format!("http://ops:s3cret@{host}:{port}"), "test").unwrap();
    let client = client(kind, ProxyConfig::all(with_user));
    let sent = client
        .send(
            &emulator.channel_url("auth"),
            &toast("a"),
            &Options::default(),
        )
        .await
        .unwrap();
    assert!(matches!(sent.outcome, Outcome::Accepted { .. }), "{sent:?}");
    let seen = seen.lock().unwrap().clone();
    // base64("ops:s3cret")
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some("Basic b3BzOnMzY3JldA==")
    );
}

async fn a_refusing_proxy_is_a_transport_failure_with_its_answer(kind: TransportKind) {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    let (p, seen) = proxy(Some("407 Proxy Authentication Required")).await;
    let client = client(kind, ProxyConfig::all(p));
    let err = client
        .send(&emulator.channel_url("x"), &toast("x"), &Options::default())
        .await
        .unwrap_err();
    let OneShotError::Transport(failure) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(failure.kind(), TransportError::Other, "{err}");
    assert!(
        failure
            .detail()
            .contains("407 Proxy Authentication Required"),
        "{}",
        failure.detail()
    );
    // The proxy's refusal is among the error's sources, typed.
    let mut source = std::error::Error::source(&err);
    let mut found = false;
    while let Some(s) = source {
        found |= s.is::<mpns_hyper::proxy::TunnelRefused>();
        source = match s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner),
            None => s.source(),
        };
    }
    assert!(found, "{err:?}");
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(emulator.stats().requests, 0);
}

async fn an_untrusted_certificate_through_the_proxy_is_tls(kind: TransportKind) {
    let pki = TestPki::generate().unwrap();
    let emulator = Emulator::spawn(EmulatorConfig {
        tls: Some(TlsConfig::from_test_pki(&pki)),
        ..EmulatorConfig::default()
    })
    .unwrap();
    let (p, seen) = proxy(None).await;
    // No extra roots: the emulator's CA is not trusted.
    let client = client(kind, ProxyConfig::all(p));
    let err = client
        .send(
            &emulator.secure_channel_url("s").unwrap(),
            &toast("x"),
            &Options::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OneShotError::Transport(f) if f.kind() == TransportError::Tls),
        "{err:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

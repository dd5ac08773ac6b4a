//! Feature `nal`: `NalConnector` over a std implementation of
//! embedded-nal-async's `TcpConnect` and `Dns` (tokio's `TcpStream` through
//! embedded-io-adapters, tokio's resolver), against mpns-hyper's emulator.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use embedded_io_adapters::tokio_1::FromTokio;
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use mpns_embedded::Gateway;
use mpns_embedded::asynch::{Connector, StreamClient};
use mpns_embedded::nal::NalConnector;
use mpns_hyper::emulator::{Emulator, EmulatorConfig};
use mpns_proto::sender::{Event, Finished, Sender, SenderConfig, TransportError};
use mpns_proto::{ChannelUri, Instant, Notification, Options, Toast};

/// TCP through tokio, remembering where it connected.
#[derive(Default)]
struct TokioStack {
    connected: Mutex<Vec<SocketAddr>>,
}

impl TcpConnect for TokioStack {
    type Error = std::io::Error;
    type Connection<'a> = FromTokio<tokio::net::TcpStream>;

    async fn connect<'a>(
        &'a self,
        remote: SocketAddr,
    ) -> Result<Self::Connection<'a>, Self::Error> {
        let stream = tokio::net::TcpStream::connect(remote).await?;
        self.connected.lock().unwrap().push(remote);
        Ok(FromTokio::new(stream))
    }
}

/// Names through tokio's resolver, remembering what was asked.
#[derive(Default)]
struct TokioDns {
    asked: Mutex<Vec<String>>,
}

impl Dns for TokioDns {
    type Error = std::io::Error;

    async fn get_host_by_name(
        &self,
        host: &str,
        addr_type: AddrType,
    ) -> Result<IpAddr, Self::Error> {
        self.asked.lock().unwrap().push(host.to_string());
        tokio::net::lookup_host((host, 0))
            .await?
            .map(|a| a.ip())
            .find(|ip| match addr_type {
                AddrType::IPv4 => ip.is_ipv4(),
                AddrType::IPv6 => ip.is_ipv6(),
                AddrType::Either => true,
            })
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }

    async fn get_host_by_address(
        &self,
        _addr: IpAddr,
        _result: &mut [u8],
    ) -> Result<usize, Self::Error> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

fn toast(text: &str) -> Notification<'_> {
    Notification::Toast(Toast {
        text1: Some("nal"),
        text2: Some(text),
        ..Toast::default()
    })
}

#[tokio::test]
async fn a_gateway_sends_through_the_nal_connector_by_name_and_by_address() {
    let emu = Emulator::spawn(EmulatorConfig::default()).unwrap();
    let by_address = emu.channel_url("by-address");
    assert!(by_address.starts_with("http://127.0.0.1:"), "{by_address}");
    // The same emulator by name: the connector asks the resolver.
    let by_name = by_address
        .replace("127.0.0.1", "localhost")
        .replace("by-address", "by-name");
    let (tcp, dns) = (TokioStack::default(), TokioDns::default());
    let connector = NalConnector::new(&tcp, &dns).with_addr_type(AddrType::IPv4);
    let sender = Sender::new(SenderConfig::default(), vec![0u8; 8 * 1024]);
    let mut buf = [0u8; 1024];
    let mut gw: Gateway<'_, Vec<u8>, StreamClient<_, 2>, 8, 8> =
        Gateway::new(sender, StreamClient::new(connector), &mut buf);
    for (i, url) in [&by_address, &by_name, &by_address].into_iter().enumerate() {
        let channel = ChannelUri::parse(url).unwrap();
        gw.submit(
            Instant::ZERO,
            channel,
            &toast(&i.to_string()),
            &Options::default(),
        )
        .unwrap();
    }
    gw.poll_async(Instant::ZERO).await;
    let events: Vec<Event> = std::iter::from_fn(|| gw.poll_event()).collect();
    let accepted = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Finished {
                    result: Finished::Accepted { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(accepted, 3, "{events:?}");
    gw.transport().close_all().await;
    drop(gw);

    let mut ids: Vec<String> = emu.accepted().into_iter().map(|r| r.channel_id).collect();
    ids.sort();
    assert_eq!(ids, ["by-address", "by-address", "by-name"]);
    // One lookup, for the name; two connections (one kept per host key).
    assert_eq!(*dns.asked.lock().unwrap(), ["localhost"]);
    let connected = tcp.connected.lock().unwrap().clone();
    assert_eq!(connected.len(), 2, "{connected:?}");
    assert!(
        connected.iter().all(|a| *a == emu.http_addr()),
        "{connected:?}"
    );
}

#[tokio::test]
async fn https_is_refused_as_tls_and_a_closed_port_as_refused() {
    let (tcp, dns) = (TokioStack::default(), TokioDns::default());
    let mut connector = NalConnector::new(&tcp, &dns);
    assert_eq!(
        connector.connect("localhost", 443, true).await.err(),
        Some(TransportError::Tls)
    );
    assert!(dns.asked.lock().unwrap().is_empty());
    // A port nothing listens on: bind one, learn it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert_eq!(
        connector.connect("127.0.0.1", port, false).await.err(),
        Some(TransportError::Refused)
    );
    assert!(tcp.connected.lock().unwrap().is_empty());
}

//! The emulator over real loopback sockets, driven by a plain client written
//! here: `std::net::TcpStream` (or rustls' `StreamOwned`) writing the exact
//! bytes of `mpns_proto::Request::write_http`, or hand-made bytes, and reading
//! answers with `mpns_proto::ResponseReader`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mpns_hyper::emulator::schema::{
    ReceivedField, ReceivedPayload, ReceivedSound, ReceivedTemplate,
};
use mpns_hyper::emulator::{Behaviour, Emulator, EmulatorConfig, TlsConfig};
use mpns_hyper::pki::{TestPki, other_ca_client};
use mpns_proto::{
    ChannelUri, ConnectionReuse, DeviceStatus, HeaderValue, MessageId, Notification,
    NotificationStatus, Options, ReaderLimits, Request, RequestKind, Response, ResponseReader,
    SubscriptionStatus,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

// ---- A plain HTTP/1.1 client ------------------------------------------------

/// One answer: the parsed MPNS view, the raw head, and whether the connection stays.
#[derive(Debug)]
struct Reply {
    response: Response,
    head: String,
    connection: ConnectionReuse,
}

impl Reply {
    fn status(&self) -> u16 {
        self.response.status
    }

    fn has_header(&self, name: &str) -> bool {
        let name = format!("\r\n{}:", name.to_ascii_lowercase());
        self.head.to_ascii_lowercase().contains(&name)
    }

    fn header(&self, name: &str) -> Option<String> {
        let name = format!("{}:", name.to_ascii_lowercase());
        self.head.split("\r\n").find_map(|line| {
            line.to_ascii_lowercase()
                .starts_with(&name)
                .then(|| line[name.len()..].trim().to_owned())
        })
    }

    /// Status and the three status headers, as known values.
    fn statuses(
        &self,
    ) -> (
        u16,
        Option<NotificationStatus>,
        Option<SubscriptionStatus>,
        Option<DeviceStatus>,
    ) {
        (
            self.response.status,
            self.response.notification.known(),
            self.response.subscription.known(),
            self.response.device.known(),
        )
    }
}

struct Client<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: Read + Write> Client<S> {
    fn new(stream: S) -> Self {
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes `request` and reads one answer.
    fn send(&mut self, request: &[u8]) -> io::Result<Reply> {
        self.stream.write_all(request)?;
        self.stream.flush()?;
        self.read_reply()
    }

    fn read_reply(&mut self) -> io::Result<Reply> {
        let mut reader: ResponseReader = ResponseReader::new(ReaderLimits::DEFAULT);
        let mut chunk = [0u8; 4096];
        loop {
            let progress = reader
                .feed(&self.buf)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}")))?;
            if let Some(done) = progress.done {
                let head = String::from_utf8_lossy(&self.buf[..progress.consumed]).into_owned();
                self.buf.drain(..progress.consumed);
                return Ok(Reply {
                    response: done.response,
                    head,
                    connection: done.connection,
                });
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                let head = String::from_utf8_lossy(&self.buf).into_owned();
                return match reader.finish() {
                    Ok(Some(done)) => Ok(Reply {
                        response: done.response,
                        head,
                        connection: done.connection,
                    }),
                    _ => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("connection closed mid-response after {:?}", head),
                    )),
                };
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn tcp(emulator: &Emulator) -> Client<TcpStream> {
    let stream = TcpStream::connect(emulator.http_addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    Client::new(stream)
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS client trusting `ca_pem`, with the client certificate `identity` if any.
fn tls(
    emulator: &Emulator,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
) -> io::Result<Client<TlsStream>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let stream = TcpStream::connect(emulator.https_addr().expect("https"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(Client::new(rustls::StreamOwned::new(conn, stream)))
}

fn tls_ok(emulator: &Emulator, pki: &TestPki) -> Client<TlsStream> {
    tls(
        emulator,
        &pki.ca_cert_pem,
        Some((&pki.client_cert_pem, &pki.client_key_pem)),
    )
    .unwrap()
}

// ---- Requests -----------------------------------------------------------------

/// The exact bytes the core writes for `notification` to `url`.
fn encode(url: &str, notification: &Notification<'_>, options: &Options<'_>) -> Vec<u8> {
    let channel = ChannelUri::parse(url).unwrap();
    let request = Request::notification(channel, notification, options).unwrap();
    let mut buf = vec![0; request.http_len()];
    let n = request.write_http(&mut buf).unwrap();
    assert_eq!(n, buf.len());
    buf
}

fn toast(text: &str) -> Notification<'_> {
    Notification::Toast(mpns_proto::Toast {
        text1: Some(text),
        ..Default::default()
    })
}

fn toast_to(url: &str, text: &str) -> Vec<u8> {
    encode(url, &toast(text), &Options::default())
}

/// A hand-made request: `Host` and `Content-Length` added, `headers` as given.
fn post(path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

const TOAST_HEADERS: &[(&str, &str)] = &[
    ("Content-Type", "text/xml"),
    ("X-WindowsPhone-Target", "toast"),
    ("X-NotificationClass", "2"),
];

const TOAST_BASIC: &str = r#"<?xml version="1.0" encoding="utf-8"?><wp:Notification xmlns:wp="WPNotification"><wp:Toast><wp:Text1>Bold Text</wp:Text1><wp:Text2>Normal text</wp:Text2><wp:Param>/Page2.xaml?NavigatedFrom=Toast</wp:Param></wp:Toast></wp:Notification>"#;
const TOAST_X: &str = r#"<?xml version="1.0" encoding="utf-8"?><wp:Notification xmlns:wp="WPNotification"><wp:Toast><wp:Text1>x</wp:Text1></wp:Toast></wp:Notification>"#;
const TILE_COUNT0: &str = r#"<?xml version="1.0" encoding="utf-8"?><wp:Notification xmlns:wp="WPNotification"><wp:Tile><wp:Count>0</wp:Count><wp:Title>Zero</wp:Title></wp:Tile></wp:Notification>"#;

fn spawn() -> Emulator {
    Emulator::spawn(EmulatorConfig::default()).expect("spawn")
}

fn spawn_with(config: EmulatorConfig) -> Emulator {
    Emulator::spawn(config).expect("spawn")
}

fn spawn_tls() -> (Emulator, TestPki) {
    let pki = TestPki::generate().unwrap();
    let emulator = spawn_with(EmulatorConfig {
        tls: Some(TlsConfig::from_test_pki(&pki)),
        ..EmulatorConfig::default()
    });
    (emulator, pki)
}

const RECEIVED: (
    u16,
    Option<NotificationStatus>,
    Option<SubscriptionStatus>,
    Option<DeviceStatus>,
) = (
    200,
    Some(NotificationStatus::Received),
    Some(SubscriptionStatus::Active),
    Some(DeviceStatus::Connected),
);

// ---- Vectors --------------------------------------------------------------------

/// The request vectors, kept once for the workspace in mpns-proto
/// (`tests/vectors` links there; their format: `tests/vectors/README.md`).
const VECTORS: &str = include_str!("vectors/requests.jsonl");

/// One vector the encoder accepts.
struct VectorRequest {
    name: String,
    /// The expected headers but `host` and `content-length`, which [`post`] writes.
    headers: Vec<(String, String)>,
    body: String,
}

/// Every vector the encoder accepts, in file order.
fn vector_requests() -> Vec<VectorRequest> {
    VECTORS
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter_map(|line| {
            let case: serde_json::Value = serde_json::from_str(line).expect("a JSON case");
            let expected = case["expected"].as_object()?;
            let headers = expected["headers"]
                .as_object()
                .expect("headers")
                .iter()
                .filter(|(name, _)| !matches!(name.as_str(), "host" | "content-length"))
                .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
                .collect();
            Some(VectorRequest {
                name: case["case"].as_str().expect("case name").to_owned(),
                headers,
                body: expected["body"].as_str().expect("body").to_owned(),
            })
        })
        .collect()
}

/// The bodies and headers of the request vectors, all accepted.
#[test]
fn vector_bodies_are_accepted_and_recorded() {
    let emulator = spawn();
    let mut client = tcp(&emulator);
    let path = "/throttledthirdparty/01.00/AAGvdLTQ?x=1&y=2";
    let cases = vector_requests();
    let names: Vec<_> = cases.iter().map(|case| case.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "toast_basic",
            "toast_delivery_900_msgid",
            "tile_standard_count0",
            "tile_standard_clear",
            "tile_flip_full",
            "raw_text",
            "raw_voip",
        ]
    );
    for case in &cases {
        let headers: Vec<(&str, &str)> = case
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let reply = client
            .send(&post(path, &headers, case.body.as_bytes()))
            .unwrap();
        assert_eq!(reply.statuses(), RECEIVED, "{}\n{}", case.name, reply.head);
        assert_eq!(reply.connection, ConnectionReuse::KeepAlive);
    }
    let records = emulator.accepted();
    assert_eq!(records.len(), 7);
    assert!(
        records
            .iter()
            .all(|r| r.channel_id == "AAGvdLTQ" && !r.secure)
    );
    for (record, case) in records.iter().zip(&cases) {
        assert_eq!(record.body, case.body.as_bytes());
    }
    let kinds: Vec<_> = records
        .iter()
        .map(|r| (r.kind, r.notification_class))
        .collect();
    assert_eq!(
        kinds,
        [
            (RequestKind::Toast, 2),
            (RequestKind::Toast, 22),
            (RequestKind::Tile, 1),
            (RequestKind::Tile, 1),
            (RequestKind::Tile, 1),
            (RequestKind::Raw, 3),
            (RequestKind::Raw, 4),
        ]
    );

    let Some(ReceivedPayload::Toast(t)) = &records[0].parsed else {
        panic!("{:?}", records[0].parsed)
    };
    assert_eq!(t.text1.as_deref(), Some("Bold Text"));
    assert_eq!(t.text2.as_deref(), Some("Normal text"));
    assert_eq!(t.param.as_deref(), Some("/Page2.xaml?NavigatedFrom=Toast"));
    assert_eq!(t.sound, None);

    assert_eq!(
        records[1].message_id.as_deref(),
        Some("3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f")
    );

    let Some(ReceivedPayload::Tile(t)) = &records[2].parsed else {
        panic!()
    };
    assert_eq!(t.template, ReceivedTemplate::Standard);
    assert_eq!(t.count, Some(ReceivedField::Set(0)));
    assert_eq!(t.title, Some(ReceivedField::Set("Zero".into())));
    assert_eq!(t.version, None);

    let Some(ReceivedPayload::Tile(t)) = &records[3].parsed else {
        panic!()
    };
    assert_eq!(t.count, Some(ReceivedField::Clear));
    assert_eq!(t.back_content, Some(ReceivedField::Clear));
    assert_eq!(t.title, Some(ReceivedField::Set("Keep".into())));

    let Some(ReceivedPayload::Tile(t)) = &records[4].parsed else {
        panic!()
    };
    assert_eq!(t.template, ReceivedTemplate::FlipTile);
    assert_eq!(t.version.as_deref(), Some("2.0"));
    assert_eq!(t.id.as_deref(), Some("/F.xaml"));
    assert_eq!(t.count, Some(ReceivedField::Set(12)));
    assert_eq!(
        t.wide_back_content,
        Some(ReceivedField::Set("wide back".into()))
    );
    assert_eq!(t.back_title, Some(ReceivedField::Set("bt".into())));

    assert_eq!(records[5].parsed, None);
    let stats = emulator.stats();
    assert_eq!((stats.requests, stats.accepted, stats.rejected), (7, 7, 0));
    assert_eq!(stats.connections, 1);
}

/// What the core encodes for every template (and escaping) the emulator accepts and reads back.
#[test]
fn core_encodings_round_trip() {
    use mpns_proto::{CycleTile, Field as F, IconicTile, Raw, Tile, TileTemplate as T};
    let emulator = spawn();
    let url = emulator.channel_url("ROUND");
    let mut client = tcp(&emulator);
    let mut cycle = CycleTile {
        title: F::Set("Cycle"),
        ..Default::default()
    };
    cycle.cycle_images[0] = F::Set("/1.png");
    cycle.cycle_images[8] = F::Clear;
    let notifications = [
        Notification::Toast(mpns_proto::Toast {
            text1: Some("McDonald's & <Co> \"quoted\""),
            text2: Some("line\ttab"),
            param: Some("/P.xaml?a=1&b=2"),
            sound: Some(mpns_proto::Sound::Silent),
        }),
        Notification::Tile(Tile {
            id: Some("/S.xaml?id=1&x=\"y\""),
            template: T::Iconic(IconicTile {
                icon_image: F::Set("/i.png"),
                wide_content1: F::Set("w1"),
                count: F::Set(99),
                background_color: F::Set("#FF112233"),
                small_icon_image: F::Clear,
                ..Default::default()
            }),
        }),
        Notification::Tile(Tile {
            id: None,
            template: T::Cycle(cycle),
        }),
        Notification::Raw(Raw {
            body: &[0, 159, 146, 150],
            voip: false,
        }),
    ];
    for n in &notifications {
        let reply = client.send(&encode(&url, n, &Options::default())).unwrap();
        assert_eq!(reply.statuses(), RECEIVED, "{n:?}\n{}", reply.head);
    }
    let records = emulator.accepted();
    let Some(ReceivedPayload::Toast(t)) = &records[0].parsed else {
        panic!()
    };
    assert_eq!(t.text1.as_deref(), Some("McDonald's & <Co> \"quoted\""));
    assert_eq!(t.text2.as_deref(), Some("line\ttab"));
    assert_eq!(t.param.as_deref(), Some("/P.xaml?a=1&b=2"));
    assert_eq!(t.sound, Some(ReceivedSound::Silent));
    let Some(ReceivedPayload::Tile(t)) = &records[1].parsed else {
        panic!()
    };
    assert_eq!(t.template, ReceivedTemplate::IconicTile);
    assert_eq!(t.id.as_deref(), Some("/S.xaml?id=1&x=\"y\""));
    assert_eq!(t.count, Some(ReceivedField::Set(99)));
    assert_eq!(
        t.background_color,
        Some(ReceivedField::Set("#FF112233".into()))
    );
    assert_eq!(t.small_icon_image, Some(ReceivedField::Clear));
    let Some(ReceivedPayload::Tile(t)) = &records[2].parsed else {
        panic!()
    };
    assert_eq!(t.template, ReceivedTemplate::CycleTile);
    assert_eq!(t.cycle_images[0], Some(ReceivedField::Set("/1.png".into())));
    assert_eq!(t.cycle_images[8], Some(ReceivedField::Clear));
    assert_eq!(t.cycle_images[1], None);
    assert_eq!(records[3].body, [0, 159, 146, 150]);
    assert_eq!(records[3].kind, RequestKind::Raw);
}

// ---- Refusals ------------------------------------------------------------------

#[test]
fn malformed_requests_get_their_status() {
    let emulator = spawn();
    let path = "/throttledthirdparty/01.00/BAD";
    let toast = TOAST_X.as_bytes();
    let tile_h: &[(&str, &str)] = &[
        ("Content-Type", "text/xml"),
        ("X-WindowsPhone-Target", "token"),
    ];
    let big_toast = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><wp:Notification xmlns:wp="WPNotification"><wp:Toast><wp:Text1>{}</wp:Text1></wp:Toast></wp:Notification>"#,
        "a".repeat(3000)
    );
    let long_header = "x".repeat(1024);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "GET",
            b"GET /throttledthirdparty/01.00/BAD HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            405,
        ),
        (
            "PUT",
            post(path, TOAST_HEADERS, toast)
                .splitn(2, |&b| b == b' ')
                .nth(1)
                .map(|rest| [b"PUT ".as_slice(), rest].concat())
                .unwrap(),
            405,
        ),
        (
            "target tile",
            post(
                path,
                &[("Content-Type", "text/xml"), ("X-WindowsPhone-Target", "tile")],
                TILE_COUNT0.as_bytes(),
            ),
            400,
        ),
        (
            "target Toast",
            post(
                path,
                &[("Content-Type", "text/xml"), ("X-WindowsPhone-Target", "Toast")],
                toast,
            ),
            400,
        ),
        (
            "class 1 for a toast",
            post(
                path,
                &[
                    ("Content-Type", "text/xml"),
                    ("X-WindowsPhone-Target", "toast"),
                    ("X-NotificationClass", "1"),
                ],
                toast,
            ),
            400,
        ),
        (
            "class 4 for a tile",
            post(
                path,
                &[
                    ("Content-Type", "text/xml"),
                    ("X-WindowsPhone-Target", "token"),
                    ("X-NotificationClass", "4"),
                ],
                TILE_COUNT0.as_bytes(),
            ),
            400,
        ),
        (
            "class 2 for raw",
            post(
                path,
                &[("Content-Type", "text/xml"), ("X-NotificationClass", "2")],
                b"raw",
            ),
            400,
        ),
        (
            "class text",
            post(
                path,
                &[("Content-Type", "text/xml"), ("X-NotificationClass", "three")],
                b"raw",
            ),
            400,
        ),
        (
            "toast body with tile target",
            post(path, tile_h, toast),
            400,
        ),
        (
            "content type",
            post(
                path,
                &[
                    ("Content-Type", "application/xml"),
                    ("X-WindowsPhone-Target", "toast"),
                ],
                toast,
            ),
            400,
        ),
        (
            "no content type",
            post(path, &[("X-WindowsPhone-Target", "toast")], toast),
            400,
        ),
        (
            "bad XML",
            post(
                path,
                TOAST_HEADERS,
                br#"<?xml version="1.0"?><wp:Notification xmlns:wp="WPNotification"><wp:Toast><wp:Text1>a</wp:Toast></wp:Notification>"#,
            ),
            400,
        ),
        (
            "not UTF-8",
            post(path, TOAST_HEADERS, b"<wp:Notification \xff"),
            400,
        ),
        (
            "forbidden char",
            post(
                path,
                TOAST_HEADERS,
                b"<wp:Notification xmlns:wp=\"WPNotification\"><wp:Toast><wp:Text1>a\x01</wp:Text1></wp:Toast></wp:Notification>",
            ),
            400,
        ),
        (
            "wrong schema: unknown element",
            post(
                path,
                TOAST_HEADERS,
                br#"<wp:Notification xmlns:wp="WPNotification"><wp:Toast><wp:Text4>a</wp:Text4></wp:Toast></wp:Notification>"#,
            ),
            400,
        ),
        (
            "wrong schema: namespace",
            post(
                path,
                TOAST_HEADERS,
                br#"<wp:Notification xmlns:wp="urn:other"><wp:Toast><wp:Text1>a</wp:Text1></wp:Toast></wp:Notification>"#,
            ),
            400,
        ),
        (
            "wrong schema: count 100",
            post(
                path,
                tile_h,
                br#"<wp:Notification xmlns:wp="WPNotification"><wp:Tile><wp:Count>100</wp:Count></wp:Tile></wp:Notification>"#,
            ),
            400,
        ),
        (
            "wrong schema: element of another template",
            post(
                path,
                tile_h,
                br#"<wp:Notification xmlns:wp="WPNotification" Version="2.0"><wp:Tile Template="IconicTile"><wp:WideBackContent>x</wp:WideBackContent></wp:Tile></wp:Notification>"#,
            ),
            400,
        ),
        (
            "wrong schema: Version on the standard tile",
            post(
                path,
                tile_h,
                br#"<wp:Notification xmlns:wp="WPNotification" Version="2.0"><wp:Tile><wp:Title>x</wp:Title></wp:Tile></wp:Notification>"#,
            ),
            400,
        ),
        (
            "wrong schema: unknown template",
            post(
                path,
                tile_h,
                br#"<wp:Notification xmlns:wp="WPNotification" Version="2.0"><wp:Tile Template="WideTile"><wp:Title>x</wp:Title></wp:Tile></wp:Notification>"#,
            ),
            400,
        ),
        (
            "wrong schema: color",
            post(
                path,
                tile_h,
                br#"<wp:Notification xmlns:wp="WPNotification" Version="2.0"><wp:Tile Template="IconicTile"><wp:BackgroundColor>#FFF</wp:BackgroundColor></wp:Tile></wp:Notification>"#,
            ),
            400,
        ),
        (
            "wrong schema: empty toast",
            post(
                path,
                TOAST_HEADERS,
                br#"<wp:Notification xmlns:wp="WPNotification"><wp:Toast></wp:Toast></wp:Notification>"#,
            ),
            400,
        ),
        (
            "toast over 3072",
            post(path, TOAST_HEADERS, big_toast.as_bytes()),
            400,
        ),
        (
            "raw over 1024",
            post(path, &[("Content-Type", "text/xml")], &[b'r'; 1025]),
            400,
        ),
        (
            "headers over 1024",
            post(
                path,
                &[
                    ("Content-Type", "text/xml"),
                    ("X-WindowsPhone-Target", "toast"),
                    ("X-Padding", &long_header),
                ],
                toast,
            ),
            400,
        ),
        (
            "message id",
            post(
                path,
                &[
                    ("Content-Type", "text/xml"),
                    ("X-WindowsPhone-Target", "toast"),
                    ("X-MessageID", "3f5c1d0e8a2b4c6d9e7f0a1b2c3d4e5f"),
                ],
                toast,
            ),
            400,
        ),
        (
            "message id repeated",
            post(
                path,
                &[
                    ("Content-Type", "text/xml"),
                    ("X-WindowsPhone-Target", "toast"),
                    ("X-MessageID", "3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f"),
                    ("X-MessageID", "3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f"),
                ],
                toast,
            ),
            400,
        ),
        (
            "callback uri on http",
            post(
                path,
                &[
                    ("Content-Type", "text/xml"),
                    ("X-WindowsPhone-Target", "toast"),
                    ("X-CallbackURI", "https://example.com/cb"),
                ],
                toast,
            ),
            400,
        ),
        (
            "callback registration on http",
            post(
                "/throttledthirdparty/01.00/BAD/callback",
                &[
                    ("Content-Type", "text/xml"),
                    ("X-CallbackURI", "https://example.com/cb"),
                ],
                b"opaque",
            ),
            400,
        ),
        (
            "chunked",
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nX-WindowsPhone-Target: toast\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{TOAST_X}\r\n0\r\n\r\n",
                TOAST_X.len()
            )
            .into_bytes(),
            400,
        ),
        (
            "no content length",
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nX-NotificationClass: 3\r\n\r\n"
            )
            .into_bytes(),
            400,
        ),
        (
            "unthrottled path on http",
            post("/unthrottledthirdparty/01.00/BAD", TOAST_HEADERS, toast),
            404,
        ),
        (
            "nested path",
            post("/throttledthirdparty/01.00/A/B", TOAST_HEADERS, toast),
            404,
        ),
        ("other path", post("/", TOAST_HEADERS, toast), 404),
    ];
    // One connection for all: every refusal keeps the connection usable.
    let mut client = tcp(&emulator);
    for (name, bytes, status) in &cases {
        let reply = client.send(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(reply.status(), *status, "{name}:\n{}", reply.head);
        // Refusals carry the MPNS headers: Dropped / N/A / N/A and the echo.
        assert_eq!(
            reply.response.notification,
            HeaderValue::Known(NotificationStatus::Dropped),
            "{name}"
        );
        assert_eq!(reply.response.subscription, HeaderValue::NotGiven, "{name}");
        assert_eq!(reply.response.message_id, Some(MessageId::NIL), "{name}");
        assert_eq!(
            reply.header("content-length").as_deref(),
            Some("0"),
            "{name}"
        );
        assert!(reply.has_header("x-emulator-reason"), "{name}");
        assert_eq!(reply.connection, ConnectionReuse::KeepAlive, "{name}");
    }
    assert!(emulator.accepted().is_empty());
    let stats = emulator.stats();
    assert_eq!(stats.requests, cases.len() as u64);
    assert_eq!(stats.rejected, cases.len() as u64);
    assert_eq!(stats.accepted, 0);
    assert_eq!(stats.connections, 1);
    // Still serving on the same connection.
    let reply = client.send(&post(path, TOAST_HEADERS, toast)).unwrap();
    assert_eq!(reply.statuses(), RECEIVED);
}

#[test]
fn smaller_limits_apply() {
    let emulator = spawn_with(EmulatorConfig {
        payload_limit: 200,
        raw_limit: 10,
        header_limit: 120,
        ..EmulatorConfig::default()
    });
    let mut client = tcp(&emulator);
    let path = "/throttledthirdparty/01.00/L";
    let raw = |n: usize| post(path, &[("Content-Type", "text/xml")], &vec![b'r'; n]);
    assert_eq!(client.send(&raw(10)).unwrap().status(), 200);
    assert_eq!(client.send(&raw(11)).unwrap().status(), 400);
    assert_eq!(
        client
            .send(&post(path, TOAST_HEADERS, TOAST_X.as_bytes()))
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .send(&post(path, TOAST_HEADERS, TOAST_BASIC.as_bytes()))
            .unwrap()
            .status(),
        400
    );
    let padded = post(
        path,
        &[("Content-Type", "text/xml"), ("X-Pad", &"p".repeat(60))],
        b"r",
    );
    assert_eq!(client.send(&padded).unwrap().status(), 400);
}

#[test]
fn message_id_is_echoed() {
    let emulator = spawn();
    let url = emulator.channel_url("ECHO");
    let mut client = tcp(&emulator);
    let id = MessageId::parse("3F5C1D0E-8A2B-4C6D-9E7F-0A1B2C3D4E5F").unwrap();
    let options = Options {
        message_id: Some(id),
        ..Options::default()
    };
    let reply = client.send(&encode(&url, &toast("hi"), &options)).unwrap();
    assert_eq!(reply.statuses(), RECEIVED);
    assert_eq!(reply.response.message_id, Some(id));
    assert_eq!(
        reply.header("x-messageid").as_deref(),
        Some("3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f")
    );
    // None sent: the all-zero UUID.
    let reply = client.send(&toast_to(&url, "hi")).unwrap();
    assert_eq!(
        reply.header("x-messageid").as_deref(),
        Some("00000000-0000-0000-0000-000000000000")
    );
    // Echoed on refusals and behaviours too.
    emulator.set_behaviour("ECHO", Behaviour::Inactive);
    let reply = client.send(&encode(&url, &toast("hi"), &options)).unwrap();
    assert_eq!(reply.status(), 412);
    assert_eq!(reply.response.message_id, Some(id));
    let records = emulator.accepted();
    assert_eq!(
        records[0].message_id.as_deref(),
        Some("3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f")
    );
    assert_eq!(records[1].message_id, None);
}

// ---- Behaviours ------------------------------------------------------------------

#[test]
fn every_behaviour_answers_as_documented() {
    use DeviceStatus as D;
    use NotificationStatus as N;
    use SubscriptionStatus as S;
    let emulator = spawn();
    let mut client = tcp(&emulator);
    let mut send = |id: &str| {
        client
            .send(&toast_to(&emulator.channel_url(id), "t"))
            .unwrap()
    };

    // Unknown ids are active.
    assert_eq!(send("NEW").statuses(), RECEIVED);

    let fixed = [
        (
            Behaviour::Active,
            (200, Some(N::Received), Some(S::Active), Some(D::Connected)),
        ),
        (
            Behaviour::Expired,
            (404, Some(N::Dropped), Some(S::Expired), Some(D::Connected)),
        ),
        (
            Behaviour::Suppressed,
            (
                200,
                Some(N::Suppressed),
                Some(S::Active),
                Some(D::Connected),
            ),
        ),
        (
            Behaviour::Dropped,
            (200, Some(N::Dropped), Some(S::Active), Some(D::Connected)),
        ),
        (
            Behaviour::Inactive,
            (412, Some(N::Dropped), Some(S::Active), Some(D::Inactive)),
        ),
        (
            Behaviour::RateLimited,
            (406, Some(N::Dropped), Some(S::Active), Some(D::Connected)),
        ),
    ];
    for (i, (behaviour, expected)) in fixed.iter().enumerate() {
        let id = format!("FIXED{i}");
        emulator.set_behaviour(&id, behaviour.clone());
        for _ in 0..3 {
            let reply = send(&id);
            assert_eq!(reply.statuses(), *expected, "{behaviour:?}");
            assert!(reply.has_header("x-messageid"));
        }
    }

    // Counted: QueueFull(2), Unavailable(2).
    emulator.set_behaviour("QF", Behaviour::QueueFull(2));
    for _ in 0..2 {
        let reply = send("QF");
        assert_eq!(
            reply.statuses(),
            (200, Some(N::QueueFull), Some(S::Active), Some(D::Connected))
        );
    }
    assert_eq!(send("QF").statuses(), RECEIVED);

    emulator.set_behaviour("UN", Behaviour::Unavailable(2));
    for _ in 0..2 {
        let reply = send("UN");
        assert_eq!(reply.statuses(), (503, None, None, None));
        assert!(!reply.has_header("x-notificationstatus"));
        assert!(!reply.has_header("x-messageid"));
    }
    assert_eq!(send("UN").statuses(), RECEIVED);

    for code in [400, 401, 403, 405, 429, 500] {
        let id = format!("S{code}");
        emulator.set_behaviour(&id, Behaviour::Status(code));
        let reply = send(&id);
        assert_eq!(reply.statuses(), (code, None, None, None), "{code}");
        assert!(!reply.has_header("x-notificationstatus"));
    }

    let behaviours = emulator.behaviours();
    assert!(behaviours.contains(&("QF".to_owned(), Behaviour::Active)));
    assert!(behaviours.contains(&("UN".to_owned(), Behaviour::Active)));
    assert!(behaviours.contains(&("FIXED1".to_owned(), Behaviour::Expired)));

    // Only the 200 Received answers were recorded.
    let ids: Vec<_> = emulator
        .accepted()
        .into_iter()
        .map(|r| r.channel_id)
        .collect();
    assert_eq!(ids, ["NEW", "FIXED0", "FIXED0", "FIXED0", "QF", "UN"]);
    let stats = emulator.stats();
    // 404 x3, 412 x3, 406 x3, and 400/401/403/405/429.
    assert_eq!(stats.rejected, 9 + 5);
}

#[test]
fn unavailable_for_a_while() {
    let emulator = spawn();
    let mut client = tcp(&emulator);
    let mut send = |id: &str| {
        client
            .send(&toast_to(&emulator.channel_url(id), "a"))
            .unwrap()
    };
    emulator.set_behaviour("LONG", Behaviour::UnavailableFor(Duration::from_secs(600)));
    emulator.set_behaviour("FOREVER", Behaviour::UnavailableFor(Duration::MAX));
    emulator.set_behaviour(
        "SHORT",
        Behaviour::UnavailableFor(Duration::from_millis(50)),
    );
    for id in ["LONG", "LONG", "FOREVER"] {
        let reply = send(id);
        assert_eq!(reply.statuses(), (503, None, None, None), "{id}");
        assert!(!reply.has_header("x-messageid"));
    }
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(send("SHORT").statuses(), RECEIVED);
    assert!(
        emulator
            .behaviours()
            .contains(&("SHORT".to_owned(), Behaviour::Active))
    );
}

#[test]
fn slow_waits_then_accepts() {
    let emulator = spawn();
    let url = emulator.channel_url("SLOW");
    emulator.set_behaviour("SLOW", Behaviour::Slow(Duration::from_millis(200)));
    let mut client = tcp(&emulator);
    let reply = client.send(&toast_to(&url, "a")).unwrap();
    assert_eq!(reply.statuses(), RECEIVED);
    // Other channels are answered while a slow one waits. It waits an hour,
    // so however loaded the machine its answer cannot come first; the fast
    // request goes once the emulator has counted the slow one.
    let slower = emulator.channel_url("SLOWER");
    emulator.set_behaviour("SLOWER", Behaviour::Slow(Duration::from_secs(3600)));
    let mut slow = tcp(&emulator);
    slow.stream.write_all(&toast_to(&slower, "b")).unwrap();
    wait_until("the slow request is counted", || {
        emulator.stats().requests == 2
    });
    let mut fast = tcp(&emulator);
    let reply = fast
        .send(&toast_to(&emulator.channel_url("FAST"), "c"))
        .unwrap();
    assert_eq!(reply.statuses(), RECEIVED);
    slow.stream.set_nonblocking(true).unwrap();
    let pending = slow.stream.read(&mut [0u8; 16]);
    assert_eq!(
        pending.map_err(|e| e.kind()).unwrap_err(),
        io::ErrorKind::WouldBlock
    );
    // The slow one is still waiting: not accepted yet.
    assert_eq!(emulator.accepted().len(), 2);
}

/// Polls `done` (an emulator counter) until it holds; panics, naming `what`,
/// if it does not within a minute (a guard against a hang, not a measure).
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let guard = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < guard, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn reset_mid_response_closes_the_connection() {
    let emulator = spawn();
    let url = emulator.channel_url("RESET");
    emulator.set_behaviour("RESET", Behaviour::ResetMidResponse(2));
    for _ in 0..2 {
        let mut client = tcp(&emulator);
        let error = client.send(&toast_to(&url, "a")).unwrap_err();
        assert!(
            matches!(
                error.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ),
            "{error:?}"
        );
        // Part of the head was written, not all of it.
        let seen = String::from_utf8_lossy(&client.buf).into_owned();
        assert!(seen.starts_with("HTTP/1.1 200"), "{seen:?}");
        assert!(!seen.contains("\r\n\r\n"), "{seen:?}");
        // And the connection is closed: a second request gets nothing back.
        let again = client.send(&toast_to(&url, "b"));
        assert!(again.is_err(), "{again:?}");
    }
    let mut client = tcp(&emulator);
    assert_eq!(
        client.send(&toast_to(&url, "c")).unwrap().statuses(),
        RECEIVED
    );
    assert_eq!(emulator.accepted().len(), 1);
    assert_eq!(emulator.stats().connections, 3);
}

#[test]
fn strict_mode_refuses_unknown_channels() {
    let emulator = spawn_with(EmulatorConfig {
        strict: true,
        ..EmulatorConfig::default()
    });
    let mut client = tcp(&emulator);
    let reply = client
        .send(&toast_to(&emulator.channel_url("WHO"), "a"))
        .unwrap();
    assert_eq!(
        reply.statuses(),
        (
            404,
            Some(NotificationStatus::Dropped),
            Some(SubscriptionStatus::Expired),
            Some(DeviceStatus::Connected)
        )
    );
    emulator.set_behaviour("KNOWN", Behaviour::Active);
    let reply = client
        .send(&toast_to(&emulator.channel_url("KNOWN"), "a"))
        .unwrap();
    assert_eq!(reply.statuses(), RECEIVED);
    assert_eq!(emulator.accepted().len(), 1);
}

#[test]
fn quota_per_http_channel_in_a_rolling_window() {
    // Within the window: daily_quota accepted, then 406, per channel.
    let emulator = spawn_with(EmulatorConfig {
        daily_quota: 3,
        ..EmulatorConfig::default()
    });
    let mut client = tcp(&emulator);
    let a = emulator.channel_url("QA");
    let b = emulator.channel_url("QB");
    for _ in 0..3 {
        assert_eq!(
            client.send(&toast_to(&a, "a")).unwrap().statuses(),
            RECEIVED
        );
    }
    for _ in 0..2 {
        let over = client.send(&toast_to(&a, "a")).unwrap();
        assert_eq!(
            over.statuses(),
            (
                406,
                Some(NotificationStatus::Dropped),
                Some(SubscriptionStatus::Active),
                Some(DeviceStatus::Connected)
            )
        );
    }
    assert_eq!(
        client.send(&toast_to(&b, "b")).unwrap().statuses(),
        RECEIVED
    );
    assert_eq!(emulator.accepted().len(), 4);
    assert_eq!(emulator.stats().rejected, 2);

    // The window rolls: once it has passed, the channel has its quota again.
    let window = Duration::from_millis(200);
    let emulator = spawn_with(EmulatorConfig {
        daily_quota: 2,
        quota_window: window,
        ..EmulatorConfig::default()
    });
    let mut client = tcp(&emulator);
    let a = emulator.channel_url("QA");
    for _ in 0..2 {
        assert_eq!(
            client.send(&toast_to(&a, "a")).unwrap().statuses(),
            RECEIVED
        );
    }
    // One bucket (window / 1024) of lateness at most.
    std::thread::sleep(window + Duration::from_millis(5));
    for _ in 0..2 {
        assert_eq!(
            client.send(&toast_to(&a, "a")).unwrap().statuses(),
            RECEIVED
        );
    }
    // Secure channels have no quota (see tls_with_the_right_client_certificate).
}

#[test]
fn default_quota_is_500_per_day() {
    let emulator = spawn();
    let url = emulator.channel_url("DAILY");
    let mut client = tcp(&emulator);
    let request = toast_to(&url, "a");
    for i in 0..500 {
        assert_eq!(client.send(&request).unwrap().status(), 200, "request {i}");
    }
    assert_eq!(client.send(&request).unwrap().status(), 406);
    assert_eq!(client.send(&request).unwrap().status(), 406);
    let stats = emulator.stats();
    assert_eq!((stats.accepted, stats.rejected), (500, 2));
}

// ---- TLS -----------------------------------------------------------------------------

#[test]
fn tls_with_the_right_client_certificate() {
    let (emulator, pki) = spawn_tls();
    let url = emulator.secure_channel_url("SEC").unwrap();
    assert!(url.starts_with("https://127.0.0.1:"));
    assert!(url.ends_with("/unthrottledthirdparty/01.00/SEC"));
    let mut client = tls_ok(&emulator, &pki);
    // Many requests on one connection: one handshake. No quota on https.
    for i in 0..600 {
        let reply = client.send(&toast_to(&url, "secure")).unwrap();
        assert_eq!(reply.statuses(), RECEIVED, "request {i}");
    }
    let stats = emulator.stats();
    assert_eq!(stats.tls_handshakes, 1);
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.accepted, 600);
    let record = &emulator.accepted()[0];
    assert!(record.secure);
    assert_eq!(record.channel_id, "SEC");

    // The throttled path is not on the https listener.
    let wrong = toast_to(
        &url.replace("/unthrottledthirdparty/", "/throttledthirdparty/"),
        "x",
    );
    assert_eq!(client.send(&wrong).unwrap().status(), 404);
    // Nor /inspect.
    let reply = client
        .send(b"GET /inspect HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(reply.status(), 404);

    // The callback URI is allowed (and recorded) on https.
    let options = Options {
        callback_uri: Some("https://example.com/cb?x=1"),
        ..Options::default()
    };
    let reply = client.send(&encode(&url, &toast("cb"), &options)).unwrap();
    assert_eq!(reply.statuses(), RECEIVED);
    let last = emulator.accepted().pop().unwrap();
    assert_eq!(
        last.callback_uri.as_deref(),
        Some("https://example.com/cb?x=1")
    );
    assert_eq!(emulator.stats().tls_handshakes, 1);
}

#[test]
fn tls_callback_registration() {
    let (emulator, pki) = spawn_tls();
    let url = emulator.secure_channel_url("CB").unwrap();
    let channel = ChannelUri::parse(&url).unwrap();
    let mut client = tls_ok(&emulator, &pki);
    for uri in ["https://example.com/first", "https://example.com/second"] {
        let request = Request::callback_registration(
            channel,
            uri,
            b"<opaque/>",
            &mpns_proto::Limits::DEFAULT,
        )
        .unwrap();
        let mut buf = vec![0; request.http_len()];
        request.write_http(&mut buf).unwrap();
        let reply = client.send(&buf).unwrap();
        assert_eq!(reply.statuses(), RECEIVED, "{}", reply.head);
    }
    let records = emulator.accepted();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].kind, RequestKind::CallbackRegistration);
    assert_eq!(records[1].channel_id, "CB");
    assert_eq!(records[1].body, b"<opaque/>");
    assert_eq!(
        records[1].callback_uri.as_deref(),
        Some("https://example.com/second")
    );
    assert_eq!(
        emulator.callbacks(),
        [("CB".to_owned(), "https://example.com/second".to_owned())]
    );
    // Refusals: no callback URI, a bad one, a body over 1 KB.
    let path = "/unthrottledthirdparty/01.00/CB/callback";
    for (headers, body) in [
        (&[("Content-Type", "text/xml")][..], &b"x"[..]),
        (
            &[("Content-Type", "text/xml"), ("X-CallbackURI", "/relative")][..],
            &b"x"[..],
        ),
        (
            &[
                ("Content-Type", "text/xml"),
                ("X-CallbackURI", "https://e.com/"),
            ][..],
            &[b'x'; 1025][..],
        ),
    ] {
        let reply = client.send(&post(path, headers, body)).unwrap();
        assert_eq!(reply.status(), 400, "{}", reply.head);
    }
}

#[test]
fn tls_without_a_client_certificate_is_forbidden() {
    let (emulator, pki) = spawn_tls();
    let url = emulator.secure_channel_url("NOCERT").unwrap();
    let mut client = tls(&emulator, &pki.ca_cert_pem, None).unwrap();
    for _ in 0..3 {
        let reply = client.send(&toast_to(&url, "a")).unwrap();
        assert_eq!(reply.status(), 403, "{}", reply.head);
        assert_eq!(
            reply.response.notification,
            HeaderValue::Known(NotificationStatus::Dropped)
        );
        assert_eq!(reply.connection, ConnectionReuse::KeepAlive);
    }
    let stats = emulator.stats();
    assert_eq!(stats.tls_handshakes, 1);
    assert_eq!(stats.rejected, 3);
    assert!(emulator.accepted().is_empty());
}

#[test]
fn tls_with_another_cas_certificate_fails_the_handshake() {
    let (emulator, pki) = spawn_tls();
    let url = emulator.secure_channel_url("STRANGER").unwrap();
    let stranger = other_ca_client().unwrap();
    assert!(!format!("{stranger:?}").contains("PRIVATE KEY"));
    let mut client = tls(
        &emulator,
        &pki.ca_cert_pem,
        Some((&stranger.cert_pem, &stranger.key_pem)),
    )
    .unwrap();
    let result = client.send(&toast_to(&url, "a"));
    assert!(result.is_err(), "{result:?}");
    // The server never completed a handshake and never saw a request. The
    // client's error is the server's refusal, so the server counted the
    // connection and decided the handshake before it: no wait is needed.
    let stats = emulator.stats();
    assert_eq!(stats.tls_handshakes, 0);
    assert_eq!(stats.requests, 0);
    assert_eq!(stats.connections, 1);
    // A client that does not trust the server's CA fails too.
    let other = other_ca_client().unwrap();
    let mut client = tls(
        &emulator,
        &other.ca_cert_pem,
        Some((&pki.client_cert_pem, &pki.client_key_pem)),
    )
    .unwrap();
    assert!(client.send(&toast_to(&url, "a")).is_err());
}

#[test]
fn pki_debug_redacts_keys() {
    let pki = TestPki::generate().unwrap();
    let shown = format!("{pki:?}");
    assert!(!shown.contains("PRIVATE KEY"));
    assert!(shown.contains("<redacted>"));
    assert!(pki.server_key_pem.contains("PRIVATE KEY"));
    let tls = TlsConfig::from_test_pki(&pki);
    assert!(!format!("{tls:?}").contains("PRIVATE KEY"));
}

// ---- Inspection, lifecycle ------------------------------------------------------------

#[test]
fn inspect_returns_json() {
    let emulator = spawn();
    let mut client = tcp(&emulator);
    let id = MessageId::parse("3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f").unwrap();
    let options = Options {
        message_id: Some(id),
        ..Options::default()
    };
    let url = emulator.channel_url("INSPECT");
    client
        .send(&post(
            "/throttledthirdparty/01.00/INSPECT",
            TOAST_HEADERS,
            TOAST_BASIC.as_bytes(),
        ))
        .unwrap();
    client.send(&encode(&url, &toast("two"), &options)).unwrap();
    client
        .send(&post(
            "/throttledthirdparty/01.00/INSPECT",
            TOAST_HEADERS,
            b"<bad",
        ))
        .unwrap();

    let mut stream = TcpStream::connect(emulator.http_addr()).unwrap();
    stream
        .write_all(b"GET /inspect HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json")
    );
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    let accepted = json["accepted"].as_array().unwrap();
    assert_eq!(accepted.len(), 2);
    assert_eq!(accepted[0]["channel_id"], "INSPECT");
    assert_eq!(accepted[0]["kind"], "toast");
    assert_eq!(accepted[0]["notification_class"], 2);
    assert_eq!(accepted[0]["body"], TOAST_BASIC);
    assert_eq!(accepted[0]["parsed"]["toast"]["text1"], "Bold Text");
    assert_eq!(
        accepted[1]["message_id"],
        "3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f"
    );
    assert_eq!(json["stats"]["requests"], 3);
    assert_eq!(json["stats"]["accepted"], 2);
    assert_eq!(json["stats"]["rejected"], 1);
    assert_eq!(json["stats"]["connections"], 2);
    // POST /inspect is not allowed.
    let reply = client.send(&post("/inspect", TOAST_HEADERS, b"")).unwrap();
    assert_eq!(reply.status(), 405);
}

#[test]
fn record_limit_keeps_the_most_recent() {
    let emulator = spawn_with(EmulatorConfig {
        record_limit: 2,
        ..EmulatorConfig::default()
    });
    let mut client = tcp(&emulator);
    for text in ["one", "two", "three"] {
        client
            .send(&toast_to(&emulator.channel_url("R"), text))
            .unwrap();
    }
    let texts: Vec<_> = emulator
        .accepted()
        .into_iter()
        .map(|r| match r.parsed {
            Some(ReceivedPayload::Toast(t)) => t.text1.unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(texts, ["two", "three"]);
    assert_eq!(emulator.stats().accepted, 3);
}

/// `GET /inspect` as JSON.
fn inspect_json(emulator: &Emulator) -> serde_json::Value {
    let mut stream = TcpStream::connect(emulator.http_addr()).unwrap();
    stream
        .write_all(b"GET /inspect HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap()
}

#[test]
fn record_limit_bounds_inspect_and_zero_turns_it_off() {
    let emulator = spawn_with(EmulatorConfig {
        record_limit: 3,
        ..EmulatorConfig::default()
    });
    let mut client = tcp(&emulator);
    for i in 0..10 {
        let url = emulator.channel_url(&format!("R{i}"));
        assert_eq!(
            client.send(&toast_to(&url, "a")).unwrap().statuses(),
            RECEIVED
        );
    }
    let json = inspect_json(&emulator);
    let ids: Vec<_> = json["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["channel_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["R7", "R8", "R9"]);
    assert_eq!(json["stats"]["accepted"], 10);
    assert_eq!(json["channels_remembered"], 10);

    // 0: no records, the stats still count.
    let emulator = spawn_with(EmulatorConfig {
        record_limit: 0,
        ..EmulatorConfig::default()
    });
    let mut client = tcp(&emulator);
    for i in 0..5 {
        let url = emulator.channel_url(&format!("R{i}"));
        assert_eq!(
            client.send(&toast_to(&url, "a")).unwrap().statuses(),
            RECEIVED
        );
    }
    client
        .send(&post(
            "/throttledthirdparty/01.00/R0",
            TOAST_HEADERS,
            b"<bad",
        ))
        .unwrap();
    assert!(emulator.accepted().is_empty());
    let stats = emulator.stats();
    assert_eq!((stats.requests, stats.accepted, stats.rejected), (6, 5, 1));
    let json = inspect_json(&emulator);
    assert_eq!(json["accepted"], serde_json::json!([]));
    assert_eq!(json["stats"]["accepted"], 5);
    assert_eq!(
        EmulatorConfig::default().record_limit,
        EmulatorConfig::DEFAULT_RECORD_LIMIT
    );
}

// ---- Many channels ------------------------------------------------------------------

#[test]
fn prefix_behaviours_exact_then_longest_prefix() {
    use DeviceStatus as D;
    use NotificationStatus as N;
    use SubscriptionStatus as S;
    let emulator = spawn();
    let mut client = tcp(&emulator);
    let mut send = |id: &str| {
        client
            .send(&toast_to(&emulator.channel_url(id), "t"))
            .unwrap()
            .statuses()
    };
    let expired = (404, Some(N::Dropped), Some(S::Expired), Some(D::Connected));
    let inactive = (412, Some(N::Dropped), Some(S::Active), Some(D::Inactive));
    let suppressed = (
        200,
        Some(N::Suppressed),
        Some(S::Active),
        Some(D::Connected),
    );
    // The longer prefix is set first: order does not matter.
    emulator.set_behaviour_prefix("p-long-", Behaviour::Inactive);
    emulator.set_behaviour_prefix("p-", Behaviour::Expired);
    emulator.set_behaviour("p-long-exact", Behaviour::Suppressed);
    emulator.set_behaviour("p-active", Behaviour::Active);
    assert_eq!(send("p-x"), expired);
    assert_eq!(send("p-"), expired);
    assert_eq!(send("p-lon"), expired);
    assert_eq!(send("p-long-x"), inactive);
    assert_eq!(send("p-long-"), inactive);
    assert_eq!(send("p-long-exact"), suppressed);
    assert_eq!(send("p-active"), RECEIVED);
    assert_eq!(send("p"), RECEIVED);
    assert_eq!(send("other"), RECEIVED);
    // A prefix set after the exact id does not override it.
    emulator.set_behaviour_prefix("p-long-ex", Behaviour::RateLimited);
    assert_eq!(send("p-long-exact"), suppressed);
    assert_eq!(send("p-long-ex1").0, 406);
    // Replacing a prefix's behaviour.
    emulator.set_behaviour_prefix("p-", Behaviour::Active);
    assert_eq!(send("p-x"), RECEIVED);
    // The empty prefix is every other id.
    emulator.set_behaviour_prefix("", Behaviour::Dropped);
    assert_eq!(send("zzz").1, Some(N::Dropped));
    assert_eq!(send("p-x"), RECEIVED);
    assert_eq!(
        emulator.behaviour_prefixes(),
        [
            ("".to_owned(), Behaviour::Dropped),
            ("p-".to_owned(), Behaviour::Active),
            ("p-long-".to_owned(), Behaviour::Inactive),
            ("p-long-ex".to_owned(), Behaviour::RateLimited),
        ]
    );
    // Exact behaviours only.
    assert_eq!(
        emulator.behaviours(),
        [
            ("p-active".to_owned(), Behaviour::Active),
            ("p-long-exact".to_owned(), Behaviour::Suppressed),
        ]
    );

    // In strict mode a prefix makes its ids known.
    let emulator = spawn_with(EmulatorConfig {
        strict: true,
        ..EmulatorConfig::default()
    });
    emulator.set_behaviour_prefix("ok-", Behaviour::Active);
    let mut client = tcp(&emulator);
    let mut send = |id: &str| {
        client
            .send(&toast_to(&emulator.channel_url(id), "t"))
            .unwrap()
            .statuses()
    };
    assert_eq!(send("ok-1"), RECEIVED);
    assert_eq!(send("ok"), expired);
}

#[test]
fn counted_prefix_behaviours_count_per_channel() {
    let emulator = spawn();
    let queue_full = (
        200,
        Some(NotificationStatus::QueueFull),
        Some(SubscriptionStatus::Active),
        Some(DeviceStatus::Connected),
    );
    emulator.set_behaviour_prefix("qf-", Behaviour::QueueFull(2));
    emulator.set_behaviour_prefix("un-", Behaviour::Unavailable(1));
    emulator.set_behaviour_prefix("rs-", Behaviour::ResetMidResponse(1));
    emulator.set_behaviour("qf-own", Behaviour::QueueFull(1));
    let mut client = tcp(&emulator);
    let send = |client: &mut Client<TcpStream>, id: &str| {
        client
            .send(&toast_to(&emulator.channel_url(id), "t"))
            .unwrap()
            .statuses()
    };
    // Interleaved: each channel has its own two.
    for _ in 0..2 {
        for id in ["qf-a", "qf-b", "qf-c"] {
            assert_eq!(send(&mut client, id), queue_full, "{id}");
        }
    }
    for id in ["qf-a", "qf-b", "qf-c"] {
        assert_eq!(send(&mut client, id), RECEIVED, "{id}");
    }
    // The exact id counts its own.
    assert_eq!(send(&mut client, "qf-own"), queue_full);
    assert_eq!(send(&mut client, "qf-own"), RECEIVED);
    for id in ["un-a", "un-b"] {
        assert_eq!(send(&mut client, id), (503, None, None, None), "{id}");
    }
    for id in ["un-a", "un-b"] {
        assert_eq!(send(&mut client, id), RECEIVED, "{id}");
    }
    for id in ["rs-a", "rs-b"] {
        let mut cut = tcp(&emulator);
        let sent = cut.send(&toast_to(&emulator.channel_url(id), "t"));
        assert!(sent.is_err(), "{id}: {sent:?}");
        let mut fresh = tcp(&emulator);
        assert_eq!(send(&mut fresh, id), RECEIVED, "{id}");
    }
    // Setting the prefix again restarts every channel's count.
    emulator.set_behaviour_prefix("qf-", Behaviour::QueueFull(1));
    for id in ["qf-a", "qf-d"] {
        assert_eq!(send(&mut client, id), queue_full, "{id}");
        assert_eq!(send(&mut client, id), RECEIVED, "{id}");
    }
    // The prefix rule as set; the exact id counted down to active.
    assert!(
        emulator
            .behaviour_prefixes()
            .contains(&("qf-".to_owned(), Behaviour::QueueFull(1)))
    );
    assert_eq!(
        emulator.behaviours(),
        [("qf-own".to_owned(), Behaviour::Active)]
    );
    // qf-a..d, qf-own, un-a, un-b, rs-a, rs-b: each holds quota counts.
    assert_eq!(emulator.channels_remembered(), 9);
}

#[test]
fn idle_channels_are_forgotten() {
    let window = Duration::from_millis(200);
    let emulator = spawn_with(EmulatorConfig {
        quota_window: window,
        ..EmulatorConfig::default()
    });
    emulator.set_behaviour("SET", Behaviour::Active);
    let mut client = tcp(&emulator);
    for i in 0..50 {
        let url = emulator.channel_url(&format!("idle-{i}"));
        assert_eq!(
            client.send(&toast_to(&url, "a")).unwrap().statuses(),
            RECEIVED
        );
    }
    // Fewer requests than a sweep waits for: all remembered.
    assert_eq!(emulator.channels_remembered(), 51);
    // Past the window and a bucket (window / 1024), their counts have left it.
    std::thread::sleep(window + Duration::from_millis(20));
    let keep = toast_to(&emulator.channel_url("KEEP"), "a");
    for _ in 0..1100 {
        let status = client.send(&keep).unwrap().status();
        assert!(status == 200 || status == 406, "{status}");
    }
    // A sweep ran after the sleep: the idle ones went; SET (a behaviour) and
    // KEEP (counts in the window) stay.
    assert_eq!(emulator.channels_remembered(), 2);
    assert_eq!(emulator.stats().requests, 1150);

    // With no quota and no behaviours nothing is remembered.
    let emulator = spawn_with(EmulatorConfig {
        daily_quota: u32::MAX,
        ..EmulatorConfig::default()
    });
    let mut client = tcp(&emulator);
    for i in 0..100 {
        let url = emulator.channel_url(&format!("free-{i}"));
        assert_eq!(
            client.send(&toast_to(&url, "a")).unwrap().statuses(),
            RECEIVED
        );
    }
    assert_eq!(emulator.channels_remembered(), 0);
    assert_eq!(emulator.stats().accepted, 100);
}

/// Sends one toast to each id in turn over one keep-alive connection; counts the statuses.
fn send_each(emulator: &Emulator, ids: &[String]) -> std::collections::BTreeMap<u16, usize> {
    let mut client = tcp(emulator);
    let mut counts = std::collections::BTreeMap::new();
    for id in ids {
        let reply = client
            .send(&toast_to(&emulator.channel_url(id), "t"))
            .unwrap();
        *counts.entry(reply.status()).or_default() += 1;
    }
    counts
}

/// The benchmark's mix, scaled down: 2 % inactive, 1 % queue-full once, 1 % expired.
fn mixed_ids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 100 {
            0 | 1 => format!("inact-{i}"),
            2 => format!("qf-{i}"),
            3 => format!("exp-{i}"),
            _ => format!("ch-{i}"),
        })
        .collect()
}

fn set_mix(emulator: &Emulator) {
    emulator.set_behaviour_prefix("inact-", Behaviour::Inactive);
    emulator.set_behaviour_prefix("qf-", Behaviour::QueueFull(1));
    emulator.set_behaviour_prefix("exp-", Behaviour::Expired);
}

#[test]
fn thousands_of_channels() {
    let n = 5000;
    let ids = mixed_ids(n);
    let emulator = spawn_with(EmulatorConfig {
        record_limit: 1000,
        ..EmulatorConfig::default()
    });
    set_mix(&emulator);
    let (inactive, queue_full, expired) = (n / 50, n / 100, n / 100);
    let active = n - inactive - queue_full - expired;
    let first = send_each(&emulator, &ids);
    let expected = [(200, active + queue_full), (404, expired), (412, inactive)];
    assert_eq!(first.into_iter().collect::<Vec<_>>(), expected);
    // Queue-full once: the second round accepts those channels.
    let second = send_each(&emulator, &ids);
    let expected = [(200, active + queue_full), (404, expired), (412, inactive)];
    assert_eq!(second.into_iter().collect::<Vec<_>>(), expected);
    let stats = emulator.stats();
    assert_eq!(stats.requests, 2 * n as u64);
    assert_eq!(stats.accepted, (2 * active + queue_full) as u64);
    assert_eq!(stats.rejected, 2 * (inactive + expired) as u64);
    assert_eq!(emulator.accepted().len(), 1000);
    // Accepted channels hold quota counts; refused ones hold nothing.
    assert_eq!(emulator.channels_remembered(), active + queue_full);

    // With no quota, only the queue-full channels' counts are remembered.
    let emulator = spawn_with(EmulatorConfig {
        daily_quota: u32::MAX,
        record_limit: 0,
        ..EmulatorConfig::default()
    });
    set_mix(&emulator);
    send_each(&emulator, &ids);
    assert_eq!(emulator.channels_remembered(), queue_full);
    assert_eq!(emulator.stats().accepted, active as u64);
    assert!(emulator.accepted().is_empty());
}

#[test]
fn shutdown_closes_the_listeners() {
    let (emulator, _pki) = spawn_tls();
    let http = emulator.http_addr();
    let https = emulator.https_addr().unwrap();
    let mut client = tcp(&emulator);
    assert_eq!(
        client
            .send(&toast_to(&emulator.channel_url("X"), "a"))
            .unwrap()
            .status(),
        200
    );
    emulator.shutdown();
    assert!(TcpStream::connect(http).is_err());
    assert!(TcpStream::connect(https).is_err());
    // The open keep-alive connection is closed too.
    assert!(
        client
            .send(&toast_to(
                "http://127.0.0.1:1/throttledthirdparty/01.00/X",
                "a"
            ))
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_from_async_code() {
    let emulator = spawn();
    let addr = emulator.http_addr();
    let request = toast_to(&emulator.channel_url("ASYNC"), "a");
    let reply = tokio::task::spawn_blocking(move || {
        let stream = TcpStream::connect(addr).unwrap();
        Client::new(stream).send(&request).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(reply.statuses(), RECEIVED);
    // Dropped inside the async context: must not panic.
    drop(emulator);
}

#[tokio::test(flavor = "current_thread")]
async fn works_from_a_current_thread_runtime() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let emulator = spawn();
    let mut stream = tokio::net::TcpStream::connect(emulator.http_addr())
        .await
        .unwrap();
    stream
        .write_all(&toast_to(&emulator.channel_url("CT"), "a"))
        .await
        .unwrap();
    let mut buf = vec![0; 1024];
    let mut len = 0;
    loop {
        let n = stream.read(&mut buf[len..]).await.unwrap();
        assert!(n > 0);
        len += n;
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    assert!(buf.starts_with(b"HTTP/1.1 200 OK\r\n"));
    emulator.shutdown();
}

// ---- Left running: timeouts, the connection cap, a cheap /inspect -------------

/// Reads until the server closes the connection; the test's own 10 s read
/// timeout fails it if the server never does.
fn closed_by_server(stream: &mut TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut sink = [0u8; 1024];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}

fn short_timeouts() -> EmulatorConfig {
    EmulatorConfig {
        request_read_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        ..EmulatorConfig::default()
    }
}

#[test]
fn a_dribbled_request_and_an_idle_connection_are_closed() {
    let emulator = spawn_with(short_timeouts());
    // Half a head, then nothing.
    let mut dribble = TcpStream::connect(emulator.http_addr()).unwrap();
    dribble
        .write_all(b"POST /throttledthirdparty/01.00/D HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    closed_by_server(&mut dribble);
    // A head, then half its body.
    let mut body = TcpStream::connect(emulator.http_addr()).unwrap();
    body.write_all(
        b"POST /throttledthirdparty/01.00/D HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n\
          X-WindowsPhone-Target: toast\r\nX-NotificationClass: 2\r\nContent-Length: 100\r\n\r\n<wp:",
    )
    .unwrap();
    let mut client = Client::new(body.try_clone().unwrap());
    let reply = client.read_reply().unwrap();
    assert_eq!(reply.response.status, 408, "{}", reply.head);
    closed_by_server(&mut body);
    // A connection that answered a request, then sat idle.
    let mut client = tcp(&emulator);
    let url = emulator.channel_url("D");
    assert_eq!(
        client.send(&toast_to(&url, "a")).unwrap().statuses(),
        RECEIVED
    );
    closed_by_server(&mut client.stream);
    // Nothing sent at all.
    let mut silent = TcpStream::connect(emulator.http_addr()).unwrap();
    closed_by_server(&mut silent);
    let stats = emulator.stats();
    assert_eq!(stats.timed_out, 3, "{stats:?}");
    assert_eq!(stats.accepted, 1);
}

#[test]
fn a_busy_connection_is_not_cut_by_the_idle_timeout() {
    // A slow answer (longer than both timeouts) is the emulator's own
    // doing: the connection waits for it, then goes on.
    let emulator = spawn_with(short_timeouts());
    emulator.set_behaviour("S", Behaviour::Slow(Duration::from_millis(900)));
    let mut client = tcp(&emulator);
    let url = emulator.channel_url("S");
    assert_eq!(
        client.send(&toast_to(&url, "a")).unwrap().statuses(),
        RECEIVED
    );
    assert_eq!(emulator.stats().timed_out, 0);
}

#[test]
fn connections_beyond_the_cap_wait_for_one_to_close() {
    let emulator = spawn_with(EmulatorConfig {
        max_connections: 2,
        ..EmulatorConfig::default()
    });
    let url = emulator.channel_url("C");
    let mut first = tcp(&emulator);
    let mut second = tcp(&emulator);
    for c in [&mut first, &mut second] {
        assert_eq!(c.send(&toast_to(&url, "a")).unwrap().statuses(), RECEIVED);
    }
    // The third connects (the kernel queues it) and sends; it is answered
    // only once the first closes.
    let mut third = tcp(&emulator);
    third.stream.write_all(&toast_to(&url, "c")).unwrap();
    // The accept loop is at the cap (it counted that), with two open.
    while emulator.stats().connection_cap_reached == 0 {
        std::thread::yield_now();
    }
    assert_eq!(emulator.stats().open_connections, 2);
    drop(first);
    assert_eq!(third.read_reply().unwrap().statuses(), RECEIVED);
    let stats = emulator.stats();
    assert_eq!(stats.peak_connections, 2, "{stats:?}");
    assert_eq!(stats.connections, 3);
    assert_eq!(stats.accepted, 3);
}

/// `GET path` on a connection of its own, as JSON.
fn get_json(emulator: &Emulator, path: &str) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(emulator.http_addr()).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn inspect_pages_the_records_and_keeps_the_counters_apart() {
    let emulator = spawn();
    let mut client = tcp(&emulator);
    for i in 0..250 {
        let url = emulator.channel_url(&format!("P{i}"));
        assert_eq!(
            client.send(&toast_to(&url, "a")).unwrap().statuses(),
            RECEIVED
        );
    }
    let ids = |json: &serde_json::Value| -> Vec<String> {
        json["accepted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["channel_id"].as_str().unwrap().to_owned())
            .collect()
    };
    // By default the first 100 of those kept; the counters count all.
    let (_, json) = get_json(&emulator, "/inspect");
    assert_eq!(json["records"], 250);
    assert_eq!(json["offset"], 0);
    assert_eq!(ids(&json).len(), 100);
    assert_eq!(ids(&json)[0], "P0");
    assert_eq!(json["stats"]["accepted"], 250);
    // A page further on, and the last, shorter one.
    let (_, json) = get_json(&emulator, "/inspect?offset=200&limit=30");
    assert_eq!(
        ids(&json),
        (200..230).map(|i| format!("P{i}")).collect::<Vec<_>>()
    );
    let (_, json) = get_json(&emulator, "/inspect?offset=240&limit=1000");
    assert_eq!(ids(&json).len(), 10);
    // The counters alone; a page is never over 1000.
    let (_, json) = get_json(&emulator, "/inspect?limit=0");
    assert_eq!(json["accepted"], serde_json::json!([]));
    assert_eq!(json["stats"]["requests"], 250);
    // Anything else in the query is refused.
    let (status, _) = get_json(&emulator, "/inspect?page=2");
    assert_eq!(status, 400);
}

#[test]
fn flaky_channels_fail_at_their_rates() {
    let emulator = spawn();
    emulator.set_behaviour_prefix("F", "flaky:100,200,50,10ms".parse().unwrap());
    let (mut accepted, mut unavailable, mut reset) = (0, 0, 0);
    let mut client = tcp(&emulator);
    for i in 0..2000 {
        let url = emulator.channel_url(&format!("F{}", i % 50));
        match client.send(&toast_to(&url, "a")) {
            Ok(reply) if reply.response.status == 200 => accepted += 1,
            Ok(reply) if reply.response.status == 503 => unavailable += 1,
            Ok(reply) => panic!("{}", reply.head),
            // A reset closes the connection: go on with a new one.
            Err(_) => {
                reset += 1;
                client = tcp(&emulator);
            }
        }
    }
    // 10 %, 20 % and 75 % (slow ones are accepted), within a wide margin:
    // the draws are a fixed pseudo-random sequence.
    assert!((150..250).contains(&reset), "{reset}");
    assert!((330..470).contains(&unavailable), "{unavailable}");
    assert_eq!(accepted + unavailable + reset, 2000);
    assert_eq!(emulator.stats().accepted, accepted as u64);
}

//! `mpns demo`: the emulator in-process, channels in different states, a
//! mixed batch through the real client and sender, and a table of results.

use std::time::Instant as StdInstant;

use clap::Args;
use mpns_proto::sender::{Event, Finished, SubmitError};
use mpns_proto::{
    CycleTile, Delivery, Duration, Field, FlipTile, IconicTile, MessageId, Notification, Options,
    Raw, RetryPolicy, SenderConfig, Sound, StandardTile, Tile, TileTemplate, Toast,
};

use super::CliError;
use crate::client::{ClientConfig, Identity};
use crate::driver::{Driver, DriverConfig, DriverError};
use crate::emulator::{Behaviour, Emulator, EmulatorConfig, TlsConfig};
use crate::pki::TestPki;
use crate::transport::{AnyClient, TransportKind};

/// `mpns demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Also list every retry and deferral as it happens (the global `-v`)
    #[arg(skip)]
    pub verbose: bool,
}

/// The channels of the demo: id, behaviour, and what the row shows.
const CHANNELS: &[(&str, &str)] = &[
    ("happy", "active"),
    ("busy", "queue-full:2"),
    ("gone", "expired"),
    ("muted", "suppressed"),
    ("asleep", "inactive"),
    ("flaky", "unavailable:1"),
    ("bumpy", "reset:1"),
];

/// One row: where it goes, what it is, and how it is sent.
struct Item {
    channel: String,
    label: &'static str,
    send: Send,
}

enum Send {
    Notification(Box<(Notification<'static>, Options<'static>)>),
    Callback(&'static str, &'static [u8]),
}

fn items(emulator: &Emulator) -> Vec<Item> {
    let http = |id: &str| emulator.channel_url(id);
    let https = |id: &str| emulator.secure_channel_url(id).unwrap_or_default();
    let toast = |text1, text2| {
        Notification::Toast(Toast {
            text1: Some(text1),
            text2: Some(text2),
            ..Toast::default()
        })
    };
    let item = |channel: String, label, n, o| Item {
        channel,
        label,
        send: Send::Notification(Box::new((n, o))),
    };
    let plain = Options::default();
    let mut cycle = CycleTile {
        small_background_image: Field::Set("/Images/small.png"),
        title: Field::Set("Photos"),
        ..CycleTile::default()
    };
    cycle.cycle_images[0] = Field::Set("/Images/1.jpg");
    cycle.cycle_images[1] = Field::Set("/Images/2.jpg");
    vec![
        item(
            http("happy"),
            "toast with Param",
            Notification::Toast(Toast {
                text1: Some("Bold Text"),
                text2: Some("Normal text"),
                param: Some("/Page2.xaml?NavigatedFrom=Toast"),
                sound: None,
            }),
            plain,
        ),
        item(
            http("happy"),
            "toast, escaped once",
            toast("McDonald's & Co", "<b>\"quoted\"</b>"),
            plain,
        ),
        item(
            http("happy"),
            "flip tile, Id, 450 s",
            Notification::Tile(Tile {
                id: Some("/Tile.xaml?id=7"),
                template: TileTemplate::Flip(FlipTile {
                    count: Field::Set(5),
                    title: Field::Set("Inbox"),
                    back_content: Field::Set("5 new messages"),
                    wide_back_content: Field::Set("From Ana, Bo and 3 more"),
                    ..FlipTile::default()
                }),
            }),
            Options {
                delivery: Delivery::Within450s,
                ..plain
            },
        ),
        item(
            http("happy"),
            "cycle tile",
            Notification::Tile(Tile {
                id: None,
                template: TileTemplate::Cycle(cycle),
            }),
            plain,
        ),
        item(
            http("happy"),
            "standard tile, Clear",
            Notification::Tile(Tile {
                id: None,
                template: TileTemplate::Standard(StandardTile {
                    count: Field::Clear,
                    title: Field::Set("All read"),
                    ..StandardTile::default()
                }),
            }),
            plain,
        ),
        item(
            http("happy"),
            "raw, message id",
            Notification::Raw(Raw {
                body: b"<update seq=\"42\"/>",
                voip: false,
            }),
            Options {
                message_id: Some(MessageId([0x42; 16])),
                ..plain
            },
        ),
        item(
            http("busy"),
            "toast (queue full x2)",
            toast("Retry me", "QueueFull twice"),
            plain,
        ),
        item(
            http("gone"),
            "toast (expired)",
            toast("Nobody", "is listening"),
            plain,
        ),
        item(
            http("gone"),
            "tile queued behind it",
            Notification::Tile(Tile::default()),
            plain,
        ),
        item(
            http("muted"),
            "toast (suppressed)",
            toast("Quiet", "please"),
            plain,
        ),
        item(
            http("asleep"),
            "toast (inactive)",
            toast("Wake up", "device inactive"),
            plain,
        ),
        item(
            http("flaky"),
            "raw (503 once)",
            Notification::Raw(Raw {
                body: b"ping",
                voip: false,
            }),
            plain,
        ),
        item(
            http("bumpy"),
            "toast (reset once)",
            toast("Again", "connection reset"),
            plain,
        ),
        item(
            https("vip"),
            "iconic tile, mTLS",
            Notification::Tile(Tile {
                id: None,
                template: TileTemplate::Iconic(IconicTile {
                    icon_image: Field::Set("/Images/icon.png"),
                    wide_content1: Field::Set("Meeting at 10:00"),
                    count: Field::Set(1),
                    background_color: Field::Set("#FF1BA1E2"),
                    ..IconicTile::default()
                }),
            }),
            plain,
        ),
        item(
            https("vip"),
            "silent toast, mTLS",
            Notification::Toast(Toast {
                text1: Some("Shh"),
                sound: Some(Sound::Silent),
                ..Toast::default()
            }),
            plain,
        ),
        item(
            https("vip"),
            "VoIP raw, mTLS",
            Notification::Raw(Raw {
                body: b"<IncomingCall from=\"Ana\"/>",
                voip: true,
            }),
            plain,
        ),
        Item {
            channel: https("vip"),
            label: "callback registration",
            send: Send::Callback("https://gateway.example/mpns/inactive", b"vip-channel"),
        },
    ]
}

impl DemoArgs {
    /// Runs the demo and prints its table.
    pub fn run(&self) -> Result<(), CliError> {
        let pki = TestPki::generate().map_err(|e| CliError::Pki(e.to_string()))?;
        let emulator = Emulator::spawn(EmulatorConfig {
            tls: Some(TlsConfig::from_test_pki(&pki)),
            ..EmulatorConfig::default()
        })
        .map_err(CliError::Listen)?;
        for (id, behaviour) in CHANNELS {
            // The table above only holds valid behaviour texts.
            if let Ok(b) = behaviour.parse::<Behaviour>() {
                emulator.set_behaviour(id, b);
            }
        }
        let client = AnyClient::new(
            TransportKind::default(),
            ClientConfig {
                identity: Some(
                    Identity::from_pem(
                        pki.client_cert_pem.as_bytes(),
                        pki.client_key_pem.as_bytes(),
                    )
                    .map_err(CliError::Client)?,
                ),
                extra_roots_pem: vec![pki.ca_cert_pem.clone().into_bytes()],
                webpki_roots: false,
                ..ClientConfig::default()
            },
        )
        .map_err(CliError::Client)?;
        let items = items(&emulator);
        let verbose = self.verbose;
        let rows = super::runtime()?.block_on(async move { run(client, &items, verbose).await })?;
        let stats = emulator.stats();
        let mut out = format!(
            "MPNS emulator at {} and {} (mutual TLS)\n\
             Retry timing scaled down for the demo: backoff from 250 ms (MPNS: 1 min), channel pause 1 s (MPNS: 60 min).\n\
             A 503 pauses the whole host, so the rows queued behind `flaky` wait one backoff.\n\n",
            emulator.http_base(),
            emulator.https_base().unwrap_or_default()
        );
        out += &format!(
            "{:>2}  {:<10} {:<24} {:<26} {:>8} {:>8}\n",
            "#", "channel", "notification", "outcome", "attempts", "time"
        );
        for (i, row) in rows.iter().enumerate() {
            out += &format!(
                "{:>2}  {:<10} {:<24} {:<26} {:>8} {:>6}ms\n",
                i + 1,
                row.channel,
                row.label,
                row.outcome,
                row.attempts,
                row.elapsed_ms
            );
        }
        out += &format!(
            "\nemulator: {} requests, {} accepted, {} refused (4xx), {} TCP connections, {} TLS handshakes\n\
             channel behaviours: {}\n",
            stats.requests,
            stats.accepted,
            stats.rejected,
            stats.connections,
            stats.tls_handshakes,
            CHANNELS
                .iter()
                .map(|(id, b)| format!("{id}={b}"))
                .chain(std::iter::once("vip=active (https)".to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        super::write_stdout(out.as_bytes())
    }
}

/// What happened to one item.
struct Row {
    channel: String,
    label: &'static str,
    outcome: String,
    attempts: u16,
    elapsed_ms: u128,
}

async fn run(client: AnyClient, items: &[Item], verbose: bool) -> Result<Vec<Row>, CliError> {
    let config = DriverConfig {
        sender: SenderConfig {
            retry: RetryPolicy {
                base: Duration::from_millis(250),
                cap: Duration::from_secs(2),
                channel_pause: Duration::from_secs(1),
                jitter_percent: 20,
            },
            max_attempts: 3,
            deadline: Duration::from_secs(30),
            seed: super::batch::seed(),
            ..SenderConfig::default()
        },
        max_in_flight: 8,
        ..DriverConfig::default()
    };
    let started = StdInstant::now();
    let (handle, mut events) = Driver::start(client, config);
    let mut tickets = Vec::new();
    let mut rows: Vec<Option<Row>> = items.iter().map(|_| None).collect();
    for (i, item) in items.iter().enumerate() {
        let ticket = match &item.send {
            Send::Notification(pair) => handle.submit_wait(&item.channel, &pair.0, &pair.1).await,
            Send::Callback(uri, body) => {
                handle.submit_callback_registration(&item.channel, uri, body)
            }
        };
        match ticket {
            Ok(ticket) => tickets.push(Some(ticket)),
            // The expiry of the row before it can come first: the core then
            // refuses the submit, which is the same state shown sooner.
            Err(DriverError::Submit(SubmitError::ChannelExpired(_))) => {
                tickets.push(None);
                rows[i] = Some(Row {
                    channel: channel_label(&item.channel),
                    label: item.label,
                    outcome: "channel expired (refused at submit)".into(),
                    attempts: 0,
                    elapsed_ms: started.elapsed().as_millis(),
                });
            }
            Err(e) => return Err(CliError::Demo(e.to_string())),
        }
    }
    drop(handle);
    while let Some(event) = events.recv().await {
        let ms = started.elapsed().as_millis();
        match event {
            Event::Finished {
                ticket,
                result,
                attempts,
            } => {
                if let Some(i) = tickets.iter().position(|t| *t == Some(ticket)) {
                    let item = &items[i];
                    rows[i] = Some(Row {
                        channel: channel_label(&item.channel),
                        label: item.label,
                        outcome: describe(&result),
                        attempts,
                        elapsed_ms: ms,
                    });
                }
            }
            other if verbose => eprintln!("{ms:>6}ms  {other:?}"),
            _ => {}
        }
    }
    Ok(rows.into_iter().flatten().collect())
}

/// `happy` for `http://…/throttledthirdparty/01.00/happy`, `vip (https)` for a secure one.
fn channel_label(channel: &str) -> String {
    let id = channel.rsplit('/').next().unwrap_or(channel);
    if channel.starts_with("https") {
        format!("{id} (tls)")
    } else {
        id.to_string()
    }
}

fn describe(result: &Finished) -> String {
    // The serde names of the core's enums, as words.
    let words = |v: serde_json::Value| v.as_str().unwrap_or_default().replace('_', " ");
    match result {
        Finished::Accepted { device: Some(d) } => {
            format!("accepted ({})", words(serde_json::json!(d)))
        }
        Finished::Rejected { status, .. } => format!("rejected {status}"),
        Finished::GaveUp { last: Some(r) } => format!("gave up: {}", words(serde_json::json!(r))),
        other => other.name().replace('_', " "),
    }
}

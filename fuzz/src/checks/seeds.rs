//! The seed corpus: `fuzz/corpus/<target>/seed-<name>`, built from the request
//! vectors (`mpns-proto/tests/vectors/requests.jsonl`), real channel URI shapes and
//! responses, and real sender snapshots.
//!
//! `cargo test -p mpns-proto --test fuzz_regressions -- --ignored write_seeds`
//! rewrites the files; `seeds_pass` (not ignored) runs every seed, and every
//! committed corpus file, through its check.

use mpns_proto::{
    ChannelUri, CycleTile, Delivery, Field, IconicTile, Instant, Limits, MessageId, Notification,
    Options, Raw, Response, Sender, SenderConfig, Sound, StandardTile, TargetOs, Tile,
    TileTemplate, Toast,
};

use super::sender::{C, CHANNELS, Op, Q};

// The notification of each request vector, kept once for the workspace.
#[path = "../../../mpns-proto/tests/vectors/notifications.rs"]
mod notifications;

/// One seed: target, file name (after `seed-`), bytes.
pub type Seed = (&'static str, String, Vec<u8>);

/// A check on raw bytes.
pub type Check = fn(&[u8]);

/// Every target with its check on raw bytes (as the fuzz target runs it,
/// minus the `arbitrary` modes).
pub const TARGETS: [(&str, Check); 9] = [
    ("channel_uri", super::channel_uri::check),
    ("encode", super::encode::check_json),
    ("response_reader", super::response_reader::check),
    ("exchange", super::exchange::check),
    ("classify", super::classify::check_http),
    ("sender", super::sender::check),
    ("growable_sender", super::sender::check_growable),
    ("snapshot_restore", super::snapshot::check),
    ("replay", super::replay::check),
];

/// Channel URIs: real shapes, the vectors', and the ones `ChannelUri::parse` refuses.
const URIS: &[(&str, &str)] = &[
    (
        "live",
        "http://db3.notify.live.net/throttledthirdparty/01.00/AAGvdLTQ?x=1&y=2",
    ),
    (
        "authenticated",
        "https://sn1.notify.live.net/unthrottledthirdparty/01.00/AAG5O",
    ),
    (
        "wp8",
        "http://s.notify.live.net/u/1/sin/H2QAAAA/d2luZG93c3Bob25lZGVmYXVsdA/AQ",
    ),
    (
        "emulator",
        "http://127.0.0.1:47001/throttledthirdparty/01.00/ABC",
    ),
    ("ipv6", "https://[::1]:8443/p?q"),
    ("query-only", "http://h?q=1"),
    ("wns", "https://db5.notify.windows.com/?token=AwYAAAB"),
    ("fragment", "http://h/p#f"),
    ("userinfo", "http://user:pw@h/p"),
    ("crlf", "http://h/p\r\nX-Injected: 1"),
    ("port-zero", "http://h:0/p"),
    ("ftp", "ftp://h/p"),
];

fn json(channel: u8, n: &Notification<'_>, o: &Options<'_>) -> Vec<u8> {
    serde_json::to_vec(&(channel, n, o)).expect("JSON")
}

fn encode_seeds() -> Vec<(String, Vec<u8>)> {
    let d = Options::default();
    let toast = |t1, t2, p| {
        Notification::Toast(Toast {
            text1: t1,
            text2: t2,
            param: p,
            sound: None,
        })
    };
    let flip = notifications::notification("tile_flip_full")
        .expect("the vector's tile")
        .0;
    let mut cycle = CycleTile {
        small_background_image: Field::Set("/s.png"),
        count: Field::Clear,
        title: Field::Set("Cycle"),
        ..CycleTile::default()
    };
    cycle.cycle_images[0] = Field::Set("/1.png");
    cycle.cycle_images[8] = Field::Clear;
    vec![
        (
            "toast_basic".into(),
            json(
                0,
                &toast(
                    Some("Bold Text"),
                    Some("Normal text"),
                    Some("/Page2.xaml?NavigatedFrom=Toast"),
                ),
                &d,
            ),
        ),
        (
            "toast_delivery_900_msgid".into(),
            json(
                1,
                &toast(Some("x"), None, None),
                &Options {
                    delivery: Delivery::Within900s,
                    message_id: Some(
                        MessageId::parse("3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f").expect("UUID"),
                    ),
                    ..d
                },
            ),
        ),
        (
            "toast_escaping".into(),
            json(
                2,
                &Notification::Toast(Toast {
                    // JSON strings with escapes do not borrow: no `"`, `\\` or controls here.
                    text1: Some("McDonald's & <Co> é 漢字 🎉 ]]>"),
                    text2: Some("&amp; stays &amp;amp;"),
                    param: Some("/P.xaml?a=1&b=2"),
                    sound: Some(Sound::File("/Sounds/ding.wav")),
                }),
                &Options {
                    callback_uri: Some("https://callback.example/mpns?x=1"),
                    ..d
                },
            ),
        ),
        (
            "toast_silent_wp71".into(),
            json(
                0,
                &Notification::Toast(Toast {
                    text1: Some("t"),
                    sound: Some(Sound::Silent),
                    ..Toast::default()
                }),
                &Options {
                    target_os: TargetOs::Wp71,
                    ..d
                },
            ),
        ),
        (
            "tile_standard_count0".into(),
            json(
                1,
                &Notification::Tile(Tile {
                    id: None,
                    template: TileTemplate::Standard(StandardTile {
                        count: Field::Set(0),
                        title: Field::Set("Zero"),
                        ..StandardTile::default()
                    }),
                }),
                &d,
            ),
        ),
        (
            "tile_standard_clear".into(),
            json(
                1,
                &Notification::Tile(Tile {
                    id: Some("/S.xaml?a='1'&b=<2>"),
                    template: TileTemplate::Standard(StandardTile {
                        title: Field::Set("Keep"),
                        count: Field::Clear,
                        back_content: Field::Clear,
                        ..StandardTile::default()
                    }),
                }),
                &d,
            ),
        ),
        ("tile_flip_full".into(), json(1, &flip, &d)),
        (
            "tile_flip_wp70".into(),
            json(
                1,
                &flip,
                &Options {
                    target_os: TargetOs::Wp70,
                    ..d
                },
            ),
        ),
        (
            "tile_iconic".into(),
            json(
                3,
                &Notification::Tile(Tile {
                    id: None,
                    template: TileTemplate::Iconic(IconicTile {
                        icon_image: Field::Set("/i.png"),
                        wide_content1: Field::Set("line 1"),
                        count: Field::Set(99),
                        background_color: Field::Set("#FF1BA1E2"),
                        ..IconicTile::default()
                    }),
                }),
                &d,
            ),
        ),
        (
            "tile_cycle".into(),
            json(
                4,
                &Notification::Tile(Tile {
                    id: None,
                    template: TileTemplate::Cycle(cycle),
                }),
                &d,
            ),
        ),
        (
            "raw_text".into(),
            json(
                1,
                &Notification::Raw(Raw {
                    body: b"<root><v>1</v></root>",
                    voip: false,
                }),
                &d,
            ),
        ),
        (
            "raw_voip".into(),
            json(
                1,
                &Notification::Raw(Raw {
                    body: b"<IncomingCall/>",
                    voip: true,
                }),
                &d,
            ),
        ),
        (
            "toast_small_limits".into(),
            json(
                7,
                &toast(Some("Bold Text"), Some("Normal text"), None),
                &Options {
                    limits: Limits {
                        payload: 150,
                        raw: 10,
                        callback_body: 10,
                        headers: 1100,
                    },
                    ..d
                },
            ),
        ),
    ]
}

/// The response table's cases, as the wire carries them.
const RESPONSES: &[(&str, &str)] = &[
    (
        "received-2015",
        "HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/8.0\r\nX-DeviceConnectionStatus: Connected\r\nX-NotificationStatus: Received\r\nX-SubscriptionStatus: Active\r\nX-MessageID: 00000000-0000-0000-0000-000000000000\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "queuefull",
        "HTTP/1.1 200 OK\r\nX-NotificationStatus: QueueFull\r\nX-DeviceConnectionStatus: Temp Disconnected\r\nX-SubscriptionStatus: Active\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "suppressed",
        "HTTP/1.1 200 OK\r\nx-notificationstatus: suppressed\r\nx-subscriptionstatus: active\r\ncontent-length: 0\r\n\r\n",
    ),
    (
        "expired-404",
        "HTTP/1.1 404 Not Found\r\nX-NotificationStatus: Dropped\r\nX-SubscriptionStatus: Expired\r\nX-DeviceConnectionStatus: N/A\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "rate-406",
        "HTTP/1.1 406 Not Acceptable\r\nX-NotificationStatus: Dropped\r\nX-SubscriptionStatus: Active\r\nX-DeviceConnectionStatus: Connected\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "inactive-412",
        "HTTP/1.1 412 Precondition Failed\r\nX-NotificationStatus: Dropped\r\nX-SubscriptionStatus: Active\r\nX-DeviceConnectionStatus: InActive\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "unavailable-503-retry-after",
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "bad-request-400",
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nbad request",
    ),
    ("plain-200", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    (
        "chunked-trailers",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-NotificationStatus: Received\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n",
    ),
    (
        "continue-then-200",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "http10-until-close",
        "HTTP/1.0 200 OK\r\nX-NotificationStatus: Received\r\n\r\nbody until close",
    ),
    (
        "pipelined",
        "HTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\nContent-Length: 0\r\n\r\nHTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ),
    (
        "smuggling",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    (
        "conflicting-length",
        "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nab",
    ),
    (
        "truncated",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    ),
];

/// Sender inputs (see `sender.rs`): configuration byte, two seed bytes, then
/// operations, written with [`Op::write`] so that each reads back as meant.
fn sender_seeds() -> Vec<(String, Vec<u8>)> {
    let submit = |channel: u8, kind: u8, opts: u8, extra: u8| Op::Submit {
        channel,
        kind,
        opts,
        extra,
        text: &TEXT[..usize::from(extra % 32)],
    };
    let respond = |status: u8, n: u8, sd: u8, ra: u8, echo: u8| Op::Respond {
        nth: 0,
        status,
        n,
        sd,
        ra,
        echo,
    };
    let input = |head: [u8; 3], ops: &[Op<'_>]| {
        let mut out = head.to_vec();
        for op in ops {
            op.write(&mut out);
        }
        out
    };
    let drain = Op::Bogus(9);
    vec![
        (
            "accepted".into(),
            input(
                [0, 1, 0],
                &[
                    submit(0, 0, 1, 2),
                    Op::Transmit,
                    respond(0, 0, 0, 0, 1),
                    Op::Events,
                ],
            ),
        ),
        (
            "queuefull-then-accepted".into(),
            input(
                [0, 2, 0],
                &[
                    submit(1, 1, 0, 2),
                    Op::Transmit,
                    respond(0, 1, 0, 0, 0),
                    Op::Events,
                    Op::ToTimeout,
                    Op::Transmit,
                    respond(0, 0, 0, 0, 0),
                    Op::Events,
                ],
            ),
        ),
        (
            "expired-then-forget".into(),
            input(
                [0, 3, 0],
                &[
                    submit(0, 0, 0, 0),
                    submit(0, 2, 0, 5),
                    submit(0, 5, 0, 0),
                    Op::Transmit,
                    respond(7, 3, 2, 0, 0),
                    Op::Events,
                    Op::Forget(0),
                    submit(0, 1, 0, 0),
                    drain,
                ],
            ),
        ),
        (
            "rate-limited-and-quota".into(),
            input(
                [4, 4, 0],
                &[
                    submit(0, 1, 0, 0),
                    submit(1, 1, 0, 0),
                    submit(0, 1, 0, 0),
                    submit(2, 1, 0, 0),
                    Op::TransmitAll,
                    respond(9, 3, 0, 0, 0),
                    respond(13, 4, 1, 3, 0),
                    respond(0, 0, 0, 0, 0),
                    Op::Events,
                    drain,
                    Op::ToTimeout,
                    Op::TransmitAll,
                ],
            ),
        ),
        (
            "supersede-tiles".into(),
            input(
                [1, 5, 0],
                &[
                    submit(0, 3, 0, 0),
                    submit(0, 3, 0, 0),
                    submit(0, 4, 0, 0),
                    submit(0, 2, 0, 0),
                    Op::Events,
                    Op::TransmitAll,
                ],
            ),
        ),
        (
            "snapshot-mid-flight".into(),
            input(
                [0, 6, 0],
                &[
                    submit(0, 0, 1, 9),
                    submit(3, 5, 0, 0),
                    Op::Callback {
                        channel: 3,
                        len: 10,
                    },
                    Op::Transmit,
                    Op::RoundTrip,
                    Op::TransmitAll,
                    respond(11, 4, 1, 2, 2),
                    Op::Events,
                ],
            ),
        ),
        (
            "cancel-and-transport".into(),
            input(
                [6, 7, 0],
                &[
                    submit(2, 0, 0, 0),
                    submit(2, 1, 0, 0),
                    Op::Transmit,
                    Op::Cancel(0),
                    Op::Cancel(1),
                    Op::TransportFailure(0),
                    Op::Events,
                    Op::Back(16),
                    drain,
                ],
            ),
        ),
        (
            "refusals".into(),
            input(
                [8, 8, 0],
                &[
                    submit(0, 7, 0, 0),
                    submit(0, 8, 0, 200),
                    submit(0, 0, 8, 0),
                    submit(0, 0, 16, 0),
                    submit(0, 6, 2, 0),
                    Op::Submit {
                        channel: 0,
                        kind: 3,
                        opts: 9,
                        extra: 4,
                        text: b"t\x01<&",
                    },
                    Op::Events,
                ],
            ),
        ),
    ]
}

/// Toast text for the seeds' submits.
const TEXT: &[u8; 31] = b"Seed text & <markup> to escape.";

/// Real snapshots of a sender, followed by the bytes the check reads after them.
fn snapshot_seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut arena = vec![0u8; Q * 1024];
    let mut sender: Sender<&mut [u8], Q, C> = Sender::new(SenderConfig::default(), &mut arena[..]);
    let channel = |i: usize| ChannelUri::parse(CHANNELS[i]).expect("fixed channel");
    let snap = |s: &Sender<&mut [u8], Q, C>, tail: &[u8]| {
        let mut bytes = postcard::to_allocvec(&s.snapshot()).expect("postcard");
        bytes.extend_from_slice(tail);
        bytes
    };
    out.push(("empty".into(), snap(&sender, &[0, 1])));
    let toast = Notification::Toast(Toast {
        text1: Some("Bold Text"),
        text2: Some("Normal text"),
        ..Toast::default()
    });
    let tile = Notification::Tile(Tile {
        id: Some("/S.xaml"),
        template: TileTemplate::Standard(StandardTile {
            count: Field::Set(3),
            ..StandardTile::default()
        }),
    });
    let raw = Notification::Raw(Raw {
        body: b"<root/>",
        voip: false,
    });
    let id = Options {
        message_id: Some(MessageId([9; 16])),
        ..Options::default()
    };
    let now = Instant::from_secs(10);
    let t1 = sender.submit(now, channel(0), &toast, &id).expect("toast");
    sender
        .submit(now, channel(1), &tile, &Options::default())
        .expect("tile");
    sender
        .submit(now, channel(0), &raw, &Options::default())
        .expect("raw");
    sender
        .submit_callback_registration(
            now,
            channel(3),
            "https://callback.example/mpns",
            b"state",
            &Limits::DEFAULT,
        )
        .expect("callback");
    out.push(("queued".into(), snap(&sender, &[0, 0])));
    let in_flight = sender.poll_transmit(now).expect("due").ticket;
    assert_eq!(in_flight, t1);
    out.push(("in-flight".into(), snap(&sender, &[0, 3, 200, 0])));
    let queue_full = Response::from_parts(200, |n| {
        (n == "X-NotificationStatus").then_some(b"QueueFull".as_slice())
    });
    sender
        .handle_response(now, in_flight, &queue_full)
        .expect("in flight");
    let t = sender.poll_transmit(now).expect("due").ticket;
    let unavailable =
        Response::from_parts(503, |n| (n == "Retry-After").then_some(b"600".as_slice()));
    sender
        .handle_response(now, t, &unavailable)
        .expect("in flight");
    out.push(("waiting-and-paused".into(), snap(&sender, &[1, 2, 210])));
    while sender.poll_event().is_some() {}
    let t = sender
        .poll_transmit(Instant::from_secs(7200))
        .expect("due")
        .ticket;
    let expired = Response::from_parts(404, |_| None);
    sender
        .handle_response(Instant::from_secs(7200), t, &expired)
        .expect("in flight");
    out.push(("expired-unpolled".into(), snap(&sender, &[0, 5])));
    out.push(("lengths-wrap-on-32-bit".into(), wrapping_lengths(&toast)));
    out
}

/// A snapshot of one queued toast whose stored lengths are rewritten to
/// `u32::MAX`, 0 and the payload's length plus one: their sum wraps, in 32
/// bits, to the payload's real length (a 32-bit target once took it and
/// panicked at the split; it must be a `RestoreError`).
fn wrapping_lengths(toast: &Notification<'_>) -> Vec<u8> {
    fn varint(mut v: u32) -> Vec<u8> {
        let mut out = Vec::new();
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
        out
    }
    let mut arena = vec![0u8; Q * 1024];
    let mut sender: Sender<&mut [u8], Q, C> = Sender::new(SenderConfig::default(), &mut arena[..]);
    let channel = ChannelUri::parse(CHANNELS[0]).expect("fixed channel");
    sender
        .submit(Instant::ZERO, channel, toast, &Options::default())
        .expect("toast");
    let bytes = postcard::to_allocvec(&sender.snapshot()).expect("postcard");
    let uri = CHANNELS[0].len() as u32;
    // The payload (URI, then body) is the last field, after its length.
    let start = bytes
        .windows(uri as usize)
        .position(|w| w == CHANNELS[0].as_bytes())
        .expect("the stored URI");
    let payload = (bytes.len() - start) as u32;
    let lengths = [varint(uri), varint(0), varint(payload - uri)].concat();
    let at = bytes
        .windows(lengths.len())
        .position(|w| w == lengths)
        .expect("the stored lengths");
    let hostile = [varint(u32::MAX), varint(0), varint(payload + 1)].concat();
    [
        &bytes[..at],
        &hostile,
        &bytes[at + lengths.len()..],
        &[0, 0],
    ]
    .concat()
}

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let mut seeds: Vec<Seed> = Vec::new();
    for (name, uri) in URIS {
        seeds.push(("channel_uri", name.to_string(), uri.as_bytes().to_vec()));
    }
    for (name, bytes) in encode_seeds() {
        seeds.push(("encode", name, bytes));
    }
    for (i, (name, text)) in RESPONSES.iter().enumerate() {
        // Split point, limits (default, or small with few headers), chunk seed.
        let split = (text.len() / 2) as u16;
        let sel = match i % 4 {
            1 => 0x80, // 3 headers at most
            3 => 1,    // 64-byte heads, 8-byte trailers
            _ => 0,
        };
        let mut bytes = vec![
            split as u8,
            (split >> 8) as u8,
            sel,
            (i as u8).wrapping_mul(37),
        ];
        bytes.extend_from_slice(text.as_bytes());
        seeds.push(("response_reader", name.to_string(), bytes));
        // Buffer 8 KiB, 512 or 64 bytes by turns; read sizes; reused or not.
        let mut bytes = vec![(i % 3) as u8, (i as u8).wrapping_mul(53), (i % 2) as u8];
        bytes.extend_from_slice(text.as_bytes());
        seeds.push(("exchange", name.to_string(), bytes));
        seeds.push(("classify", name.to_string(), text.as_bytes().to_vec()));
    }
    for (name, bytes) in sender_seeds() {
        seeds.push(("growable_sender", name.clone(), bytes.clone()));
        seeds.push(("sender", name, bytes));
    }
    for (name, in_flight) in [("journal", false), ("journal-in-flight", true)] {
        let journal = super::replay::seed_journal(in_flight);
        seeds.push(("replay", name.to_string(), super::replay::frame(&journal)));
    }
    for (name, bytes) in snapshot_seeds() {
        seeds.push(("snapshot_restore", name, bytes));
    }
    seeds
}

/// Whether a seed decodes to a real case of its target (not refused as noise).
pub fn decodes(target: &str, bytes: &[u8]) -> bool {
    match target {
        "encode" => serde_json::from_slice::<(u8, Notification<'_>, Options<'_>)>(bytes).is_ok(),
        "classify" => {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            httparse::Response::new(&mut headers).parse(bytes).is_ok()
        }
        "snapshot_restore" => {
            postcard::take_from_bytes::<mpns_proto::sender::Snapshot<'_, Q, C>>(bytes).is_ok()
        }
        "replay" => {
            let mut b = super::Bytes::new(bytes);
            let mut all = true;
            while !b.is_empty() {
                let len = usize::from(b.u16());
                all &= mpns_proto::sender::Record::decode(b.take(len)).is_ok();
                b.u8();
            }
            all
        }
        _ => true,
    }
}

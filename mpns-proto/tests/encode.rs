//! Request and payload rules of `docs/protocol.md` ("Requests", "Payloads",
//! "Callback registration", "Limits"): one test per rule and per refusal,
//! and the request vectors (`tests/vectors/requests.jsonl`) byte for byte.

use mpns_proto::{
    ChannelUri, CycleTile, Delivery, EncodeError, Field, FieldName, FieldProblem, FlipTile,
    IconicTile, Limits, MessageId, MessageIdError, Notification, Options, Raw, Request, Sound,
    StandardTile, TargetOs, Tile, TileTemplate, Toast, UriError, encode_request,
};
use mpns_proto::{Instant, Sender, SenderConfig, sender::SubmitError};

const CHANNEL: &str = "http://db3.notify.live.net/throttledthirdparty/01.00/AAGvdLTQ?x=1&y=2";
const HTTPS_CHANNEL: &str = "https://sn1.notify.live.net/unthrottledthirdparty/01.00/AAG5O";
const ENVELOPE: &str =
    r#"<?xml version="1.0" encoding="utf-8"?><wp:Notification xmlns:wp="WPNotification">"#;
const TEMPLATE_ENVELOPE: &str = r#"<?xml version="1.0" encoding="utf-8"?><wp:Notification xmlns:wp="WPNotification" Version="2.0">"#;

fn channel(text: &str) -> ChannelUri<'_> {
    ChannelUri::parse(text).unwrap()
}

fn http(uri: &str, n: &Notification<'_>, o: &Options<'_>) -> Result<String, EncodeError> {
    let request = Request::notification(channel(uri), n, o)?;
    let mut buf = vec![0u8; request.http_len()];
    let len = request.write_http(&mut buf)?;
    assert_eq!(len, buf.len(), "http_len is exact");
    Ok(String::from_utf8(buf).unwrap())
}

fn body(n: &Notification<'_>, o: &Options<'_>) -> Result<String, EncodeError> {
    let len = n.encoded_len(o)?;
    let mut buf = vec![0u8; len];
    assert_eq!(n.encode(o, &mut buf)?, len, "encoded_len is exact");
    Ok(String::from_utf8(buf).unwrap())
}

fn toast(text1: &str) -> Notification<'_> {
    Notification::Toast(Toast {
        text1: Some(text1),
        ..Toast::default()
    })
}

fn standard(tile: StandardTile<'_>) -> Notification<'_> {
    Notification::Tile(Tile {
        id: None,
        template: TileTemplate::Standard(tile),
    })
}

fn on_os(os: TargetOs) -> Options<'static> {
    Options {
        target_os: os,
        ..Options::default()
    }
}

fn field_err(field: FieldName, problem: FieldProblem) -> EncodeError {
    EncodeError::Field { field, problem }
}

fn headers_of(r: &Request<'_>) -> Vec<(String, String)> {
    r.headers()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

// ---- the shared vectors -------------------------------------------------

struct Vector {
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

fn vector(name: &str) -> Option<Vector> {
    let text = include_str!("vectors/requests.jsonl");
    let case = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["case"] == name)
        .unwrap_or_else(|| panic!("no vector {name}"));
    let e = &case["expected"];
    if e == "refuse" {
        return None;
    }
    Some(Vector {
        target: e["target"].as_str().unwrap().to_string(),
        headers: e["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect(),
        body: e["body"].as_str().unwrap().to_string(),
    })
}

/// Checks a vector against the whole request: request line, every expected
/// header (names compared case-insensitively, as HTTP does) and the body.
fn check_vector(name: &str, uri: &str, n: &Notification<'_>, o: &Options<'_>) {
    let v = vector(name).unwrap();
    let wire = http(uri, n, o).unwrap();
    let (head, body) = wire.split_once("\r\n\r\n").unwrap();
    assert_eq!(body, v.body, "{name}: body");
    let mut lines = head.split("\r\n");
    assert_eq!(
        lines.next().unwrap(),
        format!("POST {} HTTP/1.1", v.target),
        "{name}"
    );
    let sent: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap();
            (k.to_ascii_lowercase(), v.to_string())
        })
        .collect();
    for (k, want) in &v.headers {
        let got = sent.iter().find(|(n, _)| n == k).map(|(_, v)| v);
        assert_eq!(got, Some(want), "{name}: header {k}");
    }
    assert_eq!(
        sent.len(),
        v.headers.len(),
        "{name}: no extra headers {sent:?}"
    );
}

#[path = "vectors/notifications.rs"]
mod notifications;
use notifications::notification;

/// Every vector of `requests.jsonl`: its notification (`vectors/notifications.rs`)
/// encodes to the expected request, or is refused when the vector says so.
#[test]
fn every_request_vector() {
    let text = include_str!("vectors/requests.jsonl");
    for line in text.lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let name = case["case"].as_str().unwrap();
        let uri = case["args"]
            .as_array()
            .unwrap()
            .windows(2)
            .find(|w| w[0] == "--channel")
            .and_then(|w| w[1].as_str())
            .unwrap_or_else(|| panic!("{name}: no --channel"));
        let (n, o) = notification(name).unwrap_or_else(|| panic!("{name}: no notification"));
        match vector(name) {
            Some(_) => check_vector(name, uri, &n, &o),
            None => assert!(
                ChannelUri::parse(uri).is_err() || http(uri, &n, &o).is_err(),
                "{name}: encoded a request the vector refuses"
            ),
        }
    }
}

#[test]
fn vector_toast_basic() {
    // The whole request, byte for byte, in Microsoft's header spelling.
    let (n, o) = notification("toast_basic").unwrap();
    let wire = http(
        "http://127.0.0.1:47001/throttledthirdparty/01.00/ABC",
        &n,
        &o,
    )
    .unwrap();
    assert_eq!(
        wire,
        concat!(
            "POST /throttledthirdparty/01.00/ABC HTTP/1.1\r\n",
            "Host: 127.0.0.1:47001\r\n",
            "Content-Type: text/xml\r\n",
            "X-WindowsPhone-Target: toast\r\n",
            "X-NotificationClass: 2\r\n",
            "Content-Length: 234\r\n",
            "\r\n",
            r#"<?xml version="1.0" encoding="utf-8"?><wp:Notification xmlns:wp="WPNotification"><wp:Toast><wp:Text1>Bold Text</wp:Text1><wp:Text2>Normal text</wp:Text2><wp:Param>/Page2.xaml?NavigatedFrom=Toast</wp:Param></wp:Toast></wp:Notification>"#,
        )
    );
}

fn full_flip() -> Notification<'static> {
    notification("tile_flip_full").unwrap().0
}

#[test]
fn vector_refusals() {
    assert!(vector("refuse_raw_1025").is_none());
    let body = vec![b'r'; 1025];
    let raw = Notification::Raw(Raw {
        body: &body,
        voip: false,
    });
    assert_eq!(
        http(CHANNEL, &raw, &Options::default()),
        Err(EncodeError::BodyTooLarge {
            len: 1025,
            limit: 1024
        })
    );
    assert!(vector("refuse_count_100").is_none());
    let n = standard(StandardTile {
        count: Field::Set(100),
        ..Default::default()
    });
    assert_eq!(
        http(CHANNEL, &n, &Options::default()),
        Err(field_err(
            FieldName::Count,
            FieldProblem::CountOutOfRange { value: 100 }
        ))
    );
    assert!(vector("refuse_wns_uri").is_none());
    assert_eq!(
        ChannelUri::parse("https://db5.notify.windows.com/?token=AwYAAAB"),
        Err(UriError::Wns)
    );
}

// ---- headers ----------------------------------------------------------------

#[test]
fn headers_per_kind_and_delivery() {
    let t = toast("a");
    let tile = standard(StandardTile {
        title: Field::Set("t"),
        ..Default::default()
    });
    let raw = Notification::Raw(Raw {
        body: b"r",
        voip: false,
    });
    let voip = Notification::Raw(Raw {
        body: b"r",
        voip: true,
    });
    let cases: &[(&Notification<'_>, Delivery, Option<&str>, &str)] = &[
        (&tile, Delivery::Immediate, Some("token"), "1"),
        (&t, Delivery::Immediate, Some("toast"), "2"),
        (&raw, Delivery::Immediate, None, "3"),
        (&tile, Delivery::Within450s, Some("token"), "11"),
        (&t, Delivery::Within450s, Some("toast"), "12"),
        (&raw, Delivery::Within450s, None, "13"),
        (&tile, Delivery::Within900s, Some("token"), "21"),
        (&t, Delivery::Within900s, Some("toast"), "22"),
        (&raw, Delivery::Within900s, None, "23"),
        (&voip, Delivery::Immediate, None, "4"),
    ];
    for (n, delivery, target, class) in cases {
        let o = Options {
            delivery: *delivery,
            ..Options::default()
        };
        let r = Request::notification(channel(CHANNEL), n, &o).unwrap();
        let mut want = vec![("Content-Type".to_string(), "text/xml".to_string())];
        if let Some(t) = target {
            want.push(("X-WindowsPhone-Target".into(), t.to_string()));
        }
        want.push(("X-NotificationClass".into(), class.to_string()));
        want.push(("Content-Length".into(), r.body_len().to_string()));
        assert_eq!(headers_of(&r), want, "{n:?} {delivery:?}");
    }
}

#[test]
fn default_delivery_is_immediate_and_default_os_is_newest() {
    assert_eq!(Delivery::default(), Delivery::Immediate);
    assert_eq!(TargetOs::default(), TargetOs::Wp80Gdr3);
    assert_eq!(TargetOs::ALL.iter().max(), Some(&TargetOs::Wp80Gdr3));
}

#[test]
fn message_id_header_is_canonical_lower_case() {
    let id = MessageId::parse("3F5C1D0E-8A2B-4C6D-9E7F-0A1B2C3D4E5F").unwrap();
    assert_eq!(id.to_string(), "3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f");
    let o = Options {
        message_id: Some(id),
        ..Options::default()
    };
    let t = toast("a");
    let r = Request::notification(channel(CHANNEL), &t, &o).unwrap();
    assert!(headers_of(&r).contains(&(
        "X-MessageID".into(),
        "3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f".into()
    )));
    assert_eq!(
        MessageId::NIL.to_string(),
        "00000000-0000-0000-0000-000000000000"
    );
    let bytes = [
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0, 1, 2, 3, 4, 5, 6, 0xff,
    ];
    assert_eq!(
        MessageId(bytes).to_string(),
        "01234567-89ab-cdef-0001-0203040506ff"
    );
    assert_eq!(
        MessageId::parse(&MessageId(bytes).to_string()),
        Ok(MessageId(bytes))
    );
}

#[test]
fn message_id_refusals() {
    assert_eq!(MessageId::parse(""), Err(MessageIdError::Length { len: 0 }));
    assert_eq!(
        MessageId::parse("3f5c1d0e8a2b4c6d9e7f0a1b2c3d4e5f"),
        Err(MessageIdError::Length { len: 32 })
    );
    assert_eq!(
        MessageId::parse("3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5g"),
        Err(MessageIdError::BadChar { offset: 35 })
    );
    assert_eq!(
        MessageId::parse("3f5c1d0e+8a2b-4c6d-9e7f-0a1b2c3d4e5f"),
        Err(MessageIdError::BadChar { offset: 8 })
    );
    assert_eq!(
        MessageId::parse("{f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5}"),
        Err(MessageIdError::BadChar { offset: 0 })
    );
}

#[test]
fn callback_uri_header_for_authenticated_channels_only() {
    let o = Options {
        callback_uri: Some("https://example.com/cb?id=7"),
        ..Options::default()
    };
    let t = toast("a");
    let r = Request::notification(channel(HTTPS_CHANNEL), &t, &o).unwrap();
    assert!(
        headers_of(&r).contains(&("X-CallbackURI".into(), "https://example.com/cb?id=7".into()))
    );
    assert_eq!(
        Request::notification(channel(CHANNEL), &t, &o).unwrap_err(),
        field_err(
            FieldName::CallbackUri,
            FieldProblem::NeedsAuthenticatedChannel
        )
    );
}

#[test]
fn callback_uri_is_validated() {
    let t = toast("a");
    for (uri, want) in [
        (
            "https://e.com/cb\r\nX-Evil: 1",
            UriError::ForbiddenChar {
                offset: 16,
                byte: b'\r',
            },
        ),
        (
            "not a uri",
            UriError::ForbiddenChar {
                offset: 3,
                byte: b' ',
            },
        ),
        ("/relative", UriError::NotAbsolute),
        ("mailto://x", UriError::UnsupportedScheme),
        ("", UriError::Empty),
    ] {
        let o = Options {
            callback_uri: Some(uri),
            ..Options::default()
        };
        assert_eq!(
            Request::notification(channel(HTTPS_CHANNEL), &t, &o).unwrap_err(),
            field_err(FieldName::CallbackUri, FieldProblem::Uri(want)),
            "{uri:?}"
        );
    }
}

#[test]
fn callback_registration_appends_callback_to_the_path() {
    let limits = Limits::default();
    let r = Request::callback_registration(
        channel("https://sn1.notify.live.net/unthrottledthirdparty/01.00/AAG5O?q=1"),
        "https://example.com/inactive",
        b"opaque",
        &limits,
    )
    .unwrap();
    let mut buf = vec![0; r.http_len()];
    r.write_http(&mut buf).unwrap();
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        concat!(
            "POST /unthrottledthirdparty/01.00/AAG5O/callback?q=1 HTTP/1.1\r\n",
            "Host: sn1.notify.live.net\r\n",
            "Content-Type: text/xml\r\n",
            "X-CallbackURI: https://example.com/inactive\r\n",
            "Content-Length: 6\r\n",
            "\r\n",
            "opaque",
        )
    );
}

#[test]
fn callback_registration_refusals() {
    let limits = Limits::default();
    assert_eq!(
        Request::callback_registration(channel(CHANNEL), "https://e.com/", b"", &limits)
            .unwrap_err(),
        field_err(
            FieldName::CallbackUri,
            FieldProblem::NeedsAuthenticatedChannel
        )
    );
    let big = vec![0u8; 1025];
    assert_eq!(
        Request::callback_registration(channel(HTTPS_CHANNEL), "https://e.com/", &big, &limits)
            .unwrap_err(),
        EncodeError::BodyTooLarge {
            len: 1025,
            limit: 1024
        }
    );
    let exact = vec![0u8; 1024];
    Request::callback_registration(channel(HTTPS_CHANNEL), "https://e.com/", &exact, &limits)
        .unwrap();
}

// ---- payload ----------------------------------------------------------------

#[test]
fn all_five_characters_are_escaped_exactly_once() {
    let n = Notification::Toast(Toast {
        text1: Some(r#"McDonald's & <Co> "x""#),
        text2: Some("&amp; stays &amp;amp;"),
        param: Some("/P.xaml?a=1&b=2"),
        sound: None,
    });
    assert_eq!(
        body(&n, &Options::default()).unwrap(),
        format!(
            "{ENVELOPE}<wp:Toast><wp:Text1>McDonald&apos;s &amp; &lt;Co&gt; &quot;x&quot;</wp:Text1>\
             <wp:Text2>&amp;amp; stays &amp;amp;amp;</wp:Text2>\
             <wp:Param>/P.xaml?a=1&amp;b=2</wp:Param></wp:Toast></wp:Notification>"
        )
    );
}

#[test]
fn attribute_values_are_escaped_too() {
    let n = Notification::Tile(Tile {
        id: Some(r#"/T.xaml?a=1&b="2"'<>"#),
        template: TileTemplate::Standard(StandardTile {
            title: Field::Set("t"),
            ..Default::default()
        }),
    });
    assert_eq!(
        body(&n, &Options::default()).unwrap(),
        format!(
            "{ENVELOPE}<wp:Tile Id=\"/T.xaml?a=1&amp;b=&quot;2&quot;&apos;&lt;&gt;\"><wp:Title>t</wp:Title></wp:Tile></wp:Notification>"
        )
    );
}

#[test]
fn whitespace_survives_xml_normalisation() {
    // Text keeps TAB and LF; CR becomes a reference so a reader does not turn it into LF.
    let n = toast("a\tb\nc\rd");
    assert!(
        body(&n, &Options::default())
            .unwrap()
            .contains("<wp:Text1>a\tb\nc&#13;d</wp:Text1>")
    );
    // Attributes reference TAB, LF and CR, which attribute normalisation would turn into spaces.
    let n = Notification::Tile(Tile {
        id: Some("a\tb\nc\rd"),
        template: TileTemplate::default(),
    });
    assert!(
        body(&n, &Options::default())
            .unwrap()
            .contains(r#"<wp:Tile Id="a&#9;b&#10;c&#13;d">"#)
    );
}

#[test]
fn xml_forbidden_characters_are_refused_naming_the_field() {
    let cases: &[(&str, usize, u32)] = &[
        ("a\u{0}b", 1, 0),
        ("\u{1}", 0, 1),
        ("ab\u{8}", 2, 8),
        ("\u{b}", 0, 0xb),
        ("\u{c}", 0, 0xc),
        ("x\u{1f}", 1, 0x1f),
        ("é\u{fffe}", 2, 0xfffe),
        ("\u{ffff}", 0, 0xffff),
    ];
    for (text, offset, cp) in cases {
        let n = Notification::Toast(Toast {
            text1: Some("ok"),
            text2: Some(text),
            ..Toast::default()
        });
        assert_eq!(
            body(&n, &Options::default()),
            Err(field_err(
                FieldName::Text2,
                FieldProblem::ForbiddenXmlChar {
                    offset: *offset,
                    code_point: *cp
                }
            )),
            "{text:?}"
        );
    }
    // Neighbours of the forbidden code points are fine.
    body(
        &toast("\u{fffd}\u{fdd0}\u{10000}\u{7f}\u{85}"),
        &Options::default(),
    )
    .unwrap();
    // Every field is checked, including attributes and template elements.
    let n = Notification::Tile(Tile {
        id: Some("\u{2}"),
        template: TileTemplate::default(),
    });
    assert_eq!(
        body(&n, &Options::default()).unwrap_err().field_name(),
        Some(FieldName::Id)
    );
    let mut cycle = CycleTile::default();
    cycle.cycle_images[6] = Field::Set("\u{3}");
    let n = Notification::Tile(Tile {
        id: None,
        template: TileTemplate::Cycle(cycle),
    });
    assert_eq!(
        body(&n, &Options::default()).unwrap_err().field_name(),
        Some(FieldName::CycleImage7)
    );
    let n = Notification::Toast(Toast {
        text1: Some("a"),
        sound: Some(Sound::File("\u{1b}")),
        ..Toast::default()
    });
    assert_eq!(
        body(&n, &Options::default()).unwrap_err().field_name(),
        Some(FieldName::Sound)
    );
}

#[test]
fn empty_toast_is_refused() {
    for n in [
        Toast::default(),
        Toast {
            text1: Some(""),
            text2: Some(""),
            ..Toast::default()
        },
        Toast {
            param: Some("/P.xaml"),
            ..Toast::default()
        },
    ] {
        assert_eq!(
            body(&Notification::Toast(n), &Options::default()),
            Err(EncodeError::EmptyToast)
        );
    }
    let only_text2 = Notification::Toast(Toast {
        text2: Some("b"),
        ..Toast::default()
    });
    assert_eq!(
        body(&only_text2, &Options::default()).unwrap(),
        format!("{ENVELOPE}<wp:Toast><wp:Text2>b</wp:Text2></wp:Toast></wp:Notification>")
    );
}

#[test]
fn toast_sound_file_and_silent() {
    let n = Notification::Toast(Toast {
        text1: Some("a"),
        sound: Some(Sound::File("/S/d.wav")),
        ..Toast::default()
    });
    assert!(body(&n, &Options::default()).unwrap().ends_with(
        "<wp:Text1>a</wp:Text1><wp:Sound>/S/d.wav</wp:Sound></wp:Toast></wp:Notification>"
    ));
    let n = Notification::Toast(Toast {
        text1: Some("a"),
        sound: Some(Sound::Silent),
        ..Toast::default()
    });
    assert!(body(&n, &Options::default()).unwrap().ends_with(
        r#"<wp:Text1>a</wp:Text1><wp:Sound Silent="true"></wp:Sound></wp:Toast></wp:Notification>"#
    ));
}

#[test]
fn standard_tile_order_without_version() {
    let n = Notification::Tile(Tile {
        id: Some("/S.xaml"),
        template: TileTemplate::Standard(StandardTile {
            back_content: Field::Set("bc"),
            back_title: Field::Set("bt"),
            back_background_image: Field::Set("/bb.png"),
            title: Field::Set("t"),
            count: Field::Set(99),
            background_image: Field::Set("/b.png"),
        }),
    });
    assert_eq!(
        body(&n, &Options::default()).unwrap(),
        format!(
            "{ENVELOPE}<wp:Tile Id=\"/S.xaml\"><wp:BackgroundImage>/b.png</wp:BackgroundImage><wp:Count>99</wp:Count>\
             <wp:Title>t</wp:Title><wp:BackBackgroundImage>/bb.png</wp:BackBackgroundImage>\
             <wp:BackTitle>bt</wp:BackTitle><wp:BackContent>bc</wp:BackContent></wp:Tile></wp:Notification>"
        )
    );
}

#[test]
fn iconic_tile_order_and_color() {
    let n = Notification::Tile(Tile {
        id: None,
        template: TileTemplate::Iconic(IconicTile {
            background_color: Field::Set("#FF1BA1E2"),
            title: Field::Set("t"),
            count: Field::Set(7),
            wide_content3: Field::Set("w3"),
            wide_content2: Field::Clear,
            wide_content1: Field::Set("w1"),
            icon_image: Field::Set("/i.png"),
            small_icon_image: Field::Set("/si.png"),
        }),
    });
    assert_eq!(
        body(&n, &Options::default()).unwrap(),
        format!(
            "{}<wp:Tile Template=\"IconicTile\"><wp:SmallIconImage>/si.png</wp:SmallIconImage>\
             <wp:IconImage>/i.png</wp:IconImage><wp:WideContent1>w1</wp:WideContent1>\
             <wp:WideContent2 Action=\"Clear\"></wp:WideContent2><wp:WideContent3>w3</wp:WideContent3>\
             <wp:Count>7</wp:Count><wp:Title>t</wp:Title><wp:BackgroundColor>#FF1BA1E2</wp:BackgroundColor>\
             </wp:Tile></wp:Notification>",
            TEMPLATE_ENVELOPE
        )
    );
    for bad in [
        "red",
        "#FF1BA1E",
        "#FF1BA1E2F",
        "FF1BA1E2F",
        "#GG1BA1E2",
        "",
    ] {
        let n = Notification::Tile(Tile {
            id: None,
            template: TileTemplate::Iconic(IconicTile {
                background_color: Field::Set(bad),
                ..Default::default()
            }),
        });
        assert_eq!(
            body(&n, &Options::default()),
            Err(field_err(
                FieldName::BackgroundColor,
                FieldProblem::NotAColor
            )),
            "{bad:?}"
        );
    }
    // Clearing the color needs no value.
    let n = Notification::Tile(Tile {
        id: None,
        template: TileTemplate::Iconic(IconicTile {
            background_color: Field::Clear,
            ..Default::default()
        }),
    });
    assert!(
        body(&n, &Options::default())
            .unwrap()
            .contains(r#"<wp:BackgroundColor Action="Clear"></wp:BackgroundColor>"#)
    );
}

#[test]
fn cycle_tile_order() {
    let mut cycle = CycleTile {
        small_background_image: Field::Set("/s.png"),
        title: Field::Set("c"),
        count: Field::Set(3),
        ..Default::default()
    };
    cycle.cycle_images[0] = Field::Set("/1.png");
    cycle.cycle_images[1] = Field::Set("/2.png");
    cycle.cycle_images[8] = Field::Clear;
    let n = Notification::Tile(Tile {
        id: Some("/C.xaml"),
        template: TileTemplate::Cycle(cycle),
    });
    assert_eq!(
        body(&n, &Options::default()).unwrap(),
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><wp:Notification xmlns:wp="WPNotification" Version="2.0">"#,
            r#"<wp:Tile Id="/C.xaml" Template="CycleTile"><wp:SmallBackgroundImage>/s.png</wp:SmallBackgroundImage>"#,
            r#"<wp:CycleImage1>/1.png</wp:CycleImage1><wp:CycleImage2>/2.png</wp:CycleImage2>"#,
            r#"<wp:CycleImage9 Action="Clear"></wp:CycleImage9><wp:Count>3</wp:Count><wp:Title>c</wp:Title>"#,
            r#"</wp:Tile></wp:Notification>"#,
        )
    );
}

#[test]
fn count_range() {
    for (count, text) in [(0u8, "0"), (9, "9"), (10, "10"), (99, "99")] {
        let n = standard(StandardTile {
            count: Field::Set(count),
            ..Default::default()
        });
        assert!(
            body(&n, &Options::default())
                .unwrap()
                .contains(&format!("<wp:Count>{text}</wp:Count>"))
        );
    }
    for count in [100u8, 255] {
        let n = standard(StandardTile {
            count: Field::Set(count),
            ..Default::default()
        });
        assert_eq!(
            body(&n, &Options::default()),
            Err(field_err(
                FieldName::Count,
                FieldProblem::CountOutOfRange { value: count }
            ))
        );
    }
}

#[test]
fn only_what_is_asked_is_cleared() {
    let n = standard(StandardTile {
        background_image: Field::Clear,
        ..Default::default()
    });
    assert_eq!(
        body(&n, &Options::default()).unwrap(),
        format!(
            "{ENVELOPE}<wp:Tile><wp:BackgroundImage Action=\"Clear\"></wp:BackgroundImage></wp:Tile></wp:Notification>"
        )
    );
}

#[test]
fn os_gating_refuses_and_never_drops() {
    use TargetOs::*;
    let not_supported =
        |field, target, since| field_err(field, FieldProblem::NotSupported { target, since });
    let param = Notification::Toast(Toast {
        text1: Some("a"),
        param: Some("/p"),
        ..Toast::default()
    });
    let sound = Notification::Toast(Toast {
        text1: Some("a"),
        sound: Some(Sound::Silent),
        ..Toast::default()
    });
    let id = Notification::Tile(Tile {
        id: Some("/t"),
        template: TileTemplate::default(),
    });
    let back = standard(StandardTile {
        back_title: Field::Set("b"),
        ..Default::default()
    });
    let clear = standard(StandardTile {
        title: Field::Clear,
        ..Default::default()
    });
    let flip = full_flip();
    let iconic = Notification::Tile(Tile {
        id: None,
        template: TileTemplate::Iconic(IconicTile::default()),
    });
    let cycle = Notification::Tile(Tile {
        id: None,
        template: TileTemplate::Cycle(CycleTile::default()),
    });
    let voip = Notification::Raw(Raw {
        body: b"x",
        voip: true,
    });
    let cases: &[(&Notification<'_>, FieldName, TargetOs)] = &[
        (&param, FieldName::Param, Wp71),
        (&sound, FieldName::Sound, Wp80Gdr3),
        (&id, FieldName::Id, Wp71),
        (&back, FieldName::BackTitle, Wp71),
        (&clear, FieldName::Title, Wp71),
        (&flip, FieldName::Template, Wp78),
        (&iconic, FieldName::Template, Wp78),
        (&cycle, FieldName::Template, Wp78),
        (&voip, FieldName::Voip, Wp80),
    ];
    for (n, field, since) in cases {
        for os in TargetOs::ALL {
            let got = body(n, &on_os(os));
            if os < *since {
                assert_eq!(
                    got,
                    Err(not_supported(*field, os, *since)),
                    "{field:?} on {os}"
                );
            } else {
                assert!(got.is_ok(), "{field:?} on {os}: {got:?}");
            }
        }
    }
    // What 7.0 has: toast Text1/Text2, standard tile front, raw.
    let front = standard(StandardTile {
        background_image: Field::Set("/b"),
        count: Field::Set(1),
        title: Field::Set("t"),
        ..Default::default()
    });
    body(&front, &on_os(Wp70)).unwrap();
    body(
        &Notification::Toast(Toast {
            text1: Some("a"),
            text2: Some("b"),
            ..Toast::default()
        }),
        &on_os(Wp70),
    )
    .unwrap();
    body(
        &Notification::Raw(Raw {
            body: b"x",
            voip: false,
        }),
        &on_os(Wp70),
    )
    .unwrap();
}

// ---- limits -------------------------------------------------------------------

#[test]
fn payload_limit_is_3072_bytes_by_default_and_configurable() {
    let overhead = body(&toast(""), &Options::default()).unwrap_err();
    assert_eq!(overhead, EncodeError::EmptyToast);
    let base = body(&toast("x"), &Options::default()).unwrap().len() - 1;
    let fits = "x".repeat(3072 - base);
    assert_eq!(
        body(&toast(&fits), &Options::default()).unwrap().len(),
        3072
    );
    let over = "x".repeat(3073 - base);
    assert_eq!(
        body(&toast(&over), &Options::default()),
        Err(EncodeError::BodyTooLarge {
            len: 3073,
            limit: 3072
        })
    );
    // Escapes count: the limit is on bytes on the wire.
    let amps = "&".repeat((3072 - base) / 5 + 1);
    assert!(matches!(
        body(&toast(&amps), &Options::default()),
        Err(EncodeError::BodyTooLarge { .. })
    ));
    let small = Options {
        limits: Limits {
            payload: 1024,
            ..Limits::default()
        },
        ..Options::default()
    };
    assert_eq!(
        body(&toast(&fits), &small),
        Err(EncodeError::BodyTooLarge {
            len: 3072,
            limit: 1024
        })
    );
}

#[test]
fn raw_limit_is_1024_bytes_by_default_and_configurable() {
    let ok = vec![7u8; 1024];
    assert_eq!(
        body(
            &Notification::Raw(Raw {
                body: &ok,
                voip: false
            }),
            &Options::default()
        )
        .unwrap()
        .len(),
        1024
    );
    let big = vec![7u8; 2000];
    let o = Options {
        limits: Limits {
            raw: 2000,
            ..Limits::default()
        },
        ..Options::default()
    };
    assert_eq!(
        body(
            &Notification::Raw(Raw {
                body: &big,
                voip: false
            }),
            &o
        )
        .unwrap()
        .len(),
        2000
    );
}

/// `encode_request` of a raw notification (on hosts a path of its own, its
/// length known at once) gives the bytes and refusals of the two-step path,
/// and leaves a buffer it refuses unchanged.
#[test]
fn raw_requests_encode_as_the_two_step_path_does() {
    let channels = [
        CHANNEL,
        HTTPS_CHANNEL,
        "http://h:1",
        "http://h?q=1",
        "https://[::1]:8443/p?",
    ];
    let bodies: Vec<Vec<u8>> = [0, 1, 9, 10, 99, 100, 1000, 1024, 1025]
        .iter()
        .map(|&n| (0..n).map(|i| (i * 7) as u8).collect())
        .collect();
    let mut cases = 0;
    for uri in channels {
        let channel = channel(uri);
        for body in &bodies {
            for voip in [false, true] {
                let n = Notification::Raw(Raw { body, voip });
                for o in raw_options() {
                    let two_step = Request::notification(channel, &n, &o).map(|r| {
                        let mut wire = vec![0; r.http_len()];
                        r.write_http(&mut wire).unwrap();
                        wire
                    });
                    let len = two_step.as_ref().map_or(0, Vec::len);
                    for room in [8192, len, len.saturating_sub(1), 0] {
                        let mut buf = vec![0xAA; room];
                        let got = encode_request(channel, &n, &o, &mut buf);
                        match &two_step {
                            Ok(wire) if room >= len => {
                                assert_eq!(got, Ok(len), "{uri} {o:?}");
                                assert_eq!(buf[..len], wire[..], "{uri} {o:?}");
                            }
                            Ok(_) => {
                                assert_eq!(got, Err(EncodeError::BufferTooSmall { needed: len }));
                                assert!(buf.iter().all(|&b| b == 0xAA));
                            }
                            Err(e) => {
                                assert_eq!(got, Err(*e), "{uri} {o:?}");
                                assert!(buf.iter().all(|&b| b == 0xAA));
                            }
                        }
                    }
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 5 * 9 * 2 * 3 * 2 * 3 * 2 * 3);
    // Longer lengths, up to eight digits.
    let o = Options {
        limits: Limits {
            raw: usize::MAX,
            ..Limits::default()
        },
        ..Options::default()
    };
    for len in [10_000, 99_999, 123_456, 1_000_000, 10_000_000] {
        let body = vec![b'r'; len];
        let n = Notification::Raw(Raw {
            body: &body,
            voip: false,
        });
        let wire = http(CHANNEL, &n, &o).unwrap();
        let mut buf = vec![0; wire.len() + 1];
        assert_eq!(
            encode_request(channel(CHANNEL), &n, &o, &mut buf),
            Ok(wire.len())
        );
        assert_eq!(&buf[..wire.len()], wire.as_bytes());
    }
}

/// Every delivery, with and without a message id, no, a good or a bad
/// callback URI, an OS with and without VoIP, and limits that do and do not
/// refuse.
fn raw_options() -> Vec<Options<'static>> {
    let mut all = Vec::new();
    for delivery in Delivery::ALL {
        for message_id in [None, Some(MessageId([0xC3; 16]))] {
            for callback_uri in [None, Some("https://cb.example/x?y=1"), Some("no uri")] {
                for target_os in [TargetOs::default(), TargetOs::Wp71] {
                    for limits in [
                        Limits::default(),
                        Limits {
                            raw: 99,
                            ..Limits::default()
                        },
                        Limits {
                            headers: 120,
                            ..Limits::default()
                        },
                    ] {
                        all.push(Options {
                            delivery,
                            message_id,
                            callback_uri,
                            target_os,
                            limits,
                        });
                    }
                }
            }
        }
    }
    all
}

#[test]
fn content_length_counts_utf8_bytes_not_characters() {
    let n = toast("é€😀");
    let r = Request::notification(channel(CHANNEL), &n, &Options::default()).unwrap();
    let chars = body(&n, &Options::default()).unwrap().chars().count();
    assert_eq!(r.body_len(), chars + 1 + 2 + 3);
    assert!(headers_of(&r).contains(&("Content-Length".into(), r.body_len().to_string())));
}

#[test]
fn header_limit_is_checked_before_writing() {
    let t = toast("a");
    let long_cb = format!("https://example.com/{}", "c".repeat(1000));
    let o = Options {
        callback_uri: Some(&long_cb),
        ..Options::default()
    };
    let err = Request::notification(channel(HTTPS_CHANNEL), &t, &o).unwrap_err();
    let EncodeError::HeadersTooLarge { len, limit } = err else {
        panic!("{err:?}")
    };
    assert_eq!(limit, 1024);
    // Host, Content-Type, X-WindowsPhone-Target, X-NotificationClass, X-CallbackURI, Content-Length lines.
    let expected = "Host: sn1.notify.live.net\r\n".len()
        + "Content-Type: text/xml\r\n".len()
        + "X-WindowsPhone-Target: toast\r\n".len()
        + "X-NotificationClass: 2\r\n".len()
        + format!("X-CallbackURI: {long_cb}\r\n").len()
        + "Content-Length: 142\r\n".len();
    assert_eq!(len, expected);
    let roomy = Options {
        limits: Limits {
            headers: 4096,
            ..Limits::default()
        },
        ..o
    };
    let r = Request::notification(channel(HTTPS_CHANNEL), &t, &roomy).unwrap();
    assert_eq!(r.headers_len(), expected);
}

// ---- buffers --------------------------------------------------------------------

#[test]
fn too_small_buffers_report_the_need_and_stay_unchanged() {
    let n = full_flip();
    let r = Request::notification(channel(CHANNEL), &n, &Options::default()).unwrap();
    for (len, needed, result) in [
        (r.http_len() - 1, r.http_len(), {
            let mut buf = vec![0xAA; r.http_len() - 1];
            let res = r.write_http(&mut buf).map_err(|e| e.needed);
            assert!(buf.iter().all(|&b| b == 0xAA));
            res
        }),
        (r.body_len() - 1, r.body_len(), {
            let mut buf = vec![0xAA; r.body_len() - 1];
            let res = r.write_body(&mut buf).map_err(|e| e.needed);
            assert!(buf.iter().all(|&b| b == 0xAA));
            res
        }),
        (0, r.body_len(), {
            let mut buf = [];
            n.encode(&Options::default(), &mut buf)
                .map_err(|e| match e {
                    EncodeError::BufferTooSmall { needed } => needed,
                    other => panic!("{other:?}"),
                })
        }),
    ] {
        assert_eq!(result, Err(needed), "buffer of {len}");
    }
    // A larger buffer is fine; only the reported prefix is written.
    let mut buf = vec![0xAA; r.http_len() + 10];
    assert_eq!(r.write_http(&mut buf).unwrap(), r.http_len());
    assert!(buf[r.http_len()..].iter().all(|&b| b == 0xAA));
}

#[test]
fn errors_name_the_field_and_reason() {
    let e = field_err(
        FieldName::Count,
        FieldProblem::CountOutOfRange { value: 100 },
    )
    .to_string();
    assert_eq!(e, "Count: 100 is out of range (a count is 0 to 99)");
    let e = field_err(
        FieldName::Param,
        FieldProblem::NotSupported {
            target: TargetOs::Wp70,
            since: TargetOs::Wp71,
        },
    );
    assert_eq!(
        e.to_string(),
        "Param: not supported by Windows Phone 7.0 (needs 7.1 or later)"
    );
    let e = field_err(
        FieldName::Text1,
        FieldProblem::ForbiddenXmlChar {
            offset: 3,
            code_point: 0xb,
        },
    );
    assert_eq!(
        e.to_string(),
        "Text1: character U+000B at byte 3 is not allowed in XML 1.0"
    );
    assert_eq!(
        EncodeError::BufferTooSmall { needed: 9 }.to_string(),
        "the output buffer is too small: 9 bytes needed"
    );
}

#[test]
fn voip_refuses_a_delivery_interval() {
    let voip = Notification::Raw(Raw {
        body: b"<IncomingCall/>",
        voip: true,
    });
    for delivery in [Delivery::Within450s, Delivery::Within900s] {
        let o = Options {
            delivery,
            ..Options::default()
        };
        assert_eq!(
            Request::notification(channel(CHANNEL), &voip, &o).unwrap_err(),
            field_err(FieldName::Voip, FieldProblem::VoipNeedsImmediateDelivery)
        );
    }
}

#[test]
fn empty_tile_id_is_refused() {
    let n = Notification::Tile(Tile {
        id: Some(""),
        template: TileTemplate::default(),
    });
    assert_eq!(
        body(&n, &Options::default()),
        Err(field_err(FieldName::Id, FieldProblem::Empty))
    );
}

#[test]
fn template_elements_by_name() {
    for mut template in [
        TileTemplate::Standard(StandardTile::default()),
        TileTemplate::Flip(FlipTile::default()),
        TileTemplate::Iconic(IconicTile::default()),
        TileTemplate::Cycle(CycleTile::default()),
    ] {
        let names = template.field_names();
        // Set every element by name, then check the XML lists them in the documented order.
        for (i, name) in names.iter().enumerate() {
            if *name == FieldName::Count {
                *template.count_mut() = Field::Set(i as u8);
            } else if *name == FieldName::BackgroundColor {
                *template.text_mut(*name).unwrap() = Field::Set("#FF000000");
            } else {
                *template.text_mut(*name).unwrap() = Field::Set("v");
            }
        }
        assert!(template.text_mut(FieldName::Count).is_none());
        assert!(template.text_mut(FieldName::Text1).is_none());
        let xml = body(
            &Notification::Tile(Tile { id: None, template }),
            &Options::default(),
        )
        .unwrap();
        let mut at = 0;
        for name in names {
            let open = format!("<wp:{}>", name.as_str());
            let pos = xml[at..]
                .find(&open)
                .unwrap_or_else(|| panic!("{open} in order in {xml}"));
            at += pos + open.len();
        }
    }
    assert!(
        TileTemplate::Standard(StandardTile::default())
            .text_mut(FieldName::IconImage)
            .is_none()
    );
    assert!(
        TileTemplate::Flip(FlipTile::default())
            .text_mut(FieldName::CycleImage1)
            .is_none()
    );
}

#[test]
fn names_parse_back() {
    for os in TargetOs::ALL {
        assert_eq!(os.as_str().parse::<TargetOs>(), Ok(os));
    }
    for d in Delivery::ALL {
        assert_eq!(d.as_str().parse::<Delivery>(), Ok(d));
    }
    assert!("6.5".parse::<TargetOs>().is_err());
    assert!("soon".parse::<Delivery>().is_err());
}

/// With several problems, a body's own refusal comes first, whichever path
/// encodes it (found by the encode fuzz target's oracle).
#[test]
fn a_body_refusal_comes_before_an_options_refusal_on_every_path() {
    let tile = Notification::Tile(Tile {
        id: None,
        template: TileTemplate::Standard(StandardTile {
            count: Field::Set(105),
            ..StandardTile::default()
        }),
    });
    let options = Options {
        callback_uri: Some("not a uri"),
        ..Options::default()
    };
    let expected = field_err(
        FieldName::Count,
        FieldProblem::CountOutOfRange { value: 105 },
    );
    let https = channel(HTTPS_CHANNEL);
    assert_eq!(
        Request::notification(https, &tile, &options).unwrap_err(),
        expected
    );
    for room in [8192, 16] {
        let mut buf = vec![0; room];
        assert_eq!(
            encode_request(https, &tile, &options, &mut buf),
            Err(expected)
        );
    }
    let mut sender: Sender<Vec<u8>, 2, 2> = Sender::new(SenderConfig::default(), vec![0; 4096]);
    assert_eq!(
        sender.submit(Instant::ZERO, https, &tile, &options),
        Err(SubmitError::Encode(expected))
    );
    // Without the body's problem, the options' one is reported.
    let fine = Notification::Tile(Tile::default());
    assert!(matches!(
        encode_request(https, &fine, &options, &mut [0; 8192]),
        Err(EncodeError::Field {
            field: FieldName::CallbackUri,
            ..
        })
    ));
}

/// `encode_request` places a toast's body behind a head with a three-digit
/// `Content-Length` and moves it when the length has two or four digits:
/// the same bytes as the two-step path on both sides of each boundary, with
/// the default and a small payload limit.
#[test]
fn encode_request_moves_the_body_across_digit_counts() {
    let small = Options {
        limits: Limits {
            payload: 500,
            ..Limits::default()
        },
        ..Options::default()
    };
    let mut checked = [0; 5];
    for options in [Options::default(), small] {
        for text_len in 0..1100 {
            let text = "x".repeat(text_len);
            let n = Notification::Toast(Toast {
                text1: Some(&text),
                ..Toast::default()
            });
            let two_step = http(CHANNEL, &n, &options);
            let mut buf = vec![0xAA; 8192];
            let got = encode_request(channel(CHANNEL), &n, &options, &mut buf);
            match two_step {
                Ok(wire) => {
                    assert_eq!(got, Ok(wire.len()), "{text_len}");
                    assert_eq!(&buf[..wire.len()], wire.as_bytes(), "{text_len}");
                    let body_len = n.encoded_len(&options).unwrap();
                    checked[body_len.ilog10() as usize] += 1;
                }
                Err(e) => assert_eq!(got, Err(e), "{text_len}"),
            }
        }
    }
    // Bodies of three and four digits were written (toast bodies have at least 100 bytes).
    assert!(checked[2] > 0 && checked[3] > 0, "{checked:?}");
}

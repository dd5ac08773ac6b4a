//! Property tests: every notification within the limits encodes; an
//! independent XML parser (quick-xml) reads back exactly the values given;
//! lengths are exact; arbitrary strings are refused or give well-formed XML.

use mpns_proto::{
    ChannelUri, CycleTile, EncodeError, Field, FieldProblem, FlipTile, IconicTile, Notification,
    Options, Request, Sound, StandardTile, Tile, TileTemplate, Toast, encode_request,
};
use proptest::prelude::*;
use quick_xml::XmlVersion;
use quick_xml::events::Event;

/// An element as read back: name, attributes, text.
#[derive(Debug, PartialEq)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
}

/// Parses a body with quick-xml; panics (fails the property) on malformed XML.
fn read_back(body: &[u8]) -> Vec<Element> {
    let text = std::str::from_utf8(body).expect("UTF-8 body");
    for c in text.chars() {
        let ok =
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}');
        assert!(ok, "XML-forbidden character {c:?} in {text:?}");
    }
    assert!(text.starts_with(r#"<?xml version="1.0" encoding="utf-8"?>"#));
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut out: Vec<Element> = Vec::new();
    let mut depth = 0usize;
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("malformed XML {e}: {text}"))
        {
            Event::Decl(_) => {}
            Event::Start(s) => {
                depth += 1;
                let attributes = s
                    .attributes()
                    .map(|a| {
                        let a = a.expect("attribute");
                        let value = a
                            .normalized_value(XmlVersion::Implicit1_0)
                            .expect("attribute value");
                        (a.key.as_ref().to_string(), value.into_owned())
                    })
                    .collect();
                out.push(Element {
                    name: s.name().as_ref().to_string(),
                    attributes,
                    text: String::new(),
                });
            }
            Event::Text(t) => {
                out.last_mut().expect("text inside an element").text += &t.xml10_content()
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().expect("char ref") {
                    Some(c) => c,
                    None => match &*r.xml10_content() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("unknown entity {other}"),
                    },
                };
                out.last_mut()
                    .expect("reference inside an element")
                    .text
                    .push(c);
            }
            Event::End(_) => depth -= 1,
            Event::Eof => break,
            other => panic!("unexpected {other:?} in {text}"),
        }
    }
    assert_eq!(depth, 0, "unclosed element");
    out
}

// ---- an owned mirror of the model, for generation ---------------------------

#[derive(Clone, Debug)]
enum F {
    Absent,
    Set(String),
    Clear,
}

impl F {
    fn as_field(&self) -> Field<&str> {
        match self {
            F::Absent => Field::Absent,
            F::Set(s) => Field::Set(s),
            F::Clear => Field::Clear,
        }
    }
    fn as_count(&self) -> Field<u8> {
        match self {
            F::Absent => Field::Absent,
            F::Set(s) => Field::Set(s.parse().unwrap()),
            F::Clear => Field::Clear,
        }
    }
}

/// Element names per template, in Microsoft's documented order.
const STANDARD: &[&str] = &[
    "BackgroundImage",
    "Count",
    "Title",
    "BackBackgroundImage",
    "BackTitle",
    "BackContent",
];
const FLIP: &[&str] = &[
    "SmallBackgroundImage",
    "WideBackgroundImage",
    "WideBackBackgroundImage",
    "WideBackContent",
    "BackgroundImage",
    "Count",
    "Title",
    "BackBackgroundImage",
    "BackTitle",
    "BackContent",
];
const ICONIC: &[&str] = &[
    "SmallIconImage",
    "IconImage",
    "WideContent1",
    "WideContent2",
    "WideContent3",
    "Count",
    "Title",
    "BackgroundColor",
];
const CYCLE: &[&str] = &[
    "SmallBackgroundImage",
    "CycleImage1",
    "CycleImage2",
    "CycleImage3",
    "CycleImage4",
    "CycleImage5",
    "CycleImage6",
    "CycleImage7",
    "CycleImage8",
    "CycleImage9",
    "Count",
    "Title",
];

#[derive(Clone, Debug)]
enum Spec {
    Toast {
        text1: Option<String>,
        text2: Option<String>,
        param: Option<String>,
        sound: Option<Option<String>>,
    },
    Tile {
        id: Option<String>,
        template: usize,
        fields: Vec<F>,
    },
    Raw {
        body: Vec<u8>,
        voip: bool,
    },
}

/// Text that XML allows, rich in characters to escape and in multi-byte UTF-8.
fn xml_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            2 => prop::sample::select(vec!['&', '<', '>', '"', '\'', ' ', '\t', '\n', '\r', '/', '?', '=', ';', '#']),
            1 => prop::sample::select(vec!['é', '€', '😀', '\u{85}', '\u{fffd}', '\u{10ffff}', '\u{7f}']),
        ],
        0..40,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn field(value: BoxedStrategy<String>) -> impl Strategy<Value = F> {
    prop_oneof![2 => Just(F::Absent), 3 => value.prop_map(F::Set), 1 => Just(F::Clear)]
}

fn color() -> BoxedStrategy<String> {
    "#[0-9A-Fa-f]{8}".boxed()
}

fn spec() -> impl Strategy<Value = Spec> {
    let toast = (
        proptest::option::of(xml_text()),
        proptest::option::of(xml_text()),
        proptest::option::of(xml_text()),
        proptest::option::of(proptest::option::of(xml_text())),
    )
        .prop_filter("a toast needs text", |(a, b, _, _)| {
            a.as_deref().is_some_and(|s| !s.is_empty())
                || b.as_deref().is_some_and(|s| !s.is_empty())
        })
        .prop_map(|(text1, text2, param, sound)| Spec::Toast {
            text1,
            text2,
            param,
            sound,
        });
    // A tile Id names a page: never empty.
    let id = xml_text().prop_filter("non-empty", |s| !s.is_empty());
    let tile = (proptest::option::of(id), 0usize..4).prop_flat_map(|(id, template)| {
        let names = [STANDARD, FLIP, ICONIC, CYCLE][template];
        let fields: Vec<_> = names
            .iter()
            .map(|n| match *n {
                "Count" => field((0u8..=99).prop_map(|c| c.to_string()).boxed()).boxed(),
                "BackgroundColor" => field(color()).boxed(),
                _ => field(xml_text().boxed()).boxed(),
            })
            .collect();
        fields.prop_map(move |fields| Spec::Tile {
            id: id.clone(),
            template,
            fields,
        })
    });
    let raw = (
        proptest::collection::vec(any::<u8>(), 0..=1024),
        any::<bool>(),
    )
        .prop_map(|(body, voip)| Spec::Raw { body, voip });
    prop_oneof![toast, tile, raw]
}

fn build(spec: &Spec) -> Notification<'_> {
    match spec {
        Spec::Toast {
            text1,
            text2,
            param,
            sound,
        } => Notification::Toast(Toast {
            text1: text1.as_deref(),
            text2: text2.as_deref(),
            param: param.as_deref(),
            sound: sound.as_ref().map(|s| match s {
                Some(file) => Sound::File(file),
                None => Sound::Silent,
            }),
        }),
        Spec::Tile {
            id,
            template,
            fields: f,
        } => {
            let t = |i: usize| f[i].as_field();
            let template = match template {
                0 => TileTemplate::Standard(StandardTile {
                    background_image: t(0),
                    count: f[1].as_count(),
                    title: t(2),
                    back_background_image: t(3),
                    back_title: t(4),
                    back_content: t(5),
                }),
                1 => TileTemplate::Flip(FlipTile {
                    small_background_image: t(0),
                    wide_background_image: t(1),
                    wide_back_background_image: t(2),
                    wide_back_content: t(3),
                    background_image: t(4),
                    count: f[5].as_count(),
                    title: t(6),
                    back_background_image: t(7),
                    back_title: t(8),
                    back_content: t(9),
                }),
                2 => TileTemplate::Iconic(IconicTile {
                    small_icon_image: t(0),
                    icon_image: t(1),
                    wide_content1: t(2),
                    wide_content2: t(3),
                    wide_content3: t(4),
                    count: f[5].as_count(),
                    title: t(6),
                    background_color: t(7),
                }),
                _ => TileTemplate::Cycle(CycleTile {
                    small_background_image: t(0),
                    cycle_images: core::array::from_fn(|i| t(i + 1)),
                    count: f[10].as_count(),
                    title: t(11),
                }),
            };
            Notification::Tile(Tile {
                id: id.as_deref(),
                template,
            })
        }
        Spec::Raw { body, voip } => Notification::Raw(mpns_proto::Raw { body, voip: *voip }),
    }
}

/// What the XML must say for `spec`: root attributes, container, and elements in order.
fn expected(spec: &Spec) -> Vec<Element> {
    let el = |name: &str, attributes: Vec<(&str, &str)>, text: &str| Element {
        name: format!("wp:{name}"),
        attributes: attributes
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        text: text.to_string(),
    };
    let mut out = Vec::new();
    match spec {
        Spec::Toast {
            text1,
            text2,
            param,
            sound,
        } => {
            out.push(el("Notification", vec![("xmlns:wp", "WPNotification")], ""));
            out.push(el("Toast", vec![], ""));
            for (name, v) in [("Text1", text1), ("Text2", text2), ("Param", param)] {
                if let Some(v) = v {
                    out.push(el(name, vec![], v));
                }
            }
            match sound {
                Some(Some(file)) => out.push(el("Sound", vec![], file)),
                Some(None) => out.push(el("Sound", vec![("Silent", "true")], "")),
                None => {}
            }
        }
        Spec::Tile {
            id,
            template,
            fields,
        } => {
            let names = [STANDARD, FLIP, ICONIC, CYCLE][*template];
            let template_name = [
                None,
                Some("FlipTile"),
                Some("IconicTile"),
                Some("CycleTile"),
            ][*template];
            let mut root = vec![("xmlns:wp", "WPNotification")];
            if template_name.is_some() {
                root.push(("Version", "2.0"));
            }
            out.push(el("Notification", root, ""));
            let mut attrs = vec![];
            if let Some(id) = id {
                attrs.push(("Id", id.as_str()));
            }
            if let Some(t) = template_name {
                attrs.push(("Template", t));
            }
            out.push(el("Tile", attrs, ""));
            for (name, f) in names.iter().zip(fields) {
                match f {
                    F::Absent => {}
                    F::Set(v) => out.push(el(name, vec![], v)),
                    F::Clear => out.push(el(name, vec![("Action", "Clear")], "")),
                }
            }
        }
        Spec::Raw { .. } => unreachable!("raw has no XML"),
    }
    out
}

/// Any string, or one made of the characters the encoder treats specially:
/// controls, the five XML specials, U+FFFE and U+FFFF (which start with the
/// byte 0xEF, as does the allowed U+FEFF).
fn tricky_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f&<>\"'a-z\u{fffe}\u{ffff}\u{feff}]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_notification_within_limits_encodes_and_reads_back(spec in spec()) {
        let n = build(&spec);
        let options = Options::default();
        let len = match n.encoded_len(&options) {
            Ok(len) => len,
            // Generated values may exceed the 3072-byte payload limit; nothing else may fail.
            Err(EncodeError::BodyTooLarge { len, limit }) => {
                prop_assert!(len > limit);
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(format!("refused: {e}"))),
        };
        let mut buf = vec![0u8; len];
        prop_assert_eq!(n.encode(&options, &mut buf).unwrap(), len);
        match &spec {
            Spec::Raw { body, .. } => prop_assert_eq!(&buf, body),
            _ => prop_assert_eq!(read_back(&buf), expected(&spec)),
        }
        // The HTTP request carries the same body and an exact Content-Length.
        let channel = ChannelUri::parse("http://127.0.0.1:9/throttledthirdparty/01.00/p").unwrap();
        let request = Request::notification(channel, &n, &options).unwrap();
        let mut wire = vec![0u8; request.http_len()];
        prop_assert_eq!(request.write_http(&mut wire).unwrap(), wire.len());
        prop_assert!(wire.ends_with(&buf));
        let head = std::str::from_utf8(&wire[..wire.len() - len]).unwrap();
        let content_length = format!("\r\nContent-Length: {len}\r\n\r\n");
        prop_assert!(head.ends_with(&content_length));
        // `encode_request` writes the same bytes in one pass into a roomy
        // buffer, in two into a tight one, and refuses a short one untouched.
        for room in [8192, wire.len()] {
            let mut out = vec![0xAA; room];
            prop_assert_eq!(encode_request(channel, &n, &options, &mut out), Ok(wire.len()));
            prop_assert_eq!(&out[..wire.len()], &wire[..]);
        }
        let mut short = vec![0xAA; wire.len() - 1];
        prop_assert_eq!(
            encode_request(channel, &n, &options, &mut short),
            Err(EncodeError::BufferTooSmall { needed: wire.len() })
        );
        prop_assert!(short.iter().all(|&b| b == 0xAA));
    }

    #[test]
    fn arbitrary_strings_are_refused_or_well_formed(
        // Plain prefixes of every length put the interesting bytes at every
        // offset, also past the runs the encoder copies at once.
        prefixes in ("[a-zA-Z0-9 /.]{0,40}", "[a-zA-Z0-9 /.]{0,40}"),
        texts in (tricky_text(), tricky_text()),
    ) {
        let (text1, id) = (format!("{}{}", prefixes.0, texts.0), format!("{}{}", prefixes.1, texts.1));
        let toast = Notification::Toast(Toast { text1: Some(&text1), text2: Some("x"), ..Toast::default() });
        let tile = Notification::Tile(Tile {
            id: Some(&id),
            template: TileTemplate::Standard(StandardTile { title: Field::Set(&text1), ..Default::default() }),
        });
        for (n, field_values) in [(toast, vec![&text1]), (tile, vec![&id, &text1])] {
            let forbidden = |s: &str| s.char_indices().find(|&(_, c)| {
                (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{fffe}' || c == '\u{ffff}'
            });
            // The one-pass request encoder refuses exactly what the two-pass one does.
            let channel = ChannelUri::parse("http://127.0.0.1:9/throttledthirdparty/01.00/p").unwrap();
            let mut wire = vec![0u8; 8192];
            let one_pass = encode_request(channel, &n, &Options::default(), &mut wire);
            let two_pass = Request::notification(channel, &n, &Options::default()).map(|r| r.http_len());
            prop_assert_eq!(one_pass, two_pass);
            let mut buf = vec![0u8; 4096];
            match n.encode(&Options::default(), &mut buf) {
                Ok(len) => {
                    prop_assert!(field_values.iter().all(|v| forbidden(v).is_none()));
                    let elements = read_back(&buf[..len]);
                    prop_assert!(elements.iter().any(|e| e.text == text1));
                }
                Err(EncodeError::Field { problem: FieldProblem::ForbiddenXmlChar { offset, code_point }, .. }) => {
                    let first = field_values.iter().find_map(|v| forbidden(v));
                    prop_assert_eq!(first.map(|(o, c)| (o, c as u32)), Some((offset, code_point)));
                }
                Err(EncodeError::BodyTooLarge { .. }) => {}
                Err(EncodeError::Field { field: mpns_proto::FieldName::Id, problem: FieldProblem::Empty }) => {
                    prop_assert!(id.is_empty());
                }
                Err(e) => return Err(TestCaseError::fail(format!("unexpected refusal: {e}"))),
            }
        }
    }
}

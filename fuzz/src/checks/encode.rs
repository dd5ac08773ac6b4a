//! `encode`: any notification and options (payloads and request headers).
//!
//! An independent oracle, written from the protocol's rules, says whether the request must
//! be refused (and with which errors) or what its body and headers must be,
//! byte for byte. Then:
//!
//! - a refusal is one of the errors the oracle allows, and `encoded_len` /
//!   `encode` refuse the body the same way;
//! - an accepted request's body is the oracle's; it is well-formed XML (only
//!   XML 1.0 characters, read by quick-xml with end-name checks), and every
//!   value reads back unchanged through a conforming reader's normalisation
//!   (line ends in text, whitespace in attributes);
//! - `body_len`, `encoded_len`, `http_len` and `headers_len` are exact, and
//!   the HTTP/1.1 bytes parse back with the oracle's headers;
//! - a buffer one byte short is refused with the size needed and left unchanged;
//! - the model survives a postcard round trip.

use mpns_proto::{
    ChannelUri, Delivery, EncodeError, Field, FieldName, FieldProblem, Notification, Options, Raw,
    Request, RequestKind, Sound, TargetOs, Tile, TileTemplate, Uri,
};
use quick_xml::XmlVersion;
use quick_xml::events::Event;

use super::channel_uri::request_parses;
use super::is_xml_char;

/// Channels the fuzzer chooses from: http and https, ports, queries, an IPv6
/// literal, an empty path, a host of 1000 bytes (headers near their limit).
pub fn channel(index: u8) -> ChannelUri<'static> {
    static LONG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text: &'static str = match index % 8 {
        0 => "http://127.0.0.1:47001/throttledthirdparty/01.00/ABC",
        1 => "http://db3.notify.live.net/throttledthirdparty/01.00/AAGvdLTQ?x=1&y=2",
        2 => "https://sn1.notify.live.net/unthrottledthirdparty/01.00/AAG5O",
        3 => "http://s.notify.live.net/u/1/sin/H2QAAAA/d2luZG93c3Bob25lZGVmYXVsdA/AQ",
        4 => "https://[::1]:8443",
        5 => "HTTPS://Proxy.Example:65535/?q=%20&r='\"<>",
        6 => "http://h",
        _ => LONG.get_or_init(|| format!("https://{}.example/p", "h".repeat(1000))),
    };
    ChannelUri::parse(text).expect("fixed channel")
}

/// Runs the check on the JSON form `[channel, notification, options]` (the seeds).
pub fn check_json(data: &[u8]) {
    if let Ok((index, notification, options)) =
        serde_json::from_slice::<(u8, Notification<'_>, Options<'_>)>(data)
    {
        check(channel(index), &notification, &options);
    }
}

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>";
const ROOT: &str = "<wp:Notification xmlns:wp=\"WPNotification\"";

/// Escapes a value exactly once; attributes also escape TAB and LF, and
/// both escape CR, which a reader would otherwise normalise away.
fn escape(s: &str, attribute: bool, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
}

/// The oldest OS that knows a field (the OS gating of `mpns-proto/src/payload.rs`).
fn since(field: FieldName) -> TargetOs {
    use FieldName::*;
    match field {
        Param | Id | BackBackgroundImage | BackTitle | BackContent => TargetOs::Wp71,
        Template => TargetOs::Wp78,
        Voip => TargetOs::Wp80,
        Sound => TargetOs::Wp80Gdr3,
        _ => TargetOs::Wp70,
    }
}

/// An element value as the oracle sees it.
#[derive(Clone, Copy, Debug)]
enum V<'a> {
    Text(&'a str),
    Count(u8),
}

fn text(f: Field<&str>) -> Field<V<'_>> {
    match f {
        Field::Absent => Field::Absent,
        Field::Set(s) => Field::Set(V::Text(s)),
        Field::Clear => Field::Clear,
    }
}

fn count<'a>(f: Field<u8>) -> Field<V<'a>> {
    match f {
        Field::Absent => Field::Absent,
        Field::Set(n) => Field::Set(V::Count(n)),
        Field::Clear => Field::Clear,
    }
}

/// The elements of a tile in Microsoft's documented order .
fn tile_elements<'a>(template: &TileTemplate<'a>) -> Vec<(FieldName, Field<V<'a>>)> {
    use FieldName as N;
    match *template {
        TileTemplate::Standard(t) => vec![
            (N::BackgroundImage, text(t.background_image)),
            (N::Count, count(t.count)),
            (N::Title, text(t.title)),
            (N::BackBackgroundImage, text(t.back_background_image)),
            (N::BackTitle, text(t.back_title)),
            (N::BackContent, text(t.back_content)),
        ],
        TileTemplate::Flip(t) => vec![
            (N::SmallBackgroundImage, text(t.small_background_image)),
            (N::WideBackgroundImage, text(t.wide_background_image)),
            (
                N::WideBackBackgroundImage,
                text(t.wide_back_background_image),
            ),
            (N::WideBackContent, text(t.wide_back_content)),
            (N::BackgroundImage, text(t.background_image)),
            (N::Count, count(t.count)),
            (N::Title, text(t.title)),
            (N::BackBackgroundImage, text(t.back_background_image)),
            (N::BackTitle, text(t.back_title)),
            (N::BackContent, text(t.back_content)),
        ],
        TileTemplate::Iconic(t) => vec![
            (N::SmallIconImage, text(t.small_icon_image)),
            (N::IconImage, text(t.icon_image)),
            (N::WideContent1, text(t.wide_content1)),
            (N::WideContent2, text(t.wide_content2)),
            (N::WideContent3, text(t.wide_content3)),
            (N::Count, count(t.count)),
            (N::Title, text(t.title)),
            (N::BackgroundColor, text(t.background_color)),
        ],
        TileTemplate::Cycle(t) => {
            let mut v = vec![(N::SmallBackgroundImage, text(t.small_background_image))];
            for (name, image) in N::CYCLE_IMAGES.iter().zip(t.cycle_images) {
                v.push((*name, text(image)));
            }
            v.push((N::Count, count(t.count)));
            v.push((N::Title, text(t.title)));
            v
        }
    }
}

/// An element as it must read back: name, attributes, text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// Qualified name, e.g. `wp:Text1`.
    pub name: String,
    /// Attributes after attribute-value normalisation.
    pub attributes: Vec<(String, String)>,
    /// Text after end-of-line normalisation and reference resolution.
    pub text: String,
}

fn element(name: &str, attributes: &[(&str, &str)], text: &str) -> Element {
    Element {
        name: name.to_string(),
        attributes: attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        text: text.to_string(),
    }
}

/// What the oracle expects of a notification's body.
struct Body {
    /// Errors any of which the encoder may report (empty: none).
    problems: Vec<EncodeError>,
    /// The exact body when there is no problem.
    bytes: Vec<u8>,
    /// The elements it must read back as (toast and tile).
    elements: Vec<Element>,
}

fn forbidden(field: FieldName, s: &str) -> Option<EncodeError> {
    s.char_indices()
        .find(|(_, c)| !is_xml_char(*c))
        .map(|(offset, c)| EncodeError::Field {
            field,
            problem: FieldProblem::ForbiddenXmlChar {
                offset,
                code_point: u32::from(c),
            },
        })
}

fn not_supported(field: FieldName, target: TargetOs, since: TargetOs) -> Option<EncodeError> {
    (target < since).then_some(EncodeError::Field {
        field,
        problem: FieldProblem::NotSupported { target, since },
    })
}

fn is_color(s: &str) -> bool {
    s.len() == 9 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn body_oracle(n: &Notification<'_>, target: TargetOs) -> Body {
    let mut problems = Vec::new();
    let mut out = String::new();
    let mut elements = Vec::new();
    match n {
        Notification::Toast(t) => {
            let has = |s: Option<&str>| s.is_some_and(|s| !s.is_empty());
            if !has(t.text1) && !has(t.text2) {
                return Body {
                    problems: vec![EncodeError::EmptyToast],
                    bytes: Vec::new(),
                    elements,
                };
            }
            out.push_str(DECLARATION);
            out.push_str(ROOT);
            out.push_str("><wp:Toast>");
            elements.push(element(
                "wp:Notification",
                &[("xmlns:wp", "WPNotification")],
                "",
            ));
            elements.push(element("wp:Toast", &[], ""));
            let mut simple = |field: FieldName, s: &str, out: &mut String| {
                problems.extend(not_supported(field, target, since(field)));
                problems.extend(forbidden(field, s));
                let name = field.as_str();
                out.push_str(&format!("<wp:{name}>"));
                escape(s, false, out);
                out.push_str(&format!("</wp:{name}>"));
                elements.push(element(&format!("wp:{name}"), &[], s));
            };
            if let Some(s) = t.text1 {
                simple(FieldName::Text1, s, &mut out);
            }
            if let Some(s) = t.text2 {
                simple(FieldName::Text2, s, &mut out);
            }
            if let Some(s) = t.param {
                simple(FieldName::Param, s, &mut out);
            }
            match t.sound {
                None => {}
                Some(Sound::File(s)) => simple(FieldName::Sound, s, &mut out),
                Some(Sound::Silent) => {
                    problems.extend(not_supported(FieldName::Sound, target, TargetOs::Wp80Gdr3));
                    out.push_str("<wp:Sound Silent=\"true\"></wp:Sound>");
                    elements.push(element("wp:Sound", &[("Silent", "true")], ""));
                }
            }
            out.push_str("</wp:Toast></wp:Notification>");
        }
        Notification::Tile(Tile { id, template }) => {
            let name = match template {
                TileTemplate::Standard(_) => None,
                TileTemplate::Flip(_) => Some("FlipTile"),
                TileTemplate::Iconic(_) => Some("IconicTile"),
                TileTemplate::Cycle(_) => Some("CycleTile"),
            };
            out.push_str(DECLARATION);
            out.push_str(ROOT);
            let mut root = vec![("xmlns:wp", "WPNotification")];
            if name.is_some() {
                problems.extend(not_supported(FieldName::Template, target, TargetOs::Wp78));
                out.push_str(" Version=\"2.0\"");
                root.push(("Version", "2.0"));
            }
            elements.push(element("wp:Notification", &root, ""));
            out.push_str("><wp:Tile");
            let mut tile_attributes = Vec::new();
            if let Some(id) = id {
                problems.extend(not_supported(FieldName::Id, target, TargetOs::Wp71));
                if id.is_empty() {
                    problems.push(EncodeError::Field {
                        field: FieldName::Id,
                        problem: FieldProblem::Empty,
                    });
                }
                problems.extend(forbidden(FieldName::Id, id));
                out.push_str(" Id=\"");
                escape(id, true, &mut out);
                out.push('"');
                tile_attributes.push(("Id", *id));
            }
            if let Some(name) = name {
                out.push_str(&format!(" Template=\"{name}\""));
                tile_attributes.push(("Template", name));
            }
            out.push('>');
            elements.push(element("wp:Tile", &tile_attributes, ""));
            for (field, value) in tile_elements(template) {
                let tag = format!("wp:{}", field.as_str());
                match value {
                    Field::Absent => {}
                    Field::Clear => {
                        problems.extend(not_supported(
                            field,
                            target,
                            since(field).max(TargetOs::Wp71),
                        ));
                        out.push_str(&format!("<{tag} Action=\"Clear\"></{tag}>"));
                        elements.push(element(&tag, &[("Action", "Clear")], ""));
                    }
                    Field::Set(v) => {
                        problems.extend(not_supported(field, target, since(field)));
                        let shown = match v {
                            V::Count(n) => {
                                if n > 99 {
                                    problems.push(EncodeError::Field {
                                        field,
                                        problem: FieldProblem::CountOutOfRange { value: n },
                                    });
                                }
                                n.to_string()
                            }
                            V::Text(s) => {
                                if field == FieldName::BackgroundColor && !is_color(s) {
                                    problems.push(EncodeError::Field {
                                        field,
                                        problem: FieldProblem::NotAColor,
                                    });
                                }
                                problems.extend(forbidden(field, s));
                                s.to_string()
                            }
                        };
                        out.push_str(&format!("<{tag}>"));
                        escape(&shown, false, &mut out);
                        out.push_str(&format!("</{tag}>"));
                        elements.push(element(&tag, &[], &shown));
                    }
                }
            }
            out.push_str("</wp:Tile></wp:Notification>");
        }
        Notification::Raw(Raw { body, voip }) => {
            if *voip {
                problems.extend(not_supported(FieldName::Voip, target, TargetOs::Wp80));
            }
            return Body {
                problems,
                bytes: body.to_vec(),
                elements,
            };
        }
        other => panic!("a kind the oracle does not know: {other:?}"),
    }
    Body {
        problems,
        bytes: out.into_bytes(),
        elements,
    }
}

/// The header lines of the request, `Host` first, as the oracle writes them.
fn header_oracle(
    channel: &ChannelUri<'_>,
    n: &Notification<'_>,
    o: &Options<'_>,
    body_len: usize,
) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("Host", channel.host_header().to_string()),
        ("Content-Type", "text/xml".to_string()),
    ];
    let offset = match o.delivery {
        Delivery::Immediate => 0,
        Delivery::Within450s => 10,
        Delivery::Within900s => 20,
    };
    let class = match n {
        Notification::Toast(_) => {
            h.push(("X-WindowsPhone-Target", "toast".to_string()));
            2 + offset
        }
        Notification::Tile(_) => {
            h.push(("X-WindowsPhone-Target", "token".to_string()));
            1 + offset
        }
        Notification::Raw(r) if r.voip => 4,
        Notification::Raw(_) => 3 + offset,
        other => panic!("a kind the oracle does not know: {other:?}"),
    };
    h.push(("X-NotificationClass", class.to_string()));
    if let Some(id) = o.message_id {
        let hex: String = id.0.iter().map(|b| format!("{b:02x}")).collect();
        let text = format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        );
        h.push(("X-MessageID", text));
    }
    if let Some(cb) = o.callback_uri {
        h.push(("X-CallbackURI", cb.to_string()));
    }
    h.push(("Content-Length", body_len.to_string()));
    h
}

/// Parses `body` with quick-xml as a conforming XML 1.0 reader would, and
/// returns its elements in document order. Panics on malformed XML.
pub fn read_back(body: &[u8]) -> Vec<Element> {
    let text = core::str::from_utf8(body).expect("the body is UTF-8");
    if let Some(c) = text.chars().find(|c| !is_xml_char(*c)) {
        panic!("XML-forbidden character {c:?} in the body");
    }
    assert!(text.starts_with(DECLARATION), "no XML declaration");
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut out: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut roots = 0;
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("malformed XML ({e}): {text:?}"));
        match event {
            Event::Decl(_) => assert!(out.is_empty(), "declaration not first"),
            Event::Start(s) => {
                if open.is_empty() {
                    roots += 1;
                }
                let mut attributes = Vec::new();
                for a in s.attributes() {
                    let a = a.unwrap_or_else(|e| panic!("bad attribute ({e}): {text:?}"));
                    let value = a
                        .normalized_value(XmlVersion::Implicit1_0)
                        .unwrap_or_else(|e| panic!("bad attribute value ({e}): {text:?}"));
                    let key: &str = a.key.as_ref();
                    attributes.push((key.to_string(), value.into_owned()));
                }
                let name = AsRef::<str>::as_ref(&s.name()).to_string();
                open.push(out.len());
                out.push(Element {
                    name,
                    attributes,
                    text: String::new(),
                });
            }
            Event::Text(t) => {
                let i = *open.last().expect("text outside the root");
                out[i].text.push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) => {
                let i = *open.last().expect("reference outside the root");
                let c = match r.resolve_char_ref().expect("character reference") {
                    Some(c) => c,
                    None => match &*r.xml10_content() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("unknown entity &{other}; in {text:?}"),
                    },
                };
                assert!(is_xml_char(c), "reference to a forbidden character");
                out[i].text.push(c);
            }
            Event::End(_) => {
                open.pop().expect("end without start");
            }
            Event::Eof => break,
            other => panic!("unexpected {other:?} in {text:?}"),
        }
    }
    assert!(open.is_empty(), "unclosed element in {text:?}");
    assert_eq!(roots, 1, "one root element");
    out
}

/// Runs the check on one notification, its options and a channel.
pub fn check(channel: ChannelUri<'_>, n: &Notification<'_>, o: &Options<'_>) {
    // The model survives postcard (the gateway's binary form).
    let bytes = postcard::to_allocvec(&(n, o)).expect("postcard");
    let back: (Notification<'_>, Options<'_>) = postcard::from_bytes(&bytes).expect("round trip");
    assert_eq!((&back.0, &back.1), (n, o));

    let target = o.target_os;
    let body = body_oracle(n, target);
    let limit = match n {
        Notification::Raw(_) => o.limits.raw,
        _ => o.limits.payload,
    };

    // The body alone: encoded_len and encode.
    let encoded_len = n.encoded_len(o);
    let mut scratch = vec![0xA5u8; body.bytes.len() + 1];
    let encoded = n.encode(o, &mut scratch);
    if body.problems.is_empty() && body.bytes.len() <= limit {
        assert_eq!(encoded_len, Ok(body.bytes.len()), "encoded_len");
        assert_eq!(encoded, Ok(body.bytes.len()), "encode");
        assert_eq!(
            &scratch[..body.bytes.len()],
            &body.bytes[..],
            "encode bytes"
        );
        if !body.bytes.is_empty() {
            let mut short = vec![0x5Au8; body.bytes.len() - 1];
            assert_eq!(
                n.encode(o, &mut short),
                Err(EncodeError::BufferTooSmall {
                    needed: body.bytes.len()
                })
            );
            assert!(short.iter().all(|b| *b == 0x5A), "short buffer written");
        }
    } else if body.problems.is_empty() {
        let e = EncodeError::BodyTooLarge {
            len: body.bytes.len(),
            limit,
        };
        assert_eq!(encoded_len, Err(e));
        assert_eq!(encoded, Err(e));
    } else {
        let e = encoded_len.expect_err("encoded_len accepted a refused body");
        assert!(
            body.problems.contains(&e),
            "{e:?} not in {:?}",
            body.problems
        );
        assert_eq!(encoded, Err(e));
    }

    // The request.
    let mut problems = body.problems.clone();
    if problems.is_empty() {
        if matches!(n, Notification::Raw(r) if r.voip) && o.delivery != Delivery::Immediate {
            problems.push(EncodeError::Field {
                field: FieldName::Voip,
                problem: FieldProblem::VoipNeedsImmediateDelivery,
            });
        } else if let Some(cb) = o.callback_uri {
            if !channel.is_authenticated() {
                problems.push(EncodeError::Field {
                    field: FieldName::CallbackUri,
                    problem: FieldProblem::NeedsAuthenticatedChannel,
                });
            } else if let Err(e) = Uri::parse(cb) {
                problems.push(EncodeError::Field {
                    field: FieldName::CallbackUri,
                    problem: FieldProblem::Uri(e),
                });
            }
        }
    }
    let headers = header_oracle(&channel, n, o, body.bytes.len());
    let headers_len: usize = headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    if problems.is_empty() {
        if body.bytes.len() > limit {
            problems.push(EncodeError::BodyTooLarge {
                len: body.bytes.len(),
                limit,
            });
        } else if headers_len > o.limits.headers {
            problems.push(EncodeError::HeadersTooLarge {
                len: headers_len,
                limit: o.limits.headers,
            });
        }
    }
    let request = match Request::notification(channel, n, o) {
        Err(e) => {
            assert!(
                problems.contains(&e),
                "refused with {e:?}; the oracle allows {problems:?}"
            );
            assert!(!e.to_string().is_empty());
            return;
        }
        Ok(request) => {
            assert!(
                problems.is_empty(),
                "accepted; the oracle expects one of {problems:?}"
            );
            request
        }
    };

    // Lengths and bytes.
    assert_eq!(request.body_len(), body.bytes.len(), "body_len");
    assert_eq!(request.headers_len(), headers_len, "headers_len");
    let mut out = vec![0u8; body.bytes.len()];
    assert_eq!(request.write_body(&mut out), Ok(body.bytes.len()));
    assert_eq!(out, body.bytes, "body bytes");
    if !body.bytes.is_empty() {
        let mut short = vec![0x5Au8; body.bytes.len() - 1];
        assert_eq!(
            request.write_body(&mut short).map_err(|e| e.needed),
            Err(body.bytes.len())
        );
        assert!(short.iter().all(|b| *b == 0x5A), "short buffer written");
    }
    let http_len = request.http_len();
    let mut short = vec![0x5Au8; http_len - 1];
    assert_eq!(
        request.write_http(&mut short).map_err(|e| e.needed),
        Err(http_len)
    );
    assert!(short.iter().all(|b| *b == 0x5A), "short buffer written");
    request_parses(
        &request,
        &channel.request_target().to_string(),
        channel.host_header(),
    );
    let mut wire = vec![0u8; http_len];
    request.write_http(&mut wire).expect("exact buffer");
    assert!(wire.ends_with(&body.bytes));
    let listed: Vec<(&str, String)> = request.headers().map(|(k, v)| (k, v.to_string())).collect();
    assert_eq!(listed, headers[1..], "headers");
    assert_eq!(request.kind(), RequestKind::of(n));
    assert_eq!(request.message_id(), o.message_id);
    assert_eq!(request.callback_uri(), o.callback_uri);

    // Toasts and tiles are well-formed XML whose values read back unchanged.
    if !matches!(n, Notification::Raw(_)) {
        assert_eq!(read_back(&body.bytes), body.elements);
    }
}

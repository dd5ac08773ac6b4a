//! An exact reader for the compact form of `docs/protocol.md`, "Payloads", the form
//! `mpns-proto` and the common senders write: the XML declaration (or none),
//! `<wp:Notification xmlns:wp="WPNotification">` (with ` Version="2.0"`), no
//! whitespace between elements, double-quoted attributes in the documented
//! order, the five named entities.
//!
//! It fills the same XML mirror structs serde-xml-rs fills, or answers `None`
//! ("not sure") for anything else: other spellings, comments, CDATA, numeric
//! references, leading or trailing whitespace in a value (which xml-rs trims
//! or normalises), unknown or repeated elements, forbidden characters. The
//! caller then asks serde-xml-rs, so this reader never refuses anything and
//! never accepts what serde-xml-rs would refuse.

use super::{XElement, XNotification, XTile, XToast};

const DECLARATIONS: [&str; 2] = [
    r#"<?xml version="1.0" encoding="utf-8"?>"#,
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
];

struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn eat(&mut self, s: &str) -> bool {
        match self.rest.strip_prefix(s) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// The text up to (not including) the next `end` byte.
    fn until(&mut self, end: u8) -> Option<&'a str> {
        let at = self.rest.bytes().position(|b| b == end)?;
        let (head, rest) = self.rest.split_at(at);
        self.rest = rest;
        Some(head)
    }

    /// `name="value"` after a space; the value decoded.
    fn attribute(&mut self, name: &str) -> Option<Option<String>> {
        let Some(rest) = self
            .rest
            .strip_prefix(' ')
            .and_then(|r| r.strip_prefix(name))
            .and_then(|r| r.strip_prefix("=\""))
        else {
            return Some(None);
        };
        self.rest = rest;
        let value = decode(self.until(b'"')?, true)?;
        self.eat("\"");
        Some(Some(value))
    }
}

/// Reads a compact document, or `None` when serde-xml-rs must decide.
pub(super) fn read(doc: &str) -> Option<XNotification> {
    let mut c = Cursor { rest: doc };
    for declaration in DECLARATIONS {
        if c.eat(declaration) {
            break;
        }
    }
    if !c.eat(r#"<wp:Notification xmlns:wp="WPNotification""#) {
        return None;
    }
    let mut xml = XNotification {
        version: c.attribute("Version")?,
        ..XNotification::default()
    };
    if !c.eat(">") {
        return None;
    }
    if c.eat("<wp:Toast>") {
        let mut toast = XToast::default();
        while !c.eat("</wp:Toast>") {
            let (name, element) = element(&mut c)?;
            let slot = match name {
                "Text1" => &mut toast.text1,
                "Text2" => &mut toast.text2,
                "Param" => &mut toast.param,
                "Sound" => &mut toast.sound,
                _ => return None,
            };
            put(slot, element)?;
        }
        xml.toast = Some(toast);
    } else if c.eat("<wp:Tile") {
        let mut tile = Box::new(XTile {
            id: c.attribute("Id")?,
            template: c.attribute("Template")?,
            ..XTile::default()
        });
        if !c.eat(">") {
            return None;
        }
        while !c.eat("</wp:Tile>") {
            let (name, element) = element(&mut c)?;
            put(tile_slot(&mut tile, name)?, element)?;
        }
        xml.tile = Some(tile);
    } else {
        return None;
    }
    (c.eat("</wp:Notification>") && c.rest.is_empty()).then_some(xml)
}

/// Fills an empty slot; a repeated element is serde-xml-rs's to refuse.
fn put(slot: &mut Option<XElement>, element: XElement) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(element);
    Some(())
}

fn tile_slot<'t>(tile: &'t mut XTile, name: &str) -> Option<&'t mut Option<XElement>> {
    Some(match name {
        "SmallBackgroundImage" => &mut tile.small_background_image,
        "WideBackgroundImage" => &mut tile.wide_background_image,
        "WideBackBackgroundImage" => &mut tile.wide_back_background_image,
        "WideBackContent" => &mut tile.wide_back_content,
        "BackgroundImage" => &mut tile.background_image,
        "Count" => &mut tile.count,
        "Title" => &mut tile.title,
        "BackBackgroundImage" => &mut tile.back_background_image,
        "BackTitle" => &mut tile.back_title,
        "BackContent" => &mut tile.back_content,
        "SmallIconImage" => &mut tile.small_icon_image,
        "IconImage" => &mut tile.icon_image,
        "WideContent1" => &mut tile.wide_content1,
        "WideContent2" => &mut tile.wide_content2,
        "WideContent3" => &mut tile.wide_content3,
        "BackgroundColor" => &mut tile.background_color,
        "CycleImage1" => &mut tile.cycle_image1,
        "CycleImage2" => &mut tile.cycle_image2,
        "CycleImage3" => &mut tile.cycle_image3,
        "CycleImage4" => &mut tile.cycle_image4,
        "CycleImage5" => &mut tile.cycle_image5,
        "CycleImage6" => &mut tile.cycle_image6,
        "CycleImage7" => &mut tile.cycle_image7,
        "CycleImage8" => &mut tile.cycle_image8,
        "CycleImage9" => &mut tile.cycle_image9,
        _ => return None,
    })
}

/// `<wp:Name( Action="…"| Silent="…")?>text</wp:Name>`.
fn element<'a>(c: &mut Cursor<'a>) -> Option<(&'a str, XElement)> {
    if !c.eat("<wp:") {
        return None;
    }
    let name_end = c.rest.bytes().position(|b| b == b' ' || b == b'>')?;
    let (name, rest) = c.rest.split_at(name_end);
    c.rest = rest;
    let mut element = XElement {
        action: c.attribute("Action")?,
        ..XElement::default()
    };
    if element.action.is_none() {
        element.silent = c.attribute("Silent")?;
    }
    if !c.eat(">") {
        return None;
    }
    let text = c.until(b'<')?;
    if !text.is_empty() {
        element.text = Some(decode(text, false)?);
    }
    (c.eat("</wp:") && c.eat(name) && c.eat(">")).then_some((name, element))
}

/// Decodes a text or attribute value, or `None` when xml-rs would change or
/// refuse it in ways this reader does not reproduce.
fn decode(raw: &str, attribute: bool) -> Option<String> {
    let b = raw.as_bytes();
    // xml-rs trims text and normalises attribute whitespace: leave those to it.
    let edge = |c: Option<&u8>| c.is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'));
    if edge(b.first()) || edge(b.last()) {
        return None;
    }
    let mut entities = false;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'&' => entities = true,
            b'<' | b'>' | b'"' | b'\r' => return None,
            b'\t' | b'\n' if attribute => return None,
            b'\t' | b'\n' => {}
            0..=0x1f => return None,
            // U+FFFE and U+FFFF are not XML characters.
            0xEF if b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)) => {
                return None;
            }
            _ => {}
        }
    }
    if !entities {
        return Some(raw.to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let (c, len) = [
            ("&amp;", '&'),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&apos;", '\''),
        ]
        .into_iter()
        .find_map(|(entity, c)| rest.starts_with(entity).then_some((c, entity.len())))?;
        out.push(c);
        rest = &rest[len..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::{parse_with_serde, read_with_serde};
    use super::*;

    /// A small deterministic generator (xorshift), so the test needs no crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        /// A value; `benign` ones have no tab, LF or CR and no space at either end.
        fn text(&mut self, benign: bool) -> String {
            const ALPHABET: [&str; 22] = [
                "a", "Z", "0", " ", "&", "<", ">", "\"", "'", "é", "€", "😀", "\u{FFFD}", "?", "=",
                "/", ";", "#", "x", "\t", "\n", "\r",
            ];
            let letters = if benign { 19 } else { ALPHABET.len() };
            let len = self.below(8);
            let text: String = (0..len).map(|_| ALPHABET[self.below(letters)]).collect();
            if benign {
                text.trim_matches(' ').to_owned()
            } else {
                text
            }
        }
        fn field<'s>(&mut self, text: &'s str) -> mpns_proto::Field<&'s str> {
            match self.below(3) {
                0 => mpns_proto::Field::Absent,
                1 => mpns_proto::Field::Clear,
                _ => mpns_proto::Field::Set(text),
            }
        }
    }

    /// The compact reader agrees with serde-xml-rs on every document it reads,
    /// and reads most of what the core writes.
    #[test]
    fn agrees_with_serde_xml_rs() {
        use mpns_proto::{
            CycleTile, FlipTile, IconicTile, Notification, Options, StandardTile, Tile,
            TileTemplate, Toast,
        };
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut read, mut total) = (0, 0);
        for round in 0..4000 {
            let benign = round % 2 == 0;
            let texts: Vec<String> = (0..12).map(|_| rng.text(benign)).collect();
            let t = |i: usize| texts[i].as_str();
            let count = match rng.below(3) {
                0 => mpns_proto::Field::Absent,
                1 => mpns_proto::Field::Clear,
                _ => mpns_proto::Field::Set(rng.below(100) as u8),
            };
            let color = if rng.below(2) == 0 {
                "#FF00AA11"
            } else {
                t(11)
            };
            let id = (rng.below(2) == 0).then(|| t(10));
            let template = match rng.below(4) {
                0 => TileTemplate::Standard(StandardTile {
                    background_image: rng.field(t(0)),
                    count,
                    title: rng.field(t(1)),
                    back_background_image: rng.field(t(2)),
                    back_title: rng.field(t(3)),
                    back_content: rng.field(t(4)),
                }),
                1 => TileTemplate::Flip(FlipTile {
                    small_background_image: rng.field(t(0)),
                    wide_background_image: rng.field(t(1)),
                    wide_back_background_image: rng.field(t(2)),
                    wide_back_content: rng.field(t(3)),
                    background_image: rng.field(t(4)),
                    count,
                    title: rng.field(t(5)),
                    back_background_image: rng.field(t(6)),
                    back_title: rng.field(t(7)),
                    back_content: rng.field(t(8)),
                }),
                2 => TileTemplate::Iconic(IconicTile {
                    small_icon_image: rng.field(t(0)),
                    icon_image: rng.field(t(1)),
                    wide_content1: rng.field(t(2)),
                    wide_content2: rng.field(t(3)),
                    wide_content3: rng.field(t(4)),
                    count,
                    title: rng.field(t(5)),
                    background_color: rng.field(color),
                }),
                _ => {
                    let mut cycle = CycleTile {
                        small_background_image: rng.field(t(0)),
                        count,
                        title: rng.field(t(1)),
                        ..CycleTile::default()
                    };
                    for (i, image) in cycle.cycle_images.iter_mut().enumerate() {
                        *image = rng.field(t(2 + i % 8));
                    }
                    TileTemplate::Cycle(cycle)
                }
            };
            let notification = if rng.below(3) == 0 {
                Notification::Toast(Toast {
                    text1: (rng.below(4) != 0).then(|| t(0)),
                    text2: (rng.below(2) == 0).then(|| t(1)),
                    param: (rng.below(2) == 0).then(|| t(2)),
                    sound: match rng.below(3) {
                        0 => None,
                        1 => Some(mpns_proto::Sound::Silent),
                        _ => Some(mpns_proto::Sound::File(t(3))),
                    },
                })
            } else {
                Notification::Tile(Tile { id, template })
            };
            let mut buf = vec![0; 8192];
            let Ok(n) = notification.encode(&Options::default(), &mut buf) else {
                continue; // the core refused (a forbidden character): nothing to compare
            };
            let doc = std::str::from_utf8(&buf[..n]).unwrap();
            if benign {
                total += 1;
                check_one(doc, &mut read);
            } else {
                check_one(doc, &mut 0);
            }
            // Damaged documents: the reader declines or agrees.
            let cut = rng.below(doc.len());
            if doc.is_char_boundary(cut) {
                let mut damaged = doc.to_owned();
                damaged.remove(cut);
                check_one(&damaged, &mut 0);
            }
        }
        println!("compact reader read {read} of {total} benign core documents");
        assert_eq!(read, total);
    }

    fn check_one(doc: &str, read_count: &mut usize) {
        if let Some(fast) = read(doc) {
            *read_count += 1;
            let slow = read_with_serde(doc);
            assert_eq!(slow.as_ref().ok(), Some(&fast), "{doc}");
            assert_eq!(
                super::super::check(fast),
                parse_with_serde(doc.as_bytes()),
                "{doc}"
            );
        }
    }

    #[test]
    fn declines_what_it_does_not_reproduce() {
        let head = r#"<wp:Notification xmlns:wp="WPNotification">"#;
        for inner in [
            "<wp:Toast><wp:Text1> a</wp:Text1></wp:Toast>",
            "<wp:Toast><wp:Text1>a&#10;</wp:Text1></wp:Toast>",
            "<wp:Toast><wp:Text1><![CDATA[a]]></wp:Text1></wp:Toast>",
            "<wp:Toast><!-- c --><wp:Text1>a</wp:Text1></wp:Toast>",
            "<wp:Toast><wp:Text1/></wp:Toast>",
            "<wp:Toast><wp:Text1>a</wp:Text1><wp:Text1>b</wp:Text1></wp:Toast>",
            "<wp:Toast><wp:Text9>a</wp:Text9></wp:Toast>",
            "<wp:Tile Template='FlipTile'></wp:Tile>",
        ] {
            let doc = format!("{head}{inner}</wp:Notification>");
            assert_eq!(read(&doc), None, "{doc}");
        }
        assert_eq!(
            read(&format!(" {head}<wp:Toast></wp:Toast></wp:Notification>")),
            None
        );
        let doc =
            format!("{head}<wp:Toast><wp:Text1>a &amp; b</wp:Text1></wp:Toast></wp:Notification>");
        let xml = read(&doc).unwrap();
        assert_eq!(
            xml.toast.unwrap().text1.unwrap().text.as_deref(),
            Some("a & b")
        );
    }
}

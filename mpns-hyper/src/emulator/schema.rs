//! The toast and tile payload schema of `docs/protocol.md`, "Payloads", read
//! with serde-xml-rs.
//!
//! Parsing has two layers. Private `X*` structs mirror the XML one to one
//! (`wp:`-qualified element names, `@`-prefixed attributes, unknown names
//! refused); [`parse`] then checks what the types cannot say (which elements a
//! template has, `Count` 0 to 99, `#AARRGGBB`, `Action="Clear"` with no text,
//! `Silent="true"`, `Version="2.0"` on templates only) and builds the public
//! [`ReceivedPayload`].
//!
//! serde-xml-rs (on xml-rs) costs tens of microseconds per body, too much for
//! an emulator meant to take 100k requests/s. So the mirror structs are first
//! filled by an exact reader of the compact form every sender writes (a few
//! hundred nanoseconds); it answers "not sure" for anything else, and only
//! then does serde-xml-rs read the body. Every refusal therefore comes from
//! serde-xml-rs or from the shared checks, and a test checks on thousands of
//! generated and damaged documents that both readers fill the same structs.
//!
//! serde-xml-rs matches names by their *prefix* (`wp:Toast`), not by namespace
//! URI, and does not check the root element's name: [`parse`] therefore checks
//! by hand that the root start tag is `<wp:Notification` and binds `wp` to
//! `WPNotification`. A nested element that rebinds `wp` to another URI is not
//! detected. The parser (xml-rs, configured by serde-xml-rs) trims leading and
//! trailing whitespace of text values, so a recorded value ` a ` reads `a`.

use serde::{Deserialize, Serialize};

mod compact;

/// A parsed toast or tile body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceivedPayload {
    /// `<wp:Toast>`.
    Toast(ReceivedToast),
    /// `<wp:Tile>` (boxed: a tile has many more fields than a toast).
    Tile(Box<ReceivedTile>),
}

/// A toast (`docs/protocol.md`, "Toast"). Absent elements are `None`; an
/// element sent empty reads `Some("")`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReceivedToast {
    /// `wp:Text1`, the bold title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text1: Option<String>,
    /// `wp:Text2`, the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text2: Option<String>,
    /// `wp:Param`, page and query opened on tap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// `wp:Sound`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sound: Option<ReceivedSound>,
}

/// `wp:Sound`: a sound file, or `Silent="true"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceivedSound {
    /// A sound file path.
    File(String),
    /// `<wp:Sound Silent="true"></wp:Sound>`.
    Silent,
}

/// A tile element: set to a value, or cleared with `Action="Clear"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceivedField<T> {
    /// The element's text (possibly empty).
    Set(T),
    /// `Action="Clear"` and no text.
    Clear,
}

/// Which tile: the standard tile (no `Template` attribute) or a template.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub enum ReceivedTemplate {
    /// No `Template` attribute (7.0 / 7.1 tile).
    #[default]
    Standard,
    /// `Template="FlipTile"`.
    FlipTile,
    /// `Template="IconicTile"`.
    IconicTile,
    /// `Template="CycleTile"`.
    CycleTile,
}

/// A tile (`docs/protocol.md`, "Standard tile" and "Tile templates"). Only
/// the elements of its template can be present; absent elements are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReceivedTile {
    /// The `Id` attribute (secondary tile navigation URI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The `Template` attribute.
    pub template: ReceivedTemplate,
    /// The root's `Version` attribute: `Some("2.0")` or `None` (templates only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `SmallBackgroundImage` (flip, cycle).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub small_background_image: Option<ReceivedField<String>>,
    /// `WideBackgroundImage` (flip).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wide_background_image: Option<ReceivedField<String>>,
    /// `WideBackBackgroundImage` (flip).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wide_back_background_image: Option<ReceivedField<String>>,
    /// `WideBackContent` (flip).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wide_back_content: Option<ReceivedField<String>>,
    /// `BackgroundImage` (standard, flip).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background_image: Option<ReceivedField<String>>,
    /// `Count`, 0 to 99 (every tile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<ReceivedField<u8>>,
    /// `Title` (every tile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<ReceivedField<String>>,
    /// `BackBackgroundImage` (standard, flip).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_background_image: Option<ReceivedField<String>>,
    /// `BackTitle` (standard, flip).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_title: Option<ReceivedField<String>>,
    /// `BackContent` (standard, flip).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_content: Option<ReceivedField<String>>,
    /// `SmallIconImage` (iconic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub small_icon_image: Option<ReceivedField<String>>,
    /// `IconImage` (iconic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_image: Option<ReceivedField<String>>,
    /// `WideContent1` (iconic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wide_content1: Option<ReceivedField<String>>,
    /// `WideContent2` (iconic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wide_content2: Option<ReceivedField<String>>,
    /// `WideContent3` (iconic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wide_content3: Option<ReceivedField<String>>,
    /// `BackgroundColor`, `#AARRGGBB` (iconic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background_color: Option<ReceivedField<String>>,
    /// `CycleImage1` to `CycleImage9` (cycle).
    pub cycle_images: [Option<ReceivedField<String>>; 9],
}

/// Why a body does not follow the schema (the emulator answers 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchemaError(pub &'static str);

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for SchemaError {}

// ---- The XML mirror -------------------------------------------------------

#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct XNotification {
    #[serde(rename = "@Version")]
    version: Option<String>,
    #[serde(rename = "wp:Toast")]
    toast: Option<XToast>,
    #[serde(rename = "wp:Tile")]
    tile: Option<Box<XTile>>,
}

/// Any leaf element: its text and the attributes MPNS defines on leaves.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct XElement {
    #[serde(rename = "@Action")]
    action: Option<String>,
    #[serde(rename = "@Silent")]
    silent: Option<String>,
    #[serde(rename = "#text")]
    text: Option<String>,
}

#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct XToast {
    #[serde(rename = "wp:Text1")]
    text1: Option<XElement>,
    #[serde(rename = "wp:Text2")]
    text2: Option<XElement>,
    #[serde(rename = "wp:Param")]
    param: Option<XElement>,
    #[serde(rename = "wp:Sound")]
    sound: Option<XElement>,
}

/// Every element of every tile; [`parse`] refuses those the template lacks.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct XTile {
    #[serde(rename = "@Id")]
    id: Option<String>,
    #[serde(rename = "@Template")]
    template: Option<String>,
    #[serde(rename = "wp:SmallBackgroundImage")]
    small_background_image: Option<XElement>,
    #[serde(rename = "wp:WideBackgroundImage")]
    wide_background_image: Option<XElement>,
    #[serde(rename = "wp:WideBackBackgroundImage")]
    wide_back_background_image: Option<XElement>,
    #[serde(rename = "wp:WideBackContent")]
    wide_back_content: Option<XElement>,
    #[serde(rename = "wp:BackgroundImage")]
    background_image: Option<XElement>,
    #[serde(rename = "wp:Count")]
    count: Option<XElement>,
    #[serde(rename = "wp:Title")]
    title: Option<XElement>,
    #[serde(rename = "wp:BackBackgroundImage")]
    back_background_image: Option<XElement>,
    #[serde(rename = "wp:BackTitle")]
    back_title: Option<XElement>,
    #[serde(rename = "wp:BackContent")]
    back_content: Option<XElement>,
    #[serde(rename = "wp:SmallIconImage")]
    small_icon_image: Option<XElement>,
    #[serde(rename = "wp:IconImage")]
    icon_image: Option<XElement>,
    #[serde(rename = "wp:WideContent1")]
    wide_content1: Option<XElement>,
    #[serde(rename = "wp:WideContent2")]
    wide_content2: Option<XElement>,
    #[serde(rename = "wp:WideContent3")]
    wide_content3: Option<XElement>,
    #[serde(rename = "wp:BackgroundColor")]
    background_color: Option<XElement>,
    #[serde(rename = "wp:CycleImage1")]
    cycle_image1: Option<XElement>,
    #[serde(rename = "wp:CycleImage2")]
    cycle_image2: Option<XElement>,
    #[serde(rename = "wp:CycleImage3")]
    cycle_image3: Option<XElement>,
    #[serde(rename = "wp:CycleImage4")]
    cycle_image4: Option<XElement>,
    #[serde(rename = "wp:CycleImage5")]
    cycle_image5: Option<XElement>,
    #[serde(rename = "wp:CycleImage6")]
    cycle_image6: Option<XElement>,
    #[serde(rename = "wp:CycleImage7")]
    cycle_image7: Option<XElement>,
    #[serde(rename = "wp:CycleImage8")]
    cycle_image8: Option<XElement>,
    #[serde(rename = "wp:CycleImage9")]
    cycle_image9: Option<XElement>,
}

// ---- Checks ----------------------------------------------------------------

type Result<T> = std::result::Result<T, SchemaError>;

fn err<T>(reason: &'static str) -> Result<T> {
    Err(SchemaError(reason))
}

/// Checks that the root start tag is `<wp:Notification …>` with
/// `xmlns:wp="WPNotification"` (serde-xml-rs sees neither the root's name nor
/// namespace URIs).
fn check_root(doc: &str) -> Result<()> {
    let mut rest = doc.strip_prefix('\u{feff}').unwrap_or(doc).trim_start();
    if let Some(decl) = rest.strip_prefix("<?xml") {
        let Some(end) = decl.find("?>") else {
            return err("malformed XML declaration");
        };
        rest = decl[end + 2..].trim_start();
    }
    let Some(after_name) = rest.strip_prefix("<wp:Notification") else {
        return err("the root element must be wp:Notification");
    };
    if !after_name.starts_with(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/') {
        return err("the root element must be wp:Notification");
    }
    let tag = &after_name[..after_name.find('>').unwrap_or(after_name.len())];
    let Some(pos) = tag.find("xmlns:wp") else {
        return err("the root element must declare xmlns:wp=\"WPNotification\"");
    };
    if !tag[..pos].ends_with(|c: char| c.is_ascii_whitespace()) {
        return err("the root element must declare xmlns:wp=\"WPNotification\"");
    }
    let value = tag[pos + "xmlns:wp".len()..].trim_start();
    let value = value
        .strip_prefix('=')
        .map(str::trim_start)
        .unwrap_or_default();
    if value.starts_with("\"WPNotification\"") || value.starts_with("'WPNotification'") {
        Ok(())
    } else {
        err("the wp prefix must be bound to the namespace URI WPNotification")
    }
}

/// Refuses a start tag that repeats an attribute (`xmlns:wp` twice, say):
/// not well-formed XML (XML 1.0, "Unique Att Spec"), though xml-rs, under
/// serde-xml-rs, lets it through. quick-xml checks it, tag by tag.
fn check_unique_attributes(doc: &str) -> Result<()> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(doc);
    loop {
        match reader.read_event() {
            Ok(Event::Start(tag) | Event::Empty(tag)) => {
                if tag.attributes().any(|a| a.is_err()) {
                    return err(
                        "malformed XML: an attribute repeated or unreadable in a start tag",
                    );
                }
            }
            Ok(Event::Eof) => return Ok(()),
            Ok(_) => {}
            // The rest of well-formedness is serde-xml-rs's to judge.
            Err(_) => return Ok(()),
        }
    }
}

/// Parses and checks a toast or tile body.
///
/// Bodies in the compact form that `mpns-proto` and the common senders write
/// are read by a small exact reader (`compact`, a few hundred nanoseconds);
/// anything else, and every refusal, goes through serde-xml-rs
/// ([`parse_with_serde`], tens of microseconds). Both fill the same XML mirror
/// structs and share every schema check, and a test checks that they agree.
pub fn parse(body: &[u8]) -> std::result::Result<ReceivedPayload, SchemaError> {
    let Ok(doc) = std::str::from_utf8(body) else {
        return err("the body is not UTF-8");
    };
    match compact::read(doc) {
        Some(xml) => check(xml),
        None => parse_str_with_serde(doc),
    }
}

/// [`parse`] with serde-xml-rs only: the reference reader.
pub fn parse_with_serde(body: &[u8]) -> std::result::Result<ReceivedPayload, SchemaError> {
    let Ok(doc) = std::str::from_utf8(body) else {
        return err("the body is not UTF-8");
    };
    parse_str_with_serde(doc)
}

fn read_with_serde(doc: &str) -> Result<XNotification> {
    check_root(doc)?;
    check_unique_attributes(doc)?;
    serde_xml_rs::from_str(doc).map_err(|e| {
        tracing::debug!(error = %e, "emulator: XML refused");
        SchemaError("malformed XML, or an element or attribute the schema does not have")
    })
}

fn parse_str_with_serde(doc: &str) -> Result<ReceivedPayload> {
    check(read_with_serde(doc)?)
}

/// The schema checks the XML mirror cannot express.
fn check(xml: XNotification) -> Result<ReceivedPayload> {
    match (xml.toast, xml.tile) {
        (Some(toast), None) => {
            if xml.version.is_some() {
                return err("Version belongs to tile templates, not toasts");
            }
            toast_of(toast).map(ReceivedPayload::Toast)
        }
        (None, Some(tile)) => {
            tile_of(tile, xml.version).map(|t| ReceivedPayload::Tile(Box::new(t)))
        }
        (Some(_), Some(_)) => err("a notification has one wp:Toast or one wp:Tile, not both"),
        (None, None) => err("wp:Notification has neither wp:Toast nor wp:Tile"),
    }
}

/// A toast element's text: no `Action`, no `Silent`.
fn toast_text(e: Option<XElement>) -> Result<Option<String>> {
    let Some(e) = e else { return Ok(None) };
    if e.action.is_some() {
        return err("toast elements cannot be cleared (Action)");
    }
    if e.silent.is_some() {
        return err("Silent belongs to wp:Sound only");
    }
    Ok(Some(e.text.unwrap_or_default()))
}

fn toast_of(x: XToast) -> Result<ReceivedToast> {
    let sound = match x.sound {
        None => None,
        Some(e) => {
            if e.action.is_some() {
                return err("toast elements cannot be cleared (Action)");
            }
            let text = e.text.unwrap_or_default();
            match e.silent.as_deref() {
                Some("true") if text.is_empty() => Some(ReceivedSound::Silent),
                Some("true") => return err("a silent wp:Sound has no text"),
                Some(_) => return err("Silent must be \"true\""),
                None if text.is_empty() => return err("wp:Sound needs a file or Silent=\"true\""),
                None => Some(ReceivedSound::File(text)),
            }
        }
    };
    let toast = ReceivedToast {
        text1: toast_text(x.text1)?,
        text2: toast_text(x.text2)?,
        param: toast_text(x.param)?,
        sound,
    };
    let has = |t: &Option<String>| t.as_deref().is_some_and(|t| !t.is_empty());
    if !has(&toast.text1) && !has(&toast.text2) {
        return err("a toast needs Text1 or Text2");
    }
    Ok(toast)
}

/// A tile element: `Action="Clear"` with no text, or a value.
fn tile_field(e: Option<XElement>) -> Result<Option<ReceivedField<String>>> {
    let Some(e) = e else { return Ok(None) };
    if e.silent.is_some() {
        return err("Silent belongs to wp:Sound only");
    }
    match e.action.as_deref() {
        None => Ok(Some(ReceivedField::Set(e.text.unwrap_or_default()))),
        Some("Clear") if e.text.as_deref().is_none_or(str::is_empty) => {
            Ok(Some(ReceivedField::Clear))
        }
        Some("Clear") => err("an element with Action=\"Clear\" has no text"),
        Some(_) => err("Action must be \"Clear\""),
    }
}

fn count_field(e: Option<XElement>) -> Result<Option<ReceivedField<u8>>> {
    Ok(match tile_field(e)? {
        None => None,
        Some(ReceivedField::Clear) => Some(ReceivedField::Clear),
        Some(ReceivedField::Set(text)) => {
            let b = text.as_bytes();
            if b.is_empty() || b.len() > 2 || !b.iter().all(u8::is_ascii_digit) {
                return err("Count must be a number from 0 to 99");
            }
            Some(ReceivedField::Set(
                b.iter().fold(0, |n, d| n * 10 + (d - b'0')),
            ))
        }
    })
}

fn color_field(e: Option<XElement>) -> Result<Option<ReceivedField<String>>> {
    let field = tile_field(e)?;
    if let Some(ReceivedField::Set(c)) = &field {
        let b = c.as_bytes();
        if !(b.len() == 9 && b[0] == b'#' && b[1..].iter().all(u8::is_ascii_hexdigit)) {
            return err("BackgroundColor must be #AARRGGBB");
        }
    }
    Ok(field)
}

fn tile_of(x: Box<XTile>, version: Option<String>) -> Result<ReceivedTile> {
    let template = match x.template.as_deref() {
        None => ReceivedTemplate::Standard,
        Some("FlipTile") => ReceivedTemplate::FlipTile,
        Some("IconicTile") => ReceivedTemplate::IconicTile,
        Some("CycleTile") => ReceivedTemplate::CycleTile,
        Some(_) => return err("Template must be FlipTile, IconicTile or CycleTile"),
    };
    match (template, version.as_deref()) {
        (_, None) => {}
        (ReceivedTemplate::Standard, Some(_)) => {
            return err("the standard tile has no Version attribute");
        }
        (_, Some("2.0")) => {}
        (_, Some(_)) => return err("Version must be \"2.0\""),
    }
    if x.id.as_deref() == Some("") {
        return err("an empty tile Id");
    }
    // Which elements each template has (docs/protocol.md, "Standard tile" and "Tile templates").
    let standard_or_flip = matches!(
        template,
        ReceivedTemplate::Standard | ReceivedTemplate::FlipTile
    );
    let flip = template == ReceivedTemplate::FlipTile;
    let iconic = template == ReceivedTemplate::IconicTile;
    let cycle = template == ReceivedTemplate::CycleTile;
    let cycle_images = [
        x.cycle_image1,
        x.cycle_image2,
        x.cycle_image3,
        x.cycle_image4,
        x.cycle_image5,
        x.cycle_image6,
        x.cycle_image7,
        x.cycle_image8,
        x.cycle_image9,
    ];
    let allowed = [
        (x.small_background_image.is_some(), flip || cycle),
        (x.wide_background_image.is_some(), flip),
        (x.wide_back_background_image.is_some(), flip),
        (x.wide_back_content.is_some(), flip),
        (x.background_image.is_some(), standard_or_flip),
        (x.back_background_image.is_some(), standard_or_flip),
        (x.back_title.is_some(), standard_or_flip),
        (x.back_content.is_some(), standard_or_flip),
        (x.small_icon_image.is_some(), iconic),
        (x.icon_image.is_some(), iconic),
        (x.wide_content1.is_some(), iconic),
        (x.wide_content2.is_some(), iconic),
        (x.wide_content3.is_some(), iconic),
        (x.background_color.is_some(), iconic),
        (cycle_images.iter().any(Option::is_some), cycle),
    ];
    if allowed.iter().any(|&(present, ok)| present && !ok) {
        return err("an element this tile template does not have");
    }
    let [c1, c2, c3, c4, c5, c6, c7, c8, c9] = cycle_images;
    Ok(ReceivedTile {
        id: x.id,
        template,
        version,
        small_background_image: tile_field(x.small_background_image)?,
        wide_background_image: tile_field(x.wide_background_image)?,
        wide_back_background_image: tile_field(x.wide_back_background_image)?,
        wide_back_content: tile_field(x.wide_back_content)?,
        background_image: tile_field(x.background_image)?,
        count: count_field(x.count)?,
        title: tile_field(x.title)?,
        back_background_image: tile_field(x.back_background_image)?,
        back_title: tile_field(x.back_title)?,
        back_content: tile_field(x.back_content)?,
        small_icon_image: tile_field(x.small_icon_image)?,
        icon_image: tile_field(x.icon_image)?,
        wide_content1: tile_field(x.wide_content1)?,
        wide_content2: tile_field(x.wide_content2)?,
        wide_content3: tile_field(x.wide_content3)?,
        background_color: color_field(x.background_color)?,
        cycle_images: [
            tile_field(c1)?,
            tile_field(c2)?,
            tile_field(c3)?,
            tile_field(c4)?,
            tile_field(c5)?,
            tile_field(c6)?,
            tile_field(c7)?,
            tile_field(c8)?,
            tile_field(c9)?,
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str =
        r#"<?xml version="1.0" encoding="utf-8"?><wp:Notification xmlns:wp="WPNotification""#;

    fn doc(root_attrs: &str, inner: &str) -> String {
        format!("{HEAD}{root_attrs}>{inner}</wp:Notification>")
    }

    #[test]
    fn toast_with_escapes() {
        let body = doc(
            "",
            "<wp:Toast><wp:Text1>McDonald&apos;s &amp; co</wp:Text1><wp:Param>/P.xaml?a=1&amp;b=2</wp:Param><wp:Sound Silent=\"true\"></wp:Sound></wp:Toast>",
        );
        let ReceivedPayload::Toast(t) = parse(body.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(t.text1.as_deref(), Some("McDonald's & co"));
        assert_eq!(t.param.as_deref(), Some("/P.xaml?a=1&b=2"));
        assert_eq!(t.sound, Some(ReceivedSound::Silent));
        assert_eq!(t.text2, None);
    }

    #[test]
    fn tile_clear_and_count() {
        let body = doc(
            "",
            "<wp:Tile Id=\"/S.xaml?x=1\"><wp:Count Action=\"Clear\"></wp:Count><wp:Title>T</wp:Title></wp:Tile>",
        );
        let ReceivedPayload::Tile(t) = parse(body.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(t.count, Some(ReceivedField::Clear));
        assert_eq!(t.title, Some(ReceivedField::Set("T".into())));
        assert_eq!(t.id.as_deref(), Some("/S.xaml?x=1"));
        assert_eq!(t.template, ReceivedTemplate::Standard);
    }

    #[test]
    fn refusals() {
        let bad = [
            // Not the root we want.
            r#"<?xml version="1.0"?><Notification><wp:Toast/></Notification>"#.to_string(),
            r#"<wp:Notification xmlns:wp="Other"><wp:Toast><wp:Text1>a</wp:Text1></wp:Toast></wp:Notification>"#.to_string(),
            r#"<x:Notification xmlns:x="WPNotification"><x:Toast><x:Text1>a</x:Text1></x:Toast></x:Notification>"#.to_string(),
            // A repeated attribute: not well-formed.
            r#"<wp:Notification xmlns:wp="WPNotification" xmlns:wp="WPNotification"><wp:Toast><wp:Text1>a</wp:Text1></wp:Toast></wp:Notification>"#.to_string(),
            doc("", "<wp:Toast><wp:Text1 Action=\"Clear\" Action=\"Clear\"/></wp:Toast>"),
            // Unbound prefix / malformed.
            r#"<wp:Notification><wp:Toast><wp:Text1>a</wp:Text1></wp:Toast></wp:Notification>"#.to_string(),
            doc("", "<wp:Toast><wp:Text1>a</wp:Text2></wp:Toast>"),
            doc("", "<wp:Toast><wp:Text1>a\u{1}</wp:Text1></wp:Toast>"),
            // Schema.
            doc("", "<wp:Toast><wp:Text3>a</wp:Text3></wp:Toast>"),
            doc("", "<wp:Toast><wp:Text1>a</wp:Text1><wp:Text1>b</wp:Text1></wp:Toast>"),
            doc("", "<wp:Toast></wp:Toast>"),
            doc("", "<wp:Toast><wp:Text1 Action=\"Clear\"></wp:Text1></wp:Toast>"),
            doc("", "<wp:Tile><wp:Count>100</wp:Count></wp:Tile>"),
            doc("", "<wp:Tile><wp:Count>x</wp:Count></wp:Tile>"),
            doc("", "<wp:Tile><wp:Count Action=\"Clear\">3</wp:Count></wp:Tile>"),
            doc("", "<wp:Tile><wp:Title Action=\"Erase\"></wp:Title></wp:Tile>"),
            doc("", "<wp:Tile><wp:IconImage>/i.png</wp:IconImage></wp:Tile>"),
            doc(" Version=\"2.0\"", "<wp:Tile><wp:Title>t</wp:Title></wp:Tile>"),
            doc(" Version=\"3.0\"", "<wp:Tile Template=\"FlipTile\"><wp:Title>t</wp:Title></wp:Tile>"),
            doc(" Version=\"2.0\"", "<wp:Tile Template=\"Flip\"><wp:Title>t</wp:Title></wp:Tile>"),
            doc(" Version=\"2.0\"", "<wp:Tile Template=\"IconicTile\"><wp:BackgroundColor>red</wp:BackgroundColor></wp:Tile>"),
            doc(" Version=\"2.0\"", "<wp:Tile Template=\"CycleTile\"><wp:BackContent>b</wp:BackContent></wp:Tile>"),
            doc(" Version=\"2.0\"", "<wp:Tile Template=\"IconicTile\"><wp:CycleImage1>/c</wp:CycleImage1></wp:Tile>"),
            doc("", "<wp:Tile Foo=\"1\"><wp:Title>t</wp:Title></wp:Tile>"),
            doc("", "<wp:Tile><wp:Title>t</wp:Title></wp:Tile><wp:Toast><wp:Text1>a</wp:Text1></wp:Toast>"),
            doc("", ""),
            doc("", "text<wp:Toast><wp:Text1>a</wp:Text1></wp:Toast>"),
        ];
        for body in &bad {
            assert!(parse(body.as_bytes()).is_err(), "accepted: {body}");
        }
    }

    #[test]
    fn templates() {
        let body = doc(
            " Version=\"2.0\"",
            "<wp:Tile Template=\"IconicTile\"><wp:IconImage>/i.png</wp:IconImage><wp:Count>0</wp:Count><wp:BackgroundColor>#FF00aa11</wp:BackgroundColor></wp:Tile>",
        );
        let ReceivedPayload::Tile(t) = parse(body.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(t.template, ReceivedTemplate::IconicTile);
        assert_eq!(t.version.as_deref(), Some("2.0"));
        assert_eq!(t.count, Some(ReceivedField::Set(0)));
        let body = doc(
            "",
            "<wp:Tile Template=\"CycleTile\"><wp:CycleImage9>/9.png</wp:CycleImage9></wp:Tile>",
        );
        let ReceivedPayload::Tile(t) = parse(body.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(t.cycle_images[8], Some(ReceivedField::Set("/9.png".into())));
        assert_eq!(t.version, None);
    }
}

//! The body encoder: compact UTF-8 XML for toasts and tiles, bytes as given for raw.
//!
//! One function, [`emit`], describes every document. It runs twice: first into
//! a [`Measure`] sink, which validates every value and counts the exact length,
//! then into a [`Write`] sink, which copies bytes into a buffer known to be
//! large enough. The length reported is therefore the length written.

use crate::error::{EncodeError, FieldProblem};
use crate::notification::{Field, FieldName, Notification, Sound, Value};
use crate::options::TargetOs;

const DECLARATION_AND_ROOT: &str =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?><wp:Notification xmlns:wp=\"WPNotification\"";

/// Where [`emit`] sends the document.
pub(crate) trait Sink {
    /// Markup, copied as is.
    fn markup(&mut self, s: &str);
    /// Element text: validated, then escaped.
    fn text(&mut self, field: FieldName, s: &str) -> Result<(), EncodeError>;
    /// Attribute value (inside double quotes): validated, then escaped.
    fn attribute(&mut self, field: FieldName, s: &str) -> Result<(), EncodeError>;
    /// Opaque bytes (raw bodies), copied as is.
    fn bytes(&mut self, b: &[u8]);
}

/// Counts bytes and validates values.
#[derive(Default)]
pub(crate) struct Measure {
    pub(crate) len: usize,
}

/// Copies bytes into a buffer at least as long as the measured length.
pub(crate) struct Write<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Write<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Write { buf, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    #[inline(always)]
    pub(crate) fn put(&mut self, b: &[u8]) {
        let end = self.pos + b.len();
        self.buf[self.pos..end].copy_from_slice(b);
        self.pos = end;
    }
}

// Escape classes. Text escapes the five XML specials and CR (so that a CR is
// not turned into LF by the reader's end-of-line handling); attributes also
// escape TAB and LF, which attribute-value normalisation would turn into spaces.
const PLAIN: u8 = 0;
const ESCAPE: u8 = 1;
const FORBIDDEN: u8 = 2;
/// 0xEF starts U+FFFE and U+FFFF, which XML forbids.
const CHECK_EF: u8 = 3;

const fn class_table(attribute: bool) -> [u8; 256] {
    let mut t = [PLAIN; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = FORBIDDEN;
        b += 1;
    }
    t[b'\r' as usize] = ESCAPE;
    t[b'\t' as usize] = if attribute { ESCAPE } else { PLAIN };
    t[b'\n' as usize] = if attribute { ESCAPE } else { PLAIN };
    t[b'&' as usize] = ESCAPE;
    t[b'<' as usize] = ESCAPE;
    t[b'>' as usize] = ESCAPE;
    t[b'"' as usize] = ESCAPE;
    t[b'\'' as usize] = ESCAPE;
    t[0xEF] = CHECK_EF;
    t
}

const TEXT_CLASS: [u8; 256] = class_table(false);
const ATTRIBUTE_CLASS: [u8; 256] = class_table(true);

/// The replacement of a byte of class [`ESCAPE`].
#[inline]
fn replacement(b: u8) -> &'static [u8] {
    match b {
        b'&' => b"&amp;",
        b'<' => b"&lt;",
        b'>' => b"&gt;",
        b'"' => b"&quot;",
        b'\'' => b"&apos;",
        b'\t' => b"&#9;",
        b'\n' => b"&#10;",
        _ => b"&#13;",
    }
}

/// Escaped length of `s`, or the offset and code point of a forbidden character.
fn escaped_len(s: &str, classes: &[u8; 256]) -> Result<usize, FieldProblem> {
    let bytes = s.as_bytes();
    let mut len = bytes.len();
    for (offset, &b) in bytes.iter().enumerate() {
        match classes[usize::from(b)] {
            PLAIN => {}
            ESCAPE => len += replacement(b).len() - 1,
            CHECK_EF => {
                if let [0xBF, last @ (0xBE | 0xBF), ..] = bytes[offset + 1..] {
                    return Err(FieldProblem::ForbiddenXmlChar {
                        offset,
                        code_point: 0xFFC0 | u32::from(last & 0x3F),
                    });
                }
            }
            _ => {
                return Err(FieldProblem::ForbiddenXmlChar {
                    offset,
                    code_point: u32::from(b),
                });
            }
        }
    }
    Ok(len)
}

impl Write<'_> {
    /// Copies runs of plain bytes at once and replaces each special byte.
    fn escaped(&mut self, s: &str, classes: &[u8; 256]) {
        let bytes = s.as_bytes();
        let mut run_start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if classes[usize::from(b)] == ESCAPE {
                self.put(&bytes[run_start..i]);
                self.put(replacement(b));
                run_start = i + 1;
            }
        }
        self.put(&bytes[run_start..]);
    }
}

impl Sink for Measure {
    #[inline]
    fn markup(&mut self, s: &str) {
        self.len += s.len();
    }

    fn text(&mut self, field: FieldName, s: &str) -> Result<(), EncodeError> {
        self.len += escaped_len(s, &TEXT_CLASS).map_err(|p| EncodeError::field(field, p))?;
        Ok(())
    }

    fn attribute(&mut self, field: FieldName, s: &str) -> Result<(), EncodeError> {
        self.len += escaped_len(s, &ATTRIBUTE_CLASS).map_err(|p| EncodeError::field(field, p))?;
        Ok(())
    }

    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        self.len += b.len();
    }
}

impl Sink for Write<'_> {
    #[inline]
    fn markup(&mut self, s: &str) {
        self.put(s.as_bytes());
    }

    #[inline]
    fn text(&mut self, _: FieldName, s: &str) -> Result<(), EncodeError> {
        self.escaped(s, &TEXT_CLASS);
        Ok(())
    }

    #[inline]
    fn attribute(&mut self, _: FieldName, s: &str) -> Result<(), EncodeError> {
        self.escaped(s, &ATTRIBUTE_CLASS);
        Ok(())
    }

    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        self.put(b);
    }
}

/// Refuses `field` when the target OS is older than `since`.
fn gate(field: FieldName, since: TargetOs, target: TargetOs) -> Result<(), EncodeError> {
    if target < since {
        Err(EncodeError::field(
            field,
            FieldProblem::NotSupported { target, since },
        ))
    } else {
        Ok(())
    }
}

/// `#AARRGGBB`.
fn is_color(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 9 && b[0] == b'#' && b[1..].iter().all(u8::is_ascii_hexdigit)
}

fn element<S: Sink>(sink: &mut S, field: FieldName, text: &str) -> Result<(), EncodeError> {
    let Some((open, close, _)) = field.tags() else {
        return Ok(());
    };
    sink.markup(open);
    sink.text(field, text)?;
    sink.markup(close);
    Ok(())
}

fn tile_element<S: Sink>(
    sink: &mut S,
    field: FieldName,
    value: Field<Value<'_>>,
    target: TargetOs,
) -> Result<(), EncodeError> {
    let Some((open, close, clear)) = field.tags() else {
        return Ok(());
    };
    match value {
        Field::Absent => return Ok(()),
        Field::Clear => {
            // Action="Clear" arrived with Windows Phone 7.1.
            gate(field, field.since().max(TargetOs::Wp71), target)?;
            sink.markup(clear);
        }
        Field::Set(value) => {
            gate(field, field.since(), target)?;
            sink.markup(open);
            match value {
                Value::Count(n) if n > 99 => {
                    return Err(EncodeError::field(
                        field,
                        FieldProblem::CountOutOfRange { value: n },
                    ));
                }
                Value::Count(n) => {
                    let digits = [b'0' + n / 10, b'0' + n % 10];
                    sink.bytes(if n < 10 { &digits[1..] } else { &digits });
                }
                Value::Text(s) => {
                    if field == FieldName::BackgroundColor && !is_color(s) {
                        return Err(EncodeError::field(field, FieldProblem::NotAColor));
                    }
                    sink.text(field, s)?;
                }
            }
        }
    }
    sink.markup(close);
    Ok(())
}

/// Describes the body of `notification` to `sink`, refusing what `target` cannot show.
pub(crate) fn emit<S: Sink>(
    notification: &Notification<'_>,
    target: TargetOs,
    sink: &mut S,
) -> Result<(), EncodeError> {
    match notification {
        Notification::Toast(toast) => {
            let has_text = |t: Option<&str>| t.is_some_and(|t| !t.is_empty());
            if !has_text(toast.text1) && !has_text(toast.text2) {
                return Err(EncodeError::EmptyToast);
            }
            sink.markup(DECLARATION_AND_ROOT);
            sink.markup("><wp:Toast>");
            if let Some(t) = toast.text1 {
                element(sink, FieldName::Text1, t)?;
            }
            if let Some(t) = toast.text2 {
                element(sink, FieldName::Text2, t)?;
            }
            if let Some(p) = toast.param {
                gate(FieldName::Param, FieldName::Param.since(), target)?;
                element(sink, FieldName::Param, p)?;
            }
            if let Some(sound) = toast.sound {
                gate(FieldName::Sound, FieldName::Sound.since(), target)?;
                match sound {
                    Sound::File(path) => element(sink, FieldName::Sound, path)?,
                    Sound::Silent => sink.markup("<wp:Sound Silent=\"true\"></wp:Sound>"),
                }
            }
            sink.markup("</wp:Toast></wp:Notification>");
        }
        Notification::Tile(tile) => {
            let template = tile.template.template_name();
            if template.is_some() {
                gate(FieldName::Template, FieldName::Template.since(), target)?;
            }
            sink.markup(DECLARATION_AND_ROOT);
            // Templates carry Version="2.0" as Microsoft documents; the standard tile never does.
            sink.markup(if template.is_some() {
                " Version=\"2.0\"><wp:Tile"
            } else {
                "><wp:Tile"
            });
            if let Some(id) = tile.id {
                gate(FieldName::Id, FieldName::Id.since(), target)?;
                if id.is_empty() {
                    return Err(EncodeError::field(FieldName::Id, FieldProblem::Empty));
                }
                sink.markup(" Id=\"");
                sink.attribute(FieldName::Id, id)?;
                sink.markup("\"");
            }
            if let Some(name) = template {
                sink.markup(" Template=\"");
                sink.markup(name);
                sink.markup("\"");
            }
            sink.markup(">");
            tile.template
                .try_for_each(|field, value| tile_element(sink, field, value, target))?;
            sink.markup("</wp:Tile></wp:Notification>");
        }
        Notification::Raw(raw) => {
            if raw.voip {
                gate(FieldName::Voip, FieldName::Voip.since(), target)?;
            }
            sink.bytes(raw.body);
        }
    }
    Ok(())
}

/// Exact body length of `notification`, after validating every value.
pub(crate) fn measure(
    notification: &Notification<'_>,
    target: TargetOs,
) -> Result<usize, EncodeError> {
    let mut m = Measure::default();
    emit(notification, target, &mut m)?;
    Ok(m.len)
}

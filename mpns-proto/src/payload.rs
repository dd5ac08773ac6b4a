//! The body encoder: compact UTF-8 XML for toasts and tiles, bytes as given for raw.
//!
//! One function, [`emit`], describes every document. It runs twice: first into
//! a measuring [`Sink`], which validates every value and counts the exact
//! length, then into a writing one, which copies bytes into a buffer known to
//! be large enough. The length reported is therefore the length written.
//!
//! The sink is one type that does either, rather than two types behind a
//! trait: `emit`, every tile template included, is then compiled once rather
//! than once per pass (2 KB less on a Cortex-M4).

use crate::error::{EncodeError, FieldProblem};
use crate::notification::{Field, FieldName, Notification, Sound, Value};
use crate::options::TargetOs;

const DECLARATION_AND_ROOT: &str =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?><wp:Notification xmlns:wp=\"WPNotification\"";

/// Where [`emit`] sends the document: a count, or a buffer.
pub(crate) struct Sink<'b> {
    /// `None` to measure: count the bytes and validate every value.
    /// `Some` to write into a buffer at least as long as the measured length.
    out: Option<&'b mut [u8]>,
    /// Bytes so far.
    len: usize,
}

/// Copies bytes into a buffer large enough for them (the request's header lines).
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

    /// The part of the buffer not written yet.
    pub(crate) fn rest(self) -> &'b mut [u8] {
        &mut self.buf[self.pos..]
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

impl<'b> Sink<'b> {
    /// A sink that validates and counts.
    pub(crate) const fn measure() -> Self {
        Sink { out: None, len: 0 }
    }

    /// A sink that writes into `buf`, which has room for the measured length.
    pub(crate) const fn write(buf: &'b mut [u8]) -> Self {
        Sink {
            out: Some(buf),
            len: 0,
        }
    }

    /// Bytes counted or written so far.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    /// Markup, copied as is.
    #[inline]
    fn markup(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// Opaque bytes (raw bodies), copied as is.
    #[inline(always)]
    fn bytes(&mut self, b: &[u8]) {
        let end = self.len + b.len();
        if let Some(out) = &mut self.out {
            out[self.len..end].copy_from_slice(b);
        }
        self.len = end;
    }

    /// Element text: validated, then escaped.
    fn text(&mut self, field: FieldName, s: &str) -> Result<(), EncodeError> {
        self.value(field, s, &TEXT_CLASS)
    }

    /// Attribute value (inside double quotes): validated, then escaped.
    fn attribute(&mut self, field: FieldName, s: &str) -> Result<(), EncodeError> {
        self.value(field, s, &ATTRIBUTE_CLASS)
    }

    /// A value: validated and counted, or escaped into the buffer.
    #[inline(always)]
    fn value(&mut self, field: FieldName, s: &str, classes: &[u8; 256]) -> Result<(), EncodeError> {
        match &mut self.out {
            None => {
                self.len += escaped_len(s, classes).map_err(|p| EncodeError::field(field, p))?;
            }
            // Validated when measured: only escaping is left.
            Some(out) => self.len = escape_into(out, self.len, s, classes),
        }
        Ok(())
    }
}

/// Writes `s` escaped into `out` at `at`, copying runs of plain bytes at once
/// and replacing each special byte; returns where it ended.
fn escape_into(out: &mut [u8], mut at: usize, s: &str, classes: &[u8; 256]) -> usize {
    let mut put = |b: &[u8]| {
        let end = at + b.len();
        out[at..end].copy_from_slice(b);
        at = end;
    };
    let bytes = s.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if classes[usize::from(b)] == ESCAPE {
            put(&bytes[run_start..i]);
            put(replacement(b));
            run_start = i + 1;
        }
    }
    put(&bytes[run_start..]);
    at
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

#[inline(always)]
fn element(sink: &mut Sink<'_>, field: FieldName, text: &str) -> Result<(), EncodeError> {
    let Some((open, close, _)) = field.tags() else {
        return Ok(());
    };
    sink.markup(open);
    sink.text(field, text)?;
    sink.markup(close);
    Ok(())
}

fn tile_element(
    sink: &mut Sink<'_>,
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
pub(crate) fn emit(
    notification: &Notification<'_>,
    target: TargetOs,
    sink: &mut Sink<'_>,
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
    let mut m = Sink::measure();
    emit(notification, target, &mut m)?;
    Ok(m.len())
}

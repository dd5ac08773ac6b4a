//! The body encoder: compact UTF-8 XML for toasts and tiles, bytes as given for raw.
//!
//! One function, [`emit`], describes every document. It runs twice: first into
//! a measuring [`Sink`], which validates every value, counts the exact length
//! and notes which values need escaping, then into a writing one, which copies
//! bytes into a buffer known to be large enough (values with nothing to escape
//! in one copy each). The length reported is therefore the length written.
//!
//! The sink is one type that does either, rather than two types behind a
//! trait: `emit`, every tile template included, is then compiled once rather
//! than once per pass (2 KB less on a Cortex-M4).

use crate::error::{EncodeError, FieldProblem};
#[cfg(feature = "tiles")]
use crate::notification::{Field, Value};
use crate::notification::{FieldName, Notification, Raw, Sound};
use crate::options::TargetOs;

const DECLARATION_AND_ROOT: &str =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?><wp:Notification xmlns:wp=\"WPNotification\"";

/// Where [`emit`] sends the document. It writes what fits into `out` and
/// counts everything, so one type measures (with an empty `out`), writes a
/// measured document, or does both at once.
pub(crate) struct Sink<'b> {
    out: &'b mut [u8],
    /// Bytes counted so far (written too, where they fit).
    len: usize,
    /// Whether values are checked: not when they were checked by a measure.
    validate: bool,
    /// Which values need escaping: bit `i` for the `i`-th value (bit 63 for
    /// the 63rd and later). Found when validating; lets a later write copy the others.
    escapes: u64,
    /// Values seen so far.
    values: u32,
}

/// What measuring a body found: its length, and which values need escaping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Measured {
    pub(crate) len: usize,
    pub(crate) escapes: u64,
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

    // Inlined on hosts for speed; one copy on microcontrollers for flash.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    pub(crate) fn put(&mut self, b: &[u8]) {
        let end = self.pos + b.len();
        copy(&mut self.buf[self.pos..end], b);
        self.pos = end;
    }

    /// CRLF (the end of the line before), `name`, `: ` and `value`: a
    /// header line but for its own CRLF, with one bounds check.
    #[inline(always)]
    pub(crate) fn put_header_line(&mut self, name: &[u8], value: &[u8]) {
        if !FAST_PATHS {
            // Four calls of one `put`: less flash than the checks below.
            for part in [b"\r\n", name, b": ", value] {
                self.put(part);
            }
            return;
        }
        let end = self.pos + name.len() + 4 + value.len();
        let (start, value_out) = self.buf[self.pos..end].split_at_mut(name.len() + 4);
        let (crlf, rest) = start.split_at_mut(2);
        let (name_out, colon) = rest.split_at_mut(name.len());
        crlf.copy_from_slice(b"\r\n");
        copy(name_out, name);
        colon.copy_from_slice(b": ");
        copy(value_out, value);
        self.pos = end;
    }
}

// How each byte of a value is written, as a little-endian word: its
// replacement (or the byte itself) in bytes 0 to 5, flags in byte 6, the
// width in byte 7. Text escapes the five XML specials and CR (so that a CR is
// not turned into LF by the reader's end-of-line handling); attributes also
// escape TAB and LF, which attribute-value normalisation would turn into
// spaces. Control characters and 0xEF (which starts U+FFFE and U+FFFF) are
// flagged for a closer look, as XML forbids some of them.

/// Flag: the byte is replaced.
const ESCAPED: u64 = 1 << 48;
/// Flag: the byte may start a character XML forbids.
const CHECK: u64 = 2 << 48;

/// The word of byte `b` (see above), from its replacement if it has one.
const fn word(b: u8, replacement: &[u8]) -> u64 {
    if replacement.is_empty() {
        let check = if b < 0x20 || b == 0xEF { CHECK } else { 0 };
        return (1 << 56) | check | b as u64;
    }
    let mut w = ((replacement.len() as u64) << 56) | ESCAPED;
    let mut i = 0;
    while i < replacement.len() {
        w |= (replacement[i] as u64) << (8 * i);
        i += 1;
    }
    w
}

/// The replacement of byte `b` (empty for none).
const fn replacement_of(b: u8, attribute: bool) -> &'static [u8] {
    match b {
        b'&' => b"&amp;",
        b'<' => b"&lt;",
        b'>' => b"&gt;",
        b'"' => b"&quot;",
        b'\'' => b"&apos;",
        b'\r' => b"&#13;",
        b'\t' if attribute => b"&#9;",
        b'\n' if attribute => b"&#10;",
        _ => b"",
    }
}

/// The words of every byte: one load per byte, for hosts.
#[cfg(target_pointer_width = "64")]
type Escapes = [u64; 256];

#[cfg(target_pointer_width = "64")]
const fn escapes(attribute: bool) -> Escapes {
    let mut t = [0; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = word(b as u8, replacement_of(b as u8, attribute));
        b += 1;
    }
    t
}

#[cfg(target_pointer_width = "64")]
#[inline(always)]
fn word_of(b: u8, escapes: &Escapes) -> u64 {
    escapes[usize::from(b)]
}

// Microcontrollers: which bytes are replaced, by index into `REPLACED`, in
// 256 bytes rather than 2 KiB. Built on hosts too, for its test.

/// The bytes that may be replaced.
#[cfg(any(test, not(target_pointer_width = "64")))]
const SPECIALS: [u8; 8] = *b"&<>\"'\r\t\n";

/// The words of [`SPECIALS`], after the word of no replacement.
#[cfg(any(test, not(target_pointer_width = "64")))]
const REPLACED: [u64; 9] = {
    let mut r = [0; 9];
    let mut i = 0;
    while i < SPECIALS.len() {
        r[i + 1] = word(SPECIALS[i], replacement_of(SPECIALS[i], true));
        i += 1;
    }
    r
};

#[cfg(any(test, not(target_pointer_width = "64")))]
const fn compact_escapes(attribute: bool) -> [u8; 256] {
    let mut t = [0; 256];
    let mut i = 0;
    while i < SPECIALS.len() {
        if !replacement_of(SPECIALS[i], attribute).is_empty() {
            t[SPECIALS[i] as usize] = i as u8 + 1;
        }
        i += 1;
    }
    t
}

#[cfg(any(test, not(target_pointer_width = "64")))]
#[inline(always)]
fn compact_word_of(b: u8, escapes: &[u8; 256]) -> u64 {
    match escapes[usize::from(b)] {
        0 => word(b, b""),
        i => REPLACED[usize::from(i) % REPLACED.len()],
    }
}

#[cfg(not(target_pointer_width = "64"))]
type Escapes = [u8; 256];

#[cfg(not(target_pointer_width = "64"))]
const fn escapes(attribute: bool) -> Escapes {
    compact_escapes(attribute)
}

#[cfg(not(target_pointer_width = "64"))]
#[inline(always)]
fn word_of(b: u8, escapes: &Escapes) -> u64 {
    compact_word_of(b, escapes)
}

const TEXT: Escapes = escapes(false);
#[cfg(feature = "tiles")]
const ATTRIBUTE: Escapes = escapes(true);

/// Escaped length of `s`, whether it needs escaping, or the offset and code
/// point of a forbidden character.
#[inline]
fn escaped_len(s: &[u8], escapes: &Escapes) -> Result<(usize, bool), FieldProblem> {
    // No branch per byte: sum the widths, collect the flags.
    let mut len = 0;
    let mut seen = 0;
    for &b in s {
        let w = word_of(b, escapes);
        len += (w >> 56) as usize;
        seen |= w;
    }
    if seen & CHECK != 0 {
        find_forbidden(s)?;
    }
    Ok((len, seen & ESCAPED != 0))
}

/// The first character of `s` that XML forbids, if any.
#[cold]
fn find_forbidden(s: &[u8]) -> Result<(), FieldProblem> {
    for (offset, &b) in s.iter().enumerate() {
        if b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') {
            return Err(FieldProblem::ForbiddenXmlChar {
                offset,
                code_point: u32::from(b),
            });
        }
        if let [0xEF, 0xBF, last @ (0xBE | 0xBF), ..] = s[offset..] {
            return Err(FieldProblem::ForbiddenXmlChar {
                offset,
                code_point: 0xFFC0 | u32::from(last & 0x3F),
            });
        }
    }
    Ok(())
}

/// Writes `s` escaped into `out` at `at`, which has room for it, and returns
/// where it ended: one eight-byte store per byte, no branch on the byte
/// (escapes are common in real texts and unpredictable). The bytes stored
/// past a replacement are overwritten by what follows.
fn escape_into(out: &mut [u8], mut at: usize, s: &[u8], escapes: &Escapes) -> usize {
    for &b in s {
        let w = word_of(b, escapes);
        let width = (w >> 56) as usize;
        match out.get_mut(at..at + 8) {
            Some(dst) => dst.copy_from_slice(&w.to_le_bytes()),
            // Markup follows every value, so the store fits but near the end
            // of a buffer sized to the document.
            None => write_exact(out, at, &w.to_le_bytes()[..width]),
        }
        at += width;
    }
    at
}

#[cold]
fn write_exact(out: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = out.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// Whether the encoder's second, faster paths are built: a value with room
/// for any escaping written while it is validated (a look for a plain
/// prefix, then one escaping pass) rather than scanned then written, and the
/// sender encoding into its arena in one pass. Faster on hosts; on
/// microcontrollers, where flash counts more, they are left out.
pub(crate) const FAST_PATHS: bool = cfg!(target_pointer_width = "64");

/// How many leading bytes of `s` are written as they are, in steps of eight
/// (all of `s` if none is special): a cheap look before copying them at once.
fn plain_prefix(s: &[u8], escapes: &Escapes) -> usize {
    let special = |bytes: &[u8]| {
        bytes
            .iter()
            .fold(0, |flags, &b| flags | word_of(b, escapes))
            & (ESCAPED | CHECK)
            != 0
    };
    let mut plain = 0;
    for chunk in s.chunks_exact(8) {
        if special(chunk) {
            return plain;
        }
        plain += 8;
    }
    if special(&s[plain..]) { plain } else { s.len() }
}

/// `dst.copy_from_slice(src)`. On hosts, up to 32 bytes go as two
/// overlapping fixed-size copies: markup and most values are short, and a
/// call to `memcpy` costs more than the copy.
#[inline(always)]
fn copy(dst: &mut [u8], src: &[u8]) {
    if FAST_PATHS && src.len() <= 32 {
        copy_short(dst, src);
    } else {
        dst.copy_from_slice(src);
    }
}

/// [`copy`] of at most 32 bytes.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len().min(dst.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    if n >= 16 {
        dst[..16].copy_from_slice(&src[..16]);
        dst[n - 16..].copy_from_slice(&src[n - 16..]);
    } else if n >= 8 {
        dst[..8].copy_from_slice(&src[..8]);
        dst[n - 8..].copy_from_slice(&src[n - 8..]);
    } else if n >= 4 {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..].copy_from_slice(&src[n - 4..]);
    } else if n > 0 {
        // One to three bytes: the first, middle and last (no loop).
        dst[0] = src[0];
        dst[n / 2] = src[n / 2];
        dst[n - 1] = src[n - 1];
    }
}

/// Room [`escape_checked`] needs past the value's six bytes per byte.
const ESCAPE_SLACK: usize = 24;

/// [`escape_into`] for a buffer with room for six bytes per byte and
/// [`ESCAPE_SLACK`] more; also returns the flags seen. Eight bytes at a time
/// into a 72-byte window, where every store is in bounds by construction
/// (an offset below 64, eight bytes): no bounds check per byte.
fn escape_checked(out: &mut [u8], mut at: usize, s: &[u8], escapes: &Escapes) -> (usize, u64) {
    let mut seen = 0;
    let mut chunks = s.chunks_exact(8);
    for chunk in &mut chunks {
        let Some(window) = out.get_mut(at..at + 72) else {
            // Not reached with the room asked for; the bytes go one by one.
            let (end, flags) = escape_bytes(out, at, chunk, escapes);
            (at, seen) = (end, seen | flags);
            continue;
        };
        let mut p = 0;
        for &b in chunk {
            let w = word_of(b, escapes);
            // At most 42 before the last store: the mask changes nothing.
            let q = p & 63;
            window[q..q + 8].copy_from_slice(&w.to_le_bytes());
            p += (w >> 56) as usize;
            seen |= w;
        }
        at += p;
    }
    let (end, flags) = escape_bytes(out, at, chunks.remainder(), escapes);
    (end, seen | flags)
}

/// [`escape_checked`] one byte at a time.
fn escape_bytes(out: &mut [u8], mut at: usize, s: &[u8], escapes: &Escapes) -> (usize, u64) {
    let mut seen = 0;
    for &b in s {
        let w = word_of(b, escapes);
        if let Some(dst) = out.get_mut(at..at + 8) {
            dst.copy_from_slice(&w.to_le_bytes());
        }
        at += (w >> 56) as usize;
        seen |= w;
    }
    (at, seen)
}

impl<'b> Sink<'b> {
    /// A sink that validates and counts.
    pub(crate) fn measure() -> Self {
        Sink::validating(&mut [])
    }

    /// A sink that validates, counts, and writes what fits into `buf`.
    pub(crate) fn validating(buf: &'b mut [u8]) -> Self {
        Sink {
            out: buf,
            len: 0,
            validate: true,
            escapes: 0,
            values: 0,
        }
    }

    /// A sink that writes a measured document into `buf`, which has room for it.
    pub(crate) fn write(buf: &'b mut [u8], measured: Measured) -> Self {
        Sink {
            out: buf,
            len: 0,
            validate: false,
            escapes: measured.escapes,
            values: 0,
        }
    }

    /// What was counted.
    pub(crate) const fn measured(&self) -> Measured {
        Measured {
            len: self.len,
            escapes: self.escapes,
        }
    }

    /// Bytes counted (or written) so far.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    /// Markup, copied as is.
    #[inline(always)]
    fn markup(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// Opaque bytes (raw bodies), copied as is. One copy on microcontrollers.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn bytes(&mut self, b: &[u8]) {
        let end = self.len + b.len();
        if let Some(dst) = self.out.get_mut(self.len..end) {
            copy(dst, b);
        }
        self.len = end;
    }

    /// Element text: validated, then escaped. Inlined on hosts.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn text(&mut self, field: FieldName, s: &str) -> Result<(), EncodeError> {
        self.value(field, s, &TEXT)
    }

    /// Attribute value (inside double quotes): validated, then escaped.
    #[cfg(feature = "tiles")]
    fn attribute(&mut self, field: FieldName, s: &str) -> Result<(), EncodeError> {
        self.value(field, s, &ATTRIBUTE)
    }

    /// A value: validated unless it was before, then written (escaped only
    /// if it needs it) where it fits, and counted.
    #[inline(always)]
    fn value(&mut self, field: FieldName, s: &str, escapes: &Escapes) -> Result<(), EncodeError> {
        let bit = 1u64 << self.values.min(63);
        self.values += 1;
        let s = s.as_bytes();
        if FAST_PATHS && self.validate && self.out.len() >= self.len + 6 * s.len() + ESCAPE_SLACK {
            // Room for any escaping: write while validating, in one pass.
            let plain = plain_prefix(s, escapes);
            let (head, tail) = s.split_at(plain);
            self.bytes(head);
            if !tail.is_empty() {
                let (end, seen) = escape_checked(self.out, self.len, tail, escapes);
                if seen & CHECK != 0 {
                    find_forbidden(s).map_err(|p| EncodeError::field(field, p))?;
                }
                if seen & ESCAPED != 0 {
                    self.escapes |= bit;
                }
                self.len = end;
            }
            return Ok(());
        }
        let len = if self.validate {
            let (len, escaped) =
                escaped_len(s, escapes).map_err(|p| EncodeError::field(field, p))?;
            if escaped {
                self.escapes |= bit;
            }
            len
        } else {
            0
        };
        if self.escapes & bit == 0 {
            self.bytes(s);
        } else if self.validate && self.out.len() < self.len + len {
            self.len += len; // counted only: it does not fit
        } else {
            self.len = escape_into(self.out, self.len, s, escapes);
        }
        Ok(())
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
#[cfg(feature = "tiles")]
fn is_color(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 9 && b[0] == b'#' && b[1..].iter().all(u8::is_ascii_hexdigit)
}

#[cfg_attr(target_pointer_width = "64", inline(always))]
#[cfg_attr(not(target_pointer_width = "64"), inline(never))]
fn element(sink: &mut Sink<'_>, field: FieldName, text: &str) -> Result<(), EncodeError> {
    let Some((open, close, _)) = field.tags() else {
        return Ok(());
    };
    sink.markup(open);
    sink.text(field, text)?;
    sink.markup(close);
    Ok(())
}

#[cfg(feature = "tiles")]
#[inline(always)]
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
        #[cfg(feature = "tiles")]
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
            check_raw(raw, target)?;
            sink.bytes(raw.body);
        }
    }
    Ok(())
}

/// The only refusal of a raw body: VoIP for an OS older than Windows Phone 8.
#[inline(always)]
pub(crate) fn check_raw(raw: &Raw<'_>, target: TargetOs) -> Result<(), EncodeError> {
    if raw.voip {
        gate(FieldName::Voip, FieldName::Voip.since(), target)?;
    }
    Ok(())
}

/// Exact body length of `notification`, after validating every value.
pub(crate) fn measure(
    notification: &Notification<'_>,
    target: TargetOs,
) -> Result<Measured, EncodeError> {
    let mut m = Sink::measure();
    emit(notification, target, &mut m)?;
    Ok(m.measured())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The microcontrollers' compact tables give every byte the same word as
    /// the hosts' full ones (which the property tests exercise).
    #[test]
    fn compact_escape_tables_agree_with_the_words() {
        for attribute in [false, true] {
            let compact = compact_escapes(attribute);
            for b in 0..=255u8 {
                assert_eq!(
                    compact_word_of(b, &compact),
                    word(b, replacement_of(b, attribute)),
                    "byte {b:#04x}, attribute {attribute}"
                );
            }
        }
    }
}

//! Errors of the caller's making: what was wrong with the notification or buffer.

use core::fmt;

use crate::notification::FieldName;
use crate::options::TargetOs;
use crate::uri::UriError;

/// Why one field was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FieldProblem {
    /// A character XML 1.0 forbids (a C0 control other than tab, LF, CR, or
    /// U+FFFE / U+FFFF) at this byte offset of the value.
    ForbiddenXmlChar {
        /// Byte offset in the value.
        offset: usize,
        /// The character's code point.
        code_point: u32,
    },
    /// `Count` must be 0 to 99.
    CountOutOfRange {
        /// The value given.
        value: u8,
    },
    /// `BackgroundColor` must be `#AARRGGBB` (eight hex digits).
    NotAColor,
    /// The target OS does not understand this field (or its `Action="Clear"`).
    NotSupported {
        /// The OS the notification targets.
        target: TargetOs,
        /// The oldest OS that understands it.
        since: TargetOs,
    },
    /// A URI that failed validation.
    Uri(UriError),
    /// Only authenticated (https) channels take callbacks.
    NeedsAuthenticatedChannel,
    /// An empty value where one is required (a tile `Id` names a page).
    Empty,
    /// VoIP (class 4) has no delivery interval: the delivery must be immediate.
    VoipNeedsImmediateDelivery,
}

/// A refused notification or request. Nothing was written when this is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// One field is invalid; names the field and the reason.
    Field {
        /// The field at fault.
        field: FieldName,
        /// What is wrong with it.
        problem: FieldProblem,
    },
    /// A toast needs a non-empty `Text1` or `Text2`.
    EmptyToast,
    /// The body is larger than the configured limit.
    BodyTooLarge {
        /// Body length in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The header lines are larger than the configured limit.
    HeadersTooLarge {
        /// Total length of the header lines in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The output buffer is too small; it was left unchanged.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
}

impl EncodeError {
    pub(crate) const fn field(field: FieldName, problem: FieldProblem) -> Self {
        EncodeError::Field { field, problem }
    }

    /// The field at fault, if the error is about one field.
    pub const fn field_name(&self) -> Option<FieldName> {
        match self {
            EncodeError::Field { field, .. } => Some(*field),
            _ => None,
        }
    }
}

/// The output buffer is too small; it was left unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufferTooSmall {
    /// Bytes needed.
    pub needed: usize,
}

impl From<BufferTooSmall> for EncodeError {
    fn from(e: BufferTooSmall) -> Self {
        EncodeError::BufferTooSmall { needed: e.needed }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FieldProblem::ForbiddenXmlChar { offset, code_point } => write!(
                f,
                "character U+{code_point:04X} at byte {offset} is not allowed in XML 1.0"
            ),
            FieldProblem::CountOutOfRange { value } => {
                write!(f, "{value} is out of range (a count is 0 to 99)")
            }
            FieldProblem::NotAColor => f.write_str("not a color of the form #AARRGGBB"),
            FieldProblem::NotSupported { target, since } => write!(
                f,
                "not supported by Windows Phone {target} (needs {since} or later)"
            ),
            FieldProblem::Uri(e) => write!(f, "invalid URI: {e}"),
            FieldProblem::Empty => f.write_str("must not be empty"),
            FieldProblem::VoipNeedsImmediateDelivery => f.write_str(
                "a VoIP notification is class 4, which has no delivery interval: use immediate delivery",
            ),
            FieldProblem::NeedsAuthenticatedChannel => f.write_str(
                "only authenticated (https) channels take a callback; this channel is http",
            ),
        }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::Field { field, problem } => write!(f, "{field}: {problem}"),
            EncodeError::EmptyToast => {
                f.write_str("a toast needs Text1 or Text2 (both are absent or empty)")
            }
            EncodeError::BodyTooLarge { len, limit } => {
                write!(f, "the body is {len} bytes; the limit is {limit}")
            }
            EncodeError::HeadersTooLarge { len, limit } => {
                write!(f, "the headers are {len} bytes; the limit is {limit}")
            }
            EncodeError::BufferTooSmall { needed } => {
                write!(f, "the output buffer is too small: {needed} bytes needed")
            }
        }
    }
}

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the output buffer is too small: {} bytes needed",
            self.needed
        )
    }
}

impl core::error::Error for FieldProblem {}
impl core::error::Error for EncodeError {}
impl core::error::Error for BufferTooSmall {}

//! Per-request options: delivery interval, message id, callback URI, target OS, size limits.

use core::fmt;

/// How soon MPNS should deliver: the notification class (`docs/protocol.md`,
/// "Notification classes").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Delivery {
    /// Class 1 (tile), 2 (toast), 3 (raw). The default: a 450 s default made
    /// notifications look random to users of another library.
    #[default]
    #[cfg_attr(feature = "serde", serde(rename = "immediate"))]
    Immediate,
    /// Class 11, 12, 13: within 450 seconds.
    #[cfg_attr(feature = "serde", serde(rename = "450"))]
    Within450s,
    /// Class 21, 22, 23: within 900 seconds.
    #[cfg_attr(feature = "serde", serde(rename = "900"))]
    Within900s,
}

impl Delivery {
    /// Every interval, soonest first.
    pub const ALL: [Delivery; 3] = [
        Delivery::Immediate,
        Delivery::Within450s,
        Delivery::Within900s,
    ];

    /// The name used by the CLI and serde: `immediate`, `450`, `900`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Delivery::Immediate => "immediate",
            Delivery::Within450s => "450",
            Delivery::Within900s => "900",
        }
    }

    /// Parses a name of [`Delivery::as_str`] (ASCII case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(name))
    }

    /// The tens digit added to the kind's base class (1 tile, 2 toast, 3 raw).
    pub(crate) const fn class_offset(self) -> u8 {
        match self {
            Delivery::Immediate => 0,
            Delivery::Within450s => 10,
            Delivery::Within900s => 20,
        }
    }
}

/// The phone OS the notification is written for (`docs/protocol.md`, "OS versions").
///
/// An element the target does not know is refused, never silently dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TargetOs {
    /// Windows Phone 7.0: toast Text1/Text2, standard tile front.
    #[cfg_attr(feature = "serde", serde(rename = "7.0"))]
    Wp70,
    /// 7.1: toast Param, tile `Id`, tile back, `Action="Clear"`.
    #[cfg_attr(feature = "serde", serde(rename = "7.1"))]
    Wp71,
    /// 7.8: the Flip, Iconic and Cycle templates.
    #[cfg_attr(feature = "serde", serde(rename = "7.8"))]
    Wp78,
    /// 8.0: raw VoIP (class 4).
    #[cfg_attr(feature = "serde", serde(rename = "8.0"))]
    Wp80,
    /// 8.0 GDR3 (8.0.10492): toast Sound and Silent. The default.
    #[default]
    #[cfg_attr(feature = "serde", serde(rename = "8.0gdr3"))]
    Wp80Gdr3,
}

impl TargetOs {
    /// Every target, oldest first.
    pub const ALL: [TargetOs; 5] = [
        TargetOs::Wp70,
        TargetOs::Wp71,
        TargetOs::Wp78,
        TargetOs::Wp80,
        TargetOs::Wp80Gdr3,
    ];

    /// The name used by the CLI and serde: `7.0`, `7.1`, `7.8`, `8.0`, `8.0gdr3`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TargetOs::Wp70 => "7.0",
            TargetOs::Wp71 => "7.1",
            TargetOs::Wp78 => "7.8",
            TargetOs::Wp80 => "8.0",
            TargetOs::Wp80Gdr3 => "8.0gdr3",
        }
    }

    /// Parses a name of [`TargetOs::as_str`] (ASCII case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }
}

/// A name that is not a [`TargetOs`] or [`Delivery`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UnknownName;

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown name")
    }
}

impl core::error::Error for UnknownName {}

impl core::str::FromStr for TargetOs {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        TargetOs::from_name(s).ok_or(UnknownName)
    }
}

impl core::str::FromStr for Delivery {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Delivery::from_name(s).ok_or(UnknownName)
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for TargetOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Size limits checked before anything is written (`docs/protocol.md`, "Limits").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Limits {
    /// Largest toast or tile body in bytes (default 3072).
    pub payload: usize,
    /// Largest raw body in bytes (default 1024).
    pub raw: usize,
    /// Largest callback registration body in bytes (default 1024).
    pub callback_body: usize,
    /// Largest total of header lines in bytes, `Host` through `Content-Length`,
    /// each counted as `Name: value\r\n` (default 1024).
    pub headers: usize,
}

impl Limits {
    /// The defaults of `docs/protocol.md`, "Limits".
    pub const DEFAULT: Limits = Limits {
        payload: 3072,
        raw: 1024,
        callback_body: 1024,
        headers: 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Options of one notification request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Options<'a> {
    /// Delivery interval; immediate by default.
    pub delivery: Delivery,
    /// `X-MessageID`, echoed by MPNS in its response.
    pub message_id: Option<MessageId>,
    /// `X-CallbackURI`: authenticated (https) channels only.
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub callback_uri: Option<&'a str>,
    /// The phone OS the payload must be understood by; the newest by default.
    pub target_os: TargetOs,
    /// Size limits.
    pub limits: Limits,
}

/// A UUID sent as `X-MessageID`. The core has no random source: the caller
/// provides the 16 bytes (random, or from its own counter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct MessageId(pub [u8; 16]);

/// Length of the canonical text of a UUID, `8-4-4-4-12` hex digits.
pub const MESSAGE_ID_TEXT_LEN: usize = 36;

/// Why a message id did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MessageIdError {
    /// Not 36 characters long; carries the length in bytes.
    Length {
        /// Length of the given text in bytes.
        len: usize,
    },
    /// A character that is not a hex digit, or a hyphen missing, at this offset.
    BadChar {
        /// Byte offset of the character.
        offset: usize,
    },
}

impl fmt::Display for MessageIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MessageIdError::Length { len } => write!(
                f,
                "a message id is a UUID of 36 characters (8-4-4-4-12 hex digits), not {len}"
            ),
            MessageIdError::BadChar { offset } => write!(
                f,
                "unexpected character at offset {offset} of the message id (expected 8-4-4-4-12 hex digits)"
            ),
        }
    }
}

impl core::error::Error for MessageIdError {}

const HYPHENS: [usize; 4] = [8, 13, 18, 23];

impl MessageId {
    /// The all-zero id MPNS echoes when the request carried none.
    pub const NIL: MessageId = MessageId([0; 16]);

    /// Parses the canonical `8-4-4-4-12` form, hex digits in either case.
    pub fn parse(text: &str) -> Result<Self, MessageIdError> {
        let b = text.as_bytes();
        if b.len() != MESSAGE_ID_TEXT_LEN {
            return Err(MessageIdError::Length { len: b.len() });
        }
        let mut out = [0u8; 16];
        let mut nibble = 0;
        for (offset, &c) in b.iter().enumerate() {
            if HYPHENS.contains(&offset) {
                if c != b'-' {
                    return Err(MessageIdError::BadChar { offset });
                }
                continue;
            }
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(MessageIdError::BadChar { offset }),
            };
            out[nibble / 2] |= if nibble % 2 == 0 { v << 4 } else { v };
            nibble += 1;
        }
        Ok(MessageId(out))
    }

    /// The canonical lower-case text, as sent on the wire.
    pub fn to_text(&self) -> [u8; MESSAGE_ID_TEXT_LEN] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut nibbles = self.0.iter().flat_map(|b| [b >> 4, b & 0xf]);
        // Built byte by byte rather than filled first: no `memset` on microcontrollers.
        core::array::from_fn(|i| match i {
            8 | 13 | 18 | 23 => b'-',
            _ => HEX[usize::from(nibbles.next().unwrap_or(0) & 0xf)],
        })
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.to_text();
        // The text is ASCII hex digits and hyphens by construction.
        f.write_str(core::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl core::str::FromStr for MessageId {
    type Err = MessageIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MessageId::parse(s)
    }
}

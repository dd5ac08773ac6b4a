//! Hand-written serde forms where derive would be unfriendly.
//!
//! - [`Field`]: in human-readable formats (JSON) a set value is the bare value,
//!   a cleared one is `{"action": "clear"}`, and an absent one is `null` or
//!   omitted. Binary formats (postcard) use a plain three-variant enum.
//! - Raw bodies: a UTF-8 string in human-readable formats, bytes otherwise.
//! - [`MessageId`]: the canonical UUID text in human-readable formats, 16 bytes otherwise.

use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::options::MessageId;

/// The forms of a tile [`Field`].
#[cfg(feature = "tiles")]
mod field {
    use super::*;
    use crate::notification::Field;
    use serde::ser::SerializeStruct;

    /// The binary (and canonical) form of a field.
    #[derive(Serialize, Deserialize)]
    #[serde(rename = "Field", rename_all = "snake_case")]
    enum Tagged<T> {
        Absent,
        Set(T),
        Clear,
    }

    /// The key of `{"action": "clear"}`.
    #[derive(Deserialize)]
    #[serde(field_identifier, rename_all = "snake_case")]
    enum ClearKey {
        Action,
    }

    /// The value of `{"action": "clear"}`.
    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum ClearAction {
        #[serde(alias = "Clear")]
        Clear,
    }

    /// The values a field holds: text borrowed from the input, or a count.
    pub(crate) trait FieldValue<'de>: Sized + Deserialize<'de> {
        const EXPECTING: &'static str;
        fn from_str(_: &'de str) -> Option<Self> {
            None
        }
        fn from_u64(_: u64) -> Option<Self> {
            None
        }
    }

    impl<'de: 'a, 'a> FieldValue<'de> for &'a str {
        const EXPECTING: &'static str =
            "a string borrowed from the input, null (absent) or {\"action\": \"clear\"}";
        fn from_str(v: &'de str) -> Option<Self> {
            Some(v)
        }
    }

    impl FieldValue<'_> for u8 {
        const EXPECTING: &'static str =
            "a number from 0 to 255, null (absent) or {\"action\": \"clear\"}";
        fn from_u64(v: u64) -> Option<Self> {
            u8::try_from(v).ok()
        }
    }

    /// Reads the human-readable form without buffering (no allocator).
    struct ReadableVisitor<T>(PhantomData<T>);

    impl<'de, T: FieldValue<'de>> Visitor<'de> for ReadableVisitor<T> {
        type Value = Field<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(T::EXPECTING)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Field::Absent)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Field::Absent)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            T::from_str(v)
                .map(Field::Set)
                .ok_or_else(|| E::invalid_type(de::Unexpected::Str(v), &self))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            T::from_u64(v)
                .map(Field::Set)
                .ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v)
                .ok()
                .and_then(T::from_u64)
                .map(Field::Set)
                .ok_or_else(|| E::invalid_value(de::Unexpected::Signed(v), &self))
        }

        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let Some(ClearKey::Action) = map.next_key()? else {
                return Err(de::Error::missing_field("action"));
            };
            let ClearAction::Clear = map.next_value()?;
            if map.next_key::<ClearKey>()?.is_some() {
                return Err(de::Error::duplicate_field("action"));
            }
            Ok(Field::Clear)
        }
    }

    impl<T: Serialize> Serialize for Field<T> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            if s.is_human_readable() {
                match self {
                    Field::Absent => s.serialize_none(),
                    Field::Set(v) => v.serialize(s),
                    Field::Clear => {
                        let mut st = s.serialize_struct("Clear", 1)?;
                        st.serialize_field("action", "clear")?;
                        st.end()
                    }
                }
            } else {
                match self {
                    Field::Absent => Tagged::<&T>::Absent.serialize(s),
                    Field::Set(v) => Tagged::Set(v).serialize(s),
                    Field::Clear => Tagged::<&T>::Clear.serialize(s),
                }
            }
        }
    }

    impl<'de, T: FieldValue<'de>> Deserialize<'de> for Field<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            if d.is_human_readable() {
                d.deserialize_option(ReadableVisitor(PhantomData))
            } else {
                Ok(match Tagged::<T>::deserialize(d)? {
                    Tagged::Absent => Field::Absent,
                    Tagged::Set(v) => Field::Set(v),
                    Tagged::Clear => Field::Clear,
                })
            }
        }
    }
}

/// `with` module for `Raw::body`.
pub(crate) mod raw_body {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(body: &&[u8], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            let text = core::str::from_utf8(body).map_err(|_| {
                serde::ser::Error::custom(
                    "a raw body that is not UTF-8 needs a binary format (postcard), not JSON",
                )
            })?;
            s.serialize_str(text)
        } else {
            s.serialize_bytes(body)
        }
    }

    pub(crate) fn deserialize<'de: 'a, 'a, D: Deserializer<'de>>(
        d: D,
    ) -> Result<&'a [u8], D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = &'a [u8];
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a raw body borrowed from the input (a string without escapes, or bytes)",
                )
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(v.as_bytes())
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
                Ok(v)
            }
        }
        if d.is_human_readable() {
            d.deserialize_str(V(PhantomData))
        } else {
            d.deserialize_bytes(V(PhantomData))
        }
    }
}

impl Serialize for MessageId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            let text = self.to_text();
            s.serialize_str(core::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for MessageId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            struct V;
            impl Visitor<'_> for V {
                type Value = MessageId;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a UUID of the form 8-4-4-4-12")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<MessageId, E> {
                    MessageId::parse(v).map_err(E::custom)
                }
            }
            d.deserialize_str(V)
        } else {
            <[u8; 16]>::deserialize(d).map(MessageId)
        }
    }
}

//! The notification model: toast, tile (standard and the three templates;
//! feature `tiles`) and raw (`docs/protocol.md`, "Payloads"). Values are
//! borrowed; nothing is validated until encoding.

use crate::options::TargetOs;

/// One element of a tile: not sent, sent with a value, or sent as `Action="Clear"`.
///
/// Only clear what the user asked to clear: clearing an image the app set
/// locally blanks it on the phone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg(feature = "tiles")]
pub enum Field<T> {
    /// Not sent: the phone keeps what it shows.
    #[default]
    Absent,
    /// Sent with this value.
    Set(T),
    /// Sent empty with `Action="Clear"`: the phone resets the element.
    Clear,
}

#[cfg(feature = "tiles")]
impl<T> From<T> for Field<T> {
    fn from(value: T) -> Self {
        Field::Set(value)
    }
}

/// The sound of a toast (Windows Phone 8.0 GDR3 and later).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Sound<'a> {
    /// A sound file in the app package, e.g. `/Sounds/ding.wav`.
    File(#[cfg_attr(feature = "serde", serde(borrow))] &'a str),
    /// No sound: `<wp:Sound Silent="true"></wp:Sound>`.
    Silent,
}

/// A toast: shown on the phone's screen even when the app is not running.
///
/// At least one of `text1` and `text2` must be non-empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Toast<'a> {
    /// Bold title.
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub text1: Option<&'a str>,
    /// Body text.
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub text2: Option<&'a str>,
    /// Page and query opened on tap, e.g. `/Page2.xaml?a=1` (7.1 and later).
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub param: Option<&'a str>,
    /// Sound file or silence (8.0 GDR3 and later).
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub sound: Option<Sound<'a>>,
}

/// The standard tile of Windows Phone 7.0 (front) and 7.1 (back).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[allow(missing_docs)] // Each field is the element of the same name: docs/protocol.md, "Standard tile".
#[cfg(feature = "tiles")]
pub struct StandardTile<'a> {
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub background_image: Field<&'a str>,
    pub count: Field<u8>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub title: Field<&'a str>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub back_background_image: Field<&'a str>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub back_title: Field<&'a str>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub back_content: Field<&'a str>,
}

/// The flip tile template (7.8 and later).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[allow(missing_docs)] // Each field is the element of the same name: docs/protocol.md, "Tile templates".
#[cfg(feature = "tiles")]
pub struct FlipTile<'a> {
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub small_background_image: Field<&'a str>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub wide_background_image: Field<&'a str>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub wide_back_background_image: Field<&'a str>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub wide_back_content: Field<&'a str>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub background_image: Field<&'a str>,
    pub count: Field<u8>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub title: Field<&'a str>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub back_background_image: Field<&'a str>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub back_title: Field<&'a str>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub back_content: Field<&'a str>,
}

/// The iconic tile template (7.8 and later).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[allow(missing_docs)] // Each field is the element of the same name: docs/protocol.md, "Tile templates".
#[cfg(feature = "tiles")]
pub struct IconicTile<'a> {
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub small_icon_image: Field<&'a str>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub icon_image: Field<&'a str>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub wide_content1: Field<&'a str>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub wide_content2: Field<&'a str>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub wide_content3: Field<&'a str>,
    pub count: Field<u8>,
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub title: Field<&'a str>,
    /// `#AARRGGBB`, e.g. `#FF1BA1E2`.
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub background_color: Field<&'a str>,
}

/// The cycle tile template (7.8 and later): up to nine images shown in turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[cfg(feature = "tiles")]
pub struct CycleTile<'a> {
    /// `SmallBackgroundImage`.
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub small_background_image: Field<&'a str>,
    /// `CycleImage1` to `CycleImage9`, in order.
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub cycle_images: [Field<&'a str>; 9],
    /// `Count`, 0 to 99.
    pub count: Field<u8>,
    /// `Title`.
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub title: Field<&'a str>,
}

/// Which tile, and its elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[cfg(feature = "tiles")]
pub enum TileTemplate<'a> {
    /// The standard tile: no `Template` attribute, no `Version="2.0"`.
    Standard(#[cfg_attr(feature = "serde", serde(borrow))] StandardTile<'a>),
    /// `Template="FlipTile"`.
    Flip(#[cfg_attr(feature = "serde", serde(borrow))] FlipTile<'a>),
    /// `Template="IconicTile"`.
    Iconic(#[cfg_attr(feature = "serde", serde(borrow))] IconicTile<'a>),
    /// `Template="CycleTile"`.
    Cycle(#[cfg_attr(feature = "serde", serde(borrow))] CycleTile<'a>),
}

#[cfg(feature = "tiles")]
impl Default for TileTemplate<'_> {
    fn default() -> Self {
        TileTemplate::Standard(StandardTile::default())
    }
}

/// A tile update: the app's main tile, or a secondary tile named by `id`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[cfg(feature = "tiles")]
pub struct Tile<'a> {
    /// Navigation URI of a secondary tile (7.1 and later); `None` updates the main tile.
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub id: Option<&'a str>,
    /// The template and its elements.
    #[cfg_attr(feature = "serde", serde(borrow))]
    pub template: TileTemplate<'a>,
}

/// A raw notification: opaque bytes for the running app, no XML envelope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Raw<'a> {
    /// The body, sent as is. In human-readable formats (JSON) it is a UTF-8 string.
    #[cfg_attr(feature = "serde", serde(borrow, with = "crate::serde_impl::raw_body"))]
    pub body: &'a [u8],
    /// Send as notification class 4, which starts a Windows Phone 8 VoIP
    /// incoming-call task. Class 4 has no delivery interval: the options'
    /// delivery must be immediate.
    #[cfg_attr(feature = "serde", serde(default))]
    pub voip: bool,
}

/// One notification to one channel.
///
/// Without the `tiles` feature there is no `Tile` variant; the enum is
/// non-exhaustive so that code matching on it builds either way.
// No allocator to box the larger tile variants; a notification is a short-lived value.
#[allow(clippy::large_enum_variant)]
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Notification<'a> {
    /// A toast (`X-WindowsPhone-Target: toast`).
    Toast(#[cfg_attr(feature = "serde", serde(borrow))] Toast<'a>),
    /// A tile update (`X-WindowsPhone-Target: token`), with the `tiles` feature.
    #[cfg(feature = "tiles")]
    Tile(#[cfg_attr(feature = "serde", serde(borrow))] Tile<'a>),
    /// Raw bytes (no `X-WindowsPhone-Target`).
    Raw(#[cfg_attr(feature = "serde", serde(borrow))] Raw<'a>),
}

impl<'a> From<Toast<'a>> for Notification<'a> {
    fn from(t: Toast<'a>) -> Self {
        Notification::Toast(t)
    }
}

#[cfg(feature = "tiles")]
impl<'a> From<Tile<'a>> for Notification<'a> {
    fn from(t: Tile<'a>) -> Self {
        Notification::Tile(t)
    }
}

impl<'a> From<Raw<'a>> for Notification<'a> {
    fn from(r: Raw<'a>) -> Self {
        Notification::Raw(r)
    }
}

/// Defines [`FieldName`] with, for every XML element, its open, close and clear tags.
macro_rules! field_names {
    (
        elements { $($el:ident),* $(,)? }
        others { $($(#[doc = $doc:literal])* $other:ident => $text:literal),* $(,)? }
    ) => {
        /// Every named value a request carries, for error messages and OS gating.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub enum FieldName {
            $(
                #[doc = concat!("The `", stringify!($el), "` element.")]
                $el,
            )*
            $($(#[doc = $doc])* $other,)*
        }

        impl FieldName {
            /// The XML element (or attribute, or header) name, as on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(FieldName::$el => stringify!($el),)*
                    $(FieldName::$other => $text,)*
                }
            }

            /// `<wp:Name>`, `</wp:Name>` and `<wp:Name Action="Clear">` of an element.
            pub(crate) const fn tags(self) -> Option<(&'static str, &'static str, &'static str)> {
                match self {
                    $(FieldName::$el => Some((
                        concat!("<wp:", stringify!($el), ">"),
                        concat!("</wp:", stringify!($el), ">"),
                        concat!("<wp:", stringify!($el), " Action=\"Clear\">"),
                    )),)*
                    _ => None,
                }
            }
        }
    };
}

field_names! {
    elements {
        Text1,
        Text2,
        Param,
        Sound,
        BackgroundImage,
        Count,
        Title,
        BackBackgroundImage,
        BackTitle,
        BackContent,
        SmallBackgroundImage,
        WideBackgroundImage,
        WideBackBackgroundImage,
        WideBackContent,
        SmallIconImage,
        IconImage,
        WideContent1,
        WideContent2,
        WideContent3,
        BackgroundColor,
        CycleImage1,
        CycleImage2,
        CycleImage3,
        CycleImage4,
        CycleImage5,
        CycleImage6,
        CycleImage7,
        CycleImage8,
        CycleImage9,
    }
    others {
        /// The `Id` attribute of a tile.
        Id => "Id",
        /// The `Template` attribute of a tile (FlipTile, IconicTile, CycleTile).
        Template => "Template",
        /// The VoIP option of a raw notification (notification class 4).
        Voip => "VoIP",
        /// The `X-CallbackURI` header.
        CallbackUri => "X-CallbackURI",
    }
}

impl FieldName {
    /// The cycle image elements, in order.
    pub const CYCLE_IMAGES: [FieldName; 9] = {
        use FieldName::*;
        [
            CycleImage1,
            CycleImage2,
            CycleImage3,
            CycleImage4,
            CycleImage5,
            CycleImage6,
            CycleImage7,
            CycleImage8,
            CycleImage9,
        ]
    };

    /// The oldest OS that understands this field on a toast, a standard tile
    /// or a raw notification (`docs/protocol.md`, "OS versions"); template
    /// elements are gated by the template.
    pub(crate) const fn since(self) -> TargetOs {
        use FieldName::*;
        match self {
            Param | Id | BackBackgroundImage | BackTitle | BackContent => TargetOs::Wp71,
            Template => TargetOs::Wp78,
            Voip => TargetOs::Wp80,
            Sound => TargetOs::Wp80Gdr3,
            _ => TargetOs::Wp70,
        }
    }
}

impl core::fmt::Display for FieldName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value of one tile element as the encoder sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg(feature = "tiles")]
pub(crate) enum Value<'a> {
    Text(&'a str),
    Count(u8),
}

#[cfg(feature = "tiles")]
impl<'a> TileTemplate<'a> {
    /// The `Template` attribute value, or `None` for the standard tile.
    pub const fn template_name(&self) -> Option<&'static str> {
        match self {
            TileTemplate::Standard(_) => None,
            TileTemplate::Flip(_) => Some("FlipTile"),
            TileTemplate::Iconic(_) => Some("IconicTile"),
            TileTemplate::Cycle(_) => Some("CycleTile"),
        }
    }

    /// The `Count` element, which every template has.
    pub fn count_mut(&mut self) -> &mut Field<u8> {
        match self {
            TileTemplate::Standard(t) => &mut t.count,
            TileTemplate::Flip(t) => &mut t.count,
            TileTemplate::Iconic(t) => &mut t.count,
            TileTemplate::Cycle(t) => &mut t.count,
        }
    }
}

/// Defines, from one list per template of its elements in Microsoft's
/// documented order, [`TileTemplate::field_names`], [`TileTemplate::text_mut`]
/// and the encoder's walk over the elements.
macro_rules! template_elements {
    ($(
        $template:ident {
            $($kind:ident $field:ident $([$index:literal])? => $name:ident,)*
        }
    )*) => {
        #[cfg(feature = "tiles")]
        impl<'a> TileTemplate<'a> {
            /// The elements of this template, in Microsoft's documented order.
            pub const fn field_names(&self) -> &'static [FieldName] {
                match self {
                    $(TileTemplate::$template(_) => &[$(FieldName::$name),*],)*
                }
            }

            /// The text element `name` of this template, to set or clear it by name;
            /// `None` when the template has no such text element (`Count` is [`Self::count_mut`]).
            pub fn text_mut(&mut self, name: FieldName) -> Option<&mut Field<&'a str>> {
                match (self, name) {
                    $($((TileTemplate::$template(t), FieldName::$name) => {
                        template_elements!(@text_mut $kind t.$field $([$index])?)
                    })*)*
                    _ => None,
                }
            }

            /// Calls `f` for every element in Microsoft's documented order, absent ones included.
            pub(crate) fn try_for_each<E>(
                &self,
                mut f: impl FnMut(FieldName, Field<Value<'a>>) -> Result<(), E>,
            ) -> Result<(), E> {
                match self {
                    $(TileTemplate::$template(t) => {
                        $(f(FieldName::$name, template_elements!(@value $kind t.$field $([$index])?))?;)*
                    })*
                }
                Ok(())
            }
        }
    };
    (@text_mut text $($place:tt)*) => { Some(&mut $($place)*) };
    (@text_mut count $($place:tt)*) => {{ let _ = &$($place)*; None }};
    (@value text $($place:tt)*) => {
        match $($place)* {
            Field::Absent => Field::Absent,
            Field::Set(s) => Field::Set(Value::Text(s)),
            Field::Clear => Field::Clear,
        }
    };
    (@value count $($place:tt)*) => {
        match $($place)* {
            Field::Absent => Field::Absent,
            Field::Set(n) => Field::Set(Value::Count(n)),
            Field::Clear => Field::Clear,
        }
    };
}

template_elements! {
    Standard {
        text background_image => BackgroundImage,
        count count => Count,
        text title => Title,
        text back_background_image => BackBackgroundImage,
        text back_title => BackTitle,
        text back_content => BackContent,
    }
    Flip {
        text small_background_image => SmallBackgroundImage,
        text wide_background_image => WideBackgroundImage,
        text wide_back_background_image => WideBackBackgroundImage,
        text wide_back_content => WideBackContent,
        text background_image => BackgroundImage,
        count count => Count,
        text title => Title,
        text back_background_image => BackBackgroundImage,
        text back_title => BackTitle,
        text back_content => BackContent,
    }
    Iconic {
        text small_icon_image => SmallIconImage,
        text icon_image => IconImage,
        text wide_content1 => WideContent1,
        text wide_content2 => WideContent2,
        text wide_content3 => WideContent3,
        count count => Count,
        text title => Title,
        text background_color => BackgroundColor,
    }
    Cycle {
        text small_background_image => SmallBackgroundImage,
        text cycle_images[0] => CycleImage1,
        text cycle_images[1] => CycleImage2,
        text cycle_images[2] => CycleImage3,
        text cycle_images[3] => CycleImage4,
        text cycle_images[4] => CycleImage5,
        text cycle_images[5] => CycleImage6,
        text cycle_images[6] => CycleImage7,
        text cycle_images[7] => CycleImage8,
        text cycle_images[8] => CycleImage9,
        count count => Count,
        text title => Title,
    }
}

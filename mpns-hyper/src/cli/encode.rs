//! `mpns encode`: the exact request bytes of one notification.
//!
//! The arguments are turned into the `mpns-proto` model and handed to
//! [`Request::notification`] or [`Request::callback_registration`]; every
//! protocol decision (escaping, OS gating, limits, URI checks) is the core's.
//! This module only maps flags to model fields, and refuses flags the chosen
//! tile template has no element for instead of dropping them.

use std::borrow::Cow;
use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand, ValueEnum};
use mpns_proto::{
    ChannelUri, CycleTile, Delivery, EncodeError, Field, FieldName, FlipTile, IconicTile, Limits,
    MessageId, Notification, Options, Raw, Request, Sound, StandardTile, TargetOs, Tile,
    TileTemplate, Toast,
};

use super::CliError;

/// The channel used when `--channel` is not given: the local emulator's demo channel.
pub const DEFAULT_CHANNEL: &str = "http://127.0.0.1:47001/throttledthirdparty/01.00/demo";

/// `mpns encode [OPTIONS] KIND ...`: arguments of the encode command.
#[derive(Debug, Clone, Args)]
pub struct EncodeArgs {
    /// Channel, delivery interval, message id, callback and target OS.
    #[command(flatten)]
    pub request: RequestArgs,
    /// The kind of request and its fields.
    #[command(subcommand)]
    pub kind: Kind,
}

/// Options of the request, accepted before or after the kind.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Request options")]
pub struct RequestArgs {
    /// Channel URI to POST to, as MPNS handed it to the phone app.
    /// Defaults to the demo channel of a local emulator.
    #[arg(long, global = true, value_name = "URI", default_value = DEFAULT_CHANNEL)]
    pub channel: String,

    /// Delivery interval, which sets the notification class [default: immediate]
    #[arg(long, global = true, value_enum, value_name = "WHEN")]
    pub delivery: Option<DeliveryArg>,

    /// X-MessageID: a UUID (8-4-4-4-12 hex digits) that MPNS echoes in its response
    #[arg(long, global = true, value_name = "UUID")]
    pub message_id: Option<MessageId>,

    /// X-CallbackURI: where MPNS posts when the device goes inactive (https channels
    /// only; required by `callback`)
    #[arg(long, global = true, value_name = "URI")]
    pub callback_uri: Option<String>,

    /// Phone OS the payload must be understood by; newer elements are refused
    /// [default: 8.0gdr3]
    #[arg(long, global = true, value_name = "OS", value_parser = target_os_parser())]
    pub target_os: Option<TargetOs>,
}

/// `--target-os`: the names of [`TargetOs::as_str`].
fn target_os_parser() -> impl TypedValueParser<Value = TargetOs> {
    PossibleValuesParser::new(TargetOs::ALL.map(TargetOs::as_str)).try_map(|name| {
        TargetOs::from_name(&name).ok_or_else(|| format!("unknown target OS {name:?}"))
    })
}

/// `--delivery`: how soon MPNS should deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeliveryArg {
    /// Class 1 (tile), 2 (toast), 3 (raw): as soon as possible
    Immediate,
    /// Class 11, 12, 13: within 450 seconds
    #[value(name = "450")]
    Within450s,
    /// Class 21, 22, 23: within 900 seconds
    #[value(name = "900")]
    Within900s,
}

impl From<DeliveryArg> for Delivery {
    fn from(d: DeliveryArg) -> Self {
        match d {
            DeliveryArg::Immediate => Delivery::Immediate,
            DeliveryArg::Within450s => Delivery::Within450s,
            DeliveryArg::Within900s => Delivery::Within900s,
        }
    }
}

/// The kind of request.
#[derive(Debug, Clone, Subcommand)]
pub enum Kind {
    /// A toast: shown on the phone's screen even when the app is not running.
    Toast(ToastArgs),
    /// A tile update: the app's main tile, or a secondary tile named by --id.
    ///
    /// Each element has a flag (--title, --count, ...) and can be cleared with
    /// --clear ELEMENT. Which elements exist depends on --template; a flag the
    /// template has no element for is an error.
    Tile(Box<TileArgs>),
    /// A raw notification: opaque bytes for the running app.
    Raw(RawArgs),
    /// A callback registration (https channels only): POST {channel}/callback
    /// with X-CallbackURI from --callback-uri.
    Callback(CallbackArgs),
}

/// `mpns encode toast`.
#[derive(Debug, Clone, Args)]
pub struct ToastArgs {
    /// Bold title (Text1)
    #[arg(long, value_name = "TEXT")]
    pub text1: Option<String>,
    /// Body text (Text2)
    #[arg(long, value_name = "TEXT")]
    pub text2: Option<String>,
    /// Page and query opened on tap, e.g. /Page2.xaml?a=1 (Param; 7.1 and later)
    #[arg(long, value_name = "URI")]
    pub param: Option<String>,
    /// Sound file in the app package, e.g. /Sounds/ding.wav (Sound; 8.0gdr3 and later)
    #[arg(long, value_name = "FILE", conflicts_with = "silent")]
    pub sound: Option<String>,
    /// A silent toast: <wp:Sound Silent="true"> (8.0gdr3 and later)
    #[arg(long)]
    pub silent: bool,
}

impl ToastArgs {
    /// The toast these arguments describe.
    pub fn toast(&self) -> Toast<'_> {
        Toast {
            text1: self.text1.as_deref(),
            text2: self.text2.as_deref(),
            param: self.param.as_deref(),
            sound: if self.silent {
                Some(Sound::Silent)
            } else {
                self.sound.as_deref().map(Sound::File)
            },
        }
    }
}

/// `--template`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TemplateArg {
    /// The standard tile of 7.0 and 7.1
    Standard,
    /// FlipTile (7.8 and later)
    Flip,
    /// IconicTile (7.8 and later)
    Iconic,
    /// CycleTile (7.8 and later)
    Cycle,
}

impl TemplateArg {
    /// The template with every element absent.
    pub fn empty(self) -> TileTemplate<'static> {
        match self {
            TemplateArg::Standard => TileTemplate::Standard(StandardTile::default()),
            TemplateArg::Flip => TileTemplate::Flip(FlipTile::default()),
            TemplateArg::Iconic => TileTemplate::Iconic(IconicTile::default()),
            TemplateArg::Cycle => TileTemplate::Cycle(CycleTile::default()),
        }
    }

    /// The name on the command line: `standard`, `flip`, `iconic`, `cycle`.
    pub fn name(self) -> &'static str {
        match self {
            TemplateArg::Standard => "standard",
            TemplateArg::Flip => "flip",
            TemplateArg::Iconic => "iconic",
            TemplateArg::Cycle => "cycle",
        }
    }
}

/// `mpns encode tile`.
#[derive(Debug, Clone, Args)]
pub struct TileArgs {
    /// The tile template
    #[arg(long, value_enum, default_value_t = TemplateArg::Standard)]
    pub template: TemplateArg,
    /// Navigation URI of a secondary tile (the Id attribute; 7.1 and later).
    /// Without it the app's main tile is updated.
    #[arg(long, value_name = "URI")]
    pub id: Option<String>,
    /// The elements to set.
    #[command(flatten)]
    pub fields: TileFields,
    /// Send ELEMENT with Action="Clear", which resets it on the phone (7.1 and
    /// later); repeat for several elements
    #[arg(long, value_name = "ELEMENT", value_parser = clear_parser())]
    pub clear: Vec<FieldName>,
}

/// The value of a tile element flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value<'a> {
    Text(&'a str),
    Count(u8),
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(s: &'a String) -> Self {
        Value::Text(s)
    }
}

impl From<&u8> for Value<'_> {
    fn from(n: &u8) -> Self {
        Value::Count(*n)
    }
}

/// Declares [`TileFields`] (one flag per tile element) and [`TILE_FIELDS`].
macro_rules! tile_fields {
    ($($field:ident: $ty:ty => $name:ident, $flag:literal, $value_name:literal, $help:literal;)*) => {
        /// The elements of a tile, one flag each (`--background-image`, `--count`, ...).
        #[derive(Debug, Clone, Default, Args)]
        #[command(next_help_heading = "Tile elements (which exist depends on --template)")]
        pub struct TileFields {
            $(
                #[arg(long = $flag, value_name = $value_name, help = $help)]
                $field: Option<$ty>,
            )*
        }

        /// Every tile element: its name in `mpns-proto` and its flag, in help order.
        const TILE_FIELDS: &[(FieldName, &str)] = &[$((FieldName::$name, $flag),)*];

        impl TileFields {
            /// The elements given, in [`TILE_FIELDS`] order.
            fn given(&self) -> Vec<(FieldName, &'static str, Value<'_>)> {
                let mut given = Vec::new();
                $(
                    if let Some(value) = &self.$field {
                        given.push((FieldName::$name, $flag, Value::from(value)));
                    }
                )*
                given
            }
        }
    };
}

tile_fields! {
    background_image: String => BackgroundImage, "background-image", "URI",
        "BackgroundImage (standard, flip)";
    count: u8 => Count, "count", "N",
        "Count, the badge: 0 to 99; 0 hides it (every template)";
    title: String => Title, "title", "TEXT",
        "Title (every template)";
    back_background_image: String => BackBackgroundImage, "back-background-image", "URI",
        "BackBackgroundImage (standard, flip)";
    back_title: String => BackTitle, "back-title", "TEXT",
        "BackTitle (standard, flip)";
    back_content: String => BackContent, "back-content", "TEXT",
        "BackContent (standard, flip)";
    small_background_image: String => SmallBackgroundImage, "small-background-image", "URI",
        "SmallBackgroundImage (flip, cycle)";
    wide_background_image: String => WideBackgroundImage, "wide-background-image", "URI",
        "WideBackgroundImage (flip)";
    wide_back_background_image: String => WideBackBackgroundImage, "wide-back-background-image",
        "URI", "WideBackBackgroundImage (flip)";
    wide_back_content: String => WideBackContent, "wide-back-content", "TEXT",
        "WideBackContent (flip)";
    small_icon_image: String => SmallIconImage, "small-icon-image", "URI",
        "SmallIconImage (iconic)";
    icon_image: String => IconImage, "icon-image", "URI",
        "IconImage (iconic)";
    wide_content1: String => WideContent1, "wide-content1", "TEXT",
        "WideContent1 (iconic)";
    wide_content2: String => WideContent2, "wide-content2", "TEXT",
        "WideContent2 (iconic)";
    wide_content3: String => WideContent3, "wide-content3", "TEXT",
        "WideContent3 (iconic)";
    background_color: String => BackgroundColor, "background-color", "#AARRGGBB",
        "BackgroundColor, e.g. #FF1BA1E2 (iconic)";
    cycle_image1: String => CycleImage1, "cycle-image1", "URI", "CycleImage1 (cycle)";
    cycle_image2: String => CycleImage2, "cycle-image2", "URI", "CycleImage2 (cycle)";
    cycle_image3: String => CycleImage3, "cycle-image3", "URI", "CycleImage3 (cycle)";
    cycle_image4: String => CycleImage4, "cycle-image4", "URI", "CycleImage4 (cycle)";
    cycle_image5: String => CycleImage5, "cycle-image5", "URI", "CycleImage5 (cycle)";
    cycle_image6: String => CycleImage6, "cycle-image6", "URI", "CycleImage6 (cycle)";
    cycle_image7: String => CycleImage7, "cycle-image7", "URI", "CycleImage7 (cycle)";
    cycle_image8: String => CycleImage8, "cycle-image8", "URI", "CycleImage8 (cycle)";
    cycle_image9: String => CycleImage9, "cycle-image9", "URI", "CycleImage9 (cycle)";
}

/// `--clear`: an element flag name, parsed into its [`FieldName`].
fn clear_parser() -> impl TypedValueParser<Value = FieldName> {
    PossibleValuesParser::new(TILE_FIELDS.iter().map(|&(_, flag)| flag)).try_map(|flag| {
        TILE_FIELDS
            .iter()
            .find(|&&(_, f)| f == flag)
            .map(|&(name, _)| name)
            .ok_or_else(|| format!("no tile element {flag:?}"))
    })
}

/// The flag of a tile element, e.g. `back-title`.
fn flag_of(field: FieldName) -> &'static str {
    TILE_FIELDS
        .iter()
        .find(|&&(name, _)| name == field)
        .map_or("?", |&(_, flag)| flag)
}

const CYCLE_IMAGES: [FieldName; 9] = [
    FieldName::CycleImage1,
    FieldName::CycleImage2,
    FieldName::CycleImage3,
    FieldName::CycleImage4,
    FieldName::CycleImage5,
    FieldName::CycleImage6,
    FieldName::CycleImage7,
    FieldName::CycleImage8,
    FieldName::CycleImage9,
];

/// The text element `field` of `template`, or `None` when the template has no
/// such text element (`Count`, the one numeric element, is [`count_slot`]).
fn text_slot<'t, 'a>(
    template: &'t mut TileTemplate<'a>,
    field: FieldName,
) -> Option<&'t mut Field<&'a str>> {
    use FieldName as N;
    Some(match template {
        TileTemplate::Standard(t) => match field {
            N::BackgroundImage => &mut t.background_image,
            N::Title => &mut t.title,
            N::BackBackgroundImage => &mut t.back_background_image,
            N::BackTitle => &mut t.back_title,
            N::BackContent => &mut t.back_content,
            _ => return None,
        },
        TileTemplate::Flip(t) => match field {
            N::SmallBackgroundImage => &mut t.small_background_image,
            N::WideBackgroundImage => &mut t.wide_background_image,
            N::WideBackBackgroundImage => &mut t.wide_back_background_image,
            N::WideBackContent => &mut t.wide_back_content,
            N::BackgroundImage => &mut t.background_image,
            N::Title => &mut t.title,
            N::BackBackgroundImage => &mut t.back_background_image,
            N::BackTitle => &mut t.back_title,
            N::BackContent => &mut t.back_content,
            _ => return None,
        },
        TileTemplate::Iconic(t) => match field {
            N::SmallIconImage => &mut t.small_icon_image,
            N::IconImage => &mut t.icon_image,
            N::WideContent1 => &mut t.wide_content1,
            N::WideContent2 => &mut t.wide_content2,
            N::WideContent3 => &mut t.wide_content3,
            N::Title => &mut t.title,
            N::BackgroundColor => &mut t.background_color,
            _ => return None,
        },
        TileTemplate::Cycle(t) => match field {
            N::SmallBackgroundImage => &mut t.small_background_image,
            N::Title => &mut t.title,
            _ => {
                let i = CYCLE_IMAGES.iter().position(|&n| n == field)?;
                &mut t.cycle_images[i]
            }
        },
    })
}

/// `Count`, which every template has.
fn count_slot<'t>(template: &'t mut TileTemplate<'_>) -> &'t mut Field<u8> {
    match template {
        TileTemplate::Standard(t) => &mut t.count,
        TileTemplate::Flip(t) => &mut t.count,
        TileTemplate::Iconic(t) => &mut t.count,
        TileTemplate::Cycle(t) => &mut t.count,
    }
}

/// Whether `template` has the element `field`.
fn has_field(template: TemplateArg, field: FieldName) -> bool {
    field == FieldName::Count || text_slot(&mut template.empty(), field).is_some()
}

impl TileArgs {
    /// The tile these arguments describe; refuses an element the template does
    /// not have, and an element both set and cleared.
    pub fn tile(&self) -> Result<Tile<'_>, CliError> {
        let mut template = self.template.empty();
        let given = self.fields.given();
        let not_in_template = |flag: String, field: FieldName| CliError::NotInTemplate {
            flag,
            field,
            template: self.template.name(),
            available: TILE_FIELDS
                .iter()
                .filter(|&&(name, _)| has_field(self.template, name))
                .map(|&(_, flag)| flag)
                .collect(),
        };
        for &field in &self.clear {
            let flag = flag_of(field);
            if given.iter().any(|&(name, ..)| name == field) {
                return Err(CliError::SetAndClear { field, flag });
            }
            if field == FieldName::Count {
                *count_slot(&mut template) = Field::Clear;
            } else {
                *text_slot(&mut template, field)
                    .ok_or_else(|| not_in_template(format!("--clear {flag}"), field))? =
                    Field::Clear;
            }
        }
        for (field, flag, value) in given {
            match value {
                Value::Count(n) => *count_slot(&mut template) = Field::Set(n),
                Value::Text(s) => {
                    *text_slot(&mut template, field)
                        .ok_or_else(|| not_in_template(format!("--{flag}"), field))? =
                        Field::Set(s);
                }
            }
        }
        Ok(Tile {
            id: self.id.as_deref(),
            template,
        })
    }
}

/// The body of a raw notification or callback registration: text or a file.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct BodyArgs {
    /// The body, as text
    #[arg(long, value_name = "TEXT")]
    pub body: Option<String>,
    /// Read the body's bytes from FILE
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
}

impl BodyArgs {
    /// The body's bytes, reading `--body-file` if given.
    pub fn load(&self) -> Result<Cow<'_, [u8]>, CliError> {
        match (&self.body, &self.body_file) {
            (Some(text), _) => Ok(Cow::Borrowed(text.as_bytes())),
            (None, Some(path)) => {
                std::fs::read(path)
                    .map(Cow::Owned)
                    .map_err(|error| CliError::Read {
                        path: path.clone(),
                        error,
                    })
            }
            // clap requires one of the two.
            (None, None) => Ok(Cow::Borrowed(&[])),
        }
    }
}

/// `mpns encode raw`.
#[derive(Debug, Clone, Args)]
pub struct RawArgs {
    /// The body.
    #[command(flatten)]
    pub body: BodyArgs,
    /// Notification class 4: starts a Windows Phone 8 VoIP incoming-call task
    /// (8.0 and later; --delivery is then ignored)
    #[arg(long)]
    pub voip: bool,
}

/// `mpns encode callback`.
#[derive(Debug, Clone, Args)]
pub struct CallbackArgs {
    /// The opaque body MPNS posts to the callback URI (at most 1024 bytes).
    #[command(flatten)]
    pub body: BodyArgs,
}

impl RequestArgs {
    /// The request options of a notification.
    pub fn options(&self) -> Options<'_> {
        Options {
            delivery: self.delivery.map(Delivery::from).unwrap_or_default(),
            message_id: self.message_id,
            callback_uri: self.callback_uri.as_deref(),
            target_os: self.target_os.unwrap_or_default(),
            limits: Limits::default(),
        }
    }

    /// Refuses options that a callback registration does not carry, rather
    /// than ignoring them.
    fn check_for_callback(&self) -> Result<(), CliError> {
        let flag = if self.message_id.is_some() {
            "--message-id"
        } else if self.delivery.is_some() {
            "--delivery"
        } else if self.target_os.is_some() {
            "--target-os"
        } else {
            return Ok(());
        };
        Err(CliError::NotForCallback { flag })
    }
}

impl EncodeArgs {
    /// Validates the arguments, builds the request and hands it to `f`.
    /// Files named by the arguments are read first.
    pub fn with_request<R>(
        &self,
        f: impl FnOnce(&Request<'_>) -> Result<R, CliError>,
    ) -> Result<R, CliError> {
        let channel = ChannelUri::parse(&self.request.channel)?;
        let body = match &self.kind {
            Kind::Raw(args) => args.body.load()?,
            Kind::Callback(args) => args.body.load()?,
            Kind::Toast(_) | Kind::Tile(_) => Cow::Borrowed(&[][..]),
        };
        let notification = match &self.kind {
            Kind::Toast(args) => Notification::Toast(args.toast()),
            Kind::Tile(args) => Notification::Tile(args.tile()?),
            Kind::Raw(args) => Notification::Raw(Raw {
                body: &body,
                voip: args.voip,
            }),
            Kind::Callback(_) => {
                let callback_uri = self
                    .request
                    .callback_uri
                    .as_deref()
                    .ok_or(CliError::MissingCallbackUri)?;
                self.request.check_for_callback()?;
                let request = Request::callback_registration(
                    channel,
                    callback_uri,
                    &body,
                    &Limits::default(),
                )?;
                return f(&request);
            }
        };
        let options = self.request.options();
        let request = Request::notification(channel, &notification, &options)?;
        f(&request)
    }

    /// The whole HTTP/1.1 request, exactly as [`Request::write_http`] writes it.
    pub fn encode(&self) -> Result<Vec<u8>, CliError> {
        self.with_request(|request| {
            let mut buf = vec![0; request.http_len()];
            let len = request.write_http(&mut buf).map_err(EncodeError::from)?;
            buf.truncate(len);
            Ok(buf)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `BackBackgroundImage` → `back-background-image`, `CycleImage1` → `cycle-image1`.
    fn kebab(name: &str) -> String {
        let mut out = String::new();
        for (i, c) in name.char_indices() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    out.push('-');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn flags_are_the_element_names_in_kebab_case() {
        assert_eq!(TILE_FIELDS.len(), 25);
        for &(name, flag) in TILE_FIELDS {
            assert_eq!(kebab(name.as_str()), flag);
            assert_eq!(flag_of(name), flag);
        }
    }

    #[test]
    fn every_element_belongs_to_some_template() {
        let templates = [
            TemplateArg::Standard,
            TemplateArg::Flip,
            TemplateArg::Iconic,
            TemplateArg::Cycle,
        ];
        for &(name, _) in TILE_FIELDS {
            assert!(templates.iter().any(|&t| has_field(t, name)), "{name}");
        }
        let count = |t: TemplateArg| {
            TILE_FIELDS
                .iter()
                .filter(|&&(name, _)| has_field(t, name))
                .count()
        };
        // MPNS.md sections 3.2 and 3.3.
        assert_eq!(count(TemplateArg::Standard), 6);
        assert_eq!(count(TemplateArg::Flip), 10);
        assert_eq!(count(TemplateArg::Iconic), 8);
        assert_eq!(count(TemplateArg::Cycle), 12);
    }
}

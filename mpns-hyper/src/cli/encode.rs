//! `mpns encode`: the exact request bytes of one notification.
//!
//! The arguments are turned into the `mpns-proto` model and handed to
//! [`Request::notification`] or [`Request::callback_registration`]; every
//! protocol decision (escaping, OS gating, limits, URI checks) is the core's.
//! This module only maps flags to model fields, and refuses flags the chosen
//! tile template has no element for instead of dropping them. The tile element
//! flags and the names of `--delivery` and `--target-os` come from the core.

use std::borrow::Cow;
use std::error::Error;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::OnceLock;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser, ValueParser};
use clap::{Arg, ArgMatches, Args, FromArgMatches, Subcommand, ValueEnum, value_parser};
use mpns_proto::{
    ChannelUri, CycleTile, Delivery, EncodeError, Field, FieldName, FlipTile, IconicTile, Limits,
    MessageId, Notification, Options, Raw, Request, Sound, StandardTile, TargetOs, Tile,
    TileTemplate, Toast,
};

use super::CliError;

/// The channel `encode` uses when `--channel` is not given: the local
/// emulator's demo channel (`send` needs `--channel`).
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
    /// Channel URI to POST to, as MPNS handed it to the phone app (required
    /// by `send`; `encode` defaults to the local emulator's demo channel,
    /// http://127.0.0.1:47001/throttledthirdparty/01.00/demo)
    #[arg(long, global = true, value_name = "URI")]
    pub channel: Option<String>,

    /// Delivery interval, which sets the notification class [default: immediate]
    #[arg(long, global = true, value_name = "WHEN",
          value_parser = one_of(Delivery::ALL, Delivery::as_str, delivery_help))]
    pub delivery: Option<Delivery>,

    /// X-MessageID: a UUID (8-4-4-4-12 hex digits) that MPNS echoes in its response
    #[arg(long, global = true, value_name = "UUID")]
    pub message_id: Option<MessageId>,

    /// X-CallbackURI: where MPNS posts when the device goes inactive (https channels
    /// only; required by `callback`)
    #[arg(long, global = true, value_name = "URI")]
    pub callback_uri: Option<String>,

    /// Phone OS the payload must be understood by; newer elements are refused
    /// [default: 8.0gdr3]
    #[arg(long, global = true, value_name = "OS",
          value_parser = one_of(TargetOs::ALL, TargetOs::as_str, |_| None))]
    pub target_os: Option<TargetOs>,
}

/// `--delivery`, `--target-os`: one of the core's names for `all`, parsed by its `FromStr`.
fn one_of<T, const N: usize>(
    all: [T; N],
    name: fn(T) -> &'static str,
    help: fn(T) -> Option<&'static str>,
) -> impl TypedValueParser<Value = T>
where
    T: FromStr<Err: Error + Send + Sync + 'static> + Copy + Send + Sync + 'static,
{
    let values = all.map(|v| PossibleValue::new(name(v)).help(help(v)));
    PossibleValuesParser::new(values).try_map(|name| name.parse::<T>())
}

/// What each `--delivery` means, for `--help`.
fn delivery_help(delivery: Delivery) -> Option<&'static str> {
    Some(match delivery {
        Delivery::Immediate => "Class 1 (tile), 2 (toast), 3 (raw): as soon as possible",
        Delivery::Within450s => "Class 11, 12, 13: within 450 seconds",
        Delivery::Within900s => "Class 21, 22, 23: within 900 seconds",
    })
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
    pub fn name(self) -> String {
        self.to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_owned())
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

/// The tile elements given, one flag each (`--background-image`, `--count`, ...).
///
/// The flags come from the core: every element of [`TileTemplate::field_names`],
/// its [`FieldName::as_str`] in kebab case.
#[derive(Debug, Clone, Default)]
pub struct TileFields {
    /// `--count`, the one numeric element.
    pub count: Option<u8>,
    /// The text elements given, in help order.
    pub texts: Vec<(FieldName, String)>,
}

/// An element name in kebab case: `BackBackgroundImage` → `back-background-image`,
/// `CycleImage1` → `cycle-image1`.
fn kebab(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.char_indices() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Every tile element and its flag, in help order: the standard tile's
/// elements, then those each later template adds.
fn tile_flags() -> impl Iterator<Item = (FieldName, &'static str)> {
    static FLAGS: OnceLock<Vec<(FieldName, String)>> = OnceLock::new();
    let flags = FLAGS.get_or_init(|| {
        let mut flags: Vec<(FieldName, String)> = Vec::new();
        for template in TemplateArg::value_variants() {
            for &name in template.empty().field_names() {
                if !flags.iter().any(|(n, _)| *n == name) {
                    flags.push((name, kebab(name.as_str())));
                }
            }
        }
        flags
    });
    flags.iter().map(|(name, flag)| (*name, flag.as_str()))
}

/// The flag of a tile element, e.g. `back-title`.
fn flag_of(field: FieldName) -> &'static str {
    tile_flags()
        .find(|&(name, _)| name == field)
        .map_or("?", |(_, flag)| flag)
}

/// The names of the templates that have `field`, or `every template`.
fn templates_with(field: FieldName) -> String {
    let all = TemplateArg::value_variants();
    let with: Vec<String> = all
        .iter()
        .filter(|t| t.empty().field_names().contains(&field))
        .map(|t| t.name())
        .collect();
    if with.len() == all.len() {
        "every template".to_owned()
    } else {
        with.join(", ")
    }
}

/// The flag of one tile element.
fn element_arg(field: FieldName, flag: &'static str) -> Arg {
    let (value_name, note, parser) = match field {
        FieldName::Count => (
            "N",
            ", the badge: 0 to 99; 0 hides it",
            value_parser!(u8).into(),
        ),
        FieldName::BackgroundColor => ("#AARRGGBB", ", e.g. #FF1BA1E2", ValueParser::string()),
        _ if field.as_str().contains("Image") => ("URI", "", ValueParser::string()),
        _ => ("TEXT", "", ValueParser::string()),
    };
    Arg::new(flag)
        .long(flag)
        .value_name(value_name)
        .value_parser(parser)
        .help(format!("{field}{note} ({})", templates_with(field)))
}

impl Args for TileFields {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let cmd = cmd.next_help_heading("Tile elements (which exist depends on --template)");
        tile_flags().fold(cmd, |cmd, (field, flag)| cmd.arg(element_arg(field, flag)))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for TileFields {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(TileFields {
            count: matches.get_one::<u8>(flag_of(FieldName::Count)).copied(),
            texts: tile_flags()
                .filter(|&(field, _)| field != FieldName::Count)
                .filter_map(|(field, flag)| Some((field, matches.get_one::<String>(flag)?.clone())))
                .collect(),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// `--clear`: an element flag name, parsed into its [`FieldName`].
fn clear_parser() -> impl TypedValueParser<Value = FieldName> {
    PossibleValuesParser::new(tile_flags().map(|(_, flag)| flag)).try_map(|flag| {
        tile_flags()
            .find(|&(_, f)| f == flag)
            .map(|(name, _)| name)
            .ok_or_else(|| format!("no tile element {flag:?}"))
    })
}

impl TileArgs {
    /// The tile these arguments describe; refuses an element the template does
    /// not have, and an element both set and cleared.
    pub fn tile(&self) -> Result<Tile<'_>, CliError> {
        let mut template = self.template.empty();
        let elements = template.field_names();
        let not_in_template = |flag: String, field: FieldName| CliError::NotInTemplate {
            flag,
            field,
            template: self.template.name(),
            available: tile_flags()
                .filter(|(name, _)| elements.contains(name))
                .map(|(_, flag)| flag)
                .collect(),
        };
        for &field in &self.clear {
            let flag = flag_of(field);
            let given = match field {
                FieldName::Count => self.fields.count.is_some(),
                _ => self.fields.texts.iter().any(|&(name, _)| name == field),
            };
            if given {
                return Err(CliError::SetAndClear { field, flag });
            }
            if field == FieldName::Count {
                *template.count_mut() = Field::Clear;
            } else {
                *template
                    .text_mut(field)
                    .ok_or_else(|| not_in_template(format!("--clear {flag}"), field))? =
                    Field::Clear;
            }
        }
        if let Some(n) = self.fields.count {
            *template.count_mut() = Field::Set(n);
        }
        for (field, text) in &self.fields.texts {
            *template
                .text_mut(*field)
                .ok_or_else(|| not_in_template(format!("--{}", flag_of(*field)), *field))? =
                Field::Set(text);
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
        // clap requires exactly one of the two.
        let Some(path) = &self.body_file else {
            return Ok(Cow::Borrowed(self.body.as_deref().unwrap_or("").as_bytes()));
        };
        crate::input::read_file_limited(path, crate::input::MAX_INPUT)
            .map(Cow::Owned)
            .map_err(|error| CliError::Read {
                path: path.clone(),
                error,
            })
    }
}

/// `mpns encode raw`.
#[derive(Debug, Clone, Args)]
pub struct RawArgs {
    /// The body.
    #[command(flatten)]
    pub body: BodyArgs,
    /// Notification class 4: starts a Windows Phone 8 VoIP incoming-call task
    /// (8.0 and later; --delivery must be immediate)
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
            delivery: self.delivery.unwrap_or_default(),
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
        let channel =
            ChannelUri::parse(self.request.channel.as_deref().unwrap_or(DEFAULT_CHANNEL))?;
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

    #[test]
    fn flags_are_the_element_names_in_kebab_case() {
        assert_eq!(kebab("BackBackgroundImage"), "back-background-image");
        assert_eq!(kebab("WideContent1"), "wide-content1");
        assert_eq!(kebab("CycleImage1"), "cycle-image1");
        assert_eq!(tile_flags().count(), 25);
        for (name, flag) in tile_flags() {
            assert_eq!(flag_of(name), flag);
        }
        assert_eq!(templates_with(FieldName::Count), "every template");
        assert_eq!(templates_with(FieldName::BackTitle), "standard, flip");
    }
}

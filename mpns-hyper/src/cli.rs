//! The `mpns` command-line tool.
//!
//! Eight subcommands, the variants of [`Command`], each in its own module
//! under `cli/`:
//!
//! | command | module | what |
//! |---|---|---|
//! | `mpns encode` | [`encode`] | the exact HTTP/1.1 request bytes `mpns-proto` writes for a notification |
//! | `mpns decode` | [`decode`] | what a raw HTTP response means, as one JSON object |
//! | `mpns send` | [`send`] | one notification through the pooled client |
//! | `mpns batch` | [`batch`] | a JSON-lines file of notifications through the sender, optionally journaled |
//! | `mpns emulator` | [`emulate`] | the local MPNS emulator in the foreground |
//! | `mpns demo` | [`demo`] | the emulator and a mixed batch, in one process |
//! | `mpns bench` | [`bench`](mod@bench) | throughput, latency and client CPU per notification |
//! | `mpns completions` | [`completions`] | a shell completion script |
//!
//! # Exit codes
//!
//! The same for every command (the repository's `docs/cli.md` has them
//! with the JSON fields):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success: for `send` and `batch`, every notification accepted |
//! | 1 | a failure that is not the input's fault: a notification not accepted (`send`, `batch`: the JSON or summary is printed first), no response, I/O (reading a `--body-file`, writing stdout; a closed pipe is not one), a listener or runtime that could not start, a `--state` directory that cannot be used |
//! | 2 | refused input: a usage error from clap (`send` without `--channel` included), a typed refusal from `mpns-proto`, a certificate, key or CA that does not load, or a malformed response for `decode` |
//!
//! On a failure the reason goes to stderr; `encode`, `decode` and `send` then
//! write nothing to stdout, but for a `send` whose answer was not an
//! acceptance (its JSON is printed, then it exits 1).
//!
//! # Logs
//!
//! Logs go to stderr through `tracing-subscriber`: warnings and errors by
//! default (`emulator`: info too, which shows each refusal; `demo`: errors
//! only), one level more per `-v` (info, debug, trace), one less per `-q`.
//! `RUST_LOG` (e.g. `RUST_LOG=mpns_hyper=debug`), when set, replaces them.
//! Channel URIs appear redacted ([`crate::redact`]).

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mpns_proto::{EncodeError, FieldName, UriError};

pub mod batch;
pub mod bench;
pub mod completions;
pub mod decode;
pub mod demo;
pub mod emulate;
pub mod encode;
mod logs;
pub mod send;

pub use batch::BatchArgs;
pub use bench::BenchArgs;
pub use completions::CompletionsArgs;
pub use decode::DecodeArgs;
pub use demo::DemoArgs;
pub use emulate::EmulatorArgs;
pub use encode::EncodeArgs;
pub use send::SendArgs;

/// Exit code of a refused notification, URI or option (clap uses the same for usage errors).
pub const EXIT_REFUSED: u8 = 2;

/// Exit code of an I/O failure.
pub const EXIT_IO: u8 = 1;

/// Microsoft Push Notification Service (MPNS) requests from the command line.
#[derive(Debug, Parser)]
#[command(name = "mpns", version)]
pub struct Cli {
    /// More log lines on stderr, one level per -v (default: warnings; info for `emulator`)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Fewer log lines on stderr, one level per -q (down to none)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `mpns`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the exact HTTP/1.1 request of one notification to stdout.
    ///
    /// Nothing is sent. On a refusal nothing is written to stdout, the reason
    /// (naming the field) goes to stderr and the exit code is 2.
    Encode(EncodeArgs),
    /// Print what a raw HTTP response on stdin means, as one JSON object.
    ///
    /// The JSON holds the status, the three MPNS status headers, the message
    /// id, `Retry-After`, and the outcome under this project's policy
    /// (reason, scope and retry delay); docs/cli.md lists every field.
    ///
    /// Malformed or incomplete input: an error on stderr and exit code 2.
    Decode(DecodeArgs),
    /// Send one notification and print MPNS's answer as `decode` does.
    ///
    /// Takes the flags of `encode` (`--channel` is required), plus --cert,
    /// --key and --ca for authenticated channels. Exits 1 when the
    /// notification was not accepted (after printing the JSON).
    Send(SendArgs),
    /// Send a JSON-lines file of notifications and count the outcomes.
    ///
    /// Every notification goes through the sender (retries, pauses, quota
    /// and all); then the count of each outcome is printed (`--json`: one
    /// JSON object). Exits 1 if any notification was not accepted.
    Batch(BatchArgs),
    /// Run the local MPNS emulator in the foreground.
    ///
    /// It serves http, and https with mutual TLS, printing its URLs and
    /// channel behaviours first; each refusal is logged at info on stderr.
    Emulator(EmulatorArgs),
    /// Show the sender's outcomes against an in-process emulator.
    ///
    /// Starts the emulator with channels in different states, sends a mixed
    /// batch of toasts, tiles and raws through the real client and sender,
    /// and shows what happened to each (`-v`: every retry and deferral too).
    Demo(DemoArgs),
    /// Measure throughput, latency and client CPU per notification.
    ///
    /// Sends N toasts at concurrency C to a channel URI, or to an in-process
    /// emulator (http, or https with a client certificate), and reports
    /// notifications per second, p50 and p99 latency and client CPU time per
    /// notification.
    Bench(BenchArgs),
    /// Print a shell completion script to stdout.
    ///
    /// For example `mpns completions bash > /etc/bash_completion.d/mpns`.
    Completions(CompletionsArgs),
}

/// Why a command failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// `--channel` is not a valid MPNS channel URI.
    Channel(UriError),
    /// `mpns-proto` refused the notification or request.
    Encode(EncodeError),
    /// A tile element that the chosen template does not have.
    NotInTemplate {
        /// The command-line flag as the user wrote it, e.g. `--icon-image` or `--clear icon-image`.
        flag: String,
        /// The element.
        field: FieldName,
        /// The template's name as the CLI spells it (`standard`, `flip`, `iconic`, `cycle`).
        template: String,
        /// The elements the template does have, in the CLI's kebab case.
        available: Vec<&'static str>,
    },
    /// One tile element both set and cleared.
    SetAndClear {
        /// The element.
        field: FieldName,
        /// Its flag name without dashes, e.g. `count`.
        flag: &'static str,
    },
    /// A callback registration without `--callback-uri`.
    MissingCallbackUri,
    /// A global option that a callback registration does not carry.
    NotForCallback {
        /// The flag, e.g. `--message-id`.
        flag: &'static str,
    },
    /// Reading an input file failed.
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
    /// Writing the output failed.
    Write(io::Error),
    /// Reading stdin failed.
    Stdin(io::Error),
    /// The response bytes are malformed or incomplete.
    Response(mpns_proto::ReadError),
    /// The client could not be built (certificate, key, CA).
    Client(crate::client::ClientError),
    /// The request got no response (the cause is its source).
    Transport(crate::transport::TransportFailure),
    /// A tokio runtime could not start.
    Runtime(io::Error),
    /// A listener could not start.
    Listen(io::Error),
    /// Certificates could not be made.
    Pki(String),
    /// The demo could not submit a notification.
    Demo(String),
    /// Writing a file failed.
    WriteFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
    /// Some notifications of a batch were not accepted (the summary was printed).
    BatchFailed {
        /// How many.
        failed: usize,
    },
    /// The notification of `send` was not accepted (its JSON was printed).
    NotAccepted {
        /// The outcome's name (`retry`, `rejected`, ...).
        outcome: &'static str,
    },
    /// `send` without `--channel`.
    MissingChannel,
    /// A proxy setting (`--proxy`, `HTTPS_PROXY`, ...) that is not usable.
    Proxy(crate::proxy::ProxyError),
    /// The state directory of `batch --state` cannot be used (another
    /// file's, corrupt, locked, or unwritable), or its journal failed mid-run.
    State(String),
}

impl CliError {
    /// The process exit code for this error: [`EXIT_IO`] or [`EXIT_REFUSED`].
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Read { .. }
            | CliError::Write(_)
            | CliError::Stdin(_)
            | CliError::Transport(_)
            | CliError::Runtime(_)
            | CliError::Listen(_)
            | CliError::Pki(_)
            | CliError::Demo(_)
            | CliError::WriteFile { .. }
            | CliError::BatchFailed { .. }
            | CliError::NotAccepted { .. }
            | CliError::State(_) => EXIT_IO,
            _ => EXIT_REFUSED,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Channel(e) => write!(f, "--channel: {e}"),
            CliError::Encode(e) => write!(f, "{e}"),
            CliError::NotInTemplate {
                flag,
                field,
                template,
                available,
            } => write!(
                f,
                "{flag}: the {template} tile has no {field} element (its elements: {})",
                available.join(", ")
            ),
            CliError::SetAndClear { field, flag } => write!(
                f,
                "{field}: both --{flag} and --clear {flag} given; an element is either set or cleared"
            ),
            CliError::MissingCallbackUri => f.write_str(
                "X-CallbackURI: a callback registration needs --callback-uri (the endpoint MPNS posts to when the device goes inactive)",
            ),
            CliError::NotForCallback { flag } => {
                write!(f, "{flag} does not apply to a callback registration")
            }
            CliError::Read { path, error } => write!(f, "{}: {error}", path.display()),
            CliError::Write(e) => write!(f, "writing stdout: {e}"),
            CliError::Stdin(e) => write!(f, "reading stdin: {e}"),
            CliError::Response(e) => write!(f, "not a complete HTTP response: {e}"),
            // The tool prints one line: the cause included.
            CliError::Client(e) => f.write_str(&crate::client::error_chain(e)),
            CliError::Transport(e) => write!(f, "no response ({:?}): {}", e.kind(), e.detail()),
            CliError::Runtime(e) => write!(f, "starting the async runtime: {e}"),
            CliError::Listen(e) => write!(f, "starting the emulator: {e}"),
            CliError::Pki(e) => write!(f, "making certificates: {e}"),
            CliError::Demo(e) => write!(f, "demo: {e}"),
            CliError::WriteFile { path, error } => write!(f, "{}: {error}", path.display()),
            CliError::BatchFailed { failed } => {
                write!(f, "{failed} notification(s) were not accepted")
            }
            CliError::State(e) => write!(f, "--state: {e}"),
            CliError::NotAccepted { outcome } => {
                write!(f, "the notification was not accepted ({outcome})")
            }
            CliError::Proxy(e) => write!(f, "proxy: {e}"),
            CliError::MissingChannel => f.write_str(
                "--channel is required: the channel URI MPNS handed to the phone app",
            ),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Channel(e) => Some(e),
            CliError::Encode(e) => Some(e),
            CliError::Read { error, .. } | CliError::Write(error) | CliError::Stdin(error) => {
                Some(error)
            }
            CliError::Response(e) => Some(e),
            CliError::Client(e) => Some(e),
            CliError::Transport(e) => Some(e),
            CliError::Proxy(e) => Some(e),
            CliError::Listen(e) | CliError::Runtime(e) => Some(e),
            CliError::WriteFile { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<UriError> for CliError {
    fn from(e: UriError) -> Self {
        CliError::Channel(e)
    }
}

impl From<EncodeError> for CliError {
    fn from(e: EncodeError) -> Self {
        CliError::Encode(e)
    }
}

/// Runs `mpns` with the process's arguments.
pub fn run() -> ExitCode {
    run_from(std::env::args_os())
}

/// Runs `mpns` with `args` (the first one is the program name), writing to the
/// process's stdout and stderr.
pub fn run_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are "errors" that print to stdout and exit 0.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_REFUSED));
        }
    };
    logs::init(&cli);
    match execute(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`mpns encode ... | head -1`): not our failure.
        Err(CliError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs a parsed command.
pub fn execute(cli: &Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Encode(args) => {
            let bytes = args.encode()?;
            write_stdout(&bytes)
        }
        Command::Decode(args) => {
            let line = args.run()?;
            write_stdout(format!("{line}\n").as_bytes())
        }
        Command::Send(args) => {
            let (line, outcome) = args.run()?;
            write_stdout(format!("{line}\n").as_bytes())?;
            match outcome {
                mpns_proto::Outcome::Accepted { .. } => Ok(()),
                other => Err(CliError::NotAccepted {
                    outcome: other.name(),
                }),
            }
        }
        Command::Batch(args) => args.run(),
        Command::Emulator(args) => args.run(),
        Command::Demo(args) => DemoArgs {
            verbose: args.verbose || cli.verbose > 0,
        }
        .run(),
        Command::Bench(args) => args.run(),
        Command::Completions(args) => args.run(),
    }
}

/// A multi-threaded tokio runtime for the commands that do I/O.
fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

/// Writes `bytes` to stdout with one `write_all`, then flushes.
fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    out.write_all(bytes).map_err(CliError::Write)?;
    out.flush().map_err(CliError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

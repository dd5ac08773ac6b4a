//! Log lines on stderr: `-v`/`-q` or `RUST_LOG`, through tracing-subscriber.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use super::{Cli, Command};

/// The filter `-v`/`-q` ask for: the command's default level moved up one
/// per `-v` and down one per `-q`. Past info, only this crate's logs get
/// more verbose (but at trace, everything).
pub(crate) fn directives(cli: &Cli) -> String {
    // 0 off, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
    let default: i16 = match cli.command {
        Command::Emulator(_) => 3,
        Command::Demo(_) => 1,
        _ => 2,
    };
    let level = default + i16::from(cli.verbose) - i16::from(cli.quiet);
    match level {
        i16::MIN..=0 => "off".into(),
        1 => "error".into(),
        2 => "warn".into(),
        3 => "warn,mpns_hyper=info".into(),
        4 => "warn,mpns_hyper=debug,mpns_proto=debug".into(),
        _ => "trace".into(),
    }
}

/// Installs the subscriber: `RUST_LOG` when set, else [`directives`].
pub(crate) fn init(cli: &Cli) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.trim().is_empty() => EnvFilter::new(env),
        _ => EnvFilter::new(directives(cli)),
    };
    // Another subscriber (a test's, an embedding program's) stays.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

//! `mpns emulator`: the local MPNS in the foreground until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::emulator::{Behaviour, Emulator, EmulatorConfig, TlsConfig};
use crate::pki::TestPki;

/// `mpns emulator`.
#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    /// HTTP listener (unauthenticated channels)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:47001")]
    pub listen: SocketAddr,
    /// HTTPS listener with mutual TLS (authenticated channels)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:47002")]
    pub https_listen: SocketAddr,
    /// Serve plain HTTP only
    #[arg(long)]
    pub no_tls: bool,
    /// Where to write the CA and a client certificate and key for `mpns send
    /// --ca --cert --key` (files there are replaced, never written through a
    /// link) [default: a new private folder under the system's temp dir,
    /// removed when the emulator stops]
    #[arg(long, value_name = "DIR")]
    pub tls_dir: Option<PathBuf>,
    /// How a channel answers, e.g. `--behaviour A=queue-full:3`; forms: active,
    /// expired, queue-full:N, suppressed, dropped, inactive, rate-limited,
    /// unavailable:N, unavailable-for:DUR, slow:DUR, reset:N, status:CODE.
    /// A trailing `*` sets it for every id starting with the prefix
    /// (`'inact-*=inactive'`): an exact id wins over a prefix, the longest
    /// prefix wins, and queue-full:N, unavailable:N and reset:N count down
    /// per channel
    #[arg(long = "behaviour", value_name = "ID=BEHAVIOUR", value_parser = parse_behaviour)]
    pub behaviours: Vec<(String, Behaviour)>,
    /// Answer 404 Expired for channel ids with no behaviour set
    #[arg(long)]
    pub strict: bool,
    /// Notifications accepted per HTTP channel per 24 h, then 406
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub daily_quota: u32,
    /// How many accepted notifications `GET /inspect` keeps, the most recent;
    /// 0 keeps none (the counts in its stats still count every one)
    #[arg(long = "record", value_name = "N", default_value_t = EmulatorConfig::DEFAULT_RECORD_LIMIT)]
    pub record: usize,
    /// Tokio worker threads [default: one per CPU]; 1 leaves the other
    /// cores to a client on the same machine
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub workers: usize,
    /// Seconds a request may take to arrive, from its first byte; then the
    /// connection is closed
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub request_read_timeout: u64,
    /// Seconds a connection may wait for its next request; then it is closed
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub idle_timeout: u64,
    /// Most connections open at once; beyond it new ones wait (and it is logged)
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_connections: usize,
}

fn parse_behaviour(text: &str) -> Result<(String, Behaviour), String> {
    let (id, behaviour) = text
        .split_once('=')
        .ok_or_else(|| format!("expected ID=BEHAVIOUR, got {text:?}"))?;
    Ok((
        id.to_string(),
        behaviour.parse().map_err(|e| format!("{e}"))?,
    ))
}

impl EmulatorArgs {
    /// Starts the emulator, prints where it listens, and waits for Ctrl-C.
    pub fn run(&self) -> Result<(), CliError> {
        let mut config = EmulatorConfig {
            listen: self.listen,
            https_listen: self.https_listen,
            strict: self.strict,
            daily_quota: self.daily_quota,
            worker_threads: self.workers,
            record_limit: self.record,
            request_read_timeout: std::time::Duration::from_secs(self.request_read_timeout),
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout),
            max_connections: self.max_connections,
            ..EmulatorConfig::default()
        };
        let mut files = None;
        if !self.no_tls {
            let pki = TestPki::generate().map_err(|e| CliError::Pki(e.to_string()))?;
            let dir = TlsDir::new(self.tls_dir.as_deref())?;
            files = Some((write_client_files(&dir, &pki)?, dir));
            config.tls = Some(TlsConfig::from_test_pki(&pki));
        }
        let emulator = Emulator::spawn(config).map_err(CliError::Listen)?;
        for (id, behaviour) in &self.behaviours {
            match id.strip_suffix('*') {
                Some(prefix) => emulator.set_behaviour_prefix(prefix, behaviour.clone()),
                None => emulator.set_behaviour(id, behaviour.clone()),
            }
        }
        let mut out = format!("http  {}\n", emulator.http_base());
        if let (Some(base), Some(((ca, cert, key), _))) = (emulator.https_base(), &files) {
            out += &format!(
                "https {base}\n  --ca {}\n  --cert {}\n  --key {}\n",
                ca.display(),
                cert.display(),
                key.display()
            );
        }
        out += &format!(
            "channels: {}{{id}}{}\ninspect:  {}/inspect\n",
            emulator.channel_url(""),
            emulator
                .secure_channel_url("")
                .map(|s| format!(" and {s}{{id}}"))
                .unwrap_or_default(),
            emulator.http_base()
        );
        let mut behaviours = emulator.behaviours();
        behaviours.extend(
            emulator
                .behaviour_prefixes()
                .into_iter()
                .map(|(prefix, b)| (prefix + "*", b)),
        );
        if behaviours.is_empty() {
            out += &format!(
                "behaviours: every channel is active{}\n",
                if self.strict {
                    " (strict: unknown ids are expired)"
                } else {
                    ""
                }
            );
        } else {
            out += "behaviours:\n";
            for (id, b) in behaviours {
                out += &format!("  {id:<16} {b}\n");
            }
        }
        out += &match self.record {
            0 => "records: off (/inspect shows the stats only)\n".to_owned(),
            n => format!("records: the last {n} accepted in /inspect\n"),
        };
        out += "Ctrl-C stops it.\n";
        super::write_stdout(out.as_bytes())?;
        super::runtime()?
            .block_on(tokio::signal::ctrl_c())
            .map_err(CliError::Runtime)?;
        emulator.shutdown();
        Ok(())
    }
}

/// The folder of the client files: the one given, or a new private one.
enum TlsDir {
    Given(PathBuf),
    /// Mode 0700 with an unpredictable name, so that no other user can plant
    /// links in it or read the key, and two emulators never share one;
    /// removed when dropped.
    Private(tempfile::TempDir),
}

impl TlsDir {
    fn new(given: Option<&std::path::Path>) -> Result<Self, CliError> {
        if let Some(dir) = given {
            std::fs::create_dir_all(dir).map_err(|error| CliError::WriteFile {
                path: dir.to_path_buf(),
                error,
            })?;
            return Ok(TlsDir::Given(dir.to_path_buf()));
        }
        let mut builder = tempfile::Builder::new();
        builder.prefix("mpns-emulator-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        let temp = std::env::temp_dir();
        builder
            .tempdir_in(&temp)
            .map(TlsDir::Private)
            .map_err(|error| CliError::WriteFile { path: temp, error })
    }

    fn path(&self) -> &std::path::Path {
        match self {
            TlsDir::Given(dir) => dir,
            TlsDir::Private(dir) => dir.path(),
        }
    }
}

/// Writes the CA, the client certificate and its key (mode 0600) as new
/// files: an existing file or link of that name is removed first, so a
/// planted link never receives the key.
fn write_client_files(
    dir: &TlsDir,
    pki: &TestPki,
) -> Result<(PathBuf, PathBuf, PathBuf), CliError> {
    let write = |name: &str, text: &str, private: bool| -> Result<PathBuf, CliError> {
        let path = dir.path().join(name);
        let failed = |error| CliError::WriteFile {
            path: path.clone(),
            error,
        };
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(e)),
            _ => {}
        }
        let mut options = std::fs::OpenOptions::new();
        // create_new: O_EXCL, which refuses a link left in the way.
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(if private { 0o600 } else { 0o644 });
        }
        #[cfg(not(unix))]
        let _ = private;
        use std::io::Write;
        options
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(failed)?;
        Ok(path)
    };
    let ca = write("ca.pem", &pki.ca_cert_pem, false)?;
    let cert = write("client.pem", &pki.client_cert_pem, false)?;
    let key = write("client.key", &pki.client_key_pem, true)?;
    Ok((ca, cert, key))
}

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
    /// --ca --cert --key` [default: a folder under the system's temp dir]
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
            ..EmulatorConfig::default()
        };
        let mut files = None;
        if !self.no_tls {
            let pki = TestPki::generate().map_err(|e| CliError::Pki(e.to_string()))?;
            let dir = self.tls_dir.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!("mpns-emulator-{}", self.https_listen.port()))
            });
            files = Some(write_client_files(&dir, &pki)?);
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
        if let (Some(base), Some((ca, cert, key))) = (emulator.https_base(), &files) {
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

/// Writes the CA certificate and a client certificate and key (mode 0600) to `dir`.
fn write_client_files(
    dir: &std::path::Path,
    pki: &TestPki,
) -> Result<(PathBuf, PathBuf, PathBuf), CliError> {
    let write = |name: &str, text: &str| -> Result<PathBuf, CliError> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|error| CliError::WriteFile {
            path: path.clone(),
            error,
        })?;
        Ok(path)
    };
    std::fs::create_dir_all(dir).map_err(|error| CliError::WriteFile {
        path: dir.to_path_buf(),
        error,
    })?;
    let ca = write("ca.pem", &pki.ca_cert_pem)?;
    let cert = write("client.pem", &pki.client_cert_pem)?;
    let key = write("client.key", &pki.client_key_pem)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600));
    }
    Ok((ca, cert, key))
}

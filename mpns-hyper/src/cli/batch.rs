//! `mpns batch FILE`: JSON lines through the sender, with a progress bar.
//!
//! Each line is one notification with its channel and options, in the
//! core's serde model:
//!
//! ```text
//! {"channel": "http://127.0.0.1:47001/throttledthirdparty/01.00/A", "notification": {"toast": {"text1": "Hi"}}}
//! {"channel": "...", "notification": {"tile": {"template": {"flip": {"count": 3, "title": {"action": "clear"}}}}}, "options": {"delivery": "450"}}
//! {"channel": "...", "notification": {"raw": {"body": "<v>1</v>"}}}
//! ```

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mpns_proto::sender::Event;
use mpns_proto::{Notification, Options};
use serde::Deserialize;

use super::CliError;
use super::send::TlsArgs;
use crate::driver::{Driver, DriverConfig};

/// One line of a batch file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchLine<'a> {
    /// The channel URI.
    pub channel: &'a str,
    /// The notification.
    #[serde(borrow)]
    pub notification: Notification<'a>,
    /// Its options (all optional).
    #[serde(default, borrow)]
    pub options: Options<'a>,
}

/// `mpns batch FILE`.
#[derive(Debug, Clone, Args)]
pub struct BatchArgs {
    /// JSON-lines file, one notification per line (`-` reads stdin)
    pub file: PathBuf,
    /// Most requests in flight at once
    #[arg(long, short = 'c', default_value_t = 64)]
    pub concurrency: usize,
    /// Give up on a notification not accepted this many seconds after it was
    /// read (retries follow MPNS's backoff: minutes to an hour apart)
    #[arg(long, value_name = "SECONDS", default_value_t = 24 * 3600)]
    pub deadline: u64,
    /// Most requests sent for one notification
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub max_attempts: u16,
    /// Client certificate and trusted CAs.
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Outcome counts of a finished batch, by name, plus lines that were refused.
pub type Summary = BTreeMap<String, usize>;

impl BatchArgs {
    /// Runs the batch; prints the summary; fails if anything was not accepted.
    pub fn run(&self) -> Result<(), CliError> {
        let text = if self.file.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin()).map_err(CliError::Stdin)?
        } else {
            std::fs::read_to_string(&self.file).map_err(|error| CliError::Read {
                path: self.file.clone(),
                error,
            })?
        };
        let client = self.tls.client()?;
        let config = DriverConfig {
            max_in_flight: self.concurrency.max(1),
            sender: mpns_proto::SenderConfig {
                deadline: mpns_proto::Duration::from_secs(self.deadline),
                max_attempts: self.max_attempts.max(1),
                seed: seed(),
                ..mpns_proto::SenderConfig::default()
            },
            ..DriverConfig::default()
        };
        let summary = super::runtime()?.block_on(run_batch(client, &text, config))?;
        let mut out = String::new();
        for (outcome, n) in &summary {
            out += &format!("{outcome:>16}  {n}\n");
        }
        super::write_stdout(out.as_bytes())?;
        let failed: usize = summary
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "accepted" | "superseded"))
            .map(|(_, n)| n)
            .sum();
        if failed > 0 {
            return Err(CliError::BatchFailed { failed });
        }
        Ok(())
    }
}

/// Sends every line of `text`; returns the count of each outcome (`invalid`
/// for lines that were refused before sending, reported on stderr).
pub async fn run_batch(
    client: crate::client::Client,
    text: &str,
    config: DriverConfig,
) -> Result<Summary, CliError> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l))
        .collect();
    let (handle, mut events) = Driver::<1024, 1024>::start(client, config);
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(lines.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut summary = Summary::new();
    let reader = tokio::spawn({
        let bar = bar.clone();
        async move {
            let mut counts = Summary::new();
            while let Some(event) = events.recv().await {
                if let Event::Finished { result, .. } = event {
                    *counts.entry(result.name().to_string()).or_default() += 1;
                    bar.inc(1);
                }
            }
            counts
        }
    });
    for (number, line) in lines {
        // Strings are read into a JSON tree first, so that escaped text
        // (quotes, \n, \u00e9) can still be borrowed by the model.
        let result = match serde_json::from_str::<serde_json::Value>(line) {
            Err(e) => Err(e.to_string()),
            Ok(value) => match BatchLine::deserialize(&value) {
                Err(e) => Err(e.to_string()),
                Ok(item) => handle
                    .submit_wait(item.channel, &item.notification, &item.options)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            },
        };
        if let Err(e) = result {
            bar.suspend(|| eprintln!("line {number}: {e}"));
            *summary.entry("invalid".into()).or_default() += 1;
            bar.inc(1);
        }
    }
    drop(handle);
    let counts = reader.await.unwrap_or_default();
    bar.finish_and_clear();
    for (k, v) in counts {
        *summary.entry(k).or_default() += v;
    }
    Ok(summary)
}

/// A per-process seed for the sender's jitter and channel ids.
pub(crate) fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

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
//!
//! The file is streamed: a reader thread hands lines to the submitter, which
//! waits while the driver's memory budget is reached, so a file of a million
//! lines is never held whole. A line longer than [`MAX_LINE`] is refused.
//!
//! With `--state DIR`, progress is kept in a journal in DIR (see
//! [`crate::driver::Driver::recover`]); each notification is tagged with its
//! line number. Run again with the same file and DIR after a crash, the
//! batch skips the lines that finished, resumes those that were pending
//! (requests on the wire at the crash are sent again and counted as "in
//! doubt" on stderr), and sends the rest; its summary counts every line of
//! the file once, those finished in earlier runs included. DIR belongs to
//! one file: its journal holds the file's size and CRC-32, and another file
//! is refused.
//!
//! With `--report FILE`, each input line gets one JSON line in FILE when it
//! ends, in the order lines end: `line` (its number), `channel`, `ticket`,
//! `outcome` (the summary's name), `result` (the core's `Finished`, with its
//! reason), `attempts`; a refused line has `outcome: "invalid"` and `error`
//! instead, and a line that finished in an earlier run of a `--state` batch
//! has `earlier_run: true`. Blank lines get none.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mpns_proto::sender::{Event, Finished};
use mpns_proto::{Notification, Options, Ticket};
use serde::Deserialize;

use super::CliError;
use super::send::TlsArgs;
use crate::driver::{Driver, DriverConfig, Recovery};
use crate::journal::JournalConfig;

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
    /// Memory for notifications read but not finished (reading waits while
    /// it is full); a toast takes about 450 bytes
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub memory: usize,
    /// Keep progress in DIR, and resume from it: run again with the same
    /// FILE and DIR after a crash to finish the batch without sending a line
    /// twice (but for the few on the wire at the crash)
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// With --state: longest wait before a write reaches the disk, in
    /// milliseconds (what a power cut may lose; a killed process loses nothing)
    #[arg(long, value_name = "MS", default_value_t = 5, requires = "state")]
    pub sync_ms: u64,
    /// Write one JSON line per input line to FILE as it ends: line number,
    /// channel, ticket, outcome, result, attempts (or why it was refused)
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Print the summary as one JSON object: total, not_accepted, outcomes
    #[arg(long)]
    pub json: bool,
    /// Client certificate and trusted CAs.
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Outcome counts of a finished batch, by name, plus lines that were refused.
pub type Summary = BTreeMap<String, usize>;

/// The longest line a batch file may have (1 MiB: a raw body is at most
/// 1 KiB, a toast or tile a few KiB even with every character escaped).
pub const MAX_LINE: usize = 1 << 20;

impl BatchArgs {
    /// Runs the batch; prints the summary; fails if anything was not accepted.
    pub fn run(&self) -> Result<(), CliError> {
        let state = match &self.state {
            None => None,
            Some(_) if self.file.as_os_str() == "-" => {
                return Err(CliError::State(
                    "a batch read from stdin cannot be resumed: give a file".into(),
                ));
            }
            Some(dir) => {
                let mut journal = JournalConfig::new(dir);
                journal.sync_interval = std::time::Duration::from_millis(self.sync_ms);
                Some((journal, self.identity()?))
            }
        };
        let input: Box<dyn BufRead + Send> = if self.file.as_os_str() == "-" {
            Box::new(std::io::BufReader::new(std::io::stdin()))
        } else {
            let file = std::fs::File::open(&self.file).map_err(|error| CliError::Read {
                path: self.file.clone(),
                error,
            })?;
            Box::new(std::io::BufReader::with_capacity(1 << 16, file))
        };
        let report = match &self.report {
            None => None,
            Some(path) => {
                let file = std::fs::File::create(path).map_err(|error| CliError::WriteFile {
                    path: path.clone(),
                    error,
                })?;
                Some(Report::new(file))
            }
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
            memory_budget: self.memory.max(1).saturating_mul(1 << 20),
        };
        // One thread: the work is I/O, and a single-threaded runtime spends
        // nothing on waking other threads or contending for the sender (the
        // file is read on a thread of its own).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(CliError::Runtime)?;
        let (summary, read_error, report) = runtime
            .block_on(run_batch(client, input, config, state, report))
            .map_err(CliError::State)?;
        if let (Some(report), Some(path)) = (report, &self.report) {
            report.finish().map_err(|error| CliError::WriteFile {
                path: path.clone(),
                error,
            })?;
        }
        let failed = not_accepted(&summary);
        let out = if self.json {
            format!("{}\n", summary_json(&summary, failed))
        } else {
            let mut out = String::new();
            for (outcome, n) in &summary {
                out += &format!("{outcome:>16}  {n}\n");
            }
            out
        };
        super::write_stdout(out.as_bytes())?;
        if let Some(error) = read_error {
            return Err(if self.file.as_os_str() == "-" {
                CliError::Stdin(error)
            } else {
                CliError::Read {
                    path: self.file.clone(),
                    error,
                }
            });
        }
        if failed > 0 {
            return Err(CliError::BatchFailed { failed });
        }
        Ok(())
    }
}

/// The fields of `mpns batch --json`, in order (docs/cli.md; a test pins them).
pub const SUMMARY_FIELDS: [&str; 3] = ["total", "not_accepted", "outcomes"];

/// Lines that did not end accepted: every outcome but `accepted` and
/// `superseded` (replaced by a newer update of the same tile, which was sent).
pub fn not_accepted(summary: &Summary) -> usize {
    summary
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "accepted" | "superseded"))
        .map(|(_, n)| n)
        .sum()
}

/// The summary as `mpns batch --json` prints it: [`SUMMARY_FIELDS`].
pub fn summary_json(summary: &Summary, not_accepted: usize) -> serde_json::Value {
    serde_json::json!({
        "total": summary.values().sum::<usize>(),
        "not_accepted": not_accepted,
        "outcomes": summary,
    })
}

impl BatchArgs {
    /// What names the file in its state directory: its size and CRC-32.
    fn identity(&self) -> Result<Vec<u8>, CliError> {
        let read = |error| CliError::Read {
            path: self.file.clone(),
            error,
        };
        let mut file = std::fs::File::open(&self.file).map_err(read)?;
        let mut hasher = crc32fast::Hasher::new();
        let mut buf = vec![0; 1 << 16];
        let mut len = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(read)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            len += n as u64;
        }
        Ok(format!(
            "mpns batch file: {len} bytes, crc32 {:08x}",
            hasher.finalize()
        )
        .into_bytes())
    }
}

/// One line read, with its number.
type Line = (usize, LineItem);

/// What the reader makes of a line.
enum LineItem {
    /// To submit.
    Text(String),
    /// Refused before parsing (too long, not UTF-8).
    Refused(String),
    /// Finished or resumed in an earlier run (`--state`): only its text, for
    /// the report.
    Earlier(String),
}

/// Lines handed over at once: one wake-up of the submitter per batch.
const LINES_PER_BATCH: usize = 256;

/// Reads lines on a thread of its own into a bounded queue, in batches;
/// returns the error that stopped it, if any (the lines before it are
/// handed over).
fn read_lines(
    mut input: Box<dyn BufRead + Send>,
    batches: tokio::sync::mpsc::Sender<Vec<Line>>,
    skip: Arc<HashSet<u64>>,
    report_earlier: bool,
) -> std::thread::JoinHandle<Option<std::io::Error>> {
    std::thread::spawn(move || {
        let mut batch = Vec::with_capacity(LINES_PER_BATCH);
        let mut number = 0;
        let error = loop {
            number += 1;
            match read_line(&mut input) {
                Err(e) => break Some(e),
                Ok(None) => break None,
                Ok(Some(Ok(text))) if text.trim().is_empty() => continue,
                // Finished or resumed: the journal has it.
                Ok(Some(line)) if skip.contains(&(number as u64)) => match line {
                    Ok(text) if report_earlier => batch.push((number, LineItem::Earlier(text))),
                    _ => continue,
                },
                Ok(Some(Ok(text))) => batch.push((number, LineItem::Text(text))),
                Ok(Some(Err(why))) => batch.push((number, LineItem::Refused(why))),
            }
            if batch.len() == LINES_PER_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(LINES_PER_BATCH));
                if batches.blocking_send(full).is_err() {
                    return None;
                }
            }
        };
        if !batch.is_empty() {
            let _ = batches.blocking_send(batch);
        }
        error
    })
}

/// The next line: `None` at the end, its text, or why it is refused (too
/// long: the rest of it is skipped; not UTF-8).
fn read_line(input: &mut dyn BufRead) -> std::io::Result<Option<Result<String, String>>> {
    let mut buf = Vec::new();
    if input
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)?
        == 0
    {
        return Ok(None);
    }
    if buf.len() - usize::from(buf.ends_with(b"\n")) > MAX_LINE {
        while !buf.ends_with(b"\n") {
            buf.clear();
            if input.take(1 << 16).read_until(b'\n', &mut buf)? == 0 {
                break;
            }
        }
        return Ok(Some(Err(format!("longer than {MAX_LINE} bytes"))));
    }
    Ok(Some(
        String::from_utf8(buf).map_err(|_| "not UTF-8".to_string()),
    ))
}

/// Sends every line of `input`; returns the count of each outcome (`invalid`
/// for lines that were refused before sending, reported on stderr), and the
/// read error that cut the input short, if one did (what was read is still
/// sent and counted). With `state` (a journal and the file's identity), the
/// batch resumes from and records into the journal; the error is then why
/// the journal could not be used.
pub async fn run_batch(
    client: crate::transport::AnyClient,
    input: Box<dyn BufRead + Send>,
    config: DriverConfig,
    state: Option<(JournalConfig, Vec<u8>)>,
    report: Option<Report>,
) -> Result<(Summary, Option<std::io::Error>, Option<Report>), String> {
    let mut summary = Summary::new();
    let mut skip = HashSet::new();
    // Lines of earlier runs, by tag: their result, or their resumed ticket.
    let mut earlier: HashMap<u64, Result<Finished, Ticket>> = HashMap::new();
    let (handle, mut events) = match &state {
        None => Driver::start(client, config),
        Some((journal, identity)) => {
            let (handle, events, recovery) =
                Driver::recover(client, config, journal, identity).map_err(|e| e.to_string())?;
            report_recovery(&recovery, &journal.dir);
            for (tag, result) in &recovery.finished {
                // A line counts once, whatever the journal holds.
                if skip.insert(*tag) {
                    *summary.entry(result.name().to_string()).or_default() += 1;
                    earlier.insert(*tag, Ok(*result));
                }
            }
            skip.extend(recovery.resumed.iter().map(|(_, tag)| *tag));
            for (ticket, tag) in &recovery.resumed {
                earlier.insert(*tag, Err(*ticket));
            }
            (handle, events)
        }
    };
    let skip = Arc::new(skip);
    let report = Arc::new(std::sync::Mutex::new(report));
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} finished  {msg}  [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let (accepted, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let in_doubt = Arc::new(AtomicUsize::new(0));
    let reader = tokio::spawn({
        let (bar, accepted, failed) = (bar.clone(), accepted.clone(), failed.clone());
        let in_doubt = in_doubt.clone();
        let report = report.clone();
        async move {
            let mut counts = Summary::new();
            while let Some(event) = events.recv().await {
                if let Event::InDoubt { .. } = event {
                    in_doubt.fetch_add(1, Ordering::Relaxed);
                }
                if let Event::Finished {
                    ticket,
                    result,
                    attempts,
                } = event
                {
                    if let Some(report) = lock(&report).as_mut() {
                        report.finished(ticket, result, attempts);
                    }
                    *counts.entry(result.name().to_string()).or_default() += 1;
                    let tally = if result.is_accepted() {
                        &accepted
                    } else {
                        &failed
                    };
                    tally.fetch_add(1, Ordering::Relaxed);
                    bar.inc(1);
                }
            }
            counts
        }
    });
    let progress = tokio::spawn({
        let (bar, handle) = (bar.clone(), handle.clone());
        let (accepted, failed) = (accepted.clone(), failed.clone());
        async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
            loop {
                tick.tick().await;
                let stats = handle.stats();
                bar.set_message(format!(
                    "sent {}  accepted {}  parked {}  in flight {}  failed {}",
                    stats.sent,
                    accepted.load(Ordering::Relaxed),
                    stats.pending.saturating_sub(stats.in_flight),
                    stats.in_flight,
                    failed.load(Ordering::Relaxed),
                ));
            }
        }
    });
    let (tx, mut batches) = tokio::sync::mpsc::channel::<Vec<Line>>(4);
    let reporting = lock(&report).is_some();
    let read = read_lines(input, tx, skip, reporting);
    let tagged = state.is_some();
    let mut lines = Vec::new().into_iter();
    loop {
        let (number, line) = match lines.next() {
            Some(line) => line,
            None => match batches.recv().await {
                Some(batch) => {
                    lines = batch.into_iter();
                    continue;
                }
                None => break,
            },
        };
        let result = match line {
            LineItem::Refused(e) => Err((None, e)),
            LineItem::Text(text) => {
                submit_line(&handle, &text, tagged.then_some(number as u64)).await
            }
            LineItem::Earlier(text) => {
                if let Some(report) = lock(&report).as_mut() {
                    let channel = channel_of(&text);
                    match earlier.get(&(number as u64)) {
                        Some(Ok(result)) => report.earlier(number, channel.as_deref(), result),
                        Some(Err(ticket)) => {
                            report.submitted(*ticket, number, channel.unwrap_or_default())
                        }
                        None => {}
                    }
                }
                continue;
            }
        };
        match result {
            Ok((ticket, channel)) => {
                if let Some(report) = lock(&report).as_mut() {
                    report.submitted(ticket, number, channel);
                }
            }
            Err((channel, e)) => {
                bar.suspend(|| eprintln!("line {number}: {e}"));
                if let Some(report) = lock(&report).as_mut() {
                    report.refused(number, channel.as_deref(), &e);
                }
                *summary.entry("invalid".into()).or_default() += 1;
                failed.fetch_add(1, Ordering::Relaxed);
                bar.inc(1);
            }
        }
    }
    let read_error = read.join().unwrap_or(None);
    // The progress task holds a handle: the event stream ends after it is gone.
    progress.abort();
    let _ = progress.await;
    let journal_error = handle.journal_error();
    drop(handle);
    let counts = reader.await.unwrap_or_default();
    bar.finish_and_clear();
    if let Some(e) = journal_error {
        return Err(format!(
            "the journal failed ({e}); what was not finished is kept: run again to resume"
        ));
    }
    let in_doubt = in_doubt.load(Ordering::Relaxed);
    if in_doubt > 0 {
        eprintln!(
            "{in_doubt} request(s) were on the wire when the previous run stopped: sent again"
        );
    }
    for (k, v) in counts {
        *summary.entry(k).or_default() += v;
    }
    let report = lock(&report).take();
    Ok((summary, read_error, report))
}

/// The report, locked (a panic elsewhere does not lose it).
fn lock(report: &std::sync::Mutex<Option<Report>>) -> std::sync::MutexGuard<'_, Option<Report>> {
    report.lock().unwrap_or_else(|e| e.into_inner())
}

/// The channel of a batch line, for the report of a line not submitted.
fn channel_of(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Channel {
        channel: String,
    }
    serde_json::from_str::<Channel>(text)
        .ok()
        .map(|c| c.channel)
}

/// `--report FILE`: one JSON line per input line, written when it ends. A
/// final event can come before its submit has returned its ticket: it waits
/// here until the line is known.
pub struct Report {
    out: std::io::BufWriter<std::fs::File>,
    /// Submitted lines not finished yet: line number and channel.
    lines: HashMap<Ticket, (usize, String)>,
    /// Finals whose line is not known yet.
    early: HashMap<Ticket, (Finished, u16)>,
    /// The first write error; the batch goes on, and it is reported at the end.
    error: Option<std::io::Error>,
}

impl Report {
    /// A report written to `file`.
    pub fn new(file: std::fs::File) -> Self {
        Report {
            out: std::io::BufWriter::new(file),
            lines: HashMap::new(),
            early: HashMap::new(),
            error: None,
        }
    }

    fn write(&mut self, value: serde_json::Value) {
        if self.error.is_none() {
            let mut line = value.to_string();
            line.push('\n');
            if let Err(e) = self.out.write_all(line.as_bytes()) {
                self.error = Some(e);
            }
        }
    }

    fn line(
        line: usize,
        channel: Option<&str>,
        ticket: Ticket,
        result: &Finished,
        attempts: u16,
    ) -> serde_json::Value {
        serde_json::json!({
            "line": line,
            "channel": channel,
            "ticket": ticket.0,
            "outcome": result.name(),
            "result": result,
            "attempts": attempts,
        })
    }

    fn submitted(&mut self, ticket: Ticket, line: usize, channel: String) {
        match self.early.remove(&ticket) {
            Some((result, attempts)) => {
                self.write(Self::line(line, Some(&channel), ticket, &result, attempts))
            }
            None => {
                self.lines.insert(ticket, (line, channel));
            }
        }
    }

    fn finished(&mut self, ticket: Ticket, result: Finished, attempts: u16) {
        match self.lines.remove(&ticket) {
            Some((line, channel)) => {
                self.write(Self::line(line, Some(&channel), ticket, &result, attempts))
            }
            None => {
                self.early.insert(ticket, (result, attempts));
            }
        }
    }

    fn refused(&mut self, line: usize, channel: Option<&str>, error: &str) {
        self.write(serde_json::json!({
            "line": line,
            "channel": channel,
            "outcome": "invalid",
            "error": error,
        }));
    }

    fn earlier(&mut self, line: usize, channel: Option<&str>, result: &Finished) {
        self.write(serde_json::json!({
            "line": line,
            "channel": channel,
            "outcome": result.name(),
            "result": result,
            "earlier_run": true,
        }));
    }

    /// Flushes the file; the first write error, if any.
    fn finish(mut self) -> std::io::Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }
}

/// Says on stderr what the state directory held.
fn report_recovery(recovery: &Recovery, dir: &std::path::Path) {
    if recovery.report.created {
        return;
    }
    eprintln!(
        "resuming from {}: {} line(s) finished earlier, {} pending{}",
        dir.display(),
        recovery.finished.len(),
        recovery.pending,
        if recovery.report.torn_bytes > 0 {
            format!(
                "; a torn last write of {} bytes was dropped",
                recovery.report.torn_bytes
            )
        } else {
            String::new()
        }
    );
}

/// Submits one line (tagged with its number when the batch keeps state),
/// waiting while the driver's memory is full: its ticket and channel, or
/// why it was refused (with its channel when the line has one).
async fn submit_line(
    handle: &crate::driver::DriverHandle,
    text: &str,
    tag: Option<u64>,
) -> Result<(Ticket, String), (Option<String>, String)> {
    // Most lines have no escaped text: the model borrows from the line
    // itself. A string with escapes (quotes, \n, \u00e9) cannot be borrowed
    // from the line, so such a line is read into a JSON tree first.
    let tree;
    let item = match serde_json::from_str::<BatchLine<'_>>(text) {
        Ok(item) => item,
        Err(_) => {
            let refused = |e: serde_json::Error| (channel_of(text), e.to_string());
            tree = serde_json::from_str::<serde_json::Value>(text).map_err(refused)?;
            BatchLine::deserialize(&tree).map_err(refused)?
        }
    };
    let submitted = match tag {
        Some(tag) => {
            handle
                .submit_wait_tagged(tag, item.channel, &item.notification, &item.options)
                .await
        }
        None => {
            handle
                .submit_wait(item.channel, &item.notification, &item.options)
                .await
        }
    };
    submitted
        .map(|ticket| (ticket, item.channel.to_string()))
        .map_err(|e| (Some(item.channel.to_string()), e.to_string()))
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

//! What the driver keeps in its journal, and how it comes back.
//!
//! Three kinds of frames (the journal file itself is [`crate::journal`]):
//!
//! | kind | payload | written |
//! |---|---|---|
//! | `CORE` (1) | one of the core's records ([`Record::encode`]) | for every record the sender hands out, but: |
//! | `TAGGED` (2) | tag (u64 LE), then the core's `submitted` record | for the `submitted` record of a tagged notification |
//! | `OUTCOME` (3) | tag (u64 LE), then the core's `finished` record | for the `finished` record of a tagged notification |
//!
//! The tag travels in the frame of the record it names (one frame per
//! record, not two: the journal's cost is per byte and per frame).
//!
//! Outcomes of tagged notifications are kept through compaction (a batch
//! counts its lines from them across runs); everything else of a finished
//! notification leaves the journal at the next compaction.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;

use mpns_proto::sender::{Finished, Record};
use mpns_proto::{GrowableSender, Instant, SenderConfig, Ticket};

use crate::journal::{Frame, Journal, JournalConfig, JournalError, OpenReport};

const CORE: u8 = 1;
const TAGGED: u8 = 2;
const OUTCOME: u8 = 3;

/// Hashes tickets (sequential) so that neighbours stay near each other in
/// the table, while their low bits still vary the top bits the table
/// compares first: a million pending tags are then found with few cache misses.
#[derive(Default)]
struct Sequential(u64);

impl Hasher for Sequential {
    fn finish(&self) -> u64 {
        self.0 ^ self.0.rotate_right(7)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Tags = HashMap<u64, u64, BuildHasherDefault<Sequential>>;

/// The journal of a running driver, with what it must know beside the sender.
pub(super) struct Durable {
    journal: Journal,
    /// Tags of tagged notifications not finished, by ticket.
    tags: Tags,
    /// The payloads of every `OUTCOME` frame, one after another (each is a
    /// length byte and the payload), written again by each compaction.
    outcomes: Vec<u8>,
    scratch: Vec<u8>,
    /// Frames appended so far, and how many of them were handed to the OS.
    appended: u64,
    flushed: u64,
}

/// What a journal held when the driver started from it.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Notifications resumed (submitted before, not finished), tagged or not.
    /// Requests that were on the wire when the previous process stopped are
    /// reported as [`mpns_proto::sender::Event::InDoubt`] events.
    pub pending: usize,
    /// The tagged ones among them: ticket and tag, by ticket.
    pub resumed: Vec<(Ticket, u64)>,
    /// Tagged notifications that finished before: their tag and result.
    pub finished: Vec<(u64, Finished)>,
    /// Frames read, bytes read and a torn last write dropped, if any.
    pub report: OpenReport,
}

impl Durable {
    /// Opens (or creates) the journal and rebuilds a recording sender from it.
    pub(super) fn open(
        journal: &JournalConfig,
        identity: &[u8],
        config: SenderConfig,
        budget: usize,
        now: Instant,
    ) -> Result<(Durable, GrowableSender, Recovery), JournalError> {
        let mut sender: Option<GrowableSender> = None;
        let mut tags = Tags::default();
        let mut outcomes = Vec::new();
        let mut finished = Vec::new();
        let visit = |frame: Frame<'_>| -> Result<(), String> {
            let (tag, bytes) = match frame.kind {
                CORE => (None, frame.payload),
                TAGGED | OUTCOME => {
                    let (tag, rest) = frame
                        .payload
                        .split_first_chunk::<8>()
                        .ok_or("a tagged frame starts with its tag")?;
                    (Some(u64::from_le_bytes(*tag)), rest)
                }
                kind => return Err(format!("unknown frame kind {kind}")),
            };
            let record = Record::decode(bytes).map_err(|e| e.to_string())?;
            match (frame.kind, tag) {
                (TAGGED, Some(tag)) => {
                    let ticket = record
                        .ticket()
                        .filter(|_| record.is_submitted())
                        .ok_or("a tagged frame holds a submitted record")?;
                    tags.insert(ticket.0, tag);
                }
                (OUTCOME, Some(tag)) => {
                    let (ticket, result, _) = record
                        .finished()
                        .ok_or("an outcome frame holds a finished record")?;
                    tags.remove(&ticket.0);
                    finished.push((tag, result));
                    push_outcome(&mut outcomes, tag, bytes);
                }
                _ => {
                    if let Some((ticket, _, _)) = record.finished() {
                        tags.remove(&ticket.0);
                    }
                }
            }
            let sender = match &mut sender {
                Some(s) => s,
                None => {
                    let seed = record
                        .seed()
                        .ok_or("the journal does not start with the sender's settings")?;
                    let config = SenderConfig { seed, ..config };
                    sender.insert(GrowableSender::new(config, budget).recording())
                }
            };
            sender.replay(&record).map_err(|e| e.to_string())
        };
        let (mut journal, report) = Journal::open(journal, identity, visit)?;
        let fresh = sender.is_none();
        let mut sender = sender.unwrap_or_else(|| GrowableSender::new(config, budget).recording());
        let mut scratch = Vec::new();
        if fresh {
            sender.start_record().encode_to_vec(&mut scratch);
            journal.append(CORE, &scratch);
        }
        sender.resume(now);
        // A tag whose `submitted` record was lost (a torn last write) names nothing.
        tags.retain(|t, _| sender.contains(Ticket(*t)));
        let mut resumed: Vec<(Ticket, u64)> =
            tags.iter().map(|(&t, &tag)| (Ticket(t), tag)).collect();
        resumed.sort_unstable();
        let mut durable = Durable {
            journal,
            tags,
            outcomes,
            scratch,
            appended: 0,
            flushed: 0,
        };
        durable.flush().map_err(|source| JournalError::Io {
            path: durable.journal.path().to_path_buf(),
            source,
        })?;
        let recovery = Recovery {
            pending: sender.pending(),
            resumed,
            finished,
            report,
        };
        Ok((durable, sender, recovery))
    }

    /// Names `ticket` with `tag` in the journal: call it right after the
    /// submit, before [`Durable::append`] writes its `submitted` record.
    pub(super) fn tag(&mut self, ticket: Ticket, tag: u64) {
        self.tags.insert(ticket.0, tag);
    }

    /// Appends what the sender asks to keep (no system call).
    pub(super) fn append(&mut self, sender: &mut GrowableSender) {
        while let Some(record) = sender.poll_record() {
            // Room for a tag first, then the record.
            self.scratch.clear();
            self.scratch.extend_from_slice(&[0; 8]);
            record.encode_to_vec(&mut self.scratch);
            let tagged = match record.ticket() {
                Some(t) if record.is_submitted() => self.tags.get(&t.0).map(|&tag| (TAGGED, tag)),
                Some(t) if record.finished().is_some() => {
                    self.tags.remove(&t.0).map(|tag| (OUTCOME, tag))
                }
                _ => None,
            };
            match tagged {
                Some((kind, tag)) => {
                    self.scratch[..8].copy_from_slice(&tag.to_le_bytes());
                    if kind == OUTCOME {
                        push_outcome(&mut self.outcomes, tag, &self.scratch[8..]);
                    }
                    self.journal.append(kind, &self.scratch);
                }
                None => self.journal.append(CORE, &self.scratch[8..]),
            }
            self.appended += 1;
        }
    }

    /// Frames appended so far: [`Durable::flush`] has written them once
    /// [`Durable::flushed`] reaches this.
    pub(super) fn appended(&self) -> u64 {
        self.appended
    }

    /// Frames handed to the OS so far.
    pub(super) fn flushed(&self) -> u64 {
        self.flushed
    }

    /// Hands what was appended to the OS (it then survives the process),
    /// and compacts the journal when finished notifications dominate it.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        self.journal.flush()?;
        self.flushed = self.appended;
        Ok(())
    }

    /// Writes the journal afresh from the sender's state when it has grown
    /// well past it.
    pub(super) fn maybe_compact(&mut self, sender: &GrowableSender) -> io::Result<()> {
        let live = sender.memory_used() as u64 + self.outcomes.len() as u64;
        if !self.journal.should_compact(live) {
            return Ok(());
        }
        let (tags, outcomes) = (&self.tags, &self.outcomes);
        self.journal.compact(|sink| {
            let mut result = Ok(());
            let mut bytes = Vec::new();
            sender.state_records(|record| {
                if result.is_err() {
                    return;
                }
                let tag = record
                    .ticket()
                    .filter(|_| record.is_submitted())
                    .and_then(|t| tags.get(&t.0));
                bytes.clear();
                bytes.extend_from_slice(&tag.copied().unwrap_or(0).to_le_bytes());
                record.encode_to_vec(&mut bytes);
                result = match tag {
                    Some(_) => sink.append(TAGGED, &bytes),
                    None => sink.append(CORE, &bytes[8..]),
                };
            });
            result?;
            for payload in outcome_payloads(outcomes) {
                sink.append(OUTCOME, payload)?;
            }
            Ok(())
        })
    }

    /// Flushes and waits for the disk (on a clean stop).
    pub(super) fn sync(&mut self) -> io::Result<()> {
        self.journal.sync()
    }
}

/// Keeps an outcome payload (`tag`, then a `finished` record) in `outcomes`,
/// after its length byte (a finished record is under 30 bytes).
fn push_outcome(outcomes: &mut Vec<u8>, tag: u64, record: &[u8]) {
    if let Ok(len) = u8::try_from(8 + record.len()) {
        outcomes.push(len);
        outcomes.extend_from_slice(&tag.to_le_bytes());
        outcomes.extend_from_slice(record);
    }
}

fn outcome_payloads(outcomes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = outcomes;
    std::iter::from_fn(move || {
        let (&len, tail) = rest.split_first()?;
        let (payload, tail) = tail.split_at_checked(usize::from(len))?;
        rest = tail;
        Some(payload)
    })
}

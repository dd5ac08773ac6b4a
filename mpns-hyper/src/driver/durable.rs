//! What the driver keeps in its journal, and how it comes back.
//!
//! Three kinds of frames (the journal file itself is [`crate::journal`]):
//!
//! | kind | payload | written |
//! |---|---|---|
//! | `CORE` (1) | one of the core's records ([`Record::encode`]) | for every record the sender hands out |
//! | `TAG` (2) | ticket, tag (u64 LE each) | just before the `submitted` record of a tagged notification |
//! | `OUTCOME` (3) | tag (u64 LE), then the core's `finished` record | just before that record, for a tagged notification |
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
const TAG: u8 = 2;
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
            match frame.kind {
                CORE => {
                    let record = Record::decode(frame.payload).map_err(|e| e.to_string())?;
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
                    if let Some((ticket, _, _)) = record.finished() {
                        tags.remove(&ticket.0);
                    }
                    sender.replay(&record).map_err(|e| e.to_string())
                }
                TAG => {
                    let (ticket, tag) = two_u64(frame.payload).ok_or("a tag frame is 16 bytes")?;
                    tags.insert(ticket, tag);
                    Ok(())
                }
                OUTCOME => {
                    let (tag, result) = outcome(frame.payload)?;
                    finished.push((tag, result));
                    push_outcome(&mut outcomes, tag, &frame.payload[8..]);
                    Ok(())
                }
                kind => Err(format!("unknown frame kind {kind}")),
            }
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
        self.journal.append(TAG, &tag_payload(ticket.0, tag));
    }

    /// Appends what the sender asks to keep (no system call).
    pub(super) fn append(&mut self, sender: &mut GrowableSender) {
        while let Some(record) = sender.poll_record() {
            self.scratch.clear();
            record.encode_to_vec(&mut self.scratch);
            if let Some((ticket, _, _)) = record.finished()
                && let Some(tag) = self.tags.remove(&ticket.0)
            {
                let start = self.outcomes.len();
                push_outcome(&mut self.outcomes, tag, &self.scratch);
                // The payload just pushed, after its length byte.
                self.journal.append(OUTCOME, &self.outcomes[start + 1..]);
            }
            self.journal.append(CORE, &self.scratch);
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
                if let Some(ticket) = record.ticket().filter(|_| record.is_submitted())
                    && let Some(&tag) = tags.get(&ticket.0)
                {
                    result = sink.append(TAG, &tag_payload(ticket.0, tag));
                }
                bytes.clear();
                record.encode_to_vec(&mut bytes);
                if result.is_ok() {
                    result = sink.append(CORE, &bytes);
                }
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

fn tag_payload(ticket: u64, tag: u64) -> [u8; 16] {
    let mut p = [0; 16];
    p[..8].copy_from_slice(&ticket.to_le_bytes());
    p[8..].copy_from_slice(&tag.to_le_bytes());
    p
}

fn two_u64(payload: &[u8]) -> Option<(u64, u64)> {
    let a: [u8; 8] = payload.get(..8)?.try_into().ok()?;
    let b: [u8; 8] = payload.get(8..16)?.try_into().ok()?;
    (payload.len() == 16).then(|| (u64::from_le_bytes(a), u64::from_le_bytes(b)))
}

/// Reads an `OUTCOME` payload: the tag and the result of its `finished` record.
fn outcome(payload: &[u8]) -> Result<(u64, Finished), String> {
    let (tag, record) = payload
        .split_first_chunk::<8>()
        .ok_or("an outcome frame starts with its tag")?;
    let record = Record::decode(record).map_err(|e| format!("outcome: {e}"))?;
    let (_, result, _) = record
        .finished()
        .ok_or("an outcome frame holds a finished record")?;
    Ok((u64::from_le_bytes(*tag), result))
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

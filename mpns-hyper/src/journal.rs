//! An append-only journal file: the durable store of the driver.
//!
//! The journal keeps opaque frames, each a `kind` byte and a payload, in the
//! file `journal` of a directory it owns; what a frame means is the caller's
//! business. Opening hands every frame back in order, appending is buffered
//! in memory, [`Journal::flush`] writes the buffer with one `write_all`, and
//! a background thread makes flushed frames durable with `fsync` in groups.
//!
//! ```no_run
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mpns_hyper::journal::{Journal, JournalConfig};
//!
//! let config = JournalConfig::new("state/job-42");
//! let (mut journal, report) = Journal::open(&config, b"digest of the batch file", |frame| {
//!     println!("{} bytes of kind {} at byte {}", frame.payload.len(), frame.kind, frame.offset);
//!     Ok(())
//! })?;
//! println!("{} frames read, {} torn bytes dropped", report.frames, report.torn_bytes);
//! journal.append(1, b"an encoded record");
//! journal.flush()?; // survives the end of this process from here on
//! journal.sync()?; // and a power cut from here on
//! # Ok(()) }
//! ```
//!
//! # File layout
//!
//! All integers are little-endian; checksums are CRC-32 (IEEE).
//!
//! | part | bytes |
//! |---|---|
//! | header | magic `MPNSJRNL`, u16 version (1), u32 identity length (at most [`MAX_IDENTITY`]), the identity, u32 CRC of all of the header before it |
//! | frame | u32 length of kind + payload (1 ..= [`MAX_FRAME`]), u32 CRC of kind + payload, u8 kind, the payload |
//!
//! The identity names the job the journal belongs to (say, a digest of the
//! batch file): opening with another identity is refused with
//! [`JournalError::Identity`], so one directory never mixes two jobs.
//!
//! # Durability
//!
//! - [`Journal::append`] only encodes into memory. A crash of any kind loses
//!   frames appended and not yet flushed (dropping the [`Journal`] flushes
//!   them).
//! - Once [`Journal::flush`] has returned `Ok`, its frames are in the
//!   kernel's page cache: the end of the process however it comes (SIGKILL,
//!   panic, abort, the OOM killer) loses none of them.
//! - The sync thread calls `sync_data` no later than
//!   [`JournalConfig::sync_interval`] (5 ms) after the first flush that is not
//!   yet synced, and at once when [`JournalConfig::sync_records`] (2,048) frames
//!   have been flushed since the last sync began; it never syncs when nothing
//!   was flushed. A frame flushed at time `t` is on disk once the first fsync
//!   that begins after `t` ends; that fsync begins by `t + sync_interval`, or
//!   when the fsync running at `t` ends if that is later. So a power cut or a
//!   kernel crash loses at most the frames flushed in the last
//!   `sync_interval`, plus those flushed during the fsync then running.
//! - What such a crash loses is the end of the journal. Open drops a torn
//!   last frame (cut short, with a bad checksum up to the end of the file,
//!   or followed by nothing but zero bytes, as some file systems leave after
//!   a crash), truncates the file there and says so in
//!   [`OpenReport::torn_bytes`]. A bad frame with data after it is never
//!   dropped silently: open fails with [`JournalError::Corrupt`].
//! - [`Journal::sync`] flushes and fsyncs at once on the caller's thread: on
//!   `Ok`, everything appended is on disk. Call it on a clean shutdown.
//! - A failed fsync is kept: it is returned by every later
//!   [`Journal::flush`], [`Journal::sync`] and [`Journal::compact`], since
//!   after it the kernel may have dropped pages that were never written and
//!   the journal can no longer say what is on disk. Reopen to go on from
//!   what is there.
//!
//! The fsyncs run on a thread so that the writer (an async task) never waits
//! for the disk: a flush costs one `write` to the page cache, and many
//! flushes share one fsync.
//!
//! # One writer
//!
//! Open takes an exclusive advisory lock (`flock` on Unix) on the journal
//! file: a second [`Journal::open`] of the same directory, from this process
//! or another, fails with [`JournalError::Locked`] until the first
//! [`Journal`] is dropped.
//!
//! # Compaction
//!
//! The journal only grows. When [`Journal::should_compact`] says the file is
//! large and mostly dead, [`Journal::compact`] writes the frames the caller
//! still needs into `journal.new`, fsyncs it, renames it over `journal` and
//! fsyncs the directory, then appends to the new file. A crash at any point
//! leaves one complete journal, the old or the new; open deletes a
//! leftover `journal.new`.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The first 8 bytes of every journal file.
pub const MAGIC: [u8; 8] = *b"MPNSJRNL";
/// The format version this module writes and reads.
pub const VERSION: u16 = 1;
/// Most bytes of identity a journal stores.
pub const MAX_IDENTITY: usize = 4096;
/// Most bytes of `kind + payload` in one frame (16 MiB); a longer length in
/// a file is corruption.
pub const MAX_FRAME: usize = 16 << 20;

/// Length and checksum in front of each frame's kind.
const FRAME_HEADER: usize = 8;
/// Header bytes besides the identity.
const HEADER_FIXED: usize = 8 + 2 + 4 + 4;
const FILE_NAME: &str = "journal";
const NEW_FILE_NAME: &str = "journal.new";
/// Bytes read per `read` call when replaying.
const READ_CHUNK: usize = 1 << 20;
/// Buffer of the compaction writer.
const WRITE_CHUNK: usize = 1 << 20;

/// Settings of a [`Journal`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalConfig {
    /// The directory of the journal, created if absent. It holds `journal`
    /// and, during compaction, `journal.new`.
    pub dir: PathBuf,
    /// Longest time flushed frames wait for an fsync (5 ms).
    pub sync_interval: Duration,
    /// Flushed frames that start an fsync at once, without waiting for
    /// `sync_interval` (2,048: about 500 notifications of the driver, whose
    /// each takes four to seven frames; fewer fsyncs under load cost less
    /// CPU, and the interval still bounds what a power cut loses).
    pub sync_records: usize,
    /// Size below which [`Journal::should_compact`] is always false (64 MiB).
    pub compact_min_bytes: u64,
    /// How many times the live size the file must exceed before
    /// [`Journal::should_compact`] is true (2).
    pub compact_ratio: u32,
}

impl JournalConfig {
    /// The default settings for a journal in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        JournalConfig {
            dir: dir.into(),
            sync_interval: Duration::from_millis(5),
            sync_records: 2048,
            compact_min_bytes: 64 << 20,
            compact_ratio: 2,
        }
    }
}

/// One frame handed to the visitor of [`Journal::open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Byte offset of the frame (its length field) in the file.
    pub offset: u64,
    /// The kind byte given to [`Journal::append`].
    pub kind: u8,
    /// The payload given to [`Journal::append`].
    pub payload: &'a [u8],
}

/// What [`Journal::open`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Frames handed to the visitor.
    pub frames: u64,
    /// Length of the journal file after opening (header and frames).
    pub bytes: u64,
    /// Bytes of a torn last frame dropped from the end of the file.
    pub torn_bytes: u64,
    /// Whether the journal was new (no file, or an empty one).
    pub created: bool,
}

/// Why [`Journal::open`] failed. Every variant names the journal file.
#[derive(Debug)]
#[non_exhaustive]
pub enum JournalError {
    /// Reading, writing or creating failed.
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// Another [`Journal`], in this process or another, has the file open.
    Locked {
        /// The journal file.
        path: PathBuf,
    },
    /// The file does not start with [`MAGIC`]; it was left untouched.
    NotAJournal {
        /// The file.
        path: PathBuf,
    },
    /// The file is a journal of a format version this build does not read.
    Version {
        /// The journal file.
        path: PathBuf,
        /// The version in its header.
        found: u16,
    },
    /// The journal was written for another identity (another job).
    Identity {
        /// The journal file.
        path: PathBuf,
    },
    /// The file is damaged at `offset` (0: the header), and not only at its
    /// end, so nothing was dropped.
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// Byte offset of the bad header or frame.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// The visitor refused the frame at `offset`.
    Replay {
        /// The journal file.
        path: PathBuf,
        /// Byte offset of the frame.
        offset: u64,
        /// The visitor's error.
        reason: String,
    },
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            JournalError::Locked { path } => write!(
                f,
                "{} is locked: another process (or another journal in this process) is using this directory",
                path.display()
            ),
            JournalError::NotAJournal { path } => write!(
                f,
                "{} is not an mpns journal (it does not start with MPNSJRNL); it was left as it is",
                path.display()
            ),
            JournalError::Version { path, found } => write!(
                f,
                "{} is a journal of format version {found}; this build reads version {VERSION}",
                path.display()
            ),
            JournalError::Identity { path } => {
                let dir = path.parent().unwrap_or(path);
                write!(
                    f,
                    "{} belongs to another job (its journal was written for another file): \
                     use another directory, or delete this one to start over",
                    dir.display()
                )
            }
            JournalError::Corrupt {
                path,
                offset,
                reason,
            } => write!(
                f,
                "{} is corrupt at byte {offset}: {reason}",
                path.display()
            ),
            JournalError::Replay {
                path,
                offset,
                reason,
            } => write!(
                f,
                "{}: the frame at byte {offset} was refused: {reason}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for JournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JournalError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Writes the frames of a compacted journal; see [`Journal::compact`].
#[derive(Debug)]
pub struct FrameSink<'a> {
    out: BufWriter<&'a File>,
    frames: u64,
    bytes: u64,
}

impl FrameSink<'_> {
    /// Writes one frame (buffered).
    ///
    /// # Panics
    ///
    /// If `payload` is longer than `MAX_FRAME - 1` bytes.
    pub fn append(&mut self, kind: u8, payload: &[u8]) -> io::Result<()> {
        self.out.write_all(&frame_header(kind, payload))?;
        self.out.write_all(payload)?;
        self.frames += 1;
        self.bytes += frame_size(payload);
        Ok(())
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Bytes of frames written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// An open journal: appends frames and makes them durable.
///
/// Dropping it flushes what is buffered, lets the sync thread make it
/// durable, ends the thread and releases the lock; errors on the way are
/// lost, so call [`Journal::sync`] first on a clean shutdown.
pub struct Journal {
    dir: PathBuf,
    path: PathBuf,
    new_path: PathBuf,
    file: Arc<File>,
    identity: Vec<u8>,
    header_len: u64,
    /// Frames appended and not yet written.
    buf: Vec<u8>,
    buf_frames: usize,
    /// Bytes written to the file.
    file_len: u64,
    /// Bytes of frames appended since open or the last compaction.
    appended: u64,
    sync_records: usize,
    compact_min_bytes: u64,
    compact_ratio: u32,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("len", &self.len())
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

/// What the writer and the sync thread share.
struct Shared {
    state: Mutex<SyncState>,
    wake: Condvar,
}

struct SyncState {
    /// The file to sync; replaced by compaction.
    file: Arc<File>,
    /// Counts compactions, so that a failed fsync of a replaced file is
    /// not held against the new one.
    generation: u64,
    /// When the first flush not yet synced happened.
    dirty_since: Option<Instant>,
    /// Frames flushed since the last sync began.
    unsynced_frames: usize,
    /// The first failure, returned from then on.
    error: Option<StickyError>,
    /// Set by drop: sync what is dirty and end.
    stop: bool,
}

/// A kept I/O error (`io::Error` is not `Clone`).
#[derive(Clone)]
struct StickyError {
    kind: io::ErrorKind,
    message: String,
}

impl StickyError {
    fn new(what: &str, error: &io::Error) -> Self {
        StickyError {
            kind: error.kind(),
            message: format!("{what}: {error}"),
        }
    }

    fn to_io(&self) -> io::Error {
        io::Error::new(
            self.kind,
            format!(
                "the journal failed earlier and is unusable (reopen it): {}",
                self.message
            ),
        )
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, SyncState> {
    shared.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The sync thread: fsyncs within `interval` of the first unsynced flush,
/// or at once after `records` frames, until the journal is dropped.
fn sync_loop(shared: &Shared, interval: Duration, records: usize) {
    let mut state = lock(shared);
    loop {
        let Some(since) = state.dirty_since else {
            if state.stop {
                return;
            }
            state = shared
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        let due = since.checked_add(interval);
        let now = Instant::now();
        if state.stop || state.unsynced_frames >= records || due.is_some_and(|due| now >= due) {
            state.dirty_since = None;
            state.unsynced_frames = 0;
            let file = Arc::clone(&state.file);
            let generation = state.generation;
            drop(state);
            let result = file.sync_data();
            drop(file);
            state = lock(shared);
            if let Err(error) = result
                && state.generation == generation
                && state.error.is_none()
            {
                state.error = Some(StickyError::new("fsync", &error));
            }
            continue;
        }
        state = match due {
            Some(due) => {
                shared
                    .wake
                    .wait_timeout(state, due - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => shared
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

impl Journal {
    /// Opens the journal in `config.dir`, creating the directory and the
    /// journal if absent, and hands every frame to `visit` in order.
    ///
    /// A torn last frame is dropped and the file truncated before it
    /// ([`OpenReport::torn_bytes`]); a leftover `journal.new` is deleted.
    /// `identity` (at most [`MAX_IDENTITY`] bytes) is stored in a new
    /// journal and must equal the stored one in an existing journal.
    pub fn open(
        config: &JournalConfig,
        identity: &[u8],
        mut visit: impl FnMut(Frame<'_>) -> Result<(), String>,
    ) -> Result<(Journal, OpenReport), JournalError> {
        let dir = config.dir.clone();
        let path = dir.join(FILE_NAME);
        let new_path = dir.join(NEW_FILE_NAME);
        if identity.len() > MAX_IDENTITY {
            return Err(JournalError::Io {
                path,
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "the identity is {} bytes, at most {MAX_IDENTITY} are allowed",
                        identity.len()
                    ),
                ),
            });
        }
        let dir_existed = dir.is_dir();
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        if !dir_existed && let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent).map_err(io_at(parent))?;
        }
        let mut file = open_locked(&path)?;
        match fs::remove_file(&new_path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                return Err(JournalError::Io {
                    path: new_path,
                    source: error,
                });
            }
            _ => {}
        }

        let file_len = file.metadata().map_err(io_at(&path))?.len();
        let expected = encode_header(identity);
        let mut reader = Chunks::new(&file);
        let report = match read_header(&mut reader, file_len, &expected, identity, &path)? {
            None => {
                drop(reader);
                file.set_len(0).map_err(io_at(&path))?;
                file.seek(SeekFrom::Start(0)).map_err(io_at(&path))?;
                file.write_all(&expected).map_err(io_at(&path))?;
                file.sync_all().map_err(io_at(&path))?;
                sync_dir(&dir).map_err(io_at(&dir))?;
                OpenReport {
                    frames: 0,
                    bytes: expected.len() as u64,
                    torn_bytes: 0,
                    created: true,
                }
            }
            Some(header_len) => {
                let replayed = replay(&mut reader, &path, header_len, file_len, &mut visit)?;
                drop(reader);
                let torn_bytes = file_len - replayed.end;
                if torn_bytes > 0 {
                    file.set_len(replayed.end).map_err(io_at(&path))?;
                    file.sync_all().map_err(io_at(&path))?;
                }
                file.seek(SeekFrom::Start(replayed.end))
                    .map_err(io_at(&path))?;
                OpenReport {
                    frames: replayed.frames,
                    bytes: replayed.end,
                    torn_bytes,
                    created: false,
                }
            }
        };

        let file = Arc::new(file);
        let shared = Arc::new(Shared {
            state: Mutex::new(SyncState {
                file: Arc::clone(&file),
                generation: 0,
                dirty_since: None,
                unsynced_frames: 0,
                error: None,
                stop: false,
            }),
            wake: Condvar::new(),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            let (interval, records) = (config.sync_interval, config.sync_records);
            std::thread::Builder::new()
                .name("mpns-journal-sync".into())
                .spawn(move || sync_loop(&shared, interval, records))
                .map_err(io_at(&path))?
        };
        let journal = Journal {
            dir,
            path,
            new_path,
            file,
            identity: identity.to_vec(),
            header_len: expected.len() as u64,
            buf: Vec::new(),
            buf_frames: 0,
            file_len: report.bytes,
            appended: 0,
            sync_records: config.sync_records,
            compact_min_bytes: config.compact_min_bytes,
            compact_ratio: config.compact_ratio,
            shared,
            thread: Some(thread),
        };
        Ok((journal, report))
    }

    /// Appends a frame to the in-memory buffer (no system call); it reaches
    /// the file on the next [`Journal::flush`].
    ///
    /// # Panics
    ///
    /// If `payload` is longer than `MAX_FRAME - 1` bytes.
    pub fn append(&mut self, kind: u8, payload: &[u8]) {
        self.buf.extend_from_slice(&frame_header(kind, payload));
        self.buf.extend_from_slice(payload);
        self.buf_frames += 1;
        self.appended += frame_size(payload);
    }

    /// Writes the buffered frames to the file with one `write_all` (they
    /// then survive the end of the process) and tells the sync thread.
    /// Cheap when nothing is buffered.
    ///
    /// On a write error the file is cut back to where it was and the frames
    /// stay buffered for the next flush. Returns a failure kept from an
    /// earlier fsync; see the module docs.
    pub fn flush(&mut self) -> io::Result<()> {
        self.check()?;
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Err(error) = (&*self.file).write_all(&self.buf) {
            // Part may have been written: cut it off, or the journal would
            // have a bad frame in its middle after the next flush.
            let undo = self
                .file
                .set_len(self.file_len)
                .and_then(|()| (&*self.file).seek(SeekFrom::Start(self.file_len)));
            if let Err(undo) = undo {
                self.fail(StickyError::new("cutting off a failed write", &undo));
            }
            return Err(error);
        }
        self.file_len += self.buf.len() as u64;
        self.buf.clear();
        let frames = std::mem::take(&mut self.buf_frames);
        let mut state = lock(&self.shared);
        let was_clean = state.dirty_since.is_none();
        if was_clean {
            state.dirty_since = Some(Instant::now());
        }
        let before = state.unsynced_frames;
        state.unsynced_frames = before.saturating_add(frames);
        // The thread needs waking only to start its timer or to sync early.
        if was_clean || (before < self.sync_records && state.unsynced_frames >= self.sync_records) {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// Flushes and fsyncs now, on this thread: on `Ok`, every frame
    /// appended so far is on disk.
    pub fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        if let Err(error) = self.file.sync_data() {
            self.fail(StickyError::new("fsync", &error));
            return Err(error);
        }
        let mut state = lock(&self.shared);
        state.dirty_since = None;
        state.unsynced_frames = 0;
        Ok(())
    }

    /// Bytes of the journal, header included, counting frames appended and
    /// not yet flushed.
    pub fn len(&self) -> u64 {
        self.file_len + self.buf.len() as u64
    }

    /// Whether the journal holds no frame (counting buffered ones).
    pub fn is_empty(&self) -> bool {
        self.len() == self.header_len
    }

    /// Bytes of frames appended since open or the last compaction.
    pub fn appended_bytes(&self) -> u64 {
        self.appended
    }

    /// Bytes appended and not yet flushed.
    pub fn buffered_bytes(&self) -> usize {
        self.buf.len()
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether compaction is worth it: the journal is over
    /// [`JournalConfig::compact_min_bytes`] and over
    /// [`JournalConfig::compact_ratio`] times `live_bytes`, the size of the
    /// frames [`Journal::compact`] would write.
    pub fn should_compact(&self, live_bytes: u64) -> bool {
        let len = self.len();
        len > self.compact_min_bytes && len > live_bytes.saturating_mul(self.compact_ratio.into())
    }

    /// Replaces the journal with the frames `write_live` gives: flushes,
    /// writes them after a header into `journal.new`, fsyncs it, renames it
    /// over `journal`, fsyncs the directory and appends to the new file from
    /// then on (under the lock, synced by the sync thread).
    ///
    /// If anything fails before the rename, `journal.new` is removed and the
    /// old journal goes on. A failed directory fsync after the rename is kept
    /// like a failed fsync (see the module docs).
    pub fn compact(
        &mut self,
        write_live: impl FnOnce(&mut FrameSink<'_>) -> io::Result<()>,
    ) -> io::Result<()> {
        self.flush()?;
        let (file, len) = match self.write_new(write_live) {
            Ok(written) => written,
            Err(error) => {
                let _ = fs::remove_file(&self.new_path);
                return Err(error);
            }
        };
        if let Err(error) = fs::rename(&self.new_path, &self.path) {
            let _ = fs::remove_file(&self.new_path);
            return Err(error);
        }
        // `journal` is the new file now, whatever happens next.
        let file = Arc::new(file);
        self.file = Arc::clone(&file);
        self.file_len = len;
        self.appended = 0;
        {
            let mut state = lock(&self.shared);
            state.file = file;
            state.generation += 1;
            state.dirty_since = None;
            state.unsynced_frames = 0;
        }
        if let Err(error) = sync_dir(&self.dir) {
            self.fail(StickyError::new("fsync of the directory", &error));
            return Err(error);
        }
        Ok(())
    }

    /// Writes and fsyncs `journal.new`, locked; returns it and its length.
    fn write_new(
        &self,
        write_live: impl FnOnce(&mut FrameSink<'_>) -> io::Result<()>,
    ) -> io::Result<(File, u64)> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.new_path)?;
        file.try_lock().map_err(|error| match error {
            TryLockError::WouldBlock => io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is locked by another process", self.new_path.display()),
            ),
            TryLockError::Error(error) => error,
        })?;
        let header = encode_header(&self.identity);
        let mut sink = FrameSink {
            out: BufWriter::with_capacity(WRITE_CHUNK, &file),
            frames: 0,
            bytes: 0,
        };
        sink.out.write_all(&header)?;
        write_live(&mut sink)?;
        sink.out.flush()?;
        let len = header.len() as u64 + sink.bytes;
        drop(sink);
        file.sync_all()?;
        Ok((file, len))
    }

    /// Returns the kept failure, if any.
    fn check(&self) -> io::Result<()> {
        match &lock(&self.shared).error {
            Some(error) => Err(error.to_io()),
            None => Ok(()),
        }
    }

    /// Keeps the first failure.
    fn fail(&self, error: StickyError) {
        let mut state = lock(&self.shared);
        if state.error.is_none() {
            state.error = Some(error);
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = self.flush();
        lock(&self.shared).stop = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens (creating if absent) and locks the journal file. Retries if the
/// file was replaced by a compaction between the open and the lock.
fn open_locked(path: &Path) -> Result<File, JournalError> {
    for _ in 0..16 {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_at(path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(JournalError::Locked {
                    path: path.to_path_buf(),
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(JournalError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
        if is_at(&file, path).map_err(io_at(path))? {
            return Ok(file);
        }
    }
    Err(JournalError::Io {
        path: path.to_path_buf(),
        source: io::Error::other("the journal file kept being replaced while it was opened"),
    })
}

/// Whether `file` is still the file at `path`.
#[cfg(unix)]
fn is_at(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata()?;
    match fs::metadata(path) {
        Ok(named) => Ok(open.dev() == named.dev() && open.ino() == named.ino()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

#[cfg(not(unix))]
fn is_at(_file: &File, _path: &Path) -> io::Result<bool> {
    Ok(true)
}

/// Makes the directory's entries (a new or renamed file) durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

fn encode_header(identity: &[u8]) -> Vec<u8> {
    let mut header = Vec::with_capacity(HEADER_FIXED + identity.len());
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&(identity.len() as u32).to_le_bytes());
    header.extend_from_slice(identity);
    let crc = crc32fast::hash(&header);
    header.extend_from_slice(&crc.to_le_bytes());
    header
}

/// Length, checksum and kind of a frame.
fn frame_header(kind: u8, payload: &[u8]) -> [u8; FRAME_HEADER + 1] {
    assert!(
        payload.len() < MAX_FRAME,
        "a journal frame holds at most {} payload bytes, not {}",
        MAX_FRAME - 1,
        payload.len()
    );
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[kind]);
    crc.update(payload);
    let mut header = [0; FRAME_HEADER + 1];
    header[..4].copy_from_slice(&(payload.len() as u32 + 1).to_le_bytes());
    header[4..8].copy_from_slice(&crc.finalize().to_le_bytes());
    header[8] = kind;
    header
}

fn frame_size(payload: &[u8]) -> u64 {
    (FRAME_HEADER + 1 + payload.len()) as u64
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Reads a file in large chunks, keeping a window of it in memory.
struct Chunks<'f> {
    file: &'f File,
    buf: Vec<u8>,
    lo: usize,
    hi: usize,
}

impl<'f> Chunks<'f> {
    fn new(file: &'f File) -> Self {
        Chunks {
            file,
            buf: vec![0; READ_CHUNK],
            lo: 0,
            hi: 0,
        }
    }

    /// The bytes read and not consumed.
    fn available(&self) -> &[u8] {
        &self.buf[self.lo..self.hi]
    }

    fn consume(&mut self, n: usize) {
        self.lo += n;
    }

    /// Reads until at least `n` bytes are available, or the end of the file;
    /// returns how many are available.
    fn fill(&mut self, n: usize) -> io::Result<usize> {
        if self.hi - self.lo >= n {
            return Ok(self.hi - self.lo);
        }
        self.buf.copy_within(self.lo..self.hi, 0);
        self.hi -= self.lo;
        self.lo = 0;
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
        let mut file = self.file;
        while self.hi < n {
            match file.read(&mut self.buf[self.hi..]) {
                Ok(0) => break,
                Ok(read) => self.hi += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(self.hi)
    }

    /// Whether the `len` bytes after the next `skip` ones are all zero.
    fn zeros_after(&mut self, mut skip: u64, mut len: u64) -> io::Result<bool> {
        while skip > 0 || len > 0 {
            if self.fill(1)? == 0 {
                // The file ended early: nothing non-zero was seen.
                return Ok(true);
            }
            let available = self.available().len() as u64;
            let skipped = skip.min(available);
            self.consume(skipped as usize);
            skip -= skipped;
            if skip > 0 {
                continue;
            }
            let checked = len.min(self.available().len() as u64) as usize;
            if self.available()[..checked].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            self.consume(checked);
            len -= checked as u64;
        }
        Ok(true)
    }
}

/// Checks the header at the start of the file. `None`: the file is empty,
/// or a cut-short copy of the header a new journal would get (a crash while
/// creating it), so it is to be created anew. `Some(len)`: the header is
/// good, `len` bytes long, and consumed from `reader`.
fn read_header(
    reader: &mut Chunks<'_>,
    file_len: u64,
    expected: &[u8],
    identity: &[u8],
    path: &Path,
) -> Result<Option<u64>, JournalError> {
    let want = file_len.min((HEADER_FIXED + MAX_IDENTITY) as u64) as usize;
    let got = reader.fill(want).map_err(io_at(path))?.min(want);
    let bytes = &reader.available()[..got];
    if file_len < expected.len() as u64 && got as u64 == file_len && expected.starts_with(bytes) {
        return Ok(None);
    }
    let corrupt = |reason: String| JournalError::Corrupt {
        path: path.to_path_buf(),
        offset: 0,
        reason,
    };
    if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
        return Err(JournalError::NotAJournal {
            path: path.to_path_buf(),
        });
    }
    if bytes.len() < 14 {
        return Err(corrupt(format!("the header is cut short at {got} bytes")));
    }
    let found = u16::from_le_bytes([bytes[8], bytes[9]]);
    if found != VERSION {
        return Err(JournalError::Version {
            path: path.to_path_buf(),
            found,
        });
    }
    let identity_len = u32_at(bytes, 10) as usize;
    if identity_len > MAX_IDENTITY {
        return Err(corrupt(format!(
            "the identity length {identity_len} is over {MAX_IDENTITY}"
        )));
    }
    let header_len = HEADER_FIXED + identity_len;
    if bytes.len() < header_len {
        return Err(corrupt(format!(
            "the header is cut short at {got} of {header_len} bytes"
        )));
    }
    if crc32fast::hash(&bytes[..header_len - 4]) != u32_at(bytes, header_len - 4) {
        return Err(corrupt("the header checksum does not match".into()));
    }
    if &bytes[14..14 + identity_len] != identity {
        return Err(JournalError::Identity {
            path: path.to_path_buf(),
        });
    }
    reader.consume(header_len);
    Ok(Some(header_len as u64))
}

struct Replayed {
    /// End of the last good frame.
    end: u64,
    frames: u64,
}

/// Hands the frames from `start` to `visit`; stops at the end of the file
/// or at a torn last frame, and fails on a bad frame with data after it.
fn replay(
    reader: &mut Chunks<'_>,
    path: &Path,
    start: u64,
    file_len: u64,
    visit: &mut impl FnMut(Frame<'_>) -> Result<(), String>,
) -> Result<Replayed, JournalError> {
    let mut offset = start;
    let mut frames = 0;
    // Where a bad frame ends (as far as is known) and what is wrong with it.
    let (extent_end, reason) = loop {
        let left = file_len - offset;
        if left == 0 {
            return Ok(Replayed {
                end: offset,
                frames,
            });
        }
        if left < FRAME_HEADER as u64
            || reader.fill(FRAME_HEADER).map_err(io_at(path))? < FRAME_HEADER
        {
            break (file_len, String::new());
        }
        let head = reader.available();
        let len = u32_at(head, 0) as usize;
        let crc = u32_at(head, 4);
        if len == 0 || len > MAX_FRAME {
            // The length is garbage, so the frame's extent is its header.
            break (
                offset + FRAME_HEADER as u64,
                format!("the frame length {len} is not in 1..={MAX_FRAME}"),
            );
        }
        let size = FRAME_HEADER + len;
        let end = offset + size as u64;
        if end > file_len || reader.fill(size).map_err(io_at(path))? < size {
            break (file_len, String::new());
        }
        let bytes = &reader.available()[..size];
        if crc32fast::hash(&bytes[FRAME_HEADER..]) != crc {
            break (end, "the frame checksum does not match".into());
        }
        let frame = Frame {
            offset,
            kind: bytes[FRAME_HEADER],
            payload: &bytes[FRAME_HEADER + 1..],
        };
        visit(frame).map_err(|reason| JournalError::Replay {
            path: path.to_path_buf(),
            offset,
            reason,
        })?;
        reader.consume(size);
        offset = end;
        frames += 1;
    };
    // A bad frame is a torn write when nothing but zeros follows it.
    let torn = extent_end >= file_len
        || reader
            .zeros_after(extent_end - offset, file_len - extent_end)
            .map_err(io_at(path))?;
    if torn {
        Ok(Replayed {
            end: offset,
            frames,
        })
    } else {
        Err(JournalError::Corrupt {
            path: path.to_path_buf(),
            offset,
            reason,
        })
    }
}

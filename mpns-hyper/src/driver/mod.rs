//! Runs the core's [`GrowableSender`] over a [`Transport`] (the direct
//! transport or the hyper client): submit
//! from any task, read events as a stream, with a cap on requests in flight,
//! a memory budget for what waits, and timers from tokio.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mpns_hyper::client::ClientConfig;
//! use mpns_hyper::direct::DirectClient;
//! use mpns_hyper::driver::{Driver, DriverConfig};
//! use mpns_proto::sender::Event;
//! use mpns_proto::{Notification, Options, Toast};
//!
//! let client = DirectClient::new(ClientConfig::default())?;
//! let (handle, mut events) = Driver::start(client, DriverConfig::default());
//! let toast = Notification::Toast(Toast { text1: Some("Hello"), ..Toast::default() });
//! handle.submit_wait("http://127.0.0.1:47001/throttledthirdparty/01.00/A", &toast, &Options::default()).await?;
//! drop(handle); // the stream ends once every notification has finished
//! while let Some(event) = events.recv().await {
//!     if let Event::Finished { ticket, result, .. } = event {
//!         println!("{ticket:?}: {}", result.name());
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Every decision (order, retries, pauses, quota, expiry) is the core's: this
//! module only carries requests out and responses and time in.
//!
//! # Nothing lost when the process dies
//!
//! [`Driver::recover`] runs the driver over a journal ([`crate::journal`]):
//! every change the core records is appended, and handed to the OS before
//! the request it concerns goes on the wire, so a killed process loses
//! nothing it had accepted. Started again over the same journal, the driver
//! rebuilds its sender, resumes every unfinished notification where it was
//! (backoffs, pauses and quota windows included), and reports requests that
//! were on the wire at the crash as [`Event::InDoubt`]: MPNS has no
//! idempotency key, so they are sent again, at most `max_in_flight` per
//! crash. Notifications may carry a tag ([`DriverHandle::submit_tagged`]):
//! the journal keeps each tagged notification's result for good, and
//! [`Recovery`] lists them, so that an application (`mpns batch --state`)
//! knows what finished in earlier runs. Power cuts: see [`crate::journal`].
//!
//! Time is the system clock's (milliseconds since the Unix epoch), so that
//! deadlines and pauses mean the same after a restart.
//!
//! Notifications that wait (for a backoff, a channel's or host's pause, a
//! channel's quota) are parked in the sender and hold no request slot:
//! `max_in_flight` bounds only requests on the wire, so one slow channel
//! never delays another's notification. What may wait is bounded by
//! `memory_budget`; at the budget, [`DriverHandle::submit_wait`] waits and
//! [`DriverHandle::submit`] returns back-pressure, never a refusal.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mpns_proto::sender::{Event, SubmitError, TicketError};
use mpns_proto::{
    ChannelUri, GrowableSender, Instant, Notification, Options, SenderConfig, Ticket,
};
use tokio::sync::{Notify, Semaphore, mpsc};
use tracing::Instrument;

use crate::journal::{JournalConfig, JournalError};
use crate::transport::Transport;

mod durable;
mod observe;

use durable::Durable;
pub use durable::Recovery;
use observe::Observer;

/// Settings of a [`Driver`].
#[derive(Clone, Copy, Debug)]
pub struct DriverConfig {
    /// The core's policy settings.
    pub sender: SenderConfig,
    /// Most requests in flight at once, over all channels (64).
    pub max_in_flight: usize,
    /// Bytes the sender may hold for pending notifications, remembered
    /// channels and unread events (256 MiB: about a million typical toasts);
    /// see [`GrowableSender::new`].
    pub memory_budget: usize,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            sender: SenderConfig::default(),
            max_in_flight: 64,
            memory_budget: 256 << 20,
        }
    }
}

/// What a [`Driver`] holds now, from [`DriverHandle::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Notifications submitted whose final event has not been delivered.
    pub pending: usize,
    /// Requests on the wire.
    pub in_flight: usize,
    /// Requests sent so far (every attempt).
    pub sent: u64,
    /// Channels the sender remembers (queued work, pauses, quota windows).
    pub channels: usize,
    /// Bytes counted against the memory budget.
    pub memory_used: usize,
}

/// Why a submit through the driver failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriverError {
    /// The channel URI was refused.
    Channel(mpns_proto::UriError),
    /// The core refused the notification (see [`SubmitError`]).
    Submit(SubmitError),
    /// The journal could not be written: the driver stopped sending, and
    /// what it held is in the journal for the next start.
    Journal(String),
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverError::Channel(e) => write!(f, "channel URI: {e}"),
            DriverError::Submit(e) => write!(f, "{e}"),
            DriverError::Journal(e) => write!(f, "journal: {e}"),
        }
    }
}

impl std::error::Error for DriverError {}

/// The sender and, when the driver keeps one, its journal: one lock, so that
/// records reach the journal in the order the sender made them.
struct Core {
    sender: GrowableSender,
    durable: Option<Durable>,
    /// Why the journal stopped, once it did: the driver then stops sending.
    failed: Option<String>,
    /// Logs and metrics.
    observer: Observer,
}

impl Core {
    /// Appends the sender's records to the journal (no system call).
    fn record(&mut self) {
        if let Some(d) = &mut self.durable {
            d.append(&mut self.sender);
        }
    }

    /// Hands the appended records to the OS: before a request goes on the
    /// wire, so that a killed process knows it was sent.
    fn write(&mut self) -> bool {
        let Some(d) = &mut self.durable else {
            return true;
        };
        if self.failed.is_some() {
            return false;
        }
        let result = d.flush().and_then(|()| d.maybe_compact(&self.sender));
        if let Err(e) = result {
            tracing::error!(error = %e, "journal write failed: the driver stops sending");
            self.failed = Some(e.to_string());
            return false;
        }
        true
    }
}

struct Shared {
    core: Mutex<Core>,
    /// Wakes the driver task: new work, a response, a handle dropped.
    wake: Notify,
    /// Wakes submitters waiting for memory.
    space: Notify,
    in_flight: AtomicUsize,
    max_in_flight: usize,
    sent: AtomicU64,
    events: mpsc::UnboundedSender<Event>,
    start: tokio::time::Instant,
    /// The system clock at `start`, in milliseconds since the Unix epoch.
    epoch_ms: u64,
    /// Live [`DriverHandle`]s; the task ends when none is left and nothing is pending.
    handles: AtomicUsize,
}

impl Shared {
    fn now(&self) -> Instant {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        Instant::from_millis(self.epoch_ms.saturating_add(elapsed))
    }

    /// The tokio instant of the sender's `at`.
    fn deadline(&self, at: Instant) -> tokio::time::Instant {
        let after = at.as_millis().saturating_sub(self.epoch_ms);
        self.start + std::time::Duration::from_millis(after.min(u64::MAX >> 2))
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic while holding the lock cannot leave the sender half-updated
        // in a way that matters more than stopping: carry on with its state.
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes the driver task for new work, unless every request slot is
    /// busy: a worker whose response came takes the next request itself.
    fn new_work(&self) {
        if self.in_flight.load(Ordering::Acquire) < self.max_in_flight {
            self.wake.notify_one();
        }
    }

    /// Records what changed, then forwards the sender's events (a final
    /// event comes only once its record is appended); wakes submitters when
    /// memory frees up.
    fn drain(&self, core: &mut Core) {
        core.record();
        let sender = &mut core.sender;
        let mut freed = false;
        while let Some(event) = sender.poll_event() {
            freed |= matches!(event, Event::Finished { .. });
            core.observer.event(&event);
            // The receiver may be gone; events are then dropped, notifications still finish.
            let _ = self.events.send(event);
        }
        if freed {
            self.space.notify_waiters();
        }
    }
}

/// Submits notifications to a running [`Driver`]. Clone it freely; the
/// event stream ends when every handle is dropped and every notification finished.
pub struct DriverHandle {
    shared: Arc<Shared>,
}

impl Clone for DriverHandle {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::SeqCst);
        DriverHandle {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for DriverHandle {
    fn drop(&mut self) {
        self.shared.handles.fetch_sub(1, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }
}

impl DriverHandle {
    /// Queues a notification; at the memory budget, fails at once with
    /// back-pressure ([`SubmitError::is_back_pressure`]).
    pub fn submit(
        &self,
        channel: &str,
        notification: &Notification<'_>,
        options: &Options<'_>,
    ) -> Result<Ticket, DriverError> {
        self.submit_inner(None, channel, notification, options)
    }

    /// [`DriverHandle::submit`], naming the notification with `tag` in the
    /// journal: after a restart, [`Recovery`] lists it by its tag, resumed or
    /// with its result. Without a journal the tag is not kept.
    pub fn submit_tagged(
        &self,
        tag: u64,
        channel: &str,
        notification: &Notification<'_>,
        options: &Options<'_>,
    ) -> Result<Ticket, DriverError> {
        self.submit_inner(Some(tag), channel, notification, options)
    }

    fn submit_inner(
        &self,
        tag: Option<u64>,
        channel: &str,
        notification: &Notification<'_>,
        options: &Options<'_>,
    ) -> Result<Ticket, DriverError> {
        let channel = ChannelUri::parse(channel).map_err(DriverError::Channel)?;
        self.queue(tag, |sender, now| {
            sender.submit(now, channel, notification, options)
        })
    }

    /// Queues a callback registration for an authenticated channel (`docs/protocol.md`, "Callback registration").
    pub fn submit_callback_registration(
        &self,
        channel: &str,
        callback_uri: &str,
        body: &[u8],
    ) -> Result<Ticket, DriverError> {
        let channel = ChannelUri::parse(channel).map_err(DriverError::Channel)?;
        self.queue(None, |sender, now| {
            sender.submit_callback_registration(
                now,
                channel,
                callback_uri,
                body,
                &Default::default(),
            )
        })
    }

    /// Runs `submit` on the sender (unless the journal stopped the driver),
    /// names the new ticket with `tag` and appends its records.
    fn queue(
        &self,
        tag: Option<u64>,
        submit: impl FnOnce(&mut GrowableSender, Instant) -> Result<Ticket, SubmitError>,
    ) -> Result<Ticket, DriverError> {
        let now = self.shared.now();
        let ticket = {
            let mut core = self.shared.lock();
            if let Some(e) = &core.failed {
                return Err(DriverError::Journal(e.clone()));
            }
            let ticket = submit(&mut core.sender, now).map_err(DriverError::Submit)?;
            if let (Some(tag), Some(d)) = (tag, &mut core.durable) {
                d.tag(ticket, tag);
            }
            core.record();
            ticket
        };
        self.shared.new_work();
        Ok(ticket)
    }

    /// Queues a notification, waiting while the memory budget is reached.
    pub async fn submit_wait(
        &self,
        channel: &str,
        notification: &Notification<'_>,
        options: &Options<'_>,
    ) -> Result<Ticket, DriverError> {
        self.submit_wait_inner(None, channel, notification, options)
            .await
    }

    /// [`DriverHandle::submit_wait`] with a tag (see [`DriverHandle::submit_tagged`]).
    pub async fn submit_wait_tagged(
        &self,
        tag: u64,
        channel: &str,
        notification: &Notification<'_>,
        options: &Options<'_>,
    ) -> Result<Ticket, DriverError> {
        self.submit_wait_inner(Some(tag), channel, notification, options)
            .await
    }

    async fn submit_wait_inner(
        &self,
        tag: Option<u64>,
        channel: &str,
        notification: &Notification<'_>,
        options: &Options<'_>,
    ) -> Result<Ticket, DriverError> {
        loop {
            let space = self.shared.space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            match self.submit_inner(tag, channel, notification, options) {
                Err(DriverError::Submit(e)) if e.is_back_pressure() => space.await,
                other => return other,
            }
        }
    }

    /// Cancels a notification (see [`GrowableSender::cancel`]).
    pub fn cancel(&self, ticket: Ticket) -> Result<mpns_proto::sender::Cancellation, TicketError> {
        let result = {
            let mut core = self.shared.lock();
            let result = core.sender.cancel(ticket);
            core.record();
            result
        };
        self.shared.wake.notify_one();
        result
    }

    /// Forgets an expired channel once the application has deleted it (see
    /// [`GrowableSender::forget_channel`]): until then an expired channel
    /// stays remembered, counts against the memory budget, and its submits
    /// are refused.
    pub fn forget_channel(&self, channel: mpns_proto::sender::ChannelId) {
        let mut core = self.shared.lock();
        core.sender.forget_channel(channel);
        core.record();
        drop(core);
        self.shared.space.notify_waiters();
    }

    /// Notifications submitted whose final event has not been delivered yet.
    pub fn pending(&self) -> usize {
        self.shared.lock().sender.pending()
    }

    /// Why the journal stopped the driver, if it did.
    pub fn journal_error(&self) -> Option<String> {
        self.shared.lock().failed.clone()
    }

    /// What the driver holds now.
    pub fn stats(&self) -> DriverStats {
        let core = self.shared.lock();
        let sender = &core.sender;
        DriverStats {
            pending: sender.pending(),
            in_flight: self.shared.in_flight.load(Ordering::Relaxed),
            sent: self.shared.sent.load(Ordering::Relaxed),
            channels: sender.channels(),
            memory_used: sender.memory_used(),
        }
    }
}

/// The events of a [`Driver`], in order.
pub struct Events {
    rx: mpsc::UnboundedReceiver<Event>,
}

impl Events {
    /// The next event; `None` once every handle is dropped and every notification finished.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

/// The driver: a tokio task that owns the core's sender.
pub struct Driver;

impl Driver {
    /// Starts the driver task on the current tokio runtime.
    pub fn start<T: Transport>(client: T, config: DriverConfig) -> (DriverHandle, Events) {
        let core = Core {
            sender: GrowableSender::new(config.sender, config.memory_budget),
            durable: None,
            failed: None,
            observer: Observer::default(),
        };
        Self::spawn(client, config, core, epoch_ms())
    }

    /// Starts the driver over the journal in `journal.dir`, creating it if
    /// there is none: replays it, resumes every unfinished notification, and
    /// says what it found. `identity` names the job (a batch file's digest):
    /// a journal made for another is refused. The journal's seed replaces
    /// `config.sender.seed`, so that channel ids stay the same.
    ///
    /// Reading the journal blocks the calling thread (about 2.4 s for a
    /// million pending notifications, `benches/README.md`): call it before
    /// the work starts, or from `spawn_blocking` on a busy runtime.
    pub fn recover<T: Transport>(
        client: T,
        config: DriverConfig,
        journal: &JournalConfig,
        identity: &[u8],
    ) -> Result<(DriverHandle, Events, Recovery), JournalError> {
        let epoch = epoch_ms();
        let (durable, sender, recovery) = Durable::open(
            journal,
            identity,
            config.sender,
            config.memory_budget,
            Instant::from_millis(epoch),
        )?;
        let core = Core {
            sender,
            durable: Some(durable),
            failed: None,
            observer: Observer::default(),
        };
        let (handle, events) = Self::spawn(client, config, core, epoch);
        Ok((handle, events, recovery))
    }

    fn spawn<T: Transport>(
        client: T,
        config: DriverConfig,
        core: Core,
        epoch_ms: u64,
    ) -> (DriverHandle, Events) {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            core: Mutex::new(core),
            wake: Notify::new(),
            space: Notify::new(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: config.max_in_flight.max(1),
            sent: AtomicU64::new(0),
            events: tx,
            start: tokio::time::Instant::now(),
            epoch_ms,
            handles: AtomicUsize::new(1),
        });
        let handle = DriverHandle {
            shared: shared.clone(),
        };
        tokio::spawn(run(shared, client, config.max_in_flight.max(1)));
        (handle, Events { rx })
    }
}

/// The system clock in milliseconds since the Unix epoch.
fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A request to send: its ticket, the request as the transport takes it,
/// its notification's span and its channel (for the warnings its answer
/// may cause).
type Job<T> = (Ticket, <T as Transport>::Prepared, tracing::Span, Box<str>);

/// The next request due, if any; its record is appended to the journal
/// (the worker makes sure it is written before sending: [`written`]).
fn next_job<T: Transport>(client: &T, shared: &Shared, core: &mut Core) -> Option<Job<T>> {
    if core.failed.is_some() {
        return None;
    }
    let t = core.sender.poll_transmit(shared.now())?;
    let span = core.observer.attempt(&t);
    let channel = t.request.channel().as_str().into();
    let job = (t.ticket, client.prepare(&t.request), span, channel);
    core.record();
    shared.sent.fetch_add(1, Ordering::Relaxed);
    Some(job)
}

/// Waits until the journal has everything appended so far (the record of the
/// request about to go on the wire); `false` if the journal failed. Workers
/// that get here together share one write: each first lets the others append.
async fn written(shared: &Shared) -> bool {
    let wanted = match &shared.lock().durable {
        None => return true,
        Some(d) if d.flushed() >= d.appended() => return true,
        Some(d) => d.appended(),
    };
    tokio::task::yield_now().await;
    let mut core = shared.lock();
    match &core.durable {
        Some(d) if d.flushed() < wanted => core.write(),
        _ => core.failed.is_none(),
    }
}

/// The driver task: starts a worker per request slot while requests are
/// due, and keeps time while nothing is.
async fn run<T: Transport>(shared: Arc<Shared>, client: T, max_in_flight: usize) {
    let permits = Arc::new(Semaphore::new(max_in_flight));
    loop {
        // Send everything that is due, up to the cap.
        while let Ok(permit) = permits.clone().try_acquire_owned() {
            let Some(job) = next_job(&client, &shared, &mut shared.lock()) else {
                break;
            };
            shared.in_flight.fetch_add(1, Ordering::AcqRel);
            tokio::spawn(worker(shared.clone(), client.clone(), permit, job));
        }
        let capped = permits.available_permits() == 0;
        let timeout = {
            let mut core = shared.lock();
            let now = shared.now();
            let used = core.sender.memory_used();
            // Deadlines and forgotten channels are handled even while capped.
            core.sender.handle_timeout(now);
            shared.drain(&mut core);
            core.write();
            if core.sender.memory_used() < used {
                shared.space.notify_waiters();
            }
            let idle = core.sender.pending() == 0 && shared.handles.load(Ordering::SeqCst) == 0;
            let stopped = core.failed.is_some() && shared.in_flight.load(Ordering::Acquire) == 0;
            if idle || stopped {
                if let Some(d) = &mut core.durable
                    && let Err(e) = d.sync()
                {
                    tracing::error!(error = %e, "journal sync failed");
                }
                return; // Dropping `shared.events` here ends the event stream.
            }
            // While every slot is taken, what is due waits for a response
            // (whose worker takes it), not for the clock.
            core.sender.poll_timeout().filter(|at| !capped || *at > now)
        };
        match timeout {
            Some(at) => {
                let deadline = shared.deadline(at);
                tokio::select! {
                    _ = shared.wake.notified() => {}
                    _ = tokio::time::sleep_until(deadline) => {}
                }
            }
            None => shared.wake.notified().await,
        }
    }
}

/// Holds one request slot: sends a request, reports its answer, and goes on
/// with the next request due, so that a busy driver needs no wake-up per
/// response; gives the slot back when nothing is due.
async fn worker<T: Transport>(
    shared: Arc<Shared>,
    client: T,
    permit: tokio::sync::OwnedSemaphorePermit,
    mut job: Job<T>,
) {
    loop {
        let (ticket, request, span, channel) = job;
        if !written(&shared).await {
            // Not sent: the journal holds it for the next start.
            break;
        }
        let started = std::time::Instant::now();
        let result = client.send_prepared(request).instrument(span.clone()).await;
        let took = started.elapsed();
        let now = shared.now();
        let next = {
            let mut core = shared.lock();
            core.observer
                .answered(&span, ticket, channel, &result, took);
            // A ticket is in flight until answered here: these cannot fail.
            let _ = match result {
                Ok(response) => core.sender.handle_response(now, ticket, &response),
                Err(_) => core.sender.handle_transport_error(now, ticket),
            };
            shared.drain(&mut core);
            let next = next_job(&client, &shared, &mut core);
            if next.is_none() {
                // This answer's records reach the OS before the slot is given back.
                core.write();
            }
            next
        };
        match next {
            Some(next) => job = next,
            None => break,
        }
    }
    shared.in_flight.fetch_sub(1, Ordering::AcqRel);
    drop(permit);
    shared.wake.notify_one();
}

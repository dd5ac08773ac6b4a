//! The gateway driver: the core's [`Sender`] joined to a transport.

use core::fmt;
use mpns_proto::ExchangeError;

use mpns_proto::sender::{Cancellation, SubmitError as SenderSubmitError, TicketError};
use mpns_proto::sender::{Event, Sender, Ticket};
use mpns_proto::{ChannelUri, Instant, Limits, Notification, Options, Request, Response};

use crate::{ExchangeBuffer, SendError, asynch, blocking};

/// Drives a core [`Sender`] over a transport: each [`Gateway::poll`] sends
/// every request that is due, one after the other, and feeds each response
/// (or transport failure) back to the sender. It never reads a clock: `now`
/// comes from the caller, and every response of one poll is dated `now`.
///
/// The run loop, as the sender's (see [`mpns_proto::sender`]):
///
/// > **Poll, drain the events, sleep until [`Round::next_timeout`] or new work.**
///
/// 1. [`Gateway::submit`] notifications (validated and stored in the sender's arena).
/// 2. [`Gateway::poll`] (or [`Gateway::poll_async`]) with the current time.
/// 3. [`Gateway::poll_event`] until `None`: every ticket ends in one
///    [`Event::Finished`]; an [`Event::ChannelExpired`] asks you to delete the channel.
/// 4. Sleep until the round's `next_timeout` or until there is new work.
///
/// Memory: the sender (its arena and its tables), the transport (its kept
/// connections) and the exchange buffer `buf` lent here; see the crate docs.
///
/// ```
/// use mpns_embedded::blocking::{Connector, StreamClient};
/// use mpns_embedded::Gateway;
/// use mpns_proto::sender::{Event, Sender, SenderConfig, TransportError};
/// use mpns_proto::{ChannelUri, Instant, Notification, Options, Toast};
///
/// # #[cfg(feature = "defmt")] // the tests' defmt logger
/// # use mpns_embedded_defmt_sink as _;
/// # struct Fake(&'static [u8]);
/// # impl embedded_io::ErrorType for Fake { type Error = core::convert::Infallible; }
/// # impl embedded_io::Write for Fake {
/// #     fn write(&mut self, b: &[u8]) -> Result<usize, Self::Error> { Ok(b.len()) }
/// #     fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// # impl embedded_io::Read for Fake {
/// #     fn read(&mut self, b: &mut [u8]) -> Result<usize, Self::Error> {
/// #         let n = b.len().min(self.0.len());
/// #         b[..n].copy_from_slice(&self.0[..n]);
/// #         self.0 = &self.0[n..];
/// #         Ok(n)
/// #     }
/// # }
/// /// Opens TCP (or TLS) connections; here a canned server.
/// struct Net;
/// impl Connector for Net {
///     type Conn = Fake;
///     fn connect(&mut self, _host: &str, _port: u16, _tls: bool) -> Result<Fake, TransportError> {
///         Ok(Fake(b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\nContent-Length: 0\r\n\r\n"))
///     }
/// }
///
/// let mut arena = [0u8; 4 * 1024];
/// let mut buf = [0u8; 1024];
/// let sender: Sender<_, 4, 4> = Sender::new(SenderConfig::default(), &mut arena[..]);
/// let mut gateway = Gateway::new(sender, StreamClient::<_, 2>::new(Net), &mut buf);
///
/// let channel = ChannelUri::parse("http://db3.notify.live.net/throttledthirdparty/01.00/AAF")?;
/// let toast = Notification::Toast(Toast { text1: Some("Hello"), ..Toast::default() });
/// let now = Instant::ZERO; // your clock, in milliseconds
/// let ticket = gateway.submit(now, channel, &toast, &Options::default())?;
///
/// let round = gateway.poll(now);
/// assert_eq!(round.responses, 1);
/// while let Some(event) = gateway.poll_event() {
///     if let Event::Finished { ticket: t, result, .. } = event {
///         assert_eq!(t, ticket);
///         assert!(result.is_accepted());
///     }
/// }
/// assert_eq!(round.next_timeout, None); // nothing left to wait for
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Gateway<'b, S, T, const Q: usize, const C: usize> {
    sender: Sender<S, Q, C>,
    transport: T,
    buf: &'b mut [u8],
    /// The ticket of the exchange under way: still set at the next poll only
    /// when a `poll_async` future was dropped in the middle of it.
    in_flight: Option<Ticket>,
}

/// What one [`Gateway::poll`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Round {
    /// Requests that got a response (whatever it said).
    pub responses: u16,
    /// Requests that got none: reported to the sender as transport failures.
    pub failures: u16,
    /// When to poll again at the latest ([`Sender::poll_timeout`]); `None`
    /// when nothing waits on time.
    pub next_timeout: Option<Instant>,
}

/// Why [`Gateway::submit`] took nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GatewaySubmitError {
    /// The sender refused it (invalid notification, queue or channel table
    /// full, expired channel, arena slot too small).
    Sender(SenderSubmitError),
    /// The gateway's exchange buffer cannot hold this request.
    BufferTooSmall {
        /// Bytes the request needs.
        needed: usize,
        /// Bytes in the buffer.
        len: usize,
    },
}

impl fmt::Display for GatewaySubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewaySubmitError::Sender(e) => e.fmt(f),
            GatewaySubmitError::BufferTooSmall { needed, len } => write!(
                f,
                "the request needs {needed} bytes of exchange buffer; the gateway has {len}"
            ),
        }
    }
}

impl core::error::Error for GatewaySubmitError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            GatewaySubmitError::Sender(e) => Some(e),
            GatewaySubmitError::BufferTooSmall { .. } => None,
        }
    }
}

impl<S, T, const Q: usize, const C: usize> fmt::Debug for Gateway<'_, S, T, Q, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("sender", &self.sender)
            .field("buf_len", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl<'b, S, T, const Q: usize, const C: usize> Gateway<'b, S, T, Q, C>
where
    S: AsRef<[u8]> + AsMut<[u8]>,
    T: ExchangeBuffer,
{
    /// A gateway sending `sender`'s requests through `transport`, with `buf`
    /// as the exchange buffer (its size: see [`ExchangeBuffer::buffer_needed`]).
    pub fn new(sender: Sender<S, Q, C>, transport: T, buf: &'b mut [u8]) -> Self {
        Gateway {
            sender,
            transport,
            buf,
            in_flight: None,
        }
    }

    /// Queues a notification, after checking that its request fits in the
    /// exchange buffer.
    pub fn submit(
        &mut self,
        now: Instant,
        channel: ChannelUri<'_>,
        notification: &Notification<'_>,
        options: &Options<'_>,
    ) -> Result<Ticket, GatewaySubmitError> {
        let request = Request::notification(channel, notification, options)
            .map_err(|e| GatewaySubmitError::Sender(SenderSubmitError::Encode(e)))?;
        self.check_fits(&request)?;
        self.sender
            .submit(now, channel, notification, options)
            .map_err(GatewaySubmitError::Sender)
    }

    /// Queues a callback registration for an authenticated channel.
    pub fn submit_callback_registration(
        &mut self,
        now: Instant,
        channel: ChannelUri<'_>,
        callback_uri: &str,
        body: &[u8],
        limits: &Limits,
    ) -> Result<Ticket, GatewaySubmitError> {
        let request = Request::callback_registration(channel, callback_uri, body, limits)
            .map_err(|e| GatewaySubmitError::Sender(SenderSubmitError::Encode(e)))?;
        self.check_fits(&request)?;
        self.sender
            .submit_callback_registration(now, channel, callback_uri, body, limits)
            .map_err(GatewaySubmitError::Sender)
    }

    fn check_fits(&self, request: &Request<'_>) -> Result<(), GatewaySubmitError> {
        let needed = self.transport.buffer_needed(request);
        if needed > self.buf.len() {
            return Err(GatewaySubmitError::BufferTooSmall {
                needed,
                len: self.buf.len(),
            });
        }
        Ok(())
    }

    /// Cancels a notification ([`Sender::cancel`]).
    pub fn cancel(&mut self, ticket: Ticket) -> Result<Cancellation, TicketError> {
        self.sender.cancel(ticket)
    }

    /// The next event ([`Sender::poll_event`]).
    pub fn poll_event(&mut self) -> Option<Event> {
        self.sender.poll_event()
    }

    /// When to poll next at the latest ([`Sender::poll_timeout`]).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sender.poll_timeout()
    }

    /// The sender.
    pub fn sender(&self) -> &Sender<S, Q, C> {
        &self.sender
    }

    /// The sender, for what the gateway does not forward (snapshots,
    /// forgetting expired channels). Submit through [`Gateway::submit`],
    /// which checks the exchange buffer.
    pub fn sender_mut(&mut self) -> &mut Sender<S, Q, C> {
        &mut self.sender
    }

    /// The transport.
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Takes the gateway apart.
    pub fn into_parts(self) -> (Sender<S, Q, C>, T, &'b mut [u8]) {
        (self.sender, self.transport, self.buf)
    }

    /// Sends every request due at `now` through a blocking transport. At most
    /// `Q` requests per call: call again when [`Round::next_timeout`] is not
    /// later than `now`.
    pub fn poll(&mut self, now: Instant) -> Round
    where
        T: blocking::Exchange,
    {
        let mut round = Round::default();
        self.recover(now, &mut round);
        for _ in 0..Q {
            let Some(transmit) = self.sender.poll_transmit(now) else {
                break;
            };
            let ticket = transmit.ticket;
            trace!(
                "sending ticket {:?}, attempt {:?}",
                ticket.0, transmit.attempt
            );
            let result = self.transport.exchange(&transmit.request, self.buf);
            settle(&mut self.sender, now, ticket, result, &mut round);
        }
        round.next_timeout = self.sender.poll_timeout();
        round
    }

    /// [`Gateway::poll`] through an async transport.
    ///
    /// Cancel-safe: when the future is dropped in the middle of an exchange
    /// (a timeout around it, say), the transport drops that connection and
    /// the next poll reports the request to the sender as timed out, which
    /// retries it as the policy says. Timeouts in the transport itself
    /// (socket timeouts) are still better: they keep the rest of the round going.
    pub async fn poll_async(&mut self, now: Instant) -> Round
    where
        T: asynch::Exchange,
    {
        let mut round = Round::default();
        self.recover(now, &mut round);
        for _ in 0..Q {
            let Some(transmit) = self.sender.poll_transmit(now) else {
                break;
            };
            let ticket = transmit.ticket;
            trace!(
                "sending ticket {:?}, attempt {:?}",
                ticket.0, transmit.attempt
            );
            self.in_flight = Some(ticket);
            let result = self.transport.exchange(&transmit.request, self.buf).await;
            self.in_flight = None;
            settle(&mut self.sender, now, ticket, result, &mut round);
        }
        round.next_timeout = self.sender.poll_timeout();
        round
    }

    /// Reports an exchange whose `poll_async` future was dropped.
    fn recover(&mut self, now: Instant, round: &mut Round) {
        if let Some(ticket) = self.in_flight.take() {
            warn!(
                "ticket {:?}: exchange cancelled; reported as a timeout",
                ticket.0
            );
            let failed = Err(SendError::Io(embedded_io::ErrorKind::TimedOut));
            settle(&mut self.sender, now, ticket, failed, round);
        }
    }
}

/// Hands the result of one exchange to the sender, which decides everything.
fn settle<S: AsRef<[u8]> + AsMut<[u8]>, const Q: usize, const C: usize>(
    sender: &mut Sender<S, Q, C>,
    now: Instant,
    ticket: Ticket,
    result: Result<Response, SendError>,
    round: &mut Round,
) {
    let handled = match result {
        Ok(response) => {
            round.responses = round.responses.saturating_add(1);
            debug!("ticket {:?}: status {:?}", ticket.0, response.status);
            sender.handle_response(now, ticket, &response)
        }
        Err(SendError::Exchange(ExchangeError::BufferTooSmall { needed })) => {
            // Only reachable when a request was submitted around
            // `Gateway::submit`. The core has no "failed locally" input: end
            // the notification as cancelled (see the crate docs, "Core gaps").
            round.failures = round.failures.saturating_add(1);
            error!(
                "ticket {:?}: needs {:?} bytes of buffer; cancelled",
                ticket.0, needed
            );
            let _ = sender.cancel(ticket);
            sender.handle_transport_error(now, ticket)
        }
        Err(e) => {
            round.failures = round.failures.saturating_add(1);
            warn!("ticket {:?}: no response: {:?}", ticket.0, e);
            sender.handle_transport_error(now, ticket)
        }
    };
    if let Err(e) = handled {
        // Cannot happen: the ticket came from poll_transmit just now.
        error!("sender refused the answer: {:?}", e);
    }
}

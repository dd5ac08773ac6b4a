//! The example's work, shared by the example firmware, the vectors firmware
//! and a host test of mpns-embedded (`tests/firmware_scenario.rs`), so that
//! the 32-bit target and a 64-bit host run the same code on the same input.
//!
//! 1. [`one_shot`] encodes a toast and sends it with `blocking::send` over an
//!    in-memory `embedded-io` stream that answers like MPNS, then classifies
//!    the response.
//! 2. [`four_notifications`] runs a 4-notification `Sender` through a
//!    `Gateway` whose connector hands out such streams, with a fake clock,
//!    until every notification has ended (one waits out a QueueFull first).

use core::convert::Infallible;
use core::hint::black_box;

use mpns_embedded::Gateway;
use mpns_embedded::blocking::{self, Connector, StreamClient};
use mpns_proto::sender::{Event, Sender, SenderConfig, TransportError};
use mpns_proto::{ChannelUri, Instant, Notification, Options, Outcome, Request, Toast, classify};

/// MPNS's answer to an accepted notification (as in `docs/protocol.md`,
/// "Status headers").
const RECEIVED: &[u8] = b"HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/8.0\r\nX-DeviceConnectionStatus: Connected\r\nX-NotificationStatus: Received\r\nX-SubscriptionStatus: Active\r\nX-MessageID: 00000000-0000-0000-0000-000000000000\r\nContent-Length: 0\r\n\r\n";
/// The device's queue is full: retried after about a minute.
const QUEUE_FULL: &[u8] = b"HTTP/1.1 200 OK\r\nX-DeviceConnectionStatus: Connected\r\nX-NotificationStatus: QueueFull\r\nX-SubscriptionStatus: Active\r\nContent-Length: 0\r\n\r\n";

/// An in-memory connection: takes the request, then answers with the next
/// canned response, a few bytes per read as a slow link would.
pub struct Canned {
    answers: &'static [&'static [u8]],
    next: usize,
    at: usize,
    /// A request was written and its answer is not read yet.
    armed: bool,
    written: usize,
}

impl Canned {
    const fn new(answers: &'static [&'static [u8]]) -> Self {
        Canned {
            answers,
            next: 0,
            at: 0,
            armed: false,
            written: 0,
        }
    }
}

impl embedded_io::ErrorType for Canned {
    type Error = Infallible;
}

impl embedded_io::Write for Canned {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.written += buf.len();
        self.armed = true;
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl embedded_io::Read for Canned {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let Some(answer) = self.answers.get(self.next).filter(|_| self.armed) else {
            return Ok(0); // the server closed the connection
        };
        let n = buf.len().min(answer.len() - self.at).min(48);
        buf[..n].copy_from_slice(&answer[self.at..self.at + n]);
        self.at += n;
        if self.at == answer.len() {
            self.next += 1;
            self.at = 0;
            self.armed = false;
        }
        Ok(n)
    }
}

/// Opens in-memory connections; a real one would open TCP (and TLS).
pub struct FakeNet {
    connects: u32,
}

impl Connector for FakeNet {
    type Conn = Canned;

    fn connect(&mut self, _host: &str, _port: u16, _tls: bool) -> Result<Canned, TransportError> {
        self.connects += 1;
        Ok(Canned::new(&[
            QUEUE_FULL, RECEIVED, RECEIVED, RECEIVED, RECEIVED, RECEIVED,
        ]))
    }
}

const CHANNELS: [&str; 2] = [
    "http://db3.notify.live.net/throttledthirdparty/01.00/AAGvdLTQ3E4mTbi0Xt1uHsz7AgAAAAADAQAAAAQUZm52OjIzOEQ2NDJDRkI5MEVFMEQ",
    "http://sn1.notify.live.net/throttledthirdparty/01.00/AAEmEcCDmSrMSpnl4ckxQ1N3AgAAAAADAQAAAAQUZm52OjIzOEQ2NDJDRkI5MEVFMEQ",
];

/// Encodes a toast, sends it over a stream, classifies the response.
pub fn one_shot(buf: &mut [u8]) -> Option<Outcome> {
    let channel = ChannelUri::parse(CHANNELS[0]).ok()?;
    let toast = Notification::Toast(Toast {
        text1: Some("Door"),
        text2: Some("Front door opened"),
        param: Some("/Alarm.xaml?zone=1&door=front"),
        ..Toast::default()
    });
    let request = Request::notification(channel, &toast, &Options::default()).ok()?;
    static ANSWER: [&[u8]; 1] = [RECEIVED];
    let mut stream = Canned::new(&ANSWER);
    let response = blocking::send(&mut stream, &request, buf).ok()?;
    Some(classify(&response.response))
}

/// Runs four notifications through a gateway, calling `seen` with the fake
/// clock's time and each event; returns how many were accepted.
pub fn four_notifications(
    arena: &mut [u8],
    buf: &mut [u8],
    mut seen: impl FnMut(Instant, &Event),
) -> u32 {
    let config = SenderConfig {
        seed: black_box(0x5eed),
        ..SenderConfig::DEFAULT
    };
    let sender: Sender<_, 4, 4> = Sender::new(config, arena);
    let client: StreamClient<_, 2> = StreamClient::new(FakeNet { connects: 0 });
    let mut gateway = Gateway::new(sender, client, buf);

    let mut now = Instant::ZERO;
    let texts = ["Kitchen", "Garage", "Porch", "Attic"];
    for (i, text) in texts.iter().enumerate() {
        let Ok(channel) = ChannelUri::parse(CHANNELS[i % 2]) else {
            continue;
        };
        let toast = Notification::Toast(Toast {
            text1: Some("Motion"),
            text2: Some(text),
            ..Toast::default()
        });
        let _ = gateway.submit(now, channel, &toast, &Options::default());
    }
    let mut accepted = 0;
    for _ in 0..16 {
        let round = gateway.poll(now);
        while let Some(event) = gateway.poll_event() {
            seen(now, &event);
            if let Event::Finished { result, .. } = event {
                accepted += u32::from(result.is_accepted());
            }
        }
        match round.next_timeout {
            Some(at) => now = at.max(now), // a board sleeps until then
            None => break,
        }
    }
    accepted
}

/// One step of [`four_notifications`] as the vectors firmware and the host
/// test record it, times in milliseconds of the fake clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `Event::Retrying`: (now, ticket, retry at).
    Retrying(u64, u64, u64),
    /// `Event::Finished`: (now, ticket, accepted, attempts).
    Finished(u64, u64, bool, u16),
    /// Any other event: (now).
    Other(u64),
}

impl Step {
    /// The step of `event` at `now`.
    pub fn of(now: Instant, event: &Event) -> Step {
        let now = now.as_millis();
        match *event {
            Event::Retrying { ticket, at, .. } => Step::Retrying(now, ticket.0, at.as_millis()),
            Event::Finished {
                ticket,
                result,
                attempts,
            } => Step::Finished(now, ticket.0, result.is_accepted(), attempts),
            _ => Step::Other(now),
        }
    }
}

/// What [`four_notifications`] must do, on every target: each host's first
/// answer is a QueueFull, so the first notification to each channel waits;
/// its retry time comes from the seeded jitter and the sender's time
/// arithmetic (recorded from a 64-bit host run).
pub const EXPECTED_STEPS: [Step; 6] = [
    Step::Retrying(0, 1, 70_092),
    Step::Retrying(0, 2, 57_636),
    Step::Finished(57_636, 2, true, 2),
    Step::Finished(57_636, 4, true, 1),
    Step::Finished(70_092, 1, true, 2),
    Step::Finished(70_092, 3, true, 1),
];

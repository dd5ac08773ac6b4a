//! Example firmware for a Cortex-M4F gateway (`thumbv7em-none-eabihf`), and
//! the proof that mpns-embedded needs no allocator: there is no global
//! allocator here, so it only links if nothing allocates.
//!
//! 1. Encodes a toast and sends it with [`blocking::send`] over an in-memory
//!    `embedded-io` stream that answers like MPNS, then classifies the response.
//! 2. Runs a 4-notification [`Sender`] through a [`Gateway`] whose connector
//!    hands out such streams, with a fake clock, until every notification
//!    has ended (one of them waits out a QueueFull first).
//!
//! Results go to [`core::hint::black_box`] so the optimizer keeps the work;
//! on a board, log them or blink an LED instead.
//!
//! Build: `cargo build --release` in this directory (see `.cargo/config.toml`).
#![no_std]
#![no_main]
// The only unsafe code is what cortex-m-rt's `#[entry]` generates.
#![deny(unsafe_code)]

use core::convert::Infallible;
use core::hint::black_box;
use core::panic::PanicInfo;

use cortex_m_rt::entry;
use mpns_embedded::Gateway;
use mpns_embedded::blocking::{self, Connector, StreamClient};
use mpns_proto::sender::{Event, Sender, SenderConfig, TransportError};
use mpns_proto::{ChannelUri, Instant, Notification, Options, Outcome, Request, Toast, classify};
// Linked for its interrupt vector table (`rt`): the device this firmware is for.
use stm32f4 as _;

/// MPNS's answer to an accepted notification (as in `docs/protocol.md`,
/// "Status headers").
const RECEIVED: &[u8] = b"HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/8.0\r\nX-DeviceConnectionStatus: Connected\r\nX-NotificationStatus: Received\r\nX-SubscriptionStatus: Active\r\nX-MessageID: 00000000-0000-0000-0000-000000000000\r\nContent-Length: 0\r\n\r\n";
/// The device's queue is full: retried after about a minute.
const QUEUE_FULL: &[u8] = b"HTTP/1.1 200 OK\r\nX-DeviceConnectionStatus: Connected\r\nX-NotificationStatus: QueueFull\r\nX-SubscriptionStatus: Active\r\nContent-Length: 0\r\n\r\n";

/// An in-memory connection: takes the request, then answers with the next
/// canned response, a few bytes per read as a slow link would.
struct Canned {
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
struct FakeNet {
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
fn one_shot(buf: &mut [u8]) -> Option<Outcome> {
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

/// Runs four notifications through a gateway; returns how many were accepted.
fn four_notifications(arena: &mut [u8], buf: &mut [u8]) -> u32 {
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

#[entry]
fn main() -> ! {
    // cortex-m-rt turns these into `&'static mut` without unsafe code.
    static mut ARENA: [u8; 4 * 768] = [0; 4 * 768];
    static mut BUF: [u8; 768] = [0; 768];

    let outcome = one_shot(BUF);
    black_box(outcome);
    let accepted = four_notifications(ARENA, BUF);
    black_box(accepted);
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

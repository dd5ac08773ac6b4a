//! Inputs of the encoder benchmarks in `benches/encode.rs`, shared with the
//! tests below so that every benchmark is known to measure a successful encode.
//!
//! Run the benchmarks with `cargo bench -p mpns-benches --bench encode`; see
//! `benches/README.md` for the command used to measure them and the results.

pub mod soak;

use std::hint::black_box;

use mpns_proto::sender::Event;
use mpns_proto::{
    ChannelUri, GrowableSender, Instant, Notification, Options, Raw, Response, Sender,
    SenderConfig, Toast,
};

/// Channel of the vector `toast_basic` (`mpns-proto/tests/vectors/requests.jsonl`).
pub const TOAST_CHANNEL: &str = "http://127.0.0.1:47001/throttledthirdparty/01.00/ABC";

/// Channel of the vectors `tile_flip_full` and `raw_text`: a live.net host and a query.
pub const LIVE_CHANNEL: &str =
    "http://db3.notify.live.net/throttledthirdparty/01.00/AAGvdLTQ?x=1&y=2";

/// Body length of the vector `toast_basic`.
pub const TOAST_BASIC_BODY_LEN: usize = 234;

/// Body length of the vector `tile_flip_full`.
pub const FLIP_TILE_FULL_BODY_LEN: usize = 608;

/// Body length of [`raw_1k`].
pub const RAW_1K_BODY_LEN: usize = 1024;

/// `Text1` of [`toast_dense_escape`]: 39 bytes, 21 of them escaped.
pub const DENSE_TEXT1: &str = r#"<b>"Ben & Jerry's"</b> <&> '<&>' "&" <>"#;

/// `Text2` of [`toast_dense_escape`]: 38 bytes, 29 of them escaped.
pub const DENSE_TEXT2: &str = r#"<i>'A'&"B"</i> <"&'&"> <<&>> "'<>'" &&"#;

/// `Param` of [`toast_dense_escape`]: 40 bytes, 22 of them escaped.
pub const DENSE_PARAM: &str = r#"/P.xaml?a=<&>&b="'"&c=<'&'>&d="<>"&e='&'"#;

/// The toast of the vector `toast_basic`.
pub fn toast_basic() -> Notification<'static> {
    vector("toast_basic")
}

/// The notification of request vector `case` (`mpns-proto/tests/vectors/`).
fn vector(case: &str) -> Notification<'static> {
    notifications::notification(case)
        .expect("a notification for every vector")
        .0
}

// The notification of each request vector, kept once for the workspace.
#[path = "../../mpns-proto/tests/vectors/notifications.rs"]
mod notifications;

/// A toast whose `Text1`, `Text2` and `Param` are mostly characters to escape.
pub fn toast_dense_escape() -> Notification<'static> {
    Notification::Toast(Toast {
        text1: Some(DENSE_TEXT1),
        text2: Some(DENSE_TEXT2),
        param: Some(DENSE_PARAM),
        sound: None,
    })
}

/// The flip tile of the vector `tile_flip_full`: `Id` and all ten elements set.
pub fn flip_tile_full() -> Notification<'static> {
    vector("tile_flip_full")
}

/// The body of [`raw_1k`]: 1024 bytes, the default raw limit.
pub static RAW_1K_BODY: [u8; RAW_1K_BODY_LEN] = {
    let mut body = [0u8; RAW_1K_BODY_LEN];
    let mut i = 0;
    while i < body.len() {
        body[i] = b'a' + (i % 26) as u8;
        i += 1;
    }
    body
};

/// A raw notification with a 1024-byte body.
pub fn raw_1k() -> Notification<'static> {
    Notification::Raw(Raw {
        body: &RAW_1K_BODY,
        voip: false,
    })
}

/// The real reply of 2015 (the response table: `mpns_proto::classify`), as IIS sent it: the input of
/// the response benchmarks.
pub const REPLY_2015: &[u8] = b"HTTP/1.1 200 OK\r\nCache-Control: private\r\nServer: Microsoft-IIS/8.0\r\n\
X-DeviceConnectionStatus: Connected\r\nX-NotificationStatus: Received\r\nX-SubscriptionStatus: Active\r\n\
X-MessageID: 00000000-0000-0000-0000-000000000000\r\nX-AspNet-Version: 4.0.30319\r\nX-Powered-By: ASP.NET\r\n\
Date: Tue, 13 Oct 2015 10:01:12 GMT\r\nContent-Length: 0\r\n\r\n";

/// The sender benchmark: toasts to 64 channels, each answered as received.
pub struct SenderCycle {
    channels: Vec<ChannelUri<'static>>,
    sender: Sender<Vec<u8>, 64, 64>,
    received: Response,
    wire: [u8; 1024],
    cycles: u64,
}

impl Default for SenderCycle {
    fn default() -> Self {
        let config = SenderConfig {
            // A day of sends per channel stays under the quota only with a large one.
            quota: u32::MAX,
            ..SenderConfig::default()
        };
        SenderCycle {
            // Parsed once, outside the cycle (the texts live as long as the process).
            channels: (0..64)
                .map(|i| {
                    let text = format!(
                        "http://db3.notify.live.net/throttledthirdparty/01.00/AAGvdLTQ{i:02}"
                    );
                    ChannelUri::parse(Box::leak(text.into_boxed_str())).expect("bench channel")
                })
                .collect(),
            sender: Sender::new(config, vec![0u8; 64 * 1024]),
            received: received(),
            wire: [0; 1024],
            cycles: 0,
        }
    }
}

impl SenderCycle {
    /// One cycle, a millisecond after the last: submit a toast to the next
    /// channel, `poll_transmit` and write its request, `handle_response`,
    /// `poll_event`. Panics if the sender does anything else.
    pub fn run(&mut self) {
        self.cycles += 1;
        let now = Instant::from_millis(self.cycles);
        let channel = self.channels[self.cycles as usize % self.channels.len()];
        let ticket = self
            .sender
            .submit(now, channel, &toast_basic(), &Options::default())
            .expect("submit");
        let transmit = self.sender.poll_transmit(now).expect("a request to send");
        assert_eq!(transmit.ticket, ticket);
        let len = transmit.request.write_http(&mut self.wire).expect("fits");
        black_box(&self.wire[..len]);
        self.sender
            .handle_response(now, ticket, black_box(&self.received))
            .expect("its response");
        let event = self.sender.poll_event();
        assert!(matches!(event, Some(Event::Finished { .. })));
    }
}

/// The growable sender's benchmark: `pending` toasts wait, each on a
/// channel of its own; every cycle adds one for a new channel and sends the
/// oldest, so that as many stay pending, over as many channels.
pub struct GrowableCycle {
    sender: GrowableSender,
    /// When recording: where the records of a cycle are encoded (a journal's buffer).
    journal: Option<Vec<u8>>,
    received: Response,
    uri: String,
    wire: [u8; 1024],
    next_channel: u64,
    cycles: u64,
}

impl GrowableCycle {
    /// A sender with `pending` notifications waiting, each to its own channel.
    pub fn new(pending: usize) -> Self {
        Self::with_sender(
            pending,
            GrowableSender::new(SenderConfig::default(), 4 << 30),
            None,
        )
    }

    /// The same, recording: each cycle also polls the records of what it
    /// changed and encodes them, as the driver does before writing its journal.
    pub fn recording(pending: usize) -> Self {
        let sender = GrowableSender::new(SenderConfig::default(), 4 << 30).recording();
        Self::with_sender(pending, sender, Some(Vec::with_capacity(64 << 10)))
    }

    fn with_sender(pending: usize, sender: GrowableSender, journal: Option<Vec<u8>>) -> Self {
        let mut cycle = GrowableCycle {
            sender,
            journal,
            received: received(),
            uri: String::with_capacity(96),
            wire: [0; 1024],
            next_channel: 0,
            cycles: 0,
        };
        for _ in 0..pending {
            cycle.submit(Instant::ZERO);
        }
        cycle.keep();
        cycle
    }

    /// Encodes the records due into the journal buffer (emptied when full).
    fn keep(&mut self) {
        let Some(journal) = &mut self.journal else {
            return;
        };
        while let Some(record) = self.sender.poll_record() {
            if journal.len() > 60 << 10 {
                journal.clear();
            }
            record.encode_to_vec(journal);
        }
    }

    /// Submits a toast to the next new channel (https: no quota window keeps
    /// it remembered once done, so the channels in memory stay as many).
    fn submit(&mut self, now: Instant) -> mpns_proto::Ticket {
        use std::fmt::Write;
        self.uri.clear();
        let _ = write!(
            self.uri,
            "https://db3.notify.live.net/unthrottledthirdparty/01.00/AAGvdLTQ{:08}",
            self.next_channel
        );
        self.next_channel += 1;
        let channel = ChannelUri::parse(&self.uri).expect("bench channel");
        self.sender
            .submit(now, channel, &toast_basic(), &Options::default())
            .expect("submit")
    }

    /// One cycle, a millisecond after the last: submit, `poll_transmit` (the
    /// oldest pending) and write its request, `handle_response`, `poll_event`.
    pub fn run(&mut self) {
        self.cycles += 1;
        let now = Instant::from_millis(self.cycles);
        self.submit(now);
        self.keep();
        let transmit = self.sender.poll_transmit(now).expect("a request to send");
        let ticket = transmit.ticket;
        let len = transmit.request.write_http(&mut self.wire).expect("fits");
        black_box(&self.wire[..len]);
        self.keep();
        self.sender
            .handle_response(now, ticket, black_box(&self.received))
            .expect("its response");
        self.keep();
        let event = self.sender.poll_event();
        assert!(matches!(event, Some(Event::Finished { .. })));
    }

    /// Notifications pending now.
    pub fn pending(&self) -> usize {
        self.sender.pending()
    }
}

fn received() -> Response {
    Response::from_parts(200, |name| match name {
        "X-NotificationStatus" => Some(b"Received".as_slice()),
        "X-SubscriptionStatus" => Some(b"Active".as_slice()),
        "X-DeviceConnectionStatus" => Some(b"Connected".as_slice()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpns_proto::{ChannelUri, Options, Request};

    /// Encodes `n` for `channel` the way the benchmarks do, checks the request
    /// is well framed and returns its body.
    fn request_body(channel: &str, n: &Notification<'_>) -> Vec<u8> {
        let channel = ChannelUri::parse(channel).expect("channel");
        let options = Options::default();
        let request = Request::notification(channel, n, &options).expect("request");
        let mut buf = [0u8; 4096];
        let len = request.write_http(&mut buf).expect("write_http");
        assert_eq!(len, request.http_len());
        let http = &buf[..len];
        let split = http
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of headers")
            + 4;
        let body = &http[split..];
        assert_eq!(body.len(), request.body_len());
        let content_length = format!("\r\nContent-Length: {}\r\n\r\n", body.len());
        assert!(http[..split].ends_with(content_length.as_bytes()));

        // The body-only path gives the same bytes.
        let mut only = [0u8; 4096];
        let only_len = n.encode(&options, &mut only).expect("encode");
        assert_eq!(&only[..only_len], body);
        body.to_vec()
    }

    /// The escaping of the payload encoder (`mpns-proto/src/payload.rs`), written the slow, obvious way.
    fn escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;")
    }

    const ENVELOPE: &str =
        r#"<?xml version="1.0" encoding="utf-8"?><wp:Notification xmlns:wp="WPNotification""#;

    /// The request vectors, kept once for the workspace in mpns-proto.
    const VECTORS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mpns-proto/tests/vectors/requests.jsonl"
    ));

    /// The expected body of the vector `name`.
    fn vector_body(name: &str) -> String {
        let case = VECTORS
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a JSON case"))
            .find(|case| case["case"] == name)
            .unwrap_or_else(|| panic!("no vector {name}"));
        case["expected"]["body"]
            .as_str()
            .expect("a vector with a body")
            .to_owned()
    }

    #[test]
    fn toast_basic_is_the_vector() {
        let body = request_body(TOAST_CHANNEL, &toast_basic());
        assert_eq!(body.len(), TOAST_BASIC_BODY_LEN);
        assert_eq!(String::from_utf8(body).unwrap(), vector_body("toast_basic"));
    }

    #[test]
    fn toast_dense_escape_is_mostly_escapes() {
        for s in [DENSE_TEXT1, DENSE_TEXT2, DENSE_PARAM] {
            assert!((38..=40).contains(&s.len()), "{s:?}");
            let specials = s.bytes().filter(|b| b"&<>\"'".contains(b)).count();
            assert!(specials * 2 > s.len(), "{s:?}: {specials} specials");
        }
        let body = request_body(TOAST_CHANNEL, &toast_dense_escape());
        let expected = format!(
            "{ENVELOPE}><wp:Toast><wp:Text1>{}</wp:Text1><wp:Text2>{}</wp:Text2>\
             <wp:Param>{}</wp:Param></wp:Toast></wp:Notification>",
            escape(DENSE_TEXT1),
            escape(DENSE_TEXT2),
            escape(DENSE_PARAM),
        );
        assert_eq!(String::from_utf8(body).unwrap(), expected);
    }

    #[test]
    fn flip_tile_full_is_the_vector() {
        let body = request_body(LIVE_CHANNEL, &flip_tile_full());
        assert_eq!(body.len(), FLIP_TILE_FULL_BODY_LEN);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            vector_body("tile_flip_full")
        );
    }

    #[test]
    fn raw_1k_is_sent_as_is() {
        let body = request_body(LIVE_CHANNEL, &raw_1k());
        assert_eq!(body.len(), RAW_1K_BODY_LEN);
        assert_eq!(body, RAW_1K_BODY);
    }

    #[test]
    fn channels_parse() {
        assert!(ChannelUri::parse(TOAST_CHANNEL).is_ok());
        assert!(ChannelUri::parse(LIVE_CHANNEL).unwrap().is_live_net());
    }
}

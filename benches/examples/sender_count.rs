//! Runs the sender cycle of `benches/sender.rs` N times, for instruction
//! counts under callgrind: `valgrind --tool=callgrind target/release/examples/sender_count 10000`.

use std::hint::black_box;

use mpns_proto::sender::Event;
use mpns_proto::{
    ChannelUri, Instant, Notification, Options, Response, Sender, SenderConfig, Toast,
};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let channels: Vec<String> = (0..64)
        .map(|i| format!("http://db3.notify.live.net/throttledthirdparty/01.00/AAGvdLTQ{i:02}"))
        .collect();
    let channels: Vec<ChannelUri<'_>> = channels
        .iter()
        .map(|c| ChannelUri::parse(c).unwrap())
        .collect();
    let toast = Notification::Toast(Toast {
        text1: Some("Bold Text"),
        text2: Some("Normal text"),
        param: Some("/Page2.xaml?NavigatedFrom=Toast"),
        sound: None,
    });
    let received = Response::from_parts(200, |name| match name {
        "X-NotificationStatus" => Some(b"Received".as_slice()),
        "X-SubscriptionStatus" => Some(b"Active".as_slice()),
        "X-DeviceConnectionStatus" => Some(b"Connected".as_slice()),
        _ => None,
    });
    let config = SenderConfig {
        quota: u32::MAX,
        ..SenderConfig::default()
    };
    let mut sender: Sender<Vec<u8>, 64, 64> = Sender::new(config, vec![0u8; 64 * 1024]);
    let mut wire = [0u8; 1024];
    let mut now = Instant::ZERO;
    for i in 0..n {
        let channel = channels[i % channels.len()];
        now = Instant::from_millis(now.as_millis() + 1);
        let ticket = sender
            .submit(now, channel, &toast, &Options::default())
            .unwrap();
        let t = sender.poll_transmit(now).unwrap();
        assert_eq!(t.ticket, ticket);
        let len = t.request.write_http(&mut wire).unwrap();
        black_box(&wire[..len]);
        sender
            .handle_response(now, ticket, black_box(&received))
            .unwrap();
        assert!(matches!(sender.poll_event(), Some(Event::Finished { .. })));
    }
    println!("{n} cycles");
}

//! One full sender cycle per notification with 64 channels: submit,
//! poll_transmit (and writing the request bytes), handle_response,
//! poll_event (target ≤ 800 ns per notification).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mpns_proto::sender::Event;
use mpns_proto::{
    ChannelUri, Instant, Notification, Options, Response, Sender, SenderConfig, Toast,
};

fn sender(c: &mut Criterion) {
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
        // A day of sends per channel stays under the quota only with a large one.
        quota: u32::MAX,
        ..SenderConfig::default()
    };
    let mut sender: Sender<Vec<u8>, 64, 64> = Sender::new(config, vec![0u8; 64 * 1024]);
    let mut wire = [0u8; 1024];
    let mut i = 0usize;
    let mut now = Instant::ZERO;
    c.bench_function("sender_cycle_64_channels", |b| {
        b.iter(|| {
            let channel = channels[i % channels.len()];
            i += 1;
            now = Instant::from_millis(now.as_millis() + 1);
            let ticket = sender
                .submit(now, channel, &toast, &Options::default())
                .unwrap();
            let t = sender.poll_transmit(now).unwrap();
            assert_eq!(t.ticket, ticket);
            let n = t.request.write_http(&mut wire).unwrap();
            black_box(&wire[..n]);
            sender
                .handle_response(now, ticket, black_box(&received))
                .unwrap();
            let event = sender.poll_event();
            assert!(matches!(event, Some(Event::Finished { .. })));
        })
    });
}

criterion_group!(benches, sender);
criterion_main!(benches);

//! The growable sender at a server's scale, with a fake clock and a fake
//! MPNS in process: 100,000 notifications to 100,000 channels on four hosts
//! with mixed behaviours, plus busy channels that get a notification every
//! four hours for two simulated days under a small quota.
//!
//! Checked: exactly one final event per notification; first in, first out
//! per channel with one request in flight; no head-of-line blocking (the
//! last channel's notification goes in the first pass, while others wait for
//! their channel's or host's pause); every http channel under its quota in
//! every window; every channel forgotten once it holds nothing; memory back
//! to zero.

use std::collections::{HashMap, HashSet};

use mpns_proto::sender::{Event, Finished};
use mpns_proto::{
    ChannelUri, Duration, GrowableSender, Instant, Notification, Options, Response, SenderConfig,
    Ticket, Toast,
};

const N: usize = 100_000;
const BUSY: usize = 100;
const PER_BUSY: usize = 12;
const QUOTA: u32 = 5;
const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

fn uri(i: usize) -> String {
    format!(
        "http://h{}.notify.live.net/throttledthirdparty/01.00/c{i}",
        i % 4
    )
}

fn busy_uri(i: usize) -> String {
    format!("http://busy.notify.live.net/throttledthirdparty/01.00/b{i}")
}

/// How channel `i` answers its `n`th request (0 first).
fn answer(i: usize, n: usize) -> (u16, &'static str, &'static str) {
    match i % 100 {
        // Inactive for two attempts (an hour apart), then back.
        1 | 51 if n < 2 => (412, "Dropped", "Active"),
        2 if n == 0 => (200, "QueueFull", "Active"),
        3 => (404, "Dropped", "Expired"),
        // A 503 on host 0 (4 % 4): pauses that host only.
        4 if i % 1000 == 4 && n == 0 => (503, "", ""),
        _ => (200, "Received", "Active"),
    }
}

fn response((status, n, s): (u16, &'static str, &'static str)) -> Response {
    Response::from_parts(status, move |name| {
        let v = match name {
            "X-NotificationStatus" => n,
            "X-SubscriptionStatus" => s,
            _ => "",
        };
        (!v.is_empty()).then_some(v.as_bytes())
    })
}

#[test]
fn a_hundred_thousand_channels_each_end_once_in_order_and_under_quota() {
    let config = SenderConfig {
        quota: QUOTA,
        ..SenderConfig::default()
    };
    let mut sender = GrowableSender::new(config, 1 << 30);
    let toast = Notification::Toast(Toast {
        text1: Some("Alert"),
        text2: Some("for you"),
        ..Toast::default()
    });
    let mut now = Instant::ZERO;
    let mut channel_of: HashMap<Ticket, String> = HashMap::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    for i in 0..N {
        let u = uri(i);
        let t = sender
            .submit(
                now,
                ChannelUri::parse(&u).unwrap(),
                &toast,
                &Options::default(),
            )
            .unwrap();
        index_of.insert(u.clone(), i);
        channel_of.insert(t, u);
    }
    // Busy channels: one notification every 4 h for two days.
    let mut busy_plan: Vec<(Instant, usize)> = (0..PER_BUSY)
        .flat_map(|k| (0..BUSY).map(move |b| (Instant::from_millis(k as u64 * 4 * HOUR), b)))
        .collect();
    busy_plan.reverse();
    let submit_due = |sender: &mut GrowableSender,
                      plan: &mut Vec<(Instant, usize)>,
                      now: Instant,
                      channel_of: &mut HashMap<Ticket, String>| {
        while plan.last().is_some_and(|(at, _)| *at <= now) {
            let (_, b) = plan.pop().unwrap();
            let u = busy_uri(b);
            let t = sender
                .submit(
                    now,
                    ChannelUri::parse(&u).unwrap(),
                    &toast,
                    &Options::default(),
                )
                .unwrap();
            channel_of.insert(t, u);
        }
    };
    submit_due(&mut sender, &mut busy_plan, now, &mut channel_of);

    let mut requests: HashMap<String, usize> = HashMap::new();
    let mut sends: HashMap<String, Vec<Instant>> = HashMap::new();
    let mut sent_tickets: HashMap<String, Vec<Ticket>> = HashMap::new();
    let mut finals: HashMap<Ticket, Finished> = HashMap::new();
    let mut last_sent_at: HashMap<Ticket, Instant> = HashMap::new();
    let mut expired_events = 0;
    for _round in 0..100_000 {
        let mut in_flight = Vec::new();
        while let Some(t) = sender.poll_transmit(now) {
            let u = t.request.channel().as_str().to_string();
            assert_eq!(channel_of[&t.ticket], u);
            in_flight.push((t.ticket, u));
        }
        let mut busy_channels = HashSet::new();
        for (ticket, u) in in_flight {
            assert!(
                busy_channels.insert(u.clone()),
                "two requests in flight on {u}"
            );
            let n = requests.entry(u.clone()).or_default();
            let reply = match index_of.get(&u) {
                Some(&i) => answer(i, *n),
                None => (200, "Received", "Active"),
            };
            *n += 1;
            sends.entry(u.clone()).or_default().push(now);
            sent_tickets.entry(u).or_default().push(ticket);
            last_sent_at.insert(ticket, now);
            sender
                .handle_response(now, ticket, &response(reply))
                .unwrap();
        }
        while let Some(event) = sender.poll_event() {
            match event {
                Event::Finished { ticket, result, .. } => {
                    assert!(finals.insert(ticket, result).is_none(), "{ticket:?} twice");
                }
                Event::ChannelExpired { channel } => {
                    expired_events += 1;
                    sender.forget_channel(channel);
                }
                _ => {}
            }
        }
        if sender.pending() == 0 && busy_plan.is_empty() {
            break;
        }
        let next_submit = busy_plan.last().map(|(at, _)| *at);
        let next = match (sender.poll_timeout(), next_submit) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).expect("work left but nothing to wait for"),
        };
        assert!(
            next > now || sender.pending() == 0,
            "poll_timeout {next} not after {now}"
        );
        now = next.max(now);
        sender.handle_timeout(now);
        submit_due(&mut sender, &mut busy_plan, now, &mut channel_of);
    }
    assert_eq!(sender.pending(), 0, "every notification finished");
    assert_eq!(finals.len(), N + BUSY * PER_BUSY, "one final event each");

    // What each channel's behaviour leads to.
    let expired = (0..N).filter(|i| i % 100 == 3).count();
    assert_eq!(expired_events, expired);
    for (i, u) in (0..N).map(|i| (i, uri(i))) {
        let t = sent_tickets[&u][0];
        let expect_accepted = i % 100 != 3;
        assert_eq!(
            finals[&t].is_accepted(),
            expect_accepted,
            "channel {i}: {:?}",
            finals[&t]
        );
    }
    // No head-of-line blocking: the last channel went in the first pass.
    let last = &sent_tickets[&uri(N - 1)];
    assert_eq!(last_sent_at[&last[0]], Instant::ZERO);
    // An inactive channel waited its hour; the others did not wait for it.
    let inactive = &sends[&uri(1)];
    assert_eq!(inactive.len(), 3);
    assert!(inactive[1].as_millis() >= 48 * 60_000 && inactive[2] > inactive[1]);

    // Busy channels: first in, first out, and never over the quota in any window.
    for b in 0..BUSY {
        let u = busy_uri(b);
        let tickets = &sent_tickets[&u];
        assert!(tickets.windows(2).all(|w| w[0] <= w[1]), "FIFO on {u}");
        assert_eq!(tickets.len(), PER_BUSY);
        let times = &sends[&u];
        for (k, start) in times.iter().enumerate() {
            let in_window = times[k..]
                .iter()
                .take_while(|t| t.as_millis() < start.as_millis() + DAY)
                .count();
            assert!(
                in_window <= QUOTA as usize,
                "{u}: {in_window} sends in 24 h"
            );
        }
        assert!(finals[&tickets[PER_BUSY - 1]].is_accepted());
    }
    assert!(
        now.as_millis() >= 2 * DAY,
        "the busy channels ran over two days"
    );

    // Quota windows keep channels remembered for a day, then nothing is left.
    assert!(sender.channels() > 0);
    sender.handle_timeout(now + Duration::from_hours(26));
    assert_eq!(sender.channels(), 0, "every channel forgotten once empty");
    assert_eq!(sender.memory_used(), 0);
}

#[test]
fn the_memory_budget_is_back_pressure_that_clears() {
    let mut sender = GrowableSender::new(SenderConfig::default(), 64 * 1024);
    let toast = Notification::Toast(Toast {
        text1: Some("x"),
        ..Toast::default()
    });
    let mut accepted = 0;
    let refused = loop {
        let u = uri(accepted);
        match sender.submit(
            Instant::ZERO,
            ChannelUri::parse(&u).unwrap(),
            &toast,
            &Options::default(),
        ) {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
    };
    assert!(refused.is_back_pressure(), "{refused:?}");
    assert!(sender.memory_used() <= sender.budget());
    assert!(accepted > 50, "{accepted} fit in 64 KiB");
    // Sending and reading the final events frees room for more.
    while let Some(t) = sender.poll_transmit(Instant::ZERO) {
        let ticket = t.ticket;
        sender
            .handle_response(
                Instant::ZERO,
                ticket,
                &response((200, "Received", "Active")),
            )
            .unwrap();
    }
    while sender.poll_event().is_some() {}
    // The channels keep only their quota windows, outside the budget: room
    // is back at once; the windows leave when they empty.
    assert_eq!(sender.memory_used(), 0);
    assert_eq!(sender.channels(), accepted);
    assert_eq!(
        sender.remembered_memory(),
        accepted * GrowableSender::REMEMBERED_ENTRY
    );
    sender
        .submit(
            Instant::ZERO,
            ChannelUri::parse(&uri(0)).unwrap(),
            &toast,
            &Options::default(),
        )
        .unwrap();
    // Its channel came back from its window to a whole record: counted once.
    assert_eq!(sender.channels(), accepted);
    assert!(sender.memory_used() > 0);
    // A day later every window has emptied (and the unsent one gave up).
    sender.handle_timeout(Instant::ZERO + Duration::from_hours(25));
    assert_eq!(sender.channels(), 0);
    assert!(matches!(
        sender.poll_event(),
        Some(Event::Finished {
            result: Finished::GaveUp { last: None },
            ..
        })
    ));
    assert_eq!(sender.memory_used(), 0);
}

/// The budget counts exactly the documented costs.
#[test]
fn the_budget_counts_the_documented_costs() {
    let mut sender = GrowableSender::new(SenderConfig::default(), 1 << 30);
    let toast = Notification::Toast(Toast {
        text1: Some("x"),
        ..Toast::default()
    });
    let u = uri(7);
    let request = mpns_proto::Request::notification(
        ChannelUri::parse(&u).unwrap(),
        &toast,
        &Options::default(),
    )
    .unwrap();
    sender
        .submit(
            Instant::ZERO,
            ChannelUri::parse(&u).unwrap(),
            &toast,
            &Options::default(),
        )
        .unwrap();
    assert_eq!(
        sender.memory_used(),
        GrowableSender::NOTIFICATION_OVERHEAD
            + u.len()
            + request.body_len()
            + GrowableSender::CHANNEL_ENTRY
            + GrowableSender::HOST_ENTRY
    );
}

//! The sender driven by a fake clock and a scripted fake MPNS: one scenario
//! for every policy row of `docs/protocol.md`, "What each response means",
//! the quota, expiry, supersede, cancel, capacity, and save/restore mid-run.
//! Every run is bounded, so a livelock fails the test instead of hanging it.
//!
//! Every scenario drives both storages in lockstep (see [`Twin`]): the fixed
//! `Sender` and the `GrowableSender` must return the same tickets, send the
//! same bytes in the same order and report the same events.

use std::collections::{HashMap, VecDeque};

use mpns_proto::response::{AnomalyReason, RejectReason};
use mpns_proto::sender::{Cancellation, ChannelId, Event, Finished, SubmitError, TicketError};
mod common;
use common::Twin;

use mpns_proto::{
    ChannelUri, DeviceStatus, Duration, Field, Instant, MessageId, Notification, Options, Raw,
    Response, RetryReason, Sender, SenderConfig, StandardTile, Ticket, Tile, TileTemplate, Toast,
};

const A: &str = "http://db3.notify.live.net/throttledthirdparty/01.00/A";
const B: &str = "http://db3.notify.live.net/throttledthirdparty/01.00/B";
const OTHER_HOST: &str = "http://sn1.notify.live.net/throttledthirdparty/01.00/C";
const SECURE: &str = "https://db3.notify.live.net/unthrottledthirdparty/01.00/S";
const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;

/// What the fake MPNS answers.
#[derive(Clone, Debug)]
enum Reply {
    Status(u16, Vec<(&'static str, &'static str)>),
    /// No response (every kind of transport failure is handled alike).
    Transport,
}

fn ok() -> Reply {
    mpns(200, "Received", "Active", "Connected")
}

fn mpns(
    status: u16,
    notification: &'static str,
    subscription: &'static str,
    device: &'static str,
) -> Reply {
    Reply::Status(
        status,
        vec![
            ("X-NotificationStatus", notification),
            ("X-SubscriptionStatus", subscription),
            ("X-DeviceConnectionStatus", device),
        ],
    )
}

fn bare(status: u16) -> Reply {
    Reply::Status(status, vec![])
}

fn response(reply: &[(&'static str, &'static str)], status: u16) -> Response {
    Response::from_parts(status, |name| {
        reply
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_bytes())
    })
}

/// One request the fake MPNS saw.
#[derive(Clone, Debug)]
struct Attempt {
    at: Instant,
    ticket: Ticket,
    channel: String,
    wire: Vec<u8>,
}

struct Sim<const Q: usize, const C: usize> {
    sender: Twin<Q, C>,
    now: Instant,
    script: HashMap<String, VecDeque<Reply>>,
    attempts: Vec<Attempt>,
    events: Vec<(Instant, Event)>,
    finals: HashMap<Ticket, Finished>,
}

impl<const Q: usize, const C: usize> Sim<Q, C> {
    fn new(config: SenderConfig) -> Self {
        Sim {
            sender: Twin::new(config),
            now: Instant::ZERO,
            script: HashMap::new(),
            attempts: Vec::new(),
            events: Vec::new(),
            finals: HashMap::new(),
        }
    }

    fn script(&mut self, channel: &str, replies: Vec<Reply>) {
        self.script
            .entry(channel.to_string())
            .or_default()
            .extend(replies);
    }

    fn toast(&mut self, channel: &str, text: &str) -> Ticket {
        let n = Notification::Toast(Toast {
            text1: Some(text),
            ..Toast::default()
        });
        self.sender
            .submit(
                self.now,
                ChannelUri::parse(channel).unwrap(),
                &n,
                &Options::default(),
            )
            .unwrap()
    }

    /// Sends what is due and answers it at once from the script (default: Received).
    fn step(&mut self) {
        while let Some(t) = self.sender.poll_transmit(self.now) {
            let mut wire = vec![0; t.request.http_len()];
            t.request.write_http(&mut wire).unwrap();
            let channel = t.request.channel().as_str().to_string();
            let ticket = t.ticket;
            self.attempts.push(Attempt {
                at: self.now,
                ticket,
                channel: channel.clone(),
                wire,
            });
            let reply = self
                .script
                .get_mut(&channel)
                .and_then(VecDeque::pop_front)
                .unwrap_or_else(ok);
            match reply {
                Reply::Status(status, headers) => self
                    .sender
                    .handle_response(self.now, ticket, &response(&headers, status))
                    .unwrap(),
                Reply::Transport => self
                    .sender
                    .handle_transport_error(self.now, ticket)
                    .unwrap(),
            }
        }
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(e) = self.sender.poll_event() {
            if let Event::Finished { ticket, result, .. } = e {
                assert!(
                    self.finals.insert(ticket, result).is_none(),
                    "two final events for {ticket:?}"
                );
            }
            self.events.push((self.now, e));
        }
    }

    /// Runs until nothing is pending; fails on a livelock.
    fn run(&mut self) {
        for _ in 0..10_000 {
            self.step();
            if self.sender.pending() == 0 {
                return;
            }
            let next = self
                .sender
                .poll_timeout()
                .expect("pending work but no timeout: stuck");
            // After a full drain nothing is due: the timeout lies ahead.
            assert!(
                next > self.now,
                "poll_timeout {next} is not after now {}",
                self.now
            );
            self.now = next;
            self.sender.handle_timeout(self.now);
        }
        panic!(
            "livelock: {} notifications still pending",
            self.sender.pending()
        );
    }

    fn attempts_to(&self, channel: &str) -> Vec<Instant> {
        self.attempts
            .iter()
            .filter(|a| a.channel == channel)
            .map(|a| a.at)
            .collect()
    }

    fn attempts_of(&self, ticket: Ticket) -> Vec<Instant> {
        self.attempts
            .iter()
            .filter(|a| a.ticket == ticket)
            .map(|a| a.at)
            .collect()
    }
}

fn sim() -> Sim<8, 16> {
    Sim::new(SenderConfig::default())
}

fn gaps(times: &[Instant]) -> Vec<u64> {
    times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect()
}

fn within(ms: u64, base: u64, jitter_pct: u64) -> bool {
    ms >= base - base * jitter_pct / 100 && ms <= base + base * jitter_pct / 100
}

// ---- one scenario per policy row ----------------------------------------------

#[test]
fn received_is_accepted_with_the_device_status() {
    let mut s = sim();
    let t = s.toast(A, "hi");
    s.run();
    assert_eq!(
        s.finals[&t],
        Finished::Accepted {
            device: Some(DeviceStatus::Connected)
        }
    );
    assert_eq!(s.attempts_of(t).len(), 1);
    // The request on the wire is the encoder's.
    assert!(s.attempts[0].wire.starts_with(
        b"POST /throttledthirdparty/01.00/A HTTP/1.1\r\nHost: db3.notify.live.net\r\n"
    ));
}

#[test]
fn queue_full_backs_off_exponentially_from_one_minute_capped_at_an_hour() {
    let mut s = sim();
    s.script(A, vec![mpns(200, "QueueFull", "Active", "Connected"); 9]);
    let t = s.toast(A, "hi");
    s.run();
    assert_eq!(
        s.finals[&t],
        Finished::Accepted {
            device: Some(DeviceStatus::Connected)
        }
    );
    let g = gaps(&s.attempts_of(t));
    assert_eq!(g.len(), 9);
    for (i, gap) in g.iter().enumerate() {
        let base = (MIN << i).min(HOUR);
        assert!(
            within(*gap, base, 20),
            "gap {i}: {gap} ms, expected about {base}"
        );
    }
    let retrying = s
        .events
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Event::Retrying {
                    reason: RetryReason::QueueFull,
                    ..
                }
            )
        })
        .count();
    assert_eq!(retrying, 9);
}

#[test]
fn queue_full_holds_the_channel_in_order_but_not_other_channels() {
    let mut s = sim();
    s.script(A, vec![mpns(200, "QueueFull", "Active", "Connected")]);
    let first = s.toast(A, "1");
    let second = s.toast(A, "2");
    let other = s.toast(B, "3");
    s.run();
    let a = s
        .attempts
        .iter()
        .filter(|x| x.channel == A)
        .map(|x| x.ticket)
        .collect::<Vec<_>>();
    assert_eq!(a, vec![first, first, second], "FIFO per channel");
    assert_eq!(s.attempts_of(other), vec![Instant::ZERO]);
}

#[test]
fn suppressed_and_dropped_are_final_without_retry() {
    let mut s = sim();
    s.script(A, vec![mpns(200, "Suppressed", "Active", "Connected")]);
    s.script(B, vec![mpns(200, "Dropped", "Active", "Disconnected")]);
    let a = s.toast(A, "a");
    let b = s.toast(B, "b");
    s.run();
    assert_eq!(s.finals[&a], Finished::Suppressed);
    assert_eq!(s.finals[&b], Finished::Dropped);
    assert_eq!(s.attempts.len(), 2);
}

#[test]
fn a_200_without_mpns_headers_is_an_anomaly() {
    let mut s = sim();
    s.script(
        A,
        vec![bare(200), mpns(200, "Delivered", "Active", "Connected")],
    );
    let a = s.toast(A, "a");
    let b = s.toast(A, "b");
    s.run();
    assert_eq!(
        s.finals[&a],
        Finished::Anomaly {
            reason: AnomalyReason::MissingNotificationStatus,
            status: 200
        }
    );
    assert_eq!(
        s.finals[&b],
        Finished::Anomaly {
            reason: AnomalyReason::UnknownNotificationStatus,
            status: 200
        }
    );
}

#[test]
fn client_errors_reject_and_keep_the_channel() {
    for (status, reason) in [
        (400, RejectReason::BadRequest),
        (401, RejectReason::Unauthorized),
        (403, RejectReason::Forbidden),
        (405, RejectReason::MethodNotAllowed),
        (410, RejectReason::OtherClientError),
    ] {
        let mut s = sim();
        s.script(A, vec![bare(status)]);
        let t = s.toast(A, "x");
        let next = s.toast(A, "y");
        s.run();
        assert_eq!(s.finals[&t], Finished::Rejected { reason, status });
        assert_eq!(
            s.finals[&next],
            Finished::Accepted {
                device: Some(DeviceStatus::Connected)
            },
            "{status}: channel kept"
        );
    }
}

#[test]
fn not_found_expires_the_channel_and_everything_queued_for_it() {
    let mut s = sim();
    s.script(A, vec![mpns(404, "Dropped", "Expired", "Connected")]);
    let queued: Vec<Ticket> = (0..4).map(|i| s.toast(A, &i.to_string())).collect();
    let other = s.toast(B, "b");
    s.run();
    for t in &queued {
        assert_eq!(s.finals[t], Finished::ChannelExpired);
    }
    assert_eq!(
        s.attempts_to(A).len(),
        1,
        "nothing more is sent to an expired channel"
    );
    assert!(s.finals[&other].is_accepted());
    let id = s.sender.channel_id(&ChannelUri::parse(A).unwrap());
    let expiries: Vec<_> = s
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::ChannelExpired { .. }))
        .collect();
    assert_eq!(expiries.len(), 1);
    assert_eq!(expiries[0].1, Event::ChannelExpired { channel: id });
    // A later submit is refused at once, until the application forgets the channel.
    let n = Notification::Toast(Toast {
        text1: Some("late"),
        ..Toast::default()
    });
    let err = s
        .sender
        .submit(
            s.now,
            ChannelUri::parse(A).unwrap(),
            &n,
            &Options::default(),
        )
        .unwrap_err();
    assert_eq!(err, SubmitError::ChannelExpired(id));
    assert!(s.sender.is_expired(&ChannelUri::parse(A).unwrap()));
    s.sender.forget_channel(id);
    s.toast(A, "new subscription at the same URI");
}

#[test]
fn expired_subscription_header_expires_whatever_the_status() {
    for reply in [
        mpns(200, "Received", "Expired", "Connected"),
        mpns(412, "Dropped", "Expired", "Inactive"),
    ] {
        let mut s = sim();
        s.script(A, vec![reply]);
        let t = s.toast(A, "x");
        s.run();
        assert_eq!(s.finals[&t], Finished::ChannelExpired);
    }
}

#[test]
fn rate_limit_and_inactive_pause_the_channel_an_hour_and_never_try_more_than_hourly() {
    for (status, reason) in [
        (406, RetryReason::RateLimited),
        (412, RetryReason::DeviceInactive),
    ] {
        let mut s = sim();
        s.script(A, vec![mpns(status, "Dropped", "Active", "Inactive"); 3]);
        let t = s.toast(A, "x");
        let behind = s.toast(A, "y");
        let other = s.toast(B, "z");
        s.run();
        assert!(s.finals[&t].is_accepted());
        assert!(s.finals[&behind].is_accepted());
        let times = s.attempts_to(A);
        assert_eq!(times.len(), 5);
        for gap in gaps(&times[..4]) {
            assert!(
                (HOUR..=HOUR * 12 / 10).contains(&gap),
                "{status}: {gap} ms between attempts"
            );
        }
        assert_eq!(
            s.attempts_of(other),
            vec![Instant::ZERO],
            "{status}: other channels go on"
        );
        assert!(
            s.events
                .iter()
                .any(|(_, e)| matches!(e, Event::Retrying { reason: r, .. } if *r == reason))
        );
    }
}

#[test]
fn unavailable_pauses_the_whole_host_with_exponential_backoff() {
    let mut s = sim();
    s.script(A, vec![bare(503), bare(503), bare(503)]);
    let t = s.toast(A, "x");
    s.run();
    assert!(s.finals[&t].is_accepted());
    let g = gaps(&s.attempts_of(t));
    for (i, gap) in g.iter().enumerate() {
        assert!(within(*gap, MIN << i, 20), "gap {i}: {gap}");
    }
    // While the host is paused, another channel on it waits; another host does not.
    let mut s = sim();
    s.script(A, vec![bare(503)]);
    let a = s.toast(A, "a");
    s.step();
    let b = s.toast(B, "b");
    let c = s.toast(OTHER_HOST, "c");
    s.run();
    assert!(s.finals[&a].is_accepted() && s.finals[&b].is_accepted());
    assert_eq!(s.attempts_of(c), vec![Instant::ZERO]);
    assert!(
        s.attempts_of(b)[0].as_millis() >= MIN * 8 / 10,
        "B waited for the host"
    );
}

#[test]
fn too_many_requests_other_5xx_and_transport_failures_back_off_the_host() {
    for reply in [bare(429), bare(500), bare(502), Reply::Transport] {
        let mut s = sim();
        s.script(A, vec![reply.clone(), reply.clone()]);
        let t = s.toast(A, "x");
        s.run();
        assert!(s.finals[&t].is_accepted(), "{reply:?}");
        let g = gaps(&s.attempts_of(t));
        assert!(
            within(g[0], MIN, 20) && within(g[1], 2 * MIN, 20),
            "{reply:?}: {g:?}"
        );
    }
}

/// `n` channels on one host, one toast each; every one of them sent and in
/// flight at the same time, then answered together, `outages` times with a
/// failure and then with Received. Returns the times of the rounds (sends)
/// and checks every notification is accepted once.
fn outages_with_in_flight(
    n: usize,
    outages: usize,
    fail: &Reply,
    config: SenderConfig,
) -> Vec<Instant> {
    let mut s: Sim<64, 64> = Sim::new(config);
    let channels: Vec<String> = (0..n)
        .map(|i| format!("http://db3.notify.live.net/throttledthirdparty/01.00/N{i}"))
        .collect();
    let tickets: Vec<Ticket> = channels.iter().map(|c| s.toast(c, "x")).collect();
    let mut rounds = Vec::new();
    for round in 0..=outages {
        let mut in_flight = Vec::new();
        while let Some(t) = s.sender.poll_transmit(s.now) {
            in_flight.push(t.ticket);
        }
        assert_eq!(
            in_flight.len(),
            n,
            "round {round}: every channel goes at once"
        );
        rounds.push(s.now);
        // The answers come a second later, all together.
        s.now = s.now + Duration::from_secs(1);
        for t in in_flight {
            match (round < outages, fail) {
                (true, Reply::Transport) => s.sender.handle_transport_error(s.now, t).unwrap(),
                (true, Reply::Status(status, headers)) => s
                    .sender
                    .handle_response(s.now, t, &response(headers, *status))
                    .unwrap(),
                (false, _) => s
                    .sender
                    .handle_response(
                        s.now,
                        t,
                        &response(&[("X-NotificationStatus", "Received")], 200),
                    )
                    .unwrap(),
            }
        }
        s.drain();
        if round < outages {
            let next = s.sender.poll_timeout().expect("the host's pause ends");
            s.now = next;
            s.sender.handle_timeout(s.now);
        }
    }
    assert_eq!(s.sender.pending(), 0);
    for t in tickets {
        assert!(s.finals[&t].is_accepted(), "{t:?}: {:?}", s.finals.get(&t));
    }
    rounds
}

#[test]
fn an_outage_counts_once_however_many_requests_were_in_flight() {
    let exact = SenderConfig {
        retry: mpns_proto::RetryPolicy {
            jitter_percent: 0,
            ..mpns_proto::RetryPolicy::DEFAULT
        },
        ..SenderConfig::default()
    };
    // 64 in flight fail together, then the host is back: sent again one
    // backoff step (1 min) after the failures, not at the 60-minute cap.
    for fail in [Reply::Transport, bare(503), bare(500), bare(429)] {
        let rounds = outages_with_in_flight(64, 1, &fail, exact);
        assert_eq!(
            (rounds[1] - rounds[0]).as_millis(),
            1_000 + MIN,
            "{fail:?}: {rounds:?}"
        );
    }
    // With the default jitter, still within one step of 20 %.
    let rounds = outages_with_in_flight(64, 1, &Reply::Transport, SenderConfig::default());
    assert!(
        within((rounds[1] - rounds[0]).as_millis() - 1_000, MIN, 20),
        "{rounds:?}"
    );
}

#[test]
fn the_pause_after_k_outages_is_the_same_whatever_the_concurrency() {
    let exact = SenderConfig {
        retry: mpns_proto::RetryPolicy {
            jitter_percent: 0,
            ..mpns_proto::RetryPolicy::DEFAULT
        },
        ..SenderConfig::default()
    };
    // Every concurrency from 1 to 64, seven outages in a row: the k-th pause
    // is base × 2^(k-1) up to the cap, as for one request at a time.
    for k in [1usize, 2, 3, 7] {
        let one = gaps(&outages_with_in_flight(1, k, &Reply::Transport, exact));
        let expected: Vec<u64> = (0..k as u32)
            .map(|i| 1_000 + (MIN << i).min(HOUR))
            .collect();
        assert_eq!(one, expected, "one request at a time, {k} outages");
        for n in 2..=64 {
            let g = gaps(&outages_with_in_flight(n, k, &Reply::Transport, exact));
            assert_eq!(g, expected, "{n} in flight, {k} outages");
        }
    }
}

#[test]
fn a_longer_retry_after_wins() {
    let mut s = sim();
    s.script(
        A,
        vec![
            Reply::Status(503, vec![("Retry-After", "7200")]),
            Reply::Status(503, vec![("Retry-After", "1")]),
        ],
    );
    let t = s.toast(A, "x");
    s.run();
    let g = gaps(&s.attempts_of(t));
    assert!(g[0] >= 2 * HOUR, "{g:?}");
    assert!(
        within(g[1], 2 * MIN, 20),
        "a shorter Retry-After does not shorten the policy: {g:?}"
    );
}

#[test]
fn out_of_attempts_gives_up_with_the_last_reason() {
    let mut s: Sim<8, 16> = Sim::new(SenderConfig {
        max_attempts: 3,
        ..SenderConfig::default()
    });
    s.script(A, vec![bare(503), bare(500), Reply::Transport]);
    let t = s.toast(A, "x");
    s.run();
    assert_eq!(
        s.finals[&t],
        Finished::GaveUp {
            last: Some(RetryReason::Transport)
        }
    );
    assert_eq!(s.attempts_of(t).len(), 3);
    let finished = s.events.iter().find_map(|(_, e)| match e {
        Event::Finished { attempts, .. } => Some(*attempts),
        _ => None,
    });
    assert_eq!(finished, Some(3));
}

#[test]
fn the_deadline_gives_up_instead_of_waiting_past_it() {
    let mut s: Sim<8, 16> = Sim::new(SenderConfig {
        deadline: Duration::from_mins(30),
        ..SenderConfig::default()
    });
    s.script(A, vec![mpns(412, "Dropped", "Active", "Inactive")]);
    let t = s.toast(A, "x");
    let behind = s.toast(A, "y");
    s.run();
    assert_eq!(
        s.finals[&t],
        Finished::GaveUp {
            last: Some(RetryReason::DeviceInactive)
        }
    );
    // The one behind never got a chance before its deadline either.
    assert_eq!(s.finals[&behind], Finished::GaveUp { last: None });
    assert!(s.now.as_millis() <= 30 * MIN);
}

// ---- quota ---------------------------------------------------------------------

#[test]
fn unauthenticated_channels_wait_for_their_quota_instead_of_provoking_406() {
    let config = SenderConfig {
        quota: 5,
        quota_window: Duration::from_hours(1),
        ..SenderConfig::default()
    };
    let mut s: Sim<16, 4> = Sim::new(config);
    let tickets: Vec<Ticket> = (0..12).map(|i| s.toast(A, &i.to_string())).collect();
    let secure: Vec<Ticket> = (0..4).map(|i| s.toast(SECURE, &i.to_string())).collect();
    s.run();
    for t in tickets.iter().chain(&secure) {
        assert!(s.finals[t].is_accepted());
    }
    let times = s.attempts_to(A);
    assert_eq!(times.len(), 12);
    for (i, start) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .filter(|t| (**t - *start).as_millis() < HOUR)
            .count();
        assert!(
            in_window <= 5,
            "{in_window} sends within an hour of {start}"
        );
    }
    assert!(
        s.attempts_to(SECURE).iter().all(|t| *t == Instant::ZERO),
        "no quota on https"
    );
    let deferred = s
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Deferred { .. }))
        .count();
    assert!(deferred >= 1);
}

// ---- supersede, cancel, capacity ----------------------------------------------

fn tile(id: Option<&'static str>, title: &'static str) -> Notification<'static> {
    Notification::Tile(Tile {
        id,
        template: TileTemplate::Standard(StandardTile {
            title: Field::Set(title),
            ..Default::default()
        }),
    })
}

#[test]
fn a_newer_update_of_the_same_tile_supersedes_a_queued_one_when_enabled() {
    let mut s: Sim<8, 16> = Sim::new(SenderConfig {
        supersede_tiles: true,
        ..SenderConfig::default()
    });
    let submit = |s: &mut Sim<8, 16>, n: &Notification<'_>| {
        s.sender
            .submit(s.now, ChannelUri::parse(A).unwrap(), n, &Options::default())
            .unwrap()
    };
    let old = submit(&mut s, &tile(None, "old"));
    let secondary = submit(&mut s, &tile(Some("/S.xaml"), "other tile"));
    let new = submit(&mut s, &tile(None, "new"));
    s.run();
    assert_eq!(s.finals[&old], Finished::Superseded { by: new });
    assert!(s.finals[&secondary].is_accepted() && s.finals[&new].is_accepted());
    assert_eq!(s.attempts.len(), 2);
    // Off by default: both updates go, in order.
    let mut s = sim();
    let first = submit_default(&mut s, &tile(None, "1"));
    let second = submit_default(&mut s, &tile(None, "2"));
    s.run();
    assert_eq!(
        s.attempts.iter().map(|a| a.ticket).collect::<Vec<_>>(),
        vec![first, second]
    );
}

fn submit_default(s: &mut Sim<8, 16>, n: &Notification<'_>) -> Ticket {
    s.sender
        .submit(s.now, ChannelUri::parse(A).unwrap(), n, &Options::default())
        .unwrap()
}

#[test]
fn cancel_queued_and_in_flight() {
    let mut s = sim();
    let a = s.toast(A, "a");
    let b = s.toast(A, "b");
    assert_eq!(s.sender.cancel(b), Ok(Cancellation::Done));
    let t = s.sender.poll_transmit(s.now).unwrap().ticket;
    assert_eq!(t, a);
    assert_eq!(s.sender.cancel(a), Ok(Cancellation::AfterResponse));
    // A retry answer ends it as cancelled...
    s.sender
        .handle_response(s.now, a, &response(&[], 503))
        .unwrap();
    s.drain();
    assert_eq!(s.finals[&a], Finished::Cancelled);
    assert_eq!(s.finals[&b], Finished::Cancelled);
    assert_eq!(s.sender.cancel(a), Err(TicketError::Unknown(a)));
    // ...a final answer stands.
    let c = s.toast(B, "c");
    s.now = Instant::from_millis(3 * HOUR);
    let t = s.sender.poll_transmit(s.now).unwrap().ticket;
    assert_eq!(t, c);
    s.sender.cancel(c).unwrap();
    s.sender
        .handle_response(
            s.now,
            c,
            &response(&[("X-NotificationStatus", "Received")], 200),
        )
        .unwrap();
    s.drain();
    assert!(s.finals[&c].is_accepted());
}

#[test]
fn one_request_in_flight_per_channel() {
    let mut s = sim();
    let a1 = s.toast(A, "1");
    let _a2 = s.toast(A, "2");
    let b1 = s.toast(B, "3");
    let first = s.sender.poll_transmit(s.now).unwrap().ticket;
    let second = s.sender.poll_transmit(s.now).unwrap().ticket;
    assert_eq!((first, second), (a1, b1));
    assert!(
        s.sender.poll_transmit(s.now).is_none(),
        "A's second waits for the first's response"
    );
    assert_eq!(
        s.sender.handle_response(s.now, _a2, &response(&[], 200)),
        Err(TicketError::NotInFlight(_a2))
    );
    assert_eq!(
        s.sender
            .handle_response(s.now, Ticket(999), &response(&[], 200)),
        Err(TicketError::Unknown(Ticket(999)))
    );
}

#[test]
fn capacity_is_back_pressure_never_loss() {
    let mut s: Sim<2, 2> = Sim::new(SenderConfig::default());
    s.sender.grow = None; // the fixed sender's capacity
    let a = s.toast(A, "a");
    let b = s.toast(A, "b");
    let n = Notification::Toast(Toast {
        text1: Some("c"),
        ..Toast::default()
    });
    let full = s.sender.submit(
        s.now,
        ChannelUri::parse(A).unwrap(),
        &n,
        &Options::default(),
    );
    assert_eq!(full, Err(SubmitError::QueueFull));
    // A finished notification holds its slot until its event is read.
    let t = s.sender.poll_transmit(s.now).unwrap().ticket;
    s.sender
        .handle_response(
            s.now,
            t,
            &response(&[("X-NotificationStatus", "Received")], 200),
        )
        .unwrap();
    assert_eq!(
        s.sender.submit(
            s.now,
            ChannelUri::parse(A).unwrap(),
            &n,
            &Options::default()
        ),
        Err(SubmitError::QueueFull)
    );
    s.drain();
    let c = s
        .sender
        .submit(
            s.now,
            ChannelUri::parse(B).unwrap(),
            &n,
            &Options::default(),
        )
        .unwrap();
    // Two channels are known and busy: a third is refused.
    let third = s.sender.submit(
        s.now,
        ChannelUri::parse(OTHER_HOST).unwrap(),
        &n,
        &Options::default(),
    );
    assert!(matches!(
        third,
        Err(SubmitError::QueueFull | SubmitError::ChannelTableFull)
    ));
    s.run();
    for t in [a, b, c] {
        assert!(s.finals[&t].is_accepted());
    }
    // Idle channels are recycled, but an http channel's entry keeps its quota
    // count for a day: the table is full until then.
    let late = s.sender.submit(
        s.now,
        ChannelUri::parse(OTHER_HOST).unwrap(),
        &n,
        &Options::default(),
    );
    assert_eq!(late, Err(SubmitError::ChannelTableFull));
    assert!(late.unwrap_err().is_back_pressure());
    // Back-pressure that clears with time: `room_at` says when.
    let room = s.sender.fixed.room_at().expect("an entry falls idle");
    assert!(room > s.now && room <= s.now + Duration::from_hours(25));
    let just_before = s.sender.submit(
        Instant::from_millis(room.as_millis() - 1),
        ChannelUri::parse(OTHER_HOST).unwrap(),
        &n,
        &Options::default(),
    );
    assert_eq!(just_before, Err(SubmitError::ChannelTableFull));
    s.now = room;
    s.toast(OTHER_HOST, "recycled");
    s.run();
    // A request larger than an arena slot is refused up front.
    let mut small: Sender<[u8; 256], 2, 2> = Sender::new(SenderConfig::default(), [0; 256]);
    let big = vec![b'r'; 200];
    let raw = Notification::Raw(Raw {
        body: &big,
        voip: false,
    });
    let err = small
        .submit(
            Instant::ZERO,
            ChannelUri::parse(A).unwrap(),
            &raw,
            &Options::default(),
        )
        .unwrap_err();
    assert_eq!(
        err,
        SubmitError::TooLarge {
            needed: A.len() + 200,
            slot: 128
        }
    );
}

#[test]
fn a_mismatched_message_id_echo_is_reported() {
    let mut s = sim();
    let n = Notification::Toast(Toast {
        text1: Some("x"),
        ..Toast::default()
    });
    let options = Options {
        message_id: Some(MessageId([1; 16])),
        ..Options::default()
    };
    let t = s
        .sender
        .submit(s.now, ChannelUri::parse(A).unwrap(), &n, &options)
        .unwrap();
    let sent = s.sender.poll_transmit(s.now).unwrap();
    assert!(
        sent.request
            .headers()
            .any(|h| h == ("X-MessageID", "01010101-0101-0101-0101-010101010101"))
    );
    let echo = [
        ("X-NotificationStatus", "Received"),
        ("X-MessageID", "00000000-0000-0000-0000-000000000000"),
    ];
    s.sender
        .handle_response(s.now, t, &response(&echo, 200))
        .unwrap();
    s.drain();
    assert!(
        s.events
            .iter()
            .any(|(_, e)| *e == Event::MessageIdMismatch { ticket: t })
    );
    assert!(s.finals[&t].is_accepted());
}

#[test]
fn callback_registration_takes_its_turn() {
    let mut s = sim();
    let t = s
        .sender
        .submit_callback_registration(
            s.now,
            ChannelUri::parse(SECURE).unwrap(),
            "https://me.example/cb",
            b"state",
            &Default::default(),
        )
        .unwrap();
    s.run();
    assert!(s.finals[&t].is_accepted());
    let wire = String::from_utf8(s.attempts[0].wire.clone()).unwrap();
    assert!(
        wire.starts_with("POST /unthrottledthirdparty/01.00/S/callback HTTP/1.1\r\n"),
        "{wire}"
    );
    assert!(
        wire.contains("\r\nX-CallbackURI: https://me.example/cb\r\n")
            && wire.ends_with("\r\n\r\nstate")
    );
}

#[test]
fn memory_fits_the_documented_formula() {
    fn size<const Q: usize, const C: usize>() -> usize {
        let size = std::mem::size_of::<Sender<&mut [u8], Q, C>>();
        assert!(size <= 256 + 136 * Q + 112 * C, "Q={Q} C={C}: {size}");
        size
    }
    assert!(size::<8, 16>() <= 16 * 1024);
    size::<1, 1>();
    size::<64, 64>();
    size::<4, 100>();
}

// ---- persistence -----------------------------------------------------------------

#[test]
fn save_and_restore_mid_run_loses_and_repeats_nothing() {
    let mut s = sim();
    s.script(A, vec![mpns(200, "QueueFull", "Active", "Connected")]);
    s.script(B, vec![mpns(412, "Dropped", "Active", "Inactive")]);
    let mut tickets: Vec<Ticket> = vec![
        s.toast(A, "a1"),
        s.toast(A, "a2"),
        s.toast(B, "b1"),
        s.toast(SECURE, "s1"),
    ];
    s.step(); // a1 waits (QueueFull), b1's channel is paused, s1 accepted.
    tickets.push(s.toast(SECURE, "s2"));
    let in_flight = s.sender.poll_transmit(s.now).unwrap().ticket; // s2, in flight at the snapshot
    assert_eq!(in_flight, tickets[4]);
    let bytes = postcard::to_allocvec(&s.sender.fixed.snapshot()).unwrap();
    // Reboot: a new arena, a different size.
    let snapshot = postcard::from_bytes(&bytes).unwrap();
    let mut restored: Sim<8, 16> = Sim::new(SenderConfig::default());
    restored.sender = Twin::fixed_only(Sender::restore(snapshot, vec![0u8; 8 * 1500]).unwrap());
    restored.now = s.now;
    restored.finals = s.finals.clone();
    restored.run();
    for t in &tickets {
        assert!(
            restored.finals[t].is_accepted(),
            "{t:?}: {:?}",
            restored.finals.get(t)
        );
    }
    assert_eq!(
        restored.attempts_of(in_flight).len(),
        1,
        "the in-flight request is sent again"
    );
    // Pauses survived: B's next attempt waited the hour.
    assert!(restored.attempts_to(B)[0].as_millis() >= HOUR);
    assert!(restored.attempts_to(A)[0].as_millis() >= MIN * 8 / 10);
    let ids: Vec<ChannelId> = [A, B]
        .iter()
        .map(|c| restored.sender.channel_id(&ChannelUri::parse(c).unwrap()))
        .collect();
    assert_ne!(ids[0], ids[1]);
}

#[test]
fn snapshots_compare_as_the_state_they_restore() {
    type Fixed = Sender<Vec<u8>, 4, 4>;
    let toast = Notification::Toast(Toast {
        text1: Some("a"),
        ..Toast::default()
    });
    let submit = |s: &mut Fixed, at: u64, uri: &str| {
        let uri = ChannelUri::parse(uri).unwrap();
        s.submit(Instant::from_millis(at), uri, &toast, &Options::default())
            .unwrap();
    };
    let mut plain = Fixed::new(SenderConfig::default(), vec![0; 4096]);
    // Whether a sender records, and which of its records are not polled
    // yet, is not part of a snapshot.
    let mut recording = Fixed::new(SenderConfig::default(), vec![0; 4096]).recording();
    submit(&mut plain, 5, A);
    submit(&mut recording, 5, A);
    assert_eq!(plain.snapshot(), recording.snapshot(), "a record unpolled");
    let saved = postcard::to_allocvec(&recording.snapshot()).unwrap();
    let decoded: mpns_proto::sender::Snapshot<'_, 4, 4> = postcard::from_bytes(&saved).unwrap();
    assert_eq!(decoded, recording.snapshot());
    while recording.poll_record().is_some() {}
    assert_eq!(plain.snapshot(), recording.snapshot());
    // Through postcard and back, a snapshot is the one saved.
    let saved = postcard::to_allocvec(&plain.snapshot()).unwrap();
    let decoded: mpns_proto::sender::Snapshot<'_, 4, 4> = postcard::from_bytes(&saved).unwrap();
    assert_eq!(decoded, plain.snapshot());
    // Restored into another arena, it is still the same state.
    let restored = Fixed::restore(decoded.clone(), vec![0; 2048]).unwrap();
    assert_eq!(restored.snapshot(), decoded);
    // Another notification, or the same one at another time, differs.
    submit(&mut plain, 5, B);
    assert_ne!(plain.snapshot(), decoded);
    let mut later = Fixed::new(SenderConfig::default(), vec![0; 4096]);
    submit(&mut later, 6, A);
    assert_ne!(later.snapshot(), decoded);
}

/// The unsigned LEB128 varint postcard writes for a `u32`.
fn varint(mut v: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[test]
fn a_snapshot_whose_lengths_wrap_on_32_bit_is_refused() {
    // Lengths whose sum wraps, in 32 bits, to the real payload's length:
    // a 32-bit target once accepted them and panicked at the split.
    let mut s = sim();
    s.toast(A, "a");
    let bytes = postcard::to_allocvec(&s.sender.fixed.snapshot()).unwrap();
    let uri = A.len() as u32;
    // The payload (URI, then body) is serialized as bytes after its length.
    let start = bytes
        .windows(A.len())
        .position(|w| w == A.as_bytes())
        .unwrap();
    let payload = (uri + 1..4096)
        .find(|&len| {
            let prefix = varint(len);
            bytes[..start].ends_with(&prefix) && start + len as usize == bytes.len()
        })
        .expect("the payload is the snapshot's last field");
    let body = payload - uri;
    let lengths: Vec<u8> = [varint(uri), varint(0), varint(body)].concat();
    let at = bytes
        .windows(lengths.len())
        .position(|w| w == lengths)
        .expect("the stored lengths in the snapshot");
    let hostile_lengths = [varint(u32::MAX), varint(0), varint(payload + 1)].concat();
    let hostile = [&bytes[..at], &hostile_lengths, &bytes[at + lengths.len()..]].concat();
    let snapshot = postcard::from_bytes(&hostile).expect("still a well-formed snapshot");
    assert_eq!(
        Sender::<Vec<u8>, 8, 16>::restore(snapshot, vec![0u8; 8 * 2048]).err(),
        Some(mpns_proto::sender::RestoreError::PayloadMismatch { index: 0 })
    );
}

#[test]
fn corrupt_snapshots_are_refused_not_trusted() {
    let mut s = sim();
    s.toast(A, "a");
    s.toast(SECURE, "b");
    let bytes = postcard::to_allocvec(&s.sender.fixed.snapshot()).unwrap();
    let mut refused = 0;
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            if let Ok(snapshot) = postcard::from_bytes(&bad) {
                match Sender::<Vec<u8>, 8, 16>::restore(snapshot, vec![0u8; 8 * 2048]) {
                    Ok(restored) => {
                        // Whatever was accepted must still run to completion.
                        let mut sim: Sim<8, 16> = Sim::new(SenderConfig::default());
                        sim.sender = Twin::fixed_only(restored);
                        sim.run();
                    }
                    Err(_) => refused += 1,
                }
            }
        }
    }
    assert!(refused > 0);
    // A small arena cannot take the queued requests.
    let snapshot = postcard::from_bytes(&bytes).unwrap();
    assert!(matches!(
        Sender::<Vec<u8>, 8, 16>::restore(snapshot, vec![0u8; 8 * 32]),
        Err(mpns_proto::sender::RestoreError::TooLargeForSlot { .. })
    ));
}

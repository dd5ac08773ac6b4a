//! `DriverHandle`'s public behaviour on a transport the test answers by
//! hand (`Gate`): back-pressure from `submit`, `cancel`, `pending`,
//! `submit_callback_registration`, and a driver whose event receiver was
//! dropped. Nothing waits on time: every step waits for the request to
//! reach the gate or for the driver's event.

use std::time::Duration as StdDuration;

use mpns_hyper::driver::{Driver, DriverConfig, DriverError, DriverHandle, Events};
use mpns_hyper::transport::{Transport, TransportFailure};
use mpns_proto::sender::{Cancellation, Event, Finished, SubmitError, TicketError};
use mpns_proto::{
    EncodeError, FieldName, FieldProblem, Notification, Options, Request, Response, RetryReason,
    Ticket, Toast,
};
use tokio::sync::{mpsc, oneshot};

/// A guard against a hang: no step of these tests needs more than this.
const GUARD: StdDuration = StdDuration::from_secs(60);

/// A request as it reached the gate, and the way to answer it.
struct Arrival {
    channel: String,
    target: String,
    callback_uri: Option<String>,
    answer: oneshot::Sender<Result<Response, TransportFailure>>,
}

impl Arrival {
    fn answer(self, status: u16, notification: &'static str) {
        let response = Response::from_parts(status, |name| {
            (name == "X-NotificationStatus" && !notification.is_empty())
                .then_some(notification.as_bytes())
        });
        self.answer.send(Ok(response)).expect("the driver waits");
    }
}

/// A transport that hands each request to the test and answers with what
/// the test says.
#[derive(Clone)]
struct Gate {
    arrivals: mpsc::UnboundedSender<Arrival>,
}

impl Transport for Gate {
    type Prepared = (String, String, Option<String>);

    fn prepare(&self, request: &Request<'_>) -> Self::Prepared {
        (
            request.channel().as_str().to_owned(),
            request.target().to_string(),
            request.callback_uri().map(str::to_owned),
        )
    }

    async fn send_prepared(
        &self,
        (channel, target, callback_uri): Self::Prepared,
    ) -> Result<Response, TransportFailure> {
        let (answer, answered) = oneshot::channel();
        let arrival = Arrival {
            channel,
            target,
            callback_uri,
            answer,
        };
        self.arrivals.send(arrival).expect("the test listens");
        answered.await.expect("the test answers")
    }
}

fn start(config: DriverConfig) -> (DriverHandle, Events, mpsc::UnboundedReceiver<Arrival>) {
    let (arrivals, gate) = mpsc::unbounded_channel();
    let (handle, events) = Driver::start(Gate { arrivals }, config);
    (handle, events, gate)
}

async fn arrival(gate: &mut mpsc::UnboundedReceiver<Arrival>) -> Arrival {
    tokio::time::timeout(GUARD, gate.recv())
        .await
        .expect("a request reaches the gate")
        .expect("the driver runs")
}

/// The next final event, skipping the others.
async fn finished(events: &mut Events) -> (Ticket, Finished, u16) {
    loop {
        let event = tokio::time::timeout(GUARD, events.recv())
            .await
            .expect("an event comes")
            .expect("the driver runs");
        if let Event::Finished {
            ticket,
            result,
            attempts,
        } = event
        {
            return (ticket, result, attempts);
        }
    }
}

fn toast(text: &str) -> Notification<'_> {
    Notification::Toast(Toast {
        text1: Some(text),
        ..Toast::default()
    })
}

const HTTP: &str = "http://db3.notify.live.net/throttledthirdparty/01.00/A";
const OTHER_HOST: &str = "http://sn1.notify.live.net/throttledthirdparty/01.00/B";
const HTTPS: &str = "https://db3.notify.live.net/unthrottledthirdparty/01.00/S";

fn channel(i: usize) -> String {
    format!("http://db3.notify.live.net/throttledthirdparty/01.00/C{i}")
}

#[tokio::test]
async fn submit_refuses_with_back_pressure_at_the_memory_budget_until_one_finishes() {
    let budget = 16 << 10;
    let (handle, mut events, mut gate) = start(DriverConfig {
        memory_budget: budget,
        max_in_flight: 1,
        ..DriverConfig::default()
    });
    // Submit until the budget refuses; nothing finishes meanwhile (the gate
    // holds the one request in flight).
    let mut taken = Vec::new();
    let refusal = loop {
        assert!(taken.len() < 10_000, "the budget never refused");
        match handle.submit(&channel(taken.len()), &toast("fill"), &Options::default()) {
            Ok(ticket) => taken.push(ticket),
            Err(e) => break e,
        }
    };
    assert_eq!(refusal, DriverError::Submit(SubmitError::QueueFull));
    assert!(matches!(&refusal, DriverError::Submit(e) if e.is_back_pressure()));
    assert!(taken.len() > 1, "{} taken", taken.len());
    // The refusal is the budget's: everything taken is still held.
    let stats = handle.stats();
    assert_eq!(stats.pending, taken.len());
    assert_eq!(handle.pending(), taken.len());
    assert!(stats.memory_used <= budget, "{stats:?}");
    // The same submit is still refused while nothing has finished (one to a
    // channel already known may fit: it needs no new channel entry).
    assert_eq!(
        handle.submit(&channel(taken.len()), &toast("fill"), &Options::default()),
        Err(DriverError::Submit(SubmitError::QueueFull))
    );

    // One answer frees room: its final event comes, then a submit is taken.
    let first = arrival(&mut gate).await;
    first.answer(200, "Received");
    let (ticket, result, attempts) = finished(&mut events).await;
    assert!(taken.contains(&ticket));
    assert_eq!((result, attempts), (Finished::Accepted { device: None }, 1));
    assert_eq!(handle.pending(), taken.len() - 1);
    handle
        .submit(&channel(0), &toast("room again"), &Options::default())
        .expect("room after a final event");
}

#[tokio::test]
async fn cancel_queued_in_flight_finished_and_unknown() {
    let (handle, mut events, mut gate) = start(DriverConfig::default());
    let first = handle
        .submit(HTTP, &toast("in flight"), &Options::default())
        .unwrap();
    let second = handle
        .submit(HTTP, &toast("queued"), &Options::default())
        .unwrap();
    assert_eq!(handle.pending(), 2);
    // The first is on the wire (one per channel); the second waits behind it.
    let wire = arrival(&mut gate).await;
    assert_eq!(wire.channel, HTTP);

    // Queued: cancelled at once.
    assert_eq!(handle.cancel(second), Ok(Cancellation::Done));
    assert_eq!(
        finished(&mut events).await,
        (second, Finished::Cancelled, 0)
    );
    // In flight: cancelled when its response asks for a retry.
    assert_eq!(handle.cancel(first), Ok(Cancellation::AfterResponse));
    wire.answer(503, "");
    assert_eq!(finished(&mut events).await, (first, Finished::Cancelled, 1));
    assert_eq!(handle.pending(), 0);
    // Finished and delivered: unknown now, as is a ticket never handed out.
    assert_eq!(handle.cancel(first), Err(TicketError::Unknown(first)));
    assert_eq!(
        handle.cancel(Ticket(u64::MAX)),
        Err(TicketError::Unknown(Ticket(u64::MAX)))
    );

    // In flight and answered with a final outcome: that outcome, not a cancel
    // (on another host: the 503 paused db3's).
    let third = handle
        .submit(OTHER_HOST, &toast("answered"), &Options::default())
        .unwrap();
    let wire = arrival(&mut gate).await;
    assert_eq!(handle.cancel(third), Ok(Cancellation::AfterResponse));
    wire.answer(200, "Received");
    assert_eq!(
        finished(&mut events).await,
        (third, Finished::Accepted { device: None }, 1)
    );
}

#[tokio::test]
async fn pending_counts_until_the_final_event_is_delivered() {
    let (handle, mut events, mut gate) = start(DriverConfig::default());
    assert_eq!(handle.pending(), 0);
    let tickets: Vec<Ticket> = (0..3)
        .map(|i| {
            handle
                .submit(&channel(i), &toast("count"), &Options::default())
                .unwrap()
        })
        .collect();
    assert_eq!(handle.pending(), 3);
    for left in (0..3).rev() {
        let wire = arrival(&mut gate).await;
        // A retry (a channel's, so the others are not paused) keeps it
        // pending; a final event ends it.
        wire.answer(406, "Dropped");
        let retried = tokio::time::timeout(GUARD, events.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(
                retried,
                Event::Retrying {
                    reason: RetryReason::RateLimited,
                    ..
                }
            ),
            "{retried:?}"
        );
        assert_eq!(handle.pending(), left + 1);
        let Event::Retrying { ticket, .. } = retried else {
            unreachable!()
        };
        assert_eq!(handle.cancel(ticket), Ok(Cancellation::Done));
        assert_eq!(
            finished(&mut events).await,
            (ticket, Finished::Cancelled, 1)
        );
        assert_eq!(handle.pending(), left);
    }
    assert_eq!(handle.stats().pending, 0);
    assert!(
        tickets
            .iter()
            .all(|t| handle.cancel(*t) == Err(TicketError::Unknown(*t)))
    );
}

#[tokio::test]
async fn callback_registration_goes_to_the_callback_path_of_an_https_channel() {
    let (handle, mut events, mut gate) = start(DriverConfig::default());
    let endpoint = "https://example.com/inactive?device=1";
    let ticket = handle
        .submit_callback_registration(HTTPS, endpoint, b"<x/>")
        .unwrap();
    let wire = arrival(&mut gate).await;
    assert_eq!(wire.channel, HTTPS);
    assert_eq!(wire.target, "/unthrottledthirdparty/01.00/S/callback");
    assert_eq!(wire.callback_uri.as_deref(), Some(endpoint));
    wire.answer(200, "Received");
    assert_eq!(
        finished(&mut events).await,
        (ticket, Finished::Accepted { device: None }, 1)
    );

    // An http channel takes no callback; a bad URI is the channel's error.
    assert_eq!(
        handle.submit_callback_registration(HTTP, endpoint, b""),
        Err(DriverError::Submit(SubmitError::Encode(
            EncodeError::Field {
                field: FieldName::CallbackUri,
                problem: FieldProblem::NeedsAuthenticatedChannel,
            }
        )))
    );
    assert!(matches!(
        handle.submit_callback_registration("not a uri", endpoint, b""),
        Err(DriverError::Channel(_))
    ));
    assert_eq!(handle.pending(), 0);
}

#[tokio::test]
async fn a_dropped_event_receiver_does_not_stop_the_driver() {
    let (handle, events, mut gate) = start(DriverConfig::default());
    drop(events);
    for i in 0..3 {
        handle
            .submit(&channel(i), &toast("nobody listens"), &Options::default())
            .unwrap();
    }
    // Every request is still sent, and each answer still ends its notification.
    for _ in 0..3 {
        arrival(&mut gate).await.answer(200, "Received");
    }
    // The driver handles the answers on its own task: wait for it by its
    // count (a guard, not a measure).
    let waited = tokio::time::timeout(GUARD, async {
        while handle.pending() > 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(waited.is_ok(), "pending stuck at {}", handle.pending());
    assert_eq!(handle.stats().sent, 3);
    // And it still takes and sends more.
    handle
        .submit(&channel(9), &toast("still running"), &Options::default())
        .unwrap();
    assert_eq!(arrival(&mut gate).await.channel, channel(9));
}

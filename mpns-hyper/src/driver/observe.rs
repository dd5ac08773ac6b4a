//! What the driver tells operators: tracing events in a span per
//! notification, and with the `metrics` feature, counters and a latency
//! histogram through the `metrics` facade.
//!
//! Levels: `debug` for each attempt and its answer; `info` for each final
//! outcome that is not accepted, pauses of a channel or host, and quota
//! holds; `warn` for expired channels, rejections, anomalies, TLS failures,
//! proxy failures and 5xx storms ([`STORM`] answers 5xx in a row). Channel URIs appear only
//! redacted ([`crate::redact`]). A span is kept per pending notification
//! only while a subscriber wants it (info or more verbose for this crate).
//!
//! Metrics (feature `metrics`; names are stable):
//!
//! | name | type | labels |
//! |---|---|---|
//! | `mpns_attempts_total` | counter | |
//! | `mpns_finished_total` | counter | `outcome` (a `Finished` name) |
//! | `mpns_transport_errors_total` | counter | `kind` (a `TransportError`, snake case) |
//! | `mpns_pauses_total` | counter | `scope` (`channel`, `host`) |
//! | `mpns_quota_holds_total` | counter | |
//! | `mpns_channels_expired_total` | counter | |
//! | `mpns_attempt_duration_seconds` | histogram | |

use std::collections::HashMap;
use std::time::Duration;

use mpns_proto::sender::{Event, Finished, Transmit, TransportError};
use mpns_proto::{Outcome, RequestKind, Response, Scope, Ticket, classify};
use tracing::Span;

use crate::transport::TransportFailure;

/// Answers 5xx in a row (from any host) that make a storm: warned at this
/// count and at each doubling of it.
pub(crate) const STORM: u32 = 8;

/// The spans of notifications in flight or waiting, and the 5xx streak.
#[derive(Default)]
pub(super) struct Observer {
    /// Kept only while a subscriber wants the span (none: the map stays empty).
    spans: HashMap<Ticket, Span>,
    /// The notification whose answer is being handled and its channel: the
    /// warnings its answer causes name the channel when no span does.
    answering: Option<(Ticket, Box<str>)>,
    server_errors: u32,
}

fn kind_name(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Toast => "toast",
        RequestKind::Tile => "tile",
        RequestKind::Raw => "raw",
        RequestKind::CallbackRegistration => "callback_registration",
    }
}

fn transport_name(kind: TransportError) -> &'static str {
    match kind {
        TransportError::Refused => "refused",
        TransportError::Reset => "reset",
        TransportError::Timeout => "timeout",
        TransportError::Tls => "tls",
        TransportError::Protocol => "protocol",
        TransportError::Other => "other",
    }
}

impl Observer {
    /// The span of `t`'s notification (made at its first attempt: a
    /// notification recovered from a journal gets one too), and the debug
    /// event of this attempt.
    pub(super) fn attempt(&mut self, t: &Transmit<'_>) -> Span {
        #[cfg(feature = "metrics")]
        metrics::counter!("mpns_attempts_total").increment(1);
        let span = match self.spans.get(&t.ticket) {
            Some(span) => span.clone(),
            None => {
                let channel = t.request.channel();
                let span = tracing::info_span!(
                    "notification",
                    ticket = t.ticket.0,
                    host = %channel.host(),
                    kind = %kind_name(t.request.kind()),
                    channel = %crate::redact::channel(channel.as_str()),
                );
                if !span.is_disabled() {
                    self.spans.insert(t.ticket, span.clone());
                }
                span
            }
        };
        span.in_scope(|| tracing::debug!(attempt = t.attempt, "sending"));
        span
    }

    /// An attempt's answer, before the sender hears it.
    pub(super) fn answered(
        &mut self,
        span: &Span,
        ticket: Ticket,
        channel: Box<str>,
        result: &Result<Response, TransportFailure>,
        took: Duration,
    ) {
        self.answering = Some((ticket, channel));
        #[cfg(feature = "metrics")]
        metrics::histogram!("mpns_attempt_duration_seconds").record(took.as_secs_f64());
        let _entered = span.enter();
        let outcome = match result {
            Ok(response) => {
                if response.status >= 500 {
                    self.server_errors = self.server_errors.saturating_add(1);
                    let n = self.server_errors;
                    if n >= STORM && n.is_power_of_two() {
                        tracing::warn!(
                            in_a_row = n,
                            status = response.status,
                            "MPNS answers 5xx again and again"
                        );
                    }
                } else {
                    self.server_errors = 0;
                }
                let outcome = classify(response);
                tracing::debug!(
                    status = response.status,
                    outcome = outcome.name(),
                    took_ms = took.as_millis() as u64,
                    "answered"
                );
                outcome
            }
            Err(failure) => {
                let (kind, detail) = (&failure.kind(), failure.detail());
                #[cfg(feature = "metrics")]
                metrics::counter!("mpns_transport_errors_total", "kind" => transport_name(*kind))
                    .increment(1);
                // Trust or proxy settings to fix, not an outage of MPNS: warned.
                let warning = if *kind == TransportError::Tls {
                    Some("TLS failure")
                } else if failure.is_proxy_failure() {
                    Some("proxy failure")
                } else {
                    None
                };
                match warning {
                    Some(warning) => {
                        let channel = self.unspanned_channel(span, ticket);
                        tracing::warn!(
                            kind = transport_name(*kind),
                            channel = channel.as_deref().map(tracing::field::display),
                            %detail,
                            "{warning}"
                        );
                    }
                    None => tracing::debug!(kind = transport_name(*kind), %detail, "no response"),
                }
                Outcome::transport_failure()
            }
        };
        if let Outcome::Retry {
            reason,
            scope: scope @ (Scope::Channel | Scope::Host),
            retry_after_s,
            ..
        } = outcome
        {
            #[cfg(feature = "metrics")]
            metrics::counter!("mpns_pauses_total", "scope" => if scope == Scope::Host { "host" } else { "channel" })
                .increment(1);
            tracing::info!(
                ?reason,
                ?scope,
                retry_after_s,
                "pausing the {}",
                match scope {
                    Scope::Host => "host",
                    _ => "channel",
                }
            );
        }
    }

    /// The redacted channel of the notification being answered, for a
    /// warning outside its span (none when the span is kept: it names it).
    fn unspanned_channel(&self, span: &Span, ticket: Ticket) -> Option<String> {
        match &self.answering {
            Some((t, channel)) if *t == ticket && span.is_disabled() => {
                Some(crate::redact::channel(channel))
            }
            _ => None,
        }
    }

    /// One of the sender's events, before it goes to the application.
    pub(super) fn event(&mut self, event: &Event) {
        let ticket = match event {
            Event::Finished { ticket, .. }
            | Event::Retrying { ticket, .. }
            | Event::Deferred { ticket, .. }
            | Event::MessageIdMismatch { ticket }
            | Event::InDoubt { ticket, .. } => Some(*ticket),
            Event::ChannelExpired { .. } => None,
        };
        let span = match (ticket, event) {
            (Some(t), Event::Finished { .. }) => self.spans.remove(&t),
            (Some(t), _) => self.spans.get(&t).cloned(),
            (None, _) => None,
        };
        let _entered = span.as_ref().map(Span::enter);
        // Warnings name the channel when no span does (at the default level).
        let channel = || match (ticket, &span, &self.answering) {
            (_, Some(_), _) | (_, _, None) => None,
            (Some(t), None, Some((answered, _))) if t != *answered => None,
            (_, None, Some((_, channel))) => Some(crate::redact::channel(channel)),
        };
        match *event {
            Event::Finished {
                ticket,
                result,
                attempts,
            } => {
                #[cfg(feature = "metrics")]
                metrics::counter!("mpns_finished_total", "outcome" => result.name()).increment(1);
                let (ticket, outcome) = (ticket.0, result.name());
                match result {
                    Finished::Accepted { .. } => {
                        tracing::debug!(ticket, outcome, attempts, "finished")
                    }
                    Finished::Rejected { reason, status } => {
                        tracing::warn!(
                            ticket,
                            channel = channel().as_deref().map(tracing::field::display),
                            outcome,
                            ?reason,
                            status,
                            attempts,
                            "rejected"
                        )
                    }
                    Finished::Anomaly { reason, status } => tracing::warn!(
                        ticket,
                        channel = channel().as_deref().map(tracing::field::display),
                        outcome,
                        ?reason,
                        status,
                        attempts,
                        "not an MPNS answer"
                    ),
                    Finished::GaveUp { last } => {
                        tracing::info!(ticket, outcome, last = ?last, attempts, "gave up")
                    }
                    _ => tracing::info!(ticket, outcome, attempts, "not accepted"),
                }
            }
            Event::ChannelExpired {
                channel: channel_id,
            } => {
                #[cfg(feature = "metrics")]
                metrics::counter!("mpns_channels_expired_total").increment(1);
                tracing::warn!(
                    channel_id = channel_id.0,
                    channel = channel().as_deref().map(tracing::field::display),
                    "channel expired: delete it from the application's records"
                );
            }
            Event::Retrying { ticket, reason, at } => {
                tracing::debug!(
                    ticket = ticket.0,
                    ?reason,
                    at_ms = at.as_millis(),
                    "retrying"
                )
            }
            Event::Deferred { ticket, until } => {
                #[cfg(feature = "metrics")]
                metrics::counter!("mpns_quota_holds_total").increment(1);
                tracing::info!(
                    ticket = ticket.0,
                    until_ms = until.as_millis(),
                    "held by the channel's quota"
                )
            }
            Event::MessageIdMismatch { ticket } => {
                tracing::info!(ticket = ticket.0, "X-MessageID is not the one sent")
            }
            Event::InDoubt { ticket, attempt } => tracing::info!(
                ticket = ticket.0,
                attempt,
                "on the wire when the last process stopped: sent again"
            ),
        }
    }
}

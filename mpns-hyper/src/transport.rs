//! What the driver and the tool need from an HTTP transport, and the two this
//! crate has: [`DirectClient`], the core's own bytes over tokio streams (the
//! default: it costs less CPU per notification, see benches/README.md), and
//! the hyper [`Client`].

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use mpns_proto::sender::TransportError;
use mpns_proto::{ChannelUri, Notification, Options, Request, Response, classify};

use crate::client::{Client, ClientConfig, ClientError, OneShotError, Sent};
use crate::direct::DirectClient;

/// An error with its sources, shared (a failure is cloned into events and replies).
type SharedError = Arc<dyn std::error::Error + Send + Sync>;

/// Why a request got no response: the kind the core's sender takes, and the
/// error it came from, kept as the [`source`](std::error::Error::source)
/// (an I/O error, rustls's certificate error, hyper's, a proxy's refusal).
#[derive(Clone, Debug)]
pub struct TransportFailure {
    kind: TransportError,
    error: SharedError,
}

impl TransportFailure {
    /// A failure of `kind` caused by `error`.
    pub fn new(
        kind: TransportError,
        error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        TransportFailure {
            kind,
            error: Arc::from(error.into()),
        }
    }

    /// What failed, as the core's sender takes it.
    pub fn kind(&self) -> TransportError {
        self.kind
    }

    /// Whether a proxy was at fault: it was unreachable or refused the
    /// tunnel (a setting to fix, not an outage of MPNS).
    pub fn is_proxy_failure(&self) -> bool {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&*self.error);
        while let Some(e) = source {
            if e.is::<crate::proxy::ProxyFailure>() {
                return true;
            }
            source = crate::client::next_source(e);
        }
        false
    }

    /// The cause and its sources, one line.
    pub fn detail(&self) -> String {
        crate::client::error_chain(&*self.error)
    }
}

/// Two failures are equal when of the same kind with the same account.
impl PartialEq for TransportFailure {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.detail() == other.detail()
    }
}

impl Eq for TransportFailure {}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for TransportFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}

/// An error with what was being done when it happened.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) what: String,
    pub(crate) source: Box<dyn std::error::Error + Send + Sync>,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for Context {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

impl Context {
    /// A failure of `kind`: `what` failed because of `source`.
    pub(crate) fn failure(
        kind: TransportError,
        what: String,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> TransportFailure {
        TransportFailure::new(
            kind,
            Context {
                what,
                source: source.into(),
            },
        )
    }
}

/// Moves one request and brings back its status headers. Clones share their
/// connections.
pub trait Transport: Clone + Send + Sync + 'static {
    /// A request copied out of the core (whose storage is borrowed only
    /// while the driver holds its lock), ready to send.
    type Prepared: Send + 'static;

    /// Copies `request` out, in the form this transport sends.
    fn prepare(&self, request: &Request<'_>) -> Self::Prepared;

    /// Sends a prepared request and reads the MPNS status headers, within
    /// the client's timeout.
    fn send_prepared(
        &self,
        prepared: Self::Prepared,
    ) -> impl Future<Output = Result<Response, TransportFailure>> + Send;

    /// Sends one request.
    fn send_request(
        &self,
        request: &Request<'_>,
    ) -> impl Future<Output = Result<Response, TransportFailure>> + Send {
        self.send_prepared(self.prepare(request))
    }

    /// Validates, sends and classifies one notification: the one-shot path.
    fn send(
        &self,
        channel: &str,
        notification: &Notification<'_>,
        options: &Options<'_>,
    ) -> impl Future<Output = Result<Sent, OneShotError>> + Send {
        let prepared = ChannelUri::parse(channel)
            .map_err(OneShotError::Channel)
            .and_then(|channel| {
                Request::notification(channel, notification, options).map_err(OneShotError::Encode)
            })
            .map(|request| self.prepare(&request));
        async move {
            let response = self
                .send_prepared(prepared?)
                .await
                .map_err(OneShotError::Transport)?;
            Ok(Sent {
                response,
                outcome: classify(&response),
            })
        }
    }
}

/// Which transport to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// [`DirectClient`]: the core's bytes over tokio TCP and tokio-rustls.
    #[default]
    Direct,
    /// [`Client`]: hyper-util's pooled client.
    Hyper,
}

impl FromStr for TransportKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "direct" => Ok(TransportKind::Direct),
            "hyper" => Ok(TransportKind::Hyper),
            other => Err(format!("unknown transport {other:?}: direct or hyper")),
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Direct => "direct",
            TransportKind::Hyper => "hyper",
        })
    }
}

/// Either transport, chosen at run time (`mpns --transport`).
// One per process (clones per request slot): its size does not matter, a box would.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum AnyClient {
    /// The direct transport.
    Direct(DirectClient),
    /// The hyper client.
    Hyper(Client),
}

impl AnyClient {
    /// Builds a client of `kind`. Fails only for an unusable certificate or key.
    pub fn new(kind: TransportKind, config: ClientConfig) -> Result<Self, ClientError> {
        Ok(match kind {
            TransportKind::Direct => AnyClient::Direct(DirectClient::new(config)?),
            TransportKind::Hyper => AnyClient::Hyper(Client::new(config)?),
        })
    }
}

/// A request prepared by either transport.
// Moved once from the driver's lock to its worker; a box would cost an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum AnyPrepared {
    /// For the direct transport.
    Direct(<DirectClient as Transport>::Prepared),
    /// For the hyper client.
    Hyper(<Client as Transport>::Prepared),
}

impl Transport for AnyClient {
    type Prepared = AnyPrepared;

    fn prepare(&self, request: &Request<'_>) -> AnyPrepared {
        match self {
            AnyClient::Direct(c) => AnyPrepared::Direct(c.prepare(request)),
            AnyClient::Hyper(c) => AnyPrepared::Hyper(c.prepare(request)),
        }
    }

    async fn send_prepared(&self, prepared: AnyPrepared) -> Result<Response, TransportFailure> {
        match (self, prepared) {
            (AnyClient::Direct(c), AnyPrepared::Direct(p)) => c.send_prepared(p).await,
            (AnyClient::Hyper(c), AnyPrepared::Hyper(p)) => c.send_prepared(p).await,
            // Prepared by the other kind: a caller's mix-up, not a network failure.
            _ => Err(TransportFailure::new(
                TransportError::Other,
                "request prepared by another transport",
            )),
        }
    }
}

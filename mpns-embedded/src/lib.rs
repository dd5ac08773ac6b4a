//! MPNS on constrained gateways: drives the [`mpns_proto`] core over
//! `embedded-io` byte streams (blocking and async) and `embedded-svc` HTTP
//! clients, with no allocator.
//!
//! Every MPNS decision lives in the core: the request bytes
//! ([`Request::write_http`]), the exchange over a byte stream
//! ([`mpns_proto::HttpExchange`]: reading the response, keep-alive, the one
//! retry on a fresh connection), what a response means
//! ([`mpns_proto::classify`]), and when to send, retry or give up
//! ([`mpns_proto::Sender`]). This crate moves bytes and time. The protocol is
//! written down in the repository's `docs/protocol.md`.
//!
//! **The run loop** is the [`Gateway`]'s: `submit` notifications, then call
//! `poll(now)` whenever the board wakes: it sends what is due over your
//! transport, feeds the answers to the sender, and says when to wake next
//! ([`Round::next_timeout`]); `poll_event` reports each notification's end.
//!
//! **Tests.** `cargo test -p mpns-embedded` drives every transport against
//! scripted streams and connections on the host; `mpns-embedded/firmware`
//! builds the example and the core's vectors for a Cortex-M4F and CI runs
//! both under QEMU (their flash, static RAM and peak stack are checked).
//!
//! # Map
//!
//! | item | what |
//! |---|---|
//! | [`blocking::send`], [`asynch::send`] | one request and its response on a stream you own |
//! | [`blocking::StreamClient`], [`asynch::StreamClient`] | connections opened by your [`blocking::Connector`] (or [`asynch::Connector`]), one kept alive per host |
//! | `svc::send`, `svc::SvcClient`, `svc::asynch` | feature `embedded-svc`: an HTTP client such as esp-idf-svc's `EspHttpConnection` |
//! | `nal::NalConnector` | feature `nal`: an [`asynch::Connector`] over embedded-nal-async's `TcpConnect` and `Dns` (embassy-net's `TcpClient` and `DnsSocket`) |
//! | [`Gateway`] | a core [`Sender`](mpns_proto::Sender) driven over any of those: `poll(now)` sends what is due |
//! | [`SendError`], [`transport_error`] | what went wrong, and the [`TransportError`](mpns_proto::sender::TransportError) the sender takes |
//!
//! # Byte streams
//!
//! The stream transports write the core's HTTP/1.1 request in one buffer
//! (short writes are continued; a write of 0 bytes is an error), then read the
//! response through the core's incremental reader: reads of any size, one byte
//! included; the end of the stream completes a response without a length.
//! TLS is the stream's business (embedded-tls, a modem's TLS socket...).
//!
//! [`blocking::StreamClient`] keeps one connection per host open across
//! requests and reconnects when a response says `Connection: close`, when the
//! server closed the connection, or after any failure. A request that fails
//! before any response byte on a connection that already carried one (the
//! server may have closed it while it was idle) is sent once more on a new
//! connection.
//!
//! Errors of the stream map to the core's transport failures with
//! [`transport_error`]: refused, reset, timed out, other. `embedded-io` has no
//! TLS kind, so a [`blocking::Connector`] reports a failed handshake itself.
//! Nothing here reads a clock: give your streams a read timeout (Microsoft
//! recommended 15 s) that fails with [`embedded_io::ErrorKind::TimedOut`].
//!
//! # Buffers
//!
//! Everything is lent by the caller or sized by const generics.
//!
//! | buffer | size |
//! |---|---|
//! | exchange buffer, stream transports | the request, [`Request::http_len`], and then the response head (MPNS sends about 300 bytes; give at least 512). 1 KiB covers typical toasts to typical channel URIs; 5,138 bytes covers any request under MPNS's default limits (5 + 1,024 of target + 11 + 1,024 of headers + 2 + 3,072 of body) |
//! | exchange buffer, embedded-svc | the absolute URI and the body, `svc::buffer_needed`: at most 1,033 + 3,072 bytes |
//! | the sender's arena | `Q` slots of channel URI + body: see [`mpns_proto::sender`] ("Memory") |
//! | stack | the core's reader parses a head with [`MAX_RESPONSE_HEADERS`] httparse headers on the stack (16 bytes each on 32-bit targets) |
//!
//! A stream client holds up to `N` connections (`N` hosts); the gateway holds
//! the sender, the transport and a reference to the exchange buffer.
//! [`Gateway::submit`] refuses a request that would not fit the buffer, so a
//! queued request never fails for lack of room. On `thumbv7em-none-eabihf` a
//! `Sender<_, 4, 4>` takes 1,072 bytes and the gateway around it 1,176.
//!
//! # On the target
//!
//! `mpns-embedded/firmware` holds cortex-m-rt binaries with no global
//! allocator (they link only if nothing allocates): the example encodes a
//! toast, sends it over an in-memory stream, classifies the response and runs
//! a 4-notification gateway; `mpns-vectors` checks the core's request and
//! response vectors and the example's sender run on the target. CI runs both
//! on an emulated Cortex-M4 (QEMU's netduinoplus2); the firmware's README
//! gives their flash, static RAM and peak stack. CI also builds this crate
//! for `thumbv7em-none-eabihf` with every combination of features.
//!
//! # Features
//!
//! - `tiles` (default): tile notifications, forwarded to mpns-proto. A
//!   toast- and raw-only gateway turns default features off to save about
//!   5 KB of flash.
//! - `embedded-svc`: the `svc` transports.
//! - `nal`: `nal::NalConnector`, connections through embedded-nal-async.
//! - `defmt`: `defmt::Format` on the public types, forwarded to mpns-proto,
//!   heapless, embedded-io and embedded-svc; the crate logs through defmt.
//! - `log`: the crate logs through `log` (defmt wins when both are on).
//!
//! Without either logging feature the crate logs nothing.
//!
//! # ESP-IDF
//!
//! esp-idf-svc's `EspHttpConnection` implements embedded-svc's `Connection`.
//! An authenticated sender (`https` channels) gives it its client certificate
//! and key; MPNS's server certificate chains to a public root (the ESP-IDF
//! certificate bundle). Not compiled here (it needs the ESP-IDF toolchain):
//!
//! ```rust,ignore
//! use esp_idf_svc::http::client::{Configuration, EspHttpConnection};
//! use esp_idf_svc::tls::X509;
//! use mpns_embedded::{Gateway, svc::SvcClient};
//! use mpns_proto::sender::{Event, Sender, SenderConfig, TransportError};
//! use mpns_proto::{ChannelUri, Instant, Notification, Options, Toast};
//!
//! // PEM, NUL-terminated as ESP-IDF wants it.
//! static CERT: &str = concat!(include_str!("../certs/client.crt"), "\0");
//! static KEY: &str = concat!(include_str!("../certs/client.key"), "\0");
//!
//! let config = Configuration {
//!     client_certificate: Some(X509::pem_until_nul(CERT.as_bytes())),
//!     private_key: Some(X509::pem_until_nul(KEY.as_bytes())),
//!     crt_bundle_attach: Some(esp_idf_svc::sys::esp_crt_bundle_attach),
//!     timeout: Some(core::time::Duration::from_secs(15)),
//!     ..Default::default()
//! };
//! // A new connection whenever the old one is unusable.
//! let client = SvcClient::new(|| EspHttpConnection::new(&config).map_err(|_| TransportError::Tls));
//!
//! let mut arena = [0u8; 8 * 1024];
//! let mut buf = [0u8; 2 * 1024];
//! // A random seed per boot spreads the retries of many gateways.
//! let seed = u64::from(unsafe { esp_idf_svc::sys::esp_random() });
//! let sender: Sender<_, 8, 16> = Sender::new(SenderConfig { seed, ..SenderConfig::default() }, &mut arena[..]);
//! let mut gateway = Gateway::new(sender, client, &mut buf);
//!
//! let boot = std::time::Instant::now();
//! let now = || Instant::from_millis(boot.elapsed().as_millis() as u64);
//! let channel = ChannelUri::parse("https://sn1.notify.live.net/unthrottledthirdparty/01.00/AAG5O...")?;
//! let toast = Notification::Toast(Toast { text1: Some("Door"), text2: Some("opened"), ..Toast::default() });
//! gateway.submit(now(), channel, &toast, &Options::default())?;
//! loop {
//!     let round = gateway.poll(now());
//!     while let Some(event) = gateway.poll_event() {
//!         if let Event::ChannelExpired { channel } = event {
//!             // delete the channel from your store
//!         }
//!     }
//!     // sleep until round.next_timeout, or until new work arrives
//! }
//! ```
//!
//! # TLS on embedded-nal-async
//!
//! `nal::NalConnector` opens TCP only. For `https` channels (authenticated
//! MPNS, which needs the sender's TLS client certificate) put TLS on the
//! connection it opens. With embedded-tls (checked against its 0.19 sources):
//!
//! - it speaks **TLS 1.3 only**. MPNS's servers were built before TLS 1.3
//!   and this project has not seen them accept it, so a client that cannot
//!   fall back to TLS 1.2 may not reach real authenticated MPNS endpoints.
//!   (mpns-hyper's emulator, on rustls, accepts TLS 1.3.)
//! - **client certificates are supported**: its `CryptoProvider` gives the
//!   certificate (`client_cert`) and the key that signs the handshake
//!   (`signer`). The bundled `UnsecureProvider` takes a DER certificate
//!   (`with_cert`) and a P-256 ECDSA key in SEC1 DER (`with_priv_key`); an
//!   RSA client key needs a provider of your own whose `signer` signs with
//!   it. `UnsecureProvider` does not verify the server's certificate: a
//!   production provider's `verifier` must (embedded-tls's `rustpki` feature
//!   verifies without std).
//! - `TlsConnection` borrows its record buffers (16 KiB to read any record,
//!   less only if the server honours a smaller maximum fragment length), so
//!   a TLS gateway needs far more RAM than the 8 KiB the example stays in,
//!   and a connector that hands out connections would need a pool of those
//!   buffers. The simplest transport opens a connection per exchange.
//!
//! Not compiled here (embedded-tls is not a dependency):
//!
//! ```rust,ignore
//! use embedded_nal_async::{Dns, TcpConnect};
//! use embedded_tls::{
//!     Aes128GcmSha256, Certificate, CryptoRngCore, TlsConfig, TlsConnection, TlsContext,
//!     UnsecureProvider,
//! };
//! use mpns_embedded::{ExchangeBuffer, SendError, asynch, nal::NalConnector};
//! use mpns_proto::{Request, Response, sender::TransportError};
//!
//! /// One TLS connection per notification, with the sender's certificate.
//! struct MutualTls<'a, T, D, R> {
//!     net: NalConnector<'a, T, D>,
//!     rng: R,
//!     cert_der: &'a [u8],
//!     key_der: &'a [u8], // P-256, SEC1 DER
//!     read_record: [u8; 16 * 1024],
//!     write_record: [u8; 4 * 1024],
//! }
//!
//! impl<T: TcpConnect, D: Dns, R: CryptoRngCore> ExchangeBuffer for MutualTls<'_, T, D, R> {
//!     fn buffer_needed(&self, request: &Request<'_>) -> usize {
//!         request.http_len()
//!     }
//! }
//!
//! impl<T: TcpConnect, D: Dns, R: CryptoRngCore> asynch::Exchange for MutualTls<'_, T, D, R> {
//!     async fn exchange(&mut self, request: &Request<'_>, buf: &mut [u8]) -> Result<Response, SendError> {
//!         let c = request.channel();
//!         let tcp = self.net.open(c.host(), c.port()).await.map_err(SendError::Connect)?;
//!         let mut tls: TlsConnection<'_, _, Aes128GcmSha256> =
//!             TlsConnection::new(tcp, &mut self.read_record, &mut self.write_record);
//!         let config = TlsConfig::new().with_server_name(c.host());
//!         let provider = UnsecureProvider::new::<Aes128GcmSha256>(&mut self.rng)
//!             .with_cert(Certificate::X509(self.cert_der))
//!             .with_priv_key(self.key_der);
//!         tls.open(TlsContext::new(&config, provider))
//!             .await
//!             .map_err(|_| SendError::Connect(TransportError::Tls))?;
//!         let result = asynch::send(&mut tls, request, buf).await;
//!         let _ = tls.close().await;
//!         result.map(|r| r.response)
//!     }
//! }
//! // Gateway::new(sender, MutualTls { .. }, &mut buf), driven by `poll_async`.
//! ```
//!
//! On ESP32 parts, ESP-IDF's TLS (mbedTLS: TLS 1.2, client
//! certificates with RSA or ECDSA keys) through the `embedded-svc` feature is
//! the other route: see "ESP-IDF" above.
//!
//! # Core gaps
//!
//! Two things the core does not decide yet, handled here in one place each:
//! a response that is not valid HTTP is reported to the sender as
//! [`TransportError::Other`](mpns_proto::sender::TransportError::Other)
//! ([`SendError::transport_error`]), and a request that cannot be sent for a
//! local reason (a buffer too small, only possible around [`Gateway::submit`])
//! ends as cancelled.

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(
    clippy::std_instead_of_core,
    clippy::alloc_instead_of_core,
    clippy::std_instead_of_alloc
)]

#[macro_use]
mod fmt;

pub mod asynch;
pub mod blocking;
mod error;
mod gateway;
#[cfg(feature = "nal")]
pub mod nal;
mod pool;
#[cfg(feature = "embedded-svc")]
pub mod svc;

pub use mpns_proto;

pub use error::{SendError, transport_error};
pub use gateway::{Gateway, GatewaySubmitError, Round};
pub use mpns_proto::exchange::MAX_RESPONSE_HEADERS;

use mpns_proto::{ChannelUri, EncodeError, Notification, Options, Request};

/// What every transport tells the [`Gateway`]: how much exchange buffer a
/// request needs. Sending is [`blocking::Exchange`] or [`asynch::Exchange`].
pub trait ExchangeBuffer {
    /// Bytes of exchange buffer `request` needs.
    fn buffer_needed(&self, request: &Request<'_>) -> usize;
}

impl<T: ExchangeBuffer + ?Sized> ExchangeBuffer for &mut T {
    fn buffer_needed(&self, request: &Request<'_>) -> usize {
        (**self).buffer_needed(request)
    }
}

/// Writes the whole HTTP/1.1 request of `notification` into `buf`, returning its length.
pub fn write_request(
    channel: &str,
    notification: &Notification<'_>,
    options: &Options<'_>,
    buf: &mut [u8],
) -> Result<usize, WriteRequestError> {
    let channel = ChannelUri::parse(channel).map_err(WriteRequestError::Channel)?;
    mpns_proto::encode_request(channel, notification, options, buf)
        .map_err(WriteRequestError::Encode)
}

/// Why [`write_request`] failed (a buffer too small is left unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WriteRequestError {
    /// The channel URI was refused.
    Channel(mpns_proto::UriError),
    /// The notification was refused, or the buffer is too small.
    Encode(EncodeError),
}

impl core::fmt::Display for WriteRequestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WriteRequestError::Channel(e) => write!(f, "channel URI: {e}"),
            WriteRequestError::Encode(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for WriteRequestError {}

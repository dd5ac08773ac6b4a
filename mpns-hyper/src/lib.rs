//! MPNS on servers with tokio, and the `mpns` command-line tool.
//!
//! **The run loop** is the [`driver`]'s: a tokio task owns the core's
//! [`mpns_proto::GrowableSender`], takes submits from any task, sends each
//! request due over a [`transport::Transport`] (the [`direct`] transport by
//! default, or the hyper [`client`]), feeds the answers and tokio's timers
//! back, and streams the sender's events. Every MPNS decision stays in
//! `mpns-proto`; the protocol is written down in the repository's
//! `docs/protocol.md`, the journal's format in `docs/journal.md`.
//!
//! **Tests and benchmarks.** `cargo test -p mpns-hyper` runs everything over
//! real loopback sockets against the `emulator` (the end-to-end tests once
//! per transport, mutual TLS with certificates made by `pki`, the real CLI
//! binary); `mpns bench` and `benches/peers/compare.sh` measure throughput
//! and client CPU (benches/README.md).
//!
//! | module | what |
//! |---|---|
//! | [`transport`] | the [`transport::Transport`] trait the driver and the tool run over; [`transport::AnyClient`] picks one at run time |
//! | [`direct`] | the default transport: the core's bytes and [`mpns_proto::HttpExchange`] over pooled tokio TCP / tokio-rustls streams, mutual TLS |
//! | [`client`] | the hyper transport: pooled keep-alive hyper-util client, mutual TLS with rustls (`ring`); [`client::ClientConfig`] for both |
//! | [`driver`] | runs the core's [`mpns_proto::GrowableSender`] over a transport: submit from any task, events as a stream; over a journal, nothing is lost when the process dies ([`driver::Driver::recover`]) |
//! | [`journal`] | append-only local journal file: checksummed frames, group-commit fsync on a thread, torn-tail recovery, compaction |
//! | `emulator` | feature `emulator`: a local MPNS that checks requests the way MPNS did and answers per channel behaviour |
//! | `pki` | feature `emulator`: certificates made at run time (rcgen) for the emulator, the demo and tests |
//! | [`proxy`] | HTTP proxies for both transports: `CONNECT` tunnels, `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` |
//! | [`redact`] | channel URIs as logs show them (host and the token's last characters) |
//! | [`input`] | bounded reads of stdin and files: every input refused past its limit |
//! | `cli` | feature `cli` (default): the `mpns` tool: `encode`, `decode`, `send`, `batch`, `emulator`, `demo`, `bench`, `completions` (exit codes, JSON fields, logs: `docs/cli.md`) |
//!
//! Every MPNS decision stays in `mpns-proto`: this crate moves bytes, time and TLS.
//!
//! # Features
//!
//! - `cli` (default): the `mpns` binary and the `cli` module; turns on `emulator`.
//! - `emulator`: the `emulator` and `pki` modules.
//! - `metrics`: the driver's counters and latency histogram through the
//!   `metrics` facade (names in `docs/cli.md`).
//!
//! Without them (`default-features = false`) the crate is the transports,
//! the driver and the journal, with no clap, indicatif, rcgen, serde-xml-rs,
//! tracing-subscriber or h2.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "cli")]
pub mod cli;
pub mod client;
mod conn_watch;
pub mod direct;
pub mod driver;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod input;
pub mod journal;
#[cfg(feature = "emulator")]
pub mod pki;
pub mod proxy;
pub mod redact;
pub mod transport;

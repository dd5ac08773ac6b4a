//! MPNS over hyper on servers, and the `mpns` command-line tool.
//!
//! | module | what |
//! |---|---|
//! | [`client`] | pooled keep-alive hyper client, mutual TLS with rustls (`ring`), one-shot [`client::Client::send`] |
//! | [`driver`] | runs the core's [`mpns_proto::GrowableSender`] over the client: submit from any task, events as a stream; over a journal, nothing is lost when the process dies ([`driver::Driver::recover`]) |
//! | [`journal`] | append-only local journal file: checksummed frames, group-commit fsync on a thread, torn-tail recovery, compaction |
//! | [`emulator`] | a local MPNS that checks requests the way MPNS did and answers per channel behaviour |
//! | [`pki`] | certificates made at run time (rcgen) for the emulator, the demo and tests |
//! | [`cli`] | the `mpns` tool: `encode`, `decode`, `send`, `batch`, `emulator`, `demo`, `bench` |
//!
//! Every MPNS decision stays in `mpns-proto`: this crate moves bytes, time and TLS.

#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod driver;
pub mod emulator;
mod header_names;
pub mod journal;
pub mod pki;

//! MPNS over hyper on servers, and the `mpns` command-line tool.
//!
//! Today this crate holds the `mpns` binary's `encode` command ([`cli`]); the
//! pooled hyper client, mutual TLS and the emulator follow.

#![forbid(unsafe_code)]

pub mod cli;

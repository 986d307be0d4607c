//! Integration tests of ledger-http: in process through `app` and against
//! the real binary. One test binary keeps linking time down.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod admin;
mod backends;
mod binary;
mod common;
mod dashboard;
mod dump;
mod errors;
mod events;
mod fuzz_targets;
mod general_ledger;
mod journey;
mod operate;
mod ops;
mod over_time;
mod people;
mod publish;
mod security;

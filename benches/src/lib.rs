//! # ledger-bench
//!
//! Measures the ledger: the backend comparison harness ([`compare`]), the
//! HTTP load generator ([`http`]), and helpers the criterion benches in
//! `benches/` share ([`fixture`]).
//!
//! The harness runs N client tasks that each send one transfer at a time
//! (accounts drawn with a [`zipf`] skew; or, with `--workload split|both`,
//! one general ledger entry of three postings, beside the transfers with
//! the split/transfer ratio) to a ledger on each backend, and in
//! the same run to a **baseline** that writes the same rows by hand without
//! ledger logic ([`baseline`]), and, beside group commit, to a grouped
//! baseline that commits one command per client in a single storage
//! transaction (group commit by hand). It prints a markdown table of
//! transfers per second and latency percentiles with ledger/baseline and
//! ledger/grouped ratios ([`report`]), writes JSON, and draws an SVG chart
//! ([`chart`]). With `--rounds N` each setting runs N times, alternated,
//! after a warm-up round, and the report adds medians, spreads and ratios
//! over rounds ([`rounds`], [`summary`]); every report ends with issue 26's
//! bars ([`bars`]). `--instances N` runs N ledger processes on one
//! PostgreSQL schema ([`instance`]); `--instances 1,2` runs both counts in
//! every round and reports the `x one process` ratio.
//!
//! Run it with `cargo run --release -p ledger-bench -- --help`; the numbers
//! and the exact commands are in `docs/benchmarks.md`.

pub mod backend;
pub mod bars;
pub mod baseline;
pub mod chart;
pub mod compare;
pub mod criterion_ratios;
pub mod driver;
pub mod error;
pub mod fixture;
pub mod http;
pub mod instance;
pub mod invariants;
pub mod latency;
pub mod options;
pub mod report;
pub mod rounds;
pub mod summary;
pub mod zipf;

pub use error::BenchError;

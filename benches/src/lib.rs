//! Criterion benches for the ledger; see the `[[bench]]` targets.

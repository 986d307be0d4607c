//! Examples that embed the ledger; see the `[[example]]` targets.

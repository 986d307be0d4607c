//! sled backend for the ledger (filled in by the durable-backends work).

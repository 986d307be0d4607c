//! sqlx backend for the ledger: PostgreSQL and SQLite (filled in by the durable-backends work).

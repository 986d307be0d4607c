//! Baselines: the writes one ledger transfer makes, done by hand with no
//! ledger logic, on the same storage with the same durability and the
//! locking the ledger needs to be correct.
//!
//! Per transfer, in one storage transaction: lock and read the audit head,
//! lock and read both accounts, look the idempotency key up, then write
//! both accounts' balances, the transaction, its two postings, the
//! idempotency record, the audit record and the new audit head. What the
//! ledger adds on top (planning, `decide`, SHA-256 fingerprints and the
//! audit hash chain, JSON encodings, events) is what the ratio prices.

mod postgres;
mod sled_raw;
mod sqlite;

pub use postgres::PostgresBaseline;
pub use sled_raw::SledBaseline;
pub use sqlite::SqliteBaseline;

use std::sync::Arc;

use crate::BenchError;
use crate::driver::Workload;
use crate::options::{Backend, Durability};

/// The schema the PostgreSQL baseline's tables live in.
pub const BASELINE_SCHEMA: &str = "bench_baseline";
/// Account numbers of seeded baseline accounts start here (12 digits).
const ACCOUNT_NUMBER_BASE: i64 = 100_000_000_000;
/// What a baseline transfer moves, in units of 10^-4 (0.01).
const TRANSFER_UNITS: i64 = 100;
/// What a seeded baseline account starts with, in units of 10^-4 (1,000,000).
const SEED_UNITS: i64 = 1_000_000 * 10_000;
/// Rows per seeding `INSERT`.
const SEED_ROWS_PER_INSERT: usize = 500;
/// Sequences per audit record, as the ledger's `SEQUENCE_STRIDE`.
const SEQUENCE_STRIDE: i64 = ledger_core::SEQUENCE_STRIDE as i64;

/// A baseline opened and seeded with `accounts` accounts, if the backend has
/// one (the in-memory store has none).
pub async fn open(
    backend: Backend,
    durability: Durability,
    postgres: &str,
    accounts: usize,
    clients: usize,
) -> Result<Option<Arc<dyn Workload>>, BenchError> {
    Ok(match backend {
        Backend::Memory => None,
        Backend::Sled => Some(Arc::new(SledBaseline::open(durability, accounts)?)),
        Backend::Sqlite => Some(Arc::new(SqliteBaseline::open(accounts, clients).await?)),
        Backend::Postgres => Some(Arc::new(PostgresBaseline::open(postgres, durability, accounts, clients).await?)),
    })
}

/// The audit metadata a ledger transfer records.
fn audit_metadata(key: &str) -> String {
    serde_json::json!({ "idempotency_key": key }).to_string()
}

/// The JSON list of transaction ids an idempotency record keeps.
fn transaction_ids(id: uuid::Uuid) -> String {
    serde_json::json!([id.to_string()]).to_string()
}

/// A 32-byte stand-in for a digest the ledger would compute (the baseline
/// hashes nothing).
fn digest_bytes(seq: i64) -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    bytes[..8].copy_from_slice(&seq.to_be_bytes());
    bytes
}

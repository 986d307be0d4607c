//! Baselines: the writes one ledger transfer makes, done by hand with no
//! ledger logic, on the same storage with the same durability and the
//! locking the ledger needs to be correct.
//!
//! Per command (one transfer, or `--batch-size` transfers), in one storage
//! transaction: lock and read the audit head, lock and read the accounts,
//! look the idempotency key up, then write each account's new balance, each
//! transfer's transaction and two postings, one idempotency record, one
//! audit record and the new audit head, as the ledger does. What the
//! ledger adds on top (planning, `decide`, SHA-256 fingerprints and the
//! audit hash chain, JSON encodings, events) is what the ratio prices.

mod postgres;
mod sled_raw;
mod sqlite;

pub use postgres::PostgresBaseline;
pub use sled_raw::SledBaseline;
pub use sqlite::SqliteBaseline;

use std::collections::HashMap;
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

// The SQL both database baselines send, with `$n` placeholders (both accept
// them); the binds differ (PostgreSQL numerics and timestamps, SQLite
// integer units, text balances and microseconds).

/// Looks a command's idempotency key up.
const IDEMPOTENCY_SELECT: &str = "SELECT key FROM idempotency WHERE key = $1";
/// Writes one account's new posted balance.
const BALANCE_UPDATE: &str = "UPDATE accounts SET posted = $1, updated_at = $2 WHERE id = $3";
/// The head of a multi-row insert of transfers' transactions.
const TRANSACTIONS_INSERT: &str = "INSERT INTO transactions (id, sequence, kind, status, amount, currency, from_account, to_account, \
     description, captured_amount, expires_at, created_at, updated_at) ";
/// The head of a multi-row insert of transfers' postings.
const POSTINGS_INSERT: &str = "INSERT INTO postings (sequence, transaction_id, account_id, amount, currency) ";
/// Inserts a command's idempotency record.
const IDEMPOTENCY_INSERT: &str =
    "INSERT INTO idempotency (key, fingerprint, transaction_ids, created_at) VALUES ($1, $2, $3, $4)";
/// Inserts a command's audit record.
const AUDIT_INSERT: &str = "INSERT INTO audit_log (sequence, at, actor, action, target, outcome, code, reason, metadata, \
     prev_hash, hash) VALUES ($1, $2, 'system', 'transfer', $3, 'accepted', NULL, NULL, $4, $5, $6)";
/// Moves the audit head.
const AUDIT_HEAD_UPDATE: &str = "UPDATE audit_head SET sequence = $1, hash = $2 WHERE id = 1";

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
fn transaction_ids(ids: &[uuid::Uuid]) -> String {
    serde_json::json!(ids.iter().map(uuid::Uuid::to_string).collect::<Vec<_>>()).to_string()
}

/// The audit target the ledger records for a command of `moves`.
fn audit_target(moves: &[(uuid::Uuid, uuid::Uuid)]) -> String {
    match moves {
        [(from, _)] => format!("account:{from}"),
        _ => format!("batch:{}", moves.len()),
    }
}

/// The accounts a command's transfers touch, distinct and in id order: the
/// order every committer locks them in, so no two deadlock.
fn lock_order(moves: &[(uuid::Uuid, uuid::Uuid)]) -> Vec<uuid::Uuid> {
    let ids: std::collections::BTreeSet<uuid::Uuid> = moves.iter().flat_map(|(from, to)| [*from, *to]).collect();
    ids.into_iter().collect()
}

/// Applies the transfers of `amount` to `balances` in order; a transfer
/// that would overdraw its payer fails the whole command.
fn settle<K, T>(balances: &mut HashMap<K, T>, moves: &[(K, K)], amount: T) -> Result<(), BenchError>
where
    K: Copy + Eq + std::hash::Hash,
    T: Copy + PartialOrd + std::ops::Add<Output = T> + std::ops::Sub<Output = T>,
{
    for (from, to) in moves {
        let missing = || BenchError::Baseline("an account row is missing or unreadable".into());
        let payer = *balances.get(from).ok_or_else(missing)?;
        if payer < amount {
            return Err(BenchError::Baseline("insufficient funds".into()));
        }
        balances.insert(*from, payer - amount);
        let payee = balances.get_mut(to).ok_or_else(missing)?;
        *payee = *payee + amount;
    }
    Ok(())
}

/// A 32-byte stand-in for a digest the ledger would compute (the baseline
/// hashes nothing).
fn digest_bytes(seq: i64) -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    bytes[..8].copy_from_slice(&seq.to_be_bytes());
    bytes
}

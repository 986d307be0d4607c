//! Baselines: the writes one ledger transfer makes, done by hand with no
//! ledger logic, on the same storage with the same durability and the
//! locking the ledger needs to be correct.
//!
//! Per command (one transfer, or `--batch-size` transfers), in one storage
//! transaction: lock and read the audit head, lock and read the accounts,
//! look the idempotency key up, then write each account's new balance (one
//! statement for all of them), each transfer's transaction and two
//! postings, one idempotency record, one audit record and the new audit
//! head, as the ledger does. What the
//! ledger adds on top (planning, `decide`, SHA-256 fingerprints and the
//! audit hash chain, JSON encodings, events) is what the ratio prices.
//!
//! A *grouped* baseline commits several commands, each with its own key and
//! audit record, in one storage transaction with one flush: group commit
//! done by hand, from one client, with nothing to coordinate: about the
//! most group commit can reach with those writes and that SQL (the ledger's
//! own bulk statements on PostgreSQL do better).

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

/// The most rows one multi-row `INSERT` carries (SQLite binds at most
/// 32766 values per statement: 13 per transaction row fits 1000 rows).
const ROWS_PER_INSERT: usize = 1000;
/// The head of a multi-row insert of transfers' transactions.
const TRANSACTIONS_INSERT: &str = "INSERT INTO transactions (id, sequence, kind, status, amount, currency, from_account, to_account, \
     description, captured_amount, expires_at, created_at, updated_at) ";
/// The head of a multi-row insert of transfers' postings.
const POSTINGS_INSERT: &str =
    "INSERT INTO postings (sequence, transaction_id, account_id, amount, currency, balance_after, at) ";
/// The head of a multi-row insert of commands' idempotency records.
const IDEMPOTENCY_INSERT: &str = "INSERT INTO idempotency (key, fingerprint, transaction_ids, created_at) ";
/// The head of a multi-row insert of commands' audit records.
const AUDIT_INSERT: &str =
    "INSERT INTO audit_log (sequence, at, actor, action, target, outcome, code, reason, metadata, prev_hash, hash) ";
/// Moves the audit head.
const AUDIT_HEAD_UPDATE: &str = "UPDATE audit_head SET sequence = $1, hash = $2 WHERE id = 1";

/// Whether the backend has a baseline (the in-memory store has none).
pub fn exists(backend: Backend) -> bool {
    backend != Backend::Memory
}

/// A baseline opened and seeded with `accounts` accounts, if the backend has
/// one (the in-memory store has none). It splits each call's transfers into
/// commands of `command_size` (see `commands`).
pub async fn open(
    backend: Backend,
    durability: Durability,
    postgres: &str,
    accounts: usize,
    (clients, command_size): (usize, usize),
) -> Result<Option<Arc<dyn Workload>>, BenchError> {
    Ok(match backend {
        Backend::Memory => None,
        Backend::Sled => Some(Arc::new(SledBaseline::open(durability, accounts, command_size)?)),
        Backend::Sqlite => Some(Arc::new(SqliteBaseline::open(accounts, clients, command_size).await?)),
        Backend::Postgres => {
            Some(Arc::new(PostgresBaseline::open(postgres, durability, accounts, (clients, command_size)).await?))
        }
    })
}

/// One command of a baseline call: its transfers and its idempotency key.
struct Command<'a, K> {
    moves: Vec<(K, K)>,
    key: std::borrow::Cow<'a, str>,
}

/// The commands one driver call stands for: `pairs` in chunks of
/// `command_size` transfers, mapped to account ids by `id`. A call of one
/// command keeps the driver's key; more get `{key}-{i}` each.
fn commands<'a, K>(
    pairs: &[crate::driver::Pair],
    key: &'a str,
    command_size: usize,
    id: impl Fn(usize) -> K,
) -> Vec<Command<'a, K>> {
    let chunks: Vec<&[crate::driver::Pair]> = pairs.chunks(command_size.max(1)).collect();
    let single = chunks.len() == 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| Command {
            moves: chunk.iter().map(|&(from, to)| (id(from), id(to))).collect(),
            key: if single { key.into() } else { format!("{key}-{i}").into() },
        })
        .collect()
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

/// The accounts the commands' transfers touch, distinct and in id order: the
/// order every committer locks them in, so no two deadlock.
fn lock_order(commands: &[Command<'_, uuid::Uuid>]) -> Vec<uuid::Uuid> {
    let ids: std::collections::BTreeSet<uuid::Uuid> =
        commands.iter().flat_map(|c| &c.moves).flat_map(|(from, to)| [*from, *to]).collect();
    ids.into_iter().collect()
}

/// Applies the transfers of `amount` to `balances` in order; a transfer
/// that would overdraw its payer fails the whole command. Returns each
/// posting's account balance after it, payer then payee per transfer (the
/// order of [`sequenced_postings`]), which the ledger stores with every
/// posting (`balance_after`).
fn settle<K, T>(balances: &mut HashMap<K, T>, moves: &[(K, K)], amount: T) -> Result<Vec<T>, BenchError>
where
    K: Copy + Eq + std::hash::Hash,
    T: Copy + PartialOrd + std::ops::Add<Output = T> + std::ops::Sub<Output = T>,
{
    let mut after = Vec::with_capacity(moves.len() * 2);
    for (from, to) in moves {
        let missing = || BenchError::Baseline("an account row is missing or unreadable".into());
        let payer = *balances.get(from).ok_or_else(missing)?;
        if payer < amount {
            return Err(BenchError::Baseline("insufficient funds".into()));
        }
        balances.insert(*from, payer - amount);
        after.push(payer - amount);
        let payee = balances.get_mut(to).ok_or_else(missing)?;
        *payee = *payee + amount;
        after.push(*payee);
    }
    Ok(after)
}

/// The commands of a call that are not replays, each with the audit
/// sequence it takes (from `head + 1`, in order) and a new id per transfer.
fn sequenced<'c, 'a>(
    commands: &'c [Command<'a, uuid::Uuid>],
    replayed: &std::collections::HashSet<String>,
    head: i64,
) -> Vec<Sequenced<'c, 'a>> {
    let fresh = commands.iter().filter(|c| !replayed.contains(c.key.as_ref()));
    fresh
        .enumerate()
        .map(|(n, c)| (c, head + 1 + n as i64, c.moves.iter().map(|_| uuid::Uuid::now_v7()).collect()))
        .collect()
}

/// A command to write, with its audit sequence and transaction ids.
type Sequenced<'c, 'a> = (&'c Command<'a, uuid::Uuid>, i64, Vec<uuid::Uuid>);

/// Every transfer of the `written` commands: its transaction's sequence,
/// its transaction id and its accounts.
fn sequenced_transfers(written: &[Sequenced<'_, '_>]) -> Vec<(i64, uuid::Uuid, (uuid::Uuid, uuid::Uuid))> {
    let mut transfers = Vec::new();
    for (command, seq, ids) in written {
        for (i, (moved, id)) in command.moves.iter().zip(ids).enumerate() {
            transfers.push((seq * SEQUENCE_STRIDE + i as i64, *id, *moved));
        }
    }
    transfers
}

/// Every posting of the `written` commands: its sequence, its transaction
/// id, its account and its amount (`-amount` for the payer, `amount` for
/// the payee), two per transfer, numbered from the command's first sequence.
fn sequenced_postings<T>(written: &[Sequenced<'_, '_>], amount: T) -> Vec<(i64, uuid::Uuid, uuid::Uuid, T)>
where
    T: Copy + std::ops::Neg<Output = T>,
{
    let mut postings = Vec::new();
    for (command, seq, ids) in written {
        let lines =
            command.moves.iter().zip(ids).flat_map(|((from, to), id)| [(*id, *from, -amount), (*id, *to, amount)]);
        for (i, (id, account, amount)) in lines.enumerate() {
            postings.push((seq * SEQUENCE_STRIDE + i as i64, id, account, amount));
        }
    }
    postings
}

/// The multi-row inserts of everything the `written` commands write but the
/// balances: transactions, postings (each with its account's balance after
/// it, `after`, in the order of [`sequenced_postings`], and its commit
/// time), idempotency records and audit records, at most
/// [`ROWS_PER_INSERT`] rows each, with `amount`, balances and `now` in the
/// backend's money, balance and timestamp types (both baselines send the
/// same SQL).
fn row_inserts<'q, DB, A, B, T>(
    written: &'q [Sequenced<'_, '_>],
    amount: A,
    after: &'q [B],
    now: T,
) -> Vec<sqlx::QueryBuilder<'q, DB>>
where
    DB: sqlx::Database,
    DB::Arguments<'q>: Default,
    B: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    A: Copy + 'q + std::ops::Neg<Output = A> + sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    T: Copy + 'q + sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<A>: sqlx::Encode<'q, DB>,
    Option<T>: sqlx::Encode<'q, DB>,
    Option<String>: sqlx::Encode<'q, DB>,
    uuid::Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut inserts = Vec::new();
    for chunk in sequenced_transfers(written).chunks(ROWS_PER_INSERT) {
        let mut q = sqlx::QueryBuilder::new(TRANSACTIONS_INSERT);
        q.push_values(chunk, |mut row, (sequence, id, (from, to))| {
            row.push_bind(*id).push_bind(*sequence).push_bind("transfer").push_bind("posted");
            row.push_bind(amount).push_bind("USD").push_bind(*from).push_bind(*to).push_bind(None::<String>);
            row.push_bind(None::<A>).push_bind(None::<T>).push_bind(now).push_bind(now);
        });
        inserts.push(q);
    }
    let postings: Vec<_> = sequenced_postings(written, amount).into_iter().zip(after).collect();
    for chunk in postings.chunks(ROWS_PER_INSERT) {
        let mut q = sqlx::QueryBuilder::new(POSTINGS_INSERT);
        q.push_values(chunk, |mut row, ((sequence, id, account, amount), after)| {
            row.push_bind(*sequence).push_bind(*id).push_bind(*account).push_bind(*amount).push_bind("USD");
            row.push_bind(*after).push_bind(now);
        });
        inserts.push(q);
    }
    for chunk in written.chunks(ROWS_PER_INSERT) {
        let mut q = sqlx::QueryBuilder::new(IDEMPOTENCY_INSERT);
        q.push_values(chunk, |mut row, (command, seq, ids)| {
            row.push_bind(command.key.as_ref()).push_bind(digest_bytes(*seq)).push_bind(transaction_ids(ids));
            row.push_bind(now);
        });
        inserts.push(q);
        let mut q = sqlx::QueryBuilder::new(AUDIT_INSERT);
        q.push_values(chunk, |mut row, (command, seq, _)| {
            row.push_bind(*seq).push_bind(now).push("'system'").push("'transfer'");
            row.push_bind(audit_target(&command.moves)).push("'accepted'").push("NULL").push("NULL");
            row.push_bind(audit_metadata(&command.key)).push_bind(digest_bytes(seq - 1)).push_bind(digest_bytes(*seq));
        });
        inserts.push(q);
    }
    inserts
}

/// A 32-byte stand-in for a digest the ledger would compute (the baseline
/// hashes nothing).
fn digest_bytes(seq: i64) -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    bytes[..8].copy_from_slice(&seq.to_be_bytes());
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_splits_into_commands_of_the_command_size_each_with_its_own_key() {
        let pairs = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)];
        let grouped = commands(&pairs, "k", 2, |i| i * 10);
        let shape: Vec<(Vec<(usize, usize)>, &str)> =
            grouped.iter().map(|c| (c.moves.clone(), c.key.as_ref())).collect();
        assert_eq!(
            shape,
            vec![(vec![(0, 10), (20, 30)], "k-0"), (vec![(40, 50), (60, 70)], "k-1"), (vec![(80, 90)], "k-2")]
        );
        let single = commands(&pairs, "k", 5, |i| i);
        assert_eq!(single.len(), 1);
        assert_eq!((single[0].moves.len(), single[0].key.as_ref()), (5, "k"), "one command keeps the driver's key");
    }

    #[test]
    fn a_groups_transfers_and_postings_are_numbered_from_each_commands_first_sequence() {
        let a = uuid::Uuid::from_u128(1);
        let b = uuid::Uuid::from_u128(2);
        let (t1, t2) = (uuid::Uuid::from_u128(10), uuid::Uuid::from_u128(20));
        let grouped = commands(&[(0, 1), (1, 0)], "k", 1, |i| [a, b][i]);
        let written: Vec<Sequenced<'_, '_>> = vec![(&grouped[0], 3, vec![t1]), (&grouped[1], 4, vec![t2])];
        let first = |seq: i64| seq * SEQUENCE_STRIDE;
        assert_eq!(sequenced_transfers(&written), [(first(3), t1, (a, b)), (first(4), t2, (b, a))]);
        assert_eq!(
            sequenced_postings(&written, 5),
            [(first(3), t1, a, -5), (first(3) + 1, t1, b, 5), (first(4), t2, b, -5), (first(4) + 1, t2, a, 5)]
        );
    }
}

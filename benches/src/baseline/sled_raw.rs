//! The hand-written sled transfer: one sled transaction over the trees the
//! ledger's sled store writes for a transfer, with values of about the size
//! of the ledger's JSON records.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::*;
use crate::driver::Pair;

/// Approximate sizes, in bytes, of the ledger's JSON values for an account,
/// a transaction, a posting, an idempotency record and an audit record.
const ACCOUNT_VALUE_LEN: usize = 330;
const TRANSACTION_VALUE_LEN: usize = 350;
const POSTING_VALUE_LEN: usize = 200;
const IDEMPOTENCY_VALUE_LEN: usize = 220;
const AUDIT_VALUE_LEN: usize = 480;
/// The meta key of the audit head, as the ledger's store names it.
const AUDIT_HEAD_KEY: &[u8] = b"audit_head";

/// Transfers by hand on a sled database of its own.
pub struct SledBaseline {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    /// accounts, account_history, transaction_ids, transactions,
    /// account_postings, idempotency, audit, audit_by_actor, meta.
    trees: Vec<sled::Tree>,
    accounts: Vec<[u8; 16]>,
    flush: bool,
    /// Transfers per command: a call of more is several commands.
    command_size: usize,
    _dir: tempfile::TempDir,
}

const TREES: [&str; 9] = [
    "accounts",
    "account_history",
    "transaction_ids",
    "transactions",
    "account_postings",
    "idempotency",
    "audit",
    "audit_by_actor",
    "meta",
];

/// A value of `len` bytes whose first 8 hold `n`.
fn value(n: i64, len: usize) -> Vec<u8> {
    let mut v = vec![b'x'; len];
    v[..8].copy_from_slice(&n.to_be_bytes());
    v
}

fn read_i64(bytes: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

impl SledBaseline {
    /// Opens a sled database in a temporary directory and seeds it; each
    /// call's transfers are commands of `command_size`.
    pub fn open(durability: Durability, accounts: usize, command_size: usize) -> Result<SledBaseline, BenchError> {
        let dir = tempfile::Builder::new()
            .prefix("ledger-bench-sled-")
            .tempdir()
            .map_err(|e| BenchError::io("temp dir", e))?;
        let db = sled::Config::new().path(dir.path()).open()?;
        let trees = TREES.iter().map(|name| db.open_tree(name)).collect::<Result<Vec<_>, _>>()?;
        let accounts: Vec<[u8; 16]> = (0..accounts).map(|_| *uuid::Uuid::now_v7().as_bytes()).collect();
        for id in &accounts {
            trees[0].insert(id, value(SEED_UNITS, ACCOUNT_VALUE_LEN))?;
        }
        trees[8].insert(AUDIT_HEAD_KEY, value(0, 40))?;
        db.flush()?;
        let flush = durability == Durability::Strict;
        Ok(SledBaseline { inner: Arc::new(Inner { db, trees, accounts, flush, command_size, _dir: dir }) })
    }
}

type Abort = ConflictableTransactionError<BenchError>;

/// Aborts the transaction with `reason`.
fn abort(reason: &str) -> Abort {
    Abort::Abort(BenchError::Baseline(reason.to_owned()))
}

/// One command's transfers with the transaction id of each, drawn before
/// the sled transaction (whose closure may run more than once).
struct Planned<'a> {
    command: Command<'a, [u8; 16]>,
    ids: Vec<[u8; 16]>,
}

impl Inner {
    /// Commits `commands` in one sled transaction (and one flush), each
    /// command with its own idempotency record and audit record.
    fn commit(&self, commands: Vec<Command<'_, [u8; 16]>>) -> Result<(), BenchError> {
        let planned: Vec<Planned<'_>> = commands
            .into_iter()
            .map(|command| {
                let ids = command.moves.iter().map(|_| *uuid::Uuid::now_v7().as_bytes()).collect();
                Planned { command, ids }
            })
            .collect();
        let trees: Vec<&sled::Tree> = self.trees.iter().collect();
        let result = <[&sled::Tree] as Transactional<BenchError>>::transaction(trees.as_slice(), |t| {
            let [accounts, history, ids_tree, transactions, postings, idempotency, audit, by_actor, meta] = &t[..]
            else {
                return Err(abort("sled returned fewer trees than given"));
            };
            let mut seq = meta.get(AUDIT_HEAD_KEY)?.and_then(|v| read_i64(&v)).unwrap_or(0);
            for Planned { command, ids } in &planned {
                let moves = &command.moves;
                let mut balances: HashMap<[u8; 16], i64> = HashMap::new();
                for id in moves.iter().flat_map(|(from, to)| [from, to]) {
                    let bytes = accounts.get(id)?.ok_or_else(|| abort("missing account"))?;
                    balances.insert(*id, read_i64(&bytes).ok_or_else(|| abort("short account value"))?);
                }
                if idempotency.get(command.key.as_bytes())?.is_some() {
                    continue;
                }
                settle(&mut balances, moves, TRANSFER_UNITS).map_err(Abort::Abort)?;
                for (id, units) in &balances {
                    accounts.insert(id, value(*units, ACCOUNT_VALUE_LEN))?;
                }
                seq += 1;
                for (i, ((from, to), transaction)) in moves.iter().zip(ids).enumerate() {
                    let order = seq * SEQUENCE_STRIDE + i as i64;
                    let base = order.to_be_bytes();
                    for id in [from, to] {
                        history.insert([&id[..], &base[..]].concat(), &[])?;
                    }
                    ids_tree.insert(transaction, &base)?;
                    transactions.insert(&base, value(seq, TRANSACTION_VALUE_LEN))?;
                    for (j, id) in [from, to].into_iter().enumerate() {
                        let posting = (seq * SEQUENCE_STRIDE + 2 * i as i64 + j as i64).to_be_bytes();
                        postings.insert([&id[..], &posting[..]].concat(), value(seq, POSTING_VALUE_LEN))?;
                    }
                }
                idempotency.insert(command.key.as_bytes(), value(seq, IDEMPOTENCY_VALUE_LEN))?;
                audit.insert(&seq.to_be_bytes(), value(seq, AUDIT_VALUE_LEN))?;
                by_actor.insert([&6u64.to_be_bytes()[..], b"system", &seq.to_be_bytes()[..]].concat(), &[])?;
            }
            meta.insert(AUDIT_HEAD_KEY, value(seq, 40))?;
            Ok(())
        });
        result.map_err(|e| match e {
            TransactionError::Abort(error) => error,
            TransactionError::Storage(source) => BenchError::Sled(source),
        })?;
        if self.flush {
            self.db.flush()?;
        }
        Ok(())
    }
}

#[async_trait]
impl Workload for SledBaseline {
    async fn transfers(&self, pairs: &[Pair], key: &str) -> Result<(), BenchError> {
        let inner = self.inner.clone();
        let (pairs, key) = (pairs.to_vec(), key.to_owned());
        tokio::task::spawn_blocking(move || {
            let commands = commands(&pairs, &key, inner.command_size, |i| inner.accounts[i]);
            inner.commit(commands)
        })
        .await
        .map_err(|e| BenchError::Baseline(format!("the sled task failed: {e}")))?
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_grouped_call_writes_each_command_with_its_own_key_and_audit_record_once() {
        let baseline = SledBaseline::open(Durability::Strict, 10, 1).unwrap();
        let pairs = [(0, 1), (2, 3), (4, 5), (0, 9)];
        baseline.transfers(&pairs, "g").await.unwrap();
        baseline.transfers(&pairs, "g").await.unwrap();

        let inner = &baseline.inner;
        let keys: Vec<Vec<u8>> = inner.trees[5].iter().keys().map(|k| k.unwrap().to_vec()).collect();
        assert_eq!(keys, [b"g-0", b"g-1", b"g-2", b"g-3"], "one record per command; the second call replayed them all");
        let audit: Vec<i64> = inner.trees[6].iter().keys().map(|k| read_i64(&k.unwrap()).unwrap()).collect();
        assert_eq!(audit, [1, 2, 3, 4]);
        let lens: Vec<usize> = [3, 4, 7].iter().map(|&t| inner.trees[t].len()).collect();
        assert_eq!(lens, [4, 8, 4], "transactions, postings, audit_by_actor");
        let head = inner.trees[8].get(AUDIT_HEAD_KEY).unwrap().and_then(|v| read_i64(&v));
        assert_eq!(head, Some(4));
        let balance = |i: usize| read_i64(&inner.trees[0].get(inner.accounts[i]).unwrap().unwrap()).unwrap();
        let moved = |i: usize| balance(i) - SEED_UNITS;
        assert_eq!((moved(0), moved(1), moved(9)), (-2 * TRANSFER_UNITS, TRANSFER_UNITS, TRANSFER_UNITS));
    }
}

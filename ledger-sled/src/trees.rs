//! The trees of a ledger database, and the reads and writes `apply` makes
//! through them inside one sled transaction.

use ledger_core::{
    Account, AuditHead, AuditRecord, Digest, IdempotencyRecord, Keys, SEQUENCE_STRIDE, Snapshot, StorageError,
    Transaction, TransactionStatus, Writes,
};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Db, Transactional, Tree};

use crate::codec::{decode, encode};
use crate::error::{self, corrupt};
use crate::keys;

/// The storage format this crate writes; opening another one fails.
const FORMAT_VERSION: &[u8] = b"1";

/// What a transaction closure returns: sled's conflict signal, or our error
/// (which aborts the transaction without writing anything).
pub(crate) type TxResult<T> = Result<T, ConflictableTransactionError<StorageError>>;

/// Every tree of a ledger database. Values are JSON; keys as in [`keys`].
#[derive(Debug, Clone)]
pub(crate) struct Trees {
    /// The database, for flushing.
    pub db: Db,
    /// `account id -> Account`.
    pub accounts: Tree,
    /// `account number -> account id`: numbers are unique.
    pub account_numbers: Tree,
    /// `owner || order || account id -> ()`: an owner's accounts, oldest first.
    pub accounts_by_owner: Tree,
    /// `sequence -> Transaction`: all transactions in commit order.
    pub transactions: Tree,
    /// `transaction id -> sequence`.
    pub transaction_ids: Tree,
    /// `account id || sequence -> ()`: transactions touching an account.
    pub account_history: Tree,
    /// `account id || posting sequence -> Posting`.
    pub account_postings: Tree,
    /// `idempotency key -> IdempotencyRecord`.
    pub idempotency: Tree,
    /// `audit sequence -> AuditRecord`.
    pub audit: Tree,
    /// `expiry || hold id -> sequence`: pending holds with an expiry.
    pub holds_by_expiry: Tree,
    /// Small named values: the audit head and the format version.
    pub meta: Tree,
}

impl Trees {
    /// Opens (creating if missing) every tree, and checks the format version.
    /// `existed` says whether the directory held a sled database before this
    /// open (then it must carry our format marker).
    pub fn open(db: Db, existed: bool) -> Result<Trees, StorageError> {
        refuse_foreign(&db)?;
        let tree = |name: &str| db.open_tree(name).map_err(|e| error::sled(&format!("cannot open tree {name}"), e));
        let trees = Trees {
            accounts: tree("accounts")?,
            account_numbers: tree("account_numbers")?,
            accounts_by_owner: tree("accounts_by_owner")?,
            transactions: tree("transactions")?,
            transaction_ids: tree("transaction_ids")?,
            account_history: tree("account_history")?,
            account_postings: tree("account_postings")?,
            idempotency: tree("idempotency")?,
            audit: tree("audit")?,
            holds_by_expiry: tree("holds_by_expiry")?,
            meta: tree("meta")?,
            db,
        };
        let format = trees.meta.get(keys::META_FORMAT).map_err(|e| error::sled("cannot read the format version", e))?;
        match format {
            Some(version) if version.as_ref() == FORMAT_VERSION => {}
            Some(version) => {
                let found = String::from_utf8_lossy(&version).into_owned();
                return Err(StorageError::new(
                    error::BACKEND,
                    format!("unsupported storage format version {found:?} (this build reads version 1)"),
                ));
            }
            // sled recovers an unreadable log as an empty database; starting a
            // new ledger over it would bury the old one for good.
            None if existed => {
                return Err(StorageError::new(
                    error::BACKEND,
                    "the sled database has no ledger format marker: it is another program's, was never \
                     initialised, or its log is unreadable; refusing to start a new ledger over it",
                ));
            }
            None => {
                trees
                    .meta
                    .insert(keys::META_FORMAT, FORMAT_VERSION)
                    .map_err(|e| error::sled("cannot write the format version", e))?;
                // Durable before any data, so a database with data always has it.
                trees.db.flush().map_err(|e| error::sled("cannot flush the format version", e))?;
            }
        }
        Ok(trees)
    }

    /// Runs `body` in one serializable sled transaction over every tree.
    ///
    /// sled may run `body` more than once (on a conflict), so it must not have
    /// side effects outside the transaction; an `Err` from it aborts with
    /// nothing written.
    pub fn transaction<A>(&self, body: impl Fn(&DbTx<'_>) -> TxResult<A>) -> Result<A, StorageError> {
        let trees = (
            &self.accounts,
            &self.account_numbers,
            &self.accounts_by_owner,
            &self.transactions,
            &self.transaction_ids,
            &self.account_history,
            &self.account_postings,
            &self.idempotency,
            &self.audit,
            &self.holds_by_expiry,
            &self.meta,
        );
        let result = trees.transaction(
            |(
                accounts,
                account_numbers,
                accounts_by_owner,
                transactions,
                transaction_ids,
                account_history,
                account_postings,
                idempotency,
                audit,
                holds_by_expiry,
                meta,
            )| {
                body(&DbTx {
                    accounts,
                    account_numbers,
                    accounts_by_owner,
                    transactions,
                    transaction_ids,
                    account_history,
                    account_postings,
                    idempotency,
                    audit,
                    holds_by_expiry,
                    meta,
                })
            },
        );
        result.map_err(|e| match e {
            TransactionError::Abort(error) => error,
            TransactionError::Storage(source) => error::sled("the storage transaction failed", source),
        })
    }
}

/// The names of the trees, as [`Trees::open`] opens them.
const TREE_NAMES: &[&str] = &[
    "accounts",
    "account_numbers",
    "accounts_by_owner",
    "transactions",
    "transaction_ids",
    "account_history",
    "account_postings",
    "idempotency",
    "audit",
    "holds_by_expiry",
    "meta",
];

/// Refuses a sled database some other program wrote (data in sled's default
/// tree, or trees we do not know), so we never mix our trees into it.
fn refuse_foreign(db: &Db) -> Result<(), StorageError> {
    let default_tree = b"__sled__default".as_slice();
    let foreign = db
        .tree_names()
        .into_iter()
        .find(|name| name.as_ref() != default_tree && !TREE_NAMES.iter().any(|ours| ours.as_bytes() == name.as_ref()));
    if let Some(name) = foreign {
        let name = String::from_utf8_lossy(&name).into_owned();
        return Err(StorageError::new(
            error::BACKEND,
            format!("not a ledger database: it holds a tree named {name:?} this crate does not write"),
        ));
    }
    if !db.is_empty() {
        return Err(StorageError::new(error::BACKEND, "not a ledger database: sled's default tree holds data"));
    }
    Ok(())
}

/// The trees as seen inside one sled transaction (a `db_tx`): reads see the
/// transaction's own earlier writes.
pub(crate) struct DbTx<'a> {
    accounts: &'a TransactionalTree,
    account_numbers: &'a TransactionalTree,
    accounts_by_owner: &'a TransactionalTree,
    transactions: &'a TransactionalTree,
    transaction_ids: &'a TransactionalTree,
    account_history: &'a TransactionalTree,
    account_postings: &'a TransactionalTree,
    idempotency: &'a TransactionalTree,
    audit: &'a TransactionalTree,
    holds_by_expiry: &'a TransactionalTree,
    meta: &'a TransactionalTree,
}

/// Turns our error into one that aborts the transaction.
fn abort(error: StorageError) -> ConflictableTransactionError<StorageError> {
    ConflictableTransactionError::Abort(error)
}

/// Encodes a value, aborting the transaction on failure.
fn value<T: serde::Serialize>(what: &str, v: &T) -> TxResult<Vec<u8>> {
    encode(what, v).map_err(abort)
}

impl DbTx<'_> {
    /// Loads the state of `keys` and the audit head: point reads only, which
    /// is all sled transactions offer and all [`ledger_core::decide`] needs.
    pub fn snapshot(&self, keys: &Keys) -> TxResult<Snapshot> {
        let mut snapshot = Snapshot { audit_head: self.audit_head()?, ..Snapshot::default() };
        for id in &keys.accounts {
            if let Some(bytes) = self.accounts.get(keys::account(*id))? {
                snapshot.accounts.insert(*id, decode::<Account>("an account", &bytes).map_err(abort)?);
            }
        }
        for id in &keys.transactions {
            if let Some(t) = self.transaction(*id)? {
                snapshot.transactions.insert(*id, t);
            }
        }
        for number in &keys.account_numbers {
            if self.account_numbers.get(keys::number(*number))?.is_some() {
                snapshot.taken_numbers.insert(*number);
            }
        }
        if let Some(key) = &keys.idempotency
            && let Some(bytes) = self.idempotency.get(key.as_str().as_bytes())?
        {
            snapshot.idempotency = Some(decode::<IdempotencyRecord>("an idempotency record", &bytes).map_err(abort)?);
        }
        Ok(snapshot)
    }

    fn transaction(&self, id: ledger_core::TransactionId) -> TxResult<Option<Transaction>> {
        let Some(seq) = self.transaction_ids.get(keys::transaction(id))? else { return Ok(None) };
        let bytes = self
            .transactions
            .get(seq.as_ref())?
            .ok_or_else(|| abort(corrupt("a transaction id points at no transaction")))?;
        Ok(Some(decode("a transaction", &bytes).map_err(abort)?))
    }

    /// The end of the audit chain, kept in the meta tree because sled
    /// transactions cannot read the audit tree's last key.
    fn audit_head(&self) -> TxResult<AuditHead> {
        let Some(bytes) = self.meta.get(keys::META_AUDIT_HEAD)? else { return Ok(AuditHead::default()) };
        decode_head(&bytes).map_err(abort)
    }

    /// Writes everything a committed batch produced.
    pub fn write(&self, writes: &Writes) -> TxResult<()> {
        let order_base = writes.audit.sequence.saturating_mul(SEQUENCE_STRIDE);
        for (i, account) in writes.new_accounts.iter().enumerate() {
            self.account_numbers.insert(&keys::number(account.number), &keys::account(account.id))?;
            let order = order_base + i as u64;
            self.accounts_by_owner.insert(&keys::owner_account(account.owner, order, account.id)[..], &[])?;
            self.accounts.insert(&keys::account(account.id), value("an account", account)?)?;
        }
        for account in &writes.updated_accounts {
            self.accounts.insert(&keys::account(account.id), value("an account", account)?)?;
        }
        for t in &writes.new_transactions {
            let seq = keys::sequence(t.sequence);
            for account in t.from_account.iter().chain(t.to_account.iter()) {
                self.account_history.insert(&keys::account_sequence(*account, t.sequence), &[])?;
            }
            if let (TransactionStatus::Pending, Some(expiry)) = (t.status, t.expires_at) {
                self.holds_by_expiry.insert(&keys::expiry(expiry, t.id), &seq)?;
            }
            self.transaction_ids.insert(&keys::transaction(t.id), &seq)?;
            self.transactions.insert(&seq, value("a transaction", t)?)?;
        }
        for t in &writes.updated_transactions {
            // A hold that left Pending can no longer expire.
            if let Some(expiry) = t.expires_at
                && t.status != TransactionStatus::Pending
            {
                self.holds_by_expiry.remove(&keys::expiry(expiry, t.id))?;
            }
            self.transactions.insert(&keys::sequence(t.sequence), value("a transaction", t)?)?;
        }
        for p in &writes.postings {
            self.account_postings.insert(&keys::account_sequence(p.account_id, p.sequence), value("a posting", p)?)?;
        }
        if let Some(record) = &writes.idempotency {
            self.idempotency.insert(record.key.as_str().as_bytes(), value("an idempotency record", record)?)?;
        }
        self.append_audit(&writes.audit)
    }

    /// Appends an audit record and moves the head to it.
    pub fn append_audit(&self, record: &AuditRecord) -> TxResult<()> {
        self.audit.insert(&keys::sequence(record.sequence), value("an audit record", record)?)?;
        self.meta.insert(keys::META_AUDIT_HEAD, &encode_head(record.head())[..])?;
        Ok(())
    }
}

/// The audit head as `sequence (8, big-endian) || hash (32)`.
fn encode_head(head: AuditHead) -> [u8; 40] {
    let mut bytes = [0; 40];
    bytes[..8].copy_from_slice(&head.sequence.to_be_bytes());
    bytes[8..].copy_from_slice(&head.hash.0);
    bytes
}

/// Reads [`encode_head`]'s bytes.
fn decode_head(bytes: &[u8]) -> Result<AuditHead, StorageError> {
    let (seq, hash) = (bytes.get(..8), bytes.get(8..));
    match (seq, hash) {
        (Some(seq), Some(hash)) if hash.len() == 32 => {
            let mut s = [0; 8];
            s.copy_from_slice(seq);
            let mut h = [0; 32];
            h.copy_from_slice(hash);
            Ok(AuditHead { sequence: u64::from_be_bytes(s), hash: Digest(h) })
        }
        _ => Err(corrupt("the audit head")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_heads_round_trip() {
        let head = AuditHead { sequence: 42, hash: Digest([7; 32]) };
        assert_eq!(decode_head(&encode_head(head)).ok(), Some(head));
        assert!(decode_head(&[1, 2, 3]).is_err());
    }
}

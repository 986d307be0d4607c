//! The trees of a ledger database, and the reads and writes `apply` makes
//! through them inside one sled transaction.

use std::collections::{BTreeMap, BTreeSet};

use ledger_core::identity::{ResetToken, Session, SessionId, User};
use ledger_core::{
    Account, AuditHead, AuditRecord, Digest, IdempotencyRecord, Keys, SEQUENCE_STRIDE, Snapshot, StorageError,
    Transaction, TransactionStatus, UserId, Writes,
};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Db, Transactional, Tree};

use crate::codec::{decode, encode};
use crate::error::{self, corrupt};
use crate::keys;

/// The storage format this crate writes; opening another one fails.
/// Version 2 added the identity trees and the `audit_by_actor` index (a
/// version 1 database has audit records that index does not list).
const FORMAT_VERSION: &[u8] = b"2";

/// What a transaction closure returns: sled's conflict signal, or our error
/// (which aborts the transaction without writing anything).
pub(crate) type TxResult<T> = Result<T, ConflictableTransactionError<StorageError>>;

/// Declares the trees once: the [`Trees`] handles, their names, and the
/// [`DbTx`] view of them inside a transaction, all in the same order.
macro_rules! trees {
    ($($(#[$doc:meta])* $name:ident,)+) => {
        /// Every tree of a ledger database. Values are JSON; keys as in [`keys`].
        #[derive(Debug, Clone)]
        pub(crate) struct Trees {
            /// The database, for flushing.
            pub db: Db,
            $($(#[$doc])* pub $name: Tree,)+
        }

        /// The names of the trees, as [`Trees::open`] opens them.
        const TREE_NAMES: &[&str] = &[$(stringify!($name)),+];

        impl Trees {
            /// Opens (creating if missing) every tree.
            fn open_all(db: Db) -> Result<Trees, StorageError> {
                let tree =
                    |name: &str| db.open_tree(name).map_err(|e| error::sled(&format!("cannot open tree {name}"), e));
                Ok(Trees { $($name: tree(stringify!($name))?,)+ db })
            }

            /// Every tree, in declaration order (the order [`DbTx::from_view`] reads).
            fn all(&self) -> Vec<&Tree> {
                vec![$(&self.$name),+]
            }
        }

        /// The trees as seen inside one sled transaction (a `db_tx`): reads see
        /// the transaction's own earlier writes.
        pub(crate) struct DbTx<'a> {
            $($(#[$doc])* $name: &'a TransactionalTree,)+
        }

        impl<'a> DbTx<'a> {
            /// Names the transactional trees of [`Trees::all`], in its order.
            fn from_view(view: &'a [TransactionalTree]) -> Option<DbTx<'a>> {
                let mut trees = view.iter();
                Some(DbTx { $($name: trees.next()?,)+ })
            }
        }
    };
}

trees! {
    /// `account id -> Account`.
    accounts,
    /// `account number -> account id`: numbers are unique.
    account_numbers,
    /// `owner || order || account id -> ()`: an owner's accounts, oldest first.
    accounts_by_owner,
    /// `sequence -> Transaction`: all transactions in commit order.
    transactions,
    /// `transaction id -> sequence`.
    transaction_ids,
    /// `account id || sequence -> ()`: transactions touching an account.
    account_history,
    /// `account id || posting sequence -> Posting`.
    account_postings,
    /// `idempotency key -> IdempotencyRecord`.
    idempotency,
    /// `audit sequence -> AuditRecord`.
    audit,
    /// `len || actor || audit sequence -> ()`: each actor's audit records.
    audit_by_actor,
    /// `expiry || hold id -> sequence`: pending holds with an expiry.
    holds_by_expiry,
    /// `user id -> User`.
    users,
    /// `normalised email -> user id`: emails are unique.
    user_emails,
    /// `session id -> Session`.
    sessions,
    /// `token digest -> session id`: token digests are unique.
    session_tokens,
    /// `user id || order || session id -> ()`: a user's sessions, oldest first.
    user_sessions,
    /// `user id -> session id || session id || ...`: a user's unrevoked
    /// sessions, as one value a transaction can point-read.
    live_sessions,
    /// `token digest -> ResetToken`.
    reset_tokens,
    /// Small named values: the audit head and the format version.
    meta,
}

impl Trees {
    /// Opens (creating if missing) every tree, and checks the format version.
    /// `existed` says whether the directory held a sled database before this
    /// open (then it must carry our format marker).
    pub fn open(db: Db, existed: bool) -> Result<Trees, StorageError> {
        refuse_foreign(&db)?;
        let trees = Trees::open_all(db)?;
        let format = trees.meta.get(keys::META_FORMAT).map_err(|e| error::sled("cannot read the format version", e))?;
        match format {
            Some(version) if version.as_ref() == FORMAT_VERSION => {}
            Some(version) => {
                let found = String::from_utf8_lossy(&version).into_owned();
                let ours = String::from_utf8_lossy(FORMAT_VERSION);
                return Err(StorageError::new(
                    error::BACKEND,
                    format!("unsupported storage format version {found:?} (this build reads version {ours})"),
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
        // More trees than sled's tuple impls take (14), so a slice of them.
        let all = self.all();
        let result = <[&Tree] as Transactional<StorageError>>::transaction(all.as_slice(), |view| {
            let db_tx = DbTx::from_view(view).ok_or_else(|| abort(corrupt("sled returned fewer trees than given")))?;
            body(&db_tx)
        });
        result.map_err(|e| match e {
            TransactionError::Abort(error) => error,
            TransactionError::Storage(source) => error::sled("the storage transaction failed", source),
        })
    }
}

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
        for id in &keys.users {
            if let Some(bytes) = self.users.get(keys::user(*id))? {
                snapshot.users.insert(*id, decode::<User>("a user", &bytes).map_err(abort)?);
            }
        }
        for email in &keys.emails {
            if self.user_emails.get(keys::email(email))?.is_some() {
                snapshot.taken_emails.insert(email.clone());
            }
        }
        // Named sessions in any state; then every unrevoked session of the
        // users named, found through their live list (sled transactions
        // cannot scan `user_sessions`).
        for id in &keys.sessions {
            if let Some(session) = self.session(*id)? {
                snapshot.sessions.insert(*id, session);
            }
        }
        for user in &keys.sessions_of {
            for id in self.live_sessions(*user)? {
                if snapshot.sessions.contains_key(&id) {
                    continue;
                }
                let session =
                    self.session(id)?.ok_or_else(|| abort(corrupt("a live session list names a missing session")))?;
                if session.revoked_at.is_none() {
                    snapshot.sessions.insert(id, session);
                }
            }
        }
        for digest in &keys.reset_tokens {
            if let Some(bytes) = self.reset_tokens.get(keys::digest(digest))? {
                snapshot.reset_tokens.insert(*digest, decode::<ResetToken>("a reset token", &bytes).map_err(abort)?);
            }
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

    fn session(&self, id: SessionId) -> TxResult<Option<Session>> {
        let Some(bytes) = self.sessions.get(keys::session(id))? else { return Ok(None) };
        Ok(Some(decode("a session", &bytes).map_err(abort)?))
    }

    /// The ids in a user's live (unrevoked) session list.
    fn live_sessions(&self, user: UserId) -> TxResult<Vec<SessionId>> {
        let Some(bytes) = self.live_sessions.get(keys::user(user))? else { return Ok(Vec::new()) };
        keys::session_list_ids(&bytes).map_err(abort)
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
        self.write_identity(writes, order_base)?;
        self.append_audit(&writes.audit)
    }

    /// Writes the users, sessions and reset tokens of a committed batch, with
    /// their indexes. `order_base` orders the new sessions in commit order.
    fn write_identity(&self, writes: &Writes, order_base: u64) -> TxResult<()> {
        for user in &writes.new_users {
            // decide refuses a taken email; this guards the unique index itself.
            if self.user_emails.get(keys::email(&user.email))?.is_some() {
                return Err(abort(unique("an email is already registered")));
            }
            self.user_emails.insert(keys::email(&user.email), &keys::user(user.id))?;
            self.users.insert(&keys::user(user.id), value("a user", user)?)?;
        }
        for user in &writes.updated_users {
            self.users.insert(&keys::user(user.id), value("a user", user)?)?;
        }
        // Changes to live session lists, per user: (opened, revoked).
        let mut live: BTreeMap<UserId, (Vec<SessionId>, BTreeSet<SessionId>)> = BTreeMap::new();
        for (i, session) in writes.new_sessions.iter().enumerate() {
            let token = keys::digest(&session.token_digest);
            if self.session_tokens.get(token)?.is_some() {
                return Err(abort(unique("a session token digest is already in use")));
            }
            self.session_tokens.insert(&token, &keys::session(session.id))?;
            let order = order_base + i as u64;
            self.user_sessions.insert(&keys::user_session(session.user_id, order, session.id)[..], &[])?;
            if session.revoked_at.is_none() {
                live.entry(session.user_id).or_default().0.push(session.id);
            }
            self.sessions.insert(&keys::session(session.id), value("a session", session)?)?;
        }
        for session in &writes.updated_sessions {
            if session.revoked_at.is_some() {
                live.entry(session.user_id).or_default().1.insert(session.id);
            }
            self.sessions.insert(&keys::session(session.id), value("a session", session)?)?;
        }
        for (user, (opened, revoked)) in live {
            let mut ids = self.live_sessions(user)?;
            ids.retain(|id| !revoked.contains(id));
            ids.extend(opened);
            if ids.is_empty() {
                self.live_sessions.remove(&keys::user(user))?;
            } else {
                self.live_sessions.insert(&keys::user(user), keys::session_list(&ids))?;
            }
        }
        for token in writes.new_reset_tokens.iter().chain(&writes.updated_reset_tokens) {
            self.reset_tokens.insert(&keys::digest(&token.token_digest), value("a reset token", token)?)?;
        }
        Ok(())
    }

    /// Appends an audit record, indexes it under its actor, and moves the
    /// head to it.
    pub fn append_audit(&self, record: &AuditRecord) -> TxResult<()> {
        self.audit.insert(&keys::sequence(record.sequence), value("an audit record", record)?)?;
        self.audit_by_actor.insert(keys::actor_sequence(&record.actor, record.sequence), &[])?;
        self.meta.insert(keys::META_AUDIT_HEAD, &encode_head(record.head())[..])?;
        Ok(())
    }
}

/// A write that would give a unique index a second record for one key.
fn unique(what: &str) -> StorageError {
    StorageError::new(error::BACKEND, format!("unique index violated: {what}"))
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

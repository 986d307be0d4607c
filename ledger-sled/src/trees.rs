//! The trees of a ledger database, and the reads and writes `apply` stages
//! over them before committing all of a call in one sled transaction.

use std::collections::{BTreeMap, BTreeSet};

use ledger_core::identity::{ResetToken, Session, SessionId, User};
use ledger_core::{
    Account, AccountId, AuditHead, AuditRecord, Digest, IdempotencyRecord, Keys, SEQUENCE_STRIDE, Snapshot,
    StorageError, StorageErrorKind, Transaction, TransactionStatus, UserId, Writes,
};
use sled::transaction::TransactionError;
use sled::{Db, IVec, Transactional, Tree};

use crate::account_cache::AccountCache;
use crate::codec::{decode, encode};
use crate::error::{self, corrupt};
use crate::keys;

/// Declares the trees once: the [`Trees`] handles, their names, and the
/// [`Staged`] view of them an `apply` call works on, all in the same order.
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
        }

        /// The trees as one `apply` call sees them: the writes it has staged
        /// so far over each tree's committed state. Nothing reaches the trees
        /// until [`Trees::commit`].
        pub(crate) struct Staged<'a> {
            /// Committed accounts, decoded: read before the `accounts` tree.
            cache: &'a AccountCache,
            $($(#[$doc])* pub(crate) $name: View<'a>,)+
        }

        impl<'a> Staged<'a> {
            /// Nothing staged yet: every read sees the committed trees.
            pub fn new(trees: &'a Trees, cache: &'a AccountCache) -> Staged<'a> {
                Staged { cache, $($name: View::new(&trees.$name),)+ }
            }

            /// Every tree's view, in declaration order.
            fn views(&self) -> [&View<'a>; TREE_NAMES.len()] {
                [$(&self.$name),+]
            }
        }
    };
}

trees! {
    /// `account id -> Account`.
    accounts,
    /// `account number -> account id`: numbers are unique.
    account_numbers,
    /// `ledger account code -> account id`: codes are unique; code order.
    account_codes,
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
    /// `account id || commit time || posting sequence -> ()`: an account's
    /// postings in time order, for balances as of an instant.
    posting_times,
    /// `idempotency key -> IdempotencyRecord`.
    idempotency,
    /// `metadata pair || sequence -> ()`: transactions by metadata pair.
    metadata_index,
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
    /// `change sequence -> Change`: the change feed, in commit order.
    changes,
    /// `sink name -> cursor (u64, big-endian)`: what each sink confirmed.
    sink_cursors,
    /// Small named values: the audit head and the format version.
    meta,
}

impl Trees {
    /// Opens (creating if missing) every tree, and checks the format version
    /// (upgrading an older one: `format.rs`).
    /// `existed` says whether the directory held a sled database before this
    /// open (then it must carry our format marker).
    pub fn open(db: Db, existed: bool) -> Result<Trees, StorageError> {
        refuse_foreign(&db)?;
        let trees = Trees::open_all(db)?;
        crate::format::check_or_upgrade(&trees, existed)?;
        Ok(trees)
    }

    /// Writes everything `staged` holds in one sled transaction over the
    /// trees it touches: all of it lands, or (on an error) none of it, and
    /// sled's log recovers it all or none after a crash.
    pub fn commit(&self, staged: Staged<'_>) -> Result<(), StorageError> {
        let views: Vec<&View<'_>> = staged.views().into_iter().filter(|view| !view.staged.is_empty()).collect();
        if views.is_empty() {
            return Ok(());
        }
        let trees: Vec<&Tree> = views.iter().map(|view| view.tree).collect();
        // sled may run the closure again; it only replays the staged writes.
        let result = <[&Tree] as Transactional<StorageError>>::transaction(trees.as_slice(), |tx| {
            for (tree, view) in tx.iter().zip(&views) {
                for (key, value) in &view.staged {
                    match value {
                        Some(value) => tree.insert(key.as_slice(), value.clone())?,
                        None => tree.remove(key.as_slice())?,
                    };
                }
            }
            Ok(())
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

/// One tree as an `apply` call sees it: the writes staged so far, over the
/// tree's committed state.
pub(crate) struct View<'a> {
    tree: &'a Tree,
    /// Key to new value, `None` for a removal; sorted, so the commit writes
    /// each tree in key order.
    staged: BTreeMap<Vec<u8>, Option<IVec>>,
}

impl<'a> View<'a> {
    fn new(tree: &'a Tree) -> View<'a> {
        View { tree, staged: BTreeMap::new() }
    }

    /// The value at `key`: staged if this call wrote it, else committed.
    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, StorageError> {
        match self.staged(key.as_ref()) {
            Some(value) => Ok(value.cloned()),
            None => self.committed(key),
        }
    }

    /// What this call staged at `key`: `None` if nothing, `Some(None)` for a
    /// removal.
    fn staged(&self, key: &[u8]) -> Option<Option<&IVec>> {
        self.staged.get(key).map(Option::as_ref)
    }

    /// The committed value at `key`, ignoring what this call staged.
    fn committed(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, StorageError> {
        self.tree.get(key).map_err(|e| error::sled("reading for a commit", e))
    }

    /// How many keys start with `prefix`, staged writes included.
    fn count_prefix(&self, prefix: &[u8]) -> Result<usize, StorageError> {
        let mut count = 0;
        for entry in self.tree.scan_prefix(prefix) {
            let (key, _) = entry.map_err(|e| error::sled("counting for a commit", e))?;
            count += usize::from(self.staged(&key).is_none());
        }
        let staged = self.staged.range(prefix.to_vec()..).take_while(|(key, _)| key.starts_with(prefix));
        Ok(count + staged.filter(|(_, value)| value.is_some()).count())
    }

    pub(crate) fn insert(&mut self, key: impl AsRef<[u8]>, value: impl Into<IVec>) {
        self.staged.insert(key.as_ref().to_vec(), Some(value.into()));
    }

    fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.staged.insert(key.as_ref().to_vec(), None);
    }
}

impl Staged<'_> {
    /// Loads the state of `keys` and the audit head: point reads, and one
    /// prefix count per owner opening an account (at most
    /// `ACCOUNTS_PER_OWNER_MAX` keys).
    pub fn snapshot(&self, keys: &Keys) -> Result<Snapshot, StorageError> {
        let mut snapshot = Snapshot::default();
        for id in &keys.accounts {
            if let Some(account) = self.account(*id)? {
                snapshot.accounts.insert(*id, account);
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
        for code in &keys.account_codes {
            if self.account_codes.get(code.as_str().as_bytes())?.is_some() {
                snapshot.taken_codes.insert(code.clone());
            }
        }
        for owner in &keys.owners {
            let count = self.accounts_by_owner.count_prefix(&keys::user(*owner))?;
            if count > 0 {
                snapshot.owned_accounts.insert(*owner, count);
            }
        }
        if let Some(key) = &keys.idempotency
            && let Some(bytes) = self.idempotency.get(key.as_str().as_bytes())?
        {
            snapshot.idempotency = Some(decode::<IdempotencyRecord>("an idempotency record", &bytes)?);
        }
        for id in &keys.users {
            if let Some(bytes) = self.users.get(keys::user(*id))? {
                snapshot.users.insert(*id, decode::<User>("a user", &bytes)?);
            }
        }
        for email in &keys.emails {
            if self.user_emails.get(keys::email(email))?.is_some() {
                snapshot.taken_emails.insert(email.clone());
            }
        }
        // Named sessions in any state; then every unrevoked session of the
        // users named, found through their live list (a view cannot scan
        // `user_sessions`).
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
                    self.session(id)?.ok_or_else(|| corrupt("a live session list names a missing session"))?;
                if session.revoked_at.is_none() {
                    snapshot.sessions.insert(id, session);
                }
            }
        }
        for digest in &keys.reset_tokens {
            if let Some(bytes) = self.reset_tokens.get(keys::digest(digest))? {
                snapshot.reset_tokens.insert(*digest, decode::<ResetToken>("a reset token", &bytes)?);
            }
        }
        Ok(snapshot)
    }

    /// An account as staged, else as committed: from the cache, or from the
    /// tree, caching what it read (the caller is the writer, so the tree's
    /// value is the committed one).
    fn account(&self, id: AccountId) -> Result<Option<Account>, StorageError> {
        let key = keys::account(id);
        if let Some(staged) = self.accounts.staged(&key) {
            return staged.map(|bytes| decode("an account", bytes)).transpose();
        }
        if let Some(account) = self.cache.get(id) {
            return Ok(Some(account));
        }
        let Some(bytes) = self.accounts.committed(key)? else { return Ok(None) };
        let account: Account = decode("an account", &bytes)?;
        self.cache.insert_committed(&account);
        Ok(Some(account))
    }

    fn transaction(&self, id: ledger_core::TransactionId) -> Result<Option<Transaction>, StorageError> {
        let Some(seq) = self.transaction_ids.get(keys::transaction(id))? else { return Ok(None) };
        let bytes =
            self.transactions.get(seq.as_ref())?.ok_or_else(|| corrupt("a transaction id points at no transaction"))?;
        Ok(Some(decode("a transaction", &bytes)?))
    }

    fn session(&self, id: SessionId) -> Result<Option<Session>, StorageError> {
        let Some(bytes) = self.sessions.get(keys::session(id))? else { return Ok(None) };
        Ok(Some(decode("a session", &bytes)?))
    }

    /// The ids in a user's live (unrevoked) session list.
    fn live_sessions(&self, user: UserId) -> Result<Vec<SessionId>, StorageError> {
        let Some(bytes) = self.live_sessions.get(keys::user(user))? else { return Ok(Vec::new()) };
        keys::session_list_ids(&bytes)
    }

    /// The end of the audit chain, kept in the meta tree because a view
    /// cannot read the audit tree's last key.
    pub(crate) fn head(&self) -> Result<AuditHead, StorageError> {
        let Some(bytes) = self.meta.get(keys::META_AUDIT_HEAD)? else { return Ok(AuditHead::default()) };
        decode_head(&bytes)
    }

    /// A new account with its index rows (code, number, owner's list at
    /// position `order`).
    pub(crate) fn insert_new_account(&mut self, account: &Account, order: u64) -> Result<(), StorageError> {
        if let Some(code) = &account.code {
            self.account_codes.insert(code.as_str().as_bytes(), &keys::account(account.id));
        }
        self.account_numbers.insert(keys::number(account.number), &keys::account(account.id));
        self.accounts_by_owner.insert(&keys::owner_account(account.owner, order, account.id)[..], &[]);
        self.accounts.insert(keys::account(account.id), encode("an account", account)?);
        Ok(())
    }

    /// A new transaction with its index rows (each account's history, its
    /// metadata pairs, a pending hold's expiry, its id).
    pub(crate) fn insert_new_transaction(&mut self, t: &Transaction) -> Result<(), StorageError> {
        let seq = keys::sequence(t.sequence);
        for account in t.accounts() {
            self.account_history.insert(keys::account_sequence(account, t.sequence), &[]);
        }
        for (key, value) in t.metadata.iter() {
            self.metadata_index.insert(keys::metadata_pair_sequence(key, value, t.sequence), &[]);
        }
        if let (TransactionStatus::Pending, Some(expiry)) = (t.status, t.expires_at) {
            self.holds_by_expiry.insert(keys::expiry(expiry, t.id), &seq);
        }
        self.transaction_ids.insert(keys::transaction(t.id), &seq);
        self.transactions.insert(seq, encode("a transaction", t)?);
        Ok(())
    }

    /// Writes everything a committed batch produced.
    pub fn write(&mut self, writes: &Writes) -> Result<(), StorageError> {
        let order_base = writes.audit.sequence.saturating_mul(SEQUENCE_STRIDE);
        for (i, account) in writes.new_accounts.iter().enumerate() {
            self.insert_new_account(account, order_base + i as u64)?;
        }
        for account in &writes.updated_accounts {
            self.accounts.insert(keys::account(account.id), encode("an account", account)?);
        }
        for t in &writes.new_transactions {
            self.insert_new_transaction(t)?;
        }
        for t in &writes.updated_transactions {
            // A hold that left Pending can no longer expire.
            if let Some(expiry) = t.expires_at
                && t.status != TransactionStatus::Pending
            {
                self.holds_by_expiry.remove(keys::expiry(expiry, t.id));
            }
            self.transactions.insert(keys::sequence(t.sequence), encode("a transaction", t)?);
        }
        for p in &writes.postings {
            self.account_postings.insert(keys::account_sequence(p.account_id, p.sequence), encode("a posting", p)?);
            self.posting_times.insert(&keys::account_time_sequence(p.account_id, p.at, p.sequence)[..], &[][..]);
        }
        if let Some(record) = &writes.idempotency {
            self.idempotency.insert(record.key.as_str().as_bytes(), encode("an idempotency record", record)?);
        }
        for change in &writes.changes {
            self.changes.insert(keys::sequence(change.sequence), encode("a change", change)?);
        }
        self.write_identity(writes, order_base)?;
        self.append_audit(&writes.audit)
    }

    /// Writes the users, sessions and reset tokens of a committed batch, with
    /// their indexes. `order_base` orders the new sessions in commit order.
    fn write_identity(&mut self, writes: &Writes, order_base: u64) -> Result<(), StorageError> {
        for user in &writes.new_users {
            // decide refuses a taken email; this guards the unique index itself.
            if self.user_emails.get(keys::email(&user.email))?.is_some() {
                return Err(unique("an email is already registered"));
            }
            self.user_emails.insert(keys::email(&user.email), &keys::user(user.id));
            self.users.insert(keys::user(user.id), encode("a user", user)?);
        }
        for user in &writes.updated_users {
            self.users.insert(keys::user(user.id), encode("a user", user)?);
        }
        // Changes to live session lists, per user: (opened, revoked).
        let mut live: BTreeMap<UserId, (Vec<SessionId>, BTreeSet<SessionId>)> = BTreeMap::new();
        for (i, session) in writes.new_sessions.iter().enumerate() {
            let token = keys::digest(&session.token_digest);
            if self.session_tokens.get(token)?.is_some() {
                return Err(unique("a session token digest is already in use"));
            }
            self.session_tokens.insert(token, &keys::session(session.id));
            let order = order_base + i as u64;
            self.user_sessions.insert(&keys::user_session(session.user_id, order, session.id)[..], &[]);
            if session.revoked_at.is_none() {
                live.entry(session.user_id).or_default().0.push(session.id);
            }
            self.sessions.insert(keys::session(session.id), encode("a session", session)?);
        }
        for session in &writes.updated_sessions {
            if session.revoked_at.is_some() {
                live.entry(session.user_id).or_default().1.insert(session.id);
            }
            self.sessions.insert(keys::session(session.id), encode("a session", session)?);
        }
        for (user, (opened, revoked)) in live {
            let mut ids = self.live_sessions(user)?;
            ids.retain(|id| !revoked.contains(id));
            ids.extend(opened);
            if ids.is_empty() {
                self.live_sessions.remove(keys::user(user));
            } else {
                self.live_sessions.insert(keys::user(user), keys::session_list(&ids));
            }
        }
        for token in writes.new_reset_tokens.iter().chain(&writes.updated_reset_tokens) {
            self.reset_tokens.insert(keys::digest(&token.token_digest), encode("a reset token", token)?);
        }
        Ok(())
    }

    /// Appends an audit record, indexes it under its actor, and moves the
    /// head to it.
    pub fn append_audit(&mut self, record: &AuditRecord) -> Result<(), StorageError> {
        self.audit.insert(keys::sequence(record.sequence), encode("an audit record", record)?);
        self.audit_by_actor.insert(keys::actor_sequence(&record.actor, record.sequence), &[]);
        self.meta.insert(keys::META_AUDIT_HEAD, encode_head(record.head()));
        Ok(())
    }
}

/// A write that would give a unique index a second record for one key.
fn unique(what: &str) -> StorageError {
    StorageError::new(error::BACKEND, format!("unique index violated: {what}")).of_kind(StorageErrorKind::Refused)
}

/// The audit head as `sequence (8, big-endian) || hash (32) || time (12)`,
/// the time only when there is a last record.
pub(crate) fn encode_head(head: AuditHead) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(52);
    bytes.extend_from_slice(&head.sequence.to_be_bytes());
    bytes.extend_from_slice(&head.hash.0);
    if let Some(at) = head.at {
        bytes.extend_from_slice(&keys::time(at));
    }
    bytes
}

/// Reads [`encode_head`]'s bytes (and format 3's, which had no time).
fn decode_head(bytes: &[u8]) -> Result<AuditHead, StorageError> {
    let (Some(seq), Some(hash)) = (bytes.get(..8), bytes.get(8..40)) else {
        return Err(corrupt("the audit head"));
    };
    let at = match bytes.get(40..) {
        Some([]) | None => None,
        Some(time) => Some(keys::time_of(time)?),
    };
    let mut s = [0; 8];
    s.copy_from_slice(seq);
    let mut h = [0; 32];
    h.copy_from_slice(hash);
    Ok(AuditHead { sequence: u64::from_be_bytes(s), hash: Digest(h), at })
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn temporary_trees() -> Trees {
        let db = sled::Config::new().temporary(true).open();
        Trees::open(db.expect("a temporary sled database"), false).expect("fresh trees")
    }

    fn committed(trees: &Trees, key: &[u8]) -> Option<Vec<u8>> {
        trees.meta.get(key).expect("a read").map(|v| v.to_vec())
    }

    #[test]
    fn staged_reads_see_the_calls_own_writes_and_only_commit_reaches_the_trees() {
        let trees = temporary_trees();
        let cache = AccountCache::default();
        let mut first = Staged::new(&trees, &cache);
        first.meta.insert(b"k", b"v1".to_vec());
        trees.commit(first).expect("commit");

        let mut second = Staged::new(&trees, &cache);
        assert_eq!(second.meta.get(b"k").expect("read").as_deref(), Some(&b"v1"[..]));
        second.meta.insert(b"k", b"v2".to_vec());
        assert_eq!(second.meta.get(b"k").expect("read").as_deref(), Some(&b"v2"[..]));
        assert_eq!(committed(&trees, b"k"), Some(b"v1".to_vec()), "staged, not yet committed");
        second.meta.remove(b"k");
        assert_eq!(second.meta.get(b"k").expect("read"), None);
        drop(second);
        assert_eq!(committed(&trees, b"k"), Some(b"v1".to_vec()), "a dropped stage writes nothing");

        let mut third = Staged::new(&trees, &cache);
        third.meta.remove(b"k");
        third.accounts.insert(b"a", b"x".to_vec());
        trees.commit(third).expect("commit");
        assert_eq!(committed(&trees, b"k"), None);
        assert_eq!(trees.accounts.get(b"a").expect("read").as_deref(), Some(&b"x"[..]));
    }

    #[test]
    fn audit_heads_round_trip() {
        let head = AuditHead { sequence: 42, hash: Digest([7; 32]), at: None };
        assert_eq!(decode_head(&encode_head(head)).ok(), Some(head));
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 5).expect("an instant");
        let timed = AuditHead { at: Some(at), ..head };
        assert_eq!(decode_head(&encode_head(timed)).ok(), Some(timed));
        assert!(decode_head(&[1, 2, 3]).is_err());
    }
}

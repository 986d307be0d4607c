//! [`ReadReplicaStore`]: a store whose history reads come from a replica.
//!
//! Past one machine the primary carries every write and every read a
//! command decides on; a replica (a streaming standby, or a pool of them
//! behind a proxy) can carry the reads that only look back: history,
//! postings (balance history, statements, balances as of an instant) and
//! the audit log. A replica lags the primary (usually by milliseconds, by
//! more under load or while a standby catches up), so those reads may miss
//! the latest commits; they never show anything that was not committed.
//! Everything else (accounts and their current balances, idempotency
//! records, users and sessions, the change feed, leases, every write) goes
//! to the primary. When the replica is out of reach
//! ([`StorageErrorKind::Unavailable`]) a read falls back to the primary,
//! so a replica's failure costs load, not availability.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::Account;
use crate::account_code::AccountCode;
use crate::account_number::AccountNumber;
use crate::audit::AuditRecord;
use crate::balance_query::PostingRange;
use crate::change::Change;
use crate::digest::Digest;
use crate::dump::{DumpChunk, SinkCursor};
use crate::error::{StorageError, StorageErrorKind};
use crate::id::{AccountId, TransactionId, UserId};
use crate::idempotency::{IdempotencyKey, IdempotencyRecord};
use crate::identity::{Email, ResetToken, Session, SessionId, User};
use crate::posting::Posting;
use crate::query::HistoryFilter;
use crate::store::Store;
use crate::transaction::Transaction;
use crate::write_batch::{BatchOutcome, WriteBatch};

/// A primary for writes and decisions, a replica for looking back (see the
/// module docs for which read goes where).
pub struct ReadReplicaStore {
    primary: Arc<dyn Store>,
    replica: Arc<dyn Store>,
}

impl std::fmt::Debug for ReadReplicaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadReplicaStore")
            .field("primary", &self.primary.backend())
            .field("replica", &self.replica.backend())
            .finish()
    }
}

impl ReadReplicaStore {
    /// Writes and decisions on `primary`, history reads on `replica`.
    pub fn new(primary: Arc<dyn Store>, replica: Arc<dyn Store>) -> ReadReplicaStore {
        ReadReplicaStore { primary, replica }
    }

    /// The store reads that look back go to.
    pub fn replica(&self) -> &Arc<dyn Store> {
        &self.replica
    }
}

/// Runs a read on the replica, and on the primary when the replica is out of reach.
macro_rules! from_replica {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match $self.replica.$method($($arg),*).await {
            Err(error) if error.kind == StorageErrorKind::Unavailable => $self.primary.$method($($arg),*).await,
            result => result,
        }
    };
}

#[async_trait]
impl Store for ReadReplicaStore {
    fn backend(&self) -> &'static str {
        self.primary.backend()
    }

    async fn apply(&self, batches: Vec<WriteBatch>) -> Result<Vec<BatchOutcome>, StorageError> {
        self.primary.apply(batches).await
    }

    async fn apply_unsynced(&self, batches: Vec<WriteBatch>) -> Result<Vec<BatchOutcome>, StorageError> {
        self.primary.apply_unsynced(batches).await
    }

    async fn sync(&self) -> Result<(), StorageError> {
        self.primary.sync().await
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>, StorageError> {
        self.primary.account(id).await
    }

    async fn account_by_number(&self, number: AccountNumber) -> Result<Option<Account>, StorageError> {
        self.primary.account_by_number(number).await
    }

    async fn account_by_code(&self, code: &AccountCode) -> Result<Option<Account>, StorageError> {
        self.primary.account_by_code(code).await
    }

    async fn ledger_accounts(&self, after: Option<&AccountCode>, limit: usize) -> Result<Vec<Account>, StorageError> {
        self.primary.ledger_accounts(after, limit).await
    }

    async fn accounts_by_owner(&self, owner: UserId) -> Result<Vec<Account>, StorageError> {
        self.primary.accounts_by_owner(owner).await
    }

    async fn accounts(&self, after: Option<AccountId>, limit: usize) -> Result<Vec<Account>, StorageError> {
        self.primary.accounts(after, limit).await
    }

    async fn transaction(&self, id: TransactionId) -> Result<Option<Transaction>, StorageError> {
        self.primary.transaction(id).await
    }

    async fn transactions(
        &self,
        filter: &HistoryFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Transaction>, StorageError> {
        from_replica!(self, transactions(filter, before, limit))
    }

    async fn postings(
        &self,
        account: AccountId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Posting>, StorageError> {
        from_replica!(self, postings(account, after, limit))
    }

    async fn posting_as_of(&self, account: AccountId, at: DateTime<Utc>) -> Result<Option<Posting>, StorageError> {
        from_replica!(self, posting_as_of(account, at))
    }

    async fn postings_in(&self, range: &PostingRange, limit: usize) -> Result<Vec<Posting>, StorageError> {
        from_replica!(self, postings_in(range, limit))
    }

    async fn idempotency_record(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, StorageError> {
        self.primary.idempotency_record(key).await
    }

    async fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StorageError> {
        from_replica!(self, audit_records(after, limit))
    }

    async fn expired_holds(&self, at: DateTime<Utc>, limit: usize) -> Result<Vec<Transaction>, StorageError> {
        self.primary.expired_holds(at, limit).await
    }

    async fn audit_records_by_actor(
        &self,
        actor: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StorageError> {
        from_replica!(self, audit_records_by_actor(actor, after, limit))
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StorageError> {
        self.primary.user(id).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StorageError> {
        self.primary.user_by_email(email).await
    }

    async fn users(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>, StorageError> {
        self.primary.users(after, limit).await
    }

    async fn session_by_token(&self, token: &Digest) -> Result<Option<Session>, StorageError> {
        self.primary.session_by_token(token).await
    }

    async fn session_with_user(&self, token: &Digest) -> Result<Option<(Session, User)>, StorageError> {
        self.primary.session_with_user(token).await
    }

    async fn session_with_user_and_account(
        &self,
        token: &Digest,
        account: AccountId,
    ) -> Result<Option<(Session, User, Option<Account>)>, StorageError> {
        self.primary.session_with_user_and_account(token, account).await
    }

    async fn sessions_of(&self, user: UserId, limit: usize) -> Result<Vec<Session>, StorageError> {
        self.primary.sessions_of(user, limit).await
    }

    async fn touch_session(&self, id: SessionId, at: DateTime<Utc>) -> Result<(), StorageError> {
        self.primary.touch_session(id, at).await
    }

    async fn reset_token(&self, token: &Digest) -> Result<Option<ResetToken>, StorageError> {
        self.primary.reset_token(token).await
    }

    async fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<Change>, StorageError> {
        self.primary.changes_after(after, limit).await
    }

    async fn changes_count_after(&self, after: u64) -> Result<u64, StorageError> {
        self.primary.changes_count_after(after).await
    }

    async fn sink_cursor(&self, sink: &str) -> Result<u64, StorageError> {
        self.primary.sink_cursor(sink).await
    }

    async fn advance_sink_cursor(&self, sink: &str, to: u64) -> Result<(), StorageError> {
        self.primary.advance_sink_cursor(sink, to).await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        self.primary.try_lease(name, holder, now, until).await
    }

    /// The primary answers: writes can be served. (The replica's health
    /// does not decide readiness, since its reads fall back to the primary.)
    async fn ping(&self) -> Result<(), StorageError> {
        self.primary.ping().await
    }

    async fn transactions_after(&self, after: Option<u64>, limit: usize) -> Result<Vec<Transaction>, StorageError> {
        self.primary.transactions_after(after, limit).await
    }

    async fn sessions(&self, after: Option<SessionId>, limit: usize) -> Result<Vec<Session>, StorageError> {
        self.primary.sessions(after, limit).await
    }

    async fn reset_tokens(&self, after: Option<Digest>, limit: usize) -> Result<Vec<ResetToken>, StorageError> {
        self.primary.reset_tokens(after, limit).await
    }

    async fn idempotency_records(
        &self,
        after: Option<&IdempotencyKey>,
        limit: usize,
    ) -> Result<Vec<IdempotencyRecord>, StorageError> {
        self.primary.idempotency_records(after, limit).await
    }

    async fn sink_cursors(&self) -> Result<Vec<SinkCursor>, StorageError> {
        self.primary.sink_cursors().await
    }

    async fn restore(&self, chunk: &DumpChunk) -> Result<(), StorageError> {
        self.primary.restore(chunk).await
    }

    async fn finish_restore(&self) -> Result<(), StorageError> {
        self.primary.finish_restore().await
    }
}

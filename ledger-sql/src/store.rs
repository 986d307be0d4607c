//! [`SqlStore`]: the [`Store`] implementation over either database.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledger_core::dump::{DumpChunk, SinkCursor};
use ledger_core::identity::{Email, ResetToken, Session as UserSession, SessionId, User};
use ledger_core::{
    Account, AccountCode, AccountId, AccountNumber, AuditRecord, BatchOutcome, Change, Digest, HistoryFilter,
    IdempotencyKey, IdempotencyRecord, Posting, PostingRange, StorageError, Store, Transaction, TransactionId, UserId,
    WriteBatch,
};

use crate::auth_read;
#[cfg(feature = "postgres")]
use crate::notify::ChangeListener;
#[cfg(feature = "postgres")]
use crate::postgres::PgBackend;
use crate::queries;
use crate::row;
#[cfg(feature = "sqlite")]
use crate::sqlite::SqliteBackend;
use crate::stmt::Dialect;

/// A ledger store in PostgreSQL or SQLite. Open it with
/// [`SqlStore::connect`]; see the [crate docs](crate) for the schema and
/// the concurrency and durability guarantees.
#[derive(Debug)]
pub struct SqlStore {
    pub(crate) inner: Inner,
}

/// The database behind a store.
#[derive(Debug)]
pub(crate) enum Inner {
    #[cfg(feature = "postgres")]
    Postgres(PgBackend),
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteBackend),
}

impl SqlStore {
    pub(crate) fn new(inner: Inner) -> SqlStore {
        SqlStore { inner }
    }

    /// The database behind the store (tests drive its connections directly).
    #[cfg(all(test, feature = "postgres", feature = "sqlite"))]
    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Runs one write outside `apply` (retried as its backend retries);
    /// how many rows it changed.
    async fn write_one(&self, context: &str, stmt: &crate::stmt::Stmt) -> Result<u64, StorageError> {
        match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(b) => b.write_one(context, stmt).await,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(b) => b.write_one(context, stmt).await,
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(_) => Dialect::Sqlite,
        }
    }

    #[cfg(feature = "postgres")]
    /// Listens for the changes committed to this store by any process on
    /// the same PostgreSQL database and schema (see the [crate
    /// docs](crate#change-notifications-postgresql)). Fails on SQLite, whose
    /// store belongs to one process (its commits are the ledger's own
    /// events), and when [`SqlOptions::notify`](crate::SqlOptions::notify) is off.
    pub async fn listen(&self) -> Result<ChangeListener, StorageError> {
        match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(b) => b.listen().await,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(_) => Err(StorageError::new(
                self.backend(),
                "change notifications need PostgreSQL: a SQLite store's commits are seen only in its own process",
            )),
        }
    }

    /// Closes the pool: waits for connections in use to come back, then
    /// closes them all. Later calls fail.
    pub async fn close(&self) {
        match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(b) => b.pool().close().await,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(b) => b.close().await,
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        self.dialect().backend()
    }

    async fn apply(&self, batches: Vec<WriteBatch>) -> Result<Vec<BatchOutcome>, StorageError> {
        match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(b) => b.apply(&batches).await,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(b) => b.apply(batches).await,
        }
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>, StorageError> {
        self.read_one("reading an account", queries::account(self.dialect(), id), row::account).await
    }

    async fn account_by_number(&self, number: AccountNumber) -> Result<Option<Account>, StorageError> {
        let stmt = queries::account_by_number(self.dialect(), number);
        self.read_one("reading an account by number", stmt, row::account).await
    }

    async fn account_by_code(&self, code: &AccountCode) -> Result<Option<Account>, StorageError> {
        self.read_one("reading an account by code", queries::account_by_code(self.dialect(), code), row::account).await
    }

    async fn ledger_accounts(&self, after: Option<&AccountCode>, limit: usize) -> Result<Vec<Account>, StorageError> {
        let stmt = queries::ledger_accounts(self.dialect(), after, limit);
        self.read("listing ledger accounts", stmt, row::account).await
    }

    async fn accounts_by_owner(&self, owner: UserId) -> Result<Vec<Account>, StorageError> {
        self.read("reading an owner's accounts", queries::accounts_by_owner(self.dialect(), owner), row::account).await
    }

    async fn accounts(&self, after: Option<AccountId>, limit: usize) -> Result<Vec<Account>, StorageError> {
        self.read("listing accounts", queries::accounts(self.dialect(), after, limit), row::account).await
    }

    async fn transaction(&self, id: TransactionId) -> Result<Option<Transaction>, StorageError> {
        self.read_one("reading a transaction", queries::transaction(self.dialect(), id), row::transaction).await
    }

    async fn transactions(
        &self,
        filter: &HistoryFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Transaction>, StorageError> {
        let stmt = queries::history(self.dialect(), filter, before, limit);
        self.read("reading history", stmt, row::transaction).await
    }

    async fn postings(
        &self,
        account: AccountId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Posting>, StorageError> {
        let stmt = queries::postings(self.dialect(), account, after, limit);
        self.read("reading postings", stmt, row::posting).await
    }

    async fn posting_as_of(&self, account: AccountId, at: DateTime<Utc>) -> Result<Option<Posting>, StorageError> {
        let stmt = queries::posting_as_of(self.dialect(), account, at);
        self.read_one("reading a balance as of an instant", stmt, row::posting).await
    }

    async fn postings_in(&self, range: &PostingRange, limit: usize) -> Result<Vec<Posting>, StorageError> {
        let stmt = queries::postings_in(self.dialect(), range, limit);
        self.read("reading balance history", stmt, row::posting).await
    }

    async fn idempotency_record(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, StorageError> {
        let stmt = queries::idempotency(self.dialect(), key.as_str());
        self.read_one("reading an idempotency record", stmt, row::idempotency).await
    }

    async fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StorageError> {
        let stmt = queries::audit_records(self.dialect(), after, limit);
        self.read("reading the audit log", stmt, row::audit).await
    }

    async fn expired_holds(&self, at: DateTime<Utc>, limit: usize) -> Result<Vec<Transaction>, StorageError> {
        let stmt = queries::expired_holds(self.dialect(), at, limit);
        self.read("reading expired holds", stmt, row::transaction).await
    }

    async fn audit_records_by_actor(
        &self,
        actor: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StorageError> {
        let stmt = queries::audit_records_by_actor(self.dialect(), actor, after, limit);
        self.read("reading an actor's audit records", stmt, row::audit).await
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StorageError> {
        self.read_one("reading a user", queries::user(self.dialect(), id), row::user).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StorageError> {
        self.read_one("reading a user by email", queries::user_by_email(self.dialect(), email), row::user).await
    }

    async fn users(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>, StorageError> {
        self.read("listing users", queries::users(self.dialect(), after, limit), row::user).await
    }

    async fn session_by_token(&self, token: &Digest) -> Result<Option<UserSession>, StorageError> {
        let stmt = queries::session_by_token(self.dialect(), token);
        self.read_one("reading a session by token", stmt, row::session).await
    }

    async fn session_with_user(&self, token: &Digest) -> Result<Option<(UserSession, User)>, StorageError> {
        let stmt = auth_read::session_with_user(self.dialect(), token);
        self.read_one("reading a session and its user", stmt, auth_read::session_and_user).await
    }

    async fn session_with_user_and_account(
        &self,
        token: &Digest,
        account: AccountId,
    ) -> Result<Option<(UserSession, User, Option<Account>)>, StorageError> {
        let stmt = auth_read::session_with_user_and_account(self.dialect(), token, account);
        self.read_one("reading a session, its user and an account", stmt, auth_read::session_user_and_account).await
    }

    async fn sessions_of(&self, user: UserId, limit: usize) -> Result<Vec<UserSession>, StorageError> {
        self.read("listing a user's sessions", queries::sessions_of(self.dialect(), user, limit), row::session).await
    }

    async fn touch_session(&self, id: SessionId, at: DateTime<Utc>) -> Result<(), StorageError> {
        let stmt = queries::touch_session(self.dialect(), id, at);
        self.write_one("recording a session's use", &stmt).await.map(drop)
    }

    async fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<Change>, StorageError> {
        self.read("reading the change feed", queries::changes_after(self.dialect(), after, limit), row::change).await
    }

    async fn changes_count_after(&self, after: u64) -> Result<u64, StorageError> {
        let stmt = queries::changes_count_after(self.dialect(), after);
        // A count scans: not a point read.
        let counts = self.read("counting the change feed", stmt, row::count).await?;
        Ok(counts.into_iter().next().unwrap_or(0))
    }

    async fn sink_cursor(&self, sink: &str) -> Result<u64, StorageError> {
        let stmt = queries::sink_cursor(self.dialect(), sink);
        Ok(self.read_one("reading a sink cursor", stmt, row::cursor).await?.unwrap_or(0))
    }

    async fn advance_sink_cursor(&self, sink: &str, to: u64) -> Result<(), StorageError> {
        let stmt = queries::advance_sink_cursor(self.dialect(), sink, to);
        self.write_one("advancing a sink cursor", &stmt).await.map(drop)
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let d = self.dialect();
        if self.write_one("taking a lease", &queries::insert_lease(d, name, holder, until)).await? == 1 {
            return Ok(true);
        }
        Ok(self.write_one("renewing a lease", &queries::renew_lease(d, name, holder, now, until)).await? == 1)
    }

    async fn reset_token(&self, token: &Digest) -> Result<Option<ResetToken>, StorageError> {
        self.read_one("reading a reset token", queries::reset_token(self.dialect(), token), row::reset_token).await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.read("ping", queries::ping(self.dialect()), |_| Ok(())).await.map(drop)
    }

    async fn transactions_after(&self, after: Option<u64>, limit: usize) -> Result<Vec<Transaction>, StorageError> {
        let stmt = crate::dump::transactions_after(self.dialect(), after, limit);
        self.read("listing transactions", stmt, row::transaction).await
    }

    async fn sessions(&self, after: Option<SessionId>, limit: usize) -> Result<Vec<UserSession>, StorageError> {
        self.read("listing sessions", crate::dump::sessions(self.dialect(), after, limit), row::session).await
    }

    async fn reset_tokens(&self, after: Option<Digest>, limit: usize) -> Result<Vec<ResetToken>, StorageError> {
        let stmt = crate::dump::reset_tokens(self.dialect(), after, limit);
        self.read("listing reset tokens", stmt, row::reset_token).await
    }

    async fn idempotency_records(
        &self,
        after: Option<&IdempotencyKey>,
        limit: usize,
    ) -> Result<Vec<IdempotencyRecord>, StorageError> {
        let stmt = crate::dump::idempotency_records(self.dialect(), after, limit);
        self.read("listing idempotency records", stmt, row::idempotency).await
    }

    async fn sink_cursors(&self) -> Result<Vec<SinkCursor>, StorageError> {
        let cursor = |r: &dyn crate::session::Cells| -> Result<SinkCursor, sqlx::Error> {
            Ok(SinkCursor { sink: r.text("sink")?, sequence: row::cursor(r)? })
        };
        self.read("listing sink cursors", crate::dump::sink_cursors(self.dialect()), cursor).await
    }

    async fn restore(&self, chunk: &DumpChunk) -> Result<(), StorageError> {
        match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(b) => b.restore(chunk).await,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(b) => b.restore(chunk).await,
        }
    }

    async fn finish_restore(&self) -> Result<(), StorageError> {
        match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(b) => b.analyze().await,
            // SQLite plans without statistics unless `ANALYZE` was run, and
            // re-prepares statements when they change: nothing to refresh.
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(_) => Ok(()),
        }
    }
}

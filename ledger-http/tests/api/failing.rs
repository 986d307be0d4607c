//! A store that can be broken on demand, to test storage failures.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledger_core::digest::Digest;
use ledger_core::identity::{Email, ResetToken, Session, SessionId, User};
use ledger_core::{
    Account, AccountId, AccountNumber, AuditRecord, BatchOutcome, HistoryFilter, IdempotencyKey, IdempotencyRecord,
    MemoryStore, Posting, StorageError, Store, Transaction, TransactionId, UserId, WriteBatch,
};

/// Text in the storage error that must never reach a client.
pub const SECRET_DETAIL: &str = "/var/lib/secret-disk-path";

pub struct FailingStore {
    inner: MemoryStore,
    broken: AtomicBool,
    slow: AtomicBool,
}

impl FailingStore {
    pub fn new(inner: MemoryStore) -> FailingStore {
        FailingStore { inner, broken: AtomicBool::new(false), slow: AtomicBool::new(false) }
    }

    pub fn break_it(&self) {
        self.broken.store(true, Ordering::SeqCst);
    }

    /// Makes `ping` take two seconds.
    pub fn slow_down(&self) {
        self.slow.store(true, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StorageError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(StorageError::new("memory", format!("disk failure at {SECRET_DETAIL}")));
        }
        Ok(())
    }
}

#[async_trait]
impl Store for FailingStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn apply(&self, batches: Vec<WriteBatch>) -> Result<Vec<BatchOutcome>, StorageError> {
        self.check()?;
        self.inner.apply(batches).await
    }
    async fn account(&self, id: AccountId) -> Result<Option<Account>, StorageError> {
        self.check()?;
        self.inner.account(id).await
    }
    async fn account_by_number(&self, number: AccountNumber) -> Result<Option<Account>, StorageError> {
        self.check()?;
        self.inner.account_by_number(number).await
    }
    async fn accounts_by_owner(&self, owner: UserId) -> Result<Vec<Account>, StorageError> {
        self.check()?;
        self.inner.accounts_by_owner(owner).await
    }
    async fn accounts(&self, after: Option<AccountId>, limit: usize) -> Result<Vec<Account>, StorageError> {
        self.check()?;
        self.inner.accounts(after, limit).await
    }
    async fn transaction(&self, id: TransactionId) -> Result<Option<Transaction>, StorageError> {
        self.check()?;
        self.inner.transaction(id).await
    }
    async fn transactions(
        &self,
        filter: &HistoryFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Transaction>, StorageError> {
        self.check()?;
        self.inner.transactions(filter, before, limit).await
    }
    async fn postings(
        &self,
        account: AccountId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Posting>, StorageError> {
        self.check()?;
        self.inner.postings(account, after, limit).await
    }
    async fn idempotency_record(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, StorageError> {
        self.check()?;
        self.inner.idempotency_record(key).await
    }
    async fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StorageError> {
        self.check()?;
        self.inner.audit_records(after, limit).await
    }
    async fn expired_holds(&self, at: DateTime<Utc>, limit: usize) -> Result<Vec<Transaction>, StorageError> {
        self.check()?;
        self.inner.expired_holds(at, limit).await
    }
    async fn audit_records_by_actor(
        &self,
        actor: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StorageError> {
        self.check()?;
        self.inner.audit_records_by_actor(actor, after, limit).await
    }
    async fn user(&self, id: UserId) -> Result<Option<User>, StorageError> {
        self.check()?;
        self.inner.user(id).await
    }
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StorageError> {
        self.check()?;
        self.inner.user_by_email(email).await
    }
    async fn users(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>, StorageError> {
        self.check()?;
        self.inner.users(after, limit).await
    }
    async fn session_by_token(&self, token: &Digest) -> Result<Option<Session>, StorageError> {
        self.check()?;
        self.inner.session_by_token(token).await
    }
    async fn sessions_of(&self, user: UserId, limit: usize) -> Result<Vec<Session>, StorageError> {
        self.check()?;
        self.inner.sessions_of(user, limit).await
    }
    async fn touch_session(&self, id: SessionId, at: DateTime<Utc>) -> Result<(), StorageError> {
        self.check()?;
        self.inner.touch_session(id, at).await
    }
    async fn reset_token(&self, token: &Digest) -> Result<Option<ResetToken>, StorageError> {
        self.check()?;
        self.inner.reset_token(token).await
    }
    async fn ping(&self) -> Result<(), StorageError> {
        if self.slow.load(Ordering::SeqCst) {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
        self.check()?;
        self.inner.ping().await
    }
}

//! Queries: accounts, balances, transactions, history, audit.

use crate::account::{Account, Balance};
use crate::account_number::AccountNumber;
use crate::audit::{AUDIT_PAGE_SIZE_MAX, AuditHead, AuditRecord, ChainVerifier};
use crate::error::LedgerError;
use crate::id::{AccountId, TransactionId, UserId};
use crate::query::{Cursor, HistoryFilter, Page, PageRequest};
use crate::store::Store;
use crate::transaction::Transaction;

use super::*;

impl Ledger {
    /// An account by id.
    pub async fn account(&self, id: AccountId) -> Result<Account, LedgerError> {
        self.store.account(id).await?.ok_or(LedgerError::AccountNotFound { account: id })
    }

    /// An account by number.
    pub async fn account_by_number(&self, number: AccountNumber) -> Result<Account, LedgerError> {
        self.store.account_by_number(number).await?.ok_or(LedgerError::AccountNumberNotFound { number })
    }

    /// An account's balances.
    pub async fn balance(&self, id: AccountId) -> Result<Balance, LedgerError> {
        Ok(self.account(id).await?.balance)
    }

    /// An owner's accounts, oldest first.
    pub async fn accounts_of(&self, owner: UserId) -> Result<Vec<Account>, LedgerError> {
        Ok(self.store.accounts_by_owner(owner).await?)
    }

    /// A transaction by id.
    pub async fn transaction(&self, id: TransactionId) -> Result<Transaction, LedgerError> {
        self.store.transaction(id).await?.ok_or(LedgerError::TransactionNotFound { transaction: id })
    }

    /// A page of transaction history, newest first.
    pub async fn history(&self, filter: &HistoryFilter, page: PageRequest) -> Result<Page<Transaction>, LedgerError> {
        filter.validate()?;
        page.validate()?;
        let before = page.cursor.map(Cursor::before_sequence);
        let mut items = self.store.transactions(filter, before, page.size + 1).await?;
        let next_cursor = if items.len() > page.size {
            items.truncate(page.size);
            items.last().map(Cursor::after)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Audit records after a sequence, in order.
    pub async fn audit_log(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, LedgerError> {
        if limit == 0 || limit > AUDIT_PAGE_SIZE_MAX {
            return Err(LedgerError::InvalidPageSize { max: AUDIT_PAGE_SIZE_MAX });
        }
        Ok(self.store.audit_records(after, limit).await?)
    }

    /// Recomputes the whole audit chain; `expected_head` also catches a
    /// truncated tail.
    pub async fn verify_audit_chain(&self, expected_head: Option<AuditHead>) -> Result<AuditHead, LedgerError> {
        let mut verifier = ChainVerifier::new();
        loop {
            let page = self.store.audit_records(verifier.head().sequence, AUDIT_PAGE_SIZE_MAX).await?;
            for record in &page {
                verifier.push(record)?;
            }
            if page.len() < AUDIT_PAGE_SIZE_MAX {
                return Ok(verifier.finish(expected_head)?);
            }
        }
    }
}

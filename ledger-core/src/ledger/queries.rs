//! Queries: accounts, balances, transactions, history, audit. Customers see
//! their own things only; anything else is "not found".

use super::*;
use crate::account::{AccountKind, Balance};
use crate::account_number::AccountNumber;
use crate::audit::{AUDIT_PAGE_SIZE_MAX, AuditHead, AuditRecord, ChainVerifier};
use crate::id::{TransactionId, UserId};
use crate::query::{Cursor, HistoryFilter, Page, PageRequest};

impl Ledger {
    /// An account by id. Reading it teaches this ledger the account's
    /// immutable facts, so commands naming it are planned without a read.
    pub async fn account(&self, actor: &Actor, id: AccountId) -> Result<Account, LedgerError> {
        let read = self.store.account(id).await?;
        if let Some(account) = &read
            && self.facts.get(id).is_none()
        {
            self.facts.remember(account);
        }
        visible_account(actor, id, read)
    }

    /// An account by number.
    pub async fn account_by_number(&self, actor: &Actor, number: AccountNumber) -> Result<Account, LedgerError> {
        let account = self.store.account_by_number(number).await?;
        visible(actor, account).ok_or(LedgerError::AccountNumberNotFound { number })
    }

    /// An account's balances, on its normal side.
    pub async fn balance(&self, actor: &Actor, id: AccountId) -> Result<Balance, LedgerError> {
        Ok(self.account(actor, id).await?.reported_balance())
    }

    /// An owner's accounts, oldest first.
    pub async fn accounts_of(&self, actor: &Actor, owner: UserId) -> Result<Vec<Account>, LedgerError> {
        if !actor.may_act_for(owner) {
            return Err(LedgerError::UserNotFound);
        }
        Ok(self.store.accounts_by_owner(owner).await?)
    }

    /// A transaction by id; customers see those touching their accounts.
    pub async fn transaction(&self, actor: &Actor, id: TransactionId) -> Result<Transaction, LedgerError> {
        let not_found = LedgerError::TransactionNotFound { transaction: id };
        let transaction = self.store.transaction(id).await?.ok_or(not_found.clone())?;
        if actor.is_privileged() {
            return Ok(transaction);
        }
        for side in transaction.accounts() {
            if self.store.account(side).await?.is_some_and(|a| !a.kind.is_ledger() && actor.may_act_for(a.owner)) {
                return Ok(transaction);
            }
        }
        Err(not_found)
    }

    /// A page of transaction history, newest first. For a customer, an
    /// empty account filter means all of their accounts.
    pub async fn history(
        &self,
        actor: &Actor,
        filter: &HistoryFilter,
        page: PageRequest,
    ) -> Result<Page<Transaction>, LedgerError> {
        filter.validate()?;
        page.validate()?;
        let filter = self.own_filter(actor, filter).await?;
        if !actor.is_privileged() && filter.accounts.is_empty() {
            return Ok(Page { items: Vec::new(), next_cursor: None });
        }
        let before = page.cursor.map(Cursor::before_sequence);
        let mut items = self.store.transactions(&filter, before, page.size + 1).await?;
        let next_cursor = if items.len() > page.size {
            items.truncate(page.size);
            items.last().map(Cursor::after)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// The filter narrowed to what the actor may see.
    async fn own_filter(&self, actor: &Actor, filter: &HistoryFilter) -> Result<HistoryFilter, LedgerError> {
        let Some(me) = actor.user_id().filter(|_| !actor.is_privileged()) else { return Ok(filter.clone()) };
        let mine: Vec<AccountId> = self.store.accounts_by_owner(me).await?.iter().map(|a| a.id).collect();
        if let Some(foreign) = filter.accounts.iter().find(|a| !mine.contains(a)) {
            return Err(LedgerError::AccountNotFound { account: *foreign });
        }
        let mut own = filter.clone();
        if own.accounts.is_empty() {
            // All of them: the filter limit bounds what a caller names, not
            // the accounts a customer has (at most ACCOUNTS_PER_OWNER_MAX,
            // though a store written before that limit was enforced in the
            // transaction may hold more), and none may be silently left out.
            own.accounts = mine;
        }
        Ok(own)
    }

    /// Audit records after a sequence, in order: all for admins, a
    /// customer's own otherwise.
    pub async fn audit_log(&self, actor: &Actor, after: u64, limit: usize) -> Result<Vec<AuditRecord>, LedgerError> {
        if limit == 0 || limit > AUDIT_PAGE_SIZE_MAX {
            return Err(LedgerError::InvalidPageSize { max: AUDIT_PAGE_SIZE_MAX });
        }
        if actor.is_privileged() {
            return Ok(self.store.audit_records(after, limit).await?);
        }
        Ok(self.store.audit_records_by_actor(&actor.audit_name(), after, limit).await?)
    }

    /// Recomputes the whole audit chain (admins only); `expected_head` also
    /// catches a truncated tail.
    pub async fn verify_audit_chain(
        &self,
        actor: &Actor,
        expected_head: Option<AuditHead>,
    ) -> Result<AuditHead, LedgerError> {
        actor.require_admin()?;
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

/// The account with id `id` as read (none: not stored), if the actor may
/// see it; else not found, whether it exists or not.
pub(super) fn visible_account(actor: &Actor, id: AccountId, read: Option<Account>) -> Result<Account, LedgerError> {
    visible(actor, read).ok_or(LedgerError::AccountNotFound { account: id })
}

/// The account if the actor may see it: its owner or an admin; internal
/// accounts are for admins only.
fn visible(actor: &Actor, account: Option<Account>) -> Option<Account> {
    account.filter(|a| may_see(actor, a.kind, a.owner))
}

/// Whether the actor may see an account of this kind and owner: the
/// privileged any, customers their own (never the settlement accounts).
pub(super) fn may_see(actor: &Actor, kind: AccountKind, owner: UserId) -> bool {
    actor.is_privileged() || (kind != AccountKind::Settlement && actor.may_act_for(owner))
}

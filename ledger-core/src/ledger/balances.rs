//! Balances over time: as of an instant, an account's balance history, and
//! statements. Customers ask about their own accounts; admins about any.

use super::*;
use crate::balance_query::{
    BalanceAsOf, BalanceChange, BalanceHistory, PostingCursor, PostingRange, STATEMENT_POSTINGS_MAX, Statement,
    StatementLine,
};
use crate::ledger::account_facts::AccountFacts;
use crate::ledger::queries::may_see;
use crate::query::PAGE_SIZE_MAX;

/// Postings read per store call while building a statement.
const STATEMENT_PAGE_LEN: usize = 1_000;

impl Ledger {
    /// An account's posted balance after every posting committed at or
    /// before `as_of`, on its normal side: zero before its first posting.
    /// One index seek, however many postings the account has. An instant
    /// in the future is refused: its balance is not known yet.
    pub async fn balance_as_of(
        &self,
        actor: &Actor,
        account: AccountId,
        as_of: DateTime<Utc>,
    ) -> Result<BalanceAsOf, LedgerError> {
        if self.clock.is_future(as_of) {
            return Err(LedgerError::InstantInFuture);
        }
        if !crate::clock::is_storable_instant(as_of) {
            return Err(LedgerError::InvalidPeriod);
        }
        // The account's facts (whose owner says whether the actor may see
        // it) come from memory once read: the posting as of the instant is
        // then the only read.
        let account = self.visible_facts(actor, account).await?;
        let last = self.store.posting_as_of(account.id, as_of).await?;
        let posted = account.normal_balance.reported(last.map_or(rust_decimal::Decimal::ZERO, |p| p.balance_after));
        Ok(BalanceAsOf { account: account.id, currency: account.currency, posted, as_of })
    }

    /// A page of an account's balance history in `[from, until)`, newest
    /// first: each posting's change and the balance after it.
    pub async fn balance_history(
        &self,
        actor: &Actor,
        account: AccountId,
        (from, until): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
        after: Option<PostingCursor>,
        limit: usize,
    ) -> Result<BalanceHistory, LedgerError> {
        if limit == 0 || limit > PAGE_SIZE_MAX {
            return Err(LedgerError::InvalidPageSize { max: PAGE_SIZE_MAX });
        }
        check_period(from, until)?;
        let account = self.visible_facts(actor, account).await?;
        let range = PostingRange { account: account.id, from, until, after, newest_first: true };
        let mut postings = self.store.postings_in(&range, limit + 1).await?;
        let more = postings.len() > limit;
        postings.truncate(limit);
        let items: Vec<BalanceChange> = postings.iter().map(|p| BalanceChange::of(p, account.normal_balance)).collect();
        let next_cursor = if more { items.last().map(|i| i.cursor) } else { None };
        Ok(BalanceHistory { account: account.id, currency: account.currency, items, next_cursor })
    }

    /// An account's statement for `[from, until)` (`from` defaults to the
    /// account's opening, `until` to now, and an `until` later than now is
    /// read as now): the opening balance, every posting of the period oldest
    /// first with its running balance and its transaction's kind and
    /// description, and the closing balance.
    pub async fn statement(
        &self,
        actor: &Actor,
        account: AccountId,
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Statement, LedgerError> {
        let account = self.account(actor, account).await?;
        let now = self.clock.now();
        let until = until.map_or(now, |until| until.min(now));
        let from = from.unwrap_or(account.created_at.min(until - chrono::Duration::nanoseconds(1)));
        check_period(Some(from), Some(until))?;
        let before = |t: DateTime<Utc>| t - chrono::Duration::nanoseconds(1);
        let opening = self.posted_as_of(&account, before(from)).await?;
        let closing = self.posted_as_of(&account, before(until)).await?;
        let mut range = PostingRange {
            account: account.id,
            from: Some(from),
            until: Some(until),
            after: None,
            newest_first: false,
        };
        let mut lines = Vec::new();
        loop {
            let page = self.store.postings_in(&range, STATEMENT_PAGE_LEN).await?;
            if lines.len() + page.len() > STATEMENT_POSTINGS_MAX {
                return Err(LedgerError::StatementTooLong { max: STATEMENT_POSTINGS_MAX });
            }
            for posting in &page {
                let transaction = self.store.transaction(posting.transaction_id).await?;
                lines.push(StatementLine {
                    change: BalanceChange::of(posting, account.normal_balance),
                    kind: transaction.as_ref().map_or(crate::transaction::TransactionKind::Entry, |t| t.kind),
                    description: transaction.and_then(|t| t.description),
                });
            }
            match page.last() {
                Some(last) if page.len() == STATEMENT_PAGE_LEN => range.after = Some(PostingCursor::of(last)),
                _ => break,
            }
        }
        Ok(Statement { account: account.id, currency: account.currency, from, until, opening, closing, lines })
    }

    /// The immutable facts of an account the actor may see, from memory
    /// once read; another customer's account is not found, as by
    /// [`Ledger::account`].
    async fn visible_facts(&self, actor: &Actor, id: AccountId) -> Result<AccountFacts, LedgerError> {
        let facts = self.facts.get_or_read(self.store.as_ref(), id).await?;
        facts.filter(|a| may_see(actor, a.kind, a.owner)).ok_or(LedgerError::AccountNotFound { account: id })
    }

    /// The posted balance on the normal side after every posting at or before `at`.
    async fn posted_as_of(&self, account: &Account, at: DateTime<Utc>) -> Result<rust_decimal::Decimal, LedgerError> {
        let last = self.store.posting_as_of(account.id, at).await?;
        Ok(account.normal_balance.reported(last.map_or(rust_decimal::Decimal::ZERO, |p| p.balance_after)))
    }
}

/// A period's bounds, when both are given, must be storable instants in order.
fn check_period(from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Result<(), LedgerError> {
    let storable = [from, until].into_iter().flatten().all(crate::clock::is_storable_instant);
    match (from, until) {
        _ if !storable => Err(LedgerError::InvalidPeriod),
        (Some(from), Some(until)) if from >= until => Err(LedgerError::InvalidPeriod),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::account::AccountKind;
    use crate::command::OpenAccount;
    use crate::conformance::recording::RecordingStore;
    use crate::id::UserId;
    use crate::memory::MemoryStore;
    use crate::money::Currency;

    /// The balance as of an instant and a history page read only postings
    /// once the account's facts are known, and still hide other customers'
    /// accounts.
    #[tokio::test]
    async fn balances_over_time_read_the_account_once_and_hide_foreign_ones() {
        let store = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new()), Duration::ZERO));
        let ledger = Ledger::builder(store.clone()).open().await.unwrap();
        let owner = UserId::new();
        let command = OpenAccount::new(owner, AccountKind::Checking, Currency::Usd);
        let account = ledger.open_account(&Actor::System, command).await.unwrap();
        let now = ledger.now();
        let me = Actor::customer(owner);
        ledger.balance_as_of(&me, account.id, now).await.unwrap();
        let warm = store.account_reads();
        ledger.balance_as_of(&me, account.id, now).await.unwrap();
        ledger.balance_history(&me, account.id, (None, None), None, 10).await.unwrap();
        assert_eq!(store.account_reads(), warm, "a balance over time read the account again");

        let stranger = Actor::customer(UserId::new());
        let hidden = Err(LedgerError::AccountNotFound { account: account.id });
        assert_eq!(ledger.balance_as_of(&stranger, account.id, now).await.map(|_| ()), hidden.clone());
        assert_eq!(ledger.balance_history(&stranger, account.id, (None, None), None, 10).await.map(|_| ()), hidden);
    }
}

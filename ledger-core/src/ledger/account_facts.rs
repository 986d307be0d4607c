//! What never changes about an account once it exists (its id, number,
//! owner, kind, currency, normal side and a ledger account's code), kept in
//! memory for planning and for the reads that need only these (balances as
//! of an instant, balance history).
//!
//! Planning a transfer reads both accounts only for these facts; on a SQL
//! store each read is a round trip outside the storage transaction, which a
//! one-client caller waits through. Accounts are never deleted and these
//! fields are never rewritten, so a cached fact can never go stale: not
//! after a status change, not when another process shares the database.
//! Only facts of accounts that exist are kept: those read, and those this
//! ledger opened (once committed); a miss reads the store.

use crate::account::{Account, AccountKind, NormalBalance};
use crate::account_code::AccountCode;
use crate::account_number::AccountNumber;
use crate::bounded_map::BoundedMap;
use crate::error::StorageError;
use crate::id::{AccountId, UserId};
use crate::money::Currency;
use crate::store::Store;

/// The most accounts the cache holds. At about 100 bytes for an entry in
/// each map, 20 MiB at most.
pub(crate) const ACCOUNT_FACTS_ENTRIES_MAX: usize = 100_000;

/// An account's immutable fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AccountFacts {
    /// Identity.
    pub id: AccountId,
    /// The unique human-readable number.
    pub number: AccountNumber,
    /// The owner.
    pub owner: UserId,
    /// What the account is for.
    pub kind: AccountKind,
    /// The one currency it holds.
    pub currency: Currency,
    /// The side its balance is reported on.
    pub normal_balance: NormalBalance,
}

impl From<&Account> for AccountFacts {
    fn from(account: &Account) -> Self {
        AccountFacts {
            id: account.id,
            number: account.number,
            owner: account.owner,
            kind: account.kind,
            currency: account.currency,
            normal_balance: account.normal_balance,
        }
    }
}

/// Facts of existing accounts by id and by number, at most `entries_max` of
/// each (each map starts over on its own when full).
#[derive(Debug)]
pub(crate) struct AccountFactsCache {
    by_id: BoundedMap<AccountId, AccountFacts>,
    by_number: BoundedMap<AccountNumber, AccountFacts>,
    by_code: BoundedMap<AccountCode, AccountFacts>,
}

impl Default for AccountFactsCache {
    /// A cache of at most [`ACCOUNT_FACTS_ENTRIES_MAX`] accounts.
    fn default() -> Self {
        AccountFactsCache::with_entries_max(ACCOUNT_FACTS_ENTRIES_MAX)
    }
}

impl AccountFactsCache {
    /// An empty cache that holds at most `entries_max` accounts (at least one).
    pub fn with_entries_max(entries_max: usize) -> AccountFactsCache {
        AccountFactsCache {
            by_id: BoundedMap::new(entries_max),
            by_number: BoundedMap::new(entries_max),
            by_code: BoundedMap::new(entries_max),
        }
    }

    /// The facts of the account with this id, if cached.
    pub fn get(&self, id: AccountId) -> Option<AccountFacts> {
        self.by_id.get(&id)
    }

    /// The facts of the account with this number, if cached.
    pub fn by_number(&self, number: AccountNumber) -> Option<AccountFacts> {
        self.by_number.get(&number)
    }

    /// The facts of the ledger account with this code, if cached.
    pub fn by_code(&self, code: &AccountCode) -> Option<AccountFacts> {
        self.by_code.get(code)
    }

    /// The facts of the account with this id: from memory, or else read
    /// from the store and remembered. A missing account is not remembered.
    pub async fn get_or_read(&self, store: &dyn Store, id: AccountId) -> Result<Option<AccountFacts>, StorageError> {
        if let Some(facts) = self.get(id) {
            return Ok(Some(facts));
        }
        Ok(store.account(id).await?.map(|account| self.remember(&account)))
    }

    /// The facts of the ledger account with this code: from memory, or else
    /// read from the store and remembered. A missing code is not remembered.
    pub async fn by_code_or_read(
        &self,
        store: &dyn Store,
        code: &AccountCode,
    ) -> Result<Option<AccountFacts>, StorageError> {
        if let Some(facts) = self.by_code(code) {
            return Ok(Some(facts));
        }
        Ok(store.account_by_code(code).await?.map(|account| self.remember(&account)))
    }

    /// Records the facts of an account just read from the store; returns them.
    pub fn remember(&self, account: &Account) -> AccountFacts {
        let facts = AccountFacts::from(account);
        self.insert(facts, account.code.as_ref());
        facts
    }

    /// Records the facts of an account read from the store (a ledger
    /// account's code never changes once set, so it is a fact too).
    pub fn insert(&self, facts: AccountFacts, code: Option<&AccountCode>) {
        self.by_id.insert(facts.id, facts);
        self.by_number.insert(facts.number, facts);
        if let Some(code) = code {
            self.by_code.insert(code.clone(), facts);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::Utc;

    use super::*;

    fn facts() -> AccountFacts {
        let mut account = Account::settlement(Currency::Usd, Utc::now());
        account.id = AccountId::new();
        account.number = AccountNumber::random(&mut rand::rng());
        account.owner = UserId::new();
        account.kind = AccountKind::Checking;
        AccountFacts::from(&account)
    }

    #[test]
    fn facts_are_found_by_id_and_by_number() {
        let cache = AccountFactsCache::with_entries_max(4);
        let a = facts();
        assert_eq!(cache.get(a.id), None);
        cache.insert(a, None);
        assert_eq!(cache.get(a.id), Some(a));
        assert_eq!(cache.by_number(a.number), Some(a));
        assert_eq!(cache.by_number(facts().number), None);
    }

    #[test]
    fn a_full_cache_starts_over_and_never_exceeds_its_bound() {
        let cache = AccountFactsCache::with_entries_max(2);
        let all = [facts(), facts(), facts()];
        cache.insert(all[0], None);
        cache.insert(all[1], None);
        cache.insert(all[1], None);
        assert!(cache.get(all[0].id).is_some(), "inserting a present entry again does not count as a new one");
        cache.insert(all[2], None);
        assert_eq!(cache.get(all[2].id), Some(all[2]));
        assert_eq!(cache.get(all[0].id), None);
        assert_eq!(cache.by_number(all[1].number), None, "the numbers start over too");
        assert_eq!((cache.by_id.len(), cache.by_number.len()), (1, 1));
    }
}

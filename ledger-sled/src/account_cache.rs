//! The committed accounts the writer has read or written, kept decoded in
//! memory. Deciding a transfer reads its two accounts, and account queries
//! read them too; from sled each read is a tree descent under sled's
//! process-wide lock and a JSON decode, and the writer holds every other
//! writer off while it reads. (Planning needs only an account's immutable
//! facts, which the `Ledger` keeps itself once read.)
//!
//! **Coherence.** Only the writer fills the cache, and only with committed
//! values: accounts it reads from the trees while it holds the writer lock
//! (nothing else can change them then), and the accounts of its own commits
//! after sled has committed them. A reader that missed the cache reads the
//! trees and leaves the cache alone, so a reader can never put back a value
//! the writer has since replaced.

use ledger_core::bounded_map::BoundedMap;
use ledger_core::{Account, AccountId};

/// The most accounts the cache holds. At about 300 bytes each, 64 MiB at most.
pub(crate) const ACCOUNT_CACHE_ENTRIES_MAX: usize = 200_000;

/// Committed accounts by id, at most `entries_max` of them; a full cache
/// starts over, and the hot accounts come back on their next read.
#[derive(Debug)]
pub(crate) struct AccountCache {
    accounts: BoundedMap<AccountId, Account>,
}

impl Default for AccountCache {
    /// A cache of at most [`ACCOUNT_CACHE_ENTRIES_MAX`] accounts.
    fn default() -> Self {
        AccountCache::with_entries_max(ACCOUNT_CACHE_ENTRIES_MAX)
    }
}

impl AccountCache {
    /// An empty cache that holds at most `entries_max` accounts (at least one).
    pub fn with_entries_max(entries_max: usize) -> AccountCache {
        AccountCache { accounts: BoundedMap::new(entries_max) }
    }

    /// The cached committed state of an account, if the cache holds it.
    pub fn get(&self, id: AccountId) -> Option<Account> {
        self.accounts.get(&id)
    }

    /// Records an account's committed state. For the writer only (see the
    /// module's coherence rule).
    pub fn insert_committed(&self, account: &Account) {
        self.accounts.insert(account.id, account.clone());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::Utc;
    use ledger_core::{AccountKind, Currency, UserId};

    use super::*;

    fn account() -> Account {
        let mut account = Account::settlement(Currency::Usd, Utc::now());
        account.id = AccountId::new();
        account.owner = UserId::new();
        account.kind = AccountKind::Checking;
        account
    }

    #[test]
    fn a_full_cache_starts_over_and_never_exceeds_its_bound() {
        let cache = AccountCache::with_entries_max(3);
        let accounts: Vec<Account> = (0..4).map(|_| account()).collect();
        for a in &accounts[..3] {
            cache.insert_committed(a);
        }
        assert!(accounts[..3].iter().all(|a| cache.get(a.id).is_some()));
        cache.insert_committed(&accounts[3]);
        assert_eq!(cache.get(accounts[3].id), Some(accounts[3].clone()));
        assert!(accounts[..3].iter().all(|a| cache.get(a.id).is_none()), "the full cache started over");
        assert_eq!(cache.accounts.len(), 1);
    }

    #[test]
    fn a_newer_state_of_a_cached_account_replaces_it_without_evicting_others() {
        let cache = AccountCache::with_entries_max(2);
        let (first, mut second) = (account(), account());
        cache.insert_committed(&first);
        cache.insert_committed(&second);
        second.name = Some("renamed".to_owned());
        cache.insert_committed(&second);
        assert_eq!(cache.get(second.id), Some(second.clone()));
        assert_eq!(cache.get(first.id), Some(first), "updating a present entry does not count as a new one");
    }
}

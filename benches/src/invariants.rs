//! The ledger invariant a benchmark run must leave intact: per currency,
//! every account's posted balance sums to zero, over every account the store
//! lists: customer accounts, the settlement accounts and the ledger accounts
//! the application opened (the split workload's fee and tax accounts).
//! Balances are stored credit positive whatever an account's normal side,
//! so a credit-normal ledger account adds to the sum like a customer account.
//!
//! A zero sum cannot see an entry applied in part (each posting balances on
//! its own), so a run may also name accounts that must be listed and exact
//! balances some must have ([`Expected`]): the split workload expects its fee
//! and tax accounts to hold exactly their share of every entry it committed.

use std::collections::{BTreeMap, HashMap, HashSet};

use ledger_core::{Account, AccountId, Store};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::BenchError;

/// Accounts read per page.
const ACCOUNTS_PAGE_LEN: usize = 500;

/// What a run expects of its store besides the zero sums.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// Accounts the run opened: each must be listed.
    pub accounts: Vec<AccountId>,
    /// Posted balances (credit positive) some accounts must have exactly.
    pub balances: Vec<(AccountId, Decimal)>,
}

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BalanceCheck {
    /// Accounts read.
    pub accounts: usize,
    /// Accounts read per kind (`checking`, `settlement`, `ledger`, ...).
    pub kinds: BTreeMap<String, usize>,
    /// Per currency code, the sum of posted balances (zero when sound), as text.
    pub sums: BTreeMap<String, String>,
    /// The posted balance (credit positive) of every account with a code
    /// (settlement and ledger accounts), by code, as text.
    pub coded: BTreeMap<String, String>,
    /// Whether every sum is zero.
    pub balanced: bool,
    /// Expected accounts the store did not list.
    pub missing: usize,
    /// Expected balances the store did not have: `id: found X, expected Y`.
    pub mismatches: Vec<String>,
}

impl BalanceCheck {
    /// Whether every sum is zero, every expected account was listed and
    /// every expected balance found.
    pub fn holds(&self) -> bool {
        self.balanced && self.missing == 0 && self.mismatches.is_empty()
    }
}

/// Sums every account's posted balance per currency. Run it with no
/// command in flight: it reads page by page.
pub async fn check_balances(store: &dyn Store) -> Result<BalanceCheck, BenchError> {
    check_balances_expecting(store, &Expected::default()).await
}

/// [`check_balances`], and checks `expected` against what it read.
pub async fn check_balances_expecting(store: &dyn Store, expected: &Expected) -> Result<BalanceCheck, BenchError> {
    let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut coded: BTreeMap<String, String> = BTreeMap::new();
    let mut unseen: HashSet<AccountId> = expected.accounts.iter().copied().collect();
    let wanted: HashMap<AccountId, Decimal> = expected.balances.iter().copied().collect();
    let mut found: HashMap<AccountId, Decimal> = HashMap::new();
    let mut after = None;
    let mut accounts = 0;
    loop {
        let page: Vec<Account> = store.accounts(after, ACCOUNTS_PAGE_LEN).await?;
        for account in &page {
            let posted = account.balance.posted;
            *sums.entry(account.currency.code().to_owned()).or_default() += posted;
            *kinds.entry(account.kind.as_str().to_owned()).or_default() += 1;
            if let Some(code) = &account.code {
                coded.insert(code.as_str().to_owned(), posted.normalize().to_string());
            }
            unseen.remove(&account.id);
            if wanted.contains_key(&account.id) {
                found.insert(account.id, posted);
            }
        }
        accounts += page.len();
        after = page.last().map(|a| a.id);
        if page.len() < ACCOUNTS_PAGE_LEN {
            break;
        }
    }
    let mismatches = expected
        .balances
        .iter()
        .filter_map(|(id, want)| match found.get(id) {
            Some(got) if got == want => None,
            Some(got) => Some(format!("{id}: found {}, expected {}", got.normalize(), want.normalize())),
            None => Some(format!("{id}: not listed, expected {}", want.normalize())),
        })
        .collect();
    let balanced = sums.values().all(Decimal::is_zero);
    Ok(BalanceCheck {
        accounts,
        kinds,
        sums: sums.into_iter().map(|(c, s)| (c, s.normalize().to_string())).collect(),
        coded,
        balanced,
        missing: unseen.len(),
        mismatches,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use ledger_core::{Ledger, MemoryStore};

    use super::*;
    use crate::backend::{LedgerWorkload, open_split_accounts, seed_accounts};
    use crate::driver::Workload;

    #[tokio::test]
    async fn the_check_sums_the_ledger_accounts_and_catches_a_missing_account_or_a_wrong_balance() {
        let store = Arc::new(MemoryStore::new());
        let ledger = Ledger::builder(store.clone()).open().await.unwrap();
        let accounts = Arc::new(seed_accounts(&ledger, 2).await.unwrap());
        let split = open_split_accounts(&ledger).await.unwrap();
        let workload = LedgerWorkload::split(ledger, accounts.clone(), split).unwrap();
        workload.transfers(&[(0, 1), (1, 0)], "k-1").await.unwrap();
        workload.transfers(&[(0, 1)], "k-2").await.unwrap();
        assert_eq!(workload.committed(), 3);

        let mut expected = Expected { accounts: accounts.to_vec(), balances: workload.expected_ledger_balances() };
        expected.accounts.extend([split.fee, split.tax]);
        let check = check_balances_expecting(store.as_ref(), &expected).await.unwrap();
        assert!(check.holds(), "{check:?}");
        assert_eq!(check.kinds.get("ledger"), Some(&2), "{check:?}");
        assert_eq!(check.coded.get("revenue:fees").map(String::as_str), Some("0.45"), "{check:?}");
        assert_eq!(check.coded.get("liabilities:tax").map(String::as_str), Some("0.15"), "{check:?}");

        expected.accounts.push(AccountId::new());
        expected.balances[1].1 += Decimal::new(5, 2);
        let check = check_balances_expecting(store.as_ref(), &expected).await.unwrap();
        assert!(check.balanced && !check.holds(), "{check:?}");
        assert_eq!(check.missing, 1, "{check:?}");
        assert_eq!(check.mismatches, vec![format!("{}: found 0.15, expected 0.2", split.tax)], "{check:?}");
    }
}

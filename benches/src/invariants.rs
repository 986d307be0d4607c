//! The ledger invariant a benchmark run must leave intact: per currency,
//! every account's posted balance (settlement accounts included) sums to zero.

use std::collections::BTreeMap;

use ledger_core::{Account, Store};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::BenchError;

/// Accounts read per page.
const ACCOUNTS_PAGE_LEN: usize = 500;

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BalanceCheck {
    /// Accounts read.
    pub accounts: usize,
    /// Per currency code, the sum of posted balances (zero when sound), as text.
    pub sums: BTreeMap<String, String>,
    /// Whether every sum is zero.
    pub balanced: bool,
}

/// Sums every account's posted balance per currency. Run it with no
/// command in flight: it reads page by page.
pub async fn check_balances(store: &dyn Store) -> Result<BalanceCheck, BenchError> {
    let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut after = None;
    let mut accounts = 0;
    loop {
        let page: Vec<Account> = store.accounts(after, ACCOUNTS_PAGE_LEN).await?;
        for account in &page {
            *sums.entry(account.currency.code().to_owned()).or_default() += account.balance.posted;
        }
        accounts += page.len();
        after = page.last().map(|a| a.id);
        if page.len() < ACCOUNTS_PAGE_LEN {
            break;
        }
    }
    let balanced = sums.values().all(Decimal::is_zero);
    Ok(BalanceCheck {
        accounts,
        sums: sums.into_iter().map(|(c, s)| (c, s.normalize().to_string())).collect(),
        balanced,
    })
}

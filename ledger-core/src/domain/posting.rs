//! Postings: the double-entry lines under every posted transaction.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::id::{AccountId, TransactionId};
use crate::money::Currency;

/// One line of a double-entry: a signed change to one account's posted
/// balance (credit positive, debit negative). The postings a command writes
/// sum to zero per currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// Commit order among all postings, assigned by the store.
    pub sequence: u64,
    /// The transaction this line belongs to.
    pub transaction_id: TransactionId,
    /// The account whose posted balance changes.
    pub account_id: AccountId,
    /// Signed change: positive credits, negative debits.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// The currency of the change.
    pub currency: Currency,
    /// The account's posted balance (stored credit-positive) after this
    /// line: the running balance, set when the line commits.
    #[serde(default, with = "rust_decimal::serde::str")]
    pub balance_after: Decimal,
    /// When it committed (its transaction's commit time); commit order and
    /// time order agree.
    #[serde(default)]
    pub at: DateTime<Utc>,
}

/// The two lines that move `amount` from `debit` to `credit`.
pub fn pair(
    transaction_id: TransactionId,
    debit: AccountId,
    credit: AccountId,
    amount: Decimal,
    currency: Currency,
) -> [Posting; 2] {
    debug_assert!(amount > Decimal::ZERO);
    let line = |account_id, amount| Posting {
        sequence: 0,
        transaction_id,
        account_id,
        amount,
        currency,
        balance_after: Decimal::ZERO,
        at: DateTime::<Utc>::UNIX_EPOCH,
    };
    [line(debit, -amount), line(credit, amount)]
}

/// Whether the postings sum to zero in every currency.
pub fn is_balanced(postings: &[Posting]) -> bool {
    let mut sums: Vec<(Currency, Decimal)> = Vec::new();
    for p in postings {
        match sums.iter_mut().find(|(c, _)| *c == p.currency) {
            Some((_, sum)) => *sum += p.amount,
            None => sums.push((p.currency, p.amount)),
        }
    }
    sums.iter().all(|(_, sum)| sum.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_balanced_and_a_lone_line_is_not() {
        let t = TransactionId::new();
        let lines = pair(t, AccountId::new(), AccountId::new(), Decimal::new(1050, 2), Currency::Usd);
        assert!(is_balanced(&lines));
        assert!(!is_balanced(&lines[..1]));
        let mut mixed = lines.to_vec();
        mixed[1].currency = Currency::Eur;
        assert!(!is_balanced(&mixed));
    }
}

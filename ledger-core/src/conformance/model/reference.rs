//! The reference model: balances, holds and statuses by the rules, written
//! from the rules rather than from the ledger's code.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::*;

#[derive(Debug, Clone)]
pub(super) struct ModelAccount {
    pub(super) id: AccountId,
    pub(super) currency: Currency,
    pub(super) status: AccountStatus,
    /// Credit-positive, as stored.
    pub(super) posted: Decimal,
    pub(super) pending: Decimal,
    pub(super) normal: NormalBalance,
    /// The lowest available balance on the normal side; `None`: unbounded.
    pub(super) floor: Option<Decimal>,
}

impl ModelAccount {
    /// What may still be spent, on the normal side.
    pub(super) fn available(&self) -> Decimal {
        let posted = match self.normal {
            NormalBalance::Credit => self.posted,
            NormalBalance::Debit => -self.posted,
        };
        posted - self.pending
    }
}

#[derive(Debug, Clone)]
pub(super) struct ModelHold {
    pub(super) id: TransactionId,
    pub(super) account: usize,
    pub(super) amount: Decimal,
    pub(super) status: TransactionStatus,
    pub(super) expires_at: Option<DateTime<Utc>>,
}

/// The reference model: balances and statuses by the rules.
#[derive(Debug, Clone)]
pub(super) struct Model {
    pub(super) accounts: Vec<ModelAccount>,
    pub(super) settlement: HashMap<Currency, Decimal>,
    pub(super) holds: Vec<ModelHold>,
    pub(super) now: DateTime<Utc>,
    /// How many committed transactions carry each order tag.
    pub(super) tagged: [usize; ORDERS.len()],
}

/// A command as the model sees it, before ids are resolved.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Intent {
    Deposit(usize, Decimal),
    Withdraw(usize, Decimal),
    Transfer(usize, usize, Decimal),
    Hold(usize, Decimal, bool),
    Capture(usize, Option<Decimal>),
    Void(usize),
    /// Postings (source, destination, amount, currency) and an order tag.
    Entry(Vec<(usize, usize, Decimal, Currency)>, Option<usize>),
}

pub(super) type Verdict = Result<(), &'static str>;

impl Model {
    pub(super) fn available(&self, a: usize) -> Decimal {
        self.accounts[a].available()
    }

    pub(super) fn postable(&self, a: usize) -> Verdict {
        match self.accounts[a].status {
            AccountStatus::Active => Ok(()),
            AccountStatus::Frozen => Err("account_frozen"),
            AccountStatus::Closed => Err("account_closed"),
        }
    }

    /// Errors found before any state is consulted (validation and lookups).
    pub(super) fn static_error(&self, intent: &Intent) -> Verdict {
        let precise = |d: &Decimal| if d.normalize().scale() > 2 { Err("invalid_amount") } else { Ok(()) };
        match intent {
            Intent::Deposit(_, d) | Intent::Withdraw(_, d) | Intent::Hold(_, d, _) => precise(d),
            Intent::Transfer(a, b, d) => {
                if a == b {
                    return Err("same_account");
                }
                if self.accounts[*a].currency != self.accounts[*b].currency {
                    return Err("currency_mismatch");
                }
                precise(d)
            }
            Intent::Capture(_, amount) => amount.as_ref().map_or(Ok(()), precise),
            Intent::Void(_) => Ok(()),
            Intent::Entry(postings, _) => {
                for (source, destination, d, currency) in postings {
                    if source == destination {
                        return Err("invalid_entry");
                    }
                    if [source, destination].iter().any(|&&a| self.accounts[a].currency != *currency) {
                        return Err("currency_mismatch");
                    }
                    precise(d)?;
                }
                Ok(())
            }
        }
    }

    /// An entry: every line's account must take postings (in line order),
    /// all postings apply, then each account whose balance ends lower on its
    /// normal side must end at or above its floor.
    pub(super) fn apply_entry(
        &mut self,
        postings: &[(usize, usize, Decimal, Currency)],
        order: Option<usize>,
    ) -> Verdict {
        for (source, destination, _, _) in postings {
            self.postable(*source)?;
            self.postable(*destination)?;
        }
        let before = self.clone();
        let mut touched: Vec<usize> = Vec::new();
        for &(source, destination, d, _) in postings {
            self.accounts[source].posted -= d;
            self.accounts[destination].posted += d;
            for a in [source, destination] {
                if !touched.contains(&a) {
                    touched.push(a);
                }
            }
        }
        for a in touched {
            let lowered = self.available(a) < before.available(a);
            if lowered && self.accounts[a].floor.is_some_and(|floor| self.available(a) < floor) {
                *self = before;
                return Err("insufficient_funds");
            }
        }
        if let Some(order) = order {
            self.tagged[order] += 1;
        }
        Ok(())
    }

    /// Applies the state guards and effects, as the rules say.
    pub(super) fn apply(&mut self, intent: &Intent, hold_id: Option<TransactionId>) -> Verdict {
        match *intent {
            Intent::Entry(ref postings, order) => self.apply_entry(postings, order)?,
            Intent::Deposit(a, d) => {
                self.postable(a)?;
                self.accounts[a].posted += d;
                *self.settlement.entry(self.accounts[a].currency).or_default() -= d;
            }
            Intent::Withdraw(a, d) => {
                self.postable(a)?;
                if self.available(a) < d {
                    return Err("insufficient_funds");
                }
                self.accounts[a].posted -= d;
                *self.settlement.entry(self.accounts[a].currency).or_default() += d;
            }
            Intent::Transfer(a, b, d) => {
                self.postable(a)?;
                self.postable(b)?;
                if self.available(a) < d {
                    return Err("insufficient_funds");
                }
                self.accounts[a].posted -= d;
                self.accounts[b].posted += d;
            }
            Intent::Hold(a, d, expires) => {
                self.postable(a)?;
                if self.available(a) < d {
                    return Err("insufficient_funds");
                }
                self.accounts[a].pending += d;
                let expires_at = expires.then(|| self.now + Duration::seconds(HOLD_TTL_SECS));
                let id = hold_id.unwrap_or_default();
                self.holds.push(ModelHold {
                    id,
                    account: a,
                    amount: d,
                    status: TransactionStatus::Pending,
                    expires_at,
                });
            }
            Intent::Capture(h, amount) => {
                let hold = self.holds[h].clone();
                if hold.status != TransactionStatus::Pending {
                    return Err("hold_not_pending");
                }
                if hold.expires_at.is_some_and(|e| self.now >= e) {
                    return Err("hold_expired");
                }
                let captured = amount.unwrap_or(hold.amount);
                if captured > hold.amount {
                    return Err("capture_exceeds_hold");
                }
                self.postable(hold.account)?;
                let account = &mut self.accounts[hold.account];
                account.pending -= hold.amount;
                account.posted -= captured;
                *self.settlement.entry(account.currency).or_default() += captured;
                self.holds[h].status = TransactionStatus::Posted;
            }
            Intent::Void(h) => {
                if self.holds[h].status != TransactionStatus::Pending {
                    return Err("hold_not_pending");
                }
                self.accounts[self.holds[h].account].pending -= self.holds[h].amount;
                self.holds[h].status = TransactionStatus::Voided;
            }
        }
        Ok(())
    }

    pub(super) fn change_status(&mut self, a: usize, to: AccountStatus) -> Verdict {
        let account = &mut self.accounts[a];
        match (account.status, to) {
            (AccountStatus::Closed, _) => Err("account_closed"),
            (AccountStatus::Active | AccountStatus::Frozen, AccountStatus::Closed) => {
                if !account.pending.is_zero() {
                    Err("account_has_open_holds")
                } else if !account.posted.is_zero() {
                    Err("account_not_empty")
                } else {
                    account.status = to;
                    Ok(())
                }
            }
            (AccountStatus::Active, AccountStatus::Frozen) | (AccountStatus::Frozen, AccountStatus::Active) => {
                account.status = to;
                Ok(())
            }
            _ => Err("invalid_status_transition"),
        }
    }
}

//! Restamping: moving every time a booking stamped at its booked instant to
//! the later instant sealing gives it, so commit times never go back in
//! sequence order (a balance as of an instant is one seek).
//!
//! It goes by role, not by value: a field is moved because `decide` stamps
//! that field of that record with the booking time (an account a commit
//! changed has its `updated_at` stamped; a transaction it created, its
//! `created_at` and `updated_at`), never because it equals the booked
//! instant, which an older record's time can do (a coarse or a test clock
//! makes that common). Each moved field is asserted to have held the booked
//! instant, so a stamp `decide` adds without a role here fails the tests.

use chrono::{DateTime, Utc};

use crate::account::Account;
use crate::id::{AccountId, IdSet, TransactionId};
use crate::transaction::Transaction;
use crate::write_batch::Booking;

/// Moves what `booking` stamped at its booked time (`booking.audit.at`) to
/// `sealed`, which must be later.
pub(crate) fn restamp(booking: &mut Booking, sealed: DateTime<Utc>) {
    let stamp = Stamp { booked: booking.audit.at, sealed };
    debug_assert!(stamp.sealed > stamp.booked, "restamping only ever moves a booking later");
    let written = Written::of(booking);
    for account in booking.new_accounts.iter_mut().chain(&mut booking.updated_accounts) {
        stamp.account(account, &written);
    }
    for transaction in booking.new_transactions.iter_mut().chain(&mut booking.updated_transactions) {
        stamp.transaction(transaction, &written);
    }
    for posting in &mut booking.postings {
        stamp.moved(&mut posting.at);
    }
    for change in &mut booking.changes {
        stamp.moved(&mut change.at);
        // The feed carries each record as the commit left it: the same
        // stamps, where the commit wrote that record.
        if let Some(transaction) = &mut change.transaction {
            stamp.transaction(transaction, &written);
        }
        for account in change.account.iter_mut().chain(&mut change.balances) {
            stamp.account(account, &written);
        }
    }
    if let Some(record) = &mut booking.idempotency {
        stamp.moved(&mut record.created_at);
    }
    for user in &mut booking.updated_users {
        stamp.moved(&mut user.updated_at);
    }
    for session in &mut booking.updated_sessions {
        stamp.moved_option(&mut session.revoked_at);
    }
    for token in &mut booking.updated_reset_tokens {
        stamp.moved_option(&mut token.used_at);
    }
    booking.audit.at = sealed;
}

/// The booked instant and the sealed one.
struct Stamp {
    booked: DateTime<Utc>,
    sealed: DateTime<Utc>,
}

impl Stamp {
    /// Moves a field `decide` stamped at the booked instant.
    fn moved(&self, at: &mut DateTime<Utc>) {
        debug_assert_eq!(*at, self.booked, "a field restamped by role was not stamped at the booking time");
        *at = self.sealed;
    }

    /// Moves an optional field `decide` set (a revocation, a use).
    fn moved_option(&self, at: &mut Option<DateTime<Utc>>) {
        debug_assert!(at.is_some(), "a revoked or used record without its time");
        if let Some(at) = at {
            self.moved(at);
        }
    }

    /// An account's stamps, if this commit wrote it: `updated_at`, and
    /// `created_at` if it opened it. Others (an account the feed lists
    /// because a hold names it) keep theirs.
    fn account(&self, account: &mut Account, written: &Written) {
        if written.new_accounts.contains(&account.id) {
            self.moved(&mut account.created_at);
            self.moved(&mut account.updated_at);
        } else if written.updated_accounts.contains(&account.id) {
            self.moved(&mut account.updated_at);
        }
    }

    /// A transaction's stamps, if this commit wrote it: `updated_at`, and
    /// `created_at` if it created it.
    fn transaction(&self, transaction: &mut Transaction, written: &Written) {
        if written.new_transactions.contains(&transaction.id) {
            self.moved(&mut transaction.created_at);
            self.moved(&mut transaction.updated_at);
        } else if written.updated_transactions.contains(&transaction.id) {
            self.moved(&mut transaction.updated_at);
        }
    }
}

/// The ids of the accounts and transactions a booking writes, by role.
struct Written {
    new_accounts: IdSet<AccountId>,
    updated_accounts: IdSet<AccountId>,
    new_transactions: IdSet<TransactionId>,
    updated_transactions: IdSet<TransactionId>,
}

impl Written {
    fn of(booking: &Booking) -> Written {
        Written {
            new_accounts: booking.new_accounts.iter().map(|a| a.id).collect(),
            updated_accounts: booking.updated_accounts.iter().map(|a| a.id).collect(),
            new_transactions: booking.new_transactions.iter().map(|t| t.id).collect(),
            updated_transactions: booking.updated_transactions.iter().map(|t| t.id).collect(),
        }
    }
}

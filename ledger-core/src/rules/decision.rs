//! The state guards: [`decide`] evaluates a [`WriteBatch`] against the state a
//! store loaded inside its storage transaction, and says what to write.
//!
//! This is the only place mutable state is judged: statuses, balances and
//! floors, hold life cycles, idempotency replays. Every backend calls it, so
//! every backend enforces the same rules. It is pure: no I/O, no clock.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::account::{ACCOUNTS_PER_OWNER_MAX, Account};
use crate::audit::{AuditEntry, AuditOutcome};
use crate::change::{Change, ChangeKind};
use crate::command::BATCH_POSTINGS_MAX;
use crate::error::LedgerError;
use crate::id::UserId;
use crate::id::{AccountId, IdMap, IdSet, TransactionId};
use crate::idempotency::{IdempotencyRecord, Replay};
use crate::identity::{KycStatus, KycTransition};
use crate::posting::{self, Posting};
use crate::transaction::{Leg, Transaction, TransactionKind, TransactionStatus};
use crate::write_batch::{Booking, Op, SEQUENCE_STRIDE, Shape, Snapshot, Verdict, WriteBatch};

mod identity;

use identity::IdentityWork;

/// Decides a batch against the current state of its keys, booked at `at`.
///
/// The store must have loaded `snapshot` for `batch.keys()` inside the same
/// storage transaction in which it will apply the writes. The verdict is not
/// yet in the audit chain: `rules::seal` places it, which is what gives its
/// records their sequences. `at` is the instant its guards judge (hold and
/// token expiry) and stamps every record the batch writes; sealing moves
/// those stamps to the head's time if that is later (`rules::restamp`).
pub(crate) fn decide(batch: &WriteBatch, snapshot: Snapshot, at: DateTime<Utc>) -> Verdict {
    let refuse = |error: LedgerError| {
        let audit = AuditEntry { draft: batch.0.audit.clone(), outcome: AuditOutcome::rejected(&error), at };
        Verdict::Refuse { error, audit: Box::new(audit) }
    };
    if let Some(error) = &batch.0.rejected {
        return refuse(error.clone());
    }
    if let Some(claim) = &batch.0.claim {
        match claim.check(snapshot.idempotency.as_ref()) {
            Replay::Same(record) => return Verdict::Replay(record.clone()),
            Replay::Conflict => return refuse(LedgerError::IdempotencyConflict),
            Replay::Fresh => {}
        }
    }
    let mut work = Working::new(snapshot, at);
    for (index, op) in &batch.0.ops {
        if let Err(error) = work.apply(op) {
            let error = work.as_seen_by_customer(batch, error);
            return refuse(match batch.0.shape {
                Shape::Single => error,
                Shape::Multi => LedgerError::BatchCommandFailed { index: *index, source: Box::new(error) },
            });
        }
    }
    if work.postings.len() > BATCH_POSTINGS_MAX {
        return refuse(LedgerError::BatchTooManyPostings { postings: work.postings.len(), max: BATCH_POSTINGS_MAX });
    }
    Verdict::Book(Box::new(work.into_booking(batch)))
}

/// The snapshot being changed op by op, with a record of what changed.
struct Working {
    at: DateTime<Utc>,
    accounts: IdMap<AccountId, Account>,
    transactions: IdMap<TransactionId, Transaction>,
    taken_numbers: BTreeSet<crate::AccountNumber>,
    owned_accounts: IdMap<UserId, usize>,
    taken_codes: BTreeSet<crate::AccountCode>,
    new_accounts: Vec<AccountId>,
    changed_accounts: Vec<AccountId>,
    /// Every id in `new_accounts` or `changed_accounts`: a batch of a
    /// thousand transfers must not search those lists per posting.
    listed_accounts: IdSet<AccountId>,
    new_transactions: Vec<Transaction>,
    changed_transactions: Vec<TransactionId>,
    /// Transactions created or changed, in op order (what a replay returns).
    order: Vec<TransactionId>,
    postings: Vec<Posting>,
    /// What the feed will say changed, in op order.
    changed: Vec<Changed>,
    identity: IdentityWork,
}

/// One entry of the change feed, before the commit's sequences are known.
#[derive(Clone, Copy)]
enum Changed {
    Transaction(ChangeKind, TransactionId),
    Account(ChangeKind, AccountId),
}

impl Working {
    fn new(snapshot: Snapshot, at: DateTime<Utc>) -> Working {
        Working {
            at,
            accounts: snapshot.accounts,
            transactions: snapshot.transactions,
            taken_numbers: snapshot.taken_numbers,
            owned_accounts: snapshot.owned_accounts,
            taken_codes: snapshot.taken_codes,
            new_accounts: Vec::new(),
            changed_accounts: Vec::new(),
            listed_accounts: IdSet::default(),
            new_transactions: Vec::new(),
            changed_transactions: Vec::new(),
            order: Vec::new(),
            postings: Vec::new(),
            changed: Vec::new(),
            identity: IdentityWork {
                users: snapshot.users,
                taken_emails: snapshot.taken_emails,
                sessions: snapshot.sessions,
                reset_tokens: snapshot.reset_tokens,
                ..IdentityWork::default()
            },
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), LedgerError> {
        match op {
            Op::CreateAccount(account) if account.code.is_some() => {
                if let Some(code) = &account.code
                    && !self.taken_codes.insert(code.clone())
                {
                    return Err(LedgerError::AccountCodeTaken);
                }
                self.create_account(account)
            }
            Op::CreateAccount(account) => {
                let owned = self.owned_accounts.entry(account.owner).or_default();
                if *owned >= ACCOUNTS_PER_OWNER_MAX {
                    return Err(LedgerError::TooManyAccounts { max: ACCOUNTS_PER_OWNER_MAX });
                }
                *owned += 1;
                self.create_account(account)
            }
            Op::EnsureAccount(account) => {
                if !self.accounts.contains_key(&account.id) {
                    self.create_account(account)?;
                }
                Ok(())
            }
            Op::Post { transaction, postings } => self.post(transaction, postings),
            Op::PlaceHold { transaction } => self.place_hold(transaction),
            Op::CaptureHold { hold, from, to, amount } => self.capture_hold(*hold, *from, *to, *amount),
            Op::VoidHold { hold, from } => self.void_hold(*hold, *from),
            Op::Reverse { original, reversal, amount, .. } => self.reverse(*original, reversal, *amount),
            Op::ChangeStatus { account, change } => {
                let at = self.at;
                self.account_mut(*account)?.change_status(*change, at)?;
                self.changed.push(Changed::Account(ChangeKind::AccountStatusChanged, *account));
                Ok(())
            }
            Op::RenameAccount { account, name } => {
                let at = self.at;
                self.account_mut(*account)?.rename(name.clone(), at)?;
                self.changed.push(Changed::Account(ChangeKind::AccountRenamed, *account));
                Ok(())
            }
            Op::CreateUser(user) => self.identity.create_user(user),
            Op::UpdateProfile { user, patch } => {
                let at = self.at;
                let user = self.identity.user_mut(*user, at)?;
                let profile = user.profile.patched(patch, at.date_naive())?;
                if user.kyc_status == KycStatus::Verified && profile.identity_differs(&user.profile) {
                    // What the admin verified no longer describes this user:
                    // back to review, so money cannot leave under a new name.
                    user.kyc_status = KycStatus::Pending;
                }
                user.profile = profile;
                Ok(())
            }
            Op::SetPassword { user, password } => {
                let user = self.identity.user_mut(*user, self.at)?;
                user.password = password.clone();
                // A new password ends any reset in progress.
                user.reset_token = None;
                Ok(())
            }
            Op::ChangeKyc { user, transition } => {
                let user = self.identity.user_mut(*user, self.at)?;
                user.kyc_status = transition.apply(user.kyc_status)?;
                // Judged on the stored profile, in the commit: a reviewer
                // must have something to review.
                let missing = user.profile.missing_for_review();
                if matches!(transition, KycTransition::Submit) && !missing.is_empty() {
                    return Err(LedgerError::ProfileIncomplete { missing });
                }
                user.kyc_reason = match transition {
                    KycTransition::Reject { reason } => Some(reason.trim().to_owned()),
                    _ => None,
                };
                Ok(())
            }
            Op::RequireVerified { user } => match self.identity.users.get(user) {
                Some(u) if u.kyc_status == KycStatus::Verified => Ok(()),
                Some(_) => Err(LedgerError::KycRequired),
                None => Err(LedgerError::UserNotFound),
            },
            Op::CreateSession { session, verified } => {
                match self.identity.users.get(&session.user_id) {
                    Some(user) if user.password == *verified => {}
                    _ => return Err(LedgerError::InvalidCredentials),
                }
                self.identity.sessions.insert(session.id, (**session).clone());
                self.identity.new_sessions.push(session.id);
                Ok(())
            }
            Op::RevokeSession { session, user } => self.identity.revoke_session(*session, *user, self.at),
            Op::RevokeSessions { user, except } => {
                self.identity.revoke_sessions(*user, *except, self.at);
                Ok(())
            }
            Op::IssueResetToken(token) => {
                // The user's earlier tokens stop working: only this one may be used.
                self.identity.user_mut(token.user_id, self.at)?.reset_token = Some(token.token_digest);
                self.identity.reset_tokens.insert(token.token_digest, token.clone());
                self.identity.new_reset_tokens.push(token.token_digest);
                Ok(())
            }
            Op::ConsumeResetToken { token, user } => self.identity.consume_reset_token(*token, *user, self.at),
        }
    }

    /// The error as the batch's customer may see it: one that names
    /// another owner's account (frozen, closed, short of funds) says only
    /// that the counterparty cannot take part, never its number or state.
    fn as_seen_by_customer(&self, batch: &WriteBatch, error: LedgerError) -> LedgerError {
        let Some(customer) = batch.0.customer else { return error };
        let named = match &error {
            LedgerError::AccountFrozen { account, .. }
            | LedgerError::AccountClosed { account, .. }
            | LedgerError::InsufficientFunds { account, .. }
            | LedgerError::AccountHasOpenHolds { account, .. }
            | LedgerError::AccountNotEmpty { account, .. }
            | LedgerError::InvalidStatusTransition { account, .. } => *account,
            _ => return error,
        };
        match self.accounts.get(&named) {
            Some(account) if account.owner == customer => error,
            _ if batch.credits(named) => LedgerError::RecipientUnavailable,
            _ => LedgerError::PayerUnavailable,
        }
    }

    fn create_account(&mut self, account: &Account) -> Result<(), LedgerError> {
        if self.taken_numbers.contains(&account.number) || self.accounts.contains_key(&account.id) {
            return Err(LedgerError::AccountNumberTaken);
        }
        self.taken_numbers.insert(account.number);
        let id = account.id;
        self.accounts.insert(id, Account { created_at: self.at, updated_at: self.at, ..account.clone() });
        self.new_accounts.push(id);
        self.listed_accounts.insert(id);
        self.changed.push(Changed::Account(ChangeKind::AccountOpened, id));
        Ok(())
    }

    /// The account for a change, recorded as changed.
    fn account_mut(&mut self, id: AccountId) -> Result<&mut Account, LedgerError> {
        if self.listed_accounts.insert(id) {
            self.changed_accounts.push(id);
        }
        self.accounts.get_mut(&id).ok_or(LedgerError::AccountNotFound { account: id })
    }

    fn ensure_postable(&self, id: AccountId) -> Result<(), LedgerError> {
        self.accounts.get(&id).ok_or(LedgerError::AccountNotFound { account: id })?.ensure_postable()
    }

    /// Applies postings, then checks floors on the final state: an account
    /// whose balance ends lower (on its normal side) must end at or above
    /// its floor, so it may pass through zero on the way. Returns the lines
    /// stamped with the commit time and each account's balance after them.
    fn apply_postings(&mut self, postings: &[Posting]) -> Result<Vec<Posting>, LedgerError> {
        debug_assert!(posting::is_balanced(postings));
        for p in postings {
            self.ensure_postable(p.account_id)?;
        }
        let at = self.at;
        // Each account's net change, in order of first touch.
        let mut changes: Vec<(AccountId, Decimal)> = Vec::new();
        let mut stamped = Vec::with_capacity(postings.len());
        for p in postings {
            let account = self.account_mut(p.account_id)?;
            if account.currency != p.currency {
                return Err(LedgerError::CurrencyMismatch { expected: account.currency, found: p.currency });
            }
            account.balance.posted =
                account.balance.posted.checked_add(p.amount).ok_or(LedgerError::BalanceOverflow)?;
            account.updated_at = at;
            stamped.push(Posting { at, balance_after: account.balance.posted, ..p.clone() });
            match changes.iter_mut().find(|(id, _)| *id == p.account_id) {
                Some((_, net)) => *net += p.amount,
                None => changes.push((p.account_id, p.amount)),
            }
        }
        for (id, net) in changes {
            let account = self.accounts.get(&id).ok_or(LedgerError::AccountNotFound { account: id })?;
            let lowered = -account.normal_balance.reported(net);
            if lowered > Decimal::ZERO {
                account.ensure_above_floor(lowered)?;
            }
        }
        Ok(stamped)
    }

    fn post(&mut self, transaction: &Transaction, postings: &[Posting]) -> Result<(), LedgerError> {
        let lines = match self.apply_postings(postings) {
            Ok(lines) => lines,
            Err(error) => return Err(self.with_posting_index(transaction, error)),
        };
        let transaction = Transaction { created_at: self.at, updated_at: self.at, ..transaction.clone() };
        self.order.push(transaction.id);
        self.changed.push(Changed::Transaction(ChangeKind::TransactionPosted, transaction.id));
        self.new_transactions.push(transaction);
        self.postings.extend(lines);
        Ok(())
    }

    /// An entry's floor breach names the first posting that lowers the
    /// account: the one a caller fixes.
    fn with_posting_index(&self, transaction: &Transaction, error: LedgerError) -> LedgerError {
        match error {
            LedgerError::InsufficientFunds { account, number, available, requested, .. }
                if transaction.kind == TransactionKind::Entry =>
            {
                let lowers = |leg: &crate::transaction::Leg| match self.accounts.get(&account).map(|a| a.normal_balance)
                {
                    Some(crate::account::NormalBalance::Debit) => leg.destination == account,
                    _ => leg.source == account,
                };
                let posting = transaction.legs.iter().position(lowers);
                LedgerError::InsufficientFunds { account, number, available, requested, posting }
            }
            other => other,
        }
    }

    fn place_hold(&mut self, hold: &Transaction) -> Result<(), LedgerError> {
        debug_assert_eq!(hold.kind, TransactionKind::Hold);
        let from = hold.from_account.ok_or(LedgerError::NotAHold { transaction: hold.id })?;
        self.ensure_postable(from)?;
        if let Some(to) = hold.to_account {
            self.ensure_postable(to)?;
        }
        let at = self.at;
        let account = self.account_mut(from)?;
        account.balance.pending =
            account.balance.pending.checked_add(hold.amount).ok_or(LedgerError::BalanceOverflow)?;
        account.updated_at = at;
        account.ensure_above_floor(hold.amount)?;
        self.new_transactions.push(Transaction { created_at: at, updated_at: at, ..hold.clone() });
        self.order.push(hold.id);
        self.changed.push(Changed::Transaction(ChangeKind::TransactionPending, hold.id));
        Ok(())
    }

    /// The hold for a change; it must still be pending.
    fn pending_hold(&mut self, id: TransactionId) -> Result<&mut Transaction, LedgerError> {
        let at = self.at;
        let hold = self.transactions.get_mut(&id).ok_or(LedgerError::TransactionNotFound { transaction: id })?;
        if hold.kind != TransactionKind::Hold {
            return Err(LedgerError::NotAHold { transaction: id });
        }
        if hold.status != TransactionStatus::Pending {
            return Err(LedgerError::HoldNotPending { hold: id, status: hold.status });
        }
        hold.updated_at = at;
        if !self.changed_transactions.contains(&id) {
            self.changed_transactions.push(id);
            self.order.push(id);
        }
        Ok(hold)
    }

    fn capture_hold(
        &mut self,
        id: TransactionId,
        from: AccountId,
        to: AccountId,
        amount: Decimal,
    ) -> Result<(), LedgerError> {
        let at = self.at;
        let hold = self.pending_hold(id)?;
        if hold.expires_at.is_some_and(|expiry| at >= expiry) {
            return Err(LedgerError::HoldExpired { hold: id });
        }
        if amount > hold.amount {
            return Err(LedgerError::CaptureExceedsHold { hold: id, held: hold.amount, requested: amount });
        }
        debug_assert_eq!(hold.from_account, Some(from));
        let (held, currency) = (hold.amount, hold.currency);
        hold.status = TransactionStatus::Posted;
        hold.captured_amount = Some(amount);
        // What moved: the captured amount, not the reservation.
        hold.legs = vec![crate::transaction::Leg { source: from, destination: to, amount, currency }];
        self.release(from, held)?;
        let lines = self.apply_postings(&posting::pair(id, from, to, amount, currency))?;
        self.postings.extend(lines);
        self.changed.push(Changed::Transaction(ChangeKind::TransactionPosted, id));
        Ok(())
    }

    /// Moves back what is asked of the original as it stands now: all
    /// that is left, or part of a single-posting original's.
    fn reverse(
        &mut self,
        id: TransactionId,
        reversal: &Transaction,
        amount: Option<Decimal>,
    ) -> Result<(), LedgerError> {
        let at = self.at;
        let original = self.transactions.get(&id).ok_or(LedgerError::TransactionNotFound { transaction: id })?;
        let remaining = original.reversible_amount();
        if remaining <= Decimal::ZERO {
            return Err(LedgerError::AlreadyReversed { transaction: id });
        }
        let legs = original.legs();
        let amount = amount.unwrap_or(remaining);
        if amount > remaining {
            return Err(LedgerError::ReversalExceedsOriginal { remaining, requested: amount });
        }
        let back: Vec<Leg> = if amount == remaining && original.reversed_amount.is_zero() {
            legs.iter().map(|l| Leg { source: l.destination, destination: l.source, ..*l }).collect()
        } else {
            // Plan allows a part (or the rest after a part) only of one posting.
            let [leg] = legs.as_slice() else {
                return Err(LedgerError::InvalidReversal("only a single-posting transaction is reversed in part"));
            };
            vec![Leg { source: leg.destination, destination: leg.source, amount, currency: leg.currency }]
        };
        let lines: Vec<Posting> = back
            .iter()
            .flat_map(|l| posting::pair(reversal.id, l.source, l.destination, l.amount, l.currency))
            .collect();
        let mut record = Transaction { created_at: at, updated_at: at, legs: back, ..reversal.clone() };
        record.amount = record.legs.iter().filter(|l| l.currency == record.currency).map(|l| l.amount).sum();
        let lines = self.apply_postings(&lines)?;
        let original = self.transactions.get_mut(&id).ok_or(LedgerError::TransactionNotFound { transaction: id })?;
        original.reversed_amount += amount;
        original.updated_at = at;
        if !self.changed_transactions.contains(&id) {
            self.changed_transactions.push(id);
        }
        self.order.push(record.id);
        self.changed.push(Changed::Transaction(ChangeKind::TransactionReversed, record.id));
        self.new_transactions.push(record);
        self.postings.extend(lines);
        Ok(())
    }

    fn void_hold(&mut self, id: TransactionId, from: AccountId) -> Result<(), LedgerError> {
        let hold = self.pending_hold(id)?;
        debug_assert_eq!(hold.from_account, Some(from));
        hold.status = TransactionStatus::Voided;
        let held = hold.amount;
        self.release(from, held)?;
        self.changed.push(Changed::Transaction(ChangeKind::TransactionVoided, id));
        Ok(())
    }

    /// Returns a hold's reservation to the account's available balance.
    fn release(&mut self, from: AccountId, held: Decimal) -> Result<(), LedgerError> {
        let at = self.at;
        let account = self.account_mut(from)?;
        account.balance.pending -= held;
        account.updated_at = at;
        debug_assert!(account.balance.pending >= Decimal::ZERO);
        Ok(())
    }

    /// The writes, numbered by position in the commit (sealing adds the
    /// commit's base).
    fn into_booking(mut self, batch: &WriteBatch) -> Booking {
        let audit = AuditEntry { draft: batch.0.audit.clone(), outcome: AuditOutcome::Accepted, at: self.at };
        for (position, t) in (0u64..).zip(self.new_transactions.iter_mut()) {
            t.sequence = position;
        }
        for (position, p) in (0u64..).zip(self.postings.iter_mut()) {
            p.sequence = position;
        }
        let changes = self.feed();
        let take = |ids: &[AccountId], accounts: &mut IdMap<AccountId, Account>| {
            ids.iter().filter_map(|id| accounts.remove(id)).collect::<Vec<_>>()
        };
        let new_accounts = take(&self.new_accounts, &mut self.accounts);
        let updated_accounts = take(&self.changed_accounts, &mut self.accounts);
        let updated_transactions: Vec<Transaction> =
            self.changed_transactions.iter().filter_map(|id| self.transactions.remove(id)).collect();
        let idempotency = batch.0.claim.as_ref().map(|claim| IdempotencyRecord {
            key: claim.key.clone(),
            fingerprint: claim.fingerprint,
            transaction_ids: self.order,
            created_at: self.at,
        });
        let mut identity = self.identity;
        Booking {
            new_accounts,
            updated_accounts,
            new_transactions: self.new_transactions,
            updated_transactions,
            postings: self.postings,
            changes,
            idempotency,
            audit,
            new_users: take_all(&identity.new_users, &mut identity.users),
            updated_users: take_all(&identity.changed_users, &mut identity.users),
            new_sessions: take_all(&identity.new_sessions, &mut identity.sessions),
            updated_sessions: take_all(&identity.changed_sessions, &mut identity.sessions),
            new_reset_tokens: take_all(&identity.new_reset_tokens, &mut identity.reset_tokens),
            updated_reset_tokens: take_all(&identity.changed_reset_tokens, &mut identity.reset_tokens),
        }
    }
}

impl Working {
    /// The commit's change feed entries, numbered by position in op order:
    /// each transaction and account as the whole commit left it, with the
    /// accounts it touched.
    fn feed(&self) -> Vec<Change> {
        debug_assert!(self.changed.len() < SEQUENCE_STRIDE as usize);
        let account_of = |id: &AccountId| self.accounts.get(id).cloned();
        let new: IdMap<TransactionId, &Transaction> = self.new_transactions.iter().map(|t| (t.id, t)).collect();
        let transaction = |id: &TransactionId| new.get(id).copied().or_else(|| self.transactions.get(id)).cloned();
        let mut changes = Vec::with_capacity(self.changed.len());
        for (position, changed) in (0u64..).zip(&self.changed) {
            let (kind, transaction, account) = match changed {
                Changed::Transaction(kind, id) => (*kind, transaction(id), None),
                Changed::Account(kind, id) => (*kind, None, account_of(id)),
            };
            let touched = match (&transaction, &account) {
                (Some(t), _) => t.accounts(),
                (None, Some(a)) => vec![a.id],
                (None, None) => Vec::new(),
            };
            let balances = touched.iter().filter_map(account_of).collect();
            changes.push(Change { sequence: position, kind, at: self.at, transaction, account, balances });
        }
        changes
    }
}

/// Removes the entries for `ids` from `map`, in `ids` order.
fn take_all<K: std::hash::Hash + Eq, V>(ids: &[K], map: &mut IdMap<K, V>) -> Vec<V> {
    ids.iter().filter_map(|id| map.remove(id)).collect()
}

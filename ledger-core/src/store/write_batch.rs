//! The unit a store applies atomically: a [`WriteBatch`], and what it needs
//! loaded ([`Keys`] into a [`Snapshot`]) and produces ([`Decision`], [`Writes`]).
//!
//! The ledger plans a command into a batch of [`Op`]s using only immutable
//! facts (an account's currency, kind and owner never change). Everything
//! mutable (status, balances, hold state, idempotency) is decided by
//! `decide` against a snapshot the store loads *inside* its
//! own storage transaction, so there is no read-decide-write race.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::account::{Account, StatusChange};
use crate::account_code::AccountCode;
use crate::account_number::AccountNumber;
use crate::audit::{AuditDraft, AuditEntry, AuditHead, AuditRecord};
use crate::change::Change;
use crate::digest::Digest;
use crate::error::LedgerError;
use crate::id::UserId;
use crate::id::{AccountId, IdMap, TransactionId};
use crate::idempotency::{IdempotencyClaim, IdempotencyKey, IdempotencyRecord};
use crate::identity::{Email, KycTransition, PasswordDigest, ProfilePatch, ResetToken, Session, SessionId, User};
use crate::posting::Posting;
use crate::transaction::Transaction;

/// Sequence numbers of transactions and postings are
/// `commit * SEQUENCE_STRIDE + position`, where `commit` is the audit sequence
/// of the commit that wrote them: commit order, without a second counter.
///
/// A commit writes at most
/// [`BATCH_POSTINGS_MAX`](crate::command::BATCH_POSTINGS_MAX) postings
/// (`decide` refuses more), and at most one transaction and one change per
/// command, so a full atomic batch fits. The stride was 1024 while batches
/// held 100 commands; sequences written then still sort before every later
/// one (`n * 1024 + 1023 < (n + 1) * 4096`), so stored data needs no
/// migration.
pub const SEQUENCE_STRIDE: u64 = 4096;

const _: () = assert!(2 * crate::command::BATCH_SIZE_MAX < SEQUENCE_STRIDE as usize);
const _: () = assert!(crate::command::BATCH_POSTINGS_MAX < SEQUENCE_STRIDE as usize);

/// One step of a batch. Ops apply in order; a batch applies all or none.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Op {
    /// Insert a new account; its number must be free.
    CreateAccount(Account),
    /// Insert the account unless one with its id exists (internal accounts).
    EnsureAccount(Account),
    /// Insert a posted transaction and apply its postings.
    Post {
        /// The record (sequence assigned at commit).
        transaction: Transaction,
        /// Balanced lines (sequence assigned at commit).
        postings: Vec<Posting>,
    },
    /// Insert a pending hold and reserve its amount on `from_account`.
    PlaceHold {
        /// The hold's record (sequence assigned at commit).
        transaction: Transaction,
    },
    /// Post part or all of a pending hold from `from` to `to`.
    CaptureHold {
        /// The hold.
        hold: TransactionId,
        /// The account the hold reserves on.
        from: AccountId,
        /// The account credited (the destination or the settlement account).
        to: AccountId,
        /// How much to post (at most the hold's amount).
        amount: rust_decimal::Decimal,
    },
    /// Move (part of) a posted transaction back: `reversal` is the new
    /// record without its legs and amount, which are decided against the
    /// original as locked (what is left to reverse).
    Reverse {
        /// The transaction reversed.
        original: TransactionId,
        /// The reversal's record (legs, amount and sequence set at commit).
        reversal: Transaction,
        /// How much to move back (a single-posting original only); `None`
        /// for all that is left.
        amount: Option<rust_decimal::Decimal>,
        /// The accounts of the original's legs (to load and lock).
        accounts: Vec<AccountId>,
    },
    /// Release a pending hold.
    VoidHold {
        /// The hold.
        hold: TransactionId,
        /// The account the hold reserves on.
        from: AccountId,
    },
    /// Freeze, unfreeze or close an account.
    ChangeStatus {
        /// The account.
        account: AccountId,
        /// The change.
        change: StatusChange,
    },
    /// Give an account a new display name (validated; `None` clears it).
    RenameAccount {
        /// The account.
        account: AccountId,
        /// The new name.
        name: Option<String>,
    },
    /// Insert a new user; the email must be free.
    CreateUser(Box<User>),
    /// Apply a validated profile patch to the user's current profile.
    UpdateProfile {
        /// The user.
        user: UserId,
        /// The fields to change.
        patch: ProfilePatch,
    },
    /// Replace the user's password digest.
    SetPassword {
        /// The user.
        user: UserId,
        /// The new digest.
        password: PasswordDigest,
    },
    /// Move the user's KYC status, if the transition is allowed from it.
    ChangeKyc {
        /// The user.
        user: UserId,
        /// The step.
        transition: KycTransition,
    },
    /// Guard: the user's KYC status must be verified (the KYC policy).
    RequireVerified {
        /// The user.
        user: UserId,
    },
    /// Insert a new session, if the user's password is still the one the
    /// login verified: a login racing a password change or reset must not
    /// open a session with the old password.
    CreateSession {
        /// The session.
        session: Box<Session>,
        /// The password digest the login verified.
        verified: PasswordDigest,
    },
    /// Revoke one live session of a user.
    RevokeSession {
        /// The session.
        session: SessionId,
        /// Whose it must be.
        user: UserId,
    },
    /// Revoke every unrevoked session of a user, maybe but one.
    RevokeSessions {
        /// The user.
        user: UserId,
        /// A session to keep (the one changing the password).
        except: Option<SessionId>,
    },
    /// Insert a password-reset token; it becomes the user's only usable one.
    IssueResetToken(ResetToken),
    /// Use a reset token once, if it is unused and unexpired.
    ConsumeResetToken {
        /// The token's digest.
        token: Digest,
        /// Whose it is: it must be the user's one outstanding token.
        user: UserId,
    },
}

/// Whether a batch is one command or an atomic batch of several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One command: errors are reported as they are.
    Single,
    /// Several commands: errors are wrapped with the failing command's index.
    Multi,
}

/// Everything one command (or atomic batch of commands) writes, planned by
/// the ledger and applied by a store all or nothing.
///
/// Immutable once planned, and cheap to clone (its parts are shared): group
/// commit keeps a copy of a group's batches so that, when the storage
/// refuses one batch's data, it can apply the others again without it.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteBatch(pub(crate) Arc<BatchParts>);

/// The parts of a [`WriteBatch`].
#[derive(Debug, PartialEq)]
pub(crate) struct BatchParts {
    pub(crate) claim: Option<IdempotencyClaim>,
    pub(crate) ops: Vec<(usize, Op)>,
    pub(crate) shape: Shape,
    pub(crate) audit: AuditDraft,
    pub(crate) at: DateTime<Utc>,
    pub(crate) rejected: Option<LedgerError>,
    /// The customer the batch acts for (none for the system and admins):
    /// a rejection on another owner's account is reported to them without
    /// that account's number or state.
    pub(crate) customer: Option<UserId>,
}

impl WriteBatch {
    /// A batch of ops for one command.
    pub(crate) fn new(at: DateTime<Utc>, audit: AuditDraft, claim: Option<IdempotencyClaim>, ops: Vec<Op>) -> Self {
        let ops = ops.into_iter().map(|op| (0, op)).collect();
        WriteBatch(Arc::new(BatchParts { claim, ops, shape: Shape::Single, audit, at, rejected: None, customer: None }))
    }

    /// A batch of several commands' ops, each tagged with its command index.
    pub(crate) fn multi(
        at: DateTime<Utc>,
        audit: AuditDraft,
        claim: Option<IdempotencyClaim>,
        ops: Vec<(usize, Op)>,
    ) -> Self {
        WriteBatch(Arc::new(BatchParts { claim, ops, shape: Shape::Multi, audit, at, rejected: None, customer: None }))
    }

    /// A command refused before it reached the store: only its audit record is written.
    pub(crate) fn rejected(at: DateTime<Utc>, audit: AuditDraft, error: LedgerError) -> Self {
        let parts = BatchParts {
            claim: None,
            ops: Vec::new(),
            shape: Shape::Single,
            audit,
            at,
            rejected: Some(error),
            customer: None,
        };
        WriteBatch(Arc::new(parts))
    }

    /// The same batch, acting for `actor` (which matters for customers only).
    pub(crate) fn acting_for(mut self, actor: &crate::identity::Actor) -> WriteBatch {
        let customer = actor.user_id().filter(|_| !actor.is_privileged());
        if let Some(parts) = Arc::get_mut(&mut self.0) {
            parts.customer = customer;
        }
        self
    }

    /// Whether the batch credits `account` (its destination side).
    pub(crate) fn credits(&self, account: AccountId) -> bool {
        self.ops().any(|op| match op {
            Op::Post { postings, .. } => {
                postings.iter().any(|p| p.account_id == account && p.amount.is_sign_positive())
            }
            Op::PlaceHold { transaction } => transaction.to_account == Some(account),
            Op::CaptureHold { to, .. } => *to == account,
            Op::Reverse { accounts, .. } => accounts.contains(&account),
            _ => false,
        })
    }

    /// Whether the batch carries an idempotency key: applying it again
    /// after a commit of unknown outcome replays it rather than applying
    /// it twice.
    pub fn has_idempotency_key(&self) -> bool {
        self.0.claim.is_some()
    }

    /// What the store must load, in a stable order (lock accounts in this order
    /// to avoid deadlocks between concurrent commits).
    pub fn keys(&self) -> Keys {
        let mut keys = Keys { idempotency: self.0.claim.as_ref().map(|c| c.key.clone()), ..Keys::default() };
        for (_, op) in &self.0.ops {
            match op {
                Op::CreateAccount(a) => {
                    keys.accounts.insert(a.id);
                    keys.account_numbers.insert(a.number);
                    match &a.code {
                        Some(code) => {
                            keys.account_codes.insert(code.clone());
                        }
                        None => {
                            keys.owners.insert(a.owner);
                        }
                    }
                }
                Op::EnsureAccount(a) => {
                    keys.accounts.insert(a.id);
                }
                Op::Post { postings, .. } => keys.accounts.extend(postings.iter().map(|p| p.account_id)),
                Op::PlaceHold { transaction } => {
                    keys.accounts.extend(transaction.from_account);
                    keys.accounts.extend(transaction.to_account);
                }
                Op::CaptureHold { hold, from, to, .. } => {
                    keys.transactions.insert(*hold);
                    keys.accounts.extend([*from, *to]);
                }
                Op::Reverse { original, accounts, .. } => {
                    keys.transactions.insert(*original);
                    keys.accounts.extend(accounts.iter().copied());
                }
                Op::VoidHold { hold, from } => {
                    keys.transactions.insert(*hold);
                    keys.accounts.insert(*from);
                }
                Op::ChangeStatus { account, .. } | Op::RenameAccount { account, .. } => {
                    keys.accounts.insert(*account);
                }
                Op::CreateUser(user) => {
                    keys.users.insert(user.id);
                    keys.emails.insert(user.email.clone());
                }
                Op::UpdateProfile { user, .. }
                | Op::SetPassword { user, .. }
                | Op::ChangeKyc { user, .. }
                | Op::RequireVerified { user } => {
                    keys.users.insert(*user);
                }
                Op::CreateSession { session, .. } => {
                    keys.sessions.insert(session.id);
                    keys.users.insert(session.user_id);
                }
                Op::RevokeSession { session, .. } => {
                    keys.sessions.insert(*session);
                }
                Op::RevokeSessions { user, .. } => {
                    keys.sessions_of.insert(*user);
                }
                Op::IssueResetToken(token) => {
                    keys.reset_tokens.insert(token.token_digest);
                    keys.users.insert(token.user_id);
                }
                Op::ConsumeResetToken { token, user } => {
                    keys.reset_tokens.insert(*token);
                    keys.users.insert(*user);
                }
            }
        }
        keys
    }

    /// The ops, in order.
    pub fn ops(&self) -> impl Iterator<Item = &Op> {
        self.0.ops.iter().map(|(_, op)| op)
    }

    /// The instant the batch was planned at (its commit time).
    pub fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// The stored state a batch reads. Sets are ordered for lock ordering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    /// Accounts touched.
    pub accounts: BTreeSet<AccountId>,
    /// Holds touched.
    pub transactions: BTreeSet<TransactionId>,
    /// Account numbers that must be free.
    pub account_numbers: BTreeSet<AccountNumber>,
    /// Owners whose number of accounts must be counted (to open one more).
    pub owners: BTreeSet<UserId>,
    /// Ledger account codes that must be free.
    pub account_codes: BTreeSet<AccountCode>,
    /// The idempotency key claimed.
    pub idempotency: Option<IdempotencyKey>,
    /// Users touched.
    pub users: BTreeSet<UserId>,
    /// Emails that must be free.
    pub emails: BTreeSet<Email>,
    /// Sessions touched.
    pub sessions: BTreeSet<SessionId>,
    /// Users all of whose unrevoked sessions must be loaded.
    pub sessions_of: BTreeSet<UserId>,
    /// Reset tokens touched, by digest.
    pub reset_tokens: BTreeSet<Digest>,
}

/// The current state of a batch's [`Keys`], read inside the store's
/// storage transaction (with row locks where the store has them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Accounts that exist, by id.
    pub accounts: IdMap<AccountId, Account>,
    /// Holds that exist, by id.
    pub transactions: IdMap<TransactionId, Transaction>,
    /// Requested account numbers that are already taken.
    pub taken_numbers: BTreeSet<AccountNumber>,
    /// How many accounts each owner in `Keys::owners` has (absent: none).
    pub owned_accounts: IdMap<UserId, usize>,
    /// Requested ledger account codes that are already taken.
    pub taken_codes: BTreeSet<AccountCode>,
    /// The stored record for the claimed idempotency key.
    pub idempotency: Option<IdempotencyRecord>,
    /// Users that exist, by id.
    pub users: IdMap<UserId, User>,
    /// Requested emails that are already registered.
    pub taken_emails: BTreeSet<Email>,
    /// Sessions that exist: those named in `Keys::sessions`, and every
    /// unrevoked session of the users in `Keys::sessions_of`.
    pub sessions: IdMap<SessionId, Session>,
    /// Reset tokens that exist, by digest.
    pub reset_tokens: IdMap<Digest, ResetToken>,
}

/// What a store writes when a batch commits.
///
/// Sealed (`Writes`, with an [`AuditRecord`]) it is what a store applies:
/// every sequence is `commit * SEQUENCE_STRIDE + position`. Booked (a
/// [`Booking`], with an [`AuditEntry`]) it is what `decide` said before the
/// audit chain placed it: the sequences of its transactions, postings and
/// changes are their positions in the commit, from 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Writes<Audit = AuditRecord> {
    /// Accounts to insert.
    pub new_accounts: Vec<Account>,
    /// Accounts whose status or balances changed (full new state).
    pub updated_accounts: Vec<Account>,
    /// Transactions to insert, with sequences (positions in a booking).
    pub new_transactions: Vec<Transaction>,
    /// Holds whose status changed (full new state).
    pub updated_transactions: Vec<Transaction>,
    /// Postings to insert, with sequences (positions in a booking).
    pub postings: Vec<Posting>,
    /// The change feed's entries for this commit, with sequences
    /// (positions in a booking).
    pub changes: Vec<Change>,
    /// The idempotency record to insert, if the batch claimed a key.
    pub idempotency: Option<IdempotencyRecord>,
    /// The audit record to append (its entry, in a booking).
    pub audit: Audit,
    /// Users to insert.
    pub new_users: Vec<User>,
    /// Users whose profile, password or KYC changed (full new state).
    pub updated_users: Vec<User>,
    /// Sessions to insert.
    pub new_sessions: Vec<Session>,
    /// Sessions revoked (full new state).
    pub updated_sessions: Vec<Session>,
    /// Reset tokens to insert.
    pub new_reset_tokens: Vec<ResetToken>,
    /// Reset tokens used (full new state).
    pub updated_reset_tokens: Vec<ResetToken>,
}

/// A batch's writes as `decide` booked them, before sealing.
pub type Booking = Writes<AuditEntry>;

impl<Audit> Writes<Audit> {
    /// The same writes with their audit part turned by `f` (a booking's
    /// entry into its sealed record); every other field as it is.
    pub fn map_audit<Sealed>(self, f: impl FnOnce(Audit) -> Sealed) -> Writes<Sealed> {
        Writes {
            new_accounts: self.new_accounts,
            updated_accounts: self.updated_accounts,
            new_transactions: self.new_transactions,
            updated_transactions: self.updated_transactions,
            postings: self.postings,
            changes: self.changes,
            idempotency: self.idempotency,
            audit: f(self.audit),
            new_users: self.new_users,
            updated_users: self.updated_users,
            new_sessions: self.new_sessions,
            updated_sessions: self.updated_sessions,
            new_reset_tokens: self.new_reset_tokens,
            updated_reset_tokens: self.updated_reset_tokens,
        }
    }

    /// Transactions created or changed, in command order.
    pub fn transactions(&self) -> impl Iterator<Item = &Transaction> {
        self.new_transactions.iter().chain(self.updated_transactions.iter())
    }

    /// Accounts created or changed.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.new_accounts.iter().chain(self.updated_accounts.iter())
    }
}

/// The verdict on a batch against a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Apply these writes.
    Commit(Box<Writes>),
    /// The same command ran before: write nothing, return its result.
    Replay(IdempotencyRecord),
    /// Refused: write only the audit record.
    Reject {
        /// Why.
        error: LedgerError,
        /// The rejection's audit record, to append.
        audit: Box<AuditRecord>,
    },
}

/// The verdict on a batch as `decide` gives it: a [`Decision`] before the
/// audit chain places it (`rules::seal`).
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Apply these writes, once sealed.
    Book(Box<Booking>),
    /// The same command ran before: write nothing, return its result.
    Replay(IdempotencyRecord),
    /// Refused: write only the audit entry, once sealed.
    Refuse {
        /// Why.
        error: LedgerError,
        /// The refusal's audit entry.
        audit: Box<AuditEntry>,
    },
}

/// A booked batch as it waits for its seal: all a sealer needs, what a
/// store that books apart keeps (serialized) from the booking's commit to
/// its seal ([`seal_booked`](crate::seal_booked)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unsealed {
    /// A booking: its writes, numbered by position, at the booked time.
    Booked(Box<Booking>),
    /// A refusal: its audit entry (its caller had the error at booking).
    Refused(Box<AuditEntry>),
}

impl Unsealed {
    /// What of a verdict waits for a seal: nothing of a replay.
    pub fn of(verdict: Verdict) -> Option<Unsealed> {
        match verdict {
            Verdict::Book(booking) => Some(Unsealed::Booked(booking)),
            Verdict::Refuse { audit, .. } => Some(Unsealed::Refused(audit)),
            Verdict::Replay(_) => None,
        }
    }
}

/// A booked batch once sealed: what the sealer writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Sealed {
    /// The booking's writes, numbered and linked.
    Committed(Box<Writes>),
    /// The refusal's audit record.
    Refused(Box<AuditRecord>),
}

impl Sealed {
    /// The end of the audit chain after it.
    pub fn head(&self) -> AuditHead {
        match self {
            Sealed::Committed(writes) => writes.audit.head(),
            Sealed::Refused(audit) => audit.head(),
        }
    }
}

/// What happened to one batch in [`Store::apply`](crate::Store::apply).
#[derive(Debug, Clone, PartialEq)]
pub enum BatchOutcome {
    /// Committed with these writes.
    Committed(Box<Writes>),
    /// A replay of an earlier command; nothing written.
    Replayed(IdempotencyRecord),
    /// Refused with this error; only the audit record written.
    Rejected(LedgerError),
}

impl From<Decision> for BatchOutcome {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Commit(writes) => BatchOutcome::Committed(writes),
            Decision::Replay(record) => BatchOutcome::Replayed(record),
            Decision::Reject { error, .. } => BatchOutcome::Rejected(error),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::conformance::Harness;
    use crate::conformance::dump::populate;
    use crate::conformance::recording::RecordingStore;
    use crate::memory::MemoryStore;

    /// What a store that books apart keeps of a booking reads back exactly:
    /// every kind of row a commit writes (accounts opened and changed,
    /// transactions, holds, postings, changes, keys, users, sessions, reset
    /// tokens) and a refusal's audit entry.
    #[tokio::test]
    async fn every_kind_of_booking_reads_back_from_its_json_exactly() {
        let store = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new()), Duration::ZERO));
        let h = Harness::new(store.clone()).await;
        store.start_keeping();
        populate(&h).await;
        store.stop_capture();
        let (mut committed, mut kinds) = (0, std::collections::BTreeSet::new());
        for outcome in store.kept_outcomes() {
            let BatchOutcome::Committed(writes) = outcome else { continue };
            committed += 1;
            kinds.extend(written_kinds(&writes));
            let audit = &writes.audit;
            let entry = AuditEntry {
                draft: AuditDraft {
                    actor: audit.actor.clone(),
                    action: audit.action.clone(),
                    target: audit.target.clone(),
                    metadata: audit.metadata.clone(),
                },
                outcome: audit.outcome.clone(),
                at: audit.at,
            };
            let booked = Unsealed::Booked(Box::new(writes.clone().map_audit(|_| entry.clone())));
            let refused = Unsealed::Refused(Box::new(entry));
            for unsealed in [booked, refused] {
                let json = serde_json::to_string(&unsealed).unwrap();
                assert_eq!(serde_json::from_str::<Unsealed>(&json).unwrap(), unsealed, "{json}");
            }
        }
        assert!(committed > 10, "the populated store committed {committed} batches");
        let every = ["accounts", "holds", "postings", "changes", "keys", "users", "sessions", "reset tokens"];
        assert_eq!(kinds, every.into_iter().collect(), "kinds of rows the bookings wrote");
    }

    fn written_kinds(w: &Writes) -> Vec<&'static str> {
        let mut kinds = Vec::new();
        let mut add = |present: bool, kind| {
            if present {
                kinds.push(kind);
            }
        };
        add(!w.new_accounts.is_empty() || !w.updated_accounts.is_empty(), "accounts");
        add(w.transactions().any(|t| t.kind == crate::transaction::TransactionKind::Hold), "holds");
        add(!w.postings.is_empty(), "postings");
        add(!w.changes.is_empty(), "changes");
        add(w.idempotency.is_some(), "keys");
        add(!w.new_users.is_empty() || !w.updated_users.is_empty(), "users");
        add(!w.new_sessions.is_empty() || !w.updated_sessions.is_empty(), "sessions");
        add(!w.new_reset_tokens.is_empty() || !w.updated_reset_tokens.is_empty(), "reset tokens");
        kinds
    }
}

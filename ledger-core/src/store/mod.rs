//! The storage trait every backend implements.

pub mod apply;
pub mod booking;
pub mod lease;
pub mod memory;
pub mod read_replica;
pub mod rows;
pub mod write_batch;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::Account;
use crate::account_code::AccountCode;
use crate::account_number::AccountNumber;
use crate::audit::AuditRecord;
use crate::balance_query::PostingRange;
use crate::change::Change;
use crate::digest::Digest;
use crate::dump::{DumpChunk, SinkCursor};
use crate::error::StorageError;
use crate::id::{AccountId, TransactionId, UserId};
use crate::idempotency::{IdempotencyKey, IdempotencyRecord};
use crate::identity::{Email, ResetToken, Session, SessionId, User};
use crate::posting::Posting;
use crate::query::HistoryFilter;
use crate::transaction::Transaction;
use crate::write_batch::{BatchOutcome, WriteBatch};

/// A ledger's storage. Backends store and apply; they never decide.
///
/// # Contract
///
/// **Atomicity.** [`Store::apply`] takes independent batches and, for each in
/// order, inside one storage transaction:
/// 1. loads the state named by [`WriteBatch::keys`] (locking it where the
///    backend has row locks, in the order the keys iterate) and the audit
///    chain's head into a [`Snapshot`](crate::Snapshot);
/// 2. calls `decide` (`rules::decision`) with it;
/// 3. on [`Decision::Commit`](crate::Decision::Commit) writes every part of
///    the [`Writes`](crate::Writes) (accounts, transactions, postings, the
///    idempotency record and the audit record); on `Reject` appends only the
///    audit record; on `Replay` writes nothing.
///
/// A later batch in the same call sees the writes of earlier ones. A rejected
/// batch does not disturb the others. When `apply` returns `Ok`, every
/// outcome is durable (to the backend's documented durability); when it
/// returns `Err`, either no batch was applied or (for a failure during the
/// commit itself) all were, and replays with the same idempotency keys tell.
///
/// **Isolation.** No two concurrent `apply` calls (from this process or from
/// another process sharing the storage) may both decide on the same state:
/// the snapshot must be the latest committed state of its keys when the
/// writes commit. Audit records are appended in commit order, without gaps.
///
/// **Idempotency.** A stored [`IdempotencyRecord`]
/// is unique per key; it is written only with its command's effects.
///
/// **Ordering.** Transaction and posting sequences come from the audit
/// sequence ([`SEQUENCE_STRIDE`](crate::SEQUENCE_STRIDE)), so they follow
/// commit order. History reads return newest (highest sequence) first.
///
/// **Identity.** Users, sessions and reset tokens are loaded into the
/// snapshot like accounts (`Keys::users`, `emails`, `sessions`,
/// `sessions_of`, `reset_tokens`); emails and session token digests are
/// unique. `touch_session` is the one write outside `apply`.
///
/// **Failures** say what they left behind, in [`StorageError::kind`]:
/// [`StorageErrorKind::Refused`](crate::StorageErrorKind::Refused) when the storage refused the data of the
/// call before committing (a constraint, an encoding error: group commit
/// then applies the call's batches again apart, so one batch never fails
/// its group), [`StorageErrorKind::Unavailable`](crate::StorageErrorKind::Unavailable) for any other failure
/// before committing (nothing applied), [`StorageErrorKind::Unknown`](crate::StorageErrorKind::Unknown) for a
/// failure while committing or one the backend cannot place.
///
/// **History** ([`Store::transactions`]) lists a transaction under every
/// account it touches ([`Transaction::accounts`](crate::Transaction::accounts):
/// every leg's two sides) and finds it by each metadata pair it carries,
/// from an index; [`HistoryFilter::matches`] is the reference semantics.
///
/// **Reads** see committed state only.
///
/// **Change feed.** Every committed batch's [`Writes::changes`](crate::Writes::changes)
/// are stored in the same storage transaction as the rest of its writes and
/// read back unchanged, in sequence order ([`Store::changes_after`]).
/// Sink cursors only move forward; [`Store::try_lease`] gives a lease to at
/// most one holder at a time among every process sharing the storage.
///
/// **Syncing apart.** [`Store::apply_unsynced`] applies as `apply` does but
/// may return before the outcomes are durable; [`Store::sync`] then makes
/// them so. Group commit uses the pair to let the next group commit while
/// this one's fsync runs, and acknowledges nothing before its sync returns
/// `Ok`. An unsynced outcome is visible to reads and to later applies at
/// once, so a later commit may rest on it: once a `sync` has failed, every
/// later `apply_unsynced` and `sync` must fail too, until the store is
/// opened again. The defaults (`apply`, and a `sync` with nothing to do)
/// suit a backend whose `apply` is durable when it returns.
///
/// **Dumps** ([`crate::dump`]). Every record can be read in its section's
/// canonical order, page by page: the listings by id ([`Store::users`],
/// [`Store::sessions`], [`Store::accounts`]), by sequence
/// ([`Store::transactions_after`], [`Store::postings`] per account,
/// [`Store::audit_records`], [`Store::changes_after`]), by digest
/// ([`Store::reset_tokens`]), by the bytes of the key
/// ([`Store::idempotency_records`], [`Store::sink_cursors`]), so every
/// backend lists the same ledger alike. [`Store::restore`] writes dumped
/// records verbatim, with the indexes the backend keeps for them, in one
/// storage transaction per call, deciding nothing; after the last audit
/// record is restored the chain's head is that record, so the next commit
/// continues the chain (transaction, posting and change sequences follow
/// from the audit sequence). It is meant for an empty store, filled in dump
/// order (sections in order; what a record refers to restored before it);
/// [`Store::finish_restore`] follows the last chunk.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The backend's name, for errors and health reports.
    fn backend(&self) -> &'static str;

    /// Applies batches as the contract says, returning one outcome per batch.
    async fn apply(&self, batches: Vec<WriteBatch>) -> Result<Vec<BatchOutcome>, StorageError>;

    /// Applies batches as [`Store::apply`] does, but the outcomes may not be
    /// durable until a later [`Store::sync`] returns `Ok`.
    async fn apply_unsynced(&self, batches: Vec<WriteBatch>) -> Result<Vec<BatchOutcome>, StorageError> {
        self.apply(batches).await
    }

    /// Makes durable every outcome of the `apply_unsynced` calls that
    /// returned before this call.
    async fn sync(&self) -> Result<(), StorageError> {
        Ok(())
    }

    /// An account by id.
    async fn account(&self, id: AccountId) -> Result<Option<Account>, StorageError>;

    /// An account by number.
    async fn account_by_number(&self, number: AccountNumber) -> Result<Option<Account>, StorageError>;

    /// The ledger account with this code.
    async fn account_by_code(&self, code: &AccountCode) -> Result<Option<Account>, StorageError>;

    /// Ledger accounts (those with a code) with codes after `after`, in code
    /// order, at most `limit`.
    async fn ledger_accounts(&self, after: Option<&AccountCode>, limit: usize) -> Result<Vec<Account>, StorageError>;

    /// An owner's accounts, oldest first.
    async fn accounts_by_owner(&self, owner: UserId) -> Result<Vec<Account>, StorageError>;

    /// All accounts with ids above `after`, in id order, at most `limit`.
    async fn accounts(&self, after: Option<AccountId>, limit: usize) -> Result<Vec<Account>, StorageError>;

    /// A transaction by id.
    async fn transaction(&self, id: TransactionId) -> Result<Option<Transaction>, StorageError>;

    /// Transactions passing `filter` with sequence below `before` (if given),
    /// newest first, at most `limit`.
    async fn transactions(
        &self,
        filter: &HistoryFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Transaction>, StorageError>;

    /// An account's postings with sequence above `after`, oldest first, at most `limit`.
    async fn postings(
        &self,
        account: AccountId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Posting>, StorageError>;

    /// The account's last posting committed at or before `at` (in commit
    /// time order, then sequence), if any: its `balance_after` is the
    /// account's balance as of `at`. One index seek.
    async fn posting_as_of(&self, account: AccountId, at: DateTime<Utc>) -> Result<Option<Posting>, StorageError>;

    /// The account's postings in `range` ([`PostingRange::contains`]), in
    /// its order (commit time, then sequence), at most `limit`.
    async fn postings_in(&self, range: &PostingRange, limit: usize) -> Result<Vec<Posting>, StorageError>;

    /// The stored record for an idempotency key.
    async fn idempotency_record(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, StorageError>;

    /// Audit records with sequence above `after`, in order, at most `limit`.
    async fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StorageError>;

    /// Pending holds whose expiry is at or before `at`, oldest expiry first, at most `limit`.
    async fn expired_holds(&self, at: DateTime<Utc>, limit: usize) -> Result<Vec<Transaction>, StorageError>;

    /// Audit records whose actor is `actor`, with sequence above `after`, in order, at most `limit`.
    async fn audit_records_by_actor(
        &self,
        actor: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StorageError>;

    /// A user by id.
    async fn user(&self, id: UserId) -> Result<Option<User>, StorageError>;

    /// A user by (normalised) email.
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StorageError>;

    /// All users with ids above `after`, in id order, at most `limit`.
    async fn users(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>, StorageError>;

    /// A session by the digest of its token.
    async fn session_by_token(&self, token: &Digest) -> Result<Option<Session>, StorageError>;

    /// A session by the digest of its token, with its user: what every
    /// authenticated request reads. The default reads one, then the other;
    /// a store where each read is a round trip answers both in one.
    async fn session_with_user(&self, token: &Digest) -> Result<Option<(Session, User)>, StorageError> {
        let Some(session) = self.session_by_token(token).await? else { return Ok(None) };
        Ok(self.user(session.user_id).await?.map(|user| (session, user)))
    }

    /// [`Store::session_with_user`] and, when the session is found, the
    /// account with this id (if it exists): what an authenticated read of
    /// one account (its balance) needs. The default reads one, then the
    /// other; a store where each read is a round trip or a read transaction
    /// answers both in one.
    async fn session_with_user_and_account(
        &self,
        token: &Digest,
        account: AccountId,
    ) -> Result<Option<(Session, User, Option<Account>)>, StorageError> {
        let Some((session, user)) = self.session_with_user(token).await? else { return Ok(None) };
        Ok(Some((session, user, self.account(account).await?)))
    }

    /// A user's sessions (revoked and expired included), newest first, at most `limit`.
    async fn sessions_of(&self, user: UserId, limit: usize) -> Result<Vec<Session>, StorageError>;

    /// Records that a session was used at `at`: sets its `last_seen_at` to
    /// `at` if that is later and the session is not revoked. Not audited and
    /// not decided: last-seen is device telemetry, and idle expiry is judged
    /// by [`Session::check`](crate::identity::Session::check) when read.
    async fn touch_session(&self, id: SessionId, at: DateTime<Utc>) -> Result<(), StorageError>;

    /// A password-reset token by the digest of its text.
    async fn reset_token(&self, token: &Digest) -> Result<Option<ResetToken>, StorageError>;

    /// Committed changes with sequence above `after`, in sequence order, at
    /// most `limit`.
    async fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<Change>, StorageError>;

    /// How many committed changes have a sequence above `after`.
    async fn changes_count_after(&self, after: u64) -> Result<u64, StorageError>;

    /// The sequence up to which the sink `sink` confirmed delivery (0: none).
    async fn sink_cursor(&self, sink: &str) -> Result<u64, StorageError>;

    /// Moves the sink's cursor to `to`, if that is forward; never back.
    async fn advance_sink_cursor(&self, sink: &str, to: u64) -> Result<(), StorageError>;

    /// Takes or renews the lease `name` for `holder` until `until`, if it is
    /// free, expired at `now`, or already `holder`'s. Whether `holder` holds
    /// it. At most one holder at a time, across every process sharing the
    /// storage.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StorageError>;

    /// Checks that the storage answers.
    async fn ping(&self) -> Result<(), StorageError>;

    /// Transactions (holds in any status included) with sequence above
    /// `after`, oldest first, at most `limit`.
    async fn transactions_after(&self, after: Option<u64>, limit: usize) -> Result<Vec<Transaction>, StorageError>;

    /// Sessions (revoked and expired included) with ids above `after`, in
    /// id order, at most `limit`.
    async fn sessions(&self, after: Option<SessionId>, limit: usize) -> Result<Vec<Session>, StorageError>;

    /// Reset tokens (used and expired included) with digests above `after`,
    /// in digest order, at most `limit`.
    async fn reset_tokens(&self, after: Option<Digest>, limit: usize) -> Result<Vec<ResetToken>, StorageError>;

    /// Idempotency records with keys above `after`, in the byte order of
    /// the keys, at most `limit`.
    async fn idempotency_records(
        &self,
        after: Option<&IdempotencyKey>,
        limit: usize,
    ) -> Result<Vec<IdempotencyRecord>, StorageError>;

    /// Every sink's cursor, in the byte order of the sinks' names.
    async fn sink_cursors(&self) -> Result<Vec<SinkCursor>, StorageError>;

    /// Writes dumped records verbatim, in one storage transaction (see
    /// **Dumps** above).
    async fn restore(&self, chunk: &DumpChunk) -> Result<(), StorageError>;

    /// Called once after the last [`Store::restore`] of an import: a
    /// backend whose database plans queries from statistics refreshes them
    /// (PostgreSQL: `ANALYZE` of the ledger's tables), so that what runs
    /// right after an import is planned for the tables' real sizes rather
    /// than for the empty tables the statistics last saw. Changes no data.
    async fn finish_restore(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

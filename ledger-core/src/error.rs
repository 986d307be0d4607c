//! The ledger's errors, in a documented order of precedence.
//!
//! When a command is wrong in several ways, the error reported is the first
//! that applies, in this order (as TigerBeetle orders its result codes):
//!
//! 1. **Validation** of the command alone: amounts, account numbers, names,
//!    descriptions, idempotency keys, limits, expiry, same-account transfers,
//!    batch size, page size and cursors. Needs no stored state.
//! 2. **Lookups** of immutable facts: unknown accounts or holds, internal
//!    accounts, currency mismatch, precision finer than the currency.
//! 3. **Idempotency**: a key already used with another payload. (A replay of
//!    the same payload returns the original result before step 4.)
//! 4. **State guards**, evaluated atomically inside the store, op by op:
//!    hold state, expiry and capture size; then closed, then frozen accounts;
//!    then floors (insufficient funds); closing rules; status transitions.
//! 5. **Storage** failures, which are never a verdict on the command.
//!
//! Every variant but [`LedgerError::Storage`] leaves the ledger unchanged
//! apart from an audit record of the rejection.

use rust_decimal::Decimal;

use crate::account::AccountStatus;
use crate::account_number::{AccountNumber, AccountNumberError};
use crate::id::{AccountId, TransactionId};
use crate::money::{Currency, MoneyError};
use crate::transaction::TransactionStatus;

mod code;
mod storage;

pub use code::ErrorCategory;
pub use storage::{StorageError, StorageErrorKind};

/// Why a ledger command or query failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    // 1. Validation.
    /// The amount is malformed, not positive, too precise or too large.
    #[error("invalid amount: {0}")]
    InvalidAmount(#[from] MoneyError),
    /// The account number is malformed or fails its check digits.
    #[error("invalid account number: {0}")]
    InvalidAccountNumber(#[from] AccountNumberError),
    /// The account name is empty, too long or has control characters.
    #[error("invalid account name")]
    InvalidAccountName,
    /// Customers cannot open this kind of account.
    #[error("this kind of account cannot be opened")]
    InvalidAccountKind,
    /// The overdraft limit is negative, too precise or too large.
    #[error("invalid overdraft limit")]
    InvalidOverdraftLimit,
    /// The description is too long or has control characters.
    #[error("invalid description")]
    InvalidDescription,
    /// The idempotency key is empty, too long or not printable ASCII.
    #[error("invalid idempotency key")]
    InvalidIdempotencyKey,
    /// The hold expiry is not in the future or too far ahead.
    #[error("invalid hold expiry")]
    InvalidExpiry,
    /// A transfer names the same account on both sides.
    #[error("cannot transfer to the same account")]
    SameAccount,
    /// A batch has no commands.
    #[error("a batch needs at least one command")]
    BatchEmpty,
    /// A batch has more commands than allowed.
    #[error("a batch has {len} commands; at most {max} are allowed")]
    BatchTooLarge {
        /// Commands in the batch.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A batch would write more posting lines than one commit holds.
    #[error("a batch writes {postings} posting lines; at most {max} are allowed")]
    BatchTooManyPostings {
        /// Posting lines the batch would write.
        postings: usize,
        /// The limit.
        max: usize,
    },
    /// The page size is zero or above the maximum.
    #[error("page size must be between 1 and {max}")]
    InvalidPageSize {
        /// The limit.
        max: usize,
    },
    /// The pagination cursor is not one the ledger issued.
    #[error("invalid cursor")]
    InvalidCursor,
    /// A sink or lease name is empty, too long, or has control characters.
    #[error("invalid sink name")]
    InvalidSinkName,
    /// The email address is malformed or too long.
    #[error("invalid email address")]
    InvalidEmail,
    /// The password fails the policy.
    #[error("password is {0}")]
    WeakPassword(&'static str),
    /// A profile field is invalid; the field is named.
    #[error("invalid profile field: {0}")]
    InvalidProfile(&'static str),
    /// A KYC rejection needs a short printable reason.
    #[error("a KYC rejection needs a reason of at most 500 characters")]
    InvalidKycReason,
    /// The device label is too long or has control characters.
    #[error("invalid device label")]
    InvalidDeviceLabel,
    /// The owner already has the most accounts allowed.
    #[error("an owner may have at most {max} accounts")]
    TooManyAccounts {
        /// The limit.
        max: usize,
    },
    /// A history filter is contradictory (a range whose start is after its end).
    #[error("invalid filter: {0}")]
    InvalidFilter(&'static str),
    /// A ledger account code is not lowercase `a-z0-9_` segments joined by `:`
    /// of at most 128 characters.
    #[error("invalid account code: lowercase a-z, 0-9 and _ in segments joined by ':', at most 128 characters")]
    InvalidAccountCode,
    /// Metadata breaks its bounds; the rule is named.
    #[error("invalid metadata: {0}")]
    InvalidMetadata(&'static str),
    /// A ledger account's floor is too precise or too large for its currency.
    #[error("invalid floor")]
    InvalidFloor,
    /// An entry is malformed (no postings, too many, a posting from an
    /// account to itself); the rule is named.
    #[error("invalid entry: {0}")]
    InvalidEntry(&'static str),
    /// Not the ISO 4217 code of a currency the ledger keeps.
    #[error("currency must be one of USD, EUR, GBP")]
    InvalidCurrency,
    /// A normal balance other than `debit` or `credit`.
    #[error("normal_balance must be `debit` or `credit`")]
    InvalidNormalBalance,
    /// A reversal asks for what cannot be done (a part of a transaction of
    /// several postings); the rule is named.
    #[error("invalid reversal: {0}")]
    InvalidReversal(&'static str),
    /// A reversal of more than is left to reverse.
    #[error("a reversal of {requested} exceeds the {remaining} left to reverse")]
    ReversalExceedsOriginal {
        /// What is left to reverse.
        remaining: Decimal,
        /// What was asked.
        requested: Decimal,
    },
    /// An instant in the future where only the past can be asked about.
    #[error("the instant is in the future")]
    InstantInFuture,
    /// A period whose end is not after its start.
    #[error("invalid period: `from` must be before `to`")]
    InvalidPeriod,
    /// A statement of more postings than one statement may hold.
    #[error("the period holds more than {max} postings; ask for a shorter one")]
    StatementTooLong {
        /// The most postings of one statement.
        max: usize,
    },

    // 2. Lookups.
    /// No account with this id.
    #[error("account not found")]
    AccountNotFound {
        /// The id asked for.
        account: AccountId,
    },
    /// No ledger account has this code.
    #[error("no ledger account has this code")]
    AccountCodeNotFound,
    /// No account with this number.
    #[error("no account has this number")]
    AccountNumberNotFound {
        /// The number asked for.
        number: AccountNumber,
    },
    /// No transaction (or hold) with this id.
    #[error("transaction not found")]
    TransactionNotFound {
        /// The id asked for.
        transaction: TransactionId,
    },
    /// The transaction exists but is not a hold.
    #[error("the transaction is not a hold")]
    NotAHold {
        /// The id asked for.
        transaction: TransactionId,
    },
    /// The account is one of the ledger's internal accounts.
    #[error("the account is one of the ledger's internal accounts")]
    InternalAccount {
        /// The internal account.
        account: AccountId,
    },
    /// The two sides of a transfer hold different currencies.
    #[error("currency mismatch: {expected} account cannot take {found}")]
    CurrencyMismatch {
        /// The currency of the source.
        expected: Currency,
        /// The currency of the other side.
        found: Currency,
    },

    /// No user with this id (or not one the actor may see).
    #[error("user not found")]
    UserNotFound,
    /// No session with this id among the actor's sessions.
    #[error("session not found")]
    SessionNotFound,

    // Authentication and authorization.
    /// Missing, malformed, unknown, expired or revoked credentials. One
    /// variant for all, so a caller learns nothing about which.
    #[error("authentication required")]
    Unauthenticated,
    /// Wrong email or password (never says which).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The current password given to change it is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// Too many failed logins; try again after the given seconds.
    #[error("too many failed attempts; retry in {retry_after_secs} s")]
    TooManyAttempts {
        /// Seconds until an attempt is allowed.
        retry_after_secs: i64,
    },
    /// The actor's role may not do this (an admin action by a customer).
    #[error("not allowed")]
    Forbidden,
    /// The KYC policy requires a verified user for this command.
    #[error("identity verification (KYC) is required")]
    KycRequired,
    /// The password-reset token is unknown, used or expired.
    #[error("invalid or expired reset token")]
    InvalidResetToken,
    /// The email is already registered.
    #[error("email already registered")]
    EmailTaken,
    /// A ledger account with this code exists.
    #[error("a ledger account with this code exists")]
    AccountCodeTaken,

    // 3. Idempotency.
    /// The idempotency key was used before with a different payload.
    #[error("idempotency key already used with a different request")]
    IdempotencyConflict,

    // 4. State guards.
    /// The account is closed.
    #[error("account {number} is closed")]
    AccountClosed {
        /// The closed account.
        account: AccountId,
        /// Its number, which the message names.
        number: AccountNumber,
    },
    /// The account is frozen.
    #[error("account {number} is frozen")]
    AccountFrozen {
        /// The frozen account.
        account: AccountId,
        /// Its number, which the message names.
        number: AccountNumber,
    },
    /// A customer's payment names another customer's account that cannot
    /// be credited now (frozen or closed). Its state is not the payer's to
    /// know, so the error says only this.
    #[error("the recipient cannot receive payments")]
    RecipientUnavailable,
    /// A payee's capture of a hold meets the payer's account in a state
    /// that refuses it (frozen or closed); as above, nothing more is said.
    #[error("the payer's account cannot be charged")]
    PayerUnavailable,
    /// The hold is no longer pending (captured, voided or expired).
    #[error("the hold is {}, not pending", status.as_str())]
    HoldNotPending {
        /// The hold.
        hold: TransactionId,
        /// Its current status.
        status: TransactionStatus,
    },
    /// The transaction cannot be reversed: a hold still pending or voided
    /// (it moved nothing), or itself a reversal.
    #[error("this transaction cannot be reversed")]
    NotReversible {
        /// The transaction.
        transaction: TransactionId,
    },
    /// Everything the transaction moved has been reversed already.
    #[error("the transaction is already reversed in full")]
    AlreadyReversed {
        /// The transaction.
        transaction: TransactionId,
    },
    /// The hold's expiry has passed.
    #[error("the hold has expired")]
    HoldExpired {
        /// The hold.
        hold: TransactionId,
    },
    /// A capture asks for more than the hold reserved.
    #[error("capture of {requested} exceeds the held {held}")]
    CaptureExceedsHold {
        /// The hold.
        hold: TransactionId,
        /// What the hold reserved.
        held: Decimal,
        /// What the capture asked for.
        requested: Decimal,
    },
    /// The account's available balance would fall below its floor.
    #[error("insufficient funds in account {number}: {available} available, {requested} requested")]
    InsufficientFunds {
        /// The account.
        account: AccountId,
        /// Its number, which the message names.
        number: AccountNumber,
        /// Available before the command.
        available: Decimal,
        /// What the command needed.
        requested: Decimal,
        /// For an entry: the index of the first posting that debits the
        /// account (whose final balance is below its floor).
        posting: Option<usize>,
    },
    /// Closing needs no open holds.
    #[error("account {number} has open holds")]
    AccountHasOpenHolds {
        /// The account.
        account: AccountId,
        /// Its number, which the message names.
        number: AccountNumber,
    },
    /// Closing needs a zero balance.
    #[error("account {number} has a non-zero balance")]
    AccountNotEmpty {
        /// The account.
        account: AccountId,
        /// Its number, which the message names.
        number: AccountNumber,
    },
    /// The status change is not an edge of the state machine.
    #[error("account {number} cannot go from {} to {}", from.as_str(), to.as_str())]
    InvalidStatusTransition {
        /// The account.
        account: AccountId,
        /// Its number, which the message names.
        number: AccountNumber,
        /// Its status.
        from: AccountStatus,
        /// The status asked for.
        to: AccountStatus,
    },
    /// The KYC transition is not allowed from the current status.
    #[error("KYC cannot change from {from:?}")]
    InvalidKycTransition {
        /// The current status.
        from: crate::identity::KycStatus,
    },
    /// A KYC submission whose profile lacks what a reviewer checks (see
    /// [`Profile::missing_for_review`](crate::identity::Profile::missing_for_review)).
    #[error("add your {} to your profile before submitting it for review", missing.join(" and "))]
    ProfileIncomplete {
        /// The missing fields, in words (`date of birth`, `address`).
        missing: Vec<&'static str>,
    },
    /// Hashing a password failed (bad parameters); never the user's fault.
    #[error("password hashing failed")]
    PasswordHashing,
    /// A balance would leave the range `Decimal` can hold exactly.
    #[error("balance overflow")]
    BalanceOverflow,
    /// The generated account number is already taken (the ledger draws again).
    #[error("account number already taken")]
    AccountNumberTaken,
    /// A command inside an atomic batch failed; nothing in the batch applied.
    #[error("batch command {index} failed: {source}")]
    BatchCommandFailed {
        /// Zero-based position of the failing command.
        index: usize,
        /// Why it failed.
        source: Box<LedgerError>,
    },

    /// The audit log's hash chain does not verify.
    #[error("audit chain broken: {0}")]
    AuditChainBroken(#[from] crate::audit::ChainBreak),

    // 5. Storage.
    /// The store failed; the command may or may not have applied only if the
    /// failure happened during commit, and a replay with the same idempotency
    /// key settles which.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

//! A [`LedgerError`]'s stable code and its category: what a caller (an
//! API, the audit log) names it by and can do about it.

use super::{LedgerError, StorageErrorKind};

impl LedgerError {
    /// A stable machine-readable code (`insufficient_funds`), for APIs and audit.
    pub fn code(&self) -> &'static str {
        use LedgerError::*;
        match self {
            InvalidAmount(_) => "invalid_amount",
            InvalidAccountNumber(_) => "invalid_account_number",
            InvalidAccountName => "invalid_account_name",
            InvalidAccountKind => "invalid_account_kind",
            InvalidOverdraftLimit => "invalid_overdraft_limit",
            InvalidDescription => "invalid_description",
            InvalidIdempotencyKey => "invalid_idempotency_key",
            InvalidExpiry => "invalid_expiry",
            SameAccount => "same_account",
            BatchEmpty => "batch_empty",
            BatchTooLarge { .. } => "batch_too_large",
            BatchTooManyPostings { .. } => "batch_too_many_postings",
            InvalidPageSize { .. } => "invalid_page_size",
            InvalidCursor => "invalid_cursor",
            InvalidSinkName => "invalid_sink_name",
            InvalidFilter(_) => "invalid_filter",
            InvalidAccountCode => "invalid_account_code",
            InvalidMetadata(_) => "invalid_metadata",
            InvalidFloor => "invalid_floor",
            InvalidEntry(_) => "invalid_entry",
            InvalidCurrency => "invalid_currency",
            InvalidNormalBalance => "invalid_normal_balance",
            AccountCodeNotFound => "account_code_not_found",
            AccountCodeTaken => "account_code_taken",
            TooManyAccounts { .. } => "too_many_accounts",
            InvalidEmail => "invalid_email",
            WeakPassword(_) => "weak_password",
            InvalidProfile(_) => "invalid_profile",
            InvalidKycReason => "invalid_kyc_reason",
            InvalidDeviceLabel => "invalid_device_label",
            UserNotFound => "user_not_found",
            SessionNotFound => "session_not_found",
            Unauthenticated => "unauthenticated",
            InvalidCredentials => "invalid_credentials",
            WrongPassword => "wrong_password",
            RecipientUnavailable => "recipient_unavailable",
            PayerUnavailable => "payer_unavailable",
            TooManyAttempts { .. } => "too_many_attempts",
            Forbidden => "forbidden",
            KycRequired => "kyc_required",
            InvalidResetToken => "invalid_reset_token",
            EmailTaken => "email_taken",
            InvalidKycTransition { .. } => "invalid_kyc_transition",
            ProfileIncomplete { .. } => "profile_incomplete",
            PasswordHashing => "password_hashing",
            AccountNotFound { .. } => "account_not_found",
            AccountNumberNotFound { .. } => "account_number_not_found",
            TransactionNotFound { .. } => "transaction_not_found",
            NotAHold { .. } => "not_a_hold",
            InternalAccount { .. } => "internal_account",
            CurrencyMismatch { .. } => "currency_mismatch",
            IdempotencyConflict => "idempotency_conflict",
            AccountClosed { .. } => "account_closed",
            AccountFrozen { .. } => "account_frozen",
            HoldNotPending { .. } => "hold_not_pending",
            HoldExpired { .. } => "hold_expired",
            NotReversible { .. } => "not_reversible",
            AlreadyReversed { .. } => "already_reversed",
            InvalidReversal(_) => "invalid_reversal",
            ReversalExceedsOriginal { .. } => "reversal_exceeds_original",
            InstantInFuture => "instant_in_future",
            InvalidPeriod => "invalid_period",
            StatementTooLong { .. } => "statement_too_long",
            CaptureExceedsHold { .. } => "capture_exceeds_hold",
            InsufficientFunds { .. } => "insufficient_funds",
            AccountHasOpenHolds { .. } => "account_has_open_holds",
            AccountNotEmpty { .. } => "account_not_empty",
            InvalidStatusTransition { .. } => "invalid_status_transition",
            BalanceOverflow => "balance_overflow",
            AccountNumberTaken => "account_number_taken",
            BatchCommandFailed { .. } => "batch_command_failed",
            AuditChainBroken(_) => "audit_chain_broken",
            // Refused data is our fault; anything else is storage out of reach
            // (or a commit whose outcome a retry with the same key will tell).
            Storage(e) if e.kind == StorageErrorKind::Refused => "storage_error",
            Storage(_) => "storage_unavailable",
        }
    }

    /// What kind of failure this is, for callers that map errors to their
    /// own terms (HTTP statuses): every variant has one, so a new variant
    /// cannot reach a caller unclassified.
    pub fn category(&self) -> ErrorCategory {
        use LedgerError::*;
        match self {
            InvalidAmount(_)
            | InvalidAccountNumber(_)
            | InvalidAccountName
            | InvalidAccountKind
            | InvalidOverdraftLimit
            | InvalidDescription
            | InvalidIdempotencyKey
            | InvalidExpiry
            | SameAccount
            | BatchEmpty
            | BatchTooLarge { .. }
            | BatchTooManyPostings { .. }
            | InvalidPageSize { .. }
            | InvalidCursor
            | InvalidSinkName
            | InvalidFilter(_)
            | InvalidAccountCode
            | InvalidMetadata(_)
            | InvalidFloor
            | InvalidEntry(_)
            | InvalidCurrency
            | InvalidNormalBalance
            | InvalidReversal(_)
            | ReversalExceedsOriginal { .. }
            | InstantInFuture
            | InvalidPeriod
            | StatementTooLong { .. }
            | InvalidEmail
            | WeakPassword(_)
            | InvalidProfile(_)
            | InvalidKycReason
            | ProfileIncomplete { .. }
            | InvalidDeviceLabel
            | InternalAccount { .. }
            | CurrencyMismatch { .. }
            | CaptureExceedsHold { .. }
            | InsufficientFunds { .. }
            | WrongPassword
            | BalanceOverflow => ErrorCategory::Invalid,
            InvalidResetToken => ErrorCategory::InvalidToken,
            AccountNotFound { .. }
            | AccountNumberNotFound { .. }
            | AccountCodeNotFound
            | TransactionNotFound { .. }
            | NotAHold { .. }
            | UserNotFound
            | SessionNotFound => ErrorCategory::NotFound,
            Unauthenticated | InvalidCredentials => ErrorCategory::Unauthenticated,
            Forbidden | KycRequired => ErrorCategory::Forbidden,
            TooManyAttempts { .. } => ErrorCategory::Throttled,
            EmailTaken
            | AccountCodeTaken
            | IdempotencyConflict
            | AccountClosed { .. }
            | AccountFrozen { .. }
            | RecipientUnavailable
            | PayerUnavailable
            | HoldNotPending { .. }
            | HoldExpired { .. }
            | NotReversible { .. }
            | AlreadyReversed { .. }
            | AccountHasOpenHolds { .. }
            | AccountNotEmpty { .. }
            | InvalidStatusTransition { .. }
            | InvalidKycTransition { .. }
            | TooManyAccounts { .. } => ErrorCategory::Conflict,
            BatchCommandFailed { source, .. } => source.category(),
            // The ledger draws a number again on a collision; this reaches a
            // caller only when every draw collided.
            // A failover, a lost connection, a commit whose outcome is unknown:
            // the same request may pass later (with its idempotency key, a
            // money command then applies once or replays).
            Storage(e) if e.kind != StorageErrorKind::Refused => ErrorCategory::Unavailable,
            AccountNumberTaken | PasswordHashing | AuditChainBroken(_) | Storage(_) => ErrorCategory::Internal,
        }
    }

    /// The innermost error: the failing command's own error for a batch.
    pub fn root(&self) -> &LedgerError {
        match self {
            LedgerError::BatchCommandFailed { source, .. } => source.root(),
            other => other,
        }
    }
}

/// The kind of a [`LedgerError`], by what the caller can do about it.
///
/// Deliberately not `#[non_exhaustive]`: a caller's mapping (HTTP statuses)
/// is an exhaustive match, so a new category is a change every caller must
/// answer, not one that falls into a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCategory {
    /// The command or query is invalid as given, or breaks a rule the caller
    /// can fix by asking differently (an amount, a currency, funds).
    Invalid,
    /// A one-time token (a password reset's) is unknown, used or expired.
    InvalidToken,
    /// Nothing the caller may see has this id (or number, or email).
    NotFound,
    /// No valid credentials.
    Unauthenticated,
    /// The caller may not do this (its role, or the KYC policy).
    Forbidden,
    /// The current state refuses it (a frozen account, a used key, a hold no
    /// longer pending).
    Conflict,
    /// Too many attempts; try later.
    Throttled,
    /// Storage is out of reach for now (a failover, a lost connection), or
    /// a commit's outcome is unknown: nothing the caller did wrong; the same
    /// request (with the same idempotency key) may pass later.
    Unavailable,
    /// The ledger failed, not the caller: storage, or a broken invariant.
    Internal,
}

//! # ledger-core
//!
//! An embeddable, storage-agnostic double-entry ledger. This crate holds every
//! business rule, the storage trait backends implement ([`Store`]), the
//! in-memory reference store ([`MemoryStore`]) and, behind the `conformance`
//! feature, the test suite every backend must pass.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ledger_core::LedgerError> {
//! use ledger_core::*;
//! let ledger = Ledger::open(MemoryStore::new()).await?;
//! // The embedding program acts as `Actor::System`; users act as themselves.
//! let me = Actor::System;
//! let account = ledger.open_account(&me, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd)).await?;
//! let key = IdempotencyKey::new("deposit-1")?;
//! let amount = Amount::parse("12.50")?;
//! ledger.deposit(&me, key, Deposit { account: account.id, amount, description: None, metadata: Default::default() }).await?;
//! assert_eq!(ledger.balance(&me, account.id).await?.available(), amount.value());
//! # Ok(()) }
//! ```
//!
//! **Invariant:** this crate does no I/O and knows no SQL, sled, HTTP or JSON.

pub mod audit;
pub mod balance_query;
pub mod bounded_map;
pub mod change;
pub mod clock;
pub mod command;
pub mod digest;
mod domain;
pub mod dump;
pub mod error;
pub mod event;
pub mod id;
pub mod idempotency;
pub mod identity;
mod ledger;
pub mod query;
mod rules;
pub mod store;
pub mod stored_text;

pub use audit::metadata as audit_metadata;
pub use domain::{account, account_code, account_number, metadata, money, posting, transaction};
use rules::plan;
pub use store::{memory, write_batch};

#[cfg(feature = "conformance")]
pub mod conformance;

pub use account::{Account, AccountKind, AccountStatus, Balance, NormalBalance, StatusChange};
pub use account_code::AccountCode;
pub use account_number::{AccountNumber, AccountNumberError};
pub use audit::{AuditDraft, AuditHead, AuditOutcome, AuditRecord, ChainBreak, verify_chain};
pub use audit_metadata::AuditMetadata;
pub use balance_query::{
    BalanceAsOf, BalanceChange, BalanceHistory, PostingCursor, PostingRange, STATEMENT_POSTINGS_MAX, Statement,
    StatementLine,
};
pub use change::{CHANGES_PAGE_MAX, Change, ChangeKind, event_id};
pub use clock::{Clock, ManualClock, SystemClock};
pub use command::{
    AccountRef, BATCH_SIZE_MAX, CaptureHold, Deposit, ENTRY_POSTINGS_MAX, Entry, EntryPosting, MoneyCommand,
    OpenAccount, OpenLedgerAccount, PlaceHold, Reverse, Transfer, VoidHold, Withdraw,
};
pub use digest::Digest;
pub use error::{ErrorCategory, LedgerError, StorageError, StorageErrorKind};
pub use event::LedgerEvent;
pub use id::{AccountId, TransactionId, UserId};
pub use idempotency::{IdempotencyKey, IdempotencyRecord};
pub use identity::{Actor, Role};
pub use ledger::verify::{IntegrityReport, VERIFY_PROBLEMS_MAX};
pub use ledger::{
    Authenticated, BatchReceipt, GROUP_COMMIT_BATCHES_CAP, GROUP_COMMIT_BATCHES_DEFAULT, GROUP_COMMIT_WAIT_MICROS_MAX,
    GROUP_COMMIT_WAIT_MICROS_SERVICE, GroupCommit, GroupCommitError, Ledger, LedgerBuilder, LedgerConfig, Login,
    LoginRequest, Receipt, Registration,
};
pub use memory::MemoryStore;
pub use metadata::Metadata;
pub use money::{Amount, Currency, Money, MoneyError};
pub use plan::KycPolicy;
pub use posting::Posting;
pub use query::{Cursor, HistoryFilter, PAGE_SIZE_MAX, Page, PageRequest};
pub use rules::seal::{EarlierSeals, seal_booked};
/// The exact decimal every amount and balance is, re-exported so embedders
/// use the very version the ledger does.
pub use rust_decimal::Decimal;
pub use store::Store;
pub use store::apply::{Staging, apply_batches, apply_batches_now};
pub use store::booking::{BookingStaging, book_batches, book_batches_now};
pub use store::read_replica::ReadReplicaStore;
pub use store::rows::{Rows, rows_hold};
pub use transaction::{Leg, Transaction, TransactionKind, TransactionStatus};
pub use write_batch::{
    BatchOutcome, Booking, Decision, Keys, Op, SEQUENCE_STRIDE, Sealed, Snapshot, Unsealed, Verdict, WriteBatch, Writes,
};

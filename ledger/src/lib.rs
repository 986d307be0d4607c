//! # ledger
//!
//! An embeddable, storage-agnostic double-entry ledger, in one `use`:
//! everything of [`ledger_core`] (the [`Ledger`] facade, commands, money,
//! accounts, errors, the in-memory store) and the stores this build's
//! features turn on: [`SqlStore`] (`sqlite`, the default, and `postgres`)
//! and [`SledStore`] (`sled`).
//!
//! ```
//! use ledger::*;
//!
//! # async fn demo() -> Result<(), LedgerError> {
//! let ledger = Ledger::open(MemoryStore::new()).await?;
//! let me = Actor::System;
//! let buyer = ledger.open_account(&me, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd)).await?;
//! let code = AccountCode::parse("revenue:fees")?;
//! ledger.open_ledger_account(&me, OpenLedgerAccount::new(code, Currency::Usd, NormalBalance::Credit)).await?;
//! let deposit = Deposit { account: buyer.id, amount: Amount::parse("12.50")?, description: None, metadata: Metadata::empty() };
//! ledger.deposit(&me, IdempotencyKey::new("deposit-42")?, deposit).await?;
//! // An entry: any number of postings between any accounts, all or nothing.
//! let fee = EntryPosting {
//!     source: buyer.id.into(),
//!     destination: AccountRef::parse("@revenue:fees")?,
//!     amount: Amount::parse("0.50")?,
//!     currency: Currency::Usd,
//! };
//! let entry = Entry { postings: vec![fee], description: None, metadata: Metadata::new([("order_id", "42")])? };
//! ledger.post_entry(&me, IdempotencyKey::new("order-42-fee")?, entry).await?;
//! # Ok(()) }
//! ```
//!
//! Open a durable store by URL with [`SqlStore::connect`] (`sqlite:PATH`,
//! `postgres://...`) or by directory with [`SledStore::open`]. Module paths
//! of the core (`ledger::money`, `ledger::identity`, ...) are those of
//! [`ledger_core`].

pub use ledger_core::*;
#[cfg(feature = "sled")]
pub use ledger_sled::{Durability, SledConfig, SledStore};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use ledger_sql::{SqlOptions, SqlStore};

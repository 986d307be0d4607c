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
//! let account = ledger
//!     .open_account(&Actor::System, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd))
//!     .await?;
//! let deposit = Deposit { account: account.id, amount: Amount::parse("12.50")?, description: None, metadata: Default::default() };
//! ledger.deposit(&Actor::System, IdempotencyKey::new("order-42")?, deposit).await?;
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

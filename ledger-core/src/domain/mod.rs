//! The ledger's nouns: money, accounts and their numbers, transactions and
//! the postings under them. Plain values with checking constructors; no
//! storage and no rules about mutable state (those are `rules/`).

pub mod account;
pub mod account_code;
pub mod account_number;
pub mod metadata;
pub mod money;
pub mod posting;
pub mod transaction;

//! The conformance suite on SQLite, each case on a new database file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use ledger_core::Store;
use ledger_sql::SqlStore;

async fn fresh_store() -> Option<Arc<dyn Store>> {
    let url = common::fresh_sqlite_url();
    Some(Arc::new(SqlStore::connect(&url).await.expect("opening a fresh SQLite store")))
}

ledger_core::conformance_suite!(fresh_store);

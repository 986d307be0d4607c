//! The conformance suite on PostgreSQL booking apart from sealing
//! (`SqlOptions::book_apart`), each case in a new schema of the database
//! named by `LEDGER_TEST_POSTGRES_URL` (skipped without it): the same
//! outcomes and guarantees as the one-lock apply.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use ledger_core::Store;
use ledger_sql::SqlStore;

async fn fresh_store() -> Option<Arc<dyn Store>> {
    let url = common::postgres_url("PostgreSQL conformance, booking apart")?;
    let schema = common::fresh_schema(&url).await;
    let options = common::test_options(&schema).book_apart(true);
    Some(Arc::new(SqlStore::connect_with(&url, options).await.expect("opening the PostgreSQL store")))
}

ledger_core::conformance_suite!(fresh_store);

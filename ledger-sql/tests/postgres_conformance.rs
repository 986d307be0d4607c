//! The conformance suite on PostgreSQL, each case in a new schema of the
//! database named by `LEDGER_TEST_POSTGRES_URL` (skipped without it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use ledger_core::Store;

async fn fresh_store() -> Option<Arc<dyn Store>> {
    let url = common::postgres_url("PostgreSQL conformance")?;
    Some(Arc::new(common::fresh_postgres_store(&url).await))
}

ledger_core::conformance_suite!(fresh_store);

//! The conformance suite on the in-memory store.

use std::sync::Arc;

use ledger_core::{MemoryStore, Store};

async fn fresh_store() -> Option<Arc<dyn Store>> {
    Some(Arc::new(MemoryStore::new()))
}

ledger_core::conformance_suite!(fresh_store);

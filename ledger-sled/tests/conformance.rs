//! The ledger's conformance suite, run against the sled store.

#![allow(missing_docs)]

use std::sync::Arc;

use ledger_core::Store;
use ledger_sled::SledStore;

/// A fresh, empty store in its own temporary directory, on the real file
/// system with the default durability. The store owns the directory and
/// deletes it when the case drops its last handle.
async fn fresh_store() -> Option<Arc<dyn Store>> {
    match SledStore::temporary() {
        Ok(store) => Some(Arc::new(store)),
        Err(error) => panic!("cannot open a temporary sled store: {error}"),
    }
}

ledger_core::conformance_suite!(fresh_store);

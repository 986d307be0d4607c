//! After the service has stopped: the store opened directly with
//! ledger-core, its invariant checks and audit-chain verification run, and
//! the idempotency record of every operation's key read.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use ledger_core::conformance::invariants;
use ledger_core::{Actor, IdempotencyKey, Ledger, Store};
use ledger_sled::SledStore;
use ledger_sql::SqlStore;

use crate::error::BankError;
use crate::observed::StoreEvidence;
use crate::op::Op;

/// Where the service kept its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A sled directory.
    Sled(PathBuf),
    /// A `sqlite:` or `postgres://` URL.
    Sql(String),
}

/// Opens the store and gathers the evidence. The service must not be running.
pub async fn gather(location: &Location, ops: &[&Op]) -> Result<StoreEvidence, BankError> {
    let store: Arc<dyn Store> = match location {
        Location::Sled(path) => {
            let path = path.clone();
            let opened = tokio::task::spawn_blocking(move || SledStore::open(path))
                .await
                .map_err(|e| BankError::Startup(format!("the sled open task failed: {e}")))??;
            Arc::new(opened)
        }
        Location::Sql(url) => Arc::new(SqlStore::connect(url).await?),
    };
    let ledger = Ledger::builder(store.clone())
        .open()
        .await
        .map_err(|e| BankError::Startup(format!("opening a ledger on the store: {e}")))?;
    let invariants = invariants_of(ledger.clone()).await;
    let audit_chain =
        ledger.verify_audit_chain(&Actor::System, None).await.map(|h| h.sequence).map_err(|e| e.to_string());
    let mut idempotency = HashMap::new();
    for op in ops {
        // The core scopes a key to its actor: `user:<id>/<key>`.
        let scoped = IdempotencyKey::new(format!("user:{}/{}", op.actor, op.key))
            .map_err(|e| BankError::Options(format!("key {}: {e}", op.key)))?;
        if let Some(record) = store.idempotency_record(&scoped).await? {
            idempotency.insert(op.key.clone(), record.transaction_ids.iter().map(|t| *t.as_uuid()).collect());
        }
    }
    Ok(StoreEvidence { invariants, audit_chain, idempotency })
}

/// ledger-core's invariant checks, which panic on the first broken one:
/// run in a task so the panic becomes the error message.
async fn invariants_of(ledger: Ledger) -> Result<(), String> {
    let checked = tokio::spawn(async move { invariants::check(&ledger).await }).await;
    checked.map_err(|error| match error.try_into_panic() {
        Ok(panic) => panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "the invariant check panicked".to_owned()),
        Err(error) => error.to_string(),
    })
}

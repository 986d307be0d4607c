//! `ReadReplicaStore` routes each read where its docs say: the reads that
//! look back to the replica (falling back to the primary only when the
//! replica is out of reach), everything else to the primary. Each store is
//! broken in turn, so a call that succeeds shows which store answered it.

#![allow(clippy::expect_used)] // tests: a failed expectation must panic

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ledger_core::conformance::recording::RecordingStore;
use ledger_core::{AccountId, HistoryFilter, MemoryStore, PostingRange, ReadReplicaStore, StorageErrorKind, Store};

fn stores() -> (Arc<RecordingStore>, Arc<RecordingStore>, ReadReplicaStore) {
    let primary = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new()), Duration::ZERO));
    let replica = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new()), Duration::ZERO));
    let split = ReadReplicaStore::new(primary.clone(), replica.clone());
    (primary, replica, split)
}

#[tokio::test]
async fn history_statements_and_audit_come_from_the_replica_and_the_rest_from_the_primary() {
    let (primary, _replica, split) = stores();
    primary.break_with("primary down");
    let account = AccountId::default();
    assert!(split.transactions(&HistoryFilter::default(), None, 10).await.is_ok());
    assert!(split.postings(account, None, 10).await.is_ok());
    assert!(split.posting_as_of(account, Utc::now()).await.is_ok());
    assert!(split.audit_records(0, 10).await.is_ok());
    assert!(split.audit_records_by_actor("system", 0, 10).await.is_ok());
    let range = PostingRange { account, from: None, until: None, after: None, newest_first: true };
    assert!(split.postings_in(&range, 10).await.is_ok());
    // Balances, idempotency, sessions, the feed and readiness: the primary.
    assert!(split.account(account).await.is_err());
    assert!(split.accounts(None, 10).await.is_err());
    assert!(split.changes_after(0, 10).await.is_err());
    assert!(split.ping().await.is_err());
}

#[tokio::test]
async fn a_replica_out_of_reach_falls_back_to_the_primary_and_other_replica_failures_do_not() {
    let (_primary, replica, split) = stores();
    replica.break_unavailable("replica restarting");
    assert!(split.transactions(&HistoryFilter::default(), None, 10).await.is_ok());
    assert!(split.audit_records(0, 10).await.is_ok());
    assert!(split.ping().await.is_ok(), "readiness is the primary's");
    replica.break_with("replica corrupt");
    let error = split.transactions(&HistoryFilter::default(), None, 10).await.expect_err("no fallback");
    assert_eq!(error.kind, StorageErrorKind::Unknown);
    replica.mend();
    assert!(split.transactions(&HistoryFilter::default(), None, 10).await.is_ok());
}

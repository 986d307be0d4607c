//! The audit log and its chain, and the events of committed changes.

use super::*;

// ---------------------------------------------------------------- audit & events

/// Accepted and rejected commands are both audited, in commit order.
pub async fn audit_log_records_accepted_and_rejected_commands(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let start = state(&h).await.audit_sequence;
    deposit(&h, a.id, "5").await;
    let withdrawal_key = key();
    let withdrawal = Withdraw { account: a.id, amount: amount("6"), description: None, metadata: Default::default() };
    let _ = h.ledger.withdraw(&SYS, withdrawal_key.clone(), withdrawal).await;
    let records = h.ledger.audit_log(&SYS, start, 10).await.expect("audit log");
    assert_eq!(records.len(), 2);
    // The metadata reads back as stored (the hash covers it too).
    assert_eq!(records[1].metadata.get("idempotency_key"), Some(withdrawal_key.as_str()));
    assert_eq!(records[1].metadata.len(), 1);
    assert_eq!(records[0].sequence, start + 1);
    assert_eq!((records[0].action.as_str(), &records[0].outcome), ("deposit", &AuditOutcome::Accepted));
    assert_eq!(records[0].target, format!("account:{}", a.id));
    assert_eq!(records[1].action, "withdrawal");
    assert!(matches!(&records[1].outcome, AuditOutcome::Rejected { code, .. } if code == "insufficient_funds"));
    assert_eq!(records[1].prev_hash, records[0].hash);
    for limit in [0, crate::audit::AUDIT_PAGE_SIZE_MAX + 1] {
        assert!(matches!(h.ledger.audit_log(&SYS, 0, limit).await, Err(LedgerError::InvalidPageSize { .. })));
    }
}

/// The stored chain verifies, and any tampering with it is detected.
pub async fn audit_chain_detects_tampering_through_the_verifier(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    for _ in 0..3 {
        deposit(&h, a.id, "1").await;
    }
    let head = h.ledger.verify_audit_chain(&SYS, None).await.expect("the chain verifies");
    assert_eq!(h.ledger.verify_audit_chain(&SYS, Some(head)).await, Ok(head));
    let log = h.ledger.audit_log(&SYS, 0, 100).await.expect("audit log");
    assert_eq!(log.last().map(|r| r.head()), Some(head));
    let mut altered = log.clone();
    altered[1].actor = "mallory".into();
    assert!(verify_chain(&altered, None).is_err());
    let mut removed = log.clone();
    removed.remove(1);
    assert!(verify_chain(&removed, None).is_err());
    let ahead = AuditHead { sequence: head.sequence + 1, ..head };
    let truncated = h.ledger.verify_audit_chain(&SYS, Some(ahead)).await;
    assert_eq!(truncated.map(|_| ()).map_err(|e| e.code()), Err("audit_chain_broken"));
}

/// Committed changes are published; rejected commands publish nothing.
pub async fn events_are_published_for_committed_changes(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let mut events = h.ledger.subscribe();
    let receipt = deposit(&h, a.id, "12").await;
    let mut saw_account = false;
    let mut saw_transaction = false;
    while let Ok(event) = events.try_recv() {
        match event {
            LedgerEvent::Account(acc) if acc.id == a.id => {
                saw_account = true;
                assert_eq!(acc.balance.posted, dec("12"));
            }
            LedgerEvent::Transaction(t) => {
                saw_transaction = true;
                assert_eq!(t, receipt.transaction);
            }
            LedgerEvent::Account(_) => {}
        }
    }
    assert!(saw_account && saw_transaction, "a deposit publishes its account and transaction");
    let _ = h
        .ledger
        .withdraw(
            &SYS,
            key(),
            Withdraw { account: a.id, amount: amount("13"), description: None, metadata: Default::default() },
        )
        .await;
    assert!(events.try_recv().is_err(), "a rejected command publishes nothing");
}

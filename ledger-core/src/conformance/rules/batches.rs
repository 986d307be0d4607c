//! Atomic batches: all or nothing, in order, bounded, replayed whole.

use std::collections::BTreeSet;

use super::*;
use crate::command::{BATCH_POSTINGS_MAX, ENTRY_POSTINGS_MAX, Entry, EntryPosting};
use crate::conformance::invariants::all_postings;
use crate::metadata::Metadata;

// ---------------------------------------------------------------- batches

/// A batch applies its commands in order; each sees the ones before it.
pub async fn batch_applies_all_commands_in_order(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let commands: Vec<MoneyCommand> = vec![
        Deposit { account: a.id, amount: amount("100"), description: None, metadata: Default::default() }.into(),
        transfer(a.id, b.id, "60").into(),
        Withdraw { account: b.id, amount: amount("10"), description: None, metadata: Default::default() }.into(),
        hold(b.id, "50").into(),
    ];
    let receipt = h.ledger.execute_batch(&SYS, key(), commands).await.expect("batch");
    let kinds: Vec<TransactionKind> = receipt.transactions.iter().map(|t| t.kind).collect();
    let expected =
        [TransactionKind::Deposit, TransactionKind::Transfer, TransactionKind::Withdrawal, TransactionKind::Hold];
    assert_eq!(kinds, expected);
    assert_eq!(balances(&h, a.id).await, (dec("40"), Decimal::ZERO, dec("40")));
    assert_eq!(balances(&h, b.id).await, (dec("50"), dec("50"), Decimal::ZERO));
}

/// If one command of a batch fails, none applies.
pub async fn batch_is_all_or_nothing(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let failing_guard: Vec<MoneyCommand> = vec![
        Deposit { account: a.id, amount: amount("100"), description: None, metadata: Default::default() }.into(),
        transfer(a.id, b.id, "60").into(),
        transfer(a.id, b.id, "60").into(),
    ];
    let before = state(&h).await;
    let result = h.ledger.execute_batch(&SYS, key(), failing_guard).await;
    assert!(matches!(&result, Err(LedgerError::BatchCommandFailed { index: 2, .. })), "{result:?}");
    assert_rejected(&h, &before, result, "insufficient_funds").await;
    let failing_lookup: Vec<MoneyCommand> = vec![
        Deposit { account: a.id, amount: amount("100"), description: None, metadata: Default::default() }.into(),
        Deposit { account: AccountId::new(), amount: amount("1"), description: None, metadata: Default::default() }
            .into(),
    ];
    let before = state(&h).await;
    let result = h.ledger.execute_batch(&SYS, key(), failing_lookup).await;
    assert!(matches!(&result, Err(LedgerError::BatchCommandFailed { index: 1, .. })), "{result:?}");
    assert_rejected(&h, &before, result, "account_not_found").await;
}

/// A batch has at least one and at most [`BATCH_SIZE_MAX`] commands.
pub async fn batch_size_is_limited(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let one: MoneyCommand =
        Deposit { account: a.id, amount: amount("1"), description: None, metadata: Default::default() }.into();
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.execute_batch(&SYS, key(), vec![]).await, "batch_empty").await;
    let before = state(&h).await;
    let too_many = vec![one.clone(); BATCH_SIZE_MAX + 1];
    assert_rejected(&h, &before, h.ledger.execute_batch(&SYS, key(), too_many).await, "batch_too_large").await;
    let receipt = h.ledger.execute_batch(&SYS, key(), vec![one; BATCH_SIZE_MAX]).await.expect("a full batch");
    assert_eq!(receipt.transactions.len(), BATCH_SIZE_MAX);
    assert_eq!(posted(&h, a.id).await, Decimal::from(BATCH_SIZE_MAX as u64));
}

/// A batch writes at most [`BATCH_POSTINGS_MAX`] posting lines, since a
/// commit numbers its lines within one `SEQUENCE_STRIDE`: one line more is
/// refused whole, typed and audited, changing nothing; at the limit the
/// batch commits and the next commit's lines are numbered after all of its.
pub async fn batch_posting_lines_are_limited(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    deposit(&h, a.id, "100000").await;
    let entry_of = |legs: usize| -> MoneyCommand {
        let leg = EntryPosting {
            source: a.id.into(),
            destination: b.id.into(),
            amount: amount("1"),
            currency: Currency::Usd,
        };
        Entry { postings: vec![leg; legs], description: None, metadata: Metadata::empty() }.into()
    };
    let lines_per_full_entry = 2 * ENTRY_POSTINGS_MAX;
    let full_entries = BATCH_POSTINGS_MAX / lines_per_full_entry;
    let rest_legs = (BATCH_POSTINGS_MAX - full_entries * lines_per_full_entry) / 2;
    let mut at_limit = vec![entry_of(ENTRY_POSTINGS_MAX); full_entries];
    at_limit.push(entry_of(rest_legs));
    let mut one_leg_over = at_limit.clone();
    one_leg_over.push(entry_of(1));
    let past_the_stride = vec![entry_of(ENTRY_POSTINGS_MAX); full_entries + 2];
    for (over, lines) in
        [(one_leg_over, BATCH_POSTINGS_MAX + 2), (past_the_stride, (full_entries + 2) * lines_per_full_entry)]
    {
        let before = state(&h).await;
        let result = h.ledger.execute_batch(&SYS, key(), over).await;
        let expected = LedgerError::BatchTooManyPostings { postings: lines, max: BATCH_POSTINGS_MAX };
        assert_eq!(result.as_ref().err(), Some(&expected), "{lines} lines");
        assert_rejected(&h, &before, result, "batch_too_many_postings").await;
    }
    let receipt = h.ledger.execute_batch(&SYS, key(), at_limit).await.expect("a batch at the line limit");
    let after = deposit(&h, a.id, "1").await;
    assert_eq!(posted(&h, b.id).await, Decimal::from(BATCH_POSTINGS_MAX as u64 / 2));
    let mut lines = all_postings(&h.ledger, a.id).await;
    lines.extend(all_postings(&h.ledger, b.id).await);
    let sequences: BTreeSet<u64> = lines.iter().map(|p| p.sequence).collect();
    assert_eq!(sequences.len(), lines.len(), "every line has a sequence of its own");
    let batch_ids: BTreeSet<TransactionId> = receipt.transactions.iter().map(|t| t.id).collect();
    let batch_last = lines.iter().filter(|p| batch_ids.contains(&p.transaction_id)).map(|p| p.sequence).max();
    let next_first = lines.iter().filter(|p| p.transaction_id == after.transaction.id).map(|p| p.sequence).min();
    assert!(batch_last < next_first, "the next commit's lines follow the batch's: {batch_last:?} < {next_first:?}");
}

/// A batch replay returns the original transactions; a changed batch conflicts.
pub async fn batch_replay_returns_the_original_result(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let commands: Vec<MoneyCommand> = vec![
        Deposit { account: a.id, amount: amount("10"), description: None, metadata: Default::default() }.into(),
        transfer(a.id, b.id, "4").into(),
    ];
    let k = key();
    let first = h.ledger.execute_batch(&SYS, k.clone(), commands.clone()).await.expect("batch");
    let again = h.ledger.execute_batch(&SYS, k.clone(), commands.clone()).await.expect("replay");
    assert!(again.replayed);
    assert_eq!(again.transactions, first.transactions);
    assert_eq!(posted(&h, b.id).await, dec("4"));
    let before = state(&h).await;
    assert_rejected(
        &h,
        &before,
        h.ledger.execute_batch(&SYS, k.clone(), commands[..1].to_vec()).await,
        "idempotency_conflict",
    )
    .await;
    let before = state(&h).await;
    let single = h.ledger.execute(&SYS, k, commands[0].clone()).await;
    assert_rejected(&h, &before, single, "idempotency_conflict").await;
}

//! Opening accounts, finding them, naming them, and their status: frozen, closed, the state machine.

use super::*;
use crate::conformance::people::{audit_sequence, customer};

// ---------------------------------------------------------------- accounts

/// Opening accounts: valid, unique numbers; zero balances; active.
pub async fn open_account_assigns_a_valid_unique_number_and_zero_balances(h: Harness) {
    let owner = UserId::new();
    let mut numbers = Vec::new();
    for kind in [AccountKind::Checking, AccountKind::Savings, AccountKind::Investment].repeat(5) {
        let command = OpenAccount { name: Some(" Rainy day ".into()), ..OpenAccount::new(owner, kind, Currency::Eur) };
        let account = h.ledger.open_account(&SYS, command).await.expect("opening an account");
        assert_eq!(AccountNumber::parse(&account.number.to_string()), Ok(account.number));
        assert_eq!((account.kind, account.currency, account.owner), (kind, Currency::Eur, owner));
        assert_eq!(account.status, AccountStatus::Active);
        assert_eq!(account.name.as_deref(), Some("Rainy day"));
        assert_eq!(balances(&h, account.id).await, (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO));
        assert_eq!(h.ledger.account_by_number(&SYS, account.number).await.map(|a| a.id), Ok(account.id));
        numbers.push(account.number);
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 15, "account numbers must be unique");
}

/// Bad account parameters are refused, create nothing and are audited.
pub async fn open_account_rejects_bad_input_and_audits_it(h: Harness) {
    let owner = UserId::new();
    let base = OpenAccount::new(owner, AccountKind::Checking, Currency::Usd);
    let cases = [
        (OpenAccount { kind: AccountKind::Settlement, ..base.clone() }, "invalid_account_kind"),
        (OpenAccount { name: Some("x".repeat(65)), ..base.clone() }, "invalid_account_name"),
        (OpenAccount { name: Some("tab\there".into()), ..base.clone() }, "invalid_account_name"),
        (OpenAccount { overdraft_limit: dec("-1"), ..base.clone() }, "invalid_overdraft_limit"),
        (OpenAccount { overdraft_limit: dec("0.001"), ..base.clone() }, "invalid_overdraft_limit"),
        (OpenAccount { overdraft_limit: dec("1000000000001"), ..base.clone() }, "invalid_overdraft_limit"),
    ];
    for (command, code) in cases {
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.open_account(&SYS, command).await, code).await;
    }
    assert!(h.ledger.accounts_of(&SYS, owner).await.expect("listing").is_empty());
}

/// Accounts are found by id, by number and by owner (oldest first), and
/// unknown ones are reported as not found.
pub async fn accounts_are_found_by_id_number_and_owner(h: Harness) {
    let owner = UserId::new();
    let a = open_for(&h, owner, Currency::Usd).await;
    let b = open_for(&h, owner, Currency::Eur).await;
    let c = open_for(&h, owner, Currency::Gbp).await;
    let stranger = open(&h, Currency::Usd).await;
    assert_eq!(h.ledger.account(&SYS, b.id).await, Ok(b.clone()));
    assert_eq!(h.ledger.account_by_number(&SYS, c.number).await, Ok(c.clone()));
    let mine: Vec<AccountId> = h.ledger.accounts_of(&SYS, owner).await.expect("listing").iter().map(|x| x.id).collect();
    assert_eq!(mine, vec![a.id, b.id, c.id]);
    assert!(!mine.contains(&stranger.id));
    let missing = AccountId::new();
    assert_eq!(h.ledger.account(&SYS, missing).await, Err(LedgerError::AccountNotFound { account: missing }));
    let unknown = AccountNumber::random(&mut rand::rng());
    assert_eq!(
        h.ledger.account_by_number(&SYS, unknown).await,
        Err(LedgerError::AccountNumberNotFound { number: unknown })
    );
}

// ---------------------------------------------------------------- status

/// A frozen account takes no postings in either direction until unfrozen.
pub async fn frozen_account_accepts_no_postings_until_unfrozen(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    deposit(&h, a.id, "20").await;
    deposit(&h, b.id, "20").await;
    let frozen = h.ledger.freeze(&SYS, a.id).await.expect("freeze");
    assert_eq!(frozen.status, AccountStatus::Frozen);
    let attempts: Vec<MoneyCommand> = vec![
        Deposit { account: a.id, amount: amount("1"), description: None, metadata: Default::default() }.into(),
        Withdraw { account: a.id, amount: amount("1"), description: None, metadata: Default::default() }.into(),
        transfer(a.id, b.id, "1").into(),
        transfer(b.id, a.id, "1").into(),
        hold(a.id, "1").into(),
    ];
    for command in attempts {
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.execute(&SYS, key(), command).await, "account_frozen").await;
    }
    let unfrozen = h.ledger.unfreeze(&SYS, a.id).await.expect("unfreeze");
    assert_eq!(unfrozen.status, AccountStatus::Active);
    deposit(&h, a.id, "1").await;
    assert_eq!(posted(&h, a.id).await, dec("21"));
}

/// Closed is final: no postings, no status change.
pub async fn closed_account_is_final(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    deposit(&h, b.id, "5").await;
    assert_eq!(h.ledger.close(&SYS, a.id).await.map(|x| x.status), Ok(AccountStatus::Closed));
    let before = state(&h).await;
    let result = h
        .ledger
        .deposit(
            &SYS,
            key(),
            Deposit { account: a.id, amount: amount("1"), description: None, metadata: Default::default() },
        )
        .await;
    assert_rejected(&h, &before, result, "account_closed").await;
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.transfer(&SYS, key(), transfer(b.id, a.id, "1")).await, "account_closed")
        .await;
    for change in
        [h.ledger.unfreeze(&SYS, a.id).await, h.ledger.freeze(&SYS, a.id).await, h.ledger.close(&SYS, a.id).await]
    {
        assert_eq!(change.map(|_| ()).map_err(|e| e.code()), Err("account_closed"));
    }
}

/// Closing needs a zero balance and no open holds.
pub async fn close_requires_zero_balance_and_no_open_holds(h: Harness) {
    let a = open(&h, Currency::Eur).await;
    deposit(&h, a.id, "10").await;
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.close(&SYS, a.id).await, "account_not_empty").await;
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "10")).await.expect("hold");
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.close(&SYS, a.id).await, "account_has_open_holds").await;
    h.ledger.void_hold(&SYS, key(), VoidHold { hold: held.transaction.id }).await.expect("void");
    h.ledger
        .withdraw(
            &SYS,
            key(),
            Withdraw { account: a.id, amount: amount("10"), description: None, metadata: Default::default() },
        )
        .await
        .expect("empty");
    assert_eq!(h.ledger.close(&SYS, a.id).await.map(|x| x.status), Ok(AccountStatus::Closed));
}

/// Only the state machine's edges are allowed.
pub async fn status_changes_follow_the_state_machine(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.unfreeze(&SYS, a.id).await, "invalid_status_transition").await;
    h.ledger.freeze(&SYS, a.id).await.expect("freeze");
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.freeze(&SYS, a.id).await, "invalid_status_transition").await;
    assert_eq!(h.ledger.close(&SYS, a.id).await.map(|x| x.status), Ok(AccountStatus::Closed), "frozen -> closed");
}

// ---------------------------------------------------------------- names

/// Renaming changes the display name only (trimmed; `None` clears it),
/// reads back, is told in the feed as `account.renamed` and is audited with
/// the new name.
pub async fn renaming_an_account_changes_only_its_name(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "12.50").await;
    let start = crate::conformance::invariants::all_changes(&h.ledger).await.last().map_or(0, |c| c.sequence);
    let before = h.ledger.account(&SYS, a.id).await.expect("account");
    let renamed = h.ledger.rename_account(&SYS, a.id, Some("  Holiday fund ")).await.expect("rename");
    assert_eq!(renamed.name.as_deref(), Some("Holiday fund"));
    let unchanged = |x: &Account| (x.id, x.number, x.owner, x.kind, x.currency, x.status, x.balance, x.created_at);
    assert_eq!(unchanged(&renamed), unchanged(&before));
    assert!(renamed.updated_at >= before.updated_at);
    assert_eq!(h.ledger.account(&SYS, a.id).await, Ok(renamed.clone()));

    let changes = h.ledger.events_after(start, crate::change::CHANGES_PAGE_MAX).await.expect("the feed");
    let told: Vec<_> = changes.iter().map(|c| (c.kind, c.account.as_ref().map(|x| x.name.clone()))).collect();
    assert_eq!(told, vec![(crate::change::ChangeKind::AccountRenamed, Some(Some("Holiday fund".to_owned())))]);
    let last = h.ledger.audit_log(&SYS, audit_sequence(&h).await - 1, 1).await.expect("audit");
    assert_eq!(last[0].action, "account.rename");
    assert_eq!(last[0].outcome, AuditOutcome::Accepted);
    assert_eq!(last[0].metadata.get("name"), Some("Holiday fund"));

    let cleared = h.ledger.rename_account(&SYS, a.id, None).await.expect("clear the name");
    assert_eq!(cleared.name, None);
    assert_eq!(h.ledger.account(&SYS, a.id).await.map(|x| x.name), Ok(None));
}

/// A bad name, an unknown account and a closed one are refused, change
/// nothing and are audited.
pub async fn renaming_refuses_bad_names_unknown_and_closed_accounts(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let long = "x".repeat(65);
    for name in ["", "   ", "tab\there", long.as_str()] {
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.rename_account(&SYS, a.id, Some(name)).await, "invalid_account_name")
            .await;
    }
    let before = state(&h).await;
    let missing = AccountId::new();
    assert_rejected(&h, &before, h.ledger.rename_account(&SYS, missing, Some("Mine")).await, "account_not_found").await;
    h.ledger.close(&SYS, a.id).await.expect("close");
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.rename_account(&SYS, a.id, Some("Old")).await, "account_closed").await;
}

/// Customers rename their own accounts; another customer's is not found
/// to them, and stays as it was.
pub async fn customers_rename_only_their_own_accounts(h: Harness) {
    let (me, mine) = customer(&h, "rita@example.com", "0", false).await;
    let (_, theirs) = customer(&h, "sam@example.com", "0", false).await;
    assert_eq!(h.ledger.rename_account(&me, mine.id, Some("Bills")).await.map(|a| a.name), Ok(Some("Bills".into())));
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.rename_account(&me, theirs.id, Some("Mine now")).await, "account_not_found")
        .await;
    assert_eq!(h.ledger.account(&SYS, theirs.id).await.map(|a| a.name), Ok(None));
}

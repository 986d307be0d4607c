//! Deposits, withdrawals, transfers, their validation, and idempotency.

use super::*;

// ---------------------------------------------------------------- money

/// A deposit credits the account and debits the currency's settlement account.
pub async fn deposit_credits_the_account_and_debits_settlement(h: Harness) {
    let account = open(&h, Currency::Usd).await;
    let receipt = h
        .ledger
        .deposit(
            &SYS,
            key(),
            Deposit {
                account: account.id,
                amount: amount("100.5"),
                description: Some("pay".into()),
                metadata: Default::default(),
            },
        )
        .await
        .expect("deposit");
    let t = &receipt.transaction;
    assert!(!receipt.replayed);
    assert_eq!((t.kind, t.status, t.currency), (TransactionKind::Deposit, TransactionStatus::Posted, Currency::Usd));
    assert_eq!((t.from_account, t.to_account), (None, Some(account.id)));
    assert_eq!(t.amount.to_string(), "100.50", "amounts carry the currency's minor units");
    assert_eq!(t.description.as_deref(), Some("pay"));
    assert_eq!(balances(&h, account.id).await, (dec("100.5"), Decimal::ZERO, dec("100.5")));
    // Settlement is debit-normal: the debit of a deposit raises its reported balance.
    assert_eq!(posted(&h, AccountId::settlement(Currency::Usd)).await, dec("100.5"));
    assert_eq!(h.ledger.transaction(&SYS, t.id).await, Ok(t.clone()));
}

/// A withdrawal needs the available balance; short of it nothing changes.
pub async fn withdrawal_needs_available_funds(h: Harness) {
    let account = open(&h, Currency::Gbp).await;
    deposit(&h, account.id, "50").await;
    let w = |text: &str| Withdraw {
        account: account.id,
        amount: amount(text),
        description: None,
        metadata: Default::default(),
    };
    let receipt = h.ledger.withdraw(&SYS, key(), w("20")).await.expect("withdrawal");
    assert_eq!(receipt.transaction.kind, TransactionKind::Withdrawal);
    assert_eq!((receipt.transaction.from_account, receipt.transaction.to_account), (Some(account.id), None));
    assert_eq!(posted(&h, account.id).await, dec("30"));
    assert_eq!(posted(&h, AccountId::settlement(Currency::Gbp)).await, dec("30"));
    let before = state(&h).await;
    let result = h.ledger.withdraw(&SYS, key(), w("30.01")).await;
    assert!(matches!(
        &result,
        Err(LedgerError::InsufficientFunds { available, requested, .. })
            if *available == dec("30") && *requested == dec("30.01")
    ));
    assert_rejected(&h, &before, result, "insufficient_funds").await;
    h.ledger.withdraw(&SYS, key(), w("30")).await.expect("withdrawing everything");
    assert_eq!(posted(&h, account.id).await, Decimal::ZERO);
}

/// With an overdraft limit, the floor is minus the limit.
pub async fn overdraft_limit_is_the_floor(h: Harness) {
    let command = OpenAccount {
        overdraft_limit: dec("100"),
        ..OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd)
    };
    let account = h.ledger.open_account(&SYS, command).await.expect("opening");
    let w = |text: &str| Withdraw {
        account: account.id,
        amount: amount(text),
        description: None,
        metadata: Default::default(),
    };
    h.ledger.withdraw(&SYS, key(), w("60")).await.expect("within the overdraft");
    h.ledger.withdraw(&SYS, key(), w("40")).await.expect("down to the floor");
    assert_eq!(posted(&h, account.id).await, dec("-100"));
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.withdraw(&SYS, key(), w("0.01")).await, "insufficient_funds").await;
}

/// A transfer debits one account and credits the other, nothing else.
pub async fn transfer_moves_money_between_accounts(h: Harness) {
    let (a, b) = (open(&h, Currency::Eur).await, open(&h, Currency::Eur).await);
    deposit(&h, a.id, "80").await;
    let settlement_before = posted(&h, AccountId::settlement(Currency::Eur)).await;
    let receipt = h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "30.25")).await.expect("transfer");
    let t = &receipt.transaction;
    assert_eq!((t.kind, t.status), (TransactionKind::Transfer, TransactionStatus::Posted));
    assert_eq!((t.from_account, t.to_account), (Some(a.id), Some(b.id)));
    assert_eq!(posted(&h, a.id).await, dec("49.75"));
    assert_eq!(posted(&h, b.id).await, dec("30.25"));
    assert_eq!(posted(&h, AccountId::settlement(Currency::Eur)).await, settlement_before);
    let before = state(&h).await;
    assert_rejected(
        &h,
        &before,
        h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "49.76")).await,
        "insufficient_funds",
    )
    .await;
}

/// A transfer may credit another owner's account named by its number.
pub async fn transfer_by_account_number_reaches_another_owner(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    assert_ne!(a.owner, b.owner);
    deposit(&h, a.id, "10").await;
    let receipt = h.ledger.transfer(&SYS, key(), transfer(a.id, b.number, "7")).await.expect("transfer by number");
    assert_eq!(receipt.transaction.to_account, Some(b.id));
    assert_eq!(posted(&h, b.id).await, dec("7"));
}

/// Both sides of a transfer must hold the same currency.
pub async fn transfer_rejects_currency_mismatch(h: Harness) {
    let (usd, eur) = (open(&h, Currency::Usd).await, open(&h, Currency::Eur).await);
    deposit(&h, usd.id, "10").await;
    let before = state(&h).await;
    let result = h.ledger.transfer(&SYS, key(), transfer(usd.id, eur.id, "1")).await;
    assert!(matches!(result, Err(LedgerError::CurrencyMismatch { expected: Currency::Usd, found: Currency::Eur })));
    assert_rejected(&h, &before, result, "currency_mismatch").await;
    let before = state(&h).await;
    assert_rejected(
        &h,
        &before,
        h.ledger.transfer(&SYS, key(), transfer(usd.id, eur.number, "1")).await,
        "currency_mismatch",
    )
    .await;
}

/// A transfer to the account it comes from is refused, by id or number.
pub async fn transfer_rejects_same_account(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "10").await;
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.transfer(&SYS, key(), transfer(a.id, a.id, "1")).await, "same_account").await;
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.transfer(&SYS, key(), transfer(a.id, a.number, "1")).await, "same_account")
        .await;
}

/// Unknown accounts are not found; the ledger's internal accounts are off limits.
pub async fn unknown_and_internal_accounts_are_rejected(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "10").await;
    let unknown = AccountId::new();
    let settlement = AccountId::settlement(Currency::Usd);
    let to_deposit =
        |account| Deposit { account, amount: amount("1"), description: None, metadata: Default::default() };
    let audit_before = state(&h).await.audit_sequence;
    let checks: Vec<(Result<Receipt, LedgerError>, &str)> = vec![
        (h.ledger.deposit(&SYS, key(), to_deposit(unknown)).await, "account_not_found"),
        (h.ledger.transfer(&SYS, key(), transfer(a.id, unknown, "1")).await, "account_not_found"),
        (h.ledger.transfer(&SYS, key(), transfer(unknown, a.id, "1")).await, "account_not_found"),
        (
            h.ledger.transfer(&SYS, key(), transfer(a.id, AccountNumber::random(&mut rand::rng()), "1")).await,
            "account_number_not_found",
        ),
        (h.ledger.deposit(&SYS, key(), to_deposit(settlement)).await, "internal_account"),
        (h.ledger.transfer(&SYS, key(), transfer(a.id, settlement, "1")).await, "internal_account"),
        (
            h.ledger.transfer(&SYS, key(), transfer(a.id, AccountNumber::settlement(Currency::Usd), "1")).await,
            "internal_account",
        ),
    ];
    let rejected = checks.len() as u64;
    for (result, code) in checks {
        assert_eq!(result.map(|_| ()).map_err(|e| e.code()), Err(code));
    }
    let after = state(&h).await;
    assert_eq!(after.audit_sequence, audit_before + rejected, "every rejection is audited");
    assert_eq!(posted(&h, a.id).await, dec("10"));
    for status_change in [h.ledger.freeze(&SYS, settlement).await, h.ledger.close(&SYS, settlement).await] {
        assert_eq!(status_change.map(|_| ()).map_err(|e| e.code()), Err("internal_account"));
    }
    assert_eq!(
        h.ledger.freeze(&SYS, unknown).await.map(|_| ()),
        Err(LedgerError::AccountNotFound { account: unknown })
    );
}

/// Malformed account numbers never reach the ledger: parsing refuses them.
pub async fn malformed_account_number_is_rejected(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let good = a.number.to_string();
    let mut flipped = good.clone().into_bytes();
    flipped[3] = if flipped[3] == b'9' { b'0' } else { flipped[3] + 1 };
    let flipped = String::from_utf8(flipped).expect("digits");
    for bad in ["", "12", "abcdefghijkl", good.as_str().get(..11).unwrap_or(""), flipped.as_str()] {
        let error = LedgerError::from(AccountNumber::parse(bad).expect_err("malformed numbers are refused"));
        assert_eq!(error.code(), "invalid_account_number", "{bad:?}");
    }
    assert_eq!(AccountNumber::parse(&good), Ok(a.number));
}

/// Zero, negative, over-precise and huge amounts are refused with a typed
/// error; precision finer than the currency is refused by the ledger,
/// audited, and changes nothing.
pub async fn invalid_amounts_are_rejected_and_audited(h: Harness) {
    assert_eq!(Amount::parse("0"), Err(MoneyError::NotPositive));
    assert_eq!(Amount::parse("-5"), Err(MoneyError::Malformed));
    assert_eq!(Amount::parse("1.00001"), Err(MoneyError::TooPrecise { places: 5, allowed: 4 }));
    assert_eq!(Amount::parse("1000000000000.01"), Err(MoneyError::TooLarge));
    assert_eq!(LedgerError::from(MoneyError::NotPositive).code(), "invalid_amount");
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "5").await;
    let before = state(&h).await;
    let result = h
        .ledger
        .deposit(
            &SYS,
            key(),
            Deposit { account: a.id, amount: amount("1.005"), description: None, metadata: Default::default() },
        )
        .await;
    assert_eq!(
        result.as_ref().map(|_| ()),
        Err(&LedgerError::InvalidAmount(MoneyError::TooPrecise { places: 3, allowed: 2 }))
    );
    assert_rejected(&h, &before, result, "invalid_amount").await;
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "2")).await.expect("hold");
    let before = state(&h).await;
    let capture = CaptureHold { hold: held.transaction.id, amount: Some(amount("1.001")) };
    assert_rejected(&h, &before, h.ledger.capture_hold(&SYS, key(), capture).await, "invalid_amount").await;
}

/// Descriptions are trimmed, bounded and free of control characters.
pub async fn descriptions_are_validated(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let d = |text: &str| Deposit {
        account: a.id,
        amount: amount("1"),
        description: Some(text.into()),
        metadata: Default::default(),
    };
    for bad in ["line\nbreak".to_owned(), "x".repeat(257)] {
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.deposit(&SYS, key(), d(&bad)).await, "invalid_description").await;
    }
    let ok = h.ledger.deposit(&SYS, key(), d("  <b>'; DROP TABLE accounts;-- ünïcödé  ")).await.expect("deposit");
    assert_eq!(ok.transaction.description.as_deref(), Some("<b>'; DROP TABLE accounts;-- ünïcödé"));
    let stored = h.ledger.transaction(&SYS, ok.transaction.id).await.expect("stored");
    assert_eq!(stored.description, ok.transaction.description, "text is stored literally");
}

// ---------------------------------------------------------------- idempotency

/// A replay returns the original transaction and applies nothing.
pub async fn idempotent_replay_returns_the_original_result(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let k = key();
    let d =
        Deposit { account: a.id, amount: amount("10"), description: Some("once".into()), metadata: Default::default() };
    let first = h.ledger.deposit(&SYS, k.clone(), d.clone()).await.expect("deposit");
    let audit_before = state(&h).await.audit_sequence;
    let again = h.ledger.deposit(&SYS, k.clone(), d.clone()).await.expect("replay");
    assert!(again.replayed && !first.replayed);
    assert_eq!(again.transaction, first.transaction);
    assert_eq!(posted(&h, a.id).await, dec("10"));
    assert_eq!(state(&h).await.audit_sequence, audit_before, "a replay writes nothing");
    // Even when the command would now be refused, the replay answers as before.
    h.ledger.freeze(&SYS, a.id).await.expect("freeze");
    assert_eq!(h.ledger.deposit(&SYS, k, d).await.map(|r| r.transaction.id), Ok(first.transaction.id));
    assert_eq!(posted(&h, a.id).await, dec("10"));
}

/// The same key with a different payload is a conflict.
pub async fn idempotency_key_with_another_payload_conflicts(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let k = key();
    h.ledger
        .deposit(
            &SYS,
            k.clone(),
            Deposit { account: a.id, amount: amount("10"), description: None, metadata: Default::default() },
        )
        .await
        .expect("first");
    let variants: Vec<MoneyCommand> = vec![
        Deposit { account: a.id, amount: amount("11"), description: None, metadata: Default::default() }.into(),
        Deposit { account: b.id, amount: amount("10"), description: None, metadata: Default::default() }.into(),
        Deposit {
            account: a.id,
            amount: amount("10"),
            description: Some("other".into()),
            metadata: Default::default(),
        }
        .into(),
        Withdraw { account: a.id, amount: amount("10"), description: None, metadata: Default::default() }.into(),
    ];
    for command in variants {
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.execute(&SYS, k.clone(), command).await, "idempotency_conflict").await;
    }
    // The same value written differently is the same payload.
    let same = Deposit { account: a.id, amount: amount("10.00"), description: None, metadata: Default::default() };
    assert!(h.ledger.deposit(&SYS, k, same).await.map(|r| r.replayed).unwrap_or(false));
}

/// A rejected command stores no key: after fixing the cause, the same key works.
pub async fn rejected_command_can_be_retried_with_its_key(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let k = key();
    let w = Withdraw { account: a.id, amount: amount("10"), description: None, metadata: Default::default() };
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.withdraw(&SYS, k.clone(), w.clone()).await, "insufficient_funds").await;
    deposit(&h, a.id, "10").await;
    let retried = h.ledger.withdraw(&SYS, k, w).await.expect("retry after the deposit");
    assert!(!retried.replayed);
    assert_eq!(posted(&h, a.id).await, Decimal::ZERO);
}

//! The general ledger: ledger accounts, multi-posting entries, metadata.

use super::*;
use crate::account::NormalBalance;
use crate::account_code::AccountCode;
use crate::command::{ENTRY_POSTINGS_MAX, Entry, EntryPosting, OpenLedgerAccount};
use crate::metadata::Metadata;

// ---------------------------------------------------------------- helpers

fn code(text: &str) -> AccountCode {
    AccountCode::parse(text).expect("test codes are valid")
}

fn at(text: &str) -> AccountRef {
    AccountRef::Code(code(text))
}

fn metadata(pairs: &[(&str, &str)]) -> Metadata {
    Metadata::new(pairs.iter().copied()).expect("test metadata is valid")
}

/// Opens a ledger account with the default floor.
async fn ledger_account(h: &Harness, text: &str, currency: Currency, normal: NormalBalance) -> Account {
    h.ledger
        .open_ledger_account(&SYS, OpenLedgerAccount::new(code(text), currency, normal))
        .await
        .expect("opening a ledger account")
}

/// Opens a ledger account with an explicit floor (`None`: unbounded).
async fn floored(h: &Harness, text: &str, normal: NormalBalance, floor: Option<&str>) -> Account {
    let command =
        OpenLedgerAccount { floor: Some(floor.map(dec)), ..OpenLedgerAccount::new(code(text), Currency::Usd, normal) };
    h.ledger.open_ledger_account(&SYS, command).await.expect("opening a ledger account")
}

fn leg(
    source: impl Into<AccountRef>,
    destination: impl Into<AccountRef>,
    text: &str,
    currency: Currency,
) -> EntryPosting {
    EntryPosting { source: source.into(), destination: destination.into(), amount: amount(text), currency }
}

fn usd(source: impl Into<AccountRef>, destination: impl Into<AccountRef>, text: &str) -> EntryPosting {
    leg(source, destination, text, Currency::Usd)
}

fn entry(postings: Vec<EntryPosting>) -> Entry {
    Entry { postings, description: None, metadata: Metadata::empty() }
}

// ---------------------------------------------------------------- ledger accounts

/// Ledger accounts open under a unique code, are found by it, and list in
/// code order with the settlement accounts among them.
pub async fn ledger_accounts_open_under_a_unique_code_and_are_found_by_it(h: Harness) {
    let fees = ledger_account(&h, "revenue:fees:usd", Currency::Usd, NormalBalance::Credit).await;
    assert_eq!((fees.kind, fees.status, fees.owner), (AccountKind::Ledger, AccountStatus::Active, UserId::SYSTEM));
    assert_eq!((fees.code.as_ref(), fees.normal_balance), (Some(&code("revenue:fees:usd")), NormalBalance::Credit));
    assert_eq!(fees.floor(), Some(Decimal::ZERO), "credit-normal accounts floor at zero by default");
    let cash = ledger_account(&h, "assets:cash", Currency::Usd, NormalBalance::Debit).await;
    assert_eq!(cash.floor(), None, "debit-normal accounts are unbounded by default");
    let named = OpenLedgerAccount {
        name: Some("Escrow".into()),
        floor: Some(Some(dec("-25.5"))),
        metadata: metadata(&[("team", "payments")]),
        ..OpenLedgerAccount::new(code("escrow"), Currency::Eur, NormalBalance::Credit)
    };
    let escrow = h.ledger.open_ledger_account(&SYS, named).await.expect("opening");
    assert_eq!((escrow.name.as_deref(), escrow.floor()), (Some("Escrow"), Some(dec("-25.5"))));
    assert_eq!(escrow.metadata.get("team"), Some("payments"));

    assert_eq!(h.ledger.ledger_account(&SYS, &code("assets:cash")).await, Ok(cash.clone()));
    assert_eq!(h.ledger.account(&SYS, fees.id).await, Ok(fees.clone()));
    let settlement = h.ledger.ledger_account(&SYS, &AccountCode::settlement(Currency::Gbp)).await.expect("settlement");
    assert_eq!(
        (settlement.id, settlement.normal_balance),
        (AccountId::settlement(Currency::Gbp), NormalBalance::Debit)
    );
    let missing = h.ledger.ledger_account(&SYS, &code("nothing:here")).await;
    assert_eq!(missing, Err(LedgerError::AccountCodeNotFound));

    let all = h.ledger.ledger_accounts(&SYS, None, PAGE_SIZE_MAX).await.expect("listing");
    let codes: Vec<&str> = all.iter().filter_map(|a| a.code.as_ref()).map(AccountCode::as_str).collect();
    assert_eq!(
        codes,
        ["assets:cash", "escrow", "revenue:fees:usd", "settlement:eur", "settlement:gbp", "settlement:usd"]
    );
    let after = h.ledger.ledger_accounts(&SYS, Some(&code("escrow")), 2).await.expect("a page");
    assert_eq!(after.iter().map(|a| a.id).collect::<Vec<_>>(), [fees.id, AccountId::settlement(Currency::Eur)]);

    let before = state(&h).await;
    let again = h
        .ledger
        .open_ledger_account(&SYS, OpenLedgerAccount::new(code("escrow"), Currency::Usd, NormalBalance::Debit))
        .await;
    assert_rejected(&h, &before, again, "account_code_taken").await;
    let before = state(&h).await;
    let settlement_code =
        OpenLedgerAccount::new(AccountCode::settlement(Currency::Usd), Currency::Usd, NormalBalance::Debit);
    assert_rejected(&h, &before, h.ledger.open_ledger_account(&SYS, settlement_code).await, "account_code_taken").await;
}

/// Bad ledger accounts are refused, audited, and change nothing; only the
/// program and admins open or read them.
pub async fn ledger_accounts_reject_bad_input_and_audit_it(h: Harness) {
    let command = |floor: &str| OpenLedgerAccount {
        floor: Some(Some(dec(floor))),
        ..OpenLedgerAccount::new(code("x"), Currency::Usd, NormalBalance::Credit)
    };
    for (bad, expected) in [(command("-0.001"), "invalid_floor"), (command("-1000000000000.01"), "invalid_floor")] {
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.open_ledger_account(&SYS, bad).await, expected).await;
    }
    let long_name = OpenLedgerAccount { name: Some("n".repeat(200)), ..command("0") };
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.open_ledger_account(&SYS, long_name).await, "invalid_account_name").await;
    let customer = Actor::customer(UserId::new());
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.open_ledger_account(&customer, command("0")).await, "forbidden").await;
    assert_eq!(
        h.ledger.ledger_account(&customer, &AccountCode::settlement(Currency::Usd)).await,
        Err(LedgerError::Forbidden)
    );
    assert_eq!(h.ledger.ledger_accounts(&customer, None, 10).await, Err(LedgerError::Forbidden));
    assert!(matches!(h.ledger.ledger_accounts(&SYS, None, 0).await, Err(LedgerError::InvalidPageSize { .. })));
}

/// Ledger accounts freeze, unfreeze and close as customer accounts do.
pub async fn ledger_accounts_follow_the_status_machine(h: Harness) {
    let before = state(&h).await;
    let settlement = h.ledger.freeze(&SYS, AccountId::settlement(Currency::Usd)).await;
    assert_rejected(&h, &before, settlement, "internal_account").await;
    let escrow = ledger_account(&h, "escrow", Currency::Usd, NormalBalance::Credit).await;
    let cash = ledger_account(&h, "cash", Currency::Usd, NormalBalance::Debit).await;
    h.ledger.post_entry(&SYS, key(), entry(vec![usd(cash.id, escrow.id, "10")])).await.expect("funding");
    h.ledger.freeze(&SYS, escrow.id).await.expect("freeze");
    let before = state(&h).await;
    let frozen = h.ledger.post_entry(&SYS, key(), entry(vec![usd(escrow.id, cash.id, "1")])).await;
    assert_rejected(&h, &before, frozen, "account_frozen").await;
    h.ledger.unfreeze(&SYS, escrow.id).await.expect("unfreeze");
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.close(&SYS, escrow.id).await, "account_not_empty").await;
    h.ledger.post_entry(&SYS, key(), entry(vec![usd(escrow.id, cash.id, "10")])).await.expect("emptying");
    assert_eq!(h.ledger.close(&SYS, escrow.id).await.map(|a| a.status), Ok(AccountStatus::Closed));
    let before = state(&h).await;
    let closed = h.ledger.post_entry(&SYS, key(), entry(vec![usd(cash.id, escrow.id, "1")])).await;
    assert_rejected(&h, &before, closed, "account_closed").await;
}

// ---------------------------------------------------------------- entries

/// An entry applies every posting, names accounts by id, number or code,
/// and is one transaction of kind `entry` in every touched account's history.
pub async fn an_entry_splits_a_payment_across_accounts_all_at_once(h: Harness) {
    let buyer = open(&h, Currency::Usd).await;
    let seller = open(&h, Currency::Usd).await;
    deposit(&h, buyer.id, "100").await;
    let fees = ledger_account(&h, "revenue:fees", Currency::Usd, NormalBalance::Credit).await;
    let tax = ledger_account(&h, "liabilities:tax", Currency::Usd, NormalBalance::Credit).await;
    let command = Entry {
        postings: vec![
            usd(buyer.id, seller.number, "80"),
            usd(buyer.id, at("revenue:fees"), "12.5"),
            usd(buyer.id, at("liabilities:tax"), "7.5"),
        ],
        description: Some("order 17".into()),
        metadata: metadata(&[("order_id", "17")]),
    };
    let receipt = h.ledger.post_entry(&SYS, key(), command).await.expect("entry");
    let t = &receipt.transaction;
    assert_eq!(
        (t.kind, t.status, t.currency, t.amount),
        (TransactionKind::Entry, TransactionStatus::Posted, Currency::Usd, dec("100"))
    );
    assert_eq!(t.legs.len(), 3);
    assert_eq!((t.legs[1].source, t.legs[1].destination, t.legs[1].amount), (buyer.id, fees.id, dec("12.5")));
    assert_eq!(t.metadata.get("order_id"), Some("17"));
    assert_eq!(posted(&h, buyer.id).await, Decimal::ZERO);
    assert_eq!(posted(&h, seller.id).await, dec("80"));
    assert_eq!(posted(&h, fees.id).await, dec("12.5"));
    assert_eq!(posted(&h, tax.id).await, dec("7.5"));
    for account in [buyer.id, seller.id, fees.id, tax.id] {
        let history = all_transactions(&h.ledger, &HistoryFilter::account(account)).await;
        assert!(history.iter().any(|x| x.id == t.id), "the entry is missing from {account}'s history");
    }
    assert_eq!(h.ledger.transaction(&SYS, t.id).await, Ok(t.clone()));
    let postings = all_postings(&h.ledger, buyer.id).await;
    assert_eq!(postings.iter().filter(|p| p.transaction_id == t.id).count(), 3, "one line per posting it is in");
}

/// Currencies may mix (an FX trade), and an account may pass through zero
/// as long as it ends at or above its floor.
pub async fn an_entry_may_mix_currencies_and_pass_through_zero(h: Harness) {
    let usd_account = open(&h, Currency::Usd).await;
    let eur_account = open(&h, Currency::Eur).await;
    deposit(&h, usd_account.id, "100").await;
    let fx_usd = ledger_account(&h, "fx:usd", Currency::Usd, NormalBalance::Debit).await;
    let fx_eur = ledger_account(&h, "fx:eur", Currency::Eur, NormalBalance::Debit).await;
    let hop = ledger_account(&h, "transit", Currency::Usd, NormalBalance::Credit).await;
    let trade = entry(vec![
        // transit starts at zero, goes negative, and ends at zero.
        usd(at("transit"), at("fx:usd"), "100"),
        usd(usd_account.id, at("transit"), "100"),
        leg(at("fx:eur"), eur_account.id, "91.25", Currency::Eur),
    ]);
    let t = h.ledger.post_entry(&SYS, key(), trade).await.expect("fx entry").transaction;
    assert_eq!((t.currency, t.amount), (Currency::Usd, dec("200")), "the amount sums the first currency's postings");
    assert_eq!(posted(&h, usd_account.id).await, Decimal::ZERO);
    assert_eq!(posted(&h, eur_account.id).await, dec("91.25"));
    assert_eq!(posted(&h, hop.id).await, Decimal::ZERO);
    // Debit-normal, unbounded: the credit lowers fx:usd, the debit raises fx:eur.
    assert_eq!(posted(&h, fx_usd.id).await, dec("-100"));
    assert_eq!(posted(&h, fx_eur.id).await, dec("91.25"));
}

/// A floor breach names the first posting that lowers the account that
/// ends below its floor, and nothing applies.
pub async fn an_entry_breaching_a_floor_names_the_posting_and_changes_nothing(h: Harness) {
    let customer = open(&h, Currency::Usd).await;
    deposit(&h, customer.id, "10").await;
    for name in ["a", "b", "c"] {
        ledger_account(&h, name, Currency::Usd, NormalBalance::Credit).await;
    }
    let breach = entry(vec![
        usd(customer.id, at("a"), "5"),
        usd(at("a"), at("b"), "5"),
        usd(at("b"), at("c"), "6"),
        usd(at("c"), at("a"), "1"),
        usd(at("a"), customer.id, "1"),
    ]);
    let before = state(&h).await;
    let result = h.ledger.post_entry(&SYS, key(), breach).await;
    assert!(
        // b had 0 and the entry as a whole takes 1 from it.
        matches!(&result, Err(LedgerError::InsufficientFunds { posting: Some(2), available, requested, .. })
            if *available == dec("0") && *requested == dec("1")),
        "{result:?}"
    );
    assert_rejected(&h, &before, result, "insufficient_funds").await;
    // A customer's overdraft floor holds too, and names its posting.
    let overdraw = entry(vec![usd(at("a"), at("b"), "0.01"), usd(customer.id, at("a"), "10.01")]);
    let before = state(&h).await;
    let result = h.ledger.post_entry(&SYS, key(), overdraw).await;
    assert!(matches!(&result, Err(LedgerError::InsufficientFunds { posting: Some(1), .. })), "{result:?}");
    assert_rejected(&h, &before, result, "insufficient_funds").await;
}

/// Floors are on the normal side: a credit lowers a debit-normal account,
/// and a negative floor lets a credit-normal account go that far below zero.
pub async fn floors_apply_on_each_accounts_normal_side(h: Harness) {
    let assets = floored(&h, "assets", NormalBalance::Debit, Some("0")).await;
    let float = floored(&h, "float", NormalBalance::Credit, Some("-50")).await;
    let open_ended = floored(&h, "suspense", NormalBalance::Credit, None).await;
    let before = state(&h).await;
    let lowers_assets = h.ledger.post_entry(&SYS, key(), entry(vec![usd(open_ended.id, assets.id, "1")])).await;
    assert_rejected(&h, &before, lowers_assets, "insufficient_funds").await;
    h.ledger.post_entry(&SYS, key(), entry(vec![usd(assets.id, float.id, "1")])).await.expect("debit raises assets");
    assert_eq!(posted(&h, assets.id).await, dec("1"));
    h.ledger.post_entry(&SYS, key(), entry(vec![usd(float.id, open_ended.id, "51")])).await.expect("to -50");
    assert_eq!(posted(&h, float.id).await, dec("-50"));
    let before = state(&h).await;
    let below = h.ledger.post_entry(&SYS, key(), entry(vec![usd(float.id, open_ended.id, "0.01")])).await;
    assert_rejected(&h, &before, below, "insufficient_funds").await;
    h.ledger.post_entry(&SYS, key(), entry(vec![usd(open_ended.id, float.id, "100")])).await.expect("unbounded");
    assert_eq!(posted(&h, open_ended.id).await, dec("-49"), "an unbounded account goes below zero");
}

/// Every malformed entry is refused with its typed error, changes nothing
/// and is audited; customers may not post entries at all.
pub async fn entries_reject_bad_input_and_audit_it(h: Harness) {
    let customer = open(&h, Currency::Usd).await;
    deposit(&h, customer.id, "10").await;
    let eur = ledger_account(&h, "eur:float", Currency::Eur, NormalBalance::Credit).await;
    ledger_account(&h, "a", Currency::Usd, NormalBalance::Credit).await;
    let too_many: Vec<EntryPosting> = (0..=ENTRY_POSTINGS_MAX).map(|_| usd(customer.id, at("a"), "0.01")).collect();
    let cases: Vec<(Entry, &str)> = vec![
        (entry(vec![usd(customer.id, at("nothing"), "1")]), "account_code_not_found"),
        (entry(vec![usd(customer.id, AccountId::new(), "1")]), "account_not_found"),
        (entry(vec![usd(customer.id, eur.id, "1")]), "currency_mismatch"),
        (entry(vec![leg(customer.id, at("a"), "1", Currency::Gbp)]), "currency_mismatch"),
        (entry(too_many), "invalid_entry"),
        (entry(Vec::new()), "invalid_entry"),
        (entry(vec![usd(at("a"), at("a"), "1")]), "invalid_entry"),
        (entry(vec![usd(customer.id, at("a"), "0.001")]), "invalid_amount"),
        (
            Entry { description: Some("d".repeat(300)), ..entry(vec![usd(customer.id, at("a"), "1")]) },
            "invalid_description",
        ),
    ];
    for (command, expected) in cases {
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.post_entry(&SYS, key(), command).await, expected).await;
    }
    let mine = entry(vec![usd(customer.id, at("a"), "1")]);
    let before = state(&h).await;
    let result = h.ledger.post_entry(&Actor::customer(customer.owner), key(), mine).await;
    assert_rejected(&h, &before, result, "forbidden").await;
}

/// Entries are idempotent: a replay returns the original, other postings
/// (or other metadata) under the key conflict.
pub async fn entries_are_idempotent_with_metadata_in_the_fingerprint(h: Harness) {
    let customer = open(&h, Currency::Usd).await;
    deposit(&h, customer.id, "10").await;
    ledger_account(&h, "a", Currency::Usd, NormalBalance::Credit).await;
    let k = key();
    let command = Entry { metadata: metadata(&[("order_id", "1")]), ..entry(vec![usd(customer.id, at("a"), "1")]) };
    let first = h.ledger.post_entry(&SYS, k.clone(), command.clone()).await.expect("entry");
    let replay = h.ledger.post_entry(&SYS, k.clone(), command.clone()).await.expect("replay");
    assert!(replay.replayed);
    assert_eq!(replay.transaction, first.transaction);
    let before = state(&h).await;
    let other = Entry { metadata: metadata(&[("order_id", "2")]), ..command };
    let result = h.ledger.post_entry(&SYS, k, other).await;
    assert_eq!(result.map(|r| r.transaction.id), Err(LedgerError::IdempotencyConflict));
    assert_eq!(state(&h).await.transactions, before.transactions);
    assert_eq!(posted(&h, customer.id).await, dec("9"));
}

// ---------------------------------------------------------------- metadata

/// Metadata is stored on every kind of transaction and on accounts, and
/// history finds transactions by up to four pairs, with every other filter
/// and the cursor.
pub async fn history_filters_by_metadata_pairs(h: Harness) {
    let tagged = OpenAccount {
        metadata: metadata(&[("purpose", "rent")]),
        ..OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd)
    };
    let a = h.ledger.open_account(&SYS, tagged).await.expect("opening");
    assert_eq!(
        h.ledger.account(&SYS, a.id).await.map(|x| x.metadata.get("purpose").map(str::to_owned)),
        Ok(Some("rent".into()))
    );
    let b = open(&h, Currency::Usd).await;
    let order = |id: &str| metadata(&[("order_id", id), ("channel", "web")]);
    let d = Deposit { account: a.id, amount: amount("100"), description: None, metadata: order("1") };
    let first = h.ledger.deposit(&SYS, key(), d).await.expect("deposit").transaction;
    let t = Transfer { metadata: order("1"), ..transfer(a.id, b.id, "10") };
    let second = h.ledger.transfer(&SYS, key(), t).await.expect("transfer").transaction;
    let w = Withdraw { account: a.id, amount: amount("1"), description: None, metadata: order("2") };
    h.ledger.withdraw(&SYS, key(), w).await.expect("withdrawal");
    let p = PlaceHold { metadata: order("1"), ..hold(b.id, "1") };
    let third = h.ledger.place_hold(&SYS, key(), p).await.expect("hold").transaction;
    let e = Entry { metadata: metadata(&[("order_id", "1")]), ..entry(vec![usd(b.id, a.id, "2")]) };
    let fourth = h.ledger.post_entry(&SYS, key(), e).await.expect("entry").transaction;
    deposit(&h, a.id, "1").await;

    let by = |pairs: &[(&str, &str)]| HistoryFilter {
        metadata: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ..HistoryFilter::default()
    };
    let ids = |ts: Vec<Transaction>| ts.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids(all_transactions(&h.ledger, &by(&[("order_id", "1")])).await),
        [fourth.id, third.id, second.id, first.id]
    );
    assert_eq!(
        ids(all_transactions(&h.ledger, &by(&[("order_id", "1"), ("channel", "web")])).await),
        [third.id, second.id, first.id]
    );
    assert_eq!(all_transactions(&h.ledger, &by(&[("order_id", "1"), ("channel", "app")])).await, []);
    assert_eq!(all_transactions(&h.ledger, &by(&[("order_id", "3")])).await, []);
    let narrowed =
        HistoryFilter { accounts: vec![b.id], kind: Some(TransactionKind::Transfer), ..by(&[("order_id", "1")]) };
    assert_eq!(ids(all_transactions(&h.ledger, &narrowed).await), [second.id]);
    // Every filter agrees with the reference semantics, page by page.
    let everything = all_transactions(&h.ledger, &HistoryFilter::default()).await;
    let filter = by(&[("order_id", "1")]);
    let mut page = PageRequest::first(1);
    let mut seen = Vec::new();
    loop {
        let result = h.ledger.history(&SYS, &filter, page).await.expect("a page");
        seen.extend(result.items);
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    let reference: Vec<Transaction> = everything.into_iter().filter(|t| filter.matches(t)).collect();
    assert_eq!(seen, reference);
    // At most four pairs, each a valid key and value.
    let five = by(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")]);
    assert!(matches!(h.ledger.history(&SYS, &five, PageRequest::first(10)).await, Err(LedgerError::InvalidFilter(_))));
    let bad_key = by(&[("Bad Key", "1")]);
    assert!(matches!(
        h.ledger.history(&SYS, &bad_key, PageRequest::first(10)).await,
        Err(LedgerError::InvalidFilter(_))
    ));
}

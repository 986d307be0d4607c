//! Dumps on the store: a populated ledger exported, imported into a fresh
//! store of the same backend and exported again gives the same records, the
//! same audit chain, and a ledger that verifies and keeps committing; a
//! dump that is out of order or meets a store that is not empty imports
//! nothing.

use std::sync::Arc;

use super::Harness;
use super::people::{admin, amount, complete_profile, customer, key, login, register};
use crate::account::NormalBalance;
use crate::account_code::AccountCode;
use crate::command::{
    AccountRef, CaptureHold, Deposit, Entry, EntryPosting, OpenLedgerAccount, PlaceHold, Reverse, Transfer, VoidHold,
    Withdraw,
};
use crate::dump::{DumpError, DumpRecord, Export, Import, Section, ensure_empty};
use crate::identity::{Actor, KycTransition};
use crate::metadata::Metadata;
use crate::money::Currency;
use crate::store::Store;

const SYS: Actor = Actor::System;

fn metadata(pairs: &[(&str, &str)]) -> Metadata {
    Metadata::new(pairs.iter().copied()).expect("test metadata is valid")
}

/// A ledger with a bit of everything: an admin, customers verified and
/// not, sessions, a reset token, customer and ledger accounts, deposits, a
/// transfer, an entry of several postings, holds pending, captured and
/// voided, a reversal, rejections, metadata, a sink cursor.
pub async fn populate(h: &Harness) {
    let admin = admin(h).await;
    let (alice, alice_account) = customer(h, "alice@example.com", "500", true).await;
    let (_, bob_account) = customer(h, "bob@example.com", "50", false).await;
    let carol = register(h, "carol@example.com").await;
    complete_profile(h, &Actor::customer(carol.id), carol.id).await;
    h.ledger.submit_kyc(&Actor::customer(carol.id), carol.id).await.expect("submit");
    let rejection = KycTransition::Reject { reason: "blurry photo".into() };
    h.ledger.review_kyc(&admin, carol.id, rejection).await.expect("reject");
    login(h, "alice@example.com").await;
    login(h, "bob@example.com").await;
    h.ledger.request_password_reset("carol@example.com").await.expect("reset request");
    let fees = OpenLedgerAccount {
        metadata: metadata(&[("team", "payments")]),
        ..OpenLedgerAccount::new(
            AccountCode::parse("revenue:fees").expect("code"),
            Currency::Usd,
            NormalBalance::Credit,
        )
    };
    h.ledger.open_ledger_account(&SYS, fees).await.expect("ledger account");

    let to_bob = Transfer {
        from: alice_account.id,
        to: bob_account.number.into(),
        amount: amount("25.50"),
        description: Some("rent".into()),
        metadata: metadata(&[("invoice", "I-1")]),
    };
    let sent = h.ledger.transfer(&alice, key(), to_bob).await.expect("transfer");
    let posting = |to: AccountRef, text: &str| EntryPosting {
        source: alice_account.id.into(),
        destination: to,
        amount: amount(text),
        currency: Currency::Usd,
    };
    let code = AccountRef::Code(AccountCode::parse("revenue:fees").expect("code"));
    let entry = Entry {
        postings: vec![posting(bob_account.id.into(), "10"), posting(code, "2.5")],
        description: Some("checkout".into()),
        metadata: metadata(&[("order_id", "A-1")]),
    };
    h.ledger.post_entry(&SYS, key(), entry).await.expect("entry");
    let hold = |text: &str| PlaceHold {
        account: alice_account.id,
        amount: amount(text),
        destination: None,
        expires_at: None,
        description: None,
        metadata: Metadata::empty(),
    };
    h.ledger.place_hold(&alice, key(), hold("20")).await.expect("pending hold");
    let captured = h.ledger.place_hold(&alice, key(), hold("30")).await.expect("hold").transaction;
    let capture = CaptureHold { hold: captured.id, amount: Some(amount("10")) };
    h.ledger.capture_hold(&SYS, key(), capture).await.expect("capture");
    let voided = h.ledger.place_hold(&alice, key(), hold("5")).await.expect("hold").transaction;
    h.ledger.void_hold(&SYS, key(), VoidHold { hold: voided.id }).await.expect("void");
    let reversal =
        Reverse { transaction: sent.transaction.id, amount: None, description: None, metadata: Metadata::empty() };
    h.ledger.reverse(&SYS, key(), reversal).await.expect("reversal");
    let too_much = Withdraw {
        account: alice_account.id,
        amount: amount("100000"),
        description: None,
        metadata: Metadata::empty(),
    };
    assert!(h.ledger.withdraw(&alice, key(), too_much).await.is_err(), "a rejection, audited");
    h.store.advance_sink_cursor("webhook", 3).await.expect("sink cursor");
}

/// Every record of a store, in dump order, through small pages.
pub async fn export_all(store: Arc<dyn Store>) -> Vec<DumpRecord> {
    let mut export = Export::with_page(store, 3);
    let mut records = Vec::new();
    while let Some(page) = export.next_page().await.expect("export") {
        records.extend(page);
    }
    records
}

/// Imports records into a store, in small chunks.
pub async fn import_all(store: Arc<dyn Store>, records: &[DumpRecord]) -> Result<(), DumpError> {
    ensure_empty(store.as_ref()).await?;
    let mut import = Import::with_chunk(store, 4);
    for record in records {
        import.push(record.clone()).await?;
    }
    import.finish().await.map(drop)
}

/// Records as exact text: `Debug` keeps a decimal's scale and an
/// instant's every digit, which `PartialEq` would not tell apart.
fn texts(records: &[DumpRecord]) -> Vec<String> {
    records.iter().map(|record| format!("{record:?}")).collect()
}

/// A dump imported into a fresh store of the backend and exported again
/// gives the same records; the copy verifies, has the same audit head, and
/// its next commit continues the chain.
pub async fn a_dump_imports_into_a_fresh_store_as_the_same_records(h: Harness, fresh: Arc<dyn Store>) {
    populate(&h).await;
    let first = export_all(h.store.clone()).await;
    for section in Section::ALL {
        assert!(first.iter().any(|r| r.section() == section), "the dump holds {section}");
    }
    import_all(fresh.clone(), &first).await.expect("import");
    let again = export_all(fresh.clone()).await;
    assert_eq!(texts(&again), texts(&first), "the copy dumps the same records");

    let original = h.ledger.verify_integrity(&SYS).await.expect("verify the original");
    let copy = Harness::new(fresh.clone()).await;
    let report = copy.ledger.verify_integrity(&SYS).await.expect("verify the copy");
    assert!(report.is_ok(), "the copy verifies: {:?}", report.problems);
    assert_eq!(report.audit_head, original.audit_head, "the same chain");
    assert_eq!(export_all(fresh.clone()).await.len(), first.len(), "opening a ledger on the copy wrote nothing");

    let bob = login(&copy, "bob@example.com").await;
    let account = copy.store.accounts_by_owner(bob.user.id).await.expect("accounts")[0].id;
    let deposit = Deposit { account, amount: amount("1"), description: None, metadata: Metadata::empty() };
    copy.ledger.deposit(&SYS, key(), deposit).await.expect("a deposit on the copy");
    let after = copy.ledger.verify_integrity(&SYS).await.expect("verify after a commit");
    assert!(after.is_ok(), "the copy still verifies: {:?}", after.problems);
    let head = |r: &crate::IntegrityReport| r.audit_head.map(|h| h.sequence).unwrap_or_default();
    assert_eq!(head(&after), head(&original) + 2, "the login and the deposit continue the chain");
}

/// A store that holds anything is refused, and so is a dump out of order;
/// either way nothing is imported.
pub async fn an_import_refuses_a_store_that_is_not_empty_or_records_out_of_order(h: Harness, fresh: Arc<dyn Store>) {
    populate(&h).await;
    let records = export_all(h.store.clone()).await;
    let refused = import_all(h.store.clone(), &records).await;
    assert!(matches!(refused, Err(DumpError::NotEmpty { .. })), "{refused:?}");

    let mut swapped = records.clone();
    let (users, accounts) = (
        swapped.iter().position(|r| r.section() == Section::Users).expect("a user"),
        swapped.iter().position(|r| r.section() == Section::Accounts).expect("an account"),
    );
    swapped.swap(users, accounts);
    let out_of_order = import_all(fresh.clone(), &swapped).await;
    assert!(matches!(out_of_order, Err(DumpError::SectionOutOfOrder { .. })), "{out_of_order:?}");
    ensure_empty(fresh.as_ref()).await.expect("nothing was imported");
    let mut repeated = records.clone();
    repeated.insert(1, records[0].clone());
    let mut order = crate::dump::DumpOrder::new();
    let checked: Result<Vec<()>, DumpError> = repeated.iter().map(|r| order.check(r)).collect();
    assert!(matches!(checked, Err(DumpError::RecordOutOfOrder { section: Section::Users })), "{checked:?}");
}

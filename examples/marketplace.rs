//! Embed the ledger in a marketplace, on SQLite: the money of a checkout
//! moves buyer -> escrow -> seller, fee and tax in one atomic entry, a seller
//! converts dollars to euros in another, and the ledger accounts add up.
//!
//! Shows ledger accounts named by code (`@escrow:orders`), multi-posting
//! entries with metadata, idempotent retries, a refusal that changes nothing,
//! finding a transaction by order id, and balances on each account's normal
//! side. The database is a file in a temporary directory.
//!
//! Run: `cargo run --example marketplace`

use std::error::Error;

use ledger::money::{format_minor, parse_balance};
use ledger::{
    AccountCode, AccountId, AccountKind, AccountRef, Actor, Amount, Currency, Deposit, Entry, EntryPosting,
    HistoryFilter, IdempotencyKey, Ledger, LedgerError, Metadata, NormalBalance, OpenAccount, OpenLedgerAccount,
    PageRequest, SqlStore, UserId,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // Keep the temporary directory alive until the end of main.
    let temp = tempfile::tempdir()?;
    let url = format!("sqlite:{}", temp.path().join("marketplace.db").display());
    println!("database: {url}");
    let ledger = Ledger::open(SqlStore::connect(&url).await?).await?;
    // The marketplace's back office acts as the system: it may open ledger
    // accounts and post entries, which customers may not.
    let me = Actor::System;

    // The marketplace's own books. Credit-normal accounts may not go below
    // zero by default, so escrow can only pass on money it holds; the
    // debit-normal FX positions are unbounded, as a currency position swings.
    let mut names: Vec<(AccountId, String)> = Vec::new();
    for (code, currency, side, name) in [
        ("escrow:orders", Currency::Usd, NormalBalance::Credit, "Order escrow"),
        ("revenue:fees", Currency::Usd, NormalBalance::Credit, "Marketplace fees"),
        ("liabilities:sales_tax", Currency::Usd, NormalBalance::Credit, "Sales tax owed"),
        ("fx:usd", Currency::Usd, NormalBalance::Debit, "FX position USD"),
        ("fx:eur", Currency::Eur, NormalBalance::Debit, "FX position EUR"),
    ] {
        let command = OpenLedgerAccount {
            name: Some(name.into()),
            ..OpenLedgerAccount::new(AccountCode::parse(code)?, currency, side)
        };
        let account = ledger.open_ledger_account(&me, command).await?;
        names.push((account.id, format!("@{code}")));
    }

    // The customers: a buyer, and a seller paid in dollars who also keeps euros.
    let buyer = ledger.open_account(&me, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd)).await?;
    let seller_id = UserId::new();
    let seller = ledger.open_account(&me, OpenAccount::new(seller_id, AccountKind::Checking, Currency::Usd)).await?;
    let seller_eur =
        ledger.open_account(&me, OpenAccount::new(seller_id, AccountKind::Checking, Currency::Eur)).await?;
    names.push((buyer.id, "buyer".into()));
    names.push((seller.id, "seller (USD)".into()));
    names.push((seller_eur.id, "seller (EUR)".into()));
    let name = |id: AccountId| names.iter().find(|(known, _)| *known == id).map_or("?", |(_, name)| name.as_str());

    let deposit = Deposit {
        account: buyer.id,
        amount: Amount::parse("120.00")?,
        description: Some("card top-up".into()),
        metadata: Default::default(),
    };
    ledger.deposit(&me, IdempotencyKey::new("topup-buyer-1")?, deposit).await?;

    // Checkout of order A-1001: the buyer pays 107.00 into escrow, which
    // passes it on to the seller, the fee and the tax. One entry, so either
    // every posting happens or none does; escrow's floor is checked on the
    // final state, so it may pass through zero.
    let checkout = Entry {
        postings: vec![
            posting(AccountRef::Id(buyer.id), code("escrow:orders")?, "107.00", Currency::Usd)?,
            posting(code("escrow:orders")?, AccountRef::Number(seller.number), "90.00", Currency::Usd)?,
            posting(code("escrow:orders")?, code("revenue:fees")?, "9.00", Currency::Usd)?,
            posting(code("escrow:orders")?, code("liabilities:sales_tax")?, "8.00", Currency::Usd)?,
        ],
        description: Some("checkout A-1001".into()),
        metadata: Metadata::new([("order_id", "A-1001"), ("seller", "S-17")])?,
    };
    let checkout_key = IdempotencyKey::new("checkout-A-1001")?;
    let first = ledger.post_entry(&me, checkout_key.clone(), checkout.clone()).await?;
    println!("checkout {}:", first.transaction.id);
    for leg in &first.transaction.legs {
        println!("  {:<24} -> {:<24} {:>7} {}", name(leg.source), name(leg.destination), leg.amount, leg.currency);
    }

    // The seller converts 50.00 USD to 46.00 EUR: both currency legs in one
    // entry, so the dollars never leave without the euros arriving.
    let conversion = Entry {
        postings: vec![
            posting(AccountRef::Id(seller.id), code("fx:usd")?, "50.00", Currency::Usd)?,
            posting(code("fx:eur")?, AccountRef::Id(seller_eur.id), "46.00", Currency::Eur)?,
        ],
        description: Some("convert USD to EUR".into()),
        metadata: Metadata::new([("rate", "0.92")])?,
    };
    let fx = ledger.post_entry(&me, IdempotencyKey::new("fx-S-17-1")?, conversion).await?;
    println!("conversion {} at rate {}", fx.transaction.id, fx.transaction.metadata.get("rate").unwrap_or("?"));

    // A retried checkout (a timeout, a double click) is answered from the
    // ledger: same transaction, nothing charged twice.
    let retry = ledger.post_entry(&me, checkout_key, checkout).await?;
    assert!(retry.replayed && retry.transaction.id == first.transaction.id);
    println!("retried checkout: replayed {} ({})", retry.replayed, retry.transaction.id);

    // Escrow holds nothing now, so paying out of it is refused, as a whole.
    let seller_before = ledger.balance(&me, seller.id).await?;
    let overdraw = Entry {
        postings: vec![posting(code("escrow:orders")?, AccountRef::Id(seller.id), "1.00", Currency::Usd)?],
        description: Some("payout without funds".into()),
        metadata: Metadata::new([("order_id", "A-1002")])?,
    };
    let refused = ledger.post_entry(&me, IdempotencyKey::new("payout-A-1002")?, overdraw).await;
    println!("payout from empty escrow: {}", refused.as_ref().err().map_or("accepted?!".into(), |e| e.to_string()));
    assert!(matches!(refused, Err(LedgerError::InsufficientFunds { posting: Some(0), .. })));
    assert_eq!(ledger.balance(&me, seller.id).await?, seller_before);

    // Find the checkout again by the marketplace's own order id.
    let filter = HistoryFilter { metadata: vec![("order_id".into(), "A-1001".into())], ..HistoryFilter::default() };
    let found = ledger.history(&me, &filter, PageRequest::default()).await?;
    for t in &found.items {
        println!("order A-1001: {} {:?} {} legs", t.id, t.description.as_deref().unwrap_or(""), t.legs.len());
    }
    assert_eq!(found.items.len(), 1);

    // Every ledger account (the settlement accounts the ledger keeps itself
    // included), reported on its normal side.
    println!("ledger accounts:");
    for account in ledger.ledger_accounts(&me, None, 50).await? {
        let code = account.code.as_ref().map_or("?".into(), AccountCode::to_string);
        let posted = format_minor(account.reported_balance().posted, account.currency);
        println!("  {code:<24} {:<6} {posted:>8} {}", account.normal_balance.as_str(), account.currency);
    }
    println!("customer accounts:");
    for account in [&buyer, &seller, &seller_eur] {
        let posted = format_minor(ledger.balance(&me, account.id).await?.posted, account.currency);
        println!("  {:<31} {posted:>8} {}", name(account.id), account.currency);
    }

    // The books balance: escrow passed everything on, the buyer paid 107.00,
    // the seller kept 40.00 of 90.00 and holds 46.00 in euros.
    for (code, expected) in [("escrow:orders", "0.00"), ("revenue:fees", "9.00"), ("liabilities:sales_tax", "8.00")] {
        let account = ledger.ledger_account(&me, &AccountCode::parse(code)?).await?;
        assert_eq!(account.reported_balance().posted, parse_balance(expected)?, "{code}");
    }
    for (account, expected) in [(&seller, "40.00"), (&seller_eur, "46.00"), (&buyer, "13.00")] {
        assert_eq!(ledger.balance(&me, account.id).await?.posted, parse_balance(expected)?, "{}", name(account.id));
    }
    println!("all balances as expected");
    Ok(())
}

/// A ledger account named by its code (`AccountRef::parse("@fx:usd")` reads
/// the same from text). Customer accounts are named by id or by number.
fn code(code: &str) -> Result<AccountRef, LedgerError> {
    Ok(AccountRef::Code(AccountCode::parse(code)?))
}

/// One posting of an entry: `amount` of `currency` from `source` to `destination`.
fn posting(
    source: AccountRef,
    destination: AccountRef,
    amount: &str,
    currency: Currency,
) -> Result<EntryPosting, Box<dyn Error>> {
    Ok(EntryPosting { source, destination, amount: Amount::parse(amount)?, currency })
}

//! The bodies of the fuzz targets, as plain functions of the raw input.
//!
//! Each must never panic on any input; a panic is a finding. Where a
//! property holds it is asserted: what the parser accepts is printed and
//! re-parsed to the same value, and a decoded request becomes the command
//! it says. `cargo fuzz run <target>` drives them with libFuzzer; the
//! workspace's tests (`ledger-http/tests/api/fuzz_targets.rs`) run them over
//! the committed seed corpus and over random inputs on every `cargo test`.

use ledger_core::account_number::ACCOUNT_NUMBER_DIGITS;
use ledger_core::money::{AMOUNT_MAJOR_UNITS_MAX, AMOUNT_SCALE_MAX, AMOUNT_TEXT_LEN_MAX, format_minor};
use ledger_core::{AccountNumber, AccountNumberError, AccountRef, Amount, Currency, Money, MoneyCommand};
use ledger_http::dto::{CaptureRequest, DepositRequest, HoldRequest, TransferRequest, WithdrawalRequest};
use ledger_http::error::ApiError;
use rust_decimal::Decimal;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `Amount::parse` on arbitrary text: accepted amounts obey the grammar and
/// limits, print and re-parse to themselves, and fit exactly the currencies
/// whose minor unit is at least as fine.
pub fn amount_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(amount) = Amount::parse(text) else { return };
    assert!(text.len() <= AMOUNT_TEXT_LEN_MAX, "accepted an over-long text {text:?}");
    assert!(text.bytes().all(|b| b.is_ascii_digit() || b == b'.'), "accepted {text:?}");
    let value = amount.value();
    assert!(value > Decimal::ZERO, "accepted a non-positive amount {text:?}");
    assert!(value <= Decimal::from(AMOUNT_MAJOR_UNITS_MAX), "accepted a too-large amount {text:?}");
    assert!(amount.scale() <= AMOUNT_SCALE_MAX, "accepted too many places {text:?}");
    assert_eq!(Ok(value), Decimal::from_str_exact(text).map(|d| d.normalize()), "not the exact value of {text:?}");
    let printed = amount.to_string();
    assert_eq!(Amount::parse(&printed), Ok(amount), "{text:?} printed as {printed:?} does not re-parse");
    round_trips_through_json(&amount);
    for currency in Currency::ALL {
        match Money::new(amount, *currency) {
            Ok(money) => {
                assert!(amount.scale() <= currency.exponent());
                let minor = format_minor(money.value(), *currency);
                assert_eq!(Amount::parse(&minor), Ok(amount), "{text:?} in {currency:?} printed as {minor:?}");
            }
            Err(_) => assert!(amount.scale() > currency.exponent(), "{text:?} refused in {currency:?}"),
        }
    }
}

/// `AccountNumber::parse` on arbitrary text: accepted numbers are 12 digits
/// (spaces aside) with valid check digits, print as those digits and
/// re-parse to themselves; changing any one digit is always caught.
pub fn account_number(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(number) = AccountNumber::parse(text) else { return };
    let digits: String = text.chars().filter(|c| *c != ' ').collect();
    assert_eq!(digits.len(), ACCOUNT_NUMBER_DIGITS, "accepted {text:?}");
    assert_eq!(number.to_string(), digits, "{text:?} does not print as its digits");
    assert_eq!(number.as_u64() % 97, 1, "accepted bad check digits {text:?}");
    assert_eq!(AccountNumber::parse(&number.to_string()), Ok(number));
    round_trips_through_json(&number);
    for (position, original) in digits.char_indices() {
        for replacement in ('0'..='9').filter(|d| *d != original) {
            let mut changed = digits.clone();
            changed.replace_range(position..=position, &replacement.to_string());
            assert_eq!(
                AccountNumber::parse(&changed),
                Err(AccountNumberError::BadCheckDigits),
                "{changed:?} (one digit off {digits:?}) was accepted"
            );
        }
    }
}

/// The JSON bodies of the money routes decoded from arbitrary bytes and,
/// when they decode, converted into core commands exactly as the handlers
/// do: a refusal is a 4xx, never a panic or a 5xx; an accepted body becomes
/// the command it says, which survives a JSON round trip. Also the core's
/// own JSON form of an atomic batch (`[MoneyCommand]`).
pub fn command_json(data: &[u8]) {
    if let Ok(body) = serde_json::from_slice::<DepositRequest>(data) {
        let (account, amount, description) = (body.account_id, body.amount.clone(), body.description.clone());
        if let Some(command) = accepted(body.into_command()) {
            assert_eq!(command.account.as_uuid(), &account);
            assert_eq!(Ok(command.amount), Amount::parse(&amount));
            assert_eq!(command.description, description);
            round_trips_through_json(&MoneyCommand::from(command));
        }
    }
    if let Ok(body) = serde_json::from_slice::<WithdrawalRequest>(data) {
        let (account, amount) = (body.account_id, body.amount.clone());
        if let Some(command) = accepted(body.into_command()) {
            assert_eq!(command.account.as_uuid(), &account);
            assert_eq!(Ok(command.amount), Amount::parse(&amount));
            round_trips_through_json(&MoneyCommand::from(command));
        }
    }
    if let Ok(body) = serde_json::from_slice::<TransferRequest>(data) {
        let (from, to_id, to_number) = (body.from_account_id, body.to_account_id, body.to_account_number.clone());
        if let Some(command) = accepted(body.into_command()) {
            assert_eq!(command.from.as_uuid(), &from);
            match command.to {
                AccountRef::Id(id) => assert_eq!((Some(*id.as_uuid()), to_number), (to_id, None)),
                AccountRef::Number(number) => {
                    assert_eq!(to_id, None);
                    assert_eq!(to_number.map(|n| AccountNumber::parse(&n)), Some(Ok(number)));
                }
                AccountRef::Code(code) => panic!("a transfer body became a posting to the ledger account {code}"),
            }
            round_trips_through_json(&MoneyCommand::from(command));
        }
    }
    if let Ok(body) = serde_json::from_slice::<HoldRequest>(data) {
        let (account, expires_at) = (body.account_id, body.expires_at);
        if let Some(command) = accepted(body.into_command()) {
            assert_eq!(command.account.as_uuid(), &account);
            assert_eq!(command.expires_at, expires_at);
            round_trips_through_json(&MoneyCommand::from(command));
        }
    }
    if let Ok(body) = serde_json::from_slice::<CaptureRequest>(data) {
        let hold = uuid::Uuid::nil();
        if let Some(command) = accepted(body.into_command(hold)) {
            assert_eq!(command.hold.as_uuid(), &hold);
            round_trips_through_json(&MoneyCommand::from(command));
        }
    }
    if let Ok(batch) = serde_json::from_slice::<Vec<MoneyCommand>>(data) {
        round_trips_through_json(&batch);
    }
}

/// The command, or `None` for a refusal, which must be a client error.
fn accepted<T>(result: Result<T, ApiError>) -> Option<T> {
    match result {
        Ok(command) => Some(command),
        Err(error) => {
            assert!(error.status().is_client_error(), "a body was refused with {}: {error:?}", error.status());
            None
        }
    }
}

/// Serialises and deserialises a value; it must come back equal.
fn round_trips_through_json<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let json = serde_json::to_string(value).unwrap_or_else(|e| panic!("{value:?} does not serialise: {e}"));
    let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json} does not deserialise: {e}"));
    assert_eq!(&back, value, "JSON round trip of {json}");
}

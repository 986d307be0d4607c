//! Human-readable account numbers with ISO 7064 MOD 97-10 check digits.
//!
//! A number is 12 digits: a 10-digit body followed by two check digits chosen
//! so that the whole number is congruent to 1 modulo 97, as IBAN does. Any
//! single mistyped digit and almost every swap of adjacent digits fails the
//! check. Customer bodies start with a non-zero digit; settlement accounts use
//! bodies `0000000` + the currency's ISO numeric code, so the two never meet.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::money::Currency;

/// Digits in a number's body.
pub const ACCOUNT_NUMBER_BODY_DIGITS: usize = 10;
/// Digits in a whole number (body and two check digits).
pub const ACCOUNT_NUMBER_DIGITS: usize = ACCOUNT_NUMBER_BODY_DIGITS + 2;
/// The most characters accepted as input, spaces included.
pub const ACCOUNT_NUMBER_TEXT_LEN_MAX: usize = 32;

/// Why an account number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccountNumberError {
    /// Not exactly [`ACCOUNT_NUMBER_DIGITS`] digits (spaces aside).
    #[error("an account number has exactly {ACCOUNT_NUMBER_DIGITS} digits")]
    WrongLength,
    /// A character other than a digit or a space.
    #[error("an account number contains only digits")]
    NotDigits,
    /// The check digits do not match the body.
    #[error("the account number's check digits are wrong")]
    BadCheckDigits,
}

/// A validated account number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountNumber(u64);

impl AccountNumber {
    /// Parses 12 digits; ASCII spaces (as people group digits) are ignored.
    pub fn parse(text: &str) -> Result<AccountNumber, AccountNumberError> {
        if text.len() > ACCOUNT_NUMBER_TEXT_LEN_MAX {
            return Err(AccountNumberError::WrongLength);
        }
        let mut digits = 0usize;
        let mut value = 0u64;
        for b in text.bytes().filter(|b| *b != b' ') {
            if !b.is_ascii_digit() {
                return Err(AccountNumberError::NotDigits);
            }
            digits += 1;
            if digits > ACCOUNT_NUMBER_DIGITS {
                return Err(AccountNumberError::WrongLength);
            }
            value = value * 10 + u64::from(b - b'0');
        }
        if digits != ACCOUNT_NUMBER_DIGITS {
            return Err(AccountNumberError::WrongLength);
        }
        if value % 97 != 1 {
            return Err(AccountNumberError::BadCheckDigits);
        }
        Ok(AccountNumber(value))
    }

    /// Appends check digits to a body below 10^10.
    fn from_body(body: u64) -> AccountNumber {
        debug_assert!(body < 10u64.pow(ACCOUNT_NUMBER_BODY_DIGITS as u32));
        let check = 98 - (body * 100) % 97;
        let number = AccountNumber(body * 100 + check);
        debug_assert_eq!(number.0 % 97, 1);
        number
    }

    /// A random customer number. Uniqueness is enforced by the store; the
    /// ledger draws again on the rare collision.
    pub fn random<R: Rng + ?Sized>(rng: &mut R) -> AccountNumber {
        let low = 10u64.pow(ACCOUNT_NUMBER_BODY_DIGITS as u32 - 1);
        let high = 10u64.pow(ACCOUNT_NUMBER_BODY_DIGITS as u32);
        AccountNumber::from_body(rng.random_range(low..high))
    }

    /// The fixed number of a currency's settlement account.
    pub fn settlement(currency: Currency) -> AccountNumber {
        AccountNumber::from_body(u64::from(currency.numeric()))
    }

    /// The number as an integer (for compact storage keys).
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:0width$}", self.0, width = ACCOUNT_NUMBER_DIGITS)
    }
}

impl FromStr for AccountNumber {
    type Err = AccountNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccountNumber::parse(s)
    }
}

impl TryFrom<String> for AccountNumber {
    type Error = AccountNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        AccountNumber::parse(&value)
    }
}

impl From<AccountNumber> for String {
    fn from(value: AccountNumber) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn settlement_numbers_are_valid_and_distinct() {
        let numbers: Vec<_> = Currency::ALL.iter().map(|c| AccountNumber::settlement(*c)).collect();
        for n in &numbers {
            assert_eq!(AccountNumber::parse(&n.to_string()), Ok(*n));
        }
        assert_eq!(AccountNumber::settlement(Currency::Usd).to_string(), "000000084003");
        let mut unique = numbers.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), numbers.len());
    }

    #[test]
    fn rejects_malformed_numbers() {
        assert_eq!(AccountNumber::parse(""), Err(AccountNumberError::WrongLength));
        assert_eq!(AccountNumber::parse("12345"), Err(AccountNumberError::WrongLength));
        assert_eq!(AccountNumber::parse("1234567890123"), Err(AccountNumberError::WrongLength));
        assert_eq!(AccountNumber::parse("12345678901x"), Err(AccountNumberError::NotDigits));
        assert_eq!(AccountNumber::parse("-00000084003"), Err(AccountNumberError::NotDigits));
        assert_eq!(AccountNumber::parse("000000084004"), Err(AccountNumberError::BadCheckDigits));
        assert_eq!(AccountNumber::parse(&" ".repeat(40)), Err(AccountNumberError::WrongLength));
    }

    #[test]
    fn accepts_grouped_digits() {
        assert_eq!(AccountNumber::parse("0000 0008 4003"), Ok(AccountNumber::settlement(Currency::Usd)));
    }

    proptest! {
        #[test]
        fn random_numbers_validate_and_any_single_digit_change_is_caught(seed in any::<u64>(), pos in 0usize..ACCOUNT_NUMBER_DIGITS, delta in 1u8..10) {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let n = AccountNumber::random(&mut rng);
            let text = n.to_string();
            prop_assert_eq!(AccountNumber::parse(&text), Ok(n));
            let mut bytes = text.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let mutated = String::from_utf8(bytes).unwrap_or_default();
            prop_assert_eq!(AccountNumber::parse(&mutated), Err(AccountNumberError::BadCheckDigits));
        }
    }
}

//! [`AccountCode`]: the name an application gives a ledger account
//! (`revenue:fees:usd`, `escrow:orders`), unique in the ledger.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::LedgerError;
use crate::money::Currency;

/// The most characters in an account code.
pub const ACCOUNT_CODE_LEN_MAX: usize = 128;

/// A ledger account's code: lowercase segments of `[a-z0-9_]` joined by
/// `:`, at most [`ACCOUNT_CODE_LEN_MAX`] characters. Parse, don't validate:
/// a value of this type is always a valid code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountCode(String);

impl AccountCode {
    /// Parses a code: `[a-z0-9_]+(:[a-z0-9_]+)*`, at most 128 characters.
    pub fn parse(text: &str) -> Result<AccountCode, LedgerError> {
        let segment_ok =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if text.len() > ACCOUNT_CODE_LEN_MAX || !text.split(':').all(segment_ok) {
            return Err(LedgerError::InvalidAccountCode);
        }
        Ok(AccountCode(text.to_owned()))
    }

    /// The code of a currency's settlement account: `settlement:usd`.
    pub fn settlement(currency: Currency) -> AccountCode {
        AccountCode(format!("settlement:{}", currency.code().to_ascii_lowercase()))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AccountCode {
    type Err = LedgerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccountCode::parse(s)
    }
}

impl TryFrom<String> for AccountCode {
    type Error = LedgerError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        AccountCode::parse(&value)
    }
}

impl From<AccountCode> for String {
    fn from(code: AccountCode) -> String {
        code.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_lowercase_segments_joined_by_colons() {
        for ok in ["revenue:fees:usd", "escrow:orders", "a", "fx_usd_eur:2026", "0:1"] {
            assert_eq!(AccountCode::parse(ok).map(|c| c.to_string()), Ok(ok.to_owned()));
        }
        let long = "a".repeat(129);
        for bad in ["", "Revenue", "a::b", ":a", "a:", "a b", "a-b", "é", "@a", long.as_str()] {
            assert_eq!(AccountCode::parse(bad), Err(LedgerError::InvalidAccountCode), "{bad:?}");
        }
        assert!(AccountCode::parse(&"a".repeat(128)).is_ok());
        assert_eq!(AccountCode::settlement(Currency::Eur).as_str(), "settlement:eur");
    }
}

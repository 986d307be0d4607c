//! Money: currencies with their minor units, and exact positive amounts.
//!
//! Amounts are `rust_decimal::Decimal`. They are parsed from strings with a
//! strict grammar, never from floats, and never rounded: an amount finer than
//! its currency allows is an error.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The largest amount a single command may move, in major units (one trillion).
pub const AMOUNT_MAJOR_UNITS_MAX: i64 = 1_000_000_000_000;

/// The most decimal places any amount may carry before a currency is known.
pub const AMOUNT_SCALE_MAX: u32 = 4;

/// The most characters an amount string may have.
pub const AMOUNT_TEXT_LEN_MAX: usize = 32;

/// Declares the supported currencies: adding one is one line here.
macro_rules! currencies {
    ($($variant:ident => ($code:literal, $numeric:literal, $exponent:literal)),+ $(,)?) => {
        /// An ISO 4217 currency the ledger supports.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub enum Currency {
            $(
                #[doc = concat!("ISO 4217 ", $code, ".")]
                $variant,
            )+
        }

        impl Currency {
            /// Every supported currency, in declaration order.
            pub const ALL: &'static [Currency] = &[$(Currency::$variant),+];

            /// The three-letter ISO 4217 code.
            pub const fn code(self) -> &'static str {
                match self { $(Currency::$variant => $code),+ }
            }

            /// The ISO 4217 numeric code.
            pub const fn numeric(self) -> u16 {
                match self { $(Currency::$variant => $numeric),+ }
            }

            /// Decimal places of the minor unit (2 for USD cents).
            pub const fn exponent(self) -> u32 {
                match self { $(Currency::$variant => $exponent),+ }
            }

            /// Parses an upper-case ISO code.
            pub fn from_code(code: &str) -> Result<Currency, MoneyError> {
                match code {
                    $($code => Ok(Currency::$variant),)+
                    _ => Err(MoneyError::UnknownCurrency),
                }
            }
        }
    };
}

currencies! {
    Usd => ("USD", 840, 2),
    Eur => ("EUR", 978, 2),
    Gbp => ("GBP", 826, 2),
}

const _: () = {
    // Every currency's exponent must fit the currency-free amount grammar.
    let mut i = 0;
    while i < Currency::ALL.len() {
        assert!(Currency::ALL[i].exponent() <= AMOUNT_SCALE_MAX);
        i += 1;
    }
};

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::from_code(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.code().to_owned()
    }
}

/// Why a currency or an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// The text is not a plain decimal number (`12`, `12.5`, `0.01`).
    #[error("amount is not a plain decimal number")]
    Malformed,
    /// The amount is zero or negative.
    #[error("amount must be greater than zero")]
    NotPositive,
    /// The amount has more decimal places than allowed.
    #[error("amount has {places} decimal places; at most {allowed} are allowed")]
    TooPrecise {
        /// Decimal places in the input, after dropping trailing zeros.
        places: u32,
        /// Decimal places the currency (or the grammar) allows.
        allowed: u32,
    },
    /// The amount exceeds [`AMOUNT_MAJOR_UNITS_MAX`].
    #[error("amount exceeds the maximum of {AMOUNT_MAJOR_UNITS_MAX}")]
    TooLarge,
    /// The currency code is not one the ledger supports.
    #[error("unsupported currency")]
    UnknownCurrency,
}

/// Parses `digits[.digits]` (no sign, exponent, separators or spaces) of
/// at most [`AMOUNT_TEXT_LEN_MAX`] characters.
fn parse_unsigned(text: &str) -> Result<Decimal, MoneyError> {
    if text.is_empty() || text.len() > AMOUNT_TEXT_LEN_MAX {
        return Err(MoneyError::Malformed);
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !fraction.is_none_or(all_digits) {
        return Err(MoneyError::Malformed);
    }
    Decimal::from_str_exact(text).map_err(|_| MoneyError::TooLarge)
}

/// Parses a balance (a floor, a limit): `[-]digits[.digits]`, zero allowed,
/// at most [`AMOUNT_SCALE_MAX`] places and [`AMOUNT_MAJOR_UNITS_MAX`] either side of zero.
pub fn parse_balance(text: &str) -> Result<Decimal, MoneyError> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text),
    };
    let value = parse_unsigned(digits)?.normalize();
    if value.scale() > AMOUNT_SCALE_MAX {
        return Err(MoneyError::TooPrecise { places: value.scale(), allowed: AMOUNT_SCALE_MAX });
    }
    if value > Decimal::from(AMOUNT_MAJOR_UNITS_MAX) {
        return Err(MoneyError::TooLarge);
    }
    Ok(if negative { -value } else { value })
}

/// A strictly positive amount below the hard maximum, not yet tied to a currency.
///
/// Commands carry an `Amount`; the ledger checks it against the account's
/// currency (see [`Money`]) once the account is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Amount(Decimal);

impl Amount {
    /// Checks a decimal: positive, at most [`AMOUNT_SCALE_MAX`] places, below the maximum.
    pub fn new(value: Decimal) -> Result<Amount, MoneyError> {
        let value = value.normalize();
        if value <= Decimal::ZERO {
            return Err(MoneyError::NotPositive);
        }
        if value.scale() > AMOUNT_SCALE_MAX {
            return Err(MoneyError::TooPrecise { places: value.scale(), allowed: AMOUNT_SCALE_MAX });
        }
        if value > Decimal::from(AMOUNT_MAJOR_UNITS_MAX) {
            return Err(MoneyError::TooLarge);
        }
        Ok(Amount(value))
    }

    /// Parses `digits[.digits]`: no sign, exponent, separators or spaces.
    pub fn parse(text: &str) -> Result<Amount, MoneyError> {
        Amount::new(parse_unsigned(text)?)
    }

    /// The exact value.
    pub fn value(self) -> Decimal {
        self.0
    }

    /// Decimal places after dropping trailing zeros.
    pub fn scale(self) -> u32 {
        self.0.normalize().scale()
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Amount {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse(s)
    }
}

impl TryFrom<String> for Amount {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Amount::parse(&value)
    }
}

impl From<Amount> for String {
    fn from(value: Amount) -> Self {
        value.to_string()
    }
}

/// An amount that fits its currency: no finer than the currency's minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount: Amount,
    currency: Currency,
}

impl Money {
    /// Ties an amount to a currency, refusing places finer than its minor unit.
    pub fn new(amount: Amount, currency: Currency) -> Result<Money, MoneyError> {
        if amount.scale() > currency.exponent() {
            return Err(MoneyError::TooPrecise { places: amount.scale(), allowed: currency.exponent() });
        }
        // Rescaling to the minor unit only adds trailing zeros: exact, and it
        // makes every stored amount print as "12.50".
        let mut value = amount.value();
        value.rescale(currency.exponent());
        Ok(Money { amount: Amount(value), currency })
    }

    /// The positive amount.
    pub fn amount(self) -> Amount {
        self.amount
    }

    /// The amount's exact value.
    pub fn value(self) -> Decimal {
        self.amount.value()
    }

    /// The currency.
    pub fn currency(self) -> Currency {
        self.currency
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", format_minor(self.value(), self.currency), self.currency)
    }
}

/// Formats a value with exactly the currency's decimal places ("12.50").
///
/// Values in the ledger never carry more places than their currency allows,
/// so padding with zeros is exact.
pub fn format_minor(value: Decimal, currency: Currency) -> String {
    let mut v = value;
    if v.scale() < currency.exponent() {
        v.rescale(currency.exponent());
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_decimals_exactly() {
        assert_eq!(Amount::parse("12.50").map(Amount::value), Ok(Decimal::new(125, 1)));
        assert_eq!(Amount::parse("0.01").map(Amount::value), Ok(Decimal::new(1, 2)));
        assert_eq!(Amount::parse("7").map(Amount::value), Ok(Decimal::from(7)));
    }

    #[test]
    fn rejects_anything_but_plain_positive_decimals() {
        for bad in ["", " 1", "1 ", "+1", "1e3", "1_000", "1,5", ".5", "5.", "abc", "0x10", "NaN", "1.2.3"] {
            assert_eq!(Amount::parse(bad), Err(MoneyError::Malformed), "{bad:?}");
        }
        assert_eq!(Amount::parse("-1"), Err(MoneyError::Malformed));
        assert_eq!(Amount::parse("0"), Err(MoneyError::NotPositive));
        assert_eq!(Amount::parse("0.000"), Err(MoneyError::NotPositive));
        assert_eq!(Amount::new(Decimal::from(-5)), Err(MoneyError::NotPositive));
    }

    #[test]
    fn balances_parse_signed_with_zero_and_the_amount_grammar() {
        assert_eq!(parse_balance("-12.50"), Ok(Decimal::new(-125, 1)));
        assert_eq!(parse_balance("0"), Ok(Decimal::ZERO));
        assert_eq!(parse_balance("-0.00"), Ok(Decimal::ZERO));
        for bad in ["", "-", "--1", "+1", "- 1", "1e3", "-.5", "1,5"] {
            assert_eq!(parse_balance(bad), Err(MoneyError::Malformed), "{bad:?}");
        }
        assert_eq!(parse_balance("-1000000000000.01"), Err(MoneyError::TooLarge));
        assert_eq!(parse_balance("-1.00001"), Err(MoneyError::TooPrecise { places: 5, allowed: 4 }));
    }

    #[test]
    fn rejects_amounts_over_the_maximum() {
        assert!(Amount::parse("1000000000000").is_ok());
        assert_eq!(Amount::parse("1000000000000.01"), Err(MoneyError::TooLarge));
        assert_eq!(Amount::parse("99999999999999999999999999999999"), Err(MoneyError::TooLarge));
        assert_eq!(Amount::parse(&"9".repeat(AMOUNT_TEXT_LEN_MAX + 1)), Err(MoneyError::Malformed));
    }

    #[test]
    fn precision_is_checked_never_rounded() {
        assert_eq!(Amount::parse("1.00001"), Err(MoneyError::TooPrecise { places: 5, allowed: 4 }));
        let fine = Amount::parse("1.001").ok();
        let usd = fine.map(|a| Money::new(a, Currency::Usd));
        assert_eq!(usd, Some(Err(MoneyError::TooPrecise { places: 3, allowed: 2 })));
        // Trailing zeros are not precision: 1.500 is exactly 1.5.
        let padded = Amount::parse("1.500").and_then(|a| Money::new(a, Currency::Usd));
        assert_eq!(padded.map(Money::value), Ok(Decimal::new(15, 1)));
    }

    #[test]
    fn currencies_round_trip_through_their_codes() {
        for c in Currency::ALL {
            assert_eq!(Currency::from_code(c.code()), Ok(*c));
        }
        assert_eq!(Currency::from_code("usd"), Err(MoneyError::UnknownCurrency));
        assert_eq!(Currency::from_code("XYZ"), Err(MoneyError::UnknownCurrency));
    }

    #[test]
    fn formats_with_the_currency_minor_units() {
        assert_eq!(format_minor(Decimal::new(125, 1), Currency::Usd), "12.50");
        assert_eq!(format_minor(Decimal::from(-3), Currency::Eur), "-3.00");
    }
}

//! A user's profile: name, phone, address, date of birth, each validated.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::LedgerError;

/// The most characters in a full name.
pub const FULL_NAME_LEN_MAX: usize = 100;
/// The most characters in a postal address.
pub const ADDRESS_LEN_MAX: usize = 200;
/// Digits in an E.164 phone number, fewest and most.
pub const PHONE_DIGITS_MIN: usize = 7;
/// See [`PHONE_DIGITS_MIN`].
pub const PHONE_DIGITS_MAX: usize = 15;
/// The youngest a customer may be, in years.
pub const AGE_YEARS_MIN: i32 = 18;
/// The oldest plausible birth year.
pub const BIRTH_YEAR_MIN: i32 = 1900;

/// Personal details. Every field is optional except the name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Full name, 1 to 100 characters.
    pub full_name: String,
    /// E.164 phone number (`+` and 7 to 15 digits).
    pub phone: Option<String>,
    /// Postal address, up to 200 characters; line breaks allowed.
    pub address: Option<String>,
    /// Date of birth; the user must be an adult.
    pub date_of_birth: Option<NaiveDate>,
}

impl Profile {
    /// The fields a KYC reviewer checks that are not filled in, in words:
    /// a date of birth and an address. A submission needs none missing.
    pub fn missing_for_review(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.date_of_birth.is_none() {
            missing.push("date of birth");
        }
        if self.address.as_deref().is_none_or(|a| a.trim().is_empty()) {
            missing.push("address");
        }
        missing
    }
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfilePatch {
    /// New full name.
    pub full_name: Option<String>,
    /// New phone, or `Some(None)` to clear.
    pub phone: Option<Option<String>>,
    /// New address, or `Some(None)` to clear.
    pub address: Option<Option<String>>,
    /// New date of birth, or `Some(None)` to clear.
    pub date_of_birth: Option<Option<NaiveDate>>,
}

/// Validates a full name: trimmed, 1 to 100 characters, no control characters.
pub fn validate_full_name(name: &str) -> Result<String, LedgerError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > FULL_NAME_LEN_MAX || name.chars().any(char::is_control) {
        return Err(LedgerError::InvalidProfile("full_name"));
    }
    Ok(name.to_owned())
}

fn validate_phone(phone: &str) -> Result<String, LedgerError> {
    let compact: String = phone.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
    let digits = compact.strip_prefix('+').ok_or(LedgerError::InvalidProfile("phone"))?;
    let ok = (PHONE_DIGITS_MIN..=PHONE_DIGITS_MAX).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !ok {
        return Err(LedgerError::InvalidProfile("phone"));
    }
    Ok(compact)
}

fn validate_address(address: &str) -> Result<Option<String>, LedgerError> {
    let address = address.trim();
    let bad_control = address.chars().any(|c| c.is_control() && c != '\n');
    if address.chars().count() > ADDRESS_LEN_MAX || bad_control {
        return Err(LedgerError::InvalidProfile("address"));
    }
    Ok((!address.is_empty()).then(|| address.to_owned()))
}

fn validate_birth(date: NaiveDate, today: NaiveDate) -> Result<NaiveDate, LedgerError> {
    match adulthood(date) {
        Some(adult_on) if date.year() >= BIRTH_YEAR_MIN && adult_on <= today => Ok(date),
        _ => Err(LedgerError::InvalidProfile("date_of_birth")),
    }
}

/// The day someone born on `birth` turns [`AGE_YEARS_MIN`]: the same day
/// and month that many years on, by the calendar. Someone born on 29
/// February comes of age on 1 March of a common year (as in English law),
/// the later of the two candidate days, so no one passes a day early.
fn adulthood(birth: NaiveDate) -> Option<NaiveDate> {
    let year = birth.year().checked_add(AGE_YEARS_MIN)?;
    NaiveDate::from_ymd_opt(year, birth.month(), birth.day()).or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
}

impl Profile {
    /// A profile with just a (validated) name.
    pub fn new(full_name: &str) -> Result<Profile, LedgerError> {
        Ok(Profile { full_name: validate_full_name(full_name)?, phone: None, address: None, date_of_birth: None })
    }

    /// Whether `other` names a different person: the fields identity
    /// verification (KYC) checked, which are the name, the date of birth
    /// and the address (not the phone).
    pub fn identity_differs(&self, other: &Profile) -> bool {
        self.full_name != other.full_name || self.date_of_birth != other.date_of_birth || self.address != other.address
    }

    /// Applies a patch, validating every field it sets; on error nothing changes.
    pub fn patched(&self, patch: &ProfilePatch, today: NaiveDate) -> Result<Profile, LedgerError> {
        let mut next = self.clone();
        if let Some(name) = &patch.full_name {
            next.full_name = validate_full_name(name)?;
        }
        if let Some(phone) = &patch.phone {
            next.phone = phone.as_deref().map(validate_phone).transpose()?;
        }
        if let Some(address) = &patch.address {
            next.address = address.as_deref().map(validate_address).transpose()?.flatten();
        }
        if let Some(date) = patch.date_of_birth {
            next.date_of_birth = date.map(|d| validate_birth(d, today)).transpose()?;
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or_default()
    }

    #[test]
    fn patches_validate_each_field() {
        let p = Profile::new("  Ada Lovelace ").unwrap_or_else(|_| unreachable!());
        assert_eq!(p.full_name, "Ada Lovelace");
        let patch = ProfilePatch {
            phone: Some(Some("+44 20 7946 0958".into())),
            address: Some(Some("1 Main St\nLondon".into())),
            date_of_birth: Some(NaiveDate::from_ymd_opt(1990, 12, 10)),
            ..Default::default()
        };
        let q = p.patched(&patch, today()).unwrap_or_else(|_| unreachable!());
        assert_eq!(q.phone.as_deref(), Some("+442079460958"));
        let cleared = q.patched(&ProfilePatch { phone: Some(None), ..Default::default() }, today());
        assert_eq!(cleared.map(|c| c.phone), Ok(None));
    }

    #[test]
    fn refuses_bad_fields() {
        let p = Profile::new("Ada").unwrap_or_else(|_| unreachable!());
        let cases = [
            (ProfilePatch { full_name: Some(" ".into()), ..Default::default() }, "full_name"),
            (ProfilePatch { full_name: Some("x".repeat(101)), ..Default::default() }, "full_name"),
            (ProfilePatch { phone: Some(Some("020 7946".into())), ..Default::default() }, "phone"),
            (ProfilePatch { phone: Some(Some("+12ab45678".into())), ..Default::default() }, "phone"),
            (ProfilePatch { address: Some(Some("a\tb".into())), ..Default::default() }, "address"),
            (ProfilePatch { address: Some(Some("x".repeat(201))), ..Default::default() }, "address"),
            (
                ProfilePatch { date_of_birth: Some(NaiveDate::from_ymd_opt(2010, 1, 1)), ..Default::default() },
                "date_of_birth",
            ),
            (
                ProfilePatch { date_of_birth: Some(NaiveDate::from_ymd_opt(1850, 1, 1)), ..Default::default() },
                "date_of_birth",
            ),
        ];
        for (patch, field) in cases {
            assert_eq!(p.patched(&patch, today()), Err(LedgerError::InvalidProfile(field)), "{patch:?}");
        }
        assert!(Profile::new("").is_err());
    }

    #[test]
    fn born_on_29_february_comes_of_age_on_1_march_of_a_common_year() {
        let p = Profile::new("Leap").unwrap_or_else(|_| unreachable!());
        let birth =
            |y, m, d| ProfilePatch { date_of_birth: Some(NaiveDate::from_ymd_opt(y, m, d)), ..Default::default() };
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        // The review's case: born 2020-02-29, six years old in 2026.
        assert_eq!(p.patched(&birth(2020, 2, 29), today()).err(), Some(LedgerError::InvalidProfile("date_of_birth")));
        // Born 2008-02-29: 18 on 2026-03-01, not on 2026-02-28.
        assert!(p.patched(&birth(2008, 2, 29), day(2026, 2, 28)).is_err());
        assert!(p.patched(&birth(2008, 2, 29), day(2026, 3, 1)).is_ok());
        // Born 2006-02-28 or 2006-03-01: of age on that very day in 2024.
        assert!(p.patched(&birth(2006, 2, 28), day(2024, 2, 27)).is_err());
        assert!(p.patched(&birth(2006, 2, 28), day(2024, 2, 28)).is_ok());
        assert!(p.patched(&birth(2006, 3, 1), day(2024, 3, 1)).is_ok());
        assert!(p.patched(&birth(2004, 2, 29), day(2022, 2, 28)).is_err());
        assert!(p.patched(&birth(2004, 2, 29), day(2022, 3, 1)).is_ok());
        assert!(p.patched(&birth(1996, 2, 29), day(2014, 2, 28)).is_err());
        assert!(p.patched(&birth(1988, 2, 29), day(2006, 3, 1)).is_ok());
        // Far future and far past dates are refused, never overflow.
        assert!(p.patched(&birth(262_140, 1, 1), today()).is_err());
        assert!(p.patched(&birth(1899, 12, 31), today()).is_err());
    }
}

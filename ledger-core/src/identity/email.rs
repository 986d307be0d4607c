//! Email addresses: normalised, validated, compared case-insensitively.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::LedgerError;

/// The most characters in an address (RFC 5321's path limit).
pub const EMAIL_LEN_MAX: usize = 254;
/// The most characters before the `@`.
pub const EMAIL_LOCAL_LEN_MAX: usize = 64;

/// A normalised address: trimmed and lower-cased, so uniqueness is
/// case-insensitive by construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Checks the shape `local@domain.tld` with printable ASCII, no spaces,
    /// within the length limits.
    pub fn parse(text: &str) -> Result<Email, LedgerError> {
        let text = text.trim().to_ascii_lowercase();
        let invalid = || Err(LedgerError::InvalidEmail);
        if text.is_empty() || text.len() > EMAIL_LEN_MAX || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return invalid();
        }
        let Some((local, domain)) = text.split_once('@') else { return invalid() };
        if local.is_empty() || local.len() > EMAIL_LOCAL_LEN_MAX || domain.contains('@') {
            return invalid();
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return invalid();
        }
        Ok(Email(text))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = LedgerError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Email::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        assert_eq!(Email::parse("  Alice@Example.COM ").map(|e| e.to_string()), Ok("alice@example.com".into()));
        assert_eq!(Email::parse("a@b.co").map(|e| e.local_part().to_owned()), Ok("a".into()));
    }

    #[test]
    fn rejects_malformed_addresses() {
        let long_local = format!("{}@example.com", "a".repeat(EMAIL_LOCAL_LEN_MAX + 1));
        let long = format!("a@{}.com", "b".repeat(EMAIL_LEN_MAX));
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "a@b",
            "a b@c.com",
            "a@@b.com",
            "a@b..com",
            "a@-b.com",
            "é@b.com",
            "a@b.c_m",
            &long_local,
            &long,
        ] {
            assert_eq!(Email::parse(bad), Err(LedgerError::InvalidEmail), "{bad:?}");
        }
    }
}

//! Secret tokens (sessions, password resets): 256 random bits, shown once,
//! stored only as a SHA-256 digest.
//!
//! Stores look tokens up by digest. A timing difference in that lookup can
//! only reveal something about the digest, never about the token, so no
//! constant-time comparison is needed there; comparisons of secrets in
//! memory use [`subtle`].

use std::fmt;

use rand::RngCore;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use crate::digest::Digest;
use crate::error::LedgerError;

/// Random bytes in a token.
pub const TOKEN_BYTES: usize = 32;

/// A secret token: 64 lower-case hex digits. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    /// A fresh token from the operating system's random source.
    pub fn generate() -> SecretToken {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        SecretToken(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Parses a presented token; anything but 64 hex digits is refused.
    pub fn parse(text: &str) -> Result<SecretToken, LedgerError> {
        let ok = text.len() == TOKEN_BYTES * 2 && text.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(LedgerError::Unauthenticated);
        }
        Ok(SecretToken(text.to_ascii_lowercase()))
    }

    /// The text to hand to the client, once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest that is stored and looked up.
    pub fn digest(&self) -> Digest {
        Digest(Sha256::digest(self.0.as_bytes()).into())
    }

    /// Constant-time equality with another token.
    pub fn ct_eq(&self, other: &SecretToken) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_parse_back() {
        let a = SecretToken::generate();
        let b = SecretToken::generate();
        assert_eq!(a.expose().len(), 64);
        assert!(!a.ct_eq(&b));
        let parsed = SecretToken::parse(&a.expose().to_ascii_uppercase()).unwrap_or_else(|_| unreachable!());
        assert!(parsed.ct_eq(&a));
        assert_eq!(parsed.digest(), a.digest());
        assert_eq!(format!("{a:?}"), "SecretToken(***)");
    }

    #[test]
    fn forged_shapes_are_refused() {
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(63), &"a".repeat(65)] {
            assert_eq!(SecretToken::parse(bad), Err(LedgerError::Unauthenticated), "{bad:?}");
        }
    }
}

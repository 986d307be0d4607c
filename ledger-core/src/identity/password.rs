//! Passwords: the policy, and argon2id hashing through the `argon2` crate.
//!
//! Parameters (the OWASP 2024 recommendation for argon2id): 19 MiB of
//! memory, 2 iterations, 1 lane, 16-byte random salt, 32-byte output, stored
//! in the PHC string format (`$argon2id$v=19$m=19456,t=2,p=1$...`), so
//! parameters can be raised later and old hashes still verify.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::LedgerError;

/// The fewest characters in a password.
pub const PASSWORD_LEN_MIN: usize = 10;
/// The most characters in a password (argon2 input is bounded, and so is abuse).
pub const PASSWORD_LEN_MAX: usize = 128;

/// Frequently used passwords that the policy refuses whatever their length.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub lanes: u32,
}

impl HashParams {
    /// The production parameters (OWASP: m=19 MiB, t=2, p=1).
    pub const RECOMMENDED: HashParams = HashParams { memory_kib: 19 * 1024, iterations: 2, lanes: 1 };
    /// Cheap parameters for tests only: never use them for real passwords.
    pub const INSECURE_FAST_FOR_TESTS: HashParams = HashParams { memory_kib: 256, iterations: 1, lanes: 1 };

    /// The argon2 instance for these parameters.
    fn argon2(self) -> Result<Argon2<'static>, LedgerError> {
        let params = Params::new(self.memory_kib, self.iterations, self.lanes, Some(32))
            .map_err(|_| LedgerError::PasswordHashing)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams::RECOMMENDED
    }
}

/// A password that passed the policy. Never stored, logged or shown.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// Checks the policy: length, not a common password, not the email's local part.
    pub fn new(text: &str, email_local_part: Option<&str>) -> Result<Password, LedgerError> {
        let len = text.chars().count();
        if len < PASSWORD_LEN_MIN {
            return Err(LedgerError::WeakPassword("too short"));
        }
        if len > PASSWORD_LEN_MAX {
            return Err(LedgerError::WeakPassword("too long"));
        }
        if text.chars().any(char::is_control) {
            return Err(LedgerError::WeakPassword("contains control characters"));
        }
        let lower = text.to_lowercase();
        if COMMON_PASSWORDS.lines().any(|common| common == lower) {
            return Err(LedgerError::WeakPassword("too common"));
        }
        if email_local_part.is_some_and(|local| lower.contains(&local.to_lowercase()) && local.len() >= 4) {
            return Err(LedgerError::WeakPassword("contains the email address"));
        }
        Ok(Password(text.to_owned()))
    }

    /// The text, for hashing.
    fn expose(&self) -> &str {
        &self.0
    }
}

/// An argon2id hash in PHC string format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordDigest(String);

impl PasswordDigest {
    /// Hashes a password with a fresh random salt.
    pub fn hash(password: &Password, params: HashParams) -> Result<PasswordDigest, LedgerError> {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|_| LedgerError::PasswordHashing)?;
        let hash = params
            .argon2()?
            .hash_password(password.expose().as_bytes(), &salt)
            .map_err(|_| LedgerError::PasswordHashing)?;
        Ok(PasswordDigest(hash.to_string()))
    }

    /// Wraps a stored PHC string.
    pub fn from_stored(phc: String) -> PasswordDigest {
        PasswordDigest(phc)
    }

    /// The PHC string, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` matches, using the parameters stored in the hash.
    /// The comparison inside `argon2` is constant-time.
    pub fn verify(&self, candidate: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(&self.0) else { return false };
        Argon2::default().verify_password(candidate.as_bytes(), &parsed).is_ok()
    }

    /// Spends the same work as a real verification against a hash that
    /// matches nothing, so unknown emails cost as much as wrong passwords.
    pub fn verify_dummy(candidate: &str, params: HashParams) {
        static DUMMY: OnceLock<Option<PasswordDigest>> = OnceLock::new();
        let dummy = DUMMY.get_or_init(|| {
            let mut random = [0u8; 24];
            rand::rng().fill_bytes(&mut random);
            let text: String = random.iter().map(|b| format!("{b:02x}")).collect();
            PasswordDigest::hash(&Password(text), params).ok()
        });
        if let Some(dummy) = dummy {
            let _ = dummy.verify(candidate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_short_long_common_and_email_passwords() {
        assert_eq!(Password::new("short", None).map(|_| ()), Err(LedgerError::WeakPassword("too short")));
        let long = "x".repeat(PASSWORD_LEN_MAX + 1);
        assert_eq!(Password::new(&long, None).map(|_| ()), Err(LedgerError::WeakPassword("too long")));
        assert_eq!(Password::new("Password123", None).map(|_| ()), Err(LedgerError::WeakPassword("too common")));
        assert_eq!(
            Password::new("alice-forever-2026", Some("alice")).map(|_| ()),
            Err(LedgerError::WeakPassword("contains the email address"))
        );
        assert!(Password::new("correct horse battery staple", Some("alice")).is_ok());
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let password = Password::new("correct horse battery staple", None).unwrap_or_else(|_| unreachable!());
        let params = HashParams::INSECURE_FAST_FOR_TESTS;
        let a = PasswordDigest::hash(&password, params).unwrap_or_else(|_| unreachable!());
        let b = PasswordDigest::hash(&password, params).unwrap_or_else(|_| unreachable!());
        assert!(a.as_str().starts_with("$argon2id$v=19$"));
        assert_ne!(a, b, "salts differ");
        assert!(a.verify("correct horse battery staple"));
        assert!(!a.verify("correct horse battery stapler"));
        assert!(!PasswordDigest::from_stored("garbage".into()).verify("anything"));
    }

    #[test]
    fn recommended_parameters_are_the_documented_ones() {
        let hash = PasswordDigest::hash(
            &Password::new("correct horse battery staple", None).unwrap_or_else(|_| unreachable!()),
            HashParams::RECOMMENDED,
        )
        .unwrap_or_else(|_| unreachable!());
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", hash.as_str());
    }
}

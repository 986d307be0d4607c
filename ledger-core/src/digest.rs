//! A canonical, unambiguous byte encoding for SHA-256 digests.
//!
//! Idempotency fingerprints and the audit hash chain both hash structured
//! values. Every field is written with a type tag and, for variable-length
//! values, a length prefix, so two different values never encode alike.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest, shown and serialised as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The digest of nothing yet: the chain's starting point.
    pub const ZERO: Digest = Digest([0; 32]);

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Digest> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(Digest(out))
    }
}

/// Lower-case hex digits, by value.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

impl Digest {
    /// The 64 hex digits. A table lookup per nibble: every audit record and
    /// idempotency record carries digests, so this runs on the commit path,
    /// where formatting each byte through `write!` cost about 2% of a sled
    /// group commit.
    fn hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
        }
        out
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl TryFrom<String> for Digest {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Digest::from_hex(&value).ok_or("expected 64 hex digits")
    }
}

impl From<Digest> for String {
    fn from(value: Digest) -> Self {
        value.hex()
    }
}

/// Builds a digest field by field.
pub struct Hasher(Sha256);

impl Hasher {
    /// Starts a digest in a domain, so equal fields in different domains differ.
    pub fn new(domain: &str) -> Hasher {
        let mut h = Hasher(Sha256::new());
        h.str(domain);
        h
    }

    /// A length-prefixed string.
    pub fn str(&mut self, value: &str) -> &mut Self {
        self.0.update([b's']);
        self.0.update((value.len() as u64).to_be_bytes());
        self.0.update(value.as_bytes());
        self
    }

    /// An optional string (absent differs from empty).
    pub fn opt_str(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            None => self.0.update([b'n']),
            Some(v) => {
                self.str(v);
            }
        }
        self
    }

    /// An unsigned integer.
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.0.update([b'u']);
        self.0.update(value.to_be_bytes());
        self
    }

    /// A decimal in normal form, so `1.50` and `1.5` hash alike.
    pub fn decimal(&mut self, value: Decimal) -> &mut Self {
        self.str(&value.normalize().to_string())
    }

    /// An instant, at microsecond precision (what every backend stores).
    pub fn time(&mut self, value: DateTime<Utc>) -> &mut Self {
        self.0.update([b't']);
        self.0.update(value.timestamp_micros().to_be_bytes());
        self
    }

    /// An optional instant.
    pub fn opt_time(&mut self, value: Option<DateTime<Utc>>) -> &mut Self {
        match value {
            None => self.0.update([b'n']),
            Some(v) => {
                self.time(v);
            }
        }
        self
    }

    /// Raw digest bytes.
    pub fn digest(&mut self, value: &Digest) -> &mut Self {
        self.0.update([b'd']);
        self.0.update(value.0);
        self
    }

    /// The finished digest.
    pub fn finish(self) -> Digest {
        Digest(self.0.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        let mut h = Hasher::new("test");
        h.str("a");
        let d = h.finish();
        assert_eq!(Digest::from_hex(&d.to_string()), Some(d));
        let mut bytes = [0u8; 32];
        bytes[0] = 0x0f;
        bytes[1] = 0xa0;
        bytes[31] = 0xff;
        let text = String::from(Digest(bytes));
        assert_eq!(text, format!("0fa0{}ff", "00".repeat(29)));
        assert_eq!(Digest(bytes).to_string(), text);
        assert_eq!(Digest::from_hex("zz"), None);
        assert_eq!(Digest::from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn encoding_is_unambiguous() {
        let digest = |parts: &[&str]| {
            let mut h = Hasher::new("test");
            parts.iter().for_each(|p| {
                h.str(p);
            });
            h.finish()
        };
        assert_ne!(digest(&["ab", "c"]), digest(&["a", "bc"]));
        let mut none = Hasher::new("test");
        none.opt_str(None);
        let mut empty = Hasher::new("test");
        empty.opt_str(Some(""));
        assert_ne!(none.finish(), empty.finish());
    }
}

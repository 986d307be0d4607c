//! Typed identifiers. Ids are UUIDv7 (time-ordered) unless stated otherwise.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Currency;

/// A hash map keyed by ids the ledger generated or digests it computed:
/// their keys cannot be chosen to collide, so a fast hasher is safe. Maps
/// keyed by client-chosen text (idempotency keys, emails) keep the standard
/// DoS-resistant one.
pub type IdMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The set form of [`IdMap`].
pub type IdSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (as read back from storage).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// Identifies an account.
    AccountId
);
uuid_id!(
    /// Identifies a transaction (a hold is a transaction of kind `hold`).
    TransactionId
);
uuid_id!(
    /// Identifies a user, the owner of accounts.
    UserId
);

/// Namespace for the deterministic ids of internal accounts.
const SETTLEMENT_NAMESPACE: Uuid = Uuid::from_u128(0x6c65_6467_6572_2d73_6574_746c_656d_656e);

/// The settlement account ids, in [`Currency::ALL`] order: every deposit,
/// withdrawal and transfer plan names one, and a UUIDv5 costs a SHA-1.
static SETTLEMENT_IDS: LazyLock<Vec<AccountId>> =
    LazyLock::new(|| Currency::ALL.iter().map(|c| derive_settlement(*c)).collect());

/// The UUIDv5 of a currency's code in the settlement namespace.
fn derive_settlement(currency: Currency) -> AccountId {
    AccountId(Uuid::new_v5(&SETTLEMENT_NAMESPACE, currency.code().as_bytes()))
}

impl AccountId {
    /// The fixed id of a currency's settlement account (a UUIDv5 of its code).
    pub fn settlement(currency: Currency) -> AccountId {
        let position = Currency::ALL.iter().position(|c| *c == currency);
        position.and_then(|i| SETTLEMENT_IDS.get(i).copied()).unwrap_or_else(|| derive_settlement(currency))
    }
}

impl UserId {
    /// The owner of internal accounts (the nil UUID): never a real user.
    pub const SYSTEM: UserId = UserId(Uuid::nil());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settlement_ids_are_the_uuid_v5_of_the_currency_code_and_distinct() {
        let ids: std::collections::BTreeSet<AccountId> =
            Currency::ALL.iter().map(|c| AccountId::settlement(*c)).collect();
        assert_eq!(ids.len(), Currency::ALL.len());
        for currency in Currency::ALL {
            let expected = Uuid::new_v5(&SETTLEMENT_NAMESPACE, currency.code().as_bytes());
            assert_eq!(AccountId::settlement(*currency), AccountId(expected));
        }
    }
}

//! Typed identifiers. Ids are UUIDv7 (time-ordered) unless stated otherwise.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Currency;

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

impl AccountId {
    /// The fixed id of a currency's settlement account (a UUIDv5 of its code).
    pub fn settlement(currency: Currency) -> AccountId {
        AccountId(Uuid::new_v5(&SETTLEMENT_NAMESPACE, currency.code().as_bytes()))
    }
}

impl UserId {
    /// The owner of internal accounts (the nil UUID): never a real user.
    pub const SYSTEM: UserId = UserId(Uuid::nil());
}

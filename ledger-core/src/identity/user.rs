//! Users: identity, credentials, profile, role and KYC status.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::actor::{Actor, Role};
use super::email::Email;
use super::kyc::KycStatus;
use super::password::PasswordDigest;
use super::profile::Profile;
use crate::digest::Digest;
use crate::id::UserId;

/// A user as stored. The password digest never leaves the core's API in
/// public views: see [`UserView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Identity.
    pub id: UserId,
    /// Normalised, unique email.
    pub email: Email,
    /// argon2id digest of the password.
    pub password: PasswordDigest,
    /// Personal details.
    pub profile: Profile,
    /// Customer or admin.
    pub role: Role,
    /// Verification status.
    pub kyc_status: KycStatus,
    /// The admin's reason for the last rejection.
    pub kyc_reason: Option<String>,
    /// The digest of the one password-reset token that may still be used:
    /// issuing a token replaces it, and using it or changing the password
    /// clears it, so no older token outlives a newer one or a reset.
    #[serde(default)]
    pub reset_token: Option<Digest>,
    /// When registered.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

impl UserView {
    /// The actor this user acts as.
    pub fn actor(&self) -> Actor {
        Actor::User { id: self.id, role: self.role }
    }
}

impl User {
    /// The actor this user acts as.
    pub fn actor(&self) -> Actor {
        Actor::User { id: self.id, role: self.role }
    }

    /// The user without credentials, for showing.
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            email: self.email.clone(),
            profile: self.profile.clone(),
            role: self.role,
            kyc_status: self.kyc_status,
            kyc_reason: self.kyc_reason.clone(),
            created_at: self.created_at,
        }
    }
}

/// A user as shown: no password digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    /// Identity.
    pub id: UserId,
    /// Email.
    pub email: Email,
    /// Personal details.
    pub profile: Profile,
    /// Role.
    pub role: Role,
    /// KYC status.
    pub kyc_status: KycStatus,
    /// Reason for the last KYC rejection.
    pub kyc_reason: Option<String>,
    /// When registered.
    pub created_at: DateTime<Utc>,
}

//! Request and response bodies of the profile routes: users, profiles, KYC review.
//!
//! Amounts cross JSON as strings ("12.50"), never as numbers; request
//! bodies refuse unknown fields.

use chrono::{DateTime, NaiveDate, Utc};
use ledger_core::identity::UserView;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A user as shown (never any credential).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserDto {
    /// User id.
    pub id: Uuid,
    /// Email address (normalised to lower case).
    pub email: String,
    /// Full name.
    pub full_name: String,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// Postal address.
    pub address: Option<String>,
    /// Date of birth.
    pub date_of_birth: Option<NaiveDate>,
    /// `customer` or `admin`.
    pub role: String,
    /// `unverified`, `pending`, `verified` or `rejected`.
    pub kyc_status: String,
    /// The reason of the last KYC rejection.
    pub kyc_reason: Option<String>,
    /// When registered.
    pub created_at: DateTime<Utc>,
}

impl From<&UserView> for UserDto {
    fn from(user: &UserView) -> UserDto {
        UserDto {
            id: *user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            full_name: user.profile.full_name.clone(),
            phone: user.profile.phone.clone(),
            address: user.profile.address.clone(),
            date_of_birth: user.profile.date_of_birth,
            role: user.role.as_str().to_owned(),
            kyc_status: user.kyc_status.as_str().to_owned(),
            kyc_reason: user.kyc_reason.clone(),
            created_at: user.created_at,
        }
    }
}

/// `PATCH /api/me`: a field left out is unchanged; `null` clears it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatchRequest {
    /// New full name.
    #[serde(default)]
    pub full_name: Option<String>,
    /// New phone (E.164), or `null` to clear.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// New address, or `null` to clear.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    /// New date of birth (`YYYY-MM-DD`), or `null` to clear.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<NaiveDate>)]
    pub date_of_birth: Option<Option<NaiveDate>>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// An admin's KYC decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KycDecision {
    /// Approve the pending submission.
    Verified,
    /// Reject it (a reason is required).
    Rejected,
}

/// `POST /api/admin/users/{id}/kyc`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KycReviewRequest {
    /// The decision.
    pub decision: KycDecision,
    /// Why, for a rejection (shown to the user).
    #[serde(default)]
    pub reason: Option<String>,
}

/// `GET /api/admin/users` query.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsersQuery {
    /// Continue after this user id (from `next_after`).
    pub after: Option<Uuid>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<usize>,
    /// Only users whose name or email contains this text (any case). A
    /// search reads at most 5,000 users per page; `next_after` continues it.
    pub q: Option<String>,
}

/// A page of users.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    /// The users, in id order.
    pub items: Vec<UserDto>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_after: Option<Uuid>,
}

//! Request and response bodies. Amounts cross JSON as strings ("12.50"),
//! never as numbers, so no float ever touches money. Request bodies refuse
//! unknown fields, so a misspelt field is an error rather than ignored.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use ledger_core::audit::{AuditOutcome, AuditRecord};
use ledger_core::identity::{Session, UserView};
use ledger_core::money::format_minor;
use ledger_core::{Account, Transaction};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

// ----- Auth -----

/// `POST /api/auth/register`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Email address (unique, case-insensitive).
    pub email: String,
    /// Password: 10 to 128 characters, not a common one.
    pub password: String,
    /// Full name.
    pub full_name: String,
}

/// `POST /api/auth/login`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
    /// A name for this device, shown in the sessions list.
    #[serde(default)]
    pub device_label: Option<String>,
}

/// A successful login. The token is shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// The bearer token (also set as the HttpOnly `ledger_session` cookie).
    pub token: String,
    /// The CSRF token cookie-authenticated writes send as `X-CSRF-Token`.
    pub csrf_token: String,
    /// The session opened.
    pub session: SessionDto,
    /// Who logged in.
    pub user: UserDto,
}

/// A login session (the token itself is never shown again).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionDto {
    /// Session id (for revocation).
    pub id: Uuid,
    /// The browser or client that opened it.
    pub user_agent: Option<String>,
    /// The address it was opened from.
    pub client_addr: Option<String>,
    /// The device label given at login.
    pub label: Option<String>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it was last used (updated at most once a minute).
    pub last_seen_at: DateTime<Utc>,
    /// When it ends regardless of use.
    pub expires_at: DateTime<Utc>,
    /// Whether this is the session making the request.
    pub current: bool,
}

impl SessionDto {
    /// The view of a session; `current` marks the caller's own.
    pub fn new(session: &Session, current: bool) -> SessionDto {
        SessionDto {
            id: session.id.0,
            user_agent: session.device.user_agent.clone(),
            client_addr: session.device.client_addr.map(|a| a.to_string()),
            label: session.device.label.clone(),
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            expires_at: session.expires_at,
            current,
        }
    }
}

/// The caller's live sessions, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    /// The sessions.
    pub items: Vec<SessionDto>,
}

/// How many sessions were revoked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevokedSessions {
    /// The count.
    pub revoked: usize,
}

/// `POST /api/auth/password/change`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The current password.
    pub current_password: String,
    /// The new password.
    pub new_password: String,
}

/// `POST /api/auth/password/reset-request`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestRequest {
    /// The account's email; the answer is the same whether it exists or not.
    pub email: String,
}

/// `POST /api/auth/password/reset`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The single-use token delivered to the user.
    pub token: String,
    /// The new password.
    pub new_password: String,
}

// ----- Users and profiles -----

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
}

/// A page of users.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    /// The users, in id order.
    pub items: Vec<UserDto>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_after: Option<Uuid>,
}

// ----- Accounts -----

/// `POST /api/accounts`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenAccountRequest {
    /// `checking`, `savings` or `investment`.
    pub kind: String,
    /// ISO 4217 code: `USD`, `EUR` or `GBP`.
    pub currency: String,
    /// Optional display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Balances, as strings in the currency's minor unit ("12.50").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BalanceDto {
    /// Sum of postings.
    pub posted: String,
    /// Sum of open holds.
    pub pending: String,
    /// What may be spent: posted minus pending.
    pub available: String,
}

/// An account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountDto {
    /// Account id.
    pub id: Uuid,
    /// The 12-digit account number (others pay to it).
    pub number: String,
    /// `checking`, `savings` or `investment`.
    pub kind: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Display name.
    pub name: Option<String>,
    /// `active`, `frozen` or `closed`.
    pub status: String,
    /// Balances.
    pub balance: BalanceDto,
    /// When opened.
    pub created_at: DateTime<Utc>,
    /// When its status or balance last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&Account> for AccountDto {
    fn from(account: &Account) -> AccountDto {
        AccountDto {
            id: *account.id.as_uuid(),
            number: account.number.to_string(),
            kind: account.kind.as_str().to_owned(),
            currency: account.currency.code().to_owned(),
            name: account.name.clone(),
            status: account.status.as_str().to_owned(),
            balance: BalanceDto::from(account),
            created_at: account.created_at,
            updated_at: account.updated_at,
        }
    }
}

impl From<&Account> for BalanceDto {
    fn from(account: &Account) -> BalanceDto {
        let c = account.currency;
        let b = &account.balance;
        BalanceDto {
            posted: format_minor(b.posted, c),
            pending: format_minor(b.pending, c),
            available: format_minor(b.available(), c),
        }
    }
}

/// The caller's accounts, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountList {
    /// The accounts.
    pub items: Vec<AccountDto>,
}

/// `GET /api/accounts/{id}/balance` (also the `balance` server-sent event).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BalanceResponse {
    /// The account.
    pub account_id: Uuid,
    /// ISO 4217 code.
    pub currency: String,
    /// Sum of postings.
    pub posted: String,
    /// Sum of open holds.
    pub pending: String,
    /// posted minus pending.
    pub available: String,
    /// When these figures were read (for events: when they changed).
    pub as_of: DateTime<Utc>,
}

impl BalanceResponse {
    /// The balances of an account as of an instant.
    pub fn new(account: &Account, as_of: DateTime<Utc>) -> BalanceResponse {
        let BalanceDto { posted, pending, available } = BalanceDto::from(account);
        BalanceResponse {
            account_id: *account.id.as_uuid(),
            currency: account.currency.code().to_owned(),
            posted,
            pending,
            available,
            as_of,
        }
    }
}

// ----- Money -----

/// `POST /api/transactions/deposits`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositRequest {
    /// The account credited.
    pub account_id: Uuid,
    /// Amount as a decimal string ("12.50").
    pub amount: String,
    /// Free text, up to 256 characters.
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /api/transactions/withdrawals`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalRequest {
    /// The account debited.
    pub account_id: Uuid,
    /// Amount as a decimal string.
    pub amount: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /api/transactions/transfers`: give exactly one of
/// `to_account_id` (one of the caller's accounts) and `to_account_number`
/// (anyone's account).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The account debited (the caller's).
    pub from_account_id: Uuid,
    /// The account credited, by id.
    #[serde(default)]
    pub to_account_id: Option<Uuid>,
    /// The account credited, by its 12-digit number.
    #[serde(default)]
    pub to_account_number: Option<String>,
    /// Amount as a decimal string.
    pub amount: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /api/holds`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// The account whose funds are reserved.
    pub account_id: Uuid,
    /// Amount as a decimal string.
    pub amount: String,
    /// When the hold stops being capturable (at most 30 days ahead).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Where a capture pays to, by account number; out of the ledger if absent.
    #[serde(default)]
    pub to_account_number: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /api/holds/{id}/capture`; an empty body captures the whole hold.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    /// How much to post (at most the held amount); the rest is released.
    #[serde(default)]
    pub amount: Option<String>,
}

/// A transaction (a money movement, or a hold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransactionDto {
    /// Transaction id (a hold's id).
    pub id: Uuid,
    /// `deposit`, `withdrawal`, `transfer` or `hold`.
    pub kind: String,
    /// `pending` (an open hold), `posted` or `voided`.
    pub status: String,
    /// Amount as a decimal string.
    pub amount: String,
    /// ISO 4217 code.
    pub currency: String,
    /// The account debited, if any.
    pub from_account_id: Option<Uuid>,
    /// The account credited, if any.
    pub to_account_id: Option<Uuid>,
    /// Free text.
    pub description: Option<String>,
    /// For a captured hold: the amount posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured_amount: Option<String>,
    /// For a hold: when it stops being capturable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When committed.
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&Transaction> for TransactionDto {
    fn from(t: &Transaction) -> TransactionDto {
        TransactionDto {
            id: *t.id.as_uuid(),
            kind: t.kind.as_str().to_owned(),
            status: t.status.as_str().to_owned(),
            amount: format_minor(t.amount, t.currency),
            currency: t.currency.code().to_owned(),
            from_account_id: t.from_account.map(|a| *a.as_uuid()),
            to_account_id: t.to_account.map(|a| *a.as_uuid()),
            description: t.description.clone(),
            captured_amount: t.captured_amount.map(|a| format_minor(a, t.currency)),
            expires_at: t.expires_at,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

// ----- History -----

/// `GET /api/transactions` query. `from` is inclusive, `to` exclusive.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only transactions touching this account (default: all of the caller's).
    pub account_id: Option<Uuid>,
    /// `deposit`, `withdrawal`, `transfer` or `hold`.
    pub kind: Option<String>,
    /// `pending`, `posted` or `voided`.
    pub status: Option<String>,
    /// Created at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Amount at least (decimal string).
    pub min_amount: Option<String>,
    /// Amount at most (decimal string).
    pub max_amount: Option<String>,
    /// Page size, 1 to 200 (default 50; larger values are capped at 200).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of history, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TransactionPage {
    /// The transactions.
    pub items: Vec<TransactionDto>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

// ----- Audit -----

/// `GET /api/audit` query.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Records after this sequence (from `next_after`; default 0).
    pub after: Option<u64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<usize>,
}

/// An audit record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditRecordDto {
    /// Position in the log, from 1.
    pub sequence: u64,
    /// When committed.
    pub at: DateTime<Utc>,
    /// Who acted (`system`, `user:<id>`).
    pub actor: String,
    /// What was attempted.
    pub action: String,
    /// What it was aimed at.
    pub target: String,
    /// `accepted` or `rejected`.
    pub outcome: String,
    /// For a rejection: the error code.
    pub code: Option<String>,
    /// For a rejection: why.
    pub reason: Option<String>,
    /// Request metadata and command details.
    pub metadata: BTreeMap<String, String>,
    /// Hash of the previous record (hex).
    pub prev_hash: String,
    /// Hash of this record (hex).
    pub hash: String,
}

impl From<&AuditRecord> for AuditRecordDto {
    fn from(r: &AuditRecord) -> AuditRecordDto {
        let (outcome, code, reason) = match &r.outcome {
            AuditOutcome::Accepted => ("accepted", None, None),
            AuditOutcome::Rejected { code, reason } => ("rejected", Some(code.clone()), Some(reason.clone())),
        };
        AuditRecordDto {
            sequence: r.sequence,
            at: r.at,
            actor: r.actor.clone(),
            action: r.action.clone(),
            target: r.target.clone(),
            outcome: outcome.to_owned(),
            code,
            reason,
            metadata: r.metadata.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            prev_hash: r.prev_hash.to_string(),
            hash: r.hash.to_string(),
        }
    }
}

/// A page of audit records, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// The records.
    pub items: Vec<AuditRecordDto>,
    /// Pass as `after` for the next page; `null` when this page was not full.
    pub next_after: Option<u64>,
}

/// The result of verifying the audit chain.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditVerification {
    /// Whether every record's hash and link verify.
    pub valid: bool,
    /// The last verified record's sequence (when valid).
    pub sequence: Option<u64>,
    /// The last verified record's hash (when valid).
    pub hash: Option<String>,
    /// Where and how the chain is broken (when not valid).
    pub error: Option<String>,
}

// ----- Webhook, health -----

/// An inbound event of the transactions webhook.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct WebhookEvent {
    /// The processor's event id: the idempotency key of what it causes.
    pub id: String,
    /// The event type; only `deposit.settled` is handled.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The account credited, by number.
    pub account_number: String,
    /// Amount as a decimal string.
    pub amount: String,
    /// ISO 4217 code; must be the account's currency.
    pub currency: String,
    /// The processor's reference, kept as the description.
    #[serde(default)]
    pub reference: Option<String>,
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: String,
    /// The storage backend (`memory`, `sled`, ...).
    pub storage: String,
    /// The service's version.
    pub version: String,
}

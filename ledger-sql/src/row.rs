//! Mapping between ledger-core's records and table rows, for both databases.
//!
//! Each record has its column list (in the order its values are produced),
//! a function giving the values to insert, and one reading a row back.
//! Reading checks everything it parses (enumerations, currencies, account
//! numbers, hash lengths): a row that does not map back is reported as
//! corrupt rather than guessed at.

use std::net::IpAddr;

use ledger_core::identity::{
    Device, Email, KycStatus, PasswordDigest, Profile, ResetToken, Role, Session, SessionId, User,
};
use ledger_core::transaction::Leg;
use ledger_core::{
    Account, AccountCode, AccountId, AccountKind, AccountNumber, AccountStatus, AuditMetadata, AuditOutcome,
    AuditRecord, Balance, Change, Currency, Digest, IdempotencyKey, IdempotencyRecord, Metadata, NormalBalance,
    Posting, Transaction, TransactionId, TransactionKind, TransactionStatus, UserId,
};

use rust_decimal::Decimal;

use crate::session::{Cells, corrupt};
use crate::stmt::{Value, int};

/// Columns of `accounts` read back into an [`Account`].
pub(crate) const ACCOUNT_COLUMNS: &str = "id, number, owner, kind, currency, name, status, overdraft_limit, posted, \
     pending, created_at, updated_at, code, normal_balance, ledger_floor, metadata";

/// Columns of `accounts` written by [`account_values`].
pub(crate) const ACCOUNT_INSERT_COLUMNS: &str = "id, number, owner, kind, currency, name, status, overdraft_limit, \
     posted, pending, created_at, updated_at, code, normal_balance, ledger_floor, metadata, opened_seq";

/// Columns of `transactions`, read and written.
pub(crate) const TRANSACTION_COLUMNS: &str = "id, sequence, kind, status, amount, currency, from_account, to_account, \
     description, captured_amount, expires_at, created_at, updated_at, legs, metadata, reverses, reversed_amount";

/// Columns of `postings`, read and written.
pub(crate) const POSTING_COLUMNS: &str = "sequence, transaction_id, account_id, amount, currency, balance_after, at";

/// Columns of `idempotency`, read and written.
pub(crate) const IDEMPOTENCY_COLUMNS: &str = "key, fingerprint, transaction_ids, created_at";

/// Columns of `audit_log`, read and written.
pub(crate) const AUDIT_COLUMNS: &str =
    "sequence, at, actor, action, target, outcome, code, reason, metadata, prev_hash, hash";

/// Columns of `users`, read and written.
pub(crate) const USER_COLUMNS: &str = "id, email, password, full_name, phone, address, date_of_birth, role, kyc_status, \
     kyc_reason, reset_token, created_at, updated_at";

/// Columns of `sessions`, read and written.
pub(crate) const SESSION_COLUMNS: &str = "id, user_id, token_digest, user_agent, client_addr, label, created_at, \
     last_seen_at, expires_at, idle_secs, revoked_at";

/// Columns of `reset_tokens`, read and written.
pub(crate) const RESET_TOKEN_COLUMNS: &str = "token_digest, user_id, created_at, expires_at, used_at";

/// Key and mutable columns of `accounts`, written by [`account_update_values`].
pub(crate) const ACCOUNT_UPDATE_COLUMNS: &str = "id, name, status, posted, pending, updated_at";

/// Key and mutable columns of `transactions`, written by [`transaction_update_values`].
pub(crate) const TRANSACTION_UPDATE_COLUMNS: &str = "id, status, captured_amount, updated_at, legs, reversed_amount";

/// Key and the column `decide` changes of `sessions` (revocation), written
/// by [`session_update_values`].
pub(crate) const SESSION_UPDATE_COLUMNS: &str = "id, revoked_at";

/// Key and the column `decide` changes of `reset_tokens` (use), written by
/// [`reset_token_update_values`].
pub(crate) const RESET_TOKEN_UPDATE_COLUMNS: &str = "token_digest, used_at";

/// Key and mutable columns of `users`, written by [`user_update_values`].
pub(crate) const USER_UPDATE_COLUMNS: &str = "id, email, password, full_name, phone, address, date_of_birth, role, \
     kyc_status, kyc_reason, reset_token, updated_at";

const OUTCOME_ACCEPTED: &str = "accepted";
const OUTCOME_REJECTED: &str = "rejected";

/// The values of a new account; `opened_seq` orders an owner's accounts
/// (negative: a placeholder, until its booking is sealed).
pub(crate) fn account_values(a: &Account, opened_seq: i64) -> Vec<Value> {
    vec![
        Value::Uuid(*a.id.as_uuid()),
        Value::Int(int(a.number.as_u64())),
        Value::Uuid(*a.owner.as_uuid()),
        Value::Text(a.kind.as_str().to_owned()),
        Value::Text(a.currency.code().to_owned()),
        Value::OptText(a.name.clone()),
        Value::Text(a.status.as_str().to_owned()),
        Value::Balance(a.overdraft_limit),
        Value::Balance(a.balance.posted),
        Value::Balance(a.balance.pending),
        Value::Time(a.created_at),
        Value::Time(a.updated_at),
        Value::OptText(a.code.as_ref().map(|c| c.as_str().to_owned())),
        Value::Text(a.normal_balance.as_str().to_owned()),
        Value::OptAmount(a.ledger_floor),
        Value::Text(metadata_json(&a.metadata)),
        Value::Int(opened_seq),
    ]
}

/// An account's id and new state, in [`ACCOUNT_UPDATE_COLUMNS`] order.
pub(crate) fn account_update_values(a: &Account) -> Vec<Value> {
    vec![
        Value::Uuid(*a.id.as_uuid()),
        Value::OptText(a.name.clone()),
        Value::Text(a.status.as_str().to_owned()),
        Value::Balance(a.balance.posted),
        Value::Balance(a.balance.pending),
        Value::Time(a.updated_at),
    ]
}

/// Reads an account row ([`ACCOUNT_COLUMNS`]).
pub(crate) fn account(row: &dyn Cells) -> Result<Account, sqlx::Error> {
    Ok(Account {
        id: AccountId::from_uuid(row.uuid("id")?),
        number: account_number(row.int("number")?)?,
        owner: UserId::from_uuid(row.uuid("owner")?),
        kind: parse(AccountKind::parse, &row.text("kind")?, "account kind")?,
        currency: currency(&row.text("currency")?)?,
        name: row.opt_text("name")?,
        status: parse(AccountStatus::parse, &row.text("status")?, "account status")?,
        overdraft_limit: row.balance("overdraft_limit")?,
        balance: Balance { posted: row.balance("posted")?, pending: row.balance("pending")? },
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        code: row
            .opt_text("code")?
            .map(|c| AccountCode::parse(&c).map_err(|_| corrupt(format!("account code {c:?}"))))
            .transpose()?,
        normal_balance: parse(NormalBalance::parse, &row.text("normal_balance")?, "normal balance")?,
        ledger_floor: row.opt_amount("ledger_floor")?,
        metadata: metadata(&row.text("metadata")?)?,
    })
}

/// Metadata as stored: a JSON object.
pub(crate) fn metadata_json(metadata: &Metadata) -> String {
    serde_json::to_string(metadata).unwrap_or_else(|_| "{}".to_owned())
}

/// Stored metadata: a JSON object ledger-core's bounds accept.
fn metadata(stored: &str) -> Result<Metadata, sqlx::Error> {
    serde_json::from_str(stored).map_err(|e| corrupt(format!("metadata: {e}")))
}

/// A transaction's legs as stored: a JSON array, or NULL for none.
fn legs_json(legs: &[Leg]) -> Option<String> {
    (!legs.is_empty()).then(|| serde_json::to_string(legs).unwrap_or_else(|_| "[]".to_owned()))
}

/// Stored legs: NULL for a transaction stored before legs existed.
fn legs(stored: Option<String>) -> Result<Vec<Leg>, sqlx::Error> {
    stored.map_or(Ok(Vec::new()), |json| serde_json::from_str(&json).map_err(|e| corrupt(format!("legs: {e}"))))
}

/// An account number as stored (an integer below 10^12).
pub(crate) fn account_number(stored: i64) -> Result<AccountNumber, sqlx::Error> {
    AccountNumber::parse(&format!("{stored:012}")).map_err(|e| corrupt(format!("account number {stored}: {e}")))
}

/// The values of a transaction, in [`TRANSACTION_COLUMNS`] order.
pub(crate) fn transaction_values(t: &Transaction) -> Vec<Value> {
    transaction_values_at(t, int(t.sequence))
}

/// [`transaction_values`] under another sequence (a booking's placeholder).
pub(crate) fn transaction_values_at(t: &Transaction, sequence: i64) -> Vec<Value> {
    vec![
        Value::Uuid(*t.id.as_uuid()),
        Value::Int(sequence),
        Value::Text(t.kind.as_str().to_owned()),
        Value::Text(t.status.as_str().to_owned()),
        Value::Amount(t.amount),
        Value::Text(t.currency.code().to_owned()),
        Value::OptUuid(t.from_account.map(|a| *a.as_uuid())),
        Value::OptUuid(t.to_account.map(|a| *a.as_uuid())),
        Value::OptText(t.description.clone()),
        Value::OptAmount(t.captured_amount),
        Value::OptTime(t.expires_at),
        Value::Time(t.created_at),
        Value::Time(t.updated_at),
        Value::OptText(legs_json(&t.legs)),
        Value::Text(metadata_json(&t.metadata)),
        Value::OptUuid(t.reverses.map(|r| *r.as_uuid())),
        Value::Amount(t.reversed_amount),
    ]
}

/// A hold's id and new state, in [`TRANSACTION_UPDATE_COLUMNS`] order.
pub(crate) fn transaction_update_values(t: &Transaction) -> Vec<Value> {
    vec![
        Value::Uuid(*t.id.as_uuid()),
        Value::Text(t.status.as_str().to_owned()),
        Value::OptAmount(t.captured_amount),
        Value::Time(t.updated_at),
        Value::OptText(legs_json(&t.legs)),
        Value::Amount(t.reversed_amount),
    ]
}

/// Reads a transaction row ([`TRANSACTION_COLUMNS`]).
pub(crate) fn transaction(row: &dyn Cells) -> Result<Transaction, sqlx::Error> {
    let currency = currency(&row.text("currency")?)?;
    Ok(Transaction {
        id: TransactionId::from_uuid(row.uuid("id")?),
        sequence: sequence(row.int("sequence")?)?,
        kind: parse(TransactionKind::parse, &row.text("kind")?, "transaction kind")?,
        status: parse(TransactionStatus::parse, &row.text("status")?, "transaction status")?,
        amount: in_minor_units(row.amount("amount")?, currency),
        currency,
        from_account: row.opt_uuid("from_account")?.map(AccountId::from_uuid),
        to_account: row.opt_uuid("to_account")?.map(AccountId::from_uuid),
        description: row.opt_text("description")?,
        captured_amount: row.opt_amount("captured_amount")?.map(|a| in_minor_units(a, currency)),
        expires_at: row.opt_time("expires_at")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        legs: legs(row.opt_text("legs")?)?,
        metadata: metadata(&row.text("metadata")?)?,
        reverses: row.opt_uuid("reverses")?.map(TransactionId::from_uuid),
        reversed_amount: in_minor_units(row.amount("reversed_amount")?, currency),
    })
}

/// The values of a posting, in [`POSTING_COLUMNS`] order.
pub(crate) fn posting_values(p: &Posting) -> Vec<Value> {
    vec![
        Value::Int(int(p.sequence)),
        Value::Uuid(*p.transaction_id.as_uuid()),
        Value::Uuid(*p.account_id.as_uuid()),
        Value::Amount(p.amount),
        Value::Text(p.currency.code().to_owned()),
        Value::Balance(p.balance_after),
        Value::Time(p.at),
    ]
}

/// Reads a posting row ([`POSTING_COLUMNS`]).
pub(crate) fn posting(row: &dyn Cells) -> Result<Posting, sqlx::Error> {
    let currency = currency(&row.text("currency")?)?;
    Ok(Posting {
        sequence: sequence(row.int("sequence")?)?,
        transaction_id: TransactionId::from_uuid(row.uuid("transaction_id")?),
        account_id: AccountId::from_uuid(row.uuid("account_id")?),
        amount: in_minor_units(row.amount("amount")?, currency),
        currency,
        balance_after: in_minor_units(row.balance("balance_after")?, currency),
        at: row.time("at")?,
    })
}

/// The values of an idempotency record, in [`IDEMPOTENCY_COLUMNS`] order.
pub(crate) fn idempotency_values(r: &IdempotencyRecord) -> Result<Vec<Value>, sqlx::Error> {
    let ids = serde_json::to_string(&r.transaction_ids).map_err(|e| sqlx::Error::Encode(e.into()))?;
    Ok(vec![
        Value::Text(r.key.as_str().to_owned()),
        Value::Bytes(r.fingerprint.0.to_vec()),
        Value::Text(ids),
        Value::Time(r.created_at),
    ])
}

/// Reads an idempotency row ([`IDEMPOTENCY_COLUMNS`]).
pub(crate) fn idempotency(row: &dyn Cells) -> Result<IdempotencyRecord, sqlx::Error> {
    let key = row.text("key")?;
    let ids = row.text("transaction_ids")?;
    Ok(IdempotencyRecord {
        key: IdempotencyKey::new(key.clone()).map_err(|_| corrupt(format!("idempotency key {key:?}")))?,
        fingerprint: digest(row.bytes("fingerprint")?)?,
        transaction_ids: serde_json::from_str(&ids)
            .map_err(|e| corrupt(format!("transaction ids of idempotency key {key:?}: {e}")))?,
        created_at: row.time("created_at")?,
    })
}

/// The values of an audit record, in [`AUDIT_COLUMNS`] order.
pub(crate) fn audit_values(r: &AuditRecord) -> Result<Vec<Value>, sqlx::Error> {
    let (outcome, code, reason) = match &r.outcome {
        AuditOutcome::Accepted => (OUTCOME_ACCEPTED, None, None),
        AuditOutcome::Rejected { code, reason } => (OUTCOME_REJECTED, Some(code.clone()), Some(reason.clone())),
    };
    let metadata = serde_json::to_string(&r.metadata).map_err(|e| sqlx::Error::Encode(e.into()))?;
    Ok(vec![
        Value::Int(int(r.sequence)),
        Value::Time(r.at),
        Value::Text(r.actor.clone()),
        Value::Text(r.action.clone()),
        Value::Text(r.target.clone()),
        Value::Text(outcome.to_owned()),
        Value::OptText(code),
        Value::OptText(reason),
        Value::Text(metadata),
        Value::Bytes(r.prev_hash.0.to_vec()),
        Value::Bytes(r.hash.0.to_vec()),
    ])
}

/// The columns of a change row, in [`change_values`] order.
pub(crate) const CHANGE_COLUMNS: &str = "sequence, kind, at, body";

/// A change's row: its body is the change as serialized here, read back
/// by [`change`] unchanged.
pub(crate) fn change_values(c: &Change) -> Result<Vec<Value>, sqlx::Error> {
    let body = serde_json::to_string(c).map_err(|e| sqlx::Error::Encode(e.into()))?;
    Ok(vec![Value::Int(int(c.sequence)), Value::Text(c.kind.as_str().to_owned()), Value::Time(c.at), Value::Text(body)])
}

/// Reads a change row's body.
pub(crate) fn change(row: &dyn Cells) -> Result<Change, sqlx::Error> {
    let body = row.text("body")?;
    serde_json::from_str(&body).map_err(|e| sqlx::Error::Decode(format!("a stored change does not decode: {e}").into()))
}

/// Reads a count (`n`).
pub(crate) fn count(row: &dyn Cells) -> Result<u64, sqlx::Error> {
    u64::try_from(row.int("n")?).map_err(|e| sqlx::Error::Decode(e.into()))
}

/// Reads a sink cursor (`sequence`).
pub(crate) fn cursor(row: &dyn Cells) -> Result<u64, sqlx::Error> {
    sequence(row.int("sequence")?)
}

/// Reads an audit row ([`AUDIT_COLUMNS`]).
pub(crate) fn audit(row: &dyn Cells) -> Result<AuditRecord, sqlx::Error> {
    let sequence = sequence(row.int("sequence")?)?;
    let outcome = match row.text("outcome")?.as_str() {
        OUTCOME_ACCEPTED => AuditOutcome::Accepted,
        OUTCOME_REJECTED => AuditOutcome::Rejected {
            code: row.opt_text("code")?.unwrap_or_default(),
            reason: row.opt_text("reason")?.unwrap_or_default(),
        },
        other => return Err(corrupt(format!("audit record {sequence}: outcome {other:?}"))),
    };
    let metadata: AuditMetadata = serde_json::from_str(&row.text("metadata")?)
        .map_err(|e| corrupt(format!("audit record {sequence}: metadata: {e}")))?;
    Ok(AuditRecord {
        sequence,
        at: row.time("at")?,
        actor: row.text("actor")?,
        action: row.text("action")?,
        target: row.text("target")?,
        outcome,
        metadata,
        prev_hash: digest(row.bytes("prev_hash")?)?,
        hash: digest(row.bytes("hash")?)?,
    })
}

/// The values of a user, in [`USER_COLUMNS`] order.
pub(crate) fn user_values(u: &User) -> Vec<Value> {
    let mut values = user_state_values(u);
    values.extend([Value::Time(u.created_at), Value::Time(u.updated_at)]);
    values
}

/// A user's id and new state, in [`USER_UPDATE_COLUMNS`] order.
pub(crate) fn user_update_values(u: &User) -> Vec<Value> {
    let mut values = user_state_values(u);
    values.push(Value::Time(u.updated_at));
    values
}

/// A user's id and every column an update may change except `updated_at`:
/// the head both column lists share.
fn user_state_values(u: &User) -> Vec<Value> {
    vec![
        Value::Uuid(*u.id.as_uuid()),
        Value::Text(u.email.as_str().to_owned()),
        Value::Text(u.password.as_str().to_owned()),
        Value::Text(u.profile.full_name.clone()),
        Value::OptText(u.profile.phone.clone()),
        Value::OptText(u.profile.address.clone()),
        Value::OptDate(u.profile.date_of_birth),
        Value::Text(u.role.as_str().to_owned()),
        Value::Text(u.kyc_status.as_str().to_owned()),
        Value::OptText(u.kyc_reason.clone()),
        Value::OptText(u.reset_token.map(|d| d.to_string())),
    ]
}

/// Reads a user row ([`USER_COLUMNS`]).
pub(crate) fn user(row: &dyn Cells) -> Result<User, sqlx::Error> {
    let id = UserId::from_uuid(row.uuid("id")?);
    Ok(User {
        id,
        email: email(row.text("email")?)?,
        password: PasswordDigest::from_stored(row.text("password")?),
        profile: Profile {
            full_name: row.text("full_name")?,
            phone: row.opt_text("phone")?,
            address: row.opt_text("address")?,
            date_of_birth: row.opt_date("date_of_birth")?,
        },
        role: parse(Role::parse, &row.text("role")?, "role")?,
        kyc_status: parse(KycStatus::parse, &row.text("kyc_status")?, "KYC status")?,
        kyc_reason: row.opt_text("kyc_reason")?,
        reset_token: row.opt_text("reset_token")?.map(|hex| hex_digest(&hex)).transpose()?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// A digest stored as lower-case hex.
fn hex_digest(hex: &str) -> Result<Digest, sqlx::Error> {
    Digest::from_hex(hex).ok_or_else(|| corrupt(format!("digest {hex:?}")))
}

/// A stored email: it must already be in ledger-core's normal form, or
/// parsing would silently change it.
pub(crate) fn email(stored: String) -> Result<Email, sqlx::Error> {
    match Email::parse(&stored) {
        Ok(email) if email.as_str() == stored => Ok(email),
        _ => Err(corrupt(format!("email {stored:?}"))),
    }
}

/// The values of a session, in [`SESSION_COLUMNS`] order.
pub(crate) fn session_values(s: &Session) -> Vec<Value> {
    vec![
        Value::Uuid(s.id.0),
        Value::Uuid(*s.user_id.as_uuid()),
        Value::Bytes(s.token_digest.0.to_vec()),
        Value::OptText(s.device.user_agent.clone()),
        Value::OptText(s.device.client_addr.map(|a| a.to_string())),
        Value::OptText(s.device.label.clone()),
        Value::Time(s.created_at),
        Value::Time(s.last_seen_at),
        Value::Time(s.expires_at),
        Value::Int(s.idle_secs),
        Value::OptTime(s.revoked_at),
    ]
}

/// A session's key and new state, in [`SESSION_UPDATE_COLUMNS`] order.
pub(crate) fn session_update_values(s: &Session) -> Vec<Value> {
    vec![Value::Uuid(s.id.0), Value::OptTime(s.revoked_at)]
}

/// Reads a session row ([`SESSION_COLUMNS`]).
pub(crate) fn session(row: &dyn Cells) -> Result<Session, sqlx::Error> {
    let id = SessionId(row.uuid("id")?);
    let client_addr = match row.opt_text("client_addr")? {
        Some(text) => {
            Some(text.parse::<IpAddr>().map_err(|_| corrupt(format!("session {id}: client address {text:?}")))?)
        }
        None => None,
    };
    Ok(Session {
        id,
        user_id: UserId::from_uuid(row.uuid("user_id")?),
        token_digest: digest(row.bytes("token_digest")?)?,
        device: Device { user_agent: row.opt_text("user_agent")?, client_addr, label: row.opt_text("label")? },
        created_at: row.time("created_at")?,
        last_seen_at: row.time("last_seen_at")?,
        expires_at: row.time("expires_at")?,
        idle_secs: row.int("idle_secs")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

/// The values of a reset token, in [`RESET_TOKEN_COLUMNS`] order.
pub(crate) fn reset_token_values(t: &ResetToken) -> Vec<Value> {
    vec![
        Value::Bytes(t.token_digest.0.to_vec()),
        Value::Uuid(*t.user_id.as_uuid()),
        Value::Time(t.created_at),
        Value::Time(t.expires_at),
        Value::OptTime(t.used_at),
    ]
}

/// A reset token's key and new state, in [`RESET_TOKEN_UPDATE_COLUMNS`] order.
pub(crate) fn reset_token_update_values(t: &ResetToken) -> Vec<Value> {
    vec![Value::Bytes(t.token_digest.0.to_vec()), Value::OptTime(t.used_at)]
}

/// Reads a reset token row ([`RESET_TOKEN_COLUMNS`]).
pub(crate) fn reset_token(row: &dyn Cells) -> Result<ResetToken, sqlx::Error> {
    Ok(ResetToken {
        token_digest: digest(row.bytes("token_digest")?)?,
        user_id: UserId::from_uuid(row.uuid("user_id")?),
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        used_at: row.opt_time("used_at")?,
    })
}

/// A stored SHA-256 digest (exactly 32 bytes).
pub(crate) fn digest(bytes: Vec<u8>) -> Result<Digest, sqlx::Error> {
    let len = bytes.len();
    <[u8; 32]>::try_from(bytes).map(Digest).map_err(|_| corrupt(format!("a digest of {len} bytes")))
}

/// A stored sequence (never negative).
pub(crate) fn sequence(stored: i64) -> Result<u64, sqlx::Error> {
    u64::try_from(stored).map_err(|_| corrupt(format!("negative sequence {stored}")))
}

/// An amount with its currency's decimal places, as ledger-core writes every
/// amount ("12.50"). PostgreSQL's NUMERIC keeps the scale anyway; SQLite's
/// integer units do not, and this gives it back. It only ever adds zeros: a
/// value with more places than the currency has is returned as it is, never
/// rounded.
fn in_minor_units(amount: Decimal, currency: Currency) -> Decimal {
    let mut exact = amount.normalize();
    if exact.scale() <= currency.exponent() {
        exact.rescale(currency.exponent());
        exact
    } else {
        amount
    }
}

fn currency(code: &str) -> Result<Currency, sqlx::Error> {
    Currency::from_code(code).map_err(|_| corrupt(format!("currency {code:?}")))
}

fn parse<T>(parse: fn(&str) -> Option<T>, text: &str, what: &str) -> Result<T, sqlx::Error> {
    parse(text).ok_or_else(|| corrupt(format!("{what} {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_get_their_currency_places_back_without_rounding() {
        let usd = |text: &str| in_minor_units(Decimal::from_str_exact(text).unwrap_or_default(), Currency::Usd);
        assert_eq!(usd("12.5").to_string(), "12.50");
        assert_eq!(usd("12.5000").to_string(), "12.50");
        assert_eq!(usd("-3").to_string(), "-3.00");
        assert_eq!(usd("0.001").to_string(), "0.001");
    }
}

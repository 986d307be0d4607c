//! Reading inside an apply call's storage transaction: the audit head (the
//! lock that orders committers), one batch's keys, or the head and the
//! union of a group's keys at once (one query per key kind, the accounts'
//! and the idempotency records' with the head's; rows locked in id order).

use std::collections::BTreeSet;

use ledger_core::{
    Account, AccountCode, AccountId, AuditHead, IdempotencyKey, IdempotencyRecord, Keys, Rows, Snapshot, UserId,
};

use crate::prefixed::Prefixed;
use crate::queries;
use crate::row;
use crate::session::{Cells, Session, corrupt};
use crate::stmt::Stmt;

/// Keys per prefetch query, well below SQLite's 32766 placeholders (on
/// PostgreSQL the list is one array). Chunks are taken in key order, so
/// rows are still locked in id order.
const KEYS_PER_QUERY_MAX: usize = 1000;

/// The audit head, locked: the first statement of every write, so committers
/// in every process queue here, in one order.
pub(crate) async fn read_head<S: Session>(s: &mut S) -> Result<AuditHead, sqlx::Error> {
    let rows = s.fetch(&queries::lock_audit_head(S::DIALECT)).await?;
    head_of(rows.first().map(|r| r as &dyn Cells))
}

/// The head in the first row of a statement that reads it.
fn head_of(row: Option<&dyn Cells>) -> Result<AuditHead, sqlx::Error> {
    let row = row.ok_or_else(|| corrupt("the audit_head row is missing"))?;
    Ok(AuditHead {
        sequence: row::sequence(row.int("sequence")?)?,
        hash: row::digest(row.bytes("hash")?)?,
        at: row.opt_time("at")?,
    })
}

/// Reads (and on PostgreSQL locks) the state a batch's keys name.
pub(crate) async fn load_snapshot<S: Session>(s: &mut S, keys: &Keys) -> Result<Snapshot, sqlx::Error> {
    let d = S::DIALECT;
    let mut snapshot = Snapshot::default();
    if !keys.accounts.is_empty() {
        for r in s.fetch(&queries::lock_accounts(d, &keys.accounts)).await? {
            let account = row::account(&r)?;
            snapshot.accounts.insert(account.id, account);
        }
    }
    if !keys.transactions.is_empty() {
        for r in s.fetch(&queries::lock_transactions(d, &keys.transactions)).await? {
            let transaction = row::transaction(&r)?;
            snapshot.transactions.insert(transaction.id, transaction);
        }
    }
    if !keys.account_numbers.is_empty() {
        for r in s.fetch(&queries::taken_numbers(d, &keys.account_numbers)).await? {
            snapshot.taken_numbers.insert(row::account_number(r.int("number")?)?);
        }
    }
    if !keys.account_codes.is_empty() {
        for r in s.fetch(&queries::taken_codes(d, &keys.account_codes)).await? {
            let code = r.text("code")?;
            snapshot
                .taken_codes
                .insert(AccountCode::parse(&code).map_err(|_| corrupt(format!("account code {code:?}")))?);
        }
    }
    if !keys.owners.is_empty() {
        for r in s.fetch(&queries::owner_account_counts(d, &keys.owners)).await? {
            let owner = UserId::from_uuid(r.uuid("owner")?);
            let count = usize::try_from(r.int("accounts")?).map_err(|_| corrupt("a negative account count"))?;
            snapshot.owned_accounts.insert(owner, count);
        }
    }
    if let Some(key) = &keys.idempotency {
        let rows = s.fetch(&queries::idempotency_records(d, [key.as_str()])).await?;
        snapshot.idempotency = rows.first().map(|r| row::idempotency(r)).transpose()?;
    }
    if !keys.users.is_empty() {
        for r in s.fetch(&queries::lock_users(d, &keys.users)).await? {
            let user = row::user(&r)?;
            snapshot.users.insert(user.id, user);
        }
    }
    if !keys.emails.is_empty() {
        for r in s.fetch(&queries::taken_emails(d, &keys.emails)).await? {
            snapshot.taken_emails.insert(row::email(r.text("email")?)?);
        }
    }
    // The sessions named (in any state), then every unrevoked session of the
    // users named; a session in both is read twice and kept once.
    if !keys.sessions.is_empty() {
        for r in s.fetch(&queries::lock_sessions(d, &keys.sessions)).await? {
            let session = row::session(&r)?;
            snapshot.sessions.insert(session.id, session);
        }
    }
    if !keys.sessions_of.is_empty() {
        for r in s.fetch(&queries::lock_live_sessions_of(d, &keys.sessions_of)).await? {
            let session = row::session(&r)?;
            snapshot.sessions.insert(session.id, session);
        }
    }
    if !keys.reset_tokens.is_empty() {
        for r in s.fetch(&queries::lock_reset_tokens(d, &keys.reset_tokens)).await? {
            let token = row::reset_token(&r)?;
            snapshot.reset_tokens.insert(token.token_digest, token);
        }
    }
    Ok(snapshot)
}

/// The head, locked first, and the union of a group's keys: accounts and
/// idempotency records (read with the head, [`head_with_rows`]), then
/// holds and users locked in id order (see [`ledger_core::rows_hold`]).
pub(crate) async fn head_and_rows<S: Session>(s: &mut S, keys: &[Keys]) -> Result<(AuditHead, Rows), sqlx::Error> {
    let d = S::DIALECT;
    let accounts: Vec<_> = union(keys.iter().flat_map(|k| &k.accounts));
    let holds: Vec<_> = union(keys.iter().flat_map(|k| &k.transactions));
    let users: Vec<_> = union(keys.iter().flat_map(|k| &k.users));
    let claimed: Vec<&str> = union(keys.iter().filter_map(|k| k.idempotency.as_ref()).map(IdempotencyKey::as_str));
    let mut rows = Rows::default();
    let (head, locked, records) = head_with_rows(s, &accounts, &claimed).await?;
    for account in locked {
        rows.accounts.insert(account.id, account);
    }
    for record in records {
        rows.idempotency.insert(record.key.clone(), record);
    }
    for hold in fetch_chunked(s, &holds, |c| queries::lock_transactions(d, c.iter().copied()), row::transaction).await?
    {
        rows.transactions.insert(hold.id, hold);
    }
    for user in fetch_chunked(s, &users, |c| queries::lock_users(d, c.iter().copied()), row::user).await? {
        rows.users.insert(user.id, user);
    }
    Ok((head, rows))
}

/// The head, locked, these accounts (distinct, in id order), locked after
/// it, and the idempotency records of these keys: the head with the first
/// chunk of each in one statement ([`queries::lock_head_with_rows`]), any
/// further chunks after it.
///
/// That statement reads one snapshot, taken before it waited for the head
/// (PostgreSQL, read committed). An account found there is returned as the
/// last commit left it (a row lock reads the newest version), but one that
/// the head's previous holder created is not found; so the ids not found
/// are read again, by a statement that starts once the head is held and
/// sees every commit before this one (later committers wait for the head).
/// Accounts are never deleted, so one still missing does not exist. A
/// record missing the same way is not read again: the key is then stored
/// already, so this call's insert of it fails on the primary key, which
/// runs the call again (`error::postgres_retryable`), and that run finds it.
async fn head_with_rows<S: Session>(
    s: &mut S,
    ids: &[&AccountId],
    keys: &[&str],
) -> Result<(AuditHead, Vec<Account>, Vec<IdempotencyRecord>), sqlx::Error> {
    let d = S::DIALECT;
    let (first_ids, more_ids) = ids.split_at(ids.len().min(KEYS_PER_QUERY_MAX));
    let (first_keys, more_keys) = keys.split_at(keys.len().min(KEYS_PER_QUERY_MAX));
    let statement = queries::lock_head_with_rows(d, first_ids.iter().copied(), first_keys.iter().copied());
    let rows = s.fetch(&statement).await?;
    let head = head_of(rows.first().map(|r| r as &dyn Cells))?;
    let (mut accounts, mut records) = (Vec::with_capacity(ids.len()), Vec::with_capacity(keys.len()));
    for r in &rows {
        let record = Prefixed { cells: r, prefix: queries::RECORD_PREFIX };
        if r.opt_uuid("id")?.is_some() {
            accounts.push(row::account(r)?);
        } else if record.opt_text("key")?.is_some() {
            records.push(row::idempotency(&record)?);
        }
    }
    let found: BTreeSet<AccountId> = accounts.iter().map(|a| a.id).collect();
    let missing: Vec<&AccountId> = first_ids.iter().copied().filter(|id| !found.contains(id)).collect();
    let lock = |c: &[&AccountId]| queries::lock_accounts(d, c.iter().copied());
    accounts.extend(fetch_chunked(s, &missing, lock, row::account).await?);
    accounts.extend(fetch_chunked(s, more_ids, lock, row::account).await?);
    let read = |c: &[&str]| queries::idempotency_records(d, c.iter().copied());
    records.extend(fetch_chunked(s, more_keys, read, row::idempotency).await?);
    Ok((head, accounts, records))
}

/// The distinct keys, in order: the order rows are locked in.
fn union<K: Ord>(keys: impl Iterator<Item = K>) -> Vec<K> {
    keys.collect::<BTreeSet<K>>().into_iter().collect()
}

/// Runs `query` for `keys` in chunks of [`KEYS_PER_QUERY_MAX`] (in key
/// order, so locks are still taken in that order) and maps every row.
async fn fetch_chunked<S: Session, K: Sync, T>(
    s: &mut S,
    keys: &[K],
    query: impl Fn(&[K]) -> Stmt,
    map: fn(&dyn Cells) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, sqlx::Error> {
    let mut rows = Vec::new();
    for chunk in keys.chunks(KEYS_PER_QUERY_MAX) {
        for r in s.fetch(&query(chunk)).await? {
            rows.push(map(&r)?);
        }
    }
    Ok(rows)
}

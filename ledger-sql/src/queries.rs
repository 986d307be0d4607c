//! Every statement the store runs, built once for both databases.
//!
//! Each read names the index it is meant to use (see the migrations); the
//! PostgreSQL test `history_query_uses_the_account_indexes` checks the plan
//! of the history query.

use chrono::{DateTime, Utc};
use ledger_core::identity::{Email, SessionId};
use ledger_core::{AccountCode, AccountId, AccountNumber, AuditHead, Digest, PostingRange, TransactionId, UserId};

use crate::prefixed::qualified;
use crate::row::{
    ACCOUNT_COLUMNS, AUDIT_COLUMNS, IDEMPOTENCY_COLUMNS, POSTING_COLUMNS, RESET_TOKEN_COLUMNS, SESSION_COLUMNS,
    TRANSACTION_COLUMNS, USER_COLUMNS,
};
use crate::stmt::{Dialect, List, Stmt, Value, int};

mod history;

pub(crate) use history::history;

fn uuids<T>(ids: impl IntoIterator<Item = T>, uuid: impl Fn(T) -> uuid::Uuid) -> List {
    List::Uuids(ids.into_iter().map(uuid).collect())
}

fn digests<'a>(digests: impl IntoIterator<Item = &'a Digest>) -> List {
    List::Bytes(digests.into_iter().map(|d| d.0.to_vec()).collect())
}

// Audit head.

/// Reads the chain's head and its last record's time, locking the head's
/// row on PostgreSQL: every committer takes this lock first, which
/// serialises commits. The time is a column of the locked row, not a read
/// of `audit_log`: a committer that waited for the lock sees the row its
/// predecessor wrote, but a subquery would still see its older snapshot.
pub(crate) fn lock_audit_head(d: Dialect) -> Stmt {
    let mut s = Stmt::new(d, "SELECT sequence, hash, at FROM audit_head WHERE id = 1");
    s.for_update();
    s
}

/// The prefix of the idempotency records' columns in [`lock_head_with_rows`].
pub(crate) const RECORD_PREFIX: &str = "i_";

/// The head, the accounts with these ids and the idempotency records of
/// these keys in one statement: the head's row locked first, then the
/// accounts in id order, as [`lock_audit_head`] then [`lock_accounts`]
/// would (on PostgreSQL the accounts and records are `LATERAL` subqueries
/// that name the head's row, so they run only once the head is locked).
/// One row per account found and one per record found (a `FULL JOIN ... ON
/// false` puts them one under the other, the other table's columns null;
/// the records' columns prefixed [`RECORD_PREFIX`]), each carrying the
/// head; one row with neither when none is found.
///
/// On PostgreSQL the whole statement reads one snapshot, taken before it
/// waited for the head: an account or record the previous holder of the
/// head stored is missing from it (see `load::head_with_rows`).
pub(crate) fn lock_head_with_rows<'a>(
    d: Dialect,
    ids: impl IntoIterator<Item = &'a AccountId>,
    keys: impl IntoIterator<Item = &'a str>,
) -> Stmt {
    let (lateral, once_locked) = match d {
        Dialect::Postgres => ("LATERAL ", "h.sequence IS NOT NULL AND "),
        Dialect::Sqlite => ("", ""),
    };
    let records = qualified("idempotency", IDEMPOTENCY_COLUMNS, RECORD_PREFIX);
    let mut s = Stmt::new(
        d,
        "SELECT h.sequence, h.hash, h.at, x.* FROM (SELECT sequence, hash, at FROM audit_head WHERE id = 1",
    );
    s.for_update();
    s.push(&format!(
        ") h LEFT JOIN {lateral}(SELECT a.*, i.* FROM (SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {once_locked}"
    ));
    s.any_of("id", uuids(ids, |id| *id.as_uuid())).push(" ORDER BY id").for_update();
    s.push(&format!(") a FULL JOIN (SELECT {records} FROM idempotency WHERE {once_locked}"));
    s.any_of("key", List::Texts(keys.into_iter().map(str::to_owned).collect()));
    s.push(") i ON false) x ON true");
    s
}

/// Moves the head after the batches of one call.
pub(crate) fn write_audit_head(d: Dialect, head: AuditHead) -> Stmt {
    let mut s = Stmt::new(d, "UPDATE audit_head SET sequence = ");
    s.bind(Value::Int(int(head.sequence))).push(", hash = ").bind(Value::Bytes(head.hash.0.to_vec()));
    s.push(", at = ").bind(Value::OptTime(head.at));
    s.push(" WHERE id = 1");
    s
}

// Snapshot loads (inside the write transaction).

/// Accounts by id, locked in id order (the order [`ledger_core::Keys`] gives).
pub(crate) fn lock_accounts<'a>(d: Dialect, ids: impl IntoIterator<Item = &'a AccountId>) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE "));
    s.any_of("id", uuids(ids, |id| *id.as_uuid())).push(" ORDER BY id").for_update();
    s
}

/// Transactions (holds) by id, locked in id order.
pub(crate) fn lock_transactions<'a>(d: Dialect, ids: impl IntoIterator<Item = &'a TransactionId>) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE "));
    s.any_of("id", uuids(ids, |id| *id.as_uuid())).push(" ORDER BY id").for_update();
    s
}

/// Which of these account numbers are taken (unique index `accounts_number_key`).
pub(crate) fn taken_numbers<'a>(d: Dialect, numbers: impl IntoIterator<Item = &'a AccountNumber>) -> Stmt {
    let mut s = Stmt::new(d, "SELECT number FROM accounts WHERE ");
    s.any_of("number", List::Ints(numbers.into_iter().map(|n| int(n.as_u64())).collect()));
    s
}

/// Which of these ledger account codes are taken (`accounts_code_key`).
pub(crate) fn taken_codes<'a>(d: Dialect, codes: impl IntoIterator<Item = &'a AccountCode>) -> Stmt {
    let mut s = Stmt::new(d, "SELECT code FROM accounts WHERE ");
    s.any_of("code", List::Texts(codes.into_iter().map(|c| c.as_str().to_owned()).collect()));
    s
}

/// How many accounts each of these owners has (`accounts_owner_idx`); an
/// owner with none has no row. Inside `apply`, behind the audit head's lock,
/// no other commit can open an account between this count and the insert.
pub(crate) fn owner_account_counts<'a>(d: Dialect, owners: impl IntoIterator<Item = &'a UserId>) -> Stmt {
    let mut s = Stmt::new(d, "SELECT owner, COUNT(*) AS accounts FROM accounts WHERE ");
    s.any_of("owner", uuids(owners, |o| *o.as_uuid())).push(" GROUP BY owner");
    s
}

/// The stored record of an idempotency key (primary key), read outside a
/// write: the write's lookup of one key, planned on every run (see
/// [`Stmt::planned_each_run`]): the table grows by a row per command from
/// empty, and this read runs outside the write transactions that keep
/// sequential scans off (see `postgres::BEGIN`).
pub(crate) fn idempotency(d: Dialect, key: &str) -> Stmt {
    let mut s = idempotency_records(d, [key]);
    s.planned_each_run();
    s
}

/// The stored records of several idempotency keys (primary key).
pub(crate) fn idempotency_records<'a>(d: Dialect, keys: impl IntoIterator<Item = &'a str>) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {IDEMPOTENCY_COLUMNS} FROM idempotency WHERE "));
    s.any_of("key", List::Texts(keys.into_iter().map(str::to_owned).collect()));
    s
}

/// Users by id, locked in id order (`users_pkey`).
pub(crate) fn lock_users<'a>(d: Dialect, ids: impl IntoIterator<Item = &'a UserId>) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {USER_COLUMNS} FROM users WHERE "));
    s.any_of("id", uuids(ids, |id| *id.as_uuid())).push(" ORDER BY id").for_update();
    s
}

/// Which of these (normalised) emails are registered (`users_email_key`).
/// Not locked: a registration that would take one must first hold the audit
/// head, as this reader does.
pub(crate) fn taken_emails<'a>(d: Dialect, emails: impl IntoIterator<Item = &'a Email>) -> Stmt {
    let mut s = Stmt::new(d, "SELECT email FROM users WHERE ");
    s.any_of("email", List::Texts(emails.into_iter().map(|e| e.as_str().to_owned()).collect()));
    s
}

/// Sessions by id, in any state, locked in id order (`sessions_pkey`).
pub(crate) fn lock_sessions<'a>(d: Dialect, ids: impl IntoIterator<Item = &'a SessionId>) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE "));
    s.any_of("id", uuids(ids, |id| id.0)).push(" ORDER BY id").for_update();
    s
}

/// Every unrevoked session of these users, locked in id order (`sessions_user_idx`).
pub(crate) fn lock_live_sessions_of<'a>(d: Dialect, users: impl IntoIterator<Item = &'a UserId>) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE "));
    s.any_of("user_id", uuids(users, |id| *id.as_uuid()));
    s.push(" AND revoked_at IS NULL ORDER BY id").for_update();
    s
}

/// Reset tokens by digest, locked in digest order (`reset_tokens_pkey`).
pub(crate) fn lock_reset_tokens<'a>(d: Dialect, tokens: impl IntoIterator<Item = &'a Digest>) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {RESET_TOKEN_COLUMNS} FROM reset_tokens WHERE "));
    s.any_of("token_digest", digests(tokens)).push(" ORDER BY token_digest").for_update();
    s
}

/// Records a session's use: one guarded statement, so it never moves
/// last-seen backwards, never touches a revoked session, and (PostgreSQL)
/// waits for a commit holding the row and re-checks the guard after it.
/// The instant is rounded down to the stored microseconds.
pub(crate) fn touch_session(d: Dialect, id: SessionId, at: DateTime<Utc>) -> Stmt {
    let at = micros_floor(at);
    let mut s = Stmt::new(d, "UPDATE sessions SET last_seen_at = ");
    s.bind(Value::Time(at)).push(" WHERE id = ").bind(Value::Uuid(id.0));
    s.push(" AND revoked_at IS NULL AND last_seen_at < ").bind(Value::Time(at));
    s
}

/// Moves a sink's cursor to `to` if that is forward (one statement: two
/// racing advances never both read the old cursor).
pub(crate) fn advance_sink_cursor(d: Dialect, sink: &str, to: u64) -> Stmt {
    let mut s = Stmt::new(d, "INSERT INTO sink_cursors (sink, sequence) VALUES (");
    s.bind(Value::Text(sink.to_owned())).push(", ").bind(Value::Int(int(to)));
    s.push(") ON CONFLICT (sink) DO UPDATE SET sequence = excluded.sequence");
    s.push(" WHERE sink_cursors.sequence < excluded.sequence");
    s
}

/// Takes a lease nobody holds yet (changes one row if taken).
pub(crate) fn insert_lease(d: Dialect, name: &str, holder: &str, until: DateTime<Utc>) -> Stmt {
    let mut s = Stmt::new(d, "INSERT INTO leases (name, holder, until) VALUES (");
    s.bind(Value::Text(name.to_owned())).push(", ").bind(Value::Text(holder.to_owned()));
    s.push(", ").bind(Value::Time(micros_floor(until))).push(") ON CONFLICT (name) DO NOTHING");
    s
}

/// Renews a lease `holder` holds, or takes one expired at `now` (changes
/// one row if held). One statement: PostgreSQL re-checks the condition on
/// the row it waited for, so of two racing takers only the first wins.
pub(crate) fn renew_lease(d: Dialect, name: &str, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Stmt {
    let mut s = Stmt::new(d, "UPDATE leases SET holder = ");
    s.bind(Value::Text(holder.to_owned())).push(", until = ").bind(Value::Time(micros_floor(until)));
    s.push(" WHERE name = ").bind(Value::Text(name.to_owned()));
    s.push(" AND (holder = ").bind(Value::Text(holder.to_owned()));
    s.push(" OR until <= ").bind(Value::Time(micros_floor(now))).push(")");
    s
}

// Reads.

/// Changes after a sequence, in order (primary key); sealed only, as
/// `after` is never negative.
pub(crate) fn changes_after(d: Dialect, after: u64, limit: usize) -> Stmt {
    let mut s = Stmt::new(d, "SELECT body FROM changes WHERE sequence > ");
    s.bind(Value::Int(int(after))).push(" ORDER BY sequence").limit(limit);
    s
}

/// How many changes come after a sequence (a range of the primary key).
pub(crate) fn changes_count_after(d: Dialect, after: u64) -> Stmt {
    let mut s = Stmt::new(d, "SELECT COUNT(*) AS n FROM changes WHERE sequence > ");
    s.bind(Value::Int(int(after)));
    s
}

/// A sink's cursor.
pub(crate) fn sink_cursor(d: Dialect, sink: &str) -> Stmt {
    let mut s = Stmt::new(d, "SELECT sequence FROM sink_cursors WHERE sink = ");
    s.bind(Value::Text(sink.to_owned()));
    s
}

/// An account by id (primary key).
pub(crate) fn account(d: Dialect, id: AccountId) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = "));
    s.bind(Value::Uuid(*id.as_uuid()));
    s
}

/// An account by number (`accounts_number_key`).
pub(crate) fn account_by_number(d: Dialect, number: AccountNumber) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE number = "));
    s.bind(Value::Int(int(number.as_u64())));
    s
}

/// The ledger account with this code (`accounts_code_key`).
pub(crate) fn account_by_code(d: Dialect, code: &AccountCode) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE code = "));
    s.bind(Value::Text(code.as_str().to_owned()));
    s
}

/// Ledger accounts in code order after a cursor (`accounts_code_key`).
pub(crate) fn ledger_accounts(d: Dialect, after: Option<&AccountCode>, limit: usize) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE code IS NOT NULL"));
    if let Some(after) = after {
        s.push(" AND code > ").bind(Value::Text(after.as_str().to_owned()));
    }
    s.push(" ORDER BY code").limit(limit);
    s
}

/// An owner's accounts in the order they were opened (`accounts_owner_idx`
/// finds them; an owner has at most `ACCOUNTS_PER_OWNER_MAX`, so the sort
/// is small): sealed ones by sequence, then any still unsealed in booking
/// order (a placeholder `-(ticket * stride + position)`), which is the
/// order their seals will give them, as an owner's openings all lock the
/// owner's row.
pub(crate) fn accounts_by_owner(d: Dialect, owner: UserId) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE owner = "));
    s.bind(Value::Uuid(*owner.as_uuid())).push(" ORDER BY opened_seq < 0, abs(opened_seq)");
    s
}

/// All accounts in id order after a cursor (primary key).
pub(crate) fn accounts(d: Dialect, after: Option<AccountId>, limit: usize) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts"));
    if let Some(after) = after {
        s.push(" WHERE id > ").bind(Value::Uuid(*after.as_uuid()));
    }
    s.push(" ORDER BY id").limit(limit);
    s
}

/// A transaction by id (primary key).
pub(crate) fn transaction(d: Dialect, id: TransactionId) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE id = "));
    // A booking not sealed yet (PostgreSQL booking apart) is not visible.
    s.bind(Value::Uuid(*id.as_uuid())).push(" AND sequence > 0");
    s
}

/// An instant rounded down to the microseconds both databases store. Stored
/// instants are whole microseconds, so `stored <= t` iff `stored <= floor(t)`.
fn micros_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    t - chrono::Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos() % 1000))
}

/// An instant rounded up to whole microseconds: `stored >= t` iff
/// `stored >= ceil(t)`, and `stored < t` iff `stored < ceil(t)`. Binding `t`
/// as is would truncate it, and change both comparisons for a `t` with
/// nanoseconds.
fn micros_ceil(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = micros_floor(t);
    if floor == t { t } else { floor + chrono::Duration::microseconds(1) }
}

/// An account's sealed postings after a sequence, in order
/// (`postings_account_idx`; sealed rows have positive sequences).
pub(crate) fn postings(d: Dialect, account: AccountId, after: Option<u64>, limit: usize) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {POSTING_COLUMNS} FROM postings WHERE account_id = "));
    s.bind(Value::Uuid(*account.as_uuid()));
    s.push(" AND sequence > ").bind(Value::Int(int(after.unwrap_or(0))));
    s.push(" ORDER BY sequence").limit(limit);
    s
}

/// An account's last sealed posting committed at or before an instant: one
/// step back in `postings_account_time_idx` (an unsealed one, at a booked
/// time its seal may still move, is passed over).
pub(crate) fn posting_as_of(d: Dialect, account: AccountId, at: DateTime<Utc>) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {POSTING_COLUMNS} FROM postings WHERE account_id = "));
    s.bind(Value::Uuid(*account.as_uuid())).push(" AND at <= ").bind(Value::Time(micros_floor(at)));
    s.push(" AND sequence > 0");
    s.push(" ORDER BY at DESC, sequence DESC").limit(1);
    s
}

/// An account's sealed postings in a range ([`PostingRange::contains`]),
/// in its order, through `postings_account_time_idx`; the cursor is a
/// row-value comparison, which both databases serve from the index.
pub(crate) fn postings_in(d: Dialect, range: &PostingRange, limit: usize) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {POSTING_COLUMNS} FROM postings WHERE account_id = "));
    s.bind(Value::Uuid(*range.account.as_uuid())).push(" AND sequence > 0");
    if let Some(from) = range.from {
        s.push(" AND at >= ").bind(Value::Time(micros_ceil(from)));
    }
    if let Some(until) = range.until {
        s.push(" AND at < ").bind(Value::Time(micros_ceil(until)));
    }
    if let Some(after) = range.after {
        s.push(if range.newest_first { " AND (at, sequence) < (" } else { " AND (at, sequence) > (" });
        s.bind(Value::Time(after.at)).push(", ").bind(Value::Int(int(after.sequence))).push(")");
    }
    let order = if range.newest_first { " ORDER BY at DESC, sequence DESC" } else { " ORDER BY at, sequence" };
    s.push(order).limit(limit);
    s
}

/// Audit records after a sequence, in order (primary key).
pub(crate) fn audit_records(d: Dialect, after: u64, limit: usize) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE sequence > "));
    s.bind(Value::Int(int(after))).push(" ORDER BY sequence").limit(limit);
    s
}

/// Open holds expired at `at`, oldest expiry first (`transactions_pending_expiry_idx`:
/// the literal predicate lets both databases use the partial index).
pub(crate) fn expired_holds(d: Dialect, at: DateTime<Utc>, limit: usize) -> Stmt {
    let mut s = Stmt::new(
        d,
        &format!(
            "SELECT {TRANSACTION_COLUMNS} FROM transactions \
             WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= "
        ),
    );
    s.bind(Value::Time(micros_floor(at))).push(" AND sequence > 0 ORDER BY expires_at, id").limit(limit);
    s
}

/// An actor's audit records after a sequence, in order (`audit_log_actor_idx`).
pub(crate) fn audit_records_by_actor(d: Dialect, actor: &str, after: u64, limit: usize) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE actor = "));
    s.bind(Value::Text(actor.to_owned())).push(" AND sequence > ").bind(Value::Int(int(after)));
    s.push(" ORDER BY sequence").limit(limit);
    s
}

/// A user by id (primary key).
pub(crate) fn user(d: Dialect, id: UserId) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {USER_COLUMNS} FROM users WHERE id = "));
    s.bind(Value::Uuid(*id.as_uuid()));
    s
}

/// A user by normalised email (`users_email_key`).
pub(crate) fn user_by_email(d: Dialect, email: &Email) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {USER_COLUMNS} FROM users WHERE email = "));
    s.bind(Value::Text(email.as_str().to_owned()));
    s
}

/// All users in id order after a cursor (primary key).
pub(crate) fn users(d: Dialect, after: Option<UserId>, limit: usize) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {USER_COLUMNS} FROM users"));
    if let Some(after) = after {
        s.push(" WHERE id > ").bind(Value::Uuid(*after.as_uuid()));
    }
    s.push(" ORDER BY id").limit(limit);
    s
}

/// A session by its token's digest (`sessions_token_digest_key`).
pub(crate) fn session_by_token(d: Dialect, token: &Digest) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_digest = "));
    s.bind(Value::Bytes(token.0.to_vec()));
    s
}

/// A user's sessions, newest first (`sessions_user_idx` backwards: session
/// ids are UUIDv7, so id order is creation order).
pub(crate) fn sessions_of(d: Dialect, user: UserId, limit: usize) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = "));
    s.bind(Value::Uuid(*user.as_uuid())).push(" ORDER BY id DESC").limit(limit);
    s
}

/// A reset token by digest (primary key).
pub(crate) fn reset_token(d: Dialect, token: &Digest) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {RESET_TOKEN_COLUMNS} FROM reset_tokens WHERE token_digest = "));
    s.bind(Value::Bytes(token.0.to_vec()));
    s
}

/// The cheapest round trip.
pub(crate) fn ping(d: Dialect) -> Stmt {
    Stmt::new(d, "SELECT 1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_instants_round_to_whole_microseconds() {
        let whole = DateTime::from_timestamp(1_700_000_000, 5_000).unwrap_or_default();
        let finer = DateTime::from_timestamp(1_700_000_000, 5_001).unwrap_or_default();
        assert_eq!(micros_floor(whole), whole);
        assert_eq!(micros_ceil(whole), whole);
        assert_eq!(micros_floor(finer), whole);
        assert_eq!(micros_ceil(finer), whole + chrono::Duration::microseconds(1));
    }

    #[test]
    fn touch_is_one_guarded_update_at_stored_precision() {
        let id = SessionId::new();
        let at = DateTime::from_timestamp(1_700_000_000, 5_001).unwrap_or_default();
        let s = touch_session(Dialect::Postgres, id, at);
        assert_eq!(
            s.sql(),
            "UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND revoked_at IS NULL AND last_seen_at < $3"
        );
        let whole = DateTime::from_timestamp(1_700_000_000, 5_000).unwrap_or_default();
        assert_eq!(s.args(), &[Value::Time(whole), Value::Uuid(id.0), Value::Time(whole)]);
    }

    #[test]
    fn snapshot_loads_lock_on_postgres_only() {
        let users = [UserId::new(), UserId::new()];
        let pg = lock_live_sessions_of(Dialect::Postgres, &users);
        assert!(pg.sql().ends_with("WHERE user_id = ANY($1) AND revoked_at IS NULL ORDER BY id FOR UPDATE"));
        let lite = lock_live_sessions_of(Dialect::Sqlite, &users);
        assert!(lite.sql().ends_with("WHERE user_id IN (?, ?) AND revoked_at IS NULL ORDER BY id"));
        let tokens = [Digest::ZERO];
        let pg = lock_reset_tokens(Dialect::Postgres, &tokens);
        assert!(pg.sql().ends_with("WHERE token_digest = $1 ORDER BY token_digest FOR UPDATE"), "{}", pg.sql());
    }
}

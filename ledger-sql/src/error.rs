//! Turning sqlx errors into [`StorageError`]s that say what failed in the
//! ledger's terms, and classifying which failures a retry may cure.

use ledger_core::{StorageError, StorageErrorKind};

/// Constraint names (PostgreSQL) and what SQLite names in its message (the
/// failing column, `UNIQUE constraint failed: accounts.number`, or the
/// check's name, `CHECK constraint failed: users_role_check`) with what
/// they mean. SQLite does not say which foreign key failed.
const CONSTRAINTS: &[(&str, &str, &str)] = &[
    ("accounts_pkey", "accounts.id", "an account with this id already exists"),
    ("accounts_number_key", "accounts.number", "the account number is already taken"),
    ("transactions_pkey", "transactions.id", "a transaction with this id already exists"),
    ("transactions_sequence_key", "transactions.sequence", "a transaction sequence was reused"),
    ("transactions_from_account_fkey", "", "a transaction names an unknown debited account"),
    ("transactions_to_account_fkey", "", "a transaction names an unknown credited account"),
    ("postings_pkey", "postings.sequence", "a posting sequence was reused"),
    ("postings_transaction_id_fkey", "", "a posting names an unknown transaction"),
    ("postings_account_id_fkey", "", "a posting names an unknown account"),
    ("idempotency_pkey", "idempotency.key", "the idempotency key was stored concurrently"),
    ("audit_log_pkey", "audit_log.sequence", "an audit sequence was reused (concurrent writer)"),
    ("users_pkey", "users.id", "a user with this id already exists"),
    // `decide` refuses a taken email under the audit head lock, so this means
    // a writer bypassed the ledger (or the lock).
    ("users_email_key", "users.email", "the email address is already registered (written past the ledger's check)"),
    ("users_email_check", "users_email_check", "a user's email is not in normal (lower-case) form"),
    ("users_date_of_birth_check", "users_date_of_birth_check", "a user's date of birth is not YYYY-MM-DD"),
    ("users_role_check", "users_role_check", "a user's role is unknown to the schema"),
    ("users_kyc_status_check", "users_kyc_status_check", "a user's KYC status is unknown to the schema"),
    ("sessions_pkey", "sessions.id", "a session with this id already exists"),
    ("sessions_token_digest_key", "sessions.token_digest", "a session token digest was reused"),
    ("sessions_token_digest_check", "sessions_token_digest_check", "a session token digest is not 32 bytes"),
    ("sessions_user_id_fkey", "", "a session names an unknown user"),
    ("reset_tokens_pkey", "reset_tokens.token_digest", "a password-reset token digest was reused"),
    ("reset_tokens_token_digest_check", "reset_tokens_token_digest_check", "a reset token digest is not 32 bytes"),
    ("reset_tokens_user_id_fkey", "", "a password-reset token names an unknown user"),
];

/// A storage error for `context` (what the store was doing), naming the
/// violated constraint in the ledger's terms when there is one.
pub(crate) fn storage_error(backend: &'static str, context: &str, error: sqlx::Error) -> StorageError {
    let detail = match &error {
        sqlx::Error::Database(db) => {
            constraint_meaning(db.constraint(), db.message()).map_or_else(|| db.message().to_owned(), str::to_owned)
        }
        sqlx::Error::PoolTimedOut => "timed out waiting for a database connection".to_owned(),
        sqlx::Error::PoolClosed => "the store was closed".to_owned(),
        sqlx::Error::Io(io) => format!("cannot reach the database: {io}"),
        sqlx::Error::Tls(tls) => format!("TLS failure talking to the database: {tls}"),
        sqlx::Error::Configuration(config) => format!("invalid configuration: {config}"),
        other => other.to_string(),
    };
    // A read or a single statement that met a failover applied nothing a
    // caller relies on: it is storage out of reach, not an unknown outcome.
    let kind = if transient(&error) { StorageErrorKind::Unavailable } else { StorageErrorKind::Unknown };
    StorageError::with_source(backend, format!("{context}: {detail}"), error).of_kind(kind)
}

/// Whether a failure is the database being out of reach for a while (a
/// failover, a restart, a lost connection) rather than anything about the
/// statement: the connection broke or timed out (I/O, the pool's wait, a
/// protocol break), or PostgreSQL said so: connection exceptions (SQLSTATE
/// class 08), `admin_shutdown` (57P01, a primary stopping), `crash_shutdown`
/// (57P02), `cannot_connect_now` (57P03, a node starting or promoting),
/// `read_only_sql_transaction` (25006, the old primary's address now leading
/// to a replica), a serialization failure (40001) or a deadlock (40P01).
/// Before `COMMIT` each leaves nothing applied.
pub(crate) fn transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_sqlstate(&code)),
        _ => false,
    }
}

/// The SQLSTATEs of [`transient`].
fn transient_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "25006" | "40001" | "40P01")
}

/// What a constraint violation means, from the constraint's name
/// (PostgreSQL) or the failing column named in the message (SQLite).
fn constraint_meaning(name: Option<&str>, message: &str) -> Option<&'static str> {
    CONSTRAINTS.iter().find_map(|(constraint, column, meaning)| {
        let by_name = name == Some(*constraint);
        let by_column = !column.is_empty() && message.ends_with(&format!("constraint failed: {column}"));
        (by_name || by_column).then_some(*meaning)
    })
}

#[cfg(feature = "postgres")]
/// Whether a PostgreSQL failure before `COMMIT` may pass on retry: a
/// [`transient`] one (a serialization failure, what CockroachDB and
/// SERIALIZABLE PostgreSQL report; a deadlock; a failover's lost connection
/// or read-only node), or a concurrent insert of the same idempotency key
/// (the retry then replays it).
pub(crate) fn postgres_retryable(error: &sqlx::Error) -> bool {
    if transient(error) {
        return true;
    }
    let sqlx::Error::Database(db) = error else { return false };
    db.code().as_deref() == Some("23505") && db.constraint() == Some("idempotency_pkey")
}

#[cfg(feature = "postgres")]
/// [`postgres_retryable`] for a booking call (`booking.rs`), which holds no
/// lock on rows it creates: a row another booking created under the same
/// key first (a settlement account or a user whose id two instances derive
/// alike) fails the insert once that booking commits, and the run again
/// finds it.
pub(crate) fn postgres_booking_retryable(error: &sqlx::Error) -> bool {
    if postgres_retryable(error) {
        return true;
    }
    let sqlx::Error::Database(db) = error else { return false };
    db.code().as_deref() == Some("23505") && matches!(db.constraint(), Some("accounts_pkey" | "users_pkey"))
}

/// Whether a failure at `COMMIT` is the database saying it rolled the
/// transaction back (a serialization failure or deadlock), so nothing applied.
pub(crate) fn rolled_back(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else { return false };
    matches!(db.code().as_deref(), Some("40001" | "40P01"))
}

#[cfg(feature = "postgres")]
/// Whether PostgreSQL refused the data a statement writes: a data exception
/// (SQLSTATE class 22, such as a NUL in text or a value out of range), an
/// integrity constraint violation (class 23), or a value the driver could
/// not encode.
pub(crate) fn postgres_refused(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db.code().is_some_and(|code| code.starts_with("22") || code.starts_with("23")),
        sqlx::Error::Encode(_) => true,
        _ => false,
    }
}

#[cfg(feature = "sqlite")]
/// Whether SQLite refused the data a statement writes: a constraint
/// (SQLITE_CONSTRAINT), a value too big (SQLITE_TOOBIG) or of the wrong
/// type (SQLITE_MISMATCH), with their extended codes. Encoding failures of
/// a value before it reaches SQLite count too.
pub(crate) fn sqlite_refused(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Encode(_) => true,
        _ => sqlite_failure(error).is_some_and(|(code, _)| matches!(code & 0xff, 18..=20)),
    }
}

#[cfg(feature = "sqlite")]
/// Whether a SQLite failure is another connection holding the write lock
/// past the busy timeout (SQLITE_BUSY and SQLITE_LOCKED, with their extended
/// codes), or the concurrent idempotency insert that a retry replays.
pub(crate) fn sqlite_retryable(error: &sqlx::Error) -> bool {
    sqlite_failure(error).is_some_and(|(code, message)| {
        matches!(code & 0xff, 5 | 6) || message.ends_with("constraint failed: idempotency.key")
    })
}

#[cfg(feature = "sqlite")]
/// SQLite's (extended) result code and message behind a failure, from
/// sqlx's connections or rusqlite's (`sqlite_reads.rs`, `sqlite_writes.rs`).
fn sqlite_failure(error: &sqlx::Error) -> Option<(i32, std::borrow::Cow<'_, str>)> {
    match error {
        sqlx::Error::Database(db) => {
            let code = db.code().and_then(|code| code.parse::<i32>().ok())?;
            Some((code, std::borrow::Cow::Borrowed(db.message())))
        }
        sqlx::Error::AnyDriverError(driver) => match driver.downcast_ref::<rusqlite::Error>()? {
            rusqlite::Error::SqliteFailure(failure, message) => {
                let message = message.as_deref().map_or_else(|| failure.to_string().into(), std::borrow::Cow::Borrowed);
                Some((failure.extended_code, message))
            }
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::apply::{CallFailed, worth_running_again};

    /// A database error carrying a SQLSTATE, as the server would send it.
    #[derive(Debug)]
    struct Sqlstate(&'static str);

    impl std::fmt::Display for Sqlstate {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for Sqlstate {}

    impl sqlx::error::DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            "from the server"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn db(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Sqlstate(code)))
    }

    fn io() -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset by peer"))
    }

    #[test]
    fn a_failovers_errors_are_transient_and_the_datas_are_not() {
        let transient_codes = ["57P01", "57P02", "57P03", "25006", "40001", "40P01", "08000", "08003", "08006"];
        for code in transient_codes {
            assert!(transient(&db(code)), "{code}");
        }
        assert!(transient(&io()));
        assert!(transient(&sqlx::Error::PoolTimedOut));
        for code in ["23505", "22P05", "42P01", "42501", "53100"] {
            assert!(!transient(&db(code)), "{code}");
        }
        assert!(!transient(&sqlx::Error::RowNotFound));
        assert!(!transient(&sqlx::Error::PoolClosed));
    }

    #[test]
    fn transient_failures_are_unavailable_and_others_unknown() {
        assert_eq!(storage_error("postgres", "reading", io()).kind, StorageErrorKind::Unavailable);
        assert_eq!(storage_error("postgres", "reading", db("57P01")).kind, StorageErrorKind::Unavailable);
        assert_eq!(storage_error("postgres", "reading", db("42P01")).kind, StorageErrorKind::Unknown);
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn before_commit_a_failovers_errors_are_retried_and_refused_data_is_not() {
        for error in [io(), db("57P01"), db("57P03"), db("25006"), db("08006"), db("40001")] {
            assert!(postgres_retryable(&error), "{error}");
        }
        assert!(!postgres_retryable(&db("23514")));
        assert!(!postgres_retryable(&db("22P05")));
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn a_connection_lost_at_commit_runs_again_only_when_every_batch_has_a_key() {
        let at_commit = |error| CallFailed { error, at_commit: true };
        let before = |error| CallFailed { error, at_commit: false };
        // Unknown outcome: only idempotency keys make running it again safe.
        assert!(worth_running_again(&at_commit(io()), true, postgres_retryable));
        assert!(!worth_running_again(&at_commit(io()), false, postgres_retryable));
        assert!(!worth_running_again(&at_commit(db("57P01")), false, postgres_retryable));
        // The database said it rolled back: nothing applied, keys or not.
        assert!(worth_running_again(&at_commit(db("40001")), false, postgres_retryable));
        // Before COMMIT nothing applied: retried whatever the keys.
        assert!(worth_running_again(&before(io()), false, postgres_retryable));
        assert!(!worth_running_again(&before(db("23514")), true, postgres_retryable));
    }

    #[test]
    fn constraints_are_named_in_ledger_terms() {
        assert_eq!(constraint_meaning(Some("accounts_number_key"), ""), Some("the account number is already taken"));
        assert_eq!(
            constraint_meaning(None, "UNIQUE constraint failed: accounts.number"),
            Some("the account number is already taken")
        );
        assert_eq!(constraint_meaning(None, "FOREIGN KEY constraint failed"), None);
        let email = Some("the email address is already registered (written past the ledger's check)");
        assert_eq!(constraint_meaning(Some("users_email_key"), ""), email);
        assert_eq!(constraint_meaning(None, "UNIQUE constraint failed: users.email"), email);
        assert_eq!(
            constraint_meaning(None, "CHECK constraint failed: users_role_check"),
            Some("a user's role is unknown to the schema")
        );
        assert_eq!(constraint_meaning(Some("something_else"), "x"), None);
    }

    #[cfg(feature = "postgres")]
    /// What PostgreSQL itself says when a statement writes a NUL (the
    /// finding that one login could fail its whole group) is a refusal of
    /// the data, so group commit applies the rest of the group without it.
    #[tokio::test]
    async fn postgres_refusing_a_nul_is_classified_as_refused() {
        use sqlx::Connection;
        let Some(url) = crate::test_postgres::url("PostgreSQL error classification") else { return };
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| panic!("connecting: {e}"));
        let refused = sqlx::query("SELECT $1::text").bind("evil\0@example.com").execute(&mut conn).await;
        let Err(error) = refused else { panic!("PostgreSQL stored a NUL") };
        assert!(postgres_refused(&error), "{error}");
        assert!(!postgres_retryable(&error));
        let unreachable = sqlx::Error::Io(std::io::Error::other("connection reset"));
        assert!(!postgres_refused(&unreachable));
    }
}

//! Turning sqlx errors into [`StorageError`]s that say what failed in the
//! ledger's terms, and classifying which failures a retry may cure.

use ledger_core::StorageError;

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
    StorageError::with_source(backend, format!("{context}: {detail}"), error)
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
/// Whether a PostgreSQL failure left nothing applied and may pass on retry:
/// a serialization failure (40001, what CockroachDB and SERIALIZABLE
/// PostgreSQL report), a deadlock (40P01), or a concurrent insert of the same
/// idempotency key (the retry then replays it).
pub(crate) fn postgres_retryable(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else { return false };
    match db.code().as_deref() {
        Some("40001" | "40P01") => true,
        Some("23505") => db.constraint() == Some("idempotency_pkey"),
        _ => false,
    }
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
        sqlx::Error::Database(db) => {
            let primary = db.code().and_then(|code| code.parse::<i32>().ok()).map(|code| code & 0xff);
            matches!(primary, Some(18..=20))
        }
        sqlx::Error::Encode(_) => true,
        _ => false,
    }
}

#[cfg(feature = "sqlite")]
/// Whether a SQLite failure is another connection holding the write lock
/// past the busy timeout (SQLITE_BUSY and SQLITE_LOCKED, with their extended
/// codes), or the concurrent idempotency insert that a retry replays.
pub(crate) fn sqlite_retryable(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else { return false };
    let primary = db.code().and_then(|code| code.parse::<i32>().ok()).map(|code| code & 0xff);
    matches!(primary, Some(5 | 6)) || db.message().ends_with("constraint failed: idempotency.key")
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let Some(url) = std::env::var("LEDGER_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
            eprintln!("skipped: PostgreSQL error classification (set LEDGER_TEST_POSTGRES_URL to run)");
            return;
        };
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| panic!("connecting: {e}"));
        let refused = sqlx::query("SELECT $1::text").bind("evil\0@example.com").execute(&mut conn).await;
        let Err(error) = refused else { panic!("PostgreSQL stored a NUL") };
        assert!(postgres_refused(&error), "{error}");
        assert!(!postgres_retryable(&error));
        let unreachable = sqlx::Error::Io(std::io::Error::other("connection reset"));
        assert!(!postgres_refused(&unreachable));
    }
}

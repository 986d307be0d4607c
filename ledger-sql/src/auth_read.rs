//! The read behind every authenticated request: a session by its token's
//! digest joined with its user, one statement instead of two round trips.
//!
//! The two tables share column names (`id`, `created_at`), so the user's
//! columns come back prefixed (`u_id`, ...) and are read through
//! [`Prefixed`], which lets [`row::user`] decode them unchanged.

use std::sync::LazyLock;

use ledger_core::Digest;
use ledger_core::identity::{Session, User};

use crate::prefixed::{Prefixed, qualified};
use crate::row::{self, SESSION_COLUMNS, USER_COLUMNS};
use crate::session::Cells;
use crate::stmt::{Dialect, Stmt, Value};

/// The prefix of the user's columns in [`session_with_user`]'s result.
const USER_PREFIX: &str = "u_";

/// The statement's text up to its one placeholder, built once: it runs on
/// every authenticated request, and its column lists are spelled out from
/// the tables' column constants.
static SESSION_WITH_USER: LazyLock<String> = LazyLock::new(|| {
    let session_columns = qualified("s", SESSION_COLUMNS, "");
    let user_columns = qualified("u", USER_COLUMNS, USER_PREFIX);
    format!(
        "SELECT {session_columns}, {user_columns} FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_digest = "
    )
});

/// The session with this token digest and its user (`sessions_token_idx`,
/// then the users' primary key).
pub(crate) fn session_with_user(d: Dialect, token: &Digest) -> Stmt {
    let mut s = Stmt::new(d, &SESSION_WITH_USER);
    s.bind(Value::Bytes(token.0.to_vec()));
    s
}

/// Reads a row of [`session_with_user`].
pub(crate) fn session_and_user(cells: &dyn Cells) -> Result<(Session, User), sqlx::Error> {
    Ok((row::session(cells)?, row::user(&Prefixed { cells, prefix: USER_PREFIX })?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_qualified_and_the_users_prefixed() {
        assert_eq!(
            qualified("u", "id, email,\n created_at", "u_"),
            "u.id AS u_id, u.email AS u_email, u.created_at AS u_created_at"
        );
        let sql = session_with_user(Dialect::Postgres, &Digest([0; 32])).sql().to_owned();
        assert!(sql.contains("s.id AS id, s.user_id AS user_id"), "{sql}");
        assert!(sql.contains("u.id AS u_id") && sql.ends_with("WHERE s.token_digest = $1"), "{sql}");
    }
}

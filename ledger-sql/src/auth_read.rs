//! The read behind every authenticated request: a session by its token's
//! digest joined with its user, one statement instead of two round trips;
//! and, for a read of one account (a balance), that account with them, one
//! statement instead of two reads.
//!
//! The tables share column names (`id`, `created_at`), so the user's
//! columns come back prefixed (`u_id`, ...) and the account's too (`a_id`,
//! ...), read through [`Prefixed`], which lets [`row::user`] and
//! [`row::account`] decode them unchanged.

use std::sync::LazyLock;

use ledger_core::identity::{Session, User};
use ledger_core::{Account, AccountId, Digest};

use crate::prefixed::{Prefixed, qualified};
use crate::row::{self, ACCOUNT_COLUMNS, SESSION_COLUMNS, USER_COLUMNS};
use crate::session::Cells;
use crate::stmt::{Dialect, Stmt, Value};

/// The prefix of the user's columns in [`session_with_user`]'s result.
const USER_PREFIX: &str = "u_";

/// The prefix of the account's columns in [`session_with_user_and_account`]'s result.
const ACCOUNT_PREFIX: &str = "a_";

/// The session's and the user's columns, qualified (the user's prefixed),
/// which both statements select.
fn session_and_user_columns() -> String {
    format!("{}, {}", qualified("s", SESSION_COLUMNS, ""), qualified("u", USER_COLUMNS, USER_PREFIX))
}

/// The statement's text up to its one placeholder, built once: it runs on
/// every authenticated request, and its column lists are spelled out from
/// the tables' column constants.
static SESSION_WITH_USER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_digest = ",
        session_and_user_columns()
    )
});

/// [`SESSION_WITH_USER`] with the account's columns, up to the account's
/// placeholder (the token's follows it): the account is a `LEFT JOIN` on
/// its primary key, so a missing account leaves its columns null and the
/// session's row still comes back.
static SESSION_WITH_USER_AND_ACCOUNT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {} FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN accounts a ON a.id = ",
        session_and_user_columns(),
        qualified("a", ACCOUNT_COLUMNS, ACCOUNT_PREFIX)
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

/// The session with this token digest, its user, and the account with this
/// id if it exists (`sessions_token_idx`, then the users' and the
/// accounts' primary keys).
pub(crate) fn session_with_user_and_account(d: Dialect, token: &Digest, account: AccountId) -> Stmt {
    let mut s = Stmt::new(d, &SESSION_WITH_USER_AND_ACCOUNT);
    s.bind(Value::Uuid(*account.as_uuid())).push(" WHERE s.token_digest = ").bind(Value::Bytes(token.0.to_vec()));
    s
}

/// Reads a row of [`session_with_user_and_account`]: no account when its
/// columns are null (the `LEFT JOIN` found none).
pub(crate) fn session_user_and_account(cells: &dyn Cells) -> Result<(Session, User, Option<Account>), sqlx::Error> {
    let (session, user) = session_and_user(cells)?;
    let account = Prefixed { cells, prefix: ACCOUNT_PREFIX };
    let account = match account.opt_uuid("id")? {
        Some(_) => Some(row::account(&account)?),
        None => None,
    };
    Ok((session, user, account))
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

    #[test]
    fn the_account_is_left_joined_by_its_key_and_its_columns_prefixed() {
        let account = AccountId::new();
        let stmt = session_with_user_and_account(Dialect::Postgres, &Digest([7; 32]), account);
        let sql = stmt.sql();
        assert!(sql.contains("a.id AS a_id, a.number AS a_number"), "{sql}");
        assert!(sql.contains("LEFT JOIN accounts a ON a.id = $1 WHERE s.token_digest = $2"), "{sql}");
        assert_eq!(stmt.args(), &[Value::Uuid(*account.as_uuid()), Value::Bytes(vec![7; 32])]);
    }
}

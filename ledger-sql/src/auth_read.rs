//! The read behind every authenticated request: a session by its token's
//! digest joined with its user, one statement instead of two round trips.
//!
//! The two tables share column names (`id`, `created_at`), so the user's
//! columns come back prefixed (`u_id`, ...) and are read through
//! [`Prefixed`], which lets [`row::user`] decode them unchanged.

use chrono::{DateTime, NaiveDate, Utc};
use ledger_core::Digest;
use ledger_core::identity::{Session, User};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::row::{self, SESSION_COLUMNS, USER_COLUMNS};
use crate::session::Cells;
use crate::stmt::{Dialect, Stmt, Value};

/// The prefix of the user's columns in [`session_with_user`]'s result.
const USER_PREFIX: &str = "u_";

/// The session with this token digest and its user (`sessions_token_idx`,
/// then the users' primary key).
pub(crate) fn session_with_user(d: Dialect, token: &Digest) -> Stmt {
    let session_columns = qualified("s", SESSION_COLUMNS, "");
    let user_columns = qualified("u", USER_COLUMNS, USER_PREFIX);
    let mut s = Stmt::new(
        d,
        &format!(
            "SELECT {session_columns}, {user_columns} FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_digest = "
        ),
    );
    s.bind(Value::Bytes(token.0.to_vec()));
    s
}

/// Reads a row of [`session_with_user`].
pub(crate) fn session_and_user(cells: &dyn Cells) -> Result<(Session, User), sqlx::Error> {
    Ok((row::session(cells)?, row::user(&Prefixed { cells, prefix: USER_PREFIX })?))
}

/// `table.column AS prefixcolumn, ...` for a column list.
fn qualified(table: &str, columns: &str, prefix: &str) -> String {
    columns
        .split(',')
        .map(str::trim)
        .map(|column| format!("{table}.{column} AS {prefix}{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row's columns whose names carry a prefix, read by their plain names.
struct Prefixed<'a> {
    cells: &'a dyn Cells,
    prefix: &'static str,
}

impl Prefixed<'_> {
    fn name(&self, column: &str) -> String {
        format!("{}{column}", self.prefix)
    }
}

impl Cells for Prefixed<'_> {
    fn uuid(&self, column: &str) -> Result<Uuid, sqlx::Error> {
        self.cells.uuid(&self.name(column))
    }
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, sqlx::Error> {
        self.cells.opt_uuid(&self.name(column))
    }
    fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.cells.int(&self.name(column))
    }
    fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        self.cells.text(&self.name(column))
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.cells.opt_text(&self.name(column))
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
        self.cells.bytes(&self.name(column))
    }
    fn amount(&self, column: &str) -> Result<Decimal, sqlx::Error> {
        self.cells.amount(&self.name(column))
    }
    fn opt_amount(&self, column: &str) -> Result<Option<Decimal>, sqlx::Error> {
        self.cells.opt_amount(&self.name(column))
    }
    fn balance(&self, column: &str) -> Result<Decimal, sqlx::Error> {
        self.cells.balance(&self.name(column))
    }
    fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        self.cells.time(&self.name(column))
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.cells.opt_time(&self.name(column))
    }
    fn opt_date(&self, column: &str) -> Result<Option<NaiveDate>, sqlx::Error> {
        self.cells.opt_date(&self.name(column))
    }
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

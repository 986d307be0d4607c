//! The statements that write in bulk: multi-row `INSERT`s and `UPDATE`s of
//! rows by key (on PostgreSQL one `UNNEST` of an array per column, so the
//! SQL text does not depend on the row count), and the tables and column
//! lists `bulk.rs` writes.

use crate::row::{
    ACCOUNT_INSERT_COLUMNS, ACCOUNT_UPDATE_COLUMNS, AUDIT_COLUMNS, IDEMPOTENCY_COLUMNS, POSTING_COLUMNS,
    RESET_TOKEN_COLUMNS, RESET_TOKEN_UPDATE_COLUMNS, SESSION_COLUMNS, SESSION_UPDATE_COLUMNS, TRANSACTION_COLUMNS,
    TRANSACTION_UPDATE_COLUMNS, USER_COLUMNS, USER_UPDATE_COLUMNS,
};
use crate::stmt::{Dialect, Stmt, Value, column_array};

/// Rows per multi-row `INSERT`, well below both databases' placeholder limits.
const INSERT_ROWS_MAX: usize = 256;

/// Multi-row inserts of `rows` into `table`, a statement per [`INSERT_ROWS_MAX`] rows.
pub(crate) fn insert(d: Dialect, table: &str, columns: &str, rows: Vec<Vec<Value>>) -> Vec<Stmt> {
    let mut statements = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut s = Stmt::new(d, &format!("INSERT INTO {table} ({columns}) VALUES "));
        for (i, row) in rows.by_ref().take(INSERT_ROWS_MAX).enumerate() {
            if i > 0 {
                s.push(", ");
            }
            s.tuple(row);
        }
        statements.push(s);
    }
    statements
}

/// Rows per `UNNEST` statement. Each column is one array placeholder, so
/// this bounds only the size of one message, not the placeholder count.
const UNNEST_ROWS_MAX: usize = 8192;

/// Inserts `rows` into `table` in as few statements as the dialect allows.
/// PostgreSQL: `INSERT ... SELECT * FROM UNNEST($1::t[], ...)`, one array
/// per column, so the SQL text (which sqlx caches prepared statements by)
/// is the same whatever the row count. SQLite: [`insert`]'s multi-row
/// `VALUES`, which is in-process and cheap to prepare.
pub(crate) fn insert_rows(
    d: Dialect,
    table: &str,
    columns: &str,
    rows: Vec<Vec<Value>>,
) -> Result<Vec<Stmt>, sqlx::Error> {
    if d == Dialect::Sqlite {
        return Ok(insert(d, table, columns, rows));
    }
    let width = column_names(columns).len();
    chunked(rows, UNNEST_ROWS_MAX)
        .into_iter()
        .map(|chunk| {
            let mut s = Stmt::new(d, &format!("INSERT INTO {table} ({columns}) SELECT * FROM "));
            unnest(&mut s, chunk, width)?;
            Ok(s)
        })
        .collect()
}

/// Updates rows of `table` by key: the first of `columns` is the key, the
/// others are set to each row's values; every row must have a distinct key.
/// PostgreSQL: `UPDATE t SET c = v.c, ... FROM UNNEST(...) AS v(k, c, ...)
/// WHERE t.k = v.k`, one SQL text for any row count. SQLite: the same join
/// on a `VALUES` list, a statement per [`INSERT_ROWS_MAX`] rows.
pub(crate) fn update_rows(
    d: Dialect,
    table: &str,
    columns: &str,
    rows: Vec<Vec<Value>>,
) -> Result<Vec<Stmt>, sqlx::Error> {
    let names = column_names(columns);
    let (key, rest) = names.split_first().ok_or_else(|| bulk_error(table, "no key column"))?;
    let limit = if d == Dialect::Postgres { UNNEST_ROWS_MAX } else { INSERT_ROWS_MAX };
    chunked(rows, limit)
        .into_iter()
        .map(|chunk| {
            let mut s = Stmt::new(d, &format!("UPDATE {table} SET "));
            for (i, name) in rest.iter().enumerate() {
                let source = match d {
                    Dialect::Postgres => (*name).to_owned(),
                    Dialect::Sqlite => format!("column{}", i + 2),
                };
                s.push(if i > 0 { ", " } else { "" }).push(&format!("{name} = v.{source}"));
            }
            s.push(" FROM ");
            let key_source = match d {
                Dialect::Postgres => {
                    unnest(&mut s, chunk, names.len())?;
                    s.push(&format!(" AS v({})", names.join(", ")));
                    (*key).to_owned()
                }
                Dialect::Sqlite => {
                    s.push("(VALUES ");
                    for (i, row) in chunk.into_iter().enumerate() {
                        s.push(if i > 0 { ", " } else { "" }).tuple(row);
                    }
                    s.push(") AS v");
                    "column1".to_owned()
                }
            };
            s.push(&format!(" WHERE {table}.{key} = v.{key_source}"));
            Ok(s)
        })
        .collect()
}

/// Appends `UNNEST($1::t1[], $2::t2[], ...)`: `rows` turned into one array
/// per column, each of `width` columns.
pub(crate) fn unnest(s: &mut Stmt, rows: Vec<Vec<Value>>, width: usize) -> Result<(), sqlx::Error> {
    let mut columns: Vec<Vec<Value>> = (0..width).map(|_| Vec::with_capacity(rows.len())).collect();
    for row in rows {
        if row.len() != width {
            return Err(bulk_error("a row", &format!("{} values for {width} columns", row.len())));
        }
        for (column, value) in columns.iter_mut().zip(row) {
            column.push(value);
        }
    }
    s.push("UNNEST(");
    for (i, column) in columns.into_iter().enumerate() {
        let (array, sql_type) = column_array(column).ok_or_else(|| bulk_error("a column", "mixed or array values"))?;
        s.push(if i > 0 { ", " } else { "" }).bind(array).push("::").push(sql_type);
    }
    s.push(")");
    Ok(())
}

/// The names in a column list (`"id, status,\n posted"`).
fn column_names(columns: &str) -> Vec<&str> {
    columns.split(',').map(str::trim).collect()
}

/// `items` in order, in chunks of at most `size`.
fn chunked<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut chunks = Vec::with_capacity(items.len().div_ceil(size.max(1)));
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(size.max(1)).collect());
    }
    chunks
}

/// A bulk statement that cannot be built: a bug in the caller, not bad data.
fn bulk_error(what: &str, why: &str) -> sqlx::Error {
    sqlx::Error::Encode(format!("cannot build a bulk statement for {what}: {why}").into())
}

/// The columns of [`crate::row::account_values`].
pub(crate) const ACCOUNTS_INSERT: (&str, &str) = ("accounts", ACCOUNT_INSERT_COLUMNS);
/// The columns of [`crate::row::transaction_values`].
pub(crate) const TRANSACTIONS_INSERT: (&str, &str) = ("transactions", TRANSACTION_COLUMNS);
/// The columns of [`crate::row::posting_values`].
pub(crate) const POSTINGS_INSERT: (&str, &str) = ("postings", POSTING_COLUMNS);
/// The columns of [`crate::row::idempotency_values`].
pub(crate) const IDEMPOTENCY_INSERT: (&str, &str) = ("idempotency", IDEMPOTENCY_COLUMNS);
/// The columns of [`crate::row::audit_values`].
pub(crate) const AUDIT_INSERT: (&str, &str) = ("audit_log", AUDIT_COLUMNS);
/// The columns of [`crate::row::user_values`].
pub(crate) const USERS_INSERT: (&str, &str) = ("users", USER_COLUMNS);
/// The columns of [`crate::row::session_values`].
pub(crate) const SESSIONS_INSERT: (&str, &str) = ("sessions", SESSION_COLUMNS);
/// The columns of [`crate::row::reset_token_values`].
pub(crate) const RESET_TOKENS_INSERT: (&str, &str) = ("reset_tokens", RESET_TOKEN_COLUMNS);

/// The columns of an account's history row: the account and the transaction's sequence.
pub(crate) const ACCOUNT_TRANSACTIONS_INSERT: (&str, &str) = ("account_transactions", "account_id, sequence");
/// The columns of [`crate::row::change_values`].
pub(crate) const CHANGES_INSERT: (&str, &str) = ("changes", crate::row::CHANGE_COLUMNS);
/// The columns of a transaction's metadata row.
pub(crate) const TRANSACTION_METADATA_INSERT: (&str, &str) = ("transaction_metadata", "key, value, sequence");

/// The key and set columns of [`crate::row::account_update_values`].
pub(crate) const ACCOUNTS_UPDATE: (&str, &str) = ("accounts", ACCOUNT_UPDATE_COLUMNS);
/// The key and set columns of [`crate::row::transaction_update_values`].
pub(crate) const TRANSACTIONS_UPDATE: (&str, &str) = ("transactions", TRANSACTION_UPDATE_COLUMNS);
/// The key and set columns of [`crate::row::user_update_values`].
pub(crate) const USERS_UPDATE: (&str, &str) = ("users", USER_UPDATE_COLUMNS);
/// The key and set columns of [`crate::row::session_update_values`].
pub(crate) const SESSIONS_UPDATE: (&str, &str) = ("sessions", SESSION_UPDATE_COLUMNS);
/// The key and set columns of [`crate::row::reset_token_update_values`].
pub(crate) const RESET_TOKENS_UPDATE: (&str, &str) = ("reset_tokens", RESET_TOKEN_UPDATE_COLUMNS);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_are_chunked() {
        let rows = vec![vec![Value::Int(1)]; INSERT_ROWS_MAX + 1];
        let statements = insert(Dialect::Sqlite, "t", "a", rows);
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[1].sql(), "INSERT INTO t (a) VALUES (?)");
        assert!(insert(Dialect::Sqlite, "t", "a", Vec::new()).is_empty());
    }

    fn bulk_rows(n: usize) -> Vec<Vec<Value>> {
        (0..n).map(|i| vec![Value::Uuid(uuid::Uuid::nil()), Value::Int(i as i64), Value::OptAmount(None)]).collect()
    }

    #[test]
    fn postgres_bulk_statements_do_not_depend_on_the_row_count() {
        let insert = |n| insert_rows(Dialect::Postgres, "t", "id, n, x", bulk_rows(n)).unwrap_or_default();
        let (one, many) = (insert(1), insert(300));
        assert_eq!((one.len(), many.len()), (1, 1));
        assert_eq!(one[0].sql(), many[0].sql());
        assert_eq!(
            one[0].sql(),
            "INSERT INTO t (id, n, x) SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::numeric[])"
        );
        assert_eq!(many[0].args()[1], Value::IntArray((0..300).collect()));
        let update = update_rows(Dialect::Postgres, "t", "id, n,\n x", bulk_rows(300)).unwrap_or_default();
        assert_eq!(update.len(), 1);
        assert_eq!(
            update[0].sql(),
            "UPDATE t SET n = v.n, x = v.x FROM UNNEST($1::uuid[], $2::bigint[], $3::numeric[]) AS v(id, n, x) \
             WHERE t.id = v.id"
        );
        assert!(insert(0).is_empty());
        let mixed = vec![vec![Value::Int(1)], vec![Value::Text("1".into())]];
        assert!(insert_rows(Dialect::Postgres, "t", "a", mixed).is_err());
    }

    #[test]
    fn sqlite_bulk_updates_join_chunked_values() {
        let update = update_rows(Dialect::Sqlite, "t", "id, n, x", bulk_rows(INSERT_ROWS_MAX + 1)).unwrap_or_default();
        assert_eq!(update.len(), 2);
        assert_eq!(
            update[1].sql(),
            "UPDATE t SET n = v.column2, x = v.column3 FROM (VALUES (?, ?, ?)) AS v WHERE t.id = v.column1"
        );
    }
}

//! rusqlite's side of the values SQLite stores: binding a [`Stored`] value
//! to a statement and reading a result row's cells by column name, through
//! the same conversions as the sqlx side (`sqlite.rs`).

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{CachedStatement, Connection, Statement, ToSql};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::session::{Cells, corrupt};
use crate::sqlite::{self, Stored, stored};
use crate::stmt::Stmt;

/// A rusqlite failure in sqlx's error type, which the rest of the crate
/// classifies; like sqlx's own SQLite errors, none is transient.
pub(crate) fn failed(error: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::AnyDriverError(Box::new(error))
}

/// `stmt` prepared on `conn` (from the connection's statement cache) with
/// its arguments bound.
pub(crate) fn prepared<'c>(conn: &'c Connection, stmt: &Stmt) -> Result<CachedStatement<'c>, sqlx::Error> {
    let mut prepared = conn.prepare_cached(stmt.sql()).map_err(failed)?;
    for (index, value) in stmt.args().iter().enumerate() {
        prepared.raw_bind_parameter(index + 1, stored(value)?).map_err(failed)?;
    }
    Ok(prepared)
}

/// Statement shapes whose column names a connection keeps: more than any
/// one connection runs (each also has a prepared-statement cache of at
/// most 128), so in practice none is forgotten.
const COLUMN_NAMES_KEPT_MAX: usize = 256;

/// A rusqlite connection with what it keeps between statements: its
/// prepared statements (rusqlite's cache) and their column names.
#[derive(Debug)]
pub(crate) struct PreparedConnection {
    pub(crate) conn: Connection,
    column_names: ColumnNames,
}

impl PreparedConnection {
    /// `conn`, with no column names kept yet.
    pub(crate) fn new(conn: Connection) -> PreparedConnection {
        PreparedConnection { conn, column_names: ColumnNames::default() }
    }
}

/// Each statement's column names, by its SQL text (hashed with foldhash:
/// the standard SipHash of a statement's text showed in the profile).
#[derive(Debug, Default)]
struct ColumnNames {
    by_sql: HashMap<Box<str>, Arc<[String]>, foldhash::fast::RandomState>,
}

impl ColumnNames {
    /// The names kept for `sql`, if they still fit `statement` (checked
    /// once it has stepped: SQLite prepares a statement again after a
    /// schema change at its first step, so a `SELECT *` under a migration
    /// changes its column count only then).
    fn kept(&self, sql: &str, statement: &Statement<'_>) -> Option<&Arc<[String]>> {
        self.by_sql.get(sql).filter(|names| names.len() == statement.column_count())
    }

    /// Fetches `statement`'s names from SQLite (a length and a UTF-8 check
    /// each) and keeps them for `sql`.
    fn fetch(&mut self, sql: &str, statement: &Statement<'_>) -> Arc<[String]> {
        if self.by_sql.len() >= COLUMN_NAMES_KEPT_MAX {
            self.by_sql.clear();
        }
        let names: Arc<[String]> = statement.column_names().into_iter().map(str::to_owned).collect();
        self.by_sql.insert(sql.into(), Arc::clone(&names));
        names
    }
}

/// Runs `stmt` on `conn` and turns each result row into a `T` with
/// `per_row`, given the row and the statement's column names, fetched once
/// per statement shape and kept by the connection (rusqlite would look a
/// name up by fetching every column's name from SQLite again, on each
/// cell; fetching them on every run showed in the read load's profile).
pub(crate) fn each_row<T>(
    conn: &mut PreparedConnection,
    stmt: &Stmt,
    mut per_row: impl FnMut(&rusqlite::Row<'_>, &Arc<[String]>) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, sqlx::Error> {
    let PreparedConnection { conn, column_names } = conn;
    let mut statement = prepared(conn, stmt)?;
    let mut rows = statement.raw_query();
    let mut columns: Option<Arc<[String]>> = None;
    let mut turned = Vec::new();
    while let Some(row) = rows.next().map_err(failed)? {
        let names = match columns {
            Some(ref names) => names,
            None => columns.insert(match column_names.kept(stmt.sql(), row.as_ref()) {
                Some(names) => Arc::clone(names),
                None => column_names.fetch(stmt.sql(), row.as_ref()),
            }),
        };
        turned.push(per_row(row, names)?);
    }
    Ok(turned)
}

impl ToSql for Stored<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Stored::Null => ValueRef::Null,
            Stored::Int(v) => ValueRef::Integer(*v),
            Stored::Text(v) => ValueRef::Text(v.as_bytes()),
            Stored::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

/// A result row's values by column index: a row of a running statement,
/// or one copied out of it ([`OwnedRow`]).
pub(crate) trait ValueAt {
    /// The value of the column at `index`.
    fn value_at(&self, index: usize) -> Result<ValueRef<'_>, sqlx::Error>;
}

impl ValueAt for rusqlite::Row<'_> {
    fn value_at(&self, index: usize) -> Result<ValueRef<'_>, sqlx::Error> {
        self.get_ref(index).map_err(failed)
    }
}

impl ValueAt for [Value] {
    fn value_at(&self, index: usize) -> Result<ValueRef<'_>, sqlx::Error> {
        let value = self.get(index).ok_or_else(|| sqlx::Error::ColumnIndexOutOfBounds { index, len: self.len() })?;
        Ok(ValueRef::from(value))
    }
}

/// One result row, read by column name.
pub(crate) struct RowCells<'r, R: ValueAt + ?Sized> {
    row: &'r R,
    /// The statement's column names, in order.
    columns: &'r [String],
    /// Where the search for the next name starts: just past the last one
    /// found, since rows are mostly read in their columns' order.
    search_from: Cell<usize>,
}

/// A result row copied out of its statement, so that it outlives the
/// statement's next step (what a write's [`Session::fetch`](crate::session::Session::fetch) returns).
#[derive(Debug)]
pub(crate) struct OwnedRow {
    /// The statement's column names, in order, shared by its rows.
    pub(crate) columns: Arc<[String]>,
    pub(crate) values: Vec<Value>,
}

impl OwnedRow {
    /// A copy of `row`'s `columns.len()` values.
    pub(crate) fn copied(row: &rusqlite::Row<'_>, columns: &Arc<[String]>) -> Result<OwnedRow, sqlx::Error> {
        let values = (0..columns.len()).map(|i| row.value_at(i).map(Value::from)).collect::<Result<_, _>>()?;
        Ok(OwnedRow { columns: Arc::clone(columns), values })
    }

    fn cells(&self) -> RowCells<'_, [Value]> {
        RowCells::new(self.values.as_slice(), &self.columns)
    }
}

impl<'r, R: ValueAt + ?Sized> RowCells<'r, R> {
    /// `row`'s cells, named by `columns`.
    pub(crate) fn new(row: &'r R, columns: &'r [String]) -> RowCells<'r, R> {
        RowCells { row, columns, search_from: Cell::new(0) }
    }

    /// The index of the column named `column`, searched from just past the
    /// last one found, then from the start.
    fn index_of(&self, column: &str) -> Option<usize> {
        let from = self.search_from.get().min(self.columns.len());
        let (before, after) = self.columns.split_at(from);
        let found = after.iter().position(|name| name == column).map(|i| from + i);
        let index = found.or_else(|| before.iter().position(|name| name == column))?;
        self.search_from.set(index + 1);
        Some(index)
    }

    /// The column's value; `None` for NULL.
    fn cell(&self, column: &str) -> Result<Option<ValueRef<'_>>, sqlx::Error> {
        let index = self.index_of(column).ok_or_else(|| sqlx::Error::ColumnNotFound(column.to_owned()))?;
        match self.row.value_at(index)? {
            ValueRef::Null => Ok(None),
            value => Ok(Some(value)),
        }
    }

    fn required(&self, column: &str) -> Result<ValueRef<'_>, sqlx::Error> {
        self.cell(column)?.ok_or_else(|| corrupt(format!("{column} is NULL")))
    }
}

fn as_int(column: &str, value: ValueRef<'_>) -> Result<i64, sqlx::Error> {
    value.as_i64().map_err(|_| corrupt(format!("{column} is not an integer")))
}

fn as_text<'v>(column: &str, value: ValueRef<'v>) -> Result<&'v str, sqlx::Error> {
    value.as_str().map_err(|_| corrupt(format!("{column} is not UTF-8 text")))
}

fn as_uuid(column: &str, value: ValueRef<'_>) -> Result<Uuid, sqlx::Error> {
    let bytes = value.as_blob().map_err(|_| corrupt(format!("{column} is not an id")))?;
    Uuid::from_slice(bytes).map_err(|e| corrupt(format!("{column}: {e}")))
}

impl<R: ValueAt + ?Sized> Cells for RowCells<'_, R> {
    fn uuid(&self, column: &str) -> Result<Uuid, sqlx::Error> {
        as_uuid(column, self.required(column)?)
    }
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, sqlx::Error> {
        self.cell(column)?.map(|v| as_uuid(column, v)).transpose()
    }
    fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
        as_int(column, self.required(column)?)
    }
    fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        as_text(column, self.required(column)?).map(str::to_owned)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.cell(column)?.map(|v| as_text(column, v).map(str::to_owned)).transpose()
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
        let value = self.required(column)?;
        value.as_blob().map(<[u8]>::to_vec).map_err(|_| corrupt(format!("{column} is not bytes")))
    }
    fn amount(&self, column: &str) -> Result<Decimal, sqlx::Error> {
        self.int(column).map(sqlite::amount_from_units)
    }
    fn opt_amount(&self, column: &str) -> Result<Option<Decimal>, sqlx::Error> {
        self.cell(column)?.map(|v| as_int(column, v).map(sqlite::amount_from_units)).transpose()
    }
    fn balance(&self, column: &str) -> Result<Decimal, sqlx::Error> {
        sqlite::balance_from_text(column, as_text(column, self.required(column)?)?)
    }
    fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        sqlite::time_from_micros(self.int(column)?)
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.cell(column)?.map(|v| as_int(column, v).and_then(sqlite::time_from_micros)).transpose()
    }
    fn opt_date(&self, column: &str) -> Result<Option<NaiveDate>, sqlx::Error> {
        self.cell(column)?.map(|v| as_text(column, v).and_then(sqlite::date_from_text)).transpose()
    }
}

/// [`Cells`] of an [`OwnedRow`]: each method reads through [`RowCells`].
macro_rules! read_through_row_cells {
    ($($method:ident -> $out:ty),* $(,)?) => {
        impl Cells for OwnedRow {
            $(fn $method(&self, column: &str) -> Result<$out, sqlx::Error> {
                self.cells().$method(column)
            })*
        }
    };
}

read_through_row_cells!(
    uuid -> Uuid,
    opt_uuid -> Option<Uuid>,
    int -> i64,
    text -> String,
    opt_text -> Option<String>,
    bytes -> Vec<u8>,
    amount -> Decimal,
    opt_amount -> Option<Decimal>,
    balance -> Decimal,
    time -> DateTime<Utc>,
    opt_time -> Option<DateTime<Utc>>,
    opt_date -> Option<NaiveDate>,
);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::stmt::Dialect;

    fn names(columns: &[&str]) -> Vec<String> {
        columns.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn cells_are_found_by_name_in_any_order_and_again() {
        let columns = names(&["id", "owner", "balance", "note"]);
        let row = [Value::Integer(7), Value::Integer(8), Value::Text("1.5".into()), Value::Null];
        let cells = RowCells::new(&row[..], &columns);
        assert_eq!(cells.int("owner").unwrap(), 8);
        assert_eq!(cells.int("id").unwrap(), 7, "a name before the last one found");
        assert_eq!(cells.balance("balance").unwrap(), Decimal::new(15, 1));
        assert_eq!(cells.opt_text("note").unwrap(), None);
        assert_eq!(cells.int("id").unwrap(), 7, "the same name twice");
        assert_eq!(cells.int("owner").unwrap(), 8);
        assert!(matches!(cells.int("missing"), Err(sqlx::Error::ColumnNotFound(name)) if name == "missing"));
        assert_eq!(cells.int("owner").unwrap(), 8, "a miss leaves the search intact");
    }

    #[test]
    fn a_connection_keeps_column_names_until_the_statement_returns_other_columns() {
        let mut conn = PreparedConnection::new(Connection::open_in_memory().unwrap());
        conn.conn.execute_batch("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)").unwrap();
        let select = Stmt::new(Dialect::Sqlite, "SELECT * FROM t");
        let read = |conn: &mut PreparedConnection| {
            each_row(conn, &select, |row, columns| Ok((columns.to_vec(), row.value_at(0).map(Value::from)?))).unwrap()
        };
        let first = read(&mut conn);
        assert_eq!(first, vec![(names(&["a"]), Value::Integer(1))]);
        let kept = Arc::clone(conn.column_names.by_sql.get("SELECT * FROM t").unwrap());
        assert_eq!(read(&mut conn)[0].0, names(&["a"]));
        assert!(Arc::ptr_eq(&kept, conn.column_names.by_sql.get("SELECT * FROM t").unwrap()), "fetched again");

        conn.conn.execute_batch("ALTER TABLE t ADD COLUMN b TEXT").unwrap();
        assert_eq!(read(&mut conn)[0].0, names(&["a", "b"]));
    }
}

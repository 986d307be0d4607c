//! rusqlite's side of the values SQLite stores: binding a [`Stored`] value
//! to a statement and reading a result row's cells by column name, through
//! the same conversions as the sqlx side (`sqlite.rs`).

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{CachedStatement, Connection, ToSql};
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

/// Runs `stmt` on `conn` and turns each result row into a `T` with
/// `per_row`, given the row and the statement's column names, read once:
/// rusqlite looks a name up by fetching every column's name from SQLite
/// again, on each cell.
pub(crate) fn each_row<T>(
    conn: &Connection,
    stmt: &Stmt,
    mut per_row: impl FnMut(&rusqlite::Row<'_>, &Arc<[String]>) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, sqlx::Error> {
    let mut statement = prepared(conn, stmt)?;
    let columns: Arc<[String]> = statement.column_names().into_iter().map(str::to_owned).collect();
    let mut rows = statement.raw_query();
    let mut turned = Vec::new();
    while let Some(row) = rows.next().map_err(failed)? {
        turned.push(per_row(row, &columns)?);
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
    pub(crate) row: &'r R,
    /// The statement's column names, in order.
    pub(crate) columns: &'r [String],
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
        RowCells { row: self.values.as_slice(), columns: &self.columns }
    }
}

impl<R: ValueAt + ?Sized> RowCells<'_, R> {
    /// The column's value; `None` for NULL.
    fn cell(&self, column: &str) -> Result<Option<ValueRef<'_>>, sqlx::Error> {
        let index = self.columns.iter().position(|name| name == column);
        let index = index.ok_or_else(|| sqlx::Error::ColumnNotFound(column.to_owned()))?;
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

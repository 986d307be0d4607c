//! Reading a row whose columns of one table carry a prefix (`u_id`, ...),
//! where a statement returns two tables that share column names.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::session::Cells;

/// `table.column AS prefixcolumn, ...` for a column list.
pub(crate) fn qualified(table: &str, columns: &str, prefix: &str) -> String {
    columns
        .split(',')
        .map(str::trim)
        .map(|column| format!("{table}.{column} AS {prefix}{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row's columns whose names carry a prefix, read by their plain names.
pub(crate) struct Prefixed<'a> {
    pub(crate) cells: &'a dyn Cells,
    pub(crate) prefix: &'static str,
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

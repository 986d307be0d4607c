//! The two seams between shared code and a database: running a [`Stmt`]
//! on a connection ([`Session`]) and reading typed cells out of a result
//! row ([`Cells`]). Each backend implements both, once; everything else
//! (queries, snapshots, writes, row mapping) is written once on top.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::stmt::{Dialect, Stmt};

/// A connection (or a storage transaction on one) that runs statements.
#[async_trait]
pub(crate) trait Session: Send {
    /// The SQL this connection speaks.
    const DIALECT: Dialect;

    /// A result row.
    type Row: Cells + Send;

    /// Runs a query and returns all its rows.
    async fn fetch(&mut self, stmt: &Stmt) -> Result<Vec<Self::Row>, sqlx::Error>;

    /// Runs a statement and returns how many rows it changed.
    async fn execute(&mut self, stmt: &Stmt) -> Result<u64, sqlx::Error>;
}

/// Typed access to a row's columns by name, by meaning (see [`Value`](crate::stmt::Value)).
pub(crate) trait Cells {
    /// An id column.
    fn uuid(&self, column: &str) -> Result<Uuid, sqlx::Error>;
    /// A nullable id column.
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, sqlx::Error>;
    /// An integer column.
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    /// A text column.
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    /// A nullable text column.
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    /// A bytes column.
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error>;
    /// A bounded amount column.
    fn amount(&self, column: &str) -> Result<Decimal, sqlx::Error>;
    /// A nullable bounded amount column.
    fn opt_amount(&self, column: &str) -> Result<Option<Decimal>, sqlx::Error>;
    /// A balance or limit column.
    fn balance(&self, column: &str) -> Result<Decimal, sqlx::Error>;
    /// An instant column.
    fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error>;
    /// A nullable instant column.
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error>;
    /// A nullable date column.
    fn opt_date(&self, column: &str) -> Result<Option<NaiveDate>, sqlx::Error>;
}

/// A decoding failure: stored data that does not map back to the domain.
pub(crate) fn corrupt(what: impl Into<String>) -> sqlx::Error {
    sqlx::Error::Decode(what.into().into())
}

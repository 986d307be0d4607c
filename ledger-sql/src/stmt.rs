//! Statements as data: SQL text with placeholders plus typed values.
//!
//! Placeholders are numbered on PostgreSQL (`$1`, `$2`, ...) and positional
//! on SQLite (`?`): every value is bound once, in order, so both mean the
//! same. SQLite resolves a numbered placeholder by a linear search of the
//! statement's parameter names, and sqlx asks for every parameter's name
//! when it binds, so a multi-row insert of n values cost O(n^2) there (a
//! fifth of a SQLite group commit went to `sqlite3_bind_parameter_name` and
//! `strncmp`). What else differs is how a few kinds of value are stored
//! (money, instants, lists), so a [`Value`] says what the value *is* and
//! each backend's binder decides how to send it. The few textual
//! differences (`= ANY($1)` against `IN (...)`, `FOR UPDATE`) are asked of
//! the [`Dialect`] while the statement is built.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

/// Which SQL the statement is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// PostgreSQL and engines speaking its wire protocol and SQL.
    Postgres,
    /// SQLite 3.
    Sqlite,
}

impl Dialect {
    /// The backend name reported in errors and health checks.
    pub(crate) const fn backend(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        }
    }
}

/// One bound value, by meaning rather than by column type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// An id.
    Uuid(Uuid),
    /// An optional id.
    OptUuid(Option<Uuid>),
    /// An integer (sequences, account numbers).
    Int(i64),
    /// Text.
    Text(String),
    /// Optional text.
    OptText(Option<String>),
    /// Raw bytes (hashes, fingerprints).
    Bytes(Vec<u8>),
    /// A bounded amount: at most 4 decimal places (SQLite: integer units).
    Amount(Decimal),
    /// An optional bounded amount.
    OptAmount(Option<Decimal>),
    /// An unbounded exact decimal: balances and limits (SQLite: text).
    Balance(Decimal),
    /// The lower bound of an amount range filter (SQLite: rounded up to units).
    AmountAtLeast(Decimal),
    /// The upper bound of an amount range filter (SQLite: rounded down to units).
    AmountAtMost(Decimal),
    /// An instant, at microsecond precision.
    Time(DateTime<Utc>),
    /// An optional instant.
    OptTime(Option<DateTime<Utc>>),
    /// An optional calendar date (SQLite: `YYYY-MM-DD` text).
    OptDate(Option<NaiveDate>),
    /// A PostgreSQL `uuid[]` (only built for [`Dialect::Postgres`]).
    UuidArray(Vec<Uuid>),
    /// A PostgreSQL `bigint[]` (only built for [`Dialect::Postgres`]).
    IntArray(Vec<i64>),
    /// A PostgreSQL `text[]` (only built for [`Dialect::Postgres`]).
    TextArray(Vec<String>),
    /// A PostgreSQL `bytea[]` (only built for [`Dialect::Postgres`]).
    BytesArray(Vec<Vec<u8>>),
    /// A PostgreSQL `uuid[]` with NULLs (only built for [`Dialect::Postgres`]).
    OptUuidArray(Vec<Option<Uuid>>),
    /// A PostgreSQL `text[]` with NULLs (only built for [`Dialect::Postgres`]).
    OptTextArray(Vec<Option<String>>),
    /// A PostgreSQL `numeric[]`: amounts or balances (only built for [`Dialect::Postgres`]).
    DecimalArray(Vec<Decimal>),
    /// A PostgreSQL `numeric[]` with NULLs (only built for [`Dialect::Postgres`]).
    OptDecimalArray(Vec<Option<Decimal>>),
    /// A PostgreSQL `timestamptz[]` (only built for [`Dialect::Postgres`]).
    TimeArray(Vec<DateTime<Utc>>),
    /// A PostgreSQL `timestamptz[]` with NULLs (only built for [`Dialect::Postgres`]).
    OptTimeArray(Vec<Option<DateTime<Utc>>>),
    /// A PostgreSQL `date[]` with NULLs (only built for [`Dialect::Postgres`]).
    OptDateArray(Vec<Option<NaiveDate>>),
}

/// Collects one column's values, all of the variant `pick` accepts.
fn each<T>(values: Vec<Value>, pick: fn(Value) -> Option<T>) -> Option<Vec<T>> {
    values.into_iter().map(pick).collect()
}

/// One column of a table's rows as a single PostgreSQL array, with the SQL
/// type to cast its placeholder to: what lets one `UNNEST` statement carry
/// any number of rows. `None` if the values are of mixed variants or of one
/// that has no array (a bug in the caller). The type follows the variant,
/// never the data, so a column's SQL text is the same for every row count.
pub(crate) fn column_array(values: Vec<Value>) -> Option<(Value, &'static str)> {
    Some(match values.first()? {
        Value::Uuid(_) => {
            (Value::UuidArray(each(values, |v| if let Value::Uuid(x) = v { Some(x) } else { None })?), "uuid[]")
        }
        Value::OptUuid(_) => {
            (Value::OptUuidArray(each(values, |v| if let Value::OptUuid(x) = v { Some(x) } else { None })?), "uuid[]")
        }
        Value::Int(_) => {
            (Value::IntArray(each(values, |v| if let Value::Int(x) = v { Some(x) } else { None })?), "bigint[]")
        }
        Value::Text(_) => {
            (Value::TextArray(each(values, |v| if let Value::Text(x) = v { Some(x) } else { None })?), "text[]")
        }
        Value::OptText(_) => {
            (Value::OptTextArray(each(values, |v| if let Value::OptText(x) = v { Some(x) } else { None })?), "text[]")
        }
        Value::Bytes(_) => {
            (Value::BytesArray(each(values, |v| if let Value::Bytes(x) = v { Some(x) } else { None })?), "bytea[]")
        }
        Value::Amount(_) | Value::Balance(_) => {
            let decimal = |v| if let Value::Amount(x) | Value::Balance(x) = v { Some(x) } else { None };
            (Value::DecimalArray(each(values, decimal)?), "numeric[]")
        }
        Value::OptAmount(_) => (
            Value::OptDecimalArray(each(values, |v| if let Value::OptAmount(x) = v { Some(x) } else { None })?),
            "numeric[]",
        ),
        Value::Time(_) => {
            (Value::TimeArray(each(values, |v| if let Value::Time(x) = v { Some(x) } else { None })?), "timestamptz[]")
        }
        Value::OptTime(_) => (
            Value::OptTimeArray(each(values, |v| if let Value::OptTime(x) = v { Some(x) } else { None })?),
            "timestamptz[]",
        ),
        Value::OptDate(_) => {
            (Value::OptDateArray(each(values, |v| if let Value::OptDate(x) = v { Some(x) } else { None })?), "date[]")
        }
        _ => return None,
    })
}

/// A list of keys for [`Stmt::any_of`].
#[derive(Debug, Clone)]
pub(crate) enum List {
    /// Ids.
    Uuids(Vec<Uuid>),
    /// Integers.
    Ints(Vec<i64>),
    /// Texts.
    Texts(Vec<String>),
    /// Byte strings (digests).
    Bytes(Vec<Vec<u8>>),
}

impl List {
    fn len(&self) -> usize {
        match self {
            List::Uuids(v) => v.len(),
            List::Ints(v) => v.len(),
            List::Texts(v) => v.len(),
            List::Bytes(v) => v.len(),
        }
    }

    /// One value per element.
    fn into_values(self) -> Vec<Value> {
        match self {
            List::Uuids(v) => v.into_iter().map(Value::Uuid).collect(),
            List::Ints(v) => v.into_iter().map(Value::Int).collect(),
            List::Texts(v) => v.into_iter().map(Value::Text).collect(),
            List::Bytes(v) => v.into_iter().map(Value::Bytes).collect(),
        }
    }

    /// The whole list as one PostgreSQL array.
    fn into_array(self) -> Value {
        match self {
            List::Uuids(v) => Value::UuidArray(v),
            List::Ints(v) => Value::IntArray(v),
            List::Texts(v) => Value::TextArray(v),
            List::Bytes(v) => Value::BytesArray(v),
        }
    }
}

/// A statement being built: SQL text and the values of its placeholders.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    dialect: Dialect,
    sql: String,
    args: Vec<Value>,
    /// Planned on every run instead of from a cached plan (PostgreSQL).
    planned_each_run: bool,
}

impl Stmt {
    /// A statement starting with `sql`.
    pub(crate) fn new(dialect: Dialect, sql: &str) -> Stmt {
        Stmt { dialect, sql: sql.to_owned(), args: Vec::new(), planned_each_run: false }
    }

    /// The SQL text.
    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }

    /// The values, in placeholder order.
    pub(crate) fn args(&self) -> &[Value] {
        &self.args
    }

    /// The same statement behind a prefix (`EXPLAIN `), with the same values.
    pub(crate) fn prefixed(&self, prefix: &str) -> Stmt {
        Stmt { sql: format!("{prefix}{}", self.sql), ..self.clone() }
    }

    /// Whether PostgreSQL plans this statement on every run (see
    /// [`Stmt::planned_each_run`]).
    #[cfg(feature = "postgres")]
    pub(crate) fn is_planned_each_run(&self) -> bool {
        self.planned_each_run
    }

    /// Has PostgreSQL plan the statement on every run, for its values and
    /// the table's size at that moment, instead of from the plan a
    /// connection caches on about the sixth run and keeps until the table is
    /// next analysed (which, made while a growing table was small, can be a
    /// sequential scan for good). Costs a round trip and a plan per run, so
    /// it is for reads off the commit path; writes keep sequential scans off
    /// instead (see `postgres::BEGIN`). SQLite, whose planner takes the
    /// primary key without statistics, ignores it.
    pub(crate) fn planned_each_run(&mut self) -> &mut Stmt {
        self.planned_each_run = true;
        self
    }

    /// Appends SQL text.
    pub(crate) fn push(&mut self, sql: &str) -> &mut Stmt {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder for `value`: the next number on PostgreSQL, a
    /// positional `?` on SQLite (see the module docs).
    pub(crate) fn bind(&mut self, value: Value) -> &mut Stmt {
        self.args.push(value);
        match self.dialect {
            Dialect::Postgres => {
                self.sql.push('$');
                self.sql.push_str(&self.args.len().to_string());
            }
            Dialect::Sqlite => self.sql.push('?'),
        }
        self
    }

    /// Appends `column` matching any element of a non-empty list. One
    /// element is a plain `=`, so PostgreSQL can walk an index in order;
    /// more are `= ANY($n)` (one array value, one cached statement) on
    /// PostgreSQL and `IN ($a, $b, ...)` on SQLite.
    pub(crate) fn any_of(&mut self, column: &str, list: List) -> &mut Stmt {
        self.push(column);
        if list.len() == 1 {
            let value = list.into_values().remove(0);
            return self.push(" = ").bind(value);
        }
        match self.dialect {
            Dialect::Postgres => self.push(" = ANY(").bind(list.into_array()).push(")"),
            Dialect::Sqlite => {
                self.push(" IN (");
                for (i, value) in list.into_values().into_iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.bind(value);
                }
                self.push(")")
            }
        }
    }

    /// Appends a row lock (PostgreSQL `FOR UPDATE`). SQLite needs none: the
    /// write transaction already holds the database's single write lock.
    pub(crate) fn for_update(&mut self) -> &mut Stmt {
        if self.dialect == Dialect::Postgres {
            self.push(" FOR UPDATE");
        }
        self
    }

    /// Appends `LIMIT n` as a literal: the planner then knows the real limit
    /// (a `$n` limit makes PostgreSQL's generic plans guess), and an integer
    /// cannot inject anything.
    pub(crate) fn limit(&mut self, limit: usize) -> &mut Stmt {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.push(" LIMIT ").push(&limit.to_string())
    }

    /// Appends another statement of the same dialect, its values after this
    /// one's. On PostgreSQL its placeholders are renumbered: `$k` becomes
    /// `$(k + n)`, n being this statement's value count. Statements built
    /// here write every value as a placeholder, so a `$` in their text is
    /// always one; a placeholder out of order is refused as a bug.
    pub(crate) fn append(&mut self, other: Stmt) -> Result<&mut Stmt, String> {
        if other.dialect != self.dialect {
            return Err("appending a statement of another dialect".into());
        }
        self.planned_each_run |= other.planned_each_run;
        if self.dialect == Dialect::Sqlite {
            self.sql.push_str(&other.sql);
            self.args.extend(other.args);
            return Ok(self);
        }
        let offset = self.args.len();
        let mut seen = 0;
        let mut rest = other.sql.as_str();
        while let Some(at) = rest.find('$') {
            self.sql.push_str(&rest[..at]);
            let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
            let number: usize = rest[at + 1..at + 1 + digits].parse().map_err(|_| "a `$` that is no placeholder")?;
            if number != seen + 1 {
                return Err(format!("placeholder ${number} after ${seen}"));
            }
            seen = number;
            self.sql.push('$');
            self.sql.push_str(&(number + offset).to_string());
            rest = &rest[at + 1 + digits..];
        }
        self.sql.push_str(rest);
        if seen != other.args.len() {
            return Err(format!("{seen} placeholders for {} values", other.args.len()));
        }
        self.args.extend(other.args);
        Ok(self)
    }

    /// Appends `(v1, v2, ...)` with one placeholder per value.
    pub(crate) fn tuple(&mut self, values: Vec<Value>) -> &mut Stmt {
        self.push("(");
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(value);
        }
        self.push(")")
    }
}

/// A sequence or position for a BIGINT column, saturating: no stored sequence
/// comes near `i64::MAX`, so a larger bound compares the same way.
pub(crate) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_and_lists_follow_the_dialect() {
        let ids = vec![Uuid::nil(), Uuid::max()];
        let mut pg = Stmt::new(Dialect::Postgres, "SELECT 1 FROM t WHERE ");
        pg.any_of("id", List::Uuids(ids.clone())).push(" AND n = ").bind(Value::Int(3)).for_update();
        assert_eq!(pg.sql(), "SELECT 1 FROM t WHERE id = ANY($1) AND n = $2 FOR UPDATE");
        assert_eq!(pg.args().len(), 2);

        let mut lite = Stmt::new(Dialect::Sqlite, "SELECT 1 FROM t WHERE ");
        lite.any_of("id", List::Uuids(ids)).push(" AND n = ").bind(Value::Int(3)).for_update().limit(5);
        assert_eq!(lite.sql(), "SELECT 1 FROM t WHERE id IN (?, ?) AND n = ? LIMIT 5");
        assert_eq!(lite.args().len(), 3);

        let mut one = Stmt::new(Dialect::Postgres, "");
        one.any_of("id", List::Ints(vec![7]));
        assert_eq!(one.sql(), "id = $1");
        assert_eq!(one.args(), &[Value::Int(7)]);
    }

    #[test]
    fn an_appended_statement_is_renumbered_after_the_first() {
        let mut first = Stmt::new(Dialect::Postgres, "WITH a AS (UPDATE t SET n = ");
        first.bind(Value::Int(1)).push(" WHERE id = ").bind(Value::Int(2)).push(" RETURNING 1), b AS (");
        let mut second = Stmt::new(Dialect::Postgres, "INSERT INTO u (x, y) VALUES (");
        second.bind(Value::Int(3)).push(", ").bind(Value::Int(4)).push(")");
        assert!(first.append(second).is_ok());
        first.push(" RETURNING 1) SELECT 1");
        assert_eq!(
            first.sql(),
            "WITH a AS (UPDATE t SET n = $1 WHERE id = $2 RETURNING 1), b AS (INSERT INTO u (x, y) VALUES ($3, $4) \
             RETURNING 1) SELECT 1"
        );
        assert_eq!(first.args(), &[Value::Int(1), Value::Int(2), Value::Int(3), Value::Int(4)]);
        let mut lite = Stmt::new(Dialect::Sqlite, "SELECT ");
        lite.bind(Value::Int(1));
        let mut more = Stmt::new(Dialect::Sqlite, ", ");
        more.bind(Value::Int(2));
        assert!(lite.append(more).is_ok());
        assert_eq!((lite.sql(), lite.args().len()), ("SELECT ?, ?", 2));
    }

    #[test]
    fn an_appended_statement_with_a_stray_dollar_or_missing_value_is_refused() {
        let stray = Stmt::new(Dialect::Postgres, "SELECT $tag$x$tag$");
        assert!(Stmt::new(Dialect::Postgres, "").append(stray).is_err());
        let missing = Stmt::new(Dialect::Postgres, "SELECT $1");
        assert!(Stmt::new(Dialect::Postgres, "").append(missing).is_err());
        let skipped = Stmt {
            dialect: Dialect::Postgres,
            sql: "SELECT $2".into(),
            args: vec![Value::Int(1)],
            planned_each_run: false,
        };
        assert!(Stmt::new(Dialect::Postgres, "").append(skipped).is_err());
        assert!(Stmt::new(Dialect::Postgres, "").append(Stmt::new(Dialect::Sqlite, "")).is_err());
    }
}

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

/// Longest prefixed name spelled on the stack; longer ones are allocated.
const NAME_STACK_BYTES_MAX: usize = 64;

impl Prefixed<'_> {
    /// Calls `read` with the prefixed name of `column`, spelled in a stack
    /// buffer: a row of a dozen columns would otherwise allocate a dozen
    /// names on every read (the user of every authenticated request).
    fn named<T>(&self, column: &str, read: impl FnOnce(&str) -> T) -> T {
        let (prefix, column_bytes) = (self.prefix.as_bytes(), column.as_bytes());
        let length = prefix.len() + column_bytes.len();
        let mut buffer = [0u8; NAME_STACK_BYTES_MAX];
        if let Some(spelled) = buffer.get_mut(..length) {
            let (head, tail) = spelled.split_at_mut(prefix.len());
            head.copy_from_slice(prefix);
            tail.copy_from_slice(column_bytes);
            if let Ok(name) = std::str::from_utf8(spelled) {
                return read(name);
            }
        }
        read(&format!("{}{column}", self.prefix))
    }
}

impl Cells for Prefixed<'_> {
    fn uuid(&self, column: &str) -> Result<Uuid, sqlx::Error> {
        self.named(column, |name| self.cells.uuid(name))
    }
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, sqlx::Error> {
        self.named(column, |name| self.cells.opt_uuid(name))
    }
    fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.named(column, |name| self.cells.int(name))
    }
    fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        self.named(column, |name| self.cells.text(name))
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.named(column, |name| self.cells.opt_text(name))
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
        self.named(column, |name| self.cells.bytes(name))
    }
    fn amount(&self, column: &str) -> Result<Decimal, sqlx::Error> {
        self.named(column, |name| self.cells.amount(name))
    }
    fn opt_amount(&self, column: &str) -> Result<Option<Decimal>, sqlx::Error> {
        self.named(column, |name| self.cells.opt_amount(name))
    }
    fn balance(&self, column: &str) -> Result<Decimal, sqlx::Error> {
        self.named(column, |name| self.cells.balance(name))
    }
    fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        self.named(column, |name| self.cells.time(name))
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.named(column, |name| self.cells.opt_time(name))
    }
    fn opt_date(&self, column: &str) -> Result<Option<NaiveDate>, sqlx::Error> {
        self.named(column, |name| self.cells.opt_date(name))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Cells that answer a text read with the name asked, and fail every
    /// other read naming it.
    struct Echo;

    fn missing<T>(column: &str) -> Result<T, sqlx::Error> {
        Err(sqlx::Error::ColumnNotFound(column.to_owned()))
    }

    impl Cells for Echo {
        fn uuid(&self, column: &str) -> Result<Uuid, sqlx::Error> {
            missing(column)
        }
        fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, sqlx::Error> {
            missing(column)
        }
        fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
            missing(column)
        }
        fn text(&self, column: &str) -> Result<String, sqlx::Error> {
            Ok(column.to_owned())
        }
        fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
            missing(column)
        }
        fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
            missing(column)
        }
        fn amount(&self, column: &str) -> Result<Decimal, sqlx::Error> {
            missing(column)
        }
        fn opt_amount(&self, column: &str) -> Result<Option<Decimal>, sqlx::Error> {
            missing(column)
        }
        fn balance(&self, column: &str) -> Result<Decimal, sqlx::Error> {
            missing(column)
        }
        fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
            missing(column)
        }
        fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
            missing(column)
        }
        fn opt_date(&self, column: &str) -> Result<Option<NaiveDate>, sqlx::Error> {
            missing(column)
        }
    }

    #[test]
    fn a_column_is_read_by_the_prefix_then_its_name_short_or_long() {
        let prefixed = Prefixed { cells: &Echo, prefix: "u_" };
        assert_eq!(prefixed.text("email").unwrap(), "u_email");
        let long = "ç".repeat(NAME_STACK_BYTES_MAX);
        assert_eq!(prefixed.text(&long).unwrap(), format!("u_{long}"));
        let edge = "c".repeat(NAME_STACK_BYTES_MAX - 2);
        assert_eq!(prefixed.text(&edge).unwrap(), format!("u_{edge}"));
        assert!(matches!(prefixed.int("id"), Err(sqlx::Error::ColumnNotFound(c)) if c == "u_id"));
    }
}

//! The statements of one write (a flush of staged rows, the audit head,
//! the change notification) and how they reach the database: on SQLite one
//! after another (in-process, a statement costs no round trip); on
//! PostgreSQL all in **one statement**, each a data-modifying CTE, so a
//! group commit's writes cost one round trip while the audit head is held
//! instead of one per table.
//!
//! One statement is the same transaction and the same all-or-nothing: if
//! any part fails (a key taken, a value refused) none of it applies.
//! Foreign keys between its parts (a posting and its new transaction) are
//! checked at the end of the statement, when every part has run. Its parts
//! cannot see each other's rows, so a flush never writes the same row
//! twice ([`crate::bulk`] merges a row's insert and later updates) and a
//! later read (a load in the same storage transaction) comes after it.

use crate::session::{Cells, Session, corrupt};
use crate::stmt::{Dialect, Stmt};

/// What a step is, for how its result is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepKind {
    /// New rows, or rows whose count says nothing: nothing to check (a
    /// conflict fails the statement).
    Insert,
    /// Rows the call loaded and locked, changed in place: the steps of one
    /// table must change exactly as many rows as were given.
    Update { table: &'static str, rows: u64 },
    /// A query run for its effect (`pg_notify`): it must run, its rows do
    /// not matter.
    Effect,
}

/// A counted column of the combined statement: the step's number and, for
/// an update, its table.
type Counted = (usize, Option<&'static str>);

/// The statements of one write, in order.
#[derive(Debug, Default)]
pub(crate) struct WriteSteps {
    steps: Vec<(Stmt, StepKind)>,
}

impl WriteSteps {
    /// Adds inserts of new rows.
    pub(crate) fn inserts(&mut self, statements: Vec<Stmt>) {
        self.steps.extend(statements.into_iter().map(|s| (s, StepKind::Insert)));
    }

    /// Adds writes whose row counts say nothing (a conditional restamp).
    #[cfg(feature = "postgres")]
    pub(crate) fn unchecked(&mut self, statements: Vec<Stmt>) {
        self.steps.extend(statements.into_iter().map(|s| (s, StepKind::Insert)));
    }

    /// Adds updates that together must change `rows` rows of `table`.
    pub(crate) fn updates(&mut self, table: &'static str, rows: u64, statements: Vec<Stmt>) {
        // The count is checked once per table: the first chunk carries it,
        // later chunks add their changes to it.
        for (i, statement) in statements.into_iter().enumerate() {
            let rows = if i == 0 { rows } else { 0 };
            self.steps.push((statement, StepKind::Update { table, rows }));
        }
    }

    /// Adds a query run for its effect.
    pub(crate) fn effect(&mut self, statement: Stmt) {
        self.steps.push((statement, StepKind::Effect));
    }

    /// Runs the steps: one by one on SQLite, as one statement on PostgreSQL.
    pub(crate) async fn run<S: Session>(self, s: &mut S) -> Result<(), sqlx::Error> {
        if self.steps.is_empty() {
            return Ok(());
        }
        let expected = self.expected();
        let changed = match S::DIALECT {
            Dialect::Sqlite => self.run_each(s).await?,
            Dialect::Postgres => self.run_as_one(s).await?,
        };
        for (table, rows) in expected {
            let got = changed.iter().filter(|(t, _)| *t == table).map(|(_, n)| n).sum::<u64>();
            if got != rows {
                return Err(corrupt(format!("updating {rows} rows of {table} changed {got}")));
            }
        }
        Ok(())
    }

    /// Rows each updated table must change.
    fn expected(&self) -> Vec<(&'static str, u64)> {
        let mut expected: Vec<(&'static str, u64)> = Vec::new();
        for (_, kind) in &self.steps {
            if let StepKind::Update { table, rows } = *kind {
                match expected.iter_mut().find(|(t, _)| *t == table) {
                    Some((_, n)) => *n += rows,
                    None => expected.push((table, rows)),
                }
            }
        }
        expected
    }

    /// Runs each step in turn; returns the rows each update changed.
    async fn run_each<S: Session>(self, s: &mut S) -> Result<Vec<(&'static str, u64)>, sqlx::Error> {
        let mut changed = Vec::new();
        for (statement, kind) in &self.steps {
            let rows = s.execute(statement).await?;
            if let StepKind::Update { table, .. } = kind {
                changed.push((*table, rows));
            }
        }
        Ok(changed)
    }

    /// Runs every step in one statement; returns the rows each update changed.
    async fn run_as_one<S: Session>(self, s: &mut S) -> Result<Vec<(&'static str, u64)>, sqlx::Error> {
        let (statement, counted) = self.into_one().map_err(corrupt)?;
        let rows = s.fetch(&statement).await?;
        let row = rows.first().ok_or_else(|| corrupt("a combined write returned no row"))?;
        let mut changed = Vec::new();
        for (i, table) in counted {
            let rows = row.int(&format!("w{i}"))?;
            if let Some(table) = table {
                changed.push((table, u64::try_from(rows).map_err(|_| corrupt("a negative row count"))?));
            }
        }
        Ok(changed)
    }

    /// The steps as `WITH w0 AS (...), w1 AS (...) SELECT (SELECT count(*)
    /// FROM wi) AS wi, ...`, counting the updates (`RETURNING 1`) and
    /// naming the effects so that they run (an unreferenced `SELECT` in a
    /// `WITH` does not; an insert or update always does). Returns the step
    /// number and, for updates, the table of every counted column.
    fn into_one(self) -> Result<(Stmt, Vec<Counted>), String> {
        let mut statement = Stmt::new(Dialect::Postgres, "WITH ");
        let mut counted = Vec::new();
        for (i, (step, kind)) in self.steps.into_iter().enumerate() {
            statement.push(if i > 0 { ", " } else { "" }).push(&format!("w{i} AS ("));
            statement.append(step)?;
            match kind {
                StepKind::Insert => {}
                StepKind::Update { table, .. } => {
                    statement.push(" RETURNING 1");
                    counted.push((i, Some(table)));
                }
                StepKind::Effect => counted.push((i, None)),
            }
            statement.push(")");
        }
        statement.push(" SELECT 1 AS done");
        for (i, _) in &counted {
            statement.push(&format!(", (SELECT count(*) FROM w{i}) AS w{i}"));
        }
        Ok((statement, counted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stmt::Value;

    fn stmt(sql: &str, values: &[i64]) -> Stmt {
        let mut s = Stmt::new(Dialect::Postgres, sql);
        for (i, v) in values.iter().enumerate() {
            s.push(if i > 0 { ", " } else { "" }).bind(Value::Int(*v));
        }
        s
    }

    #[test]
    fn postgres_steps_become_one_statement_counting_updates_and_effects() {
        let mut steps = WriteSteps::default();
        steps.inserts(vec![stmt("INSERT INTO a (x, y) SELECT ", &[1, 2])]);
        steps.updates("b", 2, vec![stmt("UPDATE b SET x = ", &[3])]);
        let mut notify = stmt("SELECT pg_notify(", &[4]);
        notify.push(")");
        steps.effect(notify);
        let (one, counted) = steps.into_one().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            one.sql(),
            "WITH w0 AS (INSERT INTO a (x, y) SELECT $1, $2), w1 AS (UPDATE b SET x = $3 RETURNING 1), \
             w2 AS (SELECT pg_notify($4)) SELECT 1 AS done, (SELECT count(*) FROM w1) AS w1, \
             (SELECT count(*) FROM w2) AS w2"
        );
        assert_eq!(one.args().len(), 4);
        assert_eq!(counted, vec![(1, Some("b")), (2, None)]);
    }

    #[test]
    fn an_update_split_into_chunks_is_checked_once_for_its_table() {
        let mut steps = WriteSteps::default();
        steps.updates("b", 3, vec![stmt("UPDATE b SET x = ", &[1]), stmt("UPDATE b SET x = ", &[2])]);
        steps.updates("c", 1, vec![stmt("UPDATE c SET x = ", &[3])]);
        steps.updates("d", 0, vec![]);
        assert_eq!(steps.expected(), vec![("b", 3), ("c", 1)]);
    }
}

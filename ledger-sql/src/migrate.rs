//! The embedded schema migrations, applied on connect.
//!
//! Migrations live in `migrations/postgres` and `migrations/sqlite`, are
//! compiled into the crate by `sqlx::migrate!`, and are recorded by sqlx in
//! the `_sqlx_migrations` table. A database migrated by a newer build (one
//! whose table records a version this build does not know) is refused with
//! a clear error instead of being used with a schema this code may misread.

use ledger_core::StorageError;
use sqlx::migrate::{MigrateError, Migrator};

use crate::error::storage_error;

/// The PostgreSQL schema.
#[cfg(feature = "postgres")]
pub(crate) static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// The SQLite schema.
#[cfg(feature = "sqlite")]
pub(crate) static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");

/// The newest schema version a migrator knows.
fn latest(migrator: &Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Checks, without migrating, that a read-only database (a replica) holds
/// exactly the schema this build's `migrator` makes.
#[cfg(feature = "postgres")]
pub(crate) async fn check_current(
    conn: &mut sqlx::PgConnection,
    backend: &'static str,
    migrator: &Migrator,
) -> Result<(), StorageError> {
    let latest = latest(migrator);
    let found: Result<Option<i64>, sqlx::Error> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success").fetch_one(&mut *conn).await;
    let version = match found {
        Ok(version) => version.unwrap_or(0),
        // 42P01: undefined_table, a database no ledger was ever opened on.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P01") => 0,
        Err(error) => return Err(storage_error(backend, "reading the replica's schema version", error)),
    };
    if version == latest {
        return Ok(());
    }
    Err(StorageError::new(
        backend,
        format!(
            "the read replica's schema is at version {version} and this build needs {latest}: \
             open the primary with this build first (it migrates), and let the replica catch up"
        ),
    ))
}

/// Explains a failed migration run.
pub(crate) fn migration_error(backend: &'static str, migrator: &Migrator, error: MigrateError) -> StorageError {
    let latest = latest(migrator);
    let message = match &error {
        MigrateError::VersionMissing(version) if *version > latest => format!(
            "schema version {version} is newer than this build (which knows versions up to {latest}); \
             upgrade ledger-sql before opening this database"
        ),
        MigrateError::VersionMissing(version) => {
            format!("schema version {version} is recorded in the database but unknown to this build")
        }
        MigrateError::VersionMismatch(version) => {
            format!("schema version {version} in the database differs from this build's migration {version}")
        }
        MigrateError::Dirty(version) => {
            format!("schema migration {version} failed part way; the database needs repair")
        }
        _ => {
            return match error {
                MigrateError::Execute(source) => storage_error(backend, "migrating the schema", source),
                MigrateError::ExecuteMigration(source, version) => {
                    storage_error(backend, &format!("applying schema migration {version}"), source)
                }
                other => StorageError::with_source(backend, format!("migrating the schema: {other}"), other),
            };
        }
    };
    StorageError::with_source(backend, message, error)
}

#[cfg(test)]
#[cfg(all(feature = "postgres", feature = "sqlite"))]
mod tests {
    use super::*;

    #[test]
    fn both_schemas_have_the_same_versions() {
        let versions = |m: &Migrator| m.iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(&POSTGRES), versions(&SQLITE));
        assert_eq!(latest(&POSTGRES), 7);
    }

    #[test]
    fn a_newer_version_is_named() {
        let error = migration_error("sqlite", &SQLITE, MigrateError::VersionMissing(8));
        assert!(error.message.contains("schema version 8 is newer than this build"), "{error}");
    }
}

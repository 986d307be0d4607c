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
        assert_eq!(latest(&POSTGRES), 6);
    }

    #[test]
    fn a_newer_version_is_named() {
        let error = migration_error("sqlite", &SQLITE, MigrateError::VersionMissing(7));
        assert!(error.message.contains("schema version 7 is newer than this build"), "{error}");
    }
}

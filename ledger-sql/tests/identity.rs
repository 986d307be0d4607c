//! The identity tables past what the conformance suite reaches (listings,
//! touches and the audit actor index are its `store_contract` cases): exact
//! round trips of users, sessions and reset tokens; the actor index in the
//! plan; touches rounded to the stored microsecond; the schema's
//! constraints; registrations racing across two store instances; and
//! migrations applied to a database made at schema 0001.
//!
//! Every case runs on SQLite and (with `LEDGER_TEST_POSTGRES_URL`) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use ledger_core::conformance::Harness;
use ledger_core::conformance::invariants::{self, all_transactions};
use ledger_core::identity::{
    Device, Email, HashParams, KycStatus, KycTransition, Profile, ProfilePatch, ResetToken, Session,
};
use ledger_core::{
    AccountCode, AccountId, AccountKind, Actor, Amount, CaptureHold, Clock, Currency, Deposit, HistoryFilter,
    IdempotencyKey, Ledger, LedgerConfig, LedgerError, Login, LoginRequest, NormalBalance, OpenAccount, PlaceHold,
    Registration, Store, Transaction, Transfer, UserId, Withdraw,
};
use ledger_sql::{SqlOptions, SqlStore};
use sqlx::Connection;

const PASSWORD: &str = "correct horse battery staple";

/// Which database a case runs on, and how to reach it with raw SQL.
#[derive(Debug, Clone)]
enum Db {
    Sqlite { url: String },
    Postgres { url: String, schema: String },
}

impl Db {
    fn sqlite() -> Db {
        Db::Sqlite { url: common::fresh_sqlite_url() }
    }

    async fn postgres() -> Option<Db> {
        let url = common::postgres_url("PostgreSQL identity tests")?;
        let schema = common::fresh_schema(&url).await;
        Some(Db::Postgres { url, schema })
    }

    fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres { .. })
    }

    async fn store(&self) -> Arc<SqlStore> {
        let store = match self {
            Db::Sqlite { url } => SqlStore::connect_with(url, SqlOptions::default().max_connections(5)).await,
            Db::Postgres { url, schema } => SqlStore::connect_with(url, common::test_options(schema)).await,
        };
        Arc::new(store.expect("opening the store"))
    }

    /// Runs raw SQL statements, returning the first failure's message.
    async fn raw(&self, statements: &[String]) -> Result<(), String> {
        match self {
            Db::Sqlite { url } => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query("PRAGMA foreign_keys = ON").execute(&mut conn).await.unwrap();
                for sql in statements {
                    sqlx::query(sql).execute(&mut conn).await.map_err(|e| e.to_string())?;
                }
            }
            Db::Postgres { url, schema } => {
                let mut conn = pg_connection(url, schema).await;
                for sql in statements {
                    sqlx::query(sql).execute(&mut conn).await.map_err(|e| e.to_string())?;
                }
            }
        }
        Ok(())
    }

    /// A one-column text query.
    async fn strings(&self, sql: &str) -> Vec<String> {
        match self {
            Db::Sqlite { url } => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
            Db::Postgres { url, schema } => {
                let mut conn = pg_connection(url, schema).await;
                let query = sqlx::query_scalar(sql);
                let query = if sql.contains("$1") { query.bind(schema) } else { query };
                query.fetch_all(&mut conn).await.unwrap()
            }
        }
    }

    /// The plan of a query, one line per node.
    async fn plan(&self, sql: &str) -> String {
        use sqlx::Row;
        let lines: Vec<String> = match self {
            Db::Sqlite { url } => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}")).fetch_all(&mut conn).await.unwrap();
                rows.iter().map(|r| r.get("detail")).collect()
            }
            Db::Postgres { url, schema } => {
                let mut conn = pg_connection(url, schema).await;
                // A handful of rows: make the planner show which index it can use.
                sqlx::query("SET enable_seqscan = off").execute(&mut conn).await.unwrap();
                let rows = sqlx::query(&format!("EXPLAIN {sql}")).fetch_all(&mut conn).await.unwrap();
                rows.iter().map(|r| r.get("QUERY PLAN")).collect()
            }
        };
        lines.join("\n")
    }

    /// The schema's recorded migration versions.
    async fn versions(&self) -> Vec<String> {
        self.strings("SELECT CAST(version AS TEXT) FROM _sqlx_migrations ORDER BY version").await
    }
}

async fn pg_connection(url: &str, schema: &str) -> sqlx::PgConnection {
    let options = sqlx::postgres::PgConnectOptions::from_str(url).unwrap().options([("search_path", schema)]);
    sqlx::PgConnection::connect_with(&options).await.unwrap()
}

/// One `#[tokio::test]` per database for an `async fn(Db)` case.
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$case(super::Db::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = super::Db::postgres().await else { return };
                super::$case(db).await;
            }
        }
    )*};
}

on_both!(
    identity_rows_round_trip_exactly,
    audit_records_by_actor_use_the_actor_index,
    touch_session_rounds_down_to_the_stored_microsecond,
    schema_constraints_refuse_what_no_build_could_read,
    concurrent_registrations_of_one_email_across_two_instances_admit_one,
    schema_0002_applies_on_a_0001_database_with_data,
    schema_0004_backfills_history_on_a_0003_database_with_data,
    schema_0005_fills_running_balances_on_a_0004_database_with_data,
    schema_0006_starts_the_change_feed_on_a_0005_database_with_data,
);

fn registration(email: &str, full_name: &str) -> Registration {
    Registration { email: email.into(), password: PASSWORD.into(), full_name: full_name.into() }
}

fn device(label: &str) -> Device {
    Device::new(Some("test agent"), Some(IpAddr::from([192, 0, 2, 10])), Some(label)).unwrap()
}

async fn login_with(h: &Harness, email: &str, device: Device) -> Login {
    let request = LoginRequest { email: email.into(), password: PASSWORD.into(), device };
    h.ledger.login(request).await.unwrap()
}

// Round trips.

async fn identity_rows_round_trip_exactly(db: Db) {
    let store = db.store().await;
    let h = Harness::new(store.clone()).await;
    // Instants with a fraction of a second, to the microsecond.
    h.clock.advance(Duration::microseconds(123_457));

    let zoe = h.ledger.register(registration("  Zoe.Test+Tag@Example.COM ", "  Zoë Ünïcödé-O'Brien ")).await.unwrap();
    let stored = store.user(zoe.id).await.unwrap().unwrap();
    assert_eq!(stored.view(), zoe);
    assert_eq!(stored.email.as_str(), "zoe.test+tag@example.com");
    let name_only =
        Profile { full_name: "Zoë Ünïcödé-O'Brien".into(), phone: None, address: None, date_of_birth: None };
    assert_eq!(stored.profile, name_only);
    assert_eq!((stored.created_at, stored.updated_at), (h.clock.now(), h.clock.now()));
    assert!(stored.password.as_str().starts_with("$argon2id$v=19$"), "{}", stored.password.as_str());
    assert!(stored.password.verify(PASSWORD));
    let by_email = store.user_by_email(&Email::parse("ZOE.test+TAG@example.com").unwrap()).await.unwrap();
    assert_eq!(by_email, Some(stored.clone()));
    assert_eq!(store.user_by_email(&Email::parse("nobody@example.com").unwrap()).await.unwrap(), None);
    assert_eq!(store.user(UserId::new()).await.unwrap(), None);

    // Every profile field set, then cleared again.
    let customer = Actor::customer(zoe.id);
    h.clock.advance(Duration::seconds(1));
    let patch = ProfilePatch {
        phone: Some(Some("+44 20 7946 0958".into())),
        address: Some(Some("1 Rue de l'Église\nParis ✓".into())),
        date_of_birth: Some(NaiveDate::from_ymd_opt(1990, 2, 28)),
        ..ProfilePatch::default()
    };
    let updated = h.ledger.update_profile(&customer, zoe.id, patch).await.unwrap();
    let stored = store.user(zoe.id).await.unwrap().unwrap();
    assert_eq!(stored.view(), updated);
    let full = Profile {
        full_name: "Zoë Ünïcödé-O'Brien".into(),
        phone: Some("+442079460958".into()),
        address: Some("1 Rue de l'Église\nParis ✓".into()),
        date_of_birth: NaiveDate::from_ymd_opt(1990, 2, 28),
    };
    assert_eq!(stored.profile, full);
    assert_eq!((stored.created_at, stored.updated_at), (zoe.created_at, h.clock.now()));

    // KYC: submitted, rejected with a reason, resubmitted.
    let admin = h.ledger.bootstrap_admin(registration("admin@example.com", "Admin")).await.unwrap();
    let admin = Actor::admin(admin.id);
    h.ledger.submit_kyc(&customer, zoe.id).await.unwrap();
    let reason = "Document illegible — «résumé» ✓";
    let rejected = KycTransition::Reject { reason: reason.into() };
    let reviewed = h.ledger.review_kyc(&admin, zoe.id, rejected).await.unwrap();
    let stored = store.user(zoe.id).await.unwrap().unwrap();
    assert_eq!(stored.view(), reviewed);
    assert_eq!((stored.kyc_status, stored.kyc_reason.as_deref()), (KycStatus::Rejected, Some(reason)));
    h.ledger.submit_kyc(&customer, zoe.id).await.unwrap();
    assert_eq!(store.user(zoe.id).await.unwrap().unwrap().kyc_status, KycStatus::Pending);

    let clear =
        ProfilePatch { phone: Some(None), address: Some(None), date_of_birth: Some(None), ..ProfilePatch::default() };
    let cleared = h.ledger.update_profile(&customer, zoe.id, clear).await.unwrap();
    let stored = store.user(zoe.id).await.unwrap().unwrap();
    assert_eq!(stored.view(), cleared);
    assert_eq!(stored.profile, name_only);

    // Sessions from IPv4, IPv6, IPv4-mapped IPv6 and unknown devices.
    let devices = [
        Device::new(Some("Mozilla/5.0 (X11; Linux x86_64) ✓"), Some("203.0.113.7".parse().unwrap()), Some("laptop")),
        Device::new(Some("curl/8.5"), Some("2001:db8::42".parse().unwrap()), None),
        Device::new(None, Some("::ffff:192.0.2.1".parse().unwrap()), Some("phone ✓")),
        Ok(Device::default()),
    ];
    let mut logins = Vec::new();
    for device in devices {
        let device = device.unwrap();
        h.clock.advance(Duration::microseconds(1));
        let login = login_with(&h, "zoe.test+tag@example.com", device.clone()).await;
        let stored = store.session_by_token(&login.token.digest()).await.unwrap().unwrap();
        assert_eq!(stored, login.session);
        assert_eq!(stored.device, device);
        logins.push(login);
    }
    assert_eq!(store.session_by_token(&ledger_core::Digest::ZERO).await.unwrap(), None);

    // Revocation writes the instant and changes nothing else.
    h.clock.advance(Duration::seconds(5));
    let auth = h.ledger.authenticate(logins[0].token.expose()).await.unwrap();
    h.ledger.logout(&auth).await.unwrap();
    let revoked = store.session_by_token(&logins[0].token.digest()).await.unwrap().unwrap();
    assert_eq!(revoked, Session { revoked_at: Some(h.clock.now()), ..logins[0].session.clone() });

    // A reset token, issued and then used.
    h.ledger.request_password_reset("zoe.test+tag@example.com").await.unwrap();
    let token = h.notifier.last_token_for("zoe.test+tag@example.com").unwrap();
    let issued = store.reset_token(&token.digest()).await.unwrap().unwrap();
    assert_eq!(issued, ResetToken::issue(zoe.id, token.digest(), h.clock.now()));
    h.clock.advance(Duration::seconds(7));
    h.ledger.reset_password(token.expose(), "a brand new passphrase 42").await.unwrap();
    let used = store.reset_token(&token.digest()).await.unwrap().unwrap();
    assert_eq!(used, ResetToken { used_at: Some(h.clock.now()), ..issued });
    let user = store.user(zoe.id).await.unwrap().unwrap();
    assert!(user.password.verify("a brand new passphrase 42") && !user.password.verify(PASSWORD));
    assert_eq!(user.updated_at, h.clock.now());
    for login in &logins[1..] {
        let session = store.session_by_token(&login.token.digest()).await.unwrap().unwrap();
        assert_eq!(session, Session { revoked_at: Some(h.clock.now()), ..login.session.clone() });
    }
    assert_eq!(revoked, store.session_by_token(&logins[0].token.digest()).await.unwrap().unwrap(), "revoked once");

    // Listing users: id order, a cursor and a limit.
    let mut ids = vec![zoe.id, admin.user_id().unwrap()];
    ids.sort();
    let all = store.users(None, 10).await.unwrap();
    assert_eq!(all.iter().map(|u| u.id).collect::<Vec<_>>(), ids);
    assert_eq!(all.iter().find(|u| u.id == zoe.id), Some(&user));
    assert_eq!(store.users(None, 1).await.unwrap(), all[..1]);
    assert_eq!(store.users(Some(ids[0]), 10).await.unwrap(), all[1..]);
    assert!(store.users(Some(ids[1]), 10).await.unwrap().is_empty());
    assert!(store.users(None, 0).await.unwrap().is_empty());
}

// Listings.

// Touches.

// What only SQL has: plans and rounding (the listings and touches
// themselves are conformance cases: `conformance::store_contract`).

async fn audit_records_by_actor_use_the_actor_index(db: Db) {
    let _migrated = db.store().await;
    let plan =
        db.plan("SELECT * FROM audit_log WHERE actor = 'system' AND sequence > 5 ORDER BY sequence LIMIT 10").await;
    eprintln!("audit records by actor:\n{plan}");
    assert!(plan.contains("audit_log_actor_idx") && !plan.contains("Sort") && !plan.contains("TEMP B-TREE"), "{plan}");
}

async fn touch_session_rounds_down_to_the_stored_microsecond(db: Db) {
    let store = db.store().await;
    let h = Harness::new(store.clone()).await;
    h.ledger.register(registration("kim@example.com", "Kim")).await.unwrap();
    let login = login_with(&h, "kim@example.com", device("phone")).await;
    let later = login.session.last_seen_at + Duration::seconds(10);
    store.touch_session(login.session.id, later + Duration::nanoseconds(1_500)).await.unwrap();
    let seen = store.session_by_token(&login.token.digest()).await.unwrap().unwrap();
    assert_eq!(seen.last_seen_at, later + Duration::microseconds(1), "finer than a microsecond: rounded down");
}

// The schema.

async fn schema_constraints_refuse_what_no_build_could_read(db: Db) {
    let store = db.store().await;
    let h = Harness::new(store.clone()).await;
    let user = h.ledger.register(registration("ivy@example.com", "Ivy")).await.unwrap();
    login_with(&h, "ivy@example.com", device("desk")).await;
    h.ledger.request_password_reset("ivy@example.com").await.unwrap();

    let postgres = db.is_postgres();
    let new_id = if postgres { "gen_random_uuid()" } else { "randomblob(16)" };
    let digest_of = |n: usize| {
        if postgres { format!("decode(repeat('ab', {n}), 'hex')") } else { format!("zeroblob({n})") }
    };
    let user_like = |email: &str, role: &str, kyc: &str| {
        format!(
            "INSERT INTO users (id, email, password, full_name, role, kyc_status, created_at, updated_at) \
             SELECT {new_id}, '{email}', password, full_name, '{role}', '{kyc}', created_at, updated_at FROM users"
        )
    };
    let session_like = |user_id: &str, digest: &str| {
        format!(
            "INSERT INTO sessions (id, user_id, token_digest, created_at, last_seen_at, expires_at, idle_secs) \
             SELECT {new_id}, {user_id}, {digest}, created_at, last_seen_at, expires_at, idle_secs FROM sessions"
        )
    };
    let (duplicate_email, unknown_user) = if db.is_postgres() {
        ("users_email_key", "sessions_user_id_fkey")
    } else {
        ("UNIQUE constraint failed: users.email", "FOREIGN KEY constraint failed")
    };
    let cases = [
        (user_like("ivy@example.com", "customer", "unverified"), duplicate_email),
        (user_like("Ivy2@example.com", "customer", "unverified"), "users_email_check"),
        (user_like("ivy3@example.com", "root", "unverified"), "users_role_check"),
        (user_like("ivy4@example.com", "customer", "maybe"), "users_kyc_status_check"),
        (session_like("user_id", &digest_of(31)), "sessions_token_digest_check"),
        (session_like(new_id, &digest_of(32)), unknown_user),
        (
            format!(
                "INSERT INTO reset_tokens (token_digest, user_id, created_at, expires_at) SELECT {}, user_id, created_at, expires_at FROM reset_tokens",
                digest_of(33)
            ),
            "reset_tokens_token_digest_check",
        ),
    ];
    for (sql, expected) in cases {
        let error = db.raw(std::slice::from_ref(&sql)).await.expect_err(&sql);
        assert!(error.contains(expected), "{sql}: {error}");
    }
    if !db.is_postgres() {
        let error = db.raw(&["UPDATE users SET date_of_birth = '28/02/1990'".to_owned()]).await.unwrap_err();
        assert!(error.contains("users_date_of_birth_check"), "{error}");
    }
    // Nothing of that was stored.
    assert_eq!(store.users(None, 10).await.unwrap().len(), 1);
    assert_eq!(store.sessions_of(user.id, 10).await.unwrap().len(), 1);
}

async fn concurrent_registrations_of_one_email_across_two_instances_admit_one(db: Db) {
    const RACERS: usize = 8;
    let (a, b) = tokio::join!(db.store(), db.store());
    let config = LedgerConfig::default().password_hash(HashParams::INSECURE_FAST_FOR_TESTS);
    let a = Ledger::builder(a).config(config.clone()).open().await.unwrap();
    let b = Ledger::builder(b).config(config).open().await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let ledger = if i % 2 == 0 { a.clone() } else { b.clone() };
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            ledger.register(registration(&format!(" Race@Example.com{}", " ".repeat(i)), &format!("Racer {i}"))).await
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(view) => winners.push(view),
            Err(LedgerError::EmailTaken) => {}
            Err(other) => panic!("a racing registration failed unexpectedly: {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one registration of the email wins");
    let stored = b.store().user_by_email(&Email::parse("race@example.com").unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.view(), winners[0]);
    assert_eq!(a.store().users(None, 100).await.unwrap(), vec![stored]);
}

// Migrations.

/// The schema's description: every table, column, index and constraint,
/// one line each, sorted.
async fn describe_schema(db: &Db) -> Vec<String> {
    let mut lines = match db {
        Db::Sqlite { .. } => {
            db.strings("SELECT type || ' ' || name || ' ' || tbl_name || ' ' || coalesce(sql, '') FROM sqlite_master")
                .await
        }
        Db::Postgres { .. } => {
            db.strings(
                "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' \
                        || coalesce(column_default, '') \
                   FROM information_schema.columns WHERE table_schema = $1 \
                 UNION ALL \
                 SELECT 'index ' || tablename || ' ' || replace(indexdef, $1 || '.', '') \
                   FROM pg_indexes WHERE schemaname = $1 \
                 UNION ALL \
                 SELECT 'constraint ' || cl.relname || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid) \
                   FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid \
                   JOIN pg_namespace n ON n.oid = con.connamespace WHERE n.nspname = $1",
            )
            .await
        }
    };
    lines.sort();
    lines
}

/// Applies only migration 0001 to an empty database, as the build before
/// identity did (the same file, so the same checksum).
async fn migrate_to_0001(db: &Db) {
    migrate_to(db, 1).await;
}

/// Applies this build's migrations up to `version` alone.
async fn migrate_to(db: &Db, version: i64) {
    let dialect = if db.is_postgres() { "postgres" } else { "sqlite" };
    let dir = tempfile::tempdir().unwrap();
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dialect);
    for entry in std::fs::read_dir(&migrations).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let number: i64 = name[..4].parse().unwrap();
        if number <= version {
            std::fs::copy(migrations.join(&name), dir.path().join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    assert_eq!(migrator.iter().map(|m| m.version).collect::<Vec<_>>(), (1..=version).collect::<Vec<_>>());
    match db {
        Db::Sqlite { url } => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).unwrap().create_if_missing(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
            migrator.run(&mut conn).await.unwrap();
        }
        Db::Postgres { url, schema } => migrator.run(&mut pg_connection(url, schema).await).await.unwrap(),
    }
}

/// Undoes migration 0006 (the change feed) and drops its record, leaving a
/// 0005 database.
async fn strip_0006(db: &Db) {
    let statements = ["DROP TABLE changes", "DROP TABLE sink_cursors", "DROP TABLE leases"];
    let mut statements: Vec<String> = statements.iter().map(|s| (*s).to_owned()).collect();
    statements.push("DELETE FROM _sqlx_migrations WHERE version >= 6".to_owned());
    db.raw(&statements).await.unwrap();
}

/// Undoes migrations 0006 and 0005 (running balances) and drops their
/// records, leaving a 0004 database.
async fn strip_0005(db: &Db) {
    strip_0006(db).await;
    let mut statements = vec!["DROP INDEX postings_account_time_idx", "ALTER TABLE audit_head DROP COLUMN at"];
    if db.is_postgres() {
        statements.extend([
            "ALTER TABLE postings DROP COLUMN balance_after, DROP COLUMN at",
            "ALTER TABLE transactions DROP COLUMN reverses, DROP COLUMN reversed_amount",
        ]);
    } else {
        statements.extend([
            "ALTER TABLE postings DROP COLUMN balance_after",
            "ALTER TABLE postings DROP COLUMN at",
            "ALTER TABLE transactions DROP COLUMN reverses",
            "ALTER TABLE transactions DROP COLUMN reversed_amount",
        ]);
    }
    statements.push("DELETE FROM _sqlx_migrations WHERE version >= 5");
    db.raw(&statements.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).await.unwrap();
}

/// Undoes migration 0004 (general ledger I) and drops its record, leaving a
/// 0003 database: its tables and columns go, the two per-side history
/// indexes it replaced come back.
async fn strip_0004(db: &Db) {
    let mut statements = vec![
        "DROP TABLE transaction_metadata",
        "DROP TABLE account_transactions",
        "CREATE INDEX transactions_from_account_idx ON transactions (from_account, sequence)",
        "CREATE INDEX transactions_to_account_idx ON transactions (to_account, sequence)",
    ];
    if db.is_postgres() {
        statements.extend([
            "ALTER TABLE accounts DROP COLUMN code, DROP COLUMN normal_balance, DROP COLUMN ledger_floor, \
             DROP COLUMN metadata",
            "ALTER TABLE transactions DROP COLUMN legs, DROP COLUMN metadata",
        ]);
    } else {
        statements.extend([
            "DROP INDEX accounts_code_key",
            "ALTER TABLE accounts DROP COLUMN code",
            "ALTER TABLE accounts DROP COLUMN normal_balance",
            "ALTER TABLE accounts DROP COLUMN ledger_floor",
            "ALTER TABLE accounts DROP COLUMN metadata",
            "ALTER TABLE transactions DROP COLUMN legs",
            "ALTER TABLE transactions DROP COLUMN metadata",
        ]);
    }
    statements.push("DELETE FROM _sqlx_migrations WHERE version >= 4");
    db.raw(&statements.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).await.unwrap();
}

/// Drops what migrations 0002 and 0003 add and their records, leaving a
/// 0001 database (0003 only adds a column to 0002's `users`). Strip 0004
/// first.
async fn strip_0002(db: &Db) {
    let statements = [
        "DROP TABLE reset_tokens",
        "DROP TABLE sessions",
        "DROP TABLE users",
        "DROP INDEX audit_log_actor_idx",
        "DELETE FROM _sqlx_migrations WHERE version >= 2",
    ];
    db.raw(&statements.map(str::to_owned)).await.unwrap();
}

async fn schema_0002_applies_on_a_0001_database_with_data(db: Db) {
    // What a 0001 schema looks like, made by the 0001 migration alone.
    let pristine = match &db {
        Db::Sqlite { .. } => Db::sqlite(),
        Db::Postgres { url, .. } => Db::Postgres { url: url.clone(), schema: common::fresh_schema(url).await },
    };
    migrate_to_0001(&pristine).await;
    assert_eq!(pristine.versions().await, ["1"]);
    let schema_0001 = describe_schema(&pristine).await;
    assert!(schema_0001.iter().any(|line| line.contains("audit_head")), "{schema_0001:?}");
    assert!(!schema_0001.iter().any(|line| line.contains("sessions")), "{schema_0001:?}");

    // A ledger with money in it, taken back to schema 0001.
    let store = db.store().await;
    let h = Harness::new(store.clone()).await;
    let owner = UserId::new();
    let from = h.ledger.open_account(&Actor::System, OpenAccount::new(owner, AccountKind::Checking, Currency::Usd));
    let from = from.await.unwrap();
    let to = h.ledger.open_account(&Actor::System, OpenAccount::new(owner, AccountKind::Savings, Currency::Usd));
    let to = to.await.unwrap();
    let deposit = Deposit {
        account: from.id,
        amount: Amount::parse("100").unwrap(),
        description: None,
        metadata: Default::default(),
    };
    h.ledger.deposit(&Actor::System, IdempotencyKey::new("d").unwrap(), deposit).await.unwrap();
    let transfer = Transfer {
        from: from.id,
        to: to.id.into(),
        amount: Amount::parse("42.5").unwrap(),
        description: None,
        metadata: Default::default(),
    };
    h.ledger.transfer(&Actor::System, IdempotencyKey::new("t").unwrap(), transfer).await.unwrap();
    let head = h.ledger.verify_audit_chain(&Actor::System, None).await.unwrap();
    let records = store.audit_records(0, 1_000).await.unwrap();
    drop(h);
    store.close().await;
    strip_0005(&db).await;
    strip_0004(&db).await;
    strip_0002(&db).await;
    assert_eq!(db.versions().await, ["1"]);
    assert_eq!(describe_schema(&db).await, schema_0001, "the stripped database is a 0001 database");

    // Opening it applies 0002 and keeps everything.
    let store = db.store().await;
    assert_eq!(db.versions().await, ["1", "2", "3", "4", "5", "6"]);
    let h = Harness::new(store.clone()).await;
    assert_eq!(h.ledger.verify_audit_chain(&Actor::System, Some(head)).await.unwrap(), head);
    assert_eq!(h.ledger.balance(&Actor::System, from.id).await.unwrap().posted.to_string(), "57.50");
    assert_eq!(h.ledger.balance(&Actor::System, to.id).await.unwrap().posted.to_string(), "42.50");
    assert!(records.iter().all(|r| r.actor == "system"));
    assert_eq!(store.audit_records_by_actor("system", 0, 1_000).await.unwrap(), records, "indexed over old rows");
    let user = h.ledger.register(registration("late@example.com", "Late Comer")).await.unwrap();
    let login = login_with(&h, "late@example.com", device("new")).await;
    assert_eq!(store.sessions_of(user.id, 10).await.unwrap(), vec![login.session]);
    let own = store.audit_records_by_actor(&format!("user:{}", user.id), 0, 10).await.unwrap();
    assert_eq!(own.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(), ["auth.register", "auth.login"]);
    h.ledger.verify_audit_chain(&Actor::System, None).await.unwrap();
    store.close().await;

    // The empty 0001 database opens too, and ends up with the same schema.
    let migrated = pristine.store().await;
    Ledger::builder(migrated.clone()).open().await.unwrap();
    migrated.close().await;
    assert_eq!(pristine.versions().await, ["1", "2", "3", "4", "5", "6"]);
    assert_eq!(describe_schema(&pristine).await, describe_schema(&db).await);
}

/// A ledger with money in it at schema 0003 gets 0004: the settlement
/// accounts become ledger accounts, every account's history is backfilled
/// (the settlement side of deposits and withdrawals included, which 0003
/// never indexed), and every balance, transaction and audit record stays.
async fn schema_0004_backfills_history_on_a_0003_database_with_data(db: Db) {
    let pristine = match &db {
        Db::Sqlite { .. } => Db::sqlite(),
        Db::Postgres { url, .. } => Db::Postgres { url: url.clone(), schema: common::fresh_schema(url).await },
    };
    migrate_to(&pristine, 3).await;
    let schema_0003 = describe_schema(&pristine).await;

    let store = db.store().await;
    let h = Harness::new(store.clone()).await;
    let sys = Actor::System;
    let owner = UserId::new();
    let a = h.ledger.open_account(&sys, OpenAccount::new(owner, AccountKind::Checking, Currency::Usd)).await.unwrap();
    let b = h.ledger.open_account(&sys, OpenAccount::new(owner, AccountKind::Savings, Currency::Usd)).await.unwrap();
    let key = |k: &str| IdempotencyKey::new(k).unwrap();
    let money = |t: &str| Amount::parse(t).unwrap();
    let deposit = Deposit { account: a.id, amount: money("100"), description: None, metadata: Default::default() };
    h.ledger.deposit(&sys, key("d"), deposit).await.unwrap();
    let transfer =
        Transfer { from: a.id, to: b.id.into(), amount: money("30"), description: None, metadata: Default::default() };
    h.ledger.transfer(&sys, key("t"), transfer).await.unwrap();
    let withdrawal = Withdraw { account: b.id, amount: money("5"), description: None, metadata: Default::default() };
    h.ledger.withdraw(&sys, key("w"), withdrawal).await.unwrap();
    let hold = PlaceHold {
        account: a.id,
        amount: money("10"),
        destination: Some(b.number.into()),
        expires_at: None,
        description: None,
        metadata: Default::default(),
    };
    let held = h.ledger.place_hold(&sys, key("h"), hold).await.unwrap().transaction;
    h.ledger.capture_hold(&sys, key("c"), CaptureHold { hold: held.id, amount: Some(money("4")) }).await.unwrap();
    let settlement = AccountId::settlement(Currency::Usd);
    let mut histories = Vec::new();
    for account in [a.id, b.id, settlement] {
        histories.push(all_transactions(&h.ledger, &HistoryFilter::account(account)).await);
    }
    assert_eq!(histories[2].len(), 2, "the deposit and the withdrawal touch settlement");
    let head = h.ledger.verify_audit_chain(&sys, None).await.unwrap();
    drop(h);
    store.close().await;
    strip_0005(&db).await;
    strip_0004(&db).await;
    assert_eq!(db.versions().await, ["1", "2", "3"]);
    assert_eq!(describe_schema(&db).await, schema_0003, "the stripped database is a 0003 database");

    let store = db.store().await;
    assert_eq!(db.versions().await, ["1", "2", "3", "4", "5", "6"]);
    let h = Harness::new(store.clone()).await;
    assert_eq!(h.ledger.verify_audit_chain(&sys, Some(head)).await.unwrap(), head);
    for (account, before) in [a.id, b.id, settlement].into_iter().zip(&histories) {
        let after = all_transactions(&h.ledger, &HistoryFilter::account(account)).await;
        let ids = |ts: &[Transaction]| ts.iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(ids(&after), ids(before), "history of {account} after the backfill");
        let legs = |ts: &[Transaction]| ts.iter().map(Transaction::legs).collect::<Vec<_>>();
        assert_eq!(legs(&after), legs(before), "legs derived from the 0003 rows");
    }
    let code = AccountCode::settlement(Currency::Usd);
    let found = h.ledger.ledger_account(&sys, &code).await.unwrap();
    assert_eq!((found.id, found.normal_balance), (settlement, NormalBalance::Debit));
    assert_eq!(h.ledger.balance(&sys, settlement).await.unwrap().posted.to_string(), "95.00", "debit-normal");
    assert_eq!(h.ledger.balance(&sys, a.id).await.unwrap().posted.to_string(), "66.00");
    assert_eq!(h.ledger.balance(&sys, b.id).await.unwrap().posted.to_string(), "29.00");
    invariants::check(&h.ledger).await;
    store.close().await;
}

/// A ledger with money in it at schema 0004 gets 0005: every posting's
/// running balance and commit time are filled from what is stored, so
/// balances as of past instants and statements come out right, and what
/// commits next goes on from them.
async fn schema_0005_fills_running_balances_on_a_0004_database_with_data(db: Db) {
    let pristine = match &db {
        Db::Sqlite { .. } => Db::sqlite(),
        Db::Postgres { url, .. } => Db::Postgres { url: url.clone(), schema: common::fresh_schema(url).await },
    };
    migrate_to(&pristine, 4).await;
    let schema_0004 = describe_schema(&pristine).await;

    let store = db.store().await;
    let h = Harness::new(store.clone()).await;
    let sys = Actor::System;
    let owner = UserId::new();
    let a = h.ledger.open_account(&sys, OpenAccount::new(owner, AccountKind::Checking, Currency::Eur)).await.unwrap();
    let b = h.ledger.open_account(&sys, OpenAccount::new(owner, AccountKind::Savings, Currency::Eur)).await.unwrap();
    let key = |k: &str| IdempotencyKey::new(k).unwrap();
    let money = |t: &str| Amount::parse(t).unwrap();
    let step = || h.clock.advance(Duration::seconds(10));
    let mut instants = Vec::new();
    step();
    let deposit = Deposit { account: a.id, amount: money("1000.25"), description: None, metadata: Default::default() };
    h.ledger.deposit(&sys, key("d"), deposit).await.unwrap();
    instants.push(h.ledger.now());
    step();
    let transfer = Transfer {
        from: a.id,
        to: b.id.into(),
        amount: money("300.5"),
        description: None,
        metadata: Default::default(),
    };
    h.ledger.transfer(&sys, key("t"), transfer).await.unwrap();
    instants.push(h.ledger.now());
    step();
    let hold = PlaceHold {
        account: a.id,
        amount: money("200"),
        destination: None,
        expires_at: None,
        description: None,
        metadata: Default::default(),
    };
    let held = h.ledger.place_hold(&sys, key("h"), hold).await.unwrap().transaction;
    step();
    h.ledger.capture_hold(&sys, key("c"), CaptureHold { hold: held.id, amount: Some(money("150.75")) }).await.unwrap();
    instants.push(h.ledger.now());
    step();
    let withdrawal = Withdraw { account: b.id, amount: money("0.5"), description: None, metadata: Default::default() };
    h.ledger.withdraw(&sys, key("w"), withdrawal).await.unwrap();
    instants.push(h.ledger.now());
    step();
    let accounts = [a.id, b.id, AccountId::settlement(Currency::Eur)];
    let mut expected = Vec::new();
    for account in accounts {
        for at in &instants {
            expected.push(h.ledger.balance_as_of(&sys, account, *at).await.unwrap().posted);
        }
    }
    let statement = h.ledger.statement(&sys, a.id, Some(instants[0]), Some(h.ledger.now())).await.unwrap();
    drop(h);
    store.close().await;
    strip_0005(&db).await;
    assert_eq!(db.versions().await, ["1", "2", "3", "4"]);
    assert_eq!(describe_schema(&db).await, schema_0004, "the stripped database is a 0004 database");

    let store = db.store().await;
    assert_eq!(db.versions().await, ["1", "2", "3", "4", "5", "6"]);
    let h = Harness::new(store.clone()).await;
    h.clock.advance(Duration::seconds(100));
    let mut found = Vec::new();
    for account in accounts {
        for at in &instants {
            found.push(h.ledger.balance_as_of(&sys, account, *at).await.unwrap().posted);
        }
    }
    assert_eq!(found, expected, "balances as of each instant, from the backfilled running balances");
    assert_eq!(
        found.iter().map(ToString::to_string).collect::<Vec<_>>()[..4],
        ["1000.25", "699.75", "549.00", "549.00"],
        "a's balance after the deposit, the transfer, the capture, the withdrawal"
    );
    let again = h.ledger.statement(&sys, a.id, Some(statement.from), Some(statement.until)).await.unwrap();
    assert_eq!(again, statement);
    invariants::check(&h.ledger).await;
    let deposit = Deposit { account: b.id, amount: money("1"), description: None, metadata: Default::default() };
    h.ledger.deposit(&sys, key("after"), deposit).await.unwrap();
    invariants::check(&h.ledger).await;
    store.close().await;
    // The empty 0004 database migrates to the same schema.
    let migrated = pristine.store().await;
    Ledger::builder(migrated.clone()).open().await.unwrap();
    migrated.close().await;
    assert_eq!(describe_schema(&pristine).await, describe_schema(&db).await);
}

/// A ledger with money in it at schema 0005 gets 0006: its change feed
/// starts empty (earlier commits were never recorded as changes) and
/// records every commit from then on; cursors and leases work at once.
async fn schema_0006_starts_the_change_feed_on_a_0005_database_with_data(db: Db) {
    let store = db.store().await;
    let h = Harness::new(store.clone()).await;
    let sys = Actor::System;
    let a = h
        .ledger
        .open_account(&sys, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Eur))
        .await
        .unwrap();
    let money = |t: &str| Amount::parse(t).unwrap();
    let deposit = Deposit { account: a.id, amount: money("10"), description: None, metadata: Default::default() };
    h.ledger.deposit(&sys, IdempotencyKey::new("d").unwrap(), deposit).await.unwrap();
    drop(h);
    store.close().await;
    strip_0006(&db).await;
    assert_eq!(db.versions().await, ["1", "2", "3", "4", "5"]);

    let store = db.store().await;
    assert_eq!(db.versions().await, ["1", "2", "3", "4", "5", "6"]);
    let h = Harness::new(store.clone()).await;
    assert_eq!(h.ledger.events_after(0, 10).await.unwrap(), vec![]);
    h.clock.advance(Duration::seconds(10));
    let deposit = Deposit { account: a.id, amount: money("2.5"), description: None, metadata: Default::default() };
    let receipt = h.ledger.deposit(&sys, IdempotencyKey::new("after").unwrap(), deposit).await.unwrap();
    let feed = h.ledger.events_after(0, 10).await.unwrap();
    assert_eq!(
        feed.iter().map(|c| c.transaction.as_ref().map(|t| t.id)).collect::<Vec<_>>(),
        [Some(receipt.transaction.id)]
    );
    let fed = feed[0].balances.iter().find(|x| x.id == a.id).unwrap();
    assert_eq!(fed.balance.posted.to_string(), "12.50");
    h.ledger.advance_sink_cursor("amqp", feed[0].sequence).await.unwrap();
    assert_eq!(h.ledger.sink_cursor("amqp").await.unwrap(), feed[0].sequence);
    assert!(h.ledger.try_lease("publish:amqp", "me", h.ledger.now() + Duration::seconds(5)).await.unwrap());
    invariants::check(&h.ledger).await;
    store.close().await;
}

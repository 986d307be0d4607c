//! # ledger-sql
//!
//! The ledger's SQL storage: [`SqlStore`] implements [`ledger_core::Store`]
//! on PostgreSQL (and the SQL that PostgreSQL-wire engines such as
//! CockroachDB and YugabyteDB accept) and on SQLite, through sqlx (SQLite's
//! reads outside a write through rusqlite, on the same SQLite library).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ledger_core::Ledger;
//! use ledger_sql::SqlStore;
//!
//! let store = SqlStore::connect("sqlite:ledger.db").await?; // or postgres://user@host/db
//! let ledger = Ledger::open(store).await?;
//! # let _ = ledger; Ok(()) }
//! ```
//!
//! Like every backend it stores and applies; it never decides. Each batch is
//! judged by `decide` (ledger-core) against state read inside the storage
//! transaction that then writes the verdict.
//!
//! ## Tables
//!
//! | table          | key                 | other indexes (query path)                                   |
//! |----------------|---------------------|--------------------------------------------------------------|
//! | `accounts`     | `id`                | unique `number` (by number, taken numbers); `(owner, opened_seq)` (an owner's accounts, oldest first) |
//! | `transactions` | `id`                | unique `sequence` (history without accounts); `(from_account, sequence)`, `(to_account, sequence)` (an account's history); partial `(expires_at, id) WHERE status = 'pending' AND expires_at IS NOT NULL` (expired holds) |
//! | `postings`     | `sequence`          | `(account_id, sequence)` (an account's postings)              |
//! | `idempotency`  | `key`               |                                                              |
//! | `audit_log`    | `sequence`          | `(actor, sequence)` (an actor's records in order: a customer's own audit log) |
//! | `audit_head`   | `id` (single row 1) |                                                              |
//! | `users`        | `id`                | unique `email` (by email, taken emails)                       |
//! | `sessions`     | `id`                | unique `token_digest` (by token); `(user_id, id)` (a user's sessions newest first, and their unrevoked ones) |
//! | `reset_tokens` | `token_digest`      |                                                              |
//!
//! Balances (`posted`, `pending`) live on the account row. Transactions and
//! postings carry ledger-core's sequences (commit order); foreign keys tie
//! postings and transactions to accounts. `audit_head` holds the end of the
//! hash chain (sequence and hash); it is also the commit lock (below).
//!
//! Identity (migration 0002) is stored field by field, never as a document:
//! a user's email (already normalised to lower case by ledger-core, so the
//! unique index is case-insensitive uniqueness), password digest (argon2id
//! PHC string), profile (`full_name`, `phone`, `address`, `date_of_birth`),
//! `role`, `kyc_status` and `kyc_reason`; a session's device (`user_agent`,
//! `client_addr` as the address's canonical text, `label`), `created_at`,
//! `last_seen_at`, `expires_at`, `idle_secs` and `revoked_at`; a reset
//! token's `user_id`, `created_at`, `expires_at` and `used_at`. Secret
//! tokens are never stored, only their SHA-256 digests (32-byte
//! `BYTEA`/`BLOB`, checked). Enumerations (`role`, `kyc_status`) are
//! checked against ledger-core's names, and sessions and reset tokens
//! reference their user. Session ids are UUIDv7, so id order is creation
//! order. Accounts do not reference users: an account's owner is any
//! [`UserId`](ledger_core::UserId), registered or not.
//!
//! Values are exact. PostgreSQL: `NUMERIC` money, `TIMESTAMPTZ` instants,
//! `DATE` dates, `UUID` ids. SQLite (`STRICT` tables, so never a `REAL`):
//! bounded amounts (a transaction's amount, a posting, a capture) as
//! `INTEGER` units of 10^-4 (ledger-core allows at most 4 decimal places),
//! balances and limits as the decimal's exact text, instants as `INTEGER`
//! microseconds, dates as ISO 8601 `TEXT` (`YYYY-MM-DD`), ids as 16-byte
//! `BLOB`s. What is read back equals what was written.
//!
//! The schema is applied on connect from migrations embedded in the binary
//! (`migrations/postgres`, `migrations/sqlite`). A database migrated by a
//! newer build is refused ("schema version N is newer than this build").
//!
//! ## One command, one storage transaction
//!
//! [`Store::apply`](ledger_core::Store::apply) runs all its batches in one
//! database transaction, in which ledger-core's apply loop
//! ([`ledger_core::apply_batches`]) runs over this crate's staging:
//!
//! 0. (PostgreSQL) `BEGIN` with sequential scans off for the transaction:
//!    every statement below is a lookup by key or a write of given rows, and
//!    a connection's cached plan, made while a growing table was small, must
//!    not stay a sequential scan (see `postgres::BEGIN`);
//! 1. read the audit head, locking it (PostgreSQL `SELECT ... FOR UPDATE`),
//!    in one statement with the accounts and the idempotency records when
//!    the call is loaded together (below);
//! 2. for each batch, in order: load its [`Keys`](ledger_core::Keys) (accounts
//!    and holds with `SELECT ... ORDER BY id FOR UPDATE`, taken account
//!    numbers, owners' account counts, the idempotency record; users `FOR
//!    UPDATE` in id order, taken emails, the sessions named (in any state)
//!    and every unrevoked session of the users named, both `FOR UPDATE`,
//!    and the reset tokens named `FOR UPDATE`), let the loop decide, and
//!    stage the verdict: every row of a commit, only the audit record of a
//!    rejection, nothing for a replay. What is staged is written before the
//!    next load (which must see it) and at the end;
//! 3. write the head back and `COMMIT`.
//!
//! **One writer.** Everything staged goes out through `bulk.rs`, a
//! statement per table: multi-row inserts of the new accounts,
//! transactions, postings, idempotency records, users, sessions, reset
//! tokens and audit records (rejections' included, in sequence order), and
//! one update per table of the final state of each changed row. On
//! PostgreSQL these are `INSERT ... SELECT * FROM UNNEST($1::uuid[], ...)`
//! and `UPDATE ... FROM UNNEST(...)`, one array per column, so their SQL
//! text (and the prepared statement sqlx caches by it) does not depend on
//! the row count; SQLite uses multi-row `VALUES` in chunks.
//!
//! **Loaded together.** Step 2's loads cost about five round trips per
//! batch, which group commit would multiply by the group's size. So a call
//! whose batches name only accounts, holds, users and idempotency keys (the
//! money commands, KYC and profile changes; not opening accounts,
//! registering, sessions or password resets) loads the union of their keys
//! at once, one query per key kind (accounts, holds and users locked `FOR
//! UPDATE` in id order, then every idempotency record), the accounts and
//! records in step 1's statement (the head locked first; account ids that
//! statement's older snapshot did not find are read again, and a record it
//! missed fails the key's insert, which runs the call again); the loop
//! cuts each batch's
//! snapshot from those rows and folds each batch's writes back in, so each
//! batch sees the ones before it as it would loaded alone, and everything
//! is written once at the end. A call of N batches thus costs at most 13
//! statements instead of about 8N (one batch included: a lone transfer is
//! two statements between `BEGIN` and `COMMIT` on PostgreSQL), and its
//! outcomes and rows are those of applying the batches one by one
//! (`apply::tests` compares the two).
//!
//! Any failure before `COMMIT` rolls the whole call back, so a command is
//! applied entirely or not at all: a password reset, say, consumes its
//! token, replaces the password, revokes every session and appends its
//! audit record together, or does none of it. (A failure *during* `COMMIT`, such as a
//! lost connection, leaves the outcome unknown to the caller; replaying the
//! command with its idempotency key settles it.)
//!
//! ## Isolation: no read-decide-write race, no lost update
//!
//! **PostgreSQL.** Calls run at READ COMMITTED, and the first statement of
//! every call, in every process sharing the database, locks the single
//! `audit_head` row. Committers therefore queue on that row: a call does
//! not read anything it decides on until every call that locked the head
//! before it has committed or rolled back. Under READ COMMITTED each later
//! statement takes a fresh snapshot, so it sees all of those commits; and
//! no other committer can change the state until this one commits, because
//! it would first need the head lock. The snapshot `decide` judges is thus
//! the latest committed state of its keys when the writes commit, which is
//! what the `Store` contract asks: two processes cannot both spend the
//! same balance, and no update is lost. The account and hold rows are also
//! locked (`FOR UPDATE`, in id order, so never in a deadlock-prone order):
//! a write to those rows that bypasses the store (an operator's manual
//! `UPDATE`, say) is waited for too, and its result is what `decide` sees.
//! The head lock also makes the audit log gapless: a sequence is taken from
//! the locked head and only becomes visible if the call commits.
//!
//! Identity follows the same rule. Registration's "is this email free?" is
//! read under the head lock, so two registrations of one email, from any
//! number of processes, admit exactly one (the unique index on
//! `users.email` is a backstop; were it ever hit, the error says "the email
//! address is already registered"). The one write outside `apply` is
//! [`Store::touch_session`](ledger_core::Store::touch_session), a single
//! guarded statement (`UPDATE sessions SET last_seen_at = $1 WHERE id = $2
//! AND revoked_at IS NULL AND last_seen_at < $1`) that takes no head lock:
//! it never moves last-seen backwards and never touches a revoked session.
//! On PostgreSQL it waits for an `apply` holding the session row (locked by
//! the snapshot) and re-checks its guard against what that commit wrote, so
//! it cannot undo a revocation nor be undone by one; on SQLite it queues
//! for the write lock like any writer. Last-seen is device telemetry, not
//! audited and not decided, so it is not part of the audit chain.
//!
//! The price is that commits are serial across the database; a call may
//! carry many batches (group commit) to spread that cost. SERIALIZABLE
//! would give the same safety but turns every conflict on a hot account
//! into an abort and a retry; queuing on one row is cheaper and fair.
//!
//! The SQL is plain enough for CockroachDB and YugabyteDB (no advisory
//! locks, no `SKIP LOCKED`; the one `pg_notify` call, below, can be turned
//! off with [`SqlOptions::notify`]; not tested against them, and the
//! head's statement, which locks rows in `LATERAL` subqueries, is the
//! likeliest to need a fallback there). A call that fails with a
//! serialization failure (SQLSTATE 40001, what those engines and a
//! SERIALIZABLE server report), a deadlock (40P01) or a concurrent insert
//! of the same idempotency key is run again from the start, up to 8 times,
//! with jittered exponential backoff; a rerun decides afresh, so it is safe.
//! (sqlx's migrator, run on connect, serialises concurrent migrations with
//! an advisory lock on PostgreSQL.) Migrations run in a transaction, so
//! 0002's index on `audit_log (actor, sequence)` is built while writes to
//! the log wait: a one-off pause proportional to the log's size when an
//! existing ledger is upgraded.
//!
//! **SQLite.** One writer at a time is SQLite's model. Calls start with
//! `BEGIN IMMEDIATE`, which takes the database's write lock before the
//! first read, so the whole read-decide-write runs under it. Other processes
//! wait up to 5 s (`busy_timeout`) and are then retried like PostgreSQL's
//! serialization failures; within a process, writers queue on an async
//! mutex instead of polling. In WAL mode readers see the last committed
//! state and never block the writer. Processes that open one new file at
//! the same moment all open it: the first connection is retried like a busy
//! commit while another opener holds the file locked (its switch to WAL can
//! be refused at once, without the busy timeout), within the connect
//! timeout, and the migrations run again when another opener applied them
//! first.
//!
//! ## Change notifications (PostgreSQL)
//!
//! Every storage transaction that commits at least one batch ends, just
//! before `COMMIT`, with one statement, `SELECT pg_notify('ledger_events',
//! p.payload) FROM UNNEST($2::text[]) AS p(payload)`, announcing which rows
//! its batches changed. `NOTIFY` is transactional:
//! a notification is delivered only if its transaction commits, and
//! notifications reach listeners in commit order (the head lock makes that
//! the ledger's commit order). A call whose batches are all rejected or
//! replayed notifies nothing. [`SqlStore::listen`] opens a
//! [`ChangeListener`] (its own connection, `LISTEN ledger_events`) that
//! hears the commits of every process on the database, its own included.
//!
//! The payload is JSON text, version 1:
//!
//! ```json
//! {"v":1,"schema":"public","accounts":["<uuid>",...],"transactions":["<uuid>",...]}
//! ```
//!
//! `schema` is the schema holding the tables (`current_schema()` at
//! connect), since the channel is per database: a listener ignores other
//! schemas' notifications. `accounts` are the accounts opened or changed,
//! `transactions` the transactions created or changed; the rows themselves
//! are re-read by id (`Store::account`, `Store::transaction`), so a
//! listener always sees committed state. One notification carries at most
//! 100 ids (about 4 KB, under PostgreSQL's 8000-byte limit); a larger
//! commit sends several, from that one statement. A reader that finds a version
//! other than `v` 1 (or an unreadable payload) reports
//! [`Change::Resync`], as it does when its connection was lost and
//! re-established: notifications sent meanwhile are gone, so re-read.
//!
//! Turn notifications off ([`SqlOptions::notify`]) on engines without
//! `pg_notify` (CockroachDB, YugabyteDB); `listen` then fails. SQLite never
//! notifies: its store belongs to one process, whose ledger publishes its
//! own events.
//!
//! ## Durability
//!
//! When `apply` returns `Ok`, its transaction has committed. PostgreSQL: the
//! commit record is flushed to the server's WAL (with the default
//! `synchronous_commit = on`). SQLite: WAL journal with `synchronous = FULL`,
//! so the WAL is synced at every commit and an acknowledged command survives
//! a killed process and a power loss. The crash tests kill a writer with
//! SIGKILL and check that every acknowledged transaction is there, once.
//!
//! ## Errors
//!
//! Every failure is a [`StorageError`](ledger_core::StorageError) carrying
//! the backend's name (`postgres`, `sqlite`), what the store was doing, and
//! the sqlx error as its source. Constraint violations are named in the
//! ledger's terms (for example "the account number is already taken").

#[cfg(not(any(feature = "postgres", feature = "sqlite")))]
compile_error!("ledger-sql needs at least one database: enable the `postgres` or `sqlite` feature");

mod apply;
mod auth_read;
#[cfg(feature = "postgres")]
mod booking;
mod bulk;
mod bulk_sql;
mod dump;
mod error;
mod load;
mod migrate;
mod notify;
mod open;
#[cfg(feature = "postgres")]
mod postgres;
mod prefixed;
mod queries;
mod reads;
mod row;
mod session;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_cells;
#[cfg(feature = "sqlite")]
mod sqlite_reads;
#[cfg(feature = "sqlite")]
mod sqlite_writes;
mod stmt;
mod store;
#[cfg(all(test, feature = "postgres"))]
mod test_postgres;
mod write_steps;

#[cfg(feature = "postgres")]
pub use notify::ChangeListener;
pub use notify::{CHANNEL, Change, ChangeNotice, PAYLOAD_VERSION};
pub use open::SqlOptions;
pub use store::SqlStore;

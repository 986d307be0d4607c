//! # ledger-sled
//!
//! A [`ledger_core::Store`] on [sled](https://docs.rs/sled/0.34), an embedded
//! key-value store: one directory, no server. Open it with
//! [`SledStore::open`] (or [`SledStore::open_with`] and a [`SledConfig`]) and
//! hand it to [`ledger_core::Ledger::open`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), ledger_core::LedgerError> {
//! let store = ledger_sled::SledStore::open("./ledger-data")?;
//! let ledger = ledger_core::Ledger::open(store).await?;
//! # Ok(()) }
//! ```
//!
//! ## Trees, keys and indexes
//!
//! Each record kind has its own sled tree. Values are JSON (serde; the core
//! types need a self-describing format). Keys are fixed-width and big-endian
//! (but for an email's text and the length-prefixed actor below), so sled's
//! byte order is the order queries need. Ids are UUID bytes, so byte order is
//! id order; a sequence is a `u64`; an instant is its seconds (sign bit
//! flipped) then nanoseconds; a token digest is its 32 bytes.
//!
//! | tree                | key                              | value                  | serves |
//! |---------------------|----------------------------------|------------------------|--------|
//! | `accounts`          | account id                       | `Account`              | `account`, `accounts` (paged from `after`) |
//! | `account_numbers`   | account number                   | account id             | `account_by_number`; number uniqueness |
//! | `accounts_by_owner` | owner ‖ order ‖ account id       | empty                  | `accounts_by_owner`, oldest first |
//! | `transactions`      | sequence                         | `Transaction`          | unfiltered history (newest first) |
//! | `transaction_ids`   | transaction id                   | sequence               | `transaction`; holds for `decide` |
//! | `account_history`   | account id ‖ sequence            | empty                  | history filtered by account |
//! | `account_postings`  | account id ‖ posting sequence    | `Posting`              | `postings` |
//! | `idempotency`       | idempotency key                  | `IdempotencyRecord`    | replays and conflicts |
//! | `audit`             | audit sequence                   | `AuditRecord`          | `audit_records` |
//! | `audit_by_actor`    | actor length ‖ actor ‖ audit sequence | empty             | `audit_records_by_actor` |
//! | `holds_by_expiry`   | expiry ‖ hold id                 | sequence               | `expired_holds` (pending holds only) |
//! | `users`             | user id                          | `User`                 | `user`, `users` (paged from `after`); users for `decide` |
//! | `user_emails`       | normalised email                 | user id                | `user_by_email`; email uniqueness |
//! | `sessions`          | session id                       | `Session`              | sessions for `decide`; `touch_session` |
//! | `session_tokens`    | token digest                     | session id             | `session_by_token`; token uniqueness |
//! | `user_sessions`     | user id ‖ order ‖ session id     | empty                  | `sessions_of`, newest first |
//! | `live_sessions`     | user id                          | session ids            | a user's unrevoked sessions for `decide` |
//! | `reset_tokens`      | token digest                     | `ResetToken`           | `reset_token`; tokens for `decide` |
//! | `meta`              | `audit_head`, `format_version`   | sequence ‖ hash, `2`   | the audit chain's end; format check |
//!
//! `order` in the owner index is `audit sequence × SEQUENCE_STRIDE + i` of
//! the commit that created the account, so "oldest first" is commit order
//! even when two accounts share a timestamp; `order` in `user_sessions` is
//! made the same way from the commit that opened the session, so
//! `sessions_of` lists in commit order as the reference store does (not in
//! id order: ids are minted before the commit, and two logins can commit in
//! the other order). Transaction and posting sequences come from core
//! (`commit × SEQUENCE_STRIDE + position`), so the `transactions` tree
//! iterates in commit order. A transaction is stored once, under its
//! sequence; a hold's later status changes rewrite that entry, and a hold
//! that leaves `pending` is removed from `holds_by_expiry`.
//!
//! An actor in `audit_by_actor` is its name's byte length (8 bytes,
//! big-endian) then the name, so one actor's range never holds another's
//! (`user:a` is not a prefix of `user:ab`'s keys). Every audit record,
//! rejections included, is indexed under its actor. Token digests are the
//! SHA-256 the core stores, so tokens themselves never reach the disk.
//! `live_sessions` holds, per user, the concatenated ids of the sessions not
//! yet revoked (expired ones included, as core revokes those too): a session
//! joins it when opened and leaves it when revoked, and the user's entry goes
//! when the list empties. It exists because a snapshot must hold every
//! unrevoked session of the users in `Keys::sessions_of`, and the staged
//! view `apply` reads through answers point reads only (see below).
//!
//! Every query uses an index; only `accounts` and `users` (the admin
//! listings) walk a whole tree, from their `after` cursor. History with an
//! account filter merges the named accounts' `account_history` ranges
//! backwards from the cursor (deduplicating a transfer between two named
//! accounts), loads each transaction, applies
//! [`ledger_core::HistoryFilter::matches`] and stops at the limit. Other
//! filter fields are applied to what the index yields, as the in-memory
//! reference store does.
//!
//! ## How a command is made atomic
//!
//! [`Store::apply`](ledger_core::Store::apply) runs on a blocking thread,
//! as the store's one writer (a mutex that `touch_session` also takes). For
//! each batch of the call in order it reads the batch's keys (accounts,
//! holds, account numbers, the idempotency key, users, emails, named
//! sessions, the live sessions of the users in `sessions_of`, reset tokens)
//! and the audit head, calls `decide` (ledger-core), and stages what the
//! decision says: on `Commit` every record and index entry of the `Writes`
//! (accounts, transactions, postings, the idempotency record, users,
//! sessions with their token, user and live-list entries, reset tokens) plus
//! the audit record, its actor index entry and the new head; on `Reject`
//! only the audit record, its actor index entry and the head; on `Replay`
//! nothing. Reads look at the call's staged writes first, then the trees, so
//! a later batch decides on the state the earlier ones left (a session
//! opened by one batch is in the live list the next one reads). Then **one**
//! sled transaction over the trees touched writes everything staged. The
//! backend never judges anything itself; it only refuses, aborting the whole
//! call with nothing written, a write that would give the email or session
//! token index a second record for one key (core decides email uniqueness;
//! a token digest clash is 256 random bits colliding, which the contract
//! still forbids).
//!
//! Only the apply path writes (the writer mutex), so nothing changes the
//! trees between a batch's reads and the commit: no two applies decide on
//! the same state. Reading and deciding outside the sled transaction matters
//! because sled 0.34 holds a process-wide lock for a transaction's whole
//! life that stops every read, including queries; the lock now covers only
//! the writes. The point reads a snapshot needs are why the audit head lives
//! in `meta` rather than being read as the last key of `audit`, and why a
//! user's unrevoked sessions are one `live_sessions` value rather than a
//! `user_sessions` range. sled's log makes the whole transaction recover
//! atomically after a crash, so a crash leaves all or none of a call. sled
//! locks the database directory, so only one process can have the store
//! open; scaling past one process is the SQL backends' job.
//!
//! **Accounts in memory.** Deciding a transfer reads its two accounts
//! (planning reads them once; the `Ledger` then keeps their immutable
//! facts). The store keeps the committed accounts it has read or
//! written decoded in memory (at most 200,000 of them; a full cache starts
//! over), so those reads skip sled's lock, its tree and the JSON decode. Only
//! the writer fills it, and only with committed values: what it reads from
//! the trees while it is the one writer, and the accounts of a call after
//! its sled transaction commits. A query that misses reads the trees and
//! leaves the cache alone, so it can never put back a value the writer has
//! replaced. On the harness's 64-client group commit run this raised sled's
//! throughput by about 8% (`docs/benchmarks.md`; measured when planning
//! still read accounts from the store).
//!
//! sled's scans do not wait for a commit between two steps, and a query reads
//! several keys (an index entry, then the record it names), so the store adds
//! a read-write gate: `apply` holds it exclusively while its transaction
//! commits, and every query holds it shared. Queries therefore see whole
//! commits only.
//!
//! [`Store::touch_session`](ledger_core::Store::touch_session), the one
//! write outside `apply`, is not a transaction: it rewrites one `sessions`
//! value (last-seen is not indexed), read and written as the one writer.
//! No `apply` and no other touch runs meanwhile, so it cannot undo a
//! revocation or be undone by one, and last-seen only moves forward. It
//! does nothing for a missing or revoked session, and it does not flush
//! (last-seen is telemetry; sled's background flusher or the next flushed
//! `apply` writes it out).
//!
//! ## Durability
//!
//! [`Durability::Flush`] (the default) calls `Db::flush` after the commit and
//! before `apply` returns, so every acknowledged outcome is on disk and
//! survives `SIGKILL` or power loss (the `crash` test kills a writer
//! mid-stream and checks this). The flush happens outside the gate, so
//! queries do not wait for the fsync (a query may therefore see a commit
//! whose `apply` has not returned yet); one flush covers every commit before
//! it, so concurrent callers share the cost. [`Durability::Relaxed`] skips that
//! flush and relies on sled's background flusher (every 500 ms) and the flush
//! on a clean drop: faster, but a crash can lose the last acknowledged
//! commands (never part of one). Call [`SledStore::flush`] to force a flush.
//!
//! The flush and the commit are also offered apart, as
//! [`Store::apply_unsynced`](ledger_core::Store::apply_unsynced) (decide and
//! commit, no flush) and [`Store::sync`](ledger_core::Store::sync) (the
//! flush, under `Durability::Flush`): the ledger's group commit uses them so
//! that the next group commits, as the writer, while this group's flush
//! runs, and answers no caller before its group's sync. A failed flush is
//! remembered: commits made after it may rest on writes it lost, so from
//! then on every apply, sync and flush of the store fails, and the database
//! must be opened again (sled then recovers what its log holds).
//!
//! `apply`, `sync` and `flush` run sled's blocking work with
//! `tokio::task::spawn_blocking`, so the store needs a Tokio runtime. A query
//! runs on the calling task when the commit gate is free (no commit holds or
//! awaits it) and on a blocking thread otherwise, so an async worker never
//! waits out a commit.
//!
//! ## Memory
//!
//! sled caches tree pages in memory up to [`SledConfig::cache_capacity_bytes`]
//! (1 GiB by default, sled's own default; at least 16 MiB). The process holds
//! more than that: sled 0.34 also keeps an entry for every page of the
//! database in memory, cached or not, so that part grows with the data
//! (`docs/benchmarks.md` measures both under a 10-minute HTTP load).
//! `ledger-http` sets the cache with `--sled-cache-mib`.
//!
//! ## Opening
//!
//! Opening a path that is not a directory, a non-empty directory that is not
//! a sled database, another program's sled database, or one locked by another
//! open store returns a [`StorageError`](ledger_core::StorageError) with
//! backend `"sled"`, never a panic. A locked database is retried for up to
//! one second first: a store dropped a moment ago in the same process can
//! hold the lock until sled's I/O threads finish. The first open writes (and flushes) a
//! format marker to `meta`; a later open of a sled database without it is
//! refused, because sled recovers a log it cannot read as an *empty*
//! database, and starting a fresh ledger there would bury the old one. The
//! marker is version `2` since the identity trees and the actor index came
//! in; a version `1` database (whose audit records that index would miss) is
//! refused too.
//! [`SledStore::temporary`] opens a store in a temporary directory that is
//! deleted with the store (the conformance tests use it).

mod account_cache;
mod apply;
mod codec;
mod config;
mod dump;
mod error;
mod format;
mod keys;
mod open;
mod reads;
mod store;
mod trees;

pub use config::{CACHE_CAPACITY_DEFAULT_BYTES, CACHE_CAPACITY_MIN_BYTES, Durability, SledConfig};
pub use store::SledStore;

-- The ledger's schema on SQLite. STRICT tables, so no value is ever stored
-- with a type the column does not declare (in particular never a REAL).
--
-- SQLite has no decimal type, so money is stored exactly in one of two ways:
-- bounded amounts (a command's amount, a posting, a capture: at most 4
-- decimal places and at most 10^12 by ledger-core's rules) as INTEGER in
-- units of 10^-4, which keeps range filters in SQL; balances and limits,
-- which are unbounded sums, as the decimal's TEXT. Instants are INTEGER
-- microseconds since the Unix epoch (ledger-core truncates to microseconds).
-- UUIDs are 16-byte BLOBs, which sort like PostgreSQL's uuid.

CREATE TABLE accounts (
    id              BLOB    NOT NULL PRIMARY KEY,
    number          INTEGER NOT NULL,
    owner           BLOB    NOT NULL,
    kind            TEXT    NOT NULL,
    currency        TEXT    NOT NULL,
    name            TEXT,
    status          TEXT    NOT NULL,
    overdraft_limit TEXT    NOT NULL,
    posted          TEXT    NOT NULL,
    pending         TEXT    NOT NULL,
    -- Commit order of creation (audit sequence * 1024 + position): "oldest first".
    opened_seq      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CONSTRAINT accounts_number_key UNIQUE (number)
) STRICT;
-- Store::accounts_by_owner.
CREATE INDEX accounts_owner_idx ON accounts (owner, opened_seq);

CREATE TABLE transactions (
    id              BLOB    NOT NULL PRIMARY KEY,
    sequence        INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    amount          INTEGER NOT NULL,
    currency        TEXT    NOT NULL,
    from_account    BLOB REFERENCES accounts (id),
    to_account      BLOB REFERENCES accounts (id),
    description     TEXT,
    captured_amount INTEGER,
    expires_at      INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    -- Also the index of the unfiltered history (newest first).
    CONSTRAINT transactions_sequence_key UNIQUE (sequence)
) STRICT;
-- History of an account: one ordered index per side, merged newest first.
CREATE INDEX transactions_from_account_idx ON transactions (from_account, sequence);
CREATE INDEX transactions_to_account_idx ON transactions (to_account, sequence);
-- Store::expired_holds: only open holds with an expiry are indexed.
CREATE INDEX transactions_pending_expiry_idx ON transactions (expires_at, id)
    WHERE status = 'pending' AND expires_at IS NOT NULL;

CREATE TABLE postings (
    sequence       INTEGER NOT NULL PRIMARY KEY,
    transaction_id BLOB    NOT NULL REFERENCES transactions (id),
    account_id     BLOB    NOT NULL REFERENCES accounts (id),
    amount         INTEGER NOT NULL,
    currency       TEXT    NOT NULL
) STRICT;
-- Store::postings (an account's lines in order).
CREATE INDEX postings_account_idx ON postings (account_id, sequence);

CREATE TABLE idempotency (
    key             TEXT    NOT NULL PRIMARY KEY,
    fingerprint     BLOB    NOT NULL,
    -- JSON array of transaction ids, in command order.
    transaction_ids TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE audit_log (
    sequence  INTEGER NOT NULL PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    -- 'accepted' or 'rejected' (then code and reason are set).
    outcome   TEXT    NOT NULL,
    code      TEXT,
    reason    TEXT,
    -- JSON object of string to string.
    metadata  TEXT    NOT NULL,
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL
) STRICT;

-- The end of the audit chain, a single row, read and written inside the
-- write transaction (BEGIN IMMEDIATE already holds the database's write lock).
CREATE TABLE audit_head (
    id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    sequence INTEGER NOT NULL,
    hash     BLOB    NOT NULL
) STRICT;
INSERT INTO audit_head (id, sequence, hash) VALUES (1, 0, zeroblob(32));

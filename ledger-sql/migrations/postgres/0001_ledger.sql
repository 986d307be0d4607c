-- The ledger's schema on PostgreSQL (and PostgreSQL-wire engines such as
-- CockroachDB and YugabyteDB: plain types, named constraints, no extensions).
--
-- Money is NUMERIC (exact, scale kept); instants are TIMESTAMPTZ (microsecond
-- precision, which is what ledger-core truncates to). Enumerations are stored
-- as their stable lower-case names; ledger-core, not the schema, decides what
-- values are valid.

-- One row per account. Balances live on the row and change only inside a
-- command's storage transaction, after `SELECT ... FOR UPDATE` locked the row.
CREATE TABLE accounts (
    id              UUID        NOT NULL,
    number          BIGINT      NOT NULL,
    owner           UUID        NOT NULL,
    kind            TEXT        NOT NULL,
    currency        TEXT        NOT NULL,
    name            TEXT,
    status          TEXT        NOT NULL,
    overdraft_limit NUMERIC     NOT NULL,
    posted          NUMERIC     NOT NULL,
    pending         NUMERIC     NOT NULL,
    -- Commit order of creation (audit sequence * 1024 + position): "oldest first".
    opened_seq      BIGINT      NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT accounts_pkey PRIMARY KEY (id),
    CONSTRAINT accounts_number_key UNIQUE (number)
);
-- Store::accounts_by_owner.
CREATE INDEX accounts_owner_idx ON accounts (owner, opened_seq);

-- One row per transaction (holds included). `sequence` is the commit order.
CREATE TABLE transactions (
    id              UUID        NOT NULL,
    sequence        BIGINT      NOT NULL,
    kind            TEXT        NOT NULL,
    status          TEXT        NOT NULL,
    amount          NUMERIC     NOT NULL,
    currency        TEXT        NOT NULL,
    from_account    UUID,
    to_account      UUID,
    description     TEXT,
    captured_amount NUMERIC,
    expires_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT transactions_pkey PRIMARY KEY (id),
    -- Also the index of the unfiltered history (newest first).
    CONSTRAINT transactions_sequence_key UNIQUE (sequence),
    CONSTRAINT transactions_from_account_fkey FOREIGN KEY (from_account) REFERENCES accounts (id),
    CONSTRAINT transactions_to_account_fkey FOREIGN KEY (to_account) REFERENCES accounts (id)
);
-- History of an account: one ordered index per side, merged newest first.
CREATE INDEX transactions_from_account_idx ON transactions (from_account, sequence);
CREATE INDEX transactions_to_account_idx ON transactions (to_account, sequence);
-- Store::expired_holds: only open holds with an expiry are indexed.
CREATE INDEX transactions_pending_expiry_idx ON transactions (expires_at, id)
    WHERE status = 'pending' AND expires_at IS NOT NULL;

-- The double-entry lines. `sequence` is the commit order of postings.
CREATE TABLE postings (
    sequence       BIGINT  NOT NULL,
    transaction_id UUID    NOT NULL,
    account_id     UUID    NOT NULL,
    amount         NUMERIC NOT NULL,
    currency       TEXT    NOT NULL,
    CONSTRAINT postings_pkey PRIMARY KEY (sequence),
    CONSTRAINT postings_transaction_id_fkey FOREIGN KEY (transaction_id) REFERENCES transactions (id),
    CONSTRAINT postings_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id)
);
-- Store::postings (an account's lines in order).
CREATE INDEX postings_account_idx ON postings (account_id, sequence);

-- One row per used idempotency key, written with its command's effects.
CREATE TABLE idempotency (
    key             TEXT        NOT NULL,
    fingerprint     BYTEA       NOT NULL,
    -- JSON array of transaction ids, in command order.
    transaction_ids TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT idempotency_pkey PRIMARY KEY (key)
);

-- The hash-chained audit log, gapless by construction (see audit_head).
CREATE TABLE audit_log (
    sequence  BIGINT      NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    actor     TEXT        NOT NULL,
    action    TEXT        NOT NULL,
    target    TEXT        NOT NULL,
    -- 'accepted' or 'rejected' (then code and reason are set).
    outcome   TEXT        NOT NULL,
    code      TEXT,
    reason    TEXT,
    -- JSON object of string to string.
    metadata  TEXT        NOT NULL,
    prev_hash BYTEA       NOT NULL,
    hash      BYTEA       NOT NULL,
    CONSTRAINT audit_log_pkey PRIMARY KEY (sequence)
);

-- The end of the audit chain: a single row every committer locks first
-- (SELECT ... FOR UPDATE). That lock serialises commits across processes and
-- hands out audit sequences without gaps.
CREATE TABLE audit_head (
    id       SMALLINT NOT NULL,
    sequence BIGINT   NOT NULL,
    hash     BYTEA    NOT NULL,
    CONSTRAINT audit_head_pkey PRIMARY KEY (id),
    CONSTRAINT audit_head_single_row CHECK (id = 1)
);
INSERT INTO audit_head (id, sequence, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Identity on SQLite: users, login sessions, password-reset tokens, and the
-- audit log by actor. Same tables, columns and constraints as the PostgreSQL
-- migration, in 0001's SQLite types: ids are 16-byte BLOBs, instants INTEGER
-- microseconds, digests 32-byte BLOBs; dates of birth are ISO 8601 TEXT
-- (YYYY-MM-DD), which sorts and compares like the dates.
--
-- Enumerations are stored as ledger-core's stable lower-case names and, unlike
-- in 0001, checked. Secret tokens are never stored, only their SHA-256 digests.

-- The email is normalised (trimmed, lower-case ASCII) by ledger-core; the
-- unique constraint is therefore case-insensitive uniqueness.
CREATE TABLE users (
    id            BLOB    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL,
    -- argon2id digest in PHC string format.
    password      TEXT    NOT NULL,
    full_name     TEXT    NOT NULL,
    phone         TEXT,
    address       TEXT,
    date_of_birth TEXT,
    role          TEXT    NOT NULL,
    kyc_status    TEXT    NOT NULL,
    kyc_reason    TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    -- Store::user_by_email, and the taken emails a registration checks.
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_check CHECK (email = lower(email)),
    CONSTRAINT users_date_of_birth_check CHECK (date_of_birth GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    CONSTRAINT users_role_check CHECK (role IN ('customer', 'admin')),
    CONSTRAINT users_kyc_status_check CHECK (kyc_status IN ('unverified', 'pending', 'verified', 'rejected'))
) STRICT;

-- Login sessions, revoked ones included.
CREATE TABLE sessions (
    id           BLOB    NOT NULL PRIMARY KEY,
    user_id      BLOB    NOT NULL,
    -- SHA-256 of the bearer token.
    token_digest BLOB    NOT NULL,
    user_agent   TEXT,
    -- An IPv4 or IPv6 address in Rust's canonical text form.
    client_addr  TEXT,
    label        TEXT,
    created_at   INTEGER NOT NULL,
    -- Written by Store::touch_session (outside the audit chain).
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    idle_secs    INTEGER NOT NULL,
    revoked_at   INTEGER,
    -- Store::session_by_token.
    CONSTRAINT sessions_token_digest_key UNIQUE (token_digest),
    CONSTRAINT sessions_token_digest_check CHECK (length(token_digest) = 32),
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
) STRICT;
-- Store::sessions_of (newest first: ids are UUIDv7) and a user's unrevoked sessions.
CREATE INDEX sessions_user_idx ON sessions (user_id, id);

-- Password-reset tokens; `used_at` makes them single-use.
CREATE TABLE reset_tokens (
    -- SHA-256 of the token sent to the user.
    token_digest BLOB    NOT NULL PRIMARY KEY,
    user_id      BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    CONSTRAINT reset_tokens_token_digest_check CHECK (length(token_digest) = 32),
    CONSTRAINT reset_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
) STRICT;

-- Store::audit_records_by_actor.
CREATE INDEX audit_log_actor_idx ON audit_log (actor, sequence);

-- Identity on PostgreSQL (and PostgreSQL-wire engines): users, login
-- sessions, password-reset tokens, and the audit log by actor.
--
-- Every field is a column of its own. Enumerations are stored as
-- ledger-core's stable lower-case names and, unlike in 0001, checked: these
-- tables hold credentials, and a row no build can read back is better
-- refused on the way in. Secret tokens are never stored, only their SHA-256
-- digests (32 bytes, like the audit hashes). Instants are TIMESTAMPTZ at
-- microsecond precision, as in 0001.

-- One row per user. The email is normalised (trimmed, lower-case ASCII) by
-- ledger-core before it gets here, so the unique constraint is the
-- case-insensitive uniqueness the ledger promises; the check keeps a
-- non-normalised address from ever being stored next to its normal form.
CREATE TABLE users (
    id            UUID        NOT NULL,
    email         TEXT        NOT NULL,
    -- argon2id digest in PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    password      TEXT        NOT NULL,
    full_name     TEXT        NOT NULL,
    -- E.164, as ledger-core normalised it.
    phone         TEXT,
    address       TEXT,
    date_of_birth DATE,
    role          TEXT        NOT NULL,
    kyc_status    TEXT        NOT NULL,
    -- The admin's reason for the last KYC rejection.
    kyc_reason    TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    -- Store::user_by_email, and the taken emails a registration checks.
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_check CHECK (email = lower(email)),
    CONSTRAINT users_role_check CHECK (role IN ('customer', 'admin')),
    CONSTRAINT users_kyc_status_check CHECK (kyc_status IN ('unverified', 'pending', 'verified', 'rejected'))
);

-- One row per login session, revoked ones included (they are listed, and
-- their revocation is what makes their token useless). The device columns
-- are what the client told at login: user agent, address, label.
CREATE TABLE sessions (
    id           UUID        NOT NULL,
    user_id      UUID        NOT NULL,
    -- SHA-256 of the bearer token.
    token_digest BYTEA       NOT NULL,
    user_agent   TEXT,
    -- An IPv4 or IPv6 address in Rust's canonical text form.
    client_addr  TEXT,
    label        TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    -- Written by Store::touch_session (outside the audit chain), at most
    -- every minute per session.
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    idle_secs    BIGINT      NOT NULL,
    revoked_at   TIMESTAMPTZ,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    -- Store::session_by_token.
    CONSTRAINT sessions_token_digest_key UNIQUE (token_digest),
    CONSTRAINT sessions_token_digest_check CHECK (octet_length(token_digest) = 32),
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
);
-- Store::sessions_of (newest first: ids are UUIDv7, so id order is creation
-- order) and a user's unrevoked sessions, which revoking them all loads.
CREATE INDEX sessions_user_idx ON sessions (user_id, id);

-- One row per password-reset token issued; `used_at` makes it single-use.
CREATE TABLE reset_tokens (
    -- SHA-256 of the token sent to the user.
    token_digest BYTEA       NOT NULL,
    user_id      UUID        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ,
    CONSTRAINT reset_tokens_pkey PRIMARY KEY (token_digest),
    CONSTRAINT reset_tokens_token_digest_check CHECK (octet_length(token_digest) = 32),
    CONSTRAINT reset_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)
);

-- Store::audit_records_by_actor (a customer's own audit log, in order).
CREATE INDEX audit_log_actor_idx ON audit_log (actor, sequence);

-- The one password-reset token of a user that may still be used, as the hex
-- of its SHA-256 digest; see the PostgreSQL migration of the same number.
-- SQLite cannot add a CHECK constraint to an existing table; ledger-core
-- writes only digests, and reading a malformed value back fails loudly.
ALTER TABLE users ADD COLUMN reset_token TEXT;

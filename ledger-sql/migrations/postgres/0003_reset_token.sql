-- The one password-reset token of a user that may still be used, as the hex
-- of its SHA-256 digest (the token itself is never stored). Issuing a token
-- replaces it; using it or changing the password clears it, so an older
-- token never outlives a newer one or a completed reset. Tokens issued
-- before this column existed are refused (their user has none): a user who
-- asked for a reset just before an upgrade asks again.
ALTER TABLE users ADD COLUMN reset_token TEXT;
ALTER TABLE users ADD CONSTRAINT users_reset_token_check CHECK (reset_token ~ '^[0-9a-f]{64}$');

-- General ledger I on SQLite: the same columns and tables as the PostgreSQL
-- migration of this number, in 0001's SQLite types (a floor is a bounded
-- amount, INTEGER units of 10^-4).

ALTER TABLE accounts ADD COLUMN code TEXT;
ALTER TABLE accounts ADD COLUMN normal_balance TEXT NOT NULL DEFAULT 'credit'
    CHECK (normal_balance IN ('debit', 'credit'));
ALTER TABLE accounts ADD COLUMN ledger_floor INTEGER;
ALTER TABLE accounts ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
CREATE UNIQUE INDEX accounts_code_key ON accounts (code);
UPDATE accounts SET code = 'settlement:' || lower(currency), normal_balance = 'debit' WHERE kind = 'settlement';

ALTER TABLE transactions ADD COLUMN legs TEXT;
ALTER TABLE transactions ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';

CREATE TABLE account_transactions (
    account_id BLOB    NOT NULL,
    sequence   INTEGER NOT NULL,
    PRIMARY KEY (account_id, sequence)
) STRICT, WITHOUT ROWID;
INSERT INTO account_transactions (account_id, sequence)
    SELECT from_account, sequence FROM transactions WHERE from_account IS NOT NULL
    UNION
    SELECT to_account, sequence FROM transactions WHERE to_account IS NOT NULL
    UNION
    SELECT p.account_id, t.sequence FROM postings p JOIN transactions t ON t.id = p.transaction_id;
DROP INDEX transactions_from_account_idx;
DROP INDEX transactions_to_account_idx;

CREATE TABLE transaction_metadata (
    key      TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    sequence INTEGER NOT NULL,
    PRIMARY KEY (key, value, sequence)
) STRICT, WITHOUT ROWID;

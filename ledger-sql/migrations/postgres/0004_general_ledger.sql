-- General ledger I: ledger accounts (a code, a normal side, a floor),
-- metadata on accounts and transactions, every transaction's legs, history
-- under every account a transaction touches, and history by metadata.

-- A ledger account's code is unique; customer accounts have none. The
-- settlement accounts become ledger accounts: `settlement:<currency>`,
-- debit-normal (their floor stays unbounded: it is the kind's).
ALTER TABLE accounts ADD COLUMN code TEXT;
ALTER TABLE accounts ADD COLUMN normal_balance TEXT NOT NULL DEFAULT 'credit';
ALTER TABLE accounts ADD COLUMN ledger_floor NUMERIC;
-- JSON object of string to string, as ledger-core bounds it.
ALTER TABLE accounts ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE accounts ADD CONSTRAINT accounts_code_key UNIQUE (code);
ALTER TABLE accounts ADD CONSTRAINT accounts_normal_balance_check CHECK (normal_balance IN ('debit', 'credit'));
UPDATE accounts SET code = 'settlement:' || lower(currency), normal_balance = 'debit' WHERE kind = 'settlement';

-- The legs as a JSON array ([{source, destination, amount, currency}]);
-- NULL for transactions stored before legs existed, whose one leg ledger-core
-- derives from their kind and accounts.
ALTER TABLE transactions ADD COLUMN legs TEXT;
ALTER TABLE transactions ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';

-- History of an account: one row per account a transaction touches (both
-- sides of every leg), newest first through the primary key. It replaces
-- the two per-side indexes, which knew only a transaction's first two
-- accounts.
CREATE TABLE account_transactions (
    account_id UUID   NOT NULL,
    sequence   BIGINT NOT NULL,
    CONSTRAINT account_transactions_pkey PRIMARY KEY (account_id, sequence)
);
INSERT INTO account_transactions (account_id, sequence)
    SELECT from_account, sequence FROM transactions WHERE from_account IS NOT NULL
    UNION
    SELECT to_account, sequence FROM transactions WHERE to_account IS NOT NULL
    UNION
    SELECT p.account_id, t.sequence FROM postings p JOIN transactions t ON t.id = p.transaction_id;
DROP INDEX transactions_from_account_idx;
DROP INDEX transactions_to_account_idx;

-- History by metadata: one row per pair a transaction carries.
CREATE TABLE transaction_metadata (
    key      TEXT   NOT NULL,
    value    TEXT   NOT NULL,
    sequence BIGINT NOT NULL,
    CONSTRAINT transaction_metadata_pkey PRIMARY KEY (key, value, sequence)
);

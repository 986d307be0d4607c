-- General ledger II on SQLite: the same columns as the PostgreSQL migration
-- of this number, in 0001's SQLite types (a balance is exact decimal text,
-- an instant integer microseconds, an amount integer units of 10^-4).

ALTER TABLE postings ADD COLUMN balance_after TEXT;
ALTER TABLE postings ADD COLUMN at INTEGER;
UPDATE postings
   SET balance_after = CASE WHEN r.running < 0 THEN '-' ELSE '' END
                       || (abs(r.running) / 10000) || '.' || printf('%04d', abs(r.running) % 10000),
       at = r.at
  FROM (SELECT p.sequence AS sequence,
               SUM(p.amount) OVER (PARTITION BY p.account_id ORDER BY p.sequence) AS running,
               CASE WHEN t.kind = 'hold' THEN t.updated_at ELSE t.created_at END AS at
          FROM postings p JOIN transactions t ON t.id = p.transaction_id) AS r
 WHERE postings.sequence = r.sequence;
CREATE INDEX postings_account_time_idx ON postings (account_id, at, sequence);

ALTER TABLE transactions ADD COLUMN reverses BLOB REFERENCES transactions (id);
ALTER TABLE transactions ADD COLUMN reversed_amount INTEGER NOT NULL DEFAULT 0;

-- The head remembers when its record was written: the next commit is never
-- earlier. Kept in the locked row itself, so a committer that waited for the
-- lock reads the time its predecessor wrote with the row it locked.
ALTER TABLE audit_head ADD COLUMN at INTEGER;
UPDATE audit_head SET at = (SELECT l.at FROM audit_log l WHERE l.sequence = audit_head.sequence);

-- General ledger II: every posting keeps its account's balance after it and
-- its commit time, indexed by account and time (a balance as of an instant
-- is one index seek); transactions link reversals to what they reverse.

ALTER TABLE postings ADD COLUMN balance_after NUMERIC;
ALTER TABLE postings ADD COLUMN at TIMESTAMPTZ;
-- The postings already stored: the running sum of their account's lines in
-- commit order, and their transaction's commit time (a captured hold's lines
-- committed at its capture, its last change before reversals existed).
UPDATE postings p
   SET balance_after = r.running, at = r.at
  FROM (SELECT p2.sequence,
               SUM(p2.amount) OVER (PARTITION BY p2.account_id ORDER BY p2.sequence) AS running,
               CASE WHEN t.kind = 'hold' THEN t.updated_at ELSE t.created_at END AS at
          FROM postings p2 JOIN transactions t ON t.id = p2.transaction_id) AS r
 WHERE p.sequence = r.sequence;
ALTER TABLE postings ALTER COLUMN balance_after SET NOT NULL;
ALTER TABLE postings ALTER COLUMN at SET NOT NULL;
CREATE INDEX postings_account_time_idx ON postings (account_id, at, sequence);

ALTER TABLE transactions ADD COLUMN reverses UUID REFERENCES transactions (id);
ALTER TABLE transactions ADD COLUMN reversed_amount NUMERIC NOT NULL DEFAULT 0;

-- The head remembers when its record was written: the next commit is never
-- earlier. Kept in the locked row itself, so a committer that waited for the
-- lock reads the time its predecessor wrote with the row it locked.
ALTER TABLE audit_head ADD COLUMN at TIMESTAMPTZ;
UPDATE audit_head SET at = (SELECT l.at FROM audit_log l WHERE l.sequence = audit_head.sequence);

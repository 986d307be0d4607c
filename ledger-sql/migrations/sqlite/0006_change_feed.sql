-- Events out: the change feed every commit writes (the outbox publishers
-- read in sequence order), each sink's confirmed position, and the leases
-- that let one instance at a time publish a sink. A database upgraded to
-- this version starts its feed empty: earlier commits were never recorded
-- as changes.

CREATE TABLE changes (
    sequence INTEGER PRIMARY KEY,
    kind     TEXT NOT NULL,
    at       INTEGER NOT NULL,
    -- The change as ledger-core serializes it: read back unchanged, so
    -- every delivery of one event carries the same body.
    body     TEXT NOT NULL
);

CREATE TABLE sink_cursors (
    sink     TEXT PRIMARY KEY,
    sequence INTEGER NOT NULL
);

CREATE TABLE leases (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  INTEGER NOT NULL
);

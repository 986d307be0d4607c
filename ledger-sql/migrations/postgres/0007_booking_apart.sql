-- Booking apart from sealing (ARCHITECTURE.md, "PostgreSQL without one
-- commit lock"): a money transaction locks only the rows it names, takes a
-- ticket after its last lock and commits its state rows under placeholder
-- sequences, -(ticket * 4096 + position); a sealer, holding the audit head,
-- later places each booking in the audit chain in ticket order and writes
-- its log rows (postings, history, metadata, changes, the audit record).

-- Tickets order bookings: a row a booking locks was last written by a
-- booking with a lower ticket.
CREATE SEQUENCE tickets AS BIGINT;

-- Each booking waiting for its seal: the booking as ledger-core's
-- `Unsealed` serializes it and the tickets of the unsealed writers it
-- read, which is all the sealer needs.
CREATE TABLE pending (
    ticket    BIGINT PRIMARY KEY,
    booking   TEXT NOT NULL,
    booked_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The booking that last wrote a row, until its seal restamps the row
-- (NULL once sealed, and on every row written before this version).
ALTER TABLE accounts ADD COLUMN ticket BIGINT;
ALTER TABLE transactions ADD COLUMN ticket BIGINT;
ALTER TABLE users ADD COLUMN ticket BIGINT;

-- The booking each audit record seals (NULL for records committed whole):
-- a later booking that read that booking's rows unsealed settles its
-- copies by it.
ALTER TABLE audit_log ADD COLUMN ticket BIGINT;
CREATE UNIQUE INDEX audit_log_ticket_idx ON audit_log (ticket) WHERE ticket IS NOT NULL;

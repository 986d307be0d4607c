-- Booking apart from sealing is PostgreSQL's (its 0007 adds the tickets,
-- the pending bookings and the ticket columns): SQLite has one writer at a
-- time, so it has no commit lock to take apart. This version keeps both
-- schemas at the same number.
SELECT 1;

-- Two account rows per transfer, one log row, and the seal: `sealed` maps a
-- booking's ticket to its gapless sequence, `pending` queues unsealed tickets.
DROP TABLE IF EXISTS acct, log, head, pending, sealed;
DROP SEQUENCE IF EXISTS ticket;
CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL);
INSERT INTO acct SELECT g, 0 FROM generate_series(1, 10000) g;
CREATE TABLE head (id int PRIMARY KEY, seq bigint NOT NULL);
INSERT INTO head VALUES (1, 0);
CREATE SEQUENCE ticket;
CREATE TABLE log (id bigserial PRIMARY KEY, ticket bigint UNIQUE NOT NULL, a int NOT NULL, b int NOT NULL,
    amount bigint NOT NULL, a_after bigint NOT NULL, b_after bigint NOT NULL, note text);
CREATE TABLE pending (ticket bigint PRIMARY KEY);
CREATE TABLE sealed (seq bigint PRIMARY KEY, ticket bigint UNIQUE NOT NULL);
-- Waits until a ticket is sealed (the `wait` shape); returns its sequence.
CREATE FUNCTION wait_sealed(t bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE s bigint;
BEGIN
  LOOP
    SELECT seq INTO s FROM sealed WHERE ticket = t;
    IF FOUND THEN RETURN s; END IF;
    PERFORM pg_sleep(0.0002);
  END LOOP;
END $$;
ANALYZE;

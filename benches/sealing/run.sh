#!/usr/bin/env bash
# The sealing prototype behind ARCHITECTURE.md's "PostgreSQL without one
# commit lock": the shapes of a transfer's storage transaction, reduced to
# plain SQL (two account rows, one log row) and timed with pgbench on the
# same PostgreSQL, so the design is chosen on numbers before the ledger is
# changed. Not the ledger: no hashes, no idempotency, no audit text.
#
#   head     today's shape: the head row locked first, held through COMMIT
#   inline   book under account locks only; seal in the same transaction
#            when the head is free (FOR UPDATE SKIP LOCKED), else commit and
#            seal in a second transaction, waiting for the head
#   async    book under account locks only; one sealer session seals every
#            1 ms; callers are not told their sequence
#   hybrid   seal in the same transaction when the head is free, else leave
#            it to the sealer
#   wait     async, but each caller waits (polling) until its row is sealed
#
#   head8    head, with 8 transfers per transaction (group commit by hand)
#   async8   async, with 8 transfers per transaction
#
# After every run it checks that every row is sealed, once, with sequences
# 1..n and the head at n. Prints one line per run.
#
#   bash benches/sealing/run.sh                 # 1, 8, 64 clients, 3 rounds
#   CLIENTS="1 2 4" SHAPES="head8 async8" bash benches/sealing/run.sh   # 1, 2, 4 instances
#   CLIENTS="8" ROUNDS=1 SECONDS_PER_RUN=5 bash benches/sealing/run.sh
set -euo pipefail
cd "$(dirname "$0")"
URL=${SEALING_URL:-postgres://postgres@127.0.0.1:5432/seal_proto}
PGBENCH=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
CLIENTS=${CLIENTS:-1 8 64}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-8}
SHAPES=${SHAPES:-head inline async hybrid wait}

psql -q "${URL%/*}/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '${URL##*/}'" | grep -q 1 ||
    psql -q "${URL%/*}/postgres" -c "CREATE DATABASE ${URL##*/}"

# The pgbench scripts, written from their parts so each part is said once.
scripts=$(mktemp -d)
trap 'rm -rf "$scripts"' EXIT
# Each part takes a suffix for its variables (empty for one transfer, the
# transfer's number in a group), so the group shapes reuse them unchanged.
# Two accounts drawn at random, distinct, as lo < hi.
pick() {
    printf '\\set x%s random(1, 10000)\n\\set y%s random(1, 10000)\n' "$1" "$1"
    printf '\\set lo%s least(:x%s, :y%s)\n\\set hi%s greatest(:x%s, :y%s)\n' "$1" "$1" "$1" "$1" "$1" "$1"
    printf '\\if :lo%s = :hi%s\n\\set hi%s :lo%s %% 10000 + 1\n\\endif\n' "$1" "$1" "$1" "$1"
}
# Locks the accounts named (`:lo, :hi`, ...) in id order.
lock() { echo "SELECT bal FROM acct WHERE id IN ($1) ORDER BY id FOR UPDATE;"; }
# The booking of one transfer on locked accounts: both updated, one log row
# with a ticket taken after the last lock, queued as unsealed.
book() {
    echo "UPDATE acct SET bal = bal - 1 WHERE id = :lo$1 RETURNING bal AS a_after \gset"
    echo "UPDATE acct SET bal = bal + 1 WHERE id = :hi$1 RETURNING bal AS b_after \gset"
    echo "WITH t AS (INSERT INTO pending VALUES (nextval('ticket')) RETURNING ticket) INSERT INTO log (ticket, a, b, amount, a_after, b_after, note) SELECT ticket, :lo$1, :hi$1, 1, :a_after, :b_after, 'transfer' FROM t;"
}
PICK=$(pick "")
BOOK="$(lock ":lo, :hi")
$(book "")"
# The seal, run by the head's holder in a statement after the one that
# locked it (so its snapshot sees the previous seal): every visible
# unsealed ticket, in ticket order, numbered from the head.
SEAL='WITH p AS (DELETE FROM pending RETURNING ticket), n AS (SELECT ticket, row_number() OVER (ORDER BY ticket) AS rn FROM p), i AS (INSERT INTO sealed SELECT (SELECT seq FROM head WHERE id = 1) + rn, ticket FROM n RETURNING 1) UPDATE head SET seq = seq + (SELECT count(*) FROM i) WHERE id = 1;'
HEAD='SELECT seq FROM head WHERE id = 1 FOR UPDATE;'
TRY='SELECT count(*) AS got FROM (SELECT 1 FROM head WHERE id = 1 FOR UPDATE SKIP LOCKED) h \gset'
printf '%s\nBEGIN;\n%s\n%s\n%s\nCOMMIT;\n' "$PICK" "$HEAD" "$BOOK" "$SEAL" >"$scripts/head.sql"
printf '%s\nBEGIN;\n%s\n%s\n\\if :got\n%s\nCOMMIT;\n\\else\nCOMMIT;\nBEGIN;\n%s\n%s\nCOMMIT;\n\\endif\n' \
    "$PICK" "$BOOK" "$TRY" "$SEAL" "$HEAD" "$SEAL" >"$scripts/inline.sql"
printf '%s\nBEGIN;\n%s\nCOMMIT;\n' "$PICK" "$BOOK" >"$scripts/async.sql"
printf '%s\nBEGIN;\n%s\n%s\n\\if :got\n%s\nCOMMIT;\n\\else\nCOMMIT;\n\\endif\n' \
    "$PICK" "$BOOK" "$TRY" "$SEAL" >"$scripts/hybrid.sql"
printf '%s\nBEGIN;\n%s\nCOMMIT;\nSELECT wait_sealed(currval('"'ticket'"'));\n' "$PICK" "$BOOK" >"$scripts/wait.sql"
printf 'BEGIN;\n%s\n%s\nCOMMIT;\n\\sleep 1 ms\n' "$HEAD" "$SEAL" >"$scripts/sealer.sql"

# Group commit by hand: GROUP transfers per transaction, their accounts
# locked in one statement in id order (as the ledger's group load does);
# `head8` and `async8` are the two shapes above with a group per
# transaction, run with one client per ledger instance.
group() {
    local i ids=""
    for i in $(seq 1 "$GROUP"); do
        pick "$i"
        ids+="${ids:+, }:lo$i, :hi$i"
    done
    echo "BEGIN;"
    if [ "$1" = head ]; then echo "$HEAD"; fi
    lock "$ids"
    for i in $(seq 1 "$GROUP"); do book "$i"; done
    if [ "$1" = head ]; then echo "$SEAL"; fi
    echo "COMMIT;"
}
GROUP=${GROUP:-8}
group head >"$scripts/head8.sql"
group async >"$scripts/async8.sql"

# run SHAPE CLIENTS: prints transfers per second.
run() {
    local shape=$1 clients=$2 sealer=""
    psql -q "$URL" -f schema.sql >/dev/null 2>&1
    case $shape in async | async8 | hybrid | wait)
        "$PGBENCH" -n -c 1 -T $((SECONDS_PER_RUN + 1)) -M prepared -f "$scripts/sealer.sql" "$URL" >/dev/null 2>&1 &
        sealer=$!
        ;;
    esac
    local out
    out=$("$PGBENCH" -n -c "$clients" -j 2 -T "$SECONDS_PER_RUN" -M prepared -f "$scripts/$shape.sql" "$URL" 2>&1)
    if [ -n "$sealer" ]; then wait "$sealer"; fi
    grep -q 'number of failed transactions: 0 ' <<<"$out" || { echo "sealing: $shape at $clients clients failed: $out" >&2; exit 1; }
    local sound
    sound=$(psql -tA "$URL" -c "SELECT (SELECT count(*) FROM log) = (SELECT count(*) FROM sealed)
        AND (SELECT count(DISTINCT seq) FROM sealed) = (SELECT count(*) FROM log)
        AND (SELECT coalesce(max(seq), 0) FROM sealed) = (SELECT seq FROM head)
        AND NOT EXISTS (SELECT 1 FROM pending)")
    [ "$sound" = t ] || { echo "sealing: $shape at $clients clients left the log unsound" >&2; exit 1; }
    local tps
    tps=$(grep -oP 'tps = \K[0-9]+' <<<"$out")
    # A group shape's transaction is GROUP transfers.
    case $shape in *8) echo $((tps * GROUP)) ;; *) echo "$tps" ;; esac
}

for clients in $CLIENTS; do
    for round in $(seq 1 "$ROUNDS"); do
        order=$SHAPES
        # Every other round runs the shapes in reverse, so drift favours none.
        if [ $((round % 2)) = 0 ]; then order=$(tr ' ' '\n' <<<"$SHAPES" | tac | tr '\n' ' '); fi
        for shape in $order; do
            echo "clients=$clients round=$round shape=$shape transfers_per_s=$(run "$shape" "$clients")"
        done
    done
done

#!/usr/bin/env bash
# A private PostgreSQL 15 primary with one synchronous standby, for
# measuring what a commit costs when every flush also waits for a
# standby's acknowledgement (docs/benchmarks.md, "Flushing apart"): both
# on 127.0.0.1 ports of their own, in a temporary directory, torn down on
# exit. The machine's own PostgreSQL (5432) is never touched.
#
#   bash benches/sync_standby.sh        # start, print the URL, wait (Ctrl-C tears down)
#   bash benches/sync_standby.sh -- CMD # start, run CMD with LEDGER_BENCH_POSTGRES_URL set, tear down
#
#   bash benches/sync_standby.sh -- target/release/ledger-bench --backends postgres \
#       --clients 8 --group-commit on --seconds 5 --warmup-seconds 1 --accounts 10000 --no-baselines
set -euo pipefail

# Below the kernel's ephemeral range, as in .ci/ha.sh.
PRIMARY_PORT=24540
STANDBY_PORT=24541
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

say() { printf 'sync-standby: %s\n' "$*" >&2; }

DIR=$(mktemp -d /tmp/ledger-sync-standby.XXXXXX)
chown postgres "$DIR"
as_pg() { su postgres -s /bin/bash -c "$*"; }
stop() {
    as_pg "$PG_BIN/pg_ctl -D $DIR/standby -m immediate stop" >/dev/null 2>&1 || true
    as_pg "$PG_BIN/pg_ctl -D $DIR/primary -m immediate stop" >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap stop EXIT

as_pg "$PG_BIN/initdb -D $DIR/primary -A trust -U postgres" >/dev/null
cat >> "$DIR/primary/postgresql.conf" <<EOF
port = $PRIMARY_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
wal_level = replica
max_wal_senders = 4
synchronous_standby_names = 'standby1'
EOF
echo "host replication all 127.0.0.1/32 trust" >> "$DIR/primary/pg_hba.conf"
as_pg "$PG_BIN/pg_ctl -D $DIR/primary -l $DIR/primary.log -w start" >/dev/null

as_pg "$PG_BIN/pg_basebackup -h 127.0.0.1 -p $PRIMARY_PORT -U postgres -D $DIR/standby -R -X stream"
sed -i "s/^port = $PRIMARY_PORT/port = $STANDBY_PORT/" "$DIR/standby/postgresql.conf"
echo "primary_conninfo = 'host=127.0.0.1 port=$PRIMARY_PORT user=postgres application_name=standby1'" \
    >> "$DIR/standby/postgresql.auto.conf"
as_pg "$PG_BIN/pg_ctl -D $DIR/standby -l $DIR/standby.log -w start" >/dev/null

URL_ADMIN="postgres://postgres@127.0.0.1:$PRIMARY_PORT/postgres"
for _ in $(seq 50); do
    state=$(psql "$URL_ADMIN" -Atc "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")
    [ "$state" = sync ] && break
    sleep 0.2
done
[ "$state" = sync ] || { say "the standby is not synchronous (state '$state')"; exit 2; }
psql "$URL_ADMIN" -qc "CREATE DATABASE ledger_bench"
export LEDGER_BENCH_POSTGRES_URL="postgres://postgres@127.0.0.1:$PRIMARY_PORT/ledger_bench"
say "primary $LEDGER_BENCH_POSTGRES_URL, synchronous standby on port $STANDBY_PORT"

if [ "${1:-}" = "--" ]; then
    shift
    "$@"
else
    say "holding; Ctrl-C tears down"
    sleep infinity
fi

#!/usr/bin/env bash
# The bank test on a highly available PostgreSQL cluster (issue 25):
# etcd, three PostgreSQL 15 nodes managed by Patroni with synchronous_mode on,
# and HAProxy routing writes to the leader (Patroni's REST `GET /primary`)
# and reads to the replicas (`GET /replica`), all on 127.0.0.1 ports of its
# own, in a temporary directory, torn down on exit. The machine's own
# PostgreSQL (5432) is never touched.
#
# Then `ledger-bank --backend cluster`: instances of the real ledger-http on
# HAProxy's primary port, concurrent clients, and a nemesis that SIGKILLs
# the primary's postmaster (Patroni promotes the sync standby, the old
# primary rejoins) and kills instances. The last line printed is the bank
# test's summary line with failovers=N and write_outage_max_ms=N.
#
#   bash .ci/ha.sh              # CI's short run
#   HA_HOLD=1 bash .ci/ha.sh    # start the cluster, print its URLs, wait (Ctrl-C tears down)
#   BANK_ARGS="--seconds 120 --failovers 6 --kills 6" bash .ci/ha.sh   # another run shape
#   (BANK_ARGS replaces CI's shape: --seconds 40 --failovers 2 --kills 2 --clients 8)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'ha: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 2; }

# Ports of this cluster only (PostgreSQL, Patroni REST, etcd, HAProxy).
# They sit below the kernel's ephemeral range (32768-60999 by default): a
# port in that range can be any outgoing connection's source port, and a
# listener cannot bind it while such a connection, or its 60 s TIME_WAIT,
# exists. The bank tests before this one open thousands of connections, so
# a node's postmaster failed to bind and Patroni gave up bootstrapping.
PG_PORTS=(24432 24433 24434)
REST_PORTS=(24008 24009 24010)
ETCD_CLIENT=24379
ETCD_PEER=24380
HAPROXY_PRIMARY=24000
HAPROXY_REPLICAS=24001
PG_BIN=/usr/lib/postgresql/15/bin
PG_USER=postgres
SCOPE=ledger-ha

# ---------------------------------------------------------------- install
need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v patroni >/dev/null || need+=(patroni)
command -v haproxy >/dev/null || need+=(haproxy)
# Patroni's etcd3 client lives in python-etcd (Debian's patroni may pull
# another DCS client instead).
/usr/bin/python3 -c 'import etcd' 2>/dev/null || need+=(python3-etcd)
[ -x "$PG_BIN/initdb" ] || need+=(postgresql-15)
if [ "${#need[@]}" -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root"
    say "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get update -qq
    timeout 600 apt-get install -y -qq "${need[@]}" >/dev/null
fi
id "$PG_USER" >/dev/null 2>&1 || die "no '$PG_USER' OS user to run PostgreSQL as (initdb refuses root)"

read -r ephemeral_low ephemeral_high </proc/sys/net/ipv4/ip_local_port_range
for port in "${PG_PORTS[@]}" "${REST_PORTS[@]}" $ETCD_CLIENT $ETCD_PEER $HAPROXY_PRIMARY $HAPROXY_REPLICAS; do
    if [ "$port" -ge "$ephemeral_low" ] && [ "$port" -le "$ephemeral_high" ]; then
        die "port $port is in this machine's ephemeral range ($ephemeral_low-$ephemeral_high); outgoing connections could hold it"
    fi
    if ss -Htan "sport = :$port" | grep -q .; then die "port $port on 127.0.0.1 is in use; is another cluster running?"; fi
done

# Debug binaries, built before the cluster starts so its bounded waits
# never include a compile.
if [ -z "${HA_HOLD:-}" ]; then cargo build --quiet -p ledger-http -p ledger-bank; fi

# ---------------------------------------------------------------- teardown
work=$(mktemp -d /tmp/ledger-ha-XXXXXX)
chmod 755 "$work"
chown "$PG_USER" "$work"
pids=()
teardown() {
    local status=$?
    trap - EXIT INT TERM
    say "tearing down"
    # Patroni stops its PostgreSQL on SIGTERM; the bound keeps a hang short.
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 40); do
        alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.25
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    # A postmaster Patroni left behind (or one the nemesis orphaned).
    for n in 0 1 2; do
        pidfile="$work/node$n/data/postmaster.pid"
        if [ -f "$pidfile" ]; then kill -KILL "$(head -1 "$pidfile")" 2>/dev/null || true; fi
    done
    if [ "$status" != 0 ] && [ -n "${HA_KEEP_LOGS:-}" ]; then
        say "logs kept in $work"
    else
        rm -rf "$work"
    fi
    say "done in ${SECONDS}s"
    # The bank test's summary line is the script's last line.
    if [ -n "${summary:-}" ]; then printf '%s\n' "$summary"; fi
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# Runs a program as the PostgreSQL user in the background, recording its pid.
start_as_postgres() {
    local name=$1
    shift
    runuser -u "$PG_USER" -- bash -c 'echo $$ > "$0"; exec "$@"' "$work/$name.pid" "$@" >"$work/$name.log" 2>&1 &
    local waited=0
    until [ -s "$work/$name.pid" ]; do
        sleep 0.1
        waited=$((waited + 1))
        [ $waited -lt 50 ] || die "$name did not start"
    done
    pids+=("$(cat "$work/$name.pid")")
}

# wait_for SECONDS WHAT COMMAND...: polls COMMAND until it succeeds, or dies naming WHAT.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    local until=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $until ] || { tail -n 60 "$work"/*.log >&2 || true; die "no $what after ${seconds}s"; }
        sleep 0.5
    done
    say "$what (after $((seconds - (until - SECONDS)))s)"
}

# ---------------------------------------------------------------- etcd
start_as_postgres etcd etcd --name ha-etcd --data-dir "$work/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
    --initial-cluster "ha-etcd=http://127.0.0.1:$ETCD_PEER" --initial-cluster-state new
wait_for 30 "etcd answering" curl -sf "http://127.0.0.1:$ETCD_CLIENT/health"

# ---------------------------------------------------------------- Patroni
# ttl / loop_wait / retry_timeout: the leader key expires 10 s after its
# holder stops renewing it (loop_wait + 2 * retry_timeout <= ttl). A killed
# postmaster is noticed on the next 1 s loop; primary_start_timeout 0 makes
# Patroni fail over at once instead of restarting it in place. synchronous
# mode: a commit is acknowledged only once the sync standby has it, and only
# the sync standby may be promoted, so nothing acknowledged is lost.
for n in 0 1 2; do
    mkdir -p "$work/node$n"
    cat >"$work/node$n/patroni.yml" <<YAML
scope: $SCOPE
namespace: /ledger/
name: node$n
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:${REST_PORTS[$n]}
  connect_address: 127.0.0.1:${REST_PORTS[$n]}
etcd3:
  hosts: 127.0.0.1:$ETCD_CLIENT
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 16777216
    primary_start_timeout: 0
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      remove_data_directory_on_rewind_failure: true
      remove_data_directory_on_diverged_timelines: true
      use_slots: true
      parameters:
        synchronous_commit: "on"
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_connections: 200
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        fsync: "on"
  initdb:
    - encoding: UTF8
    - auth: trust
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:${PG_PORTS[$n]}
  connect_address: 127.0.0.1:${PG_PORTS[$n]}
  data_dir: $work/node$n/data
  bin_dir: $PG_BIN
  pgpass: $work/node$n/pgpass
  authentication:
    superuser: {username: postgres, password: postgres}
    replication: {username: replicator, password: replicator}
    rewind: {username: postgres, password: postgres}
  parameters:
    unix_socket_directories: $work/node$n
YAML
done
chown -R "$PG_USER" "$work"
# The first node bootstraps the cluster alone, then the others clone it.
start_as_postgres patroni0 patroni "$work/node0/patroni.yml"
wait_for 60 "a leader (node0)" curl -sf "http://127.0.0.1:${REST_PORTS[0]}/primary"
start_as_postgres patroni1 patroni "$work/node1/patroni.yml"
start_as_postgres patroni2 patroni "$work/node2/patroni.yml"
wait_for 90 "a synchronous standby" bash -c \
    "curl -sf http://127.0.0.1:${REST_PORTS[0]}/cluster | grep -q '\"role\": \"sync_standby\"'"
wait_for 90 "both replicas streaming" bash -c \
    "curl -sf http://127.0.0.1:${REST_PORTS[1]}/replica && curl -sf http://127.0.0.1:${REST_PORTS[2]}/replica"

# ---------------------------------------------------------------- HAProxy
# Every second each node's REST API is asked whether it is the primary
# (a replica); a node that fails twice is out, and its sessions are cut
# (shutdown-sessions) so no client keeps talking to a dead primary.
servers() {
    for n in 0 1 2; do
        echo "    server node$n 127.0.0.1:${PG_PORTS[$n]} maxconn 200 check port ${REST_PORTS[$n]}"
    done
}
cat >"$work/haproxy.cfg" <<CFG
global
    maxconn 1000
defaults
    mode tcp
    retries 2
    timeout connect 2s
    timeout client 30m
    timeout server 30m
    timeout check 1s
listen primary
    bind 127.0.0.1:$HAPROXY_PRIMARY
    option httpchk GET /primary
    http-check expect status 200
    default-server inter 500ms fastinter 250ms fall 2 rise 1 on-marked-down shutdown-sessions
$(servers)
listen replicas
    bind 127.0.0.1:$HAPROXY_REPLICAS
    balance roundrobin
    option httpchk GET /replica
    http-check expect status 200
    default-server inter 500ms fastinter 250ms fall 2 rise 1 on-marked-down shutdown-sessions
$(servers)
CFG
haproxy -c -q -f "$work/haproxy.cfg" || die "HAProxy refused its configuration"
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=("$!")
primary_url="postgres://postgres@127.0.0.1:$HAPROXY_PRIMARY/postgres"
replica_url="postgres://postgres@127.0.0.1:$HAPROXY_REPLICAS/postgres"
wait_for 30 "the primary through HAProxy" "$PG_BIN/psql" "$primary_url" -tAc "SELECT NOT pg_is_in_recovery()" -v ON_ERROR_STOP=1
wait_for 30 "a replica through HAProxy" "$PG_BIN/psql" "$replica_url" -tAc "SELECT 1"

nodes=""
for n in 0 1 2; do nodes+="${nodes:+,}http://127.0.0.1:${REST_PORTS[$n]}=$work/node$n/data"; done

if [ -n "${HA_HOLD:-}" ]; then
    say "primary:  $primary_url"
    say "replicas: $replica_url"
    say "nodes:    $nodes"
    say "holding; Ctrl-C (or SIGTERM) tears down"
    # `wait` returns on a signal (a foreground sleep would delay the trap).
    while true; do
        sleep 3600 &
        wait $!
    done
fi

# ---------------------------------------------------------------- bank
bank="${CARGO_TARGET_DIR:-target}/debug/ledger-bank"
say "cluster ready after ${SECONDS}s; running the bank test"
# Each run stops by itself; the timeout only guards against a hang. Its
# stdout is the summary line, printed again last, after the teardown.
summary=""
set +e
# shellcheck disable=SC2086 # BANK_ARGS is a list of flags
summary=$(timeout --kill-after=10 240 "$bank" --backend cluster \
    --cluster-url "$primary_url" --cluster-read-url "$replica_url" --cluster-nodes "$nodes" \
    --seed "${BANK_SEED:-$RANDOM}" ${BANK_ARGS:---seconds 40 --failovers 2 --kills 2 --clients 8})
bank_status=$?
set -e
exit "$bank_status"

# Sourced by the CI scripts that start `ledger-http` in the background: waiting
# for it to listen, and stopping it.
#
# wait_listening PID STDOUT STDERR: waits (up to 30 s) for the service's
# "listening on URL" line and prints the URL; if the process dies or never
# prints it, shows its stderr and fails.
wait_listening() {
    local pid="$1" stdout="$2" stderr="$3" url=""
    for _ in $(seq 1 300); do
        url="$(sed -n 's/^listening on //p' "$stdout" | head -n1)"
        [ -n "$url" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$url" ]; then
        echo "ledger-http did not start:" >&2
        cat "$stderr" >&2
        return 1
    fi
    printf '%s\n' "$url"
}

# stop_service PID: SIGTERM (a graceful shutdown) and wait, if it still runs.
stop_service() {
    local pid="$1"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}

#!/usr/bin/env bash
# End-to-end tests of the dashboard in headless Chromium (Debian's package,
# driven by playwright-core from npm, pinned in e2e/package-lock.json)
# against the real `ledger-http` binary on an in-memory store.
#
# Screenshots (one per test, and of every page when a test fails) go to
# target/e2e-screenshots/. The server log is kept beside them as server.log.
# Env: CHROMIUM_PATH (default /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/listening.sh

missing=()
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

(cd e2e && npm ci --no-audit --no-fund --loglevel=error)

target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
cargo build --quiet -p ledger-http --bin ledger-http
bin="$target/debug/ledger-http"

shots="$target/e2e-screenshots"
rm -rf "$shots"
mkdir -p "$shots"
work="$(mktemp -d)"
pid=""
dev_pid=""
cleanup() {
    stop_service "$pid"
    stop_service "$dev_pid"
    cp "$work/stderr" "$shots/server.log" 2>/dev/null || true
    cp "$work/dev-stderr" "$shots/dev-server.log" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

admin_email="admin-e2e@example.com"
admin_password="e2e admin passphrase"
# No rate limit (the tests are quick clicks); event streams re-check their
# session every second so a revoked browser is signed out promptly. The
# development notifier logs reset tokens at WARN, which the reset test reads.
NO_COLOR=1 RUST_LOG="${RUST_LOG:-warn}" "$bin" \
    --bind 127.0.0.1:0 \
    --storage memory: \
    --rate-limit-per-second 0 \
    --event-session-check-secs 1 \
    --bootstrap-admin-email "$admin_email" \
    --bootstrap-admin-password "$admin_password" \
    >"$work/stdout" 2>"$work/stderr" &
pid=$!

url="$(wait_listening "$pid" "$work/stdout" "$work/stderr")"
echo "ledger-http at $url"

# A second service as `cargo run` starts it for a newcomer, in the
# development mode that approves KYC at once: no admin, a warning banner.
NO_COLOR=1 RUST_LOG=warn "$bin" \
    --bind 127.0.0.1:0 \
    --storage memory: \
    --rate-limit-per-second 0 \
    --dev-auto-approve-kyc \
    >"$work/dev-stdout" 2>"$work/dev-stderr" &
dev_pid=$!
dev_url="$(wait_listening "$dev_pid" "$work/dev-stdout" "$work/dev-stderr")"
echo "ledger-http (development mode) at $dev_url"

cd e2e
LEDGER_E2E_URL="$url" \
LEDGER_E2E_ADMIN_EMAIL="$admin_email" \
LEDGER_E2E_ADMIN_PASSWORD="$admin_password" \
LEDGER_E2E_SERVER_LOG="$work/stderr" \
LEDGER_E2E_DEV_URL="$dev_url" \
LEDGER_E2E_DEV_SERVER_LOG="$work/dev-stderr" \
LEDGER_E2E_SCREENSHOTS="$shots" \
    timeout 300 node --test --test-concurrency=1 --test-reporter=spec tests/*.test.js
echo "screenshots in $shots"

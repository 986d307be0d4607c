#!/usr/bin/env bash
# Schemathesis (from PyPI, pinned) against /api/openapi.json of the real
# `ledger-http` binary on an in-memory store; fails on any 5xx and on any
# response that violates the documented schema. Two passes, each bounded in
# time: a KYC-verified customer (all phases: examples, coverage, fuzzing and
# the stateful phase, which follows the document's OpenAPI links: open an
# account -> deposit, hold, freeze, close; hold -> capture, void; ...), then
# an admin (admin routes beyond 403: KYC review, unfreeze, user list, audit).
#
# Env: ST_MAX_EXAMPLES (default 25), ST_MAX_TIME seconds for the customer
# pass (default 100), ST_ADMIN_MAX_TIME for the admin pass (default 40),
# ST_SEED (default 20261124).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/listening.sh

ST_VERSION=4.32.5
max_examples="${ST_MAX_EXAMPLES:-25}"
max_time="${ST_MAX_TIME:-100}"
admin_max_time="${ST_ADMIN_MAX_TIME:-40}"
seed="${ST_SEED:-20261124}"

target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

# A venv under the target directory: cached with it, rebuilt when the pin changes.
venv="$target/schemathesis-venv"
if [ "$("$venv/bin/st" --version 2>/dev/null || true)" != "st, version $ST_VERSION" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi

cargo build --quiet -p ledger-http --bin ledger-http
bin="$target/debug/ledger-http"

work="$(mktemp -d)"
pid=""
cleanup() {
    stop_service "$pid"
    rm -rf "$work"
}
trap cleanup EXIT

admin_email="admin@example.com"
password="correct horse battery staple"

# No rate limit (schemathesis sends bursts); a webhook secret so the webhook
# answers 401 to unsigned requests rather than 503; a bootstrapped admin.
LEDGER_BOOTSTRAP_ADMIN_EMAIL="$admin_email" LEDGER_BOOTSTRAP_ADMIN_PASSWORD="$password" \
RUST_LOG="${RUST_LOG:-warn}" "$bin" \
    --bind 127.0.0.1:0 \
    --storage memory: \
    --rate-limit-per-second 0 \
    --webhook-secret whsec_schemathesis \
    --hold-sweep-secs 1 \
    >"$work/stdout" 2>"$work/stderr" &
pid=$!

url="$(wait_listening "$pid" "$work/stdout" "$work/stderr")"
echo "ledger-http (pid $pid) on $url"

email="schemathesis@example.com"
# Logs in; prints "<token> <user id>".
login() {
    curl -fsS -H 'content-type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"$password\"}" "$url/api/auth/login" \
        | python3 -c 'import json,sys; b=json.load(sys.stdin); print(b["token"], b["user"]["id"])'
}
curl -fsS -o /dev/null -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\",\"full_name\":\"Schemathesis\"}" \
    "$url/api/auth/register"
read -r token user_id <<<"$(login "$email")"
read -r admin_token _ <<<"$(login "$admin_email")"
# A verified customer, so withdrawals, transfers and holds can succeed and
# the stateful phase gets past KYC.
# KYC needs what a reviewer checks: a date of birth and an address.
curl -fsS -o /dev/null -X PATCH -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"date_of_birth":"1990-01-01","address":"1 Bank Street"}' "$url/api/me"
curl -fsS -o /dev/null -X POST -H "authorization: Bearer $token" "$url/api/me/kyc"
curl -fsS -o /dev/null -H "authorization: Bearer $admin_token" -H 'content-type: application/json' \
    -d '{"decision":"verified"}' "$url/api/admin/users/$user_id/kyc"

# Left out (covered by the integration tests): logout and revoking a session
# by id, which end the session every other request uses (schemathesis learns
# the current session's id from GET /api/auth/sessions), and the SSE stream,
# which never ends.
# From the scratch directory: st keeps a crash cache in its working directory.
# One pass: $1 a name, $2 the bearer token, $3 its time budget in seconds.
st_pass() {
    echo "==> schemathesis as $1 (${3}s)"
    (cd "$work" && "$venv/bin/st" run "$url/api/openapi.json" \
        --url "$url" \
        --header "Authorization: Bearer $2" \
        --phases examples,coverage,fuzzing,stateful \
        --checks not_a_server_error,response_schema_conformance \
        --max-examples "$max_examples" \
        --max-time "$3" \
        --seed "$seed" \
        --generation-database none \
        --request-timeout 30 \
        --exclude-path-regex '^/api/(auth/logout|auth/sessions/[^/]+|events)$' \
        --no-color \
        --report junit --report-dir "$target/schemathesis-report/$1")
}
status=0
st_pass customer "$token" "$max_time" || status=$?
st_pass admin "$admin_token" "$admin_max_time" || status=$?

if ! kill -0 "$pid" 2>/dev/null; then
    echo "ledger-http died during the run:" >&2
    tail -n 50 "$work/stderr" >&2
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "schemathesis failed (exit $status); server log tail:" >&2
    tail -n 30 "$work/stderr" >&2
fi
exit "$status"

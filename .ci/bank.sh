#!/usr/bin/env bash
# The bank test (issue 8, after Jepsen's bank workload), short mode: the real
# ledger-http on sled, SQLite, PostgreSQL (a throwaway server the test starts
# and crashes once) and two instances on one PostgreSQL, with concurrent
# clients and a nemesis that SIGKILLs the service. Each run prints one summary
# line and fails on any lost or duplicated operation or broken invariant.
# Longer runs: raise --seconds, --kills and --clients (docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debug binaries: the workspace build has compiled almost everything already.
cargo build --quiet -p ledger-http -p ledger-bank
bank="${CARGO_TARGET_DIR:-target}/debug/ledger-bank"

# `cargo install` from the checkout works (issue 28): with the workspace's
# target dir and --debug it reuses the build above instead of compiling
# everything again in release. The installed binary answers --help and
# verifies a fresh SQLite store.
install_root="$(mktemp -d)"
trap 'rm -rf "$install_root"' EXIT
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}" \
    cargo install --quiet --debug --locked --path ledger-http --root "$install_root"
"$install_root/bin/ledger-http" --help | grep -q "export"
"$install_root/bin/ledger-http" verify --storage "sqlite:$install_root/fresh.db"

for backend in sled sqlite postgres postgres-2; do
    # Each run stops by itself; the timeout only guards against a hang.
    timeout --kill-after=10 120 "$bank" --backend "$backend" --seconds 12 --kills 3 --clients 8 --seed "${BANK_SEED:-$RANDOM}"
done

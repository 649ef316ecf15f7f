#!/usr/bin/env bash
# `make chaos`: e2e/tests/chaos.rs with faults of CHAOS_FAULT_SECS (default 10) — two replicas
# of each service behind nginx on a PostgreSQL and a NATS of its own, 50 customers and staff,
# kill -9 of a replica of each service, NATS stopped, PostgreSQL restarted, menu and login
# fully down; the invariants after each, and a table. (`make test` runs it with 3 s faults.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/deps.sh"
cargo build --workspace --bins --tests -q
export CHAOS_FAULT_SECS=${CHAOS_FAULT_SECS:-10}
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run -p e2e --test chaos --no-capture --no-tests=fail
else
  cargo test -p e2e --test chaos -- --nocapture
fi

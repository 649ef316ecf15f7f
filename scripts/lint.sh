#!/usr/bin/env bash
# `make lint`: formatting, clippy with warnings as errors, and shell syntax.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings
for f in scripts/*.sh deploy/db/*.sh .ci/run; do bash -n "$f"; done
python3 -m py_compile deploy/checks/*.py deploy/k8s/*.py
echo "lint: ok"

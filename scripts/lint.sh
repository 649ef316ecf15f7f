#!/usr/bin/env bash
# `make lint`: formatting, clippy with warnings as errors, and shell syntax.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings
for f in scripts/*.sh deploy/db/*.sh .ci/run; do bash -n "$f"; done
python3 -m py_compile deploy/checks/*.py deploy/k8s/*.py

# vendor/sqlx-core must be the published crate plus our patch, nothing else (vendor/README.md).
crate=${XDG_CACHE_HOME:-$HOME/.cache}/pizza-vendor/sqlx-core-0.9.0
if [ ! -d "$crate" ]; then
  mkdir -p "$(dirname "$crate")"
  curl -fsSL https://static.crates.io/crates/sqlx-core/sqlx-core-0.9.0.crate | tar -xz -C "$(dirname "$crate")"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$crate" "$tmp/sqlx-core"
rm -f "$tmp/sqlx-core/.cargo_vcs_info.json" "$tmp/sqlx-core/Cargo.toml.orig" "$tmp/sqlx-core/Cargo.lock" "$tmp/sqlx-core/.cargo-ok"
(cd "$tmp/sqlx-core" && git apply -p1 "$root/vendor/sqlx-core-tcp-nodelay.patch")
diff -r "$tmp/sqlx-core" vendor/sqlx-core >/dev/null \
  || { echo "lint: vendor/sqlx-core differs from sqlx-core 0.9.0 + vendor/sqlx-core-tcp-nodelay.patch"; exit 1; }

echo "lint: ok"

#!/usr/bin/env bash
# `make lint`: formatting, clippy with warnings as errors, and shell syntax.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings
for f in scripts/*.sh deploy/db/*.sh .ci/run; do bash -n "$f"; done
python3 -m py_compile deploy/checks/*.py deploy/k8s/*.py

# vendor/<crate> must be the published crate plus its listed patch, nothing else
# (vendor/README.md says why each patch exists and when to delete it).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for entry in sqlx-core:0.9.0:sqlx-core-tcp-nodelay.patch \
             sqlx-postgres:0.9.0:sqlx-postgres-cancel-safe-begin.patch; do
  IFS=: read -r name version patch <<<"$entry"
  crate=${XDG_CACHE_HOME:-$HOME/.cache}/pizza-vendor/$name-$version
  if [ ! -d "$crate" ]; then
    mkdir -p "$(dirname "$crate")"
    curl -fsSL "https://static.crates.io/crates/$name/$name-$version.crate" | tar -xz -C "$(dirname "$crate")"
  fi
  rm -rf "$tmp/$name"
  cp -r "$crate" "$tmp/$name"
  rm -f "$tmp/$name/.cargo_vcs_info.json" "$tmp/$name/Cargo.toml.orig" "$tmp/$name/Cargo.lock" "$tmp/$name/.cargo-ok"
  (cd "$tmp/$name" && git apply -p1 "$root/vendor/$patch")
  diff -r "$tmp/$name" "vendor/$name" >/dev/null \
    || { echo "lint: vendor/$name differs from $name $version + vendor/$patch"; exit 1; }
done

echo "lint: ok"

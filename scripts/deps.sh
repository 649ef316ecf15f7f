#!/usr/bin/env bash
# Makes sure what the project needs is installed and running: PostgreSQL (with the
# platform's database bootstrapped), NATS with JetStream, nginx, Node.js with oidc-provider
# (the local OpenID provider). Installs from Debian's
# packages what is missing. Idempotent; `make up` calls it; `make test` calls it with
# `browser` for chromium and playwright-core and `observe` for promtool too; `make bench` with
# `bench` for wrk and pgbench; `make observe` with `observe` for Prometheus. Extras combine:
# `scripts/deps.sh browser observe`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "deps: $*"; }
extras=" $* "
want() { [[ $extras == *" $1 "* ]]; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  log "installing $* from Debian"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- PostgreSQL ---------------------------------------------------------------------------
fresh_pg=""
pg_up() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; }
# Already served (a local cluster, a CI service container)? Then nothing to install.
if ! pg_up && ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt_install postgresql postgresql-client
  fresh_pg=1
fi
if ! pg_up; then
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  if [ -n "$fresh_pg" ]; then
    # A fresh install authenticates by peer/password; the local stack and the tests use
    # trust on loopback, like the development machines.
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
  fi
  log "starting PostgreSQL $ver"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
fi
pg_up || { log "PostgreSQL is not reachable on 127.0.0.1:5432"; exit 1; }
command -v psql >/dev/null 2>&1 || apt_install postgresql-client

# --- NATS (JetStream) ---------------------------------------------------------------------
nats_bin=$(command -v nats-server || true)
[ -n "$nats_bin" ] || [ ! -x /usr/sbin/nats-server ] || nats_bin=/usr/sbin/nats-server
if [ -z "$nats_bin" ]; then
  apt_install nats-server
  nats_bin=/usr/sbin/nats-server
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
  log "starting NATS with JetStream on 127.0.0.1:4222"
  as_root mkdir -p /var/lib/nats-server
  as_root start-stop-daemon --start --oknodo --background --exec "$nats_bin" -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && break; sleep 0.1; done
fi

# --- nginx (the local ingress) ------------------------------------------------------------
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  apt_install nginx
fi

# --- PostgreSQL's server programs (initdb, pg_ctl): the chaos test runs a cluster of its own -
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql

# Node.js, and the npm packages of `package_json` installed into `dir` (outside the clone) unless
# the same package.json is there already with `module` installed.
npm_into() {
  local package_json=$1 dir=$2 module=$3
  command -v node >/dev/null 2>&1 || apt_install nodejs
  command -v npm >/dev/null 2>&1 || apt_install npm
  if ! cmp -s "$package_json" "$dir/package.json" || [ ! -d "$dir/node_modules/$module" ]; then
    log "installing $module into $dir"
    mkdir -p "$dir"
    cp "$package_json" "$dir/package.json"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

# --- the browser tests (`scripts/deps.sh browser`, from `make test`) -----------------------
# Debian's chromium, and playwright-core (npm, the version in e2e/browser/package.json) in
# ~/.cache/pizza-web, outside the clone; scripts/test.sh points the tests at both.
if want browser; then
  command -v chromium >/dev/null 2>&1 || apt_install chromium
  # Korean glyphs (names, branches, 원) for the screenshots; Debian's minimal images have none.
  [ -d /usr/share/fonts/truetype/nanum ] || apt_install fonts-nanum
  npm_into "$here/e2e/browser/package.json" "${PIZZA_WEB_DEPS:-$HOME/.cache/pizza-web}" playwright-core
fi

# --- the local OpenID provider (tools/oidc-dev: `make up` runs it, the login tests start their own)
# npm's oidc-provider, the version in tools/oidc-dev/package.json, in ~/.cache/pizza-oidc (outside
# the clone); the script finds it there (OIDC_DEV_MODULES).
npm_into "$here/tools/oidc-dev/package.json" "${OIDC_DEV_MODULES:-$HOME/.cache/pizza-oidc}" oidc-provider

# --- the benchmark's load generators (`scripts/deps.sh bench`, from `make bench`) ----------
if want bench; then
  command -v wrk >/dev/null 2>&1 || apt_install wrk
  # Debian ships pgbench with the server package.
  command -v pgbench >/dev/null 2>&1 || apt_install "postgresql-$(psql --version | grep -oE '[0-9]+' | head -n1)"
fi

# --- Prometheus and promtool (`scripts/deps.sh observe`, from `make test` and `make observe`) --
# Debian's prometheus package ships both (/usr/bin/prometheus, /usr/bin/promtool): promtool
# checks and unit-tests the alert rules (deploy/checks/observability.py), the server is what
# `make observe` runs. Its postinst would start the packaged service on :9090: a policy-rc.d
# (ours only while installing, if the machine has none) forbids that, and the service is
# disabled afterwards so no boot starts it either.
if want observe && { ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; }; then
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# scripts/deps.sh: no service starts while it installs packages\nexit 101\n' \
      | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  rc=0
  apt_install prometheus || rc=$?
  [ -z "$own_policy" ] || as_root rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || exit "$rc"
  if [ -d /run/systemd/system ]; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  else
    as_root update-rc.d prometheus disable >/dev/null 2>&1 || true
    as_root /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  fi
fi

# --- the platform's database ---------------------------------------------------------------
PGHOST=127.0.0.1 PGUSER=${PGUSER:-postgres} "$here/deploy/db/bootstrap.sh" >/dev/null
log "PostgreSQL, NATS and nginx are ready; database pizza is bootstrapped"

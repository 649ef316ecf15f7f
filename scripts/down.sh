#!/usr/bin/env bash
# `make down`: stops what `make up` started (by pid): the services (SIGTERM, so they drain
# and exit cleanly) and the ingress nginx; and the Prometheus of `make observe`. PostgreSQL and
# NATS are left running.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=$root/.run
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if [ -f "$run/nginx/nginx.pid" ]; then
  "$nginx_bin" -p "$run/nginx" -c "$run/nginx/nginx.conf" -s quit 2>/dev/null && echo "down: ingress stopped"
  rm -f "$run/nginx/nginx.pid"
fi
pids=()
for f in "$run"/pids/*.pid "$run"/observe/prometheus.pid; do
  [ -e "$f" ] || continue
  pid=$(cat "$f")
  if kill -TERM "$pid" 2>/dev/null; then pids+=("$pid"); echo "down: stopping $(basename "$f" .pid)"; fi
  rm -f "$f"
done
# They drain for SHUTDOWN_DRAIN (5s) before exiting; wait up to 15 s, then insist.
for _ in $(seq 1 150); do
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.1
done
for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
exit 0

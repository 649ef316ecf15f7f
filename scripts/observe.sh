#!/usr/bin/env bash
# `make observe`: Prometheus over the local stack of `make up` — what a cluster's Prometheus
# shows, without a cluster or Docker. It scrapes every running replica (.run/pids) as jobs
# login, menu, order and payment (the job names the chart's ServiceMonitors give), evaluates
# the chart's alerts (helm/pizza/files/prometheus/alerts.yaml; each one's runbook_url is
# file://<clone>/docs/runbooks/<alert>.md), and answers any query. On its page: Status →
# Targets (every replica, up or not), Alerts (pending/firing, with their runbooks), Graph (the
# metrics; the dashboards' queries in helm/pizza/files/dashboards work with $__rate_interval
# written 1m and $namespace/$instance .*).
#
# Debian's /usr/bin/prometheus (scripts/deps.sh observe installs it), on 127.0.0.1:9090 or the
# next free port (OBSERVE_PORT sets where to start), storage in .run/observe/data, log in
# .run/logs/prometheus.log. Running it again picks up the replicas running now (a reload);
# `make down` stops it with the stack.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=$root/.run
obs=$run/observe
mkdir -p "$obs/data" "$run/logs"
log() { echo "observe: $*"; }
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

prom_bin=${PROMETHEUS:-$(command -v prometheus || echo /usr/bin/prometheus)}
if [ ! -x "$prom_bin" ]; then
  "$root/scripts/deps.sh" observe
  prom_bin=$(command -v prometheus || echo /usr/bin/prometheus)
fi

# The replicas `make up` started: service:http_base as in scripts/up.sh (replica i on base + 10 i).
config=$obs/prometheus.yml
{
  echo "# Written by scripts/observe.sh (make observe) for the replicas running at $(date -Iseconds); do not edit."
  echo "global: {scrape_interval: 5s, evaluation_interval: 5s}"
  echo "rule_files: [alerts.yaml]"
  echo "scrape_configs:"
} >"$config"
found=0
for spec in login:8001 menu:8002 order:8003 payment:8004; do
  svc=${spec%%:*} base=${spec##*:} targets=""
  for f in "$run"/pids/"$svc"-*.pid; do
    [ -e "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null || continue
    i=${f##*/"$svc"-}; i=${i%.pid}
    [[ $i =~ ^[0-9]+$ ]] || continue
    targets+="${targets:+, }\"127.0.0.1:$((base + 10 * i))\""
    found=$((found + 1))
  done
  [ -n "$targets" ] || continue
  printf '  - job_name: %s\n    static_configs: [{targets: [%s]}]\n' "$svc" "$targets" >>"$config"
done
if [ "$found" = 0 ]; then
  log "no replica of the stack is running (start it with make up)"
  exit 1
fi
sed "s|__RUNBOOK_BASE__|file://$root/docs/runbooks|g" "$root/helm/pizza/files/prometheus/alerts.yaml" >"$obs/alerts.yaml"

pidfile=$obs/prometheus.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && [ -s "$obs/port" ]; then
  port=$(cat "$obs/port")
  kill -HUP "$(cat "$pidfile")"
  log "Prometheus reloaded: $found replicas"
else
  port=${OBSERVE_PORT:-9090}
  while in_use "$port"; do
    port=$((port + 1))
    [ "$port" -lt $((${OBSERVE_PORT:-9090} + 100)) ] || { log "no free port from ${OBSERVE_PORT:-9090} on"; exit 1; }
  done
  nohup "$prom_bin" --config.file="$config" --storage.tsdb.path="$obs/data" \
    --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:$port" \
    >>"$run/logs/prometheus.log" 2>&1 &
  echo $! >"$pidfile"
  echo "$port" >"$obs/port"
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null && break
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 0.2
  done
  if ! curl -fsS -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null; then
    log "Prometheus did not become ready; see .run/logs/prometheus.log:"
    tail -n 20 "$run/logs/prometheus.log" >&2
    exit 1
  fi
  log "Prometheus scraping $found replicas"
fi
url=http://127.0.0.1:$port
# Debian's build serves the classic pages only (/classic/…).
ui=""; curl -fsS -o /dev/null "$url/targets" 2>/dev/null || ui=/classic
log "$url — targets $url$ui/targets, alerts $url$ui/alerts (make down stops it)"

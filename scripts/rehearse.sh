#!/usr/bin/env bash
# `make rehearse`: each rendered Deployment run locally as the kubelet would run it (its env,
# its probes, preStop, SIGTERM during a request, the grace period). Needs PostgreSQL and NATS
# (scripts/deps.sh) and the binaries built.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/venv.sh
. "$root/scripts/venv.sh"
echo "rehearse: the chart's Deployments, run locally"
python deploy/checks/rehearse.py "$target/debug"

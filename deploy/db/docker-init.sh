#!/usr/bin/env bash
# PostgreSQL image init hook (docker-compose): runs the platform's bootstrap once, on an
# empty data directory, as the image's superuser over the local socket.
set -euo pipefail
PGUSER="${POSTGRES_USER:-postgres}" PGHOST=/var/run/postgresql DB_NAME=pizza bash /bootstrap/bootstrap.sh
